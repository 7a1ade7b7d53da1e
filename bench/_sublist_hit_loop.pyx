# Bench helper (compiled on the fly by pyximport): calls Sublist.match_c in a C loop, as the
# connection's delivery path does, so the timing is the kernel's and not Python's call overhead.
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from natsx._core.sublist cimport Sublist, SublistResult


def match_loop(Sublist sl, list subjects, Py_ssize_t rounds):
    cdef Py_ssize_t i, j, n = len(subjects), total = 0
    cdef bytes s
    cdef SublistResult r
    for i in range(rounds):
        for j in range(n):
            s = <bytes>subjects[j]
            r = sl.match_c(PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s))
            total += len(r.psubs)
    return total
