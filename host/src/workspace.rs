//! A run's workspace: a fresh directory that the plugin sees as `.`.
//!
//! Paths from plugins are checked here. Syntax first (relative, no `..`,
//! no NUL), then every open goes through cap-std, which refuses symlinks
//! that lead outside the directory: a program run by the plugin may plant
//! one, and the host must not follow it on the plugin's behalf.

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};

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

    /// Opens a workspace file for reading; refuses escapes by symlink.
    pub fn open(&self, rel: &str) -> io::Result<std::fs::File> {
        let p = check(rel).map_err(io::Error::other)?;
        Ok(self.dir.open(p)?.into_std())
    }

    /// Creates (truncating) a workspace file, making parent directories.
    pub fn create_file(&self, rel: &str) -> io::Result<std::fs::File> {
        let p = check(rel).map_err(io::Error::other)?;
        if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.dir.create_dir_all(parent)?;
        }
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        Ok(self.dir.open_with(p, &opts)?.into_std())
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
    }

    pub fn kept(&self) -> bool {
        self.keep
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if !self.keep
            && let Err(e) = std::fs::remove_dir_all(&self.root)
        {
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
