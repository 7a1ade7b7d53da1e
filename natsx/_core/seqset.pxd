# A set of uint64 sequence numbers kept as sorted, disjoint, non-adjacent runs [first, last].
#
# The role of nats-server's avl/seqset.go (deleted sequences, consumer acks and pending), with a
# different shape: runs instead of an AVL tree of 2048-bit buckets. Removals and acks come in
# ranges (purges, limits, an advancing ack floor), so a run costs 16 bytes however long it is;
# the worst case is alternate sequences (16 bytes each, where buckets cost a bit). Adding or
# removing at the end is O(1), elsewhere a binary search plus a memmove of the runs after it.
#
# runs[] is laid out as (first, last) pairs of u64, which is also the body of a TOMB record and of
# encode(), so writers can use it as it is.

from libc.stdint cimport uint64_t

cdef class SeqSet:
    cdef uint64_t* runs         # 2 * nruns values: first0, last0, first1, last1, ...
    cdef readonly size_t nruns
    cdef size_t cap             # runs the buffer holds
    cdef readonly uint64_t count   # sequences in the set

    cdef bint has(self, uint64_t seq) noexcept
    # 1 if seq was added / removed, 0 if it already was / was not in the set
    cdef int add(self, uint64_t seq) except -1
    cdef int add_range(self, uint64_t first, uint64_t last) except -1
    cdef int discard(self, uint64_t seq) except -1
    # drop every sequence below seq (an advancing floor: first_seq, an ack floor)
    cdef void drop_below(self, uint64_t seq) noexcept
    cdef void clear(self) noexcept
    cdef size_t _find(self, uint64_t seq) noexcept
    cdef int _insert_run(self, size_t i, uint64_t first, uint64_t last) except -1
    cdef void _delete_runs(self, size_t i, size_t n) noexcept
