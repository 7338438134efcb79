//! Filling a `debian:suite` collection from an apt repository (debusine's
//! APTMirror): the Release file's signature is checked with gpgv, the
//! indices and every downloaded file against the hashes that cover them.
//!
//! Everything is fetched and checked before the collection changes, so a
//! refused repository leaves it as it was.

mod fetch;
mod index;
mod release;
mod signature;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::import::{BINARY_PACKAGE, SOURCE_PACKAGE};
use crate::store::collections::{SUITE, suite_item};
use crate::store::{ArtifactId, ArtifactStore, Collection, CollectionItem, ItemFilter, NewItem};
use fetch::Fetcher;
use index::{BinaryPackage, SourcePackage};
use release::{Checksum, Release};
use signature::Keyring;

/// Who an import records as the creator or remover of items.
const BY: &str = "import-apt";
/// Largest InRelease, Release or Release.gpg.
const MAX_RELEASE: u64 = 32 << 20;
/// Largest index, compressed or not (Debian's biggest are near 60 MiB).
const MAX_INDEX: u64 = 512 << 20;
/// Largest package file.
const MAX_FILE: u64 = 16 << 30;
/// Downloads at a time.
const PARALLEL: usize = 4;

/// What to import.
#[derive(Clone, Debug)]
pub struct Mirror {
    /// The repository's base URL (`http`, `https` or `file`).
    pub url: url::Url,
    /// Suite or codename (`dists/SUITE`).
    pub suite: String,
    /// Components, e.g. `main`.
    pub components: Vec<String>,
    /// Architectures whose binary packages are imported.
    pub architectures: Vec<String>,
    /// Source package names to import with their binaries; empty = all.
    pub packages: Vec<String>,
    /// The keyring gpgv checks the Release signature with.
    pub keyring: PathBuf,
}

/// What an import changed in the collection (item names).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Imported {
    /// Items that did not exist.
    pub added: Vec<String>,
    /// Items already present with the same name (and so version).
    pub unchanged: Vec<String>,
    /// Active items no longer in the repository, now removed.
    pub removed: Vec<String>,
}

/// Why an import failed. The collection is unchanged by the failing step.
#[derive(Debug, thiserror::Error)]
pub enum AptError {
    /// The repository could not be read, or failed a check.
    #[error("{0}")]
    Repository(String),
    /// What to import is not possible as given.
    #[error("{0}")]
    Invalid(String),
    /// The Release file is not signed by a key of the keyring.
    #[error(
        "{url}: the signature cannot be verified with the keyring {keyring}: {reason}. \
         Pass --keyring FILE with the key that signs this repository \
         (Debian's: /usr/share/keyrings/debian-archive-keyring.gpg)"
    )]
    Signature {
        /// The signed file.
        url: String,
        /// The keyring, as given.
        keyring: String,
        /// What gpgv reported.
        reason: String,
    },
    /// A file differs from the size and SHA-256 sum that cover it.
    #[error(
        "{url}: sha256 mismatch: {listed_in} lists {expected}, the file has {actual}; the \
         mirror may be in the middle of an update (try again later) or the file was tampered with"
    )]
    Mismatch {
        /// The file.
        url: String,
        /// The index or Release that lists it.
        listed_in: String,
        /// The listed sum and size.
        expected: String,
        /// What was read.
        actual: String,
    },
    /// A file is larger than any file of its kind may be.
    #[error("{url} is larger than {max} bytes, too large to be what it should be")]
    TooLarge {
        /// The file.
        url: String,
        /// The limit, in bytes.
        max: u64,
    },
    /// `packages` names source packages the suite does not have.
    #[error(
        "the suite {suite} ({components}) has no source package {names}: check --packages, \
         which takes source package names"
    )]
    UnknownPackages {
        /// The missing names, comma-separated.
        names: String,
        /// The suite.
        suite: String,
        /// Its components searched, space-separated.
        components: String,
    },
    /// gpgv could not be run.
    #[error("{0}")]
    Verifier(String),
    /// A downloaded package could not be imported into the store.
    #[error("{url}: {source}")]
    Import {
        /// The package's .dsc or .deb.
        url: String,
        /// Why.
        #[source]
        source: crate::import::ImportError,
    },
    /// The store refused.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The packages of the selected components and architectures.
#[derive(Debug, Default)]
struct Offer {
    /// With their component.
    sources: Vec<(String, SourcePackage)>,
    binaries: Vec<(String, BinaryPackage)>,
}

/// An item to add once everything is checked.
struct Addition {
    name: String,
    artifact: ArtifactId,
    data: Value,
}

/// Imports `mirror` into the `debian:suite` collection `name`, created
/// once the repository passed every check. Returns the collection.
pub async fn import(
    store: &dyn ArtifactStore,
    name: &str,
    mirror: &Mirror,
) -> Result<(Collection, Imported), AptError> {
    crate::store::collections::validate_collection(SUITE, name)?;
    check_mirror(mirror)?;
    let scratch = tempfile::Builder::new()
        .prefix("runtask-apt-")
        .tempdir()
        .map_err(|e| AptError::Repository(format!("creating a temporary directory: {e}")))?;
    let fetcher = Fetcher::new(&mirror.url)?;
    let dists = format!("dists/{}", mirror.suite);
    let offer = read_repository(&fetcher, &dists, mirror, scratch.path()).await?;

    let existing = store.find_collection(SUITE, name)?;
    let active = match &existing {
        Some(c) => store.items(c.id, &ItemFilter::default())?,
        None => Vec::new(),
    };
    let present: BTreeSet<&str> = active.iter().map(|i| i.name.as_str()).collect();
    let mut imported = Imported::default();
    let wanted: BTreeSet<String> = offer
        .sources
        .iter()
        .map(|(_, s)| s.item_name())
        .chain(offer.binaries.iter().map(|(_, b)| b.item_name()))
        .collect();
    imported.unchanged = wanted
        .iter()
        .filter(|n| present.contains(n.as_str()))
        .cloned()
        .collect();
    let sources: Vec<_> = offer
        .sources
        .into_iter()
        .filter(|(_, s)| !present.contains(s.item_name().as_str()))
        .collect();
    let binaries: Vec<_> = offer
        .binaries
        .into_iter()
        .filter(|(_, b)| !present.contains(b.item_name().as_str()))
        .collect();

    let additions =
        fetch_packages(store, &fetcher, &dists, &sources, &binaries, scratch.path()).await?;
    let removals: Vec<String> = active
        .iter()
        .filter(|i| !wanted.contains(&i.name) && in_scope(i, mirror))
        .map(|i| i.name.clone())
        .collect();

    // Only now does the collection change.
    let collection = match existing {
        Some(c) => c,
        None => store.create_collection(SUITE, name, serde_json::json!({}))?,
    };
    // One transaction: the suite is seen before or after, never between.
    let adds: Vec<NewItem> = additions
        .into_iter()
        .map(|a| {
            imported.added.push(a.name.clone());
            NewItem {
                created_by: Some(BY.into()),
                ..NewItem::artifact(&a.name, a.artifact, a.data)
            }
        })
        .collect();
    store.update_items(collection.id, &adds, &removals, Some(BY))?;
    imported.removed = removals;
    imported.added.sort();
    Ok((collection, imported))
}

/// The selected packages of the repository, from its signed Release and
/// the indices that Release covers.
async fn read_repository(
    fetcher: &Fetcher,
    dists: &str,
    mirror: &Mirror,
    scratch: &Path,
) -> Result<Offer, AptError> {
    let keyring = Keyring::prepare(&mirror.keyring, scratch)?;
    let text = signed_release(fetcher, dists, &keyring, scratch).await?;
    let url = fetcher.url(&format!("{dists}/Release"))?;
    let refused = |e: String| AptError::Repository(format!("{url}: {e}"));
    let release = Release::parse(&text, time::OffsetDateTime::now_utc()).map_err(refused)?;
    release.check_suite(&mirror.suite).map_err(refused)?;
    release
        .check_offers(&mirror.components, &mirror.architectures)
        .map_err(refused)?;
    select(
        read_indices(fetcher, dists, &release, mirror).await?,
        mirror,
    )
}

/// Refuses names that are not plain path components and empty lists.
fn check_mirror(mirror: &Mirror) -> Result<(), AptError> {
    let invalid = |what: &str, e: String| AptError::Invalid(format!("{what}: {e}"));
    index::relative_path(&mirror.suite).map_err(|e| invalid("the suite", e))?;
    for (what, list) in [
        ("components", &mirror.components),
        ("architectures", &mirror.architectures),
    ] {
        if list.is_empty() {
            return Err(AptError::Invalid(format!("no {what} to import")));
        }
        for name in list {
            index::relative_path(name).map_err(|e| invalid(what, e))?;
        }
    }
    if let Some(arch) = mirror.architectures.iter().find(|a| a.contains('/')) {
        return Err(AptError::Invalid(format!(
            "{arch:?} is not an architecture"
        )));
    }
    Ok(())
}

/// The signed content of `dists/SUITE/InRelease`, or of `Release` checked
/// against `Release.gpg` when there is no InRelease.
async fn signed_release(
    fetcher: &Fetcher,
    dists: &str,
    keyring: &Keyring,
    scratch: &Path,
) -> Result<String, AptError> {
    let save = |name: &str, data: &[u8]| {
        let path = scratch.join(name);
        std::fs::write(&path, data)
            .map_err(|e| AptError::Repository(format!("writing {}: {e}", path.display())))?;
        Ok::<_, AptError>(path)
    };
    let in_release = format!("{dists}/InRelease");
    let url = fetcher.url(&in_release)?;
    let signed = match fetcher.optional(&in_release, MAX_RELEASE).await? {
        Some(data) => {
            let path = save("InRelease", &data)?;
            keyring
                .verify_clearsigned(url.as_str(), &path, scratch)
                .await?
        }
        None => {
            let release = format!("{dists}/Release");
            let url = fetcher.url(&release)?;
            let data = fetcher.optional(&release, MAX_RELEASE).await?.ok_or_else(|| {
                AptError::Repository(format!(
                    "{url}: neither InRelease nor Release exists there: check --mirror and --suite"
                ))
            })?;
            let sig_url = fetcher.url(&format!("{release}.gpg"))?;
            let signature = fetcher
                .optional(&format!("{release}.gpg"), MAX_RELEASE)
                .await?
                .ok_or_else(|| AptError::Signature {
                    url: url.to_string(),
                    keyring: keyring.given(),
                    reason: format!("it is not signed (no InRelease, no {sig_url})"),
                })?;
            let (path, sig) = (save("Release", &data)?, save("Release.gpg", &signature)?);
            keyring
                .verify_detached(url.as_str(), &sig, &path, scratch)
                .await?;
            data
        }
    };
    String::from_utf8(signed)
        .map_err(|_| AptError::Repository(format!("{url}: the Release is not UTF-8 text")))
}

/// The Sources and Packages indices of the selected components and
/// architectures, each checked against the Release.
async fn read_indices(
    fetcher: &Fetcher,
    dists: &str,
    release: &Release,
    mirror: &Mirror,
) -> Result<Offer, AptError> {
    let mut offer = Offer::default();
    for component in &mirror.components {
        let (url, text) = fetch_index(
            fetcher,
            dists,
            release,
            &format!("{component}/source/Sources"),
        )
        .await?;
        let sources =
            index::sources(&text).map_err(|e| AptError::Repository(format!("{url}: {e}")))?;
        offer
            .sources
            .extend(sources.into_iter().map(|s| (component.clone(), s)));
        for arch in &mirror.architectures {
            let base = format!("{component}/binary-{arch}/Packages");
            let (url, text) = fetch_index(fetcher, dists, release, &base).await?;
            let binaries =
                index::packages(&text).map_err(|e| AptError::Repository(format!("{url}: {e}")))?;
            offer.binaries.extend(
                binaries
                    .into_iter()
                    .filter(|b| b.architecture == *arch || b.architecture == "all")
                    .map(|b| (component.clone(), b)),
            );
        }
    }
    Ok(offer)
}

/// The best-compressed form of index `base` that the Release lists,
/// checked and decompressed; with the URL for messages.
async fn fetch_index(
    fetcher: &Fetcher,
    dists: &str,
    release: &Release,
    base: &str,
) -> Result<(url::Url, String), AptError> {
    let (path, compression, sum) = match release.index(base) {
        Some(index) => index,
        None => {
            return Err(AptError::Repository(format!(
                "{}: it lists no {base}, {base}.gz or {base}.xz: check --component and --architecture",
                fetcher.url(&format!("{dists}/Release"))?
            )));
        }
    };
    let rel = format!("{dists}/{path}");
    let url = fetcher.url(&rel)?;
    if sum.size > MAX_INDEX {
        return Err(AptError::TooLarge {
            url: url.to_string(),
            max: MAX_INDEX,
        });
    }
    tracing::debug!(%url, "fetching index");
    let data = fetcher
        .checked(&rel, sum, &format!("{dists}/Release"))
        .await?;
    let text = release::decompress(&data, compression, MAX_INDEX)
        .map_err(|e| AptError::Repository(format!("{url}: {e}")))?;
    Ok((url, text))
}

/// Keeps the selected source packages and the binaries built from them,
/// each once; refuses names in `mirror.packages` that the suite lacks.
fn select(offer: Offer, mirror: &Mirror) -> Result<Offer, AptError> {
    let offered: BTreeSet<&str> = offer.sources.iter().map(|(_, s)| s.name.as_str()).collect();
    let unknown: Vec<&str> = mirror
        .packages
        .iter()
        .map(String::as_str)
        .filter(|p| !offered.contains(p))
        .collect();
    if !unknown.is_empty() {
        return Err(AptError::UnknownPackages {
            names: unknown.join(", "),
            suite: mirror.suite.clone(),
            components: mirror.components.join(" "),
        });
    }
    let selected =
        |name: &str| mirror.packages.is_empty() || mirror.packages.iter().any(|p| p == name);
    let mut seen = BTreeSet::new();
    let sources = offer
        .sources
        .into_iter()
        .filter(|(_, s)| selected(&s.name) && seen.insert(s.item_name()))
        .collect();
    // An `all` binary is in every architecture's Packages.
    let binaries = offer
        .binaries
        .into_iter()
        .filter(|(_, b)| selected(&b.source) && seen.insert(b.item_name()))
        .collect();
    Ok(Offer { sources, binaries })
}

/// Whether an active item is one this import may remove when the
/// repository no longer has it: a package of the selected packages,
/// components and (for binaries) architectures.
fn in_scope(item: &CollectionItem, mirror: &Mirror) -> bool {
    let text = |key: &str| item.data.get(key).and_then(Value::as_str);
    let package = match item.category.as_str() {
        SOURCE_PACKAGE => text("package"),
        BINARY_PACKAGE => {
            let arch = text("architecture").unwrap_or_default();
            if arch != "all" && !mirror.architectures.iter().any(|a| a == arch) {
                return false;
            }
            text("srcpkg_name")
        }
        _ => return false,
    };
    if text("component").is_some_and(|c| !mirror.components.iter().any(|m| m == c)) {
        return false;
    }
    mirror.packages.is_empty() || package.is_some_and(|p| mirror.packages.iter().any(|m| m == p))
}

/// One file to download.
struct Download {
    rel: String,
    checksum: Checksum,
    listed_in: String,
    dest: PathBuf,
}

/// Downloads the packages' files, checked against their indices, then
/// makes their artifacts; returns the items to add.
async fn fetch_packages(
    store: &dyn ArtifactStore,
    fetcher: &Fetcher,
    dists: &str,
    sources: &[(String, SourcePackage)],
    binaries: &[(String, BinaryPackage)],
    scratch: &Path,
) -> Result<Vec<Addition>, AptError> {
    let mut downloads = Vec::new();
    let mut dirs = Vec::new();
    for (i, (component, source)) in sources.iter().enumerate() {
        let dir = scratch.join(format!("source-{i}"));
        for (file, checksum) in &source.files {
            downloads.push(Download {
                rel: format!("{}/{file}", source.directory),
                checksum: checksum.clone(),
                listed_in: format!("{dists}/{component}/source/Sources"),
                dest: dir.join(file),
            });
        }
        dirs.push(dir);
    }
    for (i, (component, binary)) in binaries.iter().enumerate() {
        let dir = scratch.join(format!("binary-{i}"));
        downloads.push(Download {
            rel: binary.filename.clone(),
            checksum: binary.checksum.clone(),
            listed_in: format!(
                "{dists}/{component}/binary-{}/Packages",
                binary.architecture
            ),
            dest: dir.join(binary.file_name()),
        });
        dirs.push(dir);
    }
    for dir in &dirs {
        std::fs::create_dir_all(dir)
            .map_err(|e| AptError::Repository(format!("creating {}: {e}", dir.display())))?;
    }
    tracing::info!("downloading {} file(s)", downloads.len());
    download_all(fetcher, downloads).await?;

    let mut additions = Vec::new();
    for (i, (component, source)) in sources.iter().enumerate() {
        // The index parser puts the one .dsc first.
        let Some((dsc, _)) = source.files.first() else {
            let name = source.item_name();
            return Err(AptError::Repository(format!(
                "{name}: the index lists no .dsc"
            )));
        };
        let url = fetcher.url(&format!("{}/{dsc}", source.directory))?;
        let path = scratch.join(format!("source-{i}")).join(dsc);
        let mut addition = make_artifact(store, &url, &path, SOURCE_PACKAGE, &source.item_name())?;
        addition.data["component"] = json!(component);
        if let Some(section) = &source.section {
            addition.data["section"] = json!(section);
        }
        additions.push(addition);
    }
    for (i, (component, binary)) in binaries.iter().enumerate() {
        let url = fetcher.url(&binary.filename)?;
        let path = scratch.join(format!("binary-{i}")).join(binary.file_name());
        let mut addition = make_artifact(store, &url, &path, BINARY_PACKAGE, &binary.item_name())?;
        addition.data["component"] = json!(component);
        for (key, value) in [("section", &binary.section), ("priority", &binary.priority)] {
            if let Some(value) = value {
                addition.data[key] = json!(value);
            }
        }
        additions.push(addition);
    }
    Ok(additions)
}

/// Imports a downloaded .dsc (with its files) or .deb; refuses one that
/// is another package than its index says.
fn make_artifact(
    store: &dyn ArtifactStore,
    url: &url::Url,
    path: &Path,
    category: &str,
    expected: &str,
) -> Result<Addition, AptError> {
    let artifact = crate::import::import(store, &[path.to_path_buf()], category, None, None)
        .map_err(|source| AptError::Import {
            url: url.to_string(),
            source,
        })?;
    let (name, data) = suite_item(&artifact.category, &artifact.data)?;
    if name != expected {
        return Err(AptError::Repository(format!(
            "{url}: the package is {name}, but its index says {expected}"
        )));
    }
    Ok(Addition {
        name,
        artifact: artifact.id,
        data,
    })
}

/// Runs the downloads, [`PARALLEL`] at a time; the first error stops them.
async fn download_all(fetcher: &Fetcher, downloads: Vec<Download>) -> Result<(), AptError> {
    let mut pending = downloads.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < PARALLEL {
            let Some(d) = pending.next() else { break };
            if d.checksum.size > MAX_FILE {
                return Err(AptError::TooLarge {
                    url: fetcher.url(&d.rel)?.to_string(),
                    max: MAX_FILE,
                });
            }
            let fetcher = fetcher.clone();
            running.spawn(async move {
                fetcher
                    .download(&d.rel, &d.checksum, &d.listed_in, &d.dest)
                    .await
            });
        }
        match running.join_next().await {
            None => return Ok(()),
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(e))) => return Err(e),
            Some(Err(e)) => return Err(AptError::Repository(format!("a download stopped: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirror(packages: &[&str]) -> Mirror {
        Mirror {
            url: url::Url::parse("http://mirror.invalid/debian").unwrap(),
            suite: "bookworm".into(),
            components: vec!["main".into()],
            architectures: vec!["amd64".into()],
            packages: packages.iter().map(|p| p.to_string()).collect(),
            keyring: "keyring.gpg".into(),
        }
    }

    fn sum() -> Checksum {
        Checksum {
            size: 1,
            sha256: "0".repeat(64),
        }
    }

    fn source(name: &str) -> (String, SourcePackage) {
        let source = SourcePackage {
            name: name.into(),
            version: "1.0".into(),
            directory: format!("pool/main/{name}"),
            files: vec![(format!("{name}_1.0.dsc"), sum())],
            section: None,
        };
        ("main".into(), source)
    }

    fn binary(name: &str, source: &str, arch: &str) -> (String, BinaryPackage) {
        let binary = BinaryPackage {
            name: name.into(),
            version: "1.0".into(),
            architecture: arch.into(),
            source: source.into(),
            filename: format!("pool/main/{source}/{name}_1.0_{arch}.deb"),
            checksum: sum(),
            section: None,
            priority: None,
        };
        ("main".into(), binary)
    }

    fn offer() -> Offer {
        Offer {
            sources: vec![source("hello"), source("other")],
            binaries: vec![
                binary("hello", "hello", "amd64"),
                binary("hello-doc", "hello", "all"),
                binary("other", "other", "amd64"),
                // The `all` binary again, from another Packages.
                binary("hello-doc", "hello", "all"),
            ],
        }
    }

    fn names(offer: &Offer) -> Vec<String> {
        let sources = offer.sources.iter().map(|(_, s)| s.item_name());
        sources
            .chain(offer.binaries.iter().map(|(_, b)| b.item_name()))
            .collect()
    }

    #[test]
    fn packages_select_sources_and_their_binaries_once() {
        let all = select(offer(), &mirror(&[])).unwrap();
        assert_eq!(
            names(&all),
            [
                "hello_1.0",
                "other_1.0",
                "hello_1.0_amd64",
                "hello-doc_1.0_all",
                "other_1.0_amd64"
            ]
        );
        let hello = select(offer(), &mirror(&["hello"])).unwrap();
        assert_eq!(
            names(&hello),
            ["hello_1.0", "hello_1.0_amd64", "hello-doc_1.0_all"]
        );
    }

    #[test]
    fn an_unknown_package_is_named() {
        let e = select(offer(), &mirror(&["hello", "nope", "hello-doc"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no source package nope, hello-doc"), "{e}");
    }

    #[test]
    fn only_items_of_the_selection_may_be_removed() {
        let item = |category: &str, data: Value| CollectionItem {
            id: 1,
            collection: 1,
            name: "x".into(),
            category: category.into(),
            artifact: Some(1),
            data,
            created_at: String::new(),
            created_by: None,
            removed_at: None,
            removed_by: None,
        };
        let src = item(
            SOURCE_PACKAGE,
            json!({"package": "hello", "component": "main"}),
        );
        let arm = item(
            BINARY_PACKAGE,
            json!({"srcpkg_name": "hello", "architecture": "arm64"}),
        );
        let all = item(
            BINARY_PACKAGE,
            json!({"srcpkg_name": "hello", "architecture": "all"}),
        );
        let contrib = item(
            SOURCE_PACKAGE,
            json!({"package": "hello", "component": "contrib"}),
        );
        let other = item("debian:lintian", json!({}));
        assert!(in_scope(&src, &mirror(&[])));
        assert!(in_scope(&src, &mirror(&["hello"])));
        assert!(!in_scope(&src, &mirror(&["other"])));
        assert!(!in_scope(&arm, &mirror(&[])));
        assert!(in_scope(&all, &mirror(&["hello"])));
        assert!(!in_scope(&contrib, &mirror(&[])));
        assert!(!in_scope(&other, &mirror(&[])));
    }

    #[test]
    fn mirror_settings_that_leave_dists_are_refused() {
        let mut m = mirror(&[]);
        m.suite = "../../etc".into();
        assert!(
            check_mirror(&m)
                .unwrap_err()
                .to_string()
                .contains("the suite")
        );
        let mut m = mirror(&[]);
        m.architectures.clear();
        assert!(
            check_mirror(&m)
                .unwrap_err()
                .to_string()
                .contains("no architectures")
        );
    }

    #[tokio::test]
    async fn a_bad_collection_name_is_refused_before_any_download() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::store::LocalStore::open(tmp.path().join("store")).unwrap();
        let e = import(&store, "a/b", &mirror(&[]))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid collection name"), "{e}");
        assert!(store.collections(None).unwrap().is_empty());
    }
}
