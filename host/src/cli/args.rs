//! runtask's arguments (clap): the global flags, the formula form, and
//! each subcommand with its help.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use taskhost::report::EXIT_CODES_HELP;

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

  # The same in a tmt test with `result: custom` (Fedora CI, Testing Farm)
  runtask -i xchat-0.5-1.fc20 -t koji_build --artifactsdir \"$TMT_TEST_DATA\" \\
      --format tmt runtask.yml > \"$TMT_TEST_DATA/results.yaml\"

  # What does a plugin ask for? (runs none of its code)
  runtask plugin inspect ./my-plugin.wasm

  # Past one machine: queue a run for the `runtask worker`s of a shared store
  export TASKHOST_STORE=postgres://runtask@db.example.org/taskhost TASKHOST_NATS=nats://nats1:4222
  runtask wait \"$(runtask submit blhc --data task.yaml)\"

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
pub(crate) struct Cli {
    /// More log output (-v: debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Debug output, including the runtime's own (trace)
    #[arg(short = 'd', long = "debug", global = true)]
    pub(crate) debug: bool,
    /// Artifact store: a directory [default: $XDG_DATA_HOME/taskhost/store],
    /// or a shared store, postgres://USER@HOST:PORT/DB (with --nats)
    #[arg(long, global = true, env = "TASKHOST_STORE", value_name = "DIR|URL")]
    pub(crate) store: Option<PathBuf>,
    /// NATS server(s) with JetStream, for a shared store and the run
    /// queue: nats://HOST:PORT[,nats://HOST:PORT...]
    #[arg(long, global = true, env = "TASKHOST_NATS", value_name = "URL")]
    pub(crate) nats: Option<String>,
    /// JetStream replicas of the queue's streams and the blob bucket
    /// (3 in a cluster of three)
    #[arg(
        long,
        global = true,
        env = "TASKHOST_REPLICAS",
        default_value_t = 1,
        value_name = "N"
    )]
    pub(crate) replicas: usize,
    /// Log lines as JSON objects (for a log collector)
    #[arg(long, global = true)]
    pub(crate) log_json: bool,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) formula: Box<FormulaArgs>,
}

impl Cli {
    /// The `--format` of a run or a formula; `None` for other commands.
    pub(crate) fn output_format(&self) -> Option<Format> {
        match &self.command {
            Some(Command::Run(args)) => Some(args.output.format),
            Some(_) => None,
            None => Some(self.formula.output.format),
        }
    }
}

/// `runtask -i ITEM -t TYPE [-a ARCH] runtask.yml`: a Taskotron formula.
#[derive(Args)]
#[command(next_help_heading = "Task formulas (libtaskotron style)")]
pub(crate) struct FormulaArgs {
    /// The task formula (runtask.yml) to run
    #[arg(value_name = "FORMULA", requires_all = ["item", "item_type"])]
    pub(crate) formula: Option<PathBuf>,
    /// The item to check, e.g. an NVR (xchat-0.5-1.fc20) or an update id
    #[arg(short = 'i', long = "item", value_name = "ITEM")]
    pub(crate) item: Option<String>,
    /// The item's type; the formula sees the item as ${TYPE} too.
    /// libtaskotron's types, and debian_source: a .dsc, or the id of a
    /// debian:source-package artifact
    #[arg(short = 't', long = "type", value_name = "TYPE", value_parser = [
        "koji_build", "bodhi_update", "koji_tag", "compose", "docker_image",
        "dist_git_commit", "git_commit", "module_build", "pull_request",
        "debian_source",
    ])]
    pub(crate) item_type: Option<String>,
    /// Architecture of the item
    #[arg(
        short = 'a',
        long = "arch",
        value_name = "ARCH",
        default_value = "noarch"
    )]
    pub(crate) arch: String,
    /// Job id, e.g. from the scheduler
    #[arg(short = 'j', long = "jobid", value_name = "JOBID", default_value = "-")]
    pub(crate) jobid: String,
    /// Run id; the artifacts go to ARTIFACTSDIR/UUID [default: a UTC timestamp]
    #[arg(long, value_name = "UUID")]
    pub(crate) uuid: Option<String>,
    /// Where the runs' artifact directories go [default: $XDG_DATA_HOME/taskhost/artifacts]
    #[arg(long, value_name = "DIR")]
    pub(crate) artifactsdir: Option<PathBuf>,
    /// Run the formula on this machine (the default)
    #[arg(long, group = "where")]
    pub(crate) local: bool,
    /// Run the formula's commands on a remote machine over ssh (the
    /// python and shell directives, and backend auto)
    #[arg(long, value_name = "USER@HOST[:PORT]", group = "where")]
    pub(crate) ssh: Option<String>,
    /// Private key for --ssh
    #[arg(long, visible_alias = "ssh-key", value_name = "KEY", requires = "ssh")]
    pub(crate) ssh_privkey: Option<PathBuf>,
    /// Check the --ssh host's key against FILE only [default: taskhost's
    /// own store, which records a key at first use]
    #[arg(long, value_name = "FILE", requires = "ssh")]
    pub(crate) ssh_known_hosts: Option<PathBuf>,
    /// Run the formula's commands in a disposable virtual machine booted
    /// by qemu from --vm-image (the python and shell directives, and
    /// backend auto)
    #[arg(long, group = "where", requires = "vm_image")]
    pub(crate) libvirt: bool,
    /// The debian:system-image artifact (id) that --libvirt boots, e.g.
    /// one made by `runtask run simplesystemimagebuild`
    #[arg(long, value_name = "ID", requires = "libvirt")]
    pub(crate) vm_image: Option<u64>,
    /// Keep the disposable machine after the run (the log says how to
    /// reach it and stop it)
    #[arg(long, requires = "libvirt")]
    pub(crate) no_destroy: bool,
    #[command(flatten)]
    pub(crate) grants: GrantArgs,
    /// Keep the formula's workspace directory after the run
    #[arg(long)]
    pub(crate) keep_workspace: bool,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    #[command(flatten)]
    pub(crate) plugins: PluginDirs,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run one task (debusine style): TASK is a shipped plugin's name, a
    /// plugin in a plugin directory, or a path to a .wasm file
    Run(Box<RunArgs>),
    /// List and inspect plugins
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Work with the artifact store
    #[command(subcommand)]
    Artifact(ArtifactCommand),
    /// Work with collections (debusine's): named sets of artifacts such as
    /// a suite (bookworm@debian:suite) or its lintian analyses
    #[command(subcommand)]
    Collection(CollectionCommand),
    /// Queue a run for the workers (needs a shared store and --nats);
    /// prints its run id
    Submit(Box<SubmitArgs>),
    /// Where a queued run is: queued, running, finished or dead
    Status {
        /// The run's id (printed by `runtask submit`)
        run_id: String,
        /// Print it as JSON
        #[arg(long)]
        json: bool,
    },
    /// Wait for a queued run to end, then print its report as `runtask run`
    /// does (and exit with its code)
    Wait {
        /// The run's id (printed by `runtask submit`)
        run_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Take runs from the queue and run them, each as `runtask run` would,
    /// under this worker's policy
    Worker(Box<WorkerArgs>),
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
pub(crate) struct SubmitArgs {
    /// The task's plugin name (a worker finds it by name), or with -i and
    /// -t a task formula (runtask.yml): its directory goes along
    #[arg(value_name = "TASK|FORMULA")]
    pub(crate) task: String,
    /// The formula's item (as `runtask -i ITEM -t TYPE FORMULA`)
    #[arg(
        short = 'i',
        long = "item",
        value_name = "ITEM",
        requires = "item_type",
        conflicts_with = "data"
    )]
    pub(crate) item: Option<String>,
    /// The formula item's type
    #[arg(short = 't', long = "type", value_name = "TYPE", requires = "item", value_parser = [
        "koji_build", "bodhi_update", "koji_tag", "compose", "docker_image",
        "dist_git_commit", "git_commit", "module_build", "pull_request",
        "debian_source",
    ])]
    pub(crate) item_type: Option<String>,
    /// The formula item's architecture
    #[arg(
        short = 'a',
        long = "arch",
        value_name = "ARCH",
        default_value = "noarch"
    )]
    pub(crate) arch: String,
    /// Job id, e.g. from the scheduler
    #[arg(short = 'j', long = "jobid", value_name = "JOBID", default_value = "-")]
    pub(crate) jobid: String,
    /// task_data as JSON or YAML: a file, or - for stdin [default: {}]
    #[arg(long, value_name = "FILE|-")]
    pub(crate) data: Option<String>,
    /// The run id [default: a new one]; submitting an id again runs it once
    #[arg(long, value_name = "ID")]
    pub(crate) run_id: Option<String>,
    /// Only workers started with this --tag take it
    #[arg(long, default_value = "default")]
    pub(crate) tag: String,
}

#[derive(Args)]
pub(crate) struct WorkerArgs {
    /// Runs at once
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub(crate) concurrency: usize,
    /// Take the runs submitted with this tag
    #[arg(long, default_value = "default")]
    pub(crate) tag: String,
    /// This worker's name in `runtask status` [default: HOSTNAME-PID]
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Seconds before an unacknowledged run is redelivered (the worker
    /// sends progress well before)
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub(crate) ack_wait: u64,
    /// Deliveries of a crashing run before it is dead-lettered
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub(crate) max_deliver: i64,
    /// On SIGTERM, seconds that current runs may go on before they are
    /// handed back to the queue
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub(crate) drain: u64,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464)
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub(crate) grants: GrantArgs,
    #[command(flatten)]
    pub(crate) plugins: PluginDirs,
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// Plugin name or .wasm path
    pub(crate) task: String,
    /// task_data as JSON or YAML: a file, or - for stdin [default: {}]
    #[arg(long, value_name = "FILE|-")]
    pub(crate) data: Option<String>,
    #[command(flatten)]
    pub(crate) grants: GrantArgs,
    /// Keep the task's workspace directory after the run
    #[arg(long)]
    pub(crate) keep_workspace: bool,
    /// Install missing Debian packages the plugin needs (apt-get, as root)
    #[arg(long)]
    pub(crate) install_deps: bool,
    /// The machine of the ssh backend (`backend: ssh` in task_data;
    /// `auto` then picks it when no environment is given)
    #[arg(long, value_name = "USER@HOST[:PORT]")]
    pub(crate) ssh: Option<String>,
    /// Private key for --ssh
    #[arg(long, visible_alias = "ssh-key", value_name = "KEY", requires = "ssh")]
    pub(crate) ssh_privkey: Option<PathBuf>,
    /// Check the --ssh host's key against FILE only [default: taskhost's
    /// own store, which records a key at first use]
    #[arg(long, value_name = "FILE", requires = "ssh")]
    pub(crate) ssh_known_hosts: Option<PathBuf>,
    /// Keep the virtual machines of the qemu backend after the run (the
    /// log says how to reach one and stop it)
    #[arg(long)]
    pub(crate) no_destroy: bool,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    #[command(flatten)]
    pub(crate) plugins: PluginDirs,
}

/// What a run prints, and where its ResultYAML also goes.
#[derive(Args)]
pub(crate) struct OutputArgs {
    /// What to print on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
    /// Also write the ResultYAML to FILE
    #[arg(long, value_name = "FILE")]
    pub(crate) results: Option<PathBuf>,
}

/// The operator's grants for this run. Deny wins over allow.
#[derive(Args)]
pub(crate) struct GrantArgs {
    /// Policy file [default: $XDG_CONFIG_HOME/taskhost/policy.toml, then /etc/taskhost/policy.toml]
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Grant an exec pattern: `*` one argument, trailing `**` the rest (e.g. 'blhc --debian **')
    #[arg(long, value_name = "PATTERN")]
    pub(crate) allow_exec: Vec<String>,
    /// Deny an exec pattern
    #[arg(long, value_name = "PATTERN")]
    pub(crate) deny_exec: Vec<String>,
    /// Grant a backend (local, ...)
    #[arg(long, value_name = "NAME")]
    pub(crate) allow_backend: Vec<String>,
    /// Deny a backend
    #[arg(long, value_name = "NAME")]
    pub(crate) deny_backend: Vec<String>,
    /// Grant an environment variable name
    #[arg(long, value_name = "VAR")]
    pub(crate) allow_env: Vec<String>,
    /// Deny an environment variable name
    #[arg(long, value_name = "VAR")]
    pub(crate) deny_env: Vec<String>,
    /// Grant a URL prefix: scheme://host[:port]/path, host:* for any port,
    /// or file:///dir/ for local files under a directory
    #[arg(long, value_name = "PREFIX")]
    pub(crate) allow_url: Vec<String>,
    /// Deny a URL prefix
    #[arg(long, value_name = "PREFIX")]
    pub(crate) deny_url: Vec<String>,
    /// Grant store lookups matching a pattern (e.g. 'debian/match:*')
    #[arg(long, value_name = "PATTERN")]
    pub(crate) allow_lookup: Vec<String>,
    /// Grant adding items to and removing items from collections matching
    /// NAME@CATEGORY (e.g. 'bookworm@debian:suite-lintian')
    #[arg(long, value_name = "PATTERN")]
    pub(crate) allow_collection: Vec<String>,
    /// Grant submitting child runs of TASK (e.g. lintian); each child runs
    /// under TASK's own grants
    #[arg(long, value_name = "TASK")]
    pub(crate) allow_submit: Vec<String>,
    /// Memory limit of the plugin (e.g. 256MiB)
    #[arg(long, value_name = "SIZE")]
    pub(crate) memory: Option<String>,
    /// Deadline of the run (e.g. 30m, 2h)
    #[arg(long, value_name = "DURATION")]
    pub(crate) timeout: Option<String>,
    /// Bytes kept of each command's stdout and stderr (e.g. 64MiB)
    #[arg(long, value_name = "SIZE")]
    pub(crate) output_limit: Option<String>,
}

#[derive(Args)]
pub(crate) struct PluginDirs {
    /// Extra directory to search for NAME.wasm plugins
    #[arg(long, value_name = "DIR")]
    pub(crate) plugin_dir: Vec<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// A summary for people
    Human,
    /// The whole report as JSON
    Json,
    /// ResultYAML
    Yaml,
    /// JUnit XML
    Junit,
    /// tmt's results.yaml, for a tmt test with `result: custom` (Fedora
    /// CI): the run as `/`, each result as `/CHECKNAME/ITEM`; logs are
    /// listed relative to $TMT_TEST_DATA, copied there if they are elsewhere
    Tmt,
}

#[derive(Subcommand)]
pub(crate) enum PluginCommand {
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
    /// Report what the preflight would need from the policy before this
    /// plugin may start, without running it: the component is compiled and
    /// linked, its manifest checked, its identity and every declared
    /// capability weighed against the policy and the --allow/--deny flags.
    /// Exit code 0 when a run would start, 3 when it would be refused
    Check {
        /// Plugin name or .wasm path
        plugin: String,
        #[command(flatten)]
        plugins: PluginDirs,
        #[command(flatten)]
        grants: Box<GrantArgs>,
        /// Also require the backend a run opens (as task_data's `backend`)
        #[arg(long, value_name = "NAME")]
        backend: Vec<String>,
    },
    /// Write a new plugin crate: manifest, code, tests on the fake host
    /// (and, for a task, the integration harness), and print the policy
    /// table that grants it
    New {
        /// The plugin's name (also the crate's)
        name: String,
        /// What to write
        #[arg(long, value_enum, default_value = "task")]
        kind: super::scaffold::Kind,
        /// In which language
        #[arg(long, value_enum, default_value = "rust")]
        lang: super::scaffold::Lang,
        /// Where [default: ./NAME]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// A taskhost checkout to take the SDK from (path dependencies)
        /// [default: the sources runtask was built from, if present, else
        /// crates.io]
        #[arg(long, value_name = "DIR")]
        sources: Option<PathBuf>,
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
pub(crate) enum ArtifactCommand {
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
    /// Remove files no artifact uses (what a killed import or run left)
    Gc,
}

#[derive(Subcommand)]
pub(crate) enum CollectionCommand {
    /// Create a collection
    Create {
        /// NAME@CATEGORY, e.g. bookworm@debian:suite
        collection: String,
        /// The collection's data, a JSON object
        #[arg(long, value_name = "JSON", default_value = "{}")]
        data: String,
    },
    /// List collections
    List {
        /// Only collections of this category
        #[arg(long)]
        category: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a collection's active items (--history: removed ones too)
    Show {
        /// NAME@CATEGORY or NNN@collections
        collection: String,
        /// Removed and replaced items too
        #[arg(long)]
        history: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Add an artifact to a collection. A debian:suite names the item
    /// PACKAGE_VERSION (source) or PACKAGE_VERSION_ARCH (binary) itself
    Add {
        /// NAME@CATEGORY or NNN@collections
        collection: String,
        /// The artifact's id
        artifact: u64,
        /// The item's name [default: as the collection's category names it]
        #[arg(long)]
        name: Option<String>,
        /// Per-item data, a JSON object, merged over what the category derives
        #[arg(long, value_name = "JSON")]
        data: Option<String>,
        /// Replace an active item of the same name
        #[arg(long)]
        replace: bool,
    },
    /// Remove an item (it stays in the history)
    Remove {
        /// NAME@CATEGORY or NNN@collections
        collection: String,
        /// The item's name
        name: String,
    },
    /// Fill a debian:suite collection from an apt repository: the Release
    /// file's signature is checked with gpgv, the Sources and Packages
    /// indices and every downloaded file against its hashes
    ImportApt(Box<ImportAptArgs>),
}

#[derive(Args)]
pub(crate) struct ImportAptArgs {
    /// The repository's base URL (http, https or file), e.g. http://deb.debian.org/debian
    #[arg(long, value_name = "URL")]
    pub(crate) mirror: String,
    /// The suite or codename, e.g. bookworm
    #[arg(long)]
    pub(crate) suite: String,
    /// Components to import (repeat, or comma-separated)
    #[arg(
        long = "component",
        value_name = "COMPONENT",
        value_delimiter = ',',
        default_value = "main"
    )]
    pub(crate) components: Vec<String>,
    /// Architectures whose binary packages are imported (repeat, or
    /// comma-separated) [default: the host's]
    #[arg(long = "architecture", value_name = "ARCH", value_delimiter = ',')]
    pub(crate) architectures: Vec<String>,
    /// Only these source packages and the binaries built from them
    /// [default: every package of the suite]
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub(crate) packages: Vec<String>,
    /// OpenPGP keyring (binary or armored) that signs the Release file
    /// [default: /usr/share/keyrings/debian-archive-keyring.gpg]
    #[arg(long, value_name = "FILE")]
    pub(crate) keyring: Option<PathBuf>,
    /// The collection to fill [default: SUITE@debian:suite]; created if missing
    #[arg(long, value_name = "NAME")]
    pub(crate) collection: Option<String>,
}

/// Parses the command line. Formula options (`-i`, `-t`, `--policy`, ...)
/// given before a subcommand are an error rather than silently ignored;
/// the global `-v`, `-d` and `--store` go anywhere.
pub(crate) fn parse_cli() -> Cli {
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
