"""NATS subjects (the C functions are in subject.pxd): the Python face for the control plane and tests.

Subjects and filters are bytes or str. Argument order is always (subject, filter).
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE


cdef inline bytes _as_bytes(object subject):
    if type(subject) is bytes:
        return <bytes>subject
    if isinstance(subject, str):
        return (<str>subject).encode()
    return bytes(subject)


def is_valid_subject(subject, bint wildcards_ok=True, bint check_runes=False):
    """nats-server IsValidSubject (wildcards_ok=False: IsValidPublishSubject).

    check_runes mirrors isValidSubject(subject, true): also reject NUL bytes and invalid UTF-8
    (and U+FFFD, which Go cannot tell apart from a decoding error).
    """
    cdef bytes b = _as_bytes(subject)
    if not is_valid_subject_c(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), wildcards_ok):
        return False
    if check_runes:
        if b'\x00' in b:
            return False
        try:
            if u'\ufffd' in b.decode('utf-8'):
                return False
        except UnicodeDecodeError:
            return False
    return True


def is_valid_publish_subject(subject):
    """nats-server IsValidPublishSubject: a valid subject with no wildcard tokens."""
    cdef bytes b = _as_bytes(subject)
    return is_valid_subject_c(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), False)


def is_valid_literal_subject(subject):
    """nats-server IsValidLiteralSubject: non-empty tokens, no wildcard tokens (whitespace not checked)."""
    cdef bytes b = _as_bytes(subject)
    return is_valid_literal_c(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))


def is_literal(subject):
    """nats-server subjectIsLiteral: True when no token is exactly '*' or '>'."""
    cdef bytes b = _as_bytes(subject)
    return is_literal_c(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))


def subject_matches(subject, filter):
    """True when the literal subject matches filter ('*', '>' tokens; the empty filter matches all)."""
    cdef bytes sb = _as_bytes(subject), fb = _as_bytes(filter)
    return subject_matches_c(PyBytes_AS_STRING(sb), PyBytes_GET_SIZE(sb),
                             PyBytes_AS_STRING(fb), PyBytes_GET_SIZE(fb))
