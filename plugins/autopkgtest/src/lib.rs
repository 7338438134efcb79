//! autopkgtest: runs a source package's tests (DEP-8) against its binaries.
//!
//! Follows debusine's Autopkgtest task: the real autopkgtest runs with the
//! options debusine always passes (`--apt-upgrade --output-dir --summary
//! --no-built-binaries`) and one option per task_data key, on one of two
//! testbeds:
//!
//! - a `debian:system-tarball` environment: autopkgtest runs on the host
//!   (the `local` backend) with its own `unshare` virt server, which
//!   unpacks the tarball into a throwaway testbed (as root of a user
//!   namespace; `isolation-container`);
//! - a `debian:system-image` environment: the host boots the image as a
//!   disposable machine (the `qemu` backend) and autopkgtest runs inside
//!   it with the `null` virt server: the testbed is that whole machine
//!   (`isolation-machine`), thrown away afterwards.
//!
//! `backend: auto` follows the environment's category. With a tarball, the
//! tests that autopkgtest skipped because they need `isolation-machine`
//! are run again in a machine booted from the newest system image of the
//! same vendor, codename and architecture, when the store has one. The
//! `null` virt server never runs on the host itself.
//!
//! The summary file gives each test's status (PASS, FAIL, FLAKY, SKIP);
//! `fail_on` and the exit code decide the task's status, and an erroneous
//! package or a testbed failure (exit 12 and up) is an error. One
//! `debian:autopkgtest` artifact keeps the results and the output
//! directory (without the copied binaries), relating to the source and
//! the binaries tested.

pub mod summary;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;
use summary::{FailOn, Status, Summary, TestResult, Verdict};
use taskhost_sdk::artifacts::{self, NewArtifact, RelationType};
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{
    ArtifactId, ArtifactRef, Command, Environment, Error, Outcome, Result, Task, log,
};

// ---- task_data --------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Data {
    pub input: Input,
    /// The architecture of the testbed (the environment's).
    pub host_architecture: String,
    /// A `debian:system-tarball` or `debian:system-image` (id or lookup
    /// such as `debian/match:codename=bookworm:variant=buildd`).
    pub environment: ArtifactRef,
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
    #[serde(default)]
    pub needs_internet: NeedsInternet,
    #[serde(default)]
    pub fail_on: FailOn,
    #[serde(default)]
    pub timeout: Timeout,
}

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

/// debusine's backends. unshare and qemu exist here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    #[default]
    Auto,
    Unshare,
    IncusLxc,
    IncusVm,
    Qemu,
    Local,
}

/// `--needs-internet`: how tests with the needs-internet restriction run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NeedsInternet {
    #[default]
    Run,
    Try,
    Skip,
}

impl NeedsInternet {
    fn as_str(self) -> &'static str {
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
    pub factor: Option<f64>,
    pub short: Option<u64>,
    pub install: Option<u64>,
    pub test: Option<u64>,
    pub copy: Option<u64>,
    pub build: Option<u64>,
}

impl Timeout {
    /// `(KEY, seconds)` of each `--timeout-KEY` given.
    fn options(&self) -> Vec<(&'static str, u64)> {
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
    let named = |key: String| move |why: String| Error::invalid(format!("{key}: {why}"));
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
    check_architecture(&data.host_architecture).map_err(named("host_architecture".into()))?;
    for (key, tests) in [
        ("include_tests", &data.include_tests),
        ("exclude_tests", &data.exclude_tests),
    ] {
        for (i, test) in tests.iter().enumerate() {
            check_test_name(test).map_err(named(format!("{key}[{i}]")))?;
        }
    }
    if data.debug_level > 3 {
        return Err(Error::invalid(format!(
            "debug_level: {} is out of range; give 0 (the default) to 3",
            data.debug_level
        )));
    }
    for (i, line) in data.extra_apt_sources.iter().enumerate() {
        check_sources_line(line).map_err(named(format!("extra_apt_sources[{i}]")))?;
    }
    for (name, value) in &data.extra_environment {
        check_variable(name, value).map_err(named(format!("extra_environment.{name}")))?;
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

/// A Debian architecture name such as `amd64` or `armhf`.
pub fn check_architecture(arch: &str) -> std::result::Result<(), String> {
    let ok = arch.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && arch
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok && !["all", "any", "source"].contains(&arch) {
        Ok(())
    } else {
        Err(format!(
            "'{arch}' is not a Debian architecture (e.g. amd64, arm64, i386)"
        ))
    }
}

/// A test name from debian/tests/control: no blanks, no `/`.
pub fn check_test_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        Err("is empty; give a test name from debian/tests/control".into())
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        Err(format!(
            "'{name}' is not a test name (no blanks or '/'; see debian/tests/control)"
        ))
    } else {
        Ok(())
    }
}

/// One sources.list line: `deb|deb-src [ [OPTIONS] ] URI SUITE [COMPONENT...]`,
/// where a SUITE ending in `/` (a flat repository) takes no components.
pub fn check_sources_line(line: &str) -> std::result::Result<(), String> {
    if line.chars().any(char::is_control) {
        return Err("must be a single line without control characters".into());
    }
    let (kind, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
    if kind != "deb" && kind != "deb-src" {
        return Err(format!(
            "'{line}' does not start with deb or deb-src (e.g. 'deb http://deb.debian.org/debian bookworm main')"
        ));
    }
    let rest = rest.trim_start();
    let rest = match rest.strip_prefix('[') {
        Some(options) => match options.split_once(']') {
            Some((_, after)) => after,
            None => return Err("opens options with '[' but never closes them with ']'".into()),
        },
        None => rest,
    };
    let mut words = rest.split_whitespace();
    let uri = words.next().ok_or("has no URI")?;
    if !uri.split_once(':').is_some_and(|(scheme, path)| {
        !path.is_empty() && scheme.starts_with(|c: char| c.is_ascii_lowercase())
    }) {
        return Err(format!(
            "'{uri}' is not a URI (e.g. http://deb.debian.org/debian)"
        ));
    }
    let suite = words
        .next()
        .ok_or_else(|| format!("has no suite after '{uri}'"))?;
    match (suite.ends_with('/'), words.count()) {
        (true, n) if n > 0 => Err(format!(
            "suite '{suite}' is a flat repository path (it ends in '/') and takes no components"
        )),
        (false, 0) => Err(format!(
            "suite '{suite}' needs at least one component (e.g. main), or end it with '/' for a flat repository"
        )),
        _ => Ok(()),
    }
}

/// An environment variable for `--env=NAME=VALUE`.
pub fn check_variable(name: &str, value: &str) -> std::result::Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "'{name}' is not a variable name (letters, digits and '_', not starting with a digit)"
        ));
    }
    if value.contains('\0') {
        return Err("the value contains a NUL byte".into());
    }
    Ok(())
}

// ---- command line -----------------------------------------------------

/// Where the plugin works in the workspace (shared by a formula's actions).
const DIR: &str = "autopkgtest";
const TARBALL_DIR: &str = "autopkgtest/environment";
/// autopkgtest's output directory; it must not exist beforehand.
pub const OUTPUT_DIR: &str = "autopkgtest/output";
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
    Unshare { tarball: String },
    /// Inside a disposable machine: the machine itself.
    Null,
}

/// What the command line needs beside task_data: workspace paths, and
/// values read from the input artifacts.
#[derive(Debug)]
pub struct Resolved {
    pub virt: Virt,
    pub dsc: String,
    /// The binaries' and the context's .debs.
    pub debs: Vec<String>,
    /// The environment's codename (empty: unknown).
    pub codename: String,
    /// Only these tests (`include_tests` when empty).
    pub tests: Vec<String>,
}

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

// ---- inputs -----------------------------------------------------------

/// The source package: its .dsc's workspace path, name and version.
struct Source {
    id: ArtifactId,
    dsc: String,
    name: String,
    version: String,
}

fn fetch_source(id: ArtifactId) -> Result<Source> {
    let paths = artifacts::fetch(id, &format!("{DIR}/source"))?;
    let dsc = paths
        .into_iter()
        .find(|p| p.ends_with(".dsc"))
        .ok_or_else(|| {
            Error::invalid(format!(
                "input.source_artifact_id: artifact {id} holds no .dsc"
            ))
        })?;
    let fields = dsc_fields(&std::fs::read_to_string(&dsc)?)
        .map_err(|e| Error::invalid(format!("input.source_artifact_id: {dsc}: {e}")))?;
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    Ok(Source {
        id,
        name: field("Source"),
        version: field("Version"),
        dsc,
    })
}

/// The fields of a .dsc (a clear signature is taken off).
pub fn dsc_fields(text: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let body = match text.strip_prefix("-----BEGIN PGP SIGNED MESSAGE-----") {
        Some(signed) => {
            let start = signed.find("\n\n").map_or(0, |i| i + 2);
            let end = signed
                .find("-----BEGIN PGP SIGNATURE-----")
                .unwrap_or(signed.len());
            signed.get(start..end).unwrap_or_default().to_string()
        }
        None => text.to_string(),
    };
    let parsed =
        deb822_lossless::Deb822::from_str(&body).map_err(|e| format!("not deb822: {e}"))?;
    let paragraph = parsed.paragraphs().next().ok_or("no fields")?;
    Ok(paragraph.items().collect())
}

/// The .debs of the artifacts under `key`, fetched into `DIR/SUBDIR/ID`;
/// returns (artifact ids, .deb paths).
fn fetch_debs(
    key: &str,
    refs: &[ArtifactRef],
    subdir: &str,
) -> Result<(Vec<ArtifactId>, Vec<String>)> {
    let (mut ids, mut debs) = (Vec::new(), Vec::new());
    for reference in refs {
        let id = reference.id()?;
        let found: Vec<String> = artifacts::fetch(id, &format!("{DIR}/{subdir}/{id}"))?
            .into_iter()
            .filter(|p| p.ends_with(".deb"))
            .collect();
        if found.is_empty() {
            return Err(Error::invalid(format!(
                "{key}: artifact {id} holds no .deb"
            )));
        }
        ids.push(id);
        debs.extend(found);
    }
    Ok((ids, debs))
}

/// The environment: what its data says, checked against task_data.
struct Testbed {
    id: ArtifactId,
    category: String,
    vendor: String,
    codename: String,
}

const TARBALL: &str = "debian:system-tarball";
const IMAGE: &str = "debian:system-image";

fn testbed(data: &Data) -> Result<Testbed> {
    let id = data.environment.id()?;
    let env = artifacts::get(id)?;
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
        category: env.category,
        vendor: field("vendor"),
        codename,
    })
}

/// The environment's tarball, fetched into the workspace.
fn tarball(id: ArtifactId) -> Result<String> {
    artifacts::fetch(id, TARBALL_DIR)?
        .into_iter()
        .find(|p| p.rsplit('/').next().is_some_and(|n| n.contains(".tar")))
        .ok_or_else(|| Error::invalid(format!("environment: artifact {id} holds no .tar* file")))
}

// ---- output -----------------------------------------------------------

/// The regular files of output directory `top`, except `binaries/`
/// (copies of the inputs): (name relative to `top`, workspace path).
fn output_files(top: &str) -> Result<Vec<(String, String)>> {
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

#[derive(Serialize)]
struct SourcePackage<'a> {
    name: &'a str,
    version: &'a str,
    url: String,
}

/// The data of a `debian:autopkgtest` artifact (debusine's).
#[derive(Serialize)]
struct AutopkgtestData<'a> {
    results: BTreeMap<&'a str, &'a TestResult>,
    cmdline: String,
    source_package: SourcePackage<'a>,
    architecture: &'a str,
    /// `VENDOR:CODENAME` of the environment.
    distribution: String,
}

/// What a test's result says, for its note.
fn note(name: &str, result: &TestResult, fail_on: FailOn) -> String {
    let details = result.details.as_deref().unwrap_or_default();
    let mut note = match (result.status, summary::missing_capability(details)) {
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

fn outcome(status: Status, fail_on: FailOn) -> Outcome {
    match status {
        Status::Pass => Outcome::Passed,
        status if fail_on.fails(status) => Outcome::Failed,
        _ => Outcome::Info,
    }
}

/// Stores the output directory as a `debian:autopkgtest` artifact,
/// relating to the source and the binaries.
fn store(
    data: &Data,
    source: &Source,
    testbed: &Testbed,
    binaries: &[ArtifactId],
    summary: &Summary,
    cmdline: String,
    outputs: &[(String, String)],
) -> Result<ArtifactId> {
    let dsc_name = source.dsc.rsplit('/').next().unwrap_or_default();
    let artifact = outputs
        .iter()
        .cloned()
        .fold(NewArtifact::new("debian:autopkgtest"), |a, (name, path)| {
            a.file(name, path)
        })
        .data(&AutopkgtestData {
            results: summary.tests.iter().map(|(n, r)| (n.as_str(), r)).collect(),
            cmdline,
            source_package: SourcePackage {
                name: &source.name,
                version: &source.version,
                url: format!("artifact:{}/{dsc_name}", source.id),
            },
            architecture: &data.host_architecture,
            distribution: format!("{}:{}", testbed.vendor, testbed.codename),
        })?
        .create()?;
    artifacts::relate(artifact, source.id, RelationType::RelatesTo)?;
    for id in binaries {
        artifacts::relate(artifact, *id, RelationType::RelatesTo)?;
    }
    Ok(artifact)
}

/// One result per test (`autopkgtest.NAME`), then the verdict
/// (`autopkgtest`).
fn emit_results(
    item: &str,
    summary: &Summary,
    fail_on: FailOn,
    artifact: ArtifactId,
    verdict: &Verdict,
    code: Option<i32>,
) -> Result<()> {
    for (name, result) in &summary.tests {
        let mut r = CheckResult::new(item, "debian_package", outcome(result.status, fail_on))
            .checkname(format!("autopkgtest.{name}"))
            .note(note(name, result, fail_on))
            .artifact(format!("artifact:{artifact}"))
            .keyval("autopkgtest_status", result.status.as_str());
        if let Some(details) = &result.details {
            r = r.keyval("details", details);
        }
        r.emit()?;
    }
    let (overall, note) = match verdict {
        Verdict::Success => (Outcome::Passed, summary.counts()),
        Verdict::Failure => (Outcome::Failed, summary.counts()),
        Verdict::Error(why) => (Outcome::Aborted, why.clone()),
    };
    CheckResult::new(item, "debian_package", overall)
        .checkname("autopkgtest")
        .note(note)
        .artifact(format!("artifact:{artifact}"))
        .keyval(
            "autopkgtest_exit_code",
            code.map_or("none".into(), |c| c.to_string()),
        )
        .emit()
}

// ---- the task ---------------------------------------------------------

pub struct Autopkgtest;

impl Task for Autopkgtest {
    type Data = Data;
    const NAME: &'static str = "autopkgtest";
    const SUMMARY: &'static str = "Runs a source package's autopkgtests against its binary packages (debusine's Autopkgtest task)";
    const TASK_DATA_DOC: &'static str = "\
- `input.source_artifact_id` (required): a debian:source-package or debian:upload holding the .dsc.
- `input.binary_artifacts_ids` (required): debian:binary-package(s) or debian:upload artifacts whose .debs
  are tested. `input.context_artifacts_ids`: more .debs the tests run with.
- `environment` (required): a debian:system-tarball or debian:system-image (id or lookup, e.g.
  debian/match:codename=bookworm:variant=buildd). autopkgtest's unshare virt server makes the testbed from a
  tarball; an image is booted as a disposable machine (qemu) and autopkgtest runs in it.
- `host_architecture` (required): the testbed's architecture (the environment's).
- `backend`: auto (the default: the environment's category decides; with a tarball, tests that need
  isolation-machine run again in a machine booted from the newest image of the same vendor, codename
  and architecture, if there is one), unshare or qemu; others are refused.
- `include_tests` / `exclude_tests`: test names (--test-name / --skip-test).
- `debug_level`: 0 to 3 (-d to -ddd). `extra_apt_sources`: one-line APT sources (--add-apt-source).
- `use_packages_from_base_repository`: --apt-default-release=CODENAME of the environment.
- `extra_environment`: {NAME: VALUE} for the build and the tests (--env).
- `needs_internet`: run (default), try or skip.
- `fail_on`: {failed_test (default true), flaky_test (false), skipped_test (false)}.
- `timeout`: {global, factor, short, install, test, copy, build} (--timeout-KEY; global bounds the whole run).";

    fn validate(data: &Data) -> Result<()> {
        check(data)
    }

    fn execute(data: Data) -> Result<taskhost_sdk::Status> {
        // A formula's earlier autopkgtest action may have left its files.
        match std::fs::remove_dir_all(DIR) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => std::fs::create_dir_all(DIR)?,
        }
        let testbed = testbed(&data)?;
        let backend = backend_for(data.backend, &testbed)?;
        let source = fetch_source(data.input.source_artifact_id.id()?)?;
        let (binaries, mut debs) = fetch_debs(
            "input.binary_artifacts_ids",
            &data.input.binary_artifacts_ids,
            "binaries",
        )?;
        let (_, context) = fetch_debs(
            "input.context_artifacts_ids",
            &data.input.context_artifacts_ids,
            "context",
        )?;
        debs.extend(context);
        let inputs = Inputs {
            source: &source,
            debs: &debs,
        };
        let mut ran = run_autopkgtest(&data, &testbed, backend, &inputs, &data.include_tests)?;
        let mut outputs = output_files(OUTPUT_DIR)?;
        if data.backend == Backend::Auto && backend == Backend::Unshare {
            let machine_tests = needing_a_machine(&ran.summary);
            if !machine_tests.is_empty() {
                match machine_for(&testbed, &data.host_architecture)? {
                    Some(machine) => {
                        log::info(format!(
                            "{} need isolation-machine: running them again in a machine booted \
                             from artifact {} (backend qemu)",
                            machine_tests.join(", "),
                            machine.id
                        ));
                        std::fs::rename(OUTPUT_DIR, CONTAINER_OUTPUT_DIR)?;
                        outputs = output_files(CONTAINER_OUTPUT_DIR)?;
                        let again = run_autopkgtest(
                            &data,
                            &machine,
                            Backend::Qemu,
                            &inputs,
                            &machine_tests,
                        )?;
                        outputs.extend(
                            output_files(OUTPUT_DIR)?
                                .into_iter()
                                .map(|(name, path)| (format!("isolation-machine/{name}"), path)),
                        );
                        ran = ran.merged(again, &machine_tests);
                    }
                    None => log::info(format!(
                        "{} need isolation-machine, and the store has no {IMAGE} of {}:{} for \
                         {} to boot: they stay skipped",
                        machine_tests.join(", "),
                        testbed.vendor,
                        testbed.codename,
                        data.host_architecture
                    )),
                }
            }
        }
        let Ran {
            summary,
            code,
            timed_out,
            stderr,
            cmdline,
        } = ran;
        let mut verdict = summary::judge(&summary, code, data.fail_on);
        if timed_out {
            verdict = Verdict::Error(match data.timeout.global {
                Some(seconds) => {
                    format!("autopkgtest did not finish within timeout.global ({seconds} s)")
                }
                None => "autopkgtest did not finish before the run's deadline".into(),
            });
        }
        let artifact = store(
            &data, &source, &testbed, &binaries, &summary, cmdline, &outputs,
        )?;
        let item = format!(
            "{}_{}_{}",
            source.name, source.version, data.host_architecture
        );
        emit_results(&item, &summary, data.fail_on, artifact, &verdict, code)?;
        match verdict {
            Verdict::Success => Ok(taskhost_sdk::Status::Success),
            Verdict::Failure => Ok(taskhost_sdk::Status::Failure),
            Verdict::Error(why) => {
                if !stderr.trim().is_empty() {
                    log::warn(format!("autopkgtest: {}", tail(&stderr)));
                }
                Err(Error::failed(format!(
                    "{why} (its output: artifact {artifact})"
                )))
            }
        }
    }
}

/// Where a first run's output goes when a second run follows.
const CONTAINER_OUTPUT_DIR: &str = "autopkgtest/output-container";

/// The backend for `backend` and the environment's category.
fn backend_for(backend: Backend, testbed: &Testbed) -> Result<Backend> {
    match (backend, testbed.category.as_str()) {
        (Backend::Auto | Backend::Unshare, TARBALL) => Ok(Backend::Unshare),
        (Backend::Auto | Backend::Qemu, IMAGE) => Ok(Backend::Qemu),
        (Backend::Qemu, other) => Err(Error::invalid(format!(
            "backend: qemu boots a {IMAGE}, and the environment (artifact {}) is a {other}; \
             give an image (`runtask run simplesystemimagebuild` makes one) or use backend unshare",
            testbed.id
        ))),
        (_, other) => Err(Error::invalid(format!(
            "backend: unshare unpacks a {TARBALL}, and the environment (artifact {}) is a {other}; \
             give a tarball or use backend qemu",
            testbed.id
        ))),
    }
}

/// The input files, fetched into the workspace.
struct Inputs<'a> {
    source: &'a Source,
    debs: &'a [String],
}

/// What one autopkgtest run gave.
struct Ran {
    summary: Summary,
    code: Option<i32>,
    timed_out: bool,
    stderr: String,
    cmdline: String,
}

impl Ran {
    /// This run with `tests` as `again` found them.
    fn merged(mut self, again: Ran, tests: &[String]) -> Ran {
        for (name, result) in again.summary.tests {
            if tests.contains(&name) {
                match self.summary.tests.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = result,
                    None => self.summary.tests.push((name, result)),
                }
            }
        }
        self.summary.errors.extend(again.summary.errors);
        self.code = merge_codes(self.code, again.code);
        self.timed_out |= again.timed_out;
        if !again.stderr.trim().is_empty() {
            self.stderr = again.stderr;
        }
        self.cmdline = format!("{}; {}", self.cmdline, again.cmdline);
        self
    }
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

/// The tests autopkgtest skipped because the testbed is no machine.
pub fn needing_a_machine(summary: &Summary) -> Vec<String> {
    summary
        .tests
        .iter()
        .filter(|(_, r)| {
            r.status == Status::Skip
                && r.details
                    .as_deref()
                    .and_then(summary::missing_capability)
                    .is_some_and(|(_, capability)| capability == "isolation-machine")
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The newest system image of the tarball's vendor, codename and
/// architecture, if the store has one. A lookup the host refuses (or
/// fails) is an error, not "no image".
fn machine_for(tarball: &Testbed, arch: &str) -> Result<Option<Testbed>> {
    if tarball.vendor.is_empty() || tarball.codename.is_empty() {
        return Ok(None);
    }
    let query = format!(
        "{}/match:codename={}:architecture={arch}",
        tarball.vendor, tarball.codename
    );
    let id = match artifacts::lookup(&query, IMAGE) {
        Ok(id) => id,
        Err(Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(Testbed {
        id,
        category: IMAGE.into(),
        vendor: tarball.vendor.clone(),
        codename: tarball.codename.clone(),
    }))
}

/// Runs autopkgtest once on `testbed` (only `tests` when not empty).
fn run_autopkgtest(
    data: &Data,
    testbed: &Testbed,
    backend: Backend,
    inputs: &Inputs,
    tests: &[String],
) -> Result<Ran> {
    let (virt, env) = match backend {
        Backend::Qemu => (Virt::Null, Environment::open_with("qemu", testbed.id)?),
        _ => (
            Virt::Unshare {
                tarball: tarball(testbed.id)?,
            },
            Environment::open("local")?,
        ),
    };
    let resolved = Resolved {
        virt,
        dsc: inputs.source.dsc.clone(),
        debs: inputs.debs.to_vec(),
        codename: testbed.codename.clone(),
        tests: tests.to_vec(),
    };
    let cmd = command_line(data, &resolved);
    log::info(format!(
        "testing {}_{} with {} .deb(s) on {} in {}:{} ({})",
        inputs.source.name,
        inputs.source.version,
        resolved.debs.len(),
        data.host_architecture,
        testbed.vendor,
        testbed.codename,
        match &resolved.virt {
            Virt::Unshare { tarball } => tarball.clone(),
            Virt::Null => format!("a machine booted from artifact {}", testbed.id),
        }
    ));
    log::debug(shown(&cmd));
    let exit = env.run(&cmd)?;
    drop(env);
    // The testbed was unpacked elsewhere; the tarball's copy is done with.
    let _ = std::fs::remove_dir_all(TARBALL_DIR);

    let mut summary = match std::fs::read(SUMMARY) {
        Ok(bytes) => summary::parse(&String::from_utf8_lossy(&bytes)),
        Err(_) => Summary::default(),
    };
    for name in summary.select(tests, &data.exclude_tests) {
        log::debug(format!(
            "test {name}: not selected, left out of the results"
        ));
    }
    // The host runs autopkgtest to completion: the tests are known only
    // now, so they are logged, not followed.
    for (name, result) in &summary.tests {
        log::info(format!("test {name}: {}", note(name, result, data.fail_on)));
    }
    for line in &summary.errors {
        log::error(format!("autopkgtest: {line}"));
    }
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
        cmdline: shown(&cmd),
    })
}

/// The last lines of a command's stderr, for a message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

taskhost_sdk::export_task!(Autopkgtest, manifest = "taskhost.toml");

#[cfg(test)]
mod tests;
