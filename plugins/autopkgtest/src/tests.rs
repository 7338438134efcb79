use super::*;
use taskhost_sdk::decode_task_data;

fn data(json: &str) -> Data {
    decode_task_data(json).unwrap_or_else(|e| panic!("{e:?}"))
}

fn invalid(json: &str) -> String {
    let e = match decode_task_data::<Data>(json) {
        Ok(d) => check(&d).expect_err(json),
        Err(e) => e,
    };
    match e {
        Error::Invalid(m) => m,
        other => panic!("{other:?}"),
    }
}

const MINIMAL: &str = r#"{"input": {"source_artifact_id": 1, "binary_artifacts_ids": [2]},
    "environment": 3, "host_architecture": "amd64"}"#;

fn with(extra: &str) -> String {
    format!("{},{extra}}}", MINIMAL.trim_end().trim_end_matches('}'))
}

fn resolved() -> Resolved {
    Resolved {
        virt: Virt::Unshare {
            tarball: "autopkgtest/environment/system.tar.xz".into(),
        },
        dsc: "autopkgtest/source/hello_1.0.dsc".into(),
        debs: vec!["autopkgtest/binaries/2/hello_1.0_amd64.deb".into()],
        codename: "bookworm".into(),
        tests: vec![],
    }
}

#[test]
fn in_a_machine_autopkgtest_runs_the_null_server_there() {
    let d = data(&with(r#""include_tests": ["a"]"#));
    let r = Resolved {
        virt: Virt::Null,
        tests: vec!["machine".into()],
        ..resolved()
    };
    let cmd = command_line(&d, &r);
    assert_eq!(
        cmd.argv()[FIXED.len() + 1..],
        [
            "--test-name=machine",
            "--needs-internet=run",
            "autopkgtest/binaries/2/hello_1.0_amd64.deb",
            "autopkgtest/source/hello_1.0.dsc",
            "--",
            "null",
        ]
    );
}

#[test]
fn two_runs_exit_codes_merge() {
    assert_eq!(merge_codes(Some(8), Some(0)), Some(0));
    assert_eq!(merge_codes(Some(8), Some(8)), Some(8));
    assert_eq!(merge_codes(Some(2), Some(4)), Some(6));
    assert_eq!(merge_codes(Some(0), Some(16)), Some(16));
    assert_eq!(merge_codes(Some(12), Some(0)), Some(12));
    assert_eq!(merge_codes(None, Some(0)), None);
}

#[test]
fn tests_skipped_for_want_of_a_machine_are_found() {
    let summary = summary::parse(
        "machine              SKIP Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"\n\
         passes               PASS\n\
         skips                SKIP exit status 77 and marked as skippable\n",
    );
    assert_eq!(needing_a_machine(&summary), ["machine"]);
}

#[test]
fn the_command_line_is_debusines_with_the_fixed_options_first() {
    let d = data(MINIMAL);
    check(&d).unwrap();
    assert_eq!(
        command_line(&d, &resolved()).argv(),
        [
            "autopkgtest",
            "--apt-upgrade",
            "--output-dir=autopkgtest/output",
            "--summary=autopkgtest/output/summary",
            "--no-built-binaries",
            "--needs-internet=run",
            "--copy=/etc/resolv.conf:/etc/resolv.conf",
            "autopkgtest/binaries/2/hello_1.0_amd64.deb",
            "autopkgtest/source/hello_1.0.dsc",
            "--",
            "unshare",
            "--arch=amd64",
            "--release=bookworm",
            "--tarball=autopkgtest/environment/system.tar.xz",
        ]
    );
}

#[test]
fn the_manifest_grant_pins_the_fixed_options() {
    let manifest = include_str!("../taskhost.toml");
    let pinned = format!("\"autopkgtest {} **\"", FIXED.join(" "));
    assert!(manifest.contains(&pinned), "{pinned} not in the manifest");
    assert!(FIXED.contains(&format!("--output-dir={OUTPUT_DIR}").as_str()));
    assert!(FIXED.contains(&format!("--summary={SUMMARY}").as_str()));
}

#[test]
fn every_key_reaches_its_option() {
    let d = data(&with(
        r#""include_tests": ["a", "b"], "exclude_tests": ["c"], "debug_level": 2,
           "extra_apt_sources": ["deb http://127.0.0.1:9/debian bookworm main"],
           "use_packages_from_base_repository": true,
           "extra_environment": {"TH_B": "two words", "TH_A": "1=2"},
           "needs_internet": "skip",
           "timeout": {"global": 600, "factor": 1.5, "short": 10, "install": 20,
                       "test": 30, "copy": 40, "build": 50}"#,
    ));
    check(&d).unwrap();
    let cmd = command_line(&d, &resolved());
    let argv = cmd.argv();
    let options: Vec<&str> = argv[FIXED.len() + 1..]
        .iter()
        .map(String::as_str)
        .take_while(|a| a.starts_with('-') && *a != "--")
        .collect();
    assert_eq!(
        options,
        [
            "--test-name=a",
            "--test-name=b",
            "--skip-test=c",
            "-dd",
            "--add-apt-source=deb http://127.0.0.1:9/debian bookworm main",
            "--apt-default-release=bookworm",
            "--env=TH_A=1=2",
            "--env=TH_B=two words",
            "--needs-internet=skip",
            "--timeout-factor=1.5",
            "--timeout-short=10",
            "--timeout-install=20",
            "--timeout-test=30",
            "--timeout-copy=40",
            "--timeout-build=50",
            "--copy=/etc/resolv.conf:/etc/resolv.conf",
        ]
    );
    // autopkgtest 5.28 has no --timeout: global bounds the command.
    assert!(
        !argv.iter().any(|a| a.starts_with("--timeout=")),
        "{argv:?}"
    );
    assert!(
        format!("{cmd:?}").contains("timeout-ms: Some(600000)"),
        "{cmd:?}"
    );
}

#[test]
fn defaults_are_debusines() {
    let d = data(MINIMAL);
    assert_eq!(d.backend, Backend::Auto);
    assert_eq!(d.needs_internet, NeedsInternet::Run);
    assert_eq!(d.debug_level, 0);
    assert_eq!(d.fail_on, FailOn::default());
    assert!(d.fail_on.failed_test && !d.fail_on.flaky_test && !d.fail_on.skipped_test);
    assert!(d.input.context_artifacts_ids.is_empty());
    let d = data(&with(r#""fail_on": {"skipped_test": true}"#));
    assert!(d.fail_on.failed_test && d.fail_on.skipped_test);
}

#[test]
fn the_cmdline_is_shell_quoted() {
    let d = data(&with(
        r#""extra_environment": {"TH": "two words", "TI": "it's"}, "include_tests": ["a"]"#,
    ));
    let shown = shown(&command_line(&d, &resolved()));
    assert!(shown.contains(" '--env=TH=two words' "), "{shown}");
    assert!(shown.contains(r#" '--env=TI=it'"'"'s' "#), "{shown}");
    assert!(
        shown.starts_with(
            "autopkgtest --apt-upgrade --output-dir=autopkgtest/output \
             --summary=autopkgtest/output/summary --no-built-binaries --test-name=a "
        ),
        "{shown}"
    );
}

#[test]
fn bad_values_are_refused_naming_their_key() {
    for (extra, key) in [
        (
            r#""backend": "incus-lxc""#,
            "backend: IncusLxc is not available",
        ),
        (r#""backend": "local""#, "null virt server"),
        (r#""backend": "null""#, "backend: unknown variant `null`"),
        (
            r#""needs_internet": "maybe""#,
            "needs_internet: unknown variant `maybe`",
        ),
        (r#""debug_level": 4"#, "debug_level: 4 is out of range"),
        (r#""debug_level": -1"#, "debug_level"),
        (r#""include_tests": ["a b"]"#, "include_tests[0]"),
        (r#""exclude_tests": ["ok", ""]"#, "exclude_tests[1]"),
        (
            r#""extra_apt_sources": ["deb http://h/debian bookworm"]"#,
            "extra_apt_sources[0]: suite 'bookworm' needs at least one component",
        ),
        (
            r#""extra_apt_sources": ["http://h/debian bookworm main"]"#,
            "extra_apt_sources[0]",
        ),
        (
            r#""extra_environment": {"1BAD": "x"}"#,
            "extra_environment.1BAD",
        ),
        (r#""extra_environment": {"A": 1}"#, "extra_environment.A"),
        (r#""timeout": {"test": 0}"#, "timeout.test: 0 seconds"),
        (r#""timeout": {"global": 0}"#, "timeout.global"),
        (r#""timeout": {"factor": -2}"#, "timeout.factor"),
        (r#""timeout": {"forever": 1}"#, "timeout.forever"),
        (r#""fail_on": {"failed": true}"#, "fail_on.failed"),
        (r#""host_architecture": "any""#, "host_architecture"),
        (r#""bogus": 1"#, "bogus"),
    ] {
        let json = if extra.starts_with(r#""host_architecture""#) {
            MINIMAL.replace(r#""host_architecture": "amd64""#, extra)
        } else {
            with(extra)
        };
        let m = invalid(&json);
        assert!(m.contains(key), "{extra}: {m}");
    }
    let m = invalid(
        r#"{"input": {"source_artifact_id": 1}, "environment": 3, "host_architecture": "amd64"}"#,
    );
    assert!(m.contains("binary_artifacts_ids"), "{m}");
}

#[test]
fn sources_lines_take_options_and_flat_repositories() {
    for good in [
        "deb http://deb.debian.org/debian bookworm main contrib",
        "deb [trusted=yes] http://127.0.0.1:8080/ ./",
        "deb-src [arch=amd64 signed-by=/k.gpg] https://h/debian sid main",
    ] {
        assert_eq!(check_sources_line(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "deb [trusted=yes http://h/ ./",
        "deb http://h/ ./ main",
        "deb h bookworm main",
        "deb http://h/debian bookworm main\ndeb http://evil/ ./",
    ] {
        assert!(check_sources_line(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_signed_dsc_gives_its_fields() {
    let dsc = "Format: 3.0 (native)\nSource: th-a\nBinary: th-a\nVersion: 1.0-1\n";
    assert_eq!(dsc_fields(dsc).unwrap()["Version"], "1.0-1");
    let signed = format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{dsc}\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n"
    );
    assert_eq!(dsc_fields(&signed).unwrap()["Source"], "th-a");
}

fn result(status: Status, details: &str) -> TestResult {
    TestResult {
        status,
        details: (!details.is_empty()).then(|| details.to_string()),
    }
}

#[test]
fn outcomes_follow_fail_on() {
    let lenient = FailOn {
        failed_test: false,
        flaky_test: false,
        skipped_test: false,
    };
    let strict = FailOn {
        failed_test: true,
        flaky_test: true,
        skipped_test: true,
    };
    assert_eq!(outcome(Status::Pass, strict), Outcome::Passed);
    for status in [Status::Fail, Status::Flaky, Status::Skip] {
        assert_eq!(outcome(status, strict), Outcome::Failed, "{status:?}");
        assert_eq!(outcome(status, lenient), Outcome::Info, "{status:?}");
    }
    assert_eq!(outcome(Status::Fail, FailOn::default()), Outcome::Failed);
    assert_eq!(outcome(Status::Flaky, FailOn::default()), Outcome::Info);
    let n = note(
        "t",
        &result(Status::Fail, "non-zero exit status 1"),
        lenient,
    );
    assert_eq!(
        n,
        "FAIL: non-zero exit status 1 (does not fail the task: fail_on.failed_test is false)"
    );
    assert_eq!(note("t", &result(Status::Pass, ""), lenient), "PASS");
}

#[test]
fn a_test_needing_a_machine_is_a_skip_that_says_so() {
    let r = result(
        Status::Skip,
        "Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"",
    );
    let n = note("machine", &r, FailOn::default());
    assert!(
        n.starts_with("SKIP: machine needs isolation-machine"),
        "{n}"
    );
    assert!(n.contains("unshare backend does not give"), "{n}");
    assert!(n.contains("fail_on.skipped_test is false"), "{n}");
    assert_eq!(outcome(r.status, FailOn::default()), Outcome::Info);
}

#[test]
fn results_serialize_as_debusines_artifact_data() {
    let r = result(Status::Flaky, "non-zero exit status 3");
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"status": "FLAKY", "details": "non-zero exit status 3"})
    );
    assert_eq!(
        serde_json::to_value(result(Status::Pass, "")).unwrap(),
        serde_json::json!({"status": "PASS"})
    );
}
