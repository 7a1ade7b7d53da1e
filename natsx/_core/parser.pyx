# cython: freethreading_compatible = False
"""NATS protocol parser: a state machine fed with whatever the socket delivered.

Any split of the byte stream parses the same. A message whose control line and payload
lie wholly inside the buffer reaches on_msg as pointers into that buffer (no copy);
only an operation split across reads is gathered in the parser's own pending buffer.
Behaviour (which errors, and when) follows nats-server's parser.go and client.go.
"""
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memchr, memcpy

cdef enum State:
    ST_OP = 0          # reading a control line
    ST_PAYLOAD = 1     # control line parsed, gathering the payload of a message op
    ST_FAILED = 2      # a protocol error was reported: the rest of the stream is ignored

cdef enum MsgOp:
    OP_NONE = 0
    OP_PUB = 1
    OP_HPUB = 2
    OP_MSG = 3
    OP_HMSG = 4

cdef enum OpKind:
    K_PUB, K_HPUB, K_SUB, K_UNSUB, K_PING, K_PONG, K_CONNECT, K_INFO, K_OK, K_ERR, K_MSG, K_HMSG

# How an operation name must be followed: by a space or tab, by anything (argument
# starts after optional blanks), or by nothing we look at (PING, PONG, +OK).
cdef enum After:
    A_SPACE, A_ARG, A_ANY

# The operation tables, one per Role (parser.pxd). A role's table is all it accepts: any other
# operation is 'Unknown Protocol Operation', as in nats-server's parser for that connection kind.
cdef OpSpec[10] CLIENT_OPS
CLIENT_OPS[0] = OpSpec(b"pub", 3, K_PUB, A_SPACE)
CLIENT_OPS[1] = OpSpec(b"hpub", 4, K_HPUB, A_SPACE)
CLIENT_OPS[2] = OpSpec(b"sub", 3, K_SUB, A_SPACE)
CLIENT_OPS[3] = OpSpec(b"unsub", 5, K_UNSUB, A_SPACE)
CLIENT_OPS[4] = OpSpec(b"ping", 4, K_PING, A_ANY)
CLIENT_OPS[5] = OpSpec(b"pong", 4, K_PONG, A_ANY)
CLIENT_OPS[6] = OpSpec(b"connect", 7, K_CONNECT, A_ARG)
CLIENT_OPS[7] = OpSpec(b"info", 4, K_INFO, A_ARG)
CLIENT_OPS[8] = OpSpec(b"+ok", 3, K_OK, A_ANY)
CLIENT_OPS[9] = OpSpec(b"-err", 4, K_ERR, A_SPACE)

# A client reading a server: MSG/HMSG first (the quick op), then everything a server reads.
cdef OpSpec[12] CLIENT_SIDE_OPS
CLIENT_SIDE_OPS[0] = OpSpec(b"msg", 3, K_MSG, A_SPACE)
CLIENT_SIDE_OPS[1] = OpSpec(b"hmsg", 4, K_HMSG, A_SPACE)
cdef int _i
for _i in range(10):
    CLIENT_SIDE_OPS[2 + _i] = CLIENT_OPS[_i]

# quick_op's fast path returns index 0 of these two tables.
assert CLIENT_OPS[0].kind == K_PUB and CLIENT_SIDE_OPS[0].kind == K_MSG

cdef RoleSpec[4] ROLES
ROLES[<int>ROLE_CLIENT] = RoleSpec(&CLIENT_OPS[0], 10, 1)
ROLES[<int>ROLE_CLIENT_SIDE] = RoleSpec(&CLIENT_SIDE_OPS[0], 12, 1)
# Routes and leaf nodes have no operations yet (their kernels will bring RS+/RS-/RMSG, LS+/LMSG).
ROLES[<int>ROLE_ROUTE] = RoleSpec(NULL, 0, 16)
ROLES[<int>ROLE_LEAF] = RoleSpec(NULL, 0, 16)

DEF MAX_ARGS = 5


cdef inline char lower(char c) noexcept nogil:
    if c >= c'A' and c <= c'Z':
        return c + 32
    return c


cdef inline bint blank(char c) noexcept nogil:
    return c == c' ' or c == c'\t'


# The characters that end an argument (blanks and line ends): one table lookup per byte.
cdef unsigned char[256] ARG_END
ARG_END[<unsigned char>c' '] = ARG_END[<unsigned char>c'\t'] = 1
ARG_END[<unsigned char>c'\r'] = ARG_END[<unsigned char>c'\n'] = 1


cdef long long parse_size(const char* s, Py_ssize_t n) noexcept nogil:
    cdef long long v = 0
    cdef Py_ssize_t i
    if n == 0 or n > 18:
        return -1
    for i in range(n):
        if s[i] < c'0' or s[i] > c'9':
            return -1
        v = v * 10 + (s[i] - c'0')
    return v


cdef int match_op(const RoleSpec* spec, const char* line, Py_ssize_t n, bint complete) noexcept nogil:
    """Index in spec.ops of the operation `line` starts with; -1 if it can't be one.

    With complete=False the line is still arriving: a prefix of a valid name is fine.
    """
    cdef int k, j
    cdef const OpSpec* op
    if n == 0:
        return -1 if complete else -2
    for k in range(spec.nops):
        op = &spec.ops[k]
        if op.name[0] != lower(line[0]):
            continue
        for j in range(1, op.name_len):
            if j >= n:
                return -1 if complete else -2   # -2: undecided yet
            if lower(line[j]) != op.name[j]:
                break
        else:
            if op.after == A_SPACE:
                if n == op.name_len:
                    return -1 if complete else -2
                if not blank(line[op.name_len]):
                    return -1
            return k
    return -1


cdef inline Py_ssize_t arg_start(const OpSpec* op, const char* line, Py_ssize_t n) noexcept nogil:
    """Where the argument begins: after the operation's name and any blanks."""
    cdef Py_ssize_t a = op.name_len
    while a < n and blank(line[a]):
        a += 1
    return a


cdef bint arg_too_long(const char* line, Py_ssize_t a, Py_ssize_t n, Py_ssize_t limit) noexcept nogil:
    """nats-server's overMaxControlLineLimit: only the argument counts, not the operation's name,
    its blanks or the line end. The argument's '\\r' bytes don't count either: a line this long
    reaches nats-server in several reads (its first is 512 bytes), and what it gathers across
    reads leaves them out (parser.go's argBuf)."""
    cdef Py_ssize_t arg_len = n - a, i
    if arg_len <= limit:
        return False
    for i in range(a, n):
        if line[i] == c'\r':
            arg_len -= 1
    return arg_len > limit


cdef int split_args(const char* s, Py_ssize_t n, Py_ssize_t* offs, Py_ssize_t* lens) noexcept nogil:
    """Split on blanks into at most MAX_ARGS tokens; returns the count (MAX_ARGS+1 if more)."""
    cdef const unsigned char* u = <const unsigned char*>s
    cdef int count = 0
    cdef Py_ssize_t i = 0, start
    while True:
        while i < n and ARG_END[u[i]]:
            i += 1
        if i >= n:
            return count
        start = i
        i += 1
        while i < n and not ARG_END[u[i]]:
            i += 1
        if count == MAX_ARGS:
            return MAX_ARGS + 1
        offs[count] = start
        lens[count] = i - start
        count += 1


cdef inline int quick_op(int role, const char* line, Py_ssize_t n) noexcept nogil:
    """The role's quick operation (PUB for a server, MSG for a client) and a blank, the start of
    nearly every line: its index in the role's table without a table walk; -1 for anything else.
    The letters are constants here, not read from the table: this runs for every line."""
    if n < 4 or not blank(line[3]):
        return -1
    if role == ROLE_CLIENT:
        if lower(line[0]) == c'p' and lower(line[1]) == c'u' and lower(line[2]) == c'b':
            return 0        # CLIENT_OPS[0]: PUB
    elif role == ROLE_CLIENT_SIDE:
        if lower(line[0]) == c'm' and lower(line[1]) == c's' and lower(line[2]) == c'g':
            return 0        # CLIENT_SIDE_OPS[0]: MSG
    return -1


cdef str quoted_error(str what, bytes arg):
    """nats-server's wording for argument errors: `processPub Parse Error: "foo"` (Go's %q)."""
    return what + ': "' + arg.decode("latin-1") + '"'


cdef class Parser:
    def __cinit__(self, *args, **kwargs):
        self.state = ST_OP
        self.max_control_line = 4096
        self.pend = NULL
        self.pend_len = 0
        self.pend_cap = 0
        self.set_role(ROLE_CLIENT)

    cdef void set_role(self, int role) noexcept:
        self.role = role
        self.spec = &ROLES[role]

    def __dealloc__(self):
        if self.pend != NULL:
            free(self.pend)

    cdef int _stash(self, const char* data, Py_ssize_t n) except -1:
        cdef Py_ssize_t cap
        cdef char* p
        if self.pend_len + n > self.pend_cap:
            cap = max(self.pend_cap * 2, self.pend_len + n, 512)
            p = <char*>realloc(self.pend, cap)
            if p == NULL:
                raise MemoryError()
            self.pend = p
            self.pend_cap = cap
        memcpy(self.pend + self.pend_len, data, n)
        self.pend_len += n
        return 0

    cdef inline void _drop_pending(self) noexcept:
        self.pend_len = 0
        self.line_len = 0
        # Give back a buffer grown for one big message.
        if self.pend_cap > 65536:
            free(self.pend)
            self.pend = NULL
            self.pend_cap = 0

    cdef int _fail(self, int code, str detail) except -1:
        self.state = ST_FAILED
        self.pend_len = 0
        return self.on_parse_error(code, detail)

    cdef int _partial_line(self, const char* data, Py_ssize_t n) except -1:
        """Check the start of a control line still waiting for its newline, then keep it.

        What nats-server never buffers is not kept either: the rest of a PING/PONG/+OK line and
        the blanks before an argument (so only an argument can grow past max_control_line)."""
        cdef int k
        cdef const OpSpec* op
        cdef Py_ssize_t a
        if self.pend_len == 0 and n > 0 and self.require_connect and lower(data[0]) != c'c':
            return self._fail(PE_AUTH, "")
        self._stash(data, n)
        k = match_op(self.spec, self.pend, self.pend_len, False)
        if k == -1:
            self.pend_len = 0
            return self._fail(PE_UNKNOWN_OP, "")
        if k < 0:
            return PARSE_OK
        op = &self.spec.ops[k]
        if op.after == A_ANY:
            self.pend_len = op.name_len
            return PARSE_OK
        a = arg_start(op, self.pend, self.pend_len)
        if a == self.pend_len:
            self.pend_len = min(a, op.name_len + 1)     # the name and one blank, if any
            return PARSE_OK
        if arg_too_long(self.pend, a, self.pend_len, self.max_control_line * self.spec.control_line_factor):
            self.pend_len = 0
            return self._fail(PE_MAX_CONTROL_LINE, "")
        return PARSE_OK

    cdef int feed(self, const char* buf, Py_ssize_t n) except -1:
        """Parse buf[0:n]; returns PARSE_STOP as soon as a hook asks to stop."""
        cdef Py_ssize_t i = 0, ln, need, take
        cdef const char* nl
        cdef const char* line
        cdef int r
        if self.state == ST_FAILED:
            return PARSE_STOP
        while i < n:
            if self.state == ST_OP:
                nl = <const char*>memchr(buf + i, c'\n', n - i)
                if nl == NULL:
                    return self._partial_line(buf + i, n - i)
                if self.pend_len == 0:
                    line = buf + i
                    ln = nl - line
                else:
                    self._stash(buf + i, nl - (buf + i))
                    line = self.pend
                    ln = self.pend_len
                i = (nl - buf) + 1
                r = self._line(line, ln)
                if r != PARSE_OK:
                    return r
                if self.state == ST_OP:
                    self.pend_len = 0
                    continue
                # A message operation: its payload follows.
                need = self.total_size + 2
                if line != self.pend and n - i >= need:
                    self.state = ST_OP    # before the hook: an error there moves it to ST_FAILED
                    r = self._payload_done(line, buf + i)   # zero-copy fast path
                    i += need
                    if r != PARSE_OK:
                        return r
                    continue
                if line != self.pend:
                    self.pend_len = 0
                    self._stash(line, ln)
                self.line_len = ln
            else:
                need = self.line_len + self.total_size + 2 - self.pend_len
                take = need if need < n - i else n - i
                self._stash(buf + i, take)
                i += take
                if take == need:
                    self.state = ST_OP
                    r = self._payload_done(self.pend, self.pend + self.line_len)
                    self._drop_pending()
                    if r != PARSE_OK:
                        return r
        return PARSE_OK

    cdef int _line(self, const char* line, Py_ssize_t n) except -1:
        """Handle one complete control line (without its '\\n')."""
        cdef int k
        cdef const OpSpec* op
        cdef Py_ssize_t a = 0, end
        cdef Py_ssize_t offs[MAX_ARGS + 1]
        cdef Py_ssize_t lens[MAX_ARGS + 1]
        cdef int argc
        cdef long long mx
        if self.require_connect and (n == 0 or lower(line[0]) != c'c'):
            return self._fail(PE_AUTH, "")
        k = quick_op(self.role, line, n)
        if k < 0:
            k = match_op(self.spec, line, n, True)
        op = &self.spec.ops[k] if k >= 0 else NULL
        if op != NULL and op.after != A_ANY:
            a = arg_start(op, line, n)
            # Checked before tracing, as nats-server; an unknown operation is traced, then refused.
            if n - a > self.max_control_line and arg_too_long(
                    line, a, n, self.max_control_line * self.spec.control_line_factor):
                return self._fail(PE_MAX_CONTROL_LINE, "")
        if self.trace:
            self.on_trace(line, n - 1 if n > 0 and line[n - 1] == c'\r' else n, False)
        if op == NULL:
            return self._fail(PE_UNKNOWN_OP, "")
        if op.after == A_ANY:
            if op.kind == K_PING:
                return self.on_ping()
            if op.kind == K_PONG:
                return self.on_pong()
            return self.on_ok()
        # The argument (it starts at a), without a trailing '\r'.
        end = n
        if end > a and line[end - 1] == c'\r':
            end -= 1
        if op.kind == K_CONNECT:
            return self.on_connect(line + a, end - a)
        if op.kind == K_INFO:
            return self.on_info(line + a, end - a)
        if op.kind == K_ERR:
            return self.on_err(line + a, end - a)
        if op.kind == K_SUB:
            argc = split_args(line + a, end - a, offs, lens)
            if argc == 2:
                return self.on_sub(line + a + offs[0], lens[0], NULL, 0, line + a + offs[1], lens[1])
            if argc == 3:
                return self.on_sub(line + a + offs[0], lens[0], line + a + offs[1], lens[1],
                                   line + a + offs[2], lens[2])
            return self._fail(PE_ARGS, quoted_error("processSub Parse Error", line[a:end]))
        if op.kind == K_UNSUB:
            argc = split_args(line + a, end - a, offs, lens)
            if argc == 1:
                return self.on_unsub(line + a + offs[0], lens[0], -1)
            if argc == 2:
                mx = parse_size(line + a + offs[1], lens[1])
                return self.on_unsub(line + a + offs[0], lens[0], mx)
            return self._fail(PE_ARGS, quoted_error("processUnsub Parse Error", line[a:end]))
        if op.kind == K_PUB:
            self.msg_op = OP_PUB
        elif op.kind == K_HPUB:
            self.msg_op = OP_HPUB
        elif op.kind == K_MSG:
            self.msg_op = OP_MSG
        else:
            self.msg_op = OP_HMSG
        return self._msg_args(line, a, end)

    cdef int _msg_args(self, const char* line, Py_ssize_t a, Py_ssize_t end) except -1:
        """Parse the arguments of PUB/HPUB/MSG/HMSG; offsets are kept relative to the line start
        so that they stay valid when the line is copied to the pending buffer."""
        cdef Py_ssize_t offs[MAX_ARGS + 1]
        cdef Py_ssize_t lens[MAX_ARGS + 1]
        cdef int argc = split_args(line + a, end - a, offs, lens)
        cdef int op = self.msg_op
        cdef bint has_sid = op == OP_MSG or op == OP_HMSG
        cdef bint has_hdr = op == OP_HPUB or op == OP_HMSG
        cdef int fixed = 2 + has_sid + has_hdr       # arguments besides the optional reply
        cdef int k
        if argc != fixed and argc != fixed + 1:
            return self._args_error(line, a, end, "Parse Error")
        self.subj_off = a + offs[0]
        self.subj_len = lens[0]
        k = 1
        self.sid_len = 0
        if has_sid:
            self.sid_off = a + offs[1]
            self.sid_len = lens[1]
            k = 2
        self.reply_len = 0
        if argc == fixed + 1:
            self.reply_off = a + offs[k]
            self.reply_len = lens[k]
            k += 1
        if has_hdr:
            self.hdr_tok_off, self.hdr_tok_len = a + offs[k], lens[k]
            self.size_tok_off, self.size_tok_len = a + offs[k + 1], lens[k + 1]
            self.hdr_size = parse_size(line + a + offs[k], lens[k])
            self.total_size = parse_size(line + a + offs[k + 1], lens[k + 1])
            if self.hdr_size < 0:
                return self._args_error(line, a, end, "Bad or Missing Header Size")
            if self.total_size < 0:
                return self._args_error(line, a, end, "Bad or Missing Total Size")
            if self.hdr_size > self.total_size:
                return self._args_error(line, a, end, "Header Size larger then TotalSize")
        else:
            self.size_tok_off, self.size_tok_len = a + offs[k], lens[k]
            self.hdr_size = 0
            self.total_size = parse_size(line + a + offs[k], lens[k])
            if self.total_size < 0:
                return self._args_error(line, a, end, "Bad or Missing Size")
        self.state = ST_PAYLOAD
        return self.on_msg_args(line + self.subj_off, self.subj_len,
                                self.hdr_size if has_hdr else -1, self.total_size)

    cdef int _args_error(self, const char* line, Py_ssize_t a, Py_ssize_t end, str what) except -1:
        # nats-server's log wording, e.g. processPub Parse Error: "foo"
        name = {OP_PUB: "processPub", OP_HPUB: "processHeaderPub",
                OP_MSG: "processMsgArgs", OP_HMSG: "processHeaderMsgArgs"}[self.msg_op]
        return self._fail(PE_ARGS, quoted_error(f"{name} {what}", line[a:end]))

    cdef int _payload_done(self, const char* line, const char* payload) except -1:
        """The whole payload (and its CRLF) has arrived: check the CRLF and hand the message on."""
        cdef Py_ssize_t size = self.total_size
        if payload[size] != c'\r' or payload[size + 1] != c'\n':
            return self._fail(PE_UNKNOWN_OP, "")
        self.size_tok = line + self.size_tok_off
        self.hdr_tok = line + self.hdr_tok_off
        if self.trace:
            self.on_trace(payload, size, True)
        if (self.msg_op == OP_HPUB or self.msg_op == OP_HMSG) and self.hdr_size > 0:
            return self.on_msg(line + self.subj_off, self.subj_len,
                               line + self.sid_off, self.sid_len,
                               line + self.reply_off, self.reply_len,
                               payload, self.hdr_size,
                               payload + self.hdr_size, size - self.hdr_size)
        return self.on_msg(line + self.subj_off, self.subj_len,
                           line + self.sid_off, self.sid_len,
                           line + self.reply_off, self.reply_len,
                           NULL, 0, payload, size)

    # Default hooks: a bare Parser accepts everything and does nothing.
    cdef int on_connect(self, const char* arg, Py_ssize_t n) except -1:
        return PARSE_OK

    cdef int on_info(self, const char* arg, Py_ssize_t n) except -1:
        return PARSE_OK

    cdef int on_msg_args(self, const char* subject, Py_ssize_t subject_len, Py_ssize_t hdr_size, Py_ssize_t total_size) except -1:
        return PARSE_OK

    cdef int on_msg(self, const char* subject, Py_ssize_t subject_len,
                    const char* sid, Py_ssize_t sid_len,
                    const char* reply, Py_ssize_t reply_len,
                    const char* hdr, Py_ssize_t hdr_len,
                    const char* payload, Py_ssize_t payload_len) except -1:
        return PARSE_OK

    cdef int on_sub(self, const char* subject, Py_ssize_t subject_len,
                    const char* queue, Py_ssize_t queue_len,
                    const char* sid, Py_ssize_t sid_len) except -1:
        return PARSE_OK

    cdef int on_unsub(self, const char* sid, Py_ssize_t sid_len, long long max_msgs) except -1:
        return PARSE_OK

    cdef int on_ping(self) except -1:
        return PARSE_OK

    cdef int on_pong(self) except -1:
        return PARSE_OK

    cdef int on_ok(self) except -1:
        return PARSE_OK

    cdef int on_err(self, const char* arg, Py_ssize_t n) except -1:
        return PARSE_OK

    cdef int on_parse_error(self, int code, str detail) except -1:
        return PARSE_STOP

    cdef int on_trace(self, const char* data, Py_ssize_t n, bint payload) except -1:
        return PARSE_OK


cdef class RecordingParser(Parser):
    """Records every operation as a tuple: the parser's face for tests and fuzzing."""
    cdef public list ops

    def __init__(self, int role=ROLE_CLIENT, Py_ssize_t max_control_line=4096):
        self.set_role(role)
        self.max_control_line = max_control_line
        self.ops = []

    def parse(self, data) -> int:
        """Feed bytes; returns 0, or 1 once an error stopped the parser."""
        cdef const unsigned char[:] view = data
        if view.shape[0] == 0:
            return PARSE_OK
        return self.feed(<const char*>&view[0], view.shape[0])

    cdef int on_connect(self, const char* arg, Py_ssize_t n) except -1:
        self.ops.append(("CONNECT", arg[:n]))
        return PARSE_OK

    cdef int on_info(self, const char* arg, Py_ssize_t n) except -1:
        self.ops.append(("INFO", arg[:n]))
        return PARSE_OK

    cdef int on_msg(self, const char* subject, Py_ssize_t subject_len,
                    const char* sid, Py_ssize_t sid_len,
                    const char* reply, Py_ssize_t reply_len,
                    const char* hdr, Py_ssize_t hdr_len,
                    const char* payload, Py_ssize_t payload_len) except -1:
        self.ops.append(("MSG", subject[:subject_len], sid[:sid_len], reply[:reply_len],
                         None if hdr == NULL else hdr[:hdr_len], payload[:payload_len]))
        return PARSE_OK

    cdef int on_sub(self, const char* subject, Py_ssize_t subject_len,
                    const char* queue, Py_ssize_t queue_len,
                    const char* sid, Py_ssize_t sid_len) except -1:
        self.ops.append(("SUB", subject[:subject_len], None if queue == NULL else queue[:queue_len], sid[:sid_len]))
        return PARSE_OK

    cdef int on_unsub(self, const char* sid, Py_ssize_t sid_len, long long max_msgs) except -1:
        self.ops.append(("UNSUB", sid[:sid_len], max_msgs))
        return PARSE_OK

    cdef int on_ping(self) except -1:
        self.ops.append(("PING",))
        return PARSE_OK

    cdef int on_pong(self) except -1:
        self.ops.append(("PONG",))
        return PARSE_OK

    cdef int on_ok(self) except -1:
        self.ops.append(("+OK",))
        return PARSE_OK

    cdef int on_err(self, const char* arg, Py_ssize_t n) except -1:
        self.ops.append(("-ERR", arg[:n]))
        return PARSE_OK

    cdef int on_parse_error(self, int code, str detail) except -1:
        self.ops.append(("ERROR", code, detail))
        return PARSE_STOP
