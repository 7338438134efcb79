//! Reading a formula: YAML nodes with their positions, checked key by key.

use super::template::{self, TemplateError, Vars};
use super::{FormulaError, Pos};
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoaderOptions, Node, Span};
use serde_json::{Map, Number, Value};

/// A parsed formula (`runtask.yml`).
#[derive(Debug)]
pub struct Formula {
    /// Where it was read from, for messages.
    pub file: String,
    /// The sha256 of its text (its provenance).
    pub sha256: String,
    pub name: String,
    pub desc: String,
    pub maintainer: String,
    pub namespace: Option<String>,
    /// `input.args`: what runtask must provide (`koji_build`, `arch`, ...).
    pub args: Vec<(String, Pos)>,
    /// `environment.rpm` and `environment.deb`: packages the task needs.
    pub rpm: Vec<String>,
    pub deb: Vec<String>,
    pub actions: Vec<Action>,
}

/// One step: `{name, <directive>: params, export: var}`.
#[derive(Debug)]
pub struct Action {
    pub name: String,
    pub at: Pos,
    /// The directive or task plugin it calls.
    pub directive: String,
    pub directive_at: Pos,
    /// The params, unsubstituted.
    pub params: Node,
    pub export: Option<String>,
}

/// Duplicate keys are errors; quoted scalars stay text.
fn options() -> LoaderOptions {
    LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true)
}

/// The start of the file, for what is missing from it.
const TOP: Pos = Pos { line: 1, column: 1 };

pub(super) fn pos(span: &Span) -> Pos {
    span.start()
        .map(|m| Pos {
            line: m.line(),
            column: m.column(),
        })
        .unwrap_or_default()
}

impl Formula {
    /// Parses `text`, read from `file`.
    pub fn parse(file: &str, text: &str) -> Result<Formula, FormulaError> {
        let options = options();
        let root = marked_yaml::parse_yaml_with_options(0, text, options)
            .map_err(|e| yaml_error(file, &e))?;
        let at = |span: &Span, message: String| FormulaError::at(file, pos(span), message);
        let top = root.as_mapping().ok_or_else(|| {
            at(
                root.span(),
                "a formula is a mapping (name, desc, actions, ...)".into(),
            )
        })?;
        const KEYS: &[&str] = &[
            "name",
            "desc",
            "maintainer",
            "namespace",
            "input",
            "environment",
            "actions",
        ];
        unknown_keys(file, top, KEYS, "the formula")?;

        let text_key = |key: &str, required: bool| -> Result<Option<String>, FormulaError> {
            match top.get_node(key) {
                None if required => Err(FormulaError::at(
                    file,
                    TOP,
                    format!("the formula has no `{key}` key"),
                )),
                None => Ok(None),
                Some(Node::Scalar(s)) => Ok(Some(s.as_str().to_string())),
                Some(other) => Err(at(other.span(), format!("`{key}` must be text"))),
            }
        };
        let name = text_key("name", true)?.unwrap_or_default();
        let desc = text_key("desc", false)?.unwrap_or_default();
        let maintainer = text_key("maintainer", false)?.unwrap_or_default();
        let namespace = text_key("namespace", false)?;

        let mut args = Vec::new();
        if let Some(input) = top.get_node("input") {
            let input = input
                .as_mapping()
                .ok_or_else(|| at(input.span(), "`input` must be a mapping with `args`".into()))?;
            unknown_keys(file, input, &["args"], "`input`")?;
            if let Some(list) = input.get_node("args") {
                args = string_list(file, list, "input.args")?;
            }
        }

        let (mut rpm, mut deb) = (Vec::new(), Vec::new());
        if let Some(env) = top.get_node("environment") {
            let env = env.as_mapping().ok_or_else(|| {
                at(
                    env.span(),
                    "`environment` must be a mapping like {rpm: [...]} or {deb: [...]}".into(),
                )
            })?;
            unknown_keys(file, env, &["rpm", "deb"], "`environment`")?;
            if let Some(list) = env.get_node("rpm") {
                rpm = string_list(file, list, "environment.rpm")?
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect();
            }
            if let Some(list) = env.get_node("deb") {
                deb = string_list(file, list, "environment.deb")?
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect();
            }
        }

        let list = top.get_node("actions").ok_or_else(|| {
            FormulaError::at(
                file,
                TOP,
                "the formula has no `actions` key: it needs a list of actions",
            )
        })?;
        let list = list
            .as_sequence()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| {
                at(
                    list.span(),
                    "`actions` must be a non-empty list of actions".into(),
                )
            })?;
        let mut actions = Vec::new();
        for (i, node) in list.iter().enumerate() {
            actions.push(action(file, i, node)?);
        }
        let sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        };
        Ok(Formula {
            file: file.to_string(),
            sha256,
            name,
            desc,
            maintainer,
            namespace,
            args,
            rpm,
            deb,
            actions,
        })
    }

    /// The error for `message` about `action` at `at`.
    pub fn error(&self, at: Pos, action: &Action, message: impl std::fmt::Display) -> FormulaError {
        FormulaError::at(
            &self.file,
            at,
            format!("action '{}': {message}", action.name),
        )
    }
}

fn action(file: &str, index: usize, node: &Node) -> Result<Action, FormulaError> {
    let map = node.as_mapping().ok_or_else(|| {
        FormulaError::at(
            file,
            pos(node.span()),
            format!(
                "action {}: must be a mapping {{name, DIRECTIVE: params}}",
                index + 1
            ),
        )
    })?;
    let name = match map.get_node("name") {
        Some(Node::Scalar(s)) => s.as_str().to_string(),
        Some(other) => {
            return Err(FormulaError::at(
                file,
                pos(other.span()),
                format!("action {}: `name` must be text", index + 1),
            ));
        }
        None => {
            return Err(FormulaError::at(
                file,
                pos(map.span()),
                format!("action {}: has no `name`", index + 1),
            ));
        }
    };
    // A mapping's own span starts at its first value; point at its first key.
    let start = map
        .keys()
        .next()
        .map_or_else(|| pos(map.span()), |k| pos(k.span()));
    let here = |span: &Span, message: String| {
        FormulaError::at(file, pos(span), format!("action '{name}': {message}"))
    };
    let export = match map.get_node("export") {
        None => None,
        Some(Node::Scalar(s)) if template::is_name(s.as_str()) => Some(s.as_str().to_string()),
        Some(other) => {
            return Err(here(
                other.span(),
                "`export` must be a variable name (letters, digits, `_`)".into(),
            ));
        }
    };
    let others: Vec<(&MarkedScalarNode, &Node)> = map
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "name" | "export"))
        .collect();
    let (key, params) = match others.as_slice() {
        [one] => *one,
        [] => {
            return Err(FormulaError::at(
                file,
                start,
                format!("action '{name}': names no directive (e.g. `koji: {{...}}`)"),
            ));
        }
        [_, second, ..] => {
            return Err(here(
                second.0.span(),
                format!(
                    "has a second directive key `{}`: one directive per action",
                    second.0.as_str()
                ),
            ));
        }
    };
    Ok(Action {
        name,
        at: start,
        directive: key.as_str().to_string(),
        directive_at: pos(key.span()),
        params: params.clone(),
        export,
    })
}

fn unknown_keys(
    file: &str,
    map: &MarkedMappingNode,
    known: &[&str],
    what: &str,
) -> Result<(), FormulaError> {
    for (key, _) in map.iter() {
        if !known.contains(&key.as_str()) {
            return Err(FormulaError::at(
                file,
                pos(key.span()),
                format!(
                    "{what} has an unknown key `{}` (known: {})",
                    key.as_str(),
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn string_list(file: &str, node: &Node, key: &str) -> Result<Vec<(String, Pos)>, FormulaError> {
    let bad = || {
        FormulaError::at(
            file,
            pos(node.span()),
            format!("`{key}` must be a list of names"),
        )
    };
    let list = node.as_sequence().ok_or_else(bad)?;
    list.iter()
        .map(|n| {
            n.as_scalar()
                .map(|s| (s.as_str().to_string(), pos(s.span())))
                .ok_or_else(bad)
        })
        .collect()
}

fn yaml_error(file: &str, e: &marked_yaml::LoadError) -> FormulaError {
    use marked_yaml::LoadError::*;
    let (marker, message) = match e {
        TopLevelMustBeMapping(m) => (
            Some(*m),
            "a formula is a mapping (name, desc, actions, ...)".to_string(),
        ),
        TopLevelMustBeSequence(m) => (Some(*m), "expected a list".to_string()),
        UnexpectedAnchor(m) => (
            Some(*m),
            "YAML anchors and aliases are not supported in formulas".to_string(),
        ),
        MappingKeyMustBeScalar(m) => (Some(*m), "mapping keys must be plain text".to_string()),
        UnexpectedTag(m) => (
            Some(*m),
            "YAML tags (!!...) are not supported in formulas".to_string(),
        ),
        ScanError(m, err) => (Some(*m), format!("not valid YAML: {}", scan_message(err))),
        DuplicateKey(inner) => (
            inner.key.span().start().copied(),
            format!("duplicate key `{}`", inner.key.as_str()),
        ),
        #[allow(unreachable_patterns)]
        _ => (None, e.to_string()),
    };
    let at = marker
        .map(|m| Pos {
            line: m.line(),
            column: m.column(),
        })
        .unwrap_or_default();
    FormulaError::at(file, at, message)
}

/// A scanner error without its own (0-based) position suffix.
fn scan_message(err: &impl std::fmt::Display) -> String {
    let text = err.to_string();
    match text.find(" at byte ").or_else(|| text.find(" at line ")) {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// A substitution failed at `pos` (the scalar's start).
pub struct Unfilled {
    pub at: Pos,
    pub error: TemplateError,
    pub text: String,
}

/// Turns params into JSON, substituting variables in values and keys.
/// Plain scalars read as YAML 1.2 core types; quoted ones stay text.
pub fn fill(node: &Node, vars: &Vars) -> Result<Value, Unfilled> {
    match node {
        Node::Scalar(s) => scalar(s, vars),
        Node::Sequence(list) => list
            .iter()
            .map(|n| fill(n, vars))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Mapping(map) => {
            let mut out = Map::new();
            for (key, value) in map.iter() {
                let key = match substitute(key, vars)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, fill(value, vars)?);
            }
            Ok(Value::Object(out))
        }
    }
}

fn substitute(s: &MarkedScalarNode, vars: &Vars) -> Result<Value, Unfilled> {
    template::substitute(s.as_str(), vars).map_err(|error| Unfilled {
        at: pos(s.span()),
        error,
        text: s.as_str().to_string(),
    })
}

fn scalar(s: &MarkedScalarNode, vars: &Vars) -> Result<Value, Unfilled> {
    let text = s.as_str();
    if template::has_placeholders(text) {
        return substitute(s, vars);
    }
    if !s.may_coerce() {
        return Ok(Value::String(text.to_string()));
    }
    Ok(plain(text))
}

/// A plain scalar's YAML 1.2 core schema value.
fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(n) = text.parse::<i64>() {
        return Value::Number(n.into());
    }
    let numeric = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if numeric && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

/// Every placeholder in `node` (values and keys), with its position.
pub fn references(node: &Node) -> Vec<(Pos, Result<String, TemplateError>, String)> {
    let mut out = Vec::new();
    walk(node, &mut |s: &MarkedScalarNode| {
        if !template::has_placeholders(s.as_str()) {
            return;
        }
        match template::references(s.as_str()) {
            Ok(refs) => out
                .extend(refs.into_iter().map(|(_, name)| {
                    (pos(s.span()), Ok(name.to_string()), s.as_str().to_string())
                })),
            Err(e) => out.push((pos(s.span()), Err(e), s.as_str().to_string())),
        }
    });
    out
}

fn walk(node: &Node, f: &mut impl FnMut(&MarkedScalarNode)) {
    match node {
        Node::Scalar(s) => f(s),
        Node::Sequence(list) => list.iter().for_each(|n| walk(n, f)),
        Node::Mapping(map) => {
            for (k, v) in map.iter() {
                f(k);
                walk(v, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CLASSIC: &str = "\
name: rpmlint
desc: run rpmlint
maintainer: someone
namespace: dist
input:
  args:
    - koji_build
    - arch
environment:
  rpm:
    - rpmlint
actions:
  - name: download
    koji:
      action: download
      koji_build: $koji_build
      arch: $arch
      target_dir: ${workdir}/rpms
    export: koji_output
  - name: run
    shell:
      - rpmlint ${workdir}/rpms
  - name: report
    resultsdb:
      results: ${koji_output}
";

    #[test]
    fn parses_the_classic_shape() {
        let f = Formula::parse("runtask.yml", CLASSIC).unwrap();
        assert_eq!(f.name, "rpmlint");
        assert_eq!(f.namespace.as_deref(), Some("dist"));
        assert_eq!(
            f.args.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(),
            ["koji_build", "arch"]
        );
        assert_eq!(f.rpm, ["rpmlint"]);
        let names: Vec<_> = f
            .actions
            .iter()
            .map(|a| (a.name.as_str(), a.directive.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("download", "koji"),
                ("run", "shell"),
                ("report", "resultsdb")
            ]
        );
        assert_eq!(f.actions[0].export.as_deref(), Some("koji_output"));
        assert_eq!(
            f.actions[0].directive_at,
            Pos {
                line: 14,
                column: 5
            }
        );
    }

    fn err(text: &str) -> String {
        Formula::parse("f.yml", text).unwrap_err().to_string()
    }

    #[test]
    fn bad_formulas_name_the_place_and_the_key() {
        assert_eq!(
            err("name: x\n"),
            "f.yml:1:1: the formula has no `actions` key: it needs a list of actions"
        );
        assert_eq!(
            err("name: x\nactions: []\n"),
            "f.yml:2:10: `actions` must be a non-empty list of actions"
        );
        assert_eq!(
            err("name: x\nactionz: []\n"),
            "f.yml:2:1: the formula has an unknown key `actionz` (known: name, desc, maintainer, namespace, input, environment, actions)"
        );
        assert_eq!(
            err("name: x\nactions:\n  - name: a\n    koji: {}\n    shell: []\n"),
            "f.yml:5:5: action 'a': has a second directive key `shell`: one directive per action"
        );
        assert_eq!(
            err("name: x\nactions:\n  - name: a\n"),
            "f.yml:3:5: action 'a': names no directive (e.g. `koji: {...}`)"
        );
        assert!(
            err("name: x\nactions:\n  - name: a\n    export: a b\n    dummy: {}\n")
                .starts_with("f.yml:4:13: action 'a': `export` must be")
        );
        assert_eq!(
            err("name: x\nname: y\nactions: [{name: a, dummy: {}}]\n"),
            "f.yml:2:1: duplicate key `name`"
        );
        let yaml = err("name: x\nactions:\n  - name: a\n    dummy: {result: [PASSED\n");
        assert!(
            yaml.starts_with("f.yml:") && yaml.contains("not valid YAML"),
            "{yaml}"
        );
        assert!(err("- a\n").contains("a formula is a mapping"));
    }

    #[test]
    fn fill_types_plain_scalars_and_substitutes_keys() {
        let text =
            "a: 1\nb: '1'\nc: true\nd: \"true\"\ne: ~\nf: 1.5\ng: [x, $v]\n${k}: $v\nh: 1.2.3\n";
        let node = marked_yaml::parse_yaml_with_options(0, text, options()).unwrap();
        let mut vars = Vars::new();
        vars.insert("v".into(), json!(["l"]));
        vars.insert("k".into(), json!("key"));
        let v = fill(&node, &vars).ok().unwrap();
        assert_eq!(
            v,
            json!({"a": 1, "b": "1", "c": true, "d": "true", "e": null, "f": 1.5,
                   "g": ["x", ["l"]], "key": ["l"], "h": "1.2.3"})
        );
    }

    #[test]
    fn fill_reports_the_scalar_of_an_undefined_variable() {
        let node = marked_yaml::parse_yaml(0, "a:\n  b: x/${nope}\n").unwrap();
        let e = fill(&node, &Vars::new()).err().unwrap();
        assert_eq!(e.at, Pos { line: 2, column: 6 });
        assert_eq!(
            e.error,
            TemplateError::Undefined {
                offset: 2,
                name: "nope".into()
            }
        );
        let refs = references(&node);
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].1.as_deref(), Ok("nope"));
    }
}
