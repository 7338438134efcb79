//! `taskhost:plugin/process`: environments and commands. Every call
//! checks the backend grant, and `run` checks argv and env names.

use super::bad_path;
use crate::backends::{self, Backend, Environment, ProcessSpec};
use crate::runtime::RunState;
use crate::runtime::bindings::Error;
use crate::runtime::bindings::taskhost::plugin::process::{self, Command, ExitStatus};
use crate::runtime::bindings::taskhost::plugin::types::ArtifactId;
use std::time::{Duration, Instant};
use wasmtime::component::Resource;

/// Every command's TMPDIR, inside the workspace (tools such as lintian
/// leave temp files behind; they go with the workspace).
const TMPDIR: &str = ".taskhost/tmp";

impl process::Host for RunState {}

impl RunState {
    fn environment(&mut self, env: &Resource<Environment>) -> Result<Backend, Error> {
        let backend = self
            .table()
            .get(env)
            .map_err(|e| Error::Invalid(format!("bad environment handle: {e}")))?
            .backend;
        // The grant may not have changed, but every call checks it again.
        self.run
            .grants
            .check_backend(backend.name())
            .map_err(|d| self.run.denied("process.environment", d))?;
        Ok(backend)
    }

    /// Builds a spec for `command`, checking the grants first.
    fn spec(&mut self, command: &Command) -> Result<(ProcessSpec, String, String), Error> {
        let run = &self.run;
        let argv_text = shell_words::join(&command.argv);
        run.grants
            .check_exec(&command.argv)
            .map_err(|d| run.denied(&format!("run `{argv_text}`"), d))?;
        for (name, _) in &command.env {
            run.grants
                .check_env(name)
                .map_err(|d| run.denied(&format!("run `{argv_text}` with ${name}"), d))?;
        }
        let ws = &run.workspace;
        let cwd = match &command.cwd {
            Some(dir) => ws
                .existing_dir(dir)
                .map_err(|e| Error::Invalid(format!("cwd '{dir}': {e}")))?,
            None => ws.root().to_path_buf(),
        };
        let stdin = match &command.stdin {
            Some(path) => Some(
                ws.open(path)
                    .map_err(|e| Error::NotFound(format!("stdin '{path}': {e}")))?,
            ),
            None => None,
        };
        let n = self.run.commands + 1;
        let program = command.argv[0]
            .rsplit('/')
            .next()
            .unwrap_or("cmd")
            .to_string();
        let stdout_path = command
            .stdout
            .clone()
            .unwrap_or_else(|| format!(".taskhost/{n:03}-{program}.stdout"));
        let stderr_path = command
            .stderr
            .clone()
            .unwrap_or_else(|| format!(".taskhost/{n:03}-{program}.stderr"));
        crate::workspace::check(&stdout_path).map_err(bad_path)?;
        crate::workspace::check(&stderr_path).map_err(bad_path)?;
        let ws = &self.run.workspace;
        let stdout = ws
            .create_file(&stdout_path)
            .map_err(|e| Error::Invalid(format!("stdout '{stdout_path}': {e}")))?;
        let stderr = if stderr_path == stdout_path {
            stdout
                .try_clone()
                .map_err(|e| Error::Failed(e.to_string()))?
        } else {
            ws.create_file(&stderr_path)
                .map_err(|e| Error::Invalid(format!("stderr '{stderr_path}': {e}")))?
        };
        let remaining = self.run.deadline.saturating_duration_since(Instant::now());
        let timeout = command
            .timeout_ms
            .map_or(remaining, |ms| Duration::from_millis(ms).min(remaining));
        self.run.commands = n;
        ws.create_dir_all(TMPDIR)
            .map_err(|e| Error::Failed(format!("creating {TMPDIR}: {e}")))?;
        let tmpdir = ws.root().join(TMPDIR);
        let spec = ProcessSpec {
            argv: command.argv.clone(),
            env: command.env.clone(),
            cwd,
            tmpdir,
            stdin,
            stdout,
            stderr,
            timeout,
            output_limit: self.run.output_limit,
            grace: self.run.kill_grace,
        };
        Ok((spec, stdout_path, stderr_path))
    }
}

impl process::HostEnvironment for RunState {
    async fn open(
        &mut self,
        backend: String,
        environment: Option<ArtifactId>,
    ) -> Result<Resource<Environment>, Error> {
        let chosen = if backend == "auto" {
            // Only `local` exists yet; `auto` picks the best granted backend.
            let granted = self.run.grants.granted_backends();
            granted.iter().find_map(|b| Backend::from_name(b)).ok_or_else(|| {
                self.run.denied(
                    "process.environment.open(auto)",
                    crate::policy::Denied {
                        plugin: self.run.plugin().to_string(),
                        capability: "backend".into(),
                        subject: "auto".into(),
                        reason: "no backend is both declared and granted".into(),
                        hint: Some(format!("grant one with --allow-backend local, or backends = [\"local\"] under [plugins.{}]", self.run.plugin())),
                    },
                )
            })?
        } else {
            let known = Backend::from_name(&backend).ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown backend '{backend}'; this host knows: auto, {}",
                    Backend::ALL.join(", ")
                ))
            })?;
            self.run
                .grants
                .check_backend(&backend)
                .map_err(|d| self.run.denied("process.environment.open", d))?;
            known
        };
        if environment.is_some() && chosen == Backend::Local {
            return Err(Error::Invalid(
                "the local backend takes no environment artifact".into(),
            ));
        }
        self.run
            .log
            .info("process", &format!("opened backend {}", chosen.name()));
        self.table()
            .push(Environment { backend: chosen })
            .map_err(|e| Error::Failed(e.to_string()))
    }

    async fn backend(&mut self, env: Resource<Environment>) -> String {
        self.table()
            .get(&env)
            .map(|e| e.backend.name().to_string())
            .unwrap_or_default()
    }

    async fn run(
        &mut self,
        env: Resource<Environment>,
        command: Command,
    ) -> Result<ExitStatus, Error> {
        let backend = self.environment(&env)?;
        if command.argv.is_empty() {
            return Err(Error::Invalid(
                "a command needs at least a program name".into(),
            ));
        }
        let (spec, stdout, stderr) = self.spec(&command)?;
        let argv_text = shell_words::join(&command.argv);
        self.run.log.info(
            "process",
            &format!("running `{argv_text}` on {}", backend.name()),
        );
        let step = self.run.progress.spinner(&argv_text);
        let exit = match backend {
            Backend::Local => backends::local::run(spec).await,
        };
        drop(step);
        let exit = exit.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!(
                "program '{}' not found in PATH ({}); is its package installed? (runtask --install-deps installs \
                 the packages the plugin declares)",
                command.argv[0],
                backends::PATH
            )),
            _ => Error::Failed(format!("running `{argv_text}`: {e}")),
        })?;
        let how = match (exit.code, exit.signal) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(sig)) => format!("signal {sig}"),
            _ => "unknown status".to_string(),
        };
        let timed = if exit.timed_out { " (timed out)" } else { "" };
        self.run.log.info(
            "process",
            &format!(
                "`{argv_text}` ended with {how}{timed} after {:.1}s",
                exit.duration.as_secs_f64()
            ),
        );
        Ok(ExitStatus {
            code: exit.code,
            signal: exit.signal,
            timed_out: exit.timed_out,
            stdout,
            stderr,
            truncated: exit.truncated,
            duration_ms: u64::try_from(exit.duration.as_millis()).unwrap_or(u64::MAX),
        })
    }

    async fn push(
        &mut self,
        env: Resource<Environment>,
        _workspace_path: String,
        _target: String,
    ) -> Result<(), Error> {
        let backend = self.environment(&env)?;
        Err(Error::Invalid(format!(
            "the {} backend shares the workspace; push is for isolated backends",
            backend.name()
        )))
    }

    async fn pull(
        &mut self,
        env: Resource<Environment>,
        _source: String,
        _workspace_path: String,
    ) -> Result<(), Error> {
        let backend = self.environment(&env)?;
        Err(Error::Invalid(format!(
            "the {} backend shares the workspace; pull is for isolated backends",
            backend.name()
        )))
    }

    async fn drop(&mut self, env: Resource<Environment>) -> wasmtime::Result<()> {
        self.table().delete(env)?;
        Ok(())
    }
}
