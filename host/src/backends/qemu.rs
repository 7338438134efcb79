//! The `qemu` backend (libtaskotron's `runtask --libvirt`): each
//! environment is a disposable virtual machine booted from a
//! `debian:system-image` artifact; commands run in it as root through the
//! [`ssh`](super::ssh) backend.
//!
//! - The image is never written: the machine runs on a qcow2 overlay
//!   (`qemu-img create -b IMAGE`) with its own copy of the UEFI variables,
//!   in the run's scratch directory.
//! - Every machine gets a fresh ed25519 client key and host key, handed to
//!   it as an SMBIOS type 11 systemd credential (`tmpfiles.extra`): root's
//!   authorized_keys gets the client key and sshd the host key. The host
//!   key is thus known before the first connection; nothing is trusted on
//!   first use.
//! - KVM is used when `/dev/kvm` opens and a guest boots under it; a guest
//!   that does not answer within [`KVM_PROBE`] is stopped and booted again
//!   under TCG, and that verdict is kept in the cache directory for this
//!   kernel and qemu (delete `qemu-accel` there to try KVM again).
//!   [`ACCEL_ENV`] (`kvm` or `tcg`) forces one.
//! - The guest's port 22 is forwarded to a loopback port. User-mode
//!   networking gives the guest the host's network, so apt in it reaches
//!   the host's mirror (and the guest can reach the host's loopback
//!   services at 10.0.2.2).
//! - qemu dies with runtask (`PR_SET_PDEATHSIG`); closing or dropping the
//!   session kills it and removes its files, unless the run keeps its
//!   machines (`--no-destroy`): then the log says how to reach one and
//!   stop it.
//! - Memory and CPUs are the policy's `vm-memory` and `vm-cpus`.

use super::{BackendError, BoxFuture, CommandFuture, OpenRequest, PATH, ProcessSpec, ssh};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The `qemu` backend.
pub struct Qemu;

/// How long a guest under KVM gets to answer on ssh before KVM is judged
/// not to work on this host.
pub const KVM_PROBE: Duration = Duration::from_secs(60);
/// `kvm` or `tcg` forces that accelerator; unset or `auto` probes.
pub const ACCEL_ENV: &str = "TASKHOST_QEMU_ACCEL";
/// How many times a guest whose kernel panicked is booted again.
const PANIC_RETRIES: u32 = 2;
/// A machine's memory when the policy sets no `vm-memory`.
pub const DEFAULT_MEMORY: u64 = 1 << 30;
/// A machine's CPUs when the policy sets no `vm-cpus`.
pub const DEFAULT_CPUS: u32 = 2;
/// Where the verdict on KVM is kept, in the cache directory.
const VERDICT_FILE: &str = "qemu-accel";

/// What a machine is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub memory: u64,
    pub cpus: u32,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            memory: DEFAULT_MEMORY,
            cpus: DEFAULT_CPUS,
        }
    }
}

impl super::Backend for Qemu {
    fn name(&self) -> &'static str {
        "qemu"
    }

    fn isolation(&self) -> super::Isolation {
        super::Isolation::Machine
    }

    fn environments(&self) -> &'static [&'static str] {
        &["debian:system-image"]
    }

    fn check_available(&self) -> Result<(), BackendError> {
        for (program, package) in [("qemu-img", "qemu-utils"), ("ssh-keygen", "openssh-client")] {
            if which(program).is_none() {
                return Err(unavailable(format!(
                    "{program} is not installed; install it with `apt-get install {package}`"
                )));
            }
        }
        ssh::check_available().map_err(|e| match e {
            BackendError::Unavailable { why, .. } => unavailable(why),
            other => other,
        })
    }

    fn open<'a>(
        &'a self,
        request: OpenRequest<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn super::EnvironmentSession>, BackendError>> {
        Box::pin(async move {
            let session = open_session(request).await?;
            Ok(Box::new(session) as Box<dyn super::EnvironmentSession>)
        })
    }
}

fn unavailable(why: impl Into<String>) -> BackendError {
    BackendError::Unavailable {
        backend: "qemu",
        why: why.into(),
    }
}

fn which(program: &str) -> Option<PathBuf> {
    PATH.split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// How qemu emulates one Debian architecture.
struct Platform {
    system: &'static str,
    package: &'static str,
    machine: &'static str,
    /// UEFI firmware (code, variables template) pairs, best first.
    firmware: &'static [(&'static str, &'static str)],
    firmware_package: &'static str,
    /// `-cpu` under TCG (KVM always takes `host`).
    tcg_cpu: &'static str,
}

fn platform(arch: &str) -> Option<Platform> {
    match arch {
        "amd64" => Some(Platform {
            system: "qemu-system-x86_64",
            package: "qemu-system-x86",
            machine: "q35",
            firmware: &[
                (
                    "/usr/share/OVMF/OVMF_CODE.fd",
                    "/usr/share/OVMF/OVMF_VARS.fd",
                ),
                (
                    "/usr/share/OVMF/OVMF_CODE_4M.fd",
                    "/usr/share/OVMF/OVMF_VARS_4M.fd",
                ),
            ],
            firmware_package: "ovmf",
            tcg_cpu: "qemu64",
        }),
        "arm64" => Some(Platform {
            system: "qemu-system-aarch64",
            package: "qemu-system-arm",
            machine: "virt",
            firmware: &[(
                "/usr/share/AAVMF/AAVMF_CODE.fd",
                "/usr/share/AAVMF/AAVMF_VARS.fd",
            )],
            firmware_package: "qemu-efi-aarch64",
            tcg_cpu: "max",
        }),
        _ => None,
    }
}

/// The accelerator a machine runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// What the image artifact says, checked.
#[derive(Clone)]
struct ImageFacts {
    path: PathBuf,
    format: &'static str,
    arch: String,
}

fn image_facts(image: &super::Image) -> Result<ImageFacts, BackendError> {
    let bad =
        |why: String| BackendError::Failed(format!("environment artifact {}: {why}", image.id));
    let format = match image.data.get("image_format").and_then(|f| f.as_str()) {
        Some("qcow2") => "qcow2",
        Some("raw") => "raw",
        Some(other) => {
            return Err(bad(format!(
                "image_format '{other}' is not one qemu boots here (raw or qcow2)"
            )));
        }
        None => sniff_format(&image.path).map_err(|e| bad(format!("reading the image: {e}")))?,
    };
    // The file must be what the artifact says: a qcow2 header in a "raw"
    // image would let the guest name a backing file on the host.
    let sniffed = sniff_format(&image.path).map_err(|e| bad(format!("reading the image: {e}")))?;
    if sniffed != format {
        return Err(bad(format!(
            "image_format says {format} but {} is {sniffed}",
            image.file_name
        )));
    }
    let arch = match image.data.get("architecture").and_then(|a| a.as_str()) {
        Some(a) => a.to_owned(),
        None => std::env::consts::ARCH
            .replace("x86_64", "amd64")
            .replace("aarch64", "arm64"),
    };
    Ok(ImageFacts {
        path: image.path.clone(),
        format,
        arch,
    })
}

/// `qcow2` when the file starts with qcow2's magic, else `raw`.
fn sniff_format(path: &Path) -> std::io::Result<&'static str> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path)?;
    let n = file.read(&mut magic)?;
    Ok(if n == 4 && magic == *b"QFI\xfb" {
        "qcow2"
    } else {
        "raw"
    })
}

/// A running machine. Dropping it kills qemu and removes its files,
/// unless it is kept.
struct Vm {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    accel: Accel,
    keep: bool,
}

impl Vm {
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last lines of the guest's serial console.
    fn serial_tail(&self) -> String {
        tail(&self.dir.join("serial.log"), 25)
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
    let all: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A booted machine: qemu, and the key and host key that reach it over
/// ssh. Environments share it (a formula under `--libvirt` boots one for
/// all its actions); it is destroyed when the last holder drops it,
/// unless kept.
pub struct Machine {
    vm: Vm,
    remote: ssh::Remote,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("qemu::Machine")
            .field("dir", &self.vm.dir)
            .field("port", &self.vm.port)
            .field("accel", &self.vm.accel)
            .field("kept", &self.vm.keep)
            .finish()
    }
}

impl Machine {
    /// The loopback port of its sshd.
    pub fn port(&self) -> u16 {
        self.vm.port
    }

    /// qemu's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.vm.child.as_ref().map(Child::id)
    }
}

/// What booting a machine takes.
pub struct BootRequest<'a> {
    pub image: &'a super::Image,
    /// A new directory for the machine's files (overlay, keys, logs);
    /// ignored when the machine is kept, which gets one in TMPDIR.
    pub dir: PathBuf,
    pub shape: Shape,
    pub keep: bool,
    /// Where the verdict on KVM is kept.
    pub cache_dir: &'a Path,
    pub deadline: Instant,
    pub log: &'a crate::runlog::RunLog,
    pub progress: &'a crate::progress::Progress,
}

/// An environment of the `qemu` backend: an ssh session into a machine.
pub struct Session {
    ssh: Option<ssh::Session>,
    machine: std::sync::Arc<Machine>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("qemu::Session")
            .field("machine", &self.machine)
            .field("ssh", &self.ssh)
            .finish()
    }
}

impl Session {
    fn ssh(&self) -> std::io::Result<&ssh::Session> {
        self.ssh
            .as_ref()
            .ok_or_else(|| std::io::Error::other("the machine is closed"))
    }
}

impl super::EnvironmentSession for Session {
    fn shares_workspace(&self) -> bool {
        false
    }

    fn command(&self, spec: ProcessSpec, as_root: bool) -> std::io::Result<CommandFuture> {
        super::EnvironmentSession::command(self.ssh()?, spec, as_root)
    }

    fn push(&self, spec: ProcessSpec, target: &str) -> std::io::Result<CommandFuture> {
        super::EnvironmentSession::push(self.ssh()?, spec, target)
    }

    fn pull(&self, spec: ProcessSpec, source: &str) -> std::io::Result<CommandFuture> {
        super::EnvironmentSession::pull(self.ssh()?, spec, source)
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, Result<(), BackendError>> {
        let ssh = self.ssh.take();
        // The machine goes with this session: no need to tidy it first.
        let last = std::sync::Arc::strong_count(&self.machine) == 1 && !self.machine.vm.keep;
        Box::pin(async move {
            let closed = match ssh {
                Some(ssh) if last => {
                    ssh.abandon();
                    Ok(())
                }
                Some(ssh) => Box::new(ssh).close().await,
                None => Ok(()),
            };
            drop(self);
            closed
        })
    }
}

/// Connects to the request's machine, or boots one from its image.
async fn open_session(request: OpenRequest<'_>) -> Result<Session, BackendError> {
    let machine = match request.machine.clone() {
        Some(machine) => machine,
        None => {
            let image = request.image.as_ref().ok_or_else(|| {
                BackendError::Failed("the qemu backend needs a debian:system-image artifact".into())
            })?;
            std::sync::Arc::new(
                boot(BootRequest {
                    image,
                    dir: request.scratch.join("vm"),
                    shape: request.shape,
                    keep: request.keep_machine,
                    cache_dir: request.cache_dir,
                    deadline: request.deadline,
                    log: request.log,
                    progress: request.progress,
                })
                .await?,
            )
        }
    };
    let ssh_session = ssh::open_session(OpenRequest {
        remote: Some(&machine.remote),
        ..request
    })
    .await?;
    let session = Session {
        ssh: Some(ssh_session),
        machine,
    };
    install_packages(&session, request.packages, request.deadline, request.log).await?;
    Ok(session)
}

/// Boots a machine from `request.image` and waits until its sshd answers.
pub async fn boot(request: BootRequest<'_>) -> Result<Machine, BackendError> {
    let image = request.image;
    let facts = image_facts(image)?;
    let platform = platform(&facts.arch).ok_or_else(|| {
        unavailable(format!(
            "no qemu machine is known for architecture '{}' (amd64 or arm64)",
            facts.arch
        ))
    })?;
    if which(platform.system).is_none() {
        return Err(unavailable(format!(
            "{} is not installed; install it with `apt-get install {}`",
            platform.system, platform.package
        )));
    }
    let (code, vars) = platform
        .firmware
        .iter()
        .find(|(code, vars)| Path::new(code).is_file() && Path::new(vars).is_file())
        .ok_or_else(|| {
            unavailable(format!(
                "no UEFI firmware for {} ({}); install it with `apt-get install {}`",
                facts.arch, platform.firmware[0].0, platform.firmware_package
            ))
        })?;
    let started = Instant::now();
    let keep = request.keep;
    let dir = if keep {
        tempfile::Builder::new()
            .prefix("taskhost-vm-")
            .tempdir()
            .map(|d| d.keep())
    } else {
        std::fs::create_dir_all(&request.dir).map(|()| request.dir.clone())
    }
    .map_err(|e| BackendError::Failed(format!("creating the machine's directory: {e}")))?;
    let failed = |what: &str, e: std::io::Error| BackendError::Failed(format!("{what}: {e}"));

    let step = request.progress.spinner("preparing the machine");
    let prepared = || {
        let (dir, facts, vars) = (dir.clone(), facts.clone(), *vars);
        blocking(move || prepare(&dir, &facts, vars))
    };
    prepared()
        .await
        .map_err(|e| failed("preparing the machine", e))?;
    let credential = {
        let dir = dir.clone();
        blocking(move || credential(&dir))
            .await
            .map_err(|e| failed("making the machine's keys", e))?
    };
    drop(step);

    let verdict_key = verdict_key(platform.system);
    let verdict_path = request.cache_dir.join(VERDICT_FILE);
    let mut accel = choose_accel(&verdict_path, &verdict_key);
    let mut vm;
    let mut panics = 0;
    loop {
        let step = request.progress.spinner(&format!(
            "booting {} under {}",
            image.file_name,
            accel.name().to_uppercase()
        ));
        vm = start(
            &dir,
            &platform,
            code,
            request.shape,
            accel,
            &credential,
            keep,
        )?;
        let limit = match accel {
            Accel::Kvm => KVM_PROBE,
            Accel::Tcg => Duration::MAX,
        };
        let left = request.deadline.saturating_duration_since(Instant::now());
        let answered = wait_for_sshd(&mut vm, limit.min(left)).await;
        drop(step);
        match answered {
            Ok(()) => break,
            Err(Waited::Panicked(line)) if panics < PANIC_RETRIES => {
                panics += 1;
                vm.kill();
                vm.keep = true;
                request.log.warn(
                    "process",
                    &format!(
                        "the machine's kernel panicked ({line}); booting it again (the image's \
                         kernel command line may want no_timer_check on a slow host)"
                    ),
                );
                prepared()
                    .await
                    .map_err(|e| failed("preparing the machine", e))?;
            }
            Err(waited @ (Waited::TimedOut | Waited::Ended(_)))
                if accel == Accel::Kvm && Instant::now() < request.deadline =>
            {
                vm.kill();
                // Its directory (the keys) serves the next boot.
                vm.keep = true;
                let why = match waited {
                    Waited::Ended(why) => format!("failed ({why})"),
                    _ => format!("did not answer within {}s", KVM_PROBE.as_secs()),
                };
                request.log.warn(
                    "process",
                    &format!(
                        "the machine {why} under KVM: booting it again under TCG, and from now \
                         on on this host (delete {} to try KVM again)",
                        verdict_path.display()
                    ),
                );
                if let Err(e) = std::fs::create_dir_all(request.cache_dir)
                    .and_then(|()| std::fs::write(&verdict_path, format!("tcg {verdict_key}\n")))
                {
                    request.log.warn(
                        "process",
                        &format!("keeping the verdict in {}: {e}", verdict_path.display()),
                    );
                }
                // A fresh overlay and variables: the hung guest may have
                // written to them.
                prepared()
                    .await
                    .map_err(|e| failed("preparing the machine", e))?;
                accel = Accel::Tcg;
            }
            Err(Waited::TimedOut) => {
                vm.kill();
                let serial = vm.serial_tail();
                return Err(BackendError::Failed(format!(
                    "the machine did not answer on ssh before the run's deadline ({:.0}s after \
                     boot, {}); the end of its serial console:\n{serial}",
                    started.elapsed().as_secs_f64(),
                    accel.name()
                )));
            }
            Err(Waited::Panicked(line)) => {
                vm.kill();
                let serial = vm.serial_tail();
                return Err(BackendError::Failed(format!(
                    "the machine's kernel panicked {} times: {line}; the end of its serial \
                     console:\n{serial}",
                    panics + 1
                )));
            }
            Err(Waited::Ended(why)) => {
                vm.kill();
                let serial = vm.serial_tail();
                return Err(BackendError::Failed(format!(
                    "qemu ended while booting the machine: {why}; the end of its serial \
                     console:\n{serial}"
                )));
            }
        }
    }
    let booted = started.elapsed();
    let remote = ssh::Remote {
        target: ssh::Target::parse(&format!("root@127.0.0.1:{}", vm.port))
            .map_err(|e| BackendError::Failed(e.to_string()))?,
        key: Some(dir.join("id_ed25519")),
        known_hosts: ssh::KnownHosts::Given(dir.join("known_hosts")),
    };
    request.log.info(
        "process",
        &format!(
            "machine up in {:.1}s ({}, {} MiB, {} CPUs, ssh on 127.0.0.1:{})",
            booted.as_secs_f64(),
            accel.name(),
            request.shape.memory >> 20,
            request.shape.cpus,
            vm.port
        ),
    );
    if keep {
        request.log.info(
            "process",
            &format!(
                "the machine is kept (--no-destroy): ssh -F /dev/null -i {key} -o \
                 UserKnownHostsFile={known} -p {port} root@127.0.0.1; stop it with \
                 `kill $(cat {pid})` and remove {dir}",
                key = dir.join("id_ed25519").display(),
                known = dir.join("known_hosts").display(),
                port = vm.port,
                pid = dir.join("qemu.pid").display(),
                dir = dir.display(),
            ),
        );
    }
    Ok(Machine { vm, remote })
}

/// Runs `f` (qemu-img, ssh-keygen, file copies) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

/// The overlay on the image and a copy of the firmware's variables.
fn prepare(dir: &Path, facts: &ImageFacts, vars: &str) -> std::io::Result<()> {
    let overlay = dir.join("disk.qcow2");
    let _ = std::fs::remove_file(&overlay);
    let backing = std::path::absolute(&facts.path)?;
    let out = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", facts.format, "-b"])
        .arg(&backing)
        .arg(&overlay)
        .env_clear()
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "qemu-img create: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    std::fs::copy(vars, dir.join("efivars.fd"))?;
    Ok(())
}

/// The machine's credential: a base64 `tmpfiles.extra` that installs the
/// client's public key for root and the host key for sshd. Writes
/// `known_hosts` lines for the host key (the port is added at boot).
fn credential(dir: &Path) -> std::io::Result<String> {
    for (file, comment) in [
        ("id_ed25519", "taskhost-client"),
        ("host_ed25519", "taskhost-vm"),
    ] {
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(dir.join(file))
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "ssh-keygen: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    let client = one_line(&std::fs::read_to_string(dir.join("id_ed25519.pub"))?)?;
    let host_private = std::fs::read_to_string(dir.join("host_ed25519"))?;
    let host_public = one_line(&std::fs::read_to_string(dir.join("host_ed25519.pub"))?)?;
    Ok(base64_encode(
        tmpfiles(&client, &host_private, &host_public)?.as_bytes(),
    ))
}

fn one_line(text: &str) -> std::io::Result<String> {
    let line = text.trim();
    if line.is_empty() || line.contains(['\n', '\\', '%']) {
        return Err(std::io::Error::other("ssh-keygen wrote an unexpected key"));
    }
    Ok(line.to_owned())
}

/// tmpfiles.d lines: root's authorized_keys gains `client`; sshd's
/// ed25519 host key becomes the given one. Newlines in arguments are
/// written as `\n`, which tmpfiles unescapes.
fn tmpfiles(client: &str, host_private: &str, host_public: &str) -> std::io::Result<String> {
    if host_private.contains(['\\', '%']) {
        return Err(std::io::Error::other("ssh-keygen wrote an unexpected key"));
    }
    let private = host_private.trim_end().replace('\n', "\\n");
    Ok(format!(
        "d /root/.ssh 0700 root root -\n\
         f /root/.ssh/authorized_keys 0600 root root -\n\
         w+ /root/.ssh/authorized_keys - - - - {client}\\n\n\
         f+ /etc/ssh/ssh_host_ed25519_key 0600 root root - {private}\\n\n\
         f+ /etc/ssh/ssh_host_ed25519_key.pub 0644 root root - {host_public}\\n\n"
    ))
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A string naming this kernel and this qemu, so a verdict on KVM is
/// not carried over an upgrade of either.
fn verdict_key(system: &str) -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let qemu = which(system)
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{} {system}@{qemu}", kernel.trim())
}

/// KVM if forced, or if /dev/kvm opens and no verdict says it hangs.
fn choose_accel(verdict: &Path, key: &str) -> Accel {
    match std::env::var(ACCEL_ENV).as_deref() {
        Ok("tcg") => return Accel::Tcg,
        Ok("kvm") => return Accel::Kvm,
        _ => {}
    }
    let kvm_opens = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    let said_tcg =
        std::fs::read_to_string(verdict).is_ok_and(|v| v.trim().strip_prefix("tcg ") == Some(key));
    if kvm_opens && !said_tcg {
        Accel::Kvm
    } else {
        Accel::Tcg
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Starts qemu on the overlay in `dir`; writes known_hosts for its port.
fn start(
    dir: &Path,
    platform: &Platform,
    code: &str,
    shape: Shape,
    accel: Accel,
    credential: &str,
    keep: bool,
) -> Result<Vm, BackendError> {
    let failed = |what: &str, e: std::io::Error| BackendError::Failed(format!("{what}: {e}"));
    let port = free_port().map_err(|e| failed("finding a free loopback port", e))?;
    let host_public = std::fs::read_to_string(dir.join("host_ed25519.pub"))
        .map_err(|e| failed("reading the machine's host key", e))?;
    std::fs::write(
        dir.join("known_hosts"),
        format!("[127.0.0.1]:{port} {}\n", host_public.trim()),
    )
    .map_err(|e| failed("writing known_hosts", e))?;
    let log = std::fs::File::create(dir.join("qemu.log"))
        .map_err(|e| failed("creating qemu's log", e))?;
    let path = |name: &str| dir.join(name).display().to_string();
    let mut cmd = std::process::Command::new(platform.system);
    cmd.args(["-machine", platform.machine, "-accel", accel.name()])
        .args([
            "-cpu",
            match accel {
                Accel::Kvm => "host",
                Accel::Tcg => platform.tcg_cpu,
            },
        ])
        .args(["-m", &format!("{}M", (shape.memory >> 20).max(256))])
        .args(["-smp", &shape.cpus.max(1).to_string()])
        .args(["-nodefaults", "-display", "none", "-monitor", "none"])
        .args(["-serial", &format!("file:{}", path("serial.log"))])
        .args(["-pidfile", &path("qemu.pid")])
        .args([
            "-drive",
            &format!("if=pflash,format=raw,unit=0,readonly=on,file={code}"),
        ])
        .args([
            "-drive",
            &format!("if=pflash,format=raw,unit=1,file={}", path("efivars.fd")),
        ])
        .args([
            "-drive",
            &format!(
                "file={},format=qcow2,if=virtio,cache=unsafe,discard=unmap",
                path("disk.qcow2")
            ),
        ])
        .args([
            "-netdev",
            &format!("user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22"),
        ])
        .args(["-device", "virtio-net-pci,netdev=n0"])
        .args(["-device", "virtio-rng-pci"])
        .args([
            "-smbios",
            &format!("type=11,value=io.systemd.credential.binary:tmpfiles.extra={credential}"),
        ])
        .env_clear()
        .env("PATH", PATH)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| failed("qemu's log", e))?)
        .stderr(log);
    if keep {
        // It outlives runtask: a session of its own, no death signal.
        cmd.process_group(0);
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
    } else {
        // SAFETY: getpid is async-signal-safe.
        let parent = unsafe { libc::getpid() };
        // The machine ends with runtask, even if runtask is killed.
        // SAFETY: only prctl, getppid and kill, async-signal-safe, run
        // between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::kill(libc::getpid(), libc::SIGKILL);
                }
                Ok(())
            });
        }
        cmd.process_group(0);
    }
    let child = cmd
        .spawn()
        .map_err(|e| failed(&format!("starting {}", platform.system), e))?;
    Ok(Vm {
        child: Some(child),
        dir: dir.to_path_buf(),
        port,
        accel,
        keep,
    })
}

enum Waited {
    TimedOut,
    Ended(String),
    /// The guest's kernel panicked: the line that says so.
    Panicked(String),
}

/// The kernel panic the serial console shows, if any.
fn panicked(serial: &Path) -> Option<String> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(serial).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(16 << 10)))
        .ok()?;
    let mut end = Vec::new();
    file.read_to_end(&mut end).ok()?;
    String::from_utf8_lossy(&end)
        .lines()
        .find(|l| l.contains("Kernel panic - not syncing"))
        .map(|l| l.trim().to_owned())
}

/// Waits until sshd in the guest sends its banner on the forwarded port.
/// (qemu accepts connections on it before the guest listens, and then
/// closes them.)
async fn wait_for_sshd(vm: &mut Vm, limit: Duration) -> Result<(), Waited> {
    let started = Instant::now();
    loop {
        if let Some(child) = vm.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            let log = tail(&vm.dir.join("qemu.log"), 5);
            return Err(Waited::Ended(format!("{status}: {log}")));
        }
        let port = vm.port;
        let banner = tokio::task::spawn_blocking(move || ssh_banner(port))
            .await
            .unwrap_or(false);
        if banner {
            return Ok(());
        }
        if let Some(line) = panicked(&vm.dir.join("serial.log")) {
            return Err(Waited::Panicked(line));
        }
        if started.elapsed() >= limit {
            return Err(Waited::TimedOut);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Whether an ssh server answers on the loopback port.
fn ssh_banner(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let mut banner = [0u8; 8];
    let mut got = 0;
    while got < banner.len() {
        match stream.read(&mut banner[got..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    let _ = stream.write_all(b"");
    &banner == b"SSH-2.0-"
}

/// Installs the plugin's declared packages that the machine lacks.
async fn install_packages(
    session: &Session,
    packages: &[String],
    deadline: Instant,
    log: &crate::runlog::RunLog,
) -> Result<(), BackendError> {
    if packages.is_empty() {
        return Ok(());
    }
    let ssh = session
        .ssh()
        .map_err(|e| BackendError::Failed(e.to_string()))?;
    let limit = deadline.saturating_duration_since(Instant::now());
    let names: Vec<String> = packages.iter().map(|p| ssh::quote(p)).collect();
    let query = format!(
        "for p in {}; do dpkg-query -W -f='${{db:Status-Status}}\\n' \"$p\" 2>/dev/null | grep -qx installed || echo \"$p\"; done",
        names.join(" ")
    );
    let missing: Vec<String> = ssh
        .script(&query, limit)
        .await
        .map_err(|e| BackendError::Failed(format!("checking the machine's packages: {e}")))?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    log.info(
        "process",
        &format!("installing in the machine: {}", missing.join(" ")),
    );
    let quoted: Vec<String> = missing.iter().map(|p| ssh::quote(p)).collect();
    let install = format!(
        "export DEBIAN_FRONTEND=noninteractive; l=$(mktemp) || exit 1; \
         if ! {{ apt-get update -q && apt-get install -y -q --no-install-recommends {}; }} \
         > \"$l\" 2>&1; then tail -n 20 \"$l\" >&2; rm -f \"$l\"; exit 1; fi; rm -f \"$l\"",
        quoted.join(" ")
    );
    ssh.script(&install, limit).await.map(drop).map_err(|e| {
        BackendError::Failed(format!(
            "installing {} in the machine: {e}",
            missing.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_holds_the_keys_as_tmpfiles_lines() {
        let lines = tmpfiles(
            "ssh-ed25519 AAAAclient taskhost-client",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\nbm==\n-----END OPENSSH PRIVATE KEY-----\n",
            "ssh-ed25519 AAAAhost taskhost-vm",
        )
        .unwrap();
        let lines: Vec<&str> = lines.lines().collect();
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert_eq!(
            lines[2],
            "w+ /root/.ssh/authorized_keys - - - - ssh-ed25519 AAAAclient taskhost-client\\n"
        );
        assert_eq!(
            lines[3],
            "f+ /etc/ssh/ssh_host_ed25519_key 0600 root root - -----BEGIN OPENSSH PRIVATE \
             KEY-----\\nb3Bl\\nbm==\\n-----END OPENSSH PRIVATE KEY-----\\n"
        );
        assert!(tmpfiles("k", "a\\nb", "h").is_err());
        assert!(tmpfiles("k", "100%", "h").is_err());
        assert!(one_line("ssh-ed25519 A\nssh-rsa B").is_err());
    }

    #[test]
    fn a_raw_image_with_a_qcow2_header_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("disk.img");
        std::fs::write(&file, b"QFI\xfb\0\0\0\x03rest").unwrap();
        let image = |format: &str| super::super::Image {
            id: 7,
            category: "debian:system-image".into(),
            file_name: "disk.img".into(),
            path: file.clone(),
            sha256: String::new(),
            data: serde_json::json!({"image_format": format, "architecture": "amd64"}),
        };
        let err = image_facts(&image("raw")).err().unwrap().to_string();
        assert!(
            err.contains("image_format says raw but disk.img is qcow2"),
            "{err}"
        );
        assert_eq!(image_facts(&image("qcow2")).unwrap().format, "qcow2");
        let err = image_facts(&image("vmdk")).err().unwrap().to_string();
        assert!(err.contains("'vmdk' is not one qemu boots"), "{err}");
        std::fs::write(&file, b"\0\0\0\0").unwrap();
        assert_eq!(image_facts(&image("raw")).unwrap().format, "raw");
    }

    #[test]
    fn a_kvm_verdict_holds_only_for_its_kernel_and_qemu() {
        let dir = tempfile::tempdir().unwrap();
        let verdict = dir.path().join(VERDICT_FILE);
        std::fs::write(&verdict, "tcg 6.1.0 qemu@1\n").unwrap();
        // Without /dev/kvm it is TCG anyway; with it, only a matching key
        // says TCG.
        assert_eq!(choose_accel(&verdict, "6.1.0 qemu@1"), Accel::Tcg);
        let kvm = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        if kvm && std::env::var_os(ACCEL_ENV).is_none() {
            assert_eq!(choose_accel(&verdict, "6.1.0 qemu@2"), Accel::Kvm);
        }
    }

    #[test]
    fn a_kernel_panic_on_the_serial_console_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let serial = dir.path().join("serial.log");
        assert_eq!(panicked(&serial), None);
        std::fs::write(&serial, "x".repeat(40_000) + "\n[    0.01] Booting\n").unwrap();
        assert_eq!(panicked(&serial), None);
        let mut text = std::fs::read_to_string(&serial).unwrap();
        text.push_str(
            "[    0.012000] Kernel panic - not syncing: IO-APIC + timer doesn't work!\r\n",
        );
        std::fs::write(&serial, text).unwrap();
        assert_eq!(
            panicked(&serial).as_deref(),
            Some("[    0.012000] Kernel panic - not syncing: IO-APIC + timer doesn't work!")
        );
    }

    #[test]
    fn unknown_architectures_have_no_machine() {
        assert!(platform("amd64").is_some());
        assert!(platform("arm64").is_some());
        assert!(platform("s390x").is_none());
    }
}
