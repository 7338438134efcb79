//! Check results (Taskotron's ResultYAML).

use crate::Result;
use crate::bindings::taskhost::plugin::results as raw;

pub use raw::Outcome;

/// A result under construction; [`CheckResult::emit`] records it.
#[derive(Clone, Debug)]
pub struct CheckResult(raw::CheckResult);

impl CheckResult {
    /// A result for `item` of type `item_type`.
    pub fn new(item: impl Into<String>, item_type: impl Into<String>, outcome: Outcome) -> Self {
        CheckResult(raw::CheckResult {
            item: item.into(),
            type_: item_type.into(),
            outcome,
            checkname: None,
            note: None,
            artifact: None,
            keyvals: Vec::new(),
        })
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
