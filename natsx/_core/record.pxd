# The store's record codec: block headers, records with an xxh3-64 checksum each, and views of
# them (layout: docs/storage.rst, "On disk"). Inline, so the kernels that encode and verify
# records per message compile it in; record.pyx holds the one xxh3 binding.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.string cimport memcmp, memcpy, memset

ctypedef uint64_t (*xxh3_fn_t)(const void* data, size_t length) noexcept nogil

cdef enum:
    REC_HDR = 40        # record header bytes
    BLK_HDR = 24        # block header bytes
    KIND_MSG = 1
    KIND_TOMB = 2
    KIND_COMPACT = 3
    KIND_ERASED = 4

# A stored message as the delivery path sees it: pointers into the block cache. Valid until the next
# call into the MsgLog (a block load may evict others).
cdef struct MsgView:
    uint64_t seq
    int64_t ts
    const char* subj
    const char* hdr
    const char* msg
    uint32_t subj_len
    uint32_t hdr_len
    uint32_t msg_len

# xxh3-64 of the xxhash C library (see record.pyx); modules keep it in a module variable.
cdef xxh3_fn_t xxh3_fn() noexcept


cdef inline size_t pad8(size_t n) noexcept nogil:
    return (n + 7) & ~(<size_t>7)


cdef inline uint32_t rd_u32(const char* p) noexcept nogil:
    return (<const uint32_t*>p)[0]


cdef inline uint64_t rd_u64(const char* p) noexcept nogil:
    return (<const uint64_t*>p)[0]


cdef inline void encode_record(char* p, uint8_t kind, const char* subj, size_t sl, const char* hdr,
                               size_t hl, const char* msg, size_t ml, uint64_t seq, int64_t ts,
                               xxh3_fn_t checksum) noexcept nogil:
    """Write one record (padded to 8 bytes) at p; checksum NULL leaves it 0 (memory store)."""
    cdef size_t rl = REC_HDR + sl + hl + ml
    cdef size_t pl = pad8(rl)
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
    (<uint64_t*>p)[0] = checksum(p + 8, rl - 8) if checksum != NULL else 0


cdef inline bint record_ok(const char* p, size_t avail, xxh3_fn_t h) noexcept nogil:
    """A structurally plausible record whose checksum verifies."""
    if avail < REC_HDR:
        return False
    cdef uint32_t rl = rd_u32(p + 8)
    cdef uint8_t kind = <uint8_t>p[12]
    if rl < REC_HDR or rl > avail or kind < KIND_MSG or kind > KIND_ERASED:
        return False
    if <size_t>REC_HDR + (<const uint16_t*>(p + 14))[0] + rd_u32(p + 16) > rl:
        return False
    return h(p + 8, rl - 8) == rd_u64(p)


cdef inline void write_block_header(char* p, uint64_t first_seq, xxh3_fn_t h) noexcept nogil:
    memcpy(p, b"NXB1", 4)
    (<uint32_t*>(p + 4))[0] = 1
    (<uint64_t*>(p + 8))[0] = first_seq
    (<uint64_t*>(p + 16))[0] = h(p, 16)


cdef inline bint block_header_ok(const char* p, size_t n, xxh3_fn_t h) noexcept nogil:
    return n >= BLK_HDR and memcmp(p, b"NXB1", 4) == 0 and h(p, 16) == rd_u64(p + 16)


cdef inline bint all_zero(const char* p, size_t n) noexcept nogil:
    cdef size_t i
    for i in range(n):
        if p[i] != 0:
            return False
    return True


cdef inline void fill_view(const char* p, uint64_t seq, int64_t ts, MsgView* out) noexcept nogil:
    cdef uint32_t rl = rd_u32(p + 8)
    cdef uint16_t sl = (<const uint16_t*>(p + 14))[0]
    cdef uint32_t hl = rd_u32(p + 16)
    out.seq = seq
    out.ts = ts
    out.subj = p + REC_HDR
    out.subj_len = sl
    out.hdr = p + REC_HDR + sl
    out.hdr_len = hl
    out.msg = p + REC_HDR + sl + hl
    out.msg_len = rl - REC_HDR - sl - hl
