//! Runtime benchmarks (docs/performance.md has the figures and goals).
//!
//!     cargo bench -p taskhost --bench runtime             # everything
//!     cargo bench -p taskhost --bench runtime -- instance # one group
//!
//! Groups:
//! * `instance`: a no-op task of the hostile test plugin, in-process:
//!   instantiate in a fresh pooled Store (+ execute), with the run's
//!   workspace made outside the timed part, or inside it;
//! * `run_task`: the whole library call, as `runtask run` makes it;
//! * `load`: `Runtime::load` with an empty compile cache (compile + write),
//!   a warm one (deserialize), and no cache (compile only);
//! * `process`: the `runtask` binary end to end (warm cache) against
//!   `/bin/true`, spawned the same way.
//!
//! The concurrency figure (1000 tasks, peak RSS) is `examples/concurrent.rs`;
//! a per-step breakdown of one instance is `examples/pool_tuning.rs`.
//! Temporary dirs (store, workspaces, cache) follow `TMPDIR`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use taskhost::capabilities::RunContext;
use taskhost::manifest::Declares;
use taskhost::policy::{ExecPattern, Overrides, Permit, Policy};
use taskhost::progress::Progress;
use taskhost::run::{DEFAULT_MEMORY, RunOptions, STDIO_LIMIT, run_task};
use taskhost::runtime::{Plugin, Runtime, RuntimeConfig, SandboxLimits};
use taskhost::store::{ArtifactStore, LocalStore};
use taskhost::workspace::Workspace;

const HOSTILE: &str = env!("TASKHOST_TEST_PLUGIN_HOSTILE");
const RUNTASK: &str = env!("CARGO_BIN_EXE_runtask");
const NOOP: &str = r#"{"action":"noop"}"#;

/// What the hostile plugin declares, granted (as `HOSTILE_GRANTS` in the
/// e2e tests), so the run passes its preflight.
const GRANTS: &[&str] = &[
    "--allow-backend",
    "local",
    "--allow-exec",
    "echo hello *",
    "--allow-exec",
    "cat **",
    "--allow-exec",
    "sleep *",
    "--allow-exec",
    "sh -c *",
    "--allow-env",
    "HOSTILE_VAR",
];

fn grants(plugin: &Plugin) -> Permit {
    let name = plugin.name();
    let overrides = Overrides {
        allow_backend: vec!["local".into()],
        allow_exec: ["echo hello *", "cat **", "sleep *", "sh -c *"]
            .iter()
            .map(|p| ExecPattern::parse(p).unwrap())
            .collect(),
        allow_env: vec!["HOSTILE_VAR".into()],
        ..Overrides::default()
    };
    let declared = plugin.info.manifest.declared().unwrap();
    Policy::empty().permit_trusted(name, &plugin.sha256, declared, &overrides)
}

/// The in-process fixture: a runtime with a warm cache and the plugin.
struct Fixture {
    dir: tempfile::TempDir,
    runtime: Runtime,
    plugin: Plugin,
    grants: Permit,
    store: Arc<dyn ArtifactStore>,
    workspaces: PathBuf,
    next: AtomicU64,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(dir.path().join("cache")),
            max_instances: 16,
            ..RuntimeConfig::default()
        })
        .unwrap();
        let wasm = std::fs::read(HOSTILE).unwrap();
        runtime.load(&wasm, HOSTILE).unwrap(); // fills the cache
        let plugin = runtime.load(&wasm, HOSTILE).unwrap();
        assert!(plugin.cached);
        let grants = grants(&plugin);
        let store: Arc<dyn ArtifactStore> =
            Arc::new(LocalStore::open(dir.path().join("store")).unwrap());
        let workspaces = dir.path().join("ws");
        std::fs::create_dir_all(&workspaces).unwrap();
        Fixture {
            dir,
            runtime,
            plugin,
            grants,
            store,
            workspaces,
            next: AtomicU64::new(0),
        }
    }

    fn workspace(&self) -> Workspace {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Workspace::create(&self.workspaces, &format!("w{n}"), false).unwrap()
    }

    /// The context `run_task` builds, around `workspace`.
    fn context(&self, workspace: Workspace, deadline: Instant) -> RunContext {
        RunContext::bare(
            "bench",
            self.plugin.info.manifest.clone(),
            self.grants.clone(),
            workspace,
            self.store.clone(),
            deadline,
        )
    }

    fn limits(&self) -> SandboxLimits {
        SandboxLimits {
            handles: 1000,
            memory: DEFAULT_MEMORY,
            deadline: Instant::now() + Duration::from_secs(60),
            stdio_limit: STDIO_LIMIT,
        }
    }

    /// Instantiates (and executes the no-op) with a workspace made before;
    /// the Store is dropped (instance back to the pool) inside the timed
    /// part, the workspace directory is removed outside it.
    async fn timed_instance(&self, iters: u64, execute: bool) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let limits = self.limits();
            let context = self.context(self.workspace(), limits.deadline);
            let start = Instant::now();
            let mut instance = self
                .runtime
                .instantiate(&self.plugin, context, limits)
                .await
                .unwrap();
            if execute {
                let status = instance.execute(black_box(NOOP)).await.unwrap().unwrap();
                assert!(matches!(
                    status,
                    taskhost::runtime::bindings::Status::Success
                ));
            }
            let run = instance.into_state().run;
            total += start.elapsed();
            drop(run);
        }
        total
    }
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn instance(c: &mut Criterion) {
    let rt = tokio();
    let fx = std::sync::LazyLock::new(Fixture::new); // only if a bench here is selected
    let fx = &fx;
    let mut g = c.benchmark_group("instance");
    g.sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.bench_function("instantiate", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| fx.timed_instance(iters, false))
    });
    g.bench_function("instantiate_execute", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| fx.timed_instance(iters, true))
    });
    // The same, but making and removing the workspace directory too.
    g.bench_function("instantiate_execute_workspace", |b| {
        b.to_async(&rt).iter(|| async {
            let limits = fx.limits();
            let context = fx.context(fx.workspace(), limits.deadline);
            let mut instance = fx
                .runtime
                .instantiate(&fx.plugin, context, limits)
                .await
                .unwrap();
            instance.execute(black_box(NOOP)).await.unwrap().unwrap();
            drop(instance);
        })
    });
    g.finish();
}

fn whole_run(c: &mut Criterion) {
    let rt = tokio();
    let data: serde_json::Value = serde_json::from_str(NOOP).unwrap();
    let mut g = c.benchmark_group("run_task");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("noop", |b| {
        let fx = Fixture::new();
        // As `runtask run` sets them (results.yaml under the store, no bars).
        let options = RunOptions {
            workspace_parent: fx.workspaces.clone(),
            runs_dir: Some(fx.dir.path().join("store/runs")),
            progress: Progress::Plain,
            ..RunOptions::default()
        };
        b.to_async(&rt).iter(|| async {
            let report = run_task(
                &fx.runtime,
                fx.store.clone(),
                &fx.plugin,
                data.clone(),
                fx.grants.clone(),
                &options,
            )
            .await
            .unwrap();
            assert_eq!(
                report.status,
                taskhost::report::Status::Success,
                "{:?}",
                report.error
            );
        })
    });
    g.finish();
}

fn remove_cwasm(root: &Path) {
    for sub in std::fs::read_dir(root).unwrap().flatten() {
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            std::fs::remove_file(f.path()).unwrap();
        }
    }
}

fn load(c: &mut Criterion) {
    let wasm = &std::fs::read(HOSTILE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cached = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.clone()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let uncached = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut g = c.benchmark_group("load");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    g.bench_function("cold_cache", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                remove_cwasm(&cache);
                let start = Instant::now();
                let plugin = cached.load(black_box(wasm), "hostile").unwrap();
                total += start.elapsed();
                assert!(!plugin.cached);
            }
            total
        })
    });
    g.bench_function("warm_cache", |b| {
        cached.load(wasm, "hostile").unwrap();
        b.iter(|| {
            let plugin = cached.load(black_box(wasm), "hostile").unwrap();
            assert!(plugin.cached);
            plugin
        })
    });
    g.bench_function("no_cache", |b| {
        b.iter(|| uncached.load(black_box(wasm), "hostile").unwrap())
    });
    g.finish();
}

fn process(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("noop.json");
    std::fs::write(&data, NOOP).unwrap();
    let runtask = || {
        let mut cmd = Command::new(RUNTASK);
        cmd.args(["run", HOSTILE, "--data"])
            .arg(&data)
            .args(GRANTS)
            .env("TASKHOST_STORE", dir.path().join("store"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("TMPDIR", dir.path())
            .env_remove("RUNTASK_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let mut g = c.benchmark_group("process");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("runtask_noop", |b| {
        // Warm the compile cache (and check that the run succeeds).
        let out = runtask()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        b.iter(|| assert!(runtask().status().unwrap().success()))
    });
    g.bench_function("bin_true", |b| {
        b.iter(|| {
            assert!(
                Command::new("/bin/true")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .unwrap()
                    .success()
            )
        })
    });
    g.finish();
}

criterion_group!(benches, instance, whole_run, load, process);
criterion_main!(benches);
