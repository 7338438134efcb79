//! URL prefixes (`https://koji.example.org/kojihub`).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

use super::PolicyError;

/// A URL prefix: a scheme, host and port, plus a path prefix.
///
/// It matches a URL with the same scheme, host and (effective) port whose
/// path equals the prefix path or continues it after a `/`:
/// `https://h/kojihub` matches `/kojihub` and `/kojihub/x` but not
/// `/kojihubx`. A trailing `/` on the prefix is ignored for this. Hosts
/// are compared whole, so `h.evil.com` or `evilh` never match `h`. URLs
/// carrying user info never match.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UrlPrefix {
    url: Url,
    /// Path without its trailing `/`; empty for the root.
    path: String,
}

impl UrlPrefix {
    /// Parses an absolute URL with a host and no user info, query or fragment.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let bad = |why: &str| PolicyError::Invalid {
            path: None,
            message: format!("invalid URL prefix `{s}`: {why}"),
        };
        let url = Url::parse(s.trim()).map_err(|e| bad(&e.to_string()))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("user info (user:password@) is not allowed"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("a query or fragment is not allowed"));
        }
        let path = url.path().trim_end_matches('/').to_owned();
        Ok(Self { url, path })
    }

    /// True when `url` lies under this prefix (and carries no user info).
    pub fn matches(&self, url: &Url) -> bool {
        url.username().is_empty()
            && url.password().is_none()
            && self.same_origin(url)
            && path_within(url.path(), &self.path)
    }

    /// True when every URL under `other` is also under `self`.
    pub fn covers(&self, other: &UrlPrefix) -> bool {
        self.same_origin(&other.url) && path_within(&other.path, &self.path)
    }

    fn same_origin(&self, url: &Url) -> bool {
        url.scheme() == self.url.scheme()
            && url.host().is_some()
            && url.host() == self.url.host()
            && url.port_or_known_default() == self.url.port_or_known_default()
    }
}

/// `path` equals `prefix` or continues it after a `/`.
fn path_within(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

impl fmt::Display for UrlPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

impl FromStr for UrlPrefix {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for UrlPrefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UrlPrefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        UrlPrefix::parse(&s).map_err(de::Error::custom)
    }
}
