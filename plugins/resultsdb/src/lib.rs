//! libtaskotron's `resultsdb` directive: reports ResultYAML to a
//! ResultsDB server (API v2.0) and records each result in the run's
//! report.
//!
//! Every result needs `item`, `type` and `checkname`; all are checked
//! before anything is sent. Then one group is created for the job (its
//! uuid is the run's uuid), each missing testcase is created, and each
//! result is posted with `data` = {item, type, arch, keyvals}. In a
//! formula with a `namespace`, testcases are `NAMESPACE.CHECKNAME` (as
//! libtaskotron named them), unless the checkname already starts so. With
//! `artifacts_url`, a result's `ref_url` is
//! `{artifacts_url}/{uuid}/{artifact}`, where runtask keeps the run's
//! artifacts.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use taskhost_sdk::directive::{Context, Directive, DirectiveParams, Output};
use taskhost_sdk::http::Request;
use taskhost_sdk::resultyaml::{self, CheckDetail};
use taskhost_sdk::{Error, Result, log};

#[derive(Debug, Deserialize, DirectiveParams)]
pub struct Params {
    /// ResultYAML text (e.g. what xunit exported) or a task action's export
    pub results: Option<Value>,
    /// a ResultYAML file, a workspace path (instead of results)
    pub file: Option<String>,
    /// the API root, e.g. https://resultsdb.example.org/api/v2.0
    pub resultsdb_url: String,
    /// where the run's artifacts are published; results link to {artifacts_url}/{uuid}/{artifact}
    pub artifacts_url: Option<String>,
}

/// The keyval that carries the id ResultsDB gave a result.
pub const ID_KEY: &str = "resultsdb_id";

pub struct ResultsDb;

impl Directive for ResultsDb {
    type Params = Params;
    const NAME: &'static str = "resultsdb";
    const SUMMARY: &'static str = "Reports results to ResultsDB (API v2.0) and to the run's report";
    const RETURNS: &'static str =
        "the ResultYAML with each result's ResultsDB id as the keyval `resultsdb_id`";
    const RAISES: &'static str =
        "on bad ResultYAML, a result without item, type or checkname, or a ResultsDB error";

    fn run(p: Params, c: &Context) -> Result<Output> {
        let mut details = load(&p)?;
        check_required(&details)?;
        for d in &mut details {
            d.checkname = d.checkname.take().map(|n| namespaced(&c.namespace, n));
        }
        for d in &details {
            taskhost_sdk::results::CheckResult::from_detail(d)?.emit()?;
        }
        let api = Api::new(&p.resultsdb_url);
        let base = p.artifacts_url.as_deref().map(|u| u.trim_end_matches('/'));
        let group = group_body(c, base);
        api.post("groups", &group, "the job's group")?;

        let mut known: Vec<&str> = Vec::new();
        for d in &details {
            let name = d.checkname.as_deref().unwrap_or_default();
            if !known.contains(&name) {
                api.ensure_testcase(name)?;
                known.push(name);
            }
        }
        let mut ids = Vec::with_capacity(details.len());
        for (index, d) in details.iter().enumerate() {
            let ref_url = base.map(|b| ref_url(b, &c.uuid, d.artifact.as_deref(), &c.artifactsdir));
            let body = result_body(d, &c.uuid, &c.arch, ref_url.as_deref());
            let what = format!("results[{index}] ({} for {})", name_of(d), item_of(d));
            let created = api.post("results", &body, &what)?;
            let id = match &created["id"] {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => {
                    return Err(Error::failed(format!(
                        "ResultsDB created {what} but answered without an id: {created}"
                    )));
                }
            };
            ids.push(id);
        }
        log::info(format!(
            "reported {} result(s) to {}",
            details.len(),
            api.root
        ));
        for (d, id) in details.iter_mut().zip(ids) {
            d.keyvals.insert(ID_KEY.to_string(), id.into());
        }
        Ok(Output::value(resultyaml::to_string(&details)?))
    }
}

/// The results from `results` or `file` (exactly one).
fn load(p: &Params) -> Result<Vec<CheckDetail>> {
    match (&p.results, &p.file) {
        (Some(v), None) => resultyaml::parse_param("results", v),
        (None, Some(file)) if leaves_workspace(file) => Err(Error::invalid(format!(
            "param `file` must be a file in the workspace (e.g. ${{workdir}}/results.yaml), \
             not '{file}': absolute paths and '..' are refused"
        ))),
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                Error::failed(format!(
                    "param `file`: cannot read '{file}' in the workspace: {e}"
                ))
            })?;
            resultyaml::parse(&text)
                .map_err(|e| Error::invalid(format!("param `file`: '{file}': ResultYAML: {e}")))
        }
        _ => Err(Error::invalid(
            "resultsdb takes exactly one of the params `results` and `file`",
        )),
    }
}

/// An absolute path, or one with a `..` part, may leave the workspace.
fn leaves_workspace(path: &str) -> bool {
    let path = std::path::Path::new(path);
    path.is_absolute()
        || path
            .components()
            .any(|c| c == std::path::Component::ParentDir)
}

/// Every result has an item, a type and a checkname.
pub fn check_required(details: &[CheckDetail]) -> Result<()> {
    for (index, d) in details.iter().enumerate() {
        let missing: Vec<&str> = [
            ("item", &d.item),
            ("type", &d.item_type),
            ("checkname", &d.checkname),
        ]
        .into_iter()
        .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
        .map(|(k, _)| k)
        .collect();
        if !missing.is_empty() {
            return Err(Error::invalid(format!(
                "results[{index}] has no {}: ResultsDB needs item, type and checkname in every result",
                missing
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(())
}

/// `dist` + `rpmlint` → `dist.rpmlint`; a name already in the namespace,
/// or no namespace, stays as it is.
fn namespaced(namespace: &str, checkname: String) -> String {
    if namespace.is_empty() || checkname.starts_with(&format!("{namespace}.")) {
        checkname
    } else {
        format!("{namespace}.{checkname}")
    }
}

fn name_of(d: &CheckDetail) -> &str {
    d.checkname.as_deref().unwrap_or_default()
}

fn item_of(d: &CheckDetail) -> &str {
    d.item.as_deref().unwrap_or_default()
}

/// The job's group: the run's uuid, named after the check.
pub fn group_body(c: &Context, artifacts_url: Option<&str>) -> Value {
    let mut g = json!({"uuid": c.uuid, "description": c.checkname});
    if let Some(base) = artifacts_url {
        g["ref_url"] = json!(format!("{base}/{}/", c.uuid));
    }
    g
}

/// `{base}/{uuid}/{artifact}`; `artifact` is relative to the artifacts
/// directory (a leading `artifacts/` workspace prefix is dropped).
pub fn ref_url(base: &str, uuid: &str, artifact: Option<&str>, artifactsdir: &str) -> String {
    let artifact = artifact.unwrap_or_default().trim_start_matches("./");
    let dir = format!("{}/", artifactsdir.trim_end_matches('/'));
    let artifact = artifact.strip_prefix(&dir).unwrap_or(artifact);
    format!("{base}/{uuid}/{artifact}")
}

/// A result for `POST /results`.
pub fn result_body(d: &CheckDetail, uuid: &str, arch: &str, ref_url: Option<&str>) -> Value {
    let mut data = Map::new();
    data.insert("item".into(), json!(item_of(d)));
    data.insert(
        "type".into(),
        json!(d.item_type.as_deref().unwrap_or_default()),
    );
    data.insert("arch".into(), json!(arch));
    for (k, v) in &d.keyvals {
        data.insert(k.clone(), json!(v));
    }
    json!({
        "outcome": d.outcome.as_str(),
        "testcase": {"name": name_of(d)},
        "groups": [uuid],
        "note": d.note,
        "ref_url": ref_url,
        "data": data,
    })
}

// ---- the API ----------------------------------------------------------

struct Api {
    root: String,
}

impl Api {
    fn new(url: &str) -> Api {
        Api {
            root: url.trim_end_matches('/').to_string(),
        }
    }

    /// POSTs `body` to `{root}/{path}`; the created object.
    fn post(&self, path: &str, body: &Value, what: &str) -> Result<Value> {
        let url = format!("{}/{path}", self.root);
        let response = Request::post_json(&url, body)?
            .send()
            .map_err(|e| annotate(e, &url))?;
        if !response.ok() {
            return Err(Error::failed(format!(
                "ResultsDB refused {what}: POST {url} answered {}: {}",
                response.status,
                excerpt(&response.text())
            )));
        }
        response.json()
    }

    /// Creates testcase `name` unless ResultsDB knows it.
    fn ensure_testcase(&self, name: &str) -> Result<()> {
        let url = format!("{}/testcases/{}", self.root, encode(name));
        let response = Request::get(&url).send().map_err(|e| annotate(e, &url))?;
        match response.status {
            200 => Ok(()),
            404 => self
                .post(
                    "testcases",
                    &json!({"name": name}),
                    &format!("the testcase '{name}'"),
                )
                .map(drop),
            status => Err(Error::failed(format!(
                "GET {url} answered {status}: {}",
                excerpt(&response.text())
            ))),
        }
    }
}

/// Says which ResultsDB call a host error came from.
fn annotate(e: Error, url: &str) -> Error {
    match e {
        Error::AccessDenied(m) => Error::AccessDenied(format!("param `resultsdb_url`: {m}")),
        Error::Failed(m) => Error::Failed(format!("reaching ResultsDB at {url}: {m}")),
        other => other,
    }
}

/// The start of a response body, on one line.
fn excerpt(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(500) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

/// Percent-encodes a testcase name for a path (a `/` in it stays: ResultsDB's
/// routes take it as part of the name).
fn encode(name: &str) -> String {
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/');
    utf8_percent_encode(name, KEEP).to_string()
}

taskhost_sdk::export_directive!(ResultsDb, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use taskhost_sdk::Outcome;

    fn context() -> Context {
        Context {
            workdir: ".".into(),
            artifactsdir: "artifacts".into(),
            checkname: "dist.demo".into(),
            namespace: String::new(),
            item: "foo-1.0-1.fc40".into(),
            item_type: "koji_build".into(),
            arch: "x86_64".into(),
            jobid: "-1".into(),
            uuid: "20240101_000000_000000".into(),
        }
    }

    fn detail() -> CheckDetail {
        CheckDetail::new(
            "foo-1.0-1.fc40",
            "koji_build",
            "dist.rpmlint",
            Outcome::Failed,
        )
    }

    #[test]
    fn every_result_needs_item_type_and_checkname() {
        assert!(check_required(&[detail(), detail()]).is_ok());
        let mut bad = detail();
        bad.item = None;
        bad.checkname = Some(String::new());
        let e = check_required(&[detail(), bad]).unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.starts_with("results[1] has no `item`, `checkname`:")),
            "{e:?}"
        );
    }

    #[test]
    fn result_bodies_carry_the_data_and_the_group() {
        let d = detail()
            .note("1 ERROR")
            .keyval("arch", "i686")
            .keyval("scratch", "true");
        let body = result_body(&d, "U", "x86_64", Some("http://a/U/log"));
        assert_eq!(
            body,
            json!({
                "outcome": "FAILED",
                "testcase": {"name": "dist.rpmlint"},
                "groups": ["U"],
                "note": "1 ERROR",
                "ref_url": "http://a/U/log",
                "data": {"item": "foo-1.0-1.fc40", "type": "koji_build", "arch": "i686", "scratch": "true"},
            })
        );
        assert_eq!(
            result_body(&detail(), "U", "x86_64", None)["data"]["arch"],
            "x86_64"
        );
        assert!(result_body(&detail(), "U", "x86_64", None)["ref_url"].is_null());
    }

    #[test]
    fn ref_urls_point_into_the_kept_artifacts() {
        let r = |a| ref_url("https://a.example/arts", "U", a, "artifacts");
        assert_eq!(r(None), "https://a.example/arts/U/");
        assert_eq!(r(Some("x.log")), "https://a.example/arts/U/x.log");
        assert_eq!(
            r(Some("artifacts/sub/x.log")),
            "https://a.example/arts/U/sub/x.log"
        );
        assert_eq!(
            r(Some("./artifacts/x.log")),
            "https://a.example/arts/U/x.log"
        );
    }

    #[test]
    fn the_group_is_the_job() {
        let g = group_body(&context(), Some("http://a"));
        assert_eq!(
            g,
            json!({"uuid": "20240101_000000_000000", "description": "dist.demo",
                   "ref_url": "http://a/20240101_000000_000000/"})
        );
        assert!(group_body(&context(), None).get("ref_url").is_none());
    }

    #[test]
    fn exactly_one_source() {
        let p = |results: Option<Value>, file: Option<&str>| Params {
            results,
            file: file.map(String::from),
            resultsdb_url: "http://r/api/v2.0".into(),
            artifacts_url: None,
        };
        for bad in [p(None, None), p(Some(json!("results: []")), Some("f"))] {
            let e = load(&bad).unwrap_err();
            assert!(
                matches!(&e, Error::Invalid(m) if m.contains("exactly one")),
                "{e:?}"
            );
        }
        assert_eq!(load(&p(Some(json!("results: []")), None)).unwrap(), vec![]);
        let e = load(&p(None, Some("nonexistent/results.yaml"))).unwrap_err();
        assert!(
            matches!(&e, Error::Failed(m) if m.starts_with("param `file`: cannot read")),
            "{e:?}"
        );
        for outside in [
            "/etc/results.yaml",
            "../results.yaml",
            "a/../../results.yaml",
        ] {
            let e = load(&p(None, Some(outside))).unwrap_err();
            assert!(
                matches!(&e, Error::Invalid(m) if m.starts_with("param `file` must be a file in the workspace")),
                "{outside}: {e:?}"
            );
        }
    }

    #[test]
    fn names_are_encoded_as_path_segments() {
        assert_eq!(encode("dist.rpmlint"), "dist.rpmlint");
        assert_eq!(encode("a b/c?d"), "a%20b/c%3Fd");
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt("a\n  b\tc"), "a b c");
        assert_eq!(excerpt(&"x".repeat(600)).chars().count(), 501);
    }

    #[test]
    fn testcases_are_named_in_the_formulas_namespace() {
        assert_eq!(namespaced("dist", "rpmlint".into()), "dist.rpmlint");
        assert_eq!(namespaced("dist", "dist.rpmlint".into()), "dist.rpmlint");
        assert_eq!(namespaced("", "rpmlint".into()), "rpmlint");
        assert_eq!(namespaced("dist", "distro.x".into()), "dist.distro.x");
    }
}
