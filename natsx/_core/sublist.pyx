# Subject matching kernel, modelled on nats-server's server/sublist.go.
#
# A token trie: each _Level maps literal tokens to _Nodes and has separate '*' (pwc) and '>' (fwc)
# nodes. A node holds plain subscriptions and queue subscriptions grouped by queue name. Matching a
# literal subject walks the trie (literal token, '*' at each level, '>' for the rest) and builds a
# SublistResult that is cached by subject; a cache hit is one bytes object + one dict lookup.
#
# Results are immutable once handed out: inserts build a new result (copy + the new sub) for the
# affected cache entries and removals drop them, so a delivery loop can keep iterating an old result
# while subscriptions come and go. genid is bumped on every change for callers' L1 caches.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem, PyDict_Next
from cpython.ref cimport PyObject
from libc.string cimport memcmp

cdef enum:
    SL_CACHE_MAX = 1024     # nats-server slCacheMax
    SL_CACHE_SWEEP = 256    # nats-server slCacheSweep: drain to this count once over the max

# Subject validation and matching live in natsx/_core/subject (cimported through sublist.pxd); the
# Python functions are re-exported here for existing importers.
from natsx._core.subject import (is_literal, is_valid_literal_subject, is_valid_publish_subject,
                                 is_valid_subject, subject_matches)


# ---------------------------------------------------------------------------------------------
# Subscribers and subscriptions.

cdef class Subscriber:
    """Base for anything that receives messages; override deliver() in a Cython subclass."""

    cdef int deliver(self, Subscription sub,
                     const char* subject, Py_ssize_t subject_len,
                     const char* reply, Py_ssize_t reply_len,
                     const char* hdr, Py_ssize_t hdr_len,
                     const char* payload, Py_ssize_t payload_len) except -1:
        raise NotImplementedError(f"{type(self).__name__}.deliver")

    cdef int batch_end(self) except -1:
        return 0

    def deliver_py(self, Subscription sub, bytes subject, reply=None, hdr=None, bytes payload=b""):
        """Call deliver() from Python (tests, rare control-plane paths)."""
        cdef bytes r = reply if reply is not None else b""
        cdef bytes h = hdr if hdr is not None else b""
        self.deliver(sub, PyBytes_AS_STRING(subject), PyBytes_GET_SIZE(subject),
                     PyBytes_AS_STRING(r) if reply is not None else NULL, PyBytes_GET_SIZE(r),
                     PyBytes_AS_STRING(h) if hdr is not None else NULL,
                     PyBytes_GET_SIZE(h) if hdr is not None else -1,
                     PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))


cdef class CallbackSubscriber(Subscriber):
    """A server-internal subscriber whose deliveries go to a Python callable.

    For control-plane handlers ($JS.API requests, $SYS), where a Python call per message is expected:
    callback(sub, subject: bytes, reply: bytes | None, hdr: bytes | None, payload: bytes).
    hdr_len < 0 means "no headers".
    """
    cdef readonly object callback

    def __init__(self, callback):
        self.callback = callback

    cdef int deliver(self, Subscription sub,
                     const char* subject, Py_ssize_t subject_len,
                     const char* reply, Py_ssize_t reply_len,
                     const char* hdr, Py_ssize_t hdr_len,
                     const char* payload, Py_ssize_t payload_len) except -1:
        self.callback(
            sub,
            PyBytes_FromStringAndSize(subject, subject_len),
            PyBytes_FromStringAndSize(reply, reply_len) if reply != NULL and reply_len > 0 else None,
            PyBytes_FromStringAndSize(hdr, hdr_len) if hdr != NULL and hdr_len >= 0 else None,
            PyBytes_FromStringAndSize(payload, payload_len),
        )
        return 0


cdef class Subscription:
    """One SUB: subject (may have wildcards), optional queue group, owning Subscriber."""

    def __init__(self, bytes subject not None, bytes sid not None, Subscriber owner=None,
                 bytes queue=None, long long max_msgs=0):
        self.subject = subject
        self.sid = sid
        self.owner = owner
        # An empty queue name means no queue group.
        self.queue = queue if queue else None
        self.max_msgs = max_msgs
        self.delivered = 0
        self.closed = False

    def __repr__(self):
        if self.queue is None:
            return f"<Subscription {self.subject!r} sid={self.sid!r}>"
        return f"<Subscription {self.subject!r} queue={self.queue!r} sid={self.sid!r}>"


cdef class SublistResult:
    """Match result: psubs (plain subs) and qsubs (one list per queue group). Never mutate it."""

    def __repr__(self):
        return f"<SublistResult psubs={len(self.psubs)} qgroups={len(self.qsubs)}>"

    def __len__(self):
        return len(self.psubs) + len(self.qsubs)


cdef inline SublistResult _new_result(list psubs, list qsubs):
    cdef SublistResult r = SublistResult.__new__(SublistResult)
    r.psubs = psubs
    r.qsubs = qsubs
    return r


# Shared empty result (nats-server emptyResult).
cdef SublistResult _EMPTY = _new_result([], [])


cdef SublistResult _add_sub_to_result(SublistResult r, Subscription sub):
    """addSubToResult: a copy of r with sub added (r itself may be in use by a delivery loop)."""
    cdef list psubs = list(r.psubs)
    cdef list qsubs
    cdef list g
    cdef Py_ssize_t i
    if sub.queue is None:
        psubs.append(sub)
        return _new_result(psubs, [list(g) for g in r.qsubs])
    qsubs = []
    found = False
    for g in r.qsubs:
        g = list(g)
        if not found and (<Subscription>g[0]).queue == sub.queue:
            g.append(sub)
            found = True
        qsubs.append(g)
    if not found:
        qsubs.append([sub])
    return _new_result(psubs, qsubs)


# ---------------------------------------------------------------------------------------------
# The trie.

cdef class _Node:
    cdef _Level next
    cdef dict psubs        # Subscription -> None: an insertion-ordered set
    cdef dict qsubs        # queue name -> {Subscription: None}; None until the first queue sub

    def __cinit__(self):
        self.psubs = {}

    cdef bint is_empty(self):
        return not self.psubs and not self.qsubs and (self.next is None or self.next.is_empty())


cdef class _Level:
    cdef dict nodes        # literal token -> _Node
    cdef _Node pwc
    cdef _Node fwc

    def __cinit__(self):
        self.nodes = {}

    cdef bint is_empty(self):
        return not self.nodes and self.pwc is None and self.fwc is None

    cdef void prune(self, _Node n, bytes token):
        if n is self.fwc:
            self.fwc = None
        elif n is self.pwc:
            self.pwc = None
        else:
            self.nodes.pop(token, None)


cdef class _Builder:
    """Accumulates a match result; merges queue groups of the same name across nodes."""
    cdef list psubs
    cdef list qsubs
    cdef dict qidx         # queue name -> index in qsubs

    def __cinit__(self):
        self.psubs = []
        self.qsubs = []
        self.qidx = {}

    cdef int add_node(self, _Node n) except -1:
        cdef object q, idx
        cdef dict group
        if n.psubs:
            self.psubs.extend(n.psubs)
        if n.qsubs:
            for q, group in n.qsubs.items():
                idx = self.qidx.get(q)
                if idx is None:
                    self.qidx[q] = len(self.qsubs)
                    self.qsubs.append(list(group))
                else:
                    (<list>self.qsubs[<Py_ssize_t>idx]).extend(group)
        return 0


cdef int _match_level(_Level l, list toks, Py_ssize_t start, _Builder b) except -1:
    """matchLevel: recursive descent, literal token + '*' at each level, '>' for the rest."""
    cdef _Node pwc = None, n = None
    cdef Py_ssize_t i, nt = len(toks)
    for i in range(start, nt):
        if l is None:
            return 0
        if l.fwc is not None:
            b.add_node(l.fwc)
        pwc = l.pwc
        if pwc is not None:
            _match_level(pwc.next, toks, i + 1, b)
        n = <_Node>l.nodes.get(toks[i])
        l = n.next if n is not None else None
    if n is not None:
        b.add_node(n)
    if pwc is not None:
        b.add_node(pwc)
    return 0


cdef int _collect(_Level l, list out) except -1:
    cdef _Node n
    cdef dict group
    if l is None:
        return 0
    for n in l.nodes.values():
        _collect_node(n, out)
    if l.pwc is not None:
        _collect_node(l.pwc, out)
    if l.fwc is not None:
        _collect_node(l.fwc, out)
    return 0


cdef Py_ssize_t _visit_level(_Level l, Py_ssize_t depth) except -1:
    cdef Py_ssize_t best, d
    cdef _Node n
    if l is None or l.is_empty():
        return depth
    depth += 1
    best = depth
    for n in l.nodes.values():
        d = _visit_level(n.next, depth)
        if d > best:
            best = d
    for n in (l.pwc, l.fwc):
        if n is not None:
            d = _visit_level(n.next, depth)
            if d > best:
                best = d
    return best


cdef int _collect_node(_Node n, list out) except -1:
    cdef dict group
    out.extend(n.psubs)
    if n.qsubs:
        for group in n.qsubs.values():
            out.extend(group)
    _collect(n.next, out)
    return 0


cdef class Sublist:
    """Subscriptions by subject with a match cache (nats-server Sublist)."""

    def __cinit__(self):
        self._root = _Level()
        self._cache = {}

    # -- mutation ---------------------------------------------------------------------------

    cpdef insert(self, Subscription sub):
        """Add sub. Raises ValueError("Invalid Subject") where nats-server's Insert fails
        (empty token, token after '>'); whitespace is the caller's rule (is_valid_subject)."""
        cdef bytes subject = sub.subject
        cdef bytes t
        cdef _Level l = <_Level>self._root
        cdef _Node n = None
        cdef dict group
        if not is_insertable_c(PyBytes_AS_STRING(subject), PyBytes_GET_SIZE(subject)):
            raise ValueError("Invalid Subject")
        for t in subject.split(b'.'):
            if n is not None:
                if n.next is None:
                    n.next = _Level()
                l = n.next
            if t == b'*':
                n = l.pwc
                if n is None:
                    n = l.pwc = _Node()
            elif t == b'>':
                n = l.fwc
                if n is None:
                    n = l.fwc = _Node()
            else:
                n = <_Node>l.nodes.get(t)
                if n is None:
                    n = _Node()
                    l.nodes[t] = n
        if sub.queue is None:
            if sub in n.psubs:
                return None
            n.psubs[sub] = None
        else:
            if n.qsubs is None:
                n.qsubs = {}
            group = <dict>n.qsubs.get(sub.queue)
            if group is None:
                group = {}
                n.qsubs[sub.queue] = group
            elif sub in group:
                return None
            group[sub] = None
        self.count += 1
        self.inserts += 1
        _add_to_cache(self, subject, sub)
        self.genid += 1
        return None

    cpdef bint remove(self, Subscription sub):
        """Remove sub; False when it was not in the list. Prunes emptied trie nodes."""
        cdef bytes subject = sub.subject
        cdef bytes t
        cdef _Level l = <_Level>self._root
        cdef _Node n = None
        cdef dict group
        cdef list levels = [], nodes = [], toks
        cdef Py_ssize_t i
        if not is_insertable_c(PyBytes_AS_STRING(subject), PyBytes_GET_SIZE(subject)):
            return False
        toks = subject.split(b'.')
        for t in toks:
            if l is None:
                return False
            if t == b'*':
                n = l.pwc
            elif t == b'>':
                n = l.fwc
            else:
                n = <_Node>l.nodes.get(t)
            if n is None:
                return False
            levels.append(l)
            nodes.append(n)
            l = n.next
        if sub.queue is None:
            if n.psubs.pop(sub, 0) is not None:     # stored value is None; 0 means absent
                return False
        else:
            if n.qsubs is None:
                return False
            group = <dict>n.qsubs.get(sub.queue)
            if group is None or group.pop(sub, 0) is not None:
                return False
            if not group:
                del n.qsubs[sub.queue]
                if not n.qsubs:
                    n.qsubs = None
        self.count -= 1
        self.removes += 1
        for i in range(len(levels) - 1, -1, -1):
            n = <_Node>nodes[i]
            if not n.is_empty():
                break
            (<_Level>levels[i]).prune(n, <bytes>toks[i])
        _remove_from_cache(self, subject)
        self.genid += 1
        return True

    def remove_batch(self, subs):
        """Remove many subs (a closing connection); returns how many were present.

        Like nats-server's RemoveBatch, skips the per-sub cache scan and clears the cache once.
        """
        cdef Subscription sub
        cdef Py_ssize_t removed = 0
        cdef dict saved = self._cache
        self._cache = {}
        try:
            for sub in subs:
                if self.remove(sub):
                    removed += 1
        finally:
            self._cache = {} if removed else saved
        return removed

    # -- matching ---------------------------------------------------------------------------

    cdef SublistResult match_c(self, const char* subject, Py_ssize_t n):
        return self.match(PyBytes_FromStringAndSize(subject, n))

    cpdef SublistResult match(self, bytes subject):
        """Match a literal subject: plain subs and one list per queue group."""
        cdef PyObject* r
        self.matches += 1
        r = PyDict_GetItem(self._cache, subject)
        if r is not NULL:
            self.cache_hits += 1
            return <SublistResult>r
        return _match_slow(self, subject)

    def has_interest(self, bytes subject):
        """True when anything matches subject (goes through the cache)."""
        cdef SublistResult r = self.match(subject)
        return bool(r.psubs) or bool(r.qsubs)

    # -- monitoring -------------------------------------------------------------------------

    @property
    def num_cache(self):
        return len(self._cache)

    def clear_cache(self):
        self._cache = {}

    def all_subscriptions(self):
        """Every subscription in the list (for /subsz and /connz subscription lists)."""
        cdef list out = []
        _collect(<_Level>self._root, out)
        return out

    def num_levels(self):
        """Depth of the trie (nats-server numLevels); 0 when empty, so tests can check pruning."""
        return _visit_level(<_Level>self._root, 0)

    def stats(self):
        """nats-server SublistStats with its /subsz JSON field names."""
        cdef SublistResult r
        cdef Py_ssize_t tot = 0, mx = 0, fan, clen = len(self._cache)
        for r in self._cache.values():
            fan = len(r.psubs) + len(r.qsubs)
            tot += fan
            if fan > mx:
                mx = fan
        return {
            "num_subscriptions": self.count,
            "num_cache": clen,
            "num_inserts": self.inserts,
            "num_removes": self.removes,
            "num_matches": self.matches,
            "cache_hit_rate": (<double>self.cache_hits / self.matches) if self.matches else 0.0,
            "max_fanout": mx,
            "avg_fanout": (<double>tot / clen) if tot else 0.0,
        }

    def __len__(self):
        return self.count


# Sublist helpers (module-level: the .pxd fixes the class's C methods).

cdef list _cached_keys_matching(Sublist self, bytes pattern):
    """Cached literal subjects that the wildcard subject `pattern` matches (C-level dict scan)."""
    cdef list out = []
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef const char* p = PyBytes_AS_STRING(pattern)
    cdef Py_ssize_t pl = PyBytes_GET_SIZE(pattern)
    while PyDict_Next(self._cache, &pos, &k, &v):
        if subject_matches_c(PyBytes_AS_STRING(<bytes>k), PyBytes_GET_SIZE(<bytes>k), p, pl):
            out.append(<bytes>k)
    return out


cdef int _add_to_cache(Sublist self, bytes subject, Subscription sub) except -1:
    """addToCache: replace the affected cached results with copies that include sub."""
    cdef object r
    cdef bytes key
    if not self._cache:
        return 0
    if is_literal_c(PyBytes_AS_STRING(subject), PyBytes_GET_SIZE(subject)):
        r = self._cache.get(subject)
        if r is not None:
            self._cache[subject] = _add_sub_to_result(<SublistResult>r, sub)
        return 0
    for key in _cached_keys_matching(self, subject):
        self._cache[key] = _add_sub_to_result(<SublistResult>self._cache[key], sub)
    return 0


cdef int _remove_from_cache(Sublist self, bytes subject) except -1:
    """removeFromCache: drop the cached results the removed subject matched."""
    cdef bytes key
    if not self._cache:
        return 0
    if is_literal_c(PyBytes_AS_STRING(subject), PyBytes_GET_SIZE(subject)):
        self._cache.pop(subject, None)
        return 0
    for key in _cached_keys_matching(self, subject):
        del self._cache[key]
    return 0


cdef SublistResult _match_slow(Sublist self, bytes subject):
    cdef list toks = subject.split(b'.')
    cdef bytes t
    cdef _Builder b
    cdef SublistResult result
    for t in toks:
        if PyBytes_GET_SIZE(t) == 0:    # "a..b", ".a", "a.", "": matches nothing, not cached
            return _EMPTY
    b = _Builder()
    _match_level(<_Level>self._root, toks, 0, b)
    if b.psubs or b.qsubs:
        result = _new_result(b.psubs, b.qsubs)
    else:
        result = _EMPTY
    self._cache[subject] = result
    if len(self._cache) > SL_CACHE_MAX:
        _sweep(self)
    return result

cdef int _sweep(Sublist self) except -1:
    # nats-server drops arbitrary entries down to slCacheSweep; we drop the oldest-inserted.
    cdef Py_ssize_t drop = len(self._cache) - SL_CACHE_SWEEP
    cdef list victims = []
    for k in self._cache:
        if len(victims) >= drop:
            break
        victims.append(k)
    for k in victims:
        del self._cache[k]
    return 0
