"""Sublist match throughput on a cache hit: 10 vs 100,000 subscriptions on distinct subjects.

The cache hit cost (one bytes object + one dict lookup) should not depend on the sublist size.
Run: pytest bench/test_sublist_bench.py --benchmark-only
"""
import sys
from pathlib import Path

import pytest

# The helper cimports natsx/_core/sublist.pxd; Cython finds .pxd files through sys.path.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.append(ROOT)

from tests import pyxbuild  # noqa: E402
from natsx._core.sublist import Sublist, Subscription  # noqa: E402

pyxbuild.install()
from _sublist_hit_loop import match_loop  # noqa: E402  (bench/ is on sys.path; compiled by pyximport)

HOT = 64          # distinct published subjects, all cache-resident (< slCacheMax)
ROUNDS = 1000     # C-loop rounds per benchmark call: HOT * ROUNDS matches


def make_sublist(nsubs: int) -> tuple[Sublist, list[bytes]]:
    sl = Sublist()
    for i in range(nsubs):
        sl.insert(Subscription(b"bench.%d.data" % i, b"%d" % i))
    sl.insert(Subscription(b"bench.*.data", b"wild"))
    hot = [b"bench.%d.data" % (i * (nsubs // HOT or 1) % nsubs) for i in range(HOT)]
    for s in hot:
        assert len(sl.match(s).psubs) == 2       # warm the cache, check the match
    return sl, hot


@pytest.fixture(scope="module", params=[10, 100_000], ids=["10subs", "100ksubs"])
def warm(request):
    return make_sublist(request.param)


def test_match_c_cache_hit(benchmark, warm):
    sl, hot = warm
    hits = sl.cache_hits
    total = benchmark(match_loop, sl, hot, ROUNDS)
    assert total == 2 * len(hot) * ROUNDS
    assert sl.cache_hits > hits
    benchmark.extra_info["matches_per_call"] = len(hot) * ROUNDS


def test_match_py_cache_hit(benchmark, warm):
    sl, hot = warm
    subject = hot[3]

    def run():
        m = sl.match
        for _ in range(1000):
            m(subject)

    benchmark(run)
    benchmark.extra_info["matches_per_call"] = 1000
