//! `execute` against the SDK's fake host: the lintian runs it submits, how
//! it changes the derived collection, its results, and each way it fails.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use taskhost_plugin_updatesuitelintiancollection::UpdateSuiteLintianCollection;
use taskhost_sdk::collections::{Collection, Item};
use taskhost_sdk::log::Level;
use taskhost_sdk::runs::RunStatus;
use taskhost_sdk::testing::{ChildReply, FakeHost, Run};
use taskhost_sdk::{Error, Outcome, Status};

const SUITE: u64 = 1;
const LINTIAN: u64 = 2;

fn collection(id: u64, category: &str) -> Collection {
    Collection {
        id,
        category: category.into(),
        name: "bookworm".into(),
        data: json!({}),
    }
}

fn item(id: u64, name: &str, category: &str, artifact: u64, data: Value) -> Item {
    Item {
        id,
        name: name.into(),
        category: category.into(),
        artifact: Some(artifact),
        data,
        created_at: "2026-01-01T00:00:00Z".into(),
    }
}

/// A source package item; its artifact is `id + 100`.
fn source(id: u64, package: &str, version: &str) -> Item {
    let data = json!({"package": package, "version": version});
    let name = format!("{package}_{version}");
    item(id, &name, "debian:source-package", id + 100, data)
}

/// A binary package item of source `package`; its artifact is `id + 100`.
fn binary(id: u64, package: &str, source: &str, version: &str, arch: &str) -> Item {
    let data = json!({"package": package, "version": version, "architecture": arch,
                      "srcpkg_name": source, "srcpkg_version": version});
    let name = format!("{package}_{version}_{arch}");
    item(id, &name, "debian:binary-package", id + 100, data)
}

/// hello 1.0 (source, hello amd64, hello-doc all) and doc-only 2.0 (source,
/// an `all` binary).
fn suite() -> Vec<Item> {
    vec![
        source(11, "hello", "1.0"),
        binary(12, "hello", "hello", "1.0", "amd64"),
        binary(13, "hello-doc", "hello", "1.0", "all"),
        source(14, "doc-only", "2.0"),
        binary(15, "doc-only", "doc-only", "2.0", "all"),
    ]
}

/// A debian:suite-lintian item as an earlier update left it.
fn analysis(id: u64, name: &str, derived_from: &[u64]) -> Item {
    let mut parts = name.splitn(3, '_');
    let (package, version, architecture) = (parts.next(), parts.next(), parts.next());
    let data = json!({"package": package, "version": version, "architecture": architecture,
                      "derived_from": derived_from});
    item(id, name, "debian:lintian", id + 100, data)
}

/// The lintian collection up to date with `suite()`.
fn up_to_date() -> Vec<Item> {
    vec![
        analysis(501, "doc-only_2.0_all", &[14, 15]),
        analysis(502, "hello_1.0_all", &[11, 13]),
        analysis(503, "hello_1.0_amd64", &[11, 12, 13]),
    ]
}

/// The architectures of the base artifacts, as lintian would find them.
fn architectures(base: &[Item]) -> BTreeMap<u64, String> {
    let arch = |i: &Item| {
        i.data
            .get("architecture")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let arch = |i: &Item| arch(i).unwrap_or_else(|| "source".into());
    let with_artifact = base.iter().filter_map(|i| Some((i.artifact?, arch(i))));
    with_artifact.collect()
}

/// A lintian run that ends with `status` and makes one debian:lintian
/// artifact per analysed architecture: `source` first, then in name order
/// (so that taking the first artifact would be wrong).
fn lintian(base: &[Item], status: RunStatus) -> impl FnMut(&Value) -> ChildReply + 'static {
    let archs = architectures(base);
    move |task_data| {
        let input = &task_data["input"];
        let source = input.get("source_artifact_id").and_then(Value::as_u64);
        let binaries = input["binary_artifacts_ids"].as_array().unwrap();
        let ids = source
            .into_iter()
            .chain(binaries.iter().map(|b| b.as_u64().unwrap()));
        let mut made: Vec<&str> = ids.map(|id| archs[&id].as_str()).collect();
        made.sort_by_key(|arch| (*arch != "source", *arch));
        made.dedup();
        let mut reply = ChildReply::status(status);
        for arch in made {
            reply = reply.artifact("debian:lintian", json!({"architecture": arch}));
        }
        reply
    }
}

/// The two collections, no answer for lintian runs yet.
fn host(task_data: Value, base: Vec<Item>, derived: Vec<Item>) -> FakeHost {
    FakeHost::new()
        .task_data(task_data)
        .collection(collection(SUITE, "debian:suite"), base)
        .collection(collection(LINTIAN, "debian:suite-lintian"), derived)
}

/// An update whose lintian runs all succeed.
fn update(task_data: Value, base: Vec<Item>, derived: Vec<Item>) -> Run<Status> {
    let lintian = lintian(&base, RunStatus::Success);
    let host = host(task_data, base, derived).child("lintian", lintian);
    host.execute::<UpdateSuiteLintianCollection>()
}

/// An update whose lintian run for `hello_1.0_amd64` (binaries 112 and
/// 113) gives `reply`; the others succeed.
fn update_failing(derived: Vec<Item>, reply: ChildReply) -> Run<Status> {
    let base = suite();
    let mut ok = lintian(&base, RunStatus::Success);
    let host = host(ids(), base, derived).child("lintian", move |task_data| {
        if task_data["input"]["binary_artifacts_ids"] == json!([112, 113]) {
            reply.clone()
        } else {
            ok(task_data)
        }
    });
    host.execute::<UpdateSuiteLintianCollection>()
}

fn invalid(run: &Run<Status>) -> String {
    match &run.status {
        Err(Error::Invalid(m)) => m.clone(),
        other => panic!("{other:?}"),
    }
}

/// The derived collection after the run, by name.
fn derived_items(run: &Run<Status>) -> BTreeMap<String, Item> {
    let items = run.collections[1].1.iter().cloned();
    items.map(|i| (i.name.clone(), i)).collect()
}

fn notes(run: &Run<Status>) -> Vec<(String, Outcome, String)> {
    let note = |r: &taskhost_sdk::testing::Emitted| r.note.clone().unwrap_or_default();
    run.results
        .iter()
        .map(|r| (r.item.clone(), r.outcome, note(r)))
        .collect()
}

fn ids() -> Value {
    json!({"base_collection_id": SUITE, "derived_collection_id": LINTIAN})
}

#[test]
fn a_first_update_runs_lintian_per_item_and_adds_each_analysis() {
    let mut data = ids();
    data["child_task_data"] = json!({"backend": "unshare", "environment": 7});
    let run = update(data, suite(), vec![]);
    assert_eq!(run.status, Ok(Status::Success), "{:?}", run.log);

    let submitted: Vec<(&str, &Value, bool)> = run
        .submitted
        .iter()
        .map(|s| (s.task.as_str(), &s.task_data, s.force))
        .collect();
    let child = |source: u64, binaries: &[u64]| {
        json!({"backend": "unshare", "environment": 7,
               "input": {"source_artifact_id": source, "binary_artifacts_ids": binaries}})
    };
    assert_eq!(
        submitted,
        [
            ("lintian", &child(114, &[115]), false),
            ("lintian", &child(111, &[113]), false),
            ("lintian", &child(111, &[112, 113]), false),
        ]
    );

    // Each child made its artifacts in turn from 1000 on, `source` first:
    // doc-only (source 1000, all 1001), hello all (1002, 1003), hello amd64
    // (1004, all 1005, amd64 1006).
    let items = derived_items(&run);
    let names: Vec<&str> = items.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["doc-only_2.0_all", "hello_1.0_all", "hello_1.0_amd64"]
    );
    let want = [
        (
            "doc-only_2.0_all",
            1001,
            json!({"package": "doc-only", "version": "2.0", "architecture": "all", "derived_from": [14, 15]}),
        ),
        (
            "hello_1.0_all",
            1003,
            json!({"package": "hello", "version": "1.0", "architecture": "all", "derived_from": [11, 13]}),
        ),
        (
            "hello_1.0_amd64",
            1006,
            json!({"package": "hello", "version": "1.0", "architecture": "amd64", "derived_from": [11, 12, 13]}),
        ),
    ];
    for (name, artifact, data) in want {
        assert_eq!(items[name].artifact, Some(artifact), "{name}");
        assert_eq!(items[name].data, data, "{name}");
    }

    assert_eq!(
        notes(&run),
        [
            (
                "doc-only_2.0_all".into(),
                Outcome::Passed,
                "added from run child-1 (lintian success)".into()
            ),
            (
                "hello_1.0_all".into(),
                Outcome::Passed,
                "added from run child-2 (lintian success)".into()
            ),
            (
                "hello_1.0_amd64".into(),
                Outcome::Passed,
                "added from run child-3 (lintian success)".into()
            ),
        ]
    );
    let result = &run.results[2];
    assert_eq!(result.item_type, "debian:suite-lintian");
    assert_eq!(result.artifact.as_deref(), Some("artifact:1006"));
    assert_eq!(result.keyval("change"), Some("add"));
    assert_eq!(result.keyval("lintian_run"), Some("child-3"));
    assert_eq!(
        result.keyval("collection"),
        Some("bookworm@debian:suite-lintian")
    );
    let log = run.log_text(Level::Info);
    assert!(
        log.contains("bookworm@debian:suite-lintian: 3 added, 0 replaced, 0 removed, 0 failed"),
        "{log}"
    );
}

#[test]
fn an_up_to_date_collection_submits_nothing_and_says_so() {
    let data = json!({"base_collection_id": "bookworm@debian:suite",
                      "derived_collection_id": "bookworm@debian:suite-lintian"});
    let run = update(data, suite(), up_to_date());
    assert_eq!(run.status, Ok(Status::Success));
    assert!(run.submitted.is_empty(), "{:?}", run.submitted);
    assert_eq!(
        notes(&run),
        [(
            "bookworm@debian:suite-lintian".into(),
            Outcome::Info,
            "up to date with bookworm@debian:suite".into()
        )]
    );
    assert_eq!(run.collections[1].1, up_to_date());
}

#[test]
fn a_new_version_is_analysed_and_the_old_items_removed() {
    let mut base = suite();
    base.splice(
        0..3,
        [
            source(21, "hello", "1.1"),
            binary(22, "hello", "hello", "1.1", "amd64"),
            binary(23, "hello-doc", "hello", "1.1", "all"),
        ],
    );
    let run = update(ids(), base, up_to_date());
    assert_eq!(run.status, Ok(Status::Success), "{:?}", run.log);

    let inputs: Vec<&Value> = run
        .submitted
        .iter()
        .map(|s| &s.task_data["input"])
        .collect();
    assert_eq!(
        inputs,
        [
            &json!({"source_artifact_id": 121, "binary_artifacts_ids": [123]}),
            &json!({"source_artifact_id": 121, "binary_artifacts_ids": [122, 123]}),
        ]
    );
    let items = derived_items(&run);
    let names: Vec<&str> = items.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["doc-only_2.0_all", "hello_1.1_all", "hello_1.1_amd64"]
    );
    assert_eq!(items["doc-only_2.0_all"], up_to_date()[0]);
    assert_eq!(
        items["hello_1.1_amd64"].data["derived_from"],
        json!([21, 22, 23])
    );

    let removed: Vec<(String, Outcome, String)> = notes(&run).into_iter().take(2).collect();
    let note = "removed: the suite no longer calls for it".to_string();
    assert_eq!(
        removed,
        [
            ("hello_1.0_all".into(), Outcome::Passed, note.clone()),
            ("hello_1.0_amd64".into(), Outcome::Passed, note),
        ]
    );
    assert_eq!(run.results[0].keyval("change"), Some("remove"));
    assert_eq!(run.results.len(), 4);
    assert!(
        run.log_text(Level::Info)
            .contains("2 added, 0 replaced, 2 removed, 0 failed")
    );
}

#[test]
fn a_package_gone_from_the_suite_loses_its_items_and_nothing_is_submitted() {
    let base: Vec<Item> = suite().into_iter().filter(|i| i.id < 14).collect();
    let run = update(ids(), base, up_to_date());
    assert_eq!(run.status, Ok(Status::Success));
    assert!(run.submitted.is_empty());
    assert_eq!(run.collections[1].1, up_to_date()[1..]);
    assert_eq!(
        notes(&run),
        [(
            "doc-only_2.0_all".into(),
            Outcome::Passed,
            "removed: the suite no longer calls for it".into()
        )]
    );
}

#[test]
fn a_rebuilt_binary_replaces_the_items_that_derive_from_it() {
    let mut base = suite();
    base[1] = binary(30, "hello", "hello", "1.0", "amd64");
    let run = update(ids(), base, up_to_date());
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.submitted.len(), 1);
    assert_eq!(
        run.submitted[0].task_data["input"]["binary_artifacts_ids"],
        json!([113, 130])
    );
    let items = derived_items(&run);
    assert_eq!(
        items["hello_1.0_amd64"].data["derived_from"],
        json!([11, 13, 30])
    );
    assert_ne!(items["hello_1.0_amd64"].artifact, up_to_date()[2].artifact);
    assert_eq!(
        notes(&run)[0].2,
        "replaced from run child-1 (lintian success)"
    );
    assert_eq!(run.results[0].keyval("change"), Some("replace"));
}

#[test]
fn force_runs_lintian_again_for_every_item_and_says_so_to_submit() {
    let mut data = ids();
    data["force"] = json!(true);
    let run = update(data, suite(), up_to_date());
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.submitted.len(), 3);
    assert!(run.submitted.iter().all(|s| s.force), "{:?}", run.submitted);
    let items = derived_items(&run);
    for old in up_to_date() {
        let new = &items[&old.name];
        assert_ne!(new.artifact, old.artifact, "{}", old.name);
        assert_eq!(new.data, old.data, "{}", old.name);
    }
    assert!(
        notes(&run)
            .iter()
            .all(|(_, o, n)| *o == Outcome::Passed && n.starts_with("replaced from run"))
    );
    assert!(
        run.log_text(Level::Info)
            .contains("0 added, 3 replaced, 0 removed, 0 failed")
    );
}

#[test]
fn a_child_ending_in_error_adds_nothing_and_fails_the_task() {
    let run = update_failing(vec![], ChildReply::status(RunStatus::Error));
    assert_eq!(run.status, Ok(Status::Failure));
    let items = derived_items(&run);
    let names: Vec<&str> = items.keys().map(String::as_str).collect();
    assert_eq!(names, ["doc-only_2.0_all", "hello_1.0_all"]);
    let (item, outcome, note) = &notes(&run)[2];
    assert_eq!(
        (item.as_str(), *outcome),
        ("hello_1.0_amd64", Outcome::Failed)
    );
    assert_eq!(
        note,
        "lintian run child-3 ended in error: it gave no reason; item unchanged"
    );
    assert_eq!(run.results[2].keyval("lintian_run"), Some("child-3"));
    assert_eq!(run.results[2].artifact, None);
    assert_eq!(notes(&run)[0].1, Outcome::Passed);
    assert!(
        run.log_text(Level::Info)
            .contains("2 added, 0 replaced, 0 removed, 1 failed")
    );
}

#[test]
fn a_failed_replacement_keeps_the_old_item() {
    let mut derived = up_to_date();
    derived[2].data["derived_from"] = json!([11, 12]); // stale
    let run = update_failing(derived.clone(), ChildReply::status(RunStatus::Crashed));
    assert_eq!(run.status, Ok(Status::Failure));
    assert_eq!(run.collections[1].1, derived);
    let (_, outcome, note) = &notes(&run)[0];
    assert_eq!(*outcome, Outcome::Failed);
    assert!(note.contains("ended in crashed"), "{note}");
    assert_eq!(run.results[0].keyval("change"), Some("replace"));
}

#[test]
fn lintian_failure_still_gives_the_item_its_analysis() {
    let reply = ChildReply::status(RunStatus::Failure)
        .artifact("debian:lintian", json!({"architecture": "source"}))
        .artifact("debian:lintian", json!({"architecture": "amd64"}))
        .artifact("debian:lintian", json!({"architecture": "all"}));
    let run = update_failing(vec![], reply);
    assert_eq!(run.status, Ok(Status::Success), "{:?}", run.results);
    let (_, outcome, note) = &notes(&run)[2];
    assert_eq!(*outcome, Outcome::Passed);
    assert_eq!(note, "added from run child-3 (lintian failure)");
    // The children made artifacts from 1000 on: doc-only 1000-1001, hello
    // all 1002-1003, then this one's source 1004, amd64 1005, all 1006.
    let amd64 = derived_items(&run)["hello_1.0_amd64"].artifact.unwrap();
    assert_eq!(amd64, 1005);
    assert_eq!(run.results[2].artifact, Some(format!("artifact:{amd64}")));
}

#[test]
fn a_child_without_an_analysis_for_the_architecture_changes_nothing() {
    let reply = ChildReply::status(RunStatus::Success)
        .artifact("debian:lintian", json!({"architecture": "source"}))
        .artifact("debian:lintian", json!({"architecture": "all"}))
        .artifact("debian:other", json!({"architecture": "amd64"}));
    let run = update_failing(vec![], reply);
    assert_eq!(run.status, Ok(Status::Failure));
    assert!(!derived_items(&run).contains_key("hello_1.0_amd64"));
    let (_, outcome, note) = &notes(&run)[2];
    assert_eq!(*outcome, Outcome::Failed);
    assert_eq!(
        note,
        "lintian run child-3 (success) made no debian:lintian artifact for architecture \"amd64\"; \
         item unchanged"
    );
}

#[test]
fn bad_task_data_is_an_error_naming_the_key_or_category() {
    let cases = [
        (
            json!({"base_collection_id": "bookworm@debian:suite-lintian", "derived_collection_id": LINTIAN}),
            "base_collection_id: bookworm@debian:suite-lintian is a debian:suite-lintian collection, not a debian:suite",
        ),
        (
            json!({"base_collection_id": LINTIAN, "derived_collection_id": LINTIAN}),
            "base_collection_id: 2@collections (bookworm@debian:suite-lintian) is a debian:suite-lintian collection, not a debian:suite",
        ),
        (
            json!({"base_collection_id": SUITE, "derived_collection_id": SUITE}),
            "derived_collection_id: 1@collections (bookworm@debian:suite) is a debian:suite collection, not a debian:suite-lintian",
        ),
        (
            json!({"base_collection_id": SUITE}),
            "task_data: missing field `derived_collection_id`",
        ),
        (
            json!({"base_collection_id": SUITE, "derived_collection_id": LINTIAN, "forse": true}),
            "task_data: unknown key 'forse'",
        ),
        (
            json!({"base_collection_id": true, "derived_collection_id": LINTIAN}),
            "task_data: base_collection_id: expected a collection id or NAME@CATEGORY",
        ),
        (
            json!({"base_collection_id": "bookworm", "derived_collection_id": LINTIAN}),
            "base_collection_id: `bookworm` is neither a collection id nor NAME@CATEGORY",
        ),
        (
            json!({"base_collection_id": "bookworm@debian:suite/name:x", "derived_collection_id": LINTIAN}),
            "base_collection_id: `bookworm@debian:suite/name:x` is neither",
        ),
        (
            json!({"base_collection_id": SUITE, "derived_collection_id": LINTIAN, "child_task_data": [7]}),
            "child_task_data must be a JSON object, not an array",
        ),
        (
            json!({"base_collection_id": SUITE, "derived_collection_id": LINTIAN, "child_task_data": {"input": 3}}),
            "child_task_data.input must be a JSON object, not a number",
        ),
        (
            json!({"base_collection_id": SUITE, "derived_collection_id": LINTIAN, "force": "yes"}),
            "task_data: force: invalid type",
        ),
    ];
    for (data, want) in cases {
        let run = update(data.clone(), suite(), vec![]);
        let message = invalid(&run);
        assert!(message.contains(want), "{data}: {message}");
        assert!(run.submitted.is_empty() && run.results.is_empty(), "{data}");
        assert!(run.collections[1].1.is_empty(), "{data}");
    }
}

#[test]
fn collection_ids_are_accepted_as_numbers_and_as_nnn_at_collections() {
    for (base, derived) in [
        (json!(1), json!("2@collections")),
        (json!("1@collections"), json!(2)),
    ] {
        let data = json!({"base_collection_id": base, "derived_collection_id": derived});
        let run = update(data, suite(), up_to_date());
        assert_eq!(run.status, Ok(Status::Success), "{:?}", run.status);
        assert_eq!(run.results[0].outcome, Outcome::Info);
    }
}

#[test]
fn a_base_item_without_an_artifact_is_an_error() {
    let mut base = suite();
    base[0].artifact = None;
    let run = update(ids(), base, vec![]);
    assert_eq!(
        invalid(&run),
        "base item 11 (\"hello_1.0\") holds no artifact"
    );
}

#[test]
fn a_refused_submission_ends_the_run_with_access_denied() {
    // No answer for lintian: the fake host refuses it as a policy would.
    let run = host(ids(), suite(), vec![]).execute::<UpdateSuiteLintianCollection>();
    assert!(
        matches!(run.status, Err(Error::AccessDenied(_))),
        "{:?}",
        run.status
    );
    assert!(run.results.is_empty());
}

#[test]
fn a_childs_error_is_quoted_in_the_result() {
    let reply = ChildReply::status(RunStatus::Error).error("lintian: not found in PATH");
    let run = update_failing(vec![], reply);
    assert_eq!(run.status, Ok(Status::Failure));
    let (_, outcome, note) = &notes(&run)[2];
    assert_eq!(*outcome, Outcome::Failed);
    assert_eq!(
        note,
        "lintian run child-3 ended in error: lintian: not found in PATH; item unchanged"
    );
}

#[test]
fn an_equal_earlier_run_is_used_and_said_so() {
    let base = suite();
    let mut ok = lintian(&base, RunStatus::Success);
    let run = host(ids(), base, vec![])
        .child("lintian", move |task_data| ok(task_data).reused())
        .execute::<UpdateSuiteLintianCollection>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(derived_items(&run).len(), 3);
    let (_, outcome, note) = &notes(&run)[0];
    assert_eq!(*outcome, Outcome::Passed);
    assert!(note.contains("an equal earlier run"), "{note}");
}
