//! autopkgtest's summary file (`--summary`) and the verdict drawn from it.
//!
//! Each test is one line `NAME STATUS [DETAILS]` (autopkgtest pads NAME
//! to 20 columns), STATUS one of PASS, FAIL, SKIP, FLAKY. Any other line
//! comes from the testbed or autopkgtest itself (`blame: ...`, `badpkg:
//! ...`, `erroneous package: ...`, `testbed failure: ...`): an error, not
//! a test.

use serde::Serialize;

/// What autopkgtest says of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Flaky,
}

impl Status {
    fn parse(word: &str) -> Option<Status> {
        match word {
            "PASS" => Some(Status::Pass),
            "FAIL" => Some(Status::Fail),
            "SKIP" => Some(Status::Skip),
            "FLAKY" => Some(Status::Flaky),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
            Status::Flaky => "FLAKY",
        }
    }
}

/// One test's entry in the artifact's `results`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestResult {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// A parsed summary: tests in the order autopkgtest reported them, and
/// the lines that are not tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub tests: Vec<(String, TestResult)>,
    pub errors: Vec<String>,
}

impl Summary {
    pub fn has(&self, status: Status) -> bool {
        self.tests.iter().any(|(_, r)| r.status == status)
    }

    /// Drops the tests that `include` (when not empty) leaves out or that
    /// `exclude` names; returns their names. autopkgtest 5.28 reports a
    /// test whose Restrictions the testbed cannot meet as SKIP even when
    /// `--test-name` or `--skip-test` leaves it out.
    pub fn select(&mut self, include: &[String], exclude: &[String]) -> Vec<String> {
        let wanted = |name: &String| {
            name == "*"
                || ((include.is_empty() || include.contains(name)) && !exclude.contains(name))
        };
        let (kept, dropped) = std::mem::take(&mut self.tests)
            .into_iter()
            .partition(|(name, _)| wanted(name));
        self.tests = kept;
        dropped.into_iter().map(|(name, _)| name).collect()
    }

    /// `2 PASS, 1 FAIL` in the order PASS, FAIL, FLAKY, SKIP.
    pub fn counts(&self) -> String {
        let mut parts = Vec::new();
        for status in [Status::Pass, Status::Fail, Status::Flaky, Status::Skip] {
            let n = self
                .tests
                .iter()
                .filter(|(_, r)| r.status == status)
                .count();
            if n > 0 {
                parts.push(format!("{n} {}", status.as_str()));
            }
        }
        if parts.is_empty() {
            "no tests".into()
        } else {
            parts.join(", ")
        }
    }
}

pub fn parse(text: &str) -> Summary {
    let mut summary = Summary::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim_start();
        let (word, details) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let Some(status) = Status::parse(word) else {
            summary.errors.push(line.to_string());
            continue;
        };
        let details = Some(details.trim())
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        let result = TestResult { status, details };
        // autopkgtest may report a test twice (an unsupported restriction
        // is reported when the tests are read and again before each run).
        match summary.tests.iter_mut().find(|(n, _)| n == name) {
            Some((_, earlier)) => *earlier = result,
            None => summary.tests.push((name.to_string(), result)),
        }
    }
    summary
}

/// The `fail_on` keys of task_data: which results fail the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct FailOn {
    /// A test failed (not marked flaky). Default true.
    #[serde(default = "yes")]
    pub failed_test: bool,
    /// A test marked flaky failed. Default false.
    #[serde(default)]
    pub flaky_test: bool,
    /// A test was skipped. Default false.
    #[serde(default)]
    pub skipped_test: bool,
}

fn yes() -> bool {
    true
}

impl Default for FailOn {
    fn default() -> Self {
        FailOn {
            failed_test: true,
            flaky_test: false,
            skipped_test: false,
        }
    }
}

impl FailOn {
    /// Whether a test with `status` fails the task.
    pub fn fails(self, status: Status) -> bool {
        match status {
            Status::Pass => false,
            Status::Fail => self.failed_test,
            Status::Flaky => self.flaky_test,
            Status::Skip => self.skipped_test,
        }
    }
}

/// How the run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Success,
    /// The tests ran; `fail_on` says this fails the task.
    Failure,
    /// autopkgtest could not run the tests (erroneous package, testbed
    /// failure, bad usage, killed): why.
    Error(String),
}

/// The verdict from autopkgtest's exit code and the summary.
///
/// Exit codes (autopkgtest(1)): 0 all passed; 2 a test skipped or a flaky
/// one failed; 4 a test failed; 6 both; 8 no tests, or every
/// non-superficial test skipped; 12 and up: erroneous package (12, 14),
/// testbed failure (16), anything else (20).
pub fn judge(summary: &Summary, code: Option<i32>, fail_on: FailOn) -> Verdict {
    let code = match code {
        Some(code @ (0 | 2 | 4 | 6 | 8)) => code,
        other => {
            let what = match other {
                Some(12 | 14) => "an erroneous package".to_string(),
                Some(16) => "a testbed failure".to_string(),
                Some(code) => format!("exit code {code}"),
                None => "a signal".to_string(),
            };
            let why = match summary.errors.as_slice() {
                [] => "see its log".to_string(),
                lines => lines.join("; "),
            };
            return Verdict::Error(format!("autopkgtest stopped with {what}: {why}"));
        }
    };
    let failed = summary.tests.iter().any(|(_, r)| fail_on.fails(r.status))
        || (fail_on.failed_test && code & 4 != 0)
        || (fail_on.skipped_test && code == 8);
    if failed {
        Verdict::Failure
    } else {
        Verdict::Success
    }
}

/// A SKIP because the backend lacks a capability a test's Restrictions
/// need (`Test restriction "isolation-machine" requires testbed
/// capability "isolation-machine"`): (restriction, capability).
pub fn missing_capability(details: &str) -> Option<(&str, &str)> {
    let rest = details.strip_prefix("Test restriction \"")?;
    let (restriction, rest) = rest.split_once('"')?;
    let rest = rest.strip_prefix(" requires testbed capability \"")?;
    let (capability, _) = rest.split_once('"')?;
    Some((restriction, capability))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A summary autopkgtest 5.28 wrote on the unshare backend.
    const REAL: &str = "\
machine              SKIP Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"
machine              SKIP Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"
passes               PASS
fails                FAIL non-zero exit status 1
flaky-fails          FLAKY non-zero exit status 3
skips                SKIP exit status 77 and marked as skippable
superficial          PASS (superficial)
";

    fn result(status: Status, details: Option<&str>) -> TestResult {
        TestResult {
            status,
            details: details.map(str::to_string),
        }
    }

    #[test]
    fn each_test_line_gives_its_status_and_details_once() {
        let s = parse(REAL);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        let names: Vec<&str> = s.tests.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "machine",
                "passes",
                "fails",
                "flaky-fails",
                "skips",
                "superficial"
            ]
        );
        assert_eq!(s.tests[1].1, result(Status::Pass, None));
        assert_eq!(
            s.tests[2].1,
            result(Status::Fail, Some("non-zero exit status 1"))
        );
        assert_eq!(
            s.tests[3].1,
            result(Status::Flaky, Some("non-zero exit status 3"))
        );
        assert_eq!(s.tests[5].1, result(Status::Pass, Some("(superficial)")));
        assert_eq!(s.counts(), "2 PASS, 1 FAIL, 1 FLAKY, 2 SKIP");
    }

    #[test]
    fn testbed_lines_are_errors_not_tests() {
        let s = parse(
            "fails                FAIL badpkg\n\
             blame: arg:th_1.0_all.deb th_1.0.dsc\n\
             badpkg: Test dependencies are unsatisfiable. A common reason is ...\n\
             erroneous package: Test dependencies are unsatisfiable\n\
             testbed failure: unexpected eof from the testbed\n\
             quitting: unexpected error, see log\n\
             t2                   BROKEN Test must have either path or command\n",
        );
        assert_eq!(
            s.tests,
            [("fails".into(), result(Status::Fail, Some("badpkg")))]
        );
        assert_eq!(s.errors.len(), 6, "{:?}", s.errors);
        assert!(s.errors[0].starts_with("blame: "));
        assert!(s.errors[3].starts_with("testbed failure: "));
    }

    #[test]
    fn tests_left_out_by_include_or_exclude_are_dropped() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut s = parse(REAL);
        let dropped = s.select(
            &strings(&["passes", "skips", "fails"]),
            &strings(&["fails"]),
        );
        assert_eq!(dropped, ["machine", "fails", "flaky-fails", "superficial"]);
        let kept: Vec<&str> = s.tests.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(kept, ["passes", "skips"]);
        let mut s = parse(REAL);
        assert_eq!(s.select(&[], &strings(&["machine"])), ["machine"]);
        assert_eq!(s.tests.len(), 5);
        let mut none = parse("*                    SKIP no tests in this package\n");
        assert!(none.select(&strings(&["x"]), &[]).is_empty());
    }

    #[test]
    fn a_test_name_with_a_colon_is_still_a_test() {
        let s = parse("name:with:colons     PASS\nPASS                 FAIL PASS at last\n");
        assert_eq!(s.tests[0].0, "name:with:colons");
        assert_eq!(
            s.tests[1],
            ("PASS".into(), result(Status::Fail, Some("PASS at last")))
        );
        assert!(s.errors.is_empty());
    }

    #[test]
    fn no_tests_is_a_skip_of_star() {
        let s = parse("*                    SKIP no tests in this package\n");
        assert_eq!(
            s.tests,
            [(
                "*".into(),
                result(Status::Skip, Some("no tests in this package"))
            )]
        );
    }

    fn fail_on(failed_test: bool, flaky_test: bool, skipped_test: bool) -> FailOn {
        FailOn {
            failed_test,
            flaky_test,
            skipped_test,
        }
    }

    #[test]
    fn fail_on_decides_which_statuses_fail_the_task() {
        let only = |line: &str| parse(line);
        let pass = only("a PASS\n");
        let fail = only("a FAIL non-zero exit status 1\n");
        let flaky = only("a FLAKY non-zero exit status 1\n");
        let skip = only("a SKIP exit status 77 and marked as skippable\n");
        let default = FailOn::default();
        assert_eq!(judge(&pass, Some(0), default), Verdict::Success);
        assert_eq!(judge(&fail, Some(4), default), Verdict::Failure);
        assert_eq!(judge(&flaky, Some(8), default), Verdict::Success);
        assert_eq!(judge(&skip, Some(8), default), Verdict::Success);

        let lenient = fail_on(false, false, false);
        assert_eq!(judge(&fail, Some(4), lenient), Verdict::Success);
        let strict = fail_on(true, true, true);
        assert_eq!(judge(&flaky, Some(8), strict), Verdict::Failure);
        assert_eq!(judge(&skip, Some(8), strict), Verdict::Failure);
        assert_eq!(
            judge(&skip, Some(8), fail_on(true, true, false)),
            Verdict::Success
        );
        assert_eq!(
            judge(&flaky, Some(8), fail_on(true, false, true)),
            Verdict::Failure,
            "exit 8: nothing positive ran"
        );
    }

    #[test]
    fn failed_and_skipped_together_exit_6_and_follow_fail_on() {
        let s = parse(REAL);
        assert_eq!(judge(&s, Some(6), FailOn::default()), Verdict::Failure);
        assert_eq!(
            judge(&s, Some(6), fail_on(false, false, false)),
            Verdict::Success
        );
        assert_eq!(
            judge(&s, Some(6), fail_on(false, true, false)),
            Verdict::Failure
        );
        assert_eq!(
            judge(&s, Some(6), fail_on(false, false, true)),
            Verdict::Failure
        );
    }

    #[test]
    fn the_exit_code_counts_a_failure_the_summary_lost() {
        let empty = Summary::default();
        assert_eq!(judge(&empty, Some(4), FailOn::default()), Verdict::Failure);
        assert_eq!(
            judge(&empty, Some(8), fail_on(true, false, true)),
            Verdict::Failure
        );
        assert_eq!(judge(&empty, Some(8), FailOn::default()), Verdict::Success);
    }

    #[test]
    fn exit_codes_from_12_up_are_errors_naming_the_testbed_lines() {
        let s = parse(
            "fails                FAIL badpkg\nblame: arg:x.deb\nbadpkg: Test dependencies are unsatisfiable\n",
        );
        let Verdict::Error(why) = judge(&s, Some(12), FailOn::default()) else {
            panic!("not an error")
        };
        assert!(why.contains("an erroneous package"), "{why}");
        assert!(
            why.contains("badpkg: Test dependencies are unsatisfiable"),
            "{why}"
        );
        for (code, what) in [
            (Some(16), "a testbed failure"),
            (Some(20), "exit code 20"),
            (Some(1), "exit code 1"),
            (None, "a signal"),
        ] {
            let Verdict::Error(why) = judge(&Summary::default(), code, FailOn::default()) else {
                panic!("{code:?} is not an error")
            };
            assert!(why.contains(what), "{why}");
        }
    }

    #[test]
    fn a_missing_capability_is_read_from_the_skip_details() {
        assert_eq!(
            missing_capability(
                "Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\""
            ),
            Some(("isolation-machine", "isolation-machine"))
        );
        assert_eq!(
            missing_capability("exit status 77 and marked as skippable"),
            None
        );
    }
}
