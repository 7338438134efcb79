//! Log lines and progress, shown by the host and kept in the run's log.

use crate::bindings::taskhost::plugin::log as raw;

pub use raw::Level;

/// Logs `message` at `level`.
pub fn log(level: Level, message: impl AsRef<str>) {
    raw::log(level, message.as_ref());
}

pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message);
}

pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message);
}

pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message);
}

pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message);
}

/// Reports progress of a long step: `done` of `total` units.
pub fn progress(label: &str, done: u64, total: Option<u64>) {
    raw::progress(label, done, total);
}
