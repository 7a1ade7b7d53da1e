"""JetStream advisories, as nats-server publishes them (jetstream_events.go, jetstream_api.go):

    $JS.EVENT.ADVISORY.API                         api_audit, for every API response
    $JS.EVENT.ADVISORY.STREAM.CREATED|UPDATED|DELETED.<stream>   stream_action
    $JS.EVENT.ADVISORY.STREAM.SNAPSHOT_CREATE|SNAPSHOT_COMPLETE.<stream>
    $JS.EVENT.ADVISORY.STREAM.RESTORE_CREATE|RESTORE_COMPLETE.<stream>

An advisory nobody listens to is not encoded (nats-server checks interest first). The shapes are the
schemas in jetstream-schemas/advisory/v1 (tests validate every one).

The requesting client: nats-server knows the publishing connection of an API request. natsx's
kernel hands internal subscribers the message, not its publisher, so the client is found as the
connection subscribed to the request's reply subject (every client library subscribes its own
inbox); when none is, the client object carries the account only.
"""
from __future__ import annotations

import secrets
import string
import time
from typing import Any, Optional, Protocol

from natsx.accounts import GLOBAL_ACCOUNT
from natsx.gofmt import go_json, go_time

ADVISORY_PREFIX = "$JS.EVENT.ADVISORY."
API_AUDIT_SUBJECT = ADVISORY_PREFIX + "API"
TYPE_PREFIX = "io.nats.jetstream.advisory.v1."

_NUID_ALPHABET = string.ascii_letters + string.digits


def event_id() -> str:
    """A 22-character id of nats-server's nuid alphabet (advisory ids are only compared for identity)."""
    return "".join(secrets.choice(_NUID_ALPHABET) for _ in range(22))


class AdvisoryServer(Protocol):
    """What the publisher needs from the server."""

    sublist: Any       # has_interest(subject: bytes), match(subject: bytes)
    registry: Any      # iterable of connections with .sink
    options: Any       # .jetstream_domain

    @property
    def name(self) -> str: ...

    def publish(self, subject: str | bytes, payload: bytes, reply: str | bytes = b"",
                headers: bytes | None = None) -> int: ...


def client_info(client: Any, server_name: str) -> dict[str, Any]:
    """nats-server's ClientInfo.forAdvisory() of a client connection (omitempty fields left out)."""
    ci: dict[str, Any] = {"start": go_time(client.start), "host": client.host, "id": client.cid,
                          "acc": client.account or GLOBAL_ACCOUNT}
    for key, value in (("user", client.user), ("name", client.name), ("lang", client.lang),
                       ("ver", client.version)):
        if value:
            ci[key] = value
    if client.rtt:
        ci["rtt"] = int(client.rtt * 1e9)
    ci["server"] = server_name
    ci["kind"] = "Client"
    ci["client_type"] = "nats"
    return {k: v for k, v in ci.items() if v not in ("", 0, None)}


def requesting_client(server: AdvisoryServer, reply: str | bytes | None) -> Any:
    """The client connection subscribed to a request's reply subject (see the module doc), or None."""
    if not reply:
        return None
    r = reply.encode() if isinstance(reply, str) else reply
    owners = {id(sub.owner) for sub in server.sublist.match(r).psubs}
    for client in server.registry:
        if id(client.sink) in owners:
            return client
    return None


class Advisories:
    """Publishes JetStream advisories for one server. The API router calls api_audit() for each
    response; stream create/update/delete call stream_action(); snapshots and restores call
    snapshot_create/complete and restore_create/complete."""

    def __init__(self, server: AdvisoryServer) -> None:
        self.server = server

    @property
    def domain(self) -> str:
        return getattr(self.server.options, "jetstream_domain", "") or ""

    def requester(self, reply: str | bytes | None) -> dict[str, Any]:
        """The ClientInfo of whoever sent a request with this reply subject (see module doc)."""
        client = requesting_client(self.server, reply)
        if client is not None:
            return client_info(client, self.server.name)
        return {"acc": GLOBAL_ACCOUNT, "server": self.server.name}

    def publish(self, subject: str, kind: str, fields: dict[str, Any]) -> bool:
        if not self.server.sublist.has_interest(subject.encode()):
            return False
        doc = {"type": TYPE_PREFIX + kind, "id": event_id(), "timestamp": go_time(time.time_ns())}
        doc.update(fields)
        if self.domain:
            doc["domain"] = self.domain
        self.server.publish(subject, go_json(doc, indent=False))
        return True

    # ---- the API audit ---------------------------------------------------------------------

    def api_audit(self, subject: str, reply: str | bytes | None, request: bytes, response: bytes) -> bool:
        """After every API response (nats-server's sendAPIResponse/sendAPIErrResponse)."""
        if not self.server.sublist.has_interest(API_AUDIT_SUBJECT.encode()):
            return False
        fields: dict[str, Any] = {"server": self.server.name, "client": self.requester(reply), "subject": subject}
        if request:
            fields["request"] = request.decode("utf-8", "replace")
        fields["response"] = response.decode("utf-8", "replace")
        return self.publish(API_AUDIT_SUBJECT, "api_audit", fields)

    # ---- streams ---------------------------------------------------------------------------

    _ACTIONS = {"create": "CREATED", "modify": "UPDATED", "delete": "DELETED"}

    def stream_action(self, action: str, stream: str) -> bool:
        """action: "create" | "modify" | "delete" (the advisory's own words)."""
        return self.publish(f"{ADVISORY_PREFIX}STREAM.{self._ACTIONS[action]}.{stream}", "stream_action",
                            {"stream": stream, "action": action})

    def stream_created(self, stream: str) -> bool:
        return self.stream_action("create", stream)

    def stream_updated(self, stream: str) -> bool:
        return self.stream_action("modify", stream)

    def stream_deleted(self, stream: str) -> bool:
        return self.stream_action("delete", stream)

    # ---- snapshots and restores ------------------------------------------------------------

    def snapshot_create(self, stream: str, state: dict[str, Any], client: dict[str, Any]) -> bool:
        return self.publish(f"{ADVISORY_PREFIX}STREAM.SNAPSHOT_CREATE.{stream}", "snapshot_create",
                            {"stream": stream, "state": state, "client": client})

    def snapshot_complete(self, stream: str, start_ns: int, end_ns: int, client: dict[str, Any],
                          error: Optional[str] = None) -> bool:
        fields: dict[str, Any] = {"stream": stream, "start": go_time(start_ns), "end": go_time(end_ns),
                                  "client": client}
        if error:
            fields["error"] = error
        return self.publish(f"{ADVISORY_PREFIX}STREAM.SNAPSHOT_COMPLETE.{stream}", "snapshot_complete", fields)

    def restore_create(self, stream: str, client: dict[str, Any]) -> bool:
        return self.publish(f"{ADVISORY_PREFIX}STREAM.RESTORE_CREATE.{stream}", "restore_create",
                            {"stream": stream, "client": client})

    def restore_complete(self, stream: str, start_ns: int, end_ns: int, nbytes: int,
                         client: dict[str, Any]) -> bool:
        return self.publish(f"{ADVISORY_PREFIX}STREAM.RESTORE_COMPLETE.{stream}", "restore_complete",
                            {"stream": stream, "start": go_time(start_ns), "end": go_time(end_ns),
                             "bytes": nbytes, "client": client})
