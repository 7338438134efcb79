//! The http capability through the real `runtask` binary and the fetcher
//! test plugin (tests/plugins/fetcher), against a loopback HTTP server each
//! test starts. Each deny path has a test: the download is refused with
//! access-denied naming the URL, and nothing was requested or written.

use crate::deny::debug_log;
use crate::{Env, Ran, report};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The fetcher test plugin, built by build.rs.
pub const FETCHER: &str = env!("TASKHOST_TEST_PLUGIN_FETCHER");

const HELLO: &[u8] = b"hello, world\n";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

// ---- a loopback HTTP server ----

/// Serves fixed routes on 127.0.0.1 and records every path asked for.
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

fn route(port: u16, path: &str) -> Reply {
    let data = tiny_http::Response::from_data;
    match path {
        "/files/hello.txt" => data(HELLO.to_vec()),
        "/files/redirect-ok" => redirect("/files/hello.txt"),
        "/files/redirect-localhost" => {
            redirect(&format!("http://localhost:{port}/files/hello.txt"))
        }
        "/files/redirect-lookalike" => redirect(&format!(
            "http://127.0.0.1.evil.test:{port}/files/hello.txt"
        )),
        "/files/redirect-outside" => redirect("/secret/hello.txt"),
        "/files/redirect-encoded" => redirect("/files/..%2fsecret/hello.txt"),
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
            for request in s.incoming_requests() {
                let path = request.url().to_string();
                h.lock().expect("hits").push(path.clone());
                let _ = request.respond(route(port, &path));
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

// ---- running the fetcher ----

/// A scratch env, a server, and a directory under /tmp (which the fetcher
/// declares) holding `allowed/ok.txt`, `outside/secret` and
/// `allowed/link` -> `outside/secret`.
struct Fetch {
    env: Env,
    server: Server,
    _files: tempfile::TempDir,
    root: PathBuf,
}

impl Fetch {
    fn new() -> Fetch {
        let files = tempfile::tempdir_in("/tmp").expect("tempdir in /tmp");
        let root = std::fs::canonicalize(files.path()).expect("canonical");
        std::fs::create_dir_all(root.join("allowed")).expect("mkdir");
        std::fs::create_dir_all(root.join("outside")).expect("mkdir");
        std::fs::write(root.join("allowed/ok.txt"), b"ok\n").expect("write");
        std::fs::write(root.join("outside/secret"), b"secret\n").expect("write");
        std::os::unix::fs::symlink(root.join("outside/secret"), root.join("allowed/link"))
            .expect("symlink");
        Fetch {
            env: Env::new(),
            server: Server::start(),
            _files: files,
            root,
        }
    }

    /// `file://` URL of `rel` in the /tmp directory.
    fn file(&self, rel: &str) -> String {
        format!("file://{}/{rel}", self.root.display())
    }

    /// The grants every run gets: the server's `/files/`, both keyring
    /// directories, and `allowed/` of the /tmp directory.
    fn grants(&self) -> Vec<String> {
        let urls = [
            self.server.url("/files/"),
            "file:///usr/share/keyrings/".to_string(),
            "file:///usr/local/share/keyrings/".to_string(),
            self.file("allowed/"),
        ];
        urls.into_iter()
            .flat_map(|u| ["--allow-url".to_string(), u])
            .collect()
    }

    /// Runs the fetcher on `downloads` with the usual grants plus `extra`,
    /// keeping the workspace.
    fn run(&self, downloads: Value, extra: &[String]) -> Ran {
        self.run_with(downloads, &[self.grants(), extra.to_vec()].concat())
    }

    fn run_with(&self, downloads: Value, grants: &[String]) -> Ran {
        let data = self
            .env
            .write("task.json", &json!({ "downloads": downloads }).to_string());
        let mut args = vec![
            "run",
            FETCHER,
            "--data",
            data.to_str().expect("utf-8 path"),
            "--format",
            "json",
            "--keep-workspace",
        ];
        args.extend(grants.iter().map(String::as_str));
        let mut cmd = self.env.cmd(&args);
        for var in [
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
        ] {
            cmd.env_remove(var);
        }
        let out: Output = cmd.output().expect("spawn runtask");
        Ran::from(out)
    }

    /// The kept workspace of the (single) run.
    fn workspace(&self) -> PathBuf {
        let kept: Vec<PathBuf> = std::fs::read_dir(self.env.path("taskhost-workspaces"))
            .expect("workspaces")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        kept[0].clone()
    }

    /// Files in the kept workspace outside `.taskhost/`, sorted.
    fn workspace_files(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
                let path = entry.path();
                let rel = path.strip_prefix(root).expect("under root").to_owned();
                if rel.starts_with(".taskhost") {
                    continue;
                }
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    out.push(rel.display().to_string());
                }
            }
        }
        let root = self.workspace();
        let mut out = Vec::new();
        walk(&root, &root, &mut out);
        out.sort();
        out
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The report's results.
fn results(ran: &Ran) -> Vec<Value> {
    report(ran)["results"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no results\n{}\n{}", ran.stdout, ran.stderr))
}

/// Asserts result `i` PASSED with `sha256`; returns its keyvals.
#[track_caller]
fn assert_passed(ran: &Ran, i: usize, sha256: &str) -> Value {
    let r = &results(ran)[i];
    assert_eq!(r["outcome"], "PASSED", "{r}\n{}", ran.stderr);
    assert_eq!(r["keyvals"]["sha256"], sha256, "{r}");
    r["keyvals"].clone()
}

/// Asserts result `i` FAILED with a note starting `kind: ` and containing
/// every needle.
#[track_caller]
fn assert_failed(ran: &Ran, i: usize, kind: &str, needles: &[&str]) {
    let r = &results(ran)[i];
    assert_eq!(r["outcome"], "FAILED", "{r}");
    let note = r["note"].as_str().unwrap_or_default();
    assert!(note.starts_with(&format!("{kind}: ")), "{note}");
    for needle in needles {
        assert!(note.contains(needle), "{note:?} does not say {needle:?}");
    }
}

// ---- http ----

#[test]
fn a_granted_download_lands_in_the_workspace_with_its_sha256() {
    let f = Fetch::new();
    let sha = sha256_hex(HELLO);
    let ran = f.run(
        json!([{"url": f.server.url("/files/hello.txt"), "path": "dl/hello.txt", "sha256": sha}]),
        &[],
    );
    ran.expect(0);
    let kv = assert_passed(&ran, 0, &sha);
    assert_eq!(kv["size"], HELLO.len().to_string());
    assert_eq!(kv["url"], f.server.url("/files/hello.txt"));
    let on_disk = std::fs::read(f.workspace().join("dl/hello.txt")).expect("downloaded file");
    assert_eq!(sha256_hex(&on_disk), sha);
    assert_eq!(f.workspace_files(), ["dl/hello.txt"]);
    assert_eq!(f.server.hits(), ["/files/hello.txt"]);
}

#[test]
fn a_wrong_sha256_is_refused_and_leaves_no_file() {
    let f = Fetch::new();
    let wrong = "ab".repeat(32);
    let url = f.server.url("/files/hello.txt");
    let ran = f.run(
        json!([{"url": url, "path": "hello.txt", "sha256": wrong}]),
        &[],
    );
    ran.expect(100);
    assert_eq!(report(&ran)["status"], "failure", "{}", ran.stdout);
    assert_failed(
        &ran,
        0,
        "invalid",
        &["sha256 mismatch", &url, &wrong, &sha256_hex(HELLO)],
    );
    assert_eq!(f.workspace_files(), Vec::<String>::new());
}

#[test]
fn an_ungranted_url_is_refused_before_any_request_is_sent() {
    let f = Fetch::new();
    let secret = f.server.url("/secret/hello.txt");
    let other_host = format!("http://localhost:{}/files/hello.txt", f.server.port);
    let other_scheme = format!("https://127.0.0.1:{}/files/hello.txt", f.server.port);
    let ran = f.run(
        json!([
            {"url": secret, "path": "a"},
            {"url": other_host, "path": "b"},
            {"url": other_scheme, "path": "c"},
        ]),
        &[],
    );
    ran.expect(100);
    // Declared (127.0.0.1, any port) but this path is not granted.
    assert_failed(
        &ran,
        0,
        "access denied",
        &[
            &format!("plugin 'fetcher' may not access `{secret}`"),
            "declared but not granted",
        ],
    );
    // Declared by `http://*/` (any host), granted only for the hosts an
    // operator names: the hint names this URL's origin.
    assert_failed(
        &ran,
        1,
        "access denied",
        &[
            &format!("`{other_host}`"),
            "declared but not granted",
            &format!("--allow-url http://localhost:{}/", f.server.port),
        ],
    );
    // Not even declared.
    assert_failed(
        &ran,
        2,
        "access denied",
        &[&format!("`{other_scheme}`"), "not declared in its manifest"],
    );
    assert_eq!(f.server.hits(), Vec::<String>::new(), "a request was sent");
    assert_eq!(f.workspace_files(), Vec::<String>::new());
    let log = debug_log(&f.env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        log.contains(&format!("WARN capability: denied http.download {secret}")),
        "{log}"
    );
}

#[test]
fn a_deny_url_flag_wins_over_the_grant() {
    let f = Fetch::new();
    let url = f.server.url("/files/hello.txt");
    let ran = f.run(
        json!([{"url": url, "path": "a"}]),
        &["--deny-url".to_string(), url.clone()],
    );
    ran.expect(100);
    assert_failed(
        &ran,
        0,
        "access denied",
        &[&format!("`{url}`"), &format!("denied by --deny-url {url}")],
    );
    assert_eq!(f.server.hits(), Vec::<String>::new());
}

#[test]
fn a_redirect_to_a_granted_path_is_followed() {
    let f = Fetch::new();
    let ran = f.run(
        json!([{"url": f.server.url("/files/redirect-ok"), "path": "hello.txt"}]),
        &[],
    );
    ran.expect(0);
    let kv = assert_passed(&ran, 0, &sha256_hex(HELLO));
    assert_eq!(kv["url"], f.server.url("/files/hello.txt"));
    assert_eq!(f.server.hits(), ["/files/redirect-ok", "/files/hello.txt"]);
}

#[test]
fn a_redirect_to_another_host_a_lookalike_or_outside_the_prefix_is_refused() {
    let f = Fetch::new();
    let port = f.server.port;
    let cases = [
        (
            "/files/redirect-localhost",
            format!("http://localhost:{port}/files/hello.txt"),
        ),
        (
            "/files/redirect-lookalike",
            format!("http://127.0.0.1.evil.test:{port}/files/hello.txt"),
        ),
        ("/files/redirect-outside", f.server.url("/secret/hello.txt")),
    ];
    let downloads: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (from, _))| json!({"url": f.server.url(from), "path": format!("f{i}")}))
        .collect();
    let ran = f.run(Value::Array(downloads), &[]);
    ran.expect(100);
    for (i, (_, to)) in cases.iter().enumerate() {
        assert_failed(
            &ran,
            i,
            "access denied",
            &[&format!("plugin 'fetcher' may not access `{to}`")],
        );
    }
    let asked: Vec<&str> = cases.iter().map(|(from, _)| *from).collect();
    assert_eq!(f.server.hits(), asked, "a refused redirect was followed");
    assert_eq!(f.workspace_files(), Vec::<String>::new());
    let log = debug_log(&f.env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        log.contains(&format!(
            "(redirected by {} to {})",
            f.server.url("/files/redirect-outside"),
            f.server.url("/secret/hello.txt")
        )),
        "{log}"
    );
}

#[test]
fn an_error_status_fails_the_download() {
    let f = Fetch::new();
    let url = f.server.url("/files/missing");
    let ran = f.run(json!([{"url": url, "path": "m"}]), &[]);
    ran.expect(100);
    assert_failed(&ran, 0, "failed", &[&url, "HTTP 404 Not Found"]);
    assert_eq!(f.workspace_files(), Vec::<String>::new());
}

#[test]
fn a_download_does_not_outlive_the_run_deadline() {
    let f = Fetch::new();
    // Accepts connections (the kernel does) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://127.0.0.1:{}/files/slow",
        silent.local_addr().expect("addr").port()
    );
    let started = Instant::now();
    let ran = f.run(
        json!([{"url": url, "path": "slow"}]),
        &[
            "--allow-url".to_string(),
            url.clone(),
            "--timeout".to_string(),
            "2s".to_string(),
        ],
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_ne!(ran.code, 0, "{}", ran.stdout);
    assert_eq!(f.workspace_files(), Vec::<String>::new());
    let log = debug_log(&f.env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        log.contains(&format!("WARN http: download of {url} failed: timed out")),
        "{log}"
    );
}

#[test]
fn the_any_port_declaration_still_needs_a_grant_before_the_run_starts() {
    let f = Fetch::new();
    let grants: Vec<String> = [
        "file:///usr/share/keyrings/".to_string(),
        "file:///usr/local/share/keyrings/".to_string(),
        f.file("allowed/"),
    ]
    .into_iter()
    .flat_map(|u| ["--allow-url".to_string(), u])
    .collect();
    let ran = f.run_with(
        json!([{"url": f.server.url("/files/hello.txt"), "path": "a"}]),
        &grants,
    );
    ran.expect(3);
    assert!(
        ran.stderr.contains(
            "plugin 'fetcher' may not access `http://127.0.0.1:*/`: declared but not granted"
        ),
        "{}",
        ran.stderr
    );
    assert_eq!(f.server.hits(), Vec::<String>::new());
}

// ---- file: ----

#[test]
fn a_keyring_under_usr_share_keyrings_is_fetched() {
    let f = Fetch::new();
    let content = std::fs::read(KEYRING).expect("debian-archive-keyring is installed");
    let sha = sha256_hex(&content);
    let ran = f.run(
        json!([
            {"url": format!("file://{KEYRING}"), "path": "keys/archive.gpg", "sha256": sha},
            {"url": f.file("allowed/ok.txt"), "path": "ok.txt"},
        ]),
        &[],
    );
    ran.expect(0);
    let kv = assert_passed(&ran, 0, &sha);
    assert_eq!(kv["url"], format!("file://{KEYRING}"));
    assert_passed(&ran, 1, &sha256_hex(b"ok\n"));
    let copied = std::fs::read(f.workspace().join("keys/archive.gpg")).expect("copied keyring");
    assert_eq!(copied, content);
    assert_eq!(f.workspace_files(), ["keys/archive.gpg", "ok.txt"]);
}

#[test]
fn file_urls_that_resolve_outside_the_granted_directories_are_refused() {
    let f = Fetch::new();
    let secret = f.file("outside/secret");
    let cases = [
        // The URL parser itself drops the `..`.
        (
            "file:///usr/share/keyrings/../../../etc/passwd".to_string(),
            "file:///etc/passwd".to_string(),
            "not declared",
        ),
        // Encoded, the `..` survives the parser; the host resolves it.
        (
            "file:///usr/share/keyrings/..%2F..%2F..%2Fetc%2Fpasswd".to_string(),
            "file:///etc/passwd".to_string(),
            "not declared",
        ),
        (
            "file:///etc/passwd".to_string(),
            "file:///etc/passwd".to_string(),
            "not declared",
        ),
        // A symlink in a granted directory that leads out of it.
        (
            f.file("allowed/link"),
            secret.clone(),
            "declared but not granted",
        ),
        (
            f.file("allowed/..%2Foutside%2Fsecret"),
            secret.clone(),
            "declared but not granted",
        ),
        (secret.clone(), secret.clone(), "declared but not granted"),
    ];
    let downloads: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (url, _, _))| json!({"url": url, "path": format!("f{i}")}))
        .collect();
    let ran = f.run(Value::Array(downloads), &[]);
    ran.expect(100);
    for (i, (_, named, why)) in cases.iter().enumerate() {
        assert_failed(
            &ran,
            i,
            "access denied",
            &[&format!("plugin 'fetcher' may not access `{named}`"), why],
        );
    }
    assert_eq!(f.workspace_files(), Vec::<String>::new());
}

#[test]
fn encoded_separators_and_dot_segments_are_refused_before_any_request() {
    let f = Fetch::new();
    let bad = [
        ("/files/..%2fsecret/hello.txt", "an encoded '/'"),
        ("/files/%2e%2e%2fsecret/hello.txt", "an encoded '/'"),
        ("/files/..%5Csecret/hello.txt", "an encoded '\\'"),
        // The parser resolves this one to /secret/hello.txt: not granted.
        ("/files/.%2e/secret/hello.txt", "declared but not granted"),
    ];
    let mut downloads: Vec<Value> = bad
        .iter()
        .enumerate()
        .map(|(i, (path, _))| json!({"url": f.server.url(path), "path": format!("f{i}")}))
        .collect();
    // A redirect to an encoded path is checked the same way.
    downloads.push(json!({"url": f.server.url("/files/redirect-encoded"), "path": "r"}));
    // Encoded unreserved characters are decoded and the canonical URL sent.
    downloads.push(json!({"url": f.server.url("/files/%68ello%2Etxt"), "path": "ok"}));
    let ran = f.run(Value::Array(downloads), &[]);
    ran.expect(100);
    for (i, (_, why)) in bad.iter().enumerate() {
        assert_failed(&ran, i, "access denied", &[why]);
    }
    assert_failed(&ran, bad.len(), "access denied", &["an encoded '/'"]);
    let log = debug_log(&f.env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        log.contains(&format!(
            "(redirected by {} to",
            f.server.url("/files/redirect-encoded")
        )),
        "{log}"
    );
    let kv = assert_passed(&ran, bad.len() + 1, &sha256_hex(HELLO));
    assert_eq!(kv["url"], f.server.url("/files/hello.txt"));
    assert_eq!(
        f.server.hits(),
        ["/files/redirect-encoded", "/files/hello.txt"],
        "a refused URL reached the server"
    );
}

#[test]
fn an_any_host_grant_does_not_reach_loopback_or_private_addresses() {
    let f = Fetch::new();
    let port = f.server.port;
    // The fetcher's file: prefixes, and any http host.
    let mut any_host: Vec<String> = f.grants()[2..].to_vec();
    any_host.extend(["--allow-url".to_string(), "http://*/".to_string()]);
    let downloads = json!([
        {"url": f.server.url("/files/hello.txt"), "path": "literal"},
        {"url": format!("http://localhost:{port}/files/hello.txt"), "path": "name"},
        {"url": format!("http://10.255.255.1:{port}/files/hello.txt"), "path": "private"},
        {"url": format!("http://[::ffff:127.0.0.1]:{port}/files/hello.txt"), "path": "mapped"},
    ]);
    let ran = f.run_with(downloads.clone(), &any_host);
    ran.expect(100);
    assert_failed(
        &ran,
        0,
        "access denied",
        &["127.0.0.1 is not a public address", "--allow-url"],
    );
    assert_failed(
        &ran,
        1,
        "access denied",
        &["localhost resolves only to non-public addresses"],
    );
    assert_failed(
        &ran,
        2,
        "access denied",
        &["10.255.255.1 is not a public address"],
    );
    assert_failed(&ran, 3, "access denied", &["is not a public address"]);
    assert_eq!(
        f.server.hits(),
        Vec::<String>::new(),
        "a private address was reached"
    );
    // Granted by address, the same loopback URL is fine.
    let by_address = [
        any_host.clone(),
        vec!["--allow-url".to_string(), f.server.url("/files/")],
    ]
    .concat();
    let ran = f.run_with(
        json!([{"url": f.server.url("/files/hello.txt"), "path": "ok"}]),
        &by_address,
    );
    ran.expect(0);
    assert_eq!(f.server.hits(), ["/files/hello.txt"]);
}
