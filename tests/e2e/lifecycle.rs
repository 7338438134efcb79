//! A run's life cycle seen from outside: interruption and cleanup.

use crate::{Env, HOSTILE, HOSTILE_GRANTS};
use std::time::{Duration, Instant};

fn processes_matching(marker: &str) -> usize {
    let out = std::process::Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn sigterm_stops_the_run_kills_its_commands_and_removes_the_workspace() {
    let env = Env::new();
    let marker = format!("taskhost-lifecycle-{}", std::process::id());
    let data = env.write(
        "task.json",
        &serde_json::json!({"action": "exec", "argv": ["sh", "-c", format!("sleep 300; echo {marker}")]}).to_string(),
    );
    let mut args = vec!["run", HOSTILE, "--data", data.to_str().unwrap()];
    args.extend_from_slice(HOSTILE_GRANTS);
    let child = env
        .cmd(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let started = Instant::now();
    while processes_matching(&marker) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the command never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let workspaces = env.path("taskhost-workspaces");
    assert_eq!(
        std::fs::read_dir(&workspaces).unwrap().count(),
        1,
        "one live workspace"
    );

    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("terminated: run stopped"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        processes_matching(&marker),
        0,
        "the command outlived runtask"
    );
    assert_eq!(
        std::fs::read_dir(&workspaces).unwrap().count(),
        0,
        "the workspace outlived runtask"
    );
}

#[test]
fn keep_workspace_keeps_it_and_says_where() {
    let env = Env::new();
    let data = env.write(
        "task.json",
        r#"{"action": "exec", "argv": ["echo", "hello", "kept"]}"#,
    );
    let mut args = vec![
        "run",
        HOSTILE,
        "--data",
        data.to_str().unwrap(),
        "--keep-workspace",
    ];
    args.extend_from_slice(HOSTILE_GRANTS);
    let ran = env.run(&args);
    ran.expect(0);
    let kept: Vec<_> = std::fs::read_dir(env.path("taskhost-workspaces"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(
        ran.stderr
            .contains(&format!("workspace kept at {}", kept[0].path().display())),
        "{}",
        ran.stderr
    );
    let stdout = std::fs::read_dir(kept[0].path().join(".taskhost"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with("echo.stdout"));
    let text = std::fs::read_to_string(stdout.expect("the command's stdout file").path()).unwrap();
    assert_eq!(text, "hello kept\n");
}

#[test]
fn plugin_describe_shows_the_task_data_keys_without_any_grant() {
    let env = Env::new();
    let ran = env.run(&["plugin", "describe", "blhc"]);
    ran.expect(0);
    assert!(
        ran.stdout.starts_with("blhc — Checks a package build log"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("`input.artifact` (required)")
            && ran.stdout.contains("--ignore-flag=F"),
        "{}",
        ran.stdout
    );
    let ran = env.run(&["plugin", "describe", HOSTILE]);
    ran.expect(0);
    assert!(
        ran.stdout.contains("documents no task_data keys"),
        "{}",
        ran.stdout
    );
    assert!(env.artifacts().is_empty());
}
