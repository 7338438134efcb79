//! `runtask worker --metrics ADDR`: Prometheus metrics on
//! `http://ADDR/metrics` (OpenMetrics text).

use std::sync::Arc;

use anyhow::Result;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use taskhost::queue::worker::Observer;

/// What a worker counts.
pub(crate) struct Metrics {
    registry: Arc<Registry>,
    started: Counter,
    succeeded: Counter,
    failed: Counter,
    redelivered: Counter,
    queue_depth: Gauge,
    duration: Histogram,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("taskhost");
        let (started, succeeded, failed, redelivered) = (
            Counter::default(),
            Counter::default(),
            Counter::default(),
            Counter::default(),
        );
        let queue_depth = Gauge::default();
        // 0.1 s to about 7 hours.
        let duration = Histogram::new(exponential_buckets(0.1, 2.0, 18));
        registry.register("runs_started", "Runs this worker started", started.clone());
        registry.register(
            "runs_succeeded",
            "Runs that ended with status success",
            succeeded.clone(),
        );
        registry.register(
            "runs_failed",
            "Runs that ended otherwise (failure, error, crashed or dead-lettered)",
            failed.clone(),
        );
        registry.register(
            "runs_redelivered",
            "Runs this worker took on a second or later delivery",
            redelivered.clone(),
        );
        registry.register(
            "queue_depth",
            "Runs waiting or being run for this worker's tag",
            queue_depth.clone(),
        );
        registry.register(
            "run_duration_seconds",
            "How long runs took",
            duration.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            started,
            succeeded,
            failed,
            redelivered,
            queue_depth,
            duration,
        }
    }

    #[cfg(test)]
    fn text(&self) -> String {
        text(&self.registry)
    }

    /// Serves `/metrics` on `addr` from a thread of its own.
    pub(crate) fn serve(&self, addr: std::net::SocketAddr) -> Result<()> {
        let server = tiny_http::Server::http(addr)
            .map_err(|e| anyhow::anyhow!("--metrics {addr}: cannot listen: {e}"))?;
        let registry = self.registry.clone();
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for request in server.incoming_requests() {
                    let response = if request.url() == "/metrics" {
                        let body = text(&registry);
                        let header = tiny_http::Header::from_bytes(
                            "Content-Type",
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )
                        .ok();
                        let mut r = tiny_http::Response::from_string(body);
                        if let Some(h) = header {
                            r = r.with_header(h);
                        }
                        r
                    } else {
                        tiny_http::Response::from_string("see /metrics\n").with_status_code(404)
                    };
                    let _ = request.respond(response);
                }
            })?;
        tracing::info!(%addr, "serving metrics on /metrics");
        Ok(())
    }
}

/// The metrics as Prometheus scrapes them.
fn text(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, registry);
    out
}

impl Observer for Metrics {
    fn started(&self, redelivered: bool) {
        self.started.inc();
        if redelivered {
            self.redelivered.inc();
        }
    }

    fn finished(&self, outcome: &str, seconds: f64) {
        if outcome == "success" {
            self.succeeded.inc();
        } else {
            self.failed.inc();
        }
        self.duration.observe(seconds);
    }

    fn queue_depth(&self, pending: u64) {
        self.queue_depth
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_text() {
        let m = Metrics::new();
        m.started(false);
        m.started(true);
        m.finished("success", 1.5);
        m.finished("error", 0.2);
        m.queue_depth(7);
        let text = m.text();
        for line in [
            "taskhost_runs_started_total 2",
            "taskhost_runs_redelivered_total 1",
            "taskhost_runs_succeeded_total 1",
            "taskhost_runs_failed_total 1",
            "taskhost_queue_depth 7",
            "taskhost_run_duration_seconds_count 2",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
