//! `runtask run lintian` against plain `lintian` with the same options on
//! the same package, alternating, in one process (docs/performance.md,
//! "lintian (issue 3)" and "Host overhead around a lintian run (issue 9)").
//!
//!     cargo build --profile bench -p taskhost --bin runtask --examples
//!     target/release/examples/lintian_overhead [ROUNDS]     # default 3
//!
//! Builds a real package like the e2e tests (`tests/e2e/pkg.rs`, included
//! by `#[path]`): source `lt-bench` (3.0 native) with an `any` and an `all`
//! binary. Each round runs, in an order that flips every round (ABBA):
//! * `runtask run lintian` with the .dsc and both .debs as inputs and the
//!   grants the plugin needs, in a store that keeps growing over the
//!   rounds (the inputs are imported on every run, as `runtask run` does
//!   for file inputs);
//! * `lintian --no-cfg --display-level '>=classification'
//!   --display-experimental --info --show-overrides DSC DEB DEB`, stdout to
//!   a file (runtask's lintian writes it to a workspace file);
//! * the version query (`dpkg-query -W -f=${Version} lintian`), which the plugin runs too.
//!
//! Wall time of each child (spawn to exit) and its CPU time with its
//! children's (`getrusage(RUSAGE_CHILDREN)` difference). `runtask` is
//! the binary next to this example's directory, or `$RUNTASK`. Everything
//! lives in a temporary directory that follows `TMPDIR`; with `KEEP=1` it
//! is kept and the two command lines are printed (for hyperfine).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

const OPTIONS: &[&str] = &[
    "--no-cfg",
    "--display-level",
    ">=classification",
    "--display-experimental",
    "--info",
    "--show-overrides",
];

/// The grants the lintian plugin declares (as in tests/e2e/lintian.rs).
const GRANTS: &[&str] = &[
    "--allow-exec",
    "lintian --no-cfg --display-level >=classification --display-experimental --info --show-overrides **",
    "--allow-exec",
    "dpkg-query -W -f=${Version} lintian",
    "--allow-backend",
    "local",
];

fn runtask_path() -> PathBuf {
    if let Some(path) = std::env::var_os("RUNTASK") {
        return path.into();
    }
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/examples/lintian_overhead → target/<profile>/runtask
    exe.parent().and_then(Path::parent).unwrap().join("runtask")
}

/// CPU time (user + system) of the waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Seconds since midnight (UTC) of a wall-clock time.
fn of_day(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64() % 86400.0
}

/// What a child took: wall and CPU time (its own and its children's), and
/// when it started and ended (UTC seconds of the day, to line up with
/// runtask's log).
struct Timed {
    wall: Duration,
    cpu: Duration,
    start: f64,
    end: f64,
}

/// Runs `cmd` to completion; panics unless it exits with one of `codes`.
fn timed(cmd: &mut Command, codes: &[i32]) -> Timed {
    let cpu = children_cpu();
    let (clock, start) = (SystemTime::now(), Instant::now());
    let status = cmd.status().unwrap();
    let wall = start.elapsed();
    let cpu = children_cpu() - cpu;
    assert!(
        status.code().is_some_and(|c| codes.contains(&c)),
        "{cmd:?}: {status}"
    );
    Timed {
        wall,
        cpu,
        start: of_day(clock),
        end: of_day(clock + wall),
    }
}

/// The UTC time of day of a `runtask -v` log line
/// (`2026-11-23T18:15:12.801463Z  INFO ...`).
fn log_time(line: &str) -> Option<f64> {
    let t = line.split_once('T')?.1.split_once('Z')?.0;
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Where a `runtask run lintian` spent its wall time, from its `-v` log:
/// the host's own steps and the two lintian commands (spawn to wait).
#[derive(Default)]
struct Breakdown {
    /// Process start to the first stage (CLI, policy, store, plugin load).
    startup: Vec<Duration>,
    /// Importing the three files into the store.
    fetch_inputs: Vec<Duration>,
    /// Dependency check, workspace, instantiate, validate.
    configure: Vec<Duration>,
    /// The run stage without the commands: fetch into the workspace,
    /// parse, analysis.json files, artifacts, results.
    run_host: Vec<Duration>,
    /// Upload of the run's log, cleanup, exit.
    finish: Vec<Duration>,
    /// Everything but the two commands.
    host: Vec<Duration>,
    version: Vec<Duration>,
    lintian: Vec<Duration>,
}

impl Breakdown {
    fn push(&mut self, t: &Timed, log: &str) {
        let stage = |name: &str| {
            log.lines()
                .find(|l| l.ends_with(&format!("stage: {name}")))
                .and_then(log_time)
                .unwrap_or_else(|| panic!("no stage {name} in the log:\n{log}"))
        };
        let mut commands = Vec::new();
        let mut running = None;
        for line in log.lines() {
            if line.contains(" process: running `") {
                running = log_time(line);
            } else if line.contains("` ended with ") {
                commands.push(log_time(line).unwrap() - running.take().unwrap());
            }
        }
        assert_eq!(commands.len(), 2, "two commands in the log:\n{log}");
        let d = |s: f64| Duration::from_secs_f64(s.max(0.0));
        let (fetch, configure, run, upload) = (
            stage("fetch-inputs"),
            stage("configure"),
            stage("run"),
            stage("upload-artifacts"),
        );
        self.startup.push(d(fetch - t.start));
        self.fetch_inputs.push(d(configure - fetch));
        self.configure.push(d(run - configure));
        self.run_host
            .push(d(upload - run - commands[0] - commands[1]));
        self.finish.push(d(t.end - upload));
        self.version.push(d(commands[0]));
        self.lintian.push(d(commands[1]));
        self.host
            .push(t.wall.saturating_sub(d(commands[0]) + d(commands[1])));
    }
}

#[derive(Default)]
struct Series {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Series {
    fn push(&mut self, t: &Timed) {
        self.wall.push(t.wall);
        self.cpu.push(t.cpu);
    }
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    let n = v.len();
    (v[(n - 1) / 2] + v[n / 2]) / 2
}

fn mean(v: &[Duration]) -> Duration {
    v.iter().sum::<Duration>() / v.len() as u32
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("ROUNDS: a number"))
        .unwrap_or(3);
    let runtask = runtask_path();
    assert!(
        runtask.exists(),
        "no {}: build it or set RUNTASK",
        runtask.display()
    );
    let keep = std::env::var_os("KEEP").is_some_and(|v| v == "1");
    let mut env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    env.dir.disable_cleanup(keep);
    let dir = env.dir.path().to_path_buf();

    eprintln!("building the package with dpkg-buildpackage ...");
    let built = pkg::Package::new("lt-bench")
        .binary("lt-bench-data", "all")
        .build(&env, true);
    let dsc = built.dsc.clone().unwrap();
    let files: Vec<String> = std::iter::once(&dsc)
        .chain(&built.debs)
        .map(|p| p.display().to_string())
        .collect();
    let data = dir.join("lintian.json");
    std::fs::write(
        &data,
        serde_json::json!({
            "input": {
                "source_artifact_id": files[0],
                "binary_artifacts_ids": &files[1..],
            },
            "backend": "local",
        })
        .to_string(),
    )
    .unwrap();
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();

    let log = dir.join("runtask.log");
    let run = || {
        let mut cmd = Command::new(&runtask);
        cmd.args(["-v", "run", "lintian", "--data"])
            .arg(&data)
            .args(GRANTS)
            .env("TASKHOST_STORE", dir.join("store"))
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("TMPDIR", &tmp)
            .env_remove("RUNTASK_LOG")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        cmd
    };
    let out = dir.join("lintian.txt");
    let plain = || {
        let mut cmd = Command::new("lintian");
        cmd.args(OPTIONS)
            .args(&files)
            .env("TMPDIR", &tmp)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null());
        cmd
    };
    let version = || {
        let mut cmd = Command::new("lintian");
        cmd.arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };

    // Warm-up: fills the compile cache, checks that both succeed, and
    // brings lintian's files into the page cache.
    let check = run()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "runtask failed:\n{}\n{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // lintian exits 2 when it finds errors (this package has some).
    timed(&mut plain(), &[0, 1, 2]);
    eprintln!(
        "lintian {} on {} ({} bytes of output); runtask {}",
        String::from_utf8_lossy(
            &Command::new("lintian")
                .arg("--version")
                .output()
                .unwrap()
                .stdout
        )
        .trim(),
        files
            .iter()
            .map(|f| f.rsplit('/').next().unwrap())
            .collect::<Vec<_>>()
            .join(" "),
        std::fs::metadata(&out).unwrap().len(),
        runtask.display()
    );

    if keep {
        let quote = |s: &str| format!("'{s}'");
        eprintln!(
            "kept {d}; from there, with TMPDIR={d}/tmp:\n  TASKHOST_STORE={d}/store XDG_CACHE_HOME={d}/cache \
             XDG_CONFIG_HOME={d}/config XDG_DATA_HOME={d}/data {} run lintian --data {d}/lintian.json {}\n  \
             lintian {} {} > lintian.txt",
            runtask.display(),
            GRANTS
                .iter()
                .map(|g| quote(g))
                .collect::<Vec<_>>()
                .join(" "),
            OPTIONS
                .iter()
                .map(|o| quote(o))
                .collect::<Vec<_>>()
                .join(" "),
            files.join(" "),
            d = dir.display(),
        );
    }

    let (mut host, mut bare, mut ver) = (Series::default(), Series::default(), Series::default());
    let mut steps = Breakdown::default();
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let (r, l);
        if round % 2 == 0 {
            l = timed(&mut plain(), &[0, 1, 2]);
            r = timed(&mut run(), &[0]);
        } else {
            r = timed(&mut run(), &[0]);
            l = timed(&mut plain(), &[0, 1, 2]);
        }
        let v = timed(&mut version(), &[0]);
        steps.push(&r, &std::fs::read_to_string(&log).unwrap());
        let ratio = r.wall.as_secs_f64() / l.wall.as_secs_f64();
        println!(
            "round {round:>2}: runtask {} (cpu {}), lintian {} (cpu {}), ratio {ratio:.4}; \
             in runtask: host {}, version query {}, lintian {}",
            ms(r.wall),
            ms(r.cpu),
            ms(l.wall),
            ms(l.cpu),
            ms(steps.host[round]),
            ms(steps.version[round]),
            ms(steps.lintian[round]),
        );
        ratios.push(ratio);
        host.push(&r);
        bare.push(&l);
        ver.push(&v);
    }

    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let mid = (ratios[(n - 1) / 2] + ratios[n / 2]) / 2.0;
    println!("\n{rounds} rounds, median (mean) [min]:");
    for (name, s) in [
        ("runtask run lintian", &host),
        ("lintian", &bare),
        ("lintian --version", &ver),
    ] {
        println!(
            "  {name:<20} wall {} ({}) [{}]   cpu {} ({})",
            ms(median(&s.wall)),
            ms(mean(&s.wall)),
            ms(*s.wall.iter().min().unwrap()),
            ms(median(&s.cpu)),
            ms(mean(&s.cpu)),
        );
    }
    let lintian = median(&bare.wall).as_secs_f64();
    println!(
        "  ratio: median of per-round ratios {mid:.4} (range {:.4}–{:.4}); of medians {:.4} (cpu {:.4})",
        ratios[0],
        ratios[n - 1],
        median(&host.wall).as_secs_f64() / lintian,
        median(&host.cpu).as_secs_f64() / median(&bare.cpu).as_secs_f64(),
    );
    println!("\nInside runtask (its -v log), median (mean):");
    for (name, v) in [
        ("startup", &steps.startup),
        ("fetch-inputs", &steps.fetch_inputs),
        ("configure", &steps.configure),
        ("run (host, plugin)", &steps.run_host),
        ("upload, cleanup, exit", &steps.finish),
        ("host, all of it", &steps.host),
        ("version query (dpkg-query)", &steps.version),
        ("lintian", &steps.lintian),
    ] {
        println!("  {name:<22} {} ({})", ms(median(v)), ms(mean(v)));
    }
    let host_share = median(&steps.host).as_secs_f64() / lintian;
    let version_share = median(&steps.version).as_secs_f64() / lintian;
    println!(
        "  against plain lintian's median: host {:.2} %, version query {:.1} %; \
         expected ratio {:.4} (host only {:.4})",
        host_share * 100.0,
        version_share * 100.0,
        1.0 + host_share + version_share,
        1.0 + host_share,
    );
}
