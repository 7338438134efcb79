use super::*;
use taskhost_sdk::decode_task_data;

fn data(json: &str) -> Data {
    decode_task_data(json).unwrap_or_else(|e| panic!("{e:?}"))
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
