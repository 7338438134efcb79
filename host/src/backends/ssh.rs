//! The `ssh` backend (libtaskotron's `runtask --ssh user@host[:port]`):
//! commands run on another machine, through the system's OpenSSH client,
//! spawned with argv only.
//!
//! - Opening starts one ControlMaster connection that the session holds
//!   (a child `ssh -M -N`, killed when the session ends or runtask dies,
//!   with a short control path under /tmp); every command,
//!   copy and kill after it reuses that connection. ssh reads no config
//!   file (`-F /dev/null`) and runs with BatchMode, a connect timeout and
//!   keep-alives, so a dead network ends a command with an error within
//!   about 20 s. With `--ssh-privkey KEY` only that key is offered.
//! - Host keys are always checked: with `--ssh-known-hosts FILE` the key
//!   must be in FILE (`StrictHostKeyChecking=yes`); otherwise taskhost's
//!   own store records it at first use and refuses a changed one
//!   (`accept-new`).
//! - The remote side gets a directory of its own (`mktemp -d`): the copy
//!   of the workspace in `w/`, each command's process group id and exit
//!   status in `c/`. The workspace is copied there before each command
//!   and back after it ([`sync`]). Arguments and environment values that
//!   hold the workspace's path get the remote copy's path instead.
//! - A command runs as `cd DIR && env -i PATH=… HOME="$HOME" TMPDIR=… K=V
//!   … ARGV…` under a small wrapper, every word single-quoted for the
//!   remote user's login shell, which must be a POSIX shell. sshd makes
//!   the wrapper a session and process group leader: a timeout, a dropped
//!   command and the end of the session kill that group through a second
//!   ssh over the same connection, and the group is sent SIGTERM when the
//!   command ends. A process that leaves the group (setsid) is not found:
//!   there is no cgroup of ours on the remote machine.
//! - Commands run as the ssh user: `run_as_root` is refused unless that
//!   user is root. A memory limit (`command-memory`) cannot be enforced
//!   there and is refused too.

mod sync;
mod target;

pub use sync::{TRANSFER_ENV, Transfer};
pub use target::{DEFAULT_PORT, KnownHosts, Remote, Target, TargetError};

use super::{BackendError, BoxFuture, CommandFuture, PATH, ProcessExit, ProcessSpec};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sync::Excludes;
use tokio::process::Command;

/// The `ssh` backend.
pub struct Ssh;

/// Longest wait for the connection to be up.
const CONNECT_LIMIT: Duration = Duration::from_secs(60);
/// Longest wait for one of the host's own short remote scripts.
const HELPER_LIMIT: Duration = Duration::from_secs(30);
/// How long a session dropped without `close` waits for its cleanup.
const DROP_PATIENCE: Duration = Duration::from_secs(3);

impl super::Backend for Ssh {
    fn name(&self) -> &'static str {
        "ssh"
    }

    fn isolation(&self) -> super::Isolation {
        super::Isolation::Machine
    }

    fn environments(&self) -> &'static [&'static str] {
        &[]
    }

    fn check_available(&self) -> Result<(), BackendError> {
        check_available()
    }

    fn open<'a>(
        &'a self,
        request: super::OpenRequest<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn super::EnvironmentSession>, BackendError>> {
        Box::pin(async move {
            let session = open_session(request).await?;
            Ok(Box::new(session) as Box<dyn super::EnvironmentSession>)
        })
    }
}

fn unavailable(why: impl Into<String>) -> BackendError {
    BackendError::Unavailable {
        backend: "ssh",
        why: why.into(),
    }
}

/// The OpenSSH client, and rsync or tar to copy the workspace.
pub fn check_available() -> Result<(), BackendError> {
    if which("ssh").is_none() {
        return Err(unavailable(
            "the OpenSSH client (ssh) is not installed; install it with `apt-get install openssh-client`",
        ));
    }
    if which("rsync").is_none() && which("tar").is_none() {
        return Err(unavailable(
            "neither rsync nor tar is installed to copy the workspace; install rsync with `apt-get install rsync`",
        ));
    }
    Ok(())
}

fn which(program: &str) -> Option<PathBuf> {
    PATH.split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// `word` single-quoted for a POSIX shell: every character stays literal
/// (newlines, `$(…)`, `;`, braces and globs included). Always quoted:
/// `shell_words::quote` leaves `{a,b}` bare, which bash expands.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// A word that may go unquoted into rsync's `-e` (which rsync splits on
/// spaces itself).
fn plain_word(word: &str) -> bool {
    !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:@,".contains(&b))
}

/// `text` with each occurrence of directory `from` as a whole path (not
/// inside a longer name: `/ws` is in `/ws/a` and `--dir=/ws`, not in
/// `/wsx` or `a/ws`) replaced by `to`.
pub fn rewrite_path(text: &str, from: &str, to: &str) -> String {
    if from.is_empty() || from == "/" {
        return text.to_owned();
    }
    let name = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || "._-".contains(c));
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        out.push_str(&rest[..at]);
        let before = out.chars().next_back();
        let after = &rest[at + from.len()..];
        if name(before) || before == Some('/') || name(after.chars().next()) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The ssh options every invocation shares. `private` is the session's
/// own directory (control socket, links to the key and known_hosts).
fn ssh_options(remote: &Remote, private: &Path) -> Vec<String> {
    let p = private.display();
    let checking = match remote.known_hosts {
        KnownHosts::Given(_) => "yes",
        KnownHosts::FirstUse(_) => "accept-new",
    };
    let mut options: Vec<String> = vec!["-F".into(), "/dev/null".into()];
    for o in [
        "BatchMode=yes".to_string(),
        "ConnectTimeout=10".into(),
        "ServerAliveInterval=5".into(),
        "ServerAliveCountMax=3".into(),
        format!("StrictHostKeyChecking={checking}"),
        format!("UserKnownHostsFile={p}/known_hosts"),
        "GlobalKnownHostsFile=/dev/null".into(),
        "UpdateHostKeys=no".into(),
        "CheckHostIP=no".into(),
        "LogLevel=ERROR".into(),
        "ForwardAgent=no".into(),
        "ForwardX11=no".into(),
        "ClearAllForwardings=yes".into(),
        "PermitLocalCommand=no".into(),
        "RequestTTY=no".into(),
        "EscapeChar=none".into(),
        format!("ControlPath={p}/cm"),
    ] {
        options.push("-o".into());
        options.push(o);
    }
    options.extend([
        "-p".into(),
        remote.target.port().to_string(),
        "-l".into(),
        remote.target.user().into(),
    ]);
    if remote.key.is_some() {
        options.extend([
            "-i".into(),
            format!("{p}/key"),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
        ]);
    }
    options
}

/// What a session keeps; commands hold it too, so it lives until the
/// last of them is gone.
struct Inner {
    target: Target,
    known_hosts: KnownHosts,
    key: Option<PathBuf>,
    /// ssh's options (see [`ssh_options`]).
    options: Vec<String>,
    /// The ssh client's environment.
    client_env: Vec<(String, String)>,
    /// Control socket, links to the key and known_hosts, the master's log.
    private: tempfile::TempDir,
    /// The ControlMaster connection.
    master: Mutex<Option<std::process::Child>>,
    /// The remote directory: the workspace copy in `w/`, commands' state
    /// in `c/`.
    dir: String,
    /// The remote user's uid.
    uid: u32,
    transfer: Transfer,
    /// The local workspace, as given and canonical.
    workspace: PathBuf,
    canonical: PathBuf,
    commands: AtomicU32,
    /// Commands running now: while others run, copies only add and
    /// update files, never remove any.
    running: AtomicUsize,
    /// Held while copying. What the local workspace held right after the
    /// last copy back, when both sides held the same: if it still does,
    /// the next copy there is skipped.
    copies: tokio::sync::Mutex<Option<sync::Snapshot>>,
}

/// An environment of the `ssh` backend: a connection to one machine.
pub struct Session {
    inner: Arc<Inner>,
    closed: AtomicBool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ssh::Session")
            .field("target", &self.inner.target.to_string())
            .field("dir", &self.inner.dir)
            .field("transfer", &self.inner.transfer)
            .finish()
    }
}

/// Opens a session on the machine of `request.remote`.
pub(super) async fn open_session(request: super::OpenRequest<'_>) -> Result<Session, BackendError> {
    let remote = request.remote.ok_or_else(|| {
        BackendError::Failed(
            "the ssh backend needs a machine to run on: run with --ssh user@host[:port] \
             (and --ssh-privkey FILE for its key)"
                .into(),
        )
    })?;
    check_available()?;
    let started = Instant::now();
    let step = request
        .progress
        .spinner(&format!("connecting to {}", remote.target));
    let failed = |what: &str, e: io::Error| BackendError::Failed(format!("{what}: {e}"));
    // Short: a unix socket path holds at most 107 bytes.
    let private = tempfile::Builder::new()
        .prefix("taskhost-ssh-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in("/tmp")
        .map_err(|e| failed("creating a directory in /tmp for ssh's control socket", e))?;
    if let Some(key) = &remote.key {
        let key = std::path::absolute(key).map_err(|e| failed("--ssh-privkey", e))?;
        std::os::unix::fs::symlink(&key, private.path().join("key"))
            .map_err(|e| failed("linking the ssh key", e))?;
    }
    let known = std::path::absolute(remote.known_hosts.path())
        .map_err(|e| failed("the known_hosts file", e))?;
    if let KnownHosts::FirstUse(path) = &remote.known_hosts {
        prepare_store(path).map_err(|e| {
            failed(
                &format!("creating the known hosts store {}", path.display()),
                e,
            )
        })?;
    }
    std::os::unix::fs::symlink(&known, private.path().join("known_hosts"))
        .map_err(|e| failed("linking the known_hosts file", e))?;
    let options = ssh_options(remote, private.path());
    let mut client_env = Vec::new();
    if remote.key.is_none()
        && let Ok(agent) = std::env::var("SSH_AUTH_SOCK")
    {
        client_env.push(("SSH_AUTH_SOCK".to_string(), agent));
    }
    let master = start_master(remote, &options, &client_env, private.path())?;
    let canonical = request
        .workspace
        .canonicalize()
        .map_err(|e| failed("the workspace", e))?;
    let mut inner = Inner {
        target: remote.target.clone(),
        known_hosts: remote.known_hosts.clone(),
        key: remote.key.clone(),
        options,
        client_env,
        private,
        master: Mutex::new(Some(master)),
        dir: String::new(),
        uid: u32::MAX,
        transfer: Transfer::Rsync,
        workspace: request.workspace.to_path_buf(),
        canonical,
        commands: AtomicU32::new(0),
        running: AtomicUsize::new(0),
        copies: tokio::sync::Mutex::new(None),
    };
    let limit = request
        .deadline
        .saturating_duration_since(Instant::now())
        .min(CONNECT_LIMIT);
    inner.wait_master(limit).await?;
    inner.set_up().await?;
    drop(step);
    request.log.info(
        "process",
        &format!(
            "connected to {} in {:.1}s; remote directory {}, workspace copied with {}",
            inner.target,
            started.elapsed().as_secs_f64(),
            inner.dir,
            match inner.transfer {
                Transfer::Rsync => "rsync",
                Transfer::Tar => "tar",
            }
        ),
    );
    Ok(Session {
        inner: Arc::new(inner),
        closed: AtomicBool::new(false),
    })
}

/// Creates taskhost's known hosts store (and its directory) if missing.
fn prepare_store(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

fn start_master(
    remote: &Remote,
    options: &[String],
    client_env: &[(String, String)],
    private: &Path,
) -> Result<std::process::Child, BackendError> {
    let log = std::fs::File::create(private.join("master.log"))
        .map_err(|e| BackendError::Failed(format!("creating ssh's log: {e}")))?;
    // SAFETY: getpid is async-signal-safe.
    let parent = unsafe { libc::getpid() };
    let mut cmd = std::process::Command::new("ssh");
    // The connection ends with runtask, even if runtask is killed.
    // SAFETY: only prctl, getppid and kill, async-signal-safe, run between
    // fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGTERM);
            }
            Ok(())
        });
    }
    cmd.args(options)
        .args([
            "-M",
            "-N",
            "-o",
            "ControlMaster=yes",
            "-o",
            "ControlPersist=no",
            remote.target.host(),
        ])
        .env_clear()
        .env("PATH", PATH)
        .envs(client_env.iter().map(|(k, v)| (k, v)))
        .current_dir(private)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| BackendError::Failed(format!("starting ssh: {e}")))
}

/// What the remote wrapper recorded about a command.
#[derive(Debug, PartialEq, Eq)]
enum Recorded {
    Exit(i32),
    NotFound,
    NoCwd,
}

/// A command made ready to run over ssh.
struct Prepared {
    n: u32,
    /// The ssh client that runs it.
    client: ProcessSpec,
    excludes: Excludes,
    /// Its argv, for messages.
    shown: String,
    program: String,
    cwd: String,
    timeout: Duration,
    grace: Duration,
}

impl Inner {
    fn host_name(&self) -> String {
        self.target.bracketed_host()
    }

    /// ssh's argv running `script` over the master connection.
    fn ssh_argv(&self, script: &str) -> Vec<String> {
        let mut argv = vec!["ssh".to_string()];
        argv.extend(self.options.iter().cloned());
        argv.extend([
            "-o".to_string(),
            "ControlMaster=no".into(),
            self.target.host().into(),
            "--".into(),
            script.into(),
        ]);
        argv
    }

    fn command_for(&self, script: &str) -> Command {
        let argv = self.ssh_argv(script);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env_clear()
            .env("PATH", PATH)
            .envs(self.client_env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.private.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        cmd
    }

    /// Runs one of the host's own short scripts on the remote; its stdout.
    async fn script(&self, script: &str, limit: Duration) -> io::Result<String> {
        let out = tokio::time::timeout(limit, self.command_for(script).output())
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} did not answer within {}s", self.target, limit.as_secs()),
                )
            })??;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "ssh to {} failed ({}): {}",
                self.target,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// [`Inner::script`] for drop paths, on a thread of their own. ssh's
    /// own timeouts bound it.
    fn script_blocking(&self, script: &str) -> io::Result<()> {
        let argv = self.ssh_argv(script);
        let status = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .env("PATH", PATH)
            .envs(self.client_env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.private.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("ssh exited with {status}")))
        }
    }

    /// Whether the master connection is still up.
    fn master_alive(&self) -> bool {
        let mut master = self.master.lock().unwrap_or_else(|p| p.into_inner());
        master
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// The last lines ssh's master wrote (why it ended).
    fn master_log(&self) -> String {
        let text =
            std::fs::read_to_string(self.private.path().join("master.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(5)..].join("; ")
    }

    /// Waits until the master connection is up (its control socket
    /// exists), or says why it failed.
    async fn wait_master(&self, limit: Duration) -> Result<(), BackendError> {
        let socket = self.private.path().join("cm");
        let started = Instant::now();
        loop {
            if socket.exists() {
                return Ok(());
            }
            let ended = {
                let mut master = self.master.lock().unwrap_or_else(|p| p.into_inner());
                master.as_mut().and_then(|c| c.try_wait().ok().flatten())
            };
            if let Some(status) = ended {
                return Err(self.connect_error(&self.master_log(), status));
            }
            if started.elapsed() > limit {
                self.stop_master();
                return Err(BackendError::Failed(format!(
                    "no ssh connection to {} within {}s",
                    self.target,
                    limit.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Why connecting failed, and what to do about it.
    fn connect_error(&self, log: &str, status: std::process::ExitStatus) -> BackendError {
        let t = &self.target;
        let said = if log.is_empty() {
            format!("ssh exited with {status}")
        } else {
            format!("ssh said: {log}")
        };
        let name = self.target.known_hosts_name();
        let why = if log.contains("IDENTIFICATION HAS CHANGED") || log.contains("has changed") {
            match &self.known_hosts {
                KnownHosts::FirstUse(p) => format!(
                    "the host key of {t} has changed since taskhost first saw it (recorded in {}), \
                     so the connection is refused: someone may be intercepting it. If the \
                     machine's key was replaced on purpose, remove the old one with \
                     `ssh-keygen -f {} -R {}` and run again ({said})",
                    p.display(),
                    shell_words::quote(&p.display().to_string()),
                    shell_words::quote(&name)
                ),
                KnownHosts::Given(p) => format!(
                    "the host key of {t} does not match the one for {name} in {} \
                     (--ssh-known-hosts), so the connection is refused; if the key was \
                     replaced on purpose, update that file ({said})",
                    p.display()
                ),
            }
        } else if log.contains("host key is known") || log.contains("Host key verification failed")
        {
            match &self.known_hosts {
                KnownHosts::Given(p) => format!(
                    "the host key of {t} is not in {} (--ssh-known-hosts), so the connection is \
                     refused; add it once you have checked its fingerprint, e.g. \
                     `ssh-keyscan -p {} {} >> {}` ({said})",
                    p.display(),
                    t.port(),
                    t.host(),
                    shell_words::quote(&p.display().to_string())
                ),
                KnownHosts::FirstUse(p) => format!(
                    "the host key of {t} could not be checked against {} ({said})",
                    p.display()
                ),
            }
        } else if log.contains("Permission denied") || log.contains("Too many authentication") {
            let key = match &self.key {
                Some(k) => format!("the key {} (--ssh-privkey)", k.display()),
                None => "ssh's default keys and agent (give one with --ssh-privkey FILE)".into(),
            };
            format!(
                "{t} refused the login with {key}; check that its public key is in the \
                 authorized_keys of {} there ({said})",
                t.user()
            )
        } else if log.contains("Load key") || log.contains("no such identity") {
            format!("ssh cannot use the key: {said}")
        } else {
            format!("cannot connect to {t}: {said}")
        };
        BackendError::Failed(why)
    }

    /// Makes the remote directory and checks what the remote side has.
    async fn set_up(&mut self) -> Result<(), BackendError> {
        let script = "set -e; umask 077; \
             r=$(mktemp -d \"${TMPDIR:-/tmp}/taskhost.XXXXXXXXXX\"); \
             mkdir -p \"$r/w/.taskhost/tmp\" \"$r/c\"; echo \"dir=$r\"; echo \"uid=$(id -u)\"; \
             for p in rsync tar env cat cp rm mkdir; do \
             if command -v $p > /dev/null 2>&1; then echo \"has=$p\"; fi; done";
        let out = self
            .script(script, HELPER_LIMIT)
            .await
            .map_err(|e| BackendError::Failed(format!("preparing {}: {e}", self.target)))?;
        let field = |key: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::to_owned)
        };
        let has: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("has=")).collect();
        let dir = field("dir=").unwrap_or_default();
        if !dir.starts_with('/') || !plain_word(&dir) {
            return Err(BackendError::Failed(format!(
                "the remote directory on {} is '{dir}', a path that cannot be used safely \
                 (check TMPDIR of {} there)",
                self.target,
                self.target.user()
            )));
        }
        self.dir = dir;
        self.uid = field("uid=")
            .and_then(|u| u.parse().ok())
            .unwrap_or(u32::MAX);
        let missing: Vec<&str> = ["env", "cat", "cp", "rm", "mkdir"]
            .into_iter()
            .filter(|p| !has.contains(p))
            .collect();
        let forced_tar = std::env::var_os(TRANSFER_ENV).is_some_and(|v| v == "tar");
        self.transfer = if has.contains(&"rsync") && which("rsync").is_some() && !forced_tar {
            Transfer::Rsync
        } else if has.contains(&"tar") && which("tar").is_some() {
            Transfer::Tar
        } else {
            self.remove_remote_dir().await;
            return Err(BackendError::Failed(format!(
                "{} has neither rsync nor tar to receive the workspace; install rsync there",
                self.target
            )));
        };
        if !missing.is_empty() {
            self.remove_remote_dir().await;
            return Err(BackendError::Failed(format!(
                "{} lacks {} (coreutils)",
                self.target,
                missing.join(", ")
            )));
        }
        Ok(())
    }

    async fn remove_remote_dir(&self) {
        let _ = self.script(&self.cleanup_script(), HELPER_LIMIT).await;
    }

    /// Kills the process groups of commands still recorded, and removes
    /// the remote directory.
    fn cleanup_script(&self) -> String {
        let d = quote(&self.dir);
        format!(
            "cd / && for f in {d}/c/*.pid; do [ -f \"$f\" ] || continue; p=$(cat \"$f\"); \
             case $p in ''|*[!0-9]*) continue;; esac; kill -KILL -$p 2>/dev/null; done; rm -rf {d}"
        )
    }

    /// SIGTERM to command `n`'s process group, SIGKILL after `grace`;
    /// prints the last signal it took (nothing if the group was gone).
    fn kill_script(&self, n: u32, grace: Duration) -> String {
        let f = quote(&format!("{}/c/{n}.pid", self.dir));
        let tenths = grace.as_millis().div_ceil(100);
        format!(
            "p=$(cat {f} 2>/dev/null) || exit 0; case $p in ''|*[!0-9]*) exit 0;; esac; \
             if kill -TERM -$p 2>/dev/null; then s=TERM; i=0; \
             while [ $i -lt {tenths} ] && kill -0 -$p 2>/dev/null; do sleep 0.1; i=$((i+1)); done; \
             if kill -KILL -$p 2>/dev/null; then s=KILL; fi; echo $s; fi; rm -f {f}; exit 0"
        )
    }

    /// Kills command `n`'s process group there; the signal that ended it,
    /// if it still ran.
    async fn kill(&self, n: u32, grace: Duration, shown: &str) -> Option<i32> {
        match self
            .script(&self.kill_script(n, grace), grace + HELPER_LIMIT)
            .await
        {
            Ok(out) => match out.trim() {
                "TERM" => Some(libc::SIGTERM),
                "KILL" => Some(libc::SIGKILL),
                _ => None,
            },
            Err(e) => {
                tracing::warn!("killing `{shown}` on {}: {e}", self.target);
                Some(libc::SIGKILL)
            }
        }
    }

    /// The remote copy of local path `local`: under the remote workspace
    /// if it is in the local one, else the same path.
    fn remote_path(&self, local: &Path) -> String {
        let rel = local
            .strip_prefix(&self.workspace)
            .or_else(|_| local.strip_prefix(&self.canonical));
        match rel {
            Ok(rel) if rel.as_os_str().is_empty() => format!("{}/w", self.dir),
            Ok(rel) => format!("{}/w/{}", self.dir, rel.display()),
            Err(_) => local.display().to_string(),
        }
    }

    /// `text` with the local workspace's path turned into the remote one.
    fn rewrite(&self, text: &str) -> String {
        let to = format!("{}/w", self.dir);
        let mut text = text.to_owned();
        for from in [&self.workspace, &self.canonical] {
            if let Some(from) = from.to_str() {
                text = rewrite_path(&text, from.trim_end_matches('/'), &to);
            }
        }
        text
    }

    /// The workspace path of an open file, if it is in the workspace.
    fn workspace_path(&self, file: &std::fs::File) -> Option<PathBuf> {
        let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
        path.strip_prefix(&self.canonical)
            .ok()
            .map(Path::to_path_buf)
    }

    /// The remote wrapper of command `n`: records its process group and
    /// exit status, runs argv with a cleared environment, and ends what is
    /// left of its group.
    fn wrapper(
        &self,
        n: u32,
        cwd: &str,
        tmpdir: &str,
        env: &[(String, String)],
        argv: &[String],
    ) -> String {
        let c = quote(&format!("{}/c/{n}", self.dir));
        let mut run = format!(
            "env -i PATH=\"$PATH\" HOME=\"$HOME\" TMPDIR={}",
            quote(tmpdir)
        );
        for (k, v) in env {
            run.push(' ');
            run.push_str(&quote(&format!("{k}={v}")));
        }
        for word in argv {
            run.push(' ');
            run.push_str(&quote(word));
        }
        format!(
            "PATH={path}; export PATH; c={c}\n\
             echo $$ > \"$c.pid\" || exit 255\n\
             if ! cd {cwd}; then echo nocwd > \"$c.status\"; rm -f \"$c.pid\"; exit 255; fi\n\
             if ! command -v {program} > /dev/null 2>&1; then echo notfound > \"$c.status\"; \
             rm -f \"$c.pid\"; exit 127; fi\n\
             {run}\n\
             s=$?; echo \"exit $s\" > \"$c.status\"; rm -f \"$c.pid\"; trap '' TERM; \
             kill -TERM -$$ 2>/dev/null; exit $s",
            path = quote(PATH),
            cwd = quote(cwd),
            program = quote(&argv[0]),
        )
    }

    /// `spec` made into the ssh client that runs it remotely.
    fn prepare(&self, spec: ProcessSpec, as_root: bool) -> io::Result<Prepared> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        if as_root && self.uid != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "the ssh backend runs commands as {} (uid {}) on {}, and this command asks \
                     for root; run with --ssh root@{}:{}, or without run_as_root",
                    self.target.user(),
                    self.uid,
                    self.host_name(),
                    self.host_name(),
                    self.target.port()
                ),
            ));
        }
        if spec.memory_limit.is_some() {
            return Err(io::Error::other(format!(
                "the ssh backend cannot limit the memory of commands on {} (`command-memory` in \
                 the policy); remove that limit for this plugin, or use the local or unshare backend",
                self.target
            )));
        }
        let Some(program) = spec.argv.first() else {
            return Err(invalid("empty argv".into()));
        };
        if program.is_empty() || program.contains('=') {
            return Err(invalid(format!(
                "'{program}' cannot be run over ssh: a program name may not be empty or hold '='"
            )));
        }
        let words = spec
            .argv
            .iter()
            .chain(spec.env.iter().flat_map(|(k, v)| [k, v]));
        if words.clone().any(|w| w.contains('\0')) {
            return Err(invalid(
                "an argument or environment value holds a NUL byte".into(),
            ));
        }
        let n = self.commands.fetch_add(1, Ordering::Relaxed) + 1;
        let outputs = [&spec.stdout, &spec.stderr]
            .into_iter()
            .filter_map(|f| self.workspace_path(f));
        let excludes = Excludes::with_outputs(outputs);
        let cwd = self.remote_path(&spec.cwd);
        let tmpdir = self.remote_path(&spec.tmpdir);
        let env: Vec<(String, String)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.clone(), self.rewrite(v)))
            .collect();
        let argv: Vec<String> = spec.argv.iter().map(|w| self.rewrite(w)).collect();
        let script = self.wrapper(n, &cwd, &tmpdir, &env, &argv);
        let shown = shell_words::join(&spec.argv);
        let client = ProcessSpec {
            argv: self.ssh_argv(&script),
            env: self.client_env.clone(),
            cwd: self.private.path().to_path_buf(),
            tmpdir: self.private.path().to_path_buf(),
            stdin: spec.stdin,
            stdout: spec.stdout,
            stderr: spec.stderr,
            timeout: spec.timeout,
            output_limit: spec.output_limit,
            grace: spec.grace,
            memory_limit: None,
            containment: spec.containment,
        };
        Ok(Prepared {
            n,
            client,
            excludes,
            shown,
            program: program.clone(),
            cwd,
            timeout: spec.timeout,
            grace: spec.grace,
        })
    }

    /// The error of a command whose connection went away.
    fn lost(&self, shown: &str) -> io::Error {
        let log = self.master_log();
        let why = if log.is_empty() {
            String::new()
        } else {
            format!(" (ssh: {log})")
        };
        io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!(
                "the connection to {} was lost while running `{shown}`{why}; whether it \
                 finished there is unknown",
                self.target
            ),
        )
    }

    /// What the wrapper of command `n` recorded, if the connection still
    /// works.
    async fn recorded(&self, n: u32) -> Option<Recorded> {
        if !self.master_alive() {
            return None;
        }
        let f = quote(&format!("{}/c/{n}.status", self.dir));
        let text = self
            .script(&format!("cat {f} 2>/dev/null || true"), HELPER_LIMIT)
            .await
            .ok()?;
        match text.trim() {
            "notfound" => Some(Recorded::NotFound),
            "nocwd" => Some(Recorded::NoCwd),
            t => t
                .strip_prefix("exit ")
                .and_then(|c| c.parse().ok())
                .map(Recorded::Exit),
        }
    }

    /// Runs a prepared command; with `sync`, the workspace is copied
    /// there first and back afterwards.
    async fn run(self: Arc<Self>, p: Prepared, sync: bool) -> io::Result<ProcessExit> {
        let started = Instant::now();
        if !self.master_alive() {
            return Err(self.lost(&p.shown));
        }
        self.running.fetch_add(1, Ordering::SeqCst);
        let _running = Running(&self.running);
        if !sync {
            // It may change what is there (a push).
            *self.copies.lock().await = None;
        }
        if sync {
            match tokio::time::timeout(p.timeout, self.sync(&p.excludes, true)).await {
                Ok(copied) => copied?,
                Err(_) => {
                    return Ok(ProcessExit {
                        timed_out: true,
                        duration: started.elapsed(),
                        ..ProcessExit::default()
                    });
                }
            }
        }
        let mut client = p.client;
        let timeout = p.timeout.saturating_sub(started.elapsed());
        // At the timeout the command's group is killed there, which ends
        // ssh; ssh is killed here only if that fails. (Killing ssh alone
        // would not do: the master holds the command's output pipes.)
        client.timeout = timeout + p.grace + HELPER_LIMIT;
        // Dropping the command (a cancelled run) kills it there too.
        let mut group = RemoteGroup {
            inner: Some(self.clone()),
            n: p.n,
            grace: p.grace,
        };
        let running = super::local::run(client);
        tokio::pin!(running);
        let mut killed = None;
        let mut exit = tokio::select! {
            ended = &mut running => ended?,
            _ = tokio::time::sleep(timeout) => {
                killed = self.kill(p.n, p.grace, &p.shown).await;
                if killed.is_some() {
                    group.disarm();
                }
                running.await?
            }
        };
        if killed.is_some() || exit.timed_out {
            group.disarm();
            exit.timed_out = true;
            exit.code = None;
            exit.signal = killed.or(Some(libc::SIGKILL));
        } else if matches!(exit.code, Some(255 | 127) | None) {
            match self.recorded(p.n).await {
                Some(Recorded::Exit(code)) => {
                    exit.code = Some(code);
                    exit.signal = None;
                }
                Some(Recorded::NotFound) => {
                    group.disarm();
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!(
                            "program '{}' not found in PATH ({PATH}) on {}; is its package \
                             installed there?",
                            p.program, self.target
                        ),
                    ));
                }
                Some(Recorded::NoCwd) => {
                    group.disarm();
                    return Err(io::Error::other(format!(
                        "cannot enter {} on {}",
                        p.cwd, self.target
                    )));
                }
                None => return Err(self.lost(&p.shown)),
            }
        }
        group.disarm();
        if sync {
            self.sync(&p.excludes, false).await?;
        }
        exit.duration = started.elapsed();
        Ok(exit)
    }

    /// Ends the master connection and removes the session's own
    /// directory, even while a late kill still holds the session.
    fn finish(&self) {
        self.stop_master();
        let _ = std::fs::remove_dir_all(self.private.path());
    }

    /// Ends the master connection.
    fn stop_master(&self) {
        let mut master = self.master.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mut child) = master.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_master();
    }
}

/// Counts a command as running until dropped.
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Kills a started command's remote process group when dropped, unless
/// disarmed (it ended, or was killed already).
struct RemoteGroup {
    inner: Option<Arc<Inner>>,
    n: u32,
    grace: Duration,
}

impl RemoteGroup {
    fn disarm(&mut self) {
        self.inner = None;
    }
}

impl Drop for RemoteGroup {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let script = inner.kill_script(self.n, self.grace);
            std::thread::spawn(move || {
                if let Err(e) = inner.script_blocking(&script) {
                    tracing::warn!("killing a dropped command on {}: {e}", inner.target);
                }
            });
        }
    }
}

impl Session {
    /// Runs one of the host's own short scripts there; its stdout, or an
    /// error with its stderr.
    pub(super) async fn script(&self, script: &str, limit: Duration) -> io::Result<String> {
        self.inner.script(script, limit).await
    }

    /// Ends the connection without tidying the remote side (a machine
    /// about to be destroyed).
    pub(super) fn abandon(self) {
        self.closed.store(true, Ordering::Relaxed);
        self.inner.finish();
    }
}

impl super::EnvironmentSession for Session {
    fn shares_workspace(&self) -> bool {
        false
    }

    fn command(&self, spec: ProcessSpec, as_root: bool) -> io::Result<CommandFuture> {
        let prepared = self.inner.prepare(spec, as_root)?;
        Ok(Box::pin(self.inner.clone().run(prepared, true)))
    }

    /// `cp /dev/stdin TARGET` as the ssh user; the workspace does not move.
    fn push(&self, mut spec: ProcessSpec, target: &str) -> io::Result<CommandFuture> {
        spec.argv = ["cp", "/dev/stdin", target].map(String::from).to_vec();
        let prepared = self.inner.prepare(spec, false)?;
        Ok(Box::pin(self.inner.clone().run(prepared, false)))
    }

    /// `cat -- SOURCE` as the ssh user; the workspace does not move.
    fn pull(&self, mut spec: ProcessSpec, source: &str) -> io::Result<CommandFuture> {
        spec.argv = ["cat", "--", source].map(String::from).to_vec();
        let prepared = self.inner.prepare(spec, false)?;
        Ok(Box::pin(self.inner.clone().run(prepared, false)))
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), BackendError>> {
        self.closed.store(true, Ordering::Relaxed);
        let inner = self.inner.clone();
        Box::pin(async move {
            let removed = inner.script(&inner.cleanup_script(), HELPER_LIMIT).await;
            inner.finish();
            removed.map(drop).map_err(|e| {
                BackendError::Failed(format!("removing {} on {}: {e}", inner.dir, inner.target))
            })
        })
    }
}

impl Drop for Session {
    /// A session dropped without `close` (a cancelled run) still kills
    /// its commands there and removes its directory, on a thread that it
    /// waits for a moment (runtask may be about to exit).
    fn drop(&mut self) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        let inner = self.inner.clone();
        let (done, cleaned) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            if let Err(e) = inner.script_blocking(&inner.cleanup_script()) {
                tracing::warn!("cleaning up {} on {}: {e}", inner.dir, inner.target);
            }
            inner.finish();
            let _ = done.send(());
        });
        let _ = cleaned.recv_timeout(DROP_PATIENCE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `line` with sh, as the remote shell would.
    fn sh(line: &str) -> std::process::Output {
        std::process::Command::new("sh")
            .args(["-c", line])
            .output()
            .unwrap()
    }

    const HOSTILE: &[&str] = &[
        "it's",
        "$(touch pwned)",
        "`touch pwned`",
        "a\nb",
        "; touch pwned",
        "{a,b}",
        "*",
        "\"",
        "\\",
        " lead",
        "",
        "-n",
        "~",
        "#x",
        "$HOME",
        "'",
        "''",
        "a'\"'b",
        "\t",
        "|",
        "&",
        "!",
    ];

    #[test]
    fn quoted_words_reach_the_program_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let mut line = format!(
            "cd {} && printf '%s\\0' --",
            quote(dir.path().to_str().unwrap())
        );
        for w in HOSTILE {
            line.push(' ');
            line.push_str(&quote(w));
        }
        for shell in ["sh", "bash"] {
            let out = std::process::Command::new(shell)
                .args(["-c", &line])
                .output()
                .unwrap();
            assert!(out.status.success(), "{shell}: {out:?}");
            let got: Vec<String> = out
                .stdout
                .split(|b| *b == 0)
                .map(|w| String::from_utf8(w.to_vec()).unwrap())
                .collect();
            let mut want: Vec<String> = vec!["--".into()];
            want.extend(HOSTILE.iter().map(|s| s.to_string()));
            want.push(String::new());
            assert_eq!(got, want, "{shell}");
        }
        assert!(!dir.path().join("pwned").exists());
    }

    fn inner(workspace: &Path) -> Inner {
        let private = tempfile::tempdir().unwrap();
        Inner {
            target: Target::parse("qa@example.org:2222").unwrap(),
            known_hosts: KnownHosts::FirstUse("/nonexistent/known_hosts".into()),
            key: None,
            options: Vec::new(),
            client_env: Vec::new(),
            private,
            master: Mutex::new(None),
            dir: "/tmp/taskhost.remote".into(),
            uid: 1000,
            transfer: Transfer::Rsync,
            workspace: workspace.to_path_buf(),
            canonical: workspace.canonicalize().unwrap(),
            commands: AtomicU32::new(0),
            running: AtomicUsize::new(0),
            copies: tokio::sync::Mutex::new(None),
        }
    }

    #[test]
    fn the_wrapper_runs_the_argv_verbatim_with_a_cleared_environment() {
        let ws = tempfile::tempdir().unwrap();
        let mut i = inner(ws.path());
        // The "remote" directory is a local one here.
        let remote = tempfile::tempdir().unwrap();
        i.dir = remote.path().to_str().unwrap().to_string();
        std::fs::create_dir_all(remote.path().join("w/sub")).unwrap();
        std::fs::create_dir_all(remote.path().join("c")).unwrap();
        let mut argv: Vec<String> = vec![
            "sh".into(),
            "-c".into(),
            "printf '%s\\0' \"$@\"; env > env.txt; pwd -P > pwd.txt".into(),
            "sh".into(),
        ];
        argv.extend(HOSTILE.iter().map(|s| s.to_string()));
        let env = vec![("HOSTILE_VAR".to_string(), "$(id);\n'x'".to_string())];
        let cwd = format!("{}/w/sub", i.dir);
        let script = i.wrapper(7, &cwd, "/tmp/t", &env, &argv);
        let out = sh(&script);
        assert!(out.status.success(), "{out:?}");
        let got: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
        let want: Vec<&[u8]> = HOSTILE
            .iter()
            .map(|s| s.as_bytes())
            .chain([&b""[..]])
            .collect();
        assert_eq!(got, want);
        let sub = remote.path().join("w/sub");
        let env_txt = std::fs::read_to_string(sub.join("env.txt")).unwrap();
        let mut names: Vec<&str> = env_txt
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .filter(|k| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["HOME", "HOSTILE_VAR", "PATH", "PWD", "TMPDIR"],
            "{env_txt}"
        );
        assert!(env_txt.contains("HOSTILE_VAR=$(id);\n'x'\n"), "{env_txt}");
        assert!(env_txt.contains(&format!("PATH={PATH}\n")), "{env_txt}");
        assert_eq!(
            std::fs::read_to_string(sub.join("pwd.txt")).unwrap().trim(),
            sub.canonicalize().unwrap().to_str().unwrap()
        );
        // The status is recorded, the pid file removed.
        let c = remote.path().join("c");
        assert_eq!(
            std::fs::read_to_string(c.join("7.status")).unwrap(),
            "exit 0\n"
        );
        assert!(!c.join("7.pid").exists());
    }

    #[test]
    fn the_wrapper_records_exit_255_a_missing_program_and_a_missing_directory() {
        let ws = tempfile::tempdir().unwrap();
        let mut i = inner(ws.path());
        let remote = tempfile::tempdir().unwrap();
        i.dir = remote.path().to_str().unwrap().to_string();
        std::fs::create_dir_all(remote.path().join("w")).unwrap();
        std::fs::create_dir_all(remote.path().join("c")).unwrap();
        let w = format!("{}/w", i.dir);
        let status = |n: u32| std::fs::read_to_string(remote.path().join(format!("c/{n}.status")));
        let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

        let out = sh(&i.wrapper(1, &w, "/tmp", &[], &argv(&["sh", "-c", "exit 255"])));
        assert_eq!(out.status.code(), Some(255));
        assert_eq!(status(1).unwrap(), "exit 255\n");

        let out = sh(&i.wrapper(2, &w, "/tmp", &[], &argv(&["no-such-program-xyz"])));
        assert_eq!(out.status.code(), Some(127));
        assert_eq!(status(2).unwrap(), "notfound\n");

        let gone = format!("{}/w/nope", i.dir);
        let out = sh(&i.wrapper(3, &gone, "/tmp", &[], &argv(&["true"])));
        assert_eq!(out.status.code(), Some(255));
        assert_eq!(status(3).unwrap(), "nocwd\n");
    }

    #[test]
    fn the_workspace_path_is_rewritten_only_as_a_whole_path() {
        assert_eq!(rewrite_path("/ws/a", "/ws", "/r/w"), "/r/w/a");
        assert_eq!(rewrite_path("--dir=/ws", "/ws", "/r/w"), "--dir=/r/w");
        assert_eq!(
            rewrite_path("/wsx/a /ws:/ws/b", "/ws", "/r/w"),
            "/wsx/a /r/w:/r/w/b"
        );
        assert_eq!(rewrite_path("a/ws/b x/ws", "/ws", "/r/w"), "a/ws/b x/ws");
        assert_eq!(rewrite_path("/ws/ws", "/ws", "/r/w"), "/r/w/ws");
        assert_eq!(rewrite_path("nothing", "/ws", "/r/w"), "nothing");
        assert_eq!(rewrite_path("/x", "/", "/r"), "/x");

        let ws = tempfile::tempdir().unwrap();
        let i = inner(ws.path());
        let local = ws.path().to_str().unwrap();
        assert_eq!(
            i.rewrite(&format!("{local}/rpms/x.rpm")),
            "/tmp/taskhost.remote/w/rpms/x.rpm"
        );
        assert_eq!(i.remote_path(ws.path()), "/tmp/taskhost.remote/w");
        assert_eq!(
            i.remote_path(&ws.path().join(".taskhost/tmp")),
            "/tmp/taskhost.remote/w/.taskhost/tmp"
        );
        assert_eq!(i.remote_path(Path::new("/tmp")), "/tmp");
    }

    fn spec(dir: &Path, argv: &[&str]) -> ProcessSpec {
        ProcessSpec {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            cwd: dir.to_path_buf(),
            tmpdir: dir.to_path_buf(),
            stdin: None,
            stdout: std::fs::File::create(dir.join("out")).unwrap(),
            stderr: std::fs::File::create(dir.join("err")).unwrap(),
            timeout: Duration::from_secs(5),
            output_limit: 1 << 20,
            grace: Duration::from_millis(200),
            memory_limit: None,
            containment: super::super::Containment::default(),
        }
    }

    #[test]
    fn root_memory_limits_and_odd_program_names_are_refused() {
        let ws = tempfile::tempdir().unwrap();
        let i = inner(ws.path());
        let e = i.prepare(spec(ws.path(), &["id"]), true).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("--ssh root@example.org:2222"), "{e}");
        let mut limited = spec(ws.path(), &["id"]);
        limited.memory_limit = Some(1 << 30);
        let e = i.prepare(limited, false).err().unwrap();
        assert!(e.to_string().contains("command-memory"), "{e}");
        let e = i
            .prepare(spec(ws.path(), &["A=b", "x"]), false)
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = i
            .prepare(spec(ws.path(), &["echo", "a\0b"]), false)
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn the_outputs_in_the_workspace_do_not_travel() {
        let ws = tempfile::tempdir().unwrap();
        let i = inner(ws.path());
        let p = i.prepare(spec(ws.path(), &["true"]), false).unwrap();
        assert!(p.excludes.excluded(Path::new("out")));
        assert!(p.excludes.excluded(Path::new("err")));
        assert!(!p.excludes.excluded(Path::new("other")));
        // The client is ssh, with the options before the host.
        let argv = &p.client.argv;
        assert_eq!(argv[0], "ssh");
        let host = argv.iter().position(|a| a == "example.org").unwrap();
        assert_eq!(argv[host + 1], "--");
        assert_eq!(argv.len(), host + 3);
    }

    #[test]
    fn ssh_never_skips_the_host_key_check_and_reads_no_config() {
        let private = Path::new("/tmp/taskhost-ssh-x");
        let remote = |known_hosts| Remote {
            target: Target::parse("u@h:2200").unwrap(),
            key: Some("/k".into()),
            known_hosts,
        };
        let given = ssh_options(&remote(KnownHosts::Given("/kh".into())), private);
        let first = ssh_options(&remote(KnownHosts::FirstUse("/kh".into())), private);
        assert!(given.contains(&"StrictHostKeyChecking=yes".to_string()));
        assert!(first.contains(&"StrictHostKeyChecking=accept-new".to_string()));
        for options in [&given, &first] {
            assert_eq!(options[..2], ["-F", "/dev/null"]);
            assert!(
                !options
                    .iter()
                    .any(|o| o.starts_with("StrictHostKeyChecking=no"))
            );
            for needed in [
                "BatchMode=yes",
                "IdentitiesOnly=yes",
                "ServerAliveInterval=5",
            ] {
                assert!(options.contains(&needed.to_string()), "{needed}");
            }
            assert!(options.windows(2).any(|w| w == ["-p", "2200"]));
            assert!(
                options
                    .windows(2)
                    .any(|w| w == ["-i", "/tmp/taskhost-ssh-x/key"])
            );
            assert!(options.iter().all(|o| plain_word(o)), "{options:?}");
        }
    }
}
