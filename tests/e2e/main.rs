//! End-to-end tests: the real `runtask` binary against real Debian tools,
//! on packages the tests build themselves.

mod api;
mod autopkgtest;
mod bad_input;
mod blhc;
mod bodhi;
mod collections;
mod contained;
mod containment;
mod deny;
mod directives;
mod distgit;
mod examples;
mod formula;
mod http;
mod import_apt;
mod koji;
mod lifecycle;
mod lintian;
mod notifications;
mod piuparts;
mod pkg;
mod processes;
mod python;
mod python_plugin;
mod qemu;
mod queue;
mod sbuild;
mod scaffold;
mod servers;
mod simplesystemimagebuild;
mod ssh;
mod store;
mod suite_lintian;
mod taskotron;
mod tmt;
mod unshare;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The hostile test plugin (tests/plugins/hostile), built by build.rs.
pub const HOSTILE: &str = env!("TASKHOST_TEST_PLUGIN_HOSTILE");
/// A plugin stamped with API 0.3.0, a future version.
pub const WRONG_API: &str = env!("TASKHOST_TEST_PLUGIN_WRONG_API");
/// A plugin built against API 0.1.0 (wit/v0.1), without the SDK.
pub const LEGACY01: &str = env!("TASKHOST_TEST_PLUGIN_LEGACY01");

/// A scratch directory with its own store, cache and policy.
pub struct Env {
    pub dir: tempfile::TempDir,
}

/// What a runtask invocation did.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    fn from(out: Output) -> Ran {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing the output on failure.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// An Env kept in a `static` for a whole test process (which never
    /// drops it): it lives under the target dir as `NAME-*`, and a later
    /// test process removes what an earlier one left there.
    pub fn shared(name: &str) -> Env {
        let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shared");
        std::fs::create_dir_all(&parent).expect("shared dir");
        for stale in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            if stale
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}-"))
            {
                let _ = std::fs::remove_dir_all(stale.path());
            }
        }
        Env {
            dir: tempfile::Builder::new()
                .prefix(&format!("{name}-"))
                .tempdir_in(&parent)
                .expect("tempdir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn store(&self) -> PathBuf {
        self.path("store")
    }

    /// Writes `content` to `rel` in the scratch dir; returns its path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, content).expect("write");
        path
    }

    /// `runtask ARGS` with this env's store, cache and config dirs.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_runtask"));
        cmd.args(args)
            .env("TASKHOST_STORE", self.store())
            .env("XDG_CACHE_HOME", shared_cache())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("TMPDIR", self.dir.path())
            .env_remove("RUNTASK_LOG")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Ran {
        Ran::from(self.cmd(args).output().expect("spawn runtask"))
    }

    /// Runs `runtask ARGS` with its output in files; returns what it did
    /// and its peak resident memory in bytes (from wait4).
    pub fn run_measured(&self, args: &[&str]) -> (Ran, u64) {
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (out, err) = (
            self.path(&format!("measured-{n}.stdout")),
            self.path(&format!("measured-{n}.stderr")),
        );
        // Reaped by wait4 below, which also reports peak memory.
        #[allow(clippy::zombie_processes)]
        let child = self
            .cmd(args)
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .expect("spawn runtask");
        let pid = i32::try_from(child.id()).expect("pid");
        // SAFETY: rusage is plain old data; zeroes are a valid value.
        let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
        // SAFETY: waits for our own child, with valid out-pointers.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
        let exit =
            <std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(status);
        let ran = Ran {
            code: exit.code().unwrap_or(-1),
            stdout: std::fs::read_to_string(&out).expect("stdout"),
            stderr: std::fs::read_to_string(&err).expect("stderr"),
        };
        let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0) << 10;
        (ran, peak)
    }

    /// Runs `runtask` with `stdin` as its standard input.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Ran {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        Ran::from(child.wait_with_output().expect("wait"))
    }

    /// Runs the hostile plugin with `task_data` (JSON) under `grants`.
    pub fn hostile(&self, task_data: &str, grants: &[&str]) -> Ran {
        let data = self.write("task.json", task_data);
        let data = data.to_str().expect("utf-8 path");
        let mut args = vec!["run", HOSTILE, "--data", data, "--format", "json"];
        args.extend_from_slice(grants);
        self.run(&args)
    }

    /// Imports `file` as an artifact of `category`; returns its id.
    pub fn import(&self, file: &Path, category: &str) -> String {
        let ran = self.run(&[
            "artifact",
            "import",
            file.to_str().expect("utf-8 path"),
            "--category",
            category,
        ]);
        ran.expect(0);
        ran.stdout.trim().to_string()
    }

    /// Every artifact in the store, as JSON.
    pub fn artifacts(&self) -> Vec<serde_json::Value> {
        let ran = self.run(&["artifact", "list", "--json"]);
        ran.expect(0);
        serde_json::from_str(&ran.stdout).expect("artifact list JSON")
    }
}

/// The policy table that trusts the echo test directive (a third-party
/// plugin: only its pinned digest gets grants).
pub fn echo_pin() -> String {
    let wasm = std::fs::read(env!("TASKHOST_TEST_PLUGIN_ECHO_DIRECTIVE")).expect("echo plugin");
    format!(
        "[plugins.echo]\nsha256 = [\"{}\"]\n\n",
        taskhost::manifest::digest(&wasm)
    )
}

/// Numbers measured runs' output files.
static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Compiled plugins are cached once for the whole test run.
fn shared_cache() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("runtask-cache");
    std::fs::create_dir_all(&dir).expect("cache dir");
    dir
}

/// The grants the hostile plugin's harmless actions need.
pub const HOSTILE_GRANTS: &[&str] = &[
    "--allow-backend",
    "local",
    "--allow-exec",
    "echo hello *",
    "--allow-exec",
    "cat **",
    "--allow-exec",
    "sleep *",
    "--allow-exec",
    "sh -c *",
    "--allow-env",
    "HOSTILE_VAR",
];

/// Parses a `--format json` report.
pub fn report(ran: &Ran) -> serde_json::Value {
    serde_json::from_str(&ran.stdout).unwrap_or_else(|e| {
        panic!(
            "report is not JSON ({e})\n--- stdout\n{}\n--- stderr\n{}",
            ran.stdout, ran.stderr
        )
    })
}

/// The note of the report's first result.
/// Each result's item, outcome and note.
pub fn result_rows(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (text(&r["item"]), text(&r["outcome"]), text(&r["note"])))
        .collect()
}

pub fn first_note(report: &serde_json::Value) -> String {
    report["results"][0]["note"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
