//! The shipped directives (xunit, dummy, shell, exitcode, resultsdb) in
//! formulas run by the real `runtask` binary, with a policy file, and
//! ResultsDB played by tests/servers/resultsdb.py.

use crate::servers::ResultsDb;
use crate::{Env, Ran, report};
use serde_json::{Value, json};

const ITEM: &str = "foo-1.0-1.fc40";
const UUID: &str = "u1";

/// Four test cases: a, c and d pass, b fails.
const JUNIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="unit" tests="4">
    <testcase classname="demo" name="a"/>
    <testcase classname="demo" name="b"><failure message="expected 1, got 2">trace</failure></testcase>
    <testcase classname="demo" name="c"/>
    <testcase classname="demo" name="d"></testcase>
  </testsuite>
</testsuites>
"#;

/// Writes `policy` and `formula` into `env` and runs the formula for koji
/// build [`ITEM`] on x86_64, uuid [`UUID`]; artifacts go to `<env>/art`.
fn run(env: &Env, formula: &str, policy: &str) -> Ran {
    run_with(env, formula, policy, &[])
}

fn run_with(env: &Env, formula: &str, policy: &str, extra: &[&str]) -> Ran {
    let policy = format!("{policy}\n{}", crate::echo_pin());
    let policy = env.write("policy.toml", &policy).display().to_string();
    let file = env.write("task/runtask.yml", formula).display().to_string();
    let art = env.path("art").display().to_string();
    let mut args = vec![
        "-i",
        ITEM,
        "-t",
        "koji_build",
        "-a",
        "x86_64",
        "-j",
        "7",
        "--uuid",
        UUID,
        "--artifactsdir",
        &art,
        "--policy",
        &policy,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args.push(&file);
    env.run(&args)
}

/// What the shell plugin may run in these tests: `echo granted ...` and
/// copying `<env>/junit.xml` into the workspace's artifacts.
fn shell_policy(env: &Env) -> String {
    let junit = env.write("junit.xml", JUNIT).display().to_string();
    format!(
        "[plugins.shell]\nbackends = [\"local\"]\nexec = [\"echo granted **\", \"cp {junit} artifacts/junit.xml\"]\n"
    )
}

/// The shell action that puts the JUnit file into the workspace.
fn copy_junit(env: &Env) -> String {
    format!(
        "  - name: tests\n    shell:\n      - cp {} artifacts/junit.xml\n",
        env.path("junit.xml").display()
    )
}

fn resultsdb_policy(rdb: &ResultsDb) -> String {
    format!("[plugins.resultsdb]\nurls = [\"{}/\"]\n", rdb.url)
}

/// The `error` of a report, as text.
fn error(ran: &Ran) -> String {
    report(ran)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

// ---- xunit → resultsdb ------------------------------------------------

#[test]
fn xunit_allpass_gives_one_result_counting_the_outcomes() {
    let env = Env::new();
    let rdb = ResultsDb::start();
    let formula = format!(
        "name: unittests
actions:
{}  - name: parse
    xunit:
      item: $koji_build
      type: koji_build
      checkname: dist.unittests
      file: ${{artifactsdir}}/junit.xml
    export: xout
  - name: report
    resultsdb:
      results: ${{xout}}
      resultsdb_url: {}
      artifacts_url: https://taskotron.example.org/artifacts
",
        copy_junit(&env),
        rdb.url
    );
    let ran = run(
        &env,
        &formula,
        &(shell_policy(&env) + &resultsdb_policy(&rdb)),
    );
    // A FAILED result and no exitcode action: 100.
    ran.expect(100);
    let report = report(&ran);
    assert_eq!(report["status"], "success");
    assert_eq!(
        report["results"],
        json!([{
            "item": ITEM, "type": "koji_build", "outcome": "FAILED",
            "checkname": "dist.unittests", "note": "3 PASSED, 1 FAILED", "artifact": "junit.xml",
        }])
    );
    assert!(
        env.path("art/u1/junit.xml").is_file(),
        "the JUnit file is kept"
    );

    let stored = rdb.results();
    assert_eq!(stored.len(), 1, "{stored:?}");
    let r = &stored[0];
    assert_eq!(r["outcome"], "FAILED");
    assert_eq!(r["testcase"]["name"], "dist.unittests");
    assert_eq!(r["note"], "3 PASSED, 1 FAILED");
    assert_eq!(r["groups"], json!([UUID]));
    assert_eq!(
        r["ref_url"],
        "https://taskotron.example.org/artifacts/u1/junit.xml"
    );
    assert_eq!(
        r["data"],
        json!({"item": [ITEM], "type": ["koji_build"], "arch": ["x86_64"]})
    );
    let (status, group) = rdb.get(&format!("groups/{UUID}"));
    assert_eq!(status, 200);
    assert_eq!(group["description"], "unittests");
    assert_eq!(
        group["ref_url"],
        "https://taskotron.example.org/artifacts/u1/"
    );
    assert_eq!(rdb.get("testcases/dist.unittests").0, 200);
}

#[test]
fn xunit_none_gives_one_result_per_test_case() {
    let env = Env::new();
    let rdb = ResultsDb::start();
    // Item, type and checkname default to the run's.
    let formula = format!(
        "name: unittests
actions:
{}  - name: parse
    xunit:
      file: artifacts/junit.xml
      aggregation: none
    export: xout
  - name: report
    resultsdb:
      results: ${{xout}}
      resultsdb_url: {}
    export: reported
  - name: last
    exitcode:
      result_last: ${{reported}}
",
        copy_junit(&env),
        rdb.url
    );
    let ran = run(
        &env,
        &formula,
        &(shell_policy(&env) + &resultsdb_policy(&rdb)),
    );
    // The last case (d) passed, and exitcode decides.
    ran.expect(0);
    let got: Vec<(String, String, Value)> = report(&ran)["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["checkname"].as_str().unwrap().into(),
                r["outcome"].as_str().unwrap().into(),
                r["note"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("unittests.a".into(), "PASSED".into(), Value::Null),
            (
                "unittests.b".into(),
                "FAILED".into(),
                json!("expected 1, got 2")
            ),
            ("unittests.c".into(), "PASSED".into(), Value::Null),
            ("unittests.d".into(), "PASSED".into(), Value::Null),
        ]
    );
    let mut names: Vec<String> = rdb
        .results()
        .iter()
        .map(|r| r["testcase"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["unittests.a", "unittests.b", "unittests.c", "unittests.d"]
    );
    assert!(
        rdb.results().iter().all(|r| r["ref_url"].is_null()),
        "no artifacts_url, no ref_url"
    );
}

#[test]
fn xunit_names_a_file_it_cannot_use() {
    let env = Env::new();
    let ran = run(
        &env,
        "name: x\nactions:\n  - name: parse\n    xunit: {file: missing.xml}\n",
        "",
    );
    ran.expect(1);
    let e = error(&ran);
    assert!(
        e.starts_with("action 'parse': param `file`: cannot read 'missing.xml' in the workspace"),
        "{e}"
    );

    let policy = shell_policy(&env);
    env.write("junit.xml", "<html><testcase name='a'/></html>");
    let formula = format!(
        "name: x\nactions:\n{}  - name: parse\n    xunit: {{file: artifacts/junit.xml}}\n",
        copy_junit(&env)
    );
    let ran = run(&env, &formula, &policy);
    ran.expect(1);
    assert_eq!(
        error(&ran),
        "action 'parse': param `file`: 'artifacts/junit.xml': not JUnit XML: \
         the root element is <html>, expected <testsuites> or <testsuite>"
    );
}

// ---- resultsdb --------------------------------------------------------

#[test]
fn resultsdb_posts_keyvals_as_data_and_returns_the_ids() {
    let env = Env::new();
    let rdb = ResultsDb::start();
    let formula = format!(
        "\
name: rpmlint
actions:
  - name: report
    resultsdb:
      resultsdb_url: {url}
      artifacts_url: https://a.example.org/runs/
      results: |
        results:
          - item: {ITEM}
            type: koji_build
            checkname: dist.rpmlint
            outcome: PASSED
            note: 0 errors, 1 warnings
            artifact: artifacts/rpmlint.log
            scratch: 'yes'
          - item: {ITEM}
            type: koji_build
            checkname: dist.rpmlint
            arch: i686
    export: reported
  - name: keep what it returned
    echo: {{msg: \"${{reported}}\", save: artifacts/reported.json}}
  - name: check
    exitcode:
      result_worst: ${{reported}}
",
        url = rdb.url
    );
    let plugins = crate::formula::echo_plugin_dir(&env);
    let ran = run_with(
        &env,
        &formula,
        &resultsdb_policy(&rdb),
        &["--plugin-dir", &plugins],
    );
    // The second result has no outcome: NEEDS_INSPECTION.
    ran.expect(100);
    let stored = rdb.results();
    assert_eq!(stored.len(), 2, "{stored:?}");
    let first = stored
        .iter()
        .find(|r| r["outcome"] == "PASSED")
        .expect("the PASSED one");
    assert_eq!(
        first["data"],
        json!({"item": [ITEM], "type": ["koji_build"], "arch": ["x86_64"], "scratch": ["yes"]})
    );
    assert_eq!(first["note"], "0 errors, 1 warnings");
    assert_eq!(
        first["ref_url"],
        "https://a.example.org/runs/u1/rpmlint.log"
    );
    let second = stored
        .iter()
        .find(|r| r["outcome"] == "NEEDS_INSPECTION")
        .expect("the other");
    assert_eq!(
        second["data"]["arch"],
        json!(["i686"]),
        "a keyval wins over the run's arch"
    );
    assert_eq!(second["ref_url"], "https://a.example.org/runs/u1/");
    assert_eq!(first["groups"], json!([UUID]));

    // It returns the ResultYAML with the ids ResultsDB gave.
    let saved = std::fs::read_to_string(env.path("art/u1/reported.json")).expect("reported.json");
    let saved: Value = serde_json::from_str(&saved).expect("JSON");
    let returned = saved["msg"].as_str().expect("ResultYAML text");
    for r in &stored {
        let line = format!("resultsdb_id: '{}'", r["id"]);
        assert!(returned.contains(&line), "{line} not in\n{returned}");
    }
    // Written quoted: YAML 1.1 readers (PyYAML) would take a plain yes
    // for a boolean.
    assert!(returned.contains("scratch: 'yes'\n"), "{returned}");

    let results = report(&ran)["results"].clone();
    assert_eq!(results.as_array().map(Vec::len), Some(2), "{results}");
    assert_eq!(results[0]["keyvals"]["scratch"], "yes");
}

#[test]
fn resultsdb_reports_a_task_actions_results_once() {
    let env = Env::new();
    let rdb = ResultsDb::start();
    let log = crate::blhc::build_package(&env, "directives-blhc", "gcc -O2 -o hello hello.c");
    let formula = format!(
        "name: hardening
actions:
  - name: check
    blhc:
      input:
        artifact: {}
    export: check
  - name: report
    resultsdb:
      results: ${{check}}
      resultsdb_url: {}
  - name: exit
    exitcode:
      result_worst: ${{check}}
",
        log.display(),
        rdb.url
    );
    let policy = format!(
        "{}[plugins.blhc]\nexec = [\"blhc --debian **\"]\nbackends = [\"local\"]\n",
        resultsdb_policy(&rdb)
    );
    let ran = run(&env, &formula, &policy);
    ran.expect(100);
    let results = report(&ran)["results"].clone();
    assert_eq!(
        results.as_array().map(Vec::len),
        Some(1),
        "kept once: {results}"
    );
    assert_eq!(results[0]["checkname"], "blhc");
    assert_eq!(results[0]["outcome"], "FAILED");
    let stored = rdb.results();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["testcase"]["name"], "blhc");
    assert_eq!(stored[0]["outcome"], "FAILED");
    assert_eq!(stored[0]["data"]["item"], json!([results[0]["item"]]));
}

#[test]
fn resultsdb_refuses_a_result_without_an_item_and_sends_nothing() {
    let env = Env::new();
    let rdb = ResultsDb::start();
    let formula = format!(
        "name: x\nactions:\n  - name: report\n    resultsdb:\n      resultsdb_url: {}\n      results: |\n        results:\n          - {{item: a, type: t, checkname: c, outcome: PASSED}}\n          - {{type: t, checkname: c, outcome: FAILED}}\n",
        rdb.url
    );
    let ran = run(&env, &formula, &resultsdb_policy(&rdb));
    ran.expect(1);
    assert_eq!(
        error(&ran),
        "action 'report': results[1] has no `item`: ResultsDB needs item, type and checkname in every result"
    );
    assert!(rdb.results().is_empty());
    assert_eq!(rdb.get("groups").1["data"], json!([]), "no group either");
}

#[test]
fn resultsdb_without_a_url_grant_is_denied_naming_the_grant() {
    let env = Env::new();
    let rdb = ResultsDb::start();
    let formula = format!(
        "name: x\nactions:\n  - name: report\n    resultsdb:\n      resultsdb_url: {}\n      results: \"results: [{{item: a, type: t, checkname: c}}]\"\n",
        rdb.url
    );
    let ran = run(&env, &formula, "");
    ran.expect(1);
    let e = error(&ran);
    assert!(e.starts_with("action 'report': access denied: param `resultsdb_url`: plugin 'resultsdb' may not access"), "{e}");
    assert!(e.contains("declared but not granted"), "{e}");
    assert!(e.contains("urls = [\"http://127.0.0.1:"), "{e}");
    assert!(rdb.results().is_empty());
}

// ---- dummy ------------------------------------------------------------

#[test]
fn dummy_returns_its_message_of_any_type_unless_result_is_fail_in_any_case() {
    let env = Env::new();
    // libtaskotron's documented example.
    run(
        &env,
        "name: x\nactions:\n  - name: hi\n    dummy:\n      result: PASS\n      msg: hello ${koji_build}\n",
        "",
    )
    .expect(0);
    // A mapping comes back as it is: exitcode reads its `results` text.
    let formula = "name: x\nactions:
  - name: hi
    dummy:
      result: pass
      msg: {results: \"results: [{item: x, type: koji_build, outcome: FAILED}]\", n: 3}
    export: out
  - name: exit
    exitcode: {result_worst: \"${out}\"}
";
    let ran = run(&env, formula, "");
    ran.expect(100);
    assert_eq!(report(&ran)["exit_code"], 100);

    for result in ["FAIL", "fail"] {
        let ran = run(
            &env,
            &format!(
                "name: x\nactions:\n  - name: boom\n    dummy: {{result: {result}, msg: on purpose}}\n  - name: never\n    dummy: {{result: PASS}}\n"
            ),
            "",
        );
        ran.expect(1);
        assert_eq!(
            error(&ran),
            format!("action 'boom': dummy was asked to fail (result: {result}): on purpose")
        );
        assert_eq!(report(&ran)["failed_stage"], "boom");
    }
    let ran = run(
        &env,
        "name: x\nactions:\n  - name: a\n    dummy: {msg: hi}\n",
        "",
    );
    ran.expect(2);
    assert!(
        ran.stderr
            .contains("the required param `result` is missing"),
        "{}",
        ran.stderr
    );
}

// ---- exitcode ---------------------------------------------------------

/// A formula where dummy actions produce `outcomes` and exitcode reads
/// each with `how` (`result_worst` or `result_last`).
fn exitcodes(outcomes: &[&str], how: &str) -> String {
    let mut text = String::from("name: codes\nactions:\n");
    for (i, o) in outcomes.iter().enumerate() {
        text.push_str(&format!(
            "  - name: check {i}\n    dummy: {{result: PASS, msg: \"results: [{{item: x, outcome: {o}}}]\"}}\n    export: r{i}\n  - name: exit {i}\n    exitcode: {{{how}: \"${{r{i}}}\"}}\n"
        ));
    }
    text
}

#[test]
fn exitcode_turns_outcomes_into_0_or_100_and_the_worst_wins() {
    let env = Env::new();
    run(&env, &exitcodes(&["PASSED"], "result_worst"), "").expect(0);
    run(&env, &exitcodes(&["INFO"], "result_last"), "").expect(0);
    run(&env, &exitcodes(&["FAILED"], "result_worst"), "").expect(100);
    run(&env, &exitcodes(&["NEEDS_INSPECTION"], "result_last"), "").expect(100);
    let ran = run(&env, &exitcodes(&["FAILED", "PASSED"], "result_worst"), "");
    ran.expect(100);
    assert_eq!(report(&ran)["exit_code"], 100);
    run(&env, &exitcodes(&["PASSED", "ABORTED"], "result_worst"), "").expect(100);
}

#[test]
fn exitcode_takes_exactly_one_param() {
    let env = Env::new();
    let ran = run(
        &env,
        "name: x\nactions:\n  - name: exit\n    exitcode: {}\n",
        "",
    );
    ran.expect(1);
    assert_eq!(
        error(&ran),
        "action 'exit': exitcode takes exactly one of the params `result_last` and `result_worst`"
    );
    let ran = run(
        &env,
        "name: x\nactions:\n  - name: exit\n    exitcode: {result_worst: \"results: [{outcome: GREAT}]\"}\n",
        "",
    );
    ran.expect(1);
    let e = error(&ran);
    assert!(
        e.contains("param `result_worst`: ResultYAML: not valid ResultYAML: results[0]: outcome: unknown outcome 'GREAT'"),
        "{e}"
    );
}

// ---- shell ------------------------------------------------------------

#[test]
fn shell_runs_a_granted_command_as_plain_argv() {
    let env = Env::new();
    let formula = "\
name: x
actions:
  - name: run
    shell:
      - echo granted a;b
      - echo granted x | cat > out && $$(id)
      - [echo, granted, 'one arg', '*']
";
    let ran = run(&env, formula, &shell_policy(&env));
    ran.expect(0);
    let log = std::fs::read_to_string(env.path("art/u1/runtask.log")).expect("runtask.log");
    for printed in [
        "commands[0] printed:\n    | granted a;b\n",
        "commands[1] printed:\n    | granted x | cat > out && $(id)\n",
        "commands[2] printed:\n    | granted one arg *\n",
    ] {
        assert!(log.contains(printed), "{printed:?} not in\n{log}");
    }
    assert!(!env.path("out").exists());
}

#[test]
fn shell_refuses_an_ungranted_command_naming_the_grant() {
    let env = Env::new();
    let ran = run(
        &env,
        "name: x\nactions:\n  - name: run\n    shell:\n      - echo granted first\n      - echo not granted\n",
        &shell_policy(&env),
    );
    ran.expect(1);
    let e = error(&ran);
    assert!(
        e.starts_with("action 'run': access denied: commands[1] `echo not granted`: plugin 'shell' may not run `echo not granted`: declared but not granted"),
        "{e}"
    );
    // shell declares any command line: the hint is this one.
    assert!(e.contains("exec = [\"echo not granted\"]"), "{e}");

    // Nothing granted at all: the formula is refused before it starts.
    let ran = run(
        &env,
        "name: x\nactions:\n  - name: run\n    shell: [echo granted]\n",
        "",
    );
    ran.expect(3);
    assert!(
        ran.stdout.contains("plugin 'shell' may not"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("--allow-backend local"),
        "{}",
        ran.stdout
    );
}

#[test]
fn shell_fails_on_a_non_zero_exit_with_the_stderr_tail() {
    let env = Env::new();
    let policy = format!("{}\n", shell_policy(&env))
        .replace("exec = [", "exec = [\"cp /nonexistent/taskhost here\", ");
    let ran = run(
        &env,
        "name: x\nactions:\n  - name: run\n    shell:\n      - cp /nonexistent/taskhost here\n      - echo granted never\n",
        &policy,
    );
    ran.expect(1);
    let e = error(&ran);
    assert!(
        e.starts_with("action 'run': commands[0] `cp /nonexistent/taskhost here` exited with code 1; its stderr ends with:\ncp: cannot stat"),
        "{e}"
    );
    let log = std::fs::read_to_string(env.path("art/u1/runtask.log")).expect("runtask.log");
    assert!(!log.contains("granted never"), "{log}");
}

// ---- bad formulas -----------------------------------------------------

#[test]
fn bad_formulas_name_the_action_the_key_and_the_place() {
    let env = Env::new();
    let file = env.path("task/runtask.yml").display().to_string();
    let cases = [
        (
            "name: x\ndesc: no actions\n",
            "1:1: the formula has no `actions` key",
        ),
        (
            "name: x\nactions:\n  - name: parse\n    xunitt: {file: a.xml}\n",
            "4:5: action 'parse': unknown directive 'xunitt'",
        ),
        (
            "name: x\nactions:\n  - name: parse\n    xunit: {file: $junit}\n",
            "4:19: action 'parse': undefined variable 'junit'",
        ),
        (
            "name: x\nactions:\n  - name: parse\n    xunit:\n      file: a.xml\n      aggregation: [none]\n",
            "6:20: action 'parse': param `aggregation` must be a string, not a list",
        ),
        (
            "name: x\nactions:\n  - name: run\n    shell: echo granted\n",
            "4:5: action 'run': param `commands` must be a list, not the string 'echo granted'",
        ),
        (
            "name: x\nactions:\n  - name: parse\n    xunit:\n      aggregation: none\n",
            "4:5: action 'parse': the required param `file` is missing",
        ),
        (
            "name: x\nactions:\n  - name: report\n    resultsdb: {results: x}\n",
            "4:5: action 'report': the required param `resultsdb_url` is missing",
        ),
        (
            "name: x\nactions:\n  - name: parse\n    xunit: {file: a.xml, aggregate: none}\n",
            "4:26: action 'parse': unknown param `aggregate` (it takes: item, type, checkname, file, aggregation)",
        ),
    ];
    for (text, expected) in cases {
        let ran = run(&env, text, &shell_policy(&env));
        ran.expect(2);
        assert!(
            ran.stderr.contains(&format!("{file}:{expected}")),
            "{text}\nexpected {file}:{expected}\n{}",
            ran.stderr
        );
    }
}
