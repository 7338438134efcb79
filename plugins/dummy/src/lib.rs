//! libtaskotron's `dummy` directive, for trying formulas out.
//!
//! `result: FAIL` fails the action. Otherwise it returns `msg` when given,
//! and without `msg` one result with outcome `result` for the run's item,
//! as ResultYAML (so `exitcode` and `resultsdb` can be tried on it).

use serde::Deserialize;
use taskhost_sdk::Outcome;
use taskhost_sdk::directive::{Context, Directive, Output, Param, ParamType};
use taskhost_sdk::resultyaml::{self, CheckDetail};
use taskhost_sdk::{Error, Result};

// ---- params -----------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Params {
    pub result: String,
    #[serde(default)]
    pub msg: Option<String>,
}

/// The value of `result` that fails the action.
pub const FAIL: &str = "FAIL";

pub struct Dummy;

impl Directive for Dummy {
    type Params = Params;
    const NAME: &'static str = "dummy";
    const SUMMARY: &'static str = "Does nothing: returns its message, or fails on request";
    const RETURNS: &'static str =
        "`msg` when given, else ResultYAML with one result of outcome `result`";
    const RAISES: &'static str = "when `result` is FAIL";

    fn params() -> Vec<Param> {
        let mut choices: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        choices.push(FAIL);
        vec![
            Param::optional(
                "result",
                ParamType::String,
                "PASSED",
                "an outcome, or FAIL to fail the action",
            )
            .choices(&choices),
            Param::optional_without_default("msg", ParamType::String, "what to return"),
        ]
    }

    fn run(p: Params, c: &Context) -> Result<Output> {
        if p.result == FAIL {
            let why = p.msg.map(|m| format!(": {m}")).unwrap_or_default();
            return Err(Error::failed(format!(
                "dummy was asked to fail (result: FAIL){why}"
            )));
        }
        if let Some(msg) = p.msg {
            return Ok(Output::value(msg));
        }
        let outcome: Outcome = p
            .result
            .parse()
            .map_err(|e| Error::invalid(format!("param `result`: {e}")))?;
        let detail = CheckDetail::new(
            c.item.as_str(),
            c.item_type.as_str(),
            c.checkname.as_str(),
            outcome,
        );
        Ok(Output::value(resultyaml::to_string(&[detail])?))
    }
}

taskhost_sdk::export_directive!(Dummy, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;

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

    fn run(result: &str, msg: Option<&str>) -> Result<Output> {
        Dummy::run(
            Params {
                result: result.into(),
                msg: msg.map(String::from),
            },
            &context(),
        )
    }

    #[test]
    fn returns_the_message() {
        assert_eq!(run("PASSED", Some("hi")).unwrap().value, "\"hi\"");
        assert_eq!(run("FAILED", Some("hi")).unwrap().exit_code, None);
    }

    #[test]
    fn without_a_message_returns_one_result() {
        let out = run("FAILED", None).unwrap();
        let text: String = serde_json::from_str(&out.value).unwrap();
        let d = resultyaml::parse(&text).unwrap();
        assert_eq!(
            d,
            vec![CheckDetail::new(
                "foo-1.0-1.fc40",
                "koji_build",
                "demo",
                Outcome::Failed
            )]
        );
    }

    #[test]
    fn fail_fails_with_the_message() {
        let e = run("FAIL", Some("on purpose")).unwrap_err();
        assert!(
            matches!(&e, Error::Failed(m) if m == "dummy was asked to fail (result: FAIL): on purpose")
        );
    }

    #[test]
    fn choices_are_the_outcomes_and_fail() {
        let p = &Dummy::params()[0];
        assert_eq!(p.choices.len(), 7);
        assert_eq!(p.default.as_deref(), Some("\"PASSED\""));
    }
}
