//! Where commands run. `local` runs them on the host itself; `unshare`
//! runs them in a system tarball inside user, mount and pid namespaces.
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
pub mod reaper;
pub mod unshare;

use std::path::PathBuf;
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

/// The `environment` resource handed to plugins.
#[derive(Debug)]
pub struct Environment {
    pub backend: Backend,
    /// The namespaces of an `unshare` environment.
    pub session: Option<unshare::Session>,
}

/// Backends this host knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Local,
    Unshare,
}

impl Backend {
    pub const ALL: &[&str] = &["local", "unshare"];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Unshare => "unshare",
        }
    }

    pub fn from_name(name: &str) -> Option<Backend> {
        match name {
            "local" => Some(Backend::Local),
            "unshare" => Some(Backend::Unshare),
            _ => None,
        }
    }

    /// Whether the backend runs commands in an environment artifact.
    pub fn takes_environment(self) -> bool {
        self == Backend::Unshare
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
