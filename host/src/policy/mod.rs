//! What a plugin may do: its manifest declares capabilities, the operator
//! grants them, and a plugin gets only the intersection, minus denials.
//! Every decision of a run goes through one [`Granter`], which writes one
//! audit line per decision ([`audit`]).
//!
//! # Capabilities
//!
//! * `exec`: command lines the host may run for the plugin, as
//!   [`ExecPattern`]s (`"blhc --debian **"`, or `["sh", "-c", "echo hi"]`):
//!   a literal token matches exactly, `*` exactly one argument, a trailing
//!   `**` zero or more; the program is matched literally (no `PATH` lookup).
//! * `backends`: sandbox backend names (`local`, `unshare`, ...).
//! * `env`: host environment variable names passed to the plugin.
//! * `urls`: [`UrlPrefix`]es the plugin may fetch from: scheme, host,
//!   port and path prefix (`https://deb.debian.org/debian/`). Also
//!   `http://127.0.0.1:*/` (any port), `https://*/` (any host; for
//!   manifests whose hosts the operator picks) and `file:///dir/` (local
//!   files under a directory, checked after symlinks are resolved).
//! * `lookups`: store lookups ([`LookupPattern`], `"debian/match:*"`,
//!   `"bookworm@debian:suite/*"`); a `NAME@CATEGORY` pattern lets the
//!   plugin read that collection's items.
//! * `collections`: collections it may add items to and remove items from
//!   (`"bookworm@debian:suite-lintian"`, `"*@debian:suite-lintian"`).
//! * `submit`: tasks it may submit as child runs (`"lintian"`); each child
//!   runs under that task's own grants.
//! * `ssh-hosts`: the machines the `ssh` backend may reach
//!   (`runtask --ssh user@host[:port]`), as `"user@host:port"` entries
//!   (`"user@host"` means port 22). In `[defaults]` and in plugin tables;
//!   every list that applies must hold the machine, and without any list
//!   any machine is allowed. The `backends` grant (`"ssh"`) is needed
//!   too.
//!
//! A command, backend, variable, URL or lookup is allowed only when it is
//! declared by the manifest, granted by the policy file or a CLI
//! `--allow-*` flag, and not denied by any `deny-*` key or `--deny-*`
//! flag. Deny always wins.
//!
//! # Who gets a table
//!
//! Grants belong to a plugin's content ([`identity`](Identity)): a table
//! without `sha256` grants the plugin shipped with runtask under that
//! name; any other plugin is granted only by a table whose `sha256` list
//! holds its digest. A `.wasm` named on the command line also gets that
//! command line's `--allow-*` flags.
//!
//! # Policy file
//!
//! Found by [`Policy::discover`]: `--policy FILE`, else
//! `$XDG_CONFIG_HOME/taskhost/policy.toml` (default `~/.config/...`), else
//! `/etc/taskhost/policy.toml`, else no file (nothing is granted).
//!
//! ```toml
//! [defaults]               # every plugin, unless its own table overrides
//! memory = "512 MiB"       # wasm linear memory limit
//! timeout = "2h"           # wall-clock deadline of a run
//! output-limit = "64 MiB"  # cap on each command's captured stdout/stderr
//! deny-exec = ["rm **"]    # deny-* here apply to every plugin, always
//! disk = "20 GiB"          # quotas: see below
//! ssh-hosts = ["qa@builder.example.org:22"]  # every plugin: only this machine
//!
//! [plugins.blhc]                       # the shipped blhc
//! exec = ["blhc --debian **"]          # strings (shell-words) or arrays
//! backends = ["local", "unshare"]
//! env = ["LANG"]
//! urls = ["https://deb.debian.org/debian/"]
//! lookups = ["debian/match:*"]
//! memory = "256 MiB"
//! timeout = "30m"
//! deny-exec = ["blhc --debian --all **"]
//!
//! [plugins.shellcheck]                 # a third-party plugin, pinned
//! sha256 = ["3f1c...", "a07e..."]      # `runtask plugin install` prints it
//! exec = ["shellcheck --format=json1 **"]
//! ```
//!
//! Every table takes `ssh-hosts`, the limits `memory`, `timeout`, `output-limit`,
//! `command-memory` (memory of the programs a run spawns), `vm-memory` and
//! `vm-cpus` (of a qemu backend's machine; default 1 GiB and 2), and the
//! [`Quota`]s `results`, `result-bytes`, `log-bytes`, `progress-labels`,
//! `artifacts`, `artifact-files`, `handles`, `disk`, `disk-inodes`,
//! `child-runs`, `collection-changes`;
//! `[defaults]` also takes the `deny-*` keys. Grants are per plugin only.
//! Sizes are byte counts or strings like `"512 MiB"`, `"1G"`
//! ([`parse_size`]); durations are strings like `"30m"`, `"1h30m"`
//! ([`parse_duration`]). Unknown keys are errors.
//!
//! CLI flags then apply on top ([`Overrides`]): `--allow-*` add grants,
//! `--deny-*` add denials, `--memory`/`--timeout` replace limits.

pub mod audit;
pub(crate) mod effective;
mod exec;
mod granter;
mod identity;
mod lookup_pattern;
pub mod quota;
mod trust;
mod units;
pub mod url_canon;
mod url_prefix;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::backends::ssh::Target;

pub use effective::{Declared, Denied, Effective, Grants, Limits, Overrides, UrlGrant};
pub use exec::ExecPattern;
pub use granter::Granter;
pub use identity::{Identity, Origin, Untrusted};
pub use lookup_pattern::LookupPattern;
pub use quota::{Quota, Quotas};
pub use trust::trust;
pub use units::{parse_duration, parse_size};
pub use url_prefix::UrlPrefix;

/// The system-wide policy file, used when no user policy exists.
pub const SYSTEM_POLICY_PATH: &str = "/etc/taskhost/policy.toml";

/// A policy that could not be loaded, or a malformed pattern, size or
/// duration.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy file could not be read.
    #[error("cannot read policy file {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The file is not valid TOML or does not fit the schema; `message`
    /// holds the line, column and offending key.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// A value is invalid (a CLI flag when `path` is `None`).
    #[error("{}{message}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Invalid {
        path: Option<PathBuf>,
        message: String,
    },
}

/// The operator's policy: limits and denials for every plugin, and grants
/// per plugin.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Only `limits` and `deny_*` are used.
    defaults: Grants,
    plugins: BTreeMap<String, Table>,
    source: Option<PathBuf>,
    /// sha256 of the file's text.
    digest: Option<String>,
    /// `[notification-channels.NAME]`.
    channels: std::sync::Arc<crate::notify::Channels>,
}

/// A plugin the policy lets run: who it is, and what it may do.
#[derive(Clone, Debug)]
pub struct Permit {
    pub identity: Identity,
    pub effective: Effective,
}

/// One `[plugins.NAME]` table.
#[derive(Clone, Debug, Default)]
struct Table {
    grants: Grants,
    /// `sha256`: the table grants the plugins with these digests; empty:
    /// the shipped plugin of its name.
    pins: Vec<String>,
}

impl Policy {
    /// A policy that grants nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses policy TOML; `source` names the file in errors and hints.
    pub fn from_toml(text: &str, source: &Path) -> Result<Self, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError::Parse {
            path: source.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let d = raw.defaults;
        let limits = d.limits();
        let defaults = Grants {
            deny_exec: d.deny_exec,
            deny_backends: d.deny_backends,
            deny_env: d.deny_env,
            deny_urls: d.deny_urls,
            deny_lookups: d.deny_lookups,
            deny_collections: d.deny_collections,
            deny_submit: d.deny_submit,
            ssh_hosts: d.ssh_hosts,
            limits,
            ..Grants::default()
        };
        let mut plugins = BTreeMap::new();
        let mut pinned: BTreeMap<String, String> = BTreeMap::new();
        for (name, p) in raw.plugins {
            for pin in &p.sha256 {
                if let Some(other) = pinned.insert(pin.clone(), name.clone()) {
                    return Err(PolicyError::Invalid {
                        path: Some(source.to_path_buf()),
                        message: format!(
                            "sha256 {pin} is pinned by both [plugins.{}] and [plugins.{}]; a plugin's content belongs to one table",
                            effective::toml_key(&other),
                            effective::toml_key(&name)
                        ),
                    });
                }
            }
            let limits = p.limits();
            let grants = Grants {
                exec: p.exec,
                deny_exec: p.deny_exec,
                backends: p.backends,
                deny_backends: p.deny_backends,
                env: p.env,
                deny_env: p.deny_env,
                urls: p.urls,
                deny_urls: p.deny_urls,
                lookups: p.lookups,
                deny_lookups: p.deny_lookups,
                collections: p.collections,
                deny_collections: p.deny_collections,
                submit: p.submit,
                deny_submit: p.deny_submit,
                ssh_hosts: p.ssh_hosts,
                default_ssh_hosts: None,
                limits,
                cli: Overrides::default(),
            };
            plugins.insert(
                name,
                Table {
                    grants,
                    pins: p.sha256,
                },
            );
        }
        let digest = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        };
        let channels =
            crate::notify::Channels::new(Some(source.to_path_buf()), raw.notification_channels)
                .map_err(|message| PolicyError::Invalid {
                    path: Some(source.to_path_buf()),
                    message,
                })?;
        Ok(Self {
            defaults,
            plugins,
            source: Some(source.to_path_buf()),
            digest: Some(digest),
            channels: std::sync::Arc::new(channels),
        })
    }

    /// Reads and parses a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// `--policy FILE` if given (it must exist), else
    /// `$XDG_CONFIG_HOME/taskhost/policy.toml` (`XDG_CONFIG_HOME` defaulting
    /// to `$HOME/.config`), else [`SYSTEM_POLICY_PATH`], else
    /// [`Policy::empty`]. `env` looks up environment variables, e.g.
    /// `|k| std::env::var(k).ok()`.
    pub fn discover(
        explicit: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, PolicyError> {
        Self::discover_in(explicit, env, Path::new(SYSTEM_POLICY_PATH))
    }

    fn discover_in(
        explicit: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        system: &Path,
    ) -> Result<Self, PolicyError> {
        if let Some(path) = explicit {
            tracing::debug!(path = %path.display(), "using policy given by --policy");
            return Self::load(path);
        }
        for path in user_policy_path(env)
            .into_iter()
            .chain([system.to_path_buf()])
        {
            match std::fs::metadata(&path) {
                Ok(_) => {
                    tracing::debug!(path = %path.display(), "using policy file");
                    return Self::load(&path);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) => {}
                // Unreadable rather than absent: don't fall back silently.
                Err(source) => return Err(PolicyError::Io { path, source }),
            }
        }
        tracing::debug!("no policy file found; nothing is granted");
        Ok(Self::empty())
    }

    /// Its `[notification-channels.NAME]` tables, for task_data's
    /// `notifications`.
    pub fn notification_channels(&self) -> std::sync::Arc<crate::notify::Channels> {
        self.channels.clone()
    }

    /// The file this policy was read from; `None` for [`Policy::empty`].
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The sha256 of the policy file's text; `None` for [`Policy::empty`].
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Who a plugin is and what it may do (see [`Policy::resolve`]).
    pub fn permit(
        &self,
        name: &str,
        sha256: &str,
        origin: Origin,
        declared: Declared,
        overrides: &Overrides,
        shipped: &[&str],
    ) -> Result<Permit, Untrusted> {
        let (identity, grants) = self.resolve(name, sha256, origin, overrides, shipped)?;
        let effective = Effective::for_identity(&identity, declared, grants, self.source.clone())
            .with_policy_digest(self.digest.clone());
        Ok(Permit {
            identity,
            effective,
        })
    }

    /// A permit from the table named `name`, as for a shipped plugin: for
    /// library users and tests that establish identity themselves.
    pub fn permit_trusted(
        &self,
        name: &str,
        sha256: &str,
        declared: Declared,
        overrides: &Overrides,
    ) -> Permit {
        let identity = Identity::trusted(name, sha256);
        let grants = self.grants_for(name, overrides);
        let effective = Effective::for_identity(&identity, declared, grants, self.source.clone())
            .with_policy_digest(self.digest.clone());
        Permit {
            identity,
            effective,
        }
    }

    /// Plugins that have a `[plugins.NAME]` table.
    pub fn plugin_names(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }

    /// The table pinning `sha256`, if any.
    pub fn table_pinning(&self, sha256: &str) -> Option<&str> {
        self.plugins
            .iter()
            .find(|(_, t)| t.pins.iter().any(|p| p == sha256))
            .map(|(name, _)| name.as_str())
    }

    /// Decides who a plugin is and what the policy grants it (module
    /// [`identity`] gives the rules). `shipped` are the builtin plugins'
    /// names. A plugin the policy does not trust is refused.
    pub fn resolve(
        &self,
        name: &str,
        sha256: &str,
        origin: Origin,
        overrides: &Overrides,
        shipped: &[&str],
    ) -> Result<(Identity, Grants), Untrusted> {
        let source = self.source.as_deref();
        let table = if origin == Origin::Builtin {
            match self.plugins.get(name) {
                Some(t) if !t.pins.is_empty() => {
                    return Err(Untrusted::PinnedShippedTable {
                        name: name.to_owned(),
                        policy: identity::policy_name(source),
                    });
                }
                Some(_) => Some(name.to_owned()),
                None => None,
            }
        } else if shipped.contains(&name) {
            return Err(Untrusted::ClaimsShippedName {
                name: name.to_owned(),
                origin: origin.to_string(),
                sha256: sha256.to_owned(),
            });
        } else if let Some(table) = self.table_pinning(sha256) {
            Some(table.to_owned())
        } else if matches!(origin, Origin::CommandLine(_)) {
            // Named on this command line: its --allow-* flags only.
            None
        } else {
            let same_name = self.plugins.get(name).is_some_and(|t| t.pins.is_empty());
            return Err(Untrusted::not_pinned(
                name, &origin, sha256, source, same_name,
            ));
        };
        let mut grants = table
            .as_deref()
            .and_then(|t| self.plugins.get(t))
            .map(|t| t.grants.clone())
            .unwrap_or_default();
        self.apply_defaults(&mut grants, overrides);
        let identity = Identity {
            name: name.to_owned(),
            sha256: sha256.to_owned(),
            origin,
            table,
        };
        Ok((identity, grants))
    }

    /// The grants of the table named `plugin` (builtin semantics), with
    /// `[defaults]` and the CLI overrides: for tests and library users who
    /// resolve identity themselves.
    pub fn grants_for(&self, plugin: &str, overrides: &Overrides) -> Grants {
        let mut g = self
            .plugins
            .get(plugin)
            .map(|t| t.grants.clone())
            .unwrap_or_default();
        self.apply_defaults(&mut g, overrides);
        g
    }

    /// `[defaults]` limits and denials, then the CLI overrides.
    fn apply_defaults(&self, g: &mut Grants, overrides: &Overrides) {
        let d = &self.defaults;
        let cli_limits = Limits {
            memory: overrides.memory,
            timeout: overrides.timeout,
            output_limit: overrides.output_limit,
            ..Limits::default()
        };
        g.limits = d.limits.overlay(&g.limits).overlay(&cli_limits);
        g.deny_exec.extend(d.deny_exec.iter().cloned());
        g.deny_backends.extend(d.deny_backends.iter().cloned());
        g.deny_env.extend(d.deny_env.iter().cloned());
        g.deny_urls.extend(d.deny_urls.iter().cloned());
        g.deny_lookups.extend(d.deny_lookups.iter().cloned());
        g.deny_collections
            .extend(d.deny_collections.iter().cloned());
        g.deny_submit.extend(d.deny_submit.iter().cloned());
        g.default_ssh_hosts = d.ssh_hosts.clone();
        g.exec.extend(overrides.allow_exec.iter().cloned());
        g.deny_exec.extend(overrides.deny_exec.iter().cloned());
        g.backends.extend(overrides.allow_backend.iter().cloned());
        g.deny_backends
            .extend(overrides.deny_backend.iter().cloned());
        g.env.extend(overrides.allow_env.iter().cloned());
        g.deny_env.extend(overrides.deny_env.iter().cloned());
        g.urls.extend(overrides.allow_url.iter().cloned());
        g.deny_urls.extend(overrides.deny_url.iter().cloned());
        g.lookups.extend(overrides.allow_lookup.iter().cloned());
        g.collections
            .extend(overrides.allow_collection.iter().cloned());
        g.submit.extend(overrides.allow_submit.iter().cloned());
        g.cli = overrides.clone();
    }
}

/// `$XDG_CONFIG_HOME/taskhost/policy.toml`, or `$HOME/.config/...` when
/// `XDG_CONFIG_HOME` is unset, empty or relative.
pub fn user_policy_path(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let config = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".config"))
        })?;
    Some(config.join("taskhost").join("policy.toml"))
}

// ---- TOML schema ----

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    plugins: BTreeMap<String, RawPlugin>,
    #[serde(default, rename = "notification-channels")]
    notification_channels: BTreeMap<String, crate::notify::Channel>,
}

/// A policy table: its own keys, then the limits and quotas that
/// `[defaults]` and every plugin table take. (serde's `flatten` would lose
/// `deny_unknown_fields`, so the shared keys are spelled out by a macro.)
macro_rules! table {
    ($name:ident { $($field:ident: $ty:ty = $de:literal,)* }) => {
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct $name {
            $(#[serde(default, deserialize_with = $de)] $field: $ty,)*
            #[serde(default, deserialize_with = "de_memory")]
            memory: Option<u64>,
            #[serde(default, deserialize_with = "de_timeout")]
            timeout: Option<Duration>,
            #[serde(default, deserialize_with = "de_output_limit")]
            output_limit: Option<u64>,
            #[serde(default, deserialize_with = "de_command_memory")]
            command_memory: Option<u64>,
            #[serde(default, deserialize_with = "de_vm_memory")]
            vm_memory: Option<u64>,
            #[serde(default, deserialize_with = "de_vm_cpus")]
            vm_cpus: Option<u64>,
            #[serde(default, deserialize_with = "de_results")]
            results: Option<u64>,
            #[serde(default, deserialize_with = "de_result_bytes")]
            result_bytes: Option<u64>,
            #[serde(default, deserialize_with = "de_log_bytes")]
            log_bytes: Option<u64>,
            #[serde(default, deserialize_with = "de_progress_labels")]
            progress_labels: Option<u64>,
            #[serde(default, deserialize_with = "de_artifacts")]
            artifacts: Option<u64>,
            #[serde(default, deserialize_with = "de_artifact_files")]
            artifact_files: Option<u64>,
            #[serde(default, deserialize_with = "de_handles")]
            handles: Option<u64>,
            #[serde(default, deserialize_with = "de_disk")]
            disk: Option<u64>,
            #[serde(default, deserialize_with = "de_disk_inodes")]
            disk_inodes: Option<u64>,
            #[serde(default, deserialize_with = "de_child_runs")]
            child_runs: Option<u64>,
            #[serde(default, deserialize_with = "de_collection_changes")]
            collection_changes: Option<u64>,
        }

        impl $name {
            fn limits(&self) -> Limits {
                let mut quotas = Quotas::default();
                for (quota, value) in [
                    (Quota::Results, self.results),
                    (Quota::ResultBytes, self.result_bytes),
                    (Quota::LogBytes, self.log_bytes),
                    (Quota::ProgressLabels, self.progress_labels),
                    (Quota::Artifacts, self.artifacts),
                    (Quota::ArtifactFiles, self.artifact_files),
                    (Quota::Handles, self.handles),
                    (Quota::Disk, self.disk),
                    (Quota::DiskInodes, self.disk_inodes),
                    (Quota::ChildRuns, self.child_runs),
                    (Quota::CollectionChanges, self.collection_changes),
                ] {
                    if let Some(v) = value {
                        quotas.set(quota, v);
                    }
                }
                Limits {
                    memory: self.memory,
                    timeout: self.timeout,
                    output_limit: self.output_limit,
                    command_memory: self.command_memory,
                    vm_memory: self.vm_memory,
                    vm_cpus: self.vm_cpus,
                    quotas,
                }
            }
        }
    };
}

table!(RawDefaults {
    deny_exec: Vec<ExecPattern> = "de_deny_exec",
    deny_backends: Vec<String> = "de_deny_backends",
    deny_env: Vec<String> = "de_deny_env",
    deny_urls: Vec<UrlPrefix> = "de_deny_urls",
    deny_lookups: Vec<LookupPattern> = "de_deny_lookups",
    deny_collections: Vec<LookupPattern> = "de_deny_collections",
    deny_submit: Vec<String> = "de_deny_submit",
    ssh_hosts: Option<Vec<Target>> = "de_ssh_hosts",
});

table!(RawPlugin {
    sha256: Vec<String> = "de_sha256",
    exec: Vec<ExecPattern> = "de_exec",
    deny_exec: Vec<ExecPattern> = "de_deny_exec",
    backends: Vec<String> = "de_backends",
    deny_backends: Vec<String> = "de_deny_backends",
    env: Vec<String> = "de_env",
    deny_env: Vec<String> = "de_deny_env",
    urls: Vec<UrlPrefix> = "de_urls",
    deny_urls: Vec<UrlPrefix> = "de_deny_urls",
    lookups: Vec<LookupPattern> = "de_lookups",
    deny_lookups: Vec<LookupPattern> = "de_deny_lookups",
    collections: Vec<LookupPattern> = "de_collections",
    deny_collections: Vec<LookupPattern> = "de_deny_collections",
    submit: Vec<String> = "de_submit",
    deny_submit: Vec<String> = "de_deny_submit",
    ssh_hosts: Option<Vec<Target>> = "de_ssh_hosts",
});

/// One `deserialize_with` function per key, so errors can name the key.
macro_rules! keyed {
    ($($name:ident => $helper:ident($key:literal) -> $ty:ty;)*) => {$(
        fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
            $helper(d, $key)
        }
    )*};
}

keyed! {
    de_exec => list("exec") -> Vec<ExecPattern>;
    de_deny_exec => list("deny-exec") -> Vec<ExecPattern>;
    de_urls => list("urls") -> Vec<UrlPrefix>;
    de_deny_urls => list("deny-urls") -> Vec<UrlPrefix>;
    de_backends => names("backends") -> Vec<String>;
    de_deny_backends => names("deny-backends") -> Vec<String>;
    de_env => names("env") -> Vec<String>;
    de_deny_env => names("deny-env") -> Vec<String>;
    de_memory => size("memory") -> Option<u64>;
    de_output_limit => size("output-limit") -> Option<u64>;
    de_command_memory => size("command-memory") -> Option<u64>;
    de_vm_memory => vm_memory("vm-memory") -> Option<u64>;
    de_vm_cpus => vm_cpus("vm-cpus") -> Option<u64>;
    de_result_bytes => size("result-bytes") -> Option<u64>;
    de_log_bytes => size("log-bytes") -> Option<u64>;
    de_disk => size("disk") -> Option<u64>;
    de_results => count("results") -> Option<u64>;
    de_progress_labels => count("progress-labels") -> Option<u64>;
    de_artifacts => count("artifacts") -> Option<u64>;
    de_artifact_files => count("artifact-files") -> Option<u64>;
    de_handles => count("handles") -> Option<u64>;
    de_disk_inodes => count("disk-inodes") -> Option<u64>;
    de_child_runs => count("child-runs") -> Option<u64>;
    de_collection_changes => count("collection-changes") -> Option<u64>;
    de_lookups => list("lookups") -> Vec<LookupPattern>;
    de_deny_lookups => list("deny-lookups") -> Vec<LookupPattern>;
    de_collections => list("collections") -> Vec<LookupPattern>;
    de_deny_collections => list("deny-collections") -> Vec<LookupPattern>;
    de_submit => names("submit") -> Vec<String>;
    de_deny_submit => names("deny-submit") -> Vec<String>;
    de_timeout => duration("timeout") -> Option<Duration>;
}

fn keyed_error<E: de::Error>(key: &str, e: impl fmt::Display) -> E {
    E::custom(format!("invalid `{key}`: {e}"))
}

fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    key: &str,
) -> Result<Vec<T>, D::Error> {
    Vec::<T>::deserialize(d).map_err(|e| keyed_error(key, e))
}

/// Backend or environment variable names.
fn names<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Vec<String>, D::Error> {
    let names: Vec<String> = list(d, key)?;
    for n in &names {
        let bad_env = key.ends_with("env") && n.contains('=');
        if n.is_empty() || n.chars().any(char::is_control) || bad_env {
            return Err(keyed_error(key, format!("{n:?} is not a valid name")));
        }
    }
    Ok(names)
}

/// `ssh-hosts`: `user@host[:port]` entries (port 22 when none is given).
fn de_ssh_hosts<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Target>>, D::Error> {
    let hosts: Vec<String> = list(d, "ssh-hosts")?;
    hosts
        .iter()
        .map(|h| Target::parse(h).map_err(|e| keyed_error("ssh-hosts", e)))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `sha256` pins.
fn de_sha256<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let pins: Vec<String> = list(d, "sha256")?;
    pins.iter()
        .map(|p| identity::parse_pin(p).map_err(|e| keyed_error("sha256", e)))
        .collect()
}

/// A positive count.
fn count<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Option<u64>, D::Error> {
    let n = u64::deserialize(d).map_err(|e| keyed_error(key, e))?;
    if n == 0 {
        return Err(keyed_error(key, "must be greater than zero"));
    }
    Ok(Some(n))
}

/// `vm-memory`: a size from 256 MiB to 1 TiB.
fn vm_memory<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Option<u64>, D::Error> {
    let n = size(d, key)?;
    match n {
        Some(n) if !(256 << 20..=1 << 40).contains(&n) => Err(keyed_error(
            key,
            "a machine needs from 256 MiB to 1 TiB of memory",
        )),
        n => Ok(n),
    }
}

/// `vm-cpus`: 1 to 256.
fn vm_cpus<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Option<u64>, D::Error> {
    let n = count(d, key)?;
    match n {
        Some(n) if n > 256 => Err(keyed_error(key, "a machine takes at most 256 CPUs")),
        n => Ok(n),
    }
}

fn size<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Option<u64>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a size such as \"512 MiB\" or a byte count")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("size {v} is negative")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            units::size(v).map_err(E::custom)
        }
    }
    let bytes = d.deserialize_any(V).map_err(|e| keyed_error(key, e))?;
    if bytes == 0 {
        return Err(keyed_error(key, "must be greater than zero"));
    }
    Ok(Some(bytes))
}

fn duration<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Option<Duration>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration string such as \"30m\" or \"1h30m\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            units::duration(v).map_err(E::custom)
        }
    }
    let t = d.deserialize_any(V).map_err(|e| keyed_error(key, e))?;
    if t.is_zero() {
        return Err(keyed_error(key, "must be greater than zero"));
    }
    Ok(Some(t))
}
