//! What sbuild's `.build` log says: its phases and its Summary.
//!
//! Plain Rust (no I/O), built for wasm32-wasip2 inside the plugin and
//! natively for the tests. The format (sbuild 0.85, checked against real
//! runs): each phase opens with a boxed title
//!
//! ```text
//! +------------------------------------------------------------------------------+
//! | Install package build dependencies                                           |
//! +------------------------------------------------------------------------------+
//! ```
//!
//! and the last one, `Summary`, holds `Key: value` lines (`Status`,
//! `Fail-Stage`, `Build-Time`, `Build-Space`, ...) up to a line of dashes.

use std::collections::BTreeMap;

/// sbuild's build statuses (`Status:` in the Summary).
pub const SUCCESSFUL: &str = "successful";
pub const SKIPPED: &str = "skipped";

/// The phases of a successful build, in sbuild 0.85's order: how far a
/// running build is (others, such as `Chroot Setup Commands`, come between).
pub const MILESTONES: &[&str] = &[
    "Update chroot",
    "Fetch source files",
    "Install package build dependencies",
    "Check architectures",
    "Build environment",
    "Build",
    "Changes",
    "Buildinfo",
    "Package contents",
    "Post Build",
    "Cleanup",
    "Summary",
];

/// The titles of the log's phases, in order (`Update chroot`, `Build`, ...).
pub fn phases(log: &str) -> Vec<String> {
    let mut follower = Follower::default();
    let mut phases = follower.feed(log.as_bytes());
    phases.extend(follower.feed(b"\n"));
    phases
}

/// Finds phase titles in a log read piece by piece as it grows: only
/// complete lines count, so a title cut mid-write is found next time.
#[derive(Debug, Default)]
pub struct Follower {
    /// The last, incomplete line.
    partial: Vec<u8>,
    /// A rule was seen (`Some(None)`), then a title (`Some(Some(..))`).
    heading: Option<Option<String>>,
}

impl Follower {
    /// Takes the log's next bytes; returns the phases they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut found = Vec::new();
        self.partial.extend_from_slice(bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return found;
        };
        let rest = self.partial.split_off(end + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        for line in String::from_utf8_lossy(&complete).lines() {
            self.heading = match (self.heading.take(), is_rule(line)) {
                (Some(Some(title)), true) => {
                    found.push(title);
                    None
                }
                (_, true) => Some(None),
                (Some(None), false) => line
                    .strip_prefix('|')
                    .and_then(|t| t.strip_suffix('|'))
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(|t| Some(t.to_string())),
                (_, false) => None,
            };
        }
        found
    }
}

/// `+-----...-----+`, the rule above and below a phase title.
fn is_rule(line: &str) -> bool {
    line.len() > 2
        && line.starts_with("+-")
        && line.ends_with("-+")
        && line[1..line.len() - 1].bytes().all(|b| b == b'-')
}

/// The fields of the log's last Summary section, in sbuild's own names.
/// Empty when the log has no Summary (sbuild stopped before writing it).
pub fn summary(log: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut lines = log.lines().peekable();
    let mut in_summary = false;
    while let Some(line) = lines.next() {
        if is_rule(line) {
            let title = lines.next().unwrap_or_default();
            let _ = lines.next_if(|l| is_rule(l));
            in_summary = title.trim_matches(|c| c == '|' || c == ' ') == "Summary";
            if in_summary {
                fields.clear();
            }
            continue;
        }
        if !in_summary {
            continue;
        }
        if line.starts_with("----") {
            in_summary = false;
            continue;
        }
        if let Some((key, value)) = line.split_once(": ")
            && key.starts_with(|c: char| c.is_ascii_uppercase())
        {
            fields.insert(key.to_string(), value.trim().to_string());
        }
    }
    fields
}

/// One line for the result's note: `successful` or
/// `attempted (Fail-Stage: build)`.
pub fn note(summary: &BTreeMap<String, String>) -> String {
    let status = summary.get("Status").map_or("no Status", String::as_str);
    match summary.get("Fail-Stage") {
        Some(stage) => format!("{status} (Fail-Stage: {stage})"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str =
        "+------------------------------------------------------------------------------+";

    fn section(title: &str) -> String {
        format!("{RULE}\n| {title:<77}|\n{RULE}\n\n")
    }

    fn log(summary_lines: &str) -> String {
        let mut text = String::from(
            "sbuild (Debian sbuild) 0.85.0 (04 January 2023) on vm\n\n\
             +==============================================================================+\n\
             | hello 1.0 (amd64)                            Tue, 01 Dec 2026 17:10:05 +0000 |\n\
             +==============================================================================+\n\n\
             Package: hello\nVersion: 1.0\n\n",
        );
        for title in [
            "Update chroot",
            "Fetch source files",
            "Install package build dependencies",
            "Build",
            "Post Build",
            "Cleanup",
        ] {
            text.push_str(&section(title));
            text.push_str("Status: not-a-summary-field\n\n");
        }
        text.push_str(&section("Summary"));
        text.push_str(summary_lines);
        text.push_str(
            "--------------------------------------------------------------------------------\n\
             Finished at 2026-12-01T17:10:31Z\nBuild needed 00:00:26, 224k disk space\n",
        );
        text
    }

    #[test]
    fn phases_are_the_boxed_titles_in_order() {
        let text = log("Status: successful\n");
        assert_eq!(
            phases(&text),
            [
                "Update chroot",
                "Fetch source files",
                "Install package build dependencies",
                "Build",
                "Post Build",
                "Cleanup",
                "Summary"
            ]
        );
        // The package's own ==== box is not a phase.
        assert!(!phases(&text).iter().any(|p| p.contains("hello")));
    }

    #[test]
    fn the_summary_holds_the_fields_of_the_last_section_only() {
        let text = log(
            "Build Architecture: amd64\nBuild-Space: 52\nBuild-Time: 1\nFail-Stage: build\n\
             Job: /w/input/broken_1.0.dsc\nStatus: attempted\nVersion: 1.0\n",
        );
        let s = summary(&text);
        assert_eq!(s["Status"], "attempted");
        assert_eq!(s["Fail-Stage"], "build");
        assert_eq!(s["Build-Time"], "1");
        assert_eq!(s["Build Architecture"], "amd64");
        assert_eq!(s["Job"], "/w/input/broken_1.0.dsc");
        assert_eq!(s.len(), 7, "{s:?}");
        assert_eq!(note(&s), "attempted (Fail-Stage: build)");
    }

    #[test]
    fn a_log_cut_before_its_summary_has_none() {
        let text = format!(
            "{}Get:1 http://mirror bookworm InRelease\n",
            section("Update chroot")
        );
        assert!(summary(&text).is_empty());
        assert_eq!(note(&summary(&text)), "no Status");
        assert_eq!(phases(&text), ["Update chroot"]);
    }

    #[test]
    fn a_log_read_in_pieces_gives_each_phase_once_when_complete() {
        let text = log("Status: successful\n");
        for size in [1, 7, 80, 81, 4096] {
            let mut follower = Follower::default();
            let mut seen = Vec::new();
            for piece in text.as_bytes().chunks(size) {
                seen.extend(follower.feed(piece));
            }
            assert_eq!(seen, phases(&text), "pieces of {size} bytes");
        }
        // A title whose closing rule is not written yet is not a phase yet.
        let mut follower = Follower::default();
        assert!(
            follower
                .feed(format!("{RULE}\n| Build").as_bytes())
                .is_empty()
        );
        assert!(follower.feed(b"        |\n").is_empty());
        assert_eq!(follower.feed(format!("{RULE}\n").as_bytes()), ["Build"]);
    }

    #[test]
    fn a_successful_summary_has_no_fail_stage() {
        let s = summary(&log("Status: successful\nBuild-Time: 3\n"));
        assert_eq!(note(&s), SUCCESSFUL);
        assert!(!s.contains_key("Fail-Stage"));
    }
}
