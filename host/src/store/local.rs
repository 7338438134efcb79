//! [`LocalStore`]: content-addressed blobs in a directory plus a SQLite index.
//!
//! Layout under the root:
//! - `index.sqlite3`: artifacts, files and relations (WAL mode);
//! - `files/<sha[0..2]>/<sha256>`: read-only blobs, shared between artifacts;
//! - `tmp/`: blobs being written;
//! - `lock`: `flock`ed shared by `create`, exclusively by `gc`, so that `gc`
//!   never removes a blob that a concurrent `create` is about to reference.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    Artifact, ArtifactId, ArtifactStore, FileEntry, ListFilter, NewArtifact, Relation,
    RelationEntry, Source, StoreError, validate_category, validate_file_name, validate_file_names,
};

const DB_FILE: &str = "index.sqlite3";
const FILES_DIR: &str = "files";
const TMP_DIR: &str = "tmp";
const LOCK_FILE: &str = "lock";
const SCHEMA_VERSION: i64 = 1;
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);
const COPY_BUF_LEN: usize = 64 * 1024;

const SCHEMA: &str = "
CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    category TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT
);
CREATE INDEX artifacts_category ON artifacts(category);
CREATE INDEX artifacts_created_by ON artifacts(created_by);
CREATE TABLE files (
    artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
    name TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    sha256 TEXT NOT NULL,
    PRIMARY KEY (artifact_id, name)
);
CREATE INDEX files_sha256 ON files(sha256);
CREATE TABLE relations (
    source INTEGER NOT NULL REFERENCES artifacts(id),
    target INTEGER NOT NULL REFERENCES artifacts(id),
    relation TEXT NOT NULL CHECK (relation IN ('relates-to', 'extends', 'built-using')),
    PRIMARY KEY (source, target, relation)
);
CREATE INDEX relations_target ON relations(target);
";

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

/// Points in `create` where tests inject failures to simulate a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// A blob has been moved into `files/`.
    BlobStored,
    /// All rows are inserted, the transaction is not yet committed.
    BeforeCommit,
}

/// An artifact store in a local directory, safe to share between threads
/// and between processes (several `LocalStore`s may open the same root).
pub struct LocalStore {
    root: PathBuf,
    conn: Mutex<Connection>,
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
        for dir in [root.join(FILES_DIR), root.join(TMP_DIR)] {
            fs::create_dir_all(&dir).map_err(|e| {
                StoreError::io(
                    format!("cannot create artifact store directory {}", dir.display()),
                    e,
                )
            })?;
        }
        let lock = root.join(LOCK_FILE);
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(&lock)
            .map_err(|e| {
                StoreError::io(format!("cannot create lock file {}", lock.display()), e)
            })?;

        let db_path = root.join(DB_FILE);
        let mut conn = Connection::open(&db_path)
            .map_err(|e| StoreError::Db(format!("cannot open {}: {e}", db_path.display())))?;
        init_schema(&mut conn, &db_path)?;
        tracing::debug!(root = %root.display(), "opened artifact store");
        Ok(LocalStore {
            root,
            conn: Mutex::new(conn),
        })
    }

    /// The store's root directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks every artifact: each file's blob exists with the recorded size
    /// and sha256; also runs SQLite's integrity and foreign-key checks.
    /// Returns one human-readable line per problem (empty = whole).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let rows = {
            let conn = self.db();
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            for line in stmt.query_map([], |r| r.get::<_, String>(0))? {
                let line = line?;
                if line != "ok" {
                    problems.push(format!("index {}: {line}", DB_FILE));
                }
            }
            let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
            for row in stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
            })? {
                let (table, rowid) = row?;
                problems.push(format!(
                    "index {}: row {} of table {table} refers to a missing artifact",
                    DB_FILE,
                    rowid.map_or_else(|| "?".to_string(), |r| r.to_string())
                ));
            }
            let mut stmt = conn.prepare(
                "SELECT artifact_id, name, size, sha256 FROM files ORDER BY artifact_id, name",
            )?;
            stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?
        };

        // Hash each distinct blob once, outside the database lock.
        let mut seen: HashMap<String, Result<(u64, String), String>> = HashMap::new();
        for (id, name, size, sha) in rows {
            let what = format!("artifact {id}: file {name:?}");
            if !is_sha256_hex(&sha) {
                problems.push(format!(
                    "{what}: recorded sha256 {sha:?} is not a lowercase hex SHA-256"
                ));
                continue;
            }
            let path = self.blob_path(&sha);
            let actual = seen
                .entry(sha.clone())
                .or_insert_with(|| inspect_blob(&path));
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
        let mut removed = 0;

        let tmp = self.root.join(TMP_DIR);
        for entry in read_dir(&tmp)? {
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let result = if is_dir {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            result.map_err(|e| {
                StoreError::io(format!("cannot remove temp file {}", path.display()), e)
            })?;
            removed += 1;
        }

        let referenced: HashSet<String> = {
            let conn = self.db();
            let mut stmt = conn.prepare("SELECT DISTINCT sha256 FROM files")?;
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()?
        };
        for shard in read_dir(&self.root.join(FILES_DIR))? {
            if !shard.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            for entry in read_dir(&shard.path())? {
                let keep = entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| referenced.contains(n));
                let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(true);
                if keep || is_dir {
                    continue;
                }
                let path = entry.path();
                fs::remove_file(&path).map_err(|e| {
                    StoreError::io(format!("cannot remove orphan blob {}", path.display()), e)
                })?;
                removed += 1;
            }
        }
        tracing::info!(removed, root = %self.root.display(), "artifact store garbage collected");
        Ok(removed)
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction rolled back on unwind; the connection is usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the store-wide lock; released when the returned file is dropped.
    fn flock(&self, exclusive: bool) -> Result<File, StoreError> {
        let path = self.root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| StoreError::io(format!("cannot open lock file {}", path.display()), e))?;
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(|e| StoreError::io(format!("cannot lock {}", path.display()), e))?;
        Ok(file)
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        let shard = sha256.get(..2).unwrap_or("xx");
        self.root.join(FILES_DIR).join(shard).join(sha256)
    }

    fn create_with(
        &self,
        new: NewArtifact,
        hook: &dyn Fn(Stage) -> Result<(), StoreError>,
    ) -> Result<Artifact, StoreError> {
        // Refuse bad requests before touching anything.
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
        let relations: BTreeSet<(ArtifactId, Relation)> = new
            .relations
            .iter()
            .map(|r| (r.target, r.relation))
            .collect();
        {
            let conn = self.db();
            for &(target, _) in &relations {
                require_relation_target(&conn, target)?;
            }
        }

        // Blobs first; only then the index, in one transaction.
        let _lock = self.flock(false)?;
        let mut entries = Vec::with_capacity(new.files.len());
        for f in &new.files {
            entries.push(self.store_blob(&f.name, &f.source)?);
            hook(Stage::BlobStored)?;
        }

        let mut conn = self.db();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for &(target, _) in &relations {
            require_relation_target(&tx, target)?;
        }
        tx.execute(
            "INSERT INTO artifacts (category, data, created_at, created_by) VALUES (?1, ?2, ?3, ?4)",
            params![new.category, data, now_rfc3339(), new.created_by],
        )?;
        let id = tx.last_insert_rowid();
        for e in &entries {
            let size = i64::try_from(e.size).map_err(|_| {
                StoreError::Invalid(format!("artifact file {:?} is too large", e.name))
            })?;
            tx.execute(
                "INSERT INTO files (artifact_id, name, size, sha256) VALUES (?1, ?2, ?3, ?4)",
                params![id, e.name, size, e.sha256],
            )?;
        }
        for &(target, relation) in &relations {
            tx.execute(
                "INSERT OR IGNORE INTO relations (source, target, relation) VALUES (?1, ?2, ?3)",
                params![id, id_to_sql(target)?, relation.as_str()],
            )?;
        }
        hook(Stage::BeforeCommit)?;
        tx.commit()?;
        let artifact = load_artifact(&conn, id)?.ok_or_else(|| {
            StoreError::Db(format!("artifact {id} vanished right after being created"))
        })?;
        tracing::debug!(id, category = %artifact.category, files = artifact.files.len(), "created artifact");
        Ok(artifact)
    }

    /// Streams `source` into `tmp/` while hashing, fsyncs, and renames it to
    /// its content address (unless an identical blob is already there).
    fn store_blob(&self, name: &str, source: &Source) -> Result<FileEntry, StoreError> {
        let read_err = |e| {
            StoreError::io(
                format!("cannot read {source} (for artifact file {name:?})"),
                e,
            )
        };
        let opened;
        let mut src: &File = match source {
            Source::File(file) => file,
            Source::Path(path) => {
                opened = File::open(path).map_err(read_err)?;
                &opened
            }
        };
        let meta = src.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(StoreError::Invalid(format!(
                "source {source} for artifact file {name:?} is not a regular file"
            )));
        }
        #[cfg(unix)]
        if let Source::Path(path) = source {
            // The path must still be the regular file checked earlier, not a swapped-in symlink.
            use std::os::unix::fs::MetadataExt;
            let now = fs::symlink_metadata(path).map_err(read_err)?;
            if now.file_type().is_symlink() || (now.dev(), now.ino()) != (meta.dev(), meta.ino()) {
                return Err(StoreError::Invalid(format!(
                    "source {source} for artifact file {name:?} changed while being stored"
                )));
            }
        }

        let tmp_dir = self.root.join(TMP_DIR);
        let tmp_err = |e| {
            StoreError::io(
                format!("cannot write a temp file in {}", tmp_dir.display()),
                e,
            )
        };
        let mut tmp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&tmp_dir)
            .map_err(tmp_err)?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; COPY_BUF_LEN];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e)),
            };
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n]).map_err(tmp_err)?;
            size += n as u64;
        }
        tmp.as_file().sync_all().map_err(tmp_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(fs::Permissions::from_mode(0o444))
                .map_err(tmp_err)?;
        }
        let sha256 = hex::encode(hasher.finalize());

        let dest = self.blob_path(&sha256);
        let shard = dest.parent().unwrap_or(&self.root).to_path_buf();
        if !shard.is_dir() {
            fs::create_dir_all(&shard).map_err(|e| {
                StoreError::io(
                    format!("cannot create blob directory {}", shard.display()),
                    e,
                )
            })?;
            sync_dir(&self.root.join(FILES_DIR))?;
        }
        match fs::symlink_metadata(&dest) {
            Ok(m) if m.is_file() && m.len() == size => {
                // Deduplicated: the same content is already stored; the temp file goes away.
            }
            _ => {
                tmp.persist(&dest).map_err(|e| {
                    StoreError::io(
                        format!("cannot move blob into place at {}", dest.display()),
                        e.error,
                    )
                })?;
                sync_dir(&shard)?;
            }
        }
        Ok(FileEntry {
            name: name.to_string(),
            size,
            sha256,
        })
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
        let blob = self.blob_path(&file.sha256);
        let mut src = File::open(&blob).map_err(|e| {
            StoreError::io(
                format!(
                    "cannot read blob {} of file {:?} of artifact {id}",
                    blob.display(),
                    file.name
                ),
                e,
            )
        })?;
        let write_err = |e| StoreError::io(format!("cannot write {}", dest.display()), e);
        // create_new: never follows a symlink put there since the checks above.
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(write_err)?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; COPY_BUF_LEN];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(StoreError::io(
                        format!("cannot read blob {}", blob.display()),
                        e,
                    ));
                }
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(write_err)?;
            size += n as u64;
        }
        if size != file.size || hex::encode(hasher.finalize()) != file.sha256 {
            drop(out);
            let _ = fs::remove_file(&dest);
            return Err(StoreError::io(
                format!(
                    "blob {} of file {:?} of artifact {id} is corrupted; the store needs a verify",
                    blob.display(),
                    file.name
                ),
                io::Error::new(io::ErrorKind::InvalidData, "size or sha256 mismatch"),
            ));
        }
        Ok(dest)
    }
}

impl ArtifactStore for LocalStore {
    fn create(&self, new: NewArtifact) -> Result<Artifact, StoreError> {
        self.create_with(new, &|_| Ok(()))
    }

    fn get(&self, id: ArtifactId) -> Result<Artifact, StoreError> {
        let key = id_to_sql(id)?;
        let mut conn = self.db();
        let tx = conn.transaction()?;
        load_artifact(&tx, key)?.ok_or(StoreError::NotFound(id))
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<Artifact>, StoreError> {
        let mut conn = self.db();
        let tx = conn.transaction()?;
        let ids = {
            let mut stmt = tx.prepare(
                "SELECT id FROM artifacts WHERE (?1 IS NULL OR category = ?1) \
                 AND (?2 IS NULL OR created_by = ?2) ORDER BY id",
            )?;
            stmt.query_map(params![filter.category, filter.created_by], |r| {
                r.get::<_, i64>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(a) = load_artifact(&tx, id)? {
                out.push(a);
            }
        }
        Ok(out)
    }

    fn relate(
        &self,
        source: ArtifactId,
        target: ArtifactId,
        relation: Relation,
    ) -> Result<(), StoreError> {
        let s = id_to_sql(source)?;
        let t = id_to_sql(target)?;
        let mut conn = self.db();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !artifact_exists(&tx, s)? {
            return Err(StoreError::NotFound(source));
        }
        if !artifact_exists(&tx, t)? {
            return Err(StoreError::NotFound(target));
        }
        if source == target {
            return Err(StoreError::Invalid(format!(
                "artifact {source} cannot be related to itself"
            )));
        }
        tx.execute(
            "INSERT OR IGNORE INTO relations (source, target, relation) VALUES (?1, ?2, ?3)",
            params![s, t, relation.as_str()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn file_path(&self, id: ArtifactId, name: &str) -> Result<PathBuf, StoreError> {
        let key = id_to_sql(id)?;
        let sha: Option<String> = {
            let conn = self.db();
            let sha = conn
                .query_row(
                    "SELECT sha256 FROM files WHERE artifact_id = ?1 AND name = ?2",
                    params![key, name],
                    |r| r.get(0),
                )
                .optional()?;
            if sha.is_none() && !artifact_exists(&conn, key)? {
                return Err(StoreError::NotFound(id));
            }
            sha
        };
        let Some(sha) = sha else {
            return Err(StoreError::NoSuchFile {
                id,
                name: name.to_string(),
            });
        };
        if !is_sha256_hex(&sha) {
            return Err(StoreError::Db(format!(
                "artifact {id}: file {name:?} has a malformed sha256 {sha:?}"
            )));
        }
        let path = self.blob_path(&sha);
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

fn init_schema(conn: &mut Connection, db_path: &Path) -> Result<(), StoreError> {
    let ctx = |e: rusqlite::Error| {
        StoreError::Db(format!("cannot initialize {}: {e}", db_path.display()))
    };
    conn.busy_timeout(BUSY_TIMEOUT).map_err(ctx)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(ctx)?;
    check_schema_version(version, db_path)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(ctx)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(db = %db_path.display(), mode, "artifact index is not in WAL mode");
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(ctx)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(ctx)?;

    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(ctx)?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(ctx)?;
    check_schema_version(version, db_path)?;
    if version == 0 {
        tx.execute_batch(SCHEMA).map_err(ctx)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(ctx)?;
    }
    tx.commit().map_err(ctx)?;
    Ok(())
}

fn check_schema_version(version: i64, db_path: &Path) -> Result<(), StoreError> {
    if !(0..=SCHEMA_VERSION).contains(&version) {
        return Err(StoreError::Db(format!(
            "{} has schema version {version}, but this runtask only understands versions up to \
             {SCHEMA_VERSION}; it was written by a newer runtask: upgrade runtask or use another store",
            db_path.display()
        )));
    }
    Ok(())
}

fn load_artifact(conn: &Connection, id: i64) -> Result<Option<Artifact>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT category, data, created_at, created_by FROM artifacts WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .optional()?;
    let Some((category, data, created_at, created_by)) = row else {
        return Ok(None);
    };
    let public_id = ArtifactId::try_from(id)
        .map_err(|_| StoreError::Db(format!("negative artifact id {id}")))?;
    let data = serde_json::from_str(&data)
        .map_err(|e| StoreError::Db(format!("artifact {id} has corrupt data: {e}")))?;

    let mut files = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT name, size, sha256 FROM files WHERE artifact_id = ?1 ORDER BY name",
    )?;
    for row in stmt.query_map([id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })? {
        let (name, size, sha256) = row?;
        let size = u64::try_from(size).map_err(|_| {
            StoreError::Db(format!(
                "artifact {id}: file {name:?} has negative size {size}"
            ))
        })?;
        files.push(FileEntry { name, size, sha256 });
    }

    let mut relations = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT target, relation FROM relations WHERE source = ?1 ORDER BY target, relation",
    )?;
    for row in stmt.query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
        let (target, relation) = row?;
        let target = ArtifactId::try_from(target).map_err(|_| {
            StoreError::Db(format!("artifact {id} relates to negative id {target}"))
        })?;
        let relation = relation
            .parse::<Relation>()
            .map_err(|e| StoreError::Db(format!("artifact {id}: {e}")))?;
        relations.push(RelationEntry { relation, target });
    }
    relations.sort_by_key(|r| (r.target, r.relation));

    Ok(Some(Artifact {
        id: public_id,
        category,
        data,
        files,
        created_at,
        created_by,
        relations,
    }))
}

fn artifact_exists(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM artifacts WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

fn require_relation_target(conn: &Connection, target: ArtifactId) -> Result<(), StoreError> {
    let exists = match i64::try_from(target) {
        Ok(key) => artifact_exists(conn, key)?,
        Err(_) => false,
    };
    if exists {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "relation target artifact {target} does not exist (see `runtask artifact list`)"
        )))
    }
}

/// Ids beyond SQLite's range cannot exist.
fn id_to_sql(id: ArtifactId) -> Result<i64, StoreError> {
    i64::try_from(id).map_err(|_| StoreError::NotFound(id))
}

/// Refuses anything but an existing regular file (symlinks included).
fn check_source(name: &str, source: &Source) -> Result<(), StoreError> {
    let meta = match source {
        Source::Path(path) => fs::symlink_metadata(path),
        Source::File(file) => file.metadata(),
    }
    .map_err(|e| {
        StoreError::io(
            format!("cannot read {source} (for artifact file {name:?})"),
            e,
        )
    })?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(StoreError::Invalid(format!(
            "source {source} for artifact file {name:?} is a symlink; give the file it points to"
        )));
    }
    if !kind.is_file() {
        return Err(StoreError::Invalid(format!(
            "source {source} for artifact file {name:?} is not a regular file"
        )));
    }
    Ok(())
}

/// Creates the parent directories of `dest_dir/name` without following
/// symlinks, and removes a file already at the destination.
fn prepare_destination(id: ArtifactId, name: &str, dest_dir: &Path) -> Result<PathBuf, StoreError> {
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

/// Size and sha256 of a blob, or why it cannot be read.
fn inspect_blob(path: &Path) -> Result<(u64, String), String> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err("is not a regular file".to_string()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err("is missing".to_string()),
        Err(e) => return Err(format!("cannot be read: {e}")),
    }
    let mut file = File::open(path).map_err(|e| format!("cannot be read: {e}"))?;
    let mut hasher = Sha256::new();
    let size = io::copy(&mut file, &mut hasher).map_err(|e| format!("cannot be read: {e}"))?;
    Ok((size, hex::encode(hasher.finalize())))
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, StoreError> {
    let err = |e| StoreError::io(format!("cannot list {}", dir.display()), e);
    fs::read_dir(dir)
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)
}

/// Makes a rename or creation inside `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let synced = File::open(dir).and_then(|d| d.sync_all());
    match synced {
        Ok(()) => Ok(()),
        // Some file systems cannot fsync directories.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(StoreError::io(
            format!("cannot sync directory {}", dir.display()),
            e,
        )),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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

fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;
    use tempfile::TempDir;

    fn new_store() -> (TempDir, LocalStore) {
        let dir = TempDir::new().unwrap();
        let store = LocalStore::open(dir.path().join("store")).unwrap();
        (dir, store)
    }

    fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, content).unwrap();
        path
    }

    fn sha(content: &[u8]) -> String {
        hex::encode(Sha256::digest(content))
    }

    fn log_artifact(dir: &Path, content: &[u8]) -> NewArtifact {
        NewArtifact::new("debian:package-build-log", json!({"source": "hello"}))
            .with_file("build.log", write(dir, "build.log", content))
    }

    /// Every file under files/ and tmp/, plus every artifact id.
    fn snapshot(store: &LocalStore) -> (Vec<PathBuf>, Vec<ArtifactId>) {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    walk(&e.path(), out);
                } else {
                    out.push(e.path());
                }
            }
        }
        let mut files = Vec::new();
        walk(&store.root().join(FILES_DIR), &mut files);
        walk(&store.root().join(TMP_DIR), &mut files);
        files.sort();
        let ids = store
            .list(&ListFilter::default())
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        (files, ids)
    }

    fn assert_invalid(r: Result<Artifact, StoreError>, needle: &str) {
        match r {
            Err(StoreError::Invalid(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected Invalid containing {needle:?}, got {other:?}"),
        }
    }

    /// Runs a create that must be refused and checks nothing changed.
    fn assert_refused_unchanged(store: &LocalStore, new: NewArtifact, needle: &str) {
        let before = snapshot(store);
        assert_invalid(store.create(new), needle);
        assert_eq!(
            snapshot(store),
            before,
            "a refused create changed the store"
        );
    }

    #[test]
    fn create_then_get_round_trips() {
        let (dir, store) = new_store();
        let mut new = log_artifact(dir.path(), b"hello log\n").with_file(
            "sub/dir/data.bin",
            write(dir.path(), "data", &[0, 1, 2, 255]),
        );
        new.created_by = Some("run-1".into());
        let created = store.create(new).unwrap();
        let got = store.get(created.id).unwrap();
        assert_eq!(got.id, created.id);
        assert_eq!(got.category, "debian:package-build-log");
        assert_eq!(got.data, json!({"source": "hello"}));
        assert_eq!(got.created_by.as_deref(), Some("run-1"));
        assert_eq!(got.created_at, created.created_at);
        assert_eq!(got.files, created.files);
        assert_eq!(
            got.files,
            vec![
                FileEntry {
                    name: "build.log".into(),
                    size: 10,
                    sha256: sha(b"hello log\n")
                },
                FileEntry {
                    name: "sub/dir/data.bin".into(),
                    size: 4,
                    sha256: sha(&[0, 1, 2, 255])
                },
            ]
        );
        assert!(got.relations.is_empty());
        assert_eq!(got.file("build.log").map(|f| f.size), Some(10));
    }

    #[test]
    fn created_at_is_rfc3339_utc() {
        let (dir, store) = new_store();
        let a = store.create(log_artifact(dir.path(), b"x")).unwrap();
        assert!(a.created_at.ends_with('Z'), "{}", a.created_at);
        let shape: String = a
            .created_at
            .chars()
            .map(|c| if c.is_ascii_digit() { 'D' } else { c })
            .collect();
        assert_eq!(shape, "DDDD-DD-DDTDD:DD:DDZ");
    }

    #[test]
    fn an_artifact_without_files_is_fine() {
        let (_dir, store) = new_store();
        let a = store
            .create(NewArtifact::new("debusine:test", json!({})))
            .unwrap();
        assert!(store.get(a.id).unwrap().files.is_empty());
    }

    #[test]
    fn empty_and_large_files_hash_correctly() {
        let (dir, store) = new_store();
        let big: Vec<u8> = (0..(3 * COPY_BUF_LEN + 17))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let a = store
            .create(
                NewArtifact::new("t:files", json!({}))
                    .with_file("empty", write(dir.path(), "empty", b""))
                    .with_file("big", write(dir.path(), "big", &big)),
            )
            .unwrap();
        assert_eq!(a.file("empty").unwrap().sha256, sha(b""));
        assert_eq!(a.file("big").unwrap().size, big.len() as u64);
        assert_eq!(a.file("big").unwrap().sha256, sha(&big));
        assert_eq!(
            fs::read(store.file_path(a.id, "big").unwrap()).unwrap(),
            big
        );
    }

    #[test]
    fn ids_increase_and_list_is_ordered_by_id() {
        let (dir, store) = new_store();
        let ids: Vec<_> = (0..5)
            .map(|i| store.create(log_artifact(dir.path(), &[i])).unwrap().id)
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        let listed: Vec<_> = store
            .list(&ListFilter::default())
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(listed, ids);
    }

    #[test]
    fn list_filters_by_category_and_creator() {
        let (_dir, store) = new_store();
        let mk = |cat: &str, by: Option<&str>| {
            let mut n = NewArtifact::new(cat, json!({}));
            n.created_by = by.map(String::from);
            store.create(n).unwrap().id
        };
        let a = mk("debian:a", Some("r1"));
        let b = mk("debian:b", Some("r1"));
        let c = mk("debian:a", Some("r2"));
        let d = mk("debian:a", None);
        let ids = |f: ListFilter| {
            store
                .list(&f)
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(ListFilter::default()), vec![a, b, c, d]);
        assert_eq!(
            ids(ListFilter {
                category: Some("debian:a".into()),
                created_by: None
            }),
            vec![a, c, d]
        );
        assert_eq!(
            ids(ListFilter {
                category: None,
                created_by: Some("r1".into())
            }),
            vec![a, b]
        );
        assert_eq!(
            ids(ListFilter {
                category: Some("debian:a".into()),
                created_by: Some("r2".into())
            }),
            vec![c]
        );
        assert!(
            ids(ListFilter {
                category: Some("nope:x".into()),
                created_by: None
            })
            .is_empty()
        );
    }

    #[test]
    fn get_of_a_missing_artifact_is_not_found() {
        let (_dir, store) = new_store();
        assert!(matches!(store.get(1), Err(StoreError::NotFound(1))));
        assert!(matches!(store.get(0), Err(StoreError::NotFound(0))));
        assert!(matches!(
            store.get(u64::MAX),
            Err(StoreError::NotFound(u64::MAX))
        ));
    }

    #[test]
    fn refuses_malformed_categories() {
        let (_dir, store) = new_store();
        for cat in ["", "no-namespace", "ns:", "a:b:c"] {
            assert_refused_unchanged(&store, NewArtifact::new(cat, json!({})), "namespace:name");
        }
    }

    #[test]
    fn refuses_data_that_is_not_an_object() {
        let (_dir, store) = new_store();
        for data in [json!(null), json!([1]), json!("x"), json!(3)] {
            assert_refused_unchanged(&store, NewArtifact::new("t:x", data), "JSON object");
        }
    }

    #[test]
    fn refuses_dotdot_file_names() {
        let (dir, store) = new_store();
        let src = write(dir.path(), "f", b"x");
        for name in ["../escape", "a/../../b", ".."] {
            assert_refused_unchanged(
                &store,
                NewArtifact::new("t:x", json!({})).with_file(name, &src),
                "`..`",
            );
        }
    }

    #[test]
    fn refuses_other_bad_file_names() {
        let (dir, store) = new_store();
        let src = write(dir.path(), "f", b"x");
        for (name, needle) in [
            ("", "empty"),
            ("/etc/passwd", "relative"),
            ("./a", "`.`"),
            ("a\0b", "NUL"),
            ("a//b", "empty path component"),
        ] {
            assert_refused_unchanged(
                &store,
                NewArtifact::new("t:x", json!({})).with_file(name, &src),
                needle,
            );
        }
    }

    #[test]
    fn refuses_duplicate_file_names() {
        let (dir, store) = new_store();
        let src = write(dir.path(), "f", b"x");
        let new = NewArtifact::new("t:x", json!({}))
            .with_file("a", &src)
            .with_file("a", &src);
        assert_refused_unchanged(&store, new, "twice");
    }

    #[test]
    fn refuses_a_name_used_as_both_file_and_directory() {
        let (dir, store) = new_store();
        let src = write(dir.path(), "f", b"x");
        let new = NewArtifact::new("t:x", json!({}))
            .with_file("a", &src)
            .with_file("a/b", &src);
        assert_refused_unchanged(&store, new, "both a file and a directory");
    }

    #[test]
    fn refuses_a_directory_as_source() {
        let (dir, store) = new_store();
        let new = NewArtifact::new("t:x", json!({})).with_file("d", dir.path());
        assert_refused_unchanged(&store, new, "not a regular file");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn refuses_a_device_as_source() {
        let (_dir, store) = new_store();
        let new = NewArtifact::new("t:x", json!({})).with_file("null", "/dev/null");
        assert_refused_unchanged(&store, new, "not a regular file");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_symlink_as_source() {
        let (dir, store) = new_store();
        let target = write(dir.path(), "real", b"secret");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let new = NewArtifact::new("t:x", json!({})).with_file("l", &link);
        assert_refused_unchanged(&store, new, "symlink");
    }

    #[test]
    fn a_missing_source_is_an_io_error_and_changes_nothing() {
        let (dir, store) = new_store();
        let good = write(dir.path(), "good", b"good");
        let new = NewArtifact::new("t:x", json!({}))
            .with_file("good", &good)
            .with_file("gone", dir.path().join("does-not-exist"));
        let before = snapshot(&store);
        match store.create(new) {
            Err(e @ StoreError::Io { .. }) => {
                assert!(e.to_string().contains("does-not-exist"), "{e}")
            }
            other => panic!("expected Io, got {other:?}"),
        }
        assert_eq!(snapshot(&store), before);
    }

    #[test]
    fn refuses_a_missing_relation_target() {
        let (_dir, store) = new_store();
        let new = NewArtifact::new("t:x", json!({})).with_relation(Relation::Extends, 99);
        assert_refused_unchanged(&store, new, "artifact 99 does not exist");
        let new = NewArtifact::new("t:x", json!({})).with_relation(Relation::Extends, u64::MAX);
        assert_refused_unchanged(&store, new, "does not exist");
    }

    #[test]
    fn a_failed_create_leaves_no_artifact() {
        let (dir, store) = new_store();
        // Validation failure on the second file: nothing written at all.
        let new = NewArtifact::new("t:x", json!({}))
            .with_file("ok", write(dir.path(), "ok", b"fine"))
            .with_file("bad", dir.path());
        assert_refused_unchanged(&store, new, "not a regular file");

        // A crash after the first blob, and one just before the commit.
        for stage in [Stage::BlobStored, Stage::BeforeCommit] {
            let new = NewArtifact::new("t:x", json!({}))
                .with_file(
                    "a",
                    write(dir.path(), "a", format!("{stage:?} a").as_bytes()),
                )
                .with_file(
                    "b",
                    write(dir.path(), "b", format!("{stage:?} b").as_bytes()),
                );
            let hook = |s: Stage| {
                if s == stage {
                    Err(StoreError::Db("simulated crash".into()))
                } else {
                    Ok(())
                }
            };
            assert!(matches!(
                store.create_with(new, &hook),
                Err(StoreError::Db(_))
            ));
            assert!(
                store.list(&ListFilter::default()).unwrap().is_empty(),
                "{stage:?}"
            );
            assert!(store.verify().unwrap().is_empty());
        }
        // The store still works, and ids are not confused by the rollback.
        let a = store.create(log_artifact(dir.path(), b"after")).unwrap();
        assert_eq!(store.list(&ListFilter::default()).unwrap().len(), 1);
        assert_eq!(store.get(a.id).unwrap().files.len(), 1);
    }

    #[test]
    fn gc_removes_the_blobs_of_a_failed_create() {
        let (dir, store) = new_store();
        let kept = store.create(log_artifact(dir.path(), b"kept")).unwrap();
        let new =
            NewArtifact::new("t:x", json!({})).with_file("a", write(dir.path(), "a", b"orphan"));
        let hook = |s: Stage| {
            if s == Stage::BeforeCommit {
                Err(StoreError::Db("crash".into()))
            } else {
                Ok(())
            }
        };
        assert!(store.create_with(new, &hook).is_err());
        assert!(store.blob_path(&sha(b"orphan")).exists());
        assert_eq!(store.gc().unwrap(), 1);
        assert!(!store.blob_path(&sha(b"orphan")).exists());
        assert_eq!(
            fs::read(store.file_path(kept.id, "build.log").unwrap()).unwrap(),
            b"kept"
        );
    }

    #[test]
    fn dedups_identical_blobs() {
        let (dir, store) = new_store();
        let a = store.create(log_artifact(dir.path(), b"same")).unwrap();
        let b = store
            .create(
                NewArtifact::new("t:x", json!({}))
                    .with_file("one", write(dir.path(), "one", b"same"))
                    .with_file("two/copy", write(dir.path(), "two", b"same")),
            )
            .unwrap();
        let p = store.file_path(a.id, "build.log").unwrap();
        assert_eq!(p, store.file_path(b.id, "one").unwrap());
        assert_eq!(p, store.file_path(b.id, "two/copy").unwrap());
        let (files, _) = snapshot(&store);
        assert_eq!(files, vec![p], "one blob, no temp files");
    }

    #[test]
    fn blobs_live_at_their_content_address_and_are_read_only() {
        let (dir, store) = new_store();
        let a = store.create(log_artifact(dir.path(), b"content")).unwrap();
        let p = store.file_path(a.id, "build.log").unwrap();
        let h = sha(b"content");
        assert_eq!(p, store.root().join("files").join(&h[..2]).join(&h));
        assert_eq!(fs::read(&p).unwrap(), b"content");
        assert!(fs::metadata(&p).unwrap().permissions().readonly());
        assert!(store.root().join("index.sqlite3").is_file());
    }

    #[test]
    fn file_path_of_an_unknown_file_is_no_such_file() {
        let (dir, store) = new_store();
        let a = store.create(log_artifact(dir.path(), b"x")).unwrap();
        match store.file_path(a.id, "nope") {
            Err(StoreError::NoSuchFile { id, name }) => {
                assert_eq!((id, name.as_str()), (a.id, "nope"))
            }
            other => panic!("expected NoSuchFile, got {other:?}"),
        }
        assert!(matches!(
            store.file_path(a.id + 1, "build.log"),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.file_path(u64::MAX, "x"),
            Err(StoreError::NotFound(u64::MAX))
        ));
    }

    #[test]
    fn file_path_reports_a_missing_blob() {
        let (dir, store) = new_store();
        let a = store.create(log_artifact(dir.path(), b"x")).unwrap();
        fs::remove_file(store.blob_path(&sha(b"x"))).unwrap();
        let err = store.file_path(a.id, "build.log").unwrap_err();
        assert!(
            matches!(err, StoreError::Io { .. }) && err.to_string().contains("damaged"),
            "{err}"
        );
    }

    #[test]
    fn export_copies_files_into_subdirectories() {
        let (dir, store) = new_store();
        let a = store
            .create(
                log_artifact(dir.path(), b"log")
                    .with_file("pool/main/h/hello.deb", write(dir.path(), "deb", b"deb")),
            )
            .unwrap();
        let out = dir.path().join("out/nested");
        let written = store.export(a.id, &out).unwrap();
        assert_eq!(
            written,
            vec![out.join("build.log"), out.join("pool/main/h/hello.deb")]
        );
        assert_eq!(fs::read(&written[0]).unwrap(), b"log");
        assert_eq!(fs::read(&written[1]).unwrap(), b"deb");
        // Exported copies are ordinary writable files, and exporting again replaces them.
        assert!(!fs::metadata(&written[0]).unwrap().permissions().readonly());
        fs::write(&written[0], b"changed").unwrap();
        store.export(a.id, &out).unwrap();
        assert_eq!(fs::read(&written[0]).unwrap(), b"log");
        assert_eq!(
            fs::read(store.file_path(a.id, "build.log").unwrap()).unwrap(),
            b"log"
        );
    }

    #[test]
    fn export_of_a_missing_artifact_is_not_found() {
        let (dir, store) = new_store();
        assert!(matches!(
            store.export(5, &dir.path().join("o")),
            Err(StoreError::NotFound(5))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn export_never_follows_symlinks_in_the_destination() {
        use std::os::unix::fs::symlink;
        let (dir, store) = new_store();
        let a = store
            .create(
                log_artifact(dir.path(), b"log").with_file("sub/f", write(dir.path(), "f", b"f")),
            )
            .unwrap();
        let victim = write(dir.path(), "victim", b"precious");
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        symlink(&victim, out.join("build.log")).unwrap();
        symlink(&outside, out.join("sub")).unwrap();

        let err = store.export(a.id, &out).unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("not a directory")),
            "{err}"
        );
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(
            !out.join("build.log").is_symlink(),
            "the file symlink was replaced, not followed"
        );
        assert!(fs::read_dir(&outside).unwrap().next().is_none());
    }

    #[test]
    fn export_refuses_a_directory_in_the_way() {
        let (dir, store) = new_store();
        let a = store.create(log_artifact(dir.path(), b"log")).unwrap();
        let out = dir.path().join("out");
        fs::create_dir_all(out.join("build.log")).unwrap();
        let err = store.export(a.id, &out).unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("is a directory")),
            "{err}"
        );
    }

    #[test]
    fn export_detects_a_corrupted_blob() {
        let (dir, store) = new_store();
        let a = store.create(log_artifact(dir.path(), b"good")).unwrap();
        corrupt(&store.blob_path(&sha(b"good")), b"evil");
        let out = dir.path().join("out");
        let err = store.export(a.id, &out).unwrap_err();
        assert!(err.to_string().contains("corrupted"), "{err}");
        assert!(!out.join("build.log").exists());
    }

    fn corrupt(blob: &Path, content: &[u8]) {
        fs::remove_file(blob).unwrap();
        fs::write(blob, content).unwrap();
    }

    #[test]
    fn verify_reports_nothing_for_a_whole_store() {
        let (dir, store) = new_store();
        store.create(log_artifact(dir.path(), b"a")).unwrap();
        store.create(log_artifact(dir.path(), b"a")).unwrap();
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn verify_reports_a_missing_blob() {
        let (dir, store) = new_store();
        let a = store.create(log_artifact(dir.path(), b"a")).unwrap();
        fs::remove_file(store.blob_path(&sha(b"a"))).unwrap();
        let problems = store.verify().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains(&format!("artifact {}", a.id)) && problems[0].contains("missing")
        );
    }

    #[test]
    fn verify_reports_wrong_size_and_wrong_content() {
        let (dir, store) = new_store();
        store.create(log_artifact(dir.path(), b"abc")).unwrap();
        store
            .create(
                NewArtifact::new("t:x", json!({})).with_file("x", write(dir.path(), "x", b"xyz")),
            )
            .unwrap();
        corrupt(&store.blob_path(&sha(b"abc")), b"abcd");
        corrupt(&store.blob_path(&sha(b"xyz")), b"XYZ");
        let problems = store.verify().unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("has 4 bytes, expected 3")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("corrupted")),
            "{problems:?}"
        );
    }

    #[test]
    fn verify_reports_a_bad_recorded_hash() {
        let (dir, store) = new_store();
        let a = store.create(log_artifact(dir.path(), b"a")).unwrap();
        store
            .db()
            .execute(
                "UPDATE files SET sha256 = '../../etc/passwd' WHERE artifact_id = ?1",
                [a.id as i64],
            )
            .unwrap();
        let problems = store.verify().unwrap();
        assert!(
            problems.len() == 1 && problems[0].contains("not a lowercase hex"),
            "{problems:?}"
        );
        assert!(matches!(
            store.file_path(a.id, "build.log"),
            Err(StoreError::Db(_))
        ));
        assert!(matches!(
            store.export(a.id, &dir.path().join("o")),
            Err(StoreError::Db(_))
        ));
    }

    #[test]
    fn gc_removes_orphans() {
        let (dir, store) = new_store();
        let a = store.create(log_artifact(dir.path(), b"keep")).unwrap();
        let orphan = store.blob_path(&sha(b"orphan"));
        fs::create_dir_all(orphan.parent().unwrap()).unwrap();
        fs::write(&orphan, b"orphan").unwrap();
        fs::write(store.root().join("tmp/blob-leftover"), b"partial").unwrap();
        fs::create_dir(store.root().join("tmp/leftover-dir")).unwrap();
        assert_eq!(store.gc().unwrap(), 3);
        assert!(!orphan.exists());
        assert_eq!(fs::read_dir(store.root().join("tmp")).unwrap().count(), 0);
        assert_eq!(
            fs::read(store.file_path(a.id, "build.log").unwrap()).unwrap(),
            b"keep"
        );
        assert!(store.verify().unwrap().is_empty());
        assert_eq!(store.gc().unwrap(), 0);
    }

    #[test]
    fn create_with_relations_records_them() {
        let (_dir, store) = new_store();
        let src = store
            .create(NewArtifact::new("debian:source-package", json!({})))
            .unwrap();
        let env = store
            .create(NewArtifact::new("debian:environment", json!({})))
            .unwrap();
        let bin = store
            .create(
                NewArtifact::new("debian:binary-package", json!({}))
                    .with_relation(Relation::BuiltUsing, env.id)
                    .with_relation(Relation::RelatesTo, src.id)
                    .with_relation(Relation::BuiltUsing, env.id),
            )
            .unwrap();
        assert_eq!(
            store.get(bin.id).unwrap().relations,
            vec![
                RelationEntry {
                    relation: Relation::RelatesTo,
                    target: src.id
                },
                RelationEntry {
                    relation: Relation::BuiltUsing,
                    target: env.id
                },
            ]
        );
        assert_eq!(bin.relations, store.get(bin.id).unwrap().relations);
    }

    #[test]
    fn relate_requires_both_artifacts() {
        let (_dir, store) = new_store();
        let a = store.create(NewArtifact::new("t:a", json!({}))).unwrap().id;
        assert!(matches!(
            store.relate(a, 77, Relation::Extends),
            Err(StoreError::NotFound(77))
        ));
        assert!(matches!(
            store.relate(78, a, Relation::Extends),
            Err(StoreError::NotFound(78))
        ));
        assert!(matches!(
            store.relate(a, u64::MAX, Relation::Extends),
            Err(StoreError::NotFound(u64::MAX))
        ));
        assert!(store.get(a).unwrap().relations.is_empty());
    }

    #[test]
    fn relate_is_idempotent() {
        let (_dir, store) = new_store();
        let a = store.create(NewArtifact::new("t:a", json!({}))).unwrap().id;
        let b = store.create(NewArtifact::new("t:b", json!({}))).unwrap().id;
        store.relate(a, b, Relation::RelatesTo).unwrap();
        store.relate(a, b, Relation::RelatesTo).unwrap();
        store.relate(a, b, Relation::Extends).unwrap();
        let rels = store.get(a).unwrap().relations;
        assert_eq!(rels.len(), 2, "{rels:?}");
        assert!(
            store.get(b).unwrap().relations.is_empty(),
            "relations are directed"
        );
    }

    #[test]
    fn relate_refuses_an_artifact_relating_to_itself() {
        let (_dir, store) = new_store();
        let a = store.create(NewArtifact::new("t:a", json!({}))).unwrap().id;
        assert!(matches!(
            store.relate(a, a, Relation::Extends),
            Err(StoreError::Invalid(_))
        ));
        assert!(store.get(a).unwrap().relations.is_empty());
    }

    #[test]
    fn reopening_keeps_everything() {
        let dir = TempDir::new().unwrap();
        let root = dir.path().join("s");
        let id = {
            let store = LocalStore::open(&root).unwrap();
            store
                .create(log_artifact(dir.path(), b"persist"))
                .unwrap()
                .id
        };
        let store = LocalStore::open(&root).unwrap();
        let a = store.get(id).unwrap();
        assert_eq!(
            fs::read(store.file_path(a.id, "build.log").unwrap()).unwrap(),
            b"persist"
        );
        let next = store.create(NewArtifact::new("t:x", json!({}))).unwrap().id;
        assert!(next > id);
    }

    #[test]
    fn root_is_the_absolute_store_directory() {
        let dir = TempDir::new().unwrap();
        let root = dir.path().join("nested/store");
        let store = LocalStore::open(&root).unwrap();
        assert!(store.root().is_absolute());
        assert_eq!(store.root(), root);
    }

    #[test]
    fn uses_wal_journal_mode_and_records_the_schema_version() {
        let (_dir, store) = new_store();
        let conn = store.db();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode.to_ascii_lowercase(), "wal");
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn refuses_a_newer_schema_version() {
        let dir = TempDir::new().unwrap();
        let root = dir.path().join("s");
        drop(LocalStore::open(&root).unwrap());
        Connection::open(root.join(DB_FILE))
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        match LocalStore::open(&root) {
            Err(StoreError::Db(m)) => assert!(
                m.contains("version 99") && m.contains("newer runtask"),
                "{m}"
            ),
            other => panic!("expected Db, got {other:?}"),
        }
    }

    #[test]
    fn refuses_a_file_where_the_store_directory_should_be() {
        let dir = TempDir::new().unwrap();
        let root = write(dir.path(), "not-a-dir", b"");
        assert!(matches!(
            LocalStore::open(&root),
            Err(StoreError::Io { .. })
        ));
    }

    #[test]
    fn is_usable_as_a_shared_trait_object() {
        let (dir, store) = new_store();
        let store: Arc<dyn ArtifactStore> = Arc::new(store);
        let a = store.create(log_artifact(dir.path(), b"x")).unwrap();
        assert_eq!(store.get(a.id).unwrap().id, a.id);
    }

    #[test]
    fn two_handles_on_one_directory_create_concurrently() {
        let dir = TempDir::new().unwrap();
        let root = dir.path().join("s");
        let stores = [
            Arc::new(LocalStore::open(&root).unwrap()),
            Arc::new(LocalStore::open(&root).unwrap()),
        ];
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let store = Arc::clone(&stores[t % 2]);
                let src_dir = dir.path().join(format!("src{t}"));
                fs::create_dir(&src_dir).unwrap();
                std::thread::spawn(move || {
                    (0..15)
                        .map(|i| {
                            let new = NewArtifact::new("t:concurrent", json!({"t": t, "i": i}))
                                .with_file(
                                    "shared",
                                    write(&src_dir, "shared", b"same for everyone"),
                                )
                                .with_file(
                                    "own",
                                    write(&src_dir, "own", format!("{t}/{i}").as_bytes()),
                                );
                            store.create(new).unwrap().id
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut ids: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 60);
        for store in &stores {
            let listed: Vec<_> = store
                .list(&ListFilter::default())
                .unwrap()
                .iter()
                .map(|a| a.id)
                .collect();
            assert_eq!(listed, ids);
            assert!(store.verify().unwrap().is_empty());
        }
    }

    #[test]
    fn gc_never_removes_blobs_of_a_concurrent_create() {
        let dir = TempDir::new().unwrap();
        let root = dir.path().join("s");
        let creator = LocalStore::open(&root).unwrap();
        let collector = LocalStore::open(&root).unwrap();
        use std::sync::atomic::{AtomicBool, Ordering};
        struct SetOnDrop<'a>(&'a AtomicBool);
        impl Drop for SetOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    collector.gc().unwrap();
                }
            });
            // Stops the collector even if an assertion below fails.
            let _stop = SetOnDrop(&done);
            for i in 0..40 {
                let content = format!("blob {i}");
                let new = NewArtifact::new("t:x", json!({}))
                    .with_file("f", write(dir.path(), "f", content.as_bytes()));
                let a = creator.create(new).unwrap();
                assert_eq!(
                    fs::read(creator.file_path(a.id, "f").unwrap()).unwrap(),
                    content.as_bytes()
                );
            }
        });
        assert!(creator.verify().unwrap().is_empty());
    }
}
