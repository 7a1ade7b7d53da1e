"""Results as `nats bench` prints them: per-client samples, aggregate, CSV, progress bar.

Formats follow natscli's internal/bench/stats.go (go-humanize number formatting included),
so scripts that read `nats bench` output read ours too.
"""
from __future__ import annotations

import csv
import io
import math
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Optional, TextIO

LABELS = {
    "pub": "Core NATS publisher",
    "sub": "Core NATS subscriber",
    "request": "Core NATS service requester",
    "reply": "Core NATS service server",
    "jsyncpub": "JetStream synchronous publisher",
    "jsasyncpub": "JetStream asynchronous publisher",
    "jsbatchpub": "JetStream batched publisher",
    "jsordered": "JetStream ordered ephemeral consumer",
    "jsconsume": "JetStream durable consumer (callback)",
    "jsfetch": "JetStream durable consumer (fetch)",
    "jsgetdirectsync": "JetStream synchronous getter",
    "jsgetdirectbatch": "JetStream batched direct getter",
    "kvput": "JetStream KV putter",
    "kvget": "JetStream KV getter",
}
PUB_TYPES = {"pub", "jsyncpub", "jsasyncpub", "jsbatchpub", "kvput", "request"}


# ---------------------------------------------------------------- go-humanize equivalents

def comma(v: int) -> str:
    return f"{int(v):,}"


def ibytes(s: float) -> str:
    s = int(s)
    if s < 10:
        return f"{s} B"
    sizes = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    e = int(math.floor(math.log(s) / math.log(1024)))
    val = math.floor(s / 1024 ** e * 10 + 0.5) / 10
    return (f"{val:.1f} {sizes[e]}" if val < 10 else f"{val:.0f} {sizes[e]}")


def commaf2(f: float) -> str:
    """humanize.CommafWithDigits(f, 2): shortest decimal form, truncated to 2 digits."""
    r = repr(float(f))
    if "e" in r or "inf" in r or "nan" in r:
        r = f"{f:.6f}"
    neg = r.startswith("-")
    if neg:
        r = r[1:]
    whole, _, frac = r.partition(".")
    if frac == "0":
        frac = ""
    out = f"{int(whole):,}"
    if frac:
        out += "." + frac[:2]
    return ("-" if neg else "") + out


# ---------------------------------------------------------------- samples

@dataclass
class Sample:
    """One client's run: how many messages, their size, when, and per-operation latencies (ns)."""
    job_msgs: int
    msg_size: int
    start_ns: int
    end_ns: int
    io_msgs: int = 0
    latencies: list = field(default_factory=list)

    def __post_init__(self):
        self.latencies = sorted(self.latencies)

    @property
    def msg_bytes(self) -> int:
        return self.msg_size * self.job_msgs

    def duration(self) -> float:
        return max(self.end_ns - self.start_ns, 1) / 1e9

    def rate(self) -> int:
        return int(self.job_msgs / self.duration())

    def throughput(self) -> float:
        return self.msg_bytes / self.duration()

    def __str__(self) -> str:
        base = f"{comma(self.rate())} msgs/sec ~ {ibytes(self.throughput())}/sec"
        if not self.latencies:
            return base
        lat = self.latencies
        return (base + f" ~ min: {commaf2(min_lat(lat))}us ~ avg: {commaf2(avg_lat(lat))}us"
                f" ~ max: {commaf2(max_lat(lat))}us ~ P50: {commaf2(pct_lat(lat, 50))}us"
                f" ~ P90: {commaf2(pct_lat(lat, 90))}us ~ P99: {commaf2(pct_lat(lat, 99))}us"
                f" ~ P99.9: {commaf2(pct_lat(lat, 99.9))}us")


def min_lat(lat: list) -> float:
    return lat[0] / 1000.0 if lat else 0.0


def max_lat(lat: list) -> float:
    return lat[-1] / 1000.0 if lat else 0.0


def avg_lat(lat: list) -> float:
    return sum(lat) / len(lat) / 1000.0 if lat else 0.0


def pct_lat(lat: list, p: float) -> float:
    if not lat:
        return 0.0
    return lat[max(0, int(math.ceil(p / 100 * len(lat))) - 1)] / 1000.0


def std_lat(lat: list) -> float:
    if not lat:
        return 0.0
    # natscli subtracts the average in µs from values in ns; keep the sane definition.
    avg = sum(lat) / len(lat)
    return math.sqrt(sum((x - avg) ** 2 for x in lat) / len(lat)) / 1000.0


class Benchmark:
    """All samples of one run and their aggregate (natscli's BenchmarkResults)."""

    def __init__(self, bench_type: str, name: str = "NATS"):
        self.name = name
        self.bench_type = bench_type
        self.run_id = secrets.token_hex(11).upper()
        self.samples: list[Sample] = []

    def add(self, s: Sample) -> None:
        self.samples.append(s)

    @property
    def label(self) -> str:
        return LABELS.get(self.bench_type, "Unknown benchmark")

    def aggregate(self) -> Sample:
        s = self.samples
        lat = [x for sm in s for x in sm.latencies]
        agg = Sample(sum(x.job_msgs for x in s), 0, min(x.start_ns for x in s), max(x.end_ns for x in s),
                     sum(x.io_msgs for x in s), lat)
        agg.msg_size = 0
        self._agg_bytes = sum(x.msg_bytes for x in s)
        return agg

    def rate(self) -> int:
        """Aggregate msgs/s: all clients' messages over the span from first start to last end."""
        return self.aggregate().rate() if self.samples else 0

    def throughput(self) -> float:
        agg = self.aggregate()
        return sum(x.msg_bytes for x in self.samples) / agg.duration()

    def latencies(self) -> list:
        return sorted(x for sm in self.samples for x in sm.latencies)

    def report(self) -> str:
        if not self.samples or self.bench_type == "reply":
            return "No publisher or subscribers. Nothing to report."
        out = io.StringIO()
        agg = self.aggregate()
        rate, tput = agg.rate(), self.throughput()
        if len(self.samples) == 1:
            whole = Sample(agg.job_msgs, self.samples[0].msg_size, agg.start_ns, agg.end_ns, agg.io_msgs,
                           agg.latencies)
            out.write(f"{self.name} {self.label} stats: {whole}\n")
            return out.getvalue()
        for i, s in enumerate(self.samples):
            out.write(f"  [{i + 1}] {s} ({comma(s.job_msgs)} msgs)\n")
        out.write(f"\n {self.name} {self.label} aggregated stats: {comma(rate)} msgs/sec ~ {ibytes(tput)}/sec\n")
        rates = [s.rate() for s in self.samples]
        avg = int(sum(rates) / len(rates))
        std = math.sqrt(sum((r - avg) ** 2 for r in rates) / len(rates))
        out.write(f" message rates min {comma(min(rates))} | avg {comma(avg)} | max {comma(max(rates))}"
                  f" | stddev {comma(int(std))} msgs\n")
        lat = agg.latencies
        if lat:
            out.write(f" latencies per operation min {commaf2(min_lat(lat))}us | avg {commaf2(avg_lat(lat))}us"
                      f" | max {commaf2(max_lat(lat))}us | stddev {commaf2(std_lat(lat))}us"
                      f" | P50 {commaf2(pct_lat(lat, 50))}us | P90 {commaf2(pct_lat(lat, 90))}us"
                      f" | P99 {commaf2(pct_lat(lat, 99))}us | P99.9: {commaf2(pct_lat(lat, 99.9))}us\n")
        return out.getvalue()

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        has_lat = any(s.latencies for s in self.samples)
        head = ["#RunID", "ClientID", "MsgCount", "MsgBytes", "MsgsPerSec", "BytesPerSec", "DurationSecs"]
        if has_lat:
            head += ["MinLatencyMicroSecs", "AvgLatencyMicroSecs", "MaxLatencyMicroSecs", "P50LatencyMicroSecs",
                     "P90LatencyMicroSecs", "P99LatencyMicroSecs", "P99.9LatencyMicroSecs",
                     "StdDevLatencyMicroSecs"]
        w.writerow(head)
        pre = "P" if self.bench_type in PUB_TYPES else "S"
        for j, s in enumerate(self.samples):
            row = [self.run_id, f"{pre}{j}", str(s.io_msgs), str(s.msg_bytes), str(s.rate()),
                   f"{s.throughput():f}", f"{s.duration():f}"]
            if has_lat:
                lat = s.latencies
                row += [f"{v:f}" for v in (min_lat(lat), avg_lat(lat), max_lat(lat), pct_lat(lat, 50),
                                           pct_lat(lat, 90), pct_lat(lat, 99), pct_lat(lat, 99.9),
                                           std_lat(lat))]
            w.writerow(row)
        return buf.getvalue()


# ---------------------------------------------------------------- log lines and progress

def log(msg: str, stream: Optional[TextIO] = None) -> None:
    stream = stream or sys.stderr
    stream.write(time.strftime("%H:%M:%S ") + msg + "\n")
    stream.flush()


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, enabled: bool, total: int, state: str, stream: Optional[TextIO] = None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty() and total > 0
        self.total = total
        self.state = state
        self.t0 = time.monotonic()

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        width = 40
        frac = min(1.0, done / self.total)
        fill = int(frac * width)
        bar = "=" * fill + (">" if fill < width else "") + "-" * max(0, width - fill - 1)
        elapsed = int(time.monotonic() - self.t0)
        self.stream.write(f"\r{self.state:<10} {elapsed:>3}s [{bar}] {int(frac * 100):>3}%")
        self.stream.flush()

    def finish(self, done: int) -> None:
        if self.enabled:
            self.state = "Finished"
            self.update(done)
            self.stream.write("\n")
            self.stream.flush()
