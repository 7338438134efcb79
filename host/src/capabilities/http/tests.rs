//! The http capability against a loopback server, without a plugin.

use super::*;
use crate::manifest::Declares;
use crate::manifest::Manifest;
use crate::policy::{Effective, Grants, UrlPrefix};
use crate::store::LocalStore;
use crate::workspace::Workspace;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const HELLO: &[u8] = b"hello, world\n";

/// A loopback HTTP server with fixed routes; records every path asked.
struct Server {
    port: u16,
    hits: Arc<Mutex<Vec<String>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

type Reply = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

fn redirect(to: &str) -> Reply {
    let location = tiny_http::Header::from_bytes("Location", to).expect("header");
    tiny_http::Response::from_data(Vec::new())
        .with_status_code(302)
        .with_header(location)
}

fn redirect_with(code: u16, to: &str) -> Reply {
    redirect(to).with_status_code(code)
}

fn route(port: u16, path: &str) -> Reply {
    let data = tiny_http::Response::from_data;
    match path {
        "/files/post-303" => redirect_with(303, "/files/echo"),
        "/files/post-307" => redirect_with(307, "/files/echo"),
        "/files/hello.txt" => data(HELLO.to_vec()),
        "/files/redirect-ok" => redirect("/files/hello.txt"),
        "/files/redirect-localhost" => {
            redirect(&format!("http://localhost:{port}/files/hello.txt"))
        }
        "/files/redirect-lookalike" => redirect(&format!(
            "http://deb.debian.org.evil.test:{port}/files/hello.txt"
        )),
        "/files/redirect-lookalike2" => redirect(&format!(
            "http://evil-deb.debian.org:{port}/files/hello.txt"
        )),
        "/files/redirect-outside" => redirect("/secret/hello.txt"),
        "/files/redirect-file" => redirect("file:///etc/passwd"),
        "/files/redirect-userinfo" => {
            redirect(&format!("http://u:p@127.0.0.1:{port}/files/hello.txt"))
        }
        "/files/loop" => redirect("/files/loop"),
        "/files/no-location" => data(Vec::new()).with_status_code(302),
        "/secret/hello.txt" => data(b"secret\n".to_vec()),
        _ => data(b"not found\n".to_vec()).with_status_code(404),
    }
}

impl Server {
    fn start() -> Server {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("test server"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let (s, h) = (server.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let path = request.url().to_string();
                h.lock().expect("hits").push(path.clone());
                let reply = if path == "/files/echo" {
                    // What arrived: method, content type and body.
                    let mut body = String::new();
                    let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
                    let kind = request
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("content-type"))
                        .map(|h| h.value.to_string())
                        .unwrap_or_default();
                    tiny_http::Response::from_data(
                        format!("{} [{kind}] {body}", request.method()).into_bytes(),
                    )
                } else {
                    route(port, &path)
                };
                let _ = request.respond(reply);
            }
        });
        Server {
            port,
            hits,
            server,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("hits").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A run context for a plugin that declares and is granted `urls`, minus
/// `deny`, with a deadline `timeout` from now.
fn context_with(
    urls: &[String],
    deny: &[String],
    timeout: Duration,
) -> (tempfile::TempDir, RunContext) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let manifest: Manifest = toml::from_str(&format!(
        "name = \"fetcher\"\nversion = \"0.1.0\"\nkind = \"task\"\nurls = {urls:?}\n"
    ))
    .expect("manifest");
    let prefixes = |v: &[String]| -> Vec<UrlPrefix> {
        v.iter()
            .map(|u| UrlPrefix::parse(u).expect("prefix"))
            .collect()
    };
    let grants = Grants {
        urls: prefixes(urls),
        deny_urls: prefixes(deny),
        ..Grants::default()
    };
    let declared = manifest.declared().expect("declared");
    let effective = Effective::new("fetcher", declared, grants, None);
    let identity = crate::policy::Identity::trusted("fetcher", &"0".repeat(64));
    let granter = crate::policy::Granter::new(
        crate::policy::Permit {
            identity,
            effective,
        },
        Vec::new(),
        crate::policy::audit::Audit::none(),
    );
    let workspace = Workspace::create(&tmp.path().join("ws"), "run", false).expect("workspace");
    let store = Arc::new(LocalStore::open(tmp.path().join("store")).expect("store"));
    let ctx = RunContext::new(
        "run",
        manifest,
        granter,
        Arc::new(workspace),
        store,
        std::time::Instant::now() + timeout,
    );
    (tmp, ctx)
}

fn context(urls: &[String]) -> (tempfile::TempDir, RunContext) {
    context_with(urls, &[], Duration::from_secs(60))
}

/// A context granted `/files/` of `server`.
fn files_context(server: &Server) -> (tempfile::TempDir, RunContext) {
    context(&[server.url("/files/")])
}

/// Every file in the workspace (relative paths, sorted), hidden ones too.
fn workspace_files(ctx: &RunContext) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                out.push(rel.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(ctx.workspace().root(), ctx.workspace().root(), &mut out);
    out.sort();
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[track_caller]
fn assert_denied(result: Result<Fetched, Error>, needle: &str) -> String {
    match result {
        Err(Error::AccessDenied(m)) => {
            assert!(m.contains(needle), "{m:?} does not name {needle:?}");
            m
        }
        other => panic!("expected access-denied naming {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_granted_download_lands_with_its_sha256() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    let url = server.url("/files/hello.txt");
    let got = ctx
        .download(
            &url,
            "dl/hello.txt",
            Some(&sha256_hex(HELLO).to_uppercase()),
        )
        .await
        .expect("download");
    assert_eq!(got.size, HELLO.len() as u64);
    assert_eq!(got.sha256, sha256_hex(HELLO));
    assert_eq!(got.url, url);
    let on_disk = std::fs::read(ctx.workspace().root().join("dl/hello.txt")).expect("file");
    assert_eq!(on_disk, HELLO);
    assert_eq!(workspace_files(&ctx), ["dl/hello.txt"]);
    assert_eq!(server.hits(), ["/files/hello.txt"]);
    let log = ctx.log.contents();
    assert!(
        log.contains(&format!("downloading {url} to dl/hello.txt")),
        "{log}"
    );
    assert!(log.contains("downloaded 13 bytes from"), "{log}");
}

#[tokio::test]
async fn a_wrong_sha256_leaves_no_file_and_keeps_an_older_one() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    let url = server.url("/files/hello.txt");
    let wrong = "0".repeat(64);
    match ctx.download(&url, "hello.txt", Some(&wrong)).await {
        Err(Error::Invalid(m)) => {
            assert!(m.contains(&url), "{m}");
            assert!(m.contains(&wrong), "{m}");
            assert!(m.contains(&sha256_hex(HELLO)), "{m}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert_eq!(workspace_files(&ctx), Vec::<String>::new());

    std::fs::write(ctx.workspace().root().join("hello.txt"), b"old").expect("write");
    assert!(ctx.download(&url, "hello.txt", Some(&wrong)).await.is_err());
    assert_eq!(workspace_files(&ctx), ["hello.txt"]);
    let kept = std::fs::read(ctx.workspace().root().join("hello.txt")).expect("read");
    assert_eq!(kept, b"old");
    assert!(ctx.log.contents().contains("sha256 mismatch"));
}

#[tokio::test]
async fn a_malformed_sha256_is_refused_before_any_request() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    for bad in ["abc", &"g".repeat(64), &"0".repeat(65)] {
        let r = ctx
            .download(&server.url("/files/hello.txt"), "x", Some(bad))
            .await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{bad}: {r:?}");
    }
    assert_eq!(server.hits(), Vec::<String>::new());
}

#[tokio::test]
async fn an_ungranted_url_is_refused_before_any_request() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    for url in [
        server.url("/secret/hello.txt"),
        server.url("/filesx"),
        format!("http://localhost:{}/files/hello.txt", server.port),
        format!("https://127.0.0.1:{}/files/hello.txt", server.port),
        format!("http://u:p@127.0.0.1:{}/files/hello.txt", server.port),
    ] {
        let shown = url.replace("u:p@", "");
        let m = assert_denied(ctx.download(&url, "x", None).await, &shown);
        assert!(!m.contains("u:p@"), "{m}");
    }
    assert_eq!(server.hits(), Vec::<String>::new());
    assert_eq!(workspace_files(&ctx), Vec::<String>::new());
    let log = ctx.log.contents();
    assert!(
        log.contains("WARN capability: denied http.download http://127.0.0.1:"),
        "{log}"
    );
}

#[tokio::test]
async fn a_denied_prefix_wins_over_a_grant() {
    let server = Server::start();
    let (_tmp, mut ctx) = context_with(
        &[server.url("/")],
        &[server.url("/secret/")],
        Duration::from_secs(60),
    );
    let m = assert_denied(
        ctx.download(&server.url("/secret/hello.txt"), "x", None)
            .await,
        "denied by deny-urls",
    );
    assert!(m.contains("/secret/hello.txt"), "{m}");
    assert!(
        ctx.download(&server.url("/files/redirect-outside"), "x", None)
            .await
            .is_err()
    );
    assert_eq!(server.hits(), ["/files/redirect-outside"]);
}

#[tokio::test]
async fn a_redirect_within_the_grant_is_followed() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    let got = ctx
        .download(&server.url("/files/redirect-ok"), "hello.txt", None)
        .await
        .expect("download");
    assert_eq!(got.url, server.url("/files/hello.txt"));
    assert_eq!(got.sha256, sha256_hex(HELLO));
    assert_eq!(server.hits(), ["/files/redirect-ok", "/files/hello.txt"]);
    assert!(ctx.log.contents().contains("redirects (302 Found) to"));
}

#[tokio::test]
async fn a_redirect_outside_the_grant_is_refused_and_not_followed() {
    let server = Server::start();
    // deb.debian.org is granted too, so the lookalikes are near misses.
    let (_tmp, mut ctx) = context(&[server.url("/files/"), "http://deb.debian.org/".to_string()]);
    let port = server.port;
    let cases = [
        (
            "/files/redirect-localhost",
            format!("http://localhost:{port}/files/hello.txt"),
        ),
        (
            "/files/redirect-lookalike",
            format!("http://deb.debian.org.evil.test:{port}/files/hello.txt"),
        ),
        (
            "/files/redirect-lookalike2",
            format!("http://evil-deb.debian.org:{port}/files/hello.txt"),
        ),
        ("/files/redirect-outside", server.url("/secret/hello.txt")),
        ("/files/redirect-userinfo", server.url("/files/hello.txt")),
        ("/files/redirect-file", "file:///etc/passwd".to_string()),
    ];
    for (from, to) in &cases {
        let m = assert_denied(ctx.download(&server.url(from), "x", None).await, to);
        assert!(m.contains("may not access"), "{m}");
    }
    let asked: Vec<String> = cases.iter().map(|(from, _)| from.to_string()).collect();
    assert_eq!(server.hits(), asked, "a refused redirect was followed");
    assert_eq!(workspace_files(&ctx), Vec::<String>::new());
    let log = ctx.log.contents();
    assert!(log.contains("(redirected by http://127.0.0.1:"), "{log}");
}

#[tokio::test]
async fn redirects_are_capped() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    match ctx.download(&server.url("/files/loop"), "x", None).await {
        Err(Error::Failed(m)) => assert!(m.contains("more than 10 redirects"), "{m}"),
        other => panic!("expected a redirect cap, got {other:?}"),
    }
    assert_eq!(server.hits().len(), MAX_REDIRECTS + 1);
    assert_eq!(workspace_files(&ctx), Vec::<String>::new());
}

#[tokio::test]
async fn an_error_status_fails_and_names_status_and_url() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    let url = server.url("/files/missing");
    match ctx.download(&url, "x", None).await {
        Err(Error::Failed(m)) => {
            assert!(m.contains("404"), "{m}");
            assert!(m.contains(&url), "{m}");
        }
        other => panic!("expected a 404 failure, got {other:?}"),
    }
    match ctx
        .download(&server.url("/files/no-location"), "x", None)
        .await
    {
        Err(Error::Failed(m)) => assert!(m.contains("without a usable Location"), "{m}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(workspace_files(&ctx), Vec::<String>::new());
}

#[tokio::test]
async fn a_failed_tls_handshake_is_an_ordinary_failure() {
    // The TLS client gets set up (ring provider); a server that hangs up
    // at once makes the handshake fail.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let base = format!("https://127.0.0.1:{port}/");
    let (_tmp, mut ctx) = context(std::slice::from_ref(&base));
    match ctx.download(&format!("{base}x"), "x", None).await {
        Err(Error::Failed(m)) => assert!(m.contains(&base), "{m}"),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    assert_eq!(workspace_files(&ctx), Vec::<String>::new());
}

#[tokio::test]
async fn the_run_deadline_bounds_a_download() {
    // Accepts connections (the kernel does) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let base = format!("http://127.0.0.1:{port}/");
    let (_tmp, mut ctx) =
        context_with(std::slice::from_ref(&base), &[], Duration::from_millis(300));
    let started = std::time::Instant::now();
    let r = ctx.download(&format!("{base}slow"), "x", None).await;
    assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(workspace_files(&ctx), Vec::<String>::new());
}

#[tokio::test]
async fn bad_workspace_paths_and_schemes_are_invalid() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    let url = server.url("/files/hello.txt");
    for path in ["../x", "/tmp/x", "", "a/../../x", "."] {
        let r = ctx.download(&url, path, None).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{path:?}: {r:?}");
    }
    assert_eq!(server.hits(), Vec::<String>::new());
    for url in ["ftp://127.0.0.1/x", "not a url"] {
        let r = ctx.download(url, "x", None).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{url}: {r:?}");
    }
}

#[tokio::test]
async fn a_symlink_planted_in_the_workspace_is_not_followed() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    let outside = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(outside.path(), ctx.workspace().root().join("out")).expect("ln");
    let r = ctx
        .download(&server.url("/files/hello.txt"), "out/hello.txt", None)
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(
        std::fs::read_dir(outside.path()).expect("read_dir").count(),
        0,
        "wrote outside the workspace"
    );
}

// ---- file: URLs ----

const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

#[tokio::test]
async fn a_granted_keyring_is_copied() {
    let content = std::fs::read(KEYRING).expect("debian-archive-keyring is installed");
    let (_tmp, mut ctx) = context(&["file:///usr/share/keyrings/".to_string()]);
    let got = ctx
        .download(
            &format!("file://{KEYRING}"),
            "keyring.gpg",
            Some(&sha256_hex(&content)),
        )
        .await
        .expect("copy");
    assert_eq!(got.size, content.len() as u64);
    assert_eq!(got.url, format!("file://{KEYRING}"));
    let copied = std::fs::read(ctx.workspace().root().join("keyring.gpg")).expect("copy");
    assert_eq!(copied, content);
}

/// A temp dir with `allowed/` (granted), `outside/secret` and links.
fn file_tree() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(tmp.path()).expect("canonical");
    std::fs::create_dir_all(root.join("allowed/sub")).expect("mkdir");
    std::fs::create_dir_all(root.join("outside")).expect("mkdir");
    std::fs::write(root.join("allowed/ok.txt"), b"ok\n").expect("write");
    std::fs::write(root.join("outside/secret"), b"secret\n").expect("write");
    std::os::unix::fs::symlink(root.join("outside/secret"), root.join("allowed/link")).expect("ln");
    std::os::unix::fs::symlink("../outside", root.join("allowed/dirlink")).expect("ln");
    std::os::unix::fs::symlink("ok.txt", root.join("allowed/inner")).expect("ln");
    (tmp, root)
}

#[tokio::test]
async fn file_urls_are_checked_on_their_canonical_path() {
    let (_files, root) = file_tree();
    let allowed = format!("file://{}/allowed/", root.display());
    let (_tmp, mut ctx) = context(std::slice::from_ref(&allowed));
    let secret = format!("file://{}/outside/secret", root.display());

    // A symlink inside the allowed dir that leads out of it.
    for link in ["link", "dirlink/secret"] {
        let m = assert_denied(
            ctx.download(&format!("{allowed}{link}"), "x", None).await,
            &secret,
        );
        assert!(m.contains("not declared"), "{m}");
    }
    // `..` hidden from the URL parser as %2F.
    let encoded = format!("{allowed}..%2Foutside%2Fsecret");
    assert_denied(ctx.download(&encoded, "x", None).await, &secret);
    assert_eq!(workspace_files(&ctx), Vec::<String>::new());

    // A symlink that stays inside is fine, and the canonical URL is named.
    let got = ctx
        .download(&format!("{allowed}inner"), "inner.txt", None)
        .await
        .expect("inner link");
    assert_eq!(got.url, format!("{allowed}ok.txt"));
    assert_eq!(got.sha256, sha256_hex(b"ok\n"));
}

#[tokio::test]
async fn missing_files_say_not_found_only_where_the_plugin_may_look() {
    let (_files, root) = file_tree();
    let allowed = format!("file://{}/allowed/", root.display());
    let (_tmp, mut ctx) = context(std::slice::from_ref(&allowed));
    let r = ctx.download(&format!("{allowed}nope"), "x", None).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
    let r = ctx
        .download(&format!("{allowed}..%2Fnope"), "x", None)
        .await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    let r = ctx.download("file:///etc/nope-nope", "x", None).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    let r = ctx.download(&format!("{allowed}sub"), "x", None).await;
    assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    let r = ctx.download("file://otherhost/etc/passwd", "x", None).await;
    assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    assert_eq!(workspace_files(&ctx), Vec::<String>::new());
}

#[tokio::test]
async fn file_urls_outside_the_grant_are_refused() {
    let (_tmp, mut ctx) = context(&["file:///usr/share/keyrings/".to_string()]);
    for (url, named) in [
        ("file:///etc/passwd", "file:///etc/passwd"),
        (
            "file:///usr/share/keyrings/../../../etc/passwd",
            "file:///etc/passwd",
        ),
        (
            "file:///usr/share/keyrings/..%2F..%2F..%2Fetc%2Fpasswd",
            "file:///etc/passwd",
        ),
    ] {
        assert_denied(ctx.download(url, "x", None).await, named);
    }
    assert_eq!(workspace_files(&ctx), Vec::<String>::new());
}

#[test]
fn lexical_normalize_resolves_dots_by_text() {
    assert_eq!(
        lexical_normalize(Path::new("/a/b/../../../etc/./x")),
        Path::new("/etc/x")
    );
    assert_eq!(lexical_normalize(Path::new("/a/b/")), Path::new("/a/b"));
}

// ---- http.send ---------------------------------------------------------

fn request(method: &str, url: &str, body: &[u8]) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        url: url.into(),
        headers: vec![("content-type".into(), "text/xml".into())],
        body: body.to_vec(),
    }
}

#[tokio::test]
async fn send_returns_status_headers_and_body_and_keeps_error_statuses() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    let r = ctx
        .send(request("GET", &server.url("/files/hello.txt"), b""))
        .await
        .expect("sent");
    assert_eq!((r.status, r.body.as_slice()), (200, HELLO));
    assert!(
        r.headers.iter().any(|(k, _)| k == "content-length"),
        "{:?}",
        r.headers
    );
    let r = ctx
        .send(request("POST", &server.url("/files/echo"), b"<call/>"))
        .await
        .expect("sent");
    assert_eq!(String::from_utf8_lossy(&r.body), "POST [text/xml] <call/>");
    // A 404 is a response the plugin reads, not an error.
    let r = ctx
        .send(request("GET", &server.url("/files/nothing"), b""))
        .await
        .expect("sent");
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn send_follows_redirects_as_browsers_do() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    let r = ctx
        .send(request("POST", &server.url("/files/post-303"), b"data"))
        .await
        .expect("sent");
    assert_eq!(String::from_utf8_lossy(&r.body), "GET [] ");
    assert_eq!(r.url, server.url("/files/echo"));
    let r = ctx
        .send(request("POST", &server.url("/files/post-307"), b"data"))
        .await
        .expect("sent");
    assert_eq!(String::from_utf8_lossy(&r.body), "POST [text/xml] data");
}

#[tokio::test]
async fn send_refuses_ungranted_lookalike_and_outside_urls_and_redirects() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    let denied = |r: Result<HttpResponse, Error>| match r {
        Err(Error::AccessDenied(m)) => m,
        other => panic!("expected access-denied, got {other:?}"),
    };
    // Straight to a path outside the granted prefix, and a lookalike host:
    // refused before any request.
    let m = denied(
        ctx.send(request("GET", &server.url("/secret/hello.txt"), b""))
            .await,
    );
    assert!(m.contains("/secret/hello.txt"), "{m}");
    let lookalike = format!("http://127.0.0.1.evil.test:{}/files/hello.txt", server.port);
    denied(ctx.send(request("GET", &lookalike, b"")).await);
    assert!(server.hits().is_empty(), "{:?}", server.hits());
    // Redirects to an ungranted host, a lookalike and outside the prefix:
    // the first hop is asked, the target never.
    for path in [
        "/files/redirect-localhost",
        "/files/redirect-lookalike",
        "/files/redirect-outside",
        "/files/redirect-file",
    ] {
        let m = denied(ctx.send(request("GET", &server.url(path), b"")).await);
        assert!(m.contains("fetcher"), "{m}");
    }
    assert!(
        !server.hits().iter().any(|h| h.starts_with("/secret")),
        "{:?}",
        server.hits()
    );
}

#[tokio::test]
async fn send_refuses_bad_methods_headers_and_schemes() {
    let server = Server::start();
    let (_tmp, mut ctx) = files_context(&server);
    let url = server.url("/files/echo");
    let invalid = |r: Result<HttpResponse, Error>| match r {
        Err(Error::Invalid(m)) => m,
        other => panic!("expected invalid, got {other:?}"),
    };
    assert!(invalid(ctx.send(request("CONNECT", &url, b"")).await).contains("CONNECT"));
    let mut r = request("GET", &url, b"");
    r.headers.push(("host".into(), "evil.test".into()));
    assert!(invalid(ctx.send(r).await).contains("set by the host"));
    let mut r = request("GET", &url, b"");
    r.headers.push(("x-bad".into(), "a\nb".into()));
    assert!(invalid(ctx.send(r).await).contains("bad header"));
    assert!(
        invalid(ctx.send(request("GET", "file:///etc/passwd", b"")).await)
            .contains("http and https only")
    );
    assert!(server.hits().is_empty(), "{:?}", server.hits());
}
