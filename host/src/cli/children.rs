//! The child runs of `runtask run` (`runs.submit`): a child's task is found
//! as `runtask run TASK` finds it, by name only, and runs under the same
//! policy file and flags, with that task's own grants.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use taskhost::run::children::{ChildRun, Spawner};
use taskhost::run::{RunOptions, run_task};
use taskhost::runtime::Runtime;
use taskhost::store::ArtifactStore;
use tokio::sync::Semaphore;

use super::setup::Grants;

/// How deep runs may nest (a run's child's child ...).
const MAX_DEPTH: u32 = 3;

/// Starts child runs, at most `slots` at once.
#[derive(Clone)]
pub(crate) struct Children {
    runtime: Arc<Runtime>,
    store: Arc<dyn ArtifactStore>,
    grants: Arc<Grants>,
    dirs: Arc<Vec<PathBuf>>,
    /// The options of the submitting run (children get their own id,
    /// parent, and no notifications).
    options: RunOptions,
    slots: Arc<Semaphore>,
    depth: u32,
}

impl Children {
    /// A spawner for the children of a run with `options`; `slots`
    /// children run at once (each holds one plugin instance).
    pub(crate) fn new(
        runtime: Arc<Runtime>,
        store: Arc<dyn ArtifactStore>,
        grants: Arc<Grants>,
        dirs: Vec<PathBuf>,
        options: RunOptions,
        slots: usize,
    ) -> Arc<Self> {
        Arc::new(Children {
            runtime,
            store,
            grants,
            dirs: Arc::new(dirs),
            options,
            slots: Arc::new(Semaphore::new(slots.max(1))),
            depth: 1,
        })
    }
}

/// The plugin of task `name`, found by name as `runtask run NAME` finds
/// it, and what `grants` let it do. Blocks (reads and compiles).
pub(crate) fn load_task(
    runtime: &Runtime,
    grants: &Grants,
    dirs: &[PathBuf],
    name: &str,
) -> Result<(taskhost::runtime::Plugin, taskhost::policy::Permit), String> {
    let found = taskhost::plugins::find(name, dirs).map_err(|e| e.to_string())?;
    let plugin = runtime
        .load(&found.wasm, found.origin_name(name))
        .map_err(|e| format!("plugin {name}: {e}"))?;
    let permit = grants
        .permit(&plugin, found.origin)
        .map_err(|e| format!("{e:#}"))?;
    Ok((plugin, permit))
}

impl Spawner for Children {
    fn spawn(&self, task: String, task_data: Value, run_id: String, parent: String) -> ChildRun {
        let this = self.clone();
        Box::pin(async move {
            // A name, never a path: the plugin picks a task, not a file.
            taskhost_manifest::check_name(&task).map_err(|e| format!("task {task:?}: {e}"))?;
            let _slot = this
                .slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| e.to_string())?;
            // Reading and compiling (or deserializing) the plugin blocks.
            let (runtime, dirs, grants, name) = (
                this.runtime.clone(),
                this.dirs.clone(),
                this.grants.clone(),
                task.clone(),
            );
            let (plugin, permit) =
                tokio::task::spawn_blocking(move || load_task(&runtime, &grants, &dirs, &name))
                    .await
                    .map_err(|e| format!("loading {task}: {e}"))??;
            let grandchildren: Option<Arc<dyn Spawner>> = (this.depth < MAX_DEPTH).then(|| {
                Arc::new(Children {
                    depth: this.depth + 1,
                    ..this.clone()
                }) as Arc<dyn Spawner>
            });
            let options = RunOptions {
                run_id: Some(run_id),
                parent: Some(parent),
                children: grandchildren,
                notification_channels: Arc::default(),
                // task_data a plugin wrote: no files of this machine.
                local_files: false,
                ..this.options.clone()
            };
            run_task(
                &this.runtime,
                this.store.clone(),
                &plugin,
                task_data,
                permit,
                &options,
            )
            .await
            .map_err(|e| e.to_string())
        })
    }
}
