"""Durability: group commit, SIGKILL crash rounds, corruption of block/index files, disk full."""
from __future__ import annotations

import asyncio
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from natsx.store import FileStore, MsgNotFoundError, StorageFullError, StoreConfig, StoreEOFError

HERE = Path(__file__).parent
SOAK = os.environ.get("NATSX_STORE_SOAK") == "1"
sys.path.insert(0, str(HERE))
import crash_child  # noqa: E402


def _env():
    env = dict(os.environ)
    root = str(HERE.parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


# --------------------------------------------------------------------------- group commit


async def test_group_commit_shares_one_fsync(tmp_path):
    s = FileStore(tmp_path, StoreConfig(sync="always"))
    futs = []
    for i in range(200):  # all in one loop iteration
        seq, _ = s.append(b"gc.%d" % (i % 3), b"x" * 16)
        futs.append(s.durable(seq))
    assert not any(f.done() for f in futs), "acked before fdatasync"
    assert s.durable_seq == 0
    done = await asyncio.wait_for(asyncio.gather(*futs), 10)
    assert done == list(range(1, 201))
    assert s.durable_seq == 200
    assert s.sync_count == 1
    s.close()


async def test_batches_while_fsync_in_flight_are_covered(tmp_path):
    s = FileStore(tmp_path, StoreConfig(sync="always"))
    futs = []
    for round_ in range(20):
        s.append_batch([(b"a", b"%d" % i) for i in range(50)])
        futs.append(s.durable())
        await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(*futs), 10)
    assert s.durable_seq == 1000
    assert s.sync_count <= 20
    s.close()
    s = FileStore(tmp_path, StoreConfig(sync="always"))
    assert s.state().msgs == 1000
    s.close()


def test_sync_mode_without_loop_is_durable_on_return(tmp_path):
    s = FileStore(tmp_path)  # sync=always, no event loop: fdatasync inline
    s.append(b"x", b"1")
    assert s.durable_seq == 1 and s.sync_count >= 1
    s.close()


# --------------------------------------------------------------------------- crash rounds


def _read_lines(proc, deadline, acc, first_only=False):
    fd = proc.stdout.fileno()
    buf = b""
    while time.monotonic() < deadline and not (first_only and acc):
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        acc.extend(lines)
    return buf


def test_sigkill_rounds_lose_no_acknowledged_message(tmp_path):
    rounds = 40 if SOAK else 8
    rnd = random.Random(1234)
    d = tmp_path / "s"
    reported = 0
    for r in range(rounds):
        seed = rnd.randrange(1 << 30)
        proc = subprocess.Popen([sys.executable, str(HERE / "crash_child.py"), str(d), str(seed)],
                                stdout=subprocess.PIPE, env=_env())
        lines: list[bytes] = []
        try:
            # wait for the child to open, then let it append for a random while
            rest = _read_lines(proc, time.monotonic() + 60, lines, first_only=True)
            assert lines and lines[0].startswith(b"open "), "child did not open the store"
            rest += _read_lines(proc, time.monotonic() + rnd.uniform(0.05, 0.5), lines)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        tail = proc.stdout.read()
        proc.stdout.close()
        lines.extend((rest + tail).split(b"\n"))
        acks = [int(x) for x in lines[1:] if x.strip()]
        if acks:
            assert acks == sorted(acks)
            reported = max(reported, acks[-1])
        s = FileStore(d, crash_child.config(seed))
        try:
            st = s.state()
            assert s.damage == [], s.damage
            assert st.last_seq >= reported
            assert st.msgs == st.last_seq  # nothing removed in this test: no gaps either
            for seq in range(1, st.last_seq + 1):
                m = s.load(seq)
                assert m.subject == crash_child.subject(seq)
                assert m.data == crash_child.payload(seq)
        finally:
            s.close()
    assert reported > 0


# --------------------------------------------------------------------------- corruption


def _build(d: Path) -> tuple[dict[int, tuple[bytes, bytes]], dict[int, int]]:
    s = FileStore(d, StoreConfig(sync="never", block_size=4096, compression="zstd"))
    msgs = {}
    for i in range(1, 401):
        subj, data = b"c.%d" % (i % 9), os.urandom(random.Random(i).randint(0, 90))
        s.append(subj, data)
        msgs[i] = (subj, data)
    s.wait_compressed()
    blk_of = {q: s._slot_info(q)[0] for q in msgs}
    s.close()
    return msgs, blk_of


def _damage(path: Path, rnd: random.Random) -> str:
    data = bytearray(path.read_bytes())
    mode = rnd.choice(["flip", "flip", "truncate", "zero"])
    if mode == "flip" and data:
        for _ in range(rnd.randint(1, 3)):
            i = rnd.randrange(len(data))
            data[i] ^= 1 << rnd.randrange(8)
    elif mode == "truncate":
        del data[rnd.randrange(len(data) + 1):]
    elif data:
        a = rnd.randrange(len(data))
        b = min(len(data), a + rnd.randint(1, 200))
        data[a:b] = bytes(b - a)
    path.write_bytes(bytes(data))
    return mode


def test_corruption_is_reported_and_never_served(tmp_path):
    base = tmp_path / "base"
    msgs, blk_of = _build(base)
    files = sorted(p.name for p in base.iterdir())
    assert any(f.endswith(".zst") for f in files) and "index.nxi" in files
    rnd = random.Random(99)
    trials = 200 if SOAK else 40
    for t in range(trials):
        d = tmp_path / f"t{t}"
        shutil.copytree(base, d)
        victim = rnd.choice(files)
        mode = _damage(d / victim, rnd)
        s = FileStore(d, StoreConfig(sync="never", block_size=4096, compression="zstd"))
        try:
            missing = []
            for q, (subj, data) in msgs.items():
                try:
                    m = s.load(q)
                except (MsgNotFoundError, StoreEOFError):
                    missing.append(q)
                    continue
                assert (m.subject, m.data) == (subj, data), f"garbage served: {victim} {mode}"
            if victim == "index.nxi":
                assert missing == [], "a damaged index must not lose data"
            else:
                dmg_blk = int(victim.split(".")[0])
                # every message outside the damaged block is served
                assert all(blk_of[q] == dmg_blk or q > max(msgs) for q in missing), (victim, mode)
                if missing:
                    assert s.damage, "loss without a report"
                    lost = {q for a, b in s.state().lost for q in range(a, b + 1)}
                    # a lost message must be reported as lost unless it was past the tail
                    assert set(missing) <= lost or max(missing) == max(msgs), (missing, lost)
            s.append(b"after", b"damage")  # the store stays writable
        finally:
            s.close()
        shutil.rmtree(d)


def test_damaged_index_rebuilds_from_blocks(tmp_path):
    msgs, _ = _build(tmp_path)
    (tmp_path / "index.nxi").write_bytes(b"garbage")
    s = FileStore(tmp_path, StoreConfig(sync="never", block_size=4096, compression="zstd"))
    assert s.state().msgs == len(msgs)
    assert any("index" in x for x in s.damage)
    s.close()


# --------------------------------------------------------------------------- disk full

# RLIMIT_FSIZE makes writes that would grow a file past 200 kB fail with EFBIG, as a full disk
# fails them with ENOSPC: the refused messages are not stored (nothing half-written survives),
# everything before them is untouched, and the store keeps working.
DISK_FULL_CHILD = textwrap.dedent(
    """
    import json, resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    from natsx.store import FileStore, StoreConfig, StorageFullError
    s = FileStore(sys.argv[1], StoreConfig(sync="always", block_size=1 << 20))
    for q in range(1, 101):
        s.append(b"full", b"%d" % q * 20)
    err = None
    try:
        s.append(b"full", b"x" * 300_000)
    except StorageFullError as e:
        err = str(e)
    st = s.state()
    ok = all(s.load(q).data == b"%d" % q * 20 for q in range(1, 101))
    seq, _ = s.append(b"full", b"%d" % 101 * 20)
    stored = -1
    try:  # runs into the limit mid-batch: what reached the disk stays, the rest is refused
        s.append_batch([(b"full", b"y" * 30_000)] * 10)
    except StorageFullError as e:
        stored = e.stored
    after = s.state()
    ok2 = all(s.load(q).data == b"y" * 30_000 for q in range(102, 102 + stored))
    s.close()
    print(json.dumps({"err": err, "msgs": st.msgs, "last": st.last_seq, "ok": ok, "next": seq,
                      "stored": stored, "after": after.msgs, "ok2": ok2}))
    """
)


def test_disk_full_fails_appends_cleanly(tmp_path):
    r = subprocess.run([sys.executable, "-c", DISK_FULL_CHILD, str(tmp_path)], capture_output=True,
                       env=_env(), timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    import json

    out = json.loads(r.stdout)
    assert out["err"] == str(StorageFullError())
    stored = out["stored"]
    assert 0 <= stored < 10 and out["after"] == 101 + stored and out["ok2"]
    assert {k: out[k] for k in ("msgs", "last", "ok", "next")} == {
        "msgs": 100, "last": 100, "ok": True, "next": 101}
    s = FileStore(tmp_path, StoreConfig(sync="always", block_size=1 << 20))
    assert s.state().msgs == 101 + stored and s.damage == []
    assert [s.load(q).data for q in (1, 101)] == [b"1" * 20, b"101" * 20]
    s.close()
