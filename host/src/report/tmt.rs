//! tmt's `results.yaml`, for a tmt test with `result: custom` (Fedora CI
//! runs its tests with tmt and Testing Farm). The format is tmt's
//! `spec/results.fmf`; the tests check it against tmt's own JSON schema
//! (`tmt/schemas/results.yaml`).
//!
//! - `name: /` is the run itself (tmt gives it the tmt test's name): the
//!   run's verdict, its status and error as `note`, its log as `log`.
//! - `/<checkname>/<item>` is one check result. Both parts are
//!   percent-encoded (see [`segment`]) so that each stays one segment of the
//!   name whatever the plugin wrote; `ids` keeps the originals (`checkname`,
//!   `item`, `type`).
//! - PASSED→pass, INFO→info, FAILED→fail, NEEDS_INSPECTION→warn,
//!   ABORTED and CRASHED→error, the note saying which.
//! - `log` paths are relative to `$TMT_TEST_DATA` (see [`collect_logs`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Outcome, Report, ReportError, Status};
use crate::store::ArtifactStore;

/// A result outcome in tmt (`result_outcome` in tmt's `common.yaml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TmtOutcome {
    Pass,
    Fail,
    Info,
    Warn,
    Error,
    Skip,
    Pending,
}

impl TmtOutcome {
    // tmt's ResultOutcome.reduce: error, fail, warn, pass, info, skip, pending.
    fn severity(self) -> u8 {
        match self {
            TmtOutcome::Error => 6,
            TmtOutcome::Fail => 5,
            TmtOutcome::Warn => 4,
            TmtOutcome::Pass => 3,
            TmtOutcome::Info => 2,
            TmtOutcome::Skip => 1,
            TmtOutcome::Pending => 0,
        }
    }

    /// The worst of `outcomes`, as tmt reduces them; `None` when empty.
    pub fn worst(outcomes: impl IntoIterator<Item = TmtOutcome>) -> Option<TmtOutcome> {
        outcomes.into_iter().max_by_key(|o| o.severity())
    }
}

impl From<Outcome> for TmtOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Passed => TmtOutcome::Pass,
            Outcome::Info => TmtOutcome::Info,
            Outcome::Failed => TmtOutcome::Fail,
            Outcome::NeedsInspection => TmtOutcome::Warn,
            Outcome::Aborted | Outcome::Crashed => TmtOutcome::Error,
        }
    }
}

/// One entry of tmt's results file: the keys taskhost writes. tmt sets
/// `serial-number`, `guest`, `context` and `data-path` itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TmtResult {
    /// Starts with `/`; tmt puts the tmt test's name in front.
    pub name: String,
    pub result: TmtOutcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<String>,
    /// Paths relative to `$TMT_TEST_DATA`, the main log first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ids: BTreeMap<String, String>,
    /// `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// `HH:MM:SS`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

impl TmtResult {
    /// A result with nothing but its name and outcome.
    pub fn new(name: impl Into<String>, result: TmtOutcome) -> Self {
        TmtResult {
            name: name.into(),
            result,
            note: Vec::new(),
            log: Vec::new(),
            ids: BTreeMap::new(),
            start_time: None,
            end_time: None,
            duration: None,
        }
    }

    // Every text but the ids' keys (fixed words), through `f`.
    fn map_text(&self, f: &mut impl FnMut(&str) -> String) -> TmtResult {
        TmtResult {
            name: f(&self.name),
            result: self.result,
            note: self.note.iter().map(|s| f(s)).collect(),
            log: self.log.iter().map(|s| f(s)).collect(),
            ids: self.ids.iter().map(|(k, v)| (k.clone(), f(v))).collect(),
            start_time: self.start_time.as_deref().map(&mut *f),
            end_time: self.end_time.as_deref().map(&mut *f),
            duration: self.duration.as_deref().map(&mut *f),
        }
    }
}

/// Log paths of a run, as `log` entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Logs {
    /// The run's own logs, the main one first.
    pub run: Vec<String>,
    /// Each check result's logs, by its index in `report.results`.
    pub results: Vec<Vec<String>>,
}

/// tmt's results file for `report`.
pub fn to_string(report: &Report, logs: &Logs) -> Result<String, ReportError> {
    to_yaml(&results(report, logs))
}

/// tmt's results file for a run that ended without a report (bad input, a
/// plugin the policy does not trust, a signal): one `/` error saying why.
pub fn failure(message: &str) -> Result<String, ReportError> {
    let mut run = TmtResult::new("/", TmtOutcome::Error);
    run.note.push(message.to_owned());
    to_yaml(&[run])
}

/// The run as `/`, then one result per check result. A check result
/// without logs of its own gets the run's.
pub fn results(report: &Report, logs: &Logs) -> Vec<TmtResult> {
    let mut run = TmtResult::new("/", run_outcome(report));
    run.note = run_note(report);
    run.log = logs.run.clone();
    run.ids.insert("taskhost-run".into(), report.run_id.clone());
    if let Some((start, end)) = times(report) {
        run.start_time = Some(start);
        run.end_time = Some(end);
    }
    run.duration = Some(duration(report.duration_ms));

    let mut out = vec![run];
    for (index, r) in report.results.iter().enumerate() {
        let mut result = TmtResult::new(result_name(&r.checkname, &r.item), r.outcome.into());
        result
            .note
            .extend(r.note.iter().filter(|n| !n.is_empty()).cloned());
        if matches!(r.outcome, Outcome::Aborted | Outcome::Crashed) {
            result.note.push(format!("taskhost outcome: {}", r.outcome));
        }
        result.log = match logs.results.get(index) {
            Some(own) if !own.is_empty() => own.clone(),
            _ => logs.run.clone(),
        };
        result.ids = BTreeMap::from([
            ("checkname".to_owned(), r.checkname.clone()),
            ("item".to_owned(), r.item.clone()),
            ("type".to_owned(), r.item_type.clone()),
        ]);
        out.push(result);
    }
    out
}

/// The run's verdict: `error` when it errored, crashed or was refused,
/// `skip` when skipped, else the worst of its results (`pass` without
/// any), at least `fail` when it failed or a formula's exit code was 100.
pub fn run_outcome(report: &Report) -> TmtOutcome {
    let results = TmtOutcome::worst(report.results.iter().map(|r| r.outcome.into()));
    let at_least_fail = |r: Option<TmtOutcome>| {
        TmtOutcome::worst(r.into_iter().chain([TmtOutcome::Fail])).unwrap_or(TmtOutcome::Fail)
    };
    match report.status {
        Status::Error | Status::Crashed | Status::Refused => TmtOutcome::Error,
        Status::Skipped => TmtOutcome::Skip,
        Status::Failure => at_least_fail(results),
        Status::Success if report.exit_code.is_some_and(|c| c != 0) => at_least_fail(results),
        Status::Success => results.unwrap_or(TmtOutcome::Pass),
    }
}

fn run_note(report: &Report) -> Vec<String> {
    let mut note = vec![format!(
        "taskhost run {} of {}: {}",
        report.run_id, report.task, report.status
    )];
    match (&report.failed_stage, &report.error) {
        (Some(s), Some(e)) => note.push(format!("stage '{s}': {e}")),
        (Some(s), None) => note.push(format!("stage '{s}'")),
        (None, Some(e)) => note.push(e.clone()),
        (None, None) => {}
    }
    if let Some(code) = report.exit_code {
        note.push(format!("formula exit code {code}"));
    }
    for q in &report.quotas_exceeded {
        note.push(format!(
            "quota '{}' ({}) reached: {} refused",
            q.quota, q.limit, q.refused
        ));
    }
    note
}

/// Characters a name segment percent-encodes besides control and
/// non-ASCII ones.
const SEGMENT: &AsciiSet = &CONTROLS.add(b' ').add(b'/').add(b'%').add(b'(').add(b')');

/// `text` as one segment of a tmt name: `/`, `%`, `(`, `)`, spaces, control
/// and non-ASCII characters percent-encoded (UTF-8), `.` and `..` as
/// `%2E` and `%2E%2E`, and empty text as `(empty)`. Distinct texts give
/// distinct segments.
pub fn segment(text: &str) -> String {
    match text {
        "" => "(empty)".to_owned(),
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => utf8_percent_encode(text, SEGMENT).to_string(),
    }
}

/// `/<checkname>/<item>`, each part one [`segment`].
pub fn result_name(checkname: &str, item: &str) -> String {
    format!("/{}/{}", segment(checkname), segment(item))
}

/// `HH:MM:SS` (hours may take more digits).
fn duration(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Start and end of the run in tmt's form, when `started_at` is RFC 3339.
fn times(report: &Report) -> Option<(String, String)> {
    use time::format_description::well_known::Rfc3339;
    let start = OffsetDateTime::parse(&report.started_at, &Rfc3339)
        .ok()?
        .to_offset(time::UtcOffset::UTC);
    let ms = i64::try_from(report.duration_ms).ok()?;
    let end = start.checked_add(time::Duration::milliseconds(ms))?;
    let stamp = |t: OffsetDateTime| {
        t.format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
        ))
        .ok()
    };
    Some((stamp(start)?, stamp(end)?))
}

/// Writes `results` as YAML.
///
/// tmt reads it with ruamel.yaml, which takes plain `2024-01-01`,
/// `1_000` or a time stamp for a date or a number where the schema wants
/// text; serde_norway does not quote those. So every text made of
/// printable ASCII without `'` is written single-quoted (which reads the
/// same); any other text cannot look like a number or a date, and
/// serde_norway quotes and escapes it as it needs.
pub fn to_yaml(results: &[TmtResult]) -> Result<String, ReportError> {
    let mut quoted = Quoted::new();
    let marked: Vec<TmtResult> = results
        .iter()
        .map(|r| r.map_text(&mut |s| quoted.mark(s)))
        .collect();
    let text = serde_norway::to_string(&marked).map_err(ReportError::YamlWrite)?;
    Ok(quoted.apply(&text))
}

/// Texts to single-quote stand in the serialized output as plain tokens
/// that only this writer knows (a fresh UUID), swapped afterwards.
struct Quoted {
    token: String,
    texts: Vec<String>,
}

impl Quoted {
    fn new() -> Self {
        Quoted {
            token: format!("tmtq{}n", uuid::Uuid::new_v4().simple()),
            texts: Vec::new(),
        }
    }

    fn mark(&mut self, text: &str) -> String {
        if !text
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'\'')
        {
            return text.to_owned();
        }
        self.texts.push(text.to_owned());
        format!("{}{}x", self.token, self.texts.len() - 1)
    }

    // One pass: a text put back is never searched again.
    fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(&self.token) {
            out.push_str(&rest[..at]);
            let after = &rest[at + self.token.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let original = after[..digits]
                .parse::<usize>()
                .ok()
                .and_then(|i| self.texts.get(i))
                .filter(|_| after[digits..].starts_with('x'));
            match original {
                Some(t) => {
                    out.push('\'');
                    out.push_str(t);
                    out.push('\'');
                    rest = &after[digits + 1..];
                }
                None => {
                    out.push_str(&self.token);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Most files of one artifact that a result lists as logs.
const MAX_FILES: usize = 16;

/// The logs of `report`, as paths relative to `data_dir`
/// (`$TMT_TEST_DATA`, which tmt reads them from). A log outside
/// `data_dir` is copied to `data_dir/taskhost/<run id>/` first. Without
/// `data_dir` (not in a tmt test), the paths are absolute.
///
/// The run's logs are a formula's `runtask.log` and ResultYAML, kept in
/// its artifacts directory, or the files of a task's log artifact
/// (`taskhost.log` first). A result's logs are the files of its
/// `artifact:ID`, or the file it names in a formula's artifacts directory.
/// What cannot be found or copied is left out (and logged).
pub fn collect_logs(report: &Report, store: &dyn ArtifactStore, data_dir: Option<&Path>) -> Logs {
    // A formula keeps runtask.log beside its results.yaml and artifacts; a
    // task's results.yaml is in its run record, its logs in the store.
    let kept = report
        .results_file
        .as_deref()
        .and_then(Path::parent)
        .filter(|dir| dir.join("runtask.log").is_file());
    let mut run: Vec<Source> = match kept {
        Some(dir) => ["runtask.log", "results.yaml"]
            .into_iter()
            .filter_map(|name| kept_file(dir, name))
            .collect(),
        None => Vec::new(),
    };
    if let Some(id) = report.log_artifact {
        let mut files = stored_files(store, id);
        files.sort_by_key(|f| f.label.file_name() != Some("taskhost.log".as_ref()));
        run.extend(files);
    }
    let mut placer = Placer::new(data_dir, &report.run_id);
    let run = placer.place_all(&run);
    let results = report
        .results
        .iter()
        .map(|r| {
            let sources = match r.artifact.as_deref() {
                None => Vec::new(),
                Some(a) => match a.strip_prefix("artifact:") {
                    Some(id) => id
                        .parse()
                        .map(|id| stored_files(store, id))
                        .unwrap_or_default(),
                    None => kept.and_then(|dir| kept_file(dir, a)).into_iter().collect(),
                },
            };
            placer.place_all(&sources)
        })
        .collect();
    Logs { run, results }
}

/// A log file, and its path under `taskhost/<run id>/` when copied.
struct Source {
    path: PathBuf,
    label: PathBuf,
}

/// `rel` when it is a relative path that stays where it is joined.
fn plain_relative(rel: &Path) -> Option<&Path> {
    let plain =
        !rel.as_os_str().is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then_some(rel)
}

/// File `artifact` of a formula's kept artifacts `dir` (a workspace path,
/// maybe under `artifacts/`, as the resultsdb directive reads it).
fn kept_file(dir: &Path, artifact: &str) -> Option<Source> {
    let rel = artifact.trim_start_matches("./");
    let rel = plain_relative(Path::new(rel.strip_prefix("artifacts/").unwrap_or(rel)))?;
    let path = dir.join(rel);
    path.is_file().then(|| Source {
        path,
        label: rel.to_path_buf(),
    })
}

fn stored_files(store: &dyn ArtifactStore, id: u64) -> Vec<Source> {
    let artifact = match store.get(id) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!("tmt results: artifact {id}: {e}");
            return Vec::new();
        }
    };
    artifact
        .files
        .iter()
        .take(MAX_FILES)
        .filter_map(|f| {
            let label =
                Path::new(&format!("artifact-{id}")).join(plain_relative(Path::new(&f.name))?);
            let path = store.file_path(id, &f.name).ok()?;
            Some(Source { path, label })
        })
        .collect()
}

/// Where log paths point.
enum Target {
    /// Not in a tmt test: absolute paths.
    Absolute,
    /// Relative to this directory (canonical).
    Data(PathBuf),
    /// `$TMT_TEST_DATA` is set but unusable: no logs.
    Broken,
}

struct Placer {
    target: Target,
    run_dir: PathBuf,
    placed: HashMap<PathBuf, Option<String>>,
}

impl Placer {
    fn new(data_dir: Option<&Path>, run_id: &str) -> Self {
        let target = match data_dir {
            None => Target::Absolute,
            Some(dir) => match std::fs::create_dir_all(dir).and_then(|()| dir.canonicalize()) {
                Ok(dir) => Target::Data(dir),
                Err(e) => {
                    tracing::warn!("tmt results: {}: {e}; no logs listed", dir.display());
                    Target::Broken
                }
            },
        };
        Placer {
            target,
            run_dir: Path::new("taskhost").join(segment(run_id)),
            placed: HashMap::new(),
        }
    }

    fn place_all(&mut self, sources: &[Source]) -> Vec<String> {
        sources.iter().filter_map(|s| self.place(s)).collect()
    }

    fn place(&mut self, source: &Source) -> Option<String> {
        if let Some(done) = self.placed.get(&source.path) {
            return done.clone();
        }
        let placed = self.place_new(source);
        self.placed.insert(source.path.clone(), placed.clone());
        placed
    }

    fn place_new(&self, source: &Source) -> Option<String> {
        let data = match &self.target {
            Target::Absolute => {
                let path = std::path::absolute(&source.path).ok()?;
                return path.to_str().map(str::to_owned);
            }
            Target::Broken => return None,
            Target::Data(dir) => dir,
        };
        let real = source.path.canonicalize().ok()?;
        if let Ok(rel) = real.strip_prefix(data) {
            return rel.to_str().map(str::to_owned);
        }
        let rel = self.run_dir.join(&source.label);
        let dest = data.join(&rel);
        let copied = dest
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::copy(&real, &dest));
        if let Err(e) = copied {
            tracing::warn!(
                "tmt results: copying {} to {}: {e}",
                real.display(),
                dest.display()
            );
            return None;
        }
        rel.to_str().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{report, result};
    use crate::report::{CheckResult, QuotaHit};

    fn parse(text: &str) -> Vec<TmtResult> {
        serde_norway::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn outcomes_map_to_tmt_outcomes() {
        use Outcome::*;
        let want = [
            (Passed, "pass"),
            (Info, "info"),
            (Failed, "fail"),
            (NeedsInspection, "warn"),
            (Aborted, "error"),
            (Crashed, "error"),
        ];
        for (outcome, tmt) in want {
            let r = report(Status::Success, &[outcome]);
            let out = results(&r, &Logs::default());
            let value = serde_json::to_value(out[1].result).expect("json");
            assert_eq!(value, tmt, "{outcome}");
        }
    }

    #[test]
    fn the_run_verdict_follows_the_status_and_the_worst_result() {
        use Outcome::*;
        let cases: &[(Status, &[Outcome], Option<u8>, TmtOutcome)] = &[
            (Status::Success, &[], None, TmtOutcome::Pass),
            (Status::Success, &[Passed, Info], None, TmtOutcome::Pass),
            (Status::Success, &[Info], None, TmtOutcome::Info),
            (
                Status::Success,
                &[Passed, NeedsInspection],
                None,
                TmtOutcome::Warn,
            ),
            (
                Status::Success,
                &[NeedsInspection, Failed],
                None,
                TmtOutcome::Fail,
            ),
            (Status::Success, &[Failed, Aborted], None, TmtOutcome::Error),
            (Status::Success, &[Passed], Some(100), TmtOutcome::Fail),
            (Status::Success, &[Passed], Some(0), TmtOutcome::Pass),
            (Status::Failure, &[], None, TmtOutcome::Fail),
            (Status::Failure, &[Passed], None, TmtOutcome::Fail),
            (Status::Failure, &[Crashed], None, TmtOutcome::Error),
            (Status::Skipped, &[], None, TmtOutcome::Skip),
            (Status::Error, &[Passed], None, TmtOutcome::Error),
            (Status::Crashed, &[], None, TmtOutcome::Error),
            (Status::Refused, &[], None, TmtOutcome::Error),
        ];
        for (status, outcomes, exit, want) in cases {
            let mut r = report(*status, outcomes);
            r.exit_code = *exit;
            assert_eq!(run_outcome(&r), *want, "{status} {outcomes:?} {exit:?}");
            assert_eq!(results(&r, &Logs::default())[0].result, *want);
        }
    }

    #[test]
    fn a_run_without_results_is_one_result_that_says_why() {
        let mut r = report(Status::Crashed, &[]);
        r.failed_stage = Some("execute".into());
        r.error = Some("wasm trap: unreachable".into());
        r.quotas_exceeded.push(QuotaHit {
            quota: "results".into(),
            limit: "10".into(),
            refused: 3,
        });
        let text = to_string(&r, &Logs::default()).expect("yaml");
        let out = parse(&text);
        assert_eq!(out.len(), 1, "{text}");
        assert_eq!(out[0].name, "/");
        assert_eq!(out[0].result, TmtOutcome::Error);
        assert_eq!(
            out[0].note,
            [
                "taskhost run run-1 of rpmlint: crashed",
                "stage 'execute': wasm trap: unreachable",
                "quota 'results' (10) reached: 3 refused",
            ]
        );
        assert_eq!(out[0].ids["taskhost-run"], "run-1");
    }

    #[test]
    fn a_failure_without_a_report_is_an_error_with_its_message() {
        let text =
            failure("runtask: error: plugin x is not trusted\nadd [plugins.x]").expect("yaml");
        let out = parse(&text);
        assert_eq!(
            out,
            [TmtResult {
                note: vec!["runtask: error: plugin x is not trusted\nadd [plugins.x]".into()],
                ..TmtResult::new("/", TmtOutcome::Error)
            }]
        );
    }

    #[test]
    fn check_results_are_named_checkname_then_item_and_keep_their_ids() {
        let mut r = report(Status::Success, &[Outcome::Failed, Outcome::Crashed]);
        r.results[0].note = Some("5 ERRORS, 10 WARNINGS".into());
        let out = results(&r, &Logs::default());
        assert_eq!(out[1].name, "/dist.rpmlint/xchat-0.5-1.fc20");
        assert_eq!(out[1].note, ["5 ERRORS, 10 WARNINGS"]);
        assert_eq!(
            out[1].ids,
            BTreeMap::from([
                ("checkname".into(), "dist.rpmlint".into()),
                ("item".into(), "xchat-0.5-1.fc20".into()),
                ("type".into(), "koji_build".into()),
            ])
        );
        assert_eq!(out[2].note, ["taskhost outcome: CRASHED"]);
        assert!(out[1].start_time.is_none() && out[1].duration.is_none());
    }

    #[test]
    fn hostile_names_stay_one_segment_each() {
        let cases = [
            ("a/b", "a%2Fb"),
            ("..", "%2E%2E"),
            (".", "%2E"),
            ("", "(empty)"),
            ("(empty)", "%28empty%29"),
            ("50%", "50%25"),
            ("x\ny: z", "x%0Ay:%20z"),
            ("tab\there", "tab%09here"),
            ("é\u{2028}", "%C3%A9%E2%80%A8"),
            (
                "a: [b] #c &d *e !f |g >h 'i' \"j\"",
                "a:%20[b]%20#c%20&d%20*e%20!f%20|g%20>h%20'i'%20\"j\"",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(segment(text), want, "{text:?}");
        }
        let name = result_name("../..", "/etc/passwd");
        assert_eq!(name, "/..%2F../%2Fetc%2Fpasswd");
        assert_eq!(name.matches('/').count(), 2);
        // Distinct texts, distinct names.
        let texts = ["a/b", "a%2Fb", "a b", "a%20b", "", "(empty)", ".", "%2E"];
        let names: std::collections::BTreeSet<_> = texts.iter().map(|t| segment(t)).collect();
        assert_eq!(names.len(), texts.len());
    }

    #[test]
    fn hostile_text_round_trips_through_yaml() {
        let hostile = [
            "plain",
            "yes",
            "no",
            "~",
            "null",
            "",
            " leading and trailing ",
            "2024-01-01",
            "2001-12-14t21:59:43.10-05:00",
            "12:30:00",
            "1_000",
            "0x10",
            "010",
            "1e3",
            ".inf",
            "- item",
            "key: value",
            "# comment",
            "&anchor *alias !tag |block >folded",
            "it's \"quoted\"",
            "line one\nline two: x\n- three",
            "\r\n\t\u{7}\u{1b}[31mred\u{7f}\u{85}\u{a0}\u{2028}\u{feff}\u{fffe}",
            "---\n...\n",
            "{flow: [seq]}",
            "/",
            "%",
        ];
        let mut r = report(Status::Error, &[]);
        r.error = Some(hostile.join(" | "));
        r.run_id = "run: 1\n- x".into();
        for (i, text) in hostile.iter().enumerate() {
            let mut c = result(Outcome::ALL[i % Outcome::ALL.len()]);
            c.item = (*text).into();
            c.checkname = (*text).into();
            c.item_type = (*text).into();
            c.note = Some((*text).into());
            r.results.push(c);
        }
        let logs = Logs {
            run: hostile.iter().map(|s| (*s).to_owned()).collect(),
            results: vec![vec!["2024-01-01".into(), "a b/c: d.log".into()]],
        };
        let want = results(&r, &logs);
        let text = to_string(&r, &logs).expect("yaml");
        assert!(!text.contains("tmtq"), "{text}");
        assert_eq!(parse(&text), want, "{text}");
        for (i, text) in hostile.iter().enumerate() {
            let got = &want[i + 1];
            assert!(got.name.starts_with('/'));
            assert_eq!(got.name.matches('/').count(), 2, "{:?}", got.name);
            assert!(!got.name.contains(['\n', '\r', ' ']), "{:?}", got.name);
            assert_eq!(got.ids["item"], *text);
            assert_eq!(got.ids["checkname"], *text);
        }
    }

    #[test]
    fn texts_that_look_like_dates_or_numbers_are_quoted() {
        let mut r = report(Status::Success, &[]);
        r.started_at = "2024-05-06T07:08:09.5Z".into();
        r.duration_ms = 3_723_250;
        r.run_id = "1_000".into();
        let text = to_string(&r, &Logs::default()).expect("yaml");
        for line in [
            "start-time: '2024-05-06T07:08:09.500000+00:00'",
            "end-time: '2024-05-06T08:10:12.750000+00:00'",
            "duration: '01:02:03'",
            "taskhost-run: '1_000'",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn ten_thousand_results_are_written_quickly() {
        let mut r = report(Status::Success, &[Outcome::Passed; 10_000]);
        for (i, c) in r.results.iter_mut().enumerate() {
            c.note = Some(format!("note {i}"));
        }
        let started = std::time::Instant::now();
        let text = to_string(&r, &Logs::default()).expect("yaml");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(text.contains("- 'note 9999'"));
        assert_eq!(parse(&text).len(), 10_001);
    }

    #[test]
    fn times_are_left_out_when_the_start_is_unknown() {
        let mut r = report(Status::Success, &[]);
        r.started_at = String::new();
        let out = results(&r, &Logs::default());
        assert_eq!(
            (out[0].start_time.as_deref(), out[0].end_time.as_deref()),
            (None, None)
        );
        assert_eq!(out[0].duration.as_deref(), Some("00:00:01"));
        assert_eq!(duration(100 * 3600 * 1000 + 59_999), "100:00:59");
    }

    #[test]
    fn the_output_has_tmts_shape() {
        let mut r = report(Status::Success, &[Outcome::Passed]);
        r.results[0].note = Some("all good".into());
        let logs = Logs {
            run: vec!["taskhost/run-1/runtask.log".into()],
            results: vec![vec!["taskhost/run-1/rpmlint.log".into()]],
        };
        let text = to_string(&r, &logs).expect("yaml");
        let want = "\
- name: '/'
  result: pass
  note:
  - 'taskhost run run-1 of rpmlint: success'
  log:
  - 'taskhost/run-1/runtask.log'
  ids:
    taskhost-run: 'run-1'
  start-time: '2024-01-01T00:00:00.000000+00:00'
  end-time: '2024-01-01T00:00:01.500000+00:00'
  duration: '00:00:01'
- name: '/dist.rpmlint/xchat-0.5-1.fc20'
  result: pass
  note:
  - 'all good'
  log:
  - 'taskhost/run-1/rpmlint.log'
  ids:
    checkname: 'dist.rpmlint'
    item: 'xchat-0.5-1.fc20'
    type: 'koji_build'
";
        assert_eq!(text, want);
    }

    #[test]
    fn a_result_without_logs_gets_the_runs() {
        let r = report(Status::Success, &[Outcome::Passed, Outcome::Failed]);
        let logs = Logs {
            run: vec!["run.log".into()],
            results: vec![vec![], vec!["own.log".into()]],
        };
        let out = results(&r, &logs);
        assert_eq!(out[1].log, ["run.log"]);
        assert_eq!(out[2].log, ["own.log"]);
    }

    // ---- logs ----

    use crate::store::LocalStore;

    fn with_artifact(r: &mut CheckResult, artifact: &str) {
        r.artifact = Some(artifact.into());
    }

    #[test]
    fn formula_logs_under_the_data_dir_are_listed_in_place() {
        let data = tempfile::tempdir().expect("tmp");
        let kept = data.path().join("u1");
        std::fs::create_dir_all(kept.join("sub")).expect("mkdir");
        for f in ["runtask.log", "results.yaml", "sub/rpmlint.log"] {
            std::fs::write(kept.join(f), f).expect("write");
        }
        std::fs::write(data.path().join("secret"), "x").expect("write");
        let store = LocalStore::open(data.path().join("store")).expect("store");
        let mut r = report(Status::Success, &[Outcome::Passed; 5]);
        r.results_file = Some(kept.join("results.yaml"));
        with_artifact(&mut r.results[0], "artifacts/sub/rpmlint.log");
        with_artifact(&mut r.results[1], "./sub/rpmlint.log");
        with_artifact(&mut r.results[2], "../secret");
        with_artifact(&mut r.results[3], "/etc/passwd");
        with_artifact(&mut r.results[4], "missing.log");
        let logs = collect_logs(&r, &store, Some(data.path()));
        assert_eq!(logs.run, ["u1/runtask.log", "u1/results.yaml"]);
        assert_eq!(logs.results[0], ["u1/sub/rpmlint.log"]);
        assert_eq!(logs.results[1], ["u1/sub/rpmlint.log"]);
        for i in 2..5 {
            assert!(logs.results[i].is_empty(), "{i}: {:?}", logs.results[i]);
        }
        assert!(!data.path().join("taskhost").exists(), "nothing copied");
    }

    #[test]
    fn logs_outside_the_data_dir_are_copied_into_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("data");
        let store = LocalStore::open(dir.path().join("store")).expect("store");
        let log = dir.path().join("run.log");
        std::fs::write(&log, "the run log").expect("write");
        let stderr = dir.path().join("stderr.log");
        std::fs::write(&stderr, "oops").expect("write");
        let log_id = store
            .create(
                crate::store::NewArtifact::new(
                    "debusine:work-request-debug-logs",
                    serde_json::json!({}),
                )
                .with_file("plugin-stderr.log", &stderr)
                .with_file("taskhost.log", &log),
            )
            .expect("create")
            .id;
        let out = dir.path().join("lintian.txt");
        std::fs::write(&out, "E: bad").expect("write");
        let lintian = store
            .create(
                crate::store::NewArtifact::new("debian:lintian", serde_json::json!({}))
                    .with_file("out/lintian.txt", &out),
            )
            .expect("create")
            .id;
        let mut r = report(
            Status::Success,
            &[
                Outcome::Failed,
                Outcome::Passed,
                Outcome::Passed,
                Outcome::Passed,
            ],
        );
        r.run_id = "../r/1".into();
        r.log_artifact = Some(log_id);
        // A task's run record: its results.yaml, and no artifacts kept there.
        let record = dir.path().join("runs/1");
        std::fs::create_dir_all(&record).expect("mkdir");
        std::fs::write(record.join("results.yaml"), "results: []").expect("write");
        std::fs::write(record.join("provenance.json"), "{}").expect("write");
        r.results_file = Some(record.join("results.yaml"));
        with_artifact(&mut r.results[0], &format!("artifact:{lintian}"));
        with_artifact(&mut r.results[1], "artifact:999");
        with_artifact(&mut r.results[2], "provenance.json");
        with_artifact(&mut r.results[3], "artifact:../../x");
        let logs = collect_logs(&r, &store, Some(&data));
        let run_dir = "taskhost/..%2Fr%2F1";
        assert_eq!(
            logs.run,
            [
                format!("{run_dir}/artifact-{log_id}/taskhost.log"),
                format!("{run_dir}/artifact-{log_id}/plugin-stderr.log"),
            ]
        );
        assert_eq!(
            logs.results[0],
            [format!("{run_dir}/artifact-{lintian}/out/lintian.txt")]
        );
        for i in 1..4 {
            assert!(logs.results[i].is_empty(), "{i}: {:?}", logs.results[i]);
        }
        let copied = std::fs::read_to_string(data.join(&logs.results[0][0])).expect("copied");
        assert_eq!(copied, "E: bad");
        assert_eq!(
            std::fs::read_to_string(data.join(&logs.run[0])).expect("copied"),
            "the run log"
        );

        // Without a data dir: absolute paths, nothing copied.
        let logs = collect_logs(&r, &store, None);
        assert!(Path::new(&logs.results[0][0]).is_absolute(), "{logs:?}");
        assert_eq!(
            std::fs::read_to_string(&logs.results[0][0]).expect("store file"),
            "E: bad"
        );
    }
}
