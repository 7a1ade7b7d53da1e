"""Smoke test of `natsx bench` and the comparison suite: every core scenario runs to completion
against each selected server (NATSX_TEST_SERVERS, default "natsx,nats-server") and reports a
positive figure. Speeds are never checked here; they belong in bench/."""
from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.servers import REF, Server, selected_servers  # noqa: E402
from conftest import RawClient  # noqa: E402
from bench.suite import SCENARIOS, GoGenerator, run_scenario  # noqa: E402
from natsx.loadgen.session import Session  # noqa: E402

CORE = [s for s in SCENARIOS if s.core]
JS = [s for s in SCENARIOS if not s.core]
CORE_GO = [s for s in CORE if s.go]


@pytest.fixture(scope="module", params=selected_servers())
def server(request):
    with Server(request.param, jetstream=True) as srv:
        yield srv


@pytest.mark.parametrize("scenario", CORE, ids=[s.name for s in CORE])
def test_core_scenario_completes(server, scenario):
    cpu_before = server.cpu_seconds()
    res = run_scenario(scenario, server.url, quick=True, timeout=120, server_cpu=server.cpu_seconds)
    assert res["msgs"] > 0
    assert res["rate"] > 0
    assert res["cpu_s"] > 0      # the generator's own CPU time, for bench.headroom's ceiling
    if "request" in scenario.main:
        assert res["p50_us"] and res["p50_us"] > 0
    # The server's CPU over the measured part: never negative, never more than it used in all.
    assert 0 <= res["server_cpu_s"] <= server.cpu_seconds() - cpu_before + 0.01
    assert res["server_msgs"] == scenario.quick_msgs


@pytest.fixture(scope="module")
def go_generator():
    go = GoGenerator()
    yield go
    go.close()


@pytest.mark.parametrize("scenario", CORE_GO, ids=[s.name for s in CORE_GO])
def test_core_scenario_completes_with_nats_go(server, go_generator, scenario):
    """--generator go: nats.go's reference program runs the scenario's load and reports its figure."""
    res = go_generator.run(scenario.go, server.url, scenario.quick_msgs, server.cpu_seconds, timeout=120)
    assert res["rate"] > 0 and res["server_msgs"] == scenario.quick_msgs
    assert res["server_cpu_s"] >= 0
    if "request" in scenario.main:
        assert res["p50_us"] and res["p50_us"] > 0


def test_every_core_scenario_has_a_nats_go_load():
    assert CORE_GO == CORE


def test_compare_with_the_go_generator(tmp_path):
    """`python -m bench.compare --generator go` (quick): the table names its generator, has the
    server-CPU columns for both servers, and marks what nats.go cannot run n/a."""
    md, csv_path, js = tmp_path / "p.md", tmp_path / "p.csv", tmp_path / "p.json"
    r = subprocess.run([sys.executable, "-m", "bench.compare", "--quick", "--generator", "go", "-k", "1->1 16B",
                        "-k", "KV put", "--markdown", str(md), "--csv", str(csv_path), "--json", str(js)],
                       capture_output=True, text=True, cwd=str(ROOT), timeout=600)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "Generator: nats.go " in r.stdout and "natsx CPU s / 1M msgs" in r.stdout
    doc = json.loads(js.read_text())
    rows = {row["scenario"]: row for row in doc["rows"]}
    assert doc["meta"]["generator"].startswith("nats.go ")
    for kind in selected_servers():
        cell = rows["1->1 16B"][kind]
        assert cell["rate"] > 0 and cell["server_cpu_per_1m"] >= 0
    assert rows["KV put"]["unsupported"]
    text = md.read_text()
    assert "| nats-server CPU s / 1M msgs |" in text and "| KV put | n/a |" in text
    assert "n/a with this generator (no nats.go reference program runs it): KV put." in text
    head = csv_path.read_text().splitlines()[0].split(",")
    assert {"generator", "natsx_cpu_s_per_1m_msgs", "nats_server_cpu_s_per_1m_msgs", "cpu_ratio"} <= set(head)


@pytest.mark.parametrize("scenario", JS, ids=[s.name for s in JS])
def test_jetstream_scenario_completes_on_nats_server(scenario):
    # natsx has no consumers yet (most of these need one): they run against the reference server here.
    with Server(REF, jetstream=True) as srv:
        res = run_scenario(scenario, srv.url, quick=True, timeout=120)
    assert res["msgs"] > 0 and res["rate"] > 0


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "natsx.loadgen", *args], capture_output=True, text=True,
                          cwd=str(ROOT), timeout=120)


def test_cli_output_and_csv_match_nats_bench(tmp_path):
    with Server(REF, jetstream=False) as srv:
        out = tmp_path / "pub.csv"
        r = _bench("pub", "smoke.pub", "-s", srv.url, "--msgs", "20000", "--size", "16B", "--clients", "2",
                   "--no-progress", "--csv", str(out))
        assert r.returncode == 0, r.stderr
        assert "Starting Core NATS publisher benchmark [clients=2, msg-size=16 B, msgs=20,000" in r.stderr
        assert "  [1] " in r.stdout and "(10,000 msgs)" in r.stdout
        assert " NATS Core NATS publisher aggregated stats: " in r.stdout
        assert " message rates min " in r.stdout
        lines = out.read_text().splitlines()
        assert lines[0] == "#RunID,ClientID,MsgCount,MsgBytes,MsgsPerSec,BytesPerSec,DurationSecs"
        assert [l.split(",")[1] for l in lines[1:]] == ["P0", "P1"]
        assert all(l.split(",")[3] == "160000" for l in lines[1:])


def test_cli_reports_missing_stream_like_nats_bench():
    with Server(REF, jetstream=True) as srv:
        r = _bench("js", "pub", "async", "nostream.x", "-s", srv.url, "--msgs", "10", "--no-progress")
    assert r.returncode == 1
    assert "stream 'benchstream' does not exist, create it with --create" in r.stderr


def test_cli_fails_cleanly_without_a_server():
    with Server(REF, jetstream=False) as srv:
        url = srv.url
    r = _bench("pub", "x", "-s", url, "--msgs", "10", "--no-progress")
    assert r.returncode == 1
    assert "could not connect" in r.stderr


def test_sleep_paces_publishing():
    """--sleep 10ms: at most one message per 10 ms (the rate can only come out lower)."""
    with Server(REF, jetstream=False) as srv:
        r = _bench("pub", "smoke.paced", "-s", srv.url, "--msgs", "20", "--sleep", "10ms", "--no-progress")
        assert r.returncode == 0, r.stderr
        line = next(l for l in r.stdout.splitlines() if "publisher stats" in l)
        rate = float(line.split(":")[1].split("msgs/sec")[0].replace(",", ""))
        assert 0 < rate <= 110, line
        assert "sleep=10ms" in r.stderr


def test_headroom_table_runs(tmp_path):
    """`python -m bench.headroom --go` (quick, one scenario) prints its table and writes its files."""
    md, js = tmp_path / "h.md", tmp_path / "h.json"
    r = subprocess.run([sys.executable, "-m", "bench.headroom", "--quick", "--rounds", "1", "-k", "1->1", "--go",
                        "--markdown", str(md), "--json", str(js)], capture_output=True, text=True, cwd=str(ROOT),
                       timeout=600)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "1->1 16B" in r.stdout and "1.8–1.9M msgs/s" in r.stdout
    row = json.loads(js.read_text())["rows"][0]
    assert row[REF]["rate"] > 0 and row[REF]["ceiling"] > 0
    assert row["nats.go"]["rate"] > 0 and row["nats.go"]["ratio"] > 0
    assert "| 1->1 16B | 1.8–1.9M msgs/s |" in md.read_text()


def test_dedup_sets_a_message_id_per_message():
    """js pub --dedup: Nats-Msg-Id <run>-<client>-<number>, as the nats CLI sets it."""
    with Server(REF, jetstream=True) as srv:
        r = _bench("js", "pub", "async", "smoke.dd", "--stream", "DD", "--create", "--dedup", "--clients", "2",
                   "-s", srv.url, "--msgs", "2000", "--no-progress")
        assert r.returncode == 0, r.stderr
        assert "deduplication=true" in r.stderr
        admin = Session(srv.url)
        try:
            assert admin.js_call("STREAM.INFO.DD")["state"]["messages"] == 2000
            ids = set()
            for seq in (1, 2000):
                msg = admin.js_call("STREAM.MSG.GET.DD", {"seq": seq})["message"]
                hdrs = base64.b64decode(msg["hdrs"]).decode()
                m = re.search(r"Nats-Msg-Id: ([0-9a-f]+)-([01])-(\d+)\r\n", hdrs)
                assert m, hdrs
                ids.add((m.group(2), int(m.group(3))))
        finally:
            admin.close()
    # Client 0 publishes numbers 0..999, client 1 numbers 1000..1999.
    assert ids <= {("0", n) for n in range(1000)} | {("1", n) for n in range(1000, 2000)}
    assert len(ids) == 2


def test_async_publish_reports_batch_latencies():
    """As the nats CLI: one latency per batch of --batch async publishes (send to last ack)."""
    with Server(REF, jetstream=True) as srv:
        r = _bench("js", "pub", "async", "smoke.al", "--stream", "AL", "--create", "--batch", "100", "-s", srv.url,
                   "--msgs", "1000", "--no-progress")
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if "asynchronous publisher stats" in l)
    assert "~ P50: " in line and "~ P99.9: " in line


def test_doubleack_confirms_every_ack():
    """js consume --doubleack: each ack waits for the server's reply; all 1000 end up acked."""
    with Server(REF, jetstream=True) as srv:
        r = _bench("js", "pub", "async", "smoke.da", "--stream", "DA", "--create", "-s", srv.url, "--msgs", "1000",
                   "--no-progress")
        assert r.returncode == 0, r.stderr
        r = _bench("js", "consume", "--stream", "DA", "--doubleack", "--batch", "100", "-s", srv.url,
                   "--msgs", "1000", "--no-progress")
        assert r.returncode == 0, r.stderr
        assert "double-acked=true" in r.stderr
        assert "durable consumer (callback) stats" in r.stdout
        admin = Session(srv.url)
        try:
            info = admin.js_call("CONSUMER.INFO.DA.nats-bench")
        finally:
            admin.close()
    assert info["ack_floor"]["stream_seq"] == 1000
    assert info["num_ack_pending"] == 0


def test_payload_file_and_headers_reach_subscribers(tmp_path):
    """pub --payload FILE -H K:V: every message carries the file's bytes and the headers (HPUB)."""
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"hello from a file")
    with Server(REF, jetstream=False) as srv:
        sub = RawClient("127.0.0.1", srv.port)
        sub.send(b'CONNECT {"verbose":false,"headers":true}\r\nSUB smoke.hdr 1\r\n')
        sub.sync()
        r = _bench("pub", "smoke.hdr", "-s", srv.url, "--msgs", "3", "--payload", str(payload),
                   "-H", "X-A: 1", "--header", "B:two", "--no-progress")
        assert r.returncode == 0, r.stderr
        frames = sub.read_until(lambda b: b.count(b"HMSG ") == 3 and b.endswith(b"hello from a file\r\n"))
    hdr = b"NATS/1.0\r\nX-A: 1\r\nB: two\r\n\r\n"
    body = b"hello from a file"
    expect = b"HMSG smoke.hdr 1 %d %d\r\n%s%s\r\n" % (len(hdr), len(hdr) + len(body), hdr, body)
    assert frames == expect * 3


def test_header_without_colon_is_refused():
    with Server(REF, jetstream=False) as srv:
        r = _bench("pub", "x", "-s", srv.url, "--msgs", "1", "-H", "nocolon", "--no-progress")
    assert r.returncode == 1 and "invalid header 'nocolon'" in r.stderr


def test_batched_direct_get_reads_the_stream():
    """js get batch: batches of --batch from sequence 1, each client its share, until --msgs."""
    with Server(REF, jetstream=True) as srv:
        admin = Session(srv.url)
        try:
            admin.js_call("STREAM.CREATE.GB", {"name": "GB", "subjects": ["smoke.gb"], "allow_direct": True})
            admin.js_call("STREAM.CREATE.ND", {"name": "ND", "subjects": ["smoke.nd"]})
        finally:
            admin.close()
        r = _bench("js", "pub", "async", "smoke.gb", "--stream", "GB", "-s", srv.url, "--msgs", "2500",
                   "--no-progress")
        assert r.returncode == 0, r.stderr
        r = _bench("js", "get", "batch", "--stream", "GB", "--batch", "1000", "--clients", "2", "-s", srv.url,
                   "--msgs", "2500", "--no-progress")
        assert r.returncode == 0, r.stderr
        assert "batch=1,000" in r.stderr and "filter=>" in r.stderr
        assert "JetStream batched direct getter aggregated stats" in r.stdout
        assert "(1,250 msgs)" in r.stdout
        assert "WARNING" not in r.stderr        # 1000 + 250 per client: every batch full
        r = _bench("js", "get", "batch", "--stream", "ND", "-s", srv.url, "--msgs", "10", "--no-progress")
    assert r.returncode == 1 and "stream 'ND' does not allow direct gets" in r.stderr


@contextlib.contextmanager
def _serving(url: str, subject: str, *extra: str):
    """`natsx bench service serve` in the background, once its subscription is in place."""
    serve = subprocess.Popen([sys.executable, "-m", "natsx.loadgen", "service", "serve", subject, "-s", url,
                              "--no-progress", "--duration", "60s", *extra], cwd=str(ROOT), stderr=subprocess.PIPE,
                             text=True)
    try:
        line = " "
        while line and "] Starting" not in line:
            line = serve.stderr.readline()
        assert line, "service serve exited"
        yield serve
    finally:
        serve.terminate()
        serve.wait(10)


def _rate(out: str, what: str) -> float:
    line = next(l for l in out.splitlines() if what in l)
    return float(line.split(":")[1].split("msgs/sec")[0].replace(",", ""))


def test_throughput_and_sleep_pace_publishers_and_requesters():
    """--throughput caps the aggregate rate, --sleep spaces each client's messages (rates can only
    come out lower than asked), for publishers, requesters and JetStream publishers alike."""
    with Server(REF, jetstream=True) as srv:
        r = _bench("pub", "smoke.thr", "-s", srv.url, "--msgs", "400", "--clients", "2", "--throughput", "2000",
                   "--no-progress")
        assert r.returncode == 0, r.stderr
        assert "throughput=2,000" in r.stderr
        assert 0 < _rate(r.stdout, "aggregated stats") <= 2100
        r = _bench("js", "pub", "async", "smoke.thr", "--create", "--batch", "50", "-s", srv.url, "--msgs", "300",
                   "--throughput", "1000", "--no-progress")
        assert r.returncode == 0, r.stderr
        assert 0 < _rate(r.stdout, "publisher stats") <= 1050
        with _serving(srv.url, "smoke.svc"):
            r = _bench("service", "request", "smoke.svc", "-s", srv.url, "--msgs", "20", "--sleep", "10ms",
                       "--no-progress")
        assert r.returncode == 0, r.stderr
        assert 0 < _rate(r.stdout, "requester stats") <= 105


def test_sleep_is_refused_where_nothing_is_paced():
    r = _bench("sub", "x", "--msgs", "1", "--sleep", "1ms", "--no-progress")
    assert r.returncode == 1 and "--sleep is not supported by natsx bench for `sub`" in r.stderr


def test_sleep_in_consumer_and_service_handlers():
    """--sleep in a consumer or a service handler: one message or request handled per interval."""
    with Server(REF, jetstream=True) as srv:
        # 60 messages: consume takes the first 20, fetch (same durable) the next 20, ordered any 20.
        r = _bench("js", "pub", "async", "smoke.hs", "--stream", "HS", "--create", "-s", srv.url, "--msgs", "60",
                   "--no-progress")
        assert r.returncode == 0, r.stderr
        for mode in ("consume", "fetch", "ordered"):
            r = _bench("js", mode, "--stream", "HS", "--sleep", "10ms", "-s", srv.url, "--msgs", "20", "--no-progress")
            assert r.returncode == 0, (mode, r.stderr)
            assert 0 < _rate(r.stdout, "stats") <= 105, (mode, r.stdout)
        with _serving(srv.url, "smoke.hsvc", "--sleep", "10ms"):
            r = _bench("service", "request", "smoke.hsvc", "-s", srv.url, "--msgs", "20", "--no-progress")
        assert r.returncode == 0, r.stderr
        assert 0 < _rate(r.stdout, "requester stats") <= 105


@pytest.mark.parametrize("args", [["js", "pub", "async", "x"], ["js", "consume"], ["js", "get", "batch"]])
def test_batch_of_zero_is_refused(args):
    r = _bench(*args, "--batch", "0", "--msgs", "10", "--no-progress")
    assert r.returncode == 1 and "--batch must be at least 1" in r.stderr


def test_multisubjectrandomize_spreads_subjects():
    with Server(REF, jetstream=False) as srv:
        sub = RawClient("127.0.0.1", srv.port)
        sub.send(b'CONNECT {"verbose":false}\r\nSUB smoke.ms.* 1\r\n')
        sub.sync()
        r = _bench("pub", "smoke.ms", "-s", srv.url, "--msgs", "200", "--size", "1", "--multisubject",
                   "--multisubjectmax", "10", "--multisubjectrandomize", "--no-progress")
        assert r.returncode == 0, r.stderr
        assert "multi-subject-randomize=true" in r.stderr
        frames = sub.read_until(lambda b: b.count(b"MSG ") == 200 and b.endswith(b"\x00\r\n"))
    numbers = [int(l.split()[1].rsplit(b".", 1)[1]) for l in frames.split(b"\r\n") if l.startswith(b"MSG ")]
    assert len(numbers) == 200 and set(numbers) <= set(range(10))
    assert numbers != [i % 10 for i in range(200)]      # not the sequential order


def test_persistasync_creates_an_async_persisted_stream():
    with Server(REF, jetstream=True) as srv:
        r = _bench("js", "pub", "async", "smoke.pa", "--stream", "PA", "--create", "--persistasync", "-s", srv.url,
                   "--msgs", "100", "--no-progress")
        assert r.returncode == 0, r.stderr
        admin = Session(srv.url)
        try:
            info = admin.js_call("STREAM.INFO.PA")
        finally:
            admin.close()
    assert info["config"]["persist_mode"] == "async"
    assert info["state"]["messages"] == 100
