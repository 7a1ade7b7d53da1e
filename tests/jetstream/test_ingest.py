"""The ingest kernel (natsx/_core/stream.pyx) on a real embedded server with nats-py: acks only
after the group commit's fdatasync, what is stored (rollups, no-reply and no_ack publishes), the
dedupe window across restarts and its expiry, reconfigure and close."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import nats
import pytest

import natsx
from conftest import wait_until
from jetstream.ingest_support import NatsxStream
from natsx._core.dedupe import DedupeTable
from natsx._core.stream import StreamIngest
from natsx.store import FileStore, MemStore, StoreConfig
from natsx.store import filestore as filestore_mod

N = 2000


async def test_acks_are_sent_only_after_the_fdatasync_that_covers_them(tmp_path, monkeypatch):
    real_fsync, gate, syncs = filestore_mod._fsync_all, threading.Event(), []

    def held_fsync(fds, dirfd):   # every fdatasync waits for the gate: nothing may be acked before
        syncs.append("started")
        gate.wait(20)
        real_fsync(fds, dirfd)
        syncs.append("finished")

    monkeypatch.setattr(filestore_mod, "_fsync_all", held_fsync)
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        stream = NatsxStream(srv, {"name": "D", "subjects": ["d.>"]}, tmp_path / "D")
        store = stream.store
        durable_calls = 0
        real_durable = store.durable

        def counting_durable(seq=None):
            nonlocal durable_calls
            durable_calls += 1
            return real_durable(seq)

        store.durable = counting_durable
        acks: list[tuple[int, int]] = []   # (acked seq, durable_seq when the ack arrived)
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            async def on_ack(msg):
                acks.append((json.loads(msg.data)["seq"], store.durable_seq))

            await nc.subscribe("acks.>", cb=on_ack)
            for i in range(N):
                await nc.publish(f"d.{i % 5}", b"m%d" % i, reply=f"acks.{i}")
                if i % 200 == 199:
                    await nc.flush()
            await wait_until(lambda: store.committed_seq == N, what="all batches written")
            await nc.flush()
            # Everything is in the file (page cache), nothing is acked: the fsync is held.
            assert syncs and "finished" not in syncs
            assert acks == [] and stream.ingest.acks_pending == N and store.durable_seq == 0
            gate.set()
            await wait_until(lambda: len(acks) == N, what="every ack")
        finally:
            await nc.close()
            stream.close()
    assert sorted(s for s, _ in acks) == list(range(1, N + 1))
    assert all(seq <= durable for seq, durable in acks), "an ack overtook its fdatasync"
    # Group commit: the gated sync, then one for everything that queued behind it (a few more if
    # batches kept arriving); the Python side ran once per sync, not per message.
    assert store.sync_count <= 10
    assert durable_calls <= store.sync_count + 1


async def test_sync_never_acks_at_the_batch_commit(tmp_path):
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        store = FileStore(tmp_path / "N", StoreConfig(sync="never"))
        ingest = StreamIngest(srv.core, store, b"N")
        srv.sublist.insert(natsx._core.sublist.Subscription(b"n", b"1", ingest))
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            r = await nc.request("n", b"x", timeout=5)
            assert r.data == b'{"stream":"N","seq":1}'
            assert store.sync_count == 0 and store.committed_seq == 1
        finally:
            await nc.close()
            ingest.close()
            store.close()


async def test_no_reply_and_no_ack_store_without_answering(tmp_path):
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        quiet = NatsxStream(srv, {"name": "Q", "subjects": ["q.>"], "no_ack": True}, tmp_path / "Q")
        plain = NatsxStream(srv, {"name": "P", "subjects": ["p.>"]}, tmp_path / "P")
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            replies = await nc.subscribe("r.>")
            await nc.publish("q.a", b"1", reply="r.1")
            await nc.publish("q.a", b"2", reply="r.2", headers={"Nats-Expected-Stream": "other"})
            await nc.publish("p.a", b"3")
            await nc.publish("p.a", b"4", headers={"Nats-Expected-Last-Sequence": "7"})
            await wait_until(lambda: quiet.store.durable_seq == 1 and plain.store.durable_seq == 1,
                             what="stored")
            # one round trip to the server after everything: any ack would have been sent by now
            r = await nc.request("p.a", b"5", timeout=5)
            assert r.data == b'{"stream":"P","seq":2}'
            assert replies.pending_msgs == 0
            # no_ack still applies the rules: the second publish was refused, not stored
            assert quiet.store.last_seq == 1 and quiet.ingest.errors == 1
            assert plain.ingest.errors == 1 and plain.ingest.acks_sent == 1
        finally:
            await nc.close()
            quiet.close()
            plain.close()


async def test_rollups_leave_one_message_and_persist(tmp_path):
    cfg = {"name": "R", "subjects": ["r.>"], "allow_rollup_hdrs": True}
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        stream = NatsxStream(srv, cfg, tmp_path / "R")
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            for i in range(5):
                await nc.request("r.a", b"a%d" % i, timeout=5)
                await nc.request("r.b", b"b%d" % i, timeout=5)
            await nc.request("r.a", b"A", headers={"Nats-Rollup": "sub"}, timeout=5)
            assert stream.store.subjects_totals() == {b"r.a": 1, b"r.b": 5}
            assert stream.store.load_last(b"r.a").data == b"A"
            await nc.request("r.c", b"C", headers={"Nats-Rollup": "all"}, timeout=5)
            st = stream.store.state()
            assert (st.msgs, st.first_seq, st.last_seq) == (1, 12, 12)
            await nc.request("r.b", b"after", timeout=5)
        finally:
            await nc.close()
            stream.close()
    again = FileStore(tmp_path / "R")
    try:
        st = again.state()
        assert (st.msgs, st.first_seq, st.last_seq) == (2, 12, 13)
        assert again.load(12).data == b"C"
    finally:
        again.close()


async def test_dedupe_window_reloads_after_a_clean_restart_and_only_inside_the_window(tmp_path):
    d = tmp_path / "W"
    store = FileStore(d)
    old = time.time_ns() - 10 * 60 * 10**9      # ten minutes ago: outside a 2-minute window
    store.append(b"w", b"0", b"NATS/1.0\r\nNats-Msg-Id: old\r\n\r\n", ts=old)
    store.close()
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        stream = NatsxStream(srv, {"name": "W", "subjects": ["w"]}, d)
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            assert stream.ingest.dedupe_count == 0      # the old id is past the window
            assert (await nc.request("w", b"", headers={"Nats-Msg-Id": "old"}, timeout=5)).data == \
                b'{"stream":"W","seq":2}'
            assert (await nc.request("w", b"", headers={"Nats-Msg-Id": "a"}, timeout=5)).data == \
                b'{"stream":"W","seq":3}'
        finally:
            await nc.close()
            stream.close()
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        stream = NatsxStream(srv, {"name": "W", "subjects": ["w"]}, d)
        assert stream.ingest.dedupe_count == 2 and stream.ingest.last_msg_id == b"a"
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            for msg_id, seq in (("old", 2), ("a", 3)):
                assert (await nc.request("w", b"", headers={"Nats-Msg-Id": msg_id}, timeout=5)).data == \
                    b'{"stream":"W","seq":%d,"duplicate": true}' % seq
            assert (await nc.request("w", b"", headers={"Nats-Expected-Last-Msg-Id": "a"}, timeout=5)).data == \
                b'{"stream":"W","seq":4}'
        finally:
            await nc.close()
            stream.close()


async def test_ids_expire_when_the_window_passes():
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        store = MemStore()
        ingest = StreamIngest(srv.core, store, b"E", {"duplicate_window": 50_000_000})   # 50 ms
        srv.sublist.insert(natsx._core.sublist.Subscription(b"e", b"1", ingest))
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            first = await nc.request("e", b"", headers={"Nats-Msg-Id": "x"}, timeout=5)
            assert first.data == b'{"stream":"E","seq":1}'

            async def republished_as_new():
                r = await nc.request("e", b"", headers={"Nats-Msg-Id": "x"}, timeout=5)
                return b"duplicate" not in r.data

            await wait_until(republished_as_new, what="the id to leave the window")
            assert ingest.dedupe_count == 1
        finally:
            await nc.close()
            ingest.close()


def test_dedupe_table_against_a_model():
    """Insert/lookup/expire in any order agree with a dict of (seq, ts) and the window rule."""
    import random

    rnd = random.Random(7)
    table = DedupeTable(1000)
    model: dict[bytes, tuple[int, int]] = {}
    for now in range(30000):
        key = b"id-%d" % rnd.randrange(4000)
        model = {k: v for k, v in model.items() if now - v[1] < 1000} if now % 97 == 0 else model
        want = model.get(key)
        want_seq = want[0] if want and now - want[1] < 1000 else 0
        assert table.get(key, now) == want_seq, (now, key)
        if not want_seq:
            table.add(key, now + 1, now)
            model[key] = (now + 1, now)
    assert len(table) == len({k for k, v in model.items() if 29999 - v[1] < 1000})


async def test_reconfigure_and_close(tmp_path):
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        stream = NatsxStream(srv, {"name": "C", "subjects": ["c"]}, tmp_path / "C")
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            assert (await nc.request("c", b"12345", timeout=5)).data == b'{"stream":"C","seq":1}'
            stream.update({"max_msg_size": 4})
            assert b"10054" in (await nc.request("c", b"12345", timeout=5)).data
            stream.update({"max_msg_size": -1, "sealed": True})
            assert b"10109" in (await nc.request("c", b"1", timeout=5)).data
            with pytest.raises(ValueError, match="allow_msg_ttl"):
                stream.ingest.reconfigure({"allow_msg_ttl": True})
            stream.ingest.close()
            with pytest.raises(nats.errors.TimeoutError):
                await nc.request("c", b"1", timeout=0.3)
            assert stream.ingest.last_seq == 1 and stream.ingest.stored == 1
        finally:
            await nc.close()
            stream.close()


def test_window_rebuild_skips_removed_messages(tmp_path):
    """Removed messages' ids are not in the rebuilt window (nats-server loads only what is
    stored), nor is the last id when the last message went."""
    from natsx._core.conn import ServerCore
    from natsx._core.sublist import Sublist

    store = FileStore(tmp_path / "X")
    for i in range(1, 6):
        store.append(b"x", b"%d" % i, b"NATS/1.0\r\nNats-Msg-Id: id%d\r\n\r\n" % i)
    store.remove(2)
    store.remove(5)
    store.close()
    store = FileStore(tmp_path / "X")
    try:
        ingest = StreamIngest(ServerCore(Sublist()), store, b"X")
        assert ingest.dedupe_count == 3 and ingest.last_msg_id == b""
        table = {m: ingest.dedupe_seq(m) for m in (b"id1", b"id2", b"id3", b"id4", b"id5")}
        assert table == {b"id1": 1, b"id2": 0, b"id3": 3, b"id4": 4, b"id5": 0}
    finally:
        store.close()


async def test_process_is_the_same_path_from_python():
    """process(): what the control plane uses for server-side publishes; the ack goes through the
    sublist like any other."""
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        got = []
        srv.subscribe_internal("reply.1", lambda sub, subject, reply, hdr, payload: got.append(payload))
        ingest = StreamIngest(srv.core, MemStore(), b"P", domain=b"D")
        ingest.process(b"p.a", b"x", b"reply.1", b"NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n")
        ingest.process(b"p.a", b"x", b"reply.1", b"NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n")
        ingest.process(b"p.a", b"x", b"reply.1", b"NATS/1.0\r\nNats-Expected-Stream: Q\r\n\r\n")
        assert got == [b'{"stream":"P","domain":"D","seq":1}',
                       b'{"stream":"P","domain":"D","seq":1,"duplicate": true}',
                       b'{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},'
                       b'"stream":"P","seq":0}']
        assert (ingest.stored, ingest.duplicates, ingest.errors, ingest.acks_sent) == (1, 1, 1, 3)
