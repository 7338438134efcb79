//! What the flags make, once: where things live, the store, the runtime,
//! the run options, and the operator's grants.

use super::args::GrantArgs;
use super::{refusal, usage};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use taskhost::backends::ssh::{KnownHosts, Remote, Target};
use taskhost::manifest::Declares;
use taskhost::policy::{ExecPattern, LookupPattern, Overrides, Permit, Policy, UrlPrefix};
use taskhost::run::RunOptions;
use taskhost::runtime::{Runtime, RuntimeConfig};
use taskhost::store::{ArtifactStore, LocalStore, SharedConfig, SharedStore};

/// Where runtask keeps things, from `--store` and the XDG directories.
pub(crate) struct Config {
    /// The artifact store; runs' audit, results and provenance go to
    /// `runs/` in it.
    pub store_dir: PathBuf,
    /// Compiled plugins.
    pub compiled: PathBuf,
    /// Unpacked system tarballs of the unshare backend.
    pub environments: PathBuf,
    /// Where `plugin install` puts plugins.
    pub plugins: PathBuf,
    /// Where formulas keep their artifacts by default.
    pub artifacts: PathBuf,
    /// The ssh backend's known hosts store (host keys seen at first use).
    pub known_hosts: PathBuf,
    /// A shared store (`--store postgres://...`); `store_dir` is then
    /// this machine's cache of it.
    pub shared: Option<SharedConfig>,
    /// Its connection, made once.
    connected: std::sync::OnceLock<SharedStore>,
}

impl Config {
    pub fn new(store: Option<PathBuf>, nats: Option<String>, replicas: usize) -> Result<Config> {
        let data = xdg("XDG_DATA_HOME", ".local/share").join("taskhost");
        let cache = xdg("XDG_CACHE_HOME", ".cache").join("taskhost");
        let state = xdg("XDG_STATE_HOME", ".local/state").join("taskhost");
        let url = store
            .as_deref()
            .and_then(Path::to_str)
            .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"));
        let shared = match url {
            Some(url) => Some(SharedConfig {
                postgres: url.to_owned(),
                nats: nats.ok_or_else(|| {
                    usage("a shared store (--store postgres://...) keeps file contents in JetStream: give --nats nats://HOST:PORT (or TASKHOST_NATS)")
                })?,
                replicas,
                cache: cache.join("shared"),
            }),
            None => None,
        };
        Ok(Config {
            store_dir: match &shared {
                Some(s) => s.cache.clone(),
                None => store.unwrap_or_else(|| data.join("store")),
            },
            compiled: cache.join("compiled"),
            environments: cache.join("environments"),
            plugins: data.join("plugins"),
            artifacts: data.join("artifacts"),
            known_hosts: state.join("known_hosts"),
            shared,
            connected: std::sync::OnceLock::new(),
        })
    }

    /// The machine of `--ssh TARGET [--ssh-privkey KEY] [--ssh-known-hosts
    /// FILE]`, checked.
    pub fn remote(
        &self,
        target: Option<&str>,
        key: Option<&Path>,
        known_hosts: Option<&Path>,
    ) -> Result<Option<Remote>> {
        let Some(target) = target else {
            return Ok(None);
        };
        let target = Target::parse(target).map_err(|e| usage(format!("--ssh {e}")))?;
        let readable = |flag: &str, path: &Path| -> Result<PathBuf> {
            std::fs::File::open(path)
                .map_err(|e| usage(format!("{flag} {}: {e}", path.display())))?;
            std::path::absolute(path).map_err(|e| usage(format!("{flag}: {e}")))
        };
        let key = key.map(|k| readable("--ssh-privkey", k)).transpose()?;
        let known_hosts = match known_hosts {
            Some(file) => KnownHosts::Given(readable("--ssh-known-hosts", file)?),
            None => KnownHosts::FirstUse(self.known_hosts.clone()),
        };
        Ok(Some(Remote {
            target,
            key,
            known_hosts,
        }))
    }

    /// The local store (`verify` is for it alone).
    pub fn open_store(&self) -> Result<LocalStore> {
        if self.shared.is_some() {
            return Err(usage(
                "this command works on a local store (--store DIR); PostgreSQL and JetStream keep a shared one whole",
            ));
        }
        open_store(&self.store_dir)
    }

    /// The shared store of `--store postgres://...`.
    pub fn shared_store(&self) -> Result<SharedStore> {
        let Some(shared) = &self.shared else {
            return Err(usage(
                "the run queue needs a shared store: --store postgres://USER@HOST:PORT/DB --nats nats://HOST:PORT",
            ));
        };
        if let Some(store) = self.connected.get() {
            return Ok(store.clone());
        }
        let store = SharedStore::connect(shared).with_context(|| {
            format!(
                "opening the shared store {} (NATS {})",
                taskhost::store::shared::redact(&shared.postgres),
                shared.nats
            )
        })?;
        Ok(self.connected.get_or_init(|| store).clone())
    }

    /// Saves a run's records (`runs/RUN-ID/`) to a shared store, where
    /// every machine reads them; nothing to do for a local store.
    pub fn keep_run_records(&self, run_id: &str) -> Result<()> {
        if self.shared.is_some() {
            let dir = self.store_dir.join("runs").join(run_id);
            self.shared_store()?.save_run_files(run_id, &dir)?;
        }
        Ok(())
    }

    pub fn store(&self) -> Result<Arc<dyn ArtifactStore>> {
        Ok(match self.shared {
            Some(_) => Arc::new(self.shared_store()?),
            None => Arc::new(self.open_store()?),
        })
    }

    /// A runtime for at most `max_instances` plugin instances at once.
    pub fn runtime(&self, max_instances: u32) -> Result<Runtime> {
        Runtime::new(RuntimeConfig {
            cache_dir: Some(self.compiled.clone()),
            max_instances,
            ..RuntimeConfig::default()
        })
    }

    /// How runs go: records in the store's `runs/`, progress on a
    /// terminal, the environment cache.
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            runs_dir: Some(self.store_dir.join("runs")),
            progress: taskhost::progress::Progress::detect(),
            env_cache: self.environments.clone(),
            ..RunOptions::default()
        }
    }
}

/// The operator's grants for a command: the policy file and the command
/// line's `--allow-*`/`--deny-*` flags and limits.
pub(crate) struct Grants {
    pub policy: Policy,
    pub overrides: Overrides,
}

impl Grants {
    pub fn new(args: &GrantArgs) -> Result<Grants> {
        let policy = Policy::discover(args.policy.as_deref(), |k| std::env::var(k).ok())
            .map_err(|e| usage(e.to_string()))?;
        Ok(Grants {
            policy,
            overrides: overrides(args)?,
        })
    }

    /// Who `plugin` is, found at `origin`, and what it may do.
    pub fn permit(
        &self,
        plugin: &taskhost::runtime::Plugin,
        origin: taskhost::policy::Origin,
    ) -> Result<Permit> {
        permit(&self.policy, plugin, origin, &self.overrides)
    }
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(fallback)
        })
}

fn open_store(dir: &Path) -> Result<LocalStore> {
    LocalStore::open(dir).with_context(|| format!("opening the artifact store {}", dir.display()))
}

fn overrides(g: &GrantArgs) -> Result<Overrides> {
    let exec = |v: &[String]| -> Result<Vec<ExecPattern>> {
        v.iter()
            .map(|p| ExecPattern::parse(p).map_err(|e| usage(format!("exec pattern {p:?}: {e}"))))
            .collect()
    };
    let urls = |v: &[String]| -> Result<Vec<UrlPrefix>> {
        v.iter()
            .map(|u| UrlPrefix::parse(u).map_err(|e| usage(format!("URL prefix {u:?}: {e}"))))
            .collect()
    };
    Ok(Overrides {
        allow_exec: exec(&g.allow_exec)?,
        deny_exec: exec(&g.deny_exec)?,
        allow_backend: g.allow_backend.clone(),
        deny_backend: g.deny_backend.clone(),
        allow_env: g.allow_env.clone(),
        deny_env: g.deny_env.clone(),
        allow_url: urls(&g.allow_url)?,
        deny_url: urls(&g.deny_url)?,
        allow_lookup: g
            .allow_lookup
            .iter()
            .map(|l| {
                LookupPattern::parse(l).map_err(|e| usage(format!("lookup pattern {l:?}: {e}")))
            })
            .collect::<Result<_>>()?,
        allow_submit: g.allow_submit.clone(),
        allow_collection: g
            .allow_collection
            .iter()
            .map(|l| {
                LookupPattern::parse(l).map_err(|e| usage(format!("collection pattern {l:?}: {e}")))
            })
            .collect::<Result<_>>()?,
        memory: g
            .memory
            .as_deref()
            .map(|s| taskhost::policy::parse_size(s).map_err(|e| usage(format!("--memory: {e}"))))
            .transpose()?,
        output_limit: g
            .output_limit
            .as_deref()
            .map(|s| {
                taskhost::policy::parse_size(s).map_err(|e| usage(format!("--output-limit: {e}")))
            })
            .transpose()?,
        timeout: g
            .timeout
            .as_deref()
            .map(|s| {
                taskhost::policy::parse_duration(s).map_err(|e| usage(format!("--timeout: {e}")))
            })
            .transpose()?,
    })
}

/// Who `plugin` is, found at `origin`, and what the policy lets it do.
fn permit(
    policy: &Policy,
    plugin: &taskhost::runtime::Plugin,
    origin: taskhost::policy::Origin,
    overrides: &Overrides,
) -> Result<Permit> {
    let declared = plugin
        .info
        .manifest
        .declared()
        .map_err(|e| usage(e.to_string()))?;
    policy
        .permit(
            plugin.name(),
            &plugin.sha256,
            origin,
            declared,
            overrides,
            &taskhost::plugins::shipped_names(),
        )
        .map_err(|e| refusal(e.to_string()))
}
