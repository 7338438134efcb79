//! A run's provenance, as an in-toto Statement v1 whose predicate is SLSA
//! Provenance v1: what build-provenance tools read.
//!
//! - subjects: the files of the artifacts the run created;
//! - `buildDefinition.externalParameters`: the task and its task_data;
//! - `buildDefinition.internalParameters`: the policy file and its digest,
//!   the effective grants, the backends and environments used;
//! - `buildDefinition.resolvedDependencies`: the plugin (name, version,
//!   sha256), each input artifact's files with their sha256, each
//!   environment artifact, and the Debian packages the plugin declared
//!   with their installed versions;
//! - `runDetails`: the host (taskhost and its version), the run id and its
//!   start and end.

use crate::capabilities::Opened;
use crate::policy::Effective;
use crate::report::PluginRef;
use crate::store::Artifact;
use serde_json::{Value, json};

/// What a formula run's statement is made from: the formula, the plugins
/// its actions called, what they created, and the task runs (each with a
/// statement of its own).
pub struct FormulaFacts<'a> {
    pub run_id: &'a str,
    pub file: &'a str,
    pub sha256: &'a str,
    /// item, type, arch, jobid, uuid.
    pub invocation: Value,
    pub plugins: &'a [PluginRef],
    pub outputs: &'a [Artifact],
    pub task_runs: &'a [String],
    pub started_on: &'a str,
    pub finished_on: &'a str,
}

/// The kind of run a formula's statement describes.
pub const FORMULA_BUILD_TYPE: &str = "https://taskhost.dev/formula/v1";

/// The statement of a formula run.
pub fn formula_statement(facts: &FormulaFacts<'_>) -> Value {
    let mut dependencies = vec![json!({
        "name": "formula",
        "uri": facts.file,
        "digest": {"sha256": facts.sha256},
    })];
    dependencies.extend(facts.plugins.iter().map(plugin_dependency));
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects(facts.outputs),
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": FORMULA_BUILD_TYPE,
                "externalParameters": {"formula": facts.file, "invocation": facts.invocation},
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    "version": {"taskhost": env!("CARGO_PKG_VERSION")},
                },
                "metadata": {
                    "invocationId": facts.run_id,
                    "startedOn": facts.started_on,
                    "finishedOn": facts.finished_on,
                },
                "byproducts": facts.task_runs.iter().map(|id| json!({
                    "name": format!("run/{id}"),
                    "annotations": {"role": "task action, with its own provenance"},
                })).collect::<Vec<_>>(),
            },
        },
    })
}

fn subjects(outputs: &[Artifact]) -> Vec<Value> {
    outputs
        .iter()
        .flat_map(|a| {
            a.files.iter().map(move |f| {
                json!({
                    "name": format!("artifact/{}/{}", a.id, f.name),
                    "digest": {"sha256": f.sha256},
                    "annotations": {"category": a.category},
                })
            })
        })
        .collect()
}

fn plugin_dependency(plugin: &PluginRef) -> Value {
    let sha = plugin
        .digest
        .strip_prefix("sha256:")
        .unwrap_or(&plugin.digest);
    json!({
        "name": format!("plugin:{}", plugin.name),
        "uri": plugin.origin,
        "digest": {"sha256": sha},
        "annotations": {"version": plugin.version},
    })
}

/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The SLSA provenance predicate type.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What kind of run this describes.
pub const BUILD_TYPE: &str = "https://taskhost.dev/run/v1";
/// The builder's id.
pub const BUILDER_ID: &str = "https://taskhost.dev/runtask";
/// The file name in a run's directory.
pub const FILE: &str = "provenance.json";

/// What a provenance statement is made from.
pub struct Facts<'a> {
    pub run_id: &'a str,
    pub task: &'a str,
    pub task_data: &'a Value,
    pub plugin: &'a PluginRef,
    pub effective: &'a Effective,
    pub inputs: &'a [Artifact],
    pub outputs: &'a [Artifact],
    pub opened: &'a [Opened],
    /// Declared Debian packages and their installed version, if any.
    pub packages: &'a [(String, Option<String>)],
    pub started_on: &'a str,
    pub finished_on: &'a str,
}

/// The statement for `facts`.
pub fn statement(facts: &Facts<'_>) -> Value {
    let subject = subjects(facts.outputs);
    let mut dependencies = vec![plugin_dependency(facts.plugin)];
    for a in facts.inputs {
        for f in &a.files {
            dependencies.push(json!({
                "name": format!("artifact/{}/{}", a.id, f.name),
                "digest": {"sha256": f.sha256},
                "annotations": {"category": a.category, "role": "input"},
            }));
        }
    }
    for o in facts.opened {
        if let Some((id, sha)) = &o.environment {
            dependencies.push(json!({
                "name": format!("artifact/{id}"),
                "digest": {"sha256": sha},
                "annotations": {"role": "environment", "backend": o.backend},
            }));
        }
    }
    for (package, version) in facts.packages {
        let mut dep = json!({
            "name": format!("deb:{package}"),
            "uri": format!("pkg:deb/debian/{package}"),
        });
        if let Some(version) = version {
            dep["uri"] = json!(format!("pkg:deb/debian/{package}@{version}"));
            dep["annotations"] = json!({"version": version});
        }
        dependencies.push(dep);
    }
    let (policy_path, policy_digest) = facts.effective.policy();
    let backends: Vec<&str> = facts.opened.iter().map(|o| o.backend.as_str()).collect();
    let mut machines: Vec<&str> = facts
        .opened
        .iter()
        .filter_map(|o| o.machine.as_deref())
        .collect();
    machines.dedup();
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "task": facts.task,
                    "task_data": facts.task_data,
                },
                "internalParameters": {
                    "policy": {
                        "path": policy_path.map(|p| p.display().to_string()),
                        "digest": policy_digest.map(|d| json!({"sha256": d})),
                    },
                    "grants": facts.effective.summary(),
                    "backends": backends,
                    "ssh_machines": machines,
                },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    "version": {"taskhost": env!("CARGO_PKG_VERSION")},
                },
                "metadata": {
                    "invocationId": facts.run_id,
                    "startedOn": facts.started_on,
                    "finishedOn": facts.finished_on,
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Declared, Grants};
    use crate::store::FileEntry;

    #[test]
    fn a_statement_names_plugin_inputs_outputs_and_packages() {
        let effective = Effective::new("lintian", Declared::default(), Grants::default(), None);
        let plugin = PluginRef {
            name: "lintian".into(),
            version: "0.1.0".into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
            origin: "builtin:lintian".into(),
        };
        let artifact = |id, category: &str, sha: &str| Artifact {
            id,
            category: category.into(),
            data: json!({}),
            files: vec![FileEntry {
                name: "f".into(),
                size: 1,
                sha256: sha.into(),
            }],
            created_at: String::new(),
            created_by: None,
            relations: Vec::new(),
        };
        let facts = Facts {
            run_id: "r",
            task: "lintian",
            task_data: &json!({"input": {"binary_artifacts": [1]}}),
            plugin: &plugin,
            effective: &effective,
            inputs: &[artifact(1, "debian:binary-package", "11")],
            outputs: &[artifact(2, "debian:lintian", "22")],
            opened: &[],
            packages: &[("lintian".into(), Some("2.116.3".into()))],
            started_on: "2026-12-01T00:00:00Z",
            finished_on: "2026-12-01T00:00:01Z",
        };
        let s = statement(&facts);
        assert_eq!(s["_type"], STATEMENT_TYPE);
        assert_eq!(s["predicateType"], PREDICATE_TYPE);
        assert_eq!(s["subject"][0]["digest"]["sha256"], "22");
        let deps = s["predicate"]["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        assert_eq!(deps[0]["digest"]["sha256"], "ab".repeat(32));
        assert_eq!(deps[1]["digest"]["sha256"], "11");
        assert_eq!(deps[2]["annotations"]["version"], "2.116.3");
    }
}
