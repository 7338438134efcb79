//! The wasmtime side: one Engine and Linker per process, an `InstancePre`
//! per plugin, a Store per run with memory limits and a wall-clock
//! deadline, and a WASI context that sees only the run's workspace.

mod cache;

pub use crate::capabilities::bindings;
use crate::capabilities::v0_1::exports as old;
use crate::capabilities::{RunContext, RunState};
use crate::manifest::{self, Contract, Kind, ManifestError, PluginInfo};
use anyhow::Result;
use bindings::directive::{DirectivePlugin, DirectivePluginPre};
use bindings::{TaskPlugin, TaskPluginPre};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimitsBuilder,
    UpdateDeadline,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx};

pub use cache::CompileCache;

/// How often the epoch advances; the granularity of deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Settings of a [`Runtime`].
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Most plugin instances alive at once (the pool's size).
    pub max_instances: u32,
    /// Most linear memory one instance may ever have; per-run limits from
    /// the policy are at most this.
    pub max_memory: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            max_instances: 64,
            max_memory: 4 << 30,
        }
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("compiling the plugin failed: {0:#}")]
    Compile(wasmtime::Error),
    #[error("the plugin does not fit this host: {0:#}")]
    Link(wasmtime::Error),
}

/// The process-wide wasm runtime.
pub struct Runtime {
    engine: Engine,
    linker: Linker<RunState>,
    cache: Option<CompileCache>,
    config: RuntimeConfig,
    ticker: Arc<AtomicBool>,
}

/// A loaded, linked plugin, ready to instantiate.
pub struct Plugin {
    pub info: PluginInfo,
    /// Where it came from (builtin name or file path).
    pub origin: String,
    /// Lowercase hex sha256 of its `.wasm`: its identity.
    pub sha256: String,
    /// The compiled form came from the on-disk cache.
    pub cached: bool,
    pre: Pre,
}

/// A pre-linked plugin of either world, of either contract.
enum Pre {
    Task(TaskPluginPre<RunState>),
    Directive(DirectivePluginPre<RunState>),
    Task01(bindings::v0_1::TaskPluginPre<RunState>),
    Directive01(bindings::v0_1::directive::DirectivePluginPre<RunState>),
}

/// An instance's exports.
enum Exports {
    Task(TaskPlugin),
    Directive(DirectivePlugin),
    Task01(bindings::v0_1::TaskPlugin),
    Directive01(bindings::v0_1::directive::DirectivePlugin),
}

/// What a plugin says about itself.
pub enum Described {
    Task(bindings::TaskInfo),
    Directive(bindings::directive::DirectiveInfo),
}

/// The limits of one run's sandbox.
#[derive(Clone, Copy, Debug)]
pub struct SandboxLimits {
    pub memory: u64,
    pub deadline: Instant,
    /// Cap on what the plugin writes to its own stdout and stderr.
    pub stdio_limit: usize,
    /// Most resource handles the plugin may hold (its `handles` quota).
    pub handles: u64,
}

/// Error raised inside the store when the deadline passes.
#[derive(Debug, thiserror::Error)]
#[error("the task ran past its deadline")]
pub struct DeadlineExceeded;

/// A live instance of a plugin in its own Store.
pub struct Instance {
    pub store: Store<RunState>,
    exports: Exports,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Runtime {
    /// Creates the engine (pooling allocator, epoch interruption) and the
    /// linker with WASI p2 and the taskhost interfaces.
    pub fn new(config: RuntimeConfig) -> Result<Self> {
        let mut pool = PoolingAllocationConfig::default();
        let n = config.max_instances;
        pool.total_component_instances(n)
            .total_core_instances(n * 4)
            .total_memories(n * 2)
            .total_tables(n * 4)
            .total_stacks(n)
            .max_memory_size(usize::try_from(config.max_memory).unwrap_or(usize::MAX));
        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        TaskPlugin::add_to_linker::<_, HasSelf<RunState>>(&mut linker, |state| state)?;
        bindings::v0_1::TaskPlugin::add_to_linker::<_, HasSelf<RunState>>(&mut linker, |s| s)?;

        let cache = match &config.cache_dir {
            Some(dir) => Some(CompileCache::open(dir, &engine)?),
            None => None,
        };

        let ticker = Arc::new(AtomicBool::new(true));
        let (alive, weak) = (ticker.clone(), engine.weak());
        std::thread::Builder::new()
            .name("taskhost-epoch".into())
            .spawn(move || {
                while alive.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;

        Ok(Runtime {
            engine,
            linker,
            cache,
            config,
            ticker,
        })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Reads the manifest (refusing a wrong API version before compiling),
    /// compiles or loads from cache, and pre-links the plugin.
    pub fn load(&self, wasm: &[u8], origin: impl Into<String>) -> Result<Plugin, LoadError> {
        let info = manifest::read(wasm)?;
        let (component, cached) = match &self.cache {
            Some(cache) => cache
                .load(&self.engine, wasm)
                .map_err(|e| LoadError::Compile(wasmtime::Error::msg(format!("{e:#}"))))?,
            None => (
                wasmtime::component::Component::new(&self.engine, wasm)
                    .map_err(LoadError::Compile)?,
                false,
            ),
        };
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(LoadError::Link)?;
        let pre = match (info.manifest.kind, info.contract()) {
            (Kind::Task, Contract::V0_2) => {
                Pre::Task(TaskPluginPre::new(pre).map_err(LoadError::Link)?)
            }
            (Kind::Directive, Contract::V0_2) => {
                Pre::Directive(DirectivePluginPre::new(pre).map_err(LoadError::Link)?)
            }
            (Kind::Task, Contract::V0_1) => {
                Pre::Task01(bindings::v0_1::TaskPluginPre::new(pre).map_err(LoadError::Link)?)
            }
            (Kind::Directive, Contract::V0_1) => Pre::Directive01(
                bindings::v0_1::directive::DirectivePluginPre::new(pre).map_err(LoadError::Link)?,
            ),
        };
        Ok(Plugin {
            info,
            origin: origin.into(),
            sha256: manifest::digest(wasm),
            cached,
            pre,
        })
    }

    /// Instantiates `plugin` in a fresh Store for one run. WASI sees only
    /// `run.workspace` (as `.`), no environment and no network.
    pub async fn instantiate(
        &self,
        plugin: &Plugin,
        run: RunContext,
        limits: SandboxLimits,
    ) -> Result<Instance> {
        let stdout = MemoryOutputPipe::new(limits.stdio_limit);
        let stderr = MemoryOutputPipe::new(limits.stdio_limit);
        let mut wasi = WasiCtx::builder();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .preopened_dir(run.workspace().root(), ".", FsPerms::ReadWrite)
            .map_err(|e| anyhow::anyhow!("opening the workspace for the plugin: {e:#}"))?;
        let memory = StoreLimitsBuilder::new()
            .memory_size(
                usize::try_from(limits.memory.min(self.config.max_memory)).unwrap_or(usize::MAX),
            )
            .trap_on_grow_failure(true)
            .build();
        let state = RunState::new(wasi.build(), memory, run);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s.limits());
        let deadline = limits.deadline;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(DeadlineExceeded.into())
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let exports = match &plugin.pre {
            Pre::Task(pre) => Exports::Task(pre.instantiate_async(&mut store).await?),
            Pre::Directive(pre) => Exports::Directive(pre.instantiate_async(&mut store).await?),
            Pre::Task01(pre) => Exports::Task01(pre.instantiate_async(&mut store).await?),
            Pre::Directive01(pre) => Exports::Directive01(pre.instantiate_async(&mut store).await?),
        };
        Ok(Instance {
            store,
            exports,
            stdout,
            stderr,
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

impl Instance {
    pub async fn describe(&mut self) -> wasmtime::Result<Described> {
        let store = &mut self.store;
        Ok(match &self.exports {
            Exports::Task(b) => {
                Described::Task(b.taskhost_plugin_task().call_describe(store).await?)
            }
            Exports::Directive(b) => {
                Described::Directive(b.taskhost_plugin_directive().call_describe(store).await?)
            }
            Exports::Task01(b) => Described::Task(old::task_info(
                b.taskhost_plugin_task().call_describe(store).await?,
            )),
            Exports::Directive01(b) => Described::Directive(old::directive_info(
                b.taskhost_plugin_directive().call_describe(store).await?,
            )),
        })
    }

    pub async fn validate(
        &mut self,
        task_data: &str,
    ) -> wasmtime::Result<Result<(), bindings::Error>> {
        let store = &mut self.store;
        match &self.exports {
            Exports::Task(b) => {
                b.taskhost_plugin_task()
                    .call_validate(store, task_data)
                    .await
            }
            Exports::Task01(b) => Ok(b
                .taskhost_plugin_task()
                .call_validate(store, task_data)
                .await?
                .map_err(Into::into)),
            _ => not_a_task(),
        }
    }

    pub async fn execute(
        &mut self,
        task_data: &str,
    ) -> wasmtime::Result<Result<bindings::Status, bindings::Error>> {
        let store = &mut self.store;
        match &self.exports {
            Exports::Task(b) => {
                b.taskhost_plugin_task()
                    .call_execute(store, task_data)
                    .await
            }
            Exports::Task01(b) => Ok(b
                .taskhost_plugin_task()
                .call_execute(store, task_data)
                .await?
                .map(old::status)
                .map_err(Into::into)),
            _ => not_a_task(),
        }
    }

    /// Runs a directive's action with checked params (JSON).
    pub async fn run_directive(
        &mut self,
        params: &str,
        context: &bindings::directive::Context,
    ) -> wasmtime::Result<Result<bindings::directive::Output, bindings::Error>> {
        let store = &mut self.store;
        match &self.exports {
            Exports::Directive(b) => {
                b.taskhost_plugin_directive()
                    .call_run(store, params, context)
                    .await
            }
            Exports::Directive01(b) => Ok(b
                .taskhost_plugin_directive()
                .call_run(store, params, &old::context(context))
                .await?
                .map(old::output)
                .map_err(Into::into)),
            _ => wasmtime::bail!("the plugin is a task, not a directive"),
        }
    }

    /// What the plugin wrote to its stdout and stderr (capped).
    pub fn stdio(&self) -> (Vec<u8>, Vec<u8>) {
        (
            self.stdout.contents().to_vec(),
            self.stderr.contents().to_vec(),
        )
    }

    pub fn into_state(self) -> RunState {
        self.store.into_data()
    }
}

fn not_a_task<T>() -> wasmtime::Result<T> {
    wasmtime::bail!("the plugin is a directive: use it as an action of a task formula")
}

/// A trap's reason in words a user understands.
pub fn describe_trap(error: &wasmtime::Error, limits: &SandboxLimits, timeout: Duration) -> String {
    if error.downcast_ref::<DeadlineExceeded>().is_some() {
        return format!("the task ran past its deadline ({})", humanize(timeout));
    }
    let text = format!("{error:#}");
    let full = error.chain().any(|e| {
        matches!(
            e.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    });
    if full {
        return format!(
            "the plugin held more than {} handles (files, streams, environments) at once: \
             the run's `handles` quota",
            limits.handles
        );
    }
    if text.contains("forcing trap when growing memory") || text.contains("memory allocation") {
        return format!(
            "the task went past its memory limit ({} MiB): {text}",
            limits.memory >> 20
        );
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::UnreachableCodeReached) => {
            return "the plugin panicked or aborted (wasm `unreachable`)".to_string();
        }
        Some(trap) => return format!("the plugin trapped: {trap}"),
        None => {}
    }
    format!("the plugin failed: {text}")
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

impl Plugin {
    pub fn name(&self) -> &str {
        &self.info.manifest.name
    }
}
