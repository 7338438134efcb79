#!/usr/bin/env python3
"""Checks a tmt custom results file as tmt reads it.

Usage: check_results.py FILE [DATA_DIR]

The file is loaded with tmt's own YAML loader, validated with jsonschema
against the results schema of the installed tmt (tmt/schemas/results.yaml,
with the schemas it refers to, such as common.yaml), and each entry is
turned into a tmt Result. Log paths must be relative (tmt's spec), and with
DATA_DIR (the test's $TMT_TEST_DATA) they must exist there. Exits 0 when the
file is valid, 1 with the reasons on stderr.
"""

import pathlib
import sys

import jsonschema
import referencing
import referencing.jsonschema
import tmt
import tmt.result
import tmt.utils


def registry():
    """Every schema tmt ships, by its $id (they refer to each other)."""
    schemas = pathlib.Path(tmt.__file__).parent / "schemas"
    resources = []
    for path in schemas.rglob("*.yaml"):
        schema = tmt.utils.yaml_to_dict(path.read_text())
        resources.append((schema["$id"], referencing.jsonschema.DRAFT7.create_resource(schema)))
    return referencing.Registry().with_resources(resources)


def problems(data, data_dir):
    found = []
    reg = registry()
    schema = reg.contents("/schemas/results")
    validator = jsonschema.Draft7Validator(schema, registry=reg)
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        found.append(f"schema: {where}: {error.message}")
    if found:
        return found
    for index, raw in enumerate(data):
        try:
            tmt.result.Result.from_serialized(raw)
        except Exception as error:  # noqa: BLE001 - any failure is a finding
            found.append(f"{index}: tmt cannot read it: {error!r}")
        for log in raw.get("log", []):
            path = pathlib.PurePosixPath(log)
            if path.is_absolute() or ".." in path.parts:
                found.append(f"{index}: log {log!r} is not relative to $TMT_TEST_DATA")
            elif data_dir is not None and not (data_dir / path).is_file():
                found.append(f"{index}: log {log!r} is not a file in {data_dir}")
    return found


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    data = tmt.utils.yaml_to_list(pathlib.Path(argv[1]).read_text())
    data_dir = pathlib.Path(argv[2]) if len(argv) == 3 else None
    found = problems(data, data_dir)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        return 1
    print(f"tmt {tmt.__version__}: {len(data)} results valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
