"""The python directive's runner: imports the task's file, calls the
callable with kwargs.json, writes return.json.

Run from the directory holding .taskhost/python/ (src/tests.rs does);
each test copies it into a workspace of its own.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

SHIPPED = os.path.join(os.getcwd(), ".taskhost", "python")

TASK = '''
import os, subprocess, sys
from libtaskotron import check
import helper


def run(**kwargs):
    return {"kwargs": kwargs, "cwd": os.getcwd(), "name": __name__,
            "file": os.path.basename(__file__), "helper": helper.VALUE}


def rpmlint(koji_build, artifactsdir):
    detail = check.CheckDetail(koji_build, check.ReportType.KOJI_BUILD)
    detail.update_outcome("FAILED")
    print("checked", koji_build)
    return check.export_YAML(detail)


def child():
    code = "from checkb import check; print(check.CheckDetail(None).outcome)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def boom(n):
    return n / 0


def leave():
    sys.exit(3)


def a_set():
    return {1, 2}


class Task:
    value = 7

    @classmethod
    def method(cls):
        return cls.value


NOT_CALLABLE = 5
'''


class RunnerTest(unittest.TestCase):
    def setUp(self):
        self.ws = tempfile.mkdtemp()
        shutil.copytree(SHIPPED, os.path.join(self.ws, ".taskhost", "python"))
        with open(os.path.join(self.ws, "task.py"), "w") as f:
            f.write(TASK)
        with open(os.path.join(self.ws, "helper.py"), "w") as f:
            f.write("VALUE = 'beside the task'\n")

    def tearDown(self):
        shutil.rmtree(self.ws)

    def call(self, callable, kwargs=None, file="task.py"):
        """Runs the runner: (exit code, output, return.json)."""
        here = os.path.join(self.ws, ".taskhost", "python")
        with open(os.path.join(here, "kwargs.json"), "w") as f:
            json.dump(kwargs or {}, f)
        done = subprocess.run(
            [sys.executable, ".taskhost/python/runner.py", file, callable],
            cwd=self.ws,
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        with open(os.path.join(here, "return.json")) as f:
            answer = json.load(f)
        return done.returncode, done.stdout + done.stderr, answer

    def test_kwargs_of_every_json_type_reach_the_callable(self):
        kwargs = {"s": "x", "n": 3, "f": 1.5, "b": True, "none": None, "l": ["a", 1], "d": {"k": ["v"]}}
        code, _, answer = self.call("run", kwargs)
        self.assertEqual(code, 0, answer)
        self.assertEqual(
            answer,
            {"value": {"kwargs": kwargs, "cwd": os.path.realpath(self.ws), "name": "task",
                       "file": "task.py", "helper": "beside the task"}},
        )

    def test_a_classic_task_returns_resultyaml_and_its_output_is_printed(self):
        code, out, answer = self.call("rpmlint", {"koji_build": "foo-1-1.fc40", "artifactsdir": "artifacts"})
        self.assertEqual(code, 0, answer)
        self.assertEqual(answer["value"], "results:\n- item: foo-1-1.fc40\n  outcome: FAILED\n  type: koji_build\n")
        self.assertEqual(out, "checked foo-1-1.fc40\n")

    def test_the_tasks_python_children_find_the_modules(self):
        code, _, answer = self.call("child")
        self.assertEqual((code, answer), (0, {"value": "NEEDS_INSPECTION\n"}))

    def test_object_methods_are_callables(self):
        self.assertEqual(self.call("Task.method")[2], {"value": 7})

    def test_an_exception_is_an_error_with_its_traceback(self):
        code, _, answer = self.call("boom", {"n": 1})
        self.assertEqual(code, 1)
        self.assertEqual(answer["error"], "boom() in task.py raised ZeroDivisionError")
        tb = answer["traceback"]
        self.assertTrue(tb.startswith("Traceback (most recent call last):"), tb)
        self.assertIn('task.py", line 25, in boom', tb)
        self.assertNotIn("runner.py", tb)
        self.assertTrue(tb.rstrip().endswith("ZeroDivisionError: division by zero"), tb)

    def test_sys_exit_is_an_error_too(self):
        code, _, answer = self.call("leave")
        self.assertEqual((code, answer["error"]), (1, "leave() in task.py raised SystemExit"))

    def test_a_file_that_does_not_import_is_an_error(self):
        with open(os.path.join(self.ws, "broken.py"), "w") as f:
            f.write("def run(:\n")
        code, _, answer = self.call("run", file="broken.py")
        self.assertEqual((code, answer["error"]), (1, "importing broken.py raised SyntaxError"))
        self.assertIn("broken.py", answer["traceback"])
        self.assertNotIn("runner.py", answer["traceback"])
        self.assertNotIn("<frozen", answer["traceback"])

    def test_a_missing_or_uncallable_name_is_named(self):
        self.assertEqual(self.call("nope")[2], {"error": "task.py has no callable `nope` (no `nope`)"})
        self.assertEqual(self.call("Task.nope")[2], {"error": "task.py has no callable `Task.nope` (no `nope`)"})
        self.assertEqual(self.call("NOT_CALLABLE")[2], {"error": "`NOT_CALLABLE` in task.py is not callable (type int)"})

    def test_a_value_json_cannot_hold_is_named(self):
        code, _, answer = self.call("a_set")
        self.assertEqual(code, 1)
        self.assertTrue(answer["error"].startswith("a_set() in task.py returned a set, which export: cannot hold"), answer)


if __name__ == "__main__":
    unittest.main()
