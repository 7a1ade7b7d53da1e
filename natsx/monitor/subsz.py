"""/subsz (and /subscriptionsz): the sublist's statistics and, with subs=1, its subscriptions."""
from __future__ import annotations

import time
from typing import Any, Mapping

from natsx._core.sublist import is_valid_literal_subject, subject_matches
from natsx.accounts import GLOBAL_ACCOUNT
from natsx.gofmt import go_time
from natsx.monitor.inputs import MonitoredServer, clients_by_sink, sub_detail
from natsx.monitor.params import MonitorError, decode_bool, decode_int, param

DEFAULT_SUB_LIST_SIZE = 1024    # nats-server DefaultSubListSize


def subsz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> dict:
    params = params or {}
    detail = decode_bool(params, "subs")
    offset = decode_int(params, "offset")
    limit = decode_int(params, "limit")
    test = param(params, "test")
    acc = param(params, "acc")
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
        details: list[dict] = []
        tb = test.encode() if test else b""
        owners = clients_by_sink(server)
        for sub in server.sublist.all_subscriptions():
            if test and not subject_matches(tb, sub.subject):
                continue
            client = owners.get(id(sub.owner))
            if client is None:
                continue                      # server-internal subscriptions have no client
            details.append(sub_detail(sub, client.cid, client.account))
        total = len(details)
        page = details[min(offset, total):min(offset + limit, total)]
    out.update({"total": total, "offset": offset, "limit": limit})
    if page:
        out["subscriptions_list"] = page
    return out
