"""Parser throughput: 16-byte PUB frames (what a server reads) and MSG frames (what a client
reads), fed in 64 KiB reads as a socket delivers them. The hooks only count.

    pytest bench/test_parser_bench.py --benchmark-only
"""
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.append(ROOT)

from tests import pyxbuild  # noqa: E402

pyxbuild.install()
from _parser_loop import CountingParser, parse_loop  # noqa: E402  (compiled by pyximport)

FRAMES = 20_000
READ = 65536
ROUNDS = 20

STREAMS = {
    "PUB 16B": (False, b"PUB bench.subject 16\r\n0123456789abcdef\r\n"),
    "PUB 16B reply": (False, b"PUB bench.subject _INBOX.abcdefgh.1 16\r\n0123456789abcdef\r\n"),
    "MSG 16B": (True, b"MSG bench.subject 2 16\r\n0123456789abcdef\r\n"),
    "HMSG 16B": (True, b"HMSG bench.subject 2 18 34\r\nNATS/1.0\r\nA: 1\r\n\r\n0123456789abcdef\r\n"),
}


@pytest.mark.parametrize("name", list(STREAMS))
def test_parse_rate(benchmark, name):
    client_side, frame = STREAMS[name]
    data = frame * FRAMES
    p = CountingParser(client_side)
    before = p.msgs
    benchmark(parse_loop, p, data, READ, ROUNDS)
    assert (p.msgs - before) % (FRAMES * ROUNDS) == 0 and p.msgs > before
    benchmark.extra_info["msgs/s"] = FRAMES * ROUNDS / benchmark.stats.stats.min
