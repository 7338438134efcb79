//! blhc: checks a package build log for missing hardening flags.
//!
//! Follows debusine's Blhc task: the input is a `debian:package-build-log`
//! artifact, `extra_flags` come from blhc's own flag set, and the task
//! succeeds when blhc exits 0 or 1. The output is stored as a `debian:blhc`
//! artifact that relates to the log.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use taskhost_sdk::artifacts::{self, NewArtifact, RelationType};
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{ArtifactRef, Command, Environment, Error, Outcome, Result, Status, Task};

// ---- task_data --------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Data {
    pub input: Input,
    #[serde(default)]
    pub extra_flags: Vec<String>,
    /// A debian:system-tarball to run blhc in (id or lookup); blhc is
    /// installed in it first. Without it blhc runs on the host.
    #[serde(default)]
    pub environment: Option<ArtifactRef>,
    #[serde(default)]
    pub backend: Backend,
}

/// Where blhc runs (debusine's executor backends).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// unshare with an environment, else the machine of `runtask --ssh`
    /// if there is one, else local.
    #[default]
    Auto,
    Local,
    Unshare,
    /// The machine of `runtask --ssh user@host[:port]`.
    Ssh,
}

#[derive(Debug, Deserialize)]
pub struct Input {
    /// A `debian:package-build-log` artifact.
    pub artifact: ArtifactRef,
}

/// blhc's flags that change what is checked. `--debian` is always passed;
/// `--color`, `--help` and `--version` would break the output.
const SWITCHES: &[&str] = &["--all", "--bindnow", "--buildd", "--line-numbers", "--pie"];
const WITH_VALUE: &[&str] = &[
    "--arch",
    "--ignore-arch",
    "--ignore-arch-flag",
    "--ignore-arch-line",
    "--ignore-flag",
    "--ignore-line",
];

/// Checks one `extra_flags` entry: a switch, or `--option=value`.
pub fn check_flag(flag: &str) -> Result<()> {
    let name = flag.split_once('=').map_or(flag, |(name, _)| name);
    let ok = if flag.contains('=') {
        WITH_VALUE.contains(&name)
    } else {
        SWITCHES.contains(&name)
    };
    if ok {
        return Ok(());
    }
    let hint = if WITH_VALUE.contains(&name) {
        format!(" (write it as {name}=VALUE)")
    } else {
        String::new()
    };
    Err(Error::invalid(format!(
        "extra_flags: unsupported flag '{flag}'{hint}; supported: {}, {}",
        SWITCHES.join(", "),
        WITH_VALUE
            .iter()
            .map(|f| format!("{f}=VALUE"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

// ---- command line -----------------------------------------------------

pub fn command_line(flags: &[String], log: &str) -> Command {
    Command::new("blhc")
        .arg("--debian")
        .args(flags.iter().cloned())
        .arg(log)
        .stdout(OUTPUT)
}

const OUTPUT: &str = "blhc.txt";

// ---- output -----------------------------------------------------------

/// blhc's exit status is a bit mask.
pub const NO_COMPILER_COMMANDS: i32 = 1;
pub const INVALID_ARGUMENTS: i32 = 2;

/// Counts blhc's warnings by kind: `CFLAGS missing`, `NONVERBOSE BUILD`, ...
pub fn summarize(output: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in output.lines() {
        // --line-numbers prefixes "N:"; --buildd prints "W-tag|details|".
        let line = match line.split_once(':') {
            Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => line,
        };
        if let Some((tag, _)) = line
            .split_once('|')
            .filter(|(t, _)| t.len() > 2 && t.as_bytes()[1] == b'-')
        {
            *counts.entry(tag.to_string()).or_insert(0) += 1;
            continue;
        }
        let kind = if let Some((head, _)) = line.split_once(" missing (") {
            format!("{head} missing")
        } else if let Some((head, _)) = line.split_once(": ") {
            if head
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == ' ' || c == '-')
                && !head.is_empty()
            {
                head.to_string()
            } else {
                continue;
            }
        } else {
            continue;
        };
        *counts.entry(kind).or_insert(0) += 1;
    }
    counts
}

pub fn note(counts: &BTreeMap<String, usize>) -> String {
    if counts.is_empty() {
        return "no missing hardening flags".to_string();
    }
    counts
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Serialize)]
struct BlhcData {
    exit_code: i32,
    warnings: BTreeMap<String, usize>,
}

// ---- the task ---------------------------------------------------------

pub struct Blhc;

impl Task for Blhc {
    type Data = Data;
    const NAME: &'static str = "blhc";
    const SUMMARY: &'static str =
        "Checks a package build log for missing hardening flags with blhc";
    const TASK_DATA_DOC: &'static str = "\
- `input.artifact` (required): a `debian:package-build-log` artifact (id or local file).
- `extra_flags` (optional): blhc flags: --all, --bindnow, --buildd, --line-numbers, --pie,
  --arch=A, --ignore-arch=A, --ignore-arch-flag=A:F, --ignore-arch-line=A:L, --ignore-flag=F,
  --ignore-line=RE.
- `environment` (optional): a debian:system-tarball (id or lookup, e.g. debian/match:codename=bookworm)
  to run blhc in; blhc is installed in it first.
- `backend` (optional): auto (default: unshare with an environment, else the machine of
  `runtask --ssh` if given, else local), local, unshare, ssh.";

    fn validate(data: &Data) -> Result<()> {
        if data.backend == Backend::Unshare && data.environment.is_none() {
            return Err(Error::invalid(
                "environment: required with backend unshare (a debian:system-tarball artifact)",
            ));
        }
        if data.backend == Backend::Ssh && data.environment.is_some() {
            return Err(Error::invalid(
                "environment: the ssh backend takes none; blhc must be installed on the machine",
            ));
        }
        data.extra_flags.iter().try_for_each(|f| check_flag(f))
    }

    fn execute(data: Data) -> Result<Status> {
        let log_id = data.input.artifact.id()?;
        let log = artifacts::get(log_id)?;
        let files = artifacts::fetch(log_id, "input")?;
        let log_path = files
            .iter()
            .find(|f| f.ends_with(".build"))
            .or(files.first())
            .ok_or_else(|| {
                Error::invalid(format!("input.artifact: artifact {log_id} has no files"))
            })?;

        let env = match (&data.environment, data.backend) {
            (Some(environment), Backend::Auto | Backend::Unshare) => {
                Environment::open_with("unshare", environment.id()?)?
            }
            (_, Backend::Ssh) => Environment::open("ssh")?,
            (_, Backend::Local) => Environment::open("local")?,
            _ => Environment::open("auto")?,
        };
        let exit = env.run(&command_line(&data.extra_flags, log_path))?;
        let code = exit.code().ok_or_else(|| {
            Error::failed(format!("blhc was killed (signal {:?})", exit.signal()))
        })?;
        let output = exit.read_stdout()?;
        let counts = summarize(&output);

        let blhc = NewArtifact::new("debian:blhc")
            .data(&BlhcData {
                exit_code: code,
                warnings: counts.clone(),
            })?
            .file(OUTPUT, exit.stdout_path())
            .create()?;
        artifacts::relate(blhc, log_id, RelationType::RelatesTo)?;

        let item = log
            .data
            .get("filename")
            .and_then(|v| v.as_str())
            .unwrap_or(log_path)
            .to_string();
        let status = match code {
            0 | NO_COMPILER_COMMANDS => Status::Success,
            c if c & INVALID_ARGUMENTS != 0 => {
                return Err(Error::failed(format!(
                    "blhc refused its arguments: {}",
                    exit.read_stderr()?.trim()
                )));
            }
            _ => Status::Failure,
        };
        let outcome = match code {
            0 => Outcome::Passed,
            NO_COMPILER_COMMANDS => Outcome::Info,
            _ => Outcome::Failed,
        };
        let note = if code == NO_COMPILER_COMMANDS {
            "no compiler commands found".to_string()
        } else {
            note(&counts)
        };
        CheckResult::new(item, "debian:package-build-log", outcome)
            .note(note)
            .artifact(format!("artifact:{blhc}"))
            .keyval("blhc_exit_code", code)
            .emit()?;
        Ok(status)
    }
}

taskhost_sdk::export_task!(Blhc, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_blhc_flags() {
        for f in [
            "--all",
            "--pie",
            "--bindnow",
            "--arch=amd64",
            "--ignore-flag=-g",
            "--ignore-line=.*foo.*",
        ] {
            check_flag(f).unwrap();
        }
    }

    #[test]
    fn refuses_unknown_and_malformed_flags() {
        for f in [
            "--color",
            "--version",
            "-h",
            "--ignore-flag",
            "--pie=1",
            "--bogus",
            "; rm -rf /",
        ] {
            assert!(check_flag(f).is_err(), "{f} accepted");
        }
    }

    #[test]
    fn summarizes_blhc_output() {
        let out = "\
NONVERBOSE BUILD: CC hello.c
CFLAGS missing (-fstack-protector-strong): gcc -g -O2 -c hello.c
CFLAGS missing (-Wformat): gcc -c other.c
LDFLAGS missing (-Wl,-z,relro): gcc -o hello hello.o
";
        let counts = summarize(out);
        assert_eq!(counts["CFLAGS missing"], 2);
        assert_eq!(counts["LDFLAGS missing"], 1);
        assert_eq!(counts["NONVERBOSE BUILD"], 1);
        assert_eq!(
            note(&counts),
            "2 CFLAGS missing, 1 LDFLAGS missing, 1 NONVERBOSE BUILD"
        );
        assert_eq!(note(&summarize("")), "no missing hardening flags");
        let numbered = summarize("19:CFLAGS missing (-g): gcc -O2 -o hello hello.c\n");
        assert_eq!(numbered["CFLAGS missing"], 1);
        let buildd =
            summarize("W-dpkg-buildflags-missing|CFLAGS missing|\nI-no-compiler-commands||\n");
        assert_eq!(buildd["W-dpkg-buildflags-missing"], 1);
        assert_eq!(buildd["I-no-compiler-commands"], 1);
    }
}
