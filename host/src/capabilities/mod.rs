//! Host side of the WIT imports: one module per interface. Each module
//! owns its grant check, and every privileged function starts with it.

mod artifacts;
mod http;
mod log;
mod process;
mod results;
mod types;

use crate::manifest::Manifest;
use crate::policy::{Denied, Effective};
use crate::progress::{PluginProgress, Progress};
use crate::report::CheckResult;
use crate::runlog::RunLog;
use crate::runtime::bindings::Error;
use crate::store::{ArtifactId, ArtifactStore};
use crate::workspace::Workspace;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the capabilities know about the run they serve.
pub struct RunContext {
    pub run_id: String,
    pub manifest: Manifest,
    pub grants: Effective,
    /// Shared by the actions of a formula; removed with its last holder.
    pub workspace: Arc<Workspace>,
    pub store: Arc<dyn ArtifactStore>,
    /// Artifacts the plugin may read: the run's inputs and its creations.
    pub visible: HashSet<ArtifactId>,
    /// Artifacts created by this run, in order.
    pub created: Vec<ArtifactId>,
    pub results: Vec<CheckResult>,
    pub log: RunLog,
    pub progress: Progress,
    pub plugin_progress: PluginProgress,
    /// The run's deadline; commands never outlive it.
    pub deadline: Instant,
    /// Cap on each command's stdout and stderr files.
    pub output_limit: u64,
    /// Time between SIGTERM and SIGKILL for commands.
    pub kill_grace: Duration,
    /// Commands run so far (names default output files).
    pub commands: u32,
    /// Where the unshare backend keeps unpacked system tarballs.
    pub env_cache: std::path::PathBuf,
    /// Environments opened so far (names their scratch directories).
    pub environments: u32,
    /// How commands' processes are contained.
    pub containment: crate::backends::Containment,
}

impl RunContext {
    /// A context with nothing seen, created or logged yet, plain progress,
    /// the default output cap and a 5 s kill grace.
    pub fn new(
        run_id: String,
        manifest: Manifest,
        grants: Effective,
        workspace: impl Into<Arc<Workspace>>,
        store: Arc<dyn ArtifactStore>,
        deadline: Instant,
    ) -> Self {
        RunContext {
            run_id,
            manifest,
            grants,
            workspace: workspace.into(),
            store,
            visible: HashSet::new(),
            created: Vec::new(),
            results: Vec::new(),
            log: RunLog::new(),
            progress: Progress::Plain,
            plugin_progress: PluginProgress::new(Progress::Plain),
            deadline,
            output_limit: crate::run::DEFAULT_OUTPUT_LIMIT,
            kill_grace: Duration::from_secs(5),
            commands: 0,
            env_cache: crate::run::default_env_cache(),
            environments: 0,
            containment: crate::backends::Containment::default(),
        }
    }

    pub fn plugin(&self) -> &str {
        &self.manifest.name
    }

    /// Logs a refused call and turns it into the WIT error.
    fn denied(&self, call: &str, denied: Denied) -> Error {
        let message = denied.to_string();
        self.log
            .warn("capability", &format!("denied {call}: {message}"));
        Error::AccessDenied(message)
    }

    /// Logs a refused artifact access (outside the run's scope).
    fn denied_artifact(&self, call: &str, id: ArtifactId) -> Error {
        let message = format!(
            "plugin '{}' may not use artifact {id}: it is neither an input of this run nor created by it",
            self.plugin()
        );
        self.log
            .warn("capability", &format!("denied {call}: {message}"));
        Error::AccessDenied(message)
    }
}

impl RunContext {
    /// Logs a refused lookup (a category the manifest does not take as input).
    fn denied_lookup(&self, query: &str, category: &str) -> Error {
        let message = format!(
            "plugin '{}' may not look up {category} artifacts ('{query}'): its manifest declares no [[inputs]] of that category",
            self.plugin()
        );
        self.log
            .warn("capability", &format!("denied artifacts.lookup: {message}"));
        Error::AccessDenied(message)
    }
}

/// A bad workspace path from the plugin.
fn bad_path(e: crate::workspace::BadPath) -> Error {
    Error::Invalid(e.to_string())
}
