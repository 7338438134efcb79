//! `check_manifest!("taskhost.toml")`: the SDK's export macros check the
//! plugin's manifest when it is built. A mistake is a compile error that
//! names the file, line and column:
//! `taskhost.toml:7:1: unknown field `exex`, expected one of ...`.

use proc_macro::TokenStream;

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
