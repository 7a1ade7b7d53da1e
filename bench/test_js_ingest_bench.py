"""JetStream publish (async, and sync: one in flight) into a file stream, natsx side by side with
nats-server (16 B messages, one publisher, the same load generator: `natsx bench js pub`).

    python -m pytest bench/test_js_ingest_bench.py -s            # NATSX_BENCH_JS_MSGS=300000

Both servers get the stream through their $JS.API (`--create --storage file`). natsx runs with
its default, `sync_interval: always` (an ack only after the fdatasync that covers it, one per
group commit); nats-server runs twice: `sync_interval: always` and its default (2 minutes).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from servers import free_port  # noqa: E402

STREAM = "benchstream"
SUBJECT = "js.bench"
MSGS = int(os.environ.get("NATSX_BENCH_JS_MSGS", "300000"))


def _start(cmd: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 20
    for line in proc.stdout:
        if "Server is ready" in line:
            return proc
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise RuntimeError(f"{cmd[0]} did not start")


def _publish(port: int, mode: str, msgs: int) -> float:
    """One `natsx bench js pub` run; its msgs/sec."""
    cmd = [sys.executable, "-m", "natsx", "bench", "js", "pub", mode, SUBJECT, "--stream", STREAM,
           "--msgs", str(msgs), "--size", "16", "--no-progress", "-s", f"nats://127.0.0.1:{port}"]
    cmd += ["--create", "--storage", "file"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    text = out.stdout + out.stderr
    m = re.search(r"([\d,]+) msgs/sec", text)
    assert out.returncode == 0 and m, text
    return float(m.group(1).replace(",", ""))


def _run(kind: str, sync_always: bool, mode: str, msgs: int) -> float:
    tmp = Path(tempfile.mkdtemp(prefix=f"jsbench-{kind}-"))
    port = free_port()
    try:
        conf = tmp / "js.conf"
        conf.write_text("jetstream { store_dir: %s%s }\n"
                        % (tmp / "js", ", sync_interval: always" if sync_always else ""))
        exe = [sys.executable, "-m", "natsx", "serve"] if kind == "natsx" else [shutil.which("nats-server")]
        proc = _start(exe + ["-a", "127.0.0.1", "-p", str(port), "-c", str(conf)])
        try:
            return _publish(port, mode, msgs)
        finally:
            proc.kill()
            proc.wait(10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.skipif(shutil.which("nats-server") is None, reason="nats-server not installed")
@pytest.mark.parametrize("mode", ["async", "sync"])
def test_js_publish_file_stream_vs_nats_server(benchmark, mode):
    # sync: one publish in flight, so each waits for its fdatasync: far fewer messages
    msgs = MSGS if mode == "async" else max(MSGS // 60, 1000)
    rates: dict[str, float] = {}

    def once():
        rates["natsx (default: sync always)"] = _run("natsx", False, mode, msgs)
        rates["nats-server sync_interval: always"] = _run("nats-server", True, mode, msgs)
        rates["nats-server default (2m)"] = _run("nats-server", False, mode, msgs)

    benchmark.pedantic(once, rounds=1, iterations=1)
    nx = rates["natsx (default: sync always)"]
    print(f"\njs pub {mode}, file stream, 16 B, {msgs:,} msgs, 1 publisher:")
    for name, rate in rates.items():
        print(f"  {name:36} {rate:12,.0f} msgs/s   natsx/this = {nx / rate:5.2f}")
    benchmark.extra_info.update(rates)


