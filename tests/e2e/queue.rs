//! Runs past one machine: `runtask submit|status|wait|worker` on a real
//! nats-server (JetStream) and a real PostgreSQL, started by the tests.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use taskhost::testing::services::{Nats, Postgres};

use crate::{Env, HOSTILE};

/// A queue of its own: PostgreSQL database, nats-server, plugin dir.
struct Cluster {
    env: Env,
    postgres: Postgres,
    db: String,
    nats: Nats,
    plugins: PathBuf,
    workers: Vec<(Child, PathBuf)>,
}

impl Cluster {
    fn new() -> Cluster {
        let env = Env::new();
        let postgres = Postgres::start().expect("PostgreSQL");
        let db = postgres.database("queue").expect("database");
        let nats = Nats::start().expect("nats-server");
        // Workers find tasks by name, never by path.
        let plugins = env.path("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::copy(HOSTILE, plugins.join("hostile.wasm")).unwrap();
        // The workers' operator trusts it, for sleeping.
        let digest = taskhost::manifest::digest(&std::fs::read(HOSTILE).unwrap());
        env.write(
            "policy.toml",
            &format!(
                "[plugins.hostile]\nsha256 = [\"{digest}\"]\nbackends = [\"local\"]\n\
                 exec = [\"echo hello *\", \"cat **\", \"sleep *\", \"sh -c *\"]\nenv = [\"HOSTILE_VAR\"]\n"
            ),
        );
        Cluster {
            env,
            postgres,
            db,
            nats,
            plugins,
            workers: Vec::new(),
        }
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = self.env.cmd(args);
        cmd.env("TASKHOST_STORE", &self.db)
            .env("TASKHOST_NATS", self.nats.url());
        cmd
    }

    fn run(&self, args: &[&str]) -> crate::Ran {
        crate::Ran::from(self.cmd(args).output().expect("runtask"))
    }

    /// Starts a worker; its log goes to a file.
    fn worker(&mut self, extra: &[&str]) -> usize {
        let n = self.workers.len();
        let log = self.env.path(&format!("worker-{n}.log"));
        let plugins = self.plugins.to_str().unwrap().to_owned();
        let policy = self.env.path("policy.toml");
        let mut args = vec![
            "worker",
            "--name",
            "w",
            "--plugin-dir",
            &plugins,
            "--policy",
            policy.to_str().unwrap(),
        ];
        let name = format!("w{n}");
        args[2] = &name;
        args.extend_from_slice(extra);
        let child = self
            .cmd(&args)
            .env("RUNTASK_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("worker");
        self.workers.push((child, log));
        n
    }

    fn kill(&mut self, n: usize) {
        let _ = self.workers[n].0.kill();
        let _ = self.workers[n].0.wait();
    }

    fn log(&self, n: usize) -> String {
        std::fs::read_to_string(&self.workers[n].1).unwrap_or_default()
    }

    fn submit(&self, data: &str, id: Option<&str>) -> String {
        let file = self.env.write(&format!("task-{}.json", uuid()), data);
        let mut args = vec!["submit", "hostile", "--data", file.to_str().unwrap()];
        if let Some(id) = id {
            args.extend_from_slice(&["--run-id", id]);
        }
        let ran = self.run(&args);
        ran.expect(0);
        ran.stdout.trim().to_owned()
    }

    fn status(&self, id: &str) -> serde_json::Value {
        let ran = self.run(&["status", id, "--json"]);
        ran.expect(0);
        serde_json::from_str(&ran.stdout).unwrap()
    }

    /// Waits until `id`'s state is `state`.
    fn until(&self, id: &str, state: &str, timeout: Duration) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let s = self.status(id);
            if s["state"] == state {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "run {id} never became {state}: {s}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logs(&self) -> String {
        (0..self.workers.len())
            .map(|n| format!("--- worker {n}\n{}", self.log(n)))
            .collect()
    }

    /// `run started` lines for `id` in every worker's log.
    fn starts(&self, id: &str) -> usize {
        (0..self.workers.len())
            .map(|n| {
                self.log(n)
                    .lines()
                    .filter(|l| l.contains("run started") && l.contains(id))
                    .count()
            })
            .sum()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in 0..self.workers.len() {
            self.kill(n);
        }
        let _ = &self.postgres;
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[test]
fn a_submitted_run_is_run_once_and_read_back_like_a_local_one() {
    let mut c = Cluster::new();
    c.worker(&[]);
    // The same run id twice: one run.
    let id = c.submit(r#"{"action": "noop"}"#, Some("once-1"));
    assert_eq!(id, "once-1");
    assert_eq!(c.submit(r#"{"action": "noop"}"#, Some("once-1")), "once-1");
    let waited = c.run(&["wait", "once-1", "--format", "json"]);
    waited.expect(0);
    let report: serde_json::Value = serde_json::from_str(&waited.stdout).unwrap();
    assert_eq!(report["status"], "success", "{report}");
    let s = c.status("once-1");
    assert_eq!(
        (s["state"].as_str(), s["attempt"].as_i64()),
        (Some("finished"), Some(1))
    );
    // Its log artifact and audit log, from any machine.
    let artifacts = c.run(&["artifact", "list", "--json"]);
    artifacts.expect(0);
    assert!(artifacts.stdout.contains("once-1"), "{}", artifacts.stdout);
    c.run(&["audit", "once-1"]).expect(0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.starts("once-1"), 1, "{}", c.logs());
}

#[test]
fn bad_input_is_terminated_not_retried() {
    let mut c = Cluster::new();
    c.worker(&[]);
    let id = c.submit(r#"{"action": "no-such-action"}"#, None);
    let s = c.until(&id, "finished", Duration::from_secs(60));
    assert_eq!(s["status"], "error", "{s}");
    assert!(
        s["error"].as_str().unwrap_or("").contains("no-such-action"),
        "{s}"
    );
    // A task the worker does not have: refused, not retried either.
    let file = c.env.write("t.json", "{}");
    let ran = c.run(&["submit", "nosuchtask", "--data", file.to_str().unwrap()]);
    ran.expect(0);
    let s = c.until(ran.stdout.trim(), "finished", Duration::from_secs(60));
    assert_eq!(s["attempt"], 1, "{s}");
    // Paths are not task names.
    c.run(&["submit", "/tmp/x.wasm", "--data", file.to_str().unwrap()])
        .expect(2);
}

#[test]
fn a_killed_worker_s_run_is_redelivered_and_finished_once() {
    let mut c = Cluster::new();
    let first = c.worker(&["--ack-wait", "3"]);
    let id = c.submit(
        r#"{"action": "exec", "argv": ["sleep", "4"]}"#,
        Some("killed-1"),
    );
    c.until(&id, "running", Duration::from_secs(60));
    c.kill(first);
    c.worker(&["--ack-wait", "3"]);
    let s = c.until(&id, "finished", Duration::from_secs(90));
    assert_eq!(s["status"], "success", "{s}\n{}", c.logs());
    assert_eq!(s["attempt"], 2, "{s}");
    assert_eq!(c.starts(&id), 2, "{}", c.logs());
    // One log artifact, the second attempt's.
    let list = c.run(&["artifact", "list", "--json"]);
    let all: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).unwrap();
    let mine: Vec<_> = all
        .iter()
        .filter(|a| a["created_by"] == id.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{all:?}");
}
