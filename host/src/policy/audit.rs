//! The audit log: one JSON line per grant decision of a run, allowed or
//! denied, saying what was asked, by which plugin (name and digest), and
//! which policy rule or default decided.
//!
//! Lines are kept in memory (at most [`MAX_BYTES`]; later ones are
//! counted) and written to `STORE/runs/RUN-ID/audit.jsonl` when the run
//! ends, or when it is dropped (an interrupted run keeps its audit).

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Most bytes of audit lines kept per run.
pub const MAX_BYTES: usize = 8 << 20;

/// The audit file's name in a run's directory.
pub const FILE: &str = "audit.jsonl";

/// One decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub run: String,
    pub plugin: String,
    /// `sha256:HEX` of the plugin's `.wasm`.
    pub digest: String,
    /// exec, env, backend, ssh-host, url, lookup, read, create, relate,
    /// quota.
    pub capability: String,
    /// What was asked: an argv, a URL, an artifact id, ...
    pub request: serde_json::Value,
    /// `allow` or `deny`.
    pub decision: Decision,
    /// The policy rule, flag or default that decided.
    pub rule: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

/// A run's audit trail.
#[derive(Debug)]
pub struct Audit {
    run: String,
    plugin: String,
    digest: String,
    buf: Vec<u8>,
    dropped: u64,
    /// Where the lines go; `None`: kept nowhere (benchmarks, `describe`).
    path: Option<PathBuf>,
    written: bool,
}

impl Audit {
    /// An audit of run `run` by `plugin` (digest `sha256:HEX`), written to
    /// `RUNS_DIR/RUN/audit.jsonl` when `runs_dir` is given.
    pub fn new(run: &str, plugin: &str, digest: &str, runs_dir: Option<&Path>) -> Self {
        Audit {
            run: run.to_owned(),
            plugin: plugin.to_owned(),
            digest: digest.to_owned(),
            buf: Vec::new(),
            dropped: 0,
            path: runs_dir.map(|d| d.join(run).join(FILE)),
            written: false,
        }
    }

    /// An audit that records nothing.
    pub fn none() -> Self {
        Self::new("", "", "", None)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Records one decision.
    pub fn record(
        &mut self,
        capability: &str,
        request: serde_json::Value,
        decision: Decision,
        rule: &str,
    ) {
        if self.path.is_none() {
            return;
        }
        if self.buf.len() >= MAX_BYTES {
            self.dropped += 1;
            return;
        }
        let event = Event {
            time: now(),
            run: self.run.clone(),
            plugin: self.plugin.clone(),
            digest: self.digest.clone(),
            capability: capability.to_owned(),
            request,
            decision,
            rule: rule.to_owned(),
        };
        // Serializing our own struct cannot fail; a failure drops the line.
        if serde_json::to_writer(&mut self.buf, &event).is_ok() {
            self.buf.push(b'\n');
        }
    }

    /// Appends the lines to the audit file (a formula's actions share
    /// one). Called once at the end of a run; dropping does it too.
    pub fn write(&mut self) -> std::io::Result<()> {
        self.written = true;
        let Some(path) = &self.path else {
            return Ok(());
        };
        if self.buf.is_empty() && self.dropped == 0 {
            return Ok(());
        }
        if self.dropped > 0 {
            let note = serde_json::json!({
                "time": now(),
                "run": self.run,
                "truncated": self.dropped,
                "note": format!("{} more decisions were not recorded: the audit is capped at {} MiB per run", self.dropped, MAX_BYTES >> 20),
            });
            if serde_json::to_writer(&mut self.buf, &note).is_ok() {
                self.buf.push(b'\n');
            }
            self.dropped = 0;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        file.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

impl Drop for Audit {
    fn drop(&mut self) {
        if !self.written
            && let Err(e) = self.write()
        {
            tracing::error!("writing the audit log of run {}: {e}", self.run);
        }
    }
}

/// Reads an audit file; each line an [`Event`] (a truncation note is
/// skipped).
pub fn read(path: &Path) -> std::io::Result<Vec<Event>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Event>(l).ok())
        .collect())
}

fn now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_become_json_lines_in_the_run_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut audit = Audit::new("r1", "blhc", "sha256:ab", Some(dir.path()));
        audit.record(
            "exec",
            serde_json::json!(["blhc", "x"]),
            Decision::Allow,
            "exec \"blhc **\"",
        );
        audit.record(
            "url",
            serde_json::json!("http://x/"),
            Decision::Deny,
            "not declared",
        );
        drop(audit);
        let events = read(&dir.path().join("r1").join(FILE)).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].capability, "exec");
        assert_eq!(events[0].decision, Decision::Allow);
        assert_eq!(events[1].decision, Decision::Deny);
        assert_eq!(events[1].digest, "sha256:ab");
    }

    #[test]
    fn the_audit_is_capped_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let mut audit = Audit::new("r2", "p", "sha256:00", Some(dir.path()));
        let big = "x".repeat(64 << 10);
        for _ in 0..200 {
            audit.record("exec", serde_json::json!(big), Decision::Deny, "r");
        }
        audit.write().unwrap();
        let text = std::fs::read_to_string(dir.path().join("r2").join(FILE)).unwrap();
        assert!(text.len() < MAX_BYTES + (1 << 20));
        assert!(text.contains("\"truncated\""), "no truncation note");
    }
}
