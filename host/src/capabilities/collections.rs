//! `taskhost:plugin/collections`: a run reads the collections its granted
//! lookups find, and changes only those its `collections` grant names,
//! within its `collection-changes` quota; the granter decides before the
//! store is touched.
//! Items' artifacts become visible to the run; an added item's artifact
//! must already be.

use super::RunState;
use super::bindings::Error;
use super::bindings::taskhost::plugin::collections::{self, Collection, Item, NewItem};
use crate::store::{self, CollectionId, CollectionItem, ItemFilter, StoreError};

fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound(_) | StoreError::NoSuchFile { .. } => Error::NotFound(e.to_string()),
        StoreError::Invalid(_) => Error::Invalid(e.to_string()),
        _ => Error::Failed(e.to_string()),
    }
}

fn item(i: CollectionItem) -> Item {
    Item {
        id: i.id,
        name: i.name,
        category: i.category,
        artifact: i.artifact,
        data: i.data.to_string(),
        created_at: i.created_at,
    }
}

impl RunState {
    /// The collection `id`, after the granter allowed `change` of `name`.
    async fn changing(
        &mut self,
        call: &str,
        id: CollectionId,
        change: &str,
        name: &str,
    ) -> Result<store::Collection, Error> {
        let run = &mut self.run;
        run.granter
            .change_collection(id, change, name)
            .map_err(|d| run.denied(call, d))?;
        run.store(move |s| s.collection(id))
            .await
            .map_err(store_error)
    }
}

impl collections::Host for RunState {
    async fn get(&mut self, query: String) -> Result<Collection, Error> {
        let run = &mut self.run;
        run.granter
            .collection(&query)
            .map_err(|d| run.denied("collections.get", d))?;
        let q = query.clone();
        let c = run
            .store(move |s| store::resolve_collection(s, &q))
            .await
            .map_err(store_error)?;
        run.granter.add_collection(c.id, &c.label());
        run.log.info(
            "collections",
            &format!("{query} is collection {} ({})", c.id, c.label()),
        );
        Ok(Collection {
            id: c.id,
            category: c.category,
            name: c.name,
            data: c.data.to_string(),
        })
    }

    async fn items(&mut self, collection: CollectionId) -> Result<Vec<Item>, Error> {
        let run = &mut self.run;
        run.granter
            .collection_items(collection)
            .map_err(|d| run.denied("collections.items", d))?;
        let items = run
            .store(move |s| s.items(collection, &ItemFilter::default()))
            .await
            .map_err(store_error)?;
        for id in items.iter().filter_map(|i| i.artifact) {
            run.granter.add_found(id);
        }
        Ok(items.into_iter().map(item).collect())
    }

    async fn add(&mut self, collection: CollectionId, new: NewItem) -> Result<Item, Error> {
        let c = self
            .changing("collections.add", collection, "add", &new.name)
            .await?;
        if let Some(id) = new.artifact {
            self.visible("collections.add", id)?;
        }
        let data: serde_json::Value = serde_json::from_str(&new.data)
            .map_err(|e| Error::Invalid(format!("item data is not JSON: {e}")))?;
        let run = &mut self.run;
        let new_item = store::NewItem {
            name: new.name,
            artifact: new.artifact,
            category: new.category,
            data,
            created_by: Some(run.run_id.clone()),
            replace: new.replace,
        };
        let added = run
            .store(move |s| s.add_item(collection, new_item))
            .await
            .map_err(store_error)?;
        run.log.info(
            "collections",
            &format!("added {} to {}", added.name, c.label()),
        );
        Ok(item(added))
    }

    async fn remove(&mut self, collection: CollectionId, name: String) -> Result<(), Error> {
        let c = self
            .changing("collections.remove", collection, "remove", &name)
            .await?;
        let run = &mut self.run;
        let (n, by) = (name.clone(), run.run_id.clone());
        run.store(move |s| s.remove_item(collection, &n, Some(&by)))
            .await
            .map_err(store_error)?;
        run.log
            .info("collections", &format!("removed {name} from {}", c.label()));
        Ok(())
    }
}
