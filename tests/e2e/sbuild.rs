//! The sbuild plugin: the real sbuild builds packages these tests make, in
//! an unshare chroot unpacked from a bookworm `buildd` tarball that the
//! mmdebstrap plugin bootstraps once for the whole test process. blhc and
//! lintian then check what sbuild stored: debusine's Debian QA pipeline on
//! one machine.
//!
//! Slow (the bootstrap takes a few minutes, each build half a minute), so
//! ignored by a plain `cargo test`; the bad-input tests run without a
//! bootstrap. Builds run one at a time: each unpacks a chroot of a few
//! hundred MB into /tmp.

use crate::pkg::Package;
use crate::unshare::mirror;
use crate::{Env, Ran, report};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The suite of the tarball: the host's own (Debian 12).
const SUITE: &str = "bookworm";
pub(crate) const ENVIRONMENT: &str = "debian/match:codename=bookworm:variant=buildd";

/// Grants for mmdebstrap (the bootstrap), sbuild, blhc, lintian, piuparts
/// and autopkgtest (their tests run in the same store).
pub(crate) fn policy(env: &Env) -> PathBuf {
    env.write(
        "policy.toml",
        &format!(
            r#"
[plugins.mmdebstrap]
exec = ["mmdebstrap **"]
backends = ["local"]
urls = ["{mirror}/", "file:///usr/share/keyrings/", "file:///usr/local/share/keyrings/"]

[plugins.sbuild]
exec = ["sbuild --chroot-mode=unshare --no-run-lintian --purge-deps=never **"]
backends = ["local"]
env = ["HOME", "DEB_BUILD_OPTIONS"]
lookups = ["debian/match:*"]

[plugins.blhc]
exec = ["blhc --debian **"]
backends = ["local"]

[plugins.lintian]
exec = [
    "lintian --no-cfg --display-level >=classification --display-experimental --info --show-overrides **",
    "dpkg-query -W -f=${{Version}} lintian",
]
backends = ["local"]

[plugins.piuparts]
exec = ["unshare --mount --pid --fork --kill-child --mount-proc piuparts --keep-sources-list --allow-database --warn-on-leftovers-after-purge **"]
backends = ["local"]
lookups = ["debian/match:*"]

[plugins.autopkgtest]
exec = ["autopkgtest --apt-upgrade --output-dir=autopkgtest/output --summary=autopkgtest/output/summary --no-built-binaries **"]
backends = ["local", "qemu"]
lookups = ["debian/match:*"]
"#,
            mirror = mirror()
        ),
    )
}

/// One store for the slow tests, holding the bootstrapped tarball.
pub(crate) struct Shared {
    pub(crate) env: Env,
    pub(crate) policy: PathBuf,
    pub(crate) tarball: Value,
}

pub(crate) fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let env = Env::shared("sbuild");
        let policy = policy(&env);
        let data = json!({
            "bootstrap_options": {"architecture": arch(), "variant": "buildd"},
            "bootstrap_repositories": [{"mirror": mirror(), "suite": SUITE, "components": ["main"]}],
        });
        let file = env.write("mmdebstrap.json", &data.to_string());
        let ran = env.run(&[
            "run",
            "mmdebstrap",
            "--policy",
            policy.to_str().expect("utf-8"),
            "--data",
            file.to_str().expect("utf-8"),
            "--format",
            "json",
        ]);
        ran.expect(0);
        let tarball = created(&env, &ran)
            .into_iter()
            .find(|a| a["category"] == "debian:system-tarball")
            .unwrap_or_else(|| panic!("no system tarball:\n{}\n{}", ran.stdout, ran.stderr));
        Shared {
            env,
            policy,
            tarball,
        }
    })
}

pub(crate) fn arch() -> String {
    let out = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .expect("dpkg");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The artifacts a run's JSON report lists, as `artifact list` shows them.
pub(crate) fn created(env: &Env, ran: &Ran) -> Vec<Value> {
    let ids: Vec<u64> = report(ran)["artifacts"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    env.artifacts()
        .into_iter()
        .filter(|a| a["id"].as_u64().is_some_and(|id| ids.contains(&id)))
        .collect()
}

fn of<'a>(artifacts: &'a [Value], category: &str) -> Vec<&'a Value> {
    artifacts
        .iter()
        .filter(|a| a["category"] == category)
        .collect()
}

/// Whether `a` has `relation` to artifact `target`.
pub(crate) fn relates(a: &Value, relation: &str, target: &Value) -> bool {
    a["relations"].as_array().is_some_and(|r| {
        r.iter()
            .any(|r| r["relation"] == relation && r["target"] == *target)
    })
}

/// Held while sbuild runs: builds run one at a time.
pub(crate) fn one_build_at_a_time() -> MutexGuard<'static, ()> {
    static BUILDS: Mutex<()> = Mutex::new(());
    BUILDS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `runtask run TASK` in the shared store with `data` and `extra`
/// arguments.
fn run(task: &str, data: &Value, extra: &[&str]) -> Ran {
    let s = shared();
    let file = s
        .env
        .write(&format!("{task}-{}.json", unique()), &data.to_string());
    let mut args = vec![
        "run",
        task,
        "--policy",
        s.policy.to_str().expect("utf-8"),
        "--data",
        file.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let _one_at_a_time = (task == "sbuild").then(one_build_at_a_time);
    s.env.run(&args)
}

pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// task_data building the .dsc `dsc` for this machine's architecture.
fn build_data(dsc: &Path) -> Value {
    json!({
        "input": {"source_artifact_id": dsc.to_str().expect("utf-8")},
        "environment": ENVIRONMENT,
        "host_architecture": arch(),
    })
}

/// The text of file `name` of artifact `a`.
pub(crate) fn exported(env: &Env, a: &Value, name: &str) -> String {
    let dir = env.path(&format!("export-{}", unique()));
    env.run(&[
        "artifact",
        "export",
        &a["id"].to_string(),
        dir.to_str().expect("utf-8"),
    ])
    .expect(0);
    let text = std::fs::read_to_string(dir.join(name)).expect("exported file");
    let _ = std::fs::remove_dir_all(dir);
    text
}

/// A .deb of package `name` 1.0 (Architecture: all, no files) in `dir`.
fn plain_deb(dir: &Path, name: &str) -> PathBuf {
    let root = dir.join(format!("{name}-root"));
    std::fs::create_dir_all(root.join("DEBIAN")).expect("mkdir");
    std::fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: taskhost tests <tests@taskhost.invalid>\n\
             Description: a build-dependency only the tests have\n"
        ),
    )
    .expect("control");
    let deb = dir.join(format!("{name}_1.0_all.deb"));
    let out = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&root)
        .arg(&deb)
        .output()
        .expect("dpkg-deb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(root);
    deb
}

// ---- the pipeline -----------------------------------------------------

/// `  #ID  CATEGORY  FILES` lines of a human report: (id, category).
fn human_artifacts(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let id = words.next()?.strip_prefix('#')?;
            Some((id.to_string(), words.next()?.to_string()))
        })
        .collect()
}

#[test]
#[ignore = "slow: bootstraps Debian, then builds with sbuild"]
fn sbuild_builds_a_package_and_blhc_and_lintian_check_what_it_stored() {
    let s = shared();
    let dsc = Package::new("th-pipeline")
        .binary("th-pipeline-data", "all")
        .source(&s.env);
    let mut data = build_data(&dsc);
    data["build_components"] = json!(["any", "all"]);
    // The human report says which id is which: chain from it.
    let ran = run("sbuild", &data, &[]);
    ran.expect(0);
    // The phases were reported while sbuild ran, in order.
    let at = |needle: &str| {
        ran.stderr
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} is not on stderr:\n{}", ran.stderr))
    };
    let phases = [
        at("phase: Update chroot"),
        at("phase: Install package build dependencies"),
        at("phase: Build\n"),
        at("phase: Post Build\n"),
        at("phase: Summary"),
    ];
    assert!(phases.is_sorted(), "{phases:?}\n{}", ran.stderr);
    let ended = at("sbuild '--chroot-mode=unshare'");
    let ended = ended
        + ran.stderr[ended..]
            .find("` ended with")
            .expect("sbuild's end");
    assert!(
        phases[1] < ended,
        "phases logged after sbuild ended:\n{}",
        ran.stderr
    );
    let listed = human_artifacts(&ran.stdout);
    let id_of = |category: &str| -> Vec<String> {
        listed
            .iter()
            .filter(|(_, c)| c == category)
            .map(|(id, _)| id.clone())
            .collect()
    };
    let (logs, binaries, uploads) = (
        id_of("debian:package-build-log"),
        id_of("debian:binary-packages"),
        id_of("debian:upload"),
    );
    assert_eq!(
        (logs.len(), binaries.len(), uploads.len()),
        (1, 2, 1),
        "{}",
        ran.stdout
    );

    // What sbuild stored, and how it relates.
    let all = s.env.artifacts();
    let get = |id: &str| -> Value {
        all.iter()
            .find(|a| a["id"].as_u64().is_some_and(|n| n.to_string() == id))
            .cloned()
            .unwrap_or_else(|| panic!("no artifact {id}"))
    };
    let log = get(&logs[0]);
    let upload = get(&uploads[0]);
    let source = all
        .iter()
        .rfind(|a| a["category"] == "debian:source-package" && a["data"]["name"] == "th-pipeline")
        .expect("the imported source");
    assert_eq!(log["data"]["source"], "th-pipeline", "{log}");
    assert_eq!(log["data"]["version"], "1.0", "{log}");
    assert_eq!(log["data"]["architecture"], arch().as_str(), "{log}");
    assert_eq!(
        log["data"]["filename"],
        format!("th-pipeline_1.0_{}.build", arch())
    );
    assert_eq!(log["data"]["summary"]["Status"], "successful", "{log}");
    assert!(log["data"]["summary"]["Build-Time"].is_string(), "{log}");
    assert!(relates(&log, "relates-to", &source["id"]), "{log}");
    let mut archs = Vec::new();
    for id in &binaries {
        let b = get(id);
        assert_eq!(b["data"]["srcpkg_name"], "th-pipeline", "{b}");
        assert_eq!(b["data"]["srcpkg_version"], "1.0", "{b}");
        assert_eq!(b["data"]["version"], "1.0", "{b}");
        assert!(relates(&b, "relates-to", &source["id"]), "{b}");
        assert!(relates(&log, "relates-to", &b["id"]), "{log}");
        assert!(relates(&upload, "extends", &b["id"]), "{upload}");
        assert!(relates(&upload, "relates-to", &b["id"]), "{upload}");
        archs.push((
            b["data"]["architecture"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            b["data"]["packages"].clone(),
        ));
    }
    archs.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(archs[0], ("all".to_string(), json!(["th-pipeline-data"])));
    assert_eq!(archs[1].0, arch());
    assert!(
        archs[1]
            .1
            .as_array()
            .is_some_and(|p| p.contains(&json!("th-pipeline")))
    );
    assert_eq!(upload["data"]["type"], "dpkg", "{upload}");
    assert_eq!(upload["data"]["changes_fields"]["Source"], "th-pipeline");
    let names: Vec<&str> = upload["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    for suffix in [
        ".changes",
        ".buildinfo",
        "_all.deb",
        &format!("_{}.deb", arch()),
    ] {
        assert!(
            names.iter().any(|n| n.ends_with(suffix)),
            "{suffix}: {names:?}"
        );
    }

    // blhc on the stored build log: the Makefile passes the hardening flags.
    let ran = run(
        "blhc",
        &json!({"input": {"artifact": logs[0].parse::<u64>().expect("id")}}),
        &["--format", "json"],
    );
    ran.expect(0);
    let blhc = of(&created(&s.env, &ran), "debian:blhc")
        .first()
        .map(|a| (*a).clone())
        .expect("a debian:blhc artifact");
    assert!(relates(&blhc, "relates-to", &log["id"]), "{blhc}");
    assert_eq!(report(&ran)["results"][0]["item"], log["data"]["filename"]);

    // lintian on the stored source and binaries, as debian_pipeline does.
    let ids: Vec<u64> = binaries.iter().map(|b| b.parse().expect("id")).collect();
    let ran = run(
        "lintian",
        &json!({
            "input": {"source_artifact_id": source["id"], "binary_artifacts_ids": ids},
            "backend": "local",
        }),
        &["--format", "json"],
    );
    ran.expect(0);
    let analyses = created(&s.env, &ran);
    let mut analysed: Vec<&str> = of(&analyses, "debian:lintian")
        .iter()
        .filter_map(|a| a["data"]["architecture"].as_str())
        .collect();
    analysed.sort();
    let mut expected = vec!["all", "source"];
    let host = arch();
    expected.push(&host);
    expected.sort();
    assert_eq!(analysed, expected, "{}", ran.stdout);
    for a in of(&analyses, "debian:lintian") {
        let target = &a["relations"][0]["target"];
        let is_input = *target == source["id"] || ids.iter().any(|id| target == id);
        assert!(is_input, "{a}");
    }
}

fn report_keyval(ran: &Ran, key: &str) -> Option<String> {
    serde_json::from_str::<Value>(&ran.stdout)
        .ok()
        .and_then(|r| r["results"][0]["keyvals"][key].as_str().map(str::to_string))
}

#[test]
#[ignore = "slow: bootstraps Debian, then builds with sbuild"]
fn a_package_that_fails_to_build_stores_its_log_with_the_fail_stage() {
    let s = shared();
    let dsc = Package::new("th-broken")
        .compile("echo 'taskhost: this build fails on purpose' && false")
        .source(&s.env);
    let ran = run("sbuild", &build_data(&dsc), &["--format", "json"]);
    ran.expect(100);
    let r = report(&ran);
    assert_eq!(r["status"], "failure", "{r}");
    assert_eq!(r["results"][0]["outcome"], "FAILED", "{r}");
    assert_eq!(report_keyval(&ran, "Status").as_deref(), Some("attempted"));
    assert_eq!(report_keyval(&ran, "Fail-Stage").as_deref(), Some("build"));
    assert!(
        r["results"][0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("Fail-Stage: build")),
        "{r}"
    );
    let artifacts = created(&s.env, &ran);
    assert_eq!(artifacts.len(), 1, "only the build log: {artifacts:?}");
    let log = &artifacts[0];
    assert_eq!(log["category"], "debian:package-build-log");
    assert_eq!(log["data"]["summary"]["Fail-Stage"], "build", "{log}");
    assert_eq!(log["data"]["summary"]["Status"], "attempted", "{log}");
    let name = log["data"]["filename"].as_str().expect("filename");
    let text = exported(&s.env, log, name);
    assert!(
        text.contains("taskhost: this build fails on purpose"),
        "{text}"
    );
}

#[test]
#[ignore = "slow: bootstraps Debian, then builds with sbuild"]
fn build_profiles_options_and_path_reach_the_build() {
    let s = shared();
    // The build-dependency exists nowhere: only the profile drops it.
    let dsc = Package::new("th-profiled")
        .build_depends("taskhost-nowhere-to-be-found <!pkg.th-profiled.skip>")
        .compile(
            "$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o hello hello.c\n\
             \techo \"th-options=$$DEB_BUILD_OPTIONS th-profiles=$$DEB_BUILD_PROFILES\"",
        )
        .source(&s.env);
    let mut data = build_data(&dsc);
    data["build_profiles"] = json!(["pkg.th-profiled.skip", "nocheck"]);
    data["build_options"] = json!("nostrip th-option=42");
    data["build_path"] = json!("/build/th-profiled-path");
    let ran = run("sbuild", &data, &["--format", "json"]);
    ran.expect(0);
    let artifacts = created(&s.env, &ran);
    let log = of(&artifacts, "debian:package-build-log")[0];
    let text = exported(&s.env, log, log["data"]["filename"].as_str().expect("name"));
    // The Makefile's echo: debhelper adds its own words (parallel=N).
    let options: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("th-options="))
        .unwrap_or_else(|| panic!("the Makefile's echo is not in the log:\n{text}"))
        .split_whitespace()
        .collect();
    assert!(
        options.contains(&"nostrip") && options.contains(&"th-option=42"),
        "DEB_BUILD_OPTIONS did not reach the build: {options:?}"
    );
    assert!(
        text.contains("th-profiles=pkg.th-profiled.skip nocheck"),
        "the profiles did not reach the build:\n{text}"
    );
    assert!(text.contains("th-profiled-path"), "no build path:\n{text}");
    // nostrip: dh_strip did not run, so there is no -dbgsym package.
    let binaries = of(&artifacts, "debian:binary-packages");
    assert_eq!(binaries.len(), 1, "{artifacts:?}");
    assert_eq!(binaries[0]["data"]["packages"], json!(["th-profiled"]));

    // Provenance: the source's files and the tarball by digest, and the
    // sbuild that ran, by version; the subjects are what it built.
    let statement = &report(&ran)["provenance"];
    let deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let source = s
        .env
        .artifacts()
        .into_iter()
        .rfind(|a| a["category"] == "debian:source-package" && a["data"]["name"] == "th-profiled")
        .expect("the imported source");
    let files = source["files"].as_array().cloned().unwrap_or_default();
    assert!(files.len() >= 2, "{source}");
    let tarball = s.tarball["files"].as_array().cloned().unwrap_or_default();
    assert_eq!(tarball.len(), 1, "{}", s.tarball);
    for file in files.iter().chain(&tarball) {
        assert!(
            deps.iter().any(|d| d["digest"]["sha256"] == file["sha256"]),
            "{} is not in the provenance: {deps:?}",
            file["name"]
        );
    }
    let version = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "sbuild"])
        .output()
        .expect("dpkg-query");
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(
        deps.iter()
            .any(|d| d["uri"] == format!("pkg:deb/debian/sbuild@{version}")),
        "sbuild {version} is not in the provenance: {deps:?}"
    );
    let subjects = statement["subject"].to_string();
    assert!(subjects.contains("th-profiled_1.0_"), "{subjects}");
}

#[test]
#[ignore = "slow: bootstraps Debian, then builds with sbuild"]
fn extra_binary_artifacts_provide_a_build_dependency() {
    let s = shared();
    let deb = plain_deb(s.env.dir.path(), "th-extra-binary-dep");
    let id = s.env.import(&deb, "debian:binary-package");
    let dsc = Package::new("th-needs-extra")
        .build_depends("th-extra-binary-dep")
        .source(&s.env);
    let mut data = build_data(&dsc);
    data["input"]["extra_binary_artifact_ids"] = json!([id.parse::<u64>().expect("id")]);
    let ran = run("sbuild", &data, &["--format", "json"]);
    ran.expect(0);
    let log = created(&s.env, &ran)
        .into_iter()
        .find(|a| a["category"] == "debian:package-build-log")
        .expect("log");
    let text = exported(
        &s.env,
        &log,
        log["data"]["filename"].as_str().expect("name"),
    );
    assert!(
        text.contains("Setting up th-extra-binary-dep (1.0)"),
        "{text}"
    );
}

// ---- an extra repository on loopback ----------------------------------

/// A flat APT repository signed with a key made here, served over HTTP
/// on loopback. Records the paths it was asked for.
struct Repository {
    url: String,
    key: String,
    asked: Arc<Mutex<Vec<String>>>,
}

fn run_ok(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn repository(env: &Env, package: &str) -> Repository {
    let dir = env.path(&format!("repository-{}", unique()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    plain_deb(&dir, package);
    let packages = run_ok(
        Command::new("apt-ftparchive")
            .arg("packages")
            .arg(".")
            .current_dir(&dir),
    );
    std::fs::write(dir.join("Packages"), packages).expect("Packages");
    let release = run_ok(
        Command::new("apt-ftparchive")
            .arg("release")
            .arg(".")
            .current_dir(&dir),
    );
    std::fs::write(dir.join("Release"), release).expect("Release");

    let home = env.path(&format!("gnupg-{}", unique()));
    std::fs::create_dir_all(&home).expect("mkdir");
    let gpg = |args: &[&str]| {
        run_ok(
            Command::new("gpg")
                .args([
                    "--batch",
                    "--yes",
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    "",
                ])
                .args(args)
                .env("GNUPGHOME", &home)
                .current_dir(&dir),
        )
    };
    gpg(&[
        "--quick-gen-key",
        "taskhost test repository <repo@taskhost.invalid>",
        "ed25519",
        "sign",
        "never",
    ]);
    let key = String::from_utf8(gpg(&["--armor", "--export"])).expect("armored key");
    gpg(&["--clearsign", "--output", "InRelease", "Release"]);
    gpg(&[
        "--armor",
        "--detach-sign",
        "--output",
        "Release.gpg",
        "Release",
    ]);
    let _ = Command::new("gpgconf")
        .args(["--kill", "all"])
        .env("GNUPGHOME", &home)
        .status();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            serve_file(stream, &dir, &log);
        }
    });
    Repository { url, key, asked }
}

/// Answers one GET with a file of `dir` (`/./InRelease` is `InRelease`).
fn serve_file(mut stream: std::net::TcpStream, dir: &Path, asked: &Mutex<Vec<String>>) {
    let mut request = [0u8; 8192];
    let n = stream.read(&mut request).unwrap_or(0);
    let head = String::from_utf8_lossy(&request[..n]);
    let path = head
        .strip_prefix("GET ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("");
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let file = (!parts.contains(&"..")).then(|| dir.join(parts.join("/")));
    asked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(parts.join("/"));
    let (status, body) = match file.and_then(|f| std::fs::read(f).ok()) {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", Vec::new()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

#[test]
#[ignore = "slow: bootstraps Debian, then builds with sbuild"]
fn an_extra_repository_on_loopback_provides_a_build_dependency() {
    let s = shared();
    let repo = repository(&s.env, "th-repository-dep");
    let dsc = Package::new("th-needs-repository")
        .build_depends("th-repository-dep")
        .source(&s.env);
    let mut data = build_data(&dsc);
    data["extra_repositories"] = json!([{
        "sources_list": format!("deb {}/ ./", repo.url),
        "authentication_key": repo.key,
    }]);
    let ran = run("sbuild", &data, &["--format", "json"]);
    ran.expect(0);
    let asked = repo.asked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(asked.contains(&"InRelease".to_string()), "{asked:?}");
    assert!(
        asked.contains(&"th-repository-dep_1.0_all.deb".to_string()),
        "{asked:?}"
    );
    let log = created(&s.env, &ran)
        .into_iter()
        .find(|a| a["category"] == "debian:package-build-log")
        .expect("log");
    let text = exported(
        &s.env,
        &log,
        log["data"]["filename"].as_str().expect("name"),
    );
    assert!(
        text.contains("Setting up th-repository-dep (1.0)"),
        "{text}"
    );
    // Signed, so apt checked the signature with the given key.
    assert!(!text.contains("NO_PUBKEY"), "{text}");
}

#[test]
#[ignore = "slow: bootstraps Debian"]
fn the_bootstrapped_environment_is_a_bookworm_buildd_tarball() {
    let t = &shared().tarball;
    assert_eq!(t["data"]["codename"], SUITE, "{t}");
    assert_eq!(t["data"]["variant"], "buildd", "{t}");
    assert!(
        t["data"]["pkglist"]
            .as_object()
            .is_some_and(|p| p.contains_key("build-essential")),
        "{t}"
    );
}

// ---- bad input: no bootstrap needed ------------------------------------

/// `runtask run sbuild` in a fresh store, with the test policy.
fn sbuild_alone(env: &Env, data: &Value) -> Ran {
    let policy = policy(env);
    let file = env.write("sbuild.json", &data.to_string());
    env.run(&[
        "run",
        "sbuild",
        "--policy",
        policy.to_str().expect("utf-8"),
        "--data",
        file.to_str().expect("utf-8"),
    ])
}

/// task_data whose artifacts do not exist: the checks that refuse it
/// come first.
fn minimal() -> Value {
    json!({
        "input": {"source_artifact_id": 999_999},
        "environment": 999_998,
        "host_architecture": "amd64",
    })
}

#[track_caller]
pub(crate) fn assert_refused(ran: &Ran, code: i32, needle: &str) {
    ran.expect(code);
    assert!(
        ran.stderr.contains(needle),
        "stderr does not say {needle:?}:\n{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
}

#[test]
fn a_source_artifact_of_another_category_is_refused() {
    let env = Env::new();
    let mut data = minimal();
    let log = env.write(
        "y_1.0_amd64.build",
        "dpkg-buildpackage: info: source package y\n",
    );
    data["input"]["source_artifact_id"] = json!(
        env.import(&log, "debian:package-build-log")
            .parse::<u64>()
            .expect("id")
    );
    let ran = sbuild_alone(&env, &data);
    assert_refused(
        &ran,
        2,
        "input.source_artifact_id: unexpected artifact category: 'debian:package-build-log'. \
         Valid categories: [\"debian:source-package\"]",
    );
}

#[test]
fn an_unknown_build_component_is_refused() {
    let env = Env::new();
    let mut data = minimal();
    data["build_components"] = json!(["any", "binary"]);
    let ran = sbuild_alone(&env, &data);
    assert_refused(&ran, 2, "build_components[1]: unknown variant `binary`");
    assert!(
        ran.stderr.contains("`any`, `all`, `source`"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_malformed_sources_list_line_is_refused() {
    let env = Env::new();
    let mut data = minimal();
    data["extra_repositories"] = json!([
        {"sources_list": "deb http://deb.debian.org/debian bookworm main"},
        {"sources_list": "deb http://deb.debian.org/debian bookworm-backports"},
    ]);
    let ran = sbuild_alone(&env, &data);
    assert_refused(
        &ran,
        2,
        "extra_repositories[1].sources_list: suite 'bookworm-backports' needs at least one component",
    );
}

#[test]
fn a_backend_other_than_unshare_is_refused() {
    let env = Env::new();
    let mut data = minimal();
    data["backend"] = json!("incus-lxc");
    let ran = sbuild_alone(&env, &data);
    assert_refused(
        &ran,
        2,
        "backend: IncusLxc is not available for sbuild on this host",
    );
}

#[test]
fn an_environment_of_another_architecture_is_refused_before_building() {
    let env = Env::new();
    let dsc = Package::new("th-cross").source(&env);
    let tarball = env.write("system.tar.xz", "not really a tarball");
    let ran = env.run(&[
        "artifact",
        "import",
        tarball.to_str().expect("utf-8"),
        "--category",
        "debian:system-tarball",
        "--data",
        r#"{"filename": "system.tar.xz", "vendor": "debian", "codename": "bookworm", "architecture": "s390x"}"#,
    ]);
    ran.expect(0);
    let data = json!({
        "input": {"source_artifact_id": dsc.to_str().expect("utf-8")},
        "environment": ran.stdout.trim().parse::<u64>().expect("id"),
        "host_architecture": "amd64",
    });
    let ran = sbuild_alone(&env, &data);
    assert!(
        ran.stdout.contains("host_architecture: the environment")
            || ran.stderr.contains("host_architecture: the environment"),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
    assert!(ran.stdout.contains("s390x") || ran.stderr.contains("s390x"));
    assert_ne!(ran.code, 0);
    let built = env
        .artifacts()
        .into_iter()
        .any(|a| a["category"] == "debian:package-build-log");
    assert!(!built, "sbuild ran");
}
