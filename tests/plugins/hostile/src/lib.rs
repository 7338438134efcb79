//! A plugin that does what task_data asks, including what it must not.
//! Each action maps to one containment test.

use serde::Deserialize;
use taskhost_sdk::artifacts::{self, NewArtifact};
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{ArtifactRef, Command, Environment, Error, Outcome, Result, Status, Task};

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
    /// Create an artifact of `category` holding `file` (workspace path).
    Create {
        category: String,
        file: String,
    },
    /// Read an input artifact's data and fetch its files.
    Input {
        artifact: ArtifactRef,
    },
}

pub struct Hostile;

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
            } => {
                let mut cmd = Command::new(argv[0].clone()).args(argv[1..].iter().cloned());
                for (k, v) in env {
                    cmd = cmd.env(k, v);
                }
                if let Some(ms) = timeout_ms {
                    cmd = cmd.timeout(std::time::Duration::from_millis(ms));
                }
                let exit = Environment::open("local")?.run(&cmd)?;
                let note = format!(
                    "code={:?} timed_out={} stdout={}",
                    exit.code(),
                    exit.timed_out(),
                    exit.read_stdout()?.trim()
                );
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
            Data::Create { category, file } => {
                let id = NewArtifact::new(category).file("file", file).create()?;
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
                report(
                    Outcome::Passed,
                    format!("{} {} {first}", a.category, files.join(",")),
                )
            }
        }
    }
}

taskhost_sdk::export_task!(Hostile, manifest = "taskhost.toml");
