"""Stateful property test: every store agrees with a plain in-memory model.

Random sequences of appends, removes, erases, purges, compacts, limit changes and close/reopen
(clean, and a crash copy of the directory for the file store); after every step all reads and the
state are compared with the model. Runs on the memory store and on the file store with
compression off and on (tiny blocks and cache, so sealing, zstd and eviction are exercised).
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from natsx.store import (
    FileStore,
    MaxBytesError,
    MaxMsgsError,
    MaxMsgsPerSubjectError,
    MemStore,
    MsgNotFoundError,
    MsgTooLargeError,
    StoreConfig,
    StoreEOFError,
    subject_matches,
)

SUBJECTS = [b"a", b"b", b"c.d", b"c.e", b"f.g.h"]
FILTERS = [b">", b"a", b"c.*", b"c.>", b"*.*", b"f.*.h", b"zz", b"*"]
SOAK = os.environ.get("NATSX_STORE_SOAK") == "1"


def fsize(subj: bytes, hdr: bytes, data: bytes) -> int:
    return 22 + len(subj) + len(data) + 8 + (4 + len(hdr) if hdr else 0)


def msize(subj: bytes, hdr: bytes, data: bytes) -> int:
    return len(subj) + len(hdr) + len(data) + 16


class Model:
    def __init__(self, mem: bool):
        self.msgs: dict[int, tuple[bytes, bytes, bytes, int]] = {}
        self.last = 0
        self.last_ts = 0
        self.size = msize if mem else fsize
        self.cfg = StoreConfig()

    def bytes(self) -> int:
        return sum(self.size(s, h, d) for s, h, d, _ in self.msgs.values())

    def subj_seqs(self, subj: bytes) -> list[int]:
        return sorted(q for q, m in self.msgs.items() if m[0] == subj)

    def matching(self, flt: bytes) -> list[int]:
        return sorted(q for q, m in self.msgs.items() if subject_matches(m[0], flt))

    def check_append(self, subj: bytes, hdr: bytes, data: bytes):
        c = self.cfg
        if c.max_msg_size > 0 and len(hdr) + len(data) > c.max_msg_size:
            return MsgTooLargeError
        if c.discard == "new":
            psmc = len(self.subj_seqs(subj))
            asl = False
            fseq = 0
            if c.max_msgs_per_subject > 0 and psmc >= c.max_msgs_per_subject:
                if c.discard_new_per_subject:
                    return MaxMsgsPerSubjectError
                fseq = self.subj_seqs(subj)[0]
                asl = True
            if c.max_msgs > 0 and len(self.msgs) >= c.max_msgs and not asl:
                return MaxMsgsError
            if c.max_bytes > 0 and self.bytes() + len(hdr) + len(data) >= c.max_bytes:
                if not asl or self.size(*self.msgs[fseq][:3]) <= len(hdr) + len(data):
                    return MaxBytesError
        return None

    def append(self, subj, hdr, data, ts):
        self.last += 1
        self.msgs[self.last] = (subj, hdr, data, ts)
        self.last_ts = ts
        self.enforce_subject(subj)
        self.enforce_front()

    def enforce_subject(self, subj):
        mp = self.cfg.max_msgs_per_subject
        if mp > 0:
            seqs = self.subj_seqs(subj)
            for q in seqs[: max(0, len(seqs) - mp)]:
                del self.msgs[q]

    def enforce_front(self):
        c = self.cfg
        while c.max_msgs > 0 and len(self.msgs) > c.max_msgs:
            del self.msgs[min(self.msgs)]
        while c.max_bytes > 0 and self.bytes() > c.max_bytes:
            del self.msgs[min(self.msgs)]

    def purge_below(self, seq):
        n = 0
        for q in [q for q in self.msgs if q < seq]:
            del self.msgs[q]
            n += 1
        return n

    def compact(self, seq):
        n = self.purge_below(seq)
        if seq > self.last + 1:
            self.last = seq - 1
        return n

    def first(self):
        if self.msgs:
            return min(self.msgs)
        return self.last + 1 if self.last else 0


class StoreMachine(RuleBasedStateMachine):
    kind = "mem"
    compression = "none"

    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="natsx-model-")
        self.model = Model(self.kind == "mem")
        self.store = self._open()

    def _cfg(self) -> StoreConfig:
        c = StoreConfig(**{k: getattr(self.model.cfg, k) for k in (
            "max_msgs", "max_bytes", "max_msgs_per_subject", "max_msg_size", "discard",
            "discard_new_per_subject")})
        c.sync = "never"
        c.block_size = 4096
        c.cache_size = 8192
        c.compression = self.compression
        return c

    def _open(self, path=None):
        if self.kind == "mem":
            return MemStore(self._cfg())
        return FileStore(path or self.dir, self._cfg())

    def teardown(self):
        if not self.store.closed:
            self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- mutations ----------------------------------------------------------------------------

    @rule(subj=st.sampled_from(SUBJECTS), data=st.binary(max_size=40),
          hdr=st.sampled_from([b"", b"NATS/1.0\r\nX: y\r\n\r\n"]))
    def append(self, subj, data, hdr):
        err = self.model.check_append(subj, hdr, data)
        if err is not None:
            with pytest.raises(err):
                self.store.append(subj, data, hdr)
            return
        seq, ts = self.store.append(subj, data, hdr)
        assert seq == self.model.last + 1
        self.model.append(subj, hdr, data, ts)

    @rule(batch=st.lists(st.tuples(st.sampled_from(SUBJECTS), st.binary(max_size=300)),
                         min_size=1, max_size=30))
    def append_batch(self, batch):
        # mirror one by one; the batch stops at the first refused message
        expect = []
        m = self.model
        for subj, data in batch:
            if m.check_append(subj, b"", data) is not None:
                break
            expect.append((subj, data))
            m.append(subj, b"", data, -1)  # ts patched below
        if len(expect) < len(batch):
            with pytest.raises((MaxMsgsError, MaxBytesError, MaxMsgsPerSubjectError,
                                MsgTooLargeError)) as ei:
                self.store.append_batch(batch)
            assert ei.value.stored == len(expect)
            ts = self.store.last_ts
        else:
            first, n, ts = self.store.append_batch(batch)
            assert n == len(batch) and first == m.last - n + 1
        for q, v in m.msgs.items():
            if v[3] == -1:
                m.msgs[q] = (v[0], v[1], v[2], ts)
        if expect:
            m.last_ts = ts

    @precondition(lambda self: self.model.last > 0)
    @rule(data=st.data())
    def remove(self, data):
        seq = data.draw(st.integers(min_value=0, max_value=self.model.last + 2))
        assert self.store.remove(seq) == (seq in self.model.msgs)
        self.model.msgs.pop(seq, None)

    @precondition(lambda self: self.model.msgs)
    @rule(data=st.data())
    def erase(self, data):
        seq = data.draw(st.sampled_from(sorted(self.model.msgs)))
        assert self.store.erase(seq)
        del self.model.msgs[seq]

    @rule()
    def purge(self):
        assert self.store.purge() == len(self.model.msgs)
        self.model.msgs.clear()

    @rule(data=st.data())
    def compact(self, data):
        seq = data.draw(st.integers(min_value=0, max_value=self.model.last + 5))
        n = self.model.compact(seq)
        assert self.store.compact(seq) == n

    @rule(flt=st.sampled_from(FILTERS), data=st.data())
    def purge_ex(self, flt, data):
        mode = data.draw(st.sampled_from(["all", "seq", "keep"]))
        seq = keep = 0
        if mode == "seq":
            seq = data.draw(st.integers(min_value=1, max_value=self.model.last + 3))
        elif mode == "keep":
            keep = data.draw(st.integers(min_value=1, max_value=6))
        m = self.model
        if flt == b">" and keep == 0:
            if seq == 0:
                expect = len(m.msgs)
                m.msgs.clear()
            else:
                expect = m.compact(seq)
        else:
            match = m.matching(flt)
            todo = len(match)
            if keep:
                todo = max(0, len(match) - keep)
            victims = [q for q in match if not seq or q < seq][:todo]
            for q in victims:
                del m.msgs[q]
            expect = len(victims)
        assert self.store.purge_ex(flt, seq, keep) == expect

    @rule(max_msgs=st.sampled_from([-1, 3, 10, 50]), max_bytes=st.sampled_from([-1, 600, 3000]),
          per=st.sampled_from([-1, 1, 2, 5]), size=st.sampled_from([-1, 30, 400]),
          discard=st.sampled_from(["old", "new"]), dnp=st.booleans())
    def update_limits(self, max_msgs, max_bytes, per, size, discard, dnp):
        c = self.model.cfg
        c.max_msgs, c.max_bytes, c.max_msgs_per_subject = max_msgs, max_bytes, per
        c.max_msg_size, c.discard, c.discard_new_per_subject = size, discard, dnp
        m = self.model
        for subj in {v[0] for v in m.msgs.values()}:
            m.enforce_subject(subj)
        m.enforce_front()
        self.store.update_config(self._cfg())

    @precondition(lambda self: self.kind != "mem")
    @rule()
    def reopen(self):
        self.store.close()
        self.store = self._open()
        assert self.store.damage == []

    @precondition(lambda self: self.kind != "mem")
    @rule()
    def crash_reopen(self):
        # Copy the directory as a crash would leave it (everything was written; sync=never
        # means "in the page cache", which a process crash keeps), then reopen the copy.
        copy = self.dir + ".crash"
        shutil.rmtree(copy, ignore_errors=True)
        self.store.wait_compressed()
        shutil.copytree(self.dir, copy)
        self.store.close()
        shutil.rmtree(self.dir)
        os.rename(copy, self.dir)
        self.store = self._open()
        assert self.store.damage == []

    # -- checks --------------------------------------------------------------------------------

    @invariant()
    def state_matches(self):
        m = self.model
        s = self.store
        st_ = s.state(deleted=True)
        assert st_.msgs == len(m.msgs)
        assert st_.bytes == m.bytes()
        assert st_.last_seq == m.last
        assert st_.first_seq == m.first()
        if m.msgs:
            assert st_.first_ts == m.msgs[min(m.msgs)][3]
            assert st_.deleted == [q for q in range(m.first(), m.last + 1) if q not in m.msgs]
            assert st_.num_deleted == len(st_.deleted)
        else:
            assert st_.num_deleted == 0 and st_.deleted == []
        assert st_.num_subjects == len({v[0] for v in m.msgs.values()})
        if m.last and m.last_ts:
            assert st_.last_ts == m.last_ts

    @invariant()
    def reads_match(self):
        m = self.model
        s = self.store
        for q in range(max(1, m.first() - 1), m.last + 2):
            if q in m.msgs:
                got = s.load(q)
                subj, hdr, data, ts = m.msgs[q]
                assert (got.seq, got.subject, got.hdr, got.data, got.ts) == (q, subj, hdr, data, ts)
            elif q > m.last:
                with pytest.raises(StoreEOFError):
                    s.load(q)
            else:
                with pytest.raises(MsgNotFoundError):
                    s.load(q)

    @invariant()
    def filtered_reads_match(self):
        m = self.model
        s = self.store
        mid = (m.first() + m.last) // 2
        for flt in FILTERS:
            match = m.matching(flt)
            # load_next from a few starts
            for start in (0, mid, m.last):
                nxt = [q for q in match if q >= start]
                if nxt:
                    assert s.load_next(flt, start).seq == nxt[0]
                else:
                    with pytest.raises(StoreEOFError):
                        s.load_next(flt, start)
                assert s.num_pending(flt, start) == len(nxt)
                lastper = {m.msgs[q][0]: q for q in match}
                assert s.num_pending(flt, start, True) == sum(1 for q in lastper.values() if q >= start)
                prev = [q for q in match if q <= start]
                if prev:
                    assert s.load_prev(flt, start).seq == prev[-1]
                else:
                    with pytest.raises(StoreEOFError):
                        s.load_prev(flt, start)
            if match:
                assert s.load_last(flt).seq == match[-1]
            else:
                with pytest.raises(MsgNotFoundError):
                    s.load_last(flt)
            expect = {}
            for q in match:
                subj = m.msgs[q][0]
                n, f, _ = expect.get(subj, (0, q, q))
                expect[subj] = (n + 1, f, q)
            assert s.subjects_state(flt) == expect
        n, _ = s.replay_count(0)
        assert n == len(m.msgs)


_settings = settings(
    max_examples=500 if SOAK else 80,
    stateful_step_count=60 if SOAK else 30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class MemMachine(StoreMachine):
    kind = "mem"


class FileMachine(StoreMachine):
    kind = "file"


class FileZstdMachine(StoreMachine):
    kind = "file"
    compression = "zstd"


TestMemStoreModel = _settings(MemMachine).TestCase
TestFileStoreModel = _settings(FileMachine).TestCase
TestFileStoreZstdModel = _settings(FileZstdMachine).TestCase
