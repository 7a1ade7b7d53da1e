# Test helper (compiled on the fly by pyximport): a C-level sublist Subscriber that appends every
# delivered message to a store and commits once per batch -- the shape of JetStream's stream
# ingest, without its rules. deliver() must run no Python per message (see test_c_ingest.py and
# `python ci/annotate_hot.py tests/store/_ingest.pyx deliver`).
from natsx._core.msglog cimport MsgLog
from natsx._core.sublist cimport Subscriber, Subscription


cdef class StoreIngest(Subscriber):
    cdef MsgLog log
    cdef object loop
    cdef object end_batch_cb
    cdef bint batch_open
    cdef readonly Py_ssize_t appended
    cdef readonly Py_ssize_t batches

    def __init__(self, MsgLog log not None, loop):
        self.log = log
        self.loop = loop
        self.end_batch_cb = self.end_batch

    cdef int deliver(self, Subscription sub, const char* subject, Py_ssize_t subject_len,
                     const char* reply, Py_ssize_t reply_len, const char* hdr, Py_ssize_t hdr_len,
                     const char* payload, Py_ssize_t payload_len) except -1:
        if hdr == NULL or hdr_len < 0:
            hdr_len = 0
        self.log.append_c(subject, subject_len, hdr, hdr_len, payload, payload_len, 0)
        self.appended += 1
        if not self.batch_open:
            # first message of this loop iteration's batch: the batch ends when the loop turns
            self.batch_open = True
            self.loop.call_soon(self.end_batch_cb)
        return 0

    def end_batch(self):
        self.batch_open = False
        self.batches += 1
        self.log.commit_c()
