//! Check results (Taskotron's ResultYAML).

use crate::Result;
use crate::bindings::taskhost::plugin::results as raw;
use crate::resultyaml::CheckDetail;

pub use taskhost_resultyaml::Outcome;

/// A result under construction; [`CheckResult::emit`] records it.
#[derive(Clone, Debug)]
pub struct CheckResult(raw::CheckResult);

impl CheckResult {
    /// A result for `item` of type `item_type`.
    pub fn new(item: impl Into<String>, item_type: impl Into<String>, outcome: Outcome) -> Self {
        CheckResult(raw::CheckResult {
            item: item.into(),
            type_: item_type.into(),
            outcome: wit_outcome(outcome),
            checkname: None,
            note: None,
            artifact: None,
            keyvals: Vec::new(),
        })
    }

    /// The result a ResultYAML entry describes; it needs an item and a
    /// type. Keyvals that are not text are recorded as JSON text.
    pub fn from_detail(d: &CheckDetail) -> Result<Self> {
        let (Some(item), Some(item_type)) = (&d.item, &d.item_type) else {
            return Err(crate::Error::invalid(
                "a result needs `item` and `type` to be recorded in the run's report",
            ));
        };
        let mut r = CheckResult::new(item.as_str(), item_type.as_str(), d.outcome);
        r.0.checkname = d.checkname.clone();
        r.0.note = d.note.clone();
        r.0.artifact = d.artifact.clone();
        r.0.keyvals = d.text_keyvals().map(|(k, v)| (k.to_string(), v)).collect();
        Ok(r)
    }

    /// Overrides the check name (default: the plugin's name).
    pub fn checkname(mut self, name: impl Into<String>) -> Self {
        self.0.checkname = Some(name.into());
        self
    }

    /// A short summary such as `3 ERRORS, 1 WARNING`.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.0.note = Some(note.into());
        self
    }

    /// Where the details are (a workspace path or artifact reference).
    pub fn artifact(mut self, artifact: impl Into<String>) -> Self {
        self.0.artifact = Some(artifact.into());
        self
    }

    /// An extra key, flattened into the ResultYAML entry.
    pub fn keyval(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.0.keyvals.push((key.into(), value.to_string()));
        self
    }

    /// Records the result with the host.
    pub fn emit(self) -> Result<()> {
        raw::emit(&self.0)
    }
}

fn wit_outcome(o: Outcome) -> raw::Outcome {
    match o {
        Outcome::Passed => raw::Outcome::Passed,
        Outcome::Info => raw::Outcome::Info,
        Outcome::Failed => raw::Outcome::Failed,
        Outcome::NeedsInspection => raw::Outcome::NeedsInspection,
        Outcome::Aborted => raw::Outcome::Aborted,
        Outcome::Crashed => raw::Outcome::Crashed,
    }
}
