//! A run's life cycle seen from outside: interruption and cleanup.

use crate::processes::{alive_after, wait_at_most, wait_for_lines};
use crate::{Env, HOSTILE, HOSTILE_GRANTS};
use std::time::Duration;

#[test]
fn sigterm_stops_the_run_kills_its_commands_and_removes_the_workspace() {
    let env = Env::new();
    let pids = env.path("pids");
    // The shell and the `sleep` it forks record their pid and start time.
    let script = format!(
        "rec() {{ echo \"$1 $(cut -d' ' -f22 /proc/$1/stat)\" >> '{}'; }}; \
         rec $$; sleep 300 & rec $!; wait",
        pids.display()
    );
    let data = env.write(
        "task.json",
        &serde_json::json!({"action": "exec", "argv": ["sh", "-c", script]}).to_string(),
    );
    let mut args = vec!["run", HOSTILE, "--data", data.to_str().unwrap()];
    args.extend_from_slice(HOSTILE_GRANTS);
    let mut child = env
        .cmd(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    wait_for_lines(&pids, 2, &mut child);
    let workspaces = env.path("taskhost-workspaces");
    assert_eq!(
        std::fs::read_dir(&workspaces).unwrap().count(),
        1,
        "one live workspace"
    );

    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let (ran, ended) = wait_at_most(child, Duration::from_secs(20));
    assert!(ended, "runtask did not stop on SIGTERM");
    assert_ne!(ran.code, 0);
    assert!(
        ran.stderr.contains("terminated: run stopped"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        alive_after(&pids, Duration::from_secs(2)),
        Vec::<String>::new(),
        "a process of the command outlived runtask"
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
