#!/usr/bin/env python3
"""Makes the koji hub answers and files tests/fake_host.rs serves.

Usage: python3 plugins/koji/tests/data/make.py   (from the workspace root)

It builds the e2e fixtures (tests/servers/build_fixtures.py: real RPMs
made by rpmbuild) in a temporary directory, asks the e2e koji hub
(tests/servers/koji_hub.py, koji's call signatures and answer shapes) for
each answer, and marshals it the way the hub's SimpleXMLRPCServer does
(xmlrpc.client.dumps, methodresponse, allow_none). The RPMs of
taskhost-demo-1.0-1.fc40 the tests download are copied as they are, so
their sizes and SIGMD5s match the listRPMs answer.
"""

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
import koji_hub  # noqa: E402

NEW = "taskhost-demo-1.0-1.fc40"
RPMS = [
    "x86_64/taskhost-demo-1.0-1.fc40.x86_64.rpm",
    "x86_64/taskhost-demo-debuginfo-1.0-1.fc40.x86_64.rpm",
    "i686/taskhost-demo-1.0-1.fc40.i686.rpm",
    "noarch/taskhost-demo-docs-1.0-1.fc40.noarch.rpm",
    "src/taskhost-demo-1.0-1.fc40.src.rpm",
]


def answer(name, value):
    body = xmlrpc.client.dumps((value,), methodresponse=1, allow_none=True)
    with open(os.path.join(HERE, name), "w") as f:
        f.write(body)


def fault(name, code, message):
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=1,
                               allow_none=True)
    with open(os.path.join(HERE, name), "w") as f:
        f.write(body)


def main():
    with tempfile.TemporaryDirectory(prefix="koji-data-") as fx:
        subprocess.run([sys.executable, os.path.join(SERVERS, "build_fixtures.py"), fx],
                       check=True, stdout=subprocess.DEVNULL)
        data = koji_hub.Data(fx)
        hub = koji_hub.RootExports(data)
        build = hub.getBuild(NEW)
        answer("getBuild.xml", build)
        answer("getBuild-failed.xml", dict(build, state=3))
        answer("nil.xml", hub.getBuild("nosuch-1-1.fc40"))
        answer("listRPMs.xml", hub.listRPMs(buildID=build["build_id"]))
        answer("listTagged-empty.xml", hub.listTagged("f40-updates", latest=True,
                                                      package="taskhost-demo"))
        answer("listTagged-f40.xml", hub.listTagged("f40", latest=True,
                                                    package="taskhost-demo"))
        answer("getTag-testing.xml", hub.getTag("f40-updates-testing"))
        answer("listTagged-testing.xml", hub.listTagged("f40-updates-testing", latest=False,
                                                        package=None))
        fault("fault-no-such-tag.xml", 1000, "No such tagInfo: 'f40-updates'")
        # kojixmlrpc's enforce_lockout (koji.ServerOffline).
        fault("fault-offline.xml", 1014, "Server disabled for maintenance")
        # The hub once the update went stable: the build tagged f40-updates.
        data.tag_by_name["f40-updates"]["listing"].append((data.last_event + 1,
                                                           build["build_id"]))
        answer("listTagged-updates.xml", hub.listTagged("f40-updates", latest=True,
                                                        package="taskhost-demo"))
        base = os.path.join(fx, "packages", "taskhost-demo", "1.0", "1.fc40")
        for rel in RPMS:
            shutil.copyfile(os.path.join(base, rel), os.path.join(HERE, os.path.basename(rel)))


if __name__ == "__main__":
    main()
