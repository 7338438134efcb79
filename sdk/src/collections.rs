//! debusine's collections (API 0.2.1): named sets of artifacts such as a
//! suite (`bookworm@debian:suite`) or the lintian analyses derived from it
//! (`bookworm@debian:suite-lintian`).
//!
//! A run reads a collection it found with [`get`], whose query must match
//! a `lookups` pattern of the manifest (`*@debian:suite`) that the
//! operator granted; the items' artifacts then become visible to the run.
//! It changes only collections matching a `collections` pattern
//! (`*@debian:suite-lintian`), also granted by the operator.

use crate::host::collections as raw;
use crate::{ArtifactId, Error, Result};
use serde_json::Value;

/// A collection's id in the store.
pub type CollectionId = u64;
/// A collection item's id (what a derived item's `derived_from` lists).
pub type ItemId = u64;

/// A collection.
#[derive(Clone, Debug, PartialEq)]
pub struct Collection {
    /// Its id in the store.
    pub id: CollectionId,
    /// E.g. `debian:suite`.
    pub category: String,
    /// E.g. `bookworm`.
    pub name: String,
    /// A JSON object.
    pub data: Value,
}

impl Collection {
    /// `NAME@CATEGORY`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.category)
    }
}

/// An active item of a collection.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// Its id (derived items list it in `derived_from`).
    pub id: ItemId,
    /// Unique among the collection's active items.
    pub name: String,
    /// The artifact's category, or a bare item's own.
    pub category: String,
    /// None for a bare-data item.
    pub artifact: Option<ArtifactId>,
    /// Per-item data, a JSON object.
    pub data: Value,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// An item to add: see [`add`].
#[derive(Clone, Debug, PartialEq)]
pub struct NewItem {
    /// The item's name.
    pub name: String,
    /// Must be visible to the run; None: a bare-data item.
    pub artifact: Option<ArtifactId>,
    /// The category of a bare-data item.
    pub category: Option<String>,
    /// Per-item data, a JSON object.
    pub data: Value,
    /// Replace an active item of the same name.
    pub replace: bool,
}

impl NewItem {
    /// An artifact item with per-item `data`.
    pub fn artifact(name: impl Into<String>, artifact: ArtifactId, data: Value) -> Self {
        NewItem {
            name: name.into(),
            artifact: Some(artifact),
            category: None,
            data,
            replace: false,
        }
    }

    /// Replaces an active item of the same name.
    pub fn replacing(mut self) -> Self {
        self.replace = true;
        self
    }
}

fn json(what: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::Failed(format!("{what} is not JSON: {e}")))
}

fn item(i: raw::Item) -> Result<Item> {
    Ok(Item {
        data: json(&format!("data of item {}", i.name), &i.data)?,
        id: i.id,
        name: i.name,
        category: i.category,
        artifact: i.artifact,
        created_at: i.created_at,
    })
}

/// Finds a collection by `NAME@CATEGORY` or `NNN@collections`.
///
/// ```no_run
/// let suite = taskhost_sdk::collections::get("bookworm@debian:suite")?;
/// for item in taskhost_sdk::collections::items(&suite)? {
///     taskhost_sdk::log::info(&item.name);
/// }
/// # Ok::<(), taskhost_sdk::Error>(())
/// ```
pub fn get(query: &str) -> Result<Collection> {
    let c = raw::get(query)?;
    Ok(Collection {
        data: json(&format!("data of collection {}", c.name), &c.data)?,
        id: c.id,
        category: c.category,
        name: c.name,
    })
}

/// The active items of `collection`, ordered by id.
pub fn items(collection: &Collection) -> Result<Vec<Item>> {
    raw::items(collection.id)?.into_iter().map(item).collect()
}

/// Adds an item (atomically: on error nothing changed).
pub fn add(collection: &Collection, new: NewItem) -> Result<Item> {
    let new = raw::NewItem {
        name: new.name,
        artifact: new.artifact,
        category: new.category,
        data: new.data.to_string(),
        replace: new.replace,
    };
    item(raw::add(collection.id, &new)?)
}

/// Removes the active item `name`; it stays in the history.
pub fn remove(collection: &Collection, name: &str) -> Result<()> {
    raw::remove(collection.id, name)
}
