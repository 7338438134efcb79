//! The `xunit` directive against the SDK's fake host: the ResultYAML it
//! returns for real JUnit files, and each way it refuses a file or params.
//!
//! xunit reads a file the formula's earlier actions left in the workspace:
//! here, workspace files before the run.

use serde_json::{Value, json};
use taskhost_plugin_xunit::Xunit;
use taskhost_sdk::Outcome;
use taskhost_sdk::directive::{Context, DirectiveParams, Output, ParamType};
use taskhost_sdk::log::Level;
use taskhost_sdk::resultyaml::{self, CheckDetail};
use taskhost_sdk::testing::{FakeHost, Run, context};
use taskhost_sdk::{Error, Result};

/// Four test cases: a, c and d pass, b fails (the e2e tests' file).
const JUNIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="unit" tests="4">
    <testcase classname="demo" name="a"/>
    <testcase classname="demo" name="b"><failure message="expected 1, got 2">trace</failure></testcase>
    <testcase classname="demo" name="c"/>
    <testcase classname="demo" name="d"></testcase>
  </testsuite>
</testsuites>
"#;

/// What `pytest --junitxml` (pytest 8, junit_family xunit2) writes for a
/// pass, an assertion failure, a skip and a fixture error.
const PYTEST: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="0.052" timestamp="2026-11-23T12:00:00.123456+00:00" hostname="builder"><testcase classname="test_calc" name="test_adds" time="0.001" /><testcase classname="test_calc" name="test_divides" time="0.001"><failure message="assert 0.5 == 2&#10; +  where 0.5 = div(1, 2)">def test_divides():
&gt;       assert div(1, 2) == 2
E       assert 0.5 == 2
E        +  where 0.5 = div(1, 2)

test_calc.py:9: AssertionError</failure></testcase><testcase classname="test_calc" name="test_network" time="0.000"><skipped type="pytest.skip" message="needs network">/src/test_calc.py:12: needs network</skipped></testcase><testcase classname="test_calc" name="test_db" time="0.002"><error message="failed on setup with &quot;ConnectionRefusedError: [Errno 111] Connection refused&quot;">@pytest.fixture
    def db():
&gt;       return connect("localhost")
E       ConnectionRefusedError: [Errno 111] Connection refused

test_calc.py:16: ConnectionRefusedError</error></testcase></testsuite></testsuites>"#;

/// Runs xunit with `params` in `context`, the workspace holding `files`
/// (path, content).
fn xunit(files: &[(&str, &str)], params: Value, context: &Context) -> Run<Output> {
    files
        .iter()
        .fold(FakeHost::new(), |host, (path, content)| {
            host.workspace_file(path, *content)
        })
        .task_data(params)
        .run_directive::<Xunit>(context)
}

/// The results a run returned: its output is ResultYAML text (as a JSON
/// string), with no exit code of its own.
fn details(run: &Run<Output>) -> Vec<CheckDetail> {
    let output = run.status.as_ref().expect("xunit succeeded");
    assert_eq!(output.exit_code, None);
    let text: String = serde_json::from_str(&output.value).expect("a JSON string");
    resultyaml::parse(&text).expect("ResultYAML")
}

/// (checkname, outcome, note) of each result.
fn rows(details: &[CheckDetail]) -> Vec<(&str, Outcome, Option<&str>)> {
    details
        .iter()
        .map(|d| {
            (
                d.checkname.as_deref().unwrap_or_default(),
                d.outcome,
                d.note.as_deref(),
            )
        })
        .collect()
}

fn detail(
    item: &str,
    item_type: &str,
    checkname: &str,
    outcome: Outcome,
    note: &str,
    artifact: Option<&str>,
) -> CheckDetail {
    let d = CheckDetail::new(item, item_type, checkname, outcome).note(note);
    match artifact {
        Some(a) => d.artifact(a),
        None => d,
    }
}

fn assert_invalid(status: &Result<Output>, want: &str) {
    assert!(
        matches!(status, Err(Error::Invalid(m)) if m == want),
        "expected Invalid({want:?}), got {status:?}"
    );
}

#[test]
fn allpass_counts_the_outcomes_and_points_at_the_file_in_the_artifacts_dir() {
    let files = [("artifacts/junit.xml", JUNIT)];
    let file = "artifacts/junit.xml";
    let run = xunit(
        &files,
        json!({
            "item": "foo-1.0-1.fc40",
            "type": "koji_build",
            "checkname": "dist.unittests",
            "file": file,
            "aggregation": "allpass",
        }),
        &context(),
    );
    let text: String = serde_json::from_str(&run.status.as_ref().unwrap().value).unwrap();
    assert_eq!(
        text,
        "results:\n\
         - item: foo-1.0-1.fc40\n  \
           type: koji_build\n  \
           outcome: FAILED\n  \
           note: 3 PASSED, 1 FAILED\n  \
           checkname: dist.unittests\n  \
           artifact: junit.xml\n"
    );
    assert_eq!(
        details(&run),
        [detail(
            "foo-1.0-1.fc40",
            "koji_build",
            "dist.unittests",
            Outcome::Failed,
            "3 PASSED, 1 FAILED",
            Some("junit.xml")
        )]
    );
    assert_eq!(
        run.log,
        [(
            Level::Info,
            format!("{file}: 4 test case(s): 3 PASSED, 1 FAILED")
        )]
    );
    // A directive needs no capability: nothing else happened.
    assert!(run.commands.is_empty() && run.backends.is_empty() && run.urls.is_empty());
    assert!(run.artifacts.is_empty() && run.results.is_empty());
}

#[test]
fn allpass_passes_when_nothing_failed_and_takes_item_type_checkname_from_the_run() {
    let junit = r#"<testsuite name="unit" tests="3">
  <testcase name="a"/>
  <testcase name="b"><skipped message="not on this arch"/></testcase>
  <testcase name="c"><system-out>noise</system-out></testcase>
</testsuite>"#;
    // Outside the artifacts dir: no `artifact`.
    let files = [("junit.xml", junit)];
    let run = xunit(
        &files,
        json!({"file": "junit.xml", "aggregation": "allpass"}),
        &context(),
    );
    assert_eq!(
        details(&run),
        [detail(
            "item",
            "koji_build",
            "test",
            Outcome::Passed,
            "2 PASSED, 1 INFO",
            None
        )]
    );
}

#[test]
fn none_gives_one_result_per_pytest_case_with_the_first_line_of_its_message() {
    let files = [("artifacts/reports/pytest.xml", PYTEST)];
    let run = xunit(
        &files,
        json!({
            "item": "python-calc-1.2-1.fc40",
            "type": "koji_build",
            "checkname": "dist.pytest",
            "file": "artifacts/reports/pytest.xml",
            "aggregation": "none",
        }),
        &context(),
    );
    let details = details(&run);
    assert_eq!(
        rows(&details),
        [
            ("dist.pytest.test_adds", Outcome::Passed, None),
            (
                "dist.pytest.test_divides",
                Outcome::Failed,
                Some("assert 0.5 == 2")
            ),
            (
                "dist.pytest.test_network",
                Outcome::Info,
                Some("needs network")
            ),
            (
                "dist.pytest.test_db",
                Outcome::Failed,
                Some(
                    "failed on setup with \"ConnectionRefusedError: [Errno 111] Connection refused\""
                )
            ),
        ]
    );
    for d in &details {
        assert_eq!(d.item.as_deref(), Some("python-calc-1.2-1.fc40"));
        assert_eq!(d.item_type.as_deref(), Some("koji_build"));
        assert_eq!(d.artifact.as_deref(), Some("reports/pytest.xml"));
        assert!(d.keyvals.is_empty());
    }
    assert_eq!(
        run.log_text(Level::Info),
        format!(
            "{}: 4 test case(s): 1 PASSED, 1 INFO, 2 FAILED",
            "artifacts/reports/pytest.xml"
        )
    );
}

#[test]
fn none_names_each_case_after_the_run_s_checkname() {
    let files = [("artifacts/junit.xml", JUNIT)];
    let run = xunit(
        &files,
        json!({"file": "artifacts/junit.xml", "aggregation": "none"}),
        &Context {
            checkname: "unittests".into(),
            item: "foo-1.0-1.fc40".into(),
            item_type: "koji_build".into(),
            ..context()
        },
    );
    let details = details(&run);
    assert_eq!(
        rows(&details),
        [
            ("unittests.a", Outcome::Passed, None),
            ("unittests.b", Outcome::Failed, Some("expected 1, got 2")),
            ("unittests.c", Outcome::Passed, None),
            ("unittests.d", Outcome::Passed, None),
        ]
    );
    assert!(
        details
            .iter()
            .all(|d| d.item.as_deref() == Some("foo-1.0-1.fc40"))
    );
}

#[test]
fn a_file_without_test_cases_needs_inspection() {
    let files = [(
        "artifacts/empty.xml",
        "<?xml version=\"1.0\"?>\n<testsuites name=\"all\" tests=\"0\">\n  <testsuite name=\"unit\" tests=\"0\"/>\n</testsuites>\n",
    )];
    for aggregation in ["allpass", "none"] {
        let run = xunit(
            &files,
            json!({"file": "artifacts/empty.xml", "aggregation": aggregation}),
            &context(),
        );
        assert_eq!(
            details(&run),
            [detail(
                "item",
                "koji_build",
                "test",
                Outcome::NeedsInspection,
                "no test cases in the file",
                Some("empty.xml")
            )],
            "{aggregation}"
        );
        assert_eq!(
            run.log_text(Level::Info),
            format!("{}: 0 test case(s): ", "artifacts/empty.xml")
        );
    }
}

#[test]
fn an_absolute_path_is_refused_before_reading() {
    let absolute = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    assert!(
        std::path::Path::new(absolute).is_file(),
        "the file exists, and is still refused"
    );
    let run = xunit(
        &[],
        json!({"file": absolute, "aggregation": "allpass"}),
        &context(),
    );
    assert_invalid(
        &run.status,
        &format!(
            "param `file`: '{absolute}' is outside the workspace; give a workspace path \
             (relative to ${{workdir}}, e.g. ${{artifactsdir}}/junit.xml)"
        ),
    );
    assert!(run.log.is_empty());
}

#[test]
fn a_path_with_dot_dot_is_refused_naming_the_param_before_reading() {
    // Refused whether or not the path reaches a file: artifacts/../junit.xml
    // is the workspace's junit.xml.
    let files = [("junit.xml", JUNIT), ("artifacts/junit.xml", JUNIT)];
    for file in [
        "../junit.xml",
        "artifacts/../junit.xml",
        "./artifacts/../../artifacts/junit.xml",
        "artifacts/..",
    ] {
        let run = xunit(
            &files,
            json!({"file": file, "aggregation": "allpass"}),
            &context(),
        );
        assert_invalid(
            &run.status,
            &format!(
                "param `file`: '{file}' goes up with `..`; give a workspace path without it \
                 (relative to ${{workdir}}, e.g. ${{artifactsdir}}/junit.xml)"
            ),
        );
        assert!(run.log.is_empty(), "{file}");
    }
    // `..` inside a name is no `..` part.
    let run = xunit(
        &[("artifacts/a..b.xml", JUNIT)],
        json!({"file": "artifacts/a..b.xml", "aggregation": "allpass"}),
        &context(),
    );
    assert_eq!(details(&run)[0].artifact.as_deref(), Some("a..b.xml"));
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let run = FakeHost::new()
        .task_data(json!({"file": "artifacts/junit.xml", "aggregation": "allpass"}))
        .run_directive::<Xunit>(&context());
    match &run.status {
        Err(Error::Failed(m)) => {
            assert!(
                m.starts_with("param `file`: cannot read 'artifacts/junit.xml' in the workspace: "),
                "{m}"
            );
            assert!(
                m.ends_with("(paths are relative to ${workdir}; write the JUnit XML there first)"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(run.log.is_empty());
}

#[test]
fn a_file_that_is_not_junit_xml_is_invalid_with_what_is_wrong_and_where() {
    let cases = [
        (
            "<html><body><testcase name='a'/></body></html>",
            "not JUnit XML: the root element is <html>, expected <testsuites> or <testsuite>",
        ),
        (
            "<testsuite name=\"unit\">\n  <testcase classname=\"demo\"/>\n</testsuite>\n",
            "line 2: a <testcase> has no `name` attribute",
        ),
        (
            "<testsuite>\n<testcase name='a'><testcase name='b'/></testcase>\n</testsuite>",
            "line 2: a <testcase> inside a <testcase>",
        ),
        (
            "<testsuite>\n<testcase name='a'><failure message='a &bogus; b'/></testcase>\n</testsuite>",
            "line 2: attribute `message`: ",
        ),
        ("", "not JUnit XML: the document has no elements"),
        (
            "PASS test_adds\nFAIL test_divides\n",
            "not JUnit XML: the document has no elements",
        ),
        (
            "<testsuite>\n<testcase name='a'>\n</testsuite>",
            "not well-formed XML at line ",
        ),
    ];
    for (xml, says) in cases {
        let files = [("artifacts/junit.xml", xml)];
        let file = "artifacts/junit.xml";
        let run = xunit(
            &files,
            json!({"file": file, "aggregation": "none"}),
            &context(),
        );
        let prefix = format!("param `file`: '{file}': {says}");
        assert!(
            matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with(&prefix)),
            "{xml:?}: expected Invalid starting {prefix:?}, got {:?}",
            run.status
        );
        assert!(run.log.is_empty(), "{:?}", run.log);
    }
}

#[test]
fn bad_params_are_refused_with_the_param_named() {
    let file = "artifacts/junit.xml";
    for (params, want) in [
        (
            json!({"aggregation": "allpass"}),
            "params: missing field `file`",
        ),
        (
            json!({"file": file, "aggregation": "some"}),
            "params: aggregation: unknown variant `some`, expected `allpass` or `none`",
        ),
        (
            json!({"file": file, "aggregation": "allpass", "aggregate": "none"}),
            "params: unknown key 'aggregate' (extra fields not permitted)",
        ),
        (
            json!({"file": ["a.xml"], "aggregation": "allpass"}),
            "params: file: invalid type: sequence, expected a string",
        ),
        (
            json!({"file": file, "aggregation": "allpass", "item": 5}),
            "params: item: invalid type: integer `5`, expected a string",
        ),
    ] {
        let run = FakeHost::new()
            .task_data(params.clone())
            .run_directive::<Xunit>(&context());
        // serde_json adds where in the params text it stopped.
        assert!(
            matches!(&run.status, Err(Error::Invalid(m))
                if m == want || m.starts_with(&format!("{want} at line 1 column "))),
            "{params}: expected Invalid({want:?}), got {:?}",
            run.status
        );
        assert!(run.log.is_empty(), "{params}");
    }
}

#[test]
fn the_declared_params_give_the_host_its_checks_and_default() {
    let params = taskhost_plugin_xunit::Params::params();
    let got: Vec<(&str, bool, Option<&str>, Vec<&str>)> = params
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.required,
                p.default.as_deref(),
                p.choices.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("item", false, None, vec![]),
            ("type", false, None, vec![]),
            ("checkname", false, None, vec![]),
            ("file", true, None, vec![]),
            (
                "aggregation",
                false,
                Some("\"allpass\""),
                vec!["allpass", "none"]
            ),
        ]
    );
    assert!(params.iter().all(|p| p.type_ == ParamType::String));
}
