"""Restore: a new store built from a snapshot (natsx.store.snapshot's format)."""
from __future__ import annotations

from collections.abc import Iterable

from natsx.store.config import StoreConfig
from natsx.store.filestore import FileStore
from natsx.store.memstore import MemStore
from natsx.store.snapshot import SnapshotError, read_snapshot


def restore(chunks: Iterable[bytes], directory=None, config: StoreConfig | None = None):
    """A new store (file store in `directory`, else memory) holding the snapshot's messages with
    their original sequences and timestamps; config's limits apply afterwards."""
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
