//! sbuild: builds Debian binary packages from a source package.
//!
//! Follows debusine's Sbuild task (the PackageBuild ontology): the real
//! sbuild runs on the host (the `local` backend) in its unshare chroot
//! mode, on the task's `debian:system-tarball`, with debusine's options
//! (`--purge-deps=never --no-run-lintian`, `--[no-]arch-any`,
//! `--[no-]arch-all`, `--[no-]source`, `--arch`, `--dist`). It also honours
//! the PackageBuild keys debusine leaves out: `build_profiles`
//! (`--profiles`), `build_options` (DEB_BUILD_OPTIONS), `build_path`,
//! `extra_repositories`, `build_architecture` (`--host`/`--build`) and
//! extra binaries (`--extra-package`).
//!
//! The build succeeds when sbuild exits 0 *and* its log says `Status:
//! successful` *and* its .changes lists the binaries asked for (a killed
//! or timed-out sbuild never succeeds). The log is always stored
//! (`debian:package-build-log`, with the Summary in its data); a
//! successful build also stores its binaries (one `debian:binary-packages`
//! per architecture) and its upload (`debian:upload`: the .changes and
//! what it lists).
//!
//! sbuild reads no operator configuration but /etc/sbuild/sbuild.conf:
//! HOME points nowhere, so no ~/.sbuildrc is read. The task_data, the log
//! format and the artifacts' data are `taskhost_debian::sbuild`.

use std::collections::BTreeMap;
use taskhost_debian::control::{self, SourcePackage};
use taskhost_debian::sbuild::{self, BinaryPackagesData, BuildLogData, UploadData};
pub use taskhost_debian::sbuild::{Component, Data, check};
use taskhost_sdk::Command;
use taskhost_sdk::artifacts::{self, NewArtifact, RelationType};
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{ArtifactId, Environment, Error, Outcome, Result, Status, Task, log};

// ---- command line -----------------------------------------------------

/// Options every run passes, first (the exec grant matches them).
pub const FIXED: &[&str] = &[
    "--chroot-mode=unshare",
    "--no-run-lintian",
    "--purge-deps=never",
];

/// HOME of sbuild: a path that does not exist, so no ~/.sbuildrc applies.
pub const HOME: &str = "/sbuild-nonexistent";

/// Where the plugin works in the workspace (shared by a formula's actions).
const DIR: &str = "sbuild";
const BUILD_DIR: &str = "sbuild/build";
const TARBALL_DIR: &str = "sbuild/environment";

/// What the command line needs beside task_data: workspace paths, and
/// values read from the input artifacts.
#[derive(Debug, Default)]
pub struct Resolved {
    pub tarball: String,
    pub dsc: String,
    pub distribution: String,
    pub build_architecture: String,
    pub extra_packages: Vec<String>,
    pub repository_keys: Vec<String>,
}

pub fn command_line(data: &Data, r: &Resolved) -> Command {
    let has = |c| data.build_components.contains(&c);
    let flag = |on: bool, name: &str| {
        if on {
            format!("--{name}")
        } else {
            format!("--no-{name}")
        }
    };
    let mut cmd = Command::new("sbuild")
        .args(FIXED.iter().copied())
        .arg(format!("--chroot={}", r.tarball))
        .arg(format!("--dist={}", r.distribution))
        .arg(flag(has(Component::Any), "arch-any"))
        .arg(flag(has(Component::All), "arch-all"))
        .arg(flag(has(Component::Source), "source"));
    cmd = if r.build_architecture == data.host_architecture {
        cmd.arg(format!("--arch={}", data.host_architecture))
    } else {
        cmd.arg(format!("--host={}", data.host_architecture))
            .arg(format!("--build={}", r.build_architecture))
    };
    if !data.build_profiles.is_empty() {
        cmd = cmd.arg(format!("--profiles={}", data.build_profiles.join(",")));
    }
    if let Some(path) = &data.build_path {
        cmd = cmd.arg(format!("--build-path={path}"));
    }
    for repo in &data.extra_repositories {
        cmd = cmd.arg(format!("--extra-repository={}", repo.sources_list.trim()));
    }
    for key in &r.repository_keys {
        cmd = cmd.arg(format!("--extra-repository-key={key}"));
    }
    for deb in &r.extra_packages {
        cmd = cmd.arg(format!("--extra-package={deb}"));
    }
    cmd = cmd
        .arg(format!("--build-dir={BUILD_DIR}"))
        .arg(&r.dsc)
        .env("HOME", HOME)
        .stdout(format!("{DIR}/sbuild.stdout"))
        .stderr(format!("{DIR}/sbuild.stderr"));
    match data.build_options.as_deref().map(str::trim) {
        Some(options) if !options.is_empty() => cmd.env("DEB_BUILD_OPTIONS", options),
        _ => cmd,
    }
}

/// Stores the binaries (one artifact per architecture) and the upload;
/// returns the binaries' ids. A .changes without the binaries asked for
/// is no successful build.
fn store_build(
    data: &Data,
    source: &SourcePackage,
    summary: &BTreeMap<String, String>,
) -> Result<Vec<ArtifactId>> {
    let changes = sbuild::read_changes(BUILD_DIR, &data.host_architecture, &data.build_components)?;
    let upload = changes
        .files
        .iter()
        .fold(NewArtifact::new("debian:upload"), |a, name| {
            a.file(name.clone(), format!("{BUILD_DIR}/{name}"))
        })
        .file(changes.name, changes.path)
        .data(&UploadData {
            kind: "dpkg",
            changes_fields: &changes.fields,
        })?
        .create()?;

    let version = summary.get("Version").unwrap_or(&source.version);
    let mut binaries = Vec::new();
    for (arch, debs) in &control::debs_by_arch(&changes.files) {
        let mut packages: Vec<String> = debs.iter().map(|(p, _)| p.clone()).collect();
        packages.sort();
        let id = debs
            .iter()
            .fold(NewArtifact::new("debian:binary-packages"), |a, (_, f)| {
                a.file(f.clone(), format!("{BUILD_DIR}/{f}"))
            })
            .data(&BinaryPackagesData {
                srcpkg_name: &source.name,
                srcpkg_version: &source.version,
                version,
                architecture: arch,
                packages,
            })?
            .create()?;
        artifacts::relate(id, source.id, RelationType::RelatesTo)?;
        artifacts::relate(upload, id, RelationType::Extends)?;
        artifacts::relate(upload, id, RelationType::RelatesTo)?;
        binaries.push(id);
    }
    Ok(binaries)
}

// ---- the task ---------------------------------------------------------

pub struct Sbuild;

impl Task for Sbuild {
    type Data = Data;
    const NAME: &'static str = "sbuild";
    const SUMMARY: &'static str =
        "Builds Debian binary packages from a source package with sbuild (debusine's Sbuild task)";
    const TASK_DATA_DOC: &'static str = "\
- `input.source_artifact_id` (required): a debian:source-package (id, or a .dsc file: its files come along).
- `input.extra_binary_artifact_ids`: debian:binary-package(s) or debian:upload artifacts whose .debs apt may
  install as build-dependencies (`--extra-package`).
- `environment` (required): a debian:system-tarball (id or lookup, e.g.
  debian/match:codename=bookworm:variant=buildd); sbuild unpacks it as an unshare chroot.
- `backend`: unshare (default) or auto; others are refused.
- `host_architecture` (required): the architecture to build for.
- `build_architecture`: the architecture to build on (default: host_architecture; null: the environment's);
  a different one makes a cross build (`--host`/`--build`).
- `distribution`: `--dist` (default: the environment's codename).
- `build_components`: any (default), all, source.
- `build_profiles`: build profiles (`--profiles`). `build_options`: DEB_BUILD_OPTIONS.
- `build_path`: the build directory inside the chroot (`--build-path`).
- `extra_repositories`: [{sources_list: one sources.list line, authentication_key: an ASCII-armored key}].";

    fn validate(data: &Data) -> Result<()> {
        check(data)
    }

    fn execute(data: Data) -> Result<Status> {
        // A formula's earlier sbuild action may have left its files here.
        match std::fs::remove_dir_all(DIR) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => std::fs::create_dir_all(BUILD_DIR)?,
        }
        let env_id = data.environment.id()?;
        let env = artifacts::get(env_id)?;
        let env_field = |k: &str| env.data.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let build_architecture =
            sbuild::build_architecture(&data, env_id, env_field("architecture"))?;
        let distribution = sbuild::distribution(&data, env_id, env_field("codename"))?;
        let source = control::fetch_source(
            data.input.source_artifact_id.id()?,
            &format!("{DIR}/source"),
        )?;
        let resolved = Resolved {
            tarball: control::fetch_tarball(env_id, TARBALL_DIR)?,
            dsc: source.dsc.clone(),
            distribution,
            build_architecture,
            extra_packages: control::fetch_debs(
                "input.extra_binary_artifact_ids",
                &data.input.extra_binary_artifact_ids,
                &format!("{DIR}/extra"),
            )?
            .1,
            repository_keys: sbuild::write_keys(&data.extra_repositories, &format!("{DIR}/keys"))?,
        };
        log::info(format!(
            "building {}_{} for {} in {} ({})",
            source.name,
            source.version,
            data.host_architecture,
            resolved.distribution,
            resolved.tarball
        ));
        let env = Environment::open("local")?;
        let exit = sbuild::follow(env.start(&command_line(&data, &resolved))?, BUILD_DIR)?;
        // The chroot is unpacked elsewhere; the tarball's copy is done with.
        let _ = std::fs::remove_dir_all(TARBALL_DIR);
        let stderr = exit.read_stderr().unwrap_or_default();

        let Some((log_path, log_name)) = sbuild::find_build_log(BUILD_DIR)? else {
            return Err(Error::failed(format!(
                "sbuild wrote no build log ({}): {}",
                sbuild::ended(&exit),
                tail(&stderr)
            )));
        };
        let text = String::from_utf8_lossy(&std::fs::read(&log_path)?).into_owned();
        let sbuild::Verdict {
            summary,
            succeeded,
            note,
        } = sbuild::judge(&text, &exit, &source.name, &data.host_architecture);
        if !succeeded && !stderr.trim().is_empty() {
            log::warn(format!("sbuild: {}", tail(&stderr)));
        }

        let version = summary.get("Version").unwrap_or(&source.version);
        let build_log = NewArtifact::new("debian:package-build-log")
            .data(&BuildLogData {
                source: &source.name,
                version,
                architecture: &data.host_architecture,
                filename: &log_name,
                summary: &summary,
            })?
            .file(log_name.clone(), log_path)
            .create()?;
        artifacts::relate(build_log, source.id, RelationType::RelatesTo)?;
        if succeeded {
            for binaries in store_build(&data, &source, &summary)? {
                artifacts::relate(build_log, binaries, RelationType::RelatesTo)?;
            }
        }

        let (outcome, status) = match succeeded {
            true => (Outcome::Passed, Status::Success),
            false => (Outcome::Failed, Status::Failure),
        };
        let mut result = CheckResult::new(
            format!("{}_{}_{}", source.name, version, data.host_architecture),
            "debian_package",
            outcome,
        )
        .note(note)
        .artifact(format!("artifact:{build_log}"))
        .keyval(
            "sbuild_exit_code",
            exit.code().map_or("none".into(), |c| c.to_string()),
        );
        for (key, value) in &summary {
            result = result.keyval(key.clone(), value);
        }
        result.emit()?;
        Ok(status)
    }
}

/// The last lines of a command's stderr, for a message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

taskhost_sdk::export_task!(Sbuild, manifest = "taskhost.toml");

#[cfg(test)]
mod tests;
