//! The `bodhi` directive (libtaskotron's): downloads the RPMs of every
//! build in a Bodhi update, from Koji.
//!
//! ```yaml
//! - name: download the update
//!   bodhi:
//!     action: download
//!     update_id: ${bodhi_update}
//!     arch: ${arch}
//!     target_dir: ${workdir}/rpms
//!   export: bodhi_output
//! ```

use serde::Deserialize;
use serde_json::json;
use taskhost_fedora::koji::{self, Koji, RpmFilter};
use taskhost_sdk::directive::{self, Context, Directive, DirectiveParams, Output};
use taskhost_sdk::{Error, Result, http, log};

// ---- params ----

#[derive(Debug, Deserialize, DirectiveParams)]
pub struct Params {
    /// download: the RPMs of every build in the update
    #[param(choices = ["download"])]
    pub action: String,
    /// the update's id, e.g. FEDORA-2024-7a5c1e0b9d
    pub update_id: String,
    /// arch or list of arches, or `all`; noarch is always added, i386 means i386..i686
    #[param(type = StringOrList)]
    pub arch: Vec<String>,
    /// also download the source RPMs
    #[param(default = false)]
    pub src: bool,
    /// workspace directory to download into (created)
    pub target_dir: String,
    /// Bodhi's base URL
    #[param(default = FEDORA_BODHI)]
    pub bodhi_url: String,
    /// the Koji hub's XML-RPC URL
    #[param(default = koji::FEDORA_HUB)]
    pub koji_url: String,
    /// the Koji topurl that serves packages/ (kojipkgs)
    #[param(default = koji::FEDORA_TOPURL)]
    pub pkgs_url: String,
}

/// Bodhi's default instance.
pub const FEDORA_BODHI: &str = "https://bodhi.fedoraproject.org/";

/// The part of `GET /updates/ID` this directive reads.
#[derive(Debug, Deserialize)]
struct UpdateReply {
    update: Update,
}

#[derive(Debug, Deserialize)]
struct Update {
    #[serde(default)]
    builds: Vec<UpdateBuild>,
    #[serde(default)]
    content_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UpdateBuild {
    nvr: String,
}

pub struct BodhiDirective;

impl Directive for BodhiDirective {
    type Params = Params;
    const NAME: &'static str = "bodhi";
    const SUMMARY: &'static str = "Downloads the RPMs of a Bodhi update's builds from Koji";
    const RETURNS: &'static str = "{downloaded_rpms: [paths]}";
    const RAISES: &'static str = "when the update or one of its builds does not exist, a download fails \
                                  or does not match what Koji says about the file, or a URL is not granted";

    fn run(p: Params, _context: &Context) -> Result<Output> {
        if p.action != "download" {
            return Err(Error::invalid(format!(
                "param `action` must be download, not '{}'",
                p.action
            )));
        }
        for (param, url) in [
            ("bodhi_url", &p.bodhi_url),
            ("koji_url", &p.koji_url),
            ("pkgs_url", &p.pkgs_url),
        ] {
            directive::http_url(param, url)?;
        }
        check_update_id(&p.update_id)?;
        let dir = directive::workspace_dir("target_dir", &p.target_dir)?;

        // ---- the update's builds ----
        let nvrs = update_builds(&p.bodhi_url, &p.update_id)?;

        // ---- downloads ----
        let koji = Koji::new(&p.koji_url, &p.pkgs_url);
        let filter = RpmFilter::new(&p.arch, &[], p.src, false);
        let mut downloaded = Vec::new();
        for nvr in &nvrs {
            let (_, files) = koji
                .download_build(nvr, &filter, &dir)
                .map_err(|e| in_update(&p.update_id, e))?;
            downloaded.extend(files);
        }

        // ---- output ----
        Ok(Output::value(json!({ "downloaded_rpms": downloaded })))
    }
}

taskhost_sdk::export_directive!(BodhiDirective, manifest = "taskhost.toml");

/// An update id goes into a URL path: letters, digits, `-`, `_`, `.`.
fn check_update_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "param `update_id` must be a Bodhi update id such as FEDORA-2024-7a5c1e0b9d, not '{id}'"
        )))
    }
}

/// The NVRs of the update's builds, from `GET {bodhi_url}updates/{id}`.
fn update_builds(bodhi_url: &str, id: &str) -> Result<Vec<String>> {
    let url = format!("{}/updates/{id}", bodhi_url.trim_end_matches('/'));
    let response = http::Request::get(&url)
        .header("accept", "application/json")
        .send()?;
    if response.status == 404 {
        return Err(Error::NotFound(format!(
            "bodhi update {id} does not exist at {url}{}",
            bodhi_says(&response.body)
        )));
    }
    if !response.ok() {
        return Err(Error::failed(format!(
            "{url} answered HTTP {}{}",
            response.status,
            bodhi_says(&response.body)
        )));
    }
    let reply: UpdateReply = response.json()?;
    if let Some(kind) = reply.update.content_type.as_deref().filter(|k| *k != "rpm") {
        return Err(Error::failed(format!(
            "bodhi update {id} holds {kind} builds, not RPMs: there is nothing for this directive to download"
        )));
    }
    let nvrs: Vec<String> = reply.update.builds.into_iter().map(|b| b.nvr).collect();
    if nvrs.is_empty() {
        log::warn(format!("bodhi update {id} holds no builds"));
    } else {
        log::info(format!("bodhi update {id}: {}", nvrs.join(" ")));
    }
    Ok(nvrs)
}

/// Bodhi's own words from a cornice error body, if any.
fn bodhi_says(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let words: Vec<&str> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["description"].as_str())
        .collect();
    if words.is_empty() {
        String::new()
    } else {
        format!(" (bodhi says: {})", words.join("; "))
    }
}

/// Names the update an error happened in.
fn in_update(id: &str, e: Error) -> Error {
    match e {
        Error::Invalid(m) => Error::Invalid(format!("bodhi update {id}: {m}")),
        Error::NotFound(m) => Error::NotFound(format!("bodhi update {id}: {m}")),
        Error::Failed(m) => Error::Failed(format!("bodhi update {id}: {m}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_ids_are_checked() {
        assert!(check_update_id("FEDORA-2024-7a5c1e0b9d").is_ok());
        assert!(check_update_id("FEDORA-EPEL-2024-1.2_3").is_ok());
        for bad in ["", "..", "a/b", "a?b", "a b", "../updates"] {
            let e = check_update_id(bad).unwrap_err();
            assert!(
                matches!(&e, Error::Invalid(m) if m.contains("update_id")),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn bodhi_errors_are_quoted() {
        let body = br#"{"status": "error", "errors": [{"location": "url", "name": "id", "description": "Invalid update id"}]}"#;
        assert_eq!(bodhi_says(body), " (bodhi says: Invalid update id)");
        assert_eq!(bodhi_says(b"<html>"), "");
    }

    #[test]
    fn params_decode_strictly() {
        let json = serde_json::json!({
            "action": "download", "update_id": "FEDORA-2024-1", "arch": ["x86_64"], "src": true,
            "target_dir": "rpms", "bodhi_url": "http://h/", "koji_url": "http://h/kojihub",
            "pkgs_url": "http://h/kojifiles",
        });
        let p: Params = taskhost_sdk::decode_task_data(&json.to_string()).unwrap();
        assert!(p.src);
        let mut bad = json.clone();
        bad["debuginfo"] = true.into();
        assert!(taskhost_sdk::decode_task_data::<Params>(&bad.to_string()).is_err());
    }

    #[test]
    fn update_replies_decode() {
        let reply: UpdateReply = serde_json::from_value(serde_json::json!({
            "update": {"alias": "X", "builds": [{"nvr": "a-1-1.fc40", "type": "rpm"}], "content_type": "rpm"},
            "can_edit": false,
        }))
        .unwrap();
        assert_eq!(reply.update.builds[0].nvr, "a-1-1.fc40");
    }
}
