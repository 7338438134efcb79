#!/usr/bin/env python3
"""A read-only Bodhi for tests: the REST API that bodhi-client reads.

Usage: bodhi.py --port 0 [--fixtures DIR]

DIR/fixtures.json (from build_fixtures.py) gives the releases and updates.
Served, in the shapes of bodhi-server's services (updates.py, releases.py,
builds.py) and cornice's JSON errors ({"status": "error", "errors": [...]}):

  GET /updates/ALIAS                   {"update": ..., "can_edit": false, ...}
  GET /updates/?alias=&updateid=&builds=&packages=&releases=&status=&...
                                       {"updates": [...], "page", "pages",
                                        "rows_per_page", "total", ...}
  GET /updates/ALIAS/get-test-results  501: no Greenwave is configured
  GET /releases/, /releases/NAME, /builds/, /builds/NVR, /csrf

bodhi-client fetches its OpenID Connect provider's discovery document even
for anonymous reads, so this server also stands in for that provider (the
real one is id.fedoraproject.org/openidc): give the client
--id-provider http://127.0.0.1:PORT/openidc. Nothing logs in: anything that
writes answers 405.
"""

import argparse
import hashlib
import json
import math
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, quote

STATUSES = ["pending", "testing", "stable", "unpushed", "obsolete",
            "side_tag_active", "side_tag_expired"]
TYPES = ["bugfix", "security", "newpackage", "enhancement", "unspecified"]
SEVERITIES = ["unspecified", "urgent", "high", "medium", "low"]
REQUESTS = ["testing", "obsolete", "unpush", "revoke", "stable"]
CONTENT_TYPES = ["rpm", "module", "container", "flatpak"]
# Query parameters that take a list (bodhi's schemas use a splitter on them).
LIST_PARAMS = {"alias", "updateid", "builds", "packages", "releases", "bugs", "user",
               "status", "gating"}


class BadRequest(Exception):
    def __init__(self, name, description, status=400, location="querystring"):
        super().__init__(description)
        self.status = status
        self.error = {"location": location, "name": name, "description": description}


class Data:
    def __init__(self, directory):
        raw = {"releases": [], "updates": []}
        if directory:
            with open(os.path.join(directory, "fixtures.json")) as f:
                raw = json.load(f)
        self.releases = raw["releases"]
        self.updates = sorted(raw["updates"], key=lambda u: u["date_submitted"], reverse=True)
        self.release_ids = {r["name"]: i + 1 for i, r in enumerate(self.releases)}

    def release(self, name):
        for r in self.releases:
            if name in (r["name"], r["version"]) or r["name"] == name.upper():
                return r
        return None


def user(name):
    return {"id": 100 + len(name), "name": name, "email": "%s@example.org" % name,
            "avatar": None, "openid": "%s.id.fedoraproject.org" % name,
            "groups": [{"name": "packager"}]}


def package_of(nvr):
    return nvr.rsplit("-", 2)[0]


def build_json(data, update, nvr):
    return {"nvr": nvr, "release_id": data.release_ids[update["release"]],
            "signed": True, "type": "rpm", "epoch": 0}


def update_json(data, u, base):
    release = data.release(u["release"])
    bodhi_user = {"id": 91, "name": "bodhi", "email": None, "openid": "bodhi.id.fedoraproject.org",
                  "avatar": "https://apps.fedoraproject.org/img/icons/bodhi-24.png", "groups": []}
    comments = [{
        "id": 1, "karma": 0, "karma_critpath": 0, "update_id": 1, "user_id": 91,
        "text": "This update has been submitted for testing by %s. " % u["user"],
        "timestamp": u["date_submitted"], "bug_feedback": [], "testcase_feedback": [],
        "user": bodhi_user,
    }]
    if u.get("date_testing"):
        comments.append(dict(comments[0], id=2, timestamp=u["date_testing"],
                             text="This update has been pushed to testing."))
    return {
        "alias": u["alias"], "updateid": u["alias"],
        "title": " ".join(u["builds"]), "display_name": "",
        "builds": [build_json(data, u, nvr) for nvr in u["builds"]],
        "release": release,
        "status": u["status"], "request": u.get("request"),
        "type": u["type"], "severity": u["severity"], "suggest": "unspecified",
        "content_type": "rpm", "notes": u["notes"],
        "user": user(u["user"]), "submitter": u["user"],
        "bugs": [], "comments": comments, "test_cases": [],
        "karma": 0, "stable_karma": 3, "unstable_karma": -3, "stable_days": 7,
        "autokarma": True, "autotime": True, "close_bugs": True,
        "require_bugs": True, "require_testcases": True, "requirements": "",
        "critpath": False, "critpath_groups": None, "locked": False,
        "pushed": bool(u.get("date_pushed")),
        "meets_testing_requirements": False, "test_gating_status": "ignored",
        "from_tag": None, "compose": None,
        "date_submitted": u["date_submitted"], "date_testing": u.get("date_testing"),
        "date_pushed": u.get("date_pushed"), "date_stable": u.get("date_stable"),
        "date_approved": None, "date_modified": None,
        "version_hash": hashlib.sha1(" ".join(sorted(u["builds"])).encode()).hexdigest(),
        "url": "%s/updates/%s" % (base, u["alias"]),
    }


def oidc_discovery(issuer):
    """OpenID Connect discovery metadata; its endpoints are not served."""
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/Authorization",
        "token_endpoint": issuer + "/Token",
        "userinfo_endpoint": issuer + "/UserInfo",
        "jwks_uri": issuer + "/Jwks",
        "scopes_supported": ["openid", "email", "profile"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post", "oob"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
    }


def split_list(values):
    out = []
    for v in values:
        out.extend(x for x in re.split(r"[,\s]+", v) if x)
    return out


def as_bool(value):
    return value.strip().lower() not in ("false", "0")


def as_int(name, value, lo, hi=None):
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(name, '"%s" is not a number' % value)
    if n < lo:
        raise BadRequest(name, "%d is less than minimum value %d" % (n, lo))
    if hi is not None and n > hi:
        raise BadRequest(name, "%d is greater than maximum value %d" % (n, hi))
    return n


def one_of(name, values, choices):
    for v in values:
        if v not in choices:
            raise BadRequest(name, '"%s" is not one of %s' % (v, ", ".join(choices)))
    return values


def paginate(rows, params, key):
    page = as_int("page", params.get("page", ["1"])[-1], 1)
    per = as_int("rows_per_page", params.get("rows_per_page", ["20"])[-1], 1, 100)
    total = len(rows)
    return {
        key: rows[per * (page - 1):per * page],
        "page": page, "pages": int(math.ceil(total / float(per))),
        "rows_per_page": per, "total": total,
    }


def query_updates(data, params, base):
    def lst(name):
        return split_list(params[name]) if name in params else None

    def last(name):
        return params[name][-1] if name in params else None

    found = list(data.updates)
    ids = (lst("updateid") or []) + (lst("alias") or [])
    if "updateid" in params or "alias" in params:
        found = [u for u in found if u["alias"] in ids]
    if "builds" in params:
        builds = lst("builds")
        found = [u for u in found if set(u["builds"]) & set(builds)]
    if "packages" in params:
        pkgs = lst("packages")
        found = [u for u in found if {package_of(b) for b in u["builds"]} & set(pkgs)]
    if "releases" in params:
        wanted, bad = [], []
        for r in lst("releases"):
            rel = data.release(r)
            (wanted if rel else bad).append(rel["name"] if rel else r)
        if bad:
            raise BadRequest("releases", "Invalid releases specified: %s" % ", ".join(bad))
        found = [u for u in found if u["release"] in wanted]
    if "status" in params:
        statuses = one_of("status", lst("status"), STATUSES)
        found = [u for u in found if u["status"] in statuses]
    if "type" in params:
        found = [u for u in found if u["type"] == one_of("type", [last("type")], TYPES)[0]]
    if "severity" in params:
        sev = one_of("severity", [last("severity")], SEVERITIES)[0]
        found = [u for u in found if u["severity"] == sev]
    if "request" in params:
        req = one_of("request", [last("request")], REQUESTS)[0]
        found = [u for u in found if u.get("request") == req]
    if "content_type" in params:
        ctype = one_of("content_type", [last("content_type")], CONTENT_TYPES)[0]
        found = [u for u in found if ctype == "rpm"]
    if "user" in params:
        found = [u for u in found if u["user"] in lst("user")]
    if "critpath" in params and as_bool(last("critpath")):
        found = []
    if "locked" in params and as_bool(last("locked")):
        found = []
    if "pushed" in params:
        found = [u for u in found if bool(u.get("date_pushed")) == as_bool(last("pushed"))]
    for key in ("like", "search"):
        if key in params:
            needle = last(key).lower()
            found = [u for u in found if any(needle in b.lower() for b in u["builds"])
                     or (key == "search" and needle in u["alias"].lower())]
    pkgs = lst("packages")
    result = paginate([update_json(data, u, base) for u in found], params, "updates")
    result.update(chrome=True, display_user=True, display_request=True,
                  package=pkgs[0] if pkgs else None)
    return result


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_json(self, status, location, name, description):
        self.send_json(status, {"status": "error", "errors": [
            {"location": location, "name": name, "description": description}]})

    def base(self):
        return "http://%s:%d" % self.server.server_address[:2]

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        data = self.server.data
        url = urlsplit(self.path)
        params = parse_qs(url.query, keep_blank_values=False)
        parts = [p for p in url.path.split("/") if p]
        try:
            if parts == ["updates"]:
                return self.send_json(200, query_updates(data, params, self.base()))
            if len(parts) in (2, 3) and parts[0] == "updates":
                return self.get_update(parts[1], parts[2:])
            if parts == ["releases"]:
                rows = [r for r in data.releases
                        if "name" not in params or r["name"] in params["name"]]
                return self.send_json(200, paginate(rows, params, "releases"))
            if len(parts) == 2 and parts[0] == "releases":
                rel = data.release(parts[1])
                if rel is None:
                    return self.send_error_json(404, "url", "name", "No such release")
                return self.send_json(200, rel)
            if parts == ["builds"]:
                rows = [build_json(data, u, nvr) for u in data.updates for nvr in u["builds"]
                        if "nvr" not in params or nvr in params["nvr"]]
                return self.send_json(200, paginate(rows, params, "builds"))
            if len(parts) == 2 and parts[0] == "builds":
                for u in data.updates:
                    if parts[1] in u["builds"]:
                        return self.send_json(200, build_json(data, u, parts[1]))
                return self.send_error_json(404, "url", "nvr", "No such build")
            if parts == ["openidc", ".well-known", "openid-configuration"]:
                return self.send_json(200, oidc_discovery(self.base() + "/openidc"))
            if parts == ["csrf"]:
                return self.send_json(200, {"csrf_token": hashlib.sha1(b"taskhost").hexdigest()})
        except BadRequest as e:
            return self.send_json(e.status, {"status": "error", "errors": [e.error]})
        self.send_json(404, {"status": "error", "errors": [
            {"location": "url", "name": "path", "description": "Not Found"}]})

    def get_update(self, alias, rest):
        data = self.server.data
        for u in data.updates:
            if u["alias"] == alias:
                if rest == ["get-test-results"]:
                    return self.send_error_json(501, "body", "request",
                                                "No greenwave_api_url specified")
                if rest:
                    break
                return self.send_json(200, {"update": update_json(data, u, self.base()),
                                            "can_edit": False, "ci_allowed": False})
        if not rest and any(package_of(b) == alias for u in data.updates for b in u["builds"]):
            # bodhi redirects a package name to the package's updates.
            return self.send_json(302, {}, extra=[
                ("Location", "%s/updates/?packages=%s" % (self.base(), quote(alias)))])
        self.send_error_json(404, "url", "id", "Invalid update id")

    def refuse(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_error_json(405, "url", "method",
                             "This test server is read-only: %s is not served" % self.command)

    do_POST = do_PUT = do_DELETE = do_PATCH = refuse


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fixtures", help="directory made by build_fixtures.py")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.data = Data(os.path.abspath(args.fixtures) if args.fixtures else None)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
