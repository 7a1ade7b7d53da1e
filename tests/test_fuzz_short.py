"""Short runs of the fuzz targets in CI (the long, coverage-guided runs: tests/fuzz/run_instrumented.sh;
the CONNECT fuzz longer with NATSX_FUZZ_CONNECT_EXAMPLES=N or tests/fuzz/fuzz_connect.py)."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NATSX, REF, selected_kinds


def _target(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "fuzz" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fuzz_parser = _target("fuzz_parser")
fuzz_server = _target("fuzz_server")
fuzz_connect = _target("fuzz_connect")

# Protocol-shaped garbage finds more than uniform bytes.
pieces = st.sampled_from([b"PUB ", b"HPUB ", b"SUB ", b"UNSUB ", b"PING", b"PONG", b"CONNECT ", b"INFO ",
                          b"MSG ", b"HMSG ", b"+OK", b"-ERR ", b"\r\n", b"\r", b"\n", b" ", b"\t", b"foo",
                          b"1", b"12", b"-1", b"99999999999999999999", b"{}", b"NATS/1.0\r\n\r\n", b"*", b">"])


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(pieces, st.binary(max_size=8)), max_size=40), st.integers(0, 255))
def test_fuzz_parser_short(parts, cut):
    fuzz_parser.check(bytes([cut]) + b"".join(parts))


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.lists(st.one_of(pieces, st.binary(max_size=8)), max_size=12)),
                max_size=12))
def test_fuzz_server_short(chunks):
    # Each chunk: a length byte (as the target reads it) and protocol-shaped bytes.
    data = b""
    for size_byte, parts in chunks:
        body = b"".join(parts)[:1 + size_byte % 200]
        data += bytes([(len(body) - 1) % 200 if body else 0]) + body
    fuzz_server.check(data)


@pytest.mark.skipif(NATSX not in selected_kinds(), reason="differential: natsx against nats-server")
@settings(max_examples=int(os.environ.get("NATSX_FUZZ_CONNECT_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(config=st.sampled_from(sorted(fuzz_connect.CONFIGS)), arg=fuzz_connect.connect_args)
def test_fuzz_connect_differential_short(server_pool, config, arg):
    conf = fuzz_connect.CONFIGS[config]
    ref, cand = server_pool.get(REF, conf), server_pool.get(NATSX, conf)
    fuzz_connect.check((ref.host, ref.port), (cand.host, cand.port), arg)
