//! `$var` / `${var}` substitution with Python's `string.Template` rules,
//! plus dotted access (`${build.nvr}`, `${rpms.0}`) in the braced form.
//!
//! - `$$` is a literal `$`;
//! - `$name` and `${name}` name a variable: a letter or `_`, then letters,
//!   digits or `_` (ASCII, any case);
//! - `${a.b.0}` reaches into an exported mapping (`b`) or list (`0`);
//! - any other `$` is an invalid placeholder, an error as in Python.
//!
//! A value that is one placeholder and nothing else (`${rpms}`) keeps its
//! type (a list stays a list); inside text, strings are inserted as they
//! are and other values as JSON.

use serde_json::Value;
use std::collections::BTreeMap;

/// Formula variables by name.
pub type Vars = BTreeMap<String, Value>;

/// One piece of a template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Dollar,
    /// The path: `a`, or `a.b.0`.
    Var(Vec<&'a str>),
}

/// Why a template could not be filled in. `offset` is the byte offset of
/// the placeholder in the template.
#[derive(Debug, PartialEq, Eq)]
pub enum TemplateError {
    Invalid {
        offset: usize,
    },
    Undefined {
        offset: usize,
        name: String,
    },
    NoSuchKey {
        offset: usize,
        path: String,
        key: String,
    },
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Invalid { .. } => f.write_str(
                "invalid placeholder: `$` starts `$name` or `${name}`; write `$$` for a literal `$`",
            ),
            TemplateError::Undefined { name, .. } => write!(
                f,
                "undefined variable '{name}' (defined are the runtime variables and earlier actions' `export:` names)"
            ),
            TemplateError::NoSuchKey { path, key, .. } => {
                write!(f, "'{path}' has no '{key}'")
            }
        }
    }
}

impl TemplateError {
    pub fn offset(&self) -> usize {
        match self {
            TemplateError::Invalid { offset }
            | TemplateError::Undefined { offset, .. }
            | TemplateError::NoSuchKey { offset, .. } => *offset,
        }
    }
}

/// A variable name: a letter or `_`, then letters, digits or `_`.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Length of the identifier at the start of `s`.
fn ident_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if !bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return 0;
    }
    bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count()
}

/// Splits a template into pieces with their offsets.
fn parse(template: &str) -> Result<Vec<(usize, Piece<'_>)>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = 0;
    let mut i = 0;
    let bytes = template.as_bytes();
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if rest < i {
            pieces.push((rest, Piece::Text(&template[rest..i])));
        }
        let after = &template[i + 1..];
        if after.starts_with('$') {
            pieces.push((i, Piece::Dollar));
            i += 2;
        } else if let Some(inner) = after.strip_prefix('{') {
            let close = inner
                .find('}')
                .ok_or(TemplateError::Invalid { offset: i })?;
            let path: Vec<&str> = inner[..close].split('.').collect();
            let valid = is_name(path[0])
                && path[1..].iter().all(|s| {
                    is_name(s) || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                });
            if !valid {
                return Err(TemplateError::Invalid { offset: i });
            }
            pieces.push((i, Piece::Var(path)));
            i += 2 + close + 1;
        } else {
            let n = ident_len(after);
            if n == 0 {
                return Err(TemplateError::Invalid { offset: i });
            }
            pieces.push((i, Piece::Var(vec![&after[..n]])));
            i += 1 + n;
        }
        rest = i;
    }
    if rest < bytes.len() {
        pieces.push((rest, Piece::Text(&template[rest..])));
    }
    Ok(pieces)
}

/// The variables `template` names (the first path segment), with offsets.
pub fn references(template: &str) -> Result<Vec<(usize, &str)>, TemplateError> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|(at, p)| match p {
            Piece::Var(path) => Some((at, path[0])),
            _ => None,
        })
        .collect())
}

/// True when `template` holds a placeholder (or `$$`).
pub fn has_placeholders(template: &str) -> bool {
    template.contains('$')
}

fn lookup(vars: &Vars, path: &[&str], offset: usize) -> Result<Value, TemplateError> {
    let mut value = vars.get(path[0]).ok_or_else(|| TemplateError::Undefined {
        offset,
        name: path[0].to_string(),
    })?;
    for (n, key) in path.iter().enumerate().skip(1) {
        let next = match value {
            Value::Object(map) => map.get(*key),
            Value::Array(list) => key.parse::<usize>().ok().and_then(|i| list.get(i)),
            _ => None,
        };
        value = next.ok_or_else(|| TemplateError::NoSuchKey {
            offset,
            path: path[..n].join("."),
            key: key.to_string(),
        })?;
    }
    Ok(value.clone())
}

/// Fills in `template`. One placeholder alone keeps its value's type.
pub fn substitute(template: &str, vars: &Vars) -> Result<Value, TemplateError> {
    let pieces = parse(template)?;
    if let [(at, Piece::Var(path))] = pieces.as_slice() {
        return lookup(vars, path, *at);
    }
    let mut out = String::with_capacity(template.len());
    for (at, piece) in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Dollar => out.push('$'),
            Piece::Var(path) => match lookup(vars, &path, at)? {
                Value::String(s) => out.push_str(&s),
                other => out.push_str(&other.to_string()),
            },
        }
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.insert("workdir".into(), json!("."));
        v.insert("koji_build".into(), json!("xchat-0.5-1.fc20"));
        v.insert("rpms".into(), json!(["a.rpm", "b.rpm"]));
        v.insert("out".into(), json!({"downloaded_rpms": ["x.rpm"], "n": 2}));
        v
    }

    #[test]
    fn substitutes_both_forms_and_dollar_dollar() {
        let v = vars();
        assert_eq!(substitute("$workdir/rpms", &v), Ok(json!("./rpms")));
        assert_eq!(
            substitute("${koji_build}.log", &v),
            Ok(json!("xchat-0.5-1.fc20.log"))
        );
        assert_eq!(
            substitute("cost: $$5 $$HOME", &v),
            Ok(json!("cost: $5 $HOME"))
        );
        assert_eq!(substitute("no vars", &v), Ok(json!("no vars")));
        // `$name.x` is `$name` then text, as in Python.
        assert_eq!(
            substitute("$koji_build.log", &v),
            Ok(json!("xchat-0.5-1.fc20.log"))
        );
    }

    #[test]
    fn a_lone_placeholder_keeps_its_type() {
        let v = vars();
        assert_eq!(substitute("${rpms}", &v), Ok(json!(["a.rpm", "b.rpm"])));
        assert_eq!(substitute("$rpms", &v), Ok(json!(["a.rpm", "b.rpm"])));
        assert_eq!(substitute("${out.n}", &v), Ok(json!(2)));
        assert_eq!(substitute("n=${out.n}", &v), Ok(json!("n=2")));
        assert_eq!(
            substitute("${rpms} ", &v),
            Ok(json!("[\"a.rpm\",\"b.rpm\"] "))
        );
    }

    #[test]
    fn dotted_access_reaches_into_maps_and_lists() {
        let v = vars();
        assert_eq!(
            substitute("${out.downloaded_rpms.0}", &v),
            Ok(json!("x.rpm"))
        );
        assert_eq!(substitute("${rpms.1}", &v), Ok(json!("b.rpm")));
        assert_eq!(
            substitute("x ${out.missing}", &v),
            Err(TemplateError::NoSuchKey {
                offset: 2,
                path: "out".into(),
                key: "missing".into()
            })
        );
        assert_eq!(
            substitute("${rpms.7}", &v),
            Err(TemplateError::NoSuchKey {
                offset: 0,
                path: "rpms".into(),
                key: "7".into()
            })
        );
    }

    #[test]
    fn undefined_and_invalid_placeholders_are_errors_with_offsets() {
        let v = vars();
        assert_eq!(
            substitute("a/${nope}/b", &v),
            Err(TemplateError::Undefined {
                offset: 2,
                name: "nope".into()
            })
        );
        for bad in [
            "$", "a $ b", "$1", "${", "${a", "${}", "${a..b}", "${.a}", "${a-b}", "${0}",
        ] {
            assert!(
                matches!(substitute(bad, &v), Err(TemplateError::Invalid { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            substitute("ok $", &v),
            Err(TemplateError::Invalid { offset: 3 })
        );
    }

    #[test]
    fn references_list_the_root_names() {
        assert_eq!(
            references("$a ${b.c} $$d ${e}").unwrap(),
            vec![(0, "a"), (3, "b"), (14, "e")]
        );
    }
}
