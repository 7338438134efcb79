//! The simplesystemimagebuild plugin: bad input is refused naming the key
//! (fast), and the example image, built from the mirror in this machine's
//! apt sources under the example policy, boots under qemu (TCG, OVMF) far
//! enough that sshd lets the test's key in (slow, ignored by a plain
//! `cargo test`; `--include-ignored` runs it, as `.ci/run` does).

use crate::{Env, Ran};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/policy.toml");

/// `runtask run simplesystemimagebuild` under the example policy.
fn build(env: &Env, data: &Path) -> Ran {
    env.run(&[
        "run",
        "simplesystemimagebuild",
        "--policy",
        POLICY,
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
    ])
}

/// task_data with `partitions` as the disk's partitions.
fn with_partitions(partitions: Value) -> Value {
    json!({
        "bootstrap_options": {"architecture": "amd64", "variant": "minbase"},
        "bootstrap_repositories": [
            {"mirror": "http://mirror.example/debian", "suite": "bookworm", "components": ["main"]}
        ],
        "disk_image": {"format": "qcow2", "partitions": partitions},
    })
}

#[test]
fn bad_disk_images_are_refused_naming_the_key_before_anything_runs() {
    let root = json!({"size": 2, "filesystem": "ext4", "mountpoint": "/"});
    let mut unknown_format = with_partitions(json!([root]));
    unknown_format["disk_image"]["format"] = json!("vmdk");
    let cases = [
        (
            with_partitions(json!([root, root])),
            "disk_image.partitions: [0] and [1] both have mountpoint /",
        ),
        (
            with_partitions(json!([{"size": 2, "filesystem": "btrfs", "mountpoint": "/"}])),
            "task_data: disk_image.partitions[0].filesystem: unknown variant `btrfs`",
        ),
        (
            unknown_format,
            "task_data: disk_image.format: unknown variant `vmdk`",
        ),
    ];
    for (data, needle) in cases {
        let env = Env::new();
        let file = env.write("task.json", &data.to_string());
        let ran = build(&env, &file);
        ran.expect(2);
        // The error points at the key in the user's file.
        assert!(
            ran.stderr
                .contains(&format!("runtask: error: {}:1:", file.display()))
                && ran
                    .stderr
                    .contains(&format!(": simplesystemimagebuild: {needle}")),
            "{needle}:\n{}",
            ran.stderr
        );
        assert!(ran.stdout.trim().is_empty(), "{}", ran.stdout);
        assert!(env.artifacts().is_empty());
    }
}

// ---- the example image boots ------------------------------------------

/// A qemu process, killed when dropped (also when the test fails).
struct Vm(Child);

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nobody listens on (free when this returns).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Boots `image` (qcow2) under TCG with OVMF, serial to `serial`, guest
/// port 22 on `port`.
fn boot(dir: &Path, image: &Path, serial: &Path, port: u16) -> Vm {
    let vars = dir.join("OVMF_VARS.fd");
    std::fs::copy("/usr/share/OVMF/OVMF_VARS.fd", &vars)
        .expect("OVMF_VARS.fd (Debian package ovmf; .ci/install-deps installs it)");
    let log = std::fs::File::create(dir.join("qemu.log")).expect("qemu.log");
    let child = Command::new("qemu-system-x86_64")
        .args([
            "-machine", "q35", "-accel", "tcg", "-m", "1024", "-smp", "2",
        ])
        .args(["-nographic", "-monitor", "none"])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .args([
            "-drive",
            "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd",
        ])
        .arg("-drive")
        .arg(format!(
            "if=pflash,format=raw,unit=1,file={}",
            vars.display()
        ))
        .arg("-drive")
        .arg(format!("file={},format=qcow2,if=virtio", image.display()))
        .args([
            "-netdev",
            &format!("user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22"),
        ])
        .args(["-device", "virtio-net-pci,netdev=n0"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("qemu-system-x86_64 (Debian package qemu-system-x86)");
    Vm(child)
}

/// `ssh root@127.0.0.1 -p port COMMAND` with `key`, given up after 60 s.
fn ssh(dir: &Path, key: &Path, port: u16, command: &str) -> Option<String> {
    let out = dir.join("ssh.out");
    let mut child = Command::new("ssh")
        .arg("-i")
        .arg(key)
        .args(["-p", &port.to_string()])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known_hosts").display()
        ))
        .args(["-o", "StrictHostKeyChecking=accept-new"])
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"])
        .args(["-o", "IdentitiesOnly=yes", "-F", "/dev/null"])
        .args(["root@127.0.0.1", command])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("ssh.out"))
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh (Debian package openssh-client)");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait().expect("wait for ssh") {
            Some(status) if status.success() => {
                return Some(std::fs::read_to_string(&out).unwrap_or_default());
            }
            Some(_) => return None,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// The end of the serial log.
fn serial_tail(serial: &Path) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(serial).unwrap_or_default()).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[test]
#[ignore = "slow: bootstraps Debian from the mirror, builds an image and boots it under qemu (TCG)"]
fn the_example_image_boots_under_qemu_and_lets_the_key_in_over_ssh() {
    // The example, with this machine's mirror and a key of the test's
    // (built once for these tests and the qemu backend's).
    let shared = crate::qemu::image();
    let built = shared.built;
    let key = shared.key.clone();
    let env = Env::new();
    let dir = env.dir.path().to_path_buf();
    let image = &shared.artifact;
    let d = &image["data"];
    assert_eq!(d["filename"], "bookworm-amd64.qcow2", "{d}");
    assert_eq!(d["image_format"], "qcow2", "{d}");
    assert_eq!(d["filesystem"], "ext4", "{d}");
    assert_eq!(d["boot_mechanism"], "efi", "{d}");
    assert_eq!(d["size"], (1u64 + 256 + 4 * 1024 + 1) << 20, "{d}");
    assert_eq!(d["codename"], "bookworm", "{d}");
    assert_eq!(d["vendor"], "debian", "{d}");
    assert_eq!(d["architecture"], "amd64", "{d}");
    assert_eq!(d["variant"], "minbase", "{d}");
    assert_eq!(d["with_init"], true, "{d}");
    for package in [
        "openssh-server",
        "systemd-sysv",
        "systemd-boot",
        "linux-image-amd64",
    ] {
        assert!(d["pkglist"].get(package).is_some(), "{package}: {d}");
    }
    // The image's file, as `artifact export` gives it.
    let qcow2: PathBuf = shared.file.clone();
    assert!(
        qcow2.ends_with("bookworm-amd64.qcow2"),
        "{}",
        qcow2.display()
    );

    let serial = dir.join("serial.log");
    let port = free_port();
    let booted = Instant::now();
    let mut vm = boot(&dir, &qcow2, &serial, port);
    let deadline = booted + Duration::from_secs(600);
    let mut answer = None;
    while answer.is_none() {
        assert!(
            Instant::now() < deadline,
            "no ssh login within 600 s; the serial console's end:\n{}",
            serial_tail(&serial)
        );
        if let Some(status) = vm.0.try_wait().expect("wait for qemu") {
            panic!(
                "qemu ended ({status}):\n{}\n--- serial\n{}",
                std::fs::read_to_string(dir.join("qemu.log")).unwrap_or_default(),
                serial_tail(&serial)
            );
        }
        std::thread::sleep(Duration::from_secs(5));
        let console =
            String::from_utf8_lossy(&std::fs::read(&serial).unwrap_or_default()).into_owned();
        if console.contains("multi-user.target") || console.contains(" login: ") {
            answer = ssh(
                &dir,
                &key,
                port,
                "cat /etc/taskhost-image /etc/os-release; systemctl is-system-running --wait || true",
            );
        }
    }
    let to_ssh = booted.elapsed();
    let answer = answer.unwrap_or_default();
    let console = String::from_utf8_lossy(&std::fs::read(&serial).unwrap_or_default()).into_owned();
    drop(vm);
    eprintln!(
        "simplesystemimagebuild: image built in {:.0} s, boot to ssh in {:.0} s (TCG)",
        built.as_secs_f64(),
        to_ssh.as_secs_f64()
    );
    // The kernel and systemd talked on ttyS0, and systemd reached multi-user.
    assert!(
        console.contains("Linux version"),
        "{}",
        serial_tail(&serial)
    );
    assert!(
        console.contains("multi-user.target"),
        "{}",
        serial_tail(&serial)
    );
    // The customization script ran in the image, which is Debian 12.
    assert!(
        answer.contains("built by taskhost's simplesystemimagebuild"),
        "{answer}"
    );
    assert!(answer.contains("VERSION_CODENAME=bookworm"), "{answer}");
    assert!(
        answer.contains("running") || answer.contains("degraded"),
        "{answer}"
    );
}
