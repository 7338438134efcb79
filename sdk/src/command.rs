//! Running programs through the host's process capability.

use crate::host::process as raw;
use crate::{ArtifactId, Result};
use std::time::Duration;

/// An execution environment: where commands run. A backend such as
/// `local` (the host itself), `unshare` or `qemu`, which the manifest must
/// declare (`backends`) and the policy grant.
///
/// ```
/// use taskhost_sdk::{Command, Environment};
/// # use taskhost_sdk::testing::{FakeHost, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let env = Environment::open("auto")?;
/// let exit = env.run(&Command::new("dpkg").arg("--version"))?;
/// assert!(exit.success());
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().reply("dpkg --version", Reply::exit(0)).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// ```
pub struct Environment(raw::Environment);

impl Environment {
    /// Opens `backend` ("auto", "local", ...), with no environment
    /// artifact. "auto" picks the best backend the policy grants. An
    /// undeclared or ungranted backend is [`Error::AccessDenied`](crate::Error::AccessDenied).
    ///
    /// ```
    /// use taskhost_sdk::Environment;
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let env = Environment::open("auto")?;
    /// taskhost_sdk::log::info(format!("running on {}", env.backend()));
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.backends, ["local"]);
    /// ```
    pub fn open(backend: &str) -> Result<Self> {
        raw::Environment::open(backend, None).map(Environment)
    }

    /// Opens `backend` built from environment artifact `environment` (for
    /// example a `debian:system-tarball` input for `unshare`). The
    /// artifact must be an input of the run.
    ///
    /// ```
    /// use taskhost_sdk::Environment;
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let tarball = 12; // an input artifact, e.g. task_data's `environment`
    /// let env = Environment::open_with("unshare", tarball)?;
    /// assert_eq!(env.backend(), "unshare");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().input(taskhost_sdk::testing::Input::new(12, "debian:system-tarball")).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn open_with(backend: &str, environment: ArtifactId) -> Result<Self> {
        raw::Environment::open(backend, Some(environment)).map(Environment)
    }

    /// The backend in use: the one "auto" picked, for example `local`.
    ///
    /// ```
    /// use taskhost_sdk::Environment;
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let env = Environment::open("auto")?;
    /// assert_eq!(env.backend(), "local");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn backend(&self) -> String {
        self.0.backend()
    }

    /// Runs `command` to completion and returns how it ended. The argv must
    /// match an `exec` pattern the manifest declares and the policy grants,
    /// else [`Error::AccessDenied`](crate::Error::AccessDenied). A command
    /// that exits non-zero is still `Ok`: look at [`ExitStatus`].
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let env = Environment::open("auto")?;
    /// let exit = env.run(&Command::new("lintian").arg("--version"))?;
    /// taskhost_sdk::log::info(exit.read_stdout()?);
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("lintian --version", Reply::exit(0).stdout("Lintian v2.116")).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.log[0].1, "Lintian v2.116");
    /// ```
    pub fn run(&self, command: &Command) -> Result<ExitStatus> {
        self.0.run(&command.0).map(ExitStatus)
    }

    /// Starts `command` and returns at once; follow it with
    /// [`Running::wait`]. Dropping the [`Running`] before the command ends
    /// kills it. A run has at most 8 commands running at once. The same
    /// checks as [`Environment::run`] apply.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let env = Environment::open("auto")?;
    /// let build = env.start(&Command::new("sbuild").arg("hello.dsc"))?;
    /// // ... report progress while it runs ...
    /// let exit = build.wait()?;
    /// assert_eq!(exit.code(), Some(0));
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("sbuild *", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn start(&self, command: &Command) -> Result<Running> {
        self.0.start(&command.0).map(Running)
    }

    /// Copies workspace file `workspace_path` into the environment at
    /// `target`.
    ///
    /// ```
    /// use taskhost_sdk::Environment;
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// std::fs::write("hello.dsc", "...")?;
    /// let env = Environment::open("auto")?;
    /// env.push("hello.dsc", "/build/hello.dsc")?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn push(&self, workspace_path: &str, target: &str) -> Result<()> {
        self.0.push(workspace_path, target)
    }

    /// Copies `source` out of the environment into workspace file
    /// `workspace_path`.
    ///
    /// ```
    /// use taskhost_sdk::Environment;
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let env = Environment::open("auto")?;
    /// env.pull("/build/hello.log", "hello.log")?;
    /// let log = std::fs::read_to_string("hello.log")?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().environment_file("/build/hello.log", "built").execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.workspace_file("hello.log").as_deref(), Some(&b"built"[..]));
    /// ```
    pub fn pull(&self, source: &str, workspace_path: &str) -> Result<()> {
        self.0.pull(source, workspace_path)
    }
}

/// A command started with [`Environment::start`]. Dropping it before the
/// command ends kills the command (its whole process group).
///
/// ```
/// use std::time::Duration;
/// use taskhost_sdk::{Command, Environment};
/// # use taskhost_sdk::testing::{FakeHost, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let env = Environment::open("auto")?;
/// let running = env.start(&Command::new("autopkgtest").arg("hello.dsc"))?;
/// let exit = loop {
///     if let Some(exit) = running.wait_timeout(Duration::from_secs(10))? {
///         break exit;
///     }
///     taskhost_sdk::log::info("autopkgtest still running");
/// };
/// #         assert!(exit.success());
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().reply("autopkgtest *", Reply::exit(0)).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// ```
pub struct Running(raw::Running);

impl Running {
    /// Waits up to `timeout` for the command to end: its exit status, or
    /// `None` while it still runs. Once it has ended, every call returns
    /// its exit status again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let running = Environment::open("auto")?.start(&Command::new("sleep").arg("1"))?;
    /// match running.wait_timeout(Duration::from_millis(100))? {
    ///     Some(exit) => taskhost_sdk::log::info(format!("done: {:?}", exit.code())),
    ///     None => taskhost_sdk::log::info("still running"),
    /// }
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("sleep *", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.0.wait(ms).map(|e| e.map(ExitStatus))
    }

    /// Waits for the command to end, however long it takes (the command's
    /// own timeout and the task's deadline still apply).
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let running = Environment::open("auto")?.start(&Command::new("piuparts").arg("hello.deb"))?;
    /// let exit = running.wait()?;
    /// assert!(exit.success());
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("piuparts *", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn wait(&self) -> Result<ExitStatus> {
        loop {
            if let Some(exit) = self.wait_timeout(Duration::from_secs(3600))? {
                return Ok(exit);
            }
        }
    }
}

/// An argv command under construction: a program and its arguments,
/// never a shell string. Run it with [`Environment::run`].
///
/// ```
/// use std::time::Duration;
/// use taskhost_sdk::Command;
///
/// let cmd = Command::new("lintian")
///     .args(["--info", "--display-info"])
///     .arg("hello_1.0_amd64.changes")
///     .env("LANG", "C.UTF-8")
///     .stdout("lintian.txt")
///     .timeout(Duration::from_secs(600));
/// assert_eq!(cmd.argv(), ["lintian", "--info", "--display-info", "hello_1.0_amd64.changes"]);
/// ```
#[derive(Clone, Debug)]
pub struct Command(raw::Command);

impl Command {
    /// A command running `program` with no arguments. `program` is looked
    /// up in the backend's PATH unless it is absolute.
    ///
    /// ```
    /// let cmd = taskhost_sdk::Command::new("blhc");
    /// assert_eq!(cmd.argv(), ["blhc"]);
    /// ```
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

    /// Appends one argument.
    ///
    /// ```
    /// let cmd = taskhost_sdk::Command::new("blhc").arg("--debian").arg("hello.build");
    /// assert_eq!(cmd.argv(), ["blhc", "--debian", "hello.build"]);
    /// ```
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.0.argv.push(arg.into());
        self
    }

    /// Appends every argument of `args`.
    ///
    /// ```
    /// let files = vec!["a.sh".to_string(), "b.sh".to_string()];
    /// let cmd = taskhost_sdk::Command::new("shellcheck").arg("--format=json1").args(files);
    /// assert_eq!(cmd.argv(), ["shellcheck", "--format=json1", "a.sh", "b.sh"]);
    /// ```
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.0.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable. The name must be declared in the
    /// manifest (`env`) and granted, else running the command is
    /// [`Error::AccessDenied`](crate::Error::AccessDenied). A command starts
    /// from an empty environment plus PATH, TMPDIR and the variables set
    /// here.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let env = Environment::open("auto")?;
    /// env.run(&Command::new("make").env("LANG", "C.UTF-8"))?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("make", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.invocations[0].env, [("LANG".to_string(), "C.UTF-8".to_string())]);
    /// ```
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.env.push((name.into(), value.into()));
        self
    }

    /// Runs in workspace directory `dir` (default: the workspace).
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// std::fs::create_dir_all("src/hello")?;
    /// let env = Environment::open("auto")?;
    /// env.run(&Command::new("dpkg-buildpackage").arg("-us").cwd("src/hello"))?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("dpkg-buildpackage **", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.invocations[0].cwd.as_deref(), Some("src/hello"));
    /// ```
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.0.cwd = Some(dir.into());
        self
    }

    /// Feeds workspace file `path` to stdin (default: empty stdin).
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// std::fs::write("input.txt", "hello\n")?;
    /// let env = Environment::open("auto")?;
    /// env.run(&Command::new("wc").arg("-l").stdin("input.txt"))?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("wc -l", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.invocations[0].stdin.as_deref(), Some("input.txt"));
    /// ```
    pub fn stdin(mut self, path: impl Into<String>) -> Self {
        self.0.stdin = Some(path.into());
        self
    }

    /// Writes stdout to workspace file `path` (default: a file under
    /// `.taskhost/`); [`ExitStatus::stdout_path`] names it either way.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let env = Environment::open("auto")?;
    /// let exit = env.run(&Command::new("lintian").arg("hello.changes").stdout("lintian.txt"))?;
    /// assert_eq!(exit.stdout_path(), "lintian.txt");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("lintian *", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn stdout(mut self, path: impl Into<String>) -> Self {
        self.0.stdout = Some(path.into());
        self
    }

    /// Writes stderr to workspace file `path` (default: a file under
    /// `.taskhost/`). The same path as stdout gives one file with both.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let env = Environment::open("auto")?;
    /// let build = Command::new("sbuild").arg("hello.dsc").stdout("build.log").stderr("build.log");
    /// let exit = env.run(&build)?;
    /// assert_eq!(exit.stderr_path(), "build.log");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("sbuild *", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn stderr(mut self, path: impl Into<String>) -> Self {
        self.0.stderr = Some(path.into());
        self
    }

    /// Kills the command (SIGTERM, then SIGKILL) after `timeout`; see
    /// [`ExitStatus::timed_out`]. The host caps it at the task's deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskhost_sdk::{Command, Environment, Status};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let env = Environment::open("auto")?;
    /// let exit = env.run(&Command::new("autopkgtest").arg("hello.dsc").timeout(Duration::from_secs(3600)))?;
    /// if exit.timed_out() {
    ///     return Ok(Status::Failure);
    /// }
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("autopkgtest *", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.invocations[0].timeout_ms, Some(3_600_000));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.timeout_ms = Some(timeout.as_millis().try_into().unwrap_or(u64::MAX));
        self
    }

    /// Runs as root inside an isolated environment (`unshare`, `qemu`). On
    /// `local` it has no effect (commands run as runtask's user); `ssh`
    /// refuses it unless it logs in as root.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let env = Environment::open("unshare")?;
    /// env.run(&Command::new("apt-get").args(["install", "-y", "hello"]).as_root())?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("apt-get **", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert!(run.invocations[0].run_as_root);
    /// ```
    pub fn as_root(mut self) -> Self {
        self.0.run_as_root = true;
        self
    }

    /// The argv, for logs and error messages.
    ///
    /// ```
    /// let cmd = taskhost_sdk::Command::new("piuparts").arg("hello.deb");
    /// assert_eq!(cmd.argv().join(" "), "piuparts hello.deb");
    /// ```
    pub fn argv(&self) -> &[String] {
        &self.0.argv
    }
}

/// How a command ended, and where its output is: what
/// [`Environment::run`] returns.
///
/// ```
/// use taskhost_sdk::{Command, Environment, Error};
/// # use taskhost_sdk::testing::{FakeHost, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let exit = Environment::open("auto")?.run(&Command::new("blhc").arg("hello.build"))?;
/// match exit.code() {
///     Some(0) => {}
///     Some(1) => taskhost_sdk::log::info("no compiler commands found"),
///     _ => return Err(Error::failed(format!("blhc: {}", exit.read_stderr()?))),
/// }
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().reply("blhc *", Reply::exit(1)).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// ```
#[derive(Clone, Debug)]
pub struct ExitStatus(raw::ExitStatus);

/// How the command ended, for messages: `exited with code 2`, `was killed
/// by signal 11 (SIGSEGV)`, `ran past its time limit`.
///
/// ```
/// use taskhost_sdk::{Command, Environment, Error};
/// # use taskhost_sdk::testing::{FakeHost, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let exit = Environment::open("auto")?.run(&Command::new("crashy"))?;
/// if !exit.success() {
///     return Err(Error::failed(format!("crashy {exit}")));
/// }
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().reply("crashy", Reply::signal(11)).execute::<Demo>();
/// # assert_eq!(run.status, Err(Error::failed("crashy was killed by signal 11 (SIGSEGV)")));
/// ```
impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: &[(i32, &str)] = &[
            (1, "SIGHUP"),
            (2, "SIGINT"),
            (3, "SIGQUIT"),
            (4, "SIGILL"),
            (6, "SIGABRT"),
            (7, "SIGBUS"),
            (8, "SIGFPE"),
            (9, "SIGKILL"),
            (11, "SIGSEGV"),
            (13, "SIGPIPE"),
            (14, "SIGALRM"),
            (15, "SIGTERM"),
        ];
        match (self.0.timed_out, self.0.code, self.0.signal) {
            (true, _, _) => write!(f, "ran past its time limit"),
            (_, Some(code), _) => write!(f, "exited with code {code}"),
            (_, None, Some(signal)) => match NAMES.iter().find(|(n, _)| *n == signal) {
                Some((_, name)) => write!(f, "was killed by signal {signal} ({name})"),
                None => write!(f, "was killed by signal {signal}"),
            },
            (_, None, None) => write!(f, "ended abnormally"),
        }
    }
}

impl ExitStatus {
    /// Exit code, if it exited by itself.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let exit = Environment::open("auto")?.run(&Command::new("lintian").arg("hello.changes"))?;
    /// assert_eq!(exit.code(), Some(2));
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("lintian *", Reply::exit(2)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn code(&self) -> Option<i32> {
        self.0.code
    }

    /// Exited with code 0.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let exit = Environment::open("auto")?.run(&Command::new("true"))?;
    /// assert!(exit.success());
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("true", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn success(&self) -> bool {
        self.0.code == Some(0)
    }

    /// The signal that ended the command, if one did (it has no exit code
    /// then).
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let exit = Environment::open("auto")?.run(&Command::new("crashy"))?;
    /// assert_eq!((exit.code(), exit.signal()), (None, Some(11)));
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("crashy", Reply::signal(11)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn signal(&self) -> Option<i32> {
        self.0.signal
    }

    /// The command ran past its [`Command::timeout`] and was killed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let slow = Command::new("autopkgtest").timeout(Duration::from_secs(60));
    /// let exit = Environment::open("auto")?.run(&slow)?;
    /// assert!(exit.timed_out() && !exit.success());
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("autopkgtest", Reply::timed_out()).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0.timed_out
    }

    /// Output past the host's size cap was dropped.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let exit = Environment::open("auto")?.run(&Command::new("noisy"))?;
    /// if exit.truncated() {
    ///     taskhost_sdk::log::warn("noisy: output truncated");
    /// }
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("noisy", Reply::exit(0).truncated()).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.log.len(), 1);
    /// ```
    pub fn truncated(&self) -> bool {
        self.0.truncated
    }

    /// Workspace path of the stdout file.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let exit = Environment::open("auto")?.run(&Command::new("lintian").arg("x.changes"))?;
    /// let report = taskhost_sdk::artifacts::NewArtifact::new("debian:lintian")
    ///     .file("lintian.txt", exit.stdout_path());
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("lintian *", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn stdout_path(&self) -> &str {
        &self.0.stdout
    }

    /// Workspace path of the stderr file.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let exit = Environment::open("auto")?.run(&Command::new("sbuild").arg("x.dsc"))?;
    /// let errors = std::fs::read_to_string(exit.stderr_path())?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("sbuild *", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn stderr_path(&self) -> &str {
        &self.0.stderr
    }

    /// Reads the captured stdout.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let exit = Environment::open("auto")?.run(&Command::new("dpkg").arg("--print-architecture"))?;
    /// assert_eq!(exit.read_stdout()?.trim(), "amd64");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("dpkg *", Reply::exit(0).stdout("amd64\n")).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn read_stdout(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&std::fs::read(&self.0.stdout)?).into_owned())
    }

    /// Reads the captured stderr.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment, Error};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let exit = Environment::open("auto")?.run(&Command::new("dpkg-source").arg("-x"))?;
    /// if !exit.success() {
    ///     return Err(Error::failed(format!("dpkg-source: {}", exit.read_stderr()?.trim())));
    /// }
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("dpkg-source *", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn read_stderr(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&std::fs::read(&self.0.stderr)?).into_owned())
    }

    /// Decodes the captured stdout as JSON (a tool's `--format=json`
    /// output); the error names the file and where the JSON broke.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// #[derive(serde::Deserialize)]
    /// struct Report { comments: Vec<serde_json::Value> }
    /// let env = Environment::open("auto")?;
    /// let exit = env.run(&Command::new("shellcheck").arg("--format=json1").arg("run.sh"))?;
    /// let report: Report = exit.stdout_json()?;
    /// assert_eq!(report.comments.len(), 1);
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("shellcheck **", Reply::exit(1).stdout(r#"{"comments": [{"level": "warning"}]}"#)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn stdout_json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let bytes = std::fs::read(&self.0.stdout)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            crate::Error::failed(format!(
                "{}: not the JSON expected: {e} (exit code {:?})",
                self.0.stdout, self.0.code
            ))
        })
    }

    /// How long the command ran (wall time).
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment};
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let exit = Environment::open("auto")?.run(&Command::new("make"))?;
    /// taskhost_sdk::log::info(format!("make took {:.1}s", exit.duration().as_secs_f64()));
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().reply("make", Reply::exit(0)).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.0.duration_ms)
    }
}
