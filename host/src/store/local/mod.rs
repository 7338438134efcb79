//! [`LocalStore`]: content-addressed blobs in a directory plus a SQLite index.
//!
//! Layout under the root:
//! - `index.sqlite3`: artifacts, files and relations (WAL mode; [`index`]);
//! - `files/<sha[0..2]>/<sha256>`: read-only blobs, shared between artifacts;
//! - `tmp/`: blobs being written ([`blobs`]);
//! - `lock`: `flock`ed shared by `create`, exclusively by `gc`, so that `gc`
//!   never removes a blob that a concurrent `create` is about to reference.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::{
    Artifact, ArtifactId, ArtifactStore, Collection, CollectionId, CollectionItem, FileEntry,
    ItemFilter, ListFilter, NewArtifact, NewItem, Relation, RunRecord, StoreError,
    validate_category, validate_file_name, validate_file_names,
};

mod blobs;
mod collections;
mod fault;
mod index;
mod runs;
#[cfg(test)]
mod tests;

use blobs::is_sha256_hex;
pub(super) use blobs::{Blobs, check_source};
pub(crate) use index::now_rfc3339;
use index::{Index, NewRow};

const LOCK_FILE: &str = "lock";

/// Points in `create` where tests inject failures to simulate a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// Content too large to hash in memory has started to spill into a
    /// temp file in `tmp/`.
    BlobPartial,
    /// A blob has been moved into `files/`.
    BlobStored,
    /// All rows are inserted, the transaction is not yet committed.
    BeforeCommit,
}

impl Stage {
    /// The name `TASKHOST_FAULT_PAUSE` takes (see [`fault`]).
    fn name(self) -> &'static str {
        match self {
            Stage::BlobPartial => "blob-partial",
            Stage::BlobStored => "blob-stored",
            Stage::BeforeCommit => "before-commit",
        }
    }
}

/// An artifact store in a local directory, safe to share between threads
/// and between processes (several `LocalStore`s may open the same root).
pub struct LocalStore {
    root: PathBuf,
    blobs: Blobs,
    index: Index,
}

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl LocalStore {
    /// Opens the store at `root`, creating the directories and the index if
    /// missing. Refuses an index written by a newer runtask.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = root.as_ref();
        fs::create_dir_all(root).map_err(|e| {
            StoreError::io(
                format!("cannot create artifact store directory {}", root.display()),
                e,
            )
        })?;
        let root = std::path::absolute(root).map_err(|e| {
            StoreError::io(
                format!("cannot resolve artifact store path {}", root.display()),
                e,
            )
        })?;
        let blobs = Blobs::open(&root)?;
        let lock = root.join(LOCK_FILE);
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(&lock)
            .map_err(|e| {
                StoreError::io(format!("cannot create lock file {}", lock.display()), e)
            })?;
        let index = Index::open(&root)?;
        let store = LocalStore { root, blobs, index };
        if let Err(e) = store.remove_leftovers() {
            tracing::warn!(root = %store.root.display(), "cannot clean up the artifact store: {e}");
        }
        tracing::debug!(root = %store.root.display(), "opened artifact store");
        Ok(store)
    }

    /// The store's root directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks every artifact: each file's blob exists with the recorded size
    /// and sha256; also runs SQLite's integrity and foreign-key checks.
    /// Returns one human-readable line per problem (empty = whole).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let (mut problems, rows) = self.index.check()?;

        // Hash each distinct blob once, outside the database lock.
        let mut seen: HashMap<String, Result<(u64, String), String>> = HashMap::new();
        for row in rows {
            let (id, name, size, sha) = (row.artifact_id, row.name, row.size, row.sha256);
            let what = format!("artifact {id}: file {name:?}");
            if !is_sha256_hex(&sha) {
                problems.push(format!(
                    "{what}: recorded sha256 {sha:?} is not a lowercase hex SHA-256"
                ));
                continue;
            }
            let path = self.blobs.path(&sha);
            let actual = seen
                .entry(sha.clone())
                .or_insert_with(|| blobs::inspect(&path));
            match actual {
                Err(why) => problems.push(format!("{what}: blob {} {why}", path.display())),
                Ok((actual_size, actual_sha)) => {
                    if i64::try_from(*actual_size).ok() != Some(size) {
                        problems.push(format!(
                            "{what}: blob {} has {actual_size} bytes, expected {size}",
                            path.display()
                        ));
                    } else if *actual_sha != sha {
                        problems.push(format!(
                            "{what}: blob {} is corrupted (its sha256 is {actual_sha})",
                            path.display()
                        ));
                    }
                }
            }
        }
        for p in &problems {
            tracing::warn!("artifact store {}: {p}", self.root.display());
        }
        Ok(problems)
    }

    /// Removes temp files and blobs that no artifact references (leftovers
    /// of a crash or failed create). Waits for concurrent creates to finish.
    /// Returns how many files were removed.
    pub fn gc(&self) -> Result<usize, StoreError> {
        let _lock = self.flock(true)?;
        let mut removed = self.blobs.remove_temp_files()?;
        let referenced = self.index.referenced_blobs()?;
        removed += self.blobs.remove_unreferenced(&referenced)?;
        tracing::info!(removed, root = %self.root.display(), "artifact store garbage collected");
        Ok(removed)
    }

    /// Removes the temp files of creates that a crash interrupted. Skipped
    /// while a create runs (in any process): the next open does it then.
    fn remove_leftovers(&self) -> Result<(), StoreError> {
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(()),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::io(
                    format!("cannot lock {}", self.root.join(LOCK_FILE).display()),
                    e,
                ));
            }
        }
        let removed = self.blobs.remove_temp_files()?;
        if removed > 0 {
            tracing::info!(removed, root = %self.root.display(), "removed temp files left by an interrupted create");
        }
        Ok(())
    }

    /// Takes the store-wide lock; released when the returned file is dropped.
    fn flock(&self, exclusive: bool) -> Result<File, StoreError> {
        let file = self.lock_file()?;
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(|e| {
            StoreError::io(
                format!("cannot lock {}", self.root.join(LOCK_FILE).display()),
                e,
            )
        })?;
        Ok(file)
    }

    fn lock_file(&self) -> Result<File, StoreError> {
        let path = self.root.join(LOCK_FILE);
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| StoreError::io(format!("cannot open lock file {}", path.display()), e))
    }

    fn create_with(
        &self,
        new: NewArtifact,
        hook: &dyn Fn(Stage) -> Result<(), StoreError>,
    ) -> Result<Artifact, StoreError> {
        // Refuse bad requests before touching anything.
        let (data, relations) = check_new(&new)?;
        self.index.require_targets(&relations)?;

        // Blobs first; only then the index, in one transaction.
        let _lock = self.flock(false)?;
        let mut entries = Vec::with_capacity(new.files.len());
        for f in &new.files {
            entries.push(self.blobs.store(&f.name, &f.source, hook)?);
            hook(Stage::BlobStored)?;
        }
        let row = NewRow {
            category: &new.category,
            data: &data,
            created_by: new.created_by.as_deref(),
            files: &entries,
            relations: &relations,
        };
        let artifact = self.index.insert(&row, &|| hook(Stage::BeforeCommit))?;
        tracing::debug!(id = artifact.id, category = %artifact.category, files = artifact.files.len(), "created artifact");
        Ok(artifact)
    }

    fn export_file(
        &self,
        id: ArtifactId,
        file: &FileEntry,
        dest_dir: &Path,
    ) -> Result<PathBuf, StoreError> {
        validate_file_name(&file.name).map_err(|e| {
            StoreError::Db(format!(
                "artifact {id} has a file name the store should have refused: {e}"
            ))
        })?;
        if !is_sha256_hex(&file.sha256) {
            return Err(StoreError::Db(format!(
                "artifact {id}: file {:?} has a malformed sha256 {:?}",
                file.name, file.sha256
            )));
        }
        let dest = prepare_destination(id, &file.name, dest_dir)?;
        self.blobs.copy_out(id, file, &dest)?;
        Ok(dest)
    }
}

impl ArtifactStore for LocalStore {
    fn create(&self, new: NewArtifact) -> Result<Artifact, StoreError> {
        self.create_with(new, &|stage| {
            fault::pause_at(stage.name());
            Ok(())
        })
    }

    fn get(&self, id: ArtifactId) -> Result<Artifact, StoreError> {
        self.index.get(id)
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<Artifact>, StoreError> {
        self.index.list(filter)
    }

    fn relate(
        &self,
        source: ArtifactId,
        target: ArtifactId,
        relation: Relation,
    ) -> Result<(), StoreError> {
        self.index.relate(source, target, relation)
    }

    fn file_path(&self, id: ArtifactId, name: &str) -> Result<PathBuf, StoreError> {
        let sha = self.index.file_sha256(id, name)?;
        if !is_sha256_hex(&sha) {
            return Err(StoreError::Db(format!(
                "artifact {id}: file {name:?} has a malformed sha256 {sha:?}"
            )));
        }
        let path = self.blobs.path(&sha);
        fs::symlink_metadata(&path).map_err(|e| {
            StoreError::io(
                format!(
                    "blob {} of file {name:?} of artifact {id} is unreadable; the store is damaged (run a verify)",
                    path.display()
                ),
                e,
            )
        })?;
        Ok(path)
    }

    fn create_collection(
        &self,
        category: &str,
        name: &str,
        data: serde_json::Value,
    ) -> Result<Collection, StoreError> {
        self.index.create_collection(category, name, &data)
    }

    fn collection(&self, id: CollectionId) -> Result<Collection, StoreError> {
        self.index.collection(id)
    }

    fn find_collection(
        &self,
        category: &str,
        name: &str,
    ) -> Result<Option<Collection>, StoreError> {
        self.index.find_collection(category, name)
    }

    fn collections(&self, category: Option<&str>) -> Result<Vec<Collection>, StoreError> {
        self.index.collections(category)
    }

    fn add_item(
        &self,
        collection: CollectionId,
        new: NewItem,
    ) -> Result<CollectionItem, StoreError> {
        self.index.add_item(collection, &new)
    }

    fn remove_item(
        &self,
        collection: CollectionId,
        name: &str,
        removed_by: Option<&str>,
    ) -> Result<CollectionItem, StoreError> {
        self.index.remove_item(collection, name, removed_by)
    }

    fn update_items(
        &self,
        collection: CollectionId,
        add: &[NewItem],
        remove: &[String],
        removed_by: Option<&str>,
    ) -> Result<(), StoreError> {
        self.index.update_items(collection, add, remove, removed_by)
    }

    fn items(
        &self,
        collection: CollectionId,
        filter: &ItemFilter,
    ) -> Result<Vec<CollectionItem>, StoreError> {
        self.index.items(collection, filter)
    }

    fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.index.record_run(run)
    }

    fn find_runs(&self, task: &str, params: &str) -> Result<Vec<RunRecord>, StoreError> {
        self.index.find_runs(task, params)
    }

    fn run_record(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.index.run_record(id)
    }

    fn export(&self, id: ArtifactId, dest_dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
        let artifact = self.get(id)?;
        fs::create_dir_all(dest_dir).map_err(|e| {
            StoreError::io(
                format!("cannot create export directory {}", dest_dir.display()),
                e,
            )
        })?;
        artifact
            .files
            .iter()
            .map(|f| self.export_file(id, f, dest_dir))
            .collect()
    }
}

/// Creates the parent directories of `dest_dir/name` without following
/// symlinks, and removes a file already at the destination.
pub(super) fn prepare_destination(
    id: ArtifactId,
    name: &str,
    dest_dir: &Path,
) -> Result<PathBuf, StoreError> {
    let refuse = |path: &Path, why: &str| {
        Err(StoreError::Invalid(format!(
            "cannot export file {name:?} of artifact {id}: {} {why}",
            path.display()
        )))
    };
    let io_err = |path: &Path, e| StoreError::io(format!("cannot export to {}", path.display()), e);
    let mut components: Vec<&str> = name.split('/').collect();
    let last = components.pop().unwrap_or(name);
    let mut dir = dest_dir.to_path_buf();
    for c in components {
        dir.push(c);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return refuse(&dir, "exists and is not a directory"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e)
                    if e.kind() == io::ErrorKind::AlreadyExists
                        && dir.is_dir()
                        && !dir.is_symlink() => {}
                Err(e) => return Err(io_err(&dir, e)),
            },
            Err(e) => return Err(io_err(&dir, e)),
        }
    }
    let dest = dir.join(last);
    match fs::symlink_metadata(&dest) {
        Ok(m) if m.is_dir() => return refuse(&dest, "is a directory"),
        Ok(_) => fs::remove_file(&dest).map_err(|e| io_err(&dest, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&dest, e)),
    }
    Ok(dest)
}

/// Checks `new` as every store does before touching anything: category,
/// data (a JSON object, returned as text), file names and sources; returns
/// the data and the relations, deduplicated.
pub(super) fn check_new(
    new: &NewArtifact,
) -> Result<(String, BTreeSet<(ArtifactId, Relation)>), StoreError> {
    validate_category(&new.category)?;
    if !new.data.is_object() {
        return Err(StoreError::Invalid(format!(
            "artifact data must be a JSON object, not {}",
            json_kind(&new.data)
        )));
    }
    validate_file_names(new.files.iter().map(|f| f.name.as_str()))?;
    for f in &new.files {
        check_source(&f.name, &f.source)?;
    }
    let data = serde_json::to_string(&new.data)
        .map_err(|e| StoreError::Invalid(format!("artifact data cannot be serialized: {e}")))?;
    let relations = new
        .relations
        .iter()
        .map(|r| (r.target, r.relation))
        .collect();
    Ok((data, relations))
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
