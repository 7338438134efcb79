//! The `distgit` directive (libtaskotron's): downloads files of a package
//! from dist-git, Fedora's package repositories, through the host's http
//! capability. Each file comes from the repository's raw view,
//! `{baseurl}/{namespace}/{package}/raw/{gitref}/f/{path}` (pagure, as
//! libtaskotron used since 0.9.8; src.fedoraproject.org by default).
//!
//! ```yaml
//! - name: download the spec file
//!   distgit:
//!     package: xchat
//!     gitref: f40
//!     path: [xchat.spec, tests/tests.yml]
//!     localpath: [specs/xchat.spec, tests.yml]
//!     target_dir: ${workdir}/distgit
//!   export: distgit_output
//! ```

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use taskhost_fedora::koji;
use taskhost_sdk::directive::{self, Context, Directive, DirectiveParams, Output};
use taskhost_sdk::{Error, Result, http, log};

// ---- params ----

#[derive(Debug, Deserialize, DirectiveParams)]
pub struct Params {
    /// the package (repository) name, e.g. xchat; give package or nvr
    pub package: Option<String>,
    /// an N(E)VR, e.g. xchat-2.8.8-32.fc40: package is its name and gitref its Fedora
    /// release's branch (f40) unless given
    pub nvr: Option<String>,
    /// branch, tag or commit, e.g. f40 (default: the nvr's branch, else rawhide)
    pub gitref: Option<String>,
    /// dist-git namespace, e.g. rpms, modules, container
    #[param(default = "rpms")]
    pub namespace: String,
    /// files in the repository to download, e.g. [xchat.spec]
    pub path: Vec<String>,
    /// where each file goes under target_dir (default: its path), as many as path
    pub localpath: Option<Vec<String>>,
    /// workspace directory to download into (created)
    pub target_dir: String,
    /// the dist-git server
    #[param(default = FEDORA_BASEURL)]
    pub baseurl: String,
    /// skip files the repository does not have (HTTP 404) instead of failing
    #[param(default = false)]
    pub ignore_missing: bool,
}

/// Fedora's dist-git.
pub const FEDORA_BASEURL: &str = "https://src.fedoraproject.org";
/// The branch of the development release (libtaskotron's `master`,
/// renamed `rawhide` in Fedora's dist-git in 2020).
pub const DEVELOPMENT_BRANCH: &str = "rawhide";

/// What the directive returns (libtaskotron's key).
#[derive(Debug, Default, Serialize)]
pub struct Downloaded {
    /// Workspace paths of the downloaded files.
    pub downloaded_files: Vec<String>,
}

pub struct DistGit;

impl Directive for DistGit {
    type Params = Params;
    const NAME: &'static str = "distgit";
    const SUMMARY: &'static str = "Downloads files of a package from dist-git";
    const RETURNS: &'static str = "{downloaded_files: [paths]}";
    const RAISES: &'static str = "when neither package nor nvr is given, path and localpath differ in \
                                  length or leave their directories, a file is missing (unless \
                                  ignore_missing), a download fails, or the URL is not granted";

    fn run(p: Params, _context: &Context) -> Result<Output> {
        let repo = Repo::from_params(&p)?;
        let dir = directive::workspace_dir("target_dir", &p.target_dir)?;
        let files = plan(&repo, &p, &dir)?;
        log::info(format!(
            "{}/{} at {}: downloading {} files from {} into {dir}",
            repo.namespace,
            repo.package,
            repo.gitref,
            files.len(),
            repo.baseurl
        ));
        let mut out = Downloaded::default();
        for file in &files {
            if let Some(parent) = std::path::Path::new(&file.local).parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::failed(format!("creating {}: {e}", parent.display())))?;
            }
            match http::download(&file.url, &file.local, None) {
                Ok(_) => out.downloaded_files.push(file.local.clone()),
                Err(e) if p.ignore_missing && is_missing(&e) => {
                    log::info(format!(
                        "{} is not in {}/{} at {}; skipped (ignore_missing)",
                        file.path, repo.namespace, repo.package, repo.gitref
                    ));
                }
                Err(e) => return Err(repo.download_error(file, e)),
            }
        }
        Ok(Output::value(out))
    }
}

taskhost_sdk::export_directive!(DistGit, manifest = "taskhost.toml");

// ---- the repository ----

/// The repository and revision the files come from.
#[derive(Debug, PartialEq)]
pub struct Repo {
    /// Without a trailing `/`.
    pub baseurl: String,
    pub namespace: String,
    pub package: String,
    pub gitref: String,
}

/// Characters left as they are in one URL path segment (RFC 3986
/// unreserved, and `+` of package names such as gtk+).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'+');

impl Repo {
    /// package, gitref and namespace from the params; `nvr` fills in
    /// what is not given, as libtaskotron did.
    pub fn from_params(p: &Params) -> Result<Repo> {
        directive::http_url("baseurl", &p.baseurl)?;
        let from_nvr = match p.nvr.as_deref().map(str::trim) {
            Some(nvr) if !nvr.is_empty() => Some(from_nvr(nvr)?),
            _ => None,
        };
        let package = match (given(&p.package), &from_nvr) {
            (Some(package), _) => package.to_string(),
            (None, Some((name, _))) => name.clone(),
            (None, None) => {
                return Err(Error::invalid(
                    "the distgit directive needs the param `package` (e.g. xchat) or `nvr` \
                     (e.g. xchat-2.8.8-32.fc40)",
                ));
            }
        };
        let gitref = match (given(&p.gitref), &from_nvr) {
            (Some(gitref), _) => gitref.to_string(),
            (None, Some((_, Some(branch)))) => branch.clone(),
            _ => DEVELOPMENT_BRANCH.to_string(),
        };
        let namespace = given(&Some(p.namespace.clone()))
            .ok_or_else(|| Error::invalid("param `namespace` is empty; e.g. rpms"))?
            .to_string();
        for (param, value) in [
            ("package", &package),
            ("gitref", &gitref),
            ("namespace", &namespace),
        ] {
            if value.contains('/') || value == "." || value == ".." {
                return Err(Error::invalid(format!(
                    "param `{param}`: '{value}' is not one name (it may not contain '/' or be '.' or '..')"
                )));
            }
        }
        Ok(Repo {
            baseurl: p.baseurl.trim_end_matches('/').to_string(),
            namespace,
            package,
            gitref,
        })
    }

    /// The raw URL of `path` (checked by [`repo_path`]).
    pub fn raw_url(&self, path: &str) -> String {
        let segment = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
        let path: Vec<String> = path.split('/').map(segment).collect();
        format!(
            "{}/{}/{}/raw/{}/f/{}",
            self.baseurl,
            segment(&self.namespace),
            segment(&self.package),
            segment(&self.gitref),
            path.join("/")
        )
    }

    /// A failed download, naming the file and the repository.
    fn download_error(&self, file: &File, e: Error) -> Error {
        let whose = format!("{}/{} at {}", self.namespace, self.package, self.gitref);
        match e {
            Error::AccessDenied(m) => Error::AccessDenied(m),
            e if is_missing(&e) => Error::NotFound(format!(
                "{} is not in {whose} ({}: HTTP 404); check path and gitref, or set \
                 ignore_missing: true to skip missing files",
                file.path, file.url
            )),
            Error::Invalid(m) | Error::NotFound(m) | Error::Failed(m) => {
                Error::Failed(format!("downloading {} of {whose}: {m}", file.path))
            }
            Error::TimedOut => Error::TimedOut,
        }
    }
}

/// The text of an optional param, unless empty.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The package name of an N(E)VR and its Fedora release's branch (fNN),
/// if its release has a `.fcNN` dist tag. The epoch may be written
/// `E:N-V-R` or `N-E:V-R`.
pub fn from_nvr(nvr: &str) -> Result<(String, Option<String>)> {
    let parts = koji::parse_nevr(nvr).map_err(|e| match e {
        Error::Invalid(_) => Error::Invalid(format!(
            "param `nvr`: '{nvr}' is not an N(E)VR: write NAME-VERSION-RELEASE, e.g. \
             xchat-2.8.8-32.fc40"
        )),
        other => other,
    })?;
    let branch = koji::fedora_release(&parts.release).map(|n| format!("f{n}"));
    Ok((parts.name, branch))
}

/// Whether a download failed because the server has no such file.
fn is_missing(e: &Error) -> bool {
    matches!(e, Error::Failed(m) if m.contains(": HTTP 404"))
}

// ---- the files ----

/// One file to download.
#[derive(Debug, PartialEq)]
pub struct File {
    /// In the repository.
    pub path: String,
    pub url: String,
    /// Workspace path: target_dir/localpath.
    pub local: String,
}

/// The files to download into `dir`, in the order of `path`.
pub fn plan(repo: &Repo, p: &Params, dir: &str) -> Result<Vec<File>> {
    if p.path.is_empty() {
        return Err(Error::invalid(
            "param `path` is empty: list the files to download, e.g. [xchat.spec]",
        ));
    }
    let local = match &p.localpath {
        Some(local) if local.len() != p.path.len() => {
            return Err(Error::invalid(format!(
                "params `path` and `localpath` must be lists of the same length; path has {}, \
                 localpath {}",
                p.path.len(),
                local.len()
            )));
        }
        Some(local) => local,
        None => &p.path,
    };
    p.path
        .iter()
        .zip(local)
        .enumerate()
        .map(|(i, (path, local))| {
            let path = repo_path(&format!("path[{i}]"), path)?;
            let local = repo_path(&format!("localpath[{i}]"), local)?;
            Ok(File {
                url: repo.raw_url(&path),
                local: format!("{dir}/{local}"),
                path,
            })
        })
        .collect()
}

/// A file path below a directory: relative, no `.`, `..` or empty parts,
/// no trailing `/` (directories are not downloaded).
pub fn repo_path(param: &str, path: &str) -> Result<String> {
    let parts: Vec<&str> = path.split('/').collect();
    if path.is_empty()
        || parts
            .iter()
            .any(|part| part.is_empty() || *part == "." || *part == "..")
    {
        return Err(Error::invalid(format!(
            "param `{param}`: '{path}' is not a file path below its directory (e.g. xchat.spec or \
             tests/tests.yml): absolute paths, '.', '..', empty parts and directories are refused"
        )));
    }
    Ok(path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(extra: serde_json::Value) -> Params {
        let mut json = serde_json::json!({
            "namespace": "rpms", "path": ["foo.spec"], "target_dir": "dl",
            "baseurl": FEDORA_BASEURL, "ignore_missing": false,
        });
        for (k, v) in extra.as_object().unwrap() {
            json[k] = v.clone();
        }
        taskhost_sdk::decode_task_data(&json.to_string()).unwrap()
    }

    #[test]
    fn the_url_is_pagures_raw_view_as_libtaskotron_built_it() {
        let p = params(serde_json::json!({"package": "foo", "gitref": "f99"}));
        let repo = Repo::from_params(&p).unwrap();
        assert_eq!(
            repo.raw_url("foo.spec"),
            "https://src.fedoraproject.org/rpms/foo/raw/f99/f/foo.spec"
        );
        assert_eq!(
            repo.raw_url("tests/a b#c.yml"),
            "https://src.fedoraproject.org/rpms/foo/raw/f99/f/tests/a%20b%23c.yml"
        );
        let p = params(serde_json::json!({"package": "gtk+", "baseurl": "http://h:1/dg/"}));
        let repo = Repo::from_params(&p).unwrap();
        assert_eq!(repo.raw_url("x"), "http://h:1/dg/rpms/gtk+/raw/rawhide/f/x");
    }

    #[test]
    fn an_nvr_gives_the_package_and_its_releases_branch_unless_they_are_given() {
        let repo =
            Repo::from_params(&params(serde_json::json!({"nvr": "foo-bar-1.2-3.fc99"}))).unwrap();
        assert_eq!(
            (repo.package.as_str(), repo.gitref.as_str()),
            ("foo-bar", "f99")
        );
        let repo =
            Repo::from_params(&params(serde_json::json!({"nvr": "1:foo-1.2-3.fc40"}))).unwrap();
        assert_eq!(
            (repo.package.as_str(), repo.gitref.as_str()),
            ("foo", "f40")
        );
        let repo = Repo::from_params(&params(serde_json::json!({
            "nvr": "foo-1.2-3.fc99", "package": "bar", "gitref": "v17", "namespace": "onions"
        })))
        .unwrap();
        assert_eq!(
            repo,
            Repo {
                baseurl: FEDORA_BASEURL.into(),
                namespace: "onions".into(),
                package: "bar".into(),
                gitref: "v17".into()
            }
        );
        // No Fedora dist tag: the development branch.
        let repo = Repo::from_params(&params(serde_json::json!({"nvr": "foo-1.2-3.el9"}))).unwrap();
        assert_eq!(repo.gitref, DEVELOPMENT_BRANCH);
    }

    #[test]
    fn package_or_nvr_is_needed_and_names_stay_one_segment() {
        let e = Repo::from_params(&params(serde_json::json!({}))).unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.contains("`package`") && m.contains("`nvr`")),
            "{e:?}"
        );
        let e = Repo::from_params(&params(serde_json::json!({"nvr": "garbage"}))).unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.contains("`nvr`")),
            "{e:?}"
        );
        for (key, value) in [
            ("package", "../other"),
            ("gitref", "a/b"),
            ("namespace", ".."),
        ] {
            let mut extra = serde_json::json!({"package": "foo"});
            extra[key] = value.into();
            let e = Repo::from_params(&params(extra)).unwrap_err();
            assert!(
                matches!(&e, Error::Invalid(m) if m.contains(&format!("`{key}`"))),
                "{e:?}"
            );
        }
        let e = Repo::from_params(&params(
            serde_json::json!({"package": "foo", "baseurl": "ftp://x"}),
        ))
        .unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.contains("`baseurl`")),
            "{e:?}"
        );
    }

    #[test]
    fn localpath_names_each_file_under_target_dir() {
        let p = params(serde_json::json!({
            "package": "foo", "path": ["foo.spec", "tests/tests.yml"],
            "localpath": ["specs/local.spec", "tests.yml"],
        }));
        let repo = Repo::from_params(&p).unwrap();
        let files = plan(&repo, &p, "dl").unwrap();
        assert_eq!(
            files.iter().map(|f| f.local.as_str()).collect::<Vec<_>>(),
            ["dl/specs/local.spec", "dl/tests.yml"]
        );
        assert_eq!(
            files[1].url,
            "https://src.fedoraproject.org/rpms/foo/raw/rawhide/f/tests/tests.yml"
        );
        let p = params(serde_json::json!({"package": "foo"}));
        assert_eq!(plan(&repo, &p, "dl").unwrap()[0].local, "dl/foo.spec");
    }

    #[test]
    fn paths_that_leave_their_directory_or_lists_of_two_lengths_are_refused() {
        let p =
            params(serde_json::json!({"package": "foo", "path": ["a", "b"], "localpath": ["c"]}));
        let repo = Repo::from_params(&p).unwrap();
        let e = plan(&repo, &p, "dl").unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.contains("same length")),
            "{e:?}"
        );
        for (key, bad) in [
            ("path", "../../other/raw/x"),
            ("path", "/etc/passwd"),
            ("path", "dir/"),
            ("localpath", "../escape"),
            ("localpath", "a//b"),
        ] {
            let mut extra =
                serde_json::json!({"package": "foo", "path": ["ok"], "localpath": ["ok"]});
            extra[key] = serde_json::json!([bad]);
            let p = params(extra);
            let e = plan(&repo, &p, "dl").unwrap_err();
            assert!(
                matches!(&e, Error::Invalid(m) if m.contains(&format!("`{key}[0]`"))),
                "{bad}: {e:?}"
            );
        }
        let e = plan(
            &repo,
            &params(serde_json::json!({"package": "foo", "path": []})),
            "dl",
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.contains("`path` is empty")),
            "{e:?}"
        );
    }

    #[test]
    fn a_404_is_named_missing_and_other_failures_name_the_file() {
        let repo = Repo::from_params(&params(
            serde_json::json!({"package": "foo", "gitref": "f40"}),
        ))
        .unwrap();
        let file = File {
            path: "foo.spec".into(),
            url: repo.raw_url("foo.spec"),
            local: "dl/foo.spec".into(),
        };
        let e = repo.download_error(
            &file,
            Error::Failed(format!("{}: HTTP 404 Not Found", file.url)),
        );
        assert!(
            matches!(&e, Error::NotFound(m) if m.contains("foo.spec is not in rpms/foo at f40") && m.contains("ignore_missing")),
            "{e:?}"
        );
        let e = repo.download_error(
            &file,
            Error::Failed("x: HTTP 500 Internal Server Error".into()),
        );
        assert!(
            matches!(&e, Error::Failed(m) if m.contains("downloading foo.spec of rpms/foo at f40")),
            "{e:?}"
        );
        let e = repo.download_error(&file, Error::AccessDenied("no".into()));
        assert!(matches!(&e, Error::AccessDenied(m) if m == "no"), "{e:?}");
    }

    #[test]
    fn every_param_is_described() {
        let names: Vec<String> = Params::params().into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "package",
                "nvr",
                "gitref",
                "namespace",
                "path",
                "localpath",
                "target_dir",
                "baseurl",
                "ignore_missing"
            ]
        );
    }
}
