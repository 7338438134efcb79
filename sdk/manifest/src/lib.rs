//! The taskhost plugin manifest, `taskhost.toml`: what a plugin declares
//! it needs (every key: `docs/manifest.md` in the taskhost repository).
//! The host reads it from the `.wasm`; the SDK's export macros check it
//! when the plugin is built, so a mistake names its line:
//!
//! ```
//! let e = taskhost_manifest::check("name = \"x\"\nversion = \"1\"\nkind = \"task\"\nexex = []\n")
//!     .unwrap_err();
//! assert_eq!((e.line, e.column), (4, 1));
//! assert!(e.message.starts_with("unknown field `exex`"), "{e}");
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

/// Task plugins export `task`; directive plugins export `directive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A debusine-style task, run with `runtask run`.
    Task,
    /// A step of a Taskotron-style task formula.
    Directive,
}

/// One task_data key that names an input artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Input {
    /// Dotted path in task_data, e.g. `input.artifact`.
    pub key: String,
    /// Accepted categories; a local file is imported as the first one.
    pub categories: Vec<String>,
    /// The key holds a list of artifacts.
    #[serde(default)]
    pub multiple: bool,
}

/// What a plugin declares in `taskhost.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// Its name: policy tables, logs and reports show it.
    pub name: String,
    /// Its version.
    pub version: String,
    /// One line saying what it does.
    #[serde(default)]
    pub summary: String,
    /// Task or directive.
    pub kind: Kind,
    /// Debian packages providing the programs it runs.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Backends it may open (alternatives).
    #[serde(default)]
    pub backends: Vec<String>,
    /// Exec patterns (`*` one argument, trailing `**` the rest).
    #[serde(default)]
    pub exec: Vec<String>,
    /// Environment variables it may set or pass to commands.
    #[serde(default)]
    pub env: Vec<String>,
    /// URL prefixes it may reach.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Store lookups it may make (`debian/match:*`, `*@debian:suite`).
    #[serde(default)]
    pub lookups: Vec<String>,
    /// Collections it may add items to or remove items from
    /// (`*@debian:suite-lintian`).
    #[serde(default)]
    pub collections: Vec<String>,
    /// Tasks it may submit as child runs (`lintian`).
    #[serde(default)]
    pub submit: Vec<String>,
    /// Artifact categories it may create.
    #[serde(default)]
    pub creates: Vec<String>,
    /// task_data keys holding input artifacts.
    #[serde(default)]
    pub inputs: Vec<Input>,
}

/// A mistake in a manifest, where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for Problem {}

/// Parses and checks a manifest: its keys and types, the name, and the
/// shape of each exec pattern. (The host checks URL and lookup patterns
/// when it loads the plugin, and again decides every call.)
pub fn check(text: &str) -> Result<Manifest, Problem> {
    let manifest: Manifest = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        problem(text, at, e.message().trim_end().to_owned())
    })?;
    let at = |needle: &str| text.find(needle).unwrap_or(0);
    if let Err(message) = check_name(&manifest.name) {
        return Err(problem(text, at("name"), message));
    }
    for pattern in &manifest.exec {
        if let Err(message) = check_exec(pattern) {
            let quoted = toml::Value::String(pattern.clone()).to_string();
            return Err(problem(text, at(&quoted), message));
        }
    }
    for input in &manifest.inputs {
        if input.categories.is_empty() {
            let quoted = toml::Value::String(input.key.clone()).to_string();
            return Err(problem(
                text,
                at(&quoted),
                format!(
                    "[[inputs]] `{}`: categories is empty: give at least one",
                    input.key
                ),
            ));
        }
    }
    Ok(manifest)
}

/// A plugin name: plain (`[a-z0-9][a-z0-9._-]*`, at most 64 bytes).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name {name:?}: a plugin name is 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
        ))
    }
}

/// The shape of an exec pattern: shell words, a literal program (or the
/// whole `* **`), `**` only last.
fn check_exec(pattern: &str) -> Result<(), String> {
    let tokens =
        shell_words::split(pattern).map_err(|e| format!("exec pattern {pattern:?}: {e}"))?;
    if tokens == ["*", "**"] {
        return Ok(());
    }
    let bad = |why: &str| Err(format!("exec pattern {pattern:?}: {why}"));
    match tokens.first().map(String::as_str) {
        None => return bad("the pattern is empty"),
        Some("*" | "**") => {
            return bad("the program (first token) must be literal, not a wildcard");
        }
        Some("") => return bad("the program (first token) is empty"),
        Some(_) => {}
    }
    if tokens.iter().rev().skip(1).any(|t| t == "**") {
        return bad("`**` is only allowed as the last token");
    }
    Ok(())
}

fn problem(text: &str, offset: usize, message: String) -> Problem {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Problem {
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str =
        "name = \"blhc\"\nversion = \"0.1.0\"\nkind = \"task\"\nexec = [\"blhc --debian **\"]\n";

    #[test]
    fn a_good_manifest_passes() {
        assert_eq!(check(OK).map(|m| m.name), Ok("blhc".to_owned()));
    }

    #[test]
    fn each_mistake_names_its_line() {
        let cases = [
            (
                format!("{OK}backends = \"local\"\n"),
                5,
                "invalid type: string \"local\", expected a sequence",
            ),
            (
                format!("{OK}[[inputs]]\nkey = \"input\"\ncategories = []\n"),
                6,
                "[[inputs]] `input`: categories is empty",
            ),
            (
                OK.replace("blhc --debian **", "blhc ** --debian"),
                4,
                "exec pattern \"blhc ** --debian\": `**` is only allowed as the last token",
            ),
            (
                OK.replace("kind = \"task\"", "kind = \"taks\""),
                3,
                "unknown variant `taks`",
            ),
            (
                OK.replace("name = \"blhc\"", "name = \"Blhc\""),
                1,
                "name \"Blhc\": a plugin name is",
            ),
            (
                OK.replace("version = \"0.1.0\"\n", ""),
                1,
                "missing field `version`",
            ),
        ];
        for (text, line, starts) in cases {
            let e = check(&text).unwrap_err();
            assert_eq!(e.line, line, "{e}\n{text}");
            assert!(e.message.starts_with(starts), "{e}");
        }
    }
}
