//! `runtask -i ITEM -t TYPE runtask.yml`: a Taskotron formula.

use super::args::FormulaArgs;
use super::output::{STOPPED, print_failure, print_report};
use super::setup::{Config, Grants};
use super::signals::until_signal;
use super::{refusal, usage};
use anyhow::Result;
use std::path::PathBuf;
use taskhost::formula::LoadError;
use taskhost::manifest::Declares;
use taskhost::report::ExitCode as Code;
use taskhost::run::RunOptions;

/// Runs a task formula (libtaskotron's `runtask -i ITEM -t TYPE runtask.yml`).
pub(crate) async fn formula(args: FormulaArgs, config: &Config) -> Result<Code> {
    let Some(path) = args.formula.as_deref() else {
        return Err(usage(
            "nothing to do: give a subcommand (run, plugin, artifact) or a task formula \
             (runtask -i ITEM -t TYPE runtask.yml); see runtask --help",
        ));
    };
    let (Some(item), Some(item_type)) = (args.item.clone(), args.item_type.clone()) else {
        return Err(usage("a formula needs -i ITEM and -t TYPE"));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read the formula {}: {e}", path.display())))?;
    let formula = taskhost::formula::Formula::parse(&path.display().to_string(), &text)
        .map_err(|e| usage(e.to_string()))?;

    let grants = std::sync::Arc::new(Grants::new(&args.grants)?);
    let dirs = taskhost::plugins::search_path(&args.plugins.plugin_dir);
    let runtime = std::sync::Arc::new(config.runtime(8)?);
    let store = config.store()?;
    if let Some(id) = args.vm_image {
        let artifact = store
            .get(id)
            .map_err(|e| usage(format!("--vm-image {id}: {e}")))?;
        if artifact.category != "debian:system-image" {
            return Err(usage(format!(
                "--vm-image {id}: artifact {id} is a {}, not a debian:system-image; build one \
                 with `runtask run simplesystemimagebuild --data FILE`",
                artifact.category
            )));
        }
    }
    let mut options = RunOptions {
        keep_workspace: args.keep_workspace,
        vm_image: args.vm_image,
        keep_machines: args.no_destroy,
        notification_channels: grants.policy.notification_channels(),
        ssh: config.remote(
            args.ssh.as_deref(),
            args.ssh_privkey.as_deref(),
            args.ssh_known_hosts.as_deref(),
        )?,
        ..config.run_options()
    };
    // Runs a task action submits, beside the formula's own instances.
    options.children = Some(super::children::Children::new(
        runtime.clone(),
        store.clone(),
        grants.clone(),
        dirs.clone(),
        options.clone(),
        4,
    ));
    let uuid = args.uuid.clone().unwrap_or_else(|| {
        time::OffsetDateTime::now_utc()
            .format(&time::macros::format_description!(
                "[year][month][day]_[hour][minute][second]_[subsecond digits:6]"
            ))
            .unwrap_or_default()
    });
    let invocation = taskhost::formula::Invocation {
        item,
        item_type,
        arch: args.arch.clone(),
        jobid: args.jobid.clone(),
        uuid,
        artifacts_root: args
            .artifactsdir
            .clone()
            .unwrap_or_else(|| config.artifacts.clone()),
        task_dir: Some(match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }),
    };
    let planned = plan_formula(
        &runtime,
        store.clone(),
        &grants,
        &dirs,
        formula,
        invocation,
        &options,
    )
    .await?;
    let running = taskhost::formula::run(&runtime, store.clone(), planned, &options);
    let Some(report) = until_signal(running, "formula", |m| m).await? else {
        print_failure(args.output.format, STOPPED);
        return Ok(Code::TaskError);
    };
    print_report(&report, &args.output, store.as_ref())
}

/// Plans `formula`: finds each action's plugin as `runtask run` does,
/// with its grants (a refusal is a [`refusal`], a bad formula a
/// [`usage`] error).
pub(crate) async fn plan_formula(
    runtime: &taskhost::runtime::Runtime,
    store: std::sync::Arc<dyn taskhost::store::ArtifactStore>,
    grants: &Grants,
    dirs: &[PathBuf],
    formula: taskhost::formula::Formula,
    invocation: taskhost::formula::Invocation,
    options: &RunOptions,
) -> Result<taskhost::formula::PlannedFormula> {
    let shipped = taskhost::plugins::shipped_names();
    let mut load = |name: &str| -> std::result::Result<_, LoadError> {
        let found = match taskhost::plugins::find(name, dirs) {
            Ok(found) => found,
            Err(taskhost::plugins::FindError::Unknown { .. }) => return Ok(None),
            Err(e) => return Err(LoadError::Broken(e.to_string())),
        };
        let plugin = runtime
            .load(&found.wasm, found.origin_name(name))
            .map_err(|e| LoadError::Broken(e.to_string()))?;
        let declared = plugin
            .info
            .manifest
            .declared()
            .map_err(|e| LoadError::Broken(e.to_string()))?;
        let permit = grants
            .policy
            .permit(
                plugin.name(),
                &plugin.sha256,
                found.origin,
                declared,
                &grants.overrides,
                &shipped,
            )
            .map_err(LoadError::Untrusted)?;
        Ok(Some((plugin, permit)))
    };
    taskhost::formula::plan(runtime, store, formula, invocation, &mut load, options)
        .await
        .map_err(|e| match e {
            taskhost::formula::FormulaError::Untrusted(m) => refusal(m),
            other => usage(other.to_string()),
        })
}
