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
