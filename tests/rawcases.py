"""Raw protocol transcripts with nats-server 2.15.1's exact replies.

Each case sends `data` on a fresh connection (after INFO) and expects exactly `expect` back, then
either the connection is closed by the server (`closed=True`) or it still answers PING.
Shared by test_protocol_raw.py (exact bytes, per server) and test_differential.py (server vs server).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# Note: before CONNECT (and for fields CONNECT omits) nats-server's options are verbose=true,
# pedantic=true, so transcripts spell out what they need.
Q = b'CONNECT {"verbose":false,"pedantic":false}\r\n'        # quiet
P = b'CONNECT {"verbose":false,"pedantic":true}\r\n'         # pedantic
H = b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n'
V = b'CONNECT {"verbose":true,"pedantic":false}\r\n'

UPO = b"-ERR 'Unknown Protocol Operation'\r\n"
MPV = b"-ERR 'Maximum Payload Violation'\r\n"
IPS = b"-ERR 'Invalid Publish Subject'\r\n"
ISU = b"-ERR 'Invalid Subject'\r\n"
MCL = b"-ERR 'maximum control line exceeded'\r\n"
AV = b"-ERR 'Authorization Violation'\r\n"
BIG_LINES = "max_control_line: 65536\n"    # room for CONNECTs nested 10000 deep


def connect(*fields: bytes) -> bytes:
    """CONNECT with verbose off and the given `"key": value` fields spelled out as bytes."""
    return b'CONNECT {"verbose":false' + b"".join(b"," + f for f in fields) + b"}\r\n"


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    expect: bytes
    closed: bool = False
    config: Optional[str] = None
    # Several subscriptions match one message: nats-server's delivery order among them is unspecified.
    unordered: bool = False

    @property
    def id(self) -> str:
        return self.name


# ---- well-formed traffic ------------------------------------------------------------------------
OK_CASES = [
    Case("ping", b"PING\r\n", b"PONG\r\n"),
    Case("ping-lowercase", b"ping\r\n", b"PONG\r\n"),
    Case("ping-mixed-case", b"PiNg\r\n", b"PONG\r\n"),
    Case("ping-lf-only", b"PING\n", b"PONG\r\n"),
    Case("ping-with-trailing-junk", b"PING foo\r\n", b"PONG\r\n"),
    Case("pong-unsolicited-ignored", b"PONG\r\n", b""),
    Case("info-from-client-ignored", b"INFO {}\r\n", b""),
    Case("ok-from-client-ignored", b"+OK\r\n", b""),
    Case("connect-verbose-ok", V, b"+OK\r\n"),
    Case("connect-twice", Q + Q, b""),
    Case("connect-unknown-fields-ignored", b'CONNECT {"verbose":true,"foo":1,"bar":{"x":[1]}}\r\n', b"+OK\r\n"),
    Case("connect-tls-required-on-plain-ignored",
         b'CONNECT {"verbose":false,"tls_required":true}\r\n', b""),
    Case("defaults-before-connect-verbose-pedantic",
         b"SUB a 1\r\nPUB a.* 1\r\nx\r\n", b"+OK\r\n" + IPS + b"+OK\r\n"),
    Case("connect-empty-object-defaults-verbose", b"CONNECT {}\r\nSUB a 1\r\n", b"+OK\r\n+OK\r\n"),
    Case("verbose-sub-pub-unsub",
         V + b"SUB a 1\r\nPUB a 2\r\nhi\r\nUNSUB 1\r\nUNSUB 77\r\nPONG\r\n",
         b"+OK\r\n+OK\r\n+OK\r\nMSG a 1 2\r\nhi\r\n+OK\r\n+OK\r\n"),
    Case("verbose-error-then-ok", V + b"SUB a..b 1\r\nSUB a 2\r\n", b"+OK\r\n" + ISU + b"+OK\r\n"),
    Case("sub-pub-msg", Q + b"SUB foo 1\r\nPUB foo 5\r\nhello\r\n", b"MSG foo 1 5\r\nhello\r\n"),
    Case("pub-reply", Q + b"SUB foo 1\r\nPUB foo bar.baz 2\r\nhi\r\n", b"MSG foo 1 bar.baz 2\r\nhi\r\n"),
    Case("pub-empty-payload", Q + b"SUB foo 1\r\nPUB foo 0\r\n\r\n", b"MSG foo 1 0\r\n\r\n"),
    Case("pub-binary-payload", Q + b"SUB foo 1\r\nPUB foo 6\r\n\x00\r\n\xff\r\n\r\n",
         b"MSG foo 1 6\r\n\x00\r\n\xff\r\n\r\n"),
    Case("pub-size-leading-zero-echoed", Q + b"SUB a 1\r\nPUB a 02\r\nhi\r\n", b"MSG a 1 02\r\nhi\r\n"),
    Case("tabs-and-multiple-spaces", Q + b"SUB\ta\t 1\r\nPUB  a   2\r\nhi\r\n", b"MSG a 1 2\r\nhi\r\n"),
    Case("trailing-space-after-sid", Q + b"SUB a 1 \r\nPUB a 2\r\nhi\r\n", b"MSG a 1 2\r\nhi\r\n"),
    Case("string-sid", Q + b"SUB a 12345678901234567890abc\r\nPUB a 1\r\nx\r\n",
         b"MSG a 12345678901234567890abc 1\r\nx\r\n"),
    Case("case-insensitive-ops",
         b'connect {"verbose":false,"headers":true}\r\nsub a 1\r\npub a 1\r\nx\r\n'
         b"hPuB a 12 13\r\nNATS/1.0\r\n\r\ny\r\nuNsUb 1\r\nPuB a 1\r\nz\r\n",
         b"MSG a 1 1\r\nx\r\nHMSG a 1 12 13\r\nNATS/1.0\r\n\r\ny\r\n"),
    Case("duplicate-sid-keeps-first",
         Q + b"SUB a 1\r\nSUB b 1\r\nPUB a 1\r\nx\r\nPUB b 1\r\ny\r\n", b"MSG a 1 1\r\nx\r\n"),
    Case("wildcard-star", Q + b"SUB a.* 1\r\nPUB a.b 1\r\nx\r\nPUB a.b.c 1\r\ny\r\nPUB a 1\r\nz\r\n",
         b"MSG a.b 1 1\r\nx\r\n"),
    Case("wildcard-gt", Q + b"SUB a.> 1\r\nPUB a.b 1\r\nx\r\nPUB a.b.c 1\r\ny\r\nPUB a 1\r\nz\r\n",
         b"MSG a.b 1 1\r\nx\r\nMSG a.b.c 1 1\r\ny\r\n"),
    Case("wildcard-mixed-overlap",
         Q + b"SUB *.b.> 1\r\nSUB a.b.c 2\r\nSUB > 3\r\nPUB a.b.c 1\r\nx\r\n",
         b"MSG a.b.c 1 1\r\nx\r\nMSG a.b.c 2 1\r\nx\r\nMSG a.b.c 3 1\r\nx\r\n", unordered=True),
    Case("star-inside-token-is-literal", Q + b"SUB a* 1\r\nPUB a* 1\r\nx\r\nPUB ab 1\r\ny\r\n",
         b"MSG a* 1 1\r\nx\r\n"),
    Case("queue-group-plus-plain",
         Q + b"SUB a q 1\r\nSUB a 3\r\nPUB a 1\r\nx\r\n", b"MSG a 1 1\r\nx\r\nMSG a 3 1\r\nx\r\n",
         unordered=True),
    Case("unsub-max-2", Q + b"SUB a 1\r\nUNSUB 1 2\r\nPUB a 1\r\nx\r\nPUB a 1\r\ny\r\nPUB a 1\r\nz\r\n",
         b"MSG a 1 1\r\nx\r\nMSG a 1 1\r\ny\r\n"),
    Case("unsub-max-already-reached",
         Q + b"SUB a 1\r\nPUB a 1\r\nx\r\nPUB a 1\r\ny\r\nUNSUB 1 1\r\nPUB a 1\r\nz\r\n",
         b"MSG a 1 1\r\nx\r\nMSG a 1 1\r\ny\r\n"),
    Case("unsub-max-0-removes", Q + b"SUB a 1\r\nUNSUB 1 0\r\nPUB a 1\r\nx\r\n", b""),
    Case("unsub-max-negative-removes", Q + b"SUB a 1\r\nUNSUB 1 -1\r\nPUB a 1\r\nx\r\n", b""),
    Case("unsub-max-garbage-removes", Q + b"SUB a 1\r\nUNSUB 1 x\r\nPUB a 1\r\nx\r\n", b""),
    Case("unsub-unknown-sid", Q + b"UNSUB 99\r\n", b""),
    Case("echo-false", b'CONNECT {"verbose":false,"echo":false}\r\nSUB a 1\r\nPUB a 1\r\nx\r\n', b""),
    Case("hpub-hmsg-untouched",
         H + b"SUB a 1\r\nHPUB a 24 26\r\nNATS/1.0\r\nA: b\r\nA: c\r\n\r\nhi\r\n",
         b"HMSG a 1 24 26\r\nNATS/1.0\r\nA: b\r\nA: c\r\n\r\nhi\r\n"),
    Case("hpub-reply", H + b"SUB a 1\r\nHPUB a r 12 12\r\nNATS/1.0\r\n\r\n\r\n",
         b"HMSG a 1 r 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
    Case("hpub-garbage-header-untouched", H + b"SUB a 1\r\nHPUB a 4 6\r\nabcdhi\r\n",
         b"HMSG a 1 4 6\r\nabcdhi\r\n"),
    Case("hpub-zero-header-is-msg", H + b"SUB a 1\r\nHPUB a 0 2\r\nhi\r\n", b"MSG a 1 2\r\nhi\r\n"),
    Case("no-responders-503",
         b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n'
         b"SUB _INBOX.x 7\r\nPUB nobody _INBOX.x 2\r\nhi\r\nPUB nobody 0\r\n\r\n",
         b"HMSG _INBOX.x 7 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\n"),
    Case("no-responders-echo-false-self-only-interest",
         b'CONNECT {"verbose":false,"headers":true,"no_responders":true,"echo":false}\r\n'
         b"SUB _INBOX.x 7\r\nSUB svc 8\r\nPUB svc _INBOX.x 2\r\nhi\r\n",
         b"HMSG _INBOX.x 7 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\n"),
    Case("no-responders-off-without-flag",
         H + b"SUB _INBOX.x 7\r\nPUB nobody _INBOX.x 2\r\nhi\r\n", b""),
    Case("sub-dollar-subject", Q + b"SUB $SYS.> 1\r\n", b""),
    # Subject validity: non-pedantic publish of wildcards is delivered literally; empty tokens are dropped.
    Case("pub-wildcard-subject-non-pedantic", Q + b"SUB > 9\r\nPUB a.* 2\r\nhi\r\n",
         b"MSG a.* 9 2\r\nhi\r\n"),
    Case("pub-empty-token-non-pedantic-dropped", Q + b"SUB > 9\r\nPUB a..b 2\r\nhi\r\n", b""),
    Case("pub-trailing-dot-non-pedantic-dropped", Q + b"SUB > 9\r\nPUB a. 2\r\nhi\r\n", b""),
]

# ---- max_control_line counts only an operation's argument, as nats-server's overMaxControlLineLimit ----
LIMIT = 4096                                   # the default max_control_line


def name_connect(arg_len: int) -> bytes:
    """A CONNECT whose argument (the JSON, without the CRLF) is exactly arg_len bytes."""
    head, tail = b'{"verbose":false,"pedantic":false,"name":"', b'"}'
    return b"CONNECT " + head + b"n" * (arg_len - len(head) - len(tail)) + tail + b"\r\n"


LIMIT_CASES = [
    Case("sub-arg-at-limit", Q + b"SUB " + b"a" * (LIMIT - 2) + b" 1\r\n", b""),
    Case("sub-arg-at-limit-after-blanks", Q + b"SUB" + b" \t" * 3000 + b"a" * (LIMIT - 2) + b" 1\r\n", b""),
    Case("sub-arg-at-limit-lf-only", Q + b"SUB " + b"a" * (LIMIT - 2) + b" 1\n", b""),
    Case("sub-queue-arg-at-limit", Q + b"SUB " + b"a" * (LIMIT - 4) + b" q 1\r\n", b""),
    Case("unsub-arg-at-limit", Q + b"UNSUB " + b"1" * LIMIT + b"\r\n", b""),
    # Carriage returns inside the argument don't count (nats-server gathers a long line across reads
    # and leaves them out).
    Case("unsub-arg-at-limit-with-crs", Q + b"UNSUB " + b"1" * LIMIT + b"\r\r\r\n", b""),
    Case("pub-arg-at-limit", Q + b"SUB > 1\r\nPUB " + b"s" * (LIMIT - 2) + b" 2\r\nhi\r\n",
         b"MSG " + b"s" * (LIMIT - 2) + b" 1 2\r\nhi\r\n"),
    Case("pub-reply-arg-at-limit", Q + b"PUB s " + b"r" * (LIMIT - 4) + b" 2\r\nhi\r\n", b""),
    Case("hpub-arg-at-limit", H + b"HPUB " + b"s" * (LIMIT - 4) + b" 2 2\r\n\r\n\r\n", b""),
    Case("connect-arg-at-limit", name_connect(LIMIT), b""),
    # PING, PONG and +OK have no argument: nats-server reads to the newline and never counts.
    Case("ping-line-past-limit", b"PING " + b"x" * (2 * LIMIT) + b"\r\n", b"PONG\r\n"),
    Case("pong-line-past-limit", b"PONG " + b"x" * (2 * LIMIT) + b"\r\n", b""),
    Case("ok-line-past-limit", b"+OK " + b"x" * (2 * LIMIT) + b"\r\n", b""),
    Case("sub-arg-at-configured-limit", Q + b"SUB " + b"a" * 62 + b" 1\r\n", b"",
         config="max_control_line: 64\n"),
]

LIMIT_CLOSE_CASES = [
    Case("sub-arg-over-limit", Q + b"SUB " + b"a" * (LIMIT - 1) + b" 1\r\n", MCL, True),
    Case("unsub-arg-over-limit-with-crs", Q + b"UNSUB " + b"1" * (LIMIT + 1) + b"\r\r\n", MCL, True),
    Case("unsub-arg-over-limit", Q + b"UNSUB " + b"1" * (LIMIT + 1) + b"\r\n", MCL, True),
    Case("pub-arg-over-limit", Q + b"PUB " + b"s" * (LIMIT - 1) + b" 2\r\nhi\r\n", MCL, True),
    Case("hpub-arg-over-limit", H + b"HPUB " + b"s" * (LIMIT - 3) + b" 2 2\r\n\r\n\r\n", MCL, True),
    Case("connect-arg-over-limit", name_connect(LIMIT + 1), MCL, True),
    Case("sub-arg-over-configured-limit", Q + b"SUB " + b"a" * 63 + b" 1\r\n", MCL, True,
         config="max_control_line: 64\n"),
]

# ---- CONNECT decoded as Go's json.Unmarshal into nats-server's ClientOpts -------------------------------
CONNECT_OK_CASES = [
    Case("connect-null-keeps-defaults", b"CONNECT null\r\n", b"+OK\r\n"),
    Case("connect-null-field-keeps-default", b'CONNECT {"verbose":null}\r\n', b"+OK\r\n"),
    Case("connect-null-protocol-keeps-zero", connect(b'"protocol":null'), b""),
    Case("connect-protocol-minus-zero", connect(b'"protocol":-0'), b""),
    Case("connect-duplicate-key-last-wins", b'CONNECT {"verbose":true,"verbose":false}\r\n', b""),
    Case("connect-keys-case-insensitive", b'CONNECT {"VERBOSE":false,"Pedantic":false}\r\nPUB a.* 1\r\nx\r\n', b""),
    Case("connect-key-long-s-folds", b'CONNECT {"verbo\xc5\xbfe":false}\r\n', b""),
    Case("connect-key-dotless-i-does-not-fold", connect(b'"pedant\xc4\xb1c":false') + b"PUB a.* 1\r\nx\r\n", IPS),
    Case("connect-lone-surrogate-string", connect(b'"name":"\\ud800x\\udfff"'), b""),
    Case("connect-invalid-utf8-string", connect(b'"name":"\xff\xfe\xed\xa0\x80"'), b""),
    Case("connect-nul-in-string", connect(b'"lang":"a\\u0000b"'), b""),
    Case("connect-unknown-field-any-json", connect(b'"x":1e999', b'"y":[[{"z":-0.5e-7}]]', b'"w":"\\ud800"'), b""),
    Case("connect-permissions-shape", connect(b'"import":{"allow":[null,"a"],"DENY":null,"other":1}',
                                              b'"export":null'), b""),
    Case("connect-second-keeps-earlier-options", Q + b"CONNECT {}\r\nSUB a 1\r\n", b""),
    Case("connect-second-drops-subscriptions", Q + b"SUB a 1\r\n" + Q + b"PUB a 1\r\nx\r\n", b""),
    Case("connect-nested-10000-deep", connect(b'"x":' + nested(9999)), b"", config=BIG_LINES),
    Case("connect-unknown-integer-5000-digits", connect(b'"x":' + b"1" * 5000), b"", config=BIG_LINES),
    Case("connect-string-60000-bytes", connect(b'"name":"' + b"n" * 60000 + b'"'), b"", config=BIG_LINES),
]


# ---- errors that keep the connection open ---------------------------------------------------------
OPEN_ERROR_CASES = [
    Case("invalid-subject-empty-token", Q + b"SUB a..b 1\r\n", ISU),
    Case("invalid-subject-trailing-dot", Q + b"SUB a. 1\r\n", ISU),
    Case("invalid-subject-gt-not-last", Q + b"SUB >.a 1\r\n", ISU),
    Case("invalid-subject-pedantic", P + b"SUB a..b 1\r\n", ISU),
    # Pedantic: the error is sent but a wildcard subject is still delivered (nats-server quirk; it also
    # repeats the -ERR when the payload arrives in a later read, so split tests leave this case out).
    Case("invalid-publish-subject-pedantic-wildcard", P + b"SUB > 9\r\nPUB a.* 2\r\nhi\r\n",
         IPS + b"MSG a.* 9 2\r\nhi\r\n"),
    Case("invalid-publish-subject-pedantic-gt", P + b"PUB > 1\r\nx\r\n", IPS),
    Case("invalid-publish-subject-pedantic-empty-token", P + b"SUB > 9\r\nPUB a..b 2\r\nhi\r\n", IPS),
    Case("invalid-publish-subject-pedantic-leading-dot", P + b"PUB .a 1\r\nx\r\n", IPS),
    Case("invalid-publish-subject-hpub-pedantic",
         b'CONNECT {"verbose":false,"headers":true}\r\nSUB > 1\r\nHPUB a.* 12 12\r\nNATS/1.0\r\n\r\n\r\n',
         IPS + b"HMSG a.* 1 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
    Case("maximum-subscriptions-exceeded",
         Q + b"SUB a 1\r\nSUB b 2\r\nPUB a 1\r\nx\r\nPUB b 1\r\ny\r\n",
         b"-ERR 'maximum subscriptions exceeded'\r\nMSG a 1 1\r\nx\r\n", config="max_subscriptions: 1\n"),
]

# ---- errors that close the connection -------------------------------------------------------------
CLOSE_ERROR_CASES = [
    Case("unknown-op", b"FOO\r\n", UPO, True),
    Case("unknown-op-after-traffic", Q + b"SUB a 1\r\nFOO bar\r\n", UPO, True),
    Case("msg-from-client", b"MSG a 1 2\r\nhi\r\n", UPO, True),
    Case("empty-line", Q + b"\r\n", UPO, True),
    Case("op-without-space", Q + b"PUBa 1\r\n", UPO, True),
    Case("unsub-without-arg", Q + b"UNSUB\r\n", UPO, True),
    Case("payload-longer-than-size", Q + b"PUB a 2\r\nhello\r\n", UPO, True),
    Case("payload-not-crlf-terminated", Q + b"PUB a 2\r\nhiXX", UPO, True),
    Case("payload-runs-into-next-op", Q + b"SUB a 1\r\nPUB a 1\r\nxPING\r\n", UPO, True),
    Case("max-payload-pub", Q + b"PUB a 1048577\r\n", MPV, True),
    Case("max-payload-hpub", H + b"HPUB a 12 1048577\r\n", MPV, True),
    Case("max-payload-configured", Q + b"SUB a 1\r\nPUB a 100\r\n" + b"x" * 100 + b"\r\nPUB a 101\r\n",
         b"MSG a 1 100\r\n" + b"x" * 100 + b"\r\n" + MPV, True, config="max_payload: 100\n"),
    Case("max-control-line", Q + b"SUB " + b"a" * 5000 + b" 1\r\n", MCL, True),
    Case("max-control-line-unterminated", Q + b"SUB " + b"a" * 5000, MCL, True),
    Case("max-control-line-connect", b'CONNECT {"name":"' + b"n" * 5000 + b'"}\r\n', MCL, True),
    Case("max-control-line-configured", Q + b"SUB " + b"a" * 80 + b" 1\r\n", MCL, True,
         config="max_control_line: 64\n"),
    Case("invalid-client-protocol", b'CONNECT {"protocol":5}\r\n', b"-ERR 'invalid client protocol'\r\n", True),
    Case("invalid-client-protocol-negative", b'CONNECT {"protocol":-1}\r\n',
         b"-ERR 'invalid client protocol'\r\n", True),
    Case("no-responders-requires-headers", b'CONNECT {"no_responders":true}\r\n',
         b"-ERR 'no responders requires headers support'\r\n", True),
    Case("no-responders-kept-from-earlier-connect", connect(b'"headers":true', b'"no_responders":true')
         + b'CONNECT {"headers":false}\r\n', b"-ERR 'no responders requires headers support'\r\n", True),
    Case("connect-account-refused", connect(b'"account":"x"'), AV, True),
    Case("connect-new-account-refused", connect(b'"new_account":true'), AV, True),
    # Argument errors: nats-server closes without any -ERR.
    Case("connect-bad-json", b"CONNECT {bad\r\n", b"", True),
    Case("connect-empty-arg", b"CONNECT \r\n", b"", True),
    Case("pub-missing-size", Q + b"PUB a\r\n", b"", True),
    Case("pub-bad-size", Q + b"PUB a x\r\n", b"", True),
    Case("pub-negative-size", Q + b"PUB a -1\r\n", b"", True),
    Case("pub-plus-size", Q + b"PUB a +2\r\nhi\r\n", b"", True),
    Case("pub-too-many-args", Q + b"PUB a b c 2\r\nhi\r\n", b"", True),
    Case("pub-no-args", Q + b"PUB \r\n", b"", True),
    Case("sub-missing-sid", Q + b"SUB a\r\n", b"", True),
    Case("sub-too-many-args", Q + b"SUB a b c d\r\n", b"", True),
    Case("unsub-empty-arg", Q + b"UNSUB \r\n", b"", True),
    Case("unsub-too-many-args", Q + b"UNSUB 1 2 3\r\n", b"", True),
    Case("hpub-without-headers-connect", b'CONNECT {"verbose":false}\r\nHPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n',
         b"", True),
    Case("hpub-before-connect", b"HPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", b"", True),
    Case("hpub-header-larger-than-total", H + b"HPUB a 14 12\r\n", b"", True),
    Case("hpub-bad-header-size", H + b"HPUB a x 12\r\n", b"", True),
    Case("hpub-one-size", H + b"HPUB a 12\r\n", b"", True),
    Case("hpub-too-many-args", H + b"HPUB a b c 12 14\r\n", b"", True),
    Case("err-from-client", b"-ERR 'x'\r\n", b"", True),
]

# A CONNECT Go cannot decode into ClientOpts: nats-server logs the error and closes, no -ERR.
CONNECT_CLOSE_CASES = [
    Case(f"connect-{name}", connect(field), b"", True, config=config) for name, field, config in [
        ("protocol-overflow-float", b'"protocol":1e999', None),
        ("protocol-fraction", b'"protocol":1.5', None),
        ("protocol-float-one", b'"protocol":1.0', None),
        ("protocol-exponent", b'"protocol":1E0', None),
        ("protocol-string", b'"protocol":"1"', None),
        ("protocol-bool", b'"protocol":true', None),
        ("protocol-above-int64", b'"protocol":9223372036854775808', None),
        ("protocol-5000-digits", b'"protocol":' + b"1" * 5000, BIG_LINES),
        ("protocol-array", b'"protocol":' + nested(3000), BIG_LINES),
        ("verbose-string", b'"verbose":"yes"', None),
        ("verbose-number", b'"verbose":1', None),
        ("echo-string", b'"echo":"false"', None),
        ("headers-string", b'"headers":"x"', None),
        ("no-responders-number", b'"no_responders":0', None),
        ("tls-required-string", b'"tls_required":"x"', None),
        ("new-account-number", b'"new_account":1', None),
        ("name-number", b'"name":5', None),
        ("lang-number", b'"lang":1', None),
        ("version-bool", b'"version":true', None),
        ("user-number", b'"user":1', None),
        ("pass-number", b'"pass":1', None),
        ("auth-token-number", b'"auth_token":1', None),
        ("jwt-number", b'"jwt":1', None),
        ("nkey-array", b'"nkey":[]', None),
        ("sig-object", b'"sig":{}', None),
        ("account-number", b'"account":1', None),
        ("remote-account-number", b'"remote_account":1', None),
        ("proxy-sig-number", b'"proxy_sig":1', None),
        ("import-number", b'"import":5', None),
        ("export-array", b'"export":[]', None),
        ("import-allow-string", b'"import":{"allow":"a"}', None),
        ("import-allow-numbers", b'"import":{"ALLOW":[1]}', None),
        ("unknown-field-nan", b'"x":NaN', None),
        ("unknown-field-infinity", b'"x":-Infinity', None),
        ("leading-zero", b'"x":01', None),
        ("trailing-comma", b'"x":[1,]', None),
        ("nested-10001-deep", b'"x":' + nested(10000), BIG_LINES),
        ("invalid-utf8-outside-string", b'"x":1\xff', None),
        ("type-error-then-valid-duplicate", b'"verbose":5,"verbose":false', None),
    ]
] + [
    Case("connect-top-level-array", b"CONNECT []\r\n", b"", True),
    Case("connect-top-level-string", b'CONNECT "x"\r\n', b"", True),
    Case("connect-two-objects", b"CONNECT {}{}\r\n", b"", True),
]

# Against a server requiring user/password or a token (the fuzz's configs as well).
USER_PASS = "authorization { user: u, password: p }\n"
TOKEN = "authorization { token: t0k }\n"
AUTH_CASES = [
    Case("auth-user-pass", connect(b'"user":"u"', b'"pass":"p"'), b"", config=USER_PASS),
    Case("auth-keys-case-insensitive", connect(b'"USER":"u"', b'"Pass":"p"'), b"", config=USER_PASS),
    Case("auth-null-keeps-earlier-duplicate", connect(b'"user":"u"', b'"pass":"p"', b'"user":null'), b"",
         config=USER_PASS),
    Case("auth-second-connect-keeps-credentials", connect(b'"user":"u"', b'"pass":"p"') + b"CONNECT {}\r\nSUB a 1\r\n",
         b"", config=USER_PASS),
    Case("auth-second-connect-rechecked", connect(b'"user":"u"', b'"pass":"p"') + b'CONNECT {"pass":"x"}\r\n', AV,
         True, config=USER_PASS),
    Case("auth-lone-surrogate-pass", connect(b'"user":"u"', b'"pass":"\\ud800"'), AV, True, config=USER_PASS),
    Case("auth-lone-surrogate-user", connect(b'"user":"\\udfff"', b'"pass":"p"'), AV, True, config=USER_PASS),
    Case("auth-account-with-valid-credentials", connect(b'"user":"u"', b'"pass":"p"', b'"account":"A"'), AV, True,
         config=USER_PASS),
    Case("auth-wrong-pass", connect(b'"user":"u"', b'"pass":"x"'), AV, True, config=USER_PASS),
    # Decoding comes before authentication: a type error closes without an -ERR.
    Case("auth-type-error-before-auth", connect(b'"user":"u"', b'"pass":5'), b"", True, config=USER_PASS),
    Case("auth-bad-protocol-with-bad-credentials", connect(b'"pass":"x"', b'"protocol":1.5'), b"", True,
         config=USER_PASS),
    Case("auth-no-credentials-null", b"CONNECT null\r\n", AV, True, config=USER_PASS),
    Case("auth-token", connect(b'"auth_token":"t0k"'), b"", config=TOKEN),
    Case("auth-token-key-kelvin-sign-folds", connect(b'"auth_to\xe2\x84\xaaen":"t0k"'), b"", config=TOKEN),
    Case("auth-token-lone-surrogate", connect(b'"auth_token":"\\ud800"'), AV, True, config=TOKEN),
    Case("auth-token-invalid-utf8", connect(b'"auth_token":"t0\xff"'), AV, True, config=TOKEN),
    Case("auth-token-number", connect(b'"auth_token":5'), b"", True, config=TOKEN),
    Case("auth-token-before-connect", b"PING\r\n", AV, True, config=TOKEN),
]

ALL_CASES = (OK_CASES + LIMIT_CASES + CONNECT_OK_CASES + OPEN_ERROR_CASES + CLOSE_ERROR_CASES + LIMIT_CLOSE_CASES
             + CONNECT_CLOSE_CASES)
