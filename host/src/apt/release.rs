//! The Release file: which indices the suite has, with their sizes and
//! SHA-256 sums, and until when it may be trusted.

use std::collections::BTreeMap;
use std::str::FromStr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// The size and SHA-256 sum a signed list gives a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Checksum {
    pub(crate) size: u64,
    /// Lowercase hex.
    pub(crate) sha256: String,
}

impl Checksum {
    /// From the `SHA256` and size words of an index line.
    pub(crate) fn parse(sha256: &str, size: &str) -> Result<Checksum, String> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{sha256:?} is not a SHA-256 sum"));
        }
        let size = size
            .parse()
            .map_err(|_| format!("{size:?} is not a size in bytes"))?;
        Ok(Checksum {
            size,
            sha256: sha256.to_ascii_lowercase(),
        })
    }
}

/// How an index file is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    Xz,
    Gzip,
    None,
}

impl Compression {
    /// In the order they are preferred.
    const PREFERRED: [Compression; 3] = [Compression::Xz, Compression::Gzip, Compression::None];

    fn suffix(self) -> &'static str {
        match self {
            Compression::Xz => ".xz",
            Compression::Gzip => ".gz",
            Compression::None => "",
        }
    }
}

/// The fields of a (verified) Release file that an import needs.
#[derive(Debug)]
pub(crate) struct Release {
    /// `SHA256`: path under `dists/SUITE/` → size and sum.
    files: BTreeMap<String, Checksum>,
    suite: Option<String>,
    codename: Option<String>,
    components: Option<Vec<String>>,
    architectures: Option<Vec<String>>,
}

impl Release {
    /// Parses `text`, refusing a Release without `SHA256` or one whose
    /// `Valid-Until` is before `now`.
    pub(crate) fn parse(text: &str, now: OffsetDateTime) -> Result<Release, String> {
        let parsed = deb822_lossless::Deb822::from_str(text)
            .map_err(|e| format!("not a Release file: {e}"))?;
        let fields = parsed
            .paragraphs()
            .next()
            .ok_or("the Release file is empty")?;
        let field = |name: &str| fields.get(name).map(|v| v.trim().to_string());
        if let Some(valid_until) = field("Valid-Until") {
            let until = parse_date(&valid_until)
                .map_err(|e| format!("its Valid-Until {valid_until:?} is not a date: {e}"))?;
            if until < now {
                return Err(format!(
                    "the Release file expired on {valid_until} (Valid-Until): the mirror is out of \
                     date, or serves an old Release again; use an up-to-date mirror"
                ));
            }
        }
        let sums = field("SHA256").ok_or(
            "the Release file has no SHA256 field, and taskhost checks indices by SHA-256 only",
        )?;
        let mut files = BTreeMap::new();
        for line in sums.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let [sha256, size, path] = line.split_whitespace().collect::<Vec<_>>()[..] else {
                return Err(format!(
                    "malformed SHA256 line {line:?} in the Release file"
                ));
            };
            let sum = Checksum::parse(sha256, size)
                .map_err(|e| format!("SHA256 line {line:?} of the Release file: {e}"))?;
            files.insert(path.to_string(), sum);
        }
        let words =
            |name: &str| field(name).map(|v| v.split_whitespace().map(String::from).collect());
        Ok(Release {
            files,
            suite: field("Suite"),
            codename: field("Codename"),
            components: words("Components"),
            architectures: words("Architectures"),
        })
    }

    /// Refuses a Release of another suite (a signed Release of one suite
    /// served for another).
    pub(crate) fn check_suite(&self, suite: &str) -> Result<(), String> {
        let names = [&self.suite, &self.codename];
        if names.iter().all(|n| n.is_none()) || names.iter().any(|n| n.as_deref() == Some(suite)) {
            return Ok(());
        }
        let show = |n: &Option<String>| n.as_deref().unwrap_or("(none)").to_string();
        Err(format!(
            "the Release file is for another suite (Suite: {}, Codename: {}), not {suite}",
            show(&self.suite),
            show(&self.codename)
        ))
    }

    /// Refuses components and architectures the Release does not list
    /// (when it lists them).
    pub(crate) fn check_offers(
        &self,
        components: &[String],
        architectures: &[String],
    ) -> Result<(), String> {
        for (what, listed, wanted) in [
            ("component", &self.components, components),
            ("architecture", &self.architectures, architectures),
        ] {
            let Some(listed) = listed else { continue };
            if let Some(missing) = wanted.iter().find(|w| !listed.contains(w)) {
                return Err(format!(
                    "the suite has no {what} {missing} (it has: {})",
                    listed.join(" ")
                ));
            }
        }
        Ok(())
    }

    /// The first of `BASE.xz`, `BASE.gz` and `BASE` that the Release
    /// lists, e.g. for `main/binary-amd64/Packages`.
    pub(crate) fn index(&self, base: &str) -> Option<(String, Compression, &Checksum)> {
        Compression::PREFERRED.into_iter().find_map(|c| {
            let path = format!("{base}{}", c.suffix());
            let sum = self.files.get(&path)?;
            Some((path, c, sum))
        })
    }
}

/// A Release date: RFC 2822, with the zone written `UTC` as Debian's are.
fn parse_date(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
    let text = text.trim();
    let normalized = match text.rsplit_once(' ') {
        Some((rest, "UTC" | "GMT" | "UT" | "Z")) => format!("{rest} +0000"),
        _ => text.to_string(),
    };
    OffsetDateTime::parse(&normalized, &Rfc2822)
}

/// Decompresses an index, refusing more than `max` bytes of text.
pub(crate) fn decompress(
    data: &[u8],
    compression: Compression,
    max: u64,
) -> Result<String, String> {
    use std::io::Read;
    let reader: Box<dyn Read + '_> = match compression {
        // 256 MiB for the dictionary: Debian's indices use 8 MiB.
        Compression::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(data, true, 256 << 10)),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Compression::None => Box::new(data),
    };
    let mut text = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot decompress it: {e}"))?;
    if text.len() as u64 > max {
        return Err(format!("it decompresses to more than {} MiB", max >> 20));
    }
    String::from_utf8(text).map_err(|_| "it is not UTF-8 text".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const SUM_A: &str = "0bd2e2b1fcd5a8e4a4de3e59a8fa4f5bc4d9e1c3f0e4c58e2d9e8dc5a2d4b3e1";
    const SUM_B: &str = "1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

    fn release(extra: &str) -> String {
        format!(
            "Origin: Test\nSuite: stable\nCodename: bookworm\nComponents: main contrib\n\
             Architectures: amd64 arm64\nDate: Sat, 10 Jun 2023 08:55:48 UTC\n{extra}\
             SHA256:\n {SUM_A} 1234 main/binary-amd64/Packages\n \
             {SUM_B}  567 main/binary-amd64/Packages.gz\n \
             {SUM_A} 89 main/source/Sources.xz\n"
        )
    }

    fn now() -> OffsetDateTime {
        datetime!(2025-01-01 00:00 UTC)
    }

    #[test]
    fn sha256_lines_give_each_index_its_size_and_sum() {
        let r = Release::parse(&release(""), now()).unwrap();
        let (path, compression, sum) = r.index("main/binary-amd64/Packages").unwrap();
        assert_eq!(path, "main/binary-amd64/Packages.gz");
        assert_eq!(compression, Compression::Gzip);
        assert_eq!(
            sum,
            &Checksum {
                size: 567,
                sha256: SUM_B.into()
            }
        );
        let (path, compression, _) = r.index("main/source/Sources").unwrap();
        assert_eq!(
            (path.as_str(), compression),
            ("main/source/Sources.xz", Compression::Xz)
        );
        assert!(r.index("contrib/source/Sources").is_none());
    }

    #[test]
    fn the_uncompressed_index_is_taken_when_it_is_the_only_one() {
        let text = format!("Suite: s\nSHA256:\n {SUM_A} 10 main/source/Sources\n");
        let r = Release::parse(&text, now()).unwrap();
        let (path, compression, _) = r.index("main/source/Sources").unwrap();
        assert_eq!(
            (path.as_str(), compression),
            ("main/source/Sources", Compression::None)
        );
    }

    #[test]
    fn a_release_without_sha256_is_refused() {
        let e =
            Release::parse("Suite: s\nMD5Sum:\n 00 1 main/source/Sources\n", now()).unwrap_err();
        assert!(e.contains("no SHA256 field"), "{e}");
    }

    #[test]
    fn malformed_sha256_lines_are_refused() {
        for bad in [
            format!("SHA256:\n {SUM_A} 10\n"),
            format!("SHA256:\n {SUM_A} ten main/source/Sources\n"),
            "SHA256:\n abc 10 main/source/Sources\n".to_string(),
        ] {
            let e = Release::parse(&bad, now()).unwrap_err();
            assert!(e.contains("SHA256 line"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn an_expired_release_is_refused_naming_the_date() {
        let r = release("Valid-Until: Sat, 17 Jun 2023 08:55:48 UTC\n");
        let e = Release::parse(&r, now()).unwrap_err();
        assert!(
            e.contains("expired on Sat, 17 Jun 2023 08:55:48 UTC"),
            "{e}"
        );
        Release::parse(&r, datetime!(2023-06-17 08:00 UTC)).unwrap();
        let e = Release::parse(&release("Valid-Until: soon\n"), now()).unwrap_err();
        assert!(e.contains("not a date"), "{e}");
    }

    #[test]
    fn a_release_of_another_suite_is_refused() {
        let r = Release::parse(&release(""), now()).unwrap();
        r.check_suite("bookworm").unwrap();
        r.check_suite("stable").unwrap();
        let e = r.check_suite("trixie").unwrap_err();
        assert!(e.contains("Suite: stable, Codename: bookworm"), "{e}");
    }

    #[test]
    fn components_and_architectures_must_be_offered() {
        let r = Release::parse(&release(""), now()).unwrap();
        r.check_offers(&["main".into()], &["arm64".into()]).unwrap();
        let e = r.check_offers(&["non-free".into()], &[]).unwrap_err();
        assert!(
            e.contains("no component non-free (it has: main contrib)"),
            "{e}"
        );
        let e = r.check_offers(&[], &["riscv64".into()]).unwrap_err();
        assert!(e.contains("no architecture riscv64"), "{e}");
    }

    #[test]
    fn indices_decompress_within_a_limit() {
        use std::io::Write;
        let text = "Package: a\n\nPackage: b\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let mut xz =
            lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
        xz.write_all(text.as_bytes()).unwrap();
        let xz = xz.finish().unwrap();
        assert_eq!(decompress(&gz, Compression::Gzip, 100).unwrap(), text);
        assert_eq!(decompress(&xz, Compression::Xz, 100).unwrap(), text);
        assert_eq!(
            decompress(text.as_bytes(), Compression::None, 100).unwrap(),
            text
        );
        let e = decompress(&xz, Compression::Xz, 10).unwrap_err();
        assert!(e.contains("more than"), "{e}");
        let e = decompress(b"not xz", Compression::Xz, 100).unwrap_err();
        assert!(e.contains("cannot decompress"), "{e}");
    }
}
