"""Endpoints for what natsx does not run yet - routes, gateways, leaf nodes, Raft, IP
queues: nats-server's answers when none are configured (the parameters are still decoded, so a
malformed one gets nats-server's 400)."""
from __future__ import annotations

import time
from typing import Mapping

from natsx.gofmt import go_time
from natsx.monitor.inputs import MonitoredServer
from natsx.monitor.params import MonitorError, decode_bool, decode_subs


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


def raftz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    raise MonitorError("No Raft nodes registered", 404)   # natsx runs no Raft groups


def ipqueuesz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    decode_bool(params or {}, "all")
    return {}                                            # no internal IP queues in natsx
