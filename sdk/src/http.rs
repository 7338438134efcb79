//! Downloads through the host, checked against the plugin's URL grants.

use crate::Result;
use crate::bindings::taskhost::plugin::http as raw;

pub use raw::Fetched;

/// Downloads `url` into the workspace file `workspace_path`, streamed.
/// With `sha256` (hex) the content must match, or the call fails and no
/// file is left behind.
pub fn download(url: &str, workspace_path: &str, sha256: Option<&str>) -> Result<Fetched> {
    raw::download(url, workspace_path, sha256)
}
