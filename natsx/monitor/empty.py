"""Endpoints for what natsx does not run yet - routes, gateways, leaf nodes, JetStream, Raft, IP
queues: nats-server's answers when none are configured (the parameters are still decoded, so a
malformed one gets nats-server's 400)."""
from __future__ import annotations

import time
from typing import Mapping

from natsx.gofmt import go_time
from natsx.monitor.inputs import MonitoredServer
from natsx.monitor.params import MonitorError, decode_bool, decode_int, decode_subs


def routez(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    decode_subs(params or {})
    return {"server_id": server.server_id, "server_name": server.name,
            "now": go_time(time.time_ns()), "num_routes": 0, "routes": []}


def gatewayz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    decode_bool(params, "accs")
    return {"server_id": server.server_id, "now": go_time(time.time_ns()),
            "outbound_gateways": {}, "inbound_gateways": {}}


def leafz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    decode_bool(params or {}, "subs")
    return {"server_id": server.server_id, "now": go_time(time.time_ns()), "leafnodes": 0, "leafs": []}


def jsz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
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


def raftz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    raise MonitorError("No Raft nodes registered", 404)   # natsx runs no Raft groups


def ipqueuesz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    decode_bool(params or {}, "all")
    return {}                                            # no internal IP queues in natsx
