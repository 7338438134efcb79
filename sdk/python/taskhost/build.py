"""Builds a Python plugin into a taskhost component:

    python3 -m taskhost.build DIR [--module app] [-o OUT.wasm]

DIR holds the plugin's module (``app.py`` by default, which sets
``Task = taskhost.export(...)``) and its ``taskhost.toml``. componentize-py
(``pip install componentize-py``) makes the component from the WIT this
SDK speaks; the manifest and the API version are then added as the
custom sections runtask reads.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from . import API_VERSION

HERE = Path(__file__).resolve().parent


def _leb128(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def custom_section(name, payload):
    """A WebAssembly custom section."""
    body = _leb128(len(name.encode())) + name.encode() + payload
    return b"\x00" + _leb128(len(body)) + body


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m taskhost.build", description=__doc__.split("\n\n")[0])
    p.add_argument("dir", type=Path, help="the plugin's directory (its module and taskhost.toml)")
    p.add_argument("--module", default="app", help="the module that exports Task (default: app)")
    p.add_argument("-o", "--output", type=Path, help="the .wasm to write (default: DIR/NAME.wasm)")
    p.add_argument("--componentize-py", default=shutil.which("componentize-py") or "componentize-py")
    args = p.parse_args(argv)

    manifest = (args.dir / "taskhost.toml").read_bytes()
    name = tomllib.loads(manifest.decode())["name"]
    output = args.output or args.dir / f"{name}.wasm"
    with tempfile.TemporaryDirectory() as tmp:
        component = Path(tmp) / "component.wasm"
        world = "task-plugin"
        cmd = [args.componentize_py, "-d", str(HERE / "wit"), "-w", world, "componentize", args.module,
               "-p", str(args.dir), "-p", str(HERE.parent), "-o", str(component)]
        done = subprocess.run(cmd, check=False)
        if done.returncode != 0:
            sys.exit(f"taskhost.build: componentize-py failed (exit {done.returncode})")
        wasm = component.read_bytes()
    wasm += custom_section("taskhost:manifest", manifest)
    wasm += custom_section("taskhost:api", API_VERSION.encode())
    tmp_out = output.with_suffix(".wasm.tmp")
    tmp_out.write_bytes(wasm)
    os.replace(tmp_out, output)
    print(f"wrote {output} ({len(wasm) >> 20} MiB), plugin {name}, taskhost API {API_VERSION}")


if __name__ == "__main__":
    main()
