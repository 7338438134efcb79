//! The built plugin in the real host, against the real blhc, under a
//! policy: what the fake host cannot show (argv grants, the artifact
//! store, blhc's own output).

use serde_json::json;
use taskhost::report::Status;
use taskhost::testing::{Harness, build_plugin};

const POLICY: &str = r#"exec = ["blhc --debian **"]
backends = ["local"]"#;

/// A build log in dpkg-buildpackage's shape, one compiler line missing
/// every hardening flag.
const LOG: &str = "dpkg-buildpackage: info: source package hello\n\
dpkg-buildpackage: info: host architecture amd64\n debian/rules build\n\
gcc -O2 -o hello hello.c\n dpkg-deb --build debian/hello ..\n";

fn harness() -> (Harness, u64, tempfile::TempDir) {
    let wasm = build_plugin(env!("CARGO_MANIFEST_DIR")).expect("the plugin builds");
    let harness = Harness::new(&wasm).expect("the plugin loads");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("hello_1.0_amd64.build");
    std::fs::write(&log, LOG).expect("write the log");
    let id = harness
        .import(&[&log], "debian:package-build-log")
        .expect("import");
    (harness, id, dir)
}

#[test]
fn real_blhc_finds_the_missing_flags_and_the_report_is_stored() {
    let (harness, log, _dir) = harness();
    let harness = harness.policy(POLICY).expect("policy");
    let report = harness
        .run(json!({"input": {"artifact": log}}))
        .expect("run");
    assert_eq!(report.status, Status::Failure, "{report:?}");
    let result = &report.results[0];
    assert_eq!(
        result.note.as_deref(),
        Some("1 CFLAGS missing, 1 CPPFLAGS missing, 1 LDFLAGS missing")
    );
    let stored = harness.artifacts().expect("artifacts");
    let blhc = stored
        .iter()
        .find(|a| a.category == "debian:blhc")
        .expect("a debian:blhc artifact");
    assert_eq!(blhc.data["exit_code"], 8);
}

#[test]
fn without_the_grant_the_run_is_refused_before_it_starts() {
    let (harness, log, _dir) = harness();
    // blhc granted, but never with --debian: refused by the preflight.
    let harness = harness
        .policy("exec = [\"blhc --all **\"]\nbackends = [\"local\"]")
        .expect("policy");
    let report = harness
        .run(json!({"input": {"artifact": log}}))
        .expect("run");
    assert_eq!(report.status, Status::Refused, "{report:?}");
    let error = report.error.unwrap_or_default();
    assert!(error.contains("exec = [\"blhc --debian **\"]"), "{error}");
    assert!(harness.artifacts().expect("artifacts").len() == 1);
}
