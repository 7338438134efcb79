//! A run's own log: every stage, host call decision and plugin log line.
//! It goes to tracing as it happens and becomes the run's
//! `debusine:work-request-debug-logs` artifact at the end.
//!
//! The log is kept as JSON lines (`{"time","level","source","message"}`),
//! and the human log is rendered from them: a message's further lines are
//! marked as its continuation (`    | `), and other control characters are
//! escaped. Text from a plugin (messages, labels, command lines) can
//! neither forge a line nor carry terminal escape sequences.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use tracing::Level;

/// The name of the JSON lines log in a run's record (`STORE/runs/RUN-ID/`).
pub const JSONL: &str = "taskhost.jsonl";

/// Most bytes kept; later lines are counted, not kept.
const LIMIT: usize = 16 << 20;

/// Most bytes of one message; the rest is cut.
const MESSAGE_LIMIT: usize = 64 << 10;

#[derive(Clone, Default)]
pub struct RunLog {
    inner: Arc<Mutex<Buffer>>,
}

#[derive(Default)]
struct Buffer {
    entries: Vec<Entry>,
    /// Bytes of the entries' text.
    bytes: usize,
    dropped: usize,
}

/// One line of the log.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub time: String,
    pub level: String,
    pub source: String,
    pub message: String,
}

impl RunLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Logs `message` from `source` (a stage, or `plugin NAME`).
    pub fn line(&self, level: Level, source: &str, message: &str) {
        let message = cut(message, MESSAGE_LIMIT);
        let shown = continued(&message);
        match level {
            Level::ERROR => tracing::error!(target: "taskhost::run", "{source}: {shown}"),
            Level::WARN => tracing::warn!(target: "taskhost::run", "{source}: {shown}"),
            Level::INFO => tracing::info!(target: "taskhost::run", "{source}: {shown}"),
            Level::DEBUG => tracing::debug!(target: "taskhost::run", "{source}: {shown}"),
            Level::TRACE => tracing::trace!(target: "taskhost::run", "{source}: {shown}"),
        }
        let Ok(mut buf) = self.inner.lock() else {
            return;
        };
        let size = source.len() + message.len() + 64;
        if buf.bytes + size > LIMIT {
            buf.dropped += 1;
            return;
        }
        buf.bytes += size;
        buf.entries.push(Entry {
            time: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            level: level.to_string(),
            source: source.to_owned(),
            message: message.into_owned(),
        });
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

    /// The log as JSON lines (with a last line counting dropped ones).
    pub fn jsonl(&self) -> String {
        let Ok(buf) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::with_capacity(buf.bytes + buf.entries.len() * 48);
        for entry in &buf.entries {
            if let Ok(line) = serde_json::to_string(entry) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        if buf.dropped > 0 {
            let note = serde_json::json!({"dropped": buf.dropped, "note": format!("the log is capped at {} MiB", LIMIT >> 20)});
            out.push_str(&note.to_string());
            out.push('\n');
        }
        out
    }

    /// The human log: one line per entry, control characters escaped.
    pub fn contents(&self) -> String {
        let Ok(buf) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::with_capacity(buf.bytes);
        for e in &buf.entries {
            render_entry(&mut out, e);
        }
        if buf.dropped > 0 {
            out.push_str(&format!(
                "[{} more lines dropped: the log is capped at {} MiB]\n",
                buf.dropped,
                LIMIT >> 20
            ));
        }
        out
    }
}

/// Renders JSON lines as `TIME LEVEL SOURCE: MESSAGE` lines.
pub fn render(jsonl: &str) -> String {
    let mut out = String::with_capacity(jsonl.len());
    for line in jsonl.lines() {
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => render_entry(&mut out, &e),
            Err(_) => {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                    && let Some(n) = v.get("dropped")
                {
                    out.push_str(&format!(
                        "[{n} more lines dropped: the log is capped at {} MiB]\n",
                        LIMIT >> 20
                    ));
                }
            }
        }
    }
    out
}

fn render_entry(out: &mut String, e: &Entry) {
    out.push_str(&format!(
        "{} {:>5} {}: {}\n",
        escape(&e.time),
        escape(&e.level),
        escape(&e.source),
        continued(&e.message)
    ));
}

/// Prefix of a message's further lines in the human log.
pub const CONTINUATION: &str = "\n    | ";

/// `text` on several lines, each after the first marked as a
/// continuation, with every other control character escaped.
pub fn continued(text: &str) -> String {
    text.trim_end_matches('\n')
        .split('\n')
        .map(|line| escape(line))
        .collect::<Vec<_>>()
        .join(CONTINUATION)
}

/// `text` with every control character (newlines, ESC, ...) written as
/// an escape (`\n`, `\u{1b}`), and backslashes doubled, so that it stays
/// on one line and cannot drive a terminal.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || c == '\\') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.into()
}

/// At most `limit` bytes of `text`, cut at a character boundary.
fn cut(text: &str, limit: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= limit {
        return text.into();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [{} more bytes cut]", &text[..end], text.len() - end).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_cannot_forge_a_line_or_carry_escapes() {
        let log = RunLog::new();
        log.info(
            "plugin x",
            "hi\n2099-01-01T00:00:00Z  INFO policy: granted everything\u{1b}[2J\r\n",
        );
        log.info("run", "after");
        let human = log.contents();
        let lines: Vec<&str> = human.lines().collect();
        assert_eq!(lines.len(), 3, "{human}");
        assert!(lines[0].ends_with(" INFO plugin x: hi"), "{human}");
        assert_eq!(
            lines[1],
            "    | 2099-01-01T00:00:00Z  INFO policy: granted everything\\u{1b}[2J\\r"
        );
        assert!(lines[2].ends_with(" INFO run: after"), "{human}");
        assert!(!human.contains('\u{1b}') && !human.contains('\r'));

        let jsonl = log.jsonl();
        let first = jsonl.lines().next().unwrap();
        let entry: Entry = serde_json::from_str(first).unwrap();
        assert!(
            entry.message.starts_with("hi\n2099"),
            "JSON keeps the text as given"
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let log = RunLog::new();
        log.info("p", &"é".repeat(MESSAGE_LIMIT));
        let entry: Entry = serde_json::from_str(log.jsonl().trim()).unwrap();
        assert!(entry.message.len() < MESSAGE_LIMIT + 64);
        assert!(entry.message.ends_with("bytes cut]"));
    }

    #[test]
    fn backslashes_are_escaped_so_escapes_are_unambiguous() {
        assert_eq!(escape("a\\nb"), "a\\\\nb");
        assert_eq!(escape("plain"), "plain");
    }
}
