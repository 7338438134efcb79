//! The mmdebstrap plugin and the unshare backend against a real Debian
//! mirror: slow (a bootstrap takes about a minute), so they are ignored by
//! a plain `cargo test`; `--include-ignored` runs them, as `.ci/run` does.
//!
//! The environments are Debian 13 (trixie) while the host is Debian 12, so
//! what a command reports (os-release, a tool's version) shows where it ran.
//! The mirror comes from this machine's apt sources; no mirror host name
//! is written here.

use crate::deny::debug_log;
use crate::pkg::Package;
use crate::{Env, Ran, report};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The envrun test plugin (tests/plugins/envrun).
pub(crate) const ENVRUN: &str = env!("TASKHOST_TEST_PLUGIN_ENVRUN");
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The suite of the shared environment: not the host's (bookworm).
pub(crate) const SUITE: &str = "trixie";

/// The first http(s) URI of the machine's apt sources for Debian's main
/// archive (the one that serves bookworm).
pub(crate) fn mirror() -> String {
    let mut candidates = Vec::new();
    let dir = Path::new("/etc/apt/sources.list.d");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "sources"))
    {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                    .unwrap_or_default()
            };
            let suites = field("Suites:");
            for uri in field("URIs:").split_whitespace() {
                candidates.push((
                    uri.to_string(),
                    suites.split_whitespace().any(|s| s == "bookworm"),
                ));
            }
        }
    }
    let list = std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    for line in list.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.first() == Some(&"deb") {
            let rest: Vec<&str> = parts[1..]
                .iter()
                .copied()
                .filter(|p| !p.starts_with('['))
                .collect();
            if let [uri, suite, ..] = rest.as_slice() {
                candidates.push((uri.to_string(), *suite == "bookworm"));
            }
        }
    }
    candidates.sort_by_key(|(_, bookworm)| !bookworm);
    candidates
        .into_iter()
        .map(|(uri, _)| uri)
        .find(|u| u.starts_with("http://") || u.starts_with("https://"))
        .expect("no http(s) mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list")
        .trim_end_matches('/')
        .to_string()
}

/// The policy of these tests: the mmdebstrap plugin with the mirror and
/// the loopback keyring server, envrun, lintian and blhc on both backends.
fn policy(env: &Env, keyring_server: &str) -> PathBuf {
    let mirror = mirror();
    env.write(
        "policy.toml",
        &format!(
            r#"
[plugins.mmdebstrap]
exec = ["mmdebstrap **"]
backends = ["local"]
urls = ["{mirror}/", "{keyring_server}/", "file:///usr/share/keyrings/", "file:///usr/local/share/keyrings/"]

[plugins.envrun]
sha256 = ["{envrun}"]
exec = ["cat **", "id **", "ls **", "sh **", "touch **", "stat **", "true **"]
backends = ["local", "unshare"]
lookups = ["debian/match:*", "hostile/match:*"]

[plugins.lintian]
exec = [
    "lintian --no-cfg --display-level >=classification --display-experimental --info --show-overrides **",
    "dpkg-query -W -f=${{Version}} lintian",
]
backends = ["local", "unshare"]
lookups = ["debian/match:*"]

[plugins.blhc]
exec = ["blhc --debian **"]
backends = ["local", "unshare"]
lookups = ["debian/match:*"]
"#,
            envrun = taskhost::manifest::digest(&std::fs::read(ENVRUN).expect("envrun plugin")),
        ),
    )
}

/// A loopback HTTP server serving the Debian archive keyring at
/// `/keyring.gpg`, for the keyring download tests.
struct KeyringServer {
    url: String,
}

fn keyring_server() -> &'static KeyringServer {
    static SERVER: OnceLock<KeyringServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        std::thread::spawn(move || {
            let body = std::fs::read(KEYRING).expect("debian-archive-keyring is installed");
            for stream in listener.incoming().flatten() {
                serve_one(stream, &body);
            }
        });
        KeyringServer { url }
    })
}

/// Answers one request: the keyring for /keyring.gpg, else 404.
fn serve_one(mut stream: std::net::TcpStream, body: &[u8]) {
    let mut request = [0u8; 4096];
    let n = stream.read(&mut request).unwrap_or(0);
    let head = String::from_utf8_lossy(&request[..n]);
    let found = head.starts_with("GET /keyring.gpg ");
    let (status, body): (&str, &[u8]) = if found {
        ("200 OK", body)
    } else {
        ("404 Not Found", b"")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(body);
}

/// One store for all these tests, holding the bootstrapped tarballs.
pub(crate) struct Shared {
    pub(crate) env: Env,
    pub(crate) policy: PathBuf,
    /// The minbase tarball's artifact.
    minbase: Value,
}

pub(crate) fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        assert!(
            !host.contains(&format!("VERSION_CODENAME={SUITE}")),
            "the host runs {SUITE} too: these tests could not tell the environment from it"
        );
        let env = Env::shared("unshare");
        let policy = policy(&env, &keyring_server().url);
        let data = json!({
            "bootstrap_options": {"architecture": arch(), "variant": "minbase"},
            "bootstrap_repositories": [{"mirror": mirror(), "suite": SUITE, "components": ["main"]}],
        });
        let ran = mmdebstrap(&env, &policy, &data);
        ran.expect(0);
        let minbase = tarball_of(&env, &ran);
        Shared { env, policy, minbase }
    })
}

fn arch() -> String {
    let out = std::process::Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .expect("dpkg");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn mmdebstrap(env: &Env, policy: &Path, data: &Value) -> Ran {
    let file = env.write(&format!("mmdebstrap-{}.json", unique()), &data.to_string());
    env.run(&[
        "run",
        "mmdebstrap",
        "--policy",
        policy.to_str().expect("utf-8"),
        "--data",
        file.to_str().expect("utf-8"),
        "--format",
        "json",
    ])
}

/// The debian:system-tarball artifact a run created.
fn tarball_of(env: &Env, ran: &Ran) -> Value {
    let report = report(ran);
    let ids: Vec<u64> = report["artifacts"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    env.artifacts()
        .into_iter()
        .find(|a| {
            a["category"] == "debian:system-tarball"
                && a["id"].as_u64().is_some_and(|id| ids.contains(&id))
        })
        .unwrap_or_else(|| panic!("no system tarball after\n{}\n{}", ran.stdout, ran.stderr))
}

/// Artifacts a run's JSON report lists (none when it printed no report).
fn created(ran: &Ran) -> Vec<Value> {
    serde_json::from_str::<Value>(&ran.stdout)
        .ok()
        .and_then(|r| r["artifacts"].as_array().cloned())
        .unwrap_or_default()
}

/// Runs envrun with `data` in the shared store; returns the report.
fn envrun(data: &Value, extra: &[&str]) -> (Ran, Value) {
    let s = shared();
    let file = s
        .env
        .write(&format!("envrun-{}.json", unique()), &data.to_string());
    let mut args = vec![
        "run",
        ENVRUN,
        "--policy",
        s.policy.to_str().expect("utf-8"),
        "--data",
        file.to_str().expect("utf-8"),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let ran = s.env.run(&args);
    let report = if ran.stdout.trim_start().starts_with('{') {
        report(&ran)
    } else {
        Value::Null
    };
    (ran, report)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn note(report: &Value, i: usize) -> String {
    report["results"][i]["note"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The `./dev/` character and block devices GNU tar lists in an
/// artifact's system.tar.xz.
fn dev_nodes_in_tarball(env: &Env, artifact: &Value) -> Vec<String> {
    let id = artifact["id"].as_u64().expect("id").to_string();
    let dir = env.path(&format!("export-{}", unique()));
    env.run(&["artifact", "export", &id, dir.to_str().expect("utf-8")])
        .expect(0);
    let out = std::process::Command::new("tar")
        .arg("--list")
        .arg("--verbose")
        .arg("--file")
        .arg(dir.join("system.tar.xz"))
        .output()
        .expect("tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('c') || l.starts_with('b'))
        .filter_map(|l| l.split_whitespace().last())
        .filter(|name| name.starts_with("./dev/"))
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn bootstrap_makes_a_trixie_minbase_tarball() {
    let s = shared();
    let a = &s.minbase;
    let data = &a["data"];
    assert_eq!(data["codename"], SUITE, "{a}");
    assert_eq!(data["vendor"], "debian", "{a}");
    assert_eq!(data["variant"], "minbase", "{a}");
    assert_eq!(data["architecture"], arch().as_str(), "{a}");
    assert_eq!(data["components"], json!(["main"]), "{a}");
    assert_eq!(data["mirror"], mirror().as_str(), "{a}");
    // with_dev says what the tarball holds, as GNU tar reads it.
    let nodes = dev_nodes_in_tarball(&s.env, a);
    assert!(nodes.contains(&"./dev/null".to_string()), "{nodes:?}");
    assert_eq!(data["with_dev"], true, "{a}");
    // minbase has no init system.
    assert_eq!(data["with_init"], false, "{a}");
    let pkglist = data["pkglist"].as_object().expect("pkglist object");
    assert!(pkglist.contains_key("base-files"), "{a}");
    assert!(pkglist.contains_key("apt"), "{a}");
    assert!(!pkglist.contains_key("systemd-sysv"), "{a}");
    assert_eq!(data["filename"], "system.tar.xz");
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn a_command_in_the_environment_sees_debian_13() {
    let (ran, report) = envrun(
        &json!({
            "environment": "debian/match:codename=trixie:variant=minbase",
            "steps": [
                {"run": {"argv": ["cat", "/etc/os-release"]}},
                {"run": {"argv": ["id", "-u"]}},
                {"run": {"argv": ["id", "-u"], "root": true}},
            ]
        }),
        &[],
    );
    ran.expect(0);
    // The host is Debian 12: only the environment has this os-release.
    assert!(note(&report, 0).contains("VERSION_ID=\"13\""), "{report}");
    assert!(
        note(&report, 0).contains("VERSION_CODENAME=trixie"),
        "{report}"
    );
    assert_eq!(note(&report, 1).trim(), "65534", "{report}");
    assert_eq!(note(&report, 2).trim(), "0", "{report}");
    assert_eq!(
        report["results"][0]["keyvals"]["backend"], "unshare",
        "{report}"
    );
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn push_and_pull_copy_files_in_and_out() {
    let id = shared().minbase["id"].as_u64().expect("id");
    let (ran, report) = envrun(
        &json!({
            "environment": id,
            "backend": "unshare",
            "steps": [
                {"push": {"content": "pushed in\n", "path": "in.txt", "target": "/etc/taskhost-pushed"}},
                {"run": {"argv": ["cat", "/etc/taskhost-pushed"]}},
                {"pull": {"source": "/etc/debian_version", "path": "debian_version"}},
                {"pull": {"source": "/no/such/file", "path": "missing"}},
            ]
        }),
        &[],
    );
    ran.expect(100);
    assert_eq!(note(&report, 1), "pushed in\n", "{report}");
    assert!(note(&report, 2).starts_with("13."), "{report}");
    assert_eq!(report["results"][3]["outcome"], "FAILED", "{report}");
    assert!(note(&report, 3).contains("pull /no/such/file"), "{report}");
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn the_environment_hides_the_host_root_and_the_store() {
    let s = shared();
    let marker = format!("/root/.taskhost-test-marker-{}", std::process::id());
    std::fs::write(&marker, "host secret").expect("write marker in /root (the tests run as root)");
    let store = s.env.store();
    let (ran, report) = envrun(
        &json!({
            "environment": "debian/match:codename=trixie:variant=minbase",
            "steps": [
                {"run": {"argv": ["ls", "-a", "/root"], "root": true}},
                {"run": {"argv": ["cat", marker], "root": true}},
                {"run": {"argv": ["ls", store.to_str().expect("utf-8")], "root": true}},
                {"run": {"argv": ["sh", "-c", "cat /proc/1/cmdline; echo; ls /proc | grep -c '^[0-9]'"], "root": true}},
            ]
        }),
        &[],
    );
    let _ = std::fs::remove_file(&marker);
    ran.expect(100);
    assert!(
        !note(&report, 0).contains("taskhost-test-marker"),
        "{report}"
    );
    assert_eq!(report["results"][1]["outcome"], "FAILED", "{report}");
    assert!(!note(&report, 1).contains("host secret"), "{report}");
    assert_eq!(report["results"][2]["outcome"], "FAILED", "{report}");
    assert!(note(&report, 2).contains("No such file"), "{report}");
    // pid 1 of the namespace is the holder, and few processes are visible.
    let procs = note(&report, 3);
    assert!(procs.starts_with("cat"), "{report}");
    let count: usize = procs
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(99);
    assert!(count < 10, "{report}");
}

/// What mmdebstrap puts in a system's /dev (and the tarball holds).
const ENVIRONMENT_DEV: &[&str] = &[
    "console", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
    "tty", "urandom", "zero",
];

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn the_environment_s_dev_holds_only_the_basic_device_nodes() {
    // The host's own devices (disks, kvm, loop, ttyN, ...) that a system
    // tarball never holds: none of them may show inside.
    let host_only: Vec<String> = std::fs::read_dir("/dev")
        .expect("read /dev")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| !ENVIRONMENT_DEV.contains(&name.as_str()))
        .collect();
    assert!(!host_only.is_empty(), "the host's /dev has nothing to hide");
    let (ran, report) = envrun(
        &json!({
            "environment": "debian/match:codename=trixie:variant=minbase",
            "steps": [
                {"run": {"argv": ["ls", "-A", "/dev"], "root": true}},
                {"run": {"argv": ["sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c"]}},
            ]
        }),
        &[],
    );
    ran.expect(0);
    let inside: Vec<String> = note(&report, 0)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let leaked: Vec<&String> = inside.iter().filter(|n| host_only.contains(n)).collect();
    assert!(
        leaked.is_empty(),
        "the host's device nodes {leaked:?} are visible in the environment's /dev: {inside:?}"
    );
    for name in ["null", "zero", "urandom", "pts"] {
        assert!(
            inside.iter().any(|n| n == name),
            "no /dev/{name}: {inside:?}"
        );
    }
    let unexpected: Vec<&String> = inside
        .iter()
        .filter(|n| !ENVIRONMENT_DEV.contains(&n.as_str()) && *n != "mqueue")
        .collect();
    assert!(unexpected.is_empty(), "unexpected in /dev: {unexpected:?}");
    // The nodes work for an unprivileged command.
    assert_eq!(note(&report, 1).trim(), "4", "{report}");
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn the_policy_can_forbid_the_unshare_backend() {
    let (ran, _) = envrun(
        &json!({
            "environment": "debian/match:codename=trixie:variant=minbase",
            "steps": [{"run": {"argv": ["true"]}}]
        }),
        &["--deny-backend", "unshare"],
    );
    assert_ne!(ran.code, 0);
    assert!(
        ran.stderr.contains("may not use backend `auto (unshare)`")
            && ran.stderr.contains("--deny-backend unshare"),
        "{}",
        ran.stderr
    );
    // A lookup that matches nothing names the query.
    let (ran, _) = envrun(
        &json!({"environment": "debian/match:codename=hamm", "steps": []}),
        &[],
    );
    ran.expect(2);
    assert!(
        ran.stderr
            .contains("no debian:system-tarball or debian:system-image artifact matches 'debian/match:codename=hamm'"),
        "{}",
        ran.stderr
    );
}

// ---- keyrings, customization, no-check ----------------------------------

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn keyrings_with_a_wrong_sum_or_outside_the_keyring_dirs_are_refused() {
    let s = shared();
    let server = &keyring_server().url;
    let repo = |keyring: Value| {
        json!({
            "bootstrap_options": {"architecture": arch(), "variant": "minbase"},
            "bootstrap_repositories": [{
                "mirror": mirror(), "suite": "bookworm", "components": ["main"],
                "check_signature_with": "external", "keyring": keyring,
            }],
        })
    };
    let wrong = "0".repeat(64);
    let ran = mmdebstrap(
        &s.env,
        &s.policy,
        &repo(json!({"url": format!("{server}/keyring.gpg"), "sha256sum": wrong})),
    );
    assert_ne!(ran.code, 0, "{}", ran.stdout);
    assert!(
        ran.stderr.contains("sha256") && ran.stderr.contains(&wrong),
        "{}",
        ran.stderr
    );
    assert_eq!(created(&ran), Vec::<Value>::new(), "{}", ran.stdout);

    let ran = mmdebstrap(
        &s.env,
        &s.policy,
        &repo(json!({"url": "file:///etc/passwd"})),
    );
    ran.expect(2);
    assert!(ran.stderr.contains("/usr/share/keyrings"), "{}", ran.stderr);
    assert_eq!(created(&ran), Vec::<Value>::new(), "{}", ran.stdout);

    let ran = mmdebstrap(
        &s.env,
        &s.policy,
        &repo(json!({"url": "file:///usr/share/keyrings/../../../etc/passwd"})),
    );
    ran.expect(2);
    assert!(
        ran.stderr.contains("keyring.url: '..' is not allowed"),
        "{}",
        ran.stderr
    );
    // The refused runs stored nothing but their logs.
    assert_eq!(created(&ran), Vec::<Value>::new(), "{}", ran.stdout);
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn customization_script_external_keyring_and_no_check() {
    let s = shared();
    let server = &keyring_server().url;
    let sum = sha256_file(KEYRING);
    let data = json!({
        "bootstrap_options": {"architecture": arch(), "variant": "minbase", "extra_packages": ["systemd-sysv"]},
        "bootstrap_repositories": [
            {
                "mirror": mirror(), "suite": "bookworm", "components": ["main"],
                "check_signature_with": "external",
                "keyring": {"url": format!("{server}/keyring.gpg"), "sha256sum": sum, "install": true},
            },
            {"mirror": mirror(), "suite": "bookworm-updates", "check_signature_with": "no-check"},
        ],
        "customization_script": "#!/bin/sh\nset -e\necho customized > /etc/taskhost-customized\n",
    });
    let ran = mmdebstrap(&s.env, &s.policy, &data);
    ran.expect(0);
    let tarball = tarball_of(&s.env, &ran);
    assert_eq!(tarball["data"]["with_init"], true, "{tarball}");
    assert!(
        tarball["data"]["pkglist"]["systemd-sysv"].is_string(),
        "{tarball}"
    );
    // The components of bookworm-updates came from its Release file.
    let id = tarball["id"].as_u64().expect("id");
    let (ran, report) = envrun(
        &json!({
            "environment": id,
            "steps": [
                {"run": {"argv": ["cat", "/etc/taskhost-customized"]}},
                {"run": {"argv": ["sh", "-c", "cat /etc/apt/sources.list.d/*.sources"]}},
                {"run": {"argv": ["sh", "-c", "ls /usr/share/keyrings /etc/apt/keyrings 2>/dev/null"]}},
                {"run": {"argv": ["ls", "/"]}},
            ]
        }),
        &[],
    );
    ran.expect(0);
    assert_eq!(note(&report, 0), "customized\n", "{report}");
    let sources = note(&report, 1);
    assert!(sources.contains("Suites: bookworm-updates"), "{sources}");
    assert!(sources.contains("Trusted: yes"), "{sources}");
    assert!(sources.contains("Signed-By:"), "{sources}");
    // The external keyring was installed (install: true).
    assert!(note(&report, 2).contains("taskhost-repo-0.gpg"), "{report}");
    // The script was removed after it ran.
    assert!(note(&report, 3).contains("etc"), "{report}");
    assert!(!note(&report, 3).contains("customization"), "{report}");
}

fn sha256_file(path: &str) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

// ---- hostile tarballs --------------------------------------------------

/// A tar header for `name` written raw, so `..` and absolute names get in.
fn raw_entry(out: &mut Vec<u8>, name: &str, kind: u8, link: &str, body: &[u8]) {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000755\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", body.len()).as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = kind;
    header[157..157 + link.len()].copy_from_slice(link.as_bytes());
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn a_hostile_tarball_cannot_write_outside_the_cache() {
    let s = shared();
    // A world-writable target, so only the unpacking itself can stop it.
    let outside = s.env.path(&format!("outside-{}", unique()));
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::set_permissions(
        &outside,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let o = outside.to_str().expect("utf-8");
    let mut tar = Vec::new();
    raw_entry(&mut tar, "./", b'5', "", b"");
    raw_entry(&mut tar, "./etc/", b'5', "", b"");
    raw_entry(&mut tar, "./etc/os-release", b'0', "", b"ID=hostile\n");
    raw_entry(&mut tar, "./etc/evil", b'2', o, b"");
    raw_entry(&mut tar, "./etc/evil/through-link", b'0', "", b"pwned\n");
    raw_entry(
        &mut tar,
        &format!("../../../../../../..{o}/dotdot"),
        b'0',
        "",
        b"pwned\n",
    );
    raw_entry(&mut tar, &format!("{o}/absolute"), b'0', "", b"pwned\n");
    raw_entry(&mut tar, "./rel", b'2', "../../../../../../..", b"");
    raw_entry(
        &mut tar,
        &format!("./rel{o}/via-relative-link"),
        b'0',
        "",
        b"pwned\n",
    );
    tar.extend_from_slice(&[0u8; 1024]);
    let file = s.env.path(&format!("hostile-{}.tar", unique()));
    std::fs::write(&file, &tar).expect("write tarball");
    let ran = s.env.run(&[
        "artifact",
        "import",
        file.to_str().expect("utf-8"),
        "--category",
        "debian:system-tarball",
        "--data",
        r#"{"vendor": "hostile", "codename": "evil"}"#,
    ]);
    ran.expect(0);
    let (ran, _) = envrun(
        &json!({"environment": "hostile/match:codename=evil", "steps": [{"run": {"argv": ["true"]}}]}),
        &[],
    );
    // The run got as far as unpacking, and tar refused each bad member.
    ran.expect(1);
    for refused in [
        "unpacking the system tarball failed".to_string(),
        format!("{o}/dotdot: Member name contains '..'"),
        "./etc/evil/through-link: Cannot open: Not a directory".to_string(),
        format!("./rel{o}/via-relative-link: Cannot open: Not a directory"),
    ] {
        assert!(
            ran.stderr.contains(&refused),
            "want {refused:?} in\n{}",
            ran.stderr
        );
    }
    let written: Vec<String> = std::fs::read_dir(&outside)
        .expect("read outside")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert!(
        written.is_empty(),
        "the tarball wrote {written:?} outside the cache\n{}",
        ran.stderr
    );
}

// ---- lintian and blhc in an environment ---------------------------------

/// The version of `package` that apt set up, from a run's log lines
/// (`apt: Setting up PACKAGE (VERSION) ...`).
fn set_up_version(log: &str, package: &str) -> Option<String> {
    let prefix = format!("Setting up {package} (");
    log.lines().find_map(|l| {
        let rest = &l[l.find(&prefix)? + prefix.len()..];
        Some(rest[..rest.find(')')?].to_string())
    })
}

/// `dpkg-query`'s version of `package` on the host.
fn host_version(package: &str) -> String {
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .expect("dpkg-query");
    assert!(
        out.status.success(),
        "{package} is not installed on the host"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `runtask ARGS` in the shared store with `cache` as its
/// XDG_CACHE_HOME, so unpacked tarballs and package layers start empty.
fn run_with_cache(cache: &Path, args: &[&str]) -> Ran {
    let out = shared()
        .env
        .cmd(args)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("spawn runtask");
    Ran::from(out)
}

/// A cache directory no run has used, removed when the test ends
/// (unpacked trees and layers take hundreds of MB).
struct FreshCache(PathBuf);

impl std::ops::Deref for FreshCache {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for FreshCache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fresh_cache() -> FreshCache {
    let dir = shared().env.path(&format!("cache-{}", unique()));
    std::fs::create_dir_all(&dir).expect("cache dir");
    FreshCache(dir)
}

/// The package layers in `cache` (one directory per key digest), and any
/// staging directory a build left.
fn layers_in(cache: &Path) -> (Vec<String>, Vec<String>) {
    let dir = cache.join("taskhost/environments/layers");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let layers = names
        .iter()
        .filter(|n| n.len() == 64 && dir.join(n).is_dir())
        .cloned()
        .collect();
    let staging = names
        .iter()
        .filter(|n| n.starts_with(".build-"))
        .cloned()
        .collect();
    (layers, staging)
}

/// Appends a custom section to a component (the manifest reader keeps
/// the last `taskhost:manifest` section it meets).
fn append_custom_section(wasm: &mut Vec<u8>, name: &str, data: &[u8]) {
    fn leb(out: &mut Vec<u8>, mut n: usize) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut payload = Vec::new();
    leb(&mut payload, name.len());
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    wasm.push(0);
    leb(wasm, payload.len());
    wasm.extend_from_slice(&payload);
}

/// The envrun plugin declaring `packages`, and a policy that pins it.
/// runtask checks a plugin's packages on the host before it runs (the
/// tests use bc and ed: small, on the host, not in minbase).
fn envrun_with_packages(packages: &[&str]) -> (PathBuf, PathBuf) {
    let s = shared();
    let mut wasm = std::fs::read(ENVRUN).expect("envrun plugin");
    let mut manifest = taskhost::manifest::read(&wasm).expect("manifest").manifest;
    manifest.packages = packages.iter().map(|p| p.to_string()).collect();
    let text = toml::to_string(&manifest).expect("manifest TOML");
    append_custom_section(
        &mut wasm,
        taskhost::manifest::MANIFEST_SECTION,
        text.as_bytes(),
    );
    assert_eq!(
        taskhost::manifest::read(&wasm)
            .expect("manifest")
            .manifest
            .packages,
        manifest.packages
    );
    let n = unique();
    let plugin = s.env.path(&format!("envrun-{n}.wasm"));
    std::fs::write(&plugin, &wasm).expect("write plugin");
    let policy = s.env.write(
        &format!("policy-envrun-{n}.toml"),
        &format!(
            r#"
[plugins.envrun]
sha256 = ["{}"]
exec = ["cat **", "id **", "ls **", "sh **", "touch **", "stat **", "true **"]
backends = ["unshare"]
lookups = ["debian/match:*"]
"#,
            taskhost::manifest::digest(&wasm)
        ),
    );
    (plugin, policy)
}

/// Runs the envrun `plugin` under `policy` with `cache`; returns what
/// it did, its report (null if none) and its debug log (empty if none).
fn envrun_cached(
    plugin: &Path,
    policy: &Path,
    cache: &Path,
    steps: &Value,
) -> (Ran, Value, String) {
    let s = shared();
    let data = s.env.write(
        &format!("envrun-{}.json", unique()),
        &json!({
            "environment": format!("debian/match:codename={SUITE}:variant=minbase"),
            "steps": steps,
        })
        .to_string(),
    );
    let ran = run_with_cache(
        cache,
        &[
            "run",
            plugin.to_str().expect("utf-8"),
            "--policy",
            policy.to_str().expect("utf-8"),
            "--data",
            data.to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    );
    if !ran.stdout.trim_start().starts_with('{') {
        return (ran, Value::Null, String::new());
    }
    let report = report(&ran);
    let log = if report["log_artifact"].is_u64() {
        debug_log(&s.env, &ran, "taskhost.log").unwrap_or_default()
    } else {
        String::new()
    };
    (ran, report, log)
}

/// Whether a run log shows apt at work.
fn ran_apt(log: &str) -> bool {
    log.contains("Setting up ") || log.contains("apt-get") || log.contains("Unpacking ")
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn a_second_run_uses_the_cached_layer_without_apt() {
    let cache = fresh_cache();
    let (plugin, policy) = envrun_with_packages(&["bc"]);
    let steps = json!([
        {"run": {"argv": ["sh", "-c", "echo 6*7 | bc"]}},
        {"run": {"argv": ["sh", "-c", "ls /var/lib/apt/lists /var/cache/apt/archives"]}},
    ]);
    let (ran, report, log) = envrun_cached(&plugin, &policy, &cache, &steps);
    ran.expect(0);
    assert_eq!(note(&report, 0), "42\n", "{report}");
    assert!(log.contains("installed in the environment: bc"), "{log}");
    assert!(log.contains("(layer cached for next time)"), "{log}");
    assert!(ran_apt(&log), "{log}");
    let (layers, staging) = layers_in(&cache);
    assert_eq!(
        (layers.len(), staging.len()),
        (1, 0),
        "{layers:?} {staging:?}"
    );

    let (ran, report, log) = envrun_cached(&plugin, &policy, &cache, &steps);
    ran.expect(0);
    assert_eq!(note(&report, 0), "42\n", "{report}");
    assert!(log.contains("(cached layer for bc)"), "{log}");
    assert!(!ran_apt(&log), "the second run ran apt:\n{log}");
    // apt's lists and downloads are not kept in the layer.
    let listed = note(&report, 1);
    assert!(!listed.contains("Packages"), "{listed}");
    assert!(!listed.contains(".deb"), "{listed}");
    assert_eq!(layers_in(&cache).0, layers);
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn two_first_runs_at_once_build_the_layer_once() {
    let cache = fresh_cache();
    let (plugin, policy) = envrun_with_packages(&["bc"]);
    let steps = json!([{"run": {"argv": ["sh", "-c", "echo 6*7 | bc"]}}]);
    let runs: Vec<(Ran, Value, String)> = std::thread::scope(|scope| {
        let both: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| envrun_cached(&plugin, &policy, &cache, &steps)))
            .collect();
        both.into_iter()
            .map(|h| h.join().expect("run thread"))
            .collect()
    });
    for (ran, report, _) in &runs {
        ran.expect(0);
        assert_eq!(note(report, 0), "42\n", "{report}");
    }
    let built: Vec<&String> = runs
        .iter()
        .map(|(_, _, log)| log)
        .filter(|log| log.contains("(layer cached for next time)"))
        .collect();
    assert_eq!(
        built.len(),
        1,
        "{:?}",
        runs.iter().map(|r| &r.2).collect::<Vec<_>>()
    );
    let waited = runs
        .iter()
        .map(|(_, _, log)| log)
        .find(|log| !log.contains("(layer cached for next time)"))
        .expect("the other run");
    assert!(waited.contains("(cached layer for bc)"), "{waited}");
    assert!(!ran_apt(waited), "{waited}");
    let (layers, staging) = layers_in(&cache);
    assert_eq!(
        (layers.len(), staging.len()),
        (1, 0),
        "{layers:?} {staging:?}"
    );
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn another_package_set_builds_another_layer() {
    let cache = fresh_cache();
    let (bc, policy) = envrun_with_packages(&["bc"]);
    let steps =
        json!([{"run": {"argv": ["sh", "-c", "echo 6*7 | bc; command -v ed || echo no ed"]}}]);
    let (ran, report, log) = envrun_cached(&bc, &policy, &cache, &steps);
    ran.expect(0);
    assert!(log.contains("(layer cached for next time)"), "{log}");
    assert!(note(&report, 0).contains("no ed"), "{report}");

    let (ed_bc, policy) = envrun_with_packages(&["ed", "bc"]);
    let (ran, report, log) = envrun_cached(&ed_bc, &policy, &cache, &steps);
    ran.expect(0);
    // Each set is built on the tarball alone: bc again, with ed.
    assert!(log.contains("installed in the environment: bc ed"), "{log}");
    assert!(log.contains("(layer cached for next time)"), "{log}");
    assert!(note(&report, 0).contains("/usr/bin/ed"), "{report}");
    assert_eq!(layers_in(&cache).0.len(), 2);

    // The same set in another order is the same layer.
    let (bc_ed, policy) = envrun_with_packages(&["bc", "ed", "bc"]);
    let (ran, report, log) = envrun_cached(&bc_ed, &policy, &cache, &steps);
    ran.expect(0);
    assert!(log.contains("(cached layer for bc, ed)"), "{log}");
    assert!(note(&report, 0).contains("/usr/bin/ed"), "{report}");
    assert_eq!(layers_in(&cache).0.len(), 2);
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn a_package_missing_from_the_archive_fails_with_apts_message_and_leaves_no_layer() {
    // runtask checks a plugin's packages on the host before it runs, so
    // this drives the layer cache directly, on the shared tarball.
    use taskhost::backends::layers::{LayerCache, LayerKey};
    use taskhost::backends::unshare::{self, ImageCache};
    let s = shared();
    let id = s.minbase["id"].as_u64().expect("id").to_string();
    let export = s.env.path(&format!("export-{}", unique()));
    s.env
        .run(&["artifact", "export", &id, export.to_str().expect("utf-8")])
        .expect(0);
    let tarball = export.join("system.tar.xz");
    let sum = sha256_file(tarball.to_str().expect("utf-8"));
    let cache = fresh_cache();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let ids = unshare::check_available().expect("unshare works here");
        let images = ImageCache::new(cache.join("environments"));
        let base = images.ensure(ids, &sum, &tarball).await.expect("unpack");
        let layers = LayerCache::new(images.dir().join("layers"), ids);
        let packages = ["bc".to_string(), "taskhost-no-such-package".to_string()];
        let key = LayerKey::new(&sum, &packages).expect("key");
        let timeout = std::time::Duration::from_secs(600);
        let names = || -> Vec<String> {
            let mut n: Vec<String> = std::fs::read_dir(layers.dir())
                .expect("layers dir")
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
            n.sort();
            n
        };
        for _ in 0..2 {
            let err = layers
                .ensure(&key, &base, timeout)
                .await
                .expect_err("apt cannot install it");
            assert!(
                err.to_string()
                    .contains("Unable to locate package taskhost-no-such-package"),
                "{err}"
            );
            // Only the key's lock file: no layer, no staging directory.
            assert_eq!(names(), vec![format!("{}.lock", key.digest())]);
        }
        // The packages alone build a layer: bc owned by the namespace's
        // root (the first subordinate id), no apt lists, no resolv.conf.
        let key = LayerKey::new(&sum, &packages[..1]).expect("key");
        let layer = layers.ensure(&key, &base, timeout).await.expect("bc");
        assert!(layer.built.is_some());
        let bc = std::fs::symlink_metadata(layer.tree.join("usr/bin/bc")).expect("usr/bin/bc");
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&bc), ids.uid);
        let lists: Vec<String> = std::fs::read_dir(layer.tree.join("var/lib/apt/lists"))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        assert!(lists.iter().any(|n| n == "lock"), "{lists:?}");
        assert!(
            !lists
                .iter()
                .any(|n| n.contains("Packages") || n.contains("Release")),
            "{lists:?}"
        );
        let resolv = std::fs::symlink_metadata(layer.tree.join("etc/resolv.conf"));
        assert!(
            !resolv.is_ok_and(|m| m.is_file()),
            "the host's resolv.conf is in the layer"
        );
    });
    let _ = std::fs::remove_dir_all(&export);
}

/// Runs the lintian or blhc plugin with `data` and `cache`.
fn tool_run(plugin: &str, data: &Value, cache: &Path) -> (Ran, String) {
    let s = shared();
    let file = s
        .env
        .write(&format!("{plugin}-{}.json", unique()), &data.to_string());
    let ran = run_with_cache(
        cache,
        &[
            "run",
            plugin,
            "--policy",
            s.policy.to_str().expect("utf-8"),
            "--data",
            file.to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    );
    let log = debug_log(&s.env, &ran, "taskhost.log").expect("taskhost.log");
    (ran, log)
}

/// The debian:lintian analyses a lintian run created.
fn analyses(ran: &Ran) -> Vec<Value> {
    let ids: Vec<u64> = report(ran)["artifacts"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    shared()
        .env
        .artifacts()
        .into_iter()
        .filter(|a| {
            a["category"] == "debian:lintian" && ids.contains(&a["id"].as_u64().unwrap_or(0))
        })
        .collect()
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn lintian_and_blhc_run_inside_an_environment() {
    let s = shared();
    let cache = fresh_cache();
    // Compiled without the hardening flags, so blhc has something to say.
    let built = Package::new("unshare-hello")
        .compile("gcc -o hello hello.c")
        .build(&s.env, true);
    let environment = "debian/match:codename=trixie:variant=minbase";
    let data = json!({
        "input": {"source_artifact_id": built.dsc, "binary_artifacts_ids": built.debs},
        "environment": environment,
    });
    let (ran, log) = tool_run("lintian", &data, &cache);
    // fail_on_severity defaults to none: tags are found, nothing fails.
    ran.expect(0);
    assert!(
        log.contains("installed in the environment: lintian"),
        "{log}"
    );
    assert!(log.contains("(layer cached for next time)"), "{log}");
    // The version the plugin asked dpkg-query for is the one apt set up in
    // the trixie environment, which the Debian 12 host cannot have.
    let installed = set_up_version(&log, "lintian").unwrap_or_else(|| panic!("{log}"));
    assert_ne!(installed, host_version("lintian"), "{log}");
    let first = analyses(&ran);
    assert!(!first.is_empty(), "{}", ran.stdout);
    for lintian in &first {
        assert_eq!(
            lintian["data"]["summary"]["lintian_version"], installed,
            "{lintian}"
        );
    }
    assert!(
        first.iter().any(|a| a["data"]["summary"]["tags_found"]
            .as_array()
            .is_some_and(|t| !t.is_empty())),
        "{first:?}"
    );

    // The second run finds lintian in the cached layer: no apt at all.
    let (ran, log) = tool_run("lintian", &data, &cache);
    ran.expect(0);
    assert!(log.contains("(cached layer for lintian)"), "{log}");
    assert!(!ran_apt(&log), "the second lintian run ran apt:\n{log}");
    let second = analyses(&ran);
    assert_eq!(second.len(), first.len(), "{}", ran.stdout);
    for lintian in &second {
        assert_eq!(
            lintian["data"]["summary"]["lintian_version"], installed,
            "{lintian}"
        );
    }

    let data = json!({"input": {"artifact": built.log}, "environment": environment});
    let (ran, log) = tool_run("blhc", &data, &cache);
    // The flags are missing: blhc exits 8, the check fails.
    ran.expect(100);
    let r = report(&ran);
    assert_eq!(r["results"][0]["keyvals"]["blhc_exit_code"], "8", "{r}");
    assert!(log.contains("installed in the environment: blhc"), "{log}");
    let installed = set_up_version(&log, "blhc").unwrap_or_else(|| panic!("{log}"));
    assert_ne!(installed, host_version("blhc"), "{log}");
    assert!(log.contains("running `blhc --debian"), "{log}");
    assert!(log.contains("on unshare"), "{log}");
    // Another package set, another layer; blhc's second run uses it.
    assert_eq!(layers_in(&cache).0.len(), 2);
    let (ran, log) = tool_run("blhc", &data, &cache);
    ran.expect(100);
    assert!(log.contains("(cached layer for blhc)"), "{log}");
    assert!(!ran_apt(&log), "{log}");
}
