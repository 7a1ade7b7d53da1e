"""What the JetStream modules need from each other and from the server, as Protocols, so that
stream, account, api and the handlers depend on these seams rather than on natsx.jetstream's
JetStream or on natsx.server (the import graph stays acyclic)."""
from __future__ import annotations

from typing import Any, Callable, Protocol

from natsx._core.conn import ServerCore
from natsx._core.sublist import Sublist, Subscription
from natsx.log import Logger
from natsx.options import ServerOptions


class ServerHost(Protocol):
    """The server JetStream runs in (natsx.server.Server)."""

    options: ServerOptions
    log: Logger
    core: ServerCore
    sublist: Sublist

    @property
    def name(self) -> str: ...

    def subscribe_internal(self, subject: str, callback: Callable[..., None],
                           queue: str | None = None) -> Subscription: ...

    def unsubscribe_internal(self, sub: Subscription) -> None: ...

    def publish(self, subject: str | bytes, payload: bytes, reply: str | bytes = b"",
                headers: bytes | None = None) -> int: ...


class JetStreamHost(Protocol):
    """The JetStream engine (natsx.jetstream.JetStream) as its parts see it. `streams` maps names
    to natsx.jetstream.stream.Stream, `router` is the natsx.jetstream.api.ApiRouter and `limits`
    the natsx.jetstream.account.AccountLimits (typed Any here: those modules import this one)."""

    server: ServerHost
    log: Logger
    api_level: int
    domain: str
    strict: bool
    sync_policy: tuple[str, float]
    max_memory: int
    max_store: int
    duplicates_limit: int
    streams: dict[str, Any]
    router: Any
    limits: Any
    advisories: Any     # natsx.jetstream.advisories.Advisories
    direct: Any         # natsx.jetstream.direct.DirectGets

    @property
    def streams_dir(self) -> str: ...

    def lookup_config(self, name: str) -> dict[str, Any] | None: ...

    def attach(self, stream: Any) -> None: ...

    def detach(self, stream: Any) -> None: ...

    def reconfigure(self, stream: Any) -> None: ...

    def usage(self) -> tuple[int, int]: ...
