//! `execute` against the SDK's fake host: the sbuild command line, what a
//! build stores (log, upload, binaries) and how it relates, and each way
//! a build or the run fails. The logs and .changes follow what sbuild 0.85
//! and dpkg-genchanges write (Sbuild/Base.pm's boxed subsections, the
//! sorted Summary of Sbuild/Build.pm; exit 2 for `attempted`, 0 for
//! `skipped`).

use serde_json::{Value, json};
use taskhost_plugin_sbuild::Sbuild;
use taskhost_sdk::artifacts::RelationType;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{Created, FakeHost, Input, Invocation, Reply, Run};
use taskhost_sdk::{Error, Outcome, Status};

const SOURCE: u64 = 10;
const ENV: u64 = 20;
const EXTRA: u64 = 30;
const EXTRA_UPLOAD: u64 = 31;
/// The first id the fake host gives a created artifact.
const FIRST: u64 = 1000;

const DSC: &str = "\
Format: 3.0 (quilt)
Source: hello
Binary: hello
Architecture: any
Version: 1.0-1
Maintainer: Taskhost Tests <tests@taskhost.invalid>
Standards-Version: 4.6.2
Build-Depends: debhelper-compat (= 13)
Package-List:
 hello deb misc optional arch=any
Checksums-Sha256:
 5c6d4b1e0c4dbd4e8bd1e7a0d6a6f1b9a0c3f4e5d6c7b8a9f0e1d2c3b4a59687 1024 hello_1.0.orig.tar.gz
 a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90 812 hello_1.0-1.debian.tar.xz
Files:
 0f1e2d3c4b5a69788796a5b4c3d2e1f0 1024 hello_1.0.orig.tar.gz
 9a8b7c6d5e4f30211203f4e5d6c7b8a9 812 hello_1.0-1.debian.tar.xz
";

const RULE: &str =
    "+------------------------------------------------------------------------------+";

/// A subsection as Sbuild::Base::log_subsection writes it.
fn section(title: &str) -> String {
    format!("\n{RULE}\n| {title:<76} |\n{RULE}\n\n")
}

/// An sbuild 0.85 log of hello 1.0-1 for `arch`: the header, `phases`
/// (each with a line of its own) and, when given, the Summary.
fn build_log(arch: &str, phases: &[&str], summary: Option<&str>) -> String {
    let head1 = format!("hello 1.0-1 ({arch}) ");
    let head2 = "Tue, 01 Dec 2026 17:10:05 +0000";
    let head = format!(
        "{head1}{:pad$}{head2}",
        "",
        pad = 76 - head1.len() - head2.len()
    );
    let mut text = format!(
        "sbuild (Debian sbuild) 0.85.0 (04 January 2023) on taskhost\n\n\
         +==============================================================================+\n\
         | {head} |\n\
         +==============================================================================+\n\n\
         Package: hello\nVersion: 1.0-1\nSource Version: 1.0-1\nDistribution: bookworm\n\
         Machine Architecture: amd64\nHost Architecture: {arch}\nBuild Architecture: amd64\n\
         Build Type: any\n\n"
    );
    for phase in phases {
        text.push_str(&section(phase));
        text.push_str(match *phase {
            "Update chroot" => "Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]\n",
            "Fetch source files" => "Local sources\n-------------\n\nsbuild/source/hello_1.0-1.dsc exists in sbuild/source; copying to chroot\n",
            "Install package build dependencies" => "Setting up debhelper (13.11.4) ...\n",
            "Check architectures" => "Arch check ok (amd64 included in any)\n",
            "Build" => "dpkg-buildpackage --sanitize-env -us -uc -rfakeroot -B\n",
            _ => "\n",
        });
    }
    if let Some(summary) = summary {
        text.push_str(&section("Summary"));
        text.push_str(summary);
        text.push_str(
            "--------------------------------------------------------------------------------\n\
             Finished at 2026-12-01T17:10:31Z\nBuild needed 00:00:26, 224k disk space\n",
        );
    }
    text
}

/// Build, Changes, ...: every phase of a successful build.
const ALL_PHASES: &[&str] = &[
    "Update chroot",
    "Fetch source files",
    "Install package build dependencies",
    "Check architectures",
    "Build environment",
    "Build",
    "Changes",
    "Buildinfo",
    "Package contents",
    "Post Build",
    "Cleanup",
];

fn summary(arch: &str, status: &str, fail_stage: Option<&str>) -> String {
    let fail = fail_stage.map_or(String::new(), |s| format!("Fail-Stage: {s}\n"));
    format!(
        "Build Architecture: amd64\nBuild Type: any\nBuild-Space: 224\nBuild-Time: 3\n\
         Distribution: bookworm\n{fail}Host Architecture: {arch}\nInstall-Time: 5\n\
         Job: sbuild/source/hello_1.0-1.dsc\nMachine Architecture: amd64\nPackage: hello\n\
         Package-Time: 26\nSource-Version: 1.0-1\nSpace: 224\nStatus: {status}\nVersion: 1.0-1\n"
    )
}

/// The log file sbuild writes in --build-dir, and its `current` link.
fn log_file(arch: &str) -> String {
    format!("sbuild/build/hello_1.0-1_{arch}-2026-12-01T17:10:05Z.build")
}

/// A .changes as dpkg-genchanges writes it, listing `files`.
fn changes(arch: &str, files: &[&str]) -> String {
    let sums: String = files
        .iter()
        .enumerate()
        .map(|(i, f)| format!(" {:064x} {} {f}\n", i + 1, 1000 + i))
        .collect();
    let md5s: String = files
        .iter()
        .enumerate()
        .map(|(i, f)| format!(" {:032x} {} misc optional {f}\n", i + 1, 1000 + i))
        .collect();
    format!(
        "Format: 1.8\nDate: Tue, 01 Dec 2026 17:00:00 +0000\nSource: hello\n\
         Binary: hello hello-dbgsym hello-doc\nArchitecture: {arch}\nVersion: 1.0-1\n\
         Distribution: bookworm\nUrgency: medium\n\
         Maintainer: Taskhost Tests <tests@taskhost.invalid>\n\
         Changed-By: Taskhost Tests <tests@taskhost.invalid>\n\
         Description:\n hello      - example package based on GNU hello\n\
         Changes:\n hello (1.0-1) bookworm; urgency=medium\n .\n   * Initial release.\n\
         Checksums-Sha256:\n{sums}Files:\n{md5s}"
    )
}

/// What a successful sbuild leaves in sbuild/build: the log, the
/// .changes and every file it lists.
fn built(arch: &str, files: &[&str]) -> Reply {
    leaving_a_build(Reply::exit(0), arch, files)
}

/// `reply`, leaving what a successful build leaves.
fn leaving_a_build(reply: Reply, arch: &str, files: &[&str]) -> Reply {
    let mut reply = reply
        .writes(
            log_file(arch),
            build_log(arch, ALL_PHASES, Some(&summary(arch, "successful", None))),
        )
        .writes(
            format!("sbuild/build/hello_1.0-1_{arch}.changes"),
            changes(arch, files),
        );
    for file in files {
        reply = reply.writes(format!("sbuild/build/{file}"), format!("content of {file}"));
    }
    reply
}

fn minimal() -> Value {
    json!({
        "input": {"source_artifact_id": SOURCE},
        "environment": ENV,
        "host_architecture": "amd64",
    })
}

fn with(extra: Value) -> Value {
    let mut data = minimal();
    for (k, v) in extra.as_object().expect("an object") {
        data[k] = v.clone();
    }
    data
}

fn environment(data: Value) -> Input {
    Input::new(ENV, "debian:system-tarball")
        .data(data)
        .file("system.tar.xz", "an xz tarball")
}

fn host() -> FakeHost {
    FakeHost::new()
        .task_data(minimal())
        .input(
            Input::new(SOURCE, "debian:source-package")
                .data(json!({"name": "hello", "version": "1.0-1", "type": "dpkg"}))
                .file("hello_1.0-1.dsc", DSC)
                .file("hello_1.0.orig.tar.gz", "orig")
                .file("hello_1.0-1.debian.tar.xz", "debian"),
        )
        .input(environment(json!({
            "vendor": "debian",
            "codename": "bookworm",
            "architecture": "amd64",
            "variant": "buildd",
            "filename": "system.tar.xz",
        })))
}

/// The argv of a default build, with `middle` between --no-source and
/// --build-dir.
fn argv(dist: &str, components: [&str; 3], middle: &[&str]) -> Vec<String> {
    let mut argv = vec![
        "sbuild".to_string(),
        "--chroot-mode=unshare".into(),
        "--no-run-lintian".into(),
        "--purge-deps=never".into(),
        "--chroot=sbuild/environment/system.tar.xz".into(),
        format!("--dist={dist}"),
    ];
    argv.extend(components.map(String::from));
    argv.extend(middle.iter().map(|s| s.to_string()));
    argv.push("--build-dir=sbuild/build".into());
    argv.push("sbuild/source/hello_1.0-1.dsc".into());
    argv
}

const DEFAULT: [&str; 3] = ["--arch-any", "--no-arch-all", "--no-source"];

/// sbuild ending with `reply`, after linking `PKG_VER_ARCH.build` to the
/// log, relatively, as sbuild does.
fn sbuild(host: FakeHost, reply: Reply, arch: &str) -> Run<Status> {
    let file = log_file(arch);
    let target = file.rsplit('/').next().unwrap_or_default();
    let link = format!("sbuild/build/hello_1.0-1_{arch}.build");
    host.reply("sbuild **", reply.symlink(link, target))
        .execute::<Sbuild>()
}

/// sbuild's command as the plugin gives it: `argv`, HOME and `env`, its
/// output in sbuild/, on the host, with no stdin and no timeout of its
/// own.
fn invocation(argv: Vec<String>, env: &[(&str, &str)]) -> Invocation {
    let mut vars = vec![("HOME".to_string(), "/sbuild-nonexistent".to_string())];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Invocation {
        argv,
        env: vars,
        cwd: None,
        stdin: None,
        stdout: Some("sbuild/sbuild.stdout".into()),
        stderr: Some("sbuild/sbuild.stderr".into()),
        timeout_ms: None,
        run_as_root: false,
        backend: "local".into(),
    }
}

/// The `sbuild` progress reports: (done, total) of each.
fn progress(run: &Run<Status>) -> Vec<(u64, Option<u64>)> {
    run.progress
        .iter()
        .map(|(label, done, total)| {
            assert_eq!(label, "sbuild");
            (*done, *total)
        })
        .collect()
}

fn file_names(a: &Created) -> Vec<&str> {
    a.files.iter().map(|(n, _)| n.as_str()).collect()
}

fn rel(source: u64, target: u64, relation: RelationType) -> (u64, u64, RelationType) {
    (source, target, relation)
}

fn relations(run: &Run<Status>) -> Vec<(u64, u64, RelationType)> {
    run.relations
        .iter()
        .map(|r| (r.source, r.target, r.relation))
        .collect()
}

#[track_caller]
fn assert_invalid(run: &Run<Status>, says: &str) {
    assert!(
        matches!(&run.status, Err(Error::Invalid(m)) if m.contains(says)),
        "{says:?}: {:?}",
        run.status
    );
}

#[test]
fn a_successful_build_stores_its_log_upload_and_binaries() {
    let debs = [
        "hello-dbgsym_1.0-1_amd64.deb",
        "hello_1.0-1_amd64.buildinfo",
        "hello_1.0-1_amd64.deb",
    ];
    let run = sbuild(host(), built("amd64", &debs), "amd64");
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.commands, [argv("bookworm", DEFAULT, &["--arch=amd64"])]);
    assert_eq!(run.backends, ["local"]);
    // HOME points nowhere (no ~/.sbuildrc); no DEB_BUILD_OPTIONS unless
    // build_options says so.
    assert_eq!(
        run.invocations,
        [invocation(
            argv("bookworm", DEFAULT, &["--arch=amd64"]),
            &[]
        )]
    );

    let [log, upload, binaries] = &run.artifacts[..] else {
        panic!("{:#?}", run.artifacts)
    };
    assert_eq!(log.id, FIRST);
    assert_eq!(log.category, "debian:package-build-log");
    let fields = json!({
        "Build Architecture": "amd64", "Build Type": "any", "Build-Space": "224",
        "Build-Time": "3", "Distribution": "bookworm", "Host Architecture": "amd64",
        "Install-Time": "5", "Job": "sbuild/source/hello_1.0-1.dsc",
        "Machine Architecture": "amd64", "Package": "hello", "Package-Time": "26",
        "Source-Version": "1.0-1", "Space": "224", "Status": "successful", "Version": "1.0-1",
    });
    assert_eq!(
        log.data,
        json!({
            "source": "hello",
            "version": "1.0-1",
            "architecture": "amd64",
            "filename": "hello_1.0-1_amd64.build",
            "summary": fields,
        })
    );
    // Stored under the link's name, with the timestamped file's content.
    assert_eq!(file_names(log), ["hello_1.0-1_amd64.build"]);
    let text = build_log(
        "amd64",
        ALL_PHASES,
        Some(&summary("amd64", "successful", None)),
    );
    assert_eq!(log.files[0].1, text.as_bytes());

    assert_eq!(upload.category, "debian:upload");
    assert_eq!(upload.data["type"], "dpkg");
    assert_eq!(upload.data["changes_fields"]["Source"], "hello");
    assert_eq!(upload.data["changes_fields"]["Architecture"], "amd64");
    assert_eq!(upload.data["changes_fields"]["Version"], "1.0-1");
    assert_eq!(
        file_names(upload),
        [debs[0], debs[1], debs[2], "hello_1.0-1_amd64.changes"]
    );
    assert_eq!(upload.files[2].1, b"content of hello_1.0-1_amd64.deb");

    assert_eq!(binaries.category, "debian:binary-packages");
    assert_eq!(
        binaries.data,
        json!({
            "srcpkg_name": "hello",
            "srcpkg_version": "1.0-1",
            "version": "1.0-1",
            "architecture": "amd64",
            "packages": ["hello", "hello-dbgsym"],
        })
    );
    assert_eq!(file_names(binaries), [debs[0], debs[2]]);

    use RelationType::{Extends, RelatesTo};
    let (l, u, b) = (log.id, upload.id, binaries.id);
    assert_eq!(
        relations(&run),
        [
            rel(l, SOURCE, RelatesTo),
            rel(b, SOURCE, RelatesTo),
            rel(u, b, Extends),
            rel(u, b, RelatesTo),
            rel(l, b, RelatesTo),
        ]
    );

    let [result] = &run.results[..] else {
        panic!("{:#?}", run.results)
    };
    assert_eq!(result.item, "hello_1.0-1_amd64");
    assert_eq!(result.item_type, "debian_package");
    assert_eq!(result.outcome, Outcome::Passed);
    assert_eq!(result.note.as_deref(), Some("successful"));
    assert_eq!(result.artifact.as_deref(), Some("artifact:1000"));
    assert_eq!(result.keyvals[0], ("sbuild_exit_code".into(), "0".into()));
    assert_eq!(result.keyval("Status"), Some("successful"));
    assert_eq!(result.keyval("Build-Time"), Some("3"));
    assert_eq!(result.keyvals.len(), 16, "{:?}", result.keyvals);

    // Each phase of the log was reported; the chroot's tarball copy is gone.
    let phases: Vec<&str> = run
        .log
        .iter()
        .filter_map(|(_, m)| m.strip_prefix("phase: "))
        .collect();
    let mut expected = ALL_PHASES.to_vec();
    expected.push("Summary");
    assert_eq!(phases, expected);
    // The progress bar: each milestone of a build, up to the Summary.
    let steps: Vec<(u64, Option<u64>)> = (1..=12).map(|i| (i, Some(12))).collect();
    assert_eq!(progress(&run), steps);
    assert!(
        run.log_text(Level::Info).contains(
            "building hello_1.0-1 for amd64 in bookworm (sbuild/environment/system.tar.xz)"
        ),
        "{}",
        run.log_text(Level::Debug)
    );
    assert_eq!(run.log_text(Level::Warn), "");
    assert_eq!(run.workspace_file("sbuild/environment/system.tar.xz"), None);
}

#[test]
fn arch_all_binaries_are_a_second_binary_packages_artifact() {
    let debs = [
        "hello-doc_1.0-1_all.deb",
        "hello_1.0-1_amd64.buildinfo",
        "hello_1.0-1_amd64.deb",
    ];
    let run = sbuild(
        host().task_data(with(json!({"build_components": ["any", "all"]}))),
        built("amd64", &debs),
        "amd64",
    );
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        run.commands,
        [argv(
            "bookworm",
            ["--arch-any", "--arch-all", "--no-source"],
            &["--arch=amd64"]
        )]
    );
    let categories: Vec<&str> = run.artifacts.iter().map(|a| a.category.as_str()).collect();
    assert_eq!(
        categories,
        [
            "debian:package-build-log",
            "debian:upload",
            "debian:binary-packages",
            "debian:binary-packages"
        ]
    );
    let (all, amd64) = (&run.artifacts[2], &run.artifacts[3]);
    assert_eq!(all.data["architecture"], "all");
    assert_eq!(all.data["packages"], json!(["hello-doc"]));
    assert_eq!(file_names(all), ["hello-doc_1.0-1_all.deb"]);
    assert_eq!(amd64.data["architecture"], "amd64");
    assert_eq!(amd64.data["packages"], json!(["hello"]));
    use RelationType::{Extends, RelatesTo};
    let (l, u) = (FIRST, FIRST + 1);
    assert_eq!(
        relations(&run),
        [
            rel(l, SOURCE, RelatesTo),
            rel(all.id, SOURCE, RelatesTo),
            rel(u, all.id, Extends),
            rel(u, all.id, RelatesTo),
            rel(amd64.id, SOURCE, RelatesTo),
            rel(u, amd64.id, Extends),
            rel(u, amd64.id, RelatesTo),
            rel(l, all.id, RelatesTo),
            rel(l, amd64.id, RelatesTo),
        ]
    );
}

#[test]
fn a_build_that_fails_stores_only_its_log_with_the_fail_stage() {
    let phases = [
        "Update chroot",
        "Fetch source files",
        "Install package build dependencies",
        "Check architectures",
        "Build environment",
        "Build",
        "Cleanup",
    ];
    let text = build_log(
        "amd64",
        &phases,
        Some(&summary("amd64", "attempted", Some("build"))),
    )
    .replace(
        "-rfakeroot -B\n",
        "-rfakeroot -B\nmake: *** [debian/rules:4: build] Error 1\n\
         dpkg-buildpackage: error: debian/rules build subprocess returned exit status 2\n\
         E: Build failure (dpkg-buildpackage died)\n",
    );
    let reply = Reply::exit(2)
        .writes(log_file("amd64"), text.clone())
        .stderr("E: Build failure (dpkg-buildpackage died)\n");
    let run = sbuild(host(), reply, "amd64");
    assert_eq!(run.status, Ok(Status::Failure));
    let [log] = &run.artifacts[..] else {
        panic!("only the log: {:#?}", run.artifacts)
    };
    assert_eq!(log.category, "debian:package-build-log");
    assert_eq!(log.data["summary"]["Status"], "attempted");
    assert_eq!(log.data["summary"]["Fail-Stage"], "build");
    assert_eq!(
        log.files,
        [("hello_1.0-1_amd64.build".into(), text.into_bytes())]
    );
    assert_eq!(
        relations(&run),
        [rel(FIRST, SOURCE, RelationType::RelatesTo)]
    );
    let result = &run.results[0];
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        result.note.as_deref(),
        Some("attempted (Fail-Stage: build)")
    );
    assert_eq!(result.keyval("sbuild_exit_code"), Some("2"));
    assert_eq!(result.keyval("Fail-Stage"), Some("build"));
    assert_eq!(result.artifact.as_deref(), Some("artifact:1000"));
    assert_eq!(
        run.log_text(Level::Warn),
        "sbuild: E: Build failure (dpkg-buildpackage died)"
    );
}

#[test]
fn a_package_not_for_the_architecture_is_skipped_and_not_passed() {
    let phases = [
        "Update chroot",
        "Fetch source files",
        "Check architectures",
        "Cleanup",
    ];
    let text = build_log(
        "amd64",
        &phases,
        Some(&summary("amd64", "skipped", Some("arch-check"))),
    )
    .replace(
        "Arch check ok (amd64 included in any)\n",
        "E: dsc: amd64 not in arch list or does not match any arch wildcards: arm64 -- skipping\n",
    );
    // sbuild exits 0 on `skipped` outside buildd mode.
    let run = sbuild(
        host(),
        Reply::exit(0).writes(log_file("amd64"), text),
        "amd64",
    );
    assert_eq!(run.status, Ok(Status::Failure));
    assert_eq!(run.artifacts.len(), 1, "{:#?}", run.artifacts);
    let result = &run.results[0];
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        result.note.as_deref(),
        Some("skipped: hello does not build on amd64 (sbuild Status: skipped)")
    );
    assert_eq!(result.keyval("sbuild_exit_code"), Some("0"));
    assert_eq!(result.keyval("Fail-Stage"), Some("arch-check"));
}

#[test]
fn a_successful_log_with_a_non_zero_exit_is_a_failure() {
    let reply = leaving_a_build(
        Reply::exit(1).stderr("E: Failed to copy hello_1.0-1_amd64.changes\n"),
        "amd64",
        &["hello_1.0-1_amd64.deb"],
    );
    let run = sbuild(host(), reply, "amd64");
    assert_eq!(run.status, Ok(Status::Failure));
    // Not a success: the binaries sbuild left are not stored.
    let categories: Vec<&str> = run.artifacts.iter().map(|a| a.category.as_str()).collect();
    assert_eq!(categories, ["debian:package-build-log"]);
    let result = &run.results[0];
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        result.note.as_deref(),
        Some("successful in the log, but sbuild exited 1")
    );
    assert_eq!(result.keyval("sbuild_exit_code"), Some("1"));
    assert_eq!(
        run.log_text(Level::Warn),
        "sbuild: E: Failed to copy hello_1.0-1_amd64.changes"
    );
}

#[test]
fn build_options_are_trimmed_and_blank_ones_set_no_deb_build_options() {
    for (options, env) in [
        (
            " nocheck  parallel=2 ",
            vec![("DEB_BUILD_OPTIONS", "nocheck  parallel=2")],
        ),
        ("   ", vec![]),
    ] {
        let run = sbuild(
            host().task_data(with(json!({"build_options": options}))),
            built("amd64", &["hello_1.0-1_amd64.deb"]),
            "amd64",
        );
        assert_eq!(run.status, Ok(Status::Success), "{options:?}");
        assert_eq!(
            run.invocations,
            [invocation(
                argv("bookworm", DEFAULT, &["--arch=amd64"]),
                &env
            )],
            "{options:?}"
        );
    }
}

#[test]
fn sbuild_killed_mid_build_stores_the_log_so_far_and_says_how_it_ended() {
    let partial = build_log(
        "amd64",
        &[
            "Update chroot",
            "Fetch source files",
            "Install package build dependencies",
        ],
        None,
    );
    for (reply, note) in [
        (
            Reply::signal(9),
            "sbuild was killed by signal 9 during Install package build dependencies (no Status)",
        ),
        (
            Reply::timed_out(),
            "sbuild timed out during Install package build dependencies (no Status)",
        ),
    ] {
        let run = sbuild(
            host(),
            reply.writes(log_file("amd64"), partial.clone()),
            "amd64",
        );
        assert_eq!(run.status, Ok(Status::Failure));
        let [log] = &run.artifacts[..] else {
            panic!("{:#?}", run.artifacts)
        };
        // No Summary: the version is the .dsc's.
        assert_eq!(log.data["summary"], json!({}));
        assert_eq!(log.data["version"], "1.0-1");
        let result = &run.results[0];
        assert_eq!(result.item, "hello_1.0-1_amd64");
        assert_eq!(result.outcome, Outcome::Failed);
        assert_eq!(result.note.as_deref(), Some(note));
        assert_eq!(
            result.keyvals,
            [("sbuild_exit_code".to_string(), "none".to_string())]
        );
        let phases: Vec<&str> = run
            .log
            .iter()
            .filter_map(|(_, m)| m.strip_prefix("phase: "))
            .collect();
        assert_eq!(
            phases,
            [
                "Update chroot",
                "Fetch source files",
                "Install package build dependencies"
            ]
        );
        assert_eq!(
            progress(&run),
            [(1, Some(12)), (2, Some(12)), (3, Some(12))]
        );
    }
    // Killed with no phase in its log yet.
    let run = sbuild(
        host(),
        Reply::signal(15).writes(log_file("amd64"), build_log("amd64", &[], None)),
        "amd64",
    );
    assert_eq!(
        run.results[0].note.as_deref(),
        Some("sbuild was killed by signal 15 (no Status)")
    );
    assert!(run.progress.is_empty(), "{:?}", run.progress);
}

#[test]
fn sbuild_timed_out_after_a_successful_summary_is_no_success() {
    // Stopped while cleaning up, after its Summary said `successful`.
    let run = sbuild(
        host(),
        leaving_a_build(Reply::timed_out(), "amd64", &["hello_1.0-1_amd64.deb"]),
        "amd64",
    );
    assert_eq!(run.status, Ok(Status::Failure));
    let categories: Vec<&str> = run.artifacts.iter().map(|a| a.category.as_str()).collect();
    assert_eq!(categories, ["debian:package-build-log"]);
    let result = &run.results[0];
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        result.note.as_deref(),
        Some("sbuild timed out during Cleanup (successful)")
    );
    assert_eq!(result.keyval("sbuild_exit_code"), Some("none"));
}

#[test]
fn no_build_log_is_an_error_with_the_end_of_sbuild_s_stderr() {
    let stderr =
        "/etc/subuid doesn't exist\nE: unable to to unshare\nError setting up bookworm chroot\n";
    for (reply, how) in [
        (Reply::exit(1).stderr(stderr), "exited 1"),
        (Reply::signal(9).stderr(stderr), "was killed by signal 9"),
        (Reply::timed_out().stderr(stderr), "timed out"),
    ] {
        let run = host().reply("sbuild **", reply).execute::<Sbuild>();
        assert_eq!(
            run.status,
            Err(Error::Failed(format!(
                "sbuild wrote no build log ({how}): /etc/subuid doesn't exist | \
                 E: unable to to unshare | Error setting up bookworm chroot"
            )))
        );
        assert_eq!(run.commands.len(), 1);
        assert!(run.artifacts.is_empty() && run.results.is_empty());
    }
}

#[test]
fn success_without_a_changes_file_fails_after_storing_the_log() {
    let reply = Reply::exit(0).writes(
        log_file("amd64"),
        build_log(
            "amd64",
            ALL_PHASES,
            Some(&summary("amd64", "successful", None)),
        ),
    );
    let run = sbuild(host(), reply, "amd64");
    assert_eq!(
        run.status,
        Err(Error::Failed(
            "sbuild reported success but wrote no .changes".into()
        ))
    );
    let categories: Vec<&str> = run.artifacts.iter().map(|a| a.category.as_str()).collect();
    assert_eq!(categories, ["debian:package-build-log"]);
    assert!(run.results.is_empty());
}

#[test]
fn output_the_host_cut_leaves_the_build_log_whole() {
    // sbuild writes its log itself: the output limit is only for what
    // it prints.
    let reply = built("amd64", &["hello_1.0-1_amd64.deb"])
        .stdout("I: NOTICE: Log filtering will replace ...\n")
        .truncated();
    let run = sbuild(host(), reply, "amd64");
    assert_eq!(run.status, Ok(Status::Success));
    let text = build_log(
        "amd64",
        ALL_PHASES,
        Some(&summary("amd64", "successful", None)),
    );
    assert_eq!(run.artifacts[0].files[0].1, text.as_bytes());
    assert_eq!(run.results[0].outcome, Outcome::Passed);
}

#[test]
fn success_with_a_changes_file_listing_no_deb_fails_after_storing_the_log() {
    for (files, says) in [
        (
            &["hello_1.0-1_amd64.buildinfo"][..],
            "sbuild reported success but hello_1.0-1_amd64.changes lists no .deb: \
             hello_1.0-1_amd64.buildinfo",
        ),
        (
            &[][..],
            "sbuild reported success but hello_1.0-1_amd64.changes lists no files",
        ),
    ] {
        let run = sbuild(host(), built("amd64", files), "amd64");
        assert_eq!(run.status, Err(Error::Failed(says.into())));
        let categories: Vec<&str> = run.artifacts.iter().map(|a| a.category.as_str()).collect();
        assert_eq!(categories, ["debian:package-build-log"], "{files:?}");
        assert!(run.results.is_empty(), "{files:?}");
    }
}

#[test]
fn a_source_only_build_needs_no_deb() {
    let files = [
        "hello_1.0-1.dsc",
        "hello_1.0-1.debian.tar.xz",
        "hello_1.0-1_source.buildinfo",
    ];
    let mut reply = Reply::exit(0)
        .writes(
            log_file("amd64"),
            build_log(
                "amd64",
                ALL_PHASES,
                Some(&summary("amd64", "successful", None)),
            ),
        )
        .writes(
            "sbuild/build/hello_1.0-1_source.changes",
            changes("source", &files),
        );
    for file in files {
        reply = reply.writes(format!("sbuild/build/{file}"), format!("content of {file}"));
    }
    let run = sbuild(
        host().task_data(with(json!({"build_components": ["source"]}))),
        reply,
        "amd64",
    );
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        run.commands,
        [argv(
            "bookworm",
            ["--no-arch-any", "--no-arch-all", "--source"],
            &["--arch=amd64"]
        )]
    );
    let [log, upload] = &run.artifacts[..] else {
        panic!("{:#?}", run.artifacts)
    };
    assert_eq!(log.category, "debian:package-build-log");
    assert_eq!(upload.category, "debian:upload");
    assert_eq!(
        file_names(upload),
        [files[0], files[1], files[2], "hello_1.0-1_source.changes"]
    );
    assert_eq!(run.results[0].outcome, Outcome::Passed);
}

const KEY: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n\
mDMEZ0x1yhYJKwYBBAHaRw8BAQdAtaskhosttestkeymaterial\n=AbCd\n\
-----END PGP PUBLIC KEY BLOCK-----";

#[test]
fn every_option_reaches_the_command_line() {
    let data = json!({
        "input": {
            "source_artifact_id": SOURCE,
            "extra_binary_artifact_ids": [EXTRA, EXTRA_UPLOAD],
        },
        "environment": ENV,
        "backend": "unshare",
        "host_architecture": "amd64",
        "distribution": "bookworm-backports",
        "build_components": ["all", "source"],
        "build_profiles": ["nocheck", "pkg.hello.x"],
        "build_options": "nocheck parallel=4",
        "build_path": "/build/hello",
        "extra_repositories": [
            {"sources_list": "deb [trusted=yes] http://127.0.0.1:8080/ ./"},
            {
                "sources_list": "  deb http://deb.debian.org/debian bookworm-backports main  ",
                "authentication_key": format!("\n{KEY}\n\n"),
            },
        ],
    });
    let run = host()
        .task_data(data)
        .input(Input::new(EXTRA, "debian:binary-package").file("dep_1.0_all.deb", "a deb"))
        .input(
            Input::new(EXTRA_UPLOAD, "debian:upload")
                .file("dep2_1.0_amd64.changes", "Format: 1.8\n")
                .file("dep2_1.0_amd64.buildinfo", "Format: 1.0\n")
                .file("dep2_1.0_amd64.deb", "another deb"),
        )
        .reply("sbuild **", Reply::exit(1))
        .execute::<Sbuild>();
    assert_eq!(
        run.commands,
        [argv(
            "bookworm-backports",
            ["--no-arch-any", "--arch-all", "--source"],
            &[
                "--arch=amd64",
                "--profiles=nocheck,pkg.hello.x",
                "--build-path=/build/hello",
                "--extra-repository=deb [trusted=yes] http://127.0.0.1:8080/ ./",
                "--extra-repository=deb http://deb.debian.org/debian bookworm-backports main",
                "--extra-repository-key=sbuild/keys/1.asc",
                "--extra-package=sbuild/extra/30/dep_1.0_all.deb",
                "--extra-package=sbuild/extra/31/dep2_1.0_amd64.deb",
            ]
        )]
    );
    // build_options is sbuild's DEB_BUILD_OPTIONS, beside HOME.
    assert_eq!(
        run.invocations[0].env,
        [
            ("HOME".to_string(), "/sbuild-nonexistent".to_string()),
            (
                "DEB_BUILD_OPTIONS".to_string(),
                "nocheck parallel=4".to_string()
            ),
        ]
    );
    // The key sbuild reads: trimmed, one final newline.
    assert_eq!(
        run.workspace_file("sbuild/keys/1.asc"),
        Some(format!("{KEY}\n").into_bytes())
    );
    assert_eq!(run.workspace_file("sbuild/keys/0.asc"), None);
    assert!(
        matches!(&run.status, Err(Error::Failed(m)) if m.starts_with("sbuild wrote no build log (exited 1)")),
        "{:?}",
        run.status
    );
}

#[test]
fn a_cross_build_passes_host_and_build() {
    for build_architecture in [json!("amd64"), Value::Null] {
        let debs = ["hello_1.0-1_arm64.deb"];
        let run = sbuild(
            host().task_data(with(json!({
                "host_architecture": "arm64",
                "build_architecture": build_architecture,
            }))),
            built("arm64", &debs),
            "arm64",
        );
        assert_eq!(run.status, Ok(Status::Success));
        assert_eq!(
            run.commands,
            [argv(
                "bookworm",
                DEFAULT,
                &["--host=arm64", "--build=amd64"]
            )]
        );
        assert_eq!(run.artifacts[0].data["architecture"], "arm64");
        assert_eq!(run.artifacts[0].data["filename"], "hello_1.0-1_arm64.build");
        assert_eq!(run.artifacts[2].data["architecture"], "arm64");
        assert_eq!(run.results[0].item, "hello_1.0-1_arm64");
    }
}

#[test]
fn bad_task_data_is_refused_before_anything_runs() {
    for (extra, says) in [
        (json!({"bogus": 1}), "unknown key 'bogus'"),
        (
            json!({"input": {"source_artifact_id": SOURCE, "extra": 1}}),
            "'input.extra'",
        ),
        (
            json!({"host_architecture": 64}),
            "host_architecture: invalid type",
        ),
        (
            json!({"build_profiles": "nocheck"}),
            "build_profiles: invalid type",
        ),
        (
            json!({"build_components": ["any", "binary"]}),
            "build_components[1]: unknown variant `binary`",
        ),
        (json!({"build_components": []}), "build_components: empty"),
        (
            json!({"backend": "local"}),
            "backend: local would build on the host itself",
        ),
        (
            json!({"backend": "incus-lxc"}),
            "backend: IncusLxc is not available for sbuild",
        ),
        (
            json!({"host_architecture": "all"}),
            "host_architecture: 'all' is not a Debian architecture",
        ),
        (
            json!({"build_architecture": "amd64 i386"}),
            "build_architecture: 'amd64 i386'",
        ),
        (
            json!({"distribution": "--dist=sid"}),
            "distribution: '--dist=sid' is not a distribution name",
        ),
        (
            json!({"build_profiles": ["nocheck,nodoc"]}),
            "build_profiles[0]: 'nocheck,nodoc'",
        ),
        (
            json!({"build_options": "nocheck\nX=1"}),
            "build_options: must be one line",
        ),
        (
            json!({"build_path": "relative/dir"}),
            "build_path: 'relative/dir' must be an absolute path",
        ),
        (
            json!({"build_path": "/build/../etc"}),
            "build_path: '/build/../etc'",
        ),
        (
            json!({"extra_repositories": [{"sources_list": "deb http://h/debian bookworm"}]}),
            "extra_repositories[0].sources_list: suite 'bookworm' needs at least one component",
        ),
        (
            json!({"extra_repositories": [{"sources_list": "deb http://h/ ./", "authentication_key": "abc"}]}),
            "extra_repositories[0].authentication_key: is not an ASCII-armored public key",
        ),
    ] {
        let run = host().task_data(with(extra.clone())).execute::<Sbuild>();
        assert_invalid(&run, says);
        assert!(
            run.commands.is_empty() && run.backends.is_empty() && run.artifacts.is_empty(),
            "{extra}"
        );
    }
    let run = host()
        .task_data(json!({"input": {"source_artifact_id": SOURCE}, "environment": ENV}))
        .execute::<Sbuild>();
    assert_invalid(&run, "missing field `host_architecture`");
}

#[test]
fn inputs_that_cannot_build_are_refused_before_sbuild_runs() {
    let cases = [
        (
            host().input(environment(
                json!({"codename": "bookworm", "architecture": "s390x"}),
            )),
            "host_architecture: the environment (artifact 20) is an s390x system, so it builds on s390x, not amd64",
        ),
        (
            host()
                .task_data(with(json!({"build_architecture": "i386"})))
                .input(environment(
                    json!({"codename": "bookworm", "architecture": "amd64"}),
                )),
            "build_architecture: the environment (artifact 20) is an amd64 system",
        ),
        (
            host().input(environment(json!({"architecture": "amd64"}))),
            "distribution: the environment (artifact 20) names no codename; give distribution",
        ),
        (
            host().input(
                Input::new(SOURCE, "debian:source-package").file("hello_1.0.orig.tar.gz", "orig"),
            ),
            "input.source_artifact_id: artifact 10 holds no .dsc",
        ),
        (
            host().input(
                Input::new(ENV, "debian:system-tarball")
                    .data(json!({"codename": "bookworm", "architecture": "amd64"}))
                    .file("system.img", "a disk image"),
            ),
            "environment: artifact 20 holds no .tar* file",
        ),
        (
            host()
                .task_data(with(json!({"input": {
                    "source_artifact_id": SOURCE,
                    "extra_binary_artifact_ids": [EXTRA],
                }})))
                .input(Input::new(EXTRA, "debian:upload").file("dep_1.0_amd64.changes", "x")),
            "input.extra_binary_artifact_ids: artifact 30 holds no .deb",
        ),
        (
            host().task_data(with(json!({
                "environment": "debian/match:codename=bookworm:variant=buildd",
            }))),
            "artifact reference 'debian/match:codename=bookworm:variant=buildd' was not resolved",
        ),
    ];
    for (host, says) in cases {
        let run = host.execute::<Sbuild>();
        assert_invalid(&run, says);
        assert!(
            run.commands.is_empty() && run.artifacts.is_empty(),
            "{says}"
        );
        assert!(run.results.is_empty());
    }
}

#[test]
fn a_denied_command_or_backend_stores_nothing() {
    for host in [host().deny_exec("sbuild **"), host().deny_backend("local")] {
        let run = host.execute::<Sbuild>();
        assert!(
            matches!(run.status, Err(Error::AccessDenied(_))),
            "{:?}",
            run.status
        );
        assert_eq!(run.denied.len(), 1, "{:?}", run.denied);
        assert!(run.commands.is_empty());
        assert!(run.artifacts.is_empty() && run.results.is_empty());
    }
}

#[test]
fn a_denied_category_stops_the_run_where_it_is_created() {
    let debs = ["hello_1.0-1_amd64.deb"];
    for (category, stored) in [
        ("debian:package-build-log", vec![]),
        ("debian:upload", vec!["debian:package-build-log"]),
        (
            "debian:binary-packages",
            vec!["debian:package-build-log", "debian:upload"],
        ),
    ] {
        let run = sbuild(host().deny_create(category), built("amd64", &debs), "amd64");
        assert!(
            matches!(&run.status, Err(Error::AccessDenied(m)) if m.contains(category)),
            "{category}: {:?}",
            run.status
        );
        assert_eq!(run.commands.len(), 1);
        let categories: Vec<&str> = run.artifacts.iter().map(|a| a.category.as_str()).collect();
        assert_eq!(categories, stored, "{category}");
        assert!(run.results.is_empty(), "{category}");
    }
}

#[test]
fn a_changes_file_that_is_not_deb822_fails_after_storing_the_log() {
    let reply = built("amd64", &["hello_1.0-1_amd64.deb"]).writes(
        "sbuild/build/hello_1.0-1_amd64.changes",
        // Cut short: what is left starts inside Checksums-Sha256.
        " c46351ad 2448 hello_1.0-1_amd64.deb\n",
    );
    let run = sbuild(host(), reply, "amd64");
    match &run.status {
        Err(Error::Failed(m)) => assert_eq!(
            m.trim_end(),
            "hello_1.0-1_amd64.changes: not deb822: unexpected indentation without field\n\
             orphaned text without field name"
        ),
        other => panic!("{other:?}"),
    }
    let categories: Vec<&str> = run.artifacts.iter().map(|a| a.category.as_str()).collect();
    assert_eq!(categories, ["debian:package-build-log"]);
    assert!(run.results.is_empty());
}
