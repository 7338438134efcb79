//! libtaskotron's `exitcode` directive: sets runtask's exit code from
//! results. 0 when the outcome(s) are PASSED or INFO, 100 otherwise; over
//! several `exitcode` actions the worst code wins.
//!
//! `result_worst` looks at every result, `result_last` only at the last
//! one. No results at all is 0.

use serde::Deserialize;
use serde_json::Value;
use taskhost_sdk::directive::{Context, Directive, DirectiveParams, Output};
use taskhost_sdk::resultyaml::{self, CheckDetail};
use taskhost_sdk::{Error, Result};

// ---- params -----------------------------------------------------------

#[derive(Debug, Deserialize, DirectiveParams)]
pub struct Params {
    /// ResultYAML text (e.g. what xunit exported) or a task action's export: the last result decides
    pub result_last: Option<Value>,
    /// ResultYAML text (e.g. what xunit exported) or a task action's export: the worst result decides
    pub result_worst: Option<Value>,
}

/// runtask's exit codes.
pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 100;

pub struct Exitcode;

impl Directive for Exitcode {
    type Params = Params;
    const NAME: &'static str = "exitcode";
    const SUMMARY: &'static str = "Sets runtask's exit code: 0 when results passed, 100 otherwise";
    const RETURNS: &'static str = "nothing";
    const RAISES: &'static str =
        "unless exactly one of result_last and result_worst is given, or on bad ResultYAML";

    fn run(p: Params, _: &Context) -> Result<Output> {
        let code = match (&p.result_last, &p.result_worst) {
            (Some(v), None) => last_code(&resultyaml::parse_param("result_last", v)?),
            (None, Some(v)) => worst_code(&resultyaml::parse_param("result_worst", v)?),
            _ => {
                return Err(Error::invalid(
                    "exitcode takes exactly one of the params `result_last` and `result_worst`",
                ));
            }
        };
        Ok(Output::none().with_exit_code(code))
    }
}

// ---- codes ------------------------------------------------------------

/// 0 when every result is PASSED or INFO.
pub fn worst_code(details: &[CheckDetail]) -> u8 {
    match resultyaml::worst(details) {
        Some(o) if !o.is_ok() => FAILURE,
        _ => SUCCESS,
    }
}

/// 0 when the last result is PASSED or INFO.
pub fn last_code(details: &[CheckDetail]) -> u8 {
    match details.last() {
        Some(d) if !d.outcome.is_ok() => FAILURE,
        _ => SUCCESS,
    }
}

taskhost_sdk::export_directive!(Exitcode, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use taskhost_sdk::Outcome;

    fn d(o: Outcome) -> CheckDetail {
        CheckDetail::new("i", "t", "c", o)
    }

    #[test]
    fn worst_fails_on_any_bad_outcome() {
        assert_eq!(worst_code(&[]), SUCCESS);
        assert_eq!(worst_code(&[d(Outcome::Passed), d(Outcome::Info)]), SUCCESS);
        for bad in [
            Outcome::Failed,
            Outcome::NeedsInspection,
            Outcome::Aborted,
            Outcome::Crashed,
        ] {
            assert_eq!(
                worst_code(&[d(Outcome::Passed), d(bad), d(Outcome::Info)]),
                FAILURE
            );
        }
    }

    #[test]
    fn last_looks_at_the_last_result_only() {
        assert_eq!(last_code(&[]), SUCCESS);
        assert_eq!(
            last_code(&[d(Outcome::Failed), d(Outcome::Passed)]),
            SUCCESS
        );
        assert_eq!(
            last_code(&[d(Outcome::Passed), d(Outcome::Failed)]),
            FAILURE
        );
    }

    #[test]
    fn exactly_one_param() {
        let c = Context {
            workdir: ".".into(),
            artifactsdir: "artifacts".into(),
            checkname: "c".into(),
            namespace: String::new(),
            item: "i".into(),
            item_type: "t".into(),
            arch: "noarch".into(),
            jobid: "-1".into(),
            uuid: "u".into(),
        };
        let text = Value::from("results: []\n");
        for p in [
            Params {
                result_last: None,
                result_worst: None,
            },
            Params {
                result_last: Some(text.clone()),
                result_worst: Some(text.clone()),
            },
        ] {
            let e = Exitcode::run(p, &c).unwrap_err();
            assert!(
                matches!(&e, Error::Invalid(m) if m.contains("exactly one")),
                "{e:?}"
            );
        }
        let out = Exitcode::run(
            Params {
                result_last: None,
                result_worst: Some(text),
            },
            &c,
        )
        .unwrap();
        assert_eq!(out.exit_code, Some(SUCCESS));
        let failed = Value::from("results:\n- {outcome: FAILED}\n");
        let out = Exitcode::run(
            Params {
                result_last: Some(failed),
                result_worst: None,
            },
            &c,
        )
        .unwrap();
        assert_eq!(out.exit_code, Some(FAILURE));
    }
}
