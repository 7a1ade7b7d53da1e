"""Garbage over real sockets: the natsx process never dies and other clients never notice."""
from __future__ import annotations

import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NATSX, Bystander, ServerProcess

PIECES = st.sampled_from([b"PUB ", b"HPUB ", b"SUB ", b"UNSUB ", b"PING", b"PONG", b"CONNECT ", b"INFO ",
                          b"MSG ", b"+OK", b"-ERR ", b"\r\n", b"\r", b"\n", b" ", b"\t", b"foo", b"a.*",
                          b">", b"1", b"7", b"-1", b"99999999999999999999", b'{"headers":true}',
                          b"NATS/1.0\r\n\r\n", b"\x00", b"\xff"])
STREAMS = st.lists(st.one_of(PIECES, st.binary(max_size=16)), min_size=1, max_size=60).map(b"".join)


def test_garbage_never_hurts_the_server(tmp_path_factory):
    srv = ServerProcess(NATSX, tmp_path_factory.mktemp("fuzz")).start()
    bystander = Bystander(srv)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(STREAMS, st.integers(1, 7))
    def send_garbage(data: bytes, pieces: int):
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        try:
            step = max(1, len(data) // pieces)
            for i in range(0, len(data), step):
                s.sendall(data[i:i + step])
        except OSError:
            pass   # the server may close the connection mid-stream: that is its right
        finally:
            s.close()
        assert srv.proc.poll() is None, srv.stderr[-2000:]

    try:
        send_garbage()
        bystander.check()
        assert "Traceback" not in srv.stderr, srv.stderr[-3000:]
    finally:
        bystander.close()
        srv.stop()
