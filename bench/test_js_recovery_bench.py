"""JetStream recovery: the time from process start to "Server is ready" for a store that holds
(a) 1,000 file streams of a few messages each, (b) one file stream of many small messages;
natsx side by side with nats-server, each recovering a store it wrote itself through its $JS.API.

    python -m pytest bench/test_js_recovery_bench.py -s
    NATSX_BENCH_RECOVERY_STREAMS=1000 NATSX_BENCH_RECOVERY_MSGS=10000000 (the defaults; about a minute)

Both stores are filled by publishing (16 B messages, `natsx bench js pub async`), stopped with
SIGTERM (a clean stop) and then started RESTARTS times; the figure is the median start.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from servers import free_port  # noqa: E402
from test_js_ingest_bench import _publish  # noqa: E402

STREAMS = int(os.environ.get("NATSX_BENCH_RECOVERY_STREAMS", "1000"))
MSGS_PER_STREAM = 5
BIG_MSGS = int(os.environ.get("NATSX_BENCH_RECOVERY_MSGS", "10000000"))
RESTARTS = 3
KINDS = ("natsx", "nats-server")


def _command(kind: str, port: int, store: Path) -> list[str]:
    exe = [sys.executable, "-m", "natsx", "serve"] if kind == "natsx" else [shutil.which("nats-server")]
    return exe + ["-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)]


def _start_timed(kind: str, port: int, store: Path) -> tuple[subprocess.Popen, float]:
    """Start a server; return it and the seconds from spawn to its "Server is ready" line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(_command(kind, port, store), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=ROOT, start_new_session=True)
    for line in proc.stdout:
        if "Server is ready" in line:
            ready = time.perf_counter() - t0
            # keep draining the log so the server never blocks on a full pipe
            subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
            return proc, ready
    raise RuntimeError(f"{kind} exited before it was ready (exit {proc.wait()})")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


async def _fill_many(port: int) -> None:
    """STREAMS file streams S0.. on subjects s.<i>, MSGS_PER_STREAM acked messages each."""
    nc = await nats.connect(f"nats://127.0.0.1:{port}")
    try:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with sem:
                cfg = {"name": f"S{i}", "subjects": [f"s.{i}"], "storage": "file"}
                r = json.loads((await nc.request(f"$JS.API.STREAM.CREATE.S{i}", json.dumps(cfg).encode(),
                                                 timeout=30)).data)
                assert "error" not in r, r
                for n in range(MSGS_PER_STREAM):
                    ack = json.loads((await nc.request(f"s.{i}", b"m%d" % n, timeout=30)).data)
                    assert ack.get("seq") == n + 1, ack
        await asyncio.gather(*(one(i) for i in range(STREAMS)))
    finally:
        await nc.close()


def _recovery_times(kind: str, fill) -> tuple[float, list[float]]:
    """The start on the empty store (the interpreter's and server's own start-up), then the starts
    that recover what fill(port) stored."""
    store = Path(tempfile.mkdtemp(prefix=f"jsrecovery-{kind}-"))
    port = free_port()
    try:
        proc, empty = _start_timed(kind, port, store)
        try:
            fill(port)
        finally:
            _stop(proc)
        times = []
        for _ in range(RESTARTS):
            proc, ready = _start_timed(kind, port, store)
            _stop(proc)
            times.append(ready)
        return empty, times
    finally:
        shutil.rmtree(store, ignore_errors=True)


def _compare(benchmark, title: str, fill) -> None:
    medians: dict[str, float] = {}
    empty: dict[str, float] = {}

    def once():
        for kind in KINDS:
            empty[kind], times = _recovery_times(kind, fill)
            medians[kind] = statistics.median(times)

    benchmark.pedantic(once, rounds=1, iterations=1)
    print(f"\nrecovery, {title}: process start to \"Server is ready\" (median of {RESTARTS})")
    for kind, t in medians.items():
        print(f"  {kind:12} {t * 1e3:10,.0f} ms   natsx/this = {medians['natsx'] / t:5.2f}"
              f"   (empty store: {empty[kind] * 1e3:,.0f} ms)")
    benchmark.extra_info.update({f"{k} ms": v * 1e3 for k, v in medians.items()})
    benchmark.extra_info.update({f"{k} empty store ms": v * 1e3 for k, v in empty.items()})


@pytest.mark.skipif(shutil.which("nats-server") is None, reason="nats-server not installed")
def test_recover_many_streams(benchmark):
    _compare(benchmark, f"{STREAMS:,} file streams of {MSGS_PER_STREAM} messages",
             lambda port: asyncio.run(_fill_many(port)))


@pytest.mark.skipif(shutil.which("nats-server") is None, reason="nats-server not installed")
def test_recover_one_big_stream(benchmark):
    _compare(benchmark, f"one file stream of {BIG_MSGS:,} 16 B messages",
             lambda port: _publish(port, "async", BIG_MSGS))
