//! The shared store against real servers: one PostgreSQL and one
//! nats-server per test process, a fresh database for each test.

use std::sync::OnceLock;

use tempfile::TempDir;

use super::{SharedConfig, SharedStore};
use crate::testing::services::{Nats, Postgres};

struct Servers {
    postgres: Postgres,
    nats: Nats,
}

fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| Servers {
        postgres: Postgres::start().expect("PostgreSQL for the shared store's tests"),
        nats: Nats::start().expect("nats-server for the shared store's tests"),
    })
}

/// A shared store on a database of its own, its cache in the TempDir.
pub(crate) fn new_store() -> (TempDir, SharedStore) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let servers = servers();
    let db = servers
        .postgres
        .database(&format!("t{}_{n}", std::process::id()))
        .unwrap();
    let dir = TempDir::new().unwrap();
    let store = SharedStore::connect(&SharedConfig {
        postgres: db,
        nats: servers.nats.url(),
        replicas: 1,
        cache: dir.path().join("cache"),
    })
    .unwrap();
    (dir, store)
}

/// A second handle: its own pool, runtime and cache.
pub(crate) fn reopen(store: &SharedStore) -> SharedStore {
    let dir = store.cache_dir().with_extension("second");
    SharedStore::connect(&SharedConfig {
        postgres: store.config().postgres.clone(),
        nats: servers().nats.url(),
        replicas: 1,
        cache: dir,
    })
    .unwrap()
}

/// Every artifact (with its files) and every pending one.
pub(crate) fn snapshot(
    store: &SharedStore,
) -> (
    Vec<crate::store::Artifact>,
    Vec<(crate::store::ArtifactId, String)>,
) {
    use crate::store::ArtifactStore;
    let all = store.list(&Default::default()).unwrap();
    (all, store.pending().unwrap())
}

mod every_store {
    pub(super) type Store = super::SharedStore;
    pub(super) use super::{new_store, reopen, snapshot};
    crate::store::conformance::conformance!();
}

mod shared_only {
    use super::*;
    use crate::store::{ArtifactStore, ListFilter, NewArtifact, NewItem, StoreError};
    use serde_json::json;

    fn bucket_messages(store: &SharedStore) -> u64 {
        let (nats, bucket) = (store.nats().clone(), store.bucket().to_owned());
        store
            .block(async move {
                let js = async_nats::jetstream::new(nats);
                let mut stream = js.get_stream(format!("OBJ_{bucket}")).await.unwrap();
                stream.info().await.unwrap().state.messages
            })
            .unwrap()
    }

    #[test]
    fn content_is_uploaded_once_and_another_machine_reads_it_from_the_bucket() {
        let (dir, store) = new_store();
        let content = format!("unique content {}", uuid::Uuid::new_v4());
        let file = dir.path().join("f");
        std::fs::write(&file, &content).unwrap();
        let a = store
            .create(NewArtifact::new("t:x", json!({})).with_file("f", &file))
            .unwrap();
        let after_first = bucket_messages(&store);
        store
            .create(NewArtifact::new("t:x", json!({})).with_file("again", &file))
            .unwrap();
        assert_eq!(bucket_messages(&store), after_first, "uploaded twice");
        // A second machine, with an empty cache, downloads and checks it.
        let other = reopen(&store);
        let path = other.file_path(a.id, "f").unwrap();
        assert!(path.starts_with(other.cache_dir()), "{}", path.display());
        assert_eq!(std::fs::read_to_string(path).unwrap(), content);
        let out = dir.path().join("out");
        other.export(a.id, &out).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("f")).unwrap(), content);
    }

    #[test]
    fn an_attempts_artifacts_are_its_own_until_committed() {
        let (_dir, store) = new_store();
        let attempt = store.for_attempt("run-1#1");
        let a = attempt.create(NewArtifact::new("t:x", json!({}))).unwrap();
        // The attempt sees it; nobody else does, not even through lookups
        // by id, lists or relations.
        assert_eq!(attempt.get(a.id).unwrap().id, a.id);
        assert!(matches!(store.get(a.id), Err(StoreError::NotFound(_))));
        assert!(store.list(&ListFilter::default()).unwrap().is_empty());
        let other_attempt = store.for_attempt("run-1#2");
        assert!(matches!(
            other_attempt.get(a.id),
            Err(StoreError::NotFound(_))
        ));
        let b = store.create(NewArtifact::new("t:y", json!({}))).unwrap();
        assert!(matches!(
            store.relate(b.id, a.id, crate::store::Relation::RelatesTo),
            Err(StoreError::NotFound(_))
        ));
        // Nor can it join a collection before its run ends.
        let c = attempt
            .create_collection("debian:suite-lintian", "s", json!({}))
            .unwrap();
        let m = attempt
            .add_item(c.id, NewItem::artifact("x", a.id, json!({})))
            .unwrap_err()
            .to_string();
        assert!(m.contains("has not finished"), "{m}");
        assert_eq!(store.pending().unwrap(), vec![(a.id, "run-1#1".to_owned())]);

        let pool = store.pool().clone();
        let committed = store
            .block(async move {
                let mut c = pool.get().await.unwrap();
                let tx = c.transaction().await.unwrap();
                let n = SharedStore::commit_pending(&tx, "run-1#1").await.unwrap();
                tx.commit().await.unwrap();
                n
            })
            .unwrap();
        assert_eq!(committed, 1);
        assert_eq!(store.get(a.id).unwrap().id, a.id);
        assert!(store.pending().unwrap().is_empty());
    }

    #[test]
    fn a_bad_connection_string_or_server_is_a_clear_error() {
        let dir = TempDir::new().unwrap();
        let err = SharedStore::connect(&SharedConfig {
            postgres: "postgres://u:secret@127.0.0.1:1/db".into(),
            nats: servers().nats.url(),
            replicas: 1,
            cache: dir.path().join("c"),
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn a_failed_connect_from_async_code_is_an_error_not_a_panic() {
        let dir = TempDir::new().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt.block_on(async {
            SharedStore::connect(&SharedConfig {
                postgres: "postgres://u@127.0.0.1:1/db".into(),
                nats: servers().nats.url(),
                replicas: 1,
                cache: dir.path().join("c"),
            })
            .unwrap_err()
        });
        assert!(
            err.to_string().contains("cannot connect to PostgreSQL"),
            "{err}"
        );
    }

    #[test]
    fn gc_removes_only_what_abandoned_attempts_left_and_unused_blobs() {
        // Its own nats-server as well: a bucket per index keeps other
        // stores' blobs apart (shown below), this keeps the counts exact.
        let nats = Nats::start().unwrap();
        let dir = TempDir::new().unwrap();
        let config = SharedConfig {
            postgres: servers().postgres.database("gc").unwrap(),
            nats: nats.url(),
            replicas: 1,
            cache: dir.path().join("cache"),
        };
        let store = SharedStore::connect(&config).unwrap();
        let file = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("{name} {}", uuid::Uuid::new_v4())).unwrap();
            path
        };
        let kept = store
            .create(NewArtifact::new("t:x", json!({})).with_file("f", file("kept")))
            .unwrap();
        // run-1: attempt 1 was killed, attempt 2 runs. run-2 finished.
        let killed = store
            .for_attempt("run-1#1")
            .create(NewArtifact::new("t:x", json!({})).with_file("f", file("killed")))
            .unwrap();
        let running = store
            .for_attempt("run-1#2")
            .create(NewArtifact::new("t:x", json!({})).with_file("f", file("running")))
            .unwrap();
        let done = store
            .for_attempt("run-2#1")
            .create(NewArtifact::new("t:x", json!({})).with_file("f", file("done")))
            .unwrap();
        let pool = store.pool().clone();
        store
            .block(async move {
                let c = pool.get().await.unwrap();
                c.batch_execute(
                    "INSERT INTO queued_runs (id, task, task_data, submitted_at, state, attempt) VALUES \
                     ('run-1', 't', '{}', 'now', 'running', 2), ('run-2', 't', '{}', 'now', 'finished', 1)",
                )
                .await
                .unwrap();
            })
            .unwrap();
        let collected = store.gc(std::time::Duration::ZERO).unwrap();
        assert_eq!(
            collected,
            super::super::Collected {
                artifacts: 2,
                blobs: 2
            }
        );
        let pending: Vec<_> = store
            .pending()
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(pending, [running.id]);
        assert!(!pending.contains(&killed.id) && !pending.contains(&done.id));
        // What is still referenced is whole, on another machine too.
        let other = SharedStore::connect(&SharedConfig {
            cache: dir.path().join("other"),
            ..config.clone()
        })
        .unwrap();
        let f = &kept.files[0];
        assert!(
            std::fs::read_to_string(other.file_path(kept.id, &f.name).unwrap())
                .unwrap()
                .starts_with("kept ")
        );
        let running_file = &running.files[0];
        assert!(
            std::fs::read_to_string(
                other
                    .for_attempt("run-1#2")
                    .file_path(running.id, &running_file.name)
                    .unwrap()
            )
            .unwrap()
            .starts_with("running ")
        );
        // A grace period keeps young blobs.
        store
            .create(NewArtifact::new("t:x", json!({})).with_file("f", file("young")))
            .unwrap();
        assert_eq!(
            store.gc(std::time::Duration::from_secs(3600)).unwrap(),
            super::super::Collected::default()
        );
    }

    #[test]
    fn each_index_has_a_bucket_of_its_own_and_every_machine_finds_it() {
        let (_d1, a) = new_store();
        let (_d2, b) = new_store();
        assert_ne!(a.bucket(), b.bucket());
        assert!(a.bucket().starts_with(super::super::BUCKET_PREFIX));
        assert_eq!(reopen(&a).bucket(), a.bucket());
    }

    #[test]
    fn run_files_round_trip() {
        let (dir, store) = new_store();
        let runs = dir.path().join("r");
        std::fs::create_dir(&runs).unwrap();
        std::fs::write(runs.join("audit.jsonl"), "{}\n").unwrap();
        std::fs::write(runs.join("results.yaml"), "results: []\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", runs.join("link")).unwrap();
        assert_eq!(store.save_run_files("r1", &runs).unwrap(), 2);
        let files = store.run_files("r1").unwrap();
        assert_eq!(
            files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["audit.jsonl", "results.yaml"]
        );
        assert_eq!(files[0].content, b"{}\n");
        assert!(store.run_files("r2").unwrap().is_empty());
    }
}
