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
    pub kept: usize,
    /// Members left out (under `./dev/`).
    pub removed: usize,
}

/// Copies the tarball `input` (xz, gzip or plain) to `output` as a
/// gzip-compressed tarball, leaving out `./dev/*` when `drop_dev`.
pub fn repack(mut input: impl BufRead, output: impl Write, drop_dev: bool) -> io::Result<Repacked> {
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
            lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1)).unwrap();
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
