//! Lookup patterns: which store lookups (`debian/match:codename=bookworm`,
//! `bookworm@debian:suite/*`) a plugin may make.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::PolicyError;

/// A lookup query pattern: `*` matches any run of characters, everything
/// else itself (`debian/match:*`, `bookworm@debian:suite/source:*`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LookupPattern(String);

impl LookupPattern {
    /// A pattern of `COLLECTION/...` or of a collection, `NAME@CATEGORY`:
    /// the category (or a bare environments name) is whole, no control
    /// characters.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let bad = |why: &str| PolicyError::Invalid {
            path: None,
            message: format!("invalid lookup pattern `{s}`: {why} (e.g. \"debian/match:*\")"),
        };
        // `NAME@CATEGORY` alone: the collection itself (`collections.get`).
        let (collection, rest) = match s.split_once('/') {
            Some(parts) => parts,
            None if s.contains('@') => (s, "-"),
            None => return Err(bad("expected COLLECTION/ITEM-LOOKUP or NAME@CATEGORY")),
        };
        // `*@debian:suite/...` may match any suite; the category, or a
        // bare environments name, is whole.
        let whole = match collection.split_once('@') {
            Some((name, category)) => {
                !name.is_empty() && !category.is_empty() && !category.contains('*')
            }
            None => !collection.is_empty() && !collection.contains('*'),
        };
        if !whole {
            return Err(bad(
                "the collection's category (or bare name) is named whole",
            ));
        }
        if rest.is_empty() {
            return Err(bad("nothing after the `/`"));
        }
        if s.chars().any(char::is_control) {
            return Err(bad("control characters"));
        }
        Ok(LookupPattern(s.to_owned()))
    }

    /// The collection named before the `/`.
    pub fn collection(&self) -> &str {
        self.0.split_once('/').map_or("", |(c, _)| c)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Matches segment by segment: the collection (`NAME@CATEGORY`, the
    /// category equal and `*` only within the name, or a bare name equal),
    /// then what follows the first `/`. A `*` never reaches across into
    /// another collection.
    pub fn matches(&self, query: &str) -> bool {
        let split = |s: &str| -> (String, Option<String>) {
            match s.split_once('/') {
                Some((c, rest)) => (c.to_owned(), Some(rest.to_owned())),
                None => (s.to_owned(), None),
            }
        };
        let ((pc, pr), (qc, qr)) = (split(&self.0), split(query));
        let collection = match (pc.split_once('@'), qc.split_once('@')) {
            (Some((pn, pcat)), Some((qn, qcat))) => {
                pcat == qcat && glob(pn.as_bytes(), qn.as_bytes())
            }
            (None, None) => pc == qc,
            _ => false,
        };
        collection
            && match (pr, qr) {
                (None, None) => true,
                (Some(p), Some(q)) => glob(p.as_bytes(), q.as_bytes()),
                _ => false,
            }
    }
}

/// `*`-only glob, iterative (no exponential backtracking).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

impl fmt::Display for LookupPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for LookupPattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LookupPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        LookupPattern::parse(&s).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run_of_characters() {
        let p = LookupPattern::parse("debian/match:codename=*").unwrap();
        assert!(p.matches("debian/match:codename=bookworm"));
        assert!(p.matches("debian/match:codename=bookworm:variant=minbase"));
        assert!(!p.matches("debian/match:variant=minbase"));
        assert!(!p.matches("fedora/match:codename=x"));
        let any = LookupPattern::parse("debian/match:*").unwrap();
        assert!(any.matches("debian/match:a=b"));
        assert!(!any.matches("debianx/match:a=b"));
        let suite = LookupPattern::parse("bookworm@debian:suite/*").unwrap();
        assert!(suite.matches("bookworm@debian:suite/source:hello"));
        assert!(!suite.matches("trixie@debian:suite/source:hello"));
        let collection = LookupPattern::parse("*@debian:suite").unwrap();
        assert!(collection.matches("bookworm@debian:suite"));
        assert!(!collection.matches("bookworm@debian:suite/source:hello"));
        assert!(!collection.matches("bookworm@debian:suite-lintian"));
        let suites = LookupPattern::parse("*@debian:suite/*").unwrap();
        assert!(suites.matches("trixie@debian:suite/source:hello"));
        assert!(!suites.matches("trixie@debian:suite-lintian/latest:hello_amd64"));
    }

    #[test]
    fn a_star_never_reaches_into_another_collection() {
        let suites = LookupPattern::parse("*@debian:suite").unwrap();
        assert!(!suites.matches("x@debian:other/name:y@debian:suite"));
        assert!(!suites.matches("x@debian:suite/name:y"));
        let items = LookupPattern::parse("*@debian:suite/*").unwrap();
        assert!(!items.matches("x@debian:other/name:y@debian:suite/z"));
        assert!(items.matches("x@debian:suite/match:maintainer=a@b.org"));
        let ids = LookupPattern::parse("*@collections").unwrap();
        assert!(ids.matches("12@collections"));
        assert!(!ids.matches("12@artifacts"));
        assert!(!ids.matches("a@x/b@collections"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "*",
            "*/match:*",
            "bookworm@*/*",
            "*@*/*",
            "debian/",
            "debian",
            "debian/match:\n",
        ] {
            assert!(LookupPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn many_stars_do_not_explode() {
        let p = LookupPattern::parse(&format!("d/match:{}b", "*a".repeat(30))).unwrap();
        assert!(!p.matches(&format!("d/match:{}", "a".repeat(5000))));
    }
}
