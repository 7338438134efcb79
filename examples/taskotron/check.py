"""Every RPM in RPMDIR is built for ARCH: one JUnit test case per RPM.

Usage: check.py ARCH RPMDIR OUT.xml
"""
import os, subprocess, sys
from xml.sax.saxutils import quoteattr
arch, rpmdir, out = sys.argv[1:]
cases = []
for name in sorted(os.listdir(rpmdir)):
    query = ["rpm", "-qp", "--nosignature", "--queryformat", "%{ARCH}", os.path.join(rpmdir, name)]
    built = subprocess.run(query, capture_output=True, text=True, check=True).stdout
    failure = "" if built == arch else f"<failure message={quoteattr(f'built for {built}, not {arch}')}/>"
    cases.append(f"<testcase classname='rpm' name={quoteattr(name)}>{failure}</testcase>")
with open(out, "w") as f:
    f.write("<testsuite name='arch'>" + "".join(cases) + "</testsuite>")
