"""Coverage-guided fuzz target for the server's hot path: parser + connection + sublist together.

    bash tests/fuzz/run_instrumented.sh fuzz_server.py -max_total_time=600

Three in-process connections share one ServerCore; the input is cut into pieces fed to them in
turn (SUBs on one, PUBs on another, garbage anywhere). Nothing may crash, and the sublist must
hold exactly the subscriptions of the connections still open.
"""
from __future__ import annotations

import sys

from natsx._core.conn import Connection, ServerCore
from natsx._core.parser import ParseResult
from natsx._core.sublist import Sublist


class Transport:
    """Collects what the server writes (the fuzz target checks the server, not a socket)."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class FuzzConnection(Connection):
    """The kernel's own upcall defaults (errors close the connection), but CONNECT switches the
    options that shape the hot path."""

    def _process_connect(self, arg: bytes) -> int:
        self.headers = b"headers" in arg
        self.no_responders = b"no_responders" in arg and self.headers
        self.echo = b"noecho" not in arg
        self.verbose = b"verbose" in arg
        return ParseResult.PARSE_OK

    def _report_bug(self, text: str) -> None:
        self.bug = text   # the kernel caught an exception from an upcall: a bug the fuzzer found


def check(data: bytes) -> None:
    core = ServerCore(Sublist(), max_payload=4096, max_control_line=256, read_size=1024)
    conns = []
    for _ in range(3):
        c = FuzzConnection(core)
        c.transport = Transport()
        c.max_subs = 50
        conns.append(c)
    view = conns[0].get_buffer(-1)   # the read buffer all connections share
    pos, turn = 0, 0
    while pos < len(data):
        size = 1 + data[pos] % 200
        piece = data[pos + 1:pos + 1 + size]
        pos += 1 + size
        c = conns[turn % 3]
        turn += 1
        if c.closed or not piece:
            continue
        view[:len(piece)] = piece
        c.buffer_updated(len(piece))
    bugs = [c.bug for c in conns if hasattr(c, "bug")]
    assert not bugs, bugs
    open_subs = sum(len(c.subs) for c in conns if not c.closed)
    assert core.sublist.count == open_subs, (core.sublist.count, open_subs)


def main() -> None:
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
