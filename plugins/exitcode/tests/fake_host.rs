//! `run` against the SDK's fake host: the exit code each kind of
//! ResultYAML gives, and each way the params are refused.

use serde_json::{Value, json};
use taskhost_plugin_exitcode::{Exitcode, FAILURE, SUCCESS};
use taskhost_sdk::Error;
use taskhost_sdk::directive::Output;
use taskhost_sdk::testing::{self, FakeHost, Run};

/// ResultYAML as `xunit` exports it: one result per test case.
const XUNIT_PASSED: &str = "\
results:
  - item: xchat-0.5-1.fc20
    type: koji_build
    checkname: xunit.test_connect
    outcome: PASSED
  - item: xchat-0.5-1.fc20
    type: koji_build
    checkname: xunit.test_skipped
    outcome: INFO
    note: skipped by the test suite
";

/// ResultYAML with one result of `outcomes` each, in order.
fn results(outcomes: &[&str]) -> String {
    let mut text = String::from("results:\n");
    for (i, outcome) in outcomes.iter().enumerate() {
        text.push_str(&format!(
            "  - item: xchat-0.5-1.fc20\n    type: koji_build\n    checkname: dist.check{i}\n    outcome: {outcome}\n"
        ));
    }
    text
}

fn exitcode(params: Value) -> Run<Output> {
    FakeHost::new()
        .task_data(params)
        .run_directive::<Exitcode>(&testing::context())
}

/// The exit code the directive asks for, or a panic naming the error.
#[track_caller]
fn code(params: Value) -> Option<u8> {
    let run = exitcode(params);
    match run.status {
        Ok(output) => {
            assert_eq!(output.value, "null", "exitcode exports nothing");
            output.exit_code
        }
        Err(e) => panic!("{e:?}"),
    }
}

/// The message of the `Invalid` error the directive ends with.
#[track_caller]
fn invalid(params: Value) -> String {
    let run = exitcode(params);
    match run.status {
        Err(Error::Invalid(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn passed_and_info_results_give_0_and_nothing_else_happens() {
    let run = exitcode(json!({"result_worst": XUNIT_PASSED}));
    assert_eq!(
        run.status,
        Ok(Output {
            value: "null".into(),
            exit_code: Some(0),
        })
    );
    assert_eq!(SUCCESS, 0);
    // exitcode needs no capability: no command, backend, artifact or result.
    assert!(run.commands.is_empty(), "{:?}", run.commands);
    assert!(run.backends.is_empty(), "{:?}", run.backends);
    assert!(run.artifacts.is_empty() && run.relations.is_empty());
    assert!(run.results.is_empty(), "{:?}", run.results);
    assert!(run.urls.is_empty() && run.denied.is_empty());
    assert_eq!(code(json!({"result_last": XUNIT_PASSED})), Some(0));
}

#[test]
fn result_worst_gives_100_for_any_outcome_but_passed_and_info() {
    assert_eq!(FAILURE, 100);
    for bad in ["FAILED", "NEEDS_INSPECTION", "ABORTED", "CRASHED"] {
        let text = results(&["PASSED", bad, "INFO"]);
        assert_eq!(code(json!({"result_worst": text})), Some(100), "{bad}");
    }
    let text = results(&["INFO", "PASSED", "INFO"]);
    assert_eq!(code(json!({"result_worst": text})), Some(0));
}

#[test]
fn result_last_looks_at_the_last_result_only() {
    let fixed = results(&["FAILED", "PASSED"]);
    assert_eq!(code(json!({"result_last": fixed})), Some(0));
    assert_eq!(code(json!({"result_worst": fixed})), Some(100));
    let broke = results(&["PASSED", "PASSED", "CRASHED"]);
    assert_eq!(code(json!({"result_last": broke})), Some(100));
    let info = results(&["ABORTED", "INFO"]);
    assert_eq!(code(json!({"result_last": info})), Some(0));
}

#[test]
fn no_results_at_all_is_0() {
    for text in ["results: []\n", "results:\n"] {
        assert_eq!(code(json!({"result_worst": text})), Some(0), "{text:?}");
        assert_eq!(code(json!({"result_last": text})), Some(0), "{text:?}");
    }
}

#[test]
fn a_result_without_an_outcome_needs_inspection_and_gives_100() {
    // libtaskotron's check.import_YAML reads an absent outcome as
    // NEEDS_INSPECTION.
    let text = "results:\n  - item: xchat-0.5-1.fc20\n    type: koji_build\n";
    assert_eq!(code(json!({"result_worst": text})), Some(100));
    assert_eq!(code(json!({"result_last": text})), Some(100));
}

#[test]
fn a_task_actions_export_is_read_through_its_results_key() {
    // What a task action exports: its status and its results as ResultYAML.
    let export = json!({
        "status": "failure",
        "results": results(&["PASSED", "FAILED"]),
        "artifacts": [1000],
    });
    assert_eq!(code(json!({"result_worst": export})), Some(100));
    let export = json!({"status": "success", "results": results(&["FAILED", "PASSED"])});
    assert_eq!(code(json!({"result_last": export})), Some(0));
    assert_eq!(
        invalid(json!({"result_worst": {"status": "success", "n": 3}})),
        "param `result_worst` is a mapping without ResultYAML text under `results`; \
         give ResultYAML text or a task action's export"
    );
    assert_eq!(
        invalid(json!({"result_last": {"results": ["PASSED"]}})),
        "param `result_last` is a mapping without ResultYAML text under `results`; \
         give ResultYAML text or a task action's export"
    );
}

#[test]
fn exactly_one_of_the_two_params_is_taken() {
    let want = "exitcode takes exactly one of the params `result_last` and `result_worst`";
    assert_eq!(invalid(json!({})), want);
    let text = results(&["PASSED"]);
    assert_eq!(
        invalid(json!({"result_last": text, "result_worst": text})),
        want
    );
    // A null param is an absent one.
    assert_eq!(invalid(json!({"result_worst": null})), want);
}

#[test]
fn an_unknown_param_is_refused_naming_it() {
    let m = invalid(json!({"result_first": results(&["PASSED"])}));
    assert_eq!(
        m,
        "params: unknown key 'result_first' (extra fields not permitted)"
    );
}

#[test]
fn a_param_of_another_type_is_refused_naming_what_it_is() {
    for (value, what) in [
        (json!(100), "a number or a boolean"),
        (json!(true), "a number or a boolean"),
        (json!(["PASSED"]), "a list"),
    ] {
        assert_eq!(
            invalid(json!({"result_worst": value})),
            format!(
                "param `result_worst` must be ResultYAML text (e.g. what `xunit` exported) \
                 or a task action's export, not {what}"
            )
        );
    }
}

#[test]
fn bad_resultyaml_is_refused_naming_the_param_and_the_place() {
    let m = invalid(json!({"result_worst": "results: [{item: x, outcome: GREAT}]"}));
    assert!(
        m.starts_with(
            "param `result_worst`: ResultYAML: not valid ResultYAML: results[0]: outcome: \
             unknown outcome 'GREAT' (valid: PASSED, INFO, FAILED, NEEDS_INSPECTION, ABORTED, CRASHED)"
        ),
        "{m}"
    );
    // Lower case is not an outcome (ResultsDB is case-sensitive).
    let m = invalid(json!({"result_last": "results:\n  - {item: x, outcome: passed}\n"}));
    assert!(m.contains("unknown outcome 'passed'"), "{m}");
    assert_eq!(
        invalid(json!({"result_last": "  \n"})),
        "param `result_last`: ResultYAML: the document is empty; \
         ResultYAML is a mapping with a `results:` list"
    );
    let m = invalid(json!({"result_worst": "PASSED\n"}));
    assert!(
        m.starts_with("param `result_worst`: ResultYAML: not valid ResultYAML: "),
        "{m}"
    );
    let m = invalid(json!({"result_worst": "results: PASSED\n"}));
    assert!(
        m.starts_with("param `result_worst`: ResultYAML: not valid ResultYAML: "),
        "{m}"
    );
}
