//! piuparts' log and base tarball, and the debian:piuparts artifact, for
//! the piuparts plugin.
//!
//! piuparts writes one record per line, `0m12.3s LEVEL: message`; a
//! message of several lines (a FAIL's list of files, a command's output)
//! goes on in lines without that prefix. [`summarize`] reads its PASS /
//! FAIL / SKIP lines, its warnings and errors; [`verdict`] and [`note`]
//! say what they mean. [`tarball`] makes a system tarball readable for
//! piuparts 1.1.

use serde::Serialize;
use std::collections::BTreeMap;
use taskhost_sdk::artifacts::Artifact;
use taskhost_sdk::{ArtifactId, Error, Outcome, Result, Status};

// ---- the log ----------------------------------------------------------

/// One record: its level and its message, continuation lines included.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    /// `INFO`, `ERROR`, ...; empty before piuparts' first record.
    pub level: String,
    /// The message, then its continuation lines.
    pub lines: Vec<String>,
}

const LEVELS: &[&str] = &["DUMP", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/// `0m12.3s LEVEL: message` → (LEVEL, message).
fn record_start(line: &str) -> Option<(&str, &str)> {
    let (time, rest) = line.split_once(' ')?;
    let (minutes, seconds) = time.strip_suffix('s')?.split_once('m')?;
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    if !numeric(minutes) || !numeric(seconds) {
        return None;
    }
    let (level, message) = rest.split_once(": ").or_else(|| {
        // An empty message: `0m1.0s DUMP: ` loses its space to a trim.
        rest.strip_suffix(':').map(|level| (level, ""))
    })?;
    LEVELS.contains(&level).then_some((level, message))
}

/// The log's records, in order; lines before the first record make
/// records of their own, with an empty level.
pub fn records(log: &str) -> Vec<Record> {
    let mut records: Vec<Record> = Vec::new();
    for line in log.lines() {
        match (record_start(line), records.last_mut()) {
            (Some((level, message)), _) => records.push(Record {
                level: level.to_string(),
                lines: vec![message.to_string()],
            }),
            (None, Some(last)) => last.lines.push(line.to_string()),
            // Before piuparts' first record (`You need to be root ...`).
            (None, None) => records.push(Record {
                level: String::new(),
                lines: vec![line.to_string()],
            }),
        }
    }
    records
}

/// A FAIL or a warning: its headline and the files it lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub message: String,
    /// `/etc/foo not owned`, `/etc/issue owned by: base-files`.
    pub files: Vec<String>,
}

impl Finding {
    fn from(headline: &str, rest: &[String]) -> Finding {
        Finding {
            message: headline.trim().to_string(),
            files: rest
                .iter()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|l| !l.is_empty())
                .collect(),
        }
    }

    /// `message file, file` on one line.
    pub fn one_line(&self) -> String {
        // `/etc/x owned by: base-files`, `/etc/y not owned`: the paths.
        let files: Vec<&str> = self
            .files
            .iter()
            .map(|f| {
                let f = f.split(" owned by: ").next().unwrap_or(f);
                f.strip_suffix(" not owned").unwrap_or(f)
            })
            .collect();
        match files.as_slice() {
            [] => self.message.clone(),
            _ => format!("{} {}", self.message, files.join(", ")),
        }
    }
}

/// What a piuparts log says.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `piuparts version X starting up.`
    pub version: Option<String>,
    /// The PASS lines: `Installation and purging test.`, `All tests.`
    pub passed: Vec<String>,
    pub failed: Vec<Finding>,
    pub skipped: Vec<String>,
    /// `Warning: Package purging left files on system:` (with
    /// --warn-on-leftovers-after-purge), adequate's `WARN: ...` and the
    /// like.
    pub warnings: Vec<Finding>,
    /// ERROR records that are no FAIL: `Command failed (status=1): ...`
    /// with the end of that command's output.
    pub errors: Vec<String>,
    /// Lines piuparts printed before logging anything
    /// (`You need to be root to use piuparts.`).
    pub preamble: Vec<String>,
}

/// How many lines of a failed command's output an error keeps.
const ERROR_TAIL: usize = 10;

/// What the log `log` says.
pub fn summarize(log: &str) -> Summary {
    let mut s = Summary::default();
    for record in records(log) {
        let Some((first, rest)) = record.lines.split_first() else {
            continue;
        };
        if record.level.is_empty() {
            s.preamble.extend(record.lines.iter().cloned());
        } else if let Some(version) = first
            .strip_prefix("piuparts version ")
            .and_then(|v| v.strip_suffix(" starting up."))
        {
            s.version = Some(version.to_string());
        } else if let Some(test) = first.strip_prefix("PASS: ") {
            s.passed.push(test.to_string());
        } else if let Some(what) = first.strip_prefix("FAIL: ") {
            s.failed.push(Finding::from(what, rest));
        } else if let Some(what) = first.strip_prefix("SKIP: ") {
            s.skipped.push(what.to_string());
        } else if let Some(what) = first
            .strip_prefix("Warning: ")
            // adequate's findings, logged as errors unless --fail-if-inadequate.
            .or_else(|| first.strip_prefix("WARN: "))
        {
            s.warnings.push(Finding::from(what, rest));
        } else if record.level == "WARNING" {
            s.warnings.push(Finding::from(first, rest));
        } else if record.level == "ERROR" && first != "piuparts run ends." {
            let output: Vec<&str> = rest
                .iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .collect();
            let tail = &output[output.len().saturating_sub(ERROR_TAIL)..];
            let mut text = first.clone();
            for line in tail {
                text.push_str("\n  ");
                text.push_str(line);
            }
            s.errors.push(text);
        }
    }
    s
}

/// The outcome of a piuparts run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Exit 0 and `PASS: All tests.`
    Passed,
    /// Passed, with warnings (files left after purge, ...).
    PassedWithWarnings,
    /// piuparts could not test the packages (`SKIP: All tests. ...`).
    Skipped,
    /// A FAIL line, or piuparts stopped on an error (a maintainer script
    /// failed, apt could not install the packages, ...).
    Failed,
    /// piuparts said neither: it did not run, was killed, or exited 0
    /// without `PASS: All tests.`
    Inconclusive,
}

/// The PASS line that ends a run that passed.
pub const ALL_TESTS: &str = "All tests.";

/// The verdict from piuparts' exit code and its log.
pub fn verdict(code: Option<i32>, s: &Summary) -> Verdict {
    let all_passed = s.passed.iter().any(|p| p == ALL_TESTS);
    match code {
        Some(0) if all_passed && !s.skipped.is_empty() => Verdict::Skipped,
        Some(0) if all_passed && !s.warnings.is_empty() => Verdict::PassedWithWarnings,
        Some(0) if all_passed => Verdict::Passed,
        Some(0) => Verdict::Inconclusive,
        Some(_) if !s.failed.is_empty() || !s.errors.is_empty() => Verdict::Failed,
        _ => Verdict::Inconclusive,
    }
}

/// The result's note: what passed, or why not.
pub fn note(verdict: Verdict, s: &Summary) -> String {
    let passed: Vec<&str> = s
        .passed
        .iter()
        .filter(|p| *p != ALL_TESTS)
        .map(|p| p.trim_end_matches('.'))
        .collect();
    let findings = |list: &[Finding]| {
        list.iter()
            .map(Finding::one_line)
            .collect::<Vec<_>>()
            .join("; ")
    };
    match verdict {
        Verdict::Passed => format!("PASS: {}", passed.join("; ")),
        Verdict::PassedWithWarnings => format!(
            "PASS: {}; {} warning(s): {}",
            passed.join("; "),
            s.warnings.len(),
            findings(&s.warnings)
        ),
        Verdict::Skipped => format!("SKIP: {}", s.skipped.join("; ")),
        Verdict::Failed if !s.failed.is_empty() => {
            // piuparts ends with a FAIL naming the test that failed; the
            // ones before it say why.
            let (reasons, tests): (Vec<&Finding>, Vec<&Finding>) = s
                .failed
                .iter()
                .partition(|f| !f.message.ends_with(" test.") && !f.message.ends_with(" tests."));
            let reasons: Vec<Finding> = reasons.into_iter().cloned().collect();
            let tests: Vec<&str> = tests
                .iter()
                .map(|f| f.message.trim_end_matches('.'))
                .collect();
            match (tests.is_empty(), reasons.is_empty()) {
                (false, false) => format!("FAIL: {}: {}", tests.join("; "), findings(&reasons)),
                (true, _) => format!("FAIL: {}", findings(&reasons)),
                (false, true) => format!("FAIL: {}", tests.join("; ")),
            }
        }
        Verdict::Failed => {
            let first = s
                .errors
                .first()
                .map_or("", |e| e.lines().next().unwrap_or(e));
            format!("piuparts stopped: {first}")
        }
        Verdict::Inconclusive => "piuparts gave no verdict".to_string(),
    }
}

impl Verdict {
    /// The result's outcome: warnings and skips are `info`.
    pub fn outcome(self) -> Outcome {
        match self {
            Verdict::Passed => Outcome::Passed,
            Verdict::PassedWithWarnings | Verdict::Skipped => Outcome::Info,
            _ => Outcome::Failed,
        }
    }

    /// The task's status: passed with or without warnings is success.
    pub fn status(self) -> Status {
        match self {
            Verdict::Passed | Verdict::PassedWithWarnings => Status::Success,
            Verdict::Skipped => Status::Skipped,
            _ => Status::Failure,
        }
    }
}

/// Findings as text: each message, then its files indented.
pub fn findings(list: &[Finding]) -> String {
    list.iter()
        .map(|f| {
            let mut text = f.message.clone();
            for file in &f.files {
                text.push_str("\n  ");
                text.push_str(file);
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Summary {
    /// The result's keyvals: `piuparts_exit_code` (`none` without one),
    /// then `failures`, `warnings` and `errors`, those that are not empty.
    pub fn keyvals(&self, exit_code: Option<i32>) -> Vec<(&'static str, String)> {
        let code = exit_code.map_or("none".into(), |c| c.to_string());
        let mut keyvals = vec![("piuparts_exit_code", code)];
        if !self.failed.is_empty() {
            keyvals.push(("failures", findings(&self.failed)));
        }
        if !self.warnings.is_empty() {
            keyvals.push(("warnings", findings(&self.warnings)));
        }
        if !self.errors.is_empty() {
            keyvals.push(("errors", self.errors.join("\n")));
        }
        keyvals
    }
}

/// How a run ended, for a message: `exited 1`, `timed out`, ...
pub fn how_it_ended(timed_out: bool, code: Option<i32>, signal: Option<i32>) -> String {
    match (timed_out, code, signal) {
        (true, ..) => "timed out".to_string(),
        (false, Some(code), _) => format!("exited {code}"),
        (false, None, Some(signal)) => format!("was killed by signal {signal}"),
        (false, None, None) => "ended".to_string(),
    }
}

/// The error of a run without verdict that ended `how`: what piuparts
/// said last (on `stderr`, else at the end of its `log`), with a hint when
/// it was not root. `id` is the debian:piuparts artifact.
pub fn no_verdict(how: &str, stderr: &str, log: &str, id: ArtifactId) -> String {
    let said_in = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect()
    };
    let mut said = said_in(stderr);
    if said.is_empty() {
        said = said_in(log);
    }
    let not_root = ["need to be root", "Operation not permitted"];
    let hint = if said.iter().any(|l| not_root.iter().any(|n| l.contains(n))) {
        " (piuparts runs as root: run runtask as root)"
    } else {
        ""
    };
    let ending = match &said[said.len().saturating_sub(5)..] {
        [] => ", and it printed nothing".to_string(),
        last => format!(": {}", last.join(" | ")),
    };
    format!("piuparts {how} without a verdict{hint}; its log is artifact {id}{ending}")
}

// ---- inputs -----------------------------------------------------------

/// `NAME_VERSION_ARCH.deb` → (name, arch); a `.udeb` or any other file
/// gives `None`.
pub fn deb_name(path: &str) -> Option<(&str, &str)> {
    let stem = path.rsplit('/').next()?.strip_suffix(".deb")?;
    let mut parts = stem.split('_');
    let (name, _version, arch) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next().is_none().then_some((name, arch))
}

/// A string of an artifact's data; empty when absent or not a string.
pub fn field<'a>(artifact: &'a Artifact, key: &str) -> &'a str {
    artifact
        .data
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

/// A system tarball (task_data key `key`) must be for `host_arch`:
/// piuparts runs the packages' maintainer scripts in it, natively.
pub fn check_tarball(key: &str, artifact: &Artifact, host_arch: &str) -> Result<()> {
    match field(artifact, "architecture") {
        "" => Ok(()),
        arch if arch == host_arch => Ok(()),
        arch => Err(Error::invalid(format!(
            "{key}: artifact {} is an {arch} system, but host_architecture is {host_arch}; \
             give an {host_arch} system tarball",
            artifact.id
        ))),
    }
}

/// Which of a system tarball artifact's files (workspace paths) is the
/// tarball: the one its data names, else the first that looks like one.
pub fn find_tarball<'a>(paths: &'a [String], filename: &str) -> Option<&'a String> {
    paths
        .iter()
        .find(|p| !filename.is_empty() && p.rsplit('/').next() == Some(filename))
        .or_else(|| {
            paths.iter().find(|p| {
                let name = p.rsplit('/').next().unwrap_or(p);
                name.contains(".tar") || name.ends_with(".tgz")
            })
        })
}

// ---- the debian:piuparts artifact -------------------------------------

/// The base tarball piuparts tested in, and what was done to it.
#[derive(Debug, Serialize)]
pub struct BaseTgz {
    pub id: ArtifactId,
    pub filename: String,
    pub codename: String,
    pub architecture: String,
    pub with_dev: bool,
    /// Re-packed as gzip for piuparts.
    pub repacked: bool,
    pub dev_entries_removed: usize,
}

impl BaseTgz {
    /// The base tarball `artifact`, not re-packed (yet).
    pub fn of(artifact: &Artifact) -> BaseTgz {
        BaseTgz {
            id: artifact.id,
            filename: field(artifact, "filename").to_string(),
            codename: field(artifact, "codename").to_string(),
            architecture: field(artifact, "architecture").to_string(),
            with_dev: artifact
                .data
                .get("with_dev")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            repacked: false,
            dev_entries_removed: 0,
        }
    }
}

impl BaseTgz {
    /// Its codename, or `the base tarball` when its data names none.
    pub fn name(&self) -> &str {
        match self.codename.as_str() {
            "" => "the base tarball",
            codename => codename,
        }
    }

    /// Makes `source`, this base tarball's file, readable for piuparts
    /// 1.1: re-packs it to `target` as gzip, without /dev/* when
    /// `with_dev`, and removes `source`; a .tar.gz without /dev is kept as
    /// it is (`None`). A file that is no tarball is an invalid
    /// `base_tgz_id`.
    pub fn repack(&mut self, source: &str, target: &str) -> Result<Option<tarball::Repacked>> {
        use std::io::{BufRead, BufReader, BufWriter};
        let id = self.id;
        let bad = |e: std::io::Error| {
            Error::invalid(format!("base_tgz_id: artifact {id}: {source}: {e}"))
        };
        let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(source)?);
        let format = tarball::sniff(reader.fill_buf()?).map_err(bad)?;
        if format == tarball::Format::Gzip && !self.with_dev {
            return Ok(None);
        }
        let out = BufWriter::with_capacity(1 << 20, std::fs::File::create(target)?);
        let done = tarball::repack(reader, out, self.with_dev).map_err(bad)?;
        std::fs::remove_file(source)?;
        self.repacked = true;
        self.dev_entries_removed = done.removed;
        Ok(Some(done))
    }
}

/// Package name → .deb file name, for the .deb file names `files`.
pub fn packages<'a>(files: &[&'a str]) -> BTreeMap<&'a str, &'a str> {
    files
        .iter()
        .map(|f| (deb_name(f).map_or(*f, |(name, _)| name), *f))
        .collect()
}

/// The `debian:piuparts` data.
#[derive(Debug, Serialize)]
pub struct PiupartsData<'a> {
    /// Package name → .deb file name ([`packages`]).
    pub packages: BTreeMap<&'a str, &'a str>,
    pub host_architecture: &'a str,
    pub environment: ArtifactId,
    pub base_tgz: &'a BaseTgz,
    pub cmdline: String,
    pub exit_code: Option<i32>,
    pub verdict: Verdict,
    /// What the log says ([`Summary::data`]).
    #[serde(flatten)]
    pub log: LogData<'a>,
}

/// The log's part of the `debian:piuparts` data.
#[derive(Debug, Serialize)]
pub struct LogData<'a> {
    pub piuparts_version: Option<&'a str>,
    pub passed: &'a [String],
    pub failed: &'a [Finding],
    pub skipped: &'a [String],
    pub warnings: &'a [Finding],
    pub errors: &'a [String],
}

impl Summary {
    /// The summary as the `debian:piuparts` data holds it.
    pub fn data(&self) -> LogData<'_> {
        LogData {
            piuparts_version: self.version.as_deref(),
            passed: &self.passed,
            failed: &self.failed,
            skipped: &self.skipped,
            warnings: &self.warnings,
            errors: &self.errors,
        }
    }
}

// ---- the base tarball -------------------------------------------------

pub mod tarball {
    //! The base tarball, made readable for piuparts 1.1.
    //!
    //! piuparts 1.1 unpacks `--basetgz` with `tar -zxf`: gzip only, while
    //! system tarballs are usually `.tar.xz`. The spec also wants `/dev/*`
    //! gone when the artifact says `with_dev`. [`repack`] does both in one
    //! pass: it copies the archive's members byte for byte (PAX and GNU
    //! long-name records included, so xattrs and long names survive) and
    //! leaves out those under `./dev/`, with the records that describe them.

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::{self, BufRead, Read, Write};

    const BLOCK: usize = 512;

    /// How a tarball is compressed.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Format {
        Xz,
        Gzip,
        /// Not compressed.
        Tar,
    }

    /// Tells the compression from the magic bytes; names the ones it cannot
    /// read.
    pub fn sniff(head: &[u8]) -> io::Result<Format> {
        const TARS: &str = "a .tar, .tar.gz or .tar.xz";
        if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Ok(Format::Xz)
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Ok(Format::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Err(unsupported(format!("zstd-compressed; give {TARS}")))
        } else if head.starts_with(b"BZh") {
            Err(unsupported(format!("bzip2-compressed; give {TARS}")))
        } else if head.get(257..262) == Some(b"ustar") {
            Ok(Format::Tar)
        } else {
            Err(unsupported(format!("not a tarball; give {TARS}")))
        }
    }

    fn unsupported(why: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, why)
    }

    /// Whether `path` (as a tarball names it: `./dev/null`, `dev/null`,
    /// `/dev/null`) is something under `/dev`, not `/dev` itself.
    pub fn under_dev(path: &[u8]) -> bool {
        let path = path.strip_prefix(b"./").unwrap_or(path);
        let path = path.strip_prefix(b"/").unwrap_or(path);
        path.strip_prefix(b"dev/")
            .is_some_and(|rest| !rest.is_empty() && rest != b"/")
    }

    /// What [`repack`] did.
    #[derive(Debug, Default, PartialEq, Eq)]
    pub struct Repacked {
        /// Members copied.
        pub kept: usize,
        /// Members left out (under `./dev/`).
        pub removed: usize,
    }

    impl Repacked {
        /// What the log says of it, `drop_dev` as given to [`repack`].
        pub fn describe(&self, drop_dev: bool) -> String {
            format!(
                "re-packed the base tarball as gzip ({} members{})",
                self.kept,
                if drop_dev {
                    format!(", {} under /dev left out", self.removed)
                } else {
                    String::new()
                }
            )
        }
    }

    /// Copies the tarball `input` (xz, gzip or plain) to `output` as a
    /// gzip-compressed tarball, leaving out `./dev/*` when `drop_dev`.
    pub fn repack(
        mut input: impl BufRead,
        output: impl Write,
        drop_dev: bool,
    ) -> io::Result<Repacked> {
        let kind = sniff(input.fill_buf()?)?;
        let reader: Box<dyn Read + '_> = match kind {
            Format::Xz => Box::new(lzma_rust2::XzReader::new(input, true)),
            Format::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
            Format::Tar => Box::new(input),
        };
        // Stored, not compressed: compressing costs more here than the
        // larger file costs tar -z.
        let mut out = GzEncoder::new(output, Compression::none());
        let done = filter(reader, &mut out, drop_dev)?;
        out.finish()?.flush()?;
        Ok(done)
    }

    /// The member-by-member copy of [`repack`], uncompressed on both sides.
    pub fn filter(input: impl Read, out: &mut impl Write, drop_dev: bool) -> io::Result<Repacked> {
        let mut archive = tar::Archive::new(input);
        let mut done = Repacked::default();
        // Records describing the next member: (header, data).
        let mut pending: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for entry in archive.entries()?.raw(true) {
            let mut entry = entry?;
            let header = entry.header().as_bytes().to_vec();
            let kind = entry.header().entry_type();
            if kind.is_gnu_sparse() {
                return Err(unsupported(format!(
                    "{}: GNU sparse members are not supported",
                    String::from_utf8_lossy(&entry.header().path_bytes())
                )));
            }
            if kind.is_pax_local_extensions() || kind.is_gnu_longname() || kind.is_gnu_longlink() {
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                pending.push((header, data));
                continue;
            }
            if !kind.is_pax_global_extensions() {
                let path = long_path(&pending).unwrap_or_else(|| entry.path_bytes().into_owned());
                if drop_dev && under_dev(&path) {
                    pending.clear();
                    done.removed += 1;
                    continue;
                }
                done.kept += 1;
            }
            for (header, data) in pending.drain(..) {
                out.write_all(&header)?;
                out.write_all(&data)?;
                pad(out, data.len() as u64)?;
            }
            out.write_all(&header)?;
            let size = io::copy(&mut entry, out)?;
            pad(out, size)?;
        }
        if !pending.is_empty() {
            return Err(unsupported(
                "the tarball ends with a PAX or long-name record that describes no member".into(),
            ));
        }
        out.write_all(&[0; 2 * BLOCK])?;
        Ok(done)
    }

    /// The member's name from a PAX `path` record or a GNU long name.
    fn long_path(pending: &[(Vec<u8>, Vec<u8>)]) -> Option<Vec<u8>> {
        let mut found = None;
        for (header, data) in pending {
            match header.get(156) {
                Some(b'x') => {
                    for ext in tar::PaxExtensions::new(data).flatten() {
                        if ext.key_bytes() == b"path" {
                            found = Some(ext.value_bytes().to_vec());
                        }
                    }
                }
                Some(b'L') => {
                    let name = data.split(|b| *b == 0).next().unwrap_or_default();
                    found = Some(name.to_vec());
                }
                _ => {}
            }
        }
        found
    }

    fn pad(out: &mut impl Write, size: u64) -> io::Result<()> {
        let rest = (size % BLOCK as u64) as usize;
        if rest != 0 {
            out.write_all(&[0; BLOCK][..BLOCK - rest])?;
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use tar::{EntryType, Header};

        fn member(tar: &mut tar::Builder<Vec<u8>>, name: &str, kind: EntryType, body: &[u8]) {
            let mut header = Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            if kind == EntryType::Char {
                header.set_device_major(1).unwrap();
                header.set_device_minor(3).unwrap();
            }
            tar.append_data(&mut header, name, body).unwrap();
        }

        /// A tarball as mmdebstrap writes it: /dev first, then the system,
        /// with a long name under /dev and one outside it.
        fn system() -> Vec<u8> {
            let mut tar = tar::Builder::new(Vec::new());
            let long = format!("./dev/{}", "x".repeat(150));
            let long_etc = format!("./etc/{}", "y".repeat(150));
            member(&mut tar, "./dev/", EntryType::Directory, b"");
            member(&mut tar, "./dev/null", EntryType::Char, b"");
            member(&mut tar, &long, EntryType::Regular, b"long dev");
            member(&mut tar, "./dev/pts/", EntryType::Directory, b"");
            member(&mut tar, "./", EntryType::Directory, b"");
            member(&mut tar, "./etc/hostname", EntryType::Regular, b"box\n");
            member(&mut tar, &long_etc, EntryType::Regular, &[7; 1000]);
            member(&mut tar, "./devices.txt", EntryType::Regular, b"not /dev");
            // GNU tar --format=pax: a PAX record naming a /dev member.
            let record = b"19 path=./dev/zero\n";
            let mut pax = Header::new_ustar();
            pax.set_entry_type(EntryType::XHeader);
            pax.set_size(record.len() as u64);
            tar.append_data(&mut pax, "./PaxHeaders/zero", &record[..])
                .unwrap();
            // Its ustar name is not under /dev: only the PAX path says so.
            member(&mut tar, "./placeholder", EntryType::Char, b"");
            tar.into_inner().unwrap()
        }

        fn names(tar: &[u8]) -> Vec<String> {
            tar::Archive::new(tar)
                .entries()
                .unwrap()
                .map(|e| {
                    let path = e.unwrap().path().unwrap().display().to_string();
                    // tar::Builder writes short names without their `./`.
                    path.strip_prefix("./").map_or(path.clone(), str::to_string)
                })
                .collect()
        }

        #[test]
        fn dev_entries_and_their_long_names_are_left_out() {
            let mut out = Vec::new();
            let done = filter(&system()[..], &mut out, true).unwrap();
            assert_eq!(
                done,
                Repacked {
                    kept: 5,
                    removed: 4
                }
            );
            let long_etc = format!("etc/{}", "y".repeat(150));
            assert_eq!(
                names(&out),
                ["dev/", "", "etc/hostname", long_etc.as_str(), "devices.txt"]
            );
        }

        #[test]
        fn without_drop_dev_the_copy_is_byte_for_byte() {
            let input = system();
            let mut out = Vec::new();
            let done = filter(&input[..], &mut out, false).unwrap();
            assert_eq!(done.removed, 0);
            // tar::Builder pads its end to 1024 zero bytes, as filter does.
            assert_eq!(out, input);
        }

        #[test]
        fn kept_members_keep_their_contents() {
            let mut out = Vec::new();
            filter(&system()[..], &mut out, true).unwrap();
            let mut archive = tar::Archive::new(&out[..]);
            let mut hostname = String::new();
            for entry in archive.entries().unwrap() {
                let mut entry = entry.unwrap();
                if entry.path().unwrap().ends_with("hostname") {
                    entry.read_to_string(&mut hostname).unwrap();
                }
            }
            assert_eq!(hostname, "box\n");
        }

        #[test]
        fn xz_input_becomes_gzip_output() {
            let mut xz =
                lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1))
                    .unwrap();
            xz.write_all(&system()).unwrap();
            let xz = xz.finish().unwrap();
            let mut gz = Vec::new();
            let done = repack(&xz[..], &mut gz, true).unwrap();
            assert_eq!(done.removed, 4);
            assert_eq!(sniff(&gz).unwrap(), Format::Gzip);
            let mut tar = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut tar)
                .unwrap();
            assert!(names(&tar).contains(&"etc/hostname".to_string()));
            assert!(!names(&tar).contains(&"dev/null".to_string()));
        }

        #[test]
        fn gzip_and_plain_inputs_are_read_too() {
            let plain = system();
            let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
            gz.write_all(&plain).unwrap();
            let gz = gz.finish().unwrap();
            for input in [&plain[..], &gz[..]] {
                let done = repack(input, &mut Vec::new(), true).unwrap();
                assert_eq!(
                    done,
                    Repacked {
                        kept: 5,
                        removed: 4
                    }
                );
            }
        }

        #[test]
        fn other_formats_are_refused_with_what_to_give() {
            for (head, what) in [
                (&[0x28, 0xb5, 0x2f, 0xfd, 0, 0][..], "zstd"),
                (b"BZh91AY", "bzip2"),
                (b"hello, world", "not a tarball"),
            ] {
                let e = repack(head, &mut Vec::new(), true).unwrap_err();
                let text = e.to_string();
                assert!(text.contains(what) && text.contains(".tar.xz"), "{text}");
            }
        }

        #[test]
        fn only_what_is_under_dev_counts_as_dev() {
            for yes in ["./dev/null", "dev/pts/", "/dev/shm/x", "./dev/a/b"] {
                assert!(under_dev(yes.as_bytes()), "{yes}");
            }
            for no in [
                "./dev/",
                "./dev",
                "dev/",
                "./devices",
                "./etc/dev/x",
                "./",
                "./usr/dev/",
            ] {
                assert!(!under_dev(no.as_bytes()), "{no}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSED: &str = "\
0m0.0s INFO: ------------------------------------------------------------------------------
0m0.0s INFO: piuparts version 1.1.7 starting up.
0m0.0s INFO: Command line arguments: /usr/sbin/piuparts --keep-sources-list x.deb
0m0.2s DEBUG: Starting command: ['tar', '-C', '/tmp/x', '-zxf', 'base.tar.gz']
0m3.0s DUMP: 
  Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]
  FAIL: not a record, just apt output
0m20.1s INFO: PASS: Installation and purging test.
0m20.2s INFO: Can't test upgrade: packages not known by apt-get.
0m21.0s INFO: PASS: All tests.
0m21.0s INFO: piuparts run ends.
";

    #[test]
    fn records_carry_their_continuation_lines() {
        let r = records(PASSED);
        let dump = r.iter().find(|r| r.level == "DUMP").unwrap();
        assert_eq!(dump.lines.len(), 3, "{dump:?}");
        assert_eq!(dump.lines[2], "  FAIL: not a record, just apt output");
        assert!(record_start("  0m1.0s INFO: indented").is_none());
        assert!(record_start("10m59.9s ERROR: x").is_some());
        assert!(record_start("0m1.0s NOTICE: x").is_none());
    }

    #[test]
    fn a_clean_run_passes() {
        let s = summarize(PASSED);
        assert_eq!(s.version.as_deref(), Some("1.1.7"));
        assert_eq!(s.passed, ["Installation and purging test.", "All tests."]);
        assert!(s.failed.is_empty() && s.warnings.is_empty() && s.errors.is_empty());
        assert_eq!(verdict(Some(0), &s), Verdict::Passed);
        assert_eq!(
            note(Verdict::Passed, &s),
            "PASS: Installation and purging test"
        );
        assert_eq!(verdict(Some(1), &s), Verdict::Inconclusive);
        assert_eq!(verdict(None, &s), Verdict::Inconclusive);
    }

    #[test]
    fn files_left_after_purge_are_a_warning_with_the_files() {
        let log = PASSED.replace(
            "0m20.1s INFO: PASS",
            "0m19.0s INFO: Warning: Package purging left files on system:\n  \
             /etc/th-leftover.conf\t not owned\n  /var/lib/th-leftover/\t not owned\n\n0m20.1s INFO: PASS",
        );
        let s = summarize(&log);
        assert_eq!(
            s.warnings,
            [Finding {
                message: "Package purging left files on system:".into(),
                files: vec![
                    "/etc/th-leftover.conf not owned".into(),
                    "/var/lib/th-leftover/ not owned".into()
                ],
            }]
        );
        let v = verdict(Some(0), &s);
        assert_eq!(v, Verdict::PassedWithWarnings);
        assert_eq!(
            note(v, &s),
            "PASS: Installation and purging test; 1 warning(s): Package purging left files on system: \
             /etc/th-leftover.conf, /var/lib/th-leftover/"
        );
    }

    #[test]
    fn adequate_findings_are_warnings_not_errors() {
        let log = PASSED.replace(
            "0m20.1s INFO: PASS",
            "0m17.3s ERROR: WARN: Inadequate results from running adequate!\n  \
             th: missing-copyright-file /usr/share/doc/th/copyright\n\n\
             0m17.3s ERROR: WARN: Running adequate resulted in inadequate tags found:  missing-copyright-file \n\
             0m20.1s INFO: PASS",
        );
        let s = summarize(&log);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.warnings.len(), 2);
        assert_eq!(
            s.warnings[0].one_line(),
            "Inadequate results from running adequate! th: missing-copyright-file /usr/share/doc/th/copyright"
        );
        assert_eq!(verdict(Some(0), &s), Verdict::PassedWithWarnings);
    }

    /// piuparts 1.1.7 on a package whose postinst runs `add-shell` and
    /// whose postrm does not run `remove-shell`.
    const FAILED: &str = "\
0m0.0s INFO: piuparts version 1.1.7 starting up.
0m32.8s DEBUG: Modified(user, group, mode, size, target): /etc/shells expected(root, root, - 100644, 128, None) != found(root, root, - 100644, 146, None)
0m32.9s ERROR: FAIL: After purging files have been modified:
  /etc/shells\t not owned

0m32.9s ERROR: FAIL: Installation and purging test.
0m33.2s DEBUG: Starting command: ['umount', 'piuparts/tmp/tmpsg0nov3x/dev/shm']
0m33.2s DEBUG: Command ok: ['umount', 'piuparts/tmp/tmpsg0nov3x/dev/shm']
0m34.0s ERROR: piuparts run ends.
";

    #[test]
    fn a_fail_names_the_test_and_the_files() {
        let s = summarize(FAILED);
        assert_eq!(s.failed.len(), 2);
        assert_eq!(s.failed[0].files, ["/etc/shells not owned"]);
        assert!(
            s.errors.is_empty(),
            "FAIL lines are not errors: {:?}",
            s.errors
        );
        let v = verdict(Some(1), &s);
        assert_eq!(v, Verdict::Failed);
        assert_eq!(
            note(v, &s),
            "FAIL: Installation and purging test: After purging files have been modified: /etc/shells"
        );
        // A FAIL line with exit 0 is no pass: piuparts never says PASS then.
        assert_eq!(verdict(Some(0), &s), Verdict::Inconclusive);
    }

    #[test]
    fn a_fail_that_stops_piuparts_before_naming_the_test_is_the_reason() {
        // piuparts 1.1.7 on a postinst appending to base-files' /etc/issue.
        let log = "\
0m0.0s INFO: piuparts version 1.1.7 starting up.
0m23.9s ERROR: FAIL: debsums reports modifications inside the chroot:
  /etc/issue
  
0m24.3s DEBUG: Starting command: ['umount', 'piuparts/tmp/tmp4u8k4so6/dev/shm']
0m26.2s ERROR: piuparts run ends.
";
        let s = summarize(log);
        let v = verdict(Some(1), &s);
        assert_eq!(v, Verdict::Failed);
        assert_eq!(
            note(v, &s),
            "FAIL: debsums reports modifications inside the chroot: /etc/issue"
        );
    }

    #[test]
    fn a_failed_command_is_a_failure_with_its_output() {
        let log = "\
0m0.0s INFO: piuparts version 1.1.7 starting up.
0m9.0s ERROR: Command failed (status=100): ['chroot', '/tmp/x', 'apt-get', 'install', './tmp/th_1.0_all.deb']
  Setting up th (1.0) ...
  th: postinst fails on purpose
  dpkg: error processing package th (--configure):

0m9.1s ERROR: piuparts run ends.
";
        let s = summarize(log);
        assert_eq!(s.errors.len(), 1);
        assert!(s.errors[0].ends_with("dpkg: error processing package th (--configure):"));
        let v = verdict(Some(1), &s);
        assert_eq!(v, Verdict::Failed);
        assert!(
            note(v, &s).starts_with("piuparts stopped: Command failed (status=100)"),
            "{}",
            note(v, &s)
        );
    }

    #[test]
    fn a_run_that_never_started_is_inconclusive() {
        let s = summarize("You need to be root to use piuparts.\n");
        assert_eq!(s.preamble, ["You need to be root to use piuparts."]);
        assert_eq!(verdict(Some(1), &s), Verdict::Inconclusive);
    }

    #[test]
    fn a_skip_is_a_skip() {
        let log = PASSED.replace(
            "0m20.1s INFO: PASS: Installation and purging test.",
            "0m5.0s INFO: SKIP: All tests. Package cannot be tested with piuparts: th.",
        );
        let s = summarize(&log);
        assert_eq!(verdict(Some(0), &s), Verdict::Skipped);
    }

    #[test]
    fn deb_names_give_name_and_architecture() {
        assert_eq!(
            deb_name("piuparts/input/3/th-clean_1.0_all.deb"),
            Some(("th-clean", "all"))
        );
        assert_eq!(deb_name("x_1.0-1_amd64.deb"), Some(("x", "amd64")));
        assert_eq!(deb_name("x_1.0_amd64.udeb"), None);
        assert_eq!(deb_name("x_1.0_amd64.changes"), None);
        assert_eq!(deb_name("x.deb"), None);
        assert_eq!(deb_name("x_1_amd64_extra.deb"), None);
    }

    fn artifact(data: serde_json::Value) -> Artifact {
        Artifact {
            id: 30,
            category: "debian:system-tarball".into(),
            data,
            files: Vec::new(),
        }
    }

    #[test]
    fn system_tarballs_must_fit_the_host_architecture() {
        let amd64 = artifact(serde_json::json!({"architecture": "amd64"}));
        check_tarball("environment", &amd64, "amd64").unwrap();
        check_tarball("environment", &artifact(serde_json::json!({})), "amd64").unwrap();
        let odd = artifact(serde_json::json!({"architecture": 7}));
        check_tarball("environment", &odd, "amd64").unwrap();
        match check_tarball("base_tgz_id", &amd64, "arm64") {
            Err(Error::Invalid(m)) => assert_eq!(
                m,
                "base_tgz_id: artifact 30 is an amd64 system, but host_architecture is arm64; \
                 give an arm64 system tarball"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_base_tarball_is_the_named_file_else_the_first_tarball() {
        let paths: Vec<String> = ["b/README", "b/system.tar.xz", "b/other.tgz"]
            .map(String::from)
            .to_vec();
        assert_eq!(find_tarball(&paths, "other.tgz"), Some(&paths[2]));
        assert_eq!(find_tarball(&paths, ""), Some(&paths[1]));
        assert_eq!(find_tarball(&paths, "gone.tar"), Some(&paths[1]));
        assert_eq!(find_tarball(&paths[..1], ""), None);
        let base = BaseTgz::of(&artifact(serde_json::json!({
            "filename": "other.tgz", "codename": "bookworm", "with_dev": true
        })));
        assert_eq!(
            (
                base.filename.as_str(),
                base.codename.as_str(),
                base.with_dev
            ),
            ("other.tgz", "bookworm", true)
        );
        assert!(!BaseTgz::of(&artifact(serde_json::json!({"with_dev": "yes"}))).with_dev);
    }

    #[test]
    fn verdicts_give_outcomes_and_statuses() {
        assert_eq!(Verdict::Passed.outcome(), Outcome::Passed);
        assert_eq!(Verdict::PassedWithWarnings.outcome(), Outcome::Info);
        assert_eq!(Verdict::Skipped.outcome(), Outcome::Info);
        assert_eq!(Verdict::Failed.outcome(), Outcome::Failed);
        assert_eq!(Verdict::PassedWithWarnings.status(), Status::Success);
        assert_eq!(Verdict::Skipped.status(), Status::Skipped);
        assert_eq!(Verdict::Failed.status(), Status::Failure);
    }

    #[test]
    fn keyvals_hold_what_is_not_empty() {
        assert_eq!(
            summarize(PASSED).keyvals(Some(0)),
            [("piuparts_exit_code", "0".to_string())]
        );
        let s = Summary {
            failed: vec![Finding {
                message: "Package purging left files on system:".into(),
                files: vec!["/etc/x not owned".into()],
            }],
            errors: vec!["Command failed".into(), "again".into()],
            ..Summary::default()
        };
        assert_eq!(
            s.keyvals(None),
            [
                ("piuparts_exit_code", "none".to_string()),
                (
                    "failures",
                    "Package purging left files on system:\n  /etc/x not owned".to_string()
                ),
                ("errors", "Command failed\nagain".to_string()),
            ]
        );
    }

    #[test]
    fn a_run_without_verdict_says_how_it_ended_and_what_piuparts_said() {
        assert_eq!(how_it_ended(true, Some(1), None), "timed out");
        assert_eq!(how_it_ended(false, Some(1), None), "exited 1");
        assert_eq!(how_it_ended(false, None, Some(9)), "was killed by signal 9");
        assert_eq!(how_it_ended(false, None, None), "ended");
        assert_eq!(
            no_verdict("exited 1", "You need to be root to use piuparts.\n", "", 7),
            "piuparts exited 1 without a verdict (piuparts runs as root: run runtask as root); \
             its log is artifact 7: You need to be root to use piuparts."
        );
        let log = "a\n\nb\nc\nd\ne\nf\n";
        assert_eq!(
            no_verdict("ended", " \n", log, 7),
            "piuparts ended without a verdict; its log is artifact 7: b | c | d | e | f"
        );
        assert_eq!(
            no_verdict("timed out", "", "", 7),
            "piuparts timed out without a verdict; its log is artifact 7, and it printed nothing"
        );
    }

    #[test]
    fn packages_are_named_by_their_debs() {
        let files = ["th_1.0_all.deb", "th-doc_1.0_all.deb", "odd.deb"];
        let packages = packages(&files);
        assert_eq!(packages["th"], "th_1.0_all.deb");
        assert_eq!(packages["odd.deb"], "odd.deb");
        let base = BaseTgz::of(&artifact(serde_json::json!({})));
        assert_eq!(base.name(), "the base tarball");
    }

    #[test]
    fn a_base_tarball_is_repacked_unless_it_is_gzip_without_dev() {
        let dir = std::env::temp_dir().join(format!("taskhost-debian-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = |name: &str| dir.join(name).display().to_string();
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        tar.append_data(&mut header, "./dev/x", &b"dev"[..])
            .unwrap();
        tar.append_data(&mut header, "./etc/x", &b"etc"[..])
            .unwrap();
        let plain = tar.into_inner().unwrap();
        std::fs::write(path("base.tar"), &plain).unwrap();

        let mut base = BaseTgz::of(&artifact(serde_json::json!({"with_dev": true})));
        let done = base
            .repack(&path("base.tar"), &path("base.tar.gz"))
            .unwrap();
        let done = done.expect("re-packed");
        assert_eq!((done.kept, done.removed), (1, 1));
        assert!((base.repacked, base.dev_entries_removed) == (true, 1));
        assert!(!std::path::Path::new(&path("base.tar")).exists());
        assert_eq!(
            done.describe(true),
            "re-packed the base tarball as gzip (1 members, 1 under /dev left out)"
        );

        let mut base = BaseTgz::of(&artifact(serde_json::json!({})));
        let done = base.repack(&path("base.tar.gz"), &path("again.tar.gz"));
        assert!(done.unwrap().is_none() && !base.repacked);

        std::fs::write(path("junk.tar.xz"), b"junk").unwrap();
        match base.repack(&path("junk.tar.xz"), &path("out.tar.gz")) {
            Err(Error::Invalid(m)) => assert!(
                m.starts_with("base_tgz_id: artifact 30: ")
                    && m.ends_with(": not a tarball; give a .tar, .tar.gz or .tar.xz"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
