//! Per-command cgroups.
//!
//! Each command gets a cgroup v2 directory, `taskhost-<pid>-<random>/cmd-<n>`
//! under runtask's own cgroup (found from `/proc/self/mountinfo` and
//! `/proc/self/cgroup`, so hybrid hosts with `/sys/fs/cgroup/unified` and
//! pure v2 hosts both work). The child joins it between fork and exec, so
//! every process the command ever starts is in it, whatever it does to its
//! session or process group. `cgroup.kill` then ends them all at once, and
//! `cpu.stat` gives the command's CPU time.
//!
//! Memory: where the v2 memory controller can be enabled for our subtree,
//! `memory.max` limits the command and `memory.peak` measures it; on hybrid
//! hosts whose memory controller is still on v1, a sibling cgroup in the
//! v1 memory hierarchy does the same. A limit that neither can enforce is
//! an error, never ignored.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Why a command cannot have a cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No writable cgroup v2 hierarchy: use the reaper instead.
    #[error("no writable cgroup v2 hierarchy: {0}")]
    Unavailable(String),
    /// A memory limit was asked for and this host cannot enforce it.
    #[error(
        "cannot enforce a memory limit for commands on this host: {0}; remove the \
         `command-memory` limit from the policy, or run runtask where it may create \
         cgroups with the memory controller (as root, or in a delegated cgroup)"
    )]
    NoMemoryLimit(String),
    #[error("{what}: {err}")]
    Io { what: String, err: io::Error },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> CgroupError {
    let what = what.into();
    move |err| CgroupError::Io { what, err }
}

/// A mounted cgroup hierarchy and our cgroup in it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Hierarchy {
    /// Our own cgroup's directory.
    own: PathBuf,
    /// Our cgroup's path as `/proc/PID/cgroup` shows it.
    own_path: String,
}

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, PartialEq, Eq)]
struct Mount {
    root: String,
    point: String,
    fstype: String,
    options: String,
}

/// Mounts listed in a mountinfo text.
fn mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            Some(Mount {
                root: unescape(left.get(3)?),
                point: unescape(left.get(4)?),
                fstype: right.next()?.to_string(),
                options: right.nth(1).unwrap_or_default().to_string(),
            })
        })
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let d = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(d, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Our cgroup path in the hierarchy whose `/proc/self/cgroup` line matches
/// `controllers` ("" for v2, "memory" for the v1 memory controller).
fn own_path(proc_cgroup: &str, controller: &str) -> Option<String> {
    proc_cgroup.lines().find_map(|line| {
        let mut f = line.splitn(3, ':');
        let (id, list, path) = (f.next()?, f.next()?, f.next()?);
        let matches = if controller.is_empty() {
            id == "0" && list.is_empty()
        } else {
            list.split(',').any(|c| c == controller)
        };
        matches.then(|| path.to_string())
    })
}

/// The directory of our cgroup `path` under one of `mounts`, of
/// `fstype`, with `option` among its options (v1 controllers).
fn locate(mounts: &[Mount], fstype: &str, option: &str, path: &str) -> Option<PathBuf> {
    mounts
        .iter()
        .filter(|m| m.fstype == fstype)
        .filter(|m| option.is_empty() || m.options.split(',').any(|o| o == option))
        .find_map(|m| {
            let root = m.root.trim_end_matches('/');
            let rest = path.strip_prefix(root)?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            Some(Path::new(&m.point).join(rest.trim_start_matches('/')))
        })
}

fn hierarchy(fstype: &str, controller: &str) -> Result<Hierarchy, String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("reading /proc/self/cgroup: {e}"))?;
    let what = if controller.is_empty() {
        "cgroup v2".to_string()
    } else {
        format!("the {controller} controller")
    };
    let path = own_path(&cgroup, controller)
        .ok_or_else(|| format!("/proc/self/cgroup lists no {what} hierarchy"))?;
    let own = locate(&mounts(&mountinfo), fstype, controller, &path)
        .ok_or_else(|| format!("{what} (our cgroup {path}) is not mounted"))?;
    Ok(Hierarchy {
        own,
        own_path: path,
    })
}

/// The parent of this process's command cgroups in one hierarchy: made on
/// first use, removed when its last command is done.
struct Parent {
    hierarchy: Result<Hierarchy, String>,
    name: String,
    dir: Option<PathBuf>,
    live: usize,
    /// v2: whether the memory controller is enabled for the commands.
    memory: bool,
}

impl Parent {
    fn new(fstype: &str, controller: &str) -> Mutex<Parent> {
        Mutex::new(Parent {
            hierarchy: hierarchy(fstype, controller),
            name: format!("taskhost-{}-{:08x}", std::process::id(), random()),
            dir: None,
            live: 0,
            memory: false,
        })
    }

    /// Makes the parent directory if needed; returns it.
    fn acquire(&mut self, v2: bool) -> Result<PathBuf, String> {
        if let Some(dir) = &self.dir {
            self.live += 1;
            return Ok(dir.clone());
        }
        let h = self.hierarchy.clone()?;
        if v2 {
            // Moving a process needs write access to the cgroup.procs of
            // the cgroup it leaves (the common ancestor).
            let procs = h.own.join("cgroup.procs");
            let c = std::ffi::CString::new(procs.as_os_str().as_encoded_bytes())
                .map_err(|e| e.to_string())?;
            // SAFETY: access(2) with a valid C string.
            if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
                return Err(format!(
                    "{} is not writable: {}",
                    procs.display(),
                    io::Error::last_os_error()
                ));
            }
        }
        sweep_stale(&h.own);
        let dir = h.own.join(&self.name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
        if v2 {
            self.memory = enable_memory(&h.own, &dir);
        }
        self.dir = Some(dir.clone());
        self.live += 1;
        Ok(dir)
    }

    fn release(&mut self) {
        self.live = self.live.saturating_sub(1);
        if self.live == 0
            && let Some(dir) = self.dir.take()
            && let Err(e) = std::fs::remove_dir(&dir)
        {
            tracing::debug!("removing cgroup {}: {e}", dir.display());
        }
    }
}

/// Ends what a runtask killed with SIGKILL left behind: in `own`, each
/// `taskhost-PID-*` cgroup whose PID is gone has its processes killed and
/// is removed. (While runtask lives, its cgroups die with their commands;
/// only a kill that gave it no chance to clean up leaves any.)
fn sweep_stale(own: &Path) {
    let Ok(entries) = std::fs::read_dir(own) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("taskhost-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == i32::try_from(std::process::id()).unwrap_or(0)
            || Path::new(&format!("/proc/{pid}")).exists()
        {
            continue;
        }
        let dir = entry.path();
        let commands: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        for command in &commands {
            let _ = std::fs::write(command.join("cgroup.kill"), "1");
        }
        let until = Instant::now() + Duration::from_secs(2);
        for command in &commands {
            while populated(command) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = std::fs::remove_dir(command);
        }
        match std::fs::remove_dir(&dir) {
            Ok(()) => tracing::info!(
                "removed the cgroup {} of a runtask that was killed (pid {pid}), and the processes left in it",
                dir.display()
            ),
            Err(e) => tracing::debug!("removing stale cgroup {}: {e}", dir.display()),
        }
    }
}

/// Enables the v2 memory controller for the children of `parent` (and in
/// `own` first when needed). False where the host does not allow it.
fn enable_memory(own: &Path, parent: &Path) -> bool {
    let has = |dir: &Path, file: &str| {
        std::fs::read_to_string(dir.join(file))
            .is_ok_and(|s| s.split_whitespace().any(|c| c == "memory"))
    };
    if !has(own, "cgroup.controllers") {
        return false;
    }
    if !has(own, "cgroup.subtree_control") {
        // Refused (EBUSY) unless our cgroup is the root or empty.
        let _ = std::fs::write(own.join("cgroup.subtree_control"), "+memory");
    }
    has(parent, "cgroup.controllers")
        && std::fs::write(parent.join("cgroup.subtree_control"), "+memory").is_ok()
}

fn v2_parent() -> &'static Mutex<Parent> {
    static P: OnceLock<Mutex<Parent>> = OnceLock::new();
    P.get_or_init(|| Parent::new("cgroup2", ""))
}

fn v1_memory_parent() -> &'static Mutex<Parent> {
    static P: OnceLock<Mutex<Parent>> = OnceLock::new();
    P.get_or_init(|| Parent::new("cgroup", "memory"))
}

fn lock(m: &'static Mutex<Parent>) -> std::sync::MutexGuard<'static, Parent> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn random() -> u32 {
    let mut b = [0u8; 4];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return t.subsec_nanos();
    }
    u32::from_ne_bytes(b)
}

/// Whether this host lets us give commands a cgroup v2 (checked once).
pub fn available() -> Result<(), String> {
    let mut p = lock(v2_parent());
    p.acquire(true)?;
    p.release();
    Ok(())
}

/// Kills every process in every command cgroup of this process (for an
/// exit that cannot wait for the commands' own cleanup).
pub fn kill_all() {
    let p = lock(v2_parent());
    if let Some(dir) = &p.dir {
        let _ = std::fs::write(dir.join("cgroup.kill"), "1");
    }
}

/// Where a command's memory is limited and measured.
#[derive(Debug)]
enum Memory {
    /// In the v2 cgroup itself.
    V2,
    /// In a v1 memory cgroup; its `cgroup.procs` stays open for joining.
    V1 { dir: PathBuf, procs: File },
}

/// What a command used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_time: Option<Duration>,
    pub peak_memory: Option<u64>,
    pub oom_killed: bool,
}

/// One command's cgroup; dropping it kills what is left in it.
#[derive(Debug)]
pub struct CommandCgroup {
    dir: PathBuf,
    /// As `/proc/PID/cgroup` shows it, to check membership.
    path: String,
    procs: File,
    memory: Option<Memory>,
    removed: bool,
}

static COMMANDS: AtomicU64 = AtomicU64::new(0);

fn open_procs(dir: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(dir.join("cgroup.procs"))
}

impl CommandCgroup {
    /// Makes a cgroup for a new command, with `memory_limit` bytes at most.
    pub fn create(memory_limit: Option<u64>) -> Result<CommandCgroup, CgroupError> {
        let n = COMMANDS.fetch_add(1, Ordering::Relaxed);
        let name = format!("cmd-{n}");
        let (parent, memory_v2, own_path) = {
            let mut p = lock(v2_parent());
            let dir = p.acquire(true).map_err(CgroupError::Unavailable)?;
            let own_path = p
                .hierarchy
                .as_ref()
                .map(|h| h.own_path.clone())
                .unwrap_or_default();
            (dir, p.memory, own_path)
        };
        let dir = parent.join(&name);
        let procs = match std::fs::create_dir(&dir).and_then(|()| open_procs(&dir)) {
            Ok(procs) => procs,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                lock(v2_parent()).release();
                return Err(CgroupError::Unavailable(format!(
                    "cannot create {}: {e}",
                    dir.display()
                )));
            }
        };
        let mut cg = CommandCgroup {
            path: format!(
                "{}/{}/{name}",
                own_path.trim_end_matches('/'),
                file_name(&parent)
            ),
            procs,
            dir,
            memory: None,
            removed: false,
        };
        cg.memory = match cg.memory_cgroup(memory_v2, &name, memory_limit) {
            Ok(m) => m,
            Err(e) => {
                cg.remove();
                return Err(e);
            }
        };
        Ok(cg)
    }

    /// Sets up memory accounting, and the limit if any.
    fn memory_cgroup(
        &self,
        v2: bool,
        name: &str,
        limit: Option<u64>,
    ) -> Result<Option<Memory>, CgroupError> {
        if v2 && self.dir.join("memory.max").exists() {
            if let Some(limit) = limit {
                write(&self.dir, "memory.max", &limit.to_string())?;
                if self.dir.join("memory.swap.max").exists() {
                    write(&self.dir, "memory.swap.max", "0")?;
                }
            }
            return Ok(Some(Memory::V2));
        }
        let v1 = {
            let mut p = lock(v1_memory_parent());
            p.acquire(false)
        };
        let parent = match v1 {
            Ok(dir) => dir,
            Err(why) => {
                return match limit {
                    None => Ok(None),
                    Some(_) => Err(CgroupError::NoMemoryLimit(format!(
                        "the cgroup v2 memory controller is not enabled for runtask's cgroup, \
                         and {why}"
                    ))),
                };
            }
        };
        let dir = parent.join(name);
        let made = std::fs::create_dir(&dir)
            .map_err(io_err(format!("creating {}", dir.display())))
            .and_then(|()| {
                if let Some(limit) = limit {
                    write(&dir, "memory.limit_in_bytes", &limit.to_string())?;
                    if dir.join("memory.memsw.limit_in_bytes").exists() {
                        write(&dir, "memory.memsw.limit_in_bytes", &limit.to_string())?;
                    }
                }
                open_procs(&dir).map_err(io_err(format!("opening {}/cgroup.procs", dir.display())))
            });
        match made {
            Ok(procs) => Ok(Some(Memory::V1 { dir, procs })),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                lock(v1_memory_parent()).release();
                match limit {
                    None => Ok(None),
                    Some(_) => Err(CgroupError::NoMemoryLimit(e.to_string())),
                }
            }
        }
    }

    /// Descriptors the child writes "0" to between fork and exec, joining
    /// the cgroups.
    pub fn join_fds(&self) -> Vec<RawFd> {
        let mut fds = vec![self.procs.as_raw_fd()];
        if let Some(Memory::V1 { procs, .. }) = &self.memory {
            fds.push(procs.as_raw_fd());
        }
        fds
    }

    /// Sends `signal` to every process in the cgroup.
    pub fn signal_all(&self, signal: i32) {
        let Ok(text) = std::fs::read_to_string(self.dir.join("cgroup.procs")) else {
            return;
        };
        for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // The pidfd pins the process; the membership check after it
            // makes sure a recycled pid is never signalled.
            let Some(pidfd) = super::reaper::PidFd::open(pid) else {
                continue;
            };
            if self.holds(pid) {
                pidfd.signal(signal);
            }
        }
    }

    fn holds(&self, pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|text| own_path(&text, "").is_some_and(|p| p == self.path))
    }

    /// Kills every process in the cgroup.
    pub fn kill(&self) {
        if std::fs::write(self.dir.join("cgroup.kill"), "1").is_err() {
            // Kernels before 5.14 have no cgroup.kill.
            self.signal_all(libc::SIGKILL);
        }
    }

    /// Whether any process is left.
    pub fn populated(&self) -> bool {
        populated(&self.dir)
    }

    /// Kills what is left and waits until it is gone (at most `patience`).
    pub async fn kill_and_wait(&self, patience: Duration) -> bool {
        let started = Instant::now();
        loop {
            self.kill();
            if !self.populated() {
                return true;
            }
            if started.elapsed() > patience {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// CPU time, peak memory and OOM kills so far.
    pub fn usage(&self) -> Usage {
        let read = |dir: &Path, file: &str| std::fs::read_to_string(dir.join(file)).ok();
        let field = |text: &str, key: &str| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(' ')?;
                (k == key).then(|| v.trim().parse::<u64>().ok()).flatten()
            })
        };
        let cpu_time = read(&self.dir, "cpu.stat")
            .and_then(|t| field(&t, "usage_usec"))
            .map(Duration::from_micros);
        let (peak_memory, oom_killed) = match &self.memory {
            None => (None, false),
            Some(Memory::V2) => (
                read(&self.dir, "memory.peak").and_then(|t| t.trim().parse().ok()),
                read(&self.dir, "memory.events")
                    .and_then(|t| field(&t, "oom_kill"))
                    .is_some_and(|n| n > 0),
            ),
            Some(Memory::V1 { dir, .. }) => (
                read(dir, "memory.max_usage_in_bytes").and_then(|t| t.trim().parse().ok()),
                read(dir, "memory.oom_control")
                    .and_then(|t| field(&t, "oom_kill"))
                    .is_some_and(|n| n > 0),
            ),
        };
        Usage {
            cpu_time,
            peak_memory,
            oom_killed,
        }
    }

    /// Removes the (empty) cgroups.
    pub fn remove(&mut self) {
        if !self.removed {
            self.removed = true;
            remove(&self.dir, self.memory_dir());
        }
    }

    fn memory_dir(&self) -> Option<&Path> {
        match &self.memory {
            Some(Memory::V1 { dir, .. }) => Some(dir),
            _ => None,
        }
    }
}

fn remove(dir: &Path, memory: Option<&Path>) {
    if let Some(memory) = memory {
        if let Err(e) = std::fs::remove_dir(memory) {
            tracing::debug!("removing cgroup {}: {e}", memory.display());
        }
        lock(v1_memory_parent()).release();
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        tracing::warn!("could not remove cgroup {}: {e}", dir.display());
    }
    lock(v2_parent()).release();
}

fn populated(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.events"))
        .map(|t| t.lines().any(|l| l.trim() == "populated 1"))
        .unwrap_or(false)
}

impl Drop for CommandCgroup {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        self.removed = true;
        self.kill();
        // Killed processes are gone within a millisecond or two; one stuck
        // in the kernel can take longer, and then a thread waits for it.
        for _ in 0..20 {
            if !self.populated() {
                return remove(&self.dir, self.memory_dir());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let dir = self.dir.clone();
        let memory = self.memory_dir().map(Path::to_path_buf);
        std::thread::spawn(move || {
            let started = Instant::now();
            while populated(&dir) && started.elapsed() < Duration::from_secs(30) {
                let _ = std::fs::write(dir.join("cgroup.kill"), "1");
                std::thread::sleep(Duration::from_millis(10));
            }
            remove(&dir, memory.as_deref());
        });
    }
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    let mut f = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    f.write_all(value.as_bytes())
        .map_err(io_err(format!("writing {value} to {}", path.display())))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 /sub /mnt/with\\040space rw shared:5 - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn finds_the_cgroup2_mount_and_our_cgroup_in_it() {
        let m = mounts(MOUNTINFO);
        assert_eq!(m.len(), 5);
        assert_eq!(m[4].point, "/mnt/with space");
        assert_eq!(m[4].fstype, "cgroup2");
        let proc_cgroup = "4:memory:/process_api/abc\n1:cpu,cpuacct:/\n0::/\n";
        let path = own_path(proc_cgroup, "").unwrap();
        assert_eq!(path, "/");
        assert_eq!(
            locate(&m, "cgroup2", "", &path),
            Some(PathBuf::from("/sys/fs/cgroup/unified/"))
        );
        let mem = own_path(proc_cgroup, "memory").unwrap();
        assert_eq!(
            locate(&m, "cgroup", "memory", &mem),
            Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"))
        );
        assert_eq!(own_path(proc_cgroup, "cpu").as_deref(), Some("/"));
        assert_eq!(own_path(proc_cgroup, "pids"), None);
    }

    #[test]
    fn a_mount_of_a_subtree_holds_only_the_cgroups_below_it() {
        let m = mounts(MOUNTINFO);
        // Only the second cgroup2 mount (of /sub) holds /sub/x.
        let sub: Vec<&Mount> = m.iter().filter(|m| m.root == "/sub").collect();
        assert_eq!(sub.len(), 1);
        let only_sub = [Mount {
            root: "/sub".into(),
            point: "/mnt/s".into(),
            fstype: "cgroup2".into(),
            options: String::new(),
        }];
        assert_eq!(
            locate(&only_sub, "cgroup2", "", "/sub/x/y"),
            Some(PathBuf::from("/mnt/s/x/y"))
        );
        assert_eq!(locate(&only_sub, "cgroup2", "", "/subway"), None);
        assert_eq!(locate(&only_sub, "cgroup2", "", "/other"), None);
    }

    #[test]
    fn a_pure_v2_host_with_systemd_paths() {
        let info = "25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
        let path = own_path("0::/user.slice/user-1000.slice/session-2.scope\n", "").unwrap();
        assert_eq!(
            locate(&mounts(info), "cgroup2", "", &path),
            Some(PathBuf::from(
                "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope"
            ))
        );
        // No v1 memory hierarchy there.
        assert_eq!(own_path("0::/x\n", "memory"), None);
    }
}
