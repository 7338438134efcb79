//! Downloads through the host, checked against the plugin's URL grants.

use crate::Result;
use crate::bindings::taskhost::plugin::http as raw;

pub use raw::Fetched;

/// Downloads `url` into the workspace file `workspace_path`, streamed.
/// With `sha256` (hex) the content must match, or the call fails and no
/// file is left behind.
pub fn download(url: &str, workspace_path: &str, sha256: Option<&str>) -> Result<Fetched> {
    raw::download(url, workspace_path, sha256)
}

pub use raw::{HttpRequest as Request, HttpResponse as Response};

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    pub fn post(url: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
        Request::new("POST", url)
            .header("content-type", content_type)
            .body(body)
    }

    /// A `POST` of `value` as JSON.
    pub fn post_json(url: &str, value: &impl serde::Serialize) -> Result<Request> {
        let body = serde_json::to_vec(value)
            .map_err(|e| crate::Error::Failed(format!("encoding the JSON body: {e}")))?;
        Ok(Request::post(url, "application/json", body))
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sends the request through the host (see [`send`]).
    pub fn send(&self) -> Result<Response> {
        send(self)
    }
}

impl Response {
    /// A 2xx status.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded as JSON.
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
/// 64 MiB). The URL and every redirect are checked against the grants.
pub fn send(request: &Request) -> Result<Response> {
    raw::send(request)
}
