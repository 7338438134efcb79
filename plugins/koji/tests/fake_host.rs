//! The koji directive against the SDK's fake host: the hub calls and
//! downloads it makes, what it returns, and each way it fails.
//!
//! The hub's answers in tests/data are real XML-RPC: what the e2e koji hub
//! (tests/servers/koji_hub.py) answers for the e2e fixture builds,
//! marshalled as koji's hub does; the RPMs are the fixture RPMs that
//! rpmbuild made, so their sizes and SIGMD5s match the listRPMs answer
//! (tests/data/make.py remakes all of it). listTagged-updates.xml is the
//! hub once taskhost-demo-1.0-1.fc40 went stable (tagged f40-updates).
//!
//! The fake hub answers each call by its method (and its first argument,
//! when that is a string: a tag, an NVR), and the calls themselves are
//! asserted. It answers listRPMs with every RPM of the build whatever the
//! `arches` asked for (the real hub filters by them): the RPMs taken show
//! that the directive filters again itself.

use serde_json::{Value, json};
use taskhost_fedora::xmlrpc;
use taskhost_plugin_koji::KojiDirective;
use taskhost_sdk::directive::Output;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{FakeHost, Request, Run, context};
use taskhost_sdk::{Error, Result};

const HUB: &str = "https://koji.fedoraproject.org/kojihub";
const TOPURL: &str = "https://kojipkgs.fedoraproject.org";
const BUILD_DIR: &str = "https://kojipkgs.fedoraproject.org/packages/taskhost-demo/1.0/1.fc40";
const NVR: &str = "taskhost-demo-1.0-1.fc40";
const BUILD_ID: i64 = 2002;
const TAG: &str = "f40-updates-testing";

const GET_BUILD: &str = include_str!("data/getBuild.xml");
const GET_BUILD_FAILED: &str = include_str!("data/getBuild-failed.xml");
const NIL: &str = include_str!("data/nil.xml");
const LIST_RPMS: &str = include_str!("data/listRPMs.xml");
const GET_TAG: &str = include_str!("data/getTag-testing.xml");
const LIST_TAGGED_TESTING: &str = include_str!("data/listTagged-testing.xml");
const LIST_TAGGED_UPDATES: &str = include_str!("data/listTagged-updates.xml");
const LIST_TAGGED_EMPTY: &str = include_str!("data/listTagged-empty.xml");
const LIST_TAGGED_F40: &str = include_str!("data/listTagged-f40.xml");
const FAULT_NO_SUCH_TAG: &str = include_str!("data/fault-no-such-tag.xml");
const FAULT_OFFLINE: &str = include_str!("data/fault-offline.xml");

const X86_64: &str = "taskhost-demo-1.0-1.fc40.x86_64.rpm";
const I686: &str = "taskhost-demo-1.0-1.fc40.i686.rpm";
const DOCS: &str = "taskhost-demo-docs-1.0-1.fc40.noarch.rpm";
const SRC: &str = "taskhost-demo-1.0-1.fc40.src.rpm";
const DEBUGINFO: &str = "taskhost-demo-debuginfo-1.0-1.fc40.x86_64.rpm";

/// Each stored RPM: its arch directory, file name and bytes.
const RPMS: [(&str, &str, &[u8]); 5] = [
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
    (
        "x86_64",
        DEBUGINFO,
        include_bytes!("data/taskhost-demo-debuginfo-1.0-1.fc40.x86_64.rpm"),
    ),
];

/// The start of the x86_64 build log of the fixture build.
const BUILD_LOG: &str = "Building target platforms: x86_64\nBuilding for target x86_64\n\
                         Executing(%prep): /bin/sh -e /var/tmp/rpm-tmp.JkJPTW\n+ umask 022\n";

/// The e2e hub's answers: `METHOD(FIRST ARGUMENT)` or `METHOD`.
const ANSWERS: [(&str, &str); 5] = [
    ("getBuild(taskhost-demo-1.0-1.fc40)", GET_BUILD),
    ("listRPMs", LIST_RPMS),
    ("getTag(f40-updates-testing)", GET_TAG),
    ("listTagged(f40-updates-testing)", LIST_TAGGED_TESTING),
    ("listTagged(f40-updates)", LIST_TAGGED_UPDATES),
];

fn rpm_bytes(name: &str) -> &'static [u8] {
    RPMS.iter().find(|(_, n, _)| *n == name).unwrap().2
}

fn rpm_url(name: &str) -> String {
    let (arch, _, _) = RPMS.iter().find(|(_, n, _)| *n == name).unwrap();
    format!("{BUILD_DIR}/{arch}/{name}")
}

fn log_url(arch: &str) -> String {
    format!("{BUILD_DIR}/data/logs/{arch}/build.log")
}

/// The params as the host hands them over (defaults filled in), with
/// `extra` merged in; a null in `extra` removes the key.
fn params(extra: Value) -> Value {
    let mut p = json!({
        "action": "download",
        "koji_build": NVR,
        "arch": ["x86_64"],
        "arch_exclude": [],
        "src": false,
        "debuginfo": false,
        "build_log": false,
        "target_dir": "rpms",
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

/// The text between `open` and `close` in `s`, if any.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    Some(&s[start..start + s[start..].find(close)?])
}

/// A call's method, and `METHOD(FIRST ARGUMENT)` when that argument is
/// a string.
fn signature(call: &str) -> (String, Option<String>) {
    let method = between(call, "<methodName>", "</methodName>").unwrap_or_default();
    let first = between(call, "<params><param><value><string>", "</string>")
        .map(|arg| format!("{method}({arg})"));
    (method.to_string(), first)
}

/// A host whose hub answers each call by `answers` (the first entry
/// naming it wins), then by the e2e hub's [`ANSWERS`]; a call neither
/// knows fails the test.
fn hub(answers: &[(&'static str, &'static str)]) -> FakeHost {
    let answers: Vec<_> = answers.iter().chain(&ANSWERS).copied().collect();
    FakeHost::new().http_respond(HUB, move |request: &Request| {
        let call = request.text();
        let (method, first) = signature(&call);
        let answer = answers
            .iter()
            .find(|(key, _)| *key == method || Some(*key) == first.as_deref())
            .unwrap_or_else(|| panic!("the fake hub has no answer to {call}"));
        (200, answer.1.into())
    })
}

/// `host`, whose topurl serves every stored RPM and nothing else (404),
/// as kojipkgs would for this build.
fn kojipkgs(host: FakeHost) -> FakeHost {
    host.http_respond(TOPURL, |request: &Request| {
        match RPMS
            .iter()
            .find(|(_, name, _)| rpm_url(name) == request.url)
        {
            Some((_, _, bytes)) => (200, bytes.to_vec()),
            None => (404, b"Not Found\n".to_vec()),
        }
    })
}

fn koji(host: FakeHost, extra: Value) -> Run<Output> {
    host.task_data(params(extra))
        .run_directive::<KojiDirective>(&context())
}

/// The XML-RPC call `method(params...)` as the hub receives it.
fn call(method: &str, params: &[xmlrpc::Value]) -> String {
    String::from_utf8(xmlrpc::encode_call(method, params).unwrap()).unwrap()
}

/// koji's keyword arguments: a last struct marked `__starstar`.
fn kwargs(mut args: Value) -> xmlrpc::Value {
    args["__starstar"] = json!(true);
    xmlrpc::Value::from_json(&args)
}

fn get_build() -> String {
    call("getBuild", &[NVR.into()])
}

/// listRPMs of the build for `arches` (null: every arch).
fn list_rpms(arches: Value) -> String {
    call(
        "listRPMs",
        &[kwargs(json!({"buildID": BUILD_ID, "arches": arches}))],
    )
}

/// listTagged(tag, latest=latest, package=package).
fn list_tagged(tag: &str, latest: bool, package: Value) -> String {
    call(
        "listTagged",
        &[
            tag.into(),
            kwargs(json!({"latest": latest, "package": package})),
        ],
    )
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
fn failed_with(status: &Result<Output>, words: &str) {
    assert!(
        matches!(status, Err(Error::Failed(m)) if m == words),
        "want Failed({words:?}), got {status:?}"
    );
}

#[test]
fn download_looks_the_build_up_lists_its_rpms_and_downloads_them() {
    let run = koji(kojipkgs(hub(&[])), json!({}));
    let want = [X86_64, DOCS];
    assert_eq!(
        export(&run),
        json!({"downloaded_rpms": paths(&want), "downloaded_logs": [], "log_errors": []})
    );
    // getBuild, then listRPMs for the arches taken (noarch added).
    assert_eq!(
        hub_calls(&run),
        [get_build(), list_rpms(json!(["noarch", "x86_64"]))]
    );
    // As the hub reads it.
    assert_eq!(
        hub_calls(&run)[0],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodCall><methodName>getBuild</methodName>\
         <params><param><value><string>taskhost-demo-1.0-1.fc40</string></value></param>\
         </params></methodCall>"
    );
    // Then the RPMs, sorted by file name: plain GETs.
    assert_eq!(run.urls, [HUB, HUB, &rpm_url(X86_64), &rpm_url(DOCS)]);
    for (request, name) in run.requests[2..].iter().zip(want) {
        assert_eq!(
            (request.method.as_str(), request.body.is_empty()),
            ("GET", true),
            "{name}"
        );
        assert_eq!(
            run.workspace_file(&format!("rpms/{name}")).as_deref(),
            Some(rpm_bytes(name)),
            "{name}"
        );
    }
    assert_eq!(
        run.log_text(Level::Info),
        format!("{NVR}: downloading 2 RPMs into rpms")
    );
    assert!(run.backends.is_empty() && run.commands.is_empty());
    assert!(run.artifacts.is_empty() && run.results.is_empty());
}

#[test]
fn an_empty_arch_list_takes_no_rpm_and_asks_for_none() {
    let run = koji(hub(&[]), json!({"arch": []}));
    assert_eq!(
        export(&run),
        json!({"downloaded_rpms": [], "downloaded_logs": [], "log_errors": []})
    );
    // getBuild only: without a binary arch or src, listRPMs is not asked.
    assert_eq!(hub_calls(&run), [get_build()]);
    assert_eq!(run.urls, [HUB]);
    assert!(run.workspace.path().join("rpms").is_dir());
    assert_eq!(
        run.log_text(Level::Info),
        format!("{NVR}: downloading 0 RPMs into rpms")
    );
}

#[test]
fn arch_src_debuginfo_and_arch_exclude_choose_the_rpms() {
    for (extra, arches, want) in [
        // i386 is i386..i686; noarch is always added.
        (
            json!({"arch": ["i386"]}),
            json!(["i386", "i486", "i586", "i686", "noarch"]),
            vec![I686, DOCS],
        ),
        (
            json!({"arch": ["i386"], "src": true}),
            json!(["i386", "i486", "i586", "i686", "noarch", "src"]),
            vec![I686, SRC, DOCS],
        ),
        (
            json!({"arch": ["x86_64"], "debuginfo": true}),
            json!(["noarch", "x86_64"]),
            vec![X86_64, DEBUGINFO, DOCS],
        ),
        // all: every arch is asked for (null), src left out here.
        (
            json!({"arch": ["all"]}),
            json!(null),
            vec![I686, X86_64, DOCS],
        ),
        (
            json!({"arch": ["all"], "arch_exclude": ["i386", "noarch"]}),
            json!(null),
            vec![X86_64],
        ),
        // An empty list takes only the source RPM, with src.
        (json!({"arch": [], "src": true}), json!(["src"]), vec![SRC]),
        (
            json!({"arch": ["x86_64"], "arch_exclude": ["x86_64"]}),
            json!(["noarch"]),
            vec![DOCS],
        ),
    ] {
        let run = koji(kojipkgs(hub(&[])), extra.clone());
        let out = export(&run);
        assert_eq!(out["downloaded_rpms"], json!(paths(&want)), "{extra}");
        assert_eq!(hub_calls(&run), [get_build(), list_rpms(arches)], "{extra}");
        let mut urls = vec![HUB.to_string(), HUB.to_string()];
        urls.extend(want.iter().map(|n| rpm_url(n)));
        assert_eq!(run.urls, urls, "{extra}");
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
fn build_logs_are_saved_per_arch_and_a_missing_one_is_listed() {
    // kojipkgs has the x86_64 log, not the i686 one (404).
    let host = kojipkgs(hub(&[]).http(&log_url("x86_64"), 200, BUILD_LOG));
    let run = koji(host, json!({"arch": ["all"], "build_log": true}));
    assert_eq!(
        export(&run),
        json!({
            "downloaded_rpms": paths(&[I686, X86_64, DOCS]),
            "downloaded_logs": ["rpms/build.log.x86_64"],
            "log_errors": ["i686"],
        })
    );
    // listRPMs again, for every arch, to know the build's arches (noarch
    // has no log of its own when the build has arch RPMs).
    assert_eq!(
        hub_calls(&run),
        [get_build(), list_rpms(json!(null)), list_rpms(json!(null))]
    );
    let mut urls = vec![HUB.to_string(), HUB.to_string()];
    urls.extend([I686, X86_64, DOCS].map(rpm_url));
    urls.extend([HUB.to_string(), log_url("i686"), log_url("x86_64")]);
    assert_eq!(run.urls, urls);
    assert_eq!(
        run.workspace_file("rpms/build.log.x86_64").as_deref(),
        Some(BUILD_LOG.as_bytes())
    );
    assert_eq!(run.workspace_file("rpms/build.log.i686"), None);
    let i686 = log_url("i686");
    assert_eq!(
        run.log_text(Level::Warn),
        format!("{NVR}: no build log for i686 ({i686}): {i686}: HTTP 404")
    );
}

#[test]
fn download_tag_downloads_every_build_tagged_in_the_tag() {
    let run = koji(
        kojipkgs(hub(&[])),
        json!({"action": "download_tag", "koji_build": null, "koji_tag": TAG, "src": true}),
    );
    let want = [SRC, X86_64, DOCS];
    assert_eq!(
        export(&run),
        json!({"downloaded_rpms": paths(&want), "downloaded_logs": [], "log_errors": []})
    );
    // The tag must exist; its own builds (not inherited, not only the
    // latest), then each build's RPMs.
    assert_eq!(
        hub_calls(&run),
        [
            call("getTag", &[TAG.into()]),
            list_tagged(TAG, false, json!(null)),
            list_rpms(json!(["noarch", "src", "x86_64"])),
        ]
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
        format!("{TAG}: 1 builds\n{NVR}: downloading 3 RPMs into rpms")
    );
}

#[test]
fn download_tag_ignores_build_log_and_an_empty_tag_downloads_nothing() {
    let run = koji(
        kojipkgs(hub(&[])),
        json!({"action": "download_tag", "koji_tag": TAG, "build_log": true}),
    );
    let out = export(&run);
    assert_eq!(out["downloaded_rpms"], json!(paths(&[X86_64, DOCS])));
    assert_eq!(out["downloaded_logs"], json!([]));
    assert_eq!(hub_calls(&run).len(), 3, "no listRPMs for the logs");
    assert!(run.urls.iter().all(|u| !u.contains("/data/logs/")));
    assert_eq!(
        run.log_text(Level::Warn),
        "build_log is ignored for download_tag (libtaskotron did the same)"
    );

    let run = koji(
        hub(&[("listTagged", LIST_TAGGED_EMPTY)]),
        json!({"action": "download_tag", "koji_tag": TAG}),
    );
    assert_eq!(
        export(&run),
        json!({"downloaded_rpms": [], "downloaded_logs": [], "log_errors": []})
    );
    assert_eq!(hub_calls(&run).len(), 2);
    assert_eq!(run.log_text(Level::Info), format!("{TAG}: 0 builds"));
}

#[test]
fn download_tag_of_a_tag_koji_does_not_have_is_not_found() {
    let run = koji(
        hub(&[("getTag", NIL)]),
        json!({"action": "download_tag", "koji_build": null, "koji_tag": "f40-nosuch"}),
    );
    assert_eq!(
        run.status,
        Err(Error::NotFound(format!(
            "koji_tag: the tag 'f40-nosuch' does not exist on {HUB}"
        )))
    );
    assert_eq!(hub_calls(&run), [call("getTag", &["f40-nosuch".into()])]);
}

#[test]
fn latest_stable_downloads_the_newest_build_in_updates() {
    let run = koji(
        kojipkgs(hub(&[])),
        json!({"action": "download_latest_stable", "koji_build": "taskhost-demo-0.9-1.fc40"}),
    );
    assert_eq!(
        export(&run),
        json!({"downloaded_rpms": paths(&[X86_64, DOCS]), "downloaded_logs": [], "log_errors": []})
    );
    // The package's latest build in f40-updates, then that build's RPMs.
    assert_eq!(
        hub_calls(&run),
        [
            list_tagged("f40-updates", true, json!("taskhost-demo")),
            list_rpms(json!(["noarch", "x86_64"])),
        ]
    );
    assert_eq!(
        run.log_text(Level::Info),
        format!(
            "latest stable build of taskhost-demo is {NVR} (in f40-updates)\n\
             {NVR}: downloading 2 RPMs into rpms"
        )
    );
}

#[test]
fn latest_stable_looks_in_the_release_then_may_find_nothing() {
    // Nothing in f40-updates: the release's own tag, f40.
    let run = koji(
        hub(&[
            ("listTagged(f40-updates)", LIST_TAGGED_EMPTY),
            ("listTagged(f40)", LIST_TAGGED_F40),
        ]),
        json!({"action": "download_latest_stable", "arch": []}),
    );
    assert_eq!(
        export(&run),
        json!({"downloaded_rpms": [], "downloaded_logs": [], "log_errors": []})
    );
    assert_eq!(
        hub_calls(&run),
        [
            list_tagged("f40-updates", true, json!("taskhost-demo")),
            list_tagged("f40", true, json!("taskhost-demo")),
        ]
    );
    assert_eq!(
        run.log_text(Level::Info),
        "latest stable build of taskhost-demo is taskhost-demo-0.9-1.fc40 (in f40)\n\
         taskhost-demo-0.9-1.fc40: downloading 0 RPMs into rpms"
    );

    // In neither: nothing to download, and the directive returns nothing.
    let run = koji(
        hub(&[("listTagged", LIST_TAGGED_EMPTY)]),
        json!({"action": "download_latest_stable"}),
    );
    assert_eq!(run.status, Ok(Output::none()));
    assert_eq!(hub_calls(&run).len(), 2);
    assert_eq!(
        run.log_text(Level::Info),
        "there is no stable build of taskhost-demo in f40-updates or f40; nothing to download"
    );

    let run = koji(
        hub(&[("listTagged", FAULT_NO_SUCH_TAG)]),
        json!({"action": "download_latest_stable"}),
    );
    failed_with(
        &run.status,
        &format!("listTagged at {HUB}: fault 1000: No such tagInfo: 'f40-updates'"),
    );
    assert_eq!(hub_calls(&run).len(), 1);
}

#[test]
fn an_rpm_that_does_not_match_koji_fails_and_is_removed() {
    // The i686 RPM served as the x86_64 one: 6645 bytes, not 6637.
    let host = kojipkgs(hub(&[]).http(&rpm_url(X86_64), 200, rpm_bytes(I686)));
    let run = koji(host, json!({}));
    failed_with(
        &run.status,
        &format!(
            "{}: downloaded 6645 bytes, but koji says the RPM has 6637; the file was removed",
            rpm_url(X86_64)
        ),
    );
    assert_eq!(run.workspace_file(&format!("rpms/{X86_64}")), None);

    // The right size, but one byte of the payload changed.
    let mut bytes = rpm_bytes(X86_64).to_vec();
    *bytes.last_mut().unwrap() ^= 0xff;
    let host = kojipkgs(hub(&[]).http(&rpm_url(X86_64), 200, bytes));
    let run = koji(host, json!({}));
    match &run.status {
        Err(Error::Failed(m)) => {
            let prefix = format!(
                "{}: the RPM's header and payload have MD5 ",
                rpm_url(X86_64)
            );
            assert!(m.starts_with(&prefix), "{m}");
            assert!(
                m.ends_with(
                    ", but koji says 76f56a57e684e63d25d0c1e030f7f7ad; the file was removed"
                ),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.workspace_file(&format!("rpms/{X86_64}")), None);
    // It stopped there: the docs RPM was not asked for.
    assert_eq!(run.urls, [HUB, HUB, &rpm_url(X86_64)]);
}

#[test]
fn a_download_koji_does_not_serve_fails() {
    let host = hub(&[]).http(&rpm_url(X86_64), 404, "Not Found\n");
    let run = koji(host, json!({}));
    failed_with(&run.status, &format!("{}: HTTP 404", rpm_url(X86_64)));
    assert_eq!(run.workspace_file(&format!("rpms/{X86_64}")), None);
}

#[test]
fn a_build_koji_cannot_give_is_an_error_naming_it() {
    let run1 = koji(hub(&[("getBuild", NIL)]), json!({}));
    assert_eq!(
        run1.status,
        Err(Error::NotFound(format!(
            "koji build {NVR} does not exist on {HUB}"
        )))
    );
    let run2 = koji(hub(&[("getBuild", GET_BUILD_FAILED)]), json!({}));
    failed_with(
        &run2.status,
        &format!("koji build {NVR} is FAILED, not COMPLETE: it has no RPMs to download"),
    );
    let run3 = koji(hub(&[("getBuild", FAULT_OFFLINE)]), json!({}));
    failed_with(
        &run3.status,
        &format!(
            "looking up the build {NVR}: getBuild at {HUB}: fault 1014: Server disabled for maintenance"
        ),
    );
    let gateway = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    let run4 = koji(FakeHost::new().http(HUB, 502, gateway), json!({}));
    failed_with(
        &run4.status,
        &format!(
            "looking up the build {NVR}: {HUB} answered HTTP 502 to the XML-RPC call getBuild: {gateway}"
        ),
    );
    let run5 = koji(FakeHost::new().http(HUB, 200, gateway), json!({}));
    match &run5.status {
        Err(Error::Failed(m)) => assert!(
            m.starts_with(&format!(
                "looking up the build {NVR}: {HUB} did not answer getBuild with XML-RPC: "
            )),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    for run in [run1, run2, run3, run4, run5] {
        assert_eq!(hub_calls(&run), [get_build()]);
        assert_eq!(run.urls, [HUB]);
        assert_eq!(
            std::fs::read_dir(run.workspace.path().join("rpms"))
                .unwrap()
                .count(),
            0
        );
    }
}

#[test]
fn denied_urls_end_the_run_with_access_denied() {
    // The hub.
    let run1 = koji(hub(&[]).deny_url(HUB), json!({}));
    assert!(
        matches!(&run1.status, Err(Error::AccessDenied(m)) if m.contains(HUB)),
        "{:?}",
        run1.status
    );
    assert!(run1.urls.is_empty() && run1.requests.is_empty());
    assert_eq!(run1.denied.len(), 1);

    // The topurl: nothing is downloaded.
    let run2 = koji(kojipkgs(hub(&[])).deny_url(TOPURL), json!({}));
    assert!(
        matches!(&run2.status, Err(Error::AccessDenied(m)) if m.contains(&rpm_url(X86_64))),
        "{:?}",
        run2.status
    );
    assert_eq!(run2.urls, [HUB, HUB]);
    assert_eq!(run2.workspace_file(&format!("rpms/{X86_64}")), None);

    // A denied build log is an error, not a log_errors entry; the RPMs
    // before it stay.
    let run3 = koji(
        kojipkgs(hub(&[])).deny_url(&format!("{BUILD_DIR}/data/logs/")),
        json!({"build_log": true}),
    );
    assert!(
        matches!(&run3.status, Err(Error::AccessDenied(m)) if m.contains(&log_url("x86_64"))),
        "{:?}",
        run3.status
    );
    assert_eq!(run3.denied.len(), 1);
    assert_eq!(
        run3.workspace_file(&format!("rpms/{X86_64}")).as_deref(),
        Some(rpm_bytes(X86_64))
    );
    assert_eq!(run3.workspace_file("rpms/build.log.x86_64"), None);
}

#[test]
fn bad_params_are_refused_before_any_request() {
    for (extra, says) in [
        (
            json!({"koji_build": null}),
            "action 'download' needs the param `koji_build` (an NVR, e.g. xchat-2.8.8-21.fc20)",
        ),
        (
            json!({"action": "download_tag"}),
            "action 'download_tag' needs the param `koji_tag` (a Koji tag, e.g. f40-updates-pending)",
        ),
        (
            json!({"action": "download_latest_stable", "koji_build": "  "}),
            "action 'download_latest_stable' needs the param `koji_build`",
        ),
        (
            json!({"koji_build": "garbage"}),
            "koji_build: 'garbage' is not an NVR: write NAME-VERSION-RELEASE",
        ),
        (
            json!({"action": "download_latest_stable", "koji_build": "garbage"}),
            "koji_build: 'garbage' is not an NVR",
        ),
        (
            json!({"action": "download_latest_stable", "koji_build": "taskhost-demo-1.0-1.el9"}),
            "koji_build: 'taskhost-demo-1.0-1.el9' has no Fedora dist tag (.fcNN) in its release '1.el9'",
        ),
        (
            json!({"koji_url": "koji.fedoraproject.org/kojihub"}),
            "param `koji_url` must be an http:// or https:// URL",
        ),
        (
            json!({"pkgs_url": "ftp://kojipkgs.fedoraproject.org"}),
            "param `pkgs_url` must be an http:// or https:// URL",
        ),
        (
            json!({"target_dir": "/tmp/rpms"}),
            "param `target_dir` must be a directory in the workspace",
        ),
        (
            json!({"target_dir": "rpms/../../x"}),
            "param `target_dir` must be a directory in the workspace",
        ),
        (
            json!({"target_dir": ".."}),
            "param `target_dir` must be a directory in the workspace",
        ),
        (json!({"surprise": true}), "params: unknown key 'surprise'"),
        (json!({"src": "yes"}), "params: src: invalid type"),
        (
            json!({"action": "download_everything"}),
            "params: action: unknown variant `download_everything`",
        ),
        (json!({"arch": null}), "params: missing field `arch`"),
    ] {
        let run = koji(hub(&[]), extra.clone());
        assert!(
            matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with(says)),
            "{extra}: want {says:?}, got {:?}",
            run.status
        );
        assert!(run.requests.is_empty(), "{extra}: {:?}", run.urls);
    }
}
