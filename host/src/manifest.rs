//! A plugin's manifest: what it declares it needs, read from the custom
//! sections of its `.wasm` without running any of its code.

use crate::policy::{Declared, ExecPattern, LookupPattern, UrlPrefix};
use serde::Serialize;
use std::fmt;

/// The contract version this host speaks: what new plugins are built for.
pub const API_VERSION: &str = "0.2.1";
/// Every contract version this host loads, oldest first.
pub const API_VERSIONS: &[&str] = &["0.1.0", "0.2.1"];
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
        "the plugin was built for taskhost API {found}, but this runtask speaks {}; \
         rebuild the plugin against taskhost-sdk {API_VERSION}, or run it with a runtask \
         that speaks {found}", API_VERSIONS.join(" and ")
    )]
    ApiMismatch { found: String },
}

pub use taskhost_manifest::{Input, Kind, Manifest};

/// A plugin's manifest plus the API version stamped beside it.
#[derive(Clone, Debug, Serialize)]
pub struct PluginInfo {
    #[serde(flatten)]
    pub manifest: Manifest,
    pub api: String,
}

/// What a manifest declares, in the policy's terms.
pub trait Declares {
    /// The capabilities the plugin declares, parsed as the policy matches
    /// them (exec, URL and lookup patterns).
    fn declared(&self) -> Result<Declared, ManifestError>;
}

impl Declares for Manifest {
    fn declared(&self) -> Result<Declared, ManifestError> {
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
        let collections = self
            .collections
            .iter()
            .map(|c| {
                LookupPattern::parse(c)
                    .ok()
                    .filter(|p| !p.as_str().contains('/'))
                    .ok_or_else(|| {
                        ManifestError::Invalid(format!(
                            "collection {c:?}: expected NAME@CATEGORY, where NAME may hold `*` \
                             (e.g. \"*@debian:suite-lintian\")"
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Declared {
            exec,
            backends: self.backends.clone(),
            env: self.env.clone(),
            urls,
            lookups,
            collections,
            submit: self.submit.clone(),
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
    let manifest = taskhost_manifest::check(&text)
        .map_err(|p| ManifestError::Invalid(format!("taskhost.toml:{p}")))?;
    let api = api.ok_or_else(|| ManifestError::Invalid(format!("no `{API_SECTION}` section")))?;
    if !compatible(&api) {
        return Err(ManifestError::ApiMismatch { found: api });
    }
    manifest.declared()?;
    Ok(PluginInfo { manifest, api })
}

/// The sha256 of a plugin's `.wasm`, lowercase hex: its identity.
pub fn digest(wasm: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(wasm))
}

/// Which contract a plugin speaks, by the API version it was built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contract {
    /// 0.1.x: served through the 0.1 adapter.
    V0_1,
    /// 0.2.x: the current contract.
    V0_2,
}

impl PluginInfo {
    /// The contract its API version names (checked when it was read).
    pub fn contract(&self) -> Contract {
        contract(&self.api).unwrap_or(Contract::V0_2)
    }
}

/// 0.x versions are compatible within a minor version (a plugin's patch
/// at most the host's); later ones within a major version.
fn contract(api: &str) -> Option<Contract> {
    let parts = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()
    };
    let p = parts(api).filter(|p| p.len() == 3)?;
    API_VERSIONS
        .iter()
        .zip([Contract::V0_1, Contract::V0_2])
        .find(|(host, _)| match parts(host) {
            Some(h) if h[0] == 0 => p[0] == 0 && p[1] == h[1] && p[2] <= h[2],
            Some(h) => p[0] == h[0] && p[1] <= h[1],
            None => false,
        })
        .map(|(_, c)| c)
}

fn compatible(api: &str) -> bool {
    contract(api).is_some()
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
        if !m.collections.is_empty() {
            writeln!(f, "collections: {}", list(&m.collections))?;
        }
        if !m.submit.is_empty() {
            writeln!(f, "submit:   {}", list(&m.submit))?;
        }
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
        assert_eq!(contract("0.1.0"), Some(Contract::V0_1));
        assert_eq!(contract("0.2.0"), Some(Contract::V0_2));
        assert_eq!(contract("0.2.1"), Some(Contract::V0_2));
        assert!(!compatible("0.3.0"));
        assert!(!compatible("9.0.0"));
        assert!(!compatible("0.1.99"));
        assert!(!compatible("0.2.2"));
        assert!(!compatible("garbage"));
        let e = ManifestError::ApiMismatch {
            found: "0.3.0".into(),
        };
        assert!(
            e.to_string()
                .starts_with("the plugin was built for taskhost API 0.3.0, but this runtask speaks 0.1.0 and 0.2.1"),
            "{e}"
        );
    }

    #[test]
    fn plugin_names_are_plain() {
        for good in ["blhc", "my-plugin", "a.b_c", "7z"] {
            assert!(taskhost_manifest::check_name(good).is_ok(), "{good}");
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
            assert!(taskhost_manifest::check_name(bad).is_err(), "{bad:?}");
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
