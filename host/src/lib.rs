//! taskhost runs distribution QA and build tasks as sandboxed WebAssembly
//! components. The host alone spawns programs, touches files and stores
//! artifacts; a plugin gets only what it declared and the operator granted.
//!
//! A run is one library call: [`run::run_task`] takes a loaded
//! [`runtime::Plugin`], task_data and the effective grants, and returns a
//! [`report::Report`].

pub mod apt;
pub mod backends;
pub mod capabilities;
pub mod deps;
pub mod formula;
pub mod import;
pub mod manifest;
pub mod notify;
pub mod plugins;
pub mod policy;
pub mod progress;
pub mod queue;
pub mod report;
pub mod run;
pub mod runlog;
pub mod runtime;
pub mod store;
pub mod testing;
pub mod workspace;
