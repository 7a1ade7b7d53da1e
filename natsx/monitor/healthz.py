"""/healthz: ok once the client listener is up, as nats-server's readyForConnections."""
from __future__ import annotations

from typing import Any, Mapping

from natsx.monitor.inputs import MonitoredServer
from natsx.monitor.params import decode_bool

# nats-server waits 1ms for its listeners; the only listener natsx has is the client one.
NOT_READY = "failed to be ready for connections after 1ms: server"
JS_NOT_ENABLED = "JetStream not enabled"   # NewJSNotEnabledError().Error()


def healthz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> tuple[dict, int]:
    """(HealthStatus, HTTP status); as over HTTP, without status_code (the response has it)."""
    params = params or {}
    for b in ("js-enabled", "js-enabled-only"):    # deprecated alias, and the JetStream-only check
        decode_bool(params, b)
    js_server_only = decode_bool(params, "js-server-only")
    details = decode_bool(params, "details")
    if not server.accepting:
        return _error("error", "CONNECTION", NOT_READY, details), 500
    if js_server_only or not server.options.jetstream:
        return {"status": "ok"}, 200
    if server.jetstream is None:       # configured, not (yet, or no longer) running
        return _error("unavailable", "JETSTREAM", JS_NOT_ENABLED, details), 503
    # js-enabled(-only) stops here; the full check of a single server's streams gives the same
    # answer today: natsx has no replicated assets whose health could lag.
    return {"status": "ok"}, 200


def _error(status: str, kind: str, text: str, details: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {"status": "error" if details else status}
    if details:
        doc["errors"] = [{"type": kind, "error": text}]
    else:
        doc["error"] = text
    return doc
