//! libtaskotron ResultYAML of a report's results, written by the
//! `taskhost-resultyaml` crate that the SDK shares.

use taskhost_resultyaml::{CheckDetail, Value};

use super::{CheckResult, ReportError};

/// Writes `results` as ResultYAML. A keyval with a reserved key is an error.
///
/// Text that YAML 1.1 readers (PyYAML, so libtaskotron and its tools) take
/// for something else, such as `yes` or `2020-01-01`, is written quoted.
pub fn to_string(results: &[CheckResult]) -> Result<String, ReportError> {
    let details: Vec<CheckDetail> = results.iter().map(detail).collect();
    Ok(taskhost_resultyaml::to_string(&details)?)
}

/// The ResultYAML entry of one result.
pub fn detail(r: &CheckResult) -> CheckDetail {
    CheckDetail {
        item: Some(r.item.clone()),
        item_type: Some(r.item_type.clone()),
        outcome: r.outcome,
        note: r.note.clone(),
        checkname: Some(r.checkname.clone()),
        artifact: r.artifact.clone(),
        keyvals: r
            .keyvals
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;
    use crate::report::tests::result;

    fn read_back(text: &str) -> Vec<CheckDetail> {
        taskhost_resultyaml::parse(text).expect("read back")
    }

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
        assert_eq!(read_back(&text), vec![detail(&r)]);
    }

    #[test]
    fn round_trip_keeps_every_field_and_keyval() {
        let mut a = result(Outcome::Failed);
        a.note = Some("5 ERRORS, 10 WARNINGS".into());
        a.artifact = Some("xchat.log".into());
        a.keyvals.insert("count".into(), "12".into());
        a.keyvals
            .insert("multi".into(), "line one\nline: two".into());
        let b = result(Outcome::Passed);
        let text = to_string(&[a.clone(), b.clone()]).expect("write");
        assert_eq!(read_back(&text), vec![detail(&a), detail(&b)]);
        // "12" stays text: numbers from the WIT are strings.
        assert!(text.contains("count: '12'"), "{text}");
    }

    #[test]
    fn reserved_keyval_is_refused_with_its_name() {
        for key in ["type", "_internal", "results"] {
            let mut a = result(Outcome::Passed);
            a.keyvals.insert(key.into(), "x".into());
            let err = to_string(&[result(Outcome::Passed), a]).expect_err("reserved");
            assert!(err.to_string().starts_with("results[1]:"), "{err}");
            assert!(err.to_string().contains(&format!("'{key}'")), "{err}");
        }
    }
}
