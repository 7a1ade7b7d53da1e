# NATS subjects, in one place: validation, the literal test and token matching, as nats-server's
# sublist.go defines them. Used by the sublist, the store's filters and (later) JetStream.
#
# The functions are inline here so every kernel that cimports them compiles them in (no call
# through a function table on the delivery path). natsx/_core/subject.pyx is their Python face.
#
# One argument order everywhere: the literal subject first, the filter (pattern) second, as
# nats-server's matchLiteral(literal, subject) and SubjectMatchesFilter(subject, filter).
# The empty filter matches every subject, as an empty filter_subject does in nats-server's stores.

from libc.string cimport memchr, memcmp

cdef enum:
    PWC = 42    # '*': one token
    FWC = 62    # '>': the rest, one token or more
    TSEP = 46   # '.'


cdef inline bint is_valid_subject_c(const char* s, Py_ssize_t n, bint wildcards_ok) noexcept nogil:
    """IsValidSubject (wildcards_ok) or IsValidPublishSubject (not wildcards_ok).

    Tokens are non-empty, no ' ', '\\t', '\\n', '\\f', '\\r' anywhere; '>' as a whole token only last.
    '*'/'>' inside a longer token are plain characters, as in nats-server.
    """
    cdef Py_ssize_t i, start = 0, tl
    cdef char c
    cdef bint sfwc = False
    if n <= 0:
        return False
    for i in range(n + 1):
        if i == n or s[i] == TSEP:
            tl = i - start
            if tl == 0 or sfwc:
                return False
            if tl == 1:
                c = s[start]
                if c == FWC:
                    if not wildcards_ok:
                        return False
                    sfwc = True
                elif c == PWC and not wildcards_ok:
                    return False
            start = i + 1
        else:
            c = s[i]
            if c == b' ' or c == b'\t' or c == b'\n' or c == b'\r' or c == b'\f':
                return False
    return True


cdef inline bint is_insertable_c(const char* s, Py_ssize_t n) noexcept nogil:
    """What nats-server's Sublist.Insert accepts (else the client gets -ERR 'Invalid Subject'):
    non-empty tokens and nothing after a '>' token. Whitespace is not checked there."""
    cdef Py_ssize_t i, start = 0
    cdef bint sfwc = False
    if n <= 0:
        return False
    for i in range(n + 1):
        if i == n or s[i] == TSEP:
            if i == start or sfwc:
                return False
            if i - start == 1 and s[start] == FWC:
                sfwc = True
            start = i + 1
    return True


cdef inline bint is_literal_c(const char* s, Py_ssize_t n) noexcept nogil:
    """subjectIsLiteral: no whole-token '*' or '>' (does not check validity otherwise)."""
    cdef Py_ssize_t i
    cdef char c
    for i in range(n):
        c = s[i]
        if c == PWC or c == FWC:
            if (i == 0 or s[i - 1] == TSEP) and (i + 1 == n or s[i + 1] == TSEP):
                return False
    return True


cdef inline bint is_valid_literal_c(const char* s, Py_ssize_t n) noexcept nogil:
    """IsValidLiteralSubject: non-empty tokens, none exactly '*' or '>' (whitespace not checked)."""
    cdef Py_ssize_t i, start = 0
    for i in range(n + 1):
        if i == n or s[i] == TSEP:
            if i == start:
                return False
            if i - start == 1 and (s[start] == PWC or s[start] == FWC):
                return False
            start = i + 1
    return True


cdef inline bint is_match_all_c(const char* f, Py_ssize_t fl) noexcept nogil:
    """A filter every subject matches: empty or '>'."""
    return fl == 0 or (fl == 1 and f[0] == FWC)


cdef inline bint subject_matches_c(const char* s, Py_ssize_t sl, const char* f,
                                   Py_ssize_t fl) noexcept nogil:
    """Does the literal subject s match the filter f ('*' one token, '>' one or more; empty: all)?

    Tokens compare as bytes, empty tokens included (a '*' takes an empty token too); an empty
    subject matches only the empty filter."""
    cdef Py_ssize_t fi = 0, si = 0, fe, se
    cdef const char* q
    if fl == 0:
        return True
    if sl == 0:
        return False
    while True:
        q = <const char*>memchr(f + fi, TSEP, fl - fi)
        fe = (q - f) if q != NULL else fl
        q = <const char*>memchr(s + si, TSEP, sl - si)
        se = (q - s) if q != NULL else sl
        if fe - fi == 1 and f[fi] == FWC:
            return True
        if not (fe - fi == 1 and f[fi] == PWC):
            if fe - fi != se - si or memcmp(f + fi, s + si, fe - fi) != 0:
                return False
        if fe == fl and se == sl:
            return True
        if fe == fl or se == sl:
            return False
        fi = fe + 1
        si = se + 1
