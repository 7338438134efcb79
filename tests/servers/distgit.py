#!/usr/bin/env python3
"""A dist-git for tests: pagure's raw file view of bare git repositories.

Usage: distgit.py --port 0 --fixtures DIR

DIR holds the repositories the way Fedora's dist-git keeps them,
DIR/NAMESPACE/PACKAGE.git (bare), e.g. DIR/rpms/foo.git. As on
src.fedoraproject.org,

  GET /NAMESPACE/PACKAGE/raw/GITREF/f/PATH

answers the file PATH at GITREF (a branch, tag or commit) as it is in git,
and 404 when the repository, the ref or the file does not exist (a
directory is not a file either). GET /_requests lists the paths asked for
so far (a test's view of what reached the server). Read-only.
"""

import argparse
import json
import os
import re
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

RAW = re.compile(r"^/([^/]+)/([^/]+)/raw/([^/]+)/f/(.+)$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, content_type="text/plain; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/_requests":
            self.send(200, json.dumps(self.server.requests).encode(), "application/json")
            return
        self.server.requests.append(path)
        m = RAW.match(path)
        if not m:
            self.send(404, b"Page not found\n")
            return
        namespace, package, gitref = (unquote(g) for g in m.groups()[:3])
        file = "/".join(unquote(part) for part in m.group(4).split("/"))
        if not all(NAME.match(x) for x in (namespace, package, gitref)) \
                or any(part in ("", ".", "..") for part in file.split("/")):
            self.send(404, b"Page not found\n")
            return
        repo = os.path.join(self.server.root, namespace, package + ".git")
        if not os.path.isdir(repo):
            self.send(404, b"Project not found\n")
            return
        out = subprocess.run(["git", "--git-dir", repo, "cat-file", "blob",
                              "%s:%s" % (gitref, file)],
                             capture_output=True, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            self.send(404, b"File not found\n")
            return
        self.send(200, out.stdout)

    do_HEAD = do_GET

    def refuse(self):
        self.send(405, b"This test server is read-only\n")

    do_POST = do_PUT = do_DELETE = do_PATCH = refuse


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fixtures", required=True, help="DIR/NAMESPACE/PACKAGE.git")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.root = os.path.abspath(args.fixtures)
    server.requests = []
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
