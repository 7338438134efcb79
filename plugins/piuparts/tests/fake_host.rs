//! `execute` against the SDK's fake host: the piuparts command line, the
//! base tarball it is handed (re-packed as gzip, /dev left out), what a
//! run stores and reports, and each way it fails. The logs are piuparts
//! 1.1.7's (`0m1.2s LEVEL: message` records; exit 1 after `piuparts run
//! ends.` on a failure).

use serde_json::{Value, json};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use tar::EntryType;
use taskhost_plugin_piuparts::Piuparts;
use taskhost_sdk::artifacts::RelationType;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{FakeHost, Input, Invocation, Reply, Run};
use taskhost_sdk::{Error, Outcome, Status};

const BIN: u64 = 10;
const UPLOAD: u64 = 11;
const ENV: u64 = 20;
const BASE: u64 = 30;
/// The first id the fake host gives a created artifact.
const FIRST: u64 = 1000;

/// The command for the .debs of `debs` (workspace paths) on `base`.
fn argv(base: &str, debs: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = [
        "unshare",
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "piuparts",
        "--keep-sources-list",
        "--allow-database",
        "--warn-on-leftovers-after-purge",
    ]
    .map(String::from)
    .to_vec();
    argv.push(format!("--basetgz={base}"));
    argv.push("--tmpdir=piuparts/tmp".into());
    argv.extend(debs.iter().map(|d| d.to_string()));
    argv
}

const PIUPARTS: &str = "unshare --mount --pid --fork --kill-child --mount-proc piuparts **";

/// piuparts 1.1.7's opening records.
fn head(args: &str) -> String {
    format!(
        "\
0m0.0s INFO: ------------------------------------------------------------------------------
0m0.0s INFO: To quickly glance what went wrong, scroll down to the bottom of this logfile.
0m0.0s INFO: FAQ available at https://wiki.debian.org/piuparts/FAQ
0m0.0s INFO: The FAQ also explains how to contact us in case you think piuparts is wrong.
0m0.0s INFO: ------------------------------------------------------------------------------
0m0.0s INFO: piuparts version 1.1.7 starting up.
0m0.0s INFO: Command line arguments: /usr/sbin/piuparts {args}
0m0.0s INFO: Running on: Linux taskhost 6.1.0-28-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22) x86_64
0m0.0s DEBUG: Created temporary directory piuparts/tmp/tmpsg0nov3x
0m0.0s DEBUG: Unpacking piuparts/base/system.tar.gz into piuparts/tmp/tmpsg0nov3x
0m0.0s DEBUG: Starting command: ['tar', '-C', 'piuparts/tmp/tmpsg0nov3x', '-zxf', 'piuparts/base/system.tar.gz']
0m2.1s DEBUG: Command ok: ['tar', '-C', 'piuparts/tmp/tmpsg0nov3x', '-zxf', 'piuparts/base/system.tar.gz']
"
    )
}

fn log_of(body: &str) -> String {
    head(
        "--keep-sources-list --allow-database --warn-on-leftovers-after-purge --basetgz=piuparts/base/system.tar.gz --tmpdir=piuparts/tmp piuparts/input/10/th_1.0_all.deb",
    ) + body
}

const PASS: &str = "\
0m20.1s INFO: PASS: Installation and purging test.
0m20.2s INFO: Can't test upgrade: packages not known by apt-get.
0m21.0s INFO: PASS: All tests.
0m21.0s INFO: piuparts run ends.
";

const LEFTOVERS: &str = "\
0m19.0s INFO: Warning: Package purging left files on system:
  /etc/th.conf\t not owned
  /var/lib/th/\t not owned

0m20.1s INFO: PASS: Installation and purging test.
0m20.2s INFO: Can't test upgrade: packages not known by apt-get.
0m21.0s INFO: PASS: All tests.
0m21.0s INFO: piuparts run ends.
";

/// A postinst that runs add-shell without a postrm running remove-shell.
const FAILED: &str = "\
0m32.8s DEBUG: Modified(user, group, mode, size, target): /etc/shells expected(root, root, - 100644, 128, None) != found(root, root, - 100644, 146, None)
0m32.9s ERROR: FAIL: After purging files have been modified:
  /etc/shells\t not owned

0m32.9s ERROR: FAIL: Installation and purging test.
0m33.2s DEBUG: Starting command: ['umount', 'piuparts/tmp/tmpsg0nov3x/dev/shm']
0m33.2s DEBUG: Command ok: ['umount', 'piuparts/tmp/tmpsg0nov3x/dev/shm']
0m34.0s ERROR: piuparts run ends.
";

/// A postinst that exits 1.
const STOPPED: &str = "\
0m9.0s ERROR: Command failed (status=100): ['chroot', 'piuparts/tmp/tmpsg0nov3x', 'apt-get', '-y', 'install', '/tmp/th_1.0_all.deb']
  Setting up th (1.0) ...
  th: postinst fails on purpose
  dpkg: error processing package th (--configure):
   installed th package post-installation script subprocess returned error exit status 1

0m9.1s ERROR: piuparts run ends.
";

const SKIPPED: &str = "\
0m5.0s INFO: SKIP: All tests. Package cannot be tested with piuparts: th.
0m21.0s INFO: PASS: All tests.
0m21.0s INFO: piuparts run ends.
";

fn tar(members: &[(&str, EntryType, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, kind, body) in members {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        if *kind == EntryType::Char {
            header.set_device_major(1).expect("major");
            header.set_device_minor(3).expect("minor");
        }
        // The name as given (`./dev/null`): append_data would drop the `./`.
        let field = &mut header.as_gnu_mut().expect("gnu").name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        tar.append(&header, *body).expect("member");
    }
    tar.into_inner().expect("tar")
}

/// A system tarball as mmdebstrap writes it: /dev first.
fn system() -> Vec<u8> {
    tar(&[
        ("./", EntryType::Directory, b""),
        ("./dev/", EntryType::Directory, b""),
        ("./dev/null", EntryType::Char, b""),
        ("./dev/pts/", EntryType::Directory, b""),
        ("./etc/", EntryType::Directory, b""),
        ("./etc/hostname", EntryType::Regular, b"taskhost\n"),
    ])
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut xz =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1)).expect("xz");
    xz.write_all(bytes).expect("xz");
    xz.finish().expect("xz")
}

/// The members of the gzip tarball at workspace path `path`.
fn members(path: &str) -> Vec<String> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect(path))
        .read_to_end(&mut bytes)
        .expect("gunzip");
    tar::Archive::new(&bytes[..])
        .entries()
        .expect("entries")
        .map(|e| {
            // The raw name: the tar crate's path() drops the `./`.
            String::from_utf8_lossy(&e.expect("entry").path_bytes()).into_owned()
        })
        .collect()
}

fn minimal() -> Value {
    json!({
        "input": {"binary_artifacts_ids": [BIN]},
        "environment": ENV,
        "base_tgz_id": BASE,
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

fn tarball(id: u64, data: Value, name: &str, content: Vec<u8>) -> Input {
    Input::new(id, "debian:system-tarball")
        .data(data)
        .file(name, content)
}

fn base(with_dev: bool, name: &str, content: Vec<u8>) -> Input {
    tarball(
        BASE,
        json!({"codename": "bookworm", "architecture": "amd64", "filename": name, "with_dev": with_dev}),
        name,
        content,
    )
}

fn host() -> FakeHost {
    FakeHost::new()
        .task_data(minimal())
        .input(Input::new(BIN, "debian:binary-packages").file("th_1.0_all.deb", "a deb"))
        .input(tarball(
            ENV,
            json!({"codename": "bookworm", "architecture": "amd64", "variant": "buildd", "filename": "system.tar.xz"}),
            "system.tar.xz",
            xz(&system()),
        ))
        .input(base(false, "system.tar.gz", gz(&system())))
}

fn piuparts(host: FakeHost, reply: Reply) -> Run<Status> {
    host.reply(PIUPARTS, reply).execute::<Piuparts>()
}

const ONE_DEB: &[&str] = &["piuparts/input/10/th_1.0_all.deb"];

/// The last `n` lines of `text` that are not blank, joined as a message
/// quotes them.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
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
fn a_clean_package_passes_and_the_log_relates_to_it() {
    let log = log_of(PASS);
    let run = piuparts(host(), Reply::exit(0).stdout(log.clone()));
    assert_eq!(run.status, Ok(Status::Success));
    let expected = argv("piuparts/base/system.tar.gz", ONE_DEB);
    assert_eq!(run.commands, std::slice::from_ref(&expected));
    assert_eq!(run.backends, ["local"]);
    // stdout is the log; nothing else is set: no environment, stdin or
    // timeout of its own, and no root from the host (runtask's user runs
    // it, and must be root).
    assert_eq!(
        run.invocations,
        [Invocation {
            argv: expected.clone(),
            env: vec![],
            cwd: None,
            stdin: None,
            stdout: Some("piuparts/piuparts.log".into()),
            stderr: Some("piuparts/piuparts.stderr".into()),
            timeout_ms: None,
            run_as_root: false,
            backend: "local".into(),
        }]
    );
    assert_eq!(run.log_text(Level::Warn), "");

    let [artifact] = &run.artifacts[..] else {
        panic!("{:#?}", run.artifacts)
    };
    assert_eq!(artifact.id, FIRST);
    assert_eq!(artifact.category, "debian:piuparts");
    assert_eq!(
        artifact.data,
        json!({
            "packages": {"th": "th_1.0_all.deb"},
            "host_architecture": "amd64",
            "environment": ENV,
            "base_tgz": {
                "id": BASE, "filename": "system.tar.gz", "codename": "bookworm",
                "architecture": "amd64", "with_dev": false, "repacked": false,
                "dev_entries_removed": 0,
            },
            "cmdline": expected.join(" "),
            "exit_code": 0,
            "verdict": "passed",
            "piuparts_version": "1.1.7",
            "passed": ["Installation and purging test.", "All tests."],
            "failed": [],
            "skipped": [],
            "warnings": [],
            "errors": [],
        })
    );
    assert_eq!(
        artifact.files,
        [("piuparts.log".to_string(), log.into_bytes())]
    );
    assert_eq!(run.relations.len(), 1);
    assert_eq!(
        (
            run.relations[0].source,
            run.relations[0].target,
            run.relations[0].relation
        ),
        (FIRST, BIN, RelationType::RelatesTo)
    );

    let [result] = &run.results[..] else {
        panic!("{:#?}", run.results)
    };
    assert_eq!(result.item, "th_1.0_all");
    assert_eq!(result.item_type, "debian_package");
    assert_eq!(result.checkname.as_deref(), Some("piuparts"));
    assert_eq!(result.outcome, Outcome::Passed);
    assert_eq!(
        result.note.as_deref(),
        Some("PASS: Installation and purging test")
    );
    assert_eq!(result.artifact.as_deref(), Some("artifact:1000"));
    assert_eq!(
        result.keyvals,
        [("piuparts_exit_code".to_string(), "0".to_string())]
    );
    assert_eq!(
        run.log_text(Level::Info),
        "piuparts on th_1.0_all.deb in bookworm (amd64)"
    );
    // The base tarball is gone after the run.
    assert_eq!(run.workspace_file("piuparts/base/system.tar.gz"), None);
}

#[test]
fn an_xz_base_with_dev_is_repacked_as_gzip_without_dev_entries() {
    let handed = Rc::new(RefCell::new(Vec::new()));
    let seen = handed.clone();
    let run = host()
        .input(base(true, "system.tar.xz", xz(&system())))
        .respond(PIUPARTS, move |_| {
            // What piuparts finds at --basetgz when it runs.
            *seen.borrow_mut() = members("piuparts/base.tar.gz");
            assert!(!std::path::Path::new("piuparts/base/system.tar.xz").exists());
            Reply::exit(0).stdout(log_of(PASS))
        })
        .execute::<Piuparts>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.commands, [argv("piuparts/base.tar.gz", ONE_DEB)]);
    assert_eq!(
        *handed.borrow(),
        ["./", "./dev/", "./etc/", "./etc/hostname"]
    );
    assert_eq!(
        run.artifacts[0].data["base_tgz"],
        json!({
            "id": BASE, "filename": "system.tar.xz", "codename": "bookworm",
            "architecture": "amd64", "with_dev": true, "repacked": true,
            "dev_entries_removed": 2,
        })
    );
    assert!(
        run.log_text(Level::Info)
            .contains("re-packed the base tarball as gzip (4 members, 2 under /dev left out)"),
        "{}",
        run.log_text(Level::Debug)
    );
    assert_eq!(run.workspace_file("piuparts/base.tar.gz"), None);
}

#[test]
fn a_plain_tar_base_is_gzipped_whole_and_the_named_file_is_the_base() {
    let handed = Rc::new(RefCell::new(Vec::new()));
    let seen = handed.clone();
    let run = host()
        .input(
            Input::new(BASE, "debian:system-tarball")
                .data(json!({"architecture": "amd64", "filename": "system.tar"}))
                .file("other.tar.gz", gz(b"not this one"))
                .file("system.tar", system()),
        )
        .respond(PIUPARTS, move |_| {
            *seen.borrow_mut() = members("piuparts/base.tar.gz");
            Reply::exit(0).stdout(log_of(PASS))
        })
        .execute::<Piuparts>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.commands, [argv("piuparts/base.tar.gz", ONE_DEB)]);
    assert_eq!(handed.borrow().len(), 6, "{:?}", handed.borrow());
    let base_tgz = &run.artifacts[0].data["base_tgz"];
    assert_eq!(base_tgz["repacked"], true);
    assert_eq!(base_tgz["dev_entries_removed"], 0);
    assert_eq!(base_tgz["codename"], "");
    assert!(
        run.log_text(Level::Info).contains(
            "re-packed the base tarball as gzip (6 members)\npiuparts on th_1.0_all.deb in the base tarball (amd64)"
        ),
        "{}",
        run.log_text(Level::Debug)
    );
}

#[test]
fn the_debs_of_several_artifacts_are_tested_together_each_once() {
    let run = piuparts(
        host()
            .task_data(with(
                json!({"input": {"binary_artifacts_ids": [BIN, UPLOAD]}}),
            ))
            .input(
                Input::new(UPLOAD, "debian:upload")
                    .file("th-bin_1.0_amd64.changes", "Format: 1.8\n")
                    .file("th-bin_1.0_amd64.buildinfo", "Format: 1.0\n")
                    .file("th-bin_1.0_amd64.deb", "a deb")
                    .file("th-installer_1.0_amd64.udeb", "a udeb")
                    .file("th_1.0_all.deb", "a deb"),
            ),
        Reply::exit(0).stdout(log_of(PASS)),
    );
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        run.commands,
        [argv(
            "piuparts/base/system.tar.gz",
            &[
                "piuparts/input/10/th_1.0_all.deb",
                "piuparts/input/11/th-bin_1.0_amd64.deb"
            ]
        )]
    );
    assert_eq!(
        run.artifacts[0].data["packages"],
        json!({"th": "th_1.0_all.deb", "th-bin": "th-bin_1.0_amd64.deb"})
    );
    let targets: Vec<(u64, u64)> = run.relations.iter().map(|r| (r.source, r.target)).collect();
    assert_eq!(targets, [(FIRST, BIN), (FIRST, UPLOAD)]);
    assert_eq!(run.results[0].item, "th_1.0_all th-bin_1.0_amd64");
}

#[test]
fn files_left_after_purge_pass_with_warnings() {
    let run = piuparts(host(), Reply::exit(0).stdout(log_of(LEFTOVERS)));
    assert_eq!(run.status, Ok(Status::Success));
    let result = &run.results[0];
    assert_eq!(result.outcome, Outcome::Info);
    assert_eq!(
        result.note.as_deref(),
        Some(
            "PASS: Installation and purging test; 1 warning(s): \
             Package purging left files on system: /etc/th.conf, /var/lib/th/"
        )
    );
    assert_eq!(
        result.keyval("warnings"),
        Some(
            "Package purging left files on system:\n  /etc/th.conf not owned\n  /var/lib/th/ not owned"
        )
    );
    assert_eq!(result.keyval("failures"), None);
    let data = &run.artifacts[0].data;
    assert_eq!(data["verdict"], "passed-with-warnings");
    assert_eq!(
        data["warnings"],
        json!([{
            "message": "Package purging left files on system:",
            "files": ["/etc/th.conf not owned", "/var/lib/th/ not owned"],
        }])
    );
}

#[test]
fn a_fail_fails_with_the_test_and_the_files() {
    let run = piuparts(host(), Reply::exit(1).stdout(log_of(FAILED)));
    assert_eq!(run.status, Ok(Status::Failure));
    let result = &run.results[0];
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        result.note.as_deref(),
        Some(
            "FAIL: Installation and purging test: After purging files have been modified: /etc/shells"
        )
    );
    assert_eq!(result.keyval("piuparts_exit_code"), Some("1"));
    assert_eq!(
        result.keyval("failures"),
        Some(
            "After purging files have been modified:\n  /etc/shells not owned\nInstallation and purging test."
        )
    );
    assert_eq!(result.keyval("errors"), None);
    let data = &run.artifacts[0].data;
    assert_eq!(data["verdict"], "failed");
    assert_eq!(data["exit_code"], 1);
    assert_eq!(data["failed"][0]["files"], json!(["/etc/shells not owned"]));
    assert_eq!(data["passed"], json!([]));
}

#[test]
fn a_failed_maintainer_script_stops_piuparts_and_fails() {
    let run = piuparts(host(), Reply::exit(1).stdout(log_of(STOPPED)));
    assert_eq!(run.status, Ok(Status::Failure));
    let result = &run.results[0];
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        result.note.as_deref(),
        Some(
            "piuparts stopped: Command failed (status=100): ['chroot', 'piuparts/tmp/tmpsg0nov3x', \
             'apt-get', '-y', 'install', '/tmp/th_1.0_all.deb']"
        )
    );
    let errors = result.keyval("errors").expect("errors");
    assert!(
        errors.ends_with(
            "\n  dpkg: error processing package th (--configure):\n  \
             installed th package post-installation script subprocess returned error exit status 1"
        ),
        "{errors}"
    );
    assert_eq!(run.artifacts[0].data["verdict"], "failed");
}

#[test]
fn a_package_piuparts_cannot_test_is_skipped() {
    let run = piuparts(host(), Reply::exit(0).stdout(log_of(SKIPPED)));
    assert_eq!(run.status, Ok(Status::Skipped));
    let result = &run.results[0];
    assert_eq!(result.outcome, Outcome::Info);
    assert_eq!(
        result.note.as_deref(),
        Some("SKIP: All tests. Package cannot be tested with piuparts: th.")
    );
    assert_eq!(run.artifacts[0].data["verdict"], "skipped");
}

#[test]
fn no_verdict_is_an_error_naming_the_stored_log() {
    let partial = log_of(
        "0m3.0s DEBUG: Starting command: ['chroot', 'piuparts/tmp/tmpsg0nov3x', 'apt-get', 'update']\n",
    );
    let traceback = "Traceback (most recent call last):\n  File \"/usr/sbin/piuparts\", line 3372, in <module>\n    main()\nOSError: [Errno 28] No space left on device\n";
    for (reply, says) in [
        (
            Reply::exit(1).stdout("You need to be root to use piuparts.\n"),
            "piuparts exited 1 without a verdict (piuparts runs as root: run runtask as root); \
             its log is artifact 1000: You need to be root to use piuparts."
                .to_string(),
        ),
        (
            Reply::exit(1).stderr("unshare: unshare failed: Operation not permitted\n"),
            "piuparts exited 1 without a verdict (piuparts runs as root: run runtask as root); \
             its log is artifact 1000: unshare: unshare failed: Operation not permitted"
                .to_string(),
        ),
        // What it said on stderr comes before its log.
        (
            Reply::exit(1).stdout(partial.clone()).stderr(traceback),
            concat!(
                "piuparts exited 1 without a verdict; its log is artifact 1000: ",
                "Traceback (most recent call last): | ",
                "  File \"/usr/sbin/piuparts\", line 3372, in <module> | ",
                "    main() | ",
                "OSError: [Errno 28] No space left on device",
            )
            .to_string(),
        ),
        // Stopped, or silent on stderr: the end of its log is quoted.
        (
            Reply::signal(9).stdout(partial.clone()),
            "piuparts was killed by signal 9 without a verdict; its log is artifact 1000: "
                .to_string()
                + &last_lines(&partial, 5),
        ),
        (
            Reply::timed_out().stdout(partial.clone()),
            "piuparts timed out without a verdict; its log is artifact 1000: ".to_string()
                + &last_lines(&partial, 5),
        ),
        // Exit 0 without `PASS: All tests.`: a log cut short is no pass.
        (
            Reply::exit(0).stdout(partial.clone()),
            "piuparts exited 0 without a verdict; its log is artifact 1000: ".to_string()
                + &last_lines(&partial, 5),
        ),
        (
            Reply::signal(9),
            "piuparts was killed by signal 9 without a verdict; its log is artifact 1000, \
             and it printed nothing"
                .to_string(),
        ),
    ] {
        let run = piuparts(host(), reply);
        assert_eq!(run.status, Err(Error::Failed(says.clone())));
        let [artifact] = &run.artifacts[..] else {
            panic!("{:#?}", run.artifacts)
        };
        assert_eq!(artifact.data["verdict"], "inconclusive");
        assert_eq!(run.relations.len(), 1);
        assert!(run.results.is_empty(), "{says}");
    }
}

#[test]
fn a_log_cut_at_the_output_limit_is_no_pass_and_is_warned_of() {
    // The host kept the start of the log: no `PASS: All tests.`.
    let cut = log_of("0m20.1s INFO: PASS: Installation and purging test.\n0m20.2s INFO: Can't t");
    let run = piuparts(host(), Reply::exit(0).stdout(cut.clone()).truncated());
    assert_eq!(
        run.status,
        Err(Error::Failed(
            "piuparts exited 0 without a verdict; its log is artifact 1000: ".to_string()
                + &last_lines(&cut, 5)
        ))
    );
    assert_eq!(
        run.log_text(Level::Warn),
        "piuparts' log passed the output limit and was cut (`output-limit` in the policy)"
    );
    assert_eq!(run.artifacts[0].files[0].1, cut.as_bytes());
    assert_eq!(run.artifacts[0].data["verdict"], "inconclusive");
}

#[test]
fn bad_task_data_is_refused_before_anything_runs() {
    for (extra, says) in [
        (
            json!({"extra_repositories": []}),
            "unknown key 'extra_repositories' (extra fields not permitted)",
        ),
        (
            json!({"input": {"binary_artifacts_ids": BIN}}),
            "input.binary_artifacts_ids: invalid type",
        ),
        (
            json!({"host_architecture": ["amd64"]}),
            "host_architecture: invalid type",
        ),
        (
            json!({"input": {"binary_artifacts_ids": []}}),
            "input.binary_artifacts_ids: empty; give the binary packages to test",
        ),
        (
            json!({"backend": "incus-lxc"}),
            "backend: incus-lxc is not available for piuparts on this host; use unshare (or auto)",
        ),
        (
            json!({"backend": "incus-vm"}),
            "backend: incus-vm is not available for piuparts",
        ),
        (
            json!({"backend": "schroot"}),
            "backend: schroot is not available for piuparts",
        ),
        (json!({"backend": "qemu"}), "unknown variant `qemu`"),
        (
            json!({"host_architecture": "all"}),
            "host_architecture: 'all' is not a Debian architecture",
        ),
        (
            json!({"host_architecture": "AMD64"}),
            "host_architecture: 'AMD64'",
        ),
    ] {
        let run = host().task_data(with(extra.clone())).execute::<Piuparts>();
        assert_invalid(&run, says);
        assert!(
            run.commands.is_empty() && run.backends.is_empty() && run.artifacts.is_empty(),
            "{extra}"
        );
    }
    let mut data = minimal();
    data.as_object_mut().expect("object").remove("base_tgz_id");
    let run = host().task_data(data).execute::<Piuparts>();
    assert_invalid(&run, "missing field `base_tgz_id`");
}

#[test]
fn inputs_piuparts_cannot_use_are_refused_before_it_runs() {
    let amd64 = json!({"codename": "bookworm", "architecture": "amd64"});
    let zstd = vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0];
    let cases = [
        (
            host().input(tarball(
                ENV,
                json!({"architecture": "s390x"}),
                "system.tar.xz",
                vec![],
            )),
            "environment: artifact 20 is an s390x system, but host_architecture is amd64; give an amd64 system tarball",
        ),
        (
            host().input(tarball(
                BASE,
                json!({"architecture": "arm64"}),
                "system.tar.gz",
                gz(&system()),
            )),
            "base_tgz_id: artifact 30 is an arm64 system, but host_architecture is amd64",
        ),
        (
            host()
                .input(Input::new(BIN, "debian:binary-package").file("th_1.0_s390x.deb", "a deb")),
            "input.binary_artifacts_ids: artifact 10 holds th_1.0_s390x.deb, an s390x package, but host_architecture is amd64",
        ),
        (
            host().input(
                Input::new(BIN, "debian:upload")
                    .file("th_1.0_amd64.udeb", "a udeb")
                    .file("th_1.0_amd64.changes", "x"),
            ),
            "input.binary_artifacts_ids: artifact 10 holds no .deb",
        ),
        (
            host().input(tarball(BASE, amd64.clone(), "system.img", vec![1, 2, 3])),
            "base_tgz_id: artifact 30 holds no tarball (.tar, .tar.gz, .tar.xz)",
        ),
        (
            host().input(tarball(
                BASE,
                amd64.clone(),
                "system.tar.xz",
                b"not really a tarball".to_vec(),
            )),
            "base_tgz_id: artifact 30: piuparts/base/system.tar.xz: not a tarball; give a .tar, .tar.gz or .tar.xz",
        ),
        (
            host().input(tarball(BASE, amd64.clone(), "system.tar.zst", zstd)),
            "base_tgz_id: artifact 30: piuparts/base/system.tar.zst: zstd-compressed; give a .tar, .tar.gz or .tar.xz",
        ),
        (
            host().task_data(with(
                json!({"base_tgz_id": "debian/match:codename=bookworm:variant=minbase"}),
            )),
            "artifact reference 'debian/match:codename=bookworm:variant=minbase' was not resolved by the host",
        ),
    ];
    for (host, says) in cases {
        let run = host.execute::<Piuparts>();
        assert_invalid(&run, says);
        assert!(run.commands.is_empty() && run.backends.is_empty(), "{says}");
        assert!(run.artifacts.is_empty() && run.results.is_empty(), "{says}");
    }
}

#[test]
fn a_denied_command_backend_or_category_stores_nothing() {
    for (host, ran) in [
        (host().deny_exec(PIUPARTS), 0),
        (host().deny_backend("local"), 0),
        (
            host()
                .reply(PIUPARTS, Reply::exit(0).stdout(log_of(PASS)))
                .deny_create("debian:piuparts"),
            1,
        ),
    ] {
        let run = host.execute::<Piuparts>();
        assert!(
            matches!(run.status, Err(Error::AccessDenied(_))),
            "{:?}",
            run.status
        );
        assert_eq!(run.denied.len(), 1, "{:?}", run.denied);
        assert_eq!(run.commands.len(), ran);
        assert!(run.artifacts.is_empty() && run.relations.is_empty());
        assert!(run.results.is_empty());
    }
}
