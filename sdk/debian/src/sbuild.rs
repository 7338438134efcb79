//! debusine's Sbuild task (the PackageBuild ontology): its task_data and
//! their checks, what sbuild's `.build` log says (its phases and its
//! Summary), where sbuild leaves its log and .changes, and the data of the
//! artifacts a build makes.
//!
//! The log format (sbuild 0.85, checked against real runs): each phase
//! opens with a boxed title
//!
//! ```text
//! +------------------------------------------------------------------------------+
//! | Install package build dependencies                                           |
//! +------------------------------------------------------------------------------+
//! ```
//!
//! and the last one, `Summary`, holds `Key: value` lines (`Status`,
//! `Fail-Stage`, `Build-Time`, `Build-Space`, ...) up to a line of dashes.

use crate::checks::{self, Backend, named};
use crate::control;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use taskhost_sdk::{ArtifactId, ArtifactRef, Error, ExitStatus, Result, Running, log};

// ---- task_data --------------------------------------------------------

/// The task_data of the sbuild task.
#[derive(Debug, Deserialize)]
pub struct Data {
    /// What to build, and with what.
    pub input: Input,
    /// `--dist`; defaults to the environment's codename.
    pub distribution: Option<String>,
    /// A `debian:system-tarball` (id or lookup such as
    /// `debian/match:codename=bookworm:variant=buildd`).
    pub environment: ArtifactRef,
    /// Only unshare (or auto) builds here.
    #[serde(default)]
    pub backend: Backend,
    /// More APT repositories for the build-dependencies.
    #[serde(default)]
    pub extra_repositories: Vec<ExtraRepository>,
    /// The architecture to build for.
    pub host_architecture: String,
    /// Left out: the host architecture. `null`: the environment's own
    /// architecture (any build architecture will do).
    #[serde(default, deserialize_with = "present")]
    pub build_architecture: Option<Option<String>>,
    /// What to build (default: any).
    #[serde(default = "any")]
    pub build_components: Vec<Component>,
    /// `--profiles`.
    #[serde(default)]
    pub build_profiles: Vec<String>,
    /// DEB_BUILD_OPTIONS of the build.
    pub build_options: Option<String>,
    /// `--build-path`: where the build happens inside the chroot.
    pub build_path: Option<String>,
}

/// The input artifacts of task_data.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// A `debian:source-package`: a .dsc and the files it names.
    pub source_artifact_id: ArtifactRef,
    /// Binary packages apt may install build-dependencies from.
    #[serde(default)]
    pub extra_binary_artifact_ids: Vec<ArtifactRef>,
}

/// One of `extra_repositories`.
#[derive(Debug, Deserialize)]
pub struct ExtraRepository {
    /// One sources.list line.
    pub sources_list: String,
    /// The ASCII-armored key the repository is signed with.
    pub authentication_key: Option<String>,
}

/// What to build (dpkg-buildpackage --build=any,all,source).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    /// Architecture-dependent binaries.
    Any,
    /// Architecture-independent binaries.
    All,
    /// The source package.
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
    checks::check_architecture(&data.host_architecture).map_err(named("host_architecture"))?;
    if let Some(Some(build)) = &data.build_architecture {
        checks::check_architecture(build).map_err(named("build_architecture"))?;
    }
    if data.build_components.is_empty() {
        return Err(Error::invalid(
            "build_components: empty; list one or more of any, all, source",
        ));
    }
    if let Some(dist) = &data.distribution {
        checks::check_distribution(dist).map_err(named("distribution"))?;
    }
    for (i, profile) in data.build_profiles.iter().enumerate() {
        checks::check_profile(profile).map_err(named(format!("build_profiles[{i}]")))?;
    }
    if let Some(options) = &data.build_options {
        checks::check_build_options(options).map_err(named("build_options"))?;
    }
    if let Some(path) = &data.build_path {
        checks::check_build_path(path).map_err(named("build_path"))?;
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

/// The build architecture, checked against the environment's (`env_arch`,
/// empty when its data names none).
pub fn build_architecture(data: &Data, env_id: ArtifactId, env_arch: &str) -> Result<String> {
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

/// The distribution to build for: `distribution`, or else the
/// environment's `codename` (artifact `env_id`; empty when it names none).
pub fn distribution(data: &Data, env_id: ArtifactId, codename: &str) -> Result<String> {
    match (&data.distribution, codename) {
        (Some(dist), _) => Ok(dist.clone()),
        (None, "") => Err(Error::invalid(format!(
            "distribution: the environment (artifact {env_id}) names no codename; give distribution"
        ))),
        (None, codename) => Ok(codename.to_string()),
    }
}

/// Writes the `authentication_key` of each of `repos` into `dir` (as
/// `I.asc`, I its index); returns their paths, for `--extra-repository-key`.
pub fn write_keys(repos: &[ExtraRepository], dir: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    for (i, repo) in repos.iter().enumerate() {
        if let Some(key) = &repo.authentication_key {
            let path = format!("{dir}/{i}.asc");
            std::fs::create_dir_all(dir)?;
            std::fs::write(&path, key.trim().to_string() + "\n")?;
            keys.push(path);
        }
    }
    Ok(keys)
}

// ---- the build log ----------------------------------------------------

/// sbuild's Status of a build that succeeded.
pub const SUCCESSFUL: &str = "successful";
/// sbuild's Status of a package not built for the architecture.
pub const SKIPPED: &str = "skipped";

/// The phases of a successful build, in sbuild 0.85's order: how far a
/// running build is (others, such as `Chroot Setup Commands`, come between).
pub const MILESTONES: &[&str] = &[
    "Update chroot",
    "Fetch source files",
    "Install package build dependencies",
    "Check architectures",
    "Build environment",
    "Build",
    "Changes",
    "Buildinfo",
    "Package contents",
    "Post Build",
    "Cleanup",
    "Summary",
];

/// The titles of the log's phases, in order (`Update chroot`, `Build`, ...).
pub fn phases(log: &str) -> Vec<String> {
    let mut follower = Follower::default();
    let mut phases = follower.feed(log.as_bytes());
    phases.extend(follower.feed(b"\n"));
    phases
}

/// Finds phase titles in a log read piece by piece as it grows: only
/// complete lines count, so a title cut mid-write is found next time.
#[derive(Debug, Default)]
pub struct Follower {
    /// The last, incomplete line.
    partial: Vec<u8>,
    /// A rule was seen (`Some(None)`), then a title (`Some(Some(..))`).
    heading: Option<Option<String>>,
}

impl Follower {
    /// Takes the log's next bytes; returns the phases they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut found = Vec::new();
        self.partial.extend_from_slice(bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return found;
        };
        let rest = self.partial.split_off(end + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        for line in String::from_utf8_lossy(&complete).lines() {
            self.heading = match (self.heading.take(), is_rule(line)) {
                (Some(Some(title)), true) => {
                    found.push(title);
                    None
                }
                (_, true) => Some(None),
                (Some(None), false) => line
                    .strip_prefix('|')
                    .and_then(|t| t.strip_suffix('|'))
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(|t| Some(t.to_string())),
                (_, false) => None,
            };
        }
        found
    }
}

/// `+-----...-----+`, the rule above and below a phase title.
fn is_rule(line: &str) -> bool {
    line.len() > 2
        && line.starts_with("+-")
        && line.ends_with("-+")
        && line[1..line.len() - 1].bytes().all(|b| b == b'-')
}

/// The fields of the log's last Summary section, in sbuild's own names.
/// Empty when the log has no Summary (sbuild stopped before writing it).
pub fn summary(log: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut lines = log.lines().peekable();
    let mut in_summary = false;
    while let Some(line) = lines.next() {
        if is_rule(line) {
            let title = lines.next().unwrap_or_default();
            let _ = lines.next_if(|l| is_rule(l));
            in_summary = title.trim_matches(|c| c == '|' || c == ' ') == "Summary";
            if in_summary {
                fields.clear();
            }
            continue;
        }
        if !in_summary {
            continue;
        }
        if line.starts_with("----") {
            in_summary = false;
            continue;
        }
        if let Some((key, value)) = line.split_once(": ")
            && key.starts_with(|c: char| c.is_ascii_uppercase())
        {
            fields.insert(key.to_string(), value.trim().to_string());
        }
    }
    fields
}

/// One line for the result's note: `successful` or
/// `attempted (Fail-Stage: build)`.
pub fn note(summary: &BTreeMap<String, String>) -> String {
    let status = summary.get("Status").map_or("no Status", String::as_str);
    match summary.get("Fail-Stage") {
        Some(stage) => format!("{status} (Fail-Stage: {stage})"),
        None => status.to_string(),
    }
}

/// What a finished sbuild run comes to.
#[derive(Debug)]
pub struct Verdict {
    /// The log's Summary ([`summary`]).
    pub summary: BTreeMap<String, String>,
    /// sbuild exited 0 *and* its log says `Status: successful`; a killed or
    /// timed-out sbuild never succeeds.
    pub succeeded: bool,
    /// One line for the result: how it ended, or the Summary's [`note`].
    pub note: String,
}

/// Judges a run of sbuild building `package` for `arch` from its `log`
/// and how it ended.
pub fn judge(log: &str, exit: &ExitStatus, package: &str, arch: &str) -> Verdict {
    let summary = summary(log);
    let status = summary.get("Status").map_or("", String::as_str);
    // Stopped from outside (killed, or at its timeout): never a success.
    let stopped = exit.timed_out() || exit.code().is_none();
    let succeeded = !stopped && exit.success() && status == SUCCESSFUL;
    let note = match (status, exit.code()) {
        // How it was stopped, and in which phase of the log.
        _ if stopped => {
            let phase = phases(log).into_iter().rfind(|p| p != "Summary");
            let during = phase.map_or(String::new(), |p| format!(" during {p}"));
            format!("sbuild {}{during} ({})", ended(exit), note(&summary))
        }
        (SKIPPED, _) => {
            format!("skipped: {package} does not build on {arch} (sbuild Status: skipped)")
        }
        (SUCCESSFUL, Some(code)) if code != 0 => {
            format!("successful in the log, but sbuild exited {code}")
        }
        _ => note(&summary),
    };
    Verdict {
        summary,
        succeeded,
        note,
    }
}

/// How sbuild ended: `exited 2`, `was killed by signal 9`, `timed out`.
pub fn ended(exit: &ExitStatus) -> String {
    match (exit.timed_out(), exit.code(), exit.signal()) {
        (true, ..) => "timed out".into(),
        (false, Some(code), _) => format!("exited {code}"),
        (false, None, Some(signal)) => format!("was killed by signal {signal}"),
        (false, None, None) => "ended without an exit code".into(),
    }
}

// ---- the build directory ----------------------------------------------

/// The build log sbuild wrote into `build_dir`: (workspace path of the
/// file, its name without sbuild's timestamp, as the `PKG_VER_ARCH.build`
/// link names it).
pub fn find_build_log(build_dir: &str) -> Result<Option<(String, String)>> {
    let mut file = None;
    let mut link = None;
    let Ok(entries) = std::fs::read_dir(build_dir) else {
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
        (format!("{build_dir}/{f}"), name)
    }))
}

/// The name of the .changes sbuild wrote into `build_dir`, the host
/// architecture's first.
pub fn find_changes(build_dir: &str, host_arch: &str) -> Result<Option<String>> {
    let mut found: Vec<String> = std::fs::read_dir(build_dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".changes"))
        .collect();
    found.sort_by_key(|n| !n.ends_with(&format!("_{host_arch}.changes")));
    Ok(found.into_iter().next())
}

/// The .changes of a build sbuild reported successful.
#[derive(Debug)]
pub struct Changes {
    /// Its file name.
    pub name: String,
    /// Its workspace path.
    pub path: String,
    /// Its fields.
    pub fields: BTreeMap<String, String>,
    /// The files it lists ([`control::listed_files`]).
    pub files: Vec<String>,
}

/// Reads the .changes sbuild wrote into `build_dir` (the host
/// architecture's first). None, a broken one, one listing no files, or one
/// without the .debs `components` ask for is no successful build.
pub fn read_changes(build_dir: &str, host_arch: &str, components: &[Component]) -> Result<Changes> {
    let name = find_changes(build_dir, host_arch)?
        .ok_or_else(|| Error::failed("sbuild reported success but wrote no .changes"))?;
    let path = format!("{build_dir}/{name}");
    let fields = control::fields(&std::fs::read_to_string(&path)?)
        .map_err(|e| Error::failed(format!("{name}: {e}")))?;
    let files = control::listed_files(&fields);
    if files.is_empty() {
        return Err(Error::failed(format!(
            "sbuild reported success but {name} lists no files"
        )));
    }
    let binaries_wanted = components.iter().any(|c| *c != Component::Source);
    if binaries_wanted && !files.iter().any(|f| control::deb_name(f).is_some()) {
        return Err(Error::failed(format!(
            "sbuild reported success but {name} lists no .deb: {}",
            files.join(", ")
        )));
    }
    Ok(Changes {
        name,
        path,
        fields,
        files,
    })
}

/// Waits for sbuild, reporting each phase of the log it writes into
/// `build_dir` as it begins (a log line, and the `sbuild` progress bar over
/// [`MILESTONES`]).
pub fn follow(running: Running, build_dir: &str) -> Result<ExitStatus> {
    use std::io::{Read, Seek, SeekFrom};
    let total = MILESTONES.len() as u64;
    let mut follower = Follower::default();
    let (mut file, mut offset, mut done) = (None, 0u64, 0u64);
    loop {
        let ended = running.wait_timeout(std::time::Duration::from_millis(500))?;
        if file.is_none() {
            file = find_build_log(build_dir)?.and_then(|(path, _)| std::fs::File::open(path).ok());
        }
        if let Some(f) = file.as_mut() {
            let mut new = Vec::new();
            f.seek(SeekFrom::Start(offset))?;
            offset += f.read_to_end(&mut new)? as u64;
            for phase in follower.feed(&new) {
                if let Some(i) = MILESTONES.iter().position(|m| *m == phase) {
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

// ---- artifacts --------------------------------------------------------

/// The data of a `debian:package-build-log`.
#[derive(Serialize)]
pub struct BuildLogData<'a> {
    /// The source package's name.
    pub source: &'a str,
    /// The version built.
    pub version: &'a str,
    /// The host architecture.
    pub architecture: &'a str,
    /// The log's file name.
    pub filename: &'a str,
    /// sbuild's Summary, in its own field names (Status, Fail-Stage, ...).
    pub summary: &'a BTreeMap<String, String>,
}

/// The data of a `debian:binary-packages`.
#[derive(Serialize)]
pub struct BinaryPackagesData<'a> {
    /// The source package's name.
    pub srcpkg_name: &'a str,
    /// The source package's version.
    pub srcpkg_version: &'a str,
    /// The binaries' version.
    pub version: &'a str,
    /// Their architecture.
    pub architecture: &'a str,
    /// Their package names, sorted.
    pub packages: Vec<String>,
}

/// The data of a `debian:upload`.
#[derive(Serialize)]
pub struct UploadData<'a> {
    /// `dpkg`.
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// The fields of the .changes.
    pub changes_fields: &'a BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use taskhost_sdk::decode_task_data;

    const RULE: &str =
        "+------------------------------------------------------------------------------+";

    fn section(title: &str) -> String {
        format!("{RULE}\n| {title:<77}|\n{RULE}\n\n")
    }

    fn log(summary_lines: &str) -> String {
        let mut text = String::from(
            "sbuild (Debian sbuild) 0.85.0 (04 January 2023) on vm\n\n\
             +==============================================================================+\n\
             | hello 1.0 (amd64)                            Tue, 01 Dec 2026 17:10:05 +0000 |\n\
             +==============================================================================+\n\n\
             Package: hello\nVersion: 1.0\n\n",
        );
        for title in [
            "Update chroot",
            "Fetch source files",
            "Install package build dependencies",
            "Build",
            "Post Build",
            "Cleanup",
        ] {
            text.push_str(&section(title));
            text.push_str("Status: not-a-summary-field\n\n");
        }
        text.push_str(&section("Summary"));
        text.push_str(summary_lines);
        text.push_str(
            "--------------------------------------------------------------------------------\n\
             Finished at 2026-12-01T17:10:31Z\nBuild needed 00:00:26, 224k disk space\n",
        );
        text
    }

    #[test]
    fn phases_are_the_boxed_titles_in_order() {
        let text = log("Status: successful\n");
        assert_eq!(
            phases(&text),
            [
                "Update chroot",
                "Fetch source files",
                "Install package build dependencies",
                "Build",
                "Post Build",
                "Cleanup",
                "Summary"
            ]
        );
        // The package's own ==== box is not a phase.
        assert!(!phases(&text).iter().any(|p| p.contains("hello")));
    }

    #[test]
    fn the_summary_holds_the_fields_of_the_last_section_only() {
        let text = log(
            "Build Architecture: amd64\nBuild-Space: 52\nBuild-Time: 1\nFail-Stage: build\n\
             Job: /w/input/broken_1.0.dsc\nStatus: attempted\nVersion: 1.0\n",
        );
        let s = summary(&text);
        assert_eq!(s["Status"], "attempted");
        assert_eq!(s["Fail-Stage"], "build");
        assert_eq!(s["Build-Time"], "1");
        assert_eq!(s["Build Architecture"], "amd64");
        assert_eq!(s["Job"], "/w/input/broken_1.0.dsc");
        assert_eq!(s.len(), 7, "{s:?}");
        assert_eq!(note(&s), "attempted (Fail-Stage: build)");
    }

    #[test]
    fn a_log_cut_before_its_summary_has_none() {
        let text = format!(
            "{}Get:1 http://mirror bookworm InRelease\n",
            section("Update chroot")
        );
        assert!(summary(&text).is_empty());
        assert_eq!(note(&summary(&text)), "no Status");
        assert_eq!(phases(&text), ["Update chroot"]);
    }

    #[test]
    fn a_log_read_in_pieces_gives_each_phase_once_when_complete() {
        let text = log("Status: successful\n");
        for size in [1, 7, 80, 81, 4096] {
            let mut follower = Follower::default();
            let mut seen = Vec::new();
            for piece in text.as_bytes().chunks(size) {
                seen.extend(follower.feed(piece));
            }
            assert_eq!(seen, phases(&text), "pieces of {size} bytes");
        }
        // A title whose closing rule is not written yet is not a phase yet.
        let mut follower = Follower::default();
        assert!(
            follower
                .feed(format!("{RULE}\n| Build").as_bytes())
                .is_empty()
        );
        assert!(follower.feed(b"        |\n").is_empty());
        assert_eq!(follower.feed(format!("{RULE}\n").as_bytes()), ["Build"]);
    }

    #[test]
    fn a_successful_summary_has_no_fail_stage() {
        let s = summary(&log("Status: successful\nBuild-Time: 3\n"));
        assert_eq!(note(&s), SUCCESSFUL);
        assert!(!s.contains_key("Fail-Stage"));
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

    const MINIMAL: &str =
        r#"{"input": {"source_artifact_id": 1}, "environment": 2, "host_architecture": "amd64"}"#;

    fn with(extra: &str) -> String {
        format!("{},{extra}}}", MINIMAL.trim_end_matches('}'))
    }

    #[test]
    fn build_architecture_left_out_null_or_given() {
        assert_eq!(data(MINIMAL).build_architecture, None);
        assert_eq!(
            data(&with(r#""build_architecture": null"#)).build_architecture,
            Some(None)
        );
        assert_eq!(
            data(&with(r#""build_architecture": "i386""#)).build_architecture,
            Some(Some("i386".into()))
        );
    }

    #[test]
    fn an_environment_of_another_architecture_is_refused_naming_the_key() {
        let d = Data {
            host_architecture: "arm64".into(),
            ..data(MINIMAL)
        };
        let e = build_architecture(&d, 2, "amd64").unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.starts_with("host_architecture:") && m.contains("cross build")),
            "{e:?}"
        );
        // A cross build from the environment's architecture is fine.
        let d = Data {
            build_architecture: Some(None),
            ..d
        };
        assert_eq!(build_architecture(&d, 2, "amd64").unwrap(), "amd64");
        let d = Data {
            build_architecture: Some(Some("i386".into())),
            ..d
        };
        let e = build_architecture(&d, 2, "amd64").unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.starts_with("build_architecture:")),
            "{e:?}"
        );
    }

    #[test]
    fn bad_values_are_refused_naming_their_key() {
        check(&data(MINIMAL)).unwrap();
        for (extra, key) in [
            (
                r#""build_components": ["any", "binary"]"#,
                "build_components",
            ),
            (r#""build_components": []"#, "build_components"),
            (r#""backend": "qemu""#, "backend"),
            (r#""backend": "local""#, "backend"),
            (r#""backend": "chroot""#, "backend"),
            (
                r#""build_profiles": ["nocheck,nodoc"]"#,
                "build_profiles[0]",
            ),
            (r#""build_options": "nocheck\nX=1""#, "build_options"),
            (r#""build_path": "relative/dir""#, "build_path"),
            (r#""distribution": "--dist=sid""#, "distribution"),
            (
                r#""build_architecture": "amd64 i386""#,
                "build_architecture",
            ),
            (
                r#""extra_repositories": [{"sources_list": "deb http://h/debian bookworm"}]"#,
                "extra_repositories[0].sources_list",
            ),
            (
                r#""extra_repositories": [{"sources_list": "deb http://h/ ./", "authentication_key": "abc"}]"#,
                "extra_repositories[0].authentication_key",
            ),
            (
                r#""extra_repositories": [{"sources_list": "deb http://h/ ./", "key": "abc"}]"#,
                "extra_repositories.0.key",
            ),
            (r#""bogus": 1"#, "bogus"),
        ] {
            let m = invalid(&with(extra));
            assert!(m.contains(key), "{extra}: {m}");
        }
        let m = invalid(r#"{"input": {"source_artifact_id": 1}, "environment": 2}"#);
        assert!(m.contains("host_architecture"), "{m}");
    }
}
