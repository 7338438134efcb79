//! Macros of `taskhost-sdk`; use them through the SDK.
//!
//! - `check_manifest!("taskhost.toml")`: the SDK's export macros check the
//!   plugin's manifest when it is built. A mistake is a compile error that
//!   names the file, line and column:
//!   `taskhost.toml:7:1: unknown field `exex`, expected one of ...`.
//! - `#[derive(DirectiveParams)]`: a directive's params, declared once on
//!   the serde struct that decodes them.
//! - `#[derive(ParamValue)]`: an enum of unit variants as a string param
//!   whose choices are the variants' serde names.

use proc_macro::TokenStream;

mod params;

/// Checks the manifest at `path` (a string literal, relative to the
/// crate's root); expands to nothing, or to a `compile_error!`.
#[proc_macro]
pub fn check_manifest(input: TokenStream) -> TokenStream {
    let literal = input.to_string();
    let path = literal.trim().trim_matches('"');
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let file = std::path::Path::new(&dir).join(path);
    let error = match std::fs::read_to_string(&file) {
        Err(e) => Some(format!("{}: {e}", file.display())),
        Ok(text) => taskhost_manifest::check(&text)
            .err()
            .map(|p| format!("{path}:{p}")),
    };
    match error {
        Some(message) => format!("compile_error!({message:?});")
            .parse()
            .unwrap_or_default(),
        None => TokenStream::new(),
    }
}

/// Implements `taskhost_sdk::directive::DirectiveParams` for a struct
/// with named fields; see that trait for the attributes.
#[proc_macro_derive(DirectiveParams, attributes(param))]
pub fn derive_directive_params(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    params::directive_params(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `taskhost_sdk::directive::ParamValue` for an enum of unit
/// variants: a string param whose choices are the variants' serde names
/// (the enum must derive `Serialize` too).
#[proc_macro_derive(ParamValue)]
pub fn derive_param_value(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    params::param_value(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
