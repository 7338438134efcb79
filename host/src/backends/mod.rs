//! Where commands run: one [`Backend`] per file. `local` runs them on the
//! host itself; `unshare` runs them in a system tarball inside user, mount
//! and pid namespaces; `ssh` runs them on another machine (`--ssh`);
//! `qemu` runs them in a disposable virtual machine (`--libvirt`).
//!
//! A spawned program is outside the wasm sandbox: it can do whatever the
//! backend lets it. The local backend isolates nothing; it only enforces
//! argv-only spawning, a cleared environment, time limits and output caps.
//!
//! Every process a command starts ends with it, whatever it does to its
//! session or process group: each command runs in its own cgroup v2 where
//! the host allows it ([`cgroup`]), otherwise under a reaper process that
//! is a child subreaper ([`reaper`]). When the command ends or times out,
//! everything left in its cgroup or below its reaper is killed.

pub mod cgroup;
pub mod layers;
pub mod local;
pub mod qemu;
pub mod reaper;
pub mod ssh;
pub mod unshare;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How commands' processes are contained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Containment {
    /// A program that serves as a command's reaper (runtask itself, see
    /// [`reaper::serve_if_asked`]); used where no cgroup can be made.
    pub reaper: Option<PathBuf>,
    /// Give each command a cgroup where the host allows it; false always
    /// uses the reaper.
    pub cgroups: bool,
}

/// Setting this environment variable to `reaper` makes
/// [`Containment::default`] skip cgroups (tests of the fallback).
pub const CONTAINMENT_ENV: &str = "TASKHOST_CONTAINMENT";

impl Default for Containment {
    /// cgroups unless [`CONTAINMENT_ENV`] says `reaper`; this program as
    /// the reaper if it serves as one.
    fn default() -> Self {
        Containment {
            reaper: reaper::program(),
            cgroups: std::env::var_os(CONTAINMENT_ENV).is_none_or(|v| v != "reaper"),
        }
    }
}

/// Kills every process of every running command, waiting at most
/// `patience` (for an exit that cannot wait for the commands' own
/// cleanup, e.g. when a run is stuck).
pub fn kill_all(patience: Duration) {
    cgroup::kill_all();
    reaper::kill_all(patience);
}

/// What a backend keeps apart from the host (and `backend: auto` reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isolation {
    /// Commands run on the host itself, as runtask's user.
    None,
    /// Commands run in namespaces over a system tree of their own; they
    /// share the host's kernel (autopkgtest's `isolation-container`).
    Container,
    /// Commands run on a machine of their own (autopkgtest's
    /// `isolation-machine`).
    Machine,
}

/// Why a backend cannot open an environment here, or failed to.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The host lacks something the backend needs; the message says what
    /// and how to add it.
    #[error("the {backend} backend cannot run here: {why}")]
    Unavailable { backend: &'static str, why: String },
    #[error("{0}")]
    Failed(String),
}

/// A future a backend returns (boxed: backends are trait objects).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A command on its way: it owns all it needs, so it may be spawned and
/// outlive the call that made it. Dropping it kills the command.
pub type CommandFuture = BoxFuture<'static, std::io::Result<ProcessExit>>;

/// An environment artifact, resolved in the store.
#[derive(Clone, Debug)]
pub struct Image {
    pub id: crate::store::ArtifactId,
    /// Its category, one of the backend's [`Backend::environments`].
    pub category: String,
    /// Its file (tarball, disk image) and that file's sha256.
    pub file_name: String,
    pub path: PathBuf,
    pub sha256: String,
    /// The artifact's data (architecture, image_format, ...).
    pub data: serde_json::Value,
}

/// What opening an environment is given by the run.
pub struct OpenRequest<'a> {
    /// The environment artifact, for backends that take one.
    pub image: Option<Image>,
    /// The run's workspace, which commands see.
    pub workspace: &'a Path,
    /// A new directory of the workspace for the backend's own files.
    pub scratch: PathBuf,
    /// Debian packages the plugin declares it needs.
    pub packages: &'a [String],
    /// Where unpacked images and package layers are cached.
    pub cache_dir: &'a Path,
    /// The machine of `--ssh`, for the ssh backend.
    pub remote: Option<&'a ssh::Remote>,
    /// Memory and CPUs of a virtual machine (qemu backend).
    pub shape: qemu::Shape,
    /// Keep virtual machines after the run (`--no-destroy`).
    pub keep_machine: bool,
    /// A machine already booted (a formula's, under `--libvirt`): the
    /// qemu backend connects to it instead of booting the image.
    pub machine: Option<std::sync::Arc<qemu::Machine>>,
    /// Opening never outlives the run.
    pub deadline: std::time::Instant,
    pub log: &'a crate::runlog::RunLog,
    pub progress: &'a crate::progress::Progress,
}

/// A place where a plugin's commands run. One implementation per file of
/// this module; the process capability checks the grants and dispatches.
pub trait Backend: Sync {
    /// Its name in policies and task_data (`backends = ["unshare"]`).
    fn name(&self) -> &'static str;
    /// What it keeps apart from the host.
    fn isolation(&self) -> Isolation;
    /// Categories of environment artifact it opens; empty if it takes
    /// none.
    fn environments(&self) -> &'static [&'static str];
    /// Whether it can work on this host; the error says what is missing.
    fn check_available(&self) -> Result<(), BackendError>;
    /// Opens an environment in which commands run.
    fn open<'a>(
        &'a self,
        request: OpenRequest<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn EnvironmentSession>, BackendError>>;
}

/// An opened environment.
pub trait EnvironmentSession: Send + Sync + std::fmt::Debug {
    /// Whether commands see the host's workspace at its own path (then
    /// push and pull make no sense).
    fn shares_workspace(&self) -> bool;
    /// `spec` made to run in the environment (as root if `as_root`).
    fn command(&self, spec: ProcessSpec, as_root: bool) -> std::io::Result<CommandFuture>;
    /// Copies `spec.stdin` to `target` in the environment.
    fn push(&self, mut spec: ProcessSpec, target: &str) -> std::io::Result<CommandFuture> {
        spec.argv = ["cp", "/dev/stdin", target].map(String::from).to_vec();
        self.command(spec, true)
    }
    /// Copies `source` in the environment to `spec.stdout`.
    fn pull(&self, mut spec: ProcessSpec, source: &str) -> std::io::Result<CommandFuture> {
        spec.argv = ["cat", "--", source].map(String::from).to_vec();
        self.command(spec, true)
    }
    /// Ends every process in the environment and removes what it left.
    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), BackendError>>;
}

/// Every backend this host knows.
pub static ALL: &[&dyn Backend] = &[&local::Local, &unshare::Unshare, &ssh::Ssh, &qemu::Qemu];

/// The backend called `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Backend> {
    ALL.iter().copied().find(|b| b.name() == name)
}

/// The names of [`ALL`], for messages.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|b| b.name()).collect()
}

/// The `environment` resource handed to plugins.
pub struct Environment {
    pub backend: &'static dyn Backend,
    pub session: Box<dyn EnvironmentSession>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("backend", &self.backend.name())
            .field("session", &self.session)
            .finish()
    }
}

/// A command ready to run: argv checked against the grants, paths
/// resolved in the workspace, files opened.
pub struct ProcessSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// TMPDIR of the command: inside the workspace, removed with it.
    pub tmpdir: PathBuf,
    pub stdin: Option<std::fs::File>,
    pub stdout: std::fs::File,
    pub stderr: std::fs::File,
    pub timeout: Duration,
    /// Bytes kept of stdout and of stderr each; the rest is drained.
    pub output_limit: u64,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Memory limit of the command's processes together, in bytes. A
    /// limit this host cannot enforce fails the command.
    pub memory_limit: Option<u64>,
    pub containment: Containment,
}

/// How a command ended.
#[derive(Clone, Debug, Default)]
pub struct ProcessExit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub truncated: bool,
    pub duration: Duration,
    /// CPU time of all the command's processes, where known.
    pub cpu_time: Option<Duration>,
    /// Peak memory of the command's processes together (cgroup), or of
    /// its largest process (reaper), where known.
    pub peak_memory: Option<u64>,
    /// Whether the memory limit killed a process.
    pub oom_killed: bool,
}

/// PATH given to every command.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
