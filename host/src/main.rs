//! runtask: the command line of taskhost. Parses arguments, calls the
//! library, prints.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use taskhost::formula::LoadError;
use taskhost::policy::{ExecPattern, LookupPattern, Overrides, Permit, Policy, UrlPrefix};
use taskhost::report::{self, EXIT_CODES_HELP, ExitCode as Code};
use taskhost::run::{RunError, RunOptions};
use taskhost::runtime::{Described, Runtime, RuntimeConfig};
use taskhost::store::{ArtifactStore, ListFilter, LocalStore};

const EXAMPLES: &str = "\
Examples:
  # Check a build log for missing hardening flags (blhc ships with runtask)
  runtask run blhc --data examples/blhc/task.yaml --allow-exec 'blhc --debian **' --allow-backend local

  # The same with the operator's policy file, installing blhc if missing
  runtask run blhc --policy examples/policy.toml --data examples/blhc/task.yaml --install-deps

  # task_data from stdin, results as JUnit XML
  echo '{input: {artifact: hello.build}}' | runtask run blhc --data - --format junit

  # A Taskotron task formula for a koji build (libtaskotron's runtask)
  runtask -i xchat-0.5-1.fc20 -t koji_build -a x86_64 --policy policy.toml runtask.yml

  # What does a plugin ask for? (runs none of its code)
  runtask plugin inspect ./my-plugin.wasm

  # Import a file as an artifact, then use its id as input
  runtask artifact import hello_1.0_amd64.build --category debian:package-build-log
  runtask artifact list";

#[derive(Parser)]
#[command(
    name = "runtask",
    version,
    about = "Run distribution QA and build tasks as sandboxed WebAssembly plugins",
    override_usage = "runtask <COMMAND> [ARGS]\n       runtask [OPTIONS] -i ITEM -t TYPE FORMULA",
    after_help = format!("{EXAMPLES}\n\n{EXIT_CODES_HELP}"),
)]
struct Cli {
    /// More log output (-v: debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Debug output, including the runtime's own (trace)
    #[arg(short = 'd', long = "debug", global = true)]
    debug: bool,
    /// Artifact store directory [default: $XDG_DATA_HOME/taskhost/store]
    #[arg(long, global = true, env = "TASKHOST_STORE", value_name = "DIR")]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    formula: Box<FormulaArgs>,
}

/// `runtask -i ITEM -t TYPE [-a ARCH] runtask.yml`: a Taskotron formula.
#[derive(Args)]
#[command(next_help_heading = "Task formulas (libtaskotron style)")]
struct FormulaArgs {
    /// The task formula (runtask.yml) to run
    #[arg(value_name = "FORMULA", requires_all = ["item", "item_type"])]
    formula: Option<PathBuf>,
    /// The item to check, e.g. an NVR (xchat-0.5-1.fc20) or an update id
    #[arg(short = 'i', long = "item", value_name = "ITEM")]
    item: Option<String>,
    /// The item's type; the formula sees the item as ${TYPE} too
    #[arg(short = 't', long = "type", value_name = "TYPE", value_parser = [
        "koji_build", "bodhi_update", "koji_tag", "compose", "docker_image",
        "dist_git_commit", "git_commit", "module_build", "pull_request",
    ])]
    item_type: Option<String>,
    /// Architecture of the item
    #[arg(
        short = 'a',
        long = "arch",
        value_name = "ARCH",
        default_value = "noarch"
    )]
    arch: String,
    /// Job id, e.g. from the scheduler
    #[arg(short = 'j', long = "jobid", value_name = "JOBID", default_value = "-")]
    jobid: String,
    /// Run id; the artifacts go to ARTIFACTSDIR/UUID [default: a UTC timestamp]
    #[arg(long, value_name = "UUID")]
    uuid: Option<String>,
    /// Where the runs' artifact directories go [default: $XDG_DATA_HOME/taskhost/artifacts]
    #[arg(long, value_name = "DIR")]
    artifactsdir: Option<PathBuf>,
    /// Run the formula on this machine (the default)
    #[arg(long, group = "where")]
    local: bool,
    /// Run the formula on a remote machine over ssh (not available yet)
    #[arg(long, value_name = "USER@HOST[:PORT]", group = "where")]
    ssh: Option<String>,
    /// Private key for --ssh
    #[arg(long, value_name = "KEY", requires = "ssh")]
    ssh_privkey: Option<PathBuf>,
    /// Run the formula in a disposable libvirt VM (not available yet)
    #[arg(long, group = "where")]
    libvirt: bool,
    /// Keep the disposable machine after the run
    #[arg(long)]
    no_destroy: bool,
    #[command(flatten)]
    grants: GrantArgs,
    /// Keep the formula's workspace directory after the run
    #[arg(long)]
    keep_workspace: bool,
    /// What to print on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also write the ResultYAML to FILE
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
    #[command(flatten)]
    plugins: PluginDirs,
}

#[derive(Subcommand)]
enum Command {
    /// Run one task (debusine style): TASK is a shipped plugin's name, a
    /// plugin in a plugin directory, or a path to a .wasm file
    Run(Box<RunArgs>),
    /// List and inspect plugins
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Work with the artifact store
    #[command(subcommand)]
    Artifact(ArtifactCommand),
    /// Print a run's audit log: every grant decision, allowed or denied,
    /// with the rule that decided (STORE/runs/RUN-ID/audit.jsonl)
    Audit {
        /// The run's id (printed by `runtask run`, in its report)
        run_id: String,
        /// Only the denied decisions
        #[arg(long)]
        denied: bool,
        /// Print the JSON lines as stored
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Plugin name or .wasm path
    task: String,
    /// task_data as JSON or YAML: a file, or - for stdin [default: {}]
    #[arg(long, value_name = "FILE|-")]
    data: Option<String>,
    #[command(flatten)]
    grants: GrantArgs,
    /// Keep the task's workspace directory after the run
    #[arg(long)]
    keep_workspace: bool,
    /// Install missing Debian packages the plugin needs (apt-get, as root)
    #[arg(long)]
    install_deps: bool,
    /// What to print on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also write the ResultYAML to FILE
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
    #[command(flatten)]
    plugins: PluginDirs,
}

/// The operator's grants for this run. Deny wins over allow.
#[derive(Args)]
struct GrantArgs {
    /// Policy file [default: $XDG_CONFIG_HOME/taskhost/policy.toml, then /etc/taskhost/policy.toml]
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Grant an exec pattern: `*` one argument, trailing `**` the rest (e.g. 'blhc --debian **')
    #[arg(long, value_name = "PATTERN")]
    allow_exec: Vec<String>,
    /// Deny an exec pattern
    #[arg(long, value_name = "PATTERN")]
    deny_exec: Vec<String>,
    /// Grant a backend (local, ...)
    #[arg(long, value_name = "NAME")]
    allow_backend: Vec<String>,
    /// Deny a backend
    #[arg(long, value_name = "NAME")]
    deny_backend: Vec<String>,
    /// Grant an environment variable name
    #[arg(long, value_name = "VAR")]
    allow_env: Vec<String>,
    /// Deny an environment variable name
    #[arg(long, value_name = "VAR")]
    deny_env: Vec<String>,
    /// Grant a URL prefix: scheme://host[:port]/path, host:* for any port,
    /// or file:///dir/ for local files under a directory
    #[arg(long, value_name = "PREFIX")]
    allow_url: Vec<String>,
    /// Deny a URL prefix
    #[arg(long, value_name = "PREFIX")]
    deny_url: Vec<String>,
    /// Grant store lookups matching a pattern (e.g. 'debian/match:*')
    #[arg(long, value_name = "PATTERN")]
    allow_lookup: Vec<String>,
    /// Memory limit of the plugin (e.g. 256MiB)
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Deadline of the run (e.g. 30m, 2h)
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Bytes kept of each command's stdout and stderr (e.g. 64MiB)
    #[arg(long, value_name = "SIZE")]
    output_limit: Option<String>,
}

#[derive(Args)]
struct PluginDirs {
    /// Extra directory to search for NAME.wasm plugins
    #[arg(long, value_name = "DIR")]
    plugin_dir: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A summary for people
    Human,
    /// The whole report as JSON
    Json,
    /// ResultYAML
    Yaml,
    /// JUnit XML
    Junit,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// List the shipped plugins and those in the plugin directories
    List(PluginDirs),
    /// Print what a plugin says about itself and its task_data (runs its
    /// `describe` in a sandbox with no grants)
    Describe {
        /// Plugin name or .wasm path
        plugin: String,
        #[command(flatten)]
        plugins: PluginDirs,
    },
    /// Print a plugin's manifest and sha256 without running its code
    Inspect {
        /// Plugin name or .wasm path
        plugin: String,
        #[command(flatten)]
        plugins: PluginDirs,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Copy a .wasm plugin into the plugin directory and print the policy
    /// table that trusts it (its sha256 pin and the grants it asks for)
    Install {
        /// The .wasm file
        file: PathBuf,
        /// Install into DIR [default: $XDG_DATA_HOME/taskhost/plugins]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Also write the table into the policy file (a table of that name
        /// that exists gains the digest, its grants unchanged)
        #[arg(long)]
        trust: bool,
        /// The policy file --trust writes [default: $XDG_CONFIG_HOME/taskhost/policy.toml]
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ArtifactCommand {
    /// Import files as one artifact (a .dsc or .changes brings the files
    /// it lists; a .deb its control fields)
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Category [default: from the file name: .dsc, .deb, .changes, .build]
        #[arg(long)]
        category: Option<String>,
        /// The artifact's data, a JSON object [default: {"filename": FIRST}]
        #[arg(long, value_name = "JSON")]
        data: Option<String>,
    },
    /// List artifacts
    List {
        #[arg(long)]
        category: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show one artifact
    Show { id: u64 },
    /// Copy an artifact's files into DIR
    Export { id: u64, dir: PathBuf },
    /// Check that every artifact's files are whole
    Verify,
}

fn main() -> ExitCode {
    // runtask is also the reaper of commands on hosts without cgroups.
    taskhost::backends::reaper::serve_if_asked();
    let cli = parse_cli();
    init_tracing(cli.verbose, cli.debug);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                Code::TaskError,
                &anyhow::anyhow!("starting the async runtime: {e}"),
            );
        }
    };
    let result = runtime.block_on(dispatch(cli));
    // A thread stuck in a system call (a plugin's WASI open of a FIFO, say)
    // must not keep runtask alive: dropping the runtime would wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            let code = if e.downcast_ref::<UsageError>().is_some() {
                Code::Usage
            } else if e.downcast_ref::<Refusal>().is_some() {
                Code::PolicyRefused
            } else {
                Code::TaskError
            };
            fail(code, &e)
        }
    }
}

/// Parses the command line. Formula options (`-i`, `-t`, `--policy`, ...)
/// given before a subcommand are an error rather than silently ignored;
/// the global `-v`, `-d` and `--store` go anywhere.
fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
    let mut command = Cli::command();
    let matches = command.get_matches_mut();
    if let Some((sub, _)) = matches.subcommand() {
        let misplaced: Vec<String> = command
            .get_arguments()
            .filter(|a| !a.is_global_set())
            .filter(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
            .map(|a| match a.get_long() {
                Some(long) => format!("--{long}"),
                None => a.get_id().to_string().to_uppercase(),
            })
            .collect();
        if !misplaced.is_empty() {
            command
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "{} only {} task formulas (runtask -i ITEM -t TYPE FORMULA); \
                         the options of `{sub}` go after it",
                        misplaced.join(", "),
                        if misplaced.len() == 1 {
                            "applies to"
                        } else {
                            "apply to"
                        },
                    ),
                )
                .exit();
        }
    }
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Bad input from the user (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// A plugin the policy does not trust (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refusal(String);

fn refusal(message: impl Into<String>) -> anyhow::Error {
    Refusal(message.into()).into()
}

/// Who `plugin` is, found at `origin`, and what the policy lets it do.
fn permit(
    policy: &Policy,
    plugin: &taskhost::runtime::Plugin,
    origin: taskhost::policy::Origin,
    overrides: &Overrides,
) -> Result<Permit> {
    let declared = plugin
        .info
        .manifest
        .declared()
        .map_err(|e| usage(e.to_string()))?;
    policy
        .permit(
            plugin.name(),
            &plugin.sha256,
            origin,
            declared,
            overrides,
            &taskhost::plugins::shipped_names(),
        )
        .map_err(|e| refusal(e.to_string()))
}

fn fail(code: Code, e: &anyhow::Error) -> ExitCode {
    eprintln!("runtask: error: {e:#}");
    code.into()
}

fn init_tracing(verbose: u8, debug: bool) {
    let filter = match (debug, verbose) {
        (true, _) => "trace",
        (false, 0) => "info,wasmtime=warn,cranelift=warn",
        (false, _) => "debug,wasmtime=info,cranelift=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUNTASK_LOG")
        .unwrap_or_else(|_| filter.into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

async fn dispatch(cli: Cli) -> Result<Code> {
    let store_dir = cli
        .store
        .clone()
        .unwrap_or_else(|| xdg("XDG_DATA_HOME", ".local/share").join("taskhost/store"));
    match cli.command {
        Some(Command::Run(args)) => run(*args, &store_dir).await,
        Some(Command::Plugin(cmd)) => plugin(cmd, &store_dir).await,
        Some(Command::Artifact(cmd)) => artifact(cmd, &store_dir),
        Some(Command::Audit {
            run_id,
            denied,
            json,
        }) => audit(&store_dir, &run_id, denied, json),
        None => formula(*cli.formula, &store_dir).await,
    }
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(fallback)
        })
}

fn open_store(dir: &Path) -> Result<LocalStore> {
    LocalStore::open(dir).with_context(|| format!("opening the artifact store {}", dir.display()))
}

async fn run(args: RunArgs, store_dir: &Path) -> Result<Code> {
    let task_data = read_task_data(args.data.as_deref())?;
    let policy = Policy::discover(args.grants.policy.as_deref(), |k| std::env::var(k).ok())
        .map_err(|e| usage(e.to_string()))?;
    let overrides = overrides(&args.grants)?;

    let dirs = taskhost::plugins::search_path(&args.plugins.plugin_dir);
    let found = taskhost::plugins::find(&args.task, &dirs).map_err(|e| usage(e.to_string()))?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(xdg("XDG_CACHE_HOME", ".cache").join("taskhost/compiled")),
        max_instances: 4,
        ..RuntimeConfig::default()
    })?;
    let plugin = runtime
        .load(&found.wasm, found.origin_name(&args.task))
        .map_err(|e| usage(format!("plugin {}: {e}", args.task)))?;
    let permit = permit(&policy, &plugin, found.origin, &overrides)?;

    let store: Arc<dyn ArtifactStore> = Arc::new(open_store(store_dir)?);
    let options = RunOptions {
        keep_workspace: args.keep_workspace,
        install_deps: args.install_deps,
        runs_dir: Some(store_dir.join("runs")),
        progress: taskhost::progress::Progress::detect(),
        env_cache: xdg("XDG_CACHE_HOME", ".cache").join("taskhost/environments"),
        ..RunOptions::default()
    };
    // On SIGINT/SIGTERM the run is dropped: its commands' process groups
    // are killed and its workspace removed.
    let running = taskhost::run::run_task(&runtime, store, &plugin, task_data, permit, &options);
    let Some(report) = until_signal(running, "run", |m| format!("{}: {m}", args.task)).await?
    else {
        return Ok(Code::TaskError);
    };

    print_report(&report, args.format, args.results.as_deref())
}

/// Writes `--results`, prints the report in `format`; the exit code.
fn print_report(report: &report::Report, format: Format, results: Option<&Path>) -> Result<Code> {
    if let Some(path) = results {
        std::fs::write(path, report::resultyaml::to_string(&report.results)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let out = match format {
        Format::Human => report::human::render(report, std::io::stdout().is_terminal()),
        Format::Json => report::to_json(report)?,
        Format::Yaml => report::to_yaml(report)?,
        Format::Junit => report::junit::to_string(report)?,
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(report::exit_code(report))
}

/// Runs a task formula (libtaskotron's `runtask -i ITEM -t TYPE runtask.yml`).
async fn formula(args: FormulaArgs, store_dir: &Path) -> Result<Code> {
    let Some(path) = args.formula.as_deref() else {
        return Err(usage(
            "nothing to do: give a subcommand (run, plugin, artifact) or a task formula \
             (runtask -i ITEM -t TYPE runtask.yml); see runtask --help",
        ));
    };
    if let Some(target) = &args.ssh {
        return Err(usage(format!(
            "--ssh {target}: remote execution is not available yet; run with --local (the default)"
        )));
    }
    if args.libvirt || args.no_destroy {
        return Err(usage(
            "--libvirt: disposable VMs are not available yet; run with --local (the default)",
        ));
    }
    let (Some(item), Some(item_type)) = (args.item.clone(), args.item_type.clone()) else {
        return Err(usage("a formula needs -i ITEM and -t TYPE"));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read the formula {}: {e}", path.display())))?;
    let formula = taskhost::formula::Formula::parse(&path.display().to_string(), &text)
        .map_err(|e| usage(e.to_string()))?;

    let policy = Policy::discover(args.grants.policy.as_deref(), |k| std::env::var(k).ok())
        .map_err(|e| usage(e.to_string()))?;
    let overrides = overrides(&args.grants)?;
    let dirs = taskhost::plugins::search_path(&args.plugins.plugin_dir);
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(xdg("XDG_CACHE_HOME", ".cache").join("taskhost/compiled")),
        max_instances: 8,
        ..RuntimeConfig::default()
    })?;
    let store: Arc<dyn ArtifactStore> = Arc::new(open_store(store_dir)?);
    let options = RunOptions {
        keep_workspace: args.keep_workspace,
        runs_dir: Some(store_dir.join("runs")),
        progress: taskhost::progress::Progress::detect(),
        env_cache: xdg("XDG_CACHE_HOME", ".cache").join("taskhost/environments"),
        ..RunOptions::default()
    };
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
            .unwrap_or_else(|| xdg("XDG_DATA_HOME", ".local/share").join("taskhost/artifacts")),
        task_dir: Some(match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }),
    };
    let shipped = taskhost::plugins::shipped_names();
    let mut load = |name: &str| -> std::result::Result<_, LoadError> {
        let found = match taskhost::plugins::find(name, &dirs) {
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
        let permit = policy
            .permit(
                plugin.name(),
                &plugin.sha256,
                found.origin,
                declared,
                &overrides,
                &shipped,
            )
            .map_err(LoadError::Untrusted)?;
        Ok(Some((plugin, permit)))
    };
    let planned = taskhost::formula::plan(
        &runtime,
        store.clone(),
        formula,
        invocation,
        &mut load,
        &options,
    )
    .await
    .map_err(|e| match e {
        taskhost::formula::FormulaError::Untrusted(m) => refusal(m),
        other => usage(other.to_string()),
    })?;

    let running = taskhost::formula::run(&runtime, store, planned, &options);
    let Some(report) = until_signal(running, "formula", |m| m).await? else {
        return Ok(Code::TaskError);
    };
    print_report(&report, args.format, args.results.as_deref())
}

/// How long a run may take to stop after SIGINT or SIGTERM before runtask
/// kills its commands, removes its workspace and exits without it.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Awaits a run; on SIGINT or SIGTERM drops it (every process of its
/// commands is killed, its workspace removed) and returns `None`. Bad input
/// becomes a usage error, worded by `invalid`.
///
/// The signal is watched by a task of its own, so a run stuck in a system
/// call cannot hide it: if the run does not stop within [`STOP_GRACE`],
/// the watcher kills every command, removes the workspaces and exits.
async fn until_signal(
    running: impl std::future::Future<Output = std::result::Result<report::Report, RunError>>,
    what: &str,
    invalid: impl FnOnce(String) -> String,
) -> Result<Option<report::Report>> {
    let (tell, told) = tokio::sync::oneshot::channel();
    let stuck = format!(
        "runtask: {what} did not stop within {}s",
        STOP_GRACE.as_secs()
    );
    let signalled = interrupted();
    let watcher = tokio::spawn(async move {
        let signal = signalled.await;
        let _ = tell.send(signal);
        tokio::time::sleep(STOP_GRACE).await;
        eprintln!("{stuck}: killing its commands and removing its workspace");
        taskhost::backends::kill_all(std::time::Duration::from_secs(1));
        taskhost::workspace::remove_all();
        std::process::exit(i32::from(Code::TaskError.code()));
    });
    let mut running = Box::pin(running);
    let finished = tokio::select! {
        result = &mut running => result,
        Ok(signal) = told => {
            drop(running);
            watcher.abort();
            eprintln!("runtask: {signal}: {what} stopped, its commands killed and its workspace removed");
            return Ok(None);
        }
    };
    watcher.abort();
    match finished {
        Ok(report) => Ok(Some(report)),
        Err(RunError::Invalid(message)) => Err(usage(invalid(message))),
        Err(RunError::Internal(e)) => Err(e),
    }
}

/// Handles SIGINT and SIGTERM from now on; the future resolves on either,
/// naming it.
fn interrupted() -> impl std::future::Future<Output = &'static str> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let streams = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    async move {
        match streams {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => "interrupted",
                _ = term.recv() => "terminated",
            },
            _ => std::future::pending().await,
        }
    }
}

/// Reads task_data (JSON or YAML) from a file or stdin.
fn read_task_data(source: Option<&str>) -> Result<serde_json::Value> {
    let (text, name) = match source {
        None => return Ok(serde_json::json!({})),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading task_data from stdin")?;
            (text, "stdin".to_string())
        }
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("cannot read task_data file {path}: {e}")))?;
            (text, path.to_string())
        }
    };
    let value: serde_json::Value = if name.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| usage(format!("task_data {name}: {e}")))?
    } else {
        serde_norway::from_str(&text).map_err(|e| usage(format!("task_data {name}: {e}")))?
    };
    if !value.is_object() {
        return Err(usage(format!(
            "task_data {name}: expected a mapping of keys to values"
        )));
    }
    Ok(value)
}

fn overrides(g: &GrantArgs) -> Result<Overrides> {
    let exec = |v: &[String]| -> Result<Vec<ExecPattern>> {
        v.iter()
            .map(|p| ExecPattern::parse(p).map_err(|e| usage(format!("exec pattern {p:?}: {e}"))))
            .collect()
    };
    let urls = |v: &[String]| -> Result<Vec<UrlPrefix>> {
        v.iter()
            .map(|u| UrlPrefix::parse(u).map_err(|e| usage(format!("URL prefix {u:?}: {e}"))))
            .collect()
    };
    Ok(Overrides {
        allow_exec: exec(&g.allow_exec)?,
        deny_exec: exec(&g.deny_exec)?,
        allow_backend: g.allow_backend.clone(),
        deny_backend: g.deny_backend.clone(),
        allow_env: g.allow_env.clone(),
        deny_env: g.deny_env.clone(),
        allow_url: urls(&g.allow_url)?,
        deny_url: urls(&g.deny_url)?,
        allow_lookup: g
            .allow_lookup
            .iter()
            .map(|l| {
                LookupPattern::parse(l).map_err(|e| usage(format!("lookup pattern {l:?}: {e}")))
            })
            .collect::<Result<_>>()?,
        memory: g
            .memory
            .as_deref()
            .map(|s| taskhost::policy::parse_size(s).map_err(|e| usage(format!("--memory: {e}"))))
            .transpose()?,
        output_limit: g
            .output_limit
            .as_deref()
            .map(|s| {
                taskhost::policy::parse_size(s).map_err(|e| usage(format!("--output-limit: {e}")))
            })
            .transpose()?,
        timeout: g
            .timeout
            .as_deref()
            .map(|s| {
                taskhost::policy::parse_duration(s).map_err(|e| usage(format!("--timeout: {e}")))
            })
            .transpose()?,
    })
}

async fn describe(task: &str, plugins: &PluginDirs, store_dir: &Path) -> Result<Code> {
    let dirs = taskhost::plugins::search_path(&plugins.plugin_dir);
    let found = taskhost::plugins::find(task, &dirs).map_err(|e| usage(e.to_string()))?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(xdg("XDG_CACHE_HOME", ".cache").join("taskhost/compiled")),
        max_instances: 2,
        ..RuntimeConfig::default()
    })?;
    let plugin = runtime
        .load(&found.wasm, found.origin_name(task))
        .map_err(|e| usage(format!("plugin {task}: {e}")))?;
    let store: Arc<dyn ArtifactStore> = Arc::new(open_store(store_dir)?);
    let info = taskhost::run::describe(&runtime, store, &plugin, &RunOptions::default()).await?;
    match info {
        Described::Task(info) => {
            println!("{} — {}\n", info.name, info.summary);
            if info.task_data_doc.is_empty() {
                println!("(the plugin documents no task_data keys)");
            } else {
                println!("task_data:\n{}", info.task_data_doc);
            }
        }
        Described::Directive(info) => print!("{}", taskhost::formula::describe_directive(&info)),
    }
    Ok(Code::Ok)
}

async fn plugin(cmd: PluginCommand, store_dir: &Path) -> Result<Code> {
    match cmd {
        PluginCommand::Describe { plugin, plugins } => describe(&plugin, &plugins, store_dir).await,
        PluginCommand::Install {
            file,
            dir,
            trust,
            policy,
        } => install(&file, dir.as_deref(), trust, policy.as_deref()),
        PluginCommand::List(dirs) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for listed in taskhost::plugins::list(&taskhost::plugins::search_path(&dirs.plugin_dir))
            {
                let origin = &listed.origin;
                let digest = listed.sha256.as_deref().map_or("?", |d| &d[..12]);
                let line = match listed.info {
                    Ok(info) => format!(
                        "{:<16} {:<9} {:<8} {digest}  {}  ({origin})",
                        info.manifest.name,
                        match info.manifest.kind {
                            taskhost::manifest::Kind::Task => "task",
                            taskhost::manifest::Kind::Directive => "directive",
                        },
                        info.manifest.version,
                        info.manifest.summary
                    ),
                    Err(e) => format!(
                        "{:<16} {:<9} {:<8} {digest}  broken: {e}  ({origin})",
                        "?", "?", "?"
                    ),
                };
                // A closed pipe (`| head -1`) ends the listing quietly.
                if writeln!(out, "{line}").is_err() {
                    break;
                }
            }
            Ok(Code::Ok)
        }
        PluginCommand::Inspect {
            plugin,
            plugins,
            json,
        } => {
            let dirs = taskhost::plugins::search_path(&plugins.plugin_dir);
            let found =
                taskhost::plugins::find(&plugin, &dirs).map_err(|e| usage(e.to_string()))?;
            let origin = found.origin_name(&plugin);
            let sha256 = taskhost::manifest::digest(&found.wasm);
            let info = taskhost::manifest::read(&found.wasm)
                .map_err(|e| usage(format!("{origin}: {e}")))?;
            if json {
                let mut value = serde_json::to_value(&info)?;
                value["sha256"] = serde_json::Value::from(sha256);
                value["origin"] = serde_json::Value::from(origin);
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("origin:   {origin}");
                println!("sha256:   {sha256}");
                print!("{info}");
            }
            Ok(Code::Ok)
        }
    }
}

/// `runtask audit RUN-ID`: the run's decisions, one per line.
fn audit(store_dir: &Path, run_id: &str, denied: bool, json: bool) -> Result<Code> {
    use std::io::Write;
    use taskhost::policy::audit::{self, Decision};
    if run_id.is_empty() || run_id.contains(['/', '\0']) || run_id.starts_with('.') {
        return Err(usage(format!("'{run_id}' is not a run id")));
    }
    let path = store_dir.join("runs").join(run_id).join(audit::FILE);
    let events = audit::read(&path).map_err(|e| {
        usage(format!(
            "no audit log for run {run_id} ({}: {e}); `runtask run` prints the run id, and a run refused before any decision has none",
            path.display()
        ))
    })?;
    let mut out = std::io::stdout().lock();
    for e in events
        .iter()
        .filter(|e| !denied || e.decision == Decision::Deny)
    {
        let line = if json {
            serde_json::to_string(e)?
        } else {
            let decision = match e.decision {
                Decision::Allow => "allow",
                Decision::Deny => "DENY ",
            };
            let request = match &e.request {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            taskhost::runlog::escape(&format!(
                "{}  {decision}  {:<8} {request}  ({})",
                e.time, e.capability, e.rule
            ))
            .into_owned()
        };
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    Ok(Code::Ok)
}

/// `runtask plugin install FILE`.
fn install(file: &Path, dir: Option<&Path>, trust: bool, policy: Option<&Path>) -> Result<Code> {
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| xdg("XDG_DATA_HOME", ".local/share").join("taskhost/plugins"));
    let installed = taskhost::plugins::install(file, &dir).map_err(|e| usage(e.to_string()))?;
    println!(
        "installed {} as {} (sha256 {})",
        installed.name,
        installed.path.display(),
        installed.sha256
    );
    if trust {
        let path =
            match policy {
                Some(p) => p.to_path_buf(),
                None => taskhost::policy::user_policy_path(|k| std::env::var(k).ok()).ok_or_else(
                    || usage("--trust: no policy file to write (set HOME, or pass --policy FILE)"),
                )?,
            };
        let done =
            taskhost::policy::trust(&path, &installed.name, &installed.sha256, &installed.table)
                .map_err(|e| usage(e.to_string()))?;
        println!("{done}");
    } else {
        println!(
            "\nIt runs only once a policy table pins its digest. To trust it, add to your policy \
             (or rerun with --trust):\n\n{}",
            installed.table
        );
    }
    Ok(Code::Ok)
}

fn artifact(cmd: ArtifactCommand, store_dir: &Path) -> Result<Code> {
    let store = open_store(store_dir)?;
    match cmd {
        ArtifactCommand::Import {
            files,
            category,
            data,
        } => {
            let category = match category {
                Some(c) => c,
                None => taskhost::import::category_for(&files[0])
                    .map(str::to_string)
                    .ok_or_else(|| {
                        usage(format!(
                            "cannot tell the category of {}; pass --category",
                            files[0].display()
                        ))
                    })?,
            };
            let data = data
                .map(|text| serde_json::from_str(&text).map_err(|e| usage(format!("--data: {e}"))))
                .transpose()?;
            let artifact = taskhost::import::import(&store, &files, &category, data, None)
                .map_err(|e| usage(e.to_string()))?;
            println!("{}", artifact.id);
            Ok(Code::Ok)
        }
        ArtifactCommand::List { category, json } => {
            let all = store.list(&ListFilter {
                category,
                ..ListFilter::default()
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for a in all {
                    let files = a
                        .files
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    println!("{:>6}  {:<36} {}  {files}", a.id, a.category, a.created_at);
                }
            }
            Ok(Code::Ok)
        }
        ArtifactCommand::Show { id } => {
            let a = store.get(id).map_err(|e| usage(e.to_string()))?;
            println!("{}", serde_json::to_string_pretty(&a)?);
            Ok(Code::Ok)
        }
        ArtifactCommand::Export { id, dir } => {
            for path in store.export(id, &dir).map_err(|e| usage(e.to_string()))? {
                println!("{}", path.display());
            }
            Ok(Code::Ok)
        }
        ArtifactCommand::Verify => {
            let problems = store.verify()?;
            for p in &problems {
                println!("{p}");
            }
            if problems.is_empty() {
                println!("store {} is whole", store_dir.display());
                Ok(Code::Ok)
            } else {
                bail!("{} problem(s) in the store", problems.len())
            }
        }
    }
}
