"""/jsz and the `jetstream` section of /varz, as nats-server's Jsz / updateJszVarz build them
(monitor.go JSInfo, AccountDetail, StreamDetail) for its one JetStream account, $G."""
from __future__ import annotations

import time
from typing import Any, Mapping

from natsx.gofmt import go_time
from natsx.monitor.inputs import NS, MonitoredJetStream, MonitoredServer
from natsx.monitor.params import decode_bool, decode_int

GLOBAL_ACCOUNT = "$G"
UINT64_MAX = (1 << 64) - 1
DEFAULT_LIMIT = 1024     # JSzOptions.Limit when 0


def jetstream_config(js: MonitoredJetStream) -> dict[str, Any]:
    """nats-server's JetStreamConfig JSON (omitempty fields left out)."""
    policy, interval = js.sync_policy
    out: dict[str, Any] = {"max_memory": js.max_memory, "max_storage": js.max_store, "store_dir": js.store_dir}
    if policy == "always":
        out["sync_always"] = True
    else:
        out["sync_interval"] = int(round(interval * NS))
    if js.domain:
        out["domain"] = js.domain
    if js.strict:
        out["strict"] = True
    return out


def _reserved(js: MonitoredJetStream, storage: str) -> int:
    """Bytes the streams' max_bytes reserve for one storage type (nats-server's reservations)."""
    return sum(s.config["max_bytes"] for s in js.streams.values()
               if s.config is not None and s.config["storage"] == storage and s.config["max_bytes"] > 0)


def jetstream_stats(js: MonitoredJetStream) -> dict[str, Any]:
    """JetStreamStats: usage, reservations, accounts, API counters."""
    mem, store = js.usage()
    return {"memory": mem, "storage": store, "reserved_memory": _reserved(js, "memory"),
            "reserved_storage": _reserved(js, "file"), "accounts": 1, "ha_assets": 0,
            "api": {"level": js.api_level, "total": js.router.total, "errors": js.router.errors}}


def varz_jetstream(server: MonitoredServer) -> dict[str, Any]:
    js = server.jetstream
    if js is None:
        return {}
    return {"config": jetstream_config(js), "stats": jetstream_stats(js), "limits": {}}


def _stream_detail(server: MonitoredServer, stream: Any, with_config: bool) -> dict[str, Any]:
    info, _ = stream.info(dynamic_metadata=False)
    d: dict[str, Any] = {"name": stream.name, "created": info["created"],
                         "cluster": {"leader": server.name}}
    if with_config:
        d["config"] = info["config"]
    d["state"] = info["state"]
    for key in ("mirror", "sources"):
        if key in info:
            d[key] = info[key]
    return d


def _account_detail(server: MonitoredServer, js: MonitoredJetStream, streams: bool,
                    config: bool) -> dict[str, Any]:
    mem, store = js.usage()
    d: dict[str, Any] = {
        "name": GLOBAL_ACCOUNT, "id": GLOBAL_ACCOUNT, "memory": mem, "storage": store,
        # the account's limits are unlimited (-1), which nats-server reports as uint64
        "reserved_memory": UINT64_MAX, "reserved_storage": UINT64_MAX,
        "accounts": 0, "ha_assets": 0,
        "api": {"level": 0, "total": js.router.total, "errors": js.router.errors},
    }
    if streams:
        details = [_stream_detail(server, s, config) for _, s in sorted(js.streams.items())
                   if s.config is not None and s.store is not None]
        if details:
            d["stream_detail"] = details
    return d


def jsz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    accounts = decode_bool(params, "accounts")
    streams = decode_bool(params, "streams")
    consumers = decode_bool(params, "consumers")
    config = decode_bool(params, "config")
    for b in ("leader-only", "raft", "stream-leader-only", "direct-consumers"):
        decode_bool(params, b)
    offset = max(decode_int(params, "offset"), 0)
    limit = decode_int(params, "limit") or DEFAULT_LIMIT
    account = params.get("acc", "")
    streams = streams or consumers          # consumers imply streams, as nats-server
    accounts = accounts or (streams and not account)
    now = go_time(time.time_ns())
    js = server.jetstream
    if js is None:
        return {
            "memory": 0, "storage": 0, "reserved_memory": 0, "reserved_storage": 0,
            "accounts": 0, "ha_assets": 0, "api": {"level": 0, "total": 0, "errors": 0},
            "server_id": server.server_id, "now": now, "disabled": True,
            "config": {"max_memory": 0, "max_storage": 0},
            "streams": 0, "consumers": 0, "messages": 0, "bytes": 0, "total": 0,
        }
    doc: dict[str, Any] = jetstream_stats(js)
    doc.update(server_id=server.server_id, now=now, config=jetstream_config(js), limits={})
    live = [s for s in js.streams.values() if s.store is not None]
    doc["streams"] = len(js.streams)
    doc["consumers"] = 0
    doc["messages"] = sum(s.store.msgs for s in live)
    doc["bytes"] = sum(s.store.total_bytes for s in live)
    # ?acc= picks the account; otherwise ?accounts pages through them (an unknown acc lists all)
    if account == GLOBAL_ACCOUNT:
        selected = [GLOBAL_ACCOUNT]
    else:
        selected = [GLOBAL_ACCOUNT][offset:offset + limit] if accounts else []
    if selected:
        doc["account_details"] = [_account_detail(server, js, streams, config)]
    doc["total"] = 1
    return doc
