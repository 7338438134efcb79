"""The plugin against taskhost.testing's fake host: plain CPython, no
component, no shellcheck (PYTHONPATH=sdk/python python3 -m unittest)."""

import json
import unittest

import taskhost
from taskhost.testing import FakeHost

from app import ShellCheck

REPORT = json.dumps({"comments": [
    {"file": "in/1/bad.sh", "line": 2, "level": "info", "code": 2086, "message": "Double quote"},
    {"file": "in/1/bad.sh", "line": 3, "level": "warning", "code": 2046, "message": "Quote this"},
]})


def host(**task_data):
    data = {"scripts": [1], **task_data}
    return FakeHost(data).input(1, "shellcheck:script", data={"filename": "bad.sh"},
                                files={"bad.sh": b"#!/bin/sh\necho $1\n"}, key="scripts")


class ShellCheckTest(unittest.TestCase):
    def test_each_script_gets_a_result_and_a_related_report(self):
        run = host(fail_on_severity="warning").reply("shellcheck --format=json1 *", code=1,
                                                     stdout=REPORT).execute(ShellCheck)
        self.assertEqual(run.status, "failure")
        self.assertEqual(run.commands, [["shellcheck", "--format=json1", "in/1/bad.sh"]])
        self.assertEqual(run.backends, ["local"])
        self.assertEqual([(r.item, r.outcome, r.note) for r in run.results],
                         [("bad.sh", taskhost.Outcome.FAILED, "comments: 2")])
        self.assertEqual(run.artifacts[0]["category"], "shellcheck:report")
        self.assertEqual(run.artifacts[0]["files"], {"report.json": REPORT.encode()})
        self.assertEqual(run.relations, [(run.artifacts[0]["id"], 1)])

    def test_findings_below_fail_on_severity_pass(self):
        run = host(fail_on_severity="error").reply("shellcheck **", code=1, stdout=REPORT).execute(ShellCheck)
        self.assertEqual(run.status, "success")
        self.assertEqual(run.results[0].outcome, taskhost.Outcome.PASSED)

    def test_output_that_is_not_json_fails_naming_the_file(self):
        run = host().reply("shellcheck **", code=3, stdout="shellcheck: bad.sh: does not exist").execute(ShellCheck)
        self.assertIsInstance(run.status, taskhost.Failed)
        self.assertIn("not the JSON expected", str(run.status))
        self.assertEqual(run.artifacts, [])

    def test_a_denied_command_is_access_denied_and_nothing_is_stored(self):
        run = host().deny_exec("shellcheck **").execute(ShellCheck)
        self.assertIsInstance(run.status, taskhost.AccessDenied)
        self.assertEqual((run.commands, run.artifacts, run.results), ([], [], []))

    def test_bad_task_data_names_the_key(self):
        for data, says in (({"scripts": [1], "bogus": 1}, "unknown key 'bogus'"),
                           ({}, "missing field `scripts`"),
                           ({"scripts": [1], "fail_on_severity": "loud"}, "fail_on_severity")):
            run = FakeHost(data).execute(ShellCheck)
            self.assertIsInstance(run.status, taskhost.Invalid, data)
            self.assertIn(says, str(run.status))


if __name__ == "__main__":
    unittest.main()
