//! Finished runs (what `runs.submit` compares) and each run's own
//! records (`results.yaml`, `audit.jsonl`, provenance), which a local
//! store keeps under `runs/RUN-ID/`.

use std::path::Path;

use deadpool_postgres::Pool;
use tokio_postgres::Row;

use super::index::client;
use super::{SharedStore, pg_err};
use crate::store::{RunRecord, StoreError};

const COLUMNS: &str = "id, task, params, parent, status, finished_at";
/// A run's records are small; anything larger is not one of them.
const MAX_RUN_FILE: u64 = 64 << 20;

/// One of a run's own records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFile {
    /// Its name in `runs/RUN-ID/`.
    pub name: String,
    pub content: Vec<u8>,
}

fn to_record(row: &Row) -> RunRecord {
    RunRecord {
        id: row.get(0),
        task: row.get(1),
        params: row.get(2),
        parent: row.get(3),
        status: row.get(4),
        finished_at: row.get(5),
    }
}

pub(super) async fn record(pool: &Pool, run: &RunRecord) -> Result<(), StoreError> {
    let c = client(pool).await?;
    let inserted = c
        .execute(
            "INSERT INTO runs (id, task, params, parent, status, finished_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            &[
                &run.id,
                &run.task,
                &run.params,
                &run.parent,
                &run.status,
                &run.finished_at,
            ],
        )
        .await
        .map_err(pg_err)?;
    if inserted == 0 {
        return Err(StoreError::Invalid(format!(
            "run {} is recorded already",
            run.id
        )));
    }
    Ok(())
}

pub(super) async fn find(
    pool: &Pool,
    task: &str,
    params: &str,
) -> Result<Vec<RunRecord>, StoreError> {
    let c = client(pool).await?;
    Ok(c.query(
        &format!("SELECT {COLUMNS} FROM runs WHERE task = $1 AND params = $2 ORDER BY seq"),
        &[&task, &params],
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(to_record)
    .collect())
}

pub(super) async fn get(pool: &Pool, id: &str) -> Result<Option<RunRecord>, StoreError> {
    let c = client(pool).await?;
    Ok(
        c.query_opt(&format!("SELECT {COLUMNS} FROM runs WHERE id = $1"), &[&id])
            .await
            .map_err(pg_err)?
            .as_ref()
            .map(to_record),
    )
}

impl SharedStore {
    /// Saves the regular files of `dir` (a run's `runs/RUN-ID/`) as the
    /// records of run `run_id`, replacing earlier ones of the same name.
    pub fn save_run_files(&self, run_id: &str, dir: &Path) -> Result<usize, StoreError> {
        let mut files = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StoreError::io(format!("cannot list {}", dir.display()), e)),
        };
        for entry in entries {
            let entry =
                entry.map_err(|e| StoreError::io(format!("cannot list {}", dir.display()), e))?;
            let meta = entry.path().symlink_metadata().map_err(|e| {
                StoreError::io(format!("cannot read {}", entry.path().display()), e)
            })?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !meta.is_file() || meta.len() > MAX_RUN_FILE {
                continue;
            }
            let content = std::fs::read(entry.path()).map_err(|e| {
                StoreError::io(format!("cannot read {}", entry.path().display()), e)
            })?;
            files.push(RunFile { name, content });
        }
        let count = files.len();
        let (pool, run) = (self.inner.pool.clone(), run_id.to_owned());
        self.block(async move {
            let mut c = client(&pool).await?;
            let tx = c.transaction().await.map_err(pg_err)?;
            for f in &files {
                tx.execute(
                    "INSERT INTO run_files (run_id, name, content) VALUES ($1, $2, $3) \
                     ON CONFLICT (run_id, name) DO UPDATE SET content = EXCLUDED.content",
                    &[&run, &f.name, &f.content],
                )
                .await
                .map_err(pg_err)?;
            }
            tx.commit().await.map_err(pg_err)
        })??;
        Ok(count)
    }

    /// The records of run `run_id`, by name.
    pub fn run_files(&self, run_id: &str) -> Result<Vec<RunFile>, StoreError> {
        let (pool, run) = (self.inner.pool.clone(), run_id.to_owned());
        self.block(async move {
            let c = client(&pool).await?;
            Ok(c.query(
                "SELECT name, content FROM run_files WHERE run_id = $1 ORDER BY name",
                &[&run],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| RunFile {
                name: r.get(0),
                content: r.get(1),
            })
            .collect())
        })?
    }
}
