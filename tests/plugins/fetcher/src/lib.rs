//! Downloads each URL its task_data lists through the host's http
//! capability and reports one result per download: PASSED with the
//! sha256, size and final URL as keyvals, or FAILED with the error.

use serde::Deserialize;
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{Error, Outcome, Result, Status, Task, http};

/// `{"downloads": [{"url": ..., "path": ..., "sha256": ...}]}`
#[derive(Deserialize)]
pub struct Data {
    pub downloads: Vec<Download>,
}

/// One download: a URL into a workspace path, optionally checked.
#[derive(Deserialize)]
pub struct Download {
    pub url: String,
    pub path: String,
    #[serde(default)]
    pub sha256: Option<String>,
}

pub struct Fetcher;

/// The error as the tests match it: `KIND: message`.
fn describe(e: &Error) -> String {
    match e {
        Error::AccessDenied(m) => format!("access denied: {m}"),
        Error::Invalid(m) => format!("invalid: {m}"),
        Error::NotFound(m) => format!("not found: {m}"),
        Error::Failed(m) => format!("failed: {m}"),
        Error::TimedOut => "timed out".to_string(),
    }
}

impl Task for Fetcher {
    type Data = Data;
    const NAME: &'static str = "fetcher";
    const SUMMARY: &'static str = "Downloads what task_data lists";

    fn execute(data: Data) -> Result<Status> {
        let mut all_ok = true;
        for d in &data.downloads {
            let result = match http::download(&d.url, &d.path, d.sha256.as_deref()) {
                Ok(got) => CheckResult::new(&d.path, "file", Outcome::Passed)
                    .note(format!("downloaded {}", d.url))
                    .keyval("sha256", &got.sha256)
                    .keyval("size", got.size)
                    .keyval("url", &got.url),
                Err(e) => {
                    all_ok = false;
                    CheckResult::new(&d.path, "file", Outcome::Failed).note(describe(&e))
                }
            };
            result.emit()?;
        }
        Ok(if all_ok {
            Status::Success
        } else {
            Status::Failure
        })
    }
}

taskhost_sdk::export_task!(Fetcher, manifest = "taskhost.toml");
