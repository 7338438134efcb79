//! Checks on the task_data values the Debian tasks pass on to apt, dpkg,
//! sbuild and autopkgtest: one-line sources.list entries, armored keys,
//! architecture, profile, distribution, test and variable names, and
//! debusine's backends. Each check returns why a value cannot work, for an
//! error naming its key ([`named`]).

use serde::Deserialize;
use taskhost_sdk::Error;

/// debusine's backends (`backend` in task_data). Each task refuses those it
/// cannot use here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The task picks (the default).
    #[default]
    Auto,
    /// An unshare chroot or testbed made from a system tarball.
    Unshare,
    /// The host itself.
    Local,
    /// A schroot chroot.
    Schroot,
    /// An incus container.
    IncusLxc,
    /// An incus virtual machine.
    IncusVm,
    /// A disposable machine booted from a system image.
    Qemu,
}

/// Turns a check's reason into an invalid-task_data error naming `key`:
/// `check_x(v).map_err(named("key"))?`.
pub fn named(key: impl std::fmt::Display) -> impl FnOnce(String) -> Error {
    move |why| Error::invalid(format!("{key}: {why}"))
}

/// Checks one APT sources.list line (`sources.list(5)`, one-line style):
/// `deb|deb-src [ [OPTION=VALUE ...] ] URI SUITE [COMPONENT ...]`, where a
/// SUITE ending in `/` is a flat repository path and takes no components.
pub fn check_sources_line(line: &str) -> Result<(), String> {
    if line.chars().any(char::is_control) {
        return Err("must be a single line without control characters".into());
    }
    let mut words = line.split_whitespace().peekable();
    match words.next() {
        Some("deb" | "deb-src") => {}
        Some(other) => {
            return Err(format!(
                "starts with '{other}'; a sources.list line starts with deb or deb-src"
            ));
        }
        None => {
            return Err("is empty; give a line such as 'deb http://HOST/debian SUITE main'".into());
        }
    }
    if words.peek().is_some_and(|w| w.starts_with('[')) {
        let mut options = String::new();
        loop {
            let Some(word) = words.next() else {
                return Err("opens options with '[' but never closes them with ']'".into());
            };
            options.push(' ');
            options.push_str(word);
            if word.ends_with(']') {
                break;
            }
        }
        let inner = options.trim().trim_start_matches('[').trim_end_matches(']');
        for option in inner.split_whitespace() {
            let ok = option.split_once('=').is_some_and(|(k, v)| {
                !k.is_empty()
                    && !v.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-+".contains(c))
            });
            if !ok {
                return Err(format!("option '{option}' is not KEY=VALUE"));
            }
        }
    }
    let Some(uri) = words.next() else {
        return Err("has no URI".into());
    };
    let scheme_ok = uri.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_lowercase())
            && scheme
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c))
    });
    if !scheme_ok {
        return Err(format!(
            "'{uri}' is not a URI (e.g. http://deb.debian.org/debian)"
        ));
    }
    let Some(suite) = words.next() else {
        return Err(format!("has no suite after '{uri}'"));
    };
    let components = words.count();
    if suite.ends_with('/') && components > 0 {
        return Err(format!(
            "suite '{suite}' is a flat repository path (it ends in '/') and takes no components"
        ));
    }
    if !suite.ends_with('/') && components == 0 {
        return Err(format!(
            "suite '{suite}' needs at least one component (e.g. main), or end it with '/' for a flat repository"
        ));
    }
    Ok(())
}

const ARMOR_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const ARMOR_END: &str = "-----END PGP PUBLIC KEY BLOCK-----";

/// Checks that `key` is an ASCII-armored OpenPGP public key block.
pub fn check_armored_key(key: &str) -> Result<(), String> {
    let key = key.trim();
    if key.starts_with(ARMOR_BEGIN) && key.ends_with(ARMOR_END) {
        Ok(())
    } else {
        Err(format!(
            "is not an ASCII-armored public key: it must start with {ARMOR_BEGIN} and end with {ARMOR_END} \
             (`gpg --armor --export KEYID` prints one)"
        ))
    }
}

/// A Debian architecture name such as `amd64` or `armhf`.
pub fn check_architecture(arch: &str) -> Result<(), String> {
    let ok = arch.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && arch
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok && arch != "all" && arch != "any" && arch != "source" {
        Ok(())
    } else {
        Err(format!(
            "'{arch}' is not a Debian architecture (e.g. amd64, arm64, i386)"
        ))
    }
}

/// A build profile name (`nocheck`, `nodoc`, `pkg.foo.bar`).
pub fn check_profile(profile: &str) -> Result<(), String> {
    let ok = profile.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && profile
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{profile}' is not a build profile name (lowercase letters, digits, '.', '+', '-')"
        ))
    }
}

/// A distribution name for `--dist` (`bookworm`, `bookworm-backports`).
pub fn check_distribution(dist: &str) -> Result<(), String> {
    let ok = dist.starts_with(|c: char| c.is_ascii_alphanumeric())
        && dist
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+~-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{dist}' is not a distribution name (e.g. bookworm)"
        ))
    }
}

/// DEB_BUILD_OPTIONS: space-separated `NAME` or `NAME=VALUE` words.
pub fn check_build_options(options: &str) -> Result<(), String> {
    if options.chars().any(|c| c.is_control()) {
        return Err("must be one line without control characters".into());
    }
    for word in options.split_whitespace() {
        let name = word.split_once('=').map_or(word, |(n, _)| n);
        let ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));
        if !ok {
            return Err(format!(
                "'{word}' is not a DEB_BUILD_OPTIONS word (NAME or NAME=VALUE, e.g. nocheck, parallel=4)"
            ));
        }
    }
    Ok(())
}

/// The path sbuild builds in inside the chroot (`--build-path`).
pub fn check_build_path(path: &str) -> Result<(), String> {
    let normal = path
        .split('/')
        .skip(1)
        .all(|c| !c.is_empty() && c != "." && c != "..");
    if path.starts_with('/')
        && path.len() > 1
        && normal
        && !path.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        Ok(())
    } else {
        Err(format!(
            "'{path}' must be an absolute path without '.', '..', empty components or spaces (e.g. /build/hello)"
        ))
    }
}

/// A test name from debian/tests/control: no blanks, no `/`.
pub fn check_test_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("is empty; give a test name from debian/tests/control".into())
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        Err(format!(
            "'{name}' is not a test name (no blanks or '/'; see debian/tests/control)"
        ))
    } else {
        Ok(())
    }
}

/// An environment variable for `--env=NAME=VALUE`.
pub fn check_variable(name: &str, value: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "'{name}' is not a variable name (letters, digits and '_', not starting with a digit)"
        ));
    }
    if value.contains('\0') {
        return Err("the value contains a NUL byte".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_sources_lines_apt_accepts() {
        for line in [
            "deb http://deb.debian.org/debian bookworm main",
            "deb http://deb.debian.org/debian bookworm-backports main contrib non-free",
            "deb-src http://deb.debian.org/debian bookworm main",
            "deb [trusted=yes] http://127.0.0.1:8080/ ./",
            "deb [ arch=amd64 signed-by=/etc/apt/keyrings/x.asc ] https://h/debian sid main",
            "deb [arch=amd64,i386] file:/srv/repo bookworm main",
            "  deb http://h/debian bookworm main  ",
        ] {
            check_sources_line(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }

    #[test]
    fn refuses_malformed_sources_lines_with_the_reason() {
        for (line, why) in [
            ("", "is empty"),
            ("deb", "has no URI"),
            ("rpm http://h/ x main", "starts with 'rpm'"),
            ("deb http://h/debian", "has no suite"),
            (
                "deb http://h/debian bookworm",
                "needs at least one component",
            ),
            ("deb http://h/ ./ main", "takes no components"),
            ("deb deb.debian.org/debian bookworm main", "is not a URI"),
            ("deb [trusted=yes http://h/ ./", "never closes"),
            ("deb [trusted] http://h/ ./", "is not KEY=VALUE"),
            (
                "deb http://h/debian bookworm main\ndeb http://evil/ x main",
                "single line",
            ),
        ] {
            let e = check_sources_line(line).expect_err(line);
            assert!(e.contains(why), "{line:?}: {e}");
        }
    }

    #[test]
    fn keys_must_be_armored_public_key_blocks() {
        check_armored_key(&format!("{ARMOR_BEGIN}\n\nmDMEaw8A\n=abcd\n{ARMOR_END}\n")).unwrap();
        assert!(check_armored_key("mDMEaw8AFBYJKwYBBAHaRw8BAQdA").is_err());
        assert!(
            check_armored_key(
                "-----BEGIN PGP PRIVATE KEY BLOCK-----\nx\n-----END PGP PRIVATE KEY BLOCK-----"
            )
            .is_err()
        );
    }

    #[test]
    fn names_are_checked() {
        check_architecture("amd64").unwrap();
        check_architecture("kfreebsd-amd64").unwrap();
        for bad in ["", "AMD64", "amd64 i386", "all", "any", "--host=x"] {
            assert!(check_architecture(bad).is_err(), "{bad}");
        }
        check_profile("nocheck").unwrap();
        check_profile("pkg.hello.noxml").unwrap();
        for bad in ["", "nocheck,nodoc", "no check", "Nocheck", "!nocheck"] {
            assert!(check_profile(bad).is_err(), "{bad}");
        }
        check_distribution("bookworm-backports").unwrap();
        assert!(check_distribution("--dist=x").is_err());
        assert!(check_distribution("a b").is_err());
    }

    #[test]
    fn build_options_are_words() {
        check_build_options("nocheck parallel=4 nostrip").unwrap();
        check_build_options("").unwrap();
        assert!(check_build_options("nocheck\nFOO=1").is_err());
        assert!(check_build_options("=4").is_err());
        assert!(check_build_options("Parallel=4").is_err());
    }

    #[test]
    fn build_paths_are_plain_absolute_paths() {
        check_build_path("/build/hello").unwrap();
        for bad in [
            "",
            "/",
            "build/x",
            "/build/../etc",
            "/build//x",
            "/build/x y",
            "/build/./x",
        ] {
            assert!(check_build_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sources_lines_take_options_and_flat_repositories() {
        for good in [
            "deb http://deb.debian.org/debian bookworm main contrib",
            "deb-src [arch=amd64 signed-by=/k.gpg] https://h/debian sid main",
        ] {
            assert_eq!(check_sources_line(good), Ok(()), "{good}");
        }
        for bad in ["deb h bookworm main", "http://h/debian bookworm main"] {
            assert!(check_sources_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn test_names_and_variables_are_checked() {
        check_test_name("smoke-test.1").unwrap();
        for bad in ["", "a b", "a/b", "a\tb"] {
            assert!(check_test_name(bad).is_err(), "{bad:?}");
        }
        check_variable("TH_A", "two words=1").unwrap();
        check_variable("_x1", "").unwrap();
        for bad in ["", "1BAD", "A-B", "A B"] {
            assert!(check_variable(bad, "x").is_err(), "{bad:?}");
        }
        assert!(check_variable("A", "a\0b").is_err());
    }

    #[test]
    fn named_errors_start_with_their_key() {
        let e = check_architecture("any").map_err(named("host_architecture"));
        assert!(
            matches!(&e, Err(Error::Invalid(m)) if m.starts_with("host_architecture: 'any'")),
            "{e:?}"
        );
    }
}
