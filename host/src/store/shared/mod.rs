//! [`SharedStore`]: one store for many machines. The index lives in
//! PostgreSQL (the same tables as [`LocalStore`](super::LocalStore)'s
//! SQLite index, made by refinery migrations); file contents live in a
//! JetStream Object Store, one object per sha256, so a file is uploaded
//! once. Each machine keeps the blobs it has read or written in a local
//! cache, laid out as a local store's `files/`.
//!
//! A worker runs each attempt of a run against [`SharedStore::for_attempt`]:
//! the artifacts that attempt creates are seen by it alone until the
//! worker commits the attempt ([`SharedStore::pending`]), so an attempt
//! killed half-way leaves nothing visible behind.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_nats::jetstream::{self, object_store::ObjectStore};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use super::local::{Blobs, Stage, check_new, prepare_destination};
use super::{
    Artifact, ArtifactId, ArtifactStore, Collection, CollectionId, CollectionItem, ItemFilter,
    ListFilter, NewArtifact, NewItem, Relation, RunRecord, StoreError, validate_file_name,
};

mod blobs;
mod collections;
mod gc;
mod index;
mod runs;

pub use gc::Collected;
pub use runs::RunFile;

refinery::embed_migrations!("src/store/shared/migrations");

/// The prefix of the Object Store bucket that holds a store's file
/// contents; the rest is chosen when the index is made.
pub const BUCKET_PREFIX: &str = "taskhost-blobs-";
/// Connections to PostgreSQL per process.
const POOL_SIZE: usize = 8;
/// Held while migrating, so workers starting together migrate once.
const MIGRATION_LOCK: i64 = 0x7461_736b_686f_7374;

/// Where a [`SharedStore`] lives.
#[derive(Clone, Debug)]
pub struct SharedConfig {
    /// `postgres://USER@HOST:PORT/DB` (or a libpq key=value string).
    pub postgres: String,
    /// The NATS server(s), `nats://HOST:PORT[,nats://...]`.
    pub nats: String,
    /// JetStream replicas of the blob bucket (1 on a single server, 3 in
    /// a cluster of three).
    pub replicas: usize,
    /// This machine's blob cache.
    pub cache: PathBuf,
}

/// The index in PostgreSQL and the file contents in JetStream.
#[derive(Clone)]
pub struct SharedStore {
    inner: Arc<Inner>,
    /// The run attempt this handle works for: its new artifacts stay
    /// pending, and it sees its own pending artifacts.
    attempt: Option<Arc<str>>,
}

struct Inner {
    /// The store's own async runtime: the trait is synchronous and may be
    /// called from any thread, async or not.
    rt: Option<tokio::runtime::Runtime>,
    pool: Pool,
    objects: ObjectStore,
    bucket: String,
    nats: async_nats::Client,
    cache: Blobs,
    config: SharedConfig,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which an async caller
        // may not do; let them end on their own.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedStore")
            .field("cache", &self.inner.config.cache)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// Connects to PostgreSQL and NATS, migrates the index to this
    /// runtask's schema and opens (creating if missing) the blob bucket.
    pub fn connect(config: &SharedConfig) -> Result<SharedStore, StoreError> {
        let cache = Blobs::open(&config.cache)?;
        let pg: tokio_postgres::Config = config.postgres.parse().map_err(|e| {
            StoreError::Invalid(format!(
                "--store {:?} is not a PostgreSQL connection string: {e}",
                redact(&config.postgres)
            ))
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("taskhost-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError::io("cannot start the shared store's runtime", e))?;
        let nats_url = config.nats.clone();
        let replicas = config.replicas.max(1);
        let connected = block(rt.handle(), async move {
            let pool = open_pool(pg).await?;
            let bucket = bucket_name(&pool).await?;
            let nats = connect_nats(&nats_url).await?;
            let objects = open_bucket(&nats, &bucket, replicas).await?;
            Ok::<_, StoreError>((pool, objects, bucket, nats))
        });
        let (pool, objects, bucket, nats) = match connected {
            Ok(Ok(connected)) => connected,
            Ok(Err(e)) | Err(e) => {
                // The caller may be async, where dropping a runtime panics.
                rt.shutdown_background();
                return Err(e);
            }
        };
        Ok(SharedStore {
            inner: Arc::new(Inner {
                rt: Some(rt),
                pool,
                objects,
                bucket,
                nats,
                cache,
                config: config.clone(),
            }),
            attempt: None,
        })
    }

    /// This store as seen by one attempt of a run (`RUN-ID#N`).
    pub fn for_attempt(&self, attempt: &str) -> SharedStore {
        SharedStore {
            inner: self.inner.clone(),
            attempt: Some(attempt.into()),
        }
    }

    /// The NATS connection the store uses (shared with the run queue).
    pub fn nats(&self) -> &async_nats::Client {
        &self.inner.nats
    }

    /// The PostgreSQL pool (shared with the run queue).
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Where it lives.
    pub fn config(&self) -> &SharedConfig {
        &self.inner.config
    }

    /// The Object Store bucket of its file contents.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The local blob cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.inner.config.cache
    }

    /// Runs `fut` on the store's runtime and waits for it.
    pub fn block<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let rt = self
            .inner
            .rt
            .as_ref()
            .ok_or_else(|| StoreError::Db("the shared store is shut down".into()))?;
        block(rt.handle(), fut)
    }

    fn visible_to(&self) -> Option<String> {
        self.attempt.as_deref().map(str::to_owned)
    }

    fn create_artifact(&self, new: NewArtifact) -> Result<Artifact, StoreError> {
        let (data, relations) = check_new(&new)?;
        // Contents first (cache, then the bucket), then the index in one
        // transaction: an artifact is whole or absent.
        let mut entries = Vec::with_capacity(new.files.len());
        for f in &new.files {
            let entry = self
                .inner
                .cache
                .store(&f.name, &f.source, &|_: Stage| Ok(()))?;
            self.upload(&entry.sha256)?;
            entries.push(entry);
        }
        let row = index::NewRow {
            category: new.category,
            data,
            created_by: new.created_by,
            files: entries,
            relations: relations.into_iter().collect(),
            pending: self.visible_to(),
        };
        let pool = self.inner.pool.clone();
        let artifact = self.block(async move { index::insert(&pool, row).await })??;
        tracing::debug!(id = artifact.id, category = %artifact.category, "created artifact");
        Ok(artifact)
    }

    /// Makes the artifacts of `attempt` visible to everyone, inside `tx`
    /// (the transaction that records the attempt's run as finished).
    pub async fn commit_pending(
        tx: &tokio_postgres::Transaction<'_>,
        attempt: &str,
    ) -> Result<u64, StoreError> {
        tx.execute(
            "UPDATE artifacts SET pending = NULL WHERE pending = $1",
            &[&attempt],
        )
        .await
        .map_err(pg_err)
    }

    /// Artifacts left pending by attempts that never finished.
    pub fn pending(&self) -> Result<Vec<(ArtifactId, String)>, StoreError> {
        let pool = self.inner.pool.clone();
        self.block(async move { index::pending(&pool).await })?
    }
}

impl ArtifactStore for SharedStore {
    fn create(&self, new: NewArtifact) -> Result<Artifact, StoreError> {
        self.create_artifact(new)
    }

    fn get(&self, id: ArtifactId) -> Result<Artifact, StoreError> {
        let (pool, me) = (self.inner.pool.clone(), self.visible_to());
        self.block(async move {
            let client = index::client(&pool).await?;
            index::load(&client, id, me.as_deref())
                .await?
                .ok_or(StoreError::NotFound(id))
        })?
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<Artifact>, StoreError> {
        let (pool, me, filter) = (self.inner.pool.clone(), self.visible_to(), filter.clone());
        self.block(async move { index::list(&pool, &filter, me.as_deref()).await })?
    }

    fn relate(
        &self,
        source: ArtifactId,
        target: ArtifactId,
        relation: Relation,
    ) -> Result<(), StoreError> {
        let (pool, me) = (self.inner.pool.clone(), self.visible_to());
        self.block(
            async move { index::relate(&pool, source, target, relation, me.as_deref()).await },
        )?
    }

    fn file_path(&self, id: ArtifactId, name: &str) -> Result<PathBuf, StoreError> {
        let (pool, me, file) = (self.inner.pool.clone(), self.visible_to(), name.to_owned());
        let entry =
            self.block(async move { index::file(&pool, id, &file, me.as_deref()).await })??;
        self.fetch(id, &entry)
    }

    fn export(&self, id: ArtifactId, dest_dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
        let artifact = self.get(id)?;
        std::fs::create_dir_all(dest_dir).map_err(|e| {
            StoreError::io(
                format!("cannot create export directory {}", dest_dir.display()),
                e,
            )
        })?;
        let mut written = Vec::with_capacity(artifact.files.len());
        for file in &artifact.files {
            validate_file_name(&file.name).map_err(|e| {
                StoreError::Db(format!(
                    "artifact {id} has a file name the store should have refused: {e}"
                ))
            })?;
            self.fetch(id, file)?;
            let dest = prepare_destination(id, &file.name, dest_dir)?;
            self.inner.cache.copy_out(id, file, &dest)?;
            written.push(dest);
        }
        Ok(written)
    }

    fn create_collection(
        &self,
        category: &str,
        name: &str,
        data: serde_json::Value,
    ) -> Result<Collection, StoreError> {
        let pool = self.inner.pool.clone();
        let (category, name) = (category.to_owned(), name.to_owned());
        self.block(async move { collections::create(&pool, &category, &name, &data).await })?
    }

    fn collection(&self, id: CollectionId) -> Result<Collection, StoreError> {
        let pool = self.inner.pool.clone();
        self.block(async move {
            let client = index::client(&pool).await?;
            collections::load(&client, id).await
        })?
    }

    fn find_collection(
        &self,
        category: &str,
        name: &str,
    ) -> Result<Option<Collection>, StoreError> {
        let pool = self.inner.pool.clone();
        let (category, name) = (category.to_owned(), name.to_owned());
        self.block(async move { collections::find(&pool, &category, &name).await })?
    }

    fn collections(&self, category: Option<&str>) -> Result<Vec<Collection>, StoreError> {
        let pool = self.inner.pool.clone();
        let category = category.map(str::to_owned);
        self.block(async move { collections::all(&pool, category.as_deref()).await })?
    }

    fn add_item(
        &self,
        collection: CollectionId,
        new: NewItem,
    ) -> Result<CollectionItem, StoreError> {
        let pool = self.inner.pool.clone();
        self.block(async move {
            let mut added = collections::change(&pool, collection, vec![new], Vec::new(), None)
                .await?
                .into_iter();
            added
                .next()
                .ok_or_else(|| StoreError::Db("an added item was not returned".into()))
        })?
    }

    fn remove_item(
        &self,
        collection: CollectionId,
        name: &str,
        removed_by: Option<&str>,
    ) -> Result<CollectionItem, StoreError> {
        let pool = self.inner.pool.clone();
        let (name, by) = (name.to_owned(), removed_by.map(str::to_owned));
        self.block(async move { collections::remove(&pool, collection, &name, by).await })?
    }

    fn update_items(
        &self,
        collection: CollectionId,
        add: &[NewItem],
        remove: &[String],
        removed_by: Option<&str>,
    ) -> Result<(), StoreError> {
        let pool = self.inner.pool.clone();
        let (add, remove, by) = (add.to_vec(), remove.to_vec(), removed_by.map(str::to_owned));
        self.block(async move {
            collections::change(&pool, collection, add, remove, by)
                .await
                .map(drop)
        })?
    }

    fn items(
        &self,
        collection: CollectionId,
        filter: &ItemFilter,
    ) -> Result<Vec<CollectionItem>, StoreError> {
        let (pool, filter) = (self.inner.pool.clone(), filter.clone());
        self.block(async move { collections::items(&pool, collection, &filter).await })?
    }

    fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let (pool, run) = (self.inner.pool.clone(), run.clone());
        self.block(async move { runs::record(&pool, &run).await })?
    }

    fn find_runs(&self, task: &str, params: &str) -> Result<Vec<RunRecord>, StoreError> {
        let pool = self.inner.pool.clone();
        let (task, params) = (task.to_owned(), params.to_owned());
        self.block(async move { runs::find(&pool, &task, &params).await })?
    }

    fn run_record(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let (pool, id) = (self.inner.pool.clone(), id.to_owned());
        self.block(async move { runs::get(&pool, &id).await })?
    }
}

/// Waits for `fut`, run on `rt`, from any thread.
fn block<T: Send + 'static>(
    rt: &tokio::runtime::Handle,
    fut: impl Future<Output = T> + Send + 'static,
) -> Result<T, StoreError> {
    let task = rt.spawn(fut);
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(task.await);
    });
    rx.recv()
        .map_err(|_| StoreError::Db("the shared store's runtime stopped".into()))?
        .map_err(|e| StoreError::Db(format!("a shared store operation failed: {e}")))
}

async fn open_pool(pg: tokio_postgres::Config) -> Result<Pool, StoreError> {
    // Migrate on a connection of its own, under an advisory lock.
    let (mut client, connection) = pg
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| StoreError::Db(format!("cannot connect to PostgreSQL: {}", pg_message(&e))))?;
    let conn = tokio::spawn(connection);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err)?;
    let migrated = migrations::runner()
        .set_abort_divergent(true)
        .run_async(&mut client)
        .await;
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    drop(client);
    let _ = conn.await;
    migrated.map_err(|e| {
        StoreError::Db(format!(
            "cannot migrate the PostgreSQL index to this runtask's schema: {e}"
        ))
    })?;
    let manager = Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Db(format!("cannot make a PostgreSQL pool: {e}")))
}

/// Connects to `url` (a comma-separated list of servers), retrying for
/// a while as a cluster may be electing.
pub async fn connect_nats(url: &str) -> Result<async_nats::Client, StoreError> {
    let servers: Vec<async_nats::ServerAddr> = url
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Invalid(format!("--nats {url:?} is not a NATS URL: {e}")))?;
    async_nats::ConnectOptions::new()
        .name("runtask")
        .retry_on_initial_connect()
        .connection_timeout(std::time::Duration::from_secs(5))
        .request_timeout(Some(std::time::Duration::from_secs(10)))
        .connect(servers)
        .await
        .map_err(|e| StoreError::Db(format!("cannot connect to NATS at {url}: {e}")))
}

/// How long JetStream may be unavailable (a cluster electing a leader)
/// before an operation gives up.
pub const JETSTREAM_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `op` until it succeeds or [`JETSTREAM_PATIENCE`] has passed,
/// backing off; for operations that are safe to repeat.
pub async fn retry<T, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    what: &str,
    mut op: impl FnMut() -> F,
) -> Result<T, E> {
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() < JETSTREAM_PATIENCE => {
                tracing::debug!("{what}: {e}; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// This store's bucket: named in the index when it was made.
async fn bucket_name(pool: &Pool) -> Result<String, StoreError> {
    let c = index::client(pool).await?;
    let fresh = format!(
        "{BUCKET_PREFIX}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    c.execute(
        "INSERT INTO settings (key, value) VALUES ('bucket', $1) ON CONFLICT (key) DO NOTHING",
        &[&fresh],
    )
    .await
    .map_err(pg_err)?;
    let row = c
        .query_one("SELECT value FROM settings WHERE key = 'bucket'", &[])
        .await
        .map_err(pg_err)?;
    Ok(row.get(0))
}

async fn open_bucket(
    nats: &async_nats::Client,
    bucket: &str,
    replicas: usize,
) -> Result<ObjectStore, StoreError> {
    let js = jetstream::new(nats.clone());
    retry("opening the blob bucket", || async {
        match js.get_object_store(bucket).await {
            Ok(bucket) => Ok(bucket),
            Err(_) => js
                .create_object_store(jetstream::object_store::Config {
                    bucket: bucket.into(),
                    description: Some("taskhost artifact file contents, by sha256".into()),
                    num_replicas: replicas,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string()),
        }
    })
    .await
    .map_err(|e| {
        StoreError::Db(format!(
            "cannot open the JetStream object store {bucket}: {e} (is JetStream enabled on the server? nats-server -js)"
        ))
    })
}

/// A connection string without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {detail}", db.message()),
            None => db.message().to_owned(),
        },
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Db(format!("PostgreSQL: {}", pg_message(&e)))
}

#[cfg(test)]
pub(crate) mod testing;
