"""The host's imports: the real ones inside a component, or the fake
host's (``taskhost.testing``) in a native test."""

try:  # inside a component built by componentize-py
    from componentize_py_types import Err
    from wit_world.imports import (artifacts, collections, http, log, process, results,
                                   runs, types)
except ImportError:  # natively: taskhost.testing.FakeHost installs itself
    artifacts = collections = http = log = process = results = runs = types = None

    class Err(Exception):
        """A host call's error (what componentize-py raises)."""

        def __init__(self, value):
            super().__init__(value)
            self.value = value
