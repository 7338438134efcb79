//! `runtask artifact import|list|show|export|verify`.

use super::args::ArtifactCommand;
use super::setup::Config;
use super::usage;
use anyhow::{Result, bail};
use taskhost::report::ExitCode as Code;
use taskhost::store::ListFilter;

pub(crate) fn artifact(cmd: ArtifactCommand, config: &Config) -> Result<Code> {
    let store_dir = &config.store_dir;
    match cmd {
        ArtifactCommand::Import {
            files,
            category,
            data,
        } => {
            let category = match category {
                Some(c) => c,
                None => taskhost::import::category_for(&files[0])
                    .map(str::to_string)
                    .ok_or_else(|| {
                        usage(format!(
                            "cannot tell the category of {}; pass --category",
                            files[0].display()
                        ))
                    })?,
            };
            let data = data
                .map(|text| serde_json::from_str(&text).map_err(|e| usage(format!("--data: {e}"))))
                .transpose()?;
            let store = config.store()?;
            let artifact = taskhost::import::import(store.as_ref(), &files, &category, data, None)
                .map_err(|e| usage(e.to_string()))?;
            println!("{}", artifact.id);
            Ok(Code::Ok)
        }
        ArtifactCommand::List { category, json } => {
            let all = config.store()?.list(&ListFilter {
                category,
                ..ListFilter::default()
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for a in all {
                    let files = a
                        .files
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    println!("{:>6}  {:<36} {}  {files}", a.id, a.category, a.created_at);
                }
            }
            Ok(Code::Ok)
        }
        ArtifactCommand::Show { id } => {
            let a = config.store()?.get(id).map_err(|e| usage(e.to_string()))?;
            println!("{}", serde_json::to_string_pretty(&a)?);
            Ok(Code::Ok)
        }
        ArtifactCommand::Export { id, dir } => {
            for path in config
                .store()?
                .export(id, &dir)
                .map_err(|e| usage(e.to_string()))?
            {
                println!("{}", path.display());
            }
            Ok(Code::Ok)
        }
        ArtifactCommand::Gc if config.shared.is_some() => {
            // Blobs younger than an hour may belong to a create under way.
            let c = config
                .shared_store()?
                .gc(std::time::Duration::from_secs(3600))?;
            println!(
                "removed {} artifact(s) of abandoned run attempts and {} unused blob(s)",
                c.artifacts, c.blobs
            );
            Ok(Code::Ok)
        }
        ArtifactCommand::Gc => {
            let removed = config.open_store()?.gc()?;
            println!(
                "removed {removed} unused file(s) from {}",
                store_dir.display()
            );
            Ok(Code::Ok)
        }
        ArtifactCommand::Verify => {
            let problems = config.open_store()?.verify()?;
            for p in &problems {
                println!("{p}");
            }
            if problems.is_empty() {
                println!("store {} is whole", store_dir.display());
                Ok(Code::Ok)
            } else {
                bail!("{} problem(s) in the store", problems.len())
            }
        }
    }
}
