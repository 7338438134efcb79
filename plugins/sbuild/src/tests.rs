use super::*;
use taskhost_sdk::decode_task_data;

fn data(json: &str) -> Data {
    decode_task_data(json).unwrap_or_else(|e| panic!("{e:?}"))
}

fn invalid(json: &str) -> String {
    let e = match decode_task_data::<Data>(json) {
        Ok(d) => check(&d).expect_err(json),
        Err(e) => e,
    };
    match e {
        Error::Invalid(m) => m,
        other => panic!("{other:?}"),
    }
}

const MINIMAL: &str =
    r#"{"input": {"source_artifact_id": 1}, "environment": 2, "host_architecture": "amd64"}"#;

fn with(extra: &str) -> String {
    format!("{},{extra}}}", MINIMAL.trim_end_matches('}'))
}

fn resolved() -> Resolved {
    Resolved {
        tarball: "sbuild/environment/system.tar.xz".into(),
        dsc: "sbuild/source/hello_1.0.dsc".into(),
        distribution: "bookworm".into(),
        build_architecture: "amd64".into(),
        ..Resolved::default()
    }
}

#[test]
fn the_command_line_is_debusines_with_the_fixed_options_first() {
    let d = data(MINIMAL);
    check(&d).unwrap();
    let cmd = command_line(&d, &resolved());
    assert_eq!(
        cmd.argv(),
        [
            "sbuild",
            "--chroot-mode=unshare",
            "--no-run-lintian",
            "--purge-deps=never",
            "--chroot=sbuild/environment/system.tar.xz",
            "--dist=bookworm",
            "--arch-any",
            "--no-arch-all",
            "--no-source",
            "--arch=amd64",
            "--build-dir=sbuild/build",
            "sbuild/source/hello_1.0.dsc",
        ]
    );
    let shown = format!("{cmd:?}");
    assert!(shown.contains(HOME), "{shown}");
    assert!(!shown.contains("DEB_BUILD_OPTIONS"), "{shown}");
}

#[test]
fn every_packagebuild_key_reaches_sbuild() {
    let d = data(&with(
        r#""build_components": ["all", "source"], "build_profiles": ["nocheck", "pkg.hello.x"],
           "build_options": "nocheck parallel=2", "build_path": "/build/hello",
           "distribution": "bookworm-backports", "build_architecture": "amd64",
           "extra_repositories": [{"sources_list": "deb [trusted=yes] http://127.0.0.1:9/ ./"}]"#,
    ));
    check(&d).unwrap();
    let r = Resolved {
        extra_packages: vec!["sbuild/extra/7/dep_1_all.deb".into()],
        repository_keys: vec!["sbuild/keys/0.asc".into()],
        ..resolved()
    };
    let cmd = command_line(&d, &r);
    let argv = cmd.argv();
    for expected in [
        "--no-arch-any",
        "--arch-all",
        "--source",
        "--profiles=nocheck,pkg.hello.x",
        "--build-path=/build/hello",
        "--extra-repository=deb [trusted=yes] http://127.0.0.1:9/ ./",
        "--extra-repository-key=sbuild/keys/0.asc",
        "--extra-package=sbuild/extra/7/dep_1_all.deb",
    ] {
        assert!(
            argv.iter().any(|a| a == expected),
            "{expected} not in {argv:?}"
        );
    }
    assert!(format!("{cmd:?}").contains("nocheck parallel=2"));
}

#[test]
fn a_cross_build_passes_host_and_build() {
    let d = Data {
        host_architecture: "arm64".into(),
        ..data(&with(r#""build_architecture": "amd64""#))
    };
    let argv = command_line(&d, &resolved()).argv().to_vec();
    assert!(argv.contains(&"--host=arm64".to_string()), "{argv:?}");
    assert!(argv.contains(&"--build=amd64".to_string()), "{argv:?}");
    assert!(!argv.iter().any(|a| a.starts_with("--arch=")), "{argv:?}");
}

#[test]
fn build_architecture_left_out_null_or_given() {
    assert_eq!(data(MINIMAL).build_architecture, None);
    assert_eq!(
        data(&with(r#""build_architecture": null"#)).build_architecture,
        Some(None)
    );
    assert_eq!(
        data(&with(r#""build_architecture": "i386""#)).build_architecture,
        Some(Some("i386".into()))
    );
}

#[test]
fn an_environment_of_another_architecture_is_refused_naming_the_key() {
    let d = Data {
        host_architecture: "arm64".into(),
        ..data(MINIMAL)
    };
    let e = build_architecture(&d, 2, "amd64").unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.starts_with("host_architecture:") && m.contains("cross build")),
        "{e:?}"
    );
    // A cross build from the environment's architecture is fine.
    let d = Data {
        build_architecture: Some(None),
        ..d
    };
    assert_eq!(build_architecture(&d, 2, "amd64").unwrap(), "amd64");
    let d = Data {
        build_architecture: Some(Some("i386".into())),
        ..d
    };
    let e = build_architecture(&d, 2, "amd64").unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.starts_with("build_architecture:")),
        "{e:?}"
    );
}

#[test]
fn bad_values_are_refused_naming_their_key() {
    for (extra, key) in [
        (
            r#""build_components": ["any", "binary"]"#,
            "build_components",
        ),
        (r#""build_components": []"#, "build_components"),
        (r#""backend": "qemu""#, "backend"),
        (r#""backend": "local""#, "backend"),
        (r#""backend": "chroot""#, "backend"),
        (
            r#""build_profiles": ["nocheck,nodoc"]"#,
            "build_profiles[0]",
        ),
        (r#""build_options": "nocheck\nX=1""#, "build_options"),
        (r#""build_path": "relative/dir""#, "build_path"),
        (r#""distribution": "--dist=sid""#, "distribution"),
        (
            r#""build_architecture": "amd64 i386""#,
            "build_architecture",
        ),
        (
            r#""extra_repositories": [{"sources_list": "deb http://h/debian bookworm"}]"#,
            "extra_repositories[0].sources_list",
        ),
        (
            r#""extra_repositories": [{"sources_list": "deb http://h/ ./", "authentication_key": "abc"}]"#,
            "extra_repositories[0].authentication_key",
        ),
        (
            r#""extra_repositories": [{"sources_list": "deb http://h/ ./", "key": "abc"}]"#,
            "extra_repositories.0.key",
        ),
        (r#""bogus": 1"#, "bogus"),
    ] {
        let m = invalid(&with(extra));
        assert!(m.contains(key), "{extra}: {m}");
    }
    let m = invalid(r#"{"input": {"source_artifact_id": 1}, "environment": 2}"#);
    assert!(m.contains("host_architecture"), "{m}");
}

#[test]
fn changes_files_list_their_files() {
    let changes = "\
Format: 1.8
Source: hello
Binary: hello hello-dbgsym
Architecture: amd64
Version: 1.0
Checksums-Sha256:
 fe30a029 2704 hello-dbgsym_1.0_amd64.deb
 11858521 5421 hello_1.0_amd64.buildinfo
 c46351ad 2448 hello_1.0_amd64.deb
 c46351ad 2448 ../escape.deb
Files:
 965feba2 2704 debug optional hello-dbgsym_1.0_amd64.deb
";
    let fields = control_fields(changes).unwrap();
    assert_eq!(fields["Source"], "hello");
    assert_eq!(
        listed_files(&fields),
        [
            "hello-dbgsym_1.0_amd64.deb",
            "hello_1.0_amd64.buildinfo",
            "hello_1.0_amd64.deb"
        ]
    );
    let signed = format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{changes}\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n"
    );
    assert_eq!(control_fields(&signed).unwrap()["Version"], "1.0");
}

#[test]
fn deb_names_give_package_and_architecture() {
    assert_eq!(
        deb_name("hello_1.0_amd64.deb"),
        Some(("hello".into(), "amd64".into()))
    );
    assert_eq!(
        deb_name("hello-doc_1:2.0-1_all.udeb"),
        Some(("hello-doc".into(), "all".into()))
    );
    assert_eq!(deb_name("hello_1.0_amd64.buildinfo"), None);
    assert_eq!(deb_name("hello.deb"), None);
}
