//! Write taskhost task plugins in Rust.
//!
//! A plugin is a crate of type `cdylib` built for `wasm32-wasip2`. It
//! declares what it needs in a TOML manifest (see the README), models its
//! task_data with serde, and implements [`Task`]:
//!
//! ```ignore
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
//!     const SUMMARY: &'static str = "Says hello";
//!     fn execute(data: Data) -> Result<Status> {
//!         let env = Environment::open("auto")?;
//!         let exit = env.run(&Command::new("echo").arg("hello"))?;
//!         Ok(if exit.success() { Status::Success } else { Status::Failure })
//!     }
//! }
//! taskhost_sdk::export_task!(Hello, manifest = "taskhost.toml");
//! ```
//!
//! task_data is decoded strictly: an unknown key, a missing key or a wrong
//! type is an `invalid` error that names the key, whatever serde attributes
//! the model uses.

extern crate self as taskhost_sdk;

#[doc(hidden)]
pub mod bindings;
mod command;
mod data;
#[doc(hidden)]
pub mod directive_bindings;

pub mod artifacts;
pub mod directive;
pub mod http;
pub mod log;
pub mod results;
pub mod resultyaml;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

pub use bindings::exports::taskhost::plugin::task::Status;
pub use bindings::taskhost::plugin::types::{ArtifactId, Error};
pub use command::{Command, Environment, ExitStatus, Running};
pub use data::{ArtifactRef, decode_task_data};
pub use results::Outcome;

/// The WIT API version this SDK implements; stamped into every plugin.
pub const API_VERSION: &str = "0.1.0";

/// Result type of plugin code.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The host or a tool failed.
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    /// An input is malformed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Failed(format!("I/O error: {e}"))
    }
}

/// A task: debusine-style, driven by task_data.
pub trait Task {
    /// The task_data model. Decoded strictly from the JSON the host sends.
    type Data: serde::de::DeserializeOwned;

    /// The task's name, as operators and users call it.
    const NAME: &'static str;
    /// One line saying what the task does.
    const SUMMARY: &'static str;
    /// Markdown describing the task_data keys.
    const TASK_DATA_DOC: &'static str = "";

    /// Extra checks beyond the shape of the data (value ranges, key
    /// combinations). Runs before any input is fetched.
    fn validate(_data: &Self::Data) -> Result<()> {
        Ok(())
    }

    /// Runs the task. Expected failures are `Ok(Status::Failure)`; an
    /// `Err` means the task could not do its work.
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
/// `manifest` is a path relative to the plugin crate's root. The SDK also
/// stamps its [`API_VERSION`] into the plugin so the host can refuse a
/// plugin built for another contract.
#[macro_export]
macro_rules! export_task {
    ($task:ty, manifest = $manifest:literal) => {
        $crate::export_task!($task, manifest = $manifest, api_version = $crate::API_VERSION);
    };
    ($task:ty, manifest = $manifest:literal, api_version = $api:expr) => {
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
