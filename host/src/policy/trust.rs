//! Writing a trust decision into a policy file (`runtask plugin install
//! --trust`): the plugin's table gains its digest, keeping everything else
//! in the file as the operator wrote it.

use std::path::Path;

use toml_edit::{Array, DocumentMut, Item, Table, value};

use super::PolicyError;

/// Adds `table` (a `[plugins.NAME]` table with `sha256` and grants, as
/// TOML text) to the policy at `path`, creating the file if needed. When
/// the file already has `[plugins.NAME]`, only the digest is added to its
/// `sha256` list (its grants stay as the operator wrote them). Returns
/// what was done, in words.
pub fn trust(path: &Path, name: &str, sha256: &str, table: &str) -> Result<String, PolicyError> {
    let invalid = |message: String| PolicyError::Invalid {
        path: Some(path.to_path_buf()),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(PolicyError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // The file must stay a valid policy.
    if !text.is_empty() {
        super::Policy::from_toml(&text, path)?;
    }
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| invalid(format!("cannot edit: {e}")))?;
    let plugins = doc
        .entry("plugins")
        .or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| invalid("`plugins` is not a table".into()))?;
    let done = match plugins.get_mut(name).and_then(Item::as_table_mut) {
        Some(existing) => {
            let pins = existing
                .entry("sha256")
                .or_insert_with(|| value(Array::new()))
                .as_array_mut()
                .ok_or_else(|| invalid(format!("[plugins.{name}] sha256 is not a list")))?;
            if pins.iter().any(|p| p.as_str() == Some(sha256)) {
                format!(
                    "[plugins.{name}] in {} already pins {sha256}",
                    path.display()
                )
            } else {
                pins.push(sha256);
                format!(
                    "added {sha256} to the sha256 list of [plugins.{name}] in {}",
                    path.display()
                )
            }
        }
        None => {
            let new: DocumentMut = table
                .parse()
                .map_err(|e| invalid(format!("the new table is not TOML: {e}")))?;
            let new_table = new
                .get("plugins")
                .and_then(|p| p.get(name))
                .cloned()
                .ok_or_else(|| invalid(format!("the new table has no [plugins.{name}]")))?;
            plugins.insert(name, new_table);
            format!("added [plugins.{name}] to {}", path.display())
        }
    };
    let written = doc.to_string();
    super::Policy::from_toml(&written, path)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| PolicyError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, written)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";

    #[test]
    fn a_new_table_is_added_and_comments_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(
            &path,
            "# mine\n[plugins.blhc]\nexec = [\"blhc --debian **\"]\n",
        )
        .unwrap();
        let table = format!("[plugins.sc]\nsha256 = [\"{PIN}\"]\nexec = [\"shellcheck **\"]\n");
        trust(&path, "sc", PIN, &table).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# mine\n"), "{text}");
        let policy = super::super::Policy::load(&path).unwrap();
        assert_eq!(policy.table_pinning(PIN), Some("sc"));
    }

    #[test]
    fn an_existing_table_gains_the_digest_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        let other = "cd".repeat(32);
        std::fs::write(
            &path,
            format!("[plugins.sc]\nsha256 = [\"{other}\"]\nexec = [\"shellcheck -x **\"]\n"),
        )
        .unwrap();
        let done = trust(&path, "sc", PIN, "[plugins.sc]\nexec = [\"rm **\"]\n").unwrap();
        assert!(done.contains("added"), "{done}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&other) && text.contains(PIN), "{text}");
        assert!(
            !text.contains("rm **"),
            "the operator's grants stay: {text}"
        );
        // Twice is once.
        let again = trust(&path, "sc", PIN, "").unwrap();
        assert!(again.contains("already"), "{again}");
    }
}
