//! The disk image of debusine's SimpleSystemImageBuild task: its
//! task_data, checks, partition layout, the files written into the
//! system and the command lines that build the image.

use crate::{
    BootstrapOptions, HOST_SOURCES, Repository, SystemBootstrap, Variant, check_package,
    cleanup_hooks, report_hooks, script_hooks, setup_hooks,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use taskhost_sdk::{Command, Error, Result};

// ---- task_data --------------------------------------------------------

/// The task's task_data: the SystemBootstrap keys and `disk_image`.
#[derive(Debug, Deserialize)]
pub struct Data {
    pub bootstrap_options: BootstrapOptions,
    pub bootstrap_repositories: Vec<Repository>,
    pub customization_script: Option<String>,
    pub disk_image: DiskImage,
}

impl SystemBootstrap for Data {
    fn options(&self) -> &BootstrapOptions {
        &self.bootstrap_options
    }
    fn repositories(&self) -> &[Repository] {
        &self.bootstrap_repositories
    }
    fn customization_script(&self) -> Option<&str> {
        self.customization_script.as_deref()
    }
}

/// `disk_image`: what to build.
#[derive(Debug, Deserialize)]
pub struct DiskImage {
    pub format: ImageFormat,
    /// Base of the artifact's file name (`image.qcow2`, `image.tar.xz`).
    #[serde(default = "default_filename")]
    pub filename: String,
    /// Default: the architecture's kernel flavour (linux-image-amd64).
    pub kernel_package: Option<String>,
    #[serde(default = "default_bootloader")]
    pub bootloader: String,
    pub partitions: Vec<Partition>,
    /// OpenSSH public keys (authorized_keys lines) that may log in as root.
    #[serde(default)]
    pub authorized_keys: Vec<String>,
}

fn default_filename() -> String {
    "image".into()
}

fn default_bootloader() -> String {
    BOOTLOADER.into()
}

/// How the image is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Raw,
    Qcow2,
}

impl ImageFormat {
    /// debusine's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Qcow2 => "qcow2",
        }
    }
}

/// One entry of `disk_image.partitions`.
#[derive(Debug, Deserialize)]
pub struct Partition {
    /// GiB.
    pub size: u32,
    pub filesystem: Filesystem,
    #[serde(default = "no_mountpoint")]
    pub mountpoint: String,
}

fn no_mountpoint() -> String {
    "none".into()
}

/// The file systems SystemImageBuild names; this task makes ext4 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filesystem {
    Ext4,
    None,
    Swap,
    Freespace,
}

impl Filesystem {
    /// debusine's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Filesystem::Ext4 => "ext4",
            Filesystem::None => "none",
            Filesystem::Swap => "swap",
            Filesystem::Freespace => "freespace",
        }
    }
}

/// The one bootloader this task installs.
pub const BOOTLOADER: &str = "systemd-boot";

// ---- architectures ----------------------------------------------------

/// What booting an architecture with EFI takes.
#[derive(Debug, PartialEq, Eq)]
pub struct Efi {
    pub architecture: &'static str,
    /// systemd-boot's name for it: `/usr/lib/systemd/boot/efi/systemd-boot{arch}.efi`.
    pub efi_arch: &'static str,
    /// The removable-media boot loader path on the ESP.
    pub boot_file: &'static str,
    /// The root partition type of the Discoverable Partitions Specification.
    pub root_type: &'static str,
    pub kernel: &'static str,
    /// The serial console on the kernel command line.
    pub console: Option<&'static str>,
}

/// The architectures this task boots.
pub const EFI: &[Efi] = &[
    Efi {
        architecture: "amd64",
        efi_arch: "x64",
        boot_file: "BOOTX64.EFI",
        root_type: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
        kernel: "linux-image-amd64",
        console: Some("ttyS0"),
    },
    Efi {
        architecture: "arm64",
        efi_arch: "aa64",
        boot_file: "BOOTAA64.EFI",
        root_type: "B921B045-1DF0-41C3-AF44-4C6F280D3FAE",
        kernel: "linux-image-arm64",
        console: None,
    },
    Efi {
        architecture: "armhf",
        efi_arch: "arm",
        boot_file: "BOOTARM.EFI",
        root_type: "69DAD710-2CE4-4E3C-B16C-21A1D49ABED3",
        kernel: "linux-image-armmp-lpae",
        console: None,
    },
    Efi {
        architecture: "i386",
        efi_arch: "ia32",
        boot_file: "BOOTIA32.EFI",
        root_type: "44479540-F297-41B2-9AF7-D131D5F0458A",
        kernel: "linux-image-686-pae",
        console: Some("ttyS0"),
    },
    Efi {
        architecture: "riscv64",
        efi_arch: "riscv64",
        boot_file: "BOOTRISCV64.EFI",
        root_type: "72EC70A6-CF74-40E6-BD49-4BDA08E8F224",
        kernel: "linux-image-riscv64",
        console: None,
    },
];

/// The EFI facts of `architecture`, if it boots here.
pub fn efi(architecture: &str) -> Option<&'static Efi> {
    EFI.iter().find(|e| e.architecture == architecture)
}

// ---- validation -------------------------------------------------------

/// Largest root partition, in GiB.
pub const MAX_SIZE_GIB: u32 = 4096;

/// Checks what the model's types cannot; errors name the key.
pub fn validate(data: &Data) -> Result<()> {
    crate::validate(data)?;
    let options = &data.bootstrap_options;
    if efi(&options.architecture).is_none() {
        let known: Vec<&str> = EFI.iter().map(|e| e.architecture).collect();
        return Err(Error::invalid(format!(
            "bootstrap_options.architecture: '{}' has no EFI boot support here; use one of {}",
            options.architecture,
            known.join(", ")
        )));
    }
    if options.variant == Some(Variant::Extract) {
        return Err(Error::invalid(
            "bootstrap_options.variant: extract only unpacks packages, and an image needs an \
             installed system; use another variant (minbase is the smallest)",
        ));
    }
    let image = &data.disk_image;
    check_filename(&image.filename)?;
    if let Some(kernel) = &image.kernel_package {
        check_package("disk_image.kernel_package", kernel)?;
    }
    if image.bootloader != BOOTLOADER {
        return Err(Error::invalid(format!(
            "disk_image.bootloader: '{}' is not supported: simplesystemimagebuild boots with \
             {BOOTLOADER} (leave the key out)",
            image.bootloader
        )));
    }
    root_partition(&image.partitions)?;
    for (i, key) in image.authorized_keys.iter().enumerate() {
        check_authorized_key(&format!("disk_image.authorized_keys[{i}]"), key)?;
    }
    Ok(())
}

/// The one partition: the root file system, ext4, mounted on `/`.
pub fn root_partition(partitions: &[Partition]) -> Result<&Partition> {
    let roots: Vec<usize> = (0..partitions.len())
        .filter(|&i| partitions[i].mountpoint == "/")
        .collect();
    let root = match roots.as_slice() {
        [] => {
            return Err(Error::invalid(
                "disk_image.partitions: no partition has mountpoint /; give exactly one, the \
                 root file system: [{size: 4, filesystem: ext4, mountpoint: /}]",
            ));
        }
        [i] => *i,
        [first, second, ..] => {
            return Err(Error::invalid(format!(
                "disk_image.partitions: [{first}] and [{second}] both have mountpoint /; \
                 simplesystemimagebuild builds exactly one root partition"
            )));
        }
    };
    if let Some(other) = (0..partitions.len()).find(|&i| i != root) {
        let p = &partitions[other];
        return Err(Error::invalid(format!(
            "disk_image.partitions[{other}]: simplesystemimagebuild builds a single partition, \
             the root file system (mountpoint /); remove this one (filesystem {}, mountpoint {})",
            p.filesystem.as_str(),
            p.mountpoint
        )));
    }
    let p = &partitions[root];
    if p.filesystem != Filesystem::Ext4 {
        return Err(Error::invalid(format!(
            "disk_image.partitions[{root}].filesystem: the root partition is ext4, not {}",
            p.filesystem.as_str()
        )));
    }
    if p.size == 0 || p.size > MAX_SIZE_GIB {
        return Err(Error::invalid(format!(
            "disk_image.partitions[{root}].size: {} GiB is out of range (1 to {MAX_SIZE_GIB})",
            p.size
        )));
    }
    Ok(p)
}

/// A file name base: letters, digits, `.`, `_`, `+`, `-`, not starting
/// with a dot.
pub fn check_filename(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "disk_image.filename: '{name}' is not a plain file name (letters, digits, . _ + -; \
             not starting with a dot; at most 100 characters)"
        )))
    }
}

/// The key types sshd takes in authorized_keys.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// One authorized_keys line without options: `TYPE BASE64 [COMMENT]`.
pub fn check_authorized_key(key: &str, line: &str) -> Result<()> {
    if line.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{key}: give one public key per entry (no newlines or control characters)"
        )));
    }
    let mut words = line.split_whitespace();
    let (Some(kind), Some(blob)) = (words.next(), words.next()) else {
        return Err(Error::invalid(format!(
            "{key}: not an OpenSSH public key (TYPE BASE64 [COMMENT], as in a .pub file)"
        )));
    };
    if !KEY_TYPES.contains(&kind) {
        return Err(Error::invalid(format!(
            "{key}: unknown key type '{kind}' (one of {}; authorized_keys options are not \
             supported)",
            KEY_TYPES.join(", ")
        )));
    }
    let base64 = blob
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if !base64 || blob.len() < 16 {
        return Err(Error::invalid(format!(
            "{key}: the key after '{kind}' is not base64"
        )));
    }
    Ok(())
}

// ---- the disk ---------------------------------------------------------

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// The GPT and alignment before the first partition.
const FRONT: u64 = MIB;
/// The EFI system partition: systemd-boot, the kernel and the initrd.
const ESP_SIZE: u64 = 256 * MIB;
/// The backup GPT after the last partition.
const BACK: u64 = MIB;

/// Where the partitions lie in the image, in bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    pub esp_offset: u64,
    pub esp_size: u64,
    pub root_offset: u64,
    pub root_size: u64,
    pub disk_size: u64,
}

impl Layout {
    /// The ESP, then a root partition of `root_gib` GiB.
    pub fn new(root_gib: u32) -> Layout {
        let root_size = u64::from(root_gib) * GIB;
        Layout {
            esp_offset: FRONT,
            esp_size: ESP_SIZE,
            root_offset: FRONT + ESP_SIZE,
            root_size,
            disk_size: FRONT + ESP_SIZE + root_size + BACK,
        }
    }

    /// sfdisk's script: a GPT with the ESP and the root partition.
    pub fn sfdisk_script(&self, efi: &Efi) -> String {
        let s = |bytes: u64| bytes / 512;
        format!(
            "label: gpt\nunit: sectors\nfirst-lba: {}\n\n\
             start={}, size={}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"ESP\"\n\
             start={}, size={}, type={}, name=\"root\"\n",
            s(FRONT),
            s(self.esp_offset),
            s(self.esp_size),
            s(self.root_offset),
            s(self.root_size),
            efi.root_type,
        )
    }
}

/// Workspace names (relative to the workspace, mmdebstrap's cwd).
pub const ROOTFS: &str = "rootfs";
/// The raw disk image.
pub const IMAGE: &str = "system.img";
/// The qcow2 made from it.
pub const QCOW2: &str = "system.qcow2";
/// The sparse tarball of a raw image, then its xz.
pub const TAR: &str = "system.tar";
/// The stored raw image.
pub const TAR_XZ: &str = "system.tar.xz";
/// The ESP's tree, copied in by mcopy.
pub const ESP: &str = "esp";
/// Files for the system, uploaded by the hooks.
pub const CONFIG: &str = "image-config";
/// The DHCP network of systemd-networkd.
pub const NETWORK_FILE: &str = "/etc/systemd/network/80-taskhost-dhcp.network";
/// The system's hostname.
pub const HOSTNAME: &str = "debian";

/// The system's /etc/fstab: the root file system by UUID.
pub fn fstab(root_uuid: &str) -> String {
    format!("UUID={root_uuid} / ext4 errors=remount-ro 0 1\n")
}

/// DHCP on every ethernet NIC.
pub const NETWORK: &str = "[Match]\nType=ether\n\n[Network]\nDHCP=yes\n";

/// The system's /etc/hosts.
pub fn hosts() -> String {
    format!(
        "127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
}

/// The kernel command line. On x86 (the architectures with a serial
/// console here) `no_timer_check` too, as cloud images have it: under a
/// slow emulator (qemu's TCG on a busy host) the kernel's check of the
/// IO-APIC timer fails and it panics.
pub fn cmdline(efi: &Efi, root_uuid: &str) -> String {
    let mut line = format!("root=UUID={root_uuid} rw");
    if let Some(console) = efi.console {
        line.push_str(&format!(" console={console} no_timer_check"));
    }
    line
}

/// systemd-boot's loader.conf: the one entry, no menu.
pub const LOADER_CONF: &str = "default debian.conf\ntimeout 0\n";

/// The loader entry (Boot Loader Specification type 1).
pub fn loader_entry(title: &str, cmdline: &str) -> String {
    format!("title {title}\nlinux /vmlinuz\ninitrd /initrd.img\noptions {cmdline}\n")
}

// ---- command lines ----------------------------------------------------

/// What the system needs to boot and be reached: the kernel, the
/// bootloader (systemd-boot-efi has its EFI binary from bookworm on,
/// where it exists), init, udev, sshd, dbus, and systemd-resolved for DNS
/// where it is a package of its own.
pub fn packages(data: &Data, efi: &Efi) -> Vec<String> {
    let image = &data.disk_image;
    vec![
        image
            .kernel_package
            .clone()
            .unwrap_or_else(|| efi.kernel.to_string()),
        image.bootloader.clone(),
        "?exact-name(systemd-boot-efi)".into(),
        "systemd-sysv".into(),
        "udev".into(),
        "dbus".into(),
        "openssh-server".into(),
        "?exact-name(systemd-resolved)".into(),
        "?exact-name(libnss-resolve)".into(),
    ]
}

/// The hooks configuring the system for a VM, before the customization
/// script (so it may change them).
pub fn configure_hooks(data: &Data) -> Vec<String> {
    let mut hooks = vec![
        format!("upload {CONFIG}/fstab /etc/fstab"),
        format!("upload {CONFIG}/hosts /etc/hosts"),
        format!("upload {CONFIG}/network {NETWORK_FILE}"),
        r#"chroot "$1" systemctl enable systemd-networkd.service"#.to_string(),
    ];
    if !data.disk_image.authorized_keys.is_empty() {
        hooks.extend([
            r#"mkdir -p -m 700 "$1/root/.ssh""#.to_string(),
            format!("upload {CONFIG}/authorized_keys /root/.ssh/authorized_keys"),
            r#"chmod 600 "$1/root/.ssh/authorized_keys""#.to_string(),
        ]);
    }
    hooks
}

/// With systemd-resolved installed, /etc/resolv.conf points to its stub,
/// which does not answer in the chroot: the script gets the host's copy
/// (as mmdebstrap gives the bootstrap), then the link comes back.
const RESOLV_ASIDE: &str = r#"if test -h "$1/etc/resolv.conf"; then mv "$1/etc/resolv.conf" "$1/etc/resolv.conf.taskhost" && cp -L /etc/resolv.conf "$1/etc/resolv.conf"; fi"#;
const RESOLV_BACK: &str = r#"if test -h "$1/etc/resolv.conf.taskhost"; then mv "$1/etc/resolv.conf.taskhost" "$1/etc/resolv.conf"; fi"#;

/// The hooks after the cleanup (which removes the host's hostname): the
/// VM's hostname, and DNS through systemd-resolved where the system has
/// it but no resolv.conf (bullseye).
pub fn finish_hooks() -> Vec<String> {
    vec![
        format!("upload {CONFIG}/hostname /etc/hostname"),
        r#"if ! test -e "$1/etc/resolv.conf" && ! test -h "$1/etc/resolv.conf" && test -e "$1/lib/systemd/systemd-resolved"; then ln -s ../run/systemd/resolve/stub-resolv.conf "$1/etc/resolv.conf" && chroot "$1" systemctl enable systemd-resolved.service; fi"#.to_string(),
    ]
}

/// The hooks copying out what goes on the ESP.
pub fn boot_hooks(efi: &Efi) -> Vec<String> {
    let loader = format!("/usr/lib/systemd/boot/efi/systemd-boot{}.efi", efi.efi_arch);
    vec![
        format!(
            r#"for f in /vmlinuz /initrd.img {loader}; do test -e "$1$f" || {{ echo "E: the system has no $f (from the kernel package or systemd-boot)" >&2; exit 1; }}; done"#
        ),
        format!("download /vmlinuz {ESP}/vmlinuz"),
        format!("download /initrd.img {ESP}/initrd.img"),
        format!("download {loader} {ESP}/EFI/BOOT/{}", efi.boot_file),
    ]
}

/// Every hook, in order: sources, VM configuration, the script, cleanup,
/// hostname and DNS, what the artifact describes, the boot files.
pub fn hooks(data: &Data, efi: &Efi) -> Vec<String> {
    let mut hooks = setup_hooks(data);
    hooks.extend(configure_hooks(data));
    let script = script_hooks(data);
    if !script.is_empty() {
        hooks.push(RESOLV_ASIDE.to_string());
        hooks.extend(script);
        hooks.push(RESOLV_BACK.to_string());
    }
    hooks.extend(cleanup_hooks());
    hooks.extend(finish_hooks());
    hooks.extend(report_hooks());
    hooks.extend(boot_hooks(efi));
    hooks
}

/// mmdebstrap's argv: the system into `rootfs/`, bootstrapped from the
/// first repository's sources.
pub fn mmdebstrap(data: &Data, efi: &Efi) -> Command {
    let packages = packages(data, efi);
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    let mut cmd = Command::new("mmdebstrap")
        .args(["--mode=unshare", "--format=directory"])
        .args(crate::options(data, &packages));
    for hook in hooks(data, efi) {
        cmd = cmd.arg(format!("--customize-hook={hook}"));
    }
    cmd.args(["", ROOTFS, HOST_SOURCES])
}

/// Partitions the image from the sfdisk script in [`CONFIG`].
pub fn sfdisk() -> Command {
    Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel", IMAGE])
        .stdin(format!("{CONFIG}/sfdisk"))
}

/// The root file system from `rootfs/`, written at its partition's offset
/// (the image is sparse and zero, so mkfs need not clear anything).
pub fn mkfs_ext4(layout: &Layout, root_uuid: &str) -> Command {
    Command::new("mkfs.ext4").args([
        "-q".to_string(),
        "-F".into(),
        "-d".into(),
        ROOTFS.into(),
        "-L".into(),
        "root".into(),
        "-U".into(),
        root_uuid.into(),
        "-E".into(),
        format!("offset={},assume_storage_prezeroed=1", layout.root_offset),
        IMAGE.into(),
        format!("{}k", layout.root_size / 1024),
    ])
}

/// FAT32 (one-sector clusters, so 256 MiB has enough of them) at the ESP's
/// offset in sectors; the size is in KiB.
pub fn mkfs_fat(layout: &Layout) -> Command {
    Command::new("mkfs.fat").args([
        "-F".to_string(),
        "32".into(),
        "-s".into(),
        "1".into(),
        "-n".into(),
        "ESP".into(),
        "--offset".into(),
        (layout.esp_offset / 512).to_string(),
        IMAGE.into(),
        (layout.esp_size / 1024).to_string(),
    ])
}

/// Copies the ESP's tree in (mtools addresses the partition by offset).
pub fn mcopy(layout: &Layout) -> Command {
    Command::new("mcopy").args([
        "-s".to_string(),
        "-i".into(),
        format!("{IMAGE}@@{}", layout.esp_offset),
        format!("{ESP}/EFI"),
        format!("{ESP}/loader"),
        format!("{ESP}/vmlinuz"),
        format!("{ESP}/initrd.img"),
        "::".into(),
    ])
}

/// The qcow2 from the raw image.
pub fn qemu_img() -> Command {
    Command::new("qemu-img").args(["convert", "-f", "raw", "-O", "qcow2", IMAGE, QCOW2])
}

/// A raw image is stored as a sparse tarball, xz-compressed.
pub fn tar() -> Command {
    Command::new("tar").args(["--create", "--sparse", "--file", TAR, IMAGE])
}

/// Compresses the tarball.
pub fn xz() -> Command {
    Command::new("xz").args(["--threads=0", "-1", TAR])
}

/// mmdebstrap on a slow mirror takes a while; the run's deadline still
/// applies.
pub const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(3 * 60 * 60);
/// Each step after the bootstrap.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60 * 60);

// ---- output -----------------------------------------------------------

/// Whether `dir` holds anything but files, directories and symlinks (the
/// device nodes of a system's /dev).
pub fn has_device_nodes(dir: &str) -> Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let kind = entry?.file_type()?;
        if !(kind.is_file() || kind.is_dir() || kind.is_symlink()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The `debian:system-image` data: a system tarball's fields, then the
/// image's.
#[derive(Debug, Serialize)]
pub struct SystemImage {
    #[serde(flatten)]
    pub system: crate::SystemTarball,
    pub image_format: &'static str,
    pub filesystem: &'static str,
    /// The disk's size in bytes (a qcow2's virtual size).
    pub size: u64,
    pub boot_mechanism: &'static str,
}

/// Writes the files the hooks upload and sfdisk reads.
pub fn write_config(data: &Data, efi: &Efi, layout: &Layout, root_uuid: &str) -> Result<()> {
    std::fs::create_dir_all(CONFIG)?;
    std::fs::create_dir_all(format!("{ESP}/EFI/BOOT"))?;
    std::fs::create_dir_all(format!("{ESP}/loader/entries"))?;
    std::fs::create_dir_all("logs")?;
    std::fs::write(format!("{CONFIG}/fstab"), fstab(root_uuid))?;
    std::fs::write(format!("{CONFIG}/network"), NETWORK)?;
    std::fs::write(format!("{CONFIG}/hostname"), format!("{HOSTNAME}\n"))?;
    std::fs::write(format!("{CONFIG}/hosts"), hosts())?;
    let keys: String = data
        .disk_image
        .authorized_keys
        .iter()
        .map(|k| format!("{}\n", k.trim()))
        .collect();
    std::fs::write(format!("{CONFIG}/authorized_keys"), keys)?;
    std::fs::write(format!("{CONFIG}/sfdisk"), layout.sfdisk_script(efi))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use taskhost_sdk::decode_task_data;

    fn data(json: &str) -> Data {
        decode_task_data(json).unwrap()
    }

    /// Decodes and validates; the error message.
    fn refusal(json: &str) -> String {
        let e = match decode_task_data::<Data>(json) {
            Err(e) => e,
            Ok(d) => validate(&d).expect_err("accepted"),
        };
        match e {
            Error::Invalid(m) => m,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// task_data with `disk_image` as given.
    fn with_image(image: &str) -> String {
        format!(
            r#"{{"bootstrap_options": {{"architecture": "amd64", "variant": "minbase"}},
                "bootstrap_repositories": [{{"mirror": "http://m.example/debian", "suite": "trixie",
                                             "components": ["main"]}}],
                "disk_image": {image}}}"#
        )
    }

    const ROOT: &str = r#"{"size": 2, "filesystem": "ext4", "mountpoint": "/"}"#;
    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGmHqTjYb3ieaOe0TJ1SjE41ymKI6T0n3JzrZuwzR8dR me@host";

    fn with_partitions(partitions: &str) -> String {
        with_image(&format!(
            r#"{{"format": "qcow2", "partitions": [{partitions}]}}"#
        ))
    }

    #[test]
    fn decodes_with_the_defaults() {
        let d = data(&with_partitions(ROOT));
        validate(&d).unwrap();
        let image = &d.disk_image;
        assert_eq!(image.format, ImageFormat::Qcow2);
        assert_eq!(image.filename, "image");
        assert_eq!(image.bootloader, "systemd-boot");
        assert!(image.kernel_package.is_none() && image.authorized_keys.is_empty());
        assert_eq!(root_partition(&image.partitions).unwrap().size, 2);
        assert_eq!(
            packages(&d, efi("amd64").unwrap())[..2],
            ["linux-image-amd64", "systemd-boot"]
        );
    }

    #[test]
    fn refuses_two_root_partitions() {
        let m = refusal(&with_partitions(&format!("{ROOT}, {ROOT}")));
        assert!(
            m.starts_with("disk_image.partitions: [0] and [1] both have mountpoint /"),
            "{m}"
        );
    }

    #[test]
    fn refuses_partitions_besides_the_root() {
        let swap = r#"{"size": 1, "filesystem": "swap"}"#;
        let m = refusal(&with_partitions(&format!("{ROOT}, {swap}")));
        assert!(
            m.starts_with("disk_image.partitions[1]: simplesystemimagebuild builds a single"),
            "{m}"
        );
        assert!(m.contains("filesystem swap, mountpoint none"), "{m}");
        let m = refusal(&with_partitions(swap));
        assert!(
            m.starts_with("disk_image.partitions: no partition has mountpoint /"),
            "{m}"
        );
        let m = refusal(&with_partitions(""));
        assert!(m.contains("no partition has mountpoint /"), "{m}");
    }

    #[test]
    fn refuses_an_unknown_or_unsupported_filesystem() {
        let m = refusal(&with_partitions(
            r#"{"size": 2, "filesystem": "xfs", "mountpoint": "/"}"#,
        ));
        assert!(
            m.contains("disk_image.partitions[0].filesystem") && m.contains("xfs"),
            "{m}"
        );
        assert!(m.contains("ext4"), "{m}");
        let m = refusal(&with_partitions(
            r#"{"size": 2, "filesystem": "none", "mountpoint": "/"}"#,
        ));
        assert_eq!(
            m,
            "disk_image.partitions[0].filesystem: the root partition is ext4, not none"
        );
    }

    #[test]
    fn refuses_an_unknown_format() {
        let m = refusal(&with_image(&format!(
            r#"{{"format": "vmdk", "partitions": [{ROOT}]}}"#
        )));
        assert!(m.contains("disk_image.format") && m.contains("vmdk"), "{m}");
        assert!(m.contains("raw") && m.contains("qcow2"), "{m}");
        let m = refusal(&with_image(&format!(r#"{{"partitions": [{ROOT}]}}"#)));
        assert!(m.contains("disk_image") && m.contains("format"), "{m}");
    }

    #[test]
    fn refuses_bad_values_naming_the_key() {
        let image = |extra: &str| {
            refusal(&with_image(&format!(
                r#"{{"format": "raw", "partitions": [{ROOT}], {extra}}}"#
            )))
        };
        let m = image(r#""bootloader": "grub-efi-amd64""#);
        assert!(
            m.starts_with("disk_image.bootloader: 'grub-efi-amd64' is not supported"),
            "{m}"
        );
        for name in ["../etc/passwd", ".hidden", "a b", ""] {
            let m = image(&format!(r#""filename": "{name}""#));
            assert!(m.starts_with("disk_image.filename"), "{name}: {m}");
        }
        let m = image(r#""kernel_package": "linux-image-amd64,evil""#);
        assert!(m.starts_with("disk_image.kernel_package"), "{m}");
        let m = image(r#""authorized_keys": ["from=\"*\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"]"#);
        assert!(
            m.starts_with("disk_image.authorized_keys[0]: unknown key type"),
            "{m}"
        );
        let m = image(&format!(r#""authorized_keys": ["{KEY}\nssh-rsa AAAA"]"#));
        assert!(
            m.starts_with("disk_image.authorized_keys[0]: give one"),
            "{m}"
        );
        let m = image(r#""authorized_keys": ["ssh-ed25519 not*base64*at*all"]"#);
        assert!(m.contains("is not base64"), "{m}");
        let m = image(r#""size": 3"#);
        assert!(m.contains("unknown key 'disk_image.size'"), "{m}");
        let m = refusal(&with_partitions(
            r#"{"size": 0, "filesystem": "ext4", "mountpoint": "/"}"#,
        ));
        assert!(m.starts_with("disk_image.partitions[0].size"), "{m}");
        let m = refusal(&with_partitions(
            r#"{"size": -1, "filesystem": "ext4", "mountpoint": "/"}"#,
        ));
        assert!(m.contains("disk_image.partitions[0].size"), "{m}");
        let m = refusal(
            &with_partitions(ROOT).replace(r#""variant": "minbase""#, r#""variant": "extract""#),
        );
        assert!(m.starts_with("bootstrap_options.variant: extract"), "{m}");
        let m = refusal(&with_partitions(ROOT).replace("amd64", "s390x"));
        assert!(
            m.starts_with("bootstrap_options.architecture: 's390x' has no EFI boot support"),
            "{m}"
        );
        // The SystemBootstrap checks apply too.
        let m = refusal(&with_partitions(ROOT).replace("http://m.example", "ftp://m.example"));
        assert!(m.starts_with("bootstrap_repositories[0].mirror"), "{m}");
        // A valid key passes.
        let d = data(&with_image(&format!(
            r#"{{"format": "raw", "partitions": [{ROOT}], "authorized_keys": ["{KEY}"],
                 "filename": "bookworm-amd64_1.0", "kernel_package": "linux-image-cloud-amd64"}}"#
        )));
        validate(&d).unwrap();
    }

    #[test]
    fn the_disk_layout_is_a_gpt_with_the_esp_and_the_root() {
        let layout = Layout::new(2);
        assert_eq!(layout.root_offset, 257 * MIB);
        assert_eq!(layout.disk_size, (1 + 256 + 2048 + 1) * MIB);
        assert_eq!(
            layout.sfdisk_script(efi("amd64").unwrap()),
            "label: gpt\nunit: sectors\nfirst-lba: 2048\n\n\
             start=2048, size=524288, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"ESP\"\n\
             start=526336, size=4194304, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=\"root\"\n"
        );
        // The root partition ends where the backup GPT's MiB begins.
        assert_eq!(
            layout.root_offset + layout.root_size + MIB,
            layout.disk_size
        );
    }

    #[test]
    fn the_image_commands_touch_only_fixed_workspace_names() {
        let layout = Layout::new(4);
        let uuid = "0b7e6f2a-9a64-4c1f-8f0e-1d2c3b4a5f60";
        assert_eq!(
            mkfs_ext4(&layout, uuid).argv(),
            [
                "mkfs.ext4",
                "-q",
                "-F",
                "-d",
                "rootfs",
                "-L",
                "root",
                "-U",
                uuid,
                "-E",
                "offset=269484032,assume_storage_prezeroed=1",
                "system.img",
                "4194304k"
            ]
        );
        assert_eq!(
            mkfs_fat(&layout).argv(),
            [
                "mkfs.fat",
                "-F",
                "32",
                "-s",
                "1",
                "-n",
                "ESP",
                "--offset",
                "2048",
                "system.img",
                "262144"
            ]
        );
        assert_eq!(
            mcopy(&layout).argv(),
            [
                "mcopy",
                "-s",
                "-i",
                "system.img@@1048576",
                "esp/EFI",
                "esp/loader",
                "esp/vmlinuz",
                "esp/initrd.img",
                "::"
            ]
        );
        assert_eq!(
            sfdisk().argv(),
            [
                "sfdisk",
                "--quiet",
                "--no-reread",
                "--no-tell-kernel",
                "system.img"
            ]
        );
        assert_eq!(
            qemu_img().argv(),
            [
                "qemu-img",
                "convert",
                "-f",
                "raw",
                "-O",
                "qcow2",
                "system.img",
                "system.qcow2"
            ]
        );
        assert_eq!(
            tar().argv(),
            [
                "tar",
                "--create",
                "--sparse",
                "--file",
                "system.tar",
                "system.img"
            ]
        );
        assert_eq!(xz().argv(), ["xz", "--threads=0", "-1", "system.tar"]);
    }

    #[test]
    fn mmdebstrap_installs_into_rootfs_from_the_first_repository() {
        let d = data(&with_image(&format!(
            r#"{{"format": "qcow2", "partitions": [{ROOT}], "authorized_keys": ["{KEY}"],
                 "kernel_package": "linux-image-cloud-amd64"}}"#
        )));
        let argv = mmdebstrap(&d, efi("amd64").unwrap()).argv().to_vec();
        assert_eq!(
            argv[..9],
            [
                "mmdebstrap",
                "--mode=unshare",
                "--format=directory",
                "--architectures=amd64",
                "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older",
                "--variant=minbase",
                "--include=linux-image-cloud-amd64,systemd-boot,systemd-sysv,udev,dbus,openssh-server",
                "--include=?exact-name(systemd-boot-efi)",
                "--include=?exact-name(systemd-resolved)",
            ]
        );
        assert_eq!(argv[argv.len() - 3..], ["", "rootfs", "mmdebstrap.sources"]);
        let hooks: Vec<&str> = argv
            .iter()
            .filter_map(|a| a.strip_prefix("--customize-hook="))
            .collect();
        assert_eq!(
            hooks,
            [
                r#"rm -f "$1/etc/apt/sources.list.d/0000mmdebstrap.sources""#,
                "upload chroot.sources /etc/apt/sources.list.d/taskhost.sources",
                "upload image-config/fstab /etc/fstab",
                "upload image-config/hosts /etc/hosts",
                "upload image-config/network /etc/systemd/network/80-taskhost-dhcp.network",
                r#"chroot "$1" systemctl enable systemd-networkd.service"#,
                r#"mkdir -p -m 700 "$1/root/.ssh""#,
                "upload image-config/authorized_keys /root/.ssh/authorized_keys",
                r#"chmod 600 "$1/root/.ssh/authorized_keys""#,
                r#"rm -f "$1/etc/hostname""#,
                r#"test -h "$1/etc/resolv.conf" || rm -f "$1/etc/resolv.conf""#,
                "upload image-config/hostname /etc/hostname",
                finish_hooks()[1].as_str(),
                "download /etc/os-release os-release",
                "download /var/lib/dpkg/status dpkg-status",
                report_hooks()[2].as_str(),
                "download /tmp/taskhost-with-init with-init",
                r#"rm -f "$1/tmp/taskhost-with-init""#,
                boot_hooks(efi("amd64").unwrap())[0].as_str(),
                "download /vmlinuz esp/vmlinuz",
                "download /initrd.img esp/initrd.img",
                "download /usr/lib/systemd/boot/efi/systemd-bootx64.efi esp/EFI/BOOT/BOOTX64.EFI",
            ]
        );
        // No user input in any argument.
        assert!(
            !argv
                .iter()
                .any(|a| a.contains("AAAAC3") || a.contains("m.example"))
        );
    }

    #[test]
    fn the_script_runs_with_a_usable_resolv_conf() {
        let json = with_partitions(ROOT).replace(
            r#""disk_image""#,
            r#""customization_script": "apt-get install -y hello", "disk_image""#,
        );
        let d = data(&json);
        let hooks = hooks(&d, efi("amd64").unwrap());
        let at = |h: &str| hooks.iter().position(|x| x == h).expect(h);
        let run = at(r#"chroot "$1" /taskhost-customization-script"#);
        assert!(at(RESOLV_ASIDE) < run && run < at(RESOLV_BACK));
        assert!(at(RESOLV_BACK) < at(r#"rm -f "$1/etc/hostname""#));
        assert!(at("upload image-config/fstab /etc/fstab") < run);
    }

    #[test]
    fn the_system_boots_by_uuid_on_a_serial_console() {
        let uuid = "0b7e6f2a-9a64-4c1f-8f0e-1d2c3b4a5f60";
        let amd64 = efi("amd64").unwrap();
        assert_eq!(
            cmdline(amd64, uuid),
            format!("root=UUID={uuid} rw console=ttyS0 no_timer_check")
        );
        assert_eq!(
            cmdline(efi("arm64").unwrap(), uuid),
            format!("root=UUID={uuid} rw")
        );
        assert_eq!(
            loader_entry("Debian GNU/Linux 13 (trixie)", &cmdline(amd64, uuid)),
            format!(
                "title Debian GNU/Linux 13 (trixie)\nlinux /vmlinuz\ninitrd /initrd.img\n\
                 options root=UUID={uuid} rw console=ttyS0 no_timer_check\n"
            )
        );
        assert_eq!(
            fstab(uuid),
            format!("UUID={uuid} / ext4 errors=remount-ro 0 1\n")
        );
    }

    #[test]
    fn device_nodes_are_what_is_neither_file_dir_nor_link() {
        let dir = std::env::temp_dir().join(format!("ssib-dev-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("pts")).unwrap();
        std::fs::write(dir.join("file"), "").unwrap();
        std::os::unix::fs::symlink("/proc/self/fd", dir.join("fd")).unwrap();
        let path = dir.to_str().unwrap();
        assert!(!has_device_nodes(path).unwrap());
        let fifo = std::process::Command::new("mkfifo")
            .arg(dir.join("node"))
            .status()
            .unwrap();
        assert!(fifo.success());
        assert!(has_device_nodes(path).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
