//! File contents: the JetStream Object Store holds one object per sha256;
//! this machine's cache holds the ones it has written or read.

use std::path::PathBuf;

use async_nats::jetstream::object_store::{InfoErrorKind, ObjectMetadata};
use tokio::io::AsyncWriteExt;

use super::{SharedStore, retry};
use crate::store::{ArtifactId, FileEntry, Source, StoreError};

impl SharedStore {
    /// Uploads the cached blob `sha256` unless the bucket has it.
    pub(super) fn upload(&self, sha256: &str) -> Result<(), StoreError> {
        let path = self.inner.cache.path(sha256);
        let (objects, name) = (self.inner.objects.clone(), sha256.to_owned());
        self.block(async move {
            // Content-addressed: repeating an upload is harmless, so a
            // cluster electing a leader is waited out.
            retry("uploading a blob", || async {
                match objects.info(&name).await {
                    Ok(info) if !info.deleted => return Ok(()),
                    Ok(_) => {}
                    Err(e) if e.kind() == InfoErrorKind::NotFound => {}
                    Err(e) => return Err(nats_err(&format!("cannot look up blob {name}"), e)),
                }
                let mut file = tokio::fs::File::open(&path).await.map_err(|e| {
                    StoreError::io(format!("cannot read cached blob {}", path.display()), e)
                })?;
                objects
                    .put(
                        ObjectMetadata {
                            name: name.clone(),
                            ..Default::default()
                        },
                        &mut file,
                    )
                    .await
                    .map_err(|e| nats_err(&format!("cannot upload blob {name}"), e))?;
                tracing::debug!(sha256 = %name, "uploaded blob");
                Ok(())
            })
            .await
        })?
    }

    /// The cached blob of `file` (of artifact `id`), downloaded and
    /// checked first if this machine does not have it.
    pub(super) fn fetch(&self, id: ArtifactId, file: &FileEntry) -> Result<PathBuf, StoreError> {
        let path = self.inner.cache.path(&file.sha256);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == file.size) {
            return Ok(path);
        }
        let tmp = tempfile::Builder::new()
            .prefix("download-")
            .tempfile_in(self.inner.config.cache.join("tmp"))
            .map_err(|e| StoreError::io("cannot make a download file in the blob cache", e))?;
        let (objects, name, dest) = (
            self.inner.objects.clone(),
            file.sha256.clone(),
            tmp.path().to_path_buf(),
        );
        self.block(async move {
            retry("downloading a blob", || async {
                let mut object = objects.get(&name).await.map_err(|e| {
                    nats_err(
                        &format!(
                            "artifact {id}: cannot download file {name} from the object store"
                        ),
                        e,
                    )
                })?;
                let mut out = tokio::fs::File::create(&dest)
                    .await
                    .map_err(|e| StoreError::io(format!("cannot write {}", dest.display()), e))?;
                tokio::io::copy(&mut object, &mut out).await.map_err(|e| {
                    StoreError::io(format!("artifact {id}: cannot download blob {name}"), e)
                })?;
                out.flush()
                    .await
                    .map_err(|e| StoreError::io(format!("cannot write {}", dest.display()), e))
            })
            .await
        })??;
        // Stored through the cache, which hashes it: a blob that is not
        // what the index says never reaches the cache under that name.
        let entry =
            self.inner
                .cache
                .store(&file.name, &Source::Path(tmp.path().to_path_buf()), &|_| {
                    Ok(())
                })?;
        if entry.sha256 != file.sha256 || entry.size != file.size {
            return Err(StoreError::Db(format!(
                "artifact {id}: the object store's blob {} has sha256 {} and {} bytes, not what the index records ({} bytes)",
                file.sha256, entry.sha256, entry.size, file.size
            )));
        }
        Ok(path)
    }
}

fn nats_err(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(format!("{context}: {e}"))
}
