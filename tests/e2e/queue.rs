//! Runs past one machine: `runtask submit|status|wait|worker` on a real
//! nats-server (JetStream) and a real PostgreSQL, started by the tests.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use taskhost::testing::services::{Nats, NatsCluster, Postgres};

use crate::{Env, HOSTILE};

/// A queue of its own: PostgreSQL database, nats-server, plugin dir.
struct Cluster {
    env: Env,
    postgres: Postgres,
    db: String,
    nats: Servers,
    plugins: PathBuf,
    workers: Vec<(Child, PathBuf)>,
}

/// One nats-server, or three in a cluster.
enum Servers {
    One(Nats),
    Three(NatsCluster),
}

impl Servers {
    fn url(&self) -> String {
        match self {
            Servers::One(n) => n.url(),
            Servers::Three(c) => c.url(),
        }
    }

    fn replicas(&self) -> usize {
        match self {
            Servers::One(_) => 1,
            Servers::Three(_) => 3,
        }
    }
}

impl Cluster {
    fn new() -> Cluster {
        Cluster::with(Servers::One(Nats::start().expect("nats-server")))
    }

    fn with(nats: Servers) -> Cluster {
        let env = Env::new();
        let postgres = Postgres::start().expect("PostgreSQL");
        let db = postgres.database("queue").expect("database");
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
                 exec = [\"echo hello *\", \"cat **\", \"sleep *\", \"sh -c *\"]\nenv = [\"HOSTILE_VAR\"]\n\
                 submit = [\"hostile\"]\n"
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
            .env("TASKHOST_NATS", self.nats.url())
            .env("TASKHOST_REPLICAS", self.nats.replicas().to_string());
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

    /// Waits until every worker started so far is taking runs.
    fn all_started(&self) {
        let start = Instant::now();
        while (0..self.workers.len()).any(|n| !self.log(n).contains("worker started")) {
            assert!(start.elapsed() < Duration::from_secs(60), "{}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
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

/// Artifacts of unfinished attempts.
fn pending(db: &str) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(db, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let row = client
            .query_one(
                "SELECT count(*) FROM artifacts WHERE pending IS NOT NULL",
                &[],
            )
            .await
            .unwrap();
        usize::try_from(row.get::<_, i64>(0)).unwrap()
    })
}

fn uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[test]
fn a_submitted_run_is_run_once_and_read_back_like_a_local_one() {
    let mut c = Cluster::new();
    c.worker(&[]);
    // The same run id twice: one run.
    let id = c.submit(
        r#"{"action": "exec", "argv": ["echo", "hello", "queue"]}"#,
        Some("once-1"),
    );
    assert_eq!(id, "once-1");
    assert_eq!(
        c.submit(
            r#"{"action": "exec", "argv": ["echo", "hello", "queue"]}"#,
            Some("once-1")
        ),
        "once-1"
    );
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
    let audit = c.run(&["audit", "once-1"]);
    audit.expect(0);
    assert!(
        audit.stdout.contains(r#"["echo","hello","queue"]"#),
        "{}",
        audit.stdout
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.starts("once-1"), 1, "{}", c.logs());

    // `runtask run` on the shared store: another machine (another cache)
    // reads its audit log.
    let data = c.env.write(
        "echo.json",
        r#"{"action": "exec", "argv": ["echo", "hello", "audit"]}"#,
    );
    let policy = c.env.path("policy.toml");
    let ran = crate::Ran::from(
        c.cmd(&[
            "run",
            "hostile",
            "--plugin-dir",
            c.plugins.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap(),
    );
    ran.expect(0);
    let run_id = serde_json::from_str::<serde_json::Value>(&ran.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let elsewhere = crate::Ran::from(
        c.cmd(&["audit", &run_id])
            .env("XDG_CACHE_HOME", c.env.path("other-machine"))
            .output()
            .unwrap(),
    );
    elsewhere.expect(0);
    assert!(
        elsewhere.stdout.contains(r#"["echo","hello","audit"]"#),
        "{}",
        elsewhere.stdout
    );
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
    // A queued run's task_data cannot name the worker's files.
    let secret = c.env.write("secret.txt", "the worker's own file\n");
    let id = c.submit(
        &serde_json::json!({"action": "input", "artifact": secret.to_str().unwrap()}).to_string(),
        None,
    );
    let s = c.until(&id, "finished", Duration::from_secs(60));
    assert!(
        s["error"]
            .as_str()
            .unwrap_or("")
            .contains("cannot import files from the machine"),
        "{s}"
    );
    // Runs nobody submitted.
    c.run(&["wait", "never-submitted"]).expect(2);
    c.run(&["status", "never-submitted"]).expect(2);
    // Paths are not task names.
    c.run(&["submit", "/tmp/x.wasm", "--data", file.to_str().unwrap()])
        .expect(2);
}

#[test]
fn a_killed_worker_s_run_is_redelivered_and_finished_once() {
    let mut c = Cluster::new();
    let first = c.worker(&["--ack-wait", "3"]);
    // It makes an artifact, then sleeps: killed there, it leaves one.
    let id = c.submit(
        r#"{"action": "create", "category": "test:hostile", "file": "f", "content": "x",
            "after": ["sleep", "4"]}"#,
        Some("killed-1"),
    );
    c.until(&id, "running", Duration::from_secs(60));
    // Killed once the artifact exists (pending, seen by nobody).
    let start = Instant::now();
    while pending(&c.db) == 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", c.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    c.kill(first);
    c.worker(&["--ack-wait", "3"]);
    let s = c.until(&id, "finished", Duration::from_secs(90));
    assert_eq!(s["status"], "success", "{s}\n{}", c.logs());
    assert_eq!(s["attempt"], 2, "{s}");
    assert_eq!(c.starts(&id), 2, "{}", c.logs());
    // The second attempt's artifact and log only: the first attempt's
    // artifact was never visible, and stays pending.
    let list = c.run(&["artifact", "list", "--json"]);
    let all: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).unwrap();
    let categories: Vec<&str> = all
        .iter()
        .filter(|a| a["created_by"] == id.as_str())
        .map(|a| a["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        categories,
        ["test:hostile", "debusine:work-request-debug-logs"],
        "{all:?}"
    );
    assert_eq!(pending(&c.db), 1);
    // Until a gc: the run is finished, so that attempt will never commit.
    let gc = c.run(&["artifact", "gc"]);
    gc.expect(0);
    assert!(
        gc.stdout
            .contains("removed 1 artifact(s) of abandoned run attempts"),
        "{}",
        gc.stdout
    );
    assert_eq!(pending(&c.db), 0);
    c.run(&["artifact", "verify"]).expect(2);
}

/// The shared store and queue of `c`, opened in the test itself.
fn queue_of(c: &Cluster) -> taskhost::queue::Queue {
    let store = taskhost::store::SharedStore::connect(&taskhost::store::SharedConfig {
        postgres: c.db.clone(),
        nats: c.nats.url(),
        replicas: c.nats.replicas(),
        cache: c.env.path("test-cache"),
    })
    .unwrap();
    taskhost::queue::Queue::open(
        &store,
        taskhost::queue::QueueConfig {
            replicas: c.nats.replicas(),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn two_hundred_runs_on_four_workers_each_run_exactly_once() {
    let mut c = Cluster::new();
    for _ in 0..4 {
        c.worker(&[]);
    }
    c.all_started();
    let queue = queue_of(&c);
    let ids: Vec<String> = (0..200).map(|i| format!("many-{i}")).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for id in &ids {
            let request = taskhost::queue::RunRequest {
                id: id.clone(),
                task: "hostile".into(),
                task_data: serde_json::json!({"action": "noop"}),
                parent: None,
                tag: "default".into(),
                depth: 0,
                formula: None,
            };
            queue.submit(&request).await.unwrap();
            // Submitted twice: still one run.
            if id.ends_with('7') {
                queue.submit(&request).await.unwrap();
            }
        }
        for id in &ids {
            let s = tokio::time::timeout(
                Duration::from_secs(600),
                queue.wait(id, Duration::from_millis(100)),
            )
            .await
            .unwrap_or_else(|_| panic!("{id} did not finish\n{}", c.logs()))
            .unwrap();
            assert_eq!(s.status.as_deref(), Some("success"), "{id}: {s:?}");
            assert_eq!(s.attempt, 1, "{id}: {s:?}");
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let logs: Vec<String> = (0..4).map(|n| c.log(n)).collect();
    let started: Vec<usize> = logs
        .iter()
        .map(|l| l.lines().filter(|l| l.contains("run started")).count())
        .collect();
    assert_eq!(started.iter().sum::<usize>(), 200, "{started:?}");
    // Every worker took a share.
    assert!(started.iter().all(|&n| n > 0), "{started:?}");
    for id in &ids {
        assert_eq!(c.starts(&format!("run={id} ")), 1, "{id}");
    }
}

#[test]
fn a_run_whose_worker_dies_at_every_delivery_ends_dead_lettered() {
    let mut c = Cluster::new();
    let args = ["--ack-wait", "2", "--max-deliver", "2"];
    let id = c.submit(
        r#"{"action": "exec", "argv": ["sleep", "60"]}"#,
        Some("poison-1"),
    );
    for attempt in 1..=2 {
        let w = c.worker(&args);
        let start = Instant::now();
        while c.status(&id)["attempt"] != attempt {
            assert!(start.elapsed() < Duration::from_secs(60), "{}", c.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
        c.kill(w);
    }
    // No third delivery: JetStream's advisory puts it in the dead-letter
    // stream, and a worker started now does not take it.
    c.worker(&args);
    let s = c.until(&id, "dead", Duration::from_secs(60));
    assert!(
        s["error"].as_str().unwrap_or("").contains("2 deliveries"),
        "{s}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(c.starts(&id), 2, "{}", c.logs());
    let waited = c.run(&["wait", &id]);
    waited.expect(1);
    assert!(waited.stderr.contains("dead-lettered"), "{}", waited.stderr);
}

#[test]
fn sigterm_drains_a_worker() {
    let mut c = Cluster::new();
    let w = c.worker(&[]);
    let id = c.submit(r#"{"action": "exec", "argv": ["sleep", "3"]}"#, None);
    c.until(&id, "running", Duration::from_secs(60));
    let queued = c.submit(r#"{"action": "noop"}"#, None);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(c.workers[w].0.id() as i32, libc::SIGTERM) };
    let status = c.workers[w].0.wait().unwrap();
    assert!(status.success(), "{status:?}\n{}", c.logs());
    // The current run finished; the queued one waits for another worker.
    assert_eq!(c.status(&id)["state"], "finished");
    assert_eq!(c.status(&queued)["state"], "queued");
    c.worker(&[]);
    c.until(&queued, "finished", Duration::from_secs(60));
}

#[test]
fn child_runs_go_through_the_queue_and_one_slot_runs_parent_and_children() {
    let mut c = Cluster::new();
    c.worker(&["--concurrency", "1"]);
    let id = c.submit(
        r#"{"action": "submit", "task": "hostile", "data": {"action": "noop"}, "count": 2,
            "force": true}"#,
        Some("parent-1"),
    );
    let s = c.until(&id, "finished", Duration::from_secs(120));
    assert_eq!(s["status"], "success", "{s}\n{}", c.logs());
    let waited = c.run(&["wait", &id, "--format", "json"]);
    waited.expect(0);
    // Each child ran once, as a queued run with its parent.
    assert!(
        waited
            .stdout
            .contains(r#"new; new; Success 0 \"\"; Success 0 \"\""#),
        "{}",
        waited.stdout
    );
    let children: Vec<String> = c
        .log(0)
        .lines()
        .filter(|l| l.contains("run started") && !l.contains(&id))
        .map(String::from)
        .collect();
    assert_eq!(children.len(), 2, "{}", c.logs());
}

/// The server name of the runs stream's leader.
fn runs_leader(queue: &taskhost::queue::Queue) -> String {
    let nats = queue.store().nats().clone();
    queue
        .store()
        .block(async move {
            let js = async_nats::jetstream::new(nats);
            let mut stream = js.get_stream(taskhost::queue::RUNS).await.unwrap();
            let info = stream.info().await.unwrap();
            info.cluster
                .clone()
                .and_then(|c| c.leader)
                .unwrap_or_default()
        })
        .unwrap()
}

#[test]
fn work_goes_on_after_the_jetstream_leader_is_killed() {
    let cluster = NatsCluster::start(3).expect("three nats-servers");
    let mut c = Cluster::with(Servers::Three(cluster));
    for _ in 0..2 {
        c.worker(&["--concurrency", "2"]);
    }
    c.all_started();
    let queue = queue_of(&c);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ids: Vec<String> = (0..60).map(|i| format!("ha-{i}")).collect();
    let submit = |id: &String| {
        let request = taskhost::queue::RunRequest {
            id: id.clone(),
            task: "hostile".into(),
            task_data: serde_json::json!({"action": "noop"}),
            parent: None,
            tag: "default".into(),
            depth: 0,
            formula: None,
        };
        rt.block_on(queue.submit(&request)).unwrap();
    };
    for id in &ids[..30] {
        submit(id);
    }
    // Kill the leader of the runs stream mid-stream.
    let leader = runs_leader(&queue);
    let Servers::Three(cluster) = &mut c.nats else {
        unreachable!()
    };
    let n: usize = leader.trim_start_matches('n').parse().expect("a node name");
    cluster.nodes[n].kill();
    for id in &ids[30..] {
        submit(id);
    }
    rt.block_on(async {
        for id in &ids {
            let s = tokio::time::timeout(
                Duration::from_secs(300),
                queue.wait(id, Duration::from_millis(100)),
            )
            .await
            .unwrap_or_else(|_| panic!("{id} did not finish\n{}", c.logs()))
            .unwrap();
            assert_eq!(s.status.as_deref(), Some("success"), "{id}: {s:?}");
        }
    });
    assert_ne!(runs_leader(&queue), leader, "a new leader was elected");
    for id in &ids {
        assert_eq!(c.starts(&format!("run={id} ")), 1, "{id}\n{}", c.logs());
    }
}

#[test]
fn a_worker_serves_prometheus_metrics_and_logs_json() {
    let mut c = Cluster::new();
    let port = taskhost::testing::services::free_port().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let w = c.worker(&["--metrics", &addr, "--log-json"]);
    let ok = c.submit(r#"{"action": "noop"}"#, None);
    let bad = c.submit(r#"{"action": "nope"}"#, None);
    c.until(&ok, "finished", Duration::from_secs(60));
    c.until(&bad, "finished", Duration::from_secs(60));
    let metrics = http_get(&addr, "/metrics");
    for line in [
        "taskhost_runs_started_total 2",
        "taskhost_runs_succeeded_total 1",
        "taskhost_runs_failed_total 1",
        "taskhost_runs_redelivered_total 0",
        "taskhost_run_duration_seconds_count 2",
        "# TYPE taskhost_queue_depth gauge",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
    assert!(http_get(&addr, "/").starts_with("HTTP/1.1 404"));
    // Every log line is a JSON object.
    let log = c.log(w);
    let mut started = 0;
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        if v["fields"]["message"] == "run started" {
            started += 1;
            assert_eq!(v["level"], "INFO", "{v}");
        }
    }
    assert_eq!(started, 2, "{log}");
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn a_run_that_crashes_every_time_is_retried_then_dead_lettered() {
    let mut c = Cluster::new();
    // A worker whose every run crashes: its TMPDIR is a file, so no
    // workspace can be made (the machine's fault, not the run's input).
    let not_a_dir = c.env.write("not-a-dir", "");
    let n = c.workers.len();
    let log = c.env.path(&format!("worker-{n}.log"));
    let plugins = c.plugins.to_str().unwrap().to_owned();
    let policy = c.env.path("policy.toml");
    let child = c
        .cmd(&[
            "worker",
            "--name",
            "broken",
            "--plugin-dir",
            &plugins,
            "--policy",
            policy.to_str().unwrap(),
            "--max-deliver",
            "2",
        ])
        .env("TMPDIR", &not_a_dir)
        .env("RUNTASK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    c.workers.push((child, log));
    let id = c.submit(r#"{"action": "noop"}"#, None);
    let s = c.until(&id, "dead", Duration::from_secs(60));
    assert_eq!(s["attempt"], 2, "{s}");
    assert!(
        s["error"].as_str().unwrap_or("").contains("workspace"),
        "{s}"
    );
    // It is in the dead-letter stream, as the worker wrote it.
    let queue = queue_of(&c);
    let nats = queue.store().nats().clone();
    let letter = queue
        .store()
        .block(async move {
            let js = async_nats::jetstream::new(nats);
            let stream = js.get_stream(taskhost::queue::DEAD).await.unwrap();
            stream
                .get_last_raw_message_by_subject(&format!("taskhost.dead.{id}"))
                .await
                .unwrap()
                .payload
        })
        .unwrap();
    let letter: serde_json::Value = serde_json::from_slice(&letter).unwrap();
    assert_eq!(letter["deliveries"], 2, "{letter}");
}

#[test]
fn a_crafted_message_is_terminated_before_its_id_reaches_a_path() {
    let mut c = Cluster::new();
    let w = c.worker(&[]);
    let queue = queue_of(&c);
    let nats = queue.store().nats().clone();
    // Published straight to the stream, past `runtask submit`'s checks.
    queue
        .store()
        .block(async move {
            let js = async_nats::jetstream::new(nats);
            for body in [
                r#"{"id": "../../escape", "task": "hostile", "task_data": {"action": "noop"}}"#,
                r#"{"id": "ok-id", "task": "../hostile", "task_data": {}}"#,
                "not json",
            ] {
                js.publish("taskhost.runs.default.hostile", body.into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
        })
        .unwrap();
    let start = Instant::now();
    while c.log(w).matches("not a valid run request").count() < 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", c.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!c.log(w).contains("run started"), "{}", c.logs());
    // Terminated: not delivered again, and nothing was recorded.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(c.log(w).matches("not a valid run request").count(), 3);
    assert_eq!(c.run(&["status", "ok-id"]).code, 2);
}

#[test]
fn a_run_longer_than_ack_wait_is_kept_alive_by_progress_acks() {
    let mut c = Cluster::new();
    c.worker(&["--ack-wait", "2"]);
    c.worker(&["--ack-wait", "2"]);
    // Three AckWaits long: without +WPI it would go to the other worker.
    let id = c.submit(r#"{"action": "exec", "argv": ["sleep", "6"]}"#, None);
    let s = c.until(&id, "finished", Duration::from_secs(60));
    assert_eq!(
        (s["status"].as_str(), s["attempt"].as_i64()),
        (Some("success"), Some(1)),
        "{s}"
    );
    assert_eq!(c.starts(&id), 1, "{}", c.logs());
}

#[test]
fn a_draining_worker_hands_back_what_does_not_finish_in_time() {
    let mut c = Cluster::new();
    let w = c.worker(&["--drain", "1"]);
    let id = c.submit(r#"{"action": "exec", "argv": ["sleep", "30"]}"#, None);
    c.until(&id, "running", Duration::from_secs(60));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(c.workers[w].0.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    let status = c.workers[w].0.wait().unwrap();
    assert!(status.success(), "{status:?}\n{}", c.logs());
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(
        c.log(w).contains("handed back to the queue"),
        "{}",
        c.logs()
    );
    // Another worker takes it at once (a nak, not an AckWait of 60 s
    // later).
    c.worker(&[]);
    let start = Instant::now();
    while c.status(&id)["attempt"] != 2 {
        assert!(start.elapsed() < Duration::from_secs(20), "{}", c.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_submitted_formula_runs_on_a_worker_with_its_directory_and_keeps_its_artifacts() {
    let mut c = Cluster::new();
    let policy = c.env.path("policy.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str(
        "\n[plugins.shell]\nbackends = [\"local\"]\nexec = [\"cp extra.txt artifacts/copy.txt\"]\n",
    );
    std::fs::write(&policy, text).unwrap();
    c.worker(&[]);
    c.env
        .write("ftask/extra.txt", "travelled with the formula\n");
    let formula = c.env.write(
        "ftask/runtask.yml",
        "name: queued-check\nactions:\n  - name: copy\n    shell:\n      - cp extra.txt artifacts/copy.txt\n  \
         - name: hi\n    dummy:\n      result: PASS\n      msg: hello ${koji_build}\n",
    );
    let ran = c.run(&[
        "submit",
        "-i",
        "xchat-0.5-1.fc20",
        "-t",
        "koji_build",
        formula.to_str().unwrap(),
    ]);
    ran.expect(0);
    let id = ran.stdout.trim().to_owned();
    let waited = c.run(&["wait", &id, "--format", "json"]);
    waited.expect(0);
    let s = c.status(&id);
    assert_eq!(
        (s["task"].as_str(), s["status"].as_str()),
        (Some("queued-check"), Some("success")),
        "{s}"
    );
    // The formula's artifacts/ is an artifact of the shared store.
    let list = c.run(&["artifact", "list", "--json"]);
    let all: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).unwrap();
    let kept = all
        .iter()
        .find(|a| a["category"] == "taskhost:formula-artifacts" && a["created_by"] == id.as_str())
        .unwrap_or_else(|| panic!("{all:?}\n{}", c.logs()));
    let out = c.env.path("exported");
    c.run(&[
        "artifact",
        "export",
        &kept["id"].to_string(),
        out.to_str().unwrap(),
    ])
    .expect(0);
    assert_eq!(
        std::fs::read_to_string(out.join("copy.txt")).unwrap(),
        "travelled with the formula\n"
    );
    // A bad formula is refused before anything is queued.
    let bad = c
        .env
        .write("ftask2/runtask.yml", "name: x\nactions: nope\n");
    c.run(&[
        "submit",
        "-i",
        "x",
        "-t",
        "koji_build",
        bad.to_str().unwrap(),
    ])
    .expect(2);
}
