"""libtaskotron.check and checkb.check as taskhost ships them, held to
what libtaskotron's own check.py did. The expected values are written out
from reading libtaskotron's and checkb's check.py: export_YAML dumps
{"results": [...]} with yaml.safe_dump(indent=2, allow_unicode=True,
default_flow_style=False), item and outcome always, artifact, type, note,
checkname and _internal only when set, keyvals flattened without the
reserved keys.

Run from the directory holding .taskhost/python/ (src/tests.rs does).
"""

import contextlib
import io
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.getcwd(), ".taskhost", "python"))

import yaml  # noqa: E402

from checkb import check as checkb_check  # noqa: E402
from checkb.exceptions import CheckbValueError  # noqa: E402
from libtaskotron import check  # noqa: E402
from libtaskotron.exceptions import TaskotronError, TaskotronValueError  # noqa: E402

OUTCOMES = ["PASSED", "INFO", "FAILED", "NEEDS_INSPECTION", "ABORTED", "CRASHED"]


def full():
    """A CheckDetail with every field set."""
    cd = check.CheckDetail(
        "xchat-0.5-1.fc20",
        check.ReportType.KOJI_BUILD,
        "FAILED",
        "5 ERRORS, 10 WARNINGS",
        output=["line 1"],
        keyvals={"foo": "bar", "moo": 11},
        checkname="dist.rpmlint",
        artifact="xchat.log",
    )
    return cd


def fields(cd):
    """What a task can read of a CheckDetail."""
    return {
        "item": cd.item,
        "report_type": cd.report_type,
        "outcome": cd.outcome,
        "note": cd.note,
        "keyvals": cd.keyvals,
        "checkname": cd.checkname,
        "artifact": cd.artifact,
        "_internal": cd._internal,
    }


@contextlib.contextmanager
def without_pyyaml():
    saved = sys.modules.get("yaml")
    sys.modules["yaml"] = None  # `import yaml` now raises ImportError
    try:
        yield
    finally:
        sys.modules["yaml"] = saved


class CheckDetailTest(unittest.TestCase):
    def test_defaults_read_as_libtaskotron_set_them(self):
        cd = check.CheckDetail(None)
        self.assertEqual(cd.outcome, "NEEDS_INSPECTION")
        self.assertEqual(cd._outcome, None)
        self.assertEqual(
            fields(cd),
            {
                "item": None,
                "report_type": None,
                "outcome": "NEEDS_INSPECTION",
                "note": "",
                "keyvals": {},
                "checkname": None,
                "artifact": None,
                "_internal": {},
            },
        )
        self.assertEqual(cd.output, [])

    def test_params_are_taken_positionally_in_libtaskotrons_order(self):
        cd = full()
        self.assertEqual(
            fields(cd),
            {
                "item": "xchat-0.5-1.fc20",
                "report_type": "koji_build",
                "outcome": "FAILED",
                "note": "5 ERRORS, 10 WARNINGS",
                "keyvals": {"foo": "bar", "moo": 11},
                "checkname": "dist.rpmlint",
                "artifact": "xchat.log",
                "_internal": {},
            },
        )
        self.assertEqual(cd.output, ["line 1"])

    def test_bad_values_raise_value_errors_of_both_flavours(self):
        for bad in (
            lambda: check.CheckDetail(None, outcome="GREAT"),
            lambda: check.CheckDetail(None, outcome="passed"),
            lambda: check.CheckDetail(None, output="foobar"),
            lambda: check.CheckDetail(None, output=("a",)),
            lambda: check.CheckDetail(None, output=["a", 1]),
            lambda: check.CheckDetail(None, keyvals="foobar"),
            lambda: setattr(check.CheckDetail(None), "outcome", "GREAT"),
            lambda: check.CheckDetail(None).update_outcome("GREAT"),
            lambda: check.CheckDetail.cmp_outcome("PASSED", "GREAT"),
            lambda: check.CheckDetail.cmp_outcome("GREAT", "GREAT"),
        ):
            with self.assertRaises(TaskotronValueError) as caught:
                bad()
            self.assertIsInstance(caught.exception, CheckbValueError)
            self.assertIsInstance(caught.exception, ValueError)
            self.assertIsInstance(caught.exception, TaskotronError)
        with self.assertRaisesRegex(ValueError, "^Unknown outcome keyword: GREAT$"):
            check.CheckDetail(None, outcome="GREAT")

    def test_an_empty_outcome_leaves_it_unset(self):
        self.assertEqual(check.CheckDetail(None, outcome="").outcome, "NEEDS_INSPECTION")

    def test_update_outcome_keeps_the_most_important(self):
        cd = check.CheckDetail(None)
        # Unset ranks below every outcome, NEEDS_INSPECTION included.
        cd.update_outcome("PASSED")
        self.assertEqual(cd.outcome, "PASSED")
        cd.update_outcome("FAILED")
        self.assertEqual(cd.outcome, "FAILED")
        cd.update_outcome("PASSED")
        self.assertEqual(cd.outcome, "FAILED")
        cd.update_outcome(None)
        self.assertEqual(cd.outcome, "FAILED")
        for first in OUTCOMES:
            for then in OUTCOMES:
                cd = check.CheckDetail(None, outcome=first)
                cd.update_outcome(then)
                worst = max(OUTCOMES.index(first), OUTCOMES.index(then))
                self.assertEqual(cd.outcome, OUTCOMES[worst], (first, then))

    def test_cmp_outcome_orders_passed_to_crashed_with_none_lowest(self):
        cmp = check.CheckDetail.cmp_outcome
        self.assertEqual(check.CheckDetail.outcome_priority, tuple(OUTCOMES))
        self.assertEqual(cmp("FAILED", "PASSED"), 1)
        self.assertEqual(cmp("NEEDS_INSPECTION", "INFO"), 1)
        self.assertEqual(cmp("CRASHED", "ABORTED"), 1)
        self.assertEqual(cmp("PASSED", None), 1)
        self.assertEqual(cmp("PASSED", "PASSED"), 0)
        self.assertEqual(cmp(None, None), 0)
        self.assertEqual(cmp("PASSED", "FAILED"), -1)
        self.assertEqual(cmp(None, "PASSED"), -1)

    def test_broken_means_aborted_or_crashed(self):
        self.assertEqual(
            [o for o in OUTCOMES if check.CheckDetail(None, outcome=o).broken()],
            ["ABORTED", "CRASHED"],
        )
        self.assertFalse(check.CheckDetail(None).broken())

    def test_store_appends_and_prints_unless_told_not_to(self):
        cd = check.CheckDetail(None)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            cd.store("foobar")
            cd.store("barbaz", printout=False)
        self.assertEqual(cd.output, ["foobar", "barbaz"])
        self.assertEqual(out.getvalue(), "foobar\n")

    def test_multi_item_summary_counts_in_outcome_order(self):
        summary = check.CheckDetail.create_multi_item_summary
        self.assertEqual(
            summary(["PASSED", "PASSED", "FAILED", "ABORTED", "INFO", "INFO"]),
            "2 PASSED, 2 INFO, 1 FAILED, 1 ABORTED",
        )
        self.assertEqual(summary([]), "")
        self.assertEqual(summary(check.CheckDetail(None)), "1 NEEDS_INSPECTION")
        details = [check.CheckDetail(None, outcome=o) for o in ("INFO", "PASSED", "PASSED")]
        self.assertEqual(summary(details + [check.CheckDetail(None)]), "2 PASSED, 1 INFO, 1 NEEDS_INSPECTION")
        with self.assertRaises(TaskotronValueError):
            summary("PASSED")

    def test_report_types_are_libtaskotrons(self):
        self.assertEqual(
            check.ReportType.list(),
            [
                "bodhi_update",
                "compose",
                "dist_git_commit",
                "docker_image",
                "git_commit",
                "koji_build",
                "koji_tag",
                "module_build",
                "pull_request",
            ],
        )
        self.assertEqual(check.ReportType.BODHI_UPDATE, "bodhi_update")
        self.assertEqual(check.ReportType.KOJI_BUILD, "koji_build")

    def test_checkb_check_is_the_same_module(self):
        for name in ("CheckDetail", "ReportType", "export_YAML", "import_YAML", "RESERVED_KEYS"):
            self.assertIs(getattr(checkb_check, name), getattr(check, name))
        self.assertEqual(
            check.RESERVED_KEYS,
            ("item", "type", "outcome", "note", "results", "checkname", "artifact", "_internal"),
        )


class ExportTest(unittest.TestCase):
    def test_the_text_is_what_libtaskotron_wrote(self):
        self.assertEqual(
            check.export_YAML(full()),
            "results:\n"
            "- artifact: xchat.log\n"
            "  checkname: dist.rpmlint\n"
            "  foo: bar\n"
            "  item: xchat-0.5-1.fc20\n"
            "  moo: 11\n"
            "  note: 5 ERRORS, 10 WARNINGS\n"
            "  outcome: FAILED\n"
            "  type: koji_build\n",
        )

    def test_pyyaml_reads_every_field_back(self):
        cd = full()
        cd._internal = {"resultsdb_result_id": 1234}
        self.assertEqual(
            yaml.safe_load(check.export_YAML(cd)),
            {
                "results": [
                    {
                        "item": "xchat-0.5-1.fc20",
                        "type": "koji_build",
                        "outcome": "FAILED",
                        "note": "5 ERRORS, 10 WARNINGS",
                        "checkname": "dist.rpmlint",
                        "artifact": "xchat.log",
                        "foo": "bar",
                        "moo": 11,
                        "_internal": {"resultsdb_result_id": 1234},
                    }
                ]
            },
        )

    def test_a_minimal_result_has_item_and_outcome_only(self):
        self.assertEqual(
            yaml.safe_load(check.export_YAML(check.CheckDetail("foo"))),
            {"results": [{"item": "foo", "outcome": "NEEDS_INSPECTION"}]},
        )
        self.assertEqual(
            check.export_YAML(check.CheckDetail("foo")),
            "results:\n- item: foo\n  outcome: NEEDS_INSPECTION\n",
        )

    def test_reserved_keyvals_are_left_out(self):
        cd = full()
        for key in check.RESERVED_KEYS:
            cd.keyvals[key] = "overridden"
        with self.assertLogs("libtaskotron", "WARNING"):
            got = yaml.safe_load(check.export_YAML(cd))["results"][0]
        self.assertEqual(
            got,
            {
                "item": "xchat-0.5-1.fc20",
                "type": "koji_build",
                "outcome": "FAILED",
                "note": "5 ERRORS, 10 WARNINGS",
                "checkname": "dist.rpmlint",
                "artifact": "xchat.log",
                "foo": "bar",
                "moo": 11,
            },
        )

    def test_several_results_keep_their_order(self):
        details = [
            check.CheckDetail("b-1-1", check.ReportType.KOJI_BUILD, "PASSED"),
            check.CheckDetail("FEDORA-2024-1", check.ReportType.BODHI_UPDATE, "FAILED", "dependency error"),
            check.CheckDetail("f40-updates", check.ReportType.KOJI_TAG, "INFO", "2 stale updates"),
        ]
        got = yaml.safe_load(check.export_YAML(details))["results"]
        self.assertEqual([r["item"] for r in got], ["b-1-1", "FEDORA-2024-1", "f40-updates"])
        self.assertEqual([r["type"] for r in got], ["koji_build", "bodhi_update", "koji_tag"])
        self.assertEqual(check.export_YAML(details[:1]), check.export_YAML(details[0]))
        self.assertEqual(yaml.safe_load(check.export_YAML([])), {"results": []})

    def test_text_stays_unicode_and_yaml_look_alikes_stay_text(self):
        cd = check.CheckDetail("yes", "koji_build", "PASSED", "Žluťoučký kůň: 1 WARNING", keyvals={"n": "011", "off": "off"})
        text = check.export_YAML(cd)
        self.assertIn("Žluťoučký", text)
        got = yaml.safe_load(text)["results"][0]
        self.assertEqual((got["item"], got["note"], got["n"], got["off"]), ("yes", "Žluťoučký kůň: 1 WARNING", "011", "off"))

    def test_an_empty_item_raises(self):
        for item in (None, ""):
            with self.assertRaisesRegex(TaskotronValueError, "CheckDetail.item is empty"):
                check.export_YAML([full(), check.CheckDetail(item)])

    def test_without_pyyaml_the_same_structure_is_written_as_json(self):
        cd = full()
        cd.note = "odd \x85 \u2028 \x7f chars"
        expected = yaml.safe_load(check.export_YAML(cd))
        with without_pyyaml():
            text = check.export_YAML(cd)
            self.assertEqual(json.loads(text), expected)
            self.assertEqual(fields(check.import_YAML(text)[0]), fields(cd))
            with self.assertRaisesRegex(TaskotronValueError, "needs PyYAML"):
                check.import_YAML("results: []")
        self.assertEqual(yaml.safe_load(text), expected)


class ImportTest(unittest.TestCase):
    def test_reads_libtaskotrons_example(self):
        text = """
results:
  - item: xchat-0.5-1.fc20
    outcome: PASSED
    artifact: logfile.log
    note: 5 ERRORS, 10 WARNINGS
    type: koji_build
    foo: bar
    moo: 11
    checkname: testcheck
    _internal:
        resultsdb_result_id: 1234
"""
        [cd] = check.import_YAML(text)
        self.assertIsInstance(cd, check.CheckDetail)
        self.assertEqual(
            fields(cd),
            {
                "item": "xchat-0.5-1.fc20",
                "report_type": "koji_build",
                "outcome": "PASSED",
                "note": "5 ERRORS, 10 WARNINGS",
                "keyvals": {"foo": "bar", "moo": 11},
                "checkname": "testcheck",
                "artifact": "logfile.log",
                "_internal": {"resultsdb_result_id": 1234},
            },
        )

    def test_import_of_export_round_trips(self):
        a = full()
        a._internal = {"resultsdb_result_id": 1234}
        b = check.CheckDetail("foo")
        c = check.CheckDetail("bar", "bodhi_update", note="", keyvals={"list": [1, "x"], "map": {"k": None}})
        c.update_outcome("INFO")
        details = [a, b, c]
        back = check.import_YAML(check.export_YAML(details))
        self.assertEqual([fields(d) for d in back], [fields(d) for d in details])
        self.assertEqual(back[1]._outcome, "NEEDS_INSPECTION")  # written out, so set

    def test_bad_input_raises_value_errors(self):
        for text in (None, "", "key:value\nkey: value", "[]", "{}", "{'results': {}}", "results: [3]",
                     "results: [{item: x, outcome: GREAT}]"):
            with self.assertRaises(TaskotronValueError, msg=repr(text)):
                check.import_YAML(text)

    def test_no_results_are_an_empty_list(self):
        self.assertEqual(check.import_YAML("{'results': []}"), [])
        self.assertEqual(check.import_YAML("{'results': null}"), [])


if __name__ == "__main__":
    unittest.main()
