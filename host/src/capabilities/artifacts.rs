//! `taskhost:plugin/artifacts`: the run sees its input artifacts, the ones
//! it creates and those its granted lookups find, nothing else; it creates
//! only declared categories, within its quotas.

use super::bindings::Error;
use super::bindings::taskhost::plugin::artifacts::{
    self, Artifact, FileInfo, Input, NewArtifact, RelationType,
};
use super::{RunState, bad_path};
use crate::store::{self, ArtifactId, NewFile, Relation, StoreError};

fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound(_) | StoreError::NoSuchFile { .. } => Error::NotFound(e.to_string()),
        StoreError::Invalid(_) => Error::Invalid(e.to_string()),
        _ => Error::Failed(e.to_string()),
    }
}

impl RunState {
    /// The grant check of every artifact read.
    pub(super) fn visible(&mut self, call: &str, id: ArtifactId) -> Result<(), Error> {
        let run = &mut self.run;
        run.granter.read(call, id).map_err(|d| run.denied(call, d))
    }
}

impl RunState {
    async fn artifact(&mut self, call: &str, id: ArtifactId) -> Result<Artifact, Error> {
        self.visible(call, id)?;
        let a = self
            .run
            .store(move |s| s.get(id))
            .await
            .map_err(store_error)?;
        Ok(Artifact {
            id: a.id,
            category: a.category,
            data: a.data.to_string(),
            files: a
                .files
                .into_iter()
                .map(|f| FileInfo {
                    name: f.name,
                    size: f.size,
                    sha256: f.sha256,
                })
                .collect(),
        })
    }
}

impl artifacts::Host for RunState {
    async fn get(&mut self, id: ArtifactId) -> Result<Artifact, Error> {
        self.artifact("artifacts.get", id).await
    }

    async fn inputs(&mut self) -> Result<Vec<Input>, Error> {
        let mut inputs = Vec::with_capacity(self.run.inputs.len());
        for (key, id) in self.run.inputs.clone() {
            let artifact = self.artifact("artifacts.inputs", id).await?;
            inputs.push(Input { key, artifact });
        }
        Ok(inputs)
    }

    async fn fetch(&mut self, id: ArtifactId, target_dir: String) -> Result<Vec<String>, Error> {
        self.visible("artifacts.fetch", id)?;
        crate::workspace::check(&target_dir).map_err(bad_path)?;
        let artifact = self
            .run
            .store(move |s| s.get(id))
            .await
            .map_err(store_error)?;
        let ws = &self.run.workspace;
        ws.create_dir_all(&target_dir)
            .map_err(|e| Error::Invalid(format!("target dir '{target_dir}': {e}")))?;
        // Open everything here (cheap, checked); copy off the async threads.
        let mut copies = Vec::with_capacity(artifact.files.len());
        for file in &artifact.files {
            let rel = format!("{}/{}", target_dir.trim_end_matches('/'), file.name);
            let source = self
                .run
                .store
                .file_path(id, &file.name)
                .map_err(store_error)?;
            let from = std::fs::File::open(&source)
                .map_err(|e| Error::Failed(format!("{}: {e}", source.display())))?;
            let to = ws
                .create_file(&rel)
                .map_err(|e| Error::Invalid(format!("'{rel}': {e}")))?;
            copies.push((rel, from, to));
        }
        let paths = tokio::task::spawn_blocking(move || {
            let copy = |(rel, mut from, mut to): (String, std::fs::File, std::fs::File)| {
                std::io::copy(&mut from, &mut to)
                    .map(|_| rel.clone())
                    .map_err(|e| Error::Failed(format!("copying into '{rel}': {e}")))
            };
            copies
                .into_iter()
                .map(copy)
                .collect::<Result<Vec<_>, Error>>()
        })
        .await
        .map_err(|e| Error::Failed(format!("copy task: {e}")))??;
        self.run.log.info(
            "artifacts",
            &format!(
                "fetched artifact {id} into {target_dir}/ ({} files)",
                paths.len()
            ),
        );
        Ok(paths)
    }

    async fn create(&mut self, new: NewArtifact) -> Result<ArtifactId, Error> {
        let run = &mut self.run;
        let files = u64::try_from(new.files.len()).unwrap_or(u64::MAX);
        run.granter
            .create(&new.category, files)
            .map_err(|d| run.denied("artifacts.create", d))?;
        let data: serde_json::Value = serde_json::from_str(&new.data)
            .map_err(|e| Error::Invalid(format!("artifact data is not JSON: {e}")))?;
        let mut files = Vec::with_capacity(new.files.len());
        for f in new.files {
            // Opened through the workspace, so a planted symlink cannot
            // smuggle a host file into the store.
            let file = run
                .workspace
                .open(&f.path)
                .map_err(|e| Error::NotFound(format!("file '{}': {e}", f.path)))?;
            files.push(NewFile {
                name: f.name,
                source: file.into(),
            });
        }
        let new = store::NewArtifact {
            category: new.category,
            data,
            files,
            created_by: Some(run.run_id.clone()),
            relations: Vec::new(),
        };
        // Hashing and fsync of big files stay off the async threads.
        let store = run.store.clone();
        let artifact = tokio::task::spawn_blocking(move || store.create(new))
            .await
            .map_err(|e| Error::Failed(format!("store task: {e}")))?
            .map_err(store_error)?;
        self.run.log.info(
            "artifacts",
            &format!("created artifact {} ({})", artifact.id, artifact.category),
        );
        self.run.granter.note_created(artifact.id);
        Ok(artifact.id)
    }

    async fn lookup(&mut self, query: String, category: String) -> Result<ArtifactId, Error> {
        let run = &mut self.run;
        let id = match query.parse::<ArtifactId>() {
            // A bare id is one the run was given (or created, or found).
            Ok(id) => {
                run.granter
                    .read("artifacts.lookup", id)
                    .map_err(|d| run.denied("artifacts.lookup", d))?;
                let a = run.store(move |s| s.get(id)).await.map_err(store_error)?;
                if a.category != category {
                    return Err(Error::Invalid(format!(
                        "artifact {id} is a {}, not a {category}",
                        a.category
                    )));
                }
                id
            }
            Err(_) => {
                run.granter
                    .lookup(&query, &category)
                    .map_err(|d| run.denied("artifacts.lookup", d))?;
                let (q, c) = (query.clone(), category.clone());
                let id = run
                    .store(move |s| store::lookup(s, &q, std::slice::from_ref(&c)))
                    .await
                    .map_err(store_error)?;
                run.granter.add_found(id);
                id
            }
        };
        run.log
            .info("artifacts", &format!("lookup {query} -> artifact {id}"));
        Ok(id)
    }

    async fn relate(
        &mut self,
        source: ArtifactId,
        target: ArtifactId,
        relation: RelationType,
    ) -> Result<(), Error> {
        let relation = match relation {
            RelationType::RelatesTo => Relation::RelatesTo,
            RelationType::Extends => Relation::Extends,
            RelationType::BuiltUsing => Relation::BuiltUsing,
        };
        let run = &mut self.run;
        run.granter
            .relate(source, target, relation.as_str())
            .map_err(|d| run.denied("artifacts.relate", d))?;
        run.store(move |s| s.relate(source, target, relation))
            .await
            .map_err(store_error)?;
        run.log.info(
            "artifacts",
            &format!("artifact {source} {relation} {target}"),
        );
        Ok(())
    }
}
