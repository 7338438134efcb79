//! simplesystemimagebuild: builds a bootable EFI disk image of a Debian
//! system, a `debian:system-image`.
//!
//! Follows debusine's SimpleSystemImageBuild task (SystemImageBuild with
//! a single root partition) and builds the image the way Debian's
//! debefivm-create does, without loop devices, KVM or root on a block
//! device:
//! 1. mmdebstrap installs the system (the SystemBootstrap keys, from the
//!    first repository; the others are enabled in the system afterwards)
//!    with a kernel, systemd-boot, systemd-sysv, udev and openssh-server
//!    into the workspace's `rootfs/`. Fixed hooks write fstab, DHCP on
//!    every ethernet NIC (systemd-networkd), the hostname and the
//!    authorized ssh keys, and copy out the kernel, the initrd and
//!    systemd-boot's EFI binary.
//! 2. A sparse `system.img` gets a GPT (sfdisk), an ext4 root file system
//!    filled from `rootfs/` at its partition's offset (`mkfs.ext4 -d`) and
//!    an EFI system partition (`mkfs.fat --offset`, `mcopy`) holding
//!    systemd-boot as the removable-media boot loader, the kernel, the
//!    initrd and a loader entry (`root=UUID=... console=ttyS0
//!    no_timer_check`).
//! 3. qcow2 comes from `qemu-img convert`; raw is packed as a sparse
//!    `.tar.xz`, as debusine does.
//!
//! No value from task_data goes into a hook or a path: hooks are fixed
//! strings, user content reaches the system through mmdebstrap's `upload`
//! hook, and the image is built under fixed workspace names (`filename`
//! only names the artifact's file).
//!
//! The image model (task_data, checks, layout, files and command lines)
//! is `taskhost_systembootstrap::image`; this crate runs the steps.

use std::time::Duration;
use taskhost_sdk::artifacts::NewArtifact;
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{Command, Environment, Error, Outcome, Result, Status, Task, log};
pub use taskhost_systembootstrap::image::Data;
use taskhost_systembootstrap::image::{
    BOOTSTRAP_TIMEOUT, ESP, Filesystem, IMAGE, ImageFormat, LOADER_CONF, Layout, QCOW2, ROOTFS,
    STEP_TIMEOUT, SystemImage, TAR_XZ, cmdline, efi, has_device_nodes, loader_entry, mcopy,
    mkfs_ext4, mkfs_fat, mmdebstrap, qemu_img, root_partition, sfdisk, tar, validate, write_config,
    xz,
};
use taskhost_systembootstrap::{SystemTarball, Variant, failure_summary, prepare, tail};

// ---- the task ---------------------------------------------------------

/// Runs one step; an error names it and shows its log's error lines.
fn run(env: &Environment, cmd: Command, step: &str, timeout: Duration) -> Result<()> {
    let cmd = cmd
        .stdout(format!("logs/{step}.stdout"))
        .stderr(format!("logs/{step}.log"))
        .timeout(timeout);
    let exit = env.run(&cmd)?;
    let stderr = exit.read_stderr()?;
    if exit.timed_out() {
        log::error(format!("{step} timed out:\n{}", tail(&stderr, 30)));
        return Err(Error::TimedOut);
    }
    if !exit.success() {
        let how = match (exit.code(), exit.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            _ => "an unknown status".into(),
        };
        log::warn(format!("the end of {step}'s log:\n{}", tail(&stderr, 100)));
        return Err(Error::failed(format!(
            "{step} failed ({how}):\n{}",
            failure_summary(&stderr)
        )));
    }
    Ok(())
}

/// The task.
pub struct SimpleSystemImageBuild;

impl Task for SimpleSystemImageBuild {
    type Data = Data;
    const NAME: &'static str = "simplesystemimagebuild";
    const SUMMARY: &'static str = "Builds a bootable EFI disk image of a Debian system (debusine's SimpleSystemImageBuild task)";
    const TASK_DATA_DOC: &'static str = "\
The SystemBootstrap keys of the mmdebstrap task (`bootstrap_options.architecture`, `variant`
(not extract), `extra_packages`, `use_signed_by`; `bootstrap_repositories`; `customization_script`):
the system is bootstrapped from the first repository, and every repository is enabled in it.
- `disk_image.format` (required): raw (stored as IMAGE.tar.xz, a sparse tarball of system.img)
  or qcow2 (IMAGE.qcow2).
- `disk_image.filename` (default image): the base of the artifact's file name.
- `disk_image.kernel_package` (default: linux-image-ARCH's flavour, e.g. linux-image-amd64).
- `disk_image.bootloader` (default systemd-boot; the only one supported).
- `disk_image.partitions` (required): exactly one, the root file system:
  [{size: GiB, filesystem: ext4, mountpoint: /}].
- `disk_image.authorized_keys`: OpenSSH public keys (lines of a .pub file) that may log in as root.
The image is a GPT disk with a 256 MiB EFI system partition (systemd-boot, the kernel, the
initrd) and the ext4 root; the system gets DHCP on every ethernet NIC (systemd-networkd), sshd,
a serial console on ttyS0 (amd64, i386) and the hostname debian.
The result is one debian:system-image artifact.";

    fn validate(data: &Data) -> Result<()> {
        validate(data)
    }

    fn execute(data: Data) -> Result<Status> {
        let options = &data.bootstrap_options;
        let efi = efi(&options.architecture).ok_or_else(|| {
            Error::invalid(format!(
                "bootstrap_options.architecture: no EFI support for {}",
                options.architecture
            ))
        })?;
        let root = root_partition(&data.disk_image.partitions)?;
        let layout = Layout::new(root.size);
        let root_uuid = uuid::Uuid::new_v4().to_string();
        let steps = 5;
        log::progress("image", 0, Some(steps));

        let resolved = prepare(&data, 1)?;
        write_config(&data, efi, &layout, &root_uuid)?;
        let env = Environment::open("local")?;
        run(
            &env,
            mmdebstrap(&data, efi),
            "mmdebstrap",
            BOOTSTRAP_TIMEOUT,
        )?;
        log::progress("image", 1, Some(steps));

        // What the system reports, checked before the image is built: a
        // bad bootstrap fails here, not after the expensive steps.
        let (mut system, release) = SystemTarball::reported(&data, &resolved[0])?;
        let title = release
            .get("PRETTY_NAME")
            .cloned()
            .unwrap_or_else(|| "Debian".into());
        std::fs::write(format!("{ESP}/loader/loader.conf"), LOADER_CONF)?;
        std::fs::write(
            format!("{ESP}/loader/entries/debian.conf"),
            loader_entry(&title, &cmdline(efi, &root_uuid)),
        )?;
        system.with_dev = has_device_nodes(&format!("{ROOTFS}/dev"))?;

        // A sparse file: only what the file systems write takes space.
        std::fs::File::create(IMAGE)?.set_len(layout.disk_size)?;
        run(&env, sfdisk(), "sfdisk", STEP_TIMEOUT)?;
        run(
            &env,
            mkfs_ext4(&layout, &root_uuid),
            "mkfs.ext4",
            STEP_TIMEOUT,
        )?;
        log::progress("image", 2, Some(steps));
        std::fs::remove_dir_all(ROOTFS)?;
        run(&env, mkfs_fat(&layout), "mkfs.fat", STEP_TIMEOUT)?;
        run(&env, mcopy(&layout), "mcopy", STEP_TIMEOUT)?;
        log::progress("image", 3, Some(steps));

        let image = &data.disk_image;
        let (path, name) = match image.format {
            ImageFormat::Qcow2 => {
                run(&env, qemu_img(), "qemu-img", STEP_TIMEOUT)?;
                (QCOW2, format!("{}.qcow2", image.filename))
            }
            ImageFormat::Raw => {
                run(&env, tar(), "tar", STEP_TIMEOUT)?;
                run(&env, xz(), "xz", STEP_TIMEOUT)?;
                (TAR_XZ, format!("{}.tar.xz", image.filename))
            }
        };
        std::fs::remove_file(IMAGE)?;
        log::progress("image", 4, Some(steps));

        system.filename = name.clone();
        let (vendor, codename) = (system.vendor.clone(), system.codename.clone());
        let packages = system.pkglist.len();
        let kernel = system
            .pkglist
            .keys()
            .find(|p| {
                p.strip_prefix("linux-image-")
                    .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            })
            .cloned()
            .unwrap_or_default();
        let system = SystemImage {
            system,
            image_format: image.format.as_str(),
            filesystem: Filesystem::Ext4.as_str(),
            size: layout.disk_size,
            boot_mechanism: "efi",
        };
        let id = NewArtifact::new("debian:system-image")
            .data(&system)?
            .file(&name, path)
            .create()?;
        log::progress("image", steps, Some(steps));

        CheckResult::new(
            format!("{codename}/{}", options.architecture),
            "debian:system-image",
            Outcome::Passed,
        )
        .note(format!(
            "{vendor} {codename} {}: {packages} packages, {} GiB {} EFI image {name}",
            options.variant.map_or("debootstrap", Variant::as_str),
            root.size,
            image.format.as_str(),
        ))
        .artifact(format!("artifact:{id}"))
        .keyval("vendor", &vendor)
        .keyval("packages", packages)
        .keyval("kernel", kernel)
        .keyval("image_format", image.format.as_str())
        .keyval("size", layout.disk_size)
        .emit()?;
        Ok(Status::Success)
    }
}

taskhost_sdk::export_task!(SimpleSystemImageBuild, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use taskhost_sdk::decode_task_data;

    const DATA: &str = r#"{"bootstrap_options": {"architecture": "amd64"},
        "bootstrap_repositories": [{"mirror": "http://m.example/debian", "suite": "trixie"}],
        "disk_image": {"format": "qcow2",
                       "partitions": [{"size": 2, "filesystem": "ext4", "mountpoint": "/"}]}}"#;

    /// The exec grants the manifest declares, as argv patterns.
    fn declared() -> Vec<Vec<String>> {
        let manifest = include_str!("../taskhost.toml");
        let start = manifest.find("exec = [").expect("exec");
        let end = start + manifest[start..].find("\n]").expect("end of exec");
        manifest[start..end]
            .lines()
            .skip(1)
            .filter_map(|l| l.trim().strip_prefix('"'))
            .filter_map(|l| l.strip_suffix("\","))
            .map(|l| l.split(' ').map(str::to_string).collect())
            .collect()
    }

    /// `*` one argument, trailing `**` the rest, as the host matches.
    fn matches(pattern: &[String], argv: &[String]) -> bool {
        match pattern.split_last() {
            Some((last, head)) if last == "**" => {
                argv.len() >= head.len() && head.iter().zip(argv).all(|(p, a)| p == "*" || p == a)
            }
            _ => {
                argv.len() == pattern.len()
                    && pattern.iter().zip(argv).all(|(p, a)| p == "*" || p == a)
            }
        }
    }

    #[test]
    fn the_manifest_declares_every_command_line() {
        let d: Data = decode_task_data(DATA).unwrap();
        let layout = Layout::new(2);
        let commands = [
            mmdebstrap(&d, efi("amd64").unwrap()),
            sfdisk(),
            mkfs_ext4(&layout, "0b7e6f2a-9a64-4c1f-8f0e-1d2c3b4a5f60"),
            mkfs_fat(&layout),
            mcopy(&layout),
            qemu_img(),
            tar(),
            xz(),
        ];
        let declared = declared();
        assert_eq!(declared.len(), commands.len());
        for cmd in &commands {
            assert!(
                declared.iter().any(|p| matches(p, cmd.argv())),
                "no exec pattern for {:?}",
                cmd.argv()
            );
        }
    }
}
