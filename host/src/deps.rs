//! Tool dependencies: the Debian packages a plugin's programs come from.

use std::process::Stdio;

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
    let mut missing = Vec::new();
    for package in packages {
        let out = tokio::process::Command::new("dpkg-query")
            .args(["-W", "-f", "${db:Status-Abbrev}", "--"])
            .arg(package)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(DepsError::Query)?;
        if !out.status.success() || !String::from_utf8_lossy(&out.stdout).starts_with("ii") {
            missing.push(package.clone());
        }
    }
    Ok(missing)
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
