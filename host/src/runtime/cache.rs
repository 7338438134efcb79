//! On-disk cache of compiled components, keyed by the engine's
//! compatibility hash and the wasm's sha256. Only files this host wrote
//! are deserialized: the directory must be ours and not writable by others.

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    /// Opens (creating, mode 0700) the cache for `engine` under `root`.
    pub fn open(root: &Path, engine: &Engine) -> Result<Self> {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = root.join(format!("{:016x}", hasher.finish()));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating compile cache {}", dir.display()))?;
        for d in [root, dir.as_path()] {
            let meta = std::fs::metadata(d)?;
            // SAFETY: geteuid has no preconditions.
            let uid = unsafe { libc::geteuid() };
            if meta.uid() != uid || meta.permissions().mode() & 0o022 != 0 {
                bail!(
                    "compile cache {} is not private to this user; refusing to load code from it",
                    d.display()
                );
            }
        }
        Ok(CompileCache { dir })
    }

    /// Loads the compiled form of `wasm`, compiling and storing it on a miss.
    /// Returns the component and whether it came from the cache.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> Result<(Component, bool)> {
        let path = self
            .dir
            .join(format!("{}.cwasm", hex::encode(Sha256::digest(wasm))));
        if path.exists() {
            // SAFETY: the file is named by the sha256 of its source and lives
            // in a directory only this user can write (checked in `open`);
            // this host wrote it with `Component::serialize`.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, true)),
                Err(e) => tracing::warn!("recompiling: cached {} unusable: {e:#}", path.display()),
            }
        }
        let component = Component::new(engine, wasm)?;
        let bytes = component.serialize()?;
        let tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        std::fs::write(tmp.path(), &bytes)?;
        tmp.persist(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok((component, false))
    }
}
