"""Limits, expiry, per-subject limits, discard new, secure erase -- on both stores."""
from __future__ import annotations

import time

import pytest
import zstandard

from natsx.store import (
    FileStore,
    MaxBytesError,
    MaxMsgsError,
    MaxMsgsPerSubjectError,
    MemStore,
    MsgNotFoundError,
    MsgTooLargeError,
    StoreClosedError,
    StoreConfig,
)
from natsx.store.filestore import decode_zst

from conftest import wait_until


@pytest.fixture(params=["mem", "file"])
def make(request, tmp_path):
    opened = []

    def _make(**kw):
        kw.setdefault("sync", "never")
        cfg = StoreConfig(**kw)
        s = MemStore(cfg) if request.param == "mem" else FileStore(tmp_path / "s", cfg)
        opened.append(s)
        return s

    yield _make
    for s in opened:
        if not s.closed:
            s.close()


def test_error_strings_match_nats_server():
    assert str(MaxMsgsError()) == "maximum messages exceeded"
    assert str(MaxBytesError()) == "maximum bytes exceeded"
    assert str(MaxMsgsPerSubjectError()) == "maximum messages per subject exceeded"
    assert str(MsgTooLargeError()) == "message size exceeds maximum allowed"
    assert str(MsgNotFoundError()) == "no message found"


def test_max_msgs_discard_old(make):
    s = make(max_msgs=3)
    for i in range(10):
        s.append(b"a", b"%d" % i)
    st = s.state()
    assert (st.msgs, st.first_seq, st.last_seq) == (3, 8, 10)
    assert s.load(8).data == b"7"


def test_max_msgs_discard_new(make):
    s = make(max_msgs=3, discard="new")
    for i in range(3):
        s.append(b"a", b"x")
    with pytest.raises(MaxMsgsError):
        s.append(b"a", b"x")
    assert s.state().msgs == 3 and s.state().last_seq == 3


def test_max_bytes(make):
    s = make(max_bytes=200)
    for i in range(20):
        s.append(b"a", b"0123456789")
    st = s.state()
    per = 41 if isinstance(s, FileStore) else 1 + 10 + 16  # nats-server's accounting per store
    n = 200 // per
    assert (st.msgs, st.bytes, st.first_seq, st.last_seq) == (n, n * per, 21 - n, 20)


def test_max_msg_size(make):
    s = make(max_msg_size=10)
    s.append(b"a", b"0123456789")
    with pytest.raises(MsgTooLargeError):
        s.append(b"a", b"01234567890")
    with pytest.raises(MsgTooLargeError):
        s.append(b"a", b"0123456", b"HDRX")


def test_per_subject_limit_and_discard_new_per_subject(make):
    s = make(max_msgs_per_subject=2)
    for i in range(5):
        s.append(b"k.1", b"%d" % i)
        s.append(b"k.2", b"%d" % i)
    assert s.subjects_totals() == {b"k.1": 2, b"k.2": 2}
    assert s.load_last(b"k.1").data == b"4"
    assert s.state(deleted=True).deleted == []  # 7..10 remain
    assert s.state().first_seq == 7
    s.update_config(StoreConfig(sync="never", max_msgs_per_subject=1, discard="new",
                                discard_new_per_subject=True))
    assert s.subjects_totals() == {b"k.1": 1, b"k.2": 1}
    with pytest.raises(MaxMsgsPerSubjectError):
        s.append(b"k.1", b"again")
    s.append(b"k.3", b"new subject is fine")


def test_discard_new_with_per_subject_replacement(make):
    # nats-server: at max_msgs with discard new, a message that replaces one of its subject's
    # (per-subject limit) is still accepted.
    s = make(max_msgs=2, max_msgs_per_subject=1, discard="new")
    s.append(b"a", b"1")
    s.append(b"b", b"1")
    with pytest.raises(MaxMsgsError):
        s.append(b"c", b"1")
    seq, _ = s.append(b"a", b"2")
    assert s.state().msgs == 2 and s.load_last(b"a").seq == seq


async def test_max_age_expires_without_appends(make):
    s = make(max_age_ns=300_000_000)
    s.append(b"a", b"old")
    s.append(b"b", b"old")
    assert s.state().msgs == 2
    await wait_until(lambda: s.msgs == 0)
    assert s.state().first_seq == 3
    # the timer keeps running for later messages too
    s.append(b"c", b"new")
    await wait_until(lambda: s.msgs == 0)
    assert s.state().last_seq == 3


def test_expire_by_explicit_clock(make):
    s = make(max_age_ns=1_000)
    _, ts1 = s.append(b"a", b"1")
    s.append(b"a", b"2", ts=time.time_ns() + 60 * 10**9)  # not expired by state()'s own clock
    assert s.expire(ts1 + 1_000) == 1
    assert s.state().first_seq == 2


def test_update_config_applies_at_once(make):
    s = make()
    for i in range(10):
        s.append(b"a.%d" % (i % 2), b"x")
    assert s.update_config(StoreConfig(sync="never", max_msgs=4)) == 6
    assert s.state().msgs == 4


def test_purge_variants(make):
    s = make()
    for i in range(1, 21):
        s.append(b"p.%d" % (i % 4), b"%d" % i)
    assert s.purge_ex(b"p.1", keep=2) == 3
    assert s.subjects_totals(b"p.1") == {b"p.1": 2}
    assert s.purge_ex(b"p.*", seq=6) == 3  # 2, 3, 4 (1 and 5 went with p.1)
    assert s.compact(10) == 3  # 6, 7, 8 (9 went with p.1)
    assert s.state().first_seq == 10
    assert s.purge() == 11
    st = s.state()
    assert (st.msgs, st.first_seq, st.last_seq) == (0, 21, 20)


def test_secure_erase_overwrites_bytes_on_disk(tmp_path):
    secret = b"TOP-SECRET-PAYLOAD-0123456789"
    s = FileStore(tmp_path, StoreConfig(sync="always", block_size=4096, compression="zstd"))
    seqs = []
    for i in range(200):
        seqs.append(s.append(b"e.%d" % (i % 3), secret + b"%d" % i if i in (3, 150) else b"filler %d" % i)[0])
    s.wait_compressed()
    assert (tmp_path / "0000000000.zst").exists()  # seq 4 lives in a compressed block
    assert s.erase(4) and s.erase(151)
    assert not s.erase(4)
    with pytest.raises(MsgNotFoundError):
        s.load(4)
    s.close()
    for p in tmp_path.iterdir():
        blob = p.read_bytes()
        if p.suffix == ".zst":
            blob = decode_zst(blob)
        assert secret not in blob, p
    s = FileStore(tmp_path, StoreConfig(sync="always", block_size=4096, compression="zstd"))
    assert s.state().msgs == 198 and s.damage == []
    assert s.load(5).data == b"filler 4"
    s.close()


def test_memstore_erase():
    s = MemStore()
    s.append(b"a", b"secret")
    s.append(b"a", b"other")
    assert s.erase(1)
    assert s.state().msgs == 1 and s.state().first_seq == 2


def test_zstd_blocks_are_smaller(tmp_path):
    s = FileStore(tmp_path, StoreConfig(sync="never", block_size=65536, compression="zstd"))
    for i in range(3000):
        s.append(b"j", b'{"id":%d,"name":"user-%d","active":true,"tags":["a","b"]}' % (i, i))
    s.wait_compressed()
    zst = [p for p in tmp_path.iterdir() if p.suffix == ".zst"]
    assert zst
    for p in zst:
        assert p.stat().st_size < len(decode_zst(p.read_bytes())) / 2
    assert zstandard  # the dependency the store uses
    s.close()


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_closed_store_refuses_appends(tmp_path, kind):
    store = MemStore(StoreConfig()) if kind == "memory" else FileStore(tmp_path / "s", StoreConfig(sync="never"))
    store.append(b"a", b"x")
    store.close()
    with pytest.raises(StoreClosedError):
        store.append(b"a", b"y")
    with pytest.raises(StoreClosedError):
        store.append_batch([(b"a", b"y")])
