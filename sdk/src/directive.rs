//! Directives: the steps of a Taskotron task formula (`koji`, `xunit`,
//! `exitcode`, ...).
//!
//! ```ignore
//! use serde::Deserialize;
//! use taskhost_sdk::directive::{Context, Directive, Output, Param, ParamType};
//!
//! #[derive(Deserialize)]
//! struct Params { msg: String }
//!
//! struct Echo;
//! impl Directive for Echo {
//!     type Params = Params;
//!     const NAME: &'static str = "echo";
//!     const SUMMARY: &'static str = "Returns its message";
//!     const RETURNS: &'static str = "the message";
//!     fn params() -> Vec<Param> {
//!         vec![Param::required("msg", ParamType::String, "what to return")]
//!     }
//!     fn run(p: Params, _: &Context) -> taskhost_sdk::Result<Output> {
//!         Ok(Output::value(p.msg))
//!     }
//! }
//! taskhost_sdk::export_directive!(Echo, manifest = "taskhost.toml");
//! ```
//!
//! The host checks params against [`Directive::params`] (required, type,
//! choices) and fills in defaults before `run`; the SDK then decodes them
//! strictly into [`Directive::Params`].

use crate::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::directive_bindings::exports::taskhost::plugin::directive::{
    Context, DirectiveInfo, Output, Param, ParamType,
};

/// A directive plugin.
pub trait Directive {
    /// The params model, decoded strictly from the checked params.
    type Params: DeserializeOwned;

    /// The directive's name, as formulas write it (`koji:`).
    const NAME: &'static str;
    /// One line saying what it does.
    const SUMMARY: &'static str;
    /// What `run` returns, for `export:`.
    const RETURNS: &'static str = "nothing";
    /// When `run` fails.
    const RAISES: &'static str = "";

    /// The params, for documentation and the host's checks.
    fn params() -> Vec<Param>;

    /// Runs one action.
    fn run(params: Self::Params, context: &Context) -> Result<Output>;
}

impl Param {
    /// A param the formula must give.
    pub fn required(name: &str, kind: ParamType, doc: &str) -> Param {
        Param {
            name: name.to_string(),
            type_: kind,
            required: true,
            default: None,
            choices: Vec::new(),
            doc: doc.to_string(),
        }
    }

    /// A param that may be left out; the host then passes `default`.
    pub fn optional(name: &str, kind: ParamType, default: impl Serialize, doc: &str) -> Param {
        Param {
            name: name.to_string(),
            type_: kind,
            required: false,
            default: serde_json::to_string(&default).ok(),
            choices: Vec::new(),
            doc: doc.to_string(),
        }
    }

    /// A param that may be left out and has no default (absent in params).
    pub fn optional_without_default(name: &str, kind: ParamType, doc: &str) -> Param {
        Param {
            required: false,
            ..Param::required(name, kind, doc)
        }
    }

    /// Restricts the values to `choices`.
    pub fn choices(mut self, choices: &[&str]) -> Param {
        self.choices = choices.iter().map(|c| c.to_string()).collect();
        self
    }
}

impl Output {
    /// Nothing to export.
    pub fn none() -> Output {
        Output {
            value: "null".to_string(),
            exit_code: None,
        }
    }

    /// `value` (serialized to JSON) is what `export:` receives.
    pub fn value(value: impl Serialize) -> Output {
        Output {
            value: serde_json::to_string(&value).unwrap_or_else(|_| "null".to_string()),
            exit_code: None,
        }
    }

    /// Asks runtask to exit with `code`; the worst code of a run wins.
    pub fn with_exit_code(mut self, code: u8) -> Output {
        self.exit_code = Some(code);
        self
    }
}

/// Checks that param `param` is an `http://` or `https://` URL.
pub fn http_url(param: &str, url: &str) -> Result<()> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(crate::Error::invalid(format!(
            "param `{param}` must be an http:// or https:// URL, not '{url}'"
        )))
    }
}

/// Checks that param `param` names a directory in the workspace (no
/// absolute path, no `..`), creates it, and returns it without a trailing
/// `/`.
pub fn workspace_dir(param: &str, dir: &str) -> Result<String> {
    let path = std::path::Path::new(dir);
    if dir.is_empty()
        || path.is_absolute()
        || path
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(crate::Error::invalid(format!(
            "param `{param}` must be a directory in the workspace (e.g. ${{workdir}}/rpms), \
             not '{dir}': absolute paths and '..' are refused"
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::Error::failed(format!("creating {param} '{dir}': {e}")))?;
    Ok(dir.trim_end_matches('/').to_string())
}

#[doc(hidden)]
pub mod __private {
    use super::*;
    use crate::decode_task_data;

    pub fn describe<D: Directive>() -> DirectiveInfo {
        DirectiveInfo {
            name: D::NAME.to_string(),
            summary: D::SUMMARY.to_string(),
            params: D::params(),
            returns: D::RETURNS.to_string(),
            raises: D::RAISES.to_string(),
        }
    }

    pub fn run<D: Directive>(params: &str, context: &Context) -> Result<Output> {
        let params: D::Params = decode_task_data(params).map_err(|e| match e {
            crate::Error::Invalid(m) => crate::Error::Invalid(m.replacen("task_data", "params", 1)),
            other => other,
        })?;
        D::run(params, context)
    }
}

/// Exports a [`Directive`] and embeds the plugin's manifest (`kind =
/// "directive"`).
#[macro_export]
macro_rules! export_directive {
    ($directive:ty, manifest = $manifest:literal) => {
        #[cfg(target_arch = "wasm32")]
        mod __taskhost_export {
            use super::*;

            $crate::__embed_manifest!($manifest, $crate::API_VERSION);

            struct Export;

            impl $crate::directive_bindings::exports::taskhost::plugin::directive::Guest for Export {
                fn describe() -> $crate::directive::DirectiveInfo {
                    $crate::directive::__private::describe::<$directive>()
                }
                fn run(
                    params: String,
                    context: $crate::directive::Context,
                ) -> Result<$crate::directive::Output, $crate::Error> {
                    $crate::directive::__private::run::<$directive>(&params, &context)
                }
            }

            $crate::directive_bindings::__export_directive_plugin!(Export with_types_in $crate::directive_bindings);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_dirs_stay_in_the_workspace() {
        for bad in ["/tmp/x", "../x", "a/../../x", ""] {
            let e = workspace_dir("target_dir", bad).unwrap_err();
            assert!(
                matches!(&e, crate::Error::Invalid(m) if m.contains("`target_dir`")),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn urls_must_be_http() {
        assert!(http_url("koji_url", "https://koji.fedoraproject.org/kojihub").is_ok());
        let e = http_url("pkgs_url", "ftp://x/").unwrap_err();
        assert!(
            matches!(&e, crate::Error::Invalid(m) if m.contains("`pkgs_url`")),
            "{e:?}"
        );
    }
}
