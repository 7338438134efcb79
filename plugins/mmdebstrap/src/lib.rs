//! mmdebstrap: bootstraps a Debian system into a `debian:system-tarball`.
//!
//! Follows debusine's Mmdebstrap task, which implements the SystemBootstrap
//! interface: the repositories become a deb822 sources file that mmdebstrap
//! takes as its mirror, `bootstrap_options` become command line options,
//! and fixed customize hooks put the sources (and keyrings) into the
//! chroot, run the customization script, clean up host files and copy out
//! what the artifact describes: `/etc/os-release`, the dpkg status and
//! whether `/sbin/init` exists.
//!
//! No value from task_data ever goes into a hook: hooks are fixed strings
//! naming fixed workspace files, and user content (the sources, the
//! keyrings, the script) reaches the chroot through mmdebstrap's `upload`
//! special hook.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use taskhost_sdk::artifacts::NewArtifact;
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{Command, Environment, Error, Outcome, Result, Status, Task, http, log};

// ---- task_data --------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Data {
    pub bootstrap_options: BootstrapOptions,
    pub bootstrap_repositories: Vec<Repository>,
    pub customization_script: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct BootstrapOptions {
    pub architecture: String,
    pub variant: Option<Variant>,
    #[serde(default)]
    pub extra_packages: Vec<String>,
    /// Give external keyrings to apt with `Signed-By` (true) or with
    /// mmdebstrap's `--keyring` (false).
    #[serde(default = "yes")]
    pub use_signed_by: bool,
}

fn yes() -> bool {
    true
}

/// mmdebstrap's variants (`-` is its name for debootstrap's default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    Extract,
    Custom,
    Essential,
    Apt,
    Required,
    Minbase,
    Buildd,
    Important,
    Debootstrap,
    #[serde(rename = "-")]
    Dash,
    Standard,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Extract => "extract",
            Variant::Custom => "custom",
            Variant::Essential => "essential",
            Variant::Apt => "apt",
            Variant::Required => "required",
            Variant::Minbase => "minbase",
            Variant::Buildd => "buildd",
            Variant::Important => "important",
            Variant::Debootstrap => "debootstrap",
            Variant::Dash => "-",
            Variant::Standard => "standard",
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Repository {
    #[serde(default = "deb_only")]
    pub types: Vec<SourceType>,
    pub mirror: String,
    pub suite: String,
    /// `None`: every component the suite's Release file lists.
    pub components: Option<Vec<String>>,
    #[serde(default)]
    pub check_signature_with: CheckSignatureWith,
    pub keyring_package: Option<String>,
    pub keyring: Option<Keyring>,
}

fn deb_only() -> Vec<SourceType> {
    vec![SourceType::Deb]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum SourceType {
    #[serde(rename = "deb")]
    Deb,
    #[serde(rename = "deb-src")]
    DebSrc,
}

impl SourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Deb => "deb",
            SourceType::DebSrc => "deb-src",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckSignatureWith {
    /// The keyrings apt trusts on the host.
    #[default]
    System,
    /// The repository's `keyring`.
    External,
    /// No check: the repository gets `Trusted: yes`.
    NoCheck,
}

#[derive(Debug, Deserialize)]
pub struct Keyring {
    /// http(s) URL, or a file:// URL under /usr/share/keyrings/ or
    /// /usr/local/share/keyrings/.
    pub url: String,
    /// Hex SHA-256 the keyring must have (debusine writes "" for none).
    pub sha256sum: Option<String>,
    /// Install the keyring in the system and use it there.
    #[serde(default)]
    pub install: bool,
}

impl Keyring {
    pub fn sha256(&self) -> Option<&str> {
        self.sha256sum.as_deref().filter(|s| !s.is_empty())
    }
}

impl Repository {
    /// The keyring used to check this repository: only with
    /// `check_signature_with: external`.
    pub fn external_keyring(&self) -> Option<&Keyring> {
        match self.check_signature_with {
            CheckSignatureWith::External => self.keyring.as_ref(),
            _ => None,
        }
    }
}

// ---- validation -------------------------------------------------------

/// Directories file:// keyrings may come from (debusine's rule).
pub const KEYRING_DIRS: &[&str] = &["/usr/share/keyrings/", "/usr/local/share/keyrings/"];

fn invalid(message: String) -> Error {
    Error::invalid(message)
}

/// Checks what the model's types cannot: value syntax and combinations.
pub fn validate(data: &Data) -> Result<()> {
    let options = &data.bootstrap_options;
    check_architecture(&options.architecture)?;
    for (i, p) in options.extra_packages.iter().enumerate() {
        check_package(&format!("bootstrap_options.extra_packages[{i}]"), p)?;
    }
    if data.bootstrap_repositories.is_empty() {
        return Err(invalid(
            "bootstrap_repositories: give at least one repository".into(),
        ));
    }
    for (i, repo) in data.bootstrap_repositories.iter().enumerate() {
        check_repository(&format!("bootstrap_repositories[{i}]"), repo)?;
    }
    if data.customization_script.is_some() && options.variant == Some(Variant::Extract) {
        return Err(invalid(
            "customization_script: the extract variant only unpacks packages, so nothing can \
             run inside the system; use another variant"
                .into(),
        ));
    }
    Ok(())
}

pub fn check_architecture(arch: &str) -> Result<()> {
    let ok = !arch.is_empty()
        && arch.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && arch
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "bootstrap_options.architecture: '{arch}' is not a Debian architecture name (e.g. amd64)"
        )))
    }
}

/// An apt pattern (`?essential`, `~nfoo`): passed to mmdebstrap in its own
/// `--include` so it is not split at commas.
pub fn is_pattern(package: &str) -> bool {
    package.starts_with(['?', '!', '~', '('])
}

/// A package for `--include`: a name (with apt's `/suite`, `=version`
/// suffixes) or an apt pattern. Paths to .deb files are refused: they
/// would be read from the host.
pub fn check_package(key: &str, package: &str) -> Result<()> {
    if package.is_empty() {
        return Err(invalid(format!("{key}: empty package name")));
    }
    if package.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{key}: {package:?} contains a control character"
        )));
    }
    if package.starts_with('/') || package.starts_with("./") || package.starts_with("../") {
        return Err(invalid(format!(
            "{key}: '{package}': paths to .deb files are not supported; name packages"
        )));
    }
    if !is_pattern(package) && package.contains(|c: char| c == ',' || c.is_whitespace()) {
        return Err(invalid(format!(
            "{key}: '{package}': give one package per list entry (no commas or spaces)"
        )));
    }
    Ok(())
}

/// A single deb822 word: not empty, no spaces, no control characters.
fn check_word(key: &str, what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(invalid(format!("{key}: empty {what}")));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "{key}: {what} {value:?} may not contain spaces or control characters"
        )));
    }
    Ok(())
}

fn check_repository(key: &str, repo: &Repository) -> Result<()> {
    if repo.types.is_empty() {
        return Err(invalid(format!(
            "{key}.types: give at least one of deb, deb-src"
        )));
    }
    for (i, t) in repo.types.iter().enumerate() {
        if repo.types[..i].contains(t) {
            return Err(invalid(format!(
                "{key}.types: '{}' is listed twice",
                t.as_str()
            )));
        }
    }
    check_mirror(&format!("{key}.mirror"), &repo.mirror)?;
    check_word(&format!("{key}.suite"), "suite", &repo.suite)?;
    if let Some(components) = &repo.components {
        if components.is_empty() {
            return Err(invalid(format!(
                "{key}.components: give at least one component, or leave the key out to use \
                 every component of the suite's Release file"
            )));
        }
        for (i, c) in components.iter().enumerate() {
            check_word(&format!("{key}.components[{i}]"), "component", c)?;
            if components[..i].contains(c) {
                return Err(invalid(format!("{key}.components: '{c}' is listed twice")));
            }
        }
    }
    if let Some(package) = &repo.keyring_package {
        check_package(&format!("{key}.keyring_package"), package)?;
    }
    if repo.check_signature_with == CheckSignatureWith::External && repo.keyring.is_none() {
        return Err(invalid(format!(
            "{key}: repository requires 'keyring': 'check_signature_with' is set to 'external'"
        )));
    }
    if let Some(keyring) = &repo.keyring {
        check_keyring_url(&format!("{key}.keyring.url"), &keyring.url)?;
        if let Some(sum) = keyring.sha256()
            && (sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(invalid(format!(
                "{key}.keyring.sha256sum: '{sum}' is not a hex SHA-256 (64 hex digits)"
            )));
        }
    }
    Ok(())
}

/// Splits `scheme://rest`, the scheme lowercased.
fn split_url(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then(|| (scheme.to_ascii_lowercase(), rest))
}

/// `rest` of an http(s) URL names a host.
fn has_host(rest: &str) -> bool {
    rest.split(['/', '?', '#'])
        .next()
        .is_some_and(|authority| !authority.is_empty())
}

/// A mirror apt reaches: an http, https or file URL on one line.
pub fn check_mirror(key: &str, mirror: &str) -> Result<()> {
    if mirror.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "{key}: {mirror:?} may not contain spaces or control characters"
        )));
    }
    let ok = match split_url(mirror) {
        Some((scheme, rest)) if scheme == "http" || scheme == "https" => has_host(rest),
        Some((scheme, rest)) if scheme == "file" => rest.starts_with('/'),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{key}: '{mirror}' is not an http://, https:// or file:/// URL"
        )))
    }
}

/// A keyring URL: http(s), or file:// under [`KEYRING_DIRS`] without `..`.
/// (The host canonicalizes file URLs again and checks its allow-list.)
pub fn check_keyring_url(key: &str, url: &str) -> Result<()> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "{key}: {url:?} may not contain spaces or control characters"
        )));
    }
    match split_url(url) {
        Some((scheme, rest)) if scheme == "http" || scheme == "https" => {
            if has_host(rest) {
                Ok(())
            } else {
                Err(invalid(format!("{key}: '{url}' names no host")))
            }
        }
        Some((scheme, rest)) if scheme == "file" => check_file_keyring(key, rest),
        Some((scheme, _)) => Err(invalid(format!(
            "{key}: unsupported URL scheme '{scheme}': use http://, https:// or file://"
        ))),
        None => Err(invalid(format!(
            "{key}: '{url}' is not a URL (http://, https:// or file://)"
        ))),
    }
}

fn check_file_keyring(key: &str, rest: &str) -> Result<()> {
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !(authority.is_empty() || authority.eq_ignore_ascii_case("localhost")) {
        return Err(invalid(format!(
            "{key}: a file:// URL names no host (write file:///usr/share/keyrings/NAME)"
        )));
    }
    if path.contains(['?', '#']) {
        return Err(invalid(format!(
            "{key}: a file:// URL for a keyring has no query or fragment"
        )));
    }
    let path = percent_decode(path)
        .ok_or_else(|| invalid(format!("{key}: bad percent-encoding in '{path}'")))?;
    if path.split('/').any(|c| c == "..") {
        return Err(invalid(format!(
            "{key}: '..' is not allowed in file:// URLs for keyrings"
        )));
    }
    let inside = KEYRING_DIRS.iter().any(|dir| {
        path.strip_prefix(dir)
            .is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
    });
    if inside {
        Ok(())
    } else {
        Err(invalid(format!(
            "{key}: file:// URLs for keyrings must be under /usr/share/keyrings/ or \
             /usr/local/share/keyrings/"
        )))
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape, a NUL or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

// ---- keyrings ---------------------------------------------------------

/// An OpenPGP keyring as apt's gpgv reads it: binary packets. An
/// ASCII-armored download is decoded; anything else is refused (an HTML
/// error page, say).
pub fn keyring_packets(content: &[u8]) -> Result<Vec<u8>, String> {
    if content.starts_with(b"-----BEGIN ") {
        let text = std::str::from_utf8(content)
            .map_err(|_| "the armored keyring is not valid UTF-8".to_string())?;
        return dearmor(text);
    }
    match content.first() {
        // Every OpenPGP packet header has its top bit set.
        Some(b) if b & 0x80 != 0 => Ok(content.to_vec()),
        Some(_) => Err("not an OpenPGP keyring (neither binary nor ASCII-armored)".into()),
        None => Err("the keyring is empty".into()),
    }
}

const ARMOR_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const ARMOR_END: &str = "-----END PGP PUBLIC KEY BLOCK-----";

/// ASCII armor (RFC 4880 §6.2) of public key packets.
pub fn armor(packets: &[u8]) -> String {
    let b64 = B64.encode(packets);
    let mut out = format!("{ARMOR_BEGIN}\n\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    let crc = crc24(packets).to_be_bytes();
    out.push('=');
    out.push_str(&B64.encode(&crc[1..]));
    out.push('\n');
    out.push_str(ARMOR_END);
    out.push('\n');
    out
}

/// Decodes every public key block of an armored text, checking each
/// block's CRC-24 when present.
pub fn dearmor(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim_end);
    let mut blocks = 0;
    while let Some(line) = lines.next() {
        if line != ARMOR_BEGIN {
            continue;
        }
        blocks += 1;
        // Armor headers (`Comment: ...`) end at the first empty line.
        for header in lines.by_ref() {
            if header.is_empty() {
                break;
            }
        }
        let mut body = String::new();
        let mut crc = None;
        let mut ended = false;
        for line in lines.by_ref() {
            if line == ARMOR_END {
                ended = true;
                break;
            }
            match line.strip_prefix('=') {
                Some(sum) if line.len() == 5 => crc = Some(sum.to_string()),
                _ => body.push_str(line),
            }
        }
        if !ended {
            return Err("the armored keyring has no END line".into());
        }
        let packets = B64
            .decode(&body)
            .map_err(|e| format!("the armored keyring has bad base64: {e}"))?;
        if let Some(sum) = crc {
            let want = B64
                .decode(&sum)
                .map_err(|_| "bad armor checksum".to_string())?;
            let got = crc24(&packets).to_be_bytes();
            if want != got[1..] {
                return Err("the armored keyring's checksum does not match".into());
            }
        }
        out.extend(packets);
    }
    if blocks == 0 {
        return Err(format!("no '{ARMOR_BEGIN}' in the armored keyring"));
    }
    Ok(out)
}

/// CRC-24 of OpenPGP armor.
pub fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0xB7_04CE;
    for &b in data {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x100_0000 != 0 {
                crc ^= 0x186_4CFB;
            }
        }
    }
    crc & 0xFF_FFFF
}

// ---- sources ----------------------------------------------------------

/// A repository with what execute found out: its components and, for
/// `check_signature_with: external`, its keyring packets.
#[derive(Debug)]
pub struct Resolved<'a> {
    pub repo: &'a Repository,
    pub components: Vec<String>,
    pub keyring: Option<Vec<u8>>,
}

/// Which copy of the sources: the one mmdebstrap's apt reads on the host,
/// or the one left in the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourcesFor {
    Host,
    Chroot,
}

/// Workspace files handed to mmdebstrap (paths relative to its cwd, the
/// workspace).
pub const HOST_SOURCES: &str = "mmdebstrap.sources";
pub const CHROOT_SOURCES: &str = "chroot.sources";
pub const SCRIPT: &str = "customization-script";
pub const OUTPUT: &str = "system.tar.xz";
pub const OS_RELEASE: &str = "os-release";
pub const DPKG_STATUS: &str = "dpkg-status";
pub const WITH_INIT: &str = "with-init";
/// All external keyrings in one file, for `--keyring` (apt takes one).
pub const BOOTSTRAP_KEYRING: &str = "keyrings/bootstrap.gpg";

/// Where mmdebstrap writes a sources file given as MIRROR in the chroot:
/// `0000` + its file name.
const MMDEBSTRAP_CHROOT_SOURCES: &str = "/etc/apt/sources.list.d/0000mmdebstrap.sources";
/// Where the chroot copy goes.
const SYSTEM_SOURCES: &str = "/etc/apt/sources.list.d/taskhost.sources";

/// Workspace file of repository `i`'s keyring (binary).
pub fn keyring_file(i: usize) -> String {
    format!("keyrings/repo-{i}.gpg")
}

/// Where repository `i`'s keyring is installed in the system: beside
/// apt's own keyrings for `Signed-By`, else in trusted.gpg.d so apt
/// trusts it for every source (as `--keyring` did during the bootstrap).
pub fn installed_keyring(i: usize, use_signed_by: bool) -> String {
    if use_signed_by {
        format!("/etc/apt/keyrings/taskhost-repo-{i}.gpg")
    } else {
        format!("/etc/apt/trusted.gpg.d/taskhost-repo-{i}.gpg")
    }
}

/// The deb822 sources of `repos`, one stanza each.
///
/// On the host, an external keyring is embedded in `Signed-By` (apt ≥
/// 2.3.10, which mmdebstrap requires; apt wants an absolute path or the
/// key itself, and the workspace's host path is not known here). In the
/// chroot, `Signed-By` names the installed keyring, and is left out when
/// the keyring is not installed (as debusine does).
pub fn sources(repos: &[Resolved<'_>], use_signed_by: bool, target: SourcesFor) -> String {
    let mut out = String::new();
    for (i, r) in repos.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let types: Vec<&str> = r.repo.types.iter().map(|t| t.as_str()).collect();
        out.push_str(&format!("Types: {}\n", types.join(" ")));
        out.push_str(&format!("URIs: {}\n", r.repo.mirror));
        out.push_str(&format!("Suites: {}\n", r.repo.suite));
        out.push_str(&format!("Components: {}\n", r.components.join(" ")));
        if r.repo.check_signature_with == CheckSignatureWith::NoCheck {
            out.push_str("Trusted: yes\n");
        }
        let (Some(packets), Some(keyring)) = (&r.keyring, r.repo.external_keyring()) else {
            continue;
        };
        if !use_signed_by {
            continue;
        }
        match target {
            SourcesFor::Host => {
                out.push_str("Signed-By:\n");
                for line in armor(packets).lines() {
                    let line = if line.is_empty() { "." } else { line };
                    out.push_str(&format!(" {line}\n"));
                }
            }
            SourcesFor::Chroot if keyring.install => {
                out.push_str(&format!("Signed-By: {}\n", installed_keyring(i, true)));
            }
            SourcesFor::Chroot => {}
        }
    }
    out
}

// ---- command line -----------------------------------------------------

/// mmdebstrap's hooks for the task: fixed strings and fixed file names.
/// Order: keyrings and sources first (the customization script may use
/// apt), then the script, then the cleanup, then what the artifact
/// describes (after the script, so the package list includes what it
/// installed).
pub fn hooks(data: &Data) -> Vec<String> {
    let use_signed_by = data.bootstrap_options.use_signed_by;
    let mut hooks = Vec::new();
    let installed: Vec<usize> = data
        .bootstrap_repositories
        .iter()
        .enumerate()
        .filter(|(_, r)| r.external_keyring().is_some_and(|k| k.install))
        .map(|(i, _)| i)
        .collect();
    if !installed.is_empty() {
        // apt creates /etc/apt/keyrings only since 2.4, and the extract
        // variant may not unpack apt at all.
        hooks.push(if use_signed_by {
            r#"mkdir -p "$1/etc/apt/keyrings""#.to_string()
        } else {
            r#"mkdir -p "$1/etc/apt/trusted.gpg.d""#.to_string()
        });
    }
    for i in installed {
        let target = installed_keyring(i, use_signed_by);
        hooks.push(format!("upload {} {target}", keyring_file(i)));
        hooks.push(format!(r#"chmod 644 "$1{target}""#));
    }
    hooks.push(format!(r#"rm -f "$1{MMDEBSTRAP_CHROOT_SOURCES}""#));
    hooks.push(format!("upload {CHROOT_SOURCES} {SYSTEM_SOURCES}"));
    if data.customization_script.is_some() {
        hooks.push(format!("upload {SCRIPT} /taskhost-customization-script"));
        hooks.push(r#"chmod 755 "$1/taskhost-customization-script""#.to_string());
        // Run as a program, so a #! line is honoured (chroot's execvp
        // falls back to sh without one).
        hooks.push(r#"chroot "$1" /taskhost-customization-script"#.to_string());
        hooks.push(r#"rm -f "$1/taskhost-customization-script""#.to_string());
    }
    // mmdebstrap copies these two from the host; a resolv.conf symlink
    // (systemd-resolved) is part of the system and stays.
    hooks.push(r#"rm -f "$1/etc/hostname""#.to_string());
    hooks.push(r#"test -h "$1/etc/resolv.conf" || rm -f "$1/etc/resolv.conf""#.to_string());
    hooks.push(format!("download /etc/os-release {OS_RELEASE}"));
    hooks.push(format!("download /var/lib/dpkg/status {DPKG_STATUS}"));
    // /sbin/init is often an absolute symlink: test it as a link too
    // rather than follow it out of the chroot.
    hooks.push(
        r#"if test -x "$1/sbin/init" || test -h "$1/sbin/init"; then echo true; else echo false; fi > "$1/tmp/taskhost-with-init""#
            .to_string(),
    );
    hooks.push(format!("download /tmp/taskhost-with-init {WITH_INIT}"));
    hooks.push(r#"rm -f "$1/tmp/taskhost-with-init""#.to_string());
    hooks
}

/// mmdebstrap's argv. The suite is "" (mmdebstrap takes it from the
/// sources) and the sources file is the only mirror.
pub fn command_line(data: &Data) -> Command {
    let options = &data.bootstrap_options;
    let mut cmd = Command::new("mmdebstrap").args([
        "--mode=unshare".to_string(),
        "--format=tar".to_string(),
        format!("--architectures={}", options.architecture),
        // debusine passes it too: old suites need hooks; newer ones skip it.
        "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older".to_string(),
    ]);
    let file_mirror = data
        .bootstrap_repositories
        .iter()
        .any(|r| split_url(&r.mirror).is_some_and(|(scheme, _)| scheme == "file"));
    if file_mirror {
        // Makes file:// mirrors visible inside the chroot.
        cmd = cmd.arg("--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount");
    }
    if let Some(variant) = options.variant {
        cmd = cmd.arg(format!("--variant={}", variant.as_str()));
    }
    let mut names: Vec<&str> = Vec::new();
    let mut patterns: Vec<&str> = Vec::new();
    let keyring_packages = data
        .bootstrap_repositories
        .iter()
        .filter_map(|r| r.keyring_package.as_deref());
    for p in options
        .extra_packages
        .iter()
        .map(String::as_str)
        .chain(keyring_packages)
    {
        let list = if is_pattern(p) {
            &mut patterns
        } else {
            &mut names
        };
        if !list.contains(&p) {
            list.push(p);
        }
    }
    if !names.is_empty() {
        cmd = cmd.arg(format!("--include={}", names.join(",")));
    }
    for p in patterns {
        cmd = cmd.arg(format!("--include={p}"));
    }
    let external = data
        .bootstrap_repositories
        .iter()
        .any(|r| r.external_keyring().is_some());
    if external && !options.use_signed_by {
        cmd = cmd.arg(format!("--keyring={BOOTSTRAP_KEYRING}"));
    }
    // The extract variant stops before the customize hooks.
    let hook_option = if options.variant == Some(Variant::Extract) {
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

/// One deb822 stanza: fields in order; continuation lines joined with
/// `\n` (a lone `.` stands for an empty line and is kept as is).
pub type Paragraph = Vec<(String, String)>;

/// Parses deb822 text (Release, dpkg status, sources). A clearsigned
/// wrapper (InRelease) is taken off; `#` comment lines are skipped.
pub fn deb822(text: &str) -> Vec<Paragraph> {
    let mut body = text;
    if let Some(rest) = text.strip_prefix("-----BEGIN PGP SIGNED MESSAGE-----") {
        // Armor headers end at the first empty line; the signature follows
        // the message.
        let start = rest.find("\n\n").map_or(rest.len(), |i| i + 2);
        body = &rest[start..];
        if let Some(end) = body.find("\n-----BEGIN PGP SIGNATURE-----") {
            body = &body[..end];
        }
    }
    let mut paragraphs = Vec::new();
    let mut current: Paragraph = Vec::new();
    for line in body.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
        } else if line.starts_with('#') {
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                if !value.is_empty() {
                    value.push('\n');
                }
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            // Dash-escaped lines of a clearsigned message.
            let name = name.strip_prefix("- ").unwrap_or(name);
            current.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// A field of a stanza; names compare case-insensitively.
pub fn field<'a>(paragraph: &'a Paragraph, name: &str) -> Option<&'a str> {
    paragraph
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The `Components` of a Release file, checked as debusine checks them.
pub fn release_components(release: &str, url: &str) -> Result<Vec<String>, String> {
    let components: Vec<String> = deb822(release)
        .first()
        .and_then(|p| field(p, "Components"))
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    if components.is_empty() {
        return Err(format!("Cannot find components in {url}"));
    }
    for c in &components {
        let ok = c.starts_with(|ch: char| ch.is_ascii_alphabetic())
            && c.chars()
                .all(|ch| ch.is_ascii_alphabetic() || ch == '-' || ch == '/');
        if !ok {
            return Err(format!(
                "Invalid component name from {url}: \"{c}\" must start with [A-Za-z] and have \
                 only [-/A-Za-z] characters"
            ));
        }
    }
    Ok(components)
}

/// `MIRROR/dists/SUITE/Release`.
pub fn release_url(mirror: &str, suite: &str) -> String {
    format!("{}/dists/{suite}/Release", mirror.trim_end_matches('/'))
}

/// os-release(5): shell-style `KEY=value` lines, values maybe quoted.
pub fn os_release(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            out.insert(key.trim().to_string(), unquote(value.trim()));
        }
    }
    out
}

fn unquote(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => out.extend(chars.by_ref().take_while(|&c| c != '\'')),
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => out.push(e),
                            Some(e) => {
                                out.push('\\');
                                out.push(e);
                            }
                            None => out.push('\\'),
                        },
                        c => out.push(c),
                    }
                }
            }
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Installed packages → version, from a dpkg status file. Keys are
/// `dpkg-query --show`'s `${binary:Package}` (what debusine records):
/// the name, qualified with `:ARCH` for `Multi-Arch: same` packages and
/// for packages of a foreign architecture.
pub fn pkglist(status: &str, native_arch: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in deb822(status) {
        let (Some(name), Some(version)) = (field(&p, "Package"), field(&p, "Version")) else {
            continue;
        };
        // "want flag status": held packages are installed too.
        let installed = field(&p, "Status").is_some_and(|s| {
            let words: Vec<&str> = s.split_whitespace().collect();
            words.len() == 3 && words[1] == "ok" && words[2] == "installed"
        });
        if !installed {
            continue;
        }
        let arch = field(&p, "Architecture").unwrap_or("");
        let same = field(&p, "Multi-Arch").is_some_and(|m| m.eq_ignore_ascii_case("same"));
        let foreign = !arch.is_empty() && arch != "all" && arch != native_arch;
        let key = if same || foreign {
            format!("{name}:{arch}")
        } else {
            name.to_string()
        };
        out.insert(key, version.to_string());
    }
    out
}

/// The codename of the system: os-release's VERSION_CODENAME, else the
/// first repository's suite; `sid` for unstable, whose os-release names
/// the testing release (as debusine does).
pub fn codename(os_release: &BTreeMap<String, String>, suite: &str) -> String {
    if suite == "unstable" || suite == "sid" {
        return "sid".into();
    }
    os_release
        .get("VERSION_CODENAME")
        .filter(|c| !c.is_empty())
        .cloned()
        .unwrap_or_else(|| suite.to_string())
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What to show of a failed mmdebstrap's log: its error lines (`E: `;
/// after an error it goes on to log its cleanup), else the end of it.
pub fn failure_summary(log: &str) -> String {
    let errors: Vec<&str> = log.lines().filter(|l| l.starts_with("E: ")).collect();
    if errors.is_empty() {
        tail(log, 30)
    } else {
        errors[..errors.len().min(20)].join("\n")
    }
}

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

/// The `debian:system-tarball` data.
#[derive(Debug, Serialize)]
pub struct SystemTarball {
    pub filename: String,
    pub vendor: String,
    pub codename: String,
    pub mirror: String,
    pub components: Vec<String>,
    pub variant: Option<&'static str>,
    pub pkglist: BTreeMap<String, String>,
    pub architecture: String,
    pub with_dev: bool,
    pub with_init: bool,
}

// ---- the task ---------------------------------------------------------

/// Components and keyrings of every repository, fetched through the host.
fn resolve(data: &Data) -> Result<Vec<Resolved<'_>>> {
    let mut resolved = Vec::new();
    for (i, repo) in data.bootstrap_repositories.iter().enumerate() {
        let key = format!("bootstrap_repositories[{i}]");
        let components = match &repo.components {
            Some(c) => c.clone(),
            None => {
                let url = release_url(&repo.mirror, &repo.suite);
                let path = format!("release/{i}-Release");
                std::fs::create_dir_all("release")?;
                http::download(&url, &path, None).map_err(|e| {
                    with_message(e, |m| {
                        format!("{key}.components: reading the suite's Release file: {m} (or list the components)")
                    })
                })?;
                let text = String::from_utf8_lossy(&std::fs::read(&path)?).into_owned();
                release_components(&text, &url)
                    .map_err(|m| Error::failed(format!("{key}.components: {m}")))?
            }
        };
        if repo.keyring.is_some() && repo.external_keyring().is_none() {
            log::warn(format!(
                "{key}.keyring is only used with check_signature_with: external; ignored"
            ));
        }
        let keyring = match repo.external_keyring() {
            Some(keyring) => {
                std::fs::create_dir_all("keyrings")?;
                let download = format!("keyrings/repo-{i}.download");
                http::download(&keyring.url, &download, keyring.sha256())
                    .map_err(|e| with_message(e, |m| format!("{key}.keyring.url: {m}")))?;
                let packets = keyring_packets(&std::fs::read(&download)?).map_err(|m| {
                    Error::failed(format!("{key}.keyring.url {}: {m}", keyring.url))
                })?;
                std::fs::write(keyring_file(i), &packets)?;
                std::fs::remove_file(&download)?;
                Some(packets)
            }
            None => None,
        };
        resolved.push(Resolved {
            repo,
            components,
            keyring,
        });
    }
    Ok(resolved)
}

/// `e` with its message rewritten (kind kept).
fn with_message(e: Error, f: impl FnOnce(&str) -> String) -> Error {
    match e {
        Error::AccessDenied(m) => Error::AccessDenied(f(&m)),
        Error::Invalid(m) => Error::Invalid(f(&m)),
        Error::NotFound(m) => Error::NotFound(f(&m)),
        Error::Failed(m) => Error::Failed(f(&m)),
        Error::TimedOut => Error::Failed(f("timed out")),
    }
}

fn read_text(path: &str) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::failed(format!("mmdebstrap left no {path} in the workspace: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

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
        validate(data)
    }

    fn execute(data: Data) -> Result<Status> {
        let resolved = resolve(&data)?;
        let use_signed_by = data.bootstrap_options.use_signed_by;
        let host = sources(&resolved, use_signed_by, SourcesFor::Host);
        let chroot = sources(&resolved, use_signed_by, SourcesFor::Chroot);
        std::fs::write(HOST_SOURCES, &host)?;
        std::fs::write(CHROOT_SOURCES, &chroot)?;
        // The host copy differs only by its embedded keys.
        log::debug(format!("sources for mmdebstrap:\n{host}"));
        log::info(format!("sources:\n{chroot}"));
        if !use_signed_by {
            let keyrings: Vec<u8> = resolved
                .iter()
                .filter_map(|r| r.keyring.as_deref())
                .flatten()
                .copied()
                .collect();
            if !keyrings.is_empty() {
                std::fs::write(BOOTSTRAP_KEYRING, keyrings)?;
            }
        }
        if let Some(script) = &data.customization_script {
            std::fs::write(SCRIPT, script)?;
        }

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
            let how = match (exit.code(), exit.signal()) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(signal)) => format!("signal {signal}"),
                _ => "an unknown status".into(),
            };
            log::warn(format!(
                "the end of mmdebstrap's log:\n{}",
                tail(&stderr, 100)
            ));
            return Err(Error::failed(format!(
                "mmdebstrap failed ({how}):\n{}",
                failure_summary(&stderr)
            )));
        }
        let tarball = std::fs::File::open(OUTPUT).map_err(|e| {
            Error::failed(format!("mmdebstrap succeeded but wrote no {OUTPUT}: {e}"))
        })?;
        let with_dev = tar_xz_has_dev_nodes(std::io::BufReader::new(tarball))
            .map_err(|e| Error::failed(format!("reading mmdebstrap's {OUTPUT}: {e}")))?;

        let options = &data.bootstrap_options;
        let first = &resolved[0];
        let release = os_release(&read_text(OS_RELEASE)?);
        let vendor = release
            .get("ID")
            .cloned()
            .ok_or_else(|| Error::failed("the system's /etc/os-release has no ID"))?;
        let codename = codename(&release, &first.repo.suite);
        let pkglist = pkglist(&read_text(DPKG_STATUS)?, &options.architecture);
        let with_init = read_text(WITH_INIT)?.trim() == "true";
        let packages = pkglist.len();
        let tarball = SystemTarball {
            filename: OUTPUT.into(),
            vendor: vendor.clone(),
            codename: codename.clone(),
            mirror: first.repo.mirror.clone(),
            components: first.components.clone(),
            variant: options.variant.map(Variant::as_str),
            pkglist,
            architecture: options.architecture.clone(),
            with_dev,
            with_init,
        };
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

    fn message(e: Error) -> String {
        match e {
            Error::Invalid(m) | Error::Failed(m) => m,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Decodes and validates; the error message.
    fn refusal(json: &str) -> String {
        match decode_task_data::<Data>(json) {
            Err(e) => message(e),
            Ok(d) => message(validate(&d).expect_err("accepted")),
        }
    }

    const MINIMAL: &str = r#"{
        "bootstrap_options": {"architecture": "amd64"},
        "bootstrap_repositories": [{"mirror": "http://mirror.example/debian", "suite": "bookworm"}]
    }"#;

    fn with_repo(repo: &str) -> String {
        format!(
            r#"{{"bootstrap_options": {{"architecture": "amd64"}},
                "bootstrap_repositories": [{repo}]}}"#
        )
    }

    #[test]
    fn decodes_with_debusine_defaults() {
        let d = data(MINIMAL);
        validate(&d).unwrap();
        assert!(d.bootstrap_options.use_signed_by);
        assert_eq!(d.bootstrap_options.variant, None);
        let r = &d.bootstrap_repositories[0];
        assert_eq!(r.types, vec![SourceType::Deb]);
        assert_eq!(r.check_signature_with, CheckSignatureWith::System);
        assert!(r.components.is_none() && r.keyring.is_none());
        assert!(d.customization_script.is_none());
    }

    #[test]
    fn decodes_everything() {
        let d = data(
            r#"{
            "bootstrap_options": {"architecture": "arm64", "variant": "buildd",
                "extra_packages": ["eatmydata", "?essential"], "use_signed_by": false},
            "bootstrap_repositories": [{
                "types": ["deb", "deb-src"], "mirror": "https://mirror.example/debian",
                "suite": "trixie", "components": ["main", "contrib"],
                "check_signature_with": "external", "keyring_package": "debian-archive-keyring",
                "keyring": {"url": "file:///usr/share/keyrings/debian-archive-keyring.gpg",
                            "sha256sum": "", "install": true}}],
            "customization_script": "apt-get install -y hello\n"
        }"#,
        );
        validate(&d).unwrap();
        assert_eq!(d.bootstrap_options.variant, Some(Variant::Buildd));
        let k = d.bootstrap_repositories[0].external_keyring().unwrap();
        assert!(k.install && k.sha256().is_none());
        let dash = data(
            r#"{"bootstrap_options": {"architecture": "amd64", "variant": "-"},
                "bootstrap_repositories": [{"mirror": "http://m.example/d", "suite": "sid"}]}"#,
        );
        assert_eq!(dash.bootstrap_options.variant.unwrap().as_str(), "-");
    }

    #[test]
    fn refuses_unknown_keys_by_name() {
        let m = refusal(
            r#"{"bootstrap_options": {"architecture": "amd64", "bogus": 1},
                "bootstrap_repositories": [{"mirror": "http://m.example/d", "suite": "s", "extra": 2}]}"#,
        );
        assert!(m.contains("bootstrap_options.bogus"), "{m}");
        assert!(m.contains("extra"), "{m}");
    }

    #[test]
    fn refuses_bad_variant_naming_the_key() {
        let m = refusal(
            r#"{"bootstrap_options": {"architecture": "amd64", "variant": "fat"},
                "bootstrap_repositories": [{"mirror": "http://m.example/d", "suite": "s"}]}"#,
        );
        assert!(m.contains("bootstrap_options.variant"), "{m}");
        assert!(m.contains("fat") && m.contains("minbase"), "{m}");
    }

    #[test]
    fn refuses_bad_check_signature_with_and_types() {
        let m = refusal(&with_repo(
            r#"{"mirror": "http://m.example/d", "suite": "s", "check_signature_with": "gpg"}"#,
        ));
        assert!(
            m.contains("bootstrap_repositories[0].check_signature_with"),
            "{m}"
        );
        assert!(m.contains("no-check"), "{m}");
        let m = refusal(&with_repo(
            r#"{"mirror": "http://m.example/d", "suite": "s", "types": ["rpm"]}"#,
        ));
        assert!(m.contains("types"), "{m}");
        let m = refusal(&with_repo(
            r#"{"mirror": "http://m.example/d", "suite": "s", "types": ["deb", "deb"]}"#,
        ));
        assert!(
            m.contains("bootstrap_repositories[0].types: 'deb' is listed twice"),
            "{m}"
        );
    }

    #[test]
    fn refuses_external_without_keyring() {
        let m = refusal(&with_repo(
            r#"{"mirror": "http://m.example/d", "suite": "s", "check_signature_with": "external"}"#,
        ));
        assert_eq!(
            m,
            "bootstrap_repositories[0]: repository requires 'keyring': 'check_signature_with' is set to 'external'"
        );
    }

    fn keyring_refusal(url: &str) -> String {
        refusal(&with_repo(&format!(
            r#"{{"mirror": "http://m.example/d", "suite": "s", "check_signature_with": "external",
                 "keyring": {{"url": "{url}"}}}}"#
        )))
    }

    #[test]
    fn file_keyrings_only_from_the_keyring_directories() {
        for url in [
            "file:///etc/shadow",
            "file:///usr/share/keyringsevil/x.gpg",
            "file:///usr/share/keyrings/",
            "file:///usr/share/doc/x.gpg",
            "file:///home/u/.gnupg/pubring.gpg",
        ] {
            let m = keyring_refusal(url);
            assert_eq!(
                m,
                "bootstrap_repositories[0].keyring.url: file:// URLs for keyrings must be under \
                 /usr/share/keyrings/ or /usr/local/share/keyrings/",
                "{url}"
            );
        }
        for url in [
            "file:///usr/share/keyrings/../../../etc/shadow",
            "file:///usr/local/share/keyrings/%2e%2e/%2E%2E/etc/shadow",
        ] {
            let m = keyring_refusal(url);
            assert!(m.contains("'..' is not allowed"), "{url}: {m}");
            assert!(
                m.starts_with("bootstrap_repositories[0].keyring.url: "),
                "{m}"
            );
        }
        assert!(
            keyring_refusal("file://evil.example/usr/share/keyrings/x.gpg")
                .contains("names no host")
        );
        assert!(keyring_refusal("ftp://h.example/k.gpg").contains("unsupported URL scheme 'ftp'"));
        assert!(keyring_refusal("/usr/share/keyrings/x.gpg").contains("is not a URL"));
        for ok in [
            "file:///usr/share/keyrings/debian-archive-keyring.gpg",
            "file://localhost/usr/local/share/keyrings/local.asc",
            "https://h.example/k.asc",
            "http://h.example:8080/k.gpg",
        ] {
            check_keyring_url("k", ok).unwrap();
        }
    }

    #[test]
    fn refuses_bad_sha256_mirror_suite_components_and_packages() {
        let m = refusal(&with_repo(
            r#"{"mirror": "http://m.example/d", "suite": "s", "check_signature_with": "external",
                "keyring": {"url": "https://h.example/k.gpg", "sha256sum": "abc"}}"#,
        ));
        assert!(m.contains("keyring.sha256sum"), "{m}");
        let m = refusal(&with_repo(
            r#"{"mirror": "ftp://m.example/d", "suite": "s"}"#,
        ));
        assert!(m.contains("bootstrap_repositories[0].mirror"), "{m}");
        let m = refusal(&with_repo(
            r#"{"mirror": "http://m.example/d\nTrusted: yes", "suite": "s"}"#,
        ));
        assert!(m.contains("control characters"), "{m}");
        let m = refusal(&with_repo(
            r#"{"mirror": "http://m.example/d", "suite": "a b"}"#,
        ));
        assert!(m.contains("bootstrap_repositories[0].suite"), "{m}");
        let m = refusal(&with_repo(
            r#"{"mirror": "http://m.example/d", "suite": "s", "components": []}"#,
        ));
        assert!(m.contains("components: give at least one"), "{m}");
        let m = refusal(&with_repo(
            r#"{"mirror": "http://m.example/d", "suite": "s", "keyring_package": "a,b"}"#,
        ));
        assert!(m.contains("keyring_package"), "{m}");
        let m = refusal(
            r#"{"bootstrap_options": {"architecture": "amd64", "extra_packages": ["./evil.deb"]},
                "bootstrap_repositories": [{"mirror": "http://m.example/d", "suite": "s"}]}"#,
        );
        assert!(
            m.contains("extra_packages[0]") && m.contains("paths"),
            "{m}"
        );
        let m = refusal(
            r#"{"bootstrap_options": {"architecture": "AMD 64"},
                "bootstrap_repositories": [{"mirror": "http://m.example/d", "suite": "s"}]}"#,
        );
        assert!(m.contains("bootstrap_options.architecture"), "{m}");
        let m = refusal(
            r#"{"bootstrap_options": {"architecture": "amd64"}, "bootstrap_repositories": []}"#,
        );
        assert!(m.contains("at least one repository"), "{m}");
        let m = refusal(
            r#"{"bootstrap_options": {"architecture": "amd64", "variant": "extract"},
                "bootstrap_repositories": [{"mirror": "http://m.example/d", "suite": "s"}],
                "customization_script": "true"}"#,
        );
        assert!(m.starts_with("customization_script:"), "{m}");
    }

    /// A public key packet header and a few bytes: enough for the armor.
    const KEY: &[u8] = &[
        0x99, 0x00, 0x0d, 0x04, 0x65, 0x00, 0x00, 0x00, 0x16, 0x09, 0x2b,
    ];

    fn repo(json: &str) -> Repository {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn sources_for_several_combinations() {
        let a = repo(
            r#"{"types": ["deb", "deb-src"], "mirror": "http://m.example/debian", "suite": "bookworm"}"#,
        );
        let b = repo(
            r#"{"mirror": "file:///srv/local", "suite": "local", "check_signature_with": "no-check"}"#,
        );
        let repos = [
            Resolved {
                repo: &a,
                components: vec!["main".into(), "contrib".into()],
                keyring: None,
            },
            Resolved {
                repo: &b,
                components: vec!["main".into()],
                keyring: None,
            },
        ];
        let expected = "\
Types: deb deb-src
URIs: http://m.example/debian
Suites: bookworm
Components: main contrib

Types: deb
URIs: file:///srv/local
Suites: local
Components: main
Trusted: yes
";
        assert_eq!(sources(&repos, true, SourcesFor::Host), expected);
        assert_eq!(sources(&repos, true, SourcesFor::Chroot), expected);
    }

    #[test]
    fn sources_with_signed_by() {
        let installed = repo(
            r#"{"mirror": "https://m.example/extra", "suite": "stable",
                "check_signature_with": "external",
                "keyring": {"url": "https://m.example/key.gpg", "install": true}}"#,
        );
        let not_installed = repo(
            r#"{"mirror": "https://o.example/other", "suite": "stable",
                "check_signature_with": "external",
                "keyring": {"url": "https://o.example/key.gpg"}}"#,
        );
        let repos = [
            Resolved {
                repo: &installed,
                components: vec!["main".into()],
                keyring: Some(KEY.to_vec()),
            },
            Resolved {
                repo: &not_installed,
                components: vec!["main".into()],
                keyring: Some(KEY.to_vec()),
            },
        ];
        let host = sources(&repos, true, SourcesFor::Host);
        let key_field = format!(
            "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n {}\n ={}\n -----END PGP PUBLIC KEY BLOCK-----\n",
            B64.encode(KEY),
            B64.encode(&crc24(KEY).to_be_bytes()[1..])
        );
        assert_eq!(
            host,
            format!(
                "Types: deb\nURIs: https://m.example/extra\nSuites: stable\nComponents: main\n{key_field}\n\
                 Types: deb\nURIs: https://o.example/other\nSuites: stable\nComponents: main\n{key_field}"
            )
        );
        // The embedded key reads back as the keyring.
        let paragraphs = deb822(&host);
        let embedded = field(&paragraphs[0], "Signed-By")
            .unwrap()
            .replace("\n.\n", "\n\n");
        assert_eq!(dearmor(&embedded).unwrap(), KEY);

        assert_eq!(
            sources(&repos, true, SourcesFor::Chroot),
            "Types: deb\nURIs: https://m.example/extra\nSuites: stable\nComponents: main\n\
             Signed-By: /etc/apt/keyrings/taskhost-repo-0.gpg\n\n\
             Types: deb\nURIs: https://o.example/other\nSuites: stable\nComponents: main\n"
        );
        // --keyring instead: no Signed-By anywhere.
        for target in [SourcesFor::Host, SourcesFor::Chroot] {
            assert!(!sources(&repos, false, target).contains("Signed-By"));
        }
    }

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

    const RELEASE: &str = "\
Origin: Debian
Label: Debian
Suite: stable
Version: 12.11
Codename: bookworm
Changelogs: https://metadata.ftp-master.debian.org/changelogs/@CHANGEPATH@_changelog
Date: Sat, 17 May 2025 09:38:10 UTC
Acquire-By-Hash: yes
No-Support-for-Architecture-all: Packages
Architectures: all amd64 arm64 armel armhf i386 mips64el mipsel ppc64el s390x
Components: main contrib non-free-firmware non-free
Description: Debian 12.11 Released 17 May 2025
MD5Sum:
 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all
 d0a0325a97c42fd5f66a8c3e29bcea64    98581 contrib/Contents-all.gz
SHA256:
 4d3a8ce5e5ea4bd8d1c2ac2d7b3b3cf9f4e1f7d51fba4d3b7b3a4ac1be1cbd05  1484322 contrib/Contents-all
";

    #[test]
    fn release_components_are_read_from_the_release_file() {
        let url = "http://m.example/debian/dists/bookworm/Release";
        assert_eq!(
            release_components(RELEASE, url).unwrap(),
            ["main", "contrib", "non-free-firmware", "non-free"]
        );
        let security = "Origin: Debian\ncomponents: updates/main updates/contrib\n";
        assert_eq!(
            release_components(security, url).unwrap(),
            ["updates/main", "updates/contrib"]
        );
        let signed = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{RELEASE}-----BEGIN PGP SIGNATURE-----\n\niQIz\n-----END PGP SIGNATURE-----\n"
        );
        assert_eq!(release_components(&signed, url).unwrap().len(), 4);
        assert_eq!(
            release_components("Origin: x\n", url).unwrap_err(),
            format!("Cannot find components in {url}")
        );
        assert!(
            release_components("Components: main ../etc\n", url)
                .unwrap_err()
                .contains("Invalid component name")
        );
        assert_eq!(
            release_url("http://m.example/debian/", "bookworm"),
            "http://m.example/debian/dists/bookworm/Release"
        );
    }

    #[test]
    fn os_release_values_are_unquoted() {
        let text = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
# a comment
HOME_URL="https://www.debian.org/"
QUOTED='single quoted'
ESCAPED="a \"b\" \$c"
"#;
        let r = os_release(text);
        assert_eq!(r["ID"], "debian");
        assert_eq!(r["VERSION_CODENAME"], "bookworm");
        assert_eq!(r["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(r["QUOTED"], "single quoted");
        assert_eq!(r["ESCAPED"], r#"a "b" $c"#);
        assert_eq!(codename(&r, "stable"), "bookworm");
        assert_eq!(codename(&r, "unstable"), "sid");
        let jessie = os_release("ID=debian\nVERSION_ID=\"8\"\n");
        assert_eq!(codename(&jessie, "jessie"), "jessie");
    }

    const STATUS: &str = "\
Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u11
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Pre-Depends: awk
Breaks: debian-security-support (<< 2019.04.25), initscripts (<< 2.88dsf-13.3), sendfile (<< 2.1b.20080616-5.2~), usrmerge (<< 25)
Conffiles:
 /etc/debian_version 2b6a9b5a7d8e8a0a6b8e8d1b2f1c5e3d
 /etc/dot.bashrc 0a9a0d3a1a4d1d8b7e9f1c2b3a4d5e6f
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system, and
 several important miscellaneous files, such as /etc/debian_version,
 .
 /etc/host.conf, /etc/issue, /etc/motd, /etc/profile, and others,

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 13001
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u10
Depends: libgcc-s1
Description: GNU C Library: Shared libraries

Package: libc6
Status: install ok installed
Architecture: i386
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u10
Description: GNU C Library: Shared libraries

Package: tzdata
Status: install ok installed
Architecture: all
Multi-Arch: foreign
Version: 2025b-0+deb12u1
Description: time zone and daylight-saving time data

Package: hello
Status: hold ok installed
Architecture: i386
Version: 2.10-3
Description: example package based on GNU hello

Package: nano
Status: deinstall ok config-files
Architecture: amd64
Version: 7.2-1+deb12u1
Conffiles:
 /etc/nanorc 2d2d0a7f1d0e0c8a7b5a6e1e0b3f4c2d

Package: vim-tiny
Status: install reinstreq half-installed
Architecture: amd64
Version: 2:9.0.1378-2
";

    #[test]
    fn pkglist_keys_installed_packages_like_dpkg_query() {
        let list = pkglist(STATUS, "amd64");
        let expected: BTreeMap<String, String> = [
            ("base-files", "12.4+deb12u11"),
            ("hello:i386", "2.10-3"),
            ("libc6:amd64", "2.36-9+deb12u10"),
            ("libc6:i386", "2.36-9+deb12u10"),
            ("tzdata", "2025b-0+deb12u1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(list, expected);
    }

    #[test]
    fn crc24_check_value() {
        // CRC-24/OPENPGP check value.
        assert_eq!(crc24(b"123456789"), 0x21_CF02);
    }

    #[test]
    fn keyrings_are_binary_or_armored() {
        assert_eq!(keyring_packets(KEY).unwrap(), KEY);
        let armored = armor(KEY);
        assert!(armored.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"));
        assert_eq!(keyring_packets(armored.as_bytes()).unwrap(), KEY);
        // Headers, CRLF and two blocks.
        let two = format!(
            "{}\r\n{}",
            armored
                .replacen("\n\n", "\nComment: test\n\n", 1)
                .replace('\n', "\r\n"),
            armored
        );
        assert_eq!(dearmor(&two).unwrap(), [KEY, KEY].concat());
        let corrupt = armored.replacen("mQAN", "mQAO", 1);
        assert!(dearmor(&corrupt).unwrap_err().contains("checksum"));
        assert!(keyring_packets(b"<html>Not Found</html>").is_err());
        assert!(keyring_packets(b"").is_err());
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

    #[test]
    fn failures_show_the_error_lines_or_the_tail() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        let log = "\
I: running special hook: upload keyrings/repo-0.gpg /etc/apt/trusted.gpg.d/taskhost-repo-0.gpg
E: setup failed: E: hookhelper failed: E: path does not exist: /tmp/x/etc/apt/trusted.gpg.d
W: cannot unlink ./dev/console: No such file or directory
E: mmdebstrap failed to run
";
        assert_eq!(
            failure_summary(log),
            "E: setup failed: E: hookhelper failed: E: path does not exist: /tmp/x/etc/apt/trusted.gpg.d\n\
             E: mmdebstrap failed to run"
        );
        assert_eq!(failure_summary("I: a\nW: b\n"), "I: a\nW: b");
    }
}
