use super::*;
use serde_json::json;

fn detail(outcome: Outcome) -> CheckDetail {
    CheckDetail::new("xchat-0.5-1.fc20", "koji_build", "dist.rpmlint", outcome)
}

#[test]
fn outcomes_are_ordered_best_to_worst_and_parse_by_name() {
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
        assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
    }
    assert!(Outcome::Info.is_ok() && !Outcome::Failed.is_ok());
    assert_eq!(
        "passed".parse::<Outcome>().unwrap_err().to_string(),
        "unknown outcome 'passed' (valid: PASSED, INFO, FAILED, NEEDS_INSPECTION, ABORTED, CRASHED)"
    );
}

#[test]
fn round_trip_keeps_every_field_and_keyval() {
    let a = detail(Outcome::Failed)
        .note("5 ERRORS, 10 WARNINGS")
        .artifact("xchat.log")
        .keyval("any_key", "value")
        .keyval("count", 12)
        .keyval("ratio", 0.5)
        .keyval("multi", "line one\nline: two")
        .keyval("list", json!(["a", 1, "yes"]))
        .keyval("map", json!({"on": "off", "n": [1, 2]}));
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
fn named_scalars_become_text_and_keyvals_keep_their_values() {
    let text = "results:\n- item: 1.0\n  type: t\n  checkname: 7\n  outcome: INFO\n  \
        n: 42\n  f: 1.5\n  b: true\n  z: ~\n  l: [a, 1]\n  m: {k: v}\n  \
        _internal: {x: 1}\n  results: [1]\n";
    let d = &parse(text).unwrap()[0];
    assert_eq!(d.item.as_deref(), Some("1.0"));
    assert_eq!(d.checkname.as_deref(), Some("7"));
    let kv = serde_json::to_value(&d.keyvals).unwrap();
    assert_eq!(
        kv,
        json!({"b": true, "f": 1.5, "l": ["a", 1], "m": {"k": "v"}, "n": 42, "z": null})
    );
    let text: Vec<(&str, String)> = d.text_keyvals().collect();
    assert_eq!(
        text,
        [
            ("b", "true".to_string()),
            ("f", "1.5".into()),
            ("l", r#"["a",1]"#.into()),
            ("m", r#"{"k":"v"}"#.into()),
            ("n", "42".into()),
            ("z", "".into()),
        ]
    );
}

#[test]
fn unset_outcome_reads_as_needs_inspection() {
    let d = parse("results:\n- item: a\n- {item: b, outcome: null}\n").unwrap();
    assert_eq!(d[0].outcome, Outcome::NeedsInspection);
    assert_eq!(d[1].outcome, Outcome::NeedsInspection);
}

#[test]
fn an_unknown_outcome_is_an_error_naming_the_place_and_the_valid_ones() {
    let e = parse("results:\n- {outcome: PASSED}\n- {item: a, outcome: passed}\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("results[1]: outcome: unknown outcome 'passed'"),
        "{e}"
    );
    for o in Outcome::ALL {
        assert!(e.contains(o.as_str()), "{e}");
    }
    assert!(e.contains("line 3"), "{e}");
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
    assert_eq!(parse("").unwrap_err(), Error::Empty);
    assert_eq!(parse(" \n").unwrap_err(), Error::Empty);
    let cases = [
        ("- a\n", "expected a mapping with a `results:` list"),
        ("other: 1\n", "missing field `results`"),
        ("results: 3\n", "results: invalid type"),
        ("results:\n- just text\n", "results[0]: invalid type"),
        (
            "results:\n- {item: {a: 1}}\n",
            "expected text, found a mapping",
        ),
        ("results:\n- {item: [a]}\n", "expected text, found a list"),
        ("results:\n  - item: [unclosed\n", "line 2"),
    ];
    for (text, want) in cases {
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("not valid ResultYAML: "), "{text:?}: {e}");
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn reserved_keyvals_are_refused_with_their_name() {
    for key in RESERVED_KEYS {
        let d = detail(Outcome::Passed).keyval(key, "x");
        let e = to_string(&[detail(Outcome::Passed), d]).unwrap_err();
        assert_eq!(
            e,
            Error::ReservedKey {
                index: 1,
                key: key.into()
            }
        );
        assert!(e.to_string().contains(&format!("'{key}'")), "{e}");
    }
}

/// Texts PyYAML (YAML 1.1) would read as something else unless quoted.
const TRICKY: &[&str] = &[
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "true",
    "null",
    "~",
    "",
    "=",
    "<<",
    "1_000",
    "0x1F",
    "017",
    "1:20",
    "2020-01-01",
    "2001-12-14t21:59:43.10-05:00",
    ".inf",
    "-.5",
    "+1",
    "1e3",
    "it's",
    "'quoted'",
    "a: b",
    "- x",
    "# c",
    "@at",
    "`tick",
    "%pct",
    "!tag",
    "&anchor",
    "*alias",
    "|",
    ">",
    "{x}",
    "[x]",
    "line\nbreak",
    "tab\there",
    "1'2",
    " lead",
    "trail ",
    "taskhostquoted0x",
];

#[test]
fn tricky_texts_survive_our_own_reader() {
    let d = TRICKY
        .iter()
        .enumerate()
        .fold(detail(Outcome::Passed), |d, (i, s)| {
            d.keyval(format!("k{i}"), *s).keyval(*s, i)
        });
    let text = to_string(std::slice::from_ref(&d)).unwrap();
    assert_eq!(parse(&text).unwrap(), vec![d], "{text}");
}

/// What libtaskotron's tools see: every text reads back as the same text
/// with PyYAML (`python3-yaml`, installed by `.ci/install-deps`).
#[test]
fn pyyaml_reads_every_text_back_as_that_text() {
    let mut d = detail(Outcome::Passed);
    for (i, s) in TRICKY.iter().enumerate() {
        d = d.keyval(format!("k{i}"), *s).keyval(*s, i);
    }
    d.item = Some("2020-01-01".into());
    d.note = Some("yes".into());
    d.keyvals
        .insert("list".into(), json!(["on", "1_0", {"off": "~"}]));
    let text = to_string(std::slice::from_ref(&d)).unwrap();
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml\nprint(json.dumps(yaml.safe_load(sys.stdin.read())))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 runs (installed by .ci/install-deps)");
    assert!(
        output.status.success(),
        "PyYAML could not read\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut want = serde_json::to_value(&d).unwrap();
    want["outcome"] = json!("PASSED");
    assert_eq!(read, json!({"results": [want]}), "{text}");
}

#[test]
fn many_quoted_texts_each_get_their_own_word_back() {
    // Tokens 1, 10, 100, ... must not be mistaken for each other.
    let details: Vec<CheckDetail> = (0..20_000)
        .map(|i| CheckDetail::new(format!("{i}"), "yes", "on", Outcome::Passed).keyval("off", "no"))
        .collect();
    let text = to_string(&details).unwrap();
    assert_eq!(parse(&text).unwrap(), details);
}
