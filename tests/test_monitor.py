"""The monitoring HTTP endpoint: real natsx servers, real nats-py clients, real HTTP.

Counters are checked after real traffic; the key sets are checked against nats-server's own
monitoring JSON for a comparable start.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import time
from typing import Any, Callable

import nats
from nats.aio.client import __version__ as nats_version
import pytest

import natsx
from natsx.gofmt import go_duration, go_time
from natsx.monitor import go_uptime
from tests.conftest import NATSX, REF, ServerFactory, wait_until

# Keys nats-server has that natsx omits (no system account yet).
GO_ONLY_VARZ_KEYS = {"system_account"}
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


# ---- helpers ---------------------------------------------------------------------------------

class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


async def _read_response(reader: asyncio.StreamReader, head_only: bool = False) -> Response:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if head_only:
        return Response(status, headers, b"")
    if headers.get("transfer-encoding") == "chunked":   # Go's net/http chunks large bodies
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return Response(status, headers, body)
            body += chunk[:-2]
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Response(status, headers, body)


async def http_get(port: int, path: str, method: str = "GET") -> Response:
    """One request on its own connection (async, so it works against the in-process server too)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        return await asyncio.wait_for(_read_response(reader, method == "HEAD"), 5)
    finally:
        writer.close()


async def get_json(port: int, path: str) -> Any:
    r = await http_get(port, path)
    assert r.status == 200, (path, r.status, r.body)
    assert r.headers["content-type"] == "application/json"
    return r.json()


@pytest.fixture
async def srv():
    async with natsx.Server(host="127.0.0.1", port=0, http_port=-1) as s:
        yield s


@pytest.fixture
async def connect(srv):
    conns: list = []

    async def make(**kw):
        nc = await nats.connect(srv.client_url, reconnect_time_wait=0.1, max_reconnect_attempts=0, **kw)
        conns.append(nc)
        return nc

    yield make
    for nc in conns:
        if not nc.is_closed:
            await nc.close()


# ---- Go encodings ----------------------------------------------------------------------------

def test_go_duration_matches_go_strings():
    # Outputs of Go's time.Duration.String for the same nanosecond values.
    cases = {0: "0s", 999: "999ns", 793_000: "793µs", 1_500: "1.5µs", 1_425_146: "1.425146ms",
             2_000_000: "2ms", 1_500_000_000: "1.5s", 120_000_000_000: "2m0s",
             3_723_500_000_000: "1h2m3.5s", -1_500_000: "-1.5ms"}
    for ns, want in cases.items():
        assert go_duration(ns) == want, ns


def test_go_uptime_and_time():
    assert go_uptime(0.9) == "0s"
    assert go_uptime(61) == "1m1s"
    assert go_uptime(3600 * 25 + 62) == "1d1h1m2s"
    assert go_uptime(86400 * 366) == "1y1d0h0m0s"
    assert go_time(1_764_176_400_661_397_041) == "2025-11-26T17:00:00.661397041Z"
    assert go_time(1_764_176_400_500_000_000) == "2025-11-26T17:00:00.5Z"
    assert go_time(1_764_176_400_000_000_000) == "2025-11-26T17:00:00Z"


# ---- /varz -----------------------------------------------------------------------------------

async def test_varz_reports_real_counters(srv, connect):
    port = srv.http_port
    before = await get_json(port, "/varz")
    assert before["server_id"] == srv.server_id and before["server_name"] == srv.name
    assert before["version"] == natsx.NATS_SERVER_VERSION
    assert before["port"] == srv.port and before["http_port"] == port
    assert before["connections"] == 0 and before["in_msgs"] == 0
    assert before["cores"] == os.cpu_count()
    assert before["mem"] > 1_000_000                     # RSS of a Python process
    assert isinstance(before["cpu"], (int, float)) and before["cpu"] >= 0
    assert before["ping_interval"] == int(srv.options.ping_interval * 1e9)
    assert before["max_payload"] == srv.options.max_payload
    for k in ("start", "now", "config_load_time"):
        assert TIME_RE.match(before[k]), before[k]
    assert re.match(r"^\d+s$", before["uptime"])
    assert before["http_req_stats"]["/varz"] == 1

    sub = await connect(name="sub")
    pub = await connect(name="pub")
    got = []

    async def on_msg(m):
        got.append(m)

    await sub.subscribe("orders.*", cb=on_msg)
    await sub.flush()
    for i in range(10):
        await pub.publish("orders.new", b"x" * 7)
    await pub.flush()
    await wait_until(lambda: len(got) == 10, what="10 deliveries")

    v = await wait_until(lambda: _varz_when(port, lambda v: v["out_msgs"] == 10), what="varz out_msgs")
    assert v["in_msgs"] == 10 and v["in_bytes"] == 70
    assert v["out_msgs"] == 10 and v["out_bytes"] == 70
    assert v["in_client_msgs"] == 10 and v["out_client_bytes"] == 70
    assert v["connections"] == 2 and v["total_connections"] == 2
    assert v["subscriptions"] == 1
    assert v["http_req_stats"]["/varz"] >= 2

    await pub.close()
    v = await wait_until(lambda: _varz_when(port, lambda v: v["connections"] == 1), what="1 connection")
    assert v["total_connections"] == 2


async def _varz_when(port: int, pred: Callable[[dict], bool]):
    v = await get_json(port, "/varz")
    return v if pred(v) else None


# ---- /connz ----------------------------------------------------------------------------------

async def test_connz_lists_connections_with_subscriptions(srv, connect):
    port = srv.http_port
    a = await connect(name="alpha")
    b = await connect()
    await a.subscribe("foo")
    await a.subscribe("bar.*", queue="workers")
    await b.subscribe("foo")
    await a.flush()
    await b.flush()
    await b.publish("foo", b"hello")
    await b.flush()

    def delivered(c):
        conns = {ci["name"] if "name" in ci else "anon": ci for ci in c["connections"]}
        return conns if conns.get("alpha", {}).get("out_msgs") == 1 else None

    conns = await wait_until(lambda: _connz_pred(port, "/connz", delivered), what="delivery counted")
    alpha, anon = conns["alpha"], conns["anon"]
    assert alpha["subscriptions"] == 2 and anon["subscriptions"] == 1
    assert alpha["lang"] == "python3" and alpha["version"] == nats_version
    assert anon["in_msgs"] == 1 and anon["in_bytes"] == 5
    assert alpha["out_msgs"] == 1 and alpha["out_bytes"] == 5 and alpha["in_msgs"] == 0
    assert alpha["kind"] == "Client" and alpha["type"] == "nats" and alpha["ip"] == "127.0.0.1"
    assert "subscriptions_list" not in alpha
    assert alpha["cid"] < anon["cid"]

    c = await get_json(port, "/connz?subs=1")
    lists = {ci["cid"]: sorted(ci["subscriptions_list"]) for ci in c["connections"]}
    assert lists == {alpha["cid"]: ["bar.*", "foo"], anon["cid"]: ["foo"]}

    c = await get_json(port, f"/connz?subs=detail&cid={alpha['cid']}")
    assert c["num_connections"] == 1 and c["limit"] == 1
    details = {d["subject"]: d for d in c["connections"][0]["subscriptions_list_detail"]}
    assert details["bar.*"]["qgroup"] == "workers" and details["bar.*"]["msgs"] == 0
    assert details["foo"]["msgs"] == 1 and details["foo"]["cid"] == alpha["cid"]
    assert "qgroup" not in details["foo"] and "account" not in details["foo"]


async def _connz_pred(port: int, path: str, pred):
    return pred(await get_json(port, path))


async def test_connz_paging_and_sorting(srv, connect):
    port = srv.http_port
    clients = [await connect(name=f"c{i}") for i in range(5)]
    # Client i publishes i messages, so msgs_from sorts them in reverse.
    for i, nc in enumerate(clients):
        for _ in range(i):
            await nc.publish("nobody.listens", b"m")
        await nc.flush()
    c = await wait_until(lambda: _connz_pred(
        port, "/connz", lambda c: c if sum(ci["in_msgs"] for ci in c["connections"]) == 10 else None),
        what="all publishes counted")
    cids = [ci["cid"] for ci in c["connections"]]
    assert cids == sorted(cids) and c["total"] == 5 and c["num_connections"] == 5

    page = await get_json(port, "/connz?offset=1&limit=2")
    assert page["total"] == 5 and page["num_connections"] == 2
    assert page["offset"] == 1 and page["limit"] == 2
    assert [ci["cid"] for ci in page["connections"]] == cids[1:3]

    past = await get_json(port, "/connz?offset=10")
    assert past["connections"] == [] and past["total"] == 5 and past["num_connections"] == 0

    by_in = await get_json(port, "/connz?sort=msgs_from")
    assert [ci["name"] for ci in by_in["connections"]] == ["c4", "c3", "c2", "c1", "c0"]
    by_in_page = await get_json(port, "/connz?sort=msgs_from&limit=2&offset=1")
    assert [ci["name"] for ci in by_in_page["connections"]] == ["c3", "c2"]

    assert (await get_json(port, "/connz?limit=-3"))["limit"] == 1024
    assert (await get_json(port, "/connz?cid=999999"))["connections"] == []


async def test_connz_bad_parameters_give_nats_server_errors(srv):
    port = srv.http_port
    cases = {
        "/connz?sort=bogus": "invalid sorting option: bogus",
        "/connz?sort=stop": "sort by stop only valid on closed connections",
        "/connz?sort=reason": "sort by reason only valid on closed connections",
        "/connz?state=bad": "Error decoding state for bad",
        "/connz?limit=x": "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax",
        "/connz?subs=x": "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"x\": invalid syntax",
        "/connz?cid=-1": "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax",
        "/subsz?test=foo.*": "invalid test subject, must be valid publish subject: foo.*",
    }
    for path, text in cases.items():
        r = await http_get(port, path)
        assert (r.status, r.body.decode()) == (400, text), path
        assert r.headers["content-type"] == "text/plain; charset=utf-8"


async def test_connz_closed_connections(srv, connect):
    port = srv.http_port
    keep = await connect(name="keep")
    gone = await connect(name="gone")
    await gone.publish("x", b"12345")
    await gone.flush()
    open_c = await get_json(port, "/connz")
    cids = {ci["name"]: ci["cid"] for ci in open_c["connections"]}
    gone_cid = cids["gone"]
    await gone.close()

    closed = await wait_until(lambda: _connz_pred(
        port, "/connz?state=closed", lambda c: c if c["total"] >= 1 else None), what="closed connection listed")
    ci = next(ci for ci in closed["connections"] if ci["cid"] == gone_cid)
    assert ci["name"] == "gone" and ci["reason"] == "Client Closed" and ci["in_msgs"] == 1
    assert TIME_RE.match(ci["stop"])
    all_c = await get_json(port, "/connz?state=all")
    assert all_c["total"] == 2
    assert sorted(c["cid"] for c in all_c["connections"]) == sorted(cids.values())
    by_stop = await get_json(port, "/connz?state=closed&sort=stop")
    assert by_stop["connections"][0]["cid"] == gone_cid
    assert keep.is_connected


# ---- /subsz ----------------------------------------------------------------------------------

async def test_subsz_counts_and_lists(srv, connect):
    port = srv.http_port
    a = await connect()
    b = await connect()
    await a.subscribe("foo")
    await a.subscribe("foo.*")
    await b.subscribe("foo", queue="q")
    await b.subscribe("bar")
    await a.flush()
    await b.flush()
    await a.publish("foo", b"x")
    await a.flush()

    s = await wait_until(lambda: _connz_pred(port, "/subsz", lambda s: s if s["num_matches"] >= 1 else None),
                         what="a match counted")
    assert s["num_subscriptions"] == 4 and s["num_inserts"] == 4 and s["num_removes"] == 0
    assert s["total"] == 0 and s["limit"] == 1024 and "subscriptions_list" not in s

    full = await get_json(port, "/subsz?subs=1")
    assert full["total"] == 4 and len(full["subscriptions_list"]) == 4
    assert sorted(d["subject"] for d in full["subscriptions_list"]) == ["bar", "foo", "foo", "foo.*"]
    assert all(d["account"] == "$G" and d["account_tag"] == "$G" for d in full["subscriptions_list"])

    tested = await get_json(port, "/subsz?subs=1&test=foo")
    assert tested["total"] == 2
    assert {(d["subject"], d.get("qgroup")) for d in tested["subscriptions_list"]} == {("foo", None), ("foo", "q")}

    page = await get_json(port, "/subsz?subs=1&offset=1&limit=2")
    assert page["total"] == 4 and page["offset"] == 1 and len(page["subscriptions_list"]) == 2

    await b.close()
    s = await wait_until(lambda: _connz_pred(port, "/subsz", lambda s: s if s["num_subscriptions"] == 2 else None),
                         what="b's subscriptions removed")
    assert s["num_removes"] == 2


# ---- the other endpoints, HTTP behaviour ----------------------------------------------------

async def test_other_endpoints_have_nats_server_shape(srv):
    port = srv.http_port
    r = await get_json(port, "/routez")
    assert r["num_routes"] == 0 and r["routes"] == [] and r["server_name"] == srv.name
    g = await get_json(port, "/gatewayz")
    assert g["outbound_gateways"] == {} and g["inbound_gateways"] == {}
    lf = await get_json(port, "/leafz")
    assert lf["leafnodes"] == 0 and lf["leafs"] == []
    j = await get_json(port, "/jsz")
    assert j["disabled"] is True and j["streams"] == 0 and j["server_id"] == srv.server_id
    a = await get_json(port, "/accountz")
    assert a["accounts"] == ["$G"]
    ad = await get_json(port, "/accountz?acc=$G")
    assert ad["account_detail"]["account_name"] == "$G"
    nope = await http_get(port, "/accountz?acc=nope")
    assert (nope.status, nope.body) == (400, b"Account nope does not exist")

    h = await http_get(port, "/healthz")
    assert (h.status, h.body) == (200, b'{"status":"ok"}')

    idx = await http_get(port, "/")
    assert idx.status == 200 and idx.headers["content-type"].startswith("text/html")
    for p in ("varz", "connz", "subsz", "routez", "healthz", "jsz", "accountz", "leafz", "gatewayz"):
        assert f"href=./{p}>".encode() in idx.body

    missing = await http_get(port, "/varz/")
    assert (missing.status, missing.body) == (404, b"404 page not found\n")
    assert missing.headers["x-content-type-options"] == "nosniff"
    raft = await http_get(port, "/raftz")
    assert (raft.status, raft.body) == (404, b"No Raft nodes registered")
    assert await get_json(port, "/ipqueuesz") == {}

    v = await get_json(port, "/varz")
    stats = v["http_req_stats"]
    for p in ("/routez", "/gatewayz", "/leafz", "/jsz", "/healthz", "/", "/varz"):
        assert stats[p] >= 1, p
    assert stats["/accountz"] == 3


async def test_http_keep_alive_head_and_headers(srv):
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.http_port)
    try:
        for _ in range(3):   # several requests on one connection (HTTP/1.1 keep-alive)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            r = await asyncio.wait_for(_read_response(reader), 5)
            assert r.status == 200 and r.body == b'{"status":"ok"}'
            assert r.headers["access-control-allow-origin"] == "*"
            assert "date" in r.headers
        writer.write(b"HEAD /varz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        r = await asyncio.wait_for(_read_response(reader, head_only=True), 5)
        assert r.status == 200 and int(r.headers["content-length"]) > 100
        writer.write(b"GET /connz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        r = await asyncio.wait_for(_read_response(reader), 5)
        assert r.json()["num_connections"] == 0
        assert await asyncio.wait_for(reader.read(), 5) == b""   # server closed as asked
    finally:
        writer.close()


async def test_monitor_closes_with_server():
    async with natsx.Server(host="127.0.0.1", port=0, http_port=-1) as s:
        port = s.http_port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert (await get_json(port, "/healthz"))["status"] == "ok"
    # An idle keep-alive connection is closed and the port stops accepting.
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


# ---- differential: same top-level keys as nats-server ----------------------------------------

async def _populate(url: str):
    nc = await nats.connect(url, name="diff")
    await nc.subscribe("diff.sub", queue="q")
    await nc.flush()
    await nc.publish("diff.sub", b"x")
    await nc.flush()
    return nc


async def test_keys_match_nats_server(tmp_path):
    ref_f, nx_f = ServerFactory(REF, tmp_path), ServerFactory(NATSX, tmp_path)
    try:
        ref = ref_f(monitor=True)
        nx = nx_f(monitor=True)
        docs: dict[str, dict[str, Any]] = {}
        for kind, s in ((REF, ref), (NATSX, nx)):
            nc = await _populate(s.url)
            try:
                docs[kind] = {p: await get_json(s.http_port, p) for p in (
                    "/varz", "/connz?subs=detail", "/subsz?subs=1", "/routez", "/healthz",
                    "/gatewayz", "/leafz", "/jsz", "/accountz", "/accstatz")}
                docs[kind]["/healthz-raw"] = {"body": (await http_get(s.http_port, "/healthz")).body}
            finally:
                await nc.close()
    finally:
        ref_f.close()
        nx_f.close()

    ref_docs, nx_docs = docs[REF], docs[NATSX]
    for path in ref_docs:
        missing = set(ref_docs[path]) - set(nx_docs[path])
        if path == "/varz":
            missing -= GO_ONLY_VARZ_KEYS
        if path == "/accountz":
            missing -= {"system_account"}
        assert not missing, (path, missing)
        extra = set(nx_docs[path]) - set(ref_docs[path])
        assert not extra, (path, extra)
    assert nx_docs["/healthz-raw"] == ref_docs["/healthz-raw"]

    # varz: same key order (tools diff the raw text), same nested shapes, same option values.
    ref_v, nx_v = ref_docs["/varz"], nx_docs["/varz"]
    assert [k for k in ref_v if k not in GO_ONLY_VARZ_KEYS] == list(nx_v)
    for k in ("slow_consumer_stats", "stale_connection_stats", "disk_io_wait_stats"):
        assert set(ref_v[k]) == set(nx_v[k]), k
    for k in ("proto", "max_connections", "ping_interval", "ping_max", "auth_timeout", "max_control_line",
              "max_payload", "max_pending", "tls_timeout", "write_deadline", "connections", "routes",
              "cluster", "gateway", "leaf", "jetstream"):
        assert ref_v[k] == nx_v[k], k

    # One connection with one queue subscription: identical ConnInfo and SubDetail key lists.
    ref_ci, nx_ci = ref_docs["/connz?subs=detail"]["connections"][0], nx_docs["/connz?subs=detail"]["connections"][0]
    volatile = {"rtt"}   # nats-server measures RTT at connect; natsx only reports it once measured
    assert [k for k in ref_ci if k not in volatile] == [k for k in nx_ci if k not in volatile]
    assert ref_ci["subscriptions_list_detail"] == nx_ci["subscriptions_list_detail"] or \
        [list(d) for d in ref_ci["subscriptions_list_detail"]] == [list(d) for d in nx_ci["subscriptions_list_detail"]]
    for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions", "name", "lang", "version"):
        assert ref_ci[k] == nx_ci[k], k
    ref_subs = [d for d in ref_docs["/subsz?subs=1"]["subscriptions_list"] if d["subject"] == "diff.sub"]
    nx_subs = nx_docs["/subsz?subs=1"]["subscriptions_list"]
    assert [list(d) for d in ref_subs] == [list(d) for d in nx_subs]
    assert list(ref_docs["/subsz?subs=1"]) == list(nx_docs["/subsz?subs=1"])
    assert list(ref_docs["/connz?subs=detail"]) == list(nx_docs["/connz?subs=detail"])


async def test_http_base_path():
    async with natsx.Server(host="127.0.0.1", port=0, http_port=-1, http_base_path="/nats") as s:
        v = await get_json(s.http_port, "/nats/varz")
        assert v["http_base_path"] == "/nats"
        idx = await http_get(s.http_port, "/nats")
        assert idx.status == 200 and b"href=./nats/connz>" in idx.body
        assert (await http_get(s.http_port, "/varz")).status == 404


async def test_varz_cpu_reflects_process_load(srv):
    await get_json(srv.http_port, "/varz")          # starts a sampling window

    def burn(seconds: float) -> None:
        end = time.process_time() + seconds        # CPU time, so a busy machine only makes it slower
        while time.process_time() < end:
            pass

    await asyncio.get_running_loop().run_in_executor(None, burn, 1.2)
    v = await get_json(srv.http_port, "/varz")
    # 1.2s of CPU over the window since the previous sample; nats-server's %CPU of one core.
    assert v["cpu"] > 5, v["cpu"]
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    assert abs(v["mem"] - rss) < 50 * 1024 * 1024


async def test_auth_fields_and_user_filter():
    async with natsx.Server(host="127.0.0.1", port=0, http_port=-1, username="bob", password="pw") as s:
        nc = await nats.connect(s.client_url, user="bob", password="pw")
        try:
            v = await get_json(s.http_port, "/varz")
            assert v["auth_required"] is True and list(v).index("auth_required") == list(v).index("port") + 1
            plain = (await get_json(s.http_port, "/connz"))["connections"][0]
            assert "authorized_user" not in plain and "name_tag" not in plain
            ci = (await get_json(s.http_port, "/connz?auth=1"))["connections"][0]
            assert ci["authorized_user"] == "bob" and ci["name_tag"] == "$G" and "account" not in ci
            assert (await get_json(s.http_port, "/connz?auth=1&user=bob"))["num_connections"] == 1
            assert (await get_json(s.http_port, "/connz?auth=1&user=eve"))["num_connections"] == 0
        finally:
            await nc.close()


async def test_config_digest_matches_nats_server(tmp_path):
    """/varz config_digest: the sha256 nats-server computes over the parsed config file (and the
    same string `-t` prints); without a config file both report none."""
    config = 'server_name: digest\nmax_payload: 512KB\nping_interval: "30s"\nauthorization { timeout: 3 }\n'
    ref_f, nx_f = ServerFactory(REF, tmp_path), ServerFactory(NATSX, tmp_path)
    try:
        digests = {}
        for kind, factory in ((REF, ref_f), (NATSX, nx_f)):
            with_config = factory(config=config, monitor=True)
            without = factory(monitor=True)
            digests[kind] = [(await get_json(s.http_port, "/varz"))["config_digest"] for s in (with_config, without)]
    finally:
        ref_f.close()
        nx_f.close()
    assert digests[NATSX] == digests[REF]
    assert digests[NATSX][0].startswith("sha256:") and digests[NATSX][1] == ""


async def test_healthz_is_an_error_until_the_listener_is_up():
    # The monitor starts before the client listener, as nats-server's; in between /healthz says so.
    from natsx.monitor import healthz

    server = natsx.Server(host="127.0.0.1", port=0)
    assert healthz(server, {}) == (
        {"status": "error", "error": "failed to be ready for connections after 1ms: server"}, 500)
    assert healthz(server, {"details": "true"})[0]["errors"] == [
        {"type": "CONNECTION", "error": "failed to be ready for connections after 1ms: server"}]
    async with server:
        assert healthz(server, {}) == ({"status": "ok"}, 200)


async def test_stalled_producers_are_counted(srv):
    """/varz stalled_clients counts each time a producer waits behind a slow receiver, as
    nats-server's stalledWait does."""
    host, port = srv.client_url.removeprefix("nats://").rsplit(":", 1)
    # A subscriber that never reads, and a producer fast enough to fill its socket and buffer.
    slow_r, slow_w = await asyncio.open_connection(host, int(port))
    await slow_r.readline()
    slow_w.write(b'CONNECT {"verbose":false}\r\nSUB stall 1\r\nPING\r\n')
    await slow_r.readline()   # PONG: subscribed
    nc = await nats.connect(srv.client_url)
    try:
        payload = b"x" * 65536
        before = (await get_json(srv.http_port, "/varz"))["stalled_clients"]

        async def stalled() -> bool:
            for _ in range(64):
                await nc.publish("stall", payload)
            await nc.flush()
            return (await get_json(srv.http_port, "/varz"))["stalled_clients"] > before

        deadline = time.monotonic() + 10
        while not await stalled():
            assert time.monotonic() < deadline, "no stall counted"
    finally:
        await nc.close()
        slow_w.close()


async def test_keys_match_nats_server_with_jetstream(tmp_path):
    """With -js: the same top-level keys everywhere, the same nested keys in /varz's jetstream
    section and /jsz (natsx's sync policy and sizes aside), and the same /healthz answers."""
    from tests.jetstream.readhelp import keys_equal
    docs: dict[str, dict[str, Any]] = {}
    factories = [ServerFactory(k, tmp_path / k) for k in (REF, NATSX)]
    try:
        for f in factories:
            (tmp_path / f.kind / "js").mkdir(parents=True)
            s = f(["-js", "-sd", str(tmp_path / f.kind / "js")], monitor=True)
            nc = await _populate(s.url)
            try:
                await nc.jetstream().add_stream(name="K", subjects=["k.>"])
                await nc.request("k.1", b"x", timeout=5)
                docs[f.kind] = {p: await get_json(s.http_port, p) for p in (
                    "/varz", "/jsz", "/jsz?accounts=1&streams=1&config=1", "/healthz?js-enabled-only=true")}
            finally:
                await nc.close()
    finally:
        for f in factories:
            f.close()
    ref, nx = docs[REF], docs[NATSX]
    for path in ref:
        missing = set(ref[path]) - set(nx[path]) - (GO_ONLY_VARZ_KEYS if path == "/varz" else set())
        assert not missing and not set(nx[path]) - set(ref[path]), path
    own = {"sync_interval", "sync_always", "limits"}   # natsx syncs always; nats-server 2.15 adds a consumer default
    keys_equal(nx["/varz"]["jetstream"], ref["/varz"]["jetstream"], "/varz.jetstream", own)
    keys_equal(nx["/jsz?accounts=1&streams=1&config=1"], ref["/jsz?accounts=1&streams=1&config=1"], "/jsz", own)
    assert nx["/healthz?js-enabled-only=true"] == ref["/healthz?js-enabled-only=true"] == {"status": "ok"}
