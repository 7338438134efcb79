//! Fault injection for the crash tests (tests/e2e/store.rs), in debug
//! builds only. With `TASKHOST_FAULT_PAUSE=POINT` (or `POINT:N`), the first
//! (N-th) time this process reaches POINT in a create, it writes
//! `PID POINT` to the file named by `TASKHOST_FAULT_MARKER` and sleeps
//! forever, so that a test can SIGKILL it exactly there. Points are the
//! names of [`Stage`](super::Stage): `blob-partial`, `blob-stored`,
//! `before-commit`.

#[cfg(debug_assertions)]
pub(super) fn pause_at(point: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static HITS: AtomicUsize = AtomicUsize::new(0);

    let Ok(wanted) = std::env::var("TASKHOST_FAULT_PAUSE") else {
        return;
    };
    let (name, nth) = match wanted.split_once(':') {
        Some((name, n)) => (name, n.parse().unwrap_or(1)),
        None => (wanted.as_str(), 1),
    };
    if name != point || HITS.fetch_add(1, Ordering::SeqCst) + 1 != nth {
        return;
    }
    if let Some(marker) = std::env::var_os("TASKHOST_FAULT_MARKER") {
        let marker = std::path::PathBuf::from(marker);
        let tmp = marker.with_extension("partial");
        let wrote = std::fs::write(&tmp, format!("{} {point}\n", std::process::id()))
            .and_then(|()| std::fs::rename(&tmp, &marker));
        if let Err(e) = wrote {
            tracing::error!("cannot write fault marker {}: {e}", marker.display());
        }
    }
    tracing::warn!("paused at fault point {point} (TASKHOST_FAULT_PAUSE)");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub(super) fn pause_at(_point: &str) {}
