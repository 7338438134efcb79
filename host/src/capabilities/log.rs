//! `taskhost:plugin/log`: always allowed.

use crate::runtime::RunState;
use crate::runtime::bindings::taskhost::plugin::log::{self, Level};

impl log::Host for RunState {
    async fn log(&mut self, level: Level, message: String) {
        let level = match level {
            Level::Trace => tracing::Level::TRACE,
            Level::Debug => tracing::Level::DEBUG,
            Level::Info => tracing::Level::INFO,
            Level::Warn => tracing::Level::WARN,
            Level::Error => tracing::Level::ERROR,
        };
        let source = format!("plugin {}", self.run.plugin());
        self.run.log.line(level, &source, &message);
    }

    async fn progress(&mut self, label: String, done: u64, total: Option<u64>) {
        if let Some(line) = self.run.plugin_progress.update(&label, done, total) {
            self.run
                .log
                .info(&format!("plugin {}", self.run.plugin()), &line);
        }
    }
}
