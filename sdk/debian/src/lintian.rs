//! lintian's output and debusine's debian:lintian artifacts, for the
//! lintian plugin. lintian runs as debusine's Lintian task runs it:
//!
//! ```text
//! lintian --no-cfg --display-level ">=classification" --display-experimental \
//!         --info --show-overrides [--tags=a,b] [--suppress-tags=c,d] FILES
//! ```
//!
//! [`parse`] reads its output: plain Rust, one pass over the text, no
//! regular expressions, linear in the size of the input. [`Inputs`],
//! [`split`] and [`Summary`] turn the tags into one analysis per
//! architecture; [`installed_version`] is the only helper that runs a
//! command.
//!
//! # The format (lintian 2.116, checked against real runs; see
//! plugins/lintian/testdata/)
//!
//! A hint line is `C: PACKAGE[ TYPE]: TAG[ CONTEXT]`:
//!
//! * `C` is the code: `E` error, `W` warning, `I` info, `P` pedantic,
//!   `X` experimental, `O` overridden, `C` classification, `M` masked.
//!   Masked hints (silenced by one of lintian's "screens", e.g.
//!   `autotools/long-lines` for a long line in `./configure`) are dropped
//!   here together with their `N:` lines, as debusine does.
//! * `TYPE` is lintian's processable type: `source`, `udeb`, `changes`,
//!   `buildinfo`; it is absent for binary `.deb` packages. It is kept in
//!   [`Tag::package_type`] (empty for a `.deb`), and [`Tag::package`] is the
//!   bare name, which is what debusine's `analysis.json` holds.
//! * `CONTEXT` is the hint's note, then for a hint about a file or a line
//!   the pointer in brackets: `NOTE [POINTER]` or just `[POINTER]`
//!   (lintian's `Hint::Pointed::context`). The pointer is a file name with
//!   an optional `:LINE` (`[debian/control:5]`, `[usr/bin/hello]`). Notes
//!   may themselves contain brackets and colons:
//!   `W: p source: mismatched-override some-tag * [src/missing.txt:*]
//!   [debian/source/lintian-overrides:5]` has the note
//!   `some-tag * [src/missing.txt:*]`. File names may contain brackets and
//!   spaces too (`[src/data [v2].txt:2]`, `[src/odd].txt:1]`). So the
//!   pointer is the bracketed group that ends the line: from the final `]`
//!   back to the `[` that balances it, which must start the context or
//!   follow a space; when the brackets do not balance (`odd].txt`), the
//!   last ` [` is taken instead. Lintian's output cannot tell a note that
//!   merely ends in `[...]` (a hint without pointer) from a pointer; such
//!   notes are rare and would be split the same way.
//!
//! With `--info`, lintian prints a bare `N:` line before every hint, and
//! after the *first* hint of each tag name in the whole run (not per
//! package) the tag's description:
//!
//! ```text
//! N:
//! W: hello: no-manual-page [usr/bin/hello]
//! N: ␠
//! N:   Each binary in /usr/bin, /usr/sbin, /bin, /sbin or /usr/games should have
//! N:   ␠
//! N:   Visibility: warning
//! N: ␠
//! ```
//!
//! (`␠` marks a trailing space: the bare separator is `N:`, a blank
//! description line `N: `.) Description lines are indented (`N:` and at
//! least two more spaces) or blank. Later hints of the same tag have no description, so their
//! [`Tag::explanation`] is empty ([`fill_missing_explanations`] copies it).
//!
//! An override comment (the `#` lines above the override in
//! `debian/source/lintian-overrides` or `debian/PKG.lintian-overrides`)
//! comes *before* the `O:` line, after the bare `N:`, as unindented
//! `N: text` lines (also without `--info`): lintian joins the comment lines
//! with single spaces and wraps the result to 80 columns, `N: ` included.
//! Only comments directly above an override
//! count; an override right below an override of the same tag without a
//! comment of its own (no blank line between) inherits the comment above.
//! A masked hint has `N: masked by screen NAME` in the same place. The
//! parser attaches unindented `N:` lines to the next hint as its
//! [`Tag::comment`], lines joined with `\n` like debusine does.
//!
//! Explanations are stored like debusine does too: each line without `N:`
//! and trimmed, joined with `\n`, leading and trailing blank lines dropped.
//!
//! Lines that are none of these (empty lines, anything else) are ignored
//! and change nothing. Lintian writes its complaints (e.g. `running with
//! root privileges is not recommended!`) to stderr, not stdout.
//!
//! # Differences from debusine's `Lintian._parse_output`
//!
//! Run on the fixtures, debusine's regular expressions (a) ignore hints of
//! `changes`, `buildinfo` and `udeb` packages and hand their descriptions
//! to the next hint as its comment, (b) cut notes at the first `[` and take
//! the pointer from the last `[` (`v2].txt:2` for `[src/data [v2].txt:2]`),
//! and (c) start a comment only after two `N:` lines in a row, so the
//! comment of a hint that follows a hint without description ends up in
//! the explanation of that previous hint. This parser does none of that;
//! for output without those cases the tags are the same.

use std::collections::BTreeMap;
use taskhost_sdk::{ArtifactId, Command, Environment, Error, Result};

/// A lintian severity, most severe first (so `Error < Warning`): the SDK's.
pub use taskhost_sdk::severity::Severity;

/// The severity of a hint line's code letter. `M` (masked) and anything
/// else give `None`.
pub fn severity_from_code(code: char) -> Option<Severity> {
    Some(match code {
        'E' => Severity::Error,
        'W' => Severity::Warning,
        'I' => Severity::Info,
        'P' => Severity::Pedantic,
        'X' => Severity::Experimental,
        'O' => Severity::Overridden,
        'C' => Severity::Classification,
        _ => return None,
    })
}

/// The code letter lintian prints for `severity`.
pub fn severity_code(severity: Severity) -> char {
    match severity {
        Severity::Error => 'E',
        Severity::Warning => 'W',
        Severity::Info => 'I',
        Severity::Pedantic => 'P',
        Severity::Experimental => 'X',
        Severity::Overridden => 'O',
        Severity::Classification => 'C',
    }
}

/// One hint of lintian's output. Serializes to exactly the fields of a tag
/// in debusine's analysis.json.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tag {
    pub tag: String,
    pub severity: Severity,
    /// The package name, without the type (`hello`, not `hello source`).
    pub package: String,
    pub note: String,
    /// The file (and `:line`) the hint is about, without the brackets.
    pub pointer: String,
    /// The tag's description; only on the first hint of each tag name.
    pub explanation: String,
    /// The override comment (overridden hints only).
    pub comment: String,
    /// Lintian's processable type as printed after the package name:
    /// `source`, `udeb`, `changes`, `buildinfo`; empty for a binary `.deb`.
    /// Not part of analysis.json.
    #[serde(skip)]
    pub package_type: String,
}

/// Splits a hint line's package field into name and type:
/// `"hello source"` → `("hello", "source")`, `"hello"` → `("hello", "")`.
pub fn parse_package_type(field: &str) -> (&str, &str) {
    match field.split_once(' ') {
        Some((name, kind)) => (name, kind),
        None => (field, ""),
    }
}

/// Splits a hint's context (what follows the tag name) into note and
/// pointer, by the rules in the module documentation.
pub fn split_pointer(context: &str) -> (&str, &str) {
    let context = context.trim();
    let Some(inner_end) = context
        .len()
        .checked_sub(1)
        .filter(|_| context.ends_with(']'))
    else {
        return (context, "");
    };
    let bytes = context.as_bytes();
    let starts_group = |i: usize| i == 0 || bytes[i - 1] == b' ';
    // The '[' that balances the final ']'.
    let mut depth = 0usize;
    let mut open = None;
    for i in (0..bytes.len()).rev() {
        match bytes[i] {
            b']' => depth += 1,
            b'[' => {
                depth -= 1;
                if depth == 0 {
                    open = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let open = match open.filter(|&i| starts_group(i)) {
        Some(i) => Some(i),
        // Unbalanced: the last " [" (or a leading "[").
        None => context
            .rfind(" [")
            .map(|i| i + 1)
            .or_else(|| context.starts_with('[').then_some(0)),
    };
    match open {
        Some(i) => (context[..i].trim_end(), &context[i + 1..inner_end]),
        None => (context, ""),
    }
}

/// A parsed hint line.
struct Hint<'a> {
    code: char,
    package: &'a str,
    package_type: &'a str,
    tag: &'a str,
    context: &'a str,
}

/// `C: PACKAGE[ TYPE]: TAG[ CONTEXT]`, or `None` for any other line.
fn parse_hint_line(line: &str) -> Option<Hint<'_>> {
    let bytes = line.as_bytes();
    if bytes.len() < 4 || bytes[1] != b':' || bytes[2] != b' ' {
        return None;
    }
    let code = bytes[0] as char;
    if !matches!(code, 'E' | 'W' | 'I' | 'P' | 'X' | 'O' | 'C' | 'M') {
        return None;
    }
    let (field, rest) = line[3..].split_once(": ")?;
    let (package, package_type) = parse_package_type(field);
    if package.is_empty()
        || package_type.contains(' ')
        || (field.contains(' ') && package_type.is_empty())
    {
        return None;
    }
    let (tag, context) = match rest.split_once(' ') {
        Some((tag, context)) => (tag, context),
        None => (rest, ""),
    };
    if tag.is_empty() {
        return None;
    }
    Some(Hint {
        code,
        package,
        package_type,
        tag,
        context,
    })
}

/// What the `N:` lines after the last hint line are taken for.
#[derive(PartialEq)]
enum State {
    /// The description of the last kept tag.
    Explanation,
    /// The description of a dropped (masked) hint, or no hint yet.
    Discard,
    /// The comment of the next hint (an unindented `N:` line was seen).
    Comment,
}

/// Appends a description line; blank lines only once text has started.
fn push_line(buffer: &mut String, text: &str) {
    if buffer.is_empty() {
        if !text.is_empty() {
            buffer.push_str(text);
        }
    } else {
        buffer.push('\n');
        buffer.push_str(text);
    }
}

fn finish(text: &mut String) {
    let end = text.trim_end().len();
    text.truncate(end);
}

/// The tag whose description is being read, if any.
fn described<'a>(tags: &'a mut [Tag], state: &State) -> Option<&'a mut Tag> {
    match state {
        State::Explanation => tags.last_mut(),
        _ => None,
    }
}

/// Parses lintian's output; ignores lines it does not know (but keeps going).
pub fn parse(output: &str) -> Vec<Tag> {
    let mut tags: Vec<Tag> = Vec::new();
    let mut state = State::Discard;
    let mut comment = String::new();

    for line in output.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(body) = line.strip_prefix("N:") {
            let text = body.trim();
            if text.is_empty() {
                // A blank description line, or the bare `N:` before a hint.
                if let Some(tag) = described(&mut tags, &state) {
                    push_line(&mut tag.explanation, "");
                }
            } else if body.starts_with("  ") && state != State::Comment {
                if let Some(tag) = described(&mut tags, &state) {
                    push_line(&mut tag.explanation, text);
                }
            } else {
                if let Some(tag) = described(&mut tags, &state) {
                    finish(&mut tag.explanation);
                }
                state = State::Comment;
                push_line(&mut comment, text);
            }
            continue;
        }
        let Some(hint) = parse_hint_line(line) else {
            continue;
        };
        if let Some(tag) = described(&mut tags, &state) {
            finish(&mut tag.explanation);
        }
        match severity_from_code(hint.code) {
            Some(severity) => {
                let (note, pointer) = split_pointer(hint.context);
                tags.push(Tag {
                    tag: hint.tag.to_string(),
                    severity,
                    package: hint.package.to_string(),
                    note: note.to_string(),
                    pointer: pointer.to_string(),
                    explanation: String::new(),
                    comment: std::mem::take(&mut comment),
                    package_type: hint.package_type.to_string(),
                });
                state = State::Explanation;
            }
            None => {
                // Masked: drop the hint and its `N:` lines before and after.
                comment.clear();
                state = State::Discard;
            }
        }
    }
    if let Some(tag) = described(&mut tags, &state) {
        finish(&mut tag.explanation);
    }
    tags
}

/// Counts per severity (all 7 keys present, zero included), like debusine's
/// tags_count_by_severity.
pub fn count_by_severity(tags: &[Tag]) -> BTreeMap<Severity, usize> {
    let mut counts: BTreeMap<Severity, usize> = Severity::ALL.into_iter().map(|s| (s, 0)).collect();
    for tag in tags {
        *counts.entry(tag.severity).or_default() += 1;
    }
    counts
}

fn sorted_names<'a>(tags: impl Iterator<Item = &'a Tag>) -> Vec<String> {
    let mut names: Vec<&str> = tags.map(|t| t.tag.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().map(str::to_string).collect()
}

/// Sorted unique tag names of non-overridden tags.
pub fn tags_found(tags: &[Tag]) -> Vec<String> {
    sorted_names(tags.iter().filter(|t| t.severity != Severity::Overridden))
}

/// Sorted unique tag names of overridden tags.
pub fn overridden_tags_found(tags: &[Tag]) -> Vec<String> {
    sorted_names(tags.iter().filter(|t| t.severity == Severity::Overridden))
}

/// "2 errors, 5 warnings" style note: most severe first, zero counts left
/// out, "no tags" when there are none. `error`, `warning` and
/// `classification` take a plural `s`; the other names are adjectives
/// ("3 info", "1 pedantic", "2 overridden").
pub fn summary_note(tags: &[Tag]) -> String {
    let parts: Vec<String> = count_by_severity(tags)
        .into_iter()
        // Classification tags are facts, not findings: not in the note.
        .filter(|&(severity, n)| n > 0 && severity != Severity::Classification)
        .map(|(severity, n)| {
            let plural = n != 1 && matches!(severity, Severity::Error | Severity::Warning);
            format!("{n} {}{}", severity.as_str(), if plural { "s" } else { "" })
        })
        .collect();
    if parts.is_empty() {
        "no tags".to_string()
    } else {
        parts.join(", ")
    }
}

/// Gives every tag without explanation the explanation of the first tag of
/// the same name (lintian describes a tag only once per run, so after
/// splitting tags per package the description may be elsewhere). debusine
/// does not do this; call it only if that is wanted.
pub fn fill_missing_explanations(tags: &mut [Tag]) {
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    for tag in tags.iter() {
        if !tag.explanation.is_empty() && !known.contains_key(&tag.tag) {
            known.insert(tag.tag.clone(), tag.explanation.clone());
        }
    }
    for tag in tags.iter_mut().filter(|t| t.explanation.is_empty()) {
        if let Some(text) = known.get(&tag.tag) {
            tag.explanation = text.clone();
        }
    }
}

// ---- the task's inputs, analyses and artifacts ------------------------

/// `NAME_VERSION_ARCH.deb` (or `.udeb`) → (name, version, arch).
pub fn deb_name(file: &str) -> Option<(String, String, String)> {
    let base = file.rsplit('/').next()?;
    let stem = base
        .strip_suffix(".deb")
        .or_else(|| base.strip_suffix(".udeb"))?;
    let mut parts = stem.splitn(3, '_');
    Some((
        parts.next()?.to_string(),
        parts.next()?.to_string(),
        parts.next()?.to_string(),
    ))
}

/// What lintian looks at, and which artifact each file came from.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The files, in the order lintian gets them.
    pub files: Vec<String>,
    /// Source package: (name, version, artifact).
    pub source: Option<(String, String, ArtifactId)>,
    /// Binary package name → (architecture, file name, artifact, version).
    pub binaries: BTreeMap<String, (String, String, ArtifactId, String)>,
}

impl Inputs {
    /// Takes `path`, a file of the source artifact `id`, if it is a `.dsc`.
    pub fn add_source(&mut self, path: String, id: ArtifactId) {
        if let Some(stem) = path.rsplit('/').next().and_then(|f| f.strip_suffix(".dsc")) {
            let (name, version) = stem.split_once('_').unwrap_or((stem, ""));
            self.source = Some((name.to_string(), version.to_string(), id));
            self.files.push(path);
        }
    }

    /// Takes `path`, a file of the binary artifact `id`, if it is a `.deb`
    /// or a `.udeb`.
    pub fn add_binary(&mut self, path: String, id: ArtifactId) {
        if let Some((name, version, arch)) = deb_name(&path) {
            let file = path.rsplit('/').next().unwrap_or(&path).to_string();
            self.binaries.insert(name, (arch, file, id, version));
            self.files.push(path);
        }
    }

    /// The version of `package` as analysed in `architecture` (empty if
    /// unknown).
    pub fn version(&self, architecture: &str, package: &str) -> String {
        match (architecture, &self.source, self.binaries.get(package)) {
            ("source", Some((_, version, _)), _) => version.clone(),
            (_, _, Some((.., version))) => version.clone(),
            _ => String::new(),
        }
    }
}

/// Which debian:lintian artifacts to make: the task_data's `output`.
#[derive(Debug, serde::Deserialize)]
pub struct Output {
    #[serde(default = "yes")]
    pub source_analysis: bool,
    #[serde(default = "yes")]
    pub binary_all_analysis: bool,
    #[serde(default = "yes")]
    pub binary_any_analysis: bool,
}

fn yes() -> bool {
    true
}

impl Default for Output {
    fn default() -> Self {
        Output {
            source_analysis: true,
            binary_all_analysis: true,
            binary_any_analysis: true,
        }
    }
}

/// One analysed architecture: `source`, `all` or a concrete one (`any`).
#[derive(Debug, Default)]
pub struct Analysis {
    pub tags: Vec<Tag>,
    /// Package name → the file lintian analysed.
    pub package_filename: BTreeMap<String, String>,
    /// The artifacts the analysed files came from.
    pub analysed: Vec<ArtifactId>,
}

impl Analysis {
    /// The tags of `package`.
    pub fn tags_of(&self, package: &str) -> Vec<Tag> {
        let mine = self.tags.iter().filter(|t| t.package == package);
        mine.cloned().collect()
    }
}

/// Splits `tags` into one analysis per architecture that `output` wants
/// (`source`, `all`, concrete ones); `changes` and `buildinfo` tags belong
/// to none.
pub fn split(inputs: &Inputs, tags: Vec<Tag>, output: &Output) -> BTreeMap<String, Analysis> {
    let mut analyses: BTreeMap<String, Analysis> = BTreeMap::new();
    if let Some((name, version, id)) = &inputs.source.as_ref().filter(|_| output.source_analysis) {
        let a = analyses.entry("source".into()).or_default();
        a.package_filename
            .insert(name.clone(), format!("{name}_{version}.dsc"));
        a.analysed.push(*id);
    }
    for (name, (arch, file, id, _)) in &inputs.binaries {
        let wanted = if arch == "all" {
            output.binary_all_analysis
        } else {
            output.binary_any_analysis
        };
        if wanted {
            let a = analyses.entry(arch.clone()).or_default();
            a.package_filename.insert(name.clone(), file.clone());
            if !a.analysed.contains(id) {
                a.analysed.push(*id);
            }
        }
    }
    for tag in tags {
        let arch = if tag.package_type == "source" {
            Some("source".to_string())
        } else if tag.package_type.is_empty() || tag.package_type == "udeb" {
            inputs
                .binaries
                .get(&tag.package)
                .map(|(arch, ..)| arch.clone())
        } else {
            None // `changes` tags belong to no analysis
        };
        if let Some(a) = arch.and_then(|arch| analyses.get_mut(&arch)) {
            a.tags.push(tag);
        }
    }
    analyses
}

/// The `summary` of a debian:lintian artifact's data and analysis.json.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub tags_count_by_severity: BTreeMap<Severity, usize>,
    pub package_filename: BTreeMap<String, String>,
    pub tags_found: Vec<String>,
    pub overridden_tags_found: Vec<String>,
    pub lintian_version: String,
    pub distribution: String,
}

impl Summary {
    /// The summary of `analysis`, made by lintian `version` for
    /// `distribution`.
    pub fn new(analysis: &Analysis, version: &str, distribution: &str) -> Summary {
        Summary {
            tags_count_by_severity: count_by_severity(&analysis.tags),
            package_filename: analysis.package_filename.clone(),
            tags_found: tags_found(&analysis.tags),
            overridden_tags_found: overridden_tags_found(&analysis.tags),
            lintian_version: version.to_string(),
            distribution: distribution.to_string(),
        }
    }
}

/// A debian:lintian artifact's data.
#[derive(Debug, serde::Serialize)]
pub struct LintianData {
    pub architecture: String,
    pub summary: Summary,
}

/// A debian:lintian artifact's `analysis.json`.
#[derive(Debug, serde::Serialize)]
pub struct AnalysisJson<'a> {
    pub tags: &'a [Tag],
    pub summary: &'a Summary,
}

/// How a lintian run failed, or `None` if it did not. lintian (2.116)
/// exits 1 on a run-time error, e.g. a package it skips, and 2 both when
/// it finds errors (its default --fail-on) and when it cannot read an
/// input: 2 with error tags is no failure.
pub fn failure(
    code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    tags: &[Tag],
) -> Option<String> {
    let found_errors = tags.iter().any(|t| t.severity == Severity::Error);
    match (code, signal) {
        (Some(0), _) => None,
        (Some(2), _) if found_errors => None,
        _ if timed_out => Some("timed out".to_string()),
        (Some(code), _) => Some(format!("exit {code}")),
        (None, Some(signal)) => Some(format!("killed by signal {signal}")),
        (None, None) => Some("ended without an exit code".to_string()),
    }
}

/// The error message for a run that failed `how`, with what lintian said
/// on stderr.
pub fn failed_message(how: &str, stderr: &str) -> String {
    match stderr.trim() {
        "" => format!("lintian failed ({how})"),
        said => format!("lintian failed ({how}): {said}"),
    }
}

/// lintian's version from dpkg: `lintian --version` loads all of lintian
/// first and costs half a second.
pub fn installed_version(env: &Environment) -> Result<String> {
    let exit = env.run(&Command::new("dpkg-query").args(["-W", "-f=${Version}", "lintian"]))?;
    if !exit.success() {
        return Err(Error::failed(format!(
            "dpkg-query knows no lintian: {}",
            exit.read_stderr()?.trim()
        )));
    }
    Ok(exit.read_stdout()?.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASIC_DEB: &str = include_str!("../../../plugins/lintian/testdata/basic-deb.txt");
    const BASIC_CHANGES: &str = include_str!("../../../plugins/lintian/testdata/basic-changes.txt");
    const OVERRIDES_SOURCE: &str =
        include_str!("../../../plugins/lintian/testdata/overrides-source.txt");
    const OVERRIDES_BINARY: &str =
        include_str!("../../../plugins/lintian/testdata/overrides-binary.txt");
    const CHANGES_DISTS: &str = include_str!("../../../plugins/lintian/testdata/changes-dists.txt");

    /// (code, package, package type, tag, note, pointer), written by hand
    /// from the fixture.
    type Row = (
        char,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    );

    fn assert_tags(tags: &[Tag], expected: &[Row]) {
        for (i, (tag, want)) in tags.iter().zip(expected).enumerate() {
            let got = (
                severity_code(tag.severity),
                tag.package.as_str(),
                tag.package_type.as_str(),
                tag.tag.as_str(),
                tag.note.as_str(),
                tag.pointer.as_str(),
            );
            assert_eq!(&got, want, "tag #{i}");
        }
        assert_eq!(tags.len(), expected.len(), "number of tags");
    }

    fn find<'a>(tags: &'a [Tag], name: &str, pointer: &str) -> &'a Tag {
        tags.iter()
            .find(|t| t.tag == name && t.pointer == pointer)
            .unwrap_or_else(|| panic!("no {name} [{pointer}]"))
    }

    fn tag(code: char, package: &str, name: &str, note: &str, pointer: &str) -> Tag {
        Tag {
            tag: name.into(),
            severity: severity_from_code(code).unwrap(),
            package: package.into(),
            note: note.into(),
            pointer: pointer.into(),
            explanation: String::new(),
            comment: String::new(),
            package_type: String::new(),
        }
    }

    #[test]
    fn a_binary_deb_gives_its_errors_warnings_infos_and_classifications() {
        const P: &str = "lintfix-basic";
        #[rustfmt::skip]
        let expected: &[Row] = &[
            ('E', P, "", "no-copyright-file", "", ""),
            ('W', P, "", "no-manual-page", "", "usr/bin/lintfix-basic"),
            ('I', P, "", "extended-description-is-probably-too-short", "", ""),
            ('I', P, "", "hardening-no-bindnow", "", "usr/bin/lintfix-basic"),
            ('C', P, "", "control-tarball-compression-format", "xz", ""),
            ('C', P, "", "data-tarball-compression-format", "xz", ""),
            ('C', P, "", "mail-contact", "Maintainer \"taskhost tests\" <tests@taskhost.invalid>", ""),
            ('C', P, "", "no-ctrl-scripts", "", ""),
            ('C', P, "", "package-is-maintained-by-individual", "", ""),
            ('C', P, "", "trimmed-field", "Architecture amd64", ""),
            ('C', P, "", "trimmed-field", "Depends libc6 (>= 2.34)", ""),
            ('C', P, "", "trimmed-field", "Description taskhost test package\\n Built by the taskhost tests.", ""),
            ('C', P, "", "trimmed-field", "Installed-Size 23", ""),
            ('C', P, "", "trimmed-field", "Maintainer taskhost tests <tests@taskhost.invalid>", ""),
            ('C', P, "", "trimmed-field", "Package lintfix-basic", ""),
            ('C', P, "", "trimmed-field", "Priority optional", ""),
            ('C', P, "", "trimmed-field", "Section devel", ""),
            ('C', P, "", "trimmed-field", "Version 1.0", ""),
        ];
        let tags = parse(BASIC_DEB);
        assert_tags(&tags, expected);
        assert!(tags.iter().all(|t| t.comment.is_empty()));
    }

    #[test]
    fn the_explanation_is_attached_to_the_tag_it_follows() {
        let tags = parse(BASIC_DEB);
        assert_eq!(
            tags[0].explanation,
            "Each binary package has to include a plain file\n\
             /usr/share/doc/*pkg*/copyright\n\
             \n\
             Please refer to Copyright information (Section 12.5) in the Debian Policy\n\
             Manual for details.\n\
             \n\
             Visibility: error\n\
             Show-Always: no\n\
             Check: debian/copyright"
        );
        // Paragraph breaks inside a description are `N:   ` lines.
        assert!(tags[1].explanation.starts_with(
            "Each binary in /usr/bin, /usr/sbin, /bin, /sbin or /usr/games should have\n\
             a manual page\n\
             \n\
             Note that though"
        ));
        assert!(tags[1].explanation.ends_with(
            "Visibility: warning\nShow-Always: no\nCheck: documentation/manual\n\
             Renamed from: binary-without-manpage"
        ));
        assert!(
            tags[9]
                .explanation
                .starts_with("These are the raw but trimmed contents")
        );
    }

    #[test]
    fn only_the_first_hint_of_a_tag_has_its_explanation() {
        let tags = parse(BASIC_DEB);
        let trimmed: Vec<&Tag> = tags.iter().filter(|t| t.tag == "trimmed-field").collect();
        assert_eq!(trimmed.len(), 9);
        assert!(trimmed[0].explanation.ends_with(
            "Check: fields/trimmed\n\
             This tag is a classification. There is no issue in your package."
        ));
        assert!(trimmed[1..].iter().all(|t| t.explanation.is_empty()));
    }

    #[test]
    fn fill_missing_explanations_copies_the_first_description() {
        let mut tags = parse(BASIC_DEB);
        let first = tags[9].explanation.clone();
        fill_missing_explanations(&mut tags);
        assert!(
            tags.iter()
                .filter(|t| t.tag == "trimmed-field")
                .all(|t| t.explanation == first)
        );
        assert!(tags[0].explanation.starts_with("Each binary package"));
    }

    #[test]
    fn a_changes_file_gives_tags_of_source_binaries_changes_and_buildinfo() {
        const P: &str = "lintfix-basic";
        const D: &str = "lintfix-basic-dbgsym";
        const M: &str = "Maintainer \"taskhost tests\" <tests@taskhost.invalid>";
        #[rustfmt::skip]
        let expected: &[Row] = &[
            ('E', P, "", "no-copyright-file", "", ""),
            ('W', D, "", "debug-file-with-no-debug-symbols", "", "usr/lib/debug/.build-id/01/1614ba0cd96d55d96233f2289541a7b8b379a4.debug"),
            ('W', P, "source", "no-debian-copyright-in-source", "", ""),
            ('W', P, "", "no-manual-page", "", "usr/bin/lintfix-basic"),
            ('I', P, "", "extended-description-is-probably-too-short", "", ""),
            ('I', P, "", "hardening-no-bindnow", "", "usr/bin/lintfix-basic"),
            ('P', P, "source", "silent-on-rules-requiring-root", "", "debian/control"),
            ('C', P, "", "control-tarball-compression-format", "xz", ""),
            ('C', D, "", "control-tarball-compression-format", "xz", ""),
            ('C', P, "", "data-tarball-compression-format", "xz", ""),
            ('C', D, "", "data-tarball-compression-format", "xz", ""),
            ('C', P, "source", "debhelper-compat-level", "13", ""),
            ('C', P, "source", "debhelper-compat-virtual-relation", "13", "debian/control"),
            ('C', P, "source", "debian-build-system", "dh", "debian/rules"),
            ('C', P, "source", "mail-contact", M, ""),
            ('C', P, "", "mail-contact", M, ""),
            ('C', D, "", "mail-contact", M, ""),
            ('C', P, "changes", "mail-contact", "Changed-By \"taskhost tests\" <tests@taskhost.invalid>", ""),
            ('C', P, "changes", "mail-contact", M, ""),
            ('C', P, "", "no-ctrl-scripts", "", ""),
            ('C', D, "", "no-ctrl-scripts", "", ""),
            ('C', P, "source", "package-is-maintained-by-individual", "", ""),
            ('C', P, "", "package-is-maintained-by-individual", "", ""),
            ('C', D, "", "package-is-maintained-by-individual", "", ""),
            ('C', P, "changes", "package-is-maintained-by-individual", "", ""),
            ('C', P, "buildinfo", "package-is-maintained-by-individual", "", ""),
            ('C', P, "source", "source-format", "3.0 (native)", ""),
            ('C', P, "source", "standards-version", "4.6.2", ""),
            ('C', P, "source", "trimmed-deb822-field", "§1 Build-Depends debhelper-compat (= 13)", "debian/control:5"),
            ('C', P, "source", "trimmed-deb822-field", "§1 Maintainer taskhost tests <tests@taskhost.invalid>", "debian/control:4"),
            ('C', P, "source", "trimmed-deb822-field", "§1 Priority optional", "debian/control:3"),
            ('C', P, "source", "trimmed-deb822-field", "§1 Section devel", "debian/control:2"),
            ('C', P, "source", "trimmed-deb822-field", "§1 Source lintfix-basic", "debian/control:1"),
            ('C', P, "source", "trimmed-deb822-field", "§1 Standards-Version 4.6.2", "debian/control:6"),
            ('C', P, "source", "trimmed-deb822-field", "§2 Architecture any", "debian/control:9"),
            ('C', P, "source", "trimmed-deb822-field", "§2 Depends ${shlibs:Depends}, ${misc:Depends}", "debian/control:10"),
            ('C', P, "source", "trimmed-deb822-field", "§2 Description taskhost test package\\n Built by the taskhost tests.", "debian/control:11"),
            ('C', P, "source", "trimmed-deb822-field", "§2 Package lintfix-basic", "debian/control:8"),
        ];
        assert_tags(&parse(BASIC_CHANGES), expected);
    }

    #[test]
    fn source_overrides_give_overridden_tags_with_their_comments() {
        const P: &str = "lintfix-overrides";
        const S: &str = "source";
        const LONG: &str = "very-long-line-length-in-source-file";
        #[rustfmt::skip]
        let expected: &[Row] = &[
            ('E', P, S, "alien-tag", "no-such-tag-is-issued-here", "debian/source/lintian-overrides:8"),
            ('W', P, S, "mismatched-override", "very-long-line-length-in-source-file * [src/missing.txt:*]", "debian/source/lintian-overrides:5"),
            ('X', P, S, LONG, "601 > 512", "src/data [v2].txt:2"),
            ('X', P, S, LONG, "601 > 512", "src/odd].txt:1"),
            ('C', P, S, "debhelper-compat-level", "13", ""),
            ('C', P, S, "debhelper-compat-virtual-relation", "13", "debian/control"),
            ('C', P, S, "debian-build-system", "dh", "debian/rules"),
            ('C', P, S, "mail-contact", "Maintainer \"taskhost tests\" <tests@taskhost.invalid>", ""),
            ('C', P, S, "package-is-maintained-by-individual", "", ""),
            ('C', P, S, "rules-do-not-require-root", "", "debian/control:7"),
            ('C', P, S, "source-format", "3.0 (native)", ""),
            ('C', P, S, "standards-version", "4.6.2", ""),
            ('O', P, S, "no-debian-copyright-in-source", "", ""),
            ('O', P, S, LONG, "601 > 512", "src/other.txt:1"),
            ('O', P, S, LONG, "601 > 512", "src/plain.txt:1"),
        ];
        let tags = parse(OVERRIDES_SOURCE);
        assert_tags(&tags, expected);

        let comment = "Generated by the test: see [taskhost] docs, section 2: \"overrides\".";
        assert_eq!(find(&tags, LONG, "src/other.txt:1").comment, comment);
        // No comment of its own, right below an override of the same tag:
        // lintian carries the comment above over.
        assert_eq!(find(&tags, LONG, "src/plain.txt:1").comment, comment);
        // After a blank line in the overrides file: no comment.
        assert_eq!(tags[12].comment, "");
        assert!(
            tags[12]
                .explanation
                .starts_with("Every package must include the file")
        );
        assert!(tags[..12].iter().all(|t| t.comment.is_empty()));
        // The comment does not leak into the explanation of the tag before.
        assert!(
            tags[12]
                .explanation
                .ends_with("Renamed from: no-debian-copyright")
        );
        assert_eq!(tags[13].explanation, "");
    }

    #[test]
    fn masked_hints_are_dropped_with_their_n_lines() {
        let tags = parse(OVERRIDES_SOURCE);
        assert!(OVERRIDES_SOURCE.contains("\nM: lintfix-overrides source: very-long-line"));
        assert!(tags.iter().all(|t| t.pointer != "configure:2"));
        assert!(tags.iter().all(|t| !t.comment.contains("masked by screen")));
        assert_eq!(tags.last().unwrap().pointer, "src/plain.txt:1");
    }

    #[test]
    fn an_explanation_with_a_screen_section_stays_whole() {
        let tags = parse(OVERRIDES_SOURCE);
        let first = find(
            &tags,
            "very-long-line-length-in-source-file",
            "src/data [v2].txt:2",
        );
        assert!(
            first
                .explanation
                .starts_with("The source file includes a line length")
        );
        assert!(
            first
                .explanation
                .contains("This tag is experimental.\n\nScreen: autotools/long-lines\nAdvocates: ")
        );
        assert!(first.explanation.ends_with(
            "to aid in bootstrapping systems where the GNU suite may not yet\nbe available.\n\nRead more in Bug#996740."
        ));
        let second = find(
            &tags,
            "very-long-line-length-in-source-file",
            "src/odd].txt:1",
        );
        assert_eq!(second.explanation, "");
    }

    #[test]
    fn binary_overrides_and_udebs_are_parsed() {
        const P: &str = "lintfix-overrides";
        const U: &str = "lintfix-overrides-udeb";
        const M: &str = "Maintainer \"taskhost tests\" <tests@taskhost.invalid>";
        #[rustfmt::skip]
        let expected: &[Row] = &[
            ('E', P, "", "no-copyright-file", "", ""),
            ('W', U, "udeb", "script-not-executable", "", "usr/lib/lintfix-overrides-udeb/tool"),
            ('I', P, "", "extended-description-is-probably-too-short", "", ""),
            ('C', P, "", "control-tarball-compression-format", "xz", ""),
            ('C', U, "udeb", "control-tarball-compression-format", "xz", ""),
            ('C', P, "", "data-tarball-compression-format", "xz", ""),
            ('C', U, "udeb", "data-tarball-compression-format", "xz", ""),
            ('C', P, "", "mail-contact", M, ""),
            ('C', U, "udeb", "mail-contact", M, ""),
            ('C', P, "", "no-ctrl-scripts", "", ""),
            ('C', U, "udeb", "no-ctrl-scripts", "", ""),
            ('C', P, "", "package-is-maintained-by-individual", "", ""),
            ('C', U, "udeb", "package-is-maintained-by-individual", "", ""),
            ('O', P, "", "no-manual-page", "", "usr/bin/lintfix-overrides"),
        ];
        let tags = parse(OVERRIDES_BINARY);
        assert_tags(&tags, expected);
        let overridden = tags.last().unwrap();
        // lintian wraps the comment at 80 columns; the lines are kept.
        assert_eq!(
            overridden.comment,
            "The tool is documented in its --help output; a manual page would only\n\
             repeat it, and this comment is long enough to be wrapped by lintian over\n\
             several lines."
        );
        // First hint of no-manual-page in this run: its description follows.
        assert!(
            overridden
                .explanation
                .starts_with("Each binary in /usr/bin")
        );
        assert!(
            overridden
                .explanation
                .ends_with("Renamed from: binary-without-manpage")
        );
        assert!(
            tags[11]
                .explanation
                .ends_with("This tag is a classification. There is no issue in your package.")
        );
        assert_eq!(tags[12].explanation, "");
    }

    #[test]
    fn tags_of_the_changes_file_have_the_changes_type() {
        const P: &str = "lintfix-changes";
        #[rustfmt::skip]
        let expected: &[Row] = &[
            ('E', P, "changes", "bad-distribution-in-changes-file", "no-such-suite", ""),
            ('E', P, "changes", "multiple-distributions-in-changes-file", "unstable no-such-suite", ""),
            ('W', P, "", "empty-binary-package", "", ""),
            ('C', P, "source", "mail-contact", "Maintainer \"taskhost tests\" <tests@taskhost.invalid>", ""),
            ('C', P, "", "mail-contact", "Maintainer \"taskhost tests\" <tests@taskhost.invalid>", ""),
            ('C', P, "changes", "mail-contact", "Changed-By \"taskhost tests\" <tests@taskhost.invalid>", ""),
            ('C', P, "changes", "mail-contact", "Maintainer \"taskhost tests\" <tests@taskhost.invalid>", ""),
        ];
        let tags = parse(CHANGES_DISTS);
        assert_tags(&tags, expected);
        assert!(tags[0].explanation.contains("Visibility: error"));
    }

    #[test]
    fn the_pointer_is_only_the_last_bracketed_group() {
        let cases = [
            ("[usr/bin/hello]", ("", "usr/bin/hello")),
            (
                "foo: bar [baz] [usr/share/x:12]",
                ("foo: bar [baz]", "usr/share/x:12"),
            ),
            (
                "some-tag * [a:*] [debian/source/lintian-overrides:5]",
                ("some-tag * [a:*]", "debian/source/lintian-overrides:5"),
            ),
            (
                "601 > 512 [src/data [v2].txt:2]",
                ("601 > 512", "src/data [v2].txt:2"),
            ),
            (
                "601 > 512 [src/odd].txt:1]",
                ("601 > 512", "src/odd].txt:1"),
            ),
            ("[src/odd].txt:1]", ("", "src/odd].txt:1")),
            ("x [src/odd[.txt:1]", ("x", "src/odd[.txt:1")),
            ("a [b] c", ("a [b] c", "")),
            (
                "Depends ${shlibs:Depends}",
                ("Depends ${shlibs:Depends}", ""),
            ),
            ("no-brackets]", ("no-brackets]", "")),
            ("", ("", "")),
        ];
        for (context, want) in cases {
            assert_eq!(split_pointer(context), want, "{context:?}");
        }
        let tags = parse("W: pkg: some-tag foo: bar [baz] [usr/share/x:12]\n");
        assert_eq!(
            tags,
            vec![tag(
                'W',
                "pkg",
                "some-tag",
                "foo: bar [baz]",
                "usr/share/x:12"
            )]
        );
    }

    #[test]
    fn a_synthetic_masked_hint_with_its_own_description_is_dropped() {
        // Shaped like lintian's output when the only hint of a tag is
        // masked: the description follows the M: line.
        let output = "N:\nW: pkg: first [a]\nN: \nN:   First description.\nN: \n\
                      N:\nN: masked by screen some/screen\nM: pkg: masked-tag [b]\n\
                      N: \nN:   Masked description.\nN: \n\
                      N:\nN: reason\nO: pkg: other-tag\n";
        let tags = parse(output);
        let mut first = tag('W', "pkg", "first", "", "a");
        first.explanation = "First description.".into();
        let mut other = tag('O', "pkg", "other-tag", "", "");
        other.comment = "reason".into();
        assert_eq!(tags, vec![first, other]);
    }

    #[test]
    fn unknown_lines_are_ignored() {
        let output = "running with root privileges is not recommended!\n\
                      \n\
                      W: no-package-field\n\
                      Z: pkg: not-a-code\n\
                      E:pkg: no-space\n\
                      E: pkg too many: words\n\
                      E: pkg: \n\
                      garbage: with: colons [x]\n\
                      E: pkg: real-tag note [p]\r\n\
                      N: \n\
                      something in between\n\
                      N:   Its description.\n";
        let mut want = tag('E', "pkg", "real-tag", "note", "p");
        want.explanation = "Its description.".into();
        assert_eq!(parse(output), vec![want]);
    }

    #[test]
    fn output_without_info_has_comments_but_no_explanations() {
        let output = "E: p: a\nN: why\nN: not\nO: p source: b [x]\nW: p: c\n";
        let tags = parse(output);
        assert_eq!(tags.len(), 3);
        assert_eq!(tags[1].comment, "why\nnot");
        assert_eq!(tags[1].package_type, "source");
        assert!(tags.iter().all(|t| t.explanation.is_empty()));
        assert_eq!(tags[2].comment, "");
    }

    #[test]
    fn empty_output_gives_no_tags() {
        assert_eq!(parse(""), vec![]);
        assert_eq!(parse("\n\n"), vec![]);
        assert_eq!(summary_note(&[]), "no tags");
        assert!(count_by_severity(&[]).values().all(|&n| n == 0));
        assert!(tags_found(&[]).is_empty());
    }

    #[test]
    fn counts_have_all_seven_severities_in_debusine_order() {
        let counts = count_by_severity(&parse(OVERRIDES_SOURCE));
        assert_eq!(
            serde_json::to_string(&counts).unwrap(),
            r#"{"error":1,"warning":1,"info":0,"pedantic":0,"experimental":2,"overridden":3,"classification":8}"#
        );
    }

    #[test]
    fn tags_found_and_overridden_tags_found_are_sorted_and_unique() {
        let tags = parse(OVERRIDES_SOURCE);
        assert_eq!(
            tags_found(&tags),
            [
                "alien-tag",
                "debhelper-compat-level",
                "debhelper-compat-virtual-relation",
                "debian-build-system",
                "mail-contact",
                "mismatched-override",
                "package-is-maintained-by-individual",
                "rules-do-not-require-root",
                "source-format",
                "standards-version",
                "very-long-line-length-in-source-file",
            ]
        );
        assert_eq!(
            overridden_tags_found(&tags),
            [
                "no-debian-copyright-in-source",
                "very-long-line-length-in-source-file"
            ]
        );
    }

    #[test]
    fn summary_note_lists_non_zero_counts_most_severe_first() {
        assert_eq!(
            summary_note(&parse(OVERRIDES_SOURCE)),
            "1 error, 1 warning, 2 experimental, 3 overridden"
        );
        assert_eq!(
            summary_note(&parse(BASIC_CHANGES)),
            "1 error, 3 warnings, 2 info, 1 pedantic"
        );
    }

    #[test]
    fn a_tag_serializes_to_debusine_analysis_fields() {
        let mut t = tag('O', "hello", "some-tag", "n", "p");
        t.package_type = "source".into();
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "tag": "some-tag", "severity": "overridden", "package": "hello",
                "note": "n", "pointer": "p", "explanation": "", "comment": ""
            })
        );
        let back: Tag = serde_json::from_value(json).unwrap();
        assert_eq!(back.package_type, "");
    }

    #[test]
    fn severities_convert_to_and_from_codes_and_names() {
        for s in Severity::ALL {
            assert_eq!(severity_from_code(severity_code(s)), Some(s));
            assert_eq!(Severity::from_name(s.as_str()), Some(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(severity_from_code('M'), None);
        assert_eq!(severity_from_code('N'), None);
        assert!(
            Severity::Error < Severity::Warning && Severity::Overridden < Severity::Classification
        );
        assert_eq!(parse_package_type("hello source"), ("hello", "source"));
        assert_eq!(parse_package_type("hello"), ("hello", ""));
    }

    /// Parsing is per line: outputs run together give each one's tags, in
    /// order, however many there are. (Speed is measured, not tested: the
    /// `parse` group of host/benches/lintian.rs parses 50 MB.)
    #[test]
    fn outputs_run_together_parse_to_each_ones_tags_in_order() {
        let fixtures = [
            BASIC_DEB,
            BASIC_CHANGES,
            OVERRIDES_SOURCE,
            OVERRIDES_BINARY,
            CHANGES_DISTS,
        ];
        let round = fixtures.concat();
        let expected: Vec<Tag> = fixtures.iter().flat_map(|f| parse(f)).collect();
        assert!(expected.len() > 50, "{}", expected.len());
        let rounds = 1_000_000 / round.len() + 1;
        let tags = parse(&round.repeat(rounds));
        assert_eq!(tags.len(), expected.len() * rounds);
        for (i, chunk) in tags.chunks(expected.len()).enumerate() {
            assert!(chunk == expected.as_slice(), "round {i} differs");
        }
    }

    #[test]
    fn deb_names_split_into_name_version_arch() {
        assert_eq!(
            deb_name("input/3/hello_1.0-1_amd64.deb"),
            Some(("hello".into(), "1.0-1".into(), "amd64".into()))
        );
        assert_eq!(
            deb_name("input/3/hello-udeb_1.0-1_all.udeb"),
            Some(("hello-udeb".into(), "1.0-1".into(), "all".into()))
        );
        assert_eq!(deb_name("x.dsc"), None);
        assert_eq!(deb_name("x_1.0.deb"), None);
    }

    fn inputs() -> Inputs {
        let mut inputs = Inputs::default();
        inputs.add_source("input/1/hello_1.0-1.dsc".into(), 1);
        inputs.add_source("input/1/hello_1.0-1.debian.tar.xz".into(), 1);
        inputs.add_binary("input/2/hello_1.0-1_amd64.deb".into(), 2);
        inputs.add_binary("input/2/hello-doc_1.0-1_all.deb".into(), 2);
        inputs.add_binary("input/2/hello_1.0-1_amd64.changes".into(), 2);
        inputs
    }

    fn hint(package: &str, package_type: &str, code: char) -> Tag {
        Tag {
            package_type: package_type.into(),
            ..tag(code, package, "some-tag", "", "")
        }
    }

    #[test]
    fn inputs_keep_the_dsc_and_the_debs_with_their_versions() {
        let inputs = inputs();
        assert_eq!(
            inputs.files,
            [
                "input/1/hello_1.0-1.dsc",
                "input/2/hello_1.0-1_amd64.deb",
                "input/2/hello-doc_1.0-1_all.deb"
            ]
        );
        assert_eq!(inputs.source, Some(("hello".into(), "1.0-1".into(), 1)));
        assert_eq!(inputs.version("source", "hello"), "1.0-1");
        assert_eq!(inputs.version("all", "hello-doc"), "1.0-1");
        assert_eq!(inputs.version("amd64", "nothere"), "");
    }

    #[test]
    fn tags_are_split_per_analysed_architecture() {
        let tags = vec![
            hint("hello", "source", 'W'),
            hint("hello", "", 'E'),
            hint("hello-doc", "", 'I'),
            hint("hello", "changes", 'E'),
            hint("unknown", "", 'E'),
        ];
        let analyses = split(&inputs(), tags.clone(), &Output::default());
        assert_eq!(
            analyses.keys().collect::<Vec<_>>(),
            ["all", "amd64", "source"]
        );
        let source = &analyses["source"];
        assert_eq!(source.tags, [tags[0].clone()]);
        assert_eq!(source.package_filename["hello"], "hello_1.0-1.dsc");
        assert_eq!(source.analysed, [1]);
        assert_eq!(analyses["amd64"].tags_of("hello"), [tags[1].clone()]);
        assert_eq!(analyses["all"].tags, [tags[2].clone()]);
        assert_eq!(analyses["all"].analysed, [2]);

        let only_any = Output {
            source_analysis: false,
            binary_all_analysis: false,
            binary_any_analysis: true,
        };
        let analyses = split(&inputs(), tags, &only_any);
        assert_eq!(analyses.keys().collect::<Vec<_>>(), ["amd64"]);
    }

    #[test]
    fn a_summary_counts_and_names_the_tags() {
        let analysis = Analysis {
            tags: vec![hint("hello", "", 'E'), hint("hello", "", 'O')],
            ..Analysis::default()
        };
        let summary = Summary::new(&analysis, "2.116", "debian:unstable");
        assert_eq!(summary.tags_count_by_severity[&Severity::Error], 1);
        assert_eq!(summary.tags_found, ["some-tag"]);
        assert_eq!(summary.overridden_tags_found, ["some-tag"]);
        assert_eq!(summary.lintian_version, "2.116");
    }

    #[test]
    fn exit_2_with_error_tags_is_no_failure() {
        let errors = [hint("hello", "", 'E')];
        assert_eq!(failure(Some(0), None, false, &[]), None);
        assert_eq!(failure(Some(2), None, false, &errors), None);
        assert_eq!(
            failure(Some(2), None, false, &[]).as_deref(),
            Some("exit 2")
        );
        assert_eq!(
            failure(Some(1), None, false, &errors).as_deref(),
            Some("exit 1")
        );
        assert_eq!(failure(None, None, true, &[]).as_deref(), Some("timed out"));
        assert_eq!(
            failure(None, Some(9), false, &[]).as_deref(),
            Some("killed by signal 9")
        );
        assert_eq!(
            failure(None, None, false, &[]).as_deref(),
            Some("ended without an exit code")
        );
        assert_eq!(failed_message("exit 1", " \n"), "lintian failed (exit 1)");
        assert_eq!(
            failed_message("exit 1", "oops\n"),
            "lintian failed (exit 1): oops"
        );
    }
}
