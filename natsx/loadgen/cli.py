"""`natsx bench ...`: the nats CLI's `nats bench` command tree, flags and output."""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Optional

from natsx.loadgen.session import BenchError, server_url
from natsx.loadgen.report import Benchmark, avg_lat, comma, ibytes, log, pct_lat
from natsx.loadgen import scenarios as sc
from natsx.gofmt import go_duration

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
          "tib": 1 << 40}
_DUR = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_size(text: str) -> int:
    """16, 16B, 16KB, 1GB, 1MiB (powers of 1024, as the nats CLI reads them)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"can not parse or invalid the value specified for the size: {text}")
    v = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if v <= 0:
        raise argparse.ArgumentTypeError(f"invalid size: {text}")
    return v


def parse_duration(text: str) -> float:
    """Go durations: 0s, 100us, 1.5ms, 2m, 1h30m."""
    if text.strip() in ("0", ""):
        return 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text.strip():
        raise argparse.ArgumentTypeError(f"invalid duration: {text}")
    return sum(float(a) * _DUR[b] for a, b in parts)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--server", help="NATS server URL (default $NATS_URL or nats://127.0.0.1:4222)")
    p.add_argument("--clients", type=int, default=1, help="Number of concurrent clients")
    p.add_argument("--msgs", type=int, default=100_000, help="Number of messages to publish or subscribe to")
    p.add_argument("--size", type=parse_size, default=128, help="Size of the test messages (e.g. 16B, 16KB)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="Enable or disable the progress bar")
    p.add_argument("--csv", help="Save benchmark data to CSV file")
    p.add_argument("--json", help=argparse.SUPPRESS)   # the suite's machine-readable result
    p.add_argument("--sleep", type=parse_duration, default=0.0,
                   help="Sleep for the specified interval between publications or requests, e.g. 10ms")


def _pubflags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--multisubject", action="store_true",
                   help="Multi-subject mode, each message is published on a subject that includes the "
                        "publisher's message sequence number as a token")
    p.add_argument("--multisubjectmax", type=int, default=100_000,
                   help="The maximum number of subjects to use in multi-subject mode (0 means no max)")
    p.add_argument("--multisubjectrandomize", action="store_true",
                   help="Randomize which subjects are being used when in multisubject mode")
    _payloadflags(p)
    _throughputflag(p)


def _throughputflag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--throughput", type=int, default=0,
                   help="If set > 0, throttle aggregate message send throughput to approximately THROUGHPUT "
                        "messages/second across all clients (0 disables)")


def _payloadflags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--payload", dest="payload_file", default="", help="File containing a message payload to send")
    p.add_argument("-H", "--header", dest="headers", action="append", default=[],
                   help="Adds headers to the message using K:V format")


def _jsflags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stream", default="benchstream", help="The name of the stream to create or use")
    p.add_argument("--js-timeout", type=parse_duration, default=30.0, help="Timeout for JS operations")
    p.add_argument("--purge", action="store_true", help="Purge the stream before running")


def _jspubflags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--create", action="store_true", help="Create or update the stream first")
    p.add_argument("--storage", choices=["memory", "file"], default="file", help="JetStream storage")
    p.add_argument("--replicas", type=int, default=1, help="Number of replicas for the stream")
    p.add_argument("--maxbytes", type=parse_size, default=1 << 30, help="Maximum size of the stream")
    p.add_argument("--dedup", action="store_true",
                   help="Sets a message id in the header to use JS Publish de-duplication")
    p.add_argument("--dedupwindow", type=parse_duration, default=120.0, help="Deduplication window")
    p.add_argument("--persistasync", action="store_true",
                   help="Set the persistence mode for the stream to asynchronous (only for R1 streams)")


def _consumerflags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--consumer", default="nats-bench", help="The durable consumer name to use")
    p.add_argument("--batch", type=int, default=500, help="Max number of messages buffered in the client")
    p.add_argument("--acks", choices=["explicit", "none", "all"], default="explicit",
                   help="Acknowledgement mode for the consumer")
    p.add_argument("--doubleack", action="store_true",
                   help="Synchronously acknowledge messages, waiting for a reply from the server")
    p.add_argument("--filter", action="append", default=[], help="Filter the stream by subjects")


def add_bench_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `bench` command tree to a subparsers object; returns the `bench` parser."""
    bench = subparsers.add_parser("bench", help="Benchmark utility (like `nats bench`)")
    sub = bench.add_subparsers(dest="bench_cmd", required=True, metavar="COMMAND")

    p = sub.add_parser("pub", help="Publish Core NATS messages")
    p.add_argument("subject")
    _common(p)
    _pubflags(p)
    p.set_defaults(bench_type="pub")

    p = sub.add_parser("sub", help="Subscribe to Core NATS messages")
    p.add_argument("subject")
    _common(p)
    p.add_argument("--multisubject", action="store_true", help="Subscribe to SUBJECT.*")
    p.add_argument("--queue", default="", help="Join this queue group; the clients share --msgs (natsx extension)")
    p.set_defaults(bench_type="sub")

    svc = sub.add_parser("service", help="Micro-service mode").add_subparsers(dest="svc_cmd", required=True)
    p = svc.add_parser("request", help="Send a request and wait for its reply")
    p.add_argument("subject")
    _common(p)
    p.add_argument("--timeout", type=parse_duration, default=5.0, help="Request timeout")
    _payloadflags(p)
    _throughputflag(p)
    p.set_defaults(bench_type="request")
    p = svc.add_parser("serve", help="Service requests")
    p.add_argument("subject")
    _common(p)
    p.add_argument("--duration", type=parse_duration, default=0.0, help="Stop serving after this long")
    p.set_defaults(bench_type="reply")

    js = sub.add_parser("js", help="JetStream benchmark commands").add_subparsers(dest="js_cmd", required=True)
    jspub = js.add_parser("pub", help="Publish JetStream messages").add_subparsers(dest="jspub_cmd", required=True)
    for mode, hlp in (("sync", "Use synchronous JetStream publish"),
                      ("async", "Use asynchronous JetStream publish"),
                      ("batch", "Use batch (atomic) JetStream publish")):
        p = jspub.add_parser(mode, help=hlp)
        p.add_argument("subject")
        _common(p)
        _pubflags(p)
        _jsflags(p)
        _jspubflags(p)
        if mode != "sync":
            p.add_argument("--batch", type=int, default=500,
                           help="Operations per batch" if mode == "async" else "Size of the batches")
        p.set_defaults(bench_type={"sync": "jsyncpub", "async": "jsasyncpub", "batch": "jsbatchpub"}[mode])
    p = js.add_parser("ordered", help="Consume from an ephemeral ordered consumer")
    _common(p)
    _jsflags(p)
    p.add_argument("--batch", type=int, default=500, help="Max number of messages buffered in the client")
    p.add_argument("--filter", action="append", default=[], help="Filter the stream by subjects")
    p.set_defaults(bench_type="jsordered")
    for name, hlp in (("consume", "Consume from a durable consumer using a callback"),
                      ("fetch", "Consume from a durable consumer using fetch")):
        p = js.add_parser(name, help=hlp)
        _common(p)
        _jsflags(p)
        _consumerflags(p)
        p.set_defaults(bench_type="js" + name)
    get = js.add_parser("get", help="Retrieve messages using gets").add_subparsers(dest="get_cmd", required=True)
    p = get.add_parser("sync", help="Use synchronous JetStream (direct) get")
    _common(p)
    _jsflags(p)
    p.set_defaults(bench_type="jsgetdirectsync")
    p = get.add_parser("batch", help="Use batched JetStream direct get")
    _common(p)
    _jsflags(p)
    p.add_argument("--batch", type=int, default=500, help="Sets the max number of messages that can be buffered "
                                                          "in the client")
    p.add_argument("--filter", dest="get_filter", default=">", help="Filter for the messages")
    p.set_defaults(bench_type="jsgetdirectbatch")

    kv = sub.add_parser("kv", help="KV benchmark operations").add_subparsers(dest="kv_cmd", required=True)
    for name in ("put", "get"):
        p = kv.add_parser(name, help=f"{name.capitalize()} messages in a KV bucket")
        _common(p)
        p.add_argument("--bucket", default="benchbucket", help="The bucket to use for the benchmark")
        if name == "put":
            p.add_argument("--storage", choices=["memory", "file"], default="file", help="JetStream storage")
            p.add_argument("--replicas", type=int, default=1, help="Number of replicas for the bucket")
            p.add_argument("--maxbytes", type=parse_size, default=1 << 30, help="Maximum size of the bucket")
            p.add_argument("--history", type=int, default=1, help="History depth for the bucket")
            p.add_argument("--purge", action="store_true", help="Delete the bucket before running")
            _throughputflag(p)
        else:
            p.add_argument("--randomize", type=int, default=0,
                           help="Random keys between 0 and this number (0: sequential)")
        p.set_defaults(bench_type="kv" + name)
    return bench


def options_from(args: argparse.Namespace) -> sc.Options:
    o = sc.Options()
    for name in ("subject", "clients", "msgs", "size", "progress", "multisubject", "multisubjectmax",
                 "multisubjectrandomize", "sleep", "throughput",
                 "batch", "acks", "storage", "replicas", "purge", "create", "stream", "consumer", "bucket",
                 "maxbytes", "history", "randomize", "dedup", "dedupwindow", "doubleack", "filter", "js_timeout",
                 "payload_file", "headers", "get_filter", "persistasync"):
        if getattr(args, name, None) is not None:
            setattr(o, name, getattr(args, name))
    o.queue = getattr(args, "queue", "")
    o.url = server_url(args.server)
    o.request_timeout = getattr(args, "timeout", 5.0)
    o.serve_seconds = getattr(args, "duration", 0.0)
    return o


def _banner(t: str, args: argparse.Namespace, o: sc.Options) -> str:
    from natsx.loadgen.report import LABELS
    kv = {"msgs": comma(o.msgs), "msg-size": ibytes(o.size), "clients": comma(o.clients)}
    if t in ("pub", "sub", "jsyncpub", "jsasyncpub", "jsbatchpub"):
        kv["subject"] = sc.sub_subject(o)
        kv["multi-subject"] = str(o.multisubject).lower()
    if t in ("pub", "jsyncpub", "jsasyncpub", "jsbatchpub"):
        kv["multi-subject-max"] = comma(o.multisubjectmax)
        kv["multi-subject-randomize"] = str(o.multisubjectrandomize).lower()
    if o.throughput > 0 and t in PACED:
        kv["throughput"] = comma(o.throughput)
    if t in ("request", "reply"):
        kv["subject"] = o.subject
    if t.startswith("js"):
        kv["stream"] = o.stream
        if not t.startswith("jsget"):
            kv["purge"] = str(o.purge).lower()
    if t in ("jsasyncpub", "jsbatchpub", "jsconsume", "jsfetch", "jsgetdirectbatch"):
        kv["batch"] = comma(o.batch)
    if t == "jsgetdirectbatch":
        kv["filter"] = o.get_filter
    if t in ("jsconsume", "jsfetch"):
        kv["consumer"] = o.consumer
        kv["acks"] = o.acks
        kv["double-acked"] = str(o.doubleack).lower()
    if t.startswith("kv"):
        kv["bucket"] = o.bucket
    if o.create:
        kv.update({"storage": o.storage, "replicas": str(o.replicas), "max-bytes": comma(o.maxbytes)})
        if not t.startswith("kv"):
            kv.update({"deduplication": str(o.dedup).lower(),
                       "dedup-window": go_duration(int(round(o.dedupwindow * 1e9)))})
    if t not in ("sub",):
        kv["sleep"] = go_duration(int(round(o.sleep * 1e9)))
    body = ", ".join(f"{k}={v}" for k, v in sorted(kv.items()))
    return f"Starting {LABELS.get(t, 'Unknown')} benchmark [{body}]"


def result_json(bm: Benchmark, cpu_s: float) -> dict:
    """The suite's result: aggregates, latency percentiles, and the CPU seconds this process spent
    on the run (what tells whether the generator or the server was the limit)."""
    lat = bm.latencies()
    return {"type": bm.bench_type, "cpu_s": cpu_s, "clients": len(bm.samples),
            "msgs": sum(s.job_msgs for s in bm.samples),
            "rate": bm.rate(), "throughput": bm.throughput(),
            "client_rates": [s.rate() for s in bm.samples],
            "p50_us": pct_lat(lat, 50) if lat else None, "p90_us": pct_lat(lat, 90) if lat else None,
            "p99_us": pct_lat(lat, 99) if lat else None, "avg_us": avg_lat(lat) if lat else None}


def dispatch(t: str, o: sc.Options) -> Benchmark:
    if t == "pub":
        return sc.core_pub(o)
    if t == "sub":
        return sc.core_sub(o)
    if t == "request":
        return sc.service_request(o)
    if t == "reply":
        return sc.service_serve(o)
    if t in ("jsyncpub", "jsasyncpub", "jsbatchpub"):
        return sc.js_pub(o, {"jsyncpub": "sync", "jsasyncpub": "async", "jsbatchpub": "batch"}[t])
    if t in ("jsordered", "jsconsume", "jsfetch"):
        return sc.js_consume(o, t[2:])
    if t == "jsgetdirectsync":
        return sc.js_get(o)
    if t == "jsgetdirectbatch":
        return sc.js_get_batch(o)
    if t == "kvput":
        return sc.kv_put(o)
    if t == "kvget":
        return sc.kv_get(o)
    raise BenchError(f"unknown benchmark {t}")


# The benchmarks whose messages --sleep and --throughput pace.
PACED = ("pub", "request", "jsyncpub", "jsasyncpub", "jsbatchpub", "kvput")
# The benchmarks that work in --batch sized groups (0 would never send or pull anything).
BATCHED = ("jsasyncpub", "jsbatchpub", "jsordered", "jsconsume", "jsfetch", "jsgetdirectbatch")


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark the parsed `bench ...` arguments describe; returns the exit code."""
    t = args.bench_type
    o = options_from(args)
    if o.msgs <= 0:
        print("natsx: error: number of messages should be greater than 0", file=sys.stderr)
        return 1
    if o.batch < 1 and t in BATCHED:
        print("natsx: error: --batch must be at least 1", file=sys.stderr)
        return 1
    unpaced = {"sub": "sub", "jsgetdirectbatch": "js get batch"}
    if o.sleep and t in unpaced:
        print(f"natsx: error: --sleep is not supported by natsx bench for `{unpaced[t]}`", file=sys.stderr)
        return 1
    log(_banner(t, args, o))
    cpu0 = time.process_time()
    try:
        bm = dispatch(t, o)
    except BenchError as e:
        print(f"natsx: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print()
    print(bm.report())
    if args.csv and bm.samples:
        with open(args.csv, "w") as f:
            f.write(bm.csv())
        print(f"Saved metric data in csv file {args.csv}")
    if getattr(args, "json", None) and bm.samples:
        with open(args.json, "w") as f:
            json.dump(result_json(bm, time.process_time() - cpu0), f)
    return 0


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="natsx")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench"] + list(sys.argv[1:] if argv is None else argv))
    return run_bench(args)
