use super::*;
use serde_json::json;

fn params(v: Value) -> Params {
    serde_json::from_value(v).unwrap()
}

fn invalid(e: Error) -> String {
    match e {
        Error::Invalid(m) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_other_param_is_a_keyword_argument() {
    let call = Call::from_params(params(json!({
        "file": "./run_rpmlint.py",
        "callable": "run",
        "koji_build": "foo-1-1.fc40",
        "count": 3,
        "arches": ["x86_64", "noarch"],
        "opts": {"strict": true},
    })))
    .unwrap();
    assert_eq!(call.file, "run_rpmlint.py");
    assert_eq!(call.callable, "run");
    assert_eq!(
        Value::Object(call.kwargs.clone()),
        json!({"koji_build": "foo-1-1.fc40", "count": 3, "arches": ["x86_64", "noarch"], "opts": {"strict": true}})
    );
    assert_eq!(
        call.argv(),
        [
            "python3",
            ".taskhost/python/runner.py",
            "run_rpmlint.py",
            "run"
        ]
    );
}

#[test]
fn the_file_stays_in_the_task_directory() {
    assert_eq!(task_file("a/./b.py").unwrap(), "a/b.py");
    for bad in ["/etc/x.py", "../x.py", "a/../../x.py", ".", ""] {
        let e = invalid(task_file(bad).unwrap_err());
        assert!(e.starts_with(&format!("param `file`: '{bad}' ")), "{e}");
        assert!(e.contains("relative to the task's directory"), "{e}");
    }
}

#[test]
fn the_callable_is_a_python_name() {
    assert_eq!(checked_callable("Task.run_2").unwrap(), "Task.run_2");
    for bad in ["", "run()", "a..b", "2run", "os.system('x')", "-m"] {
        let e = invalid(checked_callable(bad).unwrap_err());
        assert!(e.contains("is not a Python name"), "{e}");
    }
}

#[test]
fn a_refusal_names_the_file_and_the_grant_for_it_alone() {
    let call =
        Call::from_params(params(json!({"file": "my check.py", "callable": "run"}))).unwrap();
    let e = call.refused(Error::AccessDenied("HOST SAYS".into()));
    let Error::AccessDenied(m) = e else {
        panic!("{e:?}")
    };
    assert_eq!(
        m,
        "the task's python file 'my check.py' (callable `run`) is not granted: HOST SAYS; \
         to grant this file alone: exec = [\"python3 .taskhost/python/runner.py 'my check.py' *\"] \
         in the same table, or pass --allow-exec 'python3 .taskhost/python/runner.py '\\''my check.py'\\'' *'"
    );
    assert!(matches!(call.refused(Error::TimedOut), Error::TimedOut));
}

#[test]
fn the_runners_answer_is_the_value_or_the_error_with_its_traceback() {
    let out = answer_to_output(json!({"value": "results: []\n"})).unwrap();
    assert_eq!(out.value, "\"results: []\\n\"");
    assert_eq!(
        answer_to_output(json!({"value": null})).unwrap().value,
        "null"
    );
    let e = answer_to_output(json!({
        "error": "run() in t.py raised ValueError",
        "traceback": "Traceback (most recent call last):\n  File \"t.py\", line 3, in run\nValueError: no\n",
    }))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Failed(m) if m == "run() in t.py raised ValueError:\nTraceback (most recent call last):\n  File \"t.py\", line 3, in run\nValueError: no"),
        "{e:?}"
    );
    let e = answer_to_output(json!({"error": "t.py has no callable `x` (no `x`)"})).unwrap_err();
    assert!(matches!(&e, Error::Failed(m) if m == "t.py has no callable `x` (no `x`)"));
    assert!(answer_to_output(json!([])).is_err());
}

#[test]
fn params_describe_file_callable_and_the_rest() {
    let names: Vec<String> = Params::params().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["file", "callable", "**"]);
}

/// The Python tests of the shipped modules and the runner
/// (tests/test_check.py, tests/test_runner.py), run by the `python3` the
/// local backend finds, over the files the directive writes.
#[test]
fn the_python_modules_and_the_runner_pass_their_python_tests() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in FILES {
        let path = dir.path().join(DIR).join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
    }
    let tests = dir.path().join("tests");
    std::fs::create_dir_all(&tests).expect("mkdir tests");
    for (name, text) in [
        ("test_check.py", include_str!("../tests/test_check.py")),
        ("test_runner.py", include_str!("../tests/test_runner.py")),
    ] {
        std::fs::write(tests.join(name), text).expect("write test");
    }
    let out = std::process::Command::new("python3")
        .args(["-m", "unittest", "discover", "-v", "-s", "tests"])
        .current_dir(dir.path())
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .output()
        .expect("python3 runs (apt-get install python3 python3-yaml)");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    // Every test ran: a module that failed to import would skip its own.
    let ran = text.lines().filter(|l| l.ends_with("... ok")).count();
    assert!(ran >= 30, "{ran} tests ran:\n{text}");
}
