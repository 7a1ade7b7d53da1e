# The duplicate window; see dedupe.pxd.
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

from natsx._core.record cimport xxh3_fn, xxh3_fn_t

cdef xxh3_fn_t _xxh3 = xxh3_fn()


cdef class DedupeTable:
    def __cinit__(self):
        self.ring_cap = 64
        self.ring = <DedupeEntry*>malloc(self.ring_cap * sizeof(DedupeEntry))
        self.index_cap = 128
        self.index = <int64_t*>malloc(self.index_cap * sizeof(int64_t))
        if self.ring == NULL or self.index == NULL:
            raise MemoryError()
        memset(self.index, 0xFF, self.index_cap * sizeof(int64_t))

    def __init__(self, int64_t window_ns=0):
        self.window_ns = window_ns

    def __dealloc__(self):
        self.clear_all()
        free(self.ring)
        free(self.index)

    cdef void clear_all(self) noexcept:
        cdef uint64_t n
        for n in range(self.head, self.tail):
            free(self.ring[n & (self.ring_cap - 1)].id)
        self.head = self.tail = 0
        if self.index != NULL:
            memset(self.index, 0xFF, self.index_cap * sizeof(int64_t))

    cdef uint64_t lookup(self, const char* id, size_t n, int64_t now) noexcept:
        cdef uint64_t h, i
        cdef int64_t e
        cdef DedupeEntry* d
        if self.head == self.tail or self.window_ns <= 0:
            return 0
        self.expire(now)
        h = _xxh3(id, n)
        i = h & (self.index_cap - 1)
        while True:
            e = self.index[i]
            if e < 0:
                return 0
            d = &self.ring[<uint64_t>e & (self.ring_cap - 1)]
            if d.hash == h and d.id_len == n and memcmp(d.id, id, n) == 0:
                return d.seq
            i = (i + 1) & (self.index_cap - 1)

    cdef int insert(self, const char* id, size_t n, uint64_t seq, int64_t ts) except -1:
        cdef uint64_t h, i, num
        cdef int64_t e
        cdef DedupeEntry* d
        cdef char* copy
        if self.window_ns <= 0:
            return 0
        if self.tail - self.head == self.ring_cap:
            self._grow_ring()
        if (self.tail - self.head + 1) * 2 > self.index_cap:
            self._grow_index()
        copy = <char*>malloc(n if n else 1)
        if copy == NULL:
            raise MemoryError()
        memcpy(copy, id, n)
        h = _xxh3(id, n)
        num = self.tail
        self.tail += 1
        d = &self.ring[num & (self.ring_cap - 1)]
        d.hash, d.seq, d.ts, d.id, d.id_len = h, seq, ts, copy, n
        i = h & (self.index_cap - 1)
        while True:
            e = self.index[i]
            if e < 0:
                self.index[i] = <int64_t>num
                return 0
            d = &self.ring[<uint64_t>e & (self.ring_cap - 1)]
            if d.hash == h and d.id_len == n and memcmp(d.id, id, n) == 0:
                self.index[i] = <int64_t>num   # the newer entry answers for the id
                return 0
            i = (i + 1) & (self.index_cap - 1)

    cdef void expire(self, int64_t now) noexcept:
        cdef DedupeEntry* d
        while self.head != self.tail:
            d = &self.ring[self.head & (self.ring_cap - 1)]
            if now - d.ts < self.window_ns:
                return
            self._index_remove(self.head)
            free(d.id)
            d.id = NULL
            self.head += 1

    cdef void drop_after(self, uint64_t seq) noexcept:
        cdef DedupeEntry* d
        while self.head != self.tail:
            d = &self.ring[(self.tail - 1) & (self.ring_cap - 1)]
            if d.seq <= seq:
                return
            self._index_remove(self.tail - 1)
            free(d.id)
            d.id = NULL
            self.tail -= 1

    cdef void _index_remove(self, uint64_t entry) noexcept:
        """Take entry out of the index if it is the one indexed for its id (backward shift)."""
        cdef DedupeEntry* d = &self.ring[entry & (self.ring_cap - 1)]
        cdef size_t mask = self.index_cap - 1
        cdef size_t i = d.hash & mask, j, k
        cdef int64_t e
        while True:
            e = self.index[i]
            if e < 0:
                return          # a newer entry for the same id replaced it
            if <uint64_t>e == entry:
                break
            i = (i + 1) & mask
        j = i
        while True:
            j = (j + 1) & mask
            e = self.index[j]
            if e < 0:
                break
            k = self.ring[<uint64_t>e & (self.ring_cap - 1)].hash & mask
            # move e back into the hole at i unless its home k lies cyclically in (i, j]
            if (j > i and (k <= i or k > j)) or (j < i and (k <= i and k > j)):
                self.index[i] = e
                i = j
        self.index[i] = -1

    cdef int _grow_ring(self) except -1:
        cdef size_t cap = self.ring_cap * 2
        cdef DedupeEntry* r = <DedupeEntry*>malloc(cap * sizeof(DedupeEntry))
        cdef uint64_t n
        if r == NULL:
            raise MemoryError()
        for n in range(self.head, self.tail):
            r[n & (cap - 1)] = self.ring[n & (self.ring_cap - 1)]
        free(self.ring)
        self.ring, self.ring_cap = r, cap
        return 0

    cdef int _grow_index(self) except -1:
        cdef size_t cap = self.index_cap * 2
        cdef int64_t* idx = <int64_t*>realloc(self.index, cap * sizeof(int64_t))
        cdef uint64_t n
        cdef size_t i
        cdef DedupeEntry* d
        if idx == NULL:
            raise MemoryError()
        self.index, self.index_cap = idx, cap
        memset(self.index, 0xFF, cap * sizeof(int64_t))
        for n in range(self.head, self.tail):
            d = &self.ring[n & (self.ring_cap - 1)]
            i = d.hash & (cap - 1)
            while self.index[i] >= 0:
                if self._same(<uint64_t>self.index[i], d):
                    break
                i = (i + 1) & (cap - 1)
            self.index[i] = <int64_t>n       # later entries win, as insert() does
        return 0

    cdef bint _same(self, uint64_t e, DedupeEntry* d) noexcept:
        cdef DedupeEntry* o = &self.ring[e & (self.ring_cap - 1)]
        return o.hash == d.hash and o.id_len == d.id_len and memcmp(o.id, d.id, d.id_len) == 0

    # -- Python face (tests, restart, monitoring) ------------------------------------------------

    def __len__(self):
        return self.tail - self.head

    def get(self, bytes msg_id, int64_t now):
        """The sequence stored under msg_id at time now (unix ns), 0 if not in the window."""
        return self.lookup(msg_id, len(msg_id), now)

    def add(self, bytes msg_id, uint64_t seq, int64_t ts):
        self.insert(msg_id, len(msg_id), seq, ts)

    def purge_expired(self, int64_t now):
        self.expire(now)

    def clear(self):
        self.clear_all()
