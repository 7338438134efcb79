//! Child runs (`runs.submit`): the embedder says how a task is found and
//! what the operator grants it; the run only asks for one.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::report::Report;

/// A child run under way or done.
pub type ChildRun = Pin<Box<dyn Future<Output = Result<Report, String>> + Send>>;

/// Starts child runs. runtask's CLI supplies one that finds the task's
/// plugin as `runtask run TASK` would and runs it under the same policy
/// and flags, each task with its own grants.
pub trait Spawner: Send + Sync {
    /// Runs `task` on `task_data` as run `run_id`, a child of `parent`.
    /// The error is why it could not start (no such task, a refused
    /// plugin, invalid task_data).
    fn spawn(&self, task: String, task_data: Value, run_id: String, parent: String) -> ChildRun;
}
