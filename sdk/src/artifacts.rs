//! The run's view of the artifact store: its inputs and what it creates.

use crate::bindings::taskhost::plugin::artifacts as raw;
use crate::{ArtifactId, Error, Result};
use serde::Serialize;

pub use raw::{FileInfo, RelationType};

/// An artifact's metadata with its data decoded.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub id: ArtifactId,
    pub category: String,
    pub data: serde_json::Value,
    pub files: Vec<FileInfo>,
}

/// Reads an input artifact (or one this run created).
pub fn get(id: ArtifactId) -> Result<Artifact> {
    let a = raw::get(id)?;
    let data = serde_json::from_str(&a.data)
        .map_err(|e| Error::failed(format!("artifact {id} has malformed data: {e}")))?;
    Ok(Artifact {
        id: a.id,
        category: a.category,
        data,
        files: a.files,
    })
}

/// Copies an artifact's files into workspace directory `dir`; returns
/// their workspace paths.
pub fn fetch(id: ArtifactId, dir: &str) -> Result<Vec<String>> {
    raw::fetch(id, dir)
}

/// Resolves a debusine-style lookup such as
/// `debian/match:codename=bookworm` to the newest matching artifact of
/// `category` (one of the categories the manifest's `[[inputs]]` declare).
pub fn lookup(query: &str, category: &str) -> Result<ArtifactId> {
    raw::lookup(query, category)
}

/// Records `source` (created by this run) relating to `target`.
pub fn relate(source: ArtifactId, target: ArtifactId, relation: RelationType) -> Result<()> {
    raw::relate(source, target, relation)
}

/// An artifact to create: category, typed data and workspace files.
#[derive(Debug)]
pub struct NewArtifact {
    category: String,
    data: serde_json::Value,
    files: Vec<raw::NewFile>,
}

impl NewArtifact {
    /// A new artifact of `category` with empty data.
    pub fn new(category: impl Into<String>) -> Self {
        NewArtifact {
            category: category.into(),
            data: serde_json::json!({}),
            files: Vec::new(),
        }
    }

    /// Sets the artifact's data from any serializable value (an object).
    pub fn data(mut self, data: &impl Serialize) -> Result<Self> {
        self.data =
            serde_json::to_value(data).map_err(|e| Error::failed(format!("artifact data: {e}")))?;
        Ok(self)
    }

    /// Adds workspace file `path` under `name`.
    pub fn file(mut self, name: impl Into<String>, path: impl Into<String>) -> Self {
        self.files.push(raw::NewFile {
            name: name.into(),
            path: path.into(),
        });
        self
    }

    /// Stores the artifact and returns its id.
    pub fn create(self) -> Result<ArtifactId> {
        raw::create(&raw::NewArtifact {
            category: self.category,
            data: self.data.to_string(),
            files: self.files,
        })
    }
}
