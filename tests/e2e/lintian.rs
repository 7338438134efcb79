//! The lintian plugin against real lintian, on packages built here. The
//! expected tags are written out from lintian 2.116 (Debian 12).

use crate::pkg::{Built, Package};
use crate::{Env, report};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const GRANTS: &[&str] = &[
    "--allow-exec",
    "lintian --no-cfg --display-level >=classification --display-experimental --info --show-overrides **",
    "--allow-exec",
    "dpkg-query -W -f=${Version} lintian",
    "--allow-backend",
    "local",
    // Granted so that task_data naming it is checked by the plugin.
    "--allow-backend",
    "unshare",
];

const COPYRIGHT: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
Source: none\n\nFiles: *\nCopyright: 2026 taskhost tests\nLicense: public-domain\n Public domain.\n";

pub fn arch() -> String {
    let out = std::process::Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn deb(built: &Built, name: &str) -> String {
    let found = built.debs.iter().find(|d| {
        d.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("{name}_"))
    });
    found
        .unwrap_or_else(|| panic!("no {name} deb in {:?}", built.debs))
        .display()
        .to_string()
}

fn run(env: &Env, data: Value) -> (crate::Ran, Value) {
    let file = env.write("lintian.json", &data.to_string());
    let mut args = vec![
        "run",
        "lintian",
        "--data",
        file.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(GRANTS);
    let ran = env.run(&args);
    let report = if ran.stdout.starts_with('{') {
        report(&ran)
    } else {
        Value::Null
    };
    (ran, report)
}

/// The debian:lintian artifacts, by architecture.
fn analyses(env: &Env) -> std::collections::BTreeMap<String, Value> {
    env.artifacts()
        .into_iter()
        .filter(|a| a["category"] == "debian:lintian")
        .map(|a| (a["data"]["architecture"].as_str().unwrap().to_string(), a))
        .collect()
}

/// `severity:tag` of every tag but classification ones, from analysis.json.
fn tags(env: &Env, artifact: &Value) -> BTreeSet<String> {
    let dir = env.path(&format!("export-{}", artifact["id"]));
    env.run(&[
        "artifact",
        "export",
        &artifact["id"].to_string(),
        dir.to_str().unwrap(),
    ])
    .expect(0);
    let analysis: Value =
        serde_json::from_slice(&std::fs::read(dir.join("analysis.json")).unwrap()).unwrap();
    analysis["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["severity"] != "classification")
        .map(|t| {
            format!(
                "{}:{}",
                t["severity"].as_str().unwrap(),
                t["tag"].as_str().unwrap()
            )
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn source_and_binaries_get_one_analysis_per_architecture() {
    let env = Env::new();
    let built = Package::new("lt-pair")
        .binary("lt-pair-data", "all")
        .build(&env, true);
    let arch = arch();
    let (ran, report) = run(
        &env,
        json!({
            "input": {
                "source_artifact_id": built.dsc.as_ref().unwrap(),
                "binary_artifacts_ids": [deb(&built, "lt-pair"), deb(&built, "lt-pair-data")],
            },
            "backend": "local",
            "fail_on_severity": "error",
        }),
    );
    ran.expect(100);
    assert_eq!(report["status"], "failure");

    let analyses = analyses(&env);
    assert_eq!(
        analyses.keys().cloned().collect::<BTreeSet<_>>(),
        set(&["all", "source", &arch])
    );
    assert_eq!(
        tags(&env, &analyses["source"]),
        set(&[
            "warning:no-debian-copyright-in-source",
            "info:duplicate-long-description",
            "pedantic:silent-on-rules-requiring-root",
        ])
    );
    assert_eq!(
        tags(&env, &analyses[&arch]),
        set(&[
            "error:no-copyright-file",
            "warning:no-manual-page",
            "info:extended-description-is-probably-too-short",
            "info:hardening-no-bindnow",
        ])
    );
    assert_eq!(
        tags(&env, &analyses["all"]),
        set(&[
            "error:no-copyright-file",
            "info:extended-description-is-probably-too-short"
        ])
    );

    // Data in debusine's shape; each analysis relates to what it analysed.
    let summary = &analyses[&arch]["data"]["summary"];
    assert_eq!(summary["tags_count_by_severity"]["error"], 1);
    assert_eq!(summary["tags_count_by_severity"]["warning"], 1);
    assert_eq!(summary["distribution"], "debian:unstable");
    assert!(
        summary["lintian_version"]
            .as_str()
            .unwrap()
            .starts_with("2."),
        "{summary}"
    );
    assert_eq!(
        summary["package_filename"]["lt-pair"],
        format!("lt-pair_1.0_{arch}.deb")
    );
    let by_category = |category: &str| -> Vec<Value> {
        env.artifacts()
            .into_iter()
            .filter(|a| a["category"] == category)
            .map(|a| a["id"].clone())
            .collect()
    };
    let sources = by_category("debian:source-package");
    assert_eq!(analyses["source"]["relations"][0]["target"], sources[0]);
    let binaries = by_category("debian:binary-package");
    assert!(binaries.contains(&analyses[&arch]["relations"][0]["target"]));
    let files: Vec<_> = analyses["all"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].clone())
        .collect();
    assert_eq!(files, [json!("analysis.json"), json!("lintian.txt")]);

    // Tag counts of each package travel as keyvals.
    let amd64 = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["item"] == format!("lt-pair_1.0_{arch}"))
        .unwrap();
    assert_eq!(
        (
            amd64["keyvals"]["error"].as_str(),
            amd64["keyvals"]["info"].as_str()
        ),
        (Some("1"), Some("2")),
        "{amd64}"
    );
    assert_eq!(amd64["note"], "1 error, 1 warning, 2 info");
    // One result per analysed package; the source has no error.
    let outcomes: BTreeSet<String> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["item"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["checkname"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        set(&[
            "lt-pair-data_1.0_all FAILED lintian",
            &format!("lt-pair_1.0_{arch} FAILED lintian"),
            "lt-pair_1.0_source PASSED lintian",
        ])
    );
}

#[test]
fn overrides_are_reported_as_overridden_with_their_comment() {
    let env = Env::new();
    let built = Package::new("lt-ovr")
        .file("debian/copyright", COPYRIGHT)
        .file("debian/lt-ovr.lintian-overrides", "# the tests need no manual page\nlt-ovr: no-manual-page [usr/bin/lt-ovr]\n")
        .file(
            "debian/source/lintian-overrides",
            "# tests build as root\nlt-ovr source: silent-on-rules-requiring-root [debian/control]\n",
        )
        .build(&env, true);
    let (ran, _) = run(
        &env,
        json!({
            "input": {"source_artifact_id": built.dsc.as_ref().unwrap(), "binary_artifacts_ids": [deb(&built, "lt-ovr")]},
            "backend": "local",
        }),
    );
    ran.expect(0);
    let analyses = analyses(&env);
    let arch = arch();
    assert_eq!(
        tags(&env, &analyses[&arch]),
        set(&[
            "info:extended-description-is-probably-too-short",
            "info:hardening-no-bindnow",
            "overridden:no-manual-page",
        ])
    );
    assert_eq!(
        tags(&env, &analyses["source"]),
        set(&["overridden:silent-on-rules-requiring-root"])
    );
    let summary = &analyses["source"]["data"]["summary"];
    assert_eq!(
        summary["overridden_tags_found"],
        json!(["silent-on-rules-requiring-root"])
    );
    let dir = env.path("ovr-export");
    env.run(&[
        "artifact",
        "export",
        &analyses["source"]["id"].to_string(),
        dir.to_str().unwrap(),
    ])
    .expect(0);
    let analysis: Value =
        serde_json::from_slice(&std::fs::read(dir.join("analysis.json")).unwrap()).unwrap();
    let tag = analysis["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == "silent-on-rules-requiring-root")
        .unwrap();
    assert_eq!(tag["comment"], "tests build as root");
    assert_eq!(tag["pointer"], "debian/control");
}

#[test]
fn every_fail_on_severity_value_decides_the_outcome() {
    let env = Env::new();
    // Binary: error + warning + info. Source: pedantic + overridden.
    let errors = Package::new("lt-sev").build(&env, false);
    let overridden = Package::new("lt-sevo")
        .file("debian/copyright", COPYRIGHT)
        .file(
            "debian/lt-sevo.lintian-overrides",
            "lt-sevo: no-manual-page [usr/bin/lt-sevo]\n",
        )
        .file(
            "debian/source/lintian-overrides",
            "lt-sevo source: silent-on-rules-requiring-root [debian/control]\n",
        )
        .build(&env, true);
    let binary = json!({"binary_artifacts_ids": [deb(&errors, "lt-sev")]});
    let binary_info = json!({"binary_artifacts_ids": [deb(&overridden, "lt-sevo")]});
    let source_overridden = json!({"source_artifact_id": overridden.dsc.as_ref().unwrap()});
    // (input, fail_on_severity, exit code)
    let cases = [
        (&binary, "error", 100),
        (&binary, "warning", 100),
        (&binary, "none", 0),
        (&binary_info, "warning", 0),
        (&binary_info, "info", 100),
        (&binary_info, "pedantic", 100),
        (&source_overridden, "pedantic", 0),
        (&source_overridden, "experimental", 0),
        (&source_overridden, "overridden", 100),
        (&source_overridden, "none", 0),
    ];
    for (input, severity, code) in cases {
        let (ran, report) = run(
            &env,
            json!({"input": input, "backend": "local", "fail_on_severity": severity}),
        );
        assert_eq!(
            ran.code, code,
            "fail_on_severity {severity} on {input}: {}\n{}",
            ran.stdout, ran.stderr
        );
        assert_eq!(
            report["status"],
            if code == 0 { "success" } else { "failure" }
        );
    }
}

#[test]
fn include_and_exclude_tags_change_what_is_reported() {
    let env = Env::new();
    let built = Package::new("lt-tags").build(&env, false);
    let input = json!({"binary_artifacts_ids": [deb(&built, "lt-tags")]});
    run(
        &env,
        json!({"input": input, "backend": "local", "include_tags": ["no-manual-page"]}),
    )
    .0
    .expect(0);
    let arch = arch();
    assert_eq!(
        tags(&env, &analyses(&env)[&arch]),
        set(&["warning:no-manual-page"])
    );

    let env = Env::new();
    let built = Package::new("lt-tags").build(&env, false);
    let input = json!({"binary_artifacts_ids": [deb(&built, "lt-tags")]});
    let (ran, _) = run(
        &env,
        json!({"input": input, "backend": "local", "exclude_tags": ["no-copyright-file"], "fail_on_severity": "error"}),
    );
    ran.expect(0);
    let found = tags(&env, &analyses(&env)[&arch]);
    assert!(
        !found.contains("error:no-copyright-file") && found.contains("warning:no-manual-page"),
        "{found:?}"
    );
}

#[test]
fn bad_input_is_refused_with_the_key_named() {
    let env = Env::new();
    let (ran, _) = run(&env, json!({"input": {}, "backend": "local"}));
    ran.expect(2);
    assert!(
        ran.stderr.contains("input.source_artifact_id")
            && ran.stderr.contains("input.binary_artifacts_ids"),
        "{}",
        ran.stderr
    );

    let log = env.write("x_1.0_amd64.build", "not a package\n");
    let (ran, _) = run(
        &env,
        json!({"input": {"source_artifact_id": log}, "backend": "local"}),
    );
    ran.expect(2);
    assert!(
        ran.stderr
            .contains("unexpected artifact category: 'debian:package-build-log'"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("debian:source-package"),
        "{}",
        ran.stderr
    );

    let built = Package::new("lt-bad").build(&env, false);
    let input = json!({"binary_artifacts_ids": [deb(&built, "lt-bad")]});
    let (ran, _) = run(&env, json!({"input": input, "fail_on_severity": "fatal"}));
    ran.expect(2);
    assert!(
        ran.stderr.contains("fail_on_severity") && ran.stderr.contains("fatal"),
        "{}",
        ran.stderr
    );

    let (ran, _) = run(&env, json!({"input": input, "backend": "unshare"}));
    ran.expect(2);
    assert!(
        ran.stderr
            .contains("environment: required with backend unshare"),
        "{}",
        ran.stderr
    );

    let (ran, _) = run(&env, json!({"input": input, "backend": "incus-vm"}));
    ran.expect(2);
    assert!(
        ran.stderr.contains("not available on this host"),
        "{}",
        ran.stderr
    );

    let (ran, _) = run(&env, json!({"input": input, "tags": ["x"]}));
    ran.expect(2);
    assert!(ran.stderr.contains("'tags'"), "{}", ran.stderr);
}

#[test]
fn a_clean_package_passes_with_no_tags() {
    let env = Env::new();
    let control = "Source: lt-clean\nSection: devel\nPriority: optional\n\
        Maintainer: taskhost tests <tests@taskhost.invalid>\nBuild-Depends: debhelper-compat (= 13)\n\
        Standards-Version: 4.6.2\nRules-Requires-Root: no\n\n\
        Package: lt-clean\nArchitecture: any\nDepends: ${shlibs:Depends}, ${misc:Depends}\n\
        Description: taskhost test package that lintian finds clean\n \
        This package is built by the taskhost tests to check that a package\n \
        without problems gives no lintian tags other than classification ones.\n";
    let built = Package::new("lt-clean")
        .file("debian/control", control)
        .file("debian/rules", "#!/usr/bin/make -f\nexport DEB_BUILD_MAINT_OPTIONS = hardening=+all\n%:\n\tdh $@\n")
        .file("debian/copyright", COPYRIGHT)
        .file("lt-clean.1", ".TH LT-CLEAN 1\n.SH NAME\nlt-clean \\- says hello\n.SH SYNOPSIS\n.B lt-clean\n.SH DESCRIPTION\nPrints hello.\n")
        .file("debian/lt-clean.manpages", "lt-clean.1\n")
        .build(&env, true);
    let (ran, report) = run(
        &env,
        json!({
            "input": {"source_artifact_id": built.dsc.as_ref().unwrap(), "binary_artifacts_ids": [deb(&built, "lt-clean")]},
            "backend": "local",
            "fail_on_severity": "pedantic",
        }),
    );
    ran.expect(0);
    let analyses = analyses(&env);
    assert_eq!(analyses.len(), 2, "source and {}", arch());
    for analysis in analyses.values() {
        assert_eq!(tags(&env, analysis), BTreeSet::new());
        assert_eq!(
            analysis["data"]["summary"]["tags_count_by_severity"]["error"],
            0
        );
    }
    for result in report["results"].as_array().unwrap() {
        assert_eq!(result["outcome"], "PASSED");
        assert_eq!(result["note"], "no tags");
    }
}

#[test]
fn long_tag_lists_go_through_a_file() {
    let env = Env::new();
    let built = Package::new("lt-long").build(&env, false);
    // Far more than fits inline, so lintian reads them from a file: every
    // tag lintian knows but three this package would trigger.
    let listed = std::process::Command::new("lintian-explain-tags")
        .arg("--list-tags")
        .output()
        .unwrap();
    let skip = [
        "no-copyright-file",
        "extended-description-is-probably-too-short",
        "hardening-no-bindnow",
    ];
    let include: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|t| !skip.contains(t))
        .map(str::to_string)
        .collect();
    assert!(include.len() > 1000, "{} tags", include.len());
    let (ran, _) = run(
        &env,
        json!({"input": {"binary_artifacts_ids": [deb(&built, "lt-long")]}, "backend": "local", "include_tags": include}),
    );
    ran.expect(0);
    assert_eq!(
        tags(&env, &analyses(&env)[&arch()]),
        set(&["warning:no-manual-page"])
    );
    let debug = env
        .artifacts()
        .into_iter()
        .find(|a| a["category"] == "debusine:work-request-debug-logs")
        .unwrap();
    let dir = env.path("debug");
    env.run(&[
        "artifact",
        "export",
        &debug["id"].to_string(),
        dir.to_str().unwrap(),
    ])
    .expect(0);
    let log = std::fs::read_to_string(dir.join("taskhost.log")).unwrap();
    assert!(log.contains("--tags-from-file=include-tags.txt"), "{log}");
}

#[test]
fn the_sample_policy_grants_lintian() {
    let env = Env::new();
    let built = Package::new("lt-policy").build(&env, false);
    let data = env.write(
        "policy-task.json",
        &json!({"input": {"binary_artifacts_ids": [deb(&built, "lt-policy")]}}).to_string(),
    );
    let policy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.toml");
    env.run(&[
        "run",
        "lintian",
        "--data",
        data.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ])
    .expect(0);
}

#[test]
fn an_upload_serves_as_source_and_binaries() {
    let env = Env::new();
    let built = Package::new("lt-upload").build(&env, true);
    let changes = built.changes.display().to_string();
    let (ran, _) = run(
        &env,
        json!({"input": {"source_artifact_id": changes, "binary_artifacts_ids": [changes]}, "backend": "local"}),
    );
    ran.expect(0);
    let analyses = analyses(&env);
    let arch = arch();
    assert_eq!(
        analyses.keys().cloned().collect::<BTreeSet<_>>(),
        set(&["source", &arch])
    );
    assert!(tags(&env, &analyses[&arch]).contains("error:no-copyright-file"));
    let uploads: Vec<Value> = env
        .artifacts()
        .into_iter()
        .filter(|a| a["category"] == "debian:upload")
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(uploads.len(), 2, "the .changes imported once per input key");
    assert!(uploads.contains(&analyses["source"]["relations"][0]["target"]));
}

#[test]
fn the_provenance_names_the_plugin_digest_the_input_sha256_and_lintians_version() {
    use sha2::Digest;
    let env = Env::new();
    let built = Package::new("lt-prov").build(&env, false);
    let deb_path = deb(&built, "lt-prov");
    let (ran, r) = run(
        &env,
        json!({"input": {"binary_artifacts_ids": [deb_path.clone()]}}),
    );
    ran.expect(0);
    let statement = &r["provenance"];
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    let subjects = statement["subject"].as_array().expect("subjects");
    assert!(
        subjects.iter().any(|s| s["name"]
            .as_str()
            .is_some_and(|n| n.ends_with("/lintian.txt"))
            && s["digest"]["sha256"]
                .as_str()
                .is_some_and(|d| d.len() == 64)),
        "{subjects:?}"
    );
    let deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .expect("resolvedDependencies");
    let plugin_digest = r["plugins"][0]["digest"].as_str().expect("digest");
    assert_eq!(
        format!(
            "sha256:{}",
            deps[0]["digest"]["sha256"].as_str().unwrap_or_default()
        ),
        plugin_digest
    );
    assert_eq!(deps[0]["name"], "plugin:lintian");
    let deb_sha = hex::encode(sha2::Sha256::digest(std::fs::read(&deb_path).expect("deb")));
    assert!(
        deps.iter()
            .any(|d| d["digest"]["sha256"] == deb_sha.as_str()
                && d["annotations"]["role"] == "input"),
        "the input .deb ({deb_sha}) is not listed: {deps:#?}"
    );
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "lintian"])
        .output()
        .expect("dpkg-query");
    let version = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        deps.iter()
            .any(|d| d["name"] == "deb:lintian" && d["annotations"]["version"] == version.as_str()),
        "lintian {version} is not listed: {deps:#?}"
    );
    // The same statement is stored with the run.
    let stored = env
        .store()
        .join("runs")
        .join(r["run_id"].as_str().expect("run id"))
        .join("provenance.json");
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(stored).expect("provenance.json"))
            .expect("JSON");
    assert_eq!(&stored, statement);
}
