"""A fake host for native unit tests of a Python plugin (plain CPython,
no component): give it task_data, input artifacts and a reply per
command line; ``execute`` runs the task in a fresh workspace (the current
directory meanwhile) and returns what it did.

    run = FakeHost({"scripts": [1]}).input(1, "x:script", files={"a.sh": b"echo"}) \\
        .reply("shellcheck **", stdout='{"comments": []}').execute(ShellCheck)
    assert run.status == "success" and run.commands[0][0] == "shellcheck"

A command line with no reply raises ``AssertionError`` naming it;
``deny_exec``, ``deny_backend`` and ``deny_create`` simulate a policy
without the grant.
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


class _Record:  # the WIT records, as the generated bindings shape them
    def __init__(self, **fields):
        self.__dict__.update(fields)


class _Level(enum.Enum):
    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


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


class FakeHost:
    """task_data, inputs and replies in; a :class:`Run` out."""

    def __init__(self, task_data=None):
        self.task_data = task_data or {}
        self.inputs = {}
        self.replies = []
        self.denies = []

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

    def deny_exec(self, pattern):
        self.denies.append(("exec", pattern))
        return self

    def deny_backend(self, name):
        self.denies.append(("backend", name))
        return self

    def deny_create(self, category):
        self.denies.append(("create", category))
        return self

    def execute(self, task_class):
        """Decodes the task_data and runs ``task_class`` as the host would."""
        run = Run()
        saved = {n: getattr(_host, n) for n in ("artifacts", "log", "process", "results", "types")}
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
        return run

    def _deny(self, run, kind, what, subject):
        for k, v in self.denies:
            if k == kind and (_matches(v, subject) if kind == "exec" else v == subject):
                run.denied.append(what)
                raise _host.Err(_Record(value=f"plugin may not {what}: denied (simulated by FakeHost)",
                                        kind="Error_AccessDenied"))

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

        def artifact(aid):
            a = host.inputs.get(aid) or next((c for c in run.artifacts if c["id"] == aid), None)
            if a is None:
                raise _host.Err(_Record(value=f"artifact {aid} is not an input of this run",
                                        kind="Error_AccessDenied"))
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

        _host.process = _types.SimpleNamespace(Environment=Environment, Command=_Record)
        _host.artifacts = _types.SimpleNamespace(
            get=lambda aid: wit_artifact(artifact(aid)), fetch=fetch, create=create, relate=relate,
            inputs=lambda: [_Record(key=a["key"], artifact=wit_artifact(a)) for a in host.inputs.values()],
            lookup=lambda q, c: (_ for _ in ()).throw(_host.Err(_Record(value=f"no artifact matches `{q}`",
                                                                        kind="Error_NotFound"))),
            NewArtifact=_Record, NewFile=_Record, RelationType=_Relation,
        )
        _host.results = _types.SimpleNamespace(emit=run.results.append, CheckResult=_Record,
                                               Outcome=taskhost.Outcome)
        _host.log = _types.SimpleNamespace(log=lambda level, m: run.log.append((level.name.lower(), m)),
                                           Level=_Level)
