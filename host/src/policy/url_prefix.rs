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
///
/// Three extensions:
/// - `file:///dir/` (no host) matches local files under `/dir`. The path
///   is compared as written: callers resolve symlinks and `..` first (the
///   http capability checks the canonical path).
/// - `http://h:*/` matches any port of `h` (a local test server, a service
///   on a port chosen at deploy time). Without `:*` only the given or the
///   scheme's default port matches.
/// - `https://*/` (the host is exactly `*`) matches every host and port of
///   the scheme. A plugin declares it when the operator picks the hosts
///   (mmdebstrap's mirrors and keyrings); the policy then grants narrower
///   prefixes, and only those are allowed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UrlPrefix {
    /// The prefix, without `:*`.
    url: Url,
    /// Path without its trailing `/`; empty for the root.
    path: String,
    /// Written with `:*` (or host `*`): any port matches.
    any_port: bool,
    /// Host `*`: any host matches.
    any_host: bool,
}

impl UrlPrefix {
    /// Parses an absolute URL with a host (none for `file:`), an optional
    /// `:*` port, and no user info, query or fragment.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let bad = |why: &str| PolicyError::Invalid {
            path: None,
            message: format!("invalid URL prefix `{s}`: {why}"),
        };
        let (text, any_port) = split_any_port(s.trim());
        let url = Url::parse(&text).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() == "file" {
            if url.host().is_some() {
                return Err(bad("a file URL prefix names no host (write file:///dir/)"));
            }
            if any_port {
                return Err(bad("a file URL has no port"));
            }
        } else {
            let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
                return Err(bad("it has no host"));
            };
            if host.contains('*') && host != "*" {
                return Err(bad(
                    "hosts are compared whole; the only wildcard is a host of just `*` (every host)",
                ));
            }
            if host == "*" && url.port().is_some() {
                return Err(bad("a `*` host already matches every port"));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("user info (user:password@) is not allowed"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("a query or fragment is not allowed"));
        }
        let path = url.path().trim_end_matches('/').to_owned();
        let any_host = url.host_str() == Some("*");
        Ok(Self {
            url,
            path,
            any_port: any_port || any_host,
            any_host,
        })
    }

    /// Written with host `*`: every host of the scheme matches.
    pub fn any_host(&self) -> bool {
        self.any_host
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
        let origin = if other.any_host {
            self.any_host && self.url.scheme() == other.url.scheme()
        } else {
            self.same_origin(&other.url)
        };
        origin && (self.any_port || !other.any_port) && path_within(&other.path, &self.path)
    }

    fn same_origin(&self, url: &Url) -> bool {
        if url.scheme() != self.url.scheme() {
            return false;
        }
        if self.any_host {
            return url.host().is_some();
        }
        if url.host() != self.url.host() {
            return false;
        }
        if self.url.scheme() == "file" {
            // Both hostless (`parse` refuses a file prefix with a host).
            return true;
        }
        url.host().is_some()
            && (self.any_port || url.port_or_known_default() == self.url.port_or_known_default())
    }
}

/// Takes a `:*` port off `s`'s authority: (`s` without it, whether it was there).
fn split_any_port(s: &str) -> (String, bool) {
    let Some(start) = s.find("://").map(|i| i + 3) else {
        return (s.to_owned(), false);
    };
    let end = s[start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |i| start + i);
    if s[start..end].ends_with(":*") {
        (format!("{}{}", &s[..end - 2], &s[end..]), true)
    } else {
        (s.to_owned(), false)
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
        match self.url.host_str() {
            Some(host) if self.any_port && !self.any_host => {
                write!(f, "{}://{host}:*{}", self.url.scheme(), self.url.path())
            }
            _ => f.write_str(self.url.as_str()),
        }
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
