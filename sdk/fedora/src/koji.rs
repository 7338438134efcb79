//! A Koji client: builds, their RPMs and tags from the hub (XML-RPC), and
//! the files under the hub's `topurl`, with libtaskotron's rules for which
//! RPMs of a build to take ([`RpmFilter`]).
//!
//! ```no_run
//! use taskhost_fedora::koji::{Koji, RpmFilter};
//! # fn main() -> taskhost_sdk::Result<()> {
//! let koji = Koji::fedora();
//! let filter = RpmFilter::new(&["x86_64".into()], &[], false, false);
//! let (build, files) = koji.download_build("xchat-2.8.8-21.fc20", &filter, "rpms")?;
//! # Ok(())
//! # }
//! ```
//!
//! Downloads are checked against what the hub says: the size, then the MD5
//! of the RPM's header and payload (koji's `payloadhash`, the RPM's
//! SIGMD5). A file that does not match is removed and the call fails.

use crate::xmlrpc::{self, Value};
use serde::Deserialize;
use std::collections::BTreeSet;
use taskhost_sdk::{Error, Result, http, log};

/// Fedora's hub.
pub const FEDORA_HUB: &str = "https://koji.fedoraproject.org/kojihub";
/// Fedora's `topurl`: where koji serves packages and logs.
pub const FEDORA_TOPURL: &str = "https://kojipkgs.fedoraproject.org";

/// koji's build states.
pub const BUILD_COMPLETE: i64 = 1;

/// A build, as `getBuild`, `listTagged` and `getLatestBuilds` give it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawBuild")]
pub struct Build {
    pub id: i64,
    /// The package name (the N of the NVR).
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<i64>,
    pub nvr: String,
    /// `BUILDING` 0, `COMPLETE` 1, `DELETED` 2, `FAILED` 3, `CANCELED` 4.
    pub state: Option<i64>,
    /// The storage volume; files of builds off `DEFAULT` live under `vol/NAME/`.
    pub volume_name: Option<String>,
}

/// Some calls give `id`, some `build_id`, many both.
#[derive(Deserialize)]
struct RawBuild {
    id: Option<i64>,
    build_id: Option<i64>,
    package_name: Option<String>,
    name: Option<String>,
    version: String,
    release: String,
    epoch: Option<i64>,
    nvr: String,
    state: Option<i64>,
    volume_name: Option<String>,
}

impl TryFrom<RawBuild> for Build {
    type Error = String;

    fn try_from(raw: RawBuild) -> std::result::Result<Build, String> {
        let id = raw.id.or(raw.build_id).ok_or("a build with no id")?;
        let name = raw
            .package_name
            .or(raw.name)
            .ok_or("a build with no package name")?;
        Ok(Build {
            id,
            name,
            version: raw.version,
            release: raw.release,
            epoch: raw.epoch,
            nvr: raw.nvr,
            state: raw.state,
            volume_name: raw.volume_name,
        })
    }
}

impl Build {
    /// The state as koji names it.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            Some(0) => "BUILDING",
            Some(1) => "COMPLETE",
            Some(2) => "DELETED",
            Some(3) => "FAILED",
            Some(4) => "CANCELED",
            _ => "unknown",
        }
    }
}

/// One RPM of a build, as `listRPMs` gives it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Rpm {
    pub id: i64,
    pub build_id: i64,
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<i64>,
    /// `x86_64`, `noarch`, `src`, ...
    pub arch: String,
    /// Bytes.
    pub size: Option<u64>,
    /// Hex MD5 of the RPM's header and payload (its SIGMD5).
    pub payloadhash: Option<String>,
}

impl Rpm {
    /// `NAME-VERSION-RELEASE.ARCH.rpm`.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            self.name, self.version, self.release, self.arch
        )
    }
}

/// A tag, as `getTag` gives it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Tag {
    pub id: i64,
    pub name: String,
    /// Space-separated arches, when the tag sets them.
    pub arches: Option<String>,
}

/// An NVR split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nvr {
    pub name: String,
    pub version: String,
    pub release: String,
}

/// Splits `NAME-VERSION-RELEASE` (the name may hold `-`).
pub fn parse_nvr(nvr: &str) -> Result<Nvr> {
    let bad = || {
        Error::Invalid(format!(
            "'{nvr}' is not an NVR: write NAME-VERSION-RELEASE, e.g. xchat-2.8.8-21.fc20"
        ))
    };
    let (rest, release) = nvr.rsplit_once('-').ok_or_else(bad)?;
    let (name, version) = rest.rsplit_once('-').ok_or_else(bad)?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return Err(bad());
    }
    for part in [name, version, release] {
        if !is_safe(part) {
            return Err(bad());
        }
    }
    Ok(Nvr {
        name: name.to_string(),
        version: version.to_string(),
        release: release.to_string(),
    })
}

/// Splits an N(E)VR: `NAME-VERSION-RELEASE`, with an epoch as
/// `NAME-EPOCH:VERSION-RELEASE` or `EPOCH:NAME-VERSION-RELEASE` dropped.
pub fn parse_nevr(nevr: &str) -> Result<Nvr> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let plain = match nevr.split_once(':') {
        Some((before, after)) => match before.rsplit_once('-') {
            Some((name, epoch)) if digits(epoch) => format!("{name}-{after}"),
            None if digits(before) => after.to_string(),
            _ => nevr.to_string(),
        },
        None => nevr.to_string(),
    };
    parse_nvr(&plain)
}

/// The Fedora release of a build's dist tag: `40` for `1.fc40` or
/// `2.fc40.1`; none without an `.fcNN`.
pub fn fedora_release(release: &str) -> Option<u32> {
    release.split('.').rev().find_map(|part| {
        let digits = part.strip_prefix("fc")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    })
}

/// The tags holding a release's stable builds, searched in this order:
/// `fNN-updates`, then `fNN` (libtaskotron's download_latest_stable).
pub fn stable_tags(release: u32) -> [String; 2] {
    [format!("f{release}-updates"), format!("f{release}")]
}

/// `-debuginfo`, `-debugsource` and `-debuginfo-*` packages.
pub fn is_debuginfo(name: &str) -> bool {
    name.ends_with("-debuginfo") || name.ends_with("-debugsource") || name.contains("-debuginfo-")
}

/// The concrete arches of a base arch (`i386` is i386..i686, `armhfp` is
/// armv7hl); any other arch is itself.
pub fn expand_arch(arch: &str) -> Vec<String> {
    let family: &[&str] = match arch {
        "i386" => &["i386", "i486", "i586", "i686"],
        "armhfp" => &["armv7hl"],
        _ => return vec![arch.to_string()],
    };
    family.iter().map(|a| a.to_string()).collect()
}

/// Which RPMs of a build to take, by libtaskotron's rules:
/// - `arch` is a list of arches, or holds `all` (every arch of the build);
/// - `noarch` is always added to a non-empty list; an empty list takes no
///   binary RPM (only the source one, with `src`);
/// - base arches expand (`i386` takes i386, i486, i586 and i686);
/// - `src` takes the source RPM;
/// - `debuginfo` takes -debuginfo/-debugsource packages, skipped otherwise;
/// - `arch_exclude` (expanded the same way) wins over all of that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpmFilter {
    /// `None`: every arch.
    arches: Option<BTreeSet<String>>,
    exclude: BTreeSet<String>,
    debuginfo: bool,
}

impl RpmFilter {
    pub fn new(arch: &[String], arch_exclude: &[String], src: bool, debuginfo: bool) -> RpmFilter {
        let mut exclude: BTreeSet<String> =
            arch_exclude.iter().flat_map(|a| expand_arch(a)).collect();
        if !src {
            exclude.insert("src".into());
        }
        let arches = if arch.iter().any(|a| a == "all") {
            None
        } else {
            let mut set: BTreeSet<String> = arch.iter().flat_map(|a| expand_arch(a)).collect();
            if !set.is_empty() {
                set.insert("noarch".into());
            }
            if src {
                set.insert("src".into());
            }
            Some(set.difference(&exclude).cloned().collect())
        };
        RpmFilter {
            arches,
            exclude,
            debuginfo,
        }
    }

    /// The arches to ask `listRPMs` for, sorted; `None`: every arch.
    pub fn query_arches(&self) -> Option<Vec<String>> {
        self.arches.as_ref().map(|s| s.iter().cloned().collect())
    }

    /// No RPM can match (e.g. `arch: []` without `src`).
    pub fn is_empty(&self) -> bool {
        self.arches.as_ref().is_some_and(BTreeSet::is_empty)
    }

    /// Whether RPMs of `arch` are taken.
    pub fn wants_arch(&self, arch: &str) -> bool {
        !self.exclude.contains(arch) && self.arches.as_ref().is_none_or(|s| s.contains(arch))
    }

    /// Whether `rpm` is taken.
    pub fn wants(&self, rpm: &Rpm) -> bool {
        self.wants_arch(&rpm.arch) && (self.debuginfo || !is_debuginfo(&rpm.name))
    }
}

/// A path component from the hub, safe in a URL and a file name.
fn is_safe(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~^-".contains(&b))
}

fn unsafe_field(what: &str, value: &str) -> Error {
    Error::Failed(format!(
        "the koji hub gave {what} {value:?}, which is not a safe file name; refusing to use it"
    ))
}

/// Prefixes an error's message with `context`.
pub(crate) fn context(e: Error, context: &str) -> Error {
    match e {
        Error::AccessDenied(m) => Error::AccessDenied(format!("{context}: {m}")),
        Error::Invalid(m) => Error::Invalid(format!("{context}: {m}")),
        Error::NotFound(m) => Error::NotFound(format!("{context}: {m}")),
        Error::Failed(m) => Error::Failed(format!("{context}: {m}")),
        Error::TimedOut => Error::Failed(format!("{context}: timed out")),
    }
}

/// koji's convention for keyword arguments: a last struct marked
/// `__starstar`.
fn kwargs<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut members: Vec<(String, Value)> = vec![("__starstar".into(), Value::Bool(true))];
    members.extend(pairs.into_iter().map(|(k, v)| (k.to_string(), v)));
    Value::structure(members)
}

/// A Koji hub and its `topurl`.
#[derive(Clone, Debug)]
pub struct Koji {
    hub: String,
    topurl: String,
}

impl Koji {
    /// The hub's XML-RPC URL (e.g. `https://koji.fedoraproject.org/kojihub`)
    /// and its `topurl` (e.g. `https://kojipkgs.fedoraproject.org`).
    pub fn new(hub: &str, topurl: &str) -> Koji {
        Koji {
            hub: hub.to_string(),
            topurl: topurl.trim_end_matches('/').to_string(),
        }
    }

    /// Fedora's Koji.
    pub fn fedora() -> Koji {
        Koji::new(FEDORA_HUB, FEDORA_TOPURL)
    }

    pub fn hub(&self) -> &str {
        &self.hub
    }

    pub fn topurl(&self) -> &str {
        &self.topurl
    }

    /// Calls a hub method and decodes its result.
    pub fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: &[Value],
    ) -> Result<T> {
        xmlrpc::call_as(&self.hub, method, params)
    }

    /// `getBuild(nvr)`: `None` when the hub has no such build.
    pub fn get_build(&self, nvr: &str) -> Result<Option<Build>> {
        self.call("getBuild", &[nvr.into()])
    }

    /// `listRPMs(buildID=build_id, arches=arches)`; `None`: every arch.
    pub fn list_rpms(&self, build_id: i64, arches: Option<&[String]>) -> Result<Vec<Rpm>> {
        let arches = arches.map(|a| Value::from(a.to_vec()));
        self.call(
            "listRPMs",
            &[kwargs([
                ("buildID", build_id.into()),
                ("arches", arches.into()),
            ])],
        )
    }

    /// `listTagged(tag, latest=latest, package=package)`: the builds tagged
    /// in `tag` itself (not inherited), newest first.
    pub fn list_tagged(
        &self,
        tag: &str,
        latest: bool,
        package: Option<&str>,
    ) -> Result<Vec<Build>> {
        self.call(
            "listTagged",
            &[
                tag.into(),
                kwargs([("latest", latest.into()), ("package", package.into())]),
            ],
        )
    }

    /// `getTag(tag)`: `None` when the hub has no such tag.
    pub fn get_tag(&self, tag: &str) -> Result<Option<Tag>> {
        self.call("getTag", &[tag.into()])
    }

    /// `getLatestBuilds(tag, package=package)`: the latest build of each
    /// package in `tag`, inheritance included.
    pub fn get_latest_builds(&self, tag: &str, package: Option<&str>) -> Result<Vec<Build>> {
        self.call(
            "getLatestBuilds",
            &[tag.into(), kwargs([("package", package.into())])],
        )
    }

    /// `{topurl}[/vol/VOLUME]/packages/{name}/{version}/{release}`.
    fn build_dir(&self, build: &Build) -> Result<String> {
        for (what, v) in [
            ("the package name", &build.name),
            ("the version", &build.version),
            ("the release", &build.release),
        ] {
            if !is_safe(v) {
                return Err(unsafe_field(what, v));
            }
        }
        let volume = match build.volume_name.as_deref() {
            None | Some("") | Some("DEFAULT") => String::new(),
            Some(v) if is_safe(v) => format!("/vol/{v}"),
            Some(v) => return Err(unsafe_field("the volume", v)),
        };
        Ok(format!(
            "{}{volume}/packages/{}/{}/{}",
            self.topurl, build.name, build.version, build.release
        ))
    }

    /// Where koji serves `rpm` of `build`:
    /// `{topurl}/packages/{name}/{version}/{release}/{arch}/{N-V-R}.{arch}.rpm`.
    pub fn rpm_url(&self, build: &Build, rpm: &Rpm) -> Result<String> {
        for (what, v) in [
            ("an RPM name", &rpm.name),
            ("an RPM version", &rpm.version),
            ("an RPM release", &rpm.release),
            ("an RPM arch", &rpm.arch),
        ] {
            if !is_safe(v) {
                return Err(unsafe_field(what, v));
            }
        }
        Ok(format!(
            "{}/{}/{}",
            self.build_dir(build)?,
            rpm.arch,
            rpm.file_name()
        ))
    }

    /// Where koji serves the build log of `arch`:
    /// `{topurl}/packages/{name}/{version}/{release}/data/logs/{arch}/build.log`.
    pub fn build_log_url(&self, build: &Build, arch: &str) -> Result<String> {
        if !is_safe(arch) {
            return Err(unsafe_field("an arch", arch));
        }
        Ok(format!(
            "{}/data/logs/{arch}/build.log",
            self.build_dir(build)?
        ))
    }

    /// The build `nvr`, which must exist and be complete.
    pub fn complete_build(&self, nvr: &str) -> Result<Build> {
        parse_nvr(nvr)?;
        let build = self
            .get_build(nvr)
            .map_err(|e| context(e, &format!("looking up the build {nvr}")))?
            .ok_or_else(|| {
                Error::NotFound(format!("koji build {nvr} does not exist on {}", self.hub))
            })?;
        if build.state.is_some_and(|s| s != BUILD_COMPLETE) {
            return Err(Error::Failed(format!(
                "koji build {nvr} is {}, not COMPLETE: it has no RPMs to download",
                build.state_name()
            )));
        }
        Ok(build)
    }

    /// The RPMs of `build` that `filter` takes, sorted by file name.
    pub fn build_rpms(&self, build: &Build, filter: &RpmFilter) -> Result<Vec<Rpm>> {
        if filter.is_empty() {
            return Ok(Vec::new());
        }
        let arches = filter.query_arches();
        let mut rpms: Vec<Rpm> = self
            .list_rpms(build.id, arches.as_deref())
            .map_err(|e| context(e, &format!("listing the RPMs of {}", build.nvr)))?
            .into_iter()
            .filter(|r| filter.wants(r))
            .collect();
        rpms.sort_by_key(Rpm::file_name);
        Ok(rpms)
    }

    /// Downloads `rpm` of `build` into the workspace directory `dir` and
    /// checks it against the hub's size and payload hash. Returns the
    /// file's workspace path.
    pub fn download_rpm(&self, build: &Build, rpm: &Rpm, dir: &str) -> Result<String> {
        let url = self.rpm_url(build, rpm)?;
        let path = join(dir, &rpm.file_name());
        let fetched = http::download(&url, &path, None)?;
        let check = || -> Result<()> {
            if let Some(size) = rpm.size
                && size != fetched.size
            {
                return Err(Error::Failed(format!(
                    "{url}: downloaded {} bytes, but koji says the RPM has {size}; the file was removed",
                    fetched.size
                )));
            }
            if let Some(want) = rpm.payloadhash.as_deref().filter(|h| !h.is_empty()) {
                let got = rpm_sigmd5(&path).map_err(|e| context(e, &url))?;
                if !got.eq_ignore_ascii_case(want) {
                    return Err(Error::Failed(format!(
                        "{url}: the RPM's header and payload have MD5 {got}, but koji says {want}; \
                         the file was removed"
                    )));
                }
            }
            Ok(())
        };
        if let Err(e) = check() {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(path)
    }

    /// Downloads the RPMs of build `nvr` that `filter` takes into `dir`
    /// (created). Returns the build and the files' workspace paths.
    pub fn download_build(
        &self,
        nvr: &str,
        filter: &RpmFilter,
        dir: &str,
    ) -> Result<(Build, Vec<String>)> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Failed(format!("creating '{dir}': {e}")))?;
        let build = self.complete_build(nvr)?;
        let rpms = self.build_rpms(&build, filter)?;
        log::info(format!("{nvr}: downloading {} RPMs into {dir}", rpms.len()));
        let mut files = Vec::new();
        for rpm in &rpms {
            files.push(self.download_rpm(&build, rpm, dir)?);
        }
        Ok((build, files))
    }
}

/// `dir/name`, without doubling a `/`.
pub(crate) fn join(dir: &str, name: &str) -> String {
    match dir.trim_end_matches('/') {
        "" if dir.starts_with('/') => format!("/{name}"),
        "" => name.to_string(),
        d => format!("{d}/{name}"),
    }
}

/// The MD5 of an RPM file's header and payload (what `rpm` stores as
/// SIGMD5 and koji as `payloadhash`), from the workspace file `path`.
pub fn rpm_sigmd5(path: &str) -> Result<String> {
    use md5::{Digest, Md5};
    use std::io::{Read, Seek, SeekFrom};
    let not_rpm = |why: &str| Error::Failed(format!("'{path}' is not an RPM file: {why}"));
    let mut file = std::fs::File::open(path)?;
    let mut lead = [0u8; 96 + 16];
    file.read_exact(&mut lead)
        .map_err(|_| not_rpm("it is too short"))?;
    if lead[..4] != [0xed, 0xab, 0xee, 0xdb] {
        return Err(not_rpm("no RPM lead"));
    }
    let sig = &lead[96..];
    if sig[..4] != [0x8e, 0xad, 0xe8, 0x01] {
        return Err(not_rpm("no signature header"));
    }
    let count = u32::from_be_bytes([sig[8], sig[9], sig[10], sig[11]]) as u64;
    let data = u32::from_be_bytes([sig[12], sig[13], sig[14], sig[15]]) as u64;
    if count > 1 << 16 || data > 1 << 28 {
        return Err(not_rpm("an implausible signature header"));
    }
    // The signature header is padded to 8 bytes; the header follows.
    let sig_len = 16 + 16 * count + data;
    let start = 96 + sig_len + (8 - sig_len % 8) % 8;
    let len = file.metadata()?.len();
    if start >= len {
        return Err(not_rpm("it ends inside its signature header"));
    }
    file.seek(SeekFrom::Start(start))?;
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
    }
    Ok(md5.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn rpm(name: &str, arch: &str) -> Rpm {
        Rpm {
            id: 1,
            build_id: 2,
            name: name.into(),
            version: "1.0".into(),
            release: "1.fc40".into(),
            epoch: None,
            arch: arch.into(),
            size: Some(10),
            payloadhash: None,
        }
    }

    fn build() -> Build {
        Build {
            id: 2002,
            name: "taskhost-demo".into(),
            version: "1.0".into(),
            release: "1.fc40".into(),
            epoch: None,
            nvr: "taskhost-demo-1.0-1.fc40".into(),
            state: Some(1),
            volume_name: Some("DEFAULT".into()),
        }
    }

    /// The arches a filter takes out of a typical build's RPMs.
    fn taken(filter: &RpmFilter) -> Vec<String> {
        let all = [
            ("demo", "x86_64"),
            ("demo", "i686"),
            ("demo", "aarch64"),
            ("demo-docs", "noarch"),
            ("demo", "src"),
            ("demo-debuginfo", "x86_64"),
            ("demo-debugsource", "x86_64"),
            ("demo-debuginfo-common", "i686"),
        ];
        all.iter()
            .map(|(n, a)| rpm(n, a))
            .filter(|r| filter.wants(r))
            .map(|r| format!("{}.{}", r.name, r.arch))
            .collect()
    }

    #[test]
    fn noarch_is_always_added() {
        let f = RpmFilter::new(&strings(&["x86_64"]), &[], false, false);
        assert_eq!(f.query_arches(), Some(strings(&["noarch", "x86_64"])));
        assert_eq!(taken(&f), ["demo.x86_64", "demo-docs.noarch"]);
    }

    #[test]
    fn i386_expands_to_its_family() {
        let f = RpmFilter::new(&strings(&["i386"]), &[], false, false);
        assert_eq!(
            f.query_arches(),
            Some(strings(&["i386", "i486", "i586", "i686", "noarch"]))
        );
        assert_eq!(taken(&f), ["demo.i686", "demo-docs.noarch"]);
        let f = RpmFilter::new(&strings(&["armhfp"]), &[], false, false);
        assert_eq!(f.query_arches(), Some(strings(&["armv7hl", "noarch"])));
    }

    #[test]
    fn src_and_debuginfo_are_asked_for() {
        let f = RpmFilter::new(&strings(&["x86_64"]), &[], true, false);
        assert_eq!(taken(&f), ["demo.x86_64", "demo-docs.noarch", "demo.src"]);
        let f = RpmFilter::new(&strings(&["x86_64"]), &[], false, true);
        assert_eq!(
            taken(&f),
            [
                "demo.x86_64",
                "demo-docs.noarch",
                "demo-debuginfo.x86_64",
                "demo-debugsource.x86_64"
            ]
        );
    }

    #[test]
    fn all_takes_every_arch_but_src_unless_asked() {
        let f = RpmFilter::new(&strings(&["all"]), &[], false, false);
        assert_eq!(f.query_arches(), None);
        assert_eq!(
            taken(&f),
            [
                "demo.x86_64",
                "demo.i686",
                "demo.aarch64",
                "demo-docs.noarch"
            ]
        );
        let f = RpmFilter::new(
            &strings(&["x86_64", "all"]),
            &strings(&["noarch", "i386"]),
            true,
            false,
        );
        assert_eq!(taken(&f), ["demo.x86_64", "demo.aarch64", "demo.src"]);
    }

    #[test]
    fn arch_exclude_wins() {
        let f = RpmFilter::new(
            &strings(&["x86_64", "i386"]),
            &strings(&["noarch", "i686"]),
            true,
            false,
        );
        assert_eq!(
            f.query_arches(),
            Some(strings(&["i386", "i486", "i586", "src", "x86_64"]))
        );
        assert_eq!(taken(&f), ["demo.x86_64", "demo.src"]);
        let f = RpmFilter::new(&strings(&["x86_64"]), &strings(&["src"]), true, false);
        assert_eq!(taken(&f), ["demo.x86_64", "demo-docs.noarch"]);
    }

    #[test]
    fn an_empty_arch_list_takes_only_src() {
        let f = RpmFilter::new(&[], &[], false, false);
        assert!(f.is_empty());
        assert!(taken(&f).is_empty());
        let f = RpmFilter::new(&[], &[], true, true);
        assert_eq!(f.query_arches(), Some(strings(&["src"])));
        assert_eq!(taken(&f), ["demo.src"]);
    }

    #[test]
    fn debuginfo_names() {
        for n in ["a-debuginfo", "a-debugsource", "a-debuginfo-common-x86_64"] {
            assert!(is_debuginfo(n), "{n}");
        }
        for n in ["a", "debuginfo-install", "a-debug", "a-docs"] {
            assert!(!is_debuginfo(n), "{n}");
        }
    }

    #[test]
    fn url_layout() {
        let k = Koji::new("http://h/kojihub", "http://h/kojifiles/");
        let b = build();
        assert_eq!(
            k.rpm_url(&b, &rpm("taskhost-demo-docs", "noarch")).unwrap(),
            "http://h/kojifiles/packages/taskhost-demo/1.0/1.fc40/noarch/taskhost-demo-docs-1.0-1.fc40.noarch.rpm"
        );
        assert_eq!(
            k.build_log_url(&b, "i686").unwrap(),
            "http://h/kojifiles/packages/taskhost-demo/1.0/1.fc40/data/logs/i686/build.log"
        );
        let archived = Build {
            volume_name: Some("archive".into()),
            ..build()
        };
        assert_eq!(
            k.rpm_url(&archived, &rpm("taskhost-demo", "src")).unwrap(),
            "http://h/kojifiles/vol/archive/packages/taskhost-demo/1.0/1.fc40/src/taskhost-demo-1.0-1.fc40.src.rpm"
        );
        assert_eq!(
            Koji::fedora().topurl(),
            "https://kojipkgs.fedoraproject.org"
        );
    }

    #[test]
    fn refuses_unsafe_names_from_the_hub() {
        let k = Koji::new("http://h/kojihub", "http://h/kojifiles");
        let evil = Build {
            name: "..".into(),
            ..build()
        };
        let e = k.rpm_url(&evil, &rpm("x", "x86_64")).unwrap_err();
        assert!(
            matches!(&e, Error::Failed(m) if m.contains("\"..\"")),
            "{e:?}"
        );
        let e = k
            .rpm_url(&build(), &rpm("x/../../etc", "x86_64"))
            .unwrap_err();
        assert!(
            matches!(&e, Error::Failed(m) if m.contains("not a safe file name")),
            "{e:?}"
        );
        assert!(k.build_log_url(&build(), "x86_64?q").is_err());
    }

    #[test]
    fn nevrs_drop_the_epoch_either_way() {
        for nevr in [
            "xchat-2:2.8.8-32.fc40",
            "2:xchat-2.8.8-32.fc40",
            "xchat-2.8.8-32.fc40",
        ] {
            let n = parse_nevr(nevr).unwrap();
            assert_eq!(
                (n.name.as_str(), n.version.as_str(), n.release.as_str()),
                ("xchat", "2.8.8", "32.fc40"),
                "{nevr}"
            );
        }
        assert!(parse_nevr("xchat-x:2.8.8-32.fc40").is_err());
        assert!(parse_nevr(":").is_err());
    }

    #[test]
    fn nvrs_and_dist_tags() {
        let n = parse_nvr("python-foo-bar-1.2.3-4.fc40").unwrap();
        assert_eq!(
            (n.name.as_str(), n.version.as_str(), n.release.as_str()),
            ("python-foo-bar", "1.2.3", "4.fc40")
        );
        for bad in [
            "garbage", "a-b", "-1-2", "a--2", "a-1-", "a/b-1-2", "a-1-2 x",
        ] {
            let e = parse_nvr(bad).unwrap_err();
            assert!(
                matches!(&e, Error::Invalid(m) if m.contains(bad)),
                "{bad}: {e:?}"
            );
        }
        assert_eq!(fedora_release("1.fc40"), Some(40));
        assert_eq!(fedora_release("2.fc39.1"), Some(39));
        assert_eq!(fedora_release("1.el9"), None);
        assert_eq!(fedora_release("1.fc"), None);
        assert_eq!(
            stable_tags(40),
            ["f40-updates".to_string(), "f40".to_string()]
        );
    }

    #[test]
    fn builds_decode_from_each_calls_shape() {
        let from = |v: serde_json::Value| serde_json::from_value::<Build>(v);
        let get_build = serde_json::json!({
            "id": 2002, "build_id": 2002, "name": "taskhost-demo", "package_name": "taskhost-demo",
            "version": "1.0", "release": "1.fc40", "epoch": null, "nvr": "taskhost-demo-1.0-1.fc40",
            "state": 1, "volume_name": "DEFAULT", "extra": null,
        });
        assert_eq!(from(get_build).unwrap(), build());
        let tagged = serde_json::json!({
            "build_id": 7, "package_name": "p", "version": "1", "release": "1", "epoch": 2, "nvr": "p-1-1",
            "tag_name": "f40",
        });
        let b = from(tagged).unwrap();
        assert_eq!(
            (b.id, b.name.as_str(), b.epoch, b.state),
            (7, "p", Some(2), None)
        );
        let e =
            from(serde_json::json!({"version": "1", "release": "1", "nvr": "p-1-1"})).unwrap_err();
        assert!(e.to_string().contains("no id"), "{e}");
    }

    #[test]
    fn kwargs_are_marked() {
        let v = kwargs([("latest", true.into()), ("package", Value::Nil)]);
        assert_eq!(
            v.to_json(),
            serde_json::json!({"__starstar": true, "latest": true, "package": null})
        );
    }

    #[test]
    fn joins_paths() {
        assert_eq!(join("rpms", "a.rpm"), "rpms/a.rpm");
        assert_eq!(join("./rpms/", "a.rpm"), "./rpms/a.rpm");
        assert_eq!(join(".", "a.rpm"), "./a.rpm");
    }

    /// A minimal RPM: lead, a signature header with one entry, padding,
    /// then "header and payload" bytes.
    fn fake_rpm(body: &[u8]) -> Vec<u8> {
        let mut out = vec![0xed, 0xab, 0xee, 0xdb];
        out.resize(96, 0);
        out.extend([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);
        out.extend(1u32.to_be_bytes());
        out.extend(5u32.to_be_bytes());
        out.extend([0u8; 16]); // one index entry
        out.extend(b"abcde"); // 5 bytes of data: 16 + 16 + 5 = 37, pad 3
        out.extend([0u8; 3]);
        out.extend(body);
        out
    }

    #[test]
    fn sigmd5_covers_header_and_payload() {
        let dir = std::env::temp_dir().join(format!("taskhost-fedora-koji-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.rpm");
        std::fs::write(&path, fake_rpm(b"hello")).unwrap();
        // md5("hello")
        assert_eq!(
            rpm_sigmd5(path.to_str().unwrap()).unwrap(),
            "5d41402abc4b2a76b9719d911017c592"
        );
        std::fs::write(&path, b"not an rpm at all").unwrap();
        let e = rpm_sigmd5(path.to_str().unwrap()).unwrap_err();
        assert!(
            matches!(&e, Error::Failed(m) if m.contains("not an RPM")),
            "{e:?}"
        );
        let mut truncated = fake_rpm(b"");
        truncated.truncate(120);
        std::fs::write(&path, truncated).unwrap();
        assert!(rpm_sigmd5(path.to_str().unwrap()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
