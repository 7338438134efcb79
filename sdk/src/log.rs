//! Log lines and progress, shown by the host and kept in the run's log.
//! Always allowed: no grant is needed.
//!
//! ```
//! use taskhost_sdk::log;
//! # use taskhost_sdk::testing::FakeHost;
//! # struct Demo;
//! # impl taskhost_sdk::Task for Demo {
//! #     type Data = serde_json::Value;
//! #     const NAME: &'static str = "demo";
//! #     const SUMMARY: &'static str = "demo";
//! #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
//! log::info("fetching the build log");
//! for done in 0..=3 {
//!     log::progress("checking files", done, Some(3));
//! }
//! log::warn("2 files skipped");
//! #         Ok(taskhost_sdk::Status::Success)
//! #     }
//! # }
//! # let run = FakeHost::new().execute::<Demo>();
//! # assert_eq!(run.log.len(), 2);
//! # assert_eq!(run.progress.len(), 4);
//! ```

use crate::host::log as raw;

/// How important a log line is: `Trace`, `Debug`, `Info`, `Warn` or
/// `Error`, least to most.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// use taskhost_sdk::log::{self, Level};
/// let verbose = true;
/// log::log(if verbose { Level::Info } else { Level::Debug }, "3 files to check");
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log, [(taskhost_sdk::log::Level::Info, "3 files to check".to_string())]);
/// ```
pub use raw::Level;

/// Logs `message` at `level`: one line of the run's log.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// use taskhost_sdk::log::{self, Level};
/// log::log(Level::Trace, "entering the scan loop");
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log[0].0, taskhost_sdk::log::Level::Trace);
/// ```
pub fn log(level: Level, message: impl AsRef<str>) {
    raw::log(level, message.as_ref());
}

/// Logs `message` at [`Level::Debug`].
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// taskhost_sdk::log::debug("argv: lintian --info hello.changes");
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log[0].0, taskhost_sdk::log::Level::Debug);
/// ```
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message);
}

/// Logs `message` at [`Level::Info`].
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// taskhost_sdk::log::info("running lintian");
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log[0].0, taskhost_sdk::log::Level::Info);
/// ```
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message);
}

/// Logs `message` at [`Level::Warn`].
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// taskhost_sdk::log::warn("lintian printed no summary");
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log[0].0, taskhost_sdk::log::Level::Warn);
/// ```
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message);
}

/// Logs `message` at [`Level::Error`].
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// taskhost_sdk::log::error("lintian crashed; see its stderr");
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.log[0].0, taskhost_sdk::log::Level::Error);
/// ```
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message);
}

/// Reports progress of a long step: `done` of `total` units (`None`:
/// total unknown). The host draws a progress bar on a terminal and logs
/// plain lines otherwise.
///
/// ```
/// # use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// let files = ["a.sh", "b.sh"];
/// for (done, _file) in files.iter().enumerate() {
///     taskhost_sdk::log::progress("shellcheck", done as u64, Some(files.len() as u64));
/// }
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
/// # let run = FakeHost::new().execute::<Demo>();
/// # assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// # assert_eq!(run.progress[1], ("shellcheck".to_string(), 1, Some(2)));
/// ```
pub fn progress(label: &str, done: u64, total: Option<u64>) {
    raw::progress(label, done, total);
}
