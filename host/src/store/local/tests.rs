use super::blobs::{self, COPY_BUF_LEN, FILES_DIR, TMP_DIR};
use super::index::{DB_FILE, SCHEMA_VERSION};
use super::*;
use crate::store::NewArtifact;
use rusqlite::Connection;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::{Arc, MutexGuard};
use tempfile::TempDir;

impl LocalStore {
    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blobs.path(sha256)
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        self.index.db()
    }
}

fn new_store() -> (TempDir, LocalStore) {
    let dir = TempDir::new().unwrap();
    let store = LocalStore::open(dir.path().join("store")).unwrap();
    (dir, store)
}

fn reopen(store: &LocalStore) -> LocalStore {
    LocalStore::open(store.root()).unwrap()
}

/// The suite every store passes.
mod every_store {
    pub(super) type Store = super::LocalStore;
    pub(super) use super::{new_store, reopen, snapshot};
    crate::store::conformance::conformance!();
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, content).unwrap();
    path
}

fn sha(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

fn log_artifact(dir: &Path, content: &[u8]) -> NewArtifact {
    NewArtifact::new("debian:package-build-log", json!({"source": "hello"}))
        .with_file("build.log", write(dir, "build.log", content))
}

/// Every file under files/ and tmp/, plus every artifact id.
fn snapshot(store: &LocalStore) -> (Vec<PathBuf>, Vec<ArtifactId>) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), out);
            } else {
                out.push(e.path());
            }
        }
    }
    let mut files = Vec::new();
    walk(&store.root().join(FILES_DIR), &mut files);
    walk(&store.root().join(TMP_DIR), &mut files);
    files.sort();
    let ids = store
        .list(&ListFilter::default())
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    (files, ids)
}

fn assert_invalid(r: Result<Artifact, StoreError>, needle: &str) {
    match r {
        Err(StoreError::Invalid(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
        other => panic!("expected Invalid containing {needle:?}, got {other:?}"),
    }
}

/// Runs a create that must be refused and checks nothing changed.
fn assert_refused_unchanged(store: &LocalStore, new: NewArtifact, needle: &str) {
    let before = snapshot(store);
    assert_invalid(store.create(new), needle);
    assert_eq!(
        snapshot(store),
        before,
        "a refused create changed the store"
    );
}

#[test]
fn a_failed_create_leaves_no_artifact() {
    let (dir, store) = new_store();
    // Validation failure on the second file: nothing written at all.
    let new = NewArtifact::new("t:x", json!({}))
        .with_file("ok", write(dir.path(), "ok", b"fine"))
        .with_file("bad", dir.path());
    assert_refused_unchanged(&store, new, "not a regular file");

    // A crash after the first blob, and one just before the commit.
    for stage in [Stage::BlobStored, Stage::BeforeCommit] {
        let new = NewArtifact::new("t:x", json!({}))
            .with_file(
                "a",
                write(dir.path(), "a", format!("{stage:?} a").as_bytes()),
            )
            .with_file(
                "b",
                write(dir.path(), "b", format!("{stage:?} b").as_bytes()),
            );
        let hook = |s: Stage| {
            if s == stage {
                Err(StoreError::Db("simulated crash".into()))
            } else {
                Ok(())
            }
        };
        assert!(matches!(
            store.create_with(new, &hook),
            Err(StoreError::Db(_))
        ));
        assert!(
            store.list(&ListFilter::default()).unwrap().is_empty(),
            "{stage:?}"
        );
        assert!(store.verify().unwrap().is_empty());
    }
    // The store still works, and ids are not confused by the rollback.
    let a = store.create(log_artifact(dir.path(), b"after")).unwrap();
    assert_eq!(store.list(&ListFilter::default()).unwrap().len(), 1);
    assert_eq!(store.get(a.id).unwrap().files.len(), 1);
}

#[test]
fn a_failure_mid_blob_leaves_no_temp_file() {
    let (dir, store) = new_store();
    let big = vec![7u8; blobs::IN_MEMORY_LEN + 2 * COPY_BUF_LEN];
    let new = NewArtifact::new("t:x", json!({})).with_file("big", write(dir.path(), "big", &big));
    let hook = |s: Stage| {
        if s == Stage::BlobPartial {
            // The temp file holds part of the content at this point.
            let tmp: Vec<_> = fs::read_dir(store.root().join(TMP_DIR))
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .collect();
            assert!(
                tmp.len() == 1 && tmp[0] > 0 && tmp[0] < big.len() as u64,
                "{tmp:?}"
            );
            Err(StoreError::Db("simulated crash".into()))
        } else {
            Ok(())
        }
    };
    assert!(matches!(
        store.create_with(new, &hook),
        Err(StoreError::Db(_))
    ));
    assert_eq!(snapshot(&store), (vec![], vec![]));
}

#[test]
fn opening_removes_temp_files_left_by_a_crash() {
    let (dir, store) = new_store();
    let a = store.create(log_artifact(dir.path(), b"kept")).unwrap();
    fs::write(store.root().join("tmp/blob-leftover"), b"partial").unwrap();
    fs::create_dir(store.root().join("tmp/leftover-dir")).unwrap();
    let reopened = LocalStore::open(store.root()).unwrap();
    assert_eq!(fs::read_dir(store.root().join(TMP_DIR)).unwrap().count(), 0);
    assert_eq!(
        fs::read(reopened.file_path(a.id, "build.log").unwrap()).unwrap(),
        b"kept"
    );
}

#[test]
fn opening_leaves_the_temp_files_of_a_running_create_alone() {
    let (_dir, store) = new_store();
    let leftover = store.root().join("tmp/blob-in-progress");
    fs::write(&leftover, b"partial").unwrap();
    let creating = store.flock(false).unwrap();
    LocalStore::open(store.root()).unwrap();
    assert!(leftover.exists(), "removed under a running create");
    drop(creating);
    LocalStore::open(store.root()).unwrap();
    assert!(!leftover.exists());
}

#[test]
fn gc_removes_the_blobs_of_a_failed_create() {
    let (dir, store) = new_store();
    let kept = store.create(log_artifact(dir.path(), b"kept")).unwrap();
    let new = NewArtifact::new("t:x", json!({})).with_file("a", write(dir.path(), "a", b"orphan"));
    let hook = |s: Stage| {
        if s == Stage::BeforeCommit {
            Err(StoreError::Db("crash".into()))
        } else {
            Ok(())
        }
    };
    assert!(store.create_with(new, &hook).is_err());
    assert!(store.blob_path(&sha(b"orphan")).exists());
    assert_eq!(store.gc().unwrap(), 1);
    assert!(!store.blob_path(&sha(b"orphan")).exists());
    assert_eq!(
        fs::read(store.file_path(kept.id, "build.log").unwrap()).unwrap(),
        b"kept"
    );
}

#[test]
fn dedups_identical_blobs() {
    let (dir, store) = new_store();
    let a = store.create(log_artifact(dir.path(), b"same")).unwrap();
    let b = store
        .create(
            NewArtifact::new("t:x", json!({}))
                .with_file("one", write(dir.path(), "one", b"same"))
                .with_file("two/copy", write(dir.path(), "two", b"same")),
        )
        .unwrap();
    let p = store.file_path(a.id, "build.log").unwrap();
    assert_eq!(p, store.file_path(b.id, "one").unwrap());
    assert_eq!(p, store.file_path(b.id, "two/copy").unwrap());
    let (files, _) = snapshot(&store);
    assert_eq!(files, vec![p], "one blob, no temp files");
}

#[test]
fn content_the_store_holds_is_not_written_again() {
    let (dir, store) = new_store();
    let a = store.create(log_artifact(dir.path(), b"known")).unwrap();
    // Without a usable tmp/, only content already stored can be added.
    let tmp = store.root().join(TMP_DIR);
    fs::remove_dir(&tmp).unwrap();
    fs::write(&tmp, b"not a directory").unwrap();
    let b = store.create(log_artifact(dir.path(), b"known")).unwrap();
    assert_eq!(b.files, a.files);
    let err = store.create(log_artifact(dir.path(), b"new")).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    assert_eq!(store.list(&ListFilter::default()).unwrap().len(), 2);
}

#[cfg(unix)]
#[test]
fn content_larger_than_memory_is_stored_whole_and_once() {
    use std::os::unix::fs::MetadataExt;
    let (dir, store) = new_store();
    let big: Vec<u8> = (0..(2 * blobs::IN_MEMORY_LEN + 3 * COPY_BUF_LEN + 5))
        .map(|i| (i * 13 % 241) as u8)
        .collect();
    let new =
        || NewArtifact::new("t:big", json!({})).with_file("big", write(dir.path(), "big", &big));
    let a = store.create(new()).unwrap();
    let blob = store.file_path(a.id, "big").unwrap();
    assert_eq!(fs::read(&blob).unwrap(), big);
    assert_eq!(a.files[0].sha256, sha(&big));
    let inode = fs::metadata(&blob).unwrap().ino();
    let b = store.create(new()).unwrap();
    assert_eq!(b.files, a.files);
    assert_eq!(
        fs::metadata(&blob).unwrap().ino(),
        inode,
        "the blob was not replaced"
    );
    assert_eq!(fs::read_dir(store.root().join(TMP_DIR)).unwrap().count(), 0);
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn blobs_live_at_their_content_address_and_are_read_only() {
    let (dir, store) = new_store();
    let a = store.create(log_artifact(dir.path(), b"content")).unwrap();
    let p = store.file_path(a.id, "build.log").unwrap();
    let h = sha(b"content");
    assert_eq!(p, store.root().join("files").join(&h[..2]).join(&h));
    assert_eq!(fs::read(&p).unwrap(), b"content");
    assert!(fs::metadata(&p).unwrap().permissions().readonly());
    assert!(store.root().join("index.sqlite3").is_file());
}

#[test]
fn file_path_reports_a_missing_blob() {
    let (dir, store) = new_store();
    let a = store.create(log_artifact(dir.path(), b"x")).unwrap();
    fs::remove_file(store.blob_path(&sha(b"x"))).unwrap();
    let err = store.file_path(a.id, "build.log").unwrap_err();
    assert!(
        matches!(err, StoreError::Io { .. }) && err.to_string().contains("damaged"),
        "{err}"
    );
}

#[test]
fn export_detects_a_corrupted_blob() {
    let (dir, store) = new_store();
    let a = store.create(log_artifact(dir.path(), b"good")).unwrap();
    corrupt(&store.blob_path(&sha(b"good")), b"evil");
    let out = dir.path().join("out");
    let err = store.export(a.id, &out).unwrap_err();
    assert!(err.to_string().contains("corrupted"), "{err}");
    assert!(!out.join("build.log").exists());
}

fn corrupt(blob: &Path, content: &[u8]) {
    fs::remove_file(blob).unwrap();
    fs::write(blob, content).unwrap();
}

#[test]
fn verify_reports_nothing_for_a_whole_store() {
    let (dir, store) = new_store();
    store.create(log_artifact(dir.path(), b"a")).unwrap();
    store.create(log_artifact(dir.path(), b"a")).unwrap();
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn verify_reports_a_missing_blob() {
    let (dir, store) = new_store();
    let a = store.create(log_artifact(dir.path(), b"a")).unwrap();
    fs::remove_file(store.blob_path(&sha(b"a"))).unwrap();
    let problems = store.verify().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains(&format!("artifact {}", a.id)) && problems[0].contains("missing"));
}

#[test]
fn verify_reports_wrong_size_and_wrong_content() {
    let (dir, store) = new_store();
    store.create(log_artifact(dir.path(), b"abc")).unwrap();
    store
        .create(NewArtifact::new("t:x", json!({})).with_file("x", write(dir.path(), "x", b"xyz")))
        .unwrap();
    corrupt(&store.blob_path(&sha(b"abc")), b"abcd");
    corrupt(&store.blob_path(&sha(b"xyz")), b"XYZ");
    let problems = store.verify().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("has 4 bytes, expected 3")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("corrupted")),
        "{problems:?}"
    );
}

#[test]
fn verify_reports_a_bad_recorded_hash() {
    let (dir, store) = new_store();
    let a = store.create(log_artifact(dir.path(), b"a")).unwrap();
    store
        .db()
        .execute(
            "UPDATE files SET sha256 = '../../etc/passwd' WHERE artifact_id = ?1",
            [a.id as i64],
        )
        .unwrap();
    let problems = store.verify().unwrap();
    assert!(
        problems.len() == 1 && problems[0].contains("not a lowercase hex"),
        "{problems:?}"
    );
    assert!(matches!(
        store.file_path(a.id, "build.log"),
        Err(StoreError::Db(_))
    ));
    assert!(matches!(
        store.export(a.id, &dir.path().join("o")),
        Err(StoreError::Db(_))
    ));
}

#[test]
fn gc_removes_orphans() {
    let (dir, store) = new_store();
    let a = store.create(log_artifact(dir.path(), b"keep")).unwrap();
    let orphan = store.blob_path(&sha(b"orphan"));
    fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    fs::write(&orphan, b"orphan").unwrap();
    fs::write(store.root().join("tmp/blob-leftover"), b"partial").unwrap();
    fs::create_dir(store.root().join("tmp/leftover-dir")).unwrap();
    assert_eq!(store.gc().unwrap(), 3);
    assert!(!orphan.exists());
    assert_eq!(fs::read_dir(store.root().join("tmp")).unwrap().count(), 0);
    assert_eq!(
        fs::read(store.file_path(a.id, "build.log").unwrap()).unwrap(),
        b"keep"
    );
    assert!(store.verify().unwrap().is_empty());
    assert_eq!(store.gc().unwrap(), 0);
}

#[test]
fn reopening_keeps_everything() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("s");
    let id = {
        let store = LocalStore::open(&root).unwrap();
        store
            .create(log_artifact(dir.path(), b"persist"))
            .unwrap()
            .id
    };
    let store = LocalStore::open(&root).unwrap();
    let a = store.get(id).unwrap();
    assert_eq!(
        fs::read(store.file_path(a.id, "build.log").unwrap()).unwrap(),
        b"persist"
    );
    let next = store.create(NewArtifact::new("t:x", json!({}))).unwrap().id;
    assert!(next > id);
}

#[test]
fn closing_keeps_the_wal_for_the_next_open() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("s");
    let id = {
        let store = LocalStore::open(&root).unwrap();
        store.create(log_artifact(dir.path(), b"wal")).unwrap().id
    };
    let wal = root.join(format!("{DB_FILE}-wal"));
    assert!(wal.metadata().unwrap().len() > 0, "no checkpoint on close");
    let store = LocalStore::open(&root).unwrap();
    assert_eq!(store.get(id).unwrap().files[0].sha256, sha(b"wal"));
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn root_is_the_absolute_store_directory() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("nested/store");
    let store = LocalStore::open(&root).unwrap();
    assert!(store.root().is_absolute());
    assert_eq!(store.root(), root);
}

#[test]
fn uses_wal_journal_mode_and_records_the_schema_version() {
    let (_dir, store) = new_store();
    let conn = store.db();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode.to_ascii_lowercase(), "wal");
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
}

#[test]
fn refuses_a_newer_schema_version() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("s");
    drop(LocalStore::open(&root).unwrap());
    Connection::open(root.join(DB_FILE))
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    match LocalStore::open(&root) {
        Err(StoreError::Db(m)) => assert!(
            m.contains("version 99") && m.contains("newer runtask"),
            "{m}"
        ),
        other => panic!("expected Db, got {other:?}"),
    }
}

#[test]
fn refuses_a_file_where_the_store_directory_should_be() {
    let dir = TempDir::new().unwrap();
    let root = write(dir.path(), "not-a-dir", b"");
    assert!(matches!(
        LocalStore::open(&root),
        Err(StoreError::Io { .. })
    ));
}

#[test]
fn two_handles_on_one_directory_create_concurrently() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("s");
    let stores = [
        Arc::new(LocalStore::open(&root).unwrap()),
        Arc::new(LocalStore::open(&root).unwrap()),
    ];
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&stores[t % 2]);
            let src_dir = dir.path().join(format!("src{t}"));
            fs::create_dir(&src_dir).unwrap();
            std::thread::spawn(move || {
                (0..15)
                    .map(|i| {
                        let new = NewArtifact::new("t:concurrent", json!({"t": t, "i": i}))
                            .with_file("shared", write(&src_dir, "shared", b"same for everyone"))
                            .with_file(
                                "own",
                                write(&src_dir, "own", format!("{t}/{i}").as_bytes()),
                            );
                        store.create(new).unwrap().id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60);
    for store in &stores {
        let listed: Vec<_> = store
            .list(&ListFilter::default())
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(listed, ids);
        assert!(store.verify().unwrap().is_empty());
    }
}

#[test]
fn gc_never_removes_blobs_of_a_concurrent_create() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("s");
    let creator = LocalStore::open(&root).unwrap();
    let collector = LocalStore::open(&root).unwrap();
    use std::sync::atomic::{AtomicBool, Ordering};
    struct SetOnDrop<'a>(&'a AtomicBool);
    impl Drop for SetOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                collector.gc().unwrap();
            }
        });
        // Stops the collector even if an assertion below fails.
        let _stop = SetOnDrop(&done);
        for i in 0..40 {
            let content = format!("blob {i}");
            let new = NewArtifact::new("t:x", json!({}))
                .with_file("f", write(dir.path(), "f", content.as_bytes()));
            let a = creator.create(new).unwrap();
            assert_eq!(
                fs::read(creator.file_path(a.id, "f").unwrap()).unwrap(),
                content.as_bytes()
            );
        }
    });
    assert!(creator.verify().unwrap().is_empty());
}
