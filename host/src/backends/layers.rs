//! Cached package layers of the unshare backend: the Debian packages a
//! plugin declares, installed once per (system tarball, package set) and
//! kept as a read-only overlay layer over the unpacked tarball.
//!
//! - A layer's key is the sha256 of its inputs: the layer [`FORMAT`], the
//!   tarball's sha256 (which fixes the environment's release, mirror and
//!   architecture), the host architecture, and the sorted package names.
//!   Another tarball or another package set is another key.
//! - Building: an environment is opened over the unpacked tarball with its
//!   upper layer in a staging directory of the cache, apt-get installs the
//!   packages, apt's downloaded packages and lists are emptied (so the
//!   environment looks like the tarball with the packages installed: a
//!   plugin that runs apt itself runs `apt-get update` first, as it must on
//!   the bare tarball), and the environment ends. Its upper layer, which
//!   is exactly what the install changed (whiteouts, opaque directories and
//!   the namespace's ids included), never leaves the cache's file system:
//!   the staging directory is renamed into place. A layer is complete once
//!   it has its name, and never changes after.
//! - Concurrency: each key has a lock file (`KEY.lock`, flock). A run that
//!   uses a layer holds it shared for as long as its environment is open;
//!   building or removing a layer takes it exclusively. Two runs wanting
//!   the same missing layer: one builds it, the other waits and uses it.
//! - A failed build (apt's error, a timeout, a killed runtask) leaves no
//!   layer: its staging directory is removed, or by the next build or
//!   eviction if runtask died.
//! - Eviction ([`LayerCache::evict`], after each build): layers whose
//!   tarball is no longer unpacked go first, then the least recently used
//!   (the directory's mtime, touched on each use) until the cache is under
//!   its size cap. A layer in use is never removed.
//! - A layer is as fresh as the archive was when it was built: a security
//!   update reaches it when the tarball is rebuilt (a new digest) or the
//!   layer is evicted.

use super::unshare::{Session, Subids, UnshareError, remove_tree};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Version of the layer format and of how layers are built; bump it when
/// either changes, so older layers are not used.
pub const FORMAT: u32 = 1;
/// Default size cap of a layer cache.
pub const DEFAULT_MAX_BYTES: u64 = 8 << 30;
/// What a layer's metadata file is called, inside its directory.
const META: &str = "layer.json";
/// The layer's tree, inside its directory (the build's overlay upper dir).
const TREE: &str = "upper";
const STAGING: &str = ".build-";

fn failed(what: &str, e: impl std::fmt::Display) -> UnshareError {
    UnshareError::Failed(format!("{what}: {e}"))
}

/// Checks a Debian package name (Policy 5.6.1: lower case letters,
/// digits, `+`, `-`, `.`, at least two characters, starting with a letter
/// or digit), optionally with an `:ARCH` qualifier. Anything else could be
/// read as an option by apt-get.
pub fn check_package_name(name: &str) -> Result<(), UnshareError> {
    let (package, arch) = match name.split_once(':') {
        Some((p, a)) => (p, Some(a)),
        None => (name, None),
    };
    let package_ok = package.len() >= 2
        && package.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && package
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    let arch_ok = arch.is_none_or(|a| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    });
    if package_ok && arch_ok {
        Ok(())
    } else {
        Err(UnshareError::Failed(format!(
            "'{name}' is not a Debian package name (a-z, 0-9, '+', '-', '.', starting with a letter or digit)"
        )))
    }
}

/// What a layer is made from, and its digest (the cache's name for it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerKey {
    tarball: String,
    arch: String,
    packages: Vec<String>,
    digest: String,
}

impl LayerKey {
    /// The key of `packages` installed on the tarball whose content has
    /// `tarball_sha256`. Order and repeats in `packages` do not matter.
    pub fn new(tarball_sha256: &str, packages: &[String]) -> Result<LayerKey, UnshareError> {
        if tarball_sha256.len() != 64 || !tarball_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(UnshareError::Failed(format!(
                "bad tarball sha256 '{tarball_sha256}'"
            )));
        }
        if packages.is_empty() {
            return Err(UnshareError::Failed("a layer needs packages".into()));
        }
        for p in packages {
            check_package_name(p)?;
        }
        let mut packages = packages.to_vec();
        packages.sort();
        packages.dedup();
        let mut key = LayerKey {
            tarball: tarball_sha256.to_ascii_lowercase(),
            arch: std::env::consts::ARCH.to_string(),
            packages,
            digest: String::new(),
        };
        key.digest = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(key.material().as_bytes()))
        };
        Ok(key)
    }

    /// Every input of the layer, one per line.
    fn material(&self) -> String {
        format!(
            "taskhost package layer\nformat {FORMAT}\ntarball {}\narch {}\npackages {}\n",
            self.tarball,
            self.arch,
            self.packages.join(" ")
        )
    }

    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The packages, sorted, without repeats.
    pub fn packages(&self) -> &[String] {
        &self.packages
    }

    pub fn tarball(&self) -> &str {
        &self.tarball
    }
}

/// What a layer's directory records about it (`layer.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerMeta {
    pub format: u32,
    pub tarball: String,
    pub arch: String,
    pub packages: Vec<String>,
    /// The packages apt installed (the others were in the tarball).
    pub installed: Vec<String>,
    /// Disk use of the tree (what this user can see of it).
    pub bytes: u64,
    pub built_at: u64,
    pub build_seconds: f64,
}

/// A build's outcome.
#[derive(Clone, Debug)]
pub struct Built {
    pub installed: Vec<String>,
    /// apt's output.
    pub log: String,
    pub took: Duration,
}

/// A shared lock on a layer: while it is held the layer is not removed.
#[derive(Debug)]
pub struct Lease {
    _file: File,
}

/// A layer ready to be a lower layer of an environment.
#[derive(Debug)]
pub struct Layer {
    /// The tree to stack over the unpacked tarball.
    pub tree: PathBuf,
    /// What this call built; `None` when the layer was cached.
    pub built: Option<Built>,
    /// Time spent waiting for another run that was building it.
    pub waited: Duration,
    pub lease: Lease,
}

/// What [`LayerCache::evict`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Digests of the removed layers.
    pub removed: Vec<String>,
    pub freed: u64,
    /// What the layers left take.
    pub kept: u64,
}

/// Package layers, one directory per key digest, beside the unpacked
/// tarballs of an [`super::unshare::ImageCache`] (in its `layers/`).
#[derive(Clone, Debug)]
pub struct LayerCache {
    dir: PathBuf,
    ids: Subids,
    max_bytes: u64,
}

enum LockKind {
    Shared,
    Exclusive,
}

impl LayerCache {
    pub fn new(dir: impl Into<PathBuf>, ids: Subids) -> Self {
        LayerCache {
            dir: dir.into(),
            ids,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// Caps the layers' total size (see [`LayerCache::evict`]).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the layer of `key` lives once built.
    pub fn path(&self, key: &LayerKey) -> PathBuf {
        self.dir.join(key.digest())
    }

    /// The layer of `key` over the unpacked tarball `base`, building it
    /// first if no run has. Gives up after `timeout`.
    pub async fn ensure(
        &self,
        key: &LayerKey,
        base: &Path,
        timeout: Duration,
    ) -> Result<Layer, UnshareError> {
        let ids = self.ids;
        let deadline = Instant::now() + timeout;
        self.ensure_with(key, timeout, |staging| async move {
            let left = deadline.saturating_duration_since(Instant::now());
            let built = build(ids, base.to_path_buf(), key.clone(), staging, left);
            tokio::time::timeout(left, built).await.map_err(|_| {
                UnshareError::Failed(format!(
                    "installing {} did not finish in the {:.0} s the run had left",
                    key.packages().join(" "),
                    left.as_secs_f64()
                ))
            })?
        })
        .await
    }

    /// [`LayerCache::ensure`] with `build`, which fills a staging
    /// directory with [`TREE`] (tests give their own).
    pub async fn ensure_with<F, Fut>(
        &self,
        key: &LayerKey,
        timeout: Duration,
        build: F,
    ) -> Result<Layer, UnshareError>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: std::future::Future<Output = Result<Built, UnshareError>>,
    {
        let deadline = Instant::now() + timeout;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| failed(&format!("creating {}", self.dir.display()), e))?;
        set_mode(&self.dir, 0o700)?;
        let lock = self.lock_file(key.digest())?;
        let done = self.path(key);
        let mut build = Some(build);
        let mut built = None;
        let mut waited = Duration::ZERO;
        loop {
            waited += wait_lock(&lock, LockKind::Shared, deadline).await?;
            if done.join(META).is_file() {
                touch(&done);
                return Ok(Layer {
                    tree: done.join(TREE),
                    built,
                    waited,
                    lease: Lease { _file: lock },
                });
            }
            let _ = lock.unlock();
            waited += wait_lock(&lock, LockKind::Exclusive, deadline).await?;
            if done.join(META).is_file() {
                // Another run built it meanwhile.
                let _ = lock.unlock();
                continue;
            }
            let Some(build) = build.take() else {
                return Err(UnshareError::Failed(format!(
                    "the layer {} was removed as soon as it was built; is the cache's size cap \
                     too small?",
                    done.display()
                )));
            };
            built = Some(self.build_locked(key, build).await?);
            let _ = lock.unlock();
        }
    }

    /// Builds the layer of `key` under its exclusive lock: in a staging
    /// directory, renamed into place when complete.
    async fn build_locked<F, Fut>(&self, key: &LayerKey, build: F) -> Result<Built, UnshareError>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: std::future::Future<Output = Result<Built, UnshareError>>,
    {
        // What a killed runtask left of an earlier build of this key.
        for stale in self.staging_dirs(Some(key.digest())) {
            let _ = remove_tree(self.ids, &stale).await;
        }
        let staging = tempfile::Builder::new()
            .prefix(&format!("{STAGING}{}-", key.digest()))
            .tempdir_in(&self.dir)
            .map_err(|e| failed("creating a staging directory", e))?
            .keep();
        let result = async {
            let built = build(staging.clone()).await?;
            let tree = staging.join(TREE);
            if !tree.is_dir() {
                return Err(UnshareError::Failed(format!(
                    "building the layer left no {}",
                    tree.display()
                )));
            }
            let bytes = tokio::task::spawn_blocking(move || disk_use(&tree))
                .await
                .unwrap_or(0);
            let meta = LayerMeta {
                format: FORMAT,
                tarball: key.tarball.clone(),
                arch: key.arch.clone(),
                packages: key.packages.clone(),
                installed: built.installed.clone(),
                bytes,
                built_at: SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                build_seconds: built.took.as_secs_f64(),
            };
            let text = serde_json::to_string_pretty(&meta).map_err(|e| failed("layer.json", e))?;
            std::fs::write(staging.join(META), text)
                .map_err(|e| failed("writing the layer's layer.json", e))?;
            let done = self.path(key);
            std::fs::rename(&staging, &done)
                .map_err(|e| failed(&format!("moving the built layer to {}", done.display()), e))?;
            touch(&done);
            Ok(built)
        }
        .await;
        if result.is_err() {
            let _ = remove_tree(self.ids, &staging).await;
        }
        result
    }

    fn lock_file(&self, digest: &str) -> Result<File, UnshareError> {
        let path = self.dir.join(format!("{digest}.lock"));
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| failed(&format!("opening {}", path.display()), e))
    }

    /// Staging directories, of one key or of all.
    fn staging_dirs(&self, digest: Option<&str>) -> Vec<PathBuf> {
        let prefix = format!("{STAGING}{}", digest.unwrap_or(""));
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes what is not worth keeping: staging directories that no
    /// build is using, layers whose tarball is no longer unpacked beside
    /// them, layers of another format, then the least recently used
    /// layers while the total is over the cap. Layers in use stay.
    pub async fn evict(&self) -> Result<Evicted, UnshareError> {
        let mut evicted = Evicted::default();
        for staging in self.staging_dirs(None) {
            let name = staging
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let digest = name.trim_start_matches(STAGING).split('-').next();
            let Some(digest) = digest.filter(|d| is_digest(d)) else {
                continue;
            };
            let lock = self.lock_file(digest)?;
            if lock.try_lock().is_ok() {
                let _ = remove_tree(self.ids, &staging).await;
            }
        }
        let images = self.dir.parent().map(Path::to_path_buf);
        let mut layers = Vec::new();
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| failed(&format!("reading {}", self.dir.display()), e))?;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_digest(&name) || !entry.path().is_dir() {
                continue;
            }
            let meta: Option<LayerMeta> = std::fs::read(entry.path().join(META))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let used = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let useless = match (&meta, &images) {
                (None, _) => true,
                (Some(m), _) if m.format != FORMAT => true,
                (Some(m), Some(images)) => !images.join(&m.tarball).join("root").is_dir(),
                (Some(_), None) => false,
            };
            let bytes = meta.map_or(0, |m| m.bytes);
            layers.push((useless, used, name, bytes));
        }
        // Useless ones first, then the least recently used.
        layers.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut total: u64 = layers.iter().map(|l| l.3).sum();
        for (useless, _, name, bytes) in layers {
            if !useless && total <= self.max_bytes {
                break;
            }
            let lock = self.lock_file(&name)?;
            if lock.try_lock().is_err() {
                continue;
            }
            remove_tree(self.ids, &self.dir.join(&name)).await?;
            total -= bytes;
            evicted.freed += bytes;
            evicted.removed.push(name);
        }
        evicted.kept = total;
        Ok(evicted)
    }
}

fn is_digest(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn set_mode(dir: &Path, mode: u32) -> Result<(), UnshareError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| failed(&format!("chmod {}", dir.display()), e))
}

/// Marks a layer as just used (eviction removes the least recently used).
fn touch(dir: &Path) {
    let _ = File::open(dir).and_then(|d| d.set_modified(SystemTime::now()));
}

/// Takes `kind` of lock on `file`, polling until `deadline`; returns the
/// time spent waiting.
async fn wait_lock(
    file: &File,
    kind: LockKind,
    deadline: Instant,
) -> Result<Duration, UnshareError> {
    let started = Instant::now();
    loop {
        let tried = match kind {
            LockKind::Shared => file.try_lock_shared(),
            LockKind::Exclusive => file.try_lock(),
        };
        match tried {
            Ok(()) => return Ok(started.elapsed()),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(failed("locking the package layer", e));
            }
        }
        if Instant::now() >= deadline {
            return Err(UnshareError::Failed(format!(
                "waited {:.0} s for another run building the same package layer; it is still \
                 building",
                started.elapsed().as_secs_f64()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Disk use of a tree, not following links; what cannot be read counts 0.
fn disk_use(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = meta.blocks() * 512;
    if meta.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for entry in entries.filter_map(Result::ok) {
            total += disk_use(&entry.path());
        }
    }
    total
}

/// Builds the layer of `key` in `staging`: an environment over `base`
/// whose upper layer is `staging/upper`, the packages installed, apt's
/// caches emptied, the environment ended, its scratch directories removed.
async fn build(
    ids: Subids,
    base: PathBuf,
    key: LayerKey,
    staging: PathBuf,
    timeout: Duration,
) -> Result<Built, UnshareError> {
    let started = Instant::now();
    let workspace = staging.join("workspace");
    std::fs::create_dir(&workspace).map_err(|e| failed("creating a build workspace", e))?;
    set_mode(&workspace, 0o755)?;
    let session = Session::open(ids, &base, &workspace, &staging).await?;
    let installed = async {
        let (installed, log) = session.install_packages(key.packages(), timeout).await?;
        session.tidy_for_layer(timeout).await?;
        Ok::<_, UnshareError>((installed, log))
    }
    .await;
    // Nothing may run in the environment when its upper layer is taken.
    let ended = session.end().await;
    let (installed, log) = installed?;
    ended?;
    for dir in ["work", "root", "workspace"] {
        remove_tree(ids, &staging.join(dir)).await?;
    }
    Ok(Built {
        installed,
        log,
        took: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const SUM: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const IDS: Subids = Subids {
        uid: 100000,
        gid: 100000,
        count: 65536,
    };

    fn key(packages: &[&str]) -> LayerKey {
        let packages: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
        LayerKey::new(SUM, &packages).expect("key")
    }

    /// A stand-in for the apt build: writes `upper/marker`, after `delay`.
    async fn fake_build(
        staging: PathBuf,
        delay: Duration,
        count: Arc<AtomicUsize>,
    ) -> Result<Built, UnshareError> {
        count.fetch_add(1, Ordering::SeqCst);
        std::fs::create_dir(staging.join(TREE)).expect("upper");
        tokio::time::sleep(delay).await;
        std::fs::write(staging.join(TREE).join("marker"), "x").expect("marker");
        Ok(Built {
            installed: vec!["hello".into()],
            log: String::new(),
            took: delay,
        })
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn the_key_ignores_order_and_repeats_of_packages() {
        assert_eq!(key(&["lintian", "blhc"]), key(&["blhc", "lintian", "blhc"]));
        assert_eq!(key(&["blhc", "lintian"]).packages(), ["blhc", "lintian"]);
        assert_eq!(key(&["lintian"]).digest().len(), 64);
    }

    #[test]
    fn another_package_set_or_tarball_is_another_key() {
        let lintian = key(&["lintian"]);
        assert_ne!(lintian.digest(), key(&["lintian", "blhc"]).digest());
        assert_ne!(lintian.digest(), key(&["blhc"]).digest());
        let other = LayerKey::new(&SUM.replace('0', "f"), &["lintian".to_string()]).expect("key");
        assert_ne!(lintian.digest(), other.digest());
        // The format version is one of the inputs.
        assert!(lintian.material().contains(&format!("format {FORMAT}\n")));
        assert!(lintian.material().contains(std::env::consts::ARCH));
    }

    #[test]
    fn package_names_that_apt_could_read_as_options_are_refused() {
        for bad in [
            "-oDir=/",
            "--allow-unauthenticated",
            "a",
            "Lintian",
            "foo bar",
            "foo;rm",
            "foo:",
            "../x",
            "",
        ] {
            let err = LayerKey::new(SUM, &[bad.to_string()]).expect_err(bad);
            assert!(
                err.to_string().contains("not a Debian package name"),
                "{err}"
            );
        }
        for good in ["lintian", "g++", "libc6:amd64", "python3.11", "0ad"] {
            check_package_name(good).expect(good);
        }
        assert!(LayerKey::new("abc", &["lintian".to_string()]).is_err());
        assert!(LayerKey::new(SUM, &[]).is_err());
    }

    #[tokio::test]
    async fn two_runs_wanting_the_same_layer_build_it_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = LayerCache::new(dir.path().join("layers"), IDS);
        let k = key(&["hello"]);
        let count = Arc::new(AtomicUsize::new(0));
        let build =
            |c: Arc<AtomicUsize>| move |staging| fake_build(staging, Duration::from_millis(300), c);
        let (a, b) = tokio::join!(
            cache.ensure_with(&k, Duration::from_secs(10), build(count.clone())),
            cache.ensure_with(&k, Duration::from_secs(10), build(count.clone())),
        );
        let (a, b) = (a.expect("a"), b.expect("b"));
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(a.tree, b.tree);
        assert_eq!(a.tree, cache.path(&k).join(TREE));
        // One built it; the other waited for it and found it complete.
        assert_eq!(
            usize::from(a.built.is_some()) + usize::from(b.built.is_some()),
            1
        );
        let waiter = if a.built.is_some() { &b } else { &a };
        assert!(waiter.waited >= Duration::from_millis(100), "{waiter:?}");
        assert_eq!(
            std::fs::read_to_string(a.tree.join("marker")).expect("marker"),
            "x"
        );
        // No staging directory is left; the layer records what it holds.
        let digest = k.digest().to_string();
        assert_eq!(
            names(cache.dir()),
            vec![digest.clone(), format!("{digest}.lock")]
        );
        let meta: LayerMeta =
            serde_json::from_slice(&std::fs::read(cache.path(&k).join(META)).expect("meta"))
                .expect("json");
        assert_eq!(meta.packages, ["hello"]);
        assert_eq!(meta.tarball, SUM);
        assert_eq!(meta.format, FORMAT);
        // A third run finds it without building.
        drop((a, b));
        let c = cache
            .ensure_with(&k, Duration::from_secs(10), build(count.clone()))
            .await
            .expect("c");
        assert!(c.built.is_none());
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_build_leaves_nothing_and_the_next_run_builds_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = LayerCache::new(dir.path().join("layers"), IDS);
        let k = key(&["no-such-package"]);
        let err = cache
            .ensure_with(&k, Duration::from_secs(10), |staging: PathBuf| async move {
                // Half a layer, then apt fails.
                std::fs::create_dir(staging.join(TREE)).expect("upper");
                std::fs::write(staging.join(TREE).join("half"), "x").expect("half");
                Err(UnshareError::Failed(
                    "E: Unable to locate package no-such-package".into(),
                ))
            })
            .await
            .expect_err("the build fails");
        assert!(
            err.to_string().contains("Unable to locate package"),
            "{err}"
        );
        assert_eq!(names(cache.dir()), vec![format!("{}.lock", k.digest())]);
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let layer = cache
            .ensure_with(&k, Duration::from_secs(10), move |s| {
                fake_build(s, Duration::ZERO, c)
            })
            .await
            .expect("second build");
        assert!(layer.built.is_some());
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_waiting_run_gives_up_at_its_deadline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = LayerCache::new(dir.path().join("layers"), IDS);
        let k = key(&["hello"]);
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let slow = cache.ensure_with(&k, Duration::from_secs(10), move |s| {
            fake_build(s, Duration::from_millis(800), c)
        });
        let impatient = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            cache
                .ensure_with(&k, Duration::from_millis(200), |_| async {
                    Err(UnshareError::Failed("must not build".into()))
                })
                .await
        };
        let (slow, impatient) = tokio::join!(slow, impatient);
        slow.expect("the builder finishes");
        let err = impatient.expect_err("the waiter times out");
        assert!(err.to_string().contains("another run building"), "{err}");
    }

    #[tokio::test]
    async fn stale_staging_of_a_killed_build_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = LayerCache::new(dir.path().join("layers"), IDS);
        let k = key(&["hello"]);
        std::fs::create_dir_all(cache.dir()).expect("mkdir");
        let stale = cache.dir().join(format!("{STAGING}{}-killed", k.digest()));
        std::fs::create_dir_all(stale.join(TREE)).expect("stale");
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        cache
            .ensure_with(&k, Duration::from_secs(10), move |s| {
                fake_build(s, Duration::ZERO, c)
            })
            .await
            .expect("build");
        assert!(!stale.exists());
    }

    /// A layer of `bytes` for tarball `tarball`, used at `used`.
    fn plant(cache: &LayerCache, name: &str, tarball: &str, bytes: u64, used: u64) {
        let dir = cache.dir().join(name);
        std::fs::create_dir_all(dir.join(TREE)).expect("mkdir");
        let meta = LayerMeta {
            format: FORMAT,
            tarball: tarball.into(),
            arch: "x".into(),
            packages: vec!["p".into()],
            installed: vec![],
            bytes,
            built_at: 0,
            build_seconds: 0.0,
        };
        std::fs::write(dir.join(META), serde_json::to_string(&meta).expect("json")).expect("w");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(used);
        File::open(&dir)
            .and_then(|d| d.set_modified(at))
            .expect("mtime");
    }

    #[tokio::test]
    async fn eviction_removes_orphans_then_the_least_recently_used_but_not_layers_in_use() {
        let dir = tempfile::tempdir().expect("tempdir");
        let images = dir.path().join("environments");
        std::fs::create_dir_all(images.join(SUM).join("root")).expect("base");
        let cache = LayerCache::new(images.join("layers"), IDS).with_max_bytes(250);
        let name = |c: char| c.to_string().repeat(64);
        plant(&cache, &name('a'), SUM, 100, 1_000);
        plant(&cache, &name('b'), SUM, 100, 2_000);
        plant(&cache, &name('c'), SUM, 100, 3_000);
        plant(&cache, &name('d'), SUM, 100, 4_000);
        // A layer over a tarball no longer unpacked: useless, however new.
        plant(&cache, &name('e'), &"9".repeat(64), 10, 9_000);
        // 'a' is in use by a run.
        let lease = cache.lock_file(&name('a')).expect("lock");
        lease.try_lock_shared().expect("shared");
        let evicted = cache.evict().await.expect("evict");
        assert_eq!(evicted.removed, vec![name('e'), name('b'), name('c')]);
        assert_eq!(evicted.freed, 210);
        assert_eq!(evicted.kept, 200);
        let left: Vec<String> = names(cache.dir())
            .into_iter()
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        assert_eq!(left, vec![name('a'), name('d')]);
        // Under the cap, nothing more goes.
        drop(lease);
        assert_eq!(
            cache.evict().await.expect("evict").removed,
            Vec::<String>::new()
        );
    }
}
