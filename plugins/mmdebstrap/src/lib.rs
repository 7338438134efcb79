//! mmdebstrap: bootstraps a Debian system into a `debian:system-tarball`.
//!
//! Follows debusine's Mmdebstrap task, which implements the SystemBootstrap
//! interface: the repositories become a deb822 sources file that mmdebstrap
//! takes as its mirror, `bootstrap_options` become command line options,
//! and fixed customize hooks put the sources (and keyrings) into the
//! chroot, run the customization script, clean up host files and copy out
//! what the artifact describes: `/etc/os-release`, the dpkg status and
//! whether `/sbin/init` exists. The SystemBootstrap part (task_data,
//! sources, keyrings, hooks, parsers) is `taskhost-systembootstrap`,
//! shared with the simplesystemimagebuild task.
//!
//! No value from task_data ever goes into a hook: hooks are fixed strings
//! naming fixed workspace files, and user content (the sources, the
//! keyrings, the script) reaches the chroot through mmdebstrap's `upload`
//! special hook.

use std::time::Duration;
use taskhost_sdk::artifacts::NewArtifact;
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{Command, Environment, Error, Outcome, Result, Status, Task, log};
pub use taskhost_systembootstrap::Bootstrap as Data;
use taskhost_systembootstrap::{
    HOST_SOURCES, SystemBootstrap, SystemTarball, Variant, cleanup_hooks, failure_summary, prepare,
    report_hooks, script_hooks, setup_hooks, tail,
};

// ---- command line -----------------------------------------------------

/// The tarball mmdebstrap writes into the workspace.
pub const OUTPUT: &str = "system.tar.xz";

/// mmdebstrap's hooks for the task: fixed strings and fixed file names.
/// Order: keyrings and sources first (the customization script may use
/// apt), then the script, then the cleanup, then what the artifact
/// describes (after the script, so the package list includes what it
/// installed).
pub fn hooks(data: &Data) -> Vec<String> {
    let mut hooks = setup_hooks(data);
    hooks.extend(script_hooks(data));
    hooks.extend(cleanup_hooks());
    hooks.extend(report_hooks());
    hooks
}

/// mmdebstrap's argv. The suite is "" (mmdebstrap takes it from the
/// sources) and the sources file is the only mirror.
pub fn command_line(data: &Data) -> Command {
    let mut cmd = Command::new("mmdebstrap")
        .args(["--mode=unshare", "--format=tar"])
        .args(taskhost_systembootstrap::options(data, &[]));
    // The extract variant stops before the customize hooks.
    let hook_option = if data.options().variant == Some(Variant::Extract) {
        "--extract-hook"
    } else {
        "--customize-hook"
    };
    for hook in hooks(data) {
        cmd = cmd.arg(format!("{hook_option}={hook}"));
    }
    cmd.args(["", OUTPUT, HOST_SOURCES])
}

/// Generous: a `standard` system over a slow mirror takes a while. The
/// run's own deadline still applies.
pub const TIMEOUT: Duration = Duration::from_secs(3 * 60 * 60);

// ---- output -----------------------------------------------------------

/// Whether an xz-compressed tarball holds device nodes under `./dev/`
/// (the artifact's `with_dev`). mmdebstrap writes its /dev entries first
/// with --format=tar, so a tarball that has them is read only that far.
pub fn tar_xz_has_dev_nodes(xz: impl std::io::Read) -> std::io::Result<bool> {
    use std::path::Component;
    let mut archive = tar::Archive::new(lzma_rust2::XzReader::new(xz, true));
    for entry in archive.entries()? {
        let entry = entry?;
        let kind = entry.header().entry_type();
        if !(kind.is_character_special() || kind.is_block_special()) {
            continue;
        }
        let path = entry.path()?;
        let first = path
            .components()
            .find(|c| !matches!(c, Component::CurDir | Component::RootDir));
        if first == Some(Component::Normal("dev".as_ref())) {
            return Ok(true);
        }
    }
    Ok(false)
}

// ---- the task ---------------------------------------------------------

/// The task.
pub struct Mmdebstrap;

impl Task for Mmdebstrap {
    type Data = Data;
    const NAME: &'static str = "mmdebstrap";
    const SUMMARY: &'static str =
        "Bootstraps a Debian system tarball with mmdebstrap (debusine's Mmdebstrap task)";
    const TASK_DATA_DOC: &'static str = "\
- `bootstrap_options.architecture` (required): the system's architecture (--architectures).
- `bootstrap_options.variant`: extract, custom, essential, apt, required, minbase, buildd,
  important, debootstrap, - or standard (--variant).
- `bootstrap_options.extra_packages`: packages to include (--include).
- `bootstrap_options.use_signed_by` (default true): give external keyrings with Signed-By;
  false: with --keyring.
- `bootstrap_repositories` (at least one): `mirror` (http, https or file URL) and `suite`
  (required); `types` (deb, deb-src; default [deb]); `components` (default: those of
  MIRROR/dists/SUITE/Release); `check_signature_with`: system (default), external or no-check;
  `keyring_package` (included); `keyring`: `url` (http(s), or file:// under
  /usr/share/keyrings/ or /usr/local/share/keyrings/), `sha256sum`, `install` (default false).
- `customization_script`: a script run inside the system (as a program: a #! line is honoured),
  then removed.
The result is one debian:system-tarball artifact (system.tar.xz).";

    fn validate(data: &Data) -> Result<()> {
        taskhost_systembootstrap::validate(data)
    }

    fn execute(data: Data) -> Result<Status> {
        let resolved = prepare(&data, data.bootstrap_repositories.len())?;

        let env = Environment::open("local")?;
        let cmd = command_line(&data)
            .stdout("mmdebstrap.stdout")
            .stderr("mmdebstrap.log")
            .timeout(TIMEOUT);
        let exit = env.run(&cmd)?;
        let stderr = exit.read_stderr()?;
        if exit.timed_out() {
            log::error(format!("mmdebstrap timed out:\n{}", tail(&stderr, 30)));
            return Err(Error::TimedOut);
        }
        if !exit.success() {
            log::warn(format!(
                "the end of mmdebstrap's log:\n{}",
                tail(&stderr, 100)
            ));
            return Err(Error::failed(format!(
                "mmdebstrap {exit}:\n{}",
                failure_summary(&stderr)
            )));
        }
        let tarball = std::fs::File::open(OUTPUT).map_err(|e| {
            Error::failed(format!("mmdebstrap succeeded but wrote no {OUTPUT}: {e}"))
        })?;
        let with_dev = tar_xz_has_dev_nodes(std::io::BufReader::new(tarball))
            .map_err(|e| Error::failed(format!("reading mmdebstrap's {OUTPUT}: {e}")))?;

        let options = &data.bootstrap_options;
        let (mut tarball, _) = SystemTarball::reported(&data, &resolved[0])?;
        tarball.filename = OUTPUT.into();
        tarball.with_dev = with_dev;
        let (vendor, codename) = (tarball.vendor.clone(), tarball.codename.clone());
        let (packages, with_init) = (tarball.pkglist.len(), tarball.with_init);
        let id = NewArtifact::new("debian:system-tarball")
            .data(&tarball)?
            .file(OUTPUT, OUTPUT)
            .create()?;

        CheckResult::new(
            format!("{codename}/{}", options.architecture),
            "debian:system-tarball",
            Outcome::Passed,
        )
        .note(format!(
            "{vendor} {codename} {}: {packages} packages",
            options.variant.map_or("debootstrap", Variant::as_str)
        ))
        .artifact(format!("artifact:{id}"))
        .keyval("vendor", &vendor)
        .keyval("packages", packages)
        .keyval("with_init", with_init)
        .emit()?;
        Ok(Status::Success)
    }
}

taskhost_sdk::export_task!(Mmdebstrap, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use taskhost_sdk::decode_task_data;

    fn data(json: &str) -> Data {
        decode_task_data(json).unwrap()
    }

    const MINIMAL: &str = r#"{
        "bootstrap_options": {"architecture": "amd64"},
        "bootstrap_repositories": [{"mirror": "http://mirror.example/debian", "suite": "bookworm"}]
    }"#;

    #[test]
    fn argv_for_the_minimal_task() {
        let d = data(MINIMAL);
        let argv = command_line(&d).argv().to_vec();
        let hook = |h: &str| format!("--customize-hook={h}");
        let expected: Vec<String> = [
            "mmdebstrap",
            "--mode=unshare",
            "--format=tar",
            "--architectures=amd64",
            "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([
            hook(r#"rm -f "$1/etc/apt/sources.list.d/0000mmdebstrap.sources""#),
            hook("upload chroot.sources /etc/apt/sources.list.d/taskhost.sources"),
            hook(r#"rm -f "$1/etc/hostname""#),
            hook(r#"test -h "$1/etc/resolv.conf" || rm -f "$1/etc/resolv.conf""#),
            hook("download /etc/os-release os-release"),
            hook("download /var/lib/dpkg/status dpkg-status"),
            hook(
                r#"if test -x "$1/sbin/init" || test -h "$1/sbin/init"; then echo true; else echo false; fi > "$1/tmp/taskhost-with-init""#,
            ),
            hook("download /tmp/taskhost-with-init with-init"),
            hook(r#"rm -f "$1/tmp/taskhost-with-init""#),
            String::new(),
            "system.tar.xz".into(),
            "mmdebstrap.sources".into(),
        ])
        .collect();
        assert_eq!(argv, expected);
    }

    #[test]
    fn argv_with_options_keyrings_and_script() {
        let d = data(
            r##"{
            "bootstrap_options": {"architecture": "i386", "variant": "minbase",
                "extra_packages": ["eatmydata", "?priority(important)", "hello=2.10-3"]},
            "bootstrap_repositories": [
                {"mirror": "http://m.example/debian", "suite": "bookworm",
                 "keyring_package": "debian-archive-keyring"},
                {"mirror": "file:///srv/mirror", "suite": "local", "components": ["main"],
                 "check_signature_with": "external", "keyring_package": "eatmydata",
                 "keyring": {"url": "https://k.example/k.gpg", "install": true}}],
            "customization_script": "#!/bin/sh\necho $(hostname)\n"
        }"##,
        );
        let argv = command_line(&d).argv().to_vec();
        let head: Vec<&str> = argv[..9].iter().map(String::as_str).collect();
        assert_eq!(
            head,
            [
                "mmdebstrap",
                "--mode=unshare",
                "--format=tar",
                "--architectures=i386",
                "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older",
                "--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount",
                "--variant=minbase",
                "--include=eatmydata,hello=2.10-3,debian-archive-keyring",
                "--include=?priority(important)",
            ]
        );
        assert!(!argv.iter().any(|a| a.starts_with("--keyring")));
        let hooks: Vec<&str> = argv
            .iter()
            .filter_map(|a| a.strip_prefix("--customize-hook="))
            .collect();
        assert_eq!(
            hooks[..10],
            [
                r#"mkdir -p "$1/etc/apt/keyrings""#,
                "upload keyrings/repo-1.gpg /etc/apt/keyrings/taskhost-repo-1.gpg",
                r#"chmod 644 "$1/etc/apt/keyrings/taskhost-repo-1.gpg""#,
                r#"rm -f "$1/etc/apt/sources.list.d/0000mmdebstrap.sources""#,
                "upload chroot.sources /etc/apt/sources.list.d/taskhost.sources",
                "upload customization-script /taskhost-customization-script",
                r#"chmod 755 "$1/taskhost-customization-script""#,
                r#"chroot "$1" /taskhost-customization-script"#,
                r#"rm -f "$1/taskhost-customization-script""#,
                r#"rm -f "$1/etc/hostname""#,
            ]
        );
        // No user input in any hook.
        assert!(
            !argv
                .iter()
                .any(|a| a.contains("hostname)") || a.contains("k.example"))
        );
        assert_eq!(
            argv[argv.len() - 3..],
            ["", "system.tar.xz", "mmdebstrap.sources"]
        );
    }

    #[test]
    fn argv_with_keyring_option_and_extract_hooks() {
        let d = data(
            r#"{
            "bootstrap_options": {"architecture": "amd64", "variant": "extract",
                "use_signed_by": false, "extra_packages": ["base-files"]},
            "bootstrap_repositories": [
                {"mirror": "https://m.example/debian", "suite": "bookworm",
                 "check_signature_with": "external",
                 "keyring": {"url": "https://k.example/k.asc", "install": true}}]
        }"#,
        );
        let argv = command_line(&d).argv().to_vec();
        assert!(argv.contains(&"--keyring=keyrings/bootstrap.gpg".to_string()));
        assert!(argv.contains(&"--variant=extract".to_string()));
        assert!(!argv.iter().any(|a| a.starts_with("--customize-hook=")));
        assert!(argv.contains(
            &"--extract-hook=upload keyrings/repo-0.gpg /etc/apt/trusted.gpg.d/taskhost-repo-0.gpg"
                .to_string()
        ));
        assert!(
            argv.contains(&r#"--extract-hook=mkdir -p "$1/etc/apt/trusted.gpg.d""#.to_string())
        );
    }

    /// A tar member; `name` goes into the header as is (the tar crate
    /// would drop a leading `./`, which mmdebstrap writes).
    fn member(out: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, body: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(0o666);
        header.set_size(body.len() as u64);
        if kind == tar::EntryType::Char {
            header.set_device_major(1).unwrap();
            header.set_device_minor(3).unwrap();
        }
        header.set_cksum();
        out.append(&header, body).unwrap();
    }

    /// An xz-compressed tarball of `members` (name, type, body).
    fn tar_xz(members: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut tar = tar::Builder::new(Vec::new());
        for (name, kind, body) in members {
            member(&mut tar, name, *kind, body);
        }
        let tar = tar.into_inner().unwrap();
        let options = lzma_rust2::XzOptions::with_preset(1);
        let mut xz = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
        xz.write_all(&tar).unwrap();
        xz.finish().unwrap()
    }

    #[test]
    fn with_dev_comes_from_the_device_nodes_under_dev() {
        use tar::EntryType::{Block, Char, Directory, Regular, Symlink};
        let big = vec![7u8; 300_000];
        // As mmdebstrap writes them: ./dev first, then the system.
        let mmdebstrap = tar_xz(&[
            ("./dev/", Directory, b""),
            ("./dev/console", Char, b""),
            ("./dev/fd", Symlink, b""),
            ("./dev/null", Char, b""),
            ("./", Directory, b""),
            ("./etc/os-release", Regular, b"ID=debian\n"),
        ]);
        assert!(tar_xz_has_dev_nodes(&mmdebstrap[..]).unwrap());
        // Found after other members too, with or without `./`.
        let later = tar_xz(&[
            ("usr/lib/big", Regular, &big),
            ("dev/", Directory, b""),
            ("dev/vda", Block, b""),
        ]);
        assert!(tar_xz_has_dev_nodes(&later[..]).unwrap());
        // /dev with no nodes, or nodes elsewhere, is not "with dev".
        let without = tar_xz(&[
            ("./dev/", Directory, b""),
            ("./dev/fd", Symlink, b""),
            ("./dev/pts/", Directory, b""),
            ("./srv/dev/null", Char, b""),
            ("./devices/null", Char, b""),
            ("./usr/lib/big", Regular, &big),
        ]);
        assert!(!tar_xz_has_dev_nodes(&without[..]).unwrap());
        assert!(!tar_xz_has_dev_nodes(&tar_xz(&[])[..]).unwrap());
        // Not xz, or cut short: an error, not a guess.
        assert!(tar_xz_has_dev_nodes(&b"plain text, not xz"[..]).is_err());
        assert!(tar_xz_has_dev_nodes(&without[..without.len() / 2]).is_err());
    }
}
