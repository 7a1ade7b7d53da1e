# Per-subject state of a stream: subject name -> id through an open-addressing hash table (u32 per
# slot, load <= 0.75, backward-shift deletion) over 40-byte entries and a name arena; each entry
# keeps the subject's count and first/last sequence (recomputed lazily by the log after removals).
# Ids are reused after a subject empties. SubjectFilter caches its verdict per id.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp

cdef extern from *:
    """
    #define NX_SID_NONE 0xFFFFFFFFu
    """
    const uint32_t SID_NONE "NX_SID_NONE"

cdef struct SubjEntry:
    uint64_t first
    uint64_t last
    uint64_t count
    uint64_t name_off   # into the subject arena
    uint32_t hash
    uint16_t name_len
    uint8_t stale_first # first/last recomputed lazily after removals
    uint8_t stale_last


cdef class SubjectIndex:
    cdef SubjEntry* subj
    cdef size_t subj_cap
    cdef size_t subj_n          # ids handed out (including freed)
    cdef uint32_t* free_sids
    cdef size_t free_n
    cdef size_t free_cap
    cdef uint32_t* htab
    cdef size_t hcap
    cdef readonly size_t num_subjects
    cdef char* arena
    cdef size_t arena_len
    cdef size_t arena_cap
    cdef size_t arena_garbage
    cdef readonly uint64_t subj_gen   # bumped when ids are freed or reset (filters' caches go)

    cdef void reset(self) noexcept
    cdef uint32_t hash(self, const char* s, size_t n) noexcept
    # a new id for s (not present): count 0
    cdef uint32_t add(self, const char* s, size_t n) except? 0xFFFFFFFF
    # one message of sid (at seq) went: frees the id at zero, else marks first/last stale
    cdef int dec(self, uint32_t sid, uint64_t seq) except -1
    cdef int release(self, uint32_t sid) except -1
    cdef int _htab_insert(self, uint32_t sid) except -1
    cdef int _rehash(self, size_t ncap) except -1
    cdef int _compact_arena(self) except -1

    # the id of subject s (h = hash(s, n)), or SID_NONE; inline: once per append
    cdef inline uint32_t lookup(self, const char* s, size_t n, uint32_t h) noexcept:
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


cdef class SubjectFilter:
    cdef readonly bytes pattern
    cdef bint match_all
    cdef bint literal
    cdef uint8_t* cache         # per sid: 0 unknown, 1 match, 2 no match
    cdef size_t cache_len
    cdef uint64_t cache_gen
    cdef bint matches(self, SubjectIndex sx, uint32_t sid) except -1
