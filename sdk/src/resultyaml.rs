//! Taskotron's ResultYAML: what `xunit` and `dummy` return, and what
//! `resultsdb` and `exitcode` read. The model lives in the
//! `taskhost-resultyaml` crate, which the host shares; this module
//! re-exports it and adds what plugins need on top.
//!
//! ```
//! use taskhost_sdk::Outcome;
//! use taskhost_sdk::resultyaml::{self, CheckDetail};
//!
//! let text = resultyaml::to_string(&[
//!     CheckDetail::new("xchat-0.5-1.fc20", "koji_build", "dist.rpmlint", Outcome::Failed)
//!         .note("5 ERRORS, 10 WARNINGS"),
//! ])?;
//! let details = resultyaml::parse(&text)?;
//! assert_eq!(resultyaml::worst(&details), Some(Outcome::Failed));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use taskhost_resultyaml::{
    CheckDetail, Error, RESERVED_KEYS, UnknownOutcome, Value, is_reserved_key, parse, to_string,
    worst,
};

/// A ResultYAML error is an [`crate::Error::Invalid`] starting with
/// `ResultYAML: `, so `?` works in plugin code.
impl From<Error> for crate::Error {
    fn from(e: Error) -> crate::Error {
        crate::Error::Invalid(format!("ResultYAML: {e}"))
    }
}

/// Reads the ResultYAML a directive param holds: ResultYAML text (what
/// `xunit` returns), or a task action's export, whose `results` key holds
/// that text. Anything else, or text that is not ResultYAML, is an
/// [`crate::Error::Invalid`] naming `param`.
///
/// ```
/// use serde_json::json;
/// use taskhost_sdk::resultyaml::parse_param;
///
/// let text = "results:\n- {item: x, type: koji_build, outcome: FAILED}\n";
/// let details = parse_param("results", &json!(text))?;
/// assert_eq!(details[0].outcome, taskhost_sdk::Outcome::Failed);
/// // A task action's export holds the same text under `results`.
/// let export = json!({"status": "failure", "results": text});
/// assert_eq!(parse_param("results", &export)?, details);
/// assert!(parse_param("results", &json!([1, 2])).is_err());
/// # Ok::<(), taskhost_sdk::Error>(())
/// ```
pub fn parse_param(param: &str, value: &serde_json::Value) -> crate::Result<Vec<CheckDetail>> {
    let text = match value {
        serde_json::Value::String(s) => s.as_str(),
        serde_json::Value::Object(m) => match m.get("results") {
            Some(serde_json::Value::String(s)) => s.as_str(),
            _ => {
                return Err(crate::Error::invalid(format!(
                    "param `{param}` is a mapping without ResultYAML text under `results`; \
                     give ResultYAML text or a task action's export"
                )));
            }
        },
        other => {
            let what = match other {
                serde_json::Value::Array(_) => "a list",
                serde_json::Value::Null => "nothing (null)",
                _ => "a number or a boolean",
            };
            return Err(crate::Error::invalid(format!(
                "param `{param}` must be ResultYAML text (e.g. what `xunit` exported) \
                 or a task action's export, not {what}"
            )));
        }
    };
    parse(text).map_err(|e| crate::Error::invalid(format!("param `{param}`: ResultYAML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;

    fn detail(outcome: Outcome) -> CheckDetail {
        CheckDetail::new("xchat-0.5-1.fc20", "koji_build", "dist.rpmlint", outcome)
    }

    #[test]
    fn params_hold_text_or_a_task_export() {
        let text = to_string(&[detail(Outcome::Failed)]).unwrap();
        let want = vec![detail(Outcome::Failed)];
        assert_eq!(parse_param("r", &serde_json::json!(text)).unwrap(), want);
        let export = serde_json::json!({"status": "success", "results": text});
        assert_eq!(parse_param("r", &export).unwrap(), want);

        let msg = |v: serde_json::Value| match parse_param("result_worst", &v).unwrap_err() {
            crate::Error::Invalid(m) => m,
            other => panic!("{other:?}"),
        };
        assert!(
            msg(serde_json::json!({"a": 1}))
                .starts_with("param `result_worst` is a mapping without")
        );
        assert!(msg(serde_json::json!([1])).ends_with("not a list"));
        let bad = msg(serde_json::json!("results:\n- {outcome: BAD}\n"));
        assert!(
            bad.starts_with("param `result_worst`: ResultYAML: not valid ResultYAML: results[0]"),
            "{bad}"
        );
        assert!(bad.contains("BAD"), "{bad}");
    }

    #[test]
    fn parse_errors_become_invalid_errors() {
        let e: crate::Error = parse("").unwrap_err().into();
        assert!(matches!(e, crate::Error::Invalid(m) if m.starts_with("ResultYAML: ")));
    }
}
