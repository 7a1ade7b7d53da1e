"""The kernel's upcalls into Python (natsx/_core/conn.pxd): declared, with defaults that let a bare
Connection stand alone, and guarded: an exception in one is a bug that is logged, answered as
nats-server would, and closes only that connection."""

from __future__ import annotations

import asyncio
import inspect
import re
from pathlib import Path

import pytest

import natsx

from conftest import NATSX, selected_kinds, wait_until
from natsx._core.conn import Connection, ServerCore
from natsx._core.sublist import Sublist
from natsx.auth import Authenticator
from natsx.client import Client
from natsx.connection_protocol import ConnectionUpcalls

AV = b"-ERR 'Authorization Violation'\r\n"


class Transport:
    """Where a connection in this process writes (these tests drive the kernel without a loop)."""

    def __init__(self) -> None:
        self.data = b""
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.data += data

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def attach(conn: Connection) -> Transport:
    conn.transport = Transport()
    return conn.transport


def feed(conn: Connection, data: bytes) -> bytes:
    """Hand `data` to the connection as one read; return what it wrote back."""
    transport = conn.transport
    before = len(transport.data)
    conn.get_buffer(-1)[:len(data)] = data
    conn.buffer_updated(len(data))
    return transport.data[before:]


@pytest.fixture
def core() -> ServerCore:
    return ServerCore(Sublist(), max_payload=64)


class Reporting(Connection):
    """A bare connection that keeps what it reports as bugs."""

    def __init__(self, core: ServerCore) -> None:
        super().__init__(core)
        self.reports: list[str] = []

    def _report_bug(self, text: str) -> None:
        self.reports.append(text)


def test_bare_connection_connect_ping(core):
    conn = Connection(core)
    attach(conn)
    assert feed(conn, b"CONNECT {}\r\nPING\r\n") == b"+OK\r\nPONG\r\n"
    # The default accepts any CONNECT and keeps the options (verbose, as before CONNECT).
    assert feed(conn, b'CONNECT {"verbose":false}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\n') == b"+OK\r\n+OK\r\n+OK\r\nMSG a 1 2\r\nhi\r\n"
    assert not conn.closed


@pytest.mark.parametrize("data", [b"FOO\r\n", b"PUB a 65\r\n", b"-ERR 'x'\r\n", b"PUB a\r\n"])
def test_bare_connection_errors_close_it(core, data):
    conn = Connection(core)
    transport = attach(conn)
    feed(conn, b"SUB a 1\r\n")
    feed(conn, data)
    assert conn.closed and transport.closed
    assert core.sublist.count == 0


def test_bare_connection_subscription_limit_refuses_the_sub(core):
    conn = Connection(core)
    attach(conn)
    conn.max_subs = 1
    assert feed(conn, b"SUB a 1\r\nSUB b 2\r\nPING\r\n") == b"+OK\r\nPONG\r\n"   # the second: no +OK
    assert core.sublist.count == 1 and not conn.closed


UPCALLS = [name for name, v in vars(ConnectionUpcalls).items() if inspect.isfunction(v) and not name.startswith("__")]


def test_protocol_describes_the_upcalls_conn_pxd_declares():
    pxd = (Path(natsx.__file__).parent / "_core" / "conn.pxd").read_text()
    declared = re.findall(r"^    cpdef (\w+)\(", pxd[pxd.index("# Upcalls:"):], re.M)
    assert declared == UPCALLS


@pytest.mark.parametrize("name", UPCALLS)
def test_client_overrides_each_upcall(name):
    override = getattr(Client, name)
    assert inspect.isfunction(override), f"Client.{name} does not override the kernel's"
    assert inspect.signature(override) == inspect.signature(getattr(ConnectionUpcalls, name))


class RaisingConnect(Reporting):
    def _process_connect(self, arg: bytes) -> int:
        raise OverflowError("cannot convert float infinity to integer")


def test_exception_in_connect_closes_only_that_connection(core):
    bystander = Connection(core)
    attach(bystander)
    bystander.verbose = False
    feed(bystander, b"SUB a 1\r\n")
    broken = RaisingConnect(core)
    transport = attach(broken)
    assert feed(broken, b"SUB a 2\r\nCONNECT {}\r\nPING\r\n") == b"+OK\r\n"   # no PONG: closed
    assert broken.closed and transport.closed and core.sublist.count == 1
    assert "internal error in CONNECT (OverflowError: cannot convert float infinity to integer)" in broken.reports[0]
    assert "Traceback" in broken.reports[0]
    # The same bug again: one line, no second traceback.
    again = RaisingConnect(core)
    attach(again)
    feed(again, b"CONNECT {}\r\n")
    assert again.closed and again.reports and "Traceback" not in again.reports[0]
    assert feed(bystander, b"PUB a 1\r\nx\r\n") == b"MSG a 1 1\r\nx\r\n"


def test_exception_in_connect_while_auth_pending_is_an_authorization_violation(core):
    conn = RaisingConnect(core)
    transport = attach(conn)
    conn.require_connect = True
    assert feed(conn, b"CONNECT {}\r\nPING\r\n") == AV
    assert conn.closed and transport.closed


class RaisingTrace(Reporting):
    def _trace_out(self, line: bytes) -> None:
        raise RuntimeError("tracing broke")


def test_exception_in_a_receivers_upcall_closes_the_receiver_not_the_publisher(core):
    receiver, other, publisher = RaisingTrace(core), Connection(core), Connection(core)
    for conn in (receiver, other, publisher):
        attach(conn)
        conn.verbose = False
    receiver.trace = True
    feed(receiver, b"SUB a 1\r\n")
    feed(other, b"SUB a 2\r\n")
    assert feed(publisher, b"PUB a 1\r\nx\r\nPING\r\n") == b"PONG\r\n"
    assert receiver.closed and not publisher.closed and not other.closed
    assert "internal error in trace (RuntimeError: tracing broke)" in receiver.reports[0]
    assert other.transport.data.endswith(b"MSG a 2 1\r\nx\r\n")


class RaisingClose(Reporting):
    def _protocol_error(self, code: int, detail: str) -> None:
        raise KeyError("protocol error handler")

    def close_connection(self, reason: str, flush: bool = True) -> None:
        raise ValueError("close broke too")


def test_when_closing_fails_too_the_kernel_drops_the_connection(core):
    conn = RaisingClose(core)
    transport = attach(conn)
    feed(conn, b"SUB a 1\r\nFOO\r\n")
    assert conn.closed and transport.aborted and core.sublist.count == 0
    assert "internal error in read (KeyError: 'protocol error handler')" in conn.reports[0]


class BrokenAuthenticator(Authenticator):
    def authenticate(self, connect):
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")


@pytest.mark.skipif(NATSX not in selected_kinds(), reason="natsx excluded by NATSX_TEST_SERVERS")
async def test_embedded_server_answers_a_bug_in_auth_and_keeps_serving(tmp_path):
    import natsx

    log = tmp_path / "natsx.log"
    srv = natsx.Server(port=0, log_file=str(log))
    srv.authenticator = BrokenAuthenticator(token="t0k")
    async with srv:
        host, port = srv.client_url.removeprefix("nats://").rsplit(":", 1)
        for _ in range(2):
            reader, writer = await asyncio.open_connection(host, int(port))
            await reader.readline()   # INFO
            writer.write(b'CONNECT {"auth_token":"\\ud800"}\r\nPING\r\n')
            assert await asyncio.wait_for(reader.read(), 5) == AV   # then EOF: closed
            writer.close()
        await wait_until(lambda: not srv.clients, what="both connections gone")
    text = log.read_text()
    assert text.count("internal error in CONNECT (UnicodeEncodeError") == 2
    assert text.count("Traceback (most recent call last)") == 1
