//! `run` against the SDK's fake host: what the directive returns, how it
//! fails on request, how bad params are refused, and that it uses no
//! capability at all.

use serde_json::{Value, json};
use taskhost_plugin_dummy::Dummy;
use taskhost_sdk::Error;
use taskhost_sdk::directive::Output;
use taskhost_sdk::testing::{self, FakeHost, Run};

fn dummy(params: Value) -> Run<Output> {
    FakeHost::new()
        .task_data(params)
        .run_directive::<Dummy>(&testing::context())
}

fn value(text: &str) -> Result<Output, Error> {
    Ok(Output {
        value: text.to_string(),
        exit_code: None,
    })
}

/// Nothing but the returned value: no command, backend, artifact,
/// result, URL or log line.
fn assert_touched_nothing<T>(run: &Run<T>) {
    assert!(run.commands.is_empty(), "{:?}", run.commands);
    assert!(run.backends.is_empty(), "{:?}", run.backends);
    assert!(run.artifacts.is_empty(), "{:?}", run.artifacts);
    assert!(run.relations.is_empty(), "{:?}", run.relations);
    assert!(run.results.is_empty(), "{:?}", run.results);
    assert!(run.urls.is_empty(), "{:?}", run.urls);
    assert!(run.denied.is_empty(), "{:?}", run.denied);
    assert!(run.log.is_empty(), "{:?}", run.log);
}

#[test]
fn pass_returns_the_text_message_as_json_text() {
    let run = dummy(json!({"result": "PASS", "msg": "hello foo-1.0-1.fc40"}));
    assert_eq!(run.status, value("\"hello foo-1.0-1.fc40\""));
    assert_touched_nothing(&run);
}

#[test]
fn any_result_but_fail_returns_the_message_of_any_type_as_it_is() {
    let msg =
        json!({"results": [{"item": "x", "outcome": "PASSED"}], "n": 3, "ok": true, "none": null});
    for result in ["PASS", "pass", "PASSED", "FAILED", "INFO", "", " FAIL"] {
        let run = dummy(json!({"result": result, "msg": msg}));
        let Ok(out) = &run.status else {
            panic!("{result:?}: {:?}", run.status)
        };
        assert_eq!(out.exit_code, None, "{result:?}");
        let back: Value = serde_json::from_str(&out.value).expect("JSON");
        assert_eq!(back, msg, "{result:?}");
    }
    assert_eq!(
        dummy(json!({"result": "PASS", "msg": 42})).status,
        value("42")
    );
    assert_eq!(
        dummy(json!({"result": "PASS", "msg": [1, "two", null]})).status,
        value("[1,\"two\",null]")
    );
    assert_eq!(
        dummy(json!({"result": "PASS", "msg": false})).status,
        value("false")
    );
}

#[test]
fn without_a_message_it_returns_null() {
    let run = dummy(json!({"result": "PASS"}));
    assert_eq!(run.status, value("null"));
    assert_touched_nothing(&run);
    // An explicit null is the same.
    assert_eq!(
        dummy(json!({"result": "PASS", "msg": null})).status,
        value("null")
    );
}

#[test]
fn fail_in_any_case_fails_with_the_result_and_the_text_message() {
    for result in ["FAIL", "fail", "Fail", "fAiL"] {
        let run = dummy(json!({"result": result, "msg": "on purpose"}));
        assert_eq!(
            run.status,
            Err(Error::Failed(format!(
                "dummy was asked to fail (result: {result}): on purpose"
            )))
        );
        assert_touched_nothing(&run);
    }
}

#[test]
fn fail_shows_a_non_text_message_as_json_and_none_without_one() {
    let cases = [
        (
            json!({"result": "FAIL"}),
            "dummy was asked to fail (result: FAIL)",
        ),
        (
            json!({"result": "FAIL", "msg": null}),
            "dummy was asked to fail (result: FAIL)",
        ),
        (
            json!({"result": "fail", "msg": [1, "a"]}),
            "dummy was asked to fail (result: fail): [1,\"a\"]",
        ),
        (
            json!({"result": "FAIL", "msg": {"why": "demo"}}),
            "dummy was asked to fail (result: FAIL): {\"why\":\"demo\"}",
        ),
        (
            json!({"result": "FAIL", "msg": 7}),
            "dummy was asked to fail (result: FAIL): 7",
        ),
        (
            json!({"result": "FAIL", "msg": ""}),
            "dummy was asked to fail (result: FAIL): ",
        ),
    ];
    for (params, says) in cases {
        let run = dummy(params.clone());
        assert_eq!(run.status, Err(Error::Failed(says.to_string())), "{params}");
    }
}

#[test]
fn a_missing_result_is_refused_naming_it() {
    let run = dummy(json!({"msg": "hi"}));
    assert!(
        matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with("params: missing field `result`")),
        "{:?}",
        run.status
    );
    assert_touched_nothing(&run);
}

#[test]
fn a_result_that_is_not_text_is_refused_naming_it() {
    for (result, found) in [
        (json!(3), "integer `3`"),
        (json!(true), "boolean `true`"),
        (json!(null), "null"),
        (json!(["FAIL"]), "sequence"),
    ] {
        let run = dummy(json!({"result": result, "msg": "hi"}));
        let says = format!("params: result: invalid type: {found}, expected a string");
        assert!(
            matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with(&says)),
            "{result}: {:?}",
            run.status
        );
    }
}

#[test]
fn an_unknown_param_is_refused_even_with_fail() {
    for result in ["PASS", "FAIL"] {
        let run = dummy(json!({"result": result, "message": "typo of msg"}));
        assert_eq!(
            run.status,
            Err(Error::Invalid(
                "params: unknown key 'message' (extra fields not permitted)".into()
            )),
            "{result}"
        );
    }
}

#[test]
fn params_that_are_not_a_mapping_are_refused() {
    for params in [json!("PASS"), json!(3), json!(null)] {
        let run = dummy(params.clone());
        assert!(
            matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with("params: invalid type: ")),
            "{params}: {:?}",
            run.status
        );
    }
}

#[test]
fn it_needs_no_capability_so_a_host_that_denies_everything_does_not_matter() {
    let run = FakeHost::new()
        .task_data(json!({"result": "PASS", "msg": "still fine"}))
        .deny_exec("* **")
        .deny_backend("local")
        .deny_backend("unshare")
        .deny_create("debian:lintian")
        .deny_url("http")
        .run_directive::<Dummy>(&testing::context());
    assert_eq!(run.status, value("\"still fine\""));
    assert_touched_nothing(&run);
}

#[test]
fn the_context_does_not_change_what_it_returns() {
    let mut context = testing::context();
    context.item = "other-2.0-1.fc41".into();
    context.item_type = "bodhi_update".into();
    context.checkname = "dist.rpmlint".into();
    let run = FakeHost::new()
        .task_data(json!({"result": "PASS", "msg": "${item}"}))
        .run_directive::<Dummy>(&context);
    assert_eq!(run.status, value("\"${item}\""));
}
