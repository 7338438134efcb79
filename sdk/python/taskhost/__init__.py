"""Write taskhost task plugins in Python.

A plugin is a module that defines a :class:`Task` subclass and exports it
as ``Task = taskhost.export(MyTask)``; ``python3 -m taskhost.build DIR``
turns the module and its ``taskhost.toml`` into a component with
componentize-py. The helpers are those of the Rust SDK (``taskhost-sdk``):
commands run through :class:`Environment`, artifacts through
:func:`get`, :func:`fetch`, :func:`inputs`, :func:`lookup` (debusine
lookups such as ``debian/match:codename=bookworm``) and
:class:`NewArtifact`, downloads through :func:`download` and API calls
through :class:`Request` and :func:`send` (giving a :class:`Response`),
results through :class:`CheckResult` and :class:`Tally`, and
``fail_on_severity`` through :class:`FailOn`. Every host call is checked
against the operator's grants (a URL against the ``urls`` prefixes); a
denied one raises :class:`AccessDenied`.
"""

import enum
import json

from . import _host

API_VERSION = "0.2.1"
"""The taskhost API this SDK speaks (stamped into the plugin)."""


# ---- errors ---------------------------------------------------------------


class Error(Exception):
    """A host call or the task failed; its subclasses say how."""


class AccessDenied(Error):
    """The operator did not grant it (the message names the grant)."""


class Invalid(Error):
    """An argument or the task_data is malformed."""


class NotFound(Error):
    """The artifact, file or program does not exist."""


class Failed(Error):
    """The host or a tool tried and failed."""


class TimedOut(Error):
    """It ran past its time limit."""


_KINDS = {
    "Error_AccessDenied": AccessDenied,
    "Error_Invalid": Invalid,
    "Error_NotFound": NotFound,
    "Error_Failed": Failed,
    "Error_TimedOut": TimedOut,
}


def _call(f, *args):
    """Calls the host; its error becomes an :class:`Error` subclass."""
    try:
        return f(*args)
    except _host.Err as e:
        name = getattr(e.value, "kind", type(e.value).__name__)
        kind = _KINDS.get(name, Failed)
        raise kind(getattr(e.value, "value", "timed out")) from None


# ---- commands -------------------------------------------------------------


class Command:
    """An argv command under construction: ``Command("blhc").arg("x")``."""

    def __init__(self, program, *args):
        self.argv = [program, *args]
        self.env = []
        self.cwd = self.stdin = self.stdout = self.stderr = None
        self.timeout_ms = None
        self.run_as_root = False

    def arg(self, arg):
        """Adds one argument."""
        self.argv.append(str(arg))
        return self

    def args(self, args):
        """Adds arguments."""
        self.argv.extend(str(a) for a in args)
        return self

    def set_env(self, name, value):
        """Sets an environment variable (the name must be granted)."""
        self.env.append((name, value))
        return self

    def to(self, stdout=None, stderr=None):
        """Writes stdout (and stderr) to these workspace files."""
        self.stdout, self.stderr = stdout, stderr
        return self

    def timeout(self, seconds):
        """Kills the command after ``seconds``."""
        self.timeout_ms = int(seconds * 1000)
        return self

    def _wit(self):
        return _host.process.Command(
            argv=list(self.argv), env=list(self.env), cwd=self.cwd, stdin=self.stdin,
            stdout=self.stdout, stderr=self.stderr, timeout_ms=self.timeout_ms,
            run_as_root=self.run_as_root,
        )


class ExitStatus:
    """How a command ended, and where its output is."""

    def __init__(self, wit):
        self.code = wit.code
        self.signal = wit.signal
        self.timed_out = wit.timed_out
        self.truncated = wit.truncated
        self.stdout_path = wit.stdout
        self.stderr_path = wit.stderr
        self.duration_ms = wit.duration_ms

    @property
    def success(self):
        """Exited with code 0."""
        return self.code == 0

    def read_stdout(self):
        """The captured stdout, as text."""
        with open(self.stdout_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def read_stderr(self):
        """The captured stderr, as text."""
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stdout_json(self):
        """The captured stdout decoded as JSON (a tool's JSON output)."""
        try:
            return json.loads(self.read_stdout())
        except json.JSONDecodeError as e:
            raise Failed(f"{self.stdout_path}: not the JSON expected: {e} (exit code {self.code})") from None


class Environment:
    """An execution environment: ``Environment.open("auto")``."""

    def __init__(self, wit):
        self._wit = wit

    @classmethod
    def open(cls, backend="auto", environment=None):
        """Opens ``backend`` (``auto``, ``local``, ``unshare``, ...),
        optionally built from environment artifact ``environment``."""
        return cls(_call(_host.process.Environment.open, backend, environment))

    @property
    def backend(self):
        """The backend in use."""
        return self._wit.backend()

    def run(self, command):
        """Runs ``command`` to completion; returns its :class:`ExitStatus`."""
        return ExitStatus(_call(self._wit.run, command._wit()))

    def push(self, workspace_path, target):
        """Copies a workspace file into the environment."""
        _call(self._wit.push, workspace_path, target)

    def pull(self, source, workspace_path):
        """Copies a file out of the environment into the workspace."""
        _call(self._wit.pull, source, workspace_path)


# ---- artifacts ------------------------------------------------------------


class Artifact:
    """An artifact's metadata: ``id``, ``category``, ``data`` (decoded)
    and ``files`` (``(name, size, sha256)`` each)."""

    def __init__(self, wit):
        self.id = wit.id
        self.category = wit.category
        self.data = json.loads(wit.data or "{}")
        self.files = [(f.name, f.size, f.sha256) for f in wit.files]


def get(artifact_id):
    """Reads an input artifact (or one this run created)."""
    return Artifact(_call(_host.artifacts.get, artifact_id))


def fetch(artifact_id, target_dir):
    """Copies an artifact's files into a workspace directory; returns
    their workspace paths."""
    return list(_call(_host.artifacts.fetch, artifact_id, target_dir))


def inputs():
    """The run's input artifacts, as ``(key, Artifact)`` pairs, in the
    order of the manifest's ``[[inputs]]``."""
    return [(i.key, Artifact(i.artifact)) for i in _call(_host.artifacts.inputs)]


def lookup(query, category):
    """Resolves a debusine lookup (``debian/match:codename=bookworm``, or
    a bare artifact id) to the id of the newest matching artifact of
    ``category``, which becomes readable by the run; none is
    :class:`NotFound`."""
    return _call(_host.artifacts.lookup, query, category)


# ---- collections (API 0.2.1) ---------------------------------------------


class Collection:
    """A collection: ``id``, ``category``, ``name``, ``data`` (decoded)."""

    def __init__(self, wit):
        self.id = wit.id
        self.category = wit.category
        self.name = wit.name
        self.data = json.loads(wit.data or "{}")

    @property
    def label(self):
        """``NAME@CATEGORY``."""
        return f"{self.name}@{self.category}"


class Item:
    """An active item: ``id``, ``name``, ``category``, ``artifact`` (or
    None for bare data), ``data`` (decoded), ``created_at``."""

    def __init__(self, wit):
        self.id = wit.id
        self.name = wit.name
        self.category = wit.category
        self.artifact = wit.artifact
        self.data = json.loads(wit.data or "{}")
        self.created_at = wit.created_at


def collection(query):
    """Finds a collection (``bookworm@debian:suite``, ``12@collections``);
    the query must match a ``lookups`` pattern of the manifest the
    operator granted."""
    return Collection(_call(_host.collections.get, query))


def items(coll):
    """The active items of a :class:`Collection`; their artifacts become
    readable by the run."""
    return [Item(i) for i in _call(_host.collections.items, coll.id)]


def add_item(coll, name, artifact=None, data=None, category=None, replace=False):
    """Adds an item (an artifact the run can read, or bare data of
    ``category``) to a collection its ``collections`` grant names."""
    new = _host.collections.NewItem(name=name, artifact=artifact, category=category,
                                    data=json.dumps(data or {}), replace=replace)
    return Item(_call(_host.collections.add, coll.id, new))


def remove_item(coll, name):
    """Removes the active item ``name``; it stays in the history."""
    _call(_host.collections.remove, coll.id, name)


# ---- child runs (API 0.2.1) -----------------------------------------------


class Child:
    """A finished child run: ``run_id``, ``task``, ``status`` (``"success"``,
    ``"failure"``, ``"error"``, ``"skipped"``, ``"refused"``, ``"crashed"``),
    ``error`` and ``artifacts`` (ids, readable by the run)."""

    def __init__(self, wit):
        self.run_id = wit.run_id
        self.task = wit.task
        self.status = wit.status.name.lower()
        self.error = wit.error
        self.artifacts = list(wit.artifacts)


def submit(task, task_data, force=False):
    """Schedules a run of ``task`` (granted by the ``submit`` grant) with
    ``task_data`` (a dict) and returns ``(run_id, created)`` at once;
    ``created`` is False when an equal earlier run is reused."""
    s = _call(_host.runs.submit, task, json.dumps(task_data), force)
    return s.run_id, s.created


def wait(run_id):
    """Waits until a run :func:`submit` returned ends; a :class:`Child`."""
    return Child(_call(_host.runs.wait, run_id))


class NewArtifact:
    """An artifact to create: ``NewArtifact("x:report").file("r.json",
    path).relates_to(input_id).create()``."""

    def __init__(self, category, data=None):
        self.category = category
        self.data = data or {}
        self.files = []
        self.relations = []

    def file(self, name, path):
        """Adds workspace file ``path`` under ``name``."""
        self.files.append((name, path))
        return self

    def relates_to(self, target):
        """Once created, the artifact relates to ``target``."""
        self.relations.append(target)
        return self

    def create(self):
        """Stores the artifact, records its relations; returns its id."""
        a = _host.artifacts
        new = a.NewArtifact(
            category=self.category, data=json.dumps(self.data),
            files=[a.NewFile(name=n, path=p) for n, p in self.files],
        )
        artifact_id = _call(a.create, new)
        for target in self.relations:
            _call(a.relate, artifact_id, target, a.RelationType.RELATES_TO)
        return artifact_id


# ---- http -----------------------------------------------------------------


class Fetched:
    """A finished :func:`download`: ``size`` (bytes written), ``sha256``
    (hex, of the content) and ``url`` (where it came from, after redirects)."""

    def __init__(self, wit):
        self.size = wit.size
        self.sha256 = wit.sha256
        self.url = wit.url


def download(url, workspace_path, sha256=None):
    """Downloads ``url`` into the workspace file ``workspace_path``,
    streamed; returns a :class:`Fetched`. With ``sha256`` (hex) the content
    must match, or the call fails and no file is left behind. ``http``,
    ``https`` and ``file`` URLs are supported; the URL and every redirect
    must be granted (else :class:`AccessDenied`)."""
    return Fetched(_call(_host.http.download, url, workspace_path, sha256))


class Request:
    """A request to an API (koji's XML-RPC, bodhi's and ResultsDB's REST):
    ``method``, ``url``, ``headers`` (``(name, value)`` pairs) and ``body``
    (bytes). ``Request.get(url).header("accept", "application/json").send()``
    returns a :class:`Response`."""

    def __init__(self, method, url, headers=None, body=b""):
        self.method = method
        self.url = url
        self.headers = list(headers.items() if isinstance(headers, dict) else headers or [])
        self.body = body.encode() if isinstance(body, str) else bytes(body)

    @classmethod
    def get(cls, url, headers=None):
        """A ``GET`` of ``url``."""
        return cls("GET", url, headers)

    @classmethod
    def post(cls, url, content_type, body, headers=None):
        """A ``POST`` of ``body`` (bytes or text) with header ``content-type``."""
        return cls("POST", url, headers, body).header("content-type", content_type)

    @classmethod
    def post_json(cls, url, value, headers=None):
        """A ``POST`` of ``value`` as JSON (``content-type: application/json``);
        a value JSON cannot encode is :class:`Failed`."""
        try:
            body = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise Failed(f"encoding the JSON body: {e}") from None
        return cls.post(url, "application/json", body, headers)

    def header(self, name, value):
        """Adds header ``name: value``."""
        self.headers.append((name, str(value)))
        return self

    def send(self):
        """Sends the request through the host (see :func:`send`)."""
        return send(self)

    def _wit(self):
        return _host.http.HttpRequest(method=self.method, url=self.url,
                                      headers=list(self.headers), body=bytes(self.body))


class Response:
    """A whole response: ``status``, ``headers`` (``(name, value)``,
    names in lower case), ``body`` (bytes) and ``url`` (what answered,
    after redirects). A non-2xx status is a response, not an error: check
    :meth:`ok`."""

    def __init__(self, status, headers=(), body=b"", url=""):
        self.status = status
        self.headers = list(headers)
        self.body = bytes(body)
        self.url = url

    def ok(self):
        """A 2xx status."""
        return 200 <= self.status < 300

    def header(self, name):
        """The first header named ``name`` (case-insensitive), or None."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def text(self):
        """The body as text (invalid UTF-8 replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body decoded as JSON; one that does not decode is
        :class:`Failed`, naming the URL and the status."""
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise Failed(f"{self.url} answered {self.status} with a body that is not "
                         f"the expected JSON: {e}") from None


def send(request):
    """Sends ``request`` (a :class:`Request`) and reads the whole response
    (at most 64 MiB; use :func:`download` for files). The URL and every
    redirect must be granted (else :class:`AccessDenied`); 301, 302 and
    303 turn a ``POST`` into a ``GET``."""
    w = _call(_host.http.send, request._wit())
    return Response(w.status, w.headers, w.body, w.url)


# ---- results --------------------------------------------------------------


class Outcome(enum.IntEnum):
    """A check's outcome, best to worst."""

    PASSED = 0
    INFO = 1
    FAILED = 2
    NEEDS_INSPECTION = 3
    ABORTED = 4
    CRASHED = 5

    @property
    def ok(self):
        """PASSED and INFO: nothing for a person to look at."""
        return self <= Outcome.INFO


class CheckResult:
    """A result: ``CheckResult(item, type, Outcome.PASSED).with_note("...")``."""

    def __init__(self, item, item_type, outcome):
        self.item, self.item_type, self.outcome = item, item_type, Outcome(outcome)
        self.checkname = self.note = self.artifact = None
        self.keyvals = []

    @classmethod
    def for_artifact(cls, artifact, outcome):
        """A result about ``artifact``: item its ``filename`` (else its
        first file, else ``artifact ID``), type its category."""
        item = artifact.data.get("filename") or (artifact.files[0][0] if artifact.files else None)
        return cls(item or f"artifact {artifact.id}", artifact.category, outcome)

    def with_note(self, note):
        """A short summary, e.g. ``3 ERRORS``."""
        self.note = str(note)
        return self

    def with_artifact(self, artifact):
        """Where the details are (``artifact:ID`` or a workspace path)."""
        self.artifact = str(artifact)
        return self

    def keyval(self, key, value):
        """An extra key of the ResultYAML entry."""
        self.keyvals.append((key, str(value)))
        return self

    def emit(self):
        """Records the result with the host."""
        r = _host.results
        _call(r.emit, r.CheckResult(
            item=self.item, type=self.item_type, outcome=getattr(r.Outcome, self.outcome.name),
            checkname=self.checkname, note=self.note, artifact=self.artifact,
            keyvals=list(self.keyvals),
        ))


class Tally:
    """Emits results and keeps the worst outcome, for the task's status."""

    def __init__(self):
        self.worst = None
        self.count = 0

    def emit(self, result):
        """Emits ``result`` and counts its outcome."""
        result.emit()
        self.worst = result.outcome if self.worst is None else max(self.worst, result.outcome)
        self.count += 1

    def status(self):
        """``"success"`` when every outcome was PASSED or INFO, else ``"failure"``."""
        return "failure" if self.worst is not None and not self.worst.ok else "success"


# ---- severities -----------------------------------------------------------


class Severity(enum.IntEnum):
    """How bad a finding is, most severe first (``style`` reads as pedantic)."""

    ERROR = 0
    WARNING = 1
    INFO = 2
    PEDANTIC = 3
    EXPERIMENTAL = 4
    OVERRIDDEN = 5
    CLASSIFICATION = 6

    @classmethod
    def parse(cls, text):
        """A tool's level name: ``error``, ``warning``, ``note``, ``style``, ..."""
        aliases = {"note": "info", "style": "pedantic"}
        return cls[aliases.get(text.lower(), text.lower()).upper()]


class FailOn:
    """debusine's ``fail_on_severity``: the least severe finding that
    fails the task, or ``none`` (the default)."""

    CHOICES = ("error", "warning", "info", "pedantic", "experimental", "overridden", "none")

    def __init__(self, value="none"):
        if value not in self.CHOICES:
            raise Invalid(f"task_data: fail_on_severity: '{value}' is not one of {', '.join(self.CHOICES)}")
        self.limit = None if value == "none" else Severity[value.upper()]

    def fails(self, severity):
        """True when a finding of ``severity`` fails the task."""
        return self.limit is not None and severity != Severity.CLASSIFICATION and severity <= self.limit

    def outcome(self, found):
        """FAILED when any of ``found`` fails the task, else PASSED."""
        return Outcome.FAILED if any(self.fails(s) for s in found) else Outcome.PASSED


# ---- log ------------------------------------------------------------------


def log(message, level="info"):
    """Logs ``message`` at ``level`` (trace, debug, info, warn, error)."""
    _host.log.log(getattr(_host.log.Level, level.upper()), str(message))


# ---- the task -------------------------------------------------------------


class Task:
    """A task. Subclass it, set ``name``, ``summary``, ``keys`` (task_data
    key -> required?) and ``task_data_doc``, define ``execute(self, data)``
    returning ``"success"``, ``"failure"``, ``"error"`` or ``"skipped"``,
    and optionally ``validate(self, data)``."""

    name = ""
    summary = ""
    task_data_doc = ""
    keys = {}

    def validate(self, data):
        """Extra checks of the task_data; raise :class:`Invalid`."""

    def execute(self, data):
        """Runs the task."""
        raise NotImplementedError


def decode(task, task_data):
    """task_data decoded and checked against ``task.keys`` (unknown and
    missing keys are :class:`Invalid`, naming the key)."""
    try:
        data = json.loads(task_data)
    except json.JSONDecodeError as e:
        raise Invalid(f"task_data: {e}") from None
    if not isinstance(data, dict):
        raise Invalid("task_data: expected a mapping of keys to values")
    for key in data:
        if key not in task.keys:
            raise Invalid(f"task_data: unknown key '{key}' (extra fields not permitted)")
    for key, required in task.keys.items():
        if required and key not in data:
            raise Invalid(f"task_data: missing field `{key}`")
    task.validate(data)
    return data


def export(cls):
    """The class componentize-py exports: ``Task = taskhost.export(MyTask)``.
    Natively (unit tests, ``taskhost.testing``) there is nothing to export
    and ``cls`` is returned as it is."""
    try:
        from wit_world import exports
        from wit_world.exports import task as wit
    except ImportError:
        return cls

    def err(e):
        t = _host.types
        kinds = {AccessDenied: t.Error_AccessDenied, Invalid: t.Error_Invalid,
                 NotFound: t.Error_NotFound, TimedOut: None}
        kind = kinds.get(type(e), t.Error_Failed)
        return _host.Err(t.Error_TimedOut() if kind is None else kind(str(e)))

    def guarded(f):
        try:
            return f()
        except Error as e:
            raise err(e) from None
        except Exception as e:  # a bug in the plugin: its traceback, as a failure
            import traceback
            raise _host.Err(_host.types.Error_Failed(
                f"{type(e).__name__}: {e}\n{traceback.format_exc()}")) from None

    class Export(exports.Task):
        def describe(self):
            return wit.TaskInfo(name=cls.name, summary=cls.summary, task_data_doc=cls.task_data_doc)

        def validate(self, task_data):
            guarded(lambda: decode(cls(), task_data))

        def execute(self, task_data):
            def run():
                task = cls()
                status = task.execute(decode(task, task_data))
                return getattr(wit.Status, str(status).upper())
            return guarded(run)

    return Export
