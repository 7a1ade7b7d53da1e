"""STREAM.MSG.GET and STREAM.MSG.DELETE against nats-server: the same requests on both, JSON
responses compared with times normalised, every response validated against the shared schema; and
nats-py's get_msg / delete_msg."""
from __future__ import annotations

import asyncio
import json
import re

import nats
import pytest

from tests.jetstream.readhelp import JsClient, validate, pair  # noqa: F401 (fixture)

HDR = b"NATS/1.0\r\nFoo: bar\r\n\r\n"
TIME_RE = re.compile(r'"time":"[^"]+"')



def fill(c: JsClient, name: str, storage: str) -> None:
    c.add_stream(name=name, subjects=[f"{name}.>"], storage=storage)
    for i, hdr in enumerate((b"", HDR, b"", b"", b"")):
        c.publish(f"{name}.{'x' if i % 2 == 0 else 'y'}", f"m{i + 1}" if i != 3 else "", hdr)


def normal(resp: bytes, schema: str) -> str:
    validate(json.loads(resp), schema)
    return TIME_RE.sub('"time":"<t>"', resp.decode())


GETS: list[dict | bytes] = [
    {"seq": 1}, {"seq": 2}, {"seq": 4}, {"seq": 2, "no_hdr": True}, {"seq": 99}, {"seq": 0, "next_by_subj": ">"},
    {"last_by_subj": "{n}.x"}, {"last_by_subj": "{n}.*"}, {"last_by_subj": "nope"},
    {"next_by_subj": "{n}.y"}, {"next_by_subj": "{n}.y", "seq": 3}, {"next_by_subj": "{n}.*", "seq": 6},
    {"start_time": "2000-01-01T00:00:00Z"}, {"start_time": "2000-01-01T00:00:00Z", "next_by_subj": "{n}.y"},
    {"start_time": "3000-01-01T00:00:00Z"},
    {}, b"", b"  ", b"{bad", b"[1]", b'"s"', {"seq": -1}, {"seq": 1.5}, {"seq": "1"}, {"no_hdr": "yes"},
    {"seq": 1, "batch": 2}, {"seq": 1, "max_bytes": 10}, {"seq": 1, "last_by_subj": "{n}.x"},
    {"seq": 1, "start_time": "2000-01-01T00:00:00Z"}, {"last_by_subj": "{n}.x", "next_by_subj": "{n}.x"},
    {"start_time": "2000-01-01T00:00:00Z", "last_by_subj": "{n}.x"}, {"unknown_field": 1, "seq": 1},
]

DELETES: list[dict | bytes] = [
    {"seq": 2}, {"seq": 2}, {"seq": 2, "no_erase": True}, {"seq": 3, "no_erase": True}, {"seq": 0},
    {"seq": 99}, {}, b"", b"[1]", {"seq": "x"}, {"seq": -1}, {"seq": 1, "no_erase": 1},
]


def _body(r: dict | bytes, name: str) -> bytes:
    return json.dumps(r).replace("{n}", name).encode() if isinstance(r, dict) else r


@pytest.mark.parametrize("storage", ["file", "memory"])
def test_msg_get_and_delete_match_nats_server(pair, storage):
    def scenario(c: JsClient, kind: str) -> list[str]:
        name = "S" + storage[0].upper()
        fill(c, name, storage)
        out = [normal(c.request(f"$JS.API.STREAM.MSG.GET.{name}", _body(r, name)).data,
                      "api/v1/stream_msg_get_response.json") for r in GETS]
        out += [normal(c.request(f"$JS.API.STREAM.MSG.DELETE.{name}", _body(r, name)).data,
                       "api/v1/stream_msg_delete_response.json") for r in DELETES]
        # what the deletes left
        out += [normal(c.request(f"$JS.API.STREAM.MSG.GET.{name}", {"seq": s}).data,
                       "api/v1/stream_msg_get_response.json") for s in (1, 2, 3, 4)]
        return out

    out = pair.same(scenario)
    assert '"hdrs":"' + "TkFUUy8xLjANCkZvbzogYmFyDQoNCg==" + '"' in out[1]     # base64 of HDR
    assert '"data"' not in out[2]                                             # empty payload omitted


def test_stream_level_refusals(pair):
    def scenario(c: JsClient, kind: str) -> list[str]:
        c.add_stream(name="DD", subjects=["dd"], deny_delete=True)
        c.publish("dd", "x")
        c.add_stream(name="SE", subjects=["se"])
        c.publish("se", "x")
        c.api("$JS.API.STREAM.UPDATE.SE", {"name": "SE", "subjects": ["se"], "sealed": True})
        schema = "api/v1/stream_msg_delete_response.json"
        return [normal(c.request("$JS.API.STREAM.MSG.DELETE.DD", {"seq": 1}).data, schema),
                normal(c.request("$JS.API.STREAM.MSG.DELETE.SE", {"seq": 1}).data, schema),
                normal(c.request("$JS.API.STREAM.MSG.DELETE.NOPE", {"seq": 1}).data, schema),
                normal(c.request("$JS.API.STREAM.MSG.GET.NOPE", {"seq": 1}).data,
                       "api/v1/stream_msg_get_response.json"),
                normal(c.request("$JS.API.STREAM.MSG.GET.SE", {"seq": 1}).data,
                       "api/v1/stream_msg_get_response.json")]

    out = pair.same(scenario)
    assert "message delete not permitted" in out[0] and "10109" in out[1]


def test_successful_get_is_not_counted_in_api_stats(pair):
    """nats-server answers a found message outside its API accounting; errors are counted."""
    def scenario(c: JsClient, kind: str) -> dict:
        fill(c, "C", "file")
        for _ in range(3):
            c.api("$JS.API.STREAM.MSG.GET.C", {"seq": 1})
        c.api("$JS.API.STREAM.MSG.GET.C", {"seq": 99})
        api = c.api("$JS.API.INFO")["api"]
        return api["total"], api["errors"]

    assert pair.same(scenario) == (2, 1)    # the stream create and the error


def test_nats_py_get_msg_and_delete_msg(pair):
    async def go(url: str) -> list:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            await js.add_stream(name="P", subjects=["p.>"])
            await js.publish("p.1", b"hello", headers={"X": "y"})
            await js.publish("p.2", b"world")
            await js.publish("p.1", b"again")
            m = await js.get_msg("P", seq=1)
            last = await js.get_last_msg("P", "p.1")
            nxt = await js.get_msg("P", seq=2, next=True, subject="p.1")
            deleted = await js.delete_msg("P", 1)
            gone = None
            try:
                await js.get_msg("P", seq=1)
            except nats.js.errors.NotFoundError as e:
                gone = (e.code, e.err_code, e.description)
            try:
                await js.delete_msg("P", 1)
            except nats.js.errors.APIError as e:
                again = (e.code, e.err_code, e.description)
            info = await js.stream_info("P")
            return [(m.subject, m.seq, m.data, (m.headers or {}).get("X")), (last.seq, last.data),
                    (nxt.seq, nxt.data), deleted, gone, again, info.state.messages, info.state.num_deleted]
        finally:
            await nc.close()

    results = {k: asyncio.run(go(s.url)) for k, s in pair.servers.items()}
    assert len({repr(v) for v in results.values()}) == 1, results
    assert results["nats-server"][0] == ("p.1", 1, b"hello", "y")
