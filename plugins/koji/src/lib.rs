//! The `koji` directive (libtaskotron's): downloads the RPMs of a Koji
//! build, of every build in a tag, or of the latest stable build of a
//! package, and optionally the builds' `build.log`s.
//!
//! ```yaml
//! - name: download the build
//!   koji:
//!     action: download
//!     koji_build: ${koji_build}
//!     arch: ${arch}
//!     src: true
//!     target_dir: ${workdir}/rpms
//!   export: koji_output
//! ```

use serde::{Deserialize, Serialize};
use taskhost_fedora::koji::{self, Build, Koji, RpmFilter};
use taskhost_sdk::directive::{self, Context, Directive, DirectiveParams, Output, ParamValue};
use taskhost_sdk::{Error, Result, http, log};

// ---- params ----

#[derive(Debug, Deserialize, DirectiveParams)]
pub struct Params {
    /// download (one build), download_tag (every build tagged in koji_tag),
    /// download_latest_stable (the newest build of koji_build's package in fNN-updates, else fNN)
    pub action: Action,
    /// NVR of the build (download, download_latest_stable), e.g. xchat-2.8.8-21.fc20
    pub koji_build: Option<String>,
    /// tag whose builds to download (download_tag), e.g. f40-updates-pending
    pub koji_tag: Option<String>,
    /// arch or list of arches, or `all`; noarch is always added, i386 means i386..i686,
    /// [] takes no binary RPM
    #[param(type = StringOrList)]
    pub arch: Vec<String>,
    /// arches to leave out, e.g. noarch
    #[param(type = StringOrList, default = Vec::<String>::new())]
    pub arch_exclude: Vec<String>,
    /// also download the source RPM
    #[param(default = false)]
    pub src: bool,
    /// also download -debuginfo and -debugsource RPMs
    #[param(default = false)]
    pub debuginfo: bool,
    /// also download each arch's build.log as build.log.ARCH (download, download_latest_stable)
    #[param(default = false)]
    pub build_log: bool,
    /// workspace directory to download into (created)
    pub target_dir: String,
    /// the Koji hub's XML-RPC URL
    #[param(default = koji::FEDORA_HUB)]
    pub koji_url: String,
    /// the Koji topurl that serves packages/ (kojipkgs)
    #[param(default = koji::FEDORA_TOPURL)]
    pub pkgs_url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, ParamValue)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Download,
    DownloadTag,
    DownloadLatestStable,
}

/// What the directive returns (libtaskotron's keys).
#[derive(Debug, Default, Serialize)]
pub struct Downloaded {
    /// Workspace paths of the RPMs.
    pub downloaded_rpms: Vec<String>,
    /// Workspace paths of the build logs (`build.log.ARCH`).
    pub downloaded_logs: Vec<String>,
    /// Arches whose build log could not be downloaded.
    pub log_errors: Vec<String>,
}

pub struct KojiDirective;

impl Directive for KojiDirective {
    type Params = Params;
    const NAME: &'static str = "koji";
    const SUMMARY: &'static str = "Downloads the RPMs (and build logs) of a Koji build, a tag's builds, \
                                   or a package's latest stable build";
    const RETURNS: &'static str = "{downloaded_rpms: [paths], downloaded_logs: [paths], log_errors: [arches]}; \
                                   nothing (null) when download_latest_stable finds no stable build";
    const RAISES: &'static str = "when the build or tag does not exist, a download fails or does not \
                                  match what Koji says about the file, or a URL is not granted";

    fn run(p: Params, _context: &Context) -> Result<Output> {
        directive::http_url("koji_url", &p.koji_url)?;
        directive::http_url("pkgs_url", &p.pkgs_url)?;
        let dir = directive::workspace_dir("target_dir", &p.target_dir)?;
        let koji = Koji::new(&p.koji_url, &p.pkgs_url);
        let filter = RpmFilter::new(&p.arch, &p.arch_exclude, p.src, p.debuginfo);
        let mut out = Downloaded::default();

        // ---- which builds ----
        let builds: Vec<Build> = match p.action {
            Action::Download => {
                let nvr = needs(&p.koji_build, "koji_build", "download")?;
                vec![
                    koji.complete_build(nvr)
                        .map_err(|e| about("koji_build", e))?,
                ]
            }
            Action::DownloadTag => {
                let tag = needs(&p.koji_tag, "koji_tag", "download_tag")?;
                tagged_builds(&koji, tag)?
            }
            Action::DownloadLatestStable => {
                let nvr = needs(&p.koji_build, "koji_build", "download_latest_stable")?;
                match latest_stable(&koji, nvr)? {
                    Some(build) => vec![build],
                    None => return Ok(Output::none()),
                }
            }
        };

        // ---- downloads ----
        for build in &builds {
            let rpms = koji.build_rpms(build, &filter)?;
            log::info(format!(
                "{}: downloading {} RPMs into {dir}",
                build.nvr,
                rpms.len()
            ));
            for rpm in &rpms {
                out.downloaded_rpms
                    .push(koji.download_rpm(build, rpm, &dir)?);
            }
        }
        if p.build_log {
            match p.action {
                Action::DownloadTag => {
                    log::warn("build_log is ignored for download_tag (libtaskotron did the same)")
                }
                _ => {
                    for build in &builds {
                        build_logs(&koji, build, &filter, &dir, &mut out)?;
                    }
                }
            }
        }

        // ---- output ----
        Ok(Output::value(out))
    }
}

taskhost_sdk::export_directive!(KojiDirective, manifest = "taskhost.toml");

/// The value of an optional param the action needs.
fn needs<'a>(value: &'a Option<String>, param: &str, action: &str) -> Result<&'a str> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Error::invalid(format!(
            "action '{action}' needs the param `{param}` ({})",
            match param {
                "koji_tag" => "a Koji tag, e.g. f40-updates-pending",
                _ => "an NVR, e.g. xchat-2.8.8-21.fc20",
            }
        ))),
    }
}

fn describe(e: &Error) -> String {
    match e {
        Error::AccessDenied(m) => format!("access denied: {m}"),
        Error::Invalid(m) | Error::NotFound(m) | Error::Failed(m) => m.clone(),
        Error::TimedOut => "timed out".into(),
    }
}

/// Names the param an error is about.
fn about(param: &str, e: Error) -> Error {
    match e {
        Error::Invalid(m) => Error::Invalid(format!("{param}: {m}")),
        other => other,
    }
}

/// The builds tagged in `tag` itself, by NVR.
fn tagged_builds(koji: &Koji, tag: &str) -> Result<Vec<Build>> {
    if koji.get_tag(tag)?.is_none() {
        return Err(Error::NotFound(format!(
            "koji_tag: the tag '{tag}' does not exist on {}",
            koji.hub()
        )));
    }
    let mut builds = koji.list_tagged(tag, false, None)?;
    builds.sort_by(|a, b| a.nvr.cmp(&b.nvr));
    log::info(format!("{tag}: {} builds", builds.len()));
    Ok(builds)
}

/// The latest build of `nvr`'s package in fNN-updates, else in fNN.
fn latest_stable(koji: &Koji, nvr: &str) -> Result<Option<Build>> {
    let parts = koji::parse_nvr(nvr).map_err(|e| about("koji_build", e))?;
    let release = koji::fedora_release(&parts.release).ok_or_else(|| {
        Error::invalid(format!(
            "koji_build: '{nvr}' has no Fedora dist tag (.fcNN) in its release '{}', so there is \
             no stable tag to look in",
            parts.release
        ))
    })?;
    for tag in koji::stable_tags(release) {
        if let Some(build) = koji
            .list_tagged(&tag, true, Some(&parts.name))?
            .into_iter()
            .next()
        {
            log::info(format!(
                "latest stable build of {} is {} (in {tag})",
                parts.name, build.nvr
            ));
            return Ok(Some(build));
        }
    }
    log::info(format!(
        "there is no stable build of {} in f{release}-updates or f{release}; nothing to download",
        parts.name
    ));
    Ok(None)
}

/// Downloads `build.log` of each arch the build has RPMs for (and the
/// filter takes) as `build.log.ARCH`. A log koji no longer has is listed
/// in `log_errors`; a URL that is not granted is an error.
fn build_logs(
    koji: &Koji,
    build: &Build,
    filter: &RpmFilter,
    dir: &str,
    out: &mut Downloaded,
) -> Result<()> {
    let mut arches: Vec<String> = koji
        .list_rpms(build.id, None)?
        .into_iter()
        .map(|r| r.arch)
        .filter(|a| a != "src" && filter.wants_arch(a))
        .collect();
    arches.sort();
    arches.dedup();
    // noarch RPMs of an arch-specific build come from an arch's task: there
    // is no noarch log then.
    if arches.iter().any(|a| a != "noarch") {
        arches.retain(|a| a != "noarch");
    }
    for arch in arches {
        let url = koji.build_log_url(build, &arch)?;
        let path = format!("{dir}/build.log.{arch}");
        match http::download(&url, &path, None) {
            Ok(_) => out.downloaded_logs.push(path),
            Err(Error::AccessDenied(m)) => return Err(Error::AccessDenied(m)),
            Err(e) => {
                log::warn(format!(
                    "{}: no build log for {arch} ({url}): {}",
                    build.nvr,
                    describe(&e)
                ));
                out.log_errors.push(arch);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_decode_strictly() {
        let json = serde_json::json!({
            "action": "download_latest_stable", "koji_build": "a-1-1.fc40", "arch": ["x86_64"],
            "arch_exclude": [], "src": false, "debuginfo": false, "build_log": true,
            "target_dir": "rpms", "koji_url": "http://h/kojihub", "pkgs_url": "http://h/kojifiles",
        });
        let p: Params = taskhost_sdk::decode_task_data(&json.to_string()).unwrap();
        assert_eq!(p.action, Action::DownloadLatestStable);
        assert!(p.koji_tag.is_none());
        let mut bad = json.clone();
        bad["surprise"] = true.into();
        assert!(taskhost_sdk::decode_task_data::<Params>(&bad.to_string()).is_err());
    }

    #[test]
    fn every_param_is_described() {
        let names: Vec<String> = Params::params().into_iter().map(|p| p.name).collect();
        for key in [
            "action",
            "koji_build",
            "koji_tag",
            "arch",
            "arch_exclude",
            "src",
            "debuginfo",
            "build_log",
            "target_dir",
            "koji_url",
            "pkgs_url",
        ] {
            assert!(names.iter().any(|n| n == key), "{key}");
        }
    }

    #[test]
    fn actions_name_the_param_they_need() {
        let e = needs(&None, "koji_tag", "download_tag").unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.contains("`koji_tag`") && m.contains("download_tag")),
            "{e:?}"
        );
        assert!(needs(&Some("  ".into()), "koji_build", "download").is_err());
        assert_eq!(
            needs(&Some("a-1-1".into()), "koji_build", "download").unwrap(),
            "a-1-1"
        );
    }
}
