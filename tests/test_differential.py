"""Differential tests: the same raw transcripts against nats-server and the candidate server.

The candidate is each server in NATSX_TEST_SERVERS. With NATSX_TEST_SERVERS=nats-server the candidate
is a second, independent nats-server: that checks the transcripts and the normalisation are
deterministic, so any difference seen with natsx is natsx's.
"""

from __future__ import annotations

import json
import random

import pytest

from conftest import REF, ConnectionClosed, RawClient, frames, split_infos, stable_info
from rawcases import ALL_CASES


def canonical(data: bytes) -> list[bytes]:
    """Frames with INFO collapsed; MSG frames produced by one publish (same payload, adjacent)
    sorted, since the order of deliveries to several matching subscriptions is unspecified."""
    data, _ = split_infos(data)
    fs = frames(data)
    out: list[bytes] = []
    i = 0
    while i < len(fs):
        j = i + 1
        if fs[i].startswith((b"MSG ", b"HMSG ")):
            payload = fs[i].split(b"\r\n", 1)[1]
            while j < len(fs) and fs[j].startswith((b"MSG ", b"HMSG ")) and fs[j].split(b"\r\n", 1)[1] == payload:
                j += 1
        out.extend(sorted(fs[i:j]))
        i = j
    return out


def run(srv, data: bytes, pings: int, closes: bool) -> tuple[bytes, list[dict], bool]:
    """Send `data` (then a PING unless it is expected to close); return the full output including
    the INFO line, the parsed INFOs and whether the server closed the connection."""
    c = RawClient(srv.host, srv.port, read_info=False)
    try:
        c.send(data)
        closed = False
        if closes:
            out = c.read_until_closed()
            closed = True
        else:
            c.send(b"PING\r\n")
            try:
                out = c.read_until(lambda b: b.count(b"PONG\r\n") > pings and b.endswith(b"PONG\r\n"))
            except ConnectionClosed:
                out, closed = c.buf, True
        text, infos = split_infos(out)
        return out, infos, closed
    finally:
        c.close()


def compare_infos(ref: dict, cand: dict, ref_port: int, cand_port: int) -> None:
    assert list(cand) == list(ref), "INFO keys (and their order) differ"
    assert ref["port"] == ref_port and cand["port"] == cand_port
    assert stable_info(cand) == stable_info(ref)
    for info in (ref, cand):
        assert len(info["server_id"]) == 56 and info["server_name"] == info["server_id"]
        assert isinstance(info["client_id"], int)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_transcript_matches_reference(server_kind, server_pool, case):
    ref = server_pool.get(REF, case.config)
    cand = server_pool.get(server_kind, case.config, slot="cand")
    pings = case.data.upper().count(b"PING")
    r_out, r_infos, r_closed = run(ref, case.data, pings, case.closed)
    c_out, c_infos, c_closed = run(cand, case.data, pings, case.closed)
    assert canonical(c_out) == canonical(r_out)
    assert c_closed == r_closed == case.closed
    # INFO lines are compared by position here; their contents in the INFO tests below.
    assert len(c_infos) == len(r_infos) >= 1


INFO_CONFIGS = {
    "default": None,
    "user-pass": "authorization { user: u, password: p }\n",
    "token": "authorization { token: t0k }\n",
    "max-payload": "max_payload: 64KB\n",
}


@pytest.mark.parametrize("name", list(INFO_CONFIGS))
def test_info_matches_reference(server_kind, server_pool, name):
    conf = INFO_CONFIGS[name]
    ref = server_pool.get(REF, conf)
    cand = server_pool.get(server_kind, conf, slot="cand")
    with RawClient(ref.host, ref.port) as r, RawClient(cand.host, cand.port) as c:
        compare_infos(r.info, c.info, ref.port, cand.port)
        assert r.info_line.endswith(b"} \r\n") and c.info_line.endswith(b"} \r\n")


def test_connect_info_matches_reference(server_kind, server_pool):
    """The INFO a protocol-1 client gets after its first PONG."""
    ref = server_pool.get(REF)
    cand = server_pool.get(server_kind, slot="cand")
    data = b'CONNECT {"verbose":false,"protocol":1,"headers":true}\r\nPING\r\n'
    outs = []
    for srv in (ref, cand):
        with RawClient(srv.host, srv.port) as c:
            c.send(data)
            assert c.read_line() == b"PONG\r\n"
            line = c.read_line()
            assert line.startswith(b"INFO {"), line
            outs.append(json.loads(line[5:]))
    compare_infos(outs[0], outs[1], ref.port, cand.port)


# ---- randomized transcripts -------------------------------------------------------------------------

TOKENS = [b"a", b"b", b"c"]


def rand_subject(rng: random.Random, wildcards: bool) -> bytes:
    n = rng.randint(1, 3)
    toks = []
    for i in range(n):
        r = rng.random()
        if wildcards and r < 0.15:
            toks.append(b"*")
        elif wildcards and r < 0.25 and i == n - 1:
            toks.append(b">")
        else:
            toks.append(rng.choice(TOKENS))
    s = b".".join(toks)
    r = rng.random()
    if r < 0.04:
        s = s + b".."  + rng.choice(TOKENS)  # invalid: empty token
    elif r < 0.06:
        s = b">." + s  # invalid: '>' not last
    return s


def random_transcript(seed: int) -> tuple[bytes, int, bool]:
    rng = random.Random(seed)
    opts = {"verbose": rng.random() < 0.3, "pedantic": rng.random() < 0.3, "headers": True}
    if rng.random() < 0.3:
        opts["echo"] = False
    if rng.random() < 0.3:
        opts["no_responders"] = True
    out = [b"CONNECT " + json.dumps(opts).encode() + b"\r\n"]
    pings = 0
    sids: list[int] = []
    for n in range(rng.randint(5, 40)):
        r = rng.random()
        op = "SUB" if r < 0.3 else "UNSUB" if r < 0.4 else "PING" if r < 0.45 else "HPUB" if r < 0.6 else "PUB"
        if op == "SUB":
            sid = len(sids) + 1
            sids.append(sid)
            queue = b" q%d" % sid if rng.random() < 0.25 else b""  # one member per group: deterministic
            out.append(b"sub " if rng.random() < 0.1 else b"SUB ")
            out.append(rand_subject(rng, True) + queue + b" %d\r\n" % sid)
        elif op == "UNSUB":
            sid = rng.choice(sids) if sids and rng.random() < 0.9 else 999
            mx = b" %d" % rng.randint(0, 3) if rng.random() < 0.5 else b""
            out.append(b"UNSUB %d%s\r\n" % (sid, mx))
        elif op == "PING":
            pings += 1
            out.append(b"PING\r\n")
        else:
            subj = rand_subject(rng, rng.random() < 0.1)
            reply = b" _INBOX.%d" % n if rng.random() < 0.3 else b""
            payload = b"m%d" % n  # unique per publish
            if op == "PUB":
                out.append(b"PUB %s%s %d\r\n%s\r\n" % (subj, reply, len(payload), payload))
            else:
                hdr = b"NATS/1.0\r\nK: %d\r\n\r\n" % n
                out.append(b"HPUB %s%s %d %d\r\n%s%s\r\n"
                           % (subj, reply, len(hdr), len(hdr) + len(payload), hdr, payload))
    closes = rng.random() < 0.2
    if closes:
        out.append(rng.choice([b"FOO\r\n", b"PUB a\r\n", b"PUB a 2000000\r\n", b"SUB a\r\n", b"\r\n",
                               b"PUB a 1\r\nxyz\r\n"]))
    return b"".join(out), pings, closes


@pytest.mark.parametrize("seed", range(40))
def test_random_transcript_matches_reference(server_kind, server_pool, seed):
    data, pings, closes = random_transcript(seed)
    ref = server_pool.get(REF)
    cand = server_pool.get(server_kind, slot="cand")
    r_out, _, r_closed = run(ref, data, pings, closes)
    c_out, _, c_closed = run(cand, data, pings, closes)
    assert canonical(c_out) == canonical(r_out), data
    assert c_closed == r_closed == closes
