//! The integration harness for plugin authors: runs a built `.wasm` in
//! the real host, with a temporary store and the policy a test gives, for
//! `cargo test` in a plugin crate against the real tool.
//!
//! ```no_run
//! use taskhost::testing::{Harness, build_plugin};
//!
//! let wasm = build_plugin(env!("CARGO_MANIFEST_DIR")).unwrap();
//! let harness = Harness::new(&wasm)
//!     .unwrap()
//!     .policy("exec = [\"blhc --debian **\"]\nbackends = [\"local\"]")
//!     .unwrap();
//! let log = harness.import(&["tests/data/hello.build"], "debian:package-build-log").unwrap();
//! let report = harness.run(serde_json::json!({"input": {"artifact": log}})).unwrap();
//! assert_eq!(report.status, taskhost::report::Status::Success);
//! ```
//!
//! (The fake host for native unit tests is `taskhost_sdk::testing`.)

use crate::manifest::Declares;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::policy::{Overrides, Permit, Policy};
use crate::report::Report;
use crate::run::{RunOptions, run_task};
use crate::runtime::{Plugin, Runtime, RuntimeConfig};
use crate::store::{Artifact, ArtifactId, ArtifactStore, ListFilter, LocalStore};

/// What went wrong in the harness itself (not in the plugin's run, which
/// the [`Report`] describes).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HarnessError(String);

fn err(what: impl std::fmt::Display) -> HarnessError {
    HarnessError(what.to_string())
}

/// Builds the plugin crate at `manifest_dir` for `wasm32-wasip2`
/// (release) with a nested cargo, in its own target dir beside the
/// workspace's (so it does not wait on the `cargo test` that runs it);
/// returns the `.wasm`. Built once per test process.
pub fn build_plugin(manifest_dir: impl AsRef<Path>) -> Result<PathBuf, HarnessError> {
    static BUILT: std::sync::Mutex<Vec<(PathBuf, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let dir = manifest_dir.as_ref();
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, wasm)) = built.iter().find(|(d, _)| d == dir) {
        return Ok(wasm.clone());
    }
    let wasm = build(dir)?;
    built.push((dir.to_path_buf(), wasm.clone()));
    Ok(wasm)
}

fn build(dir: &Path) -> Result<PathBuf, HarnessError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(&cargo)
        .current_dir(dir)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| err(format!("running cargo metadata: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "cargo metadata in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| err(format!("cargo metadata: {e}")))?;
    let manifest = dir.join("Cargo.toml");
    let canonical = std::fs::canonicalize(&manifest).unwrap_or(manifest);
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(canonical.as_path()))
        .and_then(|p| p["name"].as_str())
        .ok_or_else(|| err(format!("no package at {}", dir.display())))?
        .to_owned();
    let target = meta["target_directory"]
        .as_str()
        .map(|t| Path::new(t).join("taskhost-harness"))
        .ok_or_else(|| err("cargo metadata names no target directory"))?;
    let status = std::process::Command::new(&cargo)
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            &package,
        ])
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .map_err(|e| err(format!("running cargo build: {e}")))?;
    if !status.success() {
        return Err(err(format!(
            "building {package} for wasm32-wasip2 failed (see the errors above; \
             `rustup target add wasm32-wasip2` adds the target)"
        )));
    }
    Ok(target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_"))))
}

/// One plugin, a temporary store and workspace, and a policy.
pub struct Harness {
    dir: tempfile::TempDir,
    runtime: Runtime,
    plugin: Plugin,
    store: Arc<LocalStore>,
    policy: Policy,
    overrides: Overrides,
}

impl Harness {
    /// Loads the plugin at `wasm` (compiled once per harness) and opens an
    /// empty store; the policy grants nothing yet.
    pub fn new(wasm: impl AsRef<Path>) -> Result<Self, HarnessError> {
        let wasm = wasm.as_ref();
        let bytes = std::fs::read(wasm).map_err(|e| err(format!("{}: {e}", wasm.display())))?;
        let dir = tempfile::tempdir().map_err(err)?;
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(dir.path().join("compiled")),
            max_instances: 4,
            ..RuntimeConfig::default()
        })
        .map_err(|e| err(format!("{e:#}")))?;
        let plugin = runtime
            .load(&bytes, wasm.display().to_string())
            .map_err(|e| err(format!("{}: {e}", wasm.display())))?;
        let store = Arc::new(LocalStore::open(dir.path().join("store")).map_err(err)?);
        Ok(Harness {
            dir,
            runtime,
            plugin,
            store,
            policy: Policy::empty(),
            overrides: Overrides::default(),
        })
    }

    /// The grants, as the body of the plugin's `[plugins.NAME]` table
    /// (`exec = [...]`, `backends = [...]`, ...): the test is the operator.
    pub fn policy(mut self, table: &str) -> Result<Self, HarnessError> {
        let name = crate::policy::effective::toml_key(self.plugin.name());
        let text = format!("[plugins.{name}]\n{table}\n");
        let file = self.dir.path().join("policy.toml");
        std::fs::write(&file, &text).map_err(err)?;
        self.policy = Policy::from_toml(&text, &file).map_err(err)?;
        Ok(self)
    }

    /// Grants and denials as the `--allow-*`/`--deny-*` flags give them.
    pub fn overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// Imports `files` as one artifact of `category` (as `runtask
    /// artifact import`); returns its id.
    pub fn import(
        &self,
        files: &[impl AsRef<Path>],
        category: &str,
    ) -> Result<ArtifactId, HarnessError> {
        let paths: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_path_buf()).collect();
        crate::import::import(self.store.as_ref(), &paths, category, None, None)
            .map(|a| a.id)
            .map_err(err)
    }

    /// Runs the plugin on `task_data` and returns its report (a refusal, a
    /// crash and a failure are reports too).
    pub fn run(&self, task_data: serde_json::Value) -> Result<Report, HarnessError> {
        let declared = self.plugin.info.manifest.declared().map_err(err)?;
        let permit: Permit = self.policy.permit_trusted(
            self.plugin.name(),
            &self.plugin.sha256,
            declared,
            &self.overrides,
        );
        let options = RunOptions {
            workspace_parent: self.dir.path().join("workspaces"),
            runs_dir: Some(self.dir.path().join("store/runs")),
            env_cache: self.dir.path().join("environments"),
            ..RunOptions::default()
        };
        std::fs::create_dir_all(&options.workspace_parent).map_err(err)?;
        let store: Arc<dyn ArtifactStore> = self.store.clone();
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(err)?;
        tokio
            .block_on(run_task(
                &self.runtime,
                store,
                &self.plugin,
                task_data,
                permit,
                &options,
            ))
            .map_err(|e| err(format!("{e:#}")))
    }

    /// Every artifact in the store.
    pub fn artifacts(&self) -> Result<Vec<Artifact>, HarnessError> {
        self.store.list(&ListFilter::default()).map_err(err)
    }

    /// The store, to read artifacts' files and relations.
    pub fn store(&self) -> &LocalStore {
        &self.store
    }
}

pub mod services;
