//! Local stand-ins for koji, bodhi and ResultsDB (tests/servers/*.py) and
//! the tests that hold them to the official clients: the `koji` CLI,
//! `bodhi` (bodhi-client) and the `resultsdb_api` module, from the venv that
//! `.ci/install-test-clients` makes. The fixtures are tiny real RPMs that
//! rpmbuild makes once per test process.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

const INSTALL_HINT: &str = "run .ci/install-test-clients (as root): it installs rpmbuild and the official \
     koji, bodhi-client and resultsdb-api clients into $TASKHOST_TEST_VENV \
     (default /opt/taskhost-test-venv)";

/// The build that is in bodhi update [`UPDATE`], tagged f40-updates-testing.
pub const NEW_NVR: &str = "taskhost-demo-1.0-1.fc40";
/// The older build, tagged f40 (the release itself).
pub const OLD_NVR: &str = "taskhost-demo-0.9-1.fc40";
/// The bodhi update holding [`NEW_NVR`].
pub const UPDATE: &str = "FEDORA-2024-7a5c1e0b9d";

/// tests/servers in the source tree (the e2e crate lives in host/).
pub fn servers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/servers")
}

/// The venv holding the official clients.
pub fn venv() -> PathBuf {
    std::env::var_os("TASKHOST_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/taskhost-test-venv"))
}

/// A program from the venv; fails the test when it is not installed.
pub fn client(name: &str) -> PathBuf {
    let path = venv().join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: {INSTALL_HINT}",
        path.display()
    );
    path
}

// ---- fixtures ----

/// What build_fixtures.py made: koji's topdir plus fixtures.json.
pub struct Fixtures {
    pub dir: PathBuf,
    pub json: Value,
}

impl Fixtures {
    /// The fixture entry of a build, by NVR.
    pub fn build(&self, nvr: &str) -> &Value {
        self.json["builds"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["nvr"] == nvr))
            .unwrap_or_else(|| panic!("no build {nvr} in the fixtures"))
    }

    /// The fixture entry of an RPM, by file name.
    pub fn rpm(&self, file_name: &str) -> &Value {
        self.json["builds"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|b| b["rpms"].as_array().into_iter().flatten())
            .find(|r| {
                r["file"]
                    .as_str()
                    .is_some_and(|f| f.ends_with(&format!("/{file_name}")))
            })
            .unwrap_or_else(|| panic!("no rpm {file_name} in the fixtures"))
    }
}

static FIXTURES: OnceLock<Fixtures> = OnceLock::new();

extern "C" fn remove_fixtures() {
    if let Some(f) = FIXTURES.get() {
        let _ = std::fs::remove_dir_all(&f.dir);
    }
}

/// The RPM fixtures, built once per test process; removed when it exits.
pub fn fixtures() -> &'static Fixtures {
    FIXTURES.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("taskhost-rpm-fixtures-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let out = Command::new("python3")
            .arg(servers_dir().join("build_fixtures.py"))
            .arg(&dir)
            .stdin(Stdio::null())
            .output();
        let ok = matches!(&out, Ok(out) if out.status.success());
        if !ok {
            let _ = std::fs::remove_dir_all(&dir);
            let why = match &out {
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(e) => format!("spawn python3: {e}"),
            };
            panic!("building the RPM fixtures failed ({INSTALL_HINT})\n{why}");
        }
        // SAFETY: registers a plain extern "C" function with no arguments.
        unsafe { libc::atexit(remove_fixtures) };
        let text = std::fs::read_to_string(dir.join("fixtures.json")).expect("fixtures.json");
        Fixtures {
            json: serde_json::from_str(&text).expect("fixtures.json is JSON"),
            dir,
        }
    })
}

// ---- servers ----

/// A server script running on 127.0.0.1; killed on drop.
pub struct Server {
    child: Child,
    /// http://127.0.0.1:PORT
    pub base: String,
}

impl Server {
    /// Starts tests/servers/SCRIPT and waits for its `listening on` line.
    pub fn start(script: &str, fixtures: Option<&Path>) -> Server {
        let mut cmd = Command::new("python3");
        cmd.arg(servers_dir().join(script)).args(["--port", "0"]);
        if let Some(dir) = fixtures {
            cmd.arg("--fixtures").arg(dir);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn python3 {script}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} did not start: first line {line:?}");
        };
        Server {
            base: base.to_string(),
            child,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The koji hub: XML-RPC at `url`, files under `topurl`.
pub struct KojiHub {
    pub url: String,
    pub topurl: String,
    _server: Server,
}

impl KojiHub {
    /// A hub serving the shared RPM fixtures.
    pub fn start() -> KojiHub {
        KojiHub::serving(&fixtures().dir)
    }

    /// A hub serving a fixtures directory of the caller's.
    pub fn serving(dir: &Path) -> KojiHub {
        let server = Server::start("koji_hub.py", Some(dir));
        KojiHub {
            url: format!("{}/kojihub", server.base),
            topurl: format!("{}/kojifiles", server.base),
            _server: server,
        }
    }

    /// Writes `HOME/.koji/config`: the koji CLI wants a profile even when
    /// --server and --topurl are given, and `bodhi updates download` runs a
    /// plain `koji download-build` that finds the hub only there.
    pub fn write_config(&self, home: &Path) {
        let dir = home.join(".koji");
        std::fs::create_dir_all(&dir).expect("mkdir .koji");
        std::fs::write(
            dir.join("config"),
            format!("[koji]\nserver = {}\ntopurl = {}\n", self.url, self.topurl),
        )
        .expect("write koji config");
    }

    /// `koji --server URL --topurl TOPURL --noauth ARGS` in `cwd`, with
    /// HOME at `cwd` (and a koji config there).
    pub fn koji(&self, cwd: &Path, args: &[&str]) -> Output {
        self.write_config(cwd);
        Command::new(client("koji"))
            .args(["--server", &self.url, "--topurl", &self.topurl, "--noauth"])
            .args(args)
            .env("HOME", cwd)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .output()
            .expect("spawn koji")
    }
}

/// The bodhi server at `url` (no trailing slash), which is also
/// bodhi-client's OpenID Connect provider at `id_provider`.
pub struct Bodhi {
    pub url: String,
    pub id_provider: String,
    _server: Server,
}

impl Bodhi {
    pub fn start() -> Bodhi {
        let server = Server::start("bodhi.py", Some(&fixtures().dir));
        Bodhi {
            url: server.base.clone(),
            id_provider: format!("{}/openidc", server.base),
            _server: server,
        }
    }

    /// `bodhi SUBCOMMAND... --url URL --id-provider IDP` in `cwd` (HOME too),
    /// with the venv's bin first on PATH so that the client's own
    /// `koji` subprocess is the venv's.
    pub fn bodhi(&self, cwd: &Path, args: &[&str]) -> Output {
        let path = std::env::var("PATH").unwrap_or_default();
        Command::new(client("bodhi"))
            .args(args)
            .args(["--url", &self.url, "--id-provider", &self.id_provider])
            .env("HOME", cwd)
            .env("PATH", format!("{}:{path}", venv().join("bin").display()))
            .env_remove("BODHI_URL")
            .env_remove("BODHI_OPENID_PROVIDER")
            .current_dir(cwd)
            .stdin(Stdio::null())
            .output()
            .expect("spawn bodhi")
    }
}

/// ResultsDB: the API v2.0 at `url`.
pub struct ResultsDb {
    pub url: String,
    _server: Server,
}

impl ResultsDb {
    pub fn start() -> ResultsDb {
        let server = Server::start("resultsdb.py", None);
        ResultsDb {
            url: format!("{}/api/v2.0", server.base),
            _server: server,
        }
    }

    /// Every result the server holds, newest first.
    pub fn results(&self) -> Vec<Value> {
        let (status, body) = get_json(&format!("{}/results?limit=1000", self.url));
        assert_eq!(status, 200, "GET results: {body}");
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// GET `{url}/{path}`: status and JSON body.
    pub fn get(&self, path: &str) -> (u16, Value) {
        get_json(&format!("{}/{path}", self.url))
    }
}

// ---- small helpers ----

/// A plain HTTP/1.0 GET: status and body.
pub fn http_get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = match rest.split_once('/') {
        Some((host, path)) => (host, format!("/{path}")),
        None => (rest, "/".to_string()),
    };
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, raw[split + 4..].to_vec())
}

/// GET a JSON document: status and body.
pub fn get_json(url: &str) -> (u16, Value) {
    let (status, body) = http_get(url);
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, value)
}

pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `rpm -qp` of a file: NAME-VERSION-RELEASE.ARCH as the header says
/// (ARCH "src" for a source package, which has no SOURCERPM).
pub fn rpm_nvra(path: &Path) -> String {
    let format = "%{NAME}-%{VERSION}-%{RELEASE}.%|SOURCERPM?{%{ARCH}}:{src}|";
    let out = Command::new("rpm")
        .args(["-qp", "--nosignature", "--qf", format])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("spawn rpm ({INSTALL_HINT}): {e}"));
    assert!(
        out.status.success(),
        "rpm -qp {}: {}",
        path.display(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts a client run's exit status, showing its output when it is wrong.
#[track_caller]
fn expect(out: &Output, success: bool) -> (String, String) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.success(),
        success,
        "{}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// The .rpm files in `dir`, sorted.
fn rpms_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".rpm"))
        .collect();
    names.sort();
    names
}

/// Each downloaded file is the fixture: same sha256, same header NVRA.
#[track_caller]
fn assert_fixture_copies(dir: &Path, names: &[String]) {
    let f = fixtures();
    for name in names {
        let path = dir.join(name);
        assert_eq!(sha256_file(&path), f.rpm(name)["sha256"], "{name}: sha256");
        assert_eq!(
            format!("{}.rpm", rpm_nvra(&path)),
            *name,
            "{name}: rpm header"
        );
    }
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

// ---- koji ----

#[test]
fn koji_cli_reads_builds_tags_and_latest() {
    let hub = KojiHub::start();
    let dir = scratch();
    let f = fixtures();
    let build = f.build(NEW_NVR);

    let out = hub.koji(dir.path(), &["call", "--json-output", "getBuild", NEW_NVR]);
    let info: Value = serde_json::from_str(&expect(&out, true).0).expect("getBuild JSON");
    assert_eq!(info["id"], build["build_id"]);
    assert_eq!(info["build_id"], build["build_id"]);
    assert_eq!(info["nvr"], NEW_NVR);
    assert_eq!(info["package_name"], "taskhost-demo");
    assert_eq!(
        (&info["version"], &info["release"]),
        (&build["version"], &build["release"])
    );
    assert_eq!(info["state"], 1, "COMPLETE");
    assert_eq!(info["task_id"], build["task_id"]);
    assert_eq!(info["volume_name"], "DEFAULT");
    assert!(info["epoch"].is_null());

    // buildinfo goes through getTaskInfo, listTags, listRPMs and a multicall.
    let (stdout, _) = expect(&hub.koji(dir.path(), &["buildinfo", NEW_NVR]), true);
    assert!(
        stdout.contains(&format!("BUILD: {NEW_NVR} [{}]", build["build_id"])),
        "{stdout}"
    );
    assert!(
        stdout.contains("Tags: f40-updates-candidate f40-updates-testing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Task: 112345 build (f40-candidate"),
        "{stdout}"
    );
    for rpm in build["rpms"].as_array().expect("rpms") {
        let file = rpm["file"].as_str().expect("file");
        assert!(stdout.contains(file), "{file} missing from\n{stdout}");
    }

    let (stdout, _) = expect(
        &hub.koji(dir.path(), &["list-tagged", "--quiet", "f40"]),
        true,
    );
    assert_eq!(stdout.split_whitespace().next(), Some(OLD_NVR), "{stdout}");
    assert!(!stdout.contains(NEW_NVR), "{stdout}");
    let args = ["list-tagged", "--quiet", "--inherit", "f40-updates-testing"];
    let (stdout, _) = expect(&hub.koji(dir.path(), &args), true);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(OLD_NVR) && lines[0].contains(" f40 "),
        "{stdout}"
    );
    assert!(lines[1].starts_with(NEW_NVR) && lines[1].contains("f40-updates-testing"));

    // listTagged(latest=True), as the koji directive's download_latest_stable
    // calls it: one build per package, the newest tagging first, a tag
    // before its parents.
    let args = [
        "list-tagged",
        "--quiet",
        "--latest",
        "--inherit",
        "f40-updates-testing",
    ];
    let (stdout, _) = expect(&hub.koji(dir.path(), &args), true);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].starts_with(&format!("{NEW_NVR} ")), "{stdout}");
    let args = [
        "list-tagged",
        "--quiet",
        "--latest-n",
        "2",
        "--inherit",
        "f40-updates-testing",
    ];
    let (stdout, _) = expect(&hub.koji(dir.path(), &args), true);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    for (tag, want) in [("f40-updates", None), ("f40", Some(OLD_NVR))] {
        let args = ["list-tagged", "--quiet", "--latest", tag, "taskhost-demo"];
        let (stdout, _) = expect(&hub.koji(dir.path(), &args), true);
        assert_eq!(
            stdout.split_whitespace().next(),
            want,
            "latest in {tag}: {stdout}"
        );
    }
    let args = [
        "call",
        "--json-output",
        "listTagged",
        "f40",
        "latest=True",
        "package=taskhost-demo",
    ];
    let (stdout, _) = expect(&hub.koji(dir.path(), &args), true);
    let tagged: Value = serde_json::from_str(&stdout).expect("listTagged JSON");
    assert_eq!(tagged[0]["nvr"], OLD_NVR, "{tagged}");
    assert_eq!(tagged[0]["tag_name"], "f40", "{tagged}");
    assert_eq!(tagged.as_array().map(Vec::len), Some(1), "{tagged}");

    // f40-updates holds nothing itself: the latest comes through inheritance.
    for (tag, nvr) in [("f40-updates", OLD_NVR), ("f40-updates-testing", NEW_NVR)] {
        let out = hub.koji(
            dir.path(),
            &["latest-build", "--quiet", tag, "taskhost-demo"],
        );
        let (stdout, _) = expect(&out, true);
        assert_eq!(
            stdout.split_whitespace().next(),
            Some(nvr),
            "latest in {tag}"
        );
    }
    let args = [
        "latest-build",
        "--arch",
        "i686",
        "--paths",
        "f40-updates",
        "taskhost-demo",
    ];
    let (stdout, _) = expect(&hub.koji(dir.path(), &args), true);
    assert!(
        stdout
            .contains("/packages/taskhost-demo/0.9/1.fc40/i686/taskhost-demo-0.9-1.fc40.i686.rpm"),
        "{stdout}"
    );
}

#[test]
fn koji_cli_gets_real_faults() {
    let hub = KojiHub::start();
    let dir = scratch();
    // Not strict: a missing build is None, not a fault.
    let out = hub.koji(dir.path(), &["call", "getBuild", "nosuch-1-1.fc40"]);
    assert_eq!(expect(&out, true).0.trim(), "None");
    let cases: [(&[&str], &str); 5] = [
        (
            &["call", "getBuild", "nosuch-1-1.fc40", "strict=True"],
            "GenericError: No such build: nosuch-1-1.fc40",
        ),
        (
            &["call", "getBuild", "garbage"],
            "GenericError: invalid format: garbage",
        ),
        (
            &["latest-build", "nosuch", "taskhost-demo"],
            "GenericError: No such entry in table tag: nosuch",
        ),
        (
            &["call", "noSuchMethod"],
            "GenericError: Invalid method: noSuchMethod",
        ),
        (&["call", "getBuild"], "ParameterError: "),
    ];
    for (args, message) in cases {
        let (_, stderr) = expect(&hub.koji(dir.path(), args), false);
        assert!(
            stderr.contains(message),
            "{args:?}: want {message:?} in\n{stderr}"
        );
    }
    let (_, stderr) = expect(&hub.koji(dir.path(), &["list-tagged", "nosuch"]), false);
    assert!(stderr.contains("No such tag: nosuch"), "{stderr}");
}

#[test]
fn koji_download_build_fetches_checked_rpms() {
    let hub = KojiHub::start();
    let dir = scratch();
    let args = [
        "download-build",
        "--noprogress",
        "--arch=x86_64",
        "--arch=noarch",
        NEW_NVR,
    ];
    expect(&hub.koji(dir.path(), &args), true);
    let got = rpms_in(dir.path());
    assert_eq!(
        got,
        [
            "taskhost-demo-1.0-1.fc40.x86_64.rpm",
            "taskhost-demo-docs-1.0-1.fc40.noarch.rpm"
        ],
        "no i686, no src, no debuginfo without --debuginfo"
    );
    assert_fixture_copies(dir.path(), &got);

    let all = scratch();
    let args = ["download-build", "--noprogress", "--debuginfo", OLD_NVR];
    expect(&hub.koji(all.path(), &args), true);
    let got = rpms_in(all.path());
    let mut want: Vec<String> = fixtures().build(OLD_NVR)["rpms"]
        .as_array()
        .expect("rpms")
        .iter()
        .map(|r| {
            r["file"]
                .as_str()
                .expect("file")
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    want.sort();
    assert_eq!(want.len(), 6, "src, 2 x (main, debuginfo), noarch docs");
    assert_eq!(got, want);
    assert_fixture_copies(all.path(), &got);
}

#[test]
fn koji_download_build_refuses_rpms_that_do_not_match_the_hub() {
    // A copy of the fixtures where the x86_64 RPM is really the i686 one
    // cut to the same size: size checks pass, the header's sigmd5 does not.
    let copy = scratch();
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fixtures().dir.display()))
        .arg(copy.path())
        .status()
        .expect("cp");
    assert!(status.success());
    let base = copy.path().join("packages/taskhost-demo/1.0/1.fc40");
    let x86 = base.join("x86_64/taskhost-demo-1.0-1.fc40.x86_64.rpm");
    let mut bytes = std::fs::read(base.join("i686/taskhost-demo-1.0-1.fc40.i686.rpm")).unwrap();
    bytes.resize(std::fs::metadata(&x86).unwrap().len() as usize, 0);
    std::fs::write(&x86, bytes).unwrap();

    let hub = KojiHub::serving(copy.path());
    let dir = scratch();
    let args = ["download-build", "--noprogress", "--arch=x86_64", NEW_NVR];
    let (_, stderr) = expect(&hub.koji(dir.path(), &args), false);
    assert!(stderr.contains("doesn't match db, deleting"), "{stderr}");
    assert!(rpms_in(dir.path()).is_empty(), "the bad file was kept");
}

#[test]
fn koji_build_logs_are_served_at_the_topurl() {
    let hub = KojiHub::start();
    let dir = scratch();
    let out = hub.koji(
        dir.path(),
        &["call", "--json-output", "getBuildLogs", NEW_NVR],
    );
    let logs: Value = serde_json::from_str(&expect(&out, true).0).expect("getBuildLogs JSON");
    let logs = logs.as_array().expect("a list");
    assert_eq!(logs.len(), 2, "{logs:?}");
    for arch in ["x86_64", "i686"] {
        let log = logs
            .iter()
            .find(|l| l["dir"] == arch)
            .expect("a log per arch");
        assert_eq!(log["name"], "build.log");
        let path = log["path"].as_str().expect("path");
        assert_eq!(
            path,
            format!("packages/taskhost-demo/1.0/1.fc40/data/logs/{arch}/build.log")
        );
        let (status, body) = http_get(&format!("{}/{path}", hub.topurl));
        assert_eq!(status, 200);
        let want = &fixtures().build(NEW_NVR)["logs"];
        let want = want
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["arch"] == arch)
            .unwrap();
        use sha2::Digest;
        assert_eq!(hex::encode(sha2::Sha256::digest(&body)), want["sha256"]);
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains(&format!("--target {arch}")), "{body}");
    }
    let (status, _) = http_get(&format!("{}/packages/../../etc/passwd", hub.topurl));
    assert_eq!(status, 404);
}

// ---- bodhi ----

#[test]
fn bodhi_client_queries_updates() {
    let bodhi = Bodhi::start();
    let dir = scratch();
    let out = bodhi.bodhi(dir.path(), &["updates", "query", "--updateid", UPDATE]);
    let (stdout, _) = expect(&out, true);
    for want in [
        format!("Update ID: {UPDATE}"),
        format!("     {NEW_NVR}"),
        "Release: Fedora 40".to_string(),
        "Status: testing".to_string(),
        "Submitter: taskhost-packager".to_string(),
        format!("{}/updates/{UPDATE}", bodhi.url),
        "1 updates found (1 shown)".to_string(),
    ] {
        assert!(stdout.contains(&want), "want {want:?} in\n{stdout}");
    }
    let args = ["updates", "query", "--builds", NEW_NVR, "--releases", "f40"];
    let (stdout, _) = expect(&bodhi.bodhi(dir.path(), &args), true);
    assert!(stdout.contains(&format!("Update ID: {UPDATE}")), "{stdout}");
    let args = ["updates", "query", "--updateid", "FEDORA-2024-0000000000"];
    let (stdout, _) = expect(&bodhi.bodhi(dir.path(), &args), true);
    assert!(stdout.contains("0 updates found (0 shown)"), "{stdout}");
    let args = ["updates", "query", "--releases", "F99"];
    let (_, stderr) = expect(&bodhi.bodhi(dir.path(), &args), false);
    assert!(
        stderr.contains("Invalid releases specified: F99"),
        "{stderr}"
    );

    // The same data straight from the REST API.
    let (status, body) = get_json(&format!("{}/updates/{UPDATE}", bodhi.url));
    assert_eq!(status, 200);
    let update = &body["update"];
    assert_eq!(update["alias"], UPDATE);
    assert_eq!(update["builds"][0]["nvr"], NEW_NVR);
    assert_eq!(update["builds"][0]["type"], "rpm");
    assert_eq!(update["release"]["dist_tag"], "f40");
    assert_eq!(update["release"]["testing_tag"], "f40-updates-testing");
    assert_eq!(body["can_edit"], false);
    let (status, body) = get_json(&format!("{}/updates/FEDORA-2024-0000000000", bodhi.url));
    assert_eq!(status, 404);
    assert_eq!(body["status"], "error");
    assert_eq!(body["errors"][0]["description"], "Invalid update id");
    let (status, body) = get_json(&format!(
        "{}/updates/?alias={UPDATE}&rows_per_page=5",
        bodhi.url
    ));
    assert_eq!(status, 200);
    assert_eq!(body["total"], 1);
    assert_eq!(body["page"], 1);
    assert_eq!(body["pages"], 1);
    assert_eq!(body["rows_per_page"], 5);
    assert_eq!(body["updates"][0]["alias"], UPDATE);
}

/// bodhi-client's bindings, fetching `GET /updates/ID` as the bodhi
/// directive does and formatting it with the CLI's own `update_str`; prints
/// JSON.
const BODHI_GET_UPDATE: &str = r#"
import json, sys
from bodhi.client.bindings import BodhiClient, BodhiClientException
client = BodhiClient(base_url=sys.argv[1], id_provider=sys.argv[2])
got = client.send_request("updates/" + sys.argv[3], verb="GET")
try:
    client.send_request("updates/FEDORA-2024-0000000000", verb="GET")
    missing = None
except BodhiClientException as e:
    missing = json.loads(str(e))
print(json.dumps({"got": got, "text": client.update_str(got["update"]), "missing": missing}))
"#;

#[test]
fn bodhi_client_gets_an_update_by_its_id() {
    let bodhi = Bodhi::start();
    let dir = scratch();
    let out = Command::new(client("python"))
        .args([
            "-c",
            BODHI_GET_UPDATE,
            &bodhi.url,
            &bodhi.id_provider,
            UPDATE,
        ])
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("spawn python");
    let (stdout, _) = expect(&out, true);
    let got: Value = serde_json::from_str(&stdout).expect("client output JSON");
    let update = &got["got"]["update"];
    assert_eq!(update["alias"], UPDATE);
    assert_eq!(update["content_type"], "rpm");
    let nvrs: Vec<&Value> = update["builds"]
        .as_array()
        .expect("builds")
        .iter()
        .map(|b| &b["nvr"])
        .collect();
    assert_eq!(nvrs, [NEW_NVR]);
    let text = got["text"].as_str().expect("update_str");
    for want in [
        format!("Update ID: {UPDATE}"),
        format!("     {NEW_NVR}"),
        "Status: testing".to_string(),
    ] {
        assert!(text.contains(&want), "want {want:?} in\n{text}");
    }
    assert_eq!(
        got["missing"]["errors"][0]["description"], "Invalid update id",
        "{got}"
    );
}

#[test]
fn bodhi_client_downloads_an_update_through_the_koji_hub() {
    let hub = KojiHub::start();
    let bodhi = Bodhi::start();
    let dir = scratch();
    // bodhi-client runs a bare `koji download-build`: the hub is found
    // through HOME/.koji/config, and `koji` through PATH.
    hub.write_config(dir.path());
    let args = [
        "updates",
        "download",
        "--updateid",
        UPDATE,
        "--arch",
        "i686",
    ];
    let (stdout, stderr) = expect(&bodhi.bodhi(dir.path(), &args), true);
    assert!(
        stdout.contains(&format!("Downloading packages from {UPDATE}")),
        "{stdout}"
    );
    assert!(!stderr.contains("WARNING"), "{stderr}");
    let got = rpms_in(dir.path());
    assert_eq!(
        got,
        [
            "taskhost-demo-1.0-1.fc40.i686.rpm",
            "taskhost-demo-docs-1.0-1.fc40.noarch.rpm"
        ]
    );
    assert_fixture_copies(dir.path(), &got);
}

// ---- ResultsDB ----

/// Uses resultsdb_api as a Taskotron-style reporter would; prints JSON.
const RESULTSDB_CLIENT: &str = r#"
import json, sys, resultsdb_api
api = resultsdb_api.ResultsDBapi(sys.argv[1])
group = api.create_group(description="taskhost job 1", ref_url="http://example.org/jobs/1")
result = api.create_result(
    "passed", {"name": "dist.rpmlint", "ref_url": "http://example.org/rpmlint"},
    groups=[group["uuid"]], note="0 errors, 1 warnings", ref_url="http://example.org/log",
    item="taskhost-demo-1.0-1.fc40", type="koji_build", arch=["x86_64", "i686"])
try:
    api.create_result("BOGUS", "dist.rpmlint", item="x")
    refused = None
except resultsdb_api.ResultsDBapiException as e:
    refused = {"status": e.response.status_code, "body": e.response.json()}
found = api.get_results(item="taskhost-demo-1.0-1.fc40", testcases="dist.rpmlint")
print(json.dumps({"group": group, "result": result, "refused": refused, "found": found}))
"#;

#[test]
fn resultsdb_api_creates_results_the_server_keeps() {
    let rdb = ResultsDb::start();
    let out = Command::new(client("python"))
        .args(["-c", RESULTSDB_CLIENT, &rdb.url])
        .stdin(Stdio::null())
        .output()
        .expect("spawn python");
    let (stdout, _) = expect(&out, true);
    let got: Value = serde_json::from_str(&stdout).expect("client output JSON");

    let result = &got["result"];
    assert_eq!(result["outcome"], "PASSED", "outcomes are upper-cased");
    assert_eq!(result["testcase"]["name"], "dist.rpmlint");
    assert_eq!(result["groups"][0], got["group"]["uuid"]);
    assert_eq!(result["data"]["item"][0], NEW_NVR);
    assert_eq!(
        result["data"]["arch"],
        serde_json::json!(["x86_64", "i686"])
    );
    assert_eq!(got["found"]["data"][0]["id"], result["id"]);

    let refused = &got["refused"];
    assert_eq!(refused["status"], 400);
    let error = &refused["body"]["validation_error"]["body_params"][0];
    assert_eq!(error["loc"][0], "outcome");
    assert!(
        error["msg"]
            .as_str()
            .unwrap()
            .starts_with("must be one of: PASSED, INFO")
    );

    // What the server kept, read back over its own API.
    let all = rdb.results();
    assert_eq!(all.len(), 1, "the refused result was not stored: {all:?}");
    assert_eq!(all[0]["note"], "0 errors, 1 warnings");
    assert_eq!(all[0]["ref_url"], "http://example.org/log");
    let id = all[0]["id"].as_i64().expect("id");
    let (status, one) = rdb.get(&format!("results/{id}"));
    assert_eq!(
        (status, &one["data"]["type"][0]),
        (200, &Value::from("koji_build"))
    );
    let uuid = got["group"]["uuid"].as_str().expect("uuid");
    let (status, group) = rdb.get(&format!("groups/{uuid}"));
    assert_eq!((status, &group["results_count"]), (200, &Value::from(1)));
    assert_eq!(group["description"], "taskhost job 1");
    let (status, tc) = rdb.get("testcases/dist.rpmlint");
    assert_eq!(
        (status, &tc["ref_url"]),
        (200, &Value::from("http://example.org/rpmlint"))
    );
    let (status, missing) = rdb.get("results/999");
    assert_eq!(
        (status, &missing["message"]),
        (404, &Value::from("Result not found"))
    );
}
