//! Artifacts, files and relations in PostgreSQL. An artifact a run
//! attempt is still working on (`pending`) is seen by that attempt only.

use deadpool_postgres::GenericClient;
use deadpool_postgres::{Object, Pool};

use super::pg_err;
use crate::store::local::now_rfc3339;
use crate::store::{
    Artifact, ArtifactId, FileEntry, ListFilter, Relation, RelationEntry, StoreError,
};

/// Who sees a row: committed artifacts, and the pending ones of `$N`.
const VISIBLE: &str = "(pending IS NULL OR pending = $2)";

/// What [`insert`] records: an artifact whose blobs are stored.
pub(super) struct NewRow {
    pub category: String,
    /// The data, already serialized to a JSON object.
    pub data: String,
    pub created_by: Option<String>,
    pub files: Vec<FileEntry>,
    pub relations: Vec<(ArtifactId, Relation)>,
    pub pending: Option<String>,
}

pub(super) async fn client(pool: &Pool) -> Result<Object, StoreError> {
    pool.get()
        .await
        .map_err(|e| StoreError::Db(format!("cannot reach PostgreSQL: {e}")))
}

/// Ids beyond PostgreSQL's bigint cannot exist.
pub(super) fn key(id: ArtifactId) -> Result<i64, StoreError> {
    i64::try_from(id).map_err(|_| StoreError::NotFound(id))
}

pub(super) fn unsigned(id: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(id).map_err(|_| StoreError::Db(format!("negative {what} id {id}")))
}

pub(super) async fn exists(
    c: &impl GenericClient,
    id: ArtifactId,
    me: Option<&str>,
) -> Result<bool, StoreError> {
    let Ok(k) = i64::try_from(id) else {
        return Ok(false);
    };
    Ok(c.query_opt(
        &format!("SELECT 1 FROM artifacts WHERE id = $1 AND {VISIBLE}"),
        &[&k, &me],
    )
    .await
    .map_err(pg_err)?
    .is_some())
}

pub(super) async fn insert(pool: &Pool, new: NewRow) -> Result<Artifact, StoreError> {
    let mut c = client(pool).await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    for &(target, _) in &new.relations {
        if !exists(&tx, target, new.pending.as_deref()).await? {
            return Err(StoreError::Invalid(format!(
                "relation target artifact {target} does not exist (see `runtask artifact list`)"
            )));
        }
    }
    let row = tx
        .query_one(
            "INSERT INTO artifacts (category, data, created_at, created_by, pending) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &new.category,
                &new.data,
                &now_rfc3339(),
                &new.created_by,
                &new.pending,
            ],
        )
        .await
        .map_err(pg_err)?;
    let id: i64 = row.get(0);
    for e in &new.files {
        let size = i64::try_from(e.size)
            .map_err(|_| StoreError::Invalid(format!("artifact file {:?} is too large", e.name)))?;
        tx.execute(
            "INSERT INTO files (artifact_id, name, size, sha256) VALUES ($1, $2, $3, $4)",
            &[&id, &e.name, &size, &e.sha256],
        )
        .await
        .map_err(pg_err)?;
    }
    for &(target, relation) in &new.relations {
        tx.execute(
            "INSERT INTO relations (source, target, relation) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[&id, &key(target)?, &relation.as_str()],
        )
        .await
        .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)?;
    let id = unsigned(id, "artifact")?;
    load(&c, id, new.pending.as_deref())
        .await?
        .ok_or_else(|| StoreError::Db(format!("artifact {id} vanished right after being created")))
}

pub(super) async fn load(
    c: &impl GenericClient,
    id: ArtifactId,
    me: Option<&str>,
) -> Result<Option<Artifact>, StoreError> {
    let Ok(k) = i64::try_from(id) else {
        return Ok(None);
    };
    let Some(row) = c
        .query_opt(
            &format!(
                "SELECT category, data, created_at, created_by FROM artifacts \
                 WHERE id = $1 AND {VISIBLE}"
            ),
            &[&k, &me],
        )
        .await
        .map_err(pg_err)?
    else {
        return Ok(None);
    };
    let data: String = row.get(1);
    let data = serde_json::from_str(&data)
        .map_err(|e| StoreError::Db(format!("artifact {id} has corrupt data: {e}")))?;
    let mut files = Vec::new();
    for r in c
        .query(
            "SELECT name, size, sha256 FROM files WHERE artifact_id = $1 ORDER BY name",
            &[&k],
        )
        .await
        .map_err(pg_err)?
    {
        let (name, size, sha256): (String, i64, String) = (r.get(0), r.get(1), r.get(2));
        let size = u64::try_from(size).map_err(|_| {
            StoreError::Db(format!(
                "artifact {id}: file {name:?} has negative size {size}"
            ))
        })?;
        files.push(FileEntry { name, size, sha256 });
    }
    let mut relations = Vec::new();
    for r in c
        .query(
            "SELECT target, relation FROM relations WHERE source = $1 ORDER BY target, relation",
            &[&k],
        )
        .await
        .map_err(pg_err)?
    {
        let target = unsigned(r.get(0), "relation target")?;
        let relation = r
            .get::<_, String>(1)
            .parse::<Relation>()
            .map_err(|e| StoreError::Db(format!("artifact {id}: {e}")))?;
        relations.push(RelationEntry { relation, target });
    }
    relations.sort_by_key(|r| (r.target, r.relation));
    Ok(Some(Artifact {
        id,
        category: row.get(0),
        data,
        files,
        created_at: row.get(2),
        created_by: row.get(3),
        relations,
    }))
}

pub(super) async fn list(
    pool: &Pool,
    filter: &ListFilter,
    me: Option<&str>,
) -> Result<Vec<Artifact>, StoreError> {
    let mut c = client(pool).await?;
    // One snapshot for the ids and the artifacts they name.
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_err)?;
    let ids = tx
        .query(
            "SELECT id FROM artifacts WHERE ($1::text IS NULL OR category = $1) \
             AND (pending IS NULL OR pending = $2) \
             AND ($3::text IS NULL OR created_by = $3) ORDER BY id",
            &[&filter.category, &me, &filter.created_by],
        )
        .await
        .map_err(pg_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for row in ids {
        if let Some(a) = load(&tx, unsigned(row.get(0), "artifact")?, me).await? {
            out.push(a);
        }
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(out)
}

pub(super) async fn relate(
    pool: &Pool,
    source: ArtifactId,
    target: ArtifactId,
    relation: Relation,
    me: Option<&str>,
) -> Result<(), StoreError> {
    let mut c = client(pool).await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    if !exists(&tx, source, me).await? {
        return Err(StoreError::NotFound(source));
    }
    if !exists(&tx, target, me).await? {
        return Err(StoreError::NotFound(target));
    }
    if source == target {
        return Err(StoreError::Invalid(format!(
            "artifact {source} cannot be related to itself"
        )));
    }
    tx.execute(
        "INSERT INTO relations (source, target, relation) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
        &[&key(source)?, &key(target)?, &relation.as_str()],
    )
    .await
    .map_err(pg_err)?;
    tx.commit().await.map_err(pg_err)
}

/// The entry of file `name` of artifact `id`.
pub(super) async fn file(
    pool: &Pool,
    id: ArtifactId,
    name: &str,
    me: Option<&str>,
) -> Result<FileEntry, StoreError> {
    let c = client(pool).await?;
    if !exists(&c, id, me).await? {
        return Err(StoreError::NotFound(id));
    }
    let row = c
        .query_opt(
            "SELECT size, sha256 FROM files WHERE artifact_id = $1 AND name = $2",
            &[&key(id)?, &name],
        )
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::NoSuchFile {
            id,
            name: name.to_owned(),
        })?;
    let size: i64 = row.get(0);
    Ok(FileEntry {
        name: name.to_owned(),
        size: u64::try_from(size)
            .map_err(|_| StoreError::Db(format!("artifact {id}: negative size")))?,
        sha256: row.get(1),
    })
}

/// Artifacts whose attempt never committed, with the attempt.
pub(super) async fn pending(pool: &Pool) -> Result<Vec<(ArtifactId, String)>, StoreError> {
    let c = client(pool).await?;
    c.query(
        "SELECT id, pending FROM artifacts WHERE pending IS NOT NULL ORDER BY id",
        &[],
    )
    .await
    .map_err(pg_err)?
    .into_iter()
    .map(|r| Ok((unsigned(r.get(0), "artifact")?, r.get(1))))
    .collect()
}
