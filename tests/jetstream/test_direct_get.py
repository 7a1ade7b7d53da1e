"""DIRECT.GET, both forms, byte for byte against nats-server: the same stream and publishes on each
server, the same requests from a raw socket, the HMSG frames compared with the timestamp header
normalised (its length varies, so the frame lengths are recomputed)."""
from __future__ import annotations

import asyncio
import json

import nats
import pytest

from tests.jetstream.readhelp import JsClient, normal_frame, pair  # noqa: F401 (fixture)

HDR = b"NATS/1.0\r\nFoo: bar\r\n\r\n"



def fill(c: JsClient) -> None:
    """Stream S (a.>, allow_direct): a.1, a.2 (with a header), a.1, a.3 (empty), b.x, a.2; seq 5 deleted."""
    c.add_stream(name="S", subjects=["a.>", "b.>"], allow_direct=True)
    for subj, data, hdr in (("a.1", "one", b""), ("a.2", "two", HDR), ("a.1", "three", b""),
                            ("a.3", "", b""), ("b.x", "bee", b""), ("a.2", "four", HDR)):
        c.publish(subj, data, hdr)
    assert c.api("$JS.API.STREAM.MSG.DELETE.S", {"seq": 5, "no_erase": True}) == {
        "type": "io.nats.jetstream.api.v1.stream_msg_delete_response", "success": True}


REQUESTS: list[dict | bytes | str] = [
    {"seq": 1}, {"seq": 2}, {"seq": 4}, {"seq": 5}, {"seq": 99}, {"seq": 2, "no_hdr": True},
    {"last_by_subj": "a.1"}, {"last_by_subj": "a.*"}, {"last_by_subj": "nope"},
    {"next_by_subj": "a.2"}, {"next_by_subj": "a.2", "seq": 3}, {"next_by_subj": "a.>", "seq": 5},
    {"next_by_subj": "zzz"},
    # errors
    {}, b"", b"not json", b"[1]", {"seq": -1}, {"seq": "1"}, {"seq": 1, "last_by_subj": "a.1"},
    {"last_by_subj": "a.1", "next_by_subj": "a.1"}, {"last_by_subj": "a.1", "batch": 2},
    {"multi_last": ["a.*"], "next_by_subj": "a.1"}, {"multi_last": ["a.*"], "last_by_subj": "a.1"},
    {"seq": 1, "start_time": "2000-01-01T00:00:00Z"}, {"multi_last": ["a.*"], "up_to_seq": 2,
                                                       "up_to_time": "2000-01-01T00:00:00Z"},
    {"batch": 3}, {"start_time": "bad"},
]

BATCHES: list[dict] = [
    {"seq": 1, "batch": 10}, {"seq": 2, "batch": 2}, {"seq": 5, "batch": 1}, {"seq": 99, "batch": 3},
    {"next_by_subj": "a.1", "batch": 5}, {"next_by_subj": "a.*", "seq": 2, "batch": 2},
    {"seq": 1, "batch": 10, "max_bytes": 10}, {"seq": 1, "batch": 10, "no_hdr": True},
    {"start_time": "2000-01-01T00:00:00Z", "batch": 2},
    {"multi_last": ["a.*"]}, {"multi_last": ["a.*", "b.>"]}, {"multi_last": [">"], "up_to_seq": 3},
    {"multi_last": ["a.*"], "seq": 3}, {"multi_last": ["a.*"], "batch": 1}, {"multi_last": ["zzz"]},
    {"multi_last": ["a.*"], "up_to_time": "2000-01-01T00:00:00Z"},
    {"multi_last": ["a.*"], "max_bytes": 5}, {"multi_last": ["a.*"], "no_hdr": True},
]


def _payload(r: dict | bytes | str) -> bytes:
    return json.dumps(r).encode() if isinstance(r, dict) else r.encode() if isinstance(r, str) else r


def test_json_form_matches_nats_server(pair):
    def scenario(c: JsClient, kind: str) -> list[bytes]:
        fill(c)
        return [normal_frame(c.request("$JS.API.DIRECT.GET.S", _payload(r))) for r in REQUESTS]

    frames = pair.same(scenario)
    assert frames[0].startswith(b"HMSG _R.9 1 ")        # after the stream, 6 acks and one delete
    assert b"Nats-Stream: S\r\nNats-Subject: a.1\r\nNats-Sequence: 1\r\nNats-Time-Stamp: <ts>\r\n\r\none" in frames[0]
    assert b"NATS/1.0 404 Message Not Found" in frames[3]


def test_batches_and_multi_last_match_nats_server(pair):
    def scenario(c: JsClient, kind: str) -> list[list[bytes]]:
        fill(c)
        return [[normal_frame(f) for f in c.batch("$JS.API.DIRECT.GET.S", _payload(r))] for r in BATCHES]

    batches = pair.same(scenario)
    first = batches[0]
    assert first[-1].endswith(b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 0\r\nNats-Last-Sequence: 6\r\n\r\n\r\n")
    assert len(first) == 6     # five stored messages and the EOB
    assert b"Nats-UpTo-Sequence: 6" in batches[9][-1]


def test_large_batches_match_nats_server(pair):
    """Hundreds of messages, headers of every size (the C batch's buffer grows), byte budgets."""
    def scenario(c: JsClient, kind: str) -> list[list[bytes]]:
        c.add_stream(name="L", subjects=["l.>"], allow_direct=True)
        for i in range(300):
            hdr = b"NATS/1.0\r\nPad: " + b"p" * (i * 7 % 900) + b"\r\n\r\n" if i % 3 else b""
            c.publish(f"l.{i % 7}", "d" * (i % 50), hdr)
        out = []
        for req in ({"seq": 1, "batch": 1000}, {"seq": 10, "batch": 250, "max_bytes": 20000},
                    {"next_by_subj": "l.3", "batch": 1000}, {"next_by_subj": "l.*", "seq": 290, "batch": 5}):
            out.append([normal_frame(f) for f in c.batch("$JS.API.DIRECT.GET.L", req)])
        return out

    out = pair.same(scenario)
    assert len(out[0]) == 301 and len(out[2]) == 44


def test_times_select_messages_like_nats_server(pair):
    """start_time / up_to_time taken from the stream's own timestamps."""
    def scenario(c: JsClient, kind: str) -> list[list[bytes]]:
        fill(c)
        t3 = c.request("$JS.API.DIRECT.GET.S", {"seq": 3}).header("Nats-Time-Stamp")
        out = [[normal_frame(c.request("$JS.API.DIRECT.GET.S", {"start_time": t3}))]]
        out.append([normal_frame(f) for f in c.batch("$JS.API.DIRECT.GET.S", {"start_time": t3, "batch": 9})])
        out.append([normal_frame(f) for f in c.batch("$JS.API.DIRECT.GET.S", {"multi_last": ["a.*"], "up_to_time": t3})])
        out.append([normal_frame(c.request("$JS.API.DIRECT.GET.S", {"start_time": t3, "next_by_subj": "a.2"}))])
        return out

    out = pair.same(scenario)
    assert b"Nats-Sequence: 3\r\n" in out[0][0]


def test_last_by_subject_form_matches_nats_server(pair):
    def scenario(c: JsClient, kind: str) -> list[bytes]:
        fill(c)
        out = []
        for subj, body in (("a.1", b""), ("a.2", b""), ("b.x", b""), ("nope", b""), ("a.*", b""),
                           ("a.2", b'{"no_hdr":true}'), ("a.2", b'{"seq":1}'), ("a.2", b"bad"),
                           ("a.2", b'{"batch":2}')):
            out.append(normal_frame(c.request(f"$JS.API.DIRECT.GET.S.{subj}", body)))
        return out

    out = pair.same(scenario)
    assert b"Nats-Sequence: 6\r\n" in out[1] and out[1].startswith(b"HMSG") and b"Foo: bar\r\n" in out[1]


def test_no_direct_no_responders(pair):
    """Without allow_direct (or without the stream) nobody answers: the client's no-responders 503."""
    def scenario(c: JsClient, kind: str) -> list[bytes]:
        c.add_stream(name="N", subjects=["n"])
        c.publish("n", "x")
        out = [normal_frame(c.request("$JS.API.DIRECT.GET.N", {"seq": 1})),
               normal_frame(c.request("$JS.API.DIRECT.GET.NOPE", {"seq": 1})),
               normal_frame(c.request("$JS.API.DIRECT.GET.N.n"))]
        # turning allow_direct on starts answering, off stops again
        c.api("$JS.API.STREAM.UPDATE.N", {"name": "N", "subjects": ["n"], "allow_direct": True})
        out.append(normal_frame(c.request("$JS.API.DIRECT.GET.N", {"seq": 1})))
        c.api("$JS.API.STREAM.UPDATE.N", {"name": "N", "subjects": ["n"], "allow_direct": False})
        out.append(normal_frame(c.request("$JS.API.DIRECT.GET.N", {"seq": 1})))
        c.api("$JS.API.STREAM.UPDATE.N", {"name": "N", "subjects": ["n"], "allow_direct": True})
        c.api("$JS.API.STREAM.DELETE.N")
        out.append(normal_frame(c.request("$JS.API.DIRECT.GET.N", {"seq": 1})))
        return out

    out = pair.same(scenario)
    assert b"NATS/1.0 503" in out[0] and b"Nats-Sequence: 1" in out[3] and b"NATS/1.0 503" in out[-1]


def test_direct_get_served_again_after_restart(pair):
    """A recovered stream answers direct gets (and msg gets) with the same bytes as before."""
    def scenario(c: JsClient, kind: str) -> list[bytes]:
        fill(c)
        before = [normal_frame(c.request("$JS.API.DIRECT.GET.S", {"seq": s})) for s in (1, 2, 6)]
        before.append(normal_frame(c.request("$JS.API.DIRECT.GET.S.a.2")))
        c.close()
        pair.servers[kind].restart()
        c2 = pair.client(kind)
        after = [normal_frame(c2.request("$JS.API.DIRECT.GET.S", {"seq": s})) for s in (1, 2, 6)]
        after.append(normal_frame(c2.request("$JS.API.DIRECT.GET.S.a.2")))
        assert [a.split(b"\r\n", 1)[1] for a in after] == [b.split(b"\r\n", 1)[1] for b in before]
        return after

    pair.same(scenario)


def test_required_api_level(pair):
    def scenario(c: JsClient, kind: str) -> list[bytes]:
        fill(c)
        hdr = b"NATS/1.0\r\nNats-Required-Api-Level: 999\r\n\r\n"
        return [normal_frame(c.request("$JS.API.DIRECT.GET.S", b'{"seq":1}', hdr)),
                normal_frame(c.request("$JS.API.DIRECT.GET.S.a.1", b"", hdr))]

    assert b"412 Required Api Level" in pair.same(scenario)[0]


def test_nats_py_direct_get(pair):
    """nats-py's js.get_msg(direct=True) and get_last_msg against each server give the same."""
    async def go(url: str) -> list:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            await js.add_stream(name="P", subjects=["p.>"], allow_direct=True)
            await js.publish("p.1", b"hello", headers={"X": "y"})
            await js.publish("p.2", b"world")
            m1 = await js.get_msg("P", seq=1, direct=True)
            m2 = await js.get_msg("P", subject="p.2", direct=True)
            last = await js.get_last_msg("P", "p.1", direct=True)
            nxt = await js.get_msg("P", seq=1, next=True, subject="p.2", direct=True)
            try:
                await js.get_msg("P", seq=9, direct=True)
                missing = None
            except nats.js.errors.NotFoundError as e:
                missing = type(e).__name__
            return [(m.subject, m.seq, m.data, dict(m.headers or {}).get("X")) for m in (m1, m2, last, nxt)] + [missing]
        finally:
            await nc.close()

    results = {k: asyncio.run(go(s.url)) for k, s in pair.servers.items()}
    assert len(set(map(repr, results.values()))) == 1, results
    assert results["nats-server"][0] == ("p.1", 1, b"hello", "y")
