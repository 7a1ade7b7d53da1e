"""Enabling JetStream, compared with nats-server: INFO, the start-up log lines, the store
directory (flag, config block, temp default), the jetstream block's options, the API level natsx
announces and the features above it that natsx refuses."""
from __future__ import annotations

import os
import re
import signal

import nats
import pytest

import natsx

from conftest import NATSX, REF, ServerProcess, raw_connect
from jetstream.jsdiff import ServerPair, compare, request

API = "$JS.API."
LOG_PREFIX = re.compile(r"^\[\d+\] \S+ \S+ \[\w+\] ")


@pytest.fixture
def pair(tmp_path):
    p = ServerPair(tmp_path)
    yield p
    p.close()


def test_info_announces_jetstream_like_nats_server(pair):
    ref, cand = pair.start()
    clients = [raw_connect(ref), raw_connect(cand)]
    a, b = (c.info for c in clients)
    for c in clients:
        c.close()
    assert list(a) == list(b)
    assert a["jetstream"] is True and b["jetstream"] is True
    assert b["api_lvl"] == 0


def jetstream_lines(srv: ServerProcess) -> list[str]:
    """The log lines from "Starting JetStream" to "Server is ready", values blanked."""
    lines = [LOG_PREFIX.sub("", line.rstrip("\n")) for line in srv.stderr.splitlines()]
    start = lines.index("Starting JetStream")
    end = lines.index("Server is ready")
    shape = []
    for line in lines[start:end + 1]:
        if line.startswith("Listening for client connections"):
            continue
        line = re.sub(r"(Max Memory|Max Storage): +.*", r"\1: <size>", line)
        line = re.sub(r"API Level: +\d+", "API Level: <n>", line)
        line = re.sub(r"Took \S+ to start", "Took <d> to start", line)
        line = re.sub(r"in \S+$", "in <d>", line)
        shape.append(line.replace(str(srv._tmpdir), "<store>"))
    return shape


async def test_startup_log_lines_match_nats_server(pair):
    ref, cand = pair.start()
    for srv in (ref, cand):
        nc = await nats.connect(srv.url)
        await nc.jetstream().add_stream(name="LOGGED", subjects=["logged"])
        await nc.close()
        srv.restart()
    assert jetstream_lines(ref) == jetstream_lines(cand)
    assert "  Restored 0 messages for stream '$G > LOGGED' in <d>" in jetstream_lines(cand)


def test_default_store_dir_is_in_the_temp_dir(tmp_path):
    """Without a store dir, both servers use $TMPDIR/nats/jetstream and warn about it."""
    for kind in (REF, NATSX):
        tmp = tmp_path / kind
        tmp.mkdir()
        env_before = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = str(tmp)
        try:
            srv = ServerProcess(kind, tmp).start(["-js"])
        finally:
            if env_before is None:
                del os.environ["TMPDIR"]
            else:
                os.environ["TMPDIR"] = env_before
        try:
            assert f'Store Directory: "{tmp}/nats/jetstream"' in srv.stderr
            assert "Temporary storage directory used, data could be lost on system reboot" in srv.stderr
        finally:
            srv.stop()


BLOCK = """
jetstream {
  store_dir: "<store>"
  max_memory_store: 64MB
  max_file_store: 1GB
  domain: hub
  sync_interval: always
  strict: true
  max_buffered_msgs: 10000
  unique_tag: az
}
"""


async def test_jetstream_block_as_nats_server_reads_it(pair):
    ref, cand = pair.start(config=BLOCK)
    for srv in (ref, cand):
        assert "  Max Memory:      64.00 MB" in srv.stderr
        assert "  Max Storage:     1.00 GB" in srv.stderr
        assert "  Domain:          hub" in srv.stderr
    await compare(ref, cand, [
        (f"{API}INFO", b""),
        ("$JS.hub.API.INFO", b""),                       # the domain's API prefix maps to $JS.API
        ("$JS.hub.API.STREAM.CREATE.D", {"name": "D", "subjects": ["d"]}),
        ("pub:d", b"x"),                                  # acks name the domain
        (f"{API}STREAM.INFO.D", b""),
        (f"{API}STREAM.CREATE.BIG", {"name": "BIG", "storage": "memory", "max_bytes": 65 << 20}),
    ])


async def test_strict_off_accepts_unknown_fields(pair):
    ref, cand = pair.start(config='jetstream { store_dir: "<store>", strict: false }')
    assert "Strict:" not in cand.stderr and "Strict:" not in ref.stderr
    await compare(ref, cand, [(f"{API}STREAM.CREATE.U", {"name": "U", "bogus": 1})])


async def test_required_api_level_header(pair):
    ref, cand = pair.start()
    for srv in (ref, cand):
        nc = await nats.connect(srv.url)
        try:
            refused = await request(nc, f"{API}INFO", headers={"Nats-Required-Api-Level": "99"})
            assert refused["error"] == {"code": 412, "err_code": 10185,
                                        "description": "JetStream minimum api level required"}
            ok = await request(nc, f"{API}INFO", headers={"Nats-Required-Api-Level": "0"})
            assert "error" not in ok
        finally:
            await nc.close()
    # natsx serves level 0: a request needing level 1 (per-message TTL, 2.11) is refused there.
    nc = await nats.connect(cand.url)
    try:
        refused = await request(nc, f"{API}INFO", headers={"Nats-Required-Api-Level": "1"})
        assert refused["error"]["err_code"] == 10185
    finally:
        await nc.close()


@pytest.mark.parametrize("field,value,feature", [
    ("allow_msg_ttl", True, "per-message TTL"),
    ("subject_delete_marker_ttl", 5_000_000_000, "subject delete markers"),
    ("allow_msg_counter", True, "message counters"),
    ("allow_atomic", True, "atomic batch publish"),
    ("allow_msg_schedules", True, "message schedules"),
    ("allow_batched", True, "fast batch publish"),
    ("persist_mode", "async", "async persist mode"),
    ("republish", {"src": ">", "dest": "rp.>"}, "republish"),
    ("subject_transform", {"src": "t.>", "dest": "x.>"}, "subject transforms"),
])
async def test_features_above_natsx_api_level_are_refused(tmp_path, field, value, feature):
    """nats-server 2.15 accepts these; natsx does not implement them yet and refuses rather than
    store a config whose behaviour it would silently ignore (10052, naming the feature)."""
    srv = ServerProcess(NATSX, tmp_path).start(["-js", "-sd", str(tmp_path / "s")])
    try:
        nc = await nats.connect(srv.url)
        cfg = {"name": "F", "subjects": ["t.>"], field: value}
        if field == "subject_delete_marker_ttl":
            cfg.update(allow_msg_ttl=False)
        doc = await request(nc, f"{API}STREAM.CREATE.F", cfg)
        assert doc["error"]["code"] == 500 and doc["error"]["err_code"] == 10052
        assert doc["error"]["description"].startswith(feature)
        assert "not supported" in doc["error"]["description"]
        await nc.close()
    finally:
        srv.stop()


async def test_consumers_are_not_faked(tmp_path):
    """Until consumers exist (issue 10) creating one fails, info/delete say "consumer not found"."""
    srv = ServerProcess(NATSX, tmp_path).start(["-js", "-sd", str(tmp_path / "s")])
    try:
        nc = await nats.connect(srv.url)
        js = nc.jetstream()
        await js.add_stream(name="C", subjects=["c"])
        with pytest.raises(nats.js.errors.APIError) as err:
            await js.add_consumer("C", durable_name="D")
        assert err.value.err_code == 10012
        with pytest.raises(nats.js.errors.NotFoundError):
            await js.consumer_info("C", "D")
        await nc.close()
    finally:
        srv.stop(signal.SIGTERM)


async def test_server_duplicate_window_limit(pair):
    ref, cand = pair.start(config='jetstream { store_dir: "<store>", limits { duplicate_window: "1m" } }')
    await compare(ref, cand, [
        (f"{API}STREAM.CREATE.W", {"name": "W"}),                                 # defaults to 1m
        (f"{API}STREAM.CREATE.X", {"name": "X", "duplicate_window": 120_000_000_000}),
        (f"{API}STREAM.CREATE.Y", {"name": "Y", "duplicate_window": 30_000_000_000}),
    ])


async def test_embedded_server_serves_jetstream(tmp_path):
    async with natsx.Server(port=0, host="127.0.0.1", jetstream=True, store_dir=str(tmp_path)) as srv:
        nc = await nats.connect(srv.client_url)
        js = nc.jetstream()
        await js.add_stream(name="EMB", subjects=["emb"])
        assert (await js.publish("emb", b"x")).seq == 1
        assert srv.jetstream is not None and srv.jetstream.streams["EMB"].store.msgs == 1
        await nc.close()
    assert (tmp_path / "jetstream" / "$G" / "streams" / "EMB" / "meta.inf").is_file()
