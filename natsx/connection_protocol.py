"""The face a control plane shows the connection kernel: the upcalls of natsx._core.conn.Connection.

The kernel declares them (cpdef, natsx/_core/conn.pxd) with defaults that let a bare Connection
stand alone; natsx.client.Client overrides each, and so can route, leaf or internal connections.
An upcall runs off the per-message path (tracing and the slow-consumer check only when those are on
or a writer is backed up). Whatever one raises is caught by the kernel: the bug is logged through
_report_bug, nats-server's answer is sent and only that connection closes.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class ConnectionUpcalls(Protocol):
    def _process_connect(self, arg: bytes) -> int:
        """CONNECT's JSON argument; return ParseResult.PARSE_OK, or PARSE_STOP once closing."""

    def _protocol_error(self, code: int, detail: str) -> None:
        """A parse error (a ParseError code): answer as nats-server and close."""

    def _max_payload(self, size: int) -> None:
        """A PUB/HPUB announced more than max_payload: answer and close."""

    def _max_subs_exceeded(self) -> None:
        """A SUB past the per-connection limit was refused."""

    def _publish_violation(self, subject: bytes) -> None:
        """The connection's permissions refused a PUB/HPUB to subject (the message was dropped)."""

    def _subscribe_violation(self, subject: bytes, queue: bytes | None, sid: bytes) -> None:
        """The connection's permissions refused a SUB (queue is None without a queue group)."""

    def _client_error(self, arg: bytes) -> None:
        """The peer sent -ERR."""

    def _trace_in(self, data: bytes, payload: bool) -> None:
        """An inbound control line or payload, while tracing."""

    def _trace_out(self, line: bytes) -> None:
        """An outbound MSG/HMSG control line, while tracing."""

    def _check_slow_consumer(self) -> None:
        """Output was handed to a transport above its high-water mark."""

    def _schedule_unstall(self) -> None:
        """This producer was paused behind a slow receiver: arrange for it to resume."""

    def _send_connect_info(self) -> None:
        """The first PONG after a protocol-1 CONNECT went out: send the INFO that confirms it."""

    def close_connection(self, reason: str, flush: bool = True) -> None:
        """Close only this connection, after its queued output unless flush is False."""

    def _report_bug(self, text: str) -> None:
        """Log an exception an upcall raised (with its traceback the first time)."""
