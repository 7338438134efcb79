//! The resultsdb directive against the SDK's fake host: the results it
//! records in the run's report, the ResultsDB API calls it makes, what it
//! returns, and each way it fails.
//!
//! The fake ResultsDB answers as ResultsDB does (API v2.0, resultsdb's
//! serializers, as tests/servers/resultsdb.py gives them in the e2e
//! tests): by method and path, 201 with the created object (each result
//! with the next id), 404 `{"message": "Testcase not found"}` for a
//! testcase it does not know; failing answers (400 with flask-pydantic's
//! `validation_error`, a proxy's 502) are given per URL in front of it.
//! What the run sends, each request's method, path and JSON body, is
//! asserted.

use serde_json::{Value, json};
use taskhost_plugin_resultsdb::ResultsDb;
use taskhost_sdk::directive::{Context, Output};
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{Emitted, FakeHost, Request, Run, context};
use taskhost_sdk::{Error, Outcome, Result};

const ROOT: &str = "https://resultsdb.fedoraproject.org/api/v2.0";
const UUID: &str = "5f1e6c3a-1131-11ef-9f5e-525400c8b7a1";
const ITEM: &str = "xchat-2.8.8-32.fc40";
/// The id ResultsDB gives the run's first result.
const FIRST_ID: u64 = 4127;

/// What rpmlint's check reported through xunit: one result per arch.
const RESULTS: &str = "\
results:
  - item: xchat-2.8.8-32.fc40
    type: koji_build
    checkname: rpmlint
    outcome: FAILED
    note: 3 errors, 12 warnings
    artifact: artifacts/rpmlint.x86_64.log
    arch: x86_64
  - item: xchat-2.8.8-32.fc40
    type: koji_build
    checkname: rpmlint
    outcome: PASSED
    arch: i686
";

/// What the run returns for [`RESULTS`]: each result with its id.
const REPORTED: &str = "\
results:
- item: xchat-2.8.8-32.fc40
  type: koji_build
  outcome: FAILED
  note: 3 errors, 12 warnings
  checkname: dist.rpmlint
  artifact: artifacts/rpmlint.x86_64.log
  arch: x86_64
  resultsdb_id: '4127'
- item: xchat-2.8.8-32.fc40
  type: koji_build
  outcome: PASSED
  checkname: dist.rpmlint
  arch: i686
  resultsdb_id: '4128'
";

fn url(path: &str) -> String {
    format!("{ROOT}/{path}")
}

/// A testcase as ResultsDB serializes it.
fn testcase(name: &str) -> Value {
    json!({"name": name, "ref_url": null, "href": url(&format!("testcases/{name}"))})
}

const TESTCASE_NOT_FOUND: &str = r#"{"message": "Testcase not found"}"#;

/// `host`, in front of a ResultsDB that knows the testcases `known`.
fn resultsdb_behind(host: FakeHost, known: &[&str]) -> FakeHost {
    let mut known: Vec<String> = known.iter().map(|n| n.to_string()).collect();
    let mut next_id = FIRST_ID;
    host.http_respond(ROOT, move |request: &Request| {
        let path = request.url.strip_prefix(&url("")).unwrap();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let (status, answer) = match (request.method.as_str(), path) {
            ("GET", path) if path.starts_with("testcases/") => {
                let name = &path["testcases/".len()..];
                if known.iter().any(|k| k == name) {
                    (200, testcase(name))
                } else {
                    (404, serde_json::from_str(TESTCASE_NOT_FOUND).unwrap())
                }
            }
            ("POST", "groups") => (
                201,
                json!({
                    "uuid": body["uuid"], "description": body["description"],
                    "ref_url": body.get("ref_url"),
                    "results": url(&format!("results?groups={}", body["uuid"].as_str().unwrap())),
                    "results_count": 0,
                    "href": url(&format!("groups/{}", body["uuid"].as_str().unwrap())),
                }),
            ),
            ("POST", "testcases") => {
                let name = body["name"].as_str().unwrap();
                known.push(name.to_string());
                (201, testcase(name))
            }
            ("POST", "results") => {
                let id = next_id;
                next_id += 1;
                let data: serde_json::Map<String, Value> = body["data"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), json!([v])))
                    .collect();
                (
                    201,
                    json!({
                        "id": id, "groups": body["groups"],
                        "testcase": testcase(body["testcase"]["name"].as_str().unwrap()),
                        "submit_time": "2024-05-14T10:21:07.361512", "outcome": body["outcome"],
                        "note": body["note"], "ref_url": body["ref_url"], "data": data,
                        "href": url(&format!("results/{id}")),
                    }),
                )
            }
            _ => panic!("the fake ResultsDB has no {} {path}", request.method),
        };
        (status, answer.to_string().into_bytes())
    })
}

/// A ResultsDB that knows the testcases `known`.
fn resultsdb(known: &[&str]) -> FakeHost {
    resultsdb_behind(FakeHost::new(), known)
}

/// What the run sent: each request's method, path under the API root and
/// JSON body (null for none). POSTs carry JSON, GETs nothing.
#[track_caller]
fn sent(run: &Run<Output>) -> Vec<(&str, &str, Value)> {
    run.requests
        .iter()
        .map(|r| {
            let path = r.url.strip_prefix(ROOT).unwrap().trim_start_matches('/');
            match r.method.as_str() {
                "POST" => {
                    assert_eq!(
                        r.headers,
                        [("content-type".into(), "application/json".into())],
                        "{path}"
                    );
                    ("POST", path, serde_json::from_slice(&r.body).unwrap())
                }
                method => {
                    assert!(r.headers.is_empty() && r.body.is_empty(), "{path}");
                    (method, path, Value::Null)
                }
            }
        })
        .collect()
}

/// The requests' methods and paths only.
fn asked(run: &Run<Output>) -> Vec<String> {
    sent(run)
        .into_iter()
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect()
}

/// The job's group, as POSTed.
fn group() -> Value {
    json!({"uuid": UUID, "description": "dist.rpmlint"})
}

/// The two results of [`RESULTS`], as POSTed (`ref_url`s given).
fn result_bodies(ref_urls: [Value; 2]) -> [Value; 2] {
    let [first, second] = ref_urls;
    [
        json!({
            "outcome": "FAILED", "testcase": {"name": "dist.rpmlint"}, "groups": [UUID],
            "note": "3 errors, 12 warnings", "ref_url": first,
            "data": {"item": ITEM, "type": "koji_build", "arch": "x86_64"},
        }),
        json!({
            "outcome": "PASSED", "testcase": {"name": "dist.rpmlint"}, "groups": [UUID],
            "note": null, "ref_url": second,
            "data": {"item": ITEM, "type": "koji_build", "arch": "i686"},
        }),
    ]
}

/// The run's context: a formula in the `dist` namespace.
fn dist() -> Context {
    Context {
        checkname: "dist.rpmlint".into(),
        namespace: "dist".into(),
        item: ITEM.into(),
        uuid: UUID.into(),
        ..context()
    }
}

fn report(host: FakeHost, params: Value, context: &Context) -> Run<Output> {
    host.task_data(params).run_directive::<ResultsDb>(context)
}

/// The ResultYAML the run returned.
#[track_caller]
fn returned(run: &Run<Output>) -> String {
    match &run.status {
        Ok(out) => {
            assert_eq!(out.exit_code, None);
            serde_json::from_str(&out.value).unwrap()
        }
        Err(e) => panic!("{e:?}\n{}", run.log_text(Level::Debug)),
    }
}

#[track_caller]
fn failed(status: &Result<Output>, want: &str) {
    assert_eq!(status, &Err(Error::Failed(want.into())));
}

/// The two results of [`RESULTS`], as the run's report records them.
fn recorded(checkname: &str) -> Vec<Emitted> {
    vec![
        Emitted {
            item: ITEM.into(),
            item_type: "koji_build".into(),
            outcome: Outcome::Failed,
            checkname: Some(checkname.into()),
            note: Some("3 errors, 12 warnings".into()),
            artifact: Some("artifacts/rpmlint.x86_64.log".into()),
            keyvals: vec![("arch".into(), "x86_64".into())],
        },
        Emitted {
            item: ITEM.into(),
            item_type: "koji_build".into(),
            outcome: Outcome::Passed,
            checkname: Some(checkname.into()),
            note: None,
            artifact: None,
            keyvals: vec![("arch".into(), "i686".into())],
        },
    ]
}

#[test]
fn results_are_recorded_then_sent_as_the_jobs_group_testcase_and_results() {
    let run = report(
        resultsdb(&[]),
        json!({"results": RESULTS, "resultsdb_url": ROOT}),
        &dist(),
    );
    // Each result with the id ResultsDB gave it.
    assert_eq!(returned(&run), REPORTED);
    // The group, the testcase (unknown: created once), then each result
    // with its data (its own arch over the run's) and no ref_url.
    let [first, second] = result_bodies([json!(null), json!(null)]);
    assert_eq!(
        sent(&run),
        [
            ("POST", "groups", group()),
            ("GET", "testcases/dist.rpmlint", Value::Null),
            ("POST", "testcases", json!({"name": "dist.rpmlint"})),
            ("POST", "results", first),
            ("POST", "results", second),
        ]
    );
    assert_eq!(run.results, recorded("dist.rpmlint"));
    assert_eq!(
        run.log_text(Level::Info),
        format!("reported 2 result(s) to {ROOT}")
    );
    assert!(run.commands.is_empty() && run.artifacts.is_empty());
}

#[test]
fn with_artifacts_url_the_group_and_results_link_to_the_kept_artifacts() {
    let arts = "https://taskotron.fedoraproject.org/artifacts";
    let run = report(
        resultsdb(&["dist.rpmlint"]),
        json!({"results": RESULTS, "resultsdb_url": ROOT, "artifacts_url": format!("{arts}/")}),
        &dist(),
    );
    assert_eq!(returned(&run), REPORTED);
    // A result's artifact, relative to the artifacts directory; a result
    // without one links to the job's directory.
    let [first, second] = result_bodies([
        json!(format!("{arts}/{UUID}/rpmlint.x86_64.log")),
        json!(format!("{arts}/{UUID}/")),
    ]);
    let mut group = group();
    group["ref_url"] = json!(format!("{arts}/{UUID}/"));
    assert_eq!(
        sent(&run),
        [
            ("POST", "groups", group),
            ("GET", "testcases/dist.rpmlint", Value::Null),
            ("POST", "results", first),
            ("POST", "results", second),
        ]
    );
}

#[test]
fn a_known_testcase_is_not_created_again_and_names_keep_their_namespace() {
    let text = "\
results:
  - {item: xchat-2.8.8-32.fc40, type: koji_build, checkname: dist.rpmlint, outcome: PASSED}
  - {item: xchat-2.8.8-32.fc40, type: koji_build, checkname: rpmgrill, outcome: INFO}
  - {item: xchat-2.8.8-32.fc40, type: koji_build, checkname: dist.rpmlint, outcome: PASSED}
";
    let run = report(
        resultsdb(&["dist.rpmlint"]),
        json!({"results": text, "resultsdb_url": format!("{ROOT}/")}),
        &dist(),
    );
    // `rpmgrill` is named in the namespace; each name is asked once, and
    // only the unknown one is created.
    assert_eq!(
        asked(&run),
        [
            "POST groups",
            "GET testcases/dist.rpmlint",
            "GET testcases/dist.rpmgrill",
            "POST testcases",
            "POST results",
            "POST results",
            "POST results"
        ]
    );
    assert_eq!(sent(&run)[3].2, json!({"name": "dist.rpmgrill"}));
    let posted: Vec<Value> = sent(&run)[4..]
        .iter()
        .map(|(_, _, body)| body["testcase"]["name"].clone())
        .collect();
    assert_eq!(posted, ["dist.rpmlint", "dist.rpmgrill", "dist.rpmlint"]);
    let names: Vec<_> = run.results.iter().map(|r| r.checkname.clone()).collect();
    assert_eq!(
        names,
        [
            Some("dist.rpmlint".to_string()),
            Some("dist.rpmgrill".to_string()),
            Some("dist.rpmlint".to_string())
        ]
    );
    // Each result has its own id.
    let yaml = returned(&run);
    let ids: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("resultsdb_id: "))
        .collect();
    assert_eq!(ids, ["'4127'", "'4128'", "'4129'"]);

    // Without a namespace, names stay as they are.
    let no_namespace = Context {
        namespace: String::new(),
        ..dist()
    };
    let run = report(
        resultsdb(&["dist.rpmlint", "rpmgrill"]),
        json!({"results": text, "resultsdb_url": ROOT}),
        &no_namespace,
    );
    assert_eq!(
        asked(&run)[1..3],
        ["GET testcases/dist.rpmlint", "GET testcases/rpmgrill"]
    );
    assert_eq!(sent(&run)[4].2["testcase"], json!({"name": "rpmgrill"}));
    assert_eq!(run.results[1].checkname.as_deref(), Some("rpmgrill"));
}

#[test]
fn a_testcase_name_is_one_encoded_path() {
    let text = "results: [{item: xchat-2.8.8-32.fc40, type: koji_build, checkname: 'abi check/x86_64?', outcome: PASSED}]";
    let run = report(
        resultsdb(&[]),
        json!({"results": text, "resultsdb_url": ROOT}),
        &dist(),
    );
    returned(&run);
    assert_eq!(run.urls[1], url("testcases/dist.abi%20check/x86_64%3F"));
    // The body names it as it is.
    assert_eq!(sent(&run)[2].2, json!({"name": "dist.abi check/x86_64?"}));
}

#[test]
fn a_task_actions_export_is_read_for_its_results() {
    let export = json!({"status": "failure", "results": RESULTS});
    let run = report(
        resultsdb(&[]),
        json!({"results": export, "resultsdb_url": ROOT}),
        &dist(),
    );
    assert_eq!(returned(&run), REPORTED);
    assert_eq!(run.results, recorded("dist.rpmlint"));
    assert_eq!(run.requests.len(), 5);
}

#[test]
fn a_results_file_in_the_workspace_is_read() {
    for file in ["artifacts/results.yaml", "./artifacts/results.yaml"] {
        let run = report(
            resultsdb(&[]).workspace_file("artifacts/results.yaml", RESULTS),
            json!({"file": file, "resultsdb_url": ROOT}),
            &dist(),
        );
        assert_eq!(returned(&run), REPORTED, "{file}");
        assert_eq!(run.results, recorded("dist.rpmlint"), "{file}");
        let [first, second] = result_bodies([json!(null), json!(null)]);
        assert_eq!(
            sent(&run)[3..],
            [("POST", "results", first), ("POST", "results", second)]
        );
    }

    // A file that is not ResultYAML.
    let run = report(
        resultsdb(&[]).workspace_file("results.yaml", "results:\n  - {outcome: MAYBE}\n"),
        json!({"file": "results.yaml", "resultsdb_url": ROOT}),
        &dist(),
    );
    match &run.status {
        Err(Error::Invalid(m)) => assert!(
            m.starts_with("param `file`: 'results.yaml': ResultYAML: "),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(run.requests.is_empty() && run.results.is_empty());
}

#[test]
fn a_results_file_out_of_the_workspace_is_refused_naming_the_param() {
    for file in [
        "../results.yaml",
        "artifacts/../../results.yaml",
        "artifacts/..",
        "/etc/results.yaml",
    ] {
        let run = report(
            resultsdb(&[]).workspace_file("artifacts/results.yaml", RESULTS),
            json!({"file": file, "resultsdb_url": ROOT}),
            &dist(),
        );
        assert_eq!(
            run.status,
            Err(Error::Invalid(format!(
                "param `file` must be a file in the workspace (e.g. ${{workdir}}/results.yaml), \
                 not '{file}': absolute paths and '..' are refused"
            ))),
            "{file}"
        );
        assert!(run.requests.is_empty() && run.results.is_empty(), "{file}");
    }
}

#[test]
fn no_results_create_only_the_jobs_group() {
    let run = report(
        resultsdb(&[]),
        json!({"results": "results: []", "resultsdb_url": ROOT}),
        &dist(),
    );
    assert_eq!(returned(&run), "results: []\n");
    assert_eq!(sent(&run), [("POST", "groups", group())]);
    assert!(run.results.is_empty());
}

#[test]
fn a_result_without_item_type_or_checkname_is_refused_before_anything_is_sent() {
    let text = "\
results:
  - {item: xchat-2.8.8-32.fc40, type: koji_build, checkname: rpmlint, outcome: PASSED}
  - {type: koji_build, outcome: FAILED}
";
    let run = report(
        resultsdb(&[]),
        json!({"results": text, "resultsdb_url": ROOT}),
        &dist(),
    );
    assert_eq!(
        run.status,
        Err(Error::Invalid(
            "results[1] has no `item`, `checkname`: ResultsDB needs item, type and checkname in every result"
                .into()
        ))
    );
    assert!(run.requests.is_empty());
    assert!(run.results.is_empty(), "nothing recorded either");
}

#[test]
fn bad_params_are_refused_before_anything_is_sent() {
    for (params, says) in [
        (
            json!({"results": "results:\n  - {item: a, type: t, checkname: c, outcome: BAD}\n", "resultsdb_url": ROOT}),
            "param `results`: ResultYAML: not valid ResultYAML: results[0]",
        ),
        (
            json!({"results": [{"item": "a"}], "resultsdb_url": ROOT}),
            "param `results` must be ResultYAML text (e.g. what `xunit` exported) or a task action's export, not a list",
        ),
        (
            json!({"results": {"status": "success"}, "resultsdb_url": ROOT}),
            "param `results` is a mapping without ResultYAML text under `results`",
        ),
        (
            json!({"resultsdb_url": ROOT}),
            "resultsdb takes exactly one of the params `results` and `file`",
        ),
        (
            json!({"results": RESULTS, "file": "results.yaml", "resultsdb_url": ROOT}),
            "resultsdb takes exactly one of the params `results` and `file`",
        ),
        (
            json!({"file": "../results.yaml", "resultsdb_url": ROOT}),
            "param `file` must be a file in the workspace",
        ),
        (
            json!({"results": RESULTS, "resultsdb_url": ROOT, "testcase_ref": "x"}),
            "params: unknown key 'testcase_ref'",
        ),
        (
            json!({"results": RESULTS, "resultsdb_url": ROOT, "artifacts_url": 8080}),
            "params: artifacts_url: invalid type",
        ),
        (
            json!({"results": RESULTS}),
            "params: missing field `resultsdb_url`",
        ),
    ] {
        let run = report(resultsdb(&[]), params.clone(), &dist());
        assert!(
            matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with(says)),
            "{params}: want {says:?}, got {:?}",
            run.status
        );
        assert!(
            run.requests.is_empty() && run.results.is_empty(),
            "{params}"
        );
    }
}

#[test]
fn a_results_file_that_is_not_in_the_workspace_fails() {
    let run = report(
        resultsdb(&[]),
        json!({"file": "artifacts/results.yaml", "resultsdb_url": ROOT}),
        &dist(),
    );
    match &run.status {
        Err(Error::Failed(m)) => assert!(
            m.starts_with("param `file`: cannot read 'artifacts/results.yaml' in the workspace: "),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(run.requests.is_empty());
}

#[test]
fn resultsdb_refusing_a_result_fails_naming_it_after_the_report_has_it() {
    let refusal = r#"{"validation_error": {"body_params": [{"loc": ["outcome"], "msg": "must be one of: PASSED, INFO, FAILED, NEEDS_INSPECTION, ABORTED, CRASHED, ERROR, WAIVED", "type": "value_error"}]}}"#;
    let host = resultsdb_behind(
        FakeHost::new().http(&url("results"), 400, refusal),
        &["dist.rpmlint"],
    );
    let run = report(
        host,
        json!({"results": RESULTS, "resultsdb_url": ROOT}),
        &dist(),
    );
    failed(
        &run.status,
        &format!(
            "ResultsDB refused results[0] (dist.rpmlint for {ITEM}): POST {} answered 400: {refusal}",
            url("results")
        ),
    );
    // The first POST /results failed: the second is not sent.
    assert_eq!(
        asked(&run),
        ["POST groups", "GET testcases/dist.rpmlint", "POST results"]
    );
    // The run's report got the results before ResultsDB was asked.
    assert_eq!(run.results, recorded("dist.rpmlint"));
}

#[test]
fn a_failing_group_or_testcase_call_fails_naming_it() {
    let gateway = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n</body>\n</html>\n";
    let flat = "<html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 Bad Gateway</h1></center> </body> </html>";
    let params = json!({"results": RESULTS, "resultsdb_url": ROOT});

    let run = report(
        FakeHost::new().http(ROOT, 502, gateway),
        params.clone(),
        &dist(),
    );
    failed(
        &run.status,
        &format!(
            "ResultsDB refused the job's group: POST {} answered 502: {flat}",
            url("groups")
        ),
    );
    assert_eq!(asked(&run), ["POST groups"]);

    let host = resultsdb_behind(FakeHost::new().http(&url("testcases/"), 502, gateway), &[]);
    let run = report(host, params.clone(), &dist());
    failed(
        &run.status,
        &format!("GET {} answered 502: {flat}", url("testcases/dist.rpmlint")),
    );

    let missing_name = r#"{"validation_error": {"body_params": [{"loc": ["name"], "msg": "field required", "type": "value_error.missing"}]}}"#;
    // ResultsDB does not know the testcase, and refuses to create it.
    let refusing = FakeHost::new().http_respond(&url("testcases"), move |r: &Request| {
        match r.method.as_str() {
            "GET" => (404, TESTCASE_NOT_FOUND.into()),
            _ => (400, missing_name.into()),
        }
    });
    let run = report(resultsdb_behind(refusing, &[]), params, &dist());
    failed(
        &run.status,
        &format!(
            "ResultsDB refused the testcase 'dist.rpmlint': POST {} answered 400: {missing_name}",
            url("testcases")
        ),
    );
    assert_eq!(
        asked(&run),
        [
            "POST groups",
            "GET testcases/dist.rpmlint",
            "POST testcases"
        ]
    );
}

#[test]
fn a_created_result_without_an_id_or_a_body_that_is_not_json_fails() {
    let params = json!({"results": RESULTS, "resultsdb_url": ROOT});
    let no_id = r#"{"message": "Created"}"#;
    let host = resultsdb_behind(
        FakeHost::new().http(&url("results"), 201, no_id),
        &["dist.rpmlint"],
    );
    let run = report(host, params.clone(), &dist());
    failed(
        &run.status,
        &format!(
            "ResultsDB created results[0] (dist.rpmlint for {ITEM}) but answered without an id: {{\"message\":\"Created\"}}"
        ),
    );

    let host = FakeHost::new().http(
        &url("groups"),
        200,
        "<html><body>Log in to Fedora Accounts</body></html>",
    );
    let run = report(host, params, &dist());
    match &run.status {
        Err(Error::Failed(m)) => assert!(
            m.starts_with(&format!(
                "{} answered 200 with a body that is not the expected JSON: ",
                url("groups")
            )),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(asked(&run), ["POST groups"]);
}

#[test]
fn a_resultsdb_that_is_not_granted_is_access_denied_naming_the_param() {
    let run = report(
        resultsdb(&[]).deny_url("https://resultsdb.fedoraproject.org/"),
        json!({"results": RESULTS, "resultsdb_url": ROOT}),
        &dist(),
    );
    match &run.status {
        Err(Error::AccessDenied(m)) => assert!(
            m.starts_with("param `resultsdb_url`: ") && m.contains(&url("groups")),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(run.requests.is_empty());
    assert_eq!(run.denied.len(), 1);
    // Recorded in the run's report before ResultsDB was asked.
    assert_eq!(run.results, recorded("dist.rpmlint"));
}
