//! `taskhost:plugin/results`: always allowed, within the run's `results`
//! and `result-bytes` quotas; checked for shape.

use super::RunState;
use super::bindings::Error;
use super::bindings::taskhost::plugin::results::{
    self, CheckResult as WitResult, Outcome as WitOutcome,
};
use crate::policy::Quota;
use crate::report::{self, CheckResult, Outcome};

impl results::Host for RunState {
    async fn emit(&mut self, check: WitResult) -> Result<(), Error> {
        if check.item.is_empty() || check.type_.is_empty() {
            return Err(Error::Invalid("a result needs an item and a type".into()));
        }
        let run = &mut self.run;
        let bytes = [
            check.item.len(),
            check.type_.len(),
            check.checkname.as_ref().map_or(0, String::len),
            check.note.as_ref().map_or(0, String::len),
            check.artifact.as_ref().map_or(0, String::len),
        ]
        .into_iter()
        .chain(check.keyvals.iter().map(|(k, v)| k.len() + v.len()))
        .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
        .fold(0u64, u64::saturating_add);
        run.granter
            .charge(Quota::Results, 1)
            .and_then(|()| run.granter.charge(Quota::ResultBytes, bytes))
            .map_err(|d| run.denied("results.emit", d))?;
        let mut keyvals = std::collections::BTreeMap::new();
        for (key, value) in check.keyvals {
            if report::is_reserved_key(&key) {
                return Err(Error::Invalid(format!(
                    "'{key}' is a reserved ResultYAML key; use another keyval name"
                )));
            }
            keyvals.insert(key, value);
        }
        let outcome = match check.outcome {
            WitOutcome::Passed => Outcome::Passed,
            WitOutcome::Info => Outcome::Info,
            WitOutcome::Failed => Outcome::Failed,
            WitOutcome::NeedsInspection => Outcome::NeedsInspection,
            WitOutcome::Aborted => Outcome::Aborted,
            WitOutcome::Crashed => Outcome::Crashed,
        };
        let result = CheckResult {
            checkname: check.checkname.unwrap_or_else(|| run.plugin().to_string()),
            item: check.item,
            item_type: check.type_,
            outcome,
            note: check.note,
            artifact: check.artifact,
            keyvals,
        };
        run.log.info(
            "results",
            &format!("{} {} {}", result.outcome, result.checkname, result.item),
        );
        run.results.push(result);
        Ok(())
    }
}
