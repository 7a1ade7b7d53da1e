# Growable C arrays for the store's kernels (inline; no module of its own).

from libc.stdlib cimport malloc, realloc
from libc.string cimport memcpy


cdef inline int grow(void** buf, size_t* cap, size_t need, size_t first, size_t elem) except -1:
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


cdef inline void* alloc_copy(const char* src, size_t n, size_t first, size_t elem,
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
