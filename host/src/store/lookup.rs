//! debusine's string lookups.
//!
//! - `NNN@artifacts` is an artifact, `NNN@collections` a collection.
//! - `NAME@CATEGORY` is a collection (`bookworm@debian:suite`); a bare
//!   `NAME` is `NAME@debian:environments`.
//! - A second segment picks one active item of that collection:
//!   `name:ITEM` (or plain `ITEM`); `match:KEY=VALUE[:KEY=VALUE...]`, the
//!   newest item whose per-item data (else its artifact's data) has each
//!   field; and the names the category defines: for `debian:suite`
//!   `source:NAME`, `source-version:NAME_VERSION`, `binary:NAME_ARCH`,
//!   `binary-version:NAME_VERSION_ARCH`; for `debian:suite-lintian`
//!   `latest:PACKAGE_ARCH`, `version:PACKAGE_VERSION_ARCH`.
//!
//! Before collections, `VENDOR/match:...` matched the newest artifact
//! whose data has `vendor: VENDOR`; that form still works when no
//! `VENDOR@debian:environments` collection exists.

use super::collections::{ENVIRONMENTS, SUITE, SUITE_LINTIAN};
use super::{
    ArtifactId, ArtifactStore, Collection, CollectionItem, ItemFilter, ListFilter, StoreError,
};
use serde_json::Value;

/// The first segment of a lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Root {
    Artifact(ArtifactId),
    CollectionId(u64),
    /// `NAME@CATEGORY`; `category` is `None` for a bare name.
    Collection {
        name: String,
        category: Option<String>,
    },
}

/// A parsed string lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    root: Root,
    /// `(KIND, VALUE)` of the second segment (`name`, `match`, ...).
    item: Option<(String, String)>,
}

const FORMS: &str = "expected NNN@artifacts, NAME@CATEGORY[/name:ITEM], \
                     NAME@CATEGORY/match:KEY=VALUE[:KEY=VALUE...] or NAME/match:KEY=VALUE, \
                     e.g. bookworm@debian:suite/name:hello_2.10-3 or debian/match:codename=bookworm";

impl Lookup {
    /// True when `s` looks like a lookup rather than an id or a path.
    pub fn is_lookup(s: &str) -> bool {
        let first = s.split('/').next().unwrap_or_default();
        if first.is_empty() || first.starts_with('.') {
            return false;
        }
        match first.split_once('@') {
            Some((name, category)) => {
                !name.is_empty()
                    && (matches!(category, "artifacts" | "collections")
                        || super::validate_category(category).is_ok())
            }
            None => s[first.len()..].starts_with("/match:") && !first.contains('.'),
        }
    }

    /// Parses a string lookup.
    pub fn parse(s: &str) -> Result<Lookup, StoreError> {
        let bad = |why: &str| StoreError::Invalid(format!("invalid lookup '{s}': {why} ({FORMS})"));
        let mut segments = s.split('/');
        let first = segments.next().unwrap_or_default();
        let root = match first.split_once('@') {
            Some((id, "artifacts")) => Root::Artifact(
                id.parse()
                    .map_err(|_| bad(&format!("'{id}' is not an artifact id")))?,
            ),
            Some((id, "collections")) => Root::CollectionId(
                id.parse()
                    .map_err(|_| bad(&format!("'{id}' is not a collection id")))?,
            ),
            Some((name, category)) => {
                super::collections::validate_collection(category, name)
                    .map_err(|e| bad(&e.to_string()))?;
                Root::Collection {
                    name: name.into(),
                    category: Some(category.into()),
                }
            }
            None if first.is_empty() => return Err(bad("empty collection name")),
            None => Root::Collection {
                name: first.into(),
                category: None,
            },
        };
        let item = match segments.next() {
            None => None,
            Some(segment) => {
                let (kind, value) = segment.split_once(':').unwrap_or(("name", segment));
                if value.is_empty() {
                    return Err(bad(&format!("'{segment}' names nothing")));
                }
                if !matches!(
                    kind,
                    "name"
                        | "match"
                        | "source"
                        | "source-version"
                        | "binary"
                        | "binary-version"
                        | "latest"
                        | "version"
                ) {
                    return Err(bad(&format!("unknown lookup kind '{kind}:'")));
                }
                if kind == "match" {
                    parse_filters(value).map_err(|why| bad(&why))?;
                }
                Some((kind.to_string(), value.to_string()))
            }
        };
        if segments.next().is_some() {
            return Err(bad(
                "an item segment returns no collection to look further into",
            ));
        }
        match (&root, &item) {
            (Root::Artifact(_), Some(_)) => Err(bad("an artifact has no items")),
            (Root::Collection { category: None, .. }, None) => {
                Err(bad("a collection is NAME@CATEGORY"))
            }
            _ => Ok(Lookup { root, item }),
        }
    }
}

fn parse_filters(value: &str) -> Result<Vec<(String, String)>, String> {
    value
        .split(':')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.into(), v.into())),
            Some(_) => Err(format!("'{pair}' has an empty key or value")),
            None => Err(format!("'{pair}' is not KEY=VALUE")),
        })
        .collect()
}

/// A JSON scalar as lookups compare it: strings as they are, numbers and
/// booleans by their JSON text.
fn scalar(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ (Value::Bool(_) | Value::Number(_))) => Some(v.to_string()),
        _ => None,
    }
}

/// Resolves `query` to a collection (`NAME@CATEGORY`, `NNN@collections`).
pub fn resolve_collection(
    store: &dyn ArtifactStore,
    query: &str,
) -> Result<Collection, StoreError> {
    let lookup = Lookup::parse(query)?;
    if lookup.item.is_some() {
        return Err(StoreError::Invalid(format!(
            "'{query}' names an item, not a collection (expected NAME@CATEGORY or NNN@collections)"
        )));
    }
    find(store, &lookup.root)?.ok_or_else(|| missing_collection(query))
}

fn missing_collection(query: &str) -> StoreError {
    StoreError::Invalid(format!(
        "no collection {query} (see `runtask collection list`; `runtask collection create` makes one)"
    ))
}

fn find(store: &dyn ArtifactStore, root: &Root) -> Result<Option<Collection>, StoreError> {
    match root {
        Root::Artifact(id) => Err(StoreError::Invalid(format!(
            "{id}@artifacts is an artifact, not a collection"
        ))),
        Root::CollectionId(id) => store.collection(*id).map(Some),
        Root::Collection { name, category } => {
            store.find_collection(category.as_deref().unwrap_or(ENVIRONMENTS), name)
        }
    }
}

/// Resolves `query` to one artifact of one of `categories`.
pub fn resolve(
    store: &dyn ArtifactStore,
    query: &str,
    categories: &[String],
) -> Result<ArtifactId, StoreError> {
    let lookup = Lookup::parse(query)?;
    let wrong = |category: &str, id: ArtifactId| {
        StoreError::Invalid(format!(
            "'{query}' is artifact {id}, a {category}, not a {}",
            categories.join(" or ")
        ))
    };
    if let Root::Artifact(id) = lookup.root {
        let a = store.get(id)?;
        return if categories.contains(&a.category) {
            Ok(id)
        } else {
            Err(wrong(&a.category, id))
        };
    }
    let Some(collection) = find(store, &lookup.root)? else {
        return match (&lookup.root, &lookup.item) {
            (
                Root::Collection {
                    name,
                    category: None,
                },
                Some((kind, value)),
            ) if kind == "match" => by_vendor(store, query, name, value, categories),
            _ => Err(missing_collection(query)),
        };
    };
    let Some((kind, value)) = &lookup.item else {
        return Err(StoreError::Invalid(format!(
            "'{query}' is a collection; name one of its items (e.g. {}/name:ITEM)",
            collection.label()
        )));
    };
    let item = item(store, &collection, kind, value)?.ok_or_else(|| {
        StoreError::Invalid(format!(
            "{} has no active item for '{kind}:{value}' (see `runtask collection show {}`)",
            collection.label(),
            collection.label()
        ))
    })?;
    let id = item.artifact.ok_or_else(|| {
        StoreError::Invalid(format!(
            "'{query}' is a bare-data item ({}), not an artifact",
            item.category
        ))
    })?;
    if categories.contains(&item.category) {
        Ok(id)
    } else {
        Err(wrong(&item.category, id))
    }
}

/// The newest active item of `collection` that `KIND:VALUE` selects.
fn item(
    store: &dyn ArtifactStore,
    collection: &Collection,
    kind: &str,
    value: &str,
) -> Result<Option<CollectionItem>, StoreError> {
    let unsupported = || {
        Err(StoreError::Invalid(format!(
            "a {} collection has no '{kind}:' lookups",
            collection.category
        )))
    };
    let data = |item: &CollectionItem, key: &str| scalar(item.data.get(key));
    let items = |filter: ItemFilter| store.items(collection.id, &filter);
    let newest = |found: Vec<CollectionItem>| Ok(found.into_iter().max_by_key(|i| i.id));
    match (collection.category.as_str(), kind) {
        (_, "name") => newest(items(ItemFilter {
            name: Some(value.into()),
            ..ItemFilter::default()
        })?),
        (_, "match") => {
            let filters = parse_filters(value).map_err(StoreError::Invalid)?;
            let mut found = Vec::new();
            for item in items(ItemFilter::default())? {
                let artifact = match item.artifact {
                    Some(id) => Some(store.get(id)?.data),
                    None => None,
                };
                let field = |k: &str| {
                    data(&item, k).or_else(|| scalar(artifact.as_ref().and_then(|a| a.get(k))))
                };
                if filters.iter().all(|(k, v)| field(k).as_deref() == Some(v)) {
                    found.push(item);
                }
            }
            newest(found)
        }
        (SUITE, "source" | "source-version" | "binary" | "binary-version") => {
            let binary = kind.starts_with("binary");
            let category = if binary {
                crate::import::BINARY_PACKAGE
            } else {
                crate::import::SOURCE_PACKAGE
            };
            let all = items(ItemFilter {
                category: Some(category.into()),
                ..ItemFilter::default()
            })?;
            let key = |i: &CollectionItem| {
                let mut parts = vec![data(i, "package").unwrap_or_default()];
                if kind.ends_with("-version") {
                    parts.push(data(i, "version").unwrap_or_default());
                }
                if binary {
                    parts.push(data(i, "architecture").unwrap_or_default());
                }
                parts.join("_")
            };
            let exact: Vec<_> = all.iter().filter(|i| key(i) == value).cloned().collect();
            if !exact.is_empty() || !binary {
                return newest(exact);
            }
            // An Architecture: all binary serves every architecture.
            let Some((head, _arch)) = value.rsplit_once('_') else {
                return Ok(None);
            };
            let all_arch = format!("{head}_all");
            newest(all.into_iter().filter(|i| key(i) == all_arch).collect())
        }
        (SUITE_LINTIAN, "latest" | "version") => {
            let key = |i: &CollectionItem| {
                let mut parts = vec![data(i, "package").unwrap_or_default()];
                if kind == "version" {
                    parts.push(data(i, "version").unwrap_or_default());
                }
                parts.push(data(i, "architecture").unwrap_or_default());
                parts.join("_")
            };
            newest(
                items(ItemFilter::default())?
                    .into_iter()
                    .filter(|i| key(i) == value)
                    .collect(),
            )
        }
        _ => unsupported(),
    }
}

/// The pre-collection form: the newest artifact with `vendor: VENDOR`.
fn by_vendor(
    store: &dyn ArtifactStore,
    query: &str,
    vendor: &str,
    filters: &str,
    categories: &[String],
) -> Result<ArtifactId, StoreError> {
    let filters = parse_filters(filters).map_err(StoreError::Invalid)?;
    let mut best: Option<ArtifactId> = None;
    for category in categories {
        let filter = ListFilter {
            category: Some(category.clone()),
            created_by: None,
        };
        for artifact in store.list(&filter)? {
            let field = |k: &str| scalar(artifact.data.get(k));
            if field("vendor").as_deref() == Some(vendor)
                && filters.iter().all(|(k, v)| field(k).as_deref() == Some(v))
                && best.is_none_or(|b| artifact.id > b)
            {
                best = Some(artifact.id);
            }
        }
    }
    best.ok_or_else(|| {
        StoreError::Invalid(format!(
            "no {} artifact matches '{query}' (see `runtask artifact list`; `runtask run mmdebstrap` makes system tarballs)",
            categories.join(" or ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LocalStore, NewArtifact, NewItem};
    use serde_json::json;

    #[test]
    fn parses_and_refuses() {
        for good in [
            "debian/match:codename=bookworm:architecture=amd64",
            "bookworm@debian:suite",
            "bookworm@debian:suite/name:hello_2.10-3",
            "bookworm@debian:suite/hello_2.10-3",
            "bookworm@debian:suite/source:hello",
            "12@artifacts",
            "3@collections/name:x",
        ] {
            Lookup::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert!(Lookup::is_lookup(good), "{good}");
        }
        for bad in [
            "debian",
            "/match:a=b",
            "debian/match:",
            "debian/match:a",
            "debian/match:=b",
            "x@artifacts",
            "12@artifacts/name:a",
            "a@debian:suite/name:x/more",
            "a@debian:suite/frob:x",
            "a b@debian:suite",
            "a@nocategory",
        ] {
            let e = Lookup::parse(bad).unwrap_err().to_string();
            assert!(e.contains("invalid lookup"), "{bad}: {e}");
        }
        assert!(!Lookup::is_lookup("./x/match:a=b"));
        assert!(!Lookup::is_lookup("foo.tar.xz"));
        assert!(!Lookup::is_lookup("12"));
        assert!(!Lookup::is_lookup("dir/hello.dsc"));
    }

    #[test]
    fn newest_vendor_match_wins_and_misses_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("s")).unwrap();
        let tarball = |codename: &str| {
            store
                .create(NewArtifact::new(
                    "debian:system-tarball",
                    json!({"vendor": "debian", "codename": codename, "with_init": true}),
                ))
                .unwrap()
                .id
        };
        let old = tarball("bookworm");
        let trixie = tarball("trixie");
        let new = tarball("bookworm");
        let cats = vec!["debian:system-tarball".to_string()];
        assert_ne!(old, new);
        assert_eq!(
            resolve(&store, "debian/match:codename=bookworm", &cats).unwrap(),
            new
        );
        assert_eq!(
            resolve(&store, "debian/match:codename=trixie:with_init=true", &cats).unwrap(),
            trixie
        );
        let e = resolve(&store, "ubuntu/match:codename=bookworm", &cats)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no debian:system-tarball artifact matches"),
            "{e}"
        );
        let e = resolve(
            &store,
            "debian/match:codename=bookworm",
            &["debian:system-image".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("debian:system-image"), "{e}");
    }

    fn package(store: &LocalStore, category: &str, data: Value) -> ArtifactId {
        store.create(NewArtifact::new(category, data)).unwrap().id
    }

    #[test]
    fn suite_items_resolve_by_name_source_and_binary() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("s")).unwrap();
        let suite = store
            .create_collection(SUITE, "bookworm", json!({}))
            .unwrap();
        let dsc = package(
            &store,
            "debian:source-package",
            json!({"name": "hello", "version": "2.10-3"}),
        );
        let doc = package(
            &store,
            "debian:binary-package",
            json!({"srcpkg_name": "hello", "srcpkg_version": "2.10-3",
                   "deb_fields": {"Package": "hello-doc", "Version": "2.10-3", "Architecture": "all"}}),
        );
        for id in [dsc, doc] {
            let a = store.get(id).unwrap();
            let (name, data) = super::super::collections::suite_item(&a.category, &a.data).unwrap();
            store
                .add_item(suite.id, NewItem::artifact(name, id, data))
                .unwrap();
        }
        let src = ["debian:source-package".to_string()];
        let bin = ["debian:binary-package".to_string()];
        for q in [
            "bookworm@debian:suite/name:hello_2.10-3",
            "bookworm@debian:suite/hello_2.10-3",
            "bookworm@debian:suite/source:hello",
            "bookworm@debian:suite/source-version:hello_2.10-3",
            &format!("{}@collections/source:hello", suite.id),
        ] {
            assert_eq!(resolve(&store, q, &src).unwrap(), dsc, "{q}");
        }
        for q in [
            "bookworm@debian:suite/binary:hello-doc_amd64",
            "bookworm@debian:suite/binary:hello-doc_all",
            "bookworm@debian:suite/binary-version:hello-doc_2.10-3_s390x",
            "bookworm@debian:suite/match:package=hello-doc",
        ] {
            assert_eq!(resolve(&store, q, &bin).unwrap(), doc, "{q}");
        }
        assert_eq!(
            resolve(&store, &format!("{dsc}@artifacts"), &src).unwrap(),
            dsc
        );
        let e = resolve(&store, "bookworm@debian:suite/hello_2.10-3", &bin)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a debian:source-package, not a debian:binary-package"),
            "{e}"
        );
        let e = resolve(&store, "bookworm@debian:suite/source:bye", &src)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no active item for 'source:bye'"), "{e}");
        let e = resolve(&store, "sid@debian:suite/source:hello", &src)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no collection sid@debian:suite"), "{e}");
        // Removed items no longer resolve.
        store
            .remove_item(suite.id, "hello_2.10-3", Some("test"))
            .unwrap();
        assert!(resolve(&store, "bookworm@debian:suite/source:hello", &src).is_err());
        assert_eq!(
            resolve_collection(&store, "bookworm@debian:suite").unwrap(),
            suite
        );
    }

    #[test]
    fn an_environments_collection_takes_over_the_vendor_form() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("s")).unwrap();
        let cats = vec!["debian:system-tarball".to_string()];
        let t = |codename: &str| {
            package(
                &store,
                "debian:system-tarball",
                json!({"vendor": "debian", "codename": codename}),
            )
        };
        let (old, new) = (t("bookworm"), t("bookworm"));
        let envs = store
            .create_collection(ENVIRONMENTS, "debian", json!({}))
            .unwrap();
        store
            .add_item(
                envs.id,
                NewItem::artifact(
                    "tarball:bookworm:amd64",
                    old,
                    json!({"codename": "bookworm"}),
                ),
            )
            .unwrap();
        // The collection's item wins over the newer loose artifact.
        assert_eq!(
            resolve(&store, "debian/match:codename=bookworm", &cats).unwrap(),
            old
        );
        assert_ne!(old, new);
    }
}
