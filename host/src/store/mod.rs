//! The embedded artifact store, following debusine's artifact model.
//!
//! An artifact is a category (`ns:name`), a JSON object of metadata, a set
//! of named files and typed relations to other artifacts. [`LocalStore`]
//! keeps them in a directory: content-addressed blobs plus a SQLite index.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod collections;
#[cfg(test)]
mod conformance;
mod local;
mod lookup;
pub mod shared;

pub use collections::{Collection, CollectionId, CollectionItem, ItemFilter, ItemId, NewItem};
pub use local::LocalStore;
pub(crate) use local::now_rfc3339;
pub use lookup::{Lookup, resolve as lookup, resolve_collection};
pub use shared::{SharedConfig, SharedStore};

/// Identifier of an artifact, unique within one store and never reused.
pub type ArtifactId = u64;

/// Longest accepted file name, in bytes.
pub const MAX_FILE_NAME_LEN: usize = 4096;
/// Longest accepted component of a file name, in bytes.
pub const MAX_FILE_NAME_COMPONENT_LEN: usize = 255;

/// How an artifact relates to another one (debusine's relation types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// A loose link, e.g. a build log relates to the binaries it produced.
    RelatesTo,
    /// The source artifact extends (adds to) the target.
    Extends,
    /// The source artifact was built using the target.
    BuiltUsing,
}

impl Relation {
    /// Every relation type.
    pub const ALL: [Relation; 3] = [Relation::RelatesTo, Relation::Extends, Relation::BuiltUsing];

    /// The kebab-case name, as used in JSON, the index and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::RelatesTo => "relates-to",
            Relation::Extends => "extends",
            Relation::BuiltUsing => "built-using",
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Relation {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Relation::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "unknown relation {s:?} (expected relates-to, extends or built-using)"
                ))
            })
    }
}

/// One file of a stored artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative path inside the artifact, `/`-separated.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
}

/// An outgoing relation of an artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationEntry {
    /// The kind of relation.
    pub relation: Relation,
    /// The artifact related to.
    pub target: ArtifactId,
}

/// A stored artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// Store-assigned identifier.
    pub id: ArtifactId,
    /// Category, `ns:name` (e.g. `debian:package-build-log`).
    pub category: String,
    /// Category-specific metadata; always a JSON object.
    pub data: serde_json::Value,
    /// Files, sorted by name.
    pub files: Vec<FileEntry>,
    /// Creation time, RFC 3339 in UTC (e.g. `2025-01-31T12:00:00Z`).
    pub created_at: String,
    /// The run that created the artifact, if any.
    pub created_by: Option<String>,
    /// Outgoing relations, sorted by target then relation.
    pub relations: Vec<RelationEntry>,
}

impl Artifact {
    /// The file called `name`, if the artifact has one.
    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// A file to add to a new artifact.
#[derive(Clone, Debug)]
pub struct NewFile {
    /// Name inside the artifact: relative, `/`-separated, no `.`/`..`.
    pub name: String,
    /// Where the content comes from.
    pub source: Source,
}

/// The content of a new artifact file.
#[derive(Clone, Debug)]
pub enum Source {
    /// A regular file at this path (a symlink is refused).
    Path(PathBuf),
    /// A file the caller already opened, e.g. through a capability-safe
    /// directory handle, so no path is looked up again.
    File(std::sync::Arc<std::fs::File>),
}

impl From<PathBuf> for Source {
    fn from(path: PathBuf) -> Self {
        Source::Path(path)
    }
}

impl From<&Path> for Source {
    fn from(path: &Path) -> Self {
        Source::Path(path.to_path_buf())
    }
}

impl From<&PathBuf> for Source {
    fn from(path: &PathBuf) -> Self {
        Source::Path(path.clone())
    }
}

impl From<&str> for Source {
    fn from(path: &str) -> Self {
        Source::Path(path.into())
    }
}

impl From<std::fs::File> for Source {
    fn from(file: std::fs::File) -> Self {
        Source::File(std::sync::Arc::new(file))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Path(p) => write!(f, "{}", p.display()),
            Source::File(_) => write!(f, "(open file)"),
        }
    }
}

/// What [`ArtifactStore::create`] needs to make an artifact.
#[derive(Clone, Debug)]
pub struct NewArtifact {
    /// Category, `ns:name`.
    pub category: String,
    /// Metadata; must be a JSON object.
    pub data: serde_json::Value,
    /// Files to copy into the store.
    pub files: Vec<NewFile>,
    /// The creating run, if any.
    pub created_by: Option<String>,
    /// Relations to existing artifacts.
    pub relations: Vec<RelationEntry>,
}

impl NewArtifact {
    /// An artifact with no files, creator or relations yet.
    pub fn new(category: impl Into<String>, data: serde_json::Value) -> Self {
        NewArtifact {
            category: category.into(),
            data,
            files: Vec::new(),
            created_by: None,
            relations: Vec::new(),
        }
    }

    /// Adds a file named `name` with the content of `source`.
    pub fn with_file(mut self, name: impl Into<String>, source: impl Into<Source>) -> Self {
        self.files.push(NewFile {
            name: name.into(),
            source: source.into(),
        });
        self
    }

    /// Adds a relation to `target`.
    pub fn with_relation(mut self, relation: Relation, target: ArtifactId) -> Self {
        self.relations.push(RelationEntry { relation, target });
        self
    }
}

/// Selects artifacts in [`ArtifactStore::list`]; `None` fields match all.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Only artifacts of exactly this category.
    pub category: Option<String>,
    /// Only artifacts created by exactly this run.
    pub created_by: Option<String>,
}

/// A finished run, as the store records it: what `runs.submit` compares
/// to find an equal earlier run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id.
    pub id: String,
    /// The task (plugin name) it ran.
    pub task: String,
    /// sha256 of the task and its task_data in canonical JSON
    /// ([`run_params`]).
    pub params: String,
    /// The run that submitted it, if any.
    pub parent: Option<String>,
    /// How it ended (`success`, `failure`, `error`, ...).
    pub status: String,
    /// RFC 3339, UTC.
    pub finished_at: String,
}

/// The key of a run's parameters: sha256 of `task` and `task_data` with
/// object keys sorted, so equal task_data gives an equal key.
pub fn run_params(task: &str, task_data: &serde_json::Value) -> String {
    use sha2::Digest;
    fn canonical(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::from(k.as_str()).to_string());
                    out.push(':');
                    canonical(&map[k], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = serde_json::Value::from(task).to_string();
    text.push('\n');
    canonical(task_data, &mut text);
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No artifact has this id.
    #[error("artifact {0} does not exist (see `runtask artifact list`)")]
    NotFound(ArtifactId),
    /// The artifact exists but has no file of this name.
    #[error("artifact {id} has no file named {name:?} (see `runtask artifact list` for its files)")]
    NoSuchFile {
        /// The artifact.
        id: ArtifactId,
        /// The missing file name.
        name: String,
    },
    /// The request was refused; the message says why. The store is unchanged.
    #[error("{0}")]
    Invalid(String),
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite index failed or holds something unexpected.
    #[error("artifact store database error: {0}")]
    Db(String),
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

/// A place that keeps artifacts. Implementations are shareable across threads.
pub trait ArtifactStore: Send + Sync {
    /// Validates `new`, copies its files in and records it atomically:
    /// afterwards the artifact exists whole, or (on error) not at all.
    fn create(&self, new: NewArtifact) -> Result<Artifact, StoreError>;
    /// The artifact `id`, or [`StoreError::NotFound`].
    fn get(&self, id: ArtifactId) -> Result<Artifact, StoreError>;
    /// Artifacts matching `filter`, ordered by id.
    fn list(&self, filter: &ListFilter) -> Result<Vec<Artifact>, StoreError>;
    /// Records `source --relation--> target`. Both must exist; repeating is a no-op.
    fn relate(
        &self,
        source: ArtifactId,
        target: ArtifactId,
        relation: Relation,
    ) -> Result<(), StoreError>;
    /// Path of the stored content of file `name` of artifact `id`. The blob
    /// is read-only and may be shared with other artifacts: never write to it.
    fn file_path(&self, id: ArtifactId, name: &str) -> Result<PathBuf, StoreError>;
    /// Copies each file of the artifact to `dest_dir/<name>` (creating
    /// subdirectories, replacing existing files, never following symlinks
    /// inside `dest_dir`) and returns the written paths in file order.
    fn export(&self, id: ArtifactId, dest_dir: &Path) -> Result<Vec<PathBuf>, StoreError>;

    /// Creates the collection `name@category` with `data` (a JSON object).
    /// Fails if it exists.
    fn create_collection(
        &self,
        category: &str,
        name: &str,
        data: serde_json::Value,
    ) -> Result<Collection, StoreError>;
    /// The collection `id`, or [`StoreError::Invalid`] naming it.
    fn collection(&self, id: CollectionId) -> Result<Collection, StoreError>;
    /// The collection `name@category`, if it exists.
    fn find_collection(&self, category: &str, name: &str)
    -> Result<Option<Collection>, StoreError>;
    /// Collections, of one category or all, ordered by id.
    fn collections(&self, category: Option<&str>) -> Result<Vec<Collection>, StoreError>;
    /// Adds an item in one transaction. An active item of the same name
    /// makes it fail, unless `new.replace`: then that item is marked
    /// removed and the new one added, atomically.
    fn add_item(
        &self,
        collection: CollectionId,
        new: NewItem,
    ) -> Result<CollectionItem, StoreError>;
    /// Marks the active item `name` removed; returns it as removed.
    fn remove_item(
        &self,
        collection: CollectionId,
        name: &str,
        removed_by: Option<&str>,
    ) -> Result<CollectionItem, StoreError>;
    /// Removes the active items `remove`, then adds `add`, in one
    /// transaction: afterwards all of it happened, or (on error) none.
    fn update_items(
        &self,
        collection: CollectionId,
        add: &[NewItem],
        remove: &[String],
        removed_by: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Items of a collection matching `filter`, ordered by id.
    fn items(
        &self,
        collection: CollectionId,
        filter: &ItemFilter,
    ) -> Result<Vec<CollectionItem>, StoreError>;

    /// Records a finished run (a run id is recorded once).
    fn record_run(&self, run: &RunRecord) -> Result<(), StoreError>;
    /// Finished runs of `task` with parameters `params`, oldest first.
    fn find_runs(&self, task: &str, params: &str) -> Result<Vec<RunRecord>, StoreError>;
    /// The finished run `id`, if recorded.
    fn run_record(&self, id: &str) -> Result<Option<RunRecord>, StoreError>;
}

/// Checks that `category` has the form `ns:name`, each part made of ASCII
/// letters, digits, `-`, `_` or `.`.
pub fn validate_category(category: &str) -> Result<(), StoreError> {
    let invalid = |why: &str| {
        Err(StoreError::Invalid(format!(
            "invalid artifact category {category:?}: {why} (expected `namespace:name`, e.g. `debian:package-build-log`)"
        )))
    };
    if category.is_empty() {
        return invalid("it is empty");
    }
    let Some((ns, name)) = category.split_once(':') else {
        return invalid("it has no namespace");
    };
    if ns.is_empty() || name.is_empty() {
        return invalid("namespace and name must both be non-empty");
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !ns.chars().all(ok) || !name.chars().all(ok) {
        return invalid(
            "only ASCII letters, digits, `-`, `_` and `.` may appear around the single `:`",
        );
    }
    Ok(())
}

/// Checks one artifact file name: relative, `/`-separated, non-empty
/// components other than `.` and `..`, no NUL or other control characters.
pub fn validate_file_name(name: &str) -> Result<(), StoreError> {
    let invalid = |why: &str| {
        Err(StoreError::Invalid(format!(
            "invalid artifact file name {name:?}: {why}"
        )))
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.contains('\0') {
        return invalid("it contains a NUL character");
    }
    if name.chars().any(char::is_control) {
        return invalid("it contains a control character");
    }
    if name.starts_with('/') {
        return invalid("it must be relative, not start with `/`");
    }
    if name.len() > MAX_FILE_NAME_LEN {
        return invalid(&format!("it is longer than {MAX_FILE_NAME_LEN} bytes"));
    }
    for component in name.split('/') {
        match component {
            "" => return invalid("it has an empty path component (`//` or a trailing `/`)"),
            "." => return invalid("it must not contain `.` components"),
            ".." => return invalid("it must not contain `..` components"),
            c if c.len() > MAX_FILE_NAME_COMPONENT_LEN => {
                return invalid(&format!(
                    "a component is longer than {MAX_FILE_NAME_COMPONENT_LEN} bytes"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a whole set of file names: each valid, no duplicates, and no name
/// that is also used as a directory of another (`a` and `a/b`).
pub fn validate_file_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), StoreError> {
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        validate_file_name(name)?;
        if !seen.insert(name) {
            return Err(StoreError::Invalid(format!(
                "artifact file name {name:?} is given twice"
            )));
        }
    }
    for name in &seen {
        // No parent directory of a name may itself be a name.
        let mut prefix = *name;
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if seen.contains(parent) {
                return Err(StoreError::Invalid(format!(
                    "artifact file names {parent:?} and {name:?} conflict: {parent:?} cannot be both a file and a directory"
                )));
            }
            prefix = parent;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_message(r: Result<(), StoreError>) -> String {
        match r {
            Err(StoreError::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn run_params_ignore_key_order_and_see_every_value() {
        let a = serde_json::json!({"input": {"x": 1, "y": [1, 2]}, "force": false});
        let b = serde_json::json!({"force": false, "input": {"y": [1, 2], "x": 1}});
        assert_eq!(run_params("lintian", &a), run_params("lintian", &b));
        let c = serde_json::json!({"force": false, "input": {"y": [2, 1], "x": 1}});
        assert_ne!(run_params("lintian", &a), run_params("lintian", &c));
        assert_ne!(run_params("lintian", &a), run_params("blhc", &a));
        assert_eq!(run_params("t", &a).len(), 64);
    }

    #[test]
    fn relations_round_trip_through_display_and_from_str() {
        for r in Relation::ALL {
            assert_eq!(r.to_string().parse::<Relation>().unwrap(), r);
        }
        assert_eq!(Relation::BuiltUsing.to_string(), "built-using");
        assert_eq!(Relation::RelatesTo.to_string(), "relates-to");
        assert_eq!(Relation::Extends.to_string(), "extends");
    }

    #[test]
    fn relation_from_str_refuses_unknown_names() {
        let err = "built_using".parse::<Relation>().unwrap_err();
        assert!(err.to_string().contains("built-using"), "{err}");
        assert!(matches!(
            "".parse::<Relation>(),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn relations_serialize_as_kebab_case_like_display() {
        for r in Relation::ALL {
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.as_str())
            );
        }
        let back: Relation = serde_json::from_str("\"relates-to\"").unwrap();
        assert_eq!(back, Relation::RelatesTo);
    }

    #[test]
    fn accepts_namespaced_categories() {
        for c in [
            "debian:package-build-log",
            "debusine:work-request-debug-logs",
            "fedora:rpm_1.0",
        ] {
            validate_category(c).unwrap();
        }
    }

    #[test]
    fn refuses_malformed_categories() {
        for c in [
            "",
            "nonamespace",
            ":name",
            "ns:",
            "a:b:c",
            "ns:na me",
            "ns/x:y",
            "ns:ünï",
        ] {
            let m = invalid_message(validate_category(c));
            assert!(m.contains("namespace:name"), "{c:?}: {m}");
        }
    }

    #[test]
    fn accepts_nested_relative_file_names() {
        for n in [
            "log.txt",
            "a/b/c.deb",
            ".hidden",
            "a/..b",
            "x..",
            "back\\slash",
        ] {
            validate_file_name(n).unwrap();
        }
    }

    #[test]
    fn refuses_empty_file_names() {
        assert!(invalid_message(validate_file_name("")).contains("empty"));
    }

    #[test]
    fn refuses_absolute_file_names() {
        assert!(invalid_message(validate_file_name("/etc/passwd")).contains("relative"));
    }

    #[test]
    fn refuses_dotdot_file_names() {
        for n in ["..", "../x", "a/../../x", "a/.."] {
            assert!(
                invalid_message(validate_file_name(n)).contains("`..`"),
                "{n}"
            );
        }
    }

    #[test]
    fn refuses_dot_file_names() {
        for n in [".", "./x", "a/./b"] {
            assert!(
                invalid_message(validate_file_name(n)).contains("`.`"),
                "{n}"
            );
        }
    }

    #[test]
    fn refuses_nul_in_file_names() {
        assert!(invalid_message(validate_file_name("a\0b")).contains("NUL"));
    }

    #[test]
    fn refuses_control_characters_in_file_names() {
        assert!(invalid_message(validate_file_name("a\nb")).contains("control"));
    }

    #[test]
    fn refuses_empty_components_in_file_names() {
        for n in ["a//b", "a/"] {
            assert!(
                invalid_message(validate_file_name(n)).contains("empty path component"),
                "{n}"
            );
        }
    }

    #[test]
    fn refuses_overlong_file_names() {
        let long_component = "x".repeat(MAX_FILE_NAME_COMPONENT_LEN + 1);
        assert!(invalid_message(validate_file_name(&long_component)).contains("longer"));
        let long_name = vec!["y"; MAX_FILE_NAME_LEN / 2 + 1].join("/");
        assert!(invalid_message(validate_file_name(&long_name)).contains("longer"));
    }

    #[test]
    fn refuses_duplicate_file_names_in_a_set() {
        let m = invalid_message(validate_file_names(["a", "b", "a"]));
        assert!(m.contains("twice"), "{m}");
    }

    #[test]
    fn refuses_a_file_name_that_is_also_a_directory() {
        let m = invalid_message(validate_file_names(["a/b/c", "a", "z"]));
        assert!(m.contains("both a file and a directory"), "{m}");
        validate_file_names(["a/b", "a.b", "ab/c"]).unwrap();
    }

    #[test]
    fn error_messages_tell_the_user_what_went_wrong() {
        assert_eq!(
            StoreError::NotFound(42).to_string(),
            "artifact 42 does not exist (see `runtask artifact list`)"
        );
        let e = StoreError::NoSuchFile {
            id: 7,
            name: "log".into(),
        };
        assert!(
            e.to_string()
                .starts_with("artifact 7 has no file named \"log\""),
            "{e}"
        );
        let e = StoreError::io("cannot read x", std::io::Error::other("boom"));
        assert_eq!(e.to_string(), "cannot read x: boom");
    }

    #[test]
    fn new_artifact_builder_collects_files_and_relations() {
        let n = NewArtifact::new("a:b", serde_json::json!({}))
            .with_file("f", "/tmp/f")
            .with_relation(Relation::Extends, 3);
        assert_eq!(n.files.len(), 1);
        assert_eq!(
            n.relations,
            vec![RelationEntry {
                relation: Relation::Extends,
                target: 3
            }]
        );
    }
}
