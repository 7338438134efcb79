//! `runtask submit|status|wait|worker`: runs through the JetStream queue,
//! on a shared store.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use taskhost::queue::children::QueueChildren;
use taskhost::queue::worker::{Executor, Outcome, WorkerConfig};
use taskhost::queue::{
    FORMULA_ARTIFACTS, FormulaRequest, Queue, QueueConfig, RunRequest, State, TASK_DIRECTORY,
};
use taskhost::report::ExitCode as Code;
use taskhost::run::{RunError, RunOptions, run_task};
use taskhost::runtime::Runtime;
use taskhost::store::{ArtifactStore, NewArtifact, SharedStore};

use super::args::{OutputArgs, SubmitArgs, WorkerArgs};
use super::output::{print_report, read_task_data};
use super::setup::{Config, Grants};
use super::usage;

fn open(config: &Config, queue: QueueConfig) -> Result<Queue> {
    let store = config.shared_store()?;
    Ok(Queue::open(
        &store,
        QueueConfig {
            replicas: config.shared.as_ref().map_or(1, |s| s.replicas),
            ..queue
        },
    )?)
}

/// `runtask submit TASK --data FILE` or `runtask submit -i ITEM -t TYPE
/// FORMULA`: prints the run id.
pub(crate) async fn submit(args: SubmitArgs, config: &Config) -> Result<Code> {
    let queue = open(config, QueueConfig::default())?;
    let id = args
        .run_id
        .clone()
        .unwrap_or_else(taskhost::run::new_run_id);
    let request = match (&args.item, &args.item_type) {
        (Some(item), Some(item_type)) => {
            formula_request(&args, item, item_type, &id, queue.store())?
        }
        _ => {
            let (task_data, _) = read_task_data(args.data.as_deref())?;
            RunRequest {
                id: id.clone(),
                task: args.task,
                task_data,
                parent: None,
                tag: args.tag,
                depth: 0,
                formula: None,
            }
        }
    };
    queue.submit(&request).await.map_err(|e| match e {
        taskhost::queue::QueueError::Invalid(m) => usage(m),
        e => e.into(),
    })?;
    println!("{id}");
    Ok(Code::Ok)
}

/// A formula's run: the formula checked here, its directory stored as an
/// artifact that the worker unpacks.
fn formula_request(
    args: &SubmitArgs,
    item: &str,
    item_type: &str,
    id: &str,
    store: &SharedStore,
) -> Result<RunRequest> {
    let path = std::path::Path::new(&args.task);
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read the formula {}: {e}", path.display())))?;
    let formula = taskhost::formula::Formula::parse(&path.display().to_string(), &text)
        .map_err(|e| usage(e.to_string()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or_else(|| usage(format!("{}: not a file name", path.display())))?
        .to_owned();
    let log = taskhost::runlog::RunLog::new();
    let mut files = taskhost::formula::task_files(&dir, &log).map_err(usage)?;
    if !files.iter().any(|(name, _)| *name == file) {
        // A formula in a dotfile, say: it goes along all the same.
        files.push((file.clone(), path.to_path_buf()));
    }
    let mut new = NewArtifact::new(
        TASK_DIRECTORY,
        serde_json::json!({"formula": file, "name": formula.name}),
    );
    new.created_by = Some(id.to_owned());
    for (name, source) in files {
        new = new.with_file(name, source);
    }
    let directory = store.create(new)?;
    let task = if taskhost_manifest::check_name(&formula.name).is_ok() {
        formula.name.clone()
    } else {
        "formula".to_owned()
    };
    Ok(RunRequest {
        id: id.to_owned(),
        task,
        task_data: serde_json::json!({}),
        parent: None,
        tag: args.tag.clone(),
        depth: 0,
        formula: Some(FormulaRequest {
            directory: directory.id,
            file,
            item: item.to_owned(),
            item_type: item_type.to_owned(),
            arch: args.arch.clone(),
            jobid: args.jobid.clone(),
        }),
    })
}

/// `runtask status RUN-ID`.
pub(crate) async fn status(config: &Config, run_id: &str, json: bool) -> Result<Code> {
    let queue = open(config, QueueConfig::default())?;
    let status = queue.status(run_id).await?.ok_or_else(|| {
        usage(format!(
            "no run {run_id} was submitted (see `runtask submit`)"
        ))
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        let state = serde_json::to_value(&status.state)?;
        println!(
            "run {}: {} {}",
            status.id,
            status.task,
            state.as_str().unwrap_or("?")
        );
        if status.attempt > 0 {
            println!(
                "  attempt {} on {}",
                status.attempt,
                status.worker.as_deref().unwrap_or("?")
            );
        }
        if let Some(s) = &status.status {
            println!("  status: {s}");
        }
        if let Some(e) = &status.error {
            println!("  error: {}", taskhost::runlog::escape(e));
        }
    }
    Ok(Code::Ok)
}

/// `runtask wait RUN-ID`: the report, as `runtask run` prints it.
pub(crate) async fn wait(config: &Config, run_id: &str, output: &OutputArgs) -> Result<Code> {
    let queue = open(config, QueueConfig::default())?;
    let status = queue
        .wait(run_id, Duration::from_millis(200))
        .await
        .map_err(|e| match e {
            taskhost::queue::QueueError::Invalid(m) => usage(m),
            e => e.into(),
        })?;
    pull_run_files(config, queue.store(), run_id)?;
    match (status.state, status.report) {
        (State::Finished, Some(report)) => {
            let report: taskhost::report::Report =
                serde_json::from_str(&report).context("a corrupt report in the queue")?;
            print_report(&report, output, queue.store())
        }
        (state, _) => {
            let why = status.error.unwrap_or_default();
            let message = match state {
                State::Dead => format!("run {run_id} is dead-lettered: {why}"),
                _ => format!("run {run_id} did not run: {why}"),
            };
            super::output::print_failure(output.format, &message);
            eprintln!("runtask: {message}");
            Ok(Code::TaskError)
        }
    }
}

/// Copies a shared store's records of `run_id` into `STORE/runs/RUN-ID/`,
/// where `runtask audit` and the report's paths find them.
pub(crate) fn pull_run_files(config: &Config, store: &SharedStore, run_id: &str) -> Result<()> {
    taskhost::queue::check_token("run id", run_id).map_err(|e| usage(e.to_string()))?;
    let dir = config.store_dir.join("runs").join(run_id);
    for file in store.run_files(run_id)? {
        // Names were plain file names when saved; check again.
        if file.name.contains('/') || file.name.starts_with('.') {
            continue;
        }
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(&file.name), &file.content)?;
    }
    Ok(())
}

/// `runtask worker`.
pub(crate) async fn worker(args: WorkerArgs, config: &Config) -> Result<Code> {
    let queue = open(
        config,
        QueueConfig {
            ack_wait: Duration::from_secs(args.ack_wait.max(1)),
            max_deliver: args.max_deliver.max(1),
            ..QueueConfig::default()
        },
    )?;
    let grants = Arc::new(Grants::new(&args.grants)?);
    let dirs = taskhost::plugins::search_path(&args.plugins.plugin_dir);
    // A run waiting for its children lends its slot but keeps its
    // instance: each slot may hold a chain of MAX_DEPTH waiting runs.
    let instances = u32::try_from(args.concurrency.max(1))
        .unwrap_or(64)
        .saturating_mul(taskhost::queue::children::MAX_DEPTH + 1);
    let runtime = Arc::new(config.runtime(instances)?);
    let name = args.name.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let runs_dir = config.store_dir.join("runs");
    let executor = Arc::new(Runner {
        queue: queue.clone(),
        runtime,
        grants: grants.clone(),
        dirs: Arc::new(dirs),
        options: RunOptions {
            runs_dir: Some(runs_dir),
            notification_channels: grants.policy.notification_channels(),
            ..config.run_options()
        },
    });
    let metrics = super::metrics::Metrics::new();
    if let Some(addr) = args.metrics {
        metrics.serve(addr)?;
    }
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let signalled = super::signals::interrupted();
    tokio::spawn(async move {
        let how = signalled.await;
        tracing::info!(
            "{how}: draining (no new runs; current ones finish or go back to the queue)"
        );
        let _ = stop_tx.send(true);
    });
    taskhost::queue::worker::work(
        &queue,
        &WorkerConfig {
            concurrency: args.concurrency.max(1),
            tag: args.tag,
            name,
            drain: Duration::from_secs(args.drain),
        },
        executor,
        Arc::new(metrics),
        stop,
    )
    .await?;
    Ok(Code::Ok)
}

/// Runs a queued run as `runtask run TASK` would: the plugin found by
/// name, under this worker's grants.
struct Runner {
    queue: Queue,
    runtime: Arc<Runtime>,
    grants: Arc<Grants>,
    dirs: Arc<Vec<PathBuf>>,
    options: RunOptions,
}

impl Executor for Runner {
    fn execute(
        &self,
        request: RunRequest,
        store: SharedStore,
        slots: Arc<tokio::sync::Semaphore>,
    ) -> Pin<Box<dyn std::future::Future<Output = Outcome> + Send>> {
        let (runtime, grants, dirs, options) = (
            self.runtime.clone(),
            self.grants.clone(),
            self.dirs.clone(),
            self.options.clone(),
        );
        // Its children go through the queue too.
        let children =
            QueueChildren::new(self.queue.clone(), &request.tag, request.depth, Some(slots))
                .map(|c| Arc::new(c) as Arc<dyn taskhost::run::children::Spawner>);
        Box::pin(async move {
            // An attempt's own workspace parent: a killed attempt's
            // workspace never stands in the way of the next one.
            let workspaces = options.workspace_parent.join(format!(
                "{}-{}",
                request.id,
                uuid::Uuid::new_v4().simple()
            ));
            let runs_dir = options.runs_dir.clone();
            let options = RunOptions {
                run_id: Some(request.id.clone()),
                parent: request.parent.clone(),
                workspace_parent: workspaces.clone(),
                children,
                // task_data from the queue: no files of this machine.
                local_files: false,
                ..options
            };
            let shared = store.clone();
            let outcome = match &request.formula {
                Some(f) => {
                    let formula = Formula {
                        runtime,
                        grants,
                        dirs,
                        store: shared.clone(),
                        dir: workspaces.clone(),
                    };
                    formula.run(&request, f, &options).await
                }
                None => {
                    run_one(
                        runtime,
                        grants,
                        dirs,
                        request.clone(),
                        shared.clone(),
                        &options,
                    )
                    .await
                }
            };
            let _ = std::fs::remove_dir_all(&workspaces);
            // The run's own records go to PostgreSQL, for any machine.
            if let Some(dir) = runs_dir.map(|d| d.join(&request.id)) {
                let id = request.id.clone();
                let saved =
                    tokio::task::spawn_blocking(move || shared.save_run_files(&id, &dir)).await;
                if let Ok(Err(e)) = saved {
                    tracing::warn!(run = %request.id, "cannot save the run's records: {e}");
                }
            }
            outcome
        })
    }
}

/// A queued task run: the plugin found by name, under the worker's grants.
async fn run_one(
    runtime: Arc<Runtime>,
    grants: Arc<Grants>,
    dirs: Arc<Vec<PathBuf>>,
    request: RunRequest,
    store: SharedStore,
    options: &RunOptions,
) -> Outcome {
    if let Err(e) = taskhost_manifest::check_name(&request.task) {
        return Outcome::Invalid(format!("task {:?}: {e}", request.task));
    }
    let (name, rt) = (request.task.clone(), runtime.clone());
    let loaded =
        tokio::task::spawn_blocking(move || super::children::load_task(&rt, &grants, &dirs, &name))
            .await;
    let (plugin, permit) = match loaded {
        Ok(Ok(p)) => p,
        Ok(Err(why)) => return Outcome::Invalid(why),
        Err(e) => return Outcome::Crashed(format!("loading {}: {e}", request.task)),
    };
    let store: Arc<dyn ArtifactStore> = Arc::new(store);
    match run_task(&runtime, store, &plugin, request.task_data, permit, options).await {
        Ok(report) => Outcome::Done(Box::new(report)),
        Err(RunError::Invalid(why)) => Outcome::Invalid(why),
        Err(RunError::Internal(e)) => Outcome::Crashed(format!("{e:#}")),
    }
}

/// A queued formula run: its directory unpacked from the store, its
/// `artifacts/` kept as an artifact.
struct Formula {
    runtime: Arc<Runtime>,
    grants: Arc<Grants>,
    dirs: Arc<Vec<PathBuf>>,
    store: SharedStore,
    /// The attempt's own directory.
    dir: PathBuf,
}

impl Formula {
    async fn run(&self, request: &RunRequest, f: &FormulaRequest, options: &RunOptions) -> Outcome {
        let task_dir = self.dir.join("task");
        let (store, id, into) = (self.store.clone(), f.directory, task_dir.clone());
        let unpacked = tokio::task::spawn_blocking(move || {
            let a = store.get(id).map_err(|e| e.to_string())?;
            if a.category != TASK_DIRECTORY {
                return Err(format!(
                    "artifact {id} is a {}, not a {TASK_DIRECTORY}",
                    a.category
                ));
            }
            store.export(id, &into).map_err(|e| e.to_string())
        })
        .await;
        match unpacked {
            Ok(Ok(_)) => {}
            Ok(Err(why)) => return Outcome::Invalid(format!("the formula's directory: {why}")),
            Err(e) => return Outcome::Crashed(e.to_string()),
        }
        let path = task_dir.join(&f.file);
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                taskhost::formula::Formula::parse(&f.file, &text).map_err(|e| e.to_string())
            });
        let formula = match parsed {
            Ok(formula) => formula,
            Err(why) => return Outcome::Invalid(format!("{}: {why}", f.file)),
        };
        let artifacts_root = self.dir.join("artifacts");
        let invocation = taskhost::formula::Invocation {
            item: f.item.clone(),
            item_type: f.item_type.clone(),
            arch: f.arch.clone(),
            jobid: f.jobid.clone(),
            uuid: request.id.clone(),
            artifacts_root: artifacts_root.clone(),
            task_dir: Some(task_dir),
        };
        let store: Arc<dyn ArtifactStore> = Arc::new(self.store.clone());
        let planned = super::formula::plan_formula(
            &self.runtime,
            store.clone(),
            &self.grants,
            &self.dirs,
            formula,
            invocation,
            options,
        )
        .await;
        let planned = match planned {
            Ok(p) => p,
            Err(e) => return Outcome::Invalid(format!("{e:#}")),
        };
        let report = match taskhost::formula::run(&self.runtime, store, planned, options).await {
            Ok(report) => report,
            Err(RunError::Invalid(why)) => return Outcome::Invalid(why),
            Err(RunError::Internal(e)) => return Outcome::Crashed(format!("{e:#}")),
        };
        // libtaskotron's artifactsdir, kept in the shared store.
        let (store, kept, id) = (
            self.store.clone(),
            artifacts_root.join(&request.id),
            request.id.clone(),
        );
        let saved = tokio::task::spawn_blocking(move || {
            let log = taskhost::runlog::RunLog::new();
            let files = taskhost::formula::task_files(&kept, &log)?;
            let mut new = NewArtifact::new(FORMULA_ARTIFACTS, serde_json::json!({"run_id": id}));
            new.created_by = Some(id);
            for (name, path) in files {
                new = new.with_file(name, path);
            }
            store.create(new).map_err(|e| e.to_string())
        })
        .await;
        match saved {
            Ok(Ok(a)) => {
                tracing::info!(run = %request.id, artifact = a.id, "kept the formula's artifacts")
            }
            Ok(Err(e)) => return Outcome::Crashed(format!("keeping the formula's artifacts: {e}")),
            Err(e) => return Outcome::Crashed(e.to_string()),
        }
        Outcome::Done(Box::new(report))
    }
}
