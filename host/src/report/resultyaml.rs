//! libtaskotron ResultYAML: a top-level `results:` list of mappings with
//! `item`, `type`, `outcome`, `note`, `checkname`, `artifact` and the
//! keyvals flattened beside them.

use std::collections::BTreeMap;

use serde_norway::{Mapping, Value};

use super::{CheckResult, Outcome, ReportError, is_reserved_key};

/// Writes `results` as ResultYAML. A keyval with a reserved key is an error.
///
/// Text that YAML 1.1 readers (PyYAML, so libtaskotron and its tools) take
/// for a boolean, such as `yes` or `off`, is written quoted.
pub fn to_string(results: &[CheckResult]) -> Result<String, ReportError> {
    let mut quoted = Quoted::new();
    let mut list = Vec::with_capacity(results.len());
    for (index, r) in results.iter().enumerate() {
        let mut m = Mapping::new();
        let mut put = |k: &str, v: &str| {
            m.insert(Value::String(quoted.mark(k)), Value::String(quoted.mark(v)));
        };
        put("item", &r.item);
        put("type", &r.item_type);
        put("outcome", r.outcome.as_str());
        if let Some(note) = &r.note {
            put("note", note);
        }
        put("checkname", &r.checkname);
        if let Some(artifact) = &r.artifact {
            put("artifact", artifact);
        }
        for (k, v) in &r.keyvals {
            if is_reserved_key(k) {
                return Err(ReportError::ReservedKey {
                    index,
                    key: k.clone(),
                });
            }
            put(k, v);
        }
        list.push(Value::Mapping(m));
    }
    let mut top = Mapping::new();
    top.insert(Value::String("results".into()), Value::Sequence(list));
    let text = serde_norway::to_string(&Value::Mapping(top)).map_err(ReportError::YamlWrite)?;
    Ok(quoted.apply(text))
}

/// serde_norway writes YAML 1.2, where `yes` is text and stays unquoted.
/// Such words are swapped for unique plain tokens before writing and for
/// their single-quoted form after.
struct Quoted {
    token: String,
    words: Vec<String>,
}

impl Quoted {
    fn new() -> Self {
        Quoted {
            token: format!("taskhostq{}n", uuid::Uuid::new_v4().simple()),
            words: Vec::new(),
        }
    }

    /// `s`, or a token standing for it when a YAML 1.1 reader would take
    /// it for a boolean.
    fn mark(&mut self, s: &str) -> String {
        const BOOLISH: &[&str] = &[
            "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off",
            "Off", "OFF",
        ];
        if !BOOLISH.contains(&s) {
            return s.to_owned();
        }
        self.words.push(s.to_owned());
        format!("{}{}x", self.token, self.words.len() - 1)
    }

    fn apply(&self, mut text: String) -> String {
        for (i, word) in self.words.iter().enumerate() {
            text = text.replace(&format!("{}{i}x", self.token), &format!("'{word}'"));
        }
        text
    }
}

/// Parses ResultYAML into results.
///
/// `results:` must be a list (null reads as empty). Missing `outcome` reads
/// as `NEEDS_INSPECTION`; scalar keyvals (numbers, bools) become strings and
/// null becomes `""`; `_internal` and `results` inside a result are ignored;
/// other top-level keys are ignored.
pub fn parse(text: &str) -> Result<Vec<CheckResult>, ReportError> {
    let doc: Value = serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        ReportError::YamlSyntax {
            line,
            column,
            message: e.to_string(),
        }
    })?;
    let top = match untag(&doc) {
        Value::Mapping(m) => m,
        Value::Null => return Err(structure("document is empty")),
        _ => {
            return Err(structure(
                "top level must be a mapping with a 'results' key",
            ));
        }
    };
    let list = match top.get("results").map(untag) {
        None => return Err(structure("missing top-level key 'results'")),
        Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Sequence(s)) => s,
        Some(_) => return Err(structure("'results' must be a list")),
    };
    list.iter()
        .enumerate()
        .map(|(index, v)| parse_one(index, v))
        .collect()
}

fn structure(msg: &str) -> ReportError {
    ReportError::Structure(msg.to_owned())
}

// Looks through YAML tags (`!foo value`).
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

// Scalar as string; `None` for null; `Err` for lists/mappings.
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

fn parse_one(index: usize, v: &Value) -> Result<CheckResult, ReportError> {
    let m = match untag(v) {
        Value::Mapping(m) => m,
        _ => {
            return Err(ReportError::InvalidValue {
                path: format!("results[{index}]"),
                message: "each result must be a mapping".into(),
            });
        }
    };
    let mut fields: BTreeMap<&'static str, Option<String>> = BTreeMap::new();
    let mut keyvals = BTreeMap::new();
    for (k, v) in m {
        let key = match scalar(k) {
            Ok(Some(k)) => k,
            _ => {
                return Err(ReportError::InvalidValue {
                    path: format!("results[{index}]"),
                    message: "keys must be strings".into(),
                });
            }
        };
        if matches!(key.as_str(), "_internal" | "results") {
            continue; // reserved, not ours to read
        }
        let value = scalar(v).map_err(|what| ReportError::InvalidValue {
            path: format!("results[{index}].{key}"),
            message: format!("expected a string, found {what}"),
        })?;
        match key.as_str() {
            "item" => _ = fields.insert("item", value),
            "type" => _ = fields.insert("type", value),
            "outcome" => _ = fields.insert("outcome", value),
            "note" => _ = fields.insert("note", value),
            "checkname" => _ = fields.insert("checkname", value),
            "artifact" => _ = fields.insert("artifact", value),
            _ => _ = keyvals.insert(key, value.unwrap_or_default()),
        }
    }
    let mut take = |key: &'static str| fields.remove(key).flatten();
    let mut required = |key: &'static str| take(key).ok_or(ReportError::MissingKey { index, key });
    let item = required("item")?;
    let item_type = required("type")?;
    let checkname = required("checkname")?;
    let outcome = match take("outcome") {
        None => Outcome::NeedsInspection,
        Some(s) => s
            .parse()
            .map_err(|source| ReportError::Outcome { index, source })?,
    };
    Ok(CheckResult {
        item,
        item_type,
        outcome,
        checkname,
        note: take("note"),
        artifact: take("artifact"),
        keyvals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::result;

    #[test]
    fn yaml_1_1_booleans_are_quoted_and_read_back_as_text() {
        let mut r = result(Outcome::Passed);
        r.note = Some("yes".into());
        r.keyvals.insert("on".into(), "off".into());
        r.keyvals.insert("plain".into(), "no way".into());
        let text = to_string(std::slice::from_ref(&r)).expect("written");
        assert!(text.contains("note: 'yes'"), "{text}");
        assert!(text.contains("'on': 'off'"), "{text}");
        assert!(text.contains("plain: no way"), "{text}");
        assert!(!text.contains("taskhostq"), "{text}");
        assert_eq!(parse(&text).expect("read back"), vec![r]);
    }

    #[test]
    fn round_trip_keeps_every_field_and_keyval() {
        let mut a = result(Outcome::Failed);
        a.note = Some("5 ERRORS, 10 WARNINGS".into());
        a.artifact = Some("xchat.log".into());
        a.keyvals.insert("any_key".into(), "value".into());
        a.keyvals.insert("count".into(), "12".into());
        a.keyvals
            .insert("multi".into(), "line one\nline: two".into());
        let mut b = result(Outcome::Passed);
        b.item = "yes".into(); // must stay a string, not a bool
        b.keyvals.insert("empty".into(), "".into());
        let text = to_string(&[a.clone(), b.clone()]).expect("write");
        assert_eq!(parse(&text).expect("parse"), vec![a, b]);
    }

    #[test]
    fn output_has_the_libtaskotron_shape() {
        let mut a = result(Outcome::Passed);
        a.note = Some("5 ERRORS, 10 WARNINGS".into());
        a.keyvals.insert("any_key".into(), "value".into());
        let text = to_string(&[a]).expect("write");
        assert!(text.starts_with("results:\n"), "{text}");
        for line in [
            "item: xchat-0.5-1.fc20",
            "type: koji_build",
            "outcome: PASSED",
            "note: 5 ERRORS, 10 WARNINGS",
            "checkname: dist.rpmlint",
            "any_key: value",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("artifact"));
        assert!(!text.contains("keyvals"));
    }

    #[test]
    fn empty_results_round_trip() {
        let text = to_string(&[]).expect("write");
        assert_eq!(parse(&text).expect("parse"), vec![]);
        assert_eq!(parse("results:\n").expect("parse"), vec![]);
    }

    #[test]
    fn reserved_keyval_is_refused_with_its_name() {
        for key in ["type", "_internal", "results"] {
            let mut a = result(Outcome::Passed);
            a.keyvals.insert(key.into(), "x".into());
            let err = to_string(&[result(Outcome::Passed), a]).expect_err("reserved");
            assert!(matches!(&err, ReportError::ReservedKey { index: 1, key: k } if k == key));
            assert!(err.to_string().contains(&format!("'{key}'")), "{err}");
        }
    }

    #[test]
    fn missing_outcome_reads_as_needs_inspection() {
        let r = parse("results:\n  - item: a\n    type: t\n    checkname: c\n").expect("parse");
        assert_eq!(r[0].outcome, Outcome::NeedsInspection);
        let r = parse("results:\n  - {item: a, type: t, checkname: c, outcome: null}\n")
            .expect("parse");
        assert_eq!(r[0].outcome, Outcome::NeedsInspection);
    }

    #[test]
    fn unknown_outcome_error_lists_the_valid_ones() {
        let err = parse("results:\n  - {item: a, type: t, checkname: c, outcome: WAIVED}\n")
            .expect_err("unknown");
        let msg = err.to_string();
        assert!(msg.contains("results[0]"), "{msg}");
        assert!(msg.contains("WAIVED"), "{msg}");
        for o in Outcome::ALL {
            assert!(msg.contains(o.as_str()), "{msg}");
        }
    }

    #[test]
    fn missing_checkname_error_names_the_index_and_key() {
        let text = "results:\n\
            - {item: a, type: t, checkname: c}\n\
            - {item: b, type: t, checkname: c}\n\
            - {item: c, type: t, outcome: PASSED}\n";
        let err = parse(text).expect_err("missing");
        assert_eq!(err.to_string(), "results[2]: missing key 'checkname'");
        let err = parse("results:\n- {type: t, checkname: c}\n").expect_err("missing");
        assert_eq!(err.to_string(), "results[0]: missing key 'item'");
        let err = parse("results:\n- {item: ~, type: t, checkname: c}\n").expect_err("null");
        assert_eq!(err.to_string(), "results[0]: missing key 'item'");
    }

    #[test]
    fn yaml_syntax_error_reports_line_and_column() {
        let text = "results:\n  - item: a\n    type: [unclosed\n    checkname: c\n";
        let err = parse(text).expect_err("syntax");
        match &err {
            ReportError::YamlSyntax { line, .. } => assert!(*line >= 3, "{err}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("line "), "{err}");
    }

    #[test]
    fn non_string_keyvals_are_rendered_as_strings() {
        let text = "results:\n- item: 1.0\n  type: t\n  checkname: c\n  outcome: INFO\n  \
            n: 42\n  f: 1.5\n  b: true\n  z: ~\n  _internal: {x: 1}\n";
        let r = parse(text).expect("parse");
        let kv = &r[0].keyvals;
        assert_eq!(r[0].item, "1.0");
        assert_eq!(kv["n"], "42");
        assert_eq!(kv["f"], "1.5");
        assert_eq!(kv["b"], "true");
        assert_eq!(kv["z"], "");
        assert!(!kv.contains_key("_internal"));
    }

    #[test]
    fn nested_values_and_bad_documents_are_errors() {
        let err =
            parse("results:\n- {item: a, type: t, checkname: c, k: [1, 2]}\n").expect_err("list");
        assert!(err.to_string().contains("results[0].k"), "{err}");
        assert!(matches!(parse(""), Err(ReportError::Structure(_))));
        assert!(matches!(parse("- a\n"), Err(ReportError::Structure(_))));
        assert!(matches!(
            parse("other: 1\n"),
            Err(ReportError::Structure(_))
        ));
        assert!(matches!(
            parse("results: 3\n"),
            Err(ReportError::Structure(_))
        ));
        assert!(parse("results:\n- just a string\n").is_err());
    }
}
