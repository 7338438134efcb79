//! Checking an action's params against what its directive describes.

use crate::runtime::bindings::directive::{Param, ParamType};
use serde_json::{Map, Value};

/// The name of a param that takes every key no other param names (the
/// `python` directive's keyword arguments), checked against its type.
pub const REST: &str = "**";

/// The param that takes `key`: the one of that name, else [`REST`].
fn taking<'a>(params: &'a [Param], key: &str) -> Option<&'a Param> {
    params
        .iter()
        .find(|p| p.name == key && p.name != REST)
        .or_else(|| params.iter().find(|p| p.name == REST))
}

/// Checks the value of `key`, when a param takes it (see [`check_value`]).
pub fn check_key(params: &[Param], key: &str, value: Value) -> Option<Result<Value, String>> {
    let param = taking(params, key)?;
    Some(if param.name == key {
        check_value(param, value)
    } else {
        let named = Param {
            name: key.to_string(),
            ..param.clone()
        };
        check_value(&named, value)
    })
}

/// The JSON type names used in messages.
pub fn type_name(t: ParamType) -> &'static str {
    match t {
        ParamType::String => "a string",
        ParamType::StringOrList => "a string or a list of strings",
        ParamType::StringList => "a list of strings",
        ParamType::Boolean => "true or false",
        ParamType::Integer => "an integer",
        ParamType::List => "a list",
        ParamType::Dict => "a mapping",
        ParamType::Any => "any value",
    }
}

fn found(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string '{s}'"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// Converts `value` to `t` where a formula author means it (a plain `42`
/// for a string param, one string for a list of strings), or says why not.
fn conform(t: ParamType, value: Value) -> Result<Value, Value> {
    let scalar_text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match t {
        ParamType::Any => Ok(value),
        ParamType::String => scalar_text(&value).map(Value::String).ok_or(value),
        ParamType::Boolean => match value {
            Value::Bool(_) => Ok(value),
            other => Err(other),
        },
        ParamType::Integer => match &value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(value),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| value.clone()),
            _ => Err(value),
        },
        ParamType::StringList | ParamType::StringOrList => {
            let list = match &value {
                Value::Array(items) => items.clone(),
                v if scalar_text(v).is_some() => vec![v.clone()],
                _ => return Err(value),
            };
            let texts: Option<Vec<Value>> = list
                .iter()
                .map(|v| scalar_text(v).map(Value::String))
                .collect();
            texts.map(Value::Array).ok_or(value)
        }
        ParamType::List => match value {
            Value::Array(_) => Ok(value),
            other => Err(other),
        },
        ParamType::Dict => match value {
            Value::Object(_) => Ok(value),
            other => Err(other),
        },
    }
}

/// Checks one param's value (after substitution); returns it conformed.
pub fn check_value(param: &Param, value: Value) -> Result<Value, String> {
    let value = conform(param.type_, value).map_err(|v| {
        format!(
            "param `{}` must be {}, not {}",
            param.name,
            type_name(param.type_),
            found(&v)
        )
    })?;
    if !param.choices.is_empty() {
        let values: Vec<&Value> = match &value {
            Value::Array(items) => items.iter().collect(),
            v => vec![v],
        };
        for v in values {
            let ok = v
                .as_str()
                .is_some_and(|s| param.choices.iter().any(|c| c == s));
            if !ok {
                return Err(format!(
                    "param `{}` is {}; it must be one of: {}",
                    param.name,
                    found(v),
                    param.choices.join(", ")
                ));
            }
        }
    }
    Ok(value)
}

/// Keys the directive does not take.
pub fn unknown<'a>(params: &[Param], keys: impl Iterator<Item = &'a str>) -> Option<String> {
    let unknown: Vec<&str> = keys.filter(|k| taking(params, k).is_none()).collect();
    if unknown.is_empty() {
        return None;
    }
    let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    Some(format!(
        "unknown param{} {} (it takes: {})",
        if unknown.len() > 1 { "s" } else { "" },
        unknown
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    ))
}

/// Required params that are missing.
pub fn missing(params: &[Param], has: impl Fn(&str) -> bool) -> Option<String> {
    let missing: Vec<&str> = params
        .iter()
        .filter(|p| p.required && p.name != REST && !has(&p.name))
        .map(|p| p.name.as_str())
        .collect();
    match missing.as_slice() {
        [] => None,
        [one] => {
            let doc = params
                .iter()
                .find(|p| p.name == *one)
                .map(|p| p.doc.as_str())
                .unwrap_or("");
            Some(format!("the required param `{one}` is missing ({doc})"))
        }
        many => Some(format!(
            "the required params {} are missing",
            many.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The whole check of substituted params: unknown keys, missing required
/// ones, each value's type and choices; then defaults are filled in.
/// Errors name the param; a bad value's error comes with its param.
pub fn check(params: &[Param], given: Value) -> Result<Value, (Option<String>, String)> {
    let Value::Object(given) = given else {
        if given.is_null() && !params.iter().any(|p| p.required) {
            return check(params, Value::Object(Map::new()));
        }
        return Err((
            None,
            format!(
                "params must be a mapping of param names to values, not {}",
                found(&given)
            ),
        ));
    };
    if let Some(e) = unknown(params, given.keys().map(String::as_str)) {
        return Err((None, e));
    }
    if let Some(e) = missing(params, |k| given.contains_key(k)) {
        return Err((None, e));
    }
    let mut out = Map::new();
    for param in params.iter().filter(|p| p.name != REST) {
        match given.get(&param.name) {
            Some(v) => {
                let v = check_value(param, v.clone()).map_err(|e| (Some(param.name.clone()), e))?;
                out.insert(param.name.clone(), v);
            }
            None => {
                if let Some(default) = &param.default {
                    let v = serde_json::from_str(default).map_err(|e| {
                        let why = format!(
                            "the directive's default for `{}` is not JSON: {e}",
                            param.name
                        );
                        (None, why)
                    })?;
                    out.insert(param.name.clone(), v);
                }
            }
        }
    }
    for (key, value) in given {
        if !out.contains_key(&key)
            && let Some(checked) = check_key(params, &key, value)
        {
            let value = checked.map_err(|e| (Some(key.clone()), e))?;
            out.insert(key, value);
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(name: &str, t: ParamType, required: bool, default: Option<&str>) -> Param {
        Param {
            name: name.into(),
            type_: t,
            required,
            default: default.map(String::from),
            choices: vec![],
            doc: format!("the {name}"),
        }
    }

    fn koji() -> Vec<Param> {
        vec![
            Param {
                choices: vec!["download".into(), "download_tag".into()],
                ..p("action", ParamType::String, true, None)
            },
            p("koji_build", ParamType::String, false, None),
            p("arch", ParamType::StringOrList, false, Some("[\"noarch\"]")),
            p("src", ParamType::Boolean, false, Some("false")),
            p("target_dir", ParamType::String, true, None),
            p("count", ParamType::Integer, false, None),
        ]
    }

    #[test]
    fn fills_defaults_and_conforms_values() {
        let out = check(&koji(), json!({"action": "download", "target_dir": ".", "arch": "x86_64", "count": "3", "koji_build": 42})).unwrap();
        assert_eq!(
            out,
            json!({"action": "download", "target_dir": ".", "arch": ["x86_64"], "src": false, "count": 3, "koji_build": "42"})
        );
    }

    fn check_text(params: &[Param], given: Value) -> Result<Value, String> {
        check(params, given).map_err(|e| e.1)
    }

    #[test]
    fn errors_name_the_param() {
        let e = check_text(&koji(), json!({"action": "download"})).unwrap_err();
        assert_eq!(
            e,
            "the required param `target_dir` is missing (the target_dir)"
        );
        let e = check_text(
            &koji(),
            json!({"action": "download", "target_dir": ".", "src": "yes"}),
        )
        .unwrap_err();
        assert_eq!(e, "param `src` must be true or false, not the string 'yes'");
        let e = check_text(&koji(), json!({"action": "upload", "target_dir": "."})).unwrap_err();
        assert_eq!(
            e,
            "param `action` is the string 'upload'; it must be one of: download, download_tag"
        );
        let e = check_text(
            &koji(),
            json!({"action": "download", "target_dir": ".", "arches": []}),
        )
        .unwrap_err();
        assert!(
            e.starts_with("unknown param `arches` (it takes: action, koji_build, arch"),
            "{e}"
        );
        let e = check_text(
            &koji(),
            json!({"action": "download", "target_dir": {"a": 1}}),
        )
        .unwrap_err();
        assert_eq!(e, "param `target_dir` must be a string, not a mapping");
        let e = check_text(
            &koji(),
            json!({"action": "download", "target_dir": ".", "arch": [["x"]]}),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "param `arch` must be a string or a list of strings, not a list"
        );
        let e = check_text(&koji(), json!(["a"])).unwrap_err();
        assert!(e.starts_with("params must be a mapping"), "{e}");
    }

    #[test]
    fn a_rest_param_takes_every_other_key_with_its_type() {
        let params = vec![
            p("file", ParamType::String, true, None),
            p(REST, ParamType::Any, false, None),
        ];
        let out = check(
            &params,
            json!({"file": "t.py", "n": 3, "dirs": ["a"], "opts": {"k": null}}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"file": "t.py", "n": 3, "dirs": ["a"], "opts": {"k": null}})
        );
        assert_eq!(unknown(&params, ["anything"].into_iter()), None);
        let e = check_text(&params, json!({"n": 3})).unwrap_err();
        assert!(e.contains("`file` is missing"), "{e}");

        let strings = vec![p(REST, ParamType::String, false, None)];
        let e = check_text(&strings, json!({"n": [1]})).unwrap_err();
        assert_eq!(e, "param `n` must be a string, not a list");
        assert_eq!(check_key(&strings, "n", json!(3)), Some(Ok(json!("3"))));
        assert_eq!(check_key(&koji()[..1], "n", json!(3)), None);
    }

    #[test]
    fn null_params_are_empty_when_nothing_is_required() {
        let params = vec![p("msg", ParamType::String, false, Some("\"hi\""))];
        assert_eq!(check(&params, Value::Null).unwrap(), json!({"msg": "hi"}));
    }
}
