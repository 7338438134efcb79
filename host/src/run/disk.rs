//! The `disk` and `disk-inodes` quotas: a watcher that measures the
//! workspace (what the plugin and its commands wrote there) and ends the
//! run when it grows past either.
//!
//! A size-limited filesystem per run would need loop devices or project
//! quotas, which a host cannot be assumed to have; a watcher works
//! everywhere. One thread per process walks every watched tree (never on
//! the async workers), without following symlinks or crossing into other
//! filesystems, and stops counting as soon as a limit is passed, so a
//! huge tree cannot make a walk slow. Between two walks a run may overshoot
//! by what it writes in one interval; the run measures once more when a
//! plugin call returns.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Shortest pause between two walks of one tree.
const INTERVAL: Duration = Duration::from_millis(250);

/// How often the watcher thread looks at its list.
const TICK: Duration = Duration::from_millis(50);

/// Disk use of a tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Used {
    pub bytes: u64,
    pub inodes: u64,
}

/// Which limit was passed, and the use measured then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    Bytes(Used),
    Inodes(Used),
}

/// One watched tree.
struct Watched {
    root: PathBuf,
    bytes: u64,
    inodes: u64,
    tx: tokio::sync::watch::Sender<Option<Exceeded>>,
    stop: Arc<AtomicBool>,
    due: Instant,
}

/// Every tree watched in this process, walked by one thread.
static WATCHED: Mutex<Vec<Watched>> = Mutex::new(Vec::new());
static THREAD: OnceLock<std::io::Result<()>> = OnceLock::new();

/// The watcher thread: walks each tree when it is due, drops the ones
/// whose watch is gone or that passed a limit.
fn watch_all() {
    loop {
        std::thread::sleep(TICK);
        let now = Instant::now();
        // Take the due entries out, so no lock is held while walking.
        let due: Vec<Watched> = {
            let Ok(mut all) = WATCHED.lock() else {
                return;
            };
            all.retain(|w| !w.stop.load(Ordering::Relaxed));
            let (due, later): (Vec<_>, Vec<_>) = all.drain(..).partition(|w| w.due <= now);
            *all = later;
            due
        };
        for mut w in due {
            let started = Instant::now();
            let (used, over) = measure(&w.root, w.bytes, w.inodes);
            if over {
                let exceeded = if used.bytes > w.bytes {
                    Exceeded::Bytes(used)
                } else {
                    Exceeded::Inodes(used)
                };
                let _ = w.tx.send(Some(exceeded));
                continue;
            }
            // A big tree is walked less often.
            w.due = Instant::now() + INTERVAL.max(started.elapsed() * 4);
            if let Ok(mut all) = WATCHED.lock() {
                all.push(w);
            }
        }
    }
}

/// A watch on one tree; it ends when dropped.
pub struct Watch {
    stop: Arc<AtomicBool>,
    rx: tokio::sync::watch::Receiver<Option<Exceeded>>,
}

impl Watch {
    /// Watches `root` against `bytes` and `inodes`.
    pub fn start(root: PathBuf, bytes: u64, inodes: u64) -> std::io::Result<Watch> {
        let started = THREAD.get_or_init(|| {
            std::thread::Builder::new()
                .name("taskhost-disk".into())
                .spawn(watch_all)
                .map(drop)
        });
        if let Err(e) = started {
            return Err(std::io::Error::new(e.kind(), e.to_string()));
        }
        let (tx, rx) = tokio::sync::watch::channel(None);
        let stop = Arc::new(AtomicBool::new(false));
        let mut all = WATCHED
            .lock()
            .map_err(|_| std::io::Error::other("the disk watch list is poisoned"))?;
        all.push(Watched {
            root,
            bytes,
            inodes,
            tx,
            stop: stop.clone(),
            // A short run is measured once when its plugin call returns.
            due: Instant::now() + INTERVAL,
        });
        Ok(Watch { stop, rx })
    }

    /// Resolves when a limit is passed (never, if none is).
    pub async fn exceeded(&self) -> Exceeded {
        let mut rx = self.rx.clone();
        loop {
            let current = *rx.borrow_and_update();
            if let Some(exceeded) = current {
                return exceeded;
            }
            if rx.changed().await.is_err() {
                // The watch ended without finding anything.
                return std::future::pending().await;
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Measures `root`; stops early (and says so) once past a limit.
pub fn measure(root: &Path, bytes: u64, inodes: u64) -> (Used, bool) {
    let mut used = Used::default();
    let Ok(top) = std::fs::symlink_metadata(root) else {
        return (used, false);
    };
    let device = top.dev();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue; // gone meanwhile
            };
            used.inodes += 1;
            used.bytes = used.bytes.saturating_add(meta.blocks().saturating_mul(512));
            if used.bytes > bytes || used.inodes > inodes {
                return (used, true);
            }
            if meta.is_dir() && meta.dev() == device {
                stack.push(entry.path());
            }
        }
    }
    (used, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_counts_blocks_and_entries_and_stops_past_a_limit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/a"), vec![1u8; 100_000]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("link")).unwrap();
        let (used, over) = measure(dir.path(), u64::MAX, u64::MAX);
        assert!(!over);
        assert_eq!(used.inodes, 3, "d, d/a and the symlink (not followed)");
        assert!(used.bytes >= 100_000, "{used:?}");
        assert!(measure(dir.path(), 50_000, u64::MAX).1);
        assert!(measure(dir.path(), u64::MAX, 2).1);
    }

    #[tokio::test]
    async fn the_watch_reports_a_tree_that_grows_past_its_quota() {
        let dir = tempfile::tempdir().unwrap();
        let watch = Watch::start(dir.path().to_path_buf(), 1 << 20, 1000).unwrap();
        let quiet = tokio::time::timeout(Duration::from_millis(600), watch.exceeded()).await;
        assert!(quiet.is_err(), "an empty tree is within its quota");
        std::fs::write(dir.path().join("big"), vec![1u8; 2 << 20]).unwrap();
        let hit = tokio::time::timeout(Duration::from_secs(10), watch.exceeded())
            .await
            .expect("the watch saw the big file");
        assert!(
            matches!(hit, Exceeded::Bytes(u) if u.bytes > 1 << 20),
            "{hit:?}"
        );
    }
}
