//! Running programs through the host's process capability.

use crate::bindings::taskhost::plugin::process as raw;
use crate::{ArtifactId, Result};
use std::time::Duration;

/// An execution environment (a backend such as `local`).
pub struct Environment(raw::Environment);

impl Environment {
    /// Opens `backend` ("auto", "local", ...), with no environment artifact.
    pub fn open(backend: &str) -> Result<Self> {
        raw::Environment::open(backend, None).map(Environment)
    }

    /// Opens `backend` built from environment artifact `environment`.
    pub fn open_with(backend: &str, environment: ArtifactId) -> Result<Self> {
        raw::Environment::open(backend, Some(environment)).map(Environment)
    }

    /// The backend in use.
    pub fn backend(&self) -> String {
        self.0.backend()
    }

    /// Runs `command` to completion.
    pub fn run(&self, command: &Command) -> Result<ExitStatus> {
        self.0.run(&command.0).map(ExitStatus)
    }

    /// Starts `command` and returns at once; follow it with
    /// [`Running::wait`]. Dropping the [`Running`] before the command ends
    /// kills it. A run has at most 8 commands running at once.
    pub fn start(&self, command: &Command) -> Result<Running> {
        self.0.start(&command.0).map(Running)
    }

    /// Copies workspace file `workspace_path` into the environment.
    pub fn push(&self, workspace_path: &str, target: &str) -> Result<()> {
        self.0.push(workspace_path, target)
    }

    /// Copies `source` out of the environment into the workspace.
    pub fn pull(&self, source: &str, workspace_path: &str) -> Result<()> {
        self.0.pull(source, workspace_path)
    }
}

/// A command started with [`Environment::start`].
pub struct Running(raw::Running);

impl Running {
    /// Waits up to `timeout` for the command to end: its exit status, or
    /// `None` while it still runs.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.0.wait(ms).map(|e| e.map(ExitStatus))
    }

    /// Waits for the command to end.
    pub fn wait(&self) -> Result<ExitStatus> {
        loop {
            if let Some(exit) = self.wait_timeout(Duration::from_secs(3600))? {
                return Ok(exit);
            }
        }
    }
}

/// An argv command under construction.
#[derive(Clone, Debug)]
pub struct Command(raw::Command);

impl Command {
    /// A command running `program` with no arguments.
    pub fn new(program: impl Into<String>) -> Self {
        Command(raw::Command {
            argv: vec![program.into()],
            env: Vec::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            timeout_ms: None,
            run_as_root: false,
        })
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.0.argv.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.0.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (the name must be granted).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.env.push((name.into(), value.into()));
        self
    }

    /// Working directory, a workspace path.
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.0.cwd = Some(dir.into());
        self
    }

    /// Feeds workspace file `path` to stdin.
    pub fn stdin(mut self, path: impl Into<String>) -> Self {
        self.0.stdin = Some(path.into());
        self
    }

    /// Writes stdout to workspace file `path`.
    pub fn stdout(mut self, path: impl Into<String>) -> Self {
        self.0.stdout = Some(path.into());
        self
    }

    /// Writes stderr to workspace file `path`.
    pub fn stderr(mut self, path: impl Into<String>) -> Self {
        self.0.stderr = Some(path.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.timeout_ms = Some(timeout.as_millis().try_into().unwrap_or(u64::MAX));
        self
    }

    /// Runs as root inside an isolated environment.
    pub fn as_root(mut self) -> Self {
        self.0.run_as_root = true;
        self
    }

    /// The argv, for logs.
    pub fn argv(&self) -> &[String] {
        &self.0.argv
    }
}

/// How a command ended, and where its output is.
#[derive(Clone, Debug)]
pub struct ExitStatus(raw::ExitStatus);

impl ExitStatus {
    /// Exit code, if it exited by itself.
    pub fn code(&self) -> Option<i32> {
        self.0.code
    }

    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.0.code == Some(0)
    }

    pub fn signal(&self) -> Option<i32> {
        self.0.signal
    }

    pub fn timed_out(&self) -> bool {
        self.0.timed_out
    }

    /// Output past the host's size cap was dropped.
    pub fn truncated(&self) -> bool {
        self.0.truncated
    }

    /// Workspace path of the stdout file.
    pub fn stdout_path(&self) -> &str {
        &self.0.stdout
    }

    /// Workspace path of the stderr file.
    pub fn stderr_path(&self) -> &str {
        &self.0.stderr
    }

    /// Reads the captured stdout.
    pub fn read_stdout(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&std::fs::read(&self.0.stdout)?).into_owned())
    }

    /// Reads the captured stderr.
    pub fn read_stderr(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&std::fs::read(&self.0.stderr)?).into_owned())
    }

    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.0.duration_ms)
    }
}
