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
//! HOME points nowhere, so no ~/.sbuildrc is read.

pub mod buildlog;
pub mod checks;

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;
use taskhost_sdk::artifacts::{self, NewArtifact, RelationType};
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{
    ArtifactId, ArtifactRef, Command, Environment, Error, ExitStatus, Outcome, Result, Running,
    Status, Task, log,
};

// ---- task_data --------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Data {
    pub input: Input,
    /// `--dist`; defaults to the environment's codename.
    pub distribution: Option<String>,
    /// A `debian:system-tarball` (id or lookup such as
    /// `debian/match:codename=bookworm:variant=buildd`).
    pub environment: ArtifactRef,
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub extra_repositories: Vec<ExtraRepository>,
    pub host_architecture: String,
    /// Left out: the host architecture. `null`: the environment's own
    /// architecture (any build architecture will do).
    #[serde(default, deserialize_with = "present")]
    pub build_architecture: Option<Option<String>>,
    #[serde(default = "any")]
    pub build_components: Vec<Component>,
    #[serde(default)]
    pub build_profiles: Vec<String>,
    /// DEB_BUILD_OPTIONS of the build.
    pub build_options: Option<String>,
    /// `--build-path`: where the build happens inside the chroot.
    pub build_path: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Input {
    /// A `debian:source-package`: a .dsc and the files it names.
    pub source_artifact_id: ArtifactRef,
    /// Binary packages apt may install build-dependencies from.
    #[serde(default)]
    pub extra_binary_artifact_ids: Vec<ArtifactRef>,
}

#[derive(Debug, Deserialize)]
pub struct ExtraRepository {
    /// One sources.list line.
    pub sources_list: String,
    /// The ASCII-armored key the repository is signed with.
    pub authentication_key: Option<String>,
}

/// debusine's backends. Only unshare exists for sbuild here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    #[default]
    Auto,
    Unshare,
    Local,
    Schroot,
    IncusLxc,
    IncusVm,
    Qemu,
}

/// What to build (dpkg-buildpackage --build=any,all,source).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Any,
    All,
    Source,
}

fn any() -> Vec<Component> {
    vec![Component::Any]
}

/// Tells a key given as `null` (`Some(None)`) from a key left out (`None`).
fn present<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The checks that need no artifact: each error names its key.
pub fn check(data: &Data) -> Result<()> {
    let named = |key: String| move |why: String| Error::invalid(format!("{key}: {why}"));
    match data.backend {
        Backend::Auto | Backend::Unshare => {}
        Backend::Local => {
            return Err(Error::invalid(
                "backend: local would build on the host itself; sbuild builds in an unshare chroot \
                 made from `environment` (use unshare or auto)",
            ));
        }
        other => {
            return Err(Error::invalid(format!(
                "backend: {other:?} is not available for sbuild on this host; use unshare (or auto)"
            )));
        }
    }
    checks::check_architecture(&data.host_architecture)
        .map_err(named("host_architecture".into()))?;
    if let Some(Some(build)) = &data.build_architecture {
        checks::check_architecture(build).map_err(named("build_architecture".into()))?;
    }
    if data.build_components.is_empty() {
        return Err(Error::invalid(
            "build_components: empty; list one or more of any, all, source",
        ));
    }
    if let Some(dist) = &data.distribution {
        checks::check_distribution(dist).map_err(named("distribution".into()))?;
    }
    for (i, profile) in data.build_profiles.iter().enumerate() {
        checks::check_profile(profile).map_err(named(format!("build_profiles[{i}]")))?;
    }
    if let Some(options) = &data.build_options {
        checks::check_build_options(options).map_err(named("build_options".into()))?;
    }
    if let Some(path) = &data.build_path {
        checks::check_build_path(path).map_err(named("build_path".into()))?;
    }
    for (i, repo) in data.extra_repositories.iter().enumerate() {
        checks::check_sources_line(&repo.sources_list)
            .map_err(named(format!("extra_repositories[{i}].sources_list")))?;
        if let Some(key) = &repo.authentication_key {
            checks::check_armored_key(key)
                .map_err(named(format!("extra_repositories[{i}].authentication_key")))?;
        }
    }
    Ok(())
}

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
    let fields = control_fields(&std::fs::read_to_string(&dsc)?)
        .map_err(|e| Error::invalid(format!("input.source_artifact_id: {dsc}: {e}")))?;
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    Ok(Source {
        id,
        name: field("Source"),
        version: field("Version"),
        dsc,
    })
}

/// The environment's tarball, fetched only after the checks that need
/// just its data.
fn tarball(id: ArtifactId) -> Result<String> {
    let paths = artifacts::fetch(id, TARBALL_DIR)?;
    paths
        .into_iter()
        .find(|p| p.rsplit('/').next().is_some_and(|n| n.contains(".tar")))
        .ok_or_else(|| Error::invalid(format!("environment: artifact {id} holds no .tar* file")))
}

/// The build architecture, checked against what the environment can do.
fn build_architecture(data: &Data, env_id: ArtifactId, env_arch: &str) -> Result<String> {
    let build = match &data.build_architecture {
        None => data.host_architecture.clone(),
        Some(None) => env_arch.to_string(),
        Some(Some(arch)) => arch.clone(),
    };
    if env_arch.is_empty() || build == env_arch {
        return Ok(build);
    }
    let key = if data.build_architecture.is_some() {
        "build_architecture"
    } else {
        "host_architecture"
    };
    Err(Error::invalid(format!(
        "{key}: the environment (artifact {env_id}) is an {env_arch} system, so it builds on {env_arch}, not {build}; \
         for a cross build to {host} set build_architecture to {env_arch} (or null), or pick an {build} environment",
        host = data.host_architecture
    )))
}

fn extra_packages(ids: &[ArtifactRef]) -> Result<Vec<String>> {
    let mut debs = Vec::new();
    for reference in ids {
        let id = reference.id()?;
        let found: Vec<String> = artifacts::fetch(id, &format!("{DIR}/extra/{id}"))?
            .into_iter()
            .filter(|p| p.ends_with(".deb"))
            .collect();
        if found.is_empty() {
            return Err(Error::invalid(format!(
                "input.extra_binary_artifact_ids: artifact {id} holds no .deb"
            )));
        }
        debs.extend(found);
    }
    Ok(debs)
}

fn repository_keys(repos: &[ExtraRepository]) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    for (i, repo) in repos.iter().enumerate() {
        if let Some(key) = &repo.authentication_key {
            let path = format!("{DIR}/keys/{i}.asc");
            std::fs::create_dir_all(format!("{DIR}/keys"))?;
            std::fs::write(&path, key.trim().to_string() + "\n")?;
            keys.push(path);
        }
    }
    Ok(keys)
}

// ---- output -----------------------------------------------------------

/// The fields of a .dsc or .changes (a clear signature is taken off).
pub fn control_fields(text: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let body = match text.strip_prefix("-----BEGIN PGP SIGNED MESSAGE-----") {
        Some(signed) => {
            let start = signed.find("\n\n").map_or(0, |i| i + 2);
            let end = signed
                .find("-----BEGIN PGP SIGNATURE-----")
                .unwrap_or(signed.len());
            signed
                .get(start..end)
                .unwrap_or_default()
                .lines()
                .map(|l| l.strip_prefix("- ").unwrap_or(l))
                .collect::<Vec<_>>()
                .join("\n")
        }
        None => text.to_string(),
    };
    let parsed =
        deb822_lossless::Deb822::from_str(&body).map_err(|e| format!("not deb822: {e}"))?;
    let paragraph = parsed.paragraphs().next().ok_or("no fields")?;
    Ok(paragraph.items().collect())
}

/// The file names a .changes lists in Checksums-Sha256.
pub fn listed_files(fields: &BTreeMap<String, String>) -> Vec<String> {
    fields
        .get("Checksums-Sha256")
        .map(|v| {
            v.lines()
                .filter_map(|l| l.split_whitespace().nth(2))
                .filter(|name| !name.contains('/') && *name != "..")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `NAME_VERSION_ARCH.deb` (or `.udeb`) → (name, arch).
pub fn deb_name(file: &str) -> Option<(String, String)> {
    let stem = file
        .strip_suffix(".deb")
        .or_else(|| file.strip_suffix(".udeb"))?;
    let mut parts = stem.split('_');
    let (name, _version, arch) = (parts.next()?, parts.next()?, parts.next()?);
    parts
        .next()
        .is_none()
        .then(|| (name.to_string(), arch.to_string()))
}

/// The build log sbuild wrote: (workspace path of the file, its name
/// without sbuild's timestamp, as the `PKG_VER_ARCH.build` link names it).
fn find_build_log() -> Result<Option<(String, String)>> {
    let mut file = None;
    let mut link = None;
    let Ok(entries) = std::fs::read_dir(BUILD_DIR) else {
        return Ok(None);
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".build") {
            continue;
        }
        if entry.file_type()?.is_symlink() {
            link = Some(name);
        } else if entry.file_type()?.is_file() {
            file = Some(name);
        }
    }
    Ok(file.map(|f| {
        let name = link.unwrap_or_else(|| f.clone());
        (format!("{BUILD_DIR}/{f}"), name)
    }))
}

fn find_changes(host_arch: &str) -> Result<Option<String>> {
    let mut found: Vec<String> = std::fs::read_dir(BUILD_DIR)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".changes"))
        .collect();
    found.sort_by_key(|n| !n.ends_with(&format!("_{host_arch}.changes")));
    Ok(found.into_iter().next())
}

#[derive(Serialize)]
struct BuildLogData<'a> {
    source: &'a str,
    version: &'a str,
    architecture: &'a str,
    filename: &'a str,
    /// sbuild's Summary, in its own field names (Status, Fail-Stage, ...).
    summary: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct BinaryPackagesData<'a> {
    srcpkg_name: &'a str,
    srcpkg_version: &'a str,
    version: &'a str,
    architecture: &'a str,
    packages: Vec<String>,
}

#[derive(Serialize)]
struct UploadData<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    changes_fields: &'a BTreeMap<String, String>,
}

/// Stores the binaries (one artifact per architecture) and the upload;
/// returns the binaries' ids. A .changes without the binaries asked for
/// is no successful build.
fn store_build(
    data: &Data,
    source: &Source,
    summary: &BTreeMap<String, String>,
) -> Result<Vec<ArtifactId>> {
    let changes = find_changes(&data.host_architecture)?
        .ok_or_else(|| Error::failed("sbuild reported success but wrote no .changes"))?;
    let changes_path = format!("{BUILD_DIR}/{changes}");
    let fields = control_fields(&std::fs::read_to_string(&changes_path)?)
        .map_err(|e| Error::failed(format!("{changes}: {e}")))?;
    let listed = listed_files(&fields);
    if listed.is_empty() {
        return Err(Error::failed(format!(
            "sbuild reported success but {changes} lists no files"
        )));
    }
    let binaries_wanted = data
        .build_components
        .iter()
        .any(|c| *c != Component::Source);
    if binaries_wanted && !listed.iter().any(|name| deb_name(name).is_some()) {
        return Err(Error::failed(format!(
            "sbuild reported success but {changes} lists no .deb: {}",
            listed.join(", ")
        )));
    }

    let upload = listed
        .iter()
        .fold(NewArtifact::new("debian:upload"), |a, name| {
            a.file(name.clone(), format!("{BUILD_DIR}/{name}"))
        })
        .file(changes.clone(), changes_path)
        .data(&UploadData {
            kind: "dpkg",
            changes_fields: &fields,
        })?
        .create()?;

    let mut by_arch: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for name in &listed {
        if let Some((package, arch)) = deb_name(name) {
            by_arch
                .entry(arch)
                .or_default()
                .push((package, name.clone()));
        }
    }
    let version = summary.get("Version").unwrap_or(&source.version);
    let mut binaries = Vec::new();
    for (arch, debs) in &by_arch {
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
        let build_architecture = build_architecture(&data, env_id, env_field("architecture"))?;
        let distribution = match (&data.distribution, env_field("codename")) {
            (Some(dist), _) => dist.clone(),
            (None, "") => {
                return Err(Error::invalid(format!(
                    "distribution: the environment (artifact {env_id}) names no codename; give distribution"
                )));
            }
            (None, codename) => codename.to_string(),
        };

        let source = fetch_source(data.input.source_artifact_id.id()?)?;
        let resolved = Resolved {
            tarball: tarball(env_id)?,
            dsc: source.dsc.clone(),
            distribution,
            build_architecture,
            extra_packages: extra_packages(&data.input.extra_binary_artifact_ids)?,
            repository_keys: repository_keys(&data.extra_repositories)?,
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
        let exit = follow(env.start(&command_line(&data, &resolved))?)?;
        // The chroot is unpacked elsewhere; the tarball's copy is done with.
        let _ = std::fs::remove_dir_all(TARBALL_DIR);
        let stderr = exit.read_stderr().unwrap_or_default();

        let Some((log_path, log_name)) = find_build_log()? else {
            return Err(Error::failed(format!(
                "sbuild wrote no build log ({}): {}",
                ended(&exit),
                tail(&stderr)
            )));
        };
        let text = String::from_utf8_lossy(&std::fs::read(&log_path)?).into_owned();
        let summary = buildlog::summary(&text);
        let status = summary.get("Status").map_or("", String::as_str);
        // Stopped from outside (killed, or at its timeout): never a success.
        let stopped = exit.timed_out() || exit.code().is_none();
        let succeeded = !stopped && exit.success() && status == buildlog::SUCCESSFUL;
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

        let note = match (status, exit.code()) {
            // How it was stopped, and in which phase of the log.
            _ if stopped => {
                let phase = buildlog::phases(&text)
                    .into_iter()
                    .rfind(|p| p != "Summary");
                let during = phase.map_or(String::new(), |p| format!(" during {p}"));
                let note = buildlog::note(&summary);
                format!("sbuild {}{during} ({note})", ended(&exit))
            }
            (buildlog::SKIPPED, _) => format!(
                "skipped: {} does not build on {} (sbuild Status: skipped)",
                source.name, data.host_architecture
            ),
            (buildlog::SUCCESSFUL, Some(code)) if code != 0 => {
                format!("successful in the log, but sbuild exited {code}")
            }
            _ => buildlog::note(&summary),
        };
        let mut result = CheckResult::new(
            format!("{}_{}_{}", source.name, version, data.host_architecture),
            "debian_package",
            if succeeded {
                Outcome::Passed
            } else {
                Outcome::Failed
            },
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
        Ok(if succeeded {
            Status::Success
        } else {
            Status::Failure
        })
    }
}

/// Waits for sbuild, reporting each phase of its log as it begins (a log
/// line, and the `sbuild` progress bar over [`buildlog::MILESTONES`]).
fn follow(running: Running) -> Result<ExitStatus> {
    use std::io::{Read, Seek, SeekFrom};
    let total = buildlog::MILESTONES.len() as u64;
    let mut follower = buildlog::Follower::default();
    let (mut file, mut offset, mut done) = (None, 0u64, 0u64);
    loop {
        let ended = running.wait_timeout(std::time::Duration::from_millis(500))?;
        if file.is_none() {
            file = find_build_log()?.and_then(|(path, _)| std::fs::File::open(path).ok());
        }
        if let Some(f) = file.as_mut() {
            let mut new = Vec::new();
            f.seek(SeekFrom::Start(offset))?;
            offset += f.read_to_end(&mut new)? as u64;
            for phase in follower.feed(&new) {
                if let Some(i) = buildlog::MILESTONES.iter().position(|m| *m == phase) {
                    done = done.max(i as u64 + 1);
                }
                log::info(format!("phase: {phase}"));
                log::progress("sbuild", done, Some(total));
            }
        }
        if let Some(exit) = ended {
            return Ok(exit);
        }
    }
}

/// How sbuild ended: `exited 2`, `was killed by signal 9`, `timed out`.
fn ended(exit: &ExitStatus) -> String {
    match (exit.timed_out(), exit.code(), exit.signal()) {
        (true, ..) => "timed out".into(),
        (false, Some(code), _) => format!("exited {code}"),
        (false, None, Some(signal)) => format!("was killed by signal {signal}"),
        (false, None, None) => "ended without an exit code".into(),
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
