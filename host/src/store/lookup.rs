//! debusine-style lookups: `COLLECTION/match:KEY=VALUE[:KEY=VALUE...]`.
//!
//! taskhost has no collections; COLLECTION names the vendor of the
//! artifact (`debian` in `debian/match:codename=bookworm`), and each
//! KEY=VALUE must equal the artifact's data field of that name (numbers and
//! booleans compare by their JSON text). The newest match wins, as a
//! debusine collection returns its latest item.

use super::{ArtifactId, ArtifactStore, ListFilter, StoreError};
use serde_json::Value;

/// A parsed lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// Matched against the data's `vendor`.
    pub collection: String,
    /// Fields that must match.
    pub filters: Vec<(String, String)>,
}

impl Lookup {
    /// True when `s` looks like a lookup rather than an id or a path.
    pub fn is_lookup(s: &str) -> bool {
        s.split_once('/').is_some_and(|(collection, rest)| {
            !collection.is_empty() && !collection.contains('.') && rest.starts_with("match:")
        })
    }

    /// Parses `COLLECTION/match:KEY=VALUE[:KEY=VALUE...]`.
    pub fn parse(s: &str) -> Result<Lookup, StoreError> {
        let bad = |why: &str| {
            StoreError::Invalid(format!(
                "invalid lookup '{s}': {why} (expected COLLECTION/match:KEY=VALUE[:KEY=VALUE...], \
                 e.g. debian/match:codename=bookworm)"
            ))
        };
        let (collection, rest) = s.split_once('/').ok_or_else(|| bad("no '/'"))?;
        if collection.is_empty() {
            return Err(bad("empty collection name"));
        }
        let rest = rest
            .strip_prefix("match:")
            .ok_or_else(|| bad("only 'match:' lookups are supported"))?;
        let mut filters = Vec::new();
        for pair in rest.split(':') {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| bad(&format!("'{pair}' is not KEY=VALUE")))?;
            if key.is_empty() || value.is_empty() {
                return Err(bad(&format!("'{pair}' has an empty key or value")));
            }
            filters.push((key.to_string(), value.to_string()));
        }
        Ok(Lookup {
            collection: collection.to_string(),
            filters,
        })
    }

    fn matches(&self, data: &Value) -> bool {
        let field = |key: &str| match data.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v @ (Value::Bool(_) | Value::Number(_))) => Some(v.to_string()),
            _ => None,
        };
        field("vendor").as_deref() == Some(self.collection.as_str())
            && self
                .filters
                .iter()
                .all(|(k, v)| field(k).as_deref() == Some(v.as_str()))
    }
}

/// Resolves `query` to the newest artifact of one of `categories` that
/// matches it.
pub fn resolve(
    store: &dyn ArtifactStore,
    query: &str,
    categories: &[String],
) -> Result<ArtifactId, StoreError> {
    let lookup = Lookup::parse(query)?;
    let mut best: Option<ArtifactId> = None;
    for category in categories {
        let filter = ListFilter {
            category: Some(category.clone()),
            created_by: None,
        };
        for artifact in store.list(&filter)? {
            if lookup.matches(&artifact.data) && best.is_none_or(|b| artifact.id > b) {
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
    use crate::store::{LocalStore, NewArtifact};
    use serde_json::json;

    #[test]
    fn parses_and_refuses() {
        let l = Lookup::parse("debian/match:codename=bookworm:architecture=amd64").unwrap();
        assert_eq!(l.collection, "debian");
        assert_eq!(
            l.filters,
            vec![
                ("codename".into(), "bookworm".into()),
                ("architecture".into(), "amd64".into())
            ]
        );
        for bad in [
            "debian",
            "/match:a=b",
            "debian/codename=x",
            "debian/match:",
            "debian/match:a",
            "debian/match:=b",
        ] {
            let e = Lookup::parse(bad).unwrap_err().to_string();
            assert!(e.contains("invalid lookup"), "{bad}: {e}");
        }
        assert!(Lookup::is_lookup("debian/match:codename=bookworm"));
        assert!(!Lookup::is_lookup("./x/match:a=b"));
        assert!(!Lookup::is_lookup("foo.tar.xz"));
        assert!(!Lookup::is_lookup("12"));
    }

    #[test]
    fn newest_match_wins_and_misses_say_so() {
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
}
