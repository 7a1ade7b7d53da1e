# The NATS text-protocol parser: one state machine for both directions (a server reads
# CONNECT/PUB/HPUB/SUB/UNSUB/PING/PONG; a client reads INFO/MSG/HMSG/+OK/-ERR/PING/PONG).
# Subclasses override the on_* hooks in Cython; the vtable call keeps the hot path in C.

# Which side of which connection a parser reads: each role has its own operation table
# (parser.pyx: ROLES). A server reads clients (ROLE_CLIENT), routes and leaf nodes; natsx bench's
# load generator reads a server (ROLE_CLIENT_SIDE).
cpdef enum Role:
    ROLE_CLIENT = 0         # CONNECT PUB HPUB SUB UNSUB PING PONG (+OK -ERR INFO, as nats-server)
    ROLE_CLIENT_SIDE = 1    # INFO MSG HMSG +OK -ERR PING PONG (and the client ops, harmlessly)
    ROLE_ROUTE = 2          # empty until routes: RS+ RS- RMSG will go here
    ROLE_LEAF = 3           # empty until leaf nodes: LS+ LS- LMSG will go here

# One operation a role accepts.
cdef struct OpSpec:
    const char* name        # lower case
    int name_len
    int kind                # parser.pyx's OpKind
    int after               # parser.pyx's After: what must follow the name

# A role's operation table (parser.pyx's quick_op finds the operation nearly every line of a role
# starts with, PUB or MSG, without walking it).
cdef struct RoleSpec:
    const OpSpec* ops
    int nops
    # nats-server allows routes, leafs and gateways 16 times max_control_line (overMaxControlLineLimit).
    int control_line_factor

# Parse errors, in nats-server's words where it sends one.
cpdef enum ParseError:
    PE_NONE = 0
    PE_UNKNOWN_OP = 1          # -ERR 'Unknown Protocol Operation', close
    PE_MAX_CONTROL_LINE = 2    # -ERR 'maximum control line exceeded', close
    PE_ARGS = 3                # processPub/processSub/... argument error: close silently
    PE_AUTH = 4                # first operation was not CONNECT while auth is required

# What a hook returns: keep parsing, or stop (the connection is being closed).
cpdef enum ParseResult:
    PARSE_OK = 0
    PARSE_STOP = 1

cdef class Parser:
    cdef int state
    cdef readonly int role             # a Role; set with set_role()
    cdef const RoleSpec* spec          # the role's operation table
    cdef public bint require_connect   # the first operation must be CONNECT (auth pending)
    cdef public Py_ssize_t max_control_line
    cdef public bint trace             # report every control line and payload to on_trace (-V)
    # Pending bytes of an operation split across reads (control line, then payload).
    cdef char* pend
    cdef Py_ssize_t pend_len
    cdef Py_ssize_t pend_cap
    # Arguments of the message operation in progress (PUB/HPUB/MSG/HMSG); offsets into the line.
    cdef int msg_op
    cdef Py_ssize_t line_len           # length of the control line held at the front of pend
    cdef Py_ssize_t subj_off, subj_len, reply_off, reply_len, sid_off, sid_len
    cdef Py_ssize_t hdr_size, total_size
    cdef Py_ssize_t hdr_tok_off, hdr_tok_len, size_tok_off, size_tok_len
    # During on_msg: the size tokens exactly as the sender wrote them (nats-server echoes them).
    cdef const char* size_tok
    cdef const char* hdr_tok

    cdef void set_role(self, int role) noexcept
    cdef int feed(self, const char* buf, Py_ssize_t n) except -1
    cdef int _line(self, const char* line, Py_ssize_t n) except -1
    cdef int _msg_args(self, const char* line, Py_ssize_t a, Py_ssize_t end) except -1
    cdef int _args_error(self, const char* line, Py_ssize_t a, Py_ssize_t end, str what) except -1
    cdef int _partial_line(self, const char* data, Py_ssize_t n) except -1
    cdef int _fail(self, int code, str detail) except -1
    cdef void _drop_pending(self) noexcept
    cdef int _payload_done(self, const char* line, const char* payload) except -1
    cdef int _stash(self, const char* data, Py_ssize_t n) except -1

    # Hooks. Return PARSE_OK or PARSE_STOP; raise on internal errors.
    cdef int on_connect(self, const char* arg, Py_ssize_t n) except -1
    cdef int on_info(self, const char* arg, Py_ssize_t n) except -1
    # Called once the control line of PUB/HPUB/MSG/HMSG is parsed, before the payload (limits,
    # pedantic checks); hdr_size is -1 for PUB/MSG.
    cdef int on_msg_args(self, const char* subject, Py_ssize_t subject_len, Py_ssize_t hdr_size, Py_ssize_t total_size) except -1
    cdef int on_msg(self, const char* subject, Py_ssize_t subject_len,
                    const char* sid, Py_ssize_t sid_len,
                    const char* reply, Py_ssize_t reply_len,
                    const char* hdr, Py_ssize_t hdr_len,
                    const char* payload, Py_ssize_t payload_len) except -1
    cdef int on_sub(self, const char* subject, Py_ssize_t subject_len,
                    const char* queue, Py_ssize_t queue_len,
                    const char* sid, Py_ssize_t sid_len) except -1
    cdef int on_unsub(self, const char* sid, Py_ssize_t sid_len, long long max_msgs) except -1
    cdef int on_ping(self) except -1
    cdef int on_pong(self) except -1
    cdef int on_ok(self) except -1
    cdef int on_err(self, const char* arg, Py_ssize_t n) except -1
    cdef int on_parse_error(self, int code, str detail) except -1
    cdef int on_trace(self, const char* data, Py_ssize_t n, bint payload) except -1


# Decimal parsing as nats-server's parseSize: digits only, -1 on anything else or overflow.
cdef long long parse_size(const char* s, Py_ssize_t n) noexcept nogil
