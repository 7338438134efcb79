//! `runtask audit RUN-ID`: a run's grant decisions.

use super::setup::Config;
use super::usage;
use anyhow::Result;
use taskhost::report::ExitCode as Code;

/// `runtask audit RUN-ID`: the run's decisions, one per line.
pub(crate) fn audit(config: &Config, run_id: &str, denied: bool, json: bool) -> Result<Code> {
    use std::io::Write;
    use taskhost::policy::audit::{self, Decision};
    if run_id.is_empty() || run_id.contains(['/', '\0']) || run_id.starts_with('.') {
        return Err(usage(format!("'{run_id}' is not a run id")));
    }
    if config.shared.is_some() {
        super::queue::pull_run_files(config, &config.shared_store()?, run_id)?;
    }
    let path = config.store_dir.join("runs").join(run_id).join(audit::FILE);
    let events = audit::read(&path).map_err(|e| {
        usage(format!(
            "no audit log for run {run_id} ({}: {e}); `runtask run` prints the run id, and a run refused before any decision has none",
            path.display()
        ))
    })?;
    let mut out = std::io::stdout().lock();
    for e in events
        .iter()
        .filter(|e| !denied || e.decision == Decision::Deny)
    {
        let line = if json {
            serde_json::to_string(e)?
        } else {
            let decision = match e.decision {
                Decision::Allow => "allow",
                Decision::Deny => "DENY ",
            };
            let request = match &e.request {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            taskhost::runlog::escape(&format!(
                "{}  {decision}  {:<8} {request}  ({})",
                e.time, e.capability, e.rule
            ))
            .into_owned()
        };
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    Ok(Code::Ok)
}
