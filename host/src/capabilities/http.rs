//! `taskhost:plugin/http`: downloads into the workspace and API requests,
//! checked against the URL grants.
//!
//! Every URL is checked before it is used, in the canonical form a server
//! acts on ([`url_canon`]): the one the plugin gave, each redirect target
//! (the client follows no redirect itself; this module does, hop by hop,
//! at most [`MAX_REDIRECTS`]), and for `file:` URLs the canonical path,
//! with symlinks and `..` resolved on the host. Both `download` and `send`
//! go through the same check and the same redirect loop.
//!
//! A URL allowed only by a `*`-host grant may not reach loopback,
//! link-local or private addresses: IP literals are checked here, names
//! when they resolve (the connection only ever gets the checked
//! addresses, so DNS rebinding cannot swap them), and the address a
//! response came from is checked again.
//!
//! `download` streams into a temporary file beside the target, hashed as
//! it goes, and renames it into place only when complete and matching the
//! expected sha256. On any failure (status, mismatch, size cap, deadline,
//! a dropped call) the temporary file is removed: no file is left.
//! `send` reads a whole response into memory, at most [`MAX_RESPONSE`].

use super::bindings::Error;
use super::bindings::taskhost::plugin::http::{self, Fetched, HttpRequest, HttpResponse};
use super::{RunContext, RunState, bad_path};
use crate::policy::url_canon::{self, is_public};
use crate::progress::Step;
use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};
use url::Url;

/// Redirects followed for one download.
pub const MAX_REDIRECTS: usize = 10;

/// Largest download (4 GiB): more fails the call rather than fill the
/// disk. Debian images and tarballs fit; a runaway response does not.
pub const MAX_SIZE: u64 = 4 << 30;

/// Largest response `http.send` reads into memory (64 MiB).
pub const MAX_RESPONSE: u64 = 64 << 20;

/// Bytes read at a time from a `file:` URL.
const FILE_CHUNK: usize = 256 << 10;

/// What a URL's grant lets it reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// A grant names the host: any address it has.
    Any,
    /// Only a `*`-host grant allows it: public addresses only.
    PublicOnly,
}

/// Two clients per process, one for each [`Reach`]. No automatic
/// redirects (each hop is checked here) and no decompression (the bytes
/// hashed are the bytes served).
static CLIENTS: LazyLock<Result<(reqwest::Client, reqwest::Client), String>> =
    LazyLock::new(|| {
        // reqwest comes without a crypto provider (aws-lc-rs needs cmake):
        // use ring, unless something in the process already chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("taskhost/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30))
        };
        let any = builder().build().map_err(|e| error_chain(&e))?;
        // No proxy: the address checked must be the one connected to.
        let public = builder()
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(PublicResolver))
            .build()
            .map_err(|e| error_chain(&e))?;
        Ok((any, public))
    });

fn client(reach: Reach) -> Result<&'static reqwest::Client, Error> {
    let (any, public) = CLIENTS
        .as_ref()
        .map_err(|e| Error::Failed(format!("setting up the HTTP client: {e}")))?;
    Ok(match reach {
        Reach::Any => any,
        Reach::PublicOnly => public,
    })
}

/// Resolves names to their public addresses only.
struct PublicResolver;

/// A name that resolves only to addresses a `*`-host grant may not reach.
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves only to non-public addresses ({addresses}), which a `*`-host URL grant \
     does not reach"
)]
struct NotPublic {
    host: String,
    addresses: String,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<std::net::SocketAddr> =
                all.iter().copied().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let shown: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
                return Err(Box::new(NotPublic {
                    host,
                    addresses: shown.join(", "),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

impl http::Host for RunState {
    async fn send(&mut self, request: HttpRequest) -> Result<HttpResponse, Error> {
        self.run.send(request).await
    }

    async fn download(
        &mut self,
        url: String,
        workspace_path: String,
        sha256: Option<String>,
    ) -> Result<Fetched, Error> {
        self.run
            .download(&url, &workspace_path, sha256.as_deref())
            .await
    }
}

/// Where the content comes from, once its URL has been allowed.
enum Source {
    Http(Url, Reach),
    /// The canonical `file:` URL and the path it names.
    File(Url, PathBuf),
}

impl RunContext {
    /// `http.download`: checks, fetches, verifies and places one file.
    pub(crate) async fn download(
        &mut self,
        url: &str,
        path: &str,
        sha256: Option<&str>,
    ) -> Result<Fetched, Error> {
        let result = self.try_download(url, path, sha256).await;
        match &result {
            Ok(_) | Err(Error::AccessDenied(_)) => {} // a denial is logged already
            Err(e) => self.log.warn(
                "http",
                &format!("download of {url} failed: {}", describe(e)),
            ),
        }
        result
    }

    async fn try_download(
        &mut self,
        url: &str,
        path: &str,
        sha256: Option<&str>,
    ) -> Result<Fetched, Error> {
        let call = format!("http.download {url}");
        let parsed =
            Url::parse(url).map_err(|e| Error::Invalid(format!("bad URL '{url}': {e}")))?;
        // The grant comes first: a refused URL is never touched.
        let source = match parsed.scheme() {
            "http" | "https" => {
                let (url, reach) = self.allow_url(&call, &parsed)?;
                Source::Http(url, reach)
            }
            "file" => {
                let (canonical, real) = self.resolve_file(&call, &parsed)?;
                Source::File(canonical, real)
            }
            other => {
                return Err(Error::Invalid(format!(
                    "'{url}': scheme '{other}' is not supported (http, https and file are)"
                )));
            }
        };
        let expected = sha256.map(parse_sha256).transpose()?;
        let deadline = Instant::from_std(self.deadline);
        let mut partial = Partial::create(&self.workspace, path)?;
        self.log
            .info("http", &format!("downloading {url} to {path}"));
        let (from, mut sink) = match source {
            Source::Http(first, reach) => {
                self.fetch_http(&call, first, reach, &mut partial, deadline)
                    .await?
            }
            Source::File(canonical, real) => {
                let sink = self.copy_file(&call, &real, &mut partial, deadline).await?;
                (canonical, sink)
            }
        };
        sink.flush(path).await?;
        let (size, actual) = sink.finish();
        if let Some(expected) = expected
            && expected != actual
        {
            // `partial` (the temporary file) goes with the error.
            let named = if from.as_str() == url {
                url.to_string()
            } else {
                format!("{url} (from {from})")
            };
            return Err(Error::Invalid(format!(
                "{named}: sha256 mismatch: expected {expected}, got {actual}"
            )));
        }
        partial.persist()?;
        self.log.info(
            "http",
            &format!("downloaded {size} bytes from {from} to {path} (sha256 {actual})"),
        );
        Ok(Fetched {
            size,
            sha256: actual,
            url: from.to_string(),
        })
    }

    /// The grant check of an http(s) URL: its canonical form, then the
    /// granter; a `*`-host grant may not name a non-public address.
    /// Returns the canonical URL (the one to request) and its reach.
    fn allow_url(&mut self, call: &str, url: &Url) -> Result<(Url, Reach), Error> {
        let canonical = match url_canon::canonical(url) {
            Ok(canonical) => canonical,
            Err(why) => {
                let denied = self.granter.refuse_url(url.as_str(), why, None);
                return Err(self.denied(call, denied));
            }
        };
        let grant = match self.granter.url(&canonical) {
            Ok(grant) => grant,
            Err(denied) => return Err(self.denied(call, denied)),
        };
        if !grant.any_host {
            return Ok((canonical, Reach::Any));
        }
        let literal = match canonical.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal.filter(|ip| !is_public(*ip)) {
            let grant = format!("{}/", canonical.origin().ascii_serialization());
            let denied = self.granter.refuse_url(
                canonical.as_str(),
                format!(
                    "{ip} is not a public address, and only a `*`-host grant allows this URL; \
                     such grants do not reach loopback, link-local or private networks"
                ),
                Some(format!(
                    "to allow it, grant it by address: --allow-url {grant}"
                )),
            );
            return Err(self.denied(call, denied));
        }
        Ok((canonical, Reach::PublicOnly))
    }

    /// Resolves a `file:` URL to its canonical path and checks that.
    /// Returns the canonical URL and path.
    fn resolve_file(&mut self, call: &str, url: &Url) -> Result<(Url, PathBuf), Error> {
        let path = url.to_file_path().map_err(|()| {
            Error::Invalid(format!(
                "'{url}' names no local file (write file:///path, without a host)"
            ))
        })?;
        match std::fs::canonicalize(&path) {
            Ok(real) => {
                let canonical = file_url(&real)?;
                if let Err(d) = self.granter.url(&canonical) {
                    return Err(self.denied(call, d));
                }
                Ok((canonical, real))
            }
            Err(e) => {
                // Say whether a path exists only where the plugin may look.
                let lexical = file_url(&lexical_normalize(&path))?;
                if let Err(d) = self.granter.url(&lexical) {
                    return Err(self.denied(call, d));
                }
                Err(Error::NotFound(format!("{url}: {e}")))
            }
        }
    }

    /// Follows redirects (each checked) and streams the final response.
    /// Returns the URL the content came from and the filled sink.
    async fn fetch_http(
        &mut self,
        call: &str,
        first: Url,
        reach: Reach,
        partial: &mut Partial,
        deadline: Instant,
    ) -> Result<(Url, Sink), Error> {
        let (url, mut response) = self
            .follow(call, Outgoing::get(first), reach, deadline)
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::Failed(format!("{url}: HTTP {status}")));
        }
        let total = response.content_length();
        if let Some(len) = total.filter(|&len| len > MAX_SIZE) {
            return Err(Error::Failed(format!(
                "{url}: {len} bytes is more than the {} GiB download cap",
                MAX_SIZE >> 30
            )));
        }
        let mut sink = partial.sink(&url, self.progress.bytes(partial.label(), total))?;
        while let Some(chunk) = next_chunk(&mut response, &url, deadline).await? {
            sink.write(&chunk).await?;
        }
        Ok((url, sink))
    }

    /// Sends `request`, following redirects hop by hop; each target must
    /// be http(s) and allowed. Returns the URL that answered and its
    /// response.
    async fn follow(
        &mut self,
        call: &str,
        mut request: Outgoing,
        mut reach: Reach,
        deadline: Instant,
    ) -> Result<(Url, reqwest::Response), Error> {
        let mut hops = 0;
        loop {
            let url = request.url.clone();
            let mut builder = client(reach)?
                .request(request.method.clone(), url.clone())
                .headers(request.headers.clone());
            if !request.body.is_empty() {
                builder = builder.body(request.body.clone());
            }
            let response = match timeout_at(deadline, builder.send()).await {
                Err(_) => return Err(Error::TimedOut),
                Ok(Err(e)) if e.is_timeout() => return Err(Error::TimedOut),
                Ok(Err(e)) => {
                    if let Some(not_public) = find_source::<NotPublic>(&e) {
                        let grant = format!("{}/", url.origin().ascii_serialization());
                        let denied = self.granter.refuse_url(
                            url.as_str(),
                            not_public.to_string(),
                            Some(format!(
                                "to allow it, grant the host itself: --allow-url {grant}"
                            )),
                        );
                        return Err(self.denied(call, denied));
                    }
                    return Err(Error::Failed(format!("{url}: {}", error_chain(&e))));
                }
                Ok(Ok(r)) => r,
            };
            // The resolver gave only public addresses; check what answered.
            if reach == Reach::PublicOnly
                && let Some(peer) = response.remote_addr().filter(|a| !is_public(a.ip()))
            {
                let denied = self.granter.refuse_url(
                    url.as_str(),
                    format!("the connection went to {}, not a public address", peer.ip()),
                    None,
                );
                return Err(self.denied(call, denied));
            }
            let status = response.status();
            if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                return Ok((url, response));
            }
            let next = redirect_target(&url, &response)?;
            if hops == MAX_REDIRECTS {
                return Err(Error::Failed(format!(
                    "{url}: more than {MAX_REDIRECTS} redirects"
                )));
            }
            hops += 1;
            let hop = format!("{call} (redirected by {url} to {next})");
            if !matches!(next.scheme(), "http" | "https") {
                let denied = self.granter.refuse_url(
                    next.as_str(),
                    "a redirect may only lead to an http or https URL".into(),
                    None,
                );
                return Err(self.denied(&hop, denied));
            }
            let (next, next_reach) = self.allow_url(&hop, &next)?;
            reach = next_reach;
            self.log
                .info("http", &format!("{url} redirects ({status}) to {next}"));
            request.redirect(status.as_u16(), next);
        }
    }

    /// `http.send`: one API request, the whole response in memory.
    pub(crate) async fn send(&mut self, request: HttpRequest) -> Result<HttpResponse, Error> {
        let call = format!("http.send {} {}", request.method, request.url);
        let result = self.try_send(&call, request).await;
        match &result {
            Ok(_) | Err(Error::AccessDenied(_)) => {}
            Err(e) => self
                .log
                .warn("http", &format!("{call} failed: {}", describe(e))),
        }
        result
    }

    async fn try_send(&mut self, call: &str, request: HttpRequest) -> Result<HttpResponse, Error> {
        let url = Url::parse(&request.url)
            .map_err(|e| Error::Invalid(format!("bad URL '{}': {e}", request.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Invalid(format!(
                "'{url}': http.send speaks http and https only (download reads file URLs)"
            )));
        }
        let (url, reach) = self.allow_url(call, &url)?;
        let outgoing = Outgoing::new(&request, url)?;
        let deadline = Instant::from_std(self.deadline);
        self.log.debug("http", call);
        let (url, mut response) = self.follow(call, outgoing, reach, deadline).await?;
        let status = response.status().as_u16();
        if let Some(len) = response.content_length().filter(|&l| l > MAX_RESPONSE) {
            return Err(Error::Failed(format!(
                "{url}: a {len}-byte response is more than http.send's {} MiB cap (use http.download)",
                MAX_RESPONSE >> 20
            )));
        }
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = next_chunk(&mut response, &url, deadline).await? {
            if body.len() + chunk.len() > MAX_RESPONSE as usize {
                return Err(Error::Failed(format!(
                    "{url}: the response is more than http.send's {} MiB cap (use http.download)",
                    MAX_RESPONSE >> 20
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
            url: url.to_string(),
        })
    }

    /// Streams a local file (already resolved and allowed) into the sink.
    async fn copy_file(
        &mut self,
        call: &str,
        real: &Path,
        partial: &mut Partial,
        deadline: Instant,
    ) -> Result<Sink, Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let shown = real.display();
        // No symlink at the end (it was resolved), and never block on a FIFO.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(real)
            .map_err(|e| Error::Failed(format!("opening {shown}: {e}")))?;
        // What was opened, not what was checked, must be allowed: a path
        // swapped between the two shows up here.
        if let Ok(opened) = std::fs::read_link(format!("/proc/self/fd/{}", fd(&file)))
            && opened != real
            && let Err(d) = self.granter.url(&file_url(&opened)?)
        {
            return Err(self.denied(call, d));
        }
        let meta = file
            .metadata()
            .map_err(|e| Error::Failed(format!("reading {shown}: {e}")))?;
        if !meta.is_file() {
            return Err(Error::Invalid(format!("{shown} is not a regular file")));
        }
        if meta.len() > MAX_SIZE {
            return Err(Error::Failed(format!(
                "{shown}: {} bytes is more than the {} GiB download cap",
                meta.len(),
                MAX_SIZE >> 30
            )));
        }
        let source_url = file_url(real)?;
        let mut sink = partial.sink(
            &source_url,
            self.progress.bytes(partial.label(), Some(meta.len())),
        )?;
        let mut file = tokio::fs::File::from_std(file);
        let mut buf = vec![0u8; FILE_CHUNK];
        loop {
            let n = match timeout_at(deadline, file.read(&mut buf)).await {
                Err(_) => return Err(Error::TimedOut),
                Ok(Err(e)) => return Err(Error::Failed(format!("reading {shown}: {e}"))),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                break;
            }
            sink.write(&buf[..n]).await?;
        }
        Ok(sink)
    }
}

/// The first error of type `T` in `e`'s source chain.
fn find_source<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// The next piece of a response body, within the deadline.
async fn next_chunk(
    response: &mut reqwest::Response,
    url: &Url,
    deadline: Instant,
) -> Result<Option<bytes::Bytes>, Error> {
    match timeout_at(deadline, response.chunk()).await {
        Err(_) => Err(Error::TimedOut),
        Ok(Err(e)) if e.is_timeout() => Err(Error::TimedOut),
        Ok(Err(e)) => Err(Error::Failed(format!(
            "{url}: reading the body: {}",
            error_chain(&e)
        ))),
        Ok(Ok(chunk)) => Ok(chunk),
    }
}

/// A request on its way, as redirects reshape it.
struct Outgoing {
    method: reqwest::Method,
    url: Url,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Outgoing {
    fn get(url: Url) -> Self {
        Outgoing {
            method: reqwest::Method::GET,
            url,
            headers: reqwest::header::HeaderMap::new(),
            body: Vec::new(),
        }
    }

    /// Checks the plugin's method and headers.
    fn new(request: &HttpRequest, url: Url) -> Result<Self, Error> {
        use reqwest::header::{HeaderName, HeaderValue};
        let method = match request.method.to_ascii_uppercase().as_str() {
            m @ ("GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH") => {
                reqwest::Method::from_bytes(m.as_bytes())
                    .map_err(|e| Error::Invalid(format!("method '{m}': {e}")))?
            }
            other => {
                return Err(Error::Invalid(format!(
                    "method '{other}' is not supported (GET, HEAD, POST, PUT, DELETE, PATCH are)"
                )));
            }
        };
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &request.headers {
            let bad = || Error::Invalid(format!("bad header '{name}: {value}'"));
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            // The host sets these itself; a plugin may not steer them.
            if matches!(
                name.as_str(),
                "host" | "content-length" | "transfer-encoding" | "connection"
            ) {
                return Err(Error::Invalid(format!(
                    "header '{name}' is set by the host"
                )));
            }
            let value = HeaderValue::from_str(value).map_err(|_| bad())?;
            headers.append(name, value);
        }
        Ok(Outgoing {
            method,
            url,
            headers,
            body: request.body.clone(),
        })
    }

    /// Follows a redirect to `next`: 301/302/303 turn a non-GET/HEAD into
    /// a GET without body; 307/308 keep both. Credentials stay behind when
    /// the origin changes.
    fn redirect(&mut self, status: u16, next: Url) {
        if matches!(status, 301..=303) && self.method != reqwest::Method::HEAD {
            self.method = reqwest::Method::GET;
            self.body.clear();
            self.headers.remove(reqwest::header::CONTENT_TYPE);
        }
        if next.origin() != self.url.origin() {
            self.headers.remove(reqwest::header::AUTHORIZATION);
            self.headers.remove(reqwest::header::COOKIE);
        }
        self.url = next;
    }
}

/// The absolute URL a redirect response points to.
fn redirect_target(url: &Url, response: &reqwest::Response) -> Result<Url, Error> {
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .ok_or_else(|| {
            Error::Failed(format!(
                "{url}: HTTP {status} without a usable Location header"
            ))
        })?;
    url.join(location).map_err(|e| {
        Error::Failed(format!(
            "{url}: HTTP {status} to a bad Location '{location}': {e}"
        ))
    })
}

/// A temporary workspace file that becomes `target` on [`Partial::persist`]
/// and is removed otherwise.
struct Partial {
    /// The workspace, through cap-std: nothing here leaves it.
    dir: Dir,
    temp: PathBuf,
    target: PathBuf,
    file: Option<std::fs::File>,
    done: bool,
}

impl Partial {
    /// Creates the temporary file (and the target's parent directories).
    fn create(workspace: &crate::workspace::Workspace, path: &str) -> Result<Self, Error> {
        let target = crate::workspace::check(path).map_err(bad_path)?;
        let Some(name) = target.file_name() else {
            return Err(Error::Invalid(format!("'{path}' names no file")));
        };
        let failed = |what: &str, e: std::io::Error| Error::Failed(format!("{what} '{path}': {e}"));
        let dir = Dir::open_ambient_dir(workspace.root(), ambient_authority())
            .map_err(|e| failed("opening the workspace for", e))?;
        let parent = target.parent().unwrap_or(Path::new(""));
        if !parent.as_os_str().is_empty() {
            dir.create_dir_all(parent)
                .map_err(|e| failed("creating the directory of", e))?;
        }
        let temp = parent.join(format!(
            ".{}.{}.part",
            name.to_string_lossy(),
            uuid::Uuid::new_v4().simple()
        ));
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        let file = dir
            .open_with(&temp, &opts)
            .map_err(|e| failed("creating a temporary file for", e))?
            .into_std();
        Ok(Partial {
            dir,
            temp,
            target: target.to_path_buf(),
            file: Some(file),
            done: false,
        })
    }

    /// A progress label: the target's file name.
    fn label(&self) -> &str {
        self.target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("download")
    }

    /// The writer for the content from `from`.
    fn sink(&mut self, from: &Url, bar: Step) -> Result<Sink, Error> {
        let file = self
            .file
            .take()
            .ok_or_else(|| Error::Failed(format!("{from}: the temporary file was already used")))?;
        Ok(Sink {
            file: tokio::fs::File::from_std(file),
            from: from.to_string(),
            hasher: Sha256::new(),
            size: 0,
            bar,
        })
    }

    /// Renames the temporary file to the target.
    fn persist(mut self) -> Result<(), Error> {
        self.dir
            .rename(&self.temp, &self.dir, &self.target)
            .map_err(|e| {
                Error::Failed(format!(
                    "placing the download at '{}': {e}",
                    self.target.display()
                ))
            })?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done
            && let Err(e) = self.dir.remove_file(&self.temp)
        {
            tracing::warn!("could not remove {}: {e}", self.temp.display());
        }
    }
}

/// Writes content to the temporary file, hashing and counting it.
struct Sink {
    file: tokio::fs::File,
    from: String,
    hasher: Sha256,
    size: u64,
    bar: Step,
}

impl Sink {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        self.size = self.size.saturating_add(len);
        if self.size > MAX_SIZE {
            return Err(Error::Failed(format!(
                "{}: more than the {} GiB download cap",
                self.from,
                MAX_SIZE >> 30
            )));
        }
        self.hasher.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| Error::Failed(format!("{}: writing: {e}", self.from)))?;
        self.bar.inc(len);
        Ok(())
    }

    /// Waits for every write to reach the file.
    async fn flush(&mut self, path: &str) -> Result<(), Error> {
        self.file
            .flush()
            .await
            .map_err(|e| Error::Failed(format!("writing '{path}': {e}")))
    }

    /// The size and hex sha256 of what was written.
    fn finish(self) -> (u64, String) {
        (self.size, hex::encode(self.hasher.finalize()))
    }
}

/// A plugin-given sha256: 64 hex digits, compared in lower case.
fn parse_sha256(s: &str) -> Result<String, Error> {
    let hex = s.trim().to_ascii_lowercase();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(Error::Invalid(format!(
            "sha256 '{s}' is not 64 hexadecimal digits"
        )))
    }
}

/// The `file:` URL of an absolute host path.
fn file_url(path: &Path) -> Result<Url, Error> {
    Url::from_file_path(path)
        .map_err(|()| Error::Invalid(format!("{} has no file URL", path.display())))
}

/// `path` with `.` and `..` resolved by text alone (no symlinks).
fn lexical_normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn fd(file: &std::fs::File) -> i32 {
    use std::os::fd::AsRawFd;
    file.as_raw_fd()
}

/// An error and its sources, `: `-separated (reqwest's own message is
/// often just "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A WIT error for the log.
fn describe(e: &Error) -> String {
    match e {
        Error::AccessDenied(m) => format!("access denied: {m}"),
        Error::Invalid(m) => format!("invalid: {m}"),
        Error::NotFound(m) => format!("not found: {m}"),
        Error::Failed(m) => format!("failed: {m}"),
        Error::TimedOut => "timed out".into(),
    }
}

#[cfg(test)]
mod tests;
