//! UpdateSuiteLintianCollection over a suite of packages built here: the
//! plugin reads the suite, submits one real lintian run per missing or
//! changed item, and keeps the derived collection's items in step.

use crate::pkg::Package;
use crate::{Env, report};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SUITE: &str = "bookworm@debian:suite";
const LINTIAN: &str = "bookworm@debian:suite-lintian";

const GRANTS: &[&str] = &[
    // The update's own grants: read both collections, change the derived
    // one, submit lintian.
    "--allow-lookup",
    SUITE,
    "--allow-lookup",
    LINTIAN,
    "--allow-collection",
    LINTIAN,
    "--allow-submit",
    "lintian",
    // The lintian children's.
    "--allow-exec",
    "lintian --no-cfg --display-level >=classification --display-experimental --info --show-overrides **",
    "--allow-exec",
    "dpkg-query -W -f=${Version} lintian",
    "--allow-backend",
    "local",
];

/// Builds `package` in its own directory and imports what `take` names
/// (`dsc`, and debs by package name) into `env`'s store; returns the ids.
fn import(env: &Env, package: Package, take: &[&str]) -> BTreeMap<String, String> {
    let dir = Env::new();
    let built = package.build(&dir, true);
    let mut ids = BTreeMap::new();
    for want in take {
        let id = if *want == "dsc" {
            env.import(built.dsc.as_ref().unwrap(), "debian:source-package")
        } else {
            let deb = built
                .debs
                .iter()
                .find(|d| {
                    d.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(&format!("{want}_"))
                })
                .unwrap_or_else(|| panic!("no {want} deb in {:?}", built.debs));
            env.import(deb, "debian:binary-package")
        };
        ids.insert((*want).to_string(), id);
    }
    ids
}

fn add(env: &Env, ids: &BTreeMap<String, String>) -> Vec<String> {
    ids.values()
        .map(|id| {
            let ran = env.run(&["collection", "add", SUITE, id]);
            ran.expect(0);
            ran.stdout.trim().to_string()
        })
        .collect()
}

fn items(env: &Env) -> BTreeMap<String, Value> {
    let ran = env.run(&["collection", "show", LINTIAN, "--json"]);
    ran.expect(0);
    let items: Vec<Value> = serde_json::from_str(&ran.stdout).unwrap();
    items
        .into_iter()
        .map(|i| (i["name"].as_str().unwrap().to_string(), i))
        .collect()
}

/// `runtask run updatesuitelintiancollection` on `data` with `grants`.
fn run_update(env: &Env, data: &Value, grants: &[&str]) -> crate::Ran {
    let file = env.write("update.json", &data.to_string());
    let mut args = vec![
        "run",
        "updatesuitelintiancollection",
        "--data",
        file.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(grants);
    env.run(&args)
}

fn update(env: &Env, extra: Value) -> Value {
    let mut data = json!({
        "base_collection_id": SUITE,
        "derived_collection_id": LINTIAN,
        "child_task_data": {"backend": "local"},
    });
    data.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let ran = run_update(env, &data, GRANTS);
    ran.expect(0);
    report(&ran)
}

/// The run that created each item's artifact.
fn analysis_runs(env: &Env, items: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|(name, item)| {
            let id = item["artifact"].to_string();
            let ran = env.run(&["artifact", "show", &id]);
            ran.expect(0);
            let artifact: Value = serde_json::from_str(&ran.stdout).unwrap();
            assert_eq!(artifact["category"], "debian:lintian", "{name}");
            (
                name.clone(),
                artifact["created_by"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_suite_lintian_collection_follows_its_suite() {
    let env = Env::new();
    let arch = crate::lintian::arch();
    env.run(&["collection", "create", SUITE]).expect(0);
    env.run(&["collection", "create", LINTIAN]).expect(0);
    // A source with an any and an all binary; an all-only package (its
    // any binary is not in the suite); a source alone.
    let hello = import(
        &env,
        Package::new("hello").binary("hello-doc", "all"),
        &["dsc", "hello", "hello-doc"],
    );
    let docs = import(
        &env,
        Package::new("docsonly").binary("docsonly-data", "all"),
        &["dsc", "docsonly-data"],
    );
    let lone = import(&env, Package::new("lone"), &["dsc"]);
    let mut base = add(&env, &hello);
    base.extend(add(&env, &docs));
    base.extend(add(&env, &lone));
    base.sort();
    assert_eq!(
        base,
        [
            "docsonly-data_1.0_all".to_string(),
            "docsonly_1.0".into(),
            "hello-doc_1.0_all".into(),
            "hello_1.0".into(),
            format!("hello_1.0_{arch}"),
            "lone_1.0".into()
        ]
    );

    // First update: one lintian run per desired item.
    let first = update(&env, json!({}));
    assert_eq!(first["status"], "success", "{first:#}");
    let derived = items(&env);
    let names: Vec<&str> = derived.keys().map(String::as_str).collect();
    let hello_arch = format!("hello_1.0_{arch}");
    assert_eq!(
        names,
        [
            "docsonly_1.0_all",
            "hello_1.0_all",
            hello_arch.as_str(),
            "lone_1.0_source"
        ]
    );
    let hello_item = &derived[&hello_arch];
    assert_eq!(hello_item["data"]["package"], "hello");
    assert_eq!(hello_item["data"]["architecture"], arch.as_str());
    assert_eq!(
        hello_item["data"]["derived_from"].as_array().unwrap().len(),
        3,
        "source, hello-doc and hello: {hello_item}"
    );
    let runs = analysis_runs(&env, &derived);
    let distinct: std::collections::BTreeSet<&String> = runs.values().collect();
    assert_eq!(distinct.len(), 4, "one lintian run per item: {runs:?}");
    let lone_analysis = env.run(&[
        "artifact",
        "show",
        &derived["lone_1.0_source"]["artifact"].to_string(),
    ]);
    assert!(
        lone_analysis
            .stdout
            .contains("\"architecture\": \"source\""),
        "{}",
        lone_analysis.stdout
    );

    // Nothing changed: nothing is submitted, the items stay as they are.
    let second = update(&env, json!({}));
    assert_eq!(second["status"], "success");
    assert_eq!(items(&env), derived);
    let notes: Vec<&str> = second["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["note"].as_str())
        .collect();
    assert!(notes.iter().any(|n| n.contains("up to date")), "{notes:?}");

    // A new version of hello replaces hello's items only.
    let hello2 = import(
        &env,
        Package::new("hello")
            .version("1.1")
            .binary("hello-doc", "all"),
        &["dsc", "hello", "hello-doc"],
    );
    for old in ["hello_1.0", "hello-doc_1.0_all", hello_arch.as_str()] {
        env.run(&["collection", "remove", SUITE, old]).expect(0);
    }
    add(&env, &hello2);
    update(&env, json!({}));
    let after = items(&env);
    let hello2_arch = format!("hello_1.1_{arch}");
    let names: Vec<&str> = after.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "docsonly_1.0_all",
            "hello_1.1_all",
            hello2_arch.as_str(),
            "lone_1.0_source"
        ]
    );
    for kept in ["docsonly_1.0_all", "lone_1.0_source"] {
        assert_eq!(after[kept], derived[kept], "{kept} is untouched");
    }

    // A package removed from the suite loses its analysis at once.
    env.run(&["collection", "remove", SUITE, "lone_1.0"])
        .expect(0);
    update(&env, json!({}));
    let after_removal = items(&env);
    assert!(!after_removal.contains_key("lone_1.0_source"));
    assert_eq!(after_removal.len(), 3);
    let history = env.run(&["collection", "show", LINTIAN, "--history", "--json"]);
    assert!(
        history.stdout.contains("lone_1.0_source"),
        "kept in the history"
    );

    // force: every item is analysed again.
    let before = analysis_runs(&env, &after_removal);
    let forced = update(&env, json!({"force": true}));
    assert_eq!(forced["status"], "success");
    let again = items(&env);
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        after_removal.keys().collect::<Vec<_>>()
    );
    let rerun = analysis_runs(&env, &again);
    for (name, run) in &rerun {
        assert_ne!(run, &before[name], "{name} was analysed again");
    }
}

#[test]
fn an_update_without_the_submit_grant_changes_nothing() {
    let env = Env::new();
    env.run(&["collection", "create", SUITE]).expect(0);
    env.run(&["collection", "create", LINTIAN]).expect(0);
    let lone = import(&env, Package::new("lone"), &["dsc"]);
    add(&env, &lone);
    let granted: Vec<&str> = GRANTS
        .iter()
        .copied()
        .filter(|g| *g != "--allow-submit" && *g != "lintian")
        .collect();
    let data = json!({"base_collection_id": SUITE, "derived_collection_id": LINTIAN});
    let ran = run_update(&env, &data, &granted);
    let all = format!("{}{}", ran.stdout, ran.stderr);
    assert_ne!(ran.code, 0, "{all}");
    assert!(
        all.contains("may not submit task `lintian`") && all.contains("--allow-submit lintian"),
        "{all}"
    );
    assert!(items(&env).is_empty());
}

#[test]
fn plugin_check_shows_what_is_decided_as_calls_are_made() {
    let env = Env::new();
    let ran = env.run(&[
        "plugin",
        "check",
        "updatesuitelintiancollection",
        "--allow-submit",
        "lintian",
        "--allow-lookup",
        SUITE,
    ]);
    ran.expect(0);
    for line in [
        "checked as each call is made:",
        "  lookups      declared: *@debian:suite, *@debian:suite-lintian, *@collections; granted: bookworm@debian:suite",
        "  collections  declared: *@debian:suite-lintian; granted: (none)",
        "  submit       declared: lintian; granted: lintian",
    ] {
        assert!(ran.stdout.contains(line), "{line:?} in\n{}", ran.stdout);
    }
}
