//! The `unshare` backend: commands run in a `debian:system-tarball`,
//! inside new user, mount and pid namespaces.
//!
//! - The tarball is unpacked once into a cache keyed by its sha256, by
//!   GNU tar running as root of a user namespace that maps the caller's
//!   subordinate ids (`/etc/subuid`, `/etc/subgid`). The caller's own uid is
//!   never mapped: inside, host files are "other" to everyone, so a command
//!   cannot open the host's devices or root-owned files.
//! - An environment is a holder process (`unshare … -- cat`, pid 1 of the
//!   new pid namespace) whose mount namespace gets an overlay of the cached
//!   tree (the upper layer lives in the run's workspace, so the cache stays
//!   pristine), a /dev of its own (the basic nodes, devpts, shm; none of
//!   the host's disks or consoles), a fresh /proc, the workspace at
//!   `/workspace` and the host's resolv.conf. `pivot_root` then makes the
//!   tree the namespace's whole file system: the host's other files are
//!   not mounted at all.
//! - The packages a plugin declares are installed once per tarball and
//!   package set, into a cached read-only layer stacked between the
//!   tarball and the run's upper layer (see [`super::layers`]).
//! - Each command is `nsenter` into those namespaces, as root or as
//!   `nobody`, in a directory under `/workspace`.
//! - Host paths reach namespaced tools as inherited descriptors
//!   (`/proc/self/fd/N`), so a private workspace or store stays private.
//! - A command's processes are contained like local ones (its cgroup is
//!   killed when it ends). Under the reaper, a daemon that the namespace's
//!   init adopted lives until the environment closes: the holder then
//!   dies, and with pid 1 gone the kernel kills everything in the namespace.
//!
//! What remains exposed: setting up runs the environment's own `umount`
//! once while the host tree is still mounted (as an unprivileged subuid),
//! and the environment shares the host's network, like debusine's
//! unshare executor.

use super::{ProcessExit, ProcessSpec};
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// Ids mapped in the namespace: `count` ids from the caller's subordinate
/// ranges become 0..count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subids {
    pub uid: u32,
    pub gid: u32,
    pub count: u32,
}

/// The namespace needs at least this many ids (Debian's base system uses
/// uids up to 65534, `nobody`).
pub const MIN_IDS: u32 = 65536;
/// The unprivileged user commands run as unless they ask for root.
pub const NOBODY: u32 = 65534;
/// Where the workspace appears inside.
pub const WORKSPACE: &str = "/workspace";
const OLDROOT: &str = ".taskhost-oldroot";

/// Why the backend cannot work here, or failed.
#[derive(Debug, thiserror::Error)]
pub enum UnshareError {
    #[error("the unshare backend cannot run here: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

fn failed(what: &str, e: impl std::fmt::Display) -> UnshareError {
    UnshareError::Failed(format!("{what}: {e}"))
}

/// Checks that user namespaces and subordinate ids work for this user,
/// and returns the ids to map. The error says what is missing and how to
/// add it.
pub fn check_available() -> Result<Subids, UnshareError> {
    let missing: Vec<&str> = ["unshare", "nsenter", "newuidmap", "newgidmap", "tar"]
        .into_iter()
        .filter(|p| which(p).is_none())
        .collect();
    if !missing.is_empty() {
        let package = if missing.iter().any(|p| p.starts_with("new")) {
            " (newuidmap and newgidmap: apt-get install uidmap)"
        } else {
            ""
        };
        return Err(UnshareError::Unavailable(format!(
            "missing programs: {}{package}",
            missing.join(", ")
        )));
    }
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Err(UnshareError::Unavailable(
            "user namespaces are disabled (sysctl user.max_user_namespaces=0); enable them with \
             `sysctl -w user.max_user_namespaces=15000`"
                .into(),
        ));
    }
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    if uid != 0 && read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Err(UnshareError::Unavailable(
            "unprivileged user namespaces are disabled; enable them with \
             `sysctl -w kernel.unprivileged_userns_clone=1`"
                .into(),
        ));
    }
    let name = user_name(uid);
    let ids = |file: &str| -> Result<u32, UnshareError> {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        subid_start(&text, &name, uid).ok_or_else(|| {
            UnshareError::Unavailable(format!(
                "{file} has no range of at least {MIN_IDS} ids for user {name}; add one, e.g. \
                 the line `{name}:100000:65536` (or run `usermod --add-subuids 100000-165535 \
                 --add-subgids 100000-165535 {name}`)"
            ))
        })
    };
    Ok(Subids {
        uid: ids("/etc/subuid")?,
        gid: ids("/etc/subgid")?,
        count: MIN_IDS,
    })
}

/// First start of a `user:start:count` range with count ≥ [`MIN_IDS`] for
/// `name` or numeric `uid`.
fn subid_start(text: &str, name: &str, uid: u32) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut parts = line.trim().split(':');
        let (owner, start, count) = (parts.next()?, parts.next()?, parts.next()?);
        let count: u32 = count.parse().ok()?;
        let ours = owner == name || owner.parse::<u32>().ok() == Some(uid);
        (ours && count >= MIN_IDS)
            .then(|| start.parse().ok())
            .flatten()
    })
}

fn user_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}

fn which(program: &str) -> Option<PathBuf> {
    super::PATH
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// `unshare` arguments that map the subordinate ids.
fn map_args(ids: Subids) -> [String; 2] {
    [
        format!("--map-users={},0,{}", ids.uid, ids.count),
        format!("--map-groups={},0,{}", ids.gid, ids.count),
    ]
}

/// Runs a short setup command to completion; its stderr becomes the error.
/// `fds` are inherited as descriptors 3, 4, ... (`/proc/self/fd/3`, ...).
async fn setup(
    argv: &[String],
    fds: &[&File],
    stdin: Option<File>,
    what: &str,
) -> Result<(), UnshareError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(UnshareError::Failed(format!("{what}: empty command")));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", super::PATH)
        .env("LC_ALL", "C.UTF-8")
        .current_dir("/")
        .stdin(stdin.map_or_else(Stdio::null, Stdio::from))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
    if !raw.is_empty() {
        // SAFETY: only dup2/fcntl, which are async-signal-safe, run between
        // fork and exec.
        unsafe {
            cmd.pre_exec(move || inherit_fds(&raw));
        }
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| failed(&format!("{what}: starting {program}"), e))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(UnshareError::Failed(format!(
        "{what} failed ({}): {}",
        out.status,
        stderr.trim()
    )))
}

/// In the child: places `fds` at 3, 4, ... without close-on-exec.
fn inherit_fds(fds: &[i32]) -> io::Result<()> {
    // Move them out of the way first so dup2 never clobbers a source.
    let mut high = Vec::with_capacity(fds.len());
    for &fd in fds {
        // SAFETY: fcntl on a descriptor the parent owns.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        high.push(dup);
    }
    for (i, &fd) in high.iter().enumerate() {
        let target = 3 + i32::try_from(i).unwrap_or(0);
        // SAFETY: dup2 onto a small descriptor number; the result has no
        // close-on-exec flag.
        if unsafe { libc::dup2(fd, target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn fd_path(n: usize) -> String {
    format!("/proc/self/fd/{}", 3 + n)
}

fn open_dir(path: &Path) -> Result<File, UnshareError> {
    File::open(path).map_err(|e| failed(&format!("opening {}", path.display()), e))
}

/// Makes `dir` writable by the namespace's root for a moment.
fn set_mode(dir: &Path, mode: u32) -> Result<(), UnshareError> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| failed(&format!("chmod {}", dir.display()), e))
}

/// Removes a tree that namespace ids own (the caller may not be able to).
pub async fn remove_tree(ids: Subids, path: &Path) -> Result<(), UnshareError> {
    if !path.exists() {
        return Ok(());
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let parent_dir = open_dir(parent)?;
    let target = format!("{}/{}", fd_path(0), name.to_string_lossy());
    let mut argv = vec!["unshare".to_string()];
    argv.extend(map_args(ids));
    argv.extend(
        [
            "--setuid=0",
            "--setgid=0",
            "--",
            "rm",
            "-rf",
            "--one-file-system",
        ]
        .map(String::from),
    );
    argv.push(target);
    // The caller's own files inside are not the namespace's to remove.
    let _ = setup(&argv, &[&parent_dir], None, "removing an environment tree").await;
    if path.exists() {
        std::fs::remove_dir_all(path)
            .map_err(|e| failed(&format!("removing {}", path.display()), e))?;
    }
    Ok(())
}

// ---- the cache of unpacked tarballs ------------------------------------

/// Unpacked environments, one directory per tarball sha256.
#[derive(Clone, Debug)]
pub struct ImageCache {
    dir: PathBuf,
}

impl ImageCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ImageCache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The unpacked root of `tarball` (whose content has `sha256`),
    /// unpacking it first if this is its first use. Concurrent callers
    /// each unpack into their own staging directory; the first rename wins.
    pub async fn ensure(
        &self,
        ids: Subids,
        sha256: &str,
        tarball: &Path,
    ) -> Result<PathBuf, UnshareError> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(UnshareError::Failed(format!(
                "bad tarball sha256 '{sha256}'"
            )));
        }
        let done = self.dir.join(sha256);
        let root = done.join("root");
        if root.is_dir() {
            return Ok(root);
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| failed(&format!("creating {}", self.dir.display()), e))?;
        set_mode(&self.dir, 0o700)?;
        let staging = tempfile::Builder::new()
            .prefix(".unpack-")
            .tempdir_in(&self.dir)
            .map_err(|e| failed("creating a staging directory", e))?
            .keep();
        let result = self.unpack(ids, tarball, &staging).await;
        if let Err(e) = result {
            let _ = remove_tree(ids, &staging).await;
            return Err(e);
        }
        set_mode(&staging, 0o755)?;
        match std::fs::rename(&staging, &done) {
            Ok(()) => Ok(root),
            Err(_) if root.is_dir() => {
                // Another run won the race.
                let _ = remove_tree(ids, &staging).await;
                Ok(root)
            }
            Err(e) => {
                let _ = remove_tree(ids, &staging).await;
                Err(failed(
                    &format!("moving the unpacked tree to {}", done.display()),
                    e,
                ))
            }
        }
    }

    async fn unpack(
        &self,
        ids: Subids,
        tarball: &Path,
        staging: &Path,
    ) -> Result<(), UnshareError> {
        // Namespace root creates `root` itself, so it owns it.
        set_mode(staging, 0o777)?;
        let dir = open_dir(staging)?;
        let tar = File::open(tarball)
            .map_err(|e| failed(&format!("opening {}", tarball.display()), e))?;
        let mut argv = vec!["unshare".to_string()];
        argv.extend(map_args(ids));
        argv.extend(["--setuid=0", "--setgid=0", "--"].map(String::from));
        let mut mkdir = argv.clone();
        mkdir.extend(["mkdir".to_string(), format!("{}/root", fd_path(0))]);
        setup(&mkdir, &[&dir], None, "creating the unpack directory").await?;
        set_mode(staging, 0o755)?;
        // GNU tar refuses `..` members, strips leading `/`, and extracts
        // symlinks that point outside as placeholders until the end, so an
        // archive cannot write through its own links. Device nodes cannot
        // be created in a user namespace; /dev is mounted at run time.
        let mut untar = argv;
        untar.extend([
            "tar".to_string(),
            "--extract".into(),
            "--numeric-owner".into(),
            "--same-permissions".into(),
            "--exclude=./dev/*".into(),
            format!("--directory={}/root", fd_path(0)),
            format!("--file={}", fd_path(1)),
        ]);
        let started = Instant::now();
        setup(&untar, &[&dir, &tar], None, "unpacking the system tarball").await?;
        tracing::debug!("unpacked {} in {:?}", tarball.display(), started.elapsed());
        Ok(())
    }
}

// ---- a running environment ---------------------------------------------

/// Builds the environment's /dev (`$1`): a tmpfs with the basic device
/// nodes bound from the host, the usual symlinks, a new devpts instance
/// and a tmpfs /dev/shm.
const DEV_SCRIPT: &str = r#"set -e
d="$1"
mount -t tmpfs -o mode=755,nosuid,noexec,size=1m tmpfs "$d"
for n in null zero full random urandom tty; do
    : > "$d/$n"
    mount --bind "/dev/$n" "$d/$n"
done
ln -s /proc/self/fd "$d/fd"
ln -s /proc/self/fd/0 "$d/stdin"
ln -s /proc/self/fd/1 "$d/stdout"
ln -s /proc/self/fd/2 "$d/stderr"
mkdir "$d/pts" "$d/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$d/pts"
ln -s pts/ptmx "$d/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$d/shm"
"#;

impl From<UnshareError> for super::BackendError {
    fn from(e: UnshareError) -> Self {
        match e {
            UnshareError::Unavailable(why) => super::BackendError::Unavailable {
                backend: "unshare",
                why,
            },
            UnshareError::Failed(why) => super::BackendError::Failed(why),
        }
    }
}

/// The category of environment artifact this backend opens.
pub const SYSTEM_TARBALL: &str = "debian:system-tarball";

/// The `unshare` backend.
pub struct Unshare;

impl super::Backend for Unshare {
    fn name(&self) -> &'static str {
        "unshare"
    }

    fn isolation(&self) -> super::Isolation {
        super::Isolation::Container
    }

    fn environments(&self) -> &'static [&'static str] {
        &[SYSTEM_TARBALL]
    }

    fn check_available(&self) -> Result<(), super::BackendError> {
        check_available().map(drop).map_err(Into::into)
    }

    fn open<'a>(
        &'a self,
        request: super::OpenRequest<'a>,
    ) -> super::BoxFuture<'a, Result<Box<dyn super::EnvironmentSession>, super::BackendError>> {
        Box::pin(async move {
            let session = open_environment(request).await?;
            Ok(Box::new(session) as Box<dyn super::EnvironmentSession>)
        })
    }
}

/// Opens an environment over the image of `request`: the tarball is
/// unpacked into the cache on first use, and the packages the plugin
/// declares are installed once per tarball and package set into a cached
/// layer that every later run stacks over it (as debusine installs lintian
/// before running it).
async fn open_environment(request: super::OpenRequest<'_>) -> Result<Session, UnshareError> {
    use super::layers::{LayerCache, LayerKey};
    let super::OpenRequest {
        image,
        workspace,
        scratch,
        packages,
        cache_dir,
        deadline,
        log,
        progress,
        remote: _,
        shape: _,
        keep_machine: _,
        machine: _,
    } = request;
    let image = image.ok_or_else(|| {
        UnshareError::Failed(format!(
            "the unshare backend needs an environment: a {SYSTEM_TARBALL} artifact"
        ))
    })?;
    let ids = check_available()?;
    let started = Instant::now();
    let step = progress.spinner("preparing the environment");
    let cache = ImageCache::new(cache_dir);
    let lower = cache.ensure(ids, &image.sha256, &image.path).await?;
    // Inside, everyone is "other" to the workspace: it must be readable.
    // Its parent stays private.
    std::fs::set_permissions(workspace, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| failed("chmod workspace", e))?;
    drop(step);
    let mut lowers = vec![lower];
    let mut lease = None;
    let mut cached = String::new();
    if !packages.is_empty() {
        let key = LayerKey::new(&image.sha256, packages).map_err(|e| {
            UnshareError::Failed(format!("the plugin's manifest declares packages: {e}"))
        })?;
        let layers = LayerCache::new(cache.dir().join("layers"), ids);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let step = progress.spinner("installing packages in the environment");
        let layer = layers.ensure(&key, &lowers[0], remaining).await;
        drop(step);
        let layer = layer?;
        let list = key.packages().join(", ");
        if layer.waited > Duration::from_secs(1) {
            log.info(
                "process",
                &format!(
                    "waited {:.1}s for another run installing {list}",
                    layer.waited.as_secs_f64()
                ),
            );
        }
        match &layer.built {
            Some(built) => {
                for line in built.log.lines() {
                    log.debug("apt", line);
                }
                if !built.installed.is_empty() {
                    log.info(
                        "process",
                        &format!(
                            "installed in the environment: {}",
                            built.installed.join(" ")
                        ),
                    );
                }
                log.info(
                    "process",
                    &format!(
                        "installed {list} in {:.1}s (layer cached for next time)",
                        built.took.as_secs_f64()
                    ),
                );
                match layers.evict().await {
                    Ok(e) if !e.removed.is_empty() => log.info(
                        "process",
                        &format!(
                            "removed {} least recently used package layer(s) ({} MiB)",
                            e.removed.len(),
                            e.freed >> 20
                        ),
                    ),
                    Ok(_) => {}
                    Err(e) => log.warn("process", &format!("cleaning the package layers: {e}")),
                }
            }
            None => cached = format!(" (cached layer for {list})"),
        }
        lowers.insert(0, layer.tree);
        lease = Some(layer.lease);
    }
    let lowers: Vec<&Path> = lowers.iter().map(|p| p.as_path()).collect();
    let mut session = Session::open_layers(ids, &lowers, workspace, &scratch).await?;
    if let Some(lease) = lease {
        session.hold(lease);
    }
    log.info(
        "process",
        &format!(
            "environment {} ({}) ready in {:.1}s{cached}",
            image.id,
            image.file_name,
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(session)
}

impl super::EnvironmentSession for Session {
    fn shares_workspace(&self) -> bool {
        false
    }

    fn command(&self, spec: ProcessSpec, as_root: bool) -> io::Result<super::CommandFuture> {
        Ok(Box::pin(super::local::run(self.inside(spec, as_root)?)))
    }

    fn close(self: Box<Self>) -> super::BoxFuture<'static, Result<(), super::BackendError>> {
        Box::pin(async move { Ok(Session::close(*self).await?) })
    }
}

/// An opened environment: the holder process and its mounts.
#[derive(Debug)]
pub struct Session {
    holder: Child,
    pid: u32,
    ids: Subids,
    scratch: PathBuf,
    workspace: PathBuf,
    /// The holder's mount namespace (`mnt:[N]`), to tell when it is gone.
    mnt_ns: Option<PathBuf>,
    /// Cached layers this environment reads: held until it closes.
    leases: Vec<super::layers::Lease>,
}

impl Session {
    /// Opens an environment over the unpacked `lower` tree, with
    /// `workspace` at [`WORKSPACE`]. `scratch` (a new directory the caller
    /// can write) receives the overlay's upper layer.
    pub async fn open(
        ids: Subids,
        lower: &Path,
        workspace: &Path,
        scratch: &Path,
    ) -> Result<Session, UnshareError> {
        Self::open_layers(ids, &[lower], workspace, scratch).await
    }

    /// Like [`Session::open`] over several read-only trees, the first on
    /// top (`lowerdir=a:b`): e.g. a cached package layer over the
    /// unpacked tarball.
    pub async fn open_layers(
        ids: Subids,
        lowers: &[&Path],
        workspace: &Path,
        scratch: &Path,
    ) -> Result<Session, UnshareError> {
        if lowers.is_empty() {
            return Err(UnshareError::Failed("an environment needs a tree".into()));
        }
        let mut argv: Vec<String> = vec!["unshare".into()];
        argv.extend(map_args(ids));
        argv.extend(
            [
                "--user",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--propagation=private",
                "--",
                "cat",
            ]
            .map(String::from),
        );
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| UnshareError::Failed("empty argv".into()))?;
        // `cat` on a pipe only we hold: if runtask dies, the pipe closes,
        // pid 1 exits and the kernel ends everything in the namespace.
        let holder = Command::new(program)
            .args(args)
            .env_clear()
            .env("PATH", super::PATH)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed("starting unshare", e))?;
        let pid = holder
            .id()
            .ok_or_else(|| UnshareError::Failed("unshare exited at once".into()))?;
        let mut session = Session {
            holder,
            pid,
            ids,
            scratch: scratch.to_path_buf(),
            workspace: workspace.to_path_buf(),
            mnt_ns: None,
            leases: Vec::new(),
        };
        session.wait_ready().await?;
        session.mnt_ns = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
        session.mount(lowers).await?;
        Ok(session)
    }

    /// Keeps `lease` (a cached layer this environment reads) until the
    /// environment closes.
    pub fn hold(&mut self, lease: super::layers::Lease) {
        self.leases.push(lease);
    }

    /// Waits until unshare has mapped the ids and pid 1 runs `cat`.
    async fn wait_ready(&mut self) -> Result<(), UnshareError> {
        let children = format!("/proc/{0}/task/{0}/children", self.pid);
        let started = Instant::now();
        loop {
            // unshare forks helpers for newuidmap first; pid 1 is the child
            // that has become `cat`.
            let children = std::fs::read_to_string(&children).unwrap_or_default();
            let forked = children.split_whitespace().any(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "cat")
            });
            if forked {
                return Ok(());
            }
            if let Ok(Some(status)) = self.holder.try_wait() {
                let mut err = String::new();
                if let Some(mut stderr) = self.holder.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let _ = stderr.read_to_string(&mut err).await;
                }
                return Err(UnshareError::Failed(format!(
                    "unshare failed ({status}): {}",
                    err.trim()
                )));
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err(UnshareError::Failed(
                    "unshare did not start within 10 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// `nsenter` into the environment's namespaces; with `root`, chrooted
    /// to the environment (after [`Session::mount`]).
    fn nsenter(&self, in_root: bool) -> Vec<String> {
        let mut argv = vec![
            "nsenter".to_string(),
            format!("--target={}", self.pid),
            "--user".into(),
            "--mount".into(),
            format!("--pid=/proc/{}/ns/pid_for_children", self.pid),
        ];
        if in_root {
            argv.push("--root".into());
        }
        argv
    }

    /// A host path as the holder's mount namespace sees it.
    fn in_ns(&self, path: &Path) -> PathBuf {
        let mut p = OsString::from(format!("/proc/{}/root", self.pid));
        p.push(path.as_os_str());
        PathBuf::from(p)
    }

    async fn run_setup(
        &self,
        in_root: bool,
        args: &[String],
        fds: &[&File],
        what: &str,
    ) -> Result<(), UnshareError> {
        let mut argv = self.nsenter(in_root);
        argv.push("--".into());
        argv.extend(args.iter().cloned());
        setup(&argv, fds, None, what).await
    }

    async fn mount(&mut self, lowers: &[&Path]) -> Result<(), UnshareError> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // The upper and work dirs belong to namespace root.
        set_mode(&self.scratch, 0o777)?;
        let scratch = open_dir(&self.in_ns(&self.scratch))?;
        let made = self
            .run_setup(
                false,
                &s(&[
                    "mkdir",
                    &format!("{}/upper", fd_path(0)),
                    &format!("{}/work", fd_path(0)),
                    &format!("{}/root", fd_path(0)),
                ]),
                &[&scratch],
                "creating the overlay directories",
            )
            .await;
        set_mode(&self.scratch, 0o755)?;
        made?;
        let lower_fds = lowers
            .iter()
            .map(|l| open_dir(&self.in_ns(l)))
            .collect::<Result<Vec<_>, _>>()?;
        let n = lower_fds.len();
        let lowerdir: Vec<String> = (0..n).map(fd_path).collect();
        let options = format!(
            "lowerdir={},upperdir={1}/upper,workdir={1}/work,userxattr",
            lowerdir.join(":"),
            fd_path(n)
        );
        let mut fds: Vec<&File> = lower_fds.iter().collect();
        fds.push(&scratch);
        self.run_setup(
            false,
            &s(&[
                "mount",
                "-t",
                "overlay",
                "overlay",
                "-o",
                &options,
                &format!("{}/root", fd_path(n)),
            ]),
            &fds,
            "mounting the overlay",
        )
        .await?;
        drop(lower_fds);
        let root = open_dir(&self.in_ns(&self.scratch.join("root")))?;
        let ws = open_dir(&self.in_ns(&self.workspace))?;
        // Mount points are created without -p: mkdir never follows a
        // symlink in its last component, and a mount through a planted
        // symlink lands only in this private namespace.
        for dir in ["workspace", OLDROOT] {
            let _ = self
                .run_setup(
                    false,
                    &s(&["mkdir", &format!("{}/{dir}", fd_path(0))]),
                    &[&root],
                    "mkdir",
                )
                .await;
        }
        let r = fd_path(0);
        // A /dev of its own, as mmdebstrap makes one in unshare mode: the
        // basic nodes bound from the host, a private devpts and /dev/shm,
        // and none of the host's disks, consoles or /dev/kvm. The script is
        // fixed text; the root is its argument.
        self.run_setup(
            false,
            &s(&["sh", "-c", DEV_SCRIPT, "sh", &format!("{r}/dev")]),
            &[&root],
            "mounting /dev",
        )
        .await?;
        self.run_setup(
            false,
            &s(&["mount", "-t", "proc", "proc", &format!("{r}/proc")]),
            &[&root],
            "mounting /proc",
        )
        .await?;
        self.run_setup(
            false,
            &s(&[
                "mount",
                "--no-canonicalize",
                "--bind",
                &fd_path(1),
                &format!("{r}/workspace"),
            ]),
            &[&root, &ws],
            "mounting the workspace",
        )
        .await?;
        self.run_setup(
            false,
            &s(&["pivot_root", &r, &format!("{r}/{OLDROOT}")]),
            &[&root],
            "pivot_root",
        )
        .await?;
        drop((root, ws));
        // From here on commands run inside the environment.
        self.run_setup(
            true,
            &s(&["umount", "--lazy", &format!("/{OLDROOT}")]),
            &[],
            "unmounting the host tree",
        )
        .await?;
        let _ = self
            .run_setup(true, &s(&["rmdir", &format!("/{OLDROOT}")]), &[], "rmdir")
            .await;
        self.run_setup(
            true,
            &s(&["rm", "-f", "/etc/resolv.conf"]),
            &[],
            "replacing resolv.conf",
        )
        .await?;
        if let Ok(resolv) = File::open("/etc/resolv.conf") {
            let mut argv = self.nsenter(true);
            argv.extend(s(&["--", "cp", "/dev/stdin", "/etc/resolv.conf"]));
            setup(&argv, &[], Some(resolv), "copying resolv.conf").await?;
        }
        Ok(())
    }

    /// Runs `spec` inside: `cwd` must lie in the workspace.
    pub async fn run(&self, spec: ProcessSpec, as_root: bool) -> io::Result<ProcessExit> {
        super::local::run(self.inside(spec, as_root)?).await
    }

    /// `spec` rewritten to run inside, for [`super::local::run`] (which
    /// owns it, so the command may outlive this borrow).
    pub fn inside(&self, mut spec: ProcessSpec, as_root: bool) -> io::Result<ProcessSpec> {
        let rel = spec.cwd.strip_prefix(&self.workspace).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "cwd outside the workspace")
        })?;
        let cwd = Path::new(WORKSPACE).join(rel);
        let id = if as_root { 0 } else { NOBODY };
        let mut argv = self.nsenter(true);
        argv.extend([
            format!("--wdns={}", cwd.display()),
            format!("--setuid={id}"),
            format!("--setgid={id}"),
            "--".into(),
        ]);
        argv.append(&mut spec.argv);
        spec.argv = argv;
        spec.tmpdir = PathBuf::from("/tmp");
        let home = if as_root { "/root" } else { "/nonexistent" };
        spec.env.push(("HOME".into(), home.into()));
        spec.cwd = PathBuf::from("/");
        Ok(spec)
    }

    /// Runs `argv` inside as root and returns its exit status and output
    /// (setup work of the host, not a plugin's command).
    async fn capture(
        &self,
        argv: &[&str],
        timeout: Duration,
    ) -> Result<(bool, String), UnshareError> {
        let mut full = self.nsenter(true);
        full.extend(["--wdns=/".to_string(), "--".to_string()]);
        full.extend(argv.iter().map(|a| a.to_string()));
        let (program, args) = full
            .split_first()
            .ok_or_else(|| UnshareError::Failed("empty argv".into()))?;
        let child = Command::new(program)
            .args(args)
            .env_clear()
            .env("PATH", super::PATH)
            .env("HOME", "/root")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("LC_ALL", "C.UTF-8")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(timeout, child)
            .await
            .map_err(|_| UnshareError::Failed(format!("`{}` timed out", argv.join(" "))))?
            .map_err(|e| failed(&format!("running {}", argv.join(" ")), e))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok((out.status.success(), text))
    }

    /// Installs the Debian `packages` the environment lacks with apt-get,
    /// as debusine does before running a tool in an environment. Returns
    /// the packages installed and apt's output.
    pub async fn install_packages(
        &self,
        packages: &[String],
        timeout: Duration,
    ) -> Result<(Vec<String>, String), UnshareError> {
        if packages.is_empty() {
            return Ok((Vec::new(), String::new()));
        }
        let names: Vec<&str> = packages.iter().map(String::as_str).collect();
        let mut query = vec![
            "dpkg-query",
            "--show",
            "--showformat=${Package} ${db:Status-Status}\n",
        ];
        query.extend(&names);
        let (_, listed) = self.capture(&query, timeout).await?;
        let missing = missing_packages(&names, &listed);
        if missing.is_empty() {
            return Ok((Vec::new(), String::new()));
        }
        let mut log = String::new();
        for step in [
            vec!["apt-get", "update"],
            [
                vec!["apt-get", "install", "--yes", "--no-install-recommends"],
                missing.iter().map(String::as_str).collect(),
            ]
            .concat(),
        ] {
            let (ok, out) = self.capture(&step, timeout).await?;
            log.push_str(&out);
            if !ok {
                let tail: Vec<&str> = out.lines().rev().take(15).collect();
                return Err(UnshareError::Failed(format!(
                    "`{}` failed in the environment:\n{}",
                    step.join(" "),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )));
            }
        }
        Ok((missing, log))
    }

    /// Empties what an install leaves that does not belong in a cached
    /// layer: apt's downloaded packages and lists (as mmdebstrap leaves
    /// a tarball) and the host's resolv.conf.
    pub async fn tidy_for_layer(&self, timeout: Duration) -> Result<(), UnshareError> {
        for step in [
            &["apt-get", "clean"][..],
            &[
                "find",
                "/var/lib/apt/lists",
                "-mindepth",
                "1",
                "-maxdepth",
                "1",
                "-type",
                "f",
                "!",
                "-name",
                "lock",
                "-delete",
            ],
            &["rm", "-f", "/etc/resolv.conf"],
        ] {
            let (ok, out) = self.capture(step, timeout).await?;
            if !ok {
                return Err(UnshareError::Failed(format!(
                    "`{}` failed in the environment: {}",
                    step.join(" "),
                    out.trim()
                )));
            }
        }
        Ok(())
    }

    /// Ends the environment and waits until nothing runs in it any more,
    /// keeping the upper layer in `scratch` (to become a cached layer).
    /// The holder's `cat` sees end of file and exits; as pid 1 of the
    /// namespace, its exit kills and waits for every other process there.
    pub async fn end(mut self) -> Result<(), UnshareError> {
        drop(self.holder.stdin.take());
        let graceful = tokio::time::timeout(Duration::from_secs(5), self.holder.wait()).await;
        if graceful.is_err() {
            let _ = self.holder.start_kill();
            let _ = self.holder.wait().await;
        }
        let Some(ns) = self.mnt_ns.take() else {
            return Ok(());
        };
        let started = Instant::now();
        while mount_ns_in_use(&ns) {
            if started.elapsed() > Duration::from_secs(10) {
                return Err(UnshareError::Failed(format!(
                    "processes of the environment still run 10 s after it ended ({})",
                    ns.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Ends every process inside and removes the upper layer.
    pub async fn close(mut self) -> Result<(), UnshareError> {
        drop(self.holder.stdin.take());
        let _ = self.holder.start_kill();
        let _ = self.holder.wait().await;
        remove_tree(self.ids, &self.scratch).await
    }

    /// The holder's pid (for tests).
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

/// Whether a process still lives in mount namespace `ns` (`mnt:[N]`, as
/// `/proc/PID/ns/mnt` reads). Processes this user may not inspect are
/// not seen.
fn mount_ns_in_use(ns: &Path) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.filter_map(Result::ok).any(|e| {
        let name = e.file_name();
        name.to_string_lossy().bytes().all(|b| b.is_ascii_digit())
            && std::fs::read_link(e.path().join("ns/mnt")).is_ok_and(|l| l == ns)
    })
}

/// The packages of `wanted` that dpkg-query's `NAME STATUS` lines do not
/// list as installed.
fn missing_packages(wanted: &[&str], listed: &str) -> Vec<String> {
    wanted
        .iter()
        .filter(|name| {
            !listed.lines().any(|line| {
                line.split_once(' ').is_some_and(|(pkg, status)| {
                    pkg.split(':').next() == Some(**name) && status.trim() == "installed"
                })
            })
        })
        .map(|s| s.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_packages_are_the_ones_not_installed() {
        let listed = "lintian installed\nblhc config-files\nlibc6:amd64 installed\ndpkg-query: no packages found matching piuparts\n";
        assert_eq!(
            missing_packages(&["lintian", "blhc", "libc6", "piuparts"], listed),
            vec!["blhc".to_string(), "piuparts".to_string()]
        );
    }

    #[test]
    fn subid_ranges_by_name_or_uid_and_size() {
        let text = "alice:100000:65536\nroot:200000:1000\n0:300000:65536\n";
        assert_eq!(subid_start(text, "alice", 1000), Some(100000));
        // Too small a range is skipped; the numeric entry matches root.
        assert_eq!(subid_start(text, "root", 0), Some(300000));
        assert_eq!(subid_start(text, "bob", 1001), None);
        assert_eq!(subid_start("garbage\n::\nbob:x:y\n", "bob", 1), None);
    }

    #[test]
    fn map_args_use_the_subordinate_ranges() {
        let ids = Subids {
            uid: 100000,
            gid: 200000,
            count: 65536,
        };
        assert_eq!(
            map_args(ids),
            [
                "--map-users=100000,0,65536".to_string(),
                "--map-groups=200000,0,65536".to_string()
            ]
        );
    }
}
