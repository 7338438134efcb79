"""The SDK's http and lookup helpers against taskhost.testing's FakeHost,
and the FakeHost itself (plain CPython, no component):

    cd sdk/python && python3 -m unittest discover -s tests -v
"""

import hashlib
import json
import os
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import taskhost  # noqa: E402
from taskhost import _host  # noqa: E402
from taskhost.testing import FakeHost  # noqa: E402

TARBALL = b"not really a tarball\n"
TARBALL_URL = "https://deb.debian.org/debian/pool/main/h/hello/hello_2.10.orig.tar.gz"
RESULTS_URL = "https://resultsdb.example.org/api/v2.0/results"
LOOKUP = "debian/match:codename=bookworm"


def task(body):
    """A Task whose execute is ``body(data)``."""
    return type("T", (taskhost.Task,), {"name": "t", "execute": lambda self, data: body(data)})


class Publish(taskhost.Task):
    """Looks up a tarball artifact, downloads a file checked against its
    sha256, and posts a result as JSON."""

    name = "publish"
    keys = {"url": True, "sha256": False}

    def execute(self, data):
        tarball = taskhost.get(taskhost.lookup(LOOKUP, "debian:system-tarball"))
        fetched = taskhost.download(data["url"], "in/hello.tar.gz", data.get("sha256"))
        with open("in/hello.tar.gz", "rb") as f:
            content = f.read()
        taskhost.log(f"{fetched.size} bytes, sha256 {fetched.sha256}, from {fetched.url}: {content!r}")
        result = {"outcome": "PASSED", "item": tarball.data["codename"]}
        response = taskhost.Request.post_json(RESULTS_URL, result).header("authorization", "token x").send()
        if not response.ok():
            raise taskhost.Failed(f"ResultsDB answered {response.status}")
        taskhost.log(f"result {response.json()['id']}, {response.header('Content-Type')}")
        return "success"


def publish_host(**data):
    return (FakeHost({"url": TARBALL_URL, **data})
            .input(12, "debian:system-tarball", data={"codename": "bookworm"})
            .lookup(LOOKUP, "debian:system-tarball", 12)
            .url(TARBALL_URL, TARBALL)
            .url(RESULTS_URL, '{"id": 7}', status=201, headers={"Content-Type": "application/json"}))


class HttpAndLookupTest(unittest.TestCase):
    def test_lookup_download_and_post_json_succeed(self):
        run = publish_host(sha256=hashlib.sha256(TARBALL).hexdigest().upper()).execute(Publish)
        self.assertEqual(run.status, "success")
        self.assertEqual(run.urls, [TARBALL_URL])
        self.assertEqual(run.requests, [("POST", RESULTS_URL, b'{"outcome": "PASSED", "item": "bookworm"}')])
        self.assertEqual(run.log, [
            ("info", f"{len(TARBALL)} bytes, sha256 {hashlib.sha256(TARBALL).hexdigest()}, "
                     f"from {TARBALL_URL}: {TARBALL!r}"),
            ("info", "result 7, application/json"),
        ])
        self.assertEqual(run.denied, [])

    def test_the_request_carries_its_headers(self):
        seen = []

        def body(data):
            real_send = _host.http.send
            _host.http.send = lambda request: seen.append(request) or real_send(request)
            taskhost.Request.post_json(RESULTS_URL, [1], headers={"accept": "application/json"}).send()
            return "success"

        run = FakeHost().url(RESULTS_URL, "{}").execute(task(body))
        self.assertEqual(run.status, "success")
        self.assertEqual((seen[0].method, seen[0].url, seen[0].body), ("POST", RESULTS_URL, b"[1]"))
        self.assertEqual(seen[0].headers, [("accept", "application/json"), ("content-type", "application/json")])

    def test_a_denied_url_is_access_denied_and_recorded(self):
        run = publish_host().deny_url("https://deb.debian.org/").execute(Publish)
        self.assertIsInstance(run.status, taskhost.AccessDenied)
        self.assertIn(TARBALL_URL, str(run.status))
        self.assertEqual(run.denied, [f"fetch {TARBALL_URL}"])
        self.assertEqual((run.urls, run.requests), ([], []))

    def test_a_denied_request_is_access_denied_and_not_sent(self):
        run = publish_host().deny_url("https://resultsdb.example.org/api/").execute(Publish)
        self.assertIsInstance(run.status, taskhost.AccessDenied)
        self.assertEqual(run.denied, [f"fetch {RESULTS_URL}"])
        self.assertEqual((run.urls, run.requests), ([TARBALL_URL], []))

    def test_a_sha256_mismatch_fails_and_leaves_no_file(self):
        left = []

        def body(data):
            try:
                taskhost.download(TARBALL_URL, "hello.tar.gz", "0" * 64)
            finally:
                left.append(os.path.exists("hello.tar.gz"))

        run = FakeHost().url(TARBALL_URL, TARBALL).execute(task(body))
        self.assertIsInstance(run.status, taskhost.Invalid)
        self.assertIn(f"{TARBALL_URL}: sha256 mismatch: expected {'0' * 64}", str(run.status))
        self.assertEqual(left, [False])

    def test_a_download_answered_with_an_error_status_fails(self):
        run = FakeHost().url(TARBALL_URL, "gone", status=404).execute(
            task(lambda d: taskhost.download(TARBALL_URL, "x")))
        self.assertIsInstance(run.status, taskhost.Failed)
        self.assertEqual(str(run.status), f"{TARBALL_URL}: HTTP 404")

    def test_a_request_answered_with_an_error_status_is_a_response(self):
        got = []
        run = FakeHost().url(RESULTS_URL, "nope", status=404, headers=[("ETag", '"1"')]).execute(
            task(lambda d: got.append(taskhost.Request.get(RESULTS_URL).send()) or "success"))
        self.assertEqual(run.status, "success")
        self.assertEqual((got[0].status, got[0].ok(), got[0].text(), got[0].url), (404, False, "nope", RESULTS_URL))
        self.assertEqual(got[0].headers, [("etag", '"1"')])  # names in lower case, as the host gives them
        self.assertEqual(run.requests, [("GET", RESULTS_URL, b"")])

    def test_a_download_outside_the_workspace_is_denied(self):
        run = FakeHost().url(TARBALL_URL, TARBALL).execute(
            task(lambda d: taskhost.download(TARBALL_URL, "../escape")))
        self.assertIsInstance(run.status, taskhost.AccessDenied)
        self.assertEqual(run.denied, ["use path '../escape' outside the workspace"])
        self.assertEqual(run.urls, [])

    def test_an_unknown_url_is_an_assertion_naming_it(self):
        for call in (lambda d: taskhost.download("https://example.org/other", "x"),
                     lambda d: taskhost.Request.get("https://example.org/other").send()):
            with self.assertRaisesRegex(AssertionError, "unexpected request to https://example.org/other"):
                FakeHost().url("https://example.org/", b"").execute(task(call))
            self.assertIsNone(_host.http)  # the host is restored all the same

    def test_lookups_resolve_by_query_and_category(self):
        ids = []
        run = (FakeHost().lookup(LOOKUP, "debian:environment", 3).lookup(LOOKUP, "debian:system-tarball", 4)
               .execute(task(lambda d: ids.extend(taskhost.lookup(LOOKUP, c) for c in
                                                  ("debian:system-tarball", "debian:environment")))))
        self.assertEqual((run.status, ids), (None, [4, 3]))

    def test_an_unknown_lookup_is_not_found(self):
        for query, category in ((LOOKUP, "debian:environment"), ("debian/match:codename=sid", "debian:system-tarball")):
            run = FakeHost().lookup(LOOKUP, "debian:system-tarball", 12).execute(
                task(lambda d: taskhost.lookup(query, category)))
            self.assertIsInstance(run.status, taskhost.NotFound)
            self.assertEqual(str(run.status), f"no artifact matches `{query}`")


class RequestResponseTest(unittest.TestCase):
    def test_request_builders(self):
        r = taskhost.Request.post("https://x.org/", "text/xml", "<call/>", headers=[("a", "1")])
        self.assertEqual((r.method, r.body, r.headers), ("POST", b"<call/>", [("a", "1"), ("content-type", "text/xml")]))
        r = taskhost.Request.get("https://x.org/", {"a": "1"}).header("accept", "application/json")
        self.assertEqual((r.method, r.body, r.headers), ("GET", b"", [("a", "1"), ("accept", "application/json")]))
        r = taskhost.Request.post_json("https://x.org/", {"a": [1, None]})
        self.assertEqual(json.loads(r.body), {"a": [1, None]})

    def test_post_json_of_a_value_json_cannot_encode_fails(self):
        for value in ({"when": object()}, float("nan")):
            with self.assertRaisesRegex(taskhost.Failed, "encoding the JSON body"):
                taskhost.Request.post_json("https://x.org/", value)

    def test_response_helpers(self):
        r = taskhost.Response(200, [("content-type", "text/plain")], b"caf\xc3\xa9 \xff", "https://x.org/")
        self.assertEqual((r.text(), r.header("Content-Type"), r.header("etag")), ("café \ufffd", "text/plain", None))
        self.assertEqual([taskhost.Response(s).ok() for s in (199, 200, 204, 299, 300, 404)],
                         [False, True, True, True, False, False])
        self.assertEqual(taskhost.Response(200, body=b'{"a": 1}').json(), {"a": 1})

    def test_a_body_that_is_not_json_fails_naming_the_url(self):
        r = taskhost.Response(502, body=b"<html>bad gateway</html>", url="https://bodhi.example.org/updates/")
        with self.assertRaisesRegex(taskhost.Failed, r"^https://bodhi.example.org/updates/ answered 502 with a "
                                                     r"body that is not the expected JSON"):
            r.json()


class FakeHostTest(unittest.TestCase):
    """Behaviours of the FakeHost this change touched."""

    def test_denials_of_commands_backends_and_creation_still_hold(self):
        def run_it(d):
            taskhost.Environment.open("auto").run(taskhost.Command("blhc", "x"))

        run = FakeHost().deny_exec("blhc **").execute(task(run_it))
        self.assertIsInstance(run.status, taskhost.AccessDenied)
        self.assertEqual((run.denied, run.commands), (["run `blhc x`"], []))
        run = FakeHost().deny_backend("local").execute(task(run_it))
        self.assertEqual(run.denied, ["use backend `local`"])
        run = FakeHost().deny_create("x:report").execute(task(lambda d: taskhost.NewArtifact("x:report").create()))
        self.assertEqual((type(run.status), run.denied), (taskhost.AccessDenied, ["create an artifact of category x:report"]))
        run = FakeHost().deny_create("x:reports").execute(task(lambda d: taskhost.NewArtifact("x:report").create()))
        self.assertEqual((run.status, run.denied, len(run.artifacts)), (1000, [], 1))

    def test_an_unknown_command_is_an_assertion_and_the_host_is_restored(self):
        with self.assertRaisesRegex(AssertionError, "unexpected command `blhc x`"):
            FakeHost().execute(task(lambda d: taskhost.Environment.open().run(taskhost.Command("blhc", "x"))))
        self.assertEqual((_host.artifacts, _host.http, _host.process, _host.results, _host.log,
                          _host.collections, _host.runs), (None,) * 7)

    def test_an_artifact_that_is_no_input_is_access_denied(self):
        run = FakeHost().execute(task(lambda d: taskhost.get(5)))
        self.assertIsInstance(run.status, taskhost.AccessDenied)
        self.assertEqual(str(run.status), "artifact 5 is not an input of this run")


class CollectionsAndRunsTest(unittest.TestCase):
    """A small derived-collection update in Python: read a suite, run a
    child per source, add its analysis."""

    SUITE = [dict(id=1, name="hello_1.0", category="debian:source-package", artifact=10,
                  data={"package": "hello", "version": "1.0"})]

    def update(self, data):
        suite = taskhost.collection("bookworm@debian:suite")
        derived = taskhost.collection("bookworm@debian:suite-lintian")
        for item in taskhost.items(suite):
            run_id, created = taskhost.submit("lintian", {"input": {"source_artifact_id": item.artifact}})
            child = taskhost.wait(run_id)
            analysis = taskhost.get(child.artifacts[0])
            taskhost.add_item(derived, f"{item.name}_source", analysis.id,
                              {"derived_from": [item.id], "architecture": analysis.data["architecture"]})
            taskhost.log(f"{child.status} {created}")
        taskhost.remove_item(derived, "gone_1.0_source")
        return "success"

    def host(self):
        return (FakeHost()
                .collection(3, "debian:suite", "bookworm", self.SUITE)
                .collection(4, "debian:suite-lintian", "bookworm",
                            [dict(id=5, name="gone_1.0_source", artifact=None)])
                .child("lintian", lambda d: ("success", [("debian:lintian", {"architecture": "source"})])))

    def test_items_children_and_changes(self):
        run = self.host().execute(task(self.update))
        self.assertEqual(run.status, "success")
        self.assertEqual(run.submitted, [("lintian", {"input": {"source_artifact_id": 10}}, False)])
        (item,) = run.collections["bookworm@debian:suite-lintian"]
        self.assertEqual((item["name"], item["artifact"], item["data"]["derived_from"]),
                         ("hello_1.0_source", 3000, [1]))
        self.assertEqual(run.log, [("info", "success True")])

    def test_a_collection_not_got_and_a_task_not_answered_are_denied(self):
        run = self.host().execute(task(lambda d: taskhost.items(taskhost.Collection(
            _Wit(id=3, category="debian:suite", name="bookworm", data="{}")))))
        self.assertIsInstance(run.status, taskhost.AccessDenied)
        run = self.host().execute(task(lambda d: taskhost.submit("sbuild", {})))
        self.assertIsInstance(run.status, taskhost.AccessDenied)
        self.assertEqual(run.denied, ["submit task `sbuild` (answer it with FakeHost.child)"])
        run = self.host().execute(task(lambda d: taskhost.wait("child-9")))
        self.assertIsInstance(run.status, taskhost.NotFound)

    def test_an_unlisted_artifact_cannot_be_added(self):
        def body(d):
            derived = taskhost.collection("4@collections")
            taskhost.add_item(derived, "x", 10)
        run = self.host().execute(task(body))
        self.assertIsInstance(run.status, taskhost.AccessDenied)


class _Wit:
    def __init__(self, **fields):
        self.__dict__.update(fields)


if __name__ == "__main__":
    unittest.main()
