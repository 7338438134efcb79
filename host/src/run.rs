//! One task run, as one library call: task + task_data + grants → report.
//!
//! Before any stage: the policy preflight (a missing grant refuses the run
//! before plugin code starts) and the plugin's strict task_data check.
//! Then, in order: fetch inputs → configure → run → upload artifacts →
//! cleanup. Cleanup always happens. Each stage is logged, and a failure
//! names its stage. The run's log becomes a
//! `debusine:work-request-debug-logs` artifact.

use crate::capabilities::RunContext;
use crate::manifest::Manifest;
use crate::policy::{Denied, Effective};
use crate::progress::{PluginProgress, Progress};
use crate::report::{self, CheckResult, Outcome, Report, Status};
use crate::runlog::RunLog;
use crate::runtime::bindings::{self, Error as PluginError};
use crate::runtime::{Plugin, Runtime, SandboxLimits};
use crate::store::{self, ArtifactId, ArtifactStore, Relation, RelationEntry};
use crate::workspace::Workspace;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Category of the run's own log artifact (debusine's name).
pub const DEBUG_LOGS: &str = "debusine:work-request-debug-logs";

/// Defaults when the policy sets no limit.
pub const DEFAULT_MEMORY: u64 = 512 << 20;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2 * 3600);
pub const DEFAULT_OUTPUT_LIMIT: u64 = 64 << 20;
/// Cap on what a plugin prints to its own stdout/stderr.
pub const STDIO_LIMIT: usize = 4 << 20;

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Parent of the per-run workspace directories.
    pub workspace_parent: PathBuf,
    pub keep_workspace: bool,
    pub install_deps: bool,
    /// Where `<run-id>/results.yaml` is written; none: not written.
    pub runs_dir: Option<PathBuf>,
    pub progress: Progress,
    /// SIGTERM → SIGKILL grace for commands (debusine: 5 s).
    pub kill_grace: Duration,
    /// Skip the tool dependency check (benchmarks, tests of other stages).
    pub check_deps: bool,
    /// Where the unshare backend keeps unpacked system tarballs.
    pub env_cache: PathBuf,
    /// How commands' processes are contained (cgroup, or reaper program).
    pub containment: crate::backends::Containment,
}

/// The default cache of unpacked environments: a directory in TMPDIR.
pub fn default_env_cache() -> PathBuf {
    std::env::temp_dir().join("taskhost-environments")
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workspace_parent: std::env::temp_dir().join("taskhost-workspaces"),
            keep_workspace: false,
            install_deps: false,
            runs_dir: None,
            progress: Progress::Plain,
            kill_grace: Duration::from_secs(5),
            check_deps: true,
            env_cache: default_env_cache(),
            containment: crate::backends::Containment::default(),
        }
    }
}

/// Bad input: reported before anything is written (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

/// A run id: UTC timestamp plus random suffix (libtaskotron used a
/// timestamp as uuid).
pub fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    format!(
        "{stamp}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A report of a run that starts now with `status`, nothing else yet.
pub(crate) fn new_report(run_id: &str, task: &str, status: Status) -> Report {
    Report {
        run_id: run_id.to_string(),
        task: task.to_string(),
        status,
        results: Vec::new(),
        artifacts: Vec::new(),
        failed_stage: None,
        error: None,
        started_at: rfc3339_now(),
        duration_ms: 0,
        log_artifact: None,
        results_file: None,
        exit_code: None,
    }
}

/// `report` refused by the policy: the missing grants, logged.
pub(crate) fn refused(
    mut report: Report,
    log: &RunLog,
    missing: &[Denied],
    started: Instant,
) -> Report {
    let text = missing
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    log.error("policy", &text);
    report.status = Status::Refused;
    report.error = Some(text);
    report.duration_ms = elapsed_ms(started);
    report
}

/// The sandbox of one plugin instance under `grants`, from now; and its
/// timeout.
pub(crate) fn sandbox_limits(grants: &Effective) -> (SandboxLimits, Duration) {
    let limits = grants.limits();
    let timeout = limits.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let sandbox = SandboxLimits {
        memory: limits.memory.unwrap_or(DEFAULT_MEMORY),
        deadline: Instant::now() + timeout,
        stdio_limit: STDIO_LIMIT,
    };
    (sandbox, timeout)
}

/// A fresh workspace for run `run_id`.
pub(crate) fn create_workspace(
    options: &RunOptions,
    run_id: &str,
) -> Result<Arc<Workspace>, RunError> {
    Workspace::create(&options.workspace_parent, run_id, options.keep_workspace)
        .map(Arc::new)
        .map_err(|e| {
            RunError::Internal(anyhow::anyhow!(
                "creating a workspace in {}: {e}",
                options.workspace_parent.display()
            ))
        })
}

/// The capabilities' context for one instance of `plugin` in a run.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_context(
    run_id: &str,
    plugin: &Plugin,
    grants: Effective,
    workspace: Arc<Workspace>,
    store: &Arc<dyn ArtifactStore>,
    options: &RunOptions,
    log: &RunLog,
    deadline: Instant,
) -> RunContext {
    let output_limit = grants.limits().output_limit.unwrap_or(DEFAULT_OUTPUT_LIMIT);
    RunContext {
        log: log.clone(),
        progress: options.progress.clone(),
        plugin_progress: PluginProgress::new(options.progress.clone()),
        output_limit,
        kill_grace: options.kill_grace,
        env_cache: options.env_cache.clone(),
        containment: options.containment.clone(),
        ..RunContext::new(
            run_id.to_string(),
            plugin.info.manifest.clone(),
            grants,
            workspace,
            store.clone(),
            deadline,
        )
    }
}

/// Runs `plugin` on `task_data` under `grants`.
pub async fn run_task(
    runtime: &Runtime,
    store: Arc<dyn ArtifactStore>,
    plugin: &Plugin,
    task_data: Value,
    grants: Effective,
    options: &RunOptions,
) -> Result<Report, RunError> {
    run_task_in(runtime, store, plugin, task_data, grants, options, None).await
}

/// [`run_task`] in an existing workspace (a formula's), when given one.
pub async fn run_task_in(
    runtime: &Runtime,
    store: Arc<dyn ArtifactStore>,
    plugin: &Plugin,
    task_data: Value,
    grants: Effective,
    options: &RunOptions,
    shared: Option<Arc<Workspace>>,
) -> Result<Report, RunError> {
    let started = Instant::now();
    let run_id = new_run_id();
    let log = RunLog::new();
    let manifest = plugin.info.manifest.clone();
    let name = manifest.name.clone();
    let mut report = new_report(&run_id, &name, Status::Error);
    log.info(
        "run",
        &format!(
            "run {run_id}: task {name} {} from {}",
            manifest.version, plugin.origin
        ),
    );

    if manifest.kind != crate::manifest::Kind::Task {
        return Err(RunError::Invalid(format!(
            "{name} is a directive, not a task: use it as an action of a task formula \
             (runtask -i ITEM -t TYPE runtask.yml)"
        )));
    }
    if !task_data.is_object() {
        return Err(RunError::Invalid(
            "task_data must be a mapping of keys to values".into(),
        ));
    }

    // Policy: refuse before any plugin code runs.
    if let Err(missing) = grants.preflight() {
        return Ok(refused(report, &log, &missing, started));
    }
    let (sandbox, timeout) = sandbox_limits(&grants);
    let workspace = match shared {
        Some(workspace) => workspace,
        None => create_workspace(options, &run_id)?,
    };
    let context = run_context(
        &run_id,
        plugin,
        grants,
        workspace,
        &store,
        options,
        &log,
        sandbox.deadline,
    );
    let mut instance = runtime
        .instantiate(plugin, context, sandbox)
        .await
        .map_err(RunError::Internal)?;

    // Strict task_data check, by the plugin, on the data as given.
    let given = task_data.to_string();
    match instance.validate(&given).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(RunError::Invalid(plugin_error(&e))),
        Err(trap) => {
            let why = crate::runtime::describe_trap(&trap, &sandbox, timeout);
            return Ok(crashed(report, &log, "validate", why, started));
        }
    }

    // Stage 1: fetch inputs (resolve ids, import local files).
    log.info("stage", "fetch-inputs");
    // Imports hash and fsync: off the async threads.
    let (inputs, task_data) = {
        let (manifest, store, run_id, log) =
            (manifest.clone(), store.clone(), run_id.clone(), log.clone());
        tokio::task::spawn_blocking(move || {
            let mut task_data = task_data;
            resolve_inputs(&manifest, &mut task_data, store.as_ref(), &run_id, &log)
                .map(|ids| (ids, task_data))
        })
        .await
        .map_err(|e| RunError::Internal(e.into()))??
    };
    instance
        .store
        .data_mut()
        .run
        .visible
        .extend(inputs.iter().copied());

    // Stage 2: configure (tool dependencies).
    log.info("stage", "configure");
    let mut outcome = None;
    if options.check_deps && !manifest.packages.is_empty() {
        match crate::deps::ensure(&name, &manifest.packages, options.install_deps).await {
            Ok(installed) if !installed.is_empty() => {
                log.info("configure", &format!("installed {}", installed.join(" ")))
            }
            Ok(_) => {}
            Err(e) => outcome = Some(StageEnd::Failed("configure", e.to_string())),
        }
    }

    // Stage 3: run.
    if outcome.is_none() {
        log.info("stage", "run");
        // A plugin stuck in a host call ends with the run's grace period.
        let backstop = timeout + options.kill_grace;
        outcome = Some(
            match tokio::time::timeout(backstop, instance.execute(&task_data.to_string())).await {
                Ok(Ok(Ok(status))) => StageEnd::Done(status),
                Ok(Ok(Err(e))) => StageEnd::Failed("run", plugin_error(&e)),
                Ok(Err(trap)) => {
                    StageEnd::Crashed(crate::runtime::describe_trap(&trap, &sandbox, timeout))
                }
                Err(_) => StageEnd::Crashed(format!(
                    "the task ran past its deadline ({}s)",
                    timeout.as_secs()
                )),
            },
        );
    }

    let (stdout, stderr) = instance.stdio();
    log_plugin_output(&log, "stdout", &stdout);
    log_plugin_output(&log, "stderr", &stderr);
    if let (Some(StageEnd::Crashed(why)), Some(tail)) = (&mut outcome, stderr_tail(&stderr)) {
        why.push_str(&format!("; the plugin's stderr ends with:\n{tail}"));
    }
    let mut state = instance.into_state();
    let run = &mut state.run;
    match outcome {
        Some(StageEnd::Done(status)) => {
            report.status = match status {
                bindings::Status::Success => Status::Success,
                bindings::Status::Failure => Status::Failure,
                bindings::Status::Error => Status::Error,
                bindings::Status::Skipped => Status::Skipped,
            };
            log.info("run", &format!("task ended: {}", report.status));
        }
        Some(StageEnd::Failed(stage, why)) => {
            log.error(stage, &why);
            report.status = Status::Error;
            report.failed_stage = Some(stage.to_string());
            report.error = Some(why);
        }
        Some(StageEnd::Crashed(why)) => {
            log.error("run", &why);
            report.status = Status::Crashed;
            report.failed_stage = Some("run".into());
            report.error = Some(why);
        }
        None => {}
    }
    report.results = std::mem::take(&mut run.results);
    if report.results.is_empty() {
        report.results.extend(synthesized_result(&report));
    }

    // Stage 4: upload artifacts (results file, the run's own log).
    log.info("stage", "upload-artifacts");
    if let Some(dir) = &options.runs_dir {
        match write_results(dir, &run_id, &report.results) {
            Ok(path) => report.results_file = Some(path),
            Err(e) => log.error("upload-artifacts", &format!("writing results.yaml: {e}")),
        }
    }
    report.artifacts = run.created.clone();
    report.duration_ms = elapsed_ms(started);
    let mut related: Vec<ArtifactId> = inputs
        .iter()
        .copied()
        .chain(run.created.iter().copied())
        .collect();
    related.dedup();
    let upload = {
        let (store, run_id, log, report) =
            (store.clone(), run_id.clone(), log.clone(), report.clone());
        tokio::task::spawn_blocking(move || {
            upload_log(
                store.as_ref(),
                &run_id,
                &log,
                &stdout,
                &stderr,
                &report,
                &related,
            )
        })
    };
    match upload.await {
        Ok(Ok(id)) => report.log_artifact = Some(id),
        Ok(Err(e)) => tracing::error!("storing the run log failed: {e}"),
        Err(e) => tracing::error!("storing the run log failed: {e}"),
    }

    // Stage 5: cleanup (the workspace goes with the state).
    log.info("stage", "cleanup");
    if run.workspace.kept() {
        log.info(
            "cleanup",
            &format!("workspace kept at {}", run.workspace.root().display()),
        );
    }
    drop(state);
    Ok(report)
}

/// Calls the plugin's `describe` in a sandbox with no grants at all: no
/// programs, no backends, no artifacts to read or create.
pub async fn describe(
    runtime: &Runtime,
    store: Arc<dyn ArtifactStore>,
    plugin: &Plugin,
    options: &RunOptions,
) -> anyhow::Result<crate::runtime::Described> {
    let run_id = new_run_id();
    let mut manifest = plugin.info.manifest.clone();
    manifest.creates.clear();
    let grants = Effective::new(&manifest.name, Default::default(), Default::default(), None);
    let sandbox = SandboxLimits {
        memory: 64 << 20,
        deadline: Instant::now() + Duration::from_secs(10),
        stdio_limit: 64 << 10,
    };
    let workspace = Workspace::create(&options.workspace_parent, &run_id, false)?;
    let context = RunContext {
        output_limit: 0,
        ..RunContext::new(run_id, manifest, grants, workspace, store, sandbox.deadline)
    };
    let mut instance = runtime.instantiate(plugin, context, sandbox).await?;
    instance.describe().await.map_err(|e| {
        anyhow::anyhow!(
            "{}",
            crate::runtime::describe_trap(&e, &sandbox, Duration::from_secs(10))
        )
    })
}

enum StageEnd {
    Done(bindings::Status),
    Failed(&'static str, String),
    Crashed(String),
}

/// Copies the first lines a plugin printed into the run log; all of it
/// (up to the cap) is kept in the debug-logs artifact.
fn log_plugin_output(log: &RunLog, stream: &str, bytes: &[u8]) {
    const LINES: usize = 200;
    let text = String::from_utf8_lossy(bytes);
    let source = format!("plugin {stream}");
    let mut lines = text.lines();
    for line in lines.by_ref().take(LINES) {
        log.info(&source, line);
    }
    let rest = lines.count();
    if rest > 0 {
        log.info(
            &source,
            &format!("[{rest} more lines in plugin-{stream}.log of the debug-logs artifact]"),
        );
    }
}

/// The last lines a plugin wrote to stderr (a panic message lands here).
pub(crate) fn stderr_tail(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(4)..].join("\n");
    (!tail.is_empty()).then(|| tail.chars().take(2000).collect())
}

pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn crashed(mut report: Report, log: &RunLog, stage: &str, why: String, started: Instant) -> Report {
    log.error(stage, &why);
    report.status = Status::Crashed;
    report.failed_stage = Some(stage.to_string());
    report.error = Some(why);
    report.results = synthesized_result(&report).into_iter().collect();
    report.duration_ms = elapsed_ms(started);
    report
}

/// A run that produced no results still reports one, so ResultYAML
/// consumers see the failure (libtaskotron treated none as a crash).
fn synthesized_result(report: &Report) -> Option<CheckResult> {
    let outcome = match report.status {
        Status::Success | Status::Skipped | Status::Refused => return None,
        Status::Failure => Outcome::Failed,
        Status::Error => Outcome::Aborted,
        Status::Crashed => Outcome::Crashed,
    };
    Some(CheckResult {
        item: report.task.clone(),
        item_type: "taskhost:run".into(),
        outcome,
        checkname: report.task.clone(),
        note: report.error.clone(),
        artifact: None,
        keyvals: [("run_id".to_string(), report.run_id.clone())].into(),
    })
}

pub(crate) fn plugin_error(e: &PluginError) -> String {
    match e {
        PluginError::AccessDenied(m) => format!("access denied: {m}"),
        PluginError::Invalid(m) => m.clone(),
        PluginError::NotFound(m) => format!("not found: {m}"),
        PluginError::Failed(m) => m.clone(),
        PluginError::TimedOut => "timed out".into(),
    }
}

/// Replaces each declared input key's value with an artifact id: ids are
/// checked, local files are imported as the input's first category.
fn resolve_inputs(
    manifest: &Manifest,
    task_data: &mut Value,
    store: &dyn ArtifactStore,
    run_id: &str,
    log: &RunLog,
) -> Result<Vec<ArtifactId>, RunError> {
    let mut ids = Vec::new();
    for input in &manifest.inputs {
        let pointer = format!("/{}", input.key.replace('.', "/"));
        let Some(slot) = task_data.pointer_mut(&pointer) else {
            continue;
        };
        let slots: Vec<&mut Value> = match slot {
            Value::Array(items) if input.multiple => items.iter_mut().collect(),
            other => vec![other],
        };
        for value in slots {
            let id = resolve_one(&input.key, &input.categories, value, store, run_id, log)?;
            *value = Value::from(id);
            ids.push(id);
        }
    }
    Ok(ids)
}

fn resolve_one(
    key: &str,
    categories: &[String],
    value: &Value,
    store: &dyn ArtifactStore,
    run_id: &str,
    log: &RunLog,
) -> Result<ArtifactId, RunError> {
    let by_id = |id: ArtifactId| -> Result<ArtifactId, RunError> {
        let artifact = store
            .get(id)
            .map_err(|e| RunError::Invalid(format!("{key}: {e}")))?;
        if !categories.contains(&artifact.category) {
            return Err(RunError::Invalid(format!(
                "{key}: unexpected artifact category: '{}'. Valid categories: {categories:?}",
                artifact.category
            )));
        }
        log.info(
            "fetch-inputs",
            &format!("{key}: artifact {id} ({})", artifact.category),
        );
        Ok(id)
    };
    match value {
        Value::Number(n) => by_id(
            n.as_u64()
                .ok_or_else(|| RunError::Invalid(format!("{key}: {n} is not an artifact id")))?,
        ),
        Value::String(s) if s.parse::<ArtifactId>().is_ok() => by_id(s.parse().unwrap_or_default()),
        Value::String(s) if crate::store::Lookup::is_lookup(s) && !Path::new(s).exists() => {
            let id = crate::store::lookup(store, s, categories)
                .map_err(|e| RunError::Invalid(format!("{key}: {e}")))?;
            log.info("fetch-inputs", &format!("{key}: {s} is artifact {id}"));
            by_id(id)
        }
        Value::String(s) => {
            let path = Path::new(s);
            let meta = std::fs::metadata(path).map_err(|e| {
                RunError::Invalid(format!(
                    "{key}: '{s}' is neither an artifact id nor a readable file: {e}"
                ))
            })?;
            if !meta.is_file() {
                return Err(RunError::Invalid(format!(
                    "{key}: '{s}' is not a regular file"
                )));
            }
            // The file's kind picks the category (a .dsc is a source
            // package); it must be one this input accepts.
            let category = match crate::import::category_for(path) {
                Some(implied) if categories.iter().any(|c| c == implied) => implied.to_string(),
                Some(implied) => {
                    return Err(RunError::Invalid(format!(
                        "{key}: unexpected artifact category: '{implied}' (from '{s}'). Valid categories: {categories:?}"
                    )));
                }
                None => categories.first().cloned().unwrap_or_default(),
            };
            let artifact = crate::import::import(
                store,
                &[path.to_path_buf()],
                &category,
                None,
                Some(run_id.to_string()),
            )
            .map_err(|e| RunError::Invalid(format!("{key}: importing '{s}': {e}")))?;
            log.info(
                "fetch-inputs",
                &format!(
                    "{key}: imported {s} as artifact {} ({category})",
                    artifact.id
                ),
            );
            Ok(artifact.id)
        }
        other => Err(RunError::Invalid(format!(
            "{key}: expected an artifact id, a lookup or a file path, got {other}"
        ))),
    }
}

fn write_results(dir: &Path, run_id: &str, results: &[CheckResult]) -> anyhow::Result<PathBuf> {
    let dir = dir.join(run_id);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results.yaml");
    let tmp = tempfile::NamedTempFile::new_in(&dir)?;
    std::fs::write(tmp.path(), report::resultyaml::to_string(results)?)?;
    tmp.persist(&path)?;
    Ok(path)
}

/// Stores the run's log (and the plugin's own stdout/stderr) as debusine's
/// work-request-debug-logs artifact, relating to inputs and outputs.
fn upload_log(
    store: &dyn ArtifactStore,
    run_id: &str,
    log: &RunLog,
    stdout: &[u8],
    stderr: &[u8],
    report: &Report,
    related: &[ArtifactId],
) -> anyhow::Result<ArtifactId> {
    let dir = tempfile::tempdir()?;
    let mut files = Vec::new();
    let mut add = |name: &str, content: &[u8]| -> std::io::Result<()> {
        let path = dir.path().join(name);
        std::fs::write(&path, content)?;
        files.push(store::NewFile {
            name: name.to_string(),
            source: store::Source::Path(path),
        });
        Ok(())
    };
    add("taskhost.log", log.contents().as_bytes())?;
    if !stdout.is_empty() {
        add("plugin-stdout.log", stdout)?;
    }
    if !stderr.is_empty() {
        add("plugin-stderr.log", stderr)?;
    }
    add(
        "results.yaml",
        report::resultyaml::to_string(&report.results)?.as_bytes(),
    )?;
    let artifact = store.create(store::NewArtifact {
        category: DEBUG_LOGS.into(),
        data: serde_json::json!({
            "run_id": run_id,
            "task": report.task,
            "status": report.status.to_string(),
            "failed_stage": report.failed_stage,
        }),
        files,
        created_by: Some(run_id.to_string()),
        relations: related
            .iter()
            .map(|&target| RelationEntry {
                relation: Relation::RelatesTo,
                target,
            })
            .collect(),
    })?;
    Ok(artifact.id)
}
