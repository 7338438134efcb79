//! The qemu backend: disposable machines booted from the image that the
//! simplesystemimagebuild plugin builds from the example (once per test
//! process, with autopkgtest, rsync and uidmap in it), commands in them
//! over ssh, a formula under `--libvirt`, and the machine gone afterwards,
//! even when runtask is killed. Slow (each machine boots under TCG here),
//! so ignored by a plain `cargo test`; the refusals need no machine.

use crate::{Env, Ran, report};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/simplesystemimagebuild/task.yaml"
);
const POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/policy.toml");
const ENVRUN: &str = env!("TASKHOST_TEST_PLUGIN_ENVRUN");
/// Every command envrun declares: the preflight wants them all granted.
pub(crate) const ENVRUN_EXEC: &str =
    r#""cat **", "id **", "ls **", "sh **", "touch **", "stat **", "true **""#;

/// The image every test here boots.
pub(crate) struct Image {
    /// Holds the store and the exported file.
    _env: Env,
    /// Its artifact, in `env`'s store.
    pub(crate) artifact: Value,
    /// The key the example lets in as root (the image's own, not the
    /// backend's).
    pub(crate) key: PathBuf,
    /// The image file, exported.
    pub(crate) file: PathBuf,
    pub(crate) built: Duration,
}

/// Builds the example image once: this machine's mirror, a fresh key,
/// and the packages the tests here run in it.
pub(crate) fn image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let env = Env::shared("qemu");
        let key = env.path("id_ed25519");
        let keygen = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "taskhost-e2e", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen");
        assert!(keygen.success());
        let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
        let example = std::fs::read_to_string(EXAMPLE).expect("example task.yaml");
        let placeholder_key = example
            .lines()
            .find_map(|l| l.trim().strip_prefix("- ssh-ed25519 "))
            .map(|rest| format!("ssh-ed25519 {rest}"))
            .expect("the example has an ssh-ed25519 key");
        for needle in [
            "http://mirror.example/debian",
            placeholder_key.as_str(),
            "  variant: minbase\n",
        ] {
            assert!(example.contains(needle), "{needle}");
        }
        let data = example
            .replace("http://mirror.example/debian", &crate::unshare::mirror())
            .replace(&placeholder_key, public.trim())
            .replace(
                "  variant: minbase\n",
                "  variant: minbase\n  extra_packages: [autopkgtest, rsync, uidmap, xz-utils]\n",
            );
        let data = env.write("task.yaml", &data);
        let started = Instant::now();
        let ran = env.run(&[
            "run",
            "simplesystemimagebuild",
            "--policy",
            POLICY,
            "--data",
            data.to_str().expect("utf-8"),
            "--format",
            "json",
        ]);
        let built = started.elapsed();
        ran.expect(0);
        let ids: Vec<u64> = report(&ran)["artifacts"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let artifact = env
            .artifacts()
            .into_iter()
            .find(|a| {
                a["category"] == "debian:system-image"
                    && a["id"].as_u64().is_some_and(|id| ids.contains(&id))
            })
            .unwrap_or_else(|| panic!("no image:\n{}", ran.stdout));
        let export = env.path("export");
        env.run(&[
            "artifact",
            "export",
            &artifact["id"].to_string(),
            export.to_str().expect("utf-8"),
        ])
        .expect(0);
        let file = export.join(artifact["data"]["filename"].as_str().expect("filename"));
        assert!(file.is_file(), "{}", file.display());
        Image {
            _env: env,
            artifact,
            key,
            file,
            built,
        }
    })
}

/// An Env of its own with the image imported, and a policy for envrun
/// and the formula directives with the qemu backend.
struct Machine {
    env: Env,
    image: u64,
    policy: PathBuf,
}

fn machine_env(extra_policy: &str) -> Machine {
    let shared = image();
    let env = Env::new();
    let ran = env.run(&[
        "artifact",
        "import",
        shared.file.to_str().expect("utf-8"),
        "--category",
        "debian:system-image",
        "--data",
        &shared.artifact["data"].to_string(),
    ]);
    ran.expect(0);
    let image = ran.stdout.trim().parse().expect("artifact id");
    let policy = env.write(
        "policy.toml",
        &format!(
            "[plugins.envrun]\nsha256 = [\"{}\"]\nbackends = [\"qemu\"]\n\
             exec = [{ENVRUN_EXEC}]\n\
             vm-memory = \"768 MiB\"\nvm-cpus = 1\n{extra_policy}",
            taskhost::manifest::digest(&std::fs::read(ENVRUN).expect("envrun plugin")),
        ),
    );
    Machine { env, image, policy }
}

fn envrun(m: &Machine, steps: Value) -> std::process::Command {
    let data = m.env.write(
        "envrun.json",
        &json!({"backend": "qemu", "environment": m.image, "steps": steps}).to_string(),
    );
    m.env.cmd(&[
        "run",
        ENVRUN,
        "--policy",
        m.policy.to_str().expect("utf-8"),
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
        "-v",
    ])
}

/// qemu processes whose command line mentions `dir`.
fn machines_under(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.starts_with("qemu-system") && cmdline.contains(&needle)
        })
        .collect()
}

fn note(report: &Value, i: usize) -> String {
    report["results"][i]["note"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
#[ignore = "slow: builds an image and boots it under qemu"]
fn commands_run_as_root_in_a_machine_of_the_policy_s_size_which_is_gone_afterwards() {
    let m = machine_env("");
    let started = Instant::now();
    let ran = Ran::from(
        envrun(
            &m,
            json!([
                {"run": {"argv": ["cat", "/etc/taskhost-image"]}},
                {"run": {"argv": ["id", "-u"]}},
                {"run": {"argv": ["sh", "-c", "grep MemTotal /proc/meminfo; nproc"]}},
                {"run": {"argv": ["sh", "-c", "systemctl is-system-running --wait"]}},
                {"push": {"content": "from the host\n", "path": "in.txt", "target": "/root/in.txt"}},
                {"run": {"argv": ["sh", "-c", "cat /root/in.txt; echo back > /root/out.txt"]}},
                {"pull": {"source": "/root/out.txt", "path": "out.txt"}},
                {"write": {"content": "in the workspace\n", "path": "ws.txt"}},
                {"run": {"argv": ["cat", "ws.txt"]}},
            ]),
        )
        .output()
        .expect("runtask"),
    );
    let took = started.elapsed();
    ran.expect(0);
    let r = report(&ran);
    assert_eq!(
        note(&r, 0).trim(),
        "built by taskhost's simplesystemimagebuild",
        "{r}"
    );
    assert_eq!(note(&r, 1).trim(), "0", "{r}");
    // vm-memory = 768 MiB, vm-cpus = 1 (the kernel keeps some memory).
    let mem = note(&r, 2);
    let kib: u64 = mem
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{mem}"));
    assert!((500 * 1024..=768 * 1024).contains(&kib), "{mem}");
    assert_eq!(mem.lines().nth(1), Some("1"), "{mem}");
    assert!(
        ["running", "degraded"].contains(&note(&r, 3).trim()),
        "systemd did not finish booting: {r}"
    );
    assert_eq!(note(&r, 5).trim(), "from the host", "{r}");
    assert_eq!(note(&r, 6).trim(), "back", "{r}");
    assert_eq!(note(&r, 8).trim(), "in the workspace", "{r}");
    assert!(
        ran.stderr.contains("machine up in"),
        "the log says how the machine came up:\n{}",
        ran.stderr
    );
    // The machine is gone, and nothing of it is left.
    assert!(
        machines_under(m.env.dir.path()).is_empty(),
        "a qemu process is left"
    );
    eprintln!(
        "qemu: boot and 9 steps in {:.0} s (image built in {:.0} s)",
        took.as_secs_f64(),
        image().built.as_secs_f64()
    );
}

#[test]
#[ignore = "slow: builds an image and boots it under qemu"]
fn killing_runtask_kills_its_machine() {
    let m = machine_env("");
    let mut child = envrun(&m, json!([{"run": {"argv": ["sh", "-c", "sleep 600"]}}]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("runtask");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    while seen.is_empty() {
        assert!(Instant::now() < deadline, "no qemu process appeared");
        assert!(child.try_wait().expect("wait").is_none(), "runtask ended");
        std::thread::sleep(Duration::from_millis(500));
        seen = machines_under(m.env.dir.path());
    }
    std::thread::sleep(Duration::from_secs(3));
    child.kill().expect("SIGKILL runtask");
    child.wait().expect("wait");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !machines_under(m.env.dir.path()).is_empty() {
        assert!(
            Instant::now() < deadline,
            "qemu {seen:?} outlived runtask by 10 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

const MACHINE_YML: &str = "name: machine
desc: runs its shell and python actions in the --libvirt machine
maintainer: taskhost developers
actions:
  - name: shell there
    shell:
      - [sh, -c, 'cat /etc/taskhost-image > made.txt; mkdir -p artifacts']
  - name: python there
    python:
      file: where.py
      callable: run
";

const WHERE_PY: &str = r#"import os, socket


def run():
    with open("made.txt") as f:
        made = f.read().strip()
    with open("artifacts/where.txt", "w") as f:
        f.write("%s\n%s\n%s\n" % (made, os.getuid(), open("/proc/1/comm").read().strip()))
    return "ok"
"#;

#[test]
#[ignore = "slow: builds an image and boots it under qemu"]
fn a_formula_with_libvirt_runs_every_action_in_one_machine_and_no_destroy_keeps_it() {
    let m = machine_env(
        "[plugins.shell]\nbackends = [\"qemu\"]\nexec = [\"sh -c **\"]\n\n\
         [plugins.python]\nbackends = [\"qemu\"]\n\
         exec = [\"python3 .taskhost/python/runner.py where.py run\"]\n",
    );
    let formula = m.env.write("task/runtask.yml", MACHINE_YML);
    m.env.write("task/where.py", WHERE_PY);
    let art = m.env.path("art");
    let image = m.image.to_string();
    let run = |uuid: &str, extra: &[&str]| {
        let mut args = vec![
            "-i",
            "x-1-1.fc99",
            "-t",
            "koji_build",
            "--uuid",
            uuid,
            "--artifactsdir",
            art.to_str().expect("utf-8"),
            "--policy",
            m.policy.to_str().expect("utf-8"),
            "--libvirt",
            "--vm-image",
            &image,
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        args.push(formula.to_str().expect("utf-8"));
        m.env.run(&args)
    };
    let ran = run("u1", &[]);
    ran.expect(0);
    let where_txt = std::fs::read_to_string(art.join("u1/where.txt")).expect("where.txt");
    assert_eq!(
        where_txt, "built by taskhost's simplesystemimagebuild\n0\nsystemd\n",
        "python ran in the machine, as root, and saw the shell action's file"
    );
    let log = std::fs::read_to_string(art.join("u1/runtask.log")).expect("runtask.log");
    assert_eq!(log.matches("machine up in").count(), 1, "one boot:\n{log}");
    assert!(machines_under(m.env.dir.path()).is_empty(), "qemu is left");

    // --no-destroy: the machine stays, and the log says how to reach it.
    let ran = run("u2", &["--no-destroy"]);
    ran.expect(0);
    let log = std::fs::read_to_string(art.join("u2/runtask.log")).expect("runtask.log");
    let line = log
        .lines()
        .find(|l| l.contains("the machine is kept (--no-destroy): "))
        .unwrap_or_else(|| panic!("{log}"));
    let pid_file = line
        .split("kill $(cat ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("{line}"));
    let pid: i32 = std::fs::read_to_string(pid_file)
        .expect("qemu.pid")
        .trim()
        .parse()
        .expect("pid");
    let _kept = Kept(pid, Path::new(pid_file).parent().map(Path::to_path_buf));
    let ssh: Vec<&str> = line
        .split("(--no-destroy): ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(ssh.first(), Some(&"ssh"), "{line}");
    let out = Command::new(ssh[0])
        .args(&ssh[1..])
        .args(["-o", "BatchMode=yes", "cat /etc/taskhost-image"])
        .output()
        .expect("ssh");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("simplesystemimagebuild"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A kept machine (its qemu's pid, its directory), stopped and removed
/// when dropped, also when the test fails.
struct Kept(i32, Option<PathBuf>);

impl Drop for Kept {
    fn drop(&mut self) {
        // SAFETY: kill with a pid read from qemu's pidfile.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
        if let Some(dir) = &self.1 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn the_policy_can_forbid_the_qemu_backend_and_bad_images_are_refused() {
    let env = Env::new();
    let disk = env.write("disk.img", "not a disk");
    let ran = env.run(&[
        "artifact",
        "import",
        disk.to_str().expect("utf-8"),
        "--category",
        "debian:system-image",
        "--data",
        r#"{"filename": "disk.img", "image_format": "qcow2", "architecture": "amd64", "vendor": "debian"}"#,
    ]);
    ran.expect(0);
    let id: u64 = ran.stdout.trim().parse().expect("id");
    let digest = taskhost::manifest::digest(&std::fs::read(ENVRUN).expect("envrun plugin"));
    let data = env.write(
        "envrun.json",
        &json!({"backend": "qemu", "environment": id, "steps": [{"run": {"argv": ["id"]}}]})
            .to_string(),
    );
    let run = |policy: &str| {
        let policy = env.write("policy.toml", policy);
        env.run(&[
            "run",
            ENVRUN,
            "--policy",
            policy.to_str().expect("utf-8"),
            "--data",
            data.to_str().expect("utf-8"),
            "--format",
            "json",
        ])
    };
    // Not granted: refused, naming the grant.
    let ran = run(&format!(
        "[plugins.envrun]\nsha256 = [\"{digest}\"]\nbackends = [\"local\"]\nexec = [{ENVRUN_EXEC}]\n"
    ));
    assert_ne!(ran.code, 0, "{}", ran.stdout);
    let all = format!("{}{}", ran.stdout, ran.stderr);
    assert!(all.contains("backends = [\"qemu\"]"), "{all}");
    // Granted, but the file is no qcow2: refused before qemu starts.
    let ran = run(&format!(
        "[plugins.envrun]\nsha256 = [\"{digest}\"]\nbackends = [\"qemu\"]\nexec = [{ENVRUN_EXEC}]\n"
    ));
    let all = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        all.contains("image_format says qcow2 but disk.img is raw"),
        "{all}"
    );
    // A policy cannot give a machine less than 256 MiB or 0 CPUs.
    for (key, why) in [
        ("vm-memory = \"64 MiB\"", "invalid `vm-memory`"),
        ("vm-cpus = 0", "invalid `vm-cpus`"),
    ] {
        let ran = run(&format!(
            "[plugins.envrun]\nsha256 = [\"{digest}\"]\nbackends = [\"qemu\"]\nexec = [{ENVRUN_EXEC}]\n{key}\n"
        ));
        ran.expect(2);
        assert!(ran.stderr.contains(why), "{key}: {}", ran.stderr);
    }
}
