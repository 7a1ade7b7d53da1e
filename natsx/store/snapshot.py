"""Snapshots: a store's messages as one zstd-compressed byte stream (the format only; the stores
write one with write_snapshot, natsx.store.restore builds a store from one).

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
