//! updatesuitelintiancollection: keeps a `debian:suite-lintian` collection
//! in line with its `debian:suite` (debusine's UpdateSuiteLintianCollection,
//! an UpdateDerivedCollection). What the suite calls for and how it compares
//! come from `taskhost_debian::derived`. Items no longer called for are
//! removed at once; each item to add or replace gets a `lintian` child run
//! (all submitted first, so they may run side by side), whose
//! `debian:lintian` artifact for the item's architecture becomes the item.

use serde::Deserialize;
use serde_json::Value;
use taskhost_debian::derived::{self, BaseItem, Change, DerivedItem, Desired};
use taskhost_sdk::artifacts::{self, Artifact};
use taskhost_sdk::collections::{self, Collection, Item, NewItem};
use taskhost_sdk::results::{CheckResult, Tally};
use taskhost_sdk::runs::{self, RunStatus, Submitted};
use taskhost_sdk::{Error, Outcome, Result, Status, Task, log};

pub const BASE_CATEGORY: &str = "debian:suite";
pub const DERIVED_CATEGORY: &str = "debian:suite-lintian";
pub const ANALYSIS_CATEGORY: &str = "debian:lintian";

// ---- task_data --------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Data {
    /// The `debian:suite` the analyses derive from.
    pub base_collection_id: CollectionRef,
    /// The `debian:suite-lintian` to update.
    pub derived_collection_id: CollectionRef,
    /// Merged into each lintian run's task_data (an environment, a backend).
    #[serde(default)]
    pub child_task_data: Value,
    /// Analyse every item again, and never reuse an earlier lintian run.
    #[serde(default)]
    pub force: bool,
}

/// A collection: its id (looked up as `NNN@collections`) or `NAME@CATEGORY`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged, expecting = "expected a collection id or NAME@CATEGORY")]
pub enum CollectionRef {
    Id(u64),
    Query(String),
}

impl CollectionRef {
    /// What `collections::get` is asked.
    pub fn query(&self) -> String {
        match self {
            CollectionRef::Id(id) => format!("{id}@collections"),
            CollectionRef::Query(query) => query.clone(),
        }
    }

    /// A `NAME@CATEGORY` must name `category`; an id is checked once found.
    fn check(&self, key: &str, category: &str) -> Result<()> {
        let CollectionRef::Query(query) = self else {
            return Ok(());
        };
        let named = query
            .split_once('@')
            .filter(|(n, _)| !n.is_empty() && !query.contains('/'));
        match named.map(|(_, c)| c) {
            Some(c) if c == category || c == "collections" => Ok(()),
            Some(c) => Err(wrong_category(key, query, c, category)),
            None => Err(Error::invalid(format!(
                "{key}: `{query}` is neither a collection id nor NAME@CATEGORY (`bookworm@{category}`)"
            ))),
        }
    }
}

fn wrong_category(key: &str, what: &str, found: &str, want: &str) -> Error {
    Error::invalid(format!(
        "{key}: {what} is a {found} collection, not a {want}"
    ))
}

/// Reads the collection `key` names and checks its category.
fn open(key: &str, which: &CollectionRef, category: &str) -> Result<Collection> {
    let c = collections::get(&which.query())?;
    if c.category != category {
        let what = format!("{} ({})", which.query(), c.label());
        return Err(wrong_category(key, &what, &c.category, category));
    }
    Ok(c)
}

// ---- plan -------------------------------------------------------------

fn base_item(i: Item) -> Result<BaseItem> {
    let why = || {
        Error::invalid(format!(
            "base item {} ({:?}) holds no artifact",
            i.id, i.name
        ))
    };
    let artifact = i.artifact.ok_or_else(why)?;
    let (id, name, category, data) = (i.id, i.name, i.category, i.data);
    Ok(BaseItem {
        id,
        name,
        category,
        artifact,
        data,
    })
}

/// The changes that bring `derived` in line with `base`.
pub fn changes(base: &Collection, derived: &Collection, force: bool) -> Result<Vec<Change>> {
    let base_items = collections::items(base)?.into_iter().map(base_item);
    let base_items = base_items.collect::<Result<Vec<_>>>()?;
    let derived_items = collections::items(derived)?.into_iter();
    let derived_items: Vec<_> = derived_items
        .map(|Item { id, name, data, .. }| DerivedItem { id, name, data })
        .collect();
    let desired = derived::suite_lintian_desired(&base_items)
        .map_err(|e| Error::invalid(format!("{}: {e}", base.label())))?;
    let (b, n) = (base.label(), desired.len());
    log::info(format!(
        "{b}: {} items call for {n} analyses",
        base_items.len()
    ));
    Ok(derived::plan(desired, &derived_items, force))
}

// ---- apply ------------------------------------------------------------

/// A change's result, with what became of it: `added`, `replaced`,
/// `removed` (PASSED) or `failed` (FAILED: the item is left as it was).
pub type Applied = (&'static str, CheckResult);

/// Removes at once, then submits a lintian run per item to make, then
/// waits for each and adds its analysis.
pub fn apply(data: &Data, derived: &Collection, changes: Vec<Change>) -> Result<Vec<Applied>> {
    let (mut applied, mut submitted) = (Vec::new(), Vec::new());
    for change in changes {
        let (desired, change) = match change {
            Change::Add(desired) => (desired, "add"),
            Change::Replace { new, .. } => (new, "replace"),
            Change::Remove { name, .. } => {
                // Names are unique among active items: this is the one plan saw.
                collections::remove(derived, &name)?;
                let result = CheckResult::new(name, DERIVED_CATEGORY, Outcome::Passed);
                let note = "removed: the suite no longer calls for it";
                applied.push(("removed", result.note(note).keyval("change", "remove")));
                continue;
            }
        };
        let task_data = derived::lintian_task_data(&data.child_task_data, &desired)
            .map_err(|e| Error::invalid(e.to_string()))?;
        let run = runs::submit("lintian", &task_data, data.force)?;
        let how = if run.created { "submitted" } else { "reused" };
        let (name, id) = (&desired.name, &run.run_id);
        log::info(format!("{name}: lintian run {id} {how}"));
        submitted.push((desired, change, run));
    }
    for (desired, change, run) in submitted {
        applied.push(settle(derived, &desired, change, run)?);
    }
    Ok(applied)
}

/// Waits for `run` and adds the analysis it made for `desired`, if any.
fn settle(
    into: &Collection,
    desired: &Desired,
    change: &'static str,
    run: Submitted,
) -> Result<Applied> {
    let (child, reused) = (runs::wait(&run.run_id)?, !run.created);
    let (run, status) = (&child.run_id, child.status.as_str());
    let result = |outcome| {
        let result = CheckResult::new(&desired.name, DERIVED_CATEGORY, outcome);
        result.keyval("change", change).keyval("lintian_run", run)
    };
    let unchanged = |why: String| {
        (
            "failed",
            result(Outcome::Failed).note(why + "; item unchanged"),
        )
    };
    if !matches!(child.status, RunStatus::Success | RunStatus::Failure) {
        let why = child.error.as_deref().unwrap_or("it gave no reason");
        return Ok(unchanged(format!(
            "lintian run {run} ended in {status}: {why}"
        )));
    }
    let architecture = &desired.data["architecture"];
    let made = child.artifacts.iter().map(|&id| artifacts::get(id));
    let made = made.collect::<Result<Vec<_>>>()?;
    let ours =
        |a: &&Artifact| a.category == ANALYSIS_CATEGORY && a.data["architecture"] == *architecture;
    let Some(artifact) = made.iter().find(ours).map(|a| a.id) else {
        let what = format!("no {ANALYSIS_CATEGORY} artifact for architecture {architecture}");
        return Ok(unchanged(format!(
            "lintian run {run} ({status}) made {what}"
        )));
    };
    let mut item = NewItem::artifact(&desired.name, artifact, desired.item_data());
    if change == "replace" {
        item = item.replacing();
    }
    collections::add(into, item)?;
    let verb = if change == "add" { "added" } else { "replaced" };
    let reused = if reused { ", an equal earlier run" } else { "" };
    let note = format!("{verb} from run {run} (lintian {status}{reused})");
    Ok((
        verb,
        result(Outcome::Passed)
            .note(note)
            .artifact(format!("artifact:{artifact}")),
    ))
}

// ---- results ----------------------------------------------------------

/// Emits one result per change and logs the tally; the task fails when a
/// change was not made.
pub fn report(derived: &Collection, applied: Vec<Applied>) -> Result<Status> {
    let count = |what: &str| applied.iter().filter(|(w, _)| *w == what).count();
    let counts = ["added", "replaced", "removed", "failed"].map(|w| format!("{} {w}", count(w)));
    log::info(format!("{}: {}", derived.label(), counts.join(", ")));
    let mut results = Tally::default();
    for (_, result) in applied {
        results.emit(result.keyval("collection", derived.label()))?;
    }
    Ok(results.status())
}

// ---- the task ---------------------------------------------------------

pub struct UpdateSuiteLintianCollection;

impl Task for UpdateSuiteLintianCollection {
    type Data = Data;
    const NAME: &'static str = "updatesuitelintiancollection";
    const SUMMARY: &'static str =
        "Keeps a debian:suite-lintian collection in line with its debian:suite";
    const TASK_DATA_DOC: &'static str = "\
- `base_collection_id` (required): the debian:suite, by id or NAME@CATEGORY (`bookworm@debian:suite`);
  an id is looked up as `NNN@collections`, which the policy must grant.
- `derived_collection_id` (required): the debian:suite-lintian to update, the same way.
- `child_task_data` (optional): an object merged into each lintian run's task_data (`environment`,
  `backend`, `fail_on_severity`...); `input` is set per item.
- `force` (optional, default false): analyse every item again, reusing no earlier lintian run.
A lintian run that ends in success or failure gives the item its analysis; one that ends otherwise,
or makes no analysis for the item's architecture, leaves the item as it was and fails the task.";

    fn validate(data: &Data) -> Result<()> {
        let (base, derived) = (&data.base_collection_id, &data.derived_collection_id);
        base.check("base_collection_id", BASE_CATEGORY)?;
        derived.check("derived_collection_id", DERIVED_CATEGORY)?;
        // The checks each item's task_data gets, on an item of no packages.
        let none = Desired {
            name: String::new(),
            data: Value::Null,
            derived_from: Vec::new(),
            source_artifact: None,
            binary_artifacts: Vec::new(),
        };
        let checked = derived::lintian_task_data(&data.child_task_data, &none);
        checked.map(drop).map_err(|e| Error::invalid(e.to_string()))
    }

    fn execute(data: Data) -> Result<Status> {
        let (base, derived) = (&data.base_collection_id, &data.derived_collection_id);
        let base = open("base_collection_id", base, BASE_CATEGORY)?;
        let derived = open("derived_collection_id", derived, DERIVED_CATEGORY)?;
        let changes = changes(&base, &derived, data.force)?;
        if changes.is_empty() {
            let note = format!("up to date with {}", base.label());
            log::info(format!("{}: {note}", derived.label()));
            let result = CheckResult::new(derived.label(), DERIVED_CATEGORY, Outcome::Info);
            result.note(note).emit()?;
            return Ok(Status::Success);
        }
        let applied = apply(&data, &derived, changes)?;
        report(&derived, applied)
    }
}

taskhost_sdk::export_task!(UpdateSuiteLintianCollection, manifest = "taskhost.toml");
