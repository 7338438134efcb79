#!/usr/bin/env python3
"""Makes the Bodhi and koji hub answers tests/fake_host.rs serves.

Usage: python3 plugins/bodhi/tests/data/make.py   (from the workspace root)

It builds the e2e fixtures (tests/servers/build_fixtures.py) in a
temporary directory and asks the e2e servers for each answer: Bodhi's
`GET /updates/FEDORA-2024-7a5c1e0b9d` in bodhi-server's shape
(tests/servers/bodhi.py, as served at https://bodhi.fedoraproject.org),
and the koji hub's getBuild and listRPMs (tests/servers/koji_hub.py),
marshalled the way the hub's SimpleXMLRPCServer does (xmlrpc.client.dumps,
methodresponse, allow_none). The RPMs of taskhost-demo-1.0-1.fc40 the tests
download (all but the -debuginfo one, which the directive never takes) are
copied as they are, so their sizes and SIGMD5s match the listRPMs answer.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import xmlrpc.client

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = os.path.join(HERE, "..", "..", "..", "..", "tests", "servers")
sys.dont_write_bytecode = True
sys.path.insert(0, SERVERS)
import bodhi  # noqa: E402
import koji_hub  # noqa: E402

ALIAS = "FEDORA-2024-7a5c1e0b9d"
NEW = "taskhost-demo-1.0-1.fc40"
OLD = "taskhost-demo-0.9-1.fc40"
RPMS = [
    "x86_64/taskhost-demo-1.0-1.fc40.x86_64.rpm",
    "i686/taskhost-demo-1.0-1.fc40.i686.rpm",
    "noarch/taskhost-demo-docs-1.0-1.fc40.noarch.rpm",
    "src/taskhost-demo-1.0-1.fc40.src.rpm",
]


def write(name, text):
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)


def answer(name, value):
    write(name, xmlrpc.client.dumps((value,), methodresponse=1, allow_none=True))


def main():
    with tempfile.TemporaryDirectory(prefix="bodhi-data-") as fx:
        subprocess.run([sys.executable, os.path.join(SERVERS, "build_fixtures.py"), fx],
                       check=True, stdout=subprocess.DEVNULL)
        data = bodhi.Data(fx)
        update = next(u for u in data.updates if u["alias"] == ALIAS)
        reply = {"update": bodhi.update_json(data, update, "https://bodhi.fedoraproject.org"),
                 "can_edit": False, "ci_allowed": False}
        write("update.json", json.dumps(reply, indent=1) + "\n")
        hub = koji_hub.RootExports(koji_hub.Data(fx))
        build = hub.getBuild(NEW)
        answer("getBuild.xml", build)
        answer("getBuild-failed.xml", dict(build, state=3))
        answer("getBuild-0.9.xml", hub.getBuild(OLD))
        answer("nil.xml", hub.getBuild("nosuch-1-1.fc40"))
        answer("listRPMs.xml", hub.listRPMs(buildID=build["build_id"]))
        # kojixmlrpc's enforce_lockout (koji.ServerOffline).
        write("fault-offline.xml", xmlrpc.client.dumps(
            xmlrpc.client.Fault(1014, "Server disabled for maintenance"),
            methodresponse=1, allow_none=True))
        base = os.path.join(fx, "packages", "taskhost-demo", "1.0", "1.fc40")
        for rel in RPMS:
            shutil.copyfile(os.path.join(base, rel), os.path.join(HERE, os.path.basename(rel)))


if __name__ == "__main__":
    main()
