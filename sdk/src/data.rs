//! Strict task_data decoding and artifact references.

use crate::{ArtifactId, Error, Result};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Decodes task_data strictly. Errors name the key: `input.artifact:
/// invalid type ...`, `unknown key 'input.extra'`.
pub fn decode_task_data<T: DeserializeOwned>(json: &str) -> Result<T> {
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_str(json);
    let mut on_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let ignored = serde_ignored::Deserializer::new(&mut de, &mut on_unknown);
    let value: T = serde_path_to_error::deserialize(ignored).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            Error::Invalid(format!("task_data: {inner}"))
        } else {
            Error::Invalid(format!("task_data: {path}: {inner}"))
        }
    })?;
    if !unknown.is_empty() {
        let keys = unknown
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::Invalid(format!(
            "task_data: unknown key {keys} (extra fields not permitted)"
        )));
    }
    Ok(value)
}

/// A reference to an input artifact: an artifact id, or (before the host
/// resolves inputs) a local file path or lookup string.
///
/// By the time [`crate::Task::execute`] runs, the host has replaced every
/// input key the manifest declares with an artifact id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ArtifactRef {
    Id(ArtifactId),
    Lookup(String),
}

impl ArtifactRef {
    /// The resolved artifact id.
    pub fn id(&self) -> Result<ArtifactId> {
        match self {
            ArtifactRef::Id(id) => Ok(*id),
            ArtifactRef::Lookup(s) => Err(Error::Invalid(format!(
                "artifact reference '{s}' was not resolved by the host; declare its key under [[inputs]] in the manifest"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Data {
        input: Input,
        #[serde(default)]
        extra_flags: Vec<String>,
    }
    #[derive(Deserialize, Debug)]
    struct Input {
        artifact: ArtifactRef,
    }

    #[test]
    fn decodes_ids_and_paths() {
        let d: Data = decode_task_data(r#"{"input": {"artifact": 12}}"#).unwrap();
        assert_eq!(d.input.artifact, ArtifactRef::Id(12));
        assert!(d.extra_flags.is_empty());
        let d: Data = decode_task_data(r#"{"input": {"artifact": "x.build"}}"#).unwrap();
        assert!(d.input.artifact.id().is_err());
    }

    #[test]
    fn unknown_keys_are_named_even_when_nested() {
        let e = decode_task_data::<Data>(r#"{"input": {"artifact": 1, "oops": 2}, "bogus": 1}"#)
            .unwrap_err();
        let Error::Invalid(msg) = e else {
            panic!("{e:?}")
        };
        assert!(msg.contains("'input.oops'"), "{msg}");
        assert!(msg.contains("'bogus'"), "{msg}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = decode_task_data::<Data>(r#"{"input": {"artifact": 1}, "extra_flags": "--pie"}"#)
            .unwrap_err();
        let Error::Invalid(msg) = e else {
            panic!("{e:?}")
        };
        assert!(msg.contains("extra_flags"), "{msg}");
    }

    #[test]
    fn missing_key_is_named() {
        let e = decode_task_data::<Data>(r#"{"input": {}}"#).unwrap_err();
        let Error::Invalid(msg) = e else {
            panic!("{e:?}")
        };
        assert!(msg.contains("input") && msg.contains("artifact"), "{msg}");
    }
}
