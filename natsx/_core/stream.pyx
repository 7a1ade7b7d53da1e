# cython: boundscheck=False, wraparound=False, cdivision=True
# JetStream's ingest kernel: the publish path of one stream (see stream.pxd for the design and the
# Python face). Check order, error codes and ack bytes follow nats-server's
# processJetStreamMsg (server/stream.go): the same input gives the same answer.
import logging
import zoneinfo

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memmove, strlen
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

# (Account, ServerCore, DedupeTable, MsgLog, Subscriber, Subscription: cimported by stream.pxd)
from natsx._core.buf cimport grow
from natsx._core.msglog cimport Slot
from natsx._core.record cimport MsgView, xxh3_fn, xxh3_fn_t
from natsx._core.sublist cimport SublistResult
from natsx._core.subjidx cimport SID_NONE

log = logging.getLogger("natsx.jetstream")

cdef xxh3_fn_t _xxh3 = xxh3_fn()

DEFAULT_DUPLICATE_WINDOW_NS = 120_000_000_000
# nats-server's rlBadThresh: a file store record above this is refused ("message too large").
cdef uint64_t FILE_MSG_TOO_LARGE = 32 * 1024 * 1024
# Stream config switches for features the kernel does not implement: a stream enabling one is
# refused (fail closed); publishes using them get nats-server's "disabled" answers.
UNSUPPORTED_SWITCHES = ("allow_msg_ttl", "allow_msg_counter", "allow_atomic", "allow_batched",
                        "allow_msg_schedules")


# -- the headers the kernel reads ---------------------------------------------------------------

cdef enum Hdr:
    H_MSG_ID
    H_EXP_STREAM
    H_EXP_LAST_SEQ
    H_EXP_LAST_SUBJ_SEQ
    H_EXP_LAST_SUBJ_SEQ_SUBJ
    H_EXP_LAST_MSG_ID
    H_ROLLUP
    H_TTL
    H_INCR
    H_BATCH_ID
    H_SCHEDULE
    H_SCHEDULE_TZ
    H_SCHEDULE_NEXT
    H_SCHEDULER
    H_STREAM_SOURCE
    H_REQUEST_INFO
    H_COUNT

cdef struct HdrVal:
    const char* p      # NULL when the header is absent
    size_t n

_HEADER_NAMES = (b"Nats-Msg-Id", b"Nats-Expected-Stream", b"Nats-Expected-Last-Sequence",
                 b"Nats-Expected-Last-Subject-Sequence",
                 b"Nats-Expected-Last-Subject-Sequence-Subject", b"Nats-Expected-Last-Msg-Id",
                 b"Nats-Rollup", b"Nats-TTL", b"Nats-Incr", b"Nats-Batch-Id", b"Nats-Schedule",
                 b"Nats-Schedule-Time-Zone", b"Nats-Schedule-Next", b"Nats-Scheduler",
                 b"Nats-Stream-Source", b"Nats-Request-Info")
cdef bytes _names_blob = b"".join(_HEADER_NAMES)
cdef const char* _names = PyBytes_AS_STRING(_names_blob)
cdef size_t _name_off[H_COUNT]
cdef size_t _name_len[H_COUNT]


def _init_names():
    cdef size_t off = 0
    for i, name in enumerate(_HEADER_NAMES):
        _name_off[i] = off
        _name_len[i] = len(name)
        off += len(name)


_init_names()


cdef inline void parse_headers(const char* h, size_t hl, HdrVal* out) noexcept:
    """nats-server's sliceHeader for every key at once: the first line whose key (after CRLF,
    case-sensitive) is one of ours, its value with leading blanks skipped, up to CRLF."""
    cdef size_t i = 0, ks, ke, vs, k
    for k in range(H_COUNT):
        out[k].p = NULL
        out[k].n = 0
    # skip the status line
    while i + 1 < hl and not (h[i] == c'\r' and h[i + 1] == c'\n'):
        i += 1
    i += 2
    while i < hl:
        ks = i
        while i < hl and h[i] != c':' and h[i] != c'\r':
            i += 1
        ke = i
        if i < hl and h[i] == c':':
            i += 1
            while i < hl and h[i] == c' ':
                i += 1
            vs = i
            while i < hl and not (h[i] == c'\r' and i + 1 < hl and h[i + 1] == c'\n'):
                i += 1
            if ke - ks > 5 and h[ks] == c'N' and memcmp(h + ks, b"Nats-", 5) == 0:
                for k in range(H_COUNT):
                    if (out[k].p == NULL and _name_len[k] == ke - ks
                            and memcmp(h + ks, _names + _name_off[k], ke - ks) == 0):
                        out[k].p = h + vs
                        out[k].n = i - vs
                        break
        else:
            while i < hl and not (h[i] == c'\r' and i + 1 < hl and h[i + 1] == c'\n'):
                i += 1
        i += 2


cdef size_t strip_header(const char* h, size_t hl, Buf* out) except? 0:
    """nats-server's removeHeaderStatusIfPresent then removeHeaderIfPresent(Nats-Request-Info):
    the header a stream stores, written to out; 0 when nothing is left of it."""
    cdef size_t i = 0, ks, ke, ls
    out.len = 0
    while i + 1 < hl and not (h[i] == c'\r' and h[i + 1] == c'\n'):
        i += 1
    if hl >= 8 and memcmp(h, b"NATS/1.0", 8) == 0 and i > 8:
        buf_put(out, h, 8)          # the status and its description go
    else:
        buf_put(out, h, i)
    while i < hl:
        ls = i                      # at a CRLF: the end of the previous line
        i = i + 2 if i + 2 <= hl else hl
        ks = i
        while i < hl and h[i] != c':' and not (h[i] == c'\r' and i + 1 < hl and h[i + 1] == c'\n'):
            i += 1
        ke = i
        while i < hl and not (h[i] == c'\r' and i + 1 < hl and h[i + 1] == c'\n'):
            i += 1
        if not (ke - ks == 17 and ke < hl and h[ke] == c':' and memcmp(h + ks, b"Nats-Request-Info", 17) == 0):
            buf_put(out, h + ls, i - ls)
    if out.len <= 12:               # "NATS/1.0\r\n\r\n": no header left
        out.len = 0
    return out.len


cdef inline bint needs_strip(const char* h, size_t hl, HdrVal* hv) noexcept:
    """A status on the first line, or a Nats-Request-Info header (rare: then strip_header)."""
    cdef size_t i = 8
    if hv[<int>H_REQUEST_INFO].p != NULL:
        return True
    if hl < 10 or memcmp(h, b"NATS/1.0", 8) != 0:
        return False
    while i < hl and h[i] != c'\r':
        i += 1
    return i > 8


cdef inline bint present(HdrVal* v) noexcept:
    """Present with a non-empty value (nats-server treats an empty value as absent)."""
    return v.p != NULL and v.n > 0


cdef inline uint64_t parse_int64(const char* p, size_t n) noexcept:
    """nats-server's parseInt64 cast to uint64: -1 (so 2^64-1) on anything but digits."""
    cdef uint64_t v = 0
    cdef size_t i
    if n == 0:
        return <uint64_t>-1
    for i in range(n):
        if p[i] < c'0' or p[i] > c'9':
            return <uint64_t>-1
        v = v * 10 + <uint64_t>(p[i] - c'0')
    return v


cdef inline bint valid_big_int(const char* p, size_t n) noexcept:
    """big.Int SetString(s, 10): an optional sign, then one or more digits."""
    cdef size_t i = 0
    if n and (p[0] == c'+' or p[0] == c'-'):
        i = 1
    if i == n:
        return False
    while i < n:
        if p[i] < c'0' or p[i] > c'9':
            return False
        i += 1
    return True


cdef int go_duration_ns(const char* p, size_t n, double* out) noexcept:
    """Go's time.ParseDuration: 1 and out (ns) if valid, else 0."""
    cdef size_t i = 0, us, ue
    cdef double total = 0, v, scale, unit
    cdef bint neg = False, digits
    if n and (p[0] == c'-' or p[0] == c'+'):
        neg = p[0] == c'-'
        i = 1
    if n - i == 1 and p[i] == c'0':
        out[0] = 0
        return 1
    if i == n:
        return 0
    while i < n:
        v = 0
        digits = False
        while i < n and c'0' <= p[i] <= c'9':
            v = v * 10 + (p[i] - c'0')
            i += 1
            digits = True
        if i < n and p[i] == c'.':
            i += 1
            scale = 0.1
            while i < n and c'0' <= p[i] <= c'9':
                v += (p[i] - c'0') * scale
                scale /= 10
                i += 1
                digits = True
        if not digits:
            return 0
        us = i
        while i < n and not (c'0' <= p[i] <= c'9') and p[i] != c'.':
            i += 1
        ue = i - us
        if ue == 2 and memcmp(p + us, b"ns", 2) == 0:
            unit = 1
        elif ue == 2 and memcmp(p + us, b"us", 2) == 0:
            unit = 1e3
        elif ue == 3 and (memcmp(p + us, b"\xc2\xb5s", 3) == 0 or memcmp(p + us, b"\xce\xbcs", 3) == 0):
            unit = 1e3
        elif ue == 2 and memcmp(p + us, b"ms", 2) == 0:
            unit = 1e6
        elif ue == 1 and p[us] == c's':
            unit = 1e9
        elif ue == 1 and p[us] == c'm':
            unit = 60e9
        elif ue == 1 and p[us] == c'h':
            unit = 3600e9
        else:
            return 0
        total += v * unit
    out[0] = -total if neg else total
    return 1


cdef enum TTLKind:
    TTL_NONE = 0       # absent, or a value that means "no TTL" ("00")
    TTL_SET = 1        # a valid TTL
    TTL_INVALID = 2


cdef int ttl_kind(HdrVal* v) noexcept:
    """nats-server's getMessageTTL reduced to what a stream without allow_msg_ttl needs."""
    cdef double d
    if not present(v):
        return TTL_NONE
    if v.n == 5 and (v.p[0] | 32) == c'n' and (v.p[1] | 32) == c'e' and (v.p[2] | 32) == c'v' \
            and (v.p[3] | 32) == c'e' and (v.p[4] | 32) == c'r':
        return TTL_SET
    if go_duration_ns(v.p, v.n, &d):
        return TTL_SET if d >= 1e9 else TTL_INVALID
    if parse_int64(v.p, v.n) == <uint64_t>-1:
        return TTL_INVALID
    return TTL_SET if parse_int64(v.p, v.n) > 0 else TTL_NONE


cdef inline int64_t now_ns() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    return <int64_t>t.tv_sec * 1000000000 + t.tv_nsec


# -- growable byte buffers ------------------------------------------------------------------------

cdef int buf_reserve(Buf* b, size_t extra) except -1:
    if b.len + extra > b.cap:
        grow(<void**>&b.p, &b.cap, b.len + extra, 256, 1)
    return 0


cdef inline int buf_put(Buf* b, const char* s, size_t n) except -1:
    if b.len + n > b.cap:
        buf_reserve(b, n)
    memcpy(b.p + b.len, s, n)
    b.len += n
    return 0


cdef int buf_u64(Buf* b, uint64_t v) except -1:
    cdef char tmp[24]
    cdef int i = 24
    if v == 0:
        return buf_put(b, b"0", 1)
    while v:
        i -= 1
        tmp[i] = <char>(c'0' + v % 10)
        v //= 10
    return buf_put(b, tmp + i, 24 - i)


cdef int buf_json_str(Buf* b, const char* s, size_t n) except -1:
    """The body of a JSON string as Go's encoding/json writes it (HTML-safe, invalid UTF-8 as
    U+FFFD)."""
    cdef size_t i = 0, k
    cdef uint8_t c
    cdef char hexd[16]
    cdef char esc[6]
    memcpy(hexd, b"0123456789abcdef", 16)
    while i < n:
        c = <uint8_t>s[i]
        if c < 0x80:
            if c == c'"' or c == c'\\':
                buf_put(b, b"\\", 1)
                buf_put(b, s + i, 1)
            elif c == c'\n':
                buf_put(b, b"\\n", 2)
            elif c == c'\r':
                buf_put(b, b"\\r", 2)
            elif c == c'\t':
                buf_put(b, b"\\t", 2)
            elif c < 0x20 or c == c'<' or c == c'>' or c == c'&':
                memcpy(esc, b"\\u00", 4)
                esc[4] = hexd[c >> 4]
                esc[5] = hexd[c & 15]
                buf_put(b, esc, 6)
            else:
                buf_put(b, s + i, 1)
            i += 1
            continue
        k = utf8_len(s + i, n - i)
        if k == 0:
            buf_put(b, b"\\ufffd", 6)
            i += 1
        elif k == 3 and <uint8_t>s[i] == 0xE2 and <uint8_t>s[i + 1] == 0x80 and \
                (<uint8_t>s[i + 2] == 0xA8 or <uint8_t>s[i + 2] == 0xA9):
            buf_put(b, b"\\u2028" if <uint8_t>s[i + 2] == 0xA8 else b"\\u2029", 6)
            i += 3
        else:
            buf_put(b, s + i, k)
            i += k
    return 0


cdef size_t utf8_len(const char* s, size_t n) noexcept:
    """Length of the valid UTF-8 sequence at s, 0 if invalid."""
    cdef uint8_t c = <uint8_t>s[0]
    cdef size_t k, i
    cdef uint32_t cp
    if c >= 0xC2 and c <= 0xDF:
        k, cp = 2, c & 0x1F
    elif c >= 0xE0 and c <= 0xEF:
        k, cp = 3, c & 0x0F
    elif c >= 0xF0 and c <= 0xF4:
        k, cp = 4, c & 0x07
    else:
        return 0
    if n < k:
        return 0
    for i in range(1, k):
        if (<uint8_t>s[i] & 0xC0) != 0x80:
            return 0
        cp = (cp << 6) | (<uint8_t>s[i] & 0x3F)
    if (k == 3 and (cp < 0x800 or 0xD800 <= cp <= 0xDFFF)) or (k == 4 and (cp < 0x10000 or cp > 0x10FFFF)):
        return 0
    return k


cdef int buf_go_quote(Buf* b, const char* s, size_t n) except -1:
    """Go's %q of an ASCII-ish string (strconv.Quote): \\" and \\\\ escaped, control and non-ASCII
    bytes as \\xNN (what a rollup value error echoes)."""
    cdef size_t i
    cdef uint8_t c
    cdef char esc[4]
    cdef char hexd[16]
    memcpy(hexd, b"0123456789abcdef", 16)
    buf_put(b, b"\"", 1)
    for i in range(n):
        c = <uint8_t>s[i]
        if c == c'"' or c == c'\\':
            buf_put(b, b"\\", 1)
            buf_put(b, s + i, 1)
        elif c < 0x20 or c >= 0x7F:
            esc[0], esc[1], esc[2], esc[3] = c'\\', c'x', hexd[c >> 4], hexd[c & 15]
            buf_put(b, esc, 4)
        else:
            buf_put(b, s + i, 1)
    return buf_put(b, b"\"", 1)


# -- the kernel -----------------------------------------------------------------------------------

cdef class StreamIngest(Subscriber):
    """The publish path of one stream: a server-internal subscriber on its subjects.

    StreamIngest(core, store, name, config=None, domain=None, account=None). See stream.pxd.
    """

    def __cinit__(self):
        self.wants_batch_end = True

    def __init__(self, ServerCore core not None, MsgLog store not None, bytes name not None,
                 config=None, domain=None, Account account=None):
        self.core = core
        self.store = store
        self.store_py = store
        self.name = name
        self.domain = domain or None
        self.account = account if account is not None else core.global_account
        self.dd = DedupeTable()
        self.on_durable = self._durable_cb
        prefix = b'{"stream":' + _json_quote(name)
        if self.domain:
            prefix += b',"domain":' + _json_quote(self.domain)
        self.ack_prefix = prefix + b',"seq":'
        self.prefix_p, self.prefix_n = PyBytes_AS_STRING(self.ack_prefix), PyBytes_GET_SIZE(self.ack_prefix)
        self.name_p, self.name_n = PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name)
        self.reconfigure(config or {})
        self.rebuild_dedupe()

    def __dealloc__(self):
        free(self.last_msg_id.p)
        free(self.out.p)
        free(self.hdr_buf.p)
        free(self.arena.p)
        free(self.pend)

    def reconfigure(self, config):
        """Apply the stream config's publish-side fields (nats-server StreamConfig JSON names)."""
        cfg = dict(config)
        for key in UNSUPPORTED_SWITCHES:
            if cfg.get(key):
                raise ValueError(f"{key} is not supported by natsx yet")
        mms = cfg.get("max_msg_size")
        self.max_msg_size = -1 if not mms or mms < 0 else mms   # 0 is unlimited too (nats-server)
        self.sealed = bool(cfg.get("sealed", False))
        self.no_ack = bool(cfg.get("no_ack", False))
        self.allow_rollup = bool(cfg.get("allow_rollup_hdrs", False)) and not cfg.get("deny_purge", False)
        # nats-server: an unset (0) window is 2 minutes, or max_age when that is shorter
        window = int(cfg.get("duplicate_window") or 0)
        if window <= 0:
            max_age = int(cfg.get("max_age") or 0)
            window = min(DEFAULT_DUPLICATE_WINDOW_NS, max_age) if max_age > 0 else DEFAULT_DUPLICATE_WINDOW_NS
        self.dd.window_ns = window
        if self.dd.window_ns <= 0:
            self.dd.clear_all()

    def rebuild_dedupe(self):
        """Reload the duplicate window from the stored messages' Nats-Msg-Id headers (as
        nats-server's rebuildDedupe on open): every message younger than the window, in C.
        Returns how many ids were loaded."""
        cdef MsgLog st = self.store
        cdef int64_t now = now_ns(), window = self.dd.window_ns
        cdef uint64_t seq, start, last = st.last_seq
        cdef Slot* slot
        cdef MsgView mv
        cdef HdrVal hv[H_COUNT]
        cdef size_t n = 0
        self.dd.clear_all()
        self.last_msg_id.len = 0
        if window <= 0 or st.msgs == 0:
            return 0
        # the oldest stored sequence inside the window (timestamps ascend with sequences;
        # removed sequences are skipped)
        start = last + 1
        seq = last
        while seq >= st.first_seq and seq > 0:
            slot = st._slot(seq)
            if slot != NULL and slot.sid != SID_NONE:
                if slot.ts <= now - window:
                    break
                start = seq
            seq -= 1
        for seq in range(start, last + 1):
            if not st.view(seq, &mv):
                continue
            if mv.hdr_len:
                parse_headers(mv.hdr, mv.hdr_len, hv)
                if present(&hv[<int>H_MSG_ID]):
                    self.dd.insert(hv[<int>H_MSG_ID].p, hv[<int>H_MSG_ID].n, mv.seq, mv.ts)
                    n += 1
                    if seq == last:
                        buf_put(&self.last_msg_id, hv[<int>H_MSG_ID].p, hv[<int>H_MSG_ID].n)
        return n

    def expire_dedupe(self):
        """Drop the ids that left the window (lookups do this too; a timer may call it so that
        dedupe_count and memory follow the window when no ids arrive)."""
        self.dd.expire(now_ns())

    # -- per message ---------------------------------------------------------------------------

    cdef int deliver(self, Subscription sub, const char* subject, Py_ssize_t subject_len,
                     const char* reply, Py_ssize_t reply_len, const char* hdr, Py_ssize_t hdr_len,
                     const char* payload, Py_ssize_t payload_len) except -1:
        if self.closed:
            return 0
        if hdr == NULL or hdr_len < 0:
            hdr_len = 0
        if reply == NULL or self.no_ack:
            reply_len = 0
        return self._ingest(subject, subject_len, reply, reply_len, hdr, hdr_len, payload, payload_len)

    cdef int _ingest(self, const char* subject, Py_ssize_t subject_len,
                     const char* reply, Py_ssize_t reply_len,
                     const char* hdr, Py_ssize_t hdr_len,
                     const char* payload, Py_ssize_t payload_len) except -1:
        cdef HdrVal hv[H_COUNT]
        cdef HdrVal* v
        cdef MsgLog st = self.store
        cdef uint64_t seq, want, have
        cdef int64_t now
        cdef size_t hl = <size_t>hdr_len, ml = <size_t>payload_len, sl = <size_t>subject_len, i
        cdef uint64_t fsize
        cdef int ttl = TTL_NONE, rollup = 0, lim
        cdef const char* ssubj
        cdef size_t ssl
        cdef char c

        if hl:
            parse_headers(hdr, hl, hv)
            if needs_strip(hdr, hl, hv):
                hl = strip_header(hdr, hl, &self.hdr_buf)
                hdr = self.hdr_buf.p
                parse_headers(hdr, hl, hv)
        fsize = 22 + sl + ml + 8 + ((4 + hl) if hl else 0)
        if self.store.persistent and fsize > FILE_MSG_TOO_LARGE:
            return self._err(reply, reply_len, 503, 10077, b"message too large")
        if self.sealed:
            return self._err(reply, reply_len, 400, 10109, b"invalid operation on sealed stream")
        # nats-server 2.15 checks the size before any header (measured: tests/jetstream).
        if self.max_msg_size >= 0 and (<int64_t>hl > self.max_msg_size or <int64_t>ml > self.max_msg_size - <int64_t>hl):
            return self._err(reply, reply_len, 400, 10054, b"message size exceeds maximum allowed")
        # Fast batches (a reply ending in .$FI) and atomic batches (Nats-Batch-Id) take their own
        # path in nats-server; natsx streams cannot enable them, so they get its "disabled" answers.
        if reply_len > 4 and memcmp(reply + reply_len - 4, b".$FI", 4) == 0:
            return self._err(reply, reply_len, 400, 10205, b"batch publish is disabled")
        if hl and present(&hv[<int>H_BATCH_ID]):
            return self._err(reply, reply_len, 400, 10174, b"atomic publish is disabled")
        if hl > 65535:
            return self._err(reply, reply_len, 400, 10097, b"header size exceeds maximum allowed of 64k")
        now = now_ns()
        if hl:
            v = &hv[<int>H_INCR]
            if present(v):
                if not valid_big_int(v.p, v.n):
                    return self._err(reply, reply_len, 400, 10171, b"message counter increment is invalid")
                return self._err(reply, reply_len, 400, 10168, b"message counters is disabled")
            v = &hv[<int>H_EXP_STREAM]
            if present(v) and (v.n != self.name_n or memcmp(v.p, self.name_p, v.n) != 0):
                return self._err(reply, reply_len, 400, 10060, b"expected stream does not match")
            ttl = ttl_kind(&hv[<int>H_TTL])
            if ttl == TTL_SET:
                return self._err(reply, reply_len, 400, 10166, b"per-message TTL is disabled")
            v = &hv[<int>H_EXP_LAST_SUBJ_SEQ]
            if present(v):
                want = parse_int64(v.p, v.n)
                ssubj, ssl = subject, sl
                if present(&hv[<int>H_EXP_LAST_SUBJ_SEQ_SUBJ]):
                    ssubj, ssl = hv[<int>H_EXP_LAST_SUBJ_SEQ_SUBJ].p, hv[<int>H_EXP_LAST_SUBJ_SEQ_SUBJ].n
                have = self._last_of(ssubj, ssl)
                if have != want:
                    return self._wrong_last(reply, reply_len, have)
            elif present(&hv[<int>H_EXP_LAST_SUBJ_SEQ_SUBJ]):
                return self._err(reply, reply_len, 400, 10193, b"missing sequence for expected last sequence per subject")
            v = &hv[<int>H_EXP_LAST_SEQ]
            if present(v) and parse_int64(v.p, v.n) != st.last_seq:
                return self._wrong_last(reply, reply_len, st.last_seq)
            if present(&hv[<int>H_SCHEDULE]):
                return self._err(reply, reply_len, 400, 10188, b"message schedules is disabled")
            v = &hv[<int>H_SCHEDULE_TZ]
            if v.p != NULL and (v.n == 0 or not _known_zone(PyBytes_FromStringAndSize(v.p, v.n))):
                return self._err(reply, reply_len, 400, 10188, b"message schedules is disabled")
            v = &hv[<int>H_SCHEDULE_NEXT]
            if present(v):
                if v.n != 5 or memcmp(v.p, b"purge", 5) != 0 or not present(&hv[<int>H_SCHEDULER]) \
                        or (hv[<int>H_SCHEDULER].n == sl and memcmp(hv[<int>H_SCHEDULER].p, subject, sl) == 0) \
                        or not _valid_publish_subject(hv[<int>H_SCHEDULER].p, hv[<int>H_SCHEDULER].n):
                    return self._err(reply, reply_len, 400, 10212, b"message schedules invalid scheduler")
                return self._err(reply, reply_len, 400, 10188, b"message schedules is disabled")
            if present(&hv[<int>H_SCHEDULER]):
                return self._err(reply, reply_len, 400, 10212, b"message schedules invalid scheduler")
            if present(&hv[<int>H_STREAM_SOURCE]):
                return self._err(reply, reply_len, 400, 10227, b"message stream source header is not allowed")
            v = &hv[<int>H_MSG_ID]
            if present(v):
                seq = self.dd.lookup(v.p, v.n, now)
                if seq:
                    self.duplicates += 1
                    if reply_len:
                        self._queue_ack(reply, reply_len, seq, True)
                    return 0
            v = &hv[<int>H_EXP_LAST_MSG_ID]
            if present(v) and (v.n != self.last_msg_id.len or memcmp(v.p, self.last_msg_id.p, v.n) != 0):
                if reply_len == 0:
                    return self._err(reply, 0, 0, 0, b"")
                self.out.len = 0
                buf_put(&self.out, b"wrong last msg ID: ", 19)
                buf_put(&self.out, self.last_msg_id.p, self.last_msg_id.len)
                return self._err_buf(reply, reply_len, 400, 10070)
            v = &hv[<int>H_ROLLUP]
            if present(v):
                if not self.allow_rollup:
                    return self._err(reply, reply_len, 500, 10111, b"rollup not permitted")
                if v.n == 3 and (v.p[0] | 32) == c's' and (v.p[1] | 32) == c'u' and (v.p[2] | 32) == c'b':
                    rollup = 1
                elif v.n == 3 and (v.p[0] | 32) == c'a' and (v.p[1] | 32) == c'l' and (v.p[2] | 32) == c'l':
                    rollup = 2
                else:
                    if reply_len == 0:
                        return self._err(reply, 0, 0, 0, b"")
                    self.out.len = 0
                    buf_put(&self.out, b"rollup value invalid: ", 22)
                    buf_reserve(&self.arena, v.n)   # scratch for the lowercased value
                    for i in range(v.n):
                        c = v.p[i]
                        self.arena.p[self.arena.len + i] = c + 32 if c'A' <= c <= c'Z' else c
                    buf_go_quote(&self.out, self.arena.p + self.arena.len, v.n)
                    return self._err_buf(reply, reply_len, 500, 10111)
        if ttl == TTL_INVALID:
            return self._err(reply, reply_len, 400, 10165, b"invalid per-message TTL")
        lim = self._limit_error(subject, sl, hl, ml, rollup != 0)
        if lim == 1:
            return self._err(reply, reply_len, 503, 10077, b"maximum messages per subject exceeded")
        if lim == 2:
            return self._err(reply, reply_len, 503, 10077, b"maximum messages exceeded")
        if lim == 3:
            return self._err(reply, reply_len, 503, 10077, b"maximum bytes exceeded")
        if st.closed:
            return self._err(reply, reply_len, 503, 10077, b"store is closed")
        if sl > 65535:
            return self._err(reply, reply_len, 503, 10077, b"invalid subject")
        if rollup:
            seq = self._append_rollup(subject, sl, hdr, hl, payload, ml, now)
        else:
            # Cannot fail: everything append_c refuses was refused above, except running out of
            # memory or disk while opening a new block (then the exception ends this batch).
            seq = st.append_c(subject, sl, hdr, hl, payload, ml, now)
        self.stored += 1
        self.last_msg_id.len = 0
        if hl:
            v = &hv[<int>H_MSG_ID]
            if present(v):
                buf_put(&self.last_msg_id, v.p, v.n)
                self.dd.insert(v.p, v.n, seq, now)
            if rollup:
                self._rollup(subject, subject_len, rollup == 2)
        if reply_len:
            self._queue_ack(reply, reply_len, seq, False)
        return 0

    cdef uint64_t _append_rollup(self, const char* subject, size_t sl, const char* hdr, size_t hl,
                                 const char* payload, size_t ml, int64_t now) except 0:
        """A rollup message may pass a full subject under discard_new_per_subject: it trims the
        subject right after (nats-server lets it through the same way)."""
        cdef MsgLog st = self.store
        cdef bint per_subj = st.discard_new_per_subject
        st.discard_new_per_subject = False
        try:
            return st.append_c(subject, sl, hdr, hl, payload, ml, now)
        finally:
            st.discard_new_per_subject = per_subj

    cdef uint64_t _last_of(self, const char* subj, size_t n) except? 0:
        """nats-server's LoadLastMsg(subject).seq, 0 when nothing matches."""
        cdef MsgLog st = self.store
        cdef uint32_t sid
        cdef size_t i
        for i in range(n):
            if subj[i] == c'*' or subj[i] == c'>':
                return self._last_of_filter(PyBytes_FromStringAndSize(subj, n))
        sid = st.sx.lookup(subj, n, <uint32_t>_xxh3(subj, n))
        if sid == SID_NONE or st.sx.subj[sid].count == 0:
            return 0
        return st._subj_last(sid)

    cdef uint64_t _last_of_filter(self, bytes flt) except? 0:
        # A wildcard subject in Nats-Expected-Last-Subject-Sequence-Subject: a filtered lookup
        # through the store's Python face (rare; one call for this message).
        try:
            return self.store_py.load_last(flt).seq
        except Exception:
            return 0

    cdef int _limit_error(self, const char* subj, size_t sl, size_t hl, size_t ml, bint rollup) noexcept:
        """The discard-new refusals of nats-server's storeRawMsg (file and memory store alike),
        decided before MsgLog.append_c so the append does not raise: 1 per subject, 2 messages,
        3 bytes, 0 none. A subject at its limit is "replaced", so it passes max_msgs and, if
        its oldest message is at least as big, max_bytes."""
        cdef MsgLog st = self.store
        cdef uint32_t sid
        cdef uint32_t sz
        cdef bint asl = False
        cdef Slot* fs
        if not st.discard_new:
            return 0
        sid = st.sx.lookup(subj, sl, <uint32_t>_xxh3(subj, sl))
        if sid != SID_NONE and st.max_per_subject > 0 and st.sx.subj[sid].count >= <uint64_t>st.max_per_subject:
            asl = True
            if st.discard_new_per_subject and not rollup:
                return 1
        if st.max_msgs > 0 and st.msgs >= <uint64_t>st.max_msgs and not asl:
            return 2
        sz = st._msg_size(sl, hl, ml)
        if st.max_bytes > 0 and st.total_bytes + sz > <uint64_t>st.max_bytes:
            if not asl:
                return 3
            fs = st._slot(st._subj_first(sid))
            if fs == NULL or fs.sz < sz:
                return 3
        return 0

    cdef int _rollup(self, const char* subject, Py_ssize_t subject_len, bint all) except -1:
        """Nats-Rollup after a store: sub keeps only this message of its subject (C, the per-subject
        trim path); all keeps only this message (a compaction through the store's Python face)."""
        cdef MsgLog st = self.store
        cdef uint32_t sid
        if all:
            if st.msgs > 1:
                self.store_py.compact(st.last_seq)
            return 0
        sid = st.sx.lookup(subject, subject_len, <uint32_t>_xxh3(subject, subject_len))
        if sid != SID_NONE:
            while st.sx.subj[sid].count > 1:
                st._remove(st._subj_first(sid))
        return 0

    # -- acks -----------------------------------------------------------------------------------

    cdef int _wrong_last(self, const char* reply, Py_ssize_t reply_len, uint64_t seq) except -1:
        if reply_len == 0:
            return self._err(reply, 0, 0, 0, b"")
        self.out.len = 0
        buf_put(&self.out, b"wrong last sequence: ", 21)
        buf_u64(&self.out, seq)
        return self._err_buf(reply, reply_len, 400, 10071)

    cdef int _err(self, const char* reply, Py_ssize_t reply_len, int code, int err_code,
                  const char* desc) except -1:
        if reply_len == 0:
            # nothing to answer; self.out untouched (this may run nested inside an ack's delivery)
            self.errors += 1
            return 0
        self.out.len = 0
        buf_put(&self.out, desc, strlen(desc))
        return self._err_buf(reply, reply_len, code, err_code)

    cdef int _err_buf(self, const char* reply, Py_ssize_t reply_len, int code, int err_code) except -1:
        """An error pub ack with the description in self.out, sent at once (nothing to make
        durable): {"error":{"code":C,"err_code":E,"description":"D"},"stream":"S","seq":0}."""
        cdef Buf b
        self.errors += 1
        if reply_len == 0:
            return 0
        b.p, b.len, b.cap = NULL, 0, 0
        try:
            buf_put(&b, b'{"error":{"code":', 17)
            buf_u64(&b, code)
            buf_put(&b, b',"err_code":', 12)
            buf_u64(&b, err_code)
            buf_put(&b, b',"description":"', 16)
            buf_json_str(&b, self.out.p, self.out.len)
            buf_put(&b, b'"},"stream":', 12)
            buf_json_str_quoted(&b, self.name)
            buf_put(&b, b',"seq":0}', 9)
            self._send(reply, reply_len, b.p, b.len)
            self.acks_sent += 1
        finally:
            free(b.p)
        return 0

    cdef int _queue_ack(self, const char* reply, Py_ssize_t reply_len, uint64_t seq, bint dup) except -1:
        """A success (or duplicate) ack for seq: sent once seq is durable. A memory store's appends
        are durable when they return, so its acks go at once."""
        cdef PendingAck* a
        cdef PendingAck* np
        cdef size_t cap, i
        if not self.store.persistent and self.pend_n == 0:
            return self._send_ack(reply, reply_len, seq, dup)
        if self.pend_n == self.pend_cap:
            cap = self.pend_cap * 2 if self.pend_cap else 1024
            np = <PendingAck*>malloc(cap * sizeof(PendingAck))
            if np == NULL:
                raise MemoryError()
            for i in range(self.pend_n):
                np[i] = self.pend[(self.pend_head + i) % self.pend_cap]
            free(self.pend)
            self.pend, self.pend_cap, self.pend_head = np, cap, 0
        a = &self.pend[(self.pend_head + self.pend_n) % self.pend_cap]
        a.seq = seq
        a.reply_off = self.arena.len
        a.reply_len = <uint32_t>reply_len
        a.duplicate = dup
        buf_put(&self.arena, reply, reply_len)
        self.pend_n += 1
        return 0

    cdef int _send_ack(self, const char* reply, size_t reply_len, uint64_t seq, bint dup) except -1:
        self.out.len = 0
        buf_put(&self.out, self.prefix_p, self.prefix_n)
        buf_u64(&self.out, seq)
        if dup:
            buf_put(&self.out, b',"duplicate": true}', 19)
        else:
            buf_put(&self.out, b"}", 1)
        self._send(reply, reply_len, self.out.p, self.out.len)
        self.acks_sent += 1
        return 0

    cdef int _send(self, const char* subj, size_t subj_len, const char* data, size_t data_len) except -1:
        """Publish data to subj from the server (C level: ServerCore.publish without the bytes
        objects). Frames join the current batch's output; callers outside a batch flush."""
        cdef ServerCore core = self.core
        cdef SublistResult r = self.account.sublist.match_c(subj, subj_len)
        cdef const char* size_tok = core.size_tok
        cdef const char* hdr_tok = core.hdr_tok
        core.size_tok = core.hdr_tok = NULL
        core.deliver_result(r, None, True, subj, subj_len, b"", 0, NULL, 0, data, data_len)
        core.size_tok = size_tok
        core.hdr_tok = hdr_tok
        return 0

    cdef int _release(self, uint64_t durable) except -1:
        """Send the queued acks whose sequence is durable, in order."""
        cdef PendingAck* a
        while self.pend_n:
            a = &self.pend[self.pend_head]
            if a.seq > durable:
                break
            self._send_ack(self.arena.p + a.reply_off, a.reply_len, a.seq, a.duplicate)
            self.pend_head = (self.pend_head + 1) % self.pend_cap
            self.pend_n -= 1
        if self.pend_n == 0:
            self.arena.len = 0
        elif self.pend[self.pend_head].reply_off > (1 << 20) and \
                self.pend[self.pend_head].reply_off * 2 > self.arena.len:
            self._compact_arena()
        return 0

    cdef int _compact_arena(self) except -1:
        cdef size_t shift = self.pend[self.pend_head].reply_off, i
        memmove(self.arena.p, self.arena.p + shift, self.arena.len - shift)
        self.arena.len -= shift
        for i in range(self.pend_n):
            self.pend[(self.pend_head + i) % self.pend_cap].reply_off -= shift
        return 0

    cdef int batch_end(self) except -1:
        """Once per input batch: commit the batch's appends (group commit), send what is durable,
        and arrange one callback for the rest."""
        if self.closed:
            return 0
        try:
            self.store.commit_c()
        except Exception as exc:   # the store could not write (disk full, I/O error): per batch
            self._write_failed(exc)
        if self.pend_n:
            self._release_durable()
        return 0

    cdef int _write_failed(self, object exc) except -1:
        """The store took back what write(2) refused (its sequences may be assigned again): those
        messages get no ack, as nats-server answers nothing on a store write error, and their ids
        leave the window. What was written before stays queued for its fdatasync."""
        cdef uint64_t last = self.store.last_seq
        cdef size_t i, kept = 0
        cdef PendingAck* a
        log.error("stream %s: store write failed (%s); messages after seq %d were not stored",
                  self.name.decode(errors="replace"), exc, last)
        for i in range(self.pend_n):
            a = &self.pend[(self.pend_head + i) % self.pend_cap]
            if a.seq <= last:
                self.pend[(self.pend_head + kept) % self.pend_cap] = a[0]
                kept += 1
        self.pend_n = kept
        self.dd.drop_after(last)
        self.last_msg_id.len = 0
        return 0

    cdef int _release_durable(self) except -1:
        cdef uint64_t durable = self.store_py.durable_seq
        self._release(durable)
        self.core.flush_dirty()
        if self.pend_n and not self.waiting:
            self.waiting = True
            self.store_py.durable(self.pend[self.pend_head].seq).add_done_callback(self.on_durable)
        return 0

    def _durable_cb(self, fut):
        """The store's group commit covered the oldest queued ack: release what is durable."""
        self.waiting = False
        if self.closed:
            return
        exc = fut.exception()
        if exc is not None:
            # nats-server answers nothing when a store write fails; the publishers time out.
            log.error("stream %s: %s; %d publish acks dropped", self.name.decode(errors="replace"),
                      exc, self.pend_n)
            self._drop_pending()
            return
        self._release_durable()

    cdef void _drop_pending(self) noexcept:
        self.pend_n = 0
        self.pend_head = 0
        self.arena.len = 0

    # -- Python face ----------------------------------------------------------------------------

    def process(self, bytes subject not None, bytes payload=b"", bytes reply=None, bytes hdr=None):
        """One message from Python (internal publishes, tests): deliver() then batch_end()."""
        self.deliver(None, PyBytes_AS_STRING(subject), PyBytes_GET_SIZE(subject),
                     PyBytes_AS_STRING(reply) if reply is not None else NULL,
                     PyBytes_GET_SIZE(reply) if reply is not None else 0,
                     PyBytes_AS_STRING(hdr) if hdr is not None else NULL,
                     PyBytes_GET_SIZE(hdr) if hdr is not None else -1,
                     PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))
        self.batch_end()
        self.core.flush_dirty()

    def close(self):
        """Stop ingesting: later deliveries are ignored, queued acks are dropped (their
        publishers time out, as with nats-server when a stream goes away)."""
        self.closed = True
        self._drop_pending()
        self.dd.clear_all()

    @property
    def last_seq(self) -> int:
        return self.store.last_seq

    @property
    def last_msg_id(self) -> bytes:
        return PyBytes_FromStringAndSize(self.last_msg_id.p, self.last_msg_id.len)

    @property
    def dedupe_count(self) -> int:
        return len(self.dd)

    def dedupe_seq(self, bytes msg_id not None) -> int:
        """The sequence msg_id would be answered as a duplicate of now, 0 if none."""
        return self.dd.lookup(msg_id, len(msg_id), now_ns())

    @property
    def acks_pending(self) -> int:
        return self.pend_n

    @property
    def duplicate_window_ns(self) -> int:
        return self.dd.window_ns


cdef int buf_json_str_quoted(Buf* b, bytes s) except -1:
    buf_put(b, b"\"", 1)
    buf_json_str(b, PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s))
    return buf_put(b, b"\"", 1)


def _json_quote(bytes s) -> bytes:
    cdef Buf b
    b.p, b.len, b.cap = NULL, 0, 0
    try:
        buf_json_str_quoted(&b, s)
        return PyBytes_FromStringAndSize(b.p, b.len)
    finally:
        free(b.p)


cdef bint _valid_publish_subject(const char* s, size_t n) noexcept:
    """nats-server IsValidPublishSubject: non-empty tokens, no wildcards, no blanks."""
    cdef size_t i, tok = 0
    if n == 0:
        return False
    for i in range(n):
        if s[i] == c'.':
            if tok == 0:
                return False
            tok = 0
            continue
        if s[i] == c' ' or s[i] == c'\t' or s[i] == c'\r' or s[i] == c'\n':
            return False
        if (s[i] == c'*' or s[i] == c'>') and tok == 0 and (i + 1 == n or s[i + 1] == c'.'):
            return False
        tok += 1
    return tok > 0


def _known_zone(bytes name) -> bool:
    """Go's time.LoadLocation accepts the name (checked only for a Nats-Schedule-Time-Zone header,
    which a stream without schedules refuses either way unless the zone is valid and alone)."""
    if name in (b"UTC", b"Local"):
        return True
    try:
        zoneinfo.ZoneInfo(name.decode())
        return True
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        return False
