"""/jsz, the jetstream section of /varz and /healthz's JetStream options, against nats-server: the
same streams and messages on both, then the documents' key sets and real values compared."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import NATSX, REF, ServerFactory
from tests.jetstream.readhelp import JsClient, JsPair, keys_equal, monitored_pair as pair  # noqa: F401 (fixture)
from tests.test_monitor import get_json, http_get

# Differences natsx keeps on purpose: it syncs every write by default (nats-server: 2 minutes).
CONFIG_DIFF = {"sync_interval", "sync_always", "store_dir", "max_memory", "max_storage"}



def populate(c: JsClient) -> None:
    c.add_stream(name="F", subjects=["f.>"], max_bytes=1 << 20, metadata={"k": "v"})
    c.add_stream(name="M", subjects=["m.>"], storage="memory", max_bytes=1 << 16)
    c.add_stream(name="E", subjects=["e"])
    for i in range(5):
        c.publish(f"f.{i % 2}", "x" * i)
    c.publish("m.1", "memory", b"NATS/1.0\r\nA: b\r\n\r\n")
    c.api("$JS.API.STREAM.INFO.NOPE")      # one API error


def docs(pair: JsPair, paths: list[str]) -> dict[str, dict[str, Any]]:
    async def fetch(port: int) -> dict[str, Any]:
        return {p: await get_json(port, p) for p in paths}

    pair.run(lambda c, k: populate(c))
    return {k: asyncio.run(fetch(s.http_port)) for k, s in pair.servers.items()}


PATHS = ["/jsz", "/jsz?accounts=1", "/jsz?streams=1", "/jsz?streams=1&config=1", "/jsz?consumers=1&config=1",
         "/jsz?acc=$G&streams=true", "/jsz?acc=nope", "/jsz?accounts=1&offset=1", "/varz"]


def test_jsz_keys_and_values_match_nats_server(pair):
    d = docs(pair, PATHS)
    nx, ref = d.get(NATSX), d[REF]
    if nx is None:
        return
    for path in PATHS:
        a, b = nx[path], ref[path]
        if path == "/varz":
            a, b = a["jetstream"], b["jetstream"]
        keys_equal(a, b, path, ignore=CONFIG_DIFF | {"limits"})
        for k in ("memory", "storage", "reserved_memory", "reserved_storage", "accounts", "ha_assets",
                  "streams", "consumers", "messages", "bytes", "total"):
            if k in b:
                assert a[k] == b[k], (path, k, a[k], b[k])
        if "api" in b:
            assert (a["api"]["total"], a["api"]["errors"]) == (b["api"]["total"], b["api"]["errors"]), path
    # per stream: same state (times aside) and config
    ref_streams = {s["name"]: s for s in ref["/jsz?streams=1&config=1"]["account_details"][0]["stream_detail"]}
    nx_streams = {s["name"]: s for s in nx["/jsz?streams=1&config=1"]["account_details"][0]["stream_detail"]}
    assert set(ref_streams) == set(nx_streams) == {"F", "M", "E"}
    for name, r in ref_streams.items():
        n = nx_streams[name]
        for k in ("messages", "bytes", "first_seq", "last_seq", "num_subjects", "consumer_count"):
            assert n["state"].get(k) == r["state"].get(k), (name, k)
        assert n["config"] == r["config"], name
        assert set(n["cluster"]) == set(r["cluster"]) == {"leader"}
    assert nx["/jsz"]["storage"] > 0 and nx["/jsz"]["memory"] > 0
    assert nx["/jsz"]["config"]["sync_always"] is True      # natsx's durable default


def test_jsz_when_jetstream_is_off(tmp_path):
    factories = [ServerFactory(k, tmp_path) for k in (REF, NATSX)]
    try:
        out = []
        for f in factories:
            s = f(monitor=True)
            out.append(asyncio.run(get_json(s.http_port, "/jsz")))
        for d in out:
            d.pop("server_id"), d.pop("now")
        assert out[0] == out[1]
    finally:
        for f in factories:
            f.close()


def test_healthz_jetstream_options_match_nats_server(pair):
    async def fetch(port: int) -> list:
        out = []
        for q in ("", "?js-enabled-only=true", "?js-server-only=true", "?js-enabled=true",
                  "?js-enabled-only=1&details=true", "?js-enabled-only=maybe", "?account=$G",
                  "?account=$G&stream=H", "?account=$G&stream=NOPE", "?account=$G&stream=NOPE&details=1",
                  "?stream=H", "?stream=H&details=true", "?account=$G&consumer=C",
                  "?account=$G&stream=H&consumer=C", "?account=$G&stream=H&consumer=C&details=1",
                  "?account=NOPE", "?account=NOPE&details=1"):
            r = await http_get(port, "/healthz" + q)
            out.append((q, r.status, r.body))
        return out

    pair.run(lambda c, k: c.add_stream(name="H", subjects=["h"]))
    results = {k: asyncio.run(fetch(s.http_port)) for k, s in pair.servers.items()}
    assert len({repr(v) for v in results.values()}) == 1, results
    assert results[REF][1] == ("?js-enabled-only=true", 200, b'{"status":"ok"}')


def test_healthz_reports_a_stream_that_could_not_be_recovered(tmp_path):
    """natsx: a stream whose metadata is damaged stays offline with its data; /healthz says so."""
    f = ServerFactory(NATSX, tmp_path)
    try:
        srv = f(["-js", "-sd", str(tmp_path / "js")], monitor=True)
        c = JsClient(srv)
        c.add_stream(name="D", subjects=["d"])
        c.publish("d", "x")
        c.close()
        srv.stop()
        meta = tmp_path / "js" / "jetstream" / "$G" / "streams" / "D" / "meta.inf"
        meta.write_bytes(meta.read_bytes()[:-3])
        srv.restart()
        r = asyncio.run(http_get(srv.http_port, "/healthz"))
        # go's JSON escapes ">" as nats-server's does
        assert (r.status, r.body) == (503, b'{"status":"unavailable","error":"JetStream stream \'$G \\u003e D\' '
                                           b'could not be recovered"}')
        assert asyncio.run(http_get(srv.http_port, "/healthz?js-enabled-only=true")).status == 200
        assert (tmp_path / "js" / "jetstream" / "$G" / "streams" / "D" / "msgs").is_dir()   # data kept
    finally:
        f.close()


def test_varz_jetstream_counts_api_requests(pair):
    def scenario(c: JsClient, kind: str) -> dict:
        c.add_stream(name="V", subjects=["v"])
        c.api("$JS.API.STREAM.INFO.V")
        c.api("$JS.API.STREAM.INFO.NOPE")
        v = asyncio.run(get_json(pair.servers[kind].http_port, "/varz"))["jetstream"]["stats"]
        return {"api": (v["api"]["total"], v["api"]["errors"]), "accounts": v["accounts"]}

    assert pair.same(scenario) == {"api": (3, 1), "accounts": 1}
