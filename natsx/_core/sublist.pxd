# Subject matching: a token trie with '*' and '>' nodes, queue groups and a match cache.
# Modelled on nats-server's sublist.go. Everything the delivery path touches is C-level.

cdef class Subscriber:
    """Who receives matched messages: a client connection or a server-internal handler.

    The delivery path calls deliver() through the vtable; subclasses (the client
    connection in conn.pyx, JetStream's internal subscribers later) override it in Cython.

    Batch end ("append per message, commit and ack once per batch"): a subclass that sets
    wants_batch_end (in __cinit__) and overrides batch_end() gets one batch_end() call after each
    input batch (one read of a connection, or one server publish) in which deliver() was called
    for it at least once: after the batch's last message, with the batch's client output not yet
    flushed. batch_end may publish (through ServerCore.publish); in_batch is False again by then,
    so deliveries it causes list the subscriber for the next batch end.
    """
    cdef public bint closed
    cdef bint wants_batch_end          # call batch_end() once per input batch that delivered to us
    cdef bint in_batch                 # listed for this batch's batch_end (ServerCore.dirty)
    cdef int deliver(self, Subscription sub,
                     const char* subject, Py_ssize_t subject_len,
                     const char* reply, Py_ssize_t reply_len,
                     const char* hdr, Py_ssize_t hdr_len,
                     const char* payload, Py_ssize_t payload_len) except -1
    cdef int batch_end(self) except -1


cdef class Subscription:
    cdef readonly bytes subject
    cdef readonly bytes queue          # None when not in a queue group
    cdef readonly bytes sid
    cdef readonly Subscriber owner
    cdef public long long max_msgs     # auto-unsubscribe after this many (0 = never)
    cdef public long long delivered
    cdef public bint closed


cdef class SublistResult:
    cdef readonly list psubs           # list[Subscription]: plain subscriptions
    cdef readonly list qsubs           # list[list[Subscription]]: one list per queue group


cdef class Sublist:
    cdef object _root                  # _Level
    cdef dict _cache                   # bytes subject -> SublistResult
    cdef readonly unsigned long long genid   # bumped on every insert/remove; lets callers keep L1 caches
    cdef readonly Py_ssize_t count
    cdef public unsigned long long matches
    cdef public unsigned long long cache_hits
    cdef public unsigned long long inserts
    cdef public unsigned long long removes

    cpdef insert(self, Subscription sub)
    cpdef bint remove(self, Subscription sub)
    # Match a literal subject given as a C buffer; uses and fills the cache.
    cdef SublistResult match_c(self, const char* subject, Py_ssize_t n)
    cpdef SublistResult match(self, bytes subject)


# Subject validation shared by the parser, the server and (later) JetStream: one kernel, re-exported
# here for the modules that cimport it from the sublist.
from natsx._core.subject cimport (is_insertable_c, is_literal_c, is_valid_literal_c,
                                  is_valid_subject_c, subject_matches_c)
