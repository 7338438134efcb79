//! Taskotron's ResultYAML: what `xunit` and `dummy` return, and what
//! `resultsdb` and `exitcode` read.
//!
//! ```yaml
//! results:
//!   - item: xchat-0.5-1.fc20
//!     type: koji_build
//!     outcome: PASSED
//!     note: 5 ERRORS, 10 WARNINGS
//!     checkname: dist.rpmlint
//!     artifact: xchat.log
//!     any_key: value        # a keyval: every other key, flattened
//! ```
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

use crate::Outcome;
use crate::results::CheckResult;
use serde_norway::{Mapping, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Keys with a meaning of their own; every other key of a result is a
/// keyval.
pub const RESERVED_KEYS: [&str; 8] = [
    "item",
    "type",
    "outcome",
    "note",
    "results",
    "checkname",
    "artifact",
    "_internal",
];

impl Outcome {
    /// Every outcome, best to worst (the order of `Ord`).
    pub const ALL: [Outcome; 6] = [
        Outcome::Passed,
        Outcome::Info,
        Outcome::Failed,
        Outcome::NeedsInspection,
        Outcome::Aborted,
        Outcome::Crashed,
    ];

    /// The ResultYAML name, e.g. `NEEDS_INSPECTION`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "PASSED",
            Outcome::Info => "INFO",
            Outcome::Failed => "FAILED",
            Outcome::NeedsInspection => "NEEDS_INSPECTION",
            Outcome::Aborted => "ABORTED",
            Outcome::Crashed => "CRASHED",
        }
    }

    /// `PASSED` and `INFO`: nothing for a person to look at.
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Passed | Outcome::Info)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = ParseError;

    /// The exact upper-case name; anything else is an error naming it and
    /// listing the valid ones.
    fn from_str(s: &str) -> Result<Outcome, ParseError> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                let valid: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
                ParseError(format!(
                    "unknown outcome '{s}' (valid: {})",
                    valid.join(", ")
                ))
            })
    }
}

/// One entry of `results:` (libtaskotron's `CheckDetail`).
///
/// `item`, `type` and `checkname` may be absent when reading; `resultsdb`
/// insists on them, `exitcode` does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckDetail {
    pub item: Option<String>,
    /// `type` in YAML, e.g. `koji_build`.
    pub item_type: Option<String>,
    /// An unset outcome reads as `NEEDS_INSPECTION`.
    pub outcome: Outcome,
    pub checkname: Option<String>,
    pub note: Option<String>,
    /// Where the details are, relative to the artifacts directory.
    pub artifact: Option<String>,
    /// Every non-reserved key, as text.
    pub keyvals: BTreeMap<String, String>,
}

impl CheckDetail {
    /// A result of `checkname` for `item` of type `item_type`.
    pub fn new(
        item: impl Into<String>,
        item_type: impl Into<String>,
        checkname: impl Into<String>,
        outcome: Outcome,
    ) -> CheckDetail {
        CheckDetail {
            item: Some(item.into()),
            item_type: Some(item_type.into()),
            outcome,
            checkname: Some(checkname.into()),
            note: None,
            artifact: None,
            keyvals: BTreeMap::new(),
        }
    }

    /// A short summary such as `3 PASSED, 1 FAILED`.
    pub fn note(mut self, note: impl Into<String>) -> CheckDetail {
        self.note = Some(note.into());
        self
    }

    pub fn artifact(mut self, artifact: impl Into<String>) -> CheckDetail {
        self.artifact = Some(artifact.into());
        self
    }

    /// An extra key; a reserved one is refused by [`to_string`].
    pub fn keyval(mut self, key: impl Into<String>, value: impl Into<String>) -> CheckDetail {
        self.keyvals.insert(key.into(), value.into());
        self
    }

    /// The result for [`CheckResult::emit`]; it needs an item and a type.
    pub fn to_check_result(&self) -> crate::Result<CheckResult> {
        let (Some(item), Some(item_type)) = (&self.item, &self.item_type) else {
            return Err(crate::Error::invalid(
                "a result needs `item` and `type` to be recorded in the run's report",
            ));
        };
        let mut r = CheckResult::new(item.as_str(), item_type.as_str(), self.outcome);
        if let Some(c) = &self.checkname {
            r = r.checkname(c.as_str());
        }
        if let Some(n) = &self.note {
            r = r.note(n.as_str());
        }
        if let Some(a) = &self.artifact {
            r = r.artifact(a.as_str());
        }
        for (k, v) in &self.keyvals {
            r = r.keyval(k.as_str(), v);
        }
        Ok(r)
    }
}

/// ResultYAML that could not be read or written; the message says where
/// (`results[2].outcome: ...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for crate::Error {
    fn from(e: ParseError) -> crate::Error {
        crate::Error::Invalid(format!("ResultYAML: {e}"))
    }
}

/// The worst outcome of `details` (`None` when there are none).
pub fn worst(details: &[CheckDetail]) -> Option<Outcome> {
    details.iter().map(|d| d.outcome).max()
}

/// Reads ResultYAML: a mapping whose `results:` key holds a list (null or
/// empty: no results). Other top-level keys, and `_internal` and
/// `results` inside a result, are ignored. Keyvals must be scalars;
/// numbers and booleans become text, null becomes "".
pub fn parse(text: &str) -> Result<Vec<CheckDetail>, ParseError> {
    let doc: Value =
        serde_norway::from_str(text).map_err(|e| ParseError(format!("not valid YAML: {e}")))?;
    let top = match untag(&doc) {
        Value::Mapping(m) => m,
        Value::Null => {
            return Err(ParseError(
                "the document is empty; ResultYAML is a mapping with a `results:` list".into(),
            ));
        }
        _ => {
            return Err(ParseError(
                "the top level must be a mapping with a `results:` list".into(),
            ));
        }
    };
    let list = match top.get("results").map(untag) {
        None => return Err(ParseError("there is no top-level `results:` key".into())),
        Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Sequence(list)) => list,
        Some(_) => return Err(ParseError("`results` must be a list of results".into())),
    };
    list.iter()
        .enumerate()
        .map(|(index, v)| parse_one(index, v))
        .collect()
}

/// Reads the ResultYAML a directive param holds: ResultYAML text (what
/// `xunit` returns), or a task action's export, whose `results` key holds
/// that text. Errors name `param`.
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

fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

/// A scalar as text (`None` for null), or what it is instead.
fn scalar(v: &Value) -> Result<Option<String>, &'static str> {
    match untag(v) {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Sequence(_) => Err("a list"),
        Value::Mapping(_) => Err("a mapping"),
        Value::Tagged(_) => Err("a tagged value"),
    }
}

fn parse_one(index: usize, v: &Value) -> Result<CheckDetail, ParseError> {
    let Value::Mapping(m) = untag(v) else {
        return Err(ParseError(format!(
            "results[{index}] must be a mapping (item, type, outcome, ...)"
        )));
    };
    let mut d = CheckDetail {
        item: None,
        item_type: None,
        outcome: Outcome::NeedsInspection,
        checkname: None,
        note: None,
        artifact: None,
        keyvals: BTreeMap::new(),
    };
    for (k, v) in m {
        let Ok(Some(key)) = scalar(k) else {
            return Err(ParseError(format!("results[{index}]: keys must be text")));
        };
        if key == "_internal" || key == "results" {
            continue;
        }
        let value = scalar(v).map_err(|what| {
            ParseError(format!(
                "results[{index}].{key}: expected text, a number or a boolean, found {what}"
            ))
        })?;
        match key.as_str() {
            "item" => d.item = value,
            "type" => d.item_type = value,
            "checkname" => d.checkname = value,
            "note" => d.note = value,
            "artifact" => d.artifact = value,
            "outcome" => {
                if let Some(o) = value {
                    d.outcome = o
                        .parse()
                        .map_err(|e| ParseError(format!("results[{index}].outcome: {e}")))?;
                }
            }
            _ => _ = d.keyvals.insert(key, value.unwrap_or_default()),
        }
    }
    Ok(d)
}

/// Writes ResultYAML. Keys come in libtaskotron's order (item, type,
/// outcome, note, checkname, artifact), then the keyvals; absent ones are
/// left out. A keyval named like a reserved key is an error.
pub fn to_string(details: &[CheckDetail]) -> Result<String, ParseError> {
    let mut list = Vec::with_capacity(details.len());
    for (index, d) in details.iter().enumerate() {
        let mut m = Mapping::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                m.insert(Value::String(k.to_string()), Value::String(v.to_string()));
            }
        };
        put("item", d.item.as_deref());
        put("type", d.item_type.as_deref());
        put("outcome", Some(d.outcome.as_str()));
        put("note", d.note.as_deref());
        put("checkname", d.checkname.as_deref());
        put("artifact", d.artifact.as_deref());
        for (k, v) in &d.keyvals {
            if RESERVED_KEYS.contains(&k.as_str()) {
                return Err(ParseError(format!(
                    "results[{index}]: the keyval '{k}' has the name of a reserved ResultYAML key; rename it"
                )));
            }
            put(k, Some(v));
        }
        list.push(Value::Mapping(m));
    }
    let mut top = Mapping::new();
    top.insert(Value::String("results".into()), Value::Sequence(list));
    serde_norway::to_string(&Value::Mapping(top))
        .map_err(|e| ParseError(format!("writing YAML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(outcome: Outcome) -> CheckDetail {
        CheckDetail::new("xchat-0.5-1.fc20", "koji_build", "dist.rpmlint", outcome)
    }

    #[test]
    fn outcomes_are_ordered_best_to_worst() {
        let mut shuffled = [
            Outcome::Crashed,
            Outcome::Info,
            Outcome::Aborted,
            Outcome::Passed,
            Outcome::NeedsInspection,
            Outcome::Failed,
        ];
        shuffled.sort();
        assert_eq!(shuffled, Outcome::ALL);
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
            assert_eq!(o.to_string(), o.as_str());
        }
        assert!(Outcome::Info.is_ok() && !Outcome::Failed.is_ok());
    }

    #[test]
    fn round_trip_keeps_every_field_and_keyval() {
        let a = detail(Outcome::Failed)
            .note("5 ERRORS, 10 WARNINGS")
            .artifact("xchat.log")
            .keyval("any_key", "value")
            .keyval("count", "12")
            .keyval("multi", "line one\nline: two");
        let mut b = detail(Outcome::Passed).keyval("empty", "");
        b.item = Some("yes".into()); // must stay text, not a boolean
        let text = to_string(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(parse(&text).unwrap(), vec![a, b]);
    }

    #[test]
    fn output_has_the_libtaskotron_shape() {
        let text = to_string(&[detail(Outcome::Passed)
            .note("5 ERRORS, 10 WARNINGS")
            .keyval("any_key", "value")])
        .unwrap();
        assert_eq!(
            text,
            "results:\n\
             - item: xchat-0.5-1.fc20\n  \
               type: koji_build\n  \
               outcome: PASSED\n  \
               note: 5 ERRORS, 10 WARNINGS\n  \
               checkname: dist.rpmlint\n  \
               any_key: value\n"
        );
    }

    #[test]
    fn absent_keys_are_left_out_and_read_back_as_absent() {
        let d = CheckDetail {
            item: None,
            item_type: None,
            checkname: None,
            ..detail(Outcome::Info)
        };
        let text = to_string(std::slice::from_ref(&d)).unwrap();
        assert_eq!(text, "results:\n- outcome: INFO\n");
        assert_eq!(parse(&text).unwrap(), vec![d]);
    }

    #[test]
    fn keyvals_are_flattened_and_scalars_become_text() {
        let text = "results:\n- item: 1.0\n  type: t\n  checkname: c\n  outcome: INFO\n  \
            n: 42\n  f: 1.5\n  b: true\n  z: ~\n  _internal: {x: 1}\n  results: [1]\n";
        let d = &parse(text).unwrap()[0];
        assert_eq!(d.item.as_deref(), Some("1.0"));
        let kv: Vec<(&str, &str)> = d
            .keyvals
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(kv, [("b", "true"), ("f", "1.5"), ("n", "42"), ("z", "")]);
    }

    #[test]
    fn unset_outcome_reads_as_needs_inspection() {
        let d = parse("results:\n- item: a\n- {item: b, outcome: null}\n").unwrap();
        assert_eq!(d[0].outcome, Outcome::NeedsInspection);
        assert_eq!(d[1].outcome, Outcome::NeedsInspection);
    }

    #[test]
    fn unknown_outcome_is_an_error_naming_it_and_the_valid_ones() {
        let e = parse("results:\n- {outcome: PASSED}\n- {item: a, outcome: passed}\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "results[1].outcome: unknown outcome 'passed' \
             (valid: PASSED, INFO, FAILED, NEEDS_INSPECTION, ABORTED, CRASHED)"
        );
        let e = parse("results:\n- {outcome: WAIVED}\n").unwrap_err();
        assert!(e.0.contains("'WAIVED'"), "{e}");
    }

    #[test]
    fn worst_takes_the_worst_outcome() {
        assert_eq!(worst(&[]), None);
        let d = [
            detail(Outcome::Info),
            detail(Outcome::Aborted),
            detail(Outcome::Failed),
        ];
        assert_eq!(worst(&d), Some(Outcome::Aborted));
    }

    #[test]
    fn empty_and_null_results_are_no_results() {
        assert_eq!(parse("results: []\n").unwrap(), vec![]);
        assert_eq!(parse("results:\n").unwrap(), vec![]);
        assert_eq!(parse(&to_string(&[]).unwrap()).unwrap(), vec![]);
        assert_eq!(parse("other: 1\nresults: []\n").unwrap(), vec![]);
    }

    #[test]
    fn bad_documents_say_what_is_wrong() {
        let cases = [
            ("", "the document is empty"),
            ("- a\n", "the top level must be a mapping"),
            ("other: 1\n", "no top-level `results:` key"),
            ("results: 3\n", "`results` must be a list"),
            ("results:\n- just text\n", "results[0] must be a mapping"),
            (
                "results:\n- {item: a, k: [1, 2]}\n",
                "results[0].k: expected text",
            ),
            (
                "results:\n- {item: {a: 1}}\n",
                "results[0].item: expected text",
            ),
            ("results:\n- {[a]: 1}\n", "results[0]: keys must be text"),
            ("results:\n  - item: [unclosed\n", "not valid YAML"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.to_string().contains(want), "{text:?}: {e}");
        }
        let e = parse("results:\n  - item: a\n    type: [unclosed\n").unwrap_err();
        assert!(e.0.contains("line "), "{e}");
    }

    #[test]
    fn reserved_keyvals_are_refused_with_their_name() {
        for key in RESERVED_KEYS {
            let d = detail(Outcome::Passed).keyval(key, "x");
            let e = to_string(&[detail(Outcome::Passed), d]).unwrap_err();
            assert!(e.0.starts_with("results[1]:"), "{e}");
            assert!(e.0.contains(&format!("'{key}'")), "{e}");
        }
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
        assert_eq!(
            msg(serde_json::json!("results:\n- {outcome: BAD}\n")),
            "param `result_worst`: ResultYAML: results[0].outcome: unknown outcome 'BAD' \
             (valid: PASSED, INFO, FAILED, NEEDS_INSPECTION, ABORTED, CRASHED)"
        );
    }

    #[test]
    fn parse_errors_become_invalid_errors() {
        let e: crate::Error = parse("").unwrap_err().into();
        assert!(matches!(e, crate::Error::Invalid(m) if m.starts_with("ResultYAML: ")));
    }
}
