//! Runs per second through the JetStream queue with 1, 2 and 4 workers,
//! and one small real lintian run through the queue against `runtask
//! run` on a local store (docs/performance.md, "Past one machine (issue
//! 16)").
//!
//!     cargo build --profile bench -p taskhost --bin runtask --examples
//!     target/release/examples/queue_throughput [RUNS_PER_WORKER]   # default 8
//!
//! Starts its own PostgreSQL (initdb in a temporary directory) and
//! nats-server with JetStream. Each worker is a `runtask worker
//! --concurrency 1` process. For N in 1, 2, 4: N workers on a tag of
//! their own, `RUNS_PER_WORKER × N` runs of the hostile test plugin
//! sleeping 1 s (`sleep 1` through the process capability) submitted at
//! once; the time is from the first submit until the last run is
//! recorded finished. Ideal: N runs per second.
//!
//! Then lintian on a package built like the e2e tests' (3.0 native, an
//! `any` and an `all` binary), its three files imported first: the
//! submit-to-finished time of one queued run on one idle worker, against
//! `runtask run lintian` on a local store, alternating, 3 rounds each.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use taskhost::queue::{Queue, QueueConfig, RunRequest};
use taskhost::store::{SharedConfig, SharedStore};
use taskhost::testing::services::{Nats, Postgres};

#[allow(dead_code)]
#[path = "../../tests/e2e/pkg.rs"]
mod pkg;

/// What `tests/e2e/pkg.rs` needs of the e2e tests' `Env`.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

const HOSTILE: &str = env!("TASKHOST_TEST_PLUGIN_HOSTILE");

fn runtask_path() -> PathBuf {
    std::env::var_os("RUNTASK")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("runtask")
        })
}

struct Setup {
    runtask: PathBuf,
    dir: PathBuf,
    db: String,
    nats: String,
    plugins: PathBuf,
    policy: PathBuf,
}

impl Setup {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.runtask);
        cmd.args(args)
            .env("TASKHOST_STORE", &self.db)
            .env("TASKHOST_NATS", &self.nats)
            .env("XDG_CACHE_HOME", self.dir.join("cache"))
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("TMPDIR", self.dir.join("tmp"))
            .env_remove("RUNTASK_LOG")
            .stdin(Stdio::null());
        cmd
    }

    fn worker(&self, tag: &str, n: usize) -> Child {
        let log = std::fs::File::create(self.dir.join(format!("worker-{tag}-{n}.log"))).unwrap();
        self.cmd(&[
            "worker",
            "--tag",
            tag,
            "--name",
            &format!("{tag}-{n}"),
            "--plugin-dir",
            self.plugins.to_str().unwrap(),
            "--policy",
            self.policy.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
    }
}

fn submit_and_wait(
    rt: &tokio::runtime::Runtime,
    queue: &Queue,
    requests: &[RunRequest],
) -> Duration {
    let start = Instant::now();
    rt.block_on(async {
        for r in requests {
            queue.submit(r).await.unwrap();
        }
        for r in requests {
            let s = queue.wait(&r.id, Duration::from_millis(20)).await.unwrap();
            assert_eq!(s.status.as_deref(), Some("success"), "{s:?}");
        }
    });
    start.elapsed()
}

fn main() {
    let per_worker: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("RUNS_PER_WORKER: a number"))
        .unwrap_or(8);
    let runtask = runtask_path();
    assert!(
        runtask.exists(),
        "no {}: build it or set RUNTASK",
        runtask.display()
    );
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    let dir = env.dir.path().to_path_buf();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let postgres = Postgres::start().expect("PostgreSQL");
    let db = postgres.database("bench").unwrap();
    let nats = Nats::start().expect("nats-server");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(HOSTILE, plugins.join("hostile.wasm")).unwrap();
    let digest = taskhost::manifest::digest(&std::fs::read(HOSTILE).unwrap());
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[plugins.hostile]\nsha256 = [\"{digest}\"]\nbackends = [\"local\"]\n\
             exec = [\"echo hello *\", \"cat **\", \"sleep *\", \"sh -c *\"]\nenv = [\"HOSTILE_VAR\"]\n\n\
             [plugins.lintian]\nbackends = [\"local\"]\nlookups = [\"debian/match:*\"]\nexec = [\n\
             \"lintian --no-cfg --display-level >=classification --display-experimental --info --show-overrides **\",\n\
             \"dpkg-query -W -f=${{Version}} lintian\",\n]\n"
        ),
    )
    .unwrap();
    let setup = Setup {
        runtask,
        dir: dir.clone(),
        db: db.clone(),
        nats: nats.url(),
        plugins,
        policy,
    };
    let store = SharedStore::connect(&SharedConfig {
        postgres: db,
        nats: nats.url(),
        replicas: 1,
        cache: dir.join("bench-cache"),
    })
    .unwrap();
    let queue = Queue::open(&store, QueueConfig::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    println!("| workers | runs | seconds | runs/s | of ideal |");
    println!("|---|---|---|---|---|");
    for workers in [1usize, 2, 4] {
        let tag = format!("w{workers}");
        let mut children: Vec<Child> = (0..workers).map(|n| setup.worker(&tag, n)).collect();
        // Warm-up: every worker has compiled the plugin and connected.
        let warm: Vec<RunRequest> = (0..workers * 2)
            .map(|i| {
                request(
                    &format!("warm-{tag}-{i}"),
                    &tag,
                    serde_json::json!({"action": "noop"}),
                )
            })
            .collect();
        submit_and_wait(&rt, &queue, &warm);
        let runs = per_worker * workers;
        let requests: Vec<RunRequest> = (0..runs)
            .map(|i| {
                request(
                    &format!("sleep-{tag}-{i}"),
                    &tag,
                    serde_json::json!({"action": "exec", "argv": ["sleep", "1"]}),
                )
            })
            .collect();
        let took = submit_and_wait(&rt, &queue, &requests);
        let rate = runs as f64 / took.as_secs_f64();
        println!(
            "| {workers} | {runs} | {:.2} | {rate:.3} | {:.1} % |",
            took.as_secs_f64(),
            100.0 * rate / workers as f64
        );
        for c in &mut children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    lintian(&setup, &env, &queue, &rt);
}

fn request(id: &str, tag: &str, task_data: serde_json::Value) -> RunRequest {
    RunRequest {
        id: id.into(),
        task: "hostile".into(),
        task_data,
        parent: None,
        tag: tag.into(),
        depth: 0,
        formula: None,
    }
}

fn lintian(setup: &Setup, env: &Env, queue: &Queue, rt: &tokio::runtime::Runtime) {
    eprintln!("building the package with dpkg-buildpackage ...");
    let built = pkg::Package::new("lt-queue")
        .binary("lt-queue-data", "all")
        .build(env, true);
    let files: Vec<PathBuf> = std::iter::once(built.dsc.clone().unwrap())
        .chain(built.debs.iter().cloned())
        .collect();
    // The shared store's copies, and a local store's.
    let import = |store: Option<&Path>, file: &Path, category: &str| -> String {
        let mut cmd = setup.cmd(&[
            "artifact",
            "import",
            file.to_str().unwrap(),
            "--category",
            category,
        ]);
        if let Some(dir) = store {
            cmd.env("TASKHOST_STORE", dir);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let local = setup.dir.join("local-store");
    let data = |store: Option<&Path>| {
        let src = import(store, &files[0], "debian:source-package");
        let bins: Vec<String> = files[1..]
            .iter()
            .map(|f| import(store, f, "debian:binary-package"))
            .collect();
        serde_json::json!({
            "input": {"source_artifact_id": src.parse::<u64>().unwrap(),
                      "binary_artifacts_ids": bins.iter().map(|b| b.parse::<u64>().unwrap()).collect::<Vec<_>>()},
            "backend": "local",
        })
    };
    let shared_data = data(None);
    let local_data = data(Some(&local));
    let local_file = setup.dir.join("lintian.json");
    std::fs::write(&local_file, local_data.to_string()).unwrap();

    let mut worker = setup.worker("lintian", 0);
    let mut queued = Vec::new();
    let mut direct = Vec::new();
    for round in 0..4 {
        let request = RunRequest {
            id: format!("lintian-{round}"),
            task: "lintian".into(),
            task_data: shared_data.clone(),
            parent: None,
            tag: "lintian".into(),
            depth: 0,
            formula: None,
        };
        let q = submit_and_wait(rt, queue, std::slice::from_ref(&request));
        let start = Instant::now();
        let out = setup
            .cmd(&[
                "run",
                "lintian",
                "--data",
                local_file.to_str().unwrap(),
                "--policy",
            ])
            .arg(&setup.policy)
            .env("TASKHOST_STORE", &local)
            .output()
            .unwrap();
        let d = start.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Round 0 warms both up (compile cache, page cache).
        if round > 0 {
            queued.push(q);
            direct.push(d);
        }
    }
    let _ = worker.kill();
    let _ = worker.wait();
    queued.sort();
    direct.sort();
    let (q, d) = (queued[queued.len() / 2], direct[direct.len() / 2]);
    println!();
    println!("| lintian on lt-queue (dsc + 2 debs) | median of 3 |");
    println!("|---|---|");
    println!(
        "| queued: submit → finished, 1 idle worker | {} ms |",
        q.as_millis()
    );
    println!(
        "| `runtask run lintian`, local store | {} ms |",
        d.as_millis()
    );
    println!(
        "| queued − local | {} ms |",
        q.as_millis() as i64 - d.as_millis() as i64
    );
}
