//! debusine's SystemBootstrap interface, shared by the task plugins that
//! bootstrap a Debian system with mmdebstrap (`mmdebstrap`,
//! `simplesystemimagebuild`), as debusine's `systembootstrap.py` is.
//!
//! It holds what both tasks do the same way: the task_data keys and their
//! checks, the repositories' components and keyrings (fetched through the
//! host), the deb822 sources, mmdebstrap's options and the customize hooks
//! that put the sources into the system, run the customization script,
//! clean up and copy out what the artifact describes, and the parsers of
//! what comes out (`/etc/os-release`, the dpkg status).
//!
//! No value from task_data ever goes into a hook: hooks are fixed strings
//! naming fixed workspace files, and user content (the sources, the
//! keyrings, the script) reaches the chroot through mmdebstrap's `upload`
//! special hook.

pub mod image;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use deb822_lossless::{Deb822, Paragraph};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use taskhost_sdk::{Error, Result, http, log};
use url::Url;

// ---- task_data --------------------------------------------------------

/// The SystemBootstrap keys of a task's task_data.
pub trait SystemBootstrap {
    fn options(&self) -> &BootstrapOptions;
    fn repositories(&self) -> &[Repository];
    fn customization_script(&self) -> Option<&str>;
}

/// task_data with the SystemBootstrap keys and nothing else (the
/// mmdebstrap task's).
#[derive(Debug, Deserialize)]
pub struct Bootstrap {
    pub bootstrap_options: BootstrapOptions,
    pub bootstrap_repositories: Vec<Repository>,
    pub customization_script: Option<String>,
}

impl SystemBootstrap for Bootstrap {
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

/// `bootstrap_options`.
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
    /// mmdebstrap's name.
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

/// One of `bootstrap_repositories`.
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

/// A deb822 `Types` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum SourceType {
    #[serde(rename = "deb")]
    Deb,
    #[serde(rename = "deb-src")]
    DebSrc,
}

impl SourceType {
    /// apt's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Deb => "deb",
            SourceType::DebSrc => "deb-src",
        }
    }
}

/// How apt checks a repository's signature.
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

/// A repository's `keyring`.
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
    /// The SHA-256 to check, if any.
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
pub fn validate(data: &impl SystemBootstrap) -> Result<()> {
    let options = data.options();
    check_architecture(&options.architecture)?;
    for (i, p) in options.extra_packages.iter().enumerate() {
        check_package(&format!("bootstrap_options.extra_packages[{i}]"), p)?;
    }
    if data.repositories().is_empty() {
        return Err(invalid(
            "bootstrap_repositories: give at least one repository".into(),
        ));
    }
    for (i, repo) in data.repositories().iter().enumerate() {
        check_repository(&format!("bootstrap_repositories[{i}]"), repo)?;
    }
    if data.customization_script().is_some() && options.variant == Some(Variant::Extract) {
        return Err(invalid(
            "customization_script: the extract variant only unpacks packages, so nothing can \
             run inside the system; use another variant"
                .into(),
        ));
    }
    Ok(())
}

/// A Debian architecture name.
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

/// `raw` as the url crate (and so the host) reads it, and what follows
/// its `scheme://` as written; `None` unless written `scheme://…` (the
/// url crate also reads `http:h` and `http:///h` as `http://h/`).
fn parse_url(raw: &str) -> Option<(Url, &str)> {
    let url = Url::parse(raw).ok()?;
    let rest = raw.get(url.scheme().len()..)?.strip_prefix("://")?;
    Some((url, rest))
}

/// An http(s) URL naming its host right after `//`.
fn names_host(url: &Url, rest: &str) -> bool {
    url.host_str().is_some_and(|h| !h.is_empty()) && !rest.starts_with(['/', '\\'])
}

/// A mirror apt reaches: an http, https or file URL on one line.
pub fn check_mirror(key: &str, mirror: &str) -> Result<()> {
    if mirror.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "{key}: {mirror:?} may not contain spaces or control characters"
        )));
    }
    let ok = match parse_url(mirror) {
        Some((url, rest)) if matches!(url.scheme(), "http" | "https") => names_host(&url, rest),
        Some((url, rest)) if url.scheme() == "file" => rest.starts_with('/'),
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
pub fn check_keyring_url(key: &str, raw: &str) -> Result<()> {
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "{key}: {raw:?} may not contain spaces or control characters"
        )));
    }
    let lower = raw.to_ascii_lowercase();
    let http = lower.starts_with("http://") || lower.starts_with("https://");
    match parse_url(raw) {
        Some((url, rest)) if matches!(url.scheme(), "http" | "https") => {
            if names_host(&url, rest) {
                Ok(())
            } else {
                Err(invalid(format!("{key}: '{raw}' names no host")))
            }
        }
        Some((url, _)) if url.scheme() == "file" => check_file_keyring(key, raw, &url),
        Some((url, _)) => Err(invalid(format!(
            "{key}: unsupported URL scheme '{}': use http://, https:// or file://",
            url.scheme()
        ))),
        // `http://` and `http:///`: the url crate wants a host.
        None if http => Err(invalid(format!("{key}: '{raw}' names no host"))),
        None => Err(invalid(format!(
            "{key}: '{raw}' is not a URL (http://, https:// or file://)"
        ))),
    }
}

fn check_file_keyring(key: &str, raw: &str, url: &Url) -> Result<()> {
    // The url crate drops `localhost`.
    if url.host_str().is_some_and(|h| !h.is_empty()) {
        return Err(invalid(format!(
            "{key}: a file:// URL names no host (write file:///usr/share/keyrings/NAME)"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "{key}: a file:// URL for a keyring has no query or fragment"
        )));
    }
    // Checked as written: the url crate resolves `..` (and `%2e%2e`, `\`).
    let escapes_ok = raw.split('%').skip(1).all(|s| {
        s.as_bytes()
            .get(..2)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    let decode = |s| {
        let s = percent_decode_str(s).decode_utf8().ok()?;
        (!s.contains('\0')).then_some(s)
    };
    let (written, path) = (decode(raw), decode(url.path()));
    let (Some(written), Some(path), true) = (written, path, escapes_ok) else {
        return Err(invalid(format!(
            "{key}: bad percent-encoding in '{}'",
            url.path()
        )));
    };
    if written.split(['/', '\\']).any(|c| c == "..") {
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
/// The armor checksum (RFC 4880 §6.1).
const CRC24: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_24_OPENPGP);

/// The armor checksum line's base64 (without its `=`).
fn armor_checksum(packets: &[u8]) -> String {
    B64.encode(&CRC24.checksum(packets).to_be_bytes()[1..])
}

/// ASCII armor (RFC 4880 §6.2) of public key packets.
pub fn armor(packets: &[u8]) -> String {
    let b64 = B64.encode(packets);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|l| std::str::from_utf8(l).ok())
        .collect();
    format!(
        "{ARMOR_BEGIN}\n\n{}\n={}\n{ARMOR_END}\n",
        lines.join("\n"),
        armor_checksum(packets)
    )
}

/// Decodes every public key block of an armored text, checking each
/// block's checksum when present.
pub fn dearmor(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut blocks = text.split(ARMOR_BEGIN).skip(1).peekable();
    if blocks.peek().is_none() {
        return Err(format!("no '{ARMOR_BEGIN}' in the armored keyring"));
    }
    for block in blocks {
        let body = block
            .split_once(ARMOR_END)
            .ok_or("the armored keyring has no END line")?
            .0;
        let mut b64 = String::new();
        let mut sum = None;
        // Armor headers (`Comment: ...`) end at the first empty line.
        let lines = body.lines().map(str::trim).skip(1);
        for line in lines.skip_while(|l| !l.is_empty()) {
            match line.strip_prefix('=') {
                Some(s) if line.len() == 5 => sum = Some(s),
                _ => b64.push_str(line),
            }
        }
        let packets = B64
            .decode(&b64)
            .map_err(|e| format!("the armored keyring has bad base64: {e}"))?;
        if sum.is_some_and(|s| s != armor_checksum(&packets)) {
            return Err("the armored keyring's checksum does not match".into());
        }
        out.extend(packets);
    }
    if out.is_empty() {
        return Err("the armored keyring holds no key".into());
    }
    Ok(out)
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

/// Components and keyrings of every repository, fetched through the host.
pub fn resolve(data: &impl SystemBootstrap) -> Result<Vec<Resolved<'_>>> {
    let mut resolved = Vec::new();
    for (i, repo) in data.repositories().iter().enumerate() {
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
pub fn with_message(e: Error, f: impl FnOnce(&str) -> String) -> Error {
    match e {
        Error::AccessDenied(m) => Error::AccessDenied(f(&m)),
        Error::Invalid(m) => Error::Invalid(f(&m)),
        Error::NotFound(m) => Error::NotFound(f(&m)),
        Error::Failed(m) => Error::Failed(f(&m)),
        Error::TimedOut => Error::Failed(f("timed out")),
    }
}

/// A text file mmdebstrap's hooks copied out.
pub fn read_text(path: &str) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::failed(format!("mmdebstrap left no {path} in the workspace: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Resolves the repositories and writes what mmdebstrap reads: the
/// sources of the first `bootstrap` repositories for the bootstrap, all
/// of them for the system, the keyrings for `--keyring`, the script.
pub fn prepare(data: &impl SystemBootstrap, bootstrap: usize) -> Result<Vec<Resolved<'_>>> {
    let resolved = resolve(data)?;
    let use_signed_by = data.options().use_signed_by;
    let bootstrap = bootstrap.clamp(1, resolved.len());
    let host = sources(&resolved[..bootstrap], use_signed_by, SourcesFor::Host);
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
    if let Some(script) = data.customization_script() {
        std::fs::write(SCRIPT, script)?;
    }
    Ok(resolved)
}

// ---- mmdebstrap's options and hooks -----------------------------------

/// mmdebstrap's options for the task_data, after `--mode` and `--format`
/// and before the hooks: the architecture, hook directories, variant,
/// packages (`extra_packages`, the repositories' keyring packages, then
/// `more`) and `--keyring`.
pub fn options(data: &impl SystemBootstrap, more: &[&str]) -> Vec<String> {
    let options = data.options();
    let mut args = vec![
        format!("--architectures={}", options.architecture),
        // debusine passes it too: old suites need hooks; newer ones skip it.
        "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older".to_string(),
    ];
    let file_mirror = data
        .repositories()
        .iter()
        .any(|r| Url::parse(&r.mirror).is_ok_and(|u| u.scheme() == "file"));
    if file_mirror {
        // Makes file:// mirrors visible inside the chroot.
        args.push("--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount".to_string());
    }
    if let Some(variant) = options.variant {
        args.push(format!("--variant={}", variant.as_str()));
    }
    let mut names: Vec<&str> = Vec::new();
    let mut patterns: Vec<&str> = Vec::new();
    let keyring_packages = data
        .repositories()
        .iter()
        .filter_map(|r| r.keyring_package.as_deref());
    for p in options
        .extra_packages
        .iter()
        .map(String::as_str)
        .chain(keyring_packages)
        .chain(more.iter().copied())
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
        args.push(format!("--include={}", names.join(",")));
    }
    for p in patterns {
        args.push(format!("--include={p}"));
    }
    let external = data
        .repositories()
        .iter()
        .any(|r| r.external_keyring().is_some());
    if external && !options.use_signed_by {
        args.push(format!("--keyring={BOOTSTRAP_KEYRING}"));
    }
    args
}

/// The hooks that put the keyrings to install and the sources into the
/// system (first: the customization script may use apt).
pub fn setup_hooks(data: &impl SystemBootstrap) -> Vec<String> {
    let use_signed_by = data.options().use_signed_by;
    let mut hooks = Vec::new();
    let installed: Vec<usize> = data
        .repositories()
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
    hooks
}

/// The hooks that run the customization script inside the system, then
/// remove it (none without a script).
pub fn script_hooks(data: &impl SystemBootstrap) -> Vec<String> {
    if data.customization_script().is_none() {
        return Vec::new();
    }
    vec![
        format!("upload {SCRIPT} /taskhost-customization-script"),
        r#"chmod 755 "$1/taskhost-customization-script""#.to_string(),
        // Run as a program, so a #! line is honoured (chroot's execvp
        // falls back to sh without one).
        r#"chroot "$1" /taskhost-customization-script"#.to_string(),
        r#"rm -f "$1/taskhost-customization-script""#.to_string(),
    ]
}

/// The hooks that remove what mmdebstrap copied from the host: its
/// hostname and resolv.conf (a resolv.conf symlink, systemd-resolved's,
/// is part of the system and stays).
pub fn cleanup_hooks() -> Vec<String> {
    vec![
        r#"rm -f "$1/etc/hostname""#.to_string(),
        r#"test -h "$1/etc/resolv.conf" || rm -f "$1/etc/resolv.conf""#.to_string(),
    ]
}

/// The hooks that copy out what the artifact describes: os-release, the
/// dpkg status and whether /sbin/init exists (last, so the package list
/// includes what the script installed).
pub fn report_hooks() -> Vec<String> {
    vec![
        format!("download /etc/os-release {OS_RELEASE}"),
        format!("download /var/lib/dpkg/status {DPKG_STATUS}"),
        // /sbin/init is often an absolute symlink: test it as a link too
        // rather than follow it out of the chroot.
        r#"if test -x "$1/sbin/init" || test -h "$1/sbin/init"; then echo true; else echo false; fi > "$1/tmp/taskhost-with-init""#
            .to_string(),
        format!("download /tmp/taskhost-with-init {WITH_INIT}"),
        r#"rm -f "$1/tmp/taskhost-with-init""#.to_string(),
    ]
}

// ---- what the system reports -----------------------------------------

/// The paragraphs of deb822 text (Release, dpkg status), read leniently:
/// a line that is not a field is skipped, not an error.
pub fn deb822(text: &str) -> Vec<Paragraph> {
    Deb822::from_str_relaxed(&clearsigned_message(text))
        .0
        .paragraphs()
        .collect()
}

/// The message of a clearsigned text (InRelease), else the text as is.
pub fn clearsigned_message(text: &str) -> Cow<'_, str> {
    let Some(rest) = text.strip_prefix("-----BEGIN PGP SIGNED MESSAGE-----") else {
        return Cow::Borrowed(text);
    };
    // Armor headers end at the first empty line; the signature follows
    // the dash-escaped message.
    let message: Vec<&str> = rest
        .lines()
        .skip(1)
        .skip_while(|l| !l.trim().is_empty())
        .take_while(|l| !l.starts_with("-----BEGIN PGP SIGNATURE-----"))
        .map(|l| l.strip_prefix("- ").unwrap_or(l))
        .collect();
    Cow::Owned(message.join("\n"))
}

/// The `Components` of a Release file, checked as debusine checks them.
pub fn release_components(release: &str, url: &str) -> Result<Vec<String>, String> {
    let components: Vec<String> = deb822(release)
        .first()
        .and_then(|p| p.get("Components"))
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
            // Shell quoting; a value it cannot read is kept as written.
            let value = value.trim();
            let words = shell_words::split(value).map(|w| w.join(" "));
            out.insert(key.trim().to_string(), words.unwrap_or(value.into()));
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
        let (Some(name), Some(version)) = (p.get("Package"), p.get("Version")) else {
            continue;
        };
        // "want flag status": held packages are installed too.
        let installed = p.get("Status").is_some_and(|s| {
            let words: Vec<&str> = s.split_whitespace().collect();
            words.len() == 3 && words[1] == "ok" && words[2] == "installed"
        });
        if !installed {
            continue;
        }
        let arch = p.get("Architecture").unwrap_or_default();
        let same = p
            .get("Multi-Arch")
            .is_some_and(|m| m.eq_ignore_ascii_case("same"));
        let foreign = !arch.is_empty() && arch != "all" && arch != native_arch;
        let key = if same || foreign {
            format!("{name}:{arch}")
        } else {
            name
        };
        out.insert(key, version);
    }
    out
}

/// What the report hook wrote to `with-init`: `true` or `false`. Anything
/// else (empty, garbled) is an error, not a guess either way.
pub fn with_init(text: &str) -> Result<bool> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(Error::failed(format!(
            "the hook testing the system's /sbin/init wrote {other:?} to {WITH_INIT}, \
             not true or false"
        ))),
    }
}

/// The `debian:system-tarball` data; a system image's data starts with it.
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

impl SystemTarball {
    /// What the report hooks wrote about the system bootstrapped from
    /// `first` ([`OS_RELEASE`], [`DPKG_STATUS`], [`WITH_INIT`]), with its
    /// os-release; the caller sets `filename` and `with_dev`.
    pub fn reported(
        data: &impl SystemBootstrap,
        first: &Resolved<'_>,
    ) -> Result<(SystemTarball, BTreeMap<String, String>)> {
        let options = data.options();
        let release = os_release(&read_text(OS_RELEASE)?);
        let vendor = release
            .get("ID")
            .cloned()
            .ok_or_else(|| Error::failed("the system's /etc/os-release has no ID"))?;
        let system = SystemTarball {
            filename: String::new(),
            vendor,
            codename: codename(&release, &first.repo.suite),
            mirror: first.repo.mirror.clone(),
            components: first.components.clone(),
            variant: options.variant.map(Variant::as_str),
            pkglist: pkglist(&read_text(DPKG_STATUS)?, &options.architecture),
            architecture: options.architecture.clone(),
            with_dev: false,
            with_init: with_init(&read_text(WITH_INIT)?)?,
        };
        Ok((system, release))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use taskhost_sdk::decode_task_data;

    fn data(json: &str) -> Bootstrap {
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
        match decode_task_data::<Bootstrap>(json) {
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
    fn urls_are_checked_as_written_and_as_parsed() {
        let says = |url: &str| message(check_keyring_url("k", url).expect_err(url));
        for (url, what) in [
            ("http:///h.example/k.gpg", "names no host"),
            ("https://", "names no host"),
            ("http:h.example/k.gpg", "is not a URL"),
            ("file:///usr/share/keyrings/%zz.gpg", "bad percent-encoding"),
            (
                "file:///usr/share/keyrings/x%00.gpg",
                "bad percent-encoding",
            ),
            (
                "file:///usr/share/keyrings/x%ff.gpg",
                "bad percent-encoding",
            ),
            (
                r"file:///usr/share/keyrings/..\..\etc\shadow",
                "'..' is not allowed",
            ),
            (
                "file:///usr/share/keyrings/.%2E/x.gpg",
                "'..' is not allowed",
            ),
            ("file:///usr/share/keyrings/x.gpg?a", "no query or fragment"),
            ("file:///usr/share/keyrings/x.gpg#", "no query or fragment"),
        ] {
            assert!(says(url).contains(what), "{url}: {}", says(url));
        }
        check_keyring_url("k", "file://LOCALHOST/usr/share/keyrings/x.gpg").unwrap();
        check_keyring_url("k", "HTTPS://H.example/k.asc").unwrap();
        for bad in [
            "http:///m.example/d",
            "http:m.example/d",
            "file://h/srv",
            "ftp://h/d",
        ] {
            assert!(check_mirror("m", bad).is_err(), "{bad}");
        }
        check_mirror("m", "HTTP://m.example/d?x").unwrap();
        check_mirror("m", "file:///srv/mirror").unwrap();
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
            armor_checksum(KEY)
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
        let embedded = paragraphs[0]
            .get("Signed-By")
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
    fn options_take_more_packages_after_the_task_data_ones() {
        let d = data(
            r#"{"bootstrap_options": {"architecture": "arm64", "variant": "minbase",
                    "extra_packages": ["udev", "?essential"]},
                "bootstrap_repositories": [{"mirror": "http://m.example/d", "suite": "s",
                    "keyring_package": "debian-archive-keyring"}]}"#,
        );
        assert_eq!(
            options(
                &d,
                &["linux-image-arm64", "udev", "?exact-name(systemd-boot-efi)"]
            ),
            [
                "--architectures=arm64",
                "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older",
                "--variant=minbase",
                "--include=udev,debian-archive-keyring,linux-image-arm64",
                "--include=?essential",
                "--include=?exact-name(systemd-boot-efi)",
            ]
        );
        // The script's hooks come only with a script.
        assert!(script_hooks(&d).is_empty());
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
    fn hostile_deb822_is_read_leniently() {
        let url = "http://m.example/Release";
        for text in [
            "",
            "<html>Not Found</html>\n",
            ": x\n\n\n:::\n \n",
            "\u{0}Components:",
        ] {
            assert!(release_components(text, url).is_err(), "{text:?}");
            assert!(pkglist(text, "amd64").is_empty());
        }
        let crlf = "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\n\
                    Origin: x\r\nComponents: main\r\n- -----not a signature\r\n\
                    -----BEGIN PGP SIGNATURE-----\r\n\r\niQIz\r\n-----END PGP SIGNATURE-----\r\n";
        assert_eq!(release_components(crlf, url).unwrap(), ["main"]);
        assert!(clearsigned_message(crlf).ends_with("-----not a signature"));
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
        assert_eq!(CRC24.checksum(b"123456789"), 0x21_CF02);
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
        let headless = format!("{ARMOR_BEGIN}\nmQANBGUAAAAWCSs=\n{ARMOR_END}\n");
        assert!(dearmor(&headless).unwrap_err().contains("no key"));
        assert!(dearmor(ARMOR_BEGIN).unwrap_err().contains("no END line"));
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
