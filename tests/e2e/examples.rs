//! Every example in examples/ runs under examples/policy.toml, so each of
//! the policy's grants is exercised: the blhc and lintian tasks on the
//! shipped build log and on a package built here, the Taskotron formulas
//! against the local test servers (through a copy of the policy whose
//! Fedora URLs point at them, every other line as is), and the mmdebstrap
//! task (slow, ignored by a plain `cargo test`).

use crate::pkg::Package;
use crate::servers::{Bodhi, KojiHub, NEW_NVR, ResultsDb, UPDATE, fixtures};
use crate::{Env, Ran, report};
use serde_json::Value;
use std::path::{Path, PathBuf};

const POLICY: &str = include_str!("../../examples/policy.toml");

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn policy_path() -> String {
    examples()
        .join("policy.toml")
        .to_str()
        .expect("utf-8")
        .to_string()
}

/// Copies examples/NAME/FILE to the same relative path in `env`.
fn copy_example(env: &Env, name: &str, file: &str) -> PathBuf {
    let text = std::fs::read_to_string(examples().join(name).join(file)).expect("example file");
    env.write(&format!("examples/{name}/{file}"), &text)
}

/// The example policy with each `(from, to)` URL replaced, written to
/// `env`; every other line stays as it is.
fn policy_pointing_at(env: &Env, urls: &[(&str, &str)]) -> PathBuf {
    let mut policy = POLICY.to_string();
    for (from, to) in urls {
        assert!(
            policy.contains(from),
            "the example policy no longer grants {from}"
        );
        policy = policy.replace(from, to);
    }
    let changed = POLICY
        .lines()
        .zip(policy.lines())
        .filter(|(a, b)| a != b)
        .count();
    let expected = POLICY
        .lines()
        .filter(|l| urls.iter().any(|(from, _)| l.contains(from)))
        .count();
    assert_eq!(changed, expected, "only the URL lines change");
    env.write("policy.toml", &policy)
}

/// The ids of the artifacts a run's JSON report lists, with their data.
fn created(env: &Env, ran: &Ran, category: &str) -> Vec<Value> {
    let ids: Vec<u64> = report(ran)["artifacts"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    env.artifacts()
        .into_iter()
        .filter(|a| a["category"] == category && ids.contains(&a["id"].as_u64().unwrap_or(0)))
        .collect()
}

#[test]
fn every_example_and_every_plugin_the_example_policy_grants_has_a_test_here() {
    let mut found: Vec<String> = std::fs::read_dir(examples())
        .expect("examples/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "blhc",
            "bodhi",
            "debian-pipeline",
            "lintian",
            "mmdebstrap",
            "policy.toml",
            // Tested, built and run by tests/e2e/python_plugin.rs.
            "python-shellcheck",
            "rpmlint",
            // Built and booted by tests/e2e/simplesystemimagebuild.rs.
            "simplesystemimagebuild",
            "suite-lintian",
            "taskotron",
            "workers"
        ],
        "an example without a test in tests/e2e/examples.rs"
    );
    let policy: toml::Table = toml::from_str(POLICY).expect("the example policy is TOML");
    let mut plugins: Vec<&String> = policy["plugins"]
        .as_table()
        .expect("[plugins.*]")
        .keys()
        .collect();
    plugins.sort();
    assert_eq!(
        plugins,
        [
            "autopkgtest",
            "blhc",
            "bodhi",
            "distgit",
            "dummy",
            "exitcode",
            "koji",
            "lintian",
            "mmdebstrap",
            "piuparts",
            "python",
            "resultsdb",
            "sbuild",
            "shell",
            "simplesystemimagebuild",
            "updatesuitelintiancollection",
            "xunit"
        ],
        "a plugin granted by the example policy that no example here runs"
    );
}

#[test]
fn the_worker_unit_example_gives_runtask_arguments_it_takes() {
    let unit = std::fs::read_to_string(examples().join("workers/runtask-worker@.service"))
        .expect("the unit");
    // ExecStart, its continuation lines joined, %i as systemd fills it.
    let joined = unit.replace("\\\n", " ");
    let exec = joined
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart=");
    let argv = shell_words::split(&exec.replace("%i", "default")).expect("ExecStart words");
    assert!(argv[0].ends_with("/runtask"), "{argv:?}");
    let env = Env::new();
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    // Without a shared store the worker stops at once, after its
    // arguments were taken (a bad argument is clap's error instead).
    let ran = env.run(&args);
    ran.expect(2);
    assert!(
        ran.stderr.contains("the run queue needs a shared store"),
        "{}",
        ran.stderr
    );
    // The environment it sets is runtask's.
    let help = env.run(&["--help"]);
    for var in ["TASKHOST_STORE", "TASKHOST_NATS", "TASKHOST_REPLICAS"] {
        assert!(unit.contains(&format!("Environment={var}=")), "{var}");
        assert!(help.stdout.contains(var), "{var} is not in runtask --help");
    }
}

#[test]
fn the_blhc_example_finds_the_missing_flags_of_the_shipped_log() {
    let env = Env::new();
    copy_example(&env, "blhc", "hello-th_1.0_amd64.build");
    let data = copy_example(&env, "blhc", "task.yaml");
    let ran = env.run(&[
        "run",
        "blhc",
        "--policy",
        &policy_path(),
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    // The log's gcc line has no hardening flags: blhc exits 8, the check fails.
    ran.expect(100);
    let r = report(&ran);
    assert_eq!(r["results"][0]["outcome"], "FAILED", "{r}");
    assert_eq!(r["results"][0]["keyvals"]["blhc_exit_code"], "8", "{r}");
    let blhc = created(&env, &ran, "debian:blhc");
    assert_eq!(blhc.len(), 1, "{}", ran.stdout);
    // extra_flags: --line-numbers prefixes each finding with its line.
    let dir = env.path("blhc-out");
    let id = blhc[0]["id"].to_string();
    env.run(&["artifact", "export", &id, dir.to_str().expect("utf-8")])
        .expect(0);
    let out = std::fs::read_to_string(dir.join("blhc.txt")).expect("blhc.txt");
    assert!(out.contains("19:LDFLAGS missing (-Wl,-z,relro)"), "{out}");
}

#[test]
fn the_suite_lintian_example_analyses_a_suite_under_the_example_policy() {
    let env = Env::new();
    let built = Package::new("hello")
        .binary("hello-doc", "all")
        .build(&env, true);
    env.run(&["collection", "create", "bookworm@debian:suite"])
        .expect(0);
    env.run(&["collection", "create", "bookworm@debian:suite-lintian"])
        .expect(0);
    let dsc = env.import(built.dsc.as_ref().expect("a .dsc"), "debian:source-package");
    let debs: Vec<String> = built
        .debs
        .iter()
        .map(|d| env.import(d, "debian:binary-package"))
        .collect();
    for id in std::iter::once(&dsc).chain(&debs) {
        env.run(&["collection", "add", "bookworm@debian:suite", id])
            .expect(0);
    }
    let data = copy_example(&env, "suite-lintian", "task.yaml");
    let ran = env.run(&[
        "run",
        "updatesuitelintiancollection",
        "--policy",
        &policy_path(),
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    ran.expect(0);
    let shown = env.run(&[
        "collection",
        "show",
        "bookworm@debian:suite-lintian",
        "--json",
    ]);
    shown.expect(0);
    let items: Vec<Value> = serde_json::from_str(&shown.stdout).expect("items JSON");
    let mut names: Vec<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["hello_1.0_all", "hello_1.0_amd64"],
        "{}",
        ran.stdout
    );
}

#[test]
fn the_lintian_example_checks_a_hello_package() {
    let env = Env::new();
    let built = Package::new("hello").build(&env, true);
    for file in ["hello_1.0.dsc", "hello_1.0_amd64.deb"] {
        assert!(
            env.path(file).is_file(),
            "the example names {file}; built {:?} {:?}",
            built.dsc,
            built.debs
        );
    }
    let data = copy_example(&env, "lintian", "task.yaml");
    let ran = env.run(&[
        "run",
        "lintian",
        "--policy",
        &policy_path(),
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    // fail_on_severity: error, and the binary has an error-level tag.
    ran.expect(100);
    let r = report(&ran);
    let outcome = |item: &str| {
        r["results"]
            .as_array()
            .and_then(|rs| rs.iter().find(|x| x["item"] == item))
            .map(|x| (x["outcome"].clone(), x["keyvals"]["error"].clone()))
    };
    assert_eq!(
        outcome("hello_1.0_amd64"),
        Some(("FAILED".into(), "1".into())),
        "{r}"
    );
    assert_eq!(
        outcome("hello_1.0_source"),
        Some(("PASSED".into(), "0".into())),
        "{r}"
    );
    let analyses = created(&env, &ran, "debian:lintian");
    let host = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "lintian"])
        .output()
        .expect("dpkg-query");
    let host = String::from_utf8_lossy(&host.stdout).into_owned();
    assert!(!analyses.is_empty(), "{}", ran.stdout);
    for a in &analyses {
        // The version came from the granted `dpkg-query` line.
        assert_eq!(a["data"]["summary"]["lintian_version"], host, "{a}");
    }
}

/// Runs a formula from `env`'s task/ directory with the example policy
/// copy `policy`; results and the log are kept under art/JOB.
fn formula(env: &Env, policy: &Path, item: &str, item_type: &str, job: &str) -> Ran {
    let art = env.path("art");
    env.run(&[
        "-i",
        item,
        "-t",
        item_type,
        "-a",
        "x86_64",
        "--uuid",
        job,
        "--policy",
        policy.to_str().expect("utf-8"),
        "--artifactsdir",
        art.to_str().expect("utf-8"),
        "--format",
        "json",
        env.path("task/runtask.yml").to_str().expect("utf-8"),
    ])
}

/// `text` with each `(from, to)` replaced; each `from` must occur.
fn pointed(text: &str, urls: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (from, to) in urls {
        assert!(out.contains(from), "{from} is not in\n{text}");
        out = out.replace(from, to);
    }
    out
}

#[test]
fn the_taskotron_example_runs_under_the_example_policy() {
    let env = Env::new();
    let hub = KojiHub::start();
    let resultsdb = ResultsDb::start();
    let topurl = format!("{}/", hub.topurl);
    let policy = policy_pointing_at(
        &env,
        &[
            ("https://koji.fedoraproject.org/kojihub", &hub.url),
            ("https://kojipkgs.fedoraproject.org/", &topurl),
            (
                "https://resultsdb.fedoraproject.org/api/v2.0",
                &resultsdb.url,
            ),
        ],
    );
    let dir = examples().join("taskotron");
    let text = std::fs::read_to_string(dir.join("runtask.yml")).expect("runtask.yml");
    env.write(
        "task/runtask.yml",
        &pointed(
            &text,
            &[
                ("https://koji.fedoraproject.org/kojihub", &hub.url),
                ("https://kojipkgs.fedoraproject.org", &hub.topurl),
                (
                    "https://resultsdb.fedoraproject.org/api/v2.0",
                    &resultsdb.url,
                ),
            ],
        ),
    );
    let check = std::fs::read_to_string(dir.join("check.py")).expect("check.py");
    env.write("task/check.py", &check);
    let ran = formula(&env, &policy, NEW_NVR, "koji_build", "job-1");
    // The noarch -docs package is not built for x86_64: FAILED, exit 100.
    ran.expect(100);
    // koji's URLs, shell's python3 line, xunit and resultsdb's URL all ran.
    let received = resultsdb.results();
    let rpms = fixtures().build(NEW_NVR)["rpms"]
        .as_array()
        .expect("rpms")
        .iter()
        .filter(|r| matches!(r["arch"].as_str(), Some("x86_64" | "noarch")))
        .filter(|r| !r["name"].as_str().unwrap_or_default().contains("debug"))
        .count();
    assert_eq!(received.len(), rpms, "{received:#?}");
    let failed: Vec<&Value> = received
        .iter()
        .filter(|r| r["outcome"] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1, "{received:#?}");
    let junit = std::fs::read_to_string(env.path("art/job-1/arch.xml")).expect("arch.xml");
    assert!(junit.contains("built for noarch, not x86_64"), "{junit}");
}

/// The koji fixtures of the rpmlint example: foo-1.2-3.fc99, clean, and
/// foo-1.2-4.fc99, whose script is not executable (an rpmlint error).
fn rpmlint_fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new("python3")
        .arg(crate::servers::servers_dir().join("build_rpmlint_fixtures.py"))
        .arg(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("spawn python3");
    assert!(
        out.status.success(),
        "build_rpmlint_fixtures.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn the_rpmlint_example_passes_a_clean_build_and_fails_one_with_an_rpmlint_error() {
    let env = Env::new();
    let fixtures = rpmlint_fixtures();
    let hub = KojiHub::serving(fixtures.path());
    let resultsdb = ResultsDb::start();
    let topurl = format!("{}/", hub.topurl);
    let policy = policy_pointing_at(
        &env,
        &[
            ("https://koji.fedoraproject.org/kojihub", &hub.url),
            ("https://kojipkgs.fedoraproject.org/", &topurl),
            (
                "https://resultsdb.fedoraproject.org/api/v2.0",
                &resultsdb.url,
            ),
        ],
    );
    let dir = examples().join("rpmlint");
    let text = std::fs::read_to_string(dir.join("runtask.yml")).expect("runtask.yml");
    let formula_text = pointed(
        &text,
        &[
            ("https://koji.fedoraproject.org/kojihub", &hub.url),
            ("https://kojipkgs.fedoraproject.org", &hub.topurl),
            (
                "https://resultsdb.fedoraproject.org/api/v2.0",
                &resultsdb.url,
            ),
        ],
    );
    env.write("task/runtask.yml", &formula_text);
    for file in ["run_rpmlint.py", "rpmlint.toml"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("example file");
        env.write(&format!("task/{file}"), &text);
    }
    let result = |ran: &Ran| {
        let r = report(ran);
        let results = r["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(results.len(), 1, "{r}");
        results[0].clone()
    };

    // The clean build: no rpmlint error, exit 0.
    let ran = formula(&env, &policy, "foo-1.2-3.fc99", "koji_build", "job-clean");
    ran.expect(0);
    let clean = result(&ran);
    assert_eq!(clean["item"], "foo-1.2-3.fc99", "{clean}");
    assert_eq!(clean["outcome"], "PASSED", "{clean}");
    assert_eq!(clean["checkname"], "dist.rpmlint", "{clean}");
    assert_eq!(clean["keyvals"]["errors"], "0", "{clean}");
    let kept =
        std::fs::read_to_string(env.path("art/job-clean/results.yaml")).expect("results.yaml");
    assert!(
        kept.contains("item: foo-1.2-3.fc99") && kept.contains("outcome: PASSED"),
        "{kept}"
    );

    // The broken one: rpmlint's error fails it, exit 100.
    let ran = formula(&env, &policy, "foo-1.2-4.fc99", "koji_build", "job-broken");
    ran.expect(100);
    let broken = result(&ran);
    assert_eq!(broken["item"], "foo-1.2-4.fc99", "{broken}");
    assert_eq!(broken["outcome"], "FAILED", "{broken}");
    assert_eq!(broken["keyvals"]["errors"], "1", "{broken}");
    let log = std::fs::read_to_string(env.path("art/job-broken/rpmlint.log")).expect("rpmlint.log");
    assert!(
        log.contains("foo.noarch: E: non-executable-script /usr/bin/foo 644 /bin/sh"),
        "{log}"
    );

    // ResultsDB received both, with what run_rpmlint.py exported.
    let received = resultsdb.results();
    let outcome = |item: &str| {
        received
            .iter()
            .find(|r| r["data"]["item"] == serde_json::json!([item]))
            .map(|r| (r["outcome"].clone(), r["testcase"]["name"].clone()))
    };
    assert_eq!(received.len(), 2, "{received:#?}");
    assert_eq!(
        outcome("foo-1.2-3.fc99"),
        Some(("PASSED".into(), "dist.rpmlint".into()))
    );
    assert_eq!(
        outcome("foo-1.2-4.fc99"),
        Some(("FAILED".into(), "dist.rpmlint".into()))
    );

    // The example policy's python grant runs run_rpmlint.py's `run` only.
    env.write(
        "task/runtask.yml",
        &pointed(
            &formula_text,
            &[("callable: run\n", "callable: run_rpmlint\n")],
        ),
    );
    let ran = formula(&env, &policy, "foo-1.2-3.fc99", "koji_build", "job-other");
    ran.expect(1);
    let error = report(&ran)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("is not granted"), "{error}");
}

#[test]
fn the_distgit_grant_of_the_example_policy_reaches_dist_git() {
    let env = Env::new();
    let dist_git = crate::distgit::DistGit::start();
    let policy = policy_pointing_at(
        &env,
        &[(
            "https://src.fedoraproject.org/",
            &format!("{}/", dist_git.url),
        )],
    );
    env.write(
        "task/runtask.yml",
        &format!(
            "name: spec\nactions:\n  - name: download the spec file\n    distgit:\n      \
             nvr: ${{koji_build}}\n      path: [taskhost-demo.spec]\n      \
             target_dir: ${{artifactsdir}}/distgit\n      baseurl: {}\n",
            dist_git.url
        ),
    );
    formula(&env, &policy, NEW_NVR, "koji_build", "job-dg").expect(0);
    let spec = std::fs::read_to_string(env.path("art/job-dg/distgit/taskhost-demo.spec"))
        .expect("the spec file");
    assert_eq!(spec, crate::distgit::SPEC_F40);
}

#[test]
fn the_bodhi_example_downloads_an_update_under_the_example_policy() {
    let env = Env::new();
    let hub = KojiHub::start();
    let bodhi = Bodhi::start();
    let topurl = format!("{}/", hub.topurl);
    let updates = format!("{}/updates/", bodhi.url);
    let policy = policy_pointing_at(
        &env,
        &[
            ("https://bodhi.fedoraproject.org/updates/", &updates),
            ("https://koji.fedoraproject.org/kojihub", &hub.url),
            ("https://kojipkgs.fedoraproject.org/", &topurl),
        ],
    );
    let text = std::fs::read_to_string(examples().join("bodhi/runtask.yml")).expect("runtask.yml");
    let bodhi_url = format!("{}/", bodhi.url);
    env.write(
        "task/runtask.yml",
        &pointed(
            &text,
            &[
                ("https://bodhi.fedoraproject.org/", &bodhi_url),
                ("https://koji.fedoraproject.org/kojihub", &hub.url),
                ("https://kojipkgs.fedoraproject.org", &hub.topurl),
            ],
        ),
    );
    let ran = formula(&env, &policy, UPDATE, "bodhi_update", "job-2");
    ran.expect(0);
    let mut got: Vec<String> = std::fs::read_dir(env.path("art/job-2/rpms"))
        .expect("rpms kept")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "taskhost-demo-1.0-1.fc40.x86_64.rpm",
            "taskhost-demo-docs-1.0-1.fc40.noarch.rpm"
        ],
        "{}",
        ran.stderr
    );
}

// ---- mmdebstrap: a bootstrap from the mirror ------------------------------

/// examples/mmdebstrap/task.yaml with the machine's mirror for its
/// placeholder.
fn mmdebstrap_task(env: &Env) -> PathBuf {
    let text = std::fs::read_to_string(examples().join("mmdebstrap/task.yaml")).expect("task.yaml");
    let mirror = crate::unshare::mirror();
    env.write(
        "examples/mmdebstrap/task.yaml",
        &pointed(&text, &[("http://mirror.example/debian", &mirror)]),
    )
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn the_mmdebstrap_example_bootstraps_bookworm_under_the_example_policy() {
    let env = Env::new();
    let data = mmdebstrap_task(&env);
    let ran = env.run(&[
        "run",
        "mmdebstrap",
        "--policy",
        &policy_path(),
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    ran.expect(0);
    let tarballs = created(&env, &ran, "debian:system-tarball");
    assert_eq!(tarballs.len(), 1, "{}", ran.stdout);
    let data = &tarballs[0]["data"];
    assert_eq!(data["codename"], "bookworm", "{data}");
    assert_eq!(data["variant"], "minbase", "{data}");
    assert_eq!(data["architecture"], "amd64", "{data}");
    assert_eq!(data["with_dev"], true, "{data}");
}

#[test]
#[ignore = "network: reads Release files from the Debian mirror the example policy grants"]
fn the_mmdebstrap_url_grants_of_the_example_policy_reach_the_mirror_and_keyrings() {
    // Release files through both granted mirror prefixes, then a keyring
    // through the file:// grant, whose wrong sum stops the run before the
    // bootstrap: so each grant was used and nothing slow runs.
    let policy: toml::Table = toml::from_str(POLICY).expect("TOML");
    let urls: Vec<&str> = policy["plugins"]["mmdebstrap"]["urls"]
        .as_array()
        .expect("urls")
        .iter()
        .filter_map(|u| u.as_str())
        .collect();
    let http: Vec<&&str> = urls.iter().filter(|u| u.starts_with("http")).collect();
    assert_eq!(http.len(), 2, "{urls:?}");
    let keyrings = "file:///usr/share/keyrings/";
    assert!(urls.contains(&keyrings), "{urls:?}");
    let wrong = "0".repeat(64);
    let mut repos: Vec<Value> = http
        .iter()
        .enumerate()
        .map(|(i, prefix)| {
            let suite = if i == 0 {
                "bookworm"
            } else {
                "bookworm-updates"
            };
            serde_json::json!({"mirror": format!("{prefix}debian"), "suite": suite})
        })
        .collect();
    repos.push(serde_json::json!({
        "mirror": format!("{}debian", http[0]), "suite": "bookworm", "components": ["main"],
        "check_signature_with": "external",
        "keyring": {"url": format!("{keyrings}debian-archive-keyring.gpg"), "sha256sum": wrong},
    }));
    let env = Env::new();
    let data = env.write(
        "mmdebstrap.json",
        &serde_json::json!({
            "bootstrap_options": {"architecture": "amd64", "variant": "minbase"},
            "bootstrap_repositories": repos,
        })
        .to_string(),
    );
    let ran = env.run(&[
        "run",
        "mmdebstrap",
        "--policy",
        &policy_path(),
        "--data",
        data.to_str().expect("utf-8"),
        "-v",
    ]);
    ran.expect(1);
    for (i, prefix) in http.iter().enumerate() {
        let suite = if i == 0 {
            "bookworm"
        } else {
            "bookworm-updates"
        };
        let release = format!("{prefix}debian/dists/{suite}/Release");
        assert!(
            ran.stderr.contains(&format!("from {release} to")),
            "{release} was not downloaded:\n{}",
            ran.stderr
        );
    }
    assert!(
        ran.stderr.contains("bootstrap_repositories[2].keyring.url") && ran.stderr.contains(&wrong),
        "{}",
        ran.stderr
    );
}

// ---- piuparts ------------------------------------------------------------

#[test]
fn the_piuparts_grants_of_the_example_policy_let_it_run_piuparts() {
    // A base tarball with nothing in it: piuparts starts, then gives up
    // setting up its chroot (no /etc/apt), with no network and in seconds.
    let env = Env::new();
    let deb = Package::new("th-example-piuparts")
        .build(&env, false)
        .debs
        .into_iter()
        .next()
        .expect("a .deb");
    let empty = env.path("empty-system");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let tarball = env.path("system.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&empty)
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success());
    let ran = env.run(&[
        "artifact",
        "import",
        tarball.to_str().expect("utf-8"),
        "--category",
        "debian:system-tarball",
        "--data",
        &format!(
            r#"{{"filename": "system.tar.gz", "vendor": "debian", "codename": "bookworm",
                "variant": "buildd", "architecture": "{}", "with_dev": false}}"#,
            crate::sbuild::arch()
        ),
    ]);
    ran.expect(0);
    let id = ran.stdout.trim().to_string();
    let data = env.write(
        "piuparts.json",
        &format!(
            r#"{{"input": {{"binary_artifacts_ids": [{deb:?}]}}, "base_tgz_id": {id},
                "environment": "debian/match:codename=bookworm:variant=buildd",
                "host_architecture": "{}"}}"#,
            crate::sbuild::arch()
        ),
    );
    let ran = env.run(&[
        "run",
        "piuparts",
        "--policy",
        &policy_path(),
        "--data",
        data.to_str().expect("utf-8"),
    ]);
    assert_ne!(ran.code, 0);
    assert!(
        ran.stderr.contains("piuparts exited 1 without a verdict"),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
    // piuparts ran: its log is stored all the same.
    let log = env
        .artifacts()
        .into_iter()
        .find(|a| a["category"] == "debian:piuparts")
        .expect("the log of piuparts");
    assert_eq!(log["data"]["piuparts_version"], "1.1.7", "{log}");
    assert_eq!(log["data"]["verdict"], "inconclusive", "{log}");
}

// ---- debian-pipeline: sbuild, then blhc, lintian, autopkgtest, piuparts ----

#[test]
#[ignore = "slow: bootstraps Debian (once, with tests/e2e/sbuild.rs), then builds with sbuild"]
fn the_debian_pipeline_example_builds_and_checks_a_package_under_the_example_policy() {
    // The store of the sbuild tests holds the bookworm buildd tarball.
    let s = crate::sbuild::shared();
    let env = &s.env;
    let arch = crate::sbuild::arch();
    let dsc = Package::new("hello")
        .binary("hello-data", "all")
        .file("debian/tests/control", "Tests: runs\nDepends: hello\n")
        .file("debian/tests/runs", "#!/bin/sh\nset -e\nhello\n")
        .source(env);

    // The sample task_data: hello_1.0.dsc, relative to runtask's directory.
    let text =
        std::fs::read_to_string(examples().join("debian-pipeline/task.yaml")).expect("task.yaml");
    let data = env.write(
        "examples/debian-pipeline/task.yaml",
        &pointed(
            &text,
            &[(
                "host_architecture: amd64",
                &format!("host_architecture: {arch}"),
            )],
        ),
    );
    let ran = {
        let _one = crate::sbuild::one_build_at_a_time();
        env.run(&[
            "run",
            "sbuild",
            "--policy",
            &policy_path(),
            "--data",
            data.to_str().expect("utf-8"),
            "--format",
            "json",
        ])
    };
    ran.expect(0);
    let logs = created(env, &ran, "debian:package-build-log");
    assert_eq!(logs.len(), 1, "{}", ran.stdout);
    assert_eq!(
        logs[0]["data"]["summary"]["Status"], "successful",
        "{}",
        logs[0]
    );
    let name = logs[0]["data"]["filename"].as_str().expect("filename");
    let dir = env.path("pipeline-log");
    env.run(&[
        "artifact",
        "export",
        &logs[0]["id"].to_string(),
        dir.to_str().expect("utf-8"),
    ])
    .expect(0);
    let text = std::fs::read_to_string(dir.join(name)).expect("build log");
    assert!(
        text.contains("DEB_BUILD_OPTIONS=\"nocheck parallel=2\""),
        "{text}"
    );
    assert!(text.contains("DEB_BUILD_PROFILES=\"nocheck\""), "{text}");
    assert_eq!(
        created(env, &ran, "debian:binary-packages").len(),
        2,
        "{}",
        ran.stdout
    );
    assert_eq!(
        created(env, &ran, "debian:upload").len(),
        1,
        "{}",
        ran.stdout
    );

    // The formula: sbuild, then blhc on its log and lintian on its upload.
    let ran = {
        let _one = crate::sbuild::one_build_at_a_time();
        env.run(&[
            "-i",
            dsc.to_str().expect("utf-8"),
            "-t",
            "debian_source",
            "-a",
            &arch,
            "--policy",
            &policy_path(),
            "--artifactsdir",
            env.path("art").to_str().expect("utf-8"),
            "--format",
            "json",
            examples()
                .join("debian-pipeline/runtask.yml")
                .to_str()
                .expect("utf-8"),
        ])
    };
    ran.expect(0);
    let r = report(&ran);
    assert_eq!(r["status"], "success", "{r}");
    let checks: Vec<&str> = r["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|x| x["checkname"].as_str())
        .collect();
    for check in [
        "sbuild",
        "blhc",
        "lintian",
        "autopkgtest.runs",
        "autopkgtest",
        "piuparts",
    ] {
        assert!(checks.contains(&check), "no {check} result: {r}");
    }
    let autopkgtest = created(env, &ran, "debian:autopkgtest");
    assert_eq!(autopkgtest.len(), 1, "{r}");
    assert_eq!(
        autopkgtest[0]["data"]["results"]["runs"]["status"], "PASS",
        "{}",
        autopkgtest[0]
    );
    assert_eq!(created(env, &ran, "debian:piuparts").len(), 1, "{r}");
    let log = created(env, &ran, "debian:package-build-log");
    let blhc = created(env, &ran, "debian:blhc");
    assert_eq!(blhc.len(), 1, "{r}");
    assert_eq!(
        blhc[0]["relations"][0]["target"], log[0]["id"],
        "{}",
        blhc[0]
    );
    let upload = created(env, &ran, "debian:upload");
    let lintian = created(env, &ran, "debian:lintian");
    let mut analysed: Vec<&str> = lintian
        .iter()
        .filter_map(|a| a["data"]["architecture"].as_str())
        .collect();
    analysed.sort();
    let mut expected = vec!["all", "source", arch.as_str()];
    expected.sort();
    assert_eq!(analysed, expected, "{r}");
    assert!(
        lintian
            .iter()
            .any(|a| a["relations"][0]["target"] == upload[0]["id"]),
        "no lintian analysis of the upload: {lintian:?}"
    );
}
