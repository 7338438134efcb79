//! The Release file's OpenPGP signature, checked by gpgv against the
//! operator's keyring. Only what gpgv outputs as signed is used.

use std::path::{Path, PathBuf};

use base64::Engine;

use super::AptError;

/// Largest keyring read, to dearmor it.
const MAX_KEYRING: u64 = 64 << 20;

/// A keyring gpgv can read: the given file, or its dearmored copy.
pub(crate) struct Keyring {
    /// As the operator named it, for messages.
    given: PathBuf,
    /// Absolute: gpgv looks a relative name up in its home directory.
    path: PathBuf,
}

impl Keyring {
    /// `given` as gpgv needs it; an ASCII-armored keyring (which gpgv
    /// does not read) is dearmored into `scratch`.
    pub(crate) fn prepare(given: &Path, scratch: &Path) -> Result<Keyring, AptError> {
        let unreadable = |e: String| {
            AptError::Invalid(format!(
                "keyring {}: {e}; pass --keyring FILE with the key that signs the repository",
                given.display()
            ))
        };
        let absolute = std::path::absolute(given).map_err(|e| unreadable(e.to_string()))?;
        let size = std::fs::metadata(&absolute)
            .map_err(|e| unreadable(e.to_string()))?
            .len();
        if size > MAX_KEYRING {
            return Err(unreadable(format!("larger than {} MiB", MAX_KEYRING >> 20)));
        }
        let content = std::fs::read(&absolute).map_err(|e| unreadable(e.to_string()))?;
        let path = if content.trim_ascii_start().starts_with(b"-----BEGIN PGP") {
            let text = String::from_utf8(content)
                .map_err(|_| unreadable("armored but not UTF-8".into()))?;
            let binary = dearmor(&text).map_err(unreadable)?;
            let path = scratch.join("keyring.gpg");
            std::fs::write(&path, binary).map_err(|e| unreadable(e.to_string()))?;
            path
        } else {
            absolute
        };
        Ok(Keyring {
            given: given.to_path_buf(),
            path,
        })
    }

    /// The keyring as the operator named it.
    pub(crate) fn given(&self) -> String {
        self.given.display().to_string()
    }

    /// Checks a clear-signed `signed` file; returns what it signs.
    pub(crate) async fn verify_clearsigned(
        &self,
        url: &str,
        signed: &Path,
        scratch: &Path,
    ) -> Result<Vec<u8>, AptError> {
        let out = scratch.join("Release.signed");
        let args = ["--output".as_ref(), out.as_os_str(), signed.as_os_str()];
        self.gpgv(url, scratch, &args).await?;
        std::fs::read(&out).map_err(|e| {
            AptError::Repository(format!("reading gpgv's output {}: {e}", out.display()))
        })
    }

    /// Checks the detached `signature` of `data`.
    pub(crate) async fn verify_detached(
        &self,
        url: &str,
        signature: &Path,
        data: &Path,
        scratch: &Path,
    ) -> Result<(), AptError> {
        self.gpgv(url, scratch, &[signature.as_os_str(), data.as_os_str()])
            .await
    }

    async fn gpgv(
        &self,
        url: &str,
        scratch: &Path,
        args: &[&std::ffi::OsStr],
    ) -> Result<(), AptError> {
        // An empty home: nothing of the user's ~/.gnupg is read.
        let home = scratch.join("gnupg");
        std::fs::create_dir_all(&home)
            .map_err(|e| AptError::Repository(format!("creating {}: {e}", home.display())))?;
        let out = tokio::process::Command::new("gpgv")
            .arg("--homedir")
            .arg(&home)
            .args(["--status-fd", "1", "--keyring"])
            .arg(&self.path)
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| AptError::Verifier(format!("running gpgv: {e} (apt-get install gpgv)")))?;
        good_signature(&String::from_utf8_lossy(&out.stdout))
            .map(|_| ())
            .map_err(|reason| AptError::Signature {
                url: url.to_string(),
                keyring: self.given(),
                reason,
            })
    }
}

/// The fingerprint of a good signature in gpgv's status lines: a
/// `VALIDSIG` after a `GOODSIG`, with a strong digest. A `BADSIG`
/// anywhere refuses the whole file; signatures by keys the keyring lacks
/// are ignored when another one is good, as apt does.
fn good_signature(status: &str) -> Result<String, String> {
    let mut problems = Vec::new();
    let mut good = None;
    let status_lines = status.lines().filter_map(|l| l.strip_prefix("[GNUPG:] "));
    let mut blocks = vec![Vec::new()];
    for line in status_lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"NEWSIG") {
            blocks.push(Vec::new());
        } else if let Some(block) = blocks.last_mut() {
            block.push(words);
        }
    }
    for block in &blocks {
        let has = |key: &str| block.iter().find(|w| w.first() == Some(&key));
        if let Some(w) = has("BADSIG") {
            return Err(format!(
                "BAD signature by key {}: the file was altered after it was signed",
                w.get(1).unwrap_or(&"?")
            ));
        }
        for (key, what) in [
            ("EXPKEYSIG", "signed by an expired key"),
            ("REVKEYSIG", "signed by a revoked key"),
            ("EXPSIG", "an expired signature"),
        ] {
            if let Some(w) = has(key) {
                problems.push(format!("{what} ({})", w.get(1).unwrap_or(&"?")));
            }
        }
        if let Some(w) = has("NO_PUBKEY") {
            problems.push(format!(
                "signed by key {}, which is not in the keyring",
                w.get(1).unwrap_or(&"?")
            ));
        }
        let (Some(_), Some(valid)) = (has("GOODSIG"), has("VALIDSIG")) else {
            continue;
        };
        if has("EXPKEYSIG")
            .or(has("REVKEYSIG"))
            .or(has("EXPSIG"))
            .is_some()
        {
            continue;
        }
        // VALIDSIG fpr date time expire version reserved pubkey-algo hash-algo ...
        match valid.get(8).and_then(|a| a.parse::<u8>().ok()) {
            Some(1..=3) | None => problems
                .push("signed with a weak or unknown digest (MD5, SHA-1, RIPEMD-160)".into()),
            Some(_) => good = valid.get(1).map(|f| f.to_string()),
        }
    }
    if let Some(fingerprint) = good {
        return Ok(fingerprint);
    }
    if problems.is_empty() {
        problems.push("no OpenPGP signature found".into());
    }
    Err(problems.join("; "))
}

/// The binary packets of an ASCII-armored keyring (one or more blocks).
fn dearmor(text: &str) -> Result<Vec<u8>, String> {
    let mut binary = Vec::new();
    let mut lines = text.lines().map(str::trim_end);
    let mut blocks = 0;
    while let Some(line) = lines.next() {
        if !line.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            continue;
        }
        let mut body = String::new();
        let mut in_headers = true;
        let mut ended = false;
        for line in lines.by_ref() {
            if line.starts_with("-----END PGP") {
                ended = true;
                break;
            }
            // Armor headers (`Comment: ...`) run to the first blank line.
            if in_headers {
                if line.trim().is_empty() {
                    in_headers = false;
                    continue;
                }
                if line.contains(": ") {
                    continue;
                }
                in_headers = false;
            }
            // `=XXXX` is the optional CRC-24; gpgv checks the packets.
            if line.starts_with('=') {
                continue;
            }
            body.push_str(line.trim());
        }
        if !ended {
            return Err("an armored key block has no END line".into());
        }
        let packets = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .map_err(|e| format!("an armored key block is not base64: {e}"))?;
        binary.extend_from_slice(&packets);
        blocks += 1;
    }
    if blocks == 0 {
        return Err("armored, but it has no PUBLIC KEY BLOCK".into());
    }
    Ok(binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FPR: &str = "C0F9FC71FDC549B7AB4CBBF4E77B560CB014B3F8";

    fn validsig(hash_algo: u8) -> String {
        format!("[GNUPG:] VALIDSIG {FPR} 2026-12-02 1796198987 0 4 0 22 {hash_algo} 01 {FPR}\n")
    }

    #[test]
    fn a_good_signature_needs_goodsig_and_validsig_with_a_strong_digest() {
        let good = format!(
            "[GNUPG:] PLAINTEXT 74 0\n[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG E77B560CB014B3F8 t\n{}",
            validsig(8)
        );
        assert_eq!(good_signature(&good).unwrap(), FPR);
        let sha1 = good.replace(&validsig(8), &validsig(2));
        assert!(good_signature(&sha1).unwrap_err().contains("weak"));
        let no_valid = "[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG E77B560CB014B3F8 t\n";
        assert!(
            good_signature(no_valid)
                .unwrap_err()
                .contains("no OpenPGP signature")
        );
        assert!(
            good_signature("[GNUPG:] NODATA 1\n")
                .unwrap_err()
                .contains("no OpenPGP signature")
        );
    }

    #[test]
    fn a_bad_signature_refuses_even_beside_a_good_one() {
        let status = format!(
            "[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG E77B t\n{}[GNUPG:] NEWSIG\n[GNUPG:] BADSIG AAAA t\n",
            validsig(8)
        );
        let e = good_signature(&status).unwrap_err();
        assert!(e.contains("BAD signature by key AAAA"), "{e}");
    }

    #[test]
    fn an_unknown_key_beside_a_good_signature_is_ignored() {
        let unknown =
            "[GNUPG:] NEWSIG\n[GNUPG:] ERRSIG AAAA 22 8 01 1 9 X\n[GNUPG:] NO_PUBKEY AAAA\n";
        let e = good_signature(unknown).unwrap_err();
        assert!(
            e.contains("signed by key AAAA, which is not in the keyring"),
            "{e}"
        );
        let both = format!(
            "{unknown}[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG E77B t\n{}",
            validsig(10)
        );
        assert_eq!(good_signature(&both).unwrap(), FPR);
    }

    #[test]
    fn an_expired_key_is_not_a_good_signature() {
        let status = format!(
            "[GNUPG:] NEWSIG\n[GNUPG:] EXPKEYSIG E77B t\n[GNUPG:] GOODSIG E77B t\n{}",
            validsig(8)
        );
        let e = good_signature(&status).unwrap_err();
        assert!(e.contains("expired key"), "{e}");
    }

    #[test]
    fn armored_keyrings_are_dearmored() {
        let armored = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: test\nVersion: x\n\n\
                       aGVs\nbG8=\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n\
                       -----BEGIN PGP PUBLIC KEY BLOCK-----\n\nIHdvcmxk\n-----END PGP PUBLIC KEY BLOCK-----\n";
        assert_eq!(dearmor(armored).unwrap(), b"hello world");
        assert!(
            dearmor("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGVs\n")
                .unwrap_err()
                .contains("no END")
        );
        assert!(
            dearmor(
                "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!\n-----END PGP PUBLIC KEY BLOCK-----\n"
            )
            .unwrap_err()
            .contains("not base64")
        );
        assert!(
            dearmor("-----BEGIN PGP MESSAGE-----\n")
                .unwrap_err()
                .contains("no PUBLIC KEY BLOCK")
        );
    }
}
