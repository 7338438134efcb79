//! autopkgtest: runs a source package's tests (DEP-8) against its binaries.
//!
//! Follows debusine's Autopkgtest task: the real autopkgtest runs with the
//! options debusine always passes (`--apt-upgrade --output-dir --summary
//! --no-built-binaries`) and one option per task_data key, on one of two
//! testbeds:
//!
//! - a `debian:system-tarball` environment: autopkgtest runs on the host
//!   (the `local` backend) with its own `unshare` virt server, which
//!   unpacks the tarball into a throwaway testbed (as root of a user
//!   namespace; `isolation-container`);
//! - a `debian:system-image` environment: the host boots the image as a
//!   disposable machine (the `qemu` backend) and autopkgtest runs inside
//!   it with the `null` virt server: the testbed is that whole machine
//!   (`isolation-machine`), thrown away afterwards.
//!
//! `backend: auto` follows the environment's category. With a tarball, the
//! tests that autopkgtest skipped because they need `isolation-machine`
//! are run again in a machine booted from the newest system image of the
//! same vendor, codename and architecture, when the store has one. The
//! `null` virt server never runs on the host itself.
//!
//! The summary file gives each test's status (PASS, FAIL, FLAKY, SKIP);
//! `fail_on` and the exit code decide the task's status, and an erroneous
//! package or a testbed failure (exit 12 and up) is an error. One
//! `debian:autopkgtest` artifact keeps the results and the output
//! directory (without the copied binaries), relating to the source and
//! the binaries tested. The task_data, the command line, the summary and
//! the artifact's data are `taskhost_debian::autopkgtest`.

use taskhost_debian::autopkgtest::{
    self as apt, AutopkgtestData, CONTAINER_OUTPUT_DIR, DIR, FailOn, IMAGE, OUTPUT_DIR, Ran,
    Resolved, TARBALL_DIR, Testbed, Verdict, Virt, note, outcome, output_files, shown, tail,
};
pub use taskhost_debian::autopkgtest::{Data, check};
use taskhost_debian::checks::Backend;
use taskhost_debian::control::{self, SourcePackage, fetch_debs};
use taskhost_sdk::artifacts::{self, NewArtifact, RelationType};
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{ArtifactId, Environment, Error, Outcome, Result, Task, log};

// ---- the task ---------------------------------------------------------

pub struct Autopkgtest;

impl Task for Autopkgtest {
    type Data = Data;
    const NAME: &'static str = "autopkgtest";
    const SUMMARY: &'static str = "Runs a source package's autopkgtests against its binary packages (debusine's Autopkgtest task)";
    const TASK_DATA_DOC: &'static str = "\
- `input.source_artifact_id` (required): a debian:source-package or debian:upload holding the .dsc.
- `input.binary_artifacts_ids` (required): debian:binary-package(s) or debian:upload artifacts whose .debs
  are tested. `input.context_artifacts_ids`: more .debs the tests run with.
- `environment` (required): a debian:system-tarball or debian:system-image (id or lookup, e.g.
  debian/match:codename=bookworm:variant=buildd). autopkgtest's unshare virt server makes the testbed from a
  tarball; an image is booted as a disposable machine (qemu) and autopkgtest runs in it.
- `host_architecture` (required): the testbed's architecture (the environment's).
- `backend`: auto (the default: the environment's category decides; with a tarball, tests that need
  isolation-machine run again in a machine booted from the newest image of the same vendor, codename
  and architecture, if there is one), unshare or qemu; others are refused.
- `include_tests` / `exclude_tests`: test names (--test-name / --skip-test).
- `debug_level`: 0 to 3 (-d to -ddd). `extra_apt_sources`: one-line APT sources (--add-apt-source).
- `use_packages_from_base_repository`: --apt-default-release=CODENAME of the environment.
- `extra_environment`: {NAME: VALUE} for the build and the tests (--env).
- `needs_internet`: run (default), try or skip.
- `fail_on`: {failed_test (default true), flaky_test (false), skipped_test (false)}.
- `timeout`: {global, factor, short, install, test, copy, build} (--timeout-KEY; global bounds the whole run).";

    fn validate(data: &Data) -> Result<()> {
        check(data)
    }

    fn execute(data: Data) -> Result<taskhost_sdk::Status> {
        // A formula's earlier autopkgtest action may have left its files.
        match std::fs::remove_dir_all(DIR) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => std::fs::create_dir_all(DIR)?,
        }
        let testbed = Testbed::new(&data, &artifacts::get(data.environment.id()?)?)?;
        let backend = apt::backend_for(data.backend, &testbed.category, testbed.id)?;
        let source = control::fetch_source(
            data.input.source_artifact_id.id()?,
            &format!("{DIR}/source"),
        )?;
        let (binaries, mut debs) = fetch_debs(
            "input.binary_artifacts_ids",
            &data.input.binary_artifacts_ids,
            &format!("{DIR}/binaries"),
        )?;
        let (_, context) = fetch_debs(
            "input.context_artifacts_ids",
            &data.input.context_artifacts_ids,
            &format!("{DIR}/context"),
        )?;
        debs.extend(context);
        let mut ran = run_autopkgtest(
            &data,
            &testbed,
            backend,
            (&source, &debs),
            &data.include_tests,
        )?;
        let mut outputs = output_files(OUTPUT_DIR)?;
        let machine_tests = ran.summary.needing_a_machine();
        if data.backend == Backend::Auto && backend == Backend::Unshare && !machine_tests.is_empty()
        {
            match testbed.machine(&data.host_architecture)? {
                Some(machine) => {
                    log::info(format!(
                        "{} need isolation-machine: running them again in a machine booted \
                         from artifact {} (backend qemu)",
                        machine_tests.join(", "),
                        machine.id
                    ));
                    std::fs::rename(OUTPUT_DIR, CONTAINER_OUTPUT_DIR)?;
                    outputs = output_files(CONTAINER_OUTPUT_DIR)?;
                    let again = run_autopkgtest(
                        &data,
                        &machine,
                        Backend::Qemu,
                        (&source, &debs),
                        &machine_tests,
                    )?;
                    outputs.extend(
                        output_files(OUTPUT_DIR)?
                            .into_iter()
                            .map(|(name, path)| (format!("isolation-machine/{name}"), path)),
                    );
                    ran = ran.merged(again, &machine_tests);
                }
                None => log::info(format!(
                    "{} need isolation-machine, and the store has no {IMAGE} of {}:{} for \
                     {} to boot: they stay skipped",
                    machine_tests.join(", "),
                    testbed.vendor,
                    testbed.codename,
                    data.host_architecture
                )),
            }
        }
        let verdict = ran.verdict(data.fail_on, data.timeout.global);
        let artifact = store(&data, &source, &testbed, &binaries, &ran, &outputs)?;
        let item = format!(
            "{}_{}_{}",
            source.name, source.version, data.host_architecture
        );
        emit_results(&item, &ran, data.fail_on, artifact, &verdict)?;
        match verdict {
            Verdict::Success => Ok(taskhost_sdk::Status::Success),
            Verdict::Failure => Ok(taskhost_sdk::Status::Failure),
            Verdict::Error(why) => {
                if !ran.stderr.trim().is_empty() {
                    log::warn(format!("autopkgtest: {}", tail(&ran.stderr)));
                }
                Err(Error::failed(format!(
                    "{why} (its output: artifact {artifact})"
                )))
            }
        }
    }
}

/// Runs autopkgtest once on `testbed` (only `tests` when not empty).
fn run_autopkgtest(
    data: &Data,
    testbed: &Testbed,
    backend: Backend,
    (source, debs): (&SourcePackage, &[String]),
    tests: &[String],
) -> Result<Ran> {
    let (virt, env) = match backend {
        Backend::Qemu => (Virt::Null, Environment::open_with("qemu", testbed.id)?),
        _ => (
            Virt::Unshare {
                tarball: control::fetch_tarball(testbed.id, TARBALL_DIR)?,
            },
            Environment::open("local")?,
        ),
    };
    let resolved = Resolved {
        virt,
        dsc: source.dsc.clone(),
        debs: debs.to_vec(),
        codename: testbed.codename.clone(),
        tests: tests.to_vec(),
    };
    let cmd = apt::command_line(data, &resolved);
    log::info(format!(
        "testing {}_{} with {} .deb(s) on {} in {}:{} ({})",
        source.name,
        source.version,
        resolved.debs.len(),
        data.host_architecture,
        testbed.vendor,
        testbed.codename,
        match &resolved.virt {
            Virt::Unshare { tarball } => tarball.clone(),
            Virt::Null => format!("a machine booted from artifact {}", testbed.id),
        }
    ));
    log::debug(shown(&cmd));
    let exit = env.run(&cmd)?;
    drop(env);
    // The testbed was unpacked elsewhere; the tarball's copy is done with.
    let _ = std::fs::remove_dir_all(TARBALL_DIR);

    let mut ran = Ran::read(&cmd, &exit)?;
    for name in ran.summary.select(tests, &data.exclude_tests) {
        log::debug(format!(
            "test {name}: not selected, left out of the results"
        ));
    }
    // The host runs autopkgtest to completion: the tests are known only
    // now, so they are logged, not followed.
    for (name, result) in &ran.summary.tests {
        log::info(format!("test {name}: {}", note(name, result, data.fail_on)));
    }
    for line in &ran.summary.errors {
        log::error(format!("autopkgtest: {line}"));
    }
    Ok(ran)
}

// ---- output -----------------------------------------------------------

/// Stores the output directory as a `debian:autopkgtest` artifact,
/// relating to the source and the binaries.
fn store(
    data: &Data,
    source: &SourcePackage,
    testbed: &Testbed,
    binaries: &[ArtifactId],
    ran: &Ran,
    outputs: &[(String, String)],
) -> Result<ArtifactId> {
    let artifact = outputs
        .iter()
        .cloned()
        .fold(NewArtifact::new("debian:autopkgtest"), |a, (name, path)| {
            a.file(name, path)
        })
        .data(&AutopkgtestData::new(
            ran,
            source,
            testbed,
            &data.host_architecture,
        ))?
        .create()?;
    artifacts::relate(artifact, source.id, RelationType::RelatesTo)?;
    for id in binaries {
        artifacts::relate(artifact, *id, RelationType::RelatesTo)?;
    }
    Ok(artifact)
}

/// One result per test (`autopkgtest.NAME`), then the verdict
/// (`autopkgtest`).
fn emit_results(
    item: &str,
    ran: &Ran,
    fail_on: FailOn,
    artifact: ArtifactId,
    verdict: &Verdict,
) -> Result<()> {
    let Ran { summary, code, .. } = ran;
    for (name, result) in &summary.tests {
        let mut r = CheckResult::new(item, "debian_package", outcome(result.status, fail_on))
            .checkname(format!("autopkgtest.{name}"))
            .note(note(name, result, fail_on))
            .artifact(format!("artifact:{artifact}"))
            .keyval("autopkgtest_status", result.status.as_str());
        if let Some(details) = &result.details {
            r = r.keyval("details", details);
        }
        r.emit()?;
    }
    let (overall, note) = match verdict {
        Verdict::Success => (Outcome::Passed, summary.counts()),
        Verdict::Failure => (Outcome::Failed, summary.counts()),
        Verdict::Error(why) => (Outcome::Aborted, why.clone()),
    };
    CheckResult::new(item, "debian_package", overall)
        .checkname("autopkgtest")
        .note(note)
        .artifact(format!("artifact:{artifact}"))
        .keyval(
            "autopkgtest_exit_code",
            code.map_or("none".into(), |c| c.to_string()),
        )
        .emit()
}

taskhost_sdk::export_task!(Autopkgtest, manifest = "taskhost.toml");

#[cfg(test)]
mod tests;
