//! A plugin's manifest: what it declares it needs, read from the custom
//! sections of its `.wasm` without running any of its code.

use crate::policy::{Declared, ExecPattern, LookupPattern, UrlPrefix};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The contract version this host speaks.
pub const API_VERSION: &str = "0.1.0";
/// Custom section holding the manifest TOML (written by the SDK).
pub const MANIFEST_SECTION: &str = "taskhost:manifest";
/// Custom section holding the API version the plugin was built against.
pub const API_SECTION: &str = "taskhost:api";

/// Why a `.wasm` cannot be used as a plugin.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("not a valid WebAssembly component: {0}")]
    NotWasm(String),
    #[error(
        "this is a core WebAssembly module, not a component; build the plugin for wasm32-wasip2"
    )]
    NotComponent,
    #[error(
        "no `{MANIFEST_SECTION}` section: the plugin was not built with taskhost-sdk's export_task! macro"
    )]
    Missing,
    #[error("the `{MANIFEST_SECTION}` section is not valid: {0}")]
    Invalid(String),
    #[error(
        "the plugin was built for taskhost API {found}, but this runtask speaks {API_VERSION}; \
         rebuild the plugin against taskhost-sdk {API_VERSION}"
    )]
    ApiMismatch { found: String },
}

/// Task plugins export `task`; directive plugins (later) export `directive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Task,
    Directive,
}

/// One task_data key that names an input artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Input {
    /// Dotted path in task_data, e.g. `input.artifact`.
    pub key: String,
    /// Accepted categories; a local file is imported as the first one.
    pub categories: Vec<String>,
    /// The key holds a list of artifacts.
    #[serde(default)]
    pub multiple: bool,
}

/// What a plugin declares in `taskhost.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub summary: String,
    pub kind: Kind,
    /// Debian packages providing the programs it runs.
    #[serde(default)]
    pub packages: Vec<String>,
    #[serde(default)]
    pub backends: Vec<String>,
    /// Exec patterns (`*` one argument, trailing `**` the rest).
    #[serde(default)]
    pub exec: Vec<String>,
    /// Environment variables it may set or pass to commands.
    #[serde(default)]
    pub env: Vec<String>,
    /// URL prefixes it may reach.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Store lookups it may make (`debian/match:*`).
    #[serde(default)]
    pub lookups: Vec<String>,
    /// Artifact categories it may create.
    #[serde(default)]
    pub creates: Vec<String>,
    #[serde(default)]
    pub inputs: Vec<Input>,
}

/// A plugin's manifest plus the API version stamped beside it.
#[derive(Clone, Debug, Serialize)]
pub struct PluginInfo {
    #[serde(flatten)]
    pub manifest: Manifest,
    pub api: String,
}

impl Manifest {
    /// The capabilities the plugin declares, in the policy's terms.
    pub fn declared(&self) -> Result<Declared, ManifestError> {
        let exec = self
            .exec
            .iter()
            .map(|p| {
                ExecPattern::parse_declared(p)
                    .map_err(|e| ManifestError::Invalid(format!("exec pattern {p:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let urls = self
            .urls
            .iter()
            .map(|u| {
                UrlPrefix::parse(u).map_err(|e| ManifestError::Invalid(format!("url {u:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let lookups = self
            .lookups
            .iter()
            .map(|l| {
                LookupPattern::parse(l)
                    .map_err(|e| ManifestError::Invalid(format!("lookup {l:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Declared {
            exec,
            backends: self.backends.clone(),
            env: self.env.clone(),
            urls,
            lookups,
        })
    }
}

/// Reads and checks the manifest of a component, without compiling it.
pub fn read(wasm: &[u8]) -> Result<PluginInfo, ManifestError> {
    let mut manifest = None;
    let mut api = None;
    for (index, payload) in wasmparser::Parser::new(0).parse_all(wasm).enumerate() {
        let payload = payload.map_err(|e| ManifestError::NotWasm(e.to_string()))?;
        match payload {
            wasmparser::Payload::Version { encoding, .. }
                if index == 0 && encoding != wasmparser::Encoding::Component =>
            {
                return Err(ManifestError::NotComponent);
            }
            wasmparser::Payload::CustomSection(section) if section.name() == MANIFEST_SECTION => {
                manifest = Some(section.data().to_vec());
            }
            wasmparser::Payload::CustomSection(section) if section.name() == API_SECTION => {
                api = Some(
                    String::from_utf8_lossy(section.data())
                        .trim_end_matches('\0')
                        .to_string(),
                );
            }
            _ => {}
        }
    }
    let text = String::from_utf8(manifest.ok_or(ManifestError::Missing)?)
        .map_err(|_| ManifestError::Invalid("not UTF-8".into()))?;
    let manifest: Manifest =
        toml::from_str(&text).map_err(|e| ManifestError::Invalid(e.to_string()))?;
    let api = api.ok_or_else(|| ManifestError::Invalid(format!("no `{API_SECTION}` section")))?;
    if !compatible(&api) {
        return Err(ManifestError::ApiMismatch { found: api });
    }
    check_name(&manifest.name)?;
    manifest.declared()?;
    Ok(PluginInfo { manifest, api })
}

/// A plugin name: what policy tables, logs and reports show, so plain
/// (`[a-z0-9][a-z0-9._-]*`, at most 64 bytes).
fn check_name(name: &str) -> Result<(), ManifestError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ManifestError::Invalid(format!(
            "name {name:?}: a plugin name is 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
        )))
    }
}

/// The sha256 of a plugin's `.wasm`, lowercase hex: its identity.
pub fn digest(wasm: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(wasm))
}

/// 0.x versions are compatible within a minor version; later ones within
/// a major version.
fn compatible(api: &str) -> bool {
    let parts = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()
    };
    match (parts(api), parts(API_VERSION)) {
        (Some(p), Some(h)) if p.len() == 3 => {
            if h[0] == 0 {
                p[0] == 0 && p[1] == h[1] && p[2] <= h[2]
            } else {
                p[0] == h[0] && p[1] <= h[1]
            }
        }
        _ => false,
    }
}

impl fmt::Display for PluginInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        let list = |v: &[String]| {
            if v.is_empty() {
                "(none)".to_string()
            } else {
                v.join(", ")
            }
        };
        writeln!(f, "name:     {}", m.name)?;
        writeln!(f, "version:  {}", m.version)?;
        writeln!(f, "kind:     {:?}", m.kind)?;
        writeln!(f, "api:      {}", self.api)?;
        writeln!(f, "summary:  {}", m.summary)?;
        writeln!(f, "packages: {}", list(&m.packages))?;
        writeln!(f, "backends: {}", list(&m.backends))?;
        writeln!(f, "exec:     {}", list(&m.exec))?;
        writeln!(f, "env:      {}", list(&m.env))?;
        writeln!(f, "urls:     {}", list(&m.urls))?;
        writeln!(f, "lookups:  {}", list(&m.lookups))?;
        writeln!(f, "creates:  {}", list(&m.creates))?;
        for input in &m.inputs {
            writeln!(
                f,
                "input:    {} ({})",
                input.key,
                input.categories.join(" | ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_within_the_minor_are_compatible() {
        assert!(compatible("0.1.0"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("9.0.0"));
        assert!(!compatible("0.1.99"));
        assert!(!compatible("garbage"));
    }

    #[test]
    fn plugin_names_are_plain() {
        for good in ["blhc", "my-plugin", "a.b_c", "7z"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Blhc",
            "-x",
            "a b",
            "a\nb",
            "x\u{1b}[31m",
            "../x",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn garbage_is_not_wasm() {
        assert!(matches!(
            read(b"not wasm at all"),
            Err(ManifestError::NotWasm(_))
        ));
    }

    #[test]
    fn a_core_module_is_not_a_component() {
        // The 8-byte header of an empty core module.
        let module = b"\0asm\x01\0\0\0";
        assert!(matches!(read(module), Err(ManifestError::NotComponent)));
    }
}
