//! `runtask collection`: a suite names its items as debusine does, keeps
//! one active item per name and its history; task_data finds artifacts
//! through collection lookups, each granted.

use crate::pkg::Package;
use crate::{Env, report};
use serde_json::Value;

fn show(env: &Env, collection: &str, history: bool) -> Vec<Value> {
    let mut args = vec!["collection", "show", collection, "--json"];
    if history {
        args.push("--history");
    }
    let ran = env.run(&args);
    ran.expect(0);
    serde_json::from_str(&ran.stdout).expect("items JSON")
}

fn names(items: &[Value]) -> Vec<&str> {
    let mut names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    names
}

#[test]
fn a_suite_names_its_items_and_keeps_their_history() {
    let env = Env::new();
    let built = Package::new("hello")
        .binary("hello-doc", "all")
        .build(&env, true);
    let dsc = env.import(built.dsc.as_ref().unwrap(), "debian:source-package");
    let debs: Vec<String> = built
        .debs
        .iter()
        .map(|d| env.import(d, "debian:binary-package"))
        .collect();
    env.run(&["collection", "create", "bookworm@debian:suite"])
        .expect(0);
    env.run(&["collection", "create", "bookworm@debian:suite"])
        .expect(2)
        .stderr
        .contains("already exists")
        .then_some(())
        .expect("a second create is refused");

    let add = |id: &str| env.run(&["collection", "add", "bookworm@debian:suite", id]);
    assert_eq!(add(&dsc).expect(0).stdout.trim(), "hello_1.0");
    let mut added: Vec<String> = debs
        .iter()
        .map(|d| add(d).expect(0).stdout.trim().to_string())
        .collect();
    added.sort();
    assert_eq!(added, ["hello-doc_1.0_all", "hello_1.0_amd64"]);
    let again = add(&dsc);
    again.expect(2);
    assert!(
        again
            .stderr
            .contains("already has an active item \"hello_1.0\""),
        "{}",
        again.stderr
    );

    let items = show(&env, "bookworm@debian:suite", false);
    assert_eq!(
        names(&items),
        ["hello-doc_1.0_all", "hello_1.0", "hello_1.0_amd64"]
    );
    let doc = items
        .iter()
        .find(|i| i["name"] == "hello-doc_1.0_all")
        .unwrap();
    assert_eq!(doc["category"], "debian:binary-package");
    assert_eq!(doc["data"]["srcpkg_name"], "hello");
    assert_eq!(doc["data"]["architecture"], "all");
    assert_eq!(doc["created_by"], "cli");

    env.run(&[
        "collection",
        "add",
        "bookworm@debian:suite",
        &dsc,
        "--replace",
        "--data",
        r#"{"component": "main"}"#,
    ])
    .expect(0);
    env.run(&[
        "collection",
        "remove",
        "bookworm@debian:suite",
        "hello-doc_1.0_all",
    ])
    .expect(0);
    let items = show(&env, "bookworm@debian:suite", false);
    assert_eq!(names(&items), ["hello_1.0", "hello_1.0_amd64"]);
    let source = items.iter().find(|i| i["name"] == "hello_1.0").unwrap();
    assert_eq!(source["data"]["component"], "main");
    let history = show(&env, "bookworm@debian:suite", true);
    assert_eq!(history.len(), 4);
    let removed: Vec<&Value> = history
        .iter()
        .filter(|i| !i["removed_at"].is_null())
        .collect();
    assert_eq!(
        names(&removed.into_iter().cloned().collect::<Vec<_>>()),
        ["hello-doc_1.0_all", "hello_1.0"]
    );

    let list = env.run(&["collection", "list"]);
    list.expect(0);
    assert!(
        list.stdout.contains("bookworm@debian:suite") && list.stdout.contains("2 items"),
        "{}",
        list.stdout
    );
    let e = env.run(&["collection", "show", "sid@debian:suite"]);
    e.expect(2);
    assert!(
        e.stderr.contains("no collection sid@debian:suite"),
        "{}",
        e.stderr
    );
    let e = env.run(&["collection", "add", "bookworm@debian:suite", "9999"]);
    e.expect(2);
    assert!(
        e.stderr.contains("artifact 9999 does not exist"),
        "{}",
        e.stderr
    );
}

#[test]
fn task_data_finds_its_input_through_a_granted_collection_lookup() {
    let env = Env::new();
    let log = Package::new("logged")
        .compile("gcc -O2 -o hello hello.c")
        .build(&env, false)
        .log;
    let id = env.import(&log, "debian:package-build-log");
    env.run(&["collection", "create", "builds@debian:package-build-logs"])
        .expect(0);
    env.run(&[
        "collection",
        "add",
        "builds@debian:package-build-logs",
        &id,
        "--name",
        "logged_1.0_amd64",
    ])
    .expect(0);
    let data = env.write(
        "blhc.json",
        r#"{"input": {"artifact": "builds@debian:package-build-logs/name:logged_1.0_amd64"}}"#,
    );
    let data = data.to_str().unwrap();
    let base = [
        "run",
        "blhc",
        "--data",
        data,
        "--format",
        "json",
        "--allow-exec",
        "blhc --debian **",
        "--allow-backend",
        "local",
    ];

    // Not granted: refused before the plugin runs, naming the grant.
    let refused = env.run(&base);
    assert_ne!(refused.code, 0);
    let all = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        all.contains("--allow-lookup") && all.contains("builds@debian:package-build-logs"),
        "{all}"
    );

    let granted = [
        &base[..],
        &["--allow-lookup", "builds@debian:package-build-logs/*"],
    ]
    .concat();
    let ran = env.run(&granted);
    ran.expect(100);
    let report = report(&ran);
    assert_eq!(report["status"], "failure");
    let item = report["results"][0]["item"].as_str().unwrap();
    assert!(item.ends_with("logged_1.0_amd64.build"), "{item}");

    // A lookup that finds nothing says where to look.
    let missing = env.write(
        "missing.json",
        r#"{"input": {"artifact": "builds@debian:package-build-logs/name:other_1.0_amd64"}}"#,
    );
    let mut args = granted.clone();
    args[3] = missing.to_str().unwrap();
    let ran = env.run(&args);
    ran.expect(2);
    assert!(
        ran.stderr
            .contains("has no active item for 'name:other_1.0_amd64'"),
        "{}",
        ran.stderr
    );
}
