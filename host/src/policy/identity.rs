//! Who a plugin is: grants belong to a plugin's content, not to the name
//! it gives itself.
//!
//! - A plugin shipped inside runtask is `builtin:NAME`. A `[plugins.NAME]`
//!   table without `sha256` applies to that builtin only.
//! - Any other plugin gets policy grants only through a table that pins
//!   its content: `sha256 = ["HEX", ...]` (a list, so versions can roll).
//! - A plugin that calls itself by a shipped name is refused, and so is an
//!   unpinned one found in a plugin directory. A `.wasm` named on the
//!   command line may run unpinned with the command line's `--allow-*`
//!   grants only, so an author can try their own plugin.

use std::fmt;
use std::path::{Path, PathBuf};

use super::effective::toml_string;

/// Where a plugin came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Shipped inside runtask.
    Builtin,
    /// A `.wasm` path given on this command line.
    CommandLine(PathBuf),
    /// `NAME.wasm` found in a plugin directory.
    PluginDir(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin => f.write_str("builtin"),
            Origin::CommandLine(p) | Origin::PluginDir(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A plugin's identity once resolved against the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The name its manifest gives.
    pub name: String,
    /// Lowercase hex sha256 of the `.wasm`.
    pub sha256: String,
    pub origin: Origin,
    /// The policy table that grants it: the builtin's name, or the table
    /// pinning its digest; `None` when nothing in the policy applies.
    pub table: Option<String>,
}

impl Identity {
    /// `builtin:NAME`, or the file it came from.
    pub fn origin_name(&self) -> String {
        match &self.origin {
            Origin::Builtin => format!("builtin:{}", self.name),
            other => other.to_string(),
        }
    }

    /// `sha256:HEX`.
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.sha256)
    }

    /// The table name hints should use: the granting table, else the
    /// plugin's own name.
    pub fn hint_table(&self) -> &str {
        self.table.as_deref().unwrap_or(&self.name)
    }

    /// Whether hints must add a `sha256` pin line (no table grants it yet
    /// and it is not a builtin).
    pub fn needs_pin(&self) -> bool {
        self.table.is_none() && self.origin != Origin::Builtin
    }

    /// An identity for library use and tests: a builtin-like plugin whose
    /// table is its name.
    pub fn trusted(name: &str, sha256: &str) -> Self {
        Identity {
            name: name.to_owned(),
            sha256: sha256.to_owned(),
            origin: Origin::Builtin,
            table: Some(name.to_owned()),
        }
    }
}

/// A plugin the policy does not let run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    /// A third-party plugin that calls itself by a shipped plugin's name.
    #[error(
        "plugin {origin} (sha256 {sha256}) calls itself '{name}', the name of a plugin shipped \
         with runtask (builtin:{name}); shipped names are reserved, so it is refused: rename it \
         in its taskhost.toml"
    )]
    ClaimsShippedName {
        name: String,
        origin: String,
        sha256: String,
    },
    /// A plugin from a plugin directory that no policy table pins.
    #[error("{0}")]
    NotPinned(Box<NotPinned>),
    /// A table named after a shipped plugin pins digests.
    #[error(
        "[plugins.{name}] in {policy} pins sha256 digests, but '{name}' is a plugin shipped with \
         runtask (builtin:{name}): a table for a shipped name grants that builtin and takes no \
         sha256; a third-party plugin may not use a shipped name"
    )]
    PinnedShippedTable { name: String, policy: String },
}

/// A plugin no policy table pins, and how to trust it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "plugin '{name}' ({origin}, sha256 {sha256}) is not trusted: no table in {policy} pins its \
     digest{unpinned}. To trust this exact file, run `runtask plugin install {origin} --trust`, \
     or add to {policy}:\n  [plugins.{table}]\n  sha256 = [{quoted}]"
)]
pub struct NotPinned {
    pub name: String,
    pub origin: String,
    pub sha256: String,
    pub policy: String,
    pub table: String,
    pub quoted: String,
    /// Explains a same-named table that lacks a pin.
    pub unpinned: String,
}

impl Untrusted {
    pub(super) fn not_pinned(
        name: &str,
        origin: &Origin,
        sha256: &str,
        policy: Option<&Path>,
        same_name_table: bool,
    ) -> Self {
        let policy = policy_name(policy);
        Untrusted::NotPinned(Box::new(NotPinned {
            name: name.to_owned(),
            origin: origin.to_string(),
            sha256: sha256.to_owned(),
            table: super::effective::toml_key(name),
            quoted: toml_string(sha256),
            unpinned: if same_name_table {
                format!(
                    " ([plugins.{name}] has no sha256 list, so it applies only to a shipped \
                     plugin of that name)"
                )
            } else {
                String::new()
            },
            policy,
        }))
    }
}

pub(super) fn policy_name(policy: Option<&Path>) -> String {
    match policy {
        Some(p) => p.display().to_string(),
        None => "a policy file (e.g. ~/.config/taskhost/policy.toml)".to_owned(),
    }
}

/// Checks a `sha256` pin: 64 hex digits, optionally `sha256:`-prefixed.
/// Returns it in lowercase without the prefix.
pub(super) fn parse_pin(s: &str) -> Result<String, String> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(format!(
            "{s:?} is not a sha256 digest (64 hex digits; `runtask plugin inspect FILE` prints it)"
        ))
    }
}
