//! The record of finished runs in the SQLite index: what `runs.submit`
//! searches for an equal earlier run.

use rusqlite::{OptionalExtension, Row, params};

use super::index::Index;
use crate::store::{RunRecord, StoreError};

const COLUMNS: &str = "id, task, params, parent, status, finished_at";

fn row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: r.get(0)?,
        task: r.get(1)?,
        params: r.get(2)?,
        parent: r.get(3)?,
        status: r.get(4)?,
        finished_at: r.get(5)?,
    })
}

impl Index {
    pub(super) fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let conn = self.db();
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO runs (id, task, params, parent, status, finished_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                run.id,
                run.task,
                run.params,
                run.parent,
                run.status,
                run.finished_at
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::Invalid(format!(
                "run {} is recorded already",
                run.id
            )));
        }
        Ok(())
    }

    pub(super) fn find_runs(&self, task: &str, params: &str) -> Result<Vec<RunRecord>, StoreError> {
        let conn = self.db();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM runs WHERE task = ?1 AND params = ?2 ORDER BY rowid"
        ))?;
        let runs = stmt
            .query_map(params![task, params], row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(runs)
    }

    pub(super) fn run_record(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let conn = self.db();
        Ok(conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"))?
            .query_row([id], row)
            .optional()?)
    }
}
