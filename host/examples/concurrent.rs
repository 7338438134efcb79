//! N concurrent no-op tasks in one host: wall time and peak RSS.
//!
//!     cargo run --release -p taskhost --example concurrent -- [N] [MODE]
//!
//! N defaults to 1000. MODE:
//! * `live` (default): instantiate N instances of the hostile test plugin,
//!   each in its own pooled Store and workspace, hold all N alive at once
//!   (a barrier), then execute `{"action":"noop"}` in each and drop them:
//!   the worst case for memory, N instances really alive together;
//! * `run-task`: N concurrent `run_task` calls (tokio tasks), as a server
//!   running many jobs would make them; a no-op does not yield, so fewer
//!   than N are alive at any moment.
//!
//! The runtime's pool is sized for N (`max_instances = N`). The compile
//! cache is `$TMPDIR/taskhost-bench-cache`; when it is cold this process
//! compiles, then runs itself again so compilation is not in the peak RSS.
//! Peak RSS is `getrusage(RUSAGE_SELF).ru_maxrss` of this process.

use std::sync::Arc;
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
const NOOP: &str = r#"{"action":"noop"}"#;

fn peak_rss_kib() -> i64 {
    // SAFETY: getrusage fills the struct we pass; RUSAGE_SELF is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss
}

fn current_rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// A `kB` field of /proc/self/status.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count())
        .unwrap_or(0)
}

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

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let mode = args.get(2).cloned().unwrap_or_else(|| "live".into());
    let cache_dir = std::env::temp_dir().join("taskhost-bench-cache");

    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache_dir),
        max_instances: n,
        ..RuntimeConfig::default()
    })?;
    let wasm = std::fs::read(HOSTILE)?;
    let plugin = runtime.load(&wasm, HOSTILE)?;
    if !plugin.cached {
        eprintln!("compile cache was cold; compiled it, running again");
        drop((plugin, runtime));
        let status = std::process::Command::new(std::env::current_exe()?)
            .args(&args[1..])
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn ArtifactStore> = Arc::new(LocalStore::open(dir.path().join("store"))?);
    let workspaces = dir.path().join("ws");
    std::fs::create_dir_all(&workspaces)?;
    let grants = grants(&plugin);

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (runtime, plugin) = (Arc::new(runtime), Arc::new(plugin));
    let before_kib = current_rss_kib();
    let maps_before = map_count();
    let virtual_gib = status_kib("VmSize:") as f64 / (1 << 20) as f64;
    let start = Instant::now();
    let mut all_alive = None;
    let (ok, failed, maps_peak): (usize, Vec<String>, usize) = tokio.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        match mode.as_str() {
            "live" => {
                let barrier = Arc::new(tokio::sync::Barrier::new(n as usize + 1));
                for i in 0..n {
                    let (runtime, plugin, grants, store, workspaces, barrier) = (
                        runtime.clone(),
                        plugin.clone(),
                        grants.clone(),
                        store.clone(),
                        workspaces.clone(),
                        barrier.clone(),
                    );
                    set.spawn(async move {
                        let result = async {
                            let limits = SandboxLimits {
                                handles: 1000,
                                memory: DEFAULT_MEMORY,
                                deadline: Instant::now() + Duration::from_secs(600),
                                stdio_limit: STDIO_LIMIT,
                            };
                            let run = RunContext::bare(
                                format!("run{i}"),
                                plugin.info.manifest.clone(),
                                grants,
                                Workspace::create(&workspaces, &format!("run{i}"), false)?,
                                store,
                                limits.deadline,
                            );
                            runtime.instantiate(&plugin, run, limits).await
                        }
                        .await;
                        // Wait for all N, failed or not, so none is dropped early.
                        barrier.wait().await;
                        let mut instance = result.map_err(|e| format!("instantiate: {e:#}"))?;
                        match instance.execute(NOOP).await {
                            Ok(Ok(taskhost::runtime::bindings::Status::Success)) => Ok(()),
                            Ok(other) => Err(format!("execute: {other:?}")),
                            Err(e) => Err(format!("execute: {e:#}")),
                        }
                    });
                }
                barrier.wait().await;
                // All N instantiated (or failed) and still alive here.
                all_alive = Some(start.elapsed());
                let maps = map_count();
                let mut ok = 0;
                let mut failed = Vec::new();
                while let Some(r) = set.join_next().await {
                    match r.expect("task panicked") {
                        Ok(()) => ok += 1,
                        Err(e) => failed.push(e),
                    }
                }
                (ok, failed, maps)
            }
            "run-task" => {
                let data: serde_json::Value = serde_json::from_str(NOOP).unwrap();
                let options = RunOptions {
                    workspace_parent: workspaces.clone(),
                    runs_dir: Some(dir.path().join("store/runs")),
                    progress: Progress::Plain,
                    ..RunOptions::default()
                };
                for _ in 0..n {
                    let (runtime, plugin, grants, store, data, options) = (
                        runtime.clone(),
                        plugin.clone(),
                        grants.clone(),
                        store.clone(),
                        data.clone(),
                        options.clone(),
                    );
                    set.spawn(async move {
                        match run_task(&runtime, store, &plugin, data, grants, &options).await {
                            Ok(r) if r.status == taskhost::report::Status::Success => Ok(()),
                            Ok(r) => Err(format!("{}: {:?}", r.status, r.error)),
                            Err(e) => Err(format!("{e}")),
                        }
                    });
                }
                let mut ok = 0;
                let mut failed = Vec::new();
                while let Some(r) = set.join_next().await {
                    match r.expect("task panicked") {
                        Ok(()) => ok += 1,
                        Err(e) => failed.push(e),
                    }
                }
                (ok, failed, map_count())
            }
            other => panic!("unknown mode {other} (live, run-task)"),
        }
    });
    let wall = start.elapsed();
    let peak = peak_rss_kib();
    println!("mode={mode} n={n} ok={ok} failed={}", failed.len());
    println!(
        "wall={:.1} ms ({:.1} µs/task)",
        wall.as_secs_f64() * 1e3,
        wall.as_secs_f64() * 1e6 / f64::from(n)
    );
    if let Some(t) = all_alive {
        println!(
            "all {n} alive after {:.1} ms (workspaces made, instantiated); execute + drop took the rest",
            t.as_secs_f64() * 1e3
        );
    }
    println!(
        "peak_rss={:.1} MiB (before tasks {:.1} MiB; goal <= 512 MiB: {})",
        peak as f64 / 1024.0,
        before_kib as f64 / 1024.0,
        if peak <= 512 * 1024 { "met" } else { "MISSED" }
    );
    println!(
        "mappings: {maps_before} before, {maps_peak} with all alive (vm.max_map_count {})",
        {
            std::fs::read_to_string("/proc/sys/vm/max_map_count")
                .unwrap_or_default()
                .trim()
                .to_string()
        }
    );
    println!("address space reserved: {virtual_gib:.0} GiB (VmSize, pool included)");
    let mut reasons: Vec<&String> = failed.iter().collect();
    reasons.sort();
    reasons.dedup();
    for r in reasons.iter().take(5) {
        println!("failure: {r}");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        std::process::exit(1)
    }
}
