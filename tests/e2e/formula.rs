//! Task formulas (`runtask -i ITEM -t TYPE runtask.yml`) with the echo test
//! directive (tests/plugins/echo-directive) and a real task plugin (blhc).

use crate::blhc::build_package;
use crate::{Env, Ran, report};
use serde_json::Value;
use std::path::PathBuf;

/// The echo directive, as `echo.wasm` in a plugin directory of `env`,
/// pinned by the user's policy; its `save` writes what it was given to a
/// workspace file.
pub fn echo_plugin_dir(env: &Env) -> String {
    let dir = env.path("plugins");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(
        env!("TASKHOST_TEST_PLUGIN_ECHO_DIRECTIVE"),
        dir.join("echo.wasm"),
    )
    .expect("copy the echo plugin");
    env.write("config/taskhost/policy.toml", &crate::echo_pin());
    dir.display().to_string()
}

/// Runs `formula` for koji build `foo-1.0-1.fc40` on x86_64 with uuid
/// `u1`; artifacts go to `<env>/art/u1`.
fn formula(env: &Env, formula: &str, extra: &[&str]) -> Ran {
    let file = env.write("task/runtask.yml", formula);
    let plugins = echo_plugin_dir(env);
    let art = env.path("art").display().to_string();
    let mut args = vec![
        "-i",
        "foo-1.0-1.fc40",
        "-t",
        "koji_build",
        "-a",
        "x86_64",
        "-j",
        "42",
        "--uuid",
        "u1",
        "--artifactsdir",
        &art,
        "--plugin-dir",
        &plugins,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let file = file.display().to_string();
    args.push(&file);
    env.run(&args)
}

fn artifacts(env: &Env) -> PathBuf {
    env.path("art/u1")
}

fn saved(env: &Env, name: &str) -> Value {
    let path = artifacts(env).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn exports_flow_between_actions_and_the_artifacts_are_kept() {
    let env = Env::new();
    let ran = formula(
        &env,
        "\
name: flow
desc: two echoes
maintainer: tests
namespace: qa
input:
  args: [koji_build, arch]
actions:
  - name: first
    echo:
      msg: hello $koji_build
      count: 3
      arch: $arch
    export: first_out
  - name: second
    echo:
      msg: ${first_out.msg} again ($$5)
      data: ${first_out}
      flag: true
      mode: slow
      save: ${artifactsdir}/second.json
",
        &[],
    );
    ran.expect(0);
    let second = saved(&env, "second.json");
    assert_eq!(second["msg"], "hello foo-1.0-1.fc40 again ($5)", "{second}");
    // A lone placeholder keeps the exported structure.
    assert_eq!(second["data"]["count"], 3);
    assert_eq!(second["data"]["arch"], serde_json::json!(["x86_64"]));
    assert_eq!(second["flag"], true);
    assert_eq!(second["mode"], "slow");
    assert_eq!(
        second["context"],
        serde_json::json!({
            "workdir": ".", "artifactsdir": "artifacts", "checkname": "flow", "namespace": "qa",
            "item": "foo-1.0-1.fc40", "type": "koji_build", "arch": "x86_64",
            "jobid": "42", "uuid": "u1",
        })
    );
    let report = report(&ran);
    assert_eq!(report["task"], "flow");
    assert_eq!(report["status"], "success");
    let results_file = artifacts(&env).join("results.yaml");
    assert_eq!(report["results_file"], results_file.display().to_string());
    assert_eq!(
        std::fs::read_to_string(results_file).expect("results.yaml"),
        "results: []\n"
    );
    let log = std::fs::read_to_string(artifacts(&env).join("runtask.log")).expect("log");
    assert!(log.contains("action 2/2: second (echo)"), "{log}");
}

#[test]
fn the_exit_code_directive_output_decides_the_exit_code() {
    let env = Env::new();
    let text = |code: u8| {
        format!(
            "name: codes\nactions:\n  - name: a\n    echo: {{msg: x, exit: 0}}\n  - name: b\n    echo: {{msg: y, exit: {code}}}\n"
        )
    };
    formula(&env, &text(100), &[]).expect(100);
    formula(&env, &text(0), &[]).expect(0);
    let ran = formula(&env, &text(7), &[]);
    ran.expect(1);
    assert!(
        ran.stderr
            .contains("exit code 7; a formula's exit code is 0 or 100"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_failing_action_stops_the_formula_and_is_named() {
    let env = Env::new();
    let ran = formula(
        &env,
        "name: stops\nactions:\n  - name: breaks\n    echo: {msg: x, fail: the koji hub is down}\n  - name: never\n    echo: {msg: y, save: artifacts/never.json}\n",
        &[],
    );
    ran.expect(1);
    let report = report(&ran);
    assert_eq!(report["status"], "error");
    assert_eq!(report["failed_stage"], "breaks");
    assert_eq!(report["error"], "action 'breaks': the koji hub is down");
    assert_eq!(report["results"][0]["outcome"], "ABORTED");
    assert!(!artifacts(&env).join("never.json").exists());
}

#[test]
fn a_task_plugin_is_an_action_with_its_task_data_as_params() {
    let env = Env::new();
    let log = build_package(&env, "formula-blhc", "gcc -O2 -o hello hello.c");
    let ran = formula(
        &env,
        &format!(
            "\
name: hardening
actions:
  - name: check
    blhc:
      input:
        artifact: {}
    export: check
  - name: after
    echo:
      msg: ${{check.status}}
      data: ${{check.results}}
      save: artifacts/after.json
",
            log.display()
        ),
        &[
            "--allow-exec",
            "blhc --debian **",
            "--allow-backend",
            "local",
        ],
    );
    // blhc's FAILED result decides the exit code (no exitcode action).
    ran.expect(100);
    let report = report(&ran);
    assert_eq!(report["status"], "success");
    assert_eq!(report["results"][0]["checkname"], "blhc");
    assert_eq!(report["results"][0]["outcome"], "FAILED");
    assert!(
        report["artifacts"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{report}"
    );
    let after = saved(&env, "after.json");
    assert_eq!(after["msg"], "failure");
    let results = after["data"].as_str().expect("ResultYAML text");
    assert!(
        results.starts_with("results:\n") && results.contains("outcome: FAILED"),
        "{results}"
    );
    // The formula's provenance: the formula's digest, both plugins, what
    // the blhc action created, and the blhc run (with its own statement).
    let statement = &report["provenance"];
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    let definition = &statement["predicate"]["buildDefinition"];
    assert_eq!(definition["buildType"], "https://taskhost.dev/formula/v1");
    let deps = definition["resolvedDependencies"].as_array().expect("deps");
    let text = std::fs::read(env.path("task/runtask.yml")).expect("formula");
    assert_eq!(
        deps[0]["digest"]["sha256"],
        taskhost::manifest::digest(&text),
        "the formula's sha256"
    );
    let names: Vec<&str> = deps.iter().filter_map(|d| d["name"].as_str()).collect();
    assert!(
        names.contains(&"plugin:blhc") && names.contains(&"plugin:echo"),
        "{names:?}"
    );
    assert!(
        !statement["subject"]
            .as_array()
            .expect("subjects")
            .is_empty(),
        "{statement}"
    );
    let byproducts = statement["predicate"]["runDetails"]["byproducts"]
        .as_array()
        .expect("byproducts");
    assert_eq!(byproducts.len(), 1, "the blhc task run: {byproducts:?}");
    let task_run = byproducts[0]["name"].as_str().unwrap_or_default();
    let task_run = task_run.strip_prefix("run/").expect("run/ID");
    assert!(
        env.store()
            .join("runs")
            .join(task_run)
            .join("provenance.json")
            .is_file(),
        "the task action's own statement"
    );
}

#[test]
fn a_plugin_without_its_grants_refuses_the_whole_formula() {
    let env = Env::new();
    let ran = formula(
        &env,
        "name: refused\nactions:\n  - name: first\n    echo: {msg: x, save: artifacts/first.json}\n  - name: check\n    blhc: {input: {artifact: 1}}\n",
        &[],
    );
    ran.expect(3);
    assert!(ran.stdout.contains("blhc --debian **"), "{}", ran.stdout);
    assert!(!artifacts(&env).join("first.json").exists(), "nothing ran");
}

fn refused(env: &Env, text: &str, extra: &[&str]) -> String {
    let ran = formula(env, text, extra);
    ran.expect(2);
    ran.stderr
}

#[test]
fn bad_formulas_name_the_file_line_column_action_and_key() {
    let env = Env::new();
    let file = env.path("task/runtask.yml").display().to_string();
    let cases = [
        ("name: x\n", "1:1: the formula has no `actions` key"),
        (
            "name: x\nactions:\n  - name: a\n    echo: {msg: $nope}\n",
            "4:17: action 'a': undefined variable 'nope'",
        ),
        (
            "name: x\nactions:\n  - name: a\n    echo: {msg: x}\n    export: out\n  - name: b\n    echo: {msg: \"${later}\"}\n  - name: c\n    echo: {msg: x}\n    export: later\n",
            "7:17: action 'b': undefined variable 'later'",
        ),
        (
            "name: x\nactions:\n  - name: a\n    echo:\n      msg: hi\n      count: many\n",
            "6:14: action 'a': param `count` must be an integer, not the string 'many'",
        ),
        (
            "name: x\nactions:\n  - name: a\n    echo:\n      count: 2\n",
            "4:5: action 'a': the required param `msg` is missing (a message)",
        ),
        (
            "name: x\nactions:\n  - name: a\n    echo: {msg: hi, mode: medium}\n",
            "action 'a': param `mode` is the string 'medium'; it must be one of: fast, slow",
        ),
        (
            "name: x\nactions:\n  - name: a\n    echo: {msg: hi, colour: red}\n",
            "action 'a': unknown param `colour` (it takes: msg, data, count",
        ),
        (
            "name: x\nactions:\n  - name: a\n    kojii: {action: download}\n",
            "4:5: action 'a': unknown directive 'kojii'",
        ),
        (
            "name: x\nactions:\n  - name: a\n    echo: {msg: hi $}\n",
            "action 'a': invalid placeholder",
        ),
        ("name: x\nactions: [\n", "not valid YAML"),
        (
            "name: x\ninput: {args: [bodhi_update]}\nactions:\n  - name: a\n    echo: {msg: hi}\n",
            "2:16: input.args needs 'bodhi_update'",
        ),
    ];
    for (text, expected) in cases {
        let stderr = refused(&env, text, &[]);
        assert!(stderr.contains(&file), "{text}\n{stderr}");
        assert!(
            stderr.contains(expected),
            "{text}\nexpected {expected}\n{stderr}"
        );
    }
}

#[test]
fn a_variable_is_checked_again_once_substituted() {
    let env = Env::new();
    // `${out.count}` exists only at run time; it is a number, not a list.
    let ran = formula(
        &env,
        "name: x\nactions:\n  - name: a\n    echo: {msg: x}\n    export: out\n  - name: b\n    echo: {msg: y, flag: \"${out.count}\"}\n  - name: c\n    echo: {msg: \"${out.nothing}\"}\n",
        &[],
    );
    ran.expect(1);
    let file = env.path("task/runtask.yml").display().to_string();
    assert_eq!(
        report(&ran)["error"],
        format!("{file}:7:26: action 'b': param `flag` must be true or false, not the number 1")
    );
}

#[test]
fn missing_environment_packages_and_remote_runs_are_refused_clearly() {
    let env = Env::new();
    let stderr = refused(
        &env,
        "name: x\nenvironment:\n  deb: [taskhost-no-such-package]\nactions:\n  - name: a\n    echo: {msg: hi}\n",
        &[],
    );
    assert!(
        stderr.contains("the Debian packages taskhost-no-such-package are not installed (apt-get install taskhost-no-such-package)"),
        "{stderr}"
    );
    let stderr = refused(
        &env,
        "name: x\nenvironment:\n  rpm: [taskhost-no-such-rpm]\nactions:\n  - name: a\n    echo: {msg: hi}\n",
        &[],
    );
    // `rpm` is installed by .ci/install-test-clients; without it the
    // check cannot run at all and says so.
    let have_rpm = std::process::Command::new("rpm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let want = if have_rpm {
        "environment: the RPM packages taskhost-no-such-rpm are not installed (dnf install taskhost-no-such-rpm)"
    } else {
        "environment: the formula needs the RPM packages taskhost-no-such-rpm and this host has no `rpm` to check them"
    };
    assert!(stderr.contains(want), "want {want:?} in\n{stderr}");
    let ok = "name: x\nactions:\n  - name: a\n    echo: {msg: hi}\n";
    // --ssh works (tests/e2e/ssh.rs); a bad target or key is refused.
    let stderr = refused(&env, ok, &["--ssh", "root@example.org;id"]);
    assert!(
        stderr.contains(
            "--ssh 'root@example.org;id' is not user@host[:port]: the host may hold only"
        ),
        "{stderr}"
    );
    let stderr = refused(
        &env,
        ok,
        &[
            "--ssh",
            "root@example.org",
            "--ssh-privkey",
            "/nonexistent/key",
        ],
    );
    assert!(
        stderr.contains("--ssh-privkey /nonexistent/key: No such file"),
        "{stderr}"
    );
    let stderr = refused(&env, ok, &["--libvirt"]);
    assert!(stderr.contains("--vm-image <ID>"), "{stderr}");
    let stderr = refused(&env, ok, &["--libvirt", "--vm-image", "999"]);
    assert!(stderr.contains("--vm-image 999: "), "{stderr}");
    let stderr = refused(&env, ok, &["--no-destroy"]);
    assert!(stderr.contains("--libvirt"), "{stderr}");
    formula(&env, ok, &["--local"]).expect(0);
}

#[test]
fn the_task_directory_is_copied_into_the_workspace() {
    let env = Env::new();
    env.write("task/check.txt", "hello\n");
    env.write("task/sub/inner.txt", "inner\n");
    env.write("task/.hidden", "not copied\n");
    env.write("task/artifacts/old.txt", "a previous run's\n");
    std::os::unix::fs::symlink("/etc/passwd", env.path("task/link")).expect("symlink");
    let ran = formula(
        &env,
        "name: files\nactions:\n  - name: list\n    shell: [ls -A -R .]\n",
        &["--allow-exec", "ls -A -R .", "--allow-backend", "local"],
    );
    ran.expect(0);
    let log = std::fs::read_to_string(artifacts(&env).join("runtask.log")).expect("log");
    let listing = &log[log.find("commands[0] printed:").expect("the listing")..];
    for copied in ["check.txt", "runtask.yml", "./sub:\n    | inner.txt"] {
        assert!(listing.contains(copied), "{copied} missing in\n{listing}");
    }
    for skipped in [".hidden", "link", "old.txt"] {
        assert!(!listing.contains(skipped), "{skipped} copied:\n{listing}");
    }
}

#[test]
fn a_task_directory_that_is_too_big_is_refused() {
    let env = Env::new();
    for i in 0..2001 {
        env.write(&format!("task/many/{i}.txt"), "x");
    }
    let ran = formula(
        &env,
        "name: big\nactions:\n  - name: a\n    echo: {msg: hi}\n",
        &[],
    );
    ran.expect(2);
    assert!(
        ran.stderr.contains(&format!(
            "the task's directory (the formula's, {}) holds more than 2000 files or 64 MiB",
            env.path("task").display()
        )),
        "{}",
        ran.stderr
    );
}

#[test]
fn formula_options_and_subcommands_do_not_mix_but_globals_go_anywhere() {
    let env = Env::new();
    let store = env.path("other-store").display().to_string();
    let ran = env.run(&["--store", &store, "artifact", "list", "--json"]);
    ran.expect(0);
    assert_eq!(ran.stdout.trim(), "[]");
    assert!(env.path("other-store").is_dir());
    let ran = env.run(&["--policy", "p.toml", "run", "blhc"]);
    ran.expect(2);
    assert!(
        ran.stderr.contains("--policy only applies to task formulas (runtask -i ITEM -t TYPE FORMULA); the options of `run` go after it"),
        "{}",
        ran.stderr
    );
    let ran = env.run(&["task/runtask.yml"]);
    ran.expect(2);
    assert!(ran.stderr.contains("--item <ITEM>"), "{}", ran.stderr);
}

#[test]
fn a_task_action_may_submit_child_runs() {
    let env = Env::new();
    let dir = env.path("plugins");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(crate::HOSTILE, dir.join("hostile.wasm")).expect("copy hostile");
    let sha = taskhost::manifest::digest(&std::fs::read(crate::HOSTILE).expect("hostile"));
    let policy = env.write(
        "policy.toml",
        &format!(
            "{}\n[plugins.hostile]\nsha256 = [\"{sha}\"]\nbackends = [\"local\"]\nsubmit = [\"hostile\"]\n",
            crate::echo_pin()
        ),
    );
    let ran = formula(
        &env,
        "\
name: parent
actions:
  - name: submit
    hostile:
      action: submit
      task: hostile
      data: {action: noop}
",
        &[
            &["--policy", policy.to_str().expect("utf-8")],
            crate::HOSTILE_GRANTS,
        ]
        .concat(),
    );
    ran.expect(0);
    let report = report(&ran);
    assert_eq!(
        report["results"][0]["note"], "new; Success 0 \"\"",
        "{report:#}"
    );
}
