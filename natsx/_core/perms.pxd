# A connection's compiled publish/subscribe permissions (nats-server's c.perms). The connection
# holds None for "allow everything" (the default, and the only case until the security issue), so
# a PUB pays one pointer test; a Permissions object answers from C with a per-connection cache.
from natsx._core.sublist cimport Sublist


cdef class Permissions:
    # Allow and deny lists as sublists of patterns ("subject" or "subject queue"); None: no list.
    cdef readonly Sublist pub_allow, pub_deny, sub_allow, sub_deny
    cdef dict pub_cache                # subject (bytes) -> bint: nats-server's pcache

    cdef bint allow_publish(self, const char* subject, Py_ssize_t n) except -1
    cdef bint allow_subscribe(self, bytes subject, bytes queue) except -1
