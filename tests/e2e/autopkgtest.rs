//! The autopkgtest plugin: the real autopkgtest runs the tests (DEP-8) of
//! packages these tests build with dpkg-buildpackage, in testbeds its
//! unshare virt server makes from the bookworm `buildd` tarball that
//! sbuild.rs bootstraps once for the whole test process.
//!
//! Slow (each run unpacks the tarball and updates apt in it), so ignored
//! by a plain `cargo test`; the bad-input tests need no tarball. Runs go
//! one at a time, with sbuild's builds.

use crate::pkg::Package;
use crate::sbuild::{
    ENVIRONMENT, arch, assert_refused, created, exported, one_build_at_a_time, policy, relates,
    shared, unique,
};
use crate::{Env, Ran, report};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::OnceLock;

/// A package the tests built and imported: artifact ids.
struct Imported {
    source: u64,
    binaries: Vec<u64>,
    /// The .changes (source and binaries together).
    upload: u64,
}

/// Builds `package` with `tests` (debian/tests/control, then each
/// script as (name, body)) and imports what dpkg-buildpackage made.
fn build_and_import(name: &str, control: &str, scripts: &[(&str, &str)]) -> Imported {
    let env = &shared().env;
    let mut package = Package::new(name).file("debian/tests/control", control);
    for (test, body) in scripts {
        package = package.file(
            &format!("debian/tests/{test}"),
            &format!("#!/bin/sh\n{body}\n"),
        );
    }
    let built = package.build(env, true);
    let id = |s: String| s.parse::<u64>().expect("artifact id");
    let dsc = built.dsc.expect("a .dsc");
    // The shared directory holds other packages' .debs too.
    let debs: Vec<PathBuf> = built
        .debs
        .into_iter()
        .filter(|d| {
            d.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}_")))
        })
        .collect();
    assert!(!debs.is_empty(), "dpkg-buildpackage made no .deb of {name}");
    Imported {
        source: id(env.import(&dsc, "debian:source-package")),
        binaries: debs
            .iter()
            .map(|d| id(env.import(d, "debian:binary-package")))
            .collect(),
        upload: id(env.import(&built.changes, "debian:upload")),
    }
}

/// Tests that pass: one runs the package's program, one is superficial,
/// one checks a variable that extra_environment sets.
fn passing() -> &'static Imported {
    static P: OnceLock<Imported> = OnceLock::new();
    P.get_or_init(|| {
        build_and_import(
            "th-apt-pass",
            "Tests: passes\nDepends: @\n\n\
             Tests: superficial\nDepends: @\nRestrictions: superficial\n\n\
             Tests: sees-env\nDepends: @\n",
            &[
                ("passes", "set -e\nth-apt-pass"),
                ("superficial", "test -x /usr/bin/th-apt-pass"),
                (
                    "sees-env",
                    "echo \"TH_GREETING=$TH_GREETING\"\ntest \"$TH_GREETING\" = 'hello world'",
                ),
            ],
        )
    })
}

/// One test of each outcome: passes, fails, a flaky one that fails, one
/// that skips (exit 77, skippable), one that needs a machine.
fn mixed() -> &'static Imported {
    static P: OnceLock<Imported> = OnceLock::new();
    P.get_or_init(|| {
        build_and_import(
            "th-apt-mixed",
            "Tests: passes\nDepends: @\n\n\
             Tests: fails\nDepends: @\n\n\
             Tests: flaky\nDepends: @\nRestrictions: flaky\n\n\
             Tests: skips\nDepends: @\nRestrictions: skippable\n\n\
             Tests: machine\nDepends: @\nRestrictions: isolation-machine\n",
            &[
                ("passes", "set -e\nth-apt-mixed"),
                (
                    "fails",
                    "echo 'taskhost: this test fails on purpose'\nexit 1",
                ),
                ("flaky", "exit 3"),
                ("skips", "echo 'taskhost: nothing to test here'\nexit 77"),
                ("machine", "true"),
            ],
        )
    })
}

/// task_data testing `p` on the tarball (backend unshare: `auto` would
/// run isolation-machine tests again in a machine, once the qemu test
/// below has put an image in the store).
fn task_data(p: &Imported) -> Value {
    json!({
        "input": {"source_artifact_id": p.source, "binary_artifacts_ids": p.binaries},
        "environment": ENVIRONMENT,
        "host_architecture": arch(),
        "backend": "unshare",
    })
}

/// `runtask run autopkgtest` in the shared store, JSON report.
fn run(data: &Value) -> Ran {
    let s = shared();
    let file = s
        .env
        .write(&format!("autopkgtest-{}.json", unique()), &data.to_string());
    let _one_at_a_time = one_build_at_a_time();
    s.env.run(&[
        "run",
        "autopkgtest",
        "--policy",
        s.policy.to_str().expect("utf-8"),
        "--data",
        file.to_str().expect("utf-8"),
        "--format",
        "json",
    ])
}

/// The result of check `checkname`.
fn result<'a>(report: &'a Value, checkname: &str) -> &'a Value {
    report["results"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["checkname"] == checkname))
        .unwrap_or_else(|| panic!("no {checkname} result in {report:#}"))
}

/// The checknames of the per-test results, sorted.
fn tests_reported(report: &Value) -> Vec<String> {
    let mut names: Vec<String> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["checkname"].as_str())
        .filter_map(|c| c.strip_prefix("autopkgtest."))
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// The debian:autopkgtest artifact a run stored.
fn stored(ran: &Ran) -> Value {
    let mut found: Vec<Value> = created(&shared().env, ran)
        .into_iter()
        .filter(|a| a["category"] == "debian:autopkgtest")
        .collect();
    assert_eq!(found.len(), 1, "{}\n{}", ran.stdout, ran.stderr);
    found.remove(0)
}

#[track_caller]
fn assert_test(report: &Value, test: &str, outcome: &str, note: &str) {
    let r = result(report, &format!("autopkgtest.{test}"));
    assert_eq!(r["outcome"], outcome, "{test}: {r}");
    let got = r["note"].as_str().unwrap_or_default();
    assert!(
        got.contains(note),
        "{test}: note {got:?} does not say {note:?}"
    );
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs autopkgtest"]
fn passing_tests_pass_and_the_artifact_keeps_results_output_and_relations() {
    let p = passing();
    let mut data = task_data(p);
    data["extra_environment"] = json!({"TH_GREETING": "hello world"});
    let ran = run(&data);
    ran.expect(0);
    let r = report(&ran);
    assert_eq!(r["status"], "success", "{r:#}");
    assert_eq!(tests_reported(&r), ["passes", "sees-env", "superficial"]);
    assert_test(&r, "passes", "PASSED", "PASS");
    assert_test(&r, "sees-env", "PASSED", "PASS");
    assert_test(&r, "superficial", "PASSED", "PASS: (superficial)");
    let overall = result(&r, "autopkgtest");
    assert_eq!(overall["outcome"], "PASSED", "{overall}");
    assert_eq!(overall["note"], "3 PASS", "{overall}");
    assert_eq!(overall["keyvals"]["autopkgtest_exit_code"], "0");
    assert_eq!(overall["item"], format!("th-apt-pass_1.0_{}", arch()));

    let a = stored(&ran);
    let d = &a["data"];
    assert_eq!(
        d["results"],
        json!({
            "passes": {"status": "PASS"},
            "sees-env": {"status": "PASS"},
            "superficial": {"status": "PASS", "details": "(superficial)"},
        }),
        "{a:#}"
    );
    assert_eq!(d["source_package"]["name"], "th-apt-pass");
    assert_eq!(d["source_package"]["version"], "1.0");
    assert_eq!(
        d["source_package"]["url"],
        format!("artifact:{}/th-apt-pass_1.0.dsc", p.source)
    );
    assert_eq!(d["architecture"], arch().as_str());
    assert_eq!(d["distribution"], "debian:bookworm");
    let cmdline = d["cmdline"].as_str().expect("cmdline");
    assert!(
        cmdline.starts_with(
            "autopkgtest --apt-upgrade --output-dir=autopkgtest/output \
             --summary=autopkgtest/output/summary --no-built-binaries "
        ),
        "{cmdline}"
    );
    assert!(
        cmdline.contains("'--env=TH_GREETING=hello world'"),
        "{cmdline}"
    );
    assert!(cmdline.contains(" -- unshare --arch="), "{cmdline}");
    assert!(!cmdline.contains(" null"), "{cmdline}");

    let names: Vec<&str> = a["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    for name in [
        "summary",
        "log",
        "passes-stdout",
        "sees-env-stdout",
        "testpkg-version",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with("binaries/")),
        "the copied binaries are left out: {names:?}"
    );
    let env = &shared().env;
    assert!(exported(env, &a, "passes-stdout").contains("hello"));
    assert!(exported(env, &a, "sees-env-stdout").contains("TH_GREETING=hello world"));
    assert!(relates(&a, "relates-to", &json!(p.source)), "{a:#}");
    for b in &p.binaries {
        assert!(relates(&a, "relates-to", &json!(b)), "{a:#}");
    }
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs autopkgtest"]
fn a_failed_test_fails_the_task_but_flaky_skipped_and_machine_only_tests_do_not() {
    let ran = run(&task_data(mixed()));
    ran.expect(100);
    let r = report(&ran);
    assert_eq!(r["status"], "failure", "{r:#}");
    assert_eq!(
        tests_reported(&r),
        ["fails", "flaky", "machine", "passes", "skips"]
    );
    assert_test(&r, "passes", "PASSED", "PASS");
    assert_test(&r, "fails", "FAILED", "FAIL: non-zero exit status 1");
    assert_test(&r, "flaky", "INFO", "fail_on.flaky_test is false");
    assert_test(
        &r,
        "skips",
        "INFO",
        "exit status 77 and marked as skippable",
    );
    // More isolation than unshare gives: a skip that says why.
    assert_test(
        &r,
        "machine",
        "INFO",
        "needs isolation-machine (Restrictions: isolation-machine), which the unshare backend does not give",
    );
    let overall = result(&r, "autopkgtest");
    assert_eq!(overall["outcome"], "FAILED", "{overall}");
    assert_eq!(overall["note"], "1 PASS, 1 FAIL, 1 FLAKY, 2 SKIP");
    assert_eq!(overall["keyvals"]["autopkgtest_exit_code"], "6");

    let results = &stored(&ran)["data"]["results"];
    assert_eq!(results["passes"], json!({"status": "PASS"}));
    assert_eq!(results["fails"]["status"], "FAIL", "{results}");
    assert_eq!(results["flaky"]["status"], "FLAKY", "{results}");
    assert_eq!(results["skips"]["status"], "SKIP", "{results}");
    assert_eq!(results["machine"]["status"], "SKIP", "{results}");
    assert!(
        results["machine"]["details"]
            .as_str()
            .is_some_and(|d| d.contains("isolation-machine")),
        "{results}"
    );
}

#[test]
#[ignore = "slow: bootstraps Debian, builds an image, then runs autopkgtest in a machine"]
fn with_backend_auto_a_test_that_needs_a_machine_runs_again_in_one() {
    // The image of the qemu tests, in this store: a bookworm machine of
    // this architecture, with autopkgtest in it.
    let image = crate::qemu::image();
    let s = shared();
    let ran = s.env.run(&[
        "artifact",
        "import",
        image.file.to_str().expect("utf-8"),
        "--category",
        "debian:system-image",
        "--data",
        &image.artifact["data"].to_string(),
    ]);
    ran.expect(0);
    let mut data = task_data(mixed());
    data["backend"] = json!("auto");
    data["include_tests"] = json!(["passes", "machine"]);
    let ran = run(&data);
    ran.expect(0);
    let r = report(&ran);
    assert_eq!(tests_reported(&r), ["machine", "passes"], "{r:#}");
    assert_test(&r, "passes", "PASSED", "PASS");
    // Skipped on unshare, then run in a machine booted from the image.
    assert_test(&r, "machine", "PASSED", "PASS");
    let stored = stored(&ran);
    assert_eq!(stored["data"]["results"]["machine"]["status"], "PASS");
    let cmdline = stored["data"]["cmdline"].as_str().unwrap_or_default();
    assert!(
        cmdline.contains(" -- unshare ") && cmdline.ends_with(" -- null"),
        "{cmdline}"
    );
    assert!(
        stored["files"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["name"] == "isolation-machine/summary")),
        "{stored}"
    );
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs autopkgtest"]
fn with_fail_on_failed_test_false_a_failed_test_does_not_fail_the_task() {
    let mut data = task_data(mixed());
    data["fail_on"] = json!({"failed_test": false});
    let ran = run(&data);
    ran.expect(0);
    let r = report(&ran);
    assert_eq!(r["status"], "success", "{r:#}");
    assert_test(&r, "fails", "INFO", "fail_on.failed_test is false");
    assert_eq!(result(&r, "autopkgtest")["outcome"], "PASSED");
    assert_eq!(stored(&ran)["data"]["results"]["fails"]["status"], "FAIL");
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs autopkgtest"]
fn fail_on_flaky_test_fails_the_task_on_a_flaky_failure() {
    let mut data = task_data(mixed());
    data["include_tests"] = json!(["passes", "flaky"]);
    data["fail_on"] = json!({"flaky_test": true});
    let ran = run(&data);
    ran.expect(100);
    let r = report(&ran);
    assert_eq!(r["status"], "failure", "{r:#}");
    assert_eq!(tests_reported(&r), ["flaky", "passes"]);
    assert_test(&r, "flaky", "FAILED", "FLAKY: non-zero exit status 3");
    assert_eq!(result(&r, "autopkgtest")["outcome"], "FAILED");
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs autopkgtest"]
fn fail_on_skipped_test_fails_the_task_on_a_skipped_test() {
    let mut data = task_data(mixed());
    data["include_tests"] = json!(["passes", "skips"]);
    data["fail_on"] = json!({"skipped_test": true});
    let ran = run(&data);
    ran.expect(100);
    let r = report(&ran);
    assert_eq!(r["status"], "failure", "{r:#}");
    assert_eq!(tests_reported(&r), ["passes", "skips"]);
    assert_test(&r, "skips", "FAILED", "SKIP: exit status 77");
    assert_eq!(
        result(&r, "autopkgtest")["keyvals"]["autopkgtest_exit_code"],
        "2"
    );
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs autopkgtest"]
fn include_tests_and_exclude_tests_select_the_tests() {
    let mut data = task_data(mixed());
    data["include_tests"] = json!(["passes", "fails", "skips"]);
    data["exclude_tests"] = json!(["fails"]);
    let ran = run(&data);
    ran.expect(0);
    let r = report(&ran);
    assert_eq!(tests_reported(&r), ["passes", "skips"], "{r:#}");
    assert_eq!(r["status"], "success", "{r:#}");
    let cmdline = stored(&ran)["data"]["cmdline"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for option in [
        "--test-name=passes",
        "--test-name=fails",
        "--test-name=skips",
        "--skip-test=fails",
    ] {
        assert!(cmdline.contains(option), "{option}: {cmdline}");
    }
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs autopkgtest"]
fn an_upload_gives_source_and_binaries_and_a_superficial_test_alone_is_exit_8() {
    let p = passing();
    let mut data = task_data(p);
    data["input"] = json!({"source_artifact_id": p.upload, "binary_artifacts_ids": [p.upload]});
    data["include_tests"] = json!(["superficial"]);
    let ran = run(&data);
    ran.expect(0);
    let r = report(&ran);
    assert_eq!(r["status"], "success", "{r:#}");
    assert_eq!(tests_reported(&r), ["superficial"]);
    // A superficial pass is no positive result: autopkgtest exits 8.
    let overall = result(&r, "autopkgtest");
    assert_eq!(
        overall["keyvals"]["autopkgtest_exit_code"], "8",
        "{overall}"
    );
    assert_eq!(overall["outcome"], "PASSED", "{overall}");
    let a = stored(&ran);
    assert_eq!(a["data"]["source_package"]["name"], "th-apt-pass");
    assert!(relates(&a, "relates-to", &json!(p.upload)), "{a:#}");
}

#[test]
#[ignore = "slow: bootstraps Debian, then runs autopkgtest"]
fn a_test_dependency_that_cannot_be_installed_is_an_error_not_a_test_result() {
    let p = build_and_import(
        "th-apt-badpkg",
        "Tests: needs-nowhere\nDepends: @, taskhost-nowhere-to-be-found\n",
        &[("needs-nowhere", "true")],
    );
    let ran = run(&task_data(&p));
    ran.expect(1);
    let r = report(&ran);
    assert_eq!(r["status"], "error", "{r:#}");
    let error = r["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("autopkgtest stopped with an erroneous package"),
        "{error}"
    );
    assert!(error.contains("badpkg: "), "{error}");
    let overall = result(&r, "autopkgtest");
    assert_eq!(overall["outcome"], "ABORTED", "{overall}");
    assert_eq!(
        overall["keyvals"]["autopkgtest_exit_code"], "12",
        "{overall}"
    );
    // The testbed's lines are no tests; the test itself failed to install.
    assert_eq!(tests_reported(&r), ["needs-nowhere"]);
    let a = stored(&ran);
    assert_eq!(
        a["data"]["results"],
        json!({"needs-nowhere": {"status": "FAIL", "details": "badpkg"}}),
        "{a:#}"
    );
}

// ---- bad input: no bootstrap needed ------------------------------------

/// `runtask run autopkgtest` in a fresh store, with the test policy.
fn alone(env: &Env, data: &Value) -> Ran {
    let policy = policy(env);
    let file = env.write("autopkgtest.json", &data.to_string());
    env.run(&[
        "run",
        "autopkgtest",
        "--policy",
        policy.to_str().expect("utf-8"),
        "--data",
        file.to_str().expect("utf-8"),
    ])
}

/// task_data whose artifacts do not exist: the checks that refuse it
/// come first.
fn minimal() -> Value {
    json!({
        "input": {"source_artifact_id": 999_999, "binary_artifacts_ids": [999_997]},
        "environment": 999_998,
        "host_architecture": "amd64",
    })
}

#[test]
fn a_source_artifact_of_another_category_is_refused_by_autopkgtest() {
    let env = Env::new();
    let log = env.write(
        "y_1.0_amd64.build",
        "dpkg-buildpackage: info: source package y\n",
    );
    let mut data = minimal();
    data["input"]["source_artifact_id"] = json!(
        env.import(&log, "debian:package-build-log")
            .parse::<u64>()
            .expect("id")
    );
    assert_refused(
        &alone(&env, &data),
        2,
        "input.source_artifact_id: unexpected artifact category: 'debian:package-build-log'. \
         Valid categories: [\"debian:source-package\", \"debian:upload\"]",
    );
}

#[test]
fn an_unknown_autopkgtest_key_is_refused_naming_it() {
    let env = Env::new();
    let mut data = minimal();
    data["fail_on"] = json!({"failed_tests": false});
    assert_refused(
        &alone(&env, &data),
        2,
        "task_data: unknown key 'fail_on.failed_tests'",
    );
}

#[test]
fn a_needs_internet_value_autopkgtest_does_not_know_is_refused() {
    let env = Env::new();
    let mut data = minimal();
    data["needs_internet"] = json!("maybe");
    let ran = alone(&env, &data);
    assert_refused(&ran, 2, "needs_internet: unknown variant `maybe`");
    assert!(
        ran.stderr.contains("`run`, `try`, `skip`"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_backend_autopkgtest_cannot_use_here_is_refused() {
    let env = Env::new();
    let mut data = minimal();
    data["backend"] = json!("incus-vm");
    assert_refused(
        &alone(&env, &data),
        2,
        "backend: IncusVm is not available for autopkgtest on this host; use unshare, qemu (or auto)",
    );
    data["backend"] = json!("local");
    assert_refused(
        &alone(&env, &data),
        2,
        "backend: local would run the tests on this host itself (autopkgtest's null virt server)",
    );
}

#[test]
fn an_environment_of_another_architecture_is_refused_before_autopkgtest_runs() {
    let env = Env::new();
    let tarball = env.write("system.tar.xz", "not really a tarball");
    let ran = env.run(&[
        "artifact",
        "import",
        tarball.to_str().expect("utf-8"),
        "--category",
        "debian:system-tarball",
        "--data",
        r#"{"filename": "system.tar.xz", "vendor": "debian", "codename": "bookworm", "architecture": "s390x"}"#,
    ]);
    ran.expect(0);
    let dsc = Package::new("th-apt-cross").source(&env);
    let data = json!({
        "input": {
            "source_artifact_id": dsc.to_str().expect("utf-8"),
            "binary_artifacts_ids": [],
        },
        "environment": ran.stdout.trim().parse::<u64>().expect("id"),
        "host_architecture": "amd64",
    });
    let ran = alone(&env, &data);
    assert_ne!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let said = format!("{}\n{}", ran.stdout, ran.stderr);
    assert!(
        said.contains("host_architecture: the environment")
            && said.contains("is an s390x system, not amd64"),
        "{said}"
    );
    let ran_autopkgtest = env
        .artifacts()
        .into_iter()
        .any(|a| a["category"] == "debian:autopkgtest");
    assert!(!ran_autopkgtest, "autopkgtest ran");
}
