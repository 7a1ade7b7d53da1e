"""The `nats bench` scenarios: set connections up, hand them to the hot loop, collect samples."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from natsx.loadgen import _loop as lg
from natsx.loadgen.session import BenchError, Session, connect
from natsx.loadgen.report import LABELS, Benchmark, Progress, Sample, comma, log

# A run fails when no client makes progress for this long (a lost message, a dead server).
STALL_SECONDS = 30.0


@dataclass
class Options:
    """Everything a scenario reads; the CLI fills it from flags, the suite from keywords."""
    url: str = "nats://127.0.0.1:4222"
    subject: str = ""
    clients: int = 1
    msgs: int = 100_000
    size: int = 128
    progress: bool = True
    multisubject: bool = False
    multisubjectmax: int = 100_000
    multisubjectrandomize: bool = False
    sleep: float = 0.0             # a pause after each message sent, or in the handler of each received
    throughput: int = 0            # publishers and requesters: aggregate msgs/s across the clients (0: off)
    batch: int = 500
    acks: str = "explicit"
    storage: str = "file"
    replicas: int = 1
    purge: bool = False
    create: bool = False
    stream: str = "benchstream"
    consumer: str = "nats-bench"
    bucket: str = "benchbucket"
    maxbytes: int = 1 << 30
    history: int = 1
    randomize: int = 0
    dedup: bool = False            # js pub: a Nats-Msg-Id header on every message
    dedupwindow: float = 120.0
    persistasync: bool = False     # js pub --create: the stream's persist_mode is "async" (R1 only)
    doubleack: bool = False        # js consume/fetch: every ack waits for the server's confirmation
    filter: list = field(default_factory=list)
    js_timeout: float = 30.0
    request_timeout: float = 5.0
    serve_seconds: float = 0.0     # service serve: stop after this long (0: until interrupted)
    queue: str = ""                # sub: join this queue group; the clients share --msgs
    payload_file: str = ""         # pub/request: send this file's contents instead of --size zero bytes
    headers: list = field(default_factory=list)   # pub/request: "K:V" headers on every message
    get_filter: str = ">"          # js get batch: next_by_subj


def msgs_per_client(n: int, clients: int) -> list[int]:
    """nats.go bench.MsgsPerClient: an even split, the remainder to the first clients."""
    if clients <= 0:
        return []
    base, extra = divmod(n, clients)
    return [base + (1 if i < extra else 0) for i in range(clients)]


def _offsets(counts: list[int]) -> list[int]:
    out, pos = [], 0
    for c in counts:
        out.append(pos)
        pos += c
    return out


def _drive(conns: list[Session], progress: Progress, count: Callable[[], int], started: Callable[[], bool],
           total: int = 0):
    """Run the hot loop over all connections until done (or until `count()` reaches `total`);
    fail on server errors or a stall."""
    clients = [c.c for c in conns]
    last, last_t = -1, time.monotonic()
    while not lg.run(clients, 0.05 if total else 0.25):
        if total and count() >= total:
            break
        for c in clients:
            if c.errors:
                raise BenchError(f"server error: {c.errors[-1]}")
            if c.failures:
                raise BenchError(f"{c.failures} error replies (first checks: is the stream/bucket/service there?)")
        done = count()
        progress.update(done)
        now = time.monotonic()
        if done != last:
            last, last_t = done, now
        elif started() and now - last_t > STALL_SECONDS:
            raise BenchError(f"no progress for {STALL_SECONDS:.0f}s ({comma(done)} messages done)")
    progress.finish(count())
    for c in clients:
        if c.failures:
            raise BenchError(f"{c.failures} error replies")


def _payload(o: Options) -> bytes:
    """--payload FILE's contents, else --size zero bytes (as the nats CLI)."""
    if o.payload_file:
        try:
            with open(o.payload_file, "rb") as f:
                return f.read()
        except OSError as e:
            raise BenchError(f"reading the payload file: {e}") from None
    return bytes(o.size)


def _header_lines(o: Options) -> bytes:
    """--header K:V flags as "K: V\r\n" lines (the nats CLI's ParseStringsToHeader, without
    its Go templates)."""
    out = []
    for h in o.headers:
        key, sep, value = h.partition(":")
        if not sep:
            raise BenchError(f"invalid header {h!r}")
        if "{{" in value:
            raise BenchError(f"header templates are not supported: {h!r}")
        out.append(f"{key.strip()}: {value.strip()}\r\n")
    return "".join(out).encode()


def _apply_subject(c, o: Options, subject: str) -> None:
    if o.multisubject:
        c.suffix = True
        c.suffix_mod = o.multisubjectmax
        c.suffix_width = len(str(o.multisubjectmax)) if o.multisubjectmax else 0
        c.suffix_random = o.multisubjectrandomize


def _apply_pacing(c, o: Options) -> None:
    """--sleep and --throughput, enforced per frame (per handled message for receivers) in the C loop."""
    c.pace_ns = int(o.sleep * 1e9)
    c.rate_ns = int(1e9 * o.clients / o.throughput) if o.throughput > 0 else 0


def sub_subject(o: Options) -> str:
    return o.subject + ".*" if o.multisubject else o.subject


def _close(conns: list[Session]) -> None:
    for c in conns:
        c.close()


# ---------------------------------------------------------------- core NATS

def core_pub(o: Options) -> Benchmark:
    bm = Benchmark("pub")
    counts = msgs_per_client(o.msgs, o.clients)
    conns = connect(o.url, o.clients)
    try:
        for i, (conn, n, off) in enumerate(zip(conns, counts, _offsets(counts))):
            log(f"[{i + 1}] Starting {LABELS['pub']}, publishing {comma(n)} messages")
            c = conn.c
            c.set_template(o.subject.encode(), b"", _payload(o), _header_lines(o))
            _apply_subject(c, o, o.subject)
            c.offset = off
            _apply_pacing(c, o)
            c.start(lg.ROLE_PUB, n)
        prog = Progress(o.progress, o.msgs, "Publishing")
        _drive(conns, prog, lambda: sum(x.c.sent for x in conns), lambda: True)
        for conn, n in zip(conns, counts):
            if n:
                bm.add(Sample(n, o.size, conn.c.start_ns, conn.c.end_ns, n))
    finally:
        _close(conns)
    return bm


def core_sub(o: Options, ready: Optional[Callable[[], None]] = None) -> Benchmark:
    bm = Benchmark("sub")
    conns = connect(o.url, o.clients)
    # In a queue group the clients share the messages: done when all of them together got --msgs.
    each = (1 << 62) if o.queue else o.msgs
    try:
        for i, conn in enumerate(conns):
            conn.subscribe_data(sub_subject(o), o.queue)
            conn.flush()
            conn.c.track_last = bool(o.queue)
            conn.c.start(lg.ROLE_SUB, each)
            log(f"[{i + 1}] Starting {LABELS['sub']}, expecting {comma(o.msgs)} messages")
        if ready:
            ready()
        prog = Progress(o.progress, o.msgs * (1 if o.queue else o.clients), "Receiving")
        _drive(conns, prog, lambda: sum(x.c.received for x in conns),
               lambda: any(x.c.received for x in conns), o.msgs if o.queue else 0)
        for conn in conns:
            c = conn.c
            if o.queue:
                if c.received:
                    bm.add(Sample(c.received, o.size, c.start_ns, c.last_ns, c.received))
            else:
                bm.add(Sample(o.msgs, o.size, c.start_ns, c.end_ns, c.received))
    finally:
        _close(conns)
    return bm


def service_serve(o: Options, ready: Optional[Callable[[], None]] = None) -> Benchmark:
    conns = connect(o.url, o.clients)
    try:
        for i, conn in enumerate(conns):
            conn.subscribe_data(o.subject, "q")
            conn.flush()
            _apply_pacing(conn.c, o)                 # the handler sleeps before each reply
            conn.c.start(lg.ROLE_SERVE, 0)
            log(f"[{i + 1}] Starting {LABELS['reply']}, hit control-c to stop")
        if ready:
            ready()
        clients = [c.c for c in conns]
        t_end = time.monotonic() + o.serve_seconds if o.serve_seconds > 0 else None
        try:
            while t_end is None or time.monotonic() < t_end:
                lg.run(clients, 0.5)
                for c in clients:
                    if c.errors:
                        raise BenchError(f"server error: {c.errors[-1]}")
        except KeyboardInterrupt:
            pass
    finally:
        _close(conns)
    return Benchmark("reply")


def _requesters(o: Options, bench_type: str, conns: list[Session], setup: Callable[[Session, int, int], None],
                counts: list[int], state: str) -> Benchmark:
    bm = Benchmark(bench_type)
    for i, (conn, n, off) in enumerate(zip(conns, counts, _offsets(counts))):
        setup(conn, i, off)
        _apply_pacing(conn.c, o)
        conn.c.check_errors = True
        conn.flush()
        conn.c.start(lg.ROLE_REQ, n)
    prog = Progress(o.progress, sum(counts), state)
    _drive(conns, prog, lambda: sum(x.c.completed for x in conns), lambda: True)
    for conn, n in zip(conns, counts):
        if n:
            c = conn.c
            bm.add(Sample(n, o.size, c.start_ns, c.end_ns, c.sent + c.completed, c.latencies()))
    return bm


def service_request(o: Options) -> Benchmark:
    counts = msgs_per_client(o.msgs, o.clients)
    conns = connect(o.url, o.clients)

    def setup(conn: Session, i: int, off: int) -> None:
        log(f"[{i + 1}] Starting {LABELS['request']}, requesting {comma(counts[i])} messages")
        conn.c.set_template(o.subject.encode(), conn.data_inbox().encode(), _payload(o), _header_lines(o))
        conn.c.window = 1

    try:
        return _requesters(o, "request", conns, setup, counts, "Requesting")
    finally:
        _close(conns)


# ---------------------------------------------------------------- JetStream

def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _stream_config(o: Options, bench_type: str) -> dict:
    cfg = {"name": o.stream, "subjects": [sub_subject(o)], "retention": "limits", "discard": "new",
           "storage": o.storage, "num_replicas": o.replicas, "max_bytes": o.maxbytes,
           "duplicate_window": _ns(o.dedupwindow)}
    if bench_type == "jsbatchpub":
        cfg["allow_atomic"] = True
    if o.persistasync:
        cfg["persist_mode"] = "async"
    return cfg


def _ensure_stream(conn: Session, o: Options, bench_type: str) -> None:
    exists = "error" not in conn.js_api(f"STREAM.INFO.{o.stream}")
    if o.create:
        api = "STREAM.UPDATE" if exists else "STREAM.CREATE"
        try:
            conn.js_call(f"{api}.{o.stream}", _stream_config(o, bench_type))
        except BenchError as e:
            raise BenchError(f"could not create the stream. If you want to delete and re-define the stream "
                             f"use `nats stream delete {o.stream}`: {e}") from None
    elif not exists:
        raise BenchError(f"stream '{o.stream}' does not exist, create it with --create")
    else:
        log(f"Using stream: {o.stream}")
    if o.purge:
        log("Purging the stream")
        conn.js_call(f"STREAM.PURGE.{o.stream}")


def js_pub(o: Options, mode: str) -> Benchmark:
    bench_type = {"sync": "jsyncpub", "async": "jsasyncpub", "batch": "jsbatchpub"}[mode]
    admin = Session(o.url, "natsx-bench-admin")
    try:
        _ensure_stream(admin, o, bench_type)
    finally:
        admin.close()
    counts = msgs_per_client(o.msgs, o.clients)
    conns = connect(o.url, o.clients)
    # As the nats CLI: the run's id is its start in ms (hex); message ids are <run>-<client>-<number>.
    run_id = format(int(time.time() * 1000), "x")

    def setup(conn: Session, i: int, off: int) -> None:
        log(f"[{i + 1}] Starting {LABELS[bench_type]}, publishing {comma(counts[i])} messages")
        c = conn.c
        msg_id = f"{run_id}-{i}-".encode() if o.dedup else b""
        if mode == "batch":
            c.set_template(o.subject.encode(), conn.data_inbox().encode(), _payload(o), _header_lines(o),
                           hdr_mode=lg.HDR_BATCH, batch_id=f"{run_id}-{i}".encode(), msg_id=msg_id)
            c.batch = o.batch
        else:
            c.set_template(o.subject.encode(), conn.data_inbox().encode(), _payload(o), _header_lines(o),
                           msg_id=msg_id)
            c.window = 1 if mode == "sync" else o.batch
            c.lockstep = mode == "async"
        _apply_subject(c, o, o.subject)
        c.offset = off

    try:
        return _requesters(o, bench_type, conns, setup, counts, "Publishing")
    finally:
        _close(conns)


def _consumer_config(o: Options) -> dict:
    cfg = {"durable_name": o.consumer, "deliver_policy": "all", "ack_policy": o.acks,
           "replay_policy": "instant", "max_ack_pending": o.batch * o.clients,
           "inactive_threshold": _ns(10)}
    if len(o.filter) == 1:
        cfg["filter_subject"] = o.filter[0]
    elif o.filter:
        cfg["filter_subjects"] = list(o.filter)
    return cfg


def js_consume(o: Options, kind: str) -> Benchmark:
    """kind: "ordered" (ephemeral, no acks, every client reads everything), "consume" or "fetch"."""
    bench_type = {"ordered": "jsordered", "consume": "jsconsume", "fetch": "jsfetch"}[kind]
    admin = Session(o.url, "natsx-bench-admin")
    try:
        if "error" in admin.js_api(f"STREAM.INFO.{o.stream}"):
            raise BenchError(f"getting stream '{o.stream}': stream not found")
        if o.purge:
            admin.js_call(f"STREAM.PURGE.{o.stream}")
        if kind != "ordered" and o.consumer == "nats-bench":
            admin.js_call(f"CONSUMER.CREATE.{o.stream}.{o.consumer}",
                          {"stream_name": o.stream, "config": _consumer_config(o)})
    finally:
        admin.close()
    counts = [o.msgs] * o.clients if kind == "ordered" else msgs_per_client(o.msgs, o.clients)
    conns = connect(o.url, o.clients)
    bm = Benchmark(bench_type)
    try:
        for i, (conn, n) in enumerate(zip(conns, counts)):
            log(f"[{i + 1}] Starting {LABELS[bench_type]}, expecting {comma(n)} messages")
            name = o.consumer
            if kind == "ordered":
                name = f"{secrets.token_hex(8)}_1"
                cfg = {"name": name, "deliver_policy": "all", "ack_policy": "none", "replay_policy": "instant",
                       "inactive_threshold": _ns(10), "num_replicas": 1, "mem_storage": True, "max_deliver": 1}
                if o.filter:
                    cfg["filter_subjects"] = list(o.filter)
                conn.js_call(f"CONSUMER.CREATE.{o.stream}.{name}", {"stream_name": o.stream, "config": cfg,
                                                                    "action": "create"})
            else:
                conn.js_call(f"CONSUMER.INFO.{o.stream}.{name}")
            c = conn.c
            c.ack = kind != "ordered" and o.acks != "none"
            c.double_ack = c.ack and o.doubleack
            c.set_pull(f"$JS.API.CONSUMER.MSG.NEXT.{o.stream}.{name}".encode(), conn.data_inbox().encode(),
                       conn.ack_inbox().encode() if c.double_ack else b"")
            c.batch = o.batch
            c.pull_expires_ns = _ns(o.js_timeout)
            c.fetch = kind == "fetch"
            conn.flush()
            _apply_pacing(c, o)                      # the handler sleeps on each message
            c.start(lg.ROLE_PULL, n)
        prog = Progress(o.progress, sum(counts), {"ordered": "Receiving", "consume": "Consuming",
                                                  "fetch": "Fetching"}[kind])
        _drive(conns, prog, lambda: sum(x.c.received for x in conns), lambda: True)
        for conn, n in zip(conns, counts):
            c = conn.c
            bm.add(Sample(n, o.size, c.start_ns, c.end_ns, c.received + c.statuses))
        for conn in conns:
            conn.flush(o.js_timeout)     # the last acks reach the server before we leave
    finally:
        _close(conns)
    return bm


def _stream_info(o: Options) -> dict:
    admin = Session(o.url, "natsx-bench-admin")
    try:
        info = admin.js_api(f"STREAM.INFO.{o.stream}")
    finally:
        admin.close()
    if "error" in info:
        raise BenchError(f"getting stream '{o.stream}': stream not found")
    return info


def js_get(o: Options) -> Benchmark:
    """Synchronous gets by sequence number: direct gets when the stream allows them."""
    info = _stream_info(o)
    direct = info.get("config", {}).get("allow_direct", False)
    first = int(info.get("state", {}).get("first_seq", 1) or 1)
    counts = msgs_per_client(o.msgs, o.clients)
    conns = connect(o.url, o.clients)
    api = f"$JS.API.DIRECT.GET.{o.stream}" if direct else f"$JS.API.STREAM.MSG.GET.{o.stream}"

    def setup(conn: Session, i: int, off: int) -> None:
        log(f"[{i + 1}] Starting {LABELS['jsgetdirectsync']}, getting {comma(counts[i])} messages")
        c = conn.c
        c.set_template(api.encode(), conn.data_inbox().encode())
        c.json_seq = True
        c.offset = first - 1 + off

    try:
        return _requesters(o, "jsgetdirectsync", conns, setup, counts, "Getting")
    finally:
        _close(conns)


def js_get_batch(o: Options) -> Benchmark:
    """Batched direct gets: each client asks for --batch messages from sequence 1 on (then from
    after the last one it got), as the nats CLI's `js get batch`; latencies are per batch."""
    info = _stream_info(o)
    if not info.get("config", {}).get("allow_direct", False):
        raise BenchError(f"stream '{o.stream}' does not allow direct gets")
    counts = msgs_per_client(o.msgs, o.clients)
    conns = connect(o.url, o.clients)
    bm = Benchmark("jsgetdirectbatch")
    try:
        for i, (conn, n) in enumerate(zip(conns, counts)):
            log(f"[{i + 1}] Starting {LABELS['jsgetdirectbatch']}, expecting {comma(n)} messages")
            c = conn.c
            c.set_pull(f"$JS.API.DIRECT.GET.{o.stream}".encode(), conn.data_inbox().encode())
            c.get_filter = o.get_filter.encode()
            c.batch = o.batch
            c.next_seq = 1
            conn.flush()
            c.start(lg.ROLE_BATCHGET, n)
        _drive(conns, Progress(o.progress, sum(counts), "Getting"), lambda: sum(x.c.received for x in conns),
               lambda: True)
        for conn, n in zip(conns, counts):
            c = conn.c
            bm.add(Sample(n, o.size, c.start_ns, c.end_ns, c.received, c.latencies()))
        if any(x.c.short_batches for x in conns):
            log("WARNING: at least one of the clients got less than the requested number of messages in a "
                "batch get. These results may not be optimal!")
    finally:
        _close(conns)
    return bm


def _kv_stream(o: Options) -> dict:
    return {"name": f"KV_{o.bucket}", "subjects": [f"$KV.{o.bucket}.>"], "description": "nats bench bucket",
            "max_msgs_per_subject": o.history, "max_bytes": o.maxbytes, "storage": o.storage,
            "num_replicas": o.replicas, "allow_rollup_hdrs": True, "deny_delete": True,
            "duplicate_window": _ns(120), "max_msgs": -1, "max_age": 0, "max_msg_size": -1,
            "allow_direct": True, "discard": "new", "retention": "limits"}


def kv_put(o: Options) -> Benchmark:
    admin = Session(o.url, "natsx-bench-admin")
    try:
        if o.purge:
            admin.js_call(f"STREAM.DELETE.KV_{o.bucket}")
        if o.bucket == "benchbucket":
            resp = admin.js_api(f"STREAM.CREATE.KV_{o.bucket}", _kv_stream(o))
            if "error" in resp and resp["error"].get("err_code") != 10058:
                raise BenchError(f"creating bucket: {resp['error'].get('description')}")
        elif "error" in admin.js_api(f"STREAM.INFO.KV_{o.bucket}"):
            raise BenchError(f"getting the kv bucket '{o.bucket}': bucket not found")
    finally:
        admin.close()
    counts = msgs_per_client(o.msgs, o.clients)
    conns = connect(o.url, o.clients)

    def setup(conn: Session, i: int, off: int) -> None:
        log(f"[{i + 1}] Starting {LABELS['kvput']}, putting {comma(counts[i])} messages")
        c = conn.c
        c.set_template(f"$KV.{o.bucket}".encode(), conn.data_inbox().encode(), _payload(o))
        c.suffix = True
        c.offset = off

    try:
        return _requesters(o, "kvput", conns, setup, counts, "Putting")
    finally:
        _close(conns)


def kv_get(o: Options) -> Benchmark:
    counts = msgs_per_client(o.msgs, o.clients)
    conns = connect(o.url, o.clients)

    def setup(conn: Session, i: int, off: int) -> None:
        log(f"[{i + 1}] Starting {LABELS['kvget']}, trying to get {comma(counts[i])} messages")
        if i == 0 and "error" in conn.js_api(f"STREAM.INFO.KV_{o.bucket}"):
            raise BenchError(f"finding kv bucket '{o.bucket}': bucket not found")
        c = conn.c
        c.set_template(f"$JS.API.DIRECT.GET.KV_{o.bucket}.$KV.{o.bucket}".encode(), conn.data_inbox().encode())
        c.suffix = True
        c.offset = off
        c.rand_mod = o.randomize

    try:
        return _requesters(o, "kvget", conns, setup, counts, "Getting")
    finally:
        _close(conns)
