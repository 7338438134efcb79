"""taskhost's python directive runner.

    python3 .taskhost/python/runner.py FILE CALLABLE

Imports FILE (a path relative to the working directory), calls CALLABLE
(a function, or `object.method`) with the keyword arguments in
kwargs.json beside this file, and writes return.json there:
{"value": what it returned} or {"error": why, "traceback": text}.
Exits 0 when the call returned, 1 when it raised.
"""

import importlib.util
import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def write(answer):
    with open(os.path.join(HERE, "return.json"), "w", encoding="utf-8") as f:
        json.dump(answer, f)


def load(path):
    """Imports the task's file as a module named after it."""
    name = os.path.splitext(os.path.basename(path))[0] or "task"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("%s cannot be imported as Python" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def task_traceback(e):
    """The traceback of `e`, from the first frame outside this runner
    and importlib."""
    tb = e.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name != __file__ and not name.startswith("<frozen "):
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(e), e, tb))


def main(argv):
    if len(argv) != 3:
        write({"error": "usage: runner.py FILE CALLABLE"})
        return 2
    path, name = argv[1], argv[2]
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)
    with open(os.path.join(HERE, "kwargs.json"), encoding="utf-8") as f:
        kwargs = json.load(f)
    # libtaskotron and checkb come from here, also for the task's own
    # Python subprocesses; the task's directory comes next.
    inherited = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = HERE + (os.pathsep + inherited if inherited else "")
    sys.path.insert(1, os.path.dirname(os.path.abspath(path)))

    stage = "importing %s" % path
    try:
        target = load(path)
        for part in name.split("."):
            if not hasattr(target, part):
                write({"error": "%s has no callable `%s` (no `%s`)" % (path, name, part)})
                return 1
            target = getattr(target, part)
        if not callable(target):
            write({"error": "`%s` in %s is not callable (type %s)" % (name, path, type(target).__name__)})
            return 1
        stage = "%s() in %s" % (name, path)
        value = target(**kwargs)
    except BaseException as e:  # noqa: B036 -- SystemExit too: report, do not vanish
        write(
            {
                "error": "%s raised %s" % (stage, type(e).__name__),
                "traceback": task_traceback(e),
            }
        )
        return 1
    try:
        text = json.dumps({"value": value}, allow_nan=False)
    except (TypeError, ValueError) as e:
        write(
            {
                "error": "%s returned a %s, which export: cannot hold (%s); return text "
                "(e.g. check.export_YAML(details)), numbers, lists or dicts"
                % (stage, type(value).__name__, e)
            }
        )
        return 1
    with open(os.path.join(HERE, "return.json"), "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
