//! The reaper: contains a command where no cgroup can.
//!
//! runtask runs itself as `runtask __taskhost-reaper GRACE_MS -- ARGV...`
//! (the library takes the program in [`super::Containment::reaper`]); the
//! reaper marks itself a child subreaper, forks and execs the command, and
//! so inherits every process of the command that gets orphaned, whatever
//! it did to its session or process group (`setsid`, double fork). When the
//! command ends, it kills every descendant it still has, reaps them all and
//! reports the command's wait status, CPU time and largest resident set.
//!
//! runtask and the reaper talk over a socket at the reaper's descriptor 3:
//! `t` asks for termination (SIGTERM to every descendant, SIGKILL after the
//! grace period), `k` for SIGKILL now, and the end of the socket means that
//! runtask is gone, so the reaper kills everything even when runtask itself
//! was killed. The reaper answers with one line, `status RAW CPU_US
//! MAXRSS_BYTES` or `spawn-error ERRNO`.
//!
//! Why a separate process: runtask cannot be a subreaper itself, since
//! reaping orphans needs `waitpid(-1)`, which would steal the children that
//! tokio waits for. Descendants are signalled through pidfds checked
//! against their parent, so a recycled pid is never hit.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The hidden first argument that makes runtask a reaper.
pub const ARG: &str = "__taskhost-reaper";
/// The reaper's end of the control socket.
const CTL: RawFd = 3;

static SERVES: AtomicBool = AtomicBool::new(false);

/// Called first thing in `main`: when the process was started as a reaper,
/// serves and exits; otherwise notes that this program can be one (see
/// [`program`]).
pub fn serve_if_asked() {
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|a| a == ARG) {
        std::process::exit(serve(args.collect()));
    }
    SERVES.store(true, Ordering::Relaxed);
}

/// The reaper program: this executable if it called [`serve_if_asked`].
pub fn program() -> Option<PathBuf> {
    // /proc/self/exe: still right if the binary is replaced meanwhile.
    SERVES
        .load(Ordering::Relaxed)
        .then(|| PathBuf::from("/proc/self/exe"))
}

/// The arguments that run `argv` under the reaper.
pub fn args(grace: Duration, argv: &[String]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        ARG.into(),
        grace.as_millis().to_string().into(),
        "--".into(),
    ];
    args.extend(argv.iter().map(OsString::from));
    args
}

/// A process pinned by a pidfd.
pub struct PidFd(OwnedFd);

impl PidFd {
    pub fn open(pid: i32) -> Option<PidFd> {
        // SAFETY: pidfd_open takes a pid and flags; the result is a new fd.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let fd = RawFd::try_from(fd).ok().filter(|fd| *fd >= 0)?;
        // SAFETY: fd is a new descriptor that nothing else owns.
        Some(PidFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: pidfd_send_signal on our own pidfd, no siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
    }
}

/// The children of `pid` (of all its threads).
fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let path = task.path().join("children");
        if let Ok(text) = std::fs::read_to_string(path) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// The parent pid of `pid`, from /proc/PID/stat.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Every descendant of `root`, pinned; top-down.
fn descendants(root: i32) -> Vec<PidFd> {
    let mut found = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for child in children(parent) {
            let Some(fd) = PidFd::open(child) else {
                continue;
            };
            // Pinned first, checked second: the pidfd is the child we saw.
            if parent_of(child) == Some(parent) {
                found.push(fd);
                parents.push(child);
            }
        }
    }
    found
}

// ---- the reaper process ---------------------------------------------------

/// Runs the reaper with `args` (after [`ARG`]); returns its exit code.
fn serve(args: Vec<OsString>) -> i32 {
    match Reaper::start(args) {
        Ok(reaper) => reaper.run(),
        Err(e) => {
            eprintln!("runtask reaper: {e}");
            report(&format!(
                "spawn-error {}\n",
                e.raw_os_error().unwrap_or(libc::EINVAL)
            ));
            127
        }
    }
}

fn report(line: &str) {
    // SAFETY: writing a buffer to our control socket.
    unsafe { libc::write(CTL, line.as_ptr().cast(), line.len()) };
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

struct Reaper {
    me: i32,
    child: i32,
    grace: Duration,
    signals: OwnedFd,
}

impl Reaper {
    fn start(args: Vec<OsString>) -> io::Result<Reaper> {
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, why.to_string());
        let mut args = args.into_iter();
        let grace = args
            .next()
            .and_then(|g| g.to_str()?.parse::<u64>().ok())
            .map(Duration::from_millis)
            .ok_or_else(|| bad("usage: __taskhost-reaper GRACE_MS -- ARGV..."))?;
        if args.next().is_none_or(|a| a != "--") {
            return Err(bad("expected -- before the command"));
        }
        let argv: Vec<CString> = args
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| bad("an argument holds a NUL byte"))?;
        if argv.is_empty() {
            return Err(bad("no command"));
        }
        let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        ptrs.push(std::ptr::null());

        // SAFETY: plain libc calls on descriptors and signal sets we own;
        // the child runs only async-signal-safe calls before exec.
        unsafe {
            // The command must not inherit the control socket.
            if libc::fcntl(CTL, libc::F_SETFD, libc::FD_CLOEXEC) < 0 {
                return Err(last_error());
            }
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 {
                return Err(last_error());
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
                libc::sigaddset(&mut set, sig);
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
            let sfd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if sfd < 0 {
                return Err(last_error());
            }
            let signals = OwnedFd::from_raw_fd(sfd);
            let mut pipe = [0; 2];
            if libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) < 0 {
                return Err(last_error());
            }
            let (err_r, err_w) = (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1]));
            let child = libc::fork();
            if child < 0 {
                return Err(last_error());
            }
            if child == 0 {
                libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                // Rust ignores SIGPIPE; programs expect the default.
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::execvp(ptrs[0], ptrs.as_ptr());
                let errno = *libc::__errno_location();
                libc::write(err_w.as_raw_fd(), (&errno as *const i32).cast(), 4);
                libc::_exit(127);
            }
            drop(err_w);
            let mut errno = 0i32;
            let n = libc::read(err_r.as_raw_fd(), (&mut errno as *mut i32).cast(), 4);
            if n == 4 {
                let mut status = 0;
                libc::waitpid(child, &mut status, 0);
                return Err(io::Error::from_raw_os_error(errno));
            }
            Ok(Reaper {
                me: libc::getpid(),
                child,
                grace,
                signals,
            })
        }
    }

    /// Waits for the command, then kills and reaps the rest; reports.
    fn run(self) -> i32 {
        let mut status: Option<i32> = None;
        let mut kill_at: Option<Instant> = None;
        let mut orphaned = false;
        while status.is_none() {
            let timeout = kill_at.map_or(-1, |at| {
                let left = at.saturating_duration_since(Instant::now());
                i32::try_from(left.as_millis()).unwrap_or(i32::MAX)
            });
            let mut fds = [
                libc::pollfd {
                    fd: self.signals.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: CTL,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: poll on two descriptors we own.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
            let mut stop = false;
            if fds[0].revents != 0 {
                stop |= self.drain_signals();
            }
            self.reap(false, &mut status);
            if fds[1].revents != 0 {
                let mut buf = [0u8; 64];
                // SAFETY: reading into a local buffer.
                let n = unsafe { libc::read(CTL, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    orphaned = true;
                    stop = true;
                } else {
                    for &b in &buf[..n.unsigned_abs()] {
                        match b {
                            b't' if kill_at.is_none() => {
                                signal_all(self.me, libc::SIGTERM);
                                kill_at = Some(Instant::now() + self.grace);
                            }
                            b'k' => stop = true,
                            _ => {}
                        }
                    }
                }
            }
            if stop || kill_at.is_some_and(|at| Instant::now() >= at) {
                break;
            }
        }
        self.kill_rest(&mut status);
        if orphaned {
            return 0;
        }
        // SAFETY: getrusage into a zeroed struct.
        let usage = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
            ru
        };
        let micros = |t: libc::timeval| {
            u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0)
        };
        let cpu = micros(usage.ru_utime) + micros(usage.ru_stime);
        let rss = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
        let raw = status.unwrap_or(libc::SIGKILL);
        report(&format!("status {raw} {cpu} {rss}\n"));
        0
    }

    /// Reads pending signals; true when asked to stop.
    fn drain_signals(&self) -> bool {
        let mut stop = false;
        loop {
            // SAFETY: reading one siginfo into a zeroed struct.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            let n = unsafe {
                libc::read(
                    self.signals.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                )
            };
            if n != isize::try_from(size).unwrap_or(-1) {
                return stop;
            }
            let signo = i32::try_from(info.ssi_signo).unwrap_or(0);
            stop |= signo != libc::SIGCHLD;
        }
    }

    /// Reaps children; `block`: wait for one. Notes the command's status.
    /// False when no child is left.
    fn reap(&self, block: bool, status: &mut Option<i32>) -> bool {
        let mut first = block;
        loop {
            let mut raw = 0;
            let flags = if first { 0 } else { libc::WNOHANG };
            first = false;
            // SAFETY: waitpid for any child of this (single-threaded) process.
            let pid = unsafe { libc::waitpid(-1, &mut raw, flags) };
            if pid < 0 {
                return last_error().raw_os_error() != Some(libc::ECHILD);
            }
            if pid == 0 {
                return true;
            }
            if pid == self.child {
                *status = Some(raw);
            }
        }
    }

    /// SIGKILLs every descendant until none is left.
    fn kill_rest(&self, status: &mut Option<i32>) {
        loop {
            signal_all(self.me, libc::SIGKILL);
            if !self.reap(true, status) {
                return;
            }
        }
    }
}

fn signal_all(root: i32, signal: i32) {
    for process in descendants(root) {
        process.signal(signal);
    }
}

// ---- runtask's side -------------------------------------------------------

/// Control sockets of live reapers, for [`kill_all`].
fn live() -> &'static Mutex<Vec<(u64, OwnedFd)>> {
    static LIVE: OnceLock<Mutex<Vec<(u64, OwnedFd)>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(Vec::new()))
}

/// runtask's end of one reaper.
pub struct Client {
    stream: tokio::net::UnixStream,
    id: u64,
    /// The report as read so far (`wait` may be cancelled and resumed).
    read: Vec<u8>,
}

/// What a reaper reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    pub raw_status: i32,
    pub cpu_time: Duration,
    pub max_rss: u64,
}

impl Client {
    /// A socket pair: ours, and the descriptor the reaper gets as fd 3.
    pub fn pair() -> io::Result<(Client, OwnedFd)> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        ours.set_nonblocking(true)?;
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        let dup = OwnedFd::from(ours.try_clone()?);
        live()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, dup));
        let stream = tokio::net::UnixStream::from_std(ours)?;
        Ok((
            Client {
                stream,
                id,
                read: Vec::new(),
            },
            OwnedFd::from(theirs),
        ))
    }

    /// Asks for termination: SIGTERM now, SIGKILL after the grace period.
    pub fn terminate(&self) {
        let _ = self.stream.try_write(b"t");
    }

    /// Asks for SIGKILL of everything now.
    pub fn kill(&self) {
        let _ = self.stream.try_write(b"k");
    }

    /// Waits for the reaper's report.
    pub async fn wait(&mut self) -> io::Result<Report> {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 128];
        while !self.read.contains(&b'\n') {
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            self.read.extend_from_slice(&buf[..n]);
        }
        parse_report(&String::from_utf8_lossy(&self.read))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.kill();
        live()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _)| *id != self.id);
    }
}

fn parse_report(line: &str) -> io::Result<Report> {
    let mut f = line.split_whitespace();
    let n = |x: Option<&str>| x.and_then(|v| v.parse::<i64>().ok());
    match f.next() {
        Some("status") => {
            let raw = n(f.next()).and_then(|v| i32::try_from(v).ok());
            let cpu = n(f.next()).and_then(|v| u64::try_from(v).ok());
            let rss = n(f.next()).and_then(|v| u64::try_from(v).ok());
            match (raw, cpu, rss) {
                (Some(raw_status), Some(cpu), Some(max_rss)) => Ok(Report {
                    raw_status,
                    cpu_time: Duration::from_micros(cpu),
                    max_rss,
                }),
                _ => Err(io::Error::other(format!("bad reaper report {line:?}"))),
            }
        }
        Some("spawn-error") => Err(io::Error::from_raw_os_error(
            n(f.next())
                .and_then(|v| i32::try_from(v).ok())
                .unwrap_or(libc::EINVAL),
        )),
        _ => Err(io::Error::other(
            "the command's reaper ended without a report (was it killed?)",
        )),
    }
}

/// Tells every live reaper to kill its command's processes, and waits
/// (at most `patience`) until they have.
pub fn kill_all(patience: Duration) {
    let live = live().lock().unwrap_or_else(|p| p.into_inner());
    let started = Instant::now();
    for (_, fd) in live.iter() {
        // SAFETY: writing one byte to a socket we hold.
        unsafe { libc::write(fd.as_raw_fd(), b"k".as_ptr().cast(), 1) };
    }
    for (_, fd) in live.iter() {
        // The reaper's report (or its exit) ends the wait.
        let left = patience.saturating_sub(started.elapsed());
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one descriptor we hold.
        unsafe { libc::poll(&mut p, 1, i32::try_from(left.as_millis()).unwrap_or(0)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_parsed() {
        assert_eq!(
            parse_report("status 9 1500 4096\n").unwrap(),
            Report {
                raw_status: 9,
                cpu_time: Duration::from_micros(1500),
                max_rss: 4096
            }
        );
        let e = parse_report("spawn-error 2\n").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(
            parse_report("")
                .unwrap_err()
                .to_string()
                .contains("without a report")
        );
        assert!(parse_report("status x").is_err());
    }

    #[test]
    fn the_parent_of_a_process_is_read_from_its_stat() {
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        assert_eq!(
            parent_of(pid),
            Some(i32::try_from(std::process::id()).unwrap())
        );
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(children(me).contains(&pid));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn reaper_arguments_carry_the_grace_and_the_command() {
        let args = args(Duration::from_millis(1500), &["sh".into(), "-c".into()]);
        assert_eq!(
            args,
            ["__taskhost-reaper", "1500", "--", "sh", "-c"].map(OsString::from)
        );
    }
}
