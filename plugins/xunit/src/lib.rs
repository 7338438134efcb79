//! libtaskotron's `xunit` directive: turns a JUnit XML file into
//! ResultYAML.
//!
//! `aggregation: allpass` gives one result, PASSED when no test case
//! failed, with a note like `3 PASSED, 1 FAILED`; `aggregation: none`
//! gives one result per test case, named `CHECKNAME.<case>`. A failure or
//! an error is FAILED, a skipped case INFO. A file without test cases
//! gives one NEEDS_INSPECTION result: nothing ran, so nothing passed.

pub mod junit;

use junit::{Status, TestCase};
use serde::{Deserialize, Serialize};
use taskhost_sdk::Outcome;
use taskhost_sdk::directive::{Context, Directive, DirectiveParams, Output, ParamValue};
use taskhost_sdk::results::summary;
use taskhost_sdk::resultyaml::{self, CheckDetail};
use taskhost_sdk::{Error, Result, log};

#[derive(Debug, Deserialize, DirectiveParams)]
pub struct Params {
    /// the item tested (default: the run's item, -i)
    pub item: Option<String>,
    /// the item's type (default: the run's type, -t)
    #[serde(rename = "type")]
    pub item_type: Option<String>,
    /// the check's name (default: the formula's)
    pub checkname: Option<String>,
    /// the JUnit XML file, a workspace path
    pub file: String,
    /// allpass: one result; none: one per test case
    #[param(default = Aggregation::Allpass)]
    pub aggregation: Aggregation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, ParamValue)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// One result for the whole file.
    Allpass,
    /// One result per test case.
    None,
}

pub struct Xunit;

impl Directive for Xunit {
    type Params = Params;
    const NAME: &'static str = "xunit";
    const SUMMARY: &'static str = "Turns a JUnit XML file into check results (ResultYAML)";
    const RETURNS: &'static str = "ResultYAML text, for `resultsdb` and `exitcode`";
    const RAISES: &'static str = "when the file cannot be read or is not JUnit XML";

    fn run(p: Params, c: &Context) -> Result<Output> {
        check_file(&p.file)?;
        let xml = std::fs::read_to_string(&p.file).map_err(|e| {
            Error::failed(format!(
                "param `file`: cannot read '{}' in the workspace: {e} \
                 (paths are relative to ${{workdir}}; write the JUnit XML there first)",
                p.file
            ))
        })?;
        let cases = junit::parse(&xml)
            .map_err(|e| Error::invalid(format!("param `file`: '{}': {e}", p.file)))?;
        let base = CheckDetail::new(
            p.item.unwrap_or_else(|| c.item.clone()),
            p.item_type.unwrap_or_else(|| c.item_type.clone()),
            p.checkname.unwrap_or_else(|| c.checkname.clone()),
            Outcome::Passed,
        );
        let base = match artifact_path(&p.file, &c.artifactsdir) {
            Some(a) => base.artifact(a),
            None => base,
        };
        let details = aggregate(&base, &cases, p.aggregation);
        let outcomes: Vec<Outcome> = cases.iter().map(|c| outcome(c.status)).collect();
        log::info(format!(
            "{}: {} test case(s): {}",
            p.file,
            cases.len(),
            summary(&outcomes)
        ));
        Ok(Output::value(resultyaml::to_string(&details)?))
    }
}

/// `file` is a workspace path: not absolute, no `..` part.
pub fn check_file(file: &str) -> Result<()> {
    let why = if file.starts_with('/') {
        "is outside the workspace; give a workspace path"
    } else if file.split('/').any(|part| part == "..") {
        "goes up with `..`; give a workspace path without it"
    } else {
        return Ok(());
    };
    Err(Error::invalid(format!(
        "param `file`: '{file}' {why} (relative to ${{workdir}}, e.g. ${{artifactsdir}}/junit.xml)"
    )))
}

/// The results for `cases`, each a copy of `base` with its outcome set.
pub fn aggregate(
    base: &CheckDetail,
    cases: &[TestCase],
    aggregation: Aggregation,
) -> Vec<CheckDetail> {
    if cases.is_empty() {
        let mut d = base.clone().note("no test cases in the file");
        d.outcome = Outcome::NeedsInspection;
        return vec![d];
    }
    match aggregation {
        Aggregation::Allpass => {
            let outcomes: Vec<Outcome> = cases.iter().map(|c| outcome(c.status)).collect();
            let mut d = base.clone().note(summary(&outcomes));
            d.outcome = if outcomes.iter().all(|o| o.is_ok()) {
                Outcome::Passed
            } else {
                Outcome::Failed
            };
            vec![d]
        }
        Aggregation::None => cases
            .iter()
            .map(|case| {
                let mut d = base.clone();
                d.outcome = outcome(case.status);
                d.checkname = Some(format!(
                    "{}.{}",
                    base.checkname.as_deref().unwrap_or_default(),
                    case.name
                ));
                if let Some(m) = &case.message {
                    d.note = Some(short(m));
                }
                d
            })
            .collect(),
    }
}

fn outcome(status: Status) -> Outcome {
    match status {
        Status::Passed => Outcome::Passed,
        Status::Skipped => Outcome::Info,
        Status::Failed | Status::Error => Outcome::Failed,
    }
}

/// The first line of a message, at most 200 characters.
fn short(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// `file` relative to the artifacts directory, when it is inside it (the
/// run keeps that directory, so a result can point into it).
pub fn artifact_path(file: &str, artifactsdir: &str) -> Option<String> {
    let file = file.trim_start_matches("./");
    let dir = artifactsdir.trim_start_matches("./").trim_end_matches('/');
    file.strip_prefix(dir)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|rest| !rest.is_empty() && !rest.split('/').any(|p| p == ".."))
        .map(str::to_string)
}

taskhost_sdk::export_directive!(Xunit, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, status: Status) -> TestCase {
        TestCase {
            name: name.into(),
            classname: None,
            status,
            message: None,
        }
    }

    fn base() -> CheckDetail {
        CheckDetail::new("foo-1.0-1.fc40", "koji_build", "dist.unit", Outcome::Passed)
    }

    #[test]
    fn allpass_counts_outcomes_in_the_note() {
        let cases = [
            case("a", Status::Passed),
            case("b", Status::Failed),
            case("c", Status::Passed),
            case("d", Status::Passed),
        ];
        let d = aggregate(&base(), &cases, Aggregation::Allpass);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].outcome, Outcome::Failed);
        assert_eq!(d[0].note.as_deref(), Some("3 PASSED, 1 FAILED"));
        assert_eq!(d[0].checkname.as_deref(), Some("dist.unit"));

        let cases = [case("a", Status::Passed), case("b", Status::Skipped)];
        let d = aggregate(&base(), &cases, Aggregation::Allpass);
        assert_eq!(
            (d[0].outcome, d[0].note.as_deref()),
            (Outcome::Passed, Some("1 PASSED, 1 INFO"))
        );
    }

    #[test]
    fn none_gives_one_result_per_case() {
        let mut failing = case("b", Status::Error);
        failing.message = Some("boom\nat line 3".into());
        let cases = [
            case("a", Status::Passed),
            failing,
            case("c", Status::Skipped),
        ];
        let d = aggregate(&base(), &cases, Aggregation::None);
        let got: Vec<(&str, Outcome, Option<&str>)> = d
            .iter()
            .map(|d| {
                (
                    d.checkname.as_deref().unwrap(),
                    d.outcome,
                    d.note.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("dist.unit.a", Outcome::Passed, None),
                ("dist.unit.b", Outcome::Failed, Some("boom")),
                ("dist.unit.c", Outcome::Info, None),
            ]
        );
        assert!(
            d.iter()
                .all(|d| d.item.as_deref() == Some("foo-1.0-1.fc40"))
        );
    }

    #[test]
    fn no_cases_need_inspection() {
        for a in [Aggregation::Allpass, Aggregation::None] {
            let d = aggregate(&base(), &[], a);
            assert_eq!(d.len(), 1);
            assert_eq!(d[0].outcome, Outcome::NeedsInspection);
        }
    }

    #[test]
    fn artifacts_point_into_the_artifacts_dir() {
        assert_eq!(
            artifact_path("artifacts/junit.xml", "artifacts").as_deref(),
            Some("junit.xml")
        );
        assert_eq!(
            artifact_path("./artifacts/x/j.xml", "artifacts").as_deref(),
            Some("x/j.xml")
        );
        assert_eq!(artifact_path("junit.xml", "artifacts"), None);
        assert_eq!(artifact_path("artifactsX/j.xml", "artifacts"), None);
        assert_eq!(artifact_path("artifacts/../j.xml", "artifacts"), None);
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(short(&"x".repeat(300)).chars().count(), 201);
        assert_eq!(short("  one\ntwo"), "one");
    }

    #[test]
    fn results_are_resultyaml() {
        let d = aggregate(&base(), &[case("a", Status::Passed)], Aggregation::Allpass);
        let text = resultyaml::to_string(&d).unwrap();
        assert_eq!(resultyaml::parse(&text).unwrap(), d);
    }
}
