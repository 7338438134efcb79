//! One sandboxed plugin instance, the single path by which task runs and
//! formula actions call plugin code: limits, context, instantiate, call
//! (under the deadline and the disk quota), harvest.

use super::disk::{self, Exceeded};
use super::{RunError, RunOptions};
use crate::capabilities::bindings::{self, Error as PluginError};
use crate::capabilities::{CommandSettings, Harvest, RunContext};
use crate::policy::audit::Audit;
use crate::policy::{Granter, Permit, Quota};
use crate::runlog::RunLog;
use crate::runtime::{Instance, Plugin, Runtime, SandboxLimits};
use crate::store::ArtifactStore;
use crate::workspace::Workspace;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Calls into the plugin under [`Sandbox::guard`]: `$call` is made from
/// the instance, while the guard holds the sandbox's other parts.
macro_rules! guarded {
    ($sandbox:ident, |$instance:ident| $call:expr) => {{
        let grace = $sandbox.context().kill_grace();
        let called = {
            let Sandbox {
                instance: $instance,
                limits,
                timeout,
                disk,
                ..
            } = &mut *$sandbox;
            Self::guard(limits, *timeout, disk, grace, $call).await
        };
        called.map_err(|stop| $sandbox.stopped(stop))
    }};
}

/// Defaults when the policy sets no limit.
pub const DEFAULT_MEMORY: u64 = 512 << 20;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2 * 3600);
/// Cap on what a plugin prints to its own stdout/stderr.
pub const STDIO_LIMIT: usize = 4 << 20;

/// What an instance is made of.
pub(crate) struct Setup<'a> {
    pub runtime: &'a Runtime,
    pub plugin: &'a Plugin,
    pub permit: Permit,
    pub run_id: &'a str,
    pub workspace: Arc<Workspace>,
    pub store: &'a Arc<dyn ArtifactStore>,
    pub options: &'a RunOptions,
    pub log: &'a RunLog,
}

/// How a call into the plugin was stopped, if it was.
pub(crate) enum Stopped {
    /// A trap, a limit, the deadline: the plugin crashed.
    Crashed(String),
    /// A quota ended the run (the message says which and how to raise it).
    Quota(String),
}

/// A live instance and what watches it.
pub(crate) struct Sandbox {
    instance: Instance,
    limits: SandboxLimits,
    timeout: Duration,
    disk: disk::Watch,
    /// The disk quota's refusal, should it be passed.
    disk_refusal: (String, String),
    disk_used: Option<disk::Used>,
    handles_full: bool,
}

/// What an instance leaves behind.
pub(crate) struct Finished {
    pub harvest: Harvest,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// The sandbox limits under `permit`, starting now; and the timeout.
fn limits(permit: &Permit) -> (SandboxLimits, Duration) {
    let limits = permit.effective.limits();
    let timeout = limits.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let sandbox = SandboxLimits {
        memory: limits.memory.unwrap_or(DEFAULT_MEMORY),
        deadline: Instant::now() + timeout,
        stdio_limit: STDIO_LIMIT,
        handles: limits.quotas.limit(Quota::Handles),
    };
    (sandbox, timeout)
}

impl Sandbox {
    /// Instantiates the plugin with its granter, context and limits.
    pub async fn start(setup: Setup<'_>) -> Result<Sandbox, RunError> {
        let Setup {
            runtime,
            plugin,
            permit,
            run_id,
            workspace,
            store,
            options,
            log,
        } = setup;
        let (limits, timeout) = limits(&permit);
        let settings = CommandSettings {
            output_limit: permit
                .effective
                .limits()
                .output_limit
                .unwrap_or(crate::capabilities::DEFAULT_OUTPUT_LIMIT),
            kill_grace: options.kill_grace,
            env_cache: options.env_cache.clone(),
            containment: options.containment.clone(),
            command_memory: permit.effective.limits().command_memory,
            ssh: options.ssh.clone(),
            vm_image: options.vm_image,
            vm_shape: crate::backends::qemu::Shape {
                memory: permit
                    .effective
                    .limits()
                    .vm_memory
                    .unwrap_or(crate::backends::qemu::DEFAULT_MEMORY),
                cpus: permit
                    .effective
                    .limits()
                    .vm_cpus
                    .map_or(crate::backends::qemu::DEFAULT_CPUS, |n| {
                        u32::try_from(n).unwrap_or(u32::MAX)
                    }),
            },
            keep_machines: options.keep_machines,
            machine: options.machine.clone(),
        };
        let audit = Audit::new(
            run_id,
            &permit.identity.name,
            &permit.identity.digest(),
            options.runs_dir.as_deref(),
        );
        let manifest = plugin.info.manifest.clone();
        let granter = Granter::new(permit, manifest.creates.clone(), audit);
        let disk_refusal = (
            granter.describe_quota(Quota::Disk).to_string(),
            granter.describe_quota(Quota::DiskInodes).to_string(),
        );
        let (bytes, inodes) = (granter.quota(Quota::Disk), granter.quota(Quota::DiskInodes));
        let context = RunContext::new(
            run_id,
            manifest,
            granter,
            workspace.clone(),
            store.clone(),
            limits.deadline,
        )
        .with_log(log.clone())
        .with_progress(options.progress.clone())
        .with_settings(settings)
        .with_children(options.children.clone());
        let disk = disk::Watch::start(workspace.root().to_path_buf(), bytes, inodes)
            .map_err(|e| RunError::Internal(anyhow::anyhow!("starting the disk watch: {e}")))?;
        let instance = runtime
            .instantiate(plugin, context, limits)
            .await
            .map_err(RunError::Internal)?;
        Ok(Sandbox {
            instance,
            limits,
            timeout,
            disk,
            disk_refusal,
            disk_used: None,
            handles_full: false,
        })
    }

    /// The capabilities' view of the run.
    pub fn context(&mut self) -> &mut RunContext {
        &mut self.instance.store.data_mut().run
    }

    /// Runs `call` under the deadline (plus the kill grace, for host calls
    /// that do not see the epoch) and the disk quota.
    async fn guard<T>(
        limits: &SandboxLimits,
        timeout: Duration,
        disk: &disk::Watch,
        grace: Duration,
        call: impl Future<Output = wasmtime::Result<T>>,
    ) -> Result<T, (Stopped, Option<disk::Used>, bool)> {
        let backstop = tokio::time::Instant::from_std(limits.deadline + grace);
        tokio::select! {
            result = tokio::time::timeout_at(backstop, call) => match result {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(trap)) => {
                    let full = is_table_full(&trap);
                    Err((Stopped::Crashed(crate::runtime::describe_trap(&trap, limits, timeout)), None, full))
                }
                Err(_) => Err((Stopped::Crashed(format!(
                    "the task ran past its deadline ({}s)",
                    timeout.as_secs()
                )), None, false)),
            },
            exceeded = disk.exceeded() => Err((Stopped::Quota(String::new()), Some(match exceeded {
                Exceeded::Bytes(u) | Exceeded::Inodes(u) => u,
            }), false)),
        }
    }

    fn stopped(&mut self, stop: (Stopped, Option<disk::Used>, bool)) -> Stopped {
        let (stopped, used, full) = stop;
        self.handles_full |= full;
        match (stopped, used) {
            (Stopped::Quota(_), Some(used)) => {
                self.disk_used = Some(used);
                let why = if used.bytes > self.instance_quota(Quota::Disk) {
                    &self.disk_refusal.0
                } else {
                    &self.disk_refusal.1
                };
                Stopped::Quota(format!(
                    "{why}; the run was stopped and its workspace removed"
                ))
            }
            (Stopped::Crashed(mut why), _) => {
                let (_, stderr) = self.instance.stdio();
                if let Some(tail) = super::stderr_tail(&stderr) {
                    why.push_str(&format!("; the plugin's stderr ends with:\n{tail}"));
                }
                Stopped::Crashed(why)
            }
            (other, _) => other,
        }
    }

    /// Measures the workspace once more when a call returns: a run that
    /// wrote past its disk quota between two walks is still stopped.
    async fn check_disk(&mut self) -> Result<(), Stopped> {
        let root = self.context().workspace().root().to_path_buf();
        let (bytes, inodes) = (
            self.instance_quota(Quota::Disk),
            self.instance_quota(Quota::DiskInodes),
        );
        let measured =
            tokio::task::spawn_blocking(move || disk::measure(&root, bytes, inodes)).await;
        match measured {
            Ok((used, true)) => {
                Err(self.stopped((Stopped::Quota(String::new()), Some(used), false)))
            }
            _ => Ok(()),
        }
    }

    fn instance_quota(&mut self, quota: Quota) -> u64 {
        self.context().granter().quota(quota)
    }

    pub async fn validate(&mut self, data: &str) -> Result<Result<(), PluginError>, Stopped> {
        guarded!(self, |instance| instance.validate(data))
    }

    /// Runs the task; the workspace is measured once more when it returns.
    pub async fn execute(
        &mut self,
        data: &str,
    ) -> Result<Result<bindings::Status, PluginError>, Stopped> {
        let called = guarded!(self, |instance| instance.execute(data))?;
        self.check_disk().await?;
        Ok(called)
    }

    /// Runs a directive; the workspace is measured once more when it returns.
    pub async fn directive(
        &mut self,
        params: &str,
        context: &bindings::directive::Context,
    ) -> Result<Result<bindings::directive::Output, PluginError>, Stopped> {
        let called = guarded!(self, |instance| instance.run_directive(params, context))?;
        self.check_disk().await?;
        Ok(called)
    }

    /// Ends the instance: its results, granter (with the quotas the
    /// runtime enforced recorded) and what it printed.
    pub fn finish(self) -> Finished {
        let (stdout, stderr) = self.instance.stdio();
        let mut harvest = self.instance.into_state().run.harvest();
        if self.handles_full {
            harvest.granter.quota_hit(Quota::Handles);
        }
        if let Some(used) = self.disk_used {
            let _ = harvest.granter.gauge(Quota::Disk, used.bytes);
            let _ = harvest.granter.gauge(Quota::DiskInodes, used.inodes);
        }
        Finished {
            harvest,
            stdout,
            stderr,
        }
    }
}

/// Whether a trap came from a full resource table (the `handles` quota).
fn is_table_full(trap: &wasmtime::Error) -> bool {
    trap.chain().any(|e| {
        matches!(
            e.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    })
}
