//! Strict task_data decoding and artifact references.

use crate::{ArtifactId, Error, Result};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Decodes task_data strictly into `T`, as the SDK does before
/// [`Task::validate`](crate::Task::validate) and
/// [`Task::execute`](crate::Task::execute): an unknown key, a missing key or
/// a wrong type is an [`Error::Invalid`] that names the key
/// (`task_data: input.artifact: invalid type ...`, `task_data: unknown key
/// 'input.extra'`), whatever serde attributes `T` uses.
///
/// ```
/// use taskhost_sdk::{Error, decode_task_data};
///
/// #[derive(Debug, serde::Deserialize)]
/// struct Data { suite: String, #[serde(default)] jobs: Option<u32> }
///
/// let data: Data = decode_task_data(r#"{"suite": "trixie"}"#)?;
/// assert_eq!((data.suite.as_str(), data.jobs), ("trixie", None));
///
/// let e = decode_task_data::<Data>(r#"{"suite": "trixie", "job": 4}"#).unwrap_err();
/// assert_eq!(e, Error::Invalid("task_data: unknown key 'job' (extra fields not permitted)".into()));
/// # Ok::<(), Error>(())
/// ```
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
/// input key the manifest declares under `[[inputs]]` with an artifact
/// id; use [`ArtifactRef::id`] to get it.
///
/// ```
/// use taskhost_sdk::ArtifactRef;
///
/// #[derive(serde::Deserialize)]
/// struct Data { input: Input }
/// #[derive(serde::Deserialize)]
/// struct Input { artifact: ArtifactRef }
///
/// let data: Data = serde_json::from_str(r#"{"input": {"artifact": 12}}"#).unwrap();
/// assert_eq!(data.input.artifact, ArtifactRef::Id(12));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ArtifactRef {
    /// An artifact id, as the host hands resolved inputs over.
    Id(ArtifactId),
    /// A lookup (`debian/match:codename=trixie`) or a local file path, as
    /// the user wrote it; the host resolves it before the plugin runs when
    /// its key is declared under `[[inputs]]`.
    Lookup(String),
}

impl ArtifactRef {
    /// The resolved artifact id. An unresolved [`ArtifactRef::Lookup`]
    /// (its key is not declared under `[[inputs]]` in the manifest) is an
    /// [`Error::Invalid`] saying so.
    ///
    /// ```
    /// use taskhost_sdk::ArtifactRef;
    /// assert_eq!(ArtifactRef::Id(12).id(), Ok(12));
    /// assert!(ArtifactRef::Lookup("hello.build".into()).id().is_err());
    /// ```
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
