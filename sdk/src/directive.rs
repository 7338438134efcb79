//! Directives: the steps of a Taskotron task formula (`koji`, `xunit`,
//! `exitcode`, ...).
//!
//! A directive plugin (`kind = "directive"` in its manifest) implements
//! [`Directive`] and is exported with
//! [`export_directive!`](crate::export_directive):
//!
//! ```
//! use serde::Deserialize;
//! use taskhost_sdk::directive::{Context, Directive, DirectiveParams, Output};
//!
//! #[derive(Deserialize, DirectiveParams)]
//! struct Params {
//!     /// what to return
//!     msg: String,
//! }
//!
//! struct Echo;
//! impl Directive for Echo {
//!     type Params = Params;
//!     const NAME: &'static str = "echo";
//!     const SUMMARY: &'static str = "Returns its message";
//!     const RETURNS: &'static str = "the message";
//!     fn run(p: Params, _: &Context) -> taskhost_sdk::Result<Output> {
//!         Ok(Output::value(p.msg))
//!     }
//! }
//! taskhost_sdk::export_directive!(Echo, manifest = "doc-manifests/echo.toml");
//!
//! // Its unit test, with the fake host (feature `testing`):
//! use taskhost_sdk::testing::{FakeHost, context};
//! let run = FakeHost::new()
//!     .task_data(serde_json::json!({"msg": "hi"}))
//!     .run_directive::<Echo>(&context());
//! assert_eq!(run.status.unwrap(), Output::value("hi"));
//! ```
//!
//! The params are declared once, on the struct that decodes them
//! ([`DirectiveParams`]). The host checks a formula's params against that
//! declaration (required, type, choices) and fills in defaults before
//! `run`; the SDK then decodes them strictly into [`Directive::Params`].

use crate::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use taskhost_sdk_macros::{DirectiveParams, ParamValue};

/// The formula's variables, as runtask set them: `workdir`,
/// `artifactsdir`, `checkname`, `namespace`, `item`, `item_type`, `arch`,
/// `jobid` and `uuid`. [`Directive::run`] gets it.
///
/// ```
/// # use taskhost_sdk::testing::FakeHost;
/// use taskhost_sdk::directive::{Context, Directive, Output};
/// # struct Report;
/// # impl Directive for Report {
/// #     type Params = serde_json::Value;
/// #     const NAME: &'static str = "report";
/// #     const SUMMARY: &'static str = "report";
/// fn run(_: serde_json::Value, context: &Context) -> taskhost_sdk::Result<Output> {
///     let file = format!("{}/{}.log", context.artifactsdir, context.item);
///     Ok(Output::value(file))
/// }
/// # }
/// # let run = FakeHost::new().run_directive::<Report>(&taskhost_sdk::testing::context());
/// # assert_eq!(run.status, Ok(Output::value("artifacts/item.log")));
/// ```
pub use crate::directive_bindings::exports::taskhost::plugin::directive::Context;

/// Documentation of a directive, built by the SDK from the [`Directive`]
/// consts and [`Directive::params`]; `runtask plugin inspect` shows it.
///
/// ```
/// use taskhost_sdk::directive::{DirectiveInfo, Param, ParamType};
/// let info = DirectiveInfo {
///     name: "echo".into(),
///     summary: "Returns its message".into(),
///     params: vec![Param::required("msg", ParamType::String, "what to return")],
///     returns: "the message".into(),
///     raises: String::new(),
/// };
/// assert_eq!(info.params[0].name, "msg");
/// ```
pub use crate::directive_bindings::exports::taskhost::plugin::directive::DirectiveInfo;

/// What [`Directive::run`] returns: the JSON value a formula's `export:`
/// stores, and optionally a runtask exit code. Build it with
/// [`Output::none`], [`Output::value`] and [`Output::with_exit_code`].
///
/// ```
/// use taskhost_sdk::directive::Output;
/// let out = Output::value(["a.rpm", "b.rpm"]);
/// assert_eq!(out.value, r#"["a.rpm","b.rpm"]"#);
/// assert_eq!(out.exit_code, None);
/// ```
pub use crate::directive_bindings::exports::taskhost::plugin::directive::Output;

/// One parameter of a directive: name, type, whether it is required, a
/// default, the allowed choices and one line of documentation. The host
/// checks a formula's params against these before [`Directive::run`].
/// Build it with [`Param::required`], [`Param::optional`] or
/// [`Param::optional_without_default`].
///
/// ```
/// use taskhost_sdk::directive::{Param, ParamType};
/// let arch = Param::optional("arch", ParamType::StringOrList, "noarch", "architectures to fetch");
/// assert_eq!(arch.default.as_deref(), Some(r#""noarch""#));
/// ```
pub use crate::directive_bindings::exports::taskhost::plugin::directive::Param;

/// The JSON type a parameter takes; the host checks it (a YAML scalar such
/// as `42` given for a `String` param is taken as text).
///
/// ```
/// use taskhost_sdk::directive::{Param, ParamType};
/// let params = vec![
///     Param::required("koji_build", ParamType::String, "the NVR to fetch"),
///     Param::optional("debuginfo", ParamType::Boolean, false, "also fetch debuginfo"),
///     Param::optional("arch", ParamType::StringOrList, ["noarch"], "architectures"),
/// ];
/// assert_eq!(params[1].type_, ParamType::Boolean);
/// ```
pub use crate::directive_bindings::exports::taskhost::plugin::directive::ParamType;

/// A directive plugin: one step of a Taskotron task formula. Export it
/// with [`export_directive!`](crate::export_directive).
///
/// The host checks the formula's params against what
/// [`Directive::Params`] declares (required, type, choices), fills in
/// defaults, then calls [`Directive::run`] with them decoded strictly: an
/// unknown or missing key or a wrong type is an
/// [`Error::Invalid`](crate::Error::Invalid) naming the param.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use taskhost_sdk::directive::{Context, Directive, DirectiveParams, Output, ParamValue};
/// use taskhost_sdk::{Error, Result};
///
/// #[derive(Deserialize, Serialize, ParamValue, PartialEq)]
/// #[serde(rename_all = "UPPERCASE")]
/// enum Verdict { Pass, Fail }
///
/// #[derive(Deserialize, DirectiveParams)]
/// struct Params {
///     /// PASS or FAIL
///     result: Verdict,
/// }
///
/// struct Check;
/// impl Directive for Check {
///     type Params = Params;
///     const NAME: &'static str = "check";
///     const SUMMARY: &'static str = "Passes or fails on request";
///     const RAISES: &'static str = "when `result` is FAIL";
///     fn run(p: Params, _: &Context) -> Result<Output> {
///         if p.result == Verdict::Fail {
///             return Err(Error::failed("asked to fail"));
///         }
///         Ok(Output::none())
///     }
/// }
/// # use taskhost_sdk::testing::{FakeHost, context};
/// # assert_eq!(Params::params()[0].choices, ["PASS", "FAIL"]);
/// # let run = FakeHost::new().task_data(serde_json::json!({"result": "FAIL"})).run_directive::<Check>(&context());
/// # assert!(matches!(run.status, Err(Error::Failed(_))));
/// # let run = FakeHost::new().task_data(serde_json::json!({"result": "PASS", "x": 1})).run_directive::<Check>(&context());
/// # assert!(matches!(run.status, Err(Error::Invalid(m)) if m.starts_with("params: unknown key 'x'")));
/// ```
pub trait Directive {
    /// The params: decoded strictly from the checked params, and declared
    /// to the host by their [`DirectiveParams`] (usually derived).
    type Params: DirectiveParams;

    /// The directive's name, as formulas write it (`koji:`).
    const NAME: &'static str;
    /// One line saying what it does.
    const SUMMARY: &'static str;
    /// What `run` returns, for `export:` (documentation).
    const RETURNS: &'static str = "nothing";
    /// When `run` fails (documentation).
    const RAISES: &'static str = "";

    /// Runs one action with the checked, decoded params. An `Err` fails the
    /// action (and the formula).
    ///
    /// ```
    /// use taskhost_sdk::directive::{Context, Output};
    /// # use taskhost_sdk::directive::{Directive, DirectiveParams};
    /// # #[derive(serde::Deserialize, DirectiveParams)]
    /// # struct Params {
    /// #     /// what to log
    /// #     msg: String,
    /// # }
    /// # struct Echo;
    /// # impl Directive for Echo {
    /// #     type Params = Params;
    /// #     const NAME: &'static str = "echo";
    /// #     const SUMMARY: &'static str = "echo";
    /// fn run(p: Params, context: &Context) -> taskhost_sdk::Result<Output> {
    ///     taskhost_sdk::log::info(format!("{}: {}", context.item, p.msg));
    ///     Ok(Output::value(p.msg))
    /// }
    /// # }
    /// # use taskhost_sdk::testing::{FakeHost, context};
    /// # let run = FakeHost::new().task_data(serde_json::json!({"msg": "hi"})).run_directive::<Echo>(&context());
    /// # assert_eq!(run.status, Ok(Output::value("hi")));
    /// ```
    fn run(params: Self::Params, context: &Context) -> Result<Output>;
}

/// A directive's params, declared once: the struct that decodes them also
/// tells the host their names, types, defaults, choices and docs.
///
/// Derive it on a serde struct with named fields:
/// - the param's doc is the field's `///` text (required);
/// - its name is the field's, or its `#[serde(rename = "...")]`;
/// - its type comes from the field's [`ParamValue`] (`String`, `bool`,
///   integers, `Vec<String>`, `Vec<Value>`, `Value`, a map, an enum
///   deriving [`ParamValue`]), or from `#[param(type = StringOrList)]`;
/// - `#[param(choices = ["a", "b"])]` restricts a string's values (an
///   enum deriving [`ParamValue`] has its variants as choices);
/// - `Option<T>` is optional without a default; `#[param(default = EXPR)]`
///   is optional, and the host passes `EXPR` (serialized) when it is left
///   out; any other field is required;
/// - a `#[serde(flatten)]` map takes every other key (the param `**`).
///
/// ```
/// use serde::Deserialize;
/// use serde_json::{Map, Value};
/// use taskhost_sdk::directive::{DirectiveParams, ParamType};
///
/// #[derive(Deserialize, DirectiveParams)]
/// struct Params {
///     /// the NVR to fetch
///     koji_build: String,
///     /// arch or list of arches
///     #[param(type = StringOrList)]
///     arch: Vec<String>,
///     /// also fetch debuginfo
///     #[param(default = false)]
///     debuginfo: bool,
///     /// how to fetch
///     #[param(default = "fast", choices = ["fast", "slow"])]
///     mode: String,
///     /// where to put them (default: the workdir)
///     target_dir: Option<String>,
///     /// keyword arguments
///     #[serde(flatten)]
///     rest: Map<String, Value>,
/// }
///
/// let params = Params::params();
/// assert!(params[0].required);
/// assert_eq!(params[1].type_, ParamType::StringOrList);
/// assert_eq!(params[2].default.as_deref(), Some("false"));
/// assert_eq!(params[3].choices, ["fast", "slow"]);
/// assert!(!params[4].required && params[4].default.is_none());
/// assert_eq!((params[5].name.as_str(), params[5].type_), ("**", ParamType::Any));
/// ```
pub trait DirectiveParams: DeserializeOwned {
    /// The params, in the order `runtask plugin inspect` shows them.
    ///
    /// ```
    /// use taskhost_sdk::directive::DirectiveParams;
    ///
    /// #[derive(serde::Deserialize, DirectiveParams)]
    /// struct Params {
    ///     /// the JUnit XML file
    ///     file: String,
    /// }
    ///
    /// let file = &Params::params()[0];
    /// assert_eq!((file.name.as_str(), file.doc.as_str()), ("file", "the JUnit XML file"));
    /// ```
    fn params() -> Vec<Param>;
}

/// Any params at all (the param `**`, of any type).
///
/// ```
/// use taskhost_sdk::directive::DirectiveParams;
/// assert_eq!(serde_json::Value::params()[0].name, "**");
/// ```
impl DirectiveParams for Value {
    fn params() -> Vec<Param> {
        vec![Param::optional_without_default(
            "**",
            ParamType::Any,
            "any param",
        )]
    }
}

/// Any params at all (the param `**`, of any type).
///
/// ```
/// use taskhost_sdk::directive::DirectiveParams;
/// type Kwargs = serde_json::Map<String, serde_json::Value>;
/// assert_eq!(Kwargs::params()[0].name, "**");
/// ```
impl DirectiveParams for Map<String, Value> {
    fn params() -> Vec<Param> {
        Value::params()
    }
}

/// The param type of a Rust type, for [`DirectiveParams`]. Derive it for
/// an enum of unit variants: a string param whose choices are the
/// variants' serde names (the enum derives `Serialize` too).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use taskhost_sdk::directive::{ParamType, ParamValue};
///
/// #[derive(Deserialize, Serialize, ParamValue)]
/// #[serde(rename_all = "snake_case")]
/// enum Action { Download, DownloadTag }
///
/// assert_eq!(Action::TYPE, ParamType::String);
/// assert_eq!(Action::choices(), ["download", "download_tag"]);
/// assert!(<Option<Action>>::OPTIONAL);
/// ```
pub trait ParamValue {
    /// The JSON type the host checks.
    const TYPE: ParamType;
    /// The param may be left out (with no default): `Option<T>`.
    const OPTIONAL: bool = false;
    /// The only values allowed, when not empty.
    ///
    /// ```
    /// use taskhost_sdk::directive::ParamValue;
    /// assert!(String::choices().is_empty());
    /// ```
    fn choices() -> Vec<String> {
        Vec::new()
    }
}

macro_rules! param_value {
    ($kind:ident: $($t:ty),*) => {
        $(impl ParamValue for $t {
            const TYPE: ParamType = ParamType::$kind;
        })*
    };
}
param_value!(String: String);
param_value!(Boolean: bool);
param_value!(Integer: i8, i16, i32, i64, u8, u16, u32, u64, usize);
param_value!(StringList: Vec<String>);
param_value!(List: Vec<Value>);
param_value!(Dict: Map<String, Value>);
param_value!(Any: Value);

impl<T: ParamValue> ParamValue for Option<T> {
    const TYPE: ParamType = T::TYPE;
    const OPTIONAL: bool = true;
    fn choices() -> Vec<String> {
        T::choices()
    }
}

impl Param {
    /// A param the formula must give.
    ///
    /// ```
    /// use taskhost_sdk::directive::{Param, ParamType};
    /// let p = Param::required("koji_build", ParamType::String, "the NVR to fetch");
    /// assert!(p.required && p.default.is_none());
    /// ```
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

    /// A param that may be left out; the host then passes `default`
    /// (serialized to JSON).
    ///
    /// ```
    /// use taskhost_sdk::directive::{Param, ParamType};
    /// let p = Param::optional("debuginfo", ParamType::Boolean, false, "also fetch debuginfo");
    /// assert_eq!(p.default.as_deref(), Some("false"));
    /// ```
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

    /// A param that may be left out and has no default (absent in params;
    /// model it as an `Option` with `#[serde(default)]`).
    ///
    /// ```
    /// use taskhost_sdk::directive::{Param, ParamType};
    /// let p = Param::optional_without_default("msg", ParamType::Any, "what to return");
    /// assert!(!p.required && p.default.is_none());
    /// ```
    pub fn optional_without_default(name: &str, kind: ParamType, doc: &str) -> Param {
        Param {
            required: false,
            ..Param::required(name, kind, doc)
        }
    }

    /// Restricts the values to `choices`; the host refuses any other.
    ///
    /// ```
    /// use taskhost_sdk::directive::{Param, ParamType};
    /// let p = Param::required("action", ParamType::String, "what to do").choices(&["download", "download_tag"]);
    /// assert_eq!(p.choices, ["download", "download_tag"]);
    /// ```
    pub fn choices(mut self, choices: &[&str]) -> Param {
        self.choices = choices.iter().map(|c| c.to_string()).collect();
        self
    }
}

impl Output {
    /// Nothing to export (JSON `null`).
    ///
    /// ```
    /// let out = taskhost_sdk::directive::Output::none();
    /// assert_eq!(out.value, "null");
    /// ```
    pub fn none() -> Output {
        Output {
            value: "null".to_string(),
            exit_code: None,
        }
    }

    /// `value` (serialized to JSON) is what `export:` receives. A value
    /// that cannot be serialized exports `null`.
    ///
    /// ```
    /// use taskhost_sdk::directive::Output;
    /// let out = Output::value(serde_json::json!({"downloaded_files": ["a.rpm"]}));
    /// assert_eq!(out.value, r#"{"downloaded_files":["a.rpm"]}"#);
    /// ```
    pub fn value(value: impl Serialize) -> Output {
        Output {
            value: serde_json::to_string(&value).unwrap_or_else(|_| "null".to_string()),
            exit_code: None,
        }
    }

    /// Asks runtask to exit with `code`; the worst code of a run wins.
    ///
    /// ```
    /// use taskhost_sdk::directive::Output;
    /// let out = Output::none().with_exit_code(1);
    /// assert_eq!(out.exit_code, Some(1));
    /// ```
    pub fn with_exit_code(mut self, code: u8) -> Output {
        self.exit_code = Some(code);
        self
    }
}

/// Checks that param `param` is an `http://` or `https://` URL; else an
/// [`Error::Invalid`](crate::Error::Invalid) naming the param. (The host
/// still checks the URL against the grants when it is used.)
///
/// ```
/// use taskhost_sdk::directive::http_url;
/// assert!(http_url("koji_url", "https://koji.fedoraproject.org/kojihub").is_ok());
/// assert!(http_url("koji_url", "ftp://example.org/").is_err());
/// ```
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
/// `/`. A path outside the workspace is an
/// [`Error::Invalid`](crate::Error::Invalid) naming the param.
///
/// ```
/// use taskhost_sdk::directive::{Context, Output, workspace_dir};
/// # use taskhost_sdk::directive::{Directive, DirectiveParams};
/// # #[derive(serde::Deserialize, DirectiveParams)]
/// # struct Params {
/// #     /// where
/// #     target_dir: String,
/// # }
/// # struct Fetch;
/// # impl Directive for Fetch {
/// #     type Params = Params;
/// #     const NAME: &'static str = "fetch";
/// #     const SUMMARY: &'static str = "fetch";
/// fn run(p: Params, _: &Context) -> taskhost_sdk::Result<Output> {
///     let dir = workspace_dir("target_dir", &p.target_dir)?;
///     Ok(Output::value(format!("{dir}/hello.rpm")))
/// }
/// # }
/// # use taskhost_sdk::testing::{FakeHost, context};
/// # let run = FakeHost::new().task_data(serde_json::json!({"target_dir": "rpms/"})).run_directive::<Fetch>(&context());
/// # assert_eq!(run.status, Ok(Output::value("rpms/hello.rpm")));
/// # let run = FakeHost::new().task_data(serde_json::json!({"target_dir": "../x"})).run_directive::<Fetch>(&context());
/// # assert!(run.status.is_err());
/// ```
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
            params: <D::Params as DirectiveParams>::params(),
            returns: D::RETURNS.to_string(),
            raises: D::RAISES.to_string(),
        }
    }

    /// One param, as `#[derive(DirectiveParams)]` declares it.
    pub fn param<T: ParamValue>(
        name: &str,
        kind: Option<ParamType>,
        default: Option<String>,
        optional: bool,
        choices: Option<&[&str]>,
        doc: &str,
    ) -> Param {
        Param {
            name: name.to_string(),
            type_: kind.unwrap_or(T::TYPE),
            required: default.is_none() && !optional && !T::OPTIONAL,
            default,
            choices: match choices {
                Some(list) => list.iter().map(|c| c.to_string()).collect(),
                None => T::choices(),
            },
            doc: doc.to_string(),
        }
    }

    /// A default, as JSON.
    pub fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
    }

    /// A variant's serde name, as `#[derive(ParamValue)]` lists choices.
    pub fn choice(value: &impl Serialize) -> Option<String> {
        match serde_json::to_value(value) {
            Ok(Value::String(s)) => Some(s),
            _ => None,
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
///
/// Like [`export_task!`](crate::export_task): `manifest` is a path
/// relative to the plugin crate's root, the SDK's
/// [`API_VERSION`](crate::API_VERSION) is stamped in too, the manifest is
/// checked when the crate is built (a mistake is a compile error naming
/// its line), and the export expands only when building for `wasm32`.
///
/// ```
/// use taskhost_sdk::directive::{Context, Directive, Output};
///
/// struct Noop;
/// impl Directive for Noop {
///     type Params = serde_json::Value;
///     const NAME: &'static str = "noop";
///     const SUMMARY: &'static str = "Does nothing";
///     fn run(_: serde_json::Value, _: &Context) -> taskhost_sdk::Result<Output> {
///         Ok(Output::none())
///     }
/// }
///
/// taskhost_sdk::export_directive!(Noop, manifest = "doc-manifests/echo.toml");
/// ```
#[macro_export]
macro_rules! export_directive {
    ($directive:ty, manifest = $manifest:literal) => {
        // A mistake in the manifest is a compile error naming its line.
        $crate::__check_manifest!($manifest);
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
