//! `runtask plugin new`: what it writes builds with one command, its
//! tests pass, and the built plugin runs under the policy it prints.

use crate::{Env, Ran, report};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The repository root: the generated crates take the SDK from it.
fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// Runs cargo in the generated crate, with one target dir for all of them
/// (not the workspace's: the `cargo test` running this holds its lock).
fn cargo(dir: &Path, args: &[&str]) {
    let target = sources().join("target/scaffold");
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo {args:?} in {}:\n{stdout}\n{stderr}",
        dir.display()
    );
    if args[0] == "test" {
        assert!(
            stdout.contains("test result: ok. 3 passed"),
            "the fake-host tests did not all run:\n{stdout}"
        );
    }
}

/// Runs cargo in `dir` expecting it to fail; returns its stderr.
fn cargo_fails(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", sources().join("target/scaffold"))
        .output()
        .expect("run cargo");
    assert!(!out.status.success(), "cargo {args:?} passed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn new(env: &Env, name: &str, kind: &str) -> (PathBuf, Ran) {
    let dir = env.path(name);
    let src = sources();
    let ran = env.run(&[
        "plugin",
        "new",
        name,
        "--kind",
        kind,
        "--dir",
        dir.to_str().expect("utf-8"),
        "--sources",
        src.to_str().expect("utf-8"),
    ]);
    ran.expect(0);
    (dir, ran)
}

fn wasm(name: &str) -> PathBuf {
    sources().join(format!(
        "target/scaffold/wasm32-wasip2/release/{}.wasm",
        name.replace('-', "_")
    ))
}

#[test]
#[ignore = "slow: builds the generated crates natively and for wasm32-wasip2"]
fn a_new_task_builds_its_tests_pass_and_it_runs_under_the_printed_policy() {
    let env = Env::new();
    let (dir, ran) = new(&env, "line-count", "task");
    for needle in [
        "cargo build --release --target wasm32-wasip2",
        "[plugins.line-count]",
        "exec = [\"wc -l *\"]",
        "backends = [\"local\"]",
    ] {
        assert!(
            ran.stdout.contains(needle),
            "no {needle:?} in\n{}",
            ran.stdout
        );
    }
    cargo(&dir, &["test"]);
    cargo(&dir, &["build", "--release", "--target", "wasm32-wasip2"]);
    let plugin = wasm("line-count");
    let plugin = plugin.to_str().expect("utf-8");
    let grants = ["--allow-exec", "wc -l *", "--allow-backend", "local"];

    let mut check = vec!["plugin", "check", plugin];
    env.run(&check).expect(3);
    check.extend(grants);
    env.run(&check).expect(0);

    let input = env.write("notes.txt", "one\ntwo\nthree\n");
    let data = env.write(
        "task.json",
        &json!({"inputs": [input.to_str().expect("utf-8")]}).to_string(),
    );
    let mut args = vec![
        "run",
        plugin,
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
    ];
    args.extend(grants);
    let ran = env.run(&args);
    ran.expect(0);
    let r = report(&ran);
    let note = r["results"][0]["note"].as_str().unwrap_or_default();
    assert!(note.starts_with("3 "), "{note}\n{}", ran.stdout);
    let reports: Vec<_> = env
        .artifacts()
        .into_iter()
        .filter(|a| a["category"] == "line-count:report")
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
}

#[test]
#[ignore = "slow: builds the generated crates natively and for wasm32-wasip2"]
fn a_new_directive_builds_and_its_tests_pass() {
    let env = Env::new();
    let (dir, ran) = new(&env, "count-lines", "directive");
    assert!(
        ran.stdout.contains("[plugins.count-lines]"),
        "{}",
        ran.stdout
    );
    cargo(&dir, &["test"]);
    cargo(&dir, &["build", "--release", "--target", "wasm32-wasip2"]);
    let plugin = wasm("count-lines");
    // A mistake in the manifest is a compile error naming its line.
    let manifest = dir.join("taskhost.toml");
    let good = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, format!("{good}exex = [\"wc -l *\"]\n")).expect("write");
    let line = good.lines().count() + 1;
    let stderr = cargo_fails(&dir, &["check"]);
    assert!(
        stderr.contains(&format!("taskhost.toml:{line}:1: unknown field `exex`")),
        "{stderr}"
    );
    std::fs::write(&manifest, good.replace("wc -l *", "wc ** -l")).expect("write");
    let stderr = cargo_fails(&dir, &["check"]);
    assert!(
        stderr.contains("`**` is only allowed as the last token"),
        "{stderr}"
    );
    std::fs::write(&manifest, good).expect("write");
    let ran = env.run(&[
        "plugin",
        "check",
        plugin.to_str().expect("utf-8"),
        "--allow-exec",
        "wc -l *",
        "--allow-backend",
        "local",
    ]);
    ran.expect(0);
    assert!(
        ran.stdout.contains("count-lines 0.1.0 (directive)"),
        "{}",
        ran.stdout
    );
}

#[test]
fn plugin_new_refuses_a_bad_name_and_a_directory_in_use() {
    let env = Env::new();
    let ran = env.run(&["plugin", "new", "Bad Name"]);
    ran.expect(2);
    assert!(
        ran.stderr.contains("a name is 1 to 64 of a-z"),
        "{}",
        ran.stderr
    );
    let dir = env.path("used");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("keep.txt"), "mine").expect("write");
    let ran = env.run(&[
        "plugin",
        "new",
        "fine",
        "--dir",
        dir.to_str().expect("utf-8"),
    ]);
    ran.expect(2);
    assert!(
        ran.stderr.contains("exists and is not empty"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("keep.txt")).expect("kept"),
        "mine"
    );
}

/// The README's tutorial: its three files, taken from the README.
fn tutorial() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(sources().join("README.md")).expect("README.md");
    let mut files = Vec::new();
    let mut rest = readme.as_str();
    while let Some(at) = rest.find("<!-- tutorial:") {
        let after = &rest[at + "<!-- tutorial:".len()..];
        let (name, after) = after.split_once(" -->").expect("marker end");
        let fence = after.find("```").expect("a code block after the marker");
        let body = &after[fence..];
        let body = &body[body.find('\n').expect("fence line") + 1..];
        let end = body.find("\n```").expect("closing fence");
        files.push((name.trim().to_owned(), format!("{}\n", &body[..end])));
        rest = &body[end..];
    }
    files
}

#[test]
#[ignore = "slow: builds the README's tutorial for wasm32-wasip2"]
fn the_readme_tutorial_builds_and_runs_against_real_shellcheck() {
    let files = tutorial();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Cargo.toml", "taskhost.toml", "src/lib.rs"]);
    let rust = &files[2].1;
    assert!(
        rust.lines().count() <= 40,
        "the tutorial's Rust grew past 40 lines"
    );

    let env = Env::new();
    let dir = env.path("tutorial");
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
    }
    // The one line the README tells a reader to add until the SDK is
    // published.
    let patch = format!(
        "\n[patch.crates-io]\ntaskhost-sdk = {{ path = {:?} }}\n",
        sources().join("sdk").display().to_string()
    );
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("Cargo.toml");
    std::fs::write(&manifest, text + &patch).expect("patch");
    cargo(&dir, &["build", "--release", "--target", "wasm32-wasip2"]);

    let data = shellcheck_task_data(&env);
    let plugin = wasm("shellcheck-task");
    let ran = env.run(&[
        "run",
        plugin.to_str().expect("utf-8"),
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
        "--allow-exec",
        "shellcheck --format=json1 **",
        "--allow-backend",
        "local",
    ]);
    assert_shellcheck_run(&env, &ran);
}

/// Two scripts (one with three shellcheck findings, one clean) and the
/// task_data naming them, failing on warnings: the tutorial's task, in
/// Rust or Python.
pub(crate) fn shellcheck_task_data(env: &Env) -> PathBuf {
    let bad = env.write("bad.sh", "#!/bin/sh\necho $1\nls `pwd`\n");
    let good = env.write("good.sh", "#!/bin/sh\necho \"$1\"\n");
    env.write(
        "task.json",
        &json!({
            "scripts": [bad.to_str().expect("utf-8"), good.to_str().expect("utf-8")],
            "fail_on_severity": "warning",
        })
        .to_string(),
    )
}

/// The tutorial's task ran on [`shellcheck_task_data`]: one result per
/// script, and a report for each that relates to it.
#[track_caller]
pub(crate) fn assert_shellcheck_run(env: &Env, ran: &Ran) {
    ran.expect(100);
    let r = report(ran);
    let want = [
        ("bad.sh", "FAILED", "comments: 3"),
        ("good.sh", "PASSED", "comments: 0"),
    ];
    assert_eq!(
        crate::result_rows(&r),
        want.map(|(i, o, n)| (i.to_owned(), o.to_owned(), n.to_owned())),
        "{}",
        ran.stdout
    );
    let artifacts = env.artifacts();
    let of = |category: &str| -> Vec<&serde_json::Value> {
        artifacts
            .iter()
            .filter(|a| a["category"] == category)
            .collect()
    };
    let (scripts, reports) = (of("shellcheck:script"), of("shellcheck:report"));
    assert_eq!((scripts.len(), reports.len()), (2, 2), "{artifacts:?}");
    for (report, script) in reports.iter().zip(&scripts) {
        let relations = report["relations"].to_string();
        assert!(
            relations.contains(&format!("\"target\":{}", script["id"])),
            "report {} does not relate to script {}: {relations}",
            report["id"],
            script["id"]
        );
    }
}

#[test]
#[ignore = "slow: componentize-py makes an 18 MB component, compiled on first load"]
fn a_new_python_task_passes_its_tests_and_builds_with_componentize_py() {
    let env = Env::new();
    let dir = env.path("py-count");
    let src = sources();
    let ran = env.run(&[
        "plugin",
        "new",
        "py-count",
        "--lang",
        "python",
        "--dir",
        dir.to_str().expect("utf-8"),
        "--sources",
        src.to_str().expect("utf-8"),
    ]);
    ran.expect(0);
    assert!(
        ran.stdout.contains("exec = [\"wc -l *\"]"),
        "{}",
        ran.stdout
    );
    let py = |python: &Path, args: &[&str]| {
        let out = std::process::Command::new(python)
            .args(args)
            .current_dir(&dir)
            .env("PYTHONPATH", src.join("sdk/python"))
            .output()
            .expect("python");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "python {args:?}:\n{text}");
        text
    };
    let tests = py(Path::new("/usr/bin/python3"), &["-m", "unittest", "-v"]);
    assert!(tests.contains("Ran 3 tests"), "{tests}");
    let venv = crate::python_plugin::venv();
    let componentize = venv.join("bin/componentize-py");
    py(
        &venv.join("bin/python"),
        &[
            "-m",
            "taskhost.build",
            ".",
            "--componentize-py",
            componentize.to_str().expect("utf-8"),
        ],
    );
    let plugin = dir.join("py-count.wasm");
    let plugin = plugin.to_str().expect("utf-8");
    env.run(&["plugin", "check", plugin]).expect(3);
    let ok = env.run(&[
        "plugin",
        "check",
        plugin,
        "--allow-exec",
        "wc -l *",
        "--allow-backend",
        "local",
    ]);
    ok.expect(0);
    assert!(ok.stdout.contains("py-count 0.1.0 (task)"), "{}", ok.stdout);
}
