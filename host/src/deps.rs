//! Tool dependencies: the Debian packages a plugin's programs come from.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};

/// Why the dependencies are not in place.
#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    #[error(
        "plugin '{plugin}' needs Debian package(s) that are not installed: {missing}\n  install them with: apt-get install {missing}\n  or rerun with --install-deps",
        missing = .missing.join(" ")
    )]
    Missing {
        plugin: String,
        missing: Vec<String>,
    },
    #[error("cannot check installed packages (dpkg-query): {0}")]
    Query(std::io::Error),
    #[error("installing {packages} failed: {reason}", packages = .packages.join(" "))]
    Install {
        packages: Vec<String>,
        reason: String,
    },
}

/// Packages of `packages` that dpkg does not list as installed.
pub async fn missing(packages: &[String]) -> Result<Vec<String>, DepsError> {
    Ok(versions(packages)
        .await?
        .into_iter()
        .filter(|(_, version)| version.is_none())
        .map(|(package, _)| package)
        .collect())
}

/// The installed version of each of `packages` (`None`: not installed),
/// from one dpkg-query for those not known yet in this process.
pub async fn versions(packages: &[String]) -> Result<Vec<(String, Option<String>)>, DepsError> {
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    let state = dpkg_state();
    let answers = || ANSWERS.lock().unwrap_or_else(PoisonError::into_inner);
    let unknown: Vec<&String> = {
        let known = answers();
        packages
            .iter()
            .filter(|p| known.get(p, state).is_none())
            .collect()
    };
    if !unknown.is_empty() {
        let out = tokio::process::Command::new("dpkg-query")
            .args([
                "-W",
                "-f",
                "${Package}\t${db:Status-Abbrev}\t${Version}\n",
                "--",
            ])
            .args(&unknown)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await
            .map_err(DepsError::Query)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut known = answers();
        for package in unknown {
            let version = text.lines().find_map(|line| {
                let mut fields = line.split('\t');
                let (name, status, version) = (fields.next()?, fields.next()?, fields.next()?);
                (name == package && status.starts_with("ii")).then(|| version.to_owned())
            });
            known.put(package, version, state);
        }
    }
    let known = answers();
    Ok(packages
        .iter()
        .map(|p| (p.clone(), known.get(p, state).flatten()))
        .collect())
}

/// dpkg-query's answers in this process (a formula or a worker checks the
/// same packages again and again).
static ANSWERS: Mutex<Answers> = Mutex::new(Answers::new());

/// A version of dpkg's database: dpkg replaces `status` (by rename) and
/// journals into `updates/` whenever a package changes.
type DpkgState = [FileState; 2];
/// Device, inode, size, mtime (s, ns).
type FileState = (u64, u64, u64, i64, i64);

const DPKG_STATUS: &str = "/var/lib/dpkg/status";
const DPKG_UPDATES: &str = "/var/lib/dpkg/updates";

/// `None` if dpkg's database cannot be looked at: then nothing is cached.
fn dpkg_state() -> Option<DpkgState> {
    use std::os::unix::fs::MetadataExt;
    let state = |path: &str| {
        let m = std::fs::metadata(path).ok()?;
        Some((m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
    };
    Some([state(DPKG_STATUS)?, state(DPKG_UPDATES)?])
}

/// The installed version (or none), per package, for one state of dpkg's
/// database.
struct Answers {
    at: Option<DpkgState>,
    known: BTreeMap<String, Option<String>>,
}

impl Answers {
    const fn new() -> Self {
        Answers {
            at: None,
            known: BTreeMap::new(),
        }
    }

    fn get(&self, package: &str, now: Option<DpkgState>) -> Option<Option<String>> {
        match (self.at, now) {
            (Some(at), Some(now)) if at == now => self.known.get(package).cloned(),
            _ => None,
        }
    }

    fn put(&mut self, package: &str, installed: Option<String>, now: Option<DpkgState>) {
        if self.at != now {
            self.at = now;
            self.known.clear();
        }
        if now.is_some() {
            self.known.insert(package.to_string(), installed);
        }
    }
}

/// Installs `packages` with apt-get, as libtaskotron's `--local` did.
pub async fn install(packages: &[String]) -> Result<(), DepsError> {
    let fail = |reason: String| DepsError::Install {
        packages: packages.to_vec(),
        reason,
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(fail("--install-deps needs root (apt-get install)".into()));
    }
    // apt's progress goes to stderr: stdout carries the report (--format).
    let to_stderr = std::os::fd::AsFd::as_fd(&std::io::stderr())
        .try_clone_to_owned()
        .map_err(|e| fail(e.to_string()))?;
    let status = tokio::process::Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends", "--"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::from(to_stderr))
        .status()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(fail(format!("apt-get exited with {status}")))
    }
}

/// Checks the packages of `plugin`; installs missing ones if asked.
pub async fn ensure(
    plugin: &str,
    packages: &[String],
    install_missing: bool,
) -> Result<Vec<String>, DepsError> {
    let missing_now = missing(packages).await?;
    if missing_now.is_empty() {
        return Ok(missing_now);
    }
    if !install_missing {
        return Err(DepsError::Missing {
            plugin: plugin.to_string(),
            missing: missing_now,
        });
    }
    install(&missing_now).await?;
    let still = missing(packages).await?;
    if still.is_empty() {
        Ok(missing_now)
    } else {
        Err(DepsError::Missing {
            plugin: plugin.to_string(),
            missing: still,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_installed_package_is_not_missing() {
        assert!(missing(&["dpkg".to_string()]).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn versions_come_from_dpkg() {
        let got = versions(&["dpkg".to_string(), "no-such-package-taskhost".to_string()])
            .await
            .unwrap();
        let out = std::process::Command::new("dpkg-query")
            .args(["-W", "-f=${Version}", "dpkg"])
            .output()
            .unwrap();
        let dpkg = String::from_utf8(out.stdout).unwrap();
        assert_eq!(got[0], ("dpkg".to_string(), Some(dpkg)));
        assert_eq!(got[1].1, None);
    }

    #[tokio::test]
    async fn answers_are_kept_for_the_process() {
        let pkgs = ["dpkg".to_string(), "no-such-package-taskhost".to_string()];
        let now = dpkg_state();
        assert!(now.is_some(), "{DPKG_STATUS} and {DPKG_UPDATES} exist here");
        assert_eq!(missing(&pkgs).await.unwrap(), &pkgs[1..]);
        if dpkg_state() != now {
            return; // apt ran meanwhile
        }
        let answers = ANSWERS.lock().unwrap();
        assert!(matches!(answers.get("dpkg", now), Some(Some(v)) if !v.is_empty()));
        assert_eq!(answers.get("no-such-package-taskhost", now), Some(None));
    }

    #[test]
    fn answers_are_dropped_when_dpkg_changes() {
        let (old, new) = ([(1, 2, 3, 4, 5); 2], [(1, 9, 3, 6, 5); 2]);
        let mut answers = Answers::new();
        let v = || Some("2.116".to_string());
        answers.put("lintian", v(), Some(old));
        assert_eq!(answers.get("lintian", Some(old)), Some(v()));
        assert_eq!(answers.get("blhc", Some(old)), None);
        assert_eq!(answers.get("lintian", Some(new)), None, "dpkg changed");
        assert_eq!(answers.get("lintian", None), None, "state unknown");
        answers.put("blhc", None, Some(new));
        assert_eq!(answers.get("lintian", Some(new)), None);
        assert_eq!(answers.get("blhc", Some(new)), Some(None));
        answers.put("blhc", v(), None);
        assert_eq!(answers.get("blhc", None), None, "nothing cached blind");
    }

    #[tokio::test]
    async fn a_missing_package_is_named_with_the_install_command() {
        let pkgs = vec!["dpkg".to_string(), "no-such-package-taskhost".to_string()];
        let e = ensure("demo", &pkgs, false).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("apt-get install no-such-package-taskhost"),
            "{text}"
        );
        assert!(text.contains("--install-deps"), "{text}");
    }
}
