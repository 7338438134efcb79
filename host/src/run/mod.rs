//! One task run, as one library call: task + task_data + permit → report.
//!
//! Before any stage: the policy preflight (a missing grant refuses the run
//! before plugin code starts) and the plugin's strict task_data check.
//! Then, in order: fetch inputs → configure → run → upload artifacts →
//! cleanup. Cleanup always happens. Each stage is logged, and a failure
//! names its stage. The run's log becomes a
//! `debusine:work-request-debug-logs` artifact; its audit log and
//! provenance go to `RUNS_DIR/RUN-ID/`.

pub mod children;
mod disk;
mod inputs;
pub(crate) mod instance;
pub mod provenance;
pub mod source;

use crate::capabilities::Harvest;
use crate::capabilities::bindings::{self, Error as PluginError};
use crate::policy::audit::{Audit, Decision};
use crate::policy::{Denied, Granter, Permit};
use crate::progress::Progress;
use crate::report::{self, CheckResult, Outcome, PluginRef, QuotaHit, Report, Status};
use crate::runlog::RunLog;
use crate::runtime::{Plugin, Runtime};
use crate::store::{self, ArtifactId, ArtifactStore, Relation, RelationEntry};
use crate::workspace::Workspace;
use instance::{Sandbox, Setup, Stopped};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::capabilities::{DEFAULT_OUTPUT_LIMIT, default_env_cache};
pub use instance::{DEFAULT_MEMORY, DEFAULT_TIMEOUT, STDIO_LIMIT};

/// Category of the run's own log artifact (debusine's name).
pub const DEBUG_LOGS: &str = "debusine:work-request-debug-logs";

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
    /// The machine of `--ssh user@host[:port]`, for the ssh backend.
    pub ssh: Option<crate::backends::ssh::Remote>,
    /// The system image of `--libvirt`, for `auto` without an environment.
    pub vm_image: Option<crate::store::ArtifactId>,
    /// Keep qemu machines after the run (`--no-destroy`).
    pub keep_machines: bool,
    /// A machine booted already (a formula's, under `--libvirt`).
    pub machine: Option<std::sync::Arc<crate::backends::qemu::Machine>>,
    /// The policy's notification channels, for task_data's `notifications`.
    pub notification_channels: Arc<crate::notify::Channels>,
    /// Starts the runs a plugin submits (`runs.submit`); none: refused.
    pub children: Option<Arc<dyn children::Spawner>>,
    /// The run's id, when the caller chose it (a child's); else a new one.
    pub run_id: Option<String>,
    /// The run that submitted this one.
    pub parent: Option<String>,
    /// Whether task_data may name files on this machine as inputs: only
    /// when it comes from this machine's user, never for a queued run or
    /// a child a plugin submitted.
    pub local_files: bool,
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
            ssh: None,
            vm_image: None,
            keep_machines: false,
            machine: None,
            notification_channels: Arc::default(),
            children: None,
            run_id: None,
            parent: None,
            local_files: true,
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

pub(crate) fn rfc3339_now() -> String {
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
        plugins: Vec::new(),
        quotas_exceeded: Vec::new(),
        audit_file: None,
        provenance: None,
        notifications: Vec::new(),
    }
}

/// `report` refused by the policy: the missing grants, logged and
/// audited.
pub(crate) fn refused(
    mut report: Report,
    log: &RunLog,
    missing: &[Denied],
    started: Instant,
    audit: Option<&mut Audit>,
) -> Report {
    let text = missing
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    log.error("policy", &text);
    if let Some(audit) = audit {
        for d in missing {
            audit.record(
                &d.capability,
                Value::from(d.subject.clone()),
                Decision::Deny,
                &format!("preflight: {}", d.reason),
            );
        }
        if let Err(e) = audit.write() {
            log.error("policy", &format!("writing the audit log: {e}"));
        }
    }
    report.status = Status::Refused;
    report.error = Some(text);
    report.duration_ms = elapsed_ms(started);
    report
}

/// Where run `run_id`'s audit log goes.
pub(crate) fn audit_file(options: &RunOptions, run_id: &str) -> Option<PathBuf> {
    options
        .runs_dir
        .as_ref()
        .map(|d| d.join(run_id).join(crate::policy::audit::FILE))
}

/// How a plugin is named in reports.
pub(crate) fn plugin_ref(plugin: &Plugin, permit: &Permit) -> PluginRef {
    PluginRef {
        name: plugin.name().to_owned(),
        version: plugin.info.manifest.version.clone(),
        digest: permit.identity.digest(),
        origin: permit.identity.origin_name(),
    }
}

/// The quotas a run hit, for its report.
pub(crate) fn quota_hits(granter: &Granter) -> Vec<QuotaHit> {
    granter
        .usage()
        .exceeded()
        .map(|(quota, refused)| QuotaHit {
            quota: quota.key().to_owned(),
            limit: quota.amount(granter.quota(quota)),
            refused,
        })
        .collect()
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

/// The backends a run is known to open before its plugin starts: the one
/// task_data's `backend` key names (debusine's executor key), else the
/// machine of `--ssh` or `--libvirt`. The preflight wants them granted.
pub(crate) fn backends_opened(task_data: Option<&Value>, options: &RunOptions) -> Vec<String> {
    let named = task_data
        .and_then(|t| t.get("backend"))
        .and_then(Value::as_str)
        .filter(|b| *b != "auto");
    if let Some(name) = named {
        return vec![name.to_owned()];
    }
    let mut opens = Vec::new();
    if options.ssh.is_some() {
        opens.push("ssh".to_owned());
    }
    if options.vm_image.is_some() || options.machine.is_some() {
        opens.push("qemu".to_owned());
    }
    opens
}

/// Runs `plugin` on `task_data` under `permit`.
pub async fn run_task(
    runtime: &Runtime,
    store: Arc<dyn ArtifactStore>,
    plugin: &Plugin,
    task_data: Value,
    permit: Permit,
    options: &RunOptions,
) -> Result<Report, RunError> {
    run_task_in(runtime, store, plugin, task_data, permit, options, None).await
}

/// [`run_task`] in an existing workspace (a formula's), when given one.
pub async fn run_task_in(
    runtime: &Runtime,
    store: Arc<dyn ArtifactStore>,
    plugin: &Plugin,
    task_data: Value,
    permit: Permit,
    options: &RunOptions,
    shared: Option<Arc<Workspace>>,
) -> Result<Report, RunError> {
    let started = Instant::now();
    let run_id = options.run_id.clone().unwrap_or_else(new_run_id);
    let log = RunLog::new();
    let manifest = plugin.info.manifest.clone();
    let name = manifest.name.clone();
    let mut report = new_report(&run_id, &name, Status::Error);
    report.plugins.push(plugin_ref(plugin, &permit));
    log.info(
        "run",
        &format!(
            "run {run_id}: task {name} {} from {} ({})",
            manifest.version,
            permit.identity.origin_name(),
            permit.identity.digest()
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
    // `notifications` is the host's: checked now, used at the end.
    let mut task_data = task_data;
    let notifications = crate::notify::take(&mut task_data, &options.notification_channels)
        .map_err(RunError::Invalid)?;
    // What `runs.submit` compares: the task_data as given.
    let params = store::run_params(&name, &task_data);

    // Policy: refuse before any plugin code runs.
    if let Err(missing) = permit
        .effective
        .preflight(&backends_opened(Some(&task_data), options))
    {
        let mut audit = Audit::new(
            &run_id,
            &name,
            &permit.identity.digest(),
            options.runs_dir.as_deref(),
        );
        report.audit_file = audit.path().map(Path::to_path_buf);
        return Ok(refused(report, &log, &missing, started, Some(&mut audit)));
    }
    let started_on = rfc3339_now();
    let workspace = match shared {
        Some(workspace) => workspace,
        None => create_workspace(options, &run_id)?,
    };
    let effective = permit.effective.clone();
    let mut sandbox = Sandbox::start(Setup {
        runtime,
        plugin,
        permit,
        run_id: &run_id,
        workspace: workspace.clone(),
        store: &store,
        options,
        log: &log,
    })
    .await?;

    // Strict task_data check, by the plugin, on the data as given.
    let given = task_data.to_string();
    match sandbox.validate(&given).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(RunError::Invalid(plugin_error(&e))),
        Err(Stopped::Crashed(why)) => return Ok(crashed(report, &log, "validate", why, started)),
        Err(Stopped::Quota(why)) => return Err(RunError::Invalid(why)),
    }

    // Stage 1: fetch inputs (resolve ids and lookups, import local files).
    log.info("stage", "fetch-inputs");
    for (query, categories) in inputs::lookups(&manifest, &task_data, options.local_files) {
        let category = categories.join(" | ");
        let granter = sandbox.context().granter();
        if let Err(denied) = granter.lookup(&query, &category) {
            report.audit_file = audit_file(options, &run_id);
            return Ok(refused(report, &log, &[denied], started, None));
        }
    }
    // Imports hash and fsync: off the async threads.
    let (inputs, task_data) = {
        let (manifest, store, run_id, log, local_files) = (
            manifest.clone(),
            store.clone(),
            run_id.clone(),
            log.clone(),
            options.local_files,
        );
        tokio::task::spawn_blocking(move || {
            let mut task_data = task_data;
            inputs::resolve_inputs(
                &manifest,
                &mut task_data,
                store.as_ref(),
                &run_id,
                &log,
                local_files,
            )
            .map(|ids| (ids, task_data))
        })
        .await
        .map_err(|e| RunError::Internal(e.into()))??
    };
    sandbox.context().add_inputs(&inputs);
    let inputs: Vec<ArtifactId> = inputs.into_iter().map(|(_, id)| id).collect();

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
        outcome = Some(match sandbox.execute(&task_data.to_string()).await {
            Ok(Ok(status)) => StageEnd::Done(status),
            Ok(Err(e)) => StageEnd::Failed("run", plugin_error(&e)),
            Err(Stopped::Crashed(why)) => StageEnd::Crashed(why),
            Err(Stopped::Quota(why)) => StageEnd::Failed("run", why),
        });
    }

    let finished = sandbox.finish();
    let (stdout, stderr) = (finished.stdout, finished.stderr);
    log_plugin_output(&log, "stdout", &stdout);
    log_plugin_output(&log, "stderr", &stderr);
    let Harvest {
        results,
        mut granter,
        opened,
    } = finished.harvest;
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
    report.results = results;
    report.quotas_exceeded = quota_hits(&granter);
    for hit in &report.quotas_exceeded {
        log.warn(
            "quota",
            &format!(
                "{} ({}) reached: {} request(s) refused",
                hit.quota, hit.limit, hit.refused
            ),
        );
    }
    if report.results.is_empty() {
        report.results.extend(synthesized_result(&report));
    }

    // Stage 4: upload artifacts (results file, audit, provenance, the
    // run's own log). Failing to keep any of them is a run error.
    log.info("stage", "upload-artifacts");
    let mut upload_errors = Vec::new();
    // The run's record: STORE/runs/RUN-ID/ holds its results, audit,
    // provenance and log as JSON lines.
    let record = options.runs_dir.as_ref().map(|d| d.join(&run_id));
    if let Some(dir) = &record {
        let written = std::fs::create_dir_all(dir)
            .map_err(anyhow::Error::from)
            .and_then(|()| {
                let text = report::resultyaml::to_string(&report.results)?;
                write_run_file(dir, "results.yaml", text.as_bytes())
            });
        match written {
            Ok(path) => report.results_file = Some(path),
            Err(e) => upload_errors.push(format!("writing results.yaml: {e:#}")),
        }
    }
    if let Err(e) = granter.write_audit() {
        upload_errors.push(format!("writing the audit log: {e}"));
    }
    report.audit_file = audit_file(options, &run_id);
    report.artifacts = granter.created().to_vec();
    // The host's versions (cached from the configure stage's check).
    let packages = crate::deps::versions(&manifest.packages)
        .await
        .unwrap_or_else(|_| {
            manifest
                .packages
                .iter()
                .map(|p| (p.clone(), None))
                .collect()
        });
    let statement = {
        let store = store.clone();
        let (input_ids, output_ids) = (inputs.clone(), report.artifacts.clone());
        let get = move || {
            let get = |ids: &[ArtifactId]| -> Vec<store::Artifact> {
                ids.iter().filter_map(|id| store.get(*id).ok()).collect()
            };
            (get(&input_ids), get(&output_ids))
        };
        let artifacts = if inputs.is_empty() && report.artifacts.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            tokio::task::spawn_blocking(get)
                .await
                .map_err(|e| RunError::Internal(e.into()))?
        };
        provenance::statement(&provenance::Facts {
            run_id: &run_id,
            task: &name,
            task_data: &task_data,
            plugin: &report.plugins[0],
            effective: &effective,
            inputs: &artifacts.0,
            outputs: &artifacts.1,
            opened: &opened,
            packages: &packages,
            started_on: &started_on,
            finished_on: &rfc3339_now(),
        })
    };
    if let Some(dir) = &record {
        let written = serde_json::to_vec(&statement)
            .map_err(anyhow::Error::from)
            .and_then(|json| write_run_file(dir, provenance::FILE, &json));
        if let Err(e) = written {
            upload_errors.push(format!("writing the provenance: {e:#}"));
        }
    }
    report.provenance = Some(statement);
    report.duration_ms = elapsed_ms(started);
    let mut related: Vec<ArtifactId> = inputs
        .iter()
        .copied()
        .chain(report.artifacts.iter().copied())
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
        Ok(Err(e)) => upload_errors.push(format!("storing the run log: {e:#}")),
        Err(e) => upload_errors.push(format!("storing the run log: {e}")),
    }
    if let Some(dir) = &record
        && let Err(e) = write_run_file(dir, crate::runlog::JSONL, log.jsonl().as_bytes())
    {
        upload_errors.push(format!("writing the run log: {e:#}"));
    }
    if !upload_errors.is_empty() {
        let why = upload_errors.join("; ");
        log.error("upload-artifacts", &why);
        report.status = Status::Error;
        report.failed_stage = Some("upload-artifacts".into());
        report.error = Some(match report.error.take() {
            Some(earlier) => format!("{earlier}; then {why}"),
            None => why,
        });
    }

    // The store's record of the run, for `runs.submit` to find.
    let run_record = store::RunRecord {
        id: run_id.clone(),
        task: name.clone(),
        params,
        parent: options.parent.clone(),
        status: report.status.to_string(),
        finished_at: rfc3339_now(),
    };
    let recorded = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.record_run(&run_record)).await
    };
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => log.warn("run", &format!("the run is not recorded in the store: {e}")),
        Err(e) => log.warn("run", &format!("the run is not recorded in the store: {e}")),
    }

    // Notifications of a failed run; the run's result stays as it is.
    if crate::notify::wanted(report.status) && !notifications.on_failure.is_empty() {
        let (channels, snapshot) = (options.notification_channels.clone(), report.clone());
        let sent = tokio::task::spawn_blocking(move || {
            crate::notify::send(&notifications, &channels, &snapshot)
        })
        .await
        .map_err(|e| RunError::Internal(e.into()))?;
        for s in &sent {
            match &s.error {
                None => log.info(
                    "notify",
                    &format!(
                        "{}: mailed '{}' to {}",
                        s.channel,
                        s.subject,
                        s.to.join(", ")
                    ),
                ),
                Some(e) => log.warn("notify", &format!("{}: not sent: {e}", s.channel)),
            }
        }
        report.notifications = sent;
    }

    // Stage 5: cleanup (the workspace goes with its last holder).
    log.info("stage", "cleanup");
    if workspace.kept() {
        log.info(
            "cleanup",
            &format!("workspace kept at {}", workspace.root().display()),
        );
    }
    drop(workspace);
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
    let manifest = plugin.info.manifest.clone();
    let identity = crate::policy::Identity::trusted(&manifest.name, &plugin.sha256);
    let granter = Granter::nothing(identity);
    let limits = crate::runtime::SandboxLimits {
        memory: 64 << 20,
        deadline: Instant::now() + Duration::from_secs(10),
        stdio_limit: 64 << 10,
        handles: 100,
    };
    let workspace = Arc::new(Workspace::create(
        &options.workspace_parent,
        &run_id,
        false,
    )?);
    let context = crate::capabilities::RunContext::new(
        &run_id,
        manifest,
        granter,
        workspace,
        store,
        limits.deadline,
    );
    let mut instance = runtime.instantiate(plugin, context, limits).await?;
    instance.describe().await.map_err(|e| {
        anyhow::anyhow!(
            "{}",
            crate::runtime::describe_trap(&e, &limits, Duration::from_secs(10))
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

/// Writes `bytes` as `DIR/NAME`, a file of a run's record (written once,
/// when the run ends).
fn write_run_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
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
            "plugins": report.plugins,
            "provenance": report.provenance,
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
