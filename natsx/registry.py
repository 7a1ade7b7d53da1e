"""The server's connections: live, draining (closed, output still going out), paused (output above
the high-water mark, watched for write_deadline) and closed (snapshots kept for /connz?state=closed),
with the counters /varz reports about them.

A connection changes its own state here (the client calls ``add``, ``pause``, ``closed`` ...); the
server walks the sets (its tick, lame duck mode, shutdown) and the monitor reads them. Neither the
client nor the monitor needs the server object for that, and this module imports neither.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Generic, Iterator, Optional, Protocol, TypeVar

from natsx._core.sublist import Subscription

# nats-server's DefaultMaxClosedClients: how many closed connections /connz?state=closed shows.
CLOSED_CONNECTIONS_KEPT = 10000


def _text(v: bytes | None) -> str:
    return v.decode("utf-8", "replace") if v else ""


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    """A subscription as /connz and /subsz show it (nats-server's SubDetail without the cid)."""

    subject: str
    queue: str    # "" when not in a queue group
    sid: str
    msgs: int     # delivered so far
    max: int      # auto-unsubscribe limit, 0 = none

    @classmethod
    def of(cls, sub: Subscription) -> "SubscriptionSnapshot":
        return cls(_text(sub.subject), _text(sub.queue), _text(sub.sid), int(sub.delivered), int(sub.max_msgs))


class RegisteredConnection(Protocol):
    """What the registry reads from a connection to snapshot it (natsx.client.Client has it all)."""

    cid: int
    host: str
    port: int
    start: float               # epoch seconds
    last_activity: float       # epoch seconds
    rtt: Optional[float]       # seconds, None until measured
    name: str
    lang: str
    version: str
    user: str
    account: str
    in_msgs: int
    in_bytes: int
    out_msgs: int
    out_bytes: int
    subs: dict[bytes, Subscription]

    def pending_bytes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ConnectionSnapshot:
    """A closed connection as it was when it closed (before its subscriptions were removed)."""

    cid: int
    ip: str
    port: int
    start: float
    stop: float
    reason: str
    name: str
    lang: str
    version: str
    user: str
    account: str
    in_msgs: int
    in_bytes: int
    out_msgs: int
    out_bytes: int
    last_activity: float
    rtt: Optional[float]
    pending_bytes: int
    subs: tuple[SubscriptionSnapshot, ...]

    @classmethod
    def of(cls, conn: RegisteredConnection, reason: str, stop: Optional[float] = None) -> "ConnectionSnapshot":
        return cls(
            cid=conn.cid, ip=conn.host, port=conn.port, start=conn.start,
            stop=time.time() if stop is None else stop, reason=reason,
            name=conn.name, lang=conn.lang, version=conn.version, user=conn.user, account=conn.account,
            in_msgs=int(conn.in_msgs), in_bytes=int(conn.in_bytes),
            out_msgs=int(conn.out_msgs), out_bytes=int(conn.out_bytes),
            last_activity=conn.last_activity, rtt=conn.rtt, pending_bytes=int(conn.pending_bytes()),
            subs=tuple(SubscriptionSnapshot.of(s) for s in list(conn.subs.values())),
        )


C = TypeVar("C", bound=RegisteredConnection)


class ConnectionRegistry(Generic[C]):
    def __init__(self, closed_kept: int = CLOSED_CONNECTIONS_KEPT) -> None:
        self.live: dict[int, C] = {}         # cid -> connection, from accept to close
        self.draining: set[C] = set()        # closed, output still being written
        self.paused: set[C] = set()          # output above high-water: watched for write_deadline
        self.closed: deque[ConnectionSnapshot] = deque(maxlen=closed_kept)
        self.total = 0        # connections ever registered (/varz total_connections)
        self.stale = 0        # closed for missing PONGs (/varz stale_connections)
        self.stalls = 0       # producers paused behind a slow receiver (/varz stalled_clients)
        self._next_cid = 0

    def next_cid(self) -> int:
        self._next_cid += 1
        return self._next_cid

    def __len__(self) -> int:
        return len(self.live)

    def __iter__(self) -> Iterator[C]:
        """The live connections, as a list taken now (closing one while iterating is fine)."""
        return iter(list(self.live.values()))

    def add(self, conn: C) -> None:
        self.live[conn.cid] = conn
        self.total += 1

    def closed_now(self, conn: C, reason: str) -> None:
        """conn closed: forget it, keeping its snapshot (take this before its subscriptions go)."""
        self.paused.discard(conn)
        if self.live.pop(conn.cid, None) is not None:
            self.closed.append(ConnectionSnapshot.of(conn, reason))

    def pause(self, conn: C) -> None:
        self.paused.add(conn)

    def resume(self, conn: C) -> None:
        self.paused.discard(conn)

    def drain(self, conn: C) -> None:
        self.draining.add(conn)

    def drained(self, conn: C) -> None:
        self.draining.discard(conn)

    def count_stale(self) -> None:
        self.stale += 1

    def count_stall(self) -> None:
        self.stalls += 1
