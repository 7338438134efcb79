//! Content-addressed files: `files/<sha[0..2]>/<sha256>`, read-only and
//! shared between artifacts. A blob is written to a temp name in `tmp/`,
//! fsynced and renamed into place, so `files/` only ever holds whole blobs.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::Stage;
use crate::store::{ArtifactId, FileEntry, Source, StoreError};

pub(in crate::store) const FILES_DIR: &str = "files";
pub(in crate::store) const TMP_DIR: &str = "tmp";
pub(in crate::store) const COPY_BUF_LEN: usize = 64 * 1024;
/// Content up to this size is hashed in memory before anything is written.
pub(in crate::store) const IN_MEMORY_LEN: usize = 1 << 20;

/// The blob directories of a store.
pub(in crate::store) struct Blobs {
    root: PathBuf,
}

impl Blobs {
    /// The blobs under `root` (absolute), creating `files/` and `tmp/`.
    pub(in crate::store) fn open(root: &Path) -> Result<Self, StoreError> {
        for dir in [root.join(FILES_DIR), root.join(TMP_DIR)] {
            fs::create_dir_all(&dir).map_err(|e| {
                StoreError::io(
                    format!("cannot create artifact store directory {}", dir.display()),
                    e,
                )
            })?;
        }
        Ok(Blobs {
            root: root.to_path_buf(),
        })
    }

    /// Where the blob of `sha256` lives (whether or not it exists).
    pub(in crate::store) fn path(&self, sha256: &str) -> PathBuf {
        let shard = sha256.get(..2).unwrap_or("xx");
        self.root.join(FILES_DIR).join(shard).join(sha256)
    }

    /// Stores the content of `source` at its content address: hashed while
    /// read; if new, written to `tmp/`, fsynced and renamed into place.
    pub(in crate::store) fn store(
        &self,
        name: &str,
        source: &Source,
        hook: &dyn Fn(Stage) -> Result<(), StoreError>,
    ) -> Result<FileEntry, StoreError> {
        let read_err = |e| {
            StoreError::io(
                format!("cannot read {source} (for artifact file {name:?})"),
                e,
            )
        };
        let opened;
        let mut src: &File = match source {
            Source::File(file) => file,
            Source::Path(path) => {
                opened = File::open(path).map_err(read_err)?;
                &opened
            }
        };
        let meta = src.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(StoreError::Invalid(format!(
                "source {source} for artifact file {name:?} is not a regular file"
            )));
        }
        #[cfg(unix)]
        if let Source::Path(path) = source {
            // The path must still be the regular file checked earlier, not a swapped-in symlink.
            use std::os::unix::fs::MetadataExt;
            let now = fs::symlink_metadata(path).map_err(read_err)?;
            if now.file_type().is_symlink() || (now.dev(), now.ino()) != (meta.dev(), meta.ino()) {
                return Err(StoreError::Invalid(format!(
                    "source {source} for artifact file {name:?} changed while being stored"
                )));
            }
        }

        // Hash first, keeping small content in memory: content the store
        // already holds is then neither written nor synced. Larger content
        // spills to a temp file, which is only synced if it is new.
        let tmp_dir = self.root.join(TMP_DIR);
        let tmp_err = |e| {
            StoreError::io(
                format!("cannot write a temp file in {}", tmp_dir.display()),
                e,
            )
        };
        let new_tmp = || {
            tempfile::Builder::new()
                .prefix("blob-")
                .tempfile_in(&tmp_dir)
                .map_err(tmp_err)
        };
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut head = Vec::new();
        let mut spilled: Option<NamedTempFile> = None;
        let mut buf = vec![0u8; COPY_BUF_LEN];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e)),
            };
            let chunk = &buf[..n];
            hasher.update(chunk);
            size += n as u64;
            match &mut spilled {
                Some(tmp) => tmp.write_all(chunk).map_err(tmp_err)?,
                None if head.len() + n <= IN_MEMORY_LEN => head.extend_from_slice(chunk),
                None => {
                    let mut tmp = new_tmp()?;
                    tmp.write_all(&head).map_err(tmp_err)?;
                    tmp.write_all(chunk).map_err(tmp_err)?;
                    head = Vec::new();
                    spilled = Some(tmp);
                    hook(Stage::BlobPartial)?;
                }
            }
        }
        let sha256 = hex::encode(hasher.finalize());
        let entry = FileEntry {
            name: name.to_string(),
            size,
            sha256,
        };

        let dest = self.path(&entry.sha256);
        if let Ok(m) = fs::symlink_metadata(&dest)
            && m.is_file()
            && m.len() == size
        {
            // Deduplicated: blobs only reach files/ whole and synced, so
            // this one can be referenced; a spilled temp file goes unsynced.
            return Ok(entry);
        }
        let tmp = match spilled {
            Some(tmp) => tmp,
            None => {
                let mut tmp = new_tmp()?;
                tmp.write_all(&head).map_err(tmp_err)?;
                tmp
            }
        };
        tmp.as_file().sync_all().map_err(tmp_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(fs::Permissions::from_mode(0o444))
                .map_err(tmp_err)?;
        }
        let shard = dest.parent().unwrap_or(&self.root).to_path_buf();
        if !shard.is_dir() {
            fs::create_dir_all(&shard).map_err(|e| {
                StoreError::io(
                    format!("cannot create blob directory {}", shard.display()),
                    e,
                )
            })?;
            sync_dir(&self.root.join(FILES_DIR))?;
        }
        tmp.persist(&dest).map_err(|e| {
            StoreError::io(
                format!("cannot move blob into place at {}", dest.display()),
                e.error,
            )
        })?;
        sync_dir(&shard)?;
        Ok(entry)
    }

    /// Copies the blob of `file` (of artifact `id`) to a new file `dest`,
    /// checking its size and sha256 on the way.
    pub(in crate::store) fn copy_out(
        &self,
        id: ArtifactId,
        file: &FileEntry,
        dest: &Path,
    ) -> Result<(), StoreError> {
        let blob = self.path(&file.sha256);
        let mut src = File::open(&blob).map_err(|e| {
            StoreError::io(
                format!(
                    "cannot read blob {} of file {:?} of artifact {id}",
                    blob.display(),
                    file.name
                ),
                e,
            )
        })?;
        let write_err = |e| StoreError::io(format!("cannot write {}", dest.display()), e);
        // create_new: never follows a symlink put there since the caller's checks.
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dest)
            .map_err(write_err)?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; COPY_BUF_LEN];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(StoreError::io(
                        format!("cannot read blob {}", blob.display()),
                        e,
                    ));
                }
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(write_err)?;
            size += n as u64;
        }
        if size != file.size || hex::encode(hasher.finalize()) != file.sha256 {
            drop(out);
            let _ = fs::remove_file(dest);
            return Err(StoreError::io(
                format!(
                    "blob {} of file {:?} of artifact {id} is corrupted; the store needs a verify",
                    blob.display(),
                    file.name
                ),
                io::Error::new(io::ErrorKind::InvalidData, "size or sha256 mismatch"),
            ));
        }
        Ok(())
    }

    /// Removes everything in `tmp/`; returns how many entries went.
    pub(in crate::store) fn remove_temp_files(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in read_dir(&self.root.join(TMP_DIR))? {
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let result = if is_dir {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            result.map_err(|e| {
                StoreError::io(format!("cannot remove temp file {}", path.display()), e)
            })?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Removes the blobs whose sha256 is not in `referenced`; returns how many went.
    pub(in crate::store) fn remove_unreferenced(
        &self,
        referenced: &HashSet<String>,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        for shard in read_dir(&self.root.join(FILES_DIR))? {
            if !shard.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            for entry in read_dir(&shard.path())? {
                let keep = entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| referenced.contains(n));
                let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(true);
                if keep || is_dir {
                    continue;
                }
                let path = entry.path();
                fs::remove_file(&path).map_err(|e| {
                    StoreError::io(format!("cannot remove orphan blob {}", path.display()), e)
                })?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Refuses anything but an existing regular file (symlinks included).
pub(in crate::store) fn check_source(name: &str, source: &Source) -> Result<(), StoreError> {
    let meta = match source {
        Source::Path(path) => fs::symlink_metadata(path),
        Source::File(file) => file.metadata(),
    }
    .map_err(|e| {
        StoreError::io(
            format!("cannot read {source} (for artifact file {name:?})"),
            e,
        )
    })?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(StoreError::Invalid(format!(
            "source {source} for artifact file {name:?} is a symlink; give the file it points to"
        )));
    }
    if !kind.is_file() {
        return Err(StoreError::Invalid(format!(
            "source {source} for artifact file {name:?} is not a regular file"
        )));
    }
    Ok(())
}

/// Size and sha256 of a blob, or why it cannot be read.
pub(in crate::store) fn inspect(path: &Path) -> Result<(u64, String), String> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err("is not a regular file".to_string()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err("is missing".to_string()),
        Err(e) => return Err(format!("cannot be read: {e}")),
    }
    let mut file = File::open(path).map_err(|e| format!("cannot be read: {e}"))?;
    let mut hasher = Sha256::new();
    let size = io::copy(&mut file, &mut hasher).map_err(|e| format!("cannot be read: {e}"))?;
    Ok((size, hex::encode(hasher.finalize())))
}

pub(in crate::store) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, StoreError> {
    let err = |e| StoreError::io(format!("cannot list {}", dir.display()), e);
    fs::read_dir(dir)
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)
}

/// Makes a rename or creation inside `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let synced = File::open(dir).and_then(|d| d.sync_all());
    match synced {
        Ok(()) => Ok(()),
        // Some file systems cannot fsync directories.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(StoreError::io(
            format!("cannot sync directory {}", dir.display()),
            e,
        )),
    }
}
