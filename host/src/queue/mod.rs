//! Runs past one machine: a JetStream work queue of runs, taken by
//! `runtask worker`s, with their state in the shared store's PostgreSQL.
//!
//! - A run is one message on `taskhost.runs.<tag>.<task>` in the WorkQueue
//!   stream [`RUNS`], published with `Nats-Msg-Id` = run id, so a retried
//!   submit is deduplicated; a row in `queued_runs` says how it is going.
//! - Workers of a tag share one durable pull consumer. A worker claims the
//!   run for the message's delivery (its *attempt*), runs it against the
//!   store as seen by that attempt, and in one transaction makes the
//!   attempt's artifacts visible and records the run finished; then acks.
//!   Only the attempt holding the claim may finish the run.
//! - A killed worker never acks: JetStream redelivers after AckWait and
//!   another worker starts from scratch. Long runs send `+WPI`.
//! - Bad input is terminated (`+TERM`). A run that crashes is retried up
//!   to MaxDeliver, then parked in the dead-letter stream [`DEAD`], which
//!   also takes JetStream's max-deliveries advisories (a worker that died
//!   on the last delivery cannot say so itself).
//!
//! Everything that must survive a crash lives in JetStream or PostgreSQL.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::shared::{SharedStore, pg_err, retry};
use crate::store::{StoreError, now_rfc3339};

pub mod children;
pub mod worker;

/// The work-queue stream of runs.
pub const RUNS: &str = "TASKHOST_RUNS";
/// The dead-letter stream.
pub const DEAD: &str = "TASKHOST_DEAD";
/// Subjects of runs: `taskhost.runs.<tag>.<task>`.
const RUN_SUBJECTS: &str = "taskhost.runs.>";
/// How long a submit is remembered for deduplication.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(20 * 60);
/// The tag of runs and workers that name none.
pub const DEFAULT_TAG: &str = "default";

/// How the queue's streams and consumers are made.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Stream replicas (3 in a cluster of three).
    pub replicas: usize,
    /// A delivery not acked (nor `+WPI`ed) for this long is redelivered.
    pub ack_wait: Duration,
    /// Deliveries of one run before it goes to the dead-letter stream.
    pub max_deliver: i64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            replicas: 1,
            ack_wait: Duration::from_secs(60),
            max_deliver: 3,
        }
    }
}

/// The message of one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRequest {
    pub id: String,
    pub task: String,
    pub task_data: Value,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default = "default_tag")]
    pub tag: String,
    /// 0 for a run a user submitted, 1 for its children, ...
    #[serde(default)]
    pub depth: u32,
    /// A task formula to run instead of the task (then `task` is the
    /// formula's name and `task_data` is empty).
    #[serde(default)]
    pub formula: Option<FormulaRequest>,
}

/// Category of the artifact that holds a submitted formula's directory.
pub const TASK_DIRECTORY: &str = "taskhost:task-directory";
/// Category of the artifact that keeps a queued formula's `artifacts/`.
pub const FORMULA_ARTIFACTS: &str = "taskhost:formula-artifacts";

/// A task formula run, libtaskotron's `runtask -i ITEM -t TYPE FORMULA`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FormulaRequest {
    /// The [`TASK_DIRECTORY`] artifact: the formula's directory.
    pub directory: crate::store::ArtifactId,
    /// The formula's file in it.
    pub file: String,
    pub item: String,
    pub item_type: String,
    pub arch: String,
    pub jobid: String,
}

impl RunRequest {
    /// Checks what a worker uses in subjects and paths: anyone who can
    /// publish to the stream can hand a worker a message.
    pub fn validate(&self) -> Result<(), QueueError> {
        check_token("run id", &self.id)?;
        check_token("tag", &self.tag)?;
        if let Some(parent) = &self.parent {
            check_token("parent run id", parent)?;
        }
        taskhost_manifest::check_name(&self.task)
            .map_err(|e| QueueError::Invalid(format!("task {:?}: {e}", self.task)))?;
        if let Some(f) = &self.formula {
            crate::store::validate_file_name(&f.file)
                .map_err(|e| QueueError::Invalid(format!("formula file: {e}")))?;
        }
        if self.depth > children::MAX_DEPTH {
            return Err(QueueError::Invalid(format!(
                "run {} is nested {} deep; runs nest at most {} deep",
                self.id,
                self.depth,
                children::MAX_DEPTH
            )));
        }
        Ok(())
    }
}

fn default_tag() -> String {
    DEFAULT_TAG.into()
}

/// Where a run is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Queued,
    Running,
    Finished,
    /// In the dead-letter stream.
    Dead,
}

/// A run as `runtask status` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunStatus {
    pub id: String,
    pub task: String,
    pub state: State,
    pub parent: Option<String>,
    /// Deliveries so far (the attempt that holds or held the claim).
    pub attempt: i32,
    pub worker: Option<String>,
    pub submitted_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The report's status (`success`, `failure`, `error`).
    pub status: Option<String>,
    /// Why it failed to run, when it did.
    pub error: Option<String>,
    /// The report (JSON), once finished.
    #[serde(skip)]
    pub report: Option<String>,
}

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("JetStream: {0}")]
    Nats(String),
}

fn js_err(context: &str) -> impl Fn(&dyn std::fmt::Display) -> QueueError + '_ {
    move |e| QueueError::Nats(format!("{context}: {e}"))
}

/// The run queue: JetStream for the work, the shared store for the rest.
#[derive(Clone)]
pub struct Queue {
    store: SharedStore,
    js: jetstream::Context,
    config: QueueConfig,
}

impl Queue {
    /// Opens the queue on the shared store's NATS connection, making its
    /// streams if missing.
    pub fn open(store: &SharedStore, config: QueueConfig) -> Result<Queue, QueueError> {
        let nats = store.nats().clone();
        let replicas = config.replicas.max(1);
        let js = store.block(async move {
            let js = jetstream::new(nats);
            retry("making the runs stream", || {
                js.get_or_create_stream(stream::Config {
                    name: RUNS.into(),
                    subjects: vec![RUN_SUBJECTS.into()],
                    retention: stream::RetentionPolicy::WorkQueue,
                    duplicate_window: DUPLICATE_WINDOW,
                    num_replicas: replicas,
                    ..Default::default()
                })
            })
            .await
            .map_err(|e| js_err("cannot make the runs stream")(&e))?;
            retry("making the dead-letter stream", || {
                js.get_or_create_stream(stream::Config {
                    name: DEAD.into(),
                    subjects: vec![
                        "taskhost.dead.>".into(),
                        format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{RUNS}.*"),
                    ],
                    num_replicas: replicas,
                    ..Default::default()
                })
            })
            .await
            .map_err(|e| js_err("cannot make the dead-letter stream")(&e))?;
            Ok::<_, QueueError>(js)
        })??;
        Ok(Queue {
            store: store.clone(),
            js,
            config,
        })
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    pub(crate) fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Queues `request` (its id chosen by the caller): records it, then
    /// publishes it with `Nats-Msg-Id` = its id. Submitting an id again
    /// runs it once.
    pub async fn submit(&self, request: &RunRequest) -> Result<(), QueueError> {
        request.validate()?;
        let client = self.client().await?;
        let task_data = request.task_data.to_string();
        client
            .execute(
                "INSERT INTO queued_runs (id, task, task_data, parent, submitted_at, state) \
                 VALUES ($1, $2, $3, $4, $5, 'queued') ON CONFLICT (id) DO NOTHING",
                &[
                    &request.id,
                    &request.task,
                    &task_data,
                    &request.parent,
                    &now_rfc3339(),
                ],
            )
            .await
            .map_err(pg_err)?;
        let payload = serde_json::to_vec(request)
            .map_err(|e| QueueError::Invalid(format!("run {}: {e}", request.id)))?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", request.id.as_str());
        let subject = format!("taskhost.runs.{}.{}", request.tag, request.task);
        // Safe to repeat: the stream drops a second copy of the id.
        let ack = retry("publishing a run", || async {
            self.js
                .publish_with_headers(subject.clone(), headers.clone(), payload.clone().into())
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| js_err("the runs stream did not take the run")(&e))?;
        tracing::debug!(run = %request.id, seq = ack.sequence, duplicate = ack.duplicate, "submitted");
        Ok(())
    }

    /// The run `id`, as far as it got.
    pub async fn status(&self, id: &str) -> Result<Option<RunStatus>, QueueError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT id, task, state, parent, attempt, worker, submitted_at, started_at, \
                 finished_at, status, error, report FROM queued_runs WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(pg_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let state = match row.get::<_, &str>(2) {
            "queued" => State::Queued,
            "running" => State::Running,
            "finished" => State::Finished,
            _ => State::Dead,
        };
        let mut status = RunStatus {
            id: row.get(0),
            task: row.get(1),
            state,
            parent: row.get(3),
            attempt: row.get(4),
            worker: row.get(5),
            submitted_at: row.get(6),
            started_at: row.get(7),
            finished_at: row.get(8),
            status: row.get(9),
            error: row.get(10),
            report: row.get(11),
        };
        // JetStream may be electing a leader: the run is then not known
        // to be dead, and the next look will tell.
        let dead = match status.state {
            State::Queued | State::Running => self.dead_letter(id).await.unwrap_or_else(|e| {
                tracing::debug!(run = %id, "cannot read the dead-letter stream now: {e}");
                None
            }),
            _ => None,
        };
        if let Some(why) = dead {
            status.state = State::Dead;
            status.error = Some(why);
        }
        Ok(Some(status))
    }

    /// Why run `id` is in the dead-letter stream, if it is.
    async fn dead_letter(&self, id: &str) -> Result<Option<String>, QueueError> {
        let dead = self
            .js
            .get_stream(DEAD)
            .await
            .map_err(|e| js_err("cannot open the dead-letter stream")(&e))?;
        if let Ok(m) = dead
            .get_last_raw_message_by_subject(&format!("taskhost.dead.{id}"))
            .await
        {
            let letter: DeadLetter = serde_json::from_slice(&m.payload)
                .map_err(|e| QueueError::Nats(format!("a corrupt dead letter: {e}")))?;
            return Ok(Some(letter.error));
        }
        // A worker that died on the last delivery: JetStream's advisory
        // names the run's message by its sequence in the runs stream.
        let runs = self
            .js
            .get_stream(RUNS)
            .await
            .map_err(|e| js_err("cannot open the runs stream")(&e))?;
        let info = dead
            .get_info()
            .await
            .map_err(|e| js_err("cannot read the dead-letter stream")(&e))?;
        for seq in info.state.first_sequence..=info.state.last_sequence {
            let Ok(m) = dead.get_raw_message(seq).await else {
                continue;
            };
            if !m.subject.starts_with("$JS.EVENT.ADVISORY.") {
                continue;
            }
            let Ok(advisory) = serde_json::from_slice::<MaxDeliveries>(&m.payload) else {
                continue;
            };
            let Ok(run) = runs.get_raw_message(advisory.stream_seq).await else {
                continue;
            };
            if run.headers.get("Nats-Msg-Id").map(|v| v.as_str()) == Some(id) {
                return Ok(Some(format!(
                    "its worker stopped during each of {} deliveries (killed, or out of memory?)",
                    advisory.deliveries
                )));
            }
        }
        Ok(None)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, QueueError> {
        self.store
            .pool()
            .get()
            .await
            .map_err(|e| QueueError::Store(StoreError::Db(format!("cannot reach PostgreSQL: {e}"))))
    }

    /// Waits until run `id` is finished or dead.
    pub async fn wait(&self, id: &str, poll: Duration) -> Result<RunStatus, QueueError> {
        loop {
            match self.status(id).await? {
                Some(s) if matches!(s.state, State::Finished | State::Dead) => return Ok(s),
                Some(_) => {}
                None => {
                    return Err(QueueError::Invalid(format!(
                        "no run {id} was submitted (see `runtask submit`)"
                    )));
                }
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// What a worker puts in the dead-letter stream.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: String,
    pub task: String,
    pub deliveries: i64,
    pub error: String,
}

/// JetStream's `io.nats.jetstream.advisory.v1.max_deliver`.
#[derive(Deserialize)]
struct MaxDeliveries {
    stream_seq: u64,
    deliveries: u64,
}

/// Run ids and tags go into subjects and file names: ASCII letters,
/// digits, `-` and `_` only, at most 128 bytes.
pub fn check_token(what: &str, s: &str) -> Result<(), QueueError> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(QueueError::Invalid(format!(
            "{what} {s:?}: use 1 to 128 ASCII letters, digits, '-' and '_'"
        )))
    }
}

/// The durable consumer of `tag`'s workers.
pub(crate) fn consumer_config(tag: &str, config: &QueueConfig) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(format!("workers-{tag}")),
        filter_subject: format!("taskhost.runs.{tag}.>"),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
        max_ack_pending: 10_000,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_with_a_path_for_an_id_or_task_is_refused() {
        let ok = RunRequest {
            id: "r1".into(),
            task: "lintian".into(),
            task_data: serde_json::json!({}),
            parent: None,
            tag: DEFAULT_TAG.into(),
            depth: 0,
            formula: None,
        };
        ok.validate().unwrap();
        for bad in [
            RunRequest {
                id: "../../etc/x".into(),
                ..ok.clone()
            },
            RunRequest {
                task: "/tmp/evil.wasm".into(),
                ..ok.clone()
            },
            RunRequest {
                tag: "a.>".into(),
                ..ok.clone()
            },
            RunRequest {
                parent: Some("../p".into()),
                ..ok.clone()
            },
            RunRequest {
                depth: 99,
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_plain() {
        for ok in ["20261202T101010Z-abcd1234", "amd64", "a_b-c"] {
            check_token("run id", ok).unwrap();
        }
        for bad in ["", "a.b", "a b", "a/b", "*", ">", "x\n", &"x".repeat(129)] {
            assert!(check_token("run id", bad).is_err(), "{bad:?}");
        }
    }
}
