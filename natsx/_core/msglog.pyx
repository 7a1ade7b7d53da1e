# cython: freethreading_compatible=False
"""The stream store's kernel (see msglog.pxd and docs/storage.rst).

The per-message work on top of the smaller kernels: the seq -> (block, offset) slot array, limit
enforcement, append/commit, removal, recovery, the index checkpoint and the replay interface.
Records are encoded by record.pxd, subjects kept by subjidx, blocks by blocks (whose BlockIO is
where they live), pending removals in a seqset. Python (natsx/store/) runs per block and per batch.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from libc.errno cimport errno, EINTR
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t, UINT64_MAX
from libc.stdlib cimport malloc, free
from libc.string cimport memcmp, memcpy, memmove, memset
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME
from posix.unistd cimport write

from natsx._core.blocks cimport (BLK_GONE, BLK_KEEP, BLK_SEALED, BLK_TOMBS, NO_BLOCK, BlockInfo,
                                 BlockIO, BlockTable)
from natsx._core.buf cimport alloc_copy, grow
from natsx._core.record cimport (BLK_HDR, KIND_COMPACT, KIND_ERASED, KIND_MSG, KIND_TOMB, REC_HDR,
                                 MsgView, all_zero, block_header_ok, encode_record, fill_view,
                                 pad8, rd_u32, rd_u64, record_ok, xxh3_fn, xxh3_fn_t)
from natsx._core.seqset cimport SeqSet
from natsx._core.subjidx cimport SID_NONE, SubjEntry, SubjectFilter, SubjectIndex
from natsx._core.subject cimport is_literal_c, is_match_all_c

cdef xxh3_fn_t _xxh3 = xxh3_fn()

cdef char _EMPTY[64]


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


cdef inline int64_t _now_ns() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    return <int64_t>t.tv_sec * 1000000000 + t.tv_nsec


cdef inline bint _wanted(SubjectIndex sx, uint32_t sid, int mode, uint32_t lit,
                        SubjectFilter f) except -1:
    """Does a slot with subject id sid hold a message the filter takes? (mode and lit come from
    MsgLog._filter_mode: 0 all, 1 the literal subject lit, 2 ask f.)"""
    if sid == SID_NONE:
        return False
    if mode == 0:
        return True
    if mode == 1:
        return sid == lit
    return f.matches(sx, sid)


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


cdef class MsgLog:
    """Index + block cache + limits. Subclassed by MemStore/FileStore (natsx/store)."""

    def __cinit__(self, *args, **kwargs):
        # Cython hands us every C field zeroed (pointers NULL): set the rest.
        self.seq_base = 1
        self.first_seq = 1
        self.last_seq = 0
        self.compact_to = 1
        self.tombs = SeqSet()
        self.io = BlockIO()
        self.bt = BlockTable(4 << 20, <size_t>-1, self.io)
        self.sx = SubjectIndex()

    def __dealloc__(self):
        self._free_all()

    cdef void _free_all(self) noexcept:
        """Free the slots, blocks and subject arrays (before a reset, a checkpoint load, or at the
        end)."""
        free(self.slots)
        self.slots = NULL
        if self.bt is not None:
            self.bt.free_all()
        if self.sx is None:
            return
        free(self.sx.subj)
        free(self.sx.htab)
        free(self.sx.arena)
        free(self.sx.free_sids)
        self.sx.subj = NULL
        self.sx.htab = NULL
        self.sx.arena = NULL
        self.sx.free_sids = NULL
        self.sx.free_n = self.sx.free_cap = 0

    def _setup(self, size_t block_size, size_t cache_limit, bint persistent, bint mem_accounting,
               BlockIO io not None):
        """Configure before first use; io is where the blocks live (see blocks.pxd)."""
        self.persistent = persistent
        self.mem_accounting = mem_accounting
        self.io = io
        self.bt = BlockTable(block_size, cache_limit, io)
        self.sx.reset()

    @property
    def num_subjects(self):
        return self.sx.num_subjects

    # ------------------------------------------------------------------ subjects

    cdef uint64_t _subj_first(self, uint32_t sid) noexcept:
        cdef SubjEntry* e = &self.sx.subj[sid]
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
        cdef SubjEntry* e = &self.sx.subj[sid]
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

    cdef char* _blk_data(self, uint32_t blk) except NULL:
        """The bytes of block blk, loaded (and verified) if not resident."""
        cdef BlockInfo* b = self.bt.at(blk)
        self.bt.tick += 1
        b.last_use = self.bt.tick
        if b.data != NULL:
            return b.data
        if not self.io.reloadable:
            raise StoreError(f"block {blk} is not resident")
        self.bt.load(blk)
        self._verify_block(blk)
        if blk < self.bt.blk_base or (self.bt.at(blk).flags & BLK_GONE):
            return _EMPTY   # every message in it was damaged; callers re-check their slot
        self.bt.evict(blk)
        return self.bt.at(blk).data

    cdef int _verify_block(self, uint32_t blk) except -1:
        """Check every indexed record of a freshly loaded block; damaged ones leave the index
        (no tombstone: the damage is reported again on the next scan)."""
        cdef BlockInfo* b = self.bt.at(blk)
        cdef uint64_t s, end
        cdef Slot* sl
        cdef list bad = []
        cdef const char* p
        s = b.first_seq if b.first_seq > self.seq_base else self.seq_base
        end = self.last_seq
        if blk - self.bt.blk_base + 1 < self.bt.nblk:
            end = self.bt.blocks[blk - self.bt.blk_base + 1].first_seq - 1
        while s <= end and s >= self.seq_base and s - self.seq_base < self.ns:
            sl = &self.slots[self.sh + (s - self.seq_base)]
            if sl.sid != SID_NONE and sl.blk == blk:
                p = b.data + sl.off
                if (sl.off + REC_HDR > b.len or not record_ok(p, b.len - sl.off, _xxh3)
                        or rd_u64(p + 24) != s or (self.persistent and <uint8_t>p[12] != KIND_MSG)):
                    bad.append(s)
            s += 1
        if bad:
            b.flags |= BLK_KEEP
            self._remove_untracked(bad)
            self.io.damaged(blk, bad)
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
                grow(<void**>&self.slots, &self.slot_cap, self.sh + need, 4096, sizeof(Slot))
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
        e = &self.sx.subj[sid]
        e.count += 1
        if e.count == 1:
            e.first = seq
            e.stale_first = 0
        e.last = seq
        e.stale_last = 0
        self.bt.at(blk).live += 1
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
        self.sx.dec(sid, seq)
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
        self.bt.at(blk).live -= 1
        self.bt.maybe_free(blk)
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
        p = self.bt.reserve(pad8(rl), self.last_seq + 1)
        # the set's runs are (u64 first, u64 last) pairs: the TOMB body as it is
        encode_record(p, KIND_TOMB, NULL, 0, NULL, 0, <char*>self.tombs.runs, n * 16, self.last_seq, 0,
                      _xxh3)
        self._mark_tombs(pad8(rl))
        self.tombs.clear()
        return 0

    cdef int _write_compact(self) except -1:
        """A COMPACT record: every sequence below first_seq is gone, even after the blocks that
        held their tombstones are removed."""
        cdef char* p = self.bt.reserve(REC_HDR, self.last_seq + 1)
        encode_record(p, KIND_COMPACT, NULL, 0, NULL, 0, NULL, 0, self.first_seq, self.last_ts, _xxh3)
        self._mark_tombs(REC_HDR)
        self.compact_to = self.first_seq
        return 0

    cdef void _mark_tombs(self, size_t n) noexcept:
        cdef BlockInfo* b = &self.bt.blocks[self.bt.nblk - 1]
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
            while self.sx.subj[sid].count > <uint64_t>self.max_per_subject:
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
        sid = self.sx.lookup(subj, sl, h)
        if sid != SID_NONE:
            psmc = self.sx.subj[sid].count
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
        pl = pad8(rl)
        p = self.bt.reserve(pl, self.last_seq + 1)
        seq = self.last_seq + 1
        encode_record(p, KIND_MSG, subj, sl, hdr, hl, msg, ml, seq, ts,
                      _xxh3 if self.persistent else NULL)
        b = &self.bt.blocks[self.bt.nblk - 1]
        if sid == SID_NONE:
            sid = self.sx.add(subj, sl)
        self._push_slot(seq, self.bt.blk_base + <uint32_t>(self.bt.nblk - 1), <uint32_t>b.len, sid, sz, ts)
        b.len += pl
        self._trim_subject(sid)
        self._trim_front()
        return seq

    cdef int commit_c(self) except -1:
        self._flush_tombs()
        if self.bt.nblk and self.io.commit(self.bt.blk_base + <uint32_t>(self.bt.nblk - 1),
                                        &self.bt.blocks[self.bt.nblk - 1]):
            self.committed_seq = self.last_seq
        return 0

    def commit(self):
        """commit_c() for Python callers (tests)."""
        self.commit_c()

    def _write_active(self):
        """End of a Python-level operation: the active block's new records go to the block IO."""
        if self.bt.nblk:
            self.io.write(self.bt.blk_base + <uint32_t>(self.bt.nblk - 1), &self.bt.blocks[self.bt.nblk - 1])
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
        fill_view(d + s.off, seq, s.ts, out)
        return 1

    cdef inline int _filter_mode(self, SubjectFilter f, uint32_t* lit) except -1:
        # inline: next_msg runs it once per message a consumer reads
        if f is None or f.match_all:
            return 0
        if f.literal:
            lit[0] = self._literal_sid(f.pattern)
            return 1
        return 2

    cdef uint32_t _literal_sid(self, bytes subject) noexcept:
        cdef const char* p = PyBytes_AS_STRING(subject)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(subject)
        return self.sx.lookup(p, n, <uint32_t>_xxh3(p, n))

    cdef int next_msg(self, uint64_t* seq, SubjectFilter flt, MsgView* out) except -1:
        cdef uint64_t s = seq[0], end = self.last_seq
        cdef uint32_t lit = SID_NONE
        cdef int mode = self._filter_mode(flt, &lit)
        cdef Slot* sl
        cdef SubjectIndex sx = self.sx   # a local: no reference taken per message
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
            if _wanted(sx, sl.sid, mode, lit, flt):
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
        cdef SubjectIndex sx = self.sx   # a local: no reference taken per message
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
            if _wanted(sx, sl.sid, mode, lit, flt):
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
                sid = self.sx.lookup(p, n, <uint32_t>_xxh3(p, n))
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
        rl = rd_u32(p + 8)
        memset(p + REC_HDR, 0, pad8(rl) - REC_HDR)
        p[12] = KIND_ERASED
        (<uint64_t*>p)[0] = _xxh3(p + 8, rl - 8) if self.persistent else 0
        self._remove(seq)
        self._flush_tombs()
        return blk, off, pad8(rl)

    def purge(self):
        """Remove everything; last_seq stays. Returns the number removed."""
        cdef uint64_t n = self.msgs
        cdef uint32_t blkno
        cdef BlockInfo* b
        self.tombs.clear()
        self.msgs = 0
        self.total_bytes = 0
        self._set_empty(self.last_seq + 1)
        self.sx.reset()
        # The new active block (with a COMPACT record) exists before old files go.
        old = self._blocks()
        self.bt.new_block(0, self.last_seq + 1)
        if self.persistent:
            self._write_compact()
        for blkno in old:
            if blkno < self.bt.blk_base:
                continue
            b = self.bt.at(blkno)
            if not (b.flags & BLK_GONE):
                b.live = 0
                b.flags = (b.flags | BLK_SEALED) & ~BLK_TOMBS
                self.bt.maybe_free(blkno)
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
        cdef SubjectIndex sx = self.sx   # a local: no reference taken per message
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
            if _wanted(sx, sl.sid, mode, lit, f):
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
            for sid in range(self.sx.subj_n):
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
        cdef SubjectIndex sx = self.sx   # a local: no reference taken per message
        if self.msgs == 0:
            return 0
        if start < self.first_seq:
            start = self.first_seq
        if last_per_subject:
            if mode == 1:
                return 1 if lit != SID_NONE and self._subj_last(lit) >= start else 0
            for sid in range(self.sx.subj_n):
                if self.sx.subj[sid].count and (mode == 0 or f.matches(sx, <uint32_t>sid)):
                    if self._subj_last(<uint32_t>sid) >= start:
                        n += 1
            return n
        if mode == 0 and start == self.first_seq:
            return self.msgs
        if mode == 1:
            if lit == SID_NONE:
                return 0
            if start <= self._subj_first(lit):
                return self.sx.subj[lit].count
            end = self._subj_last(lit)
        elif mode == 2 and start == self.first_seq and self.sx.num_subjects < self.msgs:
            for sid in range(self.sx.subj_n):
                if self.sx.subj[sid].count and f.matches(sx, <uint32_t>sid):
                    n += self.sx.subj[sid].count
            return n
        s = start
        while s <= end:
            sl = &self.slots[self.sh + (s - self.seq_base)]
            if _wanted(sx, sl.sid, mode, lit, f):
                n += 1
            s += 1
        return n

    def subjects_state(self, filter=b">"):
        """{subject: (msgs, first_seq, last_seq)} for subjects matching filter."""
        cdef SubjectFilter f = _as_filter(filter)
        cdef SubjectIndex sx = self.sx
        cdef dict out = {}
        cdef size_t sid
        cdef SubjEntry* e
        for sid in range(self.sx.subj_n):
            e = &self.sx.subj[sid]
            if e.count and f.matches(sx, <uint32_t>sid):
                out[PyBytes_FromStringAndSize(self.sx.arena + e.name_off, e.name_len)] = (
                    e.count, self._subj_first(<uint32_t>sid), self._subj_last(<uint32_t>sid))
        return out

    def subject_index_bytes(self):
        """Heap bytes the per-subject index uses (entries + hash table + names)."""
        return self.sx.bytes_used()

    def index_bytes(self):
        return self.slot_cap * sizeof(Slot)

    # ------------------------------------------------------------------ the stores' helpers

    def _blk_info(self, uint32_t blk):
        """(len, written, first_seq, live, flags, cached) of a block, or None if unknown/gone."""
        cdef BlockInfo* b
        if blk < self.bt.blk_base or blk - self.bt.blk_base >= self.bt.nblk:
            return None
        b = self.bt.at(blk)
        if b.flags & BLK_GONE:
            return None
        return b.len, b.written, b.first_seq, b.live, b.flags, b.data != NULL

    def _blocks(self):
        """Block numbers present, oldest first."""
        return [self.bt.blk_base + i for i in range(self.bt.nblk) if not (self.bt.blocks[i].flags & BLK_GONE)]

    def _active_blk(self):
        return self.bt.blk_base + self.bt.nblk - 1 if self.bt.nblk else None

    def _blk_write(self, uint32_t blk, int fd):
        """write(2) the block's unwritten tail to fd; returns bytes written."""
        cdef BlockInfo* b = self.bt.at(blk)
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
        cdef BlockInfo* b = self.bt.at(blk)
        if off > b.len:
            off = b.len
        if n > b.len - off:
            n = b.len - off
        return PyBytes_FromStringAndSize(d + off, n)

    def _blk_set_written(self, uint32_t blk):
        cdef BlockInfo* b = self.bt.at(blk)
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
        if self.bt.nblk == 0:
            self.bt.blk_base = blkno
        while self.bt.blk_base + self.bt.nblk < blkno:   # missing numbers: removed blocks
            self.bt.register(0)
            self.bt.blocks[self.bt.nblk - 1].flags = BLK_GONE
        if block_header_ok(d, n, _xxh3):
            hdr_first = rd_u64(d + 8)
            valid_end = BLK_HDR
        else:
            bad.append((0, BLK_HDR))
            damaged = True
        self.bt.register(hdr_first)
        blk = &self.bt.blocks[self.bt.nblk - 1]
        blk.data = <char*>malloc(n if n else 1)
        if blk.data == NULL:
            raise MemoryError()
        memcpy(blk.data, d, n)
        blk.cap = n if n else 1
        if hdr_first > self.last_seq + 1:
            self._skip_to(hdr_first - 1)
        off = BLK_HDR
        while off + REC_HDR <= n:
            if not record_ok(d + off, n - off, _xxh3):
                if all_zero(d + off, n - off):
                    break   # preallocated, never written
                start = off
                off += 8
                while off + REC_HDR <= n and not record_ok(d + off, n - off, _xxh3):
                    off += 8
                if off + REC_HDR > n:
                    off = n
                bad.append((start, off))
                damaged = True
                continue
            rl = rd_u32(d + off + 8)
            kind = <uint8_t>d[off + 12]
            seq = rd_u64(d + off + 24)
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
                    hl = rd_u32(d + off + 16)
                    h = <uint32_t>_xxh3(d + off + REC_HDR, sl)
                    sid = self.sx.lookup(d + off + REC_HDR, sl, h)
                    if sid == SID_NONE:
                        sid = self.sx.add(d + off + REC_HDR, sl)
                    self._push_slot(seq, blkno, <uint32_t>off, sid,
                                    self._msg_size(sl, hl, rl - REC_HDR - sl - hl),
                                    (<const int64_t*>(d + off + 32))[0])
            elif kind == KIND_TOMB:
                self.bt.at(blkno).flags |= BLK_TOMBS
                nb = (rl - REC_HDR - (<const uint16_t*>(d + off + 14))[0] - rd_u32(d + off + 16)) // 16
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
                self.bt.at(blkno).flags |= BLK_TOMBS
                while self.msgs and self.first_seq < seq:
                    self._drop_front()
                if seq > self.last_seq + 1:
                    self._skip_to(seq - 1)
                if (<const int64_t*>(d + off + 32))[0] > self.last_ts:
                    self.last_ts = (<const int64_t*>(d + off + 32))[0]
                if seq > self.compact_to:
                    self.compact_to = seq
            off += pad8(rl)
            valid_end = off
        if off < n and not all_zero(d + off, n - off) and not (bad and bad[len(bad) - 1][1] == n):
            bad.append((off, n))
        blk = self.bt.at(blkno)
        if bad and (sealed or bad[len(bad) - 1][1] != n or len(bad) > 1):
            blk.flags |= BLK_KEEP
        blk.len = n if sealed else valid_end
        if blk.len < BLK_HDR:
            blk.len = BLK_HDR if n >= BLK_HDR else n
        blk.written = blk.len
        if sealed:
            blk.flags |= BLK_SEALED
            self.bt.cached_bytes += blk.len
            self.bt.evict(blkno)
        return valid_end, bad, gaps

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
        for i in range(self.bt.nblk - 1, -1, -1):
            if i < self.bt.nblk and not (self.bt.blocks[i].flags & BLK_GONE):
                self.bt.maybe_free(self.bt.blk_base + <uint32_t>i)
        self.bt.evict(NO_BLOCK)

    def _reset(self):
        """Forget everything (before a rescan)."""
        self._free_all()
        self.ns = self.sh = self.slot_cap = 0
        self.seq_base = self.first_seq = 1
        self.last_seq = 0
        self.last_ts = 0
        self.msgs = self.total_bytes = 0
        self.compact_to = 1
        self.sx.reset()

    def _slot_info(self, uint64_t seq):
        """(blk, off, sz, ts) of a stored message, or None."""
        cdef Slot* s = self._slot(seq)
        if s == NULL or s.sid == SID_NONE:
            return None
        return s.blk, s.off, s.sz, s.ts

    def _rollback_unwritten(self, uint32_t blk):
        """Forget the messages of block blk that write(2) did not take (disk full): they were
        never stored. Returns the offset the file must be cut back to."""
        cdef BlockInfo* b = self.bt.at(blk)
        cdef uint64_t s = self.last_seq, new_last = self.last_seq, q
        cdef size_t cut = b.len
        cdef Slot* sl
        while s >= self.seq_base and s - self.seq_base < self.ns:
            sl = &self.slots[self.sh + (s - self.seq_base)]
            if sl.blk != blk or sl.off < BLK_HDR or sl.off + pad8(rd_u32(b.data + sl.off + 8)) <= b.written:
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
                if sl.off + pad8(rd_u32(b.data + sl.off + 8)) <= cut:
                    cut = sl.off + pad8(rd_u32(b.data + sl.off + 8))
                    break
                q -= 1
        self._remove_untracked(range(new_last + 1, self.last_seq + 1))
        if self.msgs == 0:
            self._set_empty(new_last + 1)
        elif new_last < self.last_seq:
            self.ns = <size_t>(new_last - self.seq_base + 1)
            self.last_ts = self.slots[self.sh + self.ns - 1].ts
        self.last_seq = new_last
        b = self.bt.at(blk)
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
        self.bt.io = self.io

    def _evict_now(self):
        self.bt.evict(NO_BLOCK)

    def _unseal_last(self):
        """Make the newest block the active (appendable) one again."""
        cdef BlockInfo* b
        if self.bt.nblk == 0:
            return False
        b = &self.bt.blocks[self.bt.nblk - 1]
        if b.flags & BLK_GONE:
            return False
        if b.flags & BLK_SEALED:
            b.flags &= ~BLK_SEALED
            if b.data != NULL:
                self.bt.cached_bytes -= b.len
        return True

    def _seal_last(self):
        cdef BlockInfo* b
        if self.bt.nblk and not (self.bt.blocks[self.bt.nblk - 1].flags & (BLK_SEALED | BLK_GONE)):
            b = &self.bt.blocks[self.bt.nblk - 1]
            b.flags |= BLK_SEALED
            if b.data != NULL:
                self.bt.cached_bytes += b.len

    # ------------------------------------------------------------------ index checkpoint

    def _dump_index(self):
        """Serialize the whole index (see docs/storage.rst, "index.nxi")."""
        cdef size_t head = 128
        cdef size_t sz_slots = self.ns * sizeof(Slot)
        cdef size_t sz_blocks = self.bt.nblk * 40
        cdef size_t sz_subj = self.sx.subj_n * sizeof(SubjEntry)
        cdef size_t sz_free = self.sx.free_n * 4
        cdef size_t total = head + sz_slots + sz_blocks + sz_subj + self.sx.arena_len + sz_free + 8
        cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
        cdef char* p = PyBytes_AS_STRING(out)
        cdef uint64_t* h = <uint64_t*>p
        cdef size_t i, o
        cdef BlockInfo* b
        memset(p, 0, head)
        memcpy(p, b"NXI1", 4)
        (<uint32_t*>(p + 4))[0] = 1
        h[1] = self.ns
        h[2] = self.bt.nblk
        h[3] = self.sx.subj_n
        h[4] = self.sx.arena_len
        h[5] = self.sx.free_n
        h[6] = self.seq_base
        h[7] = self.first_seq
        h[8] = self.last_seq
        h[9] = <uint64_t>self.last_ts
        h[10] = self.msgs
        h[11] = self.total_bytes
        h[12] = self.bt.blk_base
        h[13] = self.compact_to
        h[14] = self.sx.num_subjects
        h[15] = sizeof(Slot) | (sizeof(SubjEntry) << 16)
        o = head
        if sz_slots:
            memcpy(p + o, self.slots + self.sh, sz_slots)
        o += sz_slots
        for i in range(self.bt.nblk):
            b = &self.bt.blocks[i]
            (<uint64_t*>(p + o))[0] = b.len
            (<uint64_t*>(p + o + 8))[0] = b.first_seq
            (<uint64_t*>(p + o + 16))[0] = b.live
            (<uint64_t*>(p + o + 24))[0] = b.flags
            (<uint64_t*>(p + o + 32))[0] = 0
            o += 40
        memcpy(p + o, self.sx.subj, sz_subj)
        o += sz_subj
        memcpy(p + o, self.sx.arena, self.sx.arena_len)
        o += self.sx.arena_len
        if sz_free:
            memcpy(p + o, self.sx.free_sids, sz_free)
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
        if n < 136 or memcmp(p, b"NXI1", 4) != 0 or rd_u32(p + 4) != 1:
            raise ValueError("not an index checkpoint")
        if h[15] != (sizeof(Slot) | (sizeof(SubjEntry) << 16)):
            raise ValueError("index layout differs")
        ns, nblk, subj_n, arena_len, free_n = h[1], h[2], h[3], h[4], h[5]
        need = 128 + ns * sizeof(Slot) + nblk * 40 + subj_n * sizeof(SubjEntry) + arena_len + free_n * 4 + 8
        if need != n or _xxh3(p, n - 8) != rd_u64(p + n - 8):
            raise ValueError("index checksum mismatch")
        self._free_all()
        self.ns = self.sh = self.slot_cap = 0
        o = 128
        self.slots = <Slot*>alloc_copy(p + o, ns, 4096, sizeof(Slot), &self.slot_cap)
        self.ns = ns
        o += ns * sizeof(Slot)
        self.seq_base, self.first_seq, self.last_seq = h[6], h[7], h[8]
        self.last_ts = <int64_t>h[9]
        self.msgs, self.total_bytes = h[10], h[11]
        self.bt.blk_base = <uint32_t>h[12]
        self.compact_to = h[13]
        table = []
        for i in range(nblk):
            self.bt.register(rd_u64(p + o + 8))
            b = &self.bt.blocks[self.bt.nblk - 1]
            b.len = rd_u64(p + o)
            b.written = b.len
            b.live = rd_u64(p + o + 16)
            b.flags = <uint32_t>rd_u64(p + o + 24)
            table.append((self.bt.blk_base + i, b.len, b.flags))
            o += 40
        self.sx.subj = <SubjEntry*>alloc_copy(p + o, subj_n, 1024, sizeof(SubjEntry), &self.sx.subj_cap)
        self.sx.subj_n = subj_n
        o += subj_n * sizeof(SubjEntry)
        self.sx.arena = <char*>alloc_copy(p + o, arena_len, 1 << 16, 1, &self.sx.arena_cap)
        self.sx.arena_len = arena_len
        self.sx.arena_garbage = 0
        o += arena_len
        self.sx.free_cap = free_n if free_n else 0
        self.sx.free_n = free_n
        self.sx.free_sids = <uint32_t*>malloc(free_n * 4) if free_n else NULL
        if free_n:
            memcpy(self.sx.free_sids, p + o, free_n * 4)
        self.sx.num_subjects = h[14]
        cap = 1024
        while cap * 3 < (self.sx.num_subjects + 1) * 4:
            cap *= 2
        self.sx.htab = NULL
        self.sx._rehash(cap)
        self.sx.subj_gen += 1
        return table
