# Bench helper (compiled on the fly by pyximport): a parser whose hooks only count, so the
# timing is the state machine's (control lines, arguments, payload framing) and nothing else.
from natsx._core.parser cimport Parser, PARSE_OK, ROLE_CLIENT, ROLE_CLIENT_SIDE


cdef class CountingParser(Parser):
    cdef public long long msgs

    def __init__(self, bint client_side=False):
        self.set_role(ROLE_CLIENT_SIDE if client_side else ROLE_CLIENT)

    cdef int on_msg(self, const char* subject, Py_ssize_t subject_len,
                    const char* sid, Py_ssize_t sid_len,
                    const char* reply, Py_ssize_t reply_len,
                    const char* hdr, Py_ssize_t hdr_len,
                    const char* payload, Py_ssize_t payload_len) except -1:
        self.msgs += 1
        return PARSE_OK


def parse_loop(CountingParser p, bytes data, Py_ssize_t chunk, Py_ssize_t rounds) -> int:
    """Feed `data` in `chunk`-byte reads, `rounds` times; returns the messages seen."""
    cdef const char* buf = data
    cdef Py_ssize_t n = len(data), i, r
    for r in range(rounds):
        i = 0
        while i < n:
            p.feed(buf + i, min(chunk, n - i))
            i += chunk
    return p.msgs
