//! `execute` against the SDK's fake host: the autopkgtest command lines it
//! runs, the artifact and results it stores from autopkgtest's summary,
//! and each way it fails.

use serde_json::{Value, json};
use taskhost_plugin_autopkgtest::Autopkgtest;
use taskhost_sdk::artifacts::RelationType;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{Emitted, FakeHost, Input, Invocation, Relation, Reply, Run};
use taskhost_sdk::{Error, Outcome, Status};

const SOURCE: u64 = 10;
const BINARY: u64 = 11;
const CONTEXT: u64 = 12;
const TARBALL: u64 = 20;
const IMAGE: u64 = 21;
/// The id the fake host gives the first artifact a run creates.
const CREATED: u64 = 1000;

const DSC: &str = "\
Format: 3.0 (quilt)
Source: hello
Binary: hello
Architecture: any
Version: 2.10-3
Maintainer: Santiago Vila <sanvila@debian.org>
Standards-Version: 4.6.2
Testsuite: autopkgtest
Checksums-Sha256:
 31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b 1041017 hello_2.10.orig.tar.gz
 8f2ed0b4bd7ae6ae8e2d3c6a1e1cc3c6b4b4b7e4ae4b2c9a0c3f6d5b1e7b8c9d 12688 hello_2.10-3.debian.tar.xz
Files:
 6cd0ffea3884a4e79330338dcc2987d6 1041017 hello_2.10.orig.tar.gz
 2f7e6a4a4c4f2b1e6a6a3c5e0a1f5b7d 12688 hello_2.10-3.debian.tar.xz
";

const DSC_PATH: &str = "autopkgtest/source/hello_2.10-3.dsc";
const DEB_PATH: &str = "autopkgtest/binaries/11/hello_2.10-3_amd64.deb";
const CONTEXT_DEB_PATH: &str = "autopkgtest/context/12/libc6_2.36-9_amd64.deb";
const TARBALL_PATH: &str = "autopkgtest/environment/system.tar.xz";

/// The options every run starts with (the exec grant pins them).
const FIXED: [&str; 5] = [
    "autopkgtest",
    "--apt-upgrade",
    "--output-dir=autopkgtest/output",
    "--summary=autopkgtest/output/summary",
    "--no-built-binaries",
];

/// A summary autopkgtest 5.28 wrote on the unshare backend (names padded
/// to 20 columns).
const MIXED: &str = "\
passes               PASS
fails                FAIL non-zero exit status 1
flaky                FLAKY non-zero exit status 3
skips                SKIP exit status 77 and marked as skippable
machine              SKIP Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"
";

const MACHINE_SKIP: &str =
    "Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"";

/// The task_data of a tarball run, with `extra` keys set over it.
fn task_data(extra: Value) -> Value {
    let mut data = json!({
        "input": {"source_artifact_id": SOURCE, "binary_artifacts_ids": [BINARY]},
        "environment": TARBALL,
        "host_architecture": "amd64",
    });
    for (key, value) in extra.as_object().expect("extra keys") {
        data[key] = value.clone();
    }
    data
}

fn source() -> Input {
    Input::new(SOURCE, "debian:source-package")
        .data(json!({"name": "hello", "version": "2.10-3", "type": "dpkg"}))
        .file("hello_2.10-3.dsc", DSC)
        .file("hello_2.10.orig.tar.gz", b"\x1f\x8b orig".to_vec())
        .file("hello_2.10-3.debian.tar.xz", "\u{fd}7zXZ debian")
}

fn tarball() -> Input {
    Input::new(TARBALL, "debian:system-tarball")
        .data(json!({
            "filename": "system.tar.xz",
            "vendor": "debian",
            "codename": "bookworm",
            "architecture": "amd64",
            "variant": "buildd",
        }))
        .file("system.tar.xz", "\u{fd}7zXZ rootfs")
}

fn image() -> Input {
    Input::new(IMAGE, "debian:system-image")
        .data(json!({
            "filename": "image.qcow2",
            "vendor": "debian",
            "codename": "bookworm",
            "architecture": "amd64",
        }))
        .file("image.qcow2", "QFI\u{fb} image")
}

/// A host with the source, one binary, the tarball and `extra` task_data.
fn host(extra: Value) -> FakeHost {
    FakeHost::new()
        .task_data(task_data(extra))
        .input(source())
        .input(
            Input::new(BINARY, "debian:binary-package")
                .data(json!({"srcpkg_name": "hello", "deb_fields": {"Package": "hello"}}))
                .file("hello_2.10-3_amd64.deb", "!<arch>\nhello"),
        )
        .input(tarball())
}

/// autopkgtest exiting `code` after writing `summary` and the other files
/// of its output directory (`binaries/` holds copies of the .debs).
fn autopkgtest(code: i32, summary: &str) -> Reply {
    output(Reply::exit(code), summary)
}

fn output(reply: Reply, summary: &str) -> Reply {
    reply
        .writes("autopkgtest/output/summary", summary)
        .writes(
            "autopkgtest/output/log",
            "autopkgtest [12:00:00]: starting date and time: 2024-05-01 12:00:00+0000\n",
        )
        .writes("autopkgtest/output/testpkg-version", "hello 2.10-3\n")
        .writes("autopkgtest/output/passes-stdout", "Hello, world!\n")
        .writes(
            "autopkgtest/output/binaries/hello_2.10-3_amd64.deb",
            "!<arch>\nhello",
        )
}

/// The argv of a tarball run with `options` between the fixed options and
/// the .debs.
fn unshare_argv(options: &[&str], debs: &[&str]) -> Vec<String> {
    let mut argv: Vec<&str> = FIXED.to_vec();
    argv.extend(options);
    argv.push("--copy=/etc/resolv.conf:/etc/resolv.conf");
    argv.extend(debs);
    argv.extend([
        DSC_PATH,
        "--",
        "unshare",
        "--arch=amd64",
        "--release=bookworm",
        "--tarball=autopkgtest/environment/system.tar.xz",
    ]);
    argv.into_iter().map(String::from).collect()
}

/// autopkgtest's command as the plugin gives it: `argv` on `backend`,
/// bounded by `timeout_ms`, its output in autopkgtest/, with no
/// environment of its own (`--env` goes to the testbed), stdin or root.
fn invocation(argv: Vec<String>, backend: &str, timeout_ms: Option<u64>) -> Invocation {
    Invocation {
        argv,
        env: vec![],
        cwd: None,
        stdin: None,
        stdout: Some("autopkgtest/autopkgtest.stdout".into()),
        stderr: Some("autopkgtest/autopkgtest.stderr".into()),
        timeout_ms,
        run_as_root: false,
        backend: backend.into(),
    }
}

fn run(extra: Value, reply: Reply) -> Run<Status> {
    host(extra)
        .reply("autopkgtest **", reply)
        .execute::<Autopkgtest>()
}

/// The result of check `checkname`.
#[track_caller]
fn result<'a>(run: &'a Run<Status>, checkname: &str) -> &'a Emitted {
    run.results
        .iter()
        .find(|r| r.checkname.as_deref() == Some(checkname))
        .unwrap_or_else(|| panic!("no {checkname} result in {:#?}", run.results))
}

fn checknames(run: &Run<Status>) -> Vec<&str> {
    run.results
        .iter()
        .filter_map(|r| r.checkname.as_deref())
        .collect()
}

fn file_names(run: &Run<Status>) -> Vec<&str> {
    run.artifacts[0]
        .files
        .iter()
        .map(|(name, _)| name.as_str())
        .collect()
}

#[track_caller]
fn assert_error(status: &Result<Status, Error>, want: &str) {
    match status {
        Err(Error::Failed(m)) => assert_eq!(m, want),
        other => panic!("{other:?}"),
    }
}

#[track_caller]
fn assert_invalid(run: &Run<Status>, want: &str) {
    match &run.status {
        Err(Error::Invalid(m)) => assert!(m.contains(want), "{m}\ndoes not say\n{want}"),
        other => panic!("{other:?}"),
    }
    assert!(run.commands.is_empty(), "{:?}", run.commands);
    assert!(run.artifacts.is_empty() && run.results.is_empty());
}

#[test]
fn passing_tests_pass_and_the_artifact_keeps_results_output_and_relations() {
    let summary = "passes               PASS\nsuperficial          PASS (superficial)\n";
    let run = run(json!({}), autopkgtest(0, summary));
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        run.commands,
        [unshare_argv(&["--needs-internet=run"], &[DEB_PATH])]
    );
    assert_eq!(run.backends, ["local"]);
    // No timeout.global: nothing bounds the run but the host's deadline.
    assert_eq!(
        run.invocations,
        [invocation(
            unshare_argv(&["--needs-internet=run"], &[DEB_PATH]),
            "local",
            None
        )]
    );
    // The tarball's copy is removed once the testbed is unpacked.
    assert_eq!(run.workspace_file(TARBALL_PATH), None);

    assert_eq!(run.artifacts.len(), 1);
    let a = &run.artifacts[0];
    assert_eq!(a.id, CREATED);
    assert_eq!(a.category, "debian:autopkgtest");
    assert_eq!(
        a.data,
        json!({
            "results": {
                "passes": {"status": "PASS"},
                "superficial": {"status": "PASS", "details": "(superficial)"},
            },
            "cmdline": "autopkgtest --apt-upgrade --output-dir=autopkgtest/output \
                --summary=autopkgtest/output/summary --no-built-binaries --needs-internet=run \
                --copy=/etc/resolv.conf:/etc/resolv.conf \
                autopkgtest/binaries/11/hello_2.10-3_amd64.deb autopkgtest/source/hello_2.10-3.dsc \
                -- unshare --arch=amd64 --release=bookworm \
                --tarball=autopkgtest/environment/system.tar.xz",
            "source_package": {
                "name": "hello",
                "version": "2.10-3",
                "url": "artifact:10/hello_2.10-3.dsc",
            },
            "architecture": "amd64",
            "distribution": "debian:bookworm",
        })
    );
    // The output directory without binaries/ (copies of the inputs).
    assert_eq!(
        file_names(&run),
        ["log", "passes-stdout", "summary", "testpkg-version"]
    );
    assert_eq!(a.files[1].1, b"Hello, world!\n");
    assert_eq!(a.files[2].1, summary.as_bytes());
    assert_eq!(
        run.relations,
        [
            Relation {
                source: CREATED,
                target: SOURCE,
                relation: RelationType::RelatesTo,
            },
            Relation {
                source: CREATED,
                target: BINARY,
                relation: RelationType::RelatesTo,
            },
        ]
    );

    assert_eq!(
        checknames(&run),
        [
            "autopkgtest.passes",
            "autopkgtest.superficial",
            "autopkgtest"
        ]
    );
    let passes = result(&run, "autopkgtest.passes");
    assert_eq!(
        *passes,
        Emitted {
            item: "hello_2.10-3_amd64".into(),
            item_type: "debian_package".into(),
            outcome: Outcome::Passed,
            checkname: Some("autopkgtest.passes".into()),
            note: Some("PASS".into()),
            artifact: Some("artifact:1000".into()),
            keyvals: vec![("autopkgtest_status".into(), "PASS".into())],
        }
    );
    let superficial = result(&run, "autopkgtest.superficial");
    assert_eq!(superficial.note.as_deref(), Some("PASS: (superficial)"));
    assert_eq!(superficial.keyval("details"), Some("(superficial)"));
    let overall = result(&run, "autopkgtest");
    assert_eq!(overall.item, "hello_2.10-3_amd64");
    assert_eq!(overall.outcome, Outcome::Passed);
    assert_eq!(overall.note.as_deref(), Some("2 PASS"));
    assert_eq!(overall.artifact.as_deref(), Some("artifact:1000"));
    assert_eq!(
        overall.keyvals,
        [("autopkgtest_exit_code".to_string(), "0".to_string())]
    );
    let log = run.log_text(Level::Info);
    assert!(
        log.contains(
            "testing hello_2.10-3 with 1 .deb(s) on amd64 in debian:bookworm \
             (autopkgtest/environment/system.tar.xz)"
        ),
        "{log}"
    );
    assert!(log.contains("test passes: PASS"), "{log}");
}

#[test]
fn a_failed_test_fails_the_task_but_flaky_and_skipped_tests_do_not() {
    let run = run(json!({"backend": "unshare"}), autopkgtest(6, MIXED));
    assert_eq!(run.status, Ok(Status::Failure));
    // backend unshare: the machine test is not run again elsewhere.
    assert_eq!(run.commands.len(), 1);
    assert_eq!(run.backends, ["local"]);
    let expect = [
        ("passes", Outcome::Passed, "PASS".to_string()),
        (
            "fails",
            Outcome::Failed,
            "FAIL: non-zero exit status 1".to_string(),
        ),
        (
            "flaky",
            Outcome::Info,
            "FLAKY: non-zero exit status 3 (does not fail the task: fail_on.flaky_test is false)"
                .to_string(),
        ),
        (
            "skips",
            Outcome::Info,
            "SKIP: exit status 77 and marked as skippable (does not fail the task: \
             fail_on.skipped_test is false)"
                .to_string(),
        ),
        (
            "machine",
            Outcome::Info,
            "SKIP: machine needs isolation-machine (Restrictions: isolation-machine), which the \
             unshare backend does not give; it needs a virtual machine: give a \
             debian:system-image environment (backend qemu or auto; `runtask run \
             simplesystemimagebuild` makes one) (does not fail the task: fail_on.skipped_test \
             is false)"
                .to_string(),
        ),
    ];
    for (test, outcome, note) in expect {
        let r = result(&run, &format!("autopkgtest.{test}"));
        assert_eq!(r.outcome, outcome, "{test}");
        assert_eq!(r.note.as_deref(), Some(note.as_str()), "{test}");
    }
    assert_eq!(
        result(&run, "autopkgtest.fails").keyvals,
        [
            ("autopkgtest_status".to_string(), "FAIL".to_string()),
            ("details".to_string(), "non-zero exit status 1".to_string()),
        ]
    );
    let overall = result(&run, "autopkgtest");
    assert_eq!(overall.outcome, Outcome::Failed);
    assert_eq!(
        overall.note.as_deref(),
        Some("1 PASS, 1 FAIL, 1 FLAKY, 2 SKIP")
    );
    assert_eq!(overall.keyval("autopkgtest_exit_code"), Some("6"));
    assert_eq!(
        run.artifacts[0].data["results"],
        json!({
            "passes": {"status": "PASS"},
            "fails": {"status": "FAIL", "details": "non-zero exit status 1"},
            "flaky": {"status": "FLAKY", "details": "non-zero exit status 3"},
            "skips": {"status": "SKIP", "details": "exit status 77 and marked as skippable"},
            "machine": {"status": "SKIP", "details": MACHINE_SKIP},
        })
    );
}

#[test]
fn fail_on_decides_which_results_fail_the_task() {
    let lenient = run(
        json!({"backend": "unshare", "fail_on": {"failed_test": false}}),
        autopkgtest(6, MIXED),
    );
    assert_eq!(lenient.status, Ok(Status::Success));
    let fails = result(&lenient, "autopkgtest.fails");
    assert_eq!(fails.outcome, Outcome::Info);
    assert_eq!(
        fails.note.as_deref(),
        Some("FAIL: non-zero exit status 1 (does not fail the task: fail_on.failed_test is false)")
    );
    assert_eq!(result(&lenient, "autopkgtest").outcome, Outcome::Passed);

    let summary = "passes               PASS\n\
                   flaky                FLAKY non-zero exit status 3\n";
    let strict = run(
        json!({"fail_on": {"flaky_test": true}}),
        autopkgtest(2, summary),
    );
    assert_eq!(strict.status, Ok(Status::Failure));
    let flaky = result(&strict, "autopkgtest.flaky");
    assert_eq!(flaky.outcome, Outcome::Failed);
    assert_eq!(flaky.note.as_deref(), Some("FLAKY: non-zero exit status 3"));
    assert_eq!(result(&strict, "autopkgtest").outcome, Outcome::Failed);

    // No tests at all: autopkgtest reports the package as `*` and exits 8.
    let none = "*                    SKIP no tests in this package\n";
    let skipped = run(
        json!({"fail_on": {"skipped_test": true}}),
        autopkgtest(8, none),
    );
    assert_eq!(skipped.status, Ok(Status::Failure));
    assert_eq!(
        result(&skipped, "autopkgtest.*").note.as_deref(),
        Some("SKIP: no tests in this package")
    );
    let overall = result(&skipped, "autopkgtest");
    assert_eq!(overall.note.as_deref(), Some("1 SKIP"));
    assert_eq!(overall.keyval("autopkgtest_exit_code"), Some("8"));
    assert_eq!(
        run(json!({}), autopkgtest(8, none)).status,
        Ok(Status::Success)
    );
}

#[test]
fn every_option_reaches_the_command_line_and_the_cmdline() {
    let data = json!({
        "backend": "unshare",
        "input": {
            "source_artifact_id": SOURCE,
            "binary_artifacts_ids": [BINARY],
            "context_artifacts_ids": [CONTEXT],
        },
        "include_tests": ["passes", "fails"],
        "exclude_tests": ["fails"],
        "debug_level": 3,
        "extra_apt_sources": ["  deb [trusted=yes] http://127.0.0.1:8080/ ./ "],
        "use_packages_from_base_repository": true,
        "extra_environment": {"TH_GREETING": "hello world", "DEB_BUILD_OPTIONS": "nocheck"},
        "needs_internet": "try",
        "timeout": {"global": 3600, "factor": 2.5, "test": 300, "install": 900},
    });
    let run = host(data)
        .input(
            Input::new(CONTEXT, "debian:binary-package")
                .file("libc6_2.36-9_amd64.deb", "!<arch>\nlibc6"),
        )
        .reply(
            "autopkgtest **",
            autopkgtest(0, "passes               PASS\n"),
        )
        .execute::<Autopkgtest>();
    assert_eq!(run.status, Ok(Status::Success));
    let options = [
        "--test-name=passes",
        "--test-name=fails",
        "--skip-test=fails",
        "-ddd",
        "--add-apt-source=deb [trusted=yes] http://127.0.0.1:8080/ ./",
        "--apt-default-release=bookworm",
        "--env=DEB_BUILD_OPTIONS=nocheck",
        "--env=TH_GREETING=hello world",
        "--needs-internet=try",
        "--timeout-factor=2.5",
        "--timeout-install=900",
        "--timeout-test=300",
    ];
    assert_eq!(
        run.commands,
        [unshare_argv(&options, &[DEB_PATH, CONTEXT_DEB_PATH])]
    );
    // autopkgtest 5.28 has no --timeout: timeout.global bounds the
    // command; extra_environment goes to the testbed as --env, not to
    // autopkgtest's own environment.
    assert!(!run.commands[0].iter().any(|a| a.starts_with("--timeout=")));
    assert_eq!(
        run.invocations,
        [invocation(
            unshare_argv(&options, &[DEB_PATH, CONTEXT_DEB_PATH]),
            "local",
            Some(3_600_000)
        )]
    );
    let cmdline = run.artifacts[0].data["cmdline"].as_str().expect("cmdline");
    assert!(
        cmdline.contains(
            " -ddd '--add-apt-source=deb [trusted=yes] http://127.0.0.1:8080/ ./' \
             --apt-default-release=bookworm --env=DEB_BUILD_OPTIONS=nocheck \
             '--env=TH_GREETING=hello world' --needs-internet=try "
        ),
        "{cmdline}"
    );
    // The context's .debs are used, not tested: no relation to them.
    let targets: Vec<u64> = run.relations.iter().map(|r| r.target).collect();
    assert_eq!(targets, [SOURCE, BINARY]);
    assert!(
        run.log_text(Level::Info).contains("with 2 .deb(s)"),
        "{:?}",
        run.log
    );
}

#[test]
fn tests_left_out_by_include_tests_are_left_out_of_results_and_not_run_again() {
    // autopkgtest 5.28 reports a test it cannot run on this testbed as SKIP
    // even when --test-name leaves it out.
    let run = run(json!({"include_tests": ["passes"]}), autopkgtest(2, MIXED));
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        run.commands,
        [unshare_argv(
            &["--test-name=passes", "--needs-internet=run"],
            &[DEB_PATH]
        )]
    );
    assert_eq!(checknames(&run), ["autopkgtest.passes", "autopkgtest"]);
    assert_eq!(
        run.artifacts[0].data["results"],
        json!({"passes": {"status": "PASS"}})
    );
    assert_eq!(result(&run, "autopkgtest").note.as_deref(), Some("1 PASS"));
    let debug = run.log_text(Level::Debug);
    for test in ["fails", "flaky", "skips", "machine"] {
        assert!(
            debug.contains(&format!(
                "test {test}: not selected, left out of the results"
            )),
            "{test}: {debug}"
        );
    }
}

#[test]
fn a_system_image_is_booted_and_autopkgtest_runs_the_null_server_inside() {
    let run = host(json!({"environment": IMAGE}))
        .input(image())
        .reply(
            "autopkgtest **",
            autopkgtest(0, "passes               PASS\n"),
        )
        .execute::<Autopkgtest>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.backends, ["qemu"]);
    let mut want: Vec<&str> = FIXED.to_vec();
    want.extend(["--needs-internet=run", DEB_PATH, DSC_PATH, "--", "null"]);
    assert_eq!(run.commands, [want]);
    assert_eq!(
        run.artifacts[0].data["distribution"],
        json!("debian:bookworm")
    );
    assert!(
        run.log_text(Level::Info)
            .contains("in debian:bookworm (a machine booted from artifact 21)"),
        "{:?}",
        run.log
    );
    // An explicit backend qemu does the same.
    let run = host(json!({"environment": IMAGE, "backend": "qemu"}))
        .input(image())
        .reply(
            "autopkgtest **",
            autopkgtest(0, "passes               PASS\n"),
        )
        .execute::<Autopkgtest>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.backends, ["qemu"]);
}

#[test]
fn with_backend_auto_a_test_that_needs_a_machine_runs_again_in_one() {
    let summary = "passes               PASS\n\
                   machine              SKIP Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"\n";
    let run = host(json!({}))
        .input(image())
        .lookup("debian/match:codename=bookworm:architecture=amd64", IMAGE)
        .respond("autopkgtest **", move |argv| {
            if argv.last().map(String::as_str) == Some("null") {
                Reply::exit(0)
                    .writes("autopkgtest/output/summary", "machine              PASS\n")
                    .writes("autopkgtest/output/log", "in the machine\n")
            } else {
                autopkgtest(2, summary)
            }
        })
        .execute::<Autopkgtest>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.backends, ["local", "qemu"]);
    let mut machine: Vec<String> = FIXED.iter().map(|s| s.to_string()).collect();
    machine.extend(
        [
            "--test-name=machine",
            "--needs-internet=run",
            DEB_PATH,
            DSC_PATH,
            "--",
            "null",
        ]
        .map(String::from),
    );
    assert_eq!(
        run.commands,
        [
            unshare_argv(&["--needs-internet=run"], &[DEB_PATH]),
            machine.clone()
        ]
    );
    // The first run on the host, the second inside the machine.
    assert_eq!(
        run.invocations,
        [
            invocation(
                unshare_argv(&["--needs-internet=run"], &[DEB_PATH]),
                "local",
                None
            ),
            invocation(machine, "qemu", None),
        ]
    );
    assert_eq!(
        file_names(&run),
        [
            "log",
            "passes-stdout",
            "summary",
            "testpkg-version",
            "isolation-machine/log",
            "isolation-machine/summary",
        ]
    );
    let data = &run.artifacts[0].data;
    assert_eq!(
        data["results"],
        json!({"passes": {"status": "PASS"}, "machine": {"status": "PASS"}})
    );
    let cmdline = data["cmdline"].as_str().expect("cmdline");
    assert!(
        cmdline.contains(" -- unshare --arch=amd64 --release=bookworm ")
            && cmdline.ends_with(
                "; autopkgtest --apt-upgrade --output-dir=autopkgtest/output \
                --summary=autopkgtest/output/summary --no-built-binaries --test-name=machine \
                --needs-internet=run autopkgtest/binaries/11/hello_2.10-3_amd64.deb \
                autopkgtest/source/hello_2.10-3.dsc -- null"
            ),
        "{cmdline}"
    );
    let machine = result(&run, "autopkgtest.machine");
    assert_eq!(machine.outcome, Outcome::Passed);
    assert_eq!(machine.note.as_deref(), Some("PASS"));
    let overall = result(&run, "autopkgtest");
    assert_eq!(overall.outcome, Outcome::Passed);
    assert_eq!(overall.note.as_deref(), Some("2 PASS"));
    // The exit codes merge: 2 (a test skipped on unshare) and 0.
    assert_eq!(overall.keyval("autopkgtest_exit_code"), Some("2"));
    assert!(
        run.log_text(Level::Info).contains(
            "machine need isolation-machine: running them again in a machine booted from \
             artifact 21 (backend qemu)"
        ),
        "{:?}",
        run.log
    );
}

#[test]
fn without_an_image_in_the_store_a_machine_test_stays_skipped() {
    let summary = "passes               PASS\n\
                   machine              SKIP Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"\n";
    let run = run(json!({}), autopkgtest(2, summary));
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.commands.len(), 1);
    assert_eq!(run.backends, ["local"]);
    assert!(
        run.log_text(Level::Info).contains(
            "machine need isolation-machine, and the store has no debian:system-image of \
             debian:bookworm for amd64 to boot: they stay skipped"
        ),
        "{:?}",
        run.log
    );
    let machine = result(&run, "autopkgtest.machine");
    assert_eq!(machine.outcome, Outcome::Info);
    assert_eq!(machine.keyval("autopkgtest_status"), Some("SKIP"));
    assert_eq!(machine.keyval("details"), Some(MACHINE_SKIP));
    assert_eq!(
        result(&run, "autopkgtest").keyval("autopkgtest_exit_code"),
        Some("2")
    );
}

#[test]
fn an_erroneous_package_is_an_error_that_keeps_the_output_and_names_the_testbed_lines() {
    let summary = "\
needs-nowhere        FAIL badpkg
blame: arg:autopkgtest/binaries/11/hello_2.10-3_amd64.deb autopkgtest/source/hello_2.10-3.dsc
badpkg: Test dependencies are unsatisfiable. A common reason is that your testbed is out of date with respect to the archive, and you need to use a current testbed or run apt-get update or use -U.
";
    let stderr = "\
autopkgtest [12:00:05]: test needs-nowhere: [-----------------------
autopkgtest [12:00:06]: test needs-nowhere: - - - - - - - - - - results - - - - - - - - - -
needs-nowhere        FAIL badpkg
blame: arg:autopkgtest/binaries/11/hello_2.10-3_amd64.deb autopkgtest/source/hello_2.10-3.dsc
badpkg: Test dependencies are unsatisfiable.
autopkgtest [12:00:06]: @@@@@@@@@@@@@@@@@@@@ summary
";
    let run = run(json!({}), autopkgtest(12, summary).stderr(stderr));
    let why = "autopkgtest stopped with an erroneous package: blame: \
               arg:autopkgtest/binaries/11/hello_2.10-3_amd64.deb \
               autopkgtest/source/hello_2.10-3.dsc; badpkg: Test dependencies are unsatisfiable. \
               A common reason is that your testbed is out of date with respect to the archive, \
               and you need to use a current testbed or run apt-get update or use -U.";
    assert_error(&run.status, &format!("{why} (its output: artifact 1000)"));
    // The output is kept, and the testbed's lines are no tests.
    assert_eq!(run.artifacts.len(), 1);
    assert_eq!(
        run.artifacts[0].data["results"],
        json!({"needs-nowhere": {"status": "FAIL", "details": "badpkg"}})
    );
    assert_eq!(
        checknames(&run),
        ["autopkgtest.needs-nowhere", "autopkgtest"]
    );
    let overall = result(&run, "autopkgtest");
    assert_eq!(overall.outcome, Outcome::Aborted);
    assert_eq!(overall.note.as_deref(), Some(why));
    assert_eq!(overall.keyval("autopkgtest_exit_code"), Some("12"));
    let errors = run.log_text(Level::Error);
    assert!(
        errors.contains(
            "autopkgtest: blame: arg:autopkgtest/binaries/11/hello_2.10-3_amd64.deb \
             autopkgtest/source/hello_2.10-3.dsc"
        ),
        "{errors}"
    );
    // The last five lines of autopkgtest's stderr.
    assert!(
        run.log.contains(&(
            Level::Warn,
            "autopkgtest: autopkgtest [12:00:06]: test needs-nowhere: - - - - - - - - - - results \
             - - - - - - - - - - | needs-nowhere        FAIL badpkg | blame: \
             arg:autopkgtest/binaries/11/hello_2.10-3_amd64.deb autopkgtest/source/hello_2.10-3.dsc \
             | badpkg: Test dependencies are unsatisfiable. | autopkgtest [12:00:06]: \
             @@@@@@@@@@@@@@@@@@@@ summary"
                .to_string()
        )),
        "{:?}",
        run.log
    );

    // A testbed failure, and a line autopkgtest does not know.
    let summary = "t2                   BROKEN Test must have either path or command\n\
                   testbed failure: unexpected eof from the testbed\n";
    let run = self::run(json!({}), autopkgtest(16, summary));
    assert_error(
        &run.status,
        "autopkgtest stopped with a testbed failure: t2                   BROKEN Test must have \
         either path or command; testbed failure: unexpected eof from the testbed (its output: \
         artifact 1000)",
    );
    assert_eq!(run.artifacts[0].data["results"], json!({}));
    assert_eq!(checknames(&run), ["autopkgtest"]);
    assert_eq!(
        result(&run, "autopkgtest").keyval("autopkgtest_exit_code"),
        Some("16")
    );
}

#[test]
fn an_autopkgtest_killed_before_writing_output_is_an_error_and_stores_nothing() {
    let run = run(
        json!({}),
        Reply::signal(9).stderr("autopkgtest [12:00:00]: starting date and time\n"),
    );
    assert_error(
        &run.status,
        "autopkgtest wrote no output (killed by signal 9): \
         autopkgtest [12:00:00]: starting date and time",
    );
    assert_eq!(run.commands.len(), 1);
    assert!(run.artifacts.is_empty() && run.relations.is_empty());
    assert!(run.results.is_empty(), "{:?}", run.results);

    // Refused arguments: autopkgtest exits 20 before making the output dir.
    let run = self::run(
        json!({}),
        Reply::exit(20).stderr("autopkgtest: error: unrecognized arguments: --frob\n"),
    );
    assert_error(
        &run.status,
        "autopkgtest wrote no output (exit code 20): \
         autopkgtest: error: unrecognized arguments: --frob",
    );
    assert!(run.artifacts.is_empty() && run.results.is_empty());

    // Killed at its timeout: said so.
    let run = self::run(
        json!({}),
        Reply::timed_out().stderr("autopkgtest [12:00:00]: starting\n"),
    );
    assert_error(
        &run.status,
        "autopkgtest wrote no output (timed out): autopkgtest [12:00:00]: starting",
    );
}

#[test]
fn an_autopkgtest_killed_or_timed_out_after_some_output_keeps_it_and_errs() {
    let partial = "passes               PASS\n";
    let run = run(json!({}), output(Reply::signal(15), partial));
    assert_error(
        &run.status,
        "autopkgtest stopped with a signal: see its log (its output: artifact 1000)",
    );
    assert_eq!(run.artifacts.len(), 1);
    let overall = result(&run, "autopkgtest");
    assert_eq!(overall.outcome, Outcome::Aborted);
    assert_eq!(overall.keyval("autopkgtest_exit_code"), Some("none"));
    assert_eq!(result(&run, "autopkgtest.passes").outcome, Outcome::Passed);

    let run = self::run(
        json!({"timeout": {"global": 600}}),
        output(Reply::timed_out(), partial),
    );
    assert_eq!(run.invocations[0].timeout_ms, Some(600_000));
    let why = "autopkgtest did not finish within timeout.global (600 s)";
    assert_error(&run.status, &format!("{why} (its output: artifact 1000)"));
    assert_eq!(result(&run, "autopkgtest").note.as_deref(), Some(why));
    assert_eq!(run.artifacts.len(), 1);

    let run = self::run(json!({}), output(Reply::timed_out(), partial));
    assert_error(
        &run.status,
        "autopkgtest did not finish before the run's deadline (its output: artifact 1000)",
    );
}

#[test]
fn bad_task_data_is_refused_before_anything_runs() {
    for (extra, says) in [
        (json!({"bogus": 1}), "task_data: unknown key 'bogus'"),
        (
            json!({"fail_on": {"failed_tests": false}}),
            "task_data: unknown key 'fail_on.failed_tests'",
        ),
        (
            json!({"debug_level": "high"}),
            "task_data: debug_level: invalid type",
        ),
        (
            json!({"include_tests": "passes"}),
            "task_data: include_tests: invalid type",
        ),
        (
            json!({"needs_internet": "maybe"}),
            "needs_internet: unknown variant `maybe`",
        ),
        (
            json!({"backend": "local"}),
            "backend: local would run the tests on this host itself",
        ),
        (
            json!({"backend": "incus-vm"}),
            "backend: IncusVm is not available for autopkgtest on this host",
        ),
        (
            json!({"host_architecture": "any"}),
            "host_architecture: 'any' is not a Debian architecture",
        ),
        (
            json!({"include_tests": ["a b"]}),
            "include_tests[0]: 'a b' is not a test name",
        ),
        (
            json!({"exclude_tests": ["ok", ""]}),
            "exclude_tests[1]: is empty",
        ),
        (json!({"debug_level": 4}), "debug_level: 4 is out of range"),
        (
            json!({"extra_apt_sources": ["deb http://deb.debian.org/debian bookworm"]}),
            "extra_apt_sources[0]: suite 'bookworm' needs at least one component",
        ),
        (
            json!({"extra_environment": {"1BAD": "x"}}),
            "extra_environment.1BAD: '1BAD' is not a variable name",
        ),
        (json!({"timeout": {"test": 0}}), "timeout.test: 0 seconds"),
        (
            json!({"timeout": {"factor": -2}}),
            "timeout.factor: -2 is not a positive number",
        ),
        (
            json!({"input": {"source_artifact_id": SOURCE}}),
            "binary_artifacts_ids",
        ),
    ] {
        let run = host(extra.clone()).execute::<Autopkgtest>();
        assert_invalid(&run, says);
        assert!(run.backends.is_empty(), "{extra}: {:?}", run.backends);
    }
}

#[test]
fn an_environment_that_does_not_fit_is_refused_before_autopkgtest_runs() {
    let s390x = Input::new(TARBALL, "debian:system-tarball")
        .data(json!({"vendor": "debian", "codename": "bookworm", "architecture": "s390x"}))
        .file("system.tar.xz", "rootfs");
    assert_invalid(
        &host(json!({})).input(s390x).execute::<Autopkgtest>(),
        "host_architecture: the environment (artifact 20) is an s390x system, not amd64; \
         pick an environment of that architecture (or set host_architecture to s390x)",
    );
    let nameless = Input::new(TARBALL, "debian:system-tarball")
        .data(json!({"architecture": "amd64"}))
        .file("system.tar.xz", "rootfs");
    assert_invalid(
        &host(json!({"use_packages_from_base_repository": true}))
            .input(nameless)
            .execute::<Autopkgtest>(),
        "use_packages_from_base_repository: the environment (artifact 20) names no codename \
         to pass as --apt-default-release",
    );
    assert_invalid(
        &host(json!({"backend": "qemu"})).execute::<Autopkgtest>(),
        "backend: qemu boots a debian:system-image, and the environment (artifact 20) is a \
         debian:system-tarball",
    );
    assert_invalid(
        &host(json!({"backend": "unshare", "environment": IMAGE}))
            .input(image())
            .execute::<Autopkgtest>(),
        "backend: unshare unpacks a debian:system-tarball, and the environment (artifact 21) \
         is a debian:system-image",
    );
    let empty = Input::new(TARBALL, "debian:system-tarball")
        .data(json!({"codename": "bookworm", "vendor": "debian"}))
        .file("system.qcow2", "not a tarball");
    let run = host(json!({})).input(empty).execute::<Autopkgtest>();
    assert_invalid(&run, "environment: artifact 20 holds no .tar* file");
    assert_eq!(run.backends, Vec::<String>::new());
    // A lookup the host did not resolve.
    assert_invalid(
        &host(json!({"environment": "debian/match:codename=bookworm:variant=buildd"}))
            .execute::<Autopkgtest>(),
        "artifact reference 'debian/match:codename=bookworm:variant=buildd' was not resolved \
         by the host",
    );
}

#[test]
fn inputs_without_the_files_autopkgtest_needs_are_refused() {
    let no_dsc = Input::new(SOURCE, "debian:source-package").file("hello_2.10.orig.tar.gz", "x");
    assert_invalid(
        &host(json!({})).input(no_dsc).execute::<Autopkgtest>(),
        "input.source_artifact_id: artifact 10 holds no .dsc",
    );
    let no_deb = Input::new(BINARY, "debian:binary-package").file("hello.buildinfo", "x");
    assert_invalid(
        &host(json!({})).input(no_deb).execute::<Autopkgtest>(),
        "input.binary_artifacts_ids: artifact 11 holds no .deb",
    );
    let run = host(json!({
        "input": {
            "source_artifact_id": SOURCE,
            "binary_artifacts_ids": [BINARY],
            "context_artifacts_ids": [CONTEXT],
        },
    }))
    .input(Input::new(CONTEXT, "debian:upload").file("x.changes", "Format: 1.8\n"))
    .execute::<Autopkgtest>();
    assert_invalid(
        &run,
        "input.context_artifacts_ids: artifact 12 holds no .deb",
    );
    let empty_dsc = Input::new(SOURCE, "debian:source-package").file("hello_2.10-3.dsc", "");
    assert_invalid(
        &host(json!({})).input(empty_dsc).execute::<Autopkgtest>(),
        "input.source_artifact_id: autopkgtest/source/hello_2.10-3.dsc: no fields",
    );
}

#[test]
fn a_denied_command_or_backend_ends_the_run_with_access_denied_and_stores_nothing() {
    let denied = [
        host(json!({})).deny_exec("autopkgtest **"),
        host(json!({})).deny_backend("local"),
        host(json!({"environment": IMAGE}))
            .input(image())
            .deny_backend("qemu"),
    ];
    for host in denied {
        let run = host.execute::<Autopkgtest>();
        assert!(
            matches!(run.status, Err(Error::AccessDenied(_))),
            "{:?}",
            run.status
        );
        assert_eq!(run.denied.len(), 1, "{:?}", run.denied);
        assert!(run.commands.is_empty(), "{:?}", run.commands);
        assert!(run.artifacts.is_empty() && run.relations.is_empty());
        assert!(run.results.is_empty(), "{:?}", run.results);
    }
}

#[test]
fn a_denied_artifact_category_ends_the_run_after_autopkgtest_without_results() {
    let run = host(json!({}))
        .reply(
            "autopkgtest **",
            autopkgtest(0, "passes               PASS\n"),
        )
        .deny_create("debian:autopkgtest")
        .execute::<Autopkgtest>();
    assert!(
        matches!(&run.status, Err(Error::AccessDenied(m)) if m.contains("debian:autopkgtest")),
        "{:?}",
        run.status
    );
    assert_eq!(run.commands.len(), 1);
    assert!(run.artifacts.is_empty() && run.relations.is_empty());
    assert!(run.results.is_empty(), "{:?}", run.results);
}

#[test]
fn a_denied_image_lookup_ends_the_run_with_access_denied() {
    // Refused, the lookup is no "the store has no image": the run ends
    // with the host's refusal, after the first autopkgtest run.
    let run = host(json!({}))
        .input(image())
        .lookup("debian/match:codename=bookworm:architecture=amd64", IMAGE)
        .deny_lookup("debian/match:codename=bookworm:architecture=amd64")
        .reply("autopkgtest **", autopkgtest(6, MIXED))
        .execute::<Autopkgtest>();
    let denied = "plugin may not look up `debian/match:codename=bookworm:architecture=amd64`: \
                  denied (simulated by FakeHost)";
    assert_eq!(run.status, Err(Error::AccessDenied(denied.into())));
    assert_eq!(run.denied, [denied]);
    assert_eq!(run.commands.len(), 1);
    assert_eq!(run.backends, ["local"]);
    assert!(
        !run.log_text(Level::Debug).contains("the store has no"),
        "{:?}",
        run.log
    );
    assert!(run.artifacts.is_empty() && run.results.is_empty());
}

#[test]
fn output_the_host_cut_leaves_the_summary_and_output_directory_whole() {
    // autopkgtest writes its output directory itself: the output limit is
    // only for what it prints.
    let reply = autopkgtest(0, "passes               PASS\n")
        .stderr("autopkgtest [12:00:00]: starting date and time\n")
        .truncated();
    let run = run(json!({}), reply);
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        file_names(&run),
        ["log", "passes-stdout", "summary", "testpkg-version"]
    );
    assert_eq!(result(&run, "autopkgtest").note.as_deref(), Some("1 PASS"));
}
