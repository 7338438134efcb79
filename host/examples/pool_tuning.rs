//! Where the time of one pooled instantiate + no-op execute goes, and what
//! pooling-allocator settings change it. Builds its own Engine the way
//! `Runtime::new` does (same pool sizes, epoch interruption, async), with
//! WASI p2 and the taskhost imports stubbed (a no-op calls none of them),
//! so settings can be tried without editing the host.
//!
//!     cargo run --profile bench -p taskhost --example pool_tuning -- [ITERS] [SETTING...]
//!
//! SETTING: `keep-resident=BYTES` (linear memory and tables kept resident
//! and reset with memset instead of madvise), `stack-zeroing`,
//! `no-cow` (memory_init_cow off), `instances=N` (pool size, default 16),
//! `same-dir` (preopen one directory every time, not a fresh one),
//! `churn` (with `same-dir`: still make and remove an unused directory
//! each time, outside the timed part), or
//! `runtime`: time `Runtime::instantiate` + `Instance::execute` of the
//! host itself instead (no settings apply), with a fresh workspace each
//! time, made and removed outside the timed part, as the criterion bench.
//! Prints the median and mean of each step, in microseconds.

use std::time::{Duration, Instant};
use taskhost::manifest::Declares;
use taskhost::runtime::bindings::{Status, TaskPluginPre};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

const HOSTILE: &str = env!("TASKHOST_TEST_PLUGIN_HOSTILE");
const NOOP: &str = r#"{"action":"noop"}"#;

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let mean = v.iter().sum::<Duration>().as_secs_f64() / v.len() as f64;
    let med = v[v.len() / 2].as_secs_f64();
    let p90 = v[v.len() * 9 / 10].as_secs_f64();
    println!(
        "{name:<12} median {:>7.1} µs   mean {:>7.1} µs   p90 {:>7.1} µs",
        med * 1e6,
        mean * 1e6,
        p90 * 1e6
    );
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let iters: usize = args
        .first()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let mut keep = 0usize;
    let (mut zeroing, mut cow, mut n, mut same_dir, mut churn) = (false, true, 16u32, false, false);
    for a in args.iter().skip(1) {
        match a.split_once('=') {
            Some(("keep-resident", v)) => keep = v.parse()?,
            Some(("instances", v)) => n = v.parse()?,
            None if a == "stack-zeroing" => zeroing = true,
            None if a == "no-cow" => cow = false,
            None if a == "same-dir" => same_dir = true,
            None if a == "churn" => churn = true,
            None if a == "runtime" => return host_runtime(iters),
            _ => anyhow::bail!("unknown setting {a}"),
        }
    }
    println!("iters={iters} instances={n} keep-resident={keep} stack-zeroing={zeroing} cow={cow}");

    // As Runtime::new (RuntimeConfig::default().max_memory = 4 GiB).
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(n)
        .total_core_instances(n * 4)
        .total_memories(n * 2)
        .total_tables(n * 4)
        .total_stacks(n)
        .max_memory_size(4 << 30)
        .linear_memory_keep_resident(keep)
        .table_keep_resident(keep);
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .async_stack_zeroing(zeroing)
        .memory_init_cow(cow)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config)?;
    let wasm = std::fs::read(HOSTILE)?;
    let component = Component::new(&engine, &wasm)?;
    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    linker.define_unknown_imports_as_traps(&component)?;
    let pre = TaskPluginPre::new(linker.instantiate_pre(&component)?)?;
    let ws = tempfile::tempdir()?;
    let mut next = 0u64;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let steps = ["wasi+store", "instantiate", "execute", "drop", "total"];
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(iters); steps.len()];
    rt.block_on(async {
        for i in 0..iters + iters / 10 {
            let dir = if same_dir {
                if churn {
                    let d = ws.path().join("churn");
                    std::fs::create_dir(&d)?;
                    std::fs::remove_dir(&d)?;
                }
                ws.path().to_path_buf()
            } else {
                next += 1;
                let d = ws.path().join(format!("w{next}"));
                std::fs::create_dir(&d)?;
                d
            };
            let t0 = Instant::now();
            let mut wasi = WasiCtx::builder();
            wasi.stdout(MemoryOutputPipe::new(4 << 20))
                .stderr(MemoryOutputPipe::new(4 << 20))
                .allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false)
                .preopened_dir(&dir, ".", FsPerms::ReadWrite)?;
            let state = State {
                wasi: wasi.build(),
                table: ResourceTable::new(),
                limits: StoreLimitsBuilder::new()
                    .memory_size(512 << 20)
                    .trap_on_grow_failure(true)
                    .build(),
            };
            let mut store = Store::new(&engine, state);
            store.limiter(|s| &mut s.limits);
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(|_| Ok(wasmtime::UpdateDeadline::Yield(1)));
            let t1 = Instant::now();
            let bindings = pre.instantiate_async(&mut store).await?;
            let t2 = Instant::now();
            let status = bindings
                .taskhost_plugin_task()
                .call_execute(&mut store, NOOP)
                .await?;
            let t3 = Instant::now();
            assert!(matches!(status, Ok(Status::Success)));
            drop(store);
            let t4 = Instant::now();
            if !same_dir {
                std::fs::remove_dir(&dir)?;
            }
            if i >= iters / 10 {
                for (k, d) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0]
                    .into_iter()
                    .enumerate()
                {
                    times[k].push(d);
                }
            }
        }
        anyhow::Ok(())
    })?;
    for (name, v) in steps.iter().zip(times) {
        stats(name, v);
    }
    Ok(())
}

/// The host's own path: `Runtime::instantiate`, `Instance::execute`, and
/// `Instance::into_state` (the Store's drop), per step.
fn host_runtime(iters: usize) -> anyhow::Result<()> {
    use taskhost::capabilities::RunContext;
    use taskhost::policy::Policy;

    use taskhost::runtime::{Runtime, RuntimeConfig, SandboxLimits};
    use taskhost::workspace::Workspace;

    let dir = tempfile::tempdir()?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().join("cache")),
        max_instances: 16,
        ..Default::default()
    })?;
    let wasm = std::fs::read(HOSTILE)?;
    let plugin = runtime.load(&wasm, HOSTILE)?;
    let store: std::sync::Arc<dyn taskhost::store::ArtifactStore> =
        std::sync::Arc::new(taskhost::store::LocalStore::open(dir.path().join("store"))?);
    let name = plugin.name().to_string();
    let grants = Policy::empty().permit_trusted(
        &name,
        &plugin.sha256,
        plugin.info.manifest.declared()?,
        &Default::default(),
    );
    println!("host runtime: iters={iters}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let steps = ["instantiate", "execute", "into_state", "total"];
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(iters); steps.len()];
    rt.block_on(async {
        for i in 0..iters + iters / 10 {
            let limits = SandboxLimits {
                handles: 1000,
                memory: 512 << 20,
                deadline: Instant::now() + Duration::from_secs(60),
                stdio_limit: 4 << 20,
            };
            let run = RunContext::bare(
                "x",
                plugin.info.manifest.clone(),
                grants.clone(),
                Workspace::create(dir.path(), &format!("w{i}"), false)?,
                store.clone(),
                limits.deadline,
            );
            let t0 = Instant::now();
            let mut instance = runtime.instantiate(&plugin, run, limits).await?;
            let t1 = Instant::now();
            let status = instance.execute(NOOP).await?;
            let t2 = Instant::now();
            let run = instance.into_state().run;
            let t3 = Instant::now();
            assert!(matches!(status, Ok(Status::Success)));
            drop(run);
            if i >= iters / 10 {
                for (k, d) in [t1 - t0, t2 - t1, t3 - t2, t3 - t0].into_iter().enumerate() {
                    times[k].push(d);
                }
            }
        }
        anyhow::Ok(())
    })?;
    for (name, v) in steps.iter().zip(times) {
        stats(name, v);
    }
    Ok(())
}
