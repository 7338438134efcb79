//! Local files into artifacts of debusine's categories.
//!
//! A `.dsc` becomes a `debian:source-package` with every file it lists, a
//! `.changes` a `debian:upload` with its files, a `.deb` a
//! `debian:binary-package` with the fields of its control file. Listed
//! files are checked against the SHA-256 sums in the `.dsc`/`.changes`.
//! Anything else is imported as given.

use crate::store::{Artifact, ArtifactStore, NewArtifact, NewFile, StoreError};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub const SOURCE_PACKAGE: &str = "debian:source-package";
pub const BINARY_PACKAGE: &str = "debian:binary-package";
pub const UPLOAD: &str = "debian:upload";
pub const BUILD_LOG: &str = "debian:package-build-log";

/// Why files could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(path: &Path, message: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The category a file's name implies, if any.
pub fn category_for(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "dsc" => Some(SOURCE_PACKAGE),
        "deb" | "udeb" => Some(BINARY_PACKAGE),
        "changes" => Some(UPLOAD),
        "build" => Some(BUILD_LOG),
        _ => None,
    }
}

/// Imports `paths` as one artifact of `category`. `data`, when given,
/// replaces the data derived from the files.
pub fn import(
    store: &dyn ArtifactStore,
    paths: &[PathBuf],
    category: &str,
    data: Option<Value>,
    created_by: Option<String>,
) -> Result<Artifact, ImportError> {
    let first = paths
        .first()
        .ok_or_else(|| invalid(Path::new("."), "no files to import"))?;
    let (derived, files) = match category {
        SOURCE_PACKAGE => one(paths, "dsc").and_then(|p| control_file(p, "dsc"))?,
        UPLOAD => one(paths, "changes").and_then(|p| control_file(p, "changes"))?,
        BINARY_PACKAGE => one(paths, "deb").and_then(binary_package)?,
        _ => (
            json!({ "filename": file_name(first)? }),
            plain_files(paths)?,
        ),
    };
    let new = NewArtifact {
        category: category.to_string(),
        data: data.unwrap_or(derived),
        files,
        created_by,
        relations: Vec::new(),
    };
    Ok(store.create(new)?)
}

fn one<'a>(paths: &'a [PathBuf], what: &str) -> Result<&'a Path, ImportError> {
    match paths {
        [path] => Ok(path),
        _ => Err(invalid(
            &paths[0],
            format!("import one .{what} file at a time; its files come with it"),
        )),
    }
}

fn file_name(path: &Path) -> Result<String, ImportError> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| invalid(path, "has no file name"))
}

fn plain_files(paths: &[PathBuf]) -> Result<Vec<NewFile>, ImportError> {
    paths
        .iter()
        .map(|p| {
            Ok(NewFile {
                name: file_name(p)?,
                source: p.clone().into(),
            })
        })
        .collect()
}

/// Reads a deb822 file, unwrapping a PGP clear signature if present.
fn read_deb822(path: &Path) -> Result<deb822_lossless::Paragraph, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|e| invalid(path, e.to_string()))?;
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
        None => text,
    };
    let parsed = deb822_lossless::Deb822::from_str(&body)
        .map_err(|e| invalid(path, format!("not a deb822 file: {e}")))?;
    parsed
        .paragraphs()
        .next()
        .ok_or_else(|| invalid(path, "empty deb822 file"))
}

fn fields(paragraph: &deb822_lossless::Paragraph) -> Map<String, Value> {
    paragraph
        .items()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// A `.dsc` or `.changes` with the files its `Checksums-Sha256` lists.
fn control_file(path: &Path, kind: &str) -> Result<(Value, Vec<NewFile>), ImportError> {
    let paragraph = read_deb822(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut files = vec![NewFile {
        name: file_name(path)?,
        source: path.to_path_buf().into(),
    }];
    let listed = paragraph
        .get("Checksums-Sha256")
        .ok_or_else(|| invalid(path, "has no Checksums-Sha256 field"))?;
    for line in listed.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let [sha256, _size, name] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            return Err(invalid(
                path,
                format!("malformed Checksums-Sha256 line '{line}'"),
            ));
        };
        if name.contains('/') || name == ".." {
            return Err(invalid(
                path,
                format!("lists a file outside its directory: '{name}'"),
            ));
        }
        let file = dir.join(name);
        let actual = sha256_of(&file)
            .map_err(|e| invalid(path, format!("lists {name}, which cannot be read: {e}")))?;
        if actual != sha256 {
            return Err(invalid(
                path,
                format!("{name} does not match its SHA-256 sum (file {actual}, listed {sha256})"),
            ));
        }
        files.push(NewFile {
            name: name.to_string(),
            source: file.into(),
        });
    }
    let data = match kind {
        "dsc" => json!({
            "name": paragraph.get("Source").unwrap_or_default(),
            "version": paragraph.get("Version").unwrap_or_default(),
            "type": "dpkg",
            "dsc_fields": fields(&paragraph),
        }),
        _ => json!({ "type": "dpkg", "changes_fields": fields(&paragraph) }),
    };
    Ok((data, files))
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// A `.deb` with the fields of its control file. `dpkg-deb --ctrl-tarfile`
/// decompresses the control archive in-process; `dpkg-deb -f` would also
/// run tar and rm.
fn binary_package(path: &Path) -> Result<(Value, Vec<NewFile>), ImportError> {
    let out = std::process::Command::new("dpkg-deb")
        .arg("--ctrl-tarfile")
        .arg(path)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| invalid(path, format!("running dpkg-deb: {e}")))?;
    if !out.status.success() {
        return Err(invalid(
            path,
            format!(
                "not a .deb: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    let control = control_member(&out.stdout)
        .map_err(|e| invalid(path, format!("unreadable control archive: {e}")))?
        .ok_or_else(|| invalid(path, "its control archive has no control file"))?;
    let text = String::from_utf8_lossy(&control);
    let paragraph = deb822_lossless::Deb822::from_str(&text)
        .ok()
        .and_then(|d| d.paragraphs().next())
        .ok_or_else(|| invalid(path, "its control file has no fields"))?;
    let package = paragraph.get("Package").unwrap_or_default();
    let version = paragraph.get("Version").unwrap_or_default();
    // Source: NAME [(VERSION)]; defaults to the binary's own.
    let (srcpkg_name, srcpkg_version) = match paragraph.get("Source") {
        Some(source) => match source.split_once(" (") {
            Some((name, v)) => (name.trim().to_string(), v.trim_end_matches(')').to_string()),
            None => (source.trim().to_string(), version.clone()),
        },
        None => (package, version),
    };
    let data = json!({
        "srcpkg_name": srcpkg_name,
        "srcpkg_version": srcpkg_version,
        "deb_fields": fields(&paragraph),
        "deb_control_files": [],
    });
    Ok((
        data,
        vec![NewFile {
            name: file_name(path)?,
            source: path.to_path_buf().into(),
        }],
    ))
}

/// The `control` file of a .deb's control tarball.
fn control_member(tarball: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    for entry in tar::Archive::new(tarball).entries()? {
        let mut entry = entry?;
        if matches!(&*entry.path_bytes(), b"./control" | b"control")
            && entry.header().entry_type().is_file()
        {
            let mut control = Vec::new();
            entry.read_to_end(&mut control)?;
            return Ok(Some(control));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    fn dsc(dir: &Path, tarball: &[u8], listed_sha: Option<&str>) -> PathBuf {
        std::fs::write(dir.join("p_1.0.tar.xz"), tarball).unwrap();
        let sha = listed_sha
            .map(str::to_string)
            .unwrap_or_else(|| sha256_of(&dir.join("p_1.0.tar.xz")).unwrap());
        let text = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nFormat: 3.0 (native)\nSource: p\nVersion: 1.0\n\
             Checksums-Sha256:\n {sha} {} p_1.0.tar.xz\n-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n",
            tarball.len()
        );
        let path = dir.join("p_1.0.dsc");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_dsc_brings_its_listed_files_and_fields() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path().join("store")).unwrap();
        let path = dsc(tmp.path(), b"tarball", None);
        assert_eq!(category_for(&path), Some(SOURCE_PACKAGE));
        let a = import(&store, &[path], SOURCE_PACKAGE, None, None).unwrap();
        let names: Vec<_> = a.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["p_1.0.dsc", "p_1.0.tar.xz"]);
        assert_eq!(a.data["name"], "p");
        assert_eq!(a.data["version"], "1.0");
        assert_eq!(a.data["dsc_fields"]["Format"], "3.0 (native)");
    }

    #[test]
    fn a_dsc_whose_file_does_not_match_its_sum_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path().join("store")).unwrap();
        let path = dsc(tmp.path(), b"tarball", Some(&"0".repeat(64)));
        let e = import(&store, &[path], SOURCE_PACKAGE, None, None).unwrap_err();
        assert!(
            e.to_string().contains("does not match its SHA-256 sum"),
            "{e}"
        );
        assert!(store.list(&Default::default()).unwrap().is_empty());
    }

    #[test]
    fn a_deb_brings_the_fields_of_its_control_file() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path().join("store")).unwrap();
        let root = tmp.path().join("pkg");
        std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
        std::fs::write(
            root.join("DEBIAN/control"),
            "Package: hello-bin\nSource: hello (2.0-1)\nVersion: 2.0-1+b1\nArchitecture: all\n\
             Maintainer: T <t@example.org>\nDescription: test\n multi-line\n",
        )
        .unwrap();
        let deb = tmp.path().join("hello-bin_2.0-1+b1_all.deb");
        let built = std::process::Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group", "-Zxz"])
            .arg(&root)
            .arg(&deb)
            .output()
            .unwrap();
        assert!(built.status.success(), "{built:?}");
        let a = import(&store, &[deb], BINARY_PACKAGE, None, None).unwrap();
        assert_eq!(a.data["srcpkg_name"], "hello");
        assert_eq!(a.data["srcpkg_version"], "2.0-1");
        assert_eq!(a.data["deb_fields"]["Package"], "hello-bin");
        assert_eq!(a.data["deb_fields"]["Version"], "2.0-1+b1");
        assert_eq!(a.data["deb_fields"]["Description"], "test\nmulti-line");
        assert_eq!(a.files[0].name, "hello-bin_2.0-1+b1_all.deb");
    }

    #[test]
    fn a_file_that_is_not_a_deb_is_refused_as_a_binary_package() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path().join("store")).unwrap();
        let path = tmp.path().join("x.deb");
        std::fs::write(&path, "not a deb").unwrap();
        let e = import(&store, &[path], BINARY_PACKAGE, None, None).unwrap_err();
        assert!(e.to_string().contains("not a .deb"), "{e}");
    }

    #[test]
    fn other_files_are_imported_as_given() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path().join("store")).unwrap();
        let path = tmp.path().join("hello.build");
        std::fs::write(&path, "log").unwrap();
        let a = import(&store, &[path], BUILD_LOG, None, Some("run".into())).unwrap();
        assert_eq!(a.data["filename"], "hello.build");
        assert_eq!(a.created_by.as_deref(), Some("run"));
    }
}
