"""Block IO for the store's kernel (see blocks.pxd): memory-only and file-backed."""
from libc.errno cimport errno, EINTR
from libc.stdint cimport uint32_t
from posix.unistd cimport write as c_write


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
