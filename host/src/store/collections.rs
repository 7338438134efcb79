//! debusine's collections: named, categorized sets of items, each an
//! artifact (or bare data) with per-item data and a history. Only one
//! active item of a given name may exist in a collection; replacing or
//! removing one keeps the old row with its `removed_at`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ArtifactId, StoreError, validate_category};

/// Identifier of a collection, unique within one store.
pub type CollectionId = u64;
/// Identifier of a collection item (the `derived_from` of derived items).
pub type ItemId = u64;

/// `debian:suite`: the source and binary packages of one suite.
pub const SUITE: &str = "debian:suite";
/// `debian:suite-lintian`: lintian analyses derived from a suite.
pub const SUITE_LINTIAN: &str = "debian:suite-lintian";
/// `debian:environments`: system tarballs and images.
pub const ENVIRONMENTS: &str = "debian:environments";

/// A collection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    /// Store-assigned identifier.
    pub id: CollectionId,
    /// Category, `ns:name` (e.g. `debian:suite`).
    pub category: String,
    /// Name, unique within the category (e.g. `bookworm`).
    pub name: String,
    /// Category-specific data; always a JSON object.
    pub data: Value,
    /// Creation time, RFC 3339 in UTC.
    pub created_at: String,
}

impl Collection {
    /// `NAME@CATEGORY`, the form lookups and the CLI take.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.category)
    }
}

/// An item of a collection, active or removed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollectionItem {
    /// Store-assigned identifier.
    pub id: ItemId,
    /// The collection holding it.
    pub collection: CollectionId,
    /// Name; unique among the collection's active items.
    pub name: String,
    /// The artifact's category, or the bare item's own category.
    pub category: String,
    /// The artifact, or `None` for a bare-data item.
    pub artifact: Option<ArtifactId>,
    /// Per-item data (e.g. `derived_from`); always a JSON object.
    pub data: Value,
    /// When it was added, RFC 3339 in UTC.
    pub created_at: String,
    /// The run (or `cli`) that added it.
    pub created_by: Option<String>,
    /// When it was removed or replaced; `None` while active.
    pub removed_at: Option<String>,
    /// The run (or `cli`) that removed it.
    pub removed_by: Option<String>,
}

impl CollectionItem {
    /// True until the item is removed or replaced.
    pub fn is_active(&self) -> bool {
        self.removed_at.is_none()
    }

    /// The `derived_from` item ids of a derived collection's item.
    pub fn derived_from(&self) -> Vec<ItemId> {
        self.data
            .get("derived_from")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default()
    }
}

/// What [`super::ArtifactStore::add_item`] adds.
#[derive(Clone, Debug)]
pub struct NewItem {
    /// Name; see [`validate_item_name`].
    pub name: String,
    /// The artifact, or `None` for bare data.
    pub artifact: Option<ArtifactId>,
    /// The category of a bare-data item; ignored for an artifact, whose
    /// own category is recorded.
    pub category: Option<String>,
    /// Per-item data; must be a JSON object.
    pub data: Value,
    /// The run (or `cli`) adding it.
    pub created_by: Option<String>,
    /// Replace an active item of the same name instead of failing.
    pub replace: bool,
}

impl NewItem {
    /// An artifact item with the given per-item data.
    pub fn artifact(name: impl Into<String>, artifact: ArtifactId, data: Value) -> Self {
        NewItem {
            name: name.into(),
            artifact: Some(artifact),
            category: None,
            data,
            created_by: None,
            replace: false,
        }
    }
}

/// Selects items in [`super::ArtifactStore::items`].
#[derive(Clone, Debug, Default)]
pub struct ItemFilter {
    /// Removed items too (the history), not only active ones.
    pub include_removed: bool,
    /// Only items of exactly this name.
    pub name: Option<String>,
    /// Only items of exactly this category.
    pub category: Option<String>,
}

/// `data` as JSON text, if it is an object.
pub(crate) fn object(what: &str, data: &Value) -> Result<String, StoreError> {
    if !data.is_object() {
        return Err(StoreError::Invalid(format!(
            "{what} must be a JSON object, not {data}"
        )));
    }
    Ok(data.to_string())
}

/// Stored JSON text, read back.
pub(crate) fn json(text: &str, what: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Db(format!("{what} has corrupt data: {e}")))
}

/// Checks a collection's category and name: the name is non-empty, has no
/// `/`, `@` or control characters, and is at most 255 bytes.
pub fn validate_collection(category: &str, name: &str) -> Result<(), StoreError> {
    validate_category(category)?;
    validate_name("collection name", name)
}

/// Checks an item name with the rules of [`validate_collection`]'s names.
pub fn validate_item_name(name: &str) -> Result<(), StoreError> {
    validate_name("collection item name", name)
}

fn validate_name(what: &str, name: &str) -> Result<(), StoreError> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.len() > 255 {
        "it is longer than 255 bytes"
    } else if name.contains(['/', '@']) {
        "it contains `/` or `@`, which lookups use as separators"
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        "it contains whitespace or a control character"
    } else {
        return Ok(());
    };
    Err(StoreError::Invalid(format!(
        "invalid {what} {name:?}: {why}"
    )))
}

/// The name a `debian:suite` gives a package artifact: `{package}_{version}`
/// for a source package, `{package}_{version}_{architecture}` for a binary
/// package. Also the per-item data the suite keeps for it.
pub fn suite_item(category: &str, data: &Value) -> Result<(String, Value), StoreError> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let missing = |field: &str| {
        StoreError::Invalid(format!(
            "a {category} artifact without `{field}` cannot be added to a {SUITE} collection"
        ))
    };
    match category {
        super::super::import::SOURCE_PACKAGE => {
            let (package, version) = (text(data.get("name")), text(data.get("version")));
            if package.is_empty() {
                return Err(missing("name"));
            }
            if version.is_empty() {
                return Err(missing("version"));
            }
            let item = serde_json::json!({"package": package, "version": version});
            Ok((format!("{package}_{version}"), item))
        }
        super::super::import::BINARY_PACKAGE => {
            let fields = data.get("deb_fields");
            let field = |k: &str| text(fields.and_then(|f| f.get(k)));
            let (package, version, arch) =
                (field("Package"), field("Version"), field("Architecture"));
            for (key, value) in [
                ("deb_fields.Package", &package),
                ("deb_fields.Version", &version),
                ("deb_fields.Architecture", &arch),
            ] {
                if value.is_empty() {
                    return Err(missing(key));
                }
            }
            let mut item = serde_json::json!({
                "package": package,
                "version": version,
                "architecture": arch,
                "srcpkg_name": text(data.get("srcpkg_name")),
                "srcpkg_version": text(data.get("srcpkg_version")),
            });
            if let Some(priority) = fields.and_then(|f| f.get("Priority")) {
                item["priority"] = priority.clone();
            }
            if let Some(section) = fields.and_then(|f| f.get("Section")) {
                item["section"] = section.clone();
            }
            Ok((format!("{package}_{version}_{arch}"), item))
        }
        other => Err(StoreError::Invalid(format!(
            "a {SUITE} collection holds debian:source-package and debian:binary-package \
             artifacts, not {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_refuse_separators_and_blanks() {
        validate_collection(SUITE, "bookworm").unwrap();
        validate_item_name("hello_2.10-3_amd64").unwrap();
        validate_item_name("libc6_2.36-9+deb12u4_amd64").unwrap();
        for bad in ["", "a/b", "a@b", "a b", "a\nb", &"x".repeat(256)] {
            let e = validate_item_name(bad).unwrap_err().to_string();
            assert!(e.contains("invalid collection item name"), "{bad:?}: {e}");
        }
        assert!(validate_collection("suite", "bookworm").is_err());
    }

    #[test]
    fn suite_items_are_named_as_debusine_names_them() {
        let (name, data) = suite_item(
            "debian:source-package",
            &json!({"name": "hello", "version": "2.10-3"}),
        )
        .unwrap();
        assert_eq!(name, "hello_2.10-3");
        assert_eq!(data, json!({"package": "hello", "version": "2.10-3"}));
        let (name, data) = suite_item(
            "debian:binary-package",
            &json!({"srcpkg_name": "hello", "srcpkg_version": "2.10-3",
                    "deb_fields": {"Package": "hello", "Version": "2.10-3+b1",
                                   "Architecture": "amd64", "Section": "devel",
                                   "Priority": "optional"}}),
        )
        .unwrap();
        assert_eq!(name, "hello_2.10-3+b1_amd64");
        assert_eq!(data["srcpkg_version"], "2.10-3");
        assert_eq!(data["section"], "devel");
        let e = suite_item("debian:binary-package", &json!({"deb_fields": {}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("deb_fields.Package"), "{e}");
        let e = suite_item("debian:lintian", &json!({}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not debian:lintian"), "{e}");
    }

    #[test]
    fn derived_from_reads_ids_and_ignores_junk() {
        let item = CollectionItem {
            id: 1,
            collection: 1,
            name: "x".into(),
            category: "debian:lintian".into(),
            artifact: Some(3),
            data: json!({"derived_from": [4, "5", 6]}),
            created_at: String::new(),
            created_by: None,
            removed_at: None,
            removed_by: None,
        };
        assert_eq!(item.derived_from(), vec![4, 6]);
        assert!(item.is_active());
    }
}
