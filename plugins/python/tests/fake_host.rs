//! `run` against the SDK's fake host: the runner's command line, the files
//! the directive writes for it, how it reads the runner's answer, and
//! each way the call fails.
//!
//! The host copies the task's directory into the workspace before the
//! first action; here the task's files are workspace files before the run.

use serde_json::{Value, json};
use taskhost_plugin_python::{FILES, Python, RUNNER};
use taskhost_sdk::directive::Output;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{self, FakeHost, Invocation, Reply, Run};
use taskhost_sdk::{Error, Result};

const KWARGS: &str = ".taskhost/python/kwargs.json";
const RETURN: &str = ".taskhost/python/return.json";
/// The task's stdout and stderr, together (the command's stdout and
/// stderr name this one file, which holds both).
const OUTPUT: &str = ".taskhost/python/output.txt";

/// A classic Taskotron task file.
const CHECK_PY: &str = "from libtaskotron import check\n\n\n\
def run(koji_build, arch, options):\n    \
detail = check.CheckDetail(koji_build, check.ReportType.KOJI_BUILD, 'FAILED',\n        \
'1 errors, 1 warnings', checkname='rpmlint')\n    \
detail.keyvals = {'errors': 1}\n    \
print('checked', koji_build)\n    \
return check.export_YAML(detail)\n";

/// What `check.export_YAML` returns for that detail (libtaskotron's
/// layout: PyYAML's safe_dump, keys sorted).
const EXPORTED: &str = "results:\n- checkname: rpmlint\n  errors: 1\n  item: foo-1.0-1.fc40\n  \
note: 1 errors, 1 warnings\n  outcome: FAILED\n  type: koji_build\n";

const ARGV: [&str; 4] = ["python3", RUNNER, "check.py", "run"];

/// Runs the directive with `files` (path, content) in the task's
/// directory, the workspace.
fn python(host: FakeHost, files: &[(&str, &str)]) -> Run<Output> {
    files
        .iter()
        .fold(host, |host, (path, content)| {
            host.workspace_file(path, *content)
        })
        .run_directive::<Python>(&testing::context())
}

fn params() -> Value {
    json!({
        "file": "check.py",
        "callable": "run",
        "koji_build": "foo-1.0-1.fc40",
        "arch": "x86_64",
        "options": {"strict": true, "skip": [], "retries": 2},
    })
}

/// check.py's `run`, answered by `reply`.
fn call(reply: Reply) -> Run<Output> {
    python(
        FakeHost::new()
            .task_data(params())
            .reply(&ARGV.join(" "), reply),
        &[("check.py", CHECK_PY)],
    )
}

/// The runner returning `value` after printing `printed`.
fn returns(value: Value, printed: &str) -> Reply {
    Reply::exit(0)
        .writes(RETURN, json!({ "value": value }).to_string())
        .stdout(printed)
}

fn value(v: Value) -> Result<Output> {
    Ok(Output {
        value: v.to_string(),
        exit_code: None,
    })
}

fn failed(run: &Run<Output>) -> &str {
    match &run.status {
        Err(Error::Failed(m)) => m,
        other => panic!("not Failed: {other:?}"),
    }
}

fn messages(run: &Run<Output>) -> Vec<&str> {
    run.log.iter().map(|(_, m)| m.as_str()).collect()
}

fn json_file(run: &Run<Output>, path: &str) -> Value {
    let bytes = run
        .workspace_file(path)
        .unwrap_or_else(|| panic!("{path} is not in the workspace"));
    serde_json::from_slice(&bytes).expect("JSON")
}

#[test]
fn the_runner_calls_the_function_with_the_other_params_and_its_value_is_returned() {
    let run = call(returns(json!(EXPORTED), "checked foo-1.0-1.fc40\n"));
    assert_eq!(run.status, value(json!(EXPORTED)));
    assert_eq!(run.commands, [ARGV]);
    assert_eq!(run.backends, ["local"]);
    // Both outputs go to one file; no timeout of its own (the policy's
    // applies), nothing else set.
    assert_eq!(
        run.invocations,
        [Invocation {
            argv: ARGV.map(String::from).to_vec(),
            env: vec![],
            cwd: None,
            stdin: None,
            stdout: Some(OUTPUT.into()),
            stderr: Some(OUTPUT.into()),
            timeout_ms: None,
            run_as_root: false,
            backend: "local".into(),
        }]
    );
    // Every param but file and callable is a keyword argument, as given.
    assert_eq!(
        json_file(&run, KWARGS),
        json!({
            "koji_build": "foo-1.0-1.fc40",
            "arch": "x86_64",
            "options": {"strict": true, "skip": [], "retries": 2},
        })
    );
    assert_eq!(
        messages(&run),
        [
            "calling run() in check.py",
            "check.py printed:\nchecked foo-1.0-1.fc40"
        ]
    );
    assert!(run.artifacts.is_empty() && run.results.is_empty() && run.urls.is_empty());
}

#[test]
fn the_runner_and_the_libtaskotron_and_checkb_modules_are_written_to_the_workspace() {
    let run = call(returns(json!(null), ""));
    assert_eq!(run.status, value(json!(null)));
    assert_eq!(FILES.len(), 8);
    for (name, text) in FILES {
        let path = format!(".taskhost/python/{name}");
        assert_eq!(
            run.workspace_file(&path).as_deref(),
            Some(text.as_bytes()),
            "{path}"
        );
    }
    // The task's file is left as it was.
    assert_eq!(
        run.workspace_file("check.py").as_deref(),
        Some(CHECK_PY.as_bytes())
    );
}

#[test]
fn the_file_is_a_clean_workspace_path_and_a_dotted_callable_is_passed_as_it_is() {
    let run = python(
        FakeHost::new()
            .task_data(json!({"file": "./checks/./rpm check.py", "callable": "Check.run_2"}))
            .reply(
                &format!("python3 {RUNNER} * Check.run_2"),
                returns(json!({"n": 3, "ok": [true, null]}), ""),
            ),
        &[("checks/rpm check.py", "class Check: ...\n")],
    );
    assert_eq!(run.status, value(json!({"n": 3, "ok": [true, null]})));
    assert_eq!(
        run.commands,
        [["python3", RUNNER, "checks/rpm check.py", "Check.run_2"]]
    );
    // No other params: no keyword arguments.
    assert_eq!(json_file(&run, KWARGS), json!({}));
    // Nothing printed: no output logged.
    assert_eq!(
        messages(&run),
        ["calling Check.run_2() in checks/rpm check.py"]
    );
}

#[test]
fn an_exception_fails_the_action_with_its_traceback_and_the_output_is_logged() {
    let traceback = "Traceback (most recent call last):\n  \
        File \"/work/ws/check.py\", line 8, in run\n    \
        return json.loads('{not json')\n\
        json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: \
        line 1 column 2 (char 1)\n";
    let run = call(
        Reply::exit(1)
            .writes(
                RETURN,
                json!({"error": "run() in check.py raised JSONDecodeError", "traceback": traceback})
                    .to_string(),
            )
            .stdout("checked foo-1.0-1.fc40\n")
            .stderr(traceback),
    );
    assert_eq!(
        failed(&run),
        format!(
            "run() in check.py raised JSONDecodeError:\n{}",
            traceback.trim_end()
        )
    );
    assert_eq!(run.commands, [ARGV]);
    // What it printed on stdout, then on stderr, in the one file.
    assert_eq!(
        run.workspace_file(OUTPUT).as_deref(),
        Some(format!("checked foo-1.0-1.fc40\n{traceback}").as_bytes())
    );
    assert_eq!(
        messages(&run)[1],
        format!(
            "check.py printed:\nchecked foo-1.0-1.fc40\n{}",
            traceback.trim_end()
        )
    );
}

#[test]
fn a_runner_error_without_a_traceback_is_the_error_alone() {
    for (answer, says) in [
        (
            json!({"error": "check.py has no callable `run` (no `run`)"}),
            "check.py has no callable `run` (no `run`)",
        ),
        (
            json!({"error": "run() in check.py returned a set, which export: cannot hold \
                   (Object of type set is not JSON serializable); return text \
                   (e.g. check.export_YAML(details)), numbers, lists or dicts"}),
            "run() in check.py returned a set, which export: cannot hold \
             (Object of type set is not JSON serializable); return text \
             (e.g. check.export_YAML(details)), numbers, lists or dicts",
        ),
        (json!({}), "the runner failed without saying why"),
        (
            json!({"error": 3, "traceback": "x"}),
            "the runner failed without saying why:\nx",
        ),
    ] {
        let run = call(Reply::exit(1).writes(RETURN, answer.to_string()));
        assert_eq!(failed(&run), says, "{answer}");
    }
}

#[test]
fn a_return_json_that_is_not_a_json_mapping_is_an_error() {
    let run = call(Reply::exit(0).writes(RETURN, "{\"value\": "));
    assert!(
        failed(&run).starts_with(
            "the runner wrote a .taskhost/python/return.json that is not JSON: EOF while parsing"
        ),
        "{}",
        failed(&run)
    );
    let run = call(Reply::exit(0).writes(RETURN, "[\"results: []\"]"));
    assert_eq!(
        failed(&run),
        "the runner answered [\"results: []\"], not a mapping"
    );
}

#[test]
fn python_ending_before_the_call_returned_says_how_with_the_output_tail() {
    let cases = [
        (
            Reply::exit(5).stdout("bye foo-1.0-1.fc40\n"),
            "python3 exited with code 5 before run() in check.py returned; \
             its output ends with:\nbye foo-1.0-1.fc40",
        ),
        (
            Reply::exit(0),
            "python3 exited with code 0 before run() in check.py returned (it printed nothing)",
        ),
        (
            Reply::signal(9),
            "python3 was killed by signal 9 (SIGKILL) before run() in check.py returned (it printed nothing)",
        ),
        (
            Reply::timed_out().stderr("waiting for koji...\n"),
            "python3 ran past its time limit before run() in check.py returned; \
             its output ends with:\nwaiting for koji...",
        ),
        (
            Reply::exit(1).stderr("python3: can't open file '.taskhost/python/runner.py'\n"),
            "python3 exited with code 1 before run() in check.py returned; its output ends \
             with:\npython3: can't open file '.taskhost/python/runner.py'",
        ),
    ];
    for (reply, says) in cases {
        let run = call(reply);
        assert_eq!(failed(&run), says);
        assert_eq!(run.commands, [ARGV]);
    }
}

#[test]
fn a_return_json_left_by_an_earlier_call_is_not_taken_for_this_ones() {
    let run = python(
        FakeHost::new()
            .task_data(params())
            .reply(&ARGV.join(" "), Reply::exit(1)),
        &[
            ("check.py", CHECK_PY),
            (RETURN, "{\"value\": \"stale: from the previous action\"}"),
        ],
    );
    assert_eq!(
        failed(&run),
        "python3 exited with code 1 before run() in check.py returned (it printed nothing)"
    );
    assert_eq!(run.workspace_file(RETURN), None);
}

#[test]
fn only_the_last_hundred_lines_of_the_output_are_logged() {
    let printed: String = (1..=150).map(|i| format!("rpm {i}\n")).collect();
    let run = call(returns(json!("done"), &printed));
    assert_eq!(run.status, value(json!("done")));
    let tail = (51..=150)
        .map(|i| format!("rpm {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(messages(&run)[1], format!("check.py printed:\n{tail}"));
}

#[test]
fn output_cut_at_the_host_s_limit_is_said_to_be_cut() {
    let run = call(returns(json!("done"), "rpm 1\nrpm 2\n").truncated());
    assert_eq!(run.status, value(json!("done")));
    assert_eq!(
        run.log,
        [
            (Level::Info, "calling run() in check.py".to_string()),
            (Level::Info, "check.py printed:\nrpm 1\nrpm 2".to_string()),
            (
                Level::Warn,
                "check.py printed more than the host keeps (`output-limit` in the policy): \
                 its output was cut there"
                    .to_string()
            ),
        ]
    );
    // Not cut: no such warning.
    let run = call(returns(json!("done"), "rpm 1\n"));
    assert_eq!(run.log_text(Level::Warn), "");
}

#[test]
fn a_file_not_in_the_task_directory_is_not_found_before_anything_is_written_or_run() {
    let run = python(FakeHost::new().task_data(params()), &[("other.py", "")]);
    assert_eq!(
        run.status,
        Err(Error::NotFound(
            "param `file`: 'check.py' is not in the task's directory (the formula's directory, \
             copied into the workspace)"
                .into()
        ))
    );
    assert!(run.commands.is_empty() && run.backends.is_empty());
    assert_eq!(run.workspace_file(RUNNER), None);
    // A directory of that name is no file either.
    let run = python(FakeHost::new().task_data(params()), &[("check.py/x", "")]);
    assert!(
        matches!(&run.status, Err(Error::NotFound(m)) if m.starts_with("param `file`: 'check.py' ")),
        "{:?}",
        run.status
    );
}

#[test]
fn bad_file_callable_or_params_are_refused_before_anything_runs() {
    let cases = [
        (
            json!({"file": "/etc/check.py", "callable": "run"}),
            "param `file`: '/etc/check.py' is an absolute path; give a path relative to the \
             task's directory (e.g. run_check.py)",
        ),
        (
            json!({"file": "../check.py", "callable": "run"}),
            "param `file`: '../check.py' leaves the task's directory; give a path relative to \
             the task's directory (e.g. run_check.py)",
        ),
        (
            json!({"file": ".", "callable": "run"}),
            "param `file`: '.' names no file; give a path relative to the task's directory \
             (e.g. run_check.py)",
        ),
        (
            json!({"file": "check.py", "callable": "os.system('id')"}),
            "param `callable`: 'os.system('id')' is not a Python name (a function, or \
             object.method)",
        ),
        (
            json!({"file": "check.py", "callable": "-m"}),
            "param `callable`: '-m' is not a Python name (a function, or object.method)",
        ),
    ];
    for (params, says) in cases {
        let run = python(
            FakeHost::new().task_data(params.clone()),
            &[("check.py", CHECK_PY)],
        );
        assert_eq!(
            run.status,
            Err(Error::Invalid(says.to_string())),
            "{params}"
        );
        assert!(
            run.commands.is_empty() && run.backends.is_empty(),
            "{params}"
        );
        assert_eq!(run.workspace_file(RUNNER), None, "{params}");
    }
    // Wrong types and missing params (the host checks these first; the
    // SDK's strict decoding names the param all the same).
    for (params, names) in [
        (
            json!({"file": "check.py", "callable": ["run"]}),
            "params: callable: invalid type",
        ),
        (
            json!({"file": 3, "callable": "run"}),
            "params: file: invalid type",
        ),
        (
            json!({"file": "check.py"}),
            "params: missing field `callable`",
        ),
        (json!({"callable": "run"}), "params: missing field `file`"),
    ] {
        let run = python(
            FakeHost::new().task_data(params.clone()),
            &[("check.py", CHECK_PY)],
        );
        assert!(
            matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with(names)),
            "{params}: {:?}",
            run.status
        );
        assert!(
            run.commands.is_empty() && run.backends.is_empty(),
            "{params}"
        );
    }
    // Params that are not a mapping at all.
    let run = python(FakeHost::new().task_data(json!(["check.py", "run"])), &[]);
    assert!(
        matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with("params: invalid type: sequence, expected")),
        "{:?}",
        run.status
    );
}

#[test]
fn a_file_not_granted_is_refused_naming_the_grant_for_it_alone() {
    let run = python(
        FakeHost::new()
            .task_data(params())
            .deny_exec(&format!("python3 {RUNNER} **")),
        &[("check.py", CHECK_PY)],
    );
    let denied = format!(
        "plugin may not run `python3 {RUNNER} check.py run`: denied (simulated by FakeHost)"
    );
    assert_eq!(
        run.status,
        Err(Error::AccessDenied(format!(
            "the task's python file 'check.py' (callable `run`) is not granted: {denied}; \
             to grant this file alone: exec = [\"python3 {RUNNER} check.py *\"] in the same \
             table, or pass --allow-exec 'python3 {RUNNER} check.py *'"
        )))
    );
    assert_eq!(run.denied, [denied]);
    assert!(run.commands.is_empty());
    assert_eq!(run.backends, ["local"]);
}

#[test]
fn a_denied_backend_is_the_hosts_refusal_without_an_exec_hint() {
    let run = python(
        FakeHost::new().task_data(params()).deny_backend("local"),
        &[("check.py", CHECK_PY)],
    );
    assert_eq!(
        run.status,
        Err(Error::AccessDenied(
            "plugin may not use backend `local`: denied (simulated by FakeHost)".into()
        ))
    );
    assert!(run.commands.is_empty() && run.backends.is_empty());
}

#[test]
fn the_auto_backend_is_the_ssh_or_qemu_machine_when_runtask_has_one() {
    for backend in ["ssh", "qemu"] {
        let run = python(
            FakeHost::new()
                .task_data(params())
                .auto_backend(backend)
                .reply(&ARGV.join(" "), returns(json!(EXPORTED), "")),
            &[("check.py", CHECK_PY)],
        );
        assert_eq!(run.status, value(json!(EXPORTED)));
        assert_eq!(run.backends, [backend]);
        assert_eq!(run.commands, [ARGV]);
    }
}
