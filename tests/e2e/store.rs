//! The store survives a runtask killed in the middle of a create. Each test
//! pauses runtask at a known point with the store's fault hook (debug
//! builds only: `TASKHOST_FAULT_PAUSE`, host/src/store/local/fault.rs),
//! SIGKILLs it there, and checks the store with the real binary.

use crate::{Env, HOSTILE, HOSTILE_GRANTS};
use sha2::Digest;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Larger than what the store hashes in memory, so it spills to `tmp/`.
const BIG_MIB: usize = 4;

/// A text file of `mib` MiB, each MiB different.
fn big_file(env: &Env, mib: usize) -> PathBuf {
    let path = env.path("big.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    for i in 0..mib {
        let mut block = format!("{i:08}\n").into_bytes();
        block.resize(1 << 20, b'x');
        f.write_all(&block).unwrap();
    }
    path
}

fn sha256_hex(content: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(content))
}

/// Kills and reaps the child if the test fails before it does.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `runtask ARGS` until it pauses at `point` (`NAME` or `NAME:N`),
/// SIGKILLs it there, and checks that the kill is what ended it.
fn kill_at(env: &Env, args: &[&str], point: &str) {
    let marker = env.path("paused-at");
    let _ = std::fs::remove_file(&marker);
    let mut child = Running(
        env.cmd(args)
            .env("TASKHOST_FAULT_PAUSE", point)
            .env("TASKHOST_FAULT_MARKER", &marker)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let name = point.split(':').next().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // waitpid(WNOHANG): runtask must not end before it reaches the point.
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("runtask {args:?} ended ({status}) without reaching {point}");
        }
        if let Ok(text) = std::fs::read_to_string(&marker) {
            assert_eq!(text, format!("{pid} {name}\n"), "marker of {point}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "runtask did not reach {point} in 120 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "runtask went on past {point}"
    );
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "runtask paused at {point} should die of the SIGKILL, not {status}"
    );
}

/// The files in the store's `tmp/`, with their sizes.
fn temp_files(env: &Env) -> Vec<(String, u64)> {
    std::fs::read_dir(env.store().join("tmp"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect()
}

fn blob(env: &Env, sha256: &str) -> PathBuf {
    env.store().join("files").join(&sha256[..2]).join(sha256)
}

/// Checks with `runtask artifact verify` and by exporting every file that
/// the store is whole; returns its artifacts (`runtask artifact list`).
fn assert_whole(env: &Env) -> Vec<serde_json::Value> {
    let verify = env.run(&["artifact", "verify"]);
    assert_eq!(
        verify.code, 0,
        "store not whole:\n{}\n{}",
        verify.stdout, verify.stderr
    );
    let artifacts = env.artifacts();
    for a in &artifacts {
        let dir = env.path(&format!("check-{}", a["id"]));
        env.run(&[
            "artifact",
            "export",
            &a["id"].to_string(),
            dir.to_str().unwrap(),
        ])
        .expect(0);
        for f in a["files"].as_array().unwrap() {
            let content = std::fs::read(dir.join(f["name"].as_str().unwrap())).unwrap();
            assert_eq!(
                (serde_json::json!(content.len()), sha256_hex(&content)),
                (f["size"].clone(), f["sha256"].as_str().unwrap().to_string()),
                "artifact {} file {}",
                a["id"],
                f["name"]
            );
        }
    }
    artifacts
}

fn categories(artifacts: &[serde_json::Value]) -> Vec<&str> {
    artifacts
        .iter()
        .map(|a| a["category"].as_str().unwrap())
        .collect()
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the store's fault hook exists in debug builds only"
)]
fn sigkill_at_each_step_of_an_import_leaves_no_half_artifact() {
    let env = Env::new();
    let small = env.write("small.txt", "before\n");
    env.import(&small, "test:before");
    let big = big_file(&env, BIG_MIB);
    let content = std::fs::read(&big).unwrap();
    let sha = sha256_hex(&content);
    let args = [
        "artifact",
        "import",
        big.to_str().unwrap(),
        "--category",
        "test:input",
    ];

    // Mid-way through the blob: a partial temp file, no blob.
    kill_at(&env, &args, "blob-partial");
    let tmp = temp_files(&env);
    assert!(
        tmp.len() == 1 && tmp[0].1 > 0 && tmp[0].1 < content.len() as u64,
        "one partial temp blob: {tmp:?}"
    );
    assert!(!blob(&env, &sha).exists());
    assert_eq!(categories(&assert_whole(&env)), ["test:before"]);
    assert_eq!(temp_files(&env), [], "opening the store removes them");

    // The blob is whole in files/, but no artifact refers to it.
    kill_at(&env, &args, "blob-stored");
    assert_eq!(std::fs::read(blob(&env, &sha)).unwrap(), content);
    assert_eq!(temp_files(&env), []);
    assert_eq!(categories(&assert_whole(&env)), ["test:before"]);

    // The rows are written but not committed.
    kill_at(&env, &args, "before-commit");
    assert_eq!(categories(&assert_whole(&env)), ["test:before"]);
    assert_eq!(temp_files(&env), []);

    // The whole blob no artifact uses is what `artifact gc` removes.
    assert!(blob(&env, &sha).exists());
    let gc = env.run(&["artifact", "gc"]);
    gc.expect(0);
    assert!(
        gc.stdout.starts_with("removed 1 unused file(s)"),
        "{}",
        gc.stdout
    );
    assert!(!blob(&env, &sha).exists());
    assert_eq!(categories(&assert_whole(&env)), ["test:before"]);

    // A whole import still works.
    env.run(&args).expect(0);
    let artifacts = assert_whole(&env);
    assert_eq!(categories(&artifacts), ["test:before", "test:input"]);
    assert_eq!(artifacts[1]["files"][0]["sha256"], sha.as_str());
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the store's fault hook exists in debug builds only"
)]
fn sigkill_at_each_step_of_a_run_leaves_no_half_artifact() {
    let env = Env::new();
    let big = big_file(&env, BIG_MIB);
    let data = env.write(
        "input.json",
        &format!(
            "{{\"action\": \"input\", \"artifact\": {:?}}}",
            big.display().to_string()
        ),
    );
    let mut args = vec![
        "run",
        HOSTILE,
        "--data",
        data.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(HOSTILE_GRANTS);

    // While importing the input file: mid-blob, then before the commit.
    kill_at(&env, &args, "blob-partial");
    assert_eq!(temp_files(&env).len(), 1);
    assert_eq!(assert_whole(&env), Vec::<serde_json::Value>::new());
    assert_eq!(temp_files(&env), []);
    kill_at(&env, &args, "before-commit");
    assert_eq!(assert_whole(&env), Vec::<serde_json::Value>::new());

    // While storing the run's log, after the input was imported: the
    // input artifact is whole, the log is not there at all.
    kill_at(&env, &args, "before-commit:2");
    let artifacts = assert_whole(&env);
    assert_eq!(categories(&artifacts), ["test:input"]);
    assert_eq!(temp_files(&env), []);

    // An undisturbed run afterwards stores its input and its log.
    env.run(&args).expect(0);
    let artifacts = assert_whole(&env);
    assert_eq!(
        categories(&artifacts),
        [
            "test:input",
            "test:input",
            "debusine:work-request-debug-logs"
        ]
    );
}
