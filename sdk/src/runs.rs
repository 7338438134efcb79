//! Child runs (API 0.2.1): a task schedules other tasks, such as a
//! lintian run per package of a suite.
//!
//! Each task a plugin may submit is declared in its manifest
//! (`submit = ["lintian"]`) and granted by the operator; a child runs under
//! the operator's policy for that task, as if `runtask run` had started it.
//! [`submit`] returns at once; [`wait`] returns when the child ends, and
//! the artifacts it created become visible to the submitting run.

use crate::host::runs as raw;
use crate::{ArtifactId, Error, Result};
use serde::Serialize;

pub use raw::RunStatus;

impl RunStatus {
    /// The lowercase name, as reports write it (`success`, `crashed`).
    ///
    /// ```
    /// assert_eq!(taskhost_sdk::runs::RunStatus::Refused.as_str(), "refused");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::Failure => "failure",
            RunStatus::Error => "error",
            RunStatus::Skipped => "skipped",
            RunStatus::Refused => "refused",
            RunStatus::Crashed => "crashed",
        }
    }
}

/// A submitted run: see [`submit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The run's id, for [`wait`].
    pub run_id: String,
    /// False when an earlier run with equal task_data was reused.
    pub created: bool,
}

/// A finished child run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    /// The run's id.
    pub run_id: String,
    /// The task it ran.
    pub task: String,
    /// How it ended.
    pub status: RunStatus,
    /// Why it did not succeed, when it says.
    pub error: Option<String>,
    /// The artifacts it created, now visible to this run.
    pub artifacts: Vec<ArtifactId>,
}

impl Child {
    /// True when the child ended in success.
    pub fn succeeded(&self) -> bool {
        self.status == RunStatus::Success
    }
}

/// Schedules a run of `task` with `task_data` and returns at once. Unless
/// `force`, a run of `task` with equal task_data that is under way, or that
/// ended in success, failure or skipped, is returned instead.
///
/// ```no_run
/// use taskhost_sdk::runs;
/// let data = serde_json::json!({"input": {"source_artifact_id": 12}});
/// let submitted = runs::submit("lintian", &data, false)?;
/// let child = runs::wait(&submitted.run_id)?;
/// taskhost_sdk::log::info(&format!("lintian: {:?}, artifacts {:?}", child.status, child.artifacts));
/// # Ok::<(), taskhost_sdk::Error>(())
/// ```
pub fn submit(task: &str, task_data: &impl Serialize, force: bool) -> Result<Submitted> {
    let data = serde_json::to_string(task_data)
        .map_err(|e| Error::Invalid(format!("task_data of {task}: {e}")))?;
    let s = raw::submit(task, &data, force)?;
    Ok(Submitted {
        run_id: s.run_id,
        created: s.created,
    })
}

/// Waits until run `run_id` (one [`submit`] returned) ends.
pub fn wait(run_id: &str) -> Result<Child> {
    let c = raw::wait(run_id)?;
    Ok(Child {
        run_id: c.run_id,
        task: c.task,
        status: c.status,
        error: c.error,
        artifacts: c.artifacts,
    })
}
