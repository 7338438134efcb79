//! Where commands run. `local` runs them on the host itself; `unshare`
//! runs them in a system tarball inside user, mount and pid namespaces.
//!
//! A spawned program is outside the wasm sandbox: it can do whatever the
//! backend lets it. The local backend isolates nothing; it only enforces
//! argv-only spawning, a cleared environment, time limits and output caps.

pub mod local;
pub mod unshare;

use std::path::PathBuf;
use std::time::Duration;

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
}

/// How a command ended.
#[derive(Clone, Debug, Default)]
pub struct ProcessExit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub truncated: bool,
    pub duration: Duration,
}

/// PATH given to every command.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
