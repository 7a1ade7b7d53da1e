"""Acked means durable: a process serving a file stream and publishing into it with acks is
SIGKILLed mid-stream, 20 rounds on the same directory; after every reopen each acked message is
there (sequence, subject, payload, Nats-Msg-Id), and the dedupe window rebuilt from the stored
messages answers a republished acked id as a duplicate of its original sequence."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import nats
import nats.errors

import natsx
from conftest import wait_for
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


class ChildLines:
    """The child's stdout lines, read by a thread as they come (they survive its SIGKILL)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[bytes] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.append(line.rstrip(b"\n") if line.endswith(b"\n") else b"")

    def wait(self, count: int) -> None:
        wait_for(lambda: len(self.lines) >= count, timeout=30, what=f"{count} lines from the child")


def _one_round(directory: Path, kill_after: int) -> tuple[int, dict[int, str]]:
    proc = subprocess.Popen([sys.executable, str(HERE / "crash_publisher.py"), str(directory)],
                            stdout=subprocess.PIPE, env=_env(), start_new_session=True)
    out = ChildLines(proc)
    try:
        out.wait(1)
        assert out.lines[0].startswith(b"ready"), out.lines
        opened = int(out.lines[0].split()[1])
        out.wait(1 + kill_after)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        out.thread.join(10)     # what the child printed before it died
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    lines = out.lines
    acked: dict[int, str] = {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) == 2:     # a last line cut by the kill (no newline) is not an ack
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


# RLIMIT_FSIZE makes the block file's writes fail past 200 kB with EFBIG, as a full disk fails
# them with ENOSPC. The child serves the stream; the test publishes into it.
DISK_FULL_SERVER = """
import asyncio, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
import natsx
from natsx._core.stream import StreamIngest
from natsx._core.sublist import Subscription
from natsx.store import FileStore, StoreConfig

async def main():
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        store = FileStore(sys.argv[1], StoreConfig(sync="always", block_size=1 << 20))
        srv.sublist.insert(Subscription(b"full", b"js", StreamIngest(srv.core, store, b"FULL")))
        srv.subscribe_internal("ping", lambda sub, subject, reply, hdr, data: srv.publish(reply, b"pong"))
        print(srv.client_url, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_full_disk_acks_only_what_was_written(tmp_path):
    directory = tmp_path / "FULL"
    proc = subprocess.Popen([sys.executable, "-c", DISK_FULL_SERVER, str(directory)],
                            stdout=subprocess.PIPE, env=_env(), start_new_session=True)
    acked, refused = [], 0
    try:
        url = (await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)).decode().strip()
        nc = await nats.connect(url, allow_reconnect=False)
        try:
            for i in range(16):
                try:
                    r = await nc.request("full", b"%02d" % i * 8_000, timeout=1)
                    acked.append((json.loads(r.data)["seq"], i))
                except nats.errors.TimeoutError:
                    refused += 1    # not written: no ack, as nats-server on a store write error
            # the publisher's connection and the server are fine
            assert (await nc.request("ping", b"", timeout=5)).data == b"pong"
        finally:
            await nc.close()
    finally:
        proc.kill()
        proc.wait(10)
    assert len(acked) >= 5 and refused >= 3
    assert [seq for seq, _ in acked] == list(range(1, len(acked) + 1))
    store = FileStore(directory, StoreConfig(sync="always", block_size=1 << 20))
    try:
        assert store.state().msgs == len(acked) and store.damage == []
        assert all(store.load(seq).data == b"%02d" % i * 8_000 for seq, i in acked)
    finally:
        store.close()
