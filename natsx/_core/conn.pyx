"""The hot path of a client connection (see conn.pxd).

Per message, everything here is C: the parser hands a PUB over as pointers into the
read buffer, the L1 cache or the sublist's cache gives the match result, and each
receiver gets its MSG/HMSG frame memcpy'd into its outbound buffer. Python runs once
per read batch (transport.write of each touched connection) and for control
operations (CONNECT, errors, closing): the upcalls declared in conn.pxd, which the Python
subclass natsx.client.Client overrides. An exception from an upcall is a bug of ours; it must not
reach the event loop (uvloop would drop the connection without a word), see _upcall_failed.
"""
import sys
import traceback

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from libc.stdlib cimport free, realloc
from libc.string cimport memcmp, memcpy
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec


cdef extern from "<sys/socket.h>" nogil:
    ssize_t send(int fd, const void* buf, size_t n, int flags)
    enum: MSG_DONTWAIT
    enum: MSG_NOSIGNAL

from natsx._core.account cimport Account
from natsx._core.parser cimport (PARSE_OK, PARSE_STOP, PE_ARGS, PE_AUTH, PE_MAX_CONTROL_LINE,
                                 PE_UNKNOWN_OP, Parser)
from natsx._core.perms cimport Permissions
from natsx._core.sublist cimport (Sublist, SublistResult, Subscriber, Subscription,
                                  is_valid_literal_c)
from natsx.accounts import GLOBAL_ACCOUNT

cdef bytes PONG = b"PONG\r\n"
cdef bytes OK = b"+OK\r\n"
cdef bytes NO_RESPONDERS_HDR = b"NATS/1.0 503\r\n"
cdef Py_ssize_t SHRINK_ABOVE = 1 << 20     # give back outbound buffers grown past this
cdef bytes AUTH_VIOLATION = b"-ERR 'Authorization Violation'\r\n"
# Bugs already logged with their traceback (exception type and raising line): a repeat gets one line.
cdef set reported_bugs = set()


cdef inline char* put(char* p, const char* s, Py_ssize_t n) noexcept nogil:
    memcpy(p, s, n)
    return p + n


cdef inline char* put_int(char* p, long long v) noexcept nogil:
    cdef char tmp[24]
    cdef int i = 0
    if v == 0:
        p[0] = c'0'
        return p + 1
    while v > 0:
        tmp[i] = c'0' + (v % 10)
        v //= 10
        i += 1
    while i > 0:
        i -= 1
        p[0] = tmp[i]
        p += 1
    return p


cdef inline char* put_size(char* p, long long v, const char* tok, Py_ssize_t tok_len) noexcept nogil:
    """A size as the publisher wrote it when we route its message (nats-server copies the token,
    leading zeros included), else in decimal."""
    if tok != NULL:
        return put(p, tok, tok_len)
    return put_int(p, v)


cdef inline double now() noexcept:
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef class ServerCore:
    def __init__(self, Sublist sublist, Py_ssize_t max_payload=1048576,
                 Py_ssize_t max_pending=67108864, Py_ssize_t max_control_line=4096,
                 Py_ssize_t read_size=262144):
        self.global_account = Account(GLOBAL_ACCOUNT, sublist)
        self.max_payload = max_payload
        self.max_pending = max_pending
        self.max_control_line = max_control_line
        self.dirty = []
        self.readbuf = bytearray(read_size)
        self.readview = memoryview(self.readbuf)
        self.rng = 0x9E3779B97F4A7C15

    @property
    def sublist(self) -> Sublist:
        """The global account's sublist."""
        return self.global_account.sublist

    cdef inline void add_batch_end(self, Subscriber s) noexcept:
        """List s for this batch's batch_end (once)."""
        if not s.in_batch:
            s.in_batch = True
            self.dirty.append(s)

    cdef unsigned long long next_random(self) noexcept:
        cdef unsigned long long x = self.rng
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        self.rng = x
        return x

    cdef int deliver_result(self, SublistResult result, Subscriber src, bint echo,
                            const char* subject, Py_ssize_t subject_len,
                            const char* reply, Py_ssize_t reply_len,
                            const char* hdr, Py_ssize_t hdr_len,
                            const char* payload, Py_ssize_t payload_len) except -1:
        """Deliver to every plain subscriber and to one member of each queue group; returns how many."""
        cdef list subs = result.psubs
        cdef list group
        cdef Py_ssize_t i, j, n, start
        cdef Subscription sub
        cdef int delivered = 0
        n = PyList_GET_SIZE(subs)
        for i in range(n):
            sub = <Subscription>PyList_GET_ITEM(subs, i)
            if sub.closed or (not echo and sub.owner is src):
                continue
            sub.owner.deliver(sub, subject, subject_len, reply, reply_len, hdr, hdr_len, payload, payload_len)
            if sub.owner.wants_batch_end:
                self.add_batch_end(sub.owner)
            delivered += 1
        for i in range(PyList_GET_SIZE(result.qsubs)):
            group = <list>PyList_GET_ITEM(result.qsubs, i)
            n = PyList_GET_SIZE(group)
            if n == 0:
                continue
            start = <Py_ssize_t>(self.next_random() % <unsigned long long>n)
            for j in range(n):
                sub = <Subscription>PyList_GET_ITEM(group, (start + j) % n)
                if sub.closed or sub.owner.closed or (not echo and sub.owner is src):
                    continue
                sub.owner.deliver(sub, subject, subject_len, reply, reply_len, hdr, hdr_len, payload, payload_len)
                if sub.owner.wants_batch_end:
                    self.add_batch_end(sub.owner)
                delivered += 1
                break
        return delivered

    cpdef flush_dirty(self):
        """End the batch: batch_end for every subscriber listed during it; for a connection that
        got frames, that is one write (ClientSink.batch_end)."""
        cdef list dirty = self.dirty
        cdef Subscriber s
        if not dirty:
            return
        self.dirty = []
        for s in dirty:          # first, so that one failing batch_end leaves none stuck listed
            s.in_batch = False
        for s in dirty:
            s.batch_end()

    def publish(self, bytes subject, bytes payload, bytes reply=b"", bytes hdr=None):
        """Publish from the server itself (system and service messages). Returns receivers count.

        May run inside another connection's routing (an internal subscriber answering at once),
        so the publisher's echoed size tokens are set aside meanwhile.
        """
        cdef SublistResult r = self.global_account.sublist.match_c(PyBytes_AS_STRING(subject),
                                                                   PyBytes_GET_SIZE(subject))
        cdef const char* size_tok = self.size_tok
        cdef const char* hdr_tok = self.hdr_tok
        cdef int n
        self.size_tok = self.hdr_tok = NULL
        try:
            n = self.deliver_result(
                r, None, True, PyBytes_AS_STRING(subject), PyBytes_GET_SIZE(subject),
                PyBytes_AS_STRING(reply), PyBytes_GET_SIZE(reply),
                NULL if hdr is None else PyBytes_AS_STRING(hdr), 0 if hdr is None else PyBytes_GET_SIZE(hdr),
                PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))
        finally:
            self.size_tok, self.hdr_tok = size_tok, hdr_tok
        self.flush_dirty()
        return n


cdef class ClientSink(Subscriber):
    def __init__(self, Connection conn):
        self.conn = conn

    cdef int deliver(self, Subscription sub,
                     const char* subject, Py_ssize_t subject_len,
                     const char* reply, Py_ssize_t reply_len,
                     const char* hdr, Py_ssize_t hdr_len,
                     const char* payload, Py_ssize_t payload_len) except -1:
        return self.conn.queue_msg(sub, subject, subject_len, reply, reply_len, hdr, hdr_len, payload, payload_len)

    cdef int batch_end(self) except -1:
        self.conn.flush()
        return 0


cdef class Connection(Parser):
    def __init__(self, ServerCore core):
        self.core = core
        self.fd = -1
        self.sink = ClientSink(self)
        self.acc = core.global_account
        self.subs = {}
        self.verbose = True
        self.pedantic = True
        self.echo = True
        self.headers = False
        self.no_responders = False
        self.max_control_line = core.max_control_line
        self.stalled_producers = []

    def __dealloc__(self):
        if self.out != NULL:
            free(self.out)

    def set_account(self, Account account not None):
        """Move this connection to another account (once authentication names it), before it
        subscribes; the L1 cache is for the old account's sublist."""
        if self.subs:
            raise ValueError("a connection with subscriptions cannot change account")
        self.acc = account
        self.last_subject = None
        self.last_result = None

    # -- asyncio.BufferedProtocol ------------------------------------------------------
    def get_buffer(self, Py_ssize_t sizehint):
        return self.core.readview

    def buffer_updated(self, Py_ssize_t nbytes):
        cdef ServerCore core = self.core
        cdef char* buf = core.readbuf
        if self.closed:
            return
        self.last_activity = now()
        core.backed_up = None
        try:
            self.feed(buf, nbytes)
            core.flush_dirty()
            if core.backed_up is not None:
                self._stall(core.backed_up)
        except Exception as exc:
            self._upcall_failed("read", exc)
            core.flush_dirty()     # what this batch queued for other connections still goes out
        core.backed_up = None

    def _stall(self, Connection target):
        """A receiver of this batch can't keep up: stop reading from this producer until it drains
        (or for at most the stall limit), as nats-server stalls fast producers."""
        if target is self or target.closed or not target.write_paused or self.closed:
            return
        target.stalled_producers.append(self)
        self.transport.pause_reading()
        self._schedule_unstall()

    # -- outbound buffer ----------------------------------------------------------------
    cdef int reserve(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t cap
        cdef char* p
        if self.out_len + n <= self.out_cap:
            return 0
        cap = self.out_cap * 2 if self.out_cap else 4096
        while cap < self.out_len + n:
            cap *= 2
        p = <char*>realloc(self.out, cap)
        if p == NULL:
            raise MemoryError()
        self.out = p
        self.out_cap = cap
        return 0

    cdef void mark_dirty(self) noexcept:
        """Frames are queued: flush at the batch end. The sink is listed here (its wants_batch_end
        stays False, so deliveries don't list it a second way); its own in_batch is not used."""
        if not self.dirty:
            self.dirty = True
            self.core.dirty.append(self.sink)

    cdef int write_raw(self, const char* data, Py_ssize_t n) except -1:
        self.reserve(n)
        memcpy(self.out + self.out_len, data, n)
        self.out_len += n
        self.mark_dirty()
        return 0

    cpdef send_proto(self, bytes data):
        """Queue a protocol line; it goes out with the batch's flush (or call flush())."""
        if not self.closed:
            self.write_raw(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))

    cpdef flush(self):
        """Send the batch's frames: straight to the socket while the transport has nothing queued
        (no bytes object, no extra copy); whatever the socket doesn't take goes to the transport."""
        cdef bytes data
        cdef ssize_t sent = 0
        self.dirty = False     # a direct flush may leave the sink listed: that batch_end is a no-op
        if self.out_len == 0 or self.closed or self.transport is None:
            self.out_len = 0
            return
        # Never once the transport is closing: its fd may already be closed and reused.
        if (self.fd >= 0 and not self.write_paused and not self.transport.is_closing()
                and self.transport.get_write_buffer_size() == 0):
            with nogil:
                sent = send(self.fd, self.out, self.out_len, MSG_DONTWAIT | MSG_NOSIGNAL)
            if sent < 0:
                sent = 0     # would block, or an error the transport will report
            if sent == self.out_len:
                self.out_len = 0
                return
        data = PyBytes_FromStringAndSize(self.out + sent, self.out_len - sent)
        self.out_len = 0
        if self.out_cap > SHRINK_ABOVE:
            free(self.out)
            self.out = NULL
            self.out_cap = 0
        self.transport.write(data)
        if self.write_paused:
            try:
                self._check_slow_consumer()
            except Exception as exc:
                self._upcall_failed("slow consumer check", exc)

    cdef int queue_msg(self, Subscription sub,
                       const char* subject, Py_ssize_t subject_len,
                       const char* reply, Py_ssize_t reply_len,
                       const char* hdr, Py_ssize_t hdr_len,
                       const char* payload, Py_ssize_t payload_len) except -1:
        """Append one MSG (or HMSG when hdr is given) frame for `sub`; applies auto-unsubscribe."""
        cdef char* p
        cdef Py_ssize_t sid_len = PyBytes_GET_SIZE(sub.sid)
        cdef Py_ssize_t total = hdr_len + payload_len
        if self.closed:
            return 0
        sub.delivered += 1
        if sub.max_msgs > 0 and sub.delivered > sub.max_msgs:
            self.remove_sub(sub)
            return 0
        self.reserve(6 + subject_len + 1 + sid_len + 1 + reply_len + 1 + 40 + 2 + total + 2)
        p = self.out + self.out_len
        if hdr != NULL:
            p = put(p, "HMSG ", 5)
        else:
            p = put(p, "MSG ", 4)
        p = put(p, subject, subject_len)
        p[0] = c' '
        p = put(p + 1, PyBytes_AS_STRING(sub.sid), sid_len)
        p[0] = c' '
        p += 1
        if reply_len > 0:
            p = put(p, reply, reply_len)
            p[0] = c' '
            p += 1
        if hdr != NULL:
            p = put_size(p, hdr_len, self.core.hdr_tok, self.core.hdr_tok_len)
            p[0] = c' '
            p += 1
        p = put_size(p, total, self.core.size_tok, self.core.size_tok_len)
        p[0] = c'\r'
        p[1] = c'\n'
        p += 2
        if hdr != NULL:
            p = put(p, hdr, hdr_len)
        p = put(p, payload, payload_len)
        p[0] = c'\r'
        p[1] = c'\n'
        p += 2
        if self.trace and not self._trace_frame(p - self.out - self.out_len - total - 4):
            return 0
        self.out_len = p - self.out
        if self.write_paused:
            self.core.backed_up = self
        self.out_msgs += 1
        self.out_bytes += total
        self.core.out_msgs += 1
        self.core.out_bytes += total
        self.mark_dirty()
        if sub.max_msgs > 0 and sub.delivered >= sub.max_msgs:
            self.remove_sub(sub)
        return 0

    cdef int _trace_frame(self, Py_ssize_t line_len) except -1:
        """Trace the control line of the frame being queued, as nats-server does; 0 when the upcall
        failed (the connection is closed)."""
        try:
            self._trace_out(PyBytes_FromStringAndSize(self.out + self.out_len, line_len))
        except Exception as exc:
            self._upcall_failed("trace", exc)
            return 0
        return 1

    # -- subscriptions ------------------------------------------------------------------
    cdef int remove_sub(self, Subscription sub) except -1:
        if sub.closed:
            return 0
        sub.closed = True
        if self.subs.get(sub.sid) is sub:
            del self.subs[sub.sid]
        self.acc.sublist.remove(sub)
        return 0

    def remove_all_subs(self):
        cdef Subscription sub
        subs = list(self.subs.values())
        self.subs = {}
        for sub in subs:
            sub.closed = True
        self.acc.sublist.remove_batch(subs)

    cdef int on_sub(self, const char* subject, Py_ssize_t subject_len,
                    const char* queue, Py_ssize_t queue_len,
                    const char* sid, Py_ssize_t sid_len) except -1:
        cdef bytes sid_b = sid[:sid_len]
        cdef Subscription sub
        cdef bytes subject_b, queue_b
        if self.perms is not None:
            subject_b = subject[:subject_len]     # checked first, as nats-server's processSub
            queue_b = None if queue == NULL else queue[:queue_len]
            if not self.perms.allow_subscribe(subject_b, queue_b):
                self._subscribe_violation(subject_b, queue_b, sid_b)
                return PARSE_OK
        if sid_b not in self.subs:
            if self.max_subs > 0 and len(self.subs) >= self.max_subs:
                self._max_subs_exceeded()
                return PARSE_OK
            sub = Subscription(subject[:subject_len], sid_b, self.sink,
                               None if queue == NULL else queue[:queue_len])
            try:
                self.acc.sublist.insert(sub)   # the sublist's rules are nats-server's
            except ValueError:
                self.send_proto(b"-ERR 'Invalid Subject'\r\n")
                return PARSE_OK
            self.subs[sid_b] = sub
        if self.verbose:
            self.write_raw(OK, 5)
        return PARSE_OK

    cdef int on_unsub(self, const char* sid, Py_ssize_t sid_len, long long max_msgs) except -1:
        cdef Subscription sub = self.subs.get(sid[:sid_len])
        if sub is not None:
            if max_msgs > 0 and max_msgs > sub.delivered:
                sub.max_msgs = max_msgs
            else:
                self.remove_sub(sub)
        if self.verbose:
            self.write_raw(OK, 5)
        return PARSE_OK

    # -- publishing ----------------------------------------------------------------------
    cdef SublistResult match(self, const char* subject, Py_ssize_t n):
        """Per-connection L1 cache in front of the sublist (nats-server's c.in.results)."""
        cdef Sublist sl = self.acc.sublist
        cdef bytes last = self.last_subject
        if (last is not None and self.last_genid == sl.genid and PyBytes_GET_SIZE(last) == n
                and memcmp(PyBytes_AS_STRING(last), subject, n) == 0):
            return self.last_result
        self.last_result = sl.match_c(subject, n)
        self.last_subject = PyBytes_FromStringAndSize(subject, n)
        self.last_genid = sl.genid
        return self.last_result

    cdef int on_msg_args(self, const char* subject, Py_ssize_t subject_len,
                         Py_ssize_t hdr_size, Py_ssize_t total_size) except -1:
        if hdr_size >= 0 and not self.headers:
            self._protocol_error(PE_ARGS, "message headers not supported")
            return PARSE_STOP
        if total_size > self.core.max_payload:
            self._max_payload(total_size)
            return PARSE_STOP
        if self.pedantic and not is_valid_literal_c(subject, subject_len):
            self.send_proto(b"-ERR 'Invalid Publish Subject'\r\n")
        return PARSE_OK

    cdef int on_msg(self, const char* subject, Py_ssize_t subject_len,
                    const char* sid, Py_ssize_t sid_len,
                    const char* reply, Py_ssize_t reply_len,
                    const char* hdr, Py_ssize_t hdr_len,
                    const char* payload, Py_ssize_t payload_len) except -1:
        cdef ServerCore core = self.core
        cdef SublistResult result
        cdef int delivered
        self.in_msgs += 1
        self.in_bytes += hdr_len + payload_len
        core.in_msgs += 1
        core.in_bytes += hdr_len + payload_len
        if self.perms is not None and not self.perms.allow_publish(subject, subject_len):
            self._publish_violation(subject[:subject_len])
            return PARSE_OK
        if self.verbose:
            self.write_raw(OK, 5)
        result = self.match(subject, subject_len)
        core.size_tok, core.size_tok_len = self.size_tok, self.size_tok_len
        if hdr != NULL:
            core.hdr_tok, core.hdr_tok_len = self.hdr_tok, self.hdr_tok_len
        try:
            delivered = core.deliver_result(result, self.sink, self.echo, subject, subject_len,
                                            reply, reply_len, hdr, hdr_len, payload, payload_len)
        finally:
            core.size_tok = core.hdr_tok = NULL
        if delivered == 0 and reply_len > 0 and self.no_responders and self.headers:
            self._no_responders(subject, subject_len, reply, reply_len)
        return PARSE_OK

    cdef int _no_responders(self, const char* subject, Py_ssize_t subject_len,
                            const char* reply, Py_ssize_t reply_len) except -1:
        """Nobody listens: answer the requester at once with a 503 status (its own reply subs only)."""
        cdef SublistResult r = self.acc.sublist.match_c(reply, reply_len)
        cdef Subscription sub
        cdef bytes hdr = NO_RESPONDERS_HDR + b"Nats-Subject: " + subject[:subject_len] + b"\r\n\r\n"
        for sub in r.psubs:
            if sub.owner is self.sink and not sub.closed:
                self.queue_msg(sub, reply, reply_len, NULL, 0, PyBytes_AS_STRING(hdr),
                               PyBytes_GET_SIZE(hdr), NULL, 0)
        return 0

    # -- control operations ------------------------------------------------------------------
    cdef int on_ping(self) except -1:
        self.write_raw(PONG, 6)
        if self.connect_info_due:
            self.connect_info_due = False
            self._send_connect_info()
        return PARSE_OK

    cdef int on_pong(self) except -1:
        self.pings_out = 0
        if self.ping_sent_at > 0:
            self.rtt = now() - self.ping_sent_at
            self.ping_sent_at = 0
        return PARSE_OK

    cdef int on_connect(self, const char* arg, Py_ssize_t n) except -1:
        try:
            return self._process_connect(arg[:n])
        except Exception as exc:
            return self._upcall_failed("CONNECT", exc)

    cdef int on_err(self, const char* arg, Py_ssize_t n) except -1:
        self._client_error(arg[:n])
        return PARSE_STOP

    cdef int on_parse_error(self, int code, str detail) except -1:
        self._protocol_error(code, detail)
        return PARSE_STOP

    cdef int on_trace(self, const char* data, Py_ssize_t n, bint payload) except -1:
        self._trace_in(data[:n], payload)
        return PARSE_OK

    # -- upcalls: defaults for a bare Connection (natsx.client.Client overrides them) ----------
    cpdef _process_connect(self, bytes arg):
        """Accept any CONNECT and keep the options (a client connection decodes and checks them)."""
        if self.verbose:
            self.write_raw(OK, 5)
        return PARSE_OK

    cpdef _protocol_error(self, int code, str detail):
        self.close_connection("Protocol Violation")

    cpdef _max_payload(self, Py_ssize_t size):
        self.close_connection("Maximum Payload Exceeded")

    cpdef _max_subs_exceeded(self):
        pass     # the SUB is refused either way

    cpdef _publish_violation(self, bytes subject):
        pass     # the message is dropped either way

    cpdef _subscribe_violation(self, bytes subject, bytes queue, bytes sid):
        pass     # the SUB is refused either way

    cpdef _client_error(self, bytes arg):
        self.close_connection("Client Closed")

    cpdef _trace_in(self, bytes data, bint payload):
        pass

    cpdef _trace_out(self, bytes line):
        pass

    cpdef _check_slow_consumer(self):
        pass

    cpdef _schedule_unstall(self):
        # No timers here: resume at once rather than leave the producer paused.
        if self.transport is not None:
            self.transport.resume_reading()

    cpdef _send_connect_info(self):
        pass

    cpdef close_connection(self, str reason, bint flush=True):
        """Close only this connection: send what is queued (or drop it), forget its subscriptions."""
        if self.closed:
            return
        if flush:
            self.flush()
        self.closed = True
        self.sink.closed = True
        self.remove_all_subs()
        if self.transport is not None:
            if flush:
                self.transport.close()
            else:
                self.transport.abort()

    cpdef _report_bug(self, str text):
        sys.stderr.write(text + "\n")

    cdef int _upcall_failed(self, str where, object exc) except -1:
        """Called in the `except` block around an upcall that raised: a bug, never the client's fault.

        Log it (the traceback the first time this exception comes from this line), answer as
        nats-server would and close only this connection: while auth is pending (no CONNECT
        accepted yet) any failure is an authorization failure (fail closed); otherwise the connection
        closes without an -ERR, as nats-server's does on an operation it cannot process.
        Returns PARSE_STOP.
        """
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next     # the raising line identifies the bug
        key = (type(exc), None if tb is None else tb.tb_frame.f_code.co_filename,
               None if tb is None else tb.tb_lineno)
        text = f"internal error in {where} ({type(exc).__name__}: {exc}), closing the connection"
        if key not in reported_bugs:
            reported_bugs.add(key)
            text += "\n" + "".join(traceback.format_exception(exc)).rstrip()
        try:
            self._report_bug(text)
        except Exception:
            sys.stderr.write(text + "\n")
        auth_failed = self.require_connect
        try:
            if auth_failed:
                self.send_proto(AUTH_VIOLATION)
            self.close_connection("Authentication Failure" if auth_failed else "Server Error")
        except Exception:
            # Closing through the control plane failed too: drop the connection here, come what may.
            self.closed = self.sink.closed = True
            try:
                self.remove_all_subs()
                if self.transport is not None:
                    self.transport.abort()
            except Exception:
                pass
        return PARSE_STOP
