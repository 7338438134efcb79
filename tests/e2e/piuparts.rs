//! The piuparts plugin: the real piuparts installs and purges packages
//! these tests make, in a chroot unpacked from the bookworm `buildd`
//! tarball that the sbuild tests bootstrap (once per test process).
//!
//! Slow (the bootstrap, then a minute or so per piuparts run), so ignored
//! by a plain `cargo test`; the bad-input tests run without a bootstrap.
//! piuparts runs one at a time, like sbuild: each unpacks a chroot of a
//! few hundred MB.

use crate::pkg::Package;
use crate::sbuild::{ENVIRONMENT, arch, created, exported, one_build_at_a_time, relates, shared};
use crate::{Env, Ran, report};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const FIXED: &str = "--keep-sources-list --allow-database --warn-on-leftovers-after-purge";

/// A .deb of `name` 1.0 for `arch` made with dpkg-deb, with a README, a
/// copyright file and the given maintainer scripts (`postinst`, ...).
fn deb(dir: &Path, name: &str, arch: &str, scripts: &[(&str, &str)]) -> PathBuf {
    let root = dir.join(format!("{name}-root"));
    let doc = root.join(format!("usr/share/doc/{name}"));
    std::fs::create_dir_all(&doc).expect("mkdir");
    std::fs::create_dir_all(root.join("DEBIAN")).expect("mkdir");
    std::fs::write(doc.join("README"), "made by the taskhost tests\n").expect("README");
    // Without it, adequate (which piuparts runs) warns.
    std::fs::write(doc.join("copyright"), "Public domain.\n").expect("copyright");
    std::fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: 1.0\nArchitecture: {arch}\nMaintainer: taskhost tests <tests@taskhost.invalid>\n\
             Section: misc\nPriority: optional\nDescription: a package for the piuparts tests\n"
        ),
    )
    .expect("control");
    for (script, body) in scripts {
        let path = root.join("DEBIAN").join(script);
        std::fs::write(&path, format!("#!/bin/sh\nset -e\n{body}\n")).expect("script");
        let status = Command::new("chmod")
            .arg("0755")
            .arg(&path)
            .status()
            .expect("chmod");
        assert!(status.success());
    }
    let deb = dir.join(format!("{name}_1.0_{arch}.deb"));
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

/// task_data testing `inputs` on the shared bookworm tarball.
fn task_data(inputs: &[&Path]) -> Value {
    let s = shared();
    json!({
        "input": {"binary_artifacts_ids": inputs.iter().map(|p| p.to_str().expect("utf-8")).collect::<Vec<_>>()},
        "environment": ENVIRONMENT,
        "base_tgz_id": s.tarball["id"],
        "host_architecture": arch(),
    })
}

/// `runtask run piuparts --format json` in the shared store.
fn run(data: &Value) -> Ran {
    let s = shared();
    let file = s.env.write(
        &format!("piuparts-{}.json", crate::sbuild::unique()),
        &data.to_string(),
    );
    let _one_at_a_time = one_build_at_a_time();
    s.env.run(&[
        "run",
        "piuparts",
        "--policy",
        s.policy.to_str().expect("utf-8"),
        "--data",
        file.to_str().expect("utf-8"),
        "--format",
        "json",
    ])
}

/// The debian:piuparts artifact a run stored, and its log.
fn stored(ran: &Ran) -> (Value, String) {
    let s = shared();
    let artifacts = created(&s.env, ran);
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let a = artifacts.into_iter().next().expect("one artifact");
    assert_eq!(a["category"], "debian:piuparts", "{a}");
    let log = exported(&s.env, &a, "piuparts.log");
    (a, log)
}

fn keyval(r: &Value, key: &str) -> String {
    r["results"][0]["keyvals"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Mount points of this (the host's) mount namespace under `dir`.
fn mounts_under(dir: &Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let dir = dir.to_string_lossy();
    table
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(&*dir))
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs piuparts"]
fn piuparts_passes_clean_packages_from_an_upload_and_a_deb() {
    let s = shared();
    // A package built by dpkg-buildpackage (its .changes: a debian:upload)
    // and a plain .deb, tested together.
    let built = Package::new("th-piuparts-clean")
        .file("debian/copyright", "Public domain.\n")
        .build(&s.env, false);
    let plain = deb(s.env.dir.path(), "th-piuparts-plain", "all", &[]);
    let data = task_data(&[&built.changes, &plain]);

    // piuparts mounts /proc, /dev/pts, ... in its chroot: never where the
    // host sees them.
    let watching = Arc::new(AtomicBool::new(true));
    let seen = {
        let (watching, dir) = (watching.clone(), s.env.dir.path().to_path_buf());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while watching.load(Ordering::Relaxed) {
                seen.extend(mounts_under(&dir));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            seen
        })
    };
    let ran = run(&data);
    watching.store(false, Ordering::Relaxed);
    let seen = seen.join().expect("watcher");
    ran.expect(0);
    assert!(
        seen.is_empty(),
        "piuparts' mounts reached the host: {seen:?}"
    );

    let r = report(&ran);
    assert_eq!(r["status"], "success", "{r}");
    let result = &r["results"][0];
    assert_eq!(result["outcome"], "PASSED", "{r}");
    assert_eq!(result["checkname"], "piuparts", "{r}");
    // dpkg-buildpackage may add a -dbgsym package: tested too.
    let item = result["item"].as_str().unwrap_or_default();
    for tested in [
        format!("th-piuparts-clean_1.0_{}", arch()),
        "th-piuparts-plain_1.0_all".to_string(),
    ] {
        assert!(item.split(' ').any(|i| i == tested), "{tested}: {r}");
    }
    assert_eq!(result["note"], "PASS: Installation and purging test", "{r}");
    assert_eq!(keyval(&r, "piuparts_exit_code"), "0");

    let (a, log) = stored(&ran);
    assert_eq!(a["data"]["verdict"], "passed", "{a}");
    assert_eq!(a["data"]["piuparts_version"], "1.1.7", "{a}");
    let packages = &a["data"]["packages"];
    assert_eq!(
        packages["th-piuparts-clean"],
        format!("th-piuparts-clean_1.0_{}.deb", arch()),
        "{a}"
    );
    assert_eq!(
        packages["th-piuparts-plain"], "th-piuparts-plain_1.0_all.deb",
        "{a}"
    );
    // The bootstrapped tarball has /dev entries: they were left out.
    let base = &a["data"]["base_tgz"];
    assert_eq!(base["id"], s.tarball["id"], "{a}");
    assert_eq!(base["with_dev"], s.tarball["data"]["with_dev"], "{a}");
    assert_eq!(base["repacked"], true, "{a}");
    if s.tarball["data"]["with_dev"] == true {
        assert!(base["dev_entries_removed"].as_u64() > Some(0), "{a}");
    }
    // It relates to both inputs: the upload and the imported .deb.
    let all = s.env.artifacts();
    for (category, name) in [
        ("debian:upload", "th-piuparts-clean"),
        ("debian:binary-package", "th-piuparts-plain"),
    ] {
        let input = all
            .iter()
            .rfind(|x| x["category"] == category && x.to_string().contains(&format!("{name}_1.0_")))
            .unwrap_or_else(|| panic!("no {category} of {name}"));
        assert!(relates(&a, "relates-to", &input["id"]), "{a}\n{input}");
    }
    assert!(
        log.contains(&format!("piuparts {FIXED} --basetgz=")),
        "{log}"
    );
    assert!(log.contains("PASS: All tests."), "{log}");
    // Only the .debs: not the upload's .buildinfo or .changes.
    assert!(!log.contains(".buildinfo"), "{log}");
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs piuparts"]
fn files_left_after_purge_are_warnings_naming_the_files() {
    let s = shared();
    // --warn-on-leftovers-after-purge (always passed, as debusine does)
    // makes leftovers a warning, not a FAIL.
    let leftover = deb(
        s.env.dir.path(),
        "th-piuparts-leftover",
        "all",
        &[(
            "postinst",
            "mkdir -p /var/lib/th-piuparts-leftover\n\
             echo state > /var/lib/th-piuparts-leftover/state\n\
             echo setting=1 > /etc/th-piuparts-leftover.conf",
        )],
    );
    let ran = run(&task_data(&[&leftover]));
    ran.expect(0);
    let r = report(&ran);
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["results"][0]["outcome"], "INFO", "{r}");
    let note = r["results"][0]["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("1 warning(s): Package purging left files on system:")
            && note.contains("/etc/th-piuparts-leftover.conf")
            && note.contains("/var/lib/th-piuparts-leftover/state"),
        "{note}"
    );
    let warnings = keyval(&r, "warnings");
    assert!(
        warnings.contains("/etc/th-piuparts-leftover.conf not owned"),
        "{warnings}"
    );
    let (a, log) = stored(&ran);
    assert_eq!(a["data"]["verdict"], "passed-with-warnings", "{a}");
    let files = a["data"]["warnings"][0]["files"].to_string();
    assert!(files.contains("/etc/th-piuparts-leftover.conf"), "{a}");
    assert!(
        log.contains("Package purging left files on system"),
        "{log}"
    );
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs piuparts"]
fn a_package_that_leaves_its_shell_in_etc_shells_after_purge_fails() {
    let s = shared();
    // add-shell in postinst, no remove-shell in postrm: /etc/shells keeps
    // a line after purge, a change piuparts fails whatever the flags.
    let shell = deb(
        s.env.dir.path(),
        "th-piuparts-shell",
        "all",
        &[("postinst", "add-shell /usr/bin/th-piuparts-shell")],
    );
    let ran = run(&task_data(&[&shell]));
    ran.expect(100);
    let r = report(&ran);
    assert_eq!(r["status"], "failure", "{r}");
    assert_eq!(r["results"][0]["outcome"], "FAILED", "{r}");
    assert_eq!(
        r["results"][0]["note"],
        "FAIL: Installation and purging test: After purging files have been modified: /etc/shells",
        "{r}"
    );
    let failures = keyval(&r, "failures");
    assert!(
        failures.contains("After purging files have been modified:\n  /etc/shells not owned"),
        "{failures}"
    );
    assert_ne!(keyval(&r, "piuparts_exit_code"), "0");
    let (a, log) = stored(&ran);
    assert_eq!(a["data"]["verdict"], "failed", "{a}");
    assert_eq!(
        a["data"]["failed"][0]["files"],
        json!(["/etc/shells not owned"]),
        "{a}"
    );
    assert!(
        log.contains("FAIL: Installation and purging test."),
        "{log}"
    );
}

// ---- bad input: no bootstrap needed ------------------------------------

fn grants() -> Vec<String> {
    [
        "--allow-exec",
        &format!("unshare --mount --pid --fork --kill-child --mount-proc piuparts {FIXED} **"),
        "--allow-backend",
        "local",
    ]
    .map(String::from)
    .to_vec()
}

/// `runtask run piuparts` in a fresh store.
fn piuparts_alone(env: &Env, data: &Value) -> Ran {
    let file = env.write("piuparts.json", &data.to_string());
    let mut args = vec!["run", "piuparts", "--data", file.to_str().expect("utf-8")];
    let grants = grants();
    args.extend(grants.iter().map(String::as_str));
    env.run(&args)
}

/// A fake system tarball of `arch`; returns its id.
fn fake_tarball(env: &Env, arch: &str) -> u64 {
    let file = env.write("system.tar.xz", "not really a tarball");
    let ran = env.run(&[
        "artifact",
        "import",
        file.to_str().expect("utf-8"),
        "--category",
        "debian:system-tarball",
        "--data",
        &json!({"filename": "system.tar.xz", "codename": "bookworm", "architecture": arch, "with_dev": true})
            .to_string(),
    ]);
    ran.expect(0);
    ran.stdout.trim().parse().expect("id")
}

/// task_data whose inputs exist: a .deb and fake tarballs for `arch`.
fn data_for(env: &Env, arch: &str) -> Value {
    let plain = deb(env.dir.path(), "th-piuparts-input", "all", &[]);
    let tarball = fake_tarball(env, arch);
    json!({
        "input": {"binary_artifacts_ids": [plain.to_str().expect("utf-8")]},
        "environment": tarball,
        "base_tgz_id": tarball,
        "host_architecture": "amd64",
    })
}

#[track_caller]
fn assert_refused(ran: &Ran, needle: &str) {
    assert_ne!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains(needle) || ran.stdout.contains(needle),
        "the output does not say {needle:?}:\n{}\n{}",
        ran.stdout,
        ran.stderr
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
}

fn piuparts_ran(env: &Env) -> bool {
    env.artifacts()
        .iter()
        .any(|a| a["category"] == "debian:piuparts")
}

#[test]
fn a_binary_artifact_of_another_category_is_refused() {
    let env = Env::new();
    let mut data = data_for(&env, "amd64");
    let log = env.write(
        "th_1.0_amd64.build",
        "dpkg-buildpackage: info: source package th\n",
    );
    data["input"]["binary_artifacts_ids"] = json!([env
        .import(&log, "debian:package-build-log")
        .parse::<u64>()
        .expect("id")]);
    let ran = piuparts_alone(&env, &data);
    ran.expect(2);
    assert_refused(
        &ran,
        "input.binary_artifacts_ids: unexpected artifact category: 'debian:package-build-log'. \
         Valid categories: [\"debian:binary-package\", \"debian:binary-packages\", \"debian:upload\"]",
    );
}

#[test]
fn a_base_tgz_of_another_category_is_refused() {
    let env = Env::new();
    let mut data = data_for(&env, "amd64");
    let deb = deb(env.dir.path(), "th-piuparts-not-a-tarball", "all", &[]);
    data["base_tgz_id"] = json!(deb.to_str().expect("utf-8"));
    let ran = piuparts_alone(&env, &data);
    ran.expect(2);
    assert_refused(
        &ran,
        "base_tgz_id: unexpected artifact category: 'debian:binary-package'",
    );
    assert_refused(&ran, "Valid categories: [\"debian:system-tarball\"]");
}

#[test]
fn an_unknown_key_is_refused_by_name() {
    let env = Env::new();
    let mut data = data_for(&env, "amd64");
    data["extra_repositories"] = json!([]);
    let ran = piuparts_alone(&env, &data);
    ran.expect(2);
    assert_refused(
        &ran,
        "unknown key 'extra_repositories' (extra fields not permitted)",
    );
}

#[test]
fn an_unavailable_backend_is_refused() {
    let env = Env::new();
    for backend in ["incus-lxc", "schroot"] {
        let mut data = data_for(&env, "amd64");
        data["backend"] = json!(backend);
        let ran = piuparts_alone(&env, &data);
        ran.expect(2);
        assert_refused(
            &ran,
            &format!(
                "backend: {backend} is not available for piuparts on this host; use unshare (or auto)"
            ),
        );
    }
    assert!(!piuparts_ran(&env));
}

#[test]
fn a_base_tgz_of_another_architecture_is_refused_before_piuparts_runs() {
    let env = Env::new();
    let mut data = data_for(&env, "amd64");
    data["base_tgz_id"] = json!(fake_tarball(&env, "s390x"));
    let ran = piuparts_alone(&env, &data);
    assert_refused(&ran, "base_tgz_id: artifact");
    assert_refused(&ran, "is an s390x system, but host_architecture is amd64");
    assert!(!piuparts_ran(&env));
}

#[test]
fn a_deb_of_another_architecture_is_refused_before_piuparts_runs() {
    let env = Env::new();
    let mut data = data_for(&env, "amd64");
    let foreign = deb(env.dir.path(), "th-piuparts-foreign", "s390x", &[]);
    data["input"]["binary_artifacts_ids"] = json!([foreign.to_str().expect("utf-8")]);
    let ran = piuparts_alone(&env, &data);
    assert_refused(
        &ran,
        "th-piuparts-foreign_1.0_s390x.deb, an s390x package, but host_architecture is amd64",
    );
    assert!(!piuparts_ran(&env));
}

#[test]
fn a_base_tgz_that_is_no_tarball_is_refused_before_piuparts_runs() {
    let env = Env::new();
    let data = data_for(&env, "amd64");
    let ran = piuparts_alone(&env, &data);
    assert_refused(&ran, "base_tgz_id: artifact");
    assert_refused(&ran, "not a tarball; give a .tar, .tar.gz or .tar.xz");
    assert!(!piuparts_ran(&env));
}
