# cython: freethreading_compatible = False
"""The load generator's hot core: NATS client connections driven from one C poll loop.

Python sets a connection up (handshake, subscriptions, what to send) and reads the counters
afterwards; everything per message -- building PUB/HPUB frames into big writes, parsing
MSG/HMSG deliveries, counting them, matching replies, timing requests, acking JetStream
messages, answering service requests -- runs here without touching Python objects.
"""
from cpython.list cimport PyList_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memmove, memcmp, strerror
from libc.errno cimport errno, EAGAIN, EINTR
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from natsx._core.parser cimport Parser, PARSE_OK, PARSE_STOP, ROLE_CLIENT_SIDE

cdef extern from "<sys/socket.h>" nogil:
    ssize_t c_send "send"(int fd, const void* buf, size_t n, int flags)
    ssize_t c_recv "recv"(int fd, void* buf, size_t n, int flags)
    int MSG_NOSIGNAL

cdef extern from "<errno.h>" nogil:
    int EWOULDBLOCK

cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    int c_poll "poll"(pollfd* fds, unsigned long nfds, int timeout)
    short POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL

# What a connection does inside run().
ROLE_NONE = 0      # control traffic only (requests from Python, flushes)
ROLE_PUB = 1       # publish `todo` frames as fast as the socket takes them, then flush
ROLE_SUB = 2       # count deliveries until `target`
ROLE_REQ = 3       # request/reply: `window` outstanding, each reply counted and timed
ROLE_SERVE = 4     # answer every request with "ok" (runs until the deadline or an interrupt)
ROLE_PULL = 5      # JetStream pull consumer: pull, count, ack
ROLE_BATCHGET = 6  # batched direct gets: one request for `batch` messages at a time, until its EOB

cdef enum:
    R_NONE = 0
    R_PUB = 1
    R_SUB = 2
    R_REQ = 3
    R_SERVE = 4
    R_PULL = 5
    R_BATCHGET = 6

# Header modes of generated frames (besides the user's fixed header lines).
cdef enum:
    H_NONE = 0
    H_BATCH = 1    # JetStream atomic batch headers (Nats-Batch-Id/-Sequence/-Commit)

HDR_NONE = H_NONE
HDR_BATCH = H_BATCH

DEF CHUNK = 262144           # bytes generated per refill of the write buffer
DEF RBUF = 1048576           # read buffer
DEF HDR_MAX = 4096           # a generated header block
DEF GET_BODY_MAX = 1024      # a batched get request (its subject filter at most 900 bytes)


cdef inline long long now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <long long>ts.tv_sec * 1000000000 + ts.tv_nsec


def monotonic_ns() -> int:
    """The clock the counters use (CLOCK_MONOTONIC, ns)."""
    return now_ns()


cdef inline Py_ssize_t fmt_uint(char* out, unsigned long long v, int width) noexcept nogil:
    """Decimal digits of v, zero-padded to `width`; returns the length written."""
    cdef char tmp[24]
    cdef int k = 0, i
    while True:
        tmp[k] = <char>(48 + v % 10)
        k += 1
        v //= 10
        if v == 0:
            break
    while k < width:
        tmp[k] = 48
        k += 1
    for i in range(k):
        out[i] = tmp[k - 1 - i]
    return k


cdef inline bint contains(const char* s, Py_ssize_t n, const char* w, Py_ssize_t wn) noexcept nogil:
    cdef Py_ssize_t i
    if n < wn:
        return False
    for i in range(n - wn + 1):
        if s[i] == w[0] and memcmp(s + i, w, wn) == 0:
            return True
    return False


cdef inline int status_code(const char* hdr, Py_ssize_t n) noexcept nogil:
    """The status of a "NATS/1.0 408 ..." header block; 0 for a plain header block."""
    if n < 12 or memcmp(hdr, b"NATS/1.0 ", 9) != 0:
        return 0
    if hdr[9] < c'0' or hdr[9] > c'9':
        return 0
    return (hdr[9] - 48) * 100 + (hdr[10] - 48) * 10 + (hdr[11] - 48)


cdef long long header_int(const char* hdr, Py_ssize_t n, const char* name, Py_ssize_t nl) noexcept nogil:
    """Value of a numeric header ("Name: 123"), -1 if absent."""
    cdef Py_ssize_t i = 0, j
    cdef long long v
    while i + nl < n:
        if (i == 0 or hdr[i - 1] == c'\n') and memcmp(hdr + i, name, nl) == 0 and hdr[i + nl] == c':':
            j = i + nl + 1
            while j < n and hdr[j] == c' ':
                j += 1
            v = 0
            while j < n and hdr[j] >= c'0' and hdr[j] <= c'9':
                v = v * 10 + (hdr[j] - 48)
                j += 1
            return v
        i += 1
    return -1


cdef class LoadConnection(Parser):
    """One NATS connection (a non-blocking socket whose handshake Python already did)."""
    cdef public object sock
    cdef int fd
    cdef int role
    # Output: wbuf[wpos:wlen] is still to be written.
    cdef char* wbuf
    cdef Py_ssize_t wpos, wlen, wcap
    cdef char* rbuf
    # Replies to control requests (sid "1"): (subject, headers or None, payload) tuples.
    cdef public list ctl
    cdef public list errors
    cdef public Py_ssize_t want_ctl
    cdef public long long pongs, want_pongs
    # Counters and clocks (ns).
    cdef public long long received, target, sent, todo, completed, failures, statuses
    cdef public long long start_ns, end_ns, last_ns
    cdef public bint track_last           # SUB: keep the time of the latest delivery (queue groups)
    cdef public long long out_bytes
    cdef public bint closed
    # Frame template for generated messages (PUB/REQ roles).
    cdef bytes subj, reply, payload, pull_subj, pull_reply, ack_reply
    cdef bytes hdr_lines                  # "K: V\r\n" lines on every frame (--header)
    cdef bytes batch_id                   # Nats-Batch-Id (HDR_BATCH)
    cdef bytes msg_id                     # Nats-Msg-Id prefix, the frame's number follows (--dedup)
    cdef public long long offset          # number of the first message (multisubject token, key)
    cdef public bint suffix               # subject + "." + number
    cdef public int suffix_width          # zero padding of the number
    cdef public long long suffix_mod      # number modulo this (0: none)
    cdef public long long rand_mod        # random numbers below this instead of sequential ones (0: off)
    cdef public bint json_seq             # payload is {"seq":N} with N = number + 1
    cdef public int hdr_mode
    cdef public int window                # requests in flight (REQ)
    cdef public bint lockstep             # wait for every reply before the next group of `window`
    cdef public int batch                 # atomic batch size (HDR_BATCH) / pull batch (PULL)
    cdef public bint check_errors         # a reply that is an error counts as a failure
    cdef public bint ack                  # PULL: ack every message
    cdef public bint double_ack           # PULL: each ack waits for the server's reply (sid 3) before the next
    cdef public bint fetch                # PULL: next pull only once the previous one is drained
    cdef public long long pull_expires_ns
    cdef public bytes get_filter          # BATCHGET: next_by_subj
    cdef public long long next_seq        # BATCHGET: where the next batch starts
    cdef public long long short_batches   # BATCHGET: batches that ended before `batch` messages
    cdef long long asked, in_batch
    cdef long long outstanding, pending, batch_pos, rng, req_t0
    # Messages that arrived and wait for the handler (a --sleep between messages, or a double ack
    # in flight): their reply subjects as 2-byte length + bytes entries in waitq[waitq_head:waitq_tail].
    cdef char* waitq
    cdef Py_ssize_t waitq_head, waitq_tail, waitq_cap
    cdef long long queued                 # waiting or in the handler (a double ack not yet confirmed)
    cdef bint ack_in_flight
    cdef public long long pace_ns         # --sleep: at least this long between two frames (0: none)
    cdef public long long rate_ns         # --throughput: frame k not before start + k * rate_ns (0: none)
    cdef public bint suffix_random        # --multisubjectrandomize: random subject numbers below suffix_mod
    cdef long long next_due               # when the next paced frame may go out
    cdef long long group_left, group_t    # REQ: frames of the current group still to send, last one's time
    cdef bint flushing
    # Constant-frame fast path: one block of identical frames sent over and over.
    cdef char* block
    cdef Py_ssize_t block_len, frame_len
    cdef long long const_left            # bytes of frames still to send from the block
    cdef Py_ssize_t block_pos
    # Latencies (ns) of requests.
    cdef unsigned long long* lat
    cdef public long long nlat
    cdef long long lat_cap

    def __cinit__(self, *args, **kwargs):
        self.set_role(ROLE_CLIENT_SIDE)
        self.max_control_line = 1 << 20
        self.wcap = CHUNK * 2
        self.wbuf = <char*>malloc(self.wcap)
        self.rbuf = <char*>malloc(RBUF)
        if self.wbuf == NULL or self.rbuf == NULL:
            raise MemoryError()
        self.rng = 0x9E3779B97F4A7C15

    def __init__(self, sock):
        self.sock = sock
        self.fd = sock.fileno()
        self.ctl = []
        self.errors = []
        self.subj = self.reply = self.payload = self.hdr_lines = self.batch_id = self.msg_id = b""
        self.pull_subj = self.pull_reply = self.ack_reply = b""
        self.get_filter = b">"
        self.window = 1
        self.batch = 1

    def __dealloc__(self):
        free(self.wbuf)
        free(self.rbuf)
        free(self.block)
        free(self.lat)
        free(self.waitq)

    # ---------------------------------------------------------------- setup from Python

    def write(self, data: bytes):
        """Queue raw protocol bytes (control frames)."""
        self._append(data, len(data))

    def set_template(self, subject: bytes, reply: bytes = b"", payload: bytes = b"",
                     bytes headers=b"", int hdr_mode=H_NONE, bytes batch_id=b"", bytes msg_id=b""):
        """What generated frames carry; `headers` are "K: V\r\n" lines for every frame."""
        if len(headers) + len(batch_id) + len(msg_id) + 128 > HDR_MAX:
            raise ValueError("headers too long")
        self.subj = subject
        self.reply = reply
        self.payload = payload
        self.hdr_lines = headers
        self.hdr_mode = hdr_mode
        self.batch_id = batch_id
        self.msg_id = msg_id

    def set_pull(self, subject: bytes, reply: bytes, ack_reply: bytes = b""):
        """Pull requests go to `subject` with replies to `reply`; double acks ask for their
        confirmation on `ack_reply` (subscribed with sid 3)."""
        self.pull_subj = subject
        self.pull_reply = reply
        self.ack_reply = ack_reply

    def start(self, int role, long long count):
        """Arm the connection for run(): `count` frames to send (PUB/REQ) or messages to get."""
        self.role = role
        self.received = self.sent = self.completed = self.failures = self.statuses = 0
        self.outstanding = self.pending = self.batch_pos = 0
        self.queued = self.waitq_head = self.waitq_tail = 0
        self.ack_in_flight = False
        self.start_ns = self.end_ns = 0
        self.next_due = self.group_left = 0
        self.flushing = False
        self.todo = count if role in (R_PUB, R_REQ) else 0
        self.target = count if role in (R_SUB, R_PULL, R_BATCHGET) else 0
        self.nlat = 0
        free(self.lat)
        self.lat = NULL
        self.lat_cap = 0
        self.short_batches = self.asked = self.in_batch = 0
        if role == R_BATCHGET:
            if len(self.get_filter) > 900:
                raise ValueError("subject filter too long")
            self.lat_cap = count // max(self.batch, 1) + 2
            self.lat = <unsigned long long*>malloc(self.lat_cap * sizeof(unsigned long long))
            if self.lat == NULL:
                raise MemoryError()
        if role == R_REQ:
            # One latency per request, or per group when a group is acked as a whole.
            self.lat_cap = count if self.window == 1 or self.hdr_mode == H_BATCH else count // self.window + 2
            self.lat = <unsigned long long*>malloc(max(self.lat_cap, 1) * sizeof(unsigned long long))
            if self.lat == NULL:
                raise MemoryError()
        free(self.block)
        self.block = NULL
        self.const_left = 0
        if role == R_PUB and count > 0 and self._constant():
            self._build_block(count)

    def latencies(self):
        """Request latencies in ns, in the order they completed."""
        return [self.lat[i] for i in range(self.nlat)]

    def parse(self, data: bytes):
        """Parse bytes read outside the hot loop (what followed INFO in the handshake)."""
        if data:
            if self.feed(data, len(data)) == PARSE_STOP:
                raise ConnectionError("protocol error from server")

    def out_pending(self) -> int:
        return self.wlen - self.wpos

    # ---------------------------------------------------------------- output

    cdef int _reserve(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t cap
        cdef char* p
        if self.wpos == self.wlen:
            self.wpos = self.wlen = 0
        if self.wlen + n <= self.wcap:
            return 0
        if self.wpos > 0:
            memmove(self.wbuf, self.wbuf + self.wpos, self.wlen - self.wpos)
            self.wlen -= self.wpos
            self.wpos = 0
            if self.wlen + n <= self.wcap:
                return 0
        cap = max(self.wcap * 2, self.wlen + n)
        p = <char*>realloc(self.wbuf, cap)
        if p == NULL:
            raise MemoryError()
        self.wbuf = p
        self.wcap = cap
        return 0

    cdef int _append(self, const char* data, Py_ssize_t n) except -1:
        self._reserve(n)
        memcpy(self.wbuf + self.wlen, data, n)
        self.wlen += n
        return 0

    cdef bint _constant(self):
        return (not self.suffix and self.rand_mod == 0 and not self.json_seq and not self._is_paced()
                and self.hdr_mode == H_NONE and not self.msg_id)

    cdef int _build_block(self, long long count) except -1:
        cdef Py_ssize_t start
        cdef long long k, per
        self._reserve(0)
        start = self.wlen
        self._emit(0, True, False)
        self.frame_len = self.wlen - start
        per = max(1, CHUNK // self.frame_len)
        self.block_len = per * self.frame_len
        self.block = <char*>malloc(self.block_len)
        if self.block == NULL:
            raise MemoryError()
        for k in range(per):
            memcpy(self.block + k * self.frame_len, self.wbuf + start, self.frame_len)
        self.wlen = start
        self.const_left = count * self.frame_len
        self.block_pos = 0
        return 0

    cdef inline long long _random_below(self, long long m) noexcept:
        """xorshift64: good enough to spread keys and subjects, and no call out of C."""
        cdef unsigned long long x = self.rng
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        self.rng = x
        return <long long>(x % <unsigned long long>m)

    cdef long long _number(self, long long i) noexcept:
        if self.rand_mod > 0:
            return self._random_below(self.rand_mod)
        return self.offset + i

    cdef inline bint _is_paced(self) noexcept:
        return self.pace_ns != 0 or self.rate_ns != 0

    cdef inline bint _due(self) noexcept:
        """Whether the next frame may go out now (--sleep, --throughput)."""
        return not self._is_paced() or now_ns() >= self.next_due

    cdef inline void _paced(self) noexcept:
        """After a frame: when the next is due. As the nats CLI: sleep, then throttle to the rate."""
        cdef long long due
        if self._is_paced():
            due = now_ns() + self.pace_ns
            if self.start_ns + self.sent * self.rate_ns > due:
                due = self.start_ns + self.sent * self.rate_ns
            self.next_due = due

    cdef int _emit(self, long long i, bint with_reply, bint commit) except -1:
        """Append frame number i (0-based within this connection's run) to wbuf."""
        cdef long long n = self._number(i)
        cdef Py_ssize_t sl = len(self.subj), rl = len(self.reply), pl = len(self.payload)
        cdef Py_ssize_t hl = 0, tot, k
        cdef char hdr[HDR_MAX]
        cdef char pay[48]
        cdef const char* payp = self.payload
        cdef char* p
        cdef long long num
        if self.json_seq:
            memcpy(pay, b'{"seq":', 7)
            pl = 7 + fmt_uint(pay + 7, n + 1, 0)
            pay[pl] = c'}'
            pl += 1
            payp = pay
        if self.hdr_lines or self.msg_id or self.hdr_mode == H_BATCH:
            memcpy(hdr, b"NATS/1.0\r\n", 10)
            hl = 10
            memcpy(hdr + hl, <const char*>self.hdr_lines, len(self.hdr_lines))
            hl += len(self.hdr_lines)
            if self.msg_id:
                memcpy(hdr + hl, b"Nats-Msg-Id: ", 13)
                hl += 13
                memcpy(hdr + hl, <const char*>self.msg_id, len(self.msg_id))
                hl += len(self.msg_id)
                hl += fmt_uint(hdr + hl, n, 0)
                memcpy(hdr + hl, b"\r\n", 2)
                hl += 2
            if self.hdr_mode == H_BATCH:
                memcpy(hdr + hl, b"Nats-Batch-Id: ", 15)
                hl += 15
                memcpy(hdr + hl, <const char*>self.batch_id, len(self.batch_id))
                hl += len(self.batch_id)
                memcpy(hdr + hl, b"\r\nNats-Batch-Sequence: ", 23)
                hl += 23
                hl += fmt_uint(hdr + hl, self.batch_pos + 1, 0)
                memcpy(hdr + hl, b"\r\n", 2)
                hl += 2
                if commit:
                    memcpy(hdr + hl, b"Nats-Batch-Commit: 1\r\n", 22)
                    hl += 22
            memcpy(hdr + hl, b"\r\n", 2)
            hl += 2
        self._reserve(sl + rl + hl + pl + 96)
        p = self.wbuf + self.wlen
        if hl:
            memcpy(p, b"HPUB ", 5)
            p += 5
        else:
            memcpy(p, b"PUB ", 4)
            p += 4
        memcpy(p, <const char*>self.subj, sl)
        p += sl
        if self.suffix:
            p[0] = c'.'
            p += 1
            if self.suffix_random and self.suffix_mod > 0:
                num = self._random_below(self.suffix_mod)
            else:
                num = n % self.suffix_mod if self.suffix_mod > 0 else n
            p += fmt_uint(p, num, self.suffix_width)
        if with_reply and rl:
            p[0] = c' '
            p += 1
            memcpy(p, <const char*>self.reply, rl)
            p += rl
        p[0] = c' '
        p += 1
        if hl:
            p += fmt_uint(p, hl, 0)
            p[0] = c' '
            p += 1
        tot = hl + pl
        p += fmt_uint(p, tot, 0)
        p[0] = c'\r'
        p[1] = c'\n'
        p += 2
        if hl:
            memcpy(p, hdr, hl)
            p += hl
        if pl:
            memcpy(p, payp, pl)
            p += pl
        p[0] = c'\r'
        p[1] = c'\n'
        p += 2
        self.wlen = p - self.wbuf
        return 0

    cdef int _request(self, const char* body, Py_ssize_t bl) except -1:
        """Queue PUB <pull_subj> <pull_reply> <len>\r\n<body>\r\n (pull and batched-get requests)."""
        cdef Py_ssize_t sl = len(self.pull_subj), rl = len(self.pull_reply)
        cdef char* p
        self._reserve(sl + rl + bl + 48)
        p = self.wbuf + self.wlen
        memcpy(p, b"PUB ", 4)
        p += 4
        memcpy(p, <const char*>self.pull_subj, sl)
        p += sl
        p[0] = c' '
        p += 1
        memcpy(p, <const char*>self.pull_reply, rl)
        p += rl
        p[0] = c' '
        p += 1
        p += fmt_uint(p, bl, 0)
        memcpy(p, b"\r\n", 2)
        p += 2
        memcpy(p, body, bl)
        p += bl
        memcpy(p, b"\r\n", 2)
        self.wlen = p + 2 - self.wbuf
        return 0

    cdef int _emit_pull(self, long long n) except -1:
        """A pull request for n messages: PUB $JS.API.CONSUMER.MSG.NEXT.<s>.<c> <inbox> ..."""
        cdef char body[96]
        cdef Py_ssize_t bl
        memcpy(body, b'{"batch":', 9)
        bl = 9 + fmt_uint(body + 9, n, 0)
        memcpy(body + bl, b',"expires":', 11)
        bl += 11
        bl += fmt_uint(body + bl, self.pull_expires_ns, 0)
        body[bl] = c'}'
        bl += 1
        self._request(body, bl)
        self.pending += n
        return 0

    cdef int _emit_get_batch(self, long long n) except -1:
        """PUB $JS.API.DIRECT.GET.<stream> <inbox> {"seq":S,"batch":N,"next_by_subj":"F"}"""
        cdef char body[GET_BODY_MAX]
        cdef Py_ssize_t bl, fl = len(self.get_filter)
        memcpy(body, b'{"seq":', 7)
        bl = 7 + fmt_uint(body + 7, self.next_seq, 0)
        memcpy(body + bl, b',"batch":', 9)
        bl += 9
        bl += fmt_uint(body + bl, n, 0)
        memcpy(body + bl, b',"next_by_subj":"', 17)
        bl += 17
        memcpy(body + bl, <const char*>self.get_filter, fl)
        bl += fl
        memcpy(body + bl, b'"}', 2)
        bl += 2
        self._request(body, bl)
        self.asked = n
        self.in_batch = 0
        self.outstanding = 1
        self.req_t0 = now_ns()
        return 0

    cdef int _generate(self) except -1:
        """Top up wbuf with the frames the role wants to send now."""
        cdef long long group, want, buffered, t
        cdef bint last
        if self.role == R_PUB:
            if self.sent < self.todo and self.const_left == 0:
                if self.start_ns == 0:
                    self.start_ns = now_ns()
                while self.sent < self.todo and self.wlen - self.wpos < CHUNK and self._due():
                    self._emit(self.sent, True, False)
                    self.sent += 1
                    self._paced()
            if self.sent >= self.todo and self.const_left == 0 and not self.flushing \
                    and self.wpos == self.wlen:
                self.flushing = True
                self.want_pongs = self.pongs + 1
                self._append(b"PING\r\n", 6)
        elif self.role == R_REQ:
            if self.group_left == 0:
                # A new group of frames: an atomic batch, or up to `window` requests.
                if self.sent >= self.todo:
                    return 0
                if (self.lockstep or self.hdr_mode == H_BATCH) and self.outstanding > 0:
                    return 0
                group = self.batch if self.hdr_mode == H_BATCH else self.window - self.outstanding
                if group > self.todo - self.sent:
                    group = self.todo - self.sent
                if group <= 0:
                    return 0
                self.group_left = group
                self.batch_pos = 0
            if self.start_ns == 0:
                self.start_ns = now_ns()
            while self.group_left > 0 and self._due():
                t = now_ns()
                # A group's latency runs from its first frame, without the paced waits inside it.
                if self.batch_pos == 0:
                    self.req_t0 = t
                elif self._is_paced():
                    self.req_t0 += t - self.group_t
                self.group_t = t
                last = self.group_left == 1
                if self.hdr_mode == H_BATCH:
                    # Plain publishes, the commit carries the reply.
                    self._emit(self.sent, last, last)
                    if last:
                        self.outstanding += 1
                else:
                    self._emit(self.sent, True, False)
                    self.outstanding += 1
                self.sent += 1
                self.group_left -= 1
                self.batch_pos += 1
                self._paced()
        elif self.role == R_BATCHGET:
            if self.outstanding == 0 and self.received < self.target:
                if self.start_ns == 0:
                    self.start_ns = now_ns()
                self._emit_get_batch(min(self.batch, self.target - self.received))
        elif self.role == R_SERVE:
            self._handle_waiting()
        elif self.role == R_PULL:
            self._handle_waiting()
            # Messages that arrived but still wait for their double ack count as buffered, as in
            # a client whose handler is busy.
            buffered = self.pending + self.queued
            if self.received + buffered >= self.target:
                return 0
            if self.fetch:
                if buffered == 0:
                    self._emit_pull(min(self.batch, self.target - self.received))
            elif buffered * 2 <= self.batch:
                want = min(self.batch - buffered, self.target - self.received - buffered)
                if want > 0:
                    self._emit_pull(want)
        return 0

    cdef int _pump_out(self) except -1:
        """Write as much as the socket takes; returns 1 when it would block."""
        cdef ssize_t n
        cdef Py_ssize_t chunk
        while True:
            # Queued bytes go first, unless a constant block is mid-frame.
            if self.wpos < self.wlen and (self.const_left == 0 or self.block_pos % self.frame_len == 0):
                n = c_send(self.fd, self.wbuf + self.wpos, self.wlen - self.wpos, MSG_NOSIGNAL)
                if n < 0:
                    return self._send_error()
                self.wpos += n
                self.out_bytes += n
                if self.wpos == self.wlen:
                    self.wpos = self.wlen = 0
                continue
            if self.const_left > 0:
                if self.start_ns == 0:
                    self.start_ns = now_ns()
                chunk = self.block_len - self.block_pos
                if chunk > self.const_left:
                    chunk = self.const_left
                n = c_send(self.fd, self.block + self.block_pos, chunk, MSG_NOSIGNAL)
                if n < 0:
                    return self._send_error()
                self.const_left -= n
                self.out_bytes += n
                self.block_pos += n
                if self.block_pos == self.block_len:
                    self.block_pos = 0
                if self.const_left == 0:
                    self.sent = self.todo
                continue
            self._generate()
            if self.wpos == self.wlen:
                return 0

    cdef int _send_error(self) except -1:
        if errno == EAGAIN or errno == EWOULDBLOCK or errno == EINTR:
            return 1
        self.closed = True
        raise ConnectionError(f"send: {strerror(errno).decode()}")

    cdef int _pump_in(self) except -1:
        """Read and parse what the socket has; returns the bytes read."""
        cdef ssize_t n
        cdef long long total = 0
        cdef int r
        while True:
            n = c_recv(self.fd, self.rbuf, RBUF, 0)
            if n < 0:
                if errno == EAGAIN or errno == EWOULDBLOCK or errno == EINTR:
                    return total
                self.closed = True
                raise ConnectionError(f"recv: {strerror(errno).decode()}")
            if n == 0:
                self.closed = True
                if self.errors:
                    raise ConnectionError(f"server closed the connection: {self.errors[len(self.errors) - 1]}")
                raise ConnectionError("server closed the connection")
            total += n
            r = self.feed(self.rbuf, n)
            if r == PARSE_STOP:
                self.closed = True
                raise ConnectionError("protocol error from server")
            if n < RBUF:
                return total

    cdef bint _done(self):
        if self.pongs < self.want_pongs:
            return False
        if PyList_GET_SIZE(self.ctl) < self.want_ctl:
            return False
        if self.role == R_PUB:
            return self.flushing and self.end_ns != 0
        if self.role == R_SUB or self.role == R_PULL:
            return self.received >= self.target
        if self.role == R_BATCHGET:
            return self.received >= self.target and self.outstanding == 0
        if self.role == R_REQ:
            return self.completed >= self.todo
        if self.role == R_SERVE:
            return False
        return True

    # ---------------------------------------------------------------- parser hooks

    cdef int on_info(self, const char* arg, Py_ssize_t n) except -1:
        return PARSE_OK

    cdef int on_ping(self) except -1:
        self._append(b"PONG\r\n", 6)
        return PARSE_OK

    cdef int on_pong(self) except -1:
        self.pongs += 1
        if self.role == R_PUB and self.flushing and self.end_ns == 0 and self.pongs >= self.want_pongs:
            self.end_ns = now_ns()
        return PARSE_OK

    cdef int on_ok(self) except -1:
        return PARSE_OK

    cdef int on_err(self, const char* arg, Py_ssize_t n) except -1:
        self.errors.append(arg[:n].decode("utf-8", "replace"))
        return PARSE_OK

    cdef int on_parse_error(self, int code, str detail) except -1:
        self.errors.append(f"parse error {code} {detail}")
        return PARSE_STOP

    cdef int on_msg(self, const char* subject, Py_ssize_t subject_len,
                    const char* sid, Py_ssize_t sid_len,
                    const char* reply, Py_ssize_t reply_len,
                    const char* hdr, Py_ssize_t hdr_len,
                    const char* payload, Py_ssize_t payload_len) except -1:
        cdef long long t
        cdef int st
        cdef long long left
        if sid_len == 1 and sid[0] == c'1':
            self.ctl.append((subject[:subject_len], None if hdr == NULL else hdr[:hdr_len],
                             payload[:payload_len]))
            return PARSE_OK
        cdef int role = self.role
        if sid_len == 1 and sid[0] == c'3':
            return self._ack_confirmed()
        if role == R_SUB:
            self.received += 1
            if self.received == 1:
                self.start_ns = now_ns()
            if self.track_last:
                self.last_ns = now_ns()
            if self.received == self.target:
                self.end_ns = now_ns()
        elif role == R_REQ:
            t = now_ns()
            if self.check_errors:
                if hdr != NULL and status_code(hdr, hdr_len) != 0:
                    self.failures += 1
                elif payload_len == 0 and hdr == NULL:
                    self.failures += 1
                elif payload_len > 0 and (payload[0] == c'-' or contains(payload, payload_len, b"error", 5)):
                    self.failures += 1
            if self.outstanding > 0:
                self.outstanding -= 1
            if self.lat != NULL and self.nlat < self.lat_cap and \
                    (self.window == 1 or self.hdr_mode == H_BATCH or self.outstanding == 0):
                self.lat[self.nlat] = t - self.req_t0
                self.nlat += 1
            if self.hdr_mode == H_BATCH:
                self.completed = self.sent
            else:
                self.completed += 1
            if self.completed >= self.todo and self.end_ns == 0:
                self.end_ns = t
        elif role == R_SERVE:
            if self.pace_ns:
                self._wait(reply, reply_len)
                return self._handle_waiting()
            if reply_len > 0:
                self._publish_to(reply, reply_len, b" 2\r\nok\r\n", 8)
            self.received += 1
        elif role == R_BATCHGET:
            return self._batch_got(hdr, hdr_len)
        elif role == R_PULL:
            if hdr != NULL and payload_len == 0:
                st = status_code(hdr, hdr_len)
                if st != 0:
                    self.statuses += 1
                    if st == 408 or st == 409 or st == 404:
                        left = header_int(hdr, hdr_len, b"Nats-Pending-Messages", 21)
                        if left < 0 or left > self.pending:
                            left = self.pending
                        self.pending -= left
                    return PARSE_OK
            if self.pending > 0:
                self.pending -= 1
            if self.double_ack or self.pace_ns:
                self._wait(reply, reply_len)
                return self._handle_waiting()
            self._count_pulled()
            if self.ack and reply_len > 0:
                self._publish_to(reply, reply_len, b" 0\r\n\r\n", 6)   # +ACK: empty body
        return PARSE_OK

    cdef int _batch_got(self, const char* hdr, Py_ssize_t hdr_len) except -1:
        """One reply to a batched get: a message (count it, note its sequence) or the batch's end."""
        cdef long long t, seq
        cdef int st = status_code(hdr, hdr_len) if hdr != NULL else 0
        if st == 204:      # EOB
            t = now_ns()
            if self.lat != NULL and self.nlat < self.lat_cap:
                self.lat[self.nlat] = t - self.req_t0
                self.nlat += 1
            if self.in_batch < self.asked:
                self.short_batches += 1
                if self.in_batch == 0:
                    self.failures += 1      # nothing left from next_seq on: asking again won't help
            self.outstanding = 0
            if self.received >= self.target and self.end_ns == 0:
                self.end_ns = t
            return PARSE_OK
        if st != 0:        # 404 no messages, 408, 503 no direct gets ...
            self.failures += 1
            self.outstanding = 0
            return PARSE_OK
        if hdr != NULL:
            seq = header_int(hdr, hdr_len, b"Nats-Sequence", 13)
            if seq >= 0:
                self.next_seq = seq + 1
        self.received += 1
        self.in_batch += 1
        return PARSE_OK

    cdef inline void _count_pulled(self) noexcept:
        self.received += 1
        if self.received == 1:
            self.start_ns = now_ns()
        if self.received == self.target:
            self.end_ns = now_ns()

    cdef int _wait(self, const char* reply, Py_ssize_t n) except -1:
        """Queue a message for the handler (its reply subject is all the handler needs)."""
        cdef char* p
        cdef Py_ssize_t cap
        if n > 65535:
            raise ValueError("reply subject too long")
        self.queued += 1
        if self.waitq_head == self.waitq_tail:
            self.waitq_head = self.waitq_tail = 0
        if self.waitq_tail + n + 2 > self.waitq_cap:
            if self.waitq_head > 0:
                memmove(self.waitq, self.waitq + self.waitq_head, self.waitq_tail - self.waitq_head)
                self.waitq_tail -= self.waitq_head
                self.waitq_head = 0
            if self.waitq_tail + n + 2 > self.waitq_cap:
                cap = max(self.waitq_cap * 2, self.waitq_tail + n + 2, 4096)
                p = <char*>realloc(self.waitq, cap)
                if p == NULL:
                    raise MemoryError()
                self.waitq = p
                self.waitq_cap = cap
        self.waitq[self.waitq_tail] = <char>(n & 0xff)
        self.waitq[self.waitq_tail + 1] = <char>(n >> 8)
        memcpy(self.waitq + self.waitq_tail + 2, reply, n)
        self.waitq_tail += n + 2
        return 0

    cdef int _handle_waiting(self) except -1:
        """Hand waiting messages to the handler, one at a time: each when the previous one's
        --sleep is over and its double ack (if any) was confirmed."""
        cdef Py_ssize_t n
        cdef const char* entry
        cdef const char* reply
        while self.waitq_head < self.waitq_tail and not self.ack_in_flight and self._due():
            entry = self.waitq + self.waitq_head
            n = (<unsigned char>entry[0]) | ((<unsigned char>entry[1]) << 8)
            reply = entry + 2
            self.waitq_head += n + 2
            if self.pace_ns:
                self.next_due = now_ns() + self.pace_ns
            if self.role == R_SERVE:
                if n > 0:
                    self._publish_to(reply, n, b" 2\r\nok\r\n", 8)
                self.received += 1
                self.queued -= 1
            elif self.double_ack and n > 0:
                self._send_double_ack(reply, n)
            else:
                if self.ack and n > 0:
                    self._publish_to(reply, n, b" 0\r\n\r\n", 6)
                self._count_pulled()
                self.queued -= 1
        return PARSE_OK

    cdef int _send_double_ack(self, const char* reply, Py_ssize_t n) except -1:
        """PUB <reply> <ack_reply> 0: an ack that asks the server for a confirmation."""
        cdef Py_ssize_t al = len(self.ack_reply)
        cdef char* p
        self._reserve(n + al + 16)
        p = self.wbuf + self.wlen
        memcpy(p, b"PUB ", 4)
        memcpy(p + 4, reply, n)
        p += 4 + n
        p[0] = c' '
        memcpy(p + 1, <const char*>self.ack_reply, al)
        memcpy(p + 1 + al, b" 0\r\n\r\n", 6)
        self.wlen = (p + 1 + al + 6) - self.wbuf
        self.ack_in_flight = True
        return 0

    cdef int _ack_confirmed(self) except -1:
        """The server confirmed the double ack in flight: that message is done; on to the next."""
        if not self.ack_in_flight:
            return PARSE_OK
        self.ack_in_flight = False
        self.queued -= 1
        self._count_pulled()
        return self._handle_waiting()

    cdef int _publish_to(self, const char* reply, Py_ssize_t n, const char* tail, Py_ssize_t tail_len) except -1:
        """Queue `PUB <reply><tail>` (tail = size line and body): service replies and JetStream acks."""
        self._reserve(n + 4 + tail_len)
        cdef char* p = self.wbuf + self.wlen
        memcpy(p, b"PUB ", 4)
        memcpy(p + 4, reply, n)
        memcpy(p + 4 + n, tail, tail_len)
        self.wlen += n + 4 + tail_len
        return 0


def run(list clients, double slice_s):
    """Drive every client for at most `slice_s` seconds; True once every client is done.

    SERVE clients are never done, so with one of them this returns False after each slice.
    """
    cdef Py_ssize_t n = len(clients), i
    cdef pollfd* pfds = <pollfd*>malloc(max(n, 1) * sizeof(pollfd))
    cdef LoadConnection c
    cdef long long deadline = now_ns() + <long long>(slice_s * 1e9)
    cdef long long left
    cdef bint all_done
    cdef int r, ms
    if pfds == NULL:
        raise MemoryError()
    try:
        while True:
            all_done = True
            for i in range(n):
                c = <LoadConnection>clients[i]
                c._pump_out()
                if not c._done():
                    all_done = False
                pfds[i].fd = c.fd
                pfds[i].events = POLLIN
                if c.wpos < c.wlen or c.const_left > 0:
                    pfds[i].events |= POLLOUT
                pfds[i].revents = 0
            if all_done:
                return True
            left = deadline - now_ns()
            if left <= 0:
                return False
            ms = <int>min(left // 1000000 + 1, 100)
            for i in range(n):
                c = <LoadConnection>clients[i]
                if c._is_paced() and (c.sent < c.todo or c.queued > 0):    # wake up when the next is due
                    ms = <int>min(ms, max(c.next_due - now_ns(), 0) // 1000000)
            with nogil:
                r = c_poll(pfds, n, ms)
            if r < 0:
                if errno != EINTR:
                    raise OSError(errno, strerror(errno).decode())
            PyErr_CheckSignals()
            if r <= 0:
                continue
            for i in range(n):
                if pfds[i].revents & (POLLIN | POLLERR | POLLHUP):
                    c = <LoadConnection>clients[i]
                    c._pump_in()
    finally:
        free(pfds)
