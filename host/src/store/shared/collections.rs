//! Collections in PostgreSQL. Each change is one transaction that first
//! locks the collection's row, so changes to one collection are serial;
//! the partial unique index `collection_items_active` keeps one active
//! item per name whatever happens.

use deadpool_postgres::GenericClient;
use deadpool_postgres::Pool;
use serde_json::Value;
use tokio_postgres::Row;

use super::index::{client, key, unsigned};
use super::pg_err;
use crate::store::collections::{json, object, validate_collection, validate_item_name};
use crate::store::local::now_rfc3339;
use crate::store::{
    Collection, CollectionId, CollectionItem, ItemFilter, NewItem, StoreError, validate_category,
};

const COLLECTION_COLUMNS: &str = "id, category, name, data, created_at";
const ITEM_COLUMNS: &str = "id, collection_id, name, category, artifact_id, data, created_at, \
                            created_by, removed_at, removed_by";

fn to_collection(row: &Row) -> Result<Collection, StoreError> {
    let id: i64 = row.get(0);
    Ok(Collection {
        id: unsigned(id, "collection")?,
        category: row.get(1),
        name: row.get(2),
        data: json(row.get(3), &format!("collection {id}"))?,
        created_at: row.get(4),
    })
}

fn to_item(row: &Row) -> Result<CollectionItem, StoreError> {
    let id: i64 = row.get(0);
    Ok(CollectionItem {
        id: unsigned(id, "collection item")?,
        collection: unsigned(row.get(1), "collection")?,
        name: row.get(2),
        category: row.get(3),
        artifact: row
            .get::<_, Option<i64>>(4)
            .map(|a| unsigned(a, "artifact"))
            .transpose()?,
        data: json(row.get(5), &format!("collection item {id}"))?,
        created_at: row.get(6),
        created_by: row.get(7),
        removed_at: row.get(8),
        removed_by: row.get(9),
    })
}

fn missing(id: CollectionId) -> StoreError {
    StoreError::Invalid(format!(
        "collection {id} does not exist (see `runtask collection list`)"
    ))
}

/// The collection `id`; `FOR UPDATE` locks it for the transaction.
async fn load_with(
    c: &impl GenericClient,
    id: CollectionId,
    lock: bool,
) -> Result<Collection, StoreError> {
    let k = i64::try_from(id).map_err(|_| missing(id))?;
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row = c
        .query_opt(
            &format!("SELECT {COLLECTION_COLUMNS} FROM collections WHERE id = $1{lock}"),
            &[&k],
        )
        .await
        .map_err(pg_err)?
        .ok_or_else(|| missing(id))?;
    to_collection(&row)
}

pub(super) async fn load(
    c: &impl GenericClient,
    id: CollectionId,
) -> Result<Collection, StoreError> {
    load_with(c, id, false).await
}

pub(super) async fn create(
    pool: &Pool,
    category: &str,
    name: &str,
    data: &Value,
) -> Result<Collection, StoreError> {
    validate_collection(category, name)?;
    let data = object("collection data", data)?;
    let c = client(pool).await?;
    let row = c
        .query_opt(
            &format!(
                "INSERT INTO collections (category, name, data, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (category, name) DO NOTHING \
                 RETURNING {COLLECTION_COLUMNS}"
            ),
            &[&category, &name, &data, &now_rfc3339()],
        )
        .await
        .map_err(pg_err)?
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "collection {name}@{category} already exists (see `runtask collection show {name}@{category}`)"
            ))
        })?;
    to_collection(&row)
}

pub(super) async fn find(
    pool: &Pool,
    category: &str,
    name: &str,
) -> Result<Option<Collection>, StoreError> {
    let c = client(pool).await?;
    c.query_opt(
        &format!("SELECT {COLLECTION_COLUMNS} FROM collections WHERE category = $1 AND name = $2"),
        &[&category, &name],
    )
    .await
    .map_err(pg_err)?
    .map(|r| to_collection(&r))
    .transpose()
}

pub(super) async fn all(
    pool: &Pool,
    category: Option<&str>,
) -> Result<Vec<Collection>, StoreError> {
    let c = client(pool).await?;
    c.query(
        &format!(
            "SELECT {COLLECTION_COLUMNS} FROM collections \
             WHERE ($1::text IS NULL OR category = $1) ORDER BY id"
        ),
        &[&category],
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(to_collection)
    .collect()
}

async fn active_item(
    c: &impl GenericClient,
    collection: i64,
    name: &str,
) -> Result<Option<CollectionItem>, StoreError> {
    c.query_opt(
        &format!(
            "SELECT {ITEM_COLUMNS} FROM collection_items \
             WHERE collection_id = $1 AND name = $2 AND removed_at IS NULL"
        ),
        &[&collection, &name],
    )
    .await
    .map_err(pg_err)?
    .map(|r| to_item(&r))
    .transpose()
}

async fn mark_removed(
    c: &impl GenericClient,
    coll: &Collection,
    name: &str,
    removed_by: Option<&str>,
) -> Result<CollectionItem, StoreError> {
    let Some(item) = active_item(c, key(coll.id)?, name).await? else {
        return Err(StoreError::Invalid(format!(
            "{} has no active item {name:?} (see `runtask collection show {}`)",
            coll.label(),
            coll.label()
        )));
    };
    let row = c
        .query_one(
            &format!(
                "UPDATE collection_items SET removed_at = $1, removed_by = $2 WHERE id = $3 \
                 RETURNING {ITEM_COLUMNS}"
            ),
            &[&now_rfc3339(), &removed_by, &key(item.id)?],
        )
        .await
        .map_err(pg_err)?;
    to_item(&row)
}

async fn insert_item(
    c: &impl GenericClient,
    coll: &Collection,
    new: &NewItem,
) -> Result<CollectionItem, StoreError> {
    validate_item_name(&new.name)?;
    let data = object("collection item data", &new.data)?;
    let (category, artifact) = match (new.artifact, &new.category) {
        (Some(id), _) => {
            // Committed artifacts only: an attempt's pending artifact may
            // never become visible.
            let row = c
                .query_opt(
                    "SELECT category, pending FROM artifacts WHERE id = $1",
                    &[&key(id)?],
                )
                .await
                .map_err(pg_err)?
                .ok_or(StoreError::NotFound(id))?;
            if row.get::<_, Option<String>>(1).is_some() {
                return Err(StoreError::Invalid(format!(
                    "artifact {id} belongs to a run that has not finished; add it to {} once that run has ended (from its parent run, say)",
                    coll.label()
                )));
            }
            (row.get::<_, String>(0), Some(key(id)?))
        }
        (None, Some(category)) => {
            validate_category(category)?;
            (category.clone(), None)
        }
        (None, None) => {
            return Err(StoreError::Invalid(format!(
                "collection item {:?} has neither an artifact nor a category",
                new.name
            )));
        }
    };
    let now = now_rfc3339();
    let ckey = key(coll.id)?;
    if let Some(old) = active_item(c, ckey, &new.name).await? {
        if !new.replace {
            return Err(StoreError::Invalid(format!(
                "{} already has an active item {:?} (item {}); remove it first or replace it",
                coll.label(),
                new.name,
                old.id
            )));
        }
        c.execute(
            "UPDATE collection_items SET removed_at = $1, removed_by = $2 WHERE id = $3",
            &[&now, &new.created_by, &key(old.id)?],
        )
        .await
        .map_err(pg_err)?;
    }
    let row = c
        .query_one(
            &format!(
                "INSERT INTO collection_items \
                 (collection_id, name, category, artifact_id, data, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ITEM_COLUMNS}"
            ),
            &[
                &ckey,
                &new.name,
                &category,
                &artifact,
                &data,
                &now,
                &new.created_by,
            ],
        )
        .await
        .map_err(pg_err)?;
    to_item(&row)
}

/// Removes `remove`, then adds `add`, in one transaction; returns the
/// added items.
pub(super) async fn change(
    pool: &Pool,
    collection: CollectionId,
    add: Vec<NewItem>,
    remove: Vec<String>,
    removed_by: Option<String>,
) -> Result<Vec<CollectionItem>, StoreError> {
    let mut c = client(pool).await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let coll = load_with(&tx, collection, true).await?;
    for name in &remove {
        mark_removed(&tx, &coll, name, removed_by.as_deref()).await?;
    }
    let mut added = Vec::with_capacity(add.len());
    for new in &add {
        added.push(insert_item(&tx, &coll, new).await?);
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(added)
}

pub(super) async fn remove(
    pool: &Pool,
    collection: CollectionId,
    name: &str,
    removed_by: Option<String>,
) -> Result<CollectionItem, StoreError> {
    let mut c = client(pool).await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let coll = load_with(&tx, collection, true).await?;
    let item = mark_removed(&tx, &coll, name, removed_by.as_deref()).await?;
    tx.commit().await.map_err(pg_err)?;
    Ok(item)
}

pub(super) async fn items(
    pool: &Pool,
    collection: CollectionId,
    filter: &ItemFilter,
) -> Result<Vec<CollectionItem>, StoreError> {
    let c = client(pool).await?;
    let coll = load(&c, collection).await?;
    c.query(
        &format!(
            "SELECT {ITEM_COLUMNS} FROM collection_items WHERE collection_id = $1 \
             AND ($2 OR removed_at IS NULL) AND ($3::text IS NULL OR name = $3) \
             AND ($4::text IS NULL OR category = $4) ORDER BY id"
        ),
        &[
            &key(coll.id)?,
            &filter.include_removed,
            &filter.name,
            &filter.category,
        ],
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(to_item)
    .collect()
}
