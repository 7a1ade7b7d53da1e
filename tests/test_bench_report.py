"""The report formats of `natsx bench` follow natscli (go-humanize numbers, percentiles, CSV), and
those of the side-by-side suite (bench.compare) carry the server-CPU figures."""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compare import HEAD, markdown, rst_grid, summarize, table_rows, to_csv  # noqa: E402
from bench.servers import NATSX, REF, process_cpu_seconds  # noqa: E402
from bench.suite import BY_NAME  # noqa: E402
from natsx.loadgen.cli import parse_duration, parse_size
from natsx.loadgen.report import Benchmark, Sample, commaf2, ibytes, pct_lat
from natsx.loadgen.scenarios import msgs_per_client


def test_humanize_like_go():
    assert ibytes(16) == "16 B"
    assert ibytes(5) == "5 B"
    assert ibytes(79 * 1024 * 1024 + 1000) == "79 MiB"
    assert ibytes(1536) == "1.5 KiB"
    assert commaf2(1234.5678) == "1,234.56"
    assert commaf2(100.0) == "100"
    assert commaf2(0.5) == "0.5"


def test_sizes_durations_and_split():
    assert parse_size("16B") == 16 and parse_size("16KB") == 16384 and parse_size("128") == 128
    assert parse_size("1GB") == 1 << 30
    assert parse_duration("0s") == 0 and abs(parse_duration("1m30s") - 90) < 1e-9
    assert abs(parse_duration("100us") - 1e-4) < 1e-12
    assert msgs_per_client(10, 3) == [4, 3, 3]


def test_percentiles_and_single_client_line():
    lat = [1000 * i for i in range(1, 101)]   # 1..100 µs
    assert pct_lat(lat, 50) == 50.0 and pct_lat(lat, 99.9) == 100.0
    bm = Benchmark("request")
    bm.add(Sample(1000, 16, 0, 500_000_000, 2000, lat))
    line = bm.report()
    assert line.startswith("NATS Core NATS service requester stats: 2,000 msgs/sec ~ 31 KiB/sec ~ min: 1us")
    assert "~ P50: 50us ~ P90: 90us ~ P99: 99us ~ P99.9: 100us" in line
    assert bm.csv().splitlines()[0].endswith("P99.9LatencyMicroSecs,StdDevLatencyMicroSecs")


def _run(rate: int, cpu_s: float, msgs: int = 2_000_000) -> dict:
    return {"rate": rate, "p50_us": None, "server_cpu_s": cpu_s, "server_msgs": msgs}


def test_compare_reports_server_cpu_per_million_messages():
    """Per round: CPU s / --msgs * 1e6; the row gives each server's median and the median of the
    per-round ratios nats-server CPU / natsx CPU (above 1: natsx spends less per message)."""
    runs = {NATSX: [_run(3_000_000, 0.4), _run(2_000_000, 0.6), _run(2_500_000, 0.5)],
            REF: [_run(1_000_000, 1.6), _run(1_200_000, 1.2), _run(1_100_000, 2.0)]}
    row = summarize(BY_NAME["1->1 16B"], runs, {}, "go")
    assert row[NATSX]["server_cpu_per_1m"] == 0.25 and row[REF]["server_cpu_per_1m"] == 0.8
    assert (row["cpu_ratio_min"], row["cpu_ratio"], row["cpu_ratio_max"]) == (2.0, 4.0, 4.0)
    assert round(row["ratio"], 3) == 2.273 and row["generator"] == "go"
    cells = table_rows([row])[0]
    assert dict(zip(HEAD, cells))["natsx CPU s / 1M msgs"] == "0.25"
    assert dict(zip(HEAD, cells))["nats-server CPU s / 1M msgs"] == "0.80"
    assert cells[-1] == "4.00× (2.00–4.00)"
    grid = rst_grid(["a", "bb"], [["1", "2"], ["333", "4"]]).splitlines()
    assert grid == ["+-----+----+", "| a   | bb |", "+=====+====+", "| 1   | 2  |", "+-----+----+",
                    "| 333 | 4  |", "+-----+----+"]
    line = to_csv([row]).splitlines()[1].split(",")
    assert line[:2] == ["1->1 16B", "go"] and "0.25" in line and "0.8" in line


def test_markdown_says_which_generator_and_what_the_cpu_column_counts():
    row = summarize(BY_NAME["publish 16B"], {NATSX: [_run(5_000_000, 0.2)], REF: [_run(4_000_000, 1.0)]}, {})
    meta = {"date": "2026-12-04", "machine": "m", "nats_server": "v2.15.1", "command": "python -m bench.compare",
            "rounds": 1, "generator": "natsx bench (python -m natsx.loadgen, natsx/loadgen/)"}
    text = markdown([row, {"scenario": "KV put", "unsupported": "no nats.go reference program runs it"}], meta)
    assert "Generator: natsx bench (python -m natsx.loadgen, natsx/loadgen/)." in text
    assert "per million of the scenario's messages (its --msgs)" in text
    assert "| publish 16B | 5,000,000 | 0.10 | 4,000,000 | 0.50 | 1.25× (1.25–1.25) | 5.00× (5.00–5.00) |" in text
    assert "| KV put | n/a | n/a | n/a | n/a | n/a | n/a |" in text
    assert "n/a with this generator (no nats.go reference program runs it): KV put." in text


def test_process_cpu_seconds_reads_utime_and_stime():
    start = time.process_time()
    while time.process_time() - start < 0.2:
        pass
    # /proc counts whole 10 ms ticks; process_time() is exact.
    assert abs(process_cpu_seconds(os.getpid()) - time.process_time()) < 0.05
