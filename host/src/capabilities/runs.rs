//! `taskhost:plugin/runs`: child runs. Each submission is granted by task
//! name and counted against the `child-runs` quota; a child runs under the
//! operator's policy for its own task. A run may wait only for runs it
//! submitted, and sees the artifacts they created. Children still running
//! when the run ends are stopped with it.

use std::collections::HashMap;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::RunState;
use super::bindings::Error;
use super::bindings::taskhost::plugin::runs::{self, Child, RunStatus, Submitted};
use crate::report::{Report, Status};
use crate::run::DEBUG_LOGS;
use crate::store::{self, ArtifactId, ListFilter};

/// How a child ended.
#[derive(Clone, Debug)]
struct Ended {
    status: RunStatus,
    error: Option<String>,
    artifacts: Vec<ArtifactId>,
}

enum State {
    Running(JoinHandle<Result<Report, String>>),
    Done(Ended),
    /// Being waited for (taken out of the map for the await).
    Waiting,
}

struct Submission {
    task: String,
    state: State,
}

/// The runs one run submitted or reused, by run id and by parameters.
#[derive(Default)]
pub(crate) struct Children {
    by_id: HashMap<String, Submission>,
    /// Run id by [`store::run_params`] (which covers the task).
    by_params: HashMap<String, String>,
}

impl Drop for Children {
    fn drop(&mut self) {
        for s in self.by_id.values() {
            if let State::Running(handle) = &s.state {
                // Dropping a run's future kills its commands and removes
                // its workspace.
                handle.abort();
            }
        }
    }
}

impl Children {
    /// A submission with `params` this run made already.
    fn same(&self, params: &str) -> Option<String> {
        self.by_params.get(params).cloned()
    }

    fn insert(&mut self, run_id: String, params: String, task: String, state: State) {
        self.by_params.insert(params, run_id.clone());
        self.by_id.insert(run_id, Submission { task, state });
    }
}

fn status(s: Status) -> RunStatus {
    match s {
        Status::Success => RunStatus::Success,
        Status::Failure => RunStatus::Failure,
        Status::Error => RunStatus::Error,
        Status::Skipped => RunStatus::Skipped,
        Status::Crashed => RunStatus::Crashed,
        Status::Refused => RunStatus::Refused,
    }
}

/// A recorded status a new submission may reuse: the run ended normally.
fn reusable(recorded: &str) -> Option<RunStatus> {
    match recorded {
        "success" => Some(RunStatus::Success),
        "failure" => Some(RunStatus::Failure),
        "skipped" => Some(RunStatus::Skipped),
        _ => None,
    }
}

fn ended(result: Result<Report, String>) -> Ended {
    match result {
        Ok(report) => Ended {
            status: status(report.status),
            error: report.error,
            artifacts: report.artifacts,
        },
        Err(why) => Ended {
            status: RunStatus::Error,
            error: Some(why),
            artifacts: Vec::new(),
        },
    }
}

fn store_error(e: store::StoreError) -> Error {
    Error::Failed(e.to_string())
}

impl runs::Host for RunState {
    async fn submit(
        &mut self,
        task: String,
        task_data: String,
        force: bool,
    ) -> Result<Submitted, Error> {
        let data: Value = serde_json::from_str(&task_data)
            .map_err(|e| Error::Invalid(format!("task_data of {task} is not JSON: {e}")))?;
        if !data.is_object() {
            return Err(Error::Invalid(format!(
                "task_data of {task} must be a JSON object"
            )));
        }
        let params = store::run_params(&task, &data);
        let run = &mut self.run;
        run.granter
            .submit(&task, &params)
            .map_err(|d| run.denied("runs.submit", d))?;
        if !force {
            if let Some(run_id) = run.children.same(&params) {
                return Ok(Submitted {
                    run_id,
                    created: false,
                });
            }
            let (t, p) = (task.clone(), params.clone());
            let earlier = run
                .store(move |s| s.find_runs(&t, &p))
                .await
                .map_err(store_error)?;
            if let Some((record, status)) = earlier
                .into_iter()
                .rev()
                .find_map(|r| reusable(&r.status).map(|s| (r, s)))
            {
                let filter = ListFilter {
                    created_by: Some(record.id.clone()),
                    ..ListFilter::default()
                };
                let artifacts = run
                    .store(move |s| s.list(&filter))
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .filter(|a| a.category != DEBUG_LOGS)
                    .map(|a| a.id)
                    .collect();
                run.log.info(
                    "runs",
                    &format!(
                        "{task}: run {} ({}) has the same task_data; not submitting again",
                        record.id, record.status
                    ),
                );
                let state = State::Done(Ended {
                    status,
                    error: None,
                    artifacts,
                });
                run.children.insert(record.id.clone(), params, task, state);
                return Ok(Submitted {
                    run_id: record.id,
                    created: false,
                });
            }
        }
        let Some(spawner) = run.spawner.clone() else {
            return Err(Error::Failed(
                "this host starts no child runs here (runtask does for a run or a formula, three runs deep at most)"
                    .into(),
            ));
        };
        let run_id = crate::run::new_run_id();
        let child = spawner.spawn(task.clone(), data, run_id.clone(), run.run_id.clone());
        let handle = tokio::spawn(child);
        run.log
            .info("runs", &format!("submitted {task} as run {run_id}"));
        run.children
            .insert(run_id.clone(), params, task, State::Running(handle));
        Ok(Submitted {
            run_id,
            created: true,
        })
    }

    async fn wait(&mut self, run_id: String) -> Result<Child, Error> {
        let deadline = tokio::time::Instant::from_std(self.run.deadline);
        let run = &mut self.run;
        let submitted = run.children.by_id.contains_key(&run_id);
        run.granter
            .wait(&run_id, submitted)
            .map_err(|d| run.denied("runs.wait", d))?;
        let Some(submission) = self.run.children.by_id.get_mut(&run_id) else {
            return Err(Error::NotFound(format!("run {run_id}")));
        };
        let task = submission.task.clone();
        let ended = match std::mem::replace(&mut submission.state, State::Waiting) {
            State::Done(ended) => ended,
            State::Waiting => {
                return Err(Error::Failed(format!("run {run_id} is being waited for")));
            }
            State::Running(mut handle) => {
                match tokio::time::timeout_at(deadline, &mut handle).await {
                    Ok(joined) => {
                        ended(joined.unwrap_or_else(|e| Err(format!("the run stopped: {e}"))))
                    }
                    Err(_) => {
                        submission.state = State::Running(handle);
                        return Err(Error::TimedOut);
                    }
                }
            }
        };
        let run = &mut self.run;
        if let Some(s) = run.children.by_id.get_mut(&run_id) {
            s.state = State::Done(ended.clone());
        }
        for id in &ended.artifacts {
            run.granter.add_found(*id);
        }
        run.log.info(
            "runs",
            &format!("run {run_id} ({task}) ended: {:?}", ended.status),
        );
        Ok(Child {
            run_id,
            task,
            status: ended.status,
            error: ended.error,
            artifacts: ended.artifacts,
        })
    }
}
