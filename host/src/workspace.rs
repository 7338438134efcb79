//! A run's workspace: a fresh directory that the plugin sees as `.`.
//!
//! Paths from plugins are checked here. Syntax first (relative, no `..`,
//! no NUL), then every open goes through cap-std, which refuses symlinks
//! that lead outside the directory: a program run by the plugin may plant
//! one, and the host must not follow it on the plugin's behalf.
//!
//! The host opens only regular files (and directories) that a plugin
//! names, and never blocks doing so: a program may have put a FIFO, a
//! socket or a device where the plugin points. The type is checked before
//! opening, the open itself is non-blocking (a FIFO swapped in meanwhile
//! cannot hang it) and the opened file is checked again.

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

/// A workspace directory with capability-based access.
pub struct Workspace {
    root: PathBuf,
    dir: Dir,
    keep: bool,
}

/// A path a plugin gave that is not a plain relative path.
#[derive(Debug, thiserror::Error)]
#[error("'{path}' is not a workspace path: {why}")]
pub struct BadPath {
    pub path: String,
    pub why: &'static str,
}

/// Checks that `path` is a plain relative path inside the workspace.
pub fn check(path: &str) -> Result<&Path, BadPath> {
    let bad = |why| BadPath {
        path: path.to_string(),
        why,
    };
    if path.is_empty() {
        return Err(bad("it is empty"));
    }
    if path.contains('\0') {
        return Err(bad("it contains a NUL byte"));
    }
    let p = Path::new(path);
    for c in p.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(bad("'..' is not allowed")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad("absolute paths are not allowed"));
            }
        }
    }
    Ok(p)
}

/// Workspaces not yet removed nor kept, for [`remove_all`].
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes every workspace of this process that is neither removed nor
/// kept yet (for an exit that cannot wait for the runs' own cleanup).
pub fn remove_all() {
    for root in live().drain(..) {
        if let Err(e) = std::fs::remove_dir_all(&root) {
            tracing::warn!("could not remove workspace {}: {e}", root.display());
        }
    }
}

/// What a file that is not a regular one is, for messages.
fn kind(ft: cap_std::fs::FileType) -> &'static str {
    use cap_std::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_fifo() {
        "a named pipe (FIFO)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

fn not_regular(rel: &str, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "'{rel}' is {what}, not a regular file; the host opens only regular files \
             in the workspace"
        ),
    )
}

/// Flags of every open of a plugin-named file: never block, never take a
/// controlling terminal.
const NEVER_BLOCK: i32 = libc::O_NONBLOCK | libc::O_NOCTTY;

/// Checks that the opened `file` is a regular file and makes it blocking
/// again (for the programs that inherit it).
fn regular(rel: &str, file: cap_std::fs::File) -> io::Result<std::fs::File> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(rel, kind(meta.file_type())));
    }
    let file = file.into_std();
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(file)
}

impl Workspace {
    /// Creates a fresh, private workspace `run_id` under `parent`. The
    /// parent must be a real directory owned by this user and writable by
    /// no one else (it may sit in a shared /tmp).
    pub fn create(parent: &Path, run_id: &str, keep: bool) -> io::Result<Self> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
        let meta = std::fs::symlink_metadata(parent)?;
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o022 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "workspace directory {} is not a private directory of this user; remove it or set TMPDIR",
                    parent.display()
                ),
            ));
        }
        let root = parent.join(run_id);
        std::fs::DirBuilder::new().mode(0o700).create(&root)?;
        let dir = Dir::open_ambient_dir(&root, ambient_authority())?;
        if !keep {
            live().push(root.clone());
        }
        Ok(Workspace { root, dir, keep })
    }

    /// The host path of the workspace.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host path of workspace path `rel` (checked syntactically; use
    /// the open functions to read or write it).
    pub fn host_path(&self, rel: &str) -> Result<PathBuf, BadPath> {
        Ok(self.root.join(check(rel)?))
    }

    /// Opens a regular workspace file for reading; refuses escapes by
    /// symlink, and anything but a regular file.
    pub fn open(&self, rel: &str) -> io::Result<std::fs::File> {
        let p = check(rel).map_err(io::Error::other)?;
        let meta = self.dir.metadata(p)?;
        if !meta.is_file() {
            return Err(not_regular(rel, kind(meta.file_type())));
        }
        let mut opts = OpenOptions::new();
        opts.read(true).custom_flags(NEVER_BLOCK);
        regular(rel, self.dir.open_with(p, &opts)?)
    }

    /// Creates (truncating) a workspace file, making parent directories.
    /// An existing path must be a regular file, not a symlink.
    pub fn create_file(&self, rel: &str) -> io::Result<std::fs::File> {
        let p = check(rel).map_err(io::Error::other)?;
        if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.dir.create_dir_all(parent)?;
        }
        match self.dir.symlink_metadata(p) {
            Ok(meta) if !meta.is_file() => return Err(not_regular(rel, kind(meta.file_type()))),
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut opts = OpenOptions::new();
        opts.write(true)
            .create(true)
            .truncate(true)
            .custom_flags(NEVER_BLOCK | libc::O_NOFOLLOW);
        match self.dir.open_with(p, &opts) {
            Ok(file) => regular(rel, file),
            // A FIFO without a reader, swapped in after the check.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                Err(not_regular(rel, "a named pipe (FIFO)"))
            }
            Err(e) => Err(e),
        }
    }

    /// Makes a workspace directory (and its parents).
    pub fn create_dir_all(&self, rel: &str) -> io::Result<()> {
        let p = check(rel).map_err(io::Error::other)?;
        self.dir.create_dir_all(p)
    }

    /// Checks that `rel` is a directory inside the workspace; returns its
    /// host path.
    pub fn existing_dir(&self, rel: &str) -> io::Result<PathBuf> {
        let p = check(rel).map_err(io::Error::other)?;
        if !self.dir.metadata(p)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("'{rel}' is not a directory"),
            ));
        }
        Ok(self.root.join(p))
    }

    /// Opens a workspace directory; symlinks may not lead out of it.
    pub fn open_dir(&self, rel: &str) -> io::Result<Dir> {
        let p = check(rel).map_err(io::Error::other)?;
        self.dir.open_dir(p)
    }

    /// Keeps the directory after the run.
    pub fn keep(&mut self) {
        self.keep = true;
        live().retain(|r| *r != self.root);
    }

    pub fn kept(&self) -> bool {
        self.keep
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        live().retain(|r| *r != self.root);
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!("could not remove workspace {}: {e}", self.root.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> (tempfile::TempDir, Workspace) {
        let tmp = tempfile::tempdir().unwrap();
        let ws = Workspace::create(tmp.path(), "run", false).unwrap();
        (tmp, ws)
    }

    #[test]
    fn refuses_dotdot_absolute_empty_and_nul() {
        for p in ["../x", "a/../../x", "/etc/passwd", "", "a\0b"] {
            assert!(check(p).is_err(), "{p:?} accepted");
        }
        assert!(check("a/b/./c.txt").is_ok());
    }

    #[test]
    fn refuses_to_follow_a_symlink_out_of_the_workspace() {
        let (_tmp, ws) = ws();
        std::os::unix::fs::symlink("/etc/hostname", ws.root().join("escape")).unwrap();
        assert!(ws.open("escape").is_err());
        std::os::unix::fs::symlink("/tmp", ws.root().join("outdir")).unwrap();
        assert!(ws.create_file("outdir/planted").is_err());
        assert!(!Path::new("/tmp/planted").exists());
    }

    #[test]
    fn refuses_a_parent_that_is_a_symlink_or_shared() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(Workspace::create(&link, "run", false).is_err());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = Workspace::create(&real, "run", false).err().unwrap();
        assert!(e.to_string().contains("not a private directory"), "{e}");
    }

    #[test]
    fn creates_files_in_new_subdirectories() {
        let (_tmp, ws) = ws();
        ws.create_file("a/b/c.txt").unwrap();
        assert!(ws.root().join("a/b/c.txt").is_file());
        assert!(ws.existing_dir("a/b").is_ok());
        assert!(ws.existing_dir("a/b/c.txt").is_err());
    }

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    /// Runs `f` on a thread; fails if it does not return within 5 s.
    fn quickly<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("the open blocked")
    }

    #[test]
    fn a_fifo_is_refused_at_once_for_reading_and_writing() {
        let (_tmp, ws) = ws();
        mkfifo(&ws.root().join("fifo"));
        std::fs::create_dir(ws.root().join("in")).unwrap();
        mkfifo(&ws.root().join("in/file.txt"));
        let ws = std::sync::Arc::new(ws);
        for (what, rel) in [
            ("open", "fifo"),
            ("create", "fifo"),
            ("create", "in/file.txt"),
        ] {
            let w = ws.clone();
            let result = quickly(move || match what {
                "open" => w.open(rel),
                _ => w.create_file(rel),
            });
            let e = result.expect_err(rel);
            assert!(
                e.to_string().contains(&format!(
                    "'{rel}' is a named pipe (FIFO), not a regular file"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn a_fifo_swapped_in_after_the_check_does_not_block() {
        // The race the type check cannot see: the non-blocking open and the
        // check of the opened file catch it.
        let (_tmp, ws) = ws();
        mkfifo(&ws.root().join("fifo"));
        let file = quickly(move || {
            let mut opts = OpenOptions::new();
            opts.read(true).custom_flags(NEVER_BLOCK);
            let opened = ws.dir.open_with("fifo", &opts).unwrap();
            regular("fifo", opened)
        });
        assert!(file.unwrap_err().to_string().contains("a named pipe"));
    }

    #[test]
    fn sockets_directories_devices_and_symlinks_are_refused() {
        let (_tmp, ws) = ws();
        let _sock = std::os::unix::net::UnixListener::bind(ws.root().join("sock")).unwrap();
        std::fs::create_dir(ws.root().join("dir")).unwrap();
        std::fs::write(ws.root().join("real"), "x").unwrap();
        std::os::unix::fs::symlink("real", ws.root().join("link")).unwrap();
        let e = ws.open("sock").unwrap_err().to_string();
        assert!(e.contains("'sock' is a socket"), "{e}");
        let e = ws.open("dir").unwrap_err().to_string();
        assert!(e.contains("'dir' is a directory"), "{e}");
        let e = ws.create_file("link").unwrap_err().to_string();
        assert!(e.contains("'link' is a symbolic link"), "{e}");
        // A symlink inside the workspace may still be read through.
        assert!(ws.open("link").is_ok());
        assert_eq!(
            std::fs::read_to_string(ws.root().join("real")).unwrap(),
            "x"
        );
    }

    #[test]
    fn opened_files_are_blocking_again() {
        let (_tmp, ws) = ws();
        std::fs::write(ws.root().join("in"), "x").unwrap();
        for file in [ws.open("in").unwrap(), ws.create_file("out").unwrap()] {
            // SAFETY: fcntl on a descriptor we own.
            let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
            assert_eq!(flags & libc::O_NONBLOCK, 0);
        }
    }

    #[test]
    fn live_workspaces_are_listed_for_remove_all_until_kept_or_dropped() {
        // (remove_all itself would remove other tests' workspaces.)
        let tmp = tempfile::tempdir().unwrap();
        let ws = Workspace::create(tmp.path(), "live", false).unwrap();
        let root = ws.root().to_path_buf();
        assert!(live().contains(&root));
        drop(ws);
        assert!(!live().contains(&root));
        let mut kept = Workspace::create(tmp.path(), "kept", false).unwrap();
        assert!(live().contains(&kept.root().to_path_buf()));
        kept.keep();
        assert!(!live().contains(&kept.root().to_path_buf()));
    }

    #[test]
    fn is_removed_unless_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let root = {
            let ws = Workspace::create(tmp.path(), "gone", false).unwrap();
            ws.root().to_path_buf()
        };
        assert!(!root.exists());
        let root = {
            let mut ws = Workspace::create(tmp.path(), "kept", false).unwrap();
            ws.keep();
            ws.root().to_path_buf()
        };
        assert!(root.exists());
    }
}
