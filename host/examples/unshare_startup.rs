//! Time to a first command in an unshare environment: with the tarball
//! already unpacked in the cache, against a fresh unpack
//! (docs/performance.md, "unshare backend (issue 4)").
//!
//!     cargo build --profile bench -p taskhost --examples
//!     target/release/examples/unshare_startup TARBALL [ROUNDS]   # default 10
//!
//! TARBALL is a system tarball, e.g. the `system.tar.xz` of a `runtask run
//! mmdebstrap` artifact (`runtask artifact export ID DIR`). Each round:
//! * fresh: empty the cache, unpack, open the environment (holder, overlay,
//!   /dev, /proc, workspace, pivot_root), run `true`, close;
//! * cached: the same with the unpacked tree already in the cache.
//!
//! Needs root or subordinate ids (see the unshare backend's error).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use taskhost::backends::ProcessSpec;
use taskhost::backends::unshare::{self, ImageCache, Session, Subids};

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Opens an environment, runs `true` in it, closes it.
async fn first_command(
    ids: Subids,
    cache: &ImageCache,
    sum: &str,
    tarball: &Path,
    ws: &Path,
) -> (Duration, Duration) {
    let started = Instant::now();
    let lower = cache.ensure(ids, sum, tarball).await.expect("unpack");
    let unpacked = started.elapsed();
    let scratch = ws.join("scratch");
    std::fs::create_dir_all(&scratch).expect("scratch");
    let session = Session::open(ids, &lower, ws, &scratch)
        .await
        .expect("open");
    let spec = ProcessSpec {
        argv: vec!["true".into()],
        env: Vec::new(),
        cwd: ws.to_path_buf(),
        tmpdir: "/tmp".into(),
        stdin: None,
        stdout: std::fs::File::create(ws.join("out")).expect("out"),
        stderr: std::fs::File::create(ws.join("err")).expect("err"),
        timeout: Duration::from_secs(60),
        output_limit: 1 << 20,
        grace: Duration::from_secs(1),
        memory_limit: None,
        containment: Default::default(),
    };
    let exit = session.run(spec, false).await.expect("run");
    assert_eq!(exit.code, Some(0));
    let total = started.elapsed();
    session.close().await.expect("close");
    (unpacked, total)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let tarball = PathBuf::from(
        args.next()
            .expect("usage: unshare_startup TARBALL [ROUNDS]"),
    );
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(10);
    let ids = unshare::check_available().expect("unshare backend");
    let sum = sha256(&tarball);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache_dir = dir.path().join("cache");
    let cache = ImageCache::new(&cache_dir);
    let ws = dir.path().join("ws");
    let (mut fresh, mut fresh_unpack, mut cached) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        std::fs::create_dir_all(&ws).expect("ws");
        unshare::remove_tree(ids, &cache_dir)
            .await
            .expect("empty cache");
        let (unpack, total) = first_command(ids, &cache, &sum, &tarball, &ws).await;
        fresh.push(total);
        fresh_unpack.push(unpack);
        unshare::remove_tree(ids, &ws).await.expect("clean ws");
        std::fs::create_dir_all(&ws).expect("ws");
        let (_, total) = first_command(ids, &cache, &sum, &tarball, &ws).await;
        cached.push(total);
        unshare::remove_tree(ids, &ws).await.expect("clean ws");
        eprintln!(
            "round {round}: fresh {:?} (unpack {unpack:?}), cached {total:?}",
            fresh[round]
        );
    }
    println!(
        "tarball: {} ({} bytes)",
        tarball.display(),
        std::fs::metadata(&tarball).map(|m| m.len()).unwrap_or(0)
    );
    println!(
        "fresh unpack + first command: median {:?}, min {:?} (unpack alone: median {:?})",
        median(fresh.clone()),
        fresh.iter().min().copied().unwrap_or_default(),
        median(fresh_unpack)
    );
    println!(
        "cached + first command:       median {:?}, min {:?}",
        median(cached.clone()),
        cached.iter().min().copied().unwrap_or_default()
    );
}
