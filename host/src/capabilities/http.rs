//! `taskhost:plugin/http`: downloads checked against the URL grants.

use crate::runtime::RunState;
use crate::runtime::bindings::Error;
use crate::runtime::bindings::taskhost::plugin::http::{self, Fetched};

impl http::Host for RunState {
    async fn download(
        &mut self,
        url: String,
        _workspace_path: String,
        _sha256: Option<String>,
    ) -> Result<Fetched, Error> {
        let parsed = url::Url::parse(&url)
            .map_err(|e| Error::Invalid(format!("bad URL '{url}': {e}")))?;
        self.run
            .grants
            .check_url(&parsed)
            .map_err(|d| self.run.denied(&format!("http.download {url}"), d))?;
        Err(Error::Failed("http.download is not implemented yet".into()))
    }
}
