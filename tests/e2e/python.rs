//! The `python` directive: a Taskotron task written the classic way
//! (`from libtaskotron import check`, CheckDetails, `export_YAML`) end to
//! end against the koji and ResultsDB test servers, its refusal without
//! a grant, and an exception's traceback.

use crate::koji::origin;
use crate::servers::{KojiHub, NEW_NVR, ResultsDb};
use crate::{Env, Ran, report};
use serde_json::{Value, json};

/// The task's code, as Taskotron tasks were written.
const RPMARCH_PY: &str = r#""""Every RPM of a koji build is built for the arch under test."""
import os
import subprocess

from libtaskotron import check


def built_for(path):
    query = ["rpm", "-qp", "--nosignature", "--queryformat", "%{ARCH}", path]
    return subprocess.run(query, capture_output=True, text=True, check=True).stdout


def run(koji_build, arch, rpmdir, artifactsdir, options):
    assert options == {"strict": True, "skip": [], "retries": 2}, options
    build = check.CheckDetail(koji_build, check.ReportType.KOJI_BUILD, checkname="rpmarch")
    details = [build]
    for name in sorted(os.listdir(rpmdir)):
        built = built_for(os.path.join(rpmdir, name))
        outcome = "PASSED" if built == arch else "FAILED"
        build.update_outcome(outcome)
        build.store("%s: built for %s" % (name, built))
        details.append(check.CheckDetail(name, "rpm", outcome, "built for %s" % built,
                                         checkname="rpmarch.rpm"))
    build.update_outcome("PASSED")  # a later pass does not hide a failure
    build.note = check.CheckDetail.create_multi_item_summary(details[1:])
    build.keyvals = {"rpms": len(details) - 1, "checked_arch": arch,
                     "arches": sorted(set(d.note.split()[-1] for d in details[1:]))}
    build.artifact = os.path.join(artifactsdir, "rpmarch.log")
    with open(build.artifact, "w") as f:
        f.write("\n".join(build.output) + "\n")
    exported = check.export_YAML(details)
    with open(os.path.join(artifactsdir, "exported.yaml"), "w") as f:
        f.write(exported)
    return exported
"#;

/// The formula, with the servers' URLs to fill in.
const RPMARCH_YML: &str = "name: rpmarch
desc: every RPM of a koji build is built for the arch under test
maintainer: taskhost developers
namespace: dist
input:
  args: [koji_build, arch]
environment:
  deb: [rpm]
actions:
  - name: download the build
    koji:
      action: download
      koji_build: ${koji_build}
      arch: ${arch}
      target_dir: ${workdir}/rpms
      koji_url: KOJI_URL
      pkgs_url: PKGS_URL
  - name: check the rpms
    python:
      file: rpmarch.py
      callable: run
      koji_build: ${koji_build}
      arch: ${arch}
      rpmdir: ${workdir}/rpms
      artifactsdir: ${artifactsdir}
      options: {strict: true, skip: [], retries: 2}
    export: rpmarch_output
  - name: report
    resultsdb:
      results: ${rpmarch_output}
      resultsdb_url: RESULTSDB_URL
      artifacts_url: https://artifacts.example.org/
  - name: set the exit code
    exitcode:
      result_worst: ${rpmarch_output}
";

/// The grant that lets the directive run rpmarch.py's `run`.
const RPMARCH_GRANT: &str = "python3 .taskhost/python/runner.py rpmarch.py run";

/// Runs `task/runtask.yml` for koji build [`NEW_NVR`] on x86_64, job
/// `uuid`, under `policy`; artifacts go to `<env>/art/<uuid>`.
fn run(env: &Env, policy: &str, uuid: &str) -> Ran {
    let policy = env.write("policy.toml", policy);
    let art = env.path("art");
    env.run(&[
        "-i",
        NEW_NVR,
        "-t",
        "koji_build",
        "-a",
        "x86_64",
        "--uuid",
        uuid,
        "--policy",
        policy.to_str().expect("utf-8"),
        "--artifactsdir",
        art.to_str().expect("utf-8"),
        "--format",
        "json",
        env.path("task/runtask.yml").to_str().expect("utf-8"),
    ])
}

fn python_policy(exec: &str) -> String {
    format!("[plugins.python]\nbackends = [\"local\"]\nexec = [{exec:?}]\n")
}

/// A keyval as ResultsDB's `data` holds it: a list of text, one per value.
fn as_data(v: &Value) -> Value {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match v {
        Value::Array(values) => values.iter().map(text).collect(),
        other => json!([text(other)]),
    }
}

#[test]
fn a_classic_taskotron_task_reports_what_export_yaml_produced_to_resultsdb() {
    let env = Env::new();
    let hub = KojiHub::start();
    let rdb = ResultsDb::start();
    env.write("task/rpmarch.py", RPMARCH_PY);
    env.write(
        "task/runtask.yml",
        &RPMARCH_YML
            .replace("KOJI_URL", &hub.url)
            .replace("PKGS_URL", &hub.topurl)
            .replace("RESULTSDB_URL", &rdb.url),
    );
    let policy = format!(
        "[plugins.koji]\nurls = [{:?}]\n\n{}\n[plugins.resultsdb]\nurls = [{:?}]\n",
        origin(&hub.url),
        python_policy(RPMARCH_GRANT),
        rdb.url
    );
    let ran = run(&env, &policy, "job-py");
    // The noarch -docs package is not built for x86_64: FAILED, exit 100.
    ran.expect(100);
    assert_eq!(report(&ran)["status"], "success", "{}", ran.stdout);

    // What export_YAML produced, as the task saved it.
    let kept = env.path("art/job-py");
    let exported = std::fs::read_to_string(kept.join("exported.yaml")).expect("exported.yaml");
    let exported: Value = serde_norway::from_str(&exported).expect("ResultYAML");
    let exported = exported["results"].as_array().expect("results").clone();
    assert_eq!(exported.len(), 3, "{exported:#?}");
    assert_eq!(
        exported[0],
        json!({
            "item": NEW_NVR, "type": "koji_build", "outcome": "FAILED",
            "note": "1 PASSED, 1 FAILED", "checkname": "rpmarch",
            "artifact": "artifacts/rpmarch.log", "rpms": 2, "checked_arch": "x86_64",
            "arches": ["noarch", "x86_64"],
        })
    );
    assert_eq!(
        exported[1..],
        [
            json!({"item": "taskhost-demo-1.0-1.fc40.x86_64.rpm", "type": "rpm", "outcome": "PASSED",
                   "note": "built for x86_64", "checkname": "rpmarch.rpm"}),
            json!({"item": "taskhost-demo-docs-1.0-1.fc40.noarch.rpm", "type": "rpm", "outcome": "FAILED",
                   "note": "built for noarch", "checkname": "rpmarch.rpm"}),
        ]
    );

    // ResultsDB received each of them, field by field.
    let received = rdb.results();
    assert_eq!(received.len(), exported.len(), "{received:#?}");
    for e in &exported {
        let testcase = format!("dist.{}", e["checkname"].as_str().expect("checkname"));
        let r = received
            .iter()
            .find(|r| r["data"]["item"] == as_data(&e["item"]) && r["testcase"]["name"] == testcase)
            .unwrap_or_else(|| panic!("{e} not in {received:#?}"));
        assert_eq!(r["outcome"], e["outcome"], "{r}");
        assert_eq!(r["note"], e["note"], "{r}");
        assert_eq!(r["data"]["type"], as_data(&e["type"]), "{r}");
        assert_eq!(r["data"]["arch"], json!(["x86_64"]), "{r}");
        assert_eq!(r["groups"], json!(["job-py"]), "{r}");
        let reserved = ["item", "type", "outcome", "note", "checkname", "artifact"];
        for (k, v) in e.as_object().expect("a result").iter() {
            if !reserved.contains(&k.as_str()) {
                assert_eq!(r["data"][k], as_data(v), "keyval {k} of {r}");
            }
        }
        if e.get("artifact").is_some() {
            assert_eq!(
                r["ref_url"], "https://artifacts.example.org/job-py/rpmarch.log",
                "{r}"
            );
        }
    }

    // The task's artifact is kept and its printed lines are in the log.
    let log = std::fs::read_to_string(kept.join("rpmarch.log")).expect("rpmarch.log");
    assert!(
        log.contains("taskhost-demo-docs-1.0-1.fc40.noarch.rpm: built for noarch"),
        "{log}"
    );
    let runlog = std::fs::read_to_string(kept.join("runtask.log")).expect("runtask.log");
    assert!(runlog.contains("calling run() in rpmarch.py"), "{runlog}");
    assert!(
        runlog.contains("rpmarch.py printed:\n")
            && runlog.contains("| taskhost-demo-docs-1.0-1.fc40.noarch.rpm: built for noarch"),
        "{runlog}"
    );
}

/// A formula of one python action calling `callable` in `file`.
fn one_call(env: &Env, file: &str, code: &str, callable: &str) {
    env.write(&format!("task/{file}"), code);
    env.write(
        "task/runtask.yml",
        &format!(
            "name: one\nactions:\n  - name: call it\n    python:\n      file: {file}\n      \
             callable: {callable}\n      who: ${{koji_build}}\n    export: out\n  \
             - name: after\n    dummy:\n      result: FAIL\n      msg: never reached\n"
        ),
    );
}

const HELLO_PY: &str = "def hello(who):\n    print('hello', who)\n    return who\n";

#[test]
fn the_python_directive_without_its_grant_is_refused_naming_the_lines_to_add() {
    let env = Env::new();
    one_call(&env, "hello.py", HELLO_PY, "hello");

    // Nothing granted: refused before anything runs.
    let ran = run(&env, "[plugins.dummy]\n", "job-deny");
    ran.expect(3);
    let error = report(&ran)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for part in [
        "plugin 'python' may not run `python3 .taskhost/python/runner.py **`: declared but not granted",
        "[plugins.python]",
        "exec = [\"python3 .taskhost/python/runner.py **\"]",
        "--allow-exec 'python3 .taskhost/python/runner.py **'",
        "--allow-backend local",
    ] {
        assert!(error.contains(part), "{part:?} not in\n{error}");
    }

    // Another task file granted: this one is refused as it is called,
    // with the grant for it alone.
    let ran = run(
        &env,
        &python_policy("python3 .taskhost/python/runner.py other.py *"),
        "job-deny",
    );
    ran.expect(1);
    let report = report(&ran);
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(
            "action 'call it': access denied: the task's python file 'hello.py' (callable `hello`) \
             is not granted: plugin 'python' may not run \
             `python3 .taskhost/python/runner.py hello.py hello`: declared but not granted"
        ),
        "{error}"
    );
    assert!(
        error.ends_with(
            "to grant this file alone: exec = [\"python3 .taskhost/python/runner.py hello.py *\"] \
             in the same table, or pass --allow-exec 'python3 .taskhost/python/runner.py hello.py *'"
        ),
        "{error}"
    );
    assert_eq!(report["failed_stage"], "call it");

    // That grant is enough: the call runs (and the next action fails on purpose).
    let ran = run(
        &env,
        &python_policy("python3 .taskhost/python/runner.py hello.py *"),
        "job-deny",
    );
    ran.expect(1);
    assert_eq!(
        crate::report(&ran)["failed_stage"],
        "after",
        "{}",
        ran.stdout
    );
    let runlog = std::fs::read_to_string(env.path("art/job-deny/runtask.log")).expect("log");
    assert!(
        runlog.contains(&format!("hello.py printed:\n    | hello {NEW_NVR}")),
        "{runlog}"
    );
}

#[test]
fn an_exception_fails_the_action_with_its_python_traceback_in_the_log() {
    let env = Env::new();
    let code = "import json\n\n\ndef check(who):\n    print('checking', who)\n    \
                return json.loads('{not json')\n";
    one_call(&env, "broken.py", code, "check");
    let ran = run(
        &env,
        &python_policy("python3 .taskhost/python/runner.py broken.py check"),
        "job-tb",
    );
    ran.expect(1);
    let report = report(&ran);
    assert_eq!(report["status"], "error", "{report}");
    assert_eq!(report["failed_stage"], "call it", "{report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(
            "action 'call it': check() in broken.py raised JSONDecodeError:\n\
             Traceback (most recent call last):\n  File "
        ),
        "{error}"
    );
    assert!(error.contains("broken.py\", line 6, in check\n"), "{error}");
    assert!(
        error.ends_with("json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        "{error}"
    );
    assert!(!error.contains("runner.py"), "{error}");
    // The run's log holds the traceback and what the task printed; the
    // next action never ran.
    let runlog = std::fs::read_to_string(env.path("art/job-tb/runtask.log")).expect("log");
    assert!(
        runlog.contains("| Traceback (most recent call last):")
            && runlog.contains("broken.py\", line 6, in check"),
        "{runlog}"
    );
    assert!(
        runlog.contains(&format!("| checking {NEW_NVR}")),
        "{runlog}"
    );
    assert!(!runlog.contains("never reached"), "{runlog}");
    assert_eq!(report["results"][0]["outcome"], "ABORTED", "{report}");
    // The result's note is one line: where it failed, and the exception.
    assert_eq!(
        report["results"][0]["note"],
        "action 'call it': check() in broken.py raised JSONDecodeError: … \
         json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: \
         line 1 column 2 (char 1)",
        "{report}"
    );
}

#[test]
fn a_missing_file_or_an_interpreter_that_vanishes_is_named() {
    let env = Env::new();
    let grant = python_policy("python3 .taskhost/python/runner.py **");
    one_call(
        &env,
        "gone.py",
        "import os\n\n\ndef die(who):\n    print('bye', who, flush=True)\n    os._exit(5)\n",
        "die",
    );
    let ran = run(&env, &grant, "job-gone");
    ran.expect(1);
    assert_eq!(
        report(&ran)["error"],
        format!(
            "action 'call it': python3 exited with code 5 before die() in gone.py returned; \
             its output ends with:\nbye {NEW_NVR}"
        )
    );

    std::fs::remove_file(env.path("task/gone.py")).expect("rm");
    let ran = run(&env, &grant, "job-gone");
    ran.expect(1);
    assert_eq!(
        report(&ran)["error"],
        "action 'call it': not found: param `file`: 'gone.py' is not in the task's directory \
         (the formula's directory, copied into the workspace)"
    );
}
