//! Collections in the SQLite index. Each change is one transaction; the
//! partial unique index `collection_items_active` keeps one active item
//! per name even against a concurrent writer.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde_json::Value;

use super::index::{Index, artifact_category, id_to_sql, now_rfc3339};
use crate::store::collections::{json, object, validate_collection, validate_item_name};
use crate::store::{
    Collection, CollectionId, CollectionItem, ItemFilter, NewItem, StoreError, validate_category,
};

const ITEM_COLUMNS: &str = "id, collection_id, name, category, artifact_id, data, created_at, \
                            created_by, removed_at, removed_by";

fn unsigned(id: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(id).map_err(|_| StoreError::Db(format!("negative {what} id {id}")))
}

fn collection_row(r: &Row<'_>) -> rusqlite::Result<(i64, String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_collection(row: (i64, String, String, String, String)) -> Result<Collection, StoreError> {
    let (id, category, name, data, created_at) = row;
    Ok(Collection {
        id: unsigned(id, "collection")?,
        data: json(&data, &format!("collection {id}"))?,
        category,
        name,
        created_at,
    })
}

type ItemRow = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn item_row(r: &Row<'_>) -> rusqlite::Result<ItemRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn to_item(row: ItemRow) -> Result<CollectionItem, StoreError> {
    let (
        id,
        collection,
        name,
        category,
        artifact,
        data,
        created_at,
        created_by,
        removed_at,
        removed_by,
    ) = row;
    Ok(CollectionItem {
        id: unsigned(id, "collection item")?,
        collection: unsigned(collection, "collection")?,
        artifact: artifact.map(|a| unsigned(a, "artifact")).transpose()?,
        data: json(&data, &format!("collection item {id}"))?,
        name,
        category,
        created_at,
        created_by,
        removed_at,
        removed_by,
    })
}

fn load_collection(conn: &Connection, id: CollectionId) -> Result<Collection, StoreError> {
    let missing = || {
        StoreError::Invalid(format!(
            "collection {id} does not exist (see `runtask collection list`)"
        ))
    };
    let key = i64::try_from(id).map_err(|_| missing())?;
    let row = conn
        .prepare_cached(
            "SELECT id, category, name, data, created_at FROM collections WHERE id = ?1",
        )?
        .query_row([key], collection_row)
        .optional()?;
    to_collection(row.ok_or_else(missing)?)
}

fn active_item(
    conn: &Connection,
    collection: i64,
    name: &str,
) -> Result<Option<CollectionItem>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM collection_items \
             WHERE collection_id = ?1 AND name = ?2 AND removed_at IS NULL"
        ))?
        .query_row(params![collection, name], item_row)
        .optional()?;
    row.map(to_item).transpose()
}

fn load_item(conn: &Connection, id: i64) -> Result<CollectionItem, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM collection_items WHERE id = ?1"
        ))?
        .query_row([id], item_row)?;
    to_item(row)
}

/// Adds `new` to `c` inside `tx` (replacing an active item of its name
/// when `new.replace`).
fn insert_item(
    tx: &Connection,
    c: &Collection,
    new: &NewItem,
) -> Result<CollectionItem, StoreError> {
    validate_item_name(&new.name)?;
    let data = object("collection item data", &new.data)?;
    let key = id_to_sql(c.id)?;
    let (category, artifact) = match (new.artifact, &new.category) {
        (Some(id), _) => {
            let category = artifact_category(tx, id)?.ok_or(StoreError::NotFound(id))?;
            (category, Some(id_to_sql(id)?))
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
    if let Some(old) = active_item(tx, key, &new.name)? {
        if !new.replace {
            return Err(StoreError::Invalid(format!(
                "{} already has an active item {:?} (item {}); remove it first or replace it",
                c.label(),
                new.name,
                old.id
            )));
        }
        tx.execute(
            "UPDATE collection_items SET removed_at = ?1, removed_by = ?2 WHERE id = ?3",
            params![now, new.created_by, id_to_sql(old.id)?],
        )?;
    }
    tx.execute(
        "INSERT INTO collection_items \
         (collection_id, name, category, artifact_id, data, created_at, created_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![key, new.name, category, artifact, data, now, new.created_by],
    )?;
    load_item(tx, tx.last_insert_rowid())
}

/// Marks the active item `name` of `c` removed inside `tx`.
fn mark_removed(
    tx: &Connection,
    c: &Collection,
    name: &str,
    removed_by: Option<&str>,
) -> Result<CollectionItem, StoreError> {
    let Some(item) = active_item(tx, id_to_sql(c.id)?, name)? else {
        return Err(StoreError::Invalid(format!(
            "{} has no active item {name:?} (see `runtask collection show {}`)",
            c.label(),
            c.label()
        )));
    };
    let key = id_to_sql(item.id)?;
    tx.execute(
        "UPDATE collection_items SET removed_at = ?1, removed_by = ?2 WHERE id = ?3",
        params![now_rfc3339(), removed_by, key],
    )?;
    load_item(tx, key)
}

impl Index {
    pub(super) fn create_collection(
        &self,
        category: &str,
        name: &str,
        data: &Value,
    ) -> Result<Collection, StoreError> {
        validate_collection(category, name)?;
        let data = object("collection data", data)?;
        let mut conn = self.db();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM collections WHERE category = ?1 AND name = ?2",
                params![category, name],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if exists {
            return Err(StoreError::Invalid(format!(
                "collection {name}@{category} already exists (see `runtask collection show {name}@{category}`)"
            )));
        }
        tx.execute(
            "INSERT INTO collections (category, name, data, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![category, name, data, now_rfc3339()],
        )?;
        let id = unsigned(tx.last_insert_rowid(), "collection")?;
        let collection = load_collection(&tx, id)?;
        tx.commit()?;
        Ok(collection)
    }

    pub(super) fn collection(&self, id: CollectionId) -> Result<Collection, StoreError> {
        load_collection(&self.db(), id)
    }

    pub(super) fn find_collection(
        &self,
        category: &str,
        name: &str,
    ) -> Result<Option<Collection>, StoreError> {
        let conn = self.db();
        let row = conn
            .prepare_cached(
                "SELECT id, category, name, data, created_at FROM collections \
                 WHERE category = ?1 AND name = ?2",
            )?
            .query_row(params![category, name], collection_row)
            .optional()?;
        row.map(to_collection).transpose()
    }

    pub(super) fn collections(
        &self,
        category: Option<&str>,
    ) -> Result<Vec<Collection>, StoreError> {
        let conn = self.db();
        let mut stmt = conn.prepare_cached(
            "SELECT id, category, name, data, created_at FROM collections \
             WHERE (?1 IS NULL OR category = ?1) ORDER BY id",
        )?;
        let rows = stmt
            .query_map([category], collection_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(to_collection).collect()
    }

    pub(super) fn add_item(
        &self,
        collection: CollectionId,
        new: &NewItem,
    ) -> Result<CollectionItem, StoreError> {
        let mut conn = self.db();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let c = load_collection(&tx, collection)?;
        let item = insert_item(&tx, &c, new)?;
        tx.commit()?;
        Ok(item)
    }

    pub(super) fn remove_item(
        &self,
        collection: CollectionId,
        name: &str,
        removed_by: Option<&str>,
    ) -> Result<CollectionItem, StoreError> {
        let mut conn = self.db();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let c = load_collection(&tx, collection)?;
        let item = mark_removed(&tx, &c, name, removed_by)?;
        tx.commit()?;
        Ok(item)
    }

    pub(super) fn update_items(
        &self,
        collection: CollectionId,
        add: &[NewItem],
        remove: &[String],
        removed_by: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.db();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let c = load_collection(&tx, collection)?;
        for name in remove {
            mark_removed(&tx, &c, name, removed_by)?;
        }
        for new in add {
            insert_item(&tx, &c, new)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(super) fn items(
        &self,
        collection: CollectionId,
        filter: &ItemFilter,
    ) -> Result<Vec<CollectionItem>, StoreError> {
        let conn = self.db();
        let c = load_collection(&conn, collection)?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM collection_items WHERE collection_id = ?1 \
             AND (?2 OR removed_at IS NULL) AND (?3 IS NULL OR name = ?3) \
             AND (?4 IS NULL OR category = ?4) ORDER BY id"
        ))?;
        let rows = stmt
            .query_map(
                params![
                    id_to_sql(c.id)?,
                    filter.include_removed,
                    filter.name,
                    filter.category
                ],
                item_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(to_item).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::index::{DB_FILE, SCHEMA_VERSION};
    use crate::store::{ArtifactStore, LocalStore, NewArtifact, NewItem};
    use rusqlite::Connection;
    use serde_json::json;
    use tempfile::TempDir;

    fn artifact(store: &LocalStore) -> u64 {
        store
            .create(NewArtifact::new("debian:lintian", json!({})))
            .unwrap()
            .id
    }

    #[test]
    fn a_version_1_index_gains_collections_and_keeps_its_artifacts() {
        let dir = TempDir::new().unwrap();
        let root = dir.path().join("s");
        let id = {
            let s = LocalStore::open(&root).unwrap();
            artifact(&s)
        };
        // Make it a version-1 index again, as an older runtask left it.
        let conn = Connection::open(root.join(DB_FILE)).unwrap();
        conn.execute_batch(
            "DROP TABLE collection_items; DROP TABLE collections; DROP TABLE runs; PRAGMA user_version = 1;",
        )
        .unwrap();
        drop(conn);
        let s = LocalStore::open(&root).unwrap();
        assert_eq!(s.get(id).unwrap().id, id);
        let c = s.create_collection("debian:suite", "b", json!({})).unwrap();
        s.add_item(c.id, NewItem::artifact("x", id, json!({})))
            .unwrap();
        let v: i64 = Connection::open(root.join(DB_FILE))
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }
}
