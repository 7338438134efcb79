//! Severities of findings and debusine's `fail_on_severity`: when a
//! checker's findings fail the task.
//!
//! ```
//! use taskhost_sdk::severity::{FailOn, Severity};
//!
//! let found = [Severity::Info, Severity::Warning];
//! assert!(FailOn::Warning.fails_any(found));
//! assert!(!FailOn::Error.fails_any(found));
//! assert!(!FailOn::None.fails_any([Severity::Error]));
//! ```

use serde::{Deserialize, Serialize};

/// How bad a finding is, most severe first (lintian's scale; a tool's
/// `style` reads as `pedantic`, `note` as `info`). Deserializes from the
/// lowercase name, so a tool's JSON output decodes into it directly.
///
/// ```
/// use taskhost_sdk::severity::Severity;
/// #[derive(serde::Deserialize)]
/// struct Comment { level: Severity } // `shellcheck --format=json1`
/// let c: Comment = serde_json::from_str(r#"{"level": "style"}"#).unwrap();
/// assert_eq!(c.level, Severity::Pedantic);
/// assert!(Severity::Error < Severity::Warning); // most severe first
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A definite fault (`error`).
    Error,
    /// A likely fault (`warning`).
    Warning,
    /// Worth a look, may be intended (`info`; a tool's `note`).
    #[serde(alias = "note")]
    Info,
    /// A nit-pick or matter of style (`pedantic`; a tool's `style`).
    #[serde(alias = "style")]
    Pedantic,
    /// From a check that may still give false positives (`experimental`).
    Experimental,
    /// A finding the package explicitly overrides (`overridden`).
    Overridden,
    /// Facts about the input, never a fault.
    Classification,
}

impl Severity {
    /// Every severity, most severe first (the order of `Ord`).
    ///
    /// ```
    /// use taskhost_sdk::severity::Severity;
    /// assert_eq!(Severity::ALL[0], Severity::Error);
    /// assert_eq!(Severity::ALL.len(), 7);
    /// ```
    pub const ALL: [Severity; 7] = [
        Severity::Error,
        Severity::Warning,
        Severity::Info,
        Severity::Pedantic,
        Severity::Experimental,
        Severity::Overridden,
        Severity::Classification,
    ];

    /// The lowercase name (`error`, ..., `classification`), as debusine
    /// and task_data write it.
    ///
    /// ```
    /// assert_eq!(taskhost_sdk::severity::Severity::Pedantic.as_str(), "pedantic");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Pedantic => "pedantic",
            Severity::Experimental => "experimental",
            Severity::Overridden => "overridden",
            Severity::Classification => "classification",
        }
    }

    /// The severity named `name` (lowercase, as [`Severity::as_str`]).
    ///
    /// ```
    /// use taskhost_sdk::severity::Severity;
    /// assert_eq!(Severity::from_name("warning"), Some(Severity::Warning));
    /// assert_eq!(Severity::from_name("loud"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// task_data's `fail_on_severity`: the least severe finding that fails
/// the task, or `none` (the default) for never.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Data {
///     #[serde(default)]
///     fail_on_severity: taskhost_sdk::severity::FailOn,
/// }
/// let data: Data = serde_json::from_str(r#"{"fail_on_severity": "warning"}"#).unwrap();
/// assert_eq!(data.fail_on_severity, taskhost_sdk::severity::FailOn::Warning);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// `error`: errors fail the task.
    Error,
    /// `warning`: warnings or worse fail the task.
    Warning,
    /// `info`: info findings or worse fail the task.
    Info,
    /// `pedantic`: pedantic findings or worse fail the task.
    Pedantic,
    /// `experimental`: experimental findings or worse fail the task.
    Experimental,
    /// `overridden`: any finding but a classification fails the task.
    Overridden,
    /// `none` (the default): findings never fail the task.
    #[default]
    None,
}

impl FailOn {
    /// True when a finding of `severity` fails the task: that severity
    /// or a worse one (a classification never does).
    ///
    /// ```
    /// use taskhost_sdk::severity::{FailOn, Severity};
    /// assert!(FailOn::Warning.fails(Severity::Error));
    /// assert!(!FailOn::Warning.fails(Severity::Info));
    /// ```
    pub fn fails(self, severity: Severity) -> bool {
        let limit = match self {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
            FailOn::Pedantic => Severity::Pedantic,
            FailOn::Experimental => Severity::Experimental,
            FailOn::Overridden => Severity::Overridden,
            FailOn::None => return false,
        };
        severity != Severity::Classification && severity <= limit
    }

    /// The outcome of a check that found `found`: FAILED when any of them
    /// fails the task, else PASSED.
    ///
    /// ```
    /// use taskhost_sdk::Outcome;
    /// use taskhost_sdk::severity::{FailOn, Severity};
    /// assert_eq!(FailOn::Error.outcome([Severity::Warning]), Outcome::Passed);
    /// assert_eq!(FailOn::Warning.outcome([Severity::Warning]), Outcome::Failed);
    /// ```
    pub fn outcome(self, found: impl IntoIterator<Item = Severity>) -> crate::Outcome {
        if self.fails_any(found) {
            crate::Outcome::Failed
        } else {
            crate::Outcome::Passed
        }
    }

    /// True when any of `found` fails the task.
    ///
    /// ```
    /// use taskhost_sdk::severity::{FailOn, Severity};
    /// assert!(FailOn::Info.fails_any([Severity::Pedantic, Severity::Info]));
    /// ```
    pub fn fails_any(self, found: impl IntoIterator<Item = Severity>) -> bool {
        found.into_iter().any(|s| self.fails(s))
    }
}
