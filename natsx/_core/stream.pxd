# JetStream's ingest kernel: the publish path of one stream, in C.
#
# A StreamIngest is a server-internal sublist Subscriber (natsx/_core/sublist.pxd) subscribed on
# the stream's subjects. Per message, deliver() runs in C with no Python object: it reads the
# NATS header block (Nats-Msg-Id, Nats-Expected-*, Nats-Rollup, and the headers of features natsx
# does not implement yet, refused with nats-server's error), checks sealed / max_msg_size /
# limits with discard new, looks the id up in the duplicate window (dedupe.pxd), appends through
# MsgLog.append_c, and builds the pub ack JSON. Error acks are sent at once; success acks (and
# duplicate acks) wait in a C queue until the store reports their sequence durable. batch_end()
# runs once per input batch: MsgLog.commit_c() (the group commit: one fdatasync per loop iteration,
# off-thread), then the acks that are durable go out; the rest are released by one Python callback
# per group commit (the store's durable() future), never per message.
# Nats-Required-Api-Level is not checked on a plain publish: nats-server 2.15 ignores it there
# (measured) and stores it as any header. Full stream config validation is the control plane's.
#
# Python face (what natsx.jetstream's Stream object uses):
#
#   StreamIngest(core: ServerCore, store: FileStore | MemStore, name: bytes,
#                config: Mapping[str, object] | None = None, domain: bytes | None = None,
#                account: Account | None = None)   # acks go through account's sublist ($G)
#       config holds nats-server StreamConfig JSON fields; the ones read here: max_msg_size,
#       sealed, no_ack, allow_rollup_hdrs, deny_purge, duplicate_window (ns), max_age (ns),
#       allow_msg_ttl, allow_msg_counter, allow_atomic, allow_batched, allow_msg_schedules
#       (the last five must be false: their features are not implemented, ValueError otherwise).
#       max_msgs / max_bytes / max_msgs_per_subject / discard / discard_new_per_subject are the
#       store's (StoreConfig); the kernel applies them through MsgLog with nats-server's errors.
#       The dedupe window is rebuilt on construction from the stored messages' Nats-Msg-Id
#       headers inside the window (restart: nothing else to persist).
#   reconfigure(config)   apply a changed config (same keys); the store's limits via store.update_config
#   close()               stop accepting (later publishes get no ack), release pending acks' memory
#   wiring: the caller inserts Subscription(subject, sid, ingest) per stream subject in the
#   account's sublist (and removes them before close()); the kernel does not subscribe itself.
#   dedupe_seq(msg_id) -> int  the sequence a Nats-Msg-Id is a duplicate of now (0: none)
#   last_seq, last_msg_id, dedupe_count, acks_pending, acks_sent, stored, errors, duplicates
#   rebuild_dedupe() -> int   reload the window from the store (done by the constructor)
#   expire_dedupe()           drop ids past the window (for a timer; lookups expire too)
#   process(subject, payload, reply=None, hdr=None)   one message from Python (internal publishes,
#                                                     tests); same path as deliver()

from libc.stdint cimport int64_t, uint64_t, uint32_t

from natsx._core.account cimport Account
from natsx._core.conn cimport ServerCore
from natsx._core.dedupe cimport DedupeTable
from natsx._core.msglog cimport MsgLog
from natsx._core.sublist cimport Subscriber, Subscription


cdef struct PendingAck:
    uint64_t seq          # acked once durable_seq >= seq
    size_t reply_off      # reply subject in the pending arena
    uint32_t reply_len
    uint32_t duplicate    # 1: {"...","seq":N,"duplicate": true}


cdef struct Buf:
    char* p
    size_t len
    size_t cap


cdef class StreamIngest(Subscriber):
    cdef readonly ServerCore core
    cdef readonly MsgLog store
    cdef readonly bytes name
    cdef readonly bytes domain
    cdef readonly Account account  # whose sublist acks are published in ($G by default)
    cdef object store_py          # the same store as a Python object (durable(), durable_seq)
    cdef DedupeTable dd
    # config (nats-server semantics; -1 = unlimited)
    cdef int64_t max_msg_size
    cdef bint sealed, no_ack, allow_rollup
    cdef bytes ack_prefix         # {"stream":"S"[,"domain":"D"],"seq":
    cdef const char* prefix_p     # ack_prefix and name as C buffers (per-message use)
    cdef size_t prefix_n
    cdef const char* name_p
    cdef size_t name_n
    # state
    cdef Buf last_msg_id          # Nats-Msg-Id of the last stored message ("" if none)
    cdef Buf out                  # the ack being built
    cdef Buf hdr_buf              # a header rewritten before storing (status line, Nats-Request-Info)
    cdef PendingAck* pend         # ring of acks waiting for durability
    cdef size_t pend_cap, pend_head, pend_n
    cdef Buf arena                # their reply subjects
    cdef size_t arena_head        # bytes of the arena already released
    cdef bint waiting             # a durable() callback is registered
    cdef object on_durable        # bound _durable_cb
    cdef readonly uint64_t stored, duplicates, errors, acks_sent

    cdef int _ingest(self, const char* subject, Py_ssize_t subject_len,
                     const char* reply, Py_ssize_t reply_len,
                     const char* hdr, Py_ssize_t hdr_len,
                     const char* payload, Py_ssize_t payload_len) except -1
    cdef uint64_t _append_rollup(self, const char* subject, size_t sl, const char* hdr, size_t hl,
                                 const char* payload, size_t ml, int64_t now) except 0
    cdef uint64_t _last_of(self, const char* subj, size_t n) except? 0
    cdef uint64_t _last_of_filter(self, bytes flt) except? 0
    cdef int _limit_error(self, const char* subj, size_t sl, size_t hl, size_t ml, bint rollup) noexcept
    cdef int _rollup(self, const char* subject, Py_ssize_t subject_len, bint all) except -1
    # acks
    cdef int _wrong_last(self, const char* reply, Py_ssize_t reply_len, uint64_t seq) except -1
    cdef int _err(self, const char* reply, Py_ssize_t reply_len, int code, int err_code,
                  const char* desc) except -1
    cdef int _err_buf(self, const char* reply, Py_ssize_t reply_len, int code, int err_code) except -1
    cdef int _queue_ack(self, const char* reply, Py_ssize_t reply_len, uint64_t seq, bint dup) except -1
    cdef int _send_ack(self, const char* reply, size_t reply_len, uint64_t seq, bint dup) except -1
    cdef int _send(self, const char* subj, size_t subj_len, const char* data, size_t data_len) except -1
    cdef int _release(self, uint64_t durable) except -1
    cdef int _compact_arena(self) except -1
    cdef int _release_durable(self) except -1
    cdef int _write_failed(self, object exc) except -1
    cdef void _drop_pending(self) noexcept
