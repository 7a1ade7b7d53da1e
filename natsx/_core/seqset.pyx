"""A sequence set as sorted runs (see seqset.pxd): the store's pending removals now, the ack
tracker's acked/pending sets later. Encoded form: b"NXQ1", u32 version 1, u64 run count, then the
runs as (u64 first, u64 last) pairs, all little-endian."""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcmp, memcpy, memmove

cdef enum:
    _HDR = 16


cdef class SeqSet:

    def __dealloc__(self):
        free(self.runs)

    def __init__(self, seqs=()):
        for q in seqs:
            self.add(q)

    # -- C interface -------------------------------------------------------------------------

    cdef size_t _find(self, uint64_t seq) noexcept:
        """Index of the first run whose last >= seq (nruns if none)."""
        cdef size_t lo = 0, hi = self.nruns, mid
        if hi and self.runs[2 * hi - 1] < seq:
            return hi        # past the end: the common case of an ascending stream
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.runs[2 * mid + 1] < seq:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef bint has(self, uint64_t seq) noexcept:
        cdef size_t i = self._find(seq)
        return i < self.nruns and self.runs[2 * i] <= seq

    cdef int _insert_run(self, size_t i, uint64_t first, uint64_t last) except -1:
        cdef size_t ncap
        cdef uint64_t* p
        if self.nruns == self.cap:
            ncap = self.cap * 2 if self.cap else 8
            p = <uint64_t*>realloc(self.runs, ncap * 2 * sizeof(uint64_t))
            if p == NULL:
                raise MemoryError()
            self.runs = p
            self.cap = ncap
        if i < self.nruns:
            memmove(self.runs + 2 * (i + 1), self.runs + 2 * i, (self.nruns - i) * 2 * sizeof(uint64_t))
        self.runs[2 * i] = first
        self.runs[2 * i + 1] = last
        self.nruns += 1
        return 0

    cdef void _delete_runs(self, size_t i, size_t n) noexcept:
        if n == 0:
            return
        if i + n < self.nruns:
            memmove(self.runs + 2 * i, self.runs + 2 * (i + n), (self.nruns - i - n) * 2 * sizeof(uint64_t))
        self.nruns -= n

    cdef int add(self, uint64_t seq) except -1:
        return self.add_range(seq, seq)

    cdef int add_range(self, uint64_t first, uint64_t last) except -1:
        """Add [first, last]; 1 if any sequence was new."""
        cdef size_t i, j, k
        cdef uint64_t before = self.count, covered = 0, lo, hi
        if first > last:
            return 0
        if self.nruns and first > self.runs[2 * self.nruns - 1]:
            # past the end: the common case of ascending removals and acks
            if first == self.runs[2 * self.nruns - 1] + 1:
                self.runs[2 * self.nruns - 1] = last
            else:
                self._insert_run(self.nruns, first, last)
            self.count += last - first + 1
            return 1
        # runs that overlap or touch [first, last] merge with it: [i, j)
        i = self._find(first - 1 if first else 0)
        j = i
        while j < self.nruns and (last == <uint64_t>-1 or self.runs[2 * j] <= last + 1):
            j += 1
        if i == j:
            self._insert_run(i, first, last)
            self.count += last - first + 1
            return 1
        lo = first if first < self.runs[2 * i] else self.runs[2 * i]
        hi = last if last > self.runs[2 * j - 1] else self.runs[2 * j - 1]
        for k in range(i, j):
            covered += self.runs[2 * k + 1] - self.runs[2 * k] + 1
        self.runs[2 * i] = lo
        self.runs[2 * i + 1] = hi
        self._delete_runs(i + 1, j - i - 1)
        self.count += (hi - lo + 1) - covered
        return <int>(self.count - before > 0)

    cdef int discard(self, uint64_t seq) except -1:
        cdef size_t i = self._find(seq)
        cdef uint64_t a, b
        if i == self.nruns or self.runs[2 * i] > seq:
            return 0
        a = self.runs[2 * i]
        b = self.runs[2 * i + 1]
        if a == b:
            self._delete_runs(i, 1)
        elif seq == a:
            self.runs[2 * i] = seq + 1
        elif seq == b:
            self.runs[2 * i + 1] = seq - 1
        else:
            self.runs[2 * i + 1] = seq - 1
            self._insert_run(i + 1, seq + 1, b)
        self.count -= 1
        return 1

    cdef void drop_below(self, uint64_t seq) noexcept:
        cdef size_t i = 0
        while i < self.nruns and self.runs[2 * i + 1] < seq:
            self.count -= self.runs[2 * i + 1] - self.runs[2 * i] + 1
            i += 1
        self._delete_runs(0, i)
        if self.nruns and self.runs[0] < seq:
            self.count -= seq - self.runs[0]
            self.runs[0] = seq

    cdef void clear(self) noexcept:
        self.nruns = 0
        self.count = 0

    # -- Python interface (tests, control plane) -----------------------------------------------

    def insert(self, uint64_t seq):
        """Add seq; True if it was not in the set."""
        return bool(self.add(seq))

    def insert_range(self, uint64_t first, uint64_t last):
        """Add [first, last]; True if any was new."""
        return bool(self.add_range(first, last))

    def remove(self, uint64_t seq):
        """Remove seq; True if it was in the set."""
        return bool(self.discard(seq))

    def remove_below(self, uint64_t seq):
        self.drop_below(seq)

    def __contains__(self, seq):
        return seq >= 0 and self.has(seq)

    def __len__(self):
        return self.count

    def __iter__(self):
        cdef size_t i
        cdef uint64_t q
        for i in range(self.nruns):
            q = self.runs[2 * i]
            while True:
                yield q
                if q == self.runs[2 * i + 1]:
                    break
                q += 1

    def ranges(self):
        """[(first, last), ...] ascending."""
        return [(self.runs[2 * i], self.runs[2 * i + 1]) for i in range(self.nruns)]

    def min(self):
        """Smallest sequence, or 0 when empty (sequences start at 1)."""
        return self.runs[0] if self.nruns else 0

    def max(self):
        """Largest sequence, or 0 when empty."""
        return self.runs[2 * self.nruns - 1] if self.nruns else 0

    def encode(self):
        cdef bytes out = PyBytes_FromStringAndSize(NULL, _HDR + self.nruns * 16)
        cdef char* p = PyBytes_AS_STRING(out)
        memcpy(p, b"NXQ1", 4)
        (<uint32_t*>(p + 4))[0] = 1
        (<uint64_t*>(p + 8))[0] = self.nruns
        if self.nruns:
            memcpy(p + _HDR, self.runs, self.nruns * 16)
        return out

    @staticmethod
    def decode(bytes data):
        """The set encode() wrote; ValueError if data is not one (runs must be sorted, disjoint)."""
        cdef const char* p = PyBytes_AS_STRING(data)
        cdef size_t n = PyBytes_GET_SIZE(data), nr, i
        cdef const uint64_t* r
        cdef SeqSet s = SeqSet()
        if n < _HDR or memcmp(p, b"NXQ1", 4) != 0 or (<const uint32_t*>(p + 4))[0] != 1:
            raise ValueError("not an encoded sequence set")
        nr = (<const uint64_t*>(p + 8))[0]
        if n != _HDR + nr * 16:
            raise ValueError("sequence set has the wrong length")
        r = <const uint64_t*>(p + _HDR)
        for i in range(nr):
            if r[2 * i] > r[2 * i + 1] or (i and r[2 * i] <= r[2 * i - 1] + 1):
                raise ValueError("sequence set runs out of order")
            s._insert_run(i, r[2 * i], r[2 * i + 1])
            s.count += r[2 * i + 1] - r[2 * i] + 1
        return s

    def __eq__(self, other):
        if not isinstance(other, SeqSet):
            return NotImplemented
        return self.ranges() == (<SeqSet>other).ranges()

    def __repr__(self):
        return f"SeqSet({self.ranges()!r})"
