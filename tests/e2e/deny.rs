//! Every way the hostile plugin asks for what it was not given, each
//! through the real `runtask` binary: the call is refused with a message
//! that says why, and the refusal is in the run's log.

use crate::{Env, HOSTILE_GRANTS, Ran, first_note, report};

/// HOSTILE_GRANTS without the `--allow-* VALUE` pair for `value`, plus
/// `extra`.
pub(crate) fn grants_without(value: &str, extra: &[&'static str]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for pair in HOSTILE_GRANTS.chunks(2) {
        if pair[1] != value {
            out.extend_from_slice(pair);
        }
    }
    assert_eq!(
        out.len() + 2,
        HOSTILE_GRANTS.len(),
        "{value:?} is not in HOSTILE_GRANTS"
    );
    out.extend_from_slice(extra);
    out
}

/// HOSTILE_GRANTS plus `extra`.
pub(crate) fn grants_with(extra: &[&'static str]) -> Vec<&'static str> {
    HOSTILE_GRANTS.iter().chain(extra).copied().collect()
}

/// A file of the run's `debusine:work-request-debug-logs` artifact, if
/// the artifact has it.
pub(crate) fn debug_log(env: &Env, ran: &Ran, file: &str) -> Option<String> {
    let id = report(ran)["log_artifact"]
        .as_u64()
        .unwrap_or_else(|| panic!("the report names no log artifact\n{}", ran.stdout));
    let artifact = env
        .artifacts()
        .into_iter()
        .find(|a| a["id"] == id)
        .expect("the log artifact is in the store");
    assert_eq!(artifact["category"], "debusine:work-request-debug-logs");
    let dir = env.path(&format!("log-{id}"));
    env.run(&[
        "artifact",
        "export",
        &id.to_string(),
        dir.to_str().expect("utf-8"),
    ])
    .expect(0);
    std::fs::read(dir.join(file))
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Asserts a run ended with the plugin's error `message` (exit 1): the
/// plugin got access-denied from the host and gave up with it.
#[track_caller]
fn assert_denied_at_call_time(ran: &Ran, message: &str) -> serde_json::Value {
    ran.expect(1);
    let r = report(ran);
    assert_eq!(r["status"], "error", "{}", ran.stdout);
    assert_eq!(r["failed_stage"], "run", "{}", ran.stdout);
    let error = r["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("access denied: "),
        "not an access-denied error: {error}"
    );
    assert!(
        error.contains(message),
        "error does not say {message:?}: {error}"
    );
    assert!(
        first_note(&r).contains(message),
        "result note does not say {message:?}: {}",
        first_note(&r)
    );
    assert_eq!(r["results"][0]["outcome"], "ABORTED");
    r
}

/// Asserts a run was refused by preflight (exit 3) before the plugin
/// started, and nothing was stored.
#[track_caller]
fn assert_refused_before_start(env: &Env, ran: &Ran, needles: &[&str]) {
    ran.expect(3);
    let r = report(ran);
    assert_eq!(r["status"], "refused", "{}", ran.stdout);
    assert_eq!(
        r["results"].as_array().map(Vec::len),
        Some(0),
        "{}",
        ran.stdout
    );
    assert!(r["log_artifact"].is_null(), "{}", ran.stdout);
    let error = r["error"].as_str().unwrap_or_default();
    for needle in needles {
        assert!(
            error.contains(needle),
            "refusal does not say {needle:?}:\n{error}"
        );
        assert!(
            ran.stderr.contains(needle),
            "stderr does not say {needle:?}:\n{}",
            ran.stderr
        );
    }
    assert_eq!(
        env.artifacts(),
        Vec::<serde_json::Value>::new(),
        "a refused run stored something"
    );
}

#[test]
fn a_program_the_plugin_did_not_declare_is_denied_and_the_denial_is_logged() {
    let env = Env::new();
    let ran = env.hostile(r#"{"action":"exec","argv":["ls","/"]}"#, HOSTILE_GRANTS);
    assert_denied_at_call_time(
        &ran,
        "plugin 'hostile' may not run `ls /`: not declared in its manifest (declared: `echo hello *`",
    );
    let log = debug_log(&env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        log.contains("WARN capability: denied run `ls /`: plugin 'hostile' may not run `ls /`"),
        "{log}"
    );
    assert!(
        !log.contains("running `ls /`"),
        "the host ran it anyway:\n{log}"
    );
}

#[test]
fn a_declared_program_with_no_grant_at_all_is_refused_before_the_plugin_starts() {
    let env = Env::new();
    // The plugin would leave this marker if any of its code ran.
    let marker = env.path("plugin-ran");
    let script = format!("echo yes > '{}'", marker.display());
    let data = serde_json::json!({"action": "exec", "argv": ["sh", "-c", script]}).to_string();
    let ran = env.hostile(&data, &grants_without("sleep *", &[]));
    assert_refused_before_start(
        &env,
        &ran,
        &[
            "plugin 'hostile' may not run `sleep *`: declared but not granted",
            "[plugins.hostile]",
            r#"exec = ["sleep *"]"#,
            "--allow-exec 'sleep *'",
        ],
    );
    assert!(
        !marker.exists(),
        "the plugin ran although the policy refused it"
    );
}

#[test]
fn a_started_command_is_checked_like_a_run_one() {
    let env = Env::new();
    let ran = env.hostile(
        r#"{"action":"start","argv":["ls","/"],"count":1,"wait":true}"#,
        HOSTILE_GRANTS,
    );
    assert_denied_at_call_time(
        &ran,
        "plugin 'hostile' may not run `ls /`: not declared in its manifest",
    );
    let log = debug_log(&env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        !log.contains("running `ls /`"),
        "the host started it anyway:\n{log}"
    );
}

#[test]
fn a_declared_program_granted_only_with_other_arguments_is_denied_at_call_time() {
    let env = Env::new();
    let grants = grants_without("cat **", &["--allow-exec", "cat /dev/null"]);
    // The grant is live: what it names runs.
    let ok = env.hostile(r#"{"action":"exec","argv":["cat","/dev/null"]}"#, &grants);
    ok.expect(0);
    assert_eq!(
        first_note(&report(&ok)),
        "code=Some(0) timed_out=false stdout="
    );

    let ran = env.hostile(
        r#"{"action":"exec","argv":["cat","/etc/hostname"]}"#,
        &grants,
    );
    assert_denied_at_call_time(
        &ran,
        "plugin 'hostile' may not run `cat /etc/hostname`: declared but not granted",
    );
    let log = debug_log(&env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(log.contains("denied run `cat /etc/hostname`"), "{log}");
}

#[test]
fn arguments_outside_the_declared_pattern_are_denied() {
    let env = Env::new();
    let ok = env.hostile(
        r#"{"action":"exec","argv":["echo","hello","world"]}"#,
        HOSTILE_GRANTS,
    );
    ok.expect(0);
    assert_eq!(
        first_note(&report(&ok)),
        "code=Some(0) timed_out=false stdout=hello world"
    );

    let ran = env.hostile(
        r#"{"action":"exec","argv":["echo","goodbye"]}"#,
        HOSTILE_GRANTS,
    );
    assert_denied_at_call_time(
        &ran,
        "may not run `echo goodbye`: not declared in its manifest",
    );
    // One argument too many for `echo hello *`.
    let ran = env.hostile(
        r#"{"action":"exec","argv":["echo","hello","a","b"]}"#,
        HOSTILE_GRANTS,
    );
    assert_denied_at_call_time(
        &ran,
        "may not run `echo hello a b`: not declared in its manifest",
    );
}

#[test]
fn a_deny_exec_flag_wins_over_an_allow() {
    let env = Env::new();
    let ran = env.hostile(
        r#"{"action":"exec","argv":["echo","hello","world"]}"#,
        &grants_with(&["--deny-exec", "echo hello world"]),
    );
    assert_denied_at_call_time(
        &ran,
        "plugin 'hostile' may not run `echo hello world`: denied by --deny-exec 'echo hello world'",
    );
}

#[test]
fn a_deny_exec_of_a_whole_program_refuses_the_run_before_it_starts() {
    let env = Env::new();
    let ran = env.hostile(
        r#"{"action":"noop"}"#,
        &grants_with(&["--deny-exec", "cat **"]),
    );
    assert_refused_before_start(
        &env,
        &ran,
        &["plugin 'hostile' may not run `cat **`: denied by --deny-exec 'cat **'"],
    );
}

#[test]
fn an_environment_variable_the_plugin_did_not_declare_is_denied() {
    let env = Env::new();
    let ran = env.hostile(
        r#"{"action":"exec","argv":["echo","hello","x"],"env":[["OTHER_VAR","1"]]}"#,
        HOSTILE_GRANTS,
    );
    assert_denied_at_call_time(
        &ran,
        "plugin 'hostile' may not read environment variable `OTHER_VAR`: not declared in its manifest (declared: HOSTILE_VAR)",
    );
    let log = debug_log(&env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        log.contains("denied run `echo hello x` with $OTHER_VAR"),
        "{log}"
    );
}

#[test]
fn a_declared_environment_variable_that_is_not_granted_refuses_the_run() {
    let env = Env::new();
    let ran = env.hostile(
        r#"{"action":"exec","argv":["echo","hello","x"],"env":[["HOSTILE_VAR","1"]]}"#,
        &grants_without("HOSTILE_VAR", &[]),
    );
    assert_refused_before_start(
        &env,
        &ran,
        &[
            "plugin 'hostile' may not read environment variable `HOSTILE_VAR`: declared but not granted",
            r#"env = ["HOSTILE_VAR"]"#,
            "--allow-env HOSTILE_VAR",
        ],
    );
}

#[test]
fn a_denied_environment_variable_refuses_the_run_even_when_allowed() {
    let env = Env::new();
    let ran = env.hostile(
        r#"{"action":"noop"}"#,
        &grants_with(&["--deny-env", "HOSTILE_VAR"]),
    );
    assert_refused_before_start(
        &env,
        &ran,
        &[
            "plugin 'hostile' may not read environment variable `HOSTILE_VAR`: denied by --deny-env HOSTILE_VAR",
        ],
    );
}

#[test]
fn a_denied_backend_refuses_the_run() {
    let env = Env::new();
    let ran = env.hostile(
        r#"{"action":"exec","argv":["echo","hello","x"]}"#,
        &grants_with(&["--deny-backend", "local"]),
    );
    assert_refused_before_start(
        &env,
        &ran,
        &["plugin 'hostile' may not use backend `local`: denied by --deny-backend local"],
    );
}

#[test]
fn a_backend_that_is_not_granted_refuses_the_run() {
    let env = Env::new();
    let ran = env.hostile(
        r#"{"action":"exec","argv":["echo","hello","x"]}"#,
        &grants_without("local", &[]),
    );
    assert_refused_before_start(
        &env,
        &ran,
        &[
            "plugin 'hostile' may not use backend `local`: declared but not granted",
            "--allow-backend local",
        ],
    );
}

/// Asserts the plugin's read was refused (it reports PASSED, "refused")
/// and none of `secrets` leaked onto runtask's stdout.
#[track_caller]
fn assert_read_refused(ran: &Ran, note_starts: &str, secrets: &[&str]) {
    ran.expect(0);
    let r = report(ran);
    let note = first_note(&r);
    assert_eq!(
        r["results"][0]["outcome"], "PASSED",
        "the plugin read it: {note}"
    );
    assert!(note.starts_with(note_starts), "note: {note}");
    assert!(
        note.contains("refused: ") && note.contains("(os error "),
        "note: {note}"
    );
    for secret in secrets {
        assert!(
            !ran.stdout.contains(secret),
            "{secret:?} leaked:\n{}",
            ran.stdout
        );
    }
}

const SECRET: &str = "host-secret-8c1f2e7a-do-not-leak";

/// A file holding [`SECRET`] outside the run's scratch dir (in a directory
/// of its own under the system's temp dir), readable by anyone.
fn secret_elsewhere() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir_in("/tmp").expect("tempdir");
    let path = dir.path().join("secret.txt");
    std::fs::write(&path, SECRET).expect("write secret");
    (dir, path.to_str().expect("utf-8").to_string())
}

#[test]
fn reading_a_parent_directory_path_is_refused() {
    let env = Env::new();
    // The workspaces live in $TMPDIR/taskhost-workspaces/RUN: `../x` is here.
    env.write("taskhost-workspaces/x", SECRET);
    let ran = env.hostile(r#"{"action":"read","path":"../x"}"#, HOSTILE_GRANTS);
    assert_read_refused(&ran, "refused: ", &[SECRET]);
}

#[test]
fn reading_an_absolute_path_is_refused() {
    let env = Env::new();
    let ran = env.hostile(
        r#"{"action":"read","path":"/etc/hostname"}"#,
        HOSTILE_GRANTS,
    );
    assert_read_refused(&ran, "refused: ", &[]);
    let (_dir, elsewhere) = secret_elsewhere();
    let data = serde_json::json!({"action": "read", "path": elsewhere}).to_string();
    let ran = env.hostile(&data, HOSTILE_GRANTS);
    assert_read_refused(&ran, "refused: ", &[SECRET]);

    let secret = env.write("secret.txt", SECRET);
    let data = serde_json::json!({"action": "read", "path": secret}).to_string();
    let ran = env.hostile(&data, HOSTILE_GRANTS);
    assert_read_refused(&ran, "refused: ", &[SECRET]);
}

#[test]
fn reading_through_a_symlink_planted_in_the_workspace_is_refused() {
    let env = Env::new();
    // "ln exit Some(0)": the link was really made; only the read failed.
    let (_dir, elsewhere) = secret_elsewhere();
    let data = serde_json::json!({"action": "symlink", "target": elsewhere}).to_string();
    let ran = env.hostile(&data, HOSTILE_GRANTS);
    assert_read_refused(&ran, "ln exit Some(0); read refused: ", &[SECRET]);

    let secret = env.write("secret.txt", SECRET);
    let data = serde_json::json!({"action": "symlink", "target": secret}).to_string();
    let ran = env.hostile(&data, HOSTILE_GRANTS);
    assert_read_refused(&ran, "ln exit Some(0); read refused: ", &[SECRET]);
}

/// Asserts all three artifact calls of the bad-artifact action were
/// denied for artifact `id`.
#[track_caller]
fn assert_artifact_calls_denied(ran: &Ran, id: u64) {
    ran.expect(0);
    let r = report(ran);
    let note = first_note(&r);
    assert_eq!(
        r["results"][0]["outcome"], "PASSED",
        "a call succeeded: {note}"
    );
    let why = format!(
        "(\"plugin 'hostile' may not use artifact `{id}`: it is neither an input of this run nor created by it\")"
    );
    let not_created = format!(
        "(\"plugin 'hostile' may not relate `{id} relates-to {id}`: artifact {id} was not created by this run\")"
    );
    assert!(
        note.starts_with(&format!("get=Err(Error::AccessDenied{why})")),
        "{note}"
    );
    assert!(
        note.contains(&format!("fetch=Err(Error::AccessDenied{why})")),
        "{note}"
    );
    assert!(
        note.contains(&format!("relate=Err(Error::AccessDenied{not_created})")),
        "{note}"
    );
}

#[test]
fn an_artifact_id_that_does_not_exist_is_denied_to_every_artifact_call() {
    let env = Env::new();
    let ran = env.hostile(r#"{"action":"bad-artifact","id":999999}"#, HOSTILE_GRANTS);
    assert_artifact_calls_denied(&ran, 999_999);
}

#[test]
fn an_artifact_that_is_not_an_input_of_the_run_is_denied_to_every_artifact_call() {
    let env = Env::new();
    let file = env.write("someone-elses.txt", "not yours\n");
    let imported = env.import(&file, "test:input");
    let id: u64 = imported.parse().expect("artifact id");

    let data = format!(r#"{{"action":"bad-artifact","id":{id}}}"#);
    let ran = env.hostile(&data, HOSTILE_GRANTS);
    assert_artifact_calls_denied(&ran, id);
    let a = env
        .artifacts()
        .into_iter()
        .find(|a| a["id"] == id)
        .expect("still stored");
    assert_eq!(a["relations"], serde_json::json!([]), "relate changed it");
    assert!(!ran.stdout.contains("not yours"));

    // The same artifact, given as the run's input, is readable.
    let ran = env.hostile(
        &format!(r#"{{"action":"input","artifact":{id}}}"#),
        HOSTILE_GRANTS,
    );
    ran.expect(0);
    // `artifacts.inputs` (API 0.2.0) lists it under its task_data key.
    assert_eq!(
        first_note(&report(&ran)),
        format!("test:input in/someone-elses.txt not yours inputs=artifact:{id}")
    );
}

#[test]
fn creating_an_artifact_of_an_undeclared_category_is_denied() {
    let env = Env::new();
    let ran = env.hostile(
        r#"{"action":"create","category":"test:other","file":"anything"}"#,
        HOSTILE_GRANTS,
    );
    assert_denied_at_call_time(
        &ran,
        r#"plugin 'hostile' may not create `test:other`: its manifest declares creates = ["test:hostile"]"#,
    );
    let categories: Vec<String> = env
        .artifacts()
        .iter()
        .map(|a| a["category"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(categories, ["debusine:work-request-debug-logs"]);
    let log = debug_log(&env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(log.contains("denied artifacts.create"), "{log}");
}

#[test]
fn a_grant_that_can_never_match_the_declared_pattern_refuses_the_run() {
    let env = Env::new();
    // `echo` is granted, but never as the plugin declares it (`echo hello *`).
    let grants = grants_without("echo hello *", &["--allow-exec", "echo goodbye *"]);
    let ran = env.hostile(r#"{"action":"exec","argv":["echo","hello","x"]}"#, &grants);
    assert_refused_before_start(
        &env,
        &ran,
        &[
            "plugin 'hostile' may not run `echo hello *`: declared but not granted",
            "--allow-exec 'echo hello *'",
        ],
    );
}

#[test]
fn a_backend_the_task_data_names_refuses_the_run_when_not_granted() {
    let env = Env::new();
    let wasm = std::fs::read(crate::unshare::ENVRUN).expect("envrun plugin");
    let digest = taskhost::manifest::digest(&wasm);
    let exec = crate::qemu::ENVRUN_EXEC;
    let policy = env.write(
        "policy-envrun.toml",
        &format!(
            "[plugins.envrun]\nsha256 = [\"{digest}\"]\nexec = [{exec}]\nbackends = [\"local\"]\n"
        ),
    );
    let data = |backend: &str| {
        env.write(
            &format!("envrun-{backend}.json"),
            &format!(r#"{{"backend":"{backend}","steps":[{{"run":{{"argv":["true"]}}}}]}}"#),
        )
    };
    let run = |backend: &str| {
        env.run(&[
            "run",
            crate::unshare::ENVRUN,
            "--policy",
            policy.to_str().expect("utf-8"),
            "--data",
            data(backend).to_str().expect("utf-8"),
            "--format",
            "json",
        ])
    };
    // The declared, ungranted one is refused before the plugin starts,
    // though another declared backend is granted.
    let ran = run("unshare");
    assert_refused_before_start(
        &env,
        &ran,
        &[
            "plugin 'envrun' may not use backend `unshare`: declared but not granted",
            "backends = [\"unshare\"]",
        ],
    );
    // The granted one runs.
    run("local").expect(0);
}

#[test]
fn plugin_check_reports_what_the_preflight_needs_without_running_the_plugin() {
    let env = Env::new();
    let check = |grants: &[&str]| {
        let mut args = vec!["plugin", "check", crate::HOSTILE];
        args.extend_from_slice(grants);
        env.run(&args)
    };
    // `echo` granted only as `echo goodbye *`: never a match.
    let ran = check(&grants_without(
        "echo hello *",
        &["--allow-exec", "echo goodbye *"],
    ));
    ran.expect(3);
    for needle in [
        "hostile 0.1.0 (task)",
        "built for taskhost API 0.2.1; this runtask speaks 0.1.0 and 0.2.1",
        "preflight: a run would be refused",
        "exec echo hello *: declared but not granted",
        "[plugins.hostile]",
        "exec = [\"echo hello *\"]",
    ] {
        assert!(
            ran.stdout.contains(needle),
            "no {needle:?} in\n{}",
            ran.stdout
        );
    }
    assert!(
        !ran.stdout.contains("cat **"),
        "granted, yet named:\n{}",
        ran.stdout
    );
    // A backend the run would open, declared but not granted.
    let ran = check(&grants_with(&["--backend", "ssh"]));
    ran.expect(0);
    let ran = check(&grants_without("local", &["--backend", "local"]));
    ran.expect(3);
    assert!(
        ran.stdout
            .contains("backend local: declared but not granted"),
        "{}",
        ran.stdout
    );
    // Everything granted: a run would start.
    let ran = check(crate::HOSTILE_GRANTS);
    ran.expect(0);
    assert!(
        ran.stdout.contains("preflight: a run would start"),
        "{}",
        ran.stdout
    );
    // Nothing ran: no run record, nothing stored.
    let runs = std::fs::read_dir(env.store().join("runs")).map_or(0, |d| d.count());
    assert_eq!(runs, 0, "plugin check made a run record");
    assert_eq!(env.artifacts(), Vec::<serde_json::Value>::new());
}
