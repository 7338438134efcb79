//! Debian package files: the fields of a .dsc or .changes (read with
//! deb822-lossless), the files a .changes lists, .deb names, and fetching
//! the artifacts that hold them (source packages, .debs, system tarballs)
//! into the workspace.

use std::collections::BTreeMap;
use std::str::FromStr;
use taskhost_sdk::artifacts;
use taskhost_sdk::{ArtifactId, ArtifactRef, Error, Result};

/// The fields of a .dsc or .changes (a clear signature is taken off, and
/// its dash-escaping undone).
pub fn fields(text: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let body = match text.strip_prefix("-----BEGIN PGP SIGNED MESSAGE-----") {
        Some(signed) => {
            let start = signed.find("\n\n").map_or(0, |i| i + 2);
            let end = signed
                .find("-----BEGIN PGP SIGNATURE-----")
                .unwrap_or(signed.len());
            signed
                .get(start..end)
                .unwrap_or_default()
                .lines()
                .map(|l| l.strip_prefix("- ").unwrap_or(l))
                .collect::<Vec<_>>()
                .join("\n")
        }
        None => text.to_string(),
    };
    let parsed =
        deb822_lossless::Deb822::from_str(&body).map_err(|e| format!("not deb822: {e}"))?;
    let paragraph = parsed.paragraphs().next().ok_or("no fields")?;
    Ok(paragraph.items().collect())
}

/// The file names a .changes lists in Checksums-Sha256 (names with a `/`
/// are left out: they would reach outside the build directory).
pub fn listed_files(fields: &BTreeMap<String, String>) -> Vec<String> {
    fields
        .get("Checksums-Sha256")
        .map(|v| {
            v.lines()
                .filter_map(|l| l.split_whitespace().nth(2))
                .filter(|name| !name.contains('/') && *name != "..")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `NAME_VERSION_ARCH.deb` (or `.udeb`) → (name, arch).
pub fn deb_name(file: &str) -> Option<(String, String)> {
    let stem = file
        .strip_suffix(".deb")
        .or_else(|| file.strip_suffix(".udeb"))?;
    let mut parts = stem.split('_');
    let (name, _version, arch) = (parts.next()?, parts.next()?, parts.next()?);
    parts
        .next()
        .is_none()
        .then(|| (name.to_string(), arch.to_string()))
}

/// The .debs among `files`, by architecture: arch → [(package, file)].
pub fn debs_by_arch(files: &[String]) -> BTreeMap<String, Vec<(String, String)>> {
    let mut by_arch: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for name in files {
        if let Some((package, arch)) = deb_name(name) {
            by_arch
                .entry(arch)
                .or_default()
                .push((package, name.clone()));
        }
    }
    by_arch
}

/// A source package fetched into the workspace.
#[derive(Clone, Debug)]
pub struct SourcePackage {
    /// The artifact it came from.
    pub id: ArtifactId,
    /// The workspace path of its .dsc.
    pub dsc: String,
    /// `Source:` of the .dsc.
    pub name: String,
    /// `Version:` of the .dsc.
    pub version: String,
}

/// Fetches the source package of artifact `id` (`input.source_artifact_id`)
/// into `dir` and reads its .dsc.
pub fn fetch_source(id: ArtifactId, dir: &str) -> Result<SourcePackage> {
    let dsc = artifacts::fetch(id, dir)?
        .into_iter()
        .find(|p| p.ends_with(".dsc"))
        .ok_or_else(|| {
            Error::invalid(format!(
                "input.source_artifact_id: artifact {id} holds no .dsc"
            ))
        })?;
    let fields = fields(&std::fs::read_to_string(&dsc)?)
        .map_err(|e| Error::invalid(format!("input.source_artifact_id: {dsc}: {e}")))?;
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    Ok(SourcePackage {
        id,
        name: field("Source"),
        version: field("Version"),
        dsc,
    })
}

/// Fetches the .debs of the artifacts task_data names under `key`, each
/// into `dir/ID`; returns (artifact ids, .deb paths). An artifact without
/// a .deb is an error.
pub fn fetch_debs(
    key: &str,
    refs: &[ArtifactRef],
    dir: &str,
) -> Result<(Vec<ArtifactId>, Vec<String>)> {
    let (mut ids, mut debs) = (Vec::new(), Vec::new());
    for reference in refs {
        let id = reference.id()?;
        let found: Vec<String> = artifacts::fetch(id, &format!("{dir}/{id}"))?
            .into_iter()
            .filter(|p| p.ends_with(".deb"))
            .collect();
        if found.is_empty() {
            return Err(Error::invalid(format!(
                "{key}: artifact {id} holds no .deb"
            )));
        }
        ids.push(id);
        debs.extend(found);
    }
    Ok((ids, debs))
}

/// Fetches the `environment`'s system tarball into `dir`; returns its
/// workspace path.
pub fn fetch_tarball(id: ArtifactId, dir: &str) -> Result<String> {
    artifacts::fetch(id, dir)?
        .into_iter()
        .find(|p| p.rsplit('/').next().is_some_and(|n| n.contains(".tar")))
        .ok_or_else(|| Error::invalid(format!("environment: artifact {id} holds no .tar* file")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_files_list_their_files() {
        let changes = "\
Format: 1.8
Source: hello
Binary: hello hello-dbgsym
Architecture: amd64
Version: 1.0
Checksums-Sha256:
 fe30a029 2704 hello-dbgsym_1.0_amd64.deb
 11858521 5421 hello_1.0_amd64.buildinfo
 c46351ad 2448 hello_1.0_amd64.deb
 c46351ad 2448 ../escape.deb
Files:
 965feba2 2704 debug optional hello-dbgsym_1.0_amd64.deb
";
        let fields = fields(changes).unwrap();
        assert_eq!(fields["Source"], "hello");
        let listed = listed_files(&fields);
        assert_eq!(
            listed,
            [
                "hello-dbgsym_1.0_amd64.deb",
                "hello_1.0_amd64.buildinfo",
                "hello_1.0_amd64.deb"
            ]
        );
        let signed = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{changes}\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n"
        );
        assert_eq!(super::fields(&signed).unwrap()["Version"], "1.0");
        let by_arch = debs_by_arch(&listed);
        assert_eq!(by_arch.len(), 1);
        assert_eq!(
            by_arch["amd64"],
            [
                (
                    "hello-dbgsym".to_string(),
                    "hello-dbgsym_1.0_amd64.deb".to_string()
                ),
                ("hello".to_string(), "hello_1.0_amd64.deb".to_string())
            ]
        );
    }

    #[test]
    fn a_signed_dsc_gives_its_fields() {
        let dsc = "Format: 3.0 (native)\nSource: th-a\nBinary: th-a\nVersion: 1.0-1\n";
        assert_eq!(fields(dsc).unwrap()["Version"], "1.0-1");
        let signed = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{dsc}\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n"
        );
        assert_eq!(fields(&signed).unwrap()["Source"], "th-a");
        assert!(fields("").is_err());
    }

    #[test]
    fn deb_names_give_package_and_architecture() {
        assert_eq!(
            deb_name("hello_1.0_amd64.deb"),
            Some(("hello".into(), "amd64".into()))
        );
        assert_eq!(
            deb_name("hello-doc_1:2.0-1_all.udeb"),
            Some(("hello-doc".into(), "all".into()))
        );
        assert_eq!(deb_name("hello_1.0_amd64.buildinfo"), None);
        assert_eq!(deb_name("hello.deb"), None);
    }
}
