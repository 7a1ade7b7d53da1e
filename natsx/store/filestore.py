"""The file store: MsgLog plus block files, group commit, zstd of sealed blocks, crash recovery.

Format and recovery rules: docs/storage.rst. Python here runs per batch / per block / per timer
tick; per-message work is in natsx/_core/msglog.pyx, and the write path in natsx/_core/blocks.pyx
(FileBlockIO), which calls the methods under "block IO" below once per block.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import os
import shutil
import struct
import time
from pathlib import Path

import zstandard

from natsx._core.blocks import FileBlockIO, reserve_space
from natsx._core.msglog import MsgLog, StoreError
from natsx._core.record import xxh3_64
from natsx.store.base import BaseStore
from natsx.store.config import SYNC_ALWAYS, SYNC_INTERVAL, StoreConfig

log = logging.getLogger("natsx.store")

ZST_MAGIC = b"NXZ1"
ZST_HDR = struct.Struct("<4sIQQ")  # magic, version, raw length, xxh3-64 of the zstd frame
INDEX_FILE = "index.nxi"

# fdatasync and compression run here, never on the event loop thread.
_sync_pool = concurrent.futures.ThreadPoolExecutor(4, "natsx-fsync")
_compress_pool = concurrent.futures.ThreadPoolExecutor(1, "natsx-zstd")


class StorageFullError(StoreError):
    default_msg = "insufficient storage resources available"


class CorruptBlockError(StoreError):
    pass


def _ranges(seqs: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for q in seqs:
        if out and out[-1][1] + 1 == q:
            out[-1] = (out[-1][0], q)
        else:
            out.append((q, q))
    return out


def _fsync_all(fds: list[int], dirfd: int) -> None:
    for fd in fds:
        os.fdatasync(fd)
    if dirfd >= 0:
        os.fsync(dirfd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_zst(data: bytes, level: int) -> bytes:
    c = zstandard.ZstdCompressor(level=level).compress(data)
    return ZST_HDR.pack(ZST_MAGIC, 1, len(data), xxh3_64(c)) + c


def decode_zst(blob: bytes) -> bytes:
    if len(blob) < ZST_HDR.size:
        raise CorruptBlockError("compressed block truncated")
    magic, ver, raw_len, chk = ZST_HDR.unpack_from(blob)
    payload = memoryview(blob)[ZST_HDR.size:]
    if magic != ZST_MAGIC or ver != 1 or xxh3_64(payload) != chk:
        raise CorruptBlockError("compressed block checksum mismatch")
    try:
        data = zstandard.ZstdDecompressor().decompress(payload, max_output_size=raw_len)
    except zstandard.ZstdError as e:
        raise CorruptBlockError(f"compressed block does not decode: {e}") from e
    if len(data) != raw_len:
        raise CorruptBlockError("compressed block has the wrong length")
    return data


def _write_durably(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _compress_job(directory: Path, blkno: int, data: bytes, level: int) -> int:
    blob = encode_zst(data, level)
    tmp = directory / f"{blkno:010d}.zst.tmp"
    _write_durably(tmp, blob)
    os.replace(tmp, directory / f"{blkno:010d}.zst")
    _fsync_dir(directory)
    return len(blob)


class FileStore(BaseStore):
    """A stream's messages in a directory of block files."""

    def __init__(self, directory: str | os.PathLike, config: StoreConfig | None = None) -> None:
        config = config or StoreConfig()
        config.validate()
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._setup(config.block_size, config.cache_size, True, False, FileBlockIO(self))
        self._init_common(config)
        self._fds: dict[int, int] = {}  # active block, and sealed ones until their fsync
        self._dirty: set[int] = set()  # sealed blocks written since their last fdatasync (the
        # active one's flag is io.dirty, set by the C write path)
        self._dir_dirty = False
        self._sealed_wait: list[int] = []
        self._to_close: list[int] = []
        self._compressed: set[int] = set()
        self._compressing: dict[int, concurrent.futures.Future] = {}
        self._sync_fut: concurrent.futures.Future | None = None
        self._sync_scheduled = False
        self._last_sync = time.monotonic()
        self._interval_handle: asyncio.TimerHandle | None = None
        self.damage: list[str] = []  # what recovery found (also logged)
        self.compressed_bytes = 0
        self.sync_count = 0  # fdatasync runs (group commit shares one per loop iteration)
        self._dirfd = os.open(self.directory, os.O_RDONLY)
        self._open_files()
        self._write_active()
        self._set_durable(self.committed_seq)
        try:
            self.attach_loop(asyncio.get_running_loop())
        except RuntimeError:
            pass

    # -- paths -------------------------------------------------------------------------------

    def _raw(self, n: int) -> Path:
        return self.directory / f"{n:010d}.blk"

    def _zst(self, n: int) -> Path:
        return self.directory / f"{n:010d}.zst"

    def _zst_new(self, n: int) -> Path:
        # a secure-erase rewrite of block n's .zst, until it replaces the old one
        return self.directory / f"{n:010d}.zst.new"

    # -- open / recovery -----------------------------------------------------------------------

    def _open_files(self) -> None:
        d = self.directory
        raw: set[int] = set()
        zst: set[int] = set()
        for name in os.listdir(d):
            stem, _, ext = name.partition(".")
            if ext in ("zst.tmp", "nxi.tmp"):
                os.unlink(d / name)  # an unfinished compression or checkpoint
            elif ext == "zst.new":
                self._finish_rewrite(int(stem))
        for name in os.listdir(d):
            stem, _, ext = name.partition(".")
            if ext == "blk" and stem.isdigit():
                raw.add(int(stem))
            elif ext == "zst" and stem.isdigit():
                zst.add(int(stem))
        for n in raw & zst:
            # compressed copy finished but the raw file was not yet removed: the raw one rules
            os.unlink(self._zst(n))
        zst -= raw
        self._compressed = zst
        blocks = sorted(raw | zst)
        index = d / INDEX_FILE
        loaded = False
        if index.exists():
            try:
                loaded = self._load_checkpoint(index.read_bytes(), blocks, raw)
            except (ValueError, OSError) as e:
                self._report(f"index checkpoint unusable ({e}); rebuilding from blocks")
                loaded = False
            # The checkpoint only describes the store at the moment of a clean close.
            os.unlink(index)
            os.fsync(self._dirfd)
            if not loaded:
                self._reset()
        if not loaded:
            self._scan(blocks, raw)
        active = self._active_blk()
        if active is not None and active in raw and self._blk_info(active) is not None:
            self._open_active(active)
        elif active is not None:
            self._seal_last()

    def _load_checkpoint(self, data: bytes, blocks: list[int], raw: set[int]) -> bool:
        table = self._load_index(data)
        present = [(n, ln) for n, ln, flags in table if not flags & 1]
        if [n for n, _ in present] != blocks:
            self._report("index checkpoint does not match the block files; rebuilding")
            return False
        for n, ln in present:
            if n in raw and os.path.getsize(self._raw(n)) != ln:
                self._report(f"block {n} size differs from the checkpoint; rebuilding")
                return False
        if present and present[-1][0] in raw:
            self._unseal_last()
            self._blk_bytes(present[-1][0], 0, 0)  # the active block must be resident
        return True

    def _scan(self, blocks: list[int], raw: set[int]) -> None:
        self._recover_begin()
        pending_lost = None  # first sequence after damage whose fate is not yet known
        for i, n in enumerate(blocks):
            last = i == len(blocks) - 1
            failed = False
            if n in raw:
                data = self._raw(n).read_bytes()
                sealed = not last
                if last and not data.strip(b"\0"):
                    # created (and preallocated) but never written before a crash
                    os.unlink(self._raw(n))
                    raw.discard(n)
                    continue
            else:
                try:
                    data = decode_zst(self._zst(n).read_bytes())
                except (CorruptBlockError, OSError) as e:
                    self._report(f"block {n}: {e}; its messages are lost")
                    data = b""  # registers the block number; the file is kept for inspection
                    failed = True
                sealed = True
            before = self.last_seq
            valid_end, bad, gaps = self._recover_block(n, data, sealed)
            if pending_lost is not None:
                info = self._blk_info(n)
                first = info[2] if info and info[2] else before + 1
                if first > pending_lost:
                    self.lost.append((pending_lost, first - 1))
                pending_lost = None
            torn = bool(bad) and last and n in raw and bad[-1][1] == len(data)
            if not failed:
                for start, end in bad[:-1] if torn else bad:
                    self._report(f"block {n}: bytes {start}..{end} failed verification")
            if torn:
                log.info("block %d: torn tail at %d..%d truncated", n, bad[-1][0], len(data))
            if failed or (bad and not torn):
                pending_lost = self.last_seq + 1
            self.lost.extend(gaps)
            if last and n in raw and len(data) != valid_end:
                os.truncate(self._raw(n), max(valid_end, 24))
        self._recover_end()

    def _report(self, what: str) -> None:
        log.error("store %s: %s", self.directory, what)
        self.damage.append(what)

    def _open_active(self, n: int) -> None:
        fd = os.open(self._raw(n), os.O_RDWR | os.O_CLOEXEC)
        length = self._blk_info(n)[0]
        os.lseek(fd, length, os.SEEK_SET)
        if os.fstat(fd).st_size != length:
            os.ftruncate(fd, length)
        self._prealloc(fd, length, self.config.block_size)
        self._fds[n] = fd
        self.io.active_fd = fd
        self.io.active_blk = n

    def _prealloc(self, fd: int, offset: int, size: int) -> None:
        # Reserve the block's space up front: a full disk fails here, before anything is appended.
        if size > offset:
            try:
                reserve_space(fd, offset, size - offset)
            except OSError as e:
                raise StorageFullError() from e

    def _finish_rewrite(self, n: int) -> None:
        """A secure-erase rewrite of compressed block n was interrupted: finish or drop it."""
        new = self._zst_new(n)
        try:
            decode_zst(new.read_bytes())
        except CorruptBlockError:
            os.unlink(new)
            return
        os.replace(new, self._zst(n))
        os.fsync(self._dirfd)

    # -- block IO (FileBlockIO calls these once per block) ----------------------------------------

    def _blk_new(self, blkno: int, size: int) -> int:
        path = self._raw(blkno)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            self._prealloc(fd, 0, size)
        except StorageFullError:
            os.close(fd)
            os.unlink(path)
            raise
        self._fds[blkno] = fd
        self._dir_dirty = True
        return fd

    def _blk_sealed(self, blkno: int) -> None:
        fd = self._fds.get(blkno)
        if fd is None:
            return
        self._blk_write(blkno, fd)
        self._dirty.add(blkno)
        self._sealed_wait.append(blkno)

    def _blk_removed(self, blkno: int) -> None:
        fut = self._compressing.pop(blkno, None)
        if fut is not None:
            fut.exception()  # wait: its file must not appear after we unlink
        self._dirty.discard(blkno)
        self._retire_fd(blkno)
        for p in (self._raw(blkno), self._zst(blkno)):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        self._compressed.discard(blkno)
        self._dir_dirty = True

    def _blk_damaged(self, blkno: int, seqs: list[int]) -> None:
        self._report(f"block {blkno}: {len(seqs)} record(s) failed verification on load")
        self.lost.extend(_ranges(seqs))

    def _blk_load(self, blkno: int) -> bytes | None:
        try:
            if blkno in self._compressed:
                return decode_zst(self._zst(blkno).read_bytes())
            return self._raw(blkno).read_bytes()
        except (CorruptBlockError, OSError) as e:
            self._report(f"block {blkno}: {e}")
            return None

    # -- writing and syncing -------------------------------------------------------------------

    def _after_op(self) -> None:
        if self._compressing:
            self._reap()
        try:
            self._write_active()
        except OSError as e:
            # What write(2) refused was never stored: forget it, cut the file back.
            act = self._active_blk()
            fd = self._fds[act]
            cut = self._rollback_unwritten(act)
            os.ftruncate(fd, cut)
            os.lseek(fd, cut, os.SEEK_SET)
            if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                raise StorageFullError() from e
            raise StoreError(f"write failed: {e}") from e
        pol = self.config.sync
        if pol == SYNC_ALWAYS:
            if self._loop is not None:
                if not self._sync_scheduled and self._sync_fut is None:
                    self._sync_scheduled = True
                    self._loop.call_soon(self._start_sync)
                    self._arm()
            else:
                self._sync_now()
        else:
            # Not durable, by the user's choice: acknowledge at once.
            self._set_durable(self.committed_seq)
            if self._sealed_wait:
                self._sealed_ready(self._sealed_wait)
                self._sealed_wait = []
            if pol == SYNC_INTERVAL and self._loop is None:
                if time.monotonic() - self._last_sync >= self.config.sync_interval:
                    self._sync_now()
        if self._to_close and self._sync_fut is None:
            self._close_pending()

    def _arm(self) -> None:
        """Tell the C commit path whether a group commit is scheduled or running (then a C
        appender's batch needs no Python: that commit, or the one it starts when it ends, covers
        it)."""
        if not self.closed:   # once closed, io is the kernel's inert memory-only one
            self.io.sync_armed = self._sync_scheduled or self._sync_fut is not None

    def _unsynced(self) -> bool:
        return bool(self._dirty or self._dir_dirty or self.io.dirty)

    def _take_dirty(self) -> tuple[list[int], int]:
        """The fds written since their last fdatasync, and the dir fd if it changed (else -1)."""
        if self.io.dirty:
            self._dirty.add(self.io.active_blk)
            self.io.dirty = False
        fds = [self._fds[b] for b in self._dirty if b in self._fds]
        self._dirty.clear()
        dirfd = self._dirfd if self._dir_dirty else -1
        self._dir_dirty = False
        return fds, dirfd

    def _sync_now(self) -> None:
        """fdatasync everything written, on the calling thread."""
        if self._sync_fut is not None:
            f = self._sync_fut
            f.exception()
            self._sync_done(f, self._sync_target, self._sync_sealed)
        target = self.committed_seq
        fds, dirfd = self._take_dirty()
        _fsync_all(fds, dirfd)
        self.sync_count += 1
        self._last_sync = time.monotonic()
        self._set_durable(target)
        sealed, self._sealed_wait = self._sealed_wait, []
        self._sealed_ready(sealed)
        self._close_pending()

    def _start_sync(self) -> None:
        """Group commit: one fdatasync run (off the loop) for everything appended so far."""
        self._sync_scheduled = False
        if self._sync_fut is not None or self.closed:
            self._arm()
            return
        # What was committed: a C appender's batch still in the block buffer is not covered.
        target = self.committed_seq
        fds, dirfd = self._take_dirty()
        sealed, self._sealed_wait = self._sealed_wait, []
        if not fds and dirfd < 0:
            self._arm()
            self._set_durable(target)
            self._sealed_ready(sealed)
            return
        f = _sync_pool.submit(_fsync_all, fds, dirfd)
        self.sync_count += 1
        self._sync_fut, self._sync_target, self._sync_sealed = f, target, sealed
        self._arm()
        loop = self._loop
        f.add_done_callback(lambda f: loop.call_soon_threadsafe(self._sync_done, f, target, sealed))

    def _sync_done(self, f, target: int, sealed: list[int]) -> None:
        if self._sync_fut is not f:
            return
        self._sync_fut = None
        exc = f.exception()
        self._last_sync = time.monotonic()
        if exc is not None:
            log.error("store %s: fdatasync failed: %s", self.directory, exc)
            self._fail_waiters(StoreError(f"fsync failed: {exc}"), target)
        else:
            self._set_durable(target)
        self._sealed_ready(sealed)
        self._close_pending()
        if not self.closed and (self._unsynced() or self.committed_seq > self._durable_seq):
            if self.config.sync == SYNC_ALWAYS:
                self._start_sync()
        self._arm()

    def _sealed_ready(self, sealed: list[int]) -> None:
        """Sealed blocks whose data is on disk: close their fd, compress them off the loop."""
        for b in sealed:
            self._retire_fd(b)
            if self.config.compression == "zstd" and self._blk_info(b) is not None:
                data = self._blk_bytes(b)
                f = _compress_pool.submit(_compress_job, self.directory, b, data,
                                          self.config.compression_level)
                self._compressing[b] = f
                if self._loop is not None:
                    loop = self._loop
                    f.add_done_callback(lambda _f: loop.call_soon_threadsafe(self._reap))

    def _reap(self) -> None:
        """Adopt finished compressions: the .zst replaces the raw block file."""
        for b, f in list(self._compressing.items()):
            if not f.done():
                continue
            del self._compressing[b]
            exc = f.exception()
            if exc is not None:
                log.error("store %s: compressing block %d failed: %s", self.directory, b, exc)
                continue
            if self._blk_info(b) is None:
                self._zst(b).unlink(missing_ok=True)
                continue
            self.compressed_bytes += f.result()
            self._compressed.add(b)
            self._raw(b).unlink(missing_ok=True)
            self._dir_dirty = True

    def _retire_fd(self, blkno: int) -> None:
        # Closed only after the running fdatasync, which may still use it.
        fd = self._fds.pop(blkno, None)
        if fd is not None and fd == self.io.active_fd:
            self.io.active_fd = -1
        if fd is not None:
            self._to_close.append(fd)

    def _close_pending(self) -> None:
        while self._to_close:
            os.close(self._to_close.pop())

    def wait_compressed(self) -> None:
        """Block until background compression is done (tests, benchmarks, close)."""
        for f in list(self._compressing.values()):
            f.exception()
        self._reap()

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().attach_loop(loop)
        if self.config.sync == SYNC_INTERVAL and self._interval_handle is None:
            self._interval_handle = self._loop.call_later(self.config.sync_interval, self._interval_tick)

    def _interval_tick(self) -> None:
        self._interval_handle = None
        if self.closed:
            return
        if self._unsynced():
            self._start_sync()
        self._interval_handle = self._loop.call_later(self.config.sync_interval, self._interval_tick)

    # -- the mutating API: MsgLog's work, then write + sync policy ------------------------------

    def append(self, subject, data, hdr=None, ts=0):
        """Store one message; returns (seq, ts). Durable when durable(seq) resolves."""
        if self.closed:
            self._check_open()
        r = MsgLog.append(self, subject, data, hdr, ts)
        self._after_op()
        return r

    def append_batch(self, msgs, ts=0):
        """Store (subject, data[, hdr]) tuples; returns (first_seq, count, ts)."""
        if self.closed:
            self._check_open()
        before = self.last_seq
        try:
            r = MsgLog.append_batch(self, msgs, ts)
        except StoreError:
            self._after_op()
            raise
        try:
            self._after_op()
        except StorageFullError as e:
            e.stored = self.last_seq - before  # the part that made it to disk stays
            raise
        return r

    def _mutate(self, op, *args):
        """One of MsgLog's removing calls on an open store, then write + sync policy."""
        self._check_open()
        r = op(self, *args)
        self._after_op()
        return r

    def remove(self, seq):
        return self._mutate(MsgLog.remove, seq)

    def purge(self):
        return self._mutate(MsgLog.purge)

    def purge_ex(self, filter=b">", seq=0, keep=0):
        return self._mutate(MsgLog.purge_ex, filter, seq, keep)

    def compact(self, seq):
        return self._mutate(MsgLog.compact, seq)

    def expire(self, now=0):
        r = MsgLog.expire(self, now)
        if r:
            self._after_op()
        return r

    def sync(self) -> None:
        """Make everything so far durable now (blocking)."""
        self._check_open()
        self._after_op()
        self._sync_now()

    def erase(self, seq: int) -> bool:
        """Remove seq and overwrite its bytes on disk (not just in the index)."""
        self._check_open()
        info = self._slot_info(seq)
        if info is None:
            return False
        blk = info[0]
        if blk in self._compressing:
            self._compressing[blk].exception()
            self._reap()
        r = self._erase_record(seq)
        # The tombstone is durable before any bytes are overwritten: a crash midway leaves a
        # record that fails its checksum but is already known deleted.
        self._after_op()
        self._sync_now()
        blk, off, n = r
        if self._blk_info(blk) is None:
            return True  # the whole block went (and its file with it)
        if blk in self._compressed:
            self._rewrite_compressed(blk)
        else:
            fd = self._fds.get(blk)
            own = fd is None
            if own:
                fd = os.open(self._raw(blk), os.O_RDWR | os.O_CLOEXEC)
            try:
                os.pwrite(fd, self._blk_bytes(blk, off, n), off)
                os.fdatasync(fd)
            finally:
                if own:
                    os.close(fd)
        return True

    def _rewrite_compressed(self, blk: int) -> None:
        new = self._zst_new(blk)
        _write_durably(new, encode_zst(self._blk_bytes(blk), self.config.compression_level))
        os.fsync(self._dirfd)
        old = self._zst(blk)
        size = old.stat().st_size
        with open(old, "r+b") as f:  # overwrite the old ciphertext-free bytes in place
            f.write(b"\0" * size)
            f.flush()
            os.fdatasync(f.fileno())
        os.replace(new, old)
        os.fsync(self._dirfd)

    # -- close / delete ------------------------------------------------------------------------

    def close(self) -> None:
        """Flush, fsync, checkpoint the index, release files."""
        if self.closed:
            return
        self._stop_timers()
        if self._interval_handle is not None:
            self._interval_handle.cancel()
            self._interval_handle = None
        self.wait_compressed()
        self._after_op()
        self._sync_now()
        self.wait_compressed()
        self._checkpoint()
        self._release("store closed before the append was durable")

    def _release(self, why: str) -> None:
        """Close every file, mark the store closed, fail appends still waiting to be durable."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self._close_pending()
        os.close(self._dirfd)
        self.closed = True
        self._fail_waiters(StoreError(why))
        self._detach()

    def _checkpoint(self) -> None:
        tmp = self.directory / (INDEX_FILE + ".tmp")
        _write_durably(tmp, self._dump_index())
        os.replace(tmp, self.directory / INDEX_FILE)
        os.fsync(self._dirfd)

    def delete(self) -> None:
        """Close and remove the store's directory."""
        if not self.closed:
            self._stop_timers()
            self.wait_compressed()
            if self._sync_fut is not None:
                self._sync_fut.exception()
            self._release("store deleted")
        shutil.rmtree(self.directory, ignore_errors=True)

    def snapshot(self):
        from natsx.store.snapshot import write_snapshot

        return write_snapshot(self)
