"""Publish/subscribe permissions, compiled (see perms.pxd).

The rules are nats-server's (client.go: pubAllowedFullCheck, canSubscribeInternal): an allow list,
when present, must match; a deny list, when present, must not. A subscription with wildcards is
matched against the lists as a subject, so `foo.*` needs an allow pattern that covers it (`foo.*`,
`foo.>`, `>`). A queue entry is "subject queue".
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE

from natsx._core.sublist cimport Sublist, SublistResult, Subscription
from natsx._core.sublist import subject_matches

cdef Py_ssize_t PUB_CACHE_MAX = 128     # nats-server's maxPermCacheSize


cdef Sublist _compile(patterns):
    """A sublist holding each pattern; None for no list."""
    cdef Sublist sl
    cdef Py_ssize_t i
    if patterns is None:
        return None
    sl = Sublist()
    for i, pattern in enumerate(patterns):
        text = pattern.encode() if isinstance(pattern, str) else bytes(pattern)
        subject, _, queue = text.partition(b" ")
        sl.insert(Subscription(subject, str(i).encode(), None, queue.strip() or None))
    return sl


cdef bint _queue_listed(bytes queue, list qsubs):
    """nats-server's queueMatches: the queue is one of the listed groups (literally or by pattern)."""
    cdef list group
    cdef bytes name
    if not qsubs:
        return True
    for group in qsubs:
        name = (<Subscription>group[0]).queue
        if queue == name or subject_matches(queue, name):
            return True
    return False


cdef class Permissions:
    def __init__(self, publish_allow=None, publish_deny=None, subscribe_allow=None, subscribe_deny=None):
        self.pub_allow = _compile(publish_allow)
        self.pub_deny = _compile(publish_deny)
        self.sub_allow = _compile(subscribe_allow)
        self.sub_deny = _compile(subscribe_deny)
        self.pub_cache = {}

    cdef bint allow_publish(self, const char* subject, Py_ssize_t n) except -1:
        cdef bytes key = PyBytes_FromStringAndSize(subject, n)
        cached = self.pub_cache.get(key)
        if cached is not None:
            return cached
        allowed = self.pub_allow is None or len(self.pub_allow.match_c(subject, n).psubs) > 0
        if allowed and self.pub_deny is not None:
            allowed = len(self.pub_deny.match_c(subject, n).psubs) == 0
        if len(self.pub_cache) >= PUB_CACHE_MAX:
            self.pub_cache.clear()     # simpler than nats-server's pruning, same bound
        self.pub_cache[key] = allowed
        return allowed

    cdef bint allow_subscribe(self, bytes subject, bytes queue) except -1:
        cdef SublistResult r
        cdef bint allowed = True
        if self.sub_allow is not None:
            r = self.sub_allow.match(subject)
            allowed = len(r.psubs) > 0
            if queue is not None and r.qsubs:
                allowed = _queue_listed(queue, r.qsubs)
        if allowed and self.sub_deny is not None:
            r = self.sub_deny.match(subject)
            allowed = len(r.psubs) == 0
            if allowed and queue is not None and r.qsubs:
                allowed = not _queue_listed(queue, r.qsubs)
        return allowed

    def can_publish(self, subject) -> bool:
        """allow_publish from Python (tests, the control plane)."""
        cdef bytes b = subject.encode() if isinstance(subject, str) else subject
        return self.allow_publish(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))

    def can_subscribe(self, subject, queue=None) -> bool:
        """allow_subscribe from Python."""
        return self.allow_subscribe(subject.encode() if isinstance(subject, str) else subject,
                                    queue.encode() if isinstance(queue, str) else queue)
