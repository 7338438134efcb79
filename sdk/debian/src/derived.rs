//! debusine's derived collections, pure logic: what `UpdateDerivedCollection`
//! compares and what `UpdateSuiteLintianCollection` asks for. No I/O: a
//! plugin reads the collections' active items from the host, passes them
//! here, and acts on the [`Change`]s it gets back.
//!
//! * [`suite_lintian_desired`]: the `debian:suite-lintian` items a
//!   `debian:suite`'s items call for, with the base items each derives from.
//! * [`plan`]: the generic comparison with the derived collection's items
//!   (add, replace, remove).
//! * [`lintian_task_data`]: the task_data of the Lintian work request that
//!   makes one desired item.
//!
//! What stays with the caller: removing the [`Change::Remove`] items at
//! once; for [`Change::Add`] and [`Change::Replace`], creating a lintian work
//! request only when none with the same parameters exists yet (or `force`),
//! whose `debian:lintian` output then becomes the item named
//! [`Desired::name`], with [`Desired::item_data`] as per-item data.
//!
//! Where debusine's docs and its code differ, this follows the docs (the
//! task's specification): a `_ARCH` item derives from the source, the
//! `Architecture: all` binaries and that architecture's binaries (debusine's
//! code leaves the `all` binaries out of the `_ARCH` items).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value, json};

/// `debian:source-package`, a category of [`BaseItem`].
pub const SOURCE_PACKAGE: &str = "debian:source-package";
/// `debian:binary-package`, a category of [`BaseItem`].
pub const BINARY_PACKAGE: &str = "debian:binary-package";

/// An active item of the base (`debian:suite`) collection, as the host
/// gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseItem {
    /// The collection item's id (what `derived_from` lists).
    pub id: u64,
    /// The item's name (`hello_1.0`, `hello_1.0_amd64`); only for messages.
    pub name: String,
    /// [`SOURCE_PACKAGE`] or [`BINARY_PACKAGE`].
    pub category: String,
    /// The artifact's id (what the lintian work request takes).
    pub artifact: u64,
    /// Per-item data: `{package, version}` for a source package;
    /// `{package, version, architecture, srcpkg_name, srcpkg_version}` for
    /// a binary package.
    pub data: Value,
}

/// An active item of the derived collection.
#[derive(Clone, Debug, PartialEq)]
pub struct DerivedItem {
    /// The collection item's id.
    pub id: u64,
    /// The item's name.
    pub name: String,
    /// Per-item data; its `derived_from` lists the base item ids it was
    /// made from.
    pub data: Value,
}

/// A derived item the base collection calls for.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// `{package}_{version}_{architecture}`.
    pub name: String,
    /// Per-item data without `derived_from`: `{package, version,
    /// architecture}` (see [`Desired::item_data`]).
    pub data: Value,
    /// The base item ids it derives from, sorted, without repeats.
    pub derived_from: Vec<u64>,
    /// The `debian:source-package` artifact among them, if any.
    pub source_artifact: Option<u64>,
    /// The `debian:binary-package` artifacts among them, sorted, without
    /// repeats.
    pub binary_artifacts: Vec<u64>,
}

impl Desired {
    /// The per-item data the derived item gets: [`Desired::data`] plus
    /// `derived_from`.
    pub fn item_data(&self) -> Value {
        let mut data = match &self.data {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        data.insert("derived_from".into(), json!(self.derived_from));
        Value::Object(data)
    }
}

/// A change to the derived collection.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// No item of that name exists: make it.
    Add(Desired),
    /// An item of that name exists but derives from other base items (or
    /// `force`): make it again.
    Replace {
        /// The derived item's id.
        old: u64,
        /// What it should become.
        new: Desired,
    },
    /// The item is no longer called for (or repeats a name): remove it now.
    Remove {
        /// Its name.
        name: String,
        /// Its id.
        item: u64,
    },
}

/// Why the base items or child_task_data cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A base item's data lacks a field the derived names need (or has it
    /// empty).
    MissingField {
        /// The base item's id.
        item: u64,
        /// The base item's name.
        name: String,
        /// The field.
        field: &'static str,
    },
    /// A base item's data has a field of the wrong type or with a character
    /// an item name cannot hold.
    BadField {
        /// The base item's id.
        item: u64,
        /// The base item's name.
        name: String,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A base item is neither a source nor a binary package.
    UnknownCategory {
        /// The base item's id.
        item: u64,
        /// The base item's name.
        name: String,
        /// Its category.
        category: String,
    },
    /// Two different base items with one id.
    DuplicateId {
        /// The id.
        item: u64,
    },
    /// Two source package items for one source name and version.
    TwoSources {
        /// `{package}_{version}`.
        source: String,
        /// The two base item ids.
        items: [u64; 2],
    },
    /// child_task_data (or its `input`) is not a JSON object.
    NotAnObject {
        /// `child_task_data` or `child_task_data.input`.
        key: &'static str,
        /// What it is instead.
        found: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MissingField { item, name, field } => {
                write!(f, "base item {item} ({name:?}): its data has no `{field}`")
            }
            Error::BadField {
                item,
                name,
                field,
                why,
            } => write!(f, "base item {item} ({name:?}): `{field}` {why}"),
            Error::UnknownCategory {
                item,
                name,
                category,
            } => write!(
                f,
                "base item {item} ({name:?}) is a {category:?}, not a \
                 {SOURCE_PACKAGE} or {BINARY_PACKAGE}"
            ),
            Error::DuplicateId { item } => {
                write!(f, "two different base items have the id {item}")
            }
            Error::TwoSources { source, items } => write!(
                f,
                "base items {} and {} are both the {SOURCE_PACKAGE} {source}",
                items[0], items[1]
            ),
            Error::NotAnObject { key, found } => {
                write!(f, "{key} must be a JSON object, not {found}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// What a JSON value is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl BaseItem {
    /// `data[field]` if it is a non-empty string; `None` if absent, null or
    /// empty (the host records a missing `srcpkg_*` as `""`).
    fn text(&self, field: &'static str) -> Result<Option<&str>, Error> {
        match self.data.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => {
                // The derived name joins the fields with `_`; the host
                // refuses `/`, `@` and blanks in item names.
                if let Some(c) = s
                    .chars()
                    .find(|&c| matches!(c, '_' | '/' | '@') || c.is_whitespace() || c.is_control())
                {
                    return Err(
                        self.bad(field, format!("{s:?} holds {c:?}, which no item name may"))
                    );
                }
                Ok(Some(s))
            }
            Some(other) => Err(self.bad(field, format!("is {}, not a string", kind(other)))),
        }
    }

    /// `data[field]`, required.
    fn required(&self, field: &'static str) -> Result<&str, Error> {
        self.text(field)?.ok_or_else(|| Error::MissingField {
            item: self.id,
            name: self.name.clone(),
            field,
        })
    }

    fn bad(&self, field: &'static str, why: String) -> Error {
        Error::BadField {
            item: self.id,
            name: self.name.clone(),
            field,
            why,
        }
    }
}

/// The base items of one source name and version.
#[derive(Default)]
struct Group<'a> {
    /// Source package items, by item id.
    sources: BTreeMap<u64, &'a BaseItem>,
    /// `Architecture: all` binary items.
    all: Vec<&'a BaseItem>,
    /// Other binary items, by architecture.
    arch: BTreeMap<&'a str, Vec<&'a BaseItem>>,
}

/// The `debian:suite-lintian` items a `debian:suite`'s active items call
/// for (UpdateSuiteLintianCollection), sorted by name.
///
/// Items are grouped by source name and version: a binary package's
/// `srcpkg_name` and `srcpkg_version` (so binNMUs join their source), or
/// its own `package` and `version` when those are absent or empty (a
/// binary without `Source:` is built from the source of its own name and
/// version). For each group:
///
/// * `{src}_{ver}_{arch}` for each architecture other than `all` that has
///   binaries: from the source, the `all` binaries and that architecture's
///   binaries;
/// * `{src}_{ver}_all` when there are `all` binaries: from them and the
///   source;
/// * `{src}_{ver}_source` only for a source without binaries.
///
/// A source with only architecture-specific binaries gets no `_all` item
/// (like debusine's code), and binaries without their source get items
/// without a source. Versions keep their epoch (`b_1:1.1_all`).
///
/// Errors: a base item of another category; one without `package` and
/// `version` (source) or `architecture` (binary), or without both
/// `srcpkg_name` and `package` (or `srcpkg_version` and `version`); a field
/// that is not a string or holds `_`, `/`, `@` or a blank (an item name
/// could not hold it, or would be ambiguous); two source items of one
/// name and version; two different items with one id. Items are checked
/// in id order, so the error does not depend on the order of `base`.
pub fn suite_lintian_desired(base: &[BaseItem]) -> Result<Vec<Desired>, Error> {
    // By id, so that which error comes first does not hang on the order.
    let mut items: Vec<&BaseItem> = base.iter().collect();
    items.sort_by_key(|i| i.id);
    items.dedup();
    if let Some(pair) = items.windows(2).find(|p| p[0].id == p[1].id) {
        return Err(Error::DuplicateId { item: pair[0].id });
    }
    let mut groups: BTreeMap<(&str, &str), Group<'_>> = BTreeMap::new();
    for item in items {
        match item.category.as_str() {
            SOURCE_PACKAGE => {
                let key = (item.required("package")?, item.required("version")?);
                let group = groups.entry(key).or_default();
                if let Some(&first) = group.sources.keys().find(|&&id| id != item.id) {
                    let (a, b) = (first.min(item.id), first.max(item.id));
                    return Err(Error::TwoSources {
                        source: format!("{}_{}", key.0, key.1),
                        items: [a, b],
                    });
                }
                group.sources.insert(item.id, item);
            }
            BINARY_PACKAGE => {
                let architecture = item.required("architecture")?;
                if architecture == "source" {
                    return Err(item.bad(
                        "architecture",
                        "is \"source\", which no binary package has".into(),
                    ));
                }
                let source = match item.text("srcpkg_name")? {
                    Some(name) => name,
                    None => item.text("package")?.ok_or_else(|| Error::MissingField {
                        item: item.id,
                        name: item.name.clone(),
                        field: "srcpkg_name",
                    })?,
                };
                let version = match item.text("srcpkg_version")? {
                    Some(version) => version,
                    None => item.text("version")?.ok_or_else(|| Error::MissingField {
                        item: item.id,
                        name: item.name.clone(),
                        field: "srcpkg_version",
                    })?,
                };
                let group = groups.entry((source, version)).or_default();
                match architecture {
                    "all" => group.all.push(item),
                    arch => group.arch.entry(arch).or_default().push(item),
                }
            }
            other => {
                return Err(Error::UnknownCategory {
                    item: item.id,
                    name: item.name.clone(),
                    category: other.to_string(),
                });
            }
        }
    }

    let mut desired = Vec::new();
    for ((package, version), group) in &groups {
        let source: Vec<&BaseItem> = group.sources.values().copied().collect();
        let make = |architecture: &str, binaries: &[&BaseItem]| Desired {
            name: format!("{package}_{version}_{architecture}"),
            data: json!({"package": package, "version": version, "architecture": architecture}),
            derived_from: source
                .iter()
                .chain(binaries)
                .map(|i| i.id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            source_artifact: source.first().map(|i| i.artifact),
            binary_artifacts: binaries
                .iter()
                .map(|i| i.artifact)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        if group.all.is_empty() && group.arch.is_empty() {
            desired.push(make("source", &[]));
            continue;
        }
        if !group.all.is_empty() {
            desired.push(make("all", &group.all));
        }
        for (arch, binaries) in &group.arch {
            let binaries: Vec<&BaseItem> = group.all.iter().chain(binaries).copied().collect();
            desired.push(make(arch, &binaries));
        }
    }
    desired.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(desired)
}

/// The `derived_from` of a derived item as a set, or `None` when it is
/// absent or not a list of item ids (such an item is then replaced).
fn derived_from(data: &Value) -> Option<BTreeSet<u64>> {
    data.get("derived_from")?
        .as_array()?
        .iter()
        .map(Value::as_u64)
        .collect()
}

/// The changes that bring the derived collection in line with `desired`
/// (UpdateDerivedCollection): adds, then replaces, then removes, each
/// sorted by name (removes then by item id).
///
/// * [`Change::Add`]: a desired name no derived item has.
/// * [`Change::Replace`]: a derived item of a desired name whose
///   `derived_from` is not the desired set of base items (compared as sets;
///   a missing or malformed `derived_from` never matches), or every one
///   with `force`.
/// * [`Change::Remove`]: a derived item whose name is not desired.
///
/// Should several derived items share a name, the one with the lowest id
/// is compared and the others are removed; should several desired items
/// share a name, the first is kept.
pub fn plan(desired: Vec<Desired>, derived: &[DerivedItem], force: bool) -> Vec<Change> {
    let mut want: BTreeMap<String, Desired> = BTreeMap::new();
    for d in desired {
        want.entry(d.name.clone()).or_insert(d);
    }
    let mut have: BTreeMap<&str, BTreeMap<u64, &DerivedItem>> = BTreeMap::new();
    for item in derived {
        have.entry(&item.name)
            .or_default()
            .entry(item.id)
            .or_insert(item);
    }

    let (mut adds, mut replaces, mut removes) = (Vec::new(), Vec::new(), Vec::new());
    for (name, items) in &have {
        let mut items = items.values();
        let kept = match want.get(*name) {
            // Not desired: remove them all.
            None => None,
            // Desired: compare the first, remove the others.
            Some(_) => items.next(),
        };
        removes.extend(items.map(|extra| Change::Remove {
            name: name.to_string(),
            item: extra.id,
        }));
        if let (Some(kept), Some(new)) = (kept, want.remove(*name)) {
            let wanted: BTreeSet<u64> = new.derived_from.iter().copied().collect();
            if force || derived_from(&kept.data).as_ref() != Some(&wanted) {
                replaces.push(Change::Replace { old: kept.id, new });
            }
        }
    }
    // What is left is desired and missing; `have` and `want` are sorted by
    // name, so each list is too.
    adds.extend(want.into_values().map(Change::Add));
    adds.into_iter().chain(replaces).chain(removes).collect()
}

/// The task_data of the Lintian work request that makes `desired`:
/// `child_task_data` (UpdateDerivedCollection's, kept as given; `null`
/// stands for none) with `input.source_artifact_id` and
/// `input.binary_artifacts_ids` set from `desired`, the other keys of
/// `input` kept. Without a source artifact, `input.source_artifact_id` is
/// left out, and one from `child_task_data` dropped: the input is exactly
/// what the item derives from (lintian checks binaries alone).
/// `input.binary_artifacts_ids` is always set, empty for a `_source` item.
///
/// Errors: `child_task_data` or its `input` is not a JSON object.
pub fn lintian_task_data(child_task_data: &Value, desired: &Desired) -> Result<Value, Error> {
    let mut data = match child_task_data {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        other => {
            return Err(Error::NotAnObject {
                key: "child_task_data",
                found: kind(other),
            });
        }
    };
    let mut input = match data.remove("input") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(Error::NotAnObject {
                key: "child_task_data.input",
                found: kind(&other),
            });
        }
    };
    match desired.source_artifact {
        Some(id) => input.insert("source_artifact_id".into(), id.into()),
        None => input.remove("source_artifact_id"),
    };
    input.insert(
        "binary_artifacts_ids".into(),
        json!(desired.binary_artifacts),
    );
    data.insert("input".into(), Value::Object(input));
    Ok(Value::Object(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(id: u64, artifact: u64, package: &str, version: &str) -> BaseItem {
        BaseItem {
            id,
            name: format!("{package}_{version}"),
            category: SOURCE_PACKAGE.into(),
            artifact,
            data: json!({"package": package, "version": version}),
        }
    }

    fn bin(
        id: u64,
        artifact: u64,
        package: &str,
        version: &str,
        arch: &str,
        source: (&str, &str),
    ) -> BaseItem {
        BaseItem {
            id,
            name: format!("{package}_{version}_{arch}"),
            category: BINARY_PACKAGE.into(),
            artifact,
            data: json!({"package": package, "version": version, "architecture": arch,
                         "srcpkg_name": source.0, "srcpkg_version": source.1}),
        }
    }

    fn desired(name: &str, derived_from: &[u64], source: Option<u64>, binaries: &[u64]) -> Desired {
        let mut parts = name.splitn(3, '_');
        let (package, version, architecture) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        Desired {
            name: name.into(),
            data: json!({"package": package, "version": version, "architecture": architecture}),
            derived_from: derived_from.to_vec(),
            source_artifact: source,
            binary_artifacts: binaries.to_vec(),
        }
    }

    /// The derived collection once `desired` is in it (ids from 1000 on).
    fn collection(desired: &[Desired]) -> Vec<DerivedItem> {
        (1000..)
            .zip(desired)
            .map(|(id, d)| DerivedItem {
                id,
                name: d.name.clone(),
                data: d.item_data(),
            })
            .collect()
    }

    /// hello 1.0: source, an all binary and binaries on two architectures.
    fn hello() -> Vec<BaseItem> {
        let s = ("hello", "1.0");
        vec![
            src(1, 101, "hello", "1.0"),
            bin(2, 102, "hello-doc", "1.0", "all", s),
            bin(3, 103, "hello", "1.0", "amd64", s),
            bin(4, 104, "hello", "1.0", "s390x", s),
            bin(5, 105, "libhello1", "1.0", "amd64", s),
        ]
    }

    #[test]
    fn source_with_all_and_any_binaries_gets_all_and_one_item_per_arch() {
        let mut base = hello();
        base.reverse(); // the order of the base items does not matter
        assert_eq!(
            suite_lintian_desired(&base).unwrap(),
            vec![
                desired("hello_1.0_all", &[1, 2], Some(101), &[102]),
                desired(
                    "hello_1.0_amd64",
                    &[1, 2, 3, 5],
                    Some(101),
                    &[102, 103, 105]
                ),
                desired("hello_1.0_s390x", &[1, 2, 4], Some(101), &[102, 104]),
            ]
        );
    }

    #[test]
    fn source_alone_gets_a_source_item() {
        assert_eq!(
            suite_lintian_desired(&[src(7, 70, "foo", "2.0-1")]).unwrap(),
            vec![desired("foo_2.0-1_source", &[7], Some(70), &[])]
        );
    }

    #[test]
    fn all_only_package_gets_only_an_all_item() {
        let base = [
            src(1, 11, "fonts-x", "3"),
            bin(2, 12, "fonts-x", "3", "all", ("fonts-x", "3")),
        ];
        assert_eq!(
            suite_lintian_desired(&base).unwrap(),
            vec![desired("fonts-x_3_all", &[1, 2], Some(11), &[12])]
        );
    }

    #[test]
    fn source_with_only_arch_binaries_gets_no_all_or_source_item() {
        let base = [
            src(1, 11, "tool", "1"),
            bin(2, 12, "tool", "1", "arm64", ("tool", "1")),
        ];
        assert_eq!(
            suite_lintian_desired(&base).unwrap(),
            vec![desired("tool_1_arm64", &[1, 2], Some(11), &[12])]
        );
    }

    #[test]
    fn binaries_without_their_source_get_items_without_a_source() {
        let base = [
            bin(4, 40, "b-doc", "1.1", "all", ("b", "1:1.1")),
            bin(5, 50, "libc", "9", "i386", ("glibc", "9")),
        ];
        assert_eq!(
            suite_lintian_desired(&base).unwrap(),
            vec![
                desired("b_1:1.1_all", &[4], None, &[40]),
                desired("glibc_9_i386", &[5], None, &[50]),
            ]
        );
    }

    #[test]
    fn binnmus_are_named_by_their_source_version() {
        let s = ("hello", "1.0-1");
        let base = [
            src(1, 11, "hello", "1.0-1"),
            bin(2, 12, "hello-doc", "1.0-1", "all", s),
            bin(3, 13, "hello", "1.0-1+b1", "amd64", s),
        ];
        assert_eq!(
            suite_lintian_desired(&base).unwrap(),
            vec![
                desired("hello_1.0-1_all", &[1, 2], Some(11), &[12]),
                desired("hello_1.0-1_amd64", &[1, 2, 3], Some(11), &[12, 13]),
            ]
        );
    }

    #[test]
    fn binaries_without_srcpkg_fields_belong_to_their_own_name_and_version() {
        let mut b = bin(2, 12, "foo", "1", "amd64", ("", ""));
        b.data.as_object_mut().unwrap().remove("srcpkg_name");
        let base = [src(1, 11, "foo", "1"), b];
        assert_eq!(
            suite_lintian_desired(&base).unwrap(),
            vec![desired("foo_1_amd64", &[1, 2], Some(11), &[12])]
        );
    }

    #[test]
    fn hostile_base_items_are_errors_naming_item_and_field() {
        let missing = |category: &str, data: Value| BaseItem {
            id: 9,
            name: "x".into(),
            category: category.into(),
            artifact: 90,
            data,
        };
        let cases: Vec<(BaseItem, &str)> = vec![
            (
                missing(SOURCE_PACKAGE, json!({"version": "1"})),
                "base item 9 (\"x\"): its data has no `package`",
            ),
            (
                missing(SOURCE_PACKAGE, json!({"package": "a", "version": ""})),
                "no `version`",
            ),
            (missing(SOURCE_PACKAGE, json!(null)), "no `package`"),
            (
                missing(SOURCE_PACKAGE, json!({"package": "a", "version": 1})),
                "`version` is a number, not a string",
            ),
            (
                missing(BINARY_PACKAGE, json!({"package": "a", "version": "1"})),
                "no `architecture`",
            ),
            (
                missing(
                    BINARY_PACKAGE,
                    json!({"architecture": "all", "version": "1"}),
                ),
                "no `srcpkg_name`",
            ),
            (
                missing(
                    BINARY_PACKAGE,
                    json!({"architecture": "all", "package": "a"}),
                ),
                "no `srcpkg_version`",
            ),
            (
                missing(
                    BINARY_PACKAGE,
                    json!({"architecture": ["all"], "package": "a", "version": "1"}),
                ),
                "`architecture` is an array",
            ),
            (
                missing(
                    BINARY_PACKAGE,
                    json!({"architecture": "source", "package": "a", "version": "1"}),
                ),
                "`architecture` is \"source\"",
            ),
            (
                missing(
                    BINARY_PACKAGE,
                    json!({"architecture": "all", "srcpkg_name": "a_b", "version": "1"}),
                ),
                "`srcpkg_name` \"a_b\" holds '_'",
            ),
            (
                missing(SOURCE_PACKAGE, json!({"package": "a b", "version": "1"})),
                "holds ' '",
            ),
            (
                missing(SOURCE_PACKAGE, json!({"package": "a", "version": "1/2"})),
                "holds '/'",
            ),
            (
                missing("debian:upload", json!({})),
                "is a \"debian:upload\", not a debian:source-package",
            ),
        ];
        for (item, want) in cases {
            let e = suite_lintian_desired(&[src(1, 11, "ok", "1"), item.clone()])
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{item:?}: {e}");
            assert!(e.contains("base item 9"), "{e}");
        }

        let e = suite_lintian_desired(&[src(8, 80, "a", "1"), src(3, 30, "a", "1")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "base items 3 and 8 are both the debian:source-package a_1"
        );
        let e = suite_lintian_desired(&[src(3, 30, "a", "1"), src(3, 31, "a", "1")]).unwrap_err();
        assert_eq!(e, Error::DuplicateId { item: 3 });
        // The same item twice counts once.
        assert_eq!(
            suite_lintian_desired(&[src(3, 30, "a", "1"), src(3, 30, "a", "1")]).unwrap(),
            vec![desired("a_1_source", &[3], Some(30), &[])]
        );
    }

    #[test]
    fn plan_first_run_adds_everything() {
        let want = suite_lintian_desired(&hello()).unwrap();
        let changes = plan(want.clone(), &[], false);
        assert_eq!(
            changes,
            want.into_iter().map(Change::Add).collect::<Vec<_>>()
        );
    }

    #[test]
    fn plan_for_an_up_to_date_collection_is_empty() {
        let want = suite_lintian_desired(&hello()).unwrap();
        let mut derived = collection(&want);
        // derived_from is a set: its order does not matter.
        derived[1].data["derived_from"] = json!([5, 3, 2, 1]);
        assert_eq!(plan(want, &derived, false), vec![]);
    }

    #[test]
    fn plan_for_a_new_version_adds_its_items_and_removes_the_old_ones() {
        let old = suite_lintian_desired(&hello()).unwrap();
        let derived = collection(&old);
        let s = ("hello", "1.1");
        let base = [
            src(11, 111, "hello", "1.1"),
            bin(12, 112, "hello-doc", "1.1", "all", s),
            bin(13, 113, "hello", "1.1", "amd64", s),
            bin(14, 114, "hello", "1.1", "s390x", s),
            // Another package, unchanged.
            src(20, 120, "other", "5"),
        ];
        let mut derived = derived;
        derived.extend(collection(&[desired(
            "other_5_source",
            &[20],
            Some(120),
            &[],
        )]));
        derived.last_mut().unwrap().id = 2000;
        let changes = plan(suite_lintian_desired(&base).unwrap(), &derived, false);
        assert_eq!(
            changes,
            vec![
                Change::Add(desired("hello_1.1_all", &[11, 12], Some(111), &[112])),
                Change::Add(desired(
                    "hello_1.1_amd64",
                    &[11, 12, 13],
                    Some(111),
                    &[112, 113]
                )),
                Change::Add(desired(
                    "hello_1.1_s390x",
                    &[11, 12, 14],
                    Some(111),
                    &[112, 114]
                )),
                Change::Remove {
                    name: "hello_1.0_all".into(),
                    item: 1000
                },
                Change::Remove {
                    name: "hello_1.0_amd64".into(),
                    item: 1001
                },
                Change::Remove {
                    name: "hello_1.0_s390x".into(),
                    item: 1002
                },
            ]
        );
    }

    #[test]
    fn plan_replaces_an_item_whose_base_items_changed() {
        let derived = collection(&suite_lintian_desired(&hello()).unwrap());
        // hello amd64 rebuilt: a new base item of the same name.
        let mut base = hello();
        base[2] = bin(30, 130, "hello", "1.0", "amd64", ("hello", "1.0"));
        let changes = plan(suite_lintian_desired(&base).unwrap(), &derived, false);
        assert_eq!(
            changes,
            vec![Change::Replace {
                old: 1001,
                new: desired(
                    "hello_1.0_amd64",
                    &[1, 2, 5, 30],
                    Some(101),
                    &[102, 105, 130]
                ),
            }]
        );
    }

    #[test]
    fn plan_with_force_replaces_every_existing_item_and_adds_the_missing() {
        let want = suite_lintian_desired(&hello()).unwrap();
        let derived = collection(&want[..2]);
        let changes = plan(want.clone(), &derived, true);
        assert_eq!(
            changes,
            vec![
                Change::Add(want[2].clone()),
                Change::Replace {
                    old: 1000,
                    new: want[0].clone()
                },
                Change::Replace {
                    old: 1001,
                    new: want[1].clone()
                },
            ]
        );
    }

    #[test]
    fn plan_removes_items_no_longer_desired() {
        let want = suite_lintian_desired(&hello()).unwrap();
        let mut derived = collection(&want);
        derived.push(DerivedItem {
            id: 7,
            name: "gone_1_source".into(),
            data: json!({"derived_from": [99]}),
        });
        // Removal does not depend on force.
        for force in [false, true] {
            let changes = plan(want.clone(), &derived, force);
            assert_eq!(
                changes.last(),
                Some(&Change::Remove {
                    name: "gone_1_source".into(),
                    item: 7
                }),
                "force={force}"
            );
            assert_eq!(changes.len(), if force { 4 } else { 1 });
        }
    }

    #[test]
    fn plan_replaces_junk_derived_from_and_drops_repeated_names() {
        let want = vec![desired("a_1_source", &[1], Some(10), &[])];
        for junk in [
            json!(null),
            json!("1"),
            json!([1, "x"]),
            json!([-1]),
            json!({}),
        ] {
            let derived = [DerivedItem {
                id: 5,
                name: "a_1_source".into(),
                data: json!({"derived_from": junk}),
            }];
            assert_eq!(
                plan(want.clone(), &derived, false),
                vec![Change::Replace {
                    old: 5,
                    new: want[0].clone()
                }],
                "{junk}"
            );
        }
        let derived = [
            DerivedItem {
                id: 9,
                name: "a_1_source".into(),
                data: json!(null),
            },
            DerivedItem {
                id: 4,
                name: "a_1_source".into(),
                data: json!({"derived_from": [1]}),
            },
            DerivedItem {
                id: 6,
                name: "a_1_source".into(),
                data: json!({"derived_from": [1]}),
            },
        ];
        assert_eq!(
            plan(want.clone(), &derived, false),
            vec![
                Change::Remove {
                    name: "a_1_source".into(),
                    item: 6
                },
                Change::Remove {
                    name: "a_1_source".into(),
                    item: 9
                },
            ]
        );
        // A repeated desired name: the first one counts.
        let mut twice = want.clone();
        twice.push(desired("a_1_source", &[2], None, &[]));
        assert_eq!(plan(twice, &[], false), vec![Change::Add(want[0].clone())]);
    }

    #[test]
    fn lintian_task_data_merges_input_into_child_task_data() {
        let d = desired("hello_1.0_amd64", &[1, 2, 3], Some(101), &[102, 103]);
        let child = json!({
            "environment": "debian/match:codename=bookworm",
            "backend": "unshare",
            "input": {"other": true, "source_artifact_id": 5, "binary_artifacts_ids": [6]},
        });
        assert_eq!(
            lintian_task_data(&child, &d).unwrap(),
            json!({
                "environment": "debian/match:codename=bookworm",
                "backend": "unshare",
                "input": {"other": true, "source_artifact_id": 101, "binary_artifacts_ids": [102, 103]},
            })
        );
        // No source: none in the input, even if child_task_data had one.
        let d = desired("b_1_all", &[4], None, &[40]);
        assert_eq!(
            lintian_task_data(&child, &d).unwrap()["input"],
            json!({"other": true, "binary_artifacts_ids": [40]})
        );
        // No child_task_data.
        let d = desired("c_1_source", &[7], Some(70), &[]);
        for none in [json!(null), json!({})] {
            assert_eq!(
                lintian_task_data(&none, &d).unwrap(),
                json!({"input": {"source_artifact_id": 70, "binary_artifacts_ids": []}})
            );
        }
        assert_eq!(
            lintian_task_data(&json!([1]), &d).unwrap_err().to_string(),
            "child_task_data must be a JSON object, not an array"
        );
        assert_eq!(
            lintian_task_data(&json!({"input": "x"}), &d)
                .unwrap_err()
                .to_string(),
            "child_task_data.input must be a JSON object, not a string"
        );
    }

    #[test]
    fn item_data_adds_derived_from() {
        let d = desired("hello_1.0_all", &[1, 2], Some(101), &[102]);
        assert_eq!(
            d.item_data(),
            json!({"package": "hello", "version": "1.0", "architecture": "all", "derived_from": [1, 2]})
        );
    }
}
