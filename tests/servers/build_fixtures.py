#!/usr/bin/env python3
"""Builds tiny real RPMs with rpmbuild and the fixtures the test servers read.

Usage: build_fixtures.py DIR

DIR ends up laid out like koji's topdir, so the koji test hub serves it as
its "topurl" as it is:

  DIR/packages/NAME/VERSION/RELEASE/ARCH/NAME-VERSION-RELEASE.ARCH.rpm
  DIR/packages/NAME/VERSION/RELEASE/data/logs/ARCH/build.log
  DIR/fixtures.json     builds, rpms, tags (koji); releases, updates (bodhi)

Two builds of taskhost-demo: 0.9-1.fc40 (tagged f40, the release) and
1.0-1.fc40 (tagged f40-updates-candidate and f40-updates-testing, in bodhi
update FEDORA-2024-7a5c1e0b9d). Each has x86_64 and i686 binaries, a
-debuginfo per arch, a noarch -docs subpackage and the .src.rpm.
"""

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

NAME = "taskhost-demo"
DIST = ".fc40"
ARCHES = ["x86_64", "i686"]
OWNER = "taskhost-packager"
# (version, release, build id, task id, changelog text, completion time)
BUILDS = [
    ("0.9", "1", 2001, 110001, "Initial package", 1713200000),
    ("1.0", "1", 2002, 112345, "Update to 1.0", 1715600000),
]
UPDATE_ALIAS = "FEDORA-2024-7a5c1e0b9d"
# Fixed build times make the RPMs the same from one run to the next.
SOURCE_DATE_EPOCH = 1704067200

SPEC = """\
Name:           {name}
Version:        {version}
Release:        {release}%{{?dist}}
Summary:        A tiny package for the taskhost test servers
License:        MIT
URL:            https://example.org/taskhost-demo
Source0:        taskhost-demo.sh
%global debug_package %{{nil}}

%description
A shell script that prints a greeting; built by the taskhost tests.

%package docs
Summary:        Documentation for {name}
BuildArch:      noarch

%description docs
Documentation for {name}.

%package debuginfo
Summary:        Debug files for {name}

%description debuginfo
Debug files for {name} (a plain subpackage: there is no compiled code).

%prep

%build
sed 's/@VERSION@/%{{version}}/' "$RPM_SOURCE_DIR/taskhost-demo.sh" > taskhost-demo

%install
install -D -m755 taskhost-demo "$RPM_BUILD_ROOT"%{{_bindir}}/taskhost-demo
install -D -m644 taskhost-demo "$RPM_BUILD_ROOT"%{{_docdir}}/%{{name}}/example.sh
install -D -m644 taskhost-demo "$RPM_BUILD_ROOT"/usr/lib/debug%{{_bindir}}/taskhost-demo.debug

%files
%{{_bindir}}/taskhost-demo

%files docs
%{{_docdir}}/%{{name}}/example.sh

%files debuginfo
/usr/lib/debug%{{_bindir}}/taskhost-demo.debug

%changelog
* {cl_date} Taskhost Packager <packager@example.org> - {version}-{release}
- {cl_text}
"""

SCRIPT = "#!/bin/sh\necho 'hello from taskhost-demo @VERSION@'\n"


def die(msg):
    sys.stderr.write("build_fixtures: %s\n" % msg)
    sys.exit(2)


def rpmbuild(args, topdir, log, dist=DIST):
    cmd = ["rpmbuild", "--nodeps",
           "--define", "_topdir %s" % topdir,
           "--define", "dist %s" % dist,
           "--define", "_buildhost buildvm-x86-01.taskhost.test",
           "--define", "use_source_date_epoch_as_buildtime 1",
           "--define", "clamp_mtime_to_source_date_epoch 1",
           "--define", "_binary_payload w6.xzdio",
           "--define", "_source_payload w6.xzdio"] + args
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(SOURCE_DATE_EPOCH), LC_ALL="C")
    with open(log, "wb") as out:
        out.write(("$ %s\n" % " ".join(cmd)).encode())
        out.flush()
        rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if rc != 0:
        with open(log, "rb") as f:
            sys.stderr.write(f.read().decode(errors="replace")[-4000:])
        die("rpmbuild %s failed (exit %d)" % (" ".join(args), rc))


def query(path, fmt):
    out = subprocess.run(["rpm", "-qp", "--nosignature", "--nodigest", "--qf", fmt, path],
                         check=True, capture_output=True)
    return out.stdout.decode()


def sighdr_md5(path):
    """md5 of the signature header, the way koji's rip_rpm_sighdr cuts it."""
    with open(path, "rb") as f:
        f.seek(96)  # the lead
        head = f.read(16)
        magic, il, dl = head[:4], *struct.unpack(">II", head[8:16])
        if magic != b"\x8e\xad\xe8\x01":
            die("%s: no signature header" % path)
        f.seek(96)
        return hashlib.md5(f.read(16 + 16 * il + dl)).hexdigest()


def file_sums(path):
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            sha.update(chunk)
    return sha.hexdigest(), os.path.getsize(path)


def rpm_entry(path, rel, rpm_id, build_id, src):
    fields = query(path, "%{NAME}\t%{VERSION}\t%{RELEASE}\t%{EPOCH}\t%{ARCH}\t"
                         "%{BUILDTIME}\t%{SIGMD5}").split("\t")
    name, version, release, epoch, arch, buildtime, sigmd5 = fields
    sha256, size = file_sums(path)
    return {
        "id": rpm_id,
        "build_id": build_id,
        "name": name,
        "version": version,
        "release": release,
        "epoch": None if epoch == "(none)" else int(epoch),
        "arch": "src" if src else arch,
        "buildtime": int(buildtime),
        "size": size,
        "payloadhash": sigmd5,
        "sighash": sighdr_md5(path),
        "sha256": sha256,
        "file": rel,
    }


def changelog(srpm):
    raw = query(srpm, "[%{CHANGELOGTIME}\x1f%{CHANGELOGNAME}\x1f%{CHANGELOGTEXT}\x1e]")
    entries = []
    for item in raw.split("\x1e"):
        if item:
            ts, author, text = item.split("\x1f")
            entries.append({"date_ts": int(ts), "author": author, "text": text})
    return entries


def build_one(out, work, version, release, build_id, task_id, cl_text, completed, next_id):
    full_release = release + DIST
    nvr = "%s-%s-%s" % (NAME, version, full_release)
    base = os.path.join("packages", NAME, version, full_release)
    cl_date = {"0.9": "Mon Apr 15 2024", "1.0": "Mon May 13 2024"}[version]
    spec = os.path.join(work, "%s-%s.spec" % (NAME, version))
    with open(spec, "w") as f:
        f.write(SPEC.format(name=NAME, version=version, release=release,
                            cl_date=cl_date, cl_text=cl_text))
    os.utime(spec, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))

    def topdir(tag):
        top = os.path.join(work, "%s-%s" % (version, tag))
        os.makedirs(os.path.join(top, "SOURCES"), exist_ok=True)
        script = os.path.join(top, "SOURCES", "taskhost-demo.sh")
        with open(script, "w") as f:
            f.write(SCRIPT)
        os.utime(script, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        return top

    placed = []  # (path relative to out, is source)

    def place(src_path, arch, src):
        rel = os.path.join(base, arch, os.path.basename(src_path))
        os.makedirs(os.path.join(out, base, arch), exist_ok=True)
        shutil.copyfile(src_path, os.path.join(out, rel))
        placed.append((rel, src))

    top = topdir("src")
    rpmbuild(["-bs", spec], top, os.path.join(work, "src.log"))
    srpm = os.path.join(top, "SRPMS", "%s.src.rpm" % nvr)
    place(srpm, "src", True)

    logs = []
    for arch in ARCHES:
        top = topdir(arch)
        log_rel = os.path.join(base, "data", "logs", arch, "build.log")
        os.makedirs(os.path.dirname(os.path.join(out, log_rel)), exist_ok=True)
        rpmbuild(["-bb", "--target", arch, spec], top, os.path.join(out, log_rel))
        sha256, size = file_sums(os.path.join(out, log_rel))
        logs.append({"arch": arch, "name": "build.log", "file": log_rel,
                     "sha256": sha256, "size": size})
        for sub in (NAME, NAME + "-debuginfo"):
            place(os.path.join(top, "RPMS", arch, "%s-%s-%s.%s.rpm"
                               % (sub, version, full_release, arch)), arch, False)
        if arch == ARCHES[0]:
            # koji keeps one copy of a noarch package: the first arch's.
            place(os.path.join(top, "RPMS", "noarch", "%s-docs-%s-%s.noarch.rpm"
                               % (NAME, version, full_release)), "noarch", False)

    rpms = []
    for rel, src in placed:
        rpms.append(rpm_entry(os.path.join(out, rel), rel, next_id, build_id, src))
        next_id += 1
    return {
        "build_id": build_id,
        "task_id": task_id,
        "name": NAME,
        "version": version,
        "release": full_release,
        "epoch": None,
        "nvr": nvr,
        "owner_name": OWNER,
        "start_ts": completed - 600,
        "completion_ts": completed,
        "creation_ts": completed,
        "source": "git+https://src.fedoraproject.org/rpms/%s.git#%s"
                  % (NAME, hashlib.sha1(nvr.encode()).hexdigest()),
        "target": "f40-candidate",
        "rpms": rpms,
        "logs": logs,
        "changelog": changelog(os.path.join(out, placed[0][0])),
    }, next_id


def main():
    if len(sys.argv) != 2:
        die("usage: build_fixtures.py DIR")
    out = os.path.abspath(sys.argv[1])
    for tool in ("rpmbuild", "rpm"):
        if shutil.which(tool) is None:
            die("%s not found: run .ci/install-test-clients" % tool)
    os.makedirs(out, exist_ok=True)
    builds = []
    next_id = 3000001
    with tempfile.TemporaryDirectory(prefix="taskhost-rpmbuild-") as work:
        for version, release, build_id, task_id, text, completed in BUILDS:
            build, next_id = build_one(out, work, version, release, build_id, task_id,
                                       text, completed, next_id)
            builds.append(build)
    old, new = builds[0]["nvr"], builds[1]["nvr"]
    fixtures = {
        "builds": builds,
        # Tags in koji's shape; "builds" lists the builds in tagging order.
        "tags": [
            {"id": 530, "name": "f40", "arches": "i686 x86_64", "parents": [],
             "builds": [old]},
            {"id": 531, "name": "f40-updates", "arches": None, "parents": ["f40"],
             "builds": []},
            {"id": 532, "name": "f40-updates-candidate", "arches": None,
             "parents": ["f40-updates"], "builds": [new]},
            {"id": 533, "name": "f40-updates-testing", "arches": None,
             "parents": ["f40-updates"], "builds": [new]},
        ],
        "releases": [{
            "name": "F40", "long_name": "Fedora 40", "version": "40",
            "id_prefix": "FEDORA", "branch": "f40", "dist_tag": "f40",
            "stable_tag": "f40-updates", "testing_tag": "f40-updates-testing",
            "candidate_tag": "f40-updates-candidate",
            "pending_signing_tag": "f40-signing-pending",
            "pending_testing_tag": "f40-updates-testing-pending",
            "pending_stable_tag": "f40-updates-pending",
            "override_tag": "f40-override", "mail_template": "fedora_errata_template",
            "state": "current", "composed_by_bodhi": True,
            "create_automatic_updates": False, "package_manager": "dnf",
            "testing_repository": "updates-testing", "released_on": "2024-04-23",
            "eol": "2025-05-13", "setting_status": None,
        }],
        "updates": [{
            "alias": UPDATE_ALIAS,
            "builds": [new],
            "release": "F40",
            "status": "testing",
            "request": None,
            "type": "enhancement",
            "severity": "unspecified",
            "notes": "Update taskhost-demo to 1.0.",
            "user": OWNER,
            "date_submitted": "2024-05-13 10:00:00",
            "date_testing": "2024-05-14 02:00:00",
            "date_pushed": "2024-05-14 02:00:00",
        }],
    }
    with open(os.path.join(out, "fixtures.json"), "w") as f:
        json.dump(fixtures, f, indent=1, sort_keys=True)
        f.write("\n")
    print(os.path.join(out, "fixtures.json"))


if __name__ == "__main__":
    main()
