//! The `local` backend: runs commands on the host with a cleared
//! environment and argv only, each contained (see [`super::Containment`]):
//! in its own cgroup, or under a reaper, and in its own process group.

use super::cgroup::{CgroupError, CommandCgroup, Usage};
use super::{CONTAINMENT_ENV, Containment, PATH, ProcessExit, ProcessSpec, reaper};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// What holds a command's processes. Dropping it kills them all.
enum Holder {
    Cgroup(CommandCgroup),
    Reaper(reaper::Client),
}

/// A started command.
struct Running {
    child: Child,
    holder: Holder,
}

/// How long the processes of a finished command may take to die.
const DYING: Duration = Duration::from_secs(10);

impl Running {
    /// Spawns `argv` contained as `containment` says; `setup` sets the
    /// environment, directory and stdio.
    fn spawn(
        argv: &[String],
        containment: &Containment,
        memory_limit: Option<u64>,
        grace: Duration,
        setup: impl FnOnce(&mut Command),
    ) -> io::Result<Running> {
        let Some((program, args)) = argv.split_first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty argv"));
        };
        let why_not_cgroup = if containment.cgroups {
            match CommandCgroup::create(memory_limit) {
                Ok(cgroup) => return Running::in_cgroup(cgroup, program, args, setup),
                Err(CgroupError::Unavailable(why)) => why,
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        } else {
            format!("cgroups are turned off (Containment::cgroups, or {CONTAINMENT_ENV}=reaper)")
        };
        let Some(reaper_program) = &containment.reaper else {
            return Err(io::Error::other(format!(
                "cannot contain the command's processes: {why_not_cgroup}, and no reaper \
                 program is configured (Containment::reaper; runtask serves as its own)"
            )));
        };
        if memory_limit.is_some() {
            let why = format!("commands run without a cgroup here ({why_not_cgroup})");
            return Err(io::Error::other(
                CgroupError::NoMemoryLimit(why).to_string(),
            ));
        }
        Running::under_reaper(reaper_program, argv, grace, setup)
    }

    fn in_cgroup(
        cgroup: CommandCgroup,
        program: &str,
        args: &[String],
        setup: impl FnOnce(&mut Command),
    ) -> io::Result<Running> {
        let mut cmd = Command::new(program);
        cmd.args(args).kill_on_drop(true);
        setup(&mut cmd);
        let fds = cgroup.join_fds();
        // SAFETY: only write(2), async-signal-safe, runs between fork and exec.
        unsafe { cmd.pre_exec(move || join_cgroups(&fds)) };
        Ok(Running {
            child: cmd.spawn()?,
            holder: Holder::Cgroup(cgroup),
        })
    }

    fn under_reaper(
        reaper_program: &std::path::Path,
        argv: &[String],
        grace: Duration,
        setup: impl FnOnce(&mut Command),
    ) -> io::Result<Running> {
        let (client, theirs) = reaper::Client::pair()?;
        let mut cmd = Command::new(reaper_program);
        // Never SIGKILL the reaper: its descendants would escape. Dropping
        // the client tells it to kill them.
        cmd.args(reaper::args(grace, argv)).kill_on_drop(false);
        setup(&mut cmd);
        // SAFETY: only dup2/fcntl, async-signal-safe, run between fork and exec.
        unsafe { cmd.pre_exec(move || control_at_fd3(&theirs)) };
        let child = cmd.spawn().map_err(|e| {
            io::Error::other(format!(
                "starting the reaper {}: {e}",
                reaper_program.display()
            ))
        })?;
        Ok(Running {
            child,
            holder: Holder::Reaper(client),
        })
    }

    /// Waits for the command itself to end.
    async fn wait(&mut self) -> io::Result<(ExitStatus, Usage)> {
        match &mut self.holder {
            Holder::Cgroup(_) => Ok((self.child.wait().await?, Usage::default())),
            Holder::Reaper(client) => {
                let report = client.wait().await;
                // The reaper exits right after its report.
                let _ = self.child.wait().await;
                let report = report?;
                Ok((
                    ExitStatus::from_raw(report.raw_status),
                    Usage {
                        cpu_time: Some(report.cpu_time),
                        peak_memory: Some(report.max_rss),
                        oom_killed: false,
                    },
                ))
            }
        }
    }

    /// SIGTERM to every process of the command.
    fn terminate(&self) {
        match &self.holder {
            Holder::Cgroup(cgroup) => cgroup.signal_all(libc::SIGTERM),
            Holder::Reaper(client) => client.terminate(),
        }
    }

    /// SIGKILL to every process of the command.
    fn kill(&self) {
        match &self.holder {
            Holder::Cgroup(cgroup) => cgroup.kill(),
            Holder::Reaper(client) => client.kill(),
        }
    }

    /// Kills what the command left behind and waits until it is gone.
    async fn finish(mut self, usage: Usage) -> Usage {
        match &mut self.holder {
            Holder::Cgroup(cgroup) => {
                let emptied = cgroup.kill_and_wait(DYING).await;
                let usage = cgroup.usage();
                if emptied {
                    cgroup.remove();
                } else {
                    // Dropping it tries again, on a thread.
                    tracing::warn!("processes of a finished command are still dying");
                }
                usage
            }
            // The reaper reports only once everything is gone.
            Holder::Reaper(_) => usage,
        }
    }
}

/// In the child: joins the cgroups whose `cgroup.procs` are open as `fds`.
fn join_cgroups(fds: &[i32]) -> io::Result<()> {
    for &fd in fds {
        // SAFETY: write(2) of a constant to an open descriptor.
        if unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// In the child: places the reaper's control socket at descriptor 3,
/// without close-on-exec.
fn control_at_fd3(fd: &OwnedFd) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: dup2/fcntl on descriptors of this (forked) process.
    let ok = unsafe {
        if fd == 3 {
            libc::fcntl(3, libc::F_SETFD, 0) == 0
        } else {
            libc::dup2(fd, 3) == 3
        }
    };
    if ok {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The `local` backend: no environment, no isolation, the workspace as
/// it is.
pub struct Local;

impl super::Backend for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn isolation(&self) -> super::Isolation {
        super::Isolation::None
    }

    fn environments(&self) -> &'static [&'static str] {
        &[]
    }

    fn check_available(&self) -> Result<(), super::BackendError> {
        Ok(())
    }

    fn open<'a>(
        &'a self,
        _: super::OpenRequest<'a>,
    ) -> super::BoxFuture<'a, Result<Box<dyn super::EnvironmentSession>, super::BackendError>> {
        Box::pin(async { Ok(Box::new(LocalSession) as Box<dyn super::EnvironmentSession>) })
    }
}

/// An environment of the `local` backend: the host itself.
#[derive(Debug)]
pub struct LocalSession;

impl super::EnvironmentSession for LocalSession {
    fn shares_workspace(&self) -> bool {
        true
    }

    fn command(&self, spec: ProcessSpec, _as_root: bool) -> io::Result<super::CommandFuture> {
        Ok(Box::pin(run(spec)))
    }

    fn close(self: Box<Self>) -> super::BoxFuture<'static, Result<(), super::BackendError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Runs `spec` to completion.
pub async fn run(spec: ProcessSpec) -> io::Result<ProcessExit> {
    let started = Instant::now();
    let ProcessSpec {
        argv,
        env,
        cwd,
        tmpdir,
        stdin,
        stdout,
        stderr,
        timeout,
        output_limit,
        grace,
        memory_limit,
        containment,
    } = spec;
    let mut running = Running::spawn(&argv, &containment, memory_limit, grace, |cmd| {
        cmd.env_clear()
            .env("PATH", PATH)
            .env("TMPDIR", &tmpdir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&cwd)
            .process_group(0)
            .stdin(stdin.map_or_else(Stdio::null, Stdio::from))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    })?;

    let out = tokio::spawn(capped_copy(
        running.child.stdout.take(),
        stdout,
        output_limit,
    ));
    let err = tokio::spawn(capped_copy(
        running.child.stderr.take(),
        stderr,
        output_limit,
    ));

    let mut timed_out = false;
    let (status, usage) = tokio::select! {
        ended = running.wait() => ended?,
        _ = tokio::time::sleep(timeout) => {
            timed_out = true;
            running.terminate();
            match tokio::time::timeout(grace, running.wait()).await {
                Ok(ended) => ended?,
                Err(_) => {
                    running.kill();
                    running.wait().await?
                }
            }
        }
    };
    // The command is over: whatever it left goes too, so the output pipes
    // close.
    let usage = running.finish(usage).await;
    let copy_deadline = Duration::from_secs(5);
    let truncated_out = join_copy(out, copy_deadline).await?;
    let truncated_err = join_copy(err, copy_deadline).await?;

    Ok(ProcessExit {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        truncated: truncated_out || truncated_err,
        duration: started.elapsed(),
        cpu_time: usage.cpu_time,
        peak_memory: usage.peak_memory,
        oom_killed: usage.oom_killed,
    })
}

async fn join_copy(
    task: tokio::task::JoinHandle<io::Result<bool>>,
    deadline: Duration,
) -> io::Result<bool> {
    match tokio::time::timeout(deadline, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(io::Error::other(join)),
        // A daemonized grandchild still holds the pipe: stop reading.
        Err(_) => Ok(true),
    }
}

/// Copies `from` into `to`, keeping the first `limit` bytes and draining
/// the rest. Returns whether anything was dropped.
async fn capped_copy(
    from: Option<impl AsyncRead + Unpin>,
    to: std::fs::File,
    limit: u64,
) -> io::Result<bool> {
    let Some(mut from) = from else {
        return Ok(false);
    };
    let mut to = tokio::fs::File::from_std(to);
    let mut buf = vec![0u8; 64 * 1024];
    let mut written: u64 = 0;
    let mut truncated = false;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let room = usize::try_from(limit.saturating_sub(written))
            .unwrap_or(usize::MAX)
            .min(n);
        if room > 0 {
            to.write_all(&buf[..room]).await?;
            written += room as u64;
        }
        truncated |= room < n;
    }
    to.flush().await?;
    Ok(truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec(dir: &Path, argv: &[&str], timeout: Duration, limit: u64) -> ProcessSpec {
        ProcessSpec {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: vec![("ONLY_THIS".into(), "1".into())],
            cwd: dir.to_path_buf(),
            tmpdir: dir.to_path_buf(),
            stdin: None,
            stdout: std::fs::File::create(dir.join("out")).unwrap(),
            stderr: std::fs::File::create(dir.join("err")).unwrap(),
            timeout,
            output_limit: limit,
            grace: Duration::from_millis(200),
            memory_limit: None,
            containment: Containment {
                reaper: None,
                cgroups: true,
            },
        }
    }

    #[tokio::test]
    async fn runs_with_a_cleared_environment_in_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work dir");
        std::fs::create_dir(&work).unwrap();
        let mut spec = spec(
            dir.path(),
            &["sh", "-c", "env; pwd -P"],
            Duration::from_secs(10),
            1 << 20,
        );
        spec.cwd = work.clone();
        let exit = run(spec).await.unwrap();
        assert_eq!(exit.code, Some(0));
        let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
        let mut lines: Vec<&str> = out.lines().collect();
        let cwd = lines.pop();
        assert_eq!(
            cwd,
            Some(work.canonicalize().unwrap().to_str().unwrap()),
            "{out}"
        );
        let mut names: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .collect();
        names.sort();
        // sh adds PWD itself.
        names.retain(|n| *n != "PWD");
        assert_eq!(names, ["ONLY_THIS", "PATH", "TMPDIR"], "{out}");
        assert!(lines.contains(&format!("TMPDIR={}", dir.path().display()).as_str()));
        assert!(lines.contains(&format!("PATH={PATH}").as_str()));
    }

    #[tokio::test]
    async fn a_timeout_ends_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        // The grandchild ignores SIGTERM; only SIGKILL of the group ends it.
        let script = "trap '' TERM; (trap '' TERM; sleep 30; echo survived > late) & sleep 30";
        let exit = run(spec(
            dir.path(),
            &["sh", "-c", script],
            Duration::from_millis(300),
            1 << 20,
        ))
        .await
        .unwrap();
        assert!(exit.timed_out);
        assert_eq!(exit.signal, Some(libc::SIGKILL));
        assert!(
            exit.duration < Duration::from_secs(5),
            "{:?}",
            exit.duration
        );
    }

    #[tokio::test]
    async fn output_past_the_cap_is_drained_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let argv = ["sh", "-c", "head -c 5000000 /dev/zero"];
        let exit = run(spec(dir.path(), &argv, Duration::from_secs(20), 1000))
            .await
            .unwrap();
        assert_eq!(exit.code, Some(0));
        assert!(exit.truncated);
        assert_eq!(
            std::fs::metadata(dir.path().join("out")).unwrap().len(),
            1000
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let e = run(spec(
            dir.path(),
            &["no-such-program-xyz"],
            Duration::from_secs(5),
            10,
        ))
        .await
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    /// A script that starts a background child and a `setsid`-ed, double
    /// forked grandchild, records their pids and start times (and its own)
    /// in `pids`, then runs `rest`.
    pub(crate) fn escaping_script(rest: &str) -> String {
        format!(
            "rec() {{ echo \"$1 $(cut -d' ' -f22 /proc/$1/stat)\" >> pids; }}; rec $$; \
             sleep 300 & rec $!; \
             setsid sh -c '(sleep 300 & echo $! > gc.pid) &'; \
             while [ ! -s gc.pid ]; do sleep 0.01; done; rec $(cat gc.pid); {rest}"
        )
    }

    /// The recorded processes that are still alive (same pid, same start
    /// time, not a zombie).
    pub(crate) fn alive(pids_file: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(pids_file).unwrap_or_default();
        text.lines()
            .filter(|line| {
                let mut f = line.split_whitespace();
                let (Some(pid), Some(start)) = (f.next(), f.next()) else {
                    return false;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    return false;
                };
                let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                    return false;
                };
                let fields: Vec<&str> = rest.split_whitespace().collect();
                // After "(comm)": state is field 3, starttime field 22.
                fields.first() != Some(&"Z") && fields.get(19) == Some(&start)
            })
            .map(str::to_string)
            .collect()
    }

    fn recorded(pids_file: &Path) -> usize {
        std::fs::read_to_string(pids_file)
            .unwrap_or_default()
            .lines()
            .count()
    }

    #[test]
    fn this_host_can_give_commands_a_cgroup() {
        // CI runs as root with a writable cgroup2 hierarchy; the tests
        // below exercise the cgroup path only if this holds.
        super::super::cgroup::available().unwrap();
    }

    #[tokio::test]
    async fn every_process_of_a_command_is_killed_when_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let script = escaping_script("exit 3");
        let exit = run(spec(
            dir.path(),
            &["sh", "-c", &script],
            Duration::from_secs(20),
            1 << 20,
        ))
        .await
        .unwrap();
        assert_eq!(exit.code, Some(3));
        let pids = dir.path().join("pids");
        assert_eq!(recorded(&pids), 3, "{:?}", std::fs::read_to_string(&pids));
        assert_eq!(alive(&pids), Vec::<String>::new());
        assert!(exit.cpu_time.is_some());
    }

    #[tokio::test]
    async fn every_process_of_a_command_is_killed_at_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let script = escaping_script("sleep 300");
        let exit = run(spec(
            dir.path(),
            &["sh", "-c", &script],
            Duration::from_millis(1500),
            1 << 20,
        ))
        .await
        .unwrap();
        assert!(exit.timed_out);
        let pids = dir.path().join("pids");
        assert_eq!(recorded(&pids), 3, "{:?}", std::fs::read_to_string(&pids));
        assert_eq!(alive(&pids), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_cancelled_command_leaves_no_process() {
        let dir = tempfile::tempdir().unwrap();
        let script = escaping_script("touch ready; sleep 300");
        let running = run(spec(
            dir.path(),
            &["sh", "-c", &script],
            Duration::from_secs(60),
            1 << 20,
        ));
        let ready = dir.path().join("ready");
        let waited = tokio::time::timeout(Duration::from_secs(20), async {
            tokio::pin!(running);
            loop {
                tokio::select! {
                    _ = &mut running => panic!("the command ended early"),
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {
                        if ready.exists() { break; }
                    }
                }
            }
            // Dropping the future (a cancelled run) kills everything.
        })
        .await;
        assert!(waited.is_ok(), "the command never got ready");
        let pids = dir.path().join("pids");
        assert_eq!(recorded(&pids), 3);
        // The kill is synchronous; the kernel may take a moment to finish.
        let started = Instant::now();
        while !alive(&pids).is_empty() && started.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(alive(&pids), Vec::<String>::new());
    }

    #[tokio::test]
    async fn cpu_time_is_measured() {
        let dir = tempfile::tempdir().unwrap();
        // A child burns CPU, so the command's own process alone would not
        // account for it.
        let script = "(i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done) & wait";
        let exit = run(spec(
            dir.path(),
            &["sh", "-c", script],
            Duration::from_secs(60),
            1 << 20,
        ))
        .await
        .unwrap();
        assert_eq!(exit.code, Some(0));
        let cpu = exit.cpu_time.unwrap();
        assert!(cpu > Duration::from_millis(50), "{cpu:?}");
    }

    #[tokio::test]
    async fn a_memory_limit_is_enforced_or_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        // 200 MB in a shell variable.
        let script = "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo ${#x}";
        let mut limited = spec(
            dir.path(),
            &["sh", "-c", script],
            Duration::from_secs(60),
            1 << 20,
        );
        limited.memory_limit = Some(64 << 20);
        let exit = run(limited).await.unwrap();
        assert_ne!(exit.code, Some(0), "{exit:?}");
        assert!(exit.oom_killed, "{exit:?}");
        let peak = exit.peak_memory.unwrap();
        assert!(peak <= 64 << 20, "{peak}");

        // Without a cgroup the limit cannot hold: an error, not ignored.
        let mut fallback = spec(dir.path(), &["true"], Duration::from_secs(10), 10);
        fallback.memory_limit = Some(64 << 20);
        fallback.containment = Containment {
            reaper: Some("/bin/false".into()),
            cgroups: false,
        };
        let e = run(fallback).await.unwrap_err();
        assert!(
            e.to_string().contains("cannot enforce a memory limit"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn without_a_cgroup_or_a_reaper_nothing_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), &["true"], Duration::from_secs(10), 10);
        s.containment = Containment {
            reaper: None,
            cgroups: false,
        };
        let e = run(s).await.unwrap_err();
        assert!(e.to_string().contains("cannot contain"), "{e}");
    }
}
