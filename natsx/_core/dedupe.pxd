# A stream's duplicate window (nats-server's ddmap/ddarr): Nats-Msg-Id -> (seq, ts), in C.
#
# Entries sit in a ring in insertion order (timestamps ascending), indexed by an open-addressing
# hash (linear probing, backward-shift deletion). Expiry pops the ring's front while the front is
# older than the window, so lookups never see an expired id and no timer is needed for
# correctness. Ids are copied (malloc) on insert and freed on expiry. Nothing here touches Python
# objects: every method is safe on the per-message path.

from libc.stdint cimport int64_t, uint64_t


cdef struct DedupeEntry:
    uint64_t hash
    uint64_t seq
    int64_t ts
    char* id
    size_t id_len


cdef class DedupeTable:
    cdef DedupeEntry* ring       # insertion order; entry n (absolute) lives at ring[n & (ring_cap - 1)]
    cdef size_t ring_cap         # power of two
    cdef uint64_t head           # absolute number of the oldest live entry
    cdef uint64_t tail           # absolute number the next entry gets
    cdef int64_t* index          # hash slots: absolute entry number, -1 when empty
    cdef size_t index_cap        # power of two, load <= 1/2
    cdef public int64_t window_ns    # duplicate_window; <= 0 disables dedupe

    # The sequence stored under id, 0 if it is not in the window (expires first, at now).
    cdef uint64_t lookup(self, const char* id, size_t n, int64_t now) noexcept
    # Remember id -> seq at ts (a newer entry for the same id replaces the older in the index).
    cdef int insert(self, const char* id, size_t n, uint64_t seq, int64_t ts) except -1
    # Drop every entry older than the window at now.
    cdef void expire(self, int64_t now) noexcept
    cdef void clear_all(self) noexcept
    # Forget the newest entries whose sequence is above seq (appends the store took back).
    cdef void drop_after(self, uint64_t seq) noexcept
    cdef int _grow_ring(self) except -1
    cdef int _grow_index(self) except -1
    cdef void _index_remove(self, uint64_t entry) noexcept
    cdef bint _same(self, uint64_t e, DedupeEntry* d) noexcept
