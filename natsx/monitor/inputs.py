"""What the monitoring endpoints read: the server and its client connections, as typed views.

natsx.server.Server and natsx.client.Client satisfy these protocols; the endpoints take them as
arguments and import neither (the server starts the monitor, so the monitor must not need it).
"""
from __future__ import annotations

from typing import Any, Optional, Protocol

from natsx._core.conn import ServerCore
from natsx._core.sublist import Subscriber, Sublist, Subscription
from natsx.auth import Authenticator
from natsx.options import ServerOptions
from natsx.registry import ConnectionRegistry, RegisteredConnection, SubscriptionSnapshot

NS = 1_000_000_000


class MonitoredClient(RegisteredConnection, Protocol):
    sink: Subscriber    # the Subscriber its subscriptions deliver to (Subscription.owner)


class MonitoredStream(Protocol):
    """A JetStream stream as /jsz reads it (natsx.jetstream.stream.Stream)."""

    name: str
    config: Optional[dict[str, Any]]   # None: offline (its metadata could not be read)
    store: Any                         # None when offline

    def info(self, dynamic_metadata: bool = True) -> tuple[dict[str, Any], int]:
        """StreamInfo fields: config (as the API encodes it), created, state, mirror?, sources?"""


class MonitoredApiStats(Protocol):
    total: int
    errors: int


class MonitoredJetStream(Protocol):
    """The running JetStream (natsx.jetstream.JetStream): its config, streams and API counters."""

    store_dir: str
    max_memory: int
    max_store: int
    domain: str
    strict: bool
    sync_policy: tuple[str, float]      # ("always" | "interval", seconds)
    api_level: int
    streams: dict[str, Any]             # name -> MonitoredStream
    router: MonitoredApiStats

    def usage(self) -> tuple[int, int]:
        """(memory bytes, storage bytes) the streams use."""


class MonitoredServer(Protocol):
    server_id: str
    options: ServerOptions
    core: ServerCore
    sublist: Sublist
    authenticator: Authenticator
    # Read-only here; Any because the registry is typed by the server's own connection class.
    registry: ConnectionRegistry[Any]
    start_time: float        # epoch seconds
    config_load_time: float  # epoch seconds
    http_port: int           # the bound monitoring port
    http_req_stats: dict[str, int]
    jetstream: Optional[MonitoredJetStream]   # None: JetStream not running

    @property
    def name(self) -> str: ...

    def identity(self) -> dict[str, Any]:
        """server_id, server_name, version, proto, git_commit, go, host, port: what /varz and
        INFO start with."""

    @property
    def accepting(self) -> bool:
        """The client listener is up (nats-server's readyForConnections)."""


def sub_detail(sub: Subscription | SubscriptionSnapshot, cid: int, account: Optional[str]) -> dict:
    """nats-server's SubDetail; account/account_tag only in server-wide lists and closed connections."""
    snap = sub if isinstance(sub, SubscriptionSnapshot) else SubscriptionSnapshot.of(sub)
    d: dict[str, Any] = {}
    if account:
        d["account"] = account
        d["account_tag"] = account
    d["subject"] = snap.subject
    if snap.queue:
        d["qgroup"] = snap.queue
    d["sid"] = snap.sid
    d["msgs"] = snap.msgs
    if snap.max:
        d["max"] = snap.max
    d["cid"] = cid
    return d


def clients_by_sink(server: MonitoredServer) -> dict[int, MonitoredClient]:
    """id(subscriber) -> client: a Subscription's owner is its connection's ClientSink."""
    return {id(c.sink): c for c in server.registry}


def secs_to_ns(seconds: float) -> int:
    return int(round(seconds * NS))
