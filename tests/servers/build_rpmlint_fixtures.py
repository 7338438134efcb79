#!/usr/bin/env python3
"""Builds the koji fixtures of the rpmlint example (examples/rpmlint/).

Usage: build_rpmlint_fixtures.py DIR

Two builds of `foo`, a noarch shell script with a man page, laid out in
DIR as build_fixtures.py lays out its own (koji's topdir plus
fixtures.json), for the koji test hub to serve:

  foo-1.2-3.fc99  clean: rpmlint reports no error
  foo-1.2-4.fc99  its script lost the executable bit: rpmlint reports
                  "E: non-executable-script /usr/bin/foo 644 /bin/sh"
"""

import json
import os
import shutil
import sys
import tempfile

from build_fixtures import SOURCE_DATE_EPOCH, changelog, die, rpm_entry, rpmbuild

NAME = "foo"
VERSION = "1.2"
DIST = ".fc99"
OWNER = "taskhost-packager"
# (release, mode of /usr/bin/foo, build id, task id, changelog text)
BUILDS = [
    ("3", "755", 9001, 190001, "Add a man page"),
    ("4", "644", 9002, 190002, "Install the script with install -m644"),
]

SPEC = """\
Name:           foo
Version:        {version}
Release:        {release}%{{?dist}}
Summary:        Prints a greeting
License:        MIT
URL:            https://example.org/foo
Source0:        foo.sh
Source1:        foo.1
Source2:        README
BuildArch:      noarch

%description
A shell script that prints a greeting, checked by the rpmlint example of
taskhost.

%prep
cp -p %{{SOURCE2}} .

%build

%install
install -D -m{mode} %{{SOURCE0}} %{{buildroot}}%{{_bindir}}/foo
install -D -m644 %{{SOURCE1}} %{{buildroot}}%{{_mandir}}/man1/foo.1
gzip -9n %{{buildroot}}%{{_mandir}}/man1/foo.1

%files
%doc README
%{{_bindir}}/foo
%{{_mandir}}/man1/foo.1.gz

%changelog
* Mon Apr 15 2024 Taskhost Packager <packager@example.org> - {version}-{release}
- {text}
"""

SOURCES = {
    "foo.sh": "#!/bin/sh\necho 'hello from foo'\n",
    "foo.1": ".TH FOO 1\n.SH NAME\nfoo \\- prints a greeting\n.SH SYNOPSIS\n.B foo\n",
    "README": "foo prints a greeting.\n",
}


def build(out, work, release, mode, build_id, task_id, text, next_id):
    nvr = "%s-%s-%s%s" % (NAME, VERSION, release, DIST)
    top = os.path.join(work, release)
    os.makedirs(os.path.join(top, "SOURCES"))
    for name, content in SOURCES.items():
        path = os.path.join(top, "SOURCES", name)
        with open(path, "w") as f:
            f.write(content)
        os.utime(path, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
    spec = os.path.join(top, "foo.spec")
    with open(spec, "w") as f:
        f.write(SPEC.format(version=VERSION, release=release, mode=mode, text=text))
    os.utime(spec, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
    base = os.path.join("packages", NAME, VERSION, release + DIST)
    log_rel = os.path.join(base, "data", "logs", "noarch", "build.log")
    os.makedirs(os.path.dirname(os.path.join(out, log_rel)))
    rpmbuild(["-ba", spec], top, os.path.join(out, log_rel), dist=DIST)
    placed = []
    for arch, built in (("src", os.path.join(top, "SRPMS", nvr + ".src.rpm")),
                        ("noarch", os.path.join(top, "RPMS", "noarch", nvr + ".noarch.rpm"))):
        rel = os.path.join(base, arch, os.path.basename(built))
        os.makedirs(os.path.join(out, base, arch), exist_ok=True)
        shutil.copyfile(built, os.path.join(out, rel))
        placed.append(rpm_entry(os.path.join(out, rel), rel, next_id, build_id, arch == "src"))
        next_id += 1
    completed = SOURCE_DATE_EPOCH + build_id
    return {
        "build_id": build_id,
        "task_id": task_id,
        "name": NAME,
        "version": VERSION,
        "release": release + DIST,
        "epoch": None,
        "nvr": nvr,
        "owner_name": OWNER,
        "start_ts": completed - 600,
        "completion_ts": completed,
        "creation_ts": completed,
        "source": "git+https://src.fedoraproject.org/rpms/%s.git#%s" % (NAME, "0" * 39 + release),
        "target": "f99-candidate",
        "rpms": placed,
        "logs": [],
        "changelog": changelog(os.path.join(out, placed[0]["file"])),
    }, next_id


def main():
    if len(sys.argv) != 2:
        die("usage: build_rpmlint_fixtures.py DIR")
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    builds = []
    next_id = 9100001
    with tempfile.TemporaryDirectory(prefix="taskhost-rpmbuild-") as work:
        for release, mode, build_id, task_id, text in BUILDS:
            b, next_id = build(out, work, release, mode, build_id, task_id, text, next_id)
            builds.append(b)
    fixtures = {
        "builds": builds,
        "tags": [{"id": 990, "name": "f99", "arches": "x86_64", "parents": [],
                  "builds": [b["nvr"] for b in builds]}],
    }
    with open(os.path.join(out, "fixtures.json"), "w") as f:
        json.dump(fixtures, f, indent=1, sort_keys=True)
        f.write("\n")
    print(os.path.join(out, "fixtures.json"))


if __name__ == "__main__":
    main()
