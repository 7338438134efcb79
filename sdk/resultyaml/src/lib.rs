//! Taskotron's ResultYAML and the outcome of a check, shared by the
//! taskhost host (reports, `--format resultyaml`) and the plugin SDK
//! (`xunit`, `dummy`, `resultsdb`, `exitcode`).
//!
//! ```yaml
//! results:
//!   - item: xchat-0.5-1.fc20
//!     type: koji_build
//!     outcome: PASSED
//!     note: 5 ERRORS, 10 WARNINGS
//!     checkname: dist.rpmlint
//!     artifact: xchat.log
//!     any_key: value        # a keyval: every other key, flattened
//! ```
//!
//! Reading follows libtaskotron's `check.import_YAML`: an absent outcome
//! reads as `NEEDS_INSPECTION`, `_internal` is ignored, and keyvals keep
//! whatever YAML value they hold (text, numbers, lists, mappings), as
//! `check.export_YAML` may write them. Writing quotes every text a YAML 1.1
//! reader (PyYAML, so libtaskotron and its tools) would take for something
//! else, such as `yes`, `1_000` or `2020-01-01`.
//!
//! ```
//! use taskhost_resultyaml::{self as resultyaml, CheckDetail, Outcome};
//!
//! let text = resultyaml::to_string(&[
//!     CheckDetail::new("xchat-0.5-1.fc20", "koji_build", "dist.rpmlint", Outcome::Failed)
//!         .note("5 ERRORS, 10 WARNINGS")
//!         .keyval("errors", 5),
//! ])?;
//! let details = resultyaml::parse(&text)?;
//! assert_eq!(resultyaml::worst(&details), Some(Outcome::Failed));
//! assert_eq!(details[0].keyvals["errors"], 5);
//! # Ok::<(), resultyaml::Error>(())
//! ```

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize};
/// A keyval's value: any YAML value, held as JSON (`serde_json::Value`).
///
/// ```
/// use taskhost_resultyaml::{CheckDetail, Outcome, Value};
/// let d = CheckDetail::new("x", "koji_build", "t", Outcome::Passed).keyval("arches", vec!["x86_64", "aarch64"]);
/// assert_eq!(d.keyvals["arches"], Value::from(vec!["x86_64", "aarch64"]));
/// ```
pub use serde_json::Value;

/// Keys with a meaning of their own; every other key of a result is a
/// keyval.
///
/// ```
/// assert!(taskhost_resultyaml::RESERVED_KEYS.contains(&"checkname"));
/// ```
pub const RESERVED_KEYS: [&str; 8] = [
    "item",
    "type",
    "outcome",
    "note",
    "results",
    "checkname",
    "artifact",
    "_internal",
];

/// Whether `key` is reserved in ResultYAML (see [`RESERVED_KEYS`]).
///
/// ```
/// use taskhost_resultyaml::is_reserved_key;
/// assert!(is_reserved_key("outcome"));
/// assert!(!is_reserved_key("errors"));
/// ```
pub fn is_reserved_key(key: &str) -> bool {
    RESERVED_KEYS.contains(&key)
}

/// Outcome of one check, as in libtaskotron and ResultsDB.
///
/// `Ord` goes from best (`Passed`) to worst (`Crashed`). ResultsDB also
/// knows `ERROR` and `WAIVED`; libtaskotron checks never emit them, so they
/// are refused like any other unknown value. It reads and writes as its
/// ResultYAML name ([`Outcome::as_str`]).
///
/// ```
/// use taskhost_resultyaml::Outcome;
/// let outcome: Outcome = "NEEDS_INSPECTION".parse()?;
/// assert!(outcome > Outcome::Failed && !outcome.is_ok());
/// assert_eq!(outcome.to_string(), "NEEDS_INSPECTION");
/// # Ok::<(), taskhost_resultyaml::UnknownOutcome>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// `PASSED`: the check found nothing wrong.
    Passed,
    /// `INFO`: nothing wrong, but something worth knowing.
    Info,
    /// `FAILED`: the check found problems.
    Failed,
    /// `NEEDS_INSPECTION`: a person must look (also what an entry without
    /// an outcome reads as).
    NeedsInspection,
    /// `ABORTED`: the check could not finish (an infrastructure problem).
    Aborted,
    /// `CRASHED`: the check itself crashed.
    Crashed,
}

impl Outcome {
    /// Every outcome, best to worst (the order of `Ord`).
    ///
    /// ```
    /// use taskhost_resultyaml::Outcome;
    /// assert_eq!(Outcome::ALL.first(), Some(&Outcome::Passed));
    /// assert_eq!(Outcome::ALL.iter().max(), Some(&Outcome::Crashed));
    /// ```
    pub const ALL: [Outcome; 6] = [
        Outcome::Passed,
        Outcome::Info,
        Outcome::Failed,
        Outcome::NeedsInspection,
        Outcome::Aborted,
        Outcome::Crashed,
    ];

    /// The ResultYAML name, e.g. `NEEDS_INSPECTION`.
    ///
    /// ```
    /// assert_eq!(taskhost_resultyaml::Outcome::NeedsInspection.as_str(), "NEEDS_INSPECTION");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "PASSED",
            Outcome::Info => "INFO",
            Outcome::Failed => "FAILED",
            Outcome::NeedsInspection => "NEEDS_INSPECTION",
            Outcome::Aborted => "ABORTED",
            Outcome::Crashed => "CRASHED",
        }
    }

    /// `PASSED` and `INFO`: nothing for a person to look at.
    ///
    /// ```
    /// use taskhost_resultyaml::Outcome;
    /// assert!(Outcome::Info.is_ok());
    /// assert!(!Outcome::Aborted.is_ok());
    /// ```
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Passed | Outcome::Info)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// An outcome name that is not one of [`Outcome::ALL`]; the message lists
/// the valid ones.
///
/// ```
/// use taskhost_resultyaml::{Outcome, UnknownOutcome};
/// let e = "passed".parse::<Outcome>().unwrap_err();
/// assert_eq!(e, UnknownOutcome("passed".into()));
/// assert!(e.to_string().starts_with("unknown outcome 'passed' (valid: PASSED, INFO"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown outcome '{0}' (valid: PASSED, INFO, FAILED, NEEDS_INSPECTION, ABORTED, CRASHED)")]
pub struct UnknownOutcome(
    /// The name given.
    pub String,
);

impl FromStr for Outcome {
    type Err = UnknownOutcome;

    /// The exact upper-case name (case-sensitive, as ResultsDB).
    fn from_str(s: &str) -> Result<Outcome, UnknownOutcome> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Outcome {
    /// The exact name; an error names the value and lists the valid ones.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// ResultYAML that could not be read or written. Its message says what
/// is wrong and where.
///
/// ```
/// use taskhost_resultyaml::{Error, parse};
/// assert_eq!(parse("  \n"), Err(Error::Empty));
/// let e = parse("results:\n- {item: x, outcome: BAD}\n").unwrap_err();
/// assert!(matches!(&e, Error::Invalid(m) if m.contains("results[0]") && m.contains("BAD")), "{e}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is empty (or only whitespace).
    #[error("the document is empty; ResultYAML is a mapping with a `results:` list")]
    Empty,
    /// Bad YAML or a bad structure; the message names the place
    /// (`results[2].outcome: …`) and the line.
    #[error("{0}")]
    Invalid(String),
    /// Writing: an entry has a keyval named like a reserved key.
    #[error(
        "results[{index}]: the keyval '{key}' has the name of a reserved ResultYAML key \
         ({}); rename it", RESERVED_KEYS.join(", ")
    )]
    ReservedKey {
        /// The entry's index in the list written.
        index: usize,
        /// The keyval's name.
        key: String,
    },
    /// Writing: the YAML writer failed.
    #[error("writing YAML: {0}")]
    Write(String),
}

/// One entry of `results:` (libtaskotron's `CheckDetail`).
///
/// `item`, `type` and `checkname` may be absent when reading; `resultsdb`
/// insists on them, `exitcode` does not.
///
/// ```
/// use taskhost_resultyaml::{CheckDetail, Outcome};
/// let d = CheckDetail::new("xchat-0.5-1.fc20", "koji_build", "dist.rpmlint", Outcome::Failed)
///     .note("5 ERRORS, 10 WARNINGS")
///     .artifact("rpmlint/xchat.log")
///     .keyval("errors", 5);
/// assert_eq!(d.item.as_deref(), Some("xchat-0.5-1.fc20"));
/// assert_eq!(d.keyvals["errors"], 5);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "DetailIn")]
pub struct CheckDetail {
    /// What was checked, e.g. `xchat-0.5-1.fc20`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// `type` in YAML, e.g. `koji_build`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub item_type: Option<String>,
    /// An absent outcome reads as `NEEDS_INSPECTION`.
    pub outcome: Outcome,
    /// A short human summary, e.g. `5 ERRORS, 10 WARNINGS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The check's name, e.g. `dist.rpmlint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkname: Option<String>,
    /// Where the details are, relative to the artifacts directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// Every other key, with its YAML value.
    #[serde(flatten)]
    pub keyvals: BTreeMap<String, Value>,
}

impl CheckDetail {
    /// A result of `checkname` for `item` of type `item_type`, with no
    /// note, artifact or keyvals.
    ///
    /// ```
    /// use taskhost_resultyaml::{CheckDetail, Outcome};
    /// let d = CheckDetail::new("xchat-0.5-1.fc20", "koji_build", "dist.rpmlint", Outcome::Passed);
    /// assert_eq!(d.item_type.as_deref(), Some("koji_build"));
    /// assert!(d.note.is_none() && d.keyvals.is_empty());
    /// ```
    pub fn new(
        item: impl Into<String>,
        item_type: impl Into<String>,
        checkname: impl Into<String>,
        outcome: Outcome,
    ) -> CheckDetail {
        CheckDetail {
            item: Some(item.into()),
            item_type: Some(item_type.into()),
            outcome,
            checkname: Some(checkname.into()),
            note: None,
            artifact: None,
            keyvals: BTreeMap::new(),
        }
    }

    /// A short summary such as `3 PASSED, 1 FAILED`.
    ///
    /// ```
    /// use taskhost_resultyaml::{CheckDetail, Outcome};
    /// let d = CheckDetail::new("x", "koji_build", "t", Outcome::Failed).note("3 PASSED, 1 FAILED");
    /// assert_eq!(d.note.as_deref(), Some("3 PASSED, 1 FAILED"));
    /// ```
    pub fn note(mut self, note: impl Into<String>) -> CheckDetail {
        self.note = Some(note.into());
        self
    }

    /// Where the details are, relative to the artifacts directory.
    ///
    /// ```
    /// use taskhost_resultyaml::{CheckDetail, Outcome};
    /// let d = CheckDetail::new("x", "koji_build", "t", Outcome::Failed).artifact("rpmlint/x.log");
    /// assert_eq!(d.artifact.as_deref(), Some("rpmlint/x.log"));
    /// ```
    pub fn artifact(mut self, artifact: impl Into<String>) -> CheckDetail {
        self.artifact = Some(artifact.into());
        self
    }

    /// An extra key with any value; a reserved one is refused by
    /// [`to_string`].
    ///
    /// ```
    /// use taskhost_resultyaml::{CheckDetail, Outcome};
    /// let d = CheckDetail::new("x", "koji_build", "t", Outcome::Passed)
    ///     .keyval("errors", 0)
    ///     .keyval("arch", "x86_64");
    /// assert_eq!(d.keyvals.len(), 2);
    /// ```
    pub fn keyval(mut self, key: impl Into<String>, value: impl Into<Value>) -> CheckDetail {
        self.keyvals.insert(key.into(), value.into());
        self
    }

    /// The keyvals as text: text as it is, null as "", anything else
    /// (numbers, lists, mappings) as JSON.
    ///
    /// ```
    /// use taskhost_resultyaml::{CheckDetail, Outcome};
    /// let d = CheckDetail::new("x", "koji_build", "t", Outcome::Passed)
    ///     .keyval("arch", "x86_64")
    ///     .keyval("errors", 3)
    ///     .keyval("tags", vec!["a", "b"]);
    /// let text: Vec<_> = d.text_keyvals().collect();
    /// assert_eq!(text, [("arch", "x86_64".to_string()), ("errors", "3".into()), ("tags", r#"["a","b"]"#.into())]);
    /// ```
    pub fn text_keyvals(&self) -> impl Iterator<Item = (&str, String)> {
        self.keyvals.iter().map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.as_str(), text)
        })
    }
}

// What a result may hold when read; scalars in the named keys become text.
#[derive(Deserialize)]
struct DetailIn {
    #[serde(default, deserialize_with = "text")]
    item: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "text")]
    item_type: Option<String>,
    #[serde(default, deserialize_with = "outcome")]
    outcome: Option<Outcome>,
    #[serde(default, deserialize_with = "text")]
    note: Option<String>,
    #[serde(default, deserialize_with = "text")]
    checkname: Option<String>,
    #[serde(default, deserialize_with = "text")]
    artifact: Option<String>,
    #[serde(default, rename = "_internal")]
    _internal: Option<IgnoredAny>,
    #[serde(default, rename = "results")]
    _results: Option<IgnoredAny>,
    #[serde(flatten)]
    keyvals: BTreeMap<String, Value>,
}

impl From<DetailIn> for CheckDetail {
    fn from(d: DetailIn) -> CheckDetail {
        CheckDetail {
            item: d.item,
            item_type: d.item_type,
            outcome: d.outcome.unwrap_or(Outcome::NeedsInspection),
            note: d.note,
            checkname: d.checkname,
            artifact: d.artifact,
            keyvals: d.keyvals,
        }
    }
}

/// An outcome, or null; the error names the key (the path of an entry
/// with keyvals ends at the entry).
fn outcome<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Outcome>, D::Error> {
    use serde::de::Error as _;
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|e| D::Error::custom(format!("outcome: {e}"))),
    }
}

/// A scalar as text (`item: 1.0` is the item "1.0"); null is absent.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error as _;
    match serde_norway::Value::deserialize(d)? {
        serde_norway::Value::Null => Ok(None),
        serde_norway::Value::String(s) => Ok(Some(s)),
        serde_norway::Value::Bool(b) => Ok(Some(b.to_string())),
        serde_norway::Value::Number(n) => Ok(Some(n.to_string())),
        serde_norway::Value::Sequence(_) => Err(D::Error::custom("expected text, found a list")),
        serde_norway::Value::Mapping(_) => Err(D::Error::custom("expected text, found a mapping")),
        serde_norway::Value::Tagged(_) => {
            Err(D::Error::custom("expected text, found a tagged value"))
        }
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a mapping with a `results:` list")]
struct DocumentIn {
    #[serde(deserialize_with = "nullable_list")]
    results: Vec<CheckDetail>,
}

/// `results:` with nothing after it is an empty list, as in libtaskotron.
fn nullable_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CheckDetail>, D::Error> {
    Ok(Option::<Vec<CheckDetail>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Serialize)]
struct DocumentOut<'a> {
    results: &'a [CheckDetail],
}

/// The worst outcome of `details` (`None` when there are none).
///
/// ```
/// use taskhost_resultyaml::{CheckDetail, Outcome, worst};
/// let details = [
///     CheckDetail::new("a", "koji_build", "t", Outcome::Passed),
///     CheckDetail::new("b", "koji_build", "t", Outcome::Failed),
/// ];
/// assert_eq!(worst(&details), Some(Outcome::Failed));
/// assert_eq!(worst(&[]), None);
/// ```
pub fn worst(details: &[CheckDetail]) -> Option<Outcome> {
    details.iter().map(|d| d.outcome).max()
}

/// Reads ResultYAML: a mapping whose `results:` key holds a list (null or
/// empty: no results). Other top-level keys are ignored. Empty text is
/// [`Error::Empty`]; anything else that is not ResultYAML is
/// [`Error::Invalid`], naming the entry and key.
///
/// ```
/// use taskhost_resultyaml::{Outcome, parse};
/// let details = parse("results:\n  - item: xchat-0.5-1.fc20\n    type: koji_build\n    outcome: PASSED\n    errors: 0\n")?;
/// assert_eq!(details[0].outcome, Outcome::Passed);
/// assert_eq!(details[0].keyvals["errors"], 0);
/// assert_eq!(parse("results:\n")?, []);
/// # Ok::<(), taskhost_resultyaml::Error>(())
/// ```
pub fn parse(text: &str) -> Result<Vec<CheckDetail>, Error> {
    if text.trim().is_empty() {
        return Err(Error::Empty);
    }
    let doc: DocumentIn = serde_norway::from_str(text)
        .map_err(|e| Error::Invalid(format!("not valid ResultYAML: {e}")))?;
    Ok(doc.results)
}

/// Writes ResultYAML (a `results:` list), quoting every text a YAML 1.1
/// reader would take for something else. A keyval named like a reserved
/// key is [`Error::ReservedKey`].
///
/// ```
/// use taskhost_resultyaml::{CheckDetail, Error, Outcome, to_string};
/// let d = CheckDetail::new("hello", "koji_build", "t", Outcome::Passed).note("yes");
/// let text = to_string(&[d.clone()])?;
/// assert!(text.starts_with("results:\n"));
/// assert!(text.contains("note: 'yes'"), "{text}");
/// let bad = d.keyval("outcome", "PASSED");
/// assert!(matches!(to_string(&[bad]), Err(Error::ReservedKey { index: 0, .. })));
/// # Ok::<(), Error>(())
/// ```
pub fn to_string(details: &[CheckDetail]) -> Result<String, Error> {
    for (index, d) in details.iter().enumerate() {
        if let Some(key) = d.keyvals.keys().find(|k| is_reserved_key(k)) {
            return Err(Error::ReservedKey {
                index,
                key: key.clone(),
            });
        }
    }
    let mut quoted = Quoted::new(details);
    let marked: Vec<CheckDetail> = details.iter().map(|d| quoted.detail(d)).collect();
    let text = serde_norway::to_string(&DocumentOut { results: &marked })
        .map_err(|e| Error::Write(e.to_string()))?;
    Ok(quoted.apply(text))
}

/// serde_norway writes YAML 1.2, where `yes`, `1_000` or `2020-01-01` are
/// text and stay plain; PyYAML reads them as a boolean, a number or a date.
/// Such texts are swapped for unique plain tokens before writing and for
/// their single-quoted form after.
struct Quoted {
    token: String,
    words: Vec<String>,
}

impl Quoted {
    fn new(details: &[CheckDetail]) -> Quoted {
        let mut token = String::from("taskhostquoted");
        while details.iter().any(|d| mentions(d, &token)) {
            token.push('q');
        }
        Quoted {
            token,
            words: Vec::new(),
        }
    }

    fn detail(&mut self, d: &CheckDetail) -> CheckDetail {
        CheckDetail {
            item: d.item.as_deref().map(|s| self.mark(s)),
            item_type: d.item_type.as_deref().map(|s| self.mark(s)),
            outcome: d.outcome,
            note: d.note.as_deref().map(|s| self.mark(s)),
            checkname: d.checkname.as_deref().map(|s| self.mark(s)),
            artifact: d.artifact.as_deref().map(|s| self.mark(s)),
            keyvals: d
                .keyvals
                .iter()
                .map(|(k, v)| (self.mark(k), self.value(v)))
                .collect(),
        }
    }

    fn value(&mut self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.mark(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.value(v)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (self.mark(k), self.value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// `s`, or a token standing for it when a YAML 1.1 reader might take
    /// it for something other than text.
    fn mark(&mut self, s: &str) -> String {
        if !yaml11_ambiguous(s) {
            return s.to_owned();
        }
        self.words.push(s.to_owned());
        format!("{}{}x", self.token, self.words.len() - 1)
    }

    /// One pass over `text`, each token replaced by its quoted word.
    fn apply(&self, text: String) -> String {
        if self.words.is_empty() {
            return text;
        }
        let mut out = String::with_capacity(text.len() + 2 * self.words.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find(&self.token) {
            out.push_str(&rest[..at]);
            let after = &rest[at + self.token.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let word = after[..digits]
                .parse::<usize>()
                .ok()
                .filter(|_| after[digits..].starts_with('x'))
                .and_then(|i| self.words.get(i));
            match word {
                Some(word) => {
                    out.push('\'');
                    out.push_str(&word.replace('\'', "''"));
                    out.push('\'');
                    rest = &after[digits + 1..];
                }
                // Not ours (the token never occurs in the input, so this
                // does not happen); keep the text as it is.
                None => {
                    out.push_str(&self.token);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn mentions(d: &CheckDetail, token: &str) -> bool {
    fn in_value(v: &Value, token: &str) -> bool {
        match v {
            Value::String(s) => s.contains(token),
            Value::Array(a) => a.iter().any(|v| in_value(v, token)),
            Value::Object(m) => m
                .iter()
                .any(|(k, v)| k.contains(token) || in_value(v, token)),
            _ => false,
        }
    }
    [&d.item, &d.item_type, &d.note, &d.checkname, &d.artifact]
        .into_iter()
        .flatten()
        .any(|s| s.contains(token))
        || d.keyvals
            .iter()
            .any(|(k, v)| k.contains(token) || in_value(v, token))
}

/// Whether a plain scalar `s` could resolve to a non-text value under
/// YAML 1.1 (booleans, null, numbers in any base or with `_` or `:`,
/// dates, `=`, `<<`, `.inf`). Errs on the side of quoting; texts with line breaks
/// or other control characters are left to serde_norway, which writes
/// them double-quoted or as a block, both read as text.
fn yaml11_ambiguous(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "=", "<<", ".inf",
        "-.inf", "+.inf", ".nan",
    ];
    if s.chars().any(char::is_control) {
        return false;
    }
    let Some(first) = s.chars().next() else {
        return false;
    };
    // Numbers, sexagesimals and timestamps use only these characters.
    let numberish = |c: char| c.is_ascii_hexdigit() || " _:.+-xXoObBtTzZ".contains(c);
    ((first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) && s.chars().all(numberish))
        || WORDS.contains(&s.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests;
