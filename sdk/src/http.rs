//! Downloads and API requests through the host, checked against the
//! plugin's URL grants.
//!
//! Every URL (and every redirect) must match a `urls` prefix the manifest
//! declares and the policy grants (scheme, host and path prefix), else the
//! call is [`Error::AccessDenied`](crate::Error::AccessDenied). Use
//! [`download`] for files (streamed into the workspace, optionally
//! checked against a SHA-256) and [`send`] for API calls.
//!
//! ```
//! use taskhost_sdk::http::Request;
//! # use taskhost_sdk::testing::FakeHost;
//! # struct Demo;
//! # impl taskhost_sdk::Task for Demo {
//! #     type Data = serde_json::Value;
//! #     const NAME: &'static str = "demo";
//! #     const SUMMARY: &'static str = "demo";
//! #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
//! #[derive(serde::Deserialize)]
//! struct Update { status: String }
//! let response = Request::get("https://bodhi.fedoraproject.org/updates/FEDORA-2024-1").send()?;
//! if !response.ok() {
//!     return Err(taskhost_sdk::Error::failed(format!("bodhi answered {}", response.status)));
//! }
//! let update: Update = response.json()?;
//! #         assert_eq!(update.status, "stable");
//! #         Ok(taskhost_sdk::Status::Success)
//! #     }
//! # }
//! # let run = FakeHost::new()
//! #     .http("https://bodhi.fedoraproject.org/", 200, r#"{"status": "stable"}"#)
//! #     .execute::<Demo>();
//! # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
//! ```

use crate::Result;
use crate::host::http as raw;

/// A finished [`download`]: bytes written, the hex SHA-256 of the content,
/// and the URL it came from after redirects.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let url = "https://deb.debian.org/debian/pool/main/h/hello/hello_2.10.orig.tar.gz";
/// let fetched = taskhost_sdk::http::download(url, "hello.orig.tar.gz", None)?;
/// taskhost_sdk::log::info(format!("{} bytes, sha256 {}", fetched.size, fetched.sha256));
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().http("https://deb.debian.org/", 200, "tarball").execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log[0].1.split(",").next(), Some("7 bytes"));
/// ```
pub use raw::Fetched;

/// Downloads `url` into the workspace file `workspace_path`, streamed.
/// With `sha256` (hex) the content must match, or the call fails and no
/// file is left behind. `http`, `https` and `file` URLs are supported.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// use taskhost_sdk::http;
/// let url = "https://deb.debian.org/debian/dists/bookworm/Release";
/// let fetched = http::download(url, "Release", None)?;
/// let release = std::fs::read_to_string("Release")?;
/// assert_eq!(fetched.size as usize, release.len());
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().http("https://deb.debian.org/", 200, "Origin: Debian\n").execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// ```
pub fn download(url: &str, workspace_path: &str, sha256: Option<&str>) -> Result<Fetched> {
    raw::download(url, workspace_path, sha256)
}

/// A request to an API (koji's XML-RPC, bodhi's and ResultsDB's REST):
/// method, URL, headers and body. Build it with [`Request::get`],
/// [`Request::post`], [`Request::post_json`] or [`Request::new`], send it
/// with [`Request::send`].
///
/// ```
/// use taskhost_sdk::http::Request;
/// let request = Request::get("https://koji.fedoraproject.org/kojihub")
///     .header("accept", "application/json");
/// assert_eq!((request.method.as_str(), request.headers.len()), ("GET", 1));
/// ```
pub use raw::HttpRequest as Request;

/// A whole response: status, headers (names in lower case), body, and
/// the URL that answered after redirects. A non-2xx status is a
/// response, not an error: check [`Response::ok`].
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// use taskhost_sdk::http::Request;
/// let response = Request::get("https://resultsdb.example.org/api/v2.0/results").send()?;
/// if response.ok() {
///     taskhost_sdk::log::info(response.text());
/// }
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().http("https://resultsdb.example.org/", 200, "{}").execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log[0].1, "{}");
/// ```
pub use raw::HttpResponse as Response;

impl Request {
    /// A `method` request to `url` with no headers and no body.
    ///
    /// ```
    /// let request = taskhost_sdk::http::Request::new("DELETE", "https://api.example.org/items/1");
    /// assert!(request.headers.is_empty() && request.body.is_empty());
    /// ```
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `GET` of `url`.
    ///
    /// ```
    /// let request = taskhost_sdk::http::Request::get("https://bodhi.fedoraproject.org/updates/");
    /// assert_eq!(request.method, "GET");
    /// ```
    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    /// A `POST` of `body` to `url` with header `content-type`.
    ///
    /// ```
    /// use taskhost_sdk::http::Request;
    /// let call = "<?xml version='1.0'?><methodCall><methodName>getBuild</methodName></methodCall>";
    /// let request = Request::post("https://koji.fedoraproject.org/kojihub", "text/xml", call);
    /// assert_eq!(request.headers, [("content-type".to_string(), "text/xml".to_string())]);
    /// ```
    pub fn post(url: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
        Request::new("POST", url)
            .header("content-type", content_type)
            .body(body)
    }

    /// A `POST` of `value` as JSON (`content-type: application/json`).
    /// Fails only if `value` cannot be serialized.
    ///
    /// ```
    /// use taskhost_sdk::http::Request;
    /// let result = serde_json::json!({"outcome": "PASSED", "testcase": {"name": "dist.rpmlint"}});
    /// let request = Request::post_json("https://resultsdb.example.org/api/v2.0/results", &result)?;
    /// assert_eq!(request.body, serde_json::to_vec(&result).unwrap());
    /// # Ok::<(), taskhost_sdk::Error>(())
    /// ```
    pub fn post_json(url: &str, value: &impl serde::Serialize) -> Result<Request> {
        let body = serde_json::to_vec(value)
            .map_err(|e| crate::Error::Failed(format!("encoding the JSON body: {e}")))?;
        Ok(Request::post(url, "application/json", body))
    }

    /// Adds header `name: value`.
    ///
    /// ```
    /// use taskhost_sdk::http::Request;
    /// let request = Request::get("https://api.example.org/").header("accept", "application/json");
    /// assert_eq!(request.headers[0].1, "application/json");
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    ///
    /// ```
    /// use taskhost_sdk::http::Request;
    /// let request = Request::new("PUT", "https://api.example.org/notes/1").body("hello");
    /// assert_eq!(request.body, b"hello");
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sends the request through the host (see [`send`]).
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::http::Request;
    /// let response = Request::get("https://bodhi.fedoraproject.org/releases/").send()?;
    /// assert_eq!(response.status, 200);
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().http("https://bodhi.fedoraproject.org/", 200, "[]").execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn send(&self) -> Result<Response> {
        send(self)
    }
}

impl Response {
    /// A 2xx status.
    ///
    /// ```
    /// use taskhost_sdk::http::Response;
    /// let response = Response { status: 404, headers: vec![], body: vec![], url: "https://x.org/".into() };
    /// assert!(!response.ok());
    /// ```
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header named `name` (case-insensitive).
    ///
    /// ```
    /// use taskhost_sdk::http::Response;
    /// let headers = vec![("content-type".to_string(), "application/json".to_string())];
    /// let response = Response { status: 200, headers, body: vec![], url: "https://x.org/".into() };
    /// assert_eq!(response.header("Content-Type"), Some("application/json"));
    /// assert_eq!(response.header("etag"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    ///
    /// ```
    /// use taskhost_sdk::http::Response;
    /// let response = Response { status: 200, headers: vec![], body: b"ok".to_vec(), url: "https://x.org/".into() };
    /// assert_eq!(response.text(), "ok");
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded as JSON. A body that does not decode into `T` is
    /// an [`Error::Failed`](crate::Error::Failed) naming the URL and status.
    ///
    /// ```
    /// use taskhost_sdk::http::Response;
    /// #[derive(serde::Deserialize)]
    /// struct Build { nvr: String }
    /// let body = br#"{"nvr": "hello-2.10-1.fc40"}"#.to_vec();
    /// let response = Response { status: 200, headers: vec![], body, url: "https://x.org/".into() };
    /// let build: Build = response.json()?;
    /// assert_eq!(build.nvr, "hello-2.10-1.fc40");
    /// # Ok::<(), taskhost_sdk::Error>(())
    /// ```
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            crate::Error::Failed(format!(
                "{} answered {} with a body that is not the expected JSON: {e}",
                self.url, self.status
            ))
        })
    }
}

/// Sends one request to an API and reads the whole response (at most
/// 64 MiB; use [`download`] for files). The URL and every redirect are
/// checked against the grants; 301, 302 and 303 turn a `POST` into a
/// `GET`. A non-2xx status is a [`Response`], not an error.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// use taskhost_sdk::http::{self, Request};
/// let request = Request::post_json("https://resultsdb.example.org/api/v2.0/results", &serde_json::json!({}))?;
/// let response = http::send(&request)?;
/// if !response.ok() {
///     return Err(taskhost_sdk::Error::failed(format!("ResultsDB: {}", response.text())));
/// }
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().http("https://resultsdb.example.org/", 201, "{}").execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.requests[0].method, "POST");
/// ```
pub fn send(request: &Request) -> Result<Response> {
    raw::send(request)
}
