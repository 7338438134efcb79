//! Planning a formula (every check that needs no plugin code to run) and
//! running its actions in one shared workspace.

use super::FormulaError;
use super::params;
use super::parse::{self, Action, Formula};
use super::template::{TemplateError, Vars};
use crate::capabilities::RunContext;
use crate::policy::{Denied, Effective};
use crate::progress::PluginProgress;
use crate::report::{self, CheckResult, Outcome, Report, Status};
use crate::run::{
    DEFAULT_MEMORY, DEFAULT_OUTPUT_LIMIT, DEFAULT_TIMEOUT, RunError, RunOptions, STDIO_LIMIT,
};
use crate::runlog::RunLog;
use crate::runtime::bindings::directive::{Context, Param};
use crate::runtime::{Described, Plugin, Runtime, SandboxLimits};
use crate::store::ArtifactStore;
use crate::workspace::Workspace;
use marked_yaml::Node;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What `runtask -i ITEM -t TYPE -a ARCH -j JOBID --uuid UUID` gave.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub item: String,
    pub item_type: String,
    pub arch: String,
    pub jobid: String,
    pub uuid: String,
    /// `<artifactsdir>`: the run's artifacts go to `<artifactsdir>/<uuid>/`.
    pub artifacts_root: PathBuf,
    /// The task's directory (the formula's): its files are copied into the
    /// workspace before the first action, as libtaskotron ran a task
    /// beside its files.
    pub task_dir: Option<PathBuf>,
}

/// Most bytes and files copied from a task's directory.
const TASK_DIR_BYTES: u64 = 64 << 20;
const TASK_DIR_FILES: usize = 2000;

/// Workspace directory of `${artifactsdir}`.
const ARTIFACTS: &str = "artifacts";

/// A plugin an action calls, loaded, with its grants.
struct Loaded {
    plugin: Plugin,
    grants: Effective,
    /// A directive's params; `None` for a task plugin.
    params: Option<Vec<Param>>,
}

/// A formula that passed every check, with its plugins loaded.
pub struct PlannedFormula {
    pub formula: Formula,
    plugins: BTreeMap<String, Loaded>,
    vars: Vars,
    context: Context,
    invocation: Invocation,
    /// Grants missing for the plugins: the run is refused.
    refused: Vec<Denied>,
}

/// Finds a plugin by name with its grants; `Ok(None)`: no such plugin.
pub type Loader<'a> = dyn FnMut(&str) -> Result<Option<(Plugin, Effective)>, String> + 'a;

/// Checks `formula` for this invocation: input args, environment
/// packages, directive names, variables, the params that need no
/// variables, and every plugin's grants.
pub async fn plan(
    runtime: &Runtime,
    store: Arc<dyn ArtifactStore>,
    formula: Formula,
    invocation: Invocation,
    load: &mut Loader<'_>,
    options: &RunOptions,
) -> Result<PlannedFormula, FormulaError> {
    let file = formula.file.clone();
    let checkname = formula.name.clone();
    let mut vars = Vars::new();
    for (k, v) in [
        ("workdir", "."),
        ("artifactsdir", ARTIFACTS),
        ("checkname", checkname.as_str()),
        ("item", invocation.item.as_str()),
        ("type", invocation.item_type.as_str()),
        ("arch", invocation.arch.as_str()),
        ("jobid", invocation.jobid.as_str()),
        ("uuid", invocation.uuid.as_str()),
        ("namespace", formula.namespace.as_deref().unwrap_or("")),
    ] {
        vars.insert(k.to_string(), json!(v));
    }
    // `-t koji_build -i NVR` makes `${koji_build}` the NVR.
    if super::template::references(&format!("${{{}}}", invocation.item_type)).is_ok()
        && !invocation.item_type.contains('.')
    {
        vars.insert(invocation.item_type.clone(), json!(invocation.item));
    }

    for (arg, at) in &formula.args {
        if !vars.contains_key(arg) {
            return Err(FormulaError::at(
                &file,
                *at,
                format!(
                    "input.args needs '{arg}', which this run does not provide: give it with \
                     `-t {arg} -i ITEM` (runtask provides the item's type, arch, jobid and uuid)"
                ),
            ));
        }
    }
    check_environment(&formula).await?;

    // Load every plugin once; a directive describes its params.
    let mut plugins = BTreeMap::new();
    for action in &formula.actions {
        if plugins.contains_key(&action.directive) {
            continue;
        }
        let Some((plugin, grants)) = load(&action.directive).map_err(|e| {
            formula.error(
                action.directive_at,
                action,
                format!("plugin '{}': {e}", action.directive),
            )
        })?
        else {
            return Err(formula.error(
                action.directive_at,
                action,
                format!(
                    "unknown directive '{}': no directive or task plugin has that name \
                     (`runtask plugin list` shows them)",
                    action.directive
                ),
            ));
        };
        let params = match plugin.info.manifest.kind {
            crate::manifest::Kind::Task => None,
            crate::manifest::Kind::Directive => {
                match crate::run::describe(runtime, store.clone(), &plugin, options)
                    .await
                    .map_err(|e| formula.error(action.directive_at, action, format!("{e:#}")))?
                {
                    Described::Directive(info) => Some(info.params),
                    Described::Task(_) => None,
                }
            }
        };
        plugins.insert(
            action.directive.clone(),
            Loaded {
                plugin,
                grants,
                params,
            },
        );
    }

    // Variables: runtime ones, then each action's export for later ones.
    let mut defined: HashSet<String> = vars.keys().cloned().collect();
    for action in &formula.actions {
        for (at, name, text) in parse::references(&action.params) {
            match name {
                Ok(name) if defined.contains(&name) => {}
                Ok(name) => {
                    let e = TemplateError::Undefined { offset: 0, name };
                    return Err(formula.error(at, action, format!("{e} in '{text}'")));
                }
                Err(e) => return Err(formula.error(at, action, format!("{e} in '{text}'"))),
            }
        }
        if let Some(p) = &plugins[&action.directive].params {
            static_params(&formula, action, p)?;
        }
        if let Some(export) = &action.export {
            defined.insert(export.clone());
        }
    }

    let refused = plugins
        .values()
        .filter_map(|l| l.grants.preflight().err())
        .flatten()
        .collect();
    let context = Context {
        workdir: ".".into(),
        artifactsdir: ARTIFACTS.into(),
        checkname,
        namespace: formula.namespace.clone().unwrap_or_default(),
        item: invocation.item.clone(),
        item_type: invocation.item_type.clone(),
        arch: invocation.arch.clone(),
        jobid: invocation.jobid.clone(),
        uuid: invocation.uuid.clone(),
    };
    Ok(PlannedFormula {
        formula,
        plugins,
        vars,
        context,
        invocation,
        refused,
    })
}

/// The params node as a mapping: a directive whose value is not a
/// mapping (`shell: [...]`) takes it as its first param.
fn as_mapping(params: &[Param], node: &Node) -> Option<(String, Node)> {
    match node {
        Node::Mapping(_) => None,
        Node::Scalar(s) if s.as_str().is_empty() && s.may_coerce() => None,
        other => params.first().map(|p| (p.name.clone(), other.clone())),
    }
}

/// Up-front checks of a directive's params: unknown and missing keys, and
/// the type of every value that holds no variable.
fn static_params(formula: &Formula, action: &Action, params: &[Param]) -> Result<(), FormulaError> {
    let at = action.directive_at;
    if let Some((first, node)) = as_mapping(params, &action.params) {
        if let Some(p) = params.iter().find(|p| p.name == first)
            && parse::references(&node).is_empty()
            && let Ok(value) = parse::fill(&node, &Vars::new())
        {
            params::check_value(p, value).map_err(|e| formula.error(at, action, e))?;
        }
        let rest: Vec<Param> = params.iter().skip(1).cloned().collect();
        return match params::missing(&rest, |_| false) {
            Some(e) => Err(formula.error(at, action, e)),
            None => Ok(()),
        };
    }
    let Node::Mapping(map) = &action.params else {
        return match params::missing(params, |_| false) {
            Some(e) => Err(formula.error(at, action, e)),
            None => Ok(()),
        };
    };
    let literal_keys: Vec<&str> = map
        .keys()
        .map(|k| k.as_str())
        .filter(|k| !k.contains('$'))
        .collect();
    for key in map.keys().filter(|k| !k.as_str().contains('$')) {
        if let Some(e) = params::unknown(params, std::iter::once(key.as_str())) {
            return Err(formula.error(parse::pos(key.span()), action, e));
        }
    }
    if literal_keys.len() == map.len()
        && let Some(e) = params::missing(params, |k| literal_keys.contains(&k))
    {
        return Err(formula.error(at, action, e));
    }
    for (key, value) in map.iter() {
        let Some(p) = params.iter().find(|p| p.name == key.as_str()) else {
            continue;
        };
        if !parse::references(value).is_empty() {
            continue; // checked once substituted
        }
        if let Ok(v) = parse::fill(value, &Vars::new()) {
            params::check_value(p, v)
                .map_err(|e| formula.error(parse::pos(value.span()), action, e))?;
        }
    }
    Ok(())
}

/// `environment`: Debian packages must be installed (dpkg), RPM ones
/// must be in the RPM database (`rpm -q`).
async fn check_environment(formula: &Formula) -> Result<(), FormulaError> {
    let mut problems = Vec::new();
    if !formula.deb.is_empty() {
        match crate::deps::missing(&formula.deb).await {
            Ok(missing) if missing.is_empty() => {}
            Ok(missing) => problems.push(format!(
                "the Debian packages {} are not installed (apt-get install {})",
                missing.join(", "),
                missing.join(" ")
            )),
            Err(e) => problems.push(format!("checking the Debian packages: {e}")),
        }
    }
    if !formula.rpm.is_empty() {
        let mut missing = Vec::new();
        for package in &formula.rpm {
            let found = tokio::process::Command::new("rpm")
                .args(["-q", "--whatprovides", "--"])
                .arg(package)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .await;
            match found {
                Ok(status) if status.success() => {}
                Ok(_) => missing.push(package.clone()),
                Err(_) => {
                    problems.push(format!(
                        "the formula needs the RPM packages {} and this host has no `rpm` \
                         to check them (run it on Fedora, or list Debian packages under environment.deb)",
                        formula.rpm.join(", ")
                    ));
                    missing.clear();
                    break;
                }
            }
        }
        if !missing.is_empty() {
            problems.push(format!(
                "the RPM packages {} are not installed (dnf install {})",
                missing.join(", "),
                missing.join(" ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(FormulaError::Run(format!(
            "{}: environment: {}",
            formula.file,
            problems.join("; ")
        )))
    }
}

/// How one action ended.
enum Ended {
    Ok,
    /// Its params, once substituted, are wrong (the message is complete).
    Invalid(String),
    Failed(String),
    Crashed(String),
}

/// Runs a planned formula. Its report covers every action: their results,
/// the artifacts they created, the worst exit code `exitcode` asked for.
pub async fn run(
    runtime: &Runtime,
    store: Arc<dyn ArtifactStore>,
    planned: PlannedFormula,
    options: &RunOptions,
) -> Result<Report, RunError> {
    let started = Instant::now();
    let PlannedFormula {
        formula,
        plugins,
        mut vars,
        context,
        invocation,
        refused,
    } = planned;
    let run_id = crate::run::new_run_id();
    let log = RunLog::new();
    let mut report = Report {
        run_id: run_id.clone(),
        task: formula.name.clone(),
        status: Status::Success,
        results: Vec::new(),
        artifacts: Vec::new(),
        failed_stage: None,
        error: None,
        started_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        duration_ms: 0,
        log_artifact: None,
        results_file: None,
        exit_code: None,
    };
    log.info(
        "formula",
        &format!(
            "run {run_id}: formula {} ({}) for {} {} ({}), uuid {}",
            formula.name,
            formula.file,
            invocation.item_type,
            invocation.item,
            invocation.arch,
            invocation.uuid
        ),
    );
    if !refused.is_empty() {
        let text = refused
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        log.error("policy", &text);
        report.status = Status::Refused;
        report.error = Some(text);
        report.duration_ms = started.elapsed().as_millis() as u64;
        return Ok(report);
    }

    let workspace = Arc::new(
        Workspace::create(&options.workspace_parent, &run_id, options.keep_workspace).map_err(
            |e| {
                RunError::Internal(anyhow::anyhow!(
                    "creating a workspace in {}: {e}",
                    options.workspace_parent.display()
                ))
            },
        )?,
    );
    if let Some(dir) = &invocation.task_dir {
        copy_task_dir(dir, &workspace, &log).map_err(RunError::Invalid)?;
    }
    workspace
        .create_dir_all(ARTIFACTS)
        .map_err(|e| RunError::Internal(anyhow::anyhow!("creating {ARTIFACTS}/: {e}")))?;

    let mut exit_codes = Vec::new();
    for (index, action) in formula.actions.iter().enumerate() {
        let loaded = &plugins[&action.directive];
        log.info(
            "formula",
            &format!(
                "action {}/{}: {} ({})",
                index + 1,
                formula.actions.len(),
                action.name,
                action.directive
            ),
        );
        let ended = match fill_params(&formula, action, loaded, &vars) {
            Err(e) => Ended::Invalid(e.to_string()),
            Ok(params) => match &loaded.params {
                Some(_) => {
                    let run = ActionRun {
                        runtime,
                        store: &store,
                        loaded,
                        workspace: &workspace,
                        log: &log,
                        options,
                        run_id: &run_id,
                    };
                    match run.directive(&params, &context).await {
                        Ok((output, results, created)) => {
                            // `resultsdb` emits what a task action already
                            // reported: keep one of each.
                            for r in results {
                                if !report.results.contains(&r) {
                                    report.results.push(r);
                                }
                            }
                            report.artifacts.extend(created);
                            if let Some(code) = output.1 {
                                exit_codes.push(code);
                            }
                            if let Some(export) = &action.export {
                                vars.insert(export.clone(), output.0);
                            }
                            Ended::Ok
                        }
                        Err(ended) => ended,
                    }
                }
                None => {
                    let task = crate::run::run_task_in(
                        runtime,
                        store.clone(),
                        &loaded.plugin,
                        params,
                        loaded.grants.clone(),
                        options,
                        Some(workspace.clone()),
                    )
                    .await;
                    match task {
                        Err(RunError::Invalid(m)) => Ended::Invalid(
                            formula.error(action.directive_at, action, m).to_string(),
                        ),
                        Err(RunError::Internal(e)) => return Err(RunError::Internal(e)),
                        Ok(task) => {
                            log.info(
                                "formula",
                                &format!(
                                    "task {} ended: {} (run {})",
                                    task.task, task.status, task.run_id
                                ),
                            );
                            report.results.extend(task.results.iter().cloned());
                            report.artifacts.extend(task.artifacts.iter().copied());
                            if let Some(export) = &action.export {
                                vars.insert(export.clone(), task_export(&task));
                            }
                            match task.status {
                                Status::Success | Status::Failure | Status::Skipped => Ended::Ok,
                                Status::Crashed => Ended::Crashed(task.error.unwrap_or_default()),
                                _ => Ended::Failed(
                                    task.error
                                        .unwrap_or_else(|| format!("task {}", task.status)),
                                ),
                            }
                        }
                    }
                }
            },
        };
        match ended {
            Ended::Ok => {}
            Ended::Failed(why) | Ended::Crashed(why) if why.is_empty() => {
                report.status = Status::Error;
                report.failed_stage = Some(action.name.clone());
                break;
            }
            Ended::Invalid(why) => {
                log.error("formula", &why);
                report.status = Status::Error;
                report.failed_stage = Some(action.name.clone());
                report.error = Some(why);
                break;
            }
            Ended::Failed(why) => {
                log.error(
                    "formula",
                    &format!("action '{}' failed: {why}", action.name),
                );
                report.status = Status::Error;
                report.failed_stage = Some(action.name.clone());
                report.error = Some(format!("action '{}': {why}", action.name));
                break;
            }
            Ended::Crashed(why) => {
                log.error(
                    "formula",
                    &format!("action '{}' crashed: {why}", action.name),
                );
                report.status = Status::Crashed;
                report.failed_stage = Some(action.name.clone());
                report.error = Some(format!("action '{}': {why}", action.name));
                break;
            }
        }
    }
    report.exit_code = exit_codes.into_iter().max();
    if report.status != Status::Success && report.results.is_empty() {
        report.results.push(CheckResult {
            item: invocation.item.clone(),
            item_type: invocation.item_type.clone(),
            outcome: if report.status == Status::Crashed {
                Outcome::Crashed
            } else {
                Outcome::Aborted
            },
            checkname: formula.name.clone(),
            note: report.error.clone(),
            artifact: None,
            keyvals: BTreeMap::new(),
        });
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    log.info("formula", &format!("formula ended: {}", report.status));

    let dir = invocation.artifacts_root.join(&invocation.uuid);
    match keep_artifacts(&workspace, &dir, &report, &log) {
        Ok(path) => report.results_file = Some(path),
        Err(e) => tracing::error!("keeping the artifacts in {}: {e:#}", dir.display()),
    }
    if workspace.kept() {
        log.info(
            "cleanup",
            &format!("workspace kept at {}", workspace.root().display()),
        );
    }
    Ok(report)
}

/// What a task action exports: its status, artifacts, worst outcome and
/// results as ResultYAML text (what `resultsdb` and `exitcode` read).
fn task_export(task: &Report) -> Value {
    json!({
        "status": task.status.as_str(),
        "run_id": task.run_id,
        "artifacts": task.artifacts,
        "outcome": task.worst_outcome().map(|o| o.as_str()),
        "results": report::resultyaml::to_string(&task.results).unwrap_or_default(),
    })
}

/// Substitutes and (for a directive) checks an action's params.
fn fill_params(
    formula: &Formula,
    action: &Action,
    loaded: &Loaded,
    vars: &Vars,
) -> Result<Value, FormulaError> {
    let (node, first) = match loaded
        .params
        .as_deref()
        .and_then(|p| as_mapping(p, &action.params))
    {
        Some((first, node)) => (node, Some(first)),
        None => (action.params.clone(), None),
    };
    let value = parse::fill(&node, vars)
        .map_err(|u| formula.error(u.at, action, format!("{} in '{}'", u.error, u.text)))?;
    let value = match first {
        Some(first) => json!({ first: value }),
        None if value.is_null() => json!({}),
        None => value,
    };
    match &loaded.params {
        Some(params) => params::check(params, value).map_err(|(param, e)| {
            // Point at the param's value when the formula wrote one.
            let at = param
                .and_then(|p| match &action.params {
                    Node::Mapping(map) => map.get_node(&p).map(|n| parse::pos(n.span())),
                    _ => None,
                })
                .unwrap_or(action.directive_at);
            formula.error(at, action, e)
        }),
        None if value.is_object() => Ok(value),
        None => Err(formula.error(
            action.directive_at,
            action,
            "a task's params are its task_data: a mapping of keys to values",
        )),
    }
}

/// One directive action's run.
struct ActionRun<'a> {
    runtime: &'a Runtime,
    store: &'a Arc<dyn ArtifactStore>,
    loaded: &'a Loaded,
    workspace: &'a Arc<Workspace>,
    log: &'a RunLog,
    options: &'a RunOptions,
    run_id: &'a str,
}

/// (exported value, requested exit code), results, created artifacts.
type DirectiveDone = ((Value, Option<u8>), Vec<CheckResult>, Vec<u64>);

impl ActionRun<'_> {
    async fn directive(&self, params: &Value, context: &Context) -> Result<DirectiveDone, Ended> {
        let limits = self.loaded.grants.limits().clone();
        let timeout = limits.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let sandbox = SandboxLimits {
            memory: limits.memory.unwrap_or(DEFAULT_MEMORY),
            deadline: Instant::now() + timeout,
            stdio_limit: STDIO_LIMIT,
        };
        let manifest = self.loaded.plugin.info.manifest.clone();
        let run = RunContext {
            log: self.log.clone(),
            progress: self.options.progress.clone(),
            plugin_progress: PluginProgress::new(self.options.progress.clone()),
            output_limit: limits.output_limit.unwrap_or(DEFAULT_OUTPUT_LIMIT),
            kill_grace: self.options.kill_grace,
            env_cache: self.options.env_cache.clone(),
            ..RunContext::new(
                self.run_id.to_string(),
                manifest,
                self.loaded.grants.clone(),
                self.workspace.clone(),
                self.store.clone(),
                sandbox.deadline,
            )
        };
        let mut instance = self
            .runtime
            .instantiate(&self.loaded.plugin, run, sandbox)
            .await
            .map_err(|e| Ended::Failed(format!("{e:#}")))?;
        let backstop = timeout + Duration::from_secs(30);
        let called = tokio::time::timeout(
            backstop,
            instance.run_directive(&params.to_string(), context),
        )
        .await;
        let (_, stderr) = instance.stdio();
        let state = instance.into_state();
        let output = match called {
            Err(_) => {
                return Err(Ended::Crashed(format!(
                    "ran past its deadline ({}s)",
                    timeout.as_secs()
                )));
            }
            Ok(Err(trap)) => {
                let mut why = crate::runtime::describe_trap(&trap, &sandbox, timeout);
                let tail = String::from_utf8_lossy(&stderr);
                if !tail.trim().is_empty() {
                    why.push_str(&format!(
                        "; its stderr ends with:\n{}",
                        tail_lines(&tail, 20)
                    ));
                }
                return Err(Ended::Crashed(why));
            }
            Ok(Ok(Err(e))) => return Err(Ended::Failed(plugin_error(&e))),
            Ok(Ok(Ok(output))) => output,
        };
        let value: Value = serde_json::from_str(&output.value).map_err(|e| {
            Ended::Failed(format!(
                "the directive returned a value that is not JSON: {e}"
            ))
        })?;
        if let Some(code) = output.exit_code
            && code != 0
            && code != 100
        {
            return Err(Ended::Failed(format!(
                "the directive asked for exit code {code}; a formula's exit code is 0 or 100"
            )));
        }
        Ok((
            (value, output.exit_code),
            state.run.results.clone(),
            state.run.created.clone(),
        ))
    }
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn plugin_error(e: &crate::runtime::bindings::Error) -> String {
    use crate::runtime::bindings::Error;
    match e {
        Error::AccessDenied(m) => format!("access denied: {m}"),
        Error::Invalid(m) => m.clone(),
        Error::NotFound(m) => format!("not found: {m}"),
        Error::Failed(m) => m.clone(),
        Error::TimedOut => "timed out".into(),
    }
}

/// Copies the task's files (regular files and directories; not hidden
/// ones, symlinks or a top-level `artifacts/`) into the workspace root.
fn copy_task_dir(dir: &Path, workspace: &Workspace, log: &RunLog) -> Result<(), String> {
    struct Budget<'a> {
        root: &'a Path,
        bytes: u64,
        files: usize,
    }
    fn walk(
        from: &Path,
        rel: &str,
        ws: &Workspace,
        budget: &mut Budget<'_>,
        log: &RunLog,
    ) -> Result<(), String> {
        let failed =
            |e: std::io::Error| format!("copying the task's files from {}: {e}", from.display());
        let mut entries: Vec<_> = std::fs::read_dir(from)
            .map_err(failed)?
            .collect::<Result<_, _>>()
            .map_err(failed)?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|n| !n.starts_with('.')) else {
                continue;
            };
            if rel.is_empty() && name == ARTIFACTS {
                continue;
            }
            let target = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            let kind = entry.file_type().map_err(failed)?;
            if kind.is_dir() {
                ws.create_dir_all(&target).map_err(failed)?;
                walk(&entry.path(), &target, ws, budget, log)?;
            } else if kind.is_file() {
                let size = entry.metadata().map_err(failed)?.len();
                budget.files += 1;
                budget.bytes += size;
                if budget.files > TASK_DIR_FILES || budget.bytes > TASK_DIR_BYTES {
                    return Err(format!(
                        "the task's directory (the formula's, {}) holds more than {TASK_DIR_FILES} \
                         files or {} MiB, which runtask copies into the workspace; keep a formula \
                         in a directory of its own with the files it needs",
                        budget.root.display(),
                        TASK_DIR_BYTES >> 20
                    ));
                }
                let mut src = std::fs::File::open(entry.path()).map_err(failed)?;
                let mut dst = ws.create_file(&target).map_err(failed)?;
                std::io::copy(&mut src, &mut dst).map_err(failed)?;
            } else {
                log.warn(
                    "formula",
                    &format!("{target}: not a regular file or directory; not copied"),
                );
            }
        }
        Ok(())
    }
    let mut budget = Budget {
        root: dir,
        bytes: 0,
        files: 0,
    };
    walk(dir, "", workspace, &mut budget, log)?;
    log.info(
        "formula",
        &format!(
            "copied {} files ({} bytes) of the task's directory {}",
            budget.files,
            budget.bytes,
            dir.display()
        ),
    );
    Ok(())
}

/// Copies `artifacts/` out of the workspace into `dir` (regular files and
/// directories only; symlinks are skipped), then writes `results.yaml` and
/// `runtask.log` there. Returns the results file.
fn keep_artifacts(
    workspace: &Workspace,
    dir: &Path,
    report: &Report,
    log: &RunLog,
) -> anyhow::Result<PathBuf> {
    use cap_std::fs::Dir;
    std::fs::create_dir_all(dir)?;
    fn copy(from: &Dir, to: &Path, log: &RunLog, shown: &str) -> anyhow::Result<()> {
        for entry in from.entries()? {
            let entry = entry?;
            let name = entry.file_name();
            let kind = entry.file_type()?;
            let shown = format!("{shown}/{}", name.to_string_lossy());
            let target = to.join(&name);
            if kind.is_dir() {
                std::fs::create_dir_all(&target)?;
                copy(&entry.open_dir()?, &target, log, &shown)?;
            } else if kind.is_file() {
                let mut src = entry.open()?.into_std();
                let mut dst = std::fs::File::create(&target)?;
                std::io::copy(&mut src, &mut dst)?;
            } else {
                log.warn(
                    "artifacts",
                    &format!("{shown}: not a regular file or directory; not kept"),
                );
            }
        }
        Ok(())
    }
    copy(&workspace.open_dir(ARTIFACTS)?, dir, log, ARTIFACTS)?;
    let results = dir.join("results.yaml");
    std::fs::write(&results, report::resultyaml::to_string(&report.results)?)?;
    std::fs::write(dir.join("runtask.log"), log.contents())?;
    Ok(results)
}
