//! The distgit directive against the SDK's fake host: the raw-file URLs it
//! asks dist-git for, the files it leaves, what it returns, and each way
//! it fails. The fake answers stand in for src.fedoraproject.org's
//! (pagure's) raw view, as tests/servers/distgit.py does in the e2e tests.

use serde_json::{Value, json};
use taskhost_plugin_distgit::DistGit;
use taskhost_sdk::directive::Output;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{FakeHost, Run, context};
use taskhost_sdk::{Error, Result};

const SRC: &str = "https://src.fedoraproject.org";
const RAW_F40: &str = "https://src.fedoraproject.org/rpms/xchat/raw/f40/f";

const SPEC: &str = "\
Name:           xchat
Version:        2.8.8
Release:        32%{?dist}
Epoch:          1
Summary:        A popular and easy to use graphical IRC (chat) client
License:        GPL-2.0-or-later
URL:            http://www.xchat.org
Source0:        http://www.xchat.org/files/source/2.8/xchat-%{version}.tar.bz2
";

const TESTS_YML: &str = "\
- hosts: localhost
  roles:
  - role: standard-test-basic
    tags:
    - classic
    tests:
    - smoke:
        run: xchat --version
";

/// The params as the host hands them over (defaults filled in), with
/// `extra` merged in; a null in `extra` removes the key.
fn params(extra: Value) -> Value {
    let mut p = json!({
        "package": "xchat",
        "gitref": "f40",
        "namespace": "rpms",
        "path": ["xchat.spec"],
        "target_dir": "distgit",
        "baseurl": SRC,
        "ignore_missing": false,
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = v.clone();
        }
    }
    p
}

fn distgit(host: FakeHost, extra: Value) -> Run<Output> {
    host.task_data(params(extra))
        .run_directive::<DistGit>(&context())
}

/// A dist-git that has xchat.spec and tests/tests.yml at f40.
fn src() -> FakeHost {
    FakeHost::new()
        .http(&format!("{RAW_F40}/xchat.spec"), 200, SPEC)
        .http(&format!("{RAW_F40}/tests/tests.yml"), 200, TESTS_YML)
}

/// The run's export, decoded.
#[track_caller]
fn export(run: &Run<Output>) -> Value {
    match &run.status {
        Ok(out) => {
            assert_eq!(out.exit_code, None);
            serde_json::from_str(&out.value).unwrap()
        }
        Err(e) => panic!("{e:?}\n{}", run.log_text(Level::Debug)),
    }
}

#[track_caller]
fn invalid(status: &Result<Output>, starts: &str) {
    assert!(
        matches!(status, Err(Error::Invalid(m)) if m.starts_with(starts)),
        "want Invalid({starts:?}...), got {status:?}"
    );
}

#[test]
fn files_come_from_the_raw_view_and_go_where_localpath_says() {
    let run = distgit(
        src(),
        json!({
            "path": ["xchat.spec", "tests/tests.yml"],
            "localpath": ["specs/xchat.spec", "tests.yml"],
        }),
    );
    assert_eq!(
        export(&run),
        json!({"downloaded_files": ["distgit/specs/xchat.spec", "distgit/tests.yml"]})
    );
    assert_eq!(
        run.urls,
        [
            format!("{RAW_F40}/xchat.spec"),
            format!("{RAW_F40}/tests/tests.yml")
        ]
    );
    // Plain GETs: no header, no body.
    assert!(
        run.requests
            .iter()
            .all(|r| r.method == "GET" && r.headers.is_empty() && r.body.is_empty()),
        "{:?}",
        run.requests
    );
    assert_eq!(
        run.workspace_file("distgit/specs/xchat.spec").as_deref(),
        Some(SPEC.as_bytes())
    );
    assert_eq!(
        run.workspace_file("distgit/tests.yml").as_deref(),
        Some(TESTS_YML.as_bytes())
    );
    assert_eq!(
        run.log_text(Level::Info),
        "rpms/xchat at f40: downloading 2 files from https://src.fedoraproject.org into distgit"
    );
    assert!(run.commands.is_empty() && run.artifacts.is_empty() && run.results.is_empty());
}

#[test]
fn without_localpath_a_file_keeps_its_repository_path() {
    let run = distgit(
        src(),
        json!({"path": ["tests/tests.yml"], "target_dir": "work/dg/"}),
    );
    assert_eq!(
        export(&run),
        json!({"downloaded_files": ["work/dg/tests/tests.yml"]})
    );
    assert_eq!(
        run.workspace_file("work/dg/tests/tests.yml").as_deref(),
        Some(TESTS_YML.as_bytes())
    );
}

#[test]
fn a_file_already_in_target_dir_is_replaced_and_the_others_stay() {
    let run = distgit(
        src()
            .workspace_file("distgit/xchat.spec", "Name: stale\n")
            .workspace_file("distgit/xchat.patch", "--- a\n+++ b\n"),
        json!({}),
    );
    assert_eq!(
        export(&run),
        json!({"downloaded_files": ["distgit/xchat.spec"]})
    );
    assert_eq!(
        run.workspace_file("distgit/xchat.spec").as_deref(),
        Some(SPEC.as_bytes())
    );
    assert_eq!(
        run.workspace_file("distgit/xchat.patch").as_deref(),
        Some(&b"--- a\n+++ b\n"[..])
    );
}

#[test]
fn an_nvr_gives_the_package_and_its_releases_branch() {
    for (extra, url) in [
        (
            json!({"package": null, "gitref": null, "nvr": "xchat-2.8.8-32.fc40"}),
            format!("{RAW_F40}/xchat.spec"),
        ),
        // The epoch, written either way.
        (
            json!({"package": null, "gitref": null, "nvr": "1:xchat-2.8.8-32.fc40"}),
            format!("{RAW_F40}/xchat.spec"),
        ),
        (
            json!({"package": null, "gitref": null, "nvr": "xchat-1:2.8.8-32.fc40"}),
            format!("{RAW_F40}/xchat.spec"),
        ),
        // No Fedora dist tag: the development branch.
        (
            json!({"package": null, "gitref": null, "nvr": "xchat-2.8.8-32.el9"}),
            format!("{SRC}/rpms/xchat/raw/rawhide/f/xchat.spec"),
        ),
        // Neither nvr nor gitref: rawhide.
        (
            json!({"gitref": null}),
            format!("{SRC}/rpms/xchat/raw/rawhide/f/xchat.spec"),
        ),
        // What is given wins over the nvr.
        (
            json!({"nvr": "xchat-2.8.8-32.fc40", "package": "hexchat", "gitref": "epel9",
                   "namespace": "flatpaks"}),
            format!("{SRC}/flatpaks/hexchat/raw/epel9/f/xchat.spec"),
        ),
    ] {
        let run = distgit(FakeHost::new().http(&url, 200, SPEC), extra.clone());
        assert_eq!(
            export(&run),
            json!({"downloaded_files": ["distgit/xchat.spec"]}),
            "{extra}"
        );
        assert_eq!(run.urls, [url], "{extra}");
    }
}

#[test]
fn names_are_percent_encoded_and_the_baseurl_keeps_its_path() {
    let url = "http://pkgs.example.org:8080/dg/rpms/gtk+/raw/gtk-2-24/f/tests/a%20b%23c.yml";
    let run = distgit(
        FakeHost::new().http(url, 200, TESTS_YML),
        json!({
            "package": "gtk+",
            "gitref": "gtk-2-24",
            "baseurl": "http://pkgs.example.org:8080/dg/",
            "path": ["tests/a b#c.yml"],
        }),
    );
    assert_eq!(
        export(&run),
        json!({"downloaded_files": ["distgit/tests/a b#c.yml"]})
    );
    assert_eq!(run.urls, [url]);
    assert!(run.workspace_file("distgit/tests/a b#c.yml").is_some());
}

#[test]
fn a_missing_file_is_not_found_and_stops_the_run() {
    let missing = format!("{RAW_F40}/tests/tests.yml");
    let host = FakeHost::new()
        .http(&format!("{RAW_F40}/xchat.spec"), 200, SPEC)
        .http(&missing, 404, "File not found\n")
        .http(
            &format!("{RAW_F40}/xchat.desktop"),
            200,
            "[Desktop Entry]\n",
        );
    let run = distgit(
        host,
        json!({"path": ["xchat.spec", "tests/tests.yml", "xchat.desktop"]}),
    );
    assert_eq!(
        run.status,
        Err(Error::NotFound(format!(
            "tests/tests.yml is not in rpms/xchat at f40 ({missing}: HTTP 404); check path and \
             gitref, or set ignore_missing: true to skip missing files"
        )))
    );
    // The file before stays; the one after is not asked for.
    assert_eq!(run.urls, [format!("{RAW_F40}/xchat.spec"), missing.clone()]);
    assert!(run.workspace_file("distgit/xchat.spec").is_some());
    assert_eq!(run.workspace_file("distgit/tests/tests.yml"), None);
}

#[test]
fn ignore_missing_skips_what_dist_git_does_not_have() {
    let missing = format!("{RAW_F40}/tests/tests.yml");
    let host = FakeHost::new()
        .http(&format!("{RAW_F40}/xchat.spec"), 200, SPEC)
        .http(&missing, 404, "File not found\n")
        .http(
            &format!("{RAW_F40}/xchat.desktop"),
            200,
            "[Desktop Entry]\n",
        );
    let run = distgit(
        host,
        json!({"path": ["xchat.spec", "tests/tests.yml", "xchat.desktop"], "ignore_missing": true}),
    );
    assert_eq!(
        export(&run),
        json!({"downloaded_files": ["distgit/xchat.spec", "distgit/xchat.desktop"]})
    );
    assert_eq!(run.urls.len(), 3);
    assert_eq!(run.workspace_file("distgit/tests/tests.yml"), None);
    assert!(
        run.log.contains(&(
            Level::Info,
            "tests/tests.yml is not in rpms/xchat at f40; skipped (ignore_missing)".into()
        )),
        "{:?}",
        run.log
    );
}

#[test]
fn a_server_error_fails_naming_the_file_even_with_ignore_missing() {
    let url = format!("{RAW_F40}/xchat.spec");
    for ignore_missing in [false, true] {
        let run = distgit(
            FakeHost::new().http(&url, 500, "Internal Server Error\n"),
            json!({"ignore_missing": ignore_missing}),
        );
        assert_eq!(
            run.status,
            Err(Error::Failed(format!(
                "downloading xchat.spec of rpms/xchat at f40: {url}: HTTP 500"
            ))),
            "ignore_missing {ignore_missing}"
        );
        assert_eq!(run.workspace_file("distgit/xchat.spec"), None);
    }
}

#[test]
fn a_dist_git_that_is_not_granted_is_access_denied() {
    for ignore_missing in [false, true] {
        let run = distgit(
            src().deny_url(SRC),
            json!({"path": ["xchat.spec", "tests/tests.yml"], "ignore_missing": ignore_missing}),
        );
        assert!(
            matches!(&run.status, Err(Error::AccessDenied(m)) if m.contains(&format!("{RAW_F40}/xchat.spec"))),
            "{:?}",
            run.status
        );
        assert!(run.urls.is_empty());
        assert_eq!(run.denied.len(), 1);
        assert_eq!(run.workspace_file("distgit/xchat.spec"), None);
    }
}

#[test]
fn bad_params_are_refused_before_any_request() {
    for (extra, says) in [
        (
            json!({"package": null}),
            "the distgit directive needs the param `package` (e.g. xchat) or `nvr`",
        ),
        (
            json!({"package": "  ", "nvr": ""}),
            "the distgit directive needs the param `package`",
        ),
        (
            json!({"package": null, "nvr": "xchat"}),
            "param `nvr`: 'xchat' is not an N(E)VR",
        ),
        (
            json!({"package": "../../other"}),
            "param `package`: '../../other' is not one name",
        ),
        (
            json!({"gitref": "f40/../x"}),
            "param `gitref`: 'f40/../x' is not one name",
        ),
        (
            json!({"namespace": ".."}),
            "param `namespace`: '..' is not one name",
        ),
        (json!({"namespace": " "}), "param `namespace` is empty"),
        (
            json!({"baseurl": "git://src.fedoraproject.org"}),
            "param `baseurl` must be an http:// or https:// URL",
        ),
        (json!({"path": []}), "param `path` is empty"),
        (
            json!({"path": ["a", "b"], "localpath": ["c"]}),
            "params `path` and `localpath` must be lists of the same length; path has 2, localpath 1",
        ),
        (
            json!({"path": ["../../other/raw/f40/f/x"]}),
            "param `path[0]`: '../../other/raw/f40/f/x' is not a file path below its directory",
        ),
        (json!({"path": ["/etc/passwd"]}), "param `path[0]`"),
        (json!({"path": ["ok", "tests/"]}), "param `path[1]`"),
        (
            json!({"localpath": ["../escape.spec"]}),
            "param `localpath[0]`: '../escape.spec' is not a file path",
        ),
        (
            json!({"localpath": ["specs/../../escape.spec"]}),
            "param `localpath[0]`: 'specs/../../escape.spec' is not a file path",
        ),
        (
            json!({"target_dir": "/tmp"}),
            "param `target_dir` must be a directory in the workspace",
        ),
        (
            json!({"target_dir": "distgit/../.."}),
            "param `target_dir` must be a directory in the workspace",
        ),
        (json!({"branch": "f40"}), "params: unknown key 'branch'"),
        (json!({"path": "xchat.spec"}), "params: path: invalid type"),
        (
            json!({"ignore_missing": "yes"}),
            "params: ignore_missing: invalid type",
        ),
        (
            json!({"target_dir": null}),
            "params: missing field `target_dir`",
        ),
    ] {
        let run = distgit(src(), extra.clone());
        invalid(&run.status, says);
        assert!(run.requests.is_empty(), "{extra}: {:?}", run.urls);
    }
}
