"""libtaskotron's (and checkb's) `check` module, written anew for taskhost.

Tasks see it as `libtaskotron.check` and `checkb.check`: CheckDetail,
ReportType, export_YAML and import_YAML behave as they did there.
export_YAML writes what libtaskotron wrote, with PyYAML; without PyYAML
it writes the same structure as JSON (which YAML readers accept).
"""

import json
import logging
import re
from collections.abc import Mapping, MutableSequence

from checkb.exceptions import CheckbValueError
from libtaskotron.exceptions import TaskotronValueError

log = logging.getLogger("libtaskotron")

#: Outcomes, from the least to the most important.
OUTCOMES = ("PASSED", "INFO", "FAILED", "NEEDS_INSPECTION", "ABORTED", "CRASHED")

#: ResultYAML keys a keyval may not take.
RESERVED_KEYS = (
    "item",
    "type",
    "outcome",
    "note",
    "results",
    "checkname",
    "artifact",
    "_internal",
)


class CheckValueError(TaskotronValueError, CheckbValueError):
    """A bad value: caught as TaskotronValueError, CheckbValueError or
    ValueError alike."""


def _rank(outcome):
    """The outcome's place in OUTCOMES; None ranks below them all."""
    if outcome is None:
        return -1
    try:
        return OUTCOMES.index(outcome)
    except ValueError:
        raise CheckValueError("Unknown outcome keyword: %s" % (outcome,)) from None


class CheckDetail(object):
    """The outcome of a check for one item, and what goes with it: note,
    output lines, keyvals, checkname and artifact."""

    outcome_priority = OUTCOMES

    def __init__(
        self,
        item,
        report_type=None,
        outcome=None,
        note="",
        output=None,
        keyvals=None,
        checkname=None,
        artifact=None,
    ):
        if output is not None and not (
            isinstance(output, MutableSequence)
            and all(isinstance(line, str) for line in output)
        ):
            raise CheckValueError(
                "'output' must be a mutable sequence of strings (a list), not %s"
                % type(output)
            )
        if keyvals is not None and not isinstance(keyvals, Mapping):
            raise CheckValueError("'keyvals' must be a mapping, not %s" % type(keyvals))
        self.item = item
        self.report_type = report_type
        self._outcome = None
        if outcome:
            self.outcome = outcome
        self.checkname = checkname
        self.note = note
        self.output = output or []
        self.keyvals = keyvals or {}
        self.artifact = artifact
        # Data a directive hands to a later one (e.g. a ResultsDB id).
        self._internal = {}

    @property
    def outcome(self):
        """The outcome; NEEDS_INSPECTION until one is set."""
        return self._outcome or "NEEDS_INSPECTION"

    @outcome.setter
    def outcome(self, value):
        if value not in OUTCOMES:
            raise CheckValueError("Unknown outcome keyword: %s" % (value,))
        self._outcome = value

    def update_outcome(self, outcome):
        """Sets `outcome` when it is more important than the one set so far
        (None does nothing): call it for each sub-check, the worst stays."""
        if _rank(outcome) > _rank(self._outcome):
            self.outcome = outcome

    def broken(self):
        """True when the outcome is ABORTED or CRASHED."""
        return self.outcome in ("ABORTED", "CRASHED")

    def store(self, message, printout=True):
        """Appends `message` to `output`, and prints it unless told not to."""
        self.output.append(message)
        if printout:
            print(message)

    @classmethod
    def cmp_outcome(cls, outcome1, outcome2):
        """-1, 0 or 1 as `outcome1` is less, as or more important than
        `outcome2` (None is the least)."""
        a, b = _rank(outcome1), _rank(outcome2)
        return (a > b) - (a < b)

    @classmethod
    def create_multi_item_summary(cls, outcomes):
        """`2 PASSED, 1 FAILED` for a CheckDetail, a list of them, or a
        list of outcome strings."""
        if isinstance(outcomes, CheckDetail):
            outcomes = [outcomes]
        if isinstance(outcomes, str):
            raise CheckValueError(
                "'outcomes' must be a list of outcomes or CheckDetails, not a string"
            )
        outcomes = list(outcomes)
        if all(isinstance(o, CheckDetail) for o in outcomes):
            names = [o.outcome for o in outcomes]
        elif all(isinstance(o, str) for o in outcomes):
            names = outcomes
        else:
            raise CheckValueError(
                "'outcomes' must hold only CheckDetails or only outcome strings"
            )
        return ", ".join(
            "%d %s" % (names.count(o), o) for o in OUTCOMES if names.count(o)
        )

    def __str__(self):
        shown = dict(vars(self), output="<stripped out>")
        return "<%s: %r>" % (type(self).__name__, shown)

    __repr__ = __str__


class ReportType(object):
    """Item types (CheckDetail.report_type) the reporting directives know."""

    BODHI_UPDATE = "bodhi_update"
    COMPOSE = "compose"
    DIST_GIT_COMMIT = "dist_git_commit"
    DOCKER_IMAGE = "docker_image"
    GIT_COMMIT = "git_commit"
    KOJI_BUILD = "koji_build"
    KOJI_TAG = "koji_tag"
    MODULE_BUILD = "module_build"
    PULL_REQUEST = "pull_request"

    @classmethod
    def list(cls):
        return [
            cls.BODHI_UPDATE,
            cls.COMPOSE,
            cls.DIST_GIT_COMMIT,
            cls.DOCKER_IMAGE,
            cls.GIT_COMMIT,
            cls.KOJI_BUILD,
            cls.KOJI_TAG,
            cls.MODULE_BUILD,
            cls.PULL_REQUEST,
        ]


def _result(detail):
    """One entry of `results:`; empty fields are left out."""
    entry = {"item": detail.item, "outcome": detail.outcome}
    for key, value in (
        ("artifact", detail.artifact),
        ("type", detail.report_type),
        ("note", detail.note),
        ("checkname", detail.checkname),
        ("_internal", detail._internal),
    ):
        if value:
            entry[key] = value
    for key, value in detail.keyvals.items():
        if key in RESERVED_KEYS:
            log.warning("Reserved key '%s' found in keyvals. Ignoring for export purposes.", key)
        else:
            entry[key] = value
    return entry


# Characters a YAML reader refuses or takes as line breaks, escaped in
# the JSON fallback.
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def export_YAML(check_details):
    """ResultYAML text for a CheckDetail or a list of them (all in one
    call). Raises a ValueError when an item is empty."""
    if isinstance(check_details, CheckDetail):
        check_details = [check_details]
    check_details = list(check_details)
    for detail in check_details:
        if not detail.item:
            raise CheckValueError("CheckDetail.item is empty for: %s" % detail)
    document = {"results": [_result(d) for d in check_details]}
    try:
        import yaml
    except ImportError:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
        return _NOT_YAML_PRINTABLE.sub(lambda m: "\\u%04x" % ord(m.group()), text) + "\n"
    return yaml.safe_dump(document, indent=2, allow_unicode=True, default_flow_style=False)


def import_YAML(source):
    """The CheckDetails of ResultYAML text. Raises a ValueError on empty
    input, bad YAML or a bad structure."""
    if not source:
        raise CheckValueError("Failed to parse YAML contents: empty input")
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as e:
            raise CheckValueError("Failed to parse YAML contents: %s" % e) from None
    else:
        try:
            data = json.loads(source)
        except ValueError:
            raise CheckValueError(
                "Failed to parse YAML contents: reading YAML needs PyYAML "
                "(python3-yaml on Debian, python3-pyyaml on Fedora)"
            ) from None
    if not isinstance(data, dict):
        raise CheckValueError(
            "Invalid type of the YAML root element, %s instead of dict" % type(data)
        )
    if "results" not in data:
        raise CheckValueError("Invalid format of the YAML data - missing `results` key")
    results = data["results"]
    if results is None:
        return []
    if not isinstance(results, list):
        raise CheckValueError(
            "Invalid type of 'results', %s instead of list" % type(results)
        )
    details = []
    for index, result in enumerate(results):
        if not isinstance(result, dict):
            raise CheckValueError("results[%d] is a %s, not a mapping" % (index, type(result)))
        detail = CheckDetail(
            result.get("item"),
            result.get("type"),
            result.get("outcome"),
            result.get("note", ""),
            checkname=result.get("checkname"),
            artifact=result.get("artifact"),
        )
        detail.keyvals = {k: v for k, v in result.items() if k not in RESERVED_KEYS}
        detail._internal = result.get("_internal", {})
        details.append(detail)
    return details
