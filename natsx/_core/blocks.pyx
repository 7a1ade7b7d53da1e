"""A stream's block table and its block IO, memory-only and file-backed (see blocks.pxd)."""
from cpython.bytes cimport PyBytes_AS_STRING
from libc.errno cimport errno, EINTR
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memmove, memset
from posix.types cimport off_t
from posix.unistd cimport write as c_write

from natsx._core.buf cimport grow
from natsx._core.record cimport write_block_header, xxh3_fn, xxh3_fn_t

cdef extern from "fcntl.h" nogil:
    int fallocate(int fd, int mode, off_t offset, off_t length)
    int FALLOC_FL_KEEP_SIZE

cdef xxh3_fn_t _xxh3 = xxh3_fn()


def reserve_space(int fd, off_t offset, off_t length):
    """Reserve disk blocks for [offset, offset+length) without changing the file size, so a full
    disk fails here instead of in a later write. False if the filesystem cannot do it."""
    cdef int r
    with nogil:
        r = fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, length)
    if r == 0:
        return True
    if errno in (95, 38):   # EOPNOTSUPP, ENOSYS
        return False
    raise OSError(errno, "fallocate failed")


cdef class BlockTable:
    """The blocks of one stream, oldest first; the last is the active one unless sealed."""

    def __cinit__(self, size_t block_size, size_t cache_limit, BlockIO io not None):
        self.block_size = block_size
        self.cache_limit = cache_limit
        self.io = io

    def __dealloc__(self):
        self.free_all()

    cdef void free_all(self) noexcept:
        cdef size_t i
        if self.blocks != NULL:
            for i in range(self.nblk):
                free(self.blocks[i].data)
        free(self.blocks)
        self.blocks = NULL
        self.nblk = self.blk_cap = 0
        self.blk_base = 0
        self.cached_bytes = 0

    cdef int register(self, uint64_t first_seq) except -1:
        cdef BlockInfo* b
        if self.nblk == self.blk_cap:
            grow(<void**>&self.blocks, &self.blk_cap, self.nblk + 1, 64, sizeof(BlockInfo))
        b = &self.blocks[self.nblk]
        memset(b, 0, sizeof(BlockInfo))
        b.first_seq = first_seq
        self.nblk += 1
        return 0

    cdef int new_block(self, size_t need, uint64_t first_seq) except -1:
        """Open a new active block (the block IO creates and preallocates its file first)."""
        cdef uint32_t blkno = self.blk_base + <uint32_t>self.nblk
        cdef uint32_t prev = NO_BLOCK
        cdef size_t cap = need + BLK_HDR
        cdef BlockInfo* b
        if self.nblk and not (self.blocks[self.nblk - 1].flags & (BLK_SEALED | BLK_GONE)):
            prev = blkno - 1
        self.io.created(blkno, max(cap, self.block_size))
        if cap < self.block_size:
            cap = self.block_size   # untouched capacity costs no memory until written
        self.register(first_seq)
        b = &self.blocks[self.nblk - 1]
        b.data = <char*>malloc(cap)
        if b.data == NULL:
            self.nblk -= 1   # not opened after all
            raise MemoryError()
        b.cap = cap
        write_block_header(b.data, first_seq, _xxh3)
        b.len = BLK_HDR
        if prev != NO_BLOCK:
            self.seal(prev)
        return 0

    cdef int seal(self, uint32_t blkno) except -1:
        cdef BlockInfo* b = self.at(blkno)
        b.flags |= BLK_SEALED
        b.last_use = self.tick
        self.cached_bytes += b.len
        self.io.sealed(blkno, b)
        self.maybe_free(blkno)
        self.evict(NO_BLOCK)
        return 0

    cdef char* _make_room(self, size_t n, uint64_t first_seq) except NULL:
        cdef BlockInfo* b
        if self.nblk == 0 or (self.blocks[self.nblk - 1].flags & (BLK_SEALED | BLK_GONE)):
            self.new_block(n, first_seq)
        b = &self.blocks[self.nblk - 1]
        if b.len > BLK_HDR and b.len + n > self.block_size:
            self.new_block(n, first_seq)
            b = &self.blocks[self.nblk - 1]
        if b.len + n > b.cap:
            grow(<void**>&b.data, &b.cap, b.len + n, self.block_size, 1)
        return b.data + b.len

    cdef int load(self, uint32_t blkno) except -1:
        cdef bytes raw = self.io.load(blkno)   # None: unreadable (the block IO reported it)
        cdef BlockInfo* b = self.at(blkno)
        b.data = <char*>calloc(b.len if b.len else 1, 1)
        if b.data == NULL:
            raise MemoryError()
        if raw is not None:
            # a short file leaves zeros behind, which fail verification
            memcpy(b.data, PyBytes_AS_STRING(raw), min(<size_t>len(raw), b.len))
        b.cap = b.len
        if b.flags & BLK_SEALED:
            self.cached_bytes += b.len
        return 0

    cdef int evict(self, uint32_t keep) except -1:
        """Drop least-recently used sealed, fully written blocks above the cache limit."""
        cdef size_t i, best
        cdef BlockInfo* b
        if not self.io.reloadable:
            return 0
        while self.cached_bytes > self.cache_limit:
            best = <size_t>-1
            for i in range(self.nblk):
                b = &self.blocks[i]
                if (b.data != NULL and (b.flags & BLK_SEALED) and b.written == b.len
                        and self.blk_base + i != keep):
                    if best == <size_t>-1 or b.last_use < self.blocks[best].last_use:
                        best = i
            if best == <size_t>-1:
                return 0
            b = &self.blocks[best]
            free(b.data)
            b.data = NULL
            b.cap = 0
            self.cached_bytes -= b.len
        return 0

    cdef int maybe_free(self, uint32_t blkno) except -1:
        cdef size_t i = blkno - self.blk_base
        cdef size_t k
        cdef BlockInfo* b = &self.blocks[i]
        if (b.live or i == self.nblk - 1 or (b.flags & (BLK_GONE | BLK_KEEP))
                or not (b.flags & BLK_SEALED)):
            return 0
        # A block holding tombstones is kept until it is the oldest: its records keep older
        # blocks' deletions durable.
        if i != 0 and (b.flags & BLK_TOMBS):
            return 0
        if b.data != NULL:
            self.cached_bytes -= b.len
            free(b.data)
            b.data = NULL
        b.flags = BLK_GONE
        self.io.removed(blkno)
        if i == 0:
            k = 0
            while k < self.nblk - 1 and (self.blocks[k].flags & BLK_GONE):
                k += 1
            if k:
                memmove(self.blocks, self.blocks + k, (self.nblk - k) * sizeof(BlockInfo))
                self.nblk -= k
                self.blk_base += <uint32_t>k
                self.maybe_free(self.blk_base)
        return 0


cdef class BlockIO:
    """Blocks in memory only: nothing to create, write or sync (the memory store)."""

    cdef int created(self, uint32_t blkno, size_t size) except -1:
        return 0

    cdef int sealed(self, uint32_t blkno, BlockInfo* b) except -1:
        return 0

    cdef int removed(self, uint32_t blkno) except -1:
        return 0

    cdef object load(self, uint32_t blkno):
        # never asked: nothing is reloadable, so the kernel never drops a block
        raise NotImplementedError(f"block {blkno} is not resident")

    cdef int damaged(self, uint32_t blkno, list seqs) except -1:
        return 0

    cdef int write(self, uint32_t blkno, BlockInfo* b) except -1:
        return 0

    cdef int commit(self, uint32_t blkno, BlockInfo* b) except -1:
        return 1


cdef class FileBlockIO(BlockIO):
    """The file store's blocks: the write path and its durability bookkeeping are C here; file
    creation, removal, loading and the sync policy are the FileStore's (natsx/store/filestore.py),
    called once per block or, when no group commit is arranged yet, once per batch."""

    def __init__(self, store):
        self.store = store
        self.reloadable = True
        self.active_fd = -1

    cdef int created(self, uint32_t blkno, size_t size) except -1:
        self.active_fd = self.store._blk_new(blkno, size)
        self.active_blk = blkno
        self.dirty = False   # the block it replaces is written and tracked when it is sealed
        return 0

    cdef int sealed(self, uint32_t blkno, BlockInfo* b) except -1:
        self.store._blk_sealed(blkno)
        return 0

    cdef int removed(self, uint32_t blkno) except -1:
        if blkno == self.active_blk:
            self.active_fd = -1
        self.store._blk_removed(blkno)
        return 0

    cdef object load(self, uint32_t blkno):
        return self.store._blk_load(blkno)

    cdef int damaged(self, uint32_t blkno, list seqs) except -1:
        self.store._blk_damaged(blkno, seqs)
        return 0

    cdef Py_ssize_t _write_tail(self, uint32_t blkno, BlockInfo* b) noexcept:
        """write(2) what the active block holds beyond b.written; bytes written or -1 (errno)."""
        cdef Py_ssize_t r, total = 0
        if self.active_fd < 0 or blkno != self.active_blk:
            return 0
        while b.written < b.len:
            r = c_write(self.active_fd, b.data + b.written, b.len - b.written)
            if r < 0:
                if errno == EINTR:
                    continue
                return -1
            b.written += r
            total += r
        if total:
            self.dirty = True
        return total

    cdef int write(self, uint32_t blkno, BlockInfo* b) except -1:
        if self._write_tail(blkno, b) < 0:
            raise OSError(errno, "write failed")
        return 0

    cdef int commit(self, uint32_t blkno, BlockInfo* b) except -1:
        if self.sync_armed and self._write_tail(blkno, b) >= 0:
            return 1
        # No commit arranged yet (or a write failed: the store's path rolls back and reports).
        self.python_commits += 1
        self.store._after_op()
        return 0
