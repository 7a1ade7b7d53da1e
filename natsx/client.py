"""A client connection's control plane: INFO, CONNECT, auth, keepalive, errors, closing.

The byte-level work (parsing, routing, outbound frames) is natsx._core.conn.Connection;
this subclass adds what runs once per connection or per timer tick.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Protocol

from natsx import connect_opts
from natsx._core.conn import Connection, ServerCore
from natsx._core.parser import ParseError, ParseResult
from natsx.accounts import GLOBAL_ACCOUNT
from natsx.auth import Authenticator
from natsx.gofmt import go_quote
from natsx.log import Logger
from natsx.options import ServerOptions
from natsx.registry import ConnectionRegistry

# -ERR texts, verbatim from nats-server.
ERR_UNKNOWN_OP = "Unknown Protocol Operation"
ERR_MAX_CONTROL_LINE = "maximum control line exceeded"
ERR_MAX_PAYLOAD = "Maximum Payload Violation"
ERR_AUTH_VIOLATION = "Authorization Violation"
ERR_AUTH_TIMEOUT = "Authentication Timeout"
ERR_STALE = "Stale Connection"
ERR_SLOW_CONSUMER = "Slow Consumer"
ERR_MAX_CONNECTIONS = "maximum connections exceeded"
ERR_BAD_PROTOCOL = "invalid client protocol"
ERR_NO_RESPONDERS_NEEDS_HEADERS = "no responders requires headers support"
ERR_MAX_SUBSCRIPTIONS = "maximum subscriptions exceeded"

# Producers paused behind a slow receiver resume after at most this long (nats-server's
# stall is bounded too), so one stuck consumer cannot freeze a publisher.
STALL_MAX = 0.01


class ClientHost(Protocol):
    """What a client connection needs from its server (natsx.server.Server). Read through this
    reference on every use: a config reload replaces options, authenticator and log settings."""

    core: ServerCore
    options: ServerOptions
    authenticator: Authenticator
    log: Logger
    registry: ConnectionRegistry["Client"]

    def info_for(self, client: "Client", ldm: bool = False, connect_info: bool = False) -> bytes: ...


class Client(Connection, asyncio.BufferedProtocol):
    def __init__(self, server: ClientHost) -> None:
        Connection.__init__(self, server.core)
        self.server = server
        self.registry = server.registry
        self.cid = self.registry.next_cid()
        self.start = time.time()
        self.last_activity = self.start
        self.name = ""
        self.lang = ""
        self.version = ""
        self.user = ""
        self.account = GLOBAL_ACCOUNT
        self.host = ""
        self.port = 0
        self.connect_received = False
        self.connect_opts: dict[str, Any] = connect_opts.DEFAULTS   # a CONNECT decodes into a copy
        self.protocol = 0
        self.paused_since = 0.0
        self.close_reason = ""
        self._auth_timer: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._unstall_timer: asyncio.TimerHandle | None = None
        self.require_connect = server.authenticator.required
        self.max_subs = server.options.max_subscriptions
        self.trace = server.options.trace

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        self.transport = transport
        sock = transport.get_extra_info("socket")
        self.fd = sock.fileno() if sock is not None else -1
        peer = transport.get_extra_info("peername") or ("", 0)
        self.host, self.port = peer[0], peer[1]
        server = self.server
        # High-water at half of max_pending: above it we stall producers and watch for the
        # limit; past max_pending the connection is a slow consumer.
        transport.set_write_buffer_limits(high=max(server.core.max_pending // 2, 65536))
        self.send_proto(server.info_for(self))
        if len(self.registry) >= server.options.max_connections:
            self.close_with_error(ERR_MAX_CONNECTIONS, "Maximum Connections Exceeded")
            return
        self.registry.add(self)
        loop = asyncio.get_running_loop()
        if self.require_connect:
            self._auth_timer = loop.call_later(server.options.auth_timeout, self._auth_timeout)
        self._ping_timer = loop.call_later(server.options.ping_interval, self._ping_tick)
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.drained(self)
        self._teardown("Client Closed" if not self.close_reason else self.close_reason)

    def eof_received(self) -> bool:
        return False

    def pause_writing(self) -> None:
        self.write_paused = True
        self.paused_since = time.monotonic()
        self.registry.pause(self)
        self._check_slow_consumer()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.registry.resume(self)
        self._release_producers()

    def pending_bytes(self) -> int:
        transport = self.transport
        if transport is None or self.closed:
            return 0
        return transport.get_write_buffer_size()

    # -- hooks called by the Cython core ------------------------------------------------------
    def _process_connect(self, arg: bytes) -> int:
        # As nats-server's processConnect: decode into the options so far, drop an earlier
        # CONNECT's subscriptions, authenticate, then check protocol and no_responders.
        try:
            opts = connect_opts.decode(arg, self.connect_opts)
        except connect_opts.ConnectError as exc:
            self.server.log.error(f"{self._label()} - {exc}")
            self.close_connection("Protocol Violation")
            return ParseResult.PARSE_STOP
        self.connect_opts = opts
        if self._auth_timer is not None:
            self._auth_timer.cancel()
            self._auth_timer = None
        if self.connect_received:
            self.remove_all_subs()
        self.connect_received = True
        identity = self.server.authenticator.authenticate(opts)
        # Naming an account in CONNECT is refused since nats-server 2.2, even after valid credentials.
        if identity is None or opts["account"] or opts["new_account"]:
            self.server.log.error(f"{self._label()} - {ERR_AUTH_VIOLATION}")
            self.close_with_error(ERR_AUTH_VIOLATION, "Authentication Failure")
            return ParseResult.PARSE_STOP
        protocol = opts["protocol"]
        if protocol < 0 or protocol > 1:
            self.close_with_error(ERR_BAD_PROTOCOL, "Protocol Violation")
            return ParseResult.PARSE_STOP
        if opts["no_responders"] and not opts["headers"]:
            self.close_with_error(ERR_NO_RESPONDERS_NEEDS_HEADERS, "Protocol Violation")
            return ParseResult.PARSE_STOP
        self.user, self.account = identity.user, identity.account
        self.verbose, self.pedantic, self.echo = opts["verbose"], opts["pedantic"], opts["echo"]
        self.headers, self.no_responders = opts["headers"], opts["no_responders"]
        self.name, self.lang, self.version = opts["name"], opts["lang"], opts["version"]
        self.require_connect = False
        self.protocol = protocol
        self.connect_info_due = protocol >= 1
        if self.verbose:
            self.send_proto(b"+OK\r\n")
        return ParseResult.PARSE_OK

    def _protocol_error(self, code: int, detail: str) -> None:
        if code == ParseError.PE_UNKNOWN_OP:
            self.server.log.error(f"{self._label()} - Client parser ERROR")
            self.close_with_error(ERR_UNKNOWN_OP, "Protocol Violation")
        elif code == ParseError.PE_MAX_CONTROL_LINE:
            self.server.log.error(f"{self._label()} - {ERR_MAX_CONTROL_LINE}")
            self.close_with_error(ERR_MAX_CONTROL_LINE, "Maximum Control Line Exceeded")
        elif code == ParseError.PE_AUTH:
            self.server.log.error(f"{self._label()} - {ERR_AUTH_VIOLATION}")
            self.close_with_error(ERR_AUTH_VIOLATION, "Authentication Failure")
        else:  # argument errors: nats-server logs them and closes without an -ERR
            self.server.log.error(f"{self._label()} - {detail}")
            self.close_connection("Protocol Violation")

    def _max_payload(self, size: int) -> None:
        self.server.log.error(f"{self._label()} - maximum payload exceeded: {size} vs {self.core.max_payload}")
        self.close_with_error(ERR_MAX_PAYLOAD, "Maximum Payload Exceeded")

    def _max_subs_exceeded(self) -> None:
        self.server.log.error(f"{self._label()} - {ERR_MAX_SUBSCRIPTIONS}")
        self.send_proto(f"-ERR '{ERR_MAX_SUBSCRIPTIONS}'\r\n".encode())

    def _publish_violation(self, subject: bytes) -> None:
        self.send_proto(f"-ERR 'Permissions Violation for Publish to {_quote(subject)}'\r\n".encode())
        self.server.log.error(f"{self._label()} - Publish Violation - Subject {_quote(subject)}")

    def _subscribe_violation(self, subject: bytes, queue: bytes | None, sid: bytes) -> None:
        err, log = f"Subscription to {_quote(subject)}", f"Subject {_quote(subject)}"
        if queue is not None:
            err += f" using queue {_quote(queue)}"
            log += f", Queue: {_quote(queue)}"
        self.send_proto(f"-ERR 'Permissions Violation for {err}'\r\n".encode())
        self.server.log.error(f"{self._label()} - Subscription Violation - {log}, SID {sid.decode('latin-1')}")

    def _client_error(self, arg: bytes) -> None:
        self.server.log.error(f"{self._label()} - Client Error {arg.decode('utf-8', 'replace')}")
        self.close_connection("Client Closed")

    def _check_slow_consumer(self) -> None:
        if not self.closed and self.pending_bytes() > self.core.max_pending:
            self.core.slow_consumers += 1
            self.server.log.info(f"{self._label()} - Slow Consumer Detected: MaxPending of {self.core.max_pending} Exceeded")
            self.close_with_error(ERR_SLOW_CONSUMER, "Slow Consumer (Pending Bytes)", flush=False)

    def check_write_deadline(self, now: float) -> None:
        """Called by the server's tick for connections whose output is backed up."""
        if self.write_paused and now - self.paused_since > self.server.options.write_deadline:
            self.core.slow_consumers += 1
            self.server.log.info(f"{self._label()} - Slow Consumer Detected: WriteDeadline of "
                                 f"{self.server.options.write_deadline}s Exceeded")
            self.close_with_error(ERR_SLOW_CONSUMER, "Slow Consumer (Write Deadline)", flush=False)

    # -- tracing (-V): Python per operation, only while tracing is on --------------------------
    def _trace_in(self, data: bytes, payload: bool) -> None:
        text = data.decode("utf-8", "replace")
        if payload:
            self.server.log.trace(f"{self._label()} - <<- MSG_PAYLOAD: [{json.dumps(text)}]")
        else:
            self.server.log.trace(f"{self._label()} - <<- [{text}]")

    def _trace_out(self, line: bytes) -> None:
        self.server.log.trace(f"{self._label()} - ->> [{line.decode('utf-8', 'replace')}]")

    # -- producer stalls -----------------------------------------------------------------------
    def _schedule_unstall(self) -> None:
        self.registry.count_stall()   # as nats-server's stalledWait counts each wait
        if self._unstall_timer is None:
            self._unstall_timer = asyncio.get_running_loop().call_later(STALL_MAX, self._unstall)

    def _unstall(self) -> None:
        self._unstall_timer = None
        if not self.closed and self.transport is not None:
            self.transport.resume_reading()

    def _release_producers(self) -> None:
        producers, self.stalled_producers = self.stalled_producers, []
        for producer in producers:
            producer._unstall()

    # -- timers ----------------------------------------------------------------------------------
    def _auth_timeout(self) -> None:
        self._auth_timer = None
        if not self.closed and self.require_connect:
            self.server.log.debug(f"{self._label()} - Authentication Timeout")
            self.close_with_error(ERR_AUTH_TIMEOUT, "Authentication Timeout")

    def _ping_tick(self) -> None:
        self._ping_timer = None
        if self.closed:
            return
        opts = self.server.options
        if self.pings_out + 1 > opts.ping_max:
            self.registry.count_stale()
            self.server.log.debug(f"{self._label()} - Stale Client Connection - Closing")
            self.close_with_error(ERR_STALE, "Stale Connection")
            return
        self.pings_out += 1
        self.ping_sent_at = time.time()
        self.send_proto(b"PING\r\n")
        self.flush()
        self._ping_timer = asyncio.get_running_loop().call_later(opts.ping_interval, self._ping_tick)

    # -- closing ---------------------------------------------------------------------------------
    def close_with_error(self, message: str, reason: str, flush: bool = True) -> None:
        if self.closed:
            return
        if flush:
            self.send_proto(f"-ERR '{message}'\r\n".encode())
        self.close_connection(reason, flush=flush)

    def close_connection(self, reason: str, flush: bool = True) -> None:
        """Close after the queued output went out (transport.close flushes), drop the subscriptions."""
        if self.closed:
            return
        self.close_reason = reason
        if flush:
            self.flush()
        transport = self.transport
        self._teardown(reason)
        if transport is not None:
            if flush:
                self.registry.drain(self)   # until connection_lost: its output is going out
                transport.close()
            else:
                transport.abort()

    def _teardown(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.sink.closed = True
        if not self.close_reason:
            self.close_reason = reason
        for timer in (self._auth_timer, self._ping_timer, self._unstall_timer):
            if timer is not None:
                timer.cancel()
        self._auth_timer = self._ping_timer = self._unstall_timer = None
        self.registry.closed_now(self, self.close_reason)   # snapshots the subs: before they go
        self.remove_all_subs()
        self._release_producers()

    def _report_bug(self, text: str) -> None:
        self.server.log.error(f"{self._label()} - {text}")

    def _label(self) -> str:
        return f"{self.host}:{self.port} - cid:{self.cid}"

    def _send_connect_info(self) -> None:
        # nats-server confirms the accepted CONNECT to protocol-1 clients after their first PONG.
        self.send_proto(self.server.info_for(self, connect_info=True))

    def send_lame_duck_info(self) -> None:
        # Like nats-server, only clients that take async INFO (protocol 1) are told.
        if self.protocol >= 1:
            self.send_proto(self.server.info_for(self, ldm=True))
            self.flush()


def _quote(b: bytes) -> str:
    """Go's %q of a subject or queue name as the client sent it."""
    return go_quote(b.decode("utf-8", "surrogateescape"))
