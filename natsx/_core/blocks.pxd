# The block-IO interface: what the store's kernel (msglog) asks of the storage under its blocks.
#
# The kernel owns the block table and the bytes of resident blocks; a BlockIO owns where they live.
# Its methods are C calls through the vtable, so the kernel never goes through a Python object to
# reach its storage. BlockIO itself keeps blocks in memory only (the memory store);
# FileBlockIO (blocks.pyx) is the file store's. Calls come per block (created, sealed, removed,
# load, damaged) and per batch (write, commit), never per message.

from libc.stdint cimport uint32_t, uint64_t

cdef struct BlockInfo:
    char* data          # decoded block bytes (header + records); NULL when not cached
    size_t len          # bytes used (== raw file size)
    size_t cap
    size_t written      # bytes already handed to write(2)
    uint64_t first_seq  # from the block header: the next sequence when the block was created
    uint64_t live       # messages still present
    uint64_t last_use   # LRU tick
    uint32_t flags      # BLK_* bits

cdef enum:
    BLK_GONE = 1
    BLK_SEALED = 2
    BLK_TOMBS = 4
    BLK_KEEP = 8


cdef class BlockIO:
    # sealed blocks may leave memory and come back through load()
    cdef readonly bint reloadable

    # A new active block blkno of at least size bytes is about to be used.
    cdef int created(self, uint32_t blkno, size_t size) except -1
    # blkno will take no more records; b is its table entry.
    cdef int sealed(self, uint32_t blkno, BlockInfo* b) except -1
    # Every message of blkno is gone: its storage can go.
    cdef int removed(self, uint32_t blkno) except -1
    # The bytes of a sealed block that is not resident (None: unreadable, already reported).
    cdef object load(self, uint32_t blkno)
    # Records of blkno failed verification on load; seqs left the index.
    cdef int damaged(self, uint32_t blkno, list seqs) except -1
    # Hand the unwritten tail of the active block blkno to storage (write(2)); raises on failure.
    cdef int write(self, uint32_t blkno, BlockInfo* b) except -1
    # Batch end of a C appender: returns 1 when the batch is written and its durability already
    # arranged (no Python ran), 0 when the store's Python side took over (and did both).
    cdef int commit(self, uint32_t blkno, BlockInfo* b) except -1


cdef class FileBlockIO(BlockIO):
    cdef object store           # the FileStore: files, fsync policy; Python per block and per batch
    cdef public int active_fd   # the active block's file, -1 when none
    cdef public uint32_t active_blk
    cdef public bint dirty      # the active block was written since its last fdatasync
    # A group commit is scheduled or running and will cover anything written before it takes the
    # dirty blocks (or before it finishes: it then starts another). Set by the store's Python side.
    cdef public bint sync_armed
    cdef readonly uint64_t python_commits   # commits that had to call into Python
    cdef Py_ssize_t _write_tail(self, uint32_t blkno, BlockInfo* b) noexcept
