//! Collecting what runs left behind: the pending artifacts of attempts
//! that will never commit (their run finished, died, or moved on to a
//! later attempt), and blobs no artifact refers to.

use std::time::Duration;

use futures_util::StreamExt;

use super::index::client;
use super::{SharedStore, pg_err};
use crate::store::StoreError;

/// What [`SharedStore::gc`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// Artifacts of abandoned attempts.
    pub artifacts: u64,
    /// Objects of the blob bucket.
    pub blobs: u64,
}

impl SharedStore {
    /// Removes the artifacts of abandoned attempts (one transaction),
    /// then the bucket's objects that no artifact refers to and that are
    /// older than `grace` (a create uploads its blobs before it records
    /// them: give it that long).
    pub fn gc(&self, grace: Duration) -> Result<Collected, StoreError> {
        let (pool, objects) = (self.inner.pool.clone(), self.inner.objects.clone());
        self.block(async move {
            let mut c = client(&pool).await?;
            let tx = c.transaction().await.map_err(pg_err)?;
            // `pending` is RUN-ID#DELIVERY.
            let abandoned = "SELECT a.id FROM artifacts a JOIN queued_runs q \
                 ON q.id = split_part(a.pending, '#', 1) \
                 WHERE a.pending IS NOT NULL AND (q.state IN ('finished', 'dead') \
                 OR q.attempt > split_part(a.pending, '#', 2)::integer)";
            tx.execute(
                &format!(
                    "DELETE FROM relations WHERE source IN ({abandoned}) OR target IN ({abandoned})"
                ),
                &[],
            )
            .await
            .map_err(pg_err)?;
            tx.execute(
                &format!("DELETE FROM files WHERE artifact_id IN ({abandoned})"),
                &[],
            )
            .await
            .map_err(pg_err)?;
            let artifacts = tx
                .execute(
                    &format!("DELETE FROM artifacts WHERE id IN ({abandoned})"),
                    &[],
                )
                .await
                .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;

            let cutoff = time::OffsetDateTime::now_utc()
                - time::Duration::try_from(grace).unwrap_or(time::Duration::ZERO);
            let mut list = objects
                .list()
                .await
                .map_err(|e| StoreError::Db(format!("cannot list the blob bucket: {e}")))?;
            let mut old = Vec::new();
            while let Some(info) = list.next().await {
                let info =
                    info.map_err(|e| StoreError::Db(format!("cannot list the blob bucket: {e}")))?;
                if !info.deleted && info.modified.is_some_and(|m| m < cutoff) {
                    old.push(info.name);
                }
            }
            let mut blobs = 0;
            for name in old {
                let used = c
                    .query_opt("SELECT 1 FROM files WHERE sha256 = $1 LIMIT 1", &[&name])
                    .await
                    .map_err(pg_err)?
                    .is_some();
                if !used {
                    objects
                        .delete(&name)
                        .await
                        .map_err(|e| StoreError::Db(format!("cannot delete blob {name}: {e}")))?;
                    blobs += 1;
                }
            }
            Ok(Collected { artifacts, blobs })
        })?
    }
}
