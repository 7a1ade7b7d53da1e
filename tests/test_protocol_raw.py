"""Raw-socket protocol conformance: exact bytes back and close behaviour, as nats-server.

Every test runs against each server in NATSX_TEST_SERVERS (the `server_kind` parameter).
"""

from __future__ import annotations

import json
import random
import re
import time

import pytest

from conftest import Bystander, RawClient, frames, raw_connect, wait_for
from rawcases import ALL_CASES, IPS, OK_CASES, OPEN_ERROR_CASES, Case


def check(out: bytes, case: Case) -> None:
    if case.unordered:
        assert sorted(frames(out)) == sorted(frames(case.expect))
    else:
        assert out == case.expect


def run_case(srv, case: Case, chunks=None) -> bytes:
    c = RawClient(srv.host, srv.port)
    try:
        if chunks is None:
            c.send(case.data)
        else:
            for ch in chunks:
                c.send(ch)
        if case.closed:
            return c.read_until_closed()
        out = c.sync(pongs=case.expect.count(b"PONG\r\n"))
        c.assert_alive()
        return out
    finally:
        c.close()


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_transcript(server_kind, server_pool, case):
    srv = server_pool.get(server_kind, case.config)
    by = Bystander(srv)
    try:
        check(run_case(srv, case), case)
        by.check()  # only the offending connection is affected
    finally:
        by.close()


# nats-server repeats 'Invalid Publish Subject' when a PUB's payload arrives in a later read than its
# control line (it re-parses the arguments), so cases expecting that error are not split.
SPLIT_CASES = [c for c in OK_CASES + OPEN_ERROR_CASES if c.config is None and IPS not in c.expect]


@pytest.mark.parametrize("case", [c for c in SPLIT_CASES if c.name in {
    "sub-pub-msg", "pub-reply", "pub-binary-payload", "hpub-hmsg-untouched", "case-insensitive-ops",
    "verbose-sub-pub-unsub", "no-responders-503", "invalid-subject-empty-token"}],
    ids=lambda c: c.id)
def test_transcript_byte_by_byte(server_kind, server_pool, case):
    """Every split of the input parses the same: send it one byte at a time."""
    srv = server_pool.get(server_kind)
    chunks = [case.data[i:i + 1] for i in range(len(case.data))]
    check(run_case(srv, case, chunks), case)


def test_transcript_random_splits(server_kind, server_pool):
    srv = server_pool.get(server_kind)
    rng = random.Random(1234)
    for case in SPLIT_CASES:
        data = case.data
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 6))))
        chunks = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        check(run_case(srv, case, chunks), case)


def test_big_payload_split_across_reads(server_kind, server_pool):
    srv = server_pool.get(server_kind)
    payload = bytes(range(256)) * 4096  # 1 MiB == default max_payload
    with raw_connect(srv, {"verbose": False}) as c:
        c.send(b"SUB big 1\r\nPUB big %d\r\n" % len(payload))
        for i in range(0, len(payload), 65521):
            c.send(payload[i:i + 65521])
        c.send(b"\r\n")
        head = c.read_line()
        assert head == b"MSG big 1 %d\r\n" % len(payload)
        body = c.read_until(lambda b: len(b) >= len(payload) + 2, timeout=10)
        assert body == payload + b"\r\n"
        c.assert_alive()


def test_verbose_ok_only_for_protocol_ops(server_kind, server_pool):
    srv = server_pool.get(server_kind)
    with RawClient(srv.host, srv.port) as c:
        out = c.transact(b'CONNECT {"verbose":true,"headers":true}\r\nSUB a 1\r\nPUB a 1\r\nx\r\n'
                         b"HPUB a 12 12\r\nNATS/1.0\r\n\r\n\r\nUNSUB 1\r\nPONG\r\n")
        assert out == (b"+OK\r\n+OK\r\n+OK\r\nMSG a 1 1\r\nx\r\n+OK\r\nHMSG a 1 12 12\r\nNATS/1.0\r\n\r\n\r\n"
                       b"+OK\r\n")


def test_queue_group_one_member_per_message(server_kind, server_pool):
    srv = server_pool.get(server_kind)
    subs = [raw_connect(srv, {"verbose": False}) for _ in range(3)]
    plain = raw_connect(srv, {"verbose": False})
    pub = raw_connect(srv, {"verbose": False})
    try:
        for i, s in enumerate(subs):
            s.transact(b"SUB work grp %d\r\n" % i)
        plain.transact(b"SUB work 9\r\n")
        n = 300
        pub.transact(b"".join(b"PUB work 4\r\n%04d\r\n" % i for i in range(n)))
        got_plain = plain.read_until(lambda b: b.count(b"MSG ") >= n)
        assert got_plain.count(b"MSG work 9 4\r\n") == n
        counts = [len(re.findall(rb"MSG work \d 4\r\n", s.sync())) for s in subs]
        assert sum(counts) == n
        assert all(c > n / 3 * 0.5 for c in counts), counts  # spread, not one member taking all
    finally:
        for c in subs + [plain, pub]:
            c.close()


def test_echo_false_still_gets_others(server_kind, server_pool):
    srv = server_pool.get(server_kind)
    a = raw_connect(srv, {"verbose": False, "echo": False})
    b = raw_connect(srv, {"verbose": False})
    try:
        a.transact(b"SUB x 1\r\n")
        assert a.transact(b"PUB x 4\r\nself\r\n") == b""
        b.transact(b"PUB x 5\r\nother\r\n")
        assert a.read_until(b"other\r\n") == b"MSG x 1 5\r\nother\r\n"
    finally:
        a.close()
        b.close()


def test_unsub_max_counts_across_connections(server_kind, server_pool):
    srv = server_pool.get(server_kind)
    s = raw_connect(srv, {"verbose": False})
    p = raw_connect(srv, {"verbose": False})
    try:
        s.transact(b"SUB t 5\r\nUNSUB 5 3\r\n")
        p.transact(b"PUB t 1\r\na\r\n" * 5)
        assert s.sync() == b"MSG t 5 1\r\na\r\n" * 3
    finally:
        s.close()
        p.close()


# ---- INFO ---------------------------------------------------------------------------------------

def test_info_on_connect(server_kind, server_pool):
    srv = server_pool.get(server_kind)
    with RawClient(srv.host, srv.port) as c:
        info = c.info
        assert c.info_line.endswith(b"\r\n")
        assert re.fullmatch(r"N[A-Z2-7]{55}", info["server_id"]), info["server_id"]
        assert info["server_name"] == info["server_id"]  # default name is the id
        assert re.fullmatch(r"\d+\.\d+\.\d+", info["version"])
        assert tuple(map(int, info["version"].split("."))) >= (2, 12, 0)
        assert info["proto"] == 1
        assert info["host"] == "127.0.0.1"
        assert info["port"] == srv.port
        assert info["headers"] is True
        assert info["max_payload"] == 1048576
        assert info["client_ip"] == "127.0.0.1"
        assert isinstance(info["client_id"], int) and info["client_id"] > 0
        assert "auth_required" not in info
    with RawClient(srv.host, srv.port) as c2:
        assert c2.info["client_id"] > info["client_id"]
        assert c2.info["server_id"] == info["server_id"]


def test_info_max_payload_and_auth_required(server_kind, server_pool):
    srv = server_pool.get(server_kind, 'max_payload: 2MB\nauthorization { user: u, password: p }\n')
    with RawClient(srv.host, srv.port) as c:
        assert c.info["max_payload"] == 2 * 1024 * 1024
        assert c.info["auth_required"] is True


def test_protocol_1_gets_connect_info_after_first_pong(server_kind, server_pool):
    """Clients that announce protocol 1 get an INFO with connect_info right after the first PONG."""
    srv = server_pool.get(server_kind)
    with RawClient(srv.host, srv.port) as c:
        c.send(b'CONNECT {"verbose":false,"protocol":1}\r\nPING\r\n')
        assert c.read_line() == b"PONG\r\n"
        line = c.read_line()
        assert line.startswith(b"INFO {") and line.endswith(b"} \r\n"), line
        info = json.loads(line[5:])
        assert info["connect_info"] is True
        assert info["remote_account"] == "$G"
        assert info["client_id"] == c.info["client_id"]
        assert c.transact(b"PING\r\n", pongs=1) == b"PONG\r\n"  # no second INFO
    with RawClient(srv.host, srv.port) as c:
        assert c.transact(b'CONNECT {"verbose":false}\r\n') == b""  # protocol 0: no async INFO
        assert c.transact(b"") == b""


# ---- authentication -------------------------------------------------------------------------------

AUTH_VIOLATION = b"-ERR 'Authorization Violation'\r\n"


@pytest.mark.parametrize("data", [
    b"PING\r\n",
    b"SUB a 1\r\n",
    b'CONNECT {"user":"u","pass":"wrong"}\r\n',
    b'CONNECT {"user":"nobody","pass":"p"}\r\n',
    b"CONNECT {}\r\n",
    b'CONNECT {"auth_token":"p"}\r\n',
], ids=["ping-first", "sub-first", "bad-pass", "bad-user", "no-creds", "token-instead"])
def test_authorization_violation_user_pass(server_kind, server_pool, data):
    srv = server_pool.get(server_kind, args=("--user", "u", "--pass", "p"))
    with RawClient(srv.host, srv.port) as good:
        assert good.transact(b'CONNECT {"user":"u","pass":"p","verbose":false}\r\nSUB a 1\r\n') == b""
        with RawClient(srv.host, srv.port) as c:
            assert c.info["auth_required"] is True
            c.send(data)
            assert c.read_until_closed() == AUTH_VIOLATION
        assert good.transact(b"PUB a 2\r\nok\r\n") == b"MSG a 1 2\r\nok\r\n"


def test_authorization_violation_on_second_connect(server_kind, server_pool):
    srv = server_pool.get(server_kind, args=("--user", "u", "--pass", "p"))
    with RawClient(srv.host, srv.port) as c:
        assert c.transact(b'CONNECT {"user":"u","pass":"p"}\r\n') == b"+OK\r\n"
        c.send(b'CONNECT {"user":"u","pass":"x"}\r\n')
        assert c.read_until_closed() == AUTH_VIOLATION


@pytest.mark.parametrize("connect,ok", [
    (b'{"auth_token":"s3cr3t"}', True),
    (b'{"auth_token":"nope"}', False),
    (b'{"user":"s3cr3t"}', False),
], ids=["right", "wrong", "as-user"])
def test_token_auth(server_kind, server_pool, connect, ok):
    srv = server_pool.get(server_kind, args=("--auth", "s3cr3t"))
    with RawClient(srv.host, srv.port) as c:
        assert c.info["auth_required"] is True
        c.send(b"CONNECT " + connect + b"\r\n")
        if ok:
            assert c.sync() == b"+OK\r\n"
        else:
            assert c.read_until_closed() == AUTH_VIOLATION


USERS_CONF = """
authorization {
  users: [
    {user: alice, password: apw}
    {user: bob, password: bpw}
  ]
}
no_auth_user: bob
"""


def test_users_list_and_no_auth_user(server_kind, server_pool):
    srv = server_pool.get(server_kind, USERS_CONF)
    with RawClient(srv.host, srv.port) as a:
        assert a.transact(b'CONNECT {"verbose":false,"user":"alice","pass":"apw"}\r\nSUB s 1\r\n') == b""
        with RawClient(srv.host, srv.port) as anon:  # no credentials: becomes bob
            assert anon.transact(b'CONNECT {"verbose":false}\r\nPUB s 2\r\nhi\r\n') == b""
        assert a.read_until(b"hi\r\n") == b"MSG s 1 2\r\nhi\r\n"
        with RawClient(srv.host, srv.port) as bad:
            bad.send(b'CONNECT {"user":"alice","pass":"bpw"}\r\n')
            assert bad.read_until_closed() == AUTH_VIOLATION


@pytest.mark.parametrize("data", [b"", b'CONNECT {"user":"u","pass":"p"'], ids=["silent", "partial-connect"])
def test_authentication_timeout(server_kind, server_pool, data):
    srv = server_pool.get(server_kind, "authorization { user: u, password: p, timeout: 1 }\n")
    by = raw_connect(srv, {"user": "u", "pass": "p", "verbose": False})
    try:
        with RawClient(srv.host, srv.port) as c:
            t0 = time.monotonic()
            c.send(data)
            assert c.read_until_closed(timeout=8) == b"-ERR 'Authentication Timeout'\r\n"
            assert time.monotonic() - t0 >= 0.5
        by.assert_alive()
    finally:
        by.close()


def test_no_auth_timeout_without_auth(server_kind, server_pool):
    """Without auth configured an idle pre-CONNECT client is not timed out (checked past 1.5 s)."""
    srv = server_pool.get(server_kind, "authorization { timeout: 1 }\n")
    with RawClient(srv.host, srv.port) as c:
        deadline = time.monotonic() + 1.5
        with pytest.raises(AssertionError, match="still open"):
            c.read_until_closed(timeout=deadline - time.monotonic())
        assert c.transact(b"") == b""


# ---- keepalive, limits ---------------------------------------------------------------------------

KEEPALIVE_CONF = 'ping_interval: "1s"\nping_max: 1\n'


@pytest.mark.parametrize("connect", [True, False], ids=["after-connect", "before-connect"])
def test_stale_connection(server_kind, server_pool, connect):
    srv = server_pool.get(server_kind, KEEPALIVE_CONF)
    with RawClient(srv.host, srv.port) as c:
        if connect:
            c.transact(b'CONNECT {"verbose":false}\r\n')
        t0 = time.monotonic()
        assert c.read_until_closed(timeout=8) == b"PING\r\n-ERR 'Stale Connection'\r\n"
        assert time.monotonic() - t0 >= 1.0


def test_keepalive_answered_stays_up(server_kind, server_pool):
    srv = server_pool.get(server_kind, KEEPALIVE_CONF)
    with raw_connect(srv, {"verbose": False}) as c:
        for _ in range(3):
            assert c.read_line(timeout=5) == b"PING\r\n"
            c.send(b"PONG\r\n")
        c.assert_alive()


def test_ping_max_counts_outstanding_pings(server_kind, server_pool):
    srv = server_pool.get(server_kind, 'ping_interval: "1s"\nping_max: 2\n')
    with raw_connect(srv, {"verbose": False}) as c:
        assert c.read_until_closed(timeout=10) == b"PING\r\nPING\r\n-ERR 'Stale Connection'\r\n"


def test_maximum_connections_exceeded(server_kind, server_pool):
    srv = server_pool.get(server_kind, "max_connections: 2\n")
    a = raw_connect(srv, {"verbose": False})
    b = raw_connect(srv, {"verbose": False})
    try:
        a.transact(b"SUB m 1\r\n")
        with RawClient(srv.host, srv.port) as c:  # INFO first, then the error
            assert c.read_until_closed() == b"-ERR 'maximum connections exceeded'\r\n"
        b.transact(b"PUB m 1\r\nx\r\n")
        assert a.read_until(b"x\r\n") == b"MSG m 1 1\r\nx\r\n"
    finally:
        a.close()
        b.close()
    # Slots are released when clients leave.
    def third_ok():
        try:
            with raw_connect(srv, {"verbose": False}) as c:
                c.assert_alive()
                return True
        except (AssertionError, OSError):
            return False
    wait_for(third_ok, 5, 0.05, "a free connection slot")
