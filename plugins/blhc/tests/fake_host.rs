//! `execute` against the SDK's fake host: the commands it runs, what it
//! stores, and each way it fails.

use serde_json::json;
use taskhost_plugin_blhc::Blhc;
use taskhost_sdk::testing::{FakeHost, Input, Reply, Run};
use taskhost_sdk::{Error, Outcome, Status};

const LOG: u64 = 7;

fn host() -> FakeHost {
    FakeHost::new()
        .task_data(json!({"input": {"artifact": LOG}}))
        .input(
            Input::new(LOG, "debian:package-build-log")
                .data(json!({"filename": "hello_1.0_amd64.build"}))
                .file("hello_1.0_amd64.build", "gcc -O2 -c hello.c\n"),
        )
}

fn blhc(reply: Reply) -> Run<Status> {
    host().reply("blhc --debian **", reply).execute::<Blhc>()
}

#[test]
fn a_clean_log_passes_and_the_report_relates_to_the_log() {
    let run = blhc(Reply::exit(0));
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        run.commands,
        [["blhc", "--debian", "input/hello_1.0_amd64.build"]]
    );
    assert_eq!(run.backends, ["local"]);
    let report = &run.artifacts[0];
    assert_eq!(report.category, "debian:blhc");
    assert_eq!(report.data, json!({"exit_code": 0, "warnings": {}}));
    assert_eq!(report.files[0].0, "blhc.txt");
    assert_eq!(run.relations[0].source, report.id);
    assert_eq!(run.relations[0].target, LOG);
    let result = &run.results[0];
    assert_eq!(result.item, "hello_1.0_amd64.build");
    assert_eq!(result.outcome, Outcome::Passed);
    assert_eq!(result.note.as_deref(), Some("no missing hardening flags"));
    assert_eq!(result.keyval("blhc_exit_code"), Some("0"));
}

#[test]
fn missing_flags_fail_the_check_and_are_counted() {
    let out = "CFLAGS missing (-Wformat): gcc -c a.c\nCFLAGS missing (-g): gcc -c b.c\n";
    let run = blhc(Reply::exit(4).stdout(out));
    assert_eq!(run.status, Ok(Status::Failure));
    assert_eq!(run.results[0].outcome, Outcome::Failed);
    assert_eq!(run.results[0].note.as_deref(), Some("2 CFLAGS missing"));
    assert_eq!(run.artifacts[0].data["warnings"]["CFLAGS missing"], 2);
    assert_eq!(run.artifacts[0].files[0].1, out.as_bytes());
}

#[test]
fn no_compiler_commands_is_info() {
    let run = blhc(Reply::exit(1));
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.results[0].outcome, Outcome::Info);
    assert_eq!(
        run.results[0].note.as_deref(),
        Some("no compiler commands found")
    );
}

#[test]
fn extra_flags_go_before_the_log() {
    let run = host()
        .task_data(json!({"input": {"artifact": LOG}, "extra_flags": ["--all", "--arch=amd64"]}))
        .reply("blhc **", Reply::exit(0))
        .execute::<Blhc>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        run.commands[0],
        [
            "blhc",
            "--debian",
            "--all",
            "--arch=amd64",
            "input/hello_1.0_amd64.build"
        ]
    );
}

#[test]
fn an_environment_runs_blhc_in_unshare() {
    let run = host()
        .task_data(json!({"input": {"artifact": LOG}, "environment": 9}))
        .input(Input::new(9, "debian:system-tarball"))
        .reply("blhc **", Reply::exit(0))
        .execute::<Blhc>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.backends, ["unshare"]);
}

#[test]
fn refused_arguments_are_an_error_with_blhc_s_message() {
    let run = blhc(Reply::exit(2).stderr("Unknown option: frob\n"));
    match run.status {
        Err(Error::Failed(m)) => assert!(m.contains("Unknown option: frob"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_killed_blhc_is_an_error() {
    let run = blhc(Reply::signal(9));
    assert!(
        matches!(&run.status, Err(Error::Failed(m)) if m.contains("killed")),
        "{:?}",
        run.status
    );
    assert!(run.artifacts.is_empty());
}

#[test]
fn a_denied_command_backend_or_category_ends_the_run_with_access_denied() {
    let denied = [
        host().deny_exec("blhc **"),
        host().deny_backend("local"),
        host()
            .reply("blhc **", Reply::exit(0))
            .deny_create("debian:blhc"),
    ];
    for host in denied {
        let run = host.execute::<Blhc>();
        assert!(
            matches!(run.status, Err(Error::AccessDenied(_))),
            "{:?}",
            run.status
        );
        assert_eq!(run.denied.len(), 1, "{:?}", run.denied);
        assert!(run.results.is_empty());
    }
}

#[test]
fn a_log_artifact_without_files_is_invalid() {
    let run = FakeHost::new()
        .task_data(json!({"input": {"artifact": LOG}}))
        .input(Input::new(LOG, "debian:package-build-log"))
        .execute::<Blhc>();
    assert!(
        matches!(&run.status, Err(Error::Invalid(m)) if m.contains("has no files")),
        "{:?}",
        run.status
    );
    assert!(run.commands.is_empty());
}

#[test]
fn bad_task_data_is_refused_before_anything_runs() {
    for (data, says) in [
        (json!({}), "input"),
        (
            json!({"input": {"artifact": LOG}, "extra_flags": ["--color"]}),
            "--color",
        ),
        (
            json!({"input": {"artifact": LOG}, "backend": "unshare"}),
            "environment",
        ),
        (json!({"input": {"artifact": LOG}, "bogus": 1}), "bogus"),
    ] {
        let run = host().task_data(data).execute::<Blhc>();
        assert!(
            matches!(&run.status, Err(Error::Invalid(m)) if m.contains(says)),
            "{:?}",
            run.status
        );
        assert!(run.commands.is_empty() && run.artifacts.is_empty());
    }
}
