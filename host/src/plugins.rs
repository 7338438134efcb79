//! Finding plugins: the ones shipped inside runtask, plugin directories,
//! or a path to a `.wasm` file.

use crate::manifest::{self, PluginInfo};
use std::path::{Path, PathBuf};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

/// Plugins shipped inside runtask: (name, component bytes).
pub fn builtin() -> &'static [(&'static str, &'static [u8])] {
    builtin::BUILTIN
}

/// Why a plugin could not be found.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("cannot read plugin file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no plugin named '{name}'; shipped: {shipped}; searched: {searched} (see `runtask plugin list`)"
    )]
    Unknown {
        name: String,
        shipped: String,
        searched: String,
    },
}

/// The directories searched for `NAME.wasm`: the given ones, then
/// `$XDG_DATA_HOME/taskhost/plugins`, `/usr/local/lib/taskhost/plugins`,
/// `/usr/lib/taskhost/plugins`.
pub fn search_path(extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = extra.to_vec();
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")));
    if let Some(data) = data {
        dirs.push(data.join("taskhost/plugins"));
    }
    dirs.push("/usr/local/lib/taskhost/plugins".into());
    dirs.push("/usr/lib/taskhost/plugins".into());
    dirs
}

/// Finds `task`: a path (contains `/` or ends in `.wasm`), a shipped
/// plugin's name, or `NAME.wasm` in `dirs`. Returns bytes and origin.
pub fn find(task: &str, dirs: &[PathBuf]) -> Result<(Vec<u8>, String), FindError> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|b| (b, path.display().to_string()))
            .map_err(|source| FindError::Read {
                path: path.to_path_buf(),
                source,
            })
    };
    if task.contains('/') || task.ends_with(".wasm") {
        return read(Path::new(task));
    }
    if let Some((_, bytes)) = builtin().iter().find(|(name, _)| *name == task) {
        return Ok((bytes.to_vec(), format!("builtin:{task}")));
    }
    for dir in dirs {
        let path = dir.join(format!("{task}.wasm"));
        if path.is_file() {
            return read(&path);
        }
    }
    Err(FindError::Unknown {
        name: task.to_string(),
        shipped: builtin()
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", "),
        searched: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Every plugin runtask can see, with its manifest (or why it is broken).
pub fn list(dirs: &[PathBuf]) -> Vec<(String, Result<PluginInfo, manifest::ManifestError>)> {
    let mut all: Vec<_> = builtin()
        .iter()
        .map(|(name, bytes)| (format!("builtin:{name}"), manifest::read(bytes)))
        .collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        files.sort();
        for path in files {
            let info = std::fs::read(&path)
                .map_err(|e| manifest::ManifestError::NotWasm(e.to_string()))
                .and_then(|b| manifest::read(&b));
            all.push((path.display().to_string(), info));
        }
    }
    all
}
