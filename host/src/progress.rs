//! Progress of long steps: indicatif bars on a terminal, plain log lines
//! (at most one every few seconds per step) otherwise.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub enum Progress {
    Terminal(MultiProgress),
    Plain,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn detect() -> Self {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            Progress::Terminal(MultiProgress::new())
        } else {
            Progress::Plain
        }
    }

    /// A spinner for a step of unknown length (a running command).
    pub fn spinner(&self, label: &str) -> Step {
        match self {
            Progress::Terminal(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(label.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                Step::Bar(bar)
            }
            Progress::Plain => Step::Plain,
        }
    }

    /// A byte-count bar for a transfer of `total` bytes (a spinner with a
    /// byte count when the size is unknown); advance it with [`Step::inc`].
    pub fn bytes(&self, label: &str, total: Option<u64>) -> Step {
        match self {
            Progress::Terminal(multi) => {
                let (bar, template) = match total {
                    Some(len) => (
                        ProgressBar::new(len),
                        "{msg:20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                    ),
                    None => (
                        ProgressBar::no_length(),
                        "{spinner} {msg:20} {bytes} {bytes_per_sec}",
                    ),
                };
                let bar = multi.add(bar);
                bar.set_style(
                    ProgressStyle::with_template(template)
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_message(label.to_string());
                if total.is_none() {
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
                Step::Bar(bar)
            }
            Progress::Plain => Step::Plain,
        }
    }
}

/// One step's spinner or bar; finished (cleared) on drop.
pub enum Step {
    Bar(ProgressBar),
    Plain,
}

impl Step {
    /// Advances a [`Progress::bytes`] bar by `n`.
    pub fn inc(&self, n: u64) {
        if let Step::Bar(bar) = self {
            bar.inc(n);
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Step::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Progress bars a plugin reports through `log.progress`, by label.
#[derive(Clone)]
pub struct PluginProgress {
    progress: Progress,
    bars: Arc<Mutex<HashMap<String, (ProgressBar, Instant)>>>,
}

impl PluginProgress {
    pub fn new(progress: Progress) -> Self {
        PluginProgress {
            progress,
            bars: Arc::default(),
        }
    }

    /// Whether `label` has been seen.
    pub fn has(&self, label: &str) -> bool {
        self.bars.lock().is_ok_and(|bars| bars.contains_key(label))
    }

    /// Updates `label`; returns a line to log in plain mode (rate-limited).
    pub fn update(&self, label: &str, done: u64, total: Option<u64>) -> Option<String> {
        let Ok(mut bars) = self.bars.lock() else {
            return None;
        };
        let finished = total.is_some_and(|t| done >= t);
        match &self.progress {
            Progress::Terminal(multi) => {
                let (bar, _) = bars.entry(label.to_string()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(total.unwrap_or(0)));
                    bar.set_style(
                        ProgressStyle::with_template("{msg:20} [{bar:30}] {pos}/{len} {eta}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_message(label.to_string());
                    (bar, Instant::now())
                });
                if let Some(t) = total {
                    bar.set_length(t);
                }
                bar.set_position(done);
                if finished {
                    bar.finish();
                }
                None
            }
            Progress::Plain => {
                let now = Instant::now();
                let (_, last) = bars
                    .entry(label.to_string())
                    .or_insert((ProgressBar::hidden(), now - PLAIN_INTERVAL));
                if finished || now.duration_since(*last) >= PLAIN_INTERVAL {
                    *last = now;
                    Some(match total {
                        Some(t) => format!("{label}: {done}/{t}"),
                        None => format!("{label}: {done}"),
                    })
                } else {
                    None
                }
            }
        }
    }
}
