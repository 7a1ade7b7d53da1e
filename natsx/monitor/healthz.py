"""/healthz: ok once the client listener is up, as nats-server's readyForConnections."""
from __future__ import annotations

from typing import Any, Mapping

from natsx.monitor.inputs import MonitoredServer
from natsx.monitor.params import decode_bool

# nats-server waits 1ms for its listeners; the only listener natsx has is the client one.
NOT_READY = "failed to be ready for connections after 1ms: server"


def healthz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> tuple[dict, int]:
    """(HealthStatus, HTTP status); as over HTTP, without status_code (the response has it)."""
    params = params or {}
    for b in ("js-enabled", "js-enabled-only", "js-server-only"):
        decode_bool(params, b)
    details = decode_bool(params, "details")
    if server.accepting:
        return {"status": "ok"}, 200
    doc: dict[str, Any] = {"status": "error"}
    if details:
        doc["errors"] = [{"type": "CONNECTION", "error": NOT_READY}]
    else:
        doc["error"] = NOT_READY
    return doc, 500
