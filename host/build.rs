//! Builds every guest crate (plugins/*, tests/plugins/*) for wasm32-wasip2
//! with a nested cargo and its own target dir, then
//! - embeds the shipped plugins (plugins/*) into runtask (`builtin.rs`);
//! - exposes the test plugins' paths as `TASKHOST_TEST_PLUGIN_<NAME>`.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "plugin";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("workspace root").to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    for dir in [
        "wit",
        "sdk",
        "plugins",
        "tests/plugins",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let shipped = guest_crates(&root.join("plugins"));
    let tests = guest_crates(&root.join("tests/plugins"));
    let target_dir = out_dir.join("guests");

    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR");
    for (package, _) in shipped.iter().chain(&tests) {
        cmd.args(["-p", package]);
    }
    let status = cmd.status().expect("run cargo for the wasm plugins");
    if !status.success() {
        panic!(
            "building the wasm plugins failed: see the compiler's errors above; if it says \
             the {TARGET} target is missing, `rustup target add {TARGET}` adds it \
             (rust-toolchain.toml lists it)"
        );
    }

    let wasm = |package: &str| {
        target_dir
            .join(TARGET)
            .join(PROFILE)
            .join(format!("{}.wasm", package.replace('-', "_")))
    };

    let mut builtin = String::from(
        "/// Plugins shipped inside runtask: (name, component bytes).\npub const BUILTIN: &[(&str, &[u8])] = &[\n",
    );
    for (package, name) in &shipped {
        writeln!(
            builtin,
            "    ({name:?}, include_bytes!({:?})),",
            wasm(package).display().to_string()
        )
        .unwrap();
    }
    builtin.push_str("];\n");
    fs::write(out_dir.join("builtin.rs"), builtin).expect("write builtin.rs");

    for (package, name) in &tests {
        let var = name.to_uppercase().replace('-', "_");
        println!(
            "cargo:rustc-env=TASKHOST_TEST_PLUGIN_{var}={}",
            wasm(package).display()
        );
    }
}

/// (package name, plugin dir name) of each crate under `dir`.
fn guest_crates(dir: &Path) -> Vec<(String, String)> {
    let mut crates = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return crates;
    };
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue;
        };
        let package = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("name = ")
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| panic!("no package name in {}", manifest.display()));
        crates.push((package, entry.file_name().to_string_lossy().into_owned()));
    }
    crates.sort();
    crates
}
