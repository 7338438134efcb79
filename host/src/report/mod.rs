//! Task run reports: check results, run status, exit codes and output
//! formats (libtaskotron ResultYAML, JUnit XML, JSON, tmt's results.yaml,
//! terminal summary).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub mod human;
pub mod junit;
pub mod resultyaml;
pub mod tmt;

pub use human::render as render_human;
pub use junit::to_string as to_junit;

/// Errors from writing reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// ResultYAML could not be written (e.g. a keyval with a reserved key).
    #[error("{0}")]
    ResultYaml(#[from] taskhost_resultyaml::Error),
    /// YAML serialization failed.
    #[error("YAML serialization failed: {0}")]
    YamlWrite(#[source] serde_norway::Error),
    /// JSON serialization failed (e.g. a non-UTF-8 results path).
    #[error("JSON serialization failed: {0}")]
    Json(#[from] serde_json::Error),
    /// XML writing failed.
    #[error("XML writing failed: {0}")]
    Xml(#[from] std::io::Error),
}

pub use taskhost_resultyaml::{Outcome, RESERVED_KEYS, UnknownOutcome, is_reserved_key};

/// One check result (one entry of ResultYAML's `results:` list).
///
/// In JSON, `item_type` is written as `type`, and `keyvals` stays a nested
/// object (ResultYAML flattens it instead).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// What was checked, e.g. an NVR.
    pub item: String,
    /// Item type, e.g. `koji_build`; `type` in YAML/JSON.
    #[serde(rename = "type")]
    pub item_type: String,
    pub outcome: Outcome,
    /// Check name, e.g. `dist.rpmlint`.
    pub checkname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Relative path of a log/artifact for this result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// Extra data; keys must not be reserved (see [`RESERVED_KEYS`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keyvals: BTreeMap<String, String>,
}

/// Final status of a task run (debusine statuses plus two host ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Failure,
    Error,
    Skipped,
    /// The plugin trapped or hit a resource limit.
    Crashed,
    /// Policy refused the task before it started.
    Refused,
}

impl Status {
    /// The lowercase name, e.g. `success`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Crashed => "crashed",
            Status::Refused => "refused",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One task run's report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub run_id: String,
    pub task: String,
    pub status: Status,
    #[serde(default)]
    pub results: Vec<CheckResult>,
    /// Ids of artifacts created by the run.
    #[serde(default)]
    pub artifacts: Vec<u64>,
    #[serde(default)]
    pub failed_stage: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// Start time (RFC 3339 recommended).
    pub started_at: String,
    pub duration_ms: u64,
    /// Artifact id of the run log.
    #[serde(default)]
    pub log_artifact: Option<u64>,
    /// Where the ResultYAML file was written, if anywhere.
    #[serde(default)]
    pub results_file: Option<PathBuf>,
    /// Exit code a formula's `exitcode` directive asked for (0 or 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
    /// The plugins that ran, with their digests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginRef>,
    /// Quotas the run hit, and what was refused past them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotas_exceeded: Vec<QuotaHit>,
    /// Where the run's audit log was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_file: Option<PathBuf>,
    /// The run's provenance: an in-toto Statement v1 with a SLSA
    /// Provenance v1 predicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<serde_json::Value>,
    /// The notifications of a failed run (task_data's `notifications`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<crate::notify::Sent>,
}

/// A plugin as a report names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRef {
    pub name: String,
    pub version: String,
    /// `sha256:HEX` of its `.wasm`.
    pub digest: String,
    /// `builtin:NAME` or the file it came from.
    pub origin: String,
}

/// A quota a run hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaHit {
    /// The policy key, e.g. `results`.
    pub quota: String,
    /// The limit, e.g. `10000` or `16 MiB`.
    pub limit: String,
    /// Requests refused past it.
    pub refused: u64,
}

impl Report {
    /// Worst outcome among the results, `None` when there are none.
    pub fn worst_outcome(&self) -> Option<Outcome> {
        self.results.iter().map(|r| r.outcome).max()
    }
}

/// Exit codes of `runtask` (see [`EXIT_CODES_HELP`]).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitCode {
    Ok = 0,
    TaskError = 1,
    Usage = 2,
    PolicyRefused = 3,
    Crashed = 4,
    CheckFailed = 100,
}

impl ExitCode {
    /// Numeric process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    // Higher is more severe: 4 > 3 > 1 > 2 > 100 > 0.
    fn severity(self) -> u8 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::CheckFailed => 1,
            ExitCode::Usage => 2,
            ExitCode::TaskError => 3,
            ExitCode::PolicyRefused => 4,
            ExitCode::Crashed => 5,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

/// Exit code table for `runtask --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
    0    success: every check PASSED or INFO (or the task was skipped)
    1    task error: the task failed to run (bad input, stage error)
    2    usage error: bad command line or configuration
    3    refused: policy refused the task before it started
    4    crashed: the plugin trapped or hit a resource limit
  100    check failed: the task ran, but a check was FAILED,
         NEEDS_INSPECTION, ABORTED or CRASHED
For several tasks, the most severe wins: 4 > 3 > 1 > 2 > 100 > 0.";

/// Exit code for one run.
///
/// Refused→3, Crashed→4, Error→1, Failure→100, Skipped→0; Success→0 when
/// every outcome is PASSED/INFO (or there are none), else 100.
pub fn exit_code(report: &Report) -> ExitCode {
    match report.status {
        Status::Refused => ExitCode::PolicyRefused,
        Status::Crashed => ExitCode::Crashed,
        Status::Error => ExitCode::TaskError,
        Status::Failure => ExitCode::CheckFailed,
        Status::Skipped => ExitCode::Ok,
        Status::Success => {
            if let Some(code) = report.exit_code {
                return if code == 0 {
                    ExitCode::Ok
                } else {
                    ExitCode::CheckFailed
                };
            }
            if report.results.iter().all(|r| r.outcome.is_ok()) {
                ExitCode::Ok
            } else {
                ExitCode::CheckFailed
            }
        }
    }
}

/// Most severe of several exit codes (`Ok` when empty).
///
/// Severity order: Crashed(4) > PolicyRefused(3) > TaskError(1) > Usage(2)
/// > CheckFailed(100) > Ok(0).
pub fn worst_exit(codes: impl IntoIterator<Item = ExitCode>) -> ExitCode {
    codes
        .into_iter()
        .max_by_key(|c| c.severity())
        .unwrap_or(ExitCode::Ok)
}

/// Pretty JSON of the whole report.
pub fn to_json(report: &Report) -> Result<String, ReportError> {
    Ok(serde_json::to_string_pretty(report)?)
}

/// ResultYAML of `report.results` (same as [`resultyaml::to_string`]).
pub fn to_yaml(report: &Report) -> Result<String, ReportError> {
    resultyaml::to_string(&report.results)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn result(outcome: Outcome) -> CheckResult {
        CheckResult {
            item: "xchat-0.5-1.fc20".into(),
            item_type: "koji_build".into(),
            outcome,
            checkname: "dist.rpmlint".into(),
            note: None,
            artifact: None,
            keyvals: BTreeMap::new(),
        }
    }

    pub(crate) fn report(status: Status, outcomes: &[Outcome]) -> Report {
        Report {
            plugins: Vec::new(),
            quotas_exceeded: Vec::new(),
            audit_file: None,
            provenance: None,
            notifications: Vec::new(),
            run_id: "run-1".into(),
            task: "rpmlint".into(),
            status,
            results: outcomes.iter().map(|o| result(*o)).collect(),
            artifacts: vec![],
            failed_stage: None,
            error: None,
            started_at: "2024-01-01T00:00:00Z".into(),
            duration_ms: 1500,
            log_artifact: None,
            results_file: None,
            exit_code: None,
        }
    }

    #[test]
    fn outcomes_are_ordered_best_to_worst() {
        let mut v = Outcome::ALL.to_vec();
        v.reverse();
        v.sort();
        assert_eq!(v, Outcome::ALL.to_vec());
    }

    #[test]
    fn outcome_display_and_from_str_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(o.to_string().parse::<Outcome>(), Ok(o));
        }
        assert_eq!(Outcome::NeedsInspection.to_string(), "NEEDS_INSPECTION");
        assert!("passed".parse::<Outcome>().is_err());
        assert!("WAIVED".parse::<Outcome>().is_err());
    }

    #[test]
    fn only_passed_and_info_are_ok() {
        let ok: Vec<_> = Outcome::ALL.into_iter().filter(|o| o.is_ok()).collect();
        assert_eq!(ok, vec![Outcome::Passed, Outcome::Info]);
    }

    #[test]
    fn worst_outcome_picks_the_worst_result() {
        use Outcome::*;
        assert_eq!(report(Status::Success, &[]).worst_outcome(), None);
        let r = report(Status::Success, &[Info, Failed, Passed]);
        assert_eq!(r.worst_outcome(), Some(Failed));
    }

    #[test]
    fn exit_code_follows_the_status_table() {
        use Outcome::*;
        let cases: &[(Status, &[Outcome], ExitCode)] = &[
            (Status::Refused, &[], ExitCode::PolicyRefused),
            (Status::Refused, &[Passed], ExitCode::PolicyRefused),
            (Status::Crashed, &[], ExitCode::Crashed),
            (Status::Crashed, &[Passed], ExitCode::Crashed),
            (Status::Error, &[], ExitCode::TaskError),
            (Status::Error, &[Failed], ExitCode::TaskError),
            (Status::Failure, &[], ExitCode::CheckFailed),
            (Status::Failure, &[Passed], ExitCode::CheckFailed),
            (Status::Skipped, &[], ExitCode::Ok),
            (Status::Skipped, &[Failed], ExitCode::Ok),
            (Status::Success, &[], ExitCode::Ok),
            (Status::Success, &[Passed], ExitCode::Ok),
            (Status::Success, &[Passed, Info], ExitCode::Ok),
            (Status::Success, &[Passed, Failed], ExitCode::CheckFailed),
            (Status::Success, &[NeedsInspection], ExitCode::CheckFailed),
            (Status::Success, &[Info, Aborted], ExitCode::CheckFailed),
            (Status::Success, &[Crashed], ExitCode::CheckFailed),
        ];
        for (status, outcomes, want) in cases {
            let got = exit_code(&report(*status, outcomes));
            assert_eq!(got, *want, "{status:?} {outcomes:?}");
        }
    }

    #[test]
    fn exit_codes_have_the_documented_numbers() {
        let nums: Vec<u8> = [
            ExitCode::Ok,
            ExitCode::TaskError,
            ExitCode::Usage,
            ExitCode::PolicyRefused,
            ExitCode::Crashed,
            ExitCode::CheckFailed,
        ]
        .into_iter()
        .map(ExitCode::code)
        .collect();
        assert_eq!(nums, vec![0, 1, 2, 3, 4, 100]);
        for n in nums {
            assert!(EXIT_CODES_HELP.contains(&format!("{n:>5}")), "{n}");
        }
    }

    #[test]
    fn worst_exit_uses_severity_not_numbers() {
        use ExitCode::*;
        assert_eq!(worst_exit([]), Ok);
        assert_eq!(worst_exit([Ok, Ok]), Ok);
        assert_eq!(worst_exit([Ok, CheckFailed]), CheckFailed);
        assert_eq!(worst_exit([CheckFailed, Usage]), Usage);
        assert_eq!(worst_exit([Usage, TaskError, CheckFailed]), TaskError);
        assert_eq!(worst_exit([TaskError, PolicyRefused]), PolicyRefused);
        assert_eq!(worst_exit([PolicyRefused, Crashed, CheckFailed]), Crashed);
        // Full order 4 > 3 > 1 > 2 > 100 > 0.
        let order = [Crashed, PolicyRefused, TaskError, Usage, CheckFailed, Ok];
        for (i, hi) in order.iter().enumerate() {
            for lo in &order[i..] {
                assert_eq!(worst_exit([*lo, *hi]), *hi);
            }
        }
    }

    #[test]
    fn json_uses_type_and_lowercase_status_and_round_trips() {
        let mut r = report(Status::Success, &[Outcome::Passed]);
        r.results[0].keyvals.insert("k".into(), "v".into());
        r.results_file = Some(PathBuf::from("/tmp/results.yml"));
        let json = to_json(&r).expect("json");
        assert!(json.contains("\"type\": \"koji_build\""));
        assert!(json.contains("\"status\": \"success\""));
        assert!(json.contains("\"outcome\": \"PASSED\""));
        let back: Report = serde_json::from_str(&json).expect("parse");
        assert_eq!(back.results, r.results);
        assert_eq!(back.results_file, r.results_file);
    }

    #[test]
    fn to_yaml_writes_the_report_results() {
        let r = report(Status::Success, &[Outcome::Info]);
        let y = to_yaml(&r).expect("yaml");
        let want: Vec<_> = r.results.iter().map(resultyaml::detail).collect();
        assert_eq!(taskhost_resultyaml::parse(&y).expect("parse"), want);
    }
}
