"""/accountz and /accstatz: natsx serves the global account only (natsx.accounts)."""
from __future__ import annotations

import time
from typing import Any, Mapping

from natsx.accounts import GLOBAL_ACCOUNT, SERVED_ACCOUNTS
from natsx.gofmt import go_time
from natsx.monitor.inputs import MonitoredClient, MonitoredServer
from natsx.monitor.params import MonitorError, decode_bool, param


def _global_clients(server: MonitoredServer) -> list[MonitoredClient]:
    return [c for c in server.registry if c.account == GLOBAL_ACCOUNT]


def accountz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    decode_bool(params, "unused")
    acc = param(params, "acc")
    out: dict[str, Any] = {"server_id": server.server_id, "now": go_time(time.time_ns())}
    if not acc:
        out["accounts"] = list(SERVED_ACCOUNTS)
        return out
    if acc not in SERVED_ACCOUNTS:
        raise MonitorError(f"Account {acc} does not exist")
    stats = server.sublist.stats() if acc == GLOBAL_ACCOUNT else {}
    out["account_detail"] = {
        "account_name": acc,
        "update_time": go_time(server.start_time),
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


def accstatz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    unused = decode_bool(params, "unused")
    wanted = [a for a in param(params, "accounts").split(",") if a]
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
