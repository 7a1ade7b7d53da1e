# A client connection's hot path: parse what it sends, route PUBs through the sublist,
# queue MSG/HMSG frames on each receiver's outbound buffer, flush each touched
# connection once per input batch (nats-server's "pcd").
from natsx._core.account cimport Account
from natsx._core.parser cimport Parser
from natsx._core.perms cimport Permissions
from natsx._core.sublist cimport Sublist, SublistResult, Subscriber, Subscription


cdef class ServerCore:
    """What the hot path shares across connections: the global account, limits, counters."""
    cdef readonly Account global_account   # $G: every connection's account until accounts arrive
    cdef public Py_ssize_t max_payload
    cdef public Py_ssize_t max_pending
    cdef public Py_ssize_t max_control_line
    cdef public long long in_msgs, in_bytes, out_msgs, out_bytes, slow_consumers
    cdef list dirty                  # Subscribers whose batch_end is due: connections' sinks with
                                     # frames queued during the current batch, and wants_batch_end ones
    cdef bytearray readbuf           # one read buffer for every connection (one thread reads)
    cdef object readview
    cdef unsigned long long rng      # xorshift state: which queue member gets a message
    # While routing a client's PUB: its size tokens as written, echoed in MSG/HMSG.
    cdef const char* size_tok
    cdef const char* hdr_tok
    cdef Py_ssize_t size_tok_len, hdr_tok_len
    # A receiver above its high-water mark got frames in the current batch: stall its producer.
    cdef Connection backed_up

    cdef unsigned long long next_random(self) noexcept
    cdef void add_batch_end(self, Subscriber s) noexcept
    cdef int deliver_result(self, SublistResult result, Subscriber src, bint echo,
                            const char* subject, Py_ssize_t subject_len,
                            const char* reply, Py_ssize_t reply_len,
                            const char* hdr, Py_ssize_t hdr_len,
                            const char* payload, Py_ssize_t payload_len) except -1
    cpdef flush_dirty(self)


cdef class ClientSink(Subscriber):
    """The Subscriber face of a Connection: deliveries become frames in its outbound buffer."""
    cdef Connection conn


cdef class Connection(Parser):
    cdef readonly ServerCore core
    cdef readonly ClientSink sink
    # Whose sublist this connection subscribes and publishes in (nats-server's c.acc); the control
    # plane's Client.account is its name as authentication gave it.
    cdef readonly Account acc
    cdef public Permissions perms        # None: allow everything (one pointer test per PUB)
    cdef public object transport
    cdef public int fd                   # the socket, written directly while the transport has no backlog
    cdef public dict subs                # sid (bytes) -> Subscription
    # CONNECT options (defaults as nats-server's before and within CONNECT).
    cdef public bint verbose, pedantic, echo, headers, no_responders
    cdef public bint closed
    cdef public bint connect_info_due    # send INFO with connect_info after the first PONG (protocol >= 1)
    cdef public bint write_paused        # transport above its high-water mark
    cdef public int pings_out
    cdef public Py_ssize_t max_subs      # per-connection subscription limit (0 = none)
    cdef public double last_activity     # epoch seconds of the last read batch
    cdef public double ping_sent_at      # when our last keepalive PING went out
    cdef public object rtt               # seconds from PING to PONG, None until measured
    cdef public long long in_msgs, in_bytes, out_msgs, out_bytes
    cdef public list stalled_producers   # connections paused because we were slow to drain
    # Outbound frames of the current batch.
    cdef char* out
    cdef Py_ssize_t out_len, out_cap
    cdef bint dirty                      # frames queued: listed for the batch end (its sink is)
    # L1 match cache: the last subject published on this connection.
    cdef bytes last_subject
    cdef unsigned long long last_genid
    cdef SublistResult last_result

    cdef int reserve(self, Py_ssize_t n) except -1
    cdef int write_raw(self, const char* data, Py_ssize_t n) except -1
    cdef int queue_msg(self, Subscription sub,
                       const char* subject, Py_ssize_t subject_len,
                       const char* reply, Py_ssize_t reply_len,
                       const char* hdr, Py_ssize_t hdr_len,
                       const char* payload, Py_ssize_t payload_len) except -1
    cdef int _trace_frame(self, Py_ssize_t line_len) except -1
    cdef int remove_sub(self, Subscription sub) except -1
    cdef void mark_dirty(self) noexcept
    cdef int _no_responders(self, const char* subject, Py_ssize_t subject_len,
                            const char* reply, Py_ssize_t reply_len) except -1
    cdef SublistResult match(self, const char* subject, Py_ssize_t n)
    cpdef flush(self)
    cpdef send_proto(self, bytes data)

    # Upcalls: what the kernel asks of the control plane. natsx.client.Client overrides them in
    # Python (hence cpdef; natsx/connection_protocol.py describes that face); the defaults here let a
    # bare Connection stand alone. Every call goes through _upcall_failed's guard: an exception is a
    # bug, logged, answered as nats-server would, and closes only this connection.
    cpdef _process_connect(self, bytes arg)           # returns PARSE_OK or PARSE_STOP
    cpdef _protocol_error(self, int code, str detail)
    cpdef _max_payload(self, Py_ssize_t size)
    cpdef _max_subs_exceeded(self)
    cpdef _publish_violation(self, bytes subject)
    cpdef _subscribe_violation(self, bytes subject, bytes queue, bytes sid)
    cpdef _client_error(self, bytes arg)
    cpdef _trace_in(self, bytes data, bint payload)
    cpdef _trace_out(self, bytes line)
    cpdef _check_slow_consumer(self)
    cpdef _schedule_unstall(self)
    cpdef _send_connect_info(self)
    cpdef close_connection(self, str reason, bint flush=*)
    cpdef _report_bug(self, str text)
    cdef int _upcall_failed(self, str where, object exc) except -1
