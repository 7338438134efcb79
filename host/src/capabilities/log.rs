//! `taskhost:plugin/log`: always allowed, within the run's `log-bytes` and
//! `progress-labels` quotas. Past a quota, lines are dropped and the run
//! log says so once (the calls return nothing to refuse with).

use super::RunState;
use super::bindings::taskhost::plugin::log::{self, Level};
use crate::policy::Quota;

/// Longest progress label kept.
const LABEL_LIMIT: usize = 200;

impl log::Host for RunState {
    async fn log(&mut self, level: Level, message: String) {
        let run = &mut self.run;
        let bytes = u64::try_from(message.len()).unwrap_or(u64::MAX);
        if let Err(denied) = run.granter.charge(Quota::LogBytes, bytes) {
            if !run.log_cut {
                run.log_cut = true;
                run.log.warn(
                    "capability",
                    &format!("the plugin's log messages are dropped from here on: {denied}"),
                );
            }
            return;
        }
        let level = match level {
            Level::Trace => tracing::Level::TRACE,
            Level::Debug => tracing::Level::DEBUG,
            Level::Info => tracing::Level::INFO,
            Level::Warn => tracing::Level::WARN,
            Level::Error => tracing::Level::ERROR,
        };
        let source = format!("plugin {}", run.plugin());
        run.log.line(level, &source, &message);
    }

    async fn progress(&mut self, label: String, done: u64, total: Option<u64>) {
        let run = &mut self.run;
        let label: String = label.chars().take(LABEL_LIMIT).collect();
        if !run.plugin_progress.has(&label)
            && let Err(denied) = run.granter.charge(Quota::ProgressLabels, 1)
        {
            if !run.progress_cut {
                run.progress_cut = true;
                run.log.warn(
                    "capability",
                    &format!("new progress labels are ignored from here on: {denied}"),
                );
            }
            return;
        }
        if let Some(line) = run.plugin_progress.update(&label, done, total) {
            run.log.info(&format!("plugin {}", run.plugin()), &line);
        }
    }
}
