//! What a plugin may do: its manifest declares capabilities, the operator
//! grants them, and a plugin gets only the intersection, minus denials.
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
//!
//! A command, backend, variable or URL is allowed only when it is declared
//! by the manifest, granted by the policy file or a CLI `--allow-*` flag,
//! and not denied by any `deny-*` key or `--deny-*` flag. Deny always wins.
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
//!
//! [plugins.blhc]
//! exec = ["blhc --debian **"]          # strings (shell-words) or arrays
//! backends = ["local", "unshare"]
//! env = ["LANG"]
//! urls = ["https://deb.debian.org/debian/"]
//! memory = "256 MiB"
//! timeout = "30m"
//! deny-exec = ["blhc --debian --all **"]
//! ```
//!
//! `[defaults]` takes `memory`, `timeout`, `output-limit` and the `deny-*`
//! keys; grants are per plugin only. `[plugins.NAME]` takes `exec`,
//! `backends`, `env`, `urls`, their `deny-exec`, `deny-backends`,
//! `deny-env`, `deny-urls`, and the three limits. Sizes are byte counts or
//! strings like `"512 MiB"`, `"1G"` ([`parse_size`]); durations are strings
//! like `"30m"`, `"1h30m"` ([`parse_duration`]). Unknown keys are errors.
//!
//! CLI flags then apply on top ([`Overrides`]): `--allow-*` add grants,
//! `--deny-*` add denials, `--memory`/`--timeout` replace limits.

mod effective;
mod exec;
mod units;
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

pub use effective::{Declared, Denied, Effective, Grants, Limits, Overrides};
pub use exec::ExecPattern;
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
    plugins: BTreeMap<String, Grants>,
    source: Option<PathBuf>,
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
        let defaults = Grants {
            deny_exec: d.deny_exec,
            deny_backends: d.deny_backends,
            deny_env: d.deny_env,
            deny_urls: d.deny_urls,
            limits: Limits {
                memory: d.memory,
                timeout: d.timeout,
                output_limit: d.output_limit,
            },
            ..Grants::default()
        };
        let plugins = raw
            .plugins
            .into_iter()
            .map(|(name, p)| {
                let grants = Grants {
                    exec: p.exec,
                    deny_exec: p.deny_exec,
                    backends: p.backends,
                    deny_backends: p.deny_backends,
                    env: p.env,
                    deny_env: p.deny_env,
                    urls: p.urls,
                    deny_urls: p.deny_urls,
                    limits: Limits {
                        memory: p.memory,
                        timeout: p.timeout,
                        output_limit: p.output_limit,
                    },
                    cli: Overrides::default(),
                };
                (name, grants)
            })
            .collect();
        Ok(Self {
            defaults,
            plugins,
            source: Some(source.to_path_buf()),
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

    /// The file this policy was read from; `None` for [`Policy::empty`].
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Plugins that have a `[plugins.NAME]` table.
    pub fn plugin_names(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }

    /// The plugin's grants: `[defaults]` limits and denials, then
    /// `[plugins.NAME]`, then the CLI overrides.
    pub fn grants_for(&self, plugin: &str, overrides: &Overrides) -> Grants {
        let mut g = self.plugins.get(plugin).cloned().unwrap_or_default();
        let d = &self.defaults;
        let cli_limits = Limits {
            memory: overrides.memory,
            timeout: overrides.timeout,
            output_limit: overrides.output_limit,
        };
        g.limits = d.limits.overlay(&g.limits).overlay(&cli_limits);
        g.deny_exec.extend(d.deny_exec.iter().cloned());
        g.deny_backends.extend(d.deny_backends.iter().cloned());
        g.deny_env.extend(d.deny_env.iter().cloned());
        g.deny_urls.extend(d.deny_urls.iter().cloned());
        g.exec.extend(overrides.allow_exec.iter().cloned());
        g.deny_exec.extend(overrides.deny_exec.iter().cloned());
        g.backends.extend(overrides.allow_backend.iter().cloned());
        g.deny_backends
            .extend(overrides.deny_backend.iter().cloned());
        g.env.extend(overrides.allow_env.iter().cloned());
        g.deny_env.extend(overrides.deny_env.iter().cloned());
        g.urls.extend(overrides.allow_url.iter().cloned());
        g.deny_urls.extend(overrides.deny_url.iter().cloned());
        g.cli = overrides.clone();
        g
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
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDefaults {
    #[serde(default, deserialize_with = "de_memory")]
    memory: Option<u64>,
    #[serde(default, deserialize_with = "de_timeout")]
    timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_output_limit")]
    output_limit: Option<u64>,
    #[serde(default, deserialize_with = "de_deny_exec")]
    deny_exec: Vec<ExecPattern>,
    #[serde(default, deserialize_with = "de_deny_backends")]
    deny_backends: Vec<String>,
    #[serde(default, deserialize_with = "de_deny_env")]
    deny_env: Vec<String>,
    #[serde(default, deserialize_with = "de_deny_urls")]
    deny_urls: Vec<UrlPrefix>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPlugin {
    #[serde(default, deserialize_with = "de_exec")]
    exec: Vec<ExecPattern>,
    #[serde(default, deserialize_with = "de_deny_exec")]
    deny_exec: Vec<ExecPattern>,
    #[serde(default, deserialize_with = "de_backends")]
    backends: Vec<String>,
    #[serde(default, deserialize_with = "de_deny_backends")]
    deny_backends: Vec<String>,
    #[serde(default, deserialize_with = "de_env")]
    env: Vec<String>,
    #[serde(default, deserialize_with = "de_deny_env")]
    deny_env: Vec<String>,
    #[serde(default, deserialize_with = "de_urls")]
    urls: Vec<UrlPrefix>,
    #[serde(default, deserialize_with = "de_deny_urls")]
    deny_urls: Vec<UrlPrefix>,
    #[serde(default, deserialize_with = "de_memory")]
    memory: Option<u64>,
    #[serde(default, deserialize_with = "de_timeout")]
    timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_output_limit")]
    output_limit: Option<u64>,
}

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
