#!/usr/bin/env python3
"""A koji hub for tests: koji's XML-RPC API at /kojihub, its files at /kojifiles.

Usage: koji_hub.py --port 0 [--fixtures DIR]

DIR is what build_fixtures.py made: DIR/fixtures.json describes the builds
and tags, and DIR itself is served as koji's topdir, so the "topurl" is
http://127.0.0.1:PORT/kojifiles. Read-only: anonymous calls only.

The calls follow the real hub (kojihub/kojihub.py, kojixmlrpc.py): named
arguments arrive as a trailing dict marked "__starstar"; koji.GenericError
becomes fault 1000 with the bare message, a wrong argument list fault 1019
(ParameterError), an unknown method "Invalid method: NAME"; multiCall (and
system.multicall) answer [result] or a fault dict per call.
"""

import argparse
import datetime
import fnmatch
import inspect
import json
import os
import sys
import traceback
import xmlrpc.client
from email.utils import formatdate
from socketserver import ThreadingMixIn
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

API_VERSION = 1
KOJI_VERSION = "1.35.0"
BUILD_COMPLETE = 1
TASK_CLOSED = 2


class GenericError(Exception):
    faultCode = 1000


class ParameterError(GenericError):
    faultCode = 1019


def iso(ts):
    """A timestamp the way the hub sends one (datetime.isoformat(' '))."""
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(" ")


def parse_nvr(nvr):
    """koji.parse_NVR: N-V-R with an optional E: before N."""
    p2 = nvr.rfind("-")
    p1 = nvr.rfind("-", 0, p2) if p2 > 0 else -1
    if p2 in (-1, len(nvr) - 1) or p1 in (-1, p2 - 1):
        raise GenericError("invalid format: %s" % nvr)
    name = nvr[:p1]
    epoch = ""
    if ":" in name:
        epoch, name = name.split(":", 1)
    return {"name": name, "version": nvr[p1 + 1:p2], "release": nvr[p2 + 1:], "epoch": epoch}


def parse_nvra(nvra):
    """koji.parse_NVRA: N-V-R.A[.rpm][@location]."""
    nvra = nvra.split("@", 1)[0]
    if nvra.endswith(".rpm"):
        nvra = nvra[:-4]
    p3 = nvra.rfind(".")
    if p3 in (-1, len(nvra) - 1):
        raise GenericError("invalid format: %s" % nvra)
    ret = parse_nvr(nvra[:p3])
    ret["arch"] = nvra[p3 + 1:]
    return ret


def query_opts(rows, opts):
    """The queryOpts every list call takes: order, offset, limit, countOnly."""
    opts = opts or {}
    order = opts.get("order")
    if order:
        for key in reversed(order.split(",")):
            key = key.strip()
            desc = key.startswith("-")
            key = key.lstrip("-").split(".")[-1]
            rows = sorted(rows, key=lambda r: (r.get(key) is None, r.get(key)), reverse=desc)
    if opts.get("offset"):
        rows = rows[opts["offset"]:]
    if opts.get("limit") is not None:
        rows = rows[:opts["limit"]]
    if opts.get("countOnly"):
        return len(rows)
    if opts.get("asList"):
        return [list(r.values()) for r in rows]
    return rows


class Data:
    """The fixtures, indexed the ways the calls look things up."""

    def __init__(self, directory):
        self.topdir = directory
        raw = {"builds": [], "tags": []}
        if directory:
            with open(os.path.join(directory, "fixtures.json")) as f:
                raw = json.load(f)
        self.builds = {}
        self.by_nvr = {}
        self.rpms = {}
        self.rpm_by_nvra = {}
        for b in raw["builds"]:
            self.builds[b["build_id"]] = b
            self.by_nvr[b["nvr"]] = b
            for r in b["rpms"]:
                self.rpms[r["id"]] = r
                self.rpm_by_nvra["%(name)s-%(version)s-%(release)s.%(arch)s" % r] = r
        names = sorted({b["name"] for b in raw["builds"]})
        self.package_ids = {name: 4001 + i for i, name in enumerate(names)}
        owners = sorted({b["owner_name"] for b in raw["builds"]})
        self.user_ids = {name: 3001 + i for i, name in enumerate(owners)}
        self.tags = {}
        self.tag_by_name = {}
        event = 500000
        for t in raw["tags"]:
            listing = []
            for nvr in t["builds"]:
                event += 1
                listing.append((event, self.by_nvr[nvr]["build_id"]))
            t = dict(t, listing=listing)
            self.tags[t["id"]] = t
            self.tag_by_name[t["name"]] = t
        self.last_event = event


class RootExports:
    """The hub's API; method and argument names are koji's."""

    def __init__(self, data):
        self._d = data

    # --- plain shapes -------------------------------------------------

    def _build(self, b):
        return {
            "build_id": b["build_id"], "id": b["build_id"],
            "name": b["name"], "package_name": b["name"],
            "package_id": self._d.package_ids[b["name"]],
            "version": b["version"], "release": b["release"], "epoch": b["epoch"],
            "nvr": b["nvr"], "state": BUILD_COMPLETE, "draft": False,
            "task_id": b["task_id"], "source": b["source"], "extra": None,
            "owner_id": self._d.user_ids[b["owner_name"]], "owner_name": b["owner_name"],
            "creation_event_id": 400000 + b["build_id"],
            "creation_time": iso(b["creation_ts"]), "creation_ts": float(b["creation_ts"]),
            "start_time": iso(b["start_ts"]), "start_ts": float(b["start_ts"]),
            "completion_time": iso(b["completion_ts"]),
            "completion_ts": float(b["completion_ts"]),
            "promoter_id": None, "promoter_name": None,
            "promotion_time": None, "promotion_ts": None,
            "volume_id": 0, "volume_name": "DEFAULT",
            "cg_id": None, "cg_name": None,
        }

    def _rpm(self, r):
        arch_index = {"src": 0, "noarch": 1, "x86_64": 1, "i686": 2}.get(r["arch"], 3)
        return {
            "id": r["id"], "build_id": r["build_id"],
            "name": r["name"], "version": r["version"], "release": r["release"],
            "epoch": r["epoch"], "arch": r["arch"],
            "nvr": "%(name)s-%(version)s-%(release)s" % r,
            "payloadhash": r["payloadhash"], "size": r["size"], "buildtime": r["buildtime"],
            "buildroot_id": r["build_id"] * 10 + arch_index,
            "external_repo_id": 0, "external_repo_name": "INTERNAL",
            "metadata_only": False, "extra": None, "draft": False,
        }

    def _tag(self, t):
        return {
            "id": t["id"], "name": t["name"], "arches": t["arches"],
            "perm_id": None, "perm": None, "locked": False,
            "maven_support": False, "maven_include_all": False, "extra": {},
        }

    def _matches(self, ids, wanted, name):
        """Whether `wanted` (a name or an id from `ids`) is `name`."""
        return wanted is None or wanted == name or wanted == ids.get(name)

    # --- lookups --------------------------------------------------------

    def _find_build(self, info):
        d = self._d
        if isinstance(info, int):
            return d.builds.get(info)
        if isinstance(info, str):
            if info.isdigit():
                return d.builds.get(int(info))
            nvr = parse_nvr(info)
            return d.by_nvr.get("%(name)s-%(version)s-%(release)s" % nvr)
        if isinstance(info, dict):
            if info.get("id") is not None:
                return d.builds.get(info["id"])
            if all(info.get(k) for k in ("name", "version", "release")):
                return d.by_nvr.get("%(name)s-%(version)s-%(release)s" % info)
            raise GenericError("Invalid argument: %r" % info)
        raise GenericError("Invalid type for build: %r" % info)

    def _find_tag(self, info):
        if isinstance(info, int):
            return self._d.tags.get(info)
        if isinstance(info, str):
            return self._d.tag_by_name.get(info)
        if isinstance(info, dict):
            return self._find_tag(info.get("id", info.get("name")))
        raise GenericError("Invalid name or id value: %r" % info)

    def _tag_strict(self, info):
        tag = self._find_tag(info)
        if tag is None:
            raise GenericError("No such tagInfo: %r" % info)
        return tag

    def _tag_id_strict(self, info):
        # get_tag_id(strict=True) goes through lookup_name's wording.
        tag = self._find_tag(info)
        if tag is None:
            raise GenericError("No such entry in table tag: %s" % info)
        return tag

    def _find_rpm(self, info):
        d = self._d
        if isinstance(info, int):
            return d.rpms.get(info)
        if isinstance(info, str):
            nvra = parse_nvra(info)
            return d.rpm_by_nvra.get("%(name)s-%(version)s-%(release)s.%(arch)s" % nvra)
        if isinstance(info, dict):
            if info.get("id") is not None:
                return d.rpms.get(info["id"])
            return d.rpm_by_nvra.get("%(name)s-%(version)s-%(release)s.%(arch)s" % info)
        raise GenericError("Invalid type for rpminfo: %r" % info)

    def _inheritance(self, tag):
        """Parent tags, depth first in priority order (readFullInheritance)."""
        out, seen = [], {tag["id"]}

        def walk(t, depth):
            for priority, name in enumerate(t["parents"]):
                parent = self._d.tag_by_name[name]
                if parent["id"] in seen:
                    continue
                seen.add(parent["id"])
                out.append((t, parent, depth, priority * 10))
                walk(parent, depth + 1)

        walk(tag, 1)
        return out

    def _tagged(self, tag, inherit=False, latest=False, package=None, owner=None,
                prefix=None, btype=None, draft=None):
        """readTaggedBuilds: newest tagging first, tag before its parents."""
        taglist = [tag] + ([p for _c, p, _d, _p in self._inheritance(tag)] if inherit else [])
        if btype not in (None, "rpm") or draft:
            return []
        seen = {}
        out = []
        for t in taglist:
            for event, build_id in sorted(t["listing"], reverse=True):
                b = self._d.builds[build_id]
                if not self._matches(self._d.package_ids, package, b["name"]):
                    continue
                if not self._matches(self._d.user_ids, owner, b["owner_name"]):
                    continue
                if prefix and not b["name"].lower().startswith(prefix.lower()):
                    continue
                if latest:
                    count = seen.get(b["name"], 0)
                    limit = 1 if latest is True else int(latest)
                    if count >= limit:
                        continue
                    seen[b["name"]] = count + 1
                row = self._build(b)
                row.update(tag_id=t["id"], tag_name=t["name"], create_event=event)
                for key in ("source", "cg_id", "cg_name", "extra", "promoter_id",
                            "promoter_name", "promotion_time", "promotion_ts",
                            "creation_ts", "start_ts", "completion_ts"):
                    row.pop(key)
                out.append(row)
        return out

    def _tagged_rpms(self, builds, arch=None, rpmsigs=False, extra=True):
        if isinstance(arch, str):
            arch = [arch]
        rpms = []
        for b in builds:
            for r in self._d.builds[b["build_id"]]["rpms"]:
                if arch and r["arch"] not in arch:
                    continue
                row = self._rpm(r)
                for key in ("nvr", "external_repo_id", "external_repo_name"):
                    row.pop(key)
                if not extra:
                    row.pop("extra")
                if rpmsigs:
                    row["sigkey"] = ""
                rpms.append(row)
        return [rpms, builds]

    # --- the API ----------------------------------------------------------

    def getAPIVersion(self):
        return API_VERSION

    def getKojiVersion(self):
        return KOJI_VERSION

    def getLoggedInUser(self):
        return None

    def getLastEvent(self, before=None, strict=True):
        return {"id": self._d.last_event, "ts": 1715600000.0}

    def echo(self, *args):
        return list(args)

    def getBuild(self, buildInfo, strict=False):
        b = self._find_build(buildInfo)
        if b is None:
            if strict:
                raise GenericError("No such build: %s" % buildInfo)
            return None
        return self._build(b)

    def getBuildType(self, buildInfo, strict=False):
        if self.getBuild(buildInfo, strict=strict) is None:
            return None
        return {"rpm": None}

    def getMavenBuild(self, buildInfo, strict=False):
        self.getBuild(buildInfo, strict=strict)
        return None

    def getWinBuild(self, buildInfo, strict=False):
        self.getBuild(buildInfo, strict=strict)
        return None

    def getImageBuild(self, buildInfo, strict=False):
        self.getBuild(buildInfo, strict=strict)
        return None

    def listArchives(self, buildID=None, buildrootID=None, componentBuildrootID=None,
                     hostID=None, type=None, filename=None, size=None, checksum=None,
                     checksum_type=None, typeInfo=None, queryOpts=None, imageID=None,
                     archiveID=None, strict=False):
        # Every build here is an rpm build: none has archives.
        return query_opts([], queryOpts)

    def listBuilds(self, packageID=None, userID=None, taskID=None, prefix=None, state=None,
                   volumeID=None, source=None, createdBefore=None, createdAfter=None,
                   completeBefore=None, completeAfter=None, type=None, typeInfo=None,
                   queryOpts=None, pattern=None, cgID=None, draft=None):
        rows = []
        for b in sorted(self._d.builds.values(), key=lambda b: b["build_id"]):
            if not self._matches(self._d.package_ids, packageID, b["name"]):
                continue
            if not self._matches(self._d.user_ids, userID, b["owner_name"]):
                continue
            if taskID is not None and taskID != b["task_id"]:
                continue
            if prefix and not b["name"].lower().startswith(prefix.lower()):
                continue
            if state is not None and state != BUILD_COMPLETE:
                continue
            if pattern and not fnmatch.fnmatch(b["nvr"], pattern):
                continue
            if type not in (None, "rpm") or draft:
                continue
            rows.append(self._build(b))
        return query_opts(rows, queryOpts)

    def getPackage(self, info, strict=False, create=False):
        for name, pid in self._d.package_ids.items():
            if info in (name, pid):
                return {"id": pid, "name": name}
        if strict:
            raise GenericError("No such package: %s" % info)
        return None

    def getPackageID(self, name, strict=False):
        pkg = self.getPackage(name, strict=strict)
        return pkg and pkg["id"]

    def getUser(self, userInfo=None, strict=False, krb_princs=True, groups=False):
        for name, uid in self._d.user_ids.items():
            if userInfo in (name, uid):
                return {"id": uid, "name": name, "status": 0, "usertype": 0,
                        "krb_principals": []}
        if strict:
            raise GenericError("No such user: %r" % userInfo)
        return None

    def getTaskInfo(self, task_id, request=False, strict=False):
        if isinstance(task_id, list):
            return [self.getTaskInfo(t, request, strict) for t in task_id]
        for b in self._d.builds.values():
            if b["task_id"] == task_id:
                info = {
                    "id": task_id, "method": "build", "arch": "noarch",
                    "state": TASK_CLOSED, "owner": self._d.user_ids[b["owner_name"]],
                    "parent": None,
                    "label": None, "channel_id": 1, "host_id": None, "priority": 50,
                    "weight": 0.2, "waiting": None, "awaited": None,
                    "create_time": iso(b["start_ts"] - 60), "create_ts": b["start_ts"] - 60.0,
                    "start_time": iso(b["start_ts"]), "start_ts": float(b["start_ts"]),
                    "completion_time": iso(b["completion_ts"]),
                    "completion_ts": float(b["completion_ts"]),
                }
                if request:
                    info["request"] = [b["source"], b["target"], {}]
                return info
        if strict:
            raise GenericError("No such task: %s" % task_id)
        return None

    def getRPM(self, rpminfo, strict=False, multibuild=False):
        r = self._find_rpm(rpminfo)
        if r is None:
            if strict:
                raise GenericError("No such rpm: %s" % rpminfo)
            return None
        row = self._rpm(r)
        row.pop("nvr")
        if multibuild:
            return [row]
        return row

    def listRPMs(self, buildID=None, buildrootID=None, imageID=None, componentBuildrootID=None,
                 hostID=None, arches=None, queryOpts=None, draft=None):
        if isinstance(arches, str):
            arches = [arches]
        rows = []
        for r in sorted(self._d.rpms.values(), key=lambda r: r["id"]):
            if buildID is not None and r["build_id"] != buildID:
                continue
            if buildrootID is not None and self._rpm(r)["buildroot_id"] != buildrootID:
                continue
            if imageID is not None or componentBuildrootID is not None or hostID is not None:
                continue
            if arches and r["arch"] not in arches:
                continue
            if draft:
                continue
            rows.append(self._rpm(r))
        return query_opts(rows, queryOpts)

    def listBuildRPMs(self, build):
        b = self._find_build(build)
        if b is None:
            raise GenericError("No such build: %s" % build)
        return self.listRPMs(buildID=b["build_id"])

    def queryRPMSigs(self, rpm_id=None, sigkey=None, queryOpts=None):
        if rpm_id is not None and not isinstance(rpm_id, int):
            r = self._find_rpm(rpm_id)
            rpm_id = r["id"] if r else -1
        rows = []
        for r in sorted(self._d.rpms.values(), key=lambda r: r["id"]):
            if rpm_id is not None and r["id"] != rpm_id:
                continue
            # Only the unsigned copies exist: their sigkey is ''.
            if sigkey not in (None, ""):
                continue
            rows.append({"rpm_id": r["id"], "sigkey": "", "sighash": r["sighash"]})
        return query_opts(rows, queryOpts)

    def getChangelogEntries(self, buildID=None, taskID=None, filepath=None, author=None,
                            before=None, after=None, queryOpts=None, strict=False):
        b = self._find_build(buildID) if buildID is not None else None
        if b is None:
            if strict:
                raise GenericError("No such build: %s" % buildID)
            return []
        rows = []
        for e in b["changelog"]:
            if author and e["author"] != author:
                continue
            rows.append({"date": datetime.datetime.fromtimestamp(
                e["date_ts"], datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                "date_ts": e["date_ts"], "author": e["author"], "text": e["text"]})
        return query_opts(rows, queryOpts)

    def getBuildLogs(self, build):
        b = self._find_build(build)
        if b is None:
            raise GenericError("No such build: %s" % build)
        return [{"name": log["name"], "dir": log["arch"], "path": log["file"]}
                for log in b["logs"]]

    def getTag(self, tagInfo, strict=False, event=None, blocked=False):
        tag = self._find_tag(tagInfo)
        if tag is None:
            if strict:
                raise GenericError("No such tagInfo: %r" % tagInfo)
            return None
        return self._tag(tag)

    def getTagID(self, info, strict=False, create=False):
        tag = self._tag_id_strict(info) if strict else self._find_tag(info)
        return tag and tag["id"]

    def listTags(self, build=None, package=None, perms=True, queryOpts=None, pattern=None):
        tags = sorted(self._d.tags.values(), key=lambda t: t["id"])
        if build is not None:
            b = self._find_build(build)
            if b is None:
                raise GenericError("No such build: %s" % build)
            tags = [t for t in tags if any(bid == b["build_id"] for _e, bid in t["listing"])]
        if package is not None:
            pkg = self.getPackage(package)
            if pkg is None:
                raise GenericError("No such package: %s" % package)
            # The package list of a tag is taken to be what is tagged in it.
            tags = [t for t in tags if any(self._d.builds[bid]["name"] == pkg["name"]
                                           for _e, bid in t["listing"])]
        if pattern:
            tags = [t for t in tags if fnmatch.fnmatch(t["name"], pattern)]
        return query_opts([self._tag(t) for t in tags], queryOpts)

    def getFullInheritance(self, tag, event=None, reverse=False):
        tag = self._tag_id_strict(tag)
        if reverse:
            raise GenericError("reverse inheritance is not served by this test hub")
        return [{"child_id": child["id"], "parent_id": parent["id"], "name": parent["name"],
                 "priority": priority, "maxdepth": None, "intransitive": False,
                 "noconfig": False, "pkg_filter": "", "currdepth": depth,
                 "nextdepth": None, "filter": []}
                for child, parent, depth, priority in self._inheritance(tag)]

    def getInheritanceData(self, tag, event=None):
        tag = self._tag_id_strict(tag)
        return [{"child_id": tag["id"], "parent_id": self._d.tag_by_name[name]["id"],
                 "name": name, "priority": i * 10, "maxdepth": None, "intransitive": False,
                 "noconfig": False, "pkg_filter": ""}
                for i, name in enumerate(tag["parents"])]

    def listTagged(self, tag, event=None, inherit=False, prefix=None, latest=False,
                   package=None, owner=None, type=None, strict=True, extra=False, draft=None):
        t = self._tag_strict(tag) if strict else self._find_tag(tag)
        if t is None:
            return []
        rows = self._tagged(t, inherit=inherit, latest=latest, package=package, owner=owner,
                            prefix=prefix, btype=type, draft=draft)
        if extra:
            for row in rows:
                row["extra"] = None
        return rows

    def listTaggedRPMS(self, tag, event=None, inherit=False, latest=False, package=None,
                       arch=None, rpmsigs=False, owner=None, type=None, strict=True,
                       extra=True, draft=None):
        t = self._tag_strict(tag) if strict else self._find_tag(tag)
        if t is None:
            return [[], []]
        builds = self._tagged(t, inherit=inherit, latest=latest, package=package, owner=owner,
                              btype=type, draft=draft)
        return self._tagged_rpms(builds, arch=arch, rpmsigs=rpmsigs, extra=extra)

    def getLatestBuilds(self, tag, event=None, package=None, type=None, draft=None):
        t = self._tag_id_strict(tag)
        return self._tagged(t, inherit=True, latest=True, package=package, btype=type,
                            draft=draft)

    def getLatestRPMS(self, tag, package=None, arch=None, event=None, rpmsigs=False,
                      type=None, draft=None):
        t = self._tag_id_strict(tag)
        builds = self._tagged(t, inherit=True, latest=True, package=package, btype=type,
                              draft=draft)
        return self._tagged_rpms(builds, arch=arch, rpmsigs=rpmsigs)


class Hub(ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, data):
        super().__init__(addr, requestHandler=Handler, logRequests=False, allow_none=True)
        self.data = data
        self.exports = RootExports(data)
        self.funcs = {name: getattr(self.exports, name) for name in dir(self.exports)
                      if not name.startswith("_")}
        self.funcs["system.listMethods"] = lambda: sorted(self.funcs)
        self.funcs["system.methodSignature"] = lambda method: "signatures not supported"
        self.funcs["system.methodHelp"] = self.method_help
        self.funcs["_listapi"] = self.list_api

    def method_help(self, method):
        func = self.funcs.get(method)
        if func is None:
            return ""
        return "%s%s" % (method, inspect.signature(func))

    def list_api(self):
        api = []
        for name, func in sorted(self.funcs.items()):
            params = inspect.signature(func).parameters.values()
            api.append({
                "name": name, "doc": func.__doc__,
                "argdesc": "(%s)" % ", ".join(str(p) for p in params),
                "args": [[p.name, p.default] if p.default is not p.empty else p.name
                         for p in params],
            })
        return api

    def _dispatch(self, method, params):
        if method in ("multiCall", "system.multicall"):
            return self.multi_call(*params)
        try:
            return self.call(method, params)
        except GenericError as e:
            raise xmlrpc.client.Fault(e.faultCode, str(e))
        except xmlrpc.client.Fault:
            raise
        except Exception as e:
            traceback.print_exc()
            raise xmlrpc.client.Fault(1, "%s: %s" % (type(e), e))

    def call(self, method, params):
        func = self.funcs.get(method)
        if func is None:
            raise GenericError("Invalid method: %s" % method)
        args, kwargs = list(params), {}
        if args and isinstance(args[-1], dict) and args[-1].get("__starstar"):
            kwargs = dict(args.pop())
            del kwargs["__starstar"]
        try:
            return func(*args, **kwargs)
        except TypeError as e:
            # Like koji.util.call_with_argcheck: only a bad call is a ParameterError.
            if sys.exc_info()[2].tb_next is None:
                raise ParameterError(str(e))
            raise

    def multi_call(self, calls):
        results = []
        for c in calls:
            try:
                results.append([self.call(c["methodName"], c["params"])])
            except xmlrpc.client.Fault as f:
                results.append({"faultCode": f.faultCode, "faultString": f.faultString})
            except Exception as e:
                if not isinstance(e, GenericError):
                    traceback.print_exc()
                results.append({
                    "faultCode": getattr(e, "faultCode", 1),
                    "faultString": ", ".join(str(a) for a in e.args),
                    "traceback": traceback.format_exception(type(e), e, e.__traceback__),
                })
        return results


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/kojihub", "/kojihub/")
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.send_file(head=False)

    def do_HEAD(self):
        self.send_file(head=True)

    def reply(self, code, body, ctype="text/plain", extra=()):
        body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_file(self, head):
        path = self.path.split("?", 1)[0]
        if path.rstrip("/") in self.rpc_paths:
            return self.reply(405, "Method Not Allowed\nThis is an XML-RPC server. "
                              "Only POST requests are accepted.\n", extra=[("Allow", "POST")])
        top = self.server.data.topdir
        prefix = "/kojifiles/"
        if not top or not path.startswith(prefix):
            return self.reply(404, "Not Found\n")
        rel = os.path.normpath(path[len(prefix):])
        full = os.path.join(top, rel)
        if rel.startswith("..") or os.path.isabs(rel) or not os.path.isfile(full):
            return self.reply(404, "Not Found\n")
        size = os.path.getsize(full)
        start, end, code = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and "," not in rng:
            first, _, last = rng[6:].partition("-")
            try:
                if first:
                    start = int(first)
                    end = min(int(last), size - 1) if last else size - 1
                else:
                    start = max(size - int(last), 0)
            except ValueError:
                start, end = 0, size - 1
            else:
                if start >= size or start > end:
                    return self.reply(416, "Requested Range Not Satisfiable\n",
                                      extra=[("Content-Range", "bytes */%d" % size)])
                code = 206
        self.send_response(code)
        self.send_header("Content-Type", "application/x-rpm" if rel.endswith(".rpm")
                         else "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", formatdate(os.path.getmtime(full), usegmt=True))
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if head:
            return
        with open(full, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 16))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fixtures", help="directory made by build_fixtures.py")
    args = ap.parse_args()
    data = Data(os.path.abspath(args.fixtures) if args.fixtures else None)
    server = Hub(("127.0.0.1", args.port), data)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
