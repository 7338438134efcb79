"""Runs rpmlint on the RPMs of a koji build: the example task of
libtaskotron's documentation, written the classic way.

The build PASSED when rpmlint reports no error (warnings are listed in
the output), else FAILED; rpmlint's whole report is kept as the result's
artifact.
"""

import os
import re
import subprocess

from libtaskotron import check

# rpmlint's settings for Fedora builds, beside this file.
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpmlint.toml")
# rpmlint exits 0 without errors, 64 with errors, 66 past the badness
# threshold; anything else means it could not check.
CHECKED = {0: "PASSED", 64: "FAILED", 66: "FAILED"}
# "foo.noarch: E: non-executable-script /usr/bin/foo 644 /bin/sh"
FINDING = re.compile(r"^\S+: (?P<level>[EW]): \S+")


def run_rpmlint(rpms):
    """rpmlint's exit code and report for `rpms`."""
    cmd = ["rpmlint", "--config", CONFIG] + list(rpms)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode not in CHECKED:
        raise RuntimeError("%s exited %d:\n%s%s" % (" ".join(cmd), proc.returncode,
                                                    proc.stdout, proc.stderr))
    return proc.returncode, proc.stdout


def plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def run(koji_build, rpms, artifactsdir):
    detail = check.CheckDetail(koji_build, check.ReportType.KOJI_BUILD, checkname="rpmlint")
    if not rpms:
        detail.update_outcome("ABORTED")
        detail.note = "koji gave no RPMs to check"
        return check.export_YAML(detail)

    code, report = run_rpmlint(sorted(rpms))
    detail.update_outcome(CHECKED[code])
    counts = {"E": 0, "W": 0}
    for line in report.splitlines():
        found = FINDING.match(line)
        if found:
            counts[found.group("level")] += 1
            detail.store(line)

    detail.artifact = os.path.join(artifactsdir, "rpmlint.log")
    with open(detail.artifact, "w") as f:
        f.write(report)
    detail.note = "%s, %s" % (plural(counts["E"], "error"), plural(counts["W"], "warning"))
    detail.keyvals = {"errors": counts["E"], "warnings": counts["W"], "rpms": len(rpms)}
    return check.export_YAML(detail)
