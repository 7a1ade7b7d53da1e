"""Acked means durable: a process serving a file stream and publishing into it with acks is
SIGKILLed mid-stream, 20 rounds on the same directory; after every reopen each acked message is
there (sequence, subject, payload, Nats-Msg-Id), and the dedupe window rebuilt from the stored
messages answers a republished acked id as a duplicate of its original sequence."""
from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats

import natsx
from jetstream.crash_publisher import payload
from natsx._core.stream import StreamIngest
from natsx._core.sublist import Subscription
from natsx.store import FileStore, StoreConfig

HERE = Path(__file__).parent
ROUNDS = 20


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _lines_until(proc: subprocess.Popen, deadline: float, want: int, acc: list[bytes]) -> None:
    """Read the child's lines into acc until it printed `want` of them or the deadline."""
    fd = proc.stdout.fileno()
    buf = b""
    while len(acc) < want and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        acc.extend(lines)


def _one_round(directory: Path, kill_after: int) -> tuple[int, dict[int, str]]:
    proc = subprocess.Popen([sys.executable, str(HERE / "crash_publisher.py"), str(directory)],
                            stdout=subprocess.PIPE, env=_env(), start_new_session=True)
    try:
        lines: list[bytes] = []
        _lines_until(proc, time.monotonic() + 30, 1, lines)
        assert lines and lines[0].startswith(b"ready"), (lines, proc.poll())
        opened = int(lines[0].split()[1])
        _lines_until(proc, time.monotonic() + 30, 1 + kill_after, lines)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # acks the child printed before it died (reading what is left in the pipe)
        _lines_until(proc, time.monotonic() + 1, 1 << 30, lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    acked: dict[int, str] = {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) == 2:     # a last line cut by the kill is not an ack we saw whole
            acked[int(parts[0])] = parts[1].decode()
    return opened, acked


def test_sigkill_mid_stream_loses_no_acked_message(tmp_path):
    directory = tmp_path / "CRASH"
    all_acked: dict[int, str] = {}
    for rnd in range(ROUNDS):
        opened, acked = _one_round(directory, kill_after=150 + 37 * rnd)
        assert len(acked) >= 150, f"round {rnd}: only {len(acked)} acks before the kill"
        # the stream reopened with everything acked in earlier rounds
        assert opened >= max(all_acked, default=0)
        all_acked.update(acked)
        store = FileStore(directory, StoreConfig(sync="always", block_size=16384))
        try:
            missing = []
            for seq, msg_id in acked.items():
                try:
                    m = store.load(seq)
                except Exception:
                    missing.append(seq)
                    continue
                assert m.data == payload(msg_id) and f"Nats-Msg-Id: {msg_id}".encode() in m.hdr
            assert not missing, f"round {rnd}: acked but lost after SIGKILL: {missing[:10]}"
        finally:
            store.close()
    assert len(all_acked) >= ROUNDS * 150


async def test_dedupe_window_survives_a_crash(tmp_path):
    """Republishing acked ids after a SIGKILL answers duplicates with the original sequences."""
    directory = tmp_path / "CRASH"
    _, acked = _one_round(directory, kill_after=200)
    some = sorted(acked.items())[::40]
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        store = FileStore(directory, StoreConfig(sync="always", block_size=16384))
        ingest = StreamIngest(srv.core, store, b"CRASH", {"storage": "file"})
        assert ingest.dedupe_count >= len(acked)
        sub = Subscription(b"crash.>", b"js", ingest)
        srv.sublist.insert(sub)
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            last = store.last_seq
            for seq, msg_id in some:
                r = await nc.request("crash.0", b"again", headers={"Nats-Msg-Id": msg_id}, timeout=5)
                assert r.data == b'{"stream":"CRASH","seq":%d,"duplicate": true}' % seq
            assert store.last_seq == last
            r = await nc.request("crash.0", b"new", headers={"Nats-Msg-Id": "fresh"}, timeout=5)
            assert r.data == b'{"stream":"CRASH","seq":%d}' % (last + 1)
        finally:
            await nc.close()
            srv.unsubscribe_internal(sub)
            ingest.close()
            store.close()
    await asyncio.sleep(0)
