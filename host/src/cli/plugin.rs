//! `runtask plugin list|inspect|describe|check|install|new`.

use super::args::{GrantArgs, PluginCommand, PluginDirs};
use super::setup::{Config, Grants};
use super::usage;
use anyhow::Result;
use std::path::Path;
use taskhost::manifest::Declares;
use taskhost::report::ExitCode as Code;
use taskhost::run::RunOptions;
use taskhost::runtime::Described;

async fn describe(task: &str, plugins: &PluginDirs, config: &Config) -> Result<Code> {
    let dirs = taskhost::plugins::search_path(&plugins.plugin_dir);
    let found = taskhost::plugins::find(task, &dirs).map_err(|e| usage(e.to_string()))?;
    let runtime = config.runtime(2)?;
    let plugin = runtime
        .load(&found.wasm, found.origin_name(task))
        .map_err(|e| usage(format!("plugin {task}: {e}")))?;
    let store = config.store()?;
    let info = taskhost::run::describe(&runtime, store, &plugin, &RunOptions::default()).await?;
    match info {
        Described::Task(info) => {
            println!("{} — {}\n", info.name, info.summary);
            if info.task_data_doc.is_empty() {
                println!("(the plugin documents no task_data keys)");
            } else {
                println!("task_data:\n{}", info.task_data_doc);
            }
        }
        Described::Directive(info) => print!("{}", taskhost::formula::describe_directive(&info)),
    }
    Ok(Code::Ok)
}

pub(crate) async fn plugin(cmd: PluginCommand, config: &Config) -> Result<Code> {
    match cmd {
        PluginCommand::Describe { plugin, plugins } => describe(&plugin, &plugins, config).await,
        PluginCommand::New {
            name,
            kind,
            lang,
            dir,
            sources,
        } => {
            super::scaffold::new(&name, kind, lang, dir.as_deref(), sources.as_deref())?;
            Ok(Code::Ok)
        }
        PluginCommand::Check {
            plugin,
            plugins,
            grants,
            backend,
        } => check(&plugin, &plugins, &grants, &backend, config),
        PluginCommand::Install {
            file,
            dir,
            trust,
            policy,
        } => install(
            &file,
            dir.as_deref().unwrap_or(&config.plugins),
            trust,
            policy.as_deref(),
        ),
        PluginCommand::List(dirs) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for listed in taskhost::plugins::list(&taskhost::plugins::search_path(&dirs.plugin_dir))
            {
                let origin = &listed.origin;
                let digest = listed.sha256.as_deref().map_or("?", |d| &d[..12]);
                let line = match listed.info {
                    Ok(info) => format!(
                        "{:<16} {:<9} {:<8} {digest}  {}  ({origin})",
                        info.manifest.name,
                        match info.manifest.kind {
                            taskhost::manifest::Kind::Task => "task",
                            taskhost::manifest::Kind::Directive => "directive",
                        },
                        info.manifest.version,
                        info.manifest.summary
                    ),
                    Err(e) => format!(
                        "{:<16} {:<9} {:<8} {digest}  broken: {e}  ({origin})",
                        "?", "?", "?"
                    ),
                };
                // A closed pipe (`| head -1`) ends the listing quietly.
                if writeln!(out, "{line}").is_err() {
                    break;
                }
            }
            Ok(Code::Ok)
        }
        PluginCommand::Inspect {
            plugin,
            plugins,
            json,
        } => {
            let dirs = taskhost::plugins::search_path(&plugins.plugin_dir);
            let found =
                taskhost::plugins::find(&plugin, &dirs).map_err(|e| usage(e.to_string()))?;
            let origin = found.origin_name(&plugin);
            let sha256 = taskhost::manifest::digest(&found.wasm);
            let info = taskhost::manifest::read(&found.wasm)
                .map_err(|e| usage(format!("{origin}: {e}")))?;
            if json {
                let mut value = serde_json::to_value(&info)?;
                value["sha256"] = serde_json::Value::from(sha256);
                value["origin"] = serde_json::Value::from(origin);
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("origin:   {origin}");
                println!("sha256:   {sha256}");
                print!("{info}");
            }
            Ok(Code::Ok)
        }
    }
}

/// `runtask plugin check PLUGIN`: the preflight, without a run.
fn check(
    task: &str,
    plugins: &PluginDirs,
    grant_args: &GrantArgs,
    backends: &[String],
    config: &Config,
) -> Result<Code> {
    let dirs = taskhost::plugins::search_path(&plugins.plugin_dir);
    let found = taskhost::plugins::find(task, &dirs).map_err(|e| usage(e.to_string()))?;
    let origin_name = found.origin_name(task);
    let runtime = config.runtime(1)?;
    let plugin = runtime
        .load(&found.wasm, origin_name.clone())
        .map_err(|e| usage(format!("{origin_name}: {e}")))?;
    let manifest = &plugin.info.manifest;
    println!(
        "{} {} ({}), sha256 {}\n  from {origin_name}\n  built for taskhost API {}; this runtask speaks {}",
        manifest.name,
        manifest.version,
        match manifest.kind {
            taskhost::manifest::Kind::Task => "task",
            taskhost::manifest::Kind::Directive => "directive",
        },
        plugin.sha256,
        plugin.info.api,
        taskhost::manifest::API_VERSIONS.join(" and "),
    );
    let grants = Grants::new(grant_args)?;
    let permit = match grants.permit(&plugin, found.origin) {
        Ok(permit) => permit,
        Err(e) => {
            // Not trusted: what a table for it would have to say.
            let declared = manifest.declared().map_err(|e| usage(e.to_string()))?;
            let snippet = taskhost::plugins::trust_table(&manifest.name, &plugin.sha256, declared);
            println!(
                "\nrefused: {e}\n\nA table that trusts it and grants what it declares:\n\n{snippet}"
            );
            return Ok(Code::PolicyRefused);
        }
    };
    let effective = &permit.effective;
    let policy = match effective.policy().0 {
        Some(file) => file.display().to_string(),
        None => "a policy file (~/.config/taskhost/policy.toml, or --policy FILE)".to_owned(),
    };
    print_checked_when_made(effective);
    match effective.preflight(backends) {
        Ok(()) => {
            println!("\npreflight: a run would start; each call is still checked as it is made");
            Ok(Code::Ok)
        }
        Err(missing) => {
            println!("\npreflight: a run would be refused:");
            for denied in &missing {
                let reason = format!("{}: {}", denied.subject, denied.reason);
                println!("  - {} {reason}", denied.capability);
            }
            if let Some(snippet) = effective.missing_grants_snippet_for(backends) {
                println!("\nTo grant what is missing, add to {policy}:\n\n{snippet}");
            }
            Ok(Code::PolicyRefused)
        }
    }
}

/// What is decided only as calls are made (a plugin need not always make
/// them): the declared lookups, collections and tasks beside the grants.
fn print_checked_when_made(effective: &taskhost::policy::Effective) {
    let (d, g) = (effective.declared(), effective.grants());
    let shown = |v: Vec<String>| {
        if v.is_empty() {
            "(none)".to_owned()
        } else {
            v.join(", ")
        }
    };
    let strings = |v: &[taskhost::policy::LookupPattern]| -> Vec<String> {
        v.iter().map(|p| p.to_string()).collect()
    };
    let rows = [
        ("lookups", strings(&d.lookups), strings(&g.lookups)),
        (
            "collections",
            strings(&d.collections),
            strings(&g.collections),
        ),
        ("submit", d.submit.clone(), g.submit.clone()),
    ];
    if rows.iter().all(|(_, declared, _)| declared.is_empty()) {
        return;
    }
    println!(
        "
checked as each call is made:"
    );
    for (key, declared, granted) in rows.into_iter().filter(|(_, d, _)| !d.is_empty()) {
        println!(
            "  {key:<12} declared: {}; granted: {}",
            shown(declared),
            shown(granted)
        );
    }
}

/// `runtask plugin install FILE`.
fn install(file: &Path, dir: &Path, trust: bool, policy: Option<&Path>) -> Result<Code> {
    let installed = taskhost::plugins::install(file, dir).map_err(|e| usage(e.to_string()))?;
    println!(
        "installed {} as {} (sha256 {})",
        installed.name,
        installed.path.display(),
        installed.sha256
    );
    if trust {
        let path =
            match policy {
                Some(p) => p.to_path_buf(),
                None => taskhost::policy::user_policy_path(|k| std::env::var(k).ok()).ok_or_else(
                    || usage("--trust: no policy file to write (set HOME, or pass --policy FILE)"),
                )?,
            };
        let done =
            taskhost::policy::trust(&path, &installed.name, &installed.sha256, &installed.table)
                .map_err(|e| usage(e.to_string()))?;
        println!("{done}");
    } else {
        println!(
            "\nIt runs only once a policy table pins its digest. To trust it, add to your policy \
             (or rerun with --trust):\n\n{}",
            installed.table
        );
    }
    Ok(Code::Ok)
}
