//! `runtask plugin new NAME`: a plugin crate that builds with one command,
//! with a manifest, tests on both harness levels and the policy to paste.

use super::usage;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use taskhost::manifest::Declares;

/// What `plugin new` writes.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// A debusine-style task, run with `runtask run`
    Task,
    /// A step of a Taskotron-style task formula
    Directive,
}

/// The language of what `plugin new` writes.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Lang {
    /// A Rust crate on taskhost-sdk
    Rust,
    /// A Python module on the `taskhost` package, built with componentize-py
    Python,
}

/// (path in the crate, template) per kind.
const TASK: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("scaffold/task/Cargo.toml.in")),
    (
        "taskhost.toml",
        include_str!("scaffold/task/taskhost.toml.in"),
    ),
    ("src/lib.rs", include_str!("scaffold/task/src/lib.rs.in")),
    (
        "tests/fake_host.rs",
        include_str!("scaffold/task/tests/fake_host.rs.in"),
    ),
    (
        "tests/integration.rs",
        include_str!("scaffold/task/tests/integration.rs.in"),
    ),
    ("README.md", include_str!("scaffold/task/README.md.in")),
    (
        "rust-toolchain.toml",
        include_str!("scaffold/task/rust-toolchain.toml"),
    ),
    (".gitignore", include_str!("scaffold/task/.gitignore")),
];
const PYTHON_TASK: &[(&str, &str)] = &[
    (
        "taskhost.toml",
        include_str!("scaffold/python/taskhost.toml.in"),
    ),
    ("app.py", include_str!("scaffold/python/app.py.in")),
    (
        "test_app.py",
        include_str!("scaffold/python/test_app.py.in"),
    ),
    ("README.md", include_str!("scaffold/python/README.md.in")),
    (".gitignore", include_str!("scaffold/python/.gitignore")),
];
const DIRECTIVE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("scaffold/directive/Cargo.toml.in"),
    ),
    (
        "taskhost.toml",
        include_str!("scaffold/directive/taskhost.toml.in"),
    ),
    (
        "src/lib.rs",
        include_str!("scaffold/directive/src/lib.rs.in"),
    ),
    (
        "tests/fake_host.rs",
        include_str!("scaffold/directive/tests/fake_host.rs.in"),
    ),
    ("README.md", include_str!("scaffold/directive/README.md.in")),
    (
        "rust-toolchain.toml",
        include_str!("scaffold/directive/rust-toolchain.toml"),
    ),
    (".gitignore", include_str!("scaffold/directive/.gitignore")),
];

/// The SDK release that speaks this runtask's API.
const SDK_VERSION: &str = "0.2";

/// The taskhost sources runtask was built from, if they are still there.
fn source_tree() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    root.join("sdk/Cargo.toml")
        .is_file()
        .then(|| root.to_path_buf())
}

pub(crate) fn new(
    name: &str,
    kind: Kind,
    lang: Lang,
    dir: Option<&Path>,
    sources: Option<&Path>,
) -> Result<()> {
    if lang == Lang::Python && kind == Kind::Directive {
        return Err(usage(
            "plugin new --lang python: the Python SDK writes tasks only (--kind task); \
             a directive is written in Rust",
        ));
    }
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(usage(format!(
            "plugin new {name:?}: a name is 1 to 64 of a-z, 0-9, '-' and '_', starting with a letter \
             (it names the crate, the plugin and its policy table)"
        )));
    }
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(usage(format!(
            "plugin new: {} exists and is not empty; pass --dir DIR for another place",
            dir.display()
        )));
    }
    let sources = match sources {
        Some(s) => {
            Some(std::path::absolute(s).with_context(|| format!("--sources {}", s.display()))?)
        }
        None => source_tree(),
    };
    if let Some(s) = &sources
        && !s.join("sdk/Cargo.toml").is_file()
    {
        return Err(usage(format!(
            "--sources {}: no sdk/Cargo.toml there (give the root of a taskhost checkout)",
            s.display()
        )));
    }
    let quote = |p: PathBuf| toml_string(&p.display().to_string());
    if lang == Lang::Python {
        return python(name, &dir, sources.as_deref());
    }
    let (sdk, sdk_inner, host) = match &sources {
        Some(s) => (
            format!("{{ path = {} }}", quote(s.join("sdk"))),
            format!("path = {}, ", quote(s.join("sdk"))),
            format!("path = {}, ", quote(s.join("host"))),
        ),
        None => (
            format!("\"{SDK_VERSION}\""),
            format!("version = \"{SDK_VERSION}\", "),
            format!("version = \"{}\", ", env!("CARGO_PKG_VERSION")),
        ),
    };
    let crate_name = name.replace('-', "_");
    let files = match kind {
        Kind::Task => TASK,
        Kind::Directive => DIRECTIVE,
    };
    write(
        &dir,
        files,
        &[
            ("{{name}}", name),
            ("{{crate}}", &crate_name),
            ("{{sdk}}", &sdk),
            ("{{sdk_inner}}", &sdk_inner),
            ("{{host}}", &host),
        ],
    )?;

    let manifest: taskhost::manifest::Manifest =
        toml::from_str(&std::fs::read_to_string(dir.join("taskhost.toml"))?)
            .context("the manifest written")?;
    let declared = manifest.declared()?;
    let table = taskhost::plugins::trust_table(name, "SHA256 OF THE BUILT .wasm", declared);
    let wasm = format!("target/wasm32-wasip2/release/{crate_name}.wasm");
    println!(
        "wrote {kind} plugin {name} in {dir}\n\n\
         cd {dir}\n\
         cargo build --release --target wasm32-wasip2   # the plugin: {wasm}\n\
         cargo test                                     # the fake host{integration}\n\
         runtask plugin install {wasm}          # prints the table with its sha256\n\n\
         The policy table that trusts and grants it:\n\n{table}",
        kind = match kind {
            Kind::Task => "task",
            Kind::Directive => "directive",
        },
        dir = dir.display(),
        integration = match kind {
            Kind::Task =>
                "\ncargo test --features integration              # the real host and tool",
            Kind::Directive => "",
        },
    );
    if sources.is_none() {
        println!(
            "(taskhost-sdk {SDK_VERSION} comes from crates.io; pass --sources DIR to use a taskhost checkout)"
        );
    }
    Ok(())
}

/// A Python plugin: module, manifest, unit tests on the fake host.
fn python(name: &str, dir: &Path, sources: Option<&Path>) -> Result<()> {
    let sdk = match sources {
        Some(s) => s.join("sdk/python").display().to_string(),
        None => "TASKHOST/sdk/python".to_owned(),
    };
    write(dir, PYTHON_TASK, &[("{{name}}", name), ("{{sdk}}", &sdk)])?;
    let manifest: taskhost::manifest::Manifest =
        toml::from_str(&std::fs::read_to_string(dir.join("taskhost.toml"))?)
            .context("the manifest written")?;
    let table =
        taskhost::plugins::trust_table(name, "SHA256 OF THE BUILT .wasm", manifest.declared()?);
    println!(
        "wrote Python task plugin {name} in {dir}\n\n\
         cd {dir}\n\
         PYTHONPATH={sdk} python3 -m unittest            # the fake host\n\
         PYTHONPATH={sdk} python3 -m taskhost.build .    # {name}.wasm, with componentize-py\n\
         runtask plugin install {name}.wasm              # prints the table with its sha256\n\n\
         The policy table that trusts and grants it:\n\n{table}",
        dir = dir.display(),
    );
    Ok(())
}

/// Writes `files` under `dir`, each template's placeholders replaced.
fn write(dir: &Path, files: &[(&str, &str)], values: &[(&str, &str)]) -> Result<()> {
    for (path, template) in files {
        let text = values
            .iter()
            .fold(template.to_string(), |t, (k, v)| t.replace(k, v));
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}
