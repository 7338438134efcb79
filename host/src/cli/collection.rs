//! `runtask collection create|list|show|add|remove|import-apt`.

use super::args::{CollectionCommand, ImportAptArgs};
use super::setup::Config;
use super::usage;
use anyhow::{Context, Result};
use serde_json::Value;
use taskhost::report::ExitCode as Code;
use taskhost::store::collections::{SUITE, suite_item};
use taskhost::store::{ArtifactStore, Collection, ItemFilter, NewItem, resolve_collection};

/// Who the CLI records as an item's creator or remover.
const BY: &str = "cli";

fn json_object(flag: &str, text: &str) -> Result<Value> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| usage(format!("{flag}: not JSON: {e}")))?;
    if !value.is_object() {
        return Err(usage(format!(
            "{flag}: expected a JSON object, got {value}"
        )));
    }
    Ok(value)
}

fn find(store: &dyn ArtifactStore, query: &str) -> Result<Collection> {
    resolve_collection(store, query).map_err(|e| usage(e.to_string()))
}

pub(crate) async fn collection(cmd: CollectionCommand, config: &Config) -> Result<Code> {
    let store = config.store()?;
    match cmd {
        CollectionCommand::Create { collection, data } => {
            let (name, category) = collection.split_once('@').ok_or_else(|| {
                usage(format!(
                    "'{collection}': expected NAME@CATEGORY, e.g. bookworm@debian:suite"
                ))
            })?;
            let data = json_object("--data", &data)?;
            let c = store
                .create_collection(category, name, data)
                .map_err(|e| usage(e.to_string()))?;
            println!("{}", c.id);
        }
        CollectionCommand::List { category, json } => {
            let all = store.collections(category.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
            for c in all.iter().filter(|_| !json) {
                let active = store.items(c.id, &ItemFilter::default())?.len();
                println!(
                    "{:>6}  {:<40} {:>6} items  {}",
                    c.id,
                    c.label(),
                    active,
                    c.created_at
                );
            }
        }
        CollectionCommand::Show {
            collection,
            history,
            json,
        } => {
            let c = find(store.as_ref(), &collection)?;
            let items = store.items(
                c.id,
                &ItemFilter {
                    include_removed: history,
                    ..ItemFilter::default()
                },
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&items)?);
                return Ok(Code::Ok);
            }
            println!(
                "{} (collection {}): {} item(s)",
                c.label(),
                c.id,
                items.len()
            );
            for i in items {
                let what = i
                    .artifact
                    .map_or_else(|| "bare".to_string(), |a| format!("artifact {a}"));
                let state = match &i.removed_at {
                    Some(at) => format!("removed {at}"),
                    None => format!("added {}", i.created_at),
                };
                println!(
                    "{:>6}  {:<48} {:<24} {what:<14} {state}",
                    i.id, i.name, i.category
                );
            }
        }
        CollectionCommand::Add {
            collection,
            artifact,
            name,
            data,
            replace,
        } => {
            let c = find(store.as_ref(), &collection)?;
            let a = store.get(artifact).map_err(|e| usage(e.to_string()))?;
            let (derived_name, mut item_data) = if c.category == SUITE {
                suite_item(&a.category, &a.data).map_err(|e| usage(e.to_string()))?
            } else {
                (String::new(), serde_json::json!({}))
            };
            if let Some(extra) = data {
                let extra = json_object("--data", &extra)?;
                for (k, v) in extra.as_object().into_iter().flatten() {
                    item_data[k] = v.clone();
                }
            }
            let name = match name {
                Some(name) => name,
                None if !derived_name.is_empty() => derived_name,
                None => {
                    return Err(usage(format!(
                        "a {} collection does not name its items: pass --name",
                        c.category
                    )));
                }
            };
            let item = store
                .add_item(
                    c.id,
                    NewItem {
                        created_by: Some(BY.into()),
                        replace,
                        ..NewItem::artifact(name, artifact, item_data)
                    },
                )
                .map_err(|e| usage(e.to_string()))?;
            println!("{}", item.name);
        }
        CollectionCommand::Remove { collection, name } => {
            let c = find(store.as_ref(), &collection)?;
            let item = store
                .remove_item(c.id, &name, Some(BY))
                .map_err(|e| usage(e.to_string()))?;
            println!("removed {} from {}", item.name, c.label());
        }
        CollectionCommand::ImportApt(args) => return import_apt(*args, store.as_ref()).await,
    }
    Ok(Code::Ok)
}

async fn import_apt(args: ImportAptArgs, store: &dyn ArtifactStore) -> Result<Code> {
    let url = url::Url::parse(&args.mirror)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https" | "file"))
        .ok_or_else(|| {
            usage(format!(
                "--mirror {}: expected an http, https or file URL, e.g. http://deb.debian.org/debian",
                args.mirror
            ))
        })?;
    let keyring = args
        .keyring
        .unwrap_or_else(|| "/usr/share/keyrings/debian-archive-keyring.gpg".into());
    if !keyring.is_file() {
        return Err(usage(format!(
            "keyring {} does not exist: pass --keyring FILE with the key that signs the repository's Release \
             (for Debian's mirrors: apt-get install debian-archive-keyring)",
            keyring.display()
        )));
    }
    let architectures = if args.architectures.is_empty() {
        vec![native_architecture()]
    } else {
        args.architectures
    };
    let name = args.collection.unwrap_or_else(|| args.suite.clone());
    let mirror = taskhost::apt::Mirror {
        url,
        suite: args.suite,
        components: args.components,
        architectures,
        packages: args.packages,
        keyring,
    };
    let (collection, imported) = taskhost::apt::import(store, &name, &mirror)
        .await
        .with_context(|| format!("importing {} into {name}@{SUITE}", mirror.url))?;
    println!(
        "{}: {} added, {} unchanged, {} removed",
        collection.label(),
        imported.added.len(),
        imported.unchanged.len(),
        imported.removed.len()
    );
    for name in &imported.added {
        println!("  added   {name}");
    }
    for name in &imported.removed {
        println!("  removed {name}");
    }
    Ok(Code::Ok)
}

/// dpkg's name for the machine this runs on.
fn native_architecture() -> String {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "powerpc64" => "ppc64el",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        other => other,
    }
    .to_string()
}
