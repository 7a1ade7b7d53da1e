"""A short run of the parser fuzz target in CI (the long run: tests/fuzz/fuzz_parser.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("fuzz_parser", Path(__file__).parent / "fuzz" / "fuzz_parser.py")
fuzz_parser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz_parser)

# Protocol-shaped garbage finds more than uniform bytes.
pieces = st.sampled_from([b"PUB ", b"HPUB ", b"SUB ", b"UNSUB ", b"PING", b"PONG", b"CONNECT ", b"INFO ",
                          b"MSG ", b"HMSG ", b"+OK", b"-ERR ", b"\r\n", b"\r", b"\n", b" ", b"\t", b"foo",
                          b"1", b"12", b"-1", b"99999999999999999999", b"{}", b"NATS/1.0\r\n\r\n", b"*", b">"])


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(pieces, st.binary(max_size=8)), max_size=40), st.integers(0, 255))
def test_fuzz_parser_short(parts, cut):
    fuzz_parser.check(bytes([cut]) + b"".join(parts))
