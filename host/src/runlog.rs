//! A run's own log: every stage, host call decision and plugin log line.
//! It goes to tracing as it happens and becomes the run's
//! `debusine:work-request-debug-logs` artifact at the end.

use std::sync::{Arc, Mutex};
use tracing::Level;

/// Most bytes kept; later lines are counted, not kept.
const LIMIT: usize = 16 << 20;

#[derive(Clone, Default)]
pub struct RunLog {
    inner: Arc<Mutex<Buffer>>,
}

#[derive(Default)]
struct Buffer {
    text: String,
    dropped: usize,
}

impl RunLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Logs `message` from `source` (a stage, or `plugin`).
    pub fn line(&self, level: Level, source: &str, message: &str) {
        match level {
            Level::ERROR => tracing::error!(target: "taskhost::run", "{source}: {message}"),
            Level::WARN => tracing::warn!(target: "taskhost::run", "{source}: {message}"),
            Level::INFO => tracing::info!(target: "taskhost::run", "{source}: {message}"),
            Level::DEBUG => tracing::debug!(target: "taskhost::run", "{source}: {message}"),
            Level::TRACE => tracing::trace!(target: "taskhost::run", "{source}: {message}"),
        }
        let now = time::OffsetDateTime::now_utc();
        let stamp = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let entry = format!("{stamp} {level:>5} {source}: {message}\n");
        let Ok(mut buf) = self.inner.lock() else {
            return;
        };
        if buf.text.len() + entry.len() > LIMIT {
            buf.dropped += 1;
        } else {
            buf.text.push_str(&entry);
        }
    }

    pub fn debug(&self, source: &str, message: &str) {
        self.line(Level::DEBUG, source, message);
    }

    pub fn info(&self, source: &str, message: &str) {
        self.line(Level::INFO, source, message);
    }

    pub fn warn(&self, source: &str, message: &str) {
        self.line(Level::WARN, source, message);
    }

    pub fn error(&self, source: &str, message: &str) {
        self.line(Level::ERROR, source, message);
    }

    /// Everything logged so far.
    pub fn contents(&self) -> String {
        let Ok(buf) = self.inner.lock() else {
            return String::new();
        };
        if buf.dropped > 0 {
            format!(
                "{}[{} more lines dropped: the log is capped at {} MiB]\n",
                buf.text,
                buf.dropped,
                LIMIT >> 20
            )
        } else {
            buf.text.clone()
        }
    }
}
