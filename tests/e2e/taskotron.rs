//! A task formula in the classic Taskotron shape, end to end against the
//! test servers: koji download → a check run by `shell` → xunit →
//! resultsdb → exitcode.

use crate::koji::origin;
use crate::servers::{KojiHub, NEW_NVR, ResultsDb, fixtures};
use crate::{Env, report};
use serde_json::Value;

/// The example formula and its check (examples/taskotron), pointed at the
/// test servers instead of Fedora's.
const FORMULA: &str = include_str!("../../examples/taskotron/runtask.yml");
const CHECK: &str = include_str!("../../examples/taskotron/check.py");

#[test]
fn the_classic_formula_runs_end_to_end_and_exits_with_the_worst_outcome() {
    let env = Env::new();
    let hub = KojiHub::start();
    let resultsdb = ResultsDb::start();
    env.write("task/check.py", CHECK);
    let formula = FORMULA
        .replace("https://koji.fedoraproject.org/kojihub", &hub.url)
        .replace("https://kojipkgs.fedoraproject.org", &hub.topurl)
        .replace(
            "https://resultsdb.fedoraproject.org/api/v2.0",
            &resultsdb.url,
        );
    assert_ne!(formula, FORMULA);
    let file = env.write("task/runtask.yml", &formula);
    let policy = env.write(
        "policy.toml",
        &format!(
            "[plugins.koji]\nurls = [{:?}]\n\n[plugins.shell]\nbackends = [\"local\"]\n\
             exec = [\"python3 check.py **\"]\n\n[plugins.resultsdb]\nurls = [{:?}]\n",
            origin(&hub.url),
            resultsdb.url
        ),
    );
    let art = env.path("art");
    let ran = env.run(&[
        "-i",
        NEW_NVR,
        "-t",
        "koji_build",
        "-a",
        "x86_64",
        "-j",
        "7",
        "--uuid",
        "job-7",
        "--policy",
        policy.to_str().expect("utf-8"),
        "--artifactsdir",
        art.to_str().expect("utf-8"),
        "--format",
        "json",
        file.to_str().expect("utf-8"),
    ]);
    // The noarch -docs package is not built for x86_64: FAILED, exit 100.
    ran.expect(100);
    let report = report(&ran);
    assert_eq!(report["status"], "success", "{report}");

    // koji downloaded the x86_64 and noarch RPMs (no debuginfo, no src).
    let expected: Vec<String> = fixtures().build(NEW_NVR)["rpms"]
        .as_array()
        .expect("fixture rpms")
        .iter()
        .filter(|r| matches!(r["arch"].as_str(), Some("x86_64" | "noarch")))
        .filter(|r| !r["name"].as_str().unwrap_or_default().contains("debug"))
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            format!(
                "{}-{}-{}.{}.rpm",
                field("name"),
                field("version"),
                field("release"),
                field("arch")
            )
        })
        .collect();
    assert!(expected.len() >= 2, "{expected:?}");

    // ResultsDB got one result per RPM, in the job's group, as dist.*.
    let received = resultsdb.results();
    assert_eq!(received.len(), expected.len(), "{received:#?}");
    for rpm in &expected {
        let result = received
            .iter()
            .find(|r| r["testcase"]["name"] == format!("dist.rpmarch.{rpm}"))
            .unwrap_or_else(|| panic!("no result for {rpm} in {received:#?}"));
        let outcome = if rpm.ends_with(".noarch.rpm") {
            "FAILED"
        } else {
            "PASSED"
        };
        assert_eq!(result["outcome"], outcome, "{result}");
        assert_eq!(
            result["data"]["item"],
            serde_json::json!([NEW_NVR]),
            "{result}"
        );
        assert_eq!(
            result["data"]["type"],
            serde_json::json!(["koji_build"]),
            "{result}"
        );
        assert_eq!(
            result["data"]["arch"],
            serde_json::json!(["x86_64"]),
            "{result}"
        );
        assert!(
            result["ref_url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://artifacts.example.org/job-7/")),
            "{result}"
        );
        let groups: Vec<&Value> = result["groups"]
            .as_array()
            .map(|g| g.iter().collect())
            .unwrap_or_default();
        assert_eq!(groups, [&serde_json::json!("job-7")], "{result}");
    }
    let (status, group) = resultsdb.get("groups/job-7");
    assert_eq!(status, 200, "{group}");

    // The run's own report holds the same results; the artifacts are kept.
    let outcomes: Vec<&str> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["outcome"].as_str())
        .collect();
    assert_eq!(outcomes.len(), expected.len(), "{report}");
    assert!(
        outcomes.contains(&"FAILED") && outcomes.contains(&"PASSED"),
        "{report}"
    );
    let kept = art.join("job-7");
    let junit = std::fs::read_to_string(kept.join("arch.xml")).expect("arch.xml kept");
    assert!(junit.contains("built for noarch, not x86_64"), "{junit}");
    let results_yaml = std::fs::read_to_string(kept.join("results.yaml")).expect("results.yaml");
    assert!(results_yaml.contains("outcome: FAILED"), "{results_yaml}");
}
