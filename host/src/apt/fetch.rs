//! Reading a repository's files over http(s) or from a `file://` tree,
//! each checked against the size and SHA-256 sum that cover it.

use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use url::Url;

use super::AptError;
use super::index::relative_path;
use super::release::Checksum;

/// How much more than its listed size is read of a file, so that a file
/// that grew a little is reported with its own sum.
const SLACK: u64 = 1 << 20;

/// One client for the process; redirects are followed (every file is
/// checked against its sum), compressed transfer is not asked for.
static CLIENT: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| {
    // As in capabilities/http.rs: rustls with ring, unless one was chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("taskhost/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| error_chain(&e))
});

/// Where a repository's files come from.
#[derive(Clone, Debug)]
pub(crate) struct Fetcher {
    base: Url,
    client: Option<reqwest::Client>,
}

/// An open file of the repository.
enum Body {
    Http(reqwest::Response),
    File(tokio::fs::File),
}

impl Body {
    async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, String> {
        match self {
            Body::Http(response) => response.chunk().await.map_err(|e| error_chain(&e)),
            Body::File(file) => {
                let mut buf = vec![0; 256 << 10];
                let n = file.read(&mut buf).await.map_err(|e| e.to_string())?;
                buf.truncate(n);
                Ok((n > 0).then(|| buf.into()))
            }
        }
    }
}

impl Fetcher {
    pub(crate) fn new(base: &Url) -> Result<Fetcher, AptError> {
        let client = match base.scheme() {
            "file" => None,
            "http" | "https" => Some(
                CLIENT
                    .as_ref()
                    .map_err(|e| AptError::Repository(format!("setting up the HTTP client: {e}")))?
                    .clone(),
            ),
            other => {
                return Err(AptError::Repository(format!(
                    "{base}: a mirror URL is http, https or file, not {other}"
                )));
            }
        };
        Ok(Fetcher {
            base: base.clone(),
            client,
        })
    }

    /// The URL of `rel`, a plain relative path under the base.
    pub(crate) fn url(&self, rel: &str) -> Result<Url, AptError> {
        relative_path(rel).map_err(|e| AptError::Repository(format!("{}: {e}", self.base)))?;
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| AptError::Repository(format!("{}: not a base URL", self.base)))?
            .pop_if_empty()
            .extend(rel.split('/'));
        Ok(url)
    }

    /// The file at `rel`, or `None` if the repository has none.
    async fn open(&self, url: &Url) -> Result<Option<Body>, AptError> {
        let failed = |e: String| AptError::Repository(format!("{url}: {e}"));
        let Some(client) = &self.client else {
            let path = url
                .to_file_path()
                .map_err(|()| failed("not a local path".into()))?;
            return match tokio::fs::File::open(&path).await {
                Ok(file) => Ok(Some(Body::File(file))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(failed(e.to_string())),
            };
        };
        let response = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| failed(error_chain(&e)))?;
        match response.status() {
            s if s.is_success() => Ok(Some(Body::Http(response))),
            reqwest::StatusCode::NOT_FOUND | reqwest::StatusCode::GONE => Ok(None),
            s => Err(failed(format!("the server answered {s}"))),
        }
    }

    /// Copies the file at `url` into `out`, at most `max` bytes; returns
    /// its size and sum, or `None` if there is no such file.
    async fn copy<W: AsyncWrite + Unpin>(
        &self,
        url: &Url,
        max: u64,
        out: &mut W,
    ) -> Result<Option<Checksum>, AptError> {
        let Some(mut body) = self.open(url).await? else {
            return Ok(None);
        };
        let failed = |e: String| AptError::Repository(format!("{url}: {e}"));
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.chunk().await.map_err(failed)? {
            size += chunk.len() as u64;
            if size > max {
                return Err(AptError::TooLarge {
                    url: url.to_string(),
                    max,
                });
            }
            hasher.update(&chunk);
            out.write_all(&chunk)
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        out.flush().await.map_err(|e| failed(e.to_string()))?;
        Ok(Some(Checksum {
            size,
            sha256: hex::encode(hasher.finalize()),
        }))
    }

    /// The file at `rel`, at most `max` bytes, or `None` if there is none.
    pub(crate) async fn optional(&self, rel: &str, max: u64) -> Result<Option<Vec<u8>>, AptError> {
        let url = self.url(rel)?;
        let mut data = Vec::new();
        Ok(self.copy(&url, max, &mut data).await?.map(|_| data))
    }

    /// The file at `rel`, which `listed_in` says has `expected` size and sum.
    pub(crate) async fn checked(
        &self,
        rel: &str,
        expected: &Checksum,
        listed_in: &str,
    ) -> Result<Vec<u8>, AptError> {
        let url = self.url(rel)?;
        let mut data = Vec::new();
        let actual = self
            .copy(&url, expected.size.saturating_add(SLACK), &mut data)
            .await;
        compare(&url, listed_in, expected, actual)?;
        Ok(data)
    }

    /// Streams the file at `rel` into `dest`, checked as [`Self::checked`].
    pub(crate) async fn download(
        &self,
        rel: &str,
        expected: &Checksum,
        listed_in: &str,
        dest: &Path,
    ) -> Result<(), AptError> {
        let url = self.url(rel)?;
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| AptError::Repository(format!("creating {}: {e}", dest.display())))?;
        let actual = self
            .copy(&url, expected.size.saturating_add(SLACK), &mut file)
            .await;
        compare(&url, listed_in, expected, actual)
    }
}

/// Turns what [`Fetcher::copy`] read into an error unless it is `expected`.
fn compare(
    url: &Url,
    listed_in: &str,
    expected: &Checksum,
    actual: Result<Option<Checksum>, AptError>,
) -> Result<(), AptError> {
    let mismatch = |actual: String| AptError::Mismatch {
        url: url.to_string(),
        listed_in: listed_in.to_string(),
        expected: format!("{} ({} bytes)", expected.sha256, expected.size),
        actual,
    };
    match actual {
        Ok(Some(actual)) if actual == *expected => Ok(()),
        Ok(Some(actual)) => Err(mismatch(format!(
            "{} ({} bytes)",
            actual.sha256, actual.size
        ))),
        Ok(None) => Err(AptError::Repository(format!(
            "{url} does not exist, but {listed_in} lists it: the mirror may be in the middle of \
             an update (try again later) or incomplete"
        ))),
        Err(AptError::TooLarge { max, .. }) => Err(mismatch(format!("more than {max} bytes"))),
        Err(e) => Err(e),
    }
}

/// An error and its sources, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum_of(data: &[u8]) -> Checksum {
        Checksum {
            size: data.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(data)),
        }
    }

    fn repository() -> (tempfile::TempDir, Fetcher) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("repo/dists/s/main")).unwrap();
        std::fs::write(
            dir.path().join("repo/dists/s/main/Packages"),
            b"Package: a\n",
        )
        .unwrap();
        // No trailing slash: the last segment is still kept.
        let base = Url::from_file_path(dir.path().join("repo")).unwrap();
        let fetcher = Fetcher::new(&base).unwrap();
        (dir, fetcher)
    }

    #[tokio::test]
    async fn a_file_that_matches_its_sum_is_read() {
        let (_dir, fetcher) = repository();
        let data = fetcher
            .checked("dists/s/main/Packages", &sum_of(b"Package: a\n"), "Release")
            .await
            .unwrap();
        assert_eq!(data, b"Package: a\n");
        assert!(
            fetcher
                .optional("dists/s/InRelease", 100)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_hash_mismatch_names_the_file_and_both_sums() {
        let (_dir, fetcher) = repository();
        let expected = sum_of(b"Package: b\n");
        let e = fetcher
            .checked("dists/s/main/Packages", &expected, "dists/s/Release")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("dists/s/main/Packages: sha256 mismatch"), "{e}");
        assert!(e.contains(&expected.sha256), "{e}");
        assert!(e.contains(&sum_of(b"Package: a\n").sha256), "{e}");
    }

    #[tokio::test]
    async fn a_file_much_larger_than_listed_is_refused_without_reading_it_all() {
        let (dir, fetcher) = repository();
        let big = vec![b'x'; (SLACK + 10) as usize];
        std::fs::write(dir.path().join("repo/big"), &big).unwrap();
        let e = fetcher
            .download("big", &sum_of(b""), "Packages", &dir.path().join("out"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!(
                "sha256 mismatch: Packages lists {}",
                sum_of(b"").sha256
            )),
            "{e}"
        );
        assert!(
            e.contains(&format!("the file has more than {SLACK} bytes")),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_listed_file_that_is_missing_is_an_error() {
        let (dir, fetcher) = repository();
        let dest = dir.path().join("out");
        let e = fetcher
            .download("pool/x.deb", &sum_of(b""), "Packages", &dest)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist, but Packages lists it"), "{e}");
    }

    #[test]
    fn urls_keep_the_base_path_and_refuse_escapes() {
        let fetcher = Fetcher::new(&Url::parse("http://mirror.invalid/debian").unwrap()).unwrap();
        assert_eq!(
            fetcher.url("dists/bookworm/InRelease").unwrap().as_str(),
            "http://mirror.invalid/debian/dists/bookworm/InRelease"
        );
        // A path component that looks like a scheme stays a path.
        assert_eq!(
            fetcher.url("pool/x:y/a?b#c").unwrap().as_str(),
            "http://mirror.invalid/debian/pool/x:y/a%3Fb%23c"
        );
        assert!(fetcher.url("../etc/passwd").is_err());
        assert!(Fetcher::new(&Url::parse("ftp://mirror.invalid/").unwrap()).is_err());
    }
}
