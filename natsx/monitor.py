"""The monitoring HTTP endpoint (``-m/--http_port``): nats-server's /varz, /connz, /subsz, ...

Every JSON document uses nats-server's field names, order and value encodings (Go durations in
nanoseconds, RFC 3339 UTC timestamps with nanoseconds, Go's float and string formatting) so that
dashboards, the ``nats`` CLI and Prometheus exporters read natsx exactly as they read nats-server.

The HTTP server is a small asyncio HTTP/1.1 implementation (keep-alive, GET/HEAD) because the
endpoint serves a few requests per second at most; it never touches the message hot path.
Renderers are plain functions ``name(server, params) -> dict`` so tests and the system account's
$SYS.REQ.SERVER.PING.* handlers can reuse them without HTTP.
"""
from __future__ import annotations

import asyncio
import email.utils
import os
import time
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

import natsx
from natsx.accounts import GLOBAL_ACCOUNT
from natsx.gofmt import epoch_ns, go_duration, go_json, go_quote, go_time
from natsx._core.sublist import is_valid_literal_subject, subject_matches

__all__ = [
    "start_monitor", "MonitorServer", "MonitorError", "closed_conn_snapshot", "render",
    "varz", "connz", "subsz", "routez", "healthz", "accountz", "accstatz", "jsz", "gatewayz",
    "leafz", "root_html", "go_uptime",
]

DEFAULT_CONN_LIST_SIZE = 1024   # nats-server DefaultConnListSize
DEFAULT_SUB_LIST_SIZE = 1024    # nats-server DefaultSubListSize
MAX_HEADER_BYTES = 1 << 20      # Go http.DefaultMaxHeaderBytes
READ_TIMEOUT = 10.0             # a silent HTTP connection is dropped after this long
NS = 1_000_000_000
NOT_FOUND = b"404 page not found\n"


class MonitorError(Exception):
    """A request nats-server answers with a plain-text error (400 unless told otherwise)."""

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


# ---- nats-server value encodings ---------------------------------------------------------------

def go_uptime(seconds: float) -> str:
    """nats-server's myUptime: whole seconds shown as [Ny][Nd][Nh][Nm]Ns."""
    tsecs = max(int(seconds), 0)
    tmins, thrs = tsecs // 60, tsecs // 3600
    tdays = thrs // 24
    tyrs = tdays // 365
    if tyrs:
        return f"{tyrs}y{tdays % 365}d{thrs % 24}h{tmins % 60}m{tsecs % 60}s"
    if tdays:
        return f"{tdays}d{thrs % 24}h{tmins % 60}m{tsecs % 60}s"
    if thrs:
        return f"{thrs}h{tmins % 60}m{tsecs % 60}s"
    if tmins:
        return f"{tmins}m{tsecs % 60}s"
    return f"{tsecs}s"


def _rtt_string(rtt: Optional[float]) -> str:
    """A client's RTT as nats-server prints it (getRTT: µs-truncated below 1ms)."""
    if not rtt:
        return "0s"
    ns = int(rtt * NS)
    if 1_000 < ns < 1_000_000:
        ns -= ns % 1_000
    return go_duration(ns)


# ---- query parameters (Go's strconv errors, verbatim) ----------------------------------------

def _param(params: Mapping[str, str], name: str) -> str:
    return params.get(name, "") or ""


def decode_bool(params: Mapping[str, str], name: str) -> bool:
    s = _param(params, name)
    if s == "":
        return False
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if s in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise MonitorError(f"Error decoding boolean for '{name}': strconv.ParseBool: parsing {go_quote(s)}: invalid syntax")


def _parse_go_int(s: str, signed: bool) -> Optional[int]:
    body = s[1:] if signed and s[:1] in "+-" else s
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(s)


def _decode_go_int(params: Mapping[str, str], name: str, signed: bool) -> int:
    """strconv.Atoi (signed) or strconv.ParseUint, with Go's error texts."""
    s = _param(params, name)
    if s == "":
        return 0
    kind, func, bits = ("int", "strconv.Atoi", 63) if signed else ("uint64", "strconv.ParseUint", 64)
    v = _parse_go_int(s, signed=signed)
    problem = None
    if v is None:
        problem = "invalid syntax"
    elif not (-(1 << 63) if signed else 0) <= v < (1 << bits):
        problem = "value out of range"
    if problem:
        raise MonitorError(f"Error decoding {kind} for '{name}': {func}: parsing {go_quote(s)}: {problem}")
    return v


def decode_int(params: Mapping[str, str], name: str) -> int:
    return _decode_go_int(params, name, signed=True)


def decode_uint64(params: Mapping[str, str], name: str) -> int:
    return _decode_go_int(params, name, signed=False)


def decode_subs(params: Mapping[str, str]) -> tuple[bool, bool]:
    """(subs, subs_detail) from ?subs=1 / ?subs=detail."""
    if _param(params, "subs").lower() == "detail":
        return False, True
    return decode_bool(params, "subs"), False


CONN_OPEN, CONN_CLOSED, CONN_ALL = 0, 1, 2


def decode_state(params: Mapping[str, str]) -> int:
    s = _param(params, "state")
    if s == "":
        return CONN_OPEN
    st = {"open": CONN_OPEN, "closed": CONN_CLOSED, "any": CONN_ALL, "all": CONN_ALL}.get(s.lower())
    if st is None:
        raise MonitorError(f"Error decoding state for {s}")
    return st


# ---- process usage (nats-server's pse_linux.go) ----------------------------------------------

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class _ProcUsage:
    """%CPU over the last sampling window (>= 1s, like nats-server's 1s periodic sampler) and RSS."""

    def __init__(self) -> None:
        self.last_ticks = 0
        self.last_time: Optional[float] = None
        self.pcpu = 0.0

    @staticmethod
    def _cpu_ticks() -> Optional[tuple[int, float]]:
        """(utime+stime ticks, seconds the process has been running)."""
        try:
            with open("/proc/self/stat", "rb") as f:
                data = f.read()
            with open("/proc/uptime", "rb") as f:
                uptime = float(f.read().split()[0])
        except OSError:
            return None
        # The command name may contain spaces: fields start after the closing paren.
        fields = data[data.rindex(b")") + 2:].split()
        utime, stime, starttime = int(fields[11]), int(fields[12]), int(fields[19])
        return utime + stime, uptime - starttime / _CLK_TCK

    def sample(self) -> tuple[float, int]:
        now = time.monotonic()
        if self.last_time is None or now - self.last_time >= 1.0:
            r = self._cpu_ticks()
            if r is not None:
                ticks, running = r
                if self.last_time is None:
                    window, dticks = running, ticks
                else:
                    window, dticks = now - self.last_time, ticks - self.last_ticks
                if window > 0:
                    # nats-server: (ticks*1000/hz)/seconds in per-mille, then /10.
                    self.pcpu = int(dticks * 1000 / _CLK_TCK / window) / 10.0
                self.last_ticks, self.last_time = ticks, now
        return self.pcpu, self.rss()

    @staticmethod
    def rss() -> int:
        try:
            with open("/proc/self/statm", "rb") as f:
                return int(f.read().split()[1]) * _PAGE_SIZE
        except OSError:
            import resource
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_usage = _ProcUsage()


# ---- server accessors (tolerant of what the server object does not have yet) ---------------

def _opt(server: Any, name: str, default: Any = None) -> Any:
    return getattr(getattr(server, "options", None), name, default)


def _secs_to_ns(v: Any) -> int:
    return int(round(float(v or 0) * NS))


def _listen_port(server: Any) -> int:
    for attr in ("port", "client_port", "bound_port"):
        p = getattr(server, attr, None)
        if isinstance(p, int) and p:
            return p
    return _opt(server, "port", 0) or 0


def _account_name(client: Any) -> str:
    acc = getattr(client, "account", None)
    if acc is None:
        return GLOBAL_ACCOUNT
    return getattr(acc, "name", None) or str(acc)


def _system_account(server: Any) -> str:
    acc = getattr(server, "system_account", None) or _opt(server, "system_account", "")
    if not acc:
        return ""
    return getattr(acc, "name", None) or str(acc)


def _accounts(server: Any) -> list[str]:
    names = getattr(server, "accounts", None)
    if isinstance(names, Mapping):
        out = [str(n) for n in names]
    elif names:
        out = [getattr(a, "name", None) or str(a) for a in names]
    else:
        out = [GLOBAL_ACCOUNT]
    sysacc = _system_account(server)
    if sysacc and sysacc not in out:
        out.append(sysacc)
    return out


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)


def _sub_detail(sub: Any, cid: int, account: Optional[str]) -> dict:
    """nats-server SubDetail; account/account_tag only in the server-wide lists."""
    d: dict[str, Any] = {}
    if account:
        d["account"] = account
        d["account_tag"] = account
    d["subject"] = _text(sub.subject)
    if sub.queue:
        d["qgroup"] = _text(sub.queue)
    d["sid"] = _text(sub.sid)
    d["msgs"] = int(getattr(sub, "delivered", 0))
    mx = int(getattr(sub, "max_msgs", 0) or 0)
    if mx:
        d["max"] = mx
    d["cid"] = cid
    return d


def _clients_by_sink(server: Any) -> dict[int, Any]:
    """id(subscriber) -> client: a Subscription's owner is the connection's ClientSink."""
    return {id(c.sink): c for c in list(server.clients.values()) if getattr(c, "sink", None) is not None}


# ---- /varz -------------------------------------------------------------------------------------

def varz(server: Any, params: Mapping[str, str] | None = None, http_port: Optional[int] = None) -> dict:
    now = time.time_ns()
    pcpu, rss = _usage.sample()
    core = server.core
    auth = getattr(getattr(server, "authenticator", None), "required", False)
    in_msgs, in_bytes = int(core.in_msgs), int(core.in_bytes)
    out_msgs, out_bytes = int(core.out_msgs), int(core.out_bytes)
    slow = int(core.slow_consumers)
    stale = int(getattr(server, "stale_connections", 0))
    start = getattr(server, "start_time", None) or time.time()
    v: dict[str, Any] = {
        "server_id": server.server_id,
        "server_name": server.name,
        "version": natsx.NATS_SERVER_VERSION,
        "proto": 1,
    }
    if getattr(server, "git_commit", ""):
        v["git_commit"] = server.git_commit
    v["go"] = getattr(server, "runtime_version", "")
    v["host"] = _opt(server, "host", "0.0.0.0")
    v["port"] = _listen_port(server)
    if auth:
        v["auth_required"] = True
    v.update({
        "max_connections": _opt(server, "max_connections", 65536),
        "ping_interval": _secs_to_ns(_opt(server, "ping_interval", 120)),
        "ping_max": _opt(server, "ping_max", 2),
        "http_host": _opt(server, "http_host", None) or _opt(server, "host", "0.0.0.0"),
        "http_port": http_port if http_port is not None else (_opt(server, "http_port", 0) or 0),
        "http_base_path": _opt(server, "http_base_path", "") or "",
        "https_port": _opt(server, "https_port", 0) or 0,
        "auth_timeout": float(_opt(server, "auth_timeout", 2.0)),
        "max_control_line": _opt(server, "max_control_line", 4096),
        "max_payload": _opt(server, "max_payload", 1048576),
        "max_pending": _opt(server, "max_pending", 67108864),
        "cluster": {},
        "gateway": {},
        "leaf": {},
        "mqtt": {},
        "websocket": {},
        "jetstream": {},
        "tls_timeout": float(_opt(server, "tls_timeout", 2.0) or 2.0),
        "write_deadline": _secs_to_ns(_opt(server, "write_deadline", 10)),
        "start": go_time(start),
        "now": go_time(now),
        "uptime": go_uptime(now / NS - start),
        "mem": rss,
        "cores": os.cpu_count() or 1,
        "gomaxprocs": 1,   # GOMAXPROCS counts threads running server code at once: natsx has one loop
        "cpu": pcpu,
        "connections": len(server.clients),
        "total_connections": int(getattr(server, "total_connections", 0)),
        "routes": 0,
        "remotes": 0,
        "leafnodes": 0,
        "in_msgs": in_msgs,
        "in_bytes": in_bytes,
        "in_client_msgs": in_msgs,       # every natsx connection is a client
        "in_client_bytes": in_bytes,
        "out_msgs": out_msgs,
        "out_bytes": out_bytes,
        "out_client_msgs": out_msgs,
        "out_client_bytes": out_bytes,
        "slow_consumers": slow,
        "stale_connections": stale,
        "stalled_clients": int(getattr(server, "stalled_clients", 0)),
        "subscriptions": int(server.sublist.count),
        "http_req_stats": dict(sorted(getattr(server, "http_req_stats", {}).items())),
        "config_load_time": go_time(getattr(server, "config_load_time", None) or start),
        "config_digest": getattr(server, "config_digest", "") or "",
        "feature_flags": {},
    })
    sysacc = _system_account(server)
    if sysacc:
        v["system_account"] = sysacc
    v["slow_consumer_stats"] = {"clients": slow, "routes": 0, "gateways": 0, "leafs": 0}
    v["stale_connection_stats"] = {"clients": stale, "routes": 0, "gateways": 0, "leafs": 0}
    v["disk_io_wait_stats"] = {"waiters": 0, "waits": 0, "wait_time": 0, "max_wait_time": 0}
    return v


# ---- /connz ------------------------------------------------------------------------------------

SORT_OPTS = ("cid", "start", "subs", "pending", "msgs_to", "msgs_from", "bytes_to", "bytes_from",
             "last", "idle", "uptime", "stop", "reason", "rtt")


def _conn_info(client: Any, now_ns: int) -> dict:
    """ConnInfo for an open client, in nats-server's field order (optional parts added later)."""
    start, last = epoch_ns(client.start), epoch_ns(client.last_activity)
    ci: dict[str, Any] = {
        "cid": client.cid,
        "kind": "Client",
        "type": "nats",
        "ip": client.host or "",
        "port": client.port or 0,
        "start": go_time(start),
        "last_activity": go_time(last),
        "rtt": _rtt_string(getattr(client, "rtt", None)),
        "uptime": go_uptime((now_ns - start) / NS),
        "idle": go_uptime((now_ns - last) / NS),
        "pending_bytes": int(client.pending_bytes()),
        "in_msgs": int(client.in_msgs),
        "out_msgs": int(client.out_msgs),
        "in_bytes": int(client.in_bytes),
        "out_bytes": int(client.out_bytes),
        "subscriptions": len(client.subs),
    }
    for k in ("name", "lang", "version"):
        val = getattr(client, k, "")
        if val:
            ci[k] = val
    return ci


def closed_conn_snapshot(client: Any, reason: str, stop: Optional[float] = None) -> dict:
    """What server.closed_clients should keep for /connz?state=closed (take it before the
    client's subscriptions are removed, so subs=1/detail can list them)."""
    acc = _account_name(client)
    return {
        "cid": client.cid, "ip": client.host, "port": client.port, "start": client.start,
        "stop": stop if stop is not None else time.time(), "reason": reason,
        "name": client.name, "lang": client.lang, "version": client.version, "user": client.user,
        "account": acc,
        "in_msgs": int(client.in_msgs), "in_bytes": int(client.in_bytes),
        "out_msgs": int(client.out_msgs), "out_bytes": int(client.out_bytes),
        "last_activity": client.last_activity, "rtt": getattr(client, "rtt", None),
        "pending_bytes": int(client.pending_bytes()),
        "subscriptions": len(client.subs),
        "subs": [_sub_detail(s, client.cid, acc) for s in list(client.subs.values())],
    }


def _closed_info(cc: Mapping[str, Any]) -> dict:
    """ConnInfo (plus private sort/filter keys) from a closed_clients entry."""
    start = epoch_ns(cc.get("start") or 0)
    stop = epoch_ns(cc.get("stop") or 0)
    last = epoch_ns(cc.get("last_activity") or cc.get("start") or 0)
    subs = list(cc.get("subs") or [])
    ci: dict[str, Any] = {
        "cid": cc["cid"], "kind": "Client", "type": "nats",
        "ip": cc.get("ip") or "", "port": cc.get("port") or 0,
        "start": go_time(start), "last_activity": go_time(last),
        "stop": go_time(stop), "reason": cc.get("reason") or "",
        "rtt": _rtt_string(cc.get("rtt")),
        "uptime": go_uptime((stop - start) / NS), "idle": go_uptime((stop - last) / NS),
        "pending_bytes": int(cc.get("pending_bytes") or 0),
        "in_msgs": int(cc.get("in_msgs") or 0), "out_msgs": int(cc.get("out_msgs") or 0),
        "in_bytes": int(cc.get("in_bytes") or 0), "out_bytes": int(cc.get("out_bytes") or 0),
        "subscriptions": int(cc.get("subscriptions") or len(subs)),
    }
    for k in ("name", "lang", "version"):
        if cc.get(k):
            ci[k] = cc[k]
    ci.update(_start_ns=start, _stop_ns=stop, _last_ns=last, _rtt=float(cc.get("rtt") or 0.0),
              _user=cc.get("user") or "", _account=cc.get("account") or GLOBAL_ACCOUNT, _subs=subs)
    return ci


_CONNINFO_TAIL = ("authorized_user", "account", "subscriptions_list", "subscriptions_list_detail",
                  "jwt", "issuer_key", "name_tag", "tags", "mqtt_client")


def _finish(ci: dict) -> dict:
    """Drop private keys and put the optional tail fields in nats-server's order."""
    head = {k: v for k, v in ci.items() if not k.startswith("_") and k not in _CONNINFO_TAIL}
    for k in _CONNINFO_TAIL:
        if k in ci:
            head[k] = ci[k]
    return head


def connz(server: Any, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    sort_opt = _param(params, "sort")
    auth = decode_bool(params, "auth")
    subs, subs_det = decode_subs(params)
    offset = decode_int(params, "offset")
    limit = decode_int(params, "limit")
    cid = decode_uint64(params, "cid")
    state = decode_state(params)
    user = _param(params, "user")
    acc = _param(params, "acc")
    mqtt_client = _param(params, "mqtt_client")
    filter_subject = _param(params, "filter_subject")

    if sort_opt and sort_opt not in SORT_OPTS:
        raise MonitorError(f"invalid sorting option: {sort_opt}")
    sort_opt = sort_opt or "cid"
    offset = max(offset, 0)
    if limit <= 0:
        limit = DEFAULT_CONN_LIST_SIZE
    if sort_opt == "stop" and state != CONN_CLOSED:
        raise MonitorError("sort by stop only valid on closed connections")
    if sort_opt == "reason" and state != CONN_CLOSED:
        raise MonitorError("sort by reason only valid on closed connections")
    if cid > 0:
        limit = 1
    filt = ""
    if filter_subject and filter_subject != ">":
        if not acc:
            raise MonitorError("filter by subject only valid with account filtering")
        filt = filter_subject

    now_ns = time.time_ns()
    out: dict[str, Any] = {"server_id": server.server_id, "now": go_time(now_ns),
                           "num_connections": 0, "total": 0, "offset": offset, "limit": limit,
                           "connections": []}
    if acc and acc not in _accounts(server):
        return out

    open_clients: list = []
    closed: list[dict] = []
    clients = dict(server.clients)
    if state in (CONN_CLOSED, CONN_ALL):
        closed = [_closed_info(cc) for cc in list(getattr(server, "closed_clients", ()) or ())]
        if acc:
            closed = [cc for cc in closed if cc.get("_account", GLOBAL_ACCOUNT) == acc]
    if acc:
        clients = {k: c for k, c in clients.items() if _account_name(c) == acc}
    total = (len(clients) if state != CONN_CLOSED else 0) + len(closed)
    if cid > 0:
        if state in (CONN_CLOSED, CONN_ALL):
            closed = [cc for cc in closed if cc.get("cid") == cid][:1]
        elif cid in clients:
            open_clients = [clients[cid]]
    elif state in (CONN_OPEN, CONN_ALL):
        for c in clients.values():
            if user and (getattr(c, "user", "") or "") != user:
                continue
            if mqtt_client:
                continue                       # natsx has no MQTT clients
            open_clients.append(c)
    if filt:
        open_clients = [c for c in open_clients
                        if any(_subjects_collide(filt, _text(s.subject)) for s in list(c.subs.values()))]
    out["total"] = total

    infos: list[dict] = []
    for c in open_clients:
        ci = _conn_info(c, now_ns)
        ci["_start_ns"], ci["_last_ns"] = epoch_ns(c.start), epoch_ns(c.last_activity)
        ci["_rtt"] = float(getattr(c, "rtt", None) or 0.0)
        sub_list = list(c.subs.values())
        if sub_list:
            if subs_det:
                ci["subscriptions_list_detail"] = [_sub_detail(s, c.cid, None) for s in sub_list]
            elif subs:
                ci["subscriptions_list"] = [_text(s.subject) for s in sub_list]
        if auth:
            if getattr(c, "user", ""):
                ci["authorized_user"] = c.user
            name = _account_name(c)
            if name != GLOBAL_ACCOUNT:
                ci["account"] = name
            ci["name_tag"] = name
        infos.append(ci)
    for cc in closed:
        if user and cc.get("_user", "") != user:
            continue
        if mqtt_client:
            continue
        ci = cc   # a fresh dict from _closed_info
        sub_list = cc["_subs"]
        if sub_list:
            if subs_det:
                ci["subscriptions_list_detail"] = sub_list
            elif subs:
                ci["subscriptions_list"] = [d["subject"] for d in sub_list]
        if auth:
            if cc.get("_user"):
                ci["authorized_user"] = cc["_user"]
            a = cc.get("_account", GLOBAL_ACCOUNT)
            if a and a != GLOBAL_ACCOUNT:
                ci["account"] = a
                ci["name_tag"] = a
        infos.append(ci)
    key = _SORT_KEYS[sort_opt]
    infos.sort(key=lambda ci: ci["cid"])
    if sort_opt in ("cid", "start", "uptime", "reason"):
        infos.sort(key=lambda ci: key(ci, now_ns))
    else:
        infos.sort(key=lambda ci: key(ci, now_ns), reverse=True)
    # total counts before the user filter (as nats-server's does); paging uses what is left.
    page = infos[offset:offset + limit]
    out["num_connections"] = len(page)
    out["connections"] = [_finish(ci) for ci in page]
    return out


def _uptime_key(ci: dict, now_ns: int) -> int:
    return ci.get("_stop_ns", now_ns) - ci.get("_start_ns", 0)


_SORT_KEYS: dict[str, Callable[[dict, int], Any]] = {
    "cid": lambda ci, now: ci["cid"],
    "start": lambda ci, now: ci["cid"],
    "subs": lambda ci, now: ci["subscriptions"],
    "pending": lambda ci, now: ci["pending_bytes"],
    "msgs_to": lambda ci, now: ci["out_msgs"],
    "msgs_from": lambda ci, now: ci["in_msgs"],
    "bytes_to": lambda ci, now: ci["out_bytes"],
    "bytes_from": lambda ci, now: ci["in_bytes"],
    "last": lambda ci, now: ci.get("_last_ns", 0),
    "idle": lambda ci, now: now - ci.get("_last_ns", 0),
    "uptime": _uptime_key,
    "stop": lambda ci, now: ci.get("_stop_ns", 0),
    "reason": lambda ci, now: ci.get("reason", ""),
    "rtt": lambda ci, now: ci.get("_rtt", 0.0),
}


def _subjects_collide(a: str, b: str) -> bool:
    """nats-server SubjectsCollide: could any literal subject match both (possibly wildcard) subjects?"""
    ta, tb = a.split("."), b.split(".")
    la, lb = len(ta), len(tb)
    if ">" not in ta and ">" not in tb and la != lb:
        return False
    if la < lb and ta[-1] != ">":
        return False
    if lb < la and tb[-1] != ">":
        return False
    for x, y in zip(ta, tb):
        if x == ">" or y == ">":
            return True
        if x != y and x != "*" and y != "*":
            return False
    return True


# ---- /subsz ------------------------------------------------------------------------------------

def subsz(server: Any, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    detail = decode_bool(params, "subs")
    offset = decode_int(params, "offset")
    limit = decode_int(params, "limit")
    test = _param(params, "test")
    acc = _param(params, "acc")
    offset = max(offset, 0)
    if limit <= 0:
        limit = DEFAULT_SUB_LIST_SIZE
    if test and not is_valid_literal_subject(test):
        raise MonitorError(f"invalid test subject, must be valid publish subject: {test}")

    out: dict[str, Any] = {"server_id": server.server_id, "now": go_time(time.time_ns())}
    include = not acc or acc == GLOBAL_ACCOUNT
    stats = server.sublist.stats() if include else {
        "num_subscriptions": 0, "num_cache": 0, "num_inserts": 0, "num_removes": 0,
        "num_matches": 0, "cache_hit_rate": 0.0, "max_fanout": 0, "avg_fanout": 0.0}
    out.update(stats)
    total = 0
    page: list[dict] = []
    if detail and include:
        details = []
        tb = test.encode() if test else b""
        owners = _clients_by_sink(server)
        for sub in server.sublist.all_subscriptions():
            if test and not subject_matches(tb, sub.subject):
                continue
            client = owners.get(id(sub.owner))
            if client is None:
                continue                      # server-internal subscriptions have no client
            details.append(_sub_detail(sub, client.cid, _account_name(client)))
        total = len(details)
        page = details[min(offset, total):min(offset + limit, total)]
    out.update({"total": total, "offset": offset, "limit": limit})
    if page:
        out["subscriptions_list"] = page
    return out


# ---- /routez /gatewayz /leafz /jsz /accountz /accstatz /healthz --------------------------------

def routez(server: Any, params: Mapping[str, str] | None = None) -> dict:
    decode_subs(params or {})
    return {"server_id": server.server_id, "server_name": server.name,
            "now": go_time(time.time_ns()), "num_routes": 0, "routes": []}


def gatewayz(server: Any, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    decode_bool(params, "accs")
    return {"server_id": server.server_id, "now": go_time(time.time_ns()),
            "outbound_gateways": {}, "inbound_gateways": {}}


def leafz(server: Any, params: Mapping[str, str] | None = None) -> dict:
    decode_bool(params or {}, "subs")
    return {"server_id": server.server_id, "now": go_time(time.time_ns()), "leafnodes": 0, "leafs": []}


def jsz(server: Any, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    for b in ("accounts", "streams", "consumers", "config", "leader-only", "raft", "stream-leader-only"):
        decode_bool(params, b)
    decode_int(params, "offset")
    decode_int(params, "limit")
    return {
        "memory": 0, "storage": 0, "reserved_memory": 0, "reserved_storage": 0,
        "accounts": 0, "ha_assets": 0, "api": {"level": 0, "total": 0, "errors": 0},
        "server_id": server.server_id, "now": go_time(time.time_ns()), "disabled": True,
        "config": {"max_memory": 0, "max_storage": 0},
        "streams": 0, "consumers": 0, "messages": 0, "bytes": 0, "total": 0,
    }


def _global_clients(server: Any) -> list:
    return [c for c in list(server.clients.values()) if _account_name(c) == GLOBAL_ACCOUNT]


def accountz(server: Any, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    decode_bool(params, "unused")
    acc = _param(params, "acc")
    out: dict[str, Any] = {"server_id": server.server_id, "now": go_time(time.time_ns())}
    sysacc = _system_account(server)
    if sysacc:
        out["system_account"] = sysacc
    if not acc:
        out["accounts"] = _accounts(server)
        return out
    if acc not in _accounts(server):
        raise MonitorError(f"Account {acc} does not exist")
    stats = server.sublist.stats() if acc == GLOBAL_ACCOUNT else {}
    out["account_detail"] = {
        "account_name": acc,
        "update_time": go_time(getattr(server, "start_time", None) or time.time()),
        "expired": False,
        "complete": True,
        "jetstream_enabled": False,
        "leafnode_connections": 0,
        "client_connections": len(_global_clients(server)) if acc == GLOBAL_ACCOUNT else 0,
        "subscriptions": int(server.sublist.count) if acc == GLOBAL_ACCOUNT else 0,
        "name_tag": acc,
        "sublist_stats": stats,
    }
    return out


def _msg_bytes(msgs: int, nbytes: int) -> dict:
    zero = {"msgs": 0, "bytes": 0}
    return {"msgs": msgs, "bytes": nbytes, "gateways": dict(zero), "routes": dict(zero), "leafs": dict(zero)}


def accstatz(server: Any, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    unused = decode_bool(params, "unused")
    wanted = [a for a in _param(params, "accounts").split(",") if a]
    out: dict[str, Any] = {"server_id": server.server_id, "now": go_time(time.time_ns()), "account_statz": []}
    clients = _global_clients(server)
    if (clients or unused) and (not wanted or GLOBAL_ACCOUNT in wanted):
        core = server.core
        out["account_statz"].append({
            "acc": GLOBAL_ACCOUNT, "name": GLOBAL_ACCOUNT,
            "conns": len(clients), "leafnodes": 0, "total_conns": len(clients),
            "num_subscriptions": int(server.sublist.count),
            "sent": _msg_bytes(int(core.out_msgs), int(core.out_bytes)),
            "received": _msg_bytes(int(core.in_msgs), int(core.in_bytes)),
            "slow_consumers": int(core.slow_consumers),
        })
    return out


def healthz(server: Any, params: Mapping[str, str] | None = None) -> tuple[dict, int]:
    """(HealthStatus, HTTP status): ok once the server accepts connections."""
    params = params or {}
    for b in ("js-enabled", "js-enabled-only", "js-server-only", "details"):
        decode_bool(params, b)
    ready = getattr(server, "ready", None)
    if ready is not None and not (ready() if callable(ready) else ready):
        return {"status": "error", "status_code": 503,
                "error": "failed to start server in time"}, 503
    return {"status": "ok"}, 200


def raftz(server: Any, params: Mapping[str, str] | None = None) -> dict:
    raise MonitorError("No Raft nodes registered", 404)   # natsx runs no Raft groups


def ipqueuesz(server: Any, params: Mapping[str, str] | None = None) -> dict:
    decode_bool(params or {}, "all")
    return {}                                            # no internal IP queues in natsx


# ---- / (index page) ---------------------------------------------------------------------------

_ROOT_LINKS = (("varz", "General"), ("jsz", "JetStream"), ("connz", "Connections"),
               ("accountz", "Accounts"), ("accstatz", "Account Stats"), ("subsz", "Subscriptions"),
               ("routez", "Routes"), ("leafz", "LeafNodes"), ("gatewayz", "Gateways"),
               ("raftz", "Raft Groups"), ("healthz", "Health Probe"))


def root_html(server: Any, base_path: str = "") -> str:
    """The index page: the same links (and CSS classes) as nats-server's."""
    base = base_path.rstrip("/")
    links = "\n".join(f'\t<a href=.{base}/{p}>{label}<span class="endpoint"> {base}/{p}</span></a>'
                      for p, label in _ROOT_LINKS)
    return f"""<html lang="en">
\t<head>
\t<link rel="shortcut icon" href="https://nats.io/favicon.ico">
\t<style type="text/css">
\t\tbody {{ font-family: ui-sans-serif,system-ui,-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif; font-size: 18; font-weight: light-bold; margin-left: 32px }}
\t\ta {{ display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none }}
\t\ta:hover {{ font-weight: 600; color: rgb(59 50 202) }}
\t\ta.help {{ display:inline; font-weight: 600; color: rgb(59 50 202); font-size: 20}}
\t\ta.last {{ padding-bottom: 16px }}
\t\ta.version {{ font-size: 14; font-weight: 400; width: 312px; text-align: right; margin-top: -2rem }}
\t\ta.version:hover {{ color: rgb(22 22 32) }}
\t\t.endpoint {{ font-size: 12px; color: #999; font-family: monospace; display: none }}
\t\ta:hover .endpoint {{ display: inline }}

\t</style>
\t</head>
\t<body>
   <h1>natsx</h1>

\t<a href=https://github.com/nats-io/nats-server class='version'>v{natsx.NATS_SERVER_VERSION} (natsx {natsx.__version__})</a>

\t</div>
\t<br/>
{links}
    <a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class="help">Help</a>
  </body>
</html>"""


# ---- routing ----------------------------------------------------------------------------------

# path -> renderer; each returns a dict (rendered indented) or (dict, status).
ENDPOINTS: dict[str, Callable[..., Any]] = {
    "/varz": varz, "/connz": connz, "/subsz": subsz, "/subscriptionsz": subsz, "/routez": routez,
    "/gatewayz": gatewayz, "/leafz": leafz, "/jsz": jsz, "/accountz": accountz,
    "/accstatz": accstatz, "/healthz": healthz, "/raftz": raftz, "/ipqueuesz": ipqueuesz,
}


def render(server: Any, path: str, params: Mapping[str, str], http_port: Optional[int] = None,
           base_path: str = "") -> tuple[int, str, bytes]:
    """(status, content type, body) for one request, counting it in server.http_req_stats."""
    base = base_path.rstrip("/")
    if base:   # with http_base_path everything lives under it, and nothing else answers
        if path in (base, base + "/"):
            path = "/"
        elif path.startswith(base + "/"):
            path = path[len(base):]
        else:
            path = ""
    stats = getattr(server, "http_req_stats", None)
    if path == "/":
        if stats is not None:
            stats["/"] = stats.get("/", 0) + 1
        return 200, "text/html; charset=utf-8", root_html(server, base).encode()
    fn = ENDPOINTS.get(path)
    if fn is None:
        return 404, "text/plain; charset=utf-8", NOT_FOUND
    key = "/subsz" if path == "/subscriptionsz" else path
    if stats is not None:
        stats[key] = stats.get(key, 0) + 1
    try:
        if fn is varz:
            doc: Any = varz(server, params, http_port=http_port)
        else:
            doc = fn(server, params)
    except MonitorError as e:
        return e.status, "text/plain; charset=utf-8", e.text.encode()
    status = 200
    if isinstance(doc, tuple):
        doc, status = doc
    body = go_json(doc, indent=fn is not healthz)
    return status, "application/json", body


# ---- HTTP/1.1 server -------------------------------------------------------------------------

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            413: "Request Entity Too Large", 431: "Request Header Fields Too Large",
            500: "Internal Server Error", 503: "Service Unavailable"}


def _response(status: int, ctype: str, body: bytes, head_only: bool, keep_alive: bool,
              cors: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    if cors:
        lines.append("Access-Control-Allow-Origin: *")
    lines.append(f"Content-Type: {ctype}")
    if body == NOT_FOUND:   # Go's http.NotFound
        lines.append("X-Content-Type-Options: nosniff")
    lines.append("Date: " + email.utils.formatdate(usegmt=True))
    lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


class MonitorServer(asyncio.AbstractServer):
    """The listening monitor socket plus its open HTTP connections (closed together)."""

    def __init__(self, server: Any, base_path: str = "") -> None:
        self.natsx_server = server
        self.base_path = base_path
        self._srv: Optional[asyncio.AbstractServer] = None
        self._conns: set[asyncio.StreamWriter] = set()
        self.port = 0

    # asyncio.AbstractServer
    def close(self) -> None:
        if self._srv is not None:
            self._srv.close()
        for w in list(self._conns):
            w.close()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        assert self._srv is not None
        return self._srv.get_loop()

    def is_serving(self) -> bool:
        return self._srv is not None and self._srv.is_serving()

    async def start_serving(self) -> None:
        assert self._srv is not None
        await self._srv.start_serving()

    async def serve_forever(self) -> None:
        assert self._srv is not None
        await self._srv.serve_forever()

    async def wait_closed(self) -> None:
        if self._srv is not None:
            await self._srv.wait_closed()

    @property
    def sockets(self) -> tuple:
        return tuple(self._srv.sockets) if self._srv is not None else ()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError, ValueError):
            pass
        finally:
            self._conns.discard(writer)
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except asyncio.IncompleteReadError:
            return False
        except asyncio.LimitOverrunError:
            writer.write(_response(431, "text/plain; charset=utf-8", b"431 Request Header Fields Too Large",
                                   False, False, False))
            await writer.drain()
            return False
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            writer.write(_response(400, "text/plain; charset=utf-8", b"400 Bad Request", False, False, False))
            await writer.drain()
            return False
        method, target, proto = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT)   # ignored, like nats-server
        conn_hdr = headers.get("connection", "").lower()
        keep_alive = (proto == "HTTP/1.1" and conn_hdr != "close") or conn_hdr == "keep-alive"

        url = urlsplit(target)
        params: dict[str, str] = {}
        for k, v in parse_qsl(url.query, keep_blank_values=True):
            params.setdefault(k, v)          # Go's Query().Get: first value wins
        status, ctype, body = render(self.natsx_server, unquote(url.path) or "/", params,
                                     http_port=self.port, base_path=self.base_path)
        cors = ctype == "application/json"
        writer.write(_response(status, ctype, body, method == "HEAD", keep_alive, cors))
        await writer.drain()
        return keep_alive


async def start_monitor(server: Any, host: str, port: int) -> asyncio.AbstractServer:
    """Listen for monitoring HTTP requests on host:port (0 = any free port; see .port)."""
    mon = MonitorServer(server, _opt(server, "http_base_path", "") or "")
    mon._srv = await asyncio.start_server(mon._handle, host or "0.0.0.0", port, limit=MAX_HEADER_BYTES,
                                          reuse_address=True)
    mon.port = mon._srv.sockets[0].getsockname()[1]
    return mon
