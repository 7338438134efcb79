//! Finding plugins: the ones shipped inside runtask, plugin directories,
//! or a path to a `.wasm` file.

use crate::manifest::Declares;
use crate::manifest::{self, PluginInfo};
use crate::policy::Origin;
use std::path::{Path, PathBuf};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

/// Plugins shipped inside runtask: (name, component bytes).
pub fn builtin() -> &'static [(&'static str, &'static [u8])] {
    builtin::BUILTIN
}

/// The shipped plugins' names: reserved for them.
pub fn shipped_names() -> Vec<&'static str> {
    builtin().iter().map(|(name, _)| *name).collect()
}

/// A plugin file found, and where.
pub struct Found {
    pub wasm: Vec<u8>,
    pub origin: Origin,
}

impl Found {
    /// `builtin:NAME` or the file's path.
    pub fn origin_name(&self, name: &str) -> String {
        match &self.origin {
            Origin::Builtin => format!("builtin:{name}"),
            other => other.to_string(),
        }
    }
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

/// Finds `task`: a path (contains `/` or ends in `.wasm`; named on the
/// command line), a shipped plugin's name, or `NAME.wasm` in `dirs`.
pub fn find(task: &str, dirs: &[PathBuf]) -> Result<Found, FindError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| FindError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    if task.contains('/') || task.ends_with(".wasm") {
        let path = Path::new(task);
        return Ok(Found {
            wasm: read(path)?,
            origin: Origin::CommandLine(path.to_path_buf()),
        });
    }
    if let Some((_, bytes)) = builtin().iter().find(|(name, _)| *name == task) {
        return Ok(Found {
            wasm: bytes.to_vec(),
            origin: Origin::Builtin,
        });
    }
    for dir in dirs {
        let path = dir.join(format!("{task}.wasm"));
        if path.is_file() {
            return Ok(Found {
                wasm: read(&path)?,
                origin: Origin::PluginDir(path),
            });
        }
    }
    Err(FindError::Unknown {
        name: task.to_string(),
        shipped: shipped_names().join(", "),
        searched: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A plugin `list` shows.
pub struct Listed {
    /// `builtin:NAME` or the file's path.
    pub origin: String,
    /// Its sha256, when the file could be read.
    pub sha256: Option<String>,
    pub info: Result<PluginInfo, manifest::ManifestError>,
}

/// Every plugin runtask can see, with its manifest (or why it is broken).
pub fn list(dirs: &[PathBuf]) -> Vec<Listed> {
    let mut all: Vec<Listed> = builtin()
        .iter()
        .map(|(name, bytes)| Listed {
            origin: format!("builtin:{name}"),
            sha256: Some(manifest::digest(bytes)),
            info: manifest::read(bytes),
        })
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
            let bytes = std::fs::read(&path);
            all.push(Listed {
                origin: path.display().to_string(),
                sha256: bytes.as_ref().ok().map(|b| manifest::digest(b)),
                info: bytes
                    .map_err(|e| manifest::ManifestError::NotWasm(e.to_string()))
                    .and_then(|b| manifest::read(&b)),
            });
        }
    }
    all
}

/// A plugin copied into a plugin directory, and the policy table that
/// would trust it.
pub struct Installed {
    pub path: PathBuf,
    pub name: String,
    pub sha256: String,
    /// `[plugins.NAME]` with its `sha256` pin and the grants its manifest
    /// asks for, as TOML.
    pub table: String,
}

/// Why a plugin could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Manifest {
        path: PathBuf,
        source: manifest::ManifestError,
    },
    #[error(
        "{path} calls itself '{name}', the name of a plugin shipped with runtask; shipped names are reserved: rename it in its taskhost.toml"
    )]
    Shipped { path: PathBuf, name: String },
    #[error("cannot install into {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The policy table that pins third-party plugin `name` by `sha256` and
/// grants everything it declares.
pub fn trust_table(name: &str, sha256: &str, declared: crate::policy::Declared) -> String {
    let identity = crate::policy::Identity {
        name: name.to_owned(),
        sha256: sha256.to_owned(),
        origin: Origin::PluginDir(format!("{name}.wasm").into()),
        table: None,
    };
    let any_host: Vec<String> = declared
        .urls
        .iter()
        .filter(|u| u.any_host())
        .map(|u| u.to_string())
        .collect();
    let effective =
        crate::policy::Effective::for_identity(&identity, declared, Default::default(), None);
    let mut table = effective
        .missing_grants_snippet()
        .unwrap_or_else(|| format!("[plugins.{name}]\nsha256 = [\"{sha256}\"]\n",));
    if !any_host.is_empty() {
        table.push_str(&format!(
            "# it may reach any host of {}: grant the ones you allow, e.g.\n# urls = [\"https://host.example/\"]\n",
            any_host.join(", ")
        ));
    }
    table
}

/// Copies the plugin `file` into `dir` as `NAME.wasm` (atomically), after
/// checking its manifest; returns where, its digest and the table that
/// would trust it.
pub fn install(file: &Path, dir: &Path) -> Result<Installed, InstallError> {
    let wasm = std::fs::read(file).map_err(|source| InstallError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let info = manifest::read(&wasm).map_err(|source| InstallError::Manifest {
        path: file.to_path_buf(),
        source,
    })?;
    let name = info.manifest.name.clone();
    if shipped_names().contains(&name.as_str()) {
        return Err(InstallError::Shipped {
            path: file.to_path_buf(),
            name,
        });
    }
    let sha256 = manifest::digest(&wasm);
    let declared = info
        .manifest
        .declared()
        .map_err(|source| InstallError::Manifest {
            path: file.to_path_buf(),
            source,
        })?;
    let table = trust_table(&name, &sha256, declared);
    let write_error = |source| InstallError::Write {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write_error)?;
    let path = dir.join(format!("{name}.wasm"));
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_error)?;
    std::fs::write(tmp.path(), &wasm).map_err(write_error)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(write_error)?;
    }
    tmp.persist(&path).map_err(|e| write_error(e.error))?;
    Ok(Installed {
        path,
        name,
        sha256,
        table,
    })
}
