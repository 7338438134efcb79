//! Terminal summary of a run.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{Outcome, Report, Status, exit_code};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";
const BOLD_RED: &str = "\x1b[1;31m";

/// Renders a multi-line summary: task, run id, status, one line per result
/// (`OUTCOME  checkname  item  note`), artifacts, results file, failed stage
/// and error. ANSI colors only when `color` is true; control characters in
/// plugin-supplied text are always escaped, so output never carries raw
/// escape sequences from the task.
pub fn render(report: &Report, color: bool) -> String {
    render_with(report, color, &|_| None)
}

/// [`render`], with one line per created artifact saying what it is
/// (`describe` gives e.g. its category and files), so a user can pass the
/// right id to the next task.
pub fn render_with(
    report: &Report,
    color: bool,
    describe: &dyn Fn(u64) -> Option<String>,
) -> String {
    let paint = |code: &str, text: &str| -> String {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    let code = exit_code(report).code();
    let status = paint(status_color(report.status), report.status.as_str());
    let secs = format!(
        "{}.{:03}s",
        report.duration_ms / 1000,
        report.duration_ms % 1000
    );
    let _ = writeln!(out, "{}    {}", paint(BOLD, "Task:"), safe(&report.task));
    let _ = writeln!(out, "Run:     {}", safe(&report.run_id));
    for p in &report.plugins {
        let _ = writeln!(
            out,
            "Plugin:  {} {} {} ({})",
            safe(&p.name),
            safe(&p.version),
            safe(&p.digest),
            safe(&p.origin)
        );
    }
    let _ = writeln!(out, "Status:  {status} (exit {code}, {secs})");
    if !report.started_at.is_empty() {
        let _ = writeln!(out, "Started: {}", safe(&report.started_at));
    }

    if report.results.is_empty() {
        let _ = writeln!(out, "Results: none");
    } else {
        let worst = report.worst_outcome().map(|o| o.as_str()).unwrap_or("-");
        let _ = writeln!(out, "Results: {} (worst: {worst})", report.results.len());
        let rows: Vec<_> = report
            .results
            .iter()
            .map(|r| {
                (
                    r.outcome,
                    safe(&r.checkname),
                    safe(&r.item),
                    r.note.as_deref().map(safe),
                )
            })
            .collect();
        let wc = rows.iter().map(|r| width(&r.1)).max().unwrap_or(0);
        let wi = rows.iter().map(|r| width(&r.2)).max().unwrap_or(0);
        for (outcome, check, item, note) in &rows {
            // Pad before coloring so ANSI codes don't skew columns.
            let o = paint(
                outcome_color(*outcome),
                &format!("{:<16}", outcome.as_str()),
            );
            let mut line = format!("  {o}  {}  {}", pad(check, wc), pad(item, wi));
            if let Some(n) = note {
                line.push_str("  ");
                line.push_str(n);
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }

    for q in &report.quotas_exceeded {
        let _ = writeln!(
            out,
            "Quota:   {} ({}) reached: {} request(s) refused",
            safe(&q.quota),
            safe(&q.limit),
            q.refused
        );
    }

    if !report.artifacts.is_empty() {
        let ids: Vec<String> = report.artifacts.iter().map(|a| format!("#{a}")).collect();
        let _ = writeln!(
            out,
            "Artifacts: {} created ({})",
            report.artifacts.len(),
            ids.join(", ")
        );
        let described: Vec<(String, String)> = report
            .artifacts
            .iter()
            .filter_map(|&id| describe(id).map(|d| (format!("#{id}"), d)))
            .collect();
        let wid = described.iter().map(|(id, _)| width(id)).max().unwrap_or(0);
        for (id, what) in &described {
            let _ = writeln!(out, "  {}  {}", pad(id, wid), safe(what));
        }
    }
    if let Some(id) = report.log_artifact {
        let _ = writeln!(out, "Log:     artifact #{id}");
    }
    if let Some(p) = &report.results_file {
        let _ = writeln!(out, "Results file: {}", safe(&p.display().to_string()));
    }
    if let Some(stage) = &report.failed_stage {
        let _ = writeln!(out, "{} {}", paint(RED, "Failed stage:"), safe(stage));
    }
    if let Some(err) = &report.error {
        // Keep line breaks of multi-line errors, indented.
        let lines: Vec<_> = err.lines().map(safe).collect();
        let _ = writeln!(out, "{} {}", paint(RED, "Error:"), lines.join("\n       "));
    }
    out
}

fn outcome_color(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => GREEN,
        Outcome::Info => CYAN,
        Outcome::Failed => RED,
        Outcome::NeedsInspection => YELLOW,
        Outcome::Aborted => MAGENTA,
        Outcome::Crashed => BOLD_RED,
    }
}

fn status_color(s: Status) -> &'static str {
    match s {
        Status::Success => GREEN,
        Status::Skipped => CYAN,
        Status::Failure => RED,
        Status::Refused => YELLOW,
        Status::Error | Status::Crashed => BOLD_RED,
    }
}

// Escapes control and bidi-override characters from untrusted text.
fn safe(s: &str) -> Cow<'_, str> {
    let bad =
        |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if s.chars().any(bad) {
        let mut o = String::with_capacity(s.len() + 8);
        for c in s.chars() {
            if bad(c) {
                o.extend(c.escape_default());
            } else {
                o.push(c);
            }
        }
        Cow::Owned(o)
    } else {
        Cow::Borrowed(s)
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{report, result};
    use std::path::PathBuf;

    #[test]
    fn plain_render_has_outcome_note_and_no_ansi_codes() {
        let mut r = report(Status::Success, &[Outcome::Passed]);
        let mut f = result(Outcome::Failed);
        f.note = Some("5 ERRORS, 10 WARNINGS \x1b[31mred".into());
        r.results.push(f);
        r.artifacts = vec![3, 4];
        r.results_file = Some(PathBuf::from("/tmp/out/results.yml"));
        let s = render(&r, false);
        assert!(!s.contains('\x1b'), "{s:?}");
        assert!(s.contains("rpmlint"));
        assert!(s.contains("run-1"));
        assert!(s.contains("success"));
        assert!(
            s.contains("PASSED            dist.rpmlint  xchat-0.5-1.fc20"),
            "{s}"
        );
        assert!(
            s.contains("FAILED            dist.rpmlint  xchat-0.5-1.fc20  5 ERRORS, 10 WARNINGS"),
            "{s}"
        );
        assert!(s.contains("Artifacts: 2 created (#3, #4)"), "{s}");
        assert!(s.contains("/tmp/out/results.yml"), "{s}");
        assert!(s.contains("exit 100"), "{s}");
    }

    #[test]
    fn each_artifact_is_described_when_the_caller_can() {
        let mut r = report(Status::Success, &[Outcome::Passed]);
        r.artifacts = vec![3, 12];
        let s = render_with(&r, false, &|id| {
            (id == 12).then(|| "debian:upload hello_1.0_amd64.changes\x1b[31m".to_string())
        });
        assert!(s.contains("Artifacts: 2 created (#3, #12)"), "{s}");
        assert!(
            s.contains("\n  #12  debian:upload hello_1.0_amd64.changes\\u{1b}[31m\n"),
            "{s}"
        );
        assert!(!s.contains("\n  #3 "), "{s}");
    }

    #[test]
    fn colored_render_uses_ansi_codes() {
        let r = report(Status::Success, &[Outcome::Passed]);
        let s = render(&r, true);
        assert!(s.contains(&format!("{GREEN}PASSED")), "{s:?}");
        assert!(s.contains(RESET));
    }

    #[test]
    fn failed_stage_and_error_are_shown() {
        let mut r = report(Status::Error, &[]);
        r.failed_stage = Some("prepare".into());
        r.error = Some("fetch failed\ncaused by: 404".into());
        let s = render(&r, false);
        assert!(s.contains("Failed stage: prepare"), "{s}");
        assert!(
            s.contains("Error: fetch failed\n       caused by: 404"),
            "{s}"
        );
        assert!(s.contains("Results: none"), "{s}");
        assert!(s.contains("error (exit 1"), "{s}");
    }
}
