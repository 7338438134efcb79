//! The SQLite index (`index.sqlite3`, WAL mode): artifacts, their files
//! (name, size, sha256 of the blob), relations, and collections with their
//! items' history.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::store::{
    Artifact, ArtifactId, FileEntry, ListFilter, Relation, RelationEntry, StoreError,
};

pub(super) const DB_FILE: &str = "index.sqlite3";
pub(super) const SCHEMA_VERSION: i64 = 2;
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Version 2: collections and the runs' record. A version-1 index gains
/// these tables in place.
const COLLECTIONS_SCHEMA: &str = "
CREATE TABLE collections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    category TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (category, name)
);
CREATE TABLE collection_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id INTEGER NOT NULL REFERENCES collections(id),
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    artifact_id INTEGER REFERENCES artifacts(id),
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT,
    removed_at TEXT,
    removed_by TEXT
);
CREATE UNIQUE INDEX collection_items_active
    ON collection_items(collection_id, name) WHERE removed_at IS NULL;
CREATE INDEX collection_items_artifact ON collection_items(artifact_id);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    params TEXT NOT NULL,
    parent TEXT,
    status TEXT NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE INDEX runs_params ON runs(task, params);
";

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

/// A row of the `files` table, as read back for a verify.
pub(super) struct FileRow {
    pub artifact_id: i64,
    pub name: String,
    pub size: i64,
    pub sha256: String,
}

/// What [`Index::insert`] records: an artifact whose blobs are stored.
pub(super) struct NewRow<'a> {
    pub category: &'a str,
    /// The data, already serialized to a JSON object.
    pub data: &'a str,
    pub created_by: Option<&'a str>,
    pub files: &'a [FileEntry],
    pub relations: &'a BTreeSet<(ArtifactId, Relation)>,
}

/// One connection to the index, shared by the threads of one `LocalStore`.
pub(super) struct Index {
    conn: Mutex<Connection>,
}

impl Index {
    /// Opens (creating if missing) the index in `root`.
    pub(super) fn open(root: &Path) -> Result<Self, StoreError> {
        let db_path = root.join(DB_FILE);
        let mut conn = Connection::open(&db_path)
            .map_err(|e| StoreError::Db(format!("cannot open {}: {e}", db_path.display())))?;
        init_schema(&mut conn, &db_path)?;
        Ok(Index {
            conn: Mutex::new(conn),
        })
    }

    pub(super) fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction rolled back on unwind; the connection is usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// SQLite's integrity and foreign-key problems, and every file row.
    pub(super) fn check(&self) -> Result<(Vec<String>, Vec<FileRow>), StoreError> {
        let mut problems = Vec::new();
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
        let rows = stmt
            .query_map([], |r| {
                Ok(FileRow {
                    artifact_id: r.get(0)?,
                    name: r.get(1)?,
                    size: r.get(2)?,
                    sha256: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((problems, rows))
    }

    /// The sha256 of every blob some artifact refers to.
    pub(super) fn referenced_blobs(&self) -> Result<HashSet<String>, StoreError> {
        let conn = self.db();
        let mut stmt = conn.prepare("SELECT DISTINCT sha256 FROM files")?;
        let shas = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        Ok(shas)
    }

    /// Fails unless every relation target exists.
    pub(super) fn require_targets(
        &self,
        relations: &BTreeSet<(ArtifactId, Relation)>,
    ) -> Result<(), StoreError> {
        let conn = self.db();
        for &(target, _) in relations {
            require_relation_target(&conn, target)?;
        }
        Ok(())
    }

    /// Records `new` in one transaction; `before_commit` runs just before
    /// the commit (tests use it to simulate a crash).
    pub(super) fn insert(
        &self,
        new: &NewRow<'_>,
        before_commit: &dyn Fn() -> Result<(), StoreError>,
    ) -> Result<Artifact, StoreError> {
        let mut conn = self.db();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for &(target, _) in new.relations {
            require_relation_target(&tx, target)?;
        }
        tx.execute(
            "INSERT INTO artifacts (category, data, created_at, created_by) VALUES (?1, ?2, ?3, ?4)",
            params![new.category, new.data, now_rfc3339(), new.created_by],
        )?;
        let id = tx.last_insert_rowid();
        for e in new.files {
            let size = i64::try_from(e.size).map_err(|_| {
                StoreError::Invalid(format!("artifact file {:?} is too large", e.name))
            })?;
            tx.execute(
                "INSERT INTO files (artifact_id, name, size, sha256) VALUES (?1, ?2, ?3, ?4)",
                params![id, e.name, size, e.sha256],
            )?;
        }
        for &(target, relation) in new.relations {
            tx.execute(
                "INSERT OR IGNORE INTO relations (source, target, relation) VALUES (?1, ?2, ?3)",
                params![id, id_to_sql(target)?, relation.as_str()],
            )?;
        }
        before_commit()?;
        tx.commit()?;
        load_artifact(&conn, id)?.ok_or_else(|| {
            StoreError::Db(format!("artifact {id} vanished right after being created"))
        })
    }

    pub(super) fn get(&self, id: ArtifactId) -> Result<Artifact, StoreError> {
        let key = id_to_sql(id)?;
        let mut conn = self.db();
        let tx = conn.transaction()?;
        load_artifact(&tx, key)?.ok_or(StoreError::NotFound(id))
    }

    pub(super) fn list(&self, filter: &ListFilter) -> Result<Vec<Artifact>, StoreError> {
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

    pub(super) fn relate(
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

    /// The recorded sha256 of file `name` of artifact `id` (not checked).
    pub(super) fn file_sha256(&self, id: ArtifactId, name: &str) -> Result<String, StoreError> {
        let key = id_to_sql(id)?;
        let conn = self.db();
        let sha = conn
            .query_row(
                "SELECT sha256 FROM files WHERE artifact_id = ?1 AND name = ?2",
                params![key, name],
                |r| r.get(0),
            )
            .optional()?;
        match sha {
            Some(sha) => Ok(sha),
            None if !artifact_exists(&conn, key)? => Err(StoreError::NotFound(id)),
            None => Err(StoreError::NoSuchFile {
                id,
                name: name.to_string(),
            }),
        }
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
    // Keep the WAL when the last connection closes: no checkpoint and
    // fsync of the database at every exit, no new WAL (and directory
    // fsync) at every start. SQLite checkpoints as the WAL grows.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
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
    }
    if version < 2 {
        tx.execute_batch(COLLECTIONS_SCHEMA).map_err(ctx)?;
    }
    if version < SCHEMA_VERSION {
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

/// The category of artifact `id`, if it exists.
pub(super) fn artifact_category(
    conn: &Connection,
    id: ArtifactId,
) -> Result<Option<String>, StoreError> {
    let Ok(key) = i64::try_from(id) else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached("SELECT category FROM artifacts WHERE id = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// Ids beyond SQLite's range cannot exist.
pub(super) fn id_to_sql(id: ArtifactId) -> Result<i64, StoreError> {
    i64::try_from(id).map_err(|_| StoreError::NotFound(id))
}

pub(crate) fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}
