//! The bodhi directive against the SDK's fake host: what it asks Bodhi and
//! koji, what it returns, and each way it fails.
//!
//! The answers in tests/data are real shapes: Bodhi's `GET /updates/ALIAS`
//! as bodhi-server answers it and koji's getBuild and listRPMs as the hub
//! marshals them, all made by the e2e test servers for the e2e fixtures
//! (tests/data/make.py remakes them).
//!
//! The fake hub answers each call by its method (and its first argument
//! when that is a string, an NVR), and the calls are asserted; kojipkgs
//! serves the stored RPMs of the build, which tests/data/make.py copies
//! from the e2e fixtures with the hub's listRPMs answer, so their sizes and
//! SIGMD5s match it.

use serde_json::{Value, json};
use taskhost_fedora::xmlrpc;
use taskhost_plugin_bodhi::BodhiDirective;
use taskhost_sdk::directive::Output;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{FakeHost, Request, Run, context};
use taskhost_sdk::{Error, Result};

const BODHI: &str = "https://bodhi.fedoraproject.org/";
const HUB: &str = "https://koji.fedoraproject.org/kojihub";
const TOPURL: &str = "https://kojipkgs.fedoraproject.org";
const BUILD_DIR: &str = "https://kojipkgs.fedoraproject.org/packages/taskhost-demo/1.0/1.fc40";
const ALIAS: &str = "FEDORA-2024-7a5c1e0b9d";
const UPDATE_URL: &str = "https://bodhi.fedoraproject.org/updates/FEDORA-2024-7a5c1e0b9d";
const NVR: &str = "taskhost-demo-1.0-1.fc40";
const OLD: &str = "taskhost-demo-0.9-1.fc40";

const UPDATE: &str = include_str!("data/update.json");
const GET_BUILD: &str = include_str!("data/getBuild.xml");
const GET_BUILD_OLD: &str = include_str!("data/getBuild-0.9.xml");
const GET_BUILD_FAILED: &str = include_str!("data/getBuild-failed.xml");
const NIL: &str = include_str!("data/nil.xml");
const LIST_RPMS: &str = include_str!("data/listRPMs.xml");
const FAULT_OFFLINE: &str = include_str!("data/fault-offline.xml");

const X86_64: &str = "taskhost-demo-1.0-1.fc40.x86_64.rpm";
const I686: &str = "taskhost-demo-1.0-1.fc40.i686.rpm";
const DOCS: &str = "taskhost-demo-docs-1.0-1.fc40.noarch.rpm";
const SRC: &str = "taskhost-demo-1.0-1.fc40.src.rpm";

/// Each stored RPM: its arch directory, file name and bytes.
const RPMS: [(&str, &str, &[u8]); 4] = [
    (
        "x86_64",
        X86_64,
        include_bytes!("data/taskhost-demo-1.0-1.fc40.x86_64.rpm"),
    ),
    (
        "i686",
        I686,
        include_bytes!("data/taskhost-demo-1.0-1.fc40.i686.rpm"),
    ),
    (
        "noarch",
        DOCS,
        include_bytes!("data/taskhost-demo-docs-1.0-1.fc40.noarch.rpm"),
    ),
    (
        "src",
        SRC,
        include_bytes!("data/taskhost-demo-1.0-1.fc40.src.rpm"),
    ),
];

/// The e2e hub's answers: `METHOD(FIRST ARGUMENT)` or `METHOD`.
const ANSWERS: [(&str, &str); 3] = [
    ("getBuild(taskhost-demo-1.0-1.fc40)", GET_BUILD),
    ("getBuild(taskhost-demo-0.9-1.fc40)", GET_BUILD_OLD),
    ("listRPMs", LIST_RPMS),
];

/// Bodhi's (cornice's) answer to an unknown update id.
const INVALID_UPDATE_ID: &str = r#"{"status": "error", "errors": [{"location": "url", "name": "id", "description": "Invalid update id"}]}"#;

fn rpm_bytes(name: &str) -> &'static [u8] {
    RPMS.iter().find(|(_, n, _)| *n == name).unwrap().2
}

fn rpm_url(name: &str) -> String {
    let (arch, _, _) = RPMS.iter().find(|(_, n, _)| *n == name).unwrap();
    format!("{BUILD_DIR}/{arch}/{name}")
}

/// The params as the host hands them over (defaults filled in), with
/// `extra` merged in; a null in `extra` removes the key.
fn params(extra: Value) -> Value {
    let mut p = json!({
        "action": "download",
        "update_id": ALIAS,
        "arch": ["x86_64"],
        "src": false,
        "target_dir": "rpms",
        "bodhi_url": BODHI,
        "koji_url": HUB,
        "pkgs_url": TOPURL,
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

/// The real update, changed by `edit`.
fn update(edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(UPDATE).unwrap();
    edit(&mut v["update"]);
    v.to_string()
}

/// The text between `open` and `close` in `s`, if any.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    Some(&s[start..start + s[start..].find(close)?])
}

/// Bodhi answers `update`, and koji as [`koji`] says.
fn host(update: &str, answers: &[(&'static str, &'static str)]) -> FakeHost {
    koji(FakeHost::new().http(UPDATE_URL, 200, update), answers)
}

/// `host`, whose hub answers each call by `answers` (the first entry
/// naming it, `METHOD` or `METHOD(FIRST ARGUMENT)`, wins), then by the e2e
/// hub's [`ANSWERS`], and whose kojipkgs serves the stored RPMs and nothing
/// else (404).
fn koji(host: FakeHost, answers: &[(&'static str, &'static str)]) -> FakeHost {
    let answers: Vec<_> = answers.iter().chain(&ANSWERS).copied().collect();
    host.http_respond(HUB, move |request: &Request| {
        let call = request.text();
        let method = between(&call, "<methodName>", "</methodName>").unwrap_or_default();
        let first = between(&call, "<params><param><value><string>", "</string>")
            .map(|arg| format!("{method}({arg})"));
        let answer = answers
            .iter()
            .find(|(key, _)| *key == method || Some(*key) == first.as_deref())
            .unwrap_or_else(|| panic!("the fake hub has no answer to {call}"));
        (200, answer.1.into())
    })
    .http_respond(TOPURL, |request: &Request| {
        match RPMS
            .iter()
            .find(|(_, name, _)| rpm_url(name) == request.url)
        {
            Some((_, _, bytes)) => (200, bytes.to_vec()),
            None => (404, b"Not Found\n".to_vec()),
        }
    })
}

fn bodhi(host: FakeHost, extra: Value) -> Run<Output> {
    host.task_data(params(extra))
        .run_directive::<BodhiDirective>(&context())
}

/// The XML-RPC call `method(params...)` as the hub receives it.
fn call(method: &str, params: &[xmlrpc::Value]) -> String {
    String::from_utf8(xmlrpc::encode_call(method, params).unwrap()).unwrap()
}

fn get_build(nvr: &str) -> String {
    call("getBuild", &[nvr.into()])
}

/// listRPMs of the build for `arches` (null: every arch), with koji's
/// keyword-argument marker.
fn list_rpms(arches: Value) -> String {
    let kwargs = json!({"__starstar": true, "buildID": 2002, "arches": arches});
    call("listRPMs", &[xmlrpc::Value::from_json(&kwargs)])
}

/// The run's hub calls, in order; each must be an XML-RPC POST.
#[track_caller]
fn hub_calls(run: &Run<Output>) -> Vec<String> {
    run.requests
        .iter()
        .filter(|r| r.url == HUB)
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(r.headers, [("content-type".into(), "text/xml".into())]);
            r.text()
        })
        .collect()
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

fn paths(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("rpms/{n}")).collect()
}

#[track_caller]
fn error_is(status: &Result<Output>, want: Error) {
    assert_eq!(status, &Err(want));
}

#[test]
fn the_rpms_of_each_build_of_the_update_are_downloaded_from_koji() {
    let run = bodhi(host(UPDATE, &[]), json!({}));
    let want = [X86_64, DOCS];
    assert_eq!(export(&run), json!({"downloaded_rpms": paths(&want)}));
    // Bodhi's update, asked for as JSON.
    let asked = &run.requests[0];
    assert_eq!(
        (asked.method.as_str(), asked.url.as_str()),
        ("GET", UPDATE_URL)
    );
    assert_eq!(
        asked.headers,
        [("accept".into(), "application/json".into())]
    );
    assert!(asked.body.is_empty());
    // The build, its RPMs for the arches taken (noarch added), then each.
    assert_eq!(
        hub_calls(&run),
        [get_build(NVR), list_rpms(json!(["noarch", "x86_64"]))]
    );
    assert_eq!(
        run.urls,
        [UPDATE_URL, HUB, HUB, &rpm_url(X86_64), &rpm_url(DOCS)]
    );
    for name in want {
        assert_eq!(
            run.workspace_file(&format!("rpms/{name}")).as_deref(),
            Some(rpm_bytes(name)),
            "{name}"
        );
    }
    assert_eq!(
        run.log_text(Level::Info),
        format!("bodhi update {ALIAS}: {NVR}\n{NVR}: downloading 2 RPMs into rpms")
    );
    assert!(run.commands.is_empty() && run.artifacts.is_empty() && run.results.is_empty());
}

#[test]
fn arch_and_src_choose_the_rpms_and_debuginfo_is_never_taken() {
    for (extra, arches, want) in [
        (
            json!({"arch": ["i386"]}),
            json!(["i386", "i486", "i586", "i686", "noarch"]),
            vec![I686, DOCS],
        ),
        (
            json!({"arch": ["x86_64"], "src": true}),
            json!(["noarch", "src", "x86_64"]),
            vec![SRC, X86_64, DOCS],
        ),
        // Every arch: the hub lists the -debuginfo RPM too.
        (
            json!({"arch": ["all"], "src": true}),
            json!(null),
            vec![I686, SRC, X86_64, DOCS],
        ),
        // An empty list takes only the source RPM, with src.
        (json!({"arch": [], "src": true}), json!(["src"]), vec![SRC]),
    ] {
        let run = bodhi(host(UPDATE, &[]), extra.clone());
        assert_eq!(
            export(&run),
            json!({"downloaded_rpms": paths(&want)}),
            "{extra}"
        );
        assert_eq!(
            hub_calls(&run),
            [get_build(NVR), list_rpms(arches)],
            "{extra}"
        );
        for name in want {
            assert_eq!(
                run.workspace_file(&format!("rpms/{name}")).as_deref(),
                Some(rpm_bytes(name)),
                "{extra}: {name}"
            );
        }
    }
}

#[test]
fn each_build_is_looked_up_in_the_updates_order() {
    // Without an arch or src no RPM is asked for: only the builds.
    let two = update(|u| {
        let mut other = u["builds"][0].clone();
        other["nvr"] = json!(OLD);
        u["builds"].as_array_mut().unwrap().push(other);
    });
    let run = bodhi(host(&two, &[]), json!({"arch": []}));
    assert_eq!(export(&run), json!({"downloaded_rpms": []}));
    assert_eq!(hub_calls(&run), [get_build(NVR), get_build(OLD)]);
    assert_eq!(
        run.log_text(Level::Info),
        format!(
            "bodhi update {ALIAS}: {NVR} {OLD}\n\
             {NVR}: downloading 0 RPMs into rpms\n\
             {OLD}: downloading 0 RPMs into rpms"
        )
    );
    assert!(run.workspace.path().join("rpms").is_dir());
}

#[test]
fn the_update_url_is_the_same_with_or_without_a_slash() {
    for base in [
        "https://bodhi.fedoraproject.org",
        "https://bodhi.fedoraproject.org/",
        "https://bodhi.fedoraproject.org//",
    ] {
        let run = bodhi(host(UPDATE, &[]), json!({"bodhi_url": base, "arch": []}));
        assert_eq!(export(&run), json!({"downloaded_rpms": []}), "{base}");
        assert_eq!(run.urls[0], UPDATE_URL, "{base}");
    }
}

#[test]
fn an_update_without_builds_downloads_nothing_and_says_so() {
    let empty = update(|u| u["builds"] = json!([]));
    let run = bodhi(host(&empty, &[]), json!({}));
    assert_eq!(export(&run), json!({"downloaded_rpms": []}));
    assert_eq!(run.urls, [UPDATE_URL]);
    assert_eq!(
        run.log_text(Level::Warn),
        format!("bodhi update {ALIAS} holds no builds")
    );
}

#[test]
fn an_update_of_something_else_than_rpms_is_refused() {
    let container = update(|u| {
        u["content_type"] = json!("container");
        u["builds"][0]["type"] = json!("container");
    });
    let run = bodhi(host(&container, &[]), json!({}));
    error_is(
        &run.status,
        Error::Failed(format!(
            "bodhi update {ALIAS} holds container builds, not RPMs: there is nothing for this directive to download"
        )),
    );
    assert_eq!(run.urls, [UPDATE_URL]);
}

#[test]
fn an_unknown_update_is_not_found_in_bodhis_words() {
    let run = bodhi(
        FakeHost::new().http(UPDATE_URL, 404, INVALID_UPDATE_ID),
        json!({}),
    );
    error_is(
        &run.status,
        Error::NotFound(format!(
            "bodhi update {ALIAS} does not exist at {UPDATE_URL} (bodhi says: Invalid update id)"
        )),
    );
    assert_eq!(run.urls, [UPDATE_URL]);

    // A 404 that is not Bodhi's JSON (a proxy's page) has nothing to quote.
    let run = bodhi(
        FakeHost::new().http(UPDATE_URL, 404, "<html><body>Not Found</body></html>"),
        json!({}),
    );
    error_is(
        &run.status,
        Error::NotFound(format!(
            "bodhi update {ALIAS} does not exist at {UPDATE_URL}"
        )),
    );
}

#[test]
fn bodhi_failing_or_answering_garbage_is_an_error() {
    let cornice_500 = r#"{"status": "error", "errors": [{"location": "body", "name": "body", "description": "Database error"}]}"#;
    let run = bodhi(
        FakeHost::new().http(UPDATE_URL, 500, cornice_500),
        json!({}),
    );
    error_is(
        &run.status,
        Error::Failed(format!(
            "{UPDATE_URL} answered HTTP 500 (bodhi says: Database error)"
        )),
    );

    let run = bodhi(
        FakeHost::new().http(UPDATE_URL, 503, "<html>Service Unavailable</html>"),
        json!({}),
    );
    error_is(
        &run.status,
        Error::Failed(format!("{UPDATE_URL} answered HTTP 503")),
    );

    // 200, but not an update: a login page, an update without `builds`' nvr.
    for (body, says) in [
        (
            "<!DOCTYPE html><html><title>Bodhi</title></html>",
            "expected value",
        ),
        (r#"{"updates": []}"#, "missing field `update`"),
        (
            r#"{"update": {"builds": [{"type": "rpm"}]}}"#,
            "missing field `nvr`",
        ),
    ] {
        let run = bodhi(FakeHost::new().http(UPDATE_URL, 200, body), json!({}));
        match &run.status {
            Err(Error::Failed(m)) => assert!(
                m.starts_with(&format!(
                    "{UPDATE_URL} answered 200 with a body that is not the expected JSON: "
                )) && m.contains(says),
                "{body}: {m}"
            ),
            other => panic!("{body}: {other:?}"),
        }
        assert_eq!(run.urls, [UPDATE_URL], "{body}");
    }
}

#[test]
fn a_build_koji_cannot_give_fails_naming_the_update() {
    let run = bodhi(host(UPDATE, &[("getBuild", NIL)]), json!({}));
    error_is(
        &run.status,
        Error::NotFound(format!(
            "bodhi update {ALIAS}: koji build {NVR} does not exist on {HUB}"
        )),
    );
    let run = bodhi(host(UPDATE, &[("getBuild", GET_BUILD_FAILED)]), json!({}));
    error_is(
        &run.status,
        Error::Failed(format!(
            "bodhi update {ALIAS}: koji build {NVR} is FAILED, not COMPLETE: it has no RPMs to download"
        )),
    );
    let run = bodhi(host(UPDATE, &[("getBuild", FAULT_OFFLINE)]), json!({}));
    error_is(
        &run.status,
        Error::Failed(format!(
            "bodhi update {ALIAS}: looking up the build {NVR}: getBuild at {HUB}: fault 1014: \
             Server disabled for maintenance"
        )),
    );
    assert_eq!(hub_calls(&run), [get_build(NVR)]);
    assert_eq!(run.urls, [UPDATE_URL, HUB]);
    assert_eq!(
        std::fs::read_dir(run.workspace.path().join("rpms"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn an_rpm_that_does_not_match_koji_fails_naming_the_update_and_is_removed() {
    // The i686 RPM served as the x86_64 one: 6645 bytes, not 6637.
    let host =
        FakeHost::new()
            .http(UPDATE_URL, 200, UPDATE)
            .http(&rpm_url(X86_64), 200, rpm_bytes(I686));
    let run = bodhi(koji(host, &[]), json!({}));
    error_is(
        &run.status,
        Error::Failed(format!(
            "bodhi update {ALIAS}: {}: downloaded 6645 bytes, but koji says the RPM has 6637; \
             the file was removed",
            rpm_url(X86_64)
        )),
    );
    assert_eq!(run.workspace_file(&format!("rpms/{X86_64}")), None);
    // It stopped there: the docs RPM was not asked for.
    assert_eq!(run.urls.last(), Some(&rpm_url(X86_64)));
}

#[test]
fn a_bad_nvr_in_the_update_is_invalid_and_not_sent_to_koji() {
    let bad = update(|u| u["builds"][0]["nvr"] = json!("taskhost-demo/../../etc-1-1"));
    let run = bodhi(host(&bad, &[]), json!({}));
    match &run.status {
        Err(Error::Invalid(m)) => assert!(
            m.starts_with(&format!(
                "bodhi update {ALIAS}: 'taskhost-demo/../../etc-1-1' is not an NVR"
            )),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.urls, [UPDATE_URL]);
}

#[test]
fn denied_urls_end_the_run_with_access_denied() {
    let run = bodhi(host(UPDATE, &[]).deny_url(BODHI), json!({}));
    assert!(
        matches!(&run.status, Err(Error::AccessDenied(m)) if m.contains(UPDATE_URL)),
        "{:?}",
        run.status
    );
    assert!(run.urls.is_empty());
    assert_eq!(run.denied.len(), 1);

    // Bodhi granted, the hub not: the denial is passed on as it is.
    let run = bodhi(host(UPDATE, &[]).deny_url(HUB), json!({}));
    assert!(
        matches!(&run.status, Err(Error::AccessDenied(m)) if m.contains(HUB) && !m.contains("bodhi update")),
        "{:?}",
        run.status
    );
    assert_eq!(run.urls, [UPDATE_URL]);
    assert_eq!(run.denied.len(), 1);

    // The topurl not granted: nothing is downloaded.
    let run = bodhi(host(UPDATE, &[]).deny_url(TOPURL), json!({}));
    assert!(
        matches!(&run.status, Err(Error::AccessDenied(m)) if m.contains(&rpm_url(X86_64)) && !m.contains("bodhi update")),
        "{:?}",
        run.status
    );
    assert_eq!(run.urls, [UPDATE_URL, HUB, HUB]);
    assert_eq!(run.workspace_file(&format!("rpms/{X86_64}")), None);
}

#[test]
fn bad_params_are_refused_before_any_request() {
    for (extra, says) in [
        (
            json!({"action": "download_tag"}),
            "param `action` must be download, not 'download_tag'",
        ),
        (
            json!({"bodhi_url": "bodhi.fedoraproject.org"}),
            "param `bodhi_url` must be an http:// or https:// URL",
        ),
        (
            json!({"koji_url": "file:///kojihub"}),
            "param `koji_url` must be an http:// or https:// URL",
        ),
        (
            json!({"pkgs_url": "kojipkgs"}),
            "param `pkgs_url` must be an http:// or https:// URL",
        ),
        (
            json!({"update_id": "../../kojihub"}),
            "param `update_id` must be a Bodhi update id such as FEDORA-2024-7a5c1e0b9d, not '../../kojihub'",
        ),
        (
            json!({"update_id": "FEDORA-2024-1?x=1"}),
            "param `update_id` must be a Bodhi update id",
        ),
        (json!({"update_id": ""}), "param `update_id` must be"),
        (
            json!({"target_dir": "/var/tmp/rpms"}),
            "param `target_dir` must be a directory in the workspace",
        ),
        (
            json!({"target_dir": "rpms/../.."}),
            "param `target_dir` must be a directory in the workspace",
        ),
        (
            json!({"debuginfo": true}),
            "params: unknown key 'debuginfo'",
        ),
        (json!({"src": "true"}), "params: src: invalid type"),
        (json!({"arch": "x86_64"}), "params: arch: invalid type"),
        (
            json!({"update_id": null}),
            "params: missing field `update_id`",
        ),
    ] {
        let run = bodhi(host(UPDATE, &[]), extra.clone());
        assert!(
            matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with(says)),
            "{extra}: want {says:?}, got {:?}",
            run.status
        );
        assert!(run.requests.is_empty(), "{extra}: {:?}", run.urls);
    }
}
