//! `taskhost:plugin/process`: environments and commands. Every call
//! checks the backend grant, and `run` checks argv and env names.

use super::bindings::Error;
use super::bindings::taskhost::plugin::process::{self, Command, ExitStatus};
use super::bindings::taskhost::plugin::types::ArtifactId;
use super::{Opened, RunState, bad_path};
use crate::backends::{self, Backend, CommandFuture, Environment, Image, OpenRequest, ProcessSpec};
use std::time::{Duration, Instant};
use wasmtime::component::Resource;

/// Every command's TMPDIR, inside the workspace (tools such as lintian
/// leave temp files behind; they go with the workspace).
const TMPDIR: &str = ".taskhost/tmp";

impl process::Host for RunState {}

/// A path inside an environment: absolute, no NUL.
fn check_env_path(path: &str) -> Result<(), Error> {
    if !path.starts_with('/') || path.contains('\0') {
        return Err(Error::Invalid(format!(
            "'{path}' is not an absolute path inside the environment"
        )));
    }
    Ok(())
}

pub use backends::unshare::SYSTEM_TARBALL;

impl RunState {
    /// Resolves environment artifact `id` for `backend`: the read grant,
    /// a category the backend opens, and its file.
    fn image(&mut self, backend: &dyn Backend, id: ArtifactId) -> Result<Image, Error> {
        let run = &mut self.run;
        run.granter
            .read("process.environment.open", id)
            .map_err(|d| run.denied("process.environment.open", d))?;
        let artifact = self
            .run
            .store
            .get(id)
            .map_err(|e| Error::NotFound(e.to_string()))?;
        let wanted = backend.environments();
        if !wanted.contains(&artifact.category.as_str()) {
            return Err(Error::Invalid(format!(
                "environment artifact {id} is a {}; the {} backend needs a {}",
                artifact.category,
                backend.name(),
                wanted.join(" or ")
            )));
        }
        let named = artifact.data.get("filename").and_then(|f| f.as_str());
        let file = artifact
            .files
            .iter()
            .find(|f| Some(f.name.as_str()) == named)
            .or_else(|| artifact.files.first())
            .ok_or_else(|| Error::Invalid(format!("environment artifact {id} has no file")))?;
        let path = self
            .run
            .store
            .file_path(id, &file.name)
            .map_err(|e| Error::NotFound(e.to_string()))?;
        Ok(Image {
            id,
            category: artifact.category.clone(),
            file_name: file.name.clone(),
            path,
            sha256: file.sha256.clone(),
            data: artifact.data.clone(),
        })
    }

    /// A throwaway workspace file for a transfer's stray output.
    fn scratch_file(&mut self, what: &str) -> Result<std::fs::File, Error> {
        self.run.commands += 1;
        let path = format!(".taskhost/{:03}-{what}.out", self.run.commands);
        self.run
            .workspace
            .create_file(&path)
            .map_err(|e| Error::Failed(format!("{path}: {e}")))
    }

    /// The spec of a push or pull: the host's own command, as root, until
    /// the run's deadline.
    fn transfer_spec(
        &mut self,
        stdin: Option<std::fs::File>,
        stdout: std::fs::File,
    ) -> Result<ProcessSpec, Error> {
        let stderr = self.scratch_file("transfer-err")?;
        let remaining = self.run.deadline.saturating_duration_since(Instant::now());
        Ok(ProcessSpec {
            argv: Vec::new(),
            env: Vec::new(),
            cwd: self.run.workspace.root().to_path_buf(),
            tmpdir: "/tmp".into(),
            stdin,
            stdout,
            stderr,
            timeout: remaining,
            output_limit: u64::MAX,
            grace: self.run.settings.kill_grace,
            memory_limit: None,
            containment: self.run.settings.containment.clone(),
        })
    }

    fn transfer_result(
        &self,
        what: &str,
        from: &str,
        to: &str,
        exit: std::io::Result<backends::ProcessExit>,
    ) -> Result<(), Error> {
        let exit = exit.map_err(|e| Error::Failed(format!("{what} {from} -> {to}: {e}")))?;
        if exit.code == Some(0) {
            self.run
                .log
                .info("process", &format!("{what} {from} -> {to}"));
            return Ok(());
        }
        Err(Error::Failed(format!(
            "{what} {from} -> {to} failed (exit {:?}); does the source exist and the target directory?",
            exit.code
        )))
    }

    /// The environment behind `env`, after checking its backend's grant
    /// again (the grant may not have changed, but every call checks it).
    fn environment(&mut self, env: &Resource<Environment>) -> Result<&Environment, Error> {
        let backend = self
            .table()
            .get(env)
            .map_err(|e| Error::Invalid(format!("bad environment handle: {e}")))?
            .backend;
        let run = &mut self.run;
        run.granter
            .backend(backend.name())
            .map_err(|d| run.denied("process.environment", d))?;
        self.table()
            .get(env)
            .map_err(|e| Error::Invalid(format!("bad environment handle: {e}")))
    }

    /// An isolated environment, for push and pull.
    fn isolated(&mut self, env: &Resource<Environment>, what: &str) -> Result<(), Error> {
        let environment = self.environment(env)?;
        if environment.session.shares_workspace() {
            return Err(Error::Invalid(format!(
                "the {} backend shares the workspace; {what} is for isolated backends",
                environment.backend.name()
            )));
        }
        Ok(())
    }

    /// Checks `command` against the grants, logs it and makes the future
    /// that runs it (owning all it needs, so `start` can spawn it).
    fn begin(&mut self, env: &Resource<Environment>, command: &Command) -> Result<Started, Error> {
        let name = self.environment(env)?.backend.name();
        if command.argv.is_empty() {
            return Err(Error::Invalid(
                "a command needs at least a program name".into(),
            ));
        }
        let (spec, stdout, stderr) = self.spec(command)?;
        let argv_text = shell_words::join(&command.argv);
        let future = self
            .environment(env)?
            .session
            .command(spec, command.run_as_root)
            .map_err(|e| Error::Invalid(format!("running `{argv_text}`: {e}")))?;
        self.run
            .log
            .info("process", &format!("running `{argv_text}` on {name}"));
        let step = self.run.progress.spinner(&argv_text);
        Ok(Started {
            future,
            step,
            what: Ran {
                argv_text,
                program: command.argv[0].clone(),
                stdout,
                stderr,
            },
        })
    }

    /// Logs how a command ended and makes its exit status.
    fn ended(
        &mut self,
        what: &Ran,
        exit: std::io::Result<backends::ProcessExit>,
    ) -> Result<ExitStatus, Error> {
        let argv_text = &what.argv_text;
        let exit = exit.map_err(|e| match e.kind() {
            // A backend's own words (e.g. where the program is missing).
            std::io::ErrorKind::NotFound if e.get_ref().is_some() => Error::NotFound(e.to_string()),
            std::io::ErrorKind::NotFound => Error::NotFound(format!(
                "program '{}' not found in PATH ({}); is its package installed? (runtask --install-deps installs \
                 the packages the plugin declares)",
                what.program,
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
        let mut used = Vec::new();
        if let Some(cpu) = exit.cpu_time {
            used.push(format!("{:.1}s CPU", cpu.as_secs_f64()));
        }
        if let Some(peak) = exit.peak_memory {
            used.push(format!("{} MiB peak memory", peak >> 20));
        }
        let used = if used.is_empty() {
            String::new()
        } else {
            format!(", {}", used.join(", "))
        };
        let oom = match (exit.oom_killed, self.run.settings.command_memory) {
            (true, Some(limit)) => format!(
                "; killed past its memory limit ({}, `command-memory` in the policy)",
                crate::policy::quota::human_size(limit)
            ),
            (true, None) => "; killed for lack of memory".to_string(),
            _ => String::new(),
        };
        self.run.log.info(
            "process",
            &format!(
                "`{argv_text}` ended with {how}{timed} after {:.1}s{used}{oom}",
                exit.duration.as_secs_f64()
            ),
        );
        Ok(ExitStatus {
            code: exit.code,
            signal: exit.signal,
            timed_out: exit.timed_out,
            stdout: what.stdout.clone(),
            stderr: what.stderr.clone(),
            truncated: exit.truncated,
            duration_ms: u64::try_from(exit.duration.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Builds a spec for `command`, checking the grants first.
    fn spec(&mut self, command: &Command) -> Result<(ProcessSpec, String, String), Error> {
        let run = &mut self.run;
        let argv_text = shell_words::join(&command.argv);
        run.granter
            .exec(&command.argv)
            .map_err(|d| run.denied(&format!("run `{argv_text}`"), d))?;
        for (name, _) in &command.env {
            run.granter
                .env(name)
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
            output_limit: self.run.settings.output_limit,
            grace: self.run.settings.kill_grace,
            memory_limit: self.run.settings.command_memory,
            containment: self.run.settings.containment.clone(),
        };
        Ok((spec, stdout_path, stderr_path))
    }
}

/// Commands one run may have running at once (`environment.start`).
pub const MAX_RUNNING: usize = 8;

/// A checked command, ready to run.
struct Started {
    future: CommandFuture,
    step: crate::progress::Step,
    what: Ran,
}

/// What the log and the exit status say about a command.
struct Ran {
    argv_text: String,
    program: String,
    stdout: String,
    stderr: String,
}

/// The `running` resource: a command started with `environment.start`.
pub struct Running {
    /// The command, until it has ended and been waited for.
    task: Option<tokio::task::JoinHandle<std::io::Result<backends::ProcessExit>>>,
    what: Ran,
    step: Option<crate::progress::Step>,
    /// Its exit status, once waited for.
    exit: Option<ExitStatus>,
}

impl Drop for Running {
    /// A dropped handle kills its command: the command's future goes, and
    /// with it the process group (the backends kill on drop).
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("command", &self.what.argv_text)
            .field("ended", &self.exit.is_some())
            .finish()
    }
}

impl process::HostRunning for RunState {
    async fn wait(
        &mut self,
        running: Resource<Running>,
        timeout_ms: u64,
    ) -> Result<Option<ExitStatus>, Error> {
        let entry = self
            .table()
            .get_mut(&running)
            .map_err(|e| Error::Invalid(format!("bad running handle: {e}")))?;
        if let Some(exit) = &entry.exit {
            return Ok(Some(exit.clone()));
        }
        let Some(task) = entry.task.as_mut() else {
            return Err(Error::Failed("the command is gone".into()));
        };
        let joined = match tokio::time::timeout(Duration::from_millis(timeout_ms), task).await {
            Err(_) => return Ok(None),
            Ok(joined) => joined,
        };
        entry.task = None;
        drop(entry.step.take());
        let exit = joined.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let what = Ran {
            argv_text: entry.what.argv_text.clone(),
            program: entry.what.program.clone(),
            stdout: entry.what.stdout.clone(),
            stderr: entry.what.stderr.clone(),
        };
        self.run.running = self.run.running.saturating_sub(1);
        let status = self.ended(&what, exit)?;
        if let Ok(entry) = self.table().get_mut(&running) {
            entry.exit = Some(status.clone());
        }
        Ok(Some(status))
    }

    async fn drop(&mut self, running: Resource<Running>) -> wasmtime::Result<()> {
        let entry = self.table().delete(running)?;
        if entry.task.is_some() {
            self.run.running = self.run.running.saturating_sub(1);
            self.run.log.warn(
                "process",
                &format!(
                    "`{}` was dropped before it ended: killed",
                    entry.what.argv_text
                ),
            );
        }
        Ok(())
    }
}

impl process::HostEnvironment for RunState {
    async fn open(
        &mut self,
        backend: String,
        environment: Option<ArtifactId>,
    ) -> Result<Resource<Environment>, Error> {
        // `--libvirt`: the formula's machine, or its image.
        let machine = self.run.settings.machine.clone();
        let environment = match (environment, self.run.settings.vm_image) {
            (None, Some(image)) if backend == "auto" && machine.is_none() => Some(image),
            (given, _) => given,
        };
        let chosen = if backend == "auto" {
            // With an environment artifact, auto means the backend that
            // opens its category; else the machine of --ssh if there is
            // one.
            let want: &'static dyn Backend = match environment {
                Some(id) => {
                    let category = self
                        .run
                        .store
                        .get(id)
                        .map_err(|e| Error::NotFound(e.to_string()))?
                        .category;
                    backends::ALL
                        .iter()
                        .copied()
                        .find(|b| b.environments().contains(&category.as_str()))
                        .ok_or_else(|| {
                            Error::Invalid(format!(
                                "environment artifact {id} is a {category}, which no backend \
                                 opens (debian:system-tarball: unshare; debian:system-image: qemu)"
                            ))
                        })?
                }
                None if machine.is_some() => &backends::qemu::Qemu,
                None if self.run.settings.ssh.is_some() => &backends::ssh::Ssh,
                None => &backends::local::Local,
            };
            let run = &mut self.run;
            run.granter.backend(want.name()).map_err(|mut d| {
                d.subject = format!("auto ({})", want.name());
                run.denied("process.environment.open(auto)", d)
            })?;
            want
        } else {
            let known = backends::by_name(&backend).ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown backend '{backend}'; this host knows: auto, {}",
                    backends::names().join(", ")
                ))
            })?;
            let run = &mut self.run;
            run.granter
                .backend(&backend)
                .map_err(|d| run.denied("process.environment.open", d))?;
            known
        };
        let takes = chosen.environments();
        let image = match (takes.is_empty(), environment) {
            (true, Some(_)) => {
                return Err(Error::Invalid(format!(
                    "the {} backend takes no environment artifact",
                    chosen.name()
                )));
            }
            (false, None) if chosen.name() == "qemu" && machine.is_some() => None,
            (false, None) => {
                return Err(Error::Invalid(format!(
                    "the {} backend needs an environment: a {} artifact",
                    chosen.name(),
                    takes.join(" or ")
                )));
            }
            (false, Some(id)) => Some(self.image(chosen, id)?),
            (true, None) => None,
        };
        if chosen.name() == backends::ssh::Ssh.name()
            && let Some(remote) = self.run.settings.ssh.clone()
        {
            let run = &mut self.run;
            run.granter
                .ssh_host(&remote.target)
                .map_err(|d| run.denied("process.environment.open(ssh)", d))?;
        }
        chosen
            .check_available()
            .map_err(|e| Error::Failed(e.to_string()))?;
        self.run.opened.push(Opened {
            backend: chosen.name().into(),
            environment: image.as_ref().map(|i| (i.id, i.sha256.clone())),
            machine: (chosen.name() == backends::ssh::Ssh.name())
                .then(|| self.run.settings.ssh.as_ref().map(|r| r.target.to_string()))
                .flatten(),
        });
        let scratch = format!(".taskhost/env-{}", self.run.opened.len());
        let ws = &self.run.workspace;
        if image.is_some() {
            ws.create_dir_all(&scratch)
                .map_err(|e| Error::Failed(format!("creating {scratch}: {e}")))?;
        }
        let run = &self.run;
        let request = OpenRequest {
            image,
            workspace: run.workspace.root(),
            scratch: run.workspace.root().join(&scratch),
            packages: &run.manifest.packages,
            cache_dir: &run.settings.env_cache,
            remote: run.settings.ssh.as_ref(),
            shape: run.settings.vm_shape,
            keep_machine: run.settings.keep_machines,
            machine: environment.is_none().then_some(machine).flatten(),
            deadline: run.deadline,
            log: &run.log,
            progress: &run.progress,
        };
        let session = chosen
            .open(request)
            .await
            .map_err(|e| Error::Failed(e.to_string()))?;
        self.run
            .log
            .info("process", &format!("opened backend {}", chosen.name()));
        self.table()
            .push(Environment {
                backend: chosen,
                session,
            })
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
        let started = self.begin(&env, &command)?;
        let exit = started.future.await;
        drop(started.step);
        self.ended(&started.what, exit)
    }

    async fn start(
        &mut self,
        env: Resource<Environment>,
        command: Command,
    ) -> Result<Resource<Running>, Error> {
        if self.run.running >= MAX_RUNNING {
            return Err(Error::Invalid(format!(
                "{MAX_RUNNING} commands already run at once; wait for one to end (or drop it) first"
            )));
        }
        let started = self.begin(&env, &command)?;
        let running = Running {
            task: Some(tokio::spawn(started.future)),
            what: started.what,
            step: Some(started.step),
            exit: None,
        };
        let pushed = self
            .table()
            .push_child(running, &env)
            .map_err(|e| Error::Failed(e.to_string()))?;
        self.run.running += 1;
        Ok(pushed)
    }

    async fn push(
        &mut self,
        env: Resource<Environment>,
        workspace_path: String,
        target: String,
    ) -> Result<(), Error> {
        self.isolated(&env, "push")?;
        check_env_path(&target)?;
        let stdin = self
            .run
            .workspace
            .open(&workspace_path)
            .map_err(|e| Error::NotFound(format!("push '{workspace_path}': {e}")))?;
        let sink = self.scratch_file("push")?;
        let spec = self.transfer_spec(Some(stdin), sink)?;
        let copy = self.environment(&env)?.session.push(spec, &target);
        let exit = match copy {
            Ok(copy) => copy.await,
            Err(e) => Err(e),
        };
        self.transfer_result("push", &workspace_path, &target, exit)
    }

    async fn pull(
        &mut self,
        env: Resource<Environment>,
        source: String,
        workspace_path: String,
    ) -> Result<(), Error> {
        self.isolated(&env, "pull")?;
        check_env_path(&source)?;
        crate::workspace::check(&workspace_path).map_err(bad_path)?;
        let out = self
            .run
            .workspace
            .create_file(&workspace_path)
            .map_err(|e| Error::Invalid(format!("pull into '{workspace_path}': {e}")))?;
        let spec = self.transfer_spec(None, out)?;
        let copy = self.environment(&env)?.session.pull(spec, &source);
        let exit = match copy {
            Ok(copy) => copy.await,
            Err(e) => Err(e),
        };
        self.transfer_result("pull", &source, &workspace_path, exit)
    }

    async fn drop(&mut self, env: Resource<Environment>) -> wasmtime::Result<()> {
        let env = self.table().delete(env)?;
        if let Err(e) = env.session.close().await {
            self.run
                .log
                .warn("process", &format!("closing the environment: {e}"));
        }
        Ok(())
    }
}
