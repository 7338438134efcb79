//! `runtask run TASK --data FILE`: one task, debusine style.

use super::args::RunArgs;
use super::children::Children;
use super::output::{STOPPED, print_failure, print_report, read_task_data};
use super::setup::{Config, Grants};
use super::signals::until_signal;
use super::usage;
use anyhow::Result;
use taskhost::report::ExitCode as Code;
use taskhost::run::RunOptions;

/// Plugin instances at once: the run's and its children's.
const INSTANCES: u32 = 4;

pub(crate) async fn run(args: RunArgs, config: &Config) -> Result<Code> {
    let (task_data, source) = read_task_data(args.data.as_deref())?;
    let grants = std::sync::Arc::new(Grants::new(&args.grants)?);
    let dirs = taskhost::plugins::search_path(&args.plugins.plugin_dir);
    let found = taskhost::plugins::find(&args.task, &dirs).map_err(|e| usage(e.to_string()))?;
    let runtime = std::sync::Arc::new(config.runtime(INSTANCES)?);
    let plugin = runtime
        .load(&found.wasm, found.origin_name(&args.task))
        .map_err(|e| usage(format!("plugin {}: {e}", args.task)))?;
    let permit = grants.permit(&plugin, found.origin)?;

    let store = config.store()?;
    let mut options = RunOptions {
        keep_workspace: args.keep_workspace,
        install_deps: args.install_deps,
        ssh: config.remote(
            args.ssh.as_deref(),
            args.ssh_privkey.as_deref(),
            args.ssh_known_hosts.as_deref(),
        )?,
        keep_machines: args.no_destroy,
        notification_channels: grants.policy.notification_channels(),
        ..config.run_options()
    };
    // The runs it submits: one instance each, beside the run's own.
    options.children = Some(Children::new(
        runtime.clone(),
        store.clone(),
        grants.clone(),
        dirs,
        options.clone(),
        (INSTANCES - 1) as usize,
    ));
    // On SIGINT/SIGTERM the run is dropped: its commands' process groups
    // are killed and its workspace removed.
    let running = taskhost::run::run_task(
        &runtime,
        store.clone(),
        &plugin,
        task_data,
        permit,
        &options,
    );
    let invalid = |m: String| match source.place(&m) {
        Some((at, text)) => format!("{at}: {}: {text}", args.task),
        None => format!("{}: {m}", args.task),
    };
    let Some(report) = until_signal(running, "run", invalid).await? else {
        print_failure(args.output.format, STOPPED);
        return Ok(Code::TaskError);
    };

    config.keep_run_records(&report.run_id)?;
    print_report(&report, &args.output, store.as_ref())
}
