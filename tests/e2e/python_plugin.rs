//! A plugin written in Python (examples/python-shellcheck, on the Python
//! SDK in sdk/python): its unit tests pass against the SDK's fake host, it
//! builds with componentize-py, and it runs under a policy.

use crate::Env;
use std::path::{Path, PathBuf};

const INSTALL_HINT: &str = "run .ci/install-test-clients (as root): it installs componentize-py \
     in a venv at $TASKHOST_PY_VENV (default /opt/taskhost-componentize-venv)";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

pub(crate) fn venv() -> PathBuf {
    std::env::var_os("TASKHOST_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/taskhost-componentize-venv"))
}

fn python(args: &[&str], cwd: &Path, python: &Path) -> (bool, String) {
    let out = std::process::Command::new(python)
        .args(args)
        .current_dir(cwd)
        .env("PYTHONPATH", root().join("sdk/python"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}; {INSTALL_HINT}", python.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_python_sdks_fake_host_passes_its_own_tests() {
    let (ok, text) = python(
        &["-m", "unittest", "discover", "-s", "tests", "-v"],
        &root().join("sdk/python"),
        Path::new("/usr/bin/python3"),
    );
    assert!(ok, "{text}");
    assert!(text.contains("Ran 21 tests"), "{text}");
}

#[test]
fn the_python_example_passes_its_unit_tests_on_the_fake_host() {
    let dir = root().join("examples/python-shellcheck");
    let (ok, text) = python(
        &["-m", "unittest", "-v"],
        &dir,
        Path::new("/usr/bin/python3"),
    );
    assert!(ok, "{text}");
    assert!(text.contains("Ran 5 tests"), "{text}");
}

#[test]
#[ignore = "slow: componentize-py makes an 18 MB component, compiled on first load"]
fn the_python_example_builds_with_componentize_py_and_runs_under_a_policy() {
    let env = Env::new();
    let wasm = env.path("shellcheck-py.wasm");
    let componentize = venv().join("bin/componentize-py");
    let (ok, text) = python(
        &[
            "-m",
            "taskhost.build",
            "examples/python-shellcheck",
            "-o",
            wasm.to_str().expect("utf-8"),
            "--componentize-py",
            componentize.to_str().expect("utf-8"),
        ],
        &root(),
        &venv().join("bin/python"),
    );
    assert!(ok, "{text}\n{INSTALL_HINT}");

    let check = env.run(&["plugin", "check", wasm.to_str().expect("utf-8")]);
    check.expect(3);
    assert!(
        check.stdout.contains("shellcheck-py 0.1.0 (task)")
            && check.stdout.contains("built for taskhost API 0.2.1"),
        "{}",
        check.stdout
    );

    let digest = taskhost::manifest::digest(&std::fs::read(&wasm).expect("wasm"));
    let policy = env.write(
        "policy.toml",
        &format!(
            "[plugins.shellcheck-py]\nsha256 = [\"{digest}\"]\n\
             exec = [\"shellcheck --format=json1 **\"]\nbackends = [\"local\"]\n"
        ),
    );
    let data = crate::scaffold::shellcheck_task_data(&env);
    let ran = env.run(&[
        "run",
        wasm.to_str().expect("utf-8"),
        "--policy",
        policy.to_str().expect("utf-8"),
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    crate::scaffold::assert_shellcheck_run(&env, &ran);

    // The same plugin without its grant: refused before it starts.
    let refused = env.run(&[
        "run",
        wasm.to_str().expect("utf-8"),
        "--data",
        data.to_str().expect("utf-8"),
        "--allow-backend",
        "local",
    ]);
    refused.expect(3);
}
