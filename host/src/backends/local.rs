//! The `local` backend: runs commands on the host, each in its own
//! process group, with a cleared environment and argv only.

use super::{PATH, ProcessExit, ProcessSpec};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Kills a process group when dropped: a cancelled run leaves nothing.
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn signal(&self, sig: i32) {
        if let Some(pgid) = self.0 {
            // SAFETY: killpg with a pgid we created; errors (ESRCH) ignored.
            unsafe { libc::killpg(pgid, sig) };
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

/// Runs `spec` to completion.
pub async fn run(spec: ProcessSpec) -> io::Result<ProcessExit> {
    let started = Instant::now();
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty argv"));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", PATH)
        .env("TMPDIR", &spec.tmpdir)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .process_group(0)
        .stdin(spec.stdin.map_or_else(Stdio::null, Stdio::from))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let guard = GroupGuard(child.id().and_then(|id| i32::try_from(id).ok()));

    let out = tokio::spawn(capped_copy(
        child.stdout.take(),
        spec.stdout,
        spec.output_limit,
    ));
    let err = tokio::spawn(capped_copy(
        child.stderr.take(),
        spec.stderr,
        spec.output_limit,
    ));

    let mut timed_out = false;
    let status = tokio::select! {
        status = child.wait() => status?,
        _ = tokio::time::sleep(spec.timeout) => {
            timed_out = true;
            guard.signal(libc::SIGTERM);
            match tokio::time::timeout(spec.grace, child.wait()).await {
                Ok(status) => status?,
                Err(_) => {
                    guard.signal(libc::SIGKILL);
                    child.wait().await?
                }
            }
        }
    };
    // The command is over: whatever it left in its group goes too, so the
    // output pipes close.
    drop(guard);
    let copy_deadline = Duration::from_secs(5);
    let truncated_out = join_copy(out, copy_deadline).await?;
    let truncated_err = join_copy(err, copy_deadline).await?;

    Ok(ProcessExit {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        truncated: truncated_out || truncated_err,
        duration: started.elapsed(),
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
        }
    }

    #[tokio::test]
    async fn runs_with_a_cleared_environment_in_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let exit = run(spec(
            dir.path(),
            &["sh", "-c", "env; pwd"],
            Duration::from_secs(10),
            1 << 20,
        ))
        .await
        .unwrap();
        assert_eq!(exit.code, Some(0));
        let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
        assert!(out.contains("ONLY_THIS=1"), "{out}");
        assert!(
            out.contains(&format!("TMPDIR={}", dir.path().display())),
            "{out}"
        );
        assert!(!out.contains("HOME="), "{out}");
        assert!(out.contains(&dir.path().display().to_string()), "{out}");
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
}
