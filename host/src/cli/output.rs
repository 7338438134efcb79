//! Reading task_data, printing reports.

use super::args::{Format, OutputArgs};
use super::usage;
use anyhow::{Context, Result};
use std::io::{IsTerminal, Read};
use taskhost::report::{self, ExitCode as Code};
use taskhost::run::source::TaskDataSource;
use taskhost::store::ArtifactStore;

/// Writes `--results`, prints the report in `format`; the exit code. The
/// human format names each created artifact's category and files, read
/// from `store`.
pub(crate) fn print_report(
    report: &report::Report,
    output: &OutputArgs,
    store: &dyn ArtifactStore,
) -> Result<Code> {
    let (format, results) = (output.format, output.results.as_deref());
    if let Some(path) = results {
        std::fs::write(path, report::resultyaml::to_string(&report.results)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let out = match format {
        Format::Human => {
            report::human::render_with(report, std::io::stdout().is_terminal(), &|id| {
                describe(store, id)
            })
        }
        Format::Json => report::to_json(report)?,
        Format::Yaml => report::to_yaml(report)?,
        Format::Junit => report::junit::to_string(report)?,
        Format::Tmt => {
            let data_dir = std::env::var_os("TMT_TEST_DATA")
                .filter(|d| !d.is_empty())
                .map(std::path::PathBuf::from);
            let logs = report::tmt::collect_logs(report, store, data_dir.as_deref());
            report::tmt::to_string(report, &logs)?
        }
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(report::exit_code(report))
}

/// Why a run has no report after SIGINT or SIGTERM.
pub(crate) const STOPPED: &str =
    "runtask: stopped by SIGINT or SIGTERM: its commands were killed and its workspace removed";

/// With `--format tmt`, prints a tmt error result saying `message`, for a
/// run that ended without a report (bad input, an untrusted plugin, a
/// signal): tmt then shows why rather than an empty results file.
pub(crate) fn print_failure(format: Format, message: &str) {
    if format != Format::Tmt {
        return;
    }
    match report::tmt::failure(message) {
        Ok(text) => print!("{text}"),
        Err(e) => eprintln!("runtask: writing the tmt results: {e}"),
    }
}

/// `CATEGORY FILE, FILE, ... (+N more)` of artifact `id`.
fn describe(store: &dyn ArtifactStore, id: u64) -> Option<String> {
    const SHOWN: usize = 3;
    let artifact = store.get(id).ok()?;
    let mut files: Vec<&str> = artifact.files.iter().map(|f| f.name.as_str()).collect();
    let more = files.len().saturating_sub(SHOWN);
    files.truncate(SHOWN);
    let mut line = format!("{}  {}", artifact.category, files.join(", "));
    if more > 0 {
        line.push_str(&format!(" (+{more} more)"));
    }
    Some(line.trim_end().to_string())
}

/// Reads task_data (JSON or YAML) from a file or stdin.
/// The task_data of `--data FILE|-` and where its keys are in the file.
pub(crate) fn read_task_data(source: Option<&str>) -> Result<(serde_json::Value, TaskDataSource)> {
    let (text, name) = match source {
        None => return Ok((serde_json::json!({}), TaskDataSource::default())),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading task_data from stdin")?;
            (text, "<stdin>".to_string())
        }
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("cannot read task_data file {path}: {e}")))?;
            (text, path.to_string())
        }
    };
    let value: serde_json::Value = if name.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| usage(format!("task_data {name}: {e}")))?
    } else {
        serde_norway::from_str(&text).map_err(|e| usage(format!("task_data {name}: {e}")))?
    };
    if !value.is_object() {
        return Err(usage(format!(
            "task_data {name}: expected a mapping of keys to values"
        )));
    }
    Ok((value, TaskDataSource::new(&name, &text)))
}
