"""A fake host for native unit tests of a Python plugin (plain CPython,
no component): give it task_data, input artifacts and a reply per
command line; ``execute`` runs the task in a fresh workspace (the current
directory meanwhile) and returns what it did.

    run = FakeHost({"scripts": [1]}).input(1, "x:script", files={"a.sh": b"echo"}) \\
        .reply("shellcheck **", stdout='{"comments": []}').execute(ShellCheck)
    assert run.status == "success" and run.commands[0][0] == "shellcheck"

Downloads and API requests are answered by URL, lookups by query and
category:

    run = FakeHost().url("https://example.org/x.tar", b"tarball") \\
        .url("https://ci.example.org/api", b'{"id": 7}', status=201) \\
        .lookup("debian/match:codename=bookworm", "debian:system-tarball", 12) \\
        .execute(MyTask)
    assert run.urls == ["https://example.org/x.tar"] and run.requests[0][0] == "POST"

Collections and child runs (API 0.2.1) are given with ``collection`` and
answered with ``child``; ``run.collections`` and ``run.submitted`` show
what the run changed and started:

    run = FakeHost().collection(3, "debian:suite", "bookworm", items) \\
        .child("lintian", lambda data: ("success", [("debian:lintian", {})])) \\
        .execute(MyUpdate)

A command line or a URL with no answer raises ``AssertionError`` naming
it; a lookup with none is :class:`taskhost.NotFound`, as on a host that
finds nothing. ``deny_exec``, ``deny_backend``, ``deny_create`` and
``deny_url`` simulate a policy without the grant (``run.denied``).
"""

import enum
import hashlib
import json
import os
import tempfile
import types as _types
from pathlib import Path

import taskhost
from taskhost import _host


def _matches(pattern, argv):
    tokens = pattern.split()
    rest = tokens[-1:] == ["**"]
    fixed = tokens[:-1] if rest else tokens
    if len(argv) < len(fixed) or (not rest and len(argv) != len(fixed)):
        return False
    return all(p in ("*", a) for p, a in zip(fixed, argv))


def _err(kind, message):  # a host error, as componentize-py raises it
    return _host.Err(_Record(value=message, kind=f"Error_{kind}"))


class _Record:  # the WIT records, as the generated bindings shape them
    def __init__(self, **fields):
        self.__dict__.update(fields)


class _Level(enum.Enum):
    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


class _RunStatus(enum.Enum):
    SUCCESS = 0
    FAILURE = 1
    ERROR = 2
    SKIPPED = 3
    REFUSED = 4
    CRASHED = 5


class _Relation(enum.Enum):
    RELATES_TO = 0
    EXTENDS = 1
    BUILT_USING = 2


class Run:
    """What a fake run did."""

    def __init__(self):
        self.status = None      # what execute returned, or the Error it raised
        self.commands = []      # argv of each command run
        self.backends = []      # backends opened
        self.denied = []        # each denied call
        self.artifacts = []     # created: dicts with id, category, data, files {name: bytes}
        self.relations = []     # (source, target)
        self.results = []       # emitted CheckResult records
        self.log = []           # (level, message)
        self.urls = []          # each URL downloaded, in order
        self.requests = []      # (method, url, body) of each request sent
        self.collections = {}   # label -> active items (dicts) after the run's changes
        self.submitted = []     # (task, task_data, force) of each child run


class FakeHost:
    """task_data, inputs and replies in; a :class:`Run` out."""

    def __init__(self, task_data=None):
        self.task_data = task_data or {}
        self.inputs = {}
        self.replies = []
        self.denies = []
        self.answers = {}
        self.lookups = {}
        self.colls = []
        self.children = {}

    def collection(self, cid, category, name, items=()):
        """A collection the run may get (``NAME@CATEGORY`` or ``CID@collections``)
        with its active items: dicts with ``id``, ``name``, ``category``,
        ``artifact`` and ``data``; their artifacts become readable once listed."""
        self.colls.append(dict(id=cid, category=category, name=name,
                               items=[dict(i) for i in items]))
        return self

    def child(self, task, answer):
        """Answers child runs of ``task``: ``answer(task_data)`` returns
        ``(status, [(category, data), ...])`` -- the artifacts it created."""
        self.children[task] = answer
        return self

    def input(self, artifact_id, category, data=None, files=None, key="input"):
        """An input artifact; ``files`` maps names to bytes."""
        self.inputs[artifact_id] = dict(id=artifact_id, category=category, data=data or {},
                                        files=dict(files or {}), key=key)
        return self

    def reply(self, pattern, code=0, stdout="", stderr="", signal=None):
        """Replies to command lines matching ``pattern`` (``*`` one
        argument, a trailing ``**`` the rest)."""
        self.replies.append((pattern, dict(code=code, stdout=stdout, stderr=stderr, signal=signal)))
        return self

    def url(self, url, body=b"", status=200, headers=None):
        """Answers requests and downloads of exactly ``url`` with ``body``
        (bytes or text), ``status`` and ``headers`` (a dict or pairs). A
        download of a non-2xx answer fails, as on the host."""
        self.answers[url] = dict(status=status, body=body.encode() if isinstance(body, str) else bytes(body),
                                 headers=list(headers.items() if isinstance(headers, dict) else headers or []))
        return self

    def lookup(self, query, category, artifact_id):
        """Resolves lookup ``query`` of ``category`` to ``artifact_id`` (give
        it with :meth:`input` too to read it); other lookups are NotFound."""
        self.lookups[(query, category)] = artifact_id
        return self

    def deny_exec(self, pattern):
        """Denies command lines matching ``pattern`` (as in :meth:`reply`)."""
        self.denies.append(("exec", pattern))
        return self

    def deny_backend(self, name):
        """Denies opening backend ``name``."""
        self.denies.append(("backend", name))
        return self

    def deny_create(self, category):
        """Denies creating artifacts of ``category``."""
        self.denies.append(("create", category))
        return self

    def deny_url(self, prefix):
        """Denies downloads and requests of URLs starting with ``prefix``."""
        self.denies.append(("url", prefix))
        return self

    def execute(self, task_class):
        """Decodes the task_data and runs ``task_class`` as the host would."""
        run = Run()
        names = ("artifacts", "collections", "http", "log", "process", "results", "runs", "types")
        saved = {n: getattr(_host, n) for n in names}
        cwd = os.getcwd()
        with tempfile.TemporaryDirectory() as workspace:
            os.chdir(workspace)
            self._install(run)
            try:
                task = task_class()
                run.status = task.execute(taskhost.decode(task, json.dumps(self.task_data)))
            except taskhost.Error as e:
                run.status = e
            finally:
                os.chdir(cwd)
                for n, v in saved.items():
                    setattr(_host, n, v)
        run.collections = {f"{c['name']}@{c['category']}": c["items"] for c in self.colls}
        return run

    def _deny(self, run, kind, what, subject):
        def match(v):
            if kind == "exec":
                return _matches(v, subject)
            return subject.startswith(v) if kind == "url" else v == subject

        for k, v in self.denies:
            if k == kind and match(v):
                self._refuse(run, what)

    def _refuse(self, run, what):
        run.denied.append(what)
        raise _err("AccessDenied", f"plugin may not {what}: denied (simulated by FakeHost)")

    def _answer(self, url):
        answer = self.answers.get(url)
        assert answer is not None, f"FakeHost: unexpected request to {url}: give it an answer with .url()"
        return answer

    def _install(self, run):
        host = self
        count = [0]

        class Environment:
            def __init__(self, name):
                self.name = name

            @classmethod
            def open(cls, backend, environment):
                name = "local" if backend == "auto" else backend
                host._deny(run, "backend", f"use backend `{name}`", name)
                run.backends.append(name)
                return cls(name)

            def backend(self):
                return self.name

            def run(self, command):
                argv = list(command.argv)
                host._deny(run, "exec", f"run `{' '.join(argv)}`", argv)
                reply = next((r for p, r in host.replies if _matches(p, argv)), None)
                assert reply is not None, f"FakeHost: unexpected command `{' '.join(argv)}`: give it a reply"
                run.commands.append(argv)
                count[0] += 1
                out = command.stdout or f".taskhost/{count[0]}.stdout"
                err = command.stderr or f".taskhost/{count[0]}.stderr"
                for path, text in ((out, reply["stdout"]), (err, reply["stderr"])):
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                    Path(path).write_bytes(text.encode() if isinstance(text, str) else text)
                return _Record(code=None if reply["signal"] else reply["code"], signal=reply["signal"],
                               timed_out=False, stdout=out, stderr=err, truncated=False, duration_ms=1)

        readable = {}  # artifacts of listed items and of children

        def artifact(aid):
            a = (host.inputs.get(aid) or next((c for c in run.artifacts if c["id"] == aid), None)
                 or readable.get(aid))
            if a is None:
                raise _err("AccessDenied", f"artifact {aid} is not an input of this run")
            return a

        def wit_artifact(a):
            files = [_Record(name=n, size=len(b), sha256=hashlib.sha256(b).hexdigest())
                     for n, b in a["files"].items()]
            return _Record(id=a["id"], category=a["category"], data=json.dumps(a["data"]), files=files)

        def fetch(aid, target_dir):
            paths = []
            for name, content in artifact(aid)["files"].items():
                path = Path(target_dir) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
                paths.append(str(path))
            return paths

        def create(new):
            host._deny(run, "create", f"create an artifact of category {new.category}", new.category)
            aid = 1000 + len(run.artifacts)
            run.artifacts.append(dict(id=aid, category=new.category, data=json.loads(new.data),
                                      files={f.name: Path(f.path).read_bytes() for f in new.files}))
            return aid

        def relate(source, target, relation):
            artifact(target)
            run.relations.append((source, target))

        def lookup(query, category):
            if (query, category) not in host.lookups:
                raise _err("NotFound", f"no artifact matches `{query}`")
            return host.lookups[(query, category)]

        def download(url, workspace_path, sha256):
            host._deny(run, "url", f"fetch {url}", url)
            path = Path(workspace_path)
            if path.is_absolute() or ".." in path.parts:
                host._refuse(run, f"use path '{workspace_path}' outside the workspace")
            answer = host._answer(url)
            run.urls.append(url)
            if not 200 <= answer["status"] < 300:
                raise _err("Failed", f"{url}: HTTP {answer['status']}")
            got = hashlib.sha256(answer["body"]).hexdigest()
            if sha256 is not None and sha256.lower() != got:  # the host leaves no file behind
                raise _err("Invalid", f"{url}: sha256 mismatch: expected {sha256}, got {got}")  # as the host
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(answer["body"])
            return _Record(size=len(answer["body"]), sha256=got, url=url)

        def send(request):
            host._deny(run, "url", f"fetch {request.url}", request.url)
            answer = host._answer(request.url)
            run.requests.append((request.method, request.url, bytes(request.body)))
            return _Record(status=answer["status"], body=answer["body"], url=request.url,
                           headers=[(n.lower(), v) for n, v in answer["headers"]])

        found = set()
        children = {}

        def coll(cid):
            c = next((c for c in host.colls if c["id"] == cid), None)
            if c is None or cid not in found:
                host._refuse(run, f"use collection {cid}@collections: not got with collection()")
            return c

        def wit_item(i):
            return _Record(id=i["id"], name=i["name"], category=i.get("category", ""),
                           artifact=i.get("artifact"), data=json.dumps(i.get("data", {})),
                           created_at=i.get("created_at", ""))

        def get(query):
            c = next((c for c in host.colls if query in (f"{c['name']}@{c['category']}",
                                                         f"{c['id']}@collections")), None)
            if c is None:
                raise _err("Invalid", f"no collection {query} (give it with FakeHost.collection)")
            found.add(c["id"])
            return _Record(id=c["id"], category=c["category"], name=c["name"], data="{}")

        def list_items(cid):
            listed = coll(cid)["items"]
            for i in listed:
                if i.get("artifact") is not None:
                    readable.setdefault(i["artifact"], dict(id=i["artifact"], category=i.get("category", ""),
                                                            data={}, files={}, key=""))
            return [wit_item(i) for i in listed]

        def add(cid, new):
            c = coll(cid)
            if new.artifact is not None:
                artifact(new.artifact)
            same = [i for i in c["items"] if i["name"] == new.name]
            if same and not new.replace:
                raise _err("Invalid", f"the collection already has an active item {new.name!r}")
            c["items"] = [i for i in c["items"] if i["name"] != new.name]
            item = dict(id=2000 + sum(len(x["items"]) for x in host.colls) + len(run.submitted),
                        name=new.name, category=new.category or "", artifact=new.artifact,
                        data=json.loads(new.data))
            c["items"].append(item)
            return wit_item(item)

        def remove(cid, name):
            c = coll(cid)
            if not any(i["name"] == name for i in c["items"]):
                raise _err("Invalid", f"the collection has no active item {name!r}")
            c["items"] = [i for i in c["items"] if i["name"] != name]

        def submit(task, task_data, force):
            data = json.loads(task_data)
            if task not in host.children:
                host._refuse(run, f"submit task `{task}` (answer it with FakeHost.child)")
            status, made = host.children[task](data)
            ids = []
            for category, adata in made:
                aid = 3000 + sum(len(c.artifacts) for c in children.values()) + len(ids)
                readable[aid] = dict(id=aid, category=category, data=adata, files={}, key="")
                ids.append(aid)
            run.submitted.append((task, data, force))
            run_id = f"child-{len(run.submitted)}"
            children[run_id] = _Record(run_id=run_id, task=task, status=getattr(_RunStatus, status.upper()),
                                       error=None, artifacts=ids)
            return _Record(run_id=run_id, created=True)

        def wait(run_id):
            if run_id not in children:
                raise _err("NotFound", f"run {run_id} was not submitted by this run")
            return children[run_id]

        _host.collections = _types.SimpleNamespace(get=get, items=list_items, add=add, remove=remove,
                                                   NewItem=_Record)
        _host.runs = _types.SimpleNamespace(submit=submit, wait=wait, RunStatus=_RunStatus)
        _host.process = _types.SimpleNamespace(Environment=Environment, Command=_Record)
        _host.artifacts = _types.SimpleNamespace(
            get=lambda aid: wit_artifact(artifact(aid)), fetch=fetch, create=create, relate=relate,
            inputs=lambda: [_Record(key=a["key"], artifact=wit_artifact(a)) for a in host.inputs.values()],
            lookup=lookup,
            NewArtifact=_Record, NewFile=_Record, RelationType=_Relation,
        )
        _host.http = _types.SimpleNamespace(download=download, send=send, HttpRequest=_Record)
        _host.results = _types.SimpleNamespace(emit=run.results.append, CheckResult=_Record,
                                               Outcome=taskhost.Outcome)
        _host.log = _types.SimpleNamespace(log=lambda level, m: run.log.append((level.name.lower(), m)),
                                           Level=_Level)
