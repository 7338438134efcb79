//! piuparts: tests installing, upgrading and purging binary packages.
//!
//! Follows debusine's Piuparts task: the real piuparts runs as root with
//! `--keep-sources-list --allow-database --warn-on-leftovers-after-purge
//! --basetgz=BASE` on the .debs of `input.binary_artifacts_ids`, in a
//! chroot it unpacks from `base_tgz_id`. Before that, the base tarball is
//! re-packed as gzip (piuparts 1.1 reads nothing else) and, when its
//! artifact says `with_dev`, without `/dev/*`.
//!
//! piuparts before 1.3 cannot run inside a container, so it runs on the
//! host (the `local` backend) in its own mount and PID namespaces
//! (`unshare`): the mounts it makes in its chroot never reach the host,
//! and the chroot lives in the run's workspace. `environment`, where
//! debusine runs piuparts itself, is checked and recorded.
//!
//! The log is stored as a `debian:piuparts` artifact relating to the
//! binaries. The outcome comes from piuparts' exit code and its PASS /
//! FAIL lines; files left after purge are warnings, as
//! --warn-on-leftovers-after-purge makes them.

pub mod piupartslog;
pub mod tarball;

use piupartslog::{Finding, Summary, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use taskhost_sdk::artifacts::{self, Artifact, NewArtifact, RelationType};
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{
    ArtifactId, ArtifactRef, Command, Environment, Error, Outcome, Result, Status, Task, log,
};

// ---- task_data --------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Data {
    pub input: Input,
    #[serde(default)]
    pub backend: Backend,
    /// A `debian:system-tarball` for piuparts itself (id or lookup such as
    /// `debian/match:codename=bookworm:variant=buildd`).
    pub environment: ArtifactRef,
    /// The `debian:system-tarball` piuparts tests in (`--basetgz`).
    pub base_tgz_id: ArtifactRef,
    pub host_architecture: String,
}

#[derive(Debug, Deserialize)]
pub struct Input {
    /// debian:binary-package(s) or debian:upload artifacts.
    pub binary_artifacts_ids: Vec<ArtifactRef>,
}

/// The spec's backends; only unshare exists for piuparts here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    #[default]
    Auto,
    Unshare,
    IncusLxc,
    IncusVm,
    Schroot,
}

/// The checks that need no artifact: each error names its key.
pub fn check(data: &Data) -> Result<()> {
    match data.backend {
        Backend::Auto | Backend::Unshare => {}
        other => {
            let name = match other {
                Backend::IncusLxc => "incus-lxc",
                Backend::IncusVm => "incus-vm",
                _ => "schroot",
            };
            return Err(Error::invalid(format!(
                "backend: {name} is not available for piuparts on this host; use unshare (or auto)"
            )));
        }
    }
    check_architecture(&data.host_architecture)
        .map_err(|why| Error::invalid(format!("host_architecture: {why}")))?;
    if data.input.binary_artifacts_ids.is_empty() {
        return Err(Error::invalid(
            "input.binary_artifacts_ids: empty; give the binary packages to test",
        ));
    }
    Ok(())
}

fn check_architecture(arch: &str) -> std::result::Result<(), String> {
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

// ---- command line -----------------------------------------------------

/// piuparts' own mount and PID namespaces, with a /proc of its own.
pub const UNSHARE: &[&str] = &[
    "unshare",
    "--mount",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
];

/// Options every run passes, first (the exec grant matches them).
pub const FIXED: &[&str] = &[
    "--keep-sources-list",
    "--allow-database",
    "--warn-on-leftovers-after-purge",
];

/// Where the plugin works in the workspace.
const DIR: &str = "piuparts";
const BASE_DIR: &str = "piuparts/base";
/// piuparts' chroot, inside the workspace (`--tmpdir`).
const TMP_DIR: &str = "piuparts/tmp";
const LOG: &str = "piuparts/piuparts.log";
const STDERR: &str = "piuparts/piuparts.stderr";

pub fn command_line(base_tgz: &str, debs: &[String]) -> Command {
    Command::new(UNSHARE[0])
        .args(UNSHARE[1..].iter().copied())
        .arg("piuparts")
        .args(FIXED.iter().copied())
        .arg(format!("--basetgz={base_tgz}"))
        .arg(format!("--tmpdir={TMP_DIR}"))
        .args(debs.iter().cloned())
        .stdout(LOG)
        .stderr(STDERR)
}

// ---- inputs -----------------------------------------------------------

fn field<'a>(artifact: &'a Artifact, key: &str) -> &'a str {
    artifact
        .data
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

/// A system tarball must be for `host_architecture` (piuparts runs the
/// packages' maintainer scripts in it, natively).
fn check_tarball(key: &str, artifact: &Artifact, host_arch: &str) -> Result<()> {
    match field(artifact, "architecture") {
        "" => Ok(()),
        arch if arch == host_arch => Ok(()),
        arch => Err(Error::invalid(format!(
            "{key}: artifact {} is an {arch} system, but host_architecture is {host_arch}; \
             give an {host_arch} system tarball",
            artifact.id
        ))),
    }
}

/// `NAME_VERSION_ARCH.deb` → (name, arch).
pub fn deb_name(path: &str) -> Option<(&str, &str)> {
    let stem = path.rsplit('/').next()?.strip_suffix(".deb")?;
    let mut parts = stem.split('_');
    let (name, _version, arch) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next().is_none().then_some((name, arch))
}

/// One tested package: (artifact, .deb path).
struct Binary {
    artifact: ArtifactId,
    deb: String,
}

/// The .debs of every input artifact (an upload's .udebs and other files
/// left out), each once.
fn fetch_binaries(ids: &[ArtifactRef], host_arch: &str) -> Result<Vec<Binary>> {
    let mut binaries: Vec<Binary> = Vec::new();
    for reference in ids {
        let id = reference.id()?;
        let mut found = 0;
        for path in artifacts::fetch(id, &format!("{DIR}/input/{id}"))? {
            let Some((_, arch)) = deb_name(&path) else {
                continue;
            };
            if arch != "all" && arch != host_arch {
                return Err(Error::invalid(format!(
                    "input.binary_artifacts_ids: artifact {id} holds {}, an {arch} package, \
                     but host_architecture is {host_arch}",
                    path.rsplit('/').next().unwrap_or(&path)
                )));
            }
            found += 1;
            let file = path.rsplit('/').next().unwrap_or(&path).to_string();
            if !binaries
                .iter()
                .any(|b| b.deb.ends_with(&format!("/{file}")))
            {
                binaries.push(Binary {
                    artifact: id,
                    deb: path,
                });
            }
        }
        if found == 0 {
            return Err(Error::invalid(format!(
                "input.binary_artifacts_ids: artifact {id} holds no .deb"
            )));
        }
    }
    Ok(binaries)
}

/// The base tarball as piuparts reads it: gzip, and without /dev/* when
/// the artifact says `with_dev`. Returns its workspace path and what the
/// re-packing did (nothing for a .tar.gz without /dev).
fn prepare_base_tgz(base: &Artifact) -> Result<(String, BaseTgz)> {
    let paths = artifacts::fetch(base.id, BASE_DIR)?;
    let filename = field(base, "filename");
    let source = paths
        .iter()
        .find(|p| !filename.is_empty() && p.rsplit('/').next() == Some(filename))
        .or_else(|| {
            paths.iter().find(|p| {
                let name = p.rsplit('/').next().unwrap_or(p);
                name.contains(".tar") || name.ends_with(".tgz")
            })
        })
        .cloned()
        .ok_or_else(|| {
            Error::invalid(format!(
                "base_tgz_id: artifact {} holds no tarball (.tar, .tar.gz, .tar.xz)",
                base.id
            ))
        })?;
    let with_dev = base
        .data
        .get("with_dev")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let mut info = BaseTgz {
        id: base.id,
        filename: filename.to_string(),
        codename: field(base, "codename").to_string(),
        architecture: field(base, "architecture").to_string(),
        with_dev,
        repacked: false,
        dev_entries_removed: 0,
    };
    let bad = |e: std::io::Error| {
        Error::invalid(format!("base_tgz_id: artifact {}: {source}: {e}", base.id))
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&source)?);
    let format = tarball::sniff(std::io::BufRead::fill_buf(&mut reader)?).map_err(bad)?;
    if format == tarball::Format::Gzip && !with_dev {
        return Ok((source, info));
    }
    let target = format!("{DIR}/base.tar.gz");
    let out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&target)?);
    let done = tarball::repack(reader, out, with_dev).map_err(bad)?;
    std::fs::remove_file(&source)?;
    info.repacked = true;
    info.dev_entries_removed = done.removed;
    log::info(format!(
        "re-packed the base tarball as gzip ({} members{})",
        done.kept,
        if with_dev {
            format!(", {} under /dev left out", done.removed)
        } else {
            String::new()
        }
    ));
    Ok((target, info))
}

// ---- output -----------------------------------------------------------

#[derive(Debug, Serialize)]
struct BaseTgz {
    id: ArtifactId,
    filename: String,
    codename: String,
    architecture: String,
    with_dev: bool,
    /// Re-packed as gzip for piuparts.
    repacked: bool,
    dev_entries_removed: usize,
}

/// The `debian:piuparts` data.
#[derive(Serialize)]
struct PiupartsData<'a> {
    /// Package name → .deb file name.
    packages: BTreeMap<&'a str, &'a str>,
    host_architecture: &'a str,
    environment: ArtifactId,
    base_tgz: &'a BaseTgz,
    cmdline: String,
    exit_code: Option<i32>,
    verdict: Verdict,
    piuparts_version: Option<&'a str>,
    passed: &'a [String],
    failed: &'a [Finding],
    skipped: &'a [String],
    warnings: &'a [Finding],
    errors: &'a [String],
}

fn findings(list: &[Finding]) -> String {
    list.iter()
        .map(|f| {
            let mut text = f.message.clone();
            for file in &f.files {
                text.push_str("\n  ");
                text.push_str(file);
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---- the task ---------------------------------------------------------

pub struct Piuparts;

impl Task for Piuparts {
    type Data = Data;
    const NAME: &'static str = "piuparts";
    const SUMMARY: &'static str = "Tests installing and purging Debian binary packages with piuparts (debusine's Piuparts task)";
    const TASK_DATA_DOC: &'static str = "\
- `input.binary_artifacts_ids` (required): debian:binary-packages, debian:upload or debian:binary-package
  artifacts (ids or .deb files); their .debs are tested together.
- `backend`: unshare (default) or auto; incus-lxc, incus-vm and schroot are refused.
- `environment` (required): a debian:system-tarball (id or lookup, e.g.
  debian/match:codename=bookworm:variant=buildd) for piuparts itself. piuparts 1.1 cannot run in a
  container: it runs on the host, in its own mount and pid namespaces; the environment is checked.
- `base_tgz_id` (required): the debian:system-tarball piuparts tests in (`--basetgz`), re-packed as
  gzip and, when its data says with_dev, without /dev/*.
- `host_architecture` (required): the architecture to test on; the tarballs and .debs must fit it.";

    fn validate(data: &Data) -> Result<()> {
        check(data)
    }

    fn execute(data: Data) -> Result<Status> {
        // A formula's earlier piuparts action may have left its files here.
        match std::fs::remove_dir_all(DIR) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => std::fs::create_dir_all(TMP_DIR)?,
        }
        let host_arch = data.host_architecture.as_str();
        let env = artifacts::get(data.environment.id()?)?;
        check_tarball("environment", &env, host_arch)?;
        let base = artifacts::get(data.base_tgz_id.id()?)?;
        check_tarball("base_tgz_id", &base, host_arch)?;
        let binaries = fetch_binaries(&data.input.binary_artifacts_ids, host_arch)?;
        let (base_tgz, base_info) = prepare_base_tgz(&base)?;

        let debs: Vec<String> = binaries.iter().map(|b| b.deb.clone()).collect();
        let command = command_line(&base_tgz, &debs);
        let files: Vec<&str> = debs
            .iter()
            .map(|d| d.rsplit('/').next().unwrap_or(d))
            .collect();
        log::info(format!(
            "piuparts on {} in {} ({})",
            files.join(", "),
            if base_info.codename.is_empty() {
                "the base tarball"
            } else {
                &base_info.codename
            },
            host_arch
        ));
        let exit = Environment::open("local")?.run(&command)?;
        if exit.truncated() {
            log::warn(
                "piuparts' log passed the output limit and was cut (`output-limit` in the policy)",
            );
        }
        // The chroot is gone (or dies with the workspace); so can the base.
        let _ = std::fs::remove_dir_all(BASE_DIR);
        let _ = std::fs::remove_file(format!("{DIR}/base.tar.gz"));

        let text = String::from_utf8_lossy(&std::fs::read(LOG)?).into_owned();
        let summary: Summary = piupartslog::summarize(&text);
        let verdict = piupartslog::verdict(exit.code(), &summary);
        let note = piupartslog::note(verdict, &summary);

        let packages: BTreeMap<&str, &str> = files
            .iter()
            .map(|f| (deb_name(f).map_or(*f, |(name, _)| name), *f))
            .collect();
        let id = NewArtifact::new("debian:piuparts")
            .data(&PiupartsData {
                packages,
                host_architecture: host_arch,
                environment: env.id,
                base_tgz: &base_info,
                cmdline: command.argv().join(" "),
                exit_code: exit.code(),
                verdict,
                piuparts_version: summary.version.as_deref(),
                passed: &summary.passed,
                failed: &summary.failed,
                skipped: &summary.skipped,
                warnings: &summary.warnings,
                errors: &summary.errors,
            })?
            .file("piuparts.log", LOG)
            .create()?;
        let mut related = Vec::new();
        for binary in &binaries {
            if !related.contains(&binary.artifact) {
                artifacts::relate(id, binary.artifact, RelationType::RelatesTo)?;
                related.push(binary.artifact);
            }
        }

        if verdict == Verdict::Inconclusive {
            let stderr = exit.read_stderr().unwrap_or_default();
            let said_in = |text: &str| -> Vec<String> {
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(String::from)
                    .collect()
            };
            // What piuparts said last: on stderr, else at the end of its log.
            let mut said = said_in(&stderr);
            if said.is_empty() {
                said = said_in(&text);
            }
            let how = match (exit.timed_out(), exit.code(), exit.signal()) {
                (true, ..) => "timed out".to_string(),
                (false, Some(code), _) => format!("exited {code}"),
                (false, None, Some(signal)) => format!("was killed by signal {signal}"),
                (false, None, None) => "ended".to_string(),
            };
            let not_root = ["need to be root", "Operation not permitted"];
            let hint = if said.iter().any(|l| not_root.iter().any(|n| l.contains(n))) {
                " (piuparts runs as root: run runtask as root)"
            } else {
                ""
            };
            let ending = match &said[said.len().saturating_sub(5)..] {
                [] => ", and it printed nothing".to_string(),
                last => format!(": {}", last.join(" | ")),
            };
            return Err(Error::failed(format!(
                "piuparts {how} without a verdict{hint}; its log is artifact {id}{ending}"
            )));
        }

        let item = files
            .iter()
            .map(|f| f.trim_end_matches(".deb"))
            .collect::<Vec<_>>()
            .join(" ");
        let outcome = match verdict {
            Verdict::Passed => Outcome::Passed,
            Verdict::PassedWithWarnings | Verdict::Skipped => Outcome::Info,
            _ => Outcome::Failed,
        };
        let mut result = CheckResult::new(item, "debian_package", outcome)
            .checkname("piuparts")
            .note(note)
            .artifact(format!("artifact:{id}"))
            .keyval(
                "piuparts_exit_code",
                exit.code().map_or("none".into(), |c| c.to_string()),
            );
        if !summary.failed.is_empty() {
            result = result.keyval("failures", findings(&summary.failed));
        }
        if !summary.warnings.is_empty() {
            result = result.keyval("warnings", findings(&summary.warnings));
        }
        if !summary.errors.is_empty() {
            result = result.keyval("errors", summary.errors.join("\n"));
        }
        result.emit()?;
        Ok(match verdict {
            Verdict::Passed | Verdict::PassedWithWarnings => Status::Success,
            Verdict::Skipped => Status::Skipped,
            _ => Status::Failure,
        })
    }
}

taskhost_sdk::export_task!(Piuparts, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use taskhost_sdk::decode_task_data;

    const MINIMAL: &str = r#"{"input": {"binary_artifacts_ids": [1]}, "environment": 2,
        "base_tgz_id": 3, "host_architecture": "amd64"}"#;

    fn with(extra: &str) -> String {
        format!("{},{extra}}}", MINIMAL.trim_end_matches('}'))
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

    #[test]
    fn the_command_line_is_debusines_in_its_own_namespaces() {
        let cmd = command_line(
            "piuparts/base.tar.gz",
            &["piuparts/input/1/th_1.0_all.deb".into()],
        );
        assert_eq!(
            cmd.argv(),
            [
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "piuparts",
                "--keep-sources-list",
                "--allow-database",
                "--warn-on-leftovers-after-purge",
                "--basetgz=piuparts/base.tar.gz",
                "--tmpdir=piuparts/tmp",
                "piuparts/input/1/th_1.0_all.deb",
            ]
        );
    }

    #[test]
    fn the_manifest_grants_exactly_the_fixed_command() {
        let manifest = include_str!("../taskhost.toml");
        let pattern = format!("{} piuparts {} **", UNSHARE.join(" "), FIXED.join(" "));
        assert!(manifest.contains(&format!("\"{pattern}\"")), "{pattern}");
    }

    #[test]
    fn the_spec_keys_decode_with_unshare_by_default() {
        let d: Data = decode_task_data(MINIMAL).unwrap();
        check(&d).unwrap();
        assert_eq!(d.backend, Backend::Auto);
        let lookup = MINIMAL.replace(
            r#""environment": 2"#,
            r#""environment": "debian/match:codename=bookworm:variant=buildd""#,
        );
        let json = format!(
            r#"{}, "backend": "unshare"}}"#,
            lookup.trim_end_matches('}')
        );
        let d: Data = decode_task_data(&json).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(d.backend, Backend::Unshare);
        assert!(matches!(d.environment, ArtifactRef::Lookup(_)), "{d:?}");
        check(&d).unwrap();
    }

    #[test]
    fn unavailable_backends_are_refused_by_name() {
        for backend in ["incus-lxc", "incus-vm", "schroot"] {
            let m = invalid(&with(&format!(r#""backend": "{backend}""#)));
            assert!(
                m.starts_with(&format!("backend: {backend} is not available")),
                "{m}"
            );
        }
        let m = invalid(&with(r#""backend": "qemu""#));
        assert!(m.contains("unknown variant `qemu`"), "{m}");
    }

    #[test]
    fn unknown_and_missing_keys_are_named() {
        let m = invalid(&with(r#""extra_repositories": []"#));
        assert!(m.contains("'extra_repositories'"), "{m}");
        let m = invalid(
            r#"{"input": {"binary_artifacts_ids": [1]}, "environment": 2, "host_architecture": "amd64"}"#,
        );
        assert!(m.contains("base_tgz_id"), "{m}");
        let m = invalid(&MINIMAL.replace("[1]", "[]"));
        assert!(m.starts_with("input.binary_artifacts_ids: empty"), "{m}");
        let m = invalid(&MINIMAL.replace("amd64", "all"));
        assert!(m.starts_with("host_architecture: 'all'"), "{m}");
    }

    #[test]
    fn deb_names_give_name_and_architecture() {
        assert_eq!(
            deb_name("piuparts/input/3/th-clean_1.0_all.deb"),
            Some(("th-clean", "all"))
        );
        assert_eq!(deb_name("x_1.0-1_amd64.deb"), Some(("x", "amd64")));
        assert_eq!(deb_name("x_1.0_amd64.udeb"), None);
        assert_eq!(deb_name("x_1.0_amd64.changes"), None);
        assert_eq!(deb_name("x.deb"), None);
    }
}
