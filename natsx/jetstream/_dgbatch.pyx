# A direct-get batch (`{"seq"|"next_by_subj", "batch": N}`) answered in C: the store's replay
# interface (MsgLog.next_msg) gives a view of each message, its header block is stamped with
# Nats-Stream / Nats-Subject / Nats-Sequence / Nats-Time-Stamp / Nats-Num-Pending /
# Nats-Last-Sequence (nats-server's genHeader order) in one reused C buffer, and the frame goes to
# the reply's subscribers through ServerCore.deliver_result: no Python object per message.
# natsx.jetstream.direct decides the request and sends the final EOB status.

from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy
from libc.stdio cimport snprintf
from libc.time cimport time_t, tm

from natsx._core.conn cimport ServerCore
from natsx._core.msglog cimport MsgLog
from natsx._core.record cimport MsgView
from natsx._core.subjidx cimport SubjectFilter
from natsx._core.sublist cimport SublistResult

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE


cdef extern from "<time.h>" nogil:
    tm* gmtime_r(const time_t* timep, tm* result)


cdef struct Buf:
    char* p
    Py_ssize_t n
    Py_ssize_t cap


cdef int _reserve(Buf* b, Py_ssize_t more) except -1:
    cdef Py_ssize_t want = b.n + more
    cdef char* q
    if want <= b.cap:
        return 0
    want = want * 2 if want > 256 else 512
    q = <char*>realloc(b.p, want)
    if q == NULL:
        raise MemoryError()
    b.p = q
    b.cap = want
    return 0


cdef int _put(Buf* b, const char* s, Py_ssize_t n) except -1:
    _reserve(b, n)
    memcpy(b.p + b.n, s, n)
    b.n += n
    return 0


cdef int _put_u64(Buf* b, uint64_t v) except -1:
    cdef char tmp[24]
    cdef int n = snprintf(tmp, sizeof(tmp), "%llu", <unsigned long long>v)
    return _put(b, tmp, n)


cdef int _put_time(Buf* b, int64_t ns) except -1:
    """RFC 3339 with nanoseconds, trailing zeros dropped (Go's time.RFC3339Nano) in UTC."""
    cdef time_t sec = <time_t>(ns // 1000000000)
    cdef int64_t frac = ns % 1000000000
    cdef tm t
    cdef char tmp[48]
    cdef int n, k
    if frac < 0:
        frac += 1000000000
        sec -= 1
    gmtime_r(&sec, &t)
    n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d", t.tm_year + 1900, t.tm_mon + 1,
                 t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    if frac:
        k = snprintf(tmp + n, sizeof(tmp) - n, ".%09lld", <long long>frac)
        while k > 1 and tmp[n + k - 1] == b'0':
            k -= 1
        n += k
    tmp[n] = b'Z'
    return _put(b, tmp, n + 1)


cdef int _line(Buf* b, const char* key, Py_ssize_t kn) except -1:
    _put(b, key, kn)
    return _put(b, ": ", 2)


def send_batch(ServerCore core, MsgLog store, bytes reply not None, bytes stream not None,
               uint64_t seq, SubjectFilter flt, long batch, Py_ssize_t budget, bint no_hdr,
               uint64_t pending):
    """Send up to `batch` messages at or after `seq` matching `flt` (None: all) to `reply`,
    stopping once `budget` bytes (subject + header + payload, as nats-server counts) went out.
    Returns (messages sent, last sequence sent, pending left)."""
    cdef SublistResult r = core.global_account.sublist.match_c(PyBytes_AS_STRING(reply), PyBytes_GET_SIZE(reply))
    cdef const char* size_tok = core.size_tok
    cdef const char* hdr_tok = core.hdr_tok
    cdef MsgView v
    cdef Buf b
    cdef long sent = 0
    cdef uint64_t last = 0
    cdef Py_ssize_t sent_bytes = 0, base
    b.p = NULL
    b.n = b.cap = 0
    core.size_tok = core.hdr_tok = NULL    # a server publish: no echoed size tokens (ServerCore.publish)
    try:
        while sent < batch and store.next_msg(&seq, flt, &v):
            b.n = 0
            if not no_hdr:         # nats-server counts pending down only for stamped replies
                if pending > 0:
                    pending -= 1
                if v.hdr_len > 2:
                    _put(&b, v.hdr, v.hdr_len - 2)
                else:
                    _put(&b, "NATS/1.0\r\n", 10)
                _line(&b, "Nats-Stream", 11)
                _put(&b, PyBytes_AS_STRING(stream), PyBytes_GET_SIZE(stream))
                _put(&b, "\r\n", 2)
                _line(&b, "Nats-Subject", 12)
                _put(&b, v.subj, v.subj_len)
                _put(&b, "\r\n", 2)
                _line(&b, "Nats-Sequence", 13)
                _put_u64(&b, v.seq)
                _put(&b, "\r\n", 2)
                _line(&b, "Nats-Time-Stamp", 15)
                _put_time(&b, v.ts)
                _put(&b, "\r\n", 2)
                _line(&b, "Nats-Num-Pending", 16)
                _put_u64(&b, pending)
                _put(&b, "\r\n", 2)
                _line(&b, "Nats-Last-Sequence", 18)
                _put_u64(&b, last)
                _put(&b, "\r\n\r\n", 4)
            core.deliver_result(r, None, True, PyBytes_AS_STRING(reply), PyBytes_GET_SIZE(reply), NULL, 0,
                                NULL if no_hdr else b.p, 0 if no_hdr else b.n, v.msg, v.msg_len)
            last = v.seq
            sent += 1
            seq = v.seq + 1
            sent_bytes += v.subj_len + v.hdr_len + v.msg_len
            if sent_bytes >= budget:
                break
    finally:
        core.size_tok, core.hdr_tok = size_tok, hdr_tok
        free(b.p)
    core.flush_dirty()
    return sent, last, pending
