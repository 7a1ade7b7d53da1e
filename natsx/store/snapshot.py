"""Snapshots: a store's messages as one zstd-compressed byte stream, and restore from it.

Stream (after zstd decompression):
  b"NXSNAP1\\n", u32 meta length, meta JSON {first_seq, last_seq, last_ts, msgs}
  records: u64 seq, i64 ts, u16 subject len, u32 header len, u32 data len, subject, header, data
  b"END!", u64 record count, u64 xxh3-64 of every byte before "END!"
"""
from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator

import xxhash
import zstandard

from natsx._core.msglog import StoreError
from natsx.store.config import StoreConfig

MAGIC = b"NXSNAP1\n"
REC = struct.Struct("<QqHII")
TRAILER = struct.Struct("<4sQQ")


class SnapshotError(StoreError):
    pass


def write_snapshot(store, level: int = 3) -> Iterator[bytes]:
    """Compressed snapshot chunks. The content is fixed when this is called (consistent)."""
    st = store.state()
    meta = json.dumps({"first_seq": st.first_seq, "last_seq": st.last_seq,
                       "last_ts": st.last_ts, "msgs": st.msgs}).encode()
    parts = [MAGIC + struct.pack("<I", len(meta)) + meta] + store.snapshot_records()
    return _compress(parts, st.msgs, level)


def _compress(parts: list[bytes], count: int, level: int) -> Iterator[bytes]:
    h = xxhash.xxh3_64()
    c = zstandard.ZstdCompressor(level=level).compressobj()
    for p in parts:
        h.update(p)
        out = c.compress(p)
        if out:
            yield out
    yield c.compress(TRAILER.pack(b"END!", count, h.intdigest())) + c.flush()


def read_snapshot(chunks: Iterable[bytes]) -> tuple[dict, Iterator[tuple]]:
    """Decode and verify a snapshot: (meta, records as (seq, ts, subject, hdr, data))."""
    d = zstandard.ZstdDecompressor().decompressobj()
    try:
        raw = b"".join(d.decompress(c) for c in chunks)
    except zstandard.ZstdError as e:
        raise SnapshotError(f"snapshot does not decode: {e}") from e
    if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + 4 + TRAILER.size:
        raise SnapshotError("not a natsx snapshot")
    tag, count, chk = TRAILER.unpack_from(raw, len(raw) - TRAILER.size)
    body = memoryview(raw)[: len(raw) - TRAILER.size]
    if tag != b"END!" or xxhash.xxh3_64_intdigest(body) != chk:
        raise SnapshotError("snapshot checksum mismatch")
    (mlen,) = struct.unpack_from("<I", raw, len(MAGIC))
    off = len(MAGIC) + 4
    meta = json.loads(bytes(body[off : off + mlen]))
    off += mlen
    recs = []
    while off < len(body):
        seq, ts, sl, hl, ml = REC.unpack_from(body, off)
        off += REC.size
        subj = bytes(body[off : off + sl])
        hdr = bytes(body[off + sl : off + sl + hl])
        data = bytes(body[off + sl + hl : off + sl + hl + ml])
        off += sl + hl + ml
        recs.append((seq, ts, subj, hdr, data))
    if len(recs) != count:
        raise SnapshotError("snapshot record count mismatch")
    return meta, iter(recs)


def restore(chunks: Iterable[bytes], directory=None, config: StoreConfig | None = None):
    """A new store (file store in `directory`, else memory) holding the snapshot's messages with
    their original sequences and timestamps; config's limits apply afterwards."""
    from natsx.store.filestore import FileStore
    from natsx.store.memstore import MemStore

    meta, recs = read_snapshot(chunks)
    config = config or StoreConfig()
    # Load without limits or per-append fsync; the real config (and one sync) apply at the end.
    loading = StoreConfig(sync="never", compression=config.compression,
                          compression_level=config.compression_level,
                          block_size=config.block_size, cache_size=config.cache_size)
    s = FileStore(directory, loading) if directory is not None else MemStore(loading)
    if s.last_seq:
        s.close()
        raise SnapshotError("restore target is not empty")
    if meta["first_seq"] > 1:
        s.compact(meta["first_seq"])  # durable even if no message follows
    for seq, ts, subj, hdr, data in recs:
        if seq != s.last_seq + 1:
            s._skip_seqs(seq - 1)  # the next record's sequence makes the gap durable
        s.append(subj, data, hdr or None, ts)
    last = meta["last_seq"]
    if last > s.last_seq:
        if s.msgs == 0:
            s.compact(last + 1)
        else:
            # trailing removed messages: a placeholder at last_seq, removed at once
            s._skip_seqs(last - 1)
            s.append(b"_natsx.restore", b"", None, meta["last_ts"] or 0)
            s.remove(last)
    s.update_config(config)
    if isinstance(s, FileStore):
        s.sync()
    return s
