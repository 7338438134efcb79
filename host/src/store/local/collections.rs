//! Collections in the SQLite index. Each change is one transaction; the
//! partial unique index `collection_items_active` keeps one active item
//! per name even against a concurrent writer.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde_json::Value;

use super::index::{Index, artifact_category, id_to_sql, now_rfc3339};
use crate::store::collections::{validate_collection, validate_item_name};
use crate::store::{
    Collection, CollectionId, CollectionItem, ItemFilter, NewItem, StoreError, validate_category,
};

const ITEM_COLUMNS: &str = "id, collection_id, name, category, artifact_id, data, created_at, \
                            created_by, removed_at, removed_by";

fn object(what: &str, data: &Value) -> Result<String, StoreError> {
    if !data.is_object() {
        return Err(StoreError::Invalid(format!(
            "{what} must be a JSON object, not {data}"
        )));
    }
    Ok(data.to_string())
}

fn unsigned(id: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(id).map_err(|_| StoreError::Db(format!("negative {what} id {id}")))
}

fn json(text: &str, what: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Db(format!("{what} has corrupt data: {e}")))
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
    use crate::store::{ArtifactStore, ItemFilter, LocalStore, NewArtifact, NewItem, StoreError};
    use rusqlite::Connection;
    use serde_json::json;
    use tempfile::TempDir;

    fn store() -> (TempDir, LocalStore) {
        let dir = TempDir::new().unwrap();
        let store = LocalStore::open(dir.path().join("s")).unwrap();
        (dir, store)
    }

    fn artifact(store: &LocalStore) -> u64 {
        store
            .create(NewArtifact::new("debian:lintian", json!({})))
            .unwrap()
            .id
    }

    fn invalid(r: Result<impl std::fmt::Debug, StoreError>) -> String {
        match r {
            Err(StoreError::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_collection_is_unique_per_category_and_name() {
        let (_d, s) = store();
        let a = s
            .create_collection("debian:suite", "bookworm", json!({"components": ["main"]}))
            .unwrap();
        assert_eq!(a.label(), "bookworm@debian:suite");
        s.create_collection("debian:suite-lintian", "bookworm", json!({}))
            .unwrap();
        let m = invalid(s.create_collection("debian:suite", "bookworm", json!({})));
        assert!(m.contains("already exists"), "{m}");
        assert_eq!(
            s.find_collection("debian:suite", "bookworm").unwrap(),
            Some(a.clone())
        );
        assert_eq!(s.find_collection("debian:suite", "sid").unwrap(), None);
        assert_eq!(s.collections(Some("debian:suite")).unwrap(), vec![a]);
        assert_eq!(s.collections(None).unwrap().len(), 2);
        assert!(
            invalid(s.create_collection("debian:suite", "x", json!([]))).contains("JSON object")
        );
        assert!(invalid(s.create_collection("suite", "x", json!({}))).contains("namespace"));
        assert!(invalid(s.collection(99)).contains("collection 99 does not exist"));
    }

    #[test]
    fn one_active_item_per_name_and_replacing_keeps_the_history() {
        let (_d, s) = store();
        let c = s
            .create_collection("debian:suite-lintian", "b", json!({}))
            .unwrap();
        let (a1, a2) = (artifact(&s), artifact(&s));
        let first = s
            .add_item(
                c.id,
                NewItem::artifact("hello_1_amd64", a1, json!({"derived_from": [1]})),
            )
            .unwrap();
        assert_eq!(first.category, "debian:lintian");
        let m = invalid(s.add_item(c.id, NewItem::artifact("hello_1_amd64", a2, json!({}))));
        assert!(m.contains("already has an active item"), "{m}");
        let second = s
            .add_item(
                c.id,
                NewItem {
                    replace: true,
                    created_by: Some("run-2".into()),
                    ..NewItem::artifact("hello_1_amd64", a2, json!({}))
                },
            )
            .unwrap();
        let active = s.items(c.id, &ItemFilter::default()).unwrap();
        assert_eq!(active, vec![second.clone()]);
        let all = s
            .items(
                c.id,
                &ItemFilter {
                    include_removed: true,
                    ..ItemFilter::default()
                },
            )
            .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].id, first.id);
        assert!(all[0].removed_at.is_some());
        assert_eq!(all[0].removed_by.as_deref(), Some("run-2"));
        assert_eq!(all[0].derived_from(), vec![1]);

        let removed = s.remove_item(c.id, "hello_1_amd64", Some("cli")).unwrap();
        assert!(!removed.is_active());
        assert!(s.items(c.id, &ItemFilter::default()).unwrap().is_empty());
        let m = invalid(s.remove_item(c.id, "hello_1_amd64", None));
        assert!(m.contains("no active item"), "{m}");
        // The name is free again.
        s.add_item(c.id, NewItem::artifact("hello_1_amd64", a1, json!({})))
            .unwrap();
    }

    #[test]
    fn bad_items_are_refused_and_change_nothing() {
        let (_d, s) = store();
        let c = s.create_collection("debian:suite", "b", json!({})).unwrap();
        assert!(matches!(
            s.add_item(c.id, NewItem::artifact("x", 404, json!({}))),
            Err(StoreError::NotFound(404))
        ));
        let a = artifact(&s);
        assert!(
            invalid(s.add_item(c.id, NewItem::artifact("x", a, json!(1)))).contains("JSON object")
        );
        assert!(invalid(s.add_item(c.id, NewItem::artifact("../x", a, json!({})))).contains("`/`"));
        assert!(
            invalid(s.add_item(99, NewItem::artifact("x", a, json!({}))))
                .contains("does not exist")
        );
        let bare = NewItem {
            artifact: None,
            ..NewItem::artifact("note", a, json!({}))
        };
        assert!(
            invalid(s.add_item(c.id, bare.clone())).contains("neither an artifact nor a category")
        );
        let item = s
            .add_item(
                c.id,
                NewItem {
                    category: Some("debusine:promise".into()),
                    ..bare
                },
            )
            .unwrap();
        assert_eq!(
            (item.artifact, item.category.as_str()),
            (None, "debusine:promise")
        );
        assert_eq!(s.items(c.id, &ItemFilter::default()).unwrap().len(), 1);
    }

    #[test]
    fn a_batch_of_changes_is_applied_whole_or_not_at_all() {
        let (_d, s) = store();
        let c = s.create_collection("debian:suite", "b", json!({})).unwrap();
        let a = artifact(&s);
        s.add_item(c.id, NewItem::artifact("old", a, json!({})))
            .unwrap();
        let adds = vec![
            NewItem::artifact("one", a, json!({})),
            NewItem::artifact("two", a, json!({})),
        ];
        // The second add fails: nothing of the batch happens.
        let bad = [adds.clone(), vec![NewItem::artifact("one", a, json!({}))]].concat();
        assert!(
            invalid(s.update_items(c.id, &bad, &["old".into()], Some("t"))).contains("already has")
        );
        let names = |s: &LocalStore| -> Vec<String> {
            s.items(c.id, &ItemFilter::default())
                .unwrap()
                .into_iter()
                .map(|i| i.name)
                .collect()
        };
        assert_eq!(names(&s), ["old"]);
        s.update_items(c.id, &adds, &["old".into()], Some("t"))
            .unwrap();
        assert_eq!(names(&s), ["one", "two"]);
    }

    #[test]
    fn concurrent_adders_of_one_name_leave_one_active_item() {
        let (_d, s) = store();
        let c = s
            .create_collection("debian:suite-lintian", "b", json!({}))
            .unwrap();
        let a = artifact(&s);
        let root = s.root().to_path_buf();
        let wins: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let root = root.clone();
                    scope.spawn(move || {
                        // Separate stores: separate SQLite connections.
                        let s = LocalStore::open(root).unwrap();
                        s.add_item(c.id, NewItem::artifact("same", a, json!({})))
                            .is_ok()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap()))
                .sum()
        });
        assert_eq!(wins, 1);
        assert_eq!(s.items(c.id, &ItemFilter::default()).unwrap().len(), 1);
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
