//! `execute` against the SDK's fake host: the commands it runs, the
//! debian:lintian artifacts and results it stores, and each way it fails.
//!
//! lintian's stdout is the real output kept in testdata/ (lintian 2.116,
//! Debian 12; see testdata/README). lintian 2.116 exits 0 normally, 1 on a
//! run-time error (e.g. a package it skips) and 2 when a hint reaches
//! `--fail-on` (default: error), or when an input is unreadable.

use serde_json::{Value, json};
use taskhost_plugin_lintian::Lintian;
use taskhost_sdk::artifacts::RelationType;
use taskhost_sdk::log::Level;
use taskhost_sdk::testing::{Created, Emitted, FakeHost, Input, Invocation, Relation, Reply, Run};
use taskhost_sdk::{Error, Outcome, Status};

const SOURCE: u64 = 10;
const BINARIES: u64 = 11;
const TARBALL: u64 = 20;
const VERSION: &str = "2.116.3+deb12u1";

const OPTIONS: [&str; 7] = [
    "lintian",
    "--no-cfg",
    "--display-level",
    ">=classification",
    "--display-experimental",
    "--info",
    "--show-overrides",
];
const BASIC_CHANGES: &str = "testdata/basic-changes.txt";
const OVERRIDES_BINARY: &str = "testdata/overrides-binary.txt";
const OVERRIDES_SOURCE: &str = "testdata/overrides-source.txt";

/// The content of fixture `path` (relative to the crate, as
/// `Reply::stdout_file` reads it).
fn testdata(path: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const DPKG_QUERY: [&str; 4] = ["dpkg-query", "-W", "-f=${Version}", "lintian"];

/// lintian's argv: the fixed options, then `rest`.
fn lintian_argv(rest: &[&str]) -> Vec<String> {
    OPTIONS.iter().chain(rest).map(|s| s.to_string()).collect()
}

/// A command as the plugin gives it: `argv`, its output to `stdout` and
/// `stderr` (the host's own files when `None`), on backend `local`, with no
/// environment, stdin, timeout or root.
fn invocation(argv: Vec<String>, stdout: Option<&str>, stderr: Option<&str>) -> Invocation {
    Invocation {
        argv,
        env: vec![],
        cwd: None,
        stdin: None,
        stdout: stdout.map(String::from),
        stderr: stderr.map(String::from),
        timeout_ms: None,
        run_as_root: false,
        backend: "local".into(),
    }
}

/// The source of lintfix-basic (testdata/basic-changes.txt).
fn basic_source() -> Input {
    Input::new(SOURCE, "debian:source-package")
        .data(json!({"name": "lintfix-basic", "version": "1.0"}))
        .file(
            "lintfix-basic_1.0.dsc",
            "Format: 3.0 (native)\nSource: lintfix-basic\n",
        )
        .file("lintfix-basic_1.0.tar.xz", "xz")
}

/// Its upload: .changes and .buildinfo, which lintian is not given, and
/// two binaries.
fn basic_upload() -> Input {
    Input::new(BINARIES, "debian:upload")
        .file("lintfix-basic_1.0_amd64.changes", "Format: 1.8\n")
        .file("lintfix-basic_1.0_amd64.buildinfo", "Format: 1.0\n")
        .file("lintfix-basic_1.0_amd64.deb", "!<arch>\n")
        .file("lintfix-basic-dbgsym_1.0_amd64.deb", "!<arch>\n")
}

/// task_data `data`, the lintfix-basic inputs and dpkg-query's answer.
fn basic(data: Value) -> FakeHost {
    FakeHost::new()
        .task_data(data)
        .input(basic_source())
        .input(basic_upload())
        .reply("dpkg-query **", Reply::exit(0).stdout(VERSION))
}

fn both() -> Value {
    json!({"source_artifact_id": SOURCE, "binary_artifacts_ids": [BINARIES]})
}

const BASIC_FILES: [&str; 3] = [
    "input/10/lintfix-basic_1.0.dsc",
    "input/11/lintfix-basic_1.0_amd64.deb",
    "input/11/lintfix-basic-dbgsym_1.0_amd64.deb",
];

/// lintian on lintfix-basic: exit 2, as real lintian with its default
/// `--fail-on error` exits on this output.
fn lintian_basic(host: FakeHost) -> Run<Status> {
    host.reply("lintian **", Reply::exit(2).stdout_file(BASIC_CHANGES))
        .execute::<Lintian>()
}

/// (item, outcome, note) of each result.
fn outcomes(run: &Run<Status>) -> Vec<(String, Outcome, String)> {
    run.results
        .iter()
        .map(|r| {
            (
                r.item.clone(),
                r.outcome,
                r.note.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn keyvals(result: &Emitted) -> Vec<(&str, &str)> {
    result
        .keyvals
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn analysis_json(artifact: &Created) -> Value {
    let (name, content) = &artifact.files[1];
    assert_eq!(name, "analysis.json");
    serde_json::from_slice(content).expect("analysis.json is JSON")
}

fn file_names(artifact: &Created) -> Vec<&str> {
    artifact.files.iter().map(|(n, _)| n.as_str()).collect()
}

fn assert_invalid<T: std::fmt::Debug>(run: &Run<T>, says: &str) {
    assert!(
        matches!(&run.status, Err(Error::Invalid(m)) if m.contains(says)),
        "expected Invalid containing {says:?}, got {:?}",
        run.status
    );
}

fn assert_nothing_stored<T>(run: &Run<T>) {
    assert!(run.artifacts.is_empty(), "{:?}", run.artifacts);
    assert!(run.relations.is_empty(), "{:?}", run.relations);
    assert!(run.results.is_empty(), "{:?}", run.results);
}

#[test]
fn source_and_binaries_give_one_analysis_per_architecture() {
    let run = lintian_basic(basic(json!({"input": both()})));
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.backends, ["local"]);
    // The version first, then one lintian run over the .dsc and the .debs
    // (not the .tar.xz, .changes or .buildinfo).
    assert_eq!(
        run.commands,
        [
            DPKG_QUERY.map(String::from).to_vec(),
            lintian_argv(&BASIC_FILES)
        ]
    );
    // lintian's output goes to files of the plugin's, lintian.txt being
    // stored; nothing bounds it but the host's own limits.
    assert_eq!(
        run.invocations,
        [
            invocation(DPKG_QUERY.map(String::from).to_vec(), None, None),
            invocation(
                lintian_argv(&BASIC_FILES),
                Some("lintian.txt"),
                Some("lintian.stderr")
            ),
        ]
    );
    assert_eq!(run.log_text(Level::Warn), "");

    // One artifact per architecture, in order; the `changes` and
    // `buildinfo` hints belong to neither.
    assert_eq!(run.artifacts.len(), 2, "{:?}", run.artifacts);
    let (any, source) = (&run.artifacts[0], &run.artifacts[1]);
    assert_eq!((any.id, source.id), (1000, 1001));
    assert_eq!(any.category, "debian:lintian");
    assert_eq!(source.category, "debian:lintian");
    assert_eq!(
        any.data,
        json!({
            "architecture": "amd64",
            "summary": {
                "tags_count_by_severity": {
                    "error": 1, "warning": 2, "info": 2, "pedantic": 0,
                    "experimental": 0, "overridden": 0, "classification": 10,
                },
                "package_filename": {
                    "lintfix-basic": "lintfix-basic_1.0_amd64.deb",
                    "lintfix-basic-dbgsym": "lintfix-basic-dbgsym_1.0_amd64.deb",
                },
                "tags_found": [
                    "control-tarball-compression-format",
                    "data-tarball-compression-format",
                    "debug-file-with-no-debug-symbols",
                    "extended-description-is-probably-too-short",
                    "hardening-no-bindnow",
                    "mail-contact",
                    "no-copyright-file",
                    "no-ctrl-scripts",
                    "no-manual-page",
                    "package-is-maintained-by-individual",
                ],
                "overridden_tags_found": [],
                "lintian_version": VERSION,
                "distribution": "debian:unstable",
            },
        })
    );
    assert_eq!(
        source.data,
        json!({
            "architecture": "source",
            "summary": {
                "tags_count_by_severity": {
                    "error": 0, "warning": 1, "info": 0, "pedantic": 1,
                    "experimental": 0, "overridden": 0, "classification": 17,
                },
                "package_filename": {"lintfix-basic": "lintfix-basic_1.0.dsc"},
                "tags_found": [
                    "debhelper-compat-level",
                    "debhelper-compat-virtual-relation",
                    "debian-build-system",
                    "mail-contact",
                    "no-debian-copyright-in-source",
                    "package-is-maintained-by-individual",
                    "silent-on-rules-requiring-root",
                    "source-format",
                    "standards-version",
                    "trimmed-deb822-field",
                ],
                "overridden_tags_found": [],
                "lintian_version": VERSION,
                "distribution": "debian:unstable",
            },
        })
    );

    // Each holds lintian's whole output and its own analysis.json.
    for artifact in &run.artifacts {
        assert_eq!(file_names(artifact), ["lintian.txt", "analysis.json"]);
        assert_eq!(artifact.files[0].1, testdata(BASIC_CHANGES));
    }
    let analysis = analysis_json(any);
    assert_eq!(analysis["summary"], any.data["summary"]);
    let tags = analysis["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 15);
    assert_eq!(
        tags[0],
        json!({
            "tag": "no-copyright-file",
            "severity": "error",
            "package": "lintfix-basic",
            "note": "",
            "pointer": "",
            "explanation": "Each binary package has to include a plain file\n\
                /usr/share/doc/*pkg*/copyright\n\n\
                Please refer to Copyright information (Section 12.5) in the Debian Policy\n\
                Manual for details.\n\n\
                Visibility: error\nShow-Always: no\nCheck: debian/copyright",
            "comment": "",
        })
    );
    assert_eq!(
        (&tags[1]["tag"], &tags[1]["package"], &tags[1]["pointer"]),
        (
            &json!("debug-file-with-no-debug-symbols"),
            &json!("lintfix-basic-dbgsym"),
            &json!("usr/lib/debug/.build-id/01/1614ba0cd96d55d96233f2289541a7b8b379a4.debug")
        )
    );
    let source_tags = analysis_json(source)["tags"].as_array().unwrap().len();
    assert_eq!(source_tags, 19);

    // Each analysis relates to the artifacts it analysed.
    assert_eq!(
        run.relations,
        [
            Relation {
                source: 1000,
                target: BINARIES,
                relation: RelationType::RelatesTo
            },
            Relation {
                source: 1001,
                target: SOURCE,
                relation: RelationType::RelatesTo
            },
        ]
    );

    // One result per package; fail_on_severity defaults to none.
    assert_eq!(
        outcomes(&run),
        [
            (
                "lintfix-basic_1.0_amd64".to_string(),
                Outcome::Passed,
                "1 error, 1 warning, 2 info".to_string()
            ),
            (
                "lintfix-basic-dbgsym_1.0_amd64".to_string(),
                Outcome::Passed,
                "1 warning".to_string()
            ),
            (
                "lintfix-basic_1.0_source".to_string(),
                Outcome::Passed,
                "1 warning, 1 pedantic".to_string()
            ),
        ]
    );
    for (result, artifact) in
        run.results
            .iter()
            .zip(["artifact:1000", "artifact:1000", "artifact:1001"])
    {
        assert_eq!(result.item_type, "debian_package");
        assert_eq!(result.checkname.as_deref(), Some("lintian"));
        assert_eq!(result.artifact.as_deref(), Some(artifact));
    }
    assert_eq!(
        keyvals(&run.results[0]),
        [
            ("error", "1"),
            ("warning", "1"),
            ("info", "2"),
            ("pedantic", "0"),
            ("experimental", "0"),
            ("overridden", "0"),
            ("classification", "5"),
        ]
    );
    assert_eq!(run.results[2].keyval("pedantic"), Some("1"));
    assert_eq!(run.results[2].keyval("classification"), Some("17"));
}

#[test]
fn fail_on_severity_fails_at_that_severity_and_worse() {
    // One real hint line of each severity, for the source package.
    let lines = [
        "E: lintfix-overrides source: alien-tag no-such-tag-is-issued-here [debian/source/lintian-overrides:8]",
        "W: lintfix-overrides source: mismatched-override very-long-line-length-in-source-file * [src/missing.txt:*] [debian/source/lintian-overrides:5]",
        "I: lintfix-overrides source: duplicate-long-description",
        "P: lintfix-overrides source: silent-on-rules-requiring-root [debian/control]",
        "X: lintfix-overrides source: very-long-line-length-in-source-file 601 > 512 [src/data [v2].txt:2]",
        "O: lintfix-overrides source: no-debian-copyright-in-source",
        "C: lintfix-overrides source: source-format 3.0 (native)",
    ];
    let notes = [
        "1 error",
        "1 warning",
        "1 info",
        "1 pedantic",
        "1 experimental",
        "1 overridden",
        "no tags",
    ];
    let limits = [
        "error",
        "warning",
        "info",
        "pedantic",
        "experimental",
        "overridden",
        "none",
    ];
    for (line_rank, line) in lines.iter().enumerate() {
        for (limit_rank, limit) in limits.iter().enumerate() {
            let classification = line.starts_with("C:");
            let fails = !classification && *limit != "none" && line_rank <= limit_rank;
            let code = if line.starts_with("E:") { 2 } else { 0 };
            let run = FakeHost::new()
                .task_data(json!({
                    "input": {"source_artifact_id": SOURCE},
                    "fail_on_severity": limit,
                }))
                .input(
                    Input::new(SOURCE, "debian:source-package")
                        .file("lintfix-overrides_1.0.dsc", "Source: lintfix-overrides\n"),
                )
                .reply("dpkg-query **", Reply::exit(0).stdout(VERSION))
                .reply(
                    "lintian **",
                    Reply::exit(code).stdout(format!("N:\n{line}\n")),
                )
                .execute::<Lintian>();
            let want = if fails {
                (Status::Failure, Outcome::Failed)
            } else {
                (Status::Success, Outcome::Passed)
            };
            assert_eq!(
                (run.status.clone(), run.results[0].outcome),
                (Ok(want.0), want.1),
                "{line} with fail_on_severity {limit}"
            );
            assert_eq!(run.results[0].note.as_deref(), Some(notes[line_rank]));
            assert_eq!(run.results[0].item, "lintfix-overrides_1.0_source");
        }
    }
}

#[test]
fn an_arch_all_deb_and_a_udeb_make_the_all_analysis_with_the_override_comment() {
    let run = FakeHost::new()
        .task_data(json!({
            "input": {"binary_artifacts_ids": [BINARIES]},
            "fail_on_severity": "overridden",
        }))
        .input(
            Input::new(BINARIES, "debian:binary-packages")
                .file("lintfix-overrides_1.0_all.deb", "!<arch>\n")
                .file("lintfix-overrides-udeb_1.0_all.udeb", "!<arch>\n"),
        )
        .reply("dpkg-query **", Reply::exit(0).stdout(VERSION))
        .reply("lintian **", Reply::exit(2).stdout_file(OVERRIDES_BINARY))
        .execute::<Lintian>();
    assert_eq!(run.status, Ok(Status::Failure));
    assert_eq!(
        run.commands[1],
        lintian_argv(&[
            "input/11/lintfix-overrides_1.0_all.deb",
            "input/11/lintfix-overrides-udeb_1.0_all.udeb",
        ])
    );
    assert_eq!(run.artifacts.len(), 1);
    let all = &run.artifacts[0];
    assert_eq!(all.data["architecture"], "all");
    assert_eq!(
        all.data["summary"]["package_filename"],
        json!({
            "lintfix-overrides": "lintfix-overrides_1.0_all.deb",
            "lintfix-overrides-udeb": "lintfix-overrides-udeb_1.0_all.udeb",
        })
    );
    assert_eq!(
        all.data["summary"]["tags_count_by_severity"],
        json!({
            "error": 1, "warning": 1, "info": 1, "pedantic": 0,
            "experimental": 0, "overridden": 1, "classification": 10,
        })
    );
    assert_eq!(
        all.data["summary"]["overridden_tags_found"],
        json!(["no-manual-page"])
    );
    let analysis = analysis_json(all);
    let overridden = analysis["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["severity"] == "overridden")
        .expect("the overridden tag");
    assert_eq!(overridden["tag"], "no-manual-page");
    assert_eq!(overridden["pointer"], "usr/bin/lintfix-overrides");
    assert_eq!(
        overridden["comment"],
        "The tool is documented in its --help output; a manual page would only\n\
         repeat it, and this comment is long enough to be wrapped by lintian over\n\
         several lines."
    );
    assert_eq!(
        run.relations,
        [Relation {
            source: all.id,
            target: BINARIES,
            relation: RelationType::RelatesTo
        }]
    );
    assert_eq!(
        outcomes(&run),
        [
            (
                "lintfix-overrides_1.0_all".to_string(),
                Outcome::Failed,
                "1 error, 1 info, 1 overridden".to_string()
            ),
            (
                "lintfix-overrides-udeb_1.0_all".to_string(),
                Outcome::Failed,
                "1 warning".to_string()
            ),
        ]
    );
}

#[test]
fn a_source_alone_gets_overridden_and_experimental_hints_but_no_masked_ones() {
    let run = FakeHost::new()
        .task_data(json!({"input": {"source_artifact_id": SOURCE}, "fail_on_severity": "error"}))
        .input(
            Input::new(SOURCE, "debian:source-package")
                .file("lintfix-overrides_1.0.tar.xz", "xz")
                .file("lintfix-overrides_1.0.dsc", "Source: lintfix-overrides\n"),
        )
        .reply("dpkg-query **", Reply::exit(0).stdout(VERSION))
        .reply("lintian **", Reply::exit(2).stdout_file(OVERRIDES_SOURCE))
        .execute::<Lintian>();
    assert_eq!(run.status, Ok(Status::Failure));
    assert_eq!(
        run.commands[1],
        lintian_argv(&["input/10/lintfix-overrides_1.0.dsc"])
    );
    assert_eq!(run.artifacts.len(), 1);
    let source = &run.artifacts[0];
    assert_eq!(source.data["architecture"], "source");
    assert_eq!(
        source.data["summary"]["tags_count_by_severity"],
        json!({
            "error": 1, "warning": 1, "info": 0, "pedantic": 0,
            "experimental": 2, "overridden": 3, "classification": 8,
        })
    );
    assert_eq!(
        source.data["summary"]["overridden_tags_found"],
        json!([
            "no-debian-copyright-in-source",
            "very-long-line-length-in-source-file"
        ])
    );
    let analysis = analysis_json(source);
    let tags = analysis["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 15);
    let pointers: Vec<&str> = tags
        .iter()
        .filter(|t| t["tag"] == "very-long-line-length-in-source-file")
        .map(|t| t["pointer"].as_str().unwrap())
        .collect();
    // The masked hint ([configure:2]) is dropped.
    assert_eq!(
        pointers,
        [
            "src/data [v2].txt:2",
            "src/odd].txt:1",
            "src/other.txt:1",
            "src/plain.txt:1"
        ]
    );
    assert_eq!(
        run.relations,
        [Relation {
            source: source.id,
            target: SOURCE,
            relation: RelationType::RelatesTo
        }]
    );
    assert_eq!(
        outcomes(&run),
        [(
            "lintfix-overrides_1.0_source".to_string(),
            Outcome::Failed,
            "1 error, 1 warning, 2 experimental, 3 overridden".to_string()
        )]
    );
}

#[test]
fn output_flags_leave_out_analyses_but_lintian_still_sees_every_file() {
    let run = lintian_basic(basic(json!({
        "input": both(),
        "output": {"source_analysis": false},
    })));
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(run.commands[1], lintian_argv(&BASIC_FILES));
    let archs: Vec<&Value> = run
        .artifacts
        .iter()
        .map(|a| &a.data["architecture"])
        .collect();
    assert_eq!(archs, [&json!("amd64")]);
    assert_eq!(run.relations.len(), 1);
    assert_eq!(run.relations[0].target, BINARIES);
    let items: Vec<&str> = run.results.iter().map(|r| r.item.as_str()).collect();
    assert_eq!(
        items,
        ["lintfix-basic_1.0_amd64", "lintfix-basic-dbgsym_1.0_amd64"]
    );

    let run = lintian_basic(basic(json!({
        "input": both(),
        "output": {"binary_any_analysis": false, "binary_all_analysis": false},
    })));
    assert_eq!(run.status, Ok(Status::Success));
    let archs: Vec<&Value> = run
        .artifacts
        .iter()
        .map(|a| &a.data["architecture"])
        .collect();
    assert_eq!(archs, [&json!("source")]);
    assert_eq!(run.relations.len(), 1);
    assert_eq!(run.relations[0].target, SOURCE);
    let items: Vec<&str> = run.results.iter().map(|r| r.item.as_str()).collect();
    assert_eq!(items, ["lintfix-basic_1.0_source"]);
}

#[test]
fn include_and_exclude_tags_and_the_distribution_reach_lintian_and_the_summary() {
    let run = basic(json!({
        "input": {"binary_artifacts_ids": [BINARIES]},
        "include_tags": ["no-manual-page", "no-copyright-file"],
        "exclude_tags": ["trimmed-field"],
        "target_distribution": "debian:bookworm",
    }))
    .reply(
        "lintian **",
        Reply::exit(2).stdout(
            "N:\nE: lintfix-basic: no-copyright-file\nN:\n\
             W: lintfix-basic: no-manual-page [usr/bin/lintfix-basic]\n",
        ),
    )
    .execute::<Lintian>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        run.commands[1],
        lintian_argv(&[
            "--tags=no-manual-page,no-copyright-file",
            "--suppress-tags=trimmed-field",
            "input/11/lintfix-basic_1.0_amd64.deb",
            "input/11/lintfix-basic-dbgsym_1.0_amd64.deb",
        ])
    );
    assert_eq!(
        run.artifacts[0].data["summary"]["distribution"],
        "debian:bookworm"
    );
    assert_eq!(
        run.artifacts[0].data["summary"]["tags_found"],
        json!(["no-copyright-file", "no-manual-page"])
    );
    assert_eq!(
        outcomes(&run),
        [
            (
                "lintfix-basic_1.0_amd64".to_string(),
                Outcome::Passed,
                "1 error, 1 warning".to_string()
            ),
            (
                "lintfix-basic-dbgsym_1.0_amd64".to_string(),
                Outcome::Passed,
                "no tags".to_string()
            ),
        ]
    );
}

#[test]
fn long_tag_lists_go_through_workspace_files() {
    // 300 names of 12 characters: 3899 characters joined, over the 2048
    // that go inline.
    let many: Vec<String> = (0..300).map(|i| format!("some-tag-{i:03}")).collect();
    let run = basic(json!({
        "input": {"binary_artifacts_ids": [BINARIES]},
        "include_tags": many,
        "exclude_tags": ["trimmed-field"],
    }))
    .reply("lintian **", Reply::exit(0))
    .execute::<Lintian>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        run.commands[1],
        lintian_argv(&[
            "--tags-from-file=include-tags.txt",
            "--suppress-tags=trimmed-field",
            "input/11/lintfix-basic_1.0_amd64.deb",
            "input/11/lintfix-basic-dbgsym_1.0_amd64.deb",
        ])
    );
    let written = String::from_utf8(run.workspace_file("include-tags.txt").unwrap()).unwrap();
    assert_eq!(written, many.join("\n") + "\n");
    assert_eq!(run.workspace_file("exclude-tags.txt"), None);

    let long_exclude: Vec<String> = (0..300).map(|i| format!("other-tag-{i:03}")).collect();
    let run = basic(json!({
        "input": {"binary_artifacts_ids": [BINARIES]},
        "exclude_tags": long_exclude,
    }))
    .reply("lintian **", Reply::exit(0))
    .execute::<Lintian>();
    assert_eq!(
        run.commands[1],
        lintian_argv(&[
            "--suppress-tags-from-file=exclude-tags.txt",
            "input/11/lintfix-basic_1.0_amd64.deb",
            "input/11/lintfix-basic-dbgsym_1.0_amd64.deb",
        ])
    );
    let written = String::from_utf8(run.workspace_file("exclude-tags.txt").unwrap()).unwrap();
    assert_eq!(written, long_exclude.join("\n") + "\n");
}

#[test]
fn the_backend_follows_backend_and_environment() {
    let tarball = || {
        Input::new(TARBALL, "debian:system-tarball")
            .data(json!({"codename": "bookworm", "architecture": "amd64"}))
    };
    for (extra, backend) in [
        (json!({"environment": TARBALL}), "unshare"),
        (
            json!({"environment": TARBALL, "backend": "unshare"}),
            "unshare",
        ),
        (json!({"environment": TARBALL, "backend": "local"}), "local"),
        (json!({"backend": "local"}), "local"),
        (json!({"backend": "ssh"}), "ssh"),
        (json!({}), "local"),
    ] {
        let mut data = json!({"input": {"source_artifact_id": SOURCE}});
        data.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let run = lintian_basic(basic(data).input(tarball()));
        assert_eq!(run.status, Ok(Status::Success), "{extra}");
        assert_eq!(run.backends, [backend], "{extra}");
        // Both commands run there.
        let backends: Vec<&str> = run.invocations.iter().map(|i| i.backend.as_str()).collect();
        assert_eq!(backends, [backend, backend], "{extra}");
    }
    // `auto` without an environment is whatever the host makes of it.
    let run =
        lintian_basic(basic(json!({"input": {"source_artifact_id": SOURCE}})).auto_backend("ssh"));
    assert_eq!(run.backends, ["ssh"]);
}

#[test]
fn lintian_failing_is_an_error_and_stores_nothing() {
    let cases = [
        // An input it cannot read: exit 2, no hints.
        (
            Reply::exit(2).stderr("input/11/lintfix-basic_1.0_amd64.deb is not a readable file\n"),
            "lintian failed (exit 2): input/11/lintfix-basic_1.0_amd64.deb is not a readable file",
        ),
        // A package it skips: lintian 2.116's run-time error is exit 1,
        // even when it printed hints for the other packages.
        (
            Reply::exit(1)
                .stdout("N:\nW: lintfix-basic source: no-debian-copyright-in-source\n")
                .stderr(
                    "dpkg-deb: error: 'input/11/lintfix-basic_1.0_amd64.deb' is not a Debian format archive\n\
                     Skipping input/11/lintfix-basic_1.0_amd64.deb: Non-zero status 2 from tar --wildcards -xO -f - *control:\n",
                ),
            "lintian failed (exit 1): dpkg-deb: error: 'input/11/lintfix-basic_1.0_amd64.deb' \
             is not a Debian format archive\nSkipping input/11/lintfix-basic_1.0_amd64.deb: \
             Non-zero status 2 from tar --wildcards -xO -f - *control:",
        ),
        // Bad arguments.
        (
            Reply::exit(25).stderr("Unknown option: frobnicate\nerror parsing options\n"),
            "lintian failed (exit 25): Unknown option: frobnicate\nerror parsing options",
        ),
        // Killed, or at its timeout, partway through its hints: said as
        // such, and what it printed on stderr is quoted.
        (
            Reply::signal(9).stdout("N:\nW: lintfix-basic source: no-debian-copyright-in-source\n"),
            "lintian failed (killed by signal 9)",
        ),
        (
            Reply::timed_out()
                .stdout("N:\nE: lintfix-basic: no-copyright-file\n")
                .stderr("Terminated\n"),
            "lintian failed (timed out): Terminated",
        ),
    ];
    for (reply, says) in cases {
        let run = basic(json!({"input": both()}))
            .reply("lintian **", reply)
            .execute::<Lintian>();
        assert_eq!(run.status, Err(Error::Failed(says.into())));
        assert_eq!(run.commands.len(), 2);
        assert_nothing_stored(&run);
    }
}

#[test]
fn lintian_output_cut_at_the_host_s_limit_is_analysed_with_a_warning() {
    let out = "N:\nW: lintfix-basic: no-manual-page [usr/bin/lintfix-basic]\nN:\nI: lintfix-ba";
    let run = basic(json!({"input": {"binary_artifacts_ids": [BINARIES]}}))
        .reply("lintian **", Reply::exit(0).stdout(out).truncated())
        .execute::<Lintian>();
    assert_eq!(run.status, Ok(Status::Success));
    assert_eq!(
        run.log_text(Level::Warn),
        "lintian's output passed the output limit and was cut (`output-limit` in the policy): \
         the tags past it are missing"
    );
    // What lintian printed up to the limit is analysed and stored.
    assert_eq!(
        run.artifacts[0].data["summary"]["tags_found"],
        json!(["no-manual-page"])
    );
    assert_eq!(run.artifacts[0].files[0].1, out.as_bytes());
}

#[test]
fn without_lintian_installed_dpkg_query_fails_the_run_before_lintian() {
    let run = FakeHost::new()
        .task_data(json!({"input": both()}))
        .input(basic_source())
        .input(basic_upload())
        .reply(
            "dpkg-query **",
            Reply::exit(1).stderr("dpkg-query: no packages found matching lintian\n"),
        )
        .execute::<Lintian>();
    assert!(
        matches!(&run.status, Err(Error::Failed(m))
            if m == "dpkg-query knows no lintian: dpkg-query: no packages found matching lintian"),
        "{:?}",
        run.status
    );
    assert_eq!(run.commands, [DPKG_QUERY.map(String::from).to_vec()]);
    assert_nothing_stored(&run);
}

#[test]
fn lines_lintian_does_not_print_are_ignored() {
    let out = "running with root privileges is not recommended!\n\
               garbage line\n\
               E:no-space-after-colon\n\
               W: lintfix-basic\n\
               N:\n\
               W: lintfix-basic: no-manual-page [usr/bin/lintfix-basic]\n\
               Z: lintfix-basic: not-a-severity\n";
    let run = basic(
        json!({"input": {"binary_artifacts_ids": [BINARIES]}, "fail_on_severity": "warning"}),
    )
    .reply("lintian **", Reply::exit(0).stdout(out))
    .execute::<Lintian>();
    assert_eq!(run.status, Ok(Status::Failure));
    assert_eq!(
        run.artifacts[0].data["summary"]["tags_found"],
        json!(["no-manual-page"])
    );
    assert_eq!(run.artifacts[0].files[0].1, out.as_bytes());
    assert_eq!(
        outcomes(&run),
        [
            (
                "lintfix-basic_1.0_amd64".to_string(),
                Outcome::Failed,
                "1 warning".to_string()
            ),
            (
                "lintfix-basic-dbgsym_1.0_amd64".to_string(),
                Outcome::Passed,
                "no tags".to_string()
            ),
        ]
    );
}

#[test]
fn bad_task_data_is_refused_before_anything_runs() {
    let input = json!({"binary_artifacts_ids": [BINARIES]});
    for (data, says) in [
        (
            json!({"input": {}}),
            "input: give input.source_artifact_id and/or input.binary_artifacts_ids",
        ),
        (json!({}), "task_data: missing field `input`"),
        (
            json!({"input": input, "backend": "unshare"}),
            "environment: required with backend unshare",
        ),
        (
            json!({"input": input, "backend": "ssh", "environment": TARBALL}),
            "environment: the ssh backend takes none",
        ),
        (
            json!({"input": input, "backend": "incus-vm"}),
            "backend: IncusVm is not available on this host",
        ),
        (
            json!({"input": input, "backend": "incus-lxc", "environment": TARBALL}),
            "backend: IncusLxc is not available on this host",
        ),
        (
            json!({"input": input, "backend": "qemu"}),
            "backend: unknown variant `qemu`",
        ),
        (
            json!({"input": input, "fail_on_severity": "fatal"}),
            "fail_on_severity: unknown variant `fatal`",
        ),
        (json!({"input": input, "tags": ["x"]}), "unknown key 'tags'"),
        (
            json!({"input": input, "output": {"binary_analysis": false}}),
            "unknown key 'output.binary_analysis'",
        ),
        (
            json!({"input": input, "include_tags": "no-manual-page"}),
            "include_tags: invalid type: string",
        ),
        (
            json!({"input": {"binary_artifacts_ids": BINARIES}}),
            "input.binary_artifacts_ids: invalid type: integer",
        ),
        (
            json!({"input": input, "output": {"source_analysis": "no"}}),
            "output.source_analysis: invalid type: string",
        ),
    ] {
        let run = basic(data).execute::<Lintian>();
        assert_invalid(&run, says);
        assert!(run.commands.is_empty() && run.backends.is_empty());
        assert_nothing_stored(&run);
    }
}

#[test]
fn a_source_artifact_without_a_dsc_is_invalid() {
    let run = FakeHost::new()
        .task_data(json!({"input": {"source_artifact_id": SOURCE}}))
        .input(Input::new(SOURCE, "debian:source-package").file("lintfix-basic_1.0.tar.xz", "xz"))
        .execute::<Lintian>();
    assert!(
        matches!(&run.status, Err(Error::Invalid(m))
            if m == "input.source_artifact_id: artifact 10 holds no .dsc"),
        "{:?}",
        run.status
    );
    assert!(run.commands.is_empty() && run.backends.is_empty());
}

#[test]
fn a_denied_command_backend_or_category_ends_the_run_with_access_denied() {
    let data = || json!({"input": both()});
    let with_lintian =
        |host: FakeHost| host.reply("lintian **", Reply::exit(2).stdout_file(BASIC_CHANGES));
    let dpkg_query = DPKG_QUERY.map(String::from).to_vec();
    let denied = [
        (
            basic(data()).deny_exec("lintian **"),
            vec![dpkg_query.clone()],
        ),
        (basic(data()).deny_exec("dpkg-query **"), vec![]),
        (basic(data()).deny_backend("local"), vec![]),
        (
            with_lintian(basic(data())).deny_create("debian:lintian"),
            vec![dpkg_query.clone(), lintian_argv(&BASIC_FILES)],
        ),
        (
            with_lintian(basic(json!({"input": both(), "environment": TARBALL})))
                .input(Input::new(TARBALL, "debian:system-tarball"))
                .deny_backend("unshare"),
            vec![],
        ),
    ];
    for (host, commands) in denied {
        let run = host.execute::<Lintian>();
        assert!(
            matches!(run.status, Err(Error::AccessDenied(_))),
            "{:?}",
            run.status
        );
        assert_eq!(run.denied.len(), 1, "{:?}", run.denied);
        assert_eq!(run.commands, commands);
        assert_nothing_stored(&run);
    }
}
