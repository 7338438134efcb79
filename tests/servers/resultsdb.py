#!/usr/bin/env python3
"""A ResultsDB for tests: the API v2.0, kept in memory.

Usage: resultsdb.py --port 0 [--fixtures DIR]   (DIR is accepted and unused)

Follows resultsdb's controllers/api_v2.py and parsers/api_v2.py:

  POST /api/v2.0/results       outcome, testcase (name or {name, ref_url}),
                               groups [uuid or {uuid, description, ref_url}],
                               note, ref_url, data {key: value or [values]},
                               submit_time (ms since the epoch or ISO) -> 201
  GET  /api/v2.0/results[?outcome=&testcases=&testcases:like=&groups=&since=
                         &_sort=&page=&limit=&KEY=V1,V2&KEY:like=V*]
  GET  /api/v2.0/results/latest, /api/v2.0/results/ID
  POST /api/v2.0/groups, GET /api/v2.0/groups[/UUID[/results]]
  POST /api/v2.0/testcases, GET /api/v2.0/testcases[/NAME[/results]]

Lists answer {"prev", "next", "data"}. Bad input answers 400 the way
flask-pydantic does ({"validation_error": {"body_params": [{"loc", "msg",
"type"}]}}); unknown things 404 {"message": "... not found"}. Nothing is
checked for authentication, and nothing is kept after the process ends.
"""

import argparse
import datetime
import fnmatch
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

PREFIX = "/api/v2.0"
OUTCOMES = ("PASSED", "INFO", "FAILED", "NEEDS_INSPECTION",
            "ABORTED", "CRASHED", "ERROR", "WAIVED")
QUERY_LIMIT = 20
RESERVED = {"_sort", "limit", "page", "testcases", "testcases:like", "groups",
            "_distinct_on", "outcome", "since"}


class Invalid(Exception):
    """A flask-pydantic validation error: (where, [errors])."""

    def __init__(self, where, errors):
        super().__init__(where)
        self.where = where
        self.errors = errors


def err(field, msg, kind):
    return {"loc": [field], "msg": msg, "type": kind}


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def naive_utc(dt):
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return dt


def from_ms(value):
    seconds, ms = divmod(int(value), 1000)
    dt = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return naive_utc(dt.replace(microsecond=ms * 1000))


def parse_submit_time(v):
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return from_ms(v)
    elif isinstance(v, str):
        for suffix in ("Z", "", "%z", "+00"):
            try:
                return naive_utc(datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%f" + suffix))
            except ValueError:
                pass
        try:
            return from_ms(int(v))
        except ValueError:
            pass
    raise ValueError("Expected timestamp in milliseconds or datetime"
                     " (in format YYYY-MM-DDTHH:MM:SS.ffffff), got %r" % (v,))


def as_str(field, v, errors, required=False):
    """pydantic v1 str: str as is, numbers through str(), None if optional."""
    if v is None:
        if required:
            errors.append(err(field, "none is not an allowed value", "type_error.none.not_allowed"))
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    errors.append(err(field, "str type expected", "type_error.str"))
    return None


def parse_result(body):
    """CreateResultParams: every field checked, all errors reported at once."""
    if not isinstance(body, dict):
        raise Invalid("body_params", [err("__root__", "value is not a valid dict",
                                          "type_error.dict")])
    errors = []
    out = {}
    if "outcome" not in body:
        errors.append(err("outcome", "field required", "value_error.missing"))
    else:
        outcome = as_str("outcome", body["outcome"], errors, required=True)
        if outcome is not None:
            outcome = outcome.strip().upper()
            if not outcome:
                errors.append(dict(err("outcome", "ensure this value has at least 1 characters",
                                       "value_error.any_str.min_length"),
                                   ctx={"limit_value": 1}))
            elif outcome not in OUTCOMES:
                errors.append(err("outcome", "must be one of: %s" % ", ".join(OUTCOMES),
                                  "value_error"))
            out["outcome"] = outcome
    if "testcase" not in body:
        errors.append(err("testcase", "field required", "value_error.missing"))
    else:
        tc = body["testcase"]
        if not tc or (isinstance(tc, dict) and not tc.get("name")):
            errors.append(err("testcase", "testcase name must be non-empty", "value_error"))
        elif isinstance(tc, str):
            out["testcase"] = {"name": tc}
        elif isinstance(tc, dict):
            out["testcase"] = tc
        else:
            errors.append(err("testcase", "value is not a valid dict", "type_error.dict"))
    groups = body.get("groups")
    if groups is not None and not isinstance(groups, list):
        errors.append(err("groups", "value is not a valid list", "type_error.list"))
    out["groups"] = groups if isinstance(groups, list) else None
    out["note"] = as_str("note", body.get("note"), errors)
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        errors.append(err("data", "value is not a valid dict", "type_error.dict"))
    out["data"] = data if isinstance(data, dict) else None
    out["ref_url"] = as_str("ref_url", body.get("ref_url"), errors)
    try:
        out["submit_time"] = parse_submit_time(body.get("submit_time"))
    except ValueError as e:
        errors.append(err("submit_time", str(e), "value_error"))
    if errors:
        raise Invalid("body_params", errors)
    return out


def parse_since(value):
    def one(s):
        s = s.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        return naive_utc(datetime.datetime.fromisoformat(s))

    parts = value.split(",")
    try:
        return one(parts[0]), one(parts[1]) if len(parts) > 1 and parts[1] else None
    except ValueError:
        raise Invalid("query_params", [err("since", "must be in ISO8601 format", "value_error")])


def split(value):
    return [x.strip() for x in value.split(",") if x.strip()]


def like(pattern, value):
    # SQL LIKE with resultsdb's "*" for "%": case-sensitive, whole value.
    return fnmatch.fnmatchcase(value, pattern.replace("%", "*"))


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.testcases = {}  # name -> {name, ref_url}
        self.groups = {}     # uuid -> {uuid, description, ref_url}
        self.results = []    # {id, testcase, outcome, note, ref_url, groups, data, submit_time}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    # --- plumbing -----------------------------------------------------------

    @property
    def store(self):
        return self.server.store

    def base(self):
        return "http://%s:%d%s" % (self.server.server_address[0],
                                   self.server.server_address[1], PREFIX)

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        url = urlsplit(self.path)
        if not (url.path == PREFIX or url.path.startswith(PREFIX + "/")):
            return None, None
        parts = [p for p in url.path[len(PREFIX):].split("/") if p]
        return parts, parse_qsl(url.query, keep_blank_values=True)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return Ellipsis

    # --- serializers (resultsdb/serializers/api_v2.py) ------------------------

    def ser_testcase(self, tc):
        return {"name": tc["name"], "ref_url": tc["ref_url"],
                "href": "%s/testcases/%s" % (self.base(), quote(tc["name"]))}

    def ser_group(self, g):
        count = sum(1 for r in self.store.results if g["uuid"] in r["groups"])
        return {"uuid": g["uuid"], "description": g["description"], "ref_url": g["ref_url"],
                "results": "%s/results?groups=%s" % (self.base(), g["uuid"]),
                "results_count": count,
                "href": "%s/groups/%s" % (self.base(), g["uuid"])}

    def ser_result(self, r):
        data = {}
        for key, value in r["data"]:
            data.setdefault(key, []).append(value)
        return {"id": r["id"], "groups": list(r["groups"]),
                "testcase": self.ser_testcase(self.store.testcases[r["testcase"]]),
                "submit_time": r["submit_time"].isoformat(), "outcome": r["outcome"],
                "note": r["note"], "ref_url": r["ref_url"], "data": data,
                "href": "%s/results/%d" % (self.base(), r["id"])}

    def page(self, rows, query, ser):
        """pagination() + prev_next_urls(): limit+1 rows decide "next"."""
        params = dict(query)
        numbers = {}
        for key, default in (("page", 0), ("limit", QUERY_LIMIT)):
            try:
                numbers[key] = int(params.get(key, default))
            except ValueError:
                raise Invalid("query_params", [err(key, "value is not a valid integer",
                                                   "type_error.integer")])
        page, limit = numbers["page"], numbers["limit"]
        start = page * limit if page > 0 else 0
        chunk = rows[start:start + limit + 1]
        url = "http://%s:%d%s" % (self.server.server_address[0],
                                  self.server.server_address[1], self.path)
        if re.search(r"([?&])page=([0-9]+)", url):
            base = re.sub(r"([?&])page=([0-9]+)", r"\1page=@PAGE@", url, count=1)
        else:
            base = url + ("&" if "?" in url else "?") + "page=@PAGE@"
        shown = max(page, 0)
        prev = base.replace("@PAGE@", str(shown - 1)) if shown > 0 else None
        nxt = base.replace("@PAGE@", str(shown + 1)) if len(chunk) > limit else None
        return {"prev": prev, "next": nxt, "data": [ser(x) for x in chunk[:limit]]}

    # --- queries --------------------------------------------------------------

    def select_results(self, query, groups=None, testcases=None, outcomes=True):
        params = {}
        data_filters = {}
        for key, value in query:
            if key in RESERVED:
                params[key] = value
            else:
                data_filters.setdefault(key, []).extend(split(value))
        rows = list(self.store.results)
        if outcomes and params.get("outcome"):
            wanted = [o.upper() for o in split(params["outcome"])]
            if any(o not in OUTCOMES for o in wanted):
                raise Invalid("query_params", [err("outcome", "must be one of: %s"
                                                   % ", ".join(OUTCOMES), "value_error")])
            rows = [r for r in rows if r["outcome"] in wanted]
        if params.get("since"):
            start, end = parse_since(params["since"])
            rows = [r for r in rows if r["submit_time"] >= start
                    and (end is None or r["submit_time"] <= end)]
        groups = groups if groups is not None else split(params.get("groups", ""))
        if groups:
            rows = [r for r in rows if set(r["groups"]) & set(groups)]
        names = testcases if testcases is not None else split(params.get("testcases", ""))
        patterns = split(params.get("testcases:like", ""))
        if names or patterns:
            rows = [r for r in rows if r["testcase"] in names
                    or any(like(p, r["testcase"]) for p in patterns)]
        for key, values in data_filters.items():
            name, _, modifier = key.partition(":")
            if modifier == "like":
                rows = [r for r in rows if any(k == name and any(like(p, v) for p in values)
                                               for k, v in r["data"])]
            else:
                rows = [r for r in rows if any(k == name and v in values for k, v in r["data"])]
        order = params.get("_sort", "")
        rows.sort(key=lambda r: (r["submit_time"], r["id"]), reverse=order != "asc:submit_time")
        return rows, params

    def latest(self, query):
        rows, params = self.select_results(query, outcomes=False)
        distinct = split(params.get("_distinct_on", ""))
        if distinct and not (params.get("testcases") or params.get("testcases:like")
                             or params.get("since") or params.get("groups")
                             or any(k not in RESERVED for k, _ in query)):
            return 400, {"message": "Please, provide at least one filter beside '_distinct_on'"}
        seen, out = set(), []
        for r in rows:  # newest first
            key = (r["testcase"],) + tuple(
                tuple(sorted(v for k, v in r["data"] if k == d)) for d in distinct)
            if key not in seen:
                seen.add(key)
                out.append(self.ser_result(r))
        return 200, {"data": out}

    # --- verbs ----------------------------------------------------------------

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        parts, query = self.route()
        if parts is None:
            return self.send_json(404, {"message": "Not found"})
        try:
            with self.store.lock:
                status, obj = self.get(parts, query)
        except Invalid as e:
            status, obj = 400, {"validation_error": {e.where: e.errors}}
        self.send_json(status, obj)

    def get(self, parts, query):
        s = self.store
        if not parts:
            return 300, {"message": "Everything is fine. But choose wisely, for while the true "
                                    "Grail will bring you life, the false Grail will take it "
                                    "from you.",
                         "documentation": "http://docs.resultsdb20.apiary.io/",
                         "groups": self.base() + "/groups", "results": self.base() + "/results",
                         "testcases": self.base() + "/testcases", "outcomes": list(OUTCOMES)}
        kind, rest = parts[0], parts[1:]
        if kind == "results" and not rest:
            rows, _ = self.select_results(query)
            return 200, self.page(rows, query, self.ser_result)
        if kind == "results" and rest == ["latest"]:
            return self.latest(query)
        if kind == "results" and len(rest) == 1:
            for r in s.results:
                if str(r["id"]) == rest[0]:
                    return 200, self.ser_result(r)
            return 404, {"message": "Result not found"}
        if kind == "groups" and not rest:
            params = dict(query)
            rows = sorted(s.groups.values(), key=lambda g: g["seq"], reverse=True)
            if params.get("description"):
                rows = [g for g in rows if g["description"] in split(params["description"])]
            elif params.get("description:like"):
                rows = [g for g in rows if g["description"] and any(
                    like(p, g["description"]) for p in split(params["description:like"]))]
            if params.get("uuid"):
                rows = [g for g in rows if g["uuid"] in params["uuid"].split(",")]
            return 200, self.page(rows, query, self.ser_group)
        if kind == "groups" and len(rest) == 1:
            if rest[0] not in s.groups:
                return 404, {"message": "Group not found"}
            return 200, self.ser_group(s.groups[rest[0]])
        if kind == "groups" and len(rest) == 2 and rest[1] == "results":
            if rest[0] not in s.groups:
                return 404, {"message": "Group not found: %s" % rest[0]}
            rows, _ = self.select_results(query, groups=[rest[0]])
            return 200, self.page(rows, query, self.ser_result)
        if kind == "testcases" and not rest:
            params = dict(query)
            rows = sorted(s.testcases.values(), key=lambda t: t["name"])
            if params.get("name"):
                rows = [t for t in rows if t["name"] in split(params["name"])]
            elif params.get("name:like"):
                rows = [t for t in rows if any(like(p, t["name"])
                                               for p in split(params["name:like"]))]
            return 200, self.page(rows, query, self.ser_testcase)
        if kind == "testcases" and rest and rest[-1] == "results" and len(rest) > 1:
            name = "/".join(rest[:-1])
            if name not in s.testcases:
                return 404, {"message": "Testcase not found"}
            rows, _ = self.select_results(query, testcases=[name])
            return 200, self.page(rows, query, self.ser_result)
        if kind == "testcases" and rest:
            name = "/".join(rest)
            if name not in s.testcases:
                return 404, {"message": "Testcase not found"}
            return 200, self.ser_testcase(s.testcases[name])
        if kind == "healthcheck":
            return 200, {"message": "Health check OK"}
        return 404, {"message": "Not found"}

    def do_POST(self):
        parts, _ = self.route()
        body = self.read_body()
        if parts not in (["results"], ["groups"], ["testcases"]):
            known = bool(parts) and parts[0] in ("results", "groups", "testcases")
            return self.send_json(405 if known else 404,
                                  {"message": "Method not allowed" if known else "Not found"})
        if body is Ellipsis:
            return self.send_json(400, {"message": "Bad request"})
        try:
            with self.store.lock:
                status, obj = getattr(self, "create_" + parts[0])(body)
        except Invalid as e:
            status, obj = 400, {"validation_error": {e.where: e.errors}}
        self.send_json(status, obj)

    def do_PUT(self):
        self.read_body()
        self.send_json(405, {"message": "Method not allowed"})

    do_DELETE = do_PATCH = do_PUT

    def group(self, uid):
        s = self.store
        if uid not in s.groups:
            s.groups[uid] = {"uuid": uid, "description": None, "ref_url": None,
                             "seq": len(s.groups)}
        return s.groups[uid]

    def create_groups(self, body):
        if not isinstance(body, dict):
            raise Invalid("body_params", [err("__root__", "value is not a valid dict",
                                              "type_error.dict")])
        errors = []
        uid = as_str("uuid", body.get("uuid"), errors)
        ref_url = as_str("ref_url", body.get("ref_url"), errors)
        description = as_str("description", body.get("description"), errors)
        if errors:
            raise Invalid("body_params", errors)
        g = self.group(uid or str(uuid.uuid1()))
        if ref_url:
            g["ref_url"] = ref_url
        if description:
            g["description"] = description
        return 201, self.ser_group(g)

    def create_testcases(self, body):
        if not isinstance(body, dict):
            raise Invalid("body_params", [err("__root__", "value is not a valid dict",
                                              "type_error.dict")])
        errors = []
        if "name" not in body:
            errors.append(err("name", "field required", "value_error.missing"))
        name = as_str("name", body.get("name"), errors, required="name" in body)
        if name == "":
            errors.append(dict(err("name", "ensure this value has at least 1 characters",
                                   "value_error.any_str.min_length"), ctx={"limit_value": 1}))
        ref_url = as_str("ref_url", body.get("ref_url"), errors)
        if errors:
            raise Invalid("body_params", errors)
        tc = self.store.testcases.setdefault(name, {"name": name, "ref_url": None})
        if ref_url is not None:
            tc["ref_url"] = ref_url
        return 201, self.ser_testcase(tc)

    def create_results(self, body):
        p = parse_result(body)
        if p["data"]:
            bad = [k for k in p["data"] if ":" in str(k)]
            if bad:
                return 400, {"message": "Colon not allowed in key name: %r" % bad}
        s = self.store
        tc = s.testcases.setdefault(p["testcase"]["name"],
                                    {"name": p["testcase"]["name"], "ref_url": None})
        tc["ref_url"] = p["testcase"].get("ref_url", tc["ref_url"])
        groups = []
        for grp in p["groups"] or []:
            if isinstance(grp, (str, bytes)):
                grp = {"uuid": grp}
            elif isinstance(grp, dict):
                grp = dict(grp, uuid=grp.get("uuid", str(uuid.uuid1())))
            else:
                continue
            g = self.group(str(grp["uuid"]))
            g["description"] = grp.get("description", g["description"])
            g["ref_url"] = grp.get("ref_url", g["ref_url"])
            groups.append(g["uuid"])
        data = []
        for key, value in (p["data"] or {}).items():
            values = value if isinstance(value, (list, tuple)) else [value]
            data.extend((str(key), v if isinstance(v, str) else str(v)) for v in values)
        result = {"id": len(s.results) + 1, "testcase": tc["name"], "outcome": p["outcome"],
                  "note": p["note"], "ref_url": p["ref_url"], "groups": groups, "data": data,
                  "submit_time": p["submit_time"] or utcnow()}
        s.results.append(result)
        return 201, self.ser_result(result)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fixtures", help="accepted for symmetry with the other servers; unused")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.store = Store()
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
