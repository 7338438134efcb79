//! Bad input gets a clear message and a non-zero exit, never a panic, and
//! leaves nothing behind: no artifacts, no run files, no workspaces.

use crate::{Env, HOSTILE, HOSTILE_GRANTS, Ran, WRONG_API};

const BLHC_GRANTS: &[&str] = &[
    "--allow-exec",
    "blhc --debian **",
    "--allow-backend",
    "local",
];

/// Asserts exit `code`, every needle on stderr, no panic, and a store
/// holding exactly `artifacts` artifacts, whole.
#[track_caller]
fn assert_clean_failure(env: &Env, ran: &Ran, code: i32, needles: &[&str], artifacts: usize) {
    ran.expect(code);
    assert!(
        !ran.stderr.contains("panicked"),
        "runtask panicked:\n{}",
        ran.stderr
    );
    let error = ran
        .stderr
        .lines()
        .find(|l| l.starts_with("runtask: error: "))
        .unwrap_or_else(|| {
            panic!("no `runtask: error:` line on stderr:\n{}", ran.stderr);
        });
    for needle in needles {
        assert!(
            ran.stderr.contains(needle),
            "stderr does not say {needle:?}:\n{}",
            ran.stderr
        );
    }
    assert!(
        ran.stdout.trim().is_empty(),
        "printed a report for bad input ({error}):\n{}",
        ran.stdout
    );
    assert_eq!(env.artifacts().len(), artifacts, "artifacts were written");
    let verify = env.run(&["artifact", "verify"]);
    verify.expect(0);
    for dir in ["store/runs", "taskhost-workspaces"] {
        let left: Vec<_> = std::fs::read_dir(env.path(dir))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "left behind in {dir}: {left:?}");
    }
}

/// `runtask run blhc` with `data` as task_data (file `name`).
fn blhc(env: &Env, name: &str, data: &str) -> Ran {
    env.write(
        "hello_1.0_amd64.build",
        "dpkg-buildpackage: info: source package hello\n",
    );
    let path = env.write(name, data);
    let mut args = vec!["run", "blhc", "--data", path.to_str().expect("utf-8")];
    args.extend_from_slice(BLHC_GRANTS);
    env.run(&args)
}

#[test]
fn an_unknown_task_data_key_is_named() {
    let env = Env::new();
    let ran = blhc(
        &env,
        "task.json",
        r#"{"input":{"artifact":"hello_1.0_amd64.build"},"bogus_key":1}"#,
    );
    // Where the key is in the user's file, not in the host's JSON.
    let file = env.path("task.json").display().to_string();
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[&format!(
            "runtask: error: {file}:1:47: blhc: task_data: unknown key 'bogus_key'"
        )],
        0,
    );
}

#[test]
fn a_task_data_value_of_the_wrong_type_names_the_key() {
    let env = Env::new();
    let ran = blhc(
        &env,
        "task.yaml",
        "input: {artifact: hello_1.0_amd64.build}\nextra_flags: --all\n",
    );
    let file = env.path("task.yaml").display().to_string();
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[&format!(
            "{file}:2:14: blhc: task_data: extra_flags: invalid type: string \"--all\", expected a sequence\n"
        )],
        0,
    );
    assert!(!ran.stderr.contains("at line"), "{}", ran.stderr);
}

#[test]
fn a_missing_required_key_is_named() {
    let env = Env::new();
    let ran = blhc(&env, "task.json", "{}");
    assert_clean_failure(
        &env,
        &ran,
        2,
        &["blhc: task_data: missing field `input`"],
        0,
    );
    let ran = blhc(&env, "task.json", r#"{"input":{}}"#);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &["blhc: task_data: input: missing field `artifact`"],
        0,
    );
}

#[test]
fn a_missing_task_data_file_is_named() {
    let env = Env::new();
    let missing = env.path("no-such-task.yaml");
    let missing = missing.to_str().expect("utf-8");
    let mut args = vec!["run", "blhc", "--data", missing];
    args.extend_from_slice(BLHC_GRANTS);
    let ran = env.run(&args);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[&format!(
            "cannot read task_data file {missing}: No such file or directory"
        )],
        0,
    );
}

#[test]
fn task_data_that_is_not_valid_yaml_or_json_is_refused() {
    let env = Env::new();
    let ran = blhc(&env, "task.yaml", "input: [artifact: {\n");
    assert_clean_failure(
        &env,
        &ran,
        2,
        &["task_data ", "task.yaml: ", "at line 2 column 1"],
        0,
    );
    let ran = blhc(&env, "task.json", r#"{"input": "#);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &["task.json: EOF while parsing a value at line 1 column 10"],
        0,
    );
    let ran = blhc(&env, "task.yaml", "- just\n- a list\n");
    assert_clean_failure(
        &env,
        &ran,
        2,
        &["task.yaml: expected a mapping of keys to values"],
        0,
    );
}

#[test]
fn a_missing_input_file_names_the_key_and_the_file() {
    let env = Env::new();
    let ran = blhc(
        &env,
        "task.json",
        r#"{"input":{"artifact":"/nonexistent.build"}}"#,
    );
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[
            "blhc: input.artifact: '/nonexistent.build' is neither an artifact id nor a readable file: No such file or directory",
        ],
        0,
    );
}

#[test]
fn an_input_artifact_of_the_wrong_category_is_refused() {
    let env = Env::new();
    let file = env.write("notes.txt", "not a build log\n");
    let imported = env.import(&file, "test:input");
    let id = imported.as_str();
    let ran = blhc(
        &env,
        "task.json",
        &format!(r#"{{"input":{{"artifact":{id}}}}}"#),
    );
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[
            r#"blhc: input.artifact: unexpected artifact category: 'test:input'. Valid categories: ["debian:package-build-log"]"#,
        ],
        1,
    );
}

#[test]
fn an_unsupported_blhc_flag_is_refused() {
    let env = Env::new();
    let ran = blhc(
        &env,
        "task.json",
        r#"{"input":{"artifact":"hello_1.0_amd64.build"},"extra_flags":["--color"]}"#,
    );
    assert_clean_failure(
        &env,
        &ran,
        2,
        &["blhc: extra_flags: unsupported flag '--color'; supported: --all"],
        0,
    );
    let ran = blhc(
        &env,
        "task.json",
        r#"{"input":{"artifact":"hello_1.0_amd64.build"},"extra_flags":["--arch"]}"#,
    );
    assert_clean_failure(
        &env,
        &ran,
        2,
        &["unsupported flag '--arch' (write it as --arch=VALUE)"],
        0,
    );
}

/// `runtask run PLUGIN` with harmless task_data and the hostile grants.
fn run_plugin(env: &Env, plugin: &str, extra: &[&str]) -> Ran {
    let data = env.write("task.json", r#"{"action":"noop"}"#);
    let mut args = vec!["run", plugin, "--data", data.to_str().expect("utf-8")];
    args.extend_from_slice(HOSTILE_GRANTS);
    args.extend_from_slice(extra);
    env.run(&args)
}

fn write_bytes(env: &Env, name: &str, bytes: &[u8]) -> String {
    let path = env.path(name);
    std::fs::write(&path, bytes).expect("write");
    path.to_str().expect("utf-8").to_string()
}

#[test]
fn a_corrupt_wasm_file_is_refused() {
    let env = Env::new();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = write_bytes(&env, "x.wasm", &garbage);
    let ran = run_plugin(&env, &path, &[]);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[&format!(
            "plugin {path}: not a valid WebAssembly component: magic header not detected"
        )],
        0,
    );
}

#[test]
fn a_truncated_wasm_file_is_refused() {
    let env = Env::new();
    let whole = std::fs::read(HOSTILE).expect("hostile plugin");
    for len in [9, whole.len() / 3, whole.len() - 1] {
        let path = write_bytes(&env, "truncated.wasm", &whole[..len]);
        let ran = run_plugin(&env, &path, &[]);
        assert_clean_failure(
            &env,
            &ran,
            2,
            &[&format!(
                "plugin {path}: not a valid WebAssembly component: "
            )],
            0,
        );
    }
}

#[test]
fn a_core_module_is_refused_as_not_a_component() {
    let env = Env::new();
    let path = write_bytes(&env, "core.wasm", b"\0asm\x01\0\0\0");
    let ran = run_plugin(&env, &path, &[]);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &["this is a core WebAssembly module, not a component; build the plugin for wasm32-wasip2"],
        0,
    );
}

#[test]
fn a_file_that_is_not_wasm_at_all_is_refused() {
    let env = Env::new();
    let path = write_bytes(&env, "notes.wasm", b"#!/bin/sh\necho I am a shell script\n");
    let ran = run_plugin(&env, &path, &[]);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &["not a valid WebAssembly component: magic header not detected"],
        0,
    );
    let dir = env.path("plugin-dir.wasm");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let ran = run_plugin(&env, dir.to_str().expect("utf-8"), &[]);
    assert_clean_failure(&env, &ran, 2, &["cannot read plugin file"], 0);
}

#[test]
fn a_plugin_built_for_another_api_version_is_refused() {
    let env = Env::new();
    let ran = run_plugin(&env, WRONG_API, &[]);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &["the plugin was built for taskhost API 0.3.0, but this runtask speaks 0.1.0 and 0.2.1"],
        0,
    );
}

#[test]
fn a_policy_file_with_a_toml_syntax_error_names_the_file_and_line() {
    let env = Env::new();
    let policy = env.write(
        "policy.toml",
        "[plugins.hostile]\nexec = [\"echo hello *\"\nbackends = [\"local\"]\n",
    );
    let policy = policy.to_str().expect("utf-8");
    let ran = run_plugin(&env, HOSTILE, &["--policy", policy]);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[&format!(
            "runtask: error: {policy}: TOML parse error at line 3, column 1"
        )],
        0,
    );
}

#[test]
fn a_policy_file_with_an_unknown_key_names_the_key() {
    let env = Env::new();
    let policy = env.write(
        "policy.toml",
        "[plugins.hostile]\nexec = [\"echo hello *\"]\nallow-everything = true\n",
    );
    let policy = policy.to_str().expect("utf-8");
    let ran = run_plugin(&env, HOSTILE, &["--policy", policy]);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[
            &format!("{policy}: TOML parse error at line 3"),
            "unknown field `allow-everything`, expected one of `sha256`, `exec`",
        ],
        0,
    );
    // The same in the user's default policy file, found without --policy.
    let policy = env.write(
        "config/taskhost/policy.toml",
        "[defaults]\nexec = [\"cat **\"]\n",
    );
    let ran = run_plugin(&env, HOSTILE, &[]);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[
            &format!("{}: TOML parse error at line 2", policy.display()),
            "unknown field `exec`",
        ],
        0,
    );
}

#[test]
fn an_exec_grant_with_a_double_star_in_the_middle_is_refused() {
    let env = Env::new();
    let ran = run_plugin(&env, HOSTILE, &["--allow-exec", "echo ** hello"]);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[
            "exec pattern \"echo ** hello\": invalid exec pattern `echo ** hello`: `**` is only allowed as the last token",
        ],
        0,
    );
}

#[test]
fn an_unknown_plugin_name_suggests_plugin_list() {
    let env = Env::new();
    let ran = run_plugin(&env, "no-such-plugin", &[]);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[
            "no plugin named 'no-such-plugin'; shipped: autopkgtest, blhc, bodhi",
            "(see `runtask plugin list`)",
        ],
        0,
    );
}

#[test]
fn plugin_inspect_prints_the_hostile_plugins_manifest() {
    let env = Env::new();
    let ran = env.run(&["plugin", "inspect", HOSTILE]);
    ran.expect(0);
    for line in [
        "name:     hostile",
        "api:      0.2.1",
        "exec:     echo hello *, cat **, sleep *, sh -c *",
        "env:      HOSTILE_VAR",
        "creates:  test:hostile",
        "input:    artifact (test:input)",
    ] {
        assert!(
            ran.stdout.lines().any(|l| l == line),
            "no line {line:?}:\n{}",
            ran.stdout
        );
    }
    let ran = env.run(&["plugin", "inspect", "--json", HOSTILE]);
    ran.expect(0);
    let info: serde_json::Value = serde_json::from_str(&ran.stdout).expect("JSON");
    assert_eq!(info["name"], "hostile");
    assert_eq!(
        info["exec"],
        serde_json::json!(["echo hello *", "cat **", "sleep *", "sh -c *"])
    );
}

#[test]
fn plugin_inspect_of_a_corrupt_file_fails_cleanly() {
    let env = Env::new();
    let path = write_bytes(&env, "x.wasm", b"\0asm\x0d\0\x01\0garbage garbage garbage");
    let ran = env.run(&["plugin", "inspect", &path]);
    assert_clean_failure(
        &env,
        &ran,
        2,
        &[&format!(
            "runtask: error: {path}: not a valid WebAssembly component"
        )],
        0,
    );
}
