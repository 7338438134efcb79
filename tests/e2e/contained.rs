//! A plugin that loops, hogs memory, panics or floods its output is
//! stopped; the host reports why and goes on.

use crate::deny::debug_log;
use crate::{Env, HOSTILE, HOSTILE_GRANTS, Ran, first_note, report};
use std::time::{Duration, Instant};

/// Asserts a crashed run (exit 4) whose error contains `why`.
#[track_caller]
fn assert_crashed(ran: &Ran, why: &str) -> serde_json::Value {
    ran.expect(4);
    let r = report(ran);
    assert_eq!(r["status"], "crashed", "{}", ran.stdout);
    assert_eq!(r["failed_stage"], "run", "{}", ran.stdout);
    let error = r["error"].as_str().unwrap_or_default();
    assert!(error.contains(why), "error does not say {why:?}: {error}");
    assert_eq!(r["results"][0]["outcome"], "CRASHED", "{}", ran.stdout);
    assert!(first_note(&r).contains(why), "{}", first_note(&r));
    r
}

#[test]
fn a_plugin_that_loops_forever_is_stopped_at_its_deadline() {
    let env = Env::new();
    let started = Instant::now();
    let ran = env.hostile(
        r#"{"action":"loop-forever"}"#,
        &[HOSTILE_GRANTS, &["--timeout", "2s"]].concat(),
    );
    let took = started.elapsed();
    assert_crashed(&ran, "the task ran past its deadline (2.0s)");
    assert!(
        took >= Duration::from_secs(2),
        "stopped before its deadline: {took:?}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let log = debug_log(&env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        log.contains("ERROR run: the task ran past its deadline"),
        "{log}"
    );
}

#[test]
fn a_plugin_that_allocates_past_its_memory_limit_crashes() {
    let env = Env::new();
    let limit = [HOSTILE_GRANTS, &["--memory", "64MiB"]].concat();
    // Under the limit, the same action works.
    let ok = env.hostile(r#"{"action":"alloc","mib":16}"#, &limit);
    ok.expect(0);
    assert_eq!(first_note(&report(&ok)), "allocated 16 MiB");

    let ran = env.hostile(r#"{"action":"alloc","mib":2048}"#, &limit);
    assert_crashed(&ran, "the task went past its memory limit (64 MiB)");
}

#[test]
fn a_plugin_that_panics_crashes_and_its_panic_message_is_kept_in_the_log() {
    let env = Env::new();
    let ran = env.hostile(r#"{"action":"panic"}"#, HOSTILE_GRANTS);
    let r = assert_crashed(&ran, "the plugin panicked or aborted (wasm `unreachable`)");
    let error = r["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("hostile plugin panics on purpose"),
        "the message does not quote the panic: {error}"
    );
    let stderr =
        debug_log(&env, &ran, "plugin-stderr.log").expect("the debug logs keep plugin-stderr.log");
    assert!(
        stderr.contains("panicked at") && stderr.contains("hostile plugin panics on purpose"),
        "{stderr}"
    );
    assert!(
        !ran.stderr.contains("thread 'main' panicked"),
        "runtask itself panicked:\n{}",
        ran.stderr
    );
}

#[test]
fn a_plugin_that_writes_gigabytes_to_stdout_is_cut_off() {
    let env = Env::new();
    let data = env.write("task.json", r#"{"action":"spew","mib":4096}"#);
    let mut args = vec![
        "run",
        HOSTILE,
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
    ];
    args.extend_from_slice(HOSTILE_GRANTS);
    let started = Instant::now();
    let (ran, peak) = env.run_measured(&args);
    let took = started.elapsed();

    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(
        ran.stdout.len() < 64 << 10,
        "runtask printed {} bytes",
        ran.stdout.len()
    );
    assert!(peak < 512 << 20, "runtask peaked at {} MiB", peak >> 20);
    let r = report(&ran);
    match ran.code {
        1 => assert_eq!(r["status"], "error", "{}", ran.stdout),
        4 => assert_eq!(r["status"], "crashed", "{}", ran.stdout),
        other => panic!("exit {other}\n{}\n{}", ran.stdout, ran.stderr),
    }
    assert_ne!(
        first_note(&r),
        "spewed",
        "the plugin wrote 4 GiB unhindered"
    );
    let kept = debug_log(&env, &ran, "plugin-stdout.log").expect("plugin-stdout.log");
    assert!(
        kept.len() <= 4 << 20,
        "kept {} bytes of the plugin's stdout",
        kept.len()
    );
    assert!(kept.starts_with("xxxx"), "the first bytes are kept");
}

#[test]
fn a_command_past_its_timeout_is_killed_and_reported_as_timed_out() {
    let env = Env::new();
    let started = Instant::now();
    let ran = env.hostile(
        r#"{"action":"exec","argv":["sleep","30"],"timeout_ms":300}"#,
        HOSTILE_GRANTS,
    );
    let took = started.elapsed();
    ran.expect(0);
    assert_eq!(
        first_note(&report(&ran)),
        "code=None timed_out=true stdout="
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let log = debug_log(&env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(
        log.contains("`sleep 30` ended with signal 15 (timed out)"),
        "{log}"
    );
}

/// Whether `pid` is a live `sleep` (not gone, not a zombie).
fn sleep_alive(pid: &str) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .trim_start()
        .chars()
        .next();
    String::from_utf8_lossy(&cmdline).starts_with("sleep")
        && !matches!(state, None | Some('Z') | Some('X'))
}

#[test]
fn a_command_past_its_timeout_is_killed_with_its_whole_process_group() {
    let env = Env::new();
    let pidfile = env.path("grandchild.pid");
    // Both the shell and its background child ignore SIGTERM: only the
    // SIGKILL to the process group after the grace period ends them.
    let script = format!(
        "trap '' TERM; sleep 47 & echo $! > '{}'; sleep 47",
        pidfile.display()
    );
    let data =
        serde_json::json!({"action": "exec", "argv": ["sh", "-c", script], "timeout_ms": 300})
            .to_string();
    let started = Instant::now();
    let ran = env.hostile(&data, HOSTILE_GRANTS);
    let took = started.elapsed();
    ran.expect(0);
    assert_eq!(
        first_note(&report(&ran)),
        "code=None timed_out=true stdout="
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let pid = std::fs::read_to_string(&pidfile)
        .expect("the shell wrote its child's pid")
        .trim()
        .to_string();
    let gone_by = Instant::now() + Duration::from_secs(5);
    while sleep_alive(&pid) && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !sleep_alive(&pid),
        "the background `sleep 47` (pid {pid}) outlived the timeout"
    );
    let log = debug_log(&env, &ran, "taskhost.log").expect("taskhost.log");
    assert!(log.contains("ended with signal 9 (timed out)"), "{log}");
}

mod in_process {
    use std::sync::Arc;
    use std::time::Duration;
    use taskhost::manifest::Declares;
    use taskhost::policy::{ExecPattern, Overrides, Permit, Policy};
    use taskhost::report::{Report, Status};
    use taskhost::run::{RunOptions, run_task};
    use taskhost::runtime::{Plugin, Runtime, RuntimeConfig};
    use taskhost::store::{ArtifactStore, LocalStore};

    fn grants(plugin: &Plugin, memory: Option<u64>, timeout: Option<Duration>) -> Permit {
        let exec = ["echo hello *", "cat **", "sleep *", "sh -c *"];
        let overrides = Overrides {
            allow_exec: exec
                .iter()
                .map(|p| ExecPattern::parse(p).expect("pattern"))
                .collect(),
            allow_backend: vec!["local".into()],
            allow_env: vec!["HOSTILE_VAR".into()],
            memory,
            timeout,
            ..Overrides::default()
        };
        let declared = plugin.info.manifest.declared().expect("declared");
        Policy::empty().permit_trusted(plugin.name(), &plugin.sha256, declared, &overrides)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_host_goes_on_and_other_tasks_in_the_same_process_finish() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let runtime = Arc::new(
            Runtime::new(RuntimeConfig {
                cache_dir: None,
                max_instances: 16,
                ..RuntimeConfig::default()
            })
            .expect("runtime"),
        );
        let wasm = std::fs::read(crate::HOSTILE).expect("hostile plugin");
        let plugin = Arc::new(runtime.load(&wasm, crate::HOSTILE).expect("load"));
        let store: Arc<dyn ArtifactStore> =
            Arc::new(LocalStore::open(tmp.path().join("store")).expect("store"));
        let options = RunOptions {
            workspace_parent: tmp.path().join("workspaces"),
            check_deps: false,
            kill_grace: Duration::from_millis(500),
            ..RunOptions::default()
        };

        let mib64 = Some(64 << 20);
        let secs2 = Some(Duration::from_secs(2));
        let mut jobs: Vec<(&str, serde_json::Value, Permit)> = vec![
            (
                "loop",
                serde_json::json!({"action": "loop-forever"}),
                grants(&plugin, None, secs2),
            ),
            (
                "alloc",
                serde_json::json!({"action": "alloc", "mib": 2048}),
                grants(&plugin, mib64, None),
            ),
            (
                "panic",
                serde_json::json!({"action": "panic"}),
                grants(&plugin, None, None),
            ),
            (
                "spew",
                serde_json::json!({"action": "spew", "mib": 4096}),
                grants(&plugin, None, None),
            ),
        ];
        for _ in 0..6 {
            jobs.push((
                "noop",
                serde_json::json!({"action": "noop"}),
                grants(&plugin, None, None),
            ));
        }
        // A noop that also runs a command while the others misbehave.
        jobs.push((
            "echo",
            serde_json::json!({"action": "exec", "argv": ["echo", "hello", "neighbour"]}),
            grants(&plugin, None, None),
        ));

        let started = std::time::Instant::now();
        let mut handles = Vec::new();
        for (name, data, grants) in jobs {
            let (runtime, plugin, store, options) = (
                runtime.clone(),
                plugin.clone(),
                store.clone(),
                options.clone(),
            );
            handles.push((
                name,
                tokio::spawn(async move {
                    let report = run_task(&runtime, store, &plugin, data, grants, &options).await;
                    (report, std::time::Instant::now())
                }),
            ));
        }
        let mut ended: Vec<(&str, Report, std::time::Instant)> = Vec::new();
        for (name, handle) in handles {
            let (report, at) = handle
                .await
                .unwrap_or_else(|e| panic!("task {name} panicked the host: {e}"));
            let report = report.unwrap_or_else(|e| panic!("task {name}: {e}"));
            ended.push((name, report, at));
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "took {:?}",
            started.elapsed()
        );

        let loop_ended = ended
            .iter()
            .find(|(n, ..)| *n == "loop")
            .map(|(.., at)| *at)
            .expect("loop ran");
        for (name, report, at) in &ended {
            let error = report.error.clone().unwrap_or_default();
            let (status, why) = match *name {
                "loop" => (Status::Crashed, "the task ran past its deadline (2.0s)"),
                "alloc" => (
                    Status::Crashed,
                    "the task went past its memory limit (64 MiB)",
                ),
                "panic" => (Status::Crashed, "hostile plugin panics on purpose"),
                "spew" => (Status::Error, "Broken pipe"),
                _ => (Status::Success, ""),
            };
            assert_eq!(report.status, status, "{name}: {error}");
            assert!(
                error.contains(why),
                "{name}: error does not say {why:?}: {error}"
            );
            if status == Status::Success {
                assert!(report.error.is_none(), "{name}: {error}");
                // The well-behaved tasks did not wait for the looping one.
                assert!(
                    *at < loop_ended,
                    "{name} ended after the looping task, {:?} in",
                    at.duration_since(started)
                );
            }
        }
        let echo = ended.iter().find(|(n, ..)| *n == "echo").expect("echo ran");
        assert_eq!(
            echo.1.results[0].note.as_deref(),
            Some("code=Some(0) timed_out=false stdout=hello neighbour")
        );

        // And the runtime still runs tasks afterwards.
        let after = run_task(
            &runtime,
            store.clone(),
            &plugin,
            serde_json::json!({"action": "noop"}),
            grants(&plugin, None, None),
            &options,
        )
        .await
        .expect("run after");
        assert_eq!(after.status, Status::Success);
        let left = std::fs::read_dir(tmp.path().join("workspaces"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0, "workspaces were left behind");
    }
}
