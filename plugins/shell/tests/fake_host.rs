//! `run` against the SDK's fake host: the argv of each command line, the
//! backend, what it returns and logs, and each way it fails.

use serde_json::{Value, json};
use taskhost_plugin_shell::Shell;
use taskhost_sdk::directive::Output;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{self, FakeHost, Invocation, Reply, Run};
use taskhost_sdk::{Error, Result};

fn host(commands: Value) -> FakeHost {
    FakeHost::new().task_data(json!({ "commands": commands }))
}

fn run(host: FakeHost) -> Run<Output> {
    host.run_directive::<Shell>(&testing::context())
}

/// The directive's value: the text `stdout`, as JSON.
fn returned(stdout: &str) -> Result<Output> {
    Ok(Output {
        value: serde_json::to_string(stdout).expect("JSON"),
        exit_code: None,
    })
}

fn failed(run: &Run<Output>) -> &str {
    match &run.status {
        Err(Error::Failed(m)) => m,
        other => panic!("not Failed: {other:?}"),
    }
}

/// `n` numbered lines, `prefix 1` to `prefix n`, each ending in a newline.
fn lines(prefix: &str, n: usize) -> String {
    (1..=n).map(|i| format!("{prefix} {i}\n")).collect()
}

#[test]
fn each_line_runs_as_plain_argv_in_order_and_the_last_stdout_is_returned() {
    let run = run(host(json!([
        "rpmlint -c rpmlint.toml 'foo 1.rpm'",
        ["make", "-C", "tests", "check"],
        "cat results.txt",
    ]))
    .reply(
        "rpmlint **",
        Reply::exit(0).stdout(
            "foo.x86_64: W: no-manual-page-for-binary foo\n\
             1 packages and 0 specfiles checked; 0 errors, 1 warnings.\n",
        ),
    )
    .reply("make -C tests check", Reply::exit(0))
    .reply("cat results.txt", Reply::exit(0).stdout("PASSED\n")));
    assert_eq!(run.status, returned("PASSED\n"));
    assert_eq!(
        run.commands,
        [
            vec!["rpmlint", "-c", "rpmlint.toml", "foo 1.rpm"],
            vec!["make", "-C", "tests", "check"],
            vec!["cat", "results.txt"],
        ]
    );
    assert_eq!(run.backends, ["local"]);
    // Nothing but the argv: no env, cwd, stdin, output files or timeout of
    // its own (the policy's applies), not as root.
    let plain = |argv: &[&str]| Invocation {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        env: vec![],
        cwd: None,
        stdin: None,
        stdout: None,
        stderr: None,
        timeout_ms: None,
        run_as_root: false,
        backend: "local".into(),
    };
    assert_eq!(
        run.invocations,
        [
            plain(&["rpmlint", "-c", "rpmlint.toml", "foo 1.rpm"]),
            plain(&["make", "-C", "tests", "check"]),
            plain(&["cat", "results.txt"]),
        ]
    );
    assert!(run.artifacts.is_empty() && run.results.is_empty() && run.relations.is_empty());
    // Each command is logged as it starts (quoted back), then the end of
    // what it printed; a command that printed nothing logs no output.
    let log: Vec<&str> = run.log.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        log,
        [
            "commands[0]: rpmlint -c rpmlint.toml 'foo 1.rpm'",
            "commands[0] printed:\nfoo.x86_64: W: no-manual-page-for-binary foo\n\
             1 packages and 0 specfiles checked; 0 errors, 1 warnings.",
            "commands[1]: make -C tests check",
            "commands[2]: cat results.txt",
            "commands[2] printed:\nPASSED",
        ]
    );
    assert!(run.log.iter().all(|(l, _)| *l == Level::Info));
}

#[test]
fn shell_syntax_is_not_interpreted_only_quotes_and_backslashes() {
    let run = run(host(json!([
        "echo a;b | cat > out && $(id) $HOME *.txt",
        "printf '%s\\n' \"two words\" back\\ slash",
    ]))
    .reply("echo **", Reply::exit(0))
    .reply("printf **", Reply::exit(0)));
    assert_eq!(run.status, returned(""));
    assert_eq!(
        run.commands,
        [
            vec![
                "echo", "a;b", "|", "cat", ">", "out", "&&", "$(id)", "$HOME", "*.txt"
            ],
            vec!["printf", "%s\\n", "two words", "back slash"],
        ]
    );
}

#[test]
fn an_argv_list_is_taken_as_it_is_with_numbers_and_booleans_as_text() {
    let run = run(host(json!([
        ["sleep", 1.5],
        ["test", "a b", "=", "a b"],
        ["flag", true, 0]
    ]))
    .reply("sleep 1.5", Reply::exit(0))
    .reply("test * = *", Reply::exit(0))
    .reply("flag true 0", Reply::exit(0).stdout("done")));
    assert_eq!(run.status, returned("done"));
    assert_eq!(
        run.commands,
        [
            vec!["sleep", "1.5"],
            vec!["test", "a b", "=", "a b"],
            vec!["flag", "true", "0"]
        ]
    );
    // The log shows each argv quoted back as one line.
    let log: Vec<&str> = run.log.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        log,
        [
            "commands[0]: sleep 1.5",
            "commands[1]: test 'a b' '=' 'a b'",
            "commands[2]: flag true 0",
            "commands[2] printed:\ndone",
        ]
    );
}

#[test]
fn the_value_is_the_last_commands_stdout_even_when_it_prints_nothing() {
    let run = run(host(json!(["uname -m", "true"]))
        .reply("uname -m", Reply::exit(0).stdout("x86_64\n"))
        .reply("true", Reply::exit(0)));
    assert_eq!(run.status, returned(""));
    assert_eq!(run.commands, [vec!["uname", "-m"], vec!["true"]]);
}

#[test]
fn only_the_last_twenty_lines_of_stdout_are_logged_but_all_is_returned() {
    let out = lines("line", 25);
    let run = run(host(json!(["seq 25"])).reply("seq 25", Reply::exit(0).stdout(out.clone())));
    assert_eq!(run.status, returned(&out));
    let tail = (6..=25)
        .map(|i| format!("line {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(run.log[1].1, format!("commands[0] printed:\n{tail}"));
}

#[test]
fn output_cut_at_the_host_s_limit_is_said_to_be_cut() {
    let run = self::run(
        host(json!(["seq 1000000", "true"]))
            .reply("seq 1000000", Reply::exit(0).stdout("1\n2\n").truncated())
            .reply("true", Reply::exit(0)),
    );
    assert_eq!(run.status, returned(""));
    assert_eq!(
        run.log_text(Level::Warn),
        "commands[0] `seq 1000000` printed more than the host keeps (`output-limit` in the \
         policy): its output was cut there"
    );
    // The value is what the host kept, and says nothing itself.
    let run = self::run(
        host(json!(["seq 1000000"]))
            .reply("seq 1000000", Reply::exit(0).stdout("1\n2\n").truncated()),
    );
    assert_eq!(run.status, returned("1\n2\n"));
    // A failing command's cut stderr: the warning, then the failure.
    let run = self::run(
        host(json!(["make"])).reply(
            "make",
            Reply::exit(2)
                .stderr("make: *** [all] Error 1\n")
                .truncated(),
        ),
    );
    assert_eq!(
        failed(&run),
        "commands[0] `make` exited with code 2; its stderr ends with:\nmake: *** [all] Error 1"
    );
    assert_eq!(
        run.log_text(Level::Warn),
        "commands[0] `make` printed more than the host keeps (`output-limit` in the policy): \
         its output was cut there"
    );
}

#[test]
fn a_non_zero_exit_fails_with_the_stderr_tail_and_stops_the_list() {
    let run = run(host(json!([
        "echo first",
        "cp /nonexistent/taskhost here",
        "echo never"
    ]))
    .reply("echo first", Reply::exit(0).stdout("first\n"))
    .reply(
        "cp **",
        Reply::exit(1)
            .stdout("ignored\n")
            .stderr("cp: cannot stat '/nonexistent/taskhost': No such file or directory\n"),
    ));
    assert_eq!(
        failed(&run),
        "commands[1] `cp /nonexistent/taskhost here` exited with code 1; its stderr ends with:\n\
         cp: cannot stat '/nonexistent/taskhost': No such file or directory"
    );
    // `echo never` has no reply: running it would have panicked.
    assert_eq!(
        run.commands,
        [
            vec!["echo", "first"],
            vec!["cp", "/nonexistent/taskhost", "here"]
        ]
    );
    assert!(!run.log_text(Level::Debug).contains("ignored"));
}

#[test]
fn a_failure_shows_only_the_last_twenty_lines_of_stderr() {
    let run = run(host(json!(["make check"])).reply(
        "make check",
        Reply::exit(2).stderr(lines("make: *** error", 30)),
    ));
    let expected = format!(
        "commands[0] `make check` exited with code 2; its stderr ends with:\n{}",
        (11..=30)
            .map(|i| format!("make: *** error {i}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(failed(&run), expected);
}

#[test]
fn a_killed_or_timed_out_command_says_so_and_a_silent_one_says_no_stderr() {
    let cases = [
        (
            Reply::exit(3),
            "commands[0] `./check.sh --all` exited with code 3 (no stderr)",
        ),
        (
            Reply::signal(11),
            "commands[0] `./check.sh --all` was killed by signal 11 (no stderr)",
        ),
        (
            Reply::timed_out(),
            "commands[0] `./check.sh --all` ran past its time limit (no stderr)",
        ),
        (
            Reply::timed_out().stderr("still waiting for the VM...\n"),
            "commands[0] `./check.sh --all` ran past its time limit; its stderr ends with:\n\
             still waiting for the VM...",
        ),
        (
            Reply::exit(1).stderr("\n\n"),
            "commands[0] `./check.sh --all` exited with code 1 (no stderr)",
        ),
    ];
    for (reply, says) in cases {
        let run = run(host(json!(["./check.sh --all"])).reply("./check.sh --all", reply));
        assert_eq!(failed(&run), says);
        assert_eq!(run.commands, [vec!["./check.sh", "--all"]]);
    }
}

#[test]
fn a_denied_command_ends_the_action_naming_the_line_after_the_granted_ones_ran() {
    let run = run(host(json!([
        "echo granted first",
        "echo not granted",
        "echo never"
    ]))
    .reply("echo granted **", Reply::exit(0).stdout("granted first\n"))
    .deny_exec("echo not **"));
    assert_eq!(
        run.status,
        Err(Error::AccessDenied(
            "commands[1] `echo not granted`: plugin may not run `echo not granted`: \
             denied (simulated by FakeHost)"
                .into()
        ))
    );
    assert_eq!(run.commands, [vec!["echo", "granted", "first"]]);
    assert_eq!(
        run.denied,
        ["plugin may not run `echo not granted`: denied (simulated by FakeHost)"]
    );
}

#[test]
fn a_denied_backend_ends_the_action_before_any_command() {
    let run = run(host(json!(["echo hi"])).deny_backend("local"));
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
        let run = run(host(json!(["hostname"]))
            .auto_backend(backend)
            .reply("hostname", Reply::exit(0).stdout("testvm\n")));
        assert_eq!(run.status, returned("testvm\n"));
        assert_eq!(run.backends, [backend]);
    }
    let run = run(host(json!(["hostname"]))
        .auto_backend("ssh")
        .deny_backend("ssh"));
    assert!(
        matches!(&run.status, Err(Error::AccessDenied(m)) if m.contains("backend `ssh`")),
        "{:?}",
        run.status
    );
}

#[test]
fn bad_lines_are_refused_naming_them_before_the_backend_opens() {
    let cases = [
        (
            json!([]),
            "param `commands` is empty: give at least one command line",
        ),
        (
            json!(["echo ok", "echo 'unclosed"]),
            "commands[1] `echo 'unclosed`: ",
        ),
        (json!(["echo ok", "   "]), "commands[1] names no program"),
        (json!([[]]), "commands[0] names no program"),
        (json!([["", "x"]]), "commands[0] names no program"),
        (json!(["''"]), "commands[0] names no program"),
        (
            json!([{"run": "make"}]),
            "commands[0] must be a command line (text) or an argv list, not {\"run\":\"make\"}",
        ),
        (
            json!([7]),
            "commands[0] must be a command line (text) or an argv list, not 7",
        ),
        (
            json!([["echo", ["x"]]]),
            "commands[0]: an argv list holds text only, found [\"x\"]",
        ),
        (
            json!([["echo", null]]),
            "commands[0]: an argv list holds text only, found null",
        ),
    ];
    for (commands, says) in cases {
        let run = run(host(commands.clone()));
        assert!(
            matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with(says)),
            "{commands}: {:?}",
            run.status
        );
        assert!(run.commands.is_empty(), "{commands}");
        assert!(run.backends.is_empty(), "{commands}");
    }
    let run = run(host(json!(["echo 'unclosed"])));
    assert!(
        matches!(&run.status, Err(Error::Invalid(m)) if m.ends_with("(quote it as a shell would)")),
        "{:?}",
        run.status
    );
}

#[test]
fn bad_params_are_refused_naming_the_key() {
    let cases = [
        (json!({}), "params: missing field `commands`"),
        (
            json!({"commands": "echo hi"}),
            "params: commands: invalid type: string \"echo hi\", expected a sequence",
        ),
        (
            json!({"commands": ["echo hi"], "cwd": "tests"}),
            "params: unknown key 'cwd' (extra fields not permitted)",
        ),
    ];
    for (params, says) in cases {
        let run = FakeHost::new()
            .task_data(params.clone())
            .run_directive::<Shell>(&testing::context());
        assert!(
            matches!(&run.status, Err(Error::Invalid(m)) if m.starts_with(says)),
            "{params}: {:?}",
            run.status
        );
        assert!(run.commands.is_empty() && run.backends.is_empty());
    }
}
