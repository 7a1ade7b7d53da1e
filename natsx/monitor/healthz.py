"""/healthz, as nats-server's healthz(): ready once the client listener is up
(readyForConnections); with JetStream, every stream of the account recovered (a stream whose
metadata could not be read back is "could not be recovered"); `account`/`stream`/`consumer` narrow
the check; `js-enabled-only` stops after "JetStream is running", `js-server-only` before it."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from natsx.monitor.inputs import MonitoredJetStream, MonitoredServer
from natsx.monitor.params import decode_bool

# nats-server waits 1ms for its listeners; the only listener natsx has is the client one.
NOT_READY = "failed to be ready for connections after 1ms: server"
JS_NOT_ENABLED = "JetStream not enabled"   # NewJSNotEnabledError().Error()
JS_ACCOUNT = "$G"                           # the one JetStream account natsx serves


def healthz(server: MonitoredServer, params: Mapping[str, str] | None = None) -> tuple[dict, int]:
    """(HealthStatus, HTTP status); as over HTTP, without status_code (the response has it)."""
    params = params or {}
    js_enabled_only = decode_bool(params, "js-enabled-only")
    js_enabled_only |= decode_bool(params, "js-enabled")     # its deprecated spelling
    js_server_only = decode_bool(params, "js-server-only")
    details = decode_bool(params, "details")
    account, stream, consumer = params.get("account", ""), params.get("stream", ""), params.get("consumer", "")
    if not account and stream:
        return _error("error", "BAD_REQUEST", '"account" must not be empty when checking stream health', details), 400
    if not stream and consumer:
        return _error("error", "BAD_REQUEST", '"stream" must not be empty when checking consumer health', details), 400
    if not server.accepting:
        return _error("error", "CONNECTION", NOT_READY, details), 500
    if js_server_only or not server.options.jetstream:
        return {"status": "ok"}, 200
    js = server.jetstream
    if js is None:       # configured, not (yet, or no longer) running
        return _error("unavailable", "JETSTREAM", JS_NOT_ENABLED, details), 503
    if js_enabled_only:
        return {"status": "ok"}, 200
    return _streams_health(js, account, stream, consumer, details)


def _streams_health(js: MonitoredJetStream, account: str, stream: str, consumer: str,
                    details: bool) -> tuple[dict, int]:
    """A single server's check: the account's streams are all recovered (no Raft to lag)."""
    if account and account != JS_ACCOUNT:
        return _error("unavailable", "ACCOUNT", f'JetStream account "{account}" not found', details,
                      account=account), 404
    errors: list[dict[str, Any]] = []
    for name in sorted(js.streams):
        if stream and name != stream:
            continue
        if js.streams[name].store is None:
            text = f"JetStream stream '{JS_ACCOUNT} > {name}' could not be recovered"
            if not details:
                return _error("unavailable", "STREAM", text, False), 503
            errors.append({"type": "STREAM", "account": JS_ACCOUNT, "stream": name, "error": text})
    if stream and stream not in js.streams:
        return _error("unavailable", "STREAM", f'JetStream stream "{stream}" not found on account "{account}"',
                      details, account=account, stream=stream), 404
    if consumer:   # natsx streams have no consumers yet
        return _error("unavailable", "CONSUMER", f'JetStream consumer "{consumer}" not found for stream '
                      f'"{stream}" on account "{account}"', details, account=account, stream=stream,
                      consumer=consumer), 404
    if errors:
        return {"status": "error", "errors": errors}, 503
    return {"status": "ok"}, 200


def _error(status: str, kind: str, text: str, details: bool, **where: Optional[str]) -> dict[str, Any]:
    doc: dict[str, Any] = {"status": "error" if details else status}
    if details:
        doc["errors"] = [{"type": kind, **{k: v for k, v in where.items() if v}, "error": text}]
    else:
        doc["error"] = text
    return doc
