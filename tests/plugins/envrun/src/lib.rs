//! Runs steps in one environment and reports each as a result, so the
//! tests can see what a command inside saw.

use serde::Deserialize;
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{ArtifactRef, Command, Environment, Outcome, Result, Status, Task};

#[derive(Deserialize)]
pub struct Data {
    /// A debian:system-tarball (id, file or lookup); none: no artifact.
    #[serde(default)]
    pub environment: Option<ArtifactRef>,
    #[serde(default = "auto")]
    pub backend: String,
    pub steps: Vec<Step>,
}

fn auto() -> String {
    "auto".into()
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Run argv; the result's note is its stdout, keyvals hold the code.
    Run {
        argv: Vec<String>,
        #[serde(default)]
        root: bool,
        #[serde(default)]
        cwd: Option<String>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Write `content` to workspace file `path`, then push it to `target`.
    Push {
        content: String,
        path: String,
        target: String,
    },
    /// Pull `source` into workspace file `path` and report its content.
    Pull { source: String, path: String },
    /// Write `content` to workspace file `path` (through WASI only).
    Write { content: String, path: String },
}

pub struct EnvRun;

impl Task for EnvRun {
    type Data = Data;
    const NAME: &'static str = "envrun";
    const SUMMARY: &'static str = "Runs commands in an environment";

    fn execute(data: Data) -> Result<Status> {
        let env = match &data.environment {
            Some(r) => Environment::open_with(&data.backend, r.id()?)?,
            None => Environment::open(&data.backend)?,
        };
        let backend = env.backend();
        let mut all_ok = true;
        for (i, step) in data.steps.iter().enumerate() {
            let item = format!("step-{i}");
            let (outcome, note, code) = match step {
                Step::Run {
                    argv,
                    root,
                    cwd,
                    timeout_ms,
                } => {
                    let mut cmd = Command::new(argv[0].clone()).args(argv[1..].iter().cloned());
                    if *root {
                        cmd = cmd.as_root();
                    }
                    if let Some(dir) = cwd {
                        cmd = cmd.cwd(dir.clone());
                    }
                    if let Some(ms) = timeout_ms {
                        cmd = cmd.timeout(std::time::Duration::from_millis(*ms));
                    }
                    match env.run(&cmd) {
                        Ok(exit) => {
                            let out = exit.read_stdout()? + &exit.read_stderr()?;
                            let outcome = if exit.success() {
                                Outcome::Passed
                            } else {
                                Outcome::Failed
                            };
                            (
                                outcome,
                                out,
                                exit.code().map(|c| c.to_string()).unwrap_or_default(),
                            )
                        }
                        Err(e) => (Outcome::Failed, format!("error: {e:?}"), String::new()),
                    }
                }
                Step::Push {
                    content,
                    path,
                    target,
                } => {
                    std::fs::write(path, content)?;
                    match env.push(path, target) {
                        Ok(()) => (Outcome::Passed, String::new(), String::new()),
                        Err(e) => (Outcome::Failed, format!("error: {e:?}"), String::new()),
                    }
                }
                Step::Write { content, path } => {
                    std::fs::write(path, content)?;
                    (Outcome::Passed, String::new(), String::new())
                }
                Step::Pull { source, path } => match env.pull(source, path) {
                    Ok(()) => (
                        Outcome::Passed,
                        std::fs::read_to_string(path)?,
                        String::new(),
                    ),
                    Err(e) => (Outcome::Failed, format!("error: {e:?}"), String::new()),
                },
            };
            all_ok &= outcome == Outcome::Passed;
            CheckResult::new(item, "test", outcome)
                .note(note)
                .keyval("code", code)
                .keyval("backend", backend.clone())
                .emit()?;
        }
        Ok(if all_ok {
            Status::Success
        } else {
            Status::Failure
        })
    }
}

taskhost_sdk::export_task!(EnvRun, manifest = "taskhost.toml");
