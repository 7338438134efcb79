//! The distgit directive through the real `runtask` binary, against a
//! dist-git test server (tests/servers/distgit.py) serving bare git
//! repositories laid out as Fedora's are, through pagure's raw file view.

use crate::koji::{Formulas, origin};
use crate::servers::{NEW_NVR, Server, get_json};
use std::path::Path;
use std::process::Command;

/// The package of the test repository (the koji fixtures' too).
pub const PACKAGE: &str = "taskhost-demo";
/// The spec file on the f40 branch and on rawhide.
pub const SPEC_F40: &str = "Name: taskhost-demo\nVersion: 1.0\nRelease: 1%{?dist}\n";
pub const SPEC_RAWHIDE: &str = "Name: taskhost-demo\nVersion: 1.1\nRelease: 1%{?dist}\n";
pub const TESTS_YML: &str = "- hosts: localhost\n  roles: [standard-test-basic]\n";

/// A dist-git server at `url` (the baseurl) serving `rpms/taskhost-demo`:
/// branch f40 with the spec and tests/tests.yml, and rawhide with a newer
/// spec.
pub struct DistGit {
    pub url: String,
    server: Server,
    _repos: tempfile::TempDir,
}

impl DistGit {
    pub fn start() -> DistGit {
        let repos = tempfile::tempdir().expect("tempdir");
        make_repo(repos.path());
        let server = Server::start("distgit.py", Some(repos.path()));
        DistGit {
            url: server.base.clone(),
            server,
            _repos: repos,
        }
    }

    /// The paths asked for so far.
    pub fn requests(&self) -> Vec<String> {
        let (status, body) = get_json(&format!("{}/_requests", self.server.base));
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body).expect("a list of paths")
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Taskhost Packager",
            "-c",
            "user.email=packager@example.org",
            "-c",
            "init.defaultBranch=rawhide",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("spawn git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `root/rpms/taskhost-demo.git`, bare, as on a dist-git server.
fn make_repo(root: &Path) {
    let work = root.join("work");
    std::fs::create_dir_all(work.join("tests")).expect("mkdir");
    let write = |rel: &str, text: &str| std::fs::write(work.join(rel), text).expect("write");
    git(&work, &["init", "-q"]);
    write("taskhost-demo.spec", SPEC_RAWHIDE);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "rawhide"]);
    git(&work, &["checkout", "-q", "-b", "f40"]);
    write("taskhost-demo.spec", SPEC_F40);
    write("tests/tests.yml", TESTS_YML);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "f40"]);
    std::fs::create_dir_all(root.join("rpms")).expect("mkdir rpms");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            "work",
            &format!("rpms/{PACKAGE}.git"),
        ],
    );
    std::fs::remove_dir_all(&work).expect("rm work");
}

/// One distgit action exporting `out`, with `params` (YAML lines) added
/// to the server's baseurl.
fn distgit_action(server: &DistGit, params: &str) -> String {
    let mut yaml = format!(
        "  - name: download\n    distgit:\n      baseurl: {}\n",
        server.url
    );
    for line in params.lines().filter(|l| !l.trim().is_empty()) {
        yaml.push_str(&format!("      {}\n", line.trim()));
    }
    yaml.push_str("    export: out\n");
    yaml
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn distgit_downloads_the_named_files_of_the_builds_branch_into_target_dir() {
    let server = DistGit::start();
    let f = Formulas::new();
    let policy = f.policy(&[("distgit", vec![origin(&server.url)])]);
    let run = f.run(
        NEW_NVR,
        "koji_build",
        &policy,
        &distgit_action(
            &server,
            "nvr: ${koji_build}\n\
             path: [taskhost-demo.spec, tests/tests.yml]\n\
             localpath: [specs/demo.spec, tests.yml]\n\
             target_dir: ${artifactsdir}/distgit",
        ),
    );
    let out = run.export();
    assert_eq!(
        out["downloaded_files"],
        serde_json::json!([
            "artifacts/distgit/specs/demo.spec",
            "artifacts/distgit/tests.yml"
        ])
    );
    // .fc40: the f40 branch, not rawhide.
    assert_eq!(
        read(&run.artifacts.join("distgit/specs/demo.spec")),
        SPEC_F40
    );
    assert_eq!(read(&run.artifacts.join("distgit/tests.yml")), TESTS_YML);
    assert_eq!(
        server.requests(),
        [
            "/rpms/taskhost-demo/raw/f40/f/taskhost-demo.spec",
            "/rpms/taskhost-demo/raw/f40/f/tests/tests.yml"
        ]
    );
}

#[test]
fn without_gitref_or_nvr_distgit_reads_the_rawhide_branch() {
    let server = DistGit::start();
    let f = Formulas::new();
    let policy = f.policy(&[("distgit", vec![origin(&server.url)])]);
    let run = f.run(
        NEW_NVR,
        "koji_build",
        &policy,
        &distgit_action(
            &server,
            "package: taskhost-demo\npath: [taskhost-demo.spec]\ntarget_dir: ${artifactsdir}/dg",
        ),
    );
    let out = run.export();
    assert_eq!(
        out["downloaded_files"],
        serde_json::json!(["artifacts/dg/taskhost-demo.spec"])
    );
    assert_eq!(
        read(&run.artifacts.join("dg/taskhost-demo.spec")),
        SPEC_RAWHIDE
    );
}

#[test]
fn a_dist_git_url_the_policy_does_not_grant_is_refused_naming_the_grant() {
    let server = DistGit::start();
    let f = Formulas::new();
    // Granted: another port of the same host only.
    let policy = f.policy(&[("distgit", vec!["http://127.0.0.1:1/".to_string()])]);
    let run = f.run(
        NEW_NVR,
        "koji_build",
        &policy,
        &distgit_action(
            &server,
            "nvr: ${koji_build}\npath: [taskhost-demo.spec]\ntarget_dir: ${artifactsdir}/dg",
        ),
    );
    let error = run.error_of("download");
    let url = format!(
        "{}/rpms/taskhost-demo/raw/f40/f/taskhost-demo.spec",
        server.url
    );
    assert!(
        error.contains(&format!("plugin 'distgit' may not access `{url}`")),
        "{error}"
    );
    assert!(error.contains("[plugins.distgit]"), "{error}");
    assert!(
        error.contains(&format!("urls = [\"{}\"]", origin(&server.url))),
        "{error}"
    );
    assert_eq!(server.requests(), Vec::<String>::new());
    assert!(!run.artifacts.join("dg/taskhost-demo.spec").exists());
}

#[test]
fn a_file_dist_git_does_not_have_fails_the_action_naming_it() {
    let server = DistGit::start();
    let f = Formulas::new();
    let policy = f.policy(&[("distgit", vec![origin(&server.url)])]);
    let action = |extra: &str| {
        distgit_action(
            &server,
            &format!(
                "package: taskhost-demo\ngitref: f40\npath: [taskhost-demo.spec, missing.patch]\n\
                 target_dir: ${{artifactsdir}}/dg\n{extra}"
            ),
        )
    };
    let run = f.run(NEW_NVR, "koji_build", &policy, &action(""));
    let error = run.error_of("download");
    assert!(
        error.contains("missing.patch is not in rpms/taskhost-demo at f40"),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "{}/rpms/taskhost-demo/raw/f40/f/missing.patch: HTTP 404",
            server.url
        )),
        "{error}"
    );
    assert!(error.contains("ignore_missing"), "{error}");

    // ignore_missing: the missing file is skipped, the others are kept.
    let run = f.run(
        NEW_NVR,
        "koji_build",
        &policy,
        &action("ignore_missing: true"),
    );
    assert_eq!(
        run.export()["downloaded_files"],
        serde_json::json!(["artifacts/dg/taskhost-demo.spec"])
    );
    assert!(!run.artifacts.join("dg/missing.patch").exists());
}

#[test]
fn a_path_that_leaves_target_dir_is_refused_before_anything_is_downloaded() {
    let server = DistGit::start();
    let f = Formulas::new();
    let policy = f.policy(&[("distgit", vec![origin(&server.url)])]);
    let run = f.run(
        NEW_NVR,
        "koji_build",
        &policy,
        &distgit_action(
            &server,
            "nvr: ${koji_build}\npath: [taskhost-demo.spec]\nlocalpath: [../../escape.spec]\n\
             target_dir: ${artifactsdir}/dg",
        ),
    );
    let error = run.error_of("download");
    assert!(error.contains("`localpath[0]`"), "{error}");
    assert_eq!(server.requests(), Vec::<String>::new());
}
