//! The fetch-inputs stage: task_data keys the manifest declares as inputs
//! become artifact ids. Ids are checked, lookups resolved (each one
//! allowed by the granter first), local files imported.

use super::RunError;
use crate::manifest::Manifest;
use crate::runlog::RunLog;
use crate::store::{ArtifactId, ArtifactStore};
use serde_json::Value;
use std::path::Path;

/// Every lookup string in the declared input keys, with the categories
/// its input accepts: each needs the granter's leave before it runs.
/// Without `local_files` (a queued or child run), no string is a path.
pub(crate) fn lookups(
    manifest: &Manifest,
    task_data: &Value,
    local_files: bool,
) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for input in &manifest.inputs {
        let pointer = format!("/{}", input.key.replace('.', "/"));
        let values: Vec<&Value> = match task_data.pointer(&pointer) {
            Some(Value::Array(items)) if input.multiple => items.iter().collect(),
            Some(other) => vec![other],
            None => continue,
        };
        for value in values {
            if let Value::String(s) = value
                && crate::store::Lookup::is_lookup(s)
                && !(local_files && Path::new(s).exists())
            {
                found.push((s.clone(), input.categories.clone()));
            }
        }
    }
    found
}

/// Replaces each declared input key's value with an artifact id: ids are
/// checked, local files are imported as the input's first category, if
/// `local_files` (the run's task_data came from this machine's user).
pub(crate) fn resolve_inputs(
    manifest: &Manifest,
    task_data: &mut Value,
    store: &dyn ArtifactStore,
    run_id: &str,
    log: &RunLog,
    local_files: bool,
) -> Result<Vec<(String, ArtifactId)>, RunError> {
    let mut ids = Vec::new();
    for input in &manifest.inputs {
        let pointer = format!("/{}", input.key.replace('.', "/"));
        let Some(slot) = task_data.pointer_mut(&pointer) else {
            continue;
        };
        let slots: Vec<&mut Value> = match slot {
            Value::Array(items) if input.multiple => items.iter_mut().collect(),
            other => vec![other],
        };
        for value in slots {
            let id = resolve_one(
                &input.key,
                &input.categories,
                value,
                store,
                run_id,
                log,
                local_files,
            )?;
            *value = Value::from(id);
            ids.push((input.key.clone(), id));
        }
    }
    Ok(ids)
}

fn resolve_one(
    key: &str,
    categories: &[String],
    value: &Value,
    store: &dyn ArtifactStore,
    run_id: &str,
    log: &RunLog,
    local_files: bool,
) -> Result<ArtifactId, RunError> {
    let by_id = |id: ArtifactId| -> Result<ArtifactId, RunError> {
        let artifact = store
            .get(id)
            .map_err(|e| RunError::Invalid(format!("{key}: {e}")))?;
        if !categories.contains(&artifact.category) {
            return Err(RunError::Invalid(format!(
                "{key}: unexpected artifact category: '{}'. Valid categories: {categories:?}",
                artifact.category
            )));
        }
        log.info(
            "fetch-inputs",
            &format!("{key}: artifact {id} ({})", artifact.category),
        );
        Ok(id)
    };
    match value {
        Value::Number(n) => by_id(
            n.as_u64()
                .ok_or_else(|| RunError::Invalid(format!("{key}: {n} is not an artifact id")))?,
        ),
        Value::String(s) if s.parse::<ArtifactId>().is_ok() => by_id(s.parse().unwrap_or_default()),
        Value::String(s)
            if crate::store::Lookup::is_lookup(s) && !(local_files && Path::new(s).exists()) =>
        {
            let id = crate::store::lookup(store, s, categories)
                .map_err(|e| RunError::Invalid(format!("{key}: {e}")))?;
            log.info("fetch-inputs", &format!("{key}: {s} is artifact {id}"));
            by_id(id)
        }
        Value::String(s) if !local_files => Err(RunError::Invalid(format!(
            "{key}: '{s}' is not an artifact id or a lookup; a queued or child run cannot \
             import files from the machine that runs it (import them first: \
             `runtask artifact import FILE`, then give the id)"
        ))),
        Value::String(s) => {
            let path = Path::new(s);
            let meta = std::fs::metadata(path).map_err(|e| {
                RunError::Invalid(format!(
                    "{key}: '{s}' is neither an artifact id nor a readable file: {e}"
                ))
            })?;
            if !meta.is_file() {
                return Err(RunError::Invalid(format!(
                    "{key}: '{s}' is not a regular file"
                )));
            }
            // The file's kind picks the category (a .dsc is a source
            // package); it must be one this input accepts.
            let category = match crate::import::category_for(path) {
                Some(implied) if categories.iter().any(|c| c == implied) => implied.to_string(),
                Some(implied) => {
                    return Err(RunError::Invalid(format!(
                        "{key}: unexpected artifact category: '{implied}' (from '{s}'). Valid categories: {categories:?}"
                    )));
                }
                None => categories.first().cloned().unwrap_or_default(),
            };
            let artifact = crate::import::import(
                store,
                &[path.to_path_buf()],
                &category,
                None,
                Some(run_id.to_string()),
            )
            .map_err(|e| RunError::Invalid(format!("{key}: importing '{s}': {e}")))?;
            log.info(
                "fetch-inputs",
                &format!(
                    "{key}: imported {s} as artifact {} ({category})",
                    artifact.id
                ),
            );
            Ok(artifact.id)
        }
        other => Err(RunError::Invalid(format!(
            "{key}: expected an artifact id, a lookup or a file path, got {other}"
        ))),
    }
}
