//! Planning a formula (every check that needs no plugin code to run) and
//! running its actions in one shared workspace.

use super::params;
use super::parse::{self, Action, Formula};
use super::template::{TemplateError, Vars};
use super::{FormulaError, Pos};
use crate::capabilities::bindings::directive::{Context, Param};
use crate::policy::{Denied, Permit};
use crate::report::{self, CheckResult, Outcome, Report, Status};
use crate::run::instance::{Sandbox, Setup, Stopped};
use crate::run::{self, RunError, RunOptions};
use crate::runlog::RunLog;
use crate::runtime::{Described, Plugin, Runtime};
use crate::store::ArtifactStore;
use crate::workspace::Workspace;
use marked_yaml::Node;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

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
    permit: Permit,
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

/// Finds a plugin by name with its permit; `Ok(None)`: no such plugin.
pub type Loader<'a> = dyn FnMut(&str) -> Result<Option<(Plugin, Permit)>, LoadError> + Send + 'a;

/// Why a formula's plugin cannot be used.
#[derive(Debug)]
pub enum LoadError {
    /// It is broken or unreadable.
    Broken(String),
    /// The policy does not trust it.
    Untrusted(crate::policy::Untrusted),
}

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
    if super::template::is_name(&invocation.item_type) {
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
        let Some((plugin, permit)) = load(&action.directive).map_err(|e| match e {
            LoadError::Broken(e) => formula.error(
                action.directive_at,
                action,
                format!("plugin '{}': {e}", action.directive),
            ),
            LoadError::Untrusted(e) => {
                FormulaError::Untrusted(format!("{}: action '{}': {e}", formula.file, action.name))
            }
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
                permit,
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
        .filter_map(|l| {
            let opens = crate::run::backends_opened(None, options);
            l.permit.effective.preflight(&opens).err()
        })
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
    let fail = |at, e| Err(formula.error(at, action, e));
    // What the formula wrote: (param, where its key is, where its value
    // is, value). A whole action value is placed at the directive's name.
    let at = action.directive_at;
    let written: Vec<(String, Pos, Pos, Node)> =
        match (as_mapping(params, &action.params), &action.params) {
            (Some((first, node)), _) => vec![(first, at, at, node)],
            (None, Node::Mapping(map)) => map
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        parse::pos(k.span()),
                        parse::pos(v.span()),
                        v.clone(),
                    )
                })
                .collect(),
            (None, _) => Vec::new(), // empty: no params
        };
    // A key made by a variable may be any param: check keys once all are known.
    let literal = |key: &str| !key.contains('$');
    for (key, key_at, ..) in written.iter().filter(|(k, ..)| literal(k)) {
        if let Some(e) = params::unknown(params, std::iter::once(key.as_str())) {
            return fail(*key_at, e);
        }
    }
    if written.iter().all(|(k, ..)| literal(k))
        && let Some(e) = params::missing(params, |k| written.iter().any(|(w, ..)| w == k))
    {
        return fail(at, e);
    }
    for (key, _, value_at, value) in &written {
        if !parse::references(value).is_empty() {
            continue; // checked once substituted
        }
        if let Ok(v) = parse::fill(value, &Vars::new())
            && let Some(checked) = params::check_key(params, key, v)
        {
            checked.map_err(|e| formula.error(*value_at, action, e))?;
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

/// How an action that did not succeed ended.
enum Ended {
    /// Its params, once substituted, are wrong (the message is complete).
    Invalid(String),
    Failed(String),
    Crashed(String),
}

/// Boots the `--libvirt` machine of a formula from image artifact `id`,
/// with the largest `vm-memory` and `vm-cpus` its plugins are given. At
/// least one of its plugins must be granted the qemu backend.
async fn boot_machine(
    store: &Arc<dyn ArtifactStore>,
    id: crate::store::ArtifactId,
    plugins: &BTreeMap<String, Loaded>,
    options: &RunOptions,
    workspace: &Workspace,
    log: &RunLog,
) -> Result<crate::backends::qemu::Machine, String> {
    use crate::backends::qemu;
    let granted: Vec<&Loaded> = plugins
        .values()
        .filter(|l| {
            l.permit
                .effective
                .granted_backends()
                .iter()
                .any(|b| b == "qemu")
        })
        .collect();
    if granted.is_empty() {
        let mut names: Vec<&str> = plugins.values().map(|l| l.plugin.name()).collect();
        names.dedup();
        return Err(format!(
            "no action of this formula may use the qemu backend, so no machine is booted; \
             grant it in the policy, e.g.\n  [plugins.{}]\n  backends = [\"qemu\"]",
            names.first().copied().unwrap_or("shell")
        ));
    }
    let limit = |f: fn(&crate::policy::Limits) -> Option<u64>| {
        granted
            .iter()
            .filter_map(|l| f(l.permit.effective.limits()))
            .max()
    };
    let shape = qemu::Shape {
        memory: limit(|l| l.vm_memory).unwrap_or(qemu::DEFAULT_MEMORY),
        cpus: limit(|l| l.vm_cpus)
            .map_or(qemu::DEFAULT_CPUS, |n| u32::try_from(n).unwrap_or(u32::MAX)),
    };
    let artifact = store.get(id).map_err(|e| format!("--vm-image {id}: {e}"))?;
    if artifact.category != "debian:system-image" {
        return Err(format!(
            "artifact {id} is a {}, not a debian:system-image",
            artifact.category
        ));
    }
    let named = artifact.data.get("filename").and_then(|f| f.as_str());
    let file = artifact
        .files
        .iter()
        .find(|f| Some(f.name.as_str()) == named)
        .or_else(|| artifact.files.first())
        .ok_or_else(|| format!("artifact {id} has no file"))?;
    let image = crate::backends::Image {
        id,
        category: artifact.category.clone(),
        file_name: file.name.clone(),
        path: store.file_path(id, &file.name).map_err(|e| e.to_string())?,
        sha256: file.sha256.clone(),
        data: artifact.data.clone(),
    };
    qemu::boot(qemu::BootRequest {
        image: &image,
        dir: workspace.root().join(".taskhost/machine"),
        shape,
        keep: options.keep_machines,
        cache_dir: &options.env_cache,
        deadline: Instant::now() + MACHINE_BOOT_LIMIT,
        log,
        progress: &options.progress,
    })
    .await
    .map_err(|e| e.to_string())
}

/// The longest a `--libvirt` machine may take to boot (TCG is slow).
const MACHINE_BOOT_LIMIT: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// Runs a planned formula. Its report covers every action: their results,
/// the artifacts they created, the worst exit code `exitcode` asked for.
pub async fn run(
    runtime: &Runtime,
    store: Arc<dyn ArtifactStore>,
    planned: PlannedFormula,
    options: &RunOptions,
) -> Result<Report, RunError> {
    let started = Instant::now();
    let started_on = run::rfc3339_now();
    let mut task_runs = Vec::new();
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
    let mut report = run::new_report(&run_id, &formula.name, Status::Success);
    report.plugins = plugins
        .values()
        .map(|l| run::plugin_ref(&l.plugin, &l.permit))
        .collect();
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
        return Ok(run::refused(report, &log, &refused, started, None));
    }

    let workspace = run::create_workspace(options, &run_id)?;
    if let Some(dir) = &invocation.task_dir {
        copy_task_dir(dir, &workspace, &log).map_err(RunError::Invalid)?;
    }
    workspace
        .create_dir_all(ARTIFACTS)
        .map_err(|e| RunError::Internal(anyhow::anyhow!("creating {ARTIFACTS}/: {e}")))?;

    // `--libvirt`: one machine serves every action, booted now.
    let with_machine;
    let mut machine_error = None;
    let options = match (options.vm_image, &options.machine) {
        (Some(id), None) => {
            match boot_machine(&store, id, &plugins, options, &workspace, &log).await {
                Ok(machine) => {
                    with_machine = RunOptions {
                        machine: Some(Arc::new(machine)),
                        ..options.clone()
                    };
                    &with_machine
                }
                Err(why) => {
                    machine_error = Some(why);
                    options
                }
            }
        }
        _ => options,
    };
    if let Some(why) = machine_error {
        let error = format!("--libvirt: {why}");
        log.error("formula", &error);
        report.status = Status::Error;
        report.failed_stage = Some("machine".into());
        report.error = Some(error);
    }

    let mut exit_codes = Vec::new();
    let actions = if report.status == Status::Success {
        &formula.actions[..]
    } else {
        &[]
    };
    for (index, action) in actions.iter().enumerate() {
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
        let run = ActionRun {
            runtime,
            store: &store,
            loaded,
            workspace: &workspace,
            log: &log,
            options,
            run_id: &run_id,
        };
        let done = match fill_params(&formula, action, loaded, &vars) {
            Err(e) => Err(Ended::Invalid(e.to_string())),
            Ok(params) if loaded.params.is_some() => run.directive(&params, &context).await,
            Ok(params) => run.task(params, &formula, action).await?,
        };
        let (status, error) = match done {
            Ok(done) => {
                // `resultsdb` emits what a task action already reported:
                // keep one of each.
                for r in done.results {
                    if !report.results.contains(&r) {
                        report.results.push(r);
                    }
                }
                report.artifacts.extend(done.created);
                report.quotas_exceeded.extend(done.quotas);
                exit_codes.extend(done.exit_code);
                task_runs.extend(done.run_id);
                if let Some(export) = &action.export {
                    vars.insert(export.clone(), done.value);
                }
                continue;
            }
            Err(Ended::Invalid(why)) => (Status::Error, why),
            Err(Ended::Failed(why)) => (Status::Error, format!("action '{}': {why}", action.name)),
            Err(Ended::Crashed(why)) => {
                (Status::Crashed, format!("action '{}': {why}", action.name))
            }
        };
        log.error("formula", &error);
        report.status = status;
        report.failed_stage = Some(action.name.clone());
        report.error = Some(error);
        break;
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
            note: report.error.as_deref().map(one_line_note),
            artifact: None,
            keyvals: BTreeMap::new(),
        });
    }
    report.duration_ms = run::elapsed_ms(started);
    // Directive actions audit into the formula's run; task actions into
    // their own runs (their ids are in the log and their exports).
    report.audit_file = run::audit_file(options, &run_id).filter(|p| p.is_file());
    let outputs = {
        let (store, ids) = (store.clone(), report.artifacts.clone());
        tokio::task::spawn_blocking(move || {
            ids.iter()
                .filter_map(|id| store.get(*id).ok())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default()
    };
    let statement =
        crate::run::provenance::formula_statement(&crate::run::provenance::FormulaFacts {
            run_id: &run_id,
            file: &formula.file,
            sha256: &formula.sha256,
            invocation: json!({
                "item": invocation.item,
                "type": invocation.item_type,
                "arch": invocation.arch,
                "jobid": invocation.jobid,
                "uuid": invocation.uuid,
            }),
            plugins: &report.plugins,
            outputs: &outputs,
            task_runs: &task_runs,
            started_on: &started_on,
            finished_on: &run::rfc3339_now(),
        });
    if let Some(dir) = options.runs_dir.as_ref().map(|d| d.join(&run_id)) {
        let written = std::fs::create_dir_all(&dir).and_then(|()| {
            std::fs::write(
                dir.join(crate::run::provenance::FILE),
                statement.to_string(),
            )
        });
        if let Err(e) = written {
            log.error("formula", &format!("writing the provenance: {e}"));
        }
    }
    report.provenance = Some(statement);
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

/// One action's run, in the formula's workspace.
struct ActionRun<'a> {
    runtime: &'a Runtime,
    store: &'a Arc<dyn ArtifactStore>,
    loaded: &'a Loaded,
    workspace: &'a Arc<Workspace>,
    log: &'a RunLog,
    options: &'a RunOptions,
    run_id: &'a str,
}

/// What a successful action gives the formula.
struct Done {
    /// What `export:` stores.
    value: Value,
    /// The exit code a directive asked for.
    exit_code: Option<u8>,
    results: Vec<CheckResult>,
    created: Vec<u64>,
    quotas: Vec<report::QuotaHit>,
    /// A task action's own run.
    run_id: Option<String>,
}

impl ActionRun<'_> {
    async fn directive(&self, params: &Value, context: &Context) -> Result<Done, Ended> {
        let mut sandbox = Sandbox::start(Setup {
            runtime: self.runtime,
            plugin: &self.loaded.plugin,
            permit: self.loaded.permit.clone(),
            run_id: self.run_id,
            workspace: self.workspace.clone(),
            store: self.store,
            options: self.options,
            log: self.log,
        })
        .await
        .map_err(|e| Ended::Failed(e.to_string()))?;
        let called = sandbox.directive(&params.to_string(), context).await;
        let mut harvest = sandbox.finish().harvest;
        if let Err(e) = harvest.granter.write_audit() {
            self.log
                .error("formula", &format!("writing the audit log: {e}"));
        }
        let output = match called {
            Err(Stopped::Crashed(why)) => return Err(Ended::Crashed(why)),
            Err(Stopped::Quota(why)) => return Err(Ended::Failed(why)),
            Ok(Err(e)) => return Err(Ended::Failed(run::plugin_error(&e))),
            Ok(Ok(output)) => output,
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
        Ok(Done {
            value,
            exit_code: output.exit_code,
            quotas: run::quota_hits(&harvest.granter),
            run_id: None,
            created: harvest.granter.created().to_vec(),
            results: harvest.results,
        })
    }

    /// A task plugin as an action, `params` its task_data. Only a host
    /// failure is an `Err` of the outer result.
    async fn task(
        &self,
        params: Value,
        formula: &Formula,
        action: &Action,
    ) -> Result<Result<Done, Ended>, RunError> {
        let task = run::run_task_in(
            self.runtime,
            self.store.clone(),
            &self.loaded.plugin,
            params,
            self.loaded.permit.clone(),
            self.options,
            Some(self.workspace.clone()),
        )
        .await;
        let task = match task {
            Ok(task) => task,
            Err(RunError::Invalid(m)) => {
                let e = formula.error(action.directive_at, action, m);
                return Ok(Err(Ended::Invalid(e.to_string())));
            }
            Err(internal) => return Err(internal),
        };
        self.log.info(
            "formula",
            &format!(
                "task {} ended: {} (run {})",
                task.task, task.status, task.run_id
            ),
        );
        Ok(match task.status {
            Status::Success | Status::Failure | Status::Skipped => Ok(Done {
                value: task_export(&task),
                exit_code: None,
                results: task.results,
                created: task.artifacts,
                quotas: task.quotas_exceeded,
                run_id: Some(task.run_id.clone()),
            }),
            Status::Crashed => Err(Ended::Crashed(task.error.unwrap_or_default())),
            other => Err(Ended::Failed(
                task.error.unwrap_or_else(|| format!("task {other}")),
            )),
        })
    }
}

/// Copies the task's files (regular files and directories; not hidden
/// ones, symlinks or a top-level `artifacts/`) into the workspace root.
fn copy_task_dir(dir: &Path, workspace: &Workspace, log: &RunLog) -> Result<(), String> {
    let files = task_files(dir, log)?;
    let mut bytes = 0;
    for (target, path) in &files {
        let failed = |e: std::io::Error| format!("copying the task's file {}: {e}", path.display());
        if let Some((parent, _)) = target.rsplit_once('/') {
            workspace.create_dir_all(parent).map_err(failed)?;
        }
        let mut src = std::fs::File::open(path).map_err(failed)?;
        let mut dst = workspace.create_file(target).map_err(failed)?;
        bytes += std::io::copy(&mut src, &mut dst).map_err(failed)?;
    }
    log.info(
        "formula",
        &format!(
            "copied {} files ({bytes} bytes) of the task's directory {}",
            files.len(),
            dir.display()
        ),
    );
    Ok(())
}

/// The files of a task's directory (the formula's), as libtaskotron ran
/// a task beside them: regular files under `dir`, by their `/`-separated
/// relative names, sorted; no dotfiles, no top-level `artifacts/`, at
/// most [`TASK_DIR_FILES`] files and [`TASK_DIR_BYTES`] bytes. Anything
/// else (a symlink, a device) is left out, with a warning in `log`.
pub fn task_files(dir: &Path, log: &RunLog) -> Result<Vec<(String, PathBuf)>, String> {
    fn walk(
        from: &Path,
        rel: &str,
        out: &mut Vec<(String, PathBuf)>,
        bytes: &mut u64,
        root: &Path,
        log: &RunLog,
    ) -> Result<(), String> {
        let failed =
            |e: std::io::Error| format!("reading the task's files in {}: {e}", from.display());
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
                walk(&entry.path(), &target, out, bytes, root, log)?;
            } else if kind.is_file() {
                *bytes += entry.metadata().map_err(failed)?.len();
                out.push((target, entry.path()));
                if out.len() > TASK_DIR_FILES || *bytes > TASK_DIR_BYTES {
                    return Err(format!(
                        "the task's directory (the formula's, {}) holds more than {TASK_DIR_FILES} \
                         files or {} MiB, which runtask copies into the workspace; keep a formula \
                         in a directory of its own with the files it needs",
                        root.display(),
                        TASK_DIR_BYTES >> 20
                    ));
                }
            } else {
                log.warn(
                    "formula",
                    &format!("{target}: not a regular file or directory; not copied"),
                );
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out, &mut 0, dir, log)?;
    Ok(out)
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

/// A result's note for a multi-line error (a Python traceback): its first
/// line and its last, at most [`NOTE_CHARS`] characters; the whole error
/// stays in the report and the log.
fn one_line_note(error: &str) -> String {
    let mut lines = error.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let note = match lines.next_back() {
        Some(last) => format!("{first} … {last}"),
        None => first.to_string(),
    };
    match note.char_indices().nth(NOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &note[..cut]),
        None => note,
    }
}

/// Longest note [`one_line_note`] makes.
const NOTE_CHARS: usize = 300;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceback_becomes_a_one_line_note() {
        let error = "action 'call it': check() in broken.py raised ValueError:\n\
                     Traceback (most recent call last):\n  File \"broken.py\", line 6\n\
                     ValueError: bad input\n";
        assert_eq!(
            one_line_note(error),
            "action 'call it': check() in broken.py raised ValueError: … ValueError: bad input"
        );
        assert_eq!(one_line_note("plain"), "plain");
        let long = "é".repeat(400);
        assert_eq!(one_line_note(&long).chars().count(), NOTE_CHARS + 1);
    }
}
