//! What a run starts ends with it, and nothing a plugin names can hang it.
//!
//! Processes: every process a command starts, including a `setsid`-ed,
//! double-forked grandchild, is gone when the command ends, at its timeout
//! and when runtask is told to stop; with a cgroup per command (the default
//! here) and with the reaper (`TASKHOST_CONTAINMENT=reaper`). Processes are
//! checked by pid and start time, never by command line.
//!
//! Blocking: a FIFO as a command's stdin or stdout, or as the target of an
//! artifact fetch, is refused at once; a plugin stuck in a system call does
//! not keep runtask from stopping.

use crate::{Env, HOSTILE, HOSTILE_GRANTS, Ran, first_note, report};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How a run contains its commands' processes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Mode {
    Cgroup,
    Reaper,
}

/// A shell script that records its own pid, starts a background child
/// and a `setsid`-ed, double-forked grandchild (`sleep 300` both), records
/// their pids and start times in `pids` and its cgroup in `pids.cgroup`,
/// then runs `rest`.
pub(crate) fn escaping(pids: &Path, rest: &str) -> String {
    let p = pids.display();
    format!(
        "rec() {{ echo \"$1 $(cut -d' ' -f22 /proc/$1/stat)\" >> '{p}'; }}; rec $$; \
         grep '^0::' /proc/self/cgroup > '{p}.cgroup'; \
         sleep 300 & rec $!; \
         setsid sh -c '(sleep 300 & echo $! > gc.pid) &'; \
         while [ ! -s gc.pid ]; do sleep 0.01; done; rec $(cat gc.pid); {rest}"
    )
}

/// Lines of `pids` whose process is still alive: the same pid with the
/// same start time, not a zombie.
pub(crate) fn alive(pids: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(pids).unwrap_or_default();
    text.lines()
        .filter(|line| {
            let mut f = line.split_whitespace();
            let (Some(pid), Some(start)) = (f.next(), f.next()) else {
                return false;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let Some(i) = stat.rfind(')') else {
                return false;
            };
            let fields: Vec<&str> = stat[i + 1..].split_whitespace().collect();
            // After "(comm)": the state, then starttime 20 fields on.
            !matches!(fields.first(), None | Some(&"Z") | Some(&"X"))
                && fields.get(19) == Some(&start)
        })
        .map(str::to_string)
        .collect()
}

/// Waits (at most `patience`) until `pids` lists no live process; returns
/// those still alive.
pub(crate) fn alive_after(pids: &Path, patience: Duration) -> Vec<String> {
    let until = Instant::now() + patience;
    loop {
        let left = alive(pids);
        if left.is_empty() || Instant::now() > until {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `path` has `lines` lines.
pub(crate) fn wait_for_lines(path: &Path, lines: usize, child: &mut Child) {
    let started = Instant::now();
    loop {
        let n = std::fs::read_to_string(path)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if n >= lines {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "runtask ended ({status}) before {} had {lines} lines",
                path.display()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} never got {lines} lines",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` at most `patience`; kills it if it is still running
/// then. Returns what it printed and whether it ended by itself.
pub(crate) fn wait_at_most(child: Child, patience: Duration) -> (Ran, bool) {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let (out, ended) = match rx.recv_timeout(patience) {
        Ok(out) => (out, true),
        Err(_) => {
            // SAFETY: kill(2) on our own child, which has not been reaped.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            (rx.recv().expect("runtask's output"), false)
        }
    };
    let out = out.expect("waiting for runtask");
    (
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        ended,
    )
}

/// Starts the hostile plugin on `data` with `extra` options, contained
/// as `mode` says.
pub(crate) fn start(env: &Env, mode: Mode, data: &serde_json::Value, extra: &[&str]) -> Child {
    let file = env.write("task.json", &data.to_string());
    let mut args = vec![
        "run",
        HOSTILE,
        "--data",
        file.to_str().expect("utf-8 path"),
        "--format",
        "json",
    ];
    args.extend_from_slice(HOSTILE_GRANTS);
    args.extend_from_slice(extra);
    let mut cmd = env.cmd(&args);
    match mode {
        Mode::Cgroup => cmd.env_remove("TASKHOST_CONTAINMENT"),
        Mode::Reaper => cmd.env("TASKHOST_CONTAINMENT", "reaper"),
    };
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn runtask")
}

/// Asserts that the command recorded in `pids` ran contained as `mode`.
fn assert_mode(pids: &Path, mode: Mode) {
    let cgroup = std::fs::read_to_string(pids.with_extension("cgroup")).unwrap_or_default();
    let in_own = cgroup.contains("/taskhost-");
    assert_eq!(
        in_own,
        mode == Mode::Cgroup,
        "the command's cgroup ({}) does not fit {mode:?}",
        cgroup.trim()
    );
}

fn workspaces(env: &Env) -> Vec<PathBuf> {
    std::fs::read_dir(env.path("taskhost-workspaces"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// The first command leaves its processes behind and ends; the second
/// signals (by a file) that the first is over, and keeps runtask alive
/// while the test looks.
fn killed_when_the_command_ends(mode: Mode, rest: &str, timeout_ms: Option<u64>) {
    let env = Env::new();
    let pids = env.path("pids");
    let second = env.path("second-started");
    let mut data = serde_json::json!({
        "action": "exec",
        "argv": ["sh", "-c", escaping(&pids, rest)],
        "then": ["sh", "-c", format!("touch '{}'; sleep 2", second.display())],
    });
    if let Some(ms) = timeout_ms {
        data["timeout_ms"] = ms.into();
    }
    let mut child = start(&env, mode, &data, &[]);
    let started = Instant::now();
    while !second.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            let (ran, _) = wait_at_most(child, Duration::from_secs(5));
            panic!(
                "runtask ended ({status}) early\n{}\n{}",
                ran.stdout, ran.stderr
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no second command"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The first command is over, the run is not.
    let left = alive(&pids);
    let (ran, ended) = wait_at_most(child, Duration::from_secs(60));
    assert!(ended, "runtask did not end");
    ran.expect(0);
    let recorded = std::fs::read_to_string(&pids).unwrap_or_default();
    assert_eq!(recorded.lines().count(), 3, "{recorded}");
    assert_eq!(
        left,
        Vec::<String>::new(),
        "processes of the first command outlived it ({mode:?})"
    );
    assert_mode(&pids, mode);
    let note = first_note(&report(&ran));
    assert_eq!(
        note.contains("timed_out=true"),
        timeout_ms.is_some(),
        "{note}"
    );
}

#[test]
fn a_daemon_left_by_a_command_is_killed_when_it_ends_in_a_cgroup() {
    killed_when_the_command_ends(Mode::Cgroup, "exit 0", None);
}

#[test]
fn a_daemon_left_by_a_command_is_killed_when_it_ends_by_the_reaper() {
    killed_when_the_command_ends(Mode::Reaper, "exit 0", None);
}

#[test]
fn every_process_of_a_command_is_killed_at_its_timeout_in_a_cgroup() {
    killed_when_the_command_ends(Mode::Cgroup, "sleep 300", Some(3000));
}

#[test]
fn every_process_of_a_command_is_killed_at_its_timeout_by_the_reaper() {
    killed_when_the_command_ends(Mode::Reaper, "sleep 300", Some(3000));
}

/// runtask gets SIGTERM while the command runs.
fn killed_when_runtask_is_terminated(mode: Mode) {
    let env = Env::new();
    let pids = env.path("pids");
    let data = serde_json::json!({
        "action": "exec",
        "argv": ["sh", "-c", escaping(&pids, "sleep 300")],
    });
    let mut child = start(&env, mode, &data, &[]);
    wait_for_lines(&pids, 3, &mut child);
    assert_eq!(workspaces(&env).len(), 1, "one live workspace");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let (ran, ended) = wait_at_most(child, Duration::from_secs(10));
    assert!(ended, "runtask did not stop on SIGTERM\n{}", ran.stderr);
    assert!(
        ran.stderr.contains("terminated: run stopped"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        alive_after(&pids, Duration::from_secs(2)),
        Vec::<String>::new(),
        "processes of the run outlived runtask ({mode:?})"
    );
    assert_mode(&pids, mode);
    assert_eq!(workspaces(&env), Vec::<PathBuf>::new());
}

#[test]
fn sigterm_to_runtask_kills_every_process_of_the_run_in_a_cgroup() {
    killed_when_runtask_is_terminated(Mode::Cgroup);
}

#[test]
fn sigterm_to_runtask_kills_every_process_of_the_run_by_the_reaper() {
    killed_when_runtask_is_terminated(Mode::Reaper);
}

// ---- the unshare backend's pid namespace ---------------------------------

/// Runs envrun's `steps` in the shared environment, contained as
/// `mode` says.
fn in_environment(mode: Mode, steps: serde_json::Value) -> (Ran, serde_json::Value) {
    use crate::unshare::{ENVRUN, shared};
    let s = shared();
    let data = serde_json::json!({
        "environment": format!("debian/match:codename={}:variant=minbase", crate::unshare::SUITE),
        "steps": steps,
    });
    let file = s.env.write(
        &format!("envrun-{mode:?}-{}.json", std::process::id()),
        &data.to_string(),
    );
    let mut cmd = s.env.cmd(&[
        "run",
        ENVRUN,
        "--policy",
        s.policy.to_str().expect("utf-8"),
        "--data",
        file.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    match mode {
        Mode::Cgroup => cmd.env_remove("TASKHOST_CONTAINMENT"),
        Mode::Reaper => cmd.env("TASKHOST_CONTAINMENT", "reaper"),
    };
    let out = cmd.output().expect("spawn runtask");
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let report = report(&ran);
    (ran, report)
}

/// Host pids of the processes in pid namespace `ns` (`pid:[N]`).
fn in_namespace(ns: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_link(e.path().join("ns/pid")).is_ok_and(|l| l.to_string_lossy() == ns)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A command inside an environment leaves a `setsid`-ed, double-forked
/// daemon; the next command reports whether it is still alive. Once the
/// run is over, nothing is left in the environment's pid namespace.
fn a_daemon_in_an_environment(mode: Mode) -> String {
    let daemon = "setsid sh -c '(sleep 300 & echo $! > /tmp/daemon.pid) &'; \
                  while [ ! -s /tmp/daemon.pid ]; do sleep 0.01; done; \
                  readlink /proc/self/ns/pid";
    let check = "p=$(cat /tmp/daemon.pid); \
                 if [ -d /proc/$p ] && ! grep -q '^State:.Z' /proc/$p/status; \
                 then echo alive; else echo gone; fi";
    let (ran, report) = in_environment(
        mode,
        serde_json::json!([
            {"run": {"argv": ["sh", "-c", daemon], "root": true}},
            {"run": {"argv": ["sh", "-c", check], "root": true}},
        ]),
    );
    ran.expect(0);
    let ns = crate::unshare::note(&report, 0).trim().to_string();
    assert!(ns.starts_with("pid:["), "{report}");
    // The namespace's init dies with the environment; the kernel then
    // kills the rest.
    let until = Instant::now() + Duration::from_secs(2);
    while !in_namespace(&ns).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        in_namespace(&ns),
        Vec::<String>::new(),
        "processes outlived the environment ({mode:?})"
    );
    crate::unshare::note(&report, 1).trim().to_string()
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn a_daemon_in_an_unshare_environment_dies_with_its_command_in_a_cgroup() {
    assert_eq!(a_daemon_in_an_environment(Mode::Cgroup), "gone");
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror"]
fn a_daemon_in_an_unshare_environment_dies_with_the_environment() {
    // The reaper does not see a daemon that the namespace's init adopted;
    // the namespace ends it when the environment closes.
    assert_eq!(a_daemon_in_an_environment(Mode::Reaper), "alive");
}

// ---- nothing a plugin names may block the host --------------------------

/// Runs `data` with a 5 s deadline; the run must end within 20 s.
fn run_briefly(env: &Env, data: serde_json::Value, extra: &[&str]) -> (Ran, Duration) {
    let started = Instant::now();
    let args = [&["--timeout", "5s"], extra].concat();
    let child = start(env, Mode::Cgroup, &data, &args);
    let (ran, ended) = wait_at_most(child, Duration::from_secs(20));
    let took = started.elapsed();
    assert!(
        ended,
        "runtask hung past its 5 s deadline (killed after {took:?})\n{}",
        ran.stderr
    );
    (ran, took)
}

/// Asserts a run that failed at once with an error saying `message`.
#[track_caller]
fn assert_refused(ran: &Ran, took: Duration, message: &str) {
    assert!(took < Duration::from_secs(4), "took {took:?}");
    ran.expect(1);
    let r = report(ran);
    let error = r["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(message),
        "error does not say {message:?}: {error}"
    );
}

#[test]
fn a_fifo_as_a_commands_stdin_is_refused_at_once() {
    let env = Env::new();
    let (ran, took) = run_briefly(
        &env,
        serde_json::json!({
            "action": "exec",
            "before": ["sh", "-c", "mkfifo fifo"],
            "argv": ["cat"],
            "stdin": "fifo",
        }),
        &[],
    );
    assert_refused(
        &ran,
        took,
        "stdin 'fifo': 'fifo' is a named pipe (FIFO), not a regular file",
    );
    assert_eq!(workspaces(&env), Vec::<PathBuf>::new());
}

#[test]
fn a_fifo_as_a_commands_stdout_is_refused_at_once() {
    let env = Env::new();
    let (ran, took) = run_briefly(
        &env,
        serde_json::json!({
            "action": "exec",
            "before": ["sh", "-c", "mkfifo out"],
            "argv": ["echo", "hello", "fifo"],
            "stdout": "out",
        }),
        &[],
    );
    assert_refused(
        &ran,
        took,
        "stdout 'out': 'out' is a named pipe (FIFO), not a regular file",
    );
}

#[test]
fn a_fifo_as_the_target_of_an_artifact_fetch_is_refused_at_once() {
    let env = Env::new();
    let input = env.write("input.txt", "first line\n");
    let id = env.import(&input, "test:input");
    let (ran, took) = run_briefly(
        &env,
        serde_json::json!({
            "action": "exec",
            "before": ["sh", "-c", "mkdir in && mkfifo in/input.txt"],
            "argv": ["echo", "hello", "fetch"],
            "artifact": id.parse::<u64>().expect("artifact id"),
            "fetch_into": "in",
        }),
        &[],
    );
    assert_refused(
        &ran,
        took,
        "'in/input.txt' is a named pipe (FIFO), not a regular file",
    );
}

/// A plugin stuck in a WASI read of a FIFO (wasmtime's blocking thread
/// never returns) after running `script`, which makes the FIFO.
fn stuck_plugin(script: &str) -> serde_json::Value {
    serde_json::json!({
        "action": "exec",
        "argv": ["sh", "-c", script],
        "wasi_read": "stuck",
    })
}

/// Waits until a thread of `child` waits in the kernel for the other end
/// of a FIFO.
fn wait_until_stuck(child: &mut Child) {
    let started = Instant::now();
    let tasks = format!("/proc/{}/task", child.id());
    loop {
        let stuck = std::fs::read_dir(&tasks)
            .into_iter()
            .flatten()
            .flatten()
            .any(|t| {
                std::fs::read_to_string(t.path().join("wchan"))
                    .is_ok_and(|w| w == "wait_for_partner")
            });
        if stuck {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("runtask ended ({status}) before its plugin got stuck");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the plugin never got stuck in its read"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_stops_runtask_while_its_plugin_is_stuck_in_a_system_call() {
    let env = Env::new();
    let pids = env.path("pids");
    // The command leaves a daemon behind (killed when it ends).
    let plugin = stuck_plugin(&escaping(&pids, "mkfifo stuck"));
    let mut child = start(&env, Mode::Cgroup, &plugin, &["--timeout", "10m"]);
    wait_for_lines(&pids, 3, &mut child);
    wait_until_stuck(&mut child);
    let started = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let (ran, ended) = wait_at_most(child, Duration::from_secs(20));
    let took = started.elapsed();
    assert!(ended, "runtask hung after SIGTERM\n{}", ran.stderr);
    assert!(took < Duration::from_secs(7), "took {took:?}");
    assert!(ran.stderr.contains("terminated"), "{}", ran.stderr);
    assert_eq!(
        alive_after(&pids, Duration::from_secs(2)),
        Vec::<String>::new()
    );
    assert_eq!(workspaces(&env), Vec::<PathBuf>::new());
}

#[test]
fn the_deadline_ends_a_run_whose_plugin_is_stuck_in_a_system_call() {
    let env = Env::new();
    let (ran, took) = run_briefly(&env, stuck_plugin("mkfifo stuck"), &[]);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    ran.expect(4);
    let r = report(&ran);
    assert!(
        r["error"]
            .as_str()
            .unwrap_or_default()
            .contains("ran past its deadline"),
        "{}",
        ran.stdout
    );
    assert_eq!(workspaces(&env), Vec::<PathBuf>::new());
}

/// runtask is SIGKILLed while its command runs: nothing can clean up then.
/// The reaper sees its socket close and ends the command's processes; a
/// command cgroup is swept by the next runtask that makes one.
fn after_runtask_is_killed(mode: Mode) {
    let env = Env::new();
    let pids = env.path("pids");
    let data = serde_json::json!({
        "action": "exec",
        "argv": ["sh", "-c", escaping(&pids, "sleep 300")],
    });
    let mut child = start(&env, mode, &data, &[]);
    wait_for_lines(&pids, 3, &mut child);
    assert_mode(&pids, mode);
    assert_eq!(alive(&pids).len(), 3, "the command runs");
    child.kill().expect("SIGKILL runtask");
    let status = child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    if mode == Mode::Cgroup {
        // The next run that contains a command sweeps the dead one's cgroup.
        let next = serde_json::json!({"action": "exec", "argv": ["echo", "hello", "next"]});
        let (ran, ended) = wait_at_most(start(&env, mode, &next, &[]), Duration::from_secs(60));
        assert!(ended);
        ran.expect(0);
    }
    assert_eq!(
        alive_after(&pids, Duration::from_secs(10)),
        Vec::<String>::new(),
        "processes outlived a SIGKILLed runtask ({mode:?})"
    );
}

#[test]
fn the_processes_of_a_sigkilled_runtask_are_swept_by_the_next_run() {
    after_runtask_is_killed(Mode::Cgroup);
}

#[test]
fn the_reaper_ends_the_processes_of_a_sigkilled_runtask() {
    after_runtask_is_killed(Mode::Reaper);
}

// ---- commands a plugin starts and follows (`environment.start`) ---------

#[test]
fn a_started_command_is_followed_until_it_ends() {
    let env = Env::new();
    let data = serde_json::json!({
        "action": "start", "argv": ["sh", "-c", "sleep 0.5; exit 3"], "count": 2, "wait": true,
    });
    let ran = env.hostile(&data.to_string(), HOSTILE_GRANTS);
    ran.expect(0);
    let note = first_note(&report(&ran));
    // Both ran at once: the first wait polled while they slept, the
    // second found its command over.
    let polls: u32 = note
        .strip_prefix("polls ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("note: {note}"));
    assert!((2..=8).contains(&polls), "{note}");
    assert!(note.ends_with("codes Some(3),Some(3)"), "{note}");
}

#[test]
fn a_started_command_dropped_before_it_ends_is_killed_with_its_processes() {
    let env = Env::new();
    let pids = env.path("pids");
    let data = serde_json::json!({
        "action": "start", "argv": ["sh", "-c", escaping(&pids, "sleep 300")],
        "count": 1, "hold_ms": 1500,
    });
    let started = Instant::now();
    let ran = env.hostile(&data.to_string(), HOSTILE_GRANTS);
    ran.expect(0);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let recorded = std::fs::read_to_string(&pids).unwrap_or_default();
    assert_eq!(
        recorded.lines().count(),
        3,
        "the script did not start: {recorded:?}"
    );
    assert_eq!(
        alive_after(&pids, Duration::from_secs(5)),
        Vec::<String>::new()
    );
    assert!(
        ran.stderr.contains("was dropped before it ended: killed"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_ninth_command_at_once_is_refused() {
    let env = Env::new();
    let data = serde_json::json!({
        "action": "start", "argv": ["sleep", "300"], "count": 9, "wait": true,
    });
    let (ran, took) = run_briefly(&env, data, &[]);
    assert_refused(&ran, took, "8 commands already run at once");
}
