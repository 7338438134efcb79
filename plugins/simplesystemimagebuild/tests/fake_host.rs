//! `execute` against the SDK's fake host: the bootstrap into rootfs/, the
//! disk image built step by step in system.img (sfdisk, mkfs.ext4 -d,
//! mkfs.fat, mcopy), its conversion, the debian:system-image it stores,
//! and each way the task fails.

use serde_json::{Value, json};
use std::cell::RefCell;
use std::rc::Rc;
use taskhost_plugin_simplesystemimagebuild::SimpleSystemImageBuild;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{FakeHost, Invocation, Reply, Run};
use taskhost_sdk::{Error, Outcome, Status};

const MIRROR: &str = "http://deb.debian.org/debian";
const RELEASE_URL: &str = "http://deb.debian.org/debian/dists/bookworm/Release";
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq3cJ6cM5Vx9m0sY8Yt3Xy8B2n4kQp1zT7r0wE5u9aH tester@example";

/// The example's task: amd64 bookworm minbase, a 4 GiB root, qcow2.
fn example() -> Value {
    json!({
        "bootstrap_options": {"architecture": "amd64", "variant": "minbase"},
        "bootstrap_repositories": [{"mirror": MIRROR, "suite": "bookworm", "components": ["main"]}],
        "disk_image": {
            "format": "qcow2",
            "filename": "bookworm-amd64",
            "partitions": [{"size": 4, "filesystem": "ext4", "mountpoint": "/"}],
            "authorized_keys": [KEY],
        },
    })
}

/// A bookworm system's /etc/os-release.
const OS_RELEASE: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"#;

/// Part of an amd64 image's /var/lib/dpkg/status: the kernel (its
/// metapackage and the versioned image), the boot loader, sshd.
const DPKG_STATUS: &str = "\
Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u11
Description: Debian base system miscellaneous files

Package: linux-image-6.1.0-37-amd64
Status: install ok installed
Priority: optional
Section: kernel
Architecture: amd64
Source: linux-signed-amd64 (6.1.140+1)
Version: 6.1.140-1
Depends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool
Description: Linux 6.1 for 64-bit PCs (signed)

Package: linux-image-amd64
Status: install ok installed
Architecture: amd64
Source: linux-signed-amd64 (6.1.140+1)
Version: 6.1.140-1
Depends: linux-image-6.1.0-37-amd64 (= 6.1.140-1)
Description: Linux for 64-bit PCs (meta-package)

Package: openssh-server
Status: install ok installed
Architecture: amd64
Multi-Arch: foreign
Source: openssh
Version: 1:9.2p1-2+deb12u6
Description: secure shell (SSH) server, for secure access from remote machines

Package: systemd-boot
Status: install ok installed
Architecture: amd64
Source: systemd
Version: 252.38-1~deb12u1
Description: simple UEFI boot manager - tools and services
";

/// The same for arm64.
const ARM64_DPKG_STATUS: &str = "\
Package: linux-image-6.1.0-37-arm64
Status: install ok installed
Architecture: arm64
Version: 6.1.140-1
Description: Linux 6.1 for 64-bit ARMv8 machines (signed)

Package: linux-image-arm64
Status: install ok installed
Architecture: arm64
Version: 6.1.140-1
Description: Linux for 64-bit ARMv8 machines (meta-package)
";

/// mmdebstrap's log of a good run (stderr).
const LOG: &str = "\
I: chroot architecture amd64 is equal to the host's architecture
I: finding correct signed-by value...
done
I: automatically chosen format: directory
I: running apt-get update...
done
I: downloading packages with apt...
done
I: extracting archives...
done
I: installing essential packages...
done
I: installing remaining packages inside the chroot...
done
I: running --customize-hook in shell: sh -c 'upload image-config/fstab /etc/fstab' exec mmdebstrap /tmp/mmdebstrap.Qx9Tc2
I: cleaning package lists and apt cache...
done
I: success in 97.5121 seconds
";

const QCOW2: &[u8] = b"QFI\xfb\x00\x00\x00\x03qcow2 header";
const TAR_XZ: &[u8] = b"\xfd7zXZ\x00 compressed sparse tarball";

// ---- the disk's numbers for a 4 GiB root -----------------------------------

/// 1 MiB GPT + 256 MiB ESP + 4 GiB root + 1 MiB backup GPT.
const DISK_4G: u64 = (1 + 256 + 4 * 1024 + 1) << 20;
const SFDISK_AMD64_4G: &str = "label: gpt\nunit: sectors\nfirst-lba: 2048\n\n\
    start=2048, size=524288, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"ESP\"\n\
    start=526336, size=8388608, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=\"root\"\n";

// ---- fake tools -------------------------------------------------------------

/// What the fake tools saw of the workspace when they ran.
type Seen = Rc<RefCell<Vec<String>>>;

/// What mmdebstrap's hooks download, besides the tree; rootfs/dev as its
/// unshare mode leaves a directory: no device nodes, a pts directory and
/// the fd link.
fn bootstrapped(status: &'static str) -> Reply {
    Reply::exit(0)
        .stderr(LOG)
        .writes("rootfs/etc/debian_version", "12.11\n")
        .mkdir("rootfs/dev/pts")
        .symlink("rootfs/dev/fd", "/proc/self/fd")
        .writes("os-release", OS_RELEASE)
        .writes("dpkg-status", status)
        .writes("with-init", "true\n")
        .writes("esp/vmlinuz", "kernel")
        .writes("esp/initrd.img", "initrd")
        .writes("esp/EFI/BOOT/BOOTX64.EFI", "systemd-bootx64.efi")
}

/// Replies for every tool, all succeeding, after whatever `host` already
/// replies (the first matching reply wins); `seen` gets what the image
/// steps found in the workspace.
fn tools(host: FakeHost, seen: &Seen) -> FakeHost {
    let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
    host.reply("mmdebstrap **", bootstrapped(DPKG_STATUS))
        .respond("sfdisk **", move |_| {
            let size = std::fs::metadata("system.img").map(|m| m.len()).ok();
            s1.borrow_mut().push(format!("sfdisk: system.img {size:?}"));
            Reply::exit(0)
        })
        .respond("mkfs.ext4 **", move |_| {
            let rootfs = std::path::Path::new("rootfs/etc/debian_version").exists();
            s2.borrow_mut().push(format!("mkfs.ext4: rootfs {rootfs}"));
            Reply::exit(0)
        })
        .reply("mkfs.fat **", Reply::exit(0))
        .respond("mcopy **", move |_| {
            let rootfs = std::path::Path::new("rootfs").exists();
            let entry = std::fs::read_to_string("esp/loader/entries/debian.conf").is_ok();
            s3.borrow_mut()
                .push(format!("mcopy: rootfs {rootfs}, loader entry {entry}"));
            Reply::exit(0)
        })
        .reply(
            "qemu-img convert **",
            Reply::exit(0).writes("system.qcow2", QCOW2),
        )
        .reply("tar **", Reply::exit(0).writes("system.tar", "tar"))
        .reply("xz **", Reply::exit(0).writes("system.tar.xz", TAR_XZ))
}

fn host(data: Value, seen: &Seen) -> FakeHost {
    tools(FakeHost::new().task_data(data), seen)
}

fn build(data: Value) -> Run<Status> {
    host(data, &Seen::default()).execute::<SimpleSystemImageBuild>()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn text(run: &Run<Status>, path: &str) -> String {
    String::from_utf8(
        run.workspace_file(path)
            .unwrap_or_else(|| panic!("no {path}")),
    )
    .unwrap()
}

fn message(status: &Result<Status, Error>) -> &str {
    match status {
        Err(Error::Failed(m) | Error::Invalid(m) | Error::AccessDenied(m) | Error::NotFound(m)) => {
            m
        }
        other => panic!("expected an error with a message, got {other:?}"),
    }
}

/// serde's errors end with where in the JSON: " at line 1 column 111".
fn without_position(status: Result<Status, Error>) -> Result<Status, Error> {
    match status {
        Err(Error::Invalid(m)) => {
            let cut = m
                .rfind(" at line ")
                .filter(|&i| m[i..].contains(" column "));
            Err(Error::Invalid(m[..cut.unwrap_or(m.len())].to_string()))
        }
        other => other,
    }
}

/// The root file system's UUID, from mkfs.ext4's `-U`.
fn root_uuid(run: &Run<Status>) -> String {
    let mkfs = run
        .commands
        .iter()
        .find(|c| c[0] == "mkfs.ext4")
        .expect("mkfs.ext4 ran");
    assert_eq!(mkfs[7], "-U");
    mkfs[8].clone()
}

const SOURCES_HOOKS: [&str; 2] = [
    r#"rm -f "$1/etc/apt/sources.list.d/0000mmdebstrap.sources""#,
    "upload chroot.sources /etc/apt/sources.list.d/taskhost.sources",
];
const CONFIGURE_HOOKS: [&str; 4] = [
    "upload image-config/fstab /etc/fstab",
    "upload image-config/hosts /etc/hosts",
    "upload image-config/network /etc/systemd/network/80-taskhost-dhcp.network",
    r#"chroot "$1" systemctl enable systemd-networkd.service"#,
];
const SSH_HOOKS: [&str; 3] = [
    r#"mkdir -p -m 700 "$1/root/.ssh""#,
    "upload image-config/authorized_keys /root/.ssh/authorized_keys",
    r#"chmod 600 "$1/root/.ssh/authorized_keys""#,
];
const SCRIPT_HOOKS: [&str; 6] = [
    r#"if test -h "$1/etc/resolv.conf"; then mv "$1/etc/resolv.conf" "$1/etc/resolv.conf.taskhost" && cp -L /etc/resolv.conf "$1/etc/resolv.conf"; fi"#,
    "upload customization-script /taskhost-customization-script",
    r#"chmod 755 "$1/taskhost-customization-script""#,
    r#"chroot "$1" /taskhost-customization-script"#,
    r#"rm -f "$1/taskhost-customization-script""#,
    r#"if test -h "$1/etc/resolv.conf.taskhost"; then mv "$1/etc/resolv.conf.taskhost" "$1/etc/resolv.conf"; fi"#,
];
const CLEANUP_AND_FINISH_HOOKS: [&str; 4] = [
    r#"rm -f "$1/etc/hostname""#,
    r#"test -h "$1/etc/resolv.conf" || rm -f "$1/etc/resolv.conf""#,
    "upload image-config/hostname /etc/hostname",
    r#"if ! test -e "$1/etc/resolv.conf" && ! test -h "$1/etc/resolv.conf" && test -e "$1/lib/systemd/systemd-resolved"; then ln -s ../run/systemd/resolve/stub-resolv.conf "$1/etc/resolv.conf" && chroot "$1" systemctl enable systemd-resolved.service; fi"#,
];
const REPORT_HOOKS: [&str; 5] = [
    "download /etc/os-release os-release",
    "download /var/lib/dpkg/status dpkg-status",
    r#"if test -x "$1/sbin/init" || test -h "$1/sbin/init"; then echo true; else echo false; fi > "$1/tmp/taskhost-with-init""#,
    "download /tmp/taskhost-with-init with-init",
    r#"rm -f "$1/tmp/taskhost-with-init""#,
];
const AMD64_BOOT_HOOKS: [&str; 4] = [
    r#"for f in /vmlinuz /initrd.img /usr/lib/systemd/boot/efi/systemd-bootx64.efi; do test -e "$1$f" || { echo "E: the system has no $f (from the kernel package or systemd-boot)" >&2; exit 1; }; done"#,
    "download /vmlinuz esp/vmlinuz",
    "download /initrd.img esp/initrd.img",
    "download /usr/lib/systemd/boot/efi/systemd-bootx64.efi esp/EFI/BOOT/BOOTX64.EFI",
];

/// The argv of every step after the bootstrap, for a 4 GiB root.
fn image_steps(uuid: &str) -> Vec<Vec<String>> {
    vec![
        strings(&[
            "sfdisk",
            "--quiet",
            "--no-reread",
            "--no-tell-kernel",
            "system.img",
        ]),
        strings(&[
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
            "4194304k",
        ]),
        strings(&[
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
            "262144",
        ]),
        strings(&[
            "mcopy",
            "-s",
            "-i",
            "system.img@@1048576",
            "esp/EFI",
            "esp/loader",
            "esp/vmlinuz",
            "esp/initrd.img",
            "::",
        ]),
    ]
}

/// How a step runs: its output under logs/, its time limit, sfdisk's
/// script on stdin.
fn step(argv: Vec<String>, name: &str) -> Invocation {
    const HOUR: u64 = 60 * 60 * 1000;
    Invocation {
        argv,
        env: vec![],
        cwd: None,
        stdin: (name == "sfdisk").then(|| "image-config/sfdisk".to_string()),
        stdout: Some(format!("logs/{name}.stdout")),
        stderr: Some(format!("logs/{name}.log")),
        timeout_ms: Some(if name == "mmdebstrap" { 3 * HOUR } else { HOUR }),
        run_as_root: false,
        backend: "local".into(),
    }
}

/// The progress reports up to `done` of the 5 steps.
fn progress(done: u64) -> Vec<(String, u64, Option<u64>)> {
    (0..=done)
        .map(|i| ("image".to_string(), i, Some(5)))
        .collect()
}

// ---- the success path -------------------------------------------------------

#[test]
fn the_example_builds_a_qcow2_efi_image_step_by_step() {
    let seen = Seen::default();
    let run = host(example(), &seen).execute::<SimpleSystemImageBuild>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.backends, ["local"]);
    assert!(run.urls.is_empty(), "{:?}", run.urls);

    let uuid = root_uuid(&run);
    let parsed: Vec<&str> = uuid.split('-').collect();
    assert_eq!(
        parsed.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{uuid}"
    );
    assert!(parsed[2].starts_with('4'), "not a v4 UUID: {uuid}");

    let mut mmdebstrap = strings(&[
        "mmdebstrap",
        "--mode=unshare",
        "--format=directory",
        "--architectures=amd64",
        "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older",
        "--variant=minbase",
        "--include=linux-image-amd64,systemd-boot,systemd-sysv,udev,dbus,openssh-server",
        "--include=?exact-name(systemd-boot-efi)",
        "--include=?exact-name(systemd-resolved)",
        "--include=?exact-name(libnss-resolve)",
    ]);
    for hook in SOURCES_HOOKS
        .iter()
        .chain(&CONFIGURE_HOOKS)
        .chain(&SSH_HOOKS)
        .chain(&CLEANUP_AND_FINISH_HOOKS)
        .chain(&REPORT_HOOKS)
        .chain(&AMD64_BOOT_HOOKS)
    {
        mmdebstrap.push(format!("--customize-hook={hook}"));
    }
    mmdebstrap.extend(strings(&["", "rootfs", "mmdebstrap.sources"]));
    let mut expected = vec![mmdebstrap];
    expected.extend(image_steps(&uuid));
    expected.push(strings(&[
        "qemu-img",
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        "system.img",
        "system.qcow2",
    ]));
    assert_eq!(run.commands, expected);
    // Each step's output goes to logs/STEP.stdout and logs/STEP.log, with
    // a time limit (the bootstrap's is longer); sfdisk reads its script.
    let names = [
        "mmdebstrap",
        "sfdisk",
        "mkfs.ext4",
        "mkfs.fat",
        "mcopy",
        "qemu-img",
    ];
    let invocations: Vec<Invocation> = expected
        .into_iter()
        .zip(names)
        .map(|(argv, name)| step(argv, name))
        .collect();
    assert_eq!(run.invocations, invocations);
    assert_eq!(text(&run, "logs/mmdebstrap.stdout"), "");
    assert_eq!(text(&run, "logs/sfdisk.log"), "");
    // Progress after the bootstrap, the root file system, the ESP, the
    // conversion and the artifact.
    assert_eq!(run.progress, progress(5));
    // The sparse image had the disk's size before sfdisk; rootfs/ was
    // there for mkfs.ext4 and gone (the loader entry written) for mcopy.
    assert_eq!(
        *seen.borrow(),
        [
            format!("sfdisk: system.img Some({DISK_4G})"),
            "mkfs.ext4: rootfs true".to_string(),
            "mcopy: rootfs false, loader entry true".to_string(),
        ]
    );

    // What the hooks uploaded and sfdisk read, and the ESP's loader files.
    assert_eq!(
        text(&run, "image-config/fstab"),
        format!("UUID={uuid} / ext4 errors=remount-ro 0 1\n")
    );
    assert_eq!(text(&run, "image-config/hostname"), "debian\n");
    assert_eq!(
        text(&run, "image-config/hosts"),
        "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    );
    assert_eq!(
        text(&run, "image-config/network"),
        "[Match]\nType=ether\n\n[Network]\nDHCP=yes\n"
    );
    assert_eq!(
        text(&run, "image-config/authorized_keys"),
        format!("{KEY}\n")
    );
    assert_eq!(text(&run, "image-config/sfdisk"), SFDISK_AMD64_4G);
    assert_eq!(
        text(&run, "esp/loader/loader.conf"),
        "default debian.conf\ntimeout 0\n"
    );
    assert_eq!(
        text(&run, "esp/loader/entries/debian.conf"),
        format!(
            "title Debian GNU/Linux 12 (bookworm)\nlinux /vmlinuz\ninitrd /initrd.img\n\
             options root=UUID={uuid} rw console=ttyS0 no_timer_check\n"
        )
    );
    let sources =
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n";
    assert_eq!(text(&run, "mmdebstrap.sources"), sources);
    assert_eq!(text(&run, "chroot.sources"), sources);
    assert_eq!(text(&run, "logs/mmdebstrap.log"), LOG);
    // The raw image and the tree are not left behind.
    assert!(run.workspace_file("system.img").is_none());
    assert!(!run.workspace.path().join("rootfs").exists());

    assert_eq!(run.artifacts.len(), 1);
    let artifact = &run.artifacts[0];
    assert_eq!(artifact.id, 1000);
    assert_eq!(artifact.category, "debian:system-image");
    assert_eq!(
        artifact.data,
        json!({
            "filename": "bookworm-amd64.qcow2",
            "vendor": "debian",
            "codename": "bookworm",
            "mirror": MIRROR,
            "components": ["main"],
            "variant": "minbase",
            "pkglist": {
                "base-files": "12.4+deb12u11",
                "linux-image-6.1.0-37-amd64": "6.1.140-1",
                "linux-image-amd64": "6.1.140-1",
                "openssh-server": "1:9.2p1-2+deb12u6",
                "systemd-boot": "252.38-1~deb12u1",
            },
            "architecture": "amd64",
            "with_dev": false,
            "with_init": true,
            "image_format": "qcow2",
            "filesystem": "ext4",
            "size": DISK_4G,
            "boot_mechanism": "efi",
        })
    );
    assert_eq!(
        artifact.files,
        [("bookworm-amd64.qcow2".to_string(), QCOW2.to_vec())]
    );
    assert!(run.relations.is_empty());

    assert_eq!(run.results.len(), 1);
    let result = &run.results[0];
    assert_eq!(result.item, "bookworm/amd64");
    assert_eq!(result.item_type, "debian:system-image");
    assert_eq!(result.outcome, Outcome::Passed);
    assert_eq!(
        result.note.as_deref(),
        Some("debian bookworm minbase: 5 packages, 4 GiB qcow2 EFI image bookworm-amd64.qcow2")
    );
    assert_eq!(result.artifact.as_deref(), Some("artifact:1000"));
    assert_eq!(
        result.keyvals,
        [
            ("vendor".to_string(), "debian".to_string()),
            ("packages".to_string(), "5".to_string()),
            (
                "kernel".to_string(),
                "linux-image-6.1.0-37-amd64".to_string()
            ),
            ("image_format".to_string(), "qcow2".to_string()),
            ("size".to_string(), DISK_4G.to_string()),
        ]
    );
}

#[test]
fn a_raw_image_is_packed_as_a_sparse_tar_xz_under_the_default_name() {
    let mut data = example();
    data["disk_image"] = json!({
        "format": "raw",
        "kernel_package": "linux-image-cloud-amd64",
        "partitions": [{"size": 2, "filesystem": "ext4", "mountpoint": "/"}],
    });
    data["customization_script"] = json!("#!/bin/sh\napt-get install -y hello\n");
    let run = build(data);
    assert_eq!(run.status, Ok(Status::Success));
    let argv = &run.commands[0];
    assert_eq!(
        argv[6],
        "--include=linux-image-cloud-amd64,systemd-boot,systemd-sysv,udev,dbus,openssh-server"
    );
    // No keys: no ssh hooks. A script: run with the host's resolv.conf.
    let hooks: Vec<&str> = argv
        .iter()
        .filter_map(|a| a.strip_prefix("--customize-hook="))
        .collect();
    let mut expected: Vec<&str> = SOURCES_HOOKS.to_vec();
    expected.extend(CONFIGURE_HOOKS);
    expected.extend(SCRIPT_HOOKS);
    expected.extend(CLEANUP_AND_FINISH_HOOKS);
    expected.extend(REPORT_HOOKS);
    expected.extend(AMD64_BOOT_HOOKS);
    assert_eq!(hooks, expected);
    assert!(!argv.iter().any(|a| a.contains("hello")));
    assert_eq!(
        text(&run, "customization-script"),
        "#!/bin/sh\napt-get install -y hello\n"
    );
    assert_eq!(text(&run, "image-config/authorized_keys"), "");

    let uuid = root_uuid(&run);
    assert_eq!(
        run.commands[2][10..],
        strings(&[
            "offset=269484032,assume_storage_prezeroed=1",
            "system.img",
            "2097152k"
        ])
    );
    assert_eq!(run.commands[2][8], uuid);
    assert_eq!(
        run.commands[5..],
        [
            strings(&[
                "tar",
                "--create",
                "--sparse",
                "--file",
                "system.tar",
                "system.img"
            ]),
            strings(&["xz", "--threads=0", "-1", "system.tar"]),
        ]
    );
    assert_eq!(run.commands.len(), 7);
    assert_eq!(
        run.invocations[5..],
        [
            step(run.commands[5].clone(), "tar"),
            step(run.commands[6].clone(), "xz")
        ]
    );
    assert_eq!(run.progress, progress(5));
    assert!(run.workspace_file("system.img").is_none());
    let size = (1u64 + 256 + 2048 + 1) << 20;
    let artifact = &run.artifacts[0];
    assert_eq!(
        artifact.files,
        [("image.tar.xz".to_string(), TAR_XZ.to_vec())]
    );
    assert_eq!(artifact.data["filename"], "image.tar.xz");
    assert_eq!(artifact.data["image_format"], "raw");
    assert_eq!(artifact.data["size"], size);
    assert_eq!(
        run.results[0].note.as_deref(),
        Some("debian bookworm minbase: 5 packages, 2 GiB raw EFI image image.tar.xz")
    );
    assert_eq!(run.results[0].keyval("image_format"), Some("raw"));
    assert_eq!(
        run.results[0].keyval("size"),
        Some(size.to_string().as_str())
    );
}

#[test]
fn arm64_boots_bootaa64_without_a_serial_console_and_bootstraps_from_the_first_repository() {
    let data = json!({
        "bootstrap_options": {"architecture": "arm64", "extra_packages": ["locales"]},
        "bootstrap_repositories": [
            {"mirror": MIRROR, "suite": "bookworm", "components": ["main"]},
            {"mirror": "http://security.debian.org/debian-security", "suite": "bookworm-security",
             "components": ["main"], "check_signature_with": "no-check"},
        ],
        "disk_image": {
            "format": "qcow2",
            "partitions": [{"size": 4, "filesystem": "ext4", "mountpoint": "/"}],
        },
    });
    let run = tools(
        FakeHost::new().task_data(data).reply(
            "mmdebstrap **",
            bootstrapped(ARM64_DPKG_STATUS)
                .writes("esp/EFI/BOOT/BOOTAA64.EFI", "systemd-bootaa64.efi"),
        ),
        &Seen::default(),
    )
    .execute::<SimpleSystemImageBuild>();
    assert_eq!(run.status, Ok(Status::Success));
    let argv = &run.commands[0];
    // No variant: mmdebstrap's default.
    assert_eq!(
        argv[3..9],
        strings(&[
            "--architectures=arm64",
            "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older",
            "--include=locales,linux-image-arm64,systemd-boot,systemd-sysv,udev,dbus,openssh-server",
            "--include=?exact-name(systemd-boot-efi)",
            "--include=?exact-name(systemd-resolved)",
            "--include=?exact-name(libnss-resolve)",
        ])
    );
    let hooks: Vec<&str> = argv
        .iter()
        .filter_map(|a| a.strip_prefix("--customize-hook="))
        .collect();
    assert_eq!(
        hooks[hooks.len() - 4..],
        [
            r#"for f in /vmlinuz /initrd.img /usr/lib/systemd/boot/efi/systemd-bootaa64.efi; do test -e "$1$f" || { echo "E: the system has no $f (from the kernel package or systemd-boot)" >&2; exit 1; }; done"#,
            "download /vmlinuz esp/vmlinuz",
            "download /initrd.img esp/initrd.img",
            "download /usr/lib/systemd/boot/efi/systemd-bootaa64.efi esp/EFI/BOOT/BOOTAA64.EFI",
        ]
    );
    let uuid = root_uuid(&run);
    assert_eq!(
        text(&run, "image-config/sfdisk"),
        "label: gpt\nunit: sectors\nfirst-lba: 2048\n\n\
         start=2048, size=524288, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"ESP\"\n\
         start=526336, size=8388608, type=B921B045-1DF0-41C3-AF44-4C6F280D3FAE, name=\"root\"\n"
    );
    assert_eq!(
        text(&run, "esp/loader/entries/debian.conf"),
        format!(
            "title Debian GNU/Linux 12 (bookworm)\nlinux /vmlinuz\ninitrd /initrd.img\n\
             options root=UUID={uuid} rw\n"
        )
    );
    // The bootstrap uses the first repository; the system gets both.
    let first =
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n";
    assert_eq!(text(&run, "mmdebstrap.sources"), first);
    assert_eq!(
        text(&run, "chroot.sources"),
        format!(
            "{first}\nTypes: deb\nURIs: http://security.debian.org/debian-security\n\
             Suites: bookworm-security\nComponents: main\nTrusted: yes\n"
        )
    );
    let data = &run.artifacts[0].data;
    assert_eq!(data["filename"], "image.qcow2");
    assert_eq!(data["architecture"], "arm64");
    assert_eq!(data["variant"], Value::Null);
    assert_eq!(data["mirror"], MIRROR);
    assert_eq!(data["components"], json!(["main"]));
    assert_eq!(run.artifacts[0].files[0].0, "image.qcow2");
    assert_eq!(run.results[0].item, "bookworm/arm64");
    assert_eq!(
        run.results[0].note.as_deref(),
        Some("debian bookworm debootstrap: 2 packages, 4 GiB qcow2 EFI image image.qcow2")
    );
    assert_eq!(
        run.results[0].keyval("kernel"),
        Some("linux-image-6.1.0-37-arm64")
    );
}

#[test]
fn components_come_from_the_release_file_when_not_given() {
    let mut data = example();
    data["bootstrap_repositories"][0]
        .as_object_mut()
        .unwrap()
        .remove("components");
    let release = "Origin: Debian\nLabel: Debian\nSuite: stable\nVersion: 12.11\nCodename: bookworm\n\
                   Architectures: all amd64 arm64 armel armhf i386 mips64el mipsel ppc64el s390x\n\
                   Components: main contrib non-free-firmware non-free\n\
                   Description: Debian 12.11 Released 17 May 2025\n";
    let run = host(data, &Seen::default())
        .http(RELEASE_URL, 200, release)
        .execute::<SimpleSystemImageBuild>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.urls, [RELEASE_URL]);
    assert_eq!(
        text(&run, "mmdebstrap.sources"),
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\
         Components: main contrib non-free-firmware non-free\n"
    );
    assert_eq!(
        run.artifacts[0].data["components"],
        json!(["main", "contrib", "non-free-firmware", "non-free"])
    );
}

#[test]
fn device_nodes_in_rootfs_dev_make_with_dev_true() {
    let run = tools(
        FakeHost::new()
            .task_data(example())
            .respond("mmdebstrap **", |_| {
                // Neither file, directory nor link, as a device node: a
                // socket (a test cannot mknod, and a Reply makes no socket).
                std::fs::create_dir_all("rootfs/dev").unwrap();
                std::os::unix::net::UnixListener::bind("rootfs/dev/log").unwrap();
                bootstrapped(DPKG_STATUS)
            }),
        &Seen::default(),
    )
    .execute::<SimpleSystemImageBuild>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.artifacts[0].data["with_dev"], true);
}

// ---- a step failing ---------------------------------------------------------

#[test]
fn a_failing_bootstrap_shows_its_error_lines_and_builds_no_image() {
    let log = "\
I: running --customize-hook in shell: sh -c 'for f in /vmlinuz /initrd.img /usr/lib/systemd/boot/efi/systemd-bootx64.efi; do ...' exec mmdebstrap /tmp/mmdebstrap.Qx9Tc2
E: the system has no /usr/lib/systemd/boot/efi/systemd-bootx64.efi (from the kernel package or systemd-boot)
E: setup failed: E: command failed: sh -c 'for f in /vmlinuz /initrd.img /usr/lib/systemd/boot/efi/systemd-bootx64.efi; do ...' exec mmdebstrap /tmp/mmdebstrap.Qx9Tc2
I: removing tempdir /tmp/mmdebstrap.Qx9Tc2...
";
    let run = FakeHost::new()
        .task_data(example())
        .reply("mmdebstrap **", Reply::exit(1).stderr(log))
        .execute::<SimpleSystemImageBuild>();
    assert_eq!(
        run.status,
        Err(Error::Failed(
            "mmdebstrap failed (exit code 1):\n\
             E: the system has no /usr/lib/systemd/boot/efi/systemd-bootx64.efi (from the kernel package or systemd-boot)\n\
             E: setup failed: E: command failed: sh -c 'for f in /vmlinuz /initrd.img /usr/lib/systemd/boot/efi/systemd-bootx64.efi; do ...' exec mmdebstrap /tmp/mmdebstrap.Qx9Tc2"
                .into()
        ))
    );
    assert_eq!(run.commands.len(), 1);
    assert_eq!(
        run.log_text(Level::Warn),
        format!("the end of mmdebstrap's log:\n{}", log.trim_end())
    );
    assert_eq!(text(&run, "logs/mmdebstrap.log"), log);
    assert!(run.workspace_file("system.img").is_none());
    assert!(run.artifacts.is_empty() && run.results.is_empty());
}

/// task_data, the failing step's pattern and reply, how many commands
/// ran, how many progress steps were reported done, and the run's end.
type Case = (
    Value,
    &'static str,
    Reply,
    usize,
    u64,
    Result<Status, Error>,
);

#[test]
fn a_failing_killed_or_timed_out_image_step_is_named_and_stores_nothing() {
    let full = "__populate_fs: Could not allocate block in ext2 filesystem while writing file \"libLLVM-15.so.1\"\n\
                mkfs.ext4: Could not allocate block in ext2 filesystem while populating file system\n";
    let raw = || {
        let mut data = example();
        data["disk_image"]["format"] = json!("raw");
        data
    };
    let cases: [Case; 5] = [
        (
            example(),
            "mkfs.ext4 **",
            Reply::exit(1).stderr(full),
            3,
            1,
            Err(Error::Failed(format!(
                "mkfs.ext4 failed (exit code 1):\n{}",
                full.trim_end()
            ))),
        ),
        (
            example(),
            "sfdisk **",
            Reply::signal(9),
            2,
            1,
            Err(Error::Failed("sfdisk failed (signal 9):\n".into())),
        ),
        (
            example(),
            "mcopy **",
            Reply::exit(1).stderr("Disk full\n"),
            5,
            2,
            Err(Error::Failed(
                "mcopy failed (exit code 1):\nDisk full".into(),
            )),
        ),
        (
            example(),
            "qemu-img **",
            Reply::timed_out().stderr("qemu-img: waiting for lock\n"),
            6,
            3,
            Err(Error::TimedOut),
        ),
        (
            raw(),
            "xz **",
            Reply::exit(1).stderr("xz: system.tar.xz: Write error: No space left on device\n"),
            7,
            3,
            Err(Error::Failed(
                "xz failed (exit code 1):\nxz: system.tar.xz: Write error: No space left on device"
                    .into(),
            )),
        ),
    ];
    for (data, pattern, reply, ran, done, status) in cases {
        let run = tools(
            FakeHost::new().task_data(data).reply(pattern, reply),
            &Seen::default(),
        )
        .execute::<SimpleSystemImageBuild>();
        assert_eq!(run.status, status, "{pattern}");
        assert_eq!(run.commands.len(), ran, "{pattern}");
        let name = pattern.split(' ').next().unwrap();
        assert_eq!(run.commands[ran - 1][0], name);
        assert_eq!(
            run.invocations[ran - 1],
            step(run.commands[ran - 1].clone(), name),
            "{pattern}"
        );
        assert_eq!(run.progress, progress(done), "{pattern}");
        assert!(
            run.artifacts.is_empty() && run.results.is_empty(),
            "{pattern}"
        );
        if status == Err(Error::TimedOut) {
            assert_eq!(
                run.log_text(Level::Error),
                "qemu-img timed out:\nqemu-img: waiting for lock"
            );
        } else {
            assert!(
                run.log_text(Level::Warn)
                    .starts_with(&format!("the end of {name}'s log:")),
                "{pattern}: {:?}",
                run.log
            );
        }
        // Each step's stderr is kept in the workspace under its name.
        assert!(run.workspace_file(&format!("logs/{name}.log")).is_some());
    }
}

/// A bootstrap that succeeded, with `file` (a report file) as given:
/// left out when `None`.
fn reporting(file: &str, content: Option<&str>) -> Reply {
    let mut reply = Reply::exit(0)
        .stderr(LOG)
        .writes("rootfs/etc/debian_version", "12.11\n")
        .mkdir("rootfs/dev/pts");
    for (name, usual) in [
        ("os-release", OS_RELEASE),
        ("dpkg-status", DPKG_STATUS),
        ("with-init", "true\n"),
    ] {
        match (name == file, content) {
            (false, _) => reply = reply.writes(name, usual),
            (true, Some(content)) => reply = reply.writes(name, content),
            (true, None) => {}
        }
    }
    reply
}

/// A bad bootstrap fails right after it, before the image steps: nothing
/// else ran, no image was made, nothing is stored.
fn assert_fails_after_the_bootstrap(run: &Run<Status>, says: &str) {
    assert!(
        matches!(run.status, Err(Error::Failed(_))),
        "{says}: {:?}",
        run.status
    );
    let m = message(&run.status);
    assert!(m.starts_with(says), "{says}: {m}");
    assert_eq!(run.commands.len(), 1, "{says}: {:?}", run.commands);
    assert_eq!(run.commands[0][0], "mmdebstrap");
    assert!(run.workspace_file("system.img").is_none(), "{says}");
    assert!(
        run.workspace_file("esp/loader/entries/debian.conf")
            .is_none(),
        "{says}"
    );
    assert_eq!(
        run.progress,
        [
            ("image".to_string(), 0, Some(5)),
            ("image".to_string(), 1, Some(5))
        ],
        "{says}"
    );
    assert!(run.artifacts.is_empty() && run.results.is_empty(), "{says}");
}

#[test]
fn a_bootstrap_without_its_report_files_fails_before_the_image_is_built() {
    let cases = [
        (
            reporting("os-release", None),
            "mmdebstrap left no os-release in the workspace: ",
        ),
        (
            reporting("os-release", Some("NAME=\"Debian GNU/Linux\"\n")),
            "the system's /etc/os-release has no ID",
        ),
        (
            reporting("dpkg-status", None),
            "mmdebstrap left no dpkg-status in the workspace: ",
        ),
        (
            reporting("with-init", None),
            "mmdebstrap left no with-init in the workspace: ",
        ),
    ];
    for (reply, says) in cases {
        // Every image step has a reply: none may run.
        let run = tools(
            FakeHost::new()
                .task_data(example())
                .reply("mmdebstrap **", reply),
            &Seen::default(),
        )
        .execute::<SimpleSystemImageBuild>();
        assert_fails_after_the_bootstrap(&run, says);
    }
}

#[test]
fn an_empty_or_garbled_with_init_is_an_error_not_true_or_false() {
    for (with_init, says) in [
        ("", "\"\""),
        ("\n", "\"\""),
        ("yes\n", "\"yes\""),
        ("TRUE\n", "\"TRUE\""),
        ("true\nfalse\n", "\"true\\nfalse\""),
        ("tru", "\"tru\""),
    ] {
        let run = tools(
            FakeHost::new()
                .task_data(example())
                .reply("mmdebstrap **", reporting("with-init", Some(with_init))),
            &Seen::default(),
        )
        .execute::<SimpleSystemImageBuild>();
        assert_fails_after_the_bootstrap(
            &run,
            &format!(
                "the hook testing the system's /sbin/init wrote {says} to with-init, not true \
                 or false"
            ),
        );
    }
    // Around true or false, blanks do not matter.
    for (with_init, is) in [("false\n", false), ("  true \r\n", true)] {
        let run = tools(
            FakeHost::new()
                .task_data(example())
                .reply("mmdebstrap **", reporting("with-init", Some(with_init))),
            &Seen::default(),
        )
        .execute::<SimpleSystemImageBuild>();
        assert_eq!(run.status, Ok(Status::Success), "{with_init:?}");
        assert_eq!(run.artifacts[0].data["with_init"], is, "{with_init:?}");
    }
}

// ---- downloads and denials --------------------------------------------------

#[test]
fn a_missing_release_file_fails_before_anything_runs() {
    let mut data = example();
    data["bootstrap_repositories"][0]
        .as_object_mut()
        .unwrap()
        .remove("components");
    let run = FakeHost::new()
        .task_data(data)
        .http(RELEASE_URL, 404, "<html>Not Found</html>")
        .execute::<SimpleSystemImageBuild>();
    assert_eq!(
        run.status,
        Err(Error::Failed(format!(
            "bootstrap_repositories[0].components: reading the suite's Release file: \
             {RELEASE_URL}: HTTP 404 (or list the components)"
        )))
    );
    assert!(run.backends.is_empty() && run.commands.is_empty());
}

#[test]
fn a_denied_url_backend_command_or_category_ends_the_run_with_access_denied() {
    let mut without_components = example();
    without_components["bootstrap_repositories"][0]
        .as_object_mut()
        .unwrap()
        .remove("components");
    let mut raw = example();
    raw["disk_image"]["format"] = json!("raw");
    let seen = Seen::default();
    let deny =
        |data: Value, f: fn(FakeHost) -> FakeHost| tools(f(FakeHost::new().task_data(data)), &seen);
    let cases: [(FakeHost, usize); 7] = [
        (
            deny(without_components, |h| h.deny_url("http://deb.debian.org/")),
            0,
        ),
        (deny(example(), |h| h.deny_backend("local")), 0),
        (
            deny(example(), |h| {
                h.deny_exec("mmdebstrap --mode=unshare --format=directory **")
            }),
            0,
        ),
        (
            deny(example(), |h| {
                h.deny_exec("mkfs.ext4 -q -F -d rootfs -L root -U * -E * system.img *")
            }),
            2,
        ),
        (
            deny(example(), |h| {
                h.deny_exec("qemu-img convert -f raw -O qcow2 system.img system.qcow2")
            }),
            5,
        ),
        (
            deny(raw, |h| h.deny_exec("xz --threads=0 -1 system.tar")),
            6,
        ),
        (deny(example(), |h| h.deny_create("debian:system-image")), 6),
    ];
    for (host, ran) in cases {
        let run = host.execute::<SimpleSystemImageBuild>();
        assert!(
            matches!(run.status, Err(Error::AccessDenied(_))),
            "{:?}",
            run.status
        );
        assert_eq!(run.denied.len(), 1, "{:?}", run.denied);
        assert_eq!(run.commands.len(), ran, "{:?}", run.denied);
        assert!(run.artifacts.is_empty() && run.results.is_empty());
    }
}

// ---- bad task_data ----------------------------------------------------------

#[test]
fn bad_task_data_is_refused_naming_the_key_before_anything_runs() {
    let root = json!({"size": 4, "filesystem": "ext4", "mountpoint": "/"});
    let image = |extra: Value| {
        let mut data = example();
        for (k, v) in extra.as_object().unwrap() {
            data["disk_image"][k] = v.clone();
        }
        data
    };
    let partitions = |p: Value| image(json!({ "partitions": p }));
    let options = |o: Value| {
        let mut data = example();
        data["bootstrap_options"] = o;
        data
    };
    let mut missing = example();
    missing.as_object_mut().unwrap().remove("disk_image");
    let cases = [
        (
            image(json!({"size": 3})),
            "task_data: unknown key 'disk_image.size' (extra fields not permitted)".to_string(),
        ),
        (missing, "task_data: missing field `disk_image`".into()),
        (
            image(json!({"format": "vmdk"})),
            "task_data: disk_image.format: unknown variant `vmdk`, expected `raw` or `qcow2`"
                .into(),
        ),
        (
            partitions(json!([{"size": "4G", "filesystem": "ext4", "mountpoint": "/"}])),
            "task_data: disk_image.partitions[0].size: invalid type: string \"4G\", expected u32"
                .into(),
        ),
        (
            partitions(json!([{"size": 2, "filesystem": "btrfs", "mountpoint": "/"}])),
            "task_data: disk_image.partitions[0].filesystem: unknown variant `btrfs`, expected \
             one of `ext4`, `none`, `swap`, `freespace`"
                .into(),
        ),
        (
            partitions(json!([root, root])),
            "disk_image.partitions: [0] and [1] both have mountpoint /; simplesystemimagebuild \
             builds exactly one root partition"
                .into(),
        ),
        (
            partitions(json!([root, {"size": 1, "filesystem": "swap"}])),
            "disk_image.partitions[1]: simplesystemimagebuild builds a single partition, the root \
             file system (mountpoint /); remove this one (filesystem swap, mountpoint none)"
                .into(),
        ),
        (
            partitions(json!([])),
            "disk_image.partitions: no partition has mountpoint /; give exactly one, the root \
             file system: [{size: 4, filesystem: ext4, mountpoint: /}]"
                .into(),
        ),
        (
            partitions(json!([{"size": 0, "filesystem": "ext4", "mountpoint": "/"}])),
            "disk_image.partitions[0].size: 0 GiB is out of range (1 to 4096)".into(),
        ),
        (
            partitions(json!([{"size": 4097, "filesystem": "ext4", "mountpoint": "/"}])),
            "disk_image.partitions[0].size: 4097 GiB is out of range (1 to 4096)".into(),
        ),
        (
            partitions(json!([{"size": 4, "filesystem": "none", "mountpoint": "/"}])),
            "disk_image.partitions[0].filesystem: the root partition is ext4, not none".into(),
        ),
        (
            options(json!({"architecture": "s390x"})),
            "bootstrap_options.architecture: 's390x' has no EFI boot support here; use one of \
             amd64, arm64, armhf, i386, riscv64"
                .into(),
        ),
        (
            options(json!({"architecture": "amd64", "variant": "extract"})),
            "bootstrap_options.variant: extract only unpacks packages, and an image needs an \
             installed system; use another variant (minbase is the smallest)"
                .into(),
        ),
        (
            image(json!({"bootloader": "grub-efi-amd64"})),
            "disk_image.bootloader: 'grub-efi-amd64' is not supported: simplesystemimagebuild \
             boots with systemd-boot (leave the key out)"
                .into(),
        ),
        (
            image(json!({"filename": "../etc/passwd"})),
            "disk_image.filename: '../etc/passwd' is not a plain file name (letters, digits, . _ \
             + -; not starting with a dot; at most 100 characters)"
                .into(),
        ),
        (
            image(json!({"kernel_package": "linux-image-amd64,evil"})),
            "disk_image.kernel_package: 'linux-image-amd64,evil': give one package per list \
             entry (no commas or spaces)"
                .into(),
        ),
        (
            image(
                json!({"authorized_keys": [format!("{KEY}\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ")]}),
            ),
            "disk_image.authorized_keys[0]: give one public key per entry (no newlines or \
             control characters)"
                .into(),
        ),
        (
            image(json!({"authorized_keys": [format!("command=\"/bin/sh\" {KEY}")]})),
            "disk_image.authorized_keys[0]: unknown key type 'command=\"/bin/sh\"' (one of \
             ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, \
             ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com, \
             sk-ecdsa-sha2-nistp256@openssh.com; authorized_keys options are not supported)"
                .into(),
        ),
        (
            image(json!({"authorized_keys": ["ssh-ed25519 not*base64*at*all"]})),
            "disk_image.authorized_keys[0]: the key after 'ssh-ed25519' is not base64".into(),
        ),
        (
            {
                let mut data = example();
                data["bootstrap_repositories"][0]["mirror"] = json!("ftp://ftp.debian.org/debian");
                data
            },
            "bootstrap_repositories[0].mirror: 'ftp://ftp.debian.org/debian' is not an http://, \
             https:// or file:/// URL"
                .into(),
        ),
    ];
    for (data, says) in cases {
        let run = FakeHost::new()
            .task_data(data)
            .execute::<SimpleSystemImageBuild>();
        // Refused before execute wrote anything.
        assert!(run.workspace_file("mmdebstrap.sources").is_none());
        assert_eq!(without_position(run.status), Err(Error::Invalid(says)));
        assert!(run.urls.is_empty() && run.backends.is_empty() && run.commands.is_empty());
        assert!(run.artifacts.is_empty());
    }
}
