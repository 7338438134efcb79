//! debusine's Autopkgtest task: its task_data and their checks,
//! autopkgtest's summary file (`--summary`) and the verdict drawn from it,
//! the notes and outcomes of the results, and the data of the
//! `debian:autopkgtest` artifact.
//!
//! In the summary, each test is one line `NAME STATUS [DETAILS]`
//! (autopkgtest pads NAME to 20 columns), STATUS one of PASS, FAIL, SKIP,
//! FLAKY. Any other line comes from the testbed or autopkgtest itself
//! (`blame: ...`, `badpkg: ...`, `erroneous package: ...`, `testbed
//! failure: ...`): an error, not a test.

use crate::checks::{self, Backend, named};
use crate::control;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use taskhost_sdk::artifacts::{self, Artifact};
use taskhost_sdk::{ArtifactId, ArtifactRef, Command, Error, ExitStatus, Outcome, Result};

// ---- task_data --------------------------------------------------------

/// The task_data of the autopkgtest task.
#[derive(Debug, Deserialize)]
pub struct Data {
    /// What to test.
    pub input: Input,
    /// The architecture of the testbed (the environment's).
    pub host_architecture: String,
    /// A `debian:system-tarball` or `debian:system-image` (id or lookup
    /// such as `debian/match:codename=bookworm:variant=buildd`).
    pub environment: ArtifactRef,
    /// auto, unshare or qemu.
    #[serde(default)]
    pub backend: Backend,
    /// `--test-name`: only these tests (all when empty).
    #[serde(default)]
    pub include_tests: Vec<String>,
    /// `--skip-test`.
    #[serde(default)]
    pub exclude_tests: Vec<String>,
    /// 0 to 3: `-d` up to `-ddd`.
    #[serde(default)]
    pub debug_level: u8,
    /// One-line APT sources (`--add-apt-source`).
    #[serde(default)]
    pub extra_apt_sources: Vec<String>,
    /// `--apt-default-release=CODENAME` of the environment.
    #[serde(default)]
    pub use_packages_from_base_repository: bool,
    /// `--env=NAME=VALUE`: the build and test environment.
    #[serde(default)]
    pub extra_environment: BTreeMap<String, String>,
    /// `--needs-internet`.
    #[serde(default)]
    pub needs_internet: NeedsInternet,
    /// Which results fail the task.
    #[serde(default)]
    pub fail_on: FailOn,
    /// autopkgtest's timeouts.
    #[serde(default)]
    pub timeout: Timeout,
}

/// The input artifacts of task_data.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// A `debian:source-package` or `debian:upload` holding the .dsc.
    pub source_artifact_id: ArtifactRef,
    /// The binaries to test (their .debs).
    pub binary_artifacts_ids: Vec<ArtifactRef>,
    /// Other .debs the tests run with (reverse-dependency testing).
    #[serde(default)]
    pub context_artifacts_ids: Vec<ArtifactRef>,
}

/// `--needs-internet`: how tests with the needs-internet restriction run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NeedsInternet {
    /// Run them (the default).
    #[default]
    Run,
    /// Run them; a failure is a skip.
    Try,
    /// Skip them.
    Skip,
}

impl NeedsInternet {
    /// The option's value: `run`, `try`, `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            NeedsInternet::Run => "run",
            NeedsInternet::Try => "try",
            NeedsInternet::Skip => "skip",
        }
    }
}

/// Seconds (`factor`: a multiplier of autopkgtest's defaults).
#[derive(Debug, Default, Deserialize)]
pub struct Timeout {
    /// The whole autopkgtest run: autopkgtest 5.28 has no option for it
    /// (`--timeout` is ambiguous there), so the host ends the command.
    pub global: Option<u64>,
    /// `--timeout-factor`.
    pub factor: Option<f64>,
    /// `--timeout-short`.
    pub short: Option<u64>,
    /// `--timeout-install`.
    pub install: Option<u64>,
    /// `--timeout-test`.
    pub test: Option<u64>,
    /// `--timeout-copy`.
    pub copy: Option<u64>,
    /// `--timeout-build`.
    pub build: Option<u64>,
}

impl Timeout {
    /// `(KEY, seconds)` of each `--timeout-KEY` given.
    pub fn options(&self) -> Vec<(&'static str, u64)> {
        [
            ("short", self.short),
            ("install", self.install),
            ("test", self.test),
            ("copy", self.copy),
            ("build", self.build),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key, v)))
        .collect()
    }
}

/// The checks that need no artifact: each error names its key.
pub fn check(data: &Data) -> Result<()> {
    match data.backend {
        Backend::Auto | Backend::Unshare | Backend::Qemu => {}
        Backend::Local => {
            return Err(Error::invalid(
                "backend: local would run the tests on this host itself (autopkgtest's null virt \
                 server), which changes the host; use unshare, qemu (or auto)",
            ));
        }
        other => {
            return Err(Error::invalid(format!(
                "backend: {other:?} is not available for autopkgtest on this host; use unshare, \
                 qemu (or auto)"
            )));
        }
    }
    checks::check_architecture(&data.host_architecture).map_err(named("host_architecture"))?;
    for (key, tests) in [
        ("include_tests", &data.include_tests),
        ("exclude_tests", &data.exclude_tests),
    ] {
        for (i, test) in tests.iter().enumerate() {
            checks::check_test_name(test).map_err(named(format!("{key}[{i}]")))?;
        }
    }
    if data.debug_level > 3 {
        return Err(Error::invalid(format!(
            "debug_level: {} is out of range; give 0 (the default) to 3",
            data.debug_level
        )));
    }
    for (i, line) in data.extra_apt_sources.iter().enumerate() {
        checks::check_sources_line(line).map_err(named(format!("extra_apt_sources[{i}]")))?;
    }
    for (name, value) in &data.extra_environment {
        checks::check_variable(name, value).map_err(named(format!("extra_environment.{name}")))?;
    }
    let t = &data.timeout;
    for (key, value) in t
        .options()
        .into_iter()
        .chain(t.global.map(|g| ("global", g)))
    {
        if value == 0 {
            return Err(Error::invalid(format!(
                "timeout.{key}: 0 seconds; give a positive number of seconds"
            )));
        }
    }
    if let Some(factor) = t.factor.filter(|f| !(f.is_finite() && *f > 0.0)) {
        return Err(Error::invalid(format!(
            "timeout.factor: {factor} is not a positive number (e.g. 2 doubles autopkgtest's default timeouts)"
        )));
    }
    Ok(())
}

/// The category of an environment autopkgtest unpacks (backend unshare).
pub const TARBALL: &str = "debian:system-tarball";
/// The category of an environment booted as a machine (backend qemu).
pub const IMAGE: &str = "debian:system-image";

/// The backend for `backend` and the category of the environment
/// (artifact `env_id`).
pub fn backend_for(backend: Backend, category: &str, env_id: ArtifactId) -> Result<Backend> {
    match (backend, category) {
        (Backend::Auto | Backend::Unshare, TARBALL) => Ok(Backend::Unshare),
        (Backend::Auto | Backend::Qemu, IMAGE) => Ok(Backend::Qemu),
        (Backend::Qemu, other) => Err(Error::invalid(format!(
            "backend: qemu boots a {IMAGE}, and the environment (artifact {env_id}) is a {other}; \
             give an image (`runtask run simplesystemimagebuild` makes one) or use backend unshare"
        ))),
        (_, other) => Err(Error::invalid(format!(
            "backend: unshare unpacks a {TARBALL}, and the environment (artifact {env_id}) is a {other}; \
             give a tarball or use backend qemu"
        ))),
    }
}

// ---- command line -----------------------------------------------------

/// Where the plugin works in the workspace (shared by a formula's actions).
pub const DIR: &str = "autopkgtest";
/// autopkgtest's output directory; it must not exist beforehand.
pub const OUTPUT_DIR: &str = "autopkgtest/output";
/// Where a first run's output goes when a second run follows.
pub const CONTAINER_OUTPUT_DIR: &str = "autopkgtest/output-container";
/// Where the environment's tarball is fetched.
pub const TARBALL_DIR: &str = "autopkgtest/environment";
/// autopkgtest's summary file.
pub const SUMMARY: &str = "autopkgtest/output/summary";

/// Options every run passes, first (the exec grant pins them).
pub const FIXED: &[&str] = &[
    "--apt-upgrade",
    "--output-dir=autopkgtest/output",
    "--summary=autopkgtest/output/summary",
    "--no-built-binaries",
];

/// Where autopkgtest makes its testbed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Virt {
    /// On the host: a throwaway tree unpacked from this tarball.
    Unshare {
        /// Its workspace path.
        tarball: String,
    },
    /// Inside a disposable machine: the machine itself.
    Null,
}

/// What the command line needs beside task_data: workspace paths, and
/// values read from the input artifacts.
#[derive(Debug)]
pub struct Resolved {
    /// The testbed.
    pub virt: Virt,
    /// The workspace path of the .dsc.
    pub dsc: String,
    /// The binaries' and the context's .debs.
    pub debs: Vec<String>,
    /// The environment's codename (empty: unknown).
    pub codename: String,
    /// Only these tests (`include_tests` when empty).
    pub tests: Vec<String>,
}

/// autopkgtest's command line: [`FIXED`], one option per task_data key,
/// the .debs and the .dsc, then the virt server.
pub fn command_line(data: &Data, r: &Resolved) -> Command {
    let mut cmd = Command::new("autopkgtest").args(FIXED.iter().copied());
    let only = if r.tests.is_empty() {
        &data.include_tests
    } else {
        &r.tests
    };
    for test in only {
        cmd = cmd.arg(format!("--test-name={test}"));
    }
    for test in &data.exclude_tests {
        cmd = cmd.arg(format!("--skip-test={test}"));
    }
    if data.debug_level > 0 {
        cmd = cmd.arg(format!("-{}", "d".repeat(usize::from(data.debug_level))));
    }
    for line in &data.extra_apt_sources {
        cmd = cmd.arg(format!("--add-apt-source={}", line.trim()));
    }
    if data.use_packages_from_base_repository {
        cmd = cmd.arg(format!("--apt-default-release={}", r.codename));
    }
    for (name, value) in &data.extra_environment {
        cmd = cmd.arg(format!("--env={name}={value}"));
    }
    cmd = cmd.arg(format!("--needs-internet={}", data.needs_internet.as_str()));
    if let Some(factor) = data.timeout.factor {
        cmd = cmd.arg(format!("--timeout-factor={factor}"));
    }
    for (key, seconds) in data.timeout.options() {
        cmd = cmd.arg(format!("--timeout-{key}={seconds}"));
    }
    match &r.virt {
        Virt::Unshare { tarball } => {
            // autopkgtest < 5.31 leaves the testbed's resolver as the
            // tarball has it, and mmdebstrap tarballs have none: apt could
            // not reach a mirror.
            cmd = cmd
                .arg("--copy=/etc/resolv.conf:/etc/resolv.conf")
                .args(r.debs.iter().cloned())
                .arg(&r.dsc)
                .arg("--")
                .arg("unshare")
                .arg(format!("--arch={}", data.host_architecture));
            if !r.codename.is_empty() {
                cmd = cmd.arg(format!("--release={}", r.codename));
            }
            cmd = cmd.arg(format!("--tarball={tarball}"));
        }
        Virt::Null => {
            cmd = cmd
                .args(r.debs.iter().cloned())
                .arg(&r.dsc)
                .arg("--")
                .arg("null");
        }
    }
    cmd = cmd
        .stdout(format!("{DIR}/autopkgtest.stdout"))
        .stderr(format!("{DIR}/autopkgtest.stderr"));
    match data.timeout.global {
        Some(seconds) => cmd.timeout(std::time::Duration::from_secs(seconds)),
        None => cmd,
    }
}

// ---- the testbed ------------------------------------------------------

/// The environment: what its data says, checked against task_data.
#[derive(Clone, Debug)]
pub struct Testbed {
    /// The environment's artifact.
    pub id: ArtifactId,
    /// Its category: [`TARBALL`] or [`IMAGE`].
    pub category: String,
    /// `vendor` of its data (e.g. debian).
    pub vendor: String,
    /// `codename` of its data (e.g. bookworm).
    pub codename: String,
}

impl Testbed {
    /// The testbed of environment `env`, refused when its architecture is
    /// not `host_architecture`, or when it names no codename and
    /// `use_packages_from_base_repository` needs one.
    pub fn new(data: &Data, env: &Artifact) -> Result<Testbed> {
        let id = env.id;
        let field = |k: &str| {
            env.data
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let arch = field("architecture");
        if !arch.is_empty() && arch != data.host_architecture {
            return Err(Error::invalid(format!(
                "host_architecture: the environment (artifact {id}) is an {arch} system, not {}; \
                 pick an environment of that architecture (or set host_architecture to {arch})",
                data.host_architecture
            )));
        }
        let codename = field("codename");
        if data.use_packages_from_base_repository && codename.is_empty() {
            return Err(Error::invalid(format!(
                "use_packages_from_base_repository: the environment (artifact {id}) names no codename \
                 to pass as --apt-default-release"
            )));
        }
        Ok(Testbed {
            id,
            category: env.category.clone(),
            vendor: field("vendor"),
            codename,
        })
    }

    /// The newest system image of this testbed's vendor, codename and
    /// architecture `arch`, if the store has one. A lookup the host
    /// refuses (or fails) is an error, not "no image".
    pub fn machine(&self, arch: &str) -> Result<Option<Testbed>> {
        if self.vendor.is_empty() || self.codename.is_empty() {
            return Ok(None);
        }
        let query = format!(
            "{}/match:codename={}:architecture={arch}",
            self.vendor, self.codename
        );
        let id = match artifacts::lookup(&query, IMAGE) {
            Ok(id) => id,
            Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(Testbed {
            id,
            category: IMAGE.into(),
            vendor: self.vendor.clone(),
            codename: self.codename.clone(),
        }))
    }
}

/// What one autopkgtest run gave.
#[derive(Debug)]
pub struct Ran {
    /// Its summary, the tests not selected left out.
    pub summary: Summary,
    /// autopkgtest's exit code (None: killed).
    pub code: Option<i32>,
    /// The host ended it at its timeout.
    pub timed_out: bool,
    /// autopkgtest's stderr.
    pub stderr: String,
    /// The command line, shell-quoted ([`shown`]).
    pub cmdline: String,
}

impl Ran {
    /// The run of `cmd` that ended with `exit`, its summary read from
    /// [`SUMMARY`] (left empty when autopkgtest wrote none). A run that
    /// wrote no [`OUTPUT_DIR`] is an error saying how it ended.
    pub fn read(cmd: &Command, exit: &ExitStatus) -> Result<Ran> {
        let summary = match std::fs::read(SUMMARY) {
            Ok(bytes) => parse(&String::from_utf8_lossy(&bytes)),
            Err(_) => Summary::default(),
        };
        let stderr = exit.read_stderr().unwrap_or_default();
        if std::fs::metadata(OUTPUT_DIR).is_err() {
            let how = match (exit.code(), exit.signal()) {
                _ if exit.timed_out() => "timed out".to_owned(),
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                (None, None) => "no exit status".to_owned(),
            };
            return Err(Error::failed(format!(
                "autopkgtest wrote no output ({how}): {}",
                tail(&stderr)
            )));
        }
        Ok(Ran {
            summary,
            code: exit.code(),
            timed_out: exit.timed_out(),
            stderr,
            cmdline: shown(cmd),
        })
    }

    /// The verdict on the run ([`judge`]); one the host ended at its
    /// timeout (`timeout.global` when given) is an error.
    pub fn verdict(&self, fail_on: FailOn, global: Option<u64>) -> Verdict {
        if !self.timed_out {
            return judge(&self.summary, self.code, fail_on);
        }
        Verdict::Error(match global {
            Some(seconds) => {
                format!("autopkgtest did not finish within timeout.global ({seconds} s)")
            }
            None => "autopkgtest did not finish before the run's deadline".into(),
        })
    }

    /// This run with `tests` as `again` found them.
    pub fn merged(mut self, again: Ran, tests: &[String]) -> Ran {
        self.summary.merge(again.summary, tests);
        self.code = merge_codes(self.code, again.code);
        self.timed_out |= again.timed_out;
        if !again.stderr.trim().is_empty() {
            self.stderr = again.stderr;
        }
        self.cmdline = format!("{}; {}", self.cmdline, again.cmdline);
        self
    }
}

// ---- the summary ------------------------------------------------------

/// What autopkgtest says of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The test passed.
    Pass,
    /// The test failed.
    Fail,
    /// The test was skipped.
    Skip,
    /// A test marked flaky failed.
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

    /// The word autopkgtest writes: `PASS`, `FAIL`, `SKIP`, `FLAKY`.
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
    /// What autopkgtest says of the test.
    pub status: Status,
    /// The rest of its line, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// A parsed summary: tests in the order autopkgtest reported them, and
/// the lines that are not tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// (name, result) of each test.
    pub tests: Vec<(String, TestResult)>,
    /// The lines that are not tests (`blame: ...`, `badpkg: ...`).
    pub errors: Vec<String>,
}

impl Summary {
    /// Whether a test has `status`.
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

    /// Takes `tests` as `again` (a second run of them) found them, and
    /// `again`'s errors.
    pub fn merge(&mut self, again: Summary, tests: &[String]) {
        for (name, result) in again.tests {
            if tests.contains(&name) {
                match self.tests.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = result,
                    None => self.tests.push((name, result)),
                }
            }
        }
        self.errors.extend(again.errors);
    }

    /// The tests autopkgtest skipped because the testbed is no machine.
    pub fn needing_a_machine(&self) -> Vec<String> {
        self.tests
            .iter()
            .filter(|(_, r)| {
                r.status == Status::Skip
                    && r.details
                        .as_deref()
                        .and_then(missing_capability)
                        .is_some_and(|(_, capability)| capability == "isolation-machine")
            })
            .map(|(name, _)| name.clone())
            .collect()
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

/// Parses a summary file.
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
    /// The tests ran; nothing `fail_on` names happened.
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

/// autopkgtest's exit code of two runs: an error code wins; else the
/// bits of both (8, "nothing ran", only if neither ran anything).
pub fn merge_codes(a: Option<i32>, b: Option<i32>) -> Option<i32> {
    let plain = |c: Option<i32>| matches!(c, Some(0 | 2 | 4 | 6 | 8));
    match (a, b) {
        (Some(a), Some(b)) if plain(Some(a)) && plain(Some(b)) => {
            if a == 8 && b == 8 {
                Some(8)
            } else {
                Some(((a & !8) | (b & !8)) & 6)
            }
        }
        (a, _) if !plain(a) => a,
        (_, b) => b,
    }
}

// ---- results ----------------------------------------------------------

/// What a test's result says, for its note and its log line.
pub fn note(name: &str, result: &TestResult, fail_on: FailOn) -> String {
    let details = result.details.as_deref().unwrap_or_default();
    let mut note = match (result.status, missing_capability(details)) {
        (Status::Skip, Some((restriction, capability))) => format!(
            "SKIP: {name} needs {capability} (Restrictions: {restriction}), which the unshare \
             backend does not give; it needs a virtual machine: give a debian:system-image \
             environment (backend qemu or auto; `runtask run simplesystemimagebuild` makes one)"
        ),
        (status, _) if details.is_empty() => status.as_str().to_string(),
        (status, _) => format!("{}: {details}", status.as_str()),
    };
    if result.status != Status::Pass && !fail_on.fails(result.status) {
        let key = match result.status {
            Status::Fail => "failed_test",
            Status::Flaky => "flaky_test",
            _ => "skipped_test",
        };
        note.push_str(&format!(
            " (does not fail the task: fail_on.{key} is false)"
        ));
    }
    note
}

/// The outcome of a test's result.
pub fn outcome(status: Status, fail_on: FailOn) -> Outcome {
    match status {
        Status::Pass => Outcome::Passed,
        status if fail_on.fails(status) => Outcome::Failed,
        _ => Outcome::Info,
    }
}

/// The command line as one shell-quoted string (the artifact's
/// `cmdline`), quoted as Python's `shlex.join` quotes it for debusine.
pub fn shown(cmd: &Command) -> String {
    let quote = |arg: &String| {
        let safe = !arg.is_empty()
            && arg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
        if safe {
            arg.clone()
        } else {
            format!("'{}'", arg.replace('\'', "'\"'\"'"))
        }
    };
    cmd.argv().iter().map(quote).collect::<Vec<_>>().join(" ")
}

/// The regular files of output directory `top`, except `binaries/`
/// (copies of the inputs): (name relative to `top`, workspace path).
pub fn output_files(top: &str) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let mut dirs = vec![String::new()];
    while let Some(rel) = dirs.pop() {
        let dir = if rel.is_empty() {
            top.to_string()
        } else {
            format!("{top}/{rel}")
        };
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let kind = entry.file_type()?;
            if kind.is_dir() && rel != "binaries" {
                dirs.push(rel);
            } else if kind.is_file() {
                files.push((rel, format!("{dir}/{name}")));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The `source_package` of a `debian:autopkgtest`.
#[derive(Serialize)]
pub struct SourcePackage<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its version.
    pub version: &'a str,
    /// `artifact:ID/NAME.dsc`.
    pub url: String,
}

/// The last lines of a command's stderr, for a message.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// The data of a `debian:autopkgtest` artifact (debusine's).
#[derive(Serialize)]
pub struct AutopkgtestData<'a> {
    /// Each test's result, by name.
    pub results: BTreeMap<&'a str, &'a TestResult>,
    /// The command line(s) run, shell-quoted ([`shown`]).
    pub cmdline: String,
    /// The package tested.
    pub source_package: SourcePackage<'a>,
    /// The testbed's architecture.
    pub architecture: &'a str,
    /// `VENDOR:CODENAME` of the environment.
    pub distribution: String,
}

impl<'a> AutopkgtestData<'a> {
    /// The data of the artifact of `ran`, testing `source` on `testbed`.
    pub fn new(
        ran: &'a Ran,
        source: &'a control::SourcePackage,
        testbed: &Testbed,
        arch: &'a str,
    ) -> Self {
        let dsc_name = source.dsc.rsplit('/').next().unwrap_or_default();
        AutopkgtestData {
            results: ran
                .summary
                .tests
                .iter()
                .map(|(n, r)| (n.as_str(), r))
                .collect(),
            cmdline: ran.cmdline.clone(),
            source_package: SourcePackage {
                name: &source.name,
                version: &source.version,
                url: format!("artifact:{}/{dsc_name}", source.id),
            },
            architecture: arch,
            distribution: format!("{}:{}", testbed.vendor, testbed.codename),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taskhost_sdk::decode_task_data;

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

    fn data(json: &str) -> Data {
        decode_task_data(json).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn invalid(json: &str) -> String {
        let e = match decode_task_data::<Data>(json) {
            Ok(d) => check(&d).expect_err(json),
            Err(e) => e,
        };
        match e {
            Error::Invalid(m) => m,
            other => panic!("{other:?}"),
        }
    }

    const MINIMAL: &str = r#"{"input": {"source_artifact_id": 1, "binary_artifacts_ids": [2]},
        "environment": 3, "host_architecture": "amd64"}"#;

    fn with(extra: &str) -> String {
        format!("{},{extra}}}", MINIMAL.trim_end().trim_end_matches('}'))
    }

    fn details(status: Status, details: &str) -> TestResult {
        TestResult {
            status,
            details: (!details.is_empty()).then(|| details.to_string()),
        }
    }

    #[test]
    fn two_runs_exit_codes_merge() {
        assert_eq!(merge_codes(Some(8), Some(0)), Some(0));
        assert_eq!(merge_codes(Some(8), Some(8)), Some(8));
        assert_eq!(merge_codes(Some(2), Some(4)), Some(6));
        assert_eq!(merge_codes(Some(0), Some(16)), Some(16));
        assert_eq!(merge_codes(Some(12), Some(0)), Some(12));
        assert_eq!(merge_codes(None, Some(0)), None);
    }

    #[test]
    fn tests_skipped_for_want_of_a_machine_are_found() {
        let summary = parse(
            "machine              SKIP Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"\n\
             passes               PASS\n\
             skips                SKIP exit status 77 and marked as skippable\n",
        );
        assert_eq!(summary.needing_a_machine(), ["machine"]);
    }

    #[test]
    fn defaults_are_debusines() {
        let d = data(MINIMAL);
        assert_eq!(d.backend, Backend::Auto);
        assert_eq!(d.needs_internet, NeedsInternet::Run);
        assert_eq!(d.debug_level, 0);
        assert_eq!(d.fail_on, FailOn::default());
        assert!(d.fail_on.failed_test && !d.fail_on.flaky_test && !d.fail_on.skipped_test);
        assert!(d.input.context_artifacts_ids.is_empty());
        let d = data(&with(r#""fail_on": {"skipped_test": true}"#));
        assert!(d.fail_on.failed_test && d.fail_on.skipped_test);
    }

    #[test]
    fn bad_values_are_refused_naming_their_key() {
        check(&data(MINIMAL)).unwrap();
        for (extra, key) in [
            (
                r#""backend": "incus-lxc""#,
                "backend: IncusLxc is not available",
            ),
            (r#""backend": "local""#, "null virt server"),
            (r#""backend": "null""#, "backend: unknown variant `null`"),
            (
                r#""needs_internet": "maybe""#,
                "needs_internet: unknown variant `maybe`",
            ),
            (r#""debug_level": 4"#, "debug_level: 4 is out of range"),
            (r#""debug_level": -1"#, "debug_level"),
            (r#""include_tests": ["a b"]"#, "include_tests[0]"),
            (r#""exclude_tests": ["ok", ""]"#, "exclude_tests[1]"),
            (
                r#""extra_apt_sources": ["deb http://h/debian bookworm"]"#,
                "extra_apt_sources[0]: suite 'bookworm' needs at least one component",
            ),
            (
                r#""extra_apt_sources": ["http://h/debian bookworm main"]"#,
                "extra_apt_sources[0]",
            ),
            (
                r#""extra_environment": {"1BAD": "x"}"#,
                "extra_environment.1BAD",
            ),
            (r#""extra_environment": {"A": 1}"#, "extra_environment.A"),
            (r#""timeout": {"test": 0}"#, "timeout.test: 0 seconds"),
            (r#""timeout": {"global": 0}"#, "timeout.global"),
            (r#""timeout": {"factor": -2}"#, "timeout.factor"),
            (r#""timeout": {"forever": 1}"#, "timeout.forever"),
            (r#""fail_on": {"failed": true}"#, "fail_on.failed"),
            (r#""host_architecture": "any""#, "host_architecture"),
            (r#""bogus": 1"#, "bogus"),
        ] {
            let json = if extra.starts_with(r#""host_architecture""#) {
                MINIMAL.replace(r#""host_architecture": "amd64""#, extra)
            } else {
                with(extra)
            };
            let m = invalid(&json);
            assert!(m.contains(key), "{extra}: {m}");
        }
        let m = invalid(
            r#"{"input": {"source_artifact_id": 1}, "environment": 3, "host_architecture": "amd64"}"#,
        );
        assert!(m.contains("binary_artifacts_ids"), "{m}");
    }

    #[test]
    fn outcomes_follow_fail_on() {
        let lenient = FailOn {
            failed_test: false,
            flaky_test: false,
            skipped_test: false,
        };
        let strict = FailOn {
            failed_test: true,
            flaky_test: true,
            skipped_test: true,
        };
        assert_eq!(outcome(Status::Pass, strict), Outcome::Passed);
        for status in [Status::Fail, Status::Flaky, Status::Skip] {
            assert_eq!(outcome(status, strict), Outcome::Failed, "{status:?}");
            assert_eq!(outcome(status, lenient), Outcome::Info, "{status:?}");
        }
        assert_eq!(outcome(Status::Fail, FailOn::default()), Outcome::Failed);
        assert_eq!(outcome(Status::Flaky, FailOn::default()), Outcome::Info);
        let n = note(
            "t",
            &details(Status::Fail, "non-zero exit status 1"),
            lenient,
        );
        assert_eq!(
            n,
            "FAIL: non-zero exit status 1 (does not fail the task: fail_on.failed_test is false)"
        );
        assert_eq!(note("t", &details(Status::Pass, ""), lenient), "PASS");
    }

    #[test]
    fn a_test_needing_a_machine_is_a_skip_that_says_so() {
        let r = details(
            Status::Skip,
            "Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"",
        );
        let n = note("machine", &r, FailOn::default());
        assert!(
            n.starts_with("SKIP: machine needs isolation-machine"),
            "{n}"
        );
        assert!(n.contains("unshare backend does not give"), "{n}");
        assert!(n.contains("fail_on.skipped_test is false"), "{n}");
        assert_eq!(outcome(r.status, FailOn::default()), Outcome::Info);
    }

    #[test]
    fn results_serialize_as_debusines_artifact_data() {
        let r = details(Status::Flaky, "non-zero exit status 3");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"status": "FLAKY", "details": "non-zero exit status 3"})
        );
        assert_eq!(
            serde_json::to_value(details(Status::Pass, "")).unwrap(),
            serde_json::json!({"status": "PASS"})
        );
    }

    #[test]
    fn a_second_run_replaces_the_results_of_the_tests_it_ran() {
        let mut first = parse(
            "machine SKIP Test restriction \"isolation-machine\" requires testbed capability \"isolation-machine\"\npasses PASS\n",
        );
        let again =
            parse("machine FAIL non-zero exit status 1\npasses FAIL not asked for\nblame: x\n");
        first.merge(again, &["machine".to_string()]);
        assert_eq!(first.counts(), "1 PASS, 1 FAIL");
        assert_eq!(first.tests[0].1.status, Status::Fail);
        assert_eq!(first.errors, ["blame: x"]);
    }

    #[test]
    fn the_backend_follows_the_environment() {
        assert_eq!(
            backend_for(Backend::Auto, TARBALL, 3).unwrap(),
            Backend::Unshare
        );
        assert_eq!(backend_for(Backend::Auto, IMAGE, 3).unwrap(), Backend::Qemu);
        for (backend, category) in [(Backend::Qemu, TARBALL), (Backend::Unshare, IMAGE)] {
            let e = backend_for(backend, category, 3).unwrap_err();
            assert!(
                matches!(&e, Error::Invalid(m) if m.starts_with("backend: ")),
                "{e:?}"
            );
        }
    }

    fn resolved() -> Resolved {
        Resolved {
            virt: Virt::Unshare {
                tarball: "autopkgtest/environment/system.tar.xz".into(),
            },
            dsc: "autopkgtest/source/hello_1.0.dsc".into(),
            debs: vec!["autopkgtest/binaries/2/hello_1.0_amd64.deb".into()],
            codename: "bookworm".into(),
            tests: vec![],
        }
    }

    #[test]
    fn in_a_machine_autopkgtest_runs_the_null_server_there() {
        let d = data(&with(r#""include_tests": ["a"]"#));
        let r = Resolved {
            virt: Virt::Null,
            tests: vec!["machine".into()],
            ..resolved()
        };
        let cmd = command_line(&d, &r);
        assert_eq!(
            cmd.argv()[FIXED.len() + 1..],
            [
                "--test-name=machine",
                "--needs-internet=run",
                "autopkgtest/binaries/2/hello_1.0_amd64.deb",
                "autopkgtest/source/hello_1.0.dsc",
                "--",
                "null",
            ]
        );
    }

    #[test]
    fn the_command_line_is_debusines_with_the_fixed_options_first() {
        let d = data(MINIMAL);
        check(&d).unwrap();
        assert_eq!(
            command_line(&d, &resolved()).argv(),
            [
                "autopkgtest",
                "--apt-upgrade",
                "--output-dir=autopkgtest/output",
                "--summary=autopkgtest/output/summary",
                "--no-built-binaries",
                "--needs-internet=run",
                "--copy=/etc/resolv.conf:/etc/resolv.conf",
                "autopkgtest/binaries/2/hello_1.0_amd64.deb",
                "autopkgtest/source/hello_1.0.dsc",
                "--",
                "unshare",
                "--arch=amd64",
                "--release=bookworm",
                "--tarball=autopkgtest/environment/system.tar.xz",
            ]
        );
    }

    #[test]
    fn every_key_reaches_its_option() {
        let d = data(&with(
            r#""include_tests": ["a", "b"], "exclude_tests": ["c"], "debug_level": 2,
               "extra_apt_sources": ["deb http://127.0.0.1:9/debian bookworm main"],
               "use_packages_from_base_repository": true,
               "extra_environment": {"TH_B": "two words", "TH_A": "1=2"},
               "needs_internet": "skip",
               "timeout": {"global": 600, "factor": 1.5, "short": 10, "install": 20,
                           "test": 30, "copy": 40, "build": 50}"#,
        ));
        check(&d).unwrap();
        let cmd = command_line(&d, &resolved());
        let argv = cmd.argv();
        let options: Vec<&str> = argv[FIXED.len() + 1..]
            .iter()
            .map(String::as_str)
            .take_while(|a| a.starts_with('-') && *a != "--")
            .collect();
        assert_eq!(
            options,
            [
                "--test-name=a",
                "--test-name=b",
                "--skip-test=c",
                "-dd",
                "--add-apt-source=deb http://127.0.0.1:9/debian bookworm main",
                "--apt-default-release=bookworm",
                "--env=TH_A=1=2",
                "--env=TH_B=two words",
                "--needs-internet=skip",
                "--timeout-factor=1.5",
                "--timeout-short=10",
                "--timeout-install=20",
                "--timeout-test=30",
                "--timeout-copy=40",
                "--timeout-build=50",
                "--copy=/etc/resolv.conf:/etc/resolv.conf",
            ]
        );
        // autopkgtest 5.28 has no --timeout: global bounds the command.
        assert!(
            !argv.iter().any(|a| a.starts_with("--timeout=")),
            "{argv:?}"
        );
        assert!(
            format!("{cmd:?}").contains("timeout-ms: Some(600000)"),
            "{cmd:?}"
        );
    }

    #[test]
    fn the_cmdline_is_shell_quoted() {
        let d = data(&with(
            r#""extra_environment": {"TH": "two words", "TI": "it's"}, "include_tests": ["a"]"#,
        ));
        let shown = shown(&command_line(&d, &resolved()));
        assert!(shown.contains(" '--env=TH=two words' "), "{shown}");
        assert!(shown.contains(r#" '--env=TI=it'"'"'s' "#), "{shown}");
        assert!(
            shown.starts_with(
                "autopkgtest --apt-upgrade --output-dir=autopkgtest/output \
                 --summary=autopkgtest/output/summary --no-built-binaries --test-name=a "
            ),
            "{shown}"
        );
    }

    #[test]
    fn the_testbed_is_the_environment_of_the_host_architecture() {
        let env = |data: serde_json::Value| Artifact {
            id: 3,
            category: TARBALL.into(),
            data,
            files: vec![],
        };
        let d = data(MINIMAL);
        let t = Testbed::new(&d, &env(serde_json::json!({"vendor": "debian", "codename": "bookworm", "architecture": "amd64"}))).unwrap();
        assert_eq!(
            (t.id, t.vendor.as_str(), t.codename.as_str()),
            (3, "debian", "bookworm")
        );
        let e = Testbed::new(&d, &env(serde_json::json!({"architecture": "s390x"}))).unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.starts_with("host_architecture: the environment") && m.contains("is an s390x system, not amd64")),
            "{e:?}"
        );
        let d = data(&with(r#""use_packages_from_base_repository": true"#));
        let e = Testbed::new(&d, &env(serde_json::json!({}))).unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.starts_with("use_packages_from_base_repository:")),
            "{e:?}"
        );
    }
}
