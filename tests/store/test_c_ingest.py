"""The store's C append path: a C-level subscriber (tests/store/_ingest.pyx) appends what a real
client publishes through a real server; the records reach the block file, are durable only after
the batch's fdatasync, and come back on reopen."""
from __future__ import annotations

import asyncio
import threading

import nats

import natsx
from tests import pyxbuild
from natsx._core.sublist import Subscription
from natsx.store import FileStore, StoreConfig
from natsx.store import filestore as filestore_mod
from tests.conftest import wait_until

pyxbuild.install()
from _ingest import StoreIngest  # noqa: E402  (tests/store is on sys.path; compiled by pyximport)

N = 3000
BATCH = 300


class GatedFsync:
    """Wraps the store's fdatasync runner: the first run waits for open(), so the test can see that
    nothing is reported durable while it is in flight. Counts runs that have finished."""

    def __init__(self, real):
        self.real = real
        self.gate = threading.Event()
        self.started = 0
        self.finished = 0

    def __call__(self, fds, dirfd):
        self.started += 1
        if self.started == 1:
            self.gate.wait(10)
        self.real(fds, dirfd)
        self.finished += 1

    def open(self):
        self.gate.set()


async def test_c_ingest_is_written_durable_after_fdatasync_and_recovered(tmp_path, monkeypatch):
    fsync = GatedFsync(filestore_mod._fsync_all)
    monkeypatch.setattr(filestore_mod, "_fsync_all", fsync)
    store = FileStore(tmp_path / "stream", StoreConfig(sync="always"))
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        ingest = StoreIngest(store, asyncio.get_running_loop())
        sub = Subscription(b"orders.>", b"ingest", ingest)
        srv.sublist.insert(sub)
        nc = await nats.connect(srv.client_url)
        try:
            for i in range(N):
                await nc.publish(f"orders.{i % 7}", b"order-%06d" % i,
                                 headers={"Seq": str(i)} if i % 100 == 0 else None)
                if i % BATCH == BATCH - 1:
                    await nc.flush()   # a round trip: the next messages are another batch
            await wait_until(lambda: store.committed_seq == N, what="every batch committed")
        finally:
            await nc.close()
        srv.unsubscribe_internal(sub)

    assert ingest.appended == N and store.last_seq == N
    # Batches, not messages: one Python call to arrange the first group commit; every later batch
    # found it in flight (the gate holds it) and committed in C.
    assert N // BATCH <= ingest.batches < N // 10
    assert store.io.python_commits == 1

    # On disk (page cache) already, read back from the files, not through the store.
    raw = b"".join(p.read_bytes() for p in sorted((tmp_path / "stream").glob("*.blk")))
    assert all(b"order-%06d" % i in raw for i in range(0, N, 97))

    # Durable only after the fdatasync that covers it.
    fut = store.durable(N)
    for _ in range(20):
        await asyncio.sleep(0)
    assert fsync.started >= 1 and fsync.finished == 0
    assert not fut.done() and store.durable_seq == 0, "reported durable before fdatasync"
    fsync.open()
    assert await asyncio.wait_for(fut, 10) == N
    assert fsync.finished >= 2   # the gated run, then the one for the batches behind it
    store.close()

    again = FileStore(tmp_path / "stream", StoreConfig(sync="always"))
    try:
        st = again.state()
        assert (st.msgs, st.first_seq, st.last_seq) == (N, 1, N)
        for seq in (1, 101, N):
            m = again.load(seq)
            assert m.subject == b"orders.%d" % ((seq - 1) % 7) and m.data == b"order-%06d" % (seq - 1)
        assert again.load(101).hdr.startswith(b"NATS/1.0\r\nSeq: 100")
        assert again.load(102).hdr == b""
    finally:
        again.close()


async def test_c_commit_without_armed_sync_takes_the_python_path(tmp_path):
    """With no group commit arranged, commit_c() arranges one (one Python call) and the batch is
    acknowledged only after it runs; sync policy "never" acknowledges at the commit."""
    s = FileStore(tmp_path / "a", StoreConfig(sync="always"))
    ingest = StoreIngest(s, asyncio.get_running_loop())
    srv_less = Subscription(b">", b"1", ingest)
    for i in range(10):
        ingest.deliver_py(srv_less, b"x.%d" % i, None, None, b"p")
    assert s.committed_seq == 0 and s.durable_seq == 0   # in the block buffer, not committed
    fut = s.durable(10)
    await asyncio.wait_for(fut, 10)
    assert s.durable_seq == 10 and s.sync_count == 1 and s.io.python_commits == 1
    s.close()

    n = FileStore(tmp_path / "b", StoreConfig(sync="never"))
    ingest = StoreIngest(n, asyncio.get_running_loop())
    for i in range(10):
        ingest.deliver_py(srv_less, b"x", None, None, b"p")
    n.commit()
    assert n.durable_seq == 10
    n.close()
