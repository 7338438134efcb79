//! lintian: checks Debian source and binary packages.
//!
//! Follows debusine's Lintian task: lintian runs once over every input, so
//! it sees source and binaries together, with the options debusine always
//! uses; the tags are then split into one `debian:lintian` artifact per
//! analysed architecture (source, all, any), each relating to what it
//! analysed. `fail_on_severity` decides failure.

pub mod parser;

use parser::{Severity, Tag};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use taskhost_sdk::artifacts::{self, NewArtifact, RelationType};
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{
    ArtifactId, ArtifactRef, Command, Environment, Error, Outcome, Result, Status, Task, log,
};

// ---- task_data --------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Data {
    pub input: Input,
    /// A debian:system-tarball to run lintian in (id or lookup such as
    /// `debian/match:codename=bookworm`). Required by isolated backends;
    /// the `local` backend uses the host's lintian.
    pub environment: Option<ArtifactRef>,
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub output: Output,
    #[serde(default = "unstable")]
    pub target_distribution: String,
    #[serde(default)]
    pub include_tags: Vec<String>,
    #[serde(default)]
    pub exclude_tags: Vec<String>,
    #[serde(default)]
    pub fail_on_severity: FailOn,
}

fn unstable() -> String {
    "debian:unstable".into()
}

#[derive(Debug, Deserialize)]
pub struct Input {
    pub source_artifact_id: Option<ArtifactRef>,
    #[serde(default)]
    pub binary_artifacts_ids: Vec<ArtifactRef>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    #[default]
    Auto,
    Local,
    Unshare,
    /// The machine of `runtask --ssh user@host[:port]`.
    Ssh,
    IncusLxc,
    IncusVm,
}

#[derive(Debug, Deserialize)]
pub struct Output {
    #[serde(default = "yes")]
    pub source_analysis: bool,
    #[serde(default = "yes")]
    pub binary_all_analysis: bool,
    #[serde(default = "yes")]
    pub binary_any_analysis: bool,
}

fn yes() -> bool {
    true
}

impl Default for Output {
    fn default() -> Self {
        Output {
            source_analysis: true,
            binary_all_analysis: true,
            binary_any_analysis: true,
        }
    }
}

/// The lowest severity that fails the task; `none` never fails (the SDK's).
pub use taskhost_sdk::severity::FailOn;

// ---- command line -----------------------------------------------------

/// Lists longer than this go through `--tags-from-file`.
const INLINE_TAGS: usize = 2048;

const OPTIONS: &[&str] = &[
    "--no-cfg",
    "--display-level",
    ">=classification",
    "--display-experimental",
    "--info",
    "--show-overrides",
];

/// lintian's argv for `files`; long tag lists are written to workspace
/// files first.
pub fn command_line(data: &Data, files: &[String]) -> Result<Command> {
    let mut cmd = Command::new("lintian").args(OPTIONS.iter().copied());
    for (tags, option, file) in [
        (&data.include_tags, "--tags", "include-tags.txt"),
        (&data.exclude_tags, "--suppress-tags", "exclude-tags.txt"),
    ] {
        if tags.is_empty() {
            continue;
        }
        let joined = tags.join(",");
        cmd = if joined.len() <= INLINE_TAGS {
            cmd.arg(format!("{option}={joined}"))
        } else {
            std::fs::write(file, tags.join("\n") + "\n")?;
            cmd.arg(format!("{option}-from-file={file}"))
        };
    }
    Ok(cmd
        .args(files.iter().cloned())
        .stdout("lintian.txt")
        .stderr("lintian.stderr"))
}

// ---- inputs -----------------------------------------------------------

/// What lintian looks at, and which artifact each file came from.
#[derive(Default)]
struct Inputs {
    files: Vec<String>,
    /// Source package: (name, version, artifact).
    source: Option<(String, String, ArtifactId)>,
    /// Binary package name → (architecture, file name, artifact, version).
    binaries: BTreeMap<String, (String, String, ArtifactId, String)>,
}

/// `NAME_VERSION_ARCH.deb` → (name, version, arch).
pub fn deb_name(file: &str) -> Option<(String, String, String)> {
    let base = file.rsplit('/').next()?;
    let stem = base
        .strip_suffix(".deb")
        .or_else(|| base.strip_suffix(".udeb"))?;
    let mut parts = stem.splitn(3, '_');
    Some((
        parts.next()?.to_string(),
        parts.next()?.to_string(),
        parts.next()?.to_string(),
    ))
}

fn fetch_inputs(data: &Data) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    if let Some(source) = &data.input.source_artifact_id {
        let id = source.id()?;
        for path in artifacts::fetch(id, &format!("input/{id}"))? {
            if let Some(stem) = path.rsplit('/').next().and_then(|f| f.strip_suffix(".dsc")) {
                let (name, version) = stem.split_once('_').unwrap_or((stem, ""));
                inputs.source = Some((name.to_string(), version.to_string(), id));
                inputs.files.push(path);
            }
        }
        if inputs.source.is_none() {
            return Err(Error::invalid(format!(
                "input.source_artifact_id: artifact {id} holds no .dsc"
            )));
        }
    }
    for binary in &data.input.binary_artifacts_ids {
        let id = binary.id()?;
        for path in artifacts::fetch(id, &format!("input/{id}"))? {
            if let Some((name, version, arch)) = deb_name(&path) {
                let file = path.rsplit('/').next().unwrap_or(&path).to_string();
                inputs.binaries.insert(name, (arch, file, id, version));
                inputs.files.push(path);
            }
        }
    }
    Ok(inputs)
}

// ---- analyses ---------------------------------------------------------

/// One analysed architecture: `source`, `all` or a concrete one (`any`).
#[derive(Debug, Default)]
struct Analysis {
    tags: Vec<Tag>,
    package_filename: BTreeMap<String, String>,
    analysed: Vec<ArtifactId>,
}

#[derive(Serialize)]
struct Summary {
    tags_count_by_severity: BTreeMap<Severity, usize>,
    package_filename: BTreeMap<String, String>,
    tags_found: Vec<String>,
    overridden_tags_found: Vec<String>,
    lintian_version: String,
    distribution: String,
}

#[derive(Serialize)]
struct LintianData {
    architecture: String,
    summary: Summary,
}

#[derive(Serialize)]
struct AnalysisJson<'a> {
    tags: &'a [Tag],
    summary: &'a Summary,
}

fn split(inputs: &Inputs, tags: Vec<Tag>, output: &Output) -> BTreeMap<String, Analysis> {
    let mut analyses: BTreeMap<String, Analysis> = BTreeMap::new();
    if let Some((name, version, id)) = &inputs.source.as_ref().filter(|_| output.source_analysis) {
        let a = analyses.entry("source".into()).or_default();
        a.package_filename
            .insert(name.clone(), format!("{name}_{version}.dsc"));
        a.analysed.push(*id);
    }
    for (name, (arch, file, id, _)) in &inputs.binaries {
        let wanted = if arch == "all" {
            output.binary_all_analysis
        } else {
            output.binary_any_analysis
        };
        if wanted {
            let a = analyses.entry(arch.clone()).or_default();
            a.package_filename.insert(name.clone(), file.clone());
            if !a.analysed.contains(id) {
                a.analysed.push(*id);
            }
        }
    }
    for tag in tags {
        let arch = if tag.package_type == "source" {
            Some("source".to_string())
        } else if tag.package_type.is_empty() || tag.package_type == "udeb" {
            inputs
                .binaries
                .get(&tag.package)
                .map(|(arch, ..)| arch.clone())
        } else {
            None // `changes` tags belong to no analysis
        };
        if let Some(a) = arch.and_then(|arch| analyses.get_mut(&arch)) {
            a.tags.push(tag);
        }
    }
    analyses
}

/// lintian's version from dpkg: `lintian --version` loads all of lintian
/// first and costs half a second.
fn lintian_version(env: &Environment) -> Result<String> {
    let exit = env.run(&Command::new("dpkg-query").args(["-W", "-f=${Version}", "lintian"]))?;
    if !exit.success() {
        return Err(Error::failed(format!(
            "dpkg-query knows no lintian: {}",
            exit.read_stderr()?.trim()
        )));
    }
    Ok(exit.read_stdout()?.trim().to_string())
}

// ---- the task ---------------------------------------------------------

pub struct Lintian;

impl Task for Lintian {
    type Data = Data;
    const NAME: &'static str = "lintian";
    const SUMMARY: &'static str = "Checks Debian source and binary packages with lintian";
    const TASK_DATA_DOC: &'static str = "\
- `input.source_artifact_id`: a debian:source-package or debian:upload artifact (id or a .dsc file).
- `input.binary_artifacts_ids`: debian:binary-package(s) or debian:upload artifacts (ids or .deb files).
  At least one of the two is required.
- `environment`: a debian:system-tarball (id or lookup, e.g. debian/match:codename=bookworm);
  lintian is installed in it first. Not needed with `backend: local`.
- `backend`: auto (default: unshare with an environment, else the machine of `runtask --ssh`
  if given, else local), local, unshare, ssh (incus-lxc and incus-vm are not available on this host).
- `output.{source,binary_all,binary_any}_analysis`: which debian:lintian artifacts to make (default true).
- `target_distribution`: default debian:unstable.
- `include_tags`, `exclude_tags`: lists of tag names (--tags / --suppress-tags).
- `fail_on_severity`: error, warning, info, pedantic, experimental, overridden or none (default).";

    fn validate(data: &Data) -> Result<()> {
        if data.input.source_artifact_id.is_none() && data.input.binary_artifacts_ids.is_empty() {
            return Err(Error::invalid(
                "input: give input.source_artifact_id and/or input.binary_artifacts_ids",
            ));
        }
        match (data.backend, &data.environment) {
            (Backend::Local | Backend::Auto, _) => Ok(()),
            (Backend::Ssh, None) => Ok(()),
            (Backend::Ssh, Some(_)) => Err(Error::invalid(
                "environment: the ssh backend takes none; lintian must be installed on the machine",
            )),
            (Backend::Unshare, Some(_)) => Ok(()),
            (Backend::Unshare, None) => Err(Error::invalid(
                "environment: required with backend unshare (a debian:system-tarball artifact)",
            )),
            (backend, _) => Err(Error::invalid(format!(
                "backend: {backend:?} is not available on this host; use unshare or local"
            ))),
        }
    }

    fn execute(data: Data) -> Result<Status> {
        let inputs = fetch_inputs(&data)?;
        let env = match (data.backend, &data.environment) {
            (Backend::Local, _) => Environment::open("local")?,
            (Backend::Ssh, None) => Environment::open("ssh")?,
            (Backend::Auto, None) => Environment::open("auto")?,
            (_, Some(environment)) => Environment::open_with("unshare", environment.id()?)?,
            (backend, None) => {
                return Err(Error::invalid(format!(
                    "backend: {backend:?} needs an environment"
                )));
            }
        };
        let version = lintian_version(&env)?;
        let exit = env.run(&command_line(&data, &inputs.files)?)?;
        let tags = parser::parse(&exit.read_stdout()?);
        // lintian (2.116) exits 1 on a run-time error, e.g. a package it
        // skips, and 2 both when it finds errors (its default --fail-on)
        // and when it cannot read an input.
        let found_errors = tags.iter().any(|t| t.severity == Severity::Error);
        let how = match (exit.code(), exit.signal()) {
            (Some(0), _) => None,
            (Some(2), _) if found_errors => None,
            _ if exit.timed_out() => Some("timed out".to_string()),
            (Some(code), _) => Some(format!("exit {code}")),
            (None, Some(signal)) => Some(format!("killed by signal {signal}")),
            (None, None) => Some("ended without an exit code".to_string()),
        };
        if let Some(how) = how {
            let stderr = exit.read_stderr()?;
            return Err(Error::failed(match stderr.trim() {
                "" => format!("lintian failed ({how})"),
                said => format!("lintian failed ({how}): {said}"),
            }));
        }
        if exit.truncated() {
            log::warn(
                "lintian's output passed the output limit and was cut (`output-limit` in the \
                 policy): the tags past it are missing",
            );
        }

        let mut failed = false;
        for (architecture, analysis) in split(&inputs, tags, &data.output) {
            let summary = Summary {
                tags_count_by_severity: parser::count_by_severity(&analysis.tags),
                package_filename: analysis.package_filename.clone(),
                tags_found: parser::tags_found(&analysis.tags),
                overridden_tags_found: parser::overridden_tags_found(&analysis.tags),
                lintian_version: version.clone(),
                distribution: data.target_distribution.clone(),
            };
            let json_path = format!("analysis-{architecture}.json");
            let json = serde_json::to_vec_pretty(&AnalysisJson {
                tags: &analysis.tags,
                summary: &summary,
            })
            .map_err(|e| Error::failed(e.to_string()))?;
            std::fs::write(&json_path, json)?;
            let fails = analysis
                .tags
                .iter()
                .any(|t| data.fail_on_severity.fails(t.severity));
            failed |= fails;
            let id = NewArtifact::new("debian:lintian")
                .data(&LintianData {
                    architecture: architecture.clone(),
                    summary,
                })?
                .file("lintian.txt", exit.stdout_path())
                .file("analysis.json", json_path)
                .create()?;
            for analysed in &analysis.analysed {
                artifacts::relate(id, *analysed, RelationType::RelatesTo)?;
            }

            // One result per analysed package.
            for package in analysis.package_filename.keys() {
                let mine: Vec<Tag> = analysis
                    .tags
                    .iter()
                    .filter(|t| &t.package == package)
                    .cloned()
                    .collect();
                let version = match (
                    architecture.as_str(),
                    &inputs.source,
                    inputs.binaries.get(package),
                ) {
                    ("source", Some((_, version, _)), _) => version.clone(),
                    (_, _, Some((.., version))) => version.clone(),
                    _ => String::new(),
                };
                let fails = mine.iter().any(|t| data.fail_on_severity.fails(t.severity));
                let outcome = if fails {
                    Outcome::Failed
                } else {
                    Outcome::Passed
                };
                let mut result = CheckResult::new(
                    format!("{package}_{version}_{architecture}"),
                    "debian_package",
                    outcome,
                )
                .checkname("lintian")
                .note(parser::summary_note(&mine))
                .artifact(format!("artifact:{id}"));
                for (severity, n) in parser::count_by_severity(&mine) {
                    result = result.keyval(severity.as_str(), n);
                }
                result.emit()?;
            }
        }
        Ok(if failed {
            Status::Failure
        } else {
            Status::Success
        })
    }
}

taskhost_sdk::export_task!(Lintian, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb_names_split_into_name_version_arch() {
        assert_eq!(
            deb_name("input/3/hello_1.0-1_amd64.deb"),
            Some(("hello".into(), "1.0-1".into(), "amd64".into()))
        );
        assert_eq!(
            deb_name("input/3/hello-udeb_1.0-1_all.udeb"),
            Some(("hello-udeb".into(), "1.0-1".into(), "all".into()))
        );
        assert_eq!(deb_name("x.dsc"), None);
    }
}
