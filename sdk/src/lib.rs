//! Write [taskhost] task plugins in Rust.
//!
//! taskhost runs the QA and build tasks of Linux distributions as
//! sandboxed WebAssembly plugins. A **plugin** is a Rust crate of type
//! `cdylib` built for `wasm32-wasip2` against this SDK: one `.wasm` file
//! that `runtask` loads and runs. A plugin has no ambient authority: WASI
//! sees only the task's workspace directory (as `.`), no environment
//! variables and no network. Every real effect (running a program, reading
//! or creating an artifact, a download, a check result) is a call to the
//! host, which checks it against what the plugin's manifest **declares**
//! and the operator's policy **grants**. A denied call returns
//! [`Error::AccessDenied`] naming the grant; it never traps.
//!
//! # A task plugin
//!
//! A task is debusine-style: task_data (JSON) in, artifacts and check
//! results out, and a [`Status`]. The plugin models its task_data with
//! serde, implements [`Task`], and exports it with [`export_task!`], which
//! also embeds the manifest:
//!
//! ```
//! use serde::Deserialize;
//! use taskhost_sdk::{ArtifactRef, Command, Environment, Result, Status, Task};
//!
//! #[derive(Deserialize)]
//! struct Data { input: Input }
//! #[derive(Deserialize)]
//! struct Input { artifact: ArtifactRef }
//!
//! struct Hello;
//! impl Task for Hello {
//!     type Data = Data;
//!     const NAME: &'static str = "hello";
//!     const SUMMARY: &'static str = "Says hello to its input";
//!     fn execute(data: Data) -> Result<Status> {
//!         let input = taskhost_sdk::artifacts::get(data.input.artifact.id()?)?;
//!         let env = Environment::open("auto")?;
//!         let exit = env.run(&Command::new("echo").arg(format!("hello {}", input.category)))?;
//!         Ok(if exit.success() { Status::Success } else { Status::Failure })
//!     }
//! }
//! taskhost_sdk::export_task!(Hello, manifest = "doc-manifests/hello.toml");
//! # use taskhost_sdk::testing::{FakeHost, Input as FakeInput, Reply};
//! # let run = FakeHost::new()
//! #     .task_data(serde_json::json!({"input": {"artifact": 7}}))
//! #     .input(FakeInput::new(7, "demo:greeting"))
//! #     .reply("echo *", Reply::exit(0))
//! #     .execute::<Hello>();
//! # assert_eq!(run.status, Ok(Status::Success));
//! # assert_eq!(run.commands, [["echo", "hello demo:greeting"]]);
//! ```
//!
//! with its manifest, `taskhost.toml` beside `Cargo.toml`:
//!
//! ```toml
//! name = "hello"
//! version = "0.1.0"
//! summary = "Says hello to its input"
//! kind = "task"
//! backends = ["local"]
//! exec = ["echo *"]
//!
//! [[inputs]]                  # the host resolves this key to an artifact id
//! key = "input.artifact"
//! categories = ["demo:greeting"]
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`. Every
//! manifest key, with what the host checks and when, is in the
//! [manifest reference]; the [tutorial] walks through a complete plugin.
//!
//! task_data is decoded strictly ([`decode_task_data`]): an unknown key, a
//! missing key or a wrong type is an [`Error::Invalid`] that names the key,
//! whatever serde attributes the model uses. A task may return
//! `Ok(Status::Failure)` for an expected failure (a check found problems);
//! an `Err` means it could not do its work, and the run ends with status
//! `error`.
//!
//! A **directive** (a step of a Taskotron task formula, `kind =
//! "directive"`) implements [`directive::Directive`] and is exported with
//! [`export_directive!`] instead.
//!
//! # Modules
//!
//! - The crate root: [`Task`], [`export_task!`], [`Error`] and [`Result`],
//!   strict task_data decoding ([`decode_task_data`], [`ArtifactRef`]),
//!   and running programs ([`Environment`], [`Command`], [`ExitStatus`]).
//! - [`artifacts`]: the run's inputs, their files, lookups, and new
//!   artifacts with their relations.
//! - [`results`]: check results ([`results::CheckResult`],
//!   [`results::Tally`]) in the shape of Taskotron's ResultYAML.
//! - [`severity`]: finding severities and debusine's `fail_on_severity`.
//! - [`log`]: log lines and progress.
//! - [`http`]: downloads and API requests, checked against the URL grants.
//! - [`directive`]: directive plugins for Taskotron task formulas.
//! - [`resultyaml`]: reading and writing ResultYAML (the
//!   `taskhost-resultyaml` crate, shared with the host).
//! - [`testing`][testing-mod] (cargo feature `testing`): a fake host for
//!   native unit tests.
//!
//! # Testing a plugin
//!
//! Two levels, both used by the plugins shipped with taskhost:
//!
//! - **Unit tests with a fake host**: [`taskhost_sdk::testing`][testing-mod]
//!   (add `taskhost-sdk = { version = "0.2", features = ["testing"] }` to
//!   `[dev-dependencies]`). `FakeHost` runs `execute` natively with the
//!   task_data, input artifacts and a reply per command line you give it,
//!   can deny a capability to test an error path, and returns what the
//!   run did: commands, artifacts, relations, results, log.
//! - **Integration tests in the real host**: `taskhost::testing`, in the
//!   host crate `taskhost` (the repository's `host/`), builds the plugin
//!   to `.wasm` and runs it in the real host with a temporary artifact
//!   store and the policy a test gives, against the real tools:
//!   `Harness::new(&build_plugin(env!("CARGO_MANIFEST_DIR"))?)?.policy(POLICY)?.run(task_data)`
//!   returns the run's report (see `plugins/blhc/tests/integration.rs`).
//!
//! ```
//! use taskhost_sdk::testing::{FakeHost, Reply};
//! use taskhost_sdk::{Error, Status};
//! # use taskhost_sdk::{Command, Environment, Result, Task};
//! # #[derive(serde::Deserialize)]
//! # struct Data { file: String }
//! # struct Check;
//! # impl Task for Check {
//! #     type Data = Data;
//! #     const NAME: &'static str = "check";
//! #     const SUMMARY: &'static str = "Runs a checker";
//! #     fn execute(data: Data) -> Result<Status> {
//! #         let exit = Environment::open("auto")?.run(&Command::new("checker").arg(&data.file))?;
//! #         Ok(if exit.success() { Status::Success } else { Status::Failure })
//! #     }
//! # }
//!
//! // In the plugin's tests/fake_host.rs, for a task `Check` that runs `checker FILE`:
//! let run = FakeHost::new()
//!     .task_data(serde_json::json!({"file": "a.txt"}))
//!     .reply("checker *", Reply::exit(1).stdout("1 error"))
//!     .execute::<Check>();
//! assert_eq!(run.status, Ok(Status::Failure));
//! assert_eq!(run.commands, [["checker", "a.txt"]]);
//!
//! let run = FakeHost::new()
//!     .task_data(serde_json::json!({"file": "a.txt"}))
//!     .deny_exec("checker **")
//!     .execute::<Check>();
//! assert!(matches!(run.status, Err(Error::AccessDenied(_))));
//! ```
//!
//! # API versions
//!
//! The host and its plugins speak a versioned contract, the WIT package
//! `taskhost:plugin` (`wit/plugin.wit` in the repository, shipped in this
//! crate). This SDK speaks taskhost API 0.2.1 ([`API_VERSION`]) and stamps
//! it into every plugin it builds; 0.2.0 added [`artifacts::inputs`], 0.2.1
//! [`collections`] and [`runs`]. runtask loads plugins built for 0.1.0 and 0.2.x, and
//! refuses one built for a version it does not speak with a message naming
//! both.
//!
//! [taskhost]: https://github.com/taskhost/taskhost
//! [manifest reference]: https://github.com/taskhost/taskhost/blob/main/docs/manifest.md
//! [tutorial]: https://github.com/taskhost/taskhost#writing-a-plugin
#![cfg_attr(
    all(feature = "testing", not(target_arch = "wasm32")),
    doc = "[testing-mod]: crate::testing"
)]
#![cfg_attr(
    not(all(feature = "testing", not(target_arch = "wasm32"))),
    doc = "[testing-mod]: https://docs.rs/taskhost-sdk/latest/taskhost_sdk/testing/"
)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate self as taskhost_sdk;

#[doc(hidden)]
pub mod bindings;
mod command;
mod data;
#[doc(hidden)]
pub mod directive_bindings;
mod host;

pub mod artifacts;
pub mod collections;
pub mod directive;
pub mod http;
pub mod log;
pub mod results;
pub mod resultyaml;
pub mod runs;
pub mod severity;
#[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
pub mod testing;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

#[doc(hidden)]
pub use taskhost_sdk_macros::check_manifest as __check_manifest;

/// What a task reports when it ends, as [`Task::execute`]'s `Ok` value.
///
/// - `Success`: the task did its work; runtask exits 0, or 100 when a
///   result's outcome is not PASSED or INFO.
/// - `Failure`: the task did its work and found problems (a failed
///   check); runtask exits 100.
/// - `Error`: the task could not do its work (an `Err` from
///   [`Task::execute`] ends the run the same way); runtask exits 1.
/// - `Skipped`: there was nothing to do; runtask exits 0.
///
/// ```
/// use taskhost_sdk::Status;
/// let found_problems = true;
/// let status = if found_problems { Status::Failure } else { Status::Success };
/// assert_eq!(status, Status::Failure);
/// ```
pub use bindings::exports::taskhost::plugin::task::Status;

/// An artifact's id in the host's artifact store (a `u64`).
///
/// ```
/// let id: taskhost_sdk::ArtifactId = 7;
/// assert_eq!(taskhost_sdk::ArtifactRef::Id(id).id(), Ok(7));
/// ```
pub use bindings::taskhost::plugin::types::ArtifactId;

/// The error of every host call and of plugin code (the `Err` of
/// [`Result`]).
///
/// A host call returns `AccessDenied` when the plugin's manifest did not
/// declare the capability or the operator's policy did not grant it (the
/// message names the grant), `Invalid` for a malformed argument (a path
/// outside the workspace, an unknown backend), `NotFound`, `Failed` when
/// the host tried and failed, and `TimedOut`. A task that returns any
/// `Err` ends the run with status `error`; build your own with
/// [`Error::failed`] and [`Error::invalid`]. An [`std::io::Error`]
/// converts to `Failed`, so `?` works on file operations in the workspace.
///
/// ```
/// use taskhost_sdk::{Command, Environment, Error};
/// # use taskhost_sdk::testing::FakeHost;
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let env = Environment::open("auto")?;
/// match env.run(&Command::new("cleanup").arg("out")) {
///     Ok(_) => {}
///     // Not granted by this operator: carry on without it.
///     Err(Error::AccessDenied(why)) => taskhost_sdk::log::warn(format!("no cleanup: {why}")),
///     Err(e) => return Err(e),
/// }
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().deny_exec("cleanup **").execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert!(run.log[0].1.starts_with("no cleanup: plugin may not run `cleanup out`"), "{:?}", run.log);
/// ```
pub use bindings::taskhost::plugin::types::Error;
pub use command::{Command, Environment, ExitStatus, Running};
pub use data::{ArtifactRef, decode_task_data};
pub use results::Outcome;

/// The taskhost API version this SDK speaks, stamped into every plugin it
/// builds (custom section `taskhost:api`). The host refuses a plugin built
/// for a version it does not speak.
///
/// ```
/// assert_eq!(taskhost_sdk::API_VERSION, "0.2.1");
/// ```
pub const API_VERSION: &str = "0.2.1";

/// Result type of plugin code and host calls, with [`Error`] by default.
///
/// ```
/// fn count(text: &str) -> taskhost_sdk::Result<usize> {
///     text.trim().parse().map_err(|e| taskhost_sdk::Error::invalid(format!("count: {e}")))
/// }
/// assert_eq!(count("3\n"), Ok(3));
/// assert!(count("three").is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Failed`]: the host or a tool failed, the task could not
    /// do its work.
    ///
    /// ```
    /// let e = taskhost_sdk::Error::failed("lintian crashed");
    /// assert_eq!(e, taskhost_sdk::Error::Failed("lintian crashed".into()));
    /// ```
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    /// An [`Error::Invalid`]: an input (task_data, a param, a file) is
    /// malformed. Name what is wrong and where.
    ///
    /// ```
    /// let e = taskhost_sdk::Error::invalid("task_data: timeout: must be positive");
    /// assert!(matches!(e, taskhost_sdk::Error::Invalid(_)));
    /// ```
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// The error's message as a plugin quotes it in a result's note
    /// (`Display` shows the variant too).
    ///
    /// ```
    /// let e = taskhost_sdk::Error::AccessDenied("plugin 'x' may not run `rm`".into());
    /// assert_eq!(e.message(), "access denied: plugin 'x' may not run `rm`");
    /// assert_eq!(taskhost_sdk::Error::TimedOut.message(), "timed out");
    /// ```
    pub fn message(&self) -> String {
        match self {
            Error::AccessDenied(m) => format!("access denied: {m}"),
            Error::Invalid(m) | Error::NotFound(m) | Error::Failed(m) => m.clone(),
            Error::TimedOut => "timed out".into(),
        }
    }
}

/// An I/O error (reading or writing a workspace file) is an
/// [`Error::Failed`] saying so.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Failed(format!("I/O error: {e}"))
    }
}

/// A task: debusine-style, driven by task_data. Export it with
/// [`export_task!`].
///
/// The host calls [`Task::validate`] (after decoding task_data into
/// [`Task::Data`]) before it fetches any input, then [`Task::execute`]
/// with the task_data again, its input keys resolved to artifact ids.
///
/// ```
/// use serde::Deserialize;
/// use taskhost_sdk::{Error, Result, Status, Task};
///
/// #[derive(Deserialize)]
/// struct Data { jobs: u32 }
///
/// struct Build;
/// impl Task for Build {
///     type Data = Data;
///     const NAME: &'static str = "build";
///     const SUMMARY: &'static str = "Builds a package";
///     const TASK_DATA_DOC: &'static str = "- `jobs`: parallel jobs, 1 to 64";
///     fn validate(data: &Data) -> Result<()> {
///         match data.jobs {
///             1..=64 => Ok(()),
///             n => Err(Error::invalid(format!("task_data: jobs: {n} is not 1 to 64"))),
///         }
///     }
///     fn execute(data: Data) -> Result<Status> {
///         taskhost_sdk::log::info(format!("building with {} jobs", data.jobs));
///         Ok(Status::Success)
///     }
/// }
/// # use taskhost_sdk::testing::FakeHost;
/// # let run = FakeHost::new().task_data(serde_json::json!({"jobs": 4})).execute::<Build>();
/// # assert_eq!(run.status, Ok(Status::Success));
/// # let run = FakeHost::new().task_data(serde_json::json!({"jobs": 0})).execute::<Build>();
/// # assert!(matches!(run.status, Err(Error::Invalid(_))));
/// ```
pub trait Task {
    /// The task_data model. Decoded strictly from the JSON the host sends
    /// (see [`decode_task_data`]).
    type Data: serde::de::DeserializeOwned;

    /// The task's name, as operators and users call it.
    const NAME: &'static str;
    /// One line saying what the task does.
    const SUMMARY: &'static str;
    /// Markdown describing the task_data keys (`runtask plugin inspect`
    /// shows it).
    const TASK_DATA_DOC: &'static str = "";

    /// Extra checks beyond the shape of the data (value ranges, key
    /// combinations). Runs before any input is fetched; return an
    /// [`Error::invalid`] naming the key. Default: no extra checks.
    ///
    /// ```
    /// use taskhost_sdk::{Error, Result, Status, Task};
    /// # #[derive(serde::Deserialize)]
    /// # struct Data { suite: Option<String>, codename: Option<String> }
    /// # struct T;
    /// # impl Task for T {
    /// #     type Data = Data;
    /// #     const NAME: &'static str = "t";
    /// #     const SUMMARY: &'static str = "t";
    /// #     fn execute(_: Data) -> Result<Status> { Ok(Status::Success) }
    /// fn validate(data: &Data) -> Result<()> {
    ///     if data.suite.is_some() && data.codename.is_some() {
    ///         return Err(Error::invalid("task_data: give `suite` or `codename`, not both"));
    ///     }
    ///     Ok(())
    /// }
    /// # }
    /// # let run = taskhost_sdk::testing::FakeHost::new()
    /// #     .task_data(serde_json::json!({"suite": "stable", "codename": "trixie"}))
    /// #     .execute::<T>();
    /// # assert!(matches!(run.status, Err(Error::Invalid(m)) if m.contains("not both")));
    /// ```
    fn validate(_data: &Self::Data) -> Result<()> {
        Ok(())
    }

    /// Runs the task. Expected failures (a check found problems) are
    /// `Ok(Status::Failure)`; an `Err` means the task could not do its
    /// work, and the run's status is `error`.
    ///
    /// ```
    /// use taskhost_sdk::{Command, Environment, Result, Status};
    /// # struct T;
    /// # impl taskhost_sdk::Task for T {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "t";
    /// #     const SUMMARY: &'static str = "t";
    /// fn execute(_data: serde_json::Value) -> Result<Status> {
    ///     let exit = Environment::open("auto")?.run(&Command::new("make").arg("check"))?;
    ///     Ok(if exit.success() { Status::Success } else { Status::Failure })
    /// }
    /// # }
    /// # use taskhost_sdk::testing::{FakeHost, Reply};
    /// # let run = FakeHost::new().reply("make check", Reply::exit(2)).execute::<T>();
    /// # assert_eq!(run.status, Ok(Status::Failure));
    /// ```
    fn execute(data: Self::Data) -> Result<Status>;
}

#[doc(hidden)]
pub mod __private {
    use super::*;
    use bindings::exports::taskhost::plugin::task::TaskInfo;

    pub fn describe<T: Task>() -> TaskInfo {
        TaskInfo {
            name: T::NAME.to_string(),
            summary: T::SUMMARY.to_string(),
            task_data_doc: T::TASK_DATA_DOC.to_string(),
        }
    }

    pub fn validate<T: Task>(task_data: &str) -> Result<()> {
        let data: T::Data = decode_task_data(task_data)?;
        T::validate(&data)
    }

    pub fn execute<T: Task>(task_data: &str) -> Result<Status> {
        let data: T::Data = decode_task_data(task_data)?;
        T::validate(&data)?;
        T::execute(data)
    }

    /// The API version as a fixed-size array, for the custom section.
    pub const fn api_bytes<const N: usize>(version: &str) -> [u8; N] {
        let bytes = version.as_bytes();
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }
}

/// Embeds the manifest (a path relative to the plugin crate's root) and
/// the API version as the custom sections the host reads.
#[doc(hidden)]
#[macro_export]
macro_rules! __embed_manifest {
    ($manifest:literal, $api:expr) => {
        #[used]
        #[unsafe(link_section = "taskhost:manifest")]
        static MANIFEST: [u8; include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $manifest))
            .len()] = *include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $manifest));

        #[used]
        #[unsafe(link_section = "taskhost:api")]
        static API: [u8; $api.len()] = $crate::__private::api_bytes($api);
    };
}

/// Exports a [`Task`] and embeds the plugin's manifest.
///
/// `manifest` is a path relative to the plugin crate's root (usually
/// `taskhost.toml` beside `Cargo.toml`); it is embedded as the custom
/// section `taskhost:manifest`, which the host reads and checks before it
/// runs any plugin code. The SDK also stamps its [`API_VERSION`] into the
/// plugin (`taskhost:api`) so the host can refuse a plugin built for
/// another contract. Use it once per plugin crate, at the top level.
///
/// The manifest is checked when the crate is built, natively too: a
/// mistake (an unknown key, a wrong type, a bad name, a malformed exec
/// pattern) is a compile error that names its line, e.g.
/// `taskhost.toml:7:1: unknown field `exex``. The export itself expands
/// only when building for `wasm32`; the plugin's native unit tests drive
/// the task through the fake host instead.
///
/// (The example below names the SDK's own example manifest; a plugin
/// writes `manifest = "taskhost.toml"`.)
///
/// ```
/// use taskhost_sdk::{Result, Status, Task};
///
/// struct Noop;
/// impl Task for Noop {
///     type Data = serde_json::Value;
///     const NAME: &'static str = "noop";
///     const SUMMARY: &'static str = "Does nothing";
///     fn execute(_: serde_json::Value) -> Result<Status> {
///         Ok(Status::Skipped)
///     }
/// }
///
/// taskhost_sdk::export_task!(Noop, manifest = "doc-manifests/hello.toml");
/// ```
#[macro_export]
macro_rules! export_task {
    ($task:ty, manifest = $manifest:literal) => {
        $crate::export_task!($task, manifest = $manifest, api_version = $crate::API_VERSION);
    };
    ($task:ty, manifest = $manifest:literal, api_version = $api:expr) => {
        // A mistake in the manifest is a compile error naming its line.
        $crate::__check_manifest!($manifest);
        // Only a wasm build exports anything; native builds of a plugin
        // crate exist for its unit tests.
        #[cfg(target_arch = "wasm32")]
        mod __taskhost_export {
            use super::*;

            $crate::__embed_manifest!($manifest, $api);

            struct Export;

            impl $crate::bindings::exports::taskhost::plugin::task::Guest for Export {
                fn describe() -> $crate::bindings::exports::taskhost::plugin::task::TaskInfo {
                    $crate::__private::describe::<$task>()
                }
                fn validate(task_data: String) -> Result<(), $crate::Error> {
                    $crate::__private::validate::<$task>(&task_data)
                }
                fn execute(task_data: String) -> Result<$crate::Status, $crate::Error> {
                    $crate::__private::execute::<$task>(&task_data)
                }
            }

            $crate::bindings::__export_task_plugin!(Export with_types_in $crate::bindings);
        }
    };
}
