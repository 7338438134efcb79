//! What an operator can trust (issue 9): a red team got through in nine
//! classes; each is closed by design, and each test here failed before.
//! Processes that outlive a run and blocking opens have their own suites.

use crate::deny::debug_log;
use crate::{Env, HOSTILE, HOSTILE_GRANTS, Ran, first_note, report};
use serde_json::Value;

const IMPOSTOR: &str = env!("TASKHOST_TEST_PLUGIN_IMPOSTOR");

fn example_policy() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/policy.toml")
        .display()
        .to_string()
}

fn digest(path: &str) -> String {
    taskhost::manifest::digest(&std::fs::read(path).expect("plugin file"))
}

/// `run HOSTILE --data FILE --format json EXTRA...`
fn hostile_args<'a>(file: &'a std::path::Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        HOSTILE,
        "--data",
        file.to_str().expect("utf-8"),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args
}

/// Runs the hostile plugin with `data` and `extra` flags (no grants of
/// its own unless given).
fn hostile_with(env: &Env, data: &Value, extra: &[&str]) -> Ran {
    let file = env.write("task.json", &data.to_string());
    env.run(&hostile_args(&file, extra))
}

/// A policy that pins the hostile plugin and grants what its harmless
/// actions need, plus `extra` lines (quotas).
fn pinned_policy(env: &Env, extra: &str) -> String {
    env.write(
        "pinned.toml",
        &format!(
            "[plugins.hostile]\nsha256 = [\"{}\"]\nbackends = [\"local\"]\n\
             exec = [\"echo hello *\", \"cat **\", \"sleep *\", \"sh -c *\"]\n\
             env = [\"HOSTILE_VAR\"]\n{extra}\n",
            digest(HOSTILE)
        ),
    )
    .display()
    .to_string()
}

// ---- 1. Identity ----

#[test]
fn a_plugin_that_claims_a_shipped_name_gets_nothing_and_is_refused() {
    let env = Env::new();
    let sha = digest(IMPOSTOR);
    // Named on the command line, under the sample policy's [plugins.blhc].
    let ran = env.run(&["run", IMPOSTOR, "--policy", &example_policy()]);
    ran.expect(3);
    assert!(
        ran.stderr
            .contains("calls itself 'blhc', the name of a plugin shipped with runtask"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains(&sha),
        "the digest is named: {}",
        ran.stderr
    );
    // Found in a plugin directory under another file name: the same.
    let dir = env.path("plugins");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(IMPOSTOR, dir.join("fastlint.wasm")).expect("copy");
    let ran = env.run(&[
        "run",
        "fastlint",
        "--plugin-dir",
        dir.to_str().expect("utf-8"),
        "--policy",
        &example_policy(),
    ]);
    ran.expect(3);
    assert!(ran.stderr.contains("calls itself 'blhc'"), "{}", ran.stderr);
    assert!(!ran.stdout.contains("impostor ran"));
    // The name is reserved at install time too.
    let ran = env.run(&["plugin", "install", IMPOSTOR]);
    ran.expect(2);
    assert!(
        ran.stderr.contains("shipped names are reserved"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_plugin_from_a_plugin_directory_runs_only_when_its_digest_is_pinned() {
    let env = Env::new();
    let dir = env.path("data/taskhost/plugins");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let installed = dir.join("hostile.wasm");
    std::fs::copy(HOSTILE, &installed).expect("copy");
    let sha = digest(HOSTILE);
    let data = env.write("noop.json", r#"{"action":"noop"}"#);
    let data = data.to_str().expect("utf-8");

    // A table of its name without a pin grants nothing, and says why.
    let unpinned = env.write(
        "unpinned.toml",
        "[plugins.hostile]\nbackends = [\"local\"]\nexec = [\"echo hello *\", \"cat **\", \"sleep *\", \"sh -c *\"]\nenv = [\"HOSTILE_VAR\"]\n",
    );
    let ran = env.run(&[
        "run",
        "hostile",
        "--data",
        data,
        "--policy",
        unpinned.to_str().expect("utf-8"),
    ]);
    ran.expect(3);
    for needle in [
        format!("sha256 {sha}"),
        "[plugins.hostile] has no sha256 list".to_string(),
        format!("sha256 = [\"{sha}\"]"),
        "runtask plugin install".to_string(),
    ] {
        assert!(
            ran.stderr.contains(&needle),
            "no {needle:?} in\n{}",
            ran.stderr
        );
    }

    // Pinned: it runs, and the report names its digest and origin.
    let pinned = pinned_policy(&env, "");
    let ran = env.run(&[
        "run", "hostile", "--data", data, "--policy", &pinned, "--format", "json",
    ]);
    ran.expect(0);
    let r = report(&ran);
    assert_eq!(r["plugins"][0]["digest"], format!("sha256:{sha}"));
    assert_eq!(r["plugins"][0]["origin"], installed.display().to_string());

    // One byte more (a trailing custom section): another plugin, refused.
    let mut wasm = std::fs::read(&installed).expect("read");
    wasm.extend_from_slice(&[0, 5, 4, b'e', b'v', b'i', b'l']);
    std::fs::write(&installed, &wasm).expect("write");
    let changed = taskhost::manifest::digest(&wasm);
    let ran = env.run(&["run", "hostile", "--data", data, "--policy", &pinned]);
    ran.expect(3);
    assert!(ran.stderr.contains(&changed), "{}", ran.stderr);
    assert!(ran.stderr.contains("is not trusted"), "{}", ran.stderr);
}

#[test]
fn plugin_install_prints_the_trusting_table_and_trust_writes_it() {
    let env = Env::new();
    let sha = digest(HOSTILE);
    let ran = env.run(&["plugin", "install", HOSTILE]);
    ran.expect(0);
    for needle in [
        "[plugins.hostile]".to_string(),
        format!("sha256 = [\"{sha}\"]"),
        "exec = [\"echo hello *\", \"cat **\", \"sleep *\", \"sh -c *\"]".to_string(),
        "backends = [\"local\"]".to_string(),
    ] {
        assert!(
            ran.stdout.contains(&needle),
            "no {needle:?} in\n{}",
            ran.stdout
        );
    }
    let data = env.write("noop.json", r#"{"action":"noop"}"#);
    let data = data.to_str().expect("utf-8");
    // Installed, not yet trusted.
    env.run(&["run", "hostile", "--data", data]).expect(3);

    let ran = env.run(&["plugin", "install", HOSTILE, "--trust"]);
    ran.expect(0);
    assert!(
        ran.stdout.contains("added [plugins.hostile]"),
        "{}",
        ran.stdout
    );
    let policy =
        std::fs::read_to_string(env.path("config/taskhost/policy.toml")).expect("policy written");
    assert!(policy.contains(&sha), "{policy}");
    env.run(&["run", "hostile", "--data", data]).expect(0);

    // inspect and list show the digest.
    let ran = env.run(&["plugin", "inspect", "hostile"]);
    ran.expect(0);
    assert!(
        ran.stdout.contains(&format!("sha256:   {sha}")),
        "{}",
        ran.stdout
    );
    let ran = env.run(&["plugin", "list"]);
    ran.expect(0);
    assert!(ran.stdout.contains(&sha[..12]), "{}", ran.stdout);
}

#[test]
fn plugin_list_into_a_closed_pipe_does_not_panic() {
    let env = Env::new();
    let mut child = env
        .cmd(&["plugin", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take()); // `| head -0`
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

// ---- 3. Host memory ----

/// Runs the hostile plugin measured; its report and runtask's peak RSS.
fn measured(env: &Env, data: &Value) -> (Ran, u64) {
    let file = env.write("flood.json", &data.to_string());
    env.run_measured(&hostile_args(&file, HOSTILE_GRANTS))
}

#[track_caller]
fn assert_cut(ran: &Ran, quota: &str, refused: u64) {
    ran.expect(0);
    let r = report(ran);
    let hits = r["quotas_exceeded"].as_array().expect("quotas_exceeded");
    let hit = hits
        .iter()
        .find(|h| h["quota"] == quota)
        .unwrap_or_else(|| panic!("no {quota} in {hits:?}"));
    assert_eq!(hit["refused"], refused, "{hit}");
}

#[test]
fn a_million_results_stop_at_the_quota_and_the_host_stays_small() {
    let env = Env::new();
    let (ran, peak) = measured(
        &env,
        &serde_json::json!({"action": "results", "count": 1_000_000, "note_bytes": 200}),
    );
    assert!(peak < 256 << 20, "runtask peaked at {} MiB", peak >> 20);
    assert_cut(&ran, "results", 990_000);
    let r = report(&ran);
    assert_eq!(r["results"].as_array().map(Vec::len), Some(10_000));
    let log = debug_log(&env, &ran, "taskhost.log").expect("log");
    assert!(
        log.contains("taken=10000 refused=Error::AccessDenied"),
        "{log}"
    );
    assert!(log.contains("results (10000) reached: 990000 request(s) refused"));
}

#[test]
fn gigabytes_of_log_messages_stop_at_the_log_quota() {
    let env = Env::new();
    let (ran, peak) = measured(
        &env,
        &serde_json::json!({"action": "logs", "count": 2048, "bytes": 1 << 20}),
    );
    assert!(peak < 256 << 20, "runtask peaked at {} MiB", peak >> 20);
    assert_cut(&ran, "log-bytes", 2048 - 16);
    assert_eq!(first_note(&report(&ran)), "logged 2048");
}

#[test]
fn distinct_progress_labels_stop_at_their_quota() {
    let env = Env::new();
    let (ran, peak) = measured(
        &env,
        &serde_json::json!({"action": "labels", "count": 300_000}),
    );
    assert!(peak < 256 << 20, "runtask peaked at {} MiB", peak >> 20);
    assert_cut(&ran, "progress-labels", 300_000 - 100);
}

#[test]
fn a_quota_set_in_the_policy_is_the_one_enforced_and_named() {
    let env = Env::new();
    let policy = pinned_policy(&env, "results = 5");
    let dir = env.path("data/taskhost/plugins");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(HOSTILE, dir.join("hostile.wasm")).expect("copy");
    let data = env.write("r.json", r#"{"action":"results","count":8,"note_bytes":1}"#);
    let ran = env.run(&[
        "run",
        "hostile",
        "--data",
        data.to_str().expect("utf-8"),
        "--policy",
        &policy,
        "--format",
        "json",
    ]);
    assert_cut(&ran, "results", 3);
    let log = debug_log(&env, &ran, "taskhost.log").expect("log");
    assert!(log.contains(&format!("`results = 5` in {policy}")), "{log}");
    assert!(log.contains("results = 10"), "the hint doubles it: {log}");
}

// ---- 5. Store scope through lookups ----

#[test]
fn a_lookup_reaches_only_what_the_run_was_given_or_was_granted() {
    let env = Env::new();
    let file = env.write("someone-elses.txt", "not yours\n");
    let ran = env.run(&[
        "artifact",
        "import",
        file.to_str().expect("utf-8"),
        "--category",
        "test:input",
        "--data",
        r#"{"vendor":"test","codename":"x"}"#,
    ]);
    ran.expect(0);
    let id = ran.stdout.trim().to_string();

    // A bare id the run was not given, of a category it takes as input.
    let ran = hostile_with(
        &env,
        &serde_json::json!({"action": "lookup", "query": id, "category": "test:input"}),
        HOSTILE_GRANTS,
    );
    ran.expect(0);
    let note = first_note(&report(&ran));
    assert!(
        note.contains(&format!(
            "may not use artifact `{id}`: it is neither an input"
        )),
        "{note}"
    );

    // A collection lookup it declares but was not granted.
    let query = "test/match:codename=x";
    let data = serde_json::json!({"action": "lookup", "query": query, "category": "test:input"});
    let ran = hostile_with(&env, &data, HOSTILE_GRANTS);
    ran.expect(0);
    let note = first_note(&report(&ran));
    assert!(note.contains("declared but not granted"), "{note}");
    assert!(note.contains("--allow-lookup 'test/match:*'"), "{note}");

    // One it does not declare.
    let data = serde_json::json!({"action": "lookup", "query": "debian/match:codename=x", "category": "test:input"});
    let ran = hostile_with(&env, &data, HOSTILE_GRANTS);
    assert!(
        first_note(&report(&ran)).contains("not declared in its manifest"),
        "{}",
        ran.stdout
    );

    // Granted: found.
    let granted = [HOSTILE_GRANTS, &["--allow-lookup", "test/match:*"]].concat();
    let data = serde_json::json!({"action": "lookup", "query": query, "category": "test:input"});
    let ran = hostile_with(&env, &data, &granted);
    assert_eq!(first_note(&report(&ran)), format!("found {id}"));
}

// ---- 6. Collections: read what a lookup grant finds, change what a
// collections grant names ----

#[test]
fn a_plugin_reads_and_changes_only_the_collections_it_was_granted() {
    let env = Env::new();
    let file = env.write("member.txt", "in the set\n");
    let member = env.import(&file, "test:input");
    let outsider = env.import(&file, "test:input");
    env.run(&["collection", "create", "one@test:set"]).expect(0);
    env.run(&["collection", "create", "two@test:set"]).expect(0);
    env.run(&["collection", "create", "other@test:elsewhere"])
        .expect(0);
    env.run(&["collection", "add", "one@test:set", &member, "--name", "m"])
        .expect(0);
    let run = |data: Value, extra: &[&str]| {
        let grants = [HOSTILE_GRANTS, extra].concat();
        let ran = hostile_with(&env, &data, &grants);
        let all = format!("{}{}", ran.stdout, ran.stderr);
        (ran, all)
    };
    let collection = |query: &str, more: Value| {
        let mut data = serde_json::json!({"action": "collection", "query": query});
        data.as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        data
    };

    // Not granted: `get` is refused and names the grant.
    let (ran, all) = run(
        collection("one@test:set", serde_json::json!({"list": true})),
        &[],
    );
    assert_ne!(ran.code, 0, "{all}");
    assert!(
        all.contains("may not look up `one@test:set`")
            && all.contains("--allow-lookup '*@test:set'"),
        "{all}"
    );
    // Not declared.
    let (ran, all) = run(
        collection("other@test:elsewhere", serde_json::json!({})),
        &["--allow-lookup", "other@test:elsewhere"],
    );
    assert_ne!(ran.code, 0, "{all}");
    assert!(all.contains("not declared in its manifest"), "{all}");
    // A collection id it did not get.
    let (ran, all) = run(
        collection("one@test:set", serde_json::json!({"id": 1, "list": true})),
        &[],
    );
    assert_ne!(ran.code, 0, "{all}");
    assert!(all.contains("did not get it with collections.get"), "{all}");

    // Read granted: the items and their artifacts, but no change.
    let read = ["--allow-lookup", "one@test:set"];
    let (ran, all) = run(
        collection("one@test:set", serde_json::json!({"list": true})),
        &read,
    );
    ran.expect(0);
    assert_eq!(
        first_note(&report(&ran)),
        format!("m=Some({member})"),
        "{all}"
    );
    let (ran, all) = run(
        collection(
            "one@test:set",
            serde_json::json!({"list": true, "remove": "m"}),
        ),
        &read,
    );
    assert_ne!(ran.code, 0, "{all}");
    assert!(
        all.contains("may not change collection `one@test:set`")
            && all.contains("--allow-collection '*@test:set'"),
        "{all}"
    );

    // Write granted for `one` only.
    let write = [
        "--allow-lookup",
        "*@test:set",
        "--allow-collection",
        "one@test:set",
    ];
    // An artifact the run cannot see is refused, and nothing changes.
    let (ran, all) = run(
        collection(
            "one@test:set",
            serde_json::json!({"add": "x", "holding": outsider.parse::<u64>().unwrap()}),
        ),
        &write,
    );
    assert_ne!(ran.code, 0, "{all}");
    assert!(
        all.contains(&format!("may not use artifact `{outsider}`")),
        "{all}"
    );
    // Another collection of the category: read yes, change no.
    let (ran, all) = run(
        collection(
            "two@test:set",
            serde_json::json!({"add": "y", "holding": member.parse::<u64>().unwrap()}),
        ),
        &write,
    );
    assert_ne!(ran.code, 0, "{all}");
    assert!(
        all.contains("may not change collection `two@test:set`"),
        "{all}"
    );
    // Listed artifacts may be added; removal is kept in the history.
    let (ran, all) = run(
        collection(
            "one@test:set",
            serde_json::json!({"list": true, "add": "again", "holding": member.parse::<u64>().unwrap(), "remove": "m"}),
        ),
        &write,
    );
    ran.expect(0);
    assert!(first_note(&report(&ran)).contains("removed m"), "{all}");
    let shown = env.run(&["collection", "show", "one@test:set", "--history", "--json"]);
    shown.expect(0);
    let items: Vec<Value> = serde_json::from_str(&shown.stdout).unwrap();
    let state: Vec<(String, bool)> = items
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["removed_at"].is_null(),
            )
        })
        .collect();
    assert_eq!(state, [("m".into(), false), ("again".into(), true)]);
    let run_id = report(&ran)["run_id"].as_str().unwrap().to_string();
    assert_eq!(items[1]["created_by"], run_id.as_str());
    assert_eq!(items[0]["removed_by"], run_id.as_str());
    // Every decision is audited.
    let audit = env.run(&["audit", &run_id, "--json"]);
    audit.expect(0);
    assert!(
        audit.stdout.contains("\"capability\":\"collection\"")
            && audit.stdout.contains("\"change\":\"remove\""),
        "{}",
        audit.stdout
    );
}

// ---- 6b. Child runs: only granted tasks, within the quota and depth ----

/// Runs the hostile plugin by name from a plugin directory, under a policy
/// that pins it with `extra` lines, on `data`.
fn hostile_by_name(env: &Env, data: &Value, extra: &str) -> (Ran, String) {
    let dir = env.path("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(HOSTILE, dir.join("hostile.wasm")).unwrap();
    let policy = pinned_policy(env, extra);
    let file = env.write("task.json", &data.to_string());
    let ran = env.run(&[
        "run",
        "hostile",
        "--plugin-dir",
        dir.to_str().unwrap(),
        "--policy",
        &policy,
        "--data",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let all = format!("{}{}", ran.stdout, ran.stderr);
    (ran, all)
}

#[test]
fn a_plugin_submits_only_granted_tasks_within_its_quota_and_depth() {
    let env = Env::new();
    let noop = serde_json::json!({"action": "noop"});
    let submit = |task: &str, more: Value| {
        let mut data = serde_json::json!({"action": "submit", "task": task, "data": noop});
        data.as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        data
    };

    // Declared, not granted; not declared.
    let (ran, all) = hostile_by_name(&env, &submit("blhc", serde_json::json!({})), "");
    assert_ne!(ran.code, 0, "{all}");
    assert!(
        all.contains("may not submit task `blhc`: declared but not granted")
            && all.contains("submit = [\"blhc\"]"),
        "{all}"
    );
    let (ran, all) = hostile_by_name(
        &env,
        &submit("lintian", serde_json::json!({})),
        "submit = [\"lintian\"]",
    );
    assert_ne!(ran.code, 0, "{all}");
    assert!(all.contains("not declared in its manifest"), "{all}");

    // Granted: the child runs under its own grants; an equal submission
    // in the same run, or in a later one, reuses it unless forced.
    let grant = "submit = [\"hostile\"]";
    let (ran, all) = hostile_by_name(
        &env,
        &submit("hostile", serde_json::json!({"count": 2})),
        grant,
    );
    ran.expect(0);
    assert_eq!(
        first_note(&report(&ran)),
        "new; reused; Success 0 \"\"; Success 0 \"\"",
        "{all}"
    );
    let (ran, _) = hostile_by_name(&env, &submit("hostile", serde_json::json!({})), grant);
    assert_eq!(first_note(&report(&ran)), "reused; Success 0 \"\"");
    let (ran, _) = hostile_by_name(
        &env,
        &submit("hostile", serde_json::json!({"force": true})),
        grant,
    );
    assert_eq!(first_note(&report(&ran)), "new; Success 0 \"\"");

    // Only its own children can be waited for.
    let (ran, all) = hostile_by_name(
        &env,
        &submit(
            "hostile",
            serde_json::json!({"count": 0, "wait_for": "20260101T000000Z-deadbeef"}),
        ),
        grant,
    );
    assert_ne!(ran.code, 0, "{all}");
    assert!(all.contains("was not submitted by this run"), "{all}");

    // The child-runs quota.
    let (ran, all) = hostile_by_name(
        &env,
        &submit("hostile", serde_json::json!({"count": 2, "force": true})),
        &format!("{grant}\nchild-runs = 1"),
    );
    assert_ne!(ran.code, 0, "{all}");
    assert!(all.contains("child-runs"), "{all}");

    // Runs nest at most three deep: the fourth level may not submit.
    let mut nested = noop.clone();
    for _ in 0..4 {
        nested = serde_json::json!({"action": "submit", "task": "hostile", "data": nested, "force": true});
    }
    let (ran, all) = hostile_by_name(&env, &nested, grant);
    ran.expect(0);
    let logs: String = std::fs::read_dir(env.store().join("runs"))
        .unwrap()
        .flatten()
        .filter_map(|d| std::fs::read_to_string(d.path().join("taskhost.jsonl")).ok())
        .collect();
    assert!(logs.contains("this host starts no child runs"), "{all}");
}

#[test]
fn a_child_run_cannot_import_files_of_the_host() {
    let env = Env::new();
    let secret = env.write("secret.txt", "the host's own file\n");
    let child = serde_json::json!({"action": "input", "artifact": secret.to_str().unwrap()});
    let data = serde_json::json!({"action": "submit", "task": "hostile", "data": child});
    let (ran, all) = hostile_by_name(&env, &data, "submit = [\"hostile\"]");
    ran.expect(0);
    let note = first_note(&report(&ran));
    assert!(
        note.starts_with("new; Error") && note.contains("cannot import files from the machine"),
        "{all}"
    );
    // Nothing was imported.
    assert!(
        env.artifacts()
            .iter()
            .all(|a| a["category"] != "test:input"),
        "{all}"
    );
    // The user's own run still imports a file they name.
    let own = serde_json::json!({"action": "input", "artifact": secret.to_str().unwrap()});
    let (ran, all) = hostile_by_name(&env, &own, "");
    ran.expect(0);
    assert!(
        first_note(&report(&ran)).contains("the host's own file"),
        "{all}"
    );
}

// ---- 7. Handles, and a run that cannot keep its log ----

#[test]
fn holding_too_many_handles_crashes_the_plugin_and_the_run_log_is_still_kept() {
    let env = Env::new();
    let ran = hostile_with(
        &env,
        &serde_json::json!({"action": "handles", "count": 20_000}),
        HOSTILE_GRANTS,
    );
    ran.expect(4);
    let r = report(&ran);
    let error = r["error"].as_str().unwrap_or_default();
    assert!(error.contains("held more than 1000 handles"), "{error}");
    assert!(r["log_artifact"].as_u64().is_some(), "{}", ran.stdout);
    let results = r["results_file"].as_str().expect("results file");
    assert!(std::path::Path::new(results).is_file());
    // Under the quota the same action works.
    let ran = hostile_with(
        &env,
        &serde_json::json!({"action": "handles", "count": 500}),
        HOSTILE_GRANTS,
    );
    ran.expect(0);
    assert_eq!(first_note(&report(&ran)), "holding 500");
}

#[test]
fn a_run_whose_results_cannot_be_stored_fails_with_a_nonzero_exit() {
    let env = Env::new();
    std::fs::create_dir_all(env.store()).expect("store");
    // `runs` is a file: results.yaml, the audit and the provenance cannot go there.
    std::fs::write(env.store().join("runs"), "in the way").expect("write");
    let ran = hostile_with(&env, &serde_json::json!({"action": "noop"}), HOSTILE_GRANTS);
    ran.expect(1);
    let r = report(&ran);
    assert_eq!(r["status"], "error");
    assert_eq!(r["failed_stage"], "upload-artifacts");
    assert!(
        r["error"]
            .as_str()
            .unwrap_or_default()
            .contains("writing results.yaml"),
        "{}",
        ran.stdout
    );
}

// ---- 8. Log forgery ----

#[test]
fn a_log_message_cannot_forge_a_host_line_or_carry_escapes() {
    let env = Env::new();
    let forged = "done\n2099-01-01T00:00:00Z  INFO policy: every grant given\u{1b}[2J\u{1b}[31mred";
    let ran = hostile_with(
        &env,
        &serde_json::json!({"action": "say", "message": forged}),
        HOSTILE_GRANTS,
    );
    ran.expect(0);
    let log = debug_log(&env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        !log.lines().any(|l| l.starts_with("2099")),
        "a forged line:\n{log}"
    );
    assert!(!log.contains('\u{1b}'), "a raw escape in:\n{log}");
    assert!(
        log.contains("plugin hostile: done\n    | 2099-01-01T00:00:00Z  INFO policy: every grant given\\u{1b}[2J\\u{1b}[31mred"),
        "{log}"
    );
    assert!(!ran.stderr.contains('\u{1b}'), "{}", ran.stderr);
    // The JSON lines, in the run's record, keep the message as it was given.
    let run_id = report(&ran)["run_id"].as_str().expect("run id").to_string();
    let jsonl =
        std::fs::read_to_string(env.store().join("runs").join(run_id).join("taskhost.jsonl"))
            .expect("taskhost.jsonl");
    let said: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .filter(|e: &Value| e["source"] == "plugin hostile")
        .collect();
    assert_eq!(said.len(), 1, "{jsonl}");
    assert_eq!(said[0]["message"], forged);
}

// ---- 9. Disk ----

#[test]
fn writing_past_the_disk_quota_stops_the_run_and_frees_the_space() {
    let env = Env::new();
    let dir = env.path("data/taskhost/plugins");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(HOSTILE, dir.join("hostile.wasm")).expect("copy");
    let policy = pinned_policy(&env, "disk = \"32 MiB\"");
    let run = |data: &str| {
        let file = env.write("disk.json", data);
        env.run(&[
            "run",
            "hostile",
            "--data",
            file.to_str().expect("utf-8"),
            "--policy",
            &policy,
            "--format",
            "json",
        ])
    };
    let workspaces = env.path("taskhost-workspaces");
    for data in [
        // The plugin itself, through WASI.
        r#"{"action":"fill","file":"big","mib":256}"#,
        // A command it runs.
        r#"{"action":"exec","argv":["sh","-c","head -c 100000000 /dev/zero > big; echo hello"]}"#,
    ] {
        let ran = run(data);
        ran.expect(1);
        let r = report(&ran);
        let error = r["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("at most 32 MiB of disk in its workspace")
                && error.contains("the run was stopped and its workspace removed"),
            "{data}: {error}"
        );
        assert_eq!(
            std::fs::read_dir(&workspaces)
                .map(|d| d.count())
                .unwrap_or(0),
            0,
            "the workspace is removed"
        );
    }
    // Under the quota, the same writes are fine.
    run(r#"{"action":"fill","file":"small","mib":8}"#).expect(0);
}

// ---- The audit log ----

#[test]
fn runtask_audit_shows_each_decision_with_its_rule() {
    let env = Env::new();
    let allowed = hostile_with(
        &env,
        &serde_json::json!({"action": "exec", "argv": ["echo", "hello", "audit"]}),
        HOSTILE_GRANTS,
    );
    allowed.expect(0);
    let run_id = report(&allowed)["run_id"]
        .as_str()
        .expect("run id")
        .to_string();
    let ran = env.run(&["audit", &run_id]);
    ran.expect(0);
    assert!(
        ran.stdout.lines().any(|l| l.contains("allow  exec")
            && l.contains("echo")
            && l.contains("--allow-exec 'echo hello *'")),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("allow  backend"), "{}", ran.stdout);

    let denied = hostile_with(
        &env,
        &serde_json::json!({"action": "exec", "argv": ["echo", "bye"]}),
        HOSTILE_GRANTS,
    );
    denied.expect(1);
    let run_id = report(&denied)["run_id"]
        .as_str()
        .expect("run id")
        .to_string();
    let ran = env.run(&["audit", &run_id, "--denied"]);
    ran.expect(0);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", ran.stdout);
    assert!(lines[0].contains("DENY   exec"), "{}", lines[0]);
    assert!(
        lines[0].contains("not declared in its manifest"),
        "{}",
        lines[0]
    );
    let ran = env.run(&["audit", &run_id, "--json"]);
    ran.expect(0);
    for line in ran.stdout.lines() {
        let event: Value = serde_json::from_str(line).expect("JSON line");
        assert_eq!(event["digest"], format!("sha256:{}", digest(HOSTILE)));
        assert_eq!(event["run"], run_id);
    }
    env.run(&["audit", "no-such-run"]).expect(2);
}

// ---- Processes: command-memory ----

#[test]
fn command_memory_from_the_policy_bounds_the_programs_a_run_spawns() {
    let env = Env::new();
    let dir = env.path("data/taskhost/plugins");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(HOSTILE, dir.join("hostile.wasm")).expect("copy");
    let policy = pinned_policy(&env, "command-memory = \"64 MiB\"");
    // A shell holding 200 MB in a variable.
    let hog = r#"x=$(head -c 200000000 /dev/zero | tr '\0' a); echo ${#x}"#;
    let file = env.write(
        "hog.json",
        &serde_json::json!({"action": "exec", "argv": ["sh", "-c", hog]}).to_string(),
    );
    let ran = env.run(&[
        "run",
        "hostile",
        "--data",
        file.to_str().expect("utf-8"),
        "--policy",
        &policy,
        "--format",
        "json",
    ]);
    ran.expect(0);
    let note = first_note(&report(&ran));
    assert!(
        !note.contains("stdout=200000000"),
        "the command got its 200 MB: {note}"
    );
    let log = debug_log(&env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        log.contains("killed past its memory limit (64 MiB, `command-memory` in the policy)"),
        "{log}"
    );
}
