//! piuparts' log: its PASS / FAIL / SKIP lines, its warnings and errors.
//!
//! piuparts writes one record per line, `0m12.3s LEVEL: message`; a
//! message of several lines (a FAIL's list of files, a command's output)
//! goes on in lines without that prefix.

use serde::Serialize;

/// One record: its level and its message, continuation lines included.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub level: String,
    pub lines: Vec<String>,
}

const LEVELS: &[&str] = &["DUMP", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/// `0m12.3s LEVEL: message` → (LEVEL, message).
fn record_start(line: &str) -> Option<(&str, &str)> {
    let (time, rest) = line.split_once(' ')?;
    let (minutes, seconds) = time.strip_suffix('s')?.split_once('m')?;
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    if !numeric(minutes) || !numeric(seconds) {
        return None;
    }
    let (level, message) = rest.split_once(": ").or_else(|| {
        // An empty message: `0m1.0s DUMP: ` loses its space to a trim.
        rest.strip_suffix(':').map(|level| (level, ""))
    })?;
    LEVELS.contains(&level).then_some((level, message))
}

pub fn records(log: &str) -> Vec<Record> {
    let mut records: Vec<Record> = Vec::new();
    for line in log.lines() {
        match (record_start(line), records.last_mut()) {
            (Some((level, message)), _) => records.push(Record {
                level: level.to_string(),
                lines: vec![message.to_string()],
            }),
            (None, Some(last)) => last.lines.push(line.to_string()),
            // Before piuparts' first record (`You need to be root ...`).
            (None, None) => records.push(Record {
                level: String::new(),
                lines: vec![line.to_string()],
            }),
        }
    }
    records
}

/// A FAIL or a warning: its headline and the files it lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub message: String,
    /// `/etc/foo not owned`, `/etc/issue owned by: base-files`.
    pub files: Vec<String>,
}

impl Finding {
    fn from(headline: &str, rest: &[String]) -> Finding {
        Finding {
            message: headline.trim().to_string(),
            files: rest
                .iter()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|l| !l.is_empty())
                .collect(),
        }
    }

    /// `message file, file` on one line.
    pub fn one_line(&self) -> String {
        // `/etc/x owned by: base-files`, `/etc/y not owned`: the paths.
        let files: Vec<&str> = self
            .files
            .iter()
            .map(|f| {
                let f = f.split(" owned by: ").next().unwrap_or(f);
                f.strip_suffix(" not owned").unwrap_or(f)
            })
            .collect();
        match files.as_slice() {
            [] => self.message.clone(),
            _ => format!("{} {}", self.message, files.join(", ")),
        }
    }
}

/// What a piuparts log says.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `piuparts version X starting up.`
    pub version: Option<String>,
    /// The PASS lines: `Installation and purging test.`, `All tests.`
    pub passed: Vec<String>,
    pub failed: Vec<Finding>,
    pub skipped: Vec<String>,
    /// `Warning: Package purging left files on system:` (with
    /// --warn-on-leftovers-after-purge), adequate's `WARN: ...` and the
    /// like.
    pub warnings: Vec<Finding>,
    /// ERROR records that are no FAIL: `Command failed (status=1): ...`
    /// with the end of that command's output.
    pub errors: Vec<String>,
    /// Lines piuparts printed before logging anything
    /// (`You need to be root to use piuparts.`).
    pub preamble: Vec<String>,
}

/// How many lines of a failed command's output an error keeps.
const ERROR_TAIL: usize = 10;

pub fn summarize(log: &str) -> Summary {
    let mut s = Summary::default();
    for record in records(log) {
        let Some((first, rest)) = record.lines.split_first() else {
            continue;
        };
        if record.level.is_empty() {
            s.preamble.extend(record.lines.iter().cloned());
        } else if let Some(version) = first
            .strip_prefix("piuparts version ")
            .and_then(|v| v.strip_suffix(" starting up."))
        {
            s.version = Some(version.to_string());
        } else if let Some(test) = first.strip_prefix("PASS: ") {
            s.passed.push(test.to_string());
        } else if let Some(what) = first.strip_prefix("FAIL: ") {
            s.failed.push(Finding::from(what, rest));
        } else if let Some(what) = first.strip_prefix("SKIP: ") {
            s.skipped.push(what.to_string());
        } else if let Some(what) = first
            .strip_prefix("Warning: ")
            // adequate's findings, logged as errors unless --fail-if-inadequate.
            .or_else(|| first.strip_prefix("WARN: "))
        {
            s.warnings.push(Finding::from(what, rest));
        } else if record.level == "WARNING" {
            s.warnings.push(Finding::from(first, rest));
        } else if record.level == "ERROR" && first != "piuparts run ends." {
            let output: Vec<&str> = rest
                .iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .collect();
            let tail = &output[output.len().saturating_sub(ERROR_TAIL)..];
            let mut text = first.clone();
            for line in tail {
                text.push_str("\n  ");
                text.push_str(line);
            }
            s.errors.push(text);
        }
    }
    s
}

/// The outcome of a piuparts run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Exit 0 and `PASS: All tests.`
    Passed,
    /// Passed, with warnings (files left after purge, ...).
    PassedWithWarnings,
    /// piuparts could not test the packages (`SKIP: All tests. ...`).
    Skipped,
    /// A FAIL line, or piuparts stopped on an error (a maintainer script
    /// failed, apt could not install the packages, ...).
    Failed,
    /// piuparts said neither: it did not run, was killed, or exited 0
    /// without `PASS: All tests.`
    Inconclusive,
}

pub const ALL_TESTS: &str = "All tests.";

/// The verdict from piuparts' exit code and its log.
pub fn verdict(code: Option<i32>, s: &Summary) -> Verdict {
    let all_passed = s.passed.iter().any(|p| p == ALL_TESTS);
    match code {
        Some(0) if all_passed && !s.skipped.is_empty() => Verdict::Skipped,
        Some(0) if all_passed && !s.warnings.is_empty() => Verdict::PassedWithWarnings,
        Some(0) if all_passed => Verdict::Passed,
        Some(0) => Verdict::Inconclusive,
        Some(_) if !s.failed.is_empty() || !s.errors.is_empty() => Verdict::Failed,
        _ => Verdict::Inconclusive,
    }
}

/// The result's note: what passed, or why not.
pub fn note(verdict: Verdict, s: &Summary) -> String {
    let passed: Vec<&str> = s
        .passed
        .iter()
        .filter(|p| *p != ALL_TESTS)
        .map(|p| p.trim_end_matches('.'))
        .collect();
    let findings = |list: &[Finding]| {
        list.iter()
            .map(Finding::one_line)
            .collect::<Vec<_>>()
            .join("; ")
    };
    match verdict {
        Verdict::Passed => format!("PASS: {}", passed.join("; ")),
        Verdict::PassedWithWarnings => format!(
            "PASS: {}; {} warning(s): {}",
            passed.join("; "),
            s.warnings.len(),
            findings(&s.warnings)
        ),
        Verdict::Skipped => format!("SKIP: {}", s.skipped.join("; ")),
        Verdict::Failed if !s.failed.is_empty() => {
            // piuparts ends with a FAIL naming the test that failed; the
            // ones before it say why.
            let (reasons, tests): (Vec<&Finding>, Vec<&Finding>) = s
                .failed
                .iter()
                .partition(|f| !f.message.ends_with(" test.") && !f.message.ends_with(" tests."));
            let reasons: Vec<Finding> = reasons.into_iter().cloned().collect();
            let tests: Vec<&str> = tests
                .iter()
                .map(|f| f.message.trim_end_matches('.'))
                .collect();
            match (tests.is_empty(), reasons.is_empty()) {
                (false, false) => format!("FAIL: {}: {}", tests.join("; "), findings(&reasons)),
                (true, _) => format!("FAIL: {}", findings(&reasons)),
                (false, true) => format!("FAIL: {}", tests.join("; ")),
            }
        }
        Verdict::Failed => {
            let first = s
                .errors
                .first()
                .map_or("", |e| e.lines().next().unwrap_or(e));
            format!("piuparts stopped: {first}")
        }
        Verdict::Inconclusive => "piuparts gave no verdict".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSED: &str = "\
0m0.0s INFO: ------------------------------------------------------------------------------
0m0.0s INFO: piuparts version 1.1.7 starting up.
0m0.0s INFO: Command line arguments: /usr/sbin/piuparts --keep-sources-list x.deb
0m0.2s DEBUG: Starting command: ['tar', '-C', '/tmp/x', '-zxf', 'base.tar.gz']
0m3.0s DUMP: 
  Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]
  FAIL: not a record, just apt output
0m20.1s INFO: PASS: Installation and purging test.
0m20.2s INFO: Can't test upgrade: packages not known by apt-get.
0m21.0s INFO: PASS: All tests.
0m21.0s INFO: piuparts run ends.
";

    #[test]
    fn records_carry_their_continuation_lines() {
        let r = records(PASSED);
        let dump = r.iter().find(|r| r.level == "DUMP").unwrap();
        assert_eq!(dump.lines.len(), 3, "{dump:?}");
        assert_eq!(dump.lines[2], "  FAIL: not a record, just apt output");
        assert!(record_start("  0m1.0s INFO: indented").is_none());
        assert!(record_start("10m59.9s ERROR: x").is_some());
        assert!(record_start("0m1.0s NOTICE: x").is_none());
    }

    #[test]
    fn a_clean_run_passes() {
        let s = summarize(PASSED);
        assert_eq!(s.version.as_deref(), Some("1.1.7"));
        assert_eq!(s.passed, ["Installation and purging test.", "All tests."]);
        assert!(s.failed.is_empty() && s.warnings.is_empty() && s.errors.is_empty());
        assert_eq!(verdict(Some(0), &s), Verdict::Passed);
        assert_eq!(
            note(Verdict::Passed, &s),
            "PASS: Installation and purging test"
        );
        assert_eq!(verdict(Some(1), &s), Verdict::Inconclusive);
        assert_eq!(verdict(None, &s), Verdict::Inconclusive);
    }

    #[test]
    fn files_left_after_purge_are_a_warning_with_the_files() {
        let log = PASSED.replace(
            "0m20.1s INFO: PASS",
            "0m19.0s INFO: Warning: Package purging left files on system:\n  \
             /etc/th-leftover.conf\t not owned\n  /var/lib/th-leftover/\t not owned\n\n0m20.1s INFO: PASS",
        );
        let s = summarize(&log);
        assert_eq!(
            s.warnings,
            [Finding {
                message: "Package purging left files on system:".into(),
                files: vec![
                    "/etc/th-leftover.conf not owned".into(),
                    "/var/lib/th-leftover/ not owned".into()
                ],
            }]
        );
        let v = verdict(Some(0), &s);
        assert_eq!(v, Verdict::PassedWithWarnings);
        assert_eq!(
            note(v, &s),
            "PASS: Installation and purging test; 1 warning(s): Package purging left files on system: \
             /etc/th-leftover.conf, /var/lib/th-leftover/"
        );
    }

    #[test]
    fn adequate_findings_are_warnings_not_errors() {
        let log = PASSED.replace(
            "0m20.1s INFO: PASS",
            "0m17.3s ERROR: WARN: Inadequate results from running adequate!\n  \
             th: missing-copyright-file /usr/share/doc/th/copyright\n\n\
             0m17.3s ERROR: WARN: Running adequate resulted in inadequate tags found:  missing-copyright-file \n\
             0m20.1s INFO: PASS",
        );
        let s = summarize(&log);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.warnings.len(), 2);
        assert_eq!(
            s.warnings[0].one_line(),
            "Inadequate results from running adequate! th: missing-copyright-file /usr/share/doc/th/copyright"
        );
        assert_eq!(verdict(Some(0), &s), Verdict::PassedWithWarnings);
    }

    /// piuparts 1.1.7 on a package whose postinst runs `add-shell` and
    /// whose postrm does not run `remove-shell`.
    const FAILED: &str = "\
0m0.0s INFO: piuparts version 1.1.7 starting up.
0m32.8s DEBUG: Modified(user, group, mode, size, target): /etc/shells expected(root, root, - 100644, 128, None) != found(root, root, - 100644, 146, None)
0m32.9s ERROR: FAIL: After purging files have been modified:
  /etc/shells\t not owned

0m32.9s ERROR: FAIL: Installation and purging test.
0m33.2s DEBUG: Starting command: ['umount', 'piuparts/tmp/tmpsg0nov3x/dev/shm']
0m33.2s DEBUG: Command ok: ['umount', 'piuparts/tmp/tmpsg0nov3x/dev/shm']
0m34.0s ERROR: piuparts run ends.
";

    #[test]
    fn a_fail_names_the_test_and_the_files() {
        let s = summarize(FAILED);
        assert_eq!(s.failed.len(), 2);
        assert_eq!(s.failed[0].files, ["/etc/shells not owned"]);
        assert!(
            s.errors.is_empty(),
            "FAIL lines are not errors: {:?}",
            s.errors
        );
        let v = verdict(Some(1), &s);
        assert_eq!(v, Verdict::Failed);
        assert_eq!(
            note(v, &s),
            "FAIL: Installation and purging test: After purging files have been modified: /etc/shells"
        );
        // A FAIL line with exit 0 is no pass: piuparts never says PASS then.
        assert_eq!(verdict(Some(0), &s), Verdict::Inconclusive);
    }

    #[test]
    fn a_fail_that_stops_piuparts_before_naming_the_test_is_the_reason() {
        // piuparts 1.1.7 on a postinst appending to base-files' /etc/issue.
        let log = "\
0m0.0s INFO: piuparts version 1.1.7 starting up.
0m23.9s ERROR: FAIL: debsums reports modifications inside the chroot:
  /etc/issue
  
0m24.3s DEBUG: Starting command: ['umount', 'piuparts/tmp/tmp4u8k4so6/dev/shm']
0m26.2s ERROR: piuparts run ends.
";
        let s = summarize(log);
        let v = verdict(Some(1), &s);
        assert_eq!(v, Verdict::Failed);
        assert_eq!(
            note(v, &s),
            "FAIL: debsums reports modifications inside the chroot: /etc/issue"
        );
    }

    #[test]
    fn a_failed_command_is_a_failure_with_its_output() {
        let log = "\
0m0.0s INFO: piuparts version 1.1.7 starting up.
0m9.0s ERROR: Command failed (status=100): ['chroot', '/tmp/x', 'apt-get', 'install', './tmp/th_1.0_all.deb']
  Setting up th (1.0) ...
  th: postinst fails on purpose
  dpkg: error processing package th (--configure):

0m9.1s ERROR: piuparts run ends.
";
        let s = summarize(log);
        assert_eq!(s.errors.len(), 1);
        assert!(s.errors[0].ends_with("dpkg: error processing package th (--configure):"));
        let v = verdict(Some(1), &s);
        assert_eq!(v, Verdict::Failed);
        assert!(
            note(v, &s).starts_with("piuparts stopped: Command failed (status=100)"),
            "{}",
            note(v, &s)
        );
    }

    #[test]
    fn a_run_that_never_started_is_inconclusive() {
        let s = summarize("You need to be root to use piuparts.\n");
        assert_eq!(s.preamble, ["You need to be root to use piuparts."]);
        assert_eq!(verdict(Some(1), &s), Verdict::Inconclusive);
    }

    #[test]
    fn a_skip_is_a_skip() {
        let log = PASSED.replace(
            "0m20.1s INFO: PASS: Installation and purging test.",
            "0m5.0s INFO: SKIP: All tests. Package cannot be tested with piuparts: th.",
        );
        let s = summarize(&log);
        assert_eq!(verdict(Some(0), &s), Verdict::Skipped);
    }
}
