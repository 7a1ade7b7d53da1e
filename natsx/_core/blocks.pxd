# A stream's blocks: the block table (BlockTable: the active block, sealed ones, an LRU cache of
# resident bytes) and the block-IO interface, what the table asks of the storage under it.
#
# The table owns the bytes of resident blocks; a BlockIO owns where they live.
# Its methods are C calls through the vtable, so the kernel never goes through a Python object to
# reach its storage. BlockIO itself keeps blocks in memory only (the memory store);
# FileBlockIO (blocks.pyx) is the file store's. Calls come per block (created, sealed, removed,
# load, damaged) and per batch (write, commit), never per message.

from libc.stdint cimport uint32_t, uint64_t

from natsx._core.record cimport BLK_HDR

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
    BLK_GONE = 1        # every message left; the file is removed
    BLK_SEALED = 2      # takes no more records
    BLK_TOMBS = 4       # holds TOMB/COMPACT records (kept until it is the oldest)
    BLK_KEEP = 8        # damaged: kept for inspection, never removed

cdef extern from *:
    """
    #define NX_NO_BLOCK 0xFFFFFFFFu
    """
    const uint32_t NO_BLOCK "NX_NO_BLOCK"


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


cdef class BlockTable:
    cdef BlockInfo* blocks
    cdef size_t nblk            # entries in blocks (some may be gone)
    cdef size_t blk_cap
    cdef readonly uint32_t blk_base    # number of blocks[0]
    cdef readonly size_t block_size
    cdef readonly size_t cache_limit
    cdef size_t cached_bytes    # bytes of resident sealed blocks
    cdef uint64_t tick          # LRU clock
    cdef BlockIO io

    # Append a zeroed entry (the caller fills it in).
    cdef int register(self, uint64_t first_seq) except -1
    # reserve() when the active block cannot take n more bytes as it is
    cdef char* _make_room(self, size_t n, uint64_t first_seq) except NULL
    # Open a new active block, sealing the one before.
    cdef int new_block(self, size_t need, uint64_t first_seq) except -1
    cdef int seal(self, uint32_t blkno) except -1
    # Read a sealed, non-resident block back in through io (zeros where it is short/unreadable).
    cdef int load(self, uint32_t blkno) except -1
    # Drop LRU sealed, fully written blocks over the cache limit (not keep).
    cdef int evict(self, uint32_t keep) except -1
    # Remove blkno if no message in it is left and the rules allow (see docs/storage.rst).
    cdef int maybe_free(self, uint32_t blkno) except -1
    cdef void free_all(self) noexcept

    # Inline (called per message, compiled into the caller):
    cdef inline BlockInfo* at(self, uint32_t blkno) noexcept:
        return &self.blocks[blkno - self.blk_base]

    cdef inline char* reserve(self, size_t n, uint64_t first_seq) except NULL:
        """Room for n more bytes at the end of the active block; a new block (whose first
        sequence is first_seq) when it is sealed or n would take it past block_size."""
        cdef BlockInfo* b
        if self.nblk:
            b = &self.blocks[self.nblk - 1]
            if (not (b.flags & (BLK_SEALED | BLK_GONE)) and b.len + n <= b.cap
                    and (b.len <= BLK_HDR or b.len + n <= self.block_size)):
                return b.data + b.len
        return self._make_room(n, first_seq)
