//! The blhc plugin on build logs made by a real dpkg-buildpackage.

use crate::pkg::Package;
use crate::{Env, report};
use std::path::{Path, PathBuf};

const GRANTS: &[&str] = &[
    "--allow-exec",
    "blhc --debian **",
    "--allow-backend",
    "local",
];

/// Builds a tiny native package whose Makefile runs `compile`; returns the
/// path of its build log (`NAME_1.0_ARCH.build`).
pub fn build_package(env: &Env, name: &str, compile: &str) -> PathBuf {
    Package::new(name).compile(compile).build(env, false).log
}

fn task_data(env: &Env, log: &Path, extra: &str) -> String {
    let data = format!(
        "{{\"input\": {{\"artifact\": {:?}}}{extra}}}",
        log.display().to_string()
    );
    env.write("blhc.json", &data).display().to_string()
}

fn blhc_artifact(env: &Env) -> serde_json::Value {
    env.artifacts()
        .into_iter()
        .find(|a| a["category"] == "debian:blhc")
        .expect("a debian:blhc artifact")
}

fn exported(env: &Env, id: &serde_json::Value, file: &str) -> String {
    let dir = env.path(&format!("export-{id}"));
    env.run(&["artifact", "export", &id.to_string(), dir.to_str().unwrap()])
        .expect(0);
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn a_log_with_missing_hardening_flags_fails_the_check() {
    let env = Env::new();
    let log = build_package(&env, "hardening-missing", "gcc -O2 -o hello hello.c");
    let data = task_data(&env, &log, "");
    let mut args = vec!["run", "blhc", "--data", &data, "--format", "json"];
    args.extend_from_slice(GRANTS);
    let ran = env.run(&args);
    ran.expect(100);
    let report = report(&ran);
    assert_eq!(report["status"], "failure");
    let result = &report["results"][0];
    assert_eq!(result["outcome"], "FAILED");
    assert_eq!(result["checkname"], "blhc");
    assert!(
        result["item"].as_str().unwrap().ends_with(".build"),
        "{result}"
    );
    let note = result["note"].as_str().unwrap();
    assert!(
        note.contains("CFLAGS missing") && note.contains("LDFLAGS missing"),
        "{note}"
    );

    // The debian:blhc artifact holds blhc's own output and relates to the log.
    let blhc = blhc_artifact(&env);
    assert_eq!(blhc["data"]["exit_code"], 8);
    let output = exported(&env, &blhc["id"], "blhc.txt");
    assert!(
        output.contains("CFLAGS missing (-g -fstack-protector-strong"),
        "{output}"
    );
    assert!(output.contains("gcc -O2 -o hello hello.c"), "{output}");
    let log_artifact = env
        .artifacts()
        .into_iter()
        .find(|a| a["category"] == "debian:package-build-log")
        .unwrap();
    assert_eq!(blhc["relations"][0]["relation"], "relates-to");
    assert_eq!(blhc["relations"][0]["target"], log_artifact["id"]);

    // The run's own log is an artifact too, relating to input and output.
    let debug = env
        .artifacts()
        .into_iter()
        .find(|a| a["category"] == "debusine:work-request-debug-logs")
        .unwrap();
    let text = exported(&env, &debug["id"], "taskhost.log");
    for stage in ["fetch-inputs", "configure", "run", "upload-artifacts"] {
        assert!(
            text.contains(&format!("stage: {stage}")),
            "stage {stage} missing from\n{text}"
        );
    }
    assert!(text.contains("running `blhc --debian"), "{text}");
}

#[test]
fn a_clean_log_passes() {
    let env = Env::new();
    let log = build_package(
        &env,
        "hardening-clean",
        "$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o hello hello.c",
    );
    let data = task_data(&env, &log, "");
    let mut args = vec!["run", "blhc", "--data", &data, "--format", "json"];
    args.extend_from_slice(GRANTS);
    let ran = env.run(&args);
    ran.expect(0);
    let report = report(&ran);
    assert_eq!(report["status"], "success");
    assert_eq!(report["results"][0]["outcome"], "PASSED");
    assert_eq!(report["results"][0]["note"], "no missing hardening flags");
    let blhc = blhc_artifact(&env);
    assert_eq!(blhc["data"]["exit_code"], 0);
    assert_eq!(exported(&env, &blhc["id"], "blhc.txt"), "");
}

#[test]
fn extra_flags_reach_blhc_and_an_artifact_id_works_as_input() {
    let env = Env::new();
    let log = build_package(&env, "hardening-flags", "gcc -O2 -o hello hello.c");
    let id = env.import(&log, "debian:package-build-log");
    let data = env.write(
        "ids.yaml",
        &format!("input:\n  artifact: {id}\nextra_flags: [--line-numbers, --ignore-flag=-g]\n"),
    );
    let mut args = vec![
        "run",
        "blhc",
        "--data",
        data.to_str().unwrap(),
        "--format",
        "yaml",
    ];
    args.extend_from_slice(GRANTS);
    let ran = env.run(&args);
    ran.expect(100);
    // ResultYAML on stdout, in libtaskotron's shape.
    assert!(ran.stdout.starts_with("results:"), "{}", ran.stdout);
    assert!(ran.stdout.contains("outcome: FAILED"), "{}", ran.stdout);
    let blhc = blhc_artifact(&env);
    let output = exported(&env, &blhc["id"], "blhc.txt");
    // --line-numbers prefixes the log line; --ignore-flag=-g drops -g.
    assert!(
        output
            .lines()
            .all(|l| l.split(':').next().unwrap().parse::<u32>().is_ok()),
        "{output}"
    );
    assert!(!output.contains("(-g "), "{output}");
    assert_eq!(blhc["relations"][0]["target"].to_string(), id);
}

#[test]
fn junit_and_the_results_file_follow_the_outcome() {
    let env = Env::new();
    let log = build_package(&env, "hardening-junit", "gcc -O2 -o hello hello.c");
    let data = task_data(&env, &log, "");
    let results = env.path("results.yaml");
    let mut args = vec![
        "run",
        "blhc",
        "--data",
        &data,
        "--format",
        "junit",
        "--results",
        results.to_str().unwrap(),
    ];
    args.extend_from_slice(GRANTS);
    let ran = env.run(&args);
    ran.expect(100);
    assert!(
        ran.stdout.contains("<testsuite") && ran.stdout.contains("failures=\"1\""),
        "{}",
        ran.stdout
    );
    let yaml = std::fs::read_to_string(&results).unwrap();
    assert!(
        yaml.contains("checkname: blhc") && yaml.contains("outcome: FAILED"),
        "{yaml}"
    );
}

#[test]
fn tmt_results_name_the_check_and_bring_its_logs_into_the_test_data() {
    use crate::tmt::{assert_tmt_reads, run_in_tmt, tmt_results};
    let env = Env::new();
    let log = build_package(&env, "hardening-tmt", "gcc -O2 -o hello hello.c");
    let data = task_data(&env, &log, "");
    let tmt_data = env.path("tmt-data");
    let mut args = vec!["run", "blhc", "--data", &data, "--format", "tmt"];
    args.extend_from_slice(GRANTS);
    let ran = run_in_tmt(&env, &tmt_data, &args);
    ran.expect(100);
    let results = tmt_results(&ran);
    assert_eq!(results.len(), 2, "{}", ran.stdout);
    let (run, check) = (&results[0], &results[1]);
    assert_eq!(run["name"], "/");
    assert_eq!(run["result"], "fail");
    assert!(
        run["start-time"].is_string() && run["duration"].is_string(),
        "{run}"
    );
    let item = check["ids"]["item"].as_str().expect("item");
    assert!(item.ends_with(".build"), "{item}");
    assert_eq!(
        check["name"],
        format!("/blhc/{}", taskhost::report::tmt::segment(item))
    );
    assert_eq!(check["result"], "fail");
    assert_eq!(check["ids"]["checkname"], "blhc");
    assert!(
        check["note"][0].as_str().unwrap().contains("missing"),
        "{check}"
    );
    // The blhc output, copied from the store into $TMT_TEST_DATA.
    let blhc = blhc_artifact(&env);
    let logs = check["log"].as_array().expect("logs");
    assert_eq!(logs.len(), 1, "{check}");
    let path = logs[0].as_str().unwrap();
    assert!(
        path.starts_with("taskhost/")
            && path.ends_with(&format!("artifact-{}/blhc.txt", blhc["id"])),
        "{path}"
    );
    assert_eq!(
        std::fs::read_to_string(tmt_data.join(path)).unwrap(),
        exported(&env, &blhc["id"], "blhc.txt")
    );
    let run_log = run["log"][0].as_str().expect("the run log");
    assert!(tmt_data.join(run_log).is_file(), "{run_log}");
    assert_tmt_reads(&env, "results.yaml", &ran.stdout, Some(&tmt_data));
}

#[test]
fn a_missing_grant_refuses_the_run_with_the_policy_line() {
    let env = Env::new();
    let log = build_package(&env, "hardening-refused", "gcc -O2 -o hello hello.c");
    let data = task_data(&env, &log, "");
    let ran = env.run(&["run", "blhc", "--data", &data, "--allow-backend", "local"]);
    ran.expect(3);
    let all = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        all.contains("[plugins.blhc]") && all.contains("blhc --debian **"),
        "{all}"
    );
    assert!(all.contains("--allow-exec"), "{all}");
    assert!(env.artifacts().is_empty(), "a refused run wrote artifacts");
}

#[test]
fn the_sample_policy_grants_the_shipped_plugins() {
    let env = Env::new();
    let log = build_package(&env, "hardening-policy", "gcc -O2 -o hello hello.c");
    let data = task_data(&env, &log, "");
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.toml");
    env.run(&[
        "run",
        "blhc",
        "--data",
        &data,
        "--policy",
        policy.to_str().unwrap(),
    ])
    .expect(100);
    // Also found in $XDG_CONFIG_HOME/taskhost/policy.toml without --policy.
    std::fs::create_dir_all(env.path("config/taskhost")).unwrap();
    std::fs::copy(&policy, env.path("config/taskhost/policy.toml")).unwrap();
    env.run(&["run", "blhc", "--data", &data]).expect(100);
}
