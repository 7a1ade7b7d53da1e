# The stream store's kernel: the seq -> (block, offset) slot index, limits, append/commit,
# removal, recovery, and the C-level replay interface JetStream's delivery path uses. It stands on
# record (codec, xxh3), subjidx (per-subject state, filters), blocks (block table, block IO) and
# seqset. The Python face (natsx/store/) owns files, fsync policy, compression and timers; see
# docs/storage.rst.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t

from natsx._core.blocks cimport BlockInfo, BlockIO, BlockTable
from natsx._core.record cimport MsgView
from natsx._core.subjidx cimport SubjectFilter, SubjectIndex
from natsx._core.seqset cimport SeqSet

# One per sequence number in [seq_base, last_seq]: 24 bytes.
cdef struct Slot:
    uint32_t blk        # block number holding the record
    uint32_t off        # record offset inside the block (== file offset of a raw block)
    uint32_t sid        # subject id; SID_NONE when the message is gone
    uint32_t sz         # accounted size (nats-server's fileStoreMsgSize / memStoreMsgSize)
    int64_t ts          # unix ns

cdef class MsgLog:
    cdef public bint closed       # set by close(); appends are refused from then on
    cdef Slot* slots
    cdef size_t slot_cap
    cdef size_t sh              # index of seq_base's slot
    cdef size_t ns              # slots in use
    cdef readonly uint64_t seq_base
    cdef readonly uint64_t first_seq
    cdef readonly uint64_t last_seq
    cdef readonly int64_t last_ts
    cdef readonly uint64_t msgs
    cdef readonly uint64_t total_bytes

    cdef BlockTable bt          # the blocks and their cache
    cdef SubjectIndex sx        # per-subject state

    # limits (<= 0 means none)
    cdef public int64_t max_msgs
    cdef public int64_t max_bytes
    cdef public int64_t max_per_subject
    cdef public int64_t max_msg_size
    cdef public int64_t max_age_ns
    cdef public bint discard_new
    cdef public bint discard_new_per_subject

    cdef readonly bint persistent  # write checksums and tombstone records
    cdef readonly bint mem_accounting
    cdef bint recovering
    cdef readonly BlockIO io    # where blocks live (never None)
    # highest sequence whose record (and the removals before it) went to io: what a sync covers
    cdef readonly uint64_t committed_seq
    # removals not yet recorded as TOMB/COMPACT records
    cdef SeqSet tombs
    cdef uint64_t compact_to    # first_seq to record, 0 if unchanged

    # --- C-level interface for the delivery path ---
    # Find the first stored message with sequence >= seq[0] matching flt (None = all). Returns 1 and
    # fills out (and seq[0] = its sequence) or 0 at the end. May load blocks (Python per block).
    cdef int next_msg(self, uint64_t* seq, SubjectFilter flt, MsgView* out) except -1
    # View of one sequence; 0 when absent.
    cdef int view(self, uint64_t seq, MsgView* out) except -1
    # Append one message from C buffers; returns its sequence. ts == 0 takes the clock. The record
    # is in the active block's buffer; a C caller calls commit_c() once per batch.
    cdef uint64_t append_c(self, const char* subj, size_t sl, const char* hdr, size_t hl,
                           const char* msg, size_t ml, int64_t ts) except 0
    # Batch end for C appenders: removals the batch caused are recorded, the records go to the
    # block IO, and a durability wait (durable(seq)) resolves under the sync policy -- C only when
    # a group commit is already arranged, otherwise one Python call for the batch.
    cdef int commit_c(self) except -1

    # internals shared with the recovery scanner
    cdef char* _blk_data(self, uint32_t blk) except NULL
    cdef uint64_t _subj_first(self, uint32_t sid) noexcept
    cdef uint64_t _subj_last(self, uint32_t sid) noexcept
    cdef int _remove(self, uint64_t seq) except -1
    cdef void _set_empty(self, uint64_t next_seq) noexcept
    cdef int _drop_front(self) except -1
    cdef int _remove_untracked(self, object seqs) except -1
    cdef int _trim_subject(self, uint32_t sid) except -1
    cdef int _trim_front(self) except -1
    cdef int _push_slot(self, uint64_t seq, uint32_t blk, uint32_t off, uint32_t sid, uint32_t sz, int64_t ts) except -1
    cdef void _free_all(self) noexcept
    cdef Slot* _slot(self, uint64_t seq) noexcept
    cdef int _flush_tombs(self) except -1
    cdef int _write_compact(self) except -1
    cdef void _mark_tombs(self, size_t n) noexcept
    cdef uint32_t _msg_size(self, size_t sl, size_t hl, size_t ml) noexcept
    cdef int _filter_mode(self, SubjectFilter f, uint32_t* lit) except -1
    cdef uint32_t _literal_sid(self, bytes subject) noexcept
    cdef int _prev_msg(self, uint64_t seq, SubjectFilter flt, MsgView* out) except -1
    cdef int _skip_to(self, uint64_t last) except -1
    cdef int _verify_block(self, uint32_t blk) except -1
