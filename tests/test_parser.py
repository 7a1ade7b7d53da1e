"""Parser properties: any split of a valid stream parses the same; garbage never crashes it."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from natsx._core.parser import ParseError, RecordingParser, Role

token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=8)
subject = st.lists(token, min_size=1, max_size=4).map(".".join)
payload = st.binary(max_size=300)
case = st.sampled_from([str.upper, str.lower, str.capitalize])


@st.composite
def operation(draw) -> tuple[bytes, tuple]:
    """One protocol operation as bytes, with the record the parser must produce for it."""
    kind = draw(st.sampled_from(["PUB", "HPUB", "SUB", "UNSUB", "PING", "PONG", "CONNECT"]))
    name = draw(case)(kind).encode()
    if kind == "PUB":
        subj, data = draw(subject).encode(), draw(payload)
        reply = draw(st.one_of(st.none(), subject)).__str__().encode() if draw(st.booleans()) else b""
        if reply == b"None":
            reply = b""
        line = b" ".join([name, subj] + ([reply] if reply else []) + [str(len(data)).encode()])
        return line + b"\r\n" + data + b"\r\n", ("MSG", subj, b"", reply, None, data)
    if kind == "HPUB":
        subj, data = draw(subject).encode(), draw(payload)
        hdr = b"NATS/1.0\r\nK: " + draw(token).encode() + b"\r\n\r\n"
        line = b" ".join([name, subj, str(len(hdr)).encode(), str(len(hdr) + len(data)).encode()])
        return line + b"\r\n" + hdr + data + b"\r\n", ("MSG", subj, b"", b"", hdr, data)
    if kind == "SUB":
        subj, sid = draw(subject).encode(), draw(token).encode()
        queue = draw(st.one_of(st.none(), token))
        args = [subj] + ([queue.encode()] if queue else []) + [sid]
        return b" ".join([name] + args) + b"\r\n", ("SUB", subj, queue.encode() if queue else None, sid)
    if kind == "UNSUB":
        sid = draw(token).encode()
        mx = draw(st.one_of(st.none(), st.integers(0, 10**6)))
        line = b" ".join([name, sid] + ([str(mx).encode()] if mx is not None else []))
        return line + b"\r\n", ("UNSUB", sid, -1 if mx is None else mx)
    if kind == "CONNECT":
        arg = b'{"verbose":false,"name":"' + draw(token).encode() + b'"}'
        return name + b" " + arg + b"\r\n", ("CONNECT", arg)
    return name + b"\r\n", (kind,)


def parse_in_pieces(data: bytes, cuts: list[int]) -> list:
    parser = RecordingParser()
    prev = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        parser.parse(data[prev:cut])
        prev = cut
    return parser.ops


@settings(max_examples=300, deadline=None)
@given(st.lists(operation(), min_size=1, max_size=20), st.data())
def test_any_split_parses_the_same(ops, data):
    stream = b"".join(raw for raw, _ in ops)
    expected = [record for _, record in ops]
    whole = RecordingParser()
    assert whole.parse(stream) == 0
    assert whole.ops == expected
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    assert parse_in_pieces(stream, cuts) == expected
    # Byte by byte, the harshest split.
    assert parse_in_pieces(stream, list(range(len(stream)))) == expected


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=10))
def test_garbage_never_crashes(data, cuts):
    ops = parse_in_pieces(data, [c for c in cuts if c <= len(data)])
    # After an error nothing more is reported.
    errors = [i for i, op in enumerate(ops) if op[0] == "ERROR"]
    assert not errors or errors[0] == len(ops) - 1


def error_of(data: bytes, **kwargs) -> tuple | None:
    parser = RecordingParser(**kwargs)
    parser.parse(data)
    errors = [op for op in parser.ops if op[0] == "ERROR"]
    return errors[0] if errors else None


def test_errors_match_nats_server_classes():
    assert error_of(b"XYZ\r\n")[1] == ParseError.PE_UNKNOWN_OP
    assert error_of(b"X")[1] == ParseError.PE_UNKNOWN_OP  # detected before the newline
    assert error_of(b"PUB\r\n")[1] == ParseError.PE_UNKNOWN_OP
    assert error_of(b"\r\n")[1] == ParseError.PE_UNKNOWN_OP
    assert error_of(b"PUB foo 2\r\nabc\r\n")[1] == ParseError.PE_UNKNOWN_OP
    assert error_of(b"MSG a 1 1\r\na\r\n")[1] == ParseError.PE_UNKNOWN_OP  # server side has no MSG
    assert error_of(b"PUB foo\r\n") == ("ERROR", ParseError.PE_ARGS, 'processPub Parse Error: "foo"')
    assert error_of(b"PUB foo bar\r\n")[2] == 'processPub Bad or Missing Size: "foo bar"'
    assert error_of(b"HPUB foo 3 1\r\n")[2] == 'processHeaderPub Header Size larger then TotalSize: "foo 3 1"'
    assert error_of(b"SUB a\r\n")[2] == 'processSub Parse Error: "a"'
    assert error_of(b"UNSUB 1 2 3\r\n")[2] == 'processUnsub Parse Error: "1 2 3"'
    assert error_of(b"SUB " + b"a" * 5000)[1] == ParseError.PE_MAX_CONTROL_LINE
    assert error_of(b"PINGX\r\n") is None  # nats-server ignores the rest of a PING line


def test_client_side_reads_server_ops():
    p = RecordingParser(Role.ROLE_CLIENT_SIDE)
    p.parse(b"INFO {}\r\nMSG a 1 r 3\r\nabc\r\nHMSG a 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n+OK\r\n-ERR 'x'\r\nPING\r\n")
    assert p.ops == [
        ("INFO", b"{}"),
        ("MSG", b"a", b"1", b"r", None, b"abc"),
        ("MSG", b"a", b"2", b"", b"NATS/1.0\r\n\r\n", b"hi"),
        ("+OK",),
        ("-ERR", b"'x'"),
        ("PING",),
    ]


def test_payload_split_from_its_line_is_reassembled():
    data = b"PUB big 100000\r\n" + b"z" * 100000 + b"\r\n"
    ops = parse_in_pieces(data, list(range(0, len(data), 4096)))
    assert ops == [("MSG", b"big", b"", b"", None, b"z" * 100000)]


def test_error_in_zero_copy_payload_stops_the_parser():
    """Found by the coverage-guided fuzz target: a bad payload end seen on the zero-copy path
    must leave the parser stopped, so later input reports nothing more."""
    body = b"MSG    HMSG\t   $\xff  & 0          \no\x00\x00\x00\x00\n%"
    p = RecordingParser(Role.ROLE_CLIENT_SIDE)
    p.parse(body[:36])
    p.parse(body[36:])
    assert p.ops == [("ERROR", ParseError.PE_UNKNOWN_OP, "")]


def test_max_control_line_counts_only_the_argument():
    """As nats-server's overMaxControlLineLimit: the operation's name, its blanks and the line end
    don't count; PING/PONG/+OK lines have no argument and are never counted."""
    assert error_of(b"SUB " + b"a" * 4094 + b" 1\r\n") is None
    assert error_of(b"SUB " + b"a" * 4095 + b" 1\r\n")[1] == ParseError.PE_MAX_CONTROL_LINE
    assert error_of(b"SUB" + b" " * 9000 + b"a 1\r\n") is None
    assert error_of(b"UNSUB " + b"1" * 4096 + b"\r\r\n") is None       # nor do carriage returns
    assert error_of(b"PING " + b"x" * 9000 + b"\r\n") is None
    assert error_of(b"SUB " + b"a" * 62 + b" 1\r\n", max_control_line=64) is None
    assert error_of(b"SUB " + b"a" * 63 + b" 1\r\n", max_control_line=64)[1] == ParseError.PE_MAX_CONTROL_LINE
    # An unknown operation is that, however long its line.
    assert error_of(b"XYZ " + b"a" * 5000 + b"\r\n")[1] == ParseError.PE_UNKNOWN_OP


def test_long_lines_parse_the_same_byte_by_byte():
    lines = [b"SUB" + b" " * 9000 + b"a 1\r\n", b"PING " + b"x" * 9000 + b"\r\n",
             b"SUB " + b"a" * 4094 + b" 1\r\n", b"CONNECT" + b"\t" * 5000 + b"{}\r\n"]
    data = b"".join(lines)
    expected = [("SUB", b"a", None, b"1"), ("PING",), ("SUB", b"a" * 4094, None, b"1"), ("CONNECT", b"{}")]
    assert parse_in_pieces(data, []) == expected
    assert parse_in_pieces(data, list(range(len(data)))) == expected
    # Still arriving: refused as soon as the argument so far is too long.
    assert error_of(b"SUB " + b"a" * 4096) is None
    assert error_of(b"SUB " + b"a" * 4097)[1] == ParseError.PE_MAX_CONTROL_LINE


def test_each_role_has_its_own_operations():
    assert RecordingParser().role == Role.ROLE_CLIENT
    assert error_of(b"MSG a 1 1\r\na\r\n", role=Role.ROLE_CLIENT)[1] == ParseError.PE_UNKNOWN_OP
    assert error_of(b"MSG a 1 1\r\na\r\n", role=Role.ROLE_CLIENT_SIDE) is None
    # Routes and leaf nodes accept nothing yet: their kernels bring RS+/RS-/RMSG and LS+/LMSG.
    for role in (Role.ROLE_ROUTE, Role.ROLE_LEAF):
        for line in (b"PING\r\n", b"CONNECT {}\r\n", b"RS+ $G foo\r\n", b"LMSG foo 1\r\nx\r\n"):
            assert error_of(line, role=role)[1] == ParseError.PE_UNKNOWN_OP, (role, line)
