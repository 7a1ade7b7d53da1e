"""The global account's JetStream limits and $JS.API.INFO.

natsx serves one account ($G) and refuses the `accounts` block, so the account limits are
nats-server's defaults for it: unlimited (-1) everywhere, bounded by the server's
max_memory_store / max_file_store. They are enforced on stream create/update with nats-server's
errors (10027 streams, 10026 consumers, 10028 memory, 10047 storage, 10113/10122 max bytes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from natsx.jetstream.errors import ApiError
from natsx.jetstream.host import JetStreamHost

if TYPE_CHECKING:
    from natsx.jetstream.api import ApiRequest, ApiRouter


@dataclass
class AccountLimits:
    max_memory: int = -1
    max_storage: int = -1
    max_streams: int = -1
    max_consumers: int = -1
    max_ack_pending: int = -1
    memory_max_stream_bytes: int = -1
    storage_max_stream_bytes: int = -1
    max_bytes_required: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def max_stream_bytes(self, storage: str) -> int:
        return self.memory_max_stream_bytes if storage == "memory" else self.storage_max_stream_bytes


def reserved(js: JetStreamHost, storage: str, exclude: str = "") -> int:
    """Bytes reserved by the max_bytes of the other streams of this storage type."""
    total = 0
    for name, stream in js.streams.items():
        cfg = stream.config
        if name != exclude and cfg is not None and cfg["storage"] == storage and cfg["max_bytes"] > 0:
            total += cfg["max_bytes"]
    return total


def check_limits(js: JetStreamHost, cfg: dict[str, Any], add_bytes: int, current: int) -> None:
    """nats-server's checkAllLimits for one stream: consumers, then account and server bytes."""
    lim = js.limits
    if cfg["max_consumers"] > 0 and lim.max_consumers > 0 and cfg["max_consumers"] > lim.max_consumers:
        raise ApiError.of("JSMaximumConsumersLimitErr")
    if add_bytes < 0:
        add_bytes = 1
    if cfg["storage"] == "memory":
        account_max, server_max, err = lim.max_memory, js.max_memory, "JSMemoryResourcesExceededErr"
    else:
        account_max, server_max, err = lim.max_storage, js.max_store, "JSStorageResourcesExceededErr"
    if account_max >= 0 and (current > account_max or add_bytes > account_max - current):
        raise ApiError.of(err)
    if current > server_max or add_bytes > server_max - current:
        raise ApiError.of(err)


def check_create(js: JetStreamHost, cfg: dict[str, Any]) -> None:
    """jsNonClusteredStreamLimitsCheck: stream count, then bytes."""
    if js.limits.max_streams > 0 and len(js.streams) >= js.limits.max_streams:
        raise ApiError.of("JSMaximumStreamsLimitErr")
    check_limits(js, cfg, cfg["max_bytes"], reserved(js, cfg["storage"]))


def check_update(js: JetStreamHost, old: dict[str, Any], cfg: dict[str, Any]) -> None:
    """Only a larger max_bytes reserves more (configUpdateCheck)."""
    diff = max(max(cfg["max_bytes"], 0) - max(old["max_bytes"], 0), 0)
    current = reserved(js, cfg["storage"], exclude=cfg["name"]) + max(cfg["max_bytes"], 0) - diff
    check_limits(js, cfg, diff, current)


def account_info(req: "ApiRequest") -> dict[str, Any]:
    js = req.js
    mem, store = js.usage()
    out: dict[str, Any] = {
        "memory": mem, "storage": store,
        "reserved_memory": reserved(js, "memory"), "reserved_storage": reserved(js, "file"),
        "streams": len(js.streams), "consumers": 0,
        "limits": js.limits.to_json(),
    }
    if js.domain:
        out["domain"] = js.domain
    out["api"] = {"level": js.api_level, "total": js.router.total, "errors": js.router.errors}
    return out


def register(router: "ApiRouter") -> None:
    router.register("INFO", account_info, "account_info_response")
