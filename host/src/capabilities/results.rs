//! `taskhost:plugin/results`: always allowed; checked for shape.

use crate::report::{self, CheckResult, Outcome};
use crate::runtime::RunState;
use crate::runtime::bindings::Error;
use crate::runtime::bindings::taskhost::plugin::results::{
    self, CheckResult as WitResult, Outcome as WitOutcome,
};

impl results::Host for RunState {
    async fn emit(&mut self, check: WitResult) -> Result<(), Error> {
        if check.item.is_empty() || check.type_.is_empty() {
            return Err(Error::Invalid("a result needs an item and a type".into()));
        }
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
            checkname: check
                .checkname
                .unwrap_or_else(|| self.run.plugin().to_string()),
            item: check.item,
            item_type: check.type_,
            outcome,
            note: check.note,
            artifact: check.artifact,
            keyvals,
        };
        self.run.log.info(
            "results",
            &format!("{} {} {}", result.outcome, result.checkname, result.item),
        );
        self.run.results.push(result);
        Ok(())
    }
}
