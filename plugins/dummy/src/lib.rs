//! libtaskotron's `dummy` directive, for trying formulas out.
//!
//! `result` is any text: `FAIL`, in any case, fails the action; anything
//! else returns `msg` (any value), or nothing without one.

use serde::Deserialize;
use serde_json::Value;
use taskhost_sdk::directive::{Context, Directive, DirectiveParams, Output};
use taskhost_sdk::{Error, Result};

// ---- params -----------------------------------------------------------

#[derive(Debug, Deserialize, DirectiveParams)]
pub struct Params {
    /// any text; FAIL (case ignored) fails the action
    pub result: String,
    /// what to return, any value
    pub msg: Option<Value>,
}

/// The value of `result` (case ignored) that fails the action.
pub const FAIL: &str = "FAIL";

pub struct Dummy;

impl Directive for Dummy {
    type Params = Params;
    const NAME: &'static str = "dummy";
    const SUMMARY: &'static str = "Does nothing: returns its message, or fails on request";
    const RETURNS: &'static str = "`msg` when given, else nothing (null)";
    const RAISES: &'static str = "when `result` is FAIL (case ignored)";

    fn run(p: Params, _: &Context) -> Result<Output> {
        if p.result.eq_ignore_ascii_case(FAIL) {
            let why = match p.msg {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(m)) => format!(": {m}"),
                Some(other) => format!(": {other}"),
            };
            return Err(Error::failed(format!(
                "dummy was asked to fail (result: {}){why}",
                p.result
            )));
        }
        Ok(p.msg.map_or_else(Output::none, Output::value))
    }
}

taskhost_sdk::export_directive!(Dummy, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> Context {
        Context {
            workdir: ".".into(),
            artifactsdir: "artifacts".into(),
            checkname: "demo".into(),
            namespace: String::new(),
            item: "foo-1.0-1.fc40".into(),
            item_type: "koji_build".into(),
            arch: "x86_64".into(),
            jobid: "-1".into(),
            uuid: "u".into(),
        }
    }

    fn run(result: &str, msg: Option<Value>) -> Result<Output> {
        Dummy::run(
            Params {
                result: result.into(),
                msg,
            },
            &context(),
        )
    }

    #[test]
    fn any_result_but_fail_returns_the_message_as_it_is() {
        for result in ["PASS", "pass", "PASSED", "whatever", ""] {
            let out = run(result, Some(json!("hello"))).unwrap();
            assert_eq!(out.value, "\"hello\"");
            assert_eq!(out.exit_code, None);
        }
        let msg = json!({"n": 3, "list": [true, null], "text": "x"});
        assert_eq!(
            run("PASS", Some(msg.clone())).unwrap().value,
            msg.to_string()
        );
        assert_eq!(run("PASS", Some(json!(42))).unwrap().value, "42");
        assert_eq!(run("PASS", None).unwrap().value, "null");
    }

    #[test]
    fn fail_in_any_case_fails_with_the_message() {
        for result in ["FAIL", "fail", "Fail"] {
            let e = run(result, Some(json!("on purpose"))).unwrap_err();
            assert!(
                matches!(&e, Error::Failed(m) if m == &format!("dummy was asked to fail (result: {result}): on purpose")),
                "{e:?}"
            );
        }
        let e = run("fail", Some(json!([1]))).unwrap_err();
        assert!(matches!(&e, Error::Failed(m) if m.ends_with("(result: fail): [1]")));
        let e = run("FAIL", None).unwrap_err();
        assert!(matches!(&e, Error::Failed(m) if m == "dummy was asked to fail (result: FAIL)"));
        assert!(run("FAILED", None).is_ok());
    }

    #[test]
    fn result_is_required_and_any_text() {
        let p = &Params::params();
        assert!(p[0].required && p[0].choices.is_empty());
        assert!(!p[1].required && matches!(p[1].type_, taskhost_sdk::directive::ParamType::Any));
    }
}
