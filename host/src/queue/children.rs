//! Child runs (`runs.submit`) of a queued run go through the same stream:
//! any worker of the tag may run them. While a run waits for a child, it
//! lends its worker slot, so one worker of one slot runs a parent and its
//! children without deadlock.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

use super::{Queue, RunRequest, State};
use crate::run::children::{ChildRun, Spawner};

/// How deep queued runs may nest (a run's child's child ...).
pub const MAX_DEPTH: u32 = 3;

/// Submits children to the queue and waits for them.
pub struct QueueChildren {
    queue: Queue,
    tag: String,
    /// The children's depth (a top-level run's children are 1).
    depth: u32,
    slots: Option<Arc<Semaphore>>,
}

impl QueueChildren {
    /// The spawner of a run of `depth` (0: submitted by a user) taken
    /// from `tag`'s queue; `slots` are its worker's, lent while waiting.
    /// None when its children would nest too deep.
    pub fn new(
        queue: Queue,
        tag: &str,
        depth: u32,
        slots: Option<Arc<Semaphore>>,
    ) -> Option<QueueChildren> {
        (depth < MAX_DEPTH).then(|| QueueChildren {
            queue,
            tag: tag.to_owned(),
            depth: depth + 1,
            slots,
        })
    }
}

impl Spawner for QueueChildren {
    fn spawn(&self, task: String, task_data: Value, run_id: String, parent: String) -> ChildRun {
        let (queue, slots) = (self.queue.clone(), self.slots.clone());
        let request = RunRequest {
            id: run_id,
            task,
            task_data,
            parent: Some(parent),
            tag: self.tag.clone(),
            depth: self.depth,
            formula: None,
        };
        Box::pin(async move {
            queue
                .submit(&request)
                .await
                .map_err(|e| format!("cannot queue child run {}: {e}", request.id))?;
            if let Some(slots) = &slots {
                slots.add_permits(1);
            }
            let waited = queue.wait(&request.id, Duration::from_millis(200)).await;
            if let Some(slots) = &slots
                && let Ok(permit) = slots.acquire().await
            {
                permit.forget();
            }
            let status = waited.map_err(|e| e.to_string())?;
            match (status.state, status.report) {
                (State::Finished, Some(report)) => serde_json::from_str(&report)
                    .map_err(|e| format!("child run {}: a corrupt report: {e}", request.id)),
                (state, _) => Err(format!(
                    "child run {} {}: {}",
                    request.id,
                    if state == State::Dead {
                        "is dead-lettered"
                    } else {
                        "did not run"
                    },
                    status.error.unwrap_or_default()
                )),
            }
        })
    }
}
