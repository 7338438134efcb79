//! The run's view of the artifact store: its inputs and what it creates.
//!
//! A run sees only its input artifacts (the task_data keys the manifest
//! declares under `[[inputs]]`, resolved by the host), the artifacts its
//! [`lookup`]s found, and the artifacts it created; any other id is
//! [`Error::AccessDenied`]. It may create
//! artifacts only of the categories the manifest declares (`creates`).
//!
//! ```
//! use taskhost_sdk::artifacts::{self, NewArtifact};
//! # use taskhost_sdk::testing::{FakeHost, Input};
//! # struct Demo;
//! # impl taskhost_sdk::Task for Demo {
//! #     type Data = serde_json::Value;
//! #     const NAME: &'static str = "demo";
//! #     const SUMMARY: &'static str = "demo";
//! #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
//! for input in artifacts::inputs()? {
//!     let files = artifacts::fetch(input.artifact.id, "in")?;
//!     std::fs::write("summary.txt", format!("{} files\n", files.len()))?;
//!     NewArtifact::new("demo:summary")
//!         .file("summary.txt", "summary.txt")
//!         .relates_to(input.artifact.id)
//!         .create()?;
//! }
//! #         Ok(taskhost_sdk::Status::Success)
//! #     }
//! # }
//! # let run = FakeHost::new()
//! #     .input(Input::new(7, "debian:package-build-log").file("hello.build", "log"))
//! #     .execute::<Demo>();
//! # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
//! # assert_eq!(run.artifacts[0].files[0].1, b"1 files\n");
//! # assert_eq!(run.relations[0].target, 7);
//! ```

use crate::host::artifacts as raw;
use crate::{ArtifactId, Error, Result};
use serde::Serialize;

/// One file of an artifact: its name inside the artifact (may contain
/// `/`), its size in bytes and the hex SHA-256 of its content.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let log = taskhost_sdk::artifacts::get(7)?;
/// for file in &log.files {
///     taskhost_sdk::log::info(format!("{}: {} bytes, sha256 {}", file.name, file.size, file.sha256));
/// }
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().input(Input::new(7, "debian:package-build-log").file("hello.build", "log")).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log.len(), 1);
/// ```
pub use raw::FileInfo;

/// How a created artifact relates to another (debusine's relation
/// types): `RelatesTo` (a report about its target), `Extends` (adds to
/// its target), `BuiltUsing` (built with its target, such as an
/// environment).
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// use taskhost_sdk::artifacts::{NewArtifact, RelationType};
/// std::fs::write("hello.deb", "...")?;
/// NewArtifact::new("debian:binary-package")
///     .file("hello.deb", "hello.deb")
///     .related(12, RelationType::BuiltUsing)
///     .create()?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().input(Input::new(12, "debian:system-tarball")).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.relations[0].relation, taskhost_sdk::artifacts::RelationType::BuiltUsing);
/// ```
pub use raw::RelationType;

/// An artifact's metadata with its data decoded: what [`get`] and
/// [`inputs`] return.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let log = taskhost_sdk::artifacts::get(7)?;
/// assert_eq!(log.category, "debian:package-build-log");
/// assert_eq!(log.data["source"], "hello");
/// assert_eq!(log.files[0].name, "hello.build");
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().input(Input::new(7, "debian:package-build-log").data(serde_json::json!({"source": "hello"})).file("hello.build", "log")).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// ```
#[derive(Clone, Debug)]
pub struct Artifact {
    /// The artifact's id in the store.
    pub id: ArtifactId,
    /// Its category, e.g. `debian:package-build-log`.
    pub category: String,
    /// Its data, a JSON object whose keys depend on the category.
    pub data: serde_json::Value,
    /// Its files; [`fetch`] copies them into the workspace.
    pub files: Vec<FileInfo>,
}

/// Reads an artifact's metadata: an input of the run, one a [`lookup`]
/// found, or one this run created. Any other id is
/// [`Error::AccessDenied`]; malformed data is
/// [`Error::Failed`].
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let log = taskhost_sdk::artifacts::get(7)?;
/// taskhost_sdk::log::info(format!("{} has {} files", log.category, log.files.len()));
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().input(Input::new(7, "debian:package-build-log").file("hello.build", "log")).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log[0].1, "debian:package-build-log has 1 files");
/// ```
pub fn get(id: ArtifactId) -> Result<Artifact> {
    decode(raw::get(id)?)
}

fn decode(a: raw::Artifact) -> Result<Artifact> {
    let data = serde_json::from_str(&a.data)
        .map_err(|e| Error::failed(format!("artifact {} has malformed data: {e}", a.id)))?;
    Ok(Artifact {
        id: a.id,
        category: a.category,
        data,
        files: a.files,
    })
}

/// One input artifact of the run and the task_data key it came under:
/// what [`inputs`] returns.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let inputs = taskhost_sdk::artifacts::inputs()?;
/// assert_eq!(inputs[0].key, "input.artifact");
/// assert_eq!(inputs[0].artifact.category, "debian:package-build-log");
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().input(Input::new(7, "debian:package-build-log").key("input.artifact")).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// ```
#[derive(Clone, Debug)]
pub struct Input {
    /// The manifest's `[[inputs]]` key (`input.artifact`).
    pub key: String,
    /// The artifact given under that key.
    pub artifact: Artifact,
}

/// The run's input artifacts, resolved by the host from the task_data
/// keys the manifest declares under `[[inputs]]`, in declaration order (a
/// `multiple` key gives one per list item). Since API 0.2.0.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// for input in taskhost_sdk::artifacts::inputs()? {
///     let a = &input.artifact;
///     taskhost_sdk::log::info(format!("{}: artifact {} ({})", input.key, a.id, a.category));
/// }
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().input(Input::new(7, "debian:package-build-log").key("input.artifact")).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log[0].1, "input.artifact: artifact 7 (debian:package-build-log)");
/// ```
pub fn inputs() -> Result<Vec<Input>> {
    raw::inputs()?
        .into_iter()
        .map(|i| {
            Ok(Input {
                key: i.key,
                artifact: decode(i.artifact)?,
            })
        })
        .collect()
}

/// Copies an artifact's files into workspace directory `dir` (created if
/// missing) and returns their workspace paths. The artifact must be
/// visible to the run, as for [`get`].
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let paths = taskhost_sdk::artifacts::fetch(7, "in")?;
/// assert_eq!(paths, ["in/hello.build"]);
/// let log = std::fs::read_to_string(&paths[0])?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().input(Input::new(7, "debian:package-build-log").file("hello.build", "log")).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// ```
pub fn fetch(id: ArtifactId, dir: &str) -> Result<Vec<String>> {
    raw::fetch(id, dir)
}

/// Resolves a debusine-style lookup such as
/// `debian/match:codename=bookworm` to the newest matching artifact of
/// `category` (one of the categories the manifest's `[[inputs]]` declare).
/// The query must match a `lookups` pattern the manifest declares and the
/// policy grants; the artifact found becomes visible to the run. No match
/// is [`Error::NotFound`].
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let query = "debian/match:codename=bookworm:architecture=amd64";
/// let tarball = taskhost_sdk::artifacts::lookup(query, "debian:system-tarball")?;
/// let env = taskhost_sdk::Environment::open_with("unshare", tarball)?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().input(Input::new(12, "debian:system-tarball")).lookup("debian/match:codename=bookworm:architecture=amd64", 12).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// ```
pub fn lookup(query: &str, category: &str) -> Result<ArtifactId> {
    raw::lookup(query, category)
}

/// Records that `source` (created by this run) relates to `target`. A
/// `source` this run did not create is
/// [`Error::AccessDenied`].
/// [`NewArtifact::relates_to`] does this as part of creating.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// use taskhost_sdk::artifacts::{self, NewArtifact, RelationType};
/// std::fs::write("report.txt", "ok")?;
/// let report = NewArtifact::new("demo:report").file("report.txt", "report.txt").create()?;
/// artifacts::relate(report, 7, RelationType::RelatesTo)?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().input(Input::new(7, "debian:package-build-log")).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.relations[0].target, 7);
/// ```
pub fn relate(source: ArtifactId, target: ArtifactId, relation: RelationType) -> Result<()> {
    raw::relate(source, target, relation)
}

/// An artifact to create: category, typed data, workspace files and
/// relations. [`NewArtifact::create`] stores it.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// use taskhost_sdk::artifacts::NewArtifact;
/// std::fs::write("report.json", "{}")?;
/// let id = NewArtifact::new("demo:report")
///     .data(&serde_json::json!({"comments": 0}))?
///     .file("report.json", "report.json")
///     .relates_to(7)
///     .create()?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().input(Input::new(7, "debian:package-build-log")).execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.artifacts[0].data, serde_json::json!({"comments": 0}));
/// ```
#[derive(Debug)]
pub struct NewArtifact {
    category: String,
    data: serde_json::Value,
    files: Vec<raw::NewFile>,
    relations: Vec<(ArtifactId, RelationType)>,
}

impl NewArtifact {
    /// A new artifact of `category` with empty data (`{}`), no files and
    /// no relations. The category must be one the manifest declares
    /// (`creates`), or [`create`](NewArtifact::create) is
    /// [`Error::AccessDenied`].
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let id = taskhost_sdk::artifacts::NewArtifact::new("demo:marker").create()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.artifacts[0].category, "demo:marker");
    /// ```
    pub fn new(category: impl Into<String>) -> Self {
        NewArtifact {
            category: category.into(),
            data: serde_json::json!({}),
            files: Vec::new(),
            relations: Vec::new(),
        }
    }

    /// Sets the artifact's data from any serializable value, which must
    /// serialize to a JSON object (the host refuses anything else when
    /// creating). Fails only if `data` cannot be serialized.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// #[derive(serde::Serialize)]
    /// struct Summary { source: String, warnings: u32 }
    /// let summary = Summary { source: "hello".into(), warnings: 2 };
    /// taskhost_sdk::artifacts::NewArtifact::new("demo:summary").data(&summary)?.create()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.artifacts[0].data["warnings"], 2);
    /// ```
    pub fn data(mut self, data: &impl Serialize) -> Result<Self> {
        self.data =
            serde_json::to_value(data).map_err(|e| Error::failed(format!("artifact data: {e}")))?;
        Ok(self)
    }

    /// Adds workspace file `path` under `name` (may contain `/`). The file
    /// is read when the artifact is created.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// std::fs::write("lintian.txt", "E: hello: ...")?;
    /// taskhost_sdk::artifacts::NewArtifact::new("debian:lintian")
    ///     .file("lintian.txt", "lintian.txt")
    ///     .create()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.artifacts[0].files[0].0, "lintian.txt");
    /// ```
    pub fn file(mut self, name: impl Into<String>, path: impl Into<String>) -> Self {
        self.files.push(raw::NewFile {
            name: name.into(),
            path: path.into(),
        });
        self
    }

    /// Once created, the artifact relates to `target` (an input, usually:
    /// the report relates to what it reports on): a
    /// [`RelationType::RelatesTo`] relation.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// let report = taskhost_sdk::artifacts::NewArtifact::new("demo:report").relates_to(7).create()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().input(Input::new(7, "debian:source-package")).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.relations[0].source, run.artifacts[0].id);
    /// ```
    pub fn relates_to(self, target: ArtifactId) -> Self {
        self.related(target, RelationType::RelatesTo)
    }

    /// Once created, the artifact has `relation` to `target`.
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::artifacts::{NewArtifact, RelationType};
    /// NewArtifact::new("debian:upload").related(12, RelationType::Extends).create()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().input(Input::new(12, "debian:binary-package")).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.relations[0].relation, taskhost_sdk::artifacts::RelationType::Extends);
    /// ```
    pub fn related(mut self, target: ArtifactId, relation: RelationType) -> Self {
        self.relations.push((target, relation));
        self
    }

    /// Stores the artifact (whole or not at all), records its relations,
    /// and returns its id. A category the manifest does not declare is
    /// [`Error::AccessDenied`]; a missing file
    /// is [`Error::NotFound`].
    ///
    /// ```
    /// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// use taskhost_sdk::artifacts::NewArtifact;
    /// let input = 7;
    /// # std::fs::create_dir_all("out")?;
    /// # std::fs::write("out/report.json", "{}")?;
    /// let report = NewArtifact::new("demo:report")
    ///     .data(&serde_json::json!({"comments": 3}))?
    ///     .file("report.json", "out/report.json")
    ///     .relates_to(input)
    ///     .create()?;
    /// taskhost_sdk::log::info(format!("stored report {report}"));
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    /// # let run = FakeHost::new().input(Input::new(7, "demo:script")).execute::<Demo>();
    /// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// # assert_eq!(run.relations[0].source, run.artifacts[0].id);
    /// ```
    pub fn create(self) -> Result<ArtifactId> {
        let id = raw::create(&raw::NewArtifact {
            category: self.category,
            data: self.data.to_string(),
            files: self.files,
        })?;
        for (target, relation) in self.relations {
            raw::relate(id, target, relation)?;
        }
        Ok(id)
    }
}
