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
//! --warn-on-leftovers-after-purge makes them. The formats (log, base
//! tarball, artifact data) live in `taskhost_debian::piuparts`.

use serde::Deserialize;
use taskhost_debian::checks;
use taskhost_debian::piuparts::{self, BaseTgz, PiupartsData, Verdict};
use taskhost_sdk::artifacts::{self, Artifact, NewArtifact, RelationType};
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{ArtifactRef, Command, Environment, Error, Result, Status, Task, log};

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
    let refused = match data.backend {
        Backend::Auto | Backend::Unshare => "",
        Backend::IncusLxc => "incus-lxc",
        Backend::IncusVm => "incus-vm",
        Backend::Schroot => "schroot",
    };
    if !refused.is_empty() {
        return Err(Error::invalid(format!(
            "backend: {refused} is not available for piuparts on this host; use unshare (or auto)"
        )));
    }
    checks::check_architecture(&data.host_architecture)
        .map_err(|why| Error::invalid(format!("host_architecture: {why}")))?;
    if data.input.binary_artifacts_ids.is_empty() {
        return Err(Error::invalid(
            "input.binary_artifacts_ids: empty; give the binary packages to test",
        ));
    }
    Ok(())
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

/// One tested package: (artifact, .deb path).
struct Binary {
    artifact: taskhost_sdk::ArtifactId,
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
            let Some((_, arch)) = piuparts::deb_name(&path) else {
                continue;
            };
            let file = path.rsplit('/').next().unwrap_or(&path).to_string();
            if arch != "all" && arch != host_arch {
                return Err(Error::invalid(format!(
                    "input.binary_artifacts_ids: artifact {id} holds {file}, an {arch} package, \
                     but host_architecture is {host_arch}"
                )));
            }
            found += 1;
            let same = format!("/{file}");
            if !binaries.iter().any(|b| b.deb.ends_with(&same)) {
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
    let mut info = BaseTgz::of(base);
    let source = piuparts::find_tarball(&paths, &info.filename)
        .cloned()
        .ok_or_else(|| {
            Error::invalid(format!(
                "base_tgz_id: artifact {} holds no tarball (.tar, .tar.gz, .tar.xz)",
                base.id
            ))
        })?;
    let target = format!("{DIR}/base.tar.gz");
    match info.repack(&source, &target)? {
        Some(done) => {
            log::info(done.describe(info.with_dev));
            Ok((target, info))
        }
        None => Ok((source, info)),
    }
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
        piuparts::check_tarball("environment", &env, host_arch)?;
        let base = artifacts::get(data.base_tgz_id.id()?)?;
        piuparts::check_tarball("base_tgz_id", &base, host_arch)?;
        let binaries = fetch_binaries(&data.input.binary_artifacts_ids, host_arch)?;
        let (base_tgz, base_info) = prepare_base_tgz(&base)?;

        let debs: Vec<String> = binaries.iter().map(|b| b.deb.clone()).collect();
        let command = command_line(&base_tgz, &debs);
        let files: Vec<&str> = debs
            .iter()
            .map(|d| d.rsplit('/').next().unwrap_or(d))
            .collect();
        let (on, base_name) = (files.join(", "), base_info.name());
        log::info(format!("piuparts on {on} in {base_name} ({host_arch})"));
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
        let summary = piuparts::summarize(&text);
        let verdict = piuparts::verdict(exit.code(), &summary);

        let id = NewArtifact::new("debian:piuparts")
            .data(&PiupartsData {
                packages: piuparts::packages(&files),
                host_architecture: host_arch,
                environment: env.id,
                base_tgz: &base_info,
                cmdline: command.argv().join(" "),
                exit_code: exit.code(),
                verdict,
                log: summary.data(),
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
            let how = piuparts::how_it_ended(exit.timed_out(), exit.code(), exit.signal());
            let stderr = exit.read_stderr().unwrap_or_default();
            let said = piuparts::no_verdict(&how, &stderr, &text, id);
            return Err(Error::failed(said));
        }

        let item = files
            .iter()
            .map(|f| f.trim_end_matches(".deb"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut result = CheckResult::new(item, "debian_package", verdict.outcome())
            .checkname("piuparts")
            .note(piuparts::note(verdict, &summary))
            .artifact(format!("artifact:{id}"));
        for (key, value) in summary.keyvals(exit.code()) {
            result = result.keyval(key, value);
        }
        result.emit()?;
        Ok(verdict.status())
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
}
