//! `runtask worker`: takes runs from the queue, one per free slot, and
//! runs each as `runtask run` would, under this worker's own policy.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{AckKind, Message};
use futures_util::StreamExt;
use tokio::sync::{Semaphore, watch};

use super::{DEAD, DeadLetter, Queue, QueueError, RUNS, RunRequest, consumer_config, js_err};
use crate::report::Report;
use crate::store::now_rfc3339;
use crate::store::shared::{SharedStore, pg_err, retry};

/// How one attempt of a run ended.
pub enum Outcome {
    /// It ran; whatever the report says, the run is done.
    Done(Box<Report>),
    /// Its input is bad (task_data, a refused grant, an unknown task):
    /// running it again cannot help.
    Invalid(String),
    /// It crashed: another attempt may succeed.
    Crashed(String),
}

/// Runs one attempt of a run. runtask's CLI supplies one that finds the
/// task's plugin and grants as `runtask run` does.
pub trait Executor: Send + Sync {
    /// Runs `request` against `store` (the store as seen by this
    /// attempt); `slots` are the worker's, which the run lends out while
    /// it waits for its children.
    fn execute(
        &self,
        request: RunRequest,
        store: SharedStore,
        slots: Arc<Semaphore>,
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send>>;
}

/// What a worker counts (for its metrics).
pub trait Observer: Send + Sync {
    fn started(&self, _redelivered: bool) {}
    fn finished(&self, _outcome: &str, _seconds: f64) {}
    fn queue_depth(&self, _pending: u64) {}
}

impl Observer for () {}

/// How a worker works.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Runs at once.
    pub concurrency: usize,
    /// The runs it takes (`taskhost.runs.<tag>.>`).
    pub tag: String,
    /// Its name in `runtask status`.
    pub name: String,
    /// On SIGTERM, how long current runs may go on before they are
    /// handed back to the queue.
    pub drain: Duration,
}

/// Works until `stop` turns true, then drains: takes no new run, lets
/// current runs finish for `config.drain`, and hands the rest back.
pub async fn work(
    queue: &Queue,
    config: &WorkerConfig,
    executor: Arc<dyn Executor>,
    observer: Arc<dyn Observer>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), QueueError> {
    super::check_token("tag", &config.tag)?;
    let consumer = retry("making the workers' consumer", || async {
        queue
            .jetstream()
            .get_stream(RUNS)
            .await
            .map_err(|e| e.to_string())?
            .get_or_create_consumer(
                &format!("workers-{}", config.tag),
                consumer_config(&config.tag, queue.config()),
            )
            .await
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| js_err("cannot make the workers' consumer")(&e))?;
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let (abort_tx, abort) = watch::channel(false);
    let mut running = tokio::task::JoinSet::new();
    tracing::info!(worker = %config.name, tag = %config.tag, concurrency = config.concurrency, "worker started");
    let mut depth_at = Instant::now() - Duration::from_secs(60);
    loop {
        if *stop.borrow() {
            break;
        }
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.map_err(|e| QueueError::Nats(e.to_string()))?,
            _ = stop.changed() => break,
        };
        if depth_at.elapsed() > Duration::from_secs(5) {
            let mut c = consumer.clone();
            if let Ok(info) = c.info().await {
                observer.queue_depth(info.num_pending + info.num_ack_pending as u64);
            }
            depth_at = Instant::now();
        }
        let batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(2))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("cannot fetch runs (retrying): {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let message = tokio::select! {
            m = batch.next() => m,
            _ = stop.changed() => break,
        };
        let Some(message) = message else {
            continue;
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("cannot fetch runs (retrying): {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let (queue, executor, observer, config, abort, lent) = (
            queue.clone(),
            executor.clone(),
            observer.clone(),
            config.clone(),
            abort.clone(),
            slots.clone(),
        );
        running.spawn(async move {
            handle(&queue, &config, message, executor, observer, abort, lent).await;
            drop(permit);
        });
        // Reap finished handlers.
        while running.try_join_next().is_some() {}
    }
    tracing::info!(worker = %config.name, runs = running.len(), "draining");
    let drained = tokio::time::timeout(config.drain, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        let _ = abort_tx.send(true);
        while running.join_next().await.is_some() {}
    }
    tracing::info!(worker = %config.name, "worker stopped");
    Ok(())
}

/// One delivery of one run.
async fn handle(
    queue: &Queue,
    config: &WorkerConfig,
    message: Message,
    executor: Arc<dyn Executor>,
    observer: Arc<dyn Observer>,
    mut abort: watch::Receiver<bool>,
    slots: Arc<Semaphore>,
) {
    let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
    let request = serde_json::from_slice::<RunRequest>(&message.payload)
        .map_err(|e| e.to_string())
        .and_then(|r| r.validate().map(|()| r).map_err(|e| e.to_string()));
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("a message that is not a valid run request (terminated): {e}");
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    let id = request.id.clone();
    let attempt = format!("{id}#{delivered}");
    match claim(queue, &request, delivered, &config.name).await {
        Ok(true) => {}
        Ok(false) => {
            // Finished or dead already (a duplicate delivery).
            tracing::info!(run = %id, "already finished; dropping the duplicate");
            let _ = message.double_ack().await;
            return;
        }
        Err(e) => {
            tracing::warn!(run = %id, "cannot claim the run (handing it back): {e}");
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
            return;
        }
    }
    observer.started(delivered > 1);
    tracing::info!(run = %id, task = %request.task, attempt = delivered, "run started");
    let started = Instant::now();
    let store = queue.store().for_attempt(&attempt);
    let running = executor.execute(request.clone(), store, slots);
    tokio::pin!(running);
    // +WPI well inside AckWait while it runs.
    let mut ticker =
        tokio::time::interval((queue.config().ack_wait / 3).max(Duration::from_millis(100)));
    ticker.tick().await;
    let outcome = loop {
        tokio::select! {
            outcome = &mut running => break Some(outcome),
            _ = ticker.tick() => {
                if let Err(e) = message.ack_with(AckKind::Progress).await {
                    tracing::warn!(run = %id, "cannot send +WPI: {e}");
                }
            }
            _ = abort.changed() => break None,
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let Some(outcome) = outcome else {
        // Draining ran out of time: someone else runs it from scratch.
        tracing::warn!(run = %id, "stopping: handed back to the queue");
        let _ = message.ack_with(AckKind::Nak(None)).await;
        return;
    };
    let max_deliver = delivered >= queue.config().max_deliver;
    match outcome {
        Outcome::Done(report) => {
            let status = report.status.to_string();
            match finish(queue, &request, &attempt, delivered, &report).await {
                Ok(true) => {
                    observer.finished(&status, seconds);
                    tracing::info!(run = %id, status = %status, seconds, "run finished");
                    if let Err(e) = message.double_ack().await {
                        tracing::warn!(run = %id, "cannot ack (it may run again, and is then dropped as a duplicate): {e}");
                    }
                }
                Ok(false) => {
                    tracing::warn!(run = %id, attempt = delivered, "another attempt took the run over; this one's work is dropped");
                }
                Err(e) => {
                    tracing::error!(run = %id, "cannot record the run (handing it back): {e}");
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
            }
        }
        Outcome::Invalid(why) => {
            observer.finished("error", seconds);
            tracing::warn!(run = %id, "bad input, not retried: {why}");
            let _ = end(queue, &id, delivered, "finished", &why).await;
            let _ = message.ack_with(AckKind::Term).await;
        }
        Outcome::Crashed(why) if max_deliver => {
            observer.finished("dead", seconds);
            tracing::error!(run = %id, deliveries = delivered, "crashed on the last delivery; dead-lettered: {why}");
            let letter = DeadLetter {
                id: id.clone(),
                task: request.task.clone(),
                deliveries: delivered,
                error: why.clone(),
            };
            let published = match serde_json::to_vec(&letter) {
                Ok(payload) => queue
                    .jetstream()
                    .publish(format!("taskhost.dead.{id}"), payload.into())
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = published {
                tracing::error!(run = %id, "cannot dead-letter it into {DEAD}: {e}");
            }
            let _ = end(queue, &id, delivered, "dead", &why).await;
            let _ = message.ack_with(AckKind::Term).await;
        }
        Outcome::Crashed(why) => {
            observer.finished("crashed", seconds);
            tracing::warn!(run = %id, attempt = delivered, "crashed, to be retried: {why}");
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
        }
    }
}

/// Claims `request` for delivery `delivered`; false when it is done.
async fn claim(
    queue: &Queue,
    request: &RunRequest,
    delivered: i64,
    worker: &str,
) -> Result<bool, QueueError> {
    let client = queue.client().await?;
    let attempt = i32::try_from(delivered).unwrap_or(i32::MAX);
    // A message published without a row (its submitter died in between,
    // or a row lost): make one.
    client
        .execute(
            "INSERT INTO queued_runs (id, task, task_data, parent, submitted_at, state) \
             VALUES ($1, $2, $3, $4, $5, 'queued') ON CONFLICT (id) DO NOTHING",
            &[
                &request.id,
                &request.task,
                &request.task_data.to_string(),
                &request.parent,
                &now_rfc3339(),
            ],
        )
        .await
        .map_err(pg_err)?;
    let claimed = client
        .execute(
            "UPDATE queued_runs SET state = 'running', attempt = $2, worker = $3, started_at = $4 \
             WHERE id = $1 AND state IN ('queued', 'running') AND attempt < $2",
            &[&request.id, &attempt, &worker, &now_rfc3339()],
        )
        .await
        .map_err(pg_err)?;
    Ok(claimed == 1)
}

/// Records the run finished with `report` and makes the attempt's
/// artifacts visible, in one transaction; false if the claim was lost.
async fn finish(
    queue: &Queue,
    request: &RunRequest,
    attempt: &str,
    delivered: i64,
    report: &Report,
) -> Result<bool, QueueError> {
    let mut client = queue.client().await?;
    let tx = client.transaction().await.map_err(pg_err)?;
    let report_json = serde_json::to_string(report)
        .map_err(|e| QueueError::Invalid(format!("run {}: {e}", request.id)))?;
    let n = i32::try_from(delivered).unwrap_or(i32::MAX);
    let updated = tx
        .execute(
            "UPDATE queued_runs SET state = 'finished', status = $3, report = $4, finished_at = $5 \
             WHERE id = $1 AND attempt = $2 AND state = 'running'",
            &[
                &request.id,
                &n,
                &report.status.to_string(),
                &report_json,
                &now_rfc3339(),
            ],
        )
        .await
        .map_err(pg_err)?;
    if updated != 1 {
        return Ok(false);
    }
    SharedStore::commit_pending(&tx, attempt).await?;
    tx.commit().await.map_err(pg_err)?;
    Ok(true)
}

/// Ends run `id` without a report (bad input, or dead).
async fn end(
    queue: &Queue,
    id: &str,
    delivered: i64,
    state: &str,
    why: &str,
) -> Result<(), QueueError> {
    let client = queue.client().await?;
    let n = i32::try_from(delivered).unwrap_or(i32::MAX);
    client
        .execute(
            "UPDATE queued_runs SET state = $3, status = 'error', error = $4, finished_at = $5 \
             WHERE id = $1 AND attempt = $2",
            &[&id, &n, &state, &why, &now_rfc3339()],
        )
        .await
        .map_err(pg_err)?;
    Ok(())
}
