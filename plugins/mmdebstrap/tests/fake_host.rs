//! `execute` against the SDK's fake host: mmdebstrap's command line, the
//! sources and keyrings it is handed, the debian:system-tarball it leaves,
//! and each way the task fails.

use serde_json::{Value, json};
use taskhost_plugin_mmdebstrap::Mmdebstrap;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{FakeHost, Invocation, Reply, Run};
use taskhost_sdk::{Error, Outcome, Status};

const MIRROR: &str = "http://deb.debian.org/debian";
const RELEASE_URL: &str = "http://deb.debian.org/debian/dists/bookworm/Release";

/// The minimal task: amd64 bookworm, components given (no download).
fn minimal() -> Value {
    json!({
        "bootstrap_options": {"architecture": "amd64"},
        "bootstrap_repositories": [{"mirror": MIRROR, "suite": "bookworm", "components": ["main"]}],
    })
}

/// A bookworm system's /etc/os-release.
const OS_RELEASE: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"#;

/// A sid system's /etc/os-release: VERSION_CODENAME is the next release.
const SID_OS_RELEASE: &str = r#"PRETTY_NAME="Debian GNU/Linux trixie/sid"
NAME="Debian GNU/Linux"
VERSION_CODENAME=trixie
ID=debian
HOME_URL="https://www.debian.org/"
"#;

/// The start of a bookworm /var/lib/dpkg/status: three installed
/// packages (libc6 is Multi-Arch: same) and one removed.
const DPKG_STATUS: &str = "\
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
Description: Debian base system miscellaneous files

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

Package: tzdata
Status: install ok installed
Priority: required
Architecture: all
Multi-Arch: foreign
Version: 2025b-0+deb12u1
Description: time zone and daylight-saving time data

Package: nano
Status: deinstall ok config-files
Architecture: amd64
Version: 7.2-1+deb12u1
Conffiles:
 /etc/nanorc 2d2d0a7f1d0e0c8a7b5a6e1e0b3f4c2d
";

/// A real bookworm Release file's head.
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
SHA256:
 4d3a8ce5e5ea4bd8d1c2ac2d7b3b3cf9f4e1f7d51fba4d3b7b3a4ac1be1cbd05  1484322 contrib/Contents-all
";

/// mmdebstrap's log of a good run (stderr).
const LOG: &str = "\
I: chroot architecture amd64 is equal to the host's architecture
I: finding correct signed-by value...
done
I: running apt-get update...
done
I: downloading packages with apt...
done
I: extracting archives...
done
I: installing essential packages...
done
I: running --customize-hook in shell: sh -c 'rm -f \"$1/etc/hostname\"' exec mmdebstrap /tmp/mmdebstrap.9Tc2Qx
I: cleaning package lists and apt cache...
done
I: creating tarball...
I: done
I: removing tempdir /tmp/mmdebstrap.9Tc2Qx...
I: success in 41.2876 seconds
";

/// A public key packet header and a few bytes: binary OpenPGP.
const KEY: &[u8] = &[
    0x99, 0x00, 0x0d, 0x04, 0x65, 0x00, 0x00, 0x00, 0x16, 0x09, 0x2b,
];
/// KEY, ASCII-armored (with its CRC-24), as a keyring URL serves it.
const ARMORED: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQANBGUAAAAWCSs=\n=08Ip\n-----END PGP PUBLIC KEY BLOCK-----\n";
const ARMORED_SHA256: &str = "57010a98e7cc17d5c92315c1ca4196e2d0ed49338012c71928655cf1e2647346";
const KEY_URL: &str = "https://keys.example.org/archive.asc";

// ---- tarballs -----------------------------------------------------------

/// A tar member; `name` goes into the header as is (the tar crate would
/// drop the leading `./` mmdebstrap writes).
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

fn tar_xz(members: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut tar = tar::Builder::new(Vec::new());
    for (name, kind, body) in members {
        member(&mut tar, name, *kind, body);
    }
    let tar = tar.into_inner().unwrap();
    let mut xz =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1)).unwrap();
    xz.write_all(&tar).unwrap();
    xz.finish().unwrap()
}

/// As mmdebstrap --format=tar writes it: ./dev and its nodes first.
fn system_tarball() -> Vec<u8> {
    use tar::EntryType::{Char, Directory, Regular, Symlink};
    tar_xz(&[
        ("./dev/", Directory, b""),
        ("./dev/console", Char, b""),
        ("./dev/fd", Symlink, b""),
        ("./dev/null", Char, b""),
        ("./", Directory, b""),
        ("./etc/os-release", Regular, OS_RELEASE.as_bytes()),
    ])
}

/// A tarball without device nodes (the extract variant's, say).
fn tarball_without_dev() -> Vec<u8> {
    use tar::EntryType::{Directory, Regular};
    tar_xz(&[
        ("./", Directory, b""),
        ("./etc/os-release", Regular, OS_RELEASE.as_bytes()),
    ])
}

// ---- runs ---------------------------------------------------------------

/// mmdebstrap succeeding: the tarball and what the report hooks download.
fn bootstrapped(tarball: Vec<u8>, with_init: &str) -> Reply {
    Reply::exit(0)
        .stderr(LOG)
        .writes("system.tar.xz", tarball)
        .writes("os-release", OS_RELEASE)
        .writes("dpkg-status", DPKG_STATUS)
        .writes("with-init", with_init)
}

fn run(data: Value, reply: Reply) -> Run<Status> {
    FakeHost::new()
        .task_data(data)
        .reply("mmdebstrap **", reply)
        .execute::<Mmdebstrap>()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The `--customize-hook=` (or other `--PREFIX=`) values of an argv.
fn hooks<'a>(argv: &'a [String], prefix: &str) -> Vec<&'a str> {
    argv.iter().filter_map(|a| a.strip_prefix(prefix)).collect()
}

/// serde's errors end with where in the JSON: " at line 1 column 111".
fn without_position(status: Result<Status, Error>) -> Result<Status, Error> {
    match status {
        Err(Error::Invalid(m)) => {
            let cut = m
                .rfind(" at line ")
                .filter(|&i| m[i..].contains(" column "));
            Err(Error::Invalid(m[..cut.unwrap_or(m.len())].to_string()))
        }
        other => other,
    }
}

fn message(status: &Result<Status, Error>) -> &str {
    match status {
        Err(Error::Failed(m) | Error::Invalid(m) | Error::AccessDenied(m) | Error::NotFound(m)) => {
            m
        }
        other => panic!("expected an error with a message, got {other:?}"),
    }
}

const REPORT_HOOKS: [&str; 5] = [
    "download /etc/os-release os-release",
    "download /var/lib/dpkg/status dpkg-status",
    r#"if test -x "$1/sbin/init" || test -h "$1/sbin/init"; then echo true; else echo false; fi > "$1/tmp/taskhost-with-init""#,
    "download /tmp/taskhost-with-init with-init",
    r#"rm -f "$1/tmp/taskhost-with-init""#,
];
const CLEANUP_HOOKS: [&str; 2] = [
    r#"rm -f "$1/etc/hostname""#,
    r#"test -h "$1/etc/resolv.conf" || rm -f "$1/etc/resolv.conf""#,
];
const SOURCES_HOOKS: [&str; 2] = [
    r#"rm -f "$1/etc/apt/sources.list.d/0000mmdebstrap.sources""#,
    "upload chroot.sources /etc/apt/sources.list.d/taskhost.sources",
];

// ---- the success path ---------------------------------------------------

#[test]
fn the_minimal_task_stores_a_system_tarball_described_by_the_system() {
    let tarball = system_tarball();
    let run = run(minimal(), bootstrapped(tarball.clone(), "true\n"));
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.backends, ["local"]);
    let mut argv = strings(&[
        "mmdebstrap",
        "--mode=unshare",
        "--format=tar",
        "--architectures=amd64",
        "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older",
    ]);
    for hook in SOURCES_HOOKS
        .iter()
        .chain(&CLEANUP_HOOKS)
        .chain(&REPORT_HOOKS)
    {
        argv.push(format!("--customize-hook={hook}"));
    }
    argv.extend(strings(&["", "system.tar.xz", "mmdebstrap.sources"]));
    assert_eq!(run.commands, [argv.clone()]);
    // Its output into the workspace, three hours at most, not as root
    // (--mode=unshare).
    assert_eq!(
        run.invocations,
        [Invocation {
            argv,
            env: vec![],
            cwd: None,
            stdin: None,
            stdout: Some("mmdebstrap.stdout".into()),
            stderr: Some("mmdebstrap.log".into()),
            timeout_ms: Some(3 * 60 * 60 * 1000),
            run_as_root: false,
            backend: "local".into(),
        }]
    );
    // Components were given: nothing downloaded.
    assert!(run.urls.is_empty(), "{:?}", run.urls);
    let sources =
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n";
    let file = |p: &str| String::from_utf8(run.workspace_file(p).expect(p)).unwrap();
    assert_eq!(file("mmdebstrap.sources"), sources);
    assert_eq!(file("chroot.sources"), sources);
    assert!(run.workspace_file("customization-script").is_none());
    assert!(run.workspace_file("keyrings/bootstrap.gpg").is_none());

    assert_eq!(run.artifacts.len(), 1);
    let artifact = &run.artifacts[0];
    assert_eq!(artifact.id, 1000);
    assert_eq!(artifact.category, "debian:system-tarball");
    assert_eq!(
        artifact.data,
        json!({
            "filename": "system.tar.xz",
            "vendor": "debian",
            "codename": "bookworm",
            "mirror": MIRROR,
            "components": ["main"],
            "variant": null,
            "pkglist": {
                "base-files": "12.4+deb12u11",
                "libc6:amd64": "2.36-9+deb12u10",
                "tzdata": "2025b-0+deb12u1",
            },
            "architecture": "amd64",
            "with_dev": true,
            "with_init": true,
        })
    );
    assert_eq!(artifact.files, [("system.tar.xz".to_string(), tarball)]);
    assert!(run.relations.is_empty());

    assert_eq!(run.results.len(), 1);
    let result = &run.results[0];
    assert_eq!(result.item, "bookworm/amd64");
    assert_eq!(result.item_type, "debian:system-tarball");
    assert_eq!(result.outcome, Outcome::Passed);
    assert_eq!(
        result.note.as_deref(),
        Some("debian bookworm debootstrap: 3 packages")
    );
    assert_eq!(result.artifact.as_deref(), Some("artifact:1000"));
    assert_eq!(
        result.keyvals,
        [
            ("vendor".to_string(), "debian".to_string()),
            ("packages".to_string(), "3".to_string()),
            ("with_init".to_string(), "true".to_string()),
        ]
    );
    // The sources are logged; mmdebstrap's own log is kept in the workspace.
    assert!(
        run.log
            .contains(&(Level::Info, format!("sources:\n{sources}"))),
        "{:?}",
        run.log
    );
    assert_eq!(file("mmdebstrap.log"), LOG);
}

#[test]
fn without_components_they_come_from_the_suite_s_release_file() {
    let mut data = minimal();
    data["bootstrap_repositories"][0]
        .as_object_mut()
        .unwrap()
        .remove("components");
    let run = FakeHost::new()
        .task_data(data)
        .http(RELEASE_URL, 200, RELEASE)
        .reply("mmdebstrap **", bootstrapped(system_tarball(), "true\n"))
        .execute::<Mmdebstrap>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.urls, [RELEASE_URL]);
    assert_eq!(
        run.workspace_file("mmdebstrap.sources").unwrap(),
        b"Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\
          Components: main contrib non-free-firmware non-free\n"
    );
    assert_eq!(
        run.artifacts[0].data["components"],
        json!(["main", "contrib", "non-free-firmware", "non-free"])
    );
}

#[test]
fn unstable_is_recorded_as_sid_whatever_os_release_says() {
    let data = json!({
        "bootstrap_options": {"architecture": "amd64", "variant": "minbase"},
        "bootstrap_repositories": [{"mirror": MIRROR, "suite": "unstable", "components": ["main"]}],
    });
    let reply = bootstrapped(system_tarball(), "false\n").writes("os-release", SID_OS_RELEASE);
    let run = run(data, reply);
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.artifacts[0].data["codename"], "sid");
    assert_eq!(run.artifacts[0].data["variant"], "minbase");
    assert_eq!(run.artifacts[0].data["with_init"], false);
    assert_eq!(run.results[0].item, "sid/amd64");
    assert_eq!(
        run.results[0].note.as_deref(),
        Some("debian sid minbase: 3 packages")
    );
    assert_eq!(run.results[0].keyval("with_init"), Some("false"));
}

#[test]
fn options_packages_keyrings_and_the_script_change_the_command_line() {
    let script = "#!/bin/sh\nset -e\necho customized > /etc/taskhost-customized\n";
    let data = json!({
        "bootstrap_options": {
            "architecture": "i386",
            "variant": "minbase",
            "extra_packages": ["eatmydata", "?priority(important)", "hello=2.10-3"],
            "use_signed_by": false,
        },
        "bootstrap_repositories": [
            {"mirror": MIRROR, "suite": "bookworm", "components": ["main"],
             "keyring_package": "debian-archive-keyring"},
            {"types": ["deb", "deb-src"], "mirror": "https://repo.example.org/debian",
             "suite": "extra", "components": ["main", "contrib"],
             "check_signature_with": "external",
             "keyring": {"url": KEY_URL, "sha256sum": ARMORED_SHA256, "install": true}},
        ],
        "customization_script": script,
    });
    let run = FakeHost::new()
        .task_data(data)
        .http(KEY_URL, 200, ARMORED)
        .reply("mmdebstrap **", bootstrapped(system_tarball(), "true\n"))
        .execute::<Mmdebstrap>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.urls, [KEY_URL]);
    let argv = &run.commands[0];
    assert_eq!(
        argv[..9],
        strings(&[
            "mmdebstrap",
            "--mode=unshare",
            "--format=tar",
            "--architectures=i386",
            "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older",
            "--variant=minbase",
            "--include=eatmydata,hello=2.10-3,debian-archive-keyring",
            "--include=?priority(important)",
            "--keyring=keyrings/bootstrap.gpg",
        ])
    );
    let mut expected = vec![
        r#"mkdir -p "$1/etc/apt/trusted.gpg.d""#,
        "upload keyrings/repo-1.gpg /etc/apt/trusted.gpg.d/taskhost-repo-1.gpg",
        r#"chmod 644 "$1/etc/apt/trusted.gpg.d/taskhost-repo-1.gpg""#,
    ];
    expected.extend(SOURCES_HOOKS);
    expected.extend([
        "upload customization-script /taskhost-customization-script",
        r#"chmod 755 "$1/taskhost-customization-script""#,
        r#"chroot "$1" /taskhost-customization-script"#,
        r#"rm -f "$1/taskhost-customization-script""#,
    ]);
    expected.extend(CLEANUP_HOOKS);
    expected.extend(REPORT_HOOKS);
    assert_eq!(hooks(argv, "--customize-hook="), expected);
    assert_eq!(argv.len(), 9 + expected.len() + 3);
    assert_eq!(
        argv[argv.len() - 3..],
        strings(&["", "system.tar.xz", "mmdebstrap.sources"])
    );
    // The script and the keyring reach the system only through files.
    assert!(
        !argv
            .iter()
            .any(|a| a.contains("customized") || a.contains("keys.example"))
    );
    assert_eq!(
        run.workspace_file("customization-script").unwrap(),
        script.as_bytes()
    );
    // The armored download is stored dearmored, for --keyring and the upload.
    assert_eq!(run.workspace_file("keyrings/bootstrap.gpg").unwrap(), KEY);
    assert_eq!(run.workspace_file("keyrings/repo-1.gpg").unwrap(), KEY);
    assert!(run.workspace_file("keyrings/repo-1.download").is_none());
    // Both repositories for the bootstrap; no Signed-By with --keyring.
    let sources = "\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main

Types: deb deb-src
URIs: https://repo.example.org/debian
Suites: extra
Components: main contrib
";
    assert_eq!(
        run.workspace_file("mmdebstrap.sources").unwrap(),
        sources.as_bytes()
    );
    assert_eq!(
        run.workspace_file("chroot.sources").unwrap(),
        sources.as_bytes()
    );
    assert_eq!(run.artifacts[0].data["architecture"], "i386");
    assert_eq!(run.artifacts[0].data["variant"], "minbase");
    // The first repository is the one the artifact names.
    assert_eq!(run.artifacts[0].data["mirror"], MIRROR);
    assert_eq!(run.artifacts[0].data["components"], json!(["main"]));
    // i386 native: libc6 is still qualified (Multi-Arch: same), the amd64
    // base-files is foreign.
    assert_eq!(
        run.artifacts[0].data["pkglist"],
        json!({
            "base-files:amd64": "12.4+deb12u11",
            "libc6:amd64": "2.36-9+deb12u10",
            "tzdata": "2025b-0+deb12u1",
        })
    );
    assert_eq!(run.results[0].item, "bookworm/i386");
}

#[test]
fn an_external_keyring_with_signed_by_is_embedded_in_the_host_sources() {
    let data = json!({
        "bootstrap_options": {"architecture": "amd64"},
        "bootstrap_repositories": [
            {"mirror": "https://repo.example.org/debian", "suite": "stable", "components": ["main"],
             "check_signature_with": "external", "keyring": {"url": KEY_URL}},
            {"mirror": "file:///srv/mirror", "suite": "local", "components": ["main"],
             "check_signature_with": "no-check"},
        ],
    });
    let run = FakeHost::new()
        .task_data(data)
        .http(KEY_URL, 200, KEY)
        .reply("mmdebstrap **", bootstrapped(system_tarball(), "true\n"))
        .execute::<Mmdebstrap>();
    assert_eq!(run.status, Ok(Status::Success));
    let argv = &run.commands[0];
    assert_eq!(
        argv[3..6],
        strings(&[
            "--architectures=amd64",
            "--hook-dir=/usr/share/mmdebstrap/hooks/maybe-jessie-or-older",
            "--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount",
        ])
    );
    assert!(!argv.iter().any(|a| a.starts_with("--keyring")));
    // Not installed: no keyring hooks.
    assert_eq!(hooks(argv, "--customize-hook=")[..2], SOURCES_HOOKS);
    let stanza =
        "Types: deb\nURIs: https://repo.example.org/debian\nSuites: stable\nComponents: main\n";
    let local =
        "\nTypes: deb\nURIs: file:///srv/mirror\nSuites: local\nComponents: main\nTrusted: yes\n";
    assert_eq!(
        String::from_utf8(run.workspace_file("mmdebstrap.sources").unwrap()).unwrap(),
        format!(
            "{stanza}Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQANBGUAAAAWCSs=\n =08Ip\n \
             -----END PGP PUBLIC KEY BLOCK-----\n{local}"
        )
    );
    assert_eq!(
        String::from_utf8(run.workspace_file("chroot.sources").unwrap()).unwrap(),
        format!("{stanza}{local}")
    );
    assert_eq!(run.workspace_file("keyrings/repo-0.gpg").unwrap(), KEY);
    assert!(run.workspace_file("keyrings/bootstrap.gpg").is_none());
}

#[test]
fn the_extract_variant_hooks_after_extracting_and_has_no_dev_nor_init() {
    let data = json!({
        "bootstrap_options": {"architecture": "amd64", "variant": "extract",
                              "extra_packages": ["base-files"]},
        "bootstrap_repositories": [{"mirror": MIRROR, "suite": "bookworm", "components": ["main"]}],
    });
    let run = run(data, bootstrapped(tarball_without_dev(), "false\n"));
    assert_eq!(run.status, Ok(Status::Success));
    let argv = &run.commands[0];
    assert_eq!(
        argv[5..7],
        strings(&["--variant=extract", "--include=base-files"])
    );
    assert!(hooks(argv, "--customize-hook=").is_empty());
    let mut expected: Vec<&str> = SOURCES_HOOKS.to_vec();
    expected.extend(CLEANUP_HOOKS);
    expected.extend(REPORT_HOOKS);
    assert_eq!(hooks(argv, "--extract-hook="), expected);
    let data = &run.artifacts[0].data;
    assert_eq!(data["variant"], "extract");
    assert_eq!(data["with_dev"], false);
    assert_eq!(data["with_init"], false);
    assert_eq!(
        run.results[0].note.as_deref(),
        Some("debian bookworm extract: 3 packages")
    );
}

// ---- mmdebstrap failing ---------------------------------------------------

#[test]
fn a_failing_mmdebstrap_is_an_error_with_its_error_lines() {
    let log = "\
I: chroot architecture amd64 is equal to the host's architecture
I: running apt-get update...
Ign:1 http://deb.debian.org/debian bookwrom InRelease
Err:2 http://deb.debian.org/debian bookwrom Release
  404  Not Found [IP: 151.101.2.132 80]
E: The repository 'http://deb.debian.org/debian bookwrom Release' does not have a Release file.
E: apt-get update -oAPT::Status-Fd=<$fd> -oDpkg::Use-Pty=false failed
I: removing tempdir /tmp/mmdebstrap.Xa3kQ9...
E: setup failed: E: apt-get update -oAPT::Status-Fd=<$fd> -oDpkg::Use-Pty=false failed
";
    let run = run(minimal(), Reply::exit(1).stderr(log));
    assert_eq!(
        run.status,
        Err(Error::Failed(
            "mmdebstrap exited with code 1:\n\
             E: The repository 'http://deb.debian.org/debian bookwrom Release' does not have a Release file.\n\
             E: apt-get update -oAPT::Status-Fd=<$fd> -oDpkg::Use-Pty=false failed\n\
             E: setup failed: E: apt-get update -oAPT::Status-Fd=<$fd> -oDpkg::Use-Pty=false failed"
                .into()
        ))
    );
    assert_eq!(run.commands.len(), 1);
    assert_eq!(
        run.log_text(Level::Warn),
        format!("the end of mmdebstrap's log:\n{}", log.trim_end())
    );
    assert!(run.artifacts.is_empty() && run.results.is_empty());
}

#[test]
fn a_killed_or_timed_out_mmdebstrap_stores_nothing() {
    let log = "I: running apt-get update...\ndone\nI: downloading packages with apt...\n";
    let run = run(minimal(), Reply::signal(15).stderr(log));
    // No E: lines: the end of the log.
    assert_eq!(
        run.status,
        Err(Error::Failed(format!(
            "mmdebstrap was killed by signal 15 (SIGTERM):\n{}",
            log.trim_end()
        )))
    );
    assert!(run.artifacts.is_empty() && run.results.is_empty());

    let run = self::run(minimal(), Reply::timed_out().stderr(log));
    assert_eq!(run.status, Err(Error::TimedOut));
    assert_eq!(
        run.log_text(Level::Error),
        format!("mmdebstrap timed out:\n{}", log.trim_end())
    );
    assert!(run.artifacts.is_empty() && run.results.is_empty());
}

#[test]
fn an_empty_or_garbled_with_init_is_an_error_not_true_or_false() {
    for (with_init, says) in [
        ("", "\"\""),
        ("\n", "\"\""),
        ("yes\n", "\"yes\""),
        ("TRUE\n", "\"TRUE\""),
        ("true\nfalse\n", "\"true\\nfalse\""),
        ("tru", "\"tru\""),
    ] {
        let run = run(minimal(), bootstrapped(system_tarball(), with_init));
        assert_eq!(
            run.status,
            Err(Error::Failed(format!(
                "the hook testing the system's /sbin/init wrote {says} to with-init, not true \
                 or false"
            ))),
            "{with_init:?}"
        );
        assert!(run.artifacts.is_empty() && run.results.is_empty());
    }
    // Around true or false, blanks do not matter.
    for (with_init, is) in [("true", true), ("  false \n", false), ("\ttrue\r\n", true)] {
        let run = run(minimal(), bootstrapped(system_tarball(), with_init));
        assert_eq!(run.status, Ok(Status::Success), "{with_init:?}");
        assert_eq!(run.artifacts[0].data["with_init"], is, "{with_init:?}");
    }
}

#[test]
fn a_success_without_the_tarball_or_the_hook_files_is_an_error() {
    let cases: [(Reply, &str); 5] = [
        (
            Reply::exit(0).stderr(LOG),
            "mmdebstrap succeeded but wrote no system.tar.xz: ",
        ),
        (
            bootstrapped(b"system.tar, not xz".to_vec(), "true\n"),
            "reading mmdebstrap's system.tar.xz: ",
        ),
        (
            Reply::exit(0)
                .writes("system.tar.xz", system_tarball())
                .writes("dpkg-status", DPKG_STATUS)
                .writes("with-init", "true\n"),
            "mmdebstrap left no os-release in the workspace: ",
        ),
        (
            bootstrapped(system_tarball(), "true\n").writes("os-release", "NAME=\"Debian\"\n"),
            "the system's /etc/os-release has no ID",
        ),
        (
            Reply::exit(0)
                .writes("system.tar.xz", system_tarball())
                .writes("os-release", OS_RELEASE)
                .writes("dpkg-status", DPKG_STATUS),
            "mmdebstrap left no with-init in the workspace: ",
        ),
    ];
    for (reply, says) in cases {
        let run = run(minimal(), reply);
        let m = message(&run.status);
        assert!(
            matches!(run.status, Err(Error::Failed(_))),
            "{:?}",
            run.status
        );
        assert!(m.starts_with(says), "{says}: {m}");
        assert_eq!(run.commands.len(), 1);
        assert!(run.artifacts.is_empty() && run.results.is_empty(), "{says}");
    }
}

// ---- downloads failing ----------------------------------------------------

#[test]
fn a_missing_or_useless_release_file_or_keyring_fails_before_mmdebstrap() {
    let mut without_components = minimal();
    without_components["bootstrap_repositories"][0]
        .as_object_mut()
        .unwrap()
        .remove("components");
    let external = |keyring: Value| {
        json!({
            "bootstrap_options": {"architecture": "amd64"},
            "bootstrap_repositories": [{"mirror": MIRROR, "suite": "bookworm", "components": ["main"],
                                        "check_signature_with": "external", "keyring": keyring}],
        })
    };
    let wrong = "0".repeat(64);
    let cases = [
        (
            without_components.clone(),
            (RELEASE_URL, 404, "<html>Not Found</html>".as_bytes()),
            Error::Failed(format!(
                "bootstrap_repositories[0].components: reading the suite's Release file: \
                 {RELEASE_URL}: HTTP 404 (or list the components)"
            )),
        ),
        (
            without_components,
            (
                RELEASE_URL,
                200,
                b"Origin: Debian\nSuite: stable\n".as_slice(),
            ),
            Error::Failed(format!(
                "bootstrap_repositories[0].components: Cannot find components in {RELEASE_URL}"
            )),
        ),
        (
            external(json!({"url": KEY_URL, "sha256sum": wrong})),
            (KEY_URL, 200, ARMORED.as_bytes()),
            // The host's kind and words for a mismatch.
            Error::Invalid(format!(
                "bootstrap_repositories[0].keyring.url: {KEY_URL}: sha256 mismatch: \
                 expected {wrong}, got {ARMORED_SHA256}"
            )),
        ),
        (
            external(json!({"url": KEY_URL})),
            (KEY_URL, 200, b"<html><body>Moved</body></html>".as_slice()),
            Error::Failed(format!(
                "bootstrap_repositories[0].keyring.url {KEY_URL}: not an OpenPGP keyring \
                 (neither binary nor ASCII-armored)"
            )),
        ),
    ];
    for (data, (url, status, body), says) in cases {
        let run = FakeHost::new()
            .task_data(data)
            .http(url, status, body)
            .execute::<Mmdebstrap>();
        assert_eq!(run.status, Err(says));
        assert_eq!(run.urls, [url]);
        assert!(run.backends.is_empty() && run.commands.is_empty());
        assert!(run.artifacts.is_empty());
    }
}

// ---- denials --------------------------------------------------------------

#[test]
fn a_denied_url_backend_command_or_category_ends_the_run_with_access_denied() {
    let mut without_components = minimal();
    without_components["bootstrap_repositories"][0]
        .as_object_mut()
        .unwrap()
        .remove("components");
    let host = || FakeHost::new().task_data(minimal());
    let cases: [(FakeHost, usize); 4] = [
        (
            FakeHost::new()
                .task_data(without_components)
                .deny_url("http://deb.debian.org/"),
            0,
        ),
        (host().deny_backend("local"), 0),
        (
            host().deny_exec("mmdebstrap --mode=unshare --format=tar **"),
            0,
        ),
        (
            host()
                .reply("mmdebstrap **", bootstrapped(system_tarball(), "true\n"))
                .deny_create("debian:system-tarball"),
            1,
        ),
    ];
    for (host, ran) in cases {
        let run = host.execute::<Mmdebstrap>();
        assert!(
            matches!(run.status, Err(Error::AccessDenied(_))),
            "{:?}",
            run.status
        );
        assert_eq!(run.denied.len(), 1, "{:?}", run.denied);
        assert_eq!(run.commands.len(), ran);
        assert!(run.artifacts.is_empty() && run.results.is_empty());
    }
}

#[test]
fn a_denied_release_download_says_which_key_to_give_instead() {
    // A file:// mirror's Release file is outside the manifest's URLs.
    let data = json!({
        "bootstrap_options": {"architecture": "amd64"},
        "bootstrap_repositories": [{"mirror": "file:///srv/mirror", "suite": "local"}],
    });
    let run = FakeHost::new()
        .task_data(data)
        .deny_url("file:///srv/")
        .execute::<Mmdebstrap>();
    assert_eq!(
        run.status,
        Err(Error::AccessDenied(
            "bootstrap_repositories[0].components: reading the suite's Release file: plugin may \
             not fetch file:///srv/mirror/dists/local/Release: denied (simulated by FakeHost) (or \
             list the components)"
                .into()
        ))
    );
    assert!(run.urls.is_empty() && run.commands.is_empty());
}

// ---- bad task_data --------------------------------------------------------

#[test]
fn bad_task_data_is_refused_naming_the_key_before_anything_runs() {
    let repo = json!({"mirror": MIRROR, "suite": "bookworm", "components": ["main"]});
    let with_options = |options: Value| json!({"bootstrap_options": options, "bootstrap_repositories": [repo.clone()]});
    let with_repo = |repo: Value| json!({"bootstrap_options": {"architecture": "amd64"}, "bootstrap_repositories": [repo]});
    let mut unknown = minimal();
    unknown["mirror"] = json!(MIRROR);
    let cases = [
        (unknown, "task_data: unknown key 'mirror' (extra fields not permitted)".to_string()),
        (
            json!({"bootstrap_repositories": [repo.clone()]}),
            "task_data: missing field `bootstrap_options`".into(),
        ),
        (
            with_options(json!({"architecture": "amd64", "use_signed_by": "yes"})),
            "task_data: bootstrap_options.use_signed_by: invalid type: string \"yes\", expected a boolean"
                .into(),
        ),
        (
            with_options(json!({"architecture": "amd64", "variant": "tiny"})),
            "task_data: bootstrap_options.variant: unknown variant `tiny`, expected one of \
             `extract`, `custom`, `essential`, `apt`, `required`, `minbase`, `buildd`, \
             `important`, `debootstrap`, `-`, `standard`"
                .into(),
        ),
        (
            with_options(json!({"architecture": "AMD 64"})),
            "bootstrap_options.architecture: 'AMD 64' is not a Debian architecture name (e.g. amd64)"
                .into(),
        ),
        (
            with_options(json!({"architecture": "amd64", "extra_packages": ["./evil.deb"]})),
            "bootstrap_options.extra_packages[0]: './evil.deb': paths to .deb files are not \
             supported; name packages"
                .into(),
        ),
        (
            json!({"bootstrap_options": {"architecture": "amd64"}, "bootstrap_repositories": []}),
            "bootstrap_repositories: give at least one repository".into(),
        ),
        (
            with_repo(json!({"mirror": "ftp://ftp.debian.org/debian", "suite": "bookworm"})),
            "bootstrap_repositories[0].mirror: 'ftp://ftp.debian.org/debian' is not an http://, \
             https:// or file:/// URL"
                .into(),
        ),
        (
            with_repo(json!({"mirror": MIRROR, "suite": "bookworm", "check_signature_with": "external"})),
            "bootstrap_repositories[0]: repository requires 'keyring': 'check_signature_with' is \
             set to 'external'"
                .into(),
        ),
        (
            with_repo(json!({"mirror": MIRROR, "suite": "bookworm", "check_signature_with": "external",
                             "keyring": {"url": "file:///etc/passwd"}})),
            "bootstrap_repositories[0].keyring.url: file:// URLs for keyrings must be under \
             /usr/share/keyrings/ or /usr/local/share/keyrings/"
                .into(),
        ),
        (
            json!({"bootstrap_options": {"architecture": "amd64", "variant": "extract"},
                   "bootstrap_repositories": [repo.clone()], "customization_script": "true"}),
            "customization_script: the extract variant only unpacks packages, so nothing can run \
             inside the system; use another variant"
                .into(),
        ),
    ];
    for (data, says) in cases {
        let run = FakeHost::new().task_data(data).execute::<Mmdebstrap>();
        assert_eq!(without_position(run.status), Err(Error::Invalid(says)));
        assert!(run.urls.is_empty() && run.backends.is_empty() && run.commands.is_empty());
        assert!(run.artifacts.is_empty());
    }
}
