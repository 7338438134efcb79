//! The koji directive through the real `runtask` binary, run from task
//! formulas against the koji hub test server (tests/servers/koji_hub.py)
//! serving the fixture RPMs that rpmbuild made (tests/e2e/servers.rs).
//!
//! Each formula ends with the `echo` test directive saving the koji
//! action's export (`out`) to `${artifactsdir}/export.json`.

use crate::servers::{KojiHub, NEW_NVR, OLD_NVR, fixtures, sha256_file};
use crate::{Env, Ran, report};
use serde_json::Value;
use std::cell::Cell;
use std::path::{Path, PathBuf};

/// The echo test directive (tests/plugins/echo-directive), built by build.rs.
const ECHO: &str = env!("TASKHOST_TEST_PLUGIN_ECHO_DIRECTIVE");

/// Where the koji actions download to: kept as the run's artifacts.
pub const TARGET: &str = "${artifactsdir}/rpms";

/// A scratch env for formulas, with `echo` installed as a plugin.
pub struct Formulas {
    pub env: Env,
    runs: Cell<u32>,
}

/// What one formula run did.
pub struct Outcome {
    pub ran: Ran,
    /// `<artifactsdir>/<uuid>`: the run's kept artifacts.
    pub artifacts: PathBuf,
}

impl Formulas {
    pub fn new() -> Formulas {
        let env = Env::new();
        let plugins = env.path("data/taskhost/plugins");
        std::fs::create_dir_all(&plugins).expect("mkdir plugins");
        std::fs::copy(ECHO, plugins.join("echo.wasm")).expect("install the echo directive");
        Formulas {
            env,
            runs: Cell::new(0),
        }
    }

    /// Writes a policy granting each plugin its URL prefixes.
    pub fn policy(&self, grants: &[(&str, Vec<String>)]) -> PathBuf {
        let mut text = crate::echo_pin();
        for (plugin, urls) in grants {
            let list: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
            text.push_str(&format!(
                "[plugins.{plugin}]\nurls = [{}]\n\n",
                list.join(", ")
            ));
        }
        self.env.write("policy.toml", &text)
    }

    /// Runs `actions` (YAML list items; the one to check exports `out`)
    /// for `-i item -t item_type -a x86_64` under `policy`.
    pub fn run(&self, item: &str, item_type: &str, policy: &Path, actions: &str) -> Outcome {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let formula = format!(
            "name: e2e\ndesc: taskhost e2e\nmaintainer: taskhost\nactions:\n{actions}\
             \n  - name: show\n    echo:\n      msg: shown\n      data: ${{out}}\n      save: ${{artifactsdir}}/export.json\n"
        );
        let file = self.env.write(&format!("task/formula-{n}.yml"), &formula);
        let root = self.env.path("artifacts");
        let uuid = format!("run{n}");
        let ran = self.env.run(&[
            "-i",
            item,
            "-t",
            item_type,
            "-a",
            "x86_64",
            "--uuid",
            &uuid,
            "--policy",
            policy.to_str().expect("utf-8"),
            "--artifactsdir",
            root.to_str().expect("utf-8"),
            file.to_str().expect("utf-8"),
            "--format",
            "json",
        ]);
        Outcome {
            ran,
            artifacts: root.join(uuid),
        }
    }
}

impl Outcome {
    /// What the action exported as `out`; fails the test when the run
    /// did not succeed.
    #[track_caller]
    pub fn export(&self) -> Value {
        self.ran.expect(0);
        let path = self.artifacts.join("export.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let saved: Value = serde_json::from_str(&text).expect("export.json is JSON");
        saved["data"].clone()
    }

    /// The error of the action `name`; fails the test when it did not fail.
    #[track_caller]
    pub fn error_of(&self, name: &str) -> String {
        self.ran.expect(1);
        let r = report(&self.ran);
        assert_eq!(r["failed_stage"], name, "{}", self.ran.stdout);
        let error = r["error"].as_str().unwrap_or_default();
        error
            .strip_prefix(&format!("action '{name}': "))
            .unwrap_or_else(|| panic!("{error}"))
            .to_string()
    }

    /// The files kept under `rpms/`, sorted.
    pub fn files(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.artifacts.join("rpms")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Each downloaded RPM is the fixture, byte for byte.
    #[track_caller]
    pub fn assert_fixture_rpms(&self, names: &[&str]) {
        let rpms: Vec<String> = self
            .files()
            .into_iter()
            .filter(|n| n.ends_with(".rpm"))
            .collect();
        assert_eq!(rpms, names, "downloaded RPMs");
        for name in names {
            let got = sha256_file(&self.artifacts.join("rpms").join(name));
            assert_eq!(got, fixtures().rpm(name)["sha256"], "{name}: sha256");
        }
    }
}

/// The workspace paths the directive returns for `names`.
pub fn paths(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| format!("artifacts/rpms/{n}"))
        .collect()
}

/// A list of strings from an export.
#[track_caller]
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

/// `scheme://host:port/` of `url`.
pub fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("an absolute URL");
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}/")
}

/// The koji hub's grant: its whole origin (hub and topurl).
pub fn grant(hub: &KojiHub) -> Vec<String> {
    vec![origin(&hub.url)]
}

/// One koji action exporting `out`, with `params` (YAML lines) added to
/// the hub's URLs and the target dir.
pub fn koji_action(hub: &KojiHub, params: &str) -> String {
    let mut yaml = format!(
        "  - name: download\n    koji:\n      koji_url: {}\n      pkgs_url: {}\n      target_dir: {TARGET}\n",
        hub.url, hub.topurl
    );
    for line in params.lines().filter(|l| !l.trim().is_empty()) {
        yaml.push_str(&format!("      {}\n", line.trim()));
    }
    yaml.push_str("    export: out\n");
    yaml
}

/// Runs one koji action with `params` for `item` against `hub`, granted
/// the hub's origin. The [`Formulas`] keeps the run's files.
fn download(hub: &KojiHub, item: &str, item_type: &str, params: &str) -> (Formulas, Outcome) {
    let f = Formulas::new();
    let policy = f.policy(&[("koji", grant(hub))]);
    let run = f.run(item, item_type, &policy, &koji_action(hub, params));
    (f, run)
}

/// A copy of the fixtures that a test may change.
pub fn fixture_copy() -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fixtures().dir.display()))
        .arg(copy.path())
        .status()
        .expect("cp");
    assert!(status.success(), "copying the fixtures");
    copy
}

const NEW_X86: &str = "taskhost-demo-1.0-1.fc40.x86_64.rpm";
const NEW_DOCS: &str = "taskhost-demo-docs-1.0-1.fc40.noarch.rpm";

#[test]
fn download_takes_the_arch_and_noarch_but_no_debuginfo_or_src() {
    let hub = KojiHub::start();
    let (_f, run) = download(
        &hub,
        NEW_NVR,
        "koji_build",
        "action: download\nkoji_build: ${koji_build}\narch: ${arch}",
    );
    let out = run.export();
    assert_eq!(
        strings(&out["downloaded_rpms"]),
        paths(&[NEW_X86, NEW_DOCS])
    );
    assert_eq!(out["downloaded_logs"], serde_json::json!([]));
    assert_eq!(out["log_errors"], serde_json::json!([]));
    run.assert_fixture_rpms(&[NEW_X86, NEW_DOCS]);
}

#[test]
fn download_expands_i386_and_takes_src_and_debuginfo_when_asked() {
    let hub = KojiHub::start();
    let (_f, run) = download(
        &hub,
        OLD_NVR,
        "koji_build",
        "action: download\nkoji_build: ${koji_build}\narch: i386\nsrc: true\ndebuginfo: true",
    );
    let want = [
        "taskhost-demo-0.9-1.fc40.i686.rpm",
        "taskhost-demo-0.9-1.fc40.src.rpm",
        "taskhost-demo-debuginfo-0.9-1.fc40.i686.rpm",
        "taskhost-demo-docs-0.9-1.fc40.noarch.rpm",
    ];
    assert_eq!(strings(&run.export()["downloaded_rpms"]), paths(&want));
    run.assert_fixture_rpms(&want);
}

#[test]
fn download_all_arches_with_an_exclusion() {
    let hub = KojiHub::start();
    let (_f, run) = download(
        &hub,
        NEW_NVR,
        "koji_build",
        "action: download\nkoji_build: ${koji_build}\narch: all\narch_exclude: [noarch]",
    );
    let want = ["taskhost-demo-1.0-1.fc40.i686.rpm", NEW_X86];
    assert_eq!(strings(&run.export()["downloaded_rpms"]), paths(&want));
    run.assert_fixture_rpms(&want);
}

#[test]
fn build_logs_are_saved_per_arch_and_missing_ones_listed() {
    let copy = fixture_copy();
    let base = copy
        .path()
        .join("packages/taskhost-demo/1.0/1.fc40/data/logs");
    std::fs::remove_file(base.join("i686/build.log")).expect("remove the i686 log");
    let hub = KojiHub::serving(copy.path());
    let (_f, run) = download(
        &hub,
        NEW_NVR,
        "koji_build",
        "action: download\nkoji_build: ${koji_build}\narch: [x86_64, i386]\nbuild_log: true",
    );
    let out = run.export();
    assert_eq!(
        strings(&out["downloaded_logs"]),
        ["artifacts/rpms/build.log.x86_64"]
    );
    assert_eq!(strings(&out["log_errors"]), ["i686"]);
    let logs = &fixtures().build(NEW_NVR)["logs"];
    let x86 = logs
        .as_array()
        .and_then(|l| l.iter().find(|l| l["arch"] == "x86_64"))
        .expect("the x86_64 log fixture");
    assert_eq!(
        sha256_file(&run.artifacts.join("rpms/build.log.x86_64")),
        x86["sha256"]
    );
    assert!(
        !run.files().iter().any(|n| n == "build.log.i686"),
        "{:?}",
        run.files()
    );
    run.assert_fixture_rpms(&["taskhost-demo-1.0-1.fc40.i686.rpm", NEW_X86, NEW_DOCS]);
}

#[test]
fn download_tag_takes_the_builds_tagged_there() {
    let hub = KojiHub::start();
    let (_f, run) = download(
        &hub,
        "f40-updates-testing",
        "koji_tag",
        "action: download_tag\nkoji_tag: ${koji_tag}\narch: x86_64\nsrc: true",
    );
    let want = ["taskhost-demo-1.0-1.fc40.src.rpm", NEW_X86, NEW_DOCS];
    assert_eq!(strings(&run.export()["downloaded_rpms"]), paths(&want));
    run.assert_fixture_rpms(&want);

    let (_f, run) = download(
        &hub,
        "f40-nosuch",
        "koji_tag",
        "action: download_tag\nkoji_tag: ${koji_tag}\narch: x86_64",
    );
    let error = run.error_of("download");
    assert!(error.contains("'f40-nosuch' does not exist"), "{error}");
    assert!(error.contains(&hub.url), "{error}");
}

#[test]
fn download_latest_stable_falls_back_from_updates_to_the_release() {
    let hub = KojiHub::start();
    let f = Formulas::new();
    let policy = f.policy(&[("koji", grant(&hub))]);
    let action = koji_action(
        &hub,
        "action: download_latest_stable\nkoji_build: ${koji_build}\narch: ${arch}",
    );
    // f40-updates holds nothing of its own: the stable build is f40's.
    let run = f.run(NEW_NVR, "koji_build", &policy, &action);
    let want = [
        "taskhost-demo-0.9-1.fc40.x86_64.rpm",
        "taskhost-demo-docs-0.9-1.fc40.noarch.rpm",
    ];
    assert_eq!(strings(&run.export()["downloaded_rpms"]), paths(&want));
    run.assert_fixture_rpms(&want);

    // No stable build of the package: nothing is returned or downloaded.
    let run = f.run("brand-new-1.0-1.fc40", "koji_build", &policy, &action);
    assert_eq!(run.export(), Value::Null);
    assert_eq!(run.files(), Vec::<String>::new());

    let run = f.run("taskhost-demo-1.0-1.el9", "koji_build", &policy, &action);
    let error = run.error_of("download");
    assert!(
        error.contains("koji_build") && error.contains("no Fedora dist tag"),
        "{error}"
    );
}

#[test]
fn an_unknown_build_fails_naming_it() {
    let hub = KojiHub::start();
    let f = Formulas::new();
    let policy = f.policy(&[("koji", grant(&hub))]);
    let action = koji_action(
        &hub,
        "action: download\nkoji_build: ${koji_build}\narch: x86_64",
    );
    let run = f.run("nosuch-1.0-1.fc40", "koji_build", &policy, &action);
    let error = run.error_of("download");
    assert!(
        error.contains(&format!(
            "koji build nosuch-1.0-1.fc40 does not exist on {}",
            hub.url
        )),
        "{error}"
    );
    let run = f.run("garbage", "koji_build", &policy, &action);
    let error = run.error_of("download");
    assert!(
        error.contains("koji_build") && error.contains("'garbage' is not an NVR"),
        "{error}"
    );
}

#[test]
fn a_koji_url_the_policy_does_not_grant_is_refused_naming_the_grant() {
    let hub = KojiHub::start();
    let f = Formulas::new();
    // Granted: another port of the same host only.
    let policy = f.policy(&[("koji", vec!["http://127.0.0.1:1/".to_string()])]);
    let run = f.run(
        NEW_NVR,
        "koji_build",
        &policy,
        &koji_action(
            &hub,
            "action: download\nkoji_build: ${koji_build}\narch: x86_64",
        ),
    );
    let error = run.error_of("download");
    assert!(
        error.contains(&format!("plugin 'koji' may not access `{}`", hub.url)),
        "{error}"
    );
    assert!(error.contains("[plugins.koji]"), "{error}");
    assert!(
        error.contains(&format!("urls = [\"{}\"]", origin(&hub.url))),
        "{error}"
    );
    assert_eq!(run.files(), Vec::<String>::new());
}

#[test]
fn an_rpm_whose_size_does_not_match_koji_fails_and_leaves_no_file() {
    let copy = fixture_copy();
    let x86 = copy
        .path()
        .join("packages/taskhost-demo/1.0/1.fc40/x86_64")
        .join(NEW_X86);
    let mut bytes = std::fs::read(&x86).expect("read");
    bytes.extend_from_slice(b"trailing junk");
    std::fs::write(&x86, bytes).expect("write");
    let hub = KojiHub::serving(copy.path());
    let (_f, run) = download(
        &hub,
        NEW_NVR,
        "koji_build",
        "action: download\nkoji_build: ${koji_build}\narch: x86_64",
    );
    let error = run.error_of("download");
    let size = fixtures().rpm(NEW_X86)["size"].as_u64().expect("size");
    assert!(error.contains(NEW_X86), "{error}");
    assert!(
        error.contains(&format!(
            "downloaded {} bytes, but koji says the RPM has {size}",
            size + 13
        )),
        "{error}"
    );
    assert!(
        !run.files().iter().any(|n| n.contains(NEW_X86)),
        "{:?}",
        run.files()
    );
}

#[test]
fn an_rpm_whose_content_does_not_match_koji_fails_and_leaves_no_file() {
    // The x86_64 RPM is really the i686 one cut to the same size: the size
    // check passes, the MD5 of header and payload does not.
    let copy = fixture_copy();
    let dir = copy.path().join("packages/taskhost-demo/1.0/1.fc40");
    let x86 = dir.join("x86_64").join(NEW_X86);
    let mut bytes =
        std::fs::read(dir.join("i686/taskhost-demo-1.0-1.fc40.i686.rpm")).expect("read");
    bytes.resize(std::fs::metadata(&x86).expect("stat").len() as usize, 0);
    std::fs::write(&x86, bytes).expect("write");
    let hub = KojiHub::serving(copy.path());
    let (_f, run) = download(
        &hub,
        NEW_NVR,
        "koji_build",
        "action: download\nkoji_build: ${koji_build}\narch: x86_64",
    );
    let error = run.error_of("download");
    let want = fixtures().rpm(NEW_X86)["payloadhash"]
        .as_str()
        .expect("payloadhash")
        .to_string();
    assert!(error.contains(&format!("but koji says {want}")), "{error}");
    assert!(error.contains("the file was removed"), "{error}");
    assert!(
        !run.files().iter().any(|n| n.contains(NEW_X86)),
        "{:?}",
        run.files()
    );
}
