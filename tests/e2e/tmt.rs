//! `--format tmt`: tmt's results.yaml for a tmt test with `result: custom`,
//! read back with tmt's own loader and JSON schema (tests/tmt/check_results.py
//! in the venv that `.ci/install-test-clients` makes).

use crate::servers::ResultsDb;
use crate::{Env, HOSTILE, HOSTILE_GRANTS, Ran};
use serde_json::Value;
use std::path::{Path, PathBuf};

const INSTALL_HINT: &str = "run .ci/install-test-clients (as root): it installs tmt from PyPI \
     in a venv at $TASKHOST_TMT_VENV (default /opt/taskhost-tmt-venv)";

/// The venv holding tmt.
fn venv() -> PathBuf {
    std::env::var_os("TASKHOST_TMT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/taskhost-tmt-venv"))
}

/// Runs tests/tmt/check_results.py on `file` (logs looked up in
/// `data_dir`): its exit code and what it said.
fn tmt_check(file: &Path, data_dir: Option<&Path>) -> (i32, String) {
    let python = venv().join("bin/python");
    assert!(
        python.is_file(),
        "{} is missing: {INSTALL_HINT}",
        python.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tmt/check_results.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script).arg(file).args(data_dir);
    // Importing tmt writes templates to its config dir (~/.config/tmt).
    let scratch = file.parent().expect("a file in the env").join("tmt-config");
    cmd.env("TMT_CONFIG_DIR", scratch);
    let out = cmd.output().expect("run check_results.py");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), said)
}

/// Writes `text` to `<env>/name` and asserts that tmt reads it as a valid
/// custom results file whose logs are in `data_dir`.
#[track_caller]
pub fn assert_tmt_reads(env: &Env, name: &str, text: &str, data_dir: Option<&Path>) {
    let file = env.write(name, text);
    let (code, said) = tmt_check(&file, data_dir);
    assert_eq!(code, 0, "tmt does not take it: {said}\n--- {name}\n{text}");
    assert!(said.contains("results valid"), "{said}");
}

/// Runs `runtask ARGS` with `$TMT_TEST_DATA` set to `data_dir`.
pub fn run_in_tmt(env: &Env, data_dir: &Path, args: &[&str]) -> Ran {
    let out = env
        .cmd(args)
        .env("TMT_TEST_DATA", data_dir)
        .output()
        .expect("spawn runtask");
    Ran::from(out)
}

/// tmt results on stdout, as JSON values.
pub fn tmt_results(ran: &Ran) -> Vec<Value> {
    serde_norway::from_str(&ran.stdout).unwrap_or_else(|e| {
        panic!(
            "not YAML ({e})\n--- stdout\n{}\n--- stderr\n{}",
            ran.stdout, ran.stderr
        )
    })
}

/// The `note` lines of a tmt result, joined.
fn note(result: &Value) -> String {
    result["note"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[test]
fn the_checker_refuses_what_tmt_would_not_take() {
    let env = Env::new();
    for bad in [
        "- name: no-slash\n  result: pass\n",
        "- name: /a\n  result: passed\n",
        "- name: /a\n  result: pass\n  note: a string\n",
        "- name: /a\n  result: pass\n  note:\n  - 2024-01-01\n",
        "- name: /a\n  result: pass\n  start-time: 2024-01-01T00:00:00.0+00:00\n",
        "- name: /a\n  result: pass\n  log:\n  - /etc/passwd\n",
        "- name: /a\n  result: pass\n  log:\n  - missing.log\n",
        "- name: /a\n  result: pass\n  outcome: PASSED\n",
    ] {
        let file = env.write("bad.yaml", bad);
        let (code, said) = tmt_check(&file, Some(env.dir.path()));
        assert_eq!(code, 1, "took {bad:?}: {said}");
    }
}

#[test]
fn a_crashed_run_is_an_error_with_its_log() {
    let env = Env::new();
    let data = env.path("tmt-data");
    let task = env.write("panic.json", r#"{"action":"panic"}"#);
    let mut args = vec![
        "run",
        HOSTILE,
        "--data",
        task.to_str().unwrap(),
        "--format",
        "tmt",
    ];
    args.extend_from_slice(HOSTILE_GRANTS);
    let ran = run_in_tmt(&env, &data, &args);
    ran.expect(4);
    let results = tmt_results(&ran);
    assert_eq!(results.len(), 2, "{}", ran.stdout);
    let (run, crashed) = (&results[0], &results[1]);
    assert_eq!(run["name"], "/");
    assert_eq!(run["result"], "error");
    assert!(note(run).contains(": crashed"), "{run}");
    assert!(note(run).contains("panics on purpose"), "{run}");
    // The run's log artifact, copied in, its taskhost.log first.
    let log = run["log"][0].as_str().expect("the run log");
    assert!(
        log.starts_with("taskhost/") && log.ends_with("/taskhost.log"),
        "{log}"
    );
    let text = std::fs::read_to_string(data.join(log)).expect("copied log");
    assert!(text.contains("panics on purpose"), "{text}");
    // The result the host adds for a crashed run.
    assert_eq!(crashed["name"], "/hostile/hostile");
    assert_eq!(crashed["result"], "error");
    assert!(
        note(crashed).contains("taskhost outcome: CRASHED"),
        "{crashed}"
    );
    assert_tmt_reads(&env, "crashed.yaml", &ran.stdout, Some(&data));
}

#[test]
fn a_refused_run_and_bad_input_still_give_tmt_an_error_result() {
    let env = Env::new();
    let data = env.path("tmt-data");
    let task = env.write("blhc.json", r#"{"input": {"artifact": "x.build"}}"#);
    let task = task.to_str().unwrap();
    // Refused by the policy: a report with status refused.
    let ran = run_in_tmt(
        &env,
        &data,
        &["run", "blhc", "--data", task, "--format", "tmt"],
    );
    ran.expect(3);
    let results = tmt_results(&ran);
    assert_eq!(results.len(), 1, "{}", ran.stdout);
    assert_eq!(results[0]["result"], "error");
    assert!(
        note(&results[0]).contains("blhc --debian **"),
        "{}",
        ran.stdout
    );
    assert_tmt_reads(&env, "refused.yaml", &ran.stdout, Some(&data));

    // No report at all: the error runtask prints.
    for (args, code, why) in [
        (
            vec!["run", "blhc", "--data", "missing.json", "--format", "tmt"],
            2,
            "cannot read task_data file missing.json",
        ),
        (
            vec!["run", "no-such-plugin", "--format", "tmt"],
            2,
            "no-such-plugin",
        ),
    ] {
        let ran = run_in_tmt(&env, &data, &args);
        ran.expect(code);
        let results = tmt_results(&ran);
        assert_eq!(results.len(), 1, "{}", ran.stdout);
        assert_eq!(results[0]["name"], "/");
        assert_eq!(results[0]["result"], "error");
        assert!(note(&results[0]).contains(why), "{}", ran.stdout);
        assert!(ran.stderr.contains(why), "{}", ran.stderr);
        assert_tmt_reads(&env, "no-report.yaml", &ran.stdout, Some(&data));
    }
    // Other formats print nothing then, as before.
    let ran = env.run(&["run", "no-such-plugin", "--format", "junit"]);
    ran.expect(2);
    assert_eq!(ran.stdout, "");
}

/// Items and check names a plugin (here, a ResultYAML given to the
/// resultsdb directive) may write.
const HOSTILE_ITEMS: &[&str] = &[
    "../../etc/passwd",
    "two\nlines: x",
    "2024-01-01",
    "..",
    "a b/c %41 (x)",
    "- [not, a, list]",
    "é\u{7f}",
];

#[test]
fn a_formula_in_a_tmt_test_lists_hostile_results_and_its_kept_logs() {
    let env = Env::new();
    let rdb = ResultsDb::start();
    let data = env.path("tmt-data");
    let outcomes = [
        "PASSED",
        "FAILED",
        "NEEDS_INSPECTION",
        "INFO",
        "ABORTED",
        "CRASHED",
        "PASSED",
    ];
    let results: Vec<Value> = HOSTILE_ITEMS
        .iter()
        .zip(outcomes)
        .map(|(item, outcome)| {
            serde_json::json!({
                "item": item, "type": "koji_build", "outcome": outcome,
                "checkname": format!("dist.{item}"), "note": item,
                "artifact": "artifacts/saved.json",
            })
        })
        .collect();
    let results = serde_norway::to_string(&serde_json::json!({ "results": results })).unwrap();
    let formula = serde_json::json!({
        "name": "hostile",
        "actions": [
            {"name": "save", "echo": {"msg": "hi", "save": "artifacts/saved.json"}},
            {"name": "report", "resultsdb": {"resultsdb_url": rdb.url, "results": results}},
        ],
    });
    let formula = serde_norway::to_string(&formula).unwrap();
    let formula = env.write("task/runtask.yml", &formula);
    let policy = format!(
        "[plugins.resultsdb]\nurls = [\"{}/\"]\n\n{}",
        rdb.url,
        crate::echo_pin()
    );
    let policy = env.write("policy.toml", &policy);
    let plugins = crate::formula::echo_plugin_dir(&env);
    let ran = run_in_tmt(
        &env,
        &data,
        &[
            "-i",
            "foo-1.0-1.fc40",
            "-t",
            "koji_build",
            "--uuid",
            "u1",
            "--artifactsdir",
            data.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--plugin-dir",
            &plugins,
            "--format",
            "tmt",
            formula.to_str().unwrap(),
        ],
    );
    ran.expect(100);
    let results = tmt_results(&ran);
    assert_eq!(results.len(), HOSTILE_ITEMS.len() + 1, "{}", ran.stdout);
    let run = &results[0];
    assert_eq!(run["name"], "/");
    assert_eq!(run["result"], "error", "a CRASHED result is the worst");
    assert_eq!(
        run["log"],
        serde_json::json!(["u1/runtask.log", "u1/results.yaml"])
    );
    let want = ["pass", "fail", "warn", "info", "error", "error", "pass"];
    for (i, item) in HOSTILE_ITEMS.iter().enumerate() {
        let r = &results[i + 1];
        let checkname = format!("dist.{item}");
        assert_eq!(r["ids"]["item"], *item);
        assert_eq!(r["ids"]["checkname"], checkname);
        assert_eq!(r["result"], want[i], "{r}");
        let name = r["name"].as_str().expect("name");
        assert_eq!(
            name,
            format!(
                "/{}/{}",
                taskhost::report::tmt::segment(&checkname),
                taskhost::report::tmt::segment(item)
            )
        );
        assert_eq!(name.matches('/').count(), 2, "{name}");
        assert!(!name.contains(['\n', ' ']), "{name}");
        assert!(note(r).starts_with(item), "{r}");
        assert_eq!(r["log"], serde_json::json!(["u1/saved.json"]));
    }
    assert!(data.join("u1/saved.json").is_file());
    assert!(
        !data.join("taskhost").exists(),
        "the kept logs are not copied"
    );
    assert_tmt_reads(&env, "formula.yaml", &ran.stdout, Some(&data));
}

#[test]
fn tmt_runs_a_custom_result_test_and_takes_runtasks_results() {
    let env = Env::new();
    let tree = env.path("tree");
    env.write("tree/.fmf/version", "1\n");
    env.write(
        "tree/plans/ci.fmf",
        "discover:\n    how: fmf\nprovision:\n    how: local\nexecute:\n    how: tmt\n",
    );
    env.write(
        "tree/tests/blhc.fmf",
        "summary: blhc through taskhost\nresult: custom\ntest: |\n    \
         \"$RUNTASK\" run blhc --data \"$BLHC_DATA\" --allow-exec 'blhc --debian **' \
         --allow-backend local --format tmt > \"$TMT_TEST_DATA/results.yaml\"\n",
    );
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/blhc");
    let data = env.write(
        "blhc.yaml",
        &format!(
            "input:\n  artifact: {}\n",
            examples.join("hello-th_1.0_amd64.build").display()
        ),
    );
    let workdir = env.path("tmt-run");
    let pass = |var: &str, value: &Path| format!("{var}={}", value.display());
    let out = std::process::Command::new(venv().join("bin/tmt"))
        .current_dir(&tree)
        .env("TMT_CONFIG_DIR", env.path("tmt-config"))
        .env("TMT_WORKDIR_ROOT", env.path("tmt-workdirs"))
        .args(["--feeling-safe", "run", "--id"])
        .arg(&workdir)
        .arg("--environment")
        .arg(pass("RUNTASK", Path::new(env!("CARGO_BIN_EXE_runtask"))))
        .arg("--environment")
        .arg(pass("BLHC_DATA", &data))
        .arg("--environment")
        .arg(pass("TASKHOST_STORE", &env.store()))
        .arg("--environment")
        .arg(pass("XDG_CONFIG_HOME", &env.path("config")))
        .args(["-a", "provision", "-h", "local", "report", "-vvv"])
        .output()
        .expect("run tmt (see the install hint of the other tmt tests)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // tmt exits 1 when a test failed, as blhc's does here.
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(!said.contains("Result format violation"), "{said}");
    let execute = workdir.join("plans/ci/execute");
    let text = std::fs::read_to_string(execute.join("results.yaml")).expect("tmt's results");
    let results: Vec<Value> = serde_norway::from_str(&text).expect("YAML");
    let names: Vec<_> = results
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        names,
        ["/tests/blhc", "/tests/blhc/blhc/hello-th_1.0_amd64.build"],
        "{text}"
    );
    for r in &results {
        assert_eq!(r["result"], "fail", "{r}");
        let logs = r["log"].as_array().expect("logs");
        assert!(!logs.is_empty(), "{r}");
        for log in logs {
            let path = execute.join(log.as_str().unwrap());
            assert!(path.is_file(), "{}", path.display());
        }
    }
    assert!(note(&results[1]).contains("missing"), "{}", results[1]);
}

#[test]
fn a_run_stopped_by_sigterm_is_an_error_result() {
    use crate::processes::{wait_at_most, wait_for_lines};
    let env = Env::new();
    let started = env.path("started");
    let script = format!("echo up > '{}'; sleep 300", started.display());
    let task = env.write(
        "task.json",
        &serde_json::json!({"action": "exec", "argv": ["sh", "-c", script]}).to_string(),
    );
    let mut args = vec![
        "run",
        HOSTILE,
        "--data",
        task.to_str().unwrap(),
        "--format",
        "tmt",
    ];
    args.extend_from_slice(HOSTILE_GRANTS);
    let mut child = env
        .cmd(&args)
        .env("TMT_TEST_DATA", env.path("tmt-data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn runtask");
    wait_for_lines(&started, 1, &mut child);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let (ran, ended) = wait_at_most(child, std::time::Duration::from_secs(20));
    assert!(ended, "runtask did not stop on SIGTERM");
    ran.expect(1);
    let results = tmt_results(&ran);
    assert_eq!(results.len(), 1, "{}", ran.stdout);
    assert_eq!(results[0]["name"], "/");
    assert_eq!(results[0]["result"], "error");
    assert!(note(&results[0]).contains("SIGTERM"), "{}", ran.stdout);
    assert_tmt_reads(&env, "stopped.yaml", &ran.stdout, None);
}
