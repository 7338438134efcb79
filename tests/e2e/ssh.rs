//! The ssh backend (`runtask --ssh user@host[:port]`) against a real
//! OpenSSH server that each test starts on 127.0.0.1: its own config,
//! host key, port and authorized key (key-only, no PAM). The "remote"
//! machine is this one, so a test sees the remote processes with pgrep.

use crate::unshare::{ENVRUN, note};
use crate::{Env, Ran, report};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An sshd of a test's own, killed (with every session) when dropped.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    child: std::process::Child,
    pub port: u16,
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "taskhost-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(ok.success());
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Sshd {
    pub fn start() -> Sshd {
        // sshd insists on its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd (run the tests as root)");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).expect("copy");
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n\
                 PermitRootLogin prohibit-password\nLogLevel VERBOSE\n\
                 SetEnv SHLVL=1\n",
                d = d.display()
            );
            std::fs::write(d.join("sshd_config"), config).expect("config");
            let log = std::fs::File::create(d.join("sshd.log")).expect("log");
            let mut child = Command::new("/usr/sbin/sshd")
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("/usr/sbin/sshd (openssh-server)");
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                let log = std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default();
                if log.contains("Server listening") {
                    return Sshd { dir, child, port };
                }
                if child.try_wait().expect("try_wait").is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start: {}",
            std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
        );
    }

    pub fn target(&self) -> String {
        format!("root@127.0.0.1:{}", self.port)
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The known_hosts line of this server's key.
    pub fn known_hosts_line(&self) -> String {
        let public = std::fs::read_to_string(self.dir.path().join("host_key.pub")).expect("pub");
        let mut f = public.split_whitespace();
        let (kind, key) = (f.next().expect("kind"), f.next().expect("key"));
        format!("[127.0.0.1]:{} {kind} {key}\n", self.port)
    }

    /// `--ssh TARGET --ssh-privkey KEY`.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--ssh".into(),
            self.target(),
            "--ssh-privkey".into(),
            self.key().display().to_string(),
        ]
    }

    /// The sshd processes serving connections (not the listener).
    fn sessions(&self) -> Vec<i32> {
        descendants(self.child.id() as i32)
            .into_iter()
            .filter(|(_, comm)| comm == "sshd")
            .map(|(pid, _)| pid)
            .collect()
    }
}

impl Drop for Sshd {
    /// No new connections; what runs gets a moment to end (a stopped
    /// session is woken), then SIGTERM, then SIGKILL.
    fn drop(&mut self) {
        let sessions = descendants(self.child.id() as i32);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let signal = |sig| {
            for (pid, _) in &sessions {
                // SAFETY: kill(2) on a process this test started (below sshd).
                unsafe { libc::kill(*pid, sig) };
            }
        };
        let alive = || {
            sessions
                .iter()
                .any(|(pid, _)| std::path::Path::new(&format!("/proc/{pid}")).exists())
        };
        signal(libc::SIGCONT);
        if !wait_for(Duration::from_secs(2), || !alive()) {
            signal(libc::SIGTERM);
            if !wait_for(Duration::from_secs(2), || !alive()) {
                signal(libc::SIGKILL);
            }
        }
    }
}

/// Every process below `root`: (pid, comm).
fn descendants(root: i32) -> Vec<(i32, String)> {
    let mut all: Vec<(i32, i32, String)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        all.push((pid, ppid, comm));
    }
    let mut found = vec![root];
    let mut out = Vec::new();
    let mut i = 0;
    while i < found.len() {
        for (pid, ppid, comm) in &all {
            if *ppid == found[i] && !found.contains(pid) {
                found.push(*pid);
                out.push((*pid, comm.clone()));
            }
        }
        i += 1;
    }
    out
}

/// The pids of processes whose whole command line matches `pattern`
/// (`pgrep -x -f`), e.g. `sleep 31[45]` (and not the ssh or shell whose
/// command line holds that text).
fn processes(pattern: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-x", "-f", pattern])
        .output()
        .expect("pgrep (procps)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits up to `limit` for `done`.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// A policy pinning envrun, with ssh among its backends, and `extra`.
fn envrun_policy(env: &Env, extra: &str) -> PathBuf {
    let digest = taskhost::manifest::digest(&std::fs::read(ENVRUN).expect("envrun plugin"));
    env.write(
        "policy.toml",
        &format!(
            "[plugins.envrun]\nsha256 = [\"{digest}\"]\nexec = [\"cat **\", \"id **\", \"ls **\", \"sh **\", \"touch **\", \"stat **\", \"true **\"]\n\
             backends = [\"ssh\", \"local\"]\n{extra}"
        ),
    )
}

/// Runs envrun with `data` under `policy`, adding `extra` arguments.
fn envrun(env: &Env, data: &Value, policy: &Path, extra: &[String]) -> (Ran, Value) {
    envrun_with(env, data, policy, extra, None)
}

/// [`envrun`], with TASKHOST_SSH_TRANSFER set to `transfer`.
fn envrun_with(
    env: &Env,
    data: &Value,
    policy: &Path,
    extra: &[String],
    transfer: Option<&str>,
) -> (Ran, Value) {
    let file = env.write("task.json", &data.to_string());
    let mut args: Vec<String> = vec![
        "run".into(),
        ENVRUN.into(),
        "--policy".into(),
        policy.display().to_string(),
        "--data".into(),
        file.display().to_string(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = env.cmd(&args);
    if let Some(t) = transfer {
        cmd.env("TASKHOST_SSH_TRANSFER", t);
    }
    let ran = Ran::from(cmd.output().expect("runtask"));
    let report = if ran.stdout.trim_start().starts_with('{') {
        report(&ran)
    } else {
        Value::Null
    };
    (ran, report)
}

fn run_step(argv: &[&str]) -> Value {
    json!({"run": {"argv": argv}})
}

/// The report's error, or else its first result's note.
fn failure(report: &Value) -> String {
    report["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| note(report, 0))
}

// ---- a formula ----------------------------------------------------------

const WHERE_PY: &str = r#"import os


def run(workdir):
    with open("made.txt") as f:
        made = f.read().strip()
    os.remove("artifacts/stale.txt")
    with open("artifacts/where.txt", "w") as f:
        f.write("%s\n%s\n" % (os.getcwd(), made))
    print("python ran in", os.getcwd())
    return "ok"
"#;

const REMOTE_YML: &str = "name: remote
desc: runs its shell and python actions on the --ssh machine
maintainer: taskhost developers
actions:
  - name: shell there
    shell:
      - [sh, -c, 'pwd; mkdir -p artifacts; echo made remotely > made.txt; echo x > artifacts/stale.txt']
  - name: python there
    python:
      file: where.py
      callable: run
      workdir: ${workdir}
";

/// Runs the formula above with `--ssh`; `transfer` sets
/// TASKHOST_SSH_TRANSFER.
fn formula_over_ssh(transfer: Option<&str>) {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = env.write(
        "policy.toml",
        "[plugins.shell]\nbackends = [\"ssh\"]\nexec = [\"sh -c **\"]\n\n\
         [plugins.python]\nbackends = [\"ssh\"]\n\
         exec = [\"python3 .taskhost/python/runner.py where.py run\"]\n",
    );
    let formula = env.write("task/runtask.yml", REMOTE_YML);
    env.write("task/where.py", WHERE_PY);
    let art = env.path("art");
    let mut args: Vec<String> = vec![
        "-i".into(),
        "x-1-1.fc99".into(),
        "-t".into(),
        "koji_build".into(),
        "--uuid".into(),
        "u1".into(),
        "--artifactsdir".into(),
        art.display().to_string(),
        "--policy".into(),
        policy.display().to_string(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(sshd.args());
    args.push(formula.display().to_string());
    let mut cmd = env.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>());
    if let Some(t) = transfer {
        cmd.env("TASKHOST_SSH_TRANSFER", t);
    }
    let ran = Ran::from(cmd.output().expect("runtask"));
    ran.expect(0);

    // python3 ran there, in the remote copy of the workspace, and saw the
    // shell action's file; what it wrote came back, what it removed went.
    let where_txt = std::fs::read_to_string(art.join("u1/where.txt")).expect("where.txt");
    let mut lines = where_txt.lines();
    let cwd = lines.next().unwrap_or_default();
    assert!(
        cwd.starts_with("/tmp/taskhost.") && cwd.ends_with("/w"),
        "{where_txt}"
    );
    assert!(!cwd.starts_with(&env.dir.path().display().to_string()));
    assert_eq!(lines.next(), Some("made remotely"));
    assert!(!art.join("u1/stale.txt").exists());
    // The commands' own output files stay the host's: their text is
    // logged. (Each action has a connection and a remote directory.)
    let log = std::fs::read_to_string(art.join("u1/runtask.log")).expect("runtask.log");
    assert!(
        log.contains("commands[0] printed:\n    | /tmp/taskhost."),
        "{log}"
    );
    assert!(log.contains(&format!("python ran in {cwd}")), "{log}");
    let copied = match transfer {
        Some(t) => format!("workspace copied with {t}"),
        None => "workspace copied with rsync".into(),
    };
    assert!(log.contains(&copied), "{log}");
    // One connection per action, with the key.
    assert_eq!(
        sshd.log()
            .matches("Accepted publickey for root from 127.0.0.1")
            .count(),
        2,
        "{}",
        sshd.log()
    );
    // The remote directories are gone.
    for line in log
        .lines()
        .filter(|l| l.contains("remote directory /tmp/taskhost."))
    {
        let dir = line
            .split("remote directory ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .expect("dir");
        assert!(!Path::new(dir).exists(), "{dir} is left");
    }
}

#[test]
fn a_formula_with_ssh_runs_its_shell_and_python_actions_on_that_machine() {
    formula_over_ssh(None);
}

#[test]
fn without_rsync_the_workspace_travels_by_tar() {
    formula_over_ssh(Some("tar"));
}

// ---- a task -------------------------------------------------------------

#[test]
fn a_task_with_backend_ssh_runs_there_and_push_and_pull_move_files() {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = envrun_policy(&env, "");
    let remote_file = env.path("pushed.txt");
    std::fs::write(env.path("pull-me.txt"), "pulled text").expect("write");
    let data = json!({
        "backend": "ssh",
        "steps": [
            run_step(&["sh", "-c", "pwd; echo \"home=$HOME\"; id -u"]),
            {"push": {"content": "pushed text", "path": "p.txt", "target": remote_file}},
            {"pull": {"source": env.path("pull-me.txt"), "path": "q.txt"}},
            run_step(&["sh", "-c", "echo err >&2; exit 255"]),
            run_step(&["sh", "-c", "exit 3"]),
        ],
    });
    let (ran, report) = envrun(&env, &data, &policy, &sshd.args());
    let notes: Vec<String> = (0..5).map(|i| note(&report, i)).collect();
    let out: Vec<&str> = notes[0].lines().collect();
    assert!(
        out.first()
            .is_some_and(|d| d.starts_with("/tmp/taskhost.") && d.ends_with("/w")),
        "{notes:?}\n{}",
        ran.stderr
    );
    assert_eq!(out[1..], ["home=/root", "0"], "{notes:?}");
    assert_eq!(report["results"][0]["keyvals"]["backend"], "ssh");
    // The provenance names the machine.
    let internal = &report["provenance"]["predicate"]["buildDefinition"]["internalParameters"];
    assert_eq!(
        internal["ssh_machines"],
        json!([sshd.target()]),
        "{internal}"
    );
    assert_eq!(
        std::fs::read_to_string(&remote_file)
            .expect("pushed")
            .as_str(),
        "pushed text"
    );
    assert_eq!(notes[2], "pulled text");
    // 255 from the command itself is its exit code, not a lost connection.
    assert_eq!(report["results"][3]["keyvals"]["code"], "255", "{report}");
    assert_eq!(notes[3], "err\n");
    assert_eq!(report["results"][4]["keyvals"]["code"], "3");
}

#[test]
fn a_copy_there_is_skipped_only_when_nothing_changed_here() {
    for transfer in [None, Some("tar")] {
        let sshd = Sshd::start();
        let env = Env::new();
        let policy = envrun_policy(&env, "");
        let sessions = || sshd.log().matches("Starting session").count();
        let unchanged = json!({"backend": "ssh", "steps": [
            run_step(&["sh", "-c", "echo one > f"]),
            run_step(&["cat", "f"]),
        ]});
        let (_, report) = envrun_with(&env, &unchanged, &policy, &sshd.args(), transfer);
        assert_eq!(note(&report, 1), "one\n", "{report}");
        let first = sessions();
        // Written here between the two commands: copied there again.
        let changed = json!({"backend": "ssh", "steps": [
            run_step(&["sh", "-c", "echo one > f"]),
            {"write": {"content": "two\n", "path": "f"}},
            run_step(&["cat", "f"]),
        ]});
        let (_, report) = envrun_with(&env, &changed, &policy, &sshd.args(), transfer);
        assert_eq!(note(&report, 2), "two\n", "{transfer:?}: {report}");
        assert_eq!(
            sessions() - first,
            first + 1,
            "{transfer:?}: {}",
            sshd.log()
        );
    }
}

#[test]
fn blhc_with_backend_ssh_checks_the_log_on_that_machine() {
    let sshd = Sshd::start();
    let env = Env::new();
    let log = crate::blhc::build_package(&env, "ssh-hardening", "gcc -O2 -o hello hello.c");
    let data = env.write(
        "blhc.json",
        &json!({"input": {"artifact": log}, "backend": "ssh"}).to_string(),
    );
    let mut args: Vec<String> = [
        "run",
        "blhc",
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
        "--allow-exec",
        "blhc --debian **",
        "--allow-backend",
        "ssh",
    ]
    .map(String::from)
    .to_vec();
    args.extend(sshd.args());
    let ran = env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    ran.expect(100);
    let report = report(&ran);
    let note = note(&report, 0);
    assert!(note.contains("CFLAGS missing"), "{note}\n{}", ran.stderr);
    assert!(ran.stderr.contains("on ssh"), "{}", ran.stderr);
    assert_eq!(sshd.log().matches("Accepted publickey").count(), 1);
}

#[test]
fn backend_auto_with_ssh_picks_it_and_backend_ssh_without_ssh_says_how() {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = envrun_policy(&env, "");
    let data = json!({"backend": "auto", "steps": [run_step(&["true"])]});
    let (_, report) = envrun(&env, &data, &policy, &sshd.args());
    assert_eq!(
        report["results"][0]["keyvals"]["backend"], "ssh",
        "{report}"
    );
    // No --ssh: auto is local, and ssh names the flag it needs.
    let (_, report) = envrun(&env, &data, &policy, &[]);
    assert_eq!(report["results"][0]["keyvals"]["backend"], "local");
    let data = json!({"backend": "ssh", "steps": [run_step(&["true"])]});
    let (ran, report) = envrun(&env, &data, &policy, &[]);
    let e = failure(&report);
    assert!(e.contains("--ssh user@host[:port]"), "{e}\n{}", ran.stdout);
}

/// (Environment values go through the same quoting: see the unit tests
/// of the wrapper in host/src/backends/ssh.rs.)
#[test]
fn argv_words_arrive_verbatim() {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = envrun_policy(&env, "");
    let pwned = env.path("pwned");
    let words: Vec<String> = [
        "it's",
        "\"double\"",
        "a\nb",
        "; touch PWNED",
        "$(touch PWNED)",
        "`touch PWNED`",
        "{a,b}",
        "*",
        "~",
        "#x",
        "",
        " lead and trail ",
        "\\",
        "-n",
        "$HOME",
        "| cat",
        "&",
        "\t",
    ]
    .iter()
    .map(|w| w.replace("PWNED", &pwned.display().to_string()))
    .collect();
    // Each argument, hex-encoded on a line of its own.
    let script = "for a in \"$@\"; do printf %s \"$a\" | od -An -v -tx1 | tr -d ' \\n'; echo; done";
    let mut argv = vec!["sh", "-c", script, "sh"];
    argv.extend(words.iter().map(String::as_str));
    let data = json!({"backend": "ssh", "steps": [{"run": {"argv": argv}}]});
    let (ran, report) = envrun(&env, &data, &policy, &sshd.args());
    let decoded: Vec<String> = note(&report, 0)
        .lines()
        .map(|hex| {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            String::from_utf8(bytes).expect("utf-8")
        })
        .collect();
    assert_eq!(decoded, words, "{}", ran.stderr);
    assert!(!pwned.exists());
}

// ---- the policy ---------------------------------------------------------

#[test]
fn a_machine_not_in_ssh_hosts_is_refused_naming_the_line_to_add() {
    let sshd = Sshd::start();
    let env = Env::new();
    let data = json!({"backend": "ssh", "steps": [run_step(&["true"])]});
    let target = sshd.target();

    let policy = envrun_policy(&env, "ssh-hosts = [\"root@127.0.0.1:1\"]\n");
    let (ran, report) = envrun(&env, &data, &policy, &sshd.args());
    let e = failure(&report);
    assert!(
        e.contains(&format!("plugin 'envrun' may not use ssh host `{target}`")),
        "{e}\n{}",
        ran.stdout
    );
    assert!(
        e.contains(&format!("ssh-hosts = [\"root@127.0.0.1:1\", \"{target}\"]")),
        "{e}"
    );
    // The refusal is audited.
    let audit =
        std::fs::read_to_string(report["audit_file"].as_str().expect("audit_file")).expect("audit");
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"ssh-host\"") && l.contains("\"deny\"") && l.contains(&target)),
        "{audit}"
    );

    // [defaults] limits every plugin.
    let policy = env.write(
        "policy.toml",
        &format!(
            "[defaults]\nssh-hosts = [\"someone@example.org\"]\n\n{}",
            std::fs::read_to_string(envrun_policy(&env, "")).expect("policy")
        ),
    );
    let (_, report) = envrun(&env, &data, &policy, &sshd.args());
    let e = failure(&report);
    assert!(
        e.contains("not in ssh-hosts = [\"someone@example.org:22\"] in [defaults]"),
        "{e}"
    );

    // Listed: it runs, and the grant is audited.
    let policy = envrun_policy(&env, &format!("ssh-hosts = [\"{target}\"]\n"));
    let (_, report) = envrun(&env, &data, &policy, &sshd.args());
    assert_eq!(report["results"][0]["outcome"], "PASSED", "{report}");
    let audit =
        std::fs::read_to_string(report["audit_file"].as_str().expect("audit_file")).expect("audit");
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"ssh-host\"") && l.contains("\"allow\"")),
        "{audit}"
    );
    // Only the allowed run connected.
    assert_eq!(sshd.log().matches("Accepted publickey").count(), 1);
}

#[test]
fn a_denied_ssh_backend_is_refused() {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = envrun_policy(&env, "");
    let mut args = sshd.args();
    args.extend(["--deny-backend".into(), "ssh".into()]);
    // Named by task_data, or picked by `auto` under --ssh: either way the
    // run is refused before the plugin starts.
    for backend in ["ssh", "auto"] {
        let data = json!({"backend": backend, "steps": [run_step(&["true"])]});
        let (ran, report) = envrun(&env, &data, &policy, &args);
        ran.expect(3);
        assert_eq!(report["status"], "refused", "{report}");
        let e = failure(&report);
        assert!(
            e.contains("may not use backend `ssh`: denied by --deny-backend ssh"),
            "{e}\n{}",
            ran.stdout
        );
    }
    assert!(!sshd.log().contains("Accepted"));
}

// ---- keys -----------------------------------------------------------------

#[test]
fn a_key_the_machine_does_not_accept_is_refused_clearly() {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = envrun_policy(&env, "");
    let other = env.path("other_key");
    keygen(&other);
    let data = json!({"backend": "ssh", "steps": [run_step(&["true"])]});
    let args: Vec<String> = vec![
        "--ssh".into(),
        sshd.target(),
        "--ssh-key".into(),
        other.display().to_string(),
    ];
    let started = Instant::now();
    let (ran, report) = envrun(&env, &data, &policy, &args);
    let e = failure(&report);
    assert!(
        e.contains(&format!(
            "{} refused the login with the key {}",
            sshd.target(),
            other.display()
        )) && e.contains("authorized_keys"),
        "{e}\n{}",
        ran.stdout
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn an_unknown_host_key_is_refused_with_a_given_known_hosts() {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = envrun_policy(&env, "");
    let data = json!({"backend": "ssh", "steps": [run_step(&["true"])]});
    let known = env.write("known_hosts", "");
    let mut args = sshd.args();
    args.extend(["--ssh-known-hosts".into(), known.display().to_string()]);
    let (ran, report) = envrun(&env, &data, &policy, &args);
    let e = failure(&report);
    assert!(
        e.contains(&format!(
            "the host key of {} is not in {}",
            sshd.target(),
            known.display()
        )) && e.contains("ssh-keyscan"),
        "{e}\n{}",
        ran.stdout
    );
    // Not recorded anywhere either: the file stays empty.
    assert_eq!(std::fs::read_to_string(&known).expect("known"), "");
    // With the key in the file, it runs.
    std::fs::write(&known, sshd.known_hosts_line()).expect("write");
    let (_, report) = envrun(&env, &data, &policy, &args);
    assert_eq!(report["results"][0]["outcome"], "PASSED", "{report}");
}

#[test]
fn the_first_use_store_records_a_key_and_refuses_a_changed_one() {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = envrun_policy(&env, "");
    let data = json!({"backend": "ssh", "steps": [run_step(&["true"])]});
    let (_, report) = envrun(&env, &data, &policy, &sshd.args());
    assert_eq!(report["results"][0]["outcome"], "PASSED", "{report}");
    let store = env.path("state/taskhost/known_hosts");
    let recorded = std::fs::read_to_string(&store).expect("the store");
    assert_eq!(recorded, sshd.known_hosts_line());

    // Another key for the same name: refused, saying what to do.
    let other = env.path("other_host_key");
    keygen(&other);
    let public = std::fs::read_to_string(other.with_extension("pub")).expect("pub");
    let mut f = public.split_whitespace();
    let line = format!(
        "[127.0.0.1]:{} {} {}\n",
        sshd.port,
        f.next().expect("kind"),
        f.next().expect("key")
    );
    std::fs::write(&store, &line).expect("write");
    let (ran, report) = envrun(&env, &data, &policy, &sshd.args());
    let e = failure(&report);
    assert!(
        e.contains(&format!(
            "the host key of {} has changed since taskhost first saw it",
            sshd.target()
        )) && e.contains(&format!("ssh-keygen -f {} -R", store.display())),
        "{e}\n{}",
        ran.stdout
    );
    assert_eq!(std::fs::read_to_string(&store).expect("store"), line);
    assert_eq!(sshd.log().matches("Accepted publickey").count(), 1);
}

// ---- ends -------------------------------------------------------------------

#[test]
fn a_timeout_kills_the_remote_process_group_at_once() {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = envrun_policy(&env, "");
    let data = json!({
        "backend": "ssh",
        "steps": [
            {"run": {"argv": ["sh", "-c", "sleep 3161 & sleep 3160"], "timeout_ms": 1500}},
            // Still in the same session: nothing of it is left.
            run_step(&["sh", "-c", "pgrep -x -f 'sleep 316[01]' || echo none left"]),
        ],
    });
    let started = Instant::now();
    let (ran, report) = envrun(&env, &data, &policy, &sshd.args());
    assert_eq!(report["results"][0]["outcome"], "FAILED", "{}", ran.stdout);
    assert_eq!(note(&report, 1), "none left\n", "{report}");
    // At once: SIGTERM ends the sleeps, no grace period is waited out.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert!(processes("sleep 316[01]").is_empty());
}

#[test]
fn a_network_drop_ends_a_command_with_a_clear_error() {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = envrun_policy(&env, "");
    let data = json!({
        "backend": "ssh",
        "steps": [{"run": {"argv": ["sh", "-c", "sleep 3150"], "timeout_ms": 600_000}}],
    });
    let file = env.write("task.json", &data.to_string());
    let mut args: Vec<String> = vec![
        "run".into(),
        ENVRUN.into(),
        "--policy".into(),
        policy.display().to_string(),
        "--data".into(),
        file.display().to_string(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(sshd.args());
    let child = env
        .cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runtask");
    assert!(
        wait_for(Duration::from_secs(30), || !processes("sleep 3150")
            .is_empty()),
        "the command never started"
    );
    // The server's side of the connection stops answering.
    let stopped = sshd.sessions();
    assert!(!stopped.is_empty());
    for pid in &stopped {
        // SAFETY: kill(2) on this test's own sshd sessions.
        unsafe { libc::kill(*pid, libc::SIGSTOP) };
    }
    let dropped = Instant::now();
    let ran = Ran::from(child.wait_with_output().expect("runtask"));
    let took = dropped.elapsed();
    let report = report(&ran);
    let e = note(&report, 0);
    assert!(
        e.contains(&format!(
            "the connection to {} was lost while running `sh -c 'sleep 3150'`",
            sshd.target()
        )),
        "{e}\n{}",
        ran.stderr
    );
    assert!(took < Duration::from_secs(45), "{took:?}");
}

#[test]
fn an_interrupted_run_leaves_nothing_on_the_remote_machine() {
    let sshd = Sshd::start();
    let env = Env::new();
    let policy = envrun_policy(&env, "");
    let data = json!({
        "backend": "ssh",
        "steps": [run_step(&["sh", "-c", "sleep 3181 & sleep 3180"])],
    });
    let file = env.write("task.json", &data.to_string());
    let mut args: Vec<String> = vec![
        "run".into(),
        ENVRUN.into(),
        "--policy".into(),
        policy.display().to_string(),
        "--data".into(),
        file.display().to_string(),
    ];
    args.extend(sshd.args());
    let child = env
        .cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runtask");
    let pattern = "sleep 318[01]";
    assert!(
        wait_for(Duration::from_secs(30), || processes(pattern).len() == 2),
        "the command never started"
    );
    // The remote directory: where the command runs, less its `w/`.
    let pid = processes("sleep 3180").pop().expect("pid");
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd");
    let remote_dir = cwd.parent().expect("remote dir").to_path_buf();
    assert!(
        remote_dir.to_string_lossy().starts_with("/tmp/taskhost.") && remote_dir.is_dir(),
        "{}",
        remote_dir.display()
    );
    // SAFETY: kill(2) on the runtask this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let ran = Ran::from(child.wait_with_output().expect("runtask"));
    assert!(ran.stderr.contains("interrupted"), "{}", ran.stderr);
    assert!(
        wait_for(Duration::from_secs(5), || processes(pattern).is_empty()),
        "{:?} left",
        processes(pattern)
    );
    assert!(!remote_dir.exists(), "{} is left", remote_dir.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_started_command_kills_it_on_the_remote_machine() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = taskhost::backends::ssh::Remote {
        target: taskhost::backends::ssh::Target::parse(&sshd.target()).expect("target"),
        key: Some(sshd.key()),
        known_hosts: taskhost::backends::ssh::KnownHosts::FirstUse(dir.path().join("known_hosts")),
    };
    let session = open(&remote, dir.path()).await;
    let spec = spec(dir.path(), &["sh", "-c", "sleep 3171 & sleep 3170"]);
    let running = tokio::spawn(session.command(spec, false).expect("command"));
    let pattern = "sleep 317[01]";
    let seen = tokio::task::spawn_blocking(move || {
        wait_for(Duration::from_secs(30), || processes(pattern).len() == 2)
    })
    .await
    .expect("join");
    assert!(seen, "the command never started");
    running.abort();
    let gone = tokio::task::spawn_blocking(move || {
        wait_for(Duration::from_secs(10), || processes(pattern).is_empty())
    })
    .await
    .expect("join");
    // The session is still open: the drop alone killed them.
    assert!(gone, "{:?} left", processes(pattern));
    session.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_program_missing_there_is_not_found() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = taskhost::backends::ssh::Remote {
        target: taskhost::backends::ssh::Target::parse(&sshd.target()).expect("target"),
        key: Some(sshd.key()),
        known_hosts: taskhost::backends::ssh::KnownHosts::FirstUse(dir.path().join("known_hosts")),
    };
    let session = open(&remote, dir.path()).await;
    let spec = spec(dir.path(), &["no-such-program-xyz", "arg"]);
    let e = session
        .command(spec, false)
        .expect("command")
        .await
        .expect_err("not found");
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!(
            "program 'no-such-program-xyz' not found in PATH ({}) on {}; is its package installed there?",
            taskhost::backends::PATH,
            sshd.target()
        )
    );
    session.close().await.expect("close");
}

async fn open(
    remote: &taskhost::backends::ssh::Remote,
    dir: &Path,
) -> Box<dyn taskhost::backends::EnvironmentSession> {
    use taskhost::backends::Backend;
    let workspace = dir.join("ws");
    std::fs::create_dir_all(workspace.join(".taskhost/tmp")).expect("ws");
    let log = taskhost::runlog::RunLog::new();
    let progress = taskhost::progress::Progress::Plain;
    let request = taskhost::backends::OpenRequest {
        image: None,
        workspace: &workspace,
        scratch: workspace.join(".taskhost/env-1"),
        packages: &[],
        cache_dir: dir,
        remote: Some(remote),
        shape: taskhost::backends::qemu::Shape::default(),
        keep_machine: false,
        machine: None,
        deadline: Instant::now() + Duration::from_secs(120),
        log: &log,
        progress: &progress,
    };
    taskhost::backends::ssh::Ssh
        .open(request)
        .await
        .expect("open")
}

fn spec(dir: &Path, argv: &[&str]) -> taskhost::backends::ProcessSpec {
    let workspace = dir.join("ws");
    let file = |name: &str| std::fs::File::create(workspace.join(name)).expect("file");
    taskhost::backends::ProcessSpec {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        cwd: workspace.clone(),
        tmpdir: workspace.join(".taskhost/tmp"),
        stdin: None,
        stdout: file(".taskhost/001-out"),
        stderr: file(".taskhost/001-err"),
        timeout: Duration::from_secs(120),
        output_limit: 1 << 20,
        grace: Duration::from_millis(500),
        memory_limit: None,
        containment: taskhost::backends::Containment::default(),
    }
}

/// Per-command overhead over ssh against a plain `ssh host true`:
/// `cargo test -p taskhost --test e2e ssh::bench -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn bench_per_command_overhead() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = taskhost::backends::ssh::Remote {
        target: taskhost::backends::ssh::Target::parse(&sshd.target()).expect("target"),
        key: Some(sshd.key()),
        known_hosts: taskhost::backends::ssh::KnownHosts::FirstUse(dir.path().join("known_hosts")),
    };
    let n = 20;
    let opened = Instant::now();
    let session = open(&remote, dir.path()).await;
    let open_time = opened.elapsed();
    let started = Instant::now();
    for _ in 0..n {
        let exit = session
            .command(spec(dir.path(), &["true"]), false)
            .expect("command")
            .await
            .expect("run");
        assert_eq!(exit.code, Some(0));
    }
    let per_command = started.elapsed() / n;
    session.close().await.expect("close");
    let plain = |extra: &[&str]| {
        let started = Instant::now();
        for _ in 0..n {
            let ok = Command::new("ssh")
                .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o"])
                .arg(format!(
                    "UserKnownHostsFile={}",
                    dir.path().join("known_hosts").display()
                ))
                .args(["-i"])
                .arg(sshd.key())
                .args(["-p", &sshd.port.to_string(), "-l", "root"])
                .args(extra)
                .args(["127.0.0.1", "true"])
                .status()
                .expect("ssh");
            assert!(ok.success());
        }
        started.elapsed() / n
    };
    let full = plain(&[]);
    let cm = dir.path().join("cm");
    let cm_opt = format!("ControlPath={}", cm.display());
    let mut master = Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o"])
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.path().join("known_hosts").display()
        ))
        .args(["-i"])
        .arg(sshd.key())
        .args([
            "-p",
            &sshd.port.to_string(),
            "-l",
            "root",
            "-M",
            "-N",
            "-o",
            &cm_opt,
        ])
        .arg("127.0.0.1")
        .spawn()
        .expect("master");
    assert!(wait_for(Duration::from_secs(10), || cm.exists()));
    let muxed = plain(&["-o", &cm_opt]);
    let _ = master.kill();
    let _ = master.wait();
    println!(
        "ssh backend: open {:.0} ms; per command (copy there, run `true`, copy back) {:.1} ms; \
         plain `ssh host true` {:.1} ms (new connection), {:.1} ms (over a ControlMaster)",
        open_time.as_secs_f64() * 1e3,
        per_command.as_secs_f64() * 1e3,
        full.as_secs_f64() * 1e3,
        muxed.as_secs_f64() * 1e3
    );
}
