//! lintian: checks Debian source and binary packages.
//!
//! Follows debusine's Lintian task: lintian runs once over every input, so
//! it sees source and binaries together, with the options debusine always
//! uses; the tags are then split into one `debian:lintian` artifact per
//! analysed architecture (source, all, any), each relating to what it
//! analysed. `fail_on_severity` decides failure. lintian's output format
//! and the artifacts' data live in `taskhost_debian::lintian`.

use serde::Deserialize;
use taskhost_debian::lintian::{self, Analysis, AnalysisJson, Inputs, LintianData, Summary, Tag};
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
    pub output: lintian::Output,
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

/// Fetches the inputs: the source's .dsc, the binaries' .debs and .udebs.
fn fetch_inputs(data: &Data) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    if let Some(source) = &data.input.source_artifact_id {
        let id = source.id()?;
        for path in artifacts::fetch(id, &format!("input/{id}"))? {
            inputs.add_source(path, id);
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
            inputs.add_binary(path, id);
        }
    }
    Ok(inputs)
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
        let version = lintian::installed_version(&env)?;
        let exit = env.run(&command_line(&data, &inputs.files)?)?;
        let tags = lintian::parse(&exit.read_stdout()?);
        if let Some(how) = lintian::failure(exit.code(), exit.signal(), exit.timed_out(), &tags) {
            let stderr = exit.read_stderr()?;
            return Err(Error::failed(lintian::failed_message(&how, &stderr)));
        }
        if exit.truncated() {
            log::warn(
                "lintian's output passed the output limit and was cut (`output-limit` in the \
                 policy): the tags past it are missing",
            );
        }

        let mut failed = false;
        for (architecture, analysis) in lintian::split(&inputs, tags, &data.output) {
            let summary = Summary::new(&analysis, &version, &data.target_distribution);
            let json_path = format!("analysis-{architecture}.json");
            let json = serde_json::to_vec_pretty(&AnalysisJson {
                tags: &analysis.tags,
                summary: &summary,
            })
            .map_err(|e| Error::failed(e.to_string()))?;
            std::fs::write(&json_path, json)?;
            failed |= fails(&data, &analysis.tags);
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
            emit_results(&data, &inputs, &architecture, &analysis, id)?;
        }
        Ok(if failed {
            Status::Failure
        } else {
            Status::Success
        })
    }
}

fn fails(data: &Data, tags: &[Tag]) -> bool {
    tags.iter().any(|t| data.fail_on_severity.fails(t.severity))
}

/// One result per analysed package.
fn emit_results(
    data: &Data,
    inputs: &Inputs,
    architecture: &str,
    analysis: &Analysis,
    id: ArtifactId,
) -> Result<()> {
    for package in analysis.package_filename.keys() {
        let mine = analysis.tags_of(package);
        let version = inputs.version(architecture, package);
        let outcome = if fails(data, &mine) {
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
        .note(lintian::summary_note(&mine))
        .artifact(format!("artifact:{id}"));
        for (severity, n) in lintian::count_by_severity(&mine) {
            result = result.keyval(severity.as_str(), n);
        }
        result.emit()?;
    }
    Ok(())
}

taskhost_sdk::export_task!(Lintian, manifest = "taskhost.toml");
