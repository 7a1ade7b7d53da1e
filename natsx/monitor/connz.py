"""/connz: open and closed client connections, filtered, sorted and paged as nats-server does."""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Optional, Sequence

from natsx.accounts import GLOBAL_ACCOUNT, SERVED_ACCOUNTS
from natsx.gofmt import epoch_ns, go_time
from natsx.monitor.encode import NS, go_uptime, rtt_string
from natsx.monitor.inputs import MonitoredClient, MonitoredServer, sub_detail
from natsx.monitor.params import (CONN_ALL, CONN_CLOSED, CONN_OPEN, MonitorError, decode_bool, decode_int,
                                  decode_state, decode_subs, decode_uint64, param)
from natsx.registry import ConnectionSnapshot, SubscriptionSnapshot

DEFAULT_CONN_LIST_SIZE = 1024   # nats-server DefaultConnListSize

SORT_OPTS = ("cid", "start", "subs", "pending", "msgs_to", "msgs_from", "bytes_to", "bytes_from",
             "last", "idle", "uptime", "stop", "reason", "rtt")


def _conn_info(client: MonitoredClient, now_ns: int) -> dict:
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
        "rtt": rtt_string(client.rtt),
        "uptime": go_uptime((now_ns - start) / NS),
        "idle": go_uptime((now_ns - last) / NS),
        "pending_bytes": int(client.pending_bytes()),
        "in_msgs": int(client.in_msgs),
        "out_msgs": int(client.out_msgs),
        "in_bytes": int(client.in_bytes),
        "out_bytes": int(client.out_bytes),
        "subscriptions": len(client.subs),
    }
    _client_library(ci, client.name, client.lang, client.version)
    return ci


def _client_library(ci: dict, name: str, lang: str, version: str) -> None:
    """CONNECT's name, lang and version: omitted when empty, as nats-server's omitempty."""
    for key, value in (("name", name), ("lang", lang), ("version", version)):
        if value:
            ci[key] = value


def _closed_info(cc: ConnectionSnapshot) -> dict:
    """ConnInfo (plus private sort/filter keys) from a closed connection's snapshot."""
    start, stop, last = epoch_ns(cc.start), epoch_ns(cc.stop), epoch_ns(cc.last_activity)
    ci: dict[str, Any] = {
        "cid": cc.cid, "kind": "Client", "type": "nats",
        "ip": cc.ip, "port": cc.port,
        "start": go_time(start), "last_activity": go_time(last),
        "stop": go_time(stop), "reason": cc.reason,
        "rtt": rtt_string(cc.rtt),
        "uptime": go_uptime((stop - start) / NS), "idle": go_uptime((stop - last) / NS),
        "pending_bytes": cc.pending_bytes,
        "in_msgs": cc.in_msgs, "out_msgs": cc.out_msgs,
        "in_bytes": cc.in_bytes, "out_bytes": cc.out_bytes,
        "subscriptions": len(cc.subs),
    }
    _client_library(ci, cc.name, cc.lang, cc.version)
    ci.update(_start_ns=start, _stop_ns=stop, _last_ns=last, _rtt=cc.rtt or 0.0)
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


def connz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    sort_opt = param(params, "sort")
    auth = decode_bool(params, "auth")
    subs, subs_det = decode_subs(params)
    offset = decode_int(params, "offset")
    limit = decode_int(params, "limit")
    cid = decode_uint64(params, "cid")
    state = decode_state(params)
    user = param(params, "user")
    acc = param(params, "acc")
    mqtt_client = param(params, "mqtt_client")
    filter_subject = param(params, "filter_subject")

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
    if acc and acc not in SERVED_ACCOUNTS:
        return out

    open_clients: list[MonitoredClient] = []
    closed: list[ConnectionSnapshot] = []
    clients = {c.cid: c for c in server.registry}
    if state in (CONN_CLOSED, CONN_ALL):
        closed = list(server.registry.closed)
        if acc:
            closed = [cc for cc in closed if cc.account == acc]
    if acc:
        clients = {k: c for k, c in clients.items() if c.account == acc}
    total = (len(clients) if state != CONN_CLOSED else 0) + len(closed)
    if cid > 0:
        if state in (CONN_CLOSED, CONN_ALL):
            closed = [cc for cc in closed if cc.cid == cid][:1]
        elif cid in clients:
            open_clients = [clients[cid]]
    elif state in (CONN_OPEN, CONN_ALL):
        for c in clients.values():
            if user and c.user != user:
                continue
            if mqtt_client:
                continue                       # natsx has no MQTT clients
            open_clients.append(c)
    if filt:
        open_clients = [c for c in open_clients
                        if any(_subjects_collide(filt, s.subject.decode("utf-8", "replace"))
                               for s in list(c.subs.values()))]
    out["total"] = total

    infos: list[dict] = []
    for c in open_clients:
        ci = _conn_info(c, now_ns)
        ci["_start_ns"], ci["_last_ns"] = epoch_ns(c.start), epoch_ns(c.last_activity)
        ci["_rtt"] = c.rtt or 0.0
        sub_list = [SubscriptionSnapshot.of(s) for s in list(c.subs.values())]
        _add_subscriptions(ci, sub_list, subs, subs_det, None)
        if auth:
            _add_auth(ci, c.user, c.account, tag_global=True)
        infos.append(ci)
    for cc in closed:
        if user and cc.user != user:
            continue
        if mqtt_client:
            continue
        ci = _closed_info(cc)
        # nats-server keeps a closed connection's subscriptions with their account (newSubDetail)
        _add_subscriptions(ci, cc.subs, subs, subs_det, cc.account)
        if auth:
            _add_auth(ci, cc.user, cc.account, tag_global=False)
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


def _add_subscriptions(ci: dict, sub_list: Sequence[SubscriptionSnapshot], subs: bool, subs_det: bool,
                       detail_account: Optional[str]) -> None:
    if not sub_list:
        return
    if subs_det:
        ci["subscriptions_list_detail"] = [sub_detail(s, ci["cid"], detail_account) for s in sub_list]
    elif subs:
        ci["subscriptions_list"] = [s.subject for s in sub_list]


def _add_auth(ci: dict, user: str, account: str, tag_global: bool) -> None:
    """auth=1: the user, and the account unless it is the global one (name_tag for open
    connections always, for closed ones only a named account)."""
    if user:
        ci["authorized_user"] = user
    if account != GLOBAL_ACCOUNT:
        ci["account"] = account
        ci["name_tag"] = account
    elif tag_global:
        ci["name_tag"] = account


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
