"""Per-subject state of a stream (see subjidx.pxd) and the filters that select subjects."""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

from natsx._core.buf cimport grow
from natsx._core.record cimport xxh3_fn, xxh3_fn_t
from natsx._core.subject cimport is_literal_c, is_match_all_c, subject_matches_c

cdef xxh3_fn_t _xxh3 = xxh3_fn()


cdef class SubjectIndex:
    """Subject name -> id (open addressing over a name arena) and each id's count, first, last."""

    def __cinit__(self):
        self.reset()

    def __dealloc__(self):
        free(self.htab)
        free(self.subj)
        free(self.arena)
        free(self.free_sids)

    cdef void reset(self) noexcept:
        """Forget every subject (ids restart; filters' caches are invalidated)."""
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

    cdef uint32_t add(self, const char* s, size_t n) except? 0xFFFFFFFF:
        cdef uint32_t sid
        cdef SubjEntry* e
        if (self.num_subjects + 1) * 4 > self.hcap * 3:
            self._rehash(self.hcap * 2)
        if self.arena_len + n > self.arena_cap:
            if self.arena_garbage > self.arena_len // 2:
                self._compact_arena()
            if self.arena_len + n > self.arena_cap:
                grow(<void**>&self.arena, &self.arena_cap, self.arena_len + n, 1 << 16, 1)
        if self.free_n:
            self.free_n -= 1
            sid = self.free_sids[self.free_n]
        else:
            if self.subj_n == self.subj_cap:
                grow(<void**>&self.subj, &self.subj_cap, self.subj_n + 1, 1024, sizeof(SubjEntry))
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

    cdef int release(self, uint32_t sid) except -1:
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
            grow(<void**>&self.free_sids, &self.free_cap, self.free_n + 1, 256, sizeof(uint32_t))
        self.free_sids[self.free_n] = sid
        self.free_n += 1
        self.num_subjects -= 1
        self.subj_gen += 1
        return 0

    cdef int dec(self, uint32_t sid, uint64_t seq) except -1:
        cdef SubjEntry* e = &self.subj[sid]
        e.count -= 1
        if e.count == 0:
            return self.release(sid)
        if seq == e.first:
            e.stale_first = 1
        if seq == e.last:
            e.stale_last = 1
        return 0


    cdef uint32_t hash(self, const char* s, size_t n) noexcept:
        return <uint32_t>_xxh3(s, n)

    def bytes_used(self):
        """Heap bytes: entries + hash table + names + free ids."""
        return (self.subj_cap * sizeof(SubjEntry) + self.hcap * sizeof(uint32_t) + self.arena_cap
                + self.free_cap * sizeof(uint32_t))


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

    cdef bint matches(self, SubjectIndex sx, uint32_t sid) except -1:
        cdef uint8_t* nc
        cdef SubjEntry* e
        cdef uint8_t r
        if self.match_all:
            return True
        if self.cache_gen != sx.subj_gen or self.cache_len < sx.subj_n:
            nc = <uint8_t*>realloc(self.cache, sx.subj_cap + 1)
            if nc == NULL:
                raise MemoryError()
            self.cache = nc
            if self.cache_gen != sx.subj_gen:
                memset(nc, 0, sx.subj_cap + 1)
            else:
                memset(nc + self.cache_len, 0, sx.subj_cap + 1 - self.cache_len)
            self.cache_len = sx.subj_cap + 1
            self.cache_gen = sx.subj_gen
        r = self.cache[sid]
        if r == 0:
            e = &sx.subj[sid]
            r = 1 if subject_matches_c(sx.arena + e.name_off, e.name_len,
                                       PyBytes_AS_STRING(self.pattern),
                                       PyBytes_GET_SIZE(self.pattern)) else 2
            self.cache[sid] = r
        return r == 1


