//! Copying the workspace to the remote directory before a command and
//! back after it: `rsync -rlpt --delete` when both ends have rsync, else
//! tar over ssh. The host's own files under `.taskhost/` stay put, and
//! so do the command's own stdout and stderr files (written locally, from
//! ssh's output). The copy there is skipped when nothing changed here
//! since the copy back ([`Snapshot`]); while other commands of the session
//! run, copies only add and update.

use super::{PATH, plain_word, quote};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use tokio::process::Command;

/// How the workspace travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    Rsync,
    Tar,
}

/// Setting this environment variable to `tar` makes sessions use tar even
/// where rsync exists (tests of the fallback).
pub const TRANSFER_ENV: &str = "TASKHOST_SSH_TRANSFER";

/// What does not travel, as workspace paths.
#[derive(Clone, Debug, Default)]
pub struct Excludes {
    /// The command's stdout and stderr files.
    outputs: Vec<PathBuf>,
}

/// The host's files in `.taskhost/` that never travel (rsync patterns,
/// anchored at the workspace): commands' TMPDIR, other environments'
/// scratch directories, and commands' stdout, stderr and transfer files
/// (`NNN-…`). `.taskhost/python/` travels: the python directive's runner
/// lives there.
const HOST_FILES: [&str; 3] = [".taskhost/tmp", ".taskhost/env-*", ".taskhost/[0-9]*-*"];

impl Excludes {
    /// Also keeps `outputs` (workspace paths) in place.
    pub fn with_outputs(outputs: impl IntoIterator<Item = PathBuf>) -> Self {
        let mut list: Vec<PathBuf> = Vec::new();
        for p in outputs {
            if !list.contains(&p) {
                list.push(p);
            }
        }
        Excludes { outputs: list }
    }

    /// Whether workspace path `rel` (or a directory above it) stays put.
    pub fn excluded(&self, rel: &Path) -> bool {
        let mut parts = rel.components().filter_map(|c| match c {
            Component::Normal(n) => n.to_str(),
            _ => None,
        });
        if parts.next() == Some(".taskhost")
            && let Some(name) = parts.next()
            && (name == "tmp"
                || name.starts_with("env-")
                || (name.starts_with(|c: char| c.is_ascii_digit()) && name[1..].contains('-')))
        {
            return true;
        }
        self.outputs.iter().any(|o| rel.starts_with(o))
    }

    /// Whether only the host's own files stay put (no command output
    /// elsewhere in the workspace).
    pub fn only_host_files(&self) -> bool {
        let host = Excludes::default();
        self.outputs.iter().all(|o| host.excluded(o))
    }

    /// Whether directory `rel` holds something that stays put (so it may
    /// not be removed whole).
    pub fn holds_excluded(&self, rel: &Path) -> bool {
        rel == Path::new(".taskhost") || self.outputs.iter().any(|o| o.starts_with(rel))
    }

    /// rsync's `--exclude` arguments.
    pub fn rsync_args(&self) -> Vec<String> {
        let mut args: Vec<String> = HOST_FILES
            .iter()
            .map(|p| format!("--exclude=/{p}"))
            .collect();
        for o in &self.outputs {
            args.push(format!(
                "--exclude=/{}",
                rsync_literal(&o.to_string_lossy())
            ));
        }
        args
    }

    /// GNU tar's exclusion arguments, for members named `./PATH`.
    pub fn tar_args(&self) -> Vec<String> {
        let mut args = vec![
            "--anchored".to_string(),
            "--no-wildcards-match-slash".into(),
            "--wildcards".into(),
        ];
        args.extend(HOST_FILES.iter().map(|p| format!("--exclude=./{p}")));
        if !self.outputs.is_empty() {
            args.push("--no-wildcards".into());
            for o in &self.outputs {
                args.push(format!("--exclude=./{}", o.to_string_lossy()));
            }
        }
        args
    }
}

/// An rsync pattern matching `path` literally. rsync reads backslash
/// escapes only in patterns that hold a wildcard character, and matches
/// the others as they are.
fn rsync_literal(path: &str) -> String {
    if !path.contains(['*', '?', '[']) {
        return path.to_owned();
    }
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What a workspace holds, but for the host's own files: enough to tell
/// whether anything changed since (a file written again keeps neither its
/// mtime nor, most often, its size).
pub type Snapshot = std::collections::BTreeMap<PathBuf, (u32, u64, i64, i64)>;

/// A [`Snapshot`] of `root`.
pub fn snapshot(root: &Path) -> io::Result<Snapshot> {
    use std::os::unix::fs::MetadataExt;
    let host = Excludes::default();
    let mut out = Snapshot::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let here = rel.join(entry.file_name());
            if host.excluded(&here) {
                continue;
            }
            let m = entry.metadata()?;
            if m.is_dir() {
                dirs.push(here.clone());
            }
            // Its times change with the host's own files in it.
            if here == Path::new(".taskhost") {
                continue;
            }
            out.insert(here, (m.mode(), m.size(), m.mtime(), m.mtime_nsec()));
        }
    }
    Ok(out)
}

/// The remote shell script that empties the remote workspace `dir`
/// before a tar copy arrives, but for what stays put there.
pub fn tar_clean_script(dir: &str) -> String {
    let each = |keep: &str| {
        format!(
            "for f in * .[!.]* ..?*; do case $f in {keep}) ;; *) if [ -e \"$f\" ] || [ -L \"$f\" ]; then rm -rf -- \"$f\"; fi;; esac; done"
        )
    };
    format!(
        "cd {} && {} && if [ -d .taskhost ]; then cd .taskhost && {}; fi",
        super::quote(dir),
        each(".taskhost"),
        each("tmp|env-*|[0-9]*-*")
    )
}

/// Makes the workspace `to` what `from` (a tar copy of the remote one,
/// unpacked on the same file system) holds, by renames, leaving alone
/// what `excludes` keeps; with `delete`, what `from` lacks goes. What is
/// left in `from` is the caller's to remove.
pub fn mirror(from: &Path, to: &Path, excludes: &Excludes, delete: bool) -> io::Result<()> {
    mirror_dir(Some(from), to, Path::new(""), excludes, delete)
}

fn mirror_dir(
    from: Option<&Path>,
    to: &Path,
    rel: &Path,
    excludes: &Excludes,
    delete: bool,
) -> io::Result<()> {
    let from_dir = from.map(|f| f.join(rel));
    let to_dir = to.join(rel);
    // What the remote no longer has goes.
    let gone: Vec<io::Result<std::fs::DirEntry>> = if delete {
        std::fs::read_dir(&to_dir)?.collect()
    } else {
        Vec::new()
    };
    for entry in gone {
        let entry = entry?;
        let name = entry.file_name();
        let here = rel.join(&name);
        if excludes.excluded(&here) {
            continue;
        }
        let there = from_dir.as_ref().map(|d| d.join(&name));
        if there.as_ref().is_some_and(|t| t.symlink_metadata().is_ok()) {
            continue;
        }
        let is_dir = entry.file_type()?.is_dir();
        if is_dir && excludes.holds_excluded(&here) {
            mirror_dir(None, to, &here, excludes, delete)?;
        } else if is_dir {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    let Some(from_dir) = from_dir else {
        return Ok(());
    };
    // What it has comes in.
    for entry in std::fs::read_dir(&from_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let here = rel.join(&name);
        if excludes.excluded(&here) {
            continue;
        }
        let target = to_dir.join(&name);
        let local = target.symlink_metadata().ok();
        if entry.file_type()?.is_dir() && local.as_ref().is_some_and(|m| m.is_dir()) {
            mirror_dir(from, to, &here, excludes, delete)?;
            continue;
        }
        match &local {
            Some(m) if m.is_dir() => std::fs::remove_dir_all(&target)?,
            Some(_) => std::fs::remove_file(&target)?,
            None => {}
        }
        std::fs::rename(entry.path(), &target)?;
    }
    Ok(())
}

// ---- the copies of a session --------------------------------------------

impl super::Inner {
    /// Copies the workspace there (`up`) or back. Alone in the session,
    /// the copy also removes what the other side no longer has, and a copy
    /// there is skipped when nothing changed here since the last copy back.
    pub(super) async fn sync(&self, excludes: &Excludes, up: bool) -> io::Result<()> {
        let mut copies = self.copies.lock().await;
        let alone = self.running.load(Ordering::SeqCst) <= 1;
        let local = || {
            let root = self.workspace.clone();
            async move {
                tokio::task::spawn_blocking(move || snapshot(&root))
                    .await
                    .map_err(io::Error::other)?
            }
        };
        if up && alone && copies.is_some() && copies.as_ref() == local().await.ok().as_ref() {
            return Ok(());
        }
        *copies = None;
        let copied = match self.transfer {
            Transfer::Rsync => self.rsync(excludes, up, alone).await,
            Transfer::Tar if up => self.tar_up(excludes, alone).await,
            Transfer::Tar => self.tar_down(excludes, alone).await,
        };
        if copied.is_ok() && !up && alone && excludes.only_host_files() {
            *copies = local().await.ok();
        }
        copied.map_err(|e| {
            if self.master_alive() {
                io::Error::other(format!(
                    "copying the workspace {} {}: {e}",
                    if up { "to" } else { "back from" },
                    self.target
                ))
            } else {
                self.lost("a copy of the workspace")
            }
        })
    }

    /// rsync's `-e`: ssh over the master connection.
    fn rsync_shell(&self) -> io::Result<String> {
        let mut words = vec!["ssh".to_string()];
        words.extend(self.options.iter().cloned());
        words.extend(["-o".into(), "ControlMaster=no".into()]);
        if let Some(bad) = words.iter().find(|w| !plain_word(w)) {
            return Err(io::Error::other(format!(
                "'{bad}' cannot go into rsync's ssh command"
            )));
        }
        Ok(words.join(" "))
    }

    async fn rsync(&self, excludes: &Excludes, up: bool, delete: bool) -> io::Result<()> {
        let mut local = self.workspace.clone().into_os_string();
        local.push("/");
        let remote = format!("{}:{}/w/", self.host_name(), self.dir);
        let mut cmd = Command::new("rsync");
        // Times to the nanosecond: a file written again within the same
        // second with the same size is not the same file.
        cmd.args(["-rlpt", "--modify-window=-1"]);
        if delete {
            cmd.arg("--delete");
        }
        cmd.args(excludes.rsync_args())
            .arg("-e")
            .arg(self.rsync_shell()?);
        if up {
            cmd.arg(&local).arg(&remote);
        } else {
            cmd.arg(&remote).arg(&local);
        }
        let out = cmd
            .env_clear()
            .env("PATH", PATH)
            .envs(self.client_env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.private.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .output()
            .await?;
        // 24: files vanished meanwhile.
        if matches!(out.status.code(), Some(0 | 24)) {
            return Ok(());
        }
        Err(io::Error::other(format!(
            "rsync failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }

    async fn tar_up(&self, excludes: &Excludes, clean: bool) -> io::Result<()> {
        let mut tar = Command::new("tar");
        tar.arg("--create")
            .arg("--file=-")
            .arg("--directory")
            .arg(&self.workspace)
            .args(excludes.tar_args())
            .arg(".")
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut tar = tar.spawn()?;
        let pipe: Stdio = tar
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("tar's stdout"))?
            .try_into()?;
        let w = quote(&format!("{}/w", self.dir));
        let script = if clean {
            format!(
                "({}) && cd {w} && tar -xf -",
                tar_clean_script(&format!("{}/w", self.dir))
            )
        } else {
            format!("cd {w} && tar -xf -")
        };
        let mut ssh = self.command_for(&script);
        ssh.stdin(pipe);
        let (sent, received) = tokio::join!(tar.wait_with_output(), ssh.output());
        let (sent, received) = (sent?, received?);
        if !sent.status.success() {
            return Err(io::Error::other(format!(
                "tar failed ({}): {}",
                sent.status,
                String::from_utf8_lossy(&sent.stderr).trim()
            )));
        }
        if !received.status.success() {
            return Err(io::Error::other(format!(
                "tar there failed ({}): {}",
                received.status,
                String::from_utf8_lossy(&received.stderr).trim()
            )));
        }
        Ok(())
    }

    async fn tar_down(&self, excludes: &Excludes, delete: bool) -> io::Result<()> {
        // Unpacked beside the workspace's files (a rename away), in a
        // directory that never travels.
        let staging = tempfile::Builder::new()
            .prefix("env-ssh-")
            .tempdir_in(self.workspace.join(".taskhost"))?;
        let w = quote(&format!("{}/w", self.dir));
        let mut ssh = self.command_for(&format!("cd {w} && tar -cf - ."));
        let mut ssh = ssh.spawn()?;
        let pipe: Stdio = ssh
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("ssh's stdout"))?
            .try_into()?;
        let mut tar = Command::new("tar");
        tar.args([
            "--extract",
            "--file=-",
            "--no-same-owner",
            "--same-permissions",
        ])
        .arg("--directory")
        .arg(staging.path())
        .env_clear()
        .env("PATH", PATH)
        .stdin(pipe)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
        let (sent, received) = tokio::join!(ssh.wait_with_output(), tar.output());
        let (sent, received) = (sent?, received?);
        if !sent.status.success() {
            return Err(io::Error::other(format!(
                "tar there failed ({}): {}",
                sent.status,
                String::from_utf8_lossy(&sent.stderr).trim()
            )));
        }
        if !received.status.success() {
            return Err(io::Error::other(format!(
                "tar failed ({}): {}",
                received.status,
                String::from_utf8_lossy(&received.stderr).trim()
            )));
        }
        let (from, to, excludes) = (
            staging.path().to_path_buf(),
            self.workspace.clone(),
            excludes.clone(),
        );
        tokio::task::spawn_blocking(move || mirror(&from, &to, &excludes, delete))
            .await
            .map_err(io::Error::other)??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_own_files_and_the_outputs_stay_put() {
        let e = Excludes::with_outputs([PathBuf::from("out/lintian.txt")]);
        for kept in [
            ".taskhost/tmp",
            ".taskhost/tmp/x",
            ".taskhost/env-1",
            ".taskhost/003-sh.stdout",
            ".taskhost/1000-sh.stderr",
            "out/lintian.txt",
        ] {
            assert!(e.excluded(Path::new(kept)), "{kept}");
        }
        for travels in [
            ".taskhost/python/runner.py",
            ".taskhost/python",
            ".taskhost",
            "out",
            "out/other",
            "tmp",
            "003-x",
            ".taskhost/4",
        ] {
            assert!(!e.excluded(Path::new(travels)), "{travels}");
        }
        assert!(e.holds_excluded(Path::new(".taskhost")));
        assert!(e.holds_excluded(Path::new("out")));
        assert!(!e.holds_excluded(Path::new("other")));
    }

    #[test]
    fn output_paths_are_literal_rsync_patterns() {
        let e = Excludes::with_outputs([PathBuf::from("a b.txt"), PathBuf::from("x[1]*.log")]);
        let args = e.rsync_args();
        assert!(args.contains(&"--exclude=/.taskhost/tmp".to_string()));
        assert!(args.contains(&"--exclude=/a b.txt".to_string()));
        assert!(
            args.contains(&"--exclude=/x\\[1]\\*.log".to_string()),
            "{args:?}"
        );
        let tar = e.tar_args();
        let literal = tar.iter().position(|a| a == "--no-wildcards").unwrap();
        let last_wild = tar.iter().position(|a| a.contains("[0-9]*-*")).unwrap();
        assert!(
            tar.contains(&"--exclude=./x[1]*.log".to_string()),
            "{tar:?}"
        );
        assert!(literal > last_wild, "{tar:?}");
    }

    #[test]
    fn a_mirror_brings_changes_and_removals_but_keeps_what_stays_put() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        let w = |root: &Path, rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        // Local: an old file, a removed one, the host's files, the output.
        w(&to, "kept.txt", "old");
        w(&to, "gone/deep.txt", "x");
        w(&to, "gone.txt", "x");
        w(&to, ".taskhost/001-sh.stdout", "local output");
        w(&to, ".taskhost/python/return.json", "old");
        w(&to, "res/out.log", "local output");
        w(&to, "res/stale", "x");
        // Remote: changed, new, and its own copy of kept things.
        w(&from, "kept.txt", "new");
        w(&from, "new/file", "n");
        w(&from, ".taskhost/001-sh.stdout", "remote junk");
        w(&from, ".taskhost/tmp/t", "remote tmp");
        w(&from, ".taskhost/python/return.json", "{}");
        w(&from, "res/out.log", "remote junk");
        std::os::unix::fs::symlink("/etc/passwd", from.join("link")).unwrap();
        let e = Excludes::with_outputs([PathBuf::from("res/out.log")]);
        std::fs::write(to.join("kept-too.txt"), "x").unwrap();
        std::fs::create_dir_all(from.join("res")).unwrap();
        // Without delete (other commands run meanwhile): only additions.
        let copy = dir.path().join("copy");
        std::process::Command::new("cp")
            .args(["-a"])
            .arg(&from)
            .arg(&copy)
            .status()
            .unwrap();
        mirror(&copy, &to, &e, false).unwrap();
        assert!(to.join("gone.txt").exists() && to.join("kept-too.txt").exists());
        assert_eq!(std::fs::read_to_string(to.join("kept.txt")).unwrap(), "new");
        mirror(&from, &to, &e, true).unwrap();
        assert!(!to.join("kept-too.txt").exists());
        let r = |rel: &str| std::fs::read_to_string(to.join(rel)).ok();
        assert_eq!(r("kept.txt").as_deref(), Some("new"));
        assert_eq!(r("new/file").as_deref(), Some("n"));
        assert_eq!(r(".taskhost/python/return.json").as_deref(), Some("{}"));
        assert_eq!(
            r(".taskhost/001-sh.stdout").as_deref(),
            Some("local output")
        );
        assert_eq!(r("res/out.log").as_deref(), Some("local output"));
        assert!(!to.join(".taskhost/tmp").exists());
        for gone in ["gone", "gone.txt", "res/stale"] {
            assert!(!to.join(gone).exists(), "{gone}");
        }
        assert_eq!(
            std::fs::read_link(to.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
    }

    #[test]
    fn a_snapshot_changes_with_the_workspace_but_not_with_the_hosts_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".taskhost/python")).unwrap();
        std::fs::write(root.join("f"), "one\n").unwrap();
        std::fs::write(root.join(".taskhost/python/kwargs.json"), "{}").unwrap();
        let before = snapshot(root).unwrap();
        std::fs::create_dir_all(root.join(".taskhost/tmp/x")).unwrap();
        std::fs::write(root.join(".taskhost/002-cat.stdout"), "x").unwrap();
        assert_eq!(snapshot(root).unwrap(), before);
        std::fs::write(root.join(".taskhost/python/kwargs.json"), "{1}").unwrap();
        assert_ne!(snapshot(root).unwrap(), before);
        let before = snapshot(root).unwrap();
        // Same size, same second: the nanoseconds tell.
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::fs::write(root.join("f"), "two\n").unwrap();
        assert_ne!(snapshot(root).unwrap(), before);
    }

    #[test]
    fn the_clean_script_spares_what_stays_put() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("w d");
        for rel in [
            "a",
            ".hidden",
            "..two",
            "sub/x",
            ".taskhost/tmp/t",
            ".taskhost/env-2/x",
            ".taskhost/005-x.stdout",
            ".taskhost/python/runner.py",
        ] {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let script = tar_clean_script(root.to_str().unwrap());
        let ok = std::process::Command::new("sh")
            .args(["-c", &script])
            .status()
            .unwrap();
        assert!(ok.success());
        let mut left: Vec<String> = Vec::new();
        for e in walk(&root) {
            left.push(e.strip_prefix(&root).unwrap().display().to_string());
        }
        left.sort();
        assert_eq!(
            left,
            [
                ".taskhost/005-x.stdout",
                ".taskhost/env-2/x",
                ".taskhost/tmp/t"
            ]
        );
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}
