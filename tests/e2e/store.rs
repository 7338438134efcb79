//! The store survives a runtask killed at any moment.

use crate::{Env, HOSTILE, HOSTILE_GRANTS};
use std::io::Write;
use std::time::{Duration, Instant};

/// A file big enough that storing it takes a while (hashing, fsync).
fn big_file(env: &Env, mib: usize) -> std::path::PathBuf {
    let path = env.path("big.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    for i in 0..mib {
        // Text, so the plugin can read it back; each MiB differs.
        let mut block = format!("{i:08}\n").into_bytes();
        block.resize(1 << 20, b'x');
        f.write_all(&block).unwrap();
    }
    path
}

fn assert_whole(env: &Env) -> usize {
    let verify = env.run(&["artifact", "verify"]);
    assert_eq!(
        verify.code, 0,
        "store not whole:\n{}\n{}",
        verify.stdout, verify.stderr
    );
    let artifacts = env.artifacts();
    for a in &artifacts {
        // Every listed file can be exported with its recorded size.
        let dir = env.path(&format!("check-{}", a["id"]));
        env.run(&[
            "artifact",
            "export",
            &a["id"].to_string(),
            dir.to_str().unwrap(),
        ])
        .expect(0);
        for f in a["files"].as_array().unwrap() {
            let len = std::fs::metadata(dir.join(f["name"].as_str().unwrap()))
                .unwrap()
                .len();
            assert_eq!(
                serde_json::json!(len),
                f["size"],
                "artifact {} file {}",
                a["id"],
                f["name"]
            );
        }
    }
    artifacts.len()
}

#[test]
fn sigkill_during_a_run_leaves_no_half_artifact() {
    let env = Env::new();
    let big = big_file(&env, 128);
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

    // One undisturbed run tells how long a whole run takes.
    let started = Instant::now();
    let whole = env.run(&args);
    whole.expect(0);
    let full = started.elapsed();
    assert_eq!(
        assert_whole(&env),
        2,
        "the input and the debug log: {:?}",
        env.artifacts()
    );

    // Then kill runs at points spread over that time.
    let mut seen = std::collections::BTreeSet::new();
    for step in 1..=8u32 {
        let at = full * step / 9;
        let mut child = env
            .cmd(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        let killed = child.kill().is_ok();
        child.wait().unwrap();
        seen.insert(killed);
        assert_whole(&env);
    }
    assert!(
        seen.contains(&true),
        "no run was killed mid-way (runs took {full:?})"
    );
    // Leftovers of the killed runs are only unreferenced blobs and temp files.
    assert!(env.path("store/tmp").exists());
}

#[test]
fn sigkill_during_an_import_leaves_no_half_artifact() {
    let env = Env::new();
    let big = big_file(&env, 256);
    let args = [
        "artifact",
        "import",
        big.to_str().unwrap(),
        "--category",
        "test:input",
    ];
    let started = Instant::now();
    env.run(&args).expect(0);
    let full = started.elapsed().max(Duration::from_millis(50));
    let mut count = assert_whole(&env);
    assert_eq!(count, 1);
    for step in 1..=6u32 {
        let mut child = env
            .cmd(&args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full * step / 7);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let now = assert_whole(&env);
        // Either the import finished (one more) or it left nothing.
        assert!(now == count || now == count + 1, "{count} -> {now}");
        if status.success() {
            assert_eq!(now, count + 1);
        }
        count = now;
    }
}
