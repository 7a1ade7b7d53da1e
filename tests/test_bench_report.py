"""The report formats of `natsx bench` follow natscli (go-humanize numbers, percentiles, CSV)."""
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
