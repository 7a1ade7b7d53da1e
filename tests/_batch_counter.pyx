# Test helper (compiled on the fly by pyximport, as bench/'s helpers): a C-level Subscriber that
# uses the batch-end hook the way a stream's ingest will ("append per message, commit once per
# batch"): it counts deliveries and, at each batch end, records how many the batch brought.
from natsx._core.sublist cimport Subscriber, Subscription


cdef class BatchCounter(Subscriber):
    cdef public long long pending      # delivered since the last batch end
    cdef public list batches           # messages per batch, one entry per batch_end call
    cdef public list subjects

    def __cinit__(self):
        self.wants_batch_end = True
        self.batches = []
        self.subjects = []

    cdef int deliver(self, Subscription sub,
                     const char* subject, Py_ssize_t subject_len,
                     const char* reply, Py_ssize_t reply_len,
                     const char* hdr, Py_ssize_t hdr_len,
                     const char* payload, Py_ssize_t payload_len) except -1:
        self.pending += 1
        self.subjects.append(subject[:subject_len])
        return 0

    cdef int batch_end(self) except -1:
        self.batches.append(self.pending)
        self.pending = 0
        return 0
