# cython: freethreading_compatible=False
"""The stream store's kernel (see msglog.pxd and docs/storage.rst).

Everything per message lives here: record encoding with an xxh3-64 checksum per record, the
seq -> (block, offset) slot array, the per-subject hash table, limit enforcement and the replay
interface. Blocks live behind a BlockIO (blocks.pxd); Python (natsx/store/) runs per block and per
batch.
"""
import ctypes
import time

import xxhash._xxhash as _xxmod

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject
from libc.errno cimport errno, EINTR
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t, UINT64_MAX
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memset, memcmp, memmove, memchr
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME
from posix.unistd cimport write
from posix.types cimport off_t

from natsx._core.blocks cimport BLK_GONE, BLK_KEEP, BLK_SEALED, BLK_TOMBS, BlockInfo, BlockIO
from natsx._core.seqset cimport SeqSet
from natsx._core.subject cimport is_literal_c, is_match_all_c, subject_matches_c

cdef extern from "fcntl.h" nogil:
    int fallocate(int fd, int mode, off_t offset, off_t length)
    int FALLOC_FL_KEEP_SIZE

# xxh3-64 from the xxhash C library bundled in the `xxhash` wheel: its extension exports the
# XXH3_64bits symbol, so we call it through a function pointer -- no vendored copy, no Python call
# per record.
cdef xxh3_fn_t _xxh3 = <xxh3_fn_t><size_t>ctypes.cast(
    ctypes.CDLL(_xxmod.__file__).XXH3_64bits, ctypes.c_void_p).value

cdef extern from *:
    """
    #define NX_SID_NONE 0xFFFFFFFFu
    #define NX_REC_HDR 40
    #define NX_BLK_HDR 24
    """
    const uint32_t SID_NONE "NX_SID_NONE"
    const size_t REC_HDR "NX_REC_HDR"
    const size_t BLK_HDR "NX_BLK_HDR"

cdef enum:
    KIND_MSG = 1
    KIND_TOMB = 2
    KIND_COMPACT = 3
    KIND_ERASED = 4

BLOCK_MAGIC = b"NXB1"
BLOCK_HEADER_SIZE = BLK_HDR
RECORD_HEADER_SIZE = REC_HDR
FLAG_GONE = BLK_GONE
FLAG_SEALED = BLK_SEALED
FLAG_TOMBS = BLK_TOMBS
FLAG_KEEP = BLK_KEEP

cdef char _EMPTY[64]
INDEX_MAGIC = b"NXI1"


class StoreError(Exception):
    """Base class of store errors; str() matches nats-server's error text where one exists."""

    # nats-server's text for this error, used when it is raised without a message.
    default_msg = None

    def __init__(self, *args):
        if not args and self.default_msg is not None:
            args = (self.default_msg,)
        super().__init__(*args)


class MsgNotFoundError(StoreError):
    default_msg = "no message found"


class StoreEOFError(StoreError):
    default_msg = "stream store EOF"


class StoreClosedError(StoreError):
    default_msg = "store is closed"


class MaxMsgsError(StoreError):
    default_msg = "maximum messages exceeded"


class MaxBytesError(StoreError):
    default_msg = "maximum bytes exceeded"


class MaxMsgsPerSubjectError(StoreError):
    default_msg = "maximum messages per subject exceeded"


class MsgTooLargeError(StoreError):
    default_msg = "message size exceeds maximum allowed"


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


def xxh3_64(data) -> int:
    """xxh3-64 of a bytes-like object via the same C function the records use."""
    cdef const unsigned char[::1] mv = data
    if mv.shape[0] == 0:
        return _xxh3(b"", 0)
    return _xxh3(&mv[0], mv.shape[0])


cdef inline size_t _pad8(size_t n) noexcept nogil:
    return (n + 7) & ~(<size_t>7)


cdef int _grow(void** buf, size_t* cap, size_t need, size_t first, size_t elem) except -1:
    """Make *buf hold at least `need` elements of `elem` bytes: the capacity doubles (starting at
    `first`) until it fits, so appends stay amortized O(1)."""
    cdef size_t ncap = cap[0] * 2 if cap[0] else first
    cdef void* p
    while ncap < need:
        ncap *= 2
    p = realloc(buf[0], ncap * elem)
    if p == NULL:
        raise MemoryError()
    buf[0] = p
    cap[0] = ncap
    return 0


cdef void* _alloc_copy(const char* src, size_t n, size_t first, size_t elem,
                      size_t* cap) except NULL:
    """A new buffer for max(n, first) elements of `elem` bytes, holding src's first n (the
    capacity goes to *cap): an array loaded from a checkpoint, with room to grow."""
    cdef size_t c = n if n > first else first
    cdef void* p = malloc(c * elem)
    if p == NULL:
        raise MemoryError()
    memcpy(p, src, n * elem)
    cap[0] = c
    return p


cdef inline int64_t _now_ns() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    return <int64_t>t.tv_sec * 1000000000 + t.tv_nsec


cdef inline uint32_t _u32(const char* p) noexcept nogil:
    return (<const uint32_t*>p)[0]


cdef inline uint64_t _u64(const char* p) noexcept nogil:
    return (<const uint64_t*>p)[0]


cdef inline void _encode(char* p, uint8_t kind, const char* subj, size_t sl, const char* hdr,
                         size_t hl, const char* msg, size_t ml, uint64_t seq, int64_t ts,
                         bint checksum) noexcept nogil:
    cdef size_t rl = REC_HDR + sl + hl + ml
    cdef size_t pl = _pad8(rl)
    (<uint32_t*>(p + 8))[0] = <uint32_t>rl
    p[12] = <char>kind
    p[13] = 0
    (<uint16_t*>(p + 14))[0] = <uint16_t>sl
    (<uint32_t*>(p + 16))[0] = <uint32_t>hl
    (<uint32_t*>(p + 20))[0] = 0
    (<uint64_t*>(p + 24))[0] = seq
    (<int64_t*>(p + 32))[0] = ts
    if sl:
        memcpy(p + REC_HDR, subj, sl)
    if hl:
        memcpy(p + REC_HDR + sl, hdr, hl)
    if ml:
        memcpy(p + REC_HDR + sl + hl, msg, ml)
    if pl > rl:
        memset(p + rl, 0, pl - rl)
    (<uint64_t*>p)[0] = _xxh3(p + 8, rl - 8) if checksum else 0


cdef inline bint _rec_ok(const char* p, size_t avail) noexcept nogil:
    """A structurally plausible record whose checksum verifies."""
    if avail < REC_HDR:
        return False
    cdef uint32_t rl = _u32(p + 8)
    cdef uint8_t kind = <uint8_t>p[12]
    if rl < REC_HDR or rl > avail or kind < KIND_MSG or kind > KIND_ERASED:
        return False
    if <size_t>REC_HDR + (<const uint16_t*>(p + 14))[0] + _u32(p + 16) > rl:
        return False
    return _xxh3(p + 8, rl - 8) == _u64(p)


cdef bint _all_zero(const char* p, size_t n) noexcept nogil:
    cdef size_t i
    for i in range(n):
        if p[i] != 0:
            return False
    return True


cdef class SubjectFilter:
    """A compiled subject filter; caches its verdict per subject id of one MsgLog."""

    def __cinit__(self, pattern=b">"):
        if type(pattern) is not bytes:
            if pattern is None:
                pattern = b">"
            elif isinstance(pattern, str):
                pattern = pattern.encode()
            else:
                pattern = bytes(pattern)
        self.pattern = pattern
        cdef const char* p = PyBytes_AS_STRING(pattern)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(pattern)
        self.match_all = is_match_all_c(p, n)
        self.literal = not self.match_all and is_literal_c(p, n)
        self.cache = NULL
        self.cache_len = 0
        self.cache_gen = 0

    def __dealloc__(self):
        free(self.cache)

    cdef bint matches(self, MsgLog log, uint32_t sid) except -1:
        cdef uint8_t* nc
        cdef SubjEntry* e
        cdef uint8_t r
        if self.match_all:
            return True
        if self.cache_gen != log.subj_gen or self.cache_len < log.subj_n:
            nc = <uint8_t*>realloc(self.cache, log.subj_cap + 1)
            if nc == NULL:
                raise MemoryError()
            self.cache = nc
            if self.cache_gen != log.subj_gen:
                memset(nc, 0, log.subj_cap + 1)
            else:
                memset(nc + self.cache_len, 0, log.subj_cap + 1 - self.cache_len)
            self.cache_len = log.subj_cap + 1
            self.cache_gen = log.subj_gen
        r = self.cache[sid]
        if r == 0:
            e = &log.subj[sid]
            r = 1 if subject_matches_c(log.arena + e.name_off, e.name_len,
                                       PyBytes_AS_STRING(self.pattern),
                                       PyBytes_GET_SIZE(self.pattern)) else 2
            self.cache[sid] = r
        return r == 1


cdef inline bint _wanted(MsgLog log, uint32_t sid, int mode, uint32_t lit,
                        SubjectFilter f) except -1:
    """Does a slot with subject id sid hold a message the filter takes? (mode and lit come from
    MsgLog._filter_mode: 0 all, 1 the literal subject lit, 2 ask f.)"""
    if sid == SID_NONE:
        return False
    if mode == 0:
        return True
    if mode == 1:
        return sid == lit
    return f.matches(log, sid)


cdef inline SubjectFilter _as_filter(object f):
    if isinstance(f, SubjectFilter):
        return <SubjectFilter>f
    return SubjectFilter(f)


cdef class StoredMsg:
    """One message loaded from the store (copies; safe to keep)."""
    cdef readonly bytes subject
    cdef readonly bytes hdr
    cdef readonly bytes data
    cdef readonly uint64_t seq
    cdef readonly int64_t ts

    def __repr__(self):
        return f"StoredMsg(seq={self.seq}, subject={self.subject!r}, ts={self.ts}, hdr={self.hdr!r}, data={self.data!r})"

    def __eq__(self, other):
        if not isinstance(other, StoredMsg):
            return NotImplemented
        o = <StoredMsg>other
        return (self.seq == o.seq and self.ts == o.ts and self.subject == o.subject
                and self.hdr == o.hdr and self.data == o.data)


cdef StoredMsg _mk(MsgView* v):
    cdef StoredMsg m = StoredMsg.__new__(StoredMsg)
    m.subject = PyBytes_FromStringAndSize(v.subj, v.subj_len)
    m.hdr = PyBytes_FromStringAndSize(v.hdr, v.hdr_len)
    m.data = PyBytes_FromStringAndSize(v.msg, v.msg_len)
    m.seq = v.seq
    m.ts = v.ts
    return m


cdef inline void _fill_view(const char* p, uint64_t seq, int64_t ts, MsgView* out) noexcept nogil:
    cdef uint32_t rl = _u32(p + 8)
    cdef uint16_t sl = (<const uint16_t*>(p + 14))[0]
    cdef uint32_t hl = _u32(p + 16)
    out.seq = seq
    out.ts = ts
    out.subj = p + REC_HDR
    out.subj_len = sl
    out.hdr = p + REC_HDR + sl
    out.hdr_len = hl
    out.msg = p + REC_HDR + sl + hl
    out.msg_len = rl - REC_HDR - sl - hl


cdef class MsgLog:
    """Index + block cache + limits. Subclassed by MemStore/FileStore (natsx/store)."""

    def __cinit__(self, *args, **kwargs):
        # Cython hands us every C field zeroed (pointers NULL): set the rest.
        self.block_size = 4 << 20
        self.cache_limit = <size_t>-1
        self.seq_base = 1
        self.first_seq = 1
        self.last_seq = 0
        self.compact_to = 1
        self.tombs = SeqSet()
        self.io = BlockIO()

    def __dealloc__(self):
        self._free_all()

    cdef void _free_all(self) noexcept:
        cdef size_t i
        if self.blocks != NULL:
            for i in range(self.nblk):
                free(self.blocks[i].data)
        free(self.blocks)
        free(self.slots)
        free(self.subj)
        free(self.htab)
        free(self.arena)
        free(self.free_sids)
        self.blocks = NULL
        self.slots = NULL
        self.subj = NULL
        self.htab = NULL
        self.arena = NULL
        self.free_sids = NULL
        self.free_n = self.free_cap = 0

    def _setup(self, size_t block_size, size_t cache_limit, bint persistent, bint mem_accounting,
               BlockIO io not None):
        """Configure before first use; io is where the blocks live (see blocks.pxd)."""
        self.block_size = block_size
        self.cache_limit = cache_limit
        self.persistent = persistent
        self.mem_accounting = mem_accounting
        self.io = io
        self._reset_subjects()

    # ------------------------------------------------------------------ subjects

    cdef void _reset_subjects(self) noexcept:
        free(self.htab)
        free(self.subj)
        free(self.arena)
        free(self.free_sids)
        self.hcap = 1024
        self.htab = <uint32_t*>calloc(self.hcap, sizeof(uint32_t))
        self.subj_cap = 1024
        self.subj = <SubjEntry*>calloc(self.subj_cap, sizeof(SubjEntry))
        self.subj_n = 0
        self.arena_cap = 1 << 16
        self.arena = <char*>malloc(self.arena_cap)
        self.arena_len = 0
        self.arena_garbage = 0
        self.free_sids = NULL
        self.free_n = 0
        self.free_cap = 0
        self.num_subjects = 0
        self.subj_gen += 1

    cdef uint32_t _sid_lookup(self, const char* s, size_t n, uint32_t h) noexcept:
        cdef size_t mask = self.hcap - 1
        cdef size_t i = h & mask
        cdef uint32_t v
        cdef SubjEntry* e
        while True:
            v = self.htab[i]
            if v == 0:
                return SID_NONE
            e = &self.subj[v - 1]
            if e.hash == h and e.name_len == n and memcmp(self.arena + e.name_off, s, n) == 0:
                return v - 1
            i = (i + 1) & mask

    cdef int _htab_insert(self, uint32_t sid) except -1:
        cdef size_t mask = self.hcap - 1
        cdef size_t i = self.subj[sid].hash & mask
        while self.htab[i] != 0:
            i = (i + 1) & mask
        self.htab[i] = sid + 1
        return 0

    cdef int _rehash(self, size_t ncap) except -1:
        cdef uint32_t* nt = <uint32_t*>calloc(ncap, sizeof(uint32_t))
        cdef size_t i
        if nt == NULL:
            raise MemoryError()
        free(self.htab)
        self.htab = nt
        self.hcap = ncap
        for i in range(self.subj_n):
            if self.subj[i].count > 0:
                self._htab_insert(<uint32_t>i)
        return 0

    cdef int _compact_arena(self) except -1:
        cdef char* na = <char*>malloc(self.arena_cap)
        cdef size_t i, pos = 0
        if na == NULL:
            raise MemoryError()
        for i in range(self.subj_n):
            if self.subj[i].count > 0:
                memcpy(na + pos, self.arena + self.subj[i].name_off, self.subj[i].name_len)
                self.subj[i].name_off = pos
                pos += self.subj[i].name_len
        free(self.arena)
        self.arena = na
        self.arena_len = pos
        self.arena_garbage = 0
        return 0

    cdef uint32_t _sid_add(self, const char* s, size_t n) except? 0xFFFFFFFF:
        cdef uint32_t sid
        cdef SubjEntry* e
        if (self.num_subjects + 1) * 4 > self.hcap * 3:
            self._rehash(self.hcap * 2)
        if self.arena_len + n > self.arena_cap:
            if self.arena_garbage > self.arena_len // 2:
                self._compact_arena()
            if self.arena_len + n > self.arena_cap:
                _grow(<void**>&self.arena, &self.arena_cap, self.arena_len + n, 1 << 16, 1)
        if self.free_n:
            self.free_n -= 1
            sid = self.free_sids[self.free_n]
        else:
            if self.subj_n == self.subj_cap:
                _grow(<void**>&self.subj, &self.subj_cap, self.subj_n + 1, 1024, sizeof(SubjEntry))
            sid = <uint32_t>self.subj_n
            self.subj_n += 1
        e = &self.subj[sid]
        memset(e, 0, sizeof(SubjEntry))
        memcpy(self.arena + self.arena_len, s, n)
        e.name_off = self.arena_len
        e.name_len = <uint16_t>n
        e.hash = <uint32_t>_xxh3(s, n)
        self.arena_len += n
        self._htab_insert(sid)
        self.num_subjects += 1
        return sid

    cdef int _sid_free(self, uint32_t sid) except -1:
        cdef size_t mask = self.hcap - 1
        cdef size_t i = self.subj[sid].hash & mask
        cdef size_t j, k
        while self.htab[i] != sid + 1:
            i = (i + 1) & mask
        # backward-shift deletion keeps linear probing tombstone-free
        j = i
        while True:
            j = (j + 1) & mask
            if self.htab[j] == 0:
                break
            k = self.subj[self.htab[j] - 1].hash & mask
            if (j > i and (k <= i or k > j)) or (j < i and (k <= i and k > j)):
                self.htab[i] = self.htab[j]
                i = j
        self.htab[i] = 0
        self.arena_garbage += self.subj[sid].name_len
        self.subj[sid].count = 0
        if self.free_n == self.free_cap:
            _grow(<void**>&self.free_sids, &self.free_cap, self.free_n + 1, 256, sizeof(uint32_t))
        self.free_sids[self.free_n] = sid
        self.free_n += 1
        self.num_subjects -= 1
        self.subj_gen += 1
        return 0

    cdef int _subj_dec(self, uint32_t sid, uint64_t seq) except -1:
        cdef SubjEntry* e = &self.subj[sid]
        e.count -= 1
        if e.count == 0:
            return self._sid_free(sid)
        if seq == e.first:
            e.stale_first = 1
        if seq == e.last:
            e.stale_last = 1
        return 0

    cdef uint64_t _subj_first(self, uint32_t sid) noexcept:
        cdef SubjEntry* e = &self.subj[sid]
        cdef uint64_t s
        if e.stale_first:
            s = e.first + 1
            if s < self.seq_base:
                s = self.seq_base
            while s <= self.last_seq and self.slots[self.sh + (s - self.seq_base)].sid != sid:
                s += 1
            e.first = s
            e.stale_first = 0
        return e.first

    cdef uint64_t _subj_last(self, uint32_t sid) noexcept:
        cdef SubjEntry* e = &self.subj[sid]
        cdef uint64_t s
        if e.stale_last:
            s = e.last - 1
            if s > self.last_seq:
                s = self.last_seq
            while s > self.seq_base and self.slots[self.sh + (s - self.seq_base)].sid != sid:
                s -= 1
            e.last = s
            e.stale_last = 0
        return e.last

    # ------------------------------------------------------------------ blocks

    cdef inline BlockInfo* _blk(self, uint32_t blk) noexcept:
        return &self.blocks[blk - self.blk_base]

    cdef int _new_block(self, size_t need) except -1:
        """Open a new active block (the block IO creates and preallocates its file first)."""
        cdef uint32_t blkno = self.blk_base + <uint32_t>self.nblk
        cdef size_t cap = need + BLK_HDR
        cdef BlockInfo* b
        if self.nblk and not (self.blocks[self.nblk - 1].flags & (BLK_SEALED | BLK_GONE)):
            prev = self.blk_base + <uint32_t>(self.nblk - 1)
        else:
            prev = None
        self.io.created(blkno, max(cap, self.block_size))
        if cap < self.block_size:
            cap = self.block_size   # untouched capacity costs no memory until written
        self._register_block(self.last_seq + 1)
        b = &self.blocks[self.nblk - 1]
        b.data = <char*>malloc(cap)
        if b.data == NULL:
            self.nblk -= 1   # not opened after all
            raise MemoryError()
        b.cap = cap
        memcpy(b.data, b"NXB1", 4)
        (<uint32_t*>(b.data + 4))[0] = 1
        (<uint64_t*>(b.data + 8))[0] = b.first_seq
        (<uint64_t*>(b.data + 16))[0] = _xxh3(b.data, 16)
        b.len = BLK_HDR
        if prev is not None:
            self._seal(prev)
        return 0

    cdef int _seal(self, uint32_t blkno) except -1:
        cdef BlockInfo* b = self._blk(blkno)
        b.flags |= BLK_SEALED
        b.last_use = self.tick
        self.cached_bytes += b.len
        self.io.sealed(blkno, b)
        self._maybe_free_block(blkno)
        self._evict(SID_NONE)
        return 0

    cdef char* _reserve(self, size_t n) except NULL:
        cdef BlockInfo* b
        if self.nblk == 0 or (self.blocks[self.nblk - 1].flags & (BLK_SEALED | BLK_GONE)):
            self._new_block(n)
        b = &self.blocks[self.nblk - 1]
        if b.len > BLK_HDR and b.len + n > self.block_size:
            self._new_block(n)
            b = &self.blocks[self.nblk - 1]
        if b.len + n > b.cap:
            _grow(<void**>&b.data, &b.cap, b.len + n, self.block_size, 1)
        return b.data + b.len

    cdef char* _blk_data(self, uint32_t blk) except NULL:
        cdef BlockInfo* b = self._blk(blk)
        cdef bytes raw
        self.tick += 1
        b.last_use = self.tick
        if b.data != NULL:
            return b.data
        if not self.io.reloadable:
            raise StoreError(f"block {blk} is not resident")
        raw = self.io.load(blk)   # None: unreadable (the block IO reported it)
        b = self._blk(blk)
        b.data = <char*>calloc(b.len if b.len else 1, 1)
        if b.data == NULL:
            raise MemoryError()
        if raw is not None:
            # a short file leaves zeros behind, which fail verification below
            memcpy(b.data, PyBytes_AS_STRING(raw), min(<size_t>len(raw), b.len))
        b.cap = b.len
        if b.flags & BLK_SEALED:
            self.cached_bytes += b.len
        self._verify_block(blk)
        if blk < self.blk_base or (self._blk(blk).flags & BLK_GONE):
            return _EMPTY   # every message in it was damaged; callers re-check their slot
        self._evict(blk)
        return self._blk(blk).data

    cdef int _verify_block(self, uint32_t blk) except -1:
        """Check every indexed record of a freshly loaded block; damaged ones leave the index
        (no tombstone: the damage is reported again on the next scan)."""
        cdef BlockInfo* b = self._blk(blk)
        cdef uint64_t s, end
        cdef Slot* sl
        cdef list bad = []
        cdef const char* p
        s = b.first_seq if b.first_seq > self.seq_base else self.seq_base
        end = self.last_seq
        if blk - self.blk_base + 1 < self.nblk:
            end = self.blocks[blk - self.blk_base + 1].first_seq - 1
        while s <= end and s >= self.seq_base and s - self.seq_base < self.ns:
            sl = &self.slots[self.sh + (s - self.seq_base)]
            if sl.sid != SID_NONE and sl.blk == blk:
                p = b.data + sl.off
                if (sl.off + REC_HDR > b.len or not _rec_ok(p, b.len - sl.off)
                        or _u64(p + 24) != s or (self.persistent and <uint8_t>p[12] != KIND_MSG)):
                    bad.append(s)
            s += 1
        if bad:
            b.flags |= BLK_KEEP
            self._remove_untracked(bad)
            self.io.damaged(blk, bad)
        return 0

    cdef int _evict(self, uint32_t keep) except -1:
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

    cdef int _maybe_free_block(self, uint32_t blkno) except -1:
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
                self._maybe_free_block(self.blk_base)
        return 0

    # ------------------------------------------------------------------ slots

    cdef int _push_slot(self, uint64_t seq, uint32_t blk, uint32_t off, uint32_t sid, uint32_t sz,
                        int64_t ts) except -1:
        cdef size_t need
        cdef Slot* s
        cdef SubjEntry* e
        if self.ns == 0:
            self.seq_base = seq
            self.sh = 0
            need = 1
        else:
            need = <size_t>(seq - self.seq_base) + 1
        if self.sh + need > self.slot_cap:
            if self.sh and need <= self.slot_cap // 2:
                memmove(self.slots, self.slots + self.sh, self.ns * sizeof(Slot))
                self.sh = 0
            else:
                _grow(<void**>&self.slots, &self.slot_cap, self.sh + need, 4096, sizeof(Slot))
        while self.ns < need - 1:   # a gap: sequences that were never stored (or lost)
            s = &self.slots[self.sh + self.ns]
            s.sid = SID_NONE
            s.blk = 0
            s.off = 0
            s.sz = 0
            s.ts = 0
            self.ns += 1
        s = &self.slots[self.sh + self.ns]
        self.ns += 1
        s.blk = blk
        s.off = off
        s.sid = sid
        s.sz = sz
        s.ts = ts
        self.last_seq = seq
        self.last_ts = ts
        if sid == SID_NONE:
            if self.msgs == 0:
                self._set_empty(seq + 1)
            return 0
        if self.msgs == 0:
            self.first_seq = seq
            if self.seq_base < seq:   # drop leading gap slots
                self.sh += <size_t>(seq - self.seq_base)
                self.ns -= <size_t>(seq - self.seq_base)
                self.seq_base = seq
        self.msgs += 1
        self.total_bytes += sz
        e = &self.subj[sid]
        e.count += 1
        if e.count == 1:
            e.first = seq
            e.stale_first = 0
        e.last = seq
        e.stale_last = 0
        self._blk(blk).live += 1
        return 0

    cdef void _set_empty(self, uint64_t next_seq) noexcept:
        """No message is stored: the index restarts at next_seq."""
        self.ns = 0
        self.sh = 0
        self.seq_base = next_seq
        self.first_seq = next_seq

    cdef int _remove(self, uint64_t seq) except -1:
        cdef Slot* s = self._slot(seq)
        cdef uint32_t sid, blk
        cdef uint64_t i
        if s == NULL or s.sid == SID_NONE:
            return 0
        sid = s.sid
        blk = s.blk
        s.sid = SID_NONE
        self.msgs -= 1
        self.total_bytes -= s.sz
        self._subj_dec(sid, seq)
        if self.persistent and not self.recovering:
            self.tombs.add(seq)
        if self.msgs == 0:
            self._set_empty(self.last_seq + 1)
        elif seq == self.first_seq:
            i = seq + 1
            while self.slots[self.sh + (i - self.seq_base)].sid == SID_NONE:
                i += 1
            self.sh += <size_t>(i - self.seq_base)
            self.ns -= <size_t>(i - self.seq_base)
            self.seq_base = i
            self.first_seq = i
        self._blk(blk).live -= 1
        self._maybe_free_block(blk)
        return 1

    cdef int _remove_untracked(self, object seqs) except -1:
        """Remove seqs from the index without tombstones: they are damaged or were never written,
        so the files must not record them as deleted."""
        cdef uint64_t q
        was = self.recovering
        self.recovering = True
        try:
            for q in seqs:
                self._remove(q)
        finally:
            self.recovering = was
        return 0

    cdef int _drop_front(self) except -1:
        return self._remove(self.first_seq)

    cdef inline Slot* _slot(self, uint64_t seq) noexcept:
        if seq < self.seq_base or seq - self.seq_base >= self.ns:
            return NULL
        return &self.slots[self.sh + (seq - self.seq_base)]

    cdef int _flush_tombs(self) except -1:
        """Record removals made since the last call as COMPACT/TOMB records (file store only)."""
        cdef size_t n, rl
        cdef char* p
        if not self.persistent or self.recovering:
            self.tombs.clear()
            return 0
        if self.first_seq > self.compact_to:
            self._write_compact()
        self.tombs.drop_below(self.first_seq)   # the COMPACT record covers those
        n = self.tombs.nruns
        if n == 0:
            return 0
        rl = REC_HDR + n * 16
        p = self._reserve(_pad8(rl))
        # the set's runs are (u64 first, u64 last) pairs: the TOMB body as it is
        _encode(p, KIND_TOMB, NULL, 0, NULL, 0, <char*>self.tombs.runs, n * 16, self.last_seq, 0, True)
        self._mark_tombs(_pad8(rl))
        self.tombs.clear()
        return 0

    cdef int _write_compact(self) except -1:
        """A COMPACT record: every sequence below first_seq is gone, even after the blocks that
        held their tombstones are removed."""
        cdef char* p = self._reserve(REC_HDR)
        _encode(p, KIND_COMPACT, NULL, 0, NULL, 0, NULL, 0, self.first_seq, self.last_ts, True)
        self._mark_tombs(REC_HDR)
        self.compact_to = self.first_seq
        return 0

    cdef void _mark_tombs(self, size_t n) noexcept:
        cdef BlockInfo* b = &self.blocks[self.nblk - 1]
        b.len += n
        b.flags |= BLK_TOMBS

    cdef inline uint32_t _msg_size(self, size_t sl, size_t hl, size_t ml) noexcept:
        if self.mem_accounting:
            return <uint32_t>(sl + hl + ml + 16)
        if hl == 0:
            return <uint32_t>(22 + sl + ml + 8)
        return <uint32_t>(22 + sl + 4 + hl + ml + 8)

    # Discard-old limits: the oldest messages make room (after an append or a config change).

    cdef int _trim_subject(self, uint32_t sid) except -1:
        if self.max_per_subject > 0:
            while self.subj[sid].count > <uint64_t>self.max_per_subject:
                self._remove(self._subj_first(sid))
        return 0

    cdef int _trim_front(self) except -1:
        if self.max_msgs > 0:
            while self.msgs > <uint64_t>self.max_msgs:
                self._drop_front()
        if self.max_bytes > 0:
            while self.total_bytes > <uint64_t>self.max_bytes:
                self._drop_front()
        return 0

    # ------------------------------------------------------------------ append

    cdef uint64_t append_c(self, const char* subj, size_t sl, const char* hdr, size_t hl,
                           const char* msg, size_t ml, int64_t ts) except 0:
        cdef uint32_t sz = self._msg_size(sl, hl, ml)
        cdef uint32_t h, sid
        cdef uint64_t psmc = 0, fseq = 0, seq
        cdef bint asl = False
        cdef size_t rl, pl
        cdef char* p
        cdef BlockInfo* b
        cdef Slot* fs
        if self.closed:
            raise StoreClosedError()
        if self.max_msg_size > 0 and <int64_t>(hl + ml) > self.max_msg_size:
            raise MsgTooLargeError()
        if sl == 0 or sl > 65535:
            raise StoreError("invalid subject")
        h = <uint32_t>_xxh3(subj, sl)
        sid = self._sid_lookup(subj, sl, h)
        if sid != SID_NONE:
            psmc = self.subj[sid].count
        if self.discard_new:
            if self.max_per_subject > 0 and psmc >= <uint64_t>self.max_per_subject:
                if self.discard_new_per_subject:
                    raise MaxMsgsPerSubjectError()
                fseq = self._subj_first(sid)
                asl = True
            if self.max_msgs > 0 and self.msgs >= <uint64_t>self.max_msgs and not asl:
                raise MaxMsgsError()
            if self.max_bytes > 0 and self.total_bytes + hl + ml >= <uint64_t>self.max_bytes:
                if not asl:
                    raise MaxBytesError()
                fs = self._slot(fseq)
                if fs.sz <= hl + ml:
                    raise MaxBytesError()
        if ts == 0:
            ts = _now_ns()
        rl = REC_HDR + sl + hl + ml
        pl = _pad8(rl)
        p = self._reserve(pl)
        seq = self.last_seq + 1
        _encode(p, KIND_MSG, subj, sl, hdr, hl, msg, ml, seq, ts, self.persistent)
        b = &self.blocks[self.nblk - 1]
        if sid == SID_NONE:
            sid = self._sid_add(subj, sl)
        self._push_slot(seq, self.blk_base + <uint32_t>(self.nblk - 1), <uint32_t>b.len, sid, sz, ts)
        b.len += pl
        self._trim_subject(sid)
        self._trim_front()
        return seq

    cdef int commit_c(self) except -1:
        self._flush_tombs()
        if self.nblk and self.io.commit(self.blk_base + <uint32_t>(self.nblk - 1),
                                        &self.blocks[self.nblk - 1]):
            self.committed_seq = self.last_seq
        return 0

    def commit(self):
        """commit_c() for Python callers (tests)."""
        self.commit_c()

    def _write_active(self):
        """End of a Python-level operation: the active block's new records go to the block IO."""
        if self.nblk:
            self.io.write(self.blk_base + <uint32_t>(self.nblk - 1), &self.blocks[self.nblk - 1])
        self.committed_seq = self.last_seq

    def append(self, subject, data, hdr=None, int64_t ts=0):
        """Store one message; returns (seq, ts)."""
        if self.closed:
            raise StoreClosedError()
        cdef const unsigned char[::1] s = subject
        cdef const unsigned char[::1] d = data if data is not None else b""
        cdef const unsigned char[::1] hh = hdr if hdr is not None else b""
        if ts == 0:
            ts = _now_ns()
        seq = self.append_c(<const char*>&s[0] if s.shape[0] else NULL, s.shape[0],
                            <const char*>&hh[0] if hh.shape[0] else NULL, hh.shape[0],
                            <const char*>&d[0] if d.shape[0] else NULL, d.shape[0], ts)
        self._flush_tombs()
        return seq, ts

    def append_batch(self, list msgs, int64_t ts=0):
        """Store (subject, data[, hdr]) tuples of bytes; returns (first_seq, count, ts).

        On a limit error the messages before the failing one stay stored; the exception carries
        .stored with their count.
        """
        cdef Py_ssize_t i = 0, n = PyList_GET_SIZE(msgs)
        cdef object t, subj, data, hdr
        cdef uint64_t first = self.last_seq + 1
        if self.closed:
            raise StoreClosedError()
        if ts == 0:
            ts = _now_ns()
        try:
            for i in range(n):
                t = <object>PyList_GET_ITEM(msgs, i)
                if type(t) is not tuple or PyTuple_GET_SIZE(t) < 2:
                    raise TypeError("append_batch wants (subject, data[, hdr]) tuples")
                subj = <object>PyTuple_GET_ITEM(t, 0)
                data = <object>PyTuple_GET_ITEM(t, 1)
                if PyTuple_GET_SIZE(t) > 2:
                    hdr = <object>PyTuple_GET_ITEM(t, 2)
                    if hdr is None:
                        hdr = b""
                else:
                    hdr = b""
                if type(subj) is not bytes or type(data) is not bytes or type(hdr) is not bytes:
                    raise TypeError("append_batch wants bytes")
                self.append_c(PyBytes_AS_STRING(subj), PyBytes_GET_SIZE(subj),
                              PyBytes_AS_STRING(hdr), PyBytes_GET_SIZE(hdr),
                              PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), ts)
        except StoreError as e:
            e.stored = i
            self._flush_tombs()
            raise
        self._flush_tombs()
        return first, n, ts

    # ------------------------------------------------------------------ reads

    cdef int view(self, uint64_t seq, MsgView* out) except -1:
        cdef Slot* s = self._slot(seq)
        cdef char* d
        if s == NULL or s.sid == SID_NONE:
            return 0
        d = self._blk_data(s.blk)
        s = self._slot(seq)
        if s == NULL or s.sid == SID_NONE:
            return 0
        _fill_view(d + s.off, seq, s.ts, out)
        return 1

    cdef int _filter_mode(self, SubjectFilter f, uint32_t* lit) except -1:
        cdef bytes p
        if f is None or f.match_all:
            return 0
        if f.literal:
            p = f.pattern
            lit[0] = self._sid_lookup(PyBytes_AS_STRING(p), PyBytes_GET_SIZE(p),
                                      <uint32_t>_xxh3(PyBytes_AS_STRING(p), PyBytes_GET_SIZE(p)))
            return 1
        return 2

    cdef int next_msg(self, uint64_t* seq, SubjectFilter flt, MsgView* out) except -1:
        cdef uint64_t s = seq[0], end = self.last_seq
        cdef uint32_t lit = SID_NONE
        cdef int mode = self._filter_mode(flt, &lit)
        cdef Slot* sl
        if s < self.first_seq:
            s = self.first_seq
        if mode == 1:
            if lit == SID_NONE:
                return 0
            if s < self._subj_first(lit):
                s = self._subj_first(lit)
            end = self._subj_last(lit)
        while s <= end and s - self.seq_base < self.ns:
            sl = &self.slots[self.sh + (s - self.seq_base)]
            if _wanted(self, sl.sid, mode, lit, flt):
                if self.view(s, out):
                    seq[0] = s
                    return 1
                if s < self.seq_base:
                    s = self.seq_base
                    continue
            s += 1
        return 0

    cdef int _prev_msg(self, uint64_t seq, SubjectFilter flt, MsgView* out) except -1:
        cdef uint64_t s = seq
        cdef uint32_t lit = SID_NONE
        cdef int mode = self._filter_mode(flt, &lit)
        cdef Slot* sl
        if self.msgs == 0 or s < self.first_seq:
            return 0
        if s > self.last_seq:
            s = self.last_seq
        if mode == 1:
            if lit == SID_NONE:
                return 0
            if s > self._subj_last(lit):
                s = self._subj_last(lit)
        while s >= self.first_seq:
            sl = &self.slots[self.sh + (s - self.seq_base)]
            if _wanted(self, sl.sid, mode, lit, flt):
                if self.view(s, out):
                    return 1
            s -= 1
        return 0

    def load(self, uint64_t seq):
        """The message at seq; MsgNotFoundError if removed, StoreEOFError past the end."""
        cdef MsgView v
        if self.view(seq, &v):
            return _mk(&v)
        if seq > self.last_seq:
            raise StoreEOFError()
        raise MsgNotFoundError()

    def load_next(self, filter=b">", uint64_t start=0):
        """First message at or after start matching filter; StoreEOFError if none."""
        cdef MsgView v
        cdef uint64_t s = start
        if self.next_msg(&s, _as_filter(filter), &v):
            return _mk(&v)
        raise StoreEOFError()

    def load_last(self, filter=b">"):
        """Newest message matching filter; MsgNotFoundError if none."""
        cdef MsgView v
        cdef uint32_t sid
        cdef const char* p
        cdef Py_ssize_t n
        if type(filter) is bytes:
            p = PyBytes_AS_STRING(filter)
            n = PyBytes_GET_SIZE(filter)
            if not is_match_all_c(p, n) and is_literal_c(p, n):
                # KV "get": one hash probe, no filter object
                sid = self._sid_lookup(p, n, <uint32_t>_xxh3(p, n))
                if sid != SID_NONE and self.view(self._subj_last(sid), &v):
                    return _mk(&v)
                raise MsgNotFoundError()
        if self._prev_msg(self.last_seq, _as_filter(filter), &v):
            return _mk(&v)
        raise MsgNotFoundError()

    def load_prev(self, filter=b">", uint64_t start=UINT64_MAX):
        """Newest message at or before start matching filter; StoreEOFError if none."""
        cdef MsgView v
        if self._prev_msg(start, _as_filter(filter), &v):
            return _mk(&v)
        raise StoreEOFError()

    def replay_count(self, uint64_t start=0, filter=None):
        """Walk messages through the C interface (bench/tests): returns (count, payload bytes)."""
        cdef MsgView v
        cdef uint64_t s = start, n = 0, nb = 0
        cdef SubjectFilter f = None if filter is None else _as_filter(filter)
        while self.next_msg(&s, f, &v):
            n += 1
            nb += v.msg_len
            s += 1
        return n, nb

    # ------------------------------------------------------------------ removal

    def remove(self, uint64_t seq):
        """Remove one message (leaves a gap); True if it existed."""
        r = self._remove(seq)
        self._flush_tombs()
        return bool(r)

    def _erase_record(self, uint64_t seq):
        """Overwrite seq's record in memory (kind ERASED, zero body, fresh checksum) and remove it.

        Returns (blk, off, padded_len) so the file store can rewrite those bytes on disk, or None.
        """
        cdef Slot* s = self._slot(seq)
        cdef char* p
        cdef uint32_t rl, blk, off
        if s == NULL or s.sid == SID_NONE:
            return None
        blk = s.blk
        off = s.off
        p = self._blk_data(blk) + off
        rl = _u32(p + 8)
        memset(p + REC_HDR, 0, _pad8(rl) - REC_HDR)
        p[12] = KIND_ERASED
        (<uint64_t*>p)[0] = _xxh3(p + 8, rl - 8) if self.persistent else 0
        self._remove(seq)
        self._flush_tombs()
        return blk, off, _pad8(rl)

    def purge(self):
        """Remove everything; last_seq stays. Returns the number removed."""
        cdef uint64_t n = self.msgs
        cdef uint32_t blkno
        cdef BlockInfo* b
        self.tombs.clear()
        self.msgs = 0
        self.total_bytes = 0
        self._set_empty(self.last_seq + 1)
        self._reset_subjects()
        # The new active block (with a COMPACT record) exists before old files go.
        old = self._blocks()
        self._new_block(0)
        if self.persistent:
            self._write_compact()
        for blkno in old:
            if blkno < self.blk_base:
                continue
            b = self._blk(blkno)
            if not (b.flags & BLK_GONE):
                b.live = 0
                b.flags = (b.flags | BLK_SEALED) & ~BLK_TOMBS
                self._maybe_free_block(blkno)
        return n

    def compact(self, uint64_t seq):
        """Remove every message below seq (seq may pass last_seq+1). Returns the number removed."""
        cdef uint64_t before = self.msgs
        if seq <= self.first_seq and seq <= self.last_seq + 1:
            return 0
        if seq > self.last_seq + 1 or (seq == self.last_seq + 1):
            if seq > self.last_seq + 1:
                self.last_seq = seq - 1
            return self.purge()
        while self.msgs and self.first_seq < seq:
            self._drop_front()
        self._flush_tombs()
        return before - self.msgs

    def purge_ex(self, filter=b">", uint64_t seq=0, uint64_t keep=0):
        """nats-server PurgeEx: remove messages matching filter below seq (0 = no bound), keeping
        the newest keep matching. Returns the number removed."""
        cdef SubjectFilter f = _as_filter(filter)
        cdef uint32_t lit = SID_NONE
        cdef int mode = self._filter_mode(f, &lit)
        cdef uint64_t total, todo, s, removed = 0, end
        cdef Slot* sl
        if mode == 0 and keep == 0:
            if seq == 0:
                return self.purge()
            return self.compact(seq)
        if mode == 1 and lit == SID_NONE:
            return 0
        total = self.num_pending(f, 0, False)
        if keep:
            if keep >= total:
                return 0
            todo = total - keep
        else:
            todo = total
        s = self.first_seq
        end = self.last_seq
        if mode == 1:
            s = self._subj_first(lit)
        while removed < todo and s <= end and s - self.seq_base < self.ns and self.msgs:
            if seq and s >= seq:
                break
            sl = &self.slots[self.sh + (s - self.seq_base)]
            if _wanted(self, sl.sid, mode, lit, f):
                self._remove(s)
                removed += 1
            s += 1
            if s < self.seq_base:
                s = self.seq_base
        self._flush_tombs()
        return removed

    def expire(self, int64_t now=0):
        """Remove messages older than max_age; returns how many went."""
        cdef uint64_t n = 0
        cdef int64_t cutoff
        if self.max_age_ns <= 0 or self.msgs == 0:
            return 0
        if now == 0:
            now = _now_ns()
        cutoff = now - self.max_age_ns
        while self.msgs and self.slots[self.sh].ts <= cutoff:
            self._drop_front()
            n += 1
        self._flush_tombs()
        return n

    def enforce_limits(self):
        """Apply the current limits at once (after a config update). Returns how many went."""
        cdef uint64_t before = self.msgs
        cdef size_t sid
        if self.max_per_subject > 0:
            for sid in range(self.subj_n):
                self._trim_subject(<uint32_t>sid)
        self._trim_front()
        self._flush_tombs()
        return before - self.msgs + self.expire()

    # ------------------------------------------------------------------ state

    @property
    def first_ts(self):
        return self.slots[self.sh].ts if self.msgs else 0

    def next_expiry(self):
        """ns timestamp when the oldest message expires, or 0."""
        if self.max_age_ns <= 0 or self.msgs == 0:
            return 0
        return self.slots[self.sh].ts + self.max_age_ns

    def deleted(self):
        """Interior gaps between first_seq and last_seq (ascending)."""
        cdef list out = []
        cdef uint64_t s
        if self.msgs == 0:
            return out
        for s in range(self.first_seq, self.last_seq + 1):
            if self.slots[self.sh + (s - self.seq_base)].sid == SID_NONE:
                out.append(s)
        return out

    def num_pending(self, filter=b">", uint64_t start=0, bint last_per_subject=False):
        """Messages matching filter with seq >= start (only the last per subject if asked)."""
        cdef SubjectFilter f = _as_filter(filter)
        cdef uint32_t lit = SID_NONE
        cdef int mode = self._filter_mode(f, &lit)
        cdef uint64_t n = 0, s, end = self.last_seq
        cdef size_t sid
        cdef Slot* sl
        if self.msgs == 0:
            return 0
        if start < self.first_seq:
            start = self.first_seq
        if last_per_subject:
            if mode == 1:
                return 1 if lit != SID_NONE and self._subj_last(lit) >= start else 0
            for sid in range(self.subj_n):
                if self.subj[sid].count and (mode == 0 or f.matches(self, <uint32_t>sid)):
                    if self._subj_last(<uint32_t>sid) >= start:
                        n += 1
            return n
        if mode == 0 and start == self.first_seq:
            return self.msgs
        if mode == 1:
            if lit == SID_NONE:
                return 0
            if start <= self._subj_first(lit):
                return self.subj[lit].count
            end = self._subj_last(lit)
        elif mode == 2 and start == self.first_seq and self.num_subjects < self.msgs:
            for sid in range(self.subj_n):
                if self.subj[sid].count and f.matches(self, <uint32_t>sid):
                    n += self.subj[sid].count
            return n
        s = start
        while s <= end:
            sl = &self.slots[self.sh + (s - self.seq_base)]
            if _wanted(self, sl.sid, mode, lit, f):
                n += 1
            s += 1
        return n

    def subjects_state(self, filter=b">"):
        """{subject: (msgs, first_seq, last_seq)} for subjects matching filter."""
        cdef SubjectFilter f = _as_filter(filter)
        cdef dict out = {}
        cdef size_t sid
        cdef SubjEntry* e
        for sid in range(self.subj_n):
            e = &self.subj[sid]
            if e.count and f.matches(self, <uint32_t>sid):
                out[PyBytes_FromStringAndSize(self.arena + e.name_off, e.name_len)] = (
                    e.count, self._subj_first(<uint32_t>sid), self._subj_last(<uint32_t>sid))
        return out

    def subject_index_bytes(self):
        """Heap bytes the per-subject index uses (entries + hash table + names)."""
        return (self.subj_cap * sizeof(SubjEntry) + self.hcap * sizeof(uint32_t) + self.arena_cap
                + self.free_cap * sizeof(uint32_t))

    def index_bytes(self):
        return self.slot_cap * sizeof(Slot)

    # ------------------------------------------------------------------ the stores' helpers

    def _blk_info(self, uint32_t blk):
        """(len, written, first_seq, live, flags, cached) of a block, or None if unknown/gone."""
        cdef BlockInfo* b
        if blk < self.blk_base or blk - self.blk_base >= self.nblk:
            return None
        b = self._blk(blk)
        if b.flags & BLK_GONE:
            return None
        return b.len, b.written, b.first_seq, b.live, b.flags, b.data != NULL

    def _blocks(self):
        """Block numbers present, oldest first."""
        return [self.blk_base + i for i in range(self.nblk) if not (self.blocks[i].flags & BLK_GONE)]

    def _active_blk(self):
        return self.blk_base + self.nblk - 1 if self.nblk else None

    def _blk_write(self, uint32_t blk, int fd):
        """write(2) the block's unwritten tail to fd; returns bytes written."""
        cdef BlockInfo* b = self._blk(blk)
        cdef ssize_t r
        cdef size_t total = 0
        while b.written < b.len:
            r = write(fd, b.data + b.written, b.len - b.written)
            if r < 0:
                if errno == EINTR:
                    continue
                raise OSError(errno, "write failed")
            b.written += r
            total += r
        return total

    def _blk_bytes(self, uint32_t blk, size_t off=0, size_t n=<size_t>-1):
        """A copy of block bytes [off, off+n) (loads the block)."""
        cdef char* d = self._blk_data(blk)
        cdef BlockInfo* b = self._blk(blk)
        if off > b.len:
            off = b.len
        if n > b.len - off:
            n = b.len - off
        return PyBytes_FromStringAndSize(d + off, n)

    def _blk_set_written(self, uint32_t blk):
        cdef BlockInfo* b = self._blk(blk)
        b.written = b.len

    # ------------------------------------------------------------------ recovery

    def _recover_begin(self):
        self.recovering = True

    def _recover_block(self, uint32_t blkno, bytes data, bint sealed):
        """Replay one block's records into the index.

        Returns (valid_end, bad_ranges, gaps): the end of the last valid record, the byte ranges
        that failed verification, and (first, last) sequence ranges skipped right after damage.
        """
        cdef const char* d = PyBytes_AS_STRING(data)
        cdef size_t n = PyBytes_GET_SIZE(data)
        cdef size_t off, start, valid_end = 0, rl, nb, i
        cdef uint8_t kind
        cdef uint64_t seq, hdr_first = 0, a, b
        cdef uint16_t sl
        cdef uint32_t hl, sid, h
        cdef BlockInfo* blk
        cdef bint damaged = False
        cdef const uint64_t* r
        cdef list bad = [], gaps = []
        if self.nblk == 0:
            self.blk_base = blkno
        while self.blk_base + self.nblk < blkno:   # missing numbers: removed blocks
            self._register_block(0)
            self.blocks[self.nblk - 1].flags = BLK_GONE
        if n >= BLK_HDR and memcmp(d, b"NXB1", 4) == 0 and _xxh3(d, 16) == _u64(d + 16):
            hdr_first = _u64(d + 8)
            valid_end = BLK_HDR
        else:
            bad.append((0, BLK_HDR))
            damaged = True
        self._register_block(hdr_first)
        blk = &self.blocks[self.nblk - 1]
        blk.data = <char*>malloc(n if n else 1)
        if blk.data == NULL:
            raise MemoryError()
        memcpy(blk.data, d, n)
        blk.cap = n if n else 1
        if hdr_first > self.last_seq + 1:
            self._skip_to(hdr_first - 1)
        off = BLK_HDR
        while off + REC_HDR <= n:
            if not _rec_ok(d + off, n - off):
                if _all_zero(d + off, n - off):
                    break   # preallocated, never written
                start = off
                off += 8
                while off + REC_HDR <= n and not _rec_ok(d + off, n - off):
                    off += 8
                if off + REC_HDR > n:
                    off = n
                bad.append((start, off))
                damaged = True
                continue
            rl = _u32(d + off + 8)
            kind = <uint8_t>d[off + 12]
            seq = _u64(d + off + 24)
            if kind == KIND_MSG or kind == KIND_ERASED:
                if seq <= self.last_seq:
                    pass    # duplicate or out of order: never served twice
                elif kind == KIND_ERASED:
                    self._skip_to(seq)
                    self.last_ts = (<const int64_t*>(d + off + 32))[0]
                else:
                    if damaged and seq > self.last_seq + 1:
                        gaps.append((self.last_seq + 1, seq - 1))
                    damaged = False
                    sl = (<const uint16_t*>(d + off + 14))[0]
                    hl = _u32(d + off + 16)
                    h = <uint32_t>_xxh3(d + off + REC_HDR, sl)
                    sid = self._sid_lookup(d + off + REC_HDR, sl, h)
                    if sid == SID_NONE:
                        sid = self._sid_add(d + off + REC_HDR, sl)
                    self._push_slot(seq, blkno, <uint32_t>off, sid,
                                    self._msg_size(sl, hl, rl - REC_HDR - sl - hl),
                                    (<const int64_t*>(d + off + 32))[0])
            elif kind == KIND_TOMB:
                self._blk(blkno).flags |= BLK_TOMBS
                nb = (rl - REC_HDR - (<const uint16_t*>(d + off + 14))[0] - _u32(d + off + 16)) // 16
                r = <const uint64_t*>(d + off + REC_HDR)
                for i in range(nb):
                    a = r[2 * i]
                    b = r[2 * i + 1]
                    if a < self.first_seq:
                        a = self.first_seq
                    if b > self.last_seq:
                        b = self.last_seq
                    while a <= b and self.msgs:
                        self._remove(a)
                        a += 1
            elif kind == KIND_COMPACT:
                self._blk(blkno).flags |= BLK_TOMBS
                while self.msgs and self.first_seq < seq:
                    self._drop_front()
                if seq > self.last_seq + 1:
                    self._skip_to(seq - 1)
                if (<const int64_t*>(d + off + 32))[0] > self.last_ts:
                    self.last_ts = (<const int64_t*>(d + off + 32))[0]
                if seq > self.compact_to:
                    self.compact_to = seq
            off += _pad8(rl)
            valid_end = off
        if off < n and not _all_zero(d + off, n - off) and not (bad and bad[len(bad) - 1][1] == n):
            bad.append((off, n))
        blk = self._blk(blkno)
        if bad and (sealed or bad[len(bad) - 1][1] != n or len(bad) > 1):
            blk.flags |= BLK_KEEP
        blk.len = n if sealed else valid_end
        if blk.len < BLK_HDR:
            blk.len = BLK_HDR if n >= BLK_HDR else n
        blk.written = blk.len
        if sealed:
            blk.flags |= BLK_SEALED
            self.cached_bytes += blk.len
            self._evict(blkno)
        return valid_end, bad, gaps

    cdef int _register_block(self, uint64_t first_seq) except -1:
        """Append a zeroed entry to the block table (the caller fills it in)."""
        cdef BlockInfo* b
        if self.nblk == self.blk_cap:
            _grow(<void**>&self.blocks, &self.blk_cap, self.nblk + 1, 64, sizeof(BlockInfo))
        b = &self.blocks[self.nblk]
        memset(b, 0, sizeof(BlockInfo))
        b.first_seq = first_seq
        self.nblk += 1
        return 0

    cdef int _skip_to(self, uint64_t last) except -1:
        """Advance last_seq over sequences with no message (purged/compacted/erased/lost)."""
        if last <= self.last_seq:
            return 0
        if self.msgs == 0:
            self.last_seq = last
            self._set_empty(last + 1)
            return 0
        self._push_slot(last, 0, 0, SID_NONE, 0, self.last_ts)
        return 0

    def _recover_end(self):
        """Finish recovery: free empty blocks, leave the last block writable if it is raw."""
        cdef size_t i
        self.recovering = False
        self.tombs.clear()
        if self.compact_to < self.first_seq:
            self.compact_to = self.first_seq
        for i in range(self.nblk - 1, -1, -1):
            if i < self.nblk and not (self.blocks[i].flags & BLK_GONE):
                self._maybe_free_block(self.blk_base + <uint32_t>i)
        self._evict(SID_NONE)

    def _reset(self):
        """Forget everything (before a rescan)."""
        self._free_all()
        self.nblk = self.blk_cap = self.ns = self.sh = self.slot_cap = 0
        self.blk_base = 0
        self.cached_bytes = 0
        self.seq_base = self.first_seq = 1
        self.last_seq = 0
        self.last_ts = 0
        self.msgs = self.total_bytes = 0
        self.compact_to = 1
        self._reset_subjects()

    def _slot_info(self, uint64_t seq):
        """(blk, off, sz, ts) of a stored message, or None."""
        cdef Slot* s = self._slot(seq)
        if s == NULL or s.sid == SID_NONE:
            return None
        return s.blk, s.off, s.sz, s.ts

    def _rollback_unwritten(self, uint32_t blk):
        """Forget the messages of block blk that write(2) did not take (disk full): they were
        never stored. Returns the offset the file must be cut back to."""
        cdef BlockInfo* b = self._blk(blk)
        cdef uint64_t s = self.last_seq, new_last = self.last_seq, q
        cdef size_t cut = b.len
        cdef Slot* sl
        while s >= self.seq_base and s - self.seq_base < self.ns:
            sl = &self.slots[self.sh + (s - self.seq_base)]
            if sl.blk != blk or sl.off < BLK_HDR or sl.off + _pad8(_u32(b.data + sl.off + 8)) <= b.written:
                break
            cut = sl.off
            new_last = s - 1
            s -= 1
        if b.written < cut:
            cut = b.written
            # the cut may fall inside a record that did not make it: back up to its start
            q = new_last
            while q >= self.seq_base and q - self.seq_base < self.ns:
                sl = &self.slots[self.sh + (q - self.seq_base)]
                if sl.blk != blk or sl.off < BLK_HDR:
                    break
                if sl.off + _pad8(_u32(b.data + sl.off + 8)) <= cut:
                    cut = sl.off + _pad8(_u32(b.data + sl.off + 8))
                    break
                q -= 1
        self._remove_untracked(range(new_last + 1, self.last_seq + 1))
        if self.msgs == 0:
            self._set_empty(new_last + 1)
        elif new_last < self.last_seq:
            self.ns = <size_t>(new_last - self.seq_base + 1)
            self.last_ts = self.slots[self.sh + self.ns - 1].ts
        self.last_seq = new_last
        b = self._blk(blk)
        b.len = cut
        b.written = cut
        self.tombs.clear()
        return cut

    def _skip_seqs(self, uint64_t last):
        """Advance last_seq to `last` leaving a gap (restore); the next append gets last + 1."""
        self._skip_to(last)

    def snapshot_records(self, size_t chunk=1 << 20):
        """The stored messages encoded for a snapshot, in chunks of about `chunk` bytes.

        Record: u64 seq, i64 ts, u16 subject len, u32 header len, u32 data len, then the bytes.
        Built eagerly, so the result is consistent even if the store changes afterwards.
        """
        cdef list out = []
        cdef bytearray buf = bytearray()
        cdef MsgView v
        cdef uint64_t s = 0
        import struct
        pack = struct.Struct("<QqHII").pack
        while self.next_msg(&s, None, &v):
            buf += pack(v.seq, v.ts, v.subj_len, v.hdr_len, v.msg_len)
            buf += PyBytes_FromStringAndSize(v.subj, v.subj_len)
            if v.hdr_len:
                buf += PyBytes_FromStringAndSize(v.hdr, v.hdr_len)
            buf += PyBytes_FromStringAndSize(v.msg, v.msg_len)
            if <size_t>len(buf) >= chunk:
                out.append(bytes(buf))
                buf = bytearray()
            s += 1
        if buf:
            out.append(bytes(buf))
        return out

    def _detach(self):
        """Drop the block IO (breaks the store <-> io reference cycle on close)."""
        self.io = BlockIO()

    def _evict_now(self):
        self._evict(SID_NONE)

    def _unseal_last(self):
        """Make the newest block the active (appendable) one again."""
        cdef BlockInfo* b
        if self.nblk == 0:
            return False
        b = &self.blocks[self.nblk - 1]
        if b.flags & BLK_GONE:
            return False
        if b.flags & BLK_SEALED:
            b.flags &= ~BLK_SEALED
            if b.data != NULL:
                self.cached_bytes -= b.len
        return True

    def _seal_last(self):
        cdef BlockInfo* b
        if self.nblk and not (self.blocks[self.nblk - 1].flags & (BLK_SEALED | BLK_GONE)):
            b = &self.blocks[self.nblk - 1]
            b.flags |= BLK_SEALED
            if b.data != NULL:
                self.cached_bytes += b.len

    # ------------------------------------------------------------------ index checkpoint

    def _dump_index(self):
        """Serialize the whole index (see docs/storage.rst, "index.nxi")."""
        cdef size_t head = 128
        cdef size_t sz_slots = self.ns * sizeof(Slot)
        cdef size_t sz_blocks = self.nblk * 40
        cdef size_t sz_subj = self.subj_n * sizeof(SubjEntry)
        cdef size_t sz_free = self.free_n * 4
        cdef size_t total = head + sz_slots + sz_blocks + sz_subj + self.arena_len + sz_free + 8
        cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
        cdef char* p = PyBytes_AS_STRING(out)
        cdef uint64_t* h = <uint64_t*>p
        cdef size_t i, o
        cdef BlockInfo* b
        memset(p, 0, head)
        memcpy(p, b"NXI1", 4)
        (<uint32_t*>(p + 4))[0] = 1
        h[1] = self.ns
        h[2] = self.nblk
        h[3] = self.subj_n
        h[4] = self.arena_len
        h[5] = self.free_n
        h[6] = self.seq_base
        h[7] = self.first_seq
        h[8] = self.last_seq
        h[9] = <uint64_t>self.last_ts
        h[10] = self.msgs
        h[11] = self.total_bytes
        h[12] = self.blk_base
        h[13] = self.compact_to
        h[14] = self.num_subjects
        h[15] = sizeof(Slot) | (sizeof(SubjEntry) << 16)
        o = head
        if sz_slots:
            memcpy(p + o, self.slots + self.sh, sz_slots)
        o += sz_slots
        for i in range(self.nblk):
            b = &self.blocks[i]
            (<uint64_t*>(p + o))[0] = b.len
            (<uint64_t*>(p + o + 8))[0] = b.first_seq
            (<uint64_t*>(p + o + 16))[0] = b.live
            (<uint64_t*>(p + o + 24))[0] = b.flags
            (<uint64_t*>(p + o + 32))[0] = 0
            o += 40
        memcpy(p + o, self.subj, sz_subj)
        o += sz_subj
        memcpy(p + o, self.arena, self.arena_len)
        o += self.arena_len
        if sz_free:
            memcpy(p + o, self.free_sids, sz_free)
        o += sz_free
        (<uint64_t*>(p + o))[0] = _xxh3(p, o)
        return out

    def _load_index(self, bytes data):
        """Load a checkpoint written by _dump_index; raises ValueError if it does not verify.

        Block data stays on disk (loaded lazily); returns the block table as
        [(blkno, len, flags)].
        """
        cdef const char* p = PyBytes_AS_STRING(data)
        cdef size_t n = PyBytes_GET_SIZE(data)
        cdef const uint64_t* h = <const uint64_t*>p
        cdef size_t ns, nblk, subj_n, arena_len, free_n, o, need, i, cap
        cdef BlockInfo* b
        if n < 136 or memcmp(p, b"NXI1", 4) != 0 or _u32(p + 4) != 1:
            raise ValueError("not an index checkpoint")
        if h[15] != (sizeof(Slot) | (sizeof(SubjEntry) << 16)):
            raise ValueError("index layout differs")
        ns, nblk, subj_n, arena_len, free_n = h[1], h[2], h[3], h[4], h[5]
        need = 128 + ns * sizeof(Slot) + nblk * 40 + subj_n * sizeof(SubjEntry) + arena_len + free_n * 4 + 8
        if need != n or _xxh3(p, n - 8) != _u64(p + n - 8):
            raise ValueError("index checksum mismatch")
        self._free_all()
        self.nblk = self.blk_cap = self.ns = self.sh = self.slot_cap = 0
        self.cached_bytes = 0
        o = 128
        self.slots = <Slot*>_alloc_copy(p + o, ns, 4096, sizeof(Slot), &self.slot_cap)
        self.ns = ns
        o += ns * sizeof(Slot)
        self.seq_base, self.first_seq, self.last_seq = h[6], h[7], h[8]
        self.last_ts = <int64_t>h[9]
        self.msgs, self.total_bytes = h[10], h[11]
        self.blk_base = <uint32_t>h[12]
        self.compact_to = h[13]
        table = []
        for i in range(nblk):
            self._register_block(_u64(p + o + 8))
            b = &self.blocks[self.nblk - 1]
            b.len = _u64(p + o)
            b.written = b.len
            b.live = _u64(p + o + 16)
            b.flags = <uint32_t>_u64(p + o + 24)
            table.append((self.blk_base + i, b.len, b.flags))
            o += 40
        self.subj = <SubjEntry*>_alloc_copy(p + o, subj_n, 1024, sizeof(SubjEntry), &self.subj_cap)
        self.subj_n = subj_n
        o += subj_n * sizeof(SubjEntry)
        self.arena = <char*>_alloc_copy(p + o, arena_len, 1 << 16, 1, &self.arena_cap)
        self.arena_len = arena_len
        self.arena_garbage = 0
        o += arena_len
        self.free_cap = free_n if free_n else 0
        self.free_n = free_n
        self.free_sids = <uint32_t*>malloc(free_n * 4) if free_n else NULL
        if free_n:
            memcpy(self.free_sids, p + o, free_n * 4)
        self.num_subjects = h[14]
        cap = 1024
        while cap * 3 < (self.num_subjects + 1) * 4:
            cap *= 2
        self.htab = NULL
        self._rehash(cap)
        self.subj_gen += 1
        return table
