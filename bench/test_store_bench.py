"""Stream store benchmarks (issue 3's figures). Run:

    python -m pytest bench/test_store_bench.py --benchmark-only -s
    NATSX_BENCH_BIG=1 ...   # reopen with 10M messages instead of 1M

Each test prints its figure and stores it in the benchmark's extra_info.
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import shutil
import statistics
import time

import pytest

from natsx.store import FileStore, MemStore, StoreConfig
from natsx.store.filestore import INDEX_FILE, decode_zst

BIG = os.environ.get("NATSX_BENCH_BIG") == "1"
MSG16 = b"0123456789abcdef"


def _report(benchmark, **figures):
    for k, v in figures.items():
        benchmark.extra_info[k] = v
    print("\n  " + "  ".join(f"{k}={v:,.3f}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in figures.items()))


def fsync_latency_ms(directory, n: int = 200) -> float:
    """Median latency of write(4 KiB) + fdatasync on this disk."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    lat = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, b"x" * 4096)
            os.fdatasync(fd)
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(lat) * 1e3


def raw_write_gbps(directory, total: int = 256 << 20) -> float:
    """Plain write(2) throughput into the page cache, 1 MiB at a time (the ceiling for appends)."""
    path = os.path.join(directory, "write-probe")
    buf = os.urandom(1 << 20)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    t = time.perf_counter()
    for _ in range(total >> 20):
        os.write(fd, buf)
    dt = time.perf_counter() - t
    os.close(fd)
    os.unlink(path)
    return total / dt / 1e9


@pytest.mark.parametrize("kind", ["file", "mem"])
def test_append_16b_batches_sync_never(benchmark, tmp_path, kind):
    cfg = StoreConfig(sync="never")
    s = FileStore(tmp_path, cfg) if kind == "file" else MemStore(cfg)
    batch = [(b"bench.16", MSG16)] * 100
    n_batches = 2000

    def run():
        for _ in range(n_batches):
            s.append_batch(batch)

    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    _report(benchmark, msgs_per_s=n_batches * 100 / benchmark.stats.stats.mean)
    s.delete()


def test_append_16b_sync_always_group_commit(benchmark, tmp_path):
    lat = fsync_latency_ms(tmp_path)
    batch = [(b"bench.16", MSG16)] * 100
    n_batches = 2000
    rounds = iter(range(1000))

    async def produce():
        s = FileStore(tmp_path / f"r{next(rounds)}", StoreConfig(sync="always"))
        inflight = collections.deque()
        for _ in range(n_batches):
            s.append_batch(batch)
            inflight.append(s.durable())
            if len(inflight) >= 32:  # a window of un-acked batches, like publishers awaiting acks
                await inflight.popleft()
        await asyncio.gather(*inflight)
        assert s.durable_seq == n_batches * 100
        syncs = s.sync_count
        s.delete()
        return syncs

    syncs = []
    benchmark.pedantic(lambda: syncs.append(asyncio.run(produce())), rounds=5, iterations=1)
    _report(benchmark, msgs_per_s=n_batches * 100 / benchmark.stats.stats.mean,
            fsync_ms=lat, fsyncs_per_run=statistics.mean(syncs))


def test_append_64k_sync_never(benchmark, tmp_path):
    s = FileStore(tmp_path / "s", StoreConfig(sync="never"))
    payload = os.urandom(65536)
    batch = [(b"bench.64k", payload)] * 16
    n_batches = 96  # ~100 MB per round

    def run():
        for _ in range(n_batches):
            s.append_batch(batch)
        s.purge()  # keep the disk footprint bounded between rounds

    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    gbps = n_batches * 16 * 65536 / benchmark.stats.stats.mean / 1e9
    _report(benchmark, gb_per_s=gbps, raw_write_gb_per_s=raw_write_gbps(tmp_path))
    s.delete()


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    """1M stored 16 B messages, zstd-compressed sealed blocks, fully cached (warm)."""
    d = tmp_path_factory.mktemp("million")
    s = FileStore(d, StoreConfig(sync="never", compression="zstd", cache_size=1 << 30))
    batch = [(b"replay.%d" % i, MSG16) for i in range(100)]
    for _ in range(10_000):
        s.append_batch(batch)
    s.wait_compressed()
    yield s
    s.delete()


def test_replay_1m_c_interface(benchmark, million):
    s = million
    assert len(s._compressed) > 0
    n, _ = s.replay_count(0)  # warm the cache
    assert n == 1_000_000
    benchmark.pedantic(lambda: s.replay_count(0), rounds=5, iterations=1)
    _report(benchmark, msgs_per_s=n / benchmark.stats.stats.mean,
            compressed_blocks=len(s._compressed))


def test_random_load_by_seq(benchmark, million):
    s = million
    seqs = [random.randint(1, 1_000_000) for _ in range(200_000)]
    load = s.load

    def run():
        for q in seqs:
            load(q)

    run()
    benchmark.pedantic(run, rounds=5, iterations=1)
    _report(benchmark, loads_per_s=len(seqs) / benchmark.stats.stats.mean)


def test_kv_load_last_by_subject_1m_subjects(benchmark, tmp_path):
    n = 1_000_000
    s = FileStore(tmp_path, StoreConfig(sync="never", max_msgs_per_subject=1))
    for base in range(0, n, 1000):
        s.append_batch([(b"$KV.bench.key%07d" % i, b"v") for i in range(base, base + 1000)])
    assert s.num_subjects == n
    idx = s.subject_index_bytes()
    keys = [b"$KV.bench.key%07d" % random.randrange(n) for _ in range(200_000)]
    load_last = s.load_last

    def run():
        for k in keys:
            load_last(k)

    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    _report(benchmark, lookups_per_s=len(keys) / benchmark.stats.stats.mean,
            subject_index_bytes_per_subject=idx / n,
            subject_bytes=len(b"$KV.bench.key0000000"))
    s.delete()


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    n = 10_000_000 if BIG else 1_000_000
    d = tmp_path_factory.mktemp("reopen")
    s = FileStore(d, StoreConfig(sync="never"))
    batch = [(b"reopen.%d" % (i % 10), MSG16) for i in range(1000)]
    for _ in range(n // 1000):
        s.append_batch(batch)
    s.close()
    yield d, n
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("mode", ["clean", "crash"])
def test_reopen(benchmark, big_store, mode):
    d, n = big_store
    opened = []

    def setup():
        while opened:
            opened.pop().close()
        if mode == "crash":
            # no checkpoint: exactly what a crash leaves, the blocks are rescanned
            (d / INDEX_FILE).unlink(missing_ok=True)

    def reopen():
        s = FileStore(d, StoreConfig(sync="never"))
        assert s.msgs == n
        opened.append(s)

    benchmark.pedantic(reopen, setup=setup, rounds=3, iterations=1)
    setup()
    _report(benchmark, messages=n, seconds=benchmark.stats.stats.mean)


def test_zstd_ratio_json_payloads(benchmark, tmp_path):
    rnd = random.Random(7)
    s = FileStore(tmp_path, StoreConfig(sync="never", compression="zstd"))
    raw = 0
    for i in range(100):
        batch = []
        for j in range(1000):
            doc = json.dumps({"id": i * 1000 + j, "user": f"user-{rnd.randrange(10000)}",
                              "event": rnd.choice(["login", "logout", "purchase", "view"]),
                              "amount": round(rnd.random() * 100, 2),
                              "tags": rnd.sample(["a", "b", "c", "d", "e"], 2)}).encode()
            raw += len(doc)
            batch.append((b"events.%d" % (j % 16), doc))
        s.append_batch(batch)
    benchmark.pedantic(s.wait_compressed, rounds=1, iterations=1)
    zst = [p for p in tmp_path.iterdir() if p.suffix == ".zst"]
    comp = sum(p.stat().st_size for p in zst)
    blocks = sum(len(decode_zst(p.read_bytes())) for p in zst)
    _report(benchmark, payload_bytes=raw, block_bytes_raw=blocks, block_bytes_zstd=comp,
            ratio=blocks / comp)
    s.delete()
