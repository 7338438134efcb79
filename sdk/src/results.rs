//! Check results, in the shape of Taskotron's ResultYAML.
//!
//! A task emits one [`CheckResult`] per thing it checked (an item of a
//! type, with an [`Outcome`]); the host records them in the run's report
//! (and its `resultyaml`, JUnit and tmt formats). Emitting needs no
//! grant, within the run's result quotas. [`Tally`] emits results and
//! gives the task's [`Status`](crate::Status).
//!
//! ```
//! use taskhost_sdk::results::{CheckResult, Outcome};
//! # use taskhost_sdk::testing::FakeHost;
//! # struct Demo;
//! # impl taskhost_sdk::Task for Demo {
//! #     type Data = serde_json::Value;
//! #     const NAME: &'static str = "demo";
//! #     const SUMMARY: &'static str = "demo";
//! #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
//! CheckResult::new("xchat-0.5-1.fc20", "koji_build", Outcome::Failed)
//!     .checkname("dist.rpmlint")
//!     .note("5 ERRORS, 10 WARNINGS")
//!     .artifact("rpmlint.log")
//!     .keyval("errors", 5)
//!     .emit()?;
//! #         Ok(taskhost_sdk::Status::Success)
//! #     }
//! # }
//! # let run = FakeHost::new().execute::<Demo>();
//! # assert_eq!(run.results[0].keyval("errors"), Some("5"));
//! ```

use crate::Result;
use crate::host::results as raw;
use crate::resultyaml::CheckDetail;

/// Outcome of one check, best ([`Outcome::Passed`]) to worst
/// ([`Outcome::Crashed`]); `PASSED` and `INFO` are OK
/// ([`Outcome::is_ok`]).
///
/// ```
/// use taskhost_sdk::Outcome;
/// assert!(Outcome::Failed > Outcome::Info);
/// assert_eq!(Outcome::NeedsInspection.as_str(), "NEEDS_INSPECTION");
/// ```
pub use taskhost_resultyaml::Outcome;

/// A result under construction; [`CheckResult::emit`] records it.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// use taskhost_sdk::results::{CheckResult, Outcome};
/// let result = CheckResult::new("hello_1.0_amd64.deb", "debian:binary-package", Outcome::Passed);
/// result.note("no lintian tags").emit()?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.results[0].outcome, taskhost_sdk::Outcome::Passed);
/// ```
#[derive(Clone, Debug)]
pub struct CheckResult(raw::CheckResult);

impl CheckResult {
    /// A result for `item` (what was checked, e.g. `xchat-0.5-1.fc20`) of
    /// type `item_type` (e.g. `koji_build`), with no note, artifact or
    /// keyvals. The check name defaults to the plugin's name.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome};
    /// CheckResult::new("xchat-0.5-1.fc20", "koji_build", Outcome::Info).emit()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.results[0].item_type, "koji_build");
    /// ```
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

    /// A result about input `artifact`: its item is the artifact's
    /// `filename` (else its first file's name, else `artifact ID`), its
    /// type the artifact's category.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome};
    /// for input in taskhost_sdk::artifacts::inputs()? {
    ///     CheckResult::for_artifact(&input.artifact, Outcome::Passed).emit()?;
    /// }
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().input(Input::new(7, "debian:package-build-log").file("hello_1.0_amd64.build", "log")).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.results[0].item, "hello_1.0_amd64.build");
    /// ```
    pub fn for_artifact(artifact: &crate::artifacts::Artifact, outcome: Outcome) -> Self {
        let item = artifact
            .data
            .get("filename")
            .and_then(|f| f.as_str())
            .map(str::to_owned)
            .or_else(|| artifact.files.first().map(|f| f.name.clone()))
            .unwrap_or_else(|| format!("artifact {}", artifact.id));
        CheckResult::new(item, artifact.category.as_str(), outcome)
    }

    /// The result a ResultYAML entry describes; it needs an item and a
    /// type (else [`Error::Invalid`](crate::Error::Invalid)). Keyvals that
    /// are not text are recorded as JSON text.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::CheckResult;
    /// let text = "results:\n- {item: hello-1.0-1.fc40, type: koji_build, outcome: PASSED, checkname: t}\n";
    /// for detail in taskhost_sdk::resultyaml::parse(text)? {
    ///     CheckResult::from_detail(&detail)?.emit()?;
    /// }
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.results[0].checkname.as_deref(), Some("t"));
    /// ```
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
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome};
    /// CheckResult::new("xchat-0.5-1.fc20", "koji_build", Outcome::Passed)
    ///     .checkname("dist.rpmlint")
    ///     .emit()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.results[0].checkname.as_deref(), Some("dist.rpmlint"));
    /// ```
    pub fn checkname(mut self, name: impl Into<String>) -> Self {
        self.0.checkname = Some(name.into());
        self
    }

    /// A short human summary such as `3 ERRORS, 1 WARNING`.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome};
    /// CheckResult::new("a.sh", "shellcheck:script", Outcome::Failed).note("3 ERRORS, 1 WARNING").emit()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.results[0].note.as_deref(), Some("3 ERRORS, 1 WARNING"));
    /// ```
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.0.note = Some(note.into());
        self
    }

    /// Where the details are: a workspace path, or an artifact reference
    /// such as `artifact:12`.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome};
    /// let report = 1000; // an artifact this run created
    /// CheckResult::new("a.sh", "shellcheck:script", Outcome::Passed)
    ///     .artifact(format!("artifact:{report}"))
    ///     .emit()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.results[0].artifact.as_deref(), Some("artifact:1000"));
    /// ```
    pub fn artifact(mut self, artifact: impl Into<String>) -> Self {
        self.0.artifact = Some(artifact.into());
        self
    }

    /// An extra key, flattened into the ResultYAML entry. Reserved
    /// ResultYAML keys ([`resultyaml::RESERVED_KEYS`](crate::resultyaml::RESERVED_KEYS))
    /// are refused by the host when emitting.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome};
    /// CheckResult::new("a.sh", "shellcheck:script", Outcome::Failed)
    ///     .keyval("errors", 3)
    ///     .keyval("shellcheck_version", "0.9.0")
    ///     .emit()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.results[0].keyval("errors"), Some("3"));
    /// ```
    pub fn keyval(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.0.keyvals.push((key.into(), value.to_string()));
        self
    }

    /// Records the result with the host. An empty item or type, or a
    /// reserved key among the keyvals, is
    /// [`Error::Invalid`](crate::Error::Invalid); a result past the run's
    /// result quotas is [`Error::AccessDenied`](crate::Error::AccessDenied).
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome};
    /// CheckResult::new("a.sh", "shellcheck:script", Outcome::Passed).emit()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.results.len(), 1);
    /// ```
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

/// A count per outcome, best first: `3 PASSED, 1 FAILED` (empty for no
/// outcomes), for a result's note or the log.
///
/// ```
/// use taskhost_sdk::results::{Outcome, summary};
/// let outcomes = [Outcome::Failed, Outcome::Passed, Outcome::Passed];
/// assert_eq!(summary(&outcomes), "2 PASSED, 1 FAILED");
/// ```
pub fn summary(outcomes: &[Outcome]) -> String {
    Outcome::ALL
        .iter()
        .filter_map(|o| {
            let n = outcomes.iter().filter(|x| *x == o).count();
            (n > 0).then(|| format!("{n} {o}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Emits results and keeps their worst outcome, for the task's status: one
/// result per input, then `Ok(tally.status())`.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// use taskhost_sdk::results::{CheckResult, Outcome, Tally};
/// let mut tally = Tally::default();
/// tally.emit(CheckResult::new("a.sh", "file", Outcome::Passed))?;
/// tally.emit(CheckResult::new("b.sh", "file", Outcome::Failed))?;
/// assert_eq!(tally.status(), taskhost_sdk::Status::Failure);
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.results.len(), 2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Tally {
    worst: Option<Outcome>,
    emitted: usize,
}

impl Tally {
    /// Emits `result` (see [`CheckResult::emit`]) and counts its outcome.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome, Tally};
    /// let mut tally = Tally::default();
    /// tally.emit(CheckResult::new("a.sh", "file", Outcome::Info))?;
    /// assert_eq!(tally.count(), 1);
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.results.len(), 1);
    /// ```
    pub fn emit(&mut self, result: CheckResult) -> Result<()> {
        let outcome = from_wit(result.0.outcome);
        result.emit()?;
        self.worst = self.worst.max(Some(outcome));
        self.emitted += 1;
        Ok(())
    }

    /// How many results were emitted.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome, Tally};
    /// let mut tally = Tally::default();
    /// for file in ["a.sh", "b.sh"] {
    ///     tally.emit(CheckResult::new(file, "file", Outcome::Passed))?;
    /// }
    /// assert_eq!(tally.count(), 2);
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn count(&self) -> usize {
        self.emitted
    }

    /// The worst outcome so far, if any result was emitted.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome, Tally};
    /// let mut tally = Tally::default();
    /// assert_eq!(tally.worst(), None);
    /// tally.emit(CheckResult::new("a.sh", "file", Outcome::NeedsInspection))?;
    /// tally.emit(CheckResult::new("b.sh", "file", Outcome::Passed))?;
    /// assert_eq!(tally.worst(), Some(Outcome::NeedsInspection));
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn worst(&self) -> Option<Outcome> {
        self.worst
    }

    /// Success when every outcome was PASSED or INFO (or there were
    /// none), else Failure: what [`Task::execute`](crate::Task::execute)
    /// returns.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::results::{CheckResult, Outcome, Tally};
    /// use taskhost_sdk::Status;
    /// let mut tally = Tally::default();
    /// assert_eq!(tally.status(), Status::Success);
    /// tally.emit(CheckResult::new("a.sh", "file", Outcome::Info))?;
    /// assert_eq!(tally.status(), Status::Success);
    /// tally.emit(CheckResult::new("b.sh", "file", Outcome::Aborted))?;
    /// assert_eq!(tally.status(), Status::Failure);
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn status(&self) -> crate::Status {
        match self.worst {
            Some(o) if !o.is_ok() => crate::Status::Failure,
            _ => crate::Status::Success,
        }
    }
}

fn from_wit(o: raw::Outcome) -> Outcome {
    match o {
        raw::Outcome::Passed => Outcome::Passed,
        raw::Outcome::Info => Outcome::Info,
        raw::Outcome::Failed => Outcome::Failed,
        raw::Outcome::NeedsInspection => Outcome::NeedsInspection,
        raw::Outcome::Aborted => Outcome::Aborted,
        raw::Outcome::Crashed => Outcome::Crashed,
    }
}
