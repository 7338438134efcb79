//! A plugin that does what task_data asks, including what it must not.
//! Each action maps to one containment test.

use serde::Deserialize;
use taskhost_sdk::artifacts::{self, NewArtifact};
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{ArtifactRef, Command, Environment, Error, Outcome, Result, Status, Task};

// Decoded once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Data {
    /// Succeed without doing anything.
    Noop,
    /// Run argv through the process capability; report its stdout.
    Exec {
        argv: Vec<String>,
        #[serde(default)]
        env: Vec<(String, String)>,
        timeout_ms: Option<u64>,
        /// Workspace paths of the command's stdin, stdout and stderr.
        stdin: Option<String>,
        stdout: Option<String>,
        stderr: Option<String>,
        cwd: Option<String>,
        /// A command run first (to prepare the workspace).
        before: Option<Vec<String>>,
        /// A command run once the first has ended.
        then: Option<Vec<String>>,
        /// After the commands, fetch input `artifact` into this directory.
        fetch_into: Option<String>,
        artifact: Option<ArtifactRef>,
        /// After the commands, read this workspace file through WASI.
        wasi_read: Option<String>,
    },
    /// Read a file through WASI and report its size.
    Read {
        path: String,
    },
    /// Have a granted program plant a symlink to `target` in the
    /// workspace, then read it through WASI.
    Symlink {
        target: String,
    },
    LoopForever,
    /// Allocate `mib` MiB and touch it.
    Alloc {
        mib: usize,
    },
    Panic,
    /// Write `mib` MiB to stdout.
    Spew {
        mib: usize,
    },
    /// Call host functions with an artifact id that is not ours.
    BadArtifact {
        id: u64,
    },
    /// Create an artifact of `category` holding `file` (workspace path;
    /// written with `content` first, if given), then run argv `after` (a
    /// run killed there has created the artifact).
    Create {
        category: String,
        file: String,
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        after: Option<Vec<String>>,
    },
    /// Read an input artifact's data and fetch its files.
    Input {
        artifact: ArtifactRef,
    },
    /// Emit `count` results with `note_bytes`-byte notes; report how many
    /// the host took and its first refusal.
    Results {
        count: usize,
        note_bytes: usize,
    },
    /// Log `count` messages of `bytes` bytes each.
    Logs {
        count: usize,
        bytes: usize,
    },
    /// Report progress under `count` distinct labels.
    Labels {
        count: usize,
    },
    /// Log one message as given (forgery attempts).
    Say {
        message: String,
    },
    /// Keep `count` WASI file handles open at once.
    Handles {
        count: usize,
    },
    /// Look up `query` in the store.
    Lookup {
        query: String,
        category: String,
    },
    /// Start `count` copies of argv at once (`environment.start`); with
    /// `wait`, wait for each, polling every 100 ms, and report how many
    /// polls saw it running and the exit codes; else wait `hold_ms` on the
    /// first, then drop them all.
    Start {
        argv: Vec<String>,
        count: usize,
        #[serde(default)]
        wait: bool,
        #[serde(default)]
        hold_ms: u64,
    },
    /// Find collection `query`, list its items, then add `add` (an item
    /// holding artifact `holding`; not `artifact`, the input key) and remove
    /// `remove`; report what it saw.
    Collection {
        query: String,
        #[serde(default)]
        list: bool,
        add: Option<String>,
        holding: Option<u64>,
        remove: Option<String>,
        /// Skip `get` and use this collection id directly.
        id: Option<u64>,
    },
    /// Submit `task` with `data` `count` times, wait for each (or for
    /// `wait_for` instead), and report the children's statuses.
    Submit {
        task: String,
        data: serde_json::Value,
        #[serde(default)]
        force: bool,
        #[serde(default = "one")]
        count: usize,
        wait_for: Option<String>,
    },
    /// Write `mib` MiB into workspace file `file`, 1 MiB at a time.
    Fill {
        file: String,
        mib: usize,
    },
}

pub struct Hostile;

fn one() -> usize {
    1
}

fn report(outcome: Outcome, note: impl Into<String>) -> Result<Status> {
    CheckResult::new("hostile", "test", outcome)
        .note(note)
        .emit()?;
    Ok(if outcome == Outcome::Passed {
        Status::Success
    } else {
        Status::Failure
    })
}

impl Task for Hostile {
    type Data = Data;
    const NAME: &'static str = "hostile";
    const SUMMARY: &'static str = "Misbehaves on request";

    fn execute(data: Data) -> Result<Status> {
        match data {
            Data::Noop => Ok(Status::Success),
            Data::Exec {
                argv,
                env,
                timeout_ms,
                stdin,
                stdout,
                stderr,
                cwd,
                before,
                then,
                fetch_into,
                artifact,
                wasi_read,
            } => {
                let local = Environment::open("local")?;
                if let Some(argv) = before {
                    local.run(&Command::new(argv[0].clone()).args(argv[1..].iter().cloned()))?;
                }
                let mut cmd = Command::new(argv[0].clone()).args(argv[1..].iter().cloned());
                for (k, v) in env {
                    cmd = cmd.env(k, v);
                }
                if let Some(ms) = timeout_ms {
                    cmd = cmd.timeout(std::time::Duration::from_millis(ms));
                }
                if let Some(path) = stdin {
                    cmd = cmd.stdin(path);
                }
                if let Some(path) = stdout {
                    cmd = cmd.stdout(path);
                }
                if let Some(path) = stderr {
                    cmd = cmd.stderr(path);
                }
                if let Some(dir) = cwd {
                    cmd = cmd.cwd(dir);
                }
                let exit = local.run(&cmd)?;
                let mut note = format!(
                    "code={:?} timed_out={} stdout={}",
                    exit.code(),
                    exit.timed_out(),
                    exit.read_stdout()?.trim()
                );
                if let Some(argv) = then {
                    let cmd = Command::new(argv[0].clone()).args(argv[1..].iter().cloned());
                    let exit = local.run(&cmd)?;
                    note.push_str(&format!(
                        " then: code={:?} stdout={}",
                        exit.code(),
                        exit.read_stdout()?.trim()
                    ));
                }
                if let (Some(dir), Some(artifact)) = (fetch_into, artifact) {
                    let files = artifacts::fetch(artifact.id()?, &dir)?;
                    note.push_str(&format!(" fetched: {}", files.join(",")));
                }
                if let Some(path) = wasi_read {
                    let bytes = std::fs::read(&path)?;
                    note.push_str(&format!(" read {} bytes", bytes.len()));
                }
                report(Outcome::Passed, note)
            }
            Data::Read { path } => match std::fs::read(&path) {
                // What was read goes into the note, so a leak shows.
                Ok(bytes) => report(
                    Outcome::Failed,
                    format!(
                        "read {} bytes from {path}: {}",
                        bytes.len(),
                        String::from_utf8_lossy(&bytes)
                    ),
                ),
                Err(e) => report(Outcome::Passed, format!("refused: {e}")),
            },
            Data::Symlink { target } => {
                let ln = Command::new("sh")
                    .arg("-c")
                    .arg(format!("ln -s '{target}' escape"));
                let made = Environment::open("local")?.run(&ln)?;
                match std::fs::read("escape") {
                    Ok(bytes) => report(
                        Outcome::Failed,
                        format!(
                            "read {} bytes through a symlink: {}",
                            bytes.len(),
                            String::from_utf8_lossy(&bytes)
                        ),
                    ),
                    Err(e) => report(
                        Outcome::Passed,
                        format!("ln exit {:?}; read refused: {e}", made.code()),
                    ),
                }
            }
            Data::LoopForever => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            Data::Alloc { mib } => {
                let mut v: Vec<Vec<u8>> = Vec::new();
                for _ in 0..mib {
                    v.push(vec![1u8; 1 << 20]);
                }
                report(Outcome::Passed, format!("allocated {} MiB", v.len()))
            }
            Data::Panic => panic!("hostile plugin panics on purpose"),
            Data::Spew { mib } => {
                use std::io::Write;
                let chunk = vec![b'x'; 1 << 20];
                let mut out = std::io::stdout();
                for _ in 0..mib {
                    out.write_all(&chunk)?;
                }
                report(Outcome::Passed, "spewed")
            }
            Data::BadArtifact { id } => {
                let got = artifacts::get(id);
                let fetched = artifacts::fetch(id, "x");
                let related = artifacts::relate(id, id, artifacts::RelationType::RelatesTo);
                let note = format!("get={got:?} fetch={fetched:?} relate={related:?}");
                match (got, fetched, related) {
                    (Err(_), Err(_), Err(_)) => report(Outcome::Passed, note),
                    _ => report(Outcome::Failed, note),
                }
            }
            Data::Create {
                category,
                file,
                content,
                after,
            } => {
                if let Some(content) = content {
                    std::fs::write(&file, content)?;
                }
                let id = NewArtifact::new(category).file("file", file).create()?;
                if let Some(argv) = after.filter(|a| !a.is_empty()) {
                    let local = Environment::open("local")?;
                    local.run(&Command::new(argv[0].clone()).args(argv[1..].iter().cloned()))?;
                }
                report(Outcome::Passed, format!("created {id}"))
            }
            Data::Input { artifact } => {
                let id = artifact.id()?;
                let a = artifacts::get(id)?;
                let files = artifacts::fetch(id, "in")?;
                let content = std::fs::read_to_string(
                    files.first().ok_or_else(|| Error::failed("no files"))?,
                )?;
                let first = content.lines().next().unwrap_or_default();
                let inputs: Vec<String> = artifacts::inputs()?
                    .iter()
                    .map(|i| format!("{}:{}", i.key, i.artifact.id))
                    .collect();
                report(
                    Outcome::Passed,
                    format!(
                        "{} {} {first} inputs={}",
                        a.category,
                        files.join(","),
                        inputs.join(",")
                    ),
                )
            }
            Data::Results { count, note_bytes } => {
                let note = "n".repeat(note_bytes);
                let mut taken = 0;
                let mut refused = None;
                for i in 0..count {
                    match CheckResult::new(format!("r{i}"), "test", Outcome::Passed)
                        .note(note.clone())
                        .emit()
                    {
                        Ok(()) => taken += 1,
                        Err(e) => {
                            refused.get_or_insert_with(|| format!("{e:?}"));
                        }
                    }
                }
                taskhost_sdk::log::info(format!(
                    "taken={taken} refused={}",
                    refused.unwrap_or_default()
                ));
                Ok(Status::Success)
            }
            Data::Logs { count, bytes } => {
                let message = "m".repeat(bytes);
                for _ in 0..count {
                    taskhost_sdk::log::info(&message);
                }
                report(Outcome::Passed, format!("logged {count}"))
            }
            Data::Labels { count } => {
                for i in 0..count {
                    taskhost_sdk::log::progress(
                        &format!("label-{i}-{}", "x".repeat(100)),
                        1,
                        Some(2),
                    );
                }
                report(Outcome::Passed, format!("labels {count}"))
            }
            Data::Say { message } => {
                taskhost_sdk::log::info(&message);
                report(Outcome::Passed, "said")
            }
            Data::Handles { count } => {
                std::fs::write("handle.txt", b"x")?;
                let mut open = Vec::new();
                for _ in 0..count {
                    open.push(std::fs::File::open("handle.txt")?);
                }
                report(Outcome::Passed, format!("holding {}", open.len()))
            }
            Data::Collection {
                query,
                list,
                add,
                holding,
                remove,
                id,
            } => {
                use taskhost_sdk::collections::{self, Collection, NewItem};
                let c = match id {
                    Some(id) => Collection {
                        id,
                        category: String::new(),
                        name: String::new(),
                        data: serde_json::json!({}),
                    },
                    None => collections::get(&query)?,
                };
                let mut seen = Vec::new();
                if list {
                    for item in collections::items(&c)? {
                        seen.push(format!("{}={:?}", item.name, item.artifact));
                    }
                }
                if let Some(name) = add {
                    let artifact =
                        holding.ok_or_else(|| Error::Invalid("add needs holding".into()))?;
                    let item = collections::add(
                        &c,
                        NewItem::artifact(name, artifact, serde_json::json!({})),
                    )?;
                    seen.push(format!("added {}", item.id));
                }
                if let Some(name) = remove {
                    collections::remove(&c, &name)?;
                    seen.push(format!("removed {name}"));
                }
                report(Outcome::Passed, seen.join(" "))
            }
            Data::Submit {
                task,
                data,
                force,
                count,
                wait_for,
            } => {
                use taskhost_sdk::runs;
                let mut seen = Vec::new();
                let mut ids = Vec::new();
                for _ in 0..count {
                    let s = runs::submit(&task, &data, force)?;
                    seen.push(if s.created { "new" } else { "reused" }.to_string());
                    ids.push(s.run_id);
                }
                for id in wait_for.into_iter().chain(ids) {
                    let child = runs::wait(&id)?;
                    let status = format!("{:?}", child.status);
                    seen.push(format!(
                        "{} {} {:?}",
                        status.trim_start_matches("RunStatus::"),
                        child.artifacts.len(),
                        child.error.unwrap_or_default()
                    ));
                }
                report(Outcome::Passed, seen.join("; "))
            }
            Data::Lookup { query, category } => match artifacts::lookup(&query, &category) {
                Ok(id) => report(Outcome::Failed, format!("found {id}")),
                Err(e) => report(Outcome::Passed, format!("{e:?}")),
            },
            Data::Start {
                argv,
                count,
                wait,
                hold_ms,
            } => {
                let env = Environment::open("local")?;
                let (program, args) = argv
                    .split_first()
                    .ok_or_else(|| Error::invalid("argv is empty"))?;
                let command = Command::new(program).args(args);
                let mut started = Vec::new();
                for _ in 0..count {
                    started.push(env.start(&command)?);
                }
                if !wait {
                    if let Some(first) = started.first() {
                        first.wait_timeout(std::time::Duration::from_millis(hold_ms))?;
                    }
                    drop(started);
                    return report(Outcome::Passed, format!("dropped {count}"));
                }
                let (mut polls, mut codes) = (0, Vec::new());
                for running in &started {
                    loop {
                        match running.wait_timeout(std::time::Duration::from_millis(100))? {
                            None => polls += 1,
                            Some(exit) => {
                                codes.push(format!("{:?}", exit.code()));
                                break;
                            }
                        }
                    }
                }
                report(
                    Outcome::Passed,
                    format!("polls {polls} codes {}", codes.join(",")),
                )
            }
            Data::Fill { file, mib } => {
                use std::io::Write;
                let chunk = vec![7u8; 1 << 20];
                let mut out = std::fs::File::create(&file)?;
                let mut written = 0;
                for _ in 0..mib {
                    if out.write_all(&chunk).is_err() {
                        break;
                    }
                    written += 1;
                }
                report(Outcome::Passed, format!("wrote {written} MiB"))
            }
        }
    }
}

taskhost_sdk::export_task!(Hostile, manifest = "taskhost.toml");
