//! Host side of the WIT imports: one module per interface. Every
//! privileged function starts with a decision of the run's
//! [`Granter`], which checks the grant and audits it.
//!
//! [`RunState`] is what a wasmtime Store holds for one plugin instance;
//! [`RunContext`] is the capabilities' view of the run inside it.

mod artifacts;
pub mod bindings;
mod collections;
mod http;
mod log;
mod process;
mod results;
mod runs;
mod types;
pub(crate) mod v0_1;

use crate::manifest::Manifest;
use crate::policy::{Denied, Granter, Quota};
use crate::progress::{PluginProgress, Progress};
use crate::report::CheckResult;
use crate::runlog::RunLog;
use crate::store::{ArtifactId, ArtifactStore};
use crate::workspace::Workspace;
use bindings::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use process::SYSTEM_TARBALL;

/// Default cap on each command's stdout and stderr files.
pub const DEFAULT_OUTPUT_LIMIT: u64 = 64 << 20;

/// The default cache of unpacked environments: a directory in TMPDIR.
pub fn default_env_cache() -> PathBuf {
    std::env::temp_dir().join("taskhost-environments")
}

/// Everything a Store holds for one plugin instance.
pub struct RunState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
    /// The capabilities' view of the run.
    pub run: RunContext,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl RunState {
    /// A state for `run`: WASI context, a resource table capped at the
    /// run's `handles` quota, and memory limits.
    pub fn new(wasi: WasiCtx, limits: StoreLimits, run: RunContext) -> Self {
        let mut table = ResourceTable::new();
        let handles = run.granter.quota(Quota::Handles);
        table.set_max_capacity(usize::try_from(handles).unwrap_or(usize::MAX));
        RunState {
            wasi,
            table,
            limits,
            run,
        }
    }

    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    pub fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }
}

/// How commands of a run are run.
#[derive(Clone, Debug)]
pub struct CommandSettings {
    /// Cap on each command's stdout and stderr.
    pub output_limit: u64,
    /// Time between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Where the unshare backend keeps unpacked system tarballs.
    pub env_cache: PathBuf,
    /// How commands' processes are contained (cgroup, or reaper program).
    pub containment: crate::backends::Containment,
    /// Memory limit of the programs a run spawns (`command-memory`).
    pub command_memory: Option<u64>,
    /// The machine of `--ssh`: where the ssh backend runs commands, and
    /// what `auto` picks without an environment artifact.
    pub ssh: Option<crate::backends::ssh::Remote>,
    /// The system image of `--libvirt`: what `auto` boots under the qemu
    /// backend when no environment artifact is given.
    pub vm_image: Option<ArtifactId>,
    /// Memory and CPUs of a qemu machine (`vm-memory`, `vm-cpus`).
    pub vm_shape: crate::backends::qemu::Shape,
    /// Keep qemu machines after the run (`--no-destroy`).
    pub keep_machines: bool,
    /// The machine a formula booted (`--libvirt`), for the qemu backend.
    pub machine: Option<std::sync::Arc<crate::backends::qemu::Machine>>,
}

impl Default for CommandSettings {
    fn default() -> Self {
        CommandSettings {
            output_limit: DEFAULT_OUTPUT_LIMIT,
            kill_grace: Duration::from_secs(5),
            env_cache: default_env_cache(),
            containment: crate::backends::Containment::default(),
            command_memory: None,
            ssh: None,
            vm_image: None,
            vm_shape: crate::backends::qemu::Shape::default(),
            keep_machines: false,
            machine: None,
        }
    }
}

/// An environment a run opened, for its provenance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub backend: String,
    /// The environment artifact and its tarball's sha256.
    pub environment: Option<(ArtifactId, String)>,
    /// The machine of the ssh backend (`user@host:port`).
    pub machine: Option<String>,
}

/// What a finished instance leaves: results, the granter (created
/// artifacts, quota use, audit) and the environments it opened.
pub struct Harvest {
    pub results: Vec<CheckResult>,
    pub granter: Granter,
    pub opened: Vec<Opened>,
}

/// The capabilities' view of one run.
pub struct RunContext {
    run_id: String,
    manifest: Manifest,
    granter: Granter,
    /// Shared by the actions of a formula; removed with its last holder.
    workspace: Arc<Workspace>,
    store: Arc<dyn ArtifactStore>,
    results: Vec<CheckResult>,
    log: RunLog,
    progress: Progress,
    plugin_progress: PluginProgress,
    /// The run's deadline; commands never outlive it.
    deadline: Instant,
    settings: CommandSettings,
    /// Commands run so far (names default output files).
    commands: u32,
    /// Commands started and not yet ended (`environment.start`).
    running: usize,
    opened: Vec<Opened>,
    /// The run's inputs with their task_data keys (`artifacts.inputs`).
    inputs: Vec<(String, ArtifactId)>,
    /// A quota cut the plugin's log or progress (noted once).
    log_cut: bool,
    progress_cut: bool,
    /// Starts submitted runs; none: `runs.submit` is refused.
    spawner: Option<Arc<dyn crate::run::children::Spawner>>,
    /// Runs this run submitted (or reused), by id.
    children: runs::Children,
}

impl RunContext {
    /// A context with nothing logged or emitted yet, plain progress and
    /// default command settings.
    pub fn new(
        run_id: &str,
        manifest: Manifest,
        granter: Granter,
        workspace: Arc<Workspace>,
        store: Arc<dyn ArtifactStore>,
        deadline: Instant,
    ) -> Self {
        RunContext {
            run_id: run_id.to_owned(),
            manifest,
            granter,
            workspace,
            store,
            results: Vec::new(),
            log: RunLog::new(),
            progress: Progress::Plain,
            plugin_progress: PluginProgress::new(Progress::Plain),
            deadline,
            settings: CommandSettings::default(),
            commands: 0,
            running: 0,
            opened: Vec::new(),
            inputs: Vec::new(),
            log_cut: false,
            progress_cut: false,
            spawner: None,
            children: runs::Children::default(),
        }
    }

    /// A context under `permit` that audits nothing, for benchmarks and
    /// embedders driving instances themselves.
    pub fn bare(
        run_id: impl AsRef<str>,
        manifest: Manifest,
        permit: crate::policy::Permit,
        workspace: impl Into<Arc<Workspace>>,
        store: Arc<dyn ArtifactStore>,
        deadline: Instant,
    ) -> Self {
        let creates = manifest.creates.clone();
        let granter = Granter::new(permit, creates, crate::policy::audit::Audit::none());
        Self::new(
            run_id.as_ref(),
            manifest,
            granter,
            workspace.into(),
            store,
            deadline,
        )
    }

    /// Logs into `log` (shared with the rest of the run).
    pub fn with_log(mut self, log: RunLog) -> Self {
        self.log = log;
        self
    }

    /// Shows progress (bars on a terminal) through `progress`.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.plugin_progress = PluginProgress::new(progress.clone());
        self.progress = progress;
        self
    }

    /// Starts the runs the plugin submits through `spawner`.
    pub fn with_children(
        mut self,
        spawner: Option<Arc<dyn crate::run::children::Spawner>>,
    ) -> Self {
        self.spawner = spawner;
        self
    }

    pub fn with_settings(mut self, settings: CommandSettings) -> Self {
        self.settings = settings;
        self
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn workspace(&self) -> &Arc<Workspace> {
        &self.workspace
    }

    pub fn kill_grace(&self) -> Duration {
        self.settings.kill_grace
    }

    pub fn granter(&mut self) -> &mut Granter {
        &mut self.granter
    }

    /// The run's inputs (task_data key, id) become readable.
    pub fn add_inputs(&mut self, inputs: &[(String, ArtifactId)]) {
        self.granter.add_inputs(inputs.iter().map(|(_, id)| *id));
        self.inputs.extend(inputs.iter().cloned());
    }

    /// Results, granter and environments, once the instance is done.
    pub fn harvest(self) -> Harvest {
        Harvest {
            results: self.results,
            granter: self.granter,
            opened: self.opened,
        }
    }

    fn plugin(&self) -> &str {
        &self.manifest.name
    }

    /// Runs `f` on the store off the async threads: the index waits on a
    /// lock and syncs to disk, and other runs (a run's children) share
    /// those threads.
    async fn store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn ArtifactStore) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, crate::store::StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| crate::store::StoreError::Db(format!("store task: {e}")))?
    }

    /// Logs a refused call and turns it into the WIT error. Refusals of an
    /// exceeded quota are logged once.
    fn denied(&self, call: &str, denied: Denied) -> Error {
        let message = denied.to_string();
        let repeated = denied.capability == "quota"
            && self
                .granter
                .usage()
                .exceeded()
                .any(|(q, n)| q.key() == denied.subject && n > 1);
        if !repeated {
            self.log
                .warn("capability", &format!("denied {call}: {message}"));
        }
        Error::AccessDenied(message)
    }
}

/// A bad workspace path from the plugin.
fn bad_path(e: crate::workspace::BadPath) -> Error {
    Error::Invalid(e.to_string())
}
