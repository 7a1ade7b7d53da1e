"""Issue-2 targets that are not msgs/s of one scenario: memory per idle connection, and
publish throughput with 100,000 subscriptions on distinct subjects (interleaved A B A B).

    pytest bench/test_core_targets.py --benchmark-only -s
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

from bench.servers import NATSX, REF, ROOT, Server, selected_servers

SERVERS = selected_servers()
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
    return s


def wait_pong(s: socket.socket) -> None:
    buf = b""
    while b"PONG" not in buf:
        data = s.recv(65536)
        if not data:
            raise ConnectionError("closed")
        buf += data


def idle_rss(kind: str, conns: int) -> tuple[int, int]:
    with Server(kind, jetstream=False) as srv:
        before = rss(srv.pid())
        socks = [connect(srv.port) for _ in range(conns)]
        for s in socks:
            wait_pong(s)
        after = rss(srv.pid())
        for s in socks:
            s.close()
    return before, after


def test_idle_connections_rss(benchmark, request):
    """10,000 idle connections: natsx's RSS within 2x of nats-server's."""
    conns = 1000 if request.config.getoption("--bench-quick") else 10_000
    result = {}

    def one_round():
        for kind in SERVERS:
            result[kind] = idle_rss(kind, conns)

    benchmark.pedantic(one_round, rounds=1, iterations=1)
    for kind, (before, after) in result.items():
        benchmark.extra_info[f"{kind} RSS MB"] = round(after / 1e6, 1)
        benchmark.extra_info[f"{kind} bytes/conn"] = (after - before) // conns
        print(f"\n{kind}: {after / 1e6:.1f} MB with {conns} idle connections "
              f"({(after - before) // conns} B per connection)")
    if NATSX in result and REF in result:
        ratio = result[NATSX][1] / result[REF][1]
        benchmark.extra_info["RSS ratio"] = round(ratio, 2)
        assert ratio <= 2.0


def publish_rate(url: str, subject: str, msgs: int) -> float:
    out = subprocess.run([sys.executable, "-m", "natsx", "bench", "pub", subject, "--msgs", str(msgs),
                          "--size", "16B", "--no-progress", "-s", url],
                         capture_output=True, text=True, cwd=str(ROOT), timeout=300, check=True).stdout
    line = next(l for l in out.splitlines() if "publisher stats" in l)
    return float(line.split(":")[1].split("msgs/sec")[0].replace(",", ""))


def drain(sock: socket.socket) -> None:
    while sock.recv(1 << 20):
        pass


def rate_with_subs(kind: str, nsubs: int, msgs: int) -> float:
    """Publish rate to one of `nsubs` subscriptions on distinct subjects (its subscriber reads)."""
    target = nsubs // 2
    with Server(kind, jetstream=False) as srv:
        holder = connect(srv.port)
        wait_pong(holder)
        batch = b"".join(b"SUB subj.%d %d\r\n" % (i, i) for i in range(nsubs) if i != target)
        holder.sendall(batch + b"PING\r\n")
        wait_pong(holder)
        reader = connect(srv.port)
        reader.sendall(b"SUB subj.%d 1\r\nPING\r\n" % target)
        wait_pong(reader)
        drainer = threading.Thread(target=drain, args=(reader,), daemon=True)
        drainer.start()
        try:
            return publish_rate(srv.url, f"subj.{target}", msgs)
        finally:
            reader.shutdown(socket.SHUT_RDWR)
            holder.close()


@pytest.mark.parametrize("kind", SERVERS)
def test_many_subscriptions_publish_rate(benchmark, request, kind):
    """100,000 subscriptions: publish throughput within 20% of the rate with 10."""
    quick = request.config.getoption("--bench-quick")
    msgs = 100_000 if quick else 2_000_000
    rates = {10: [], 100_000: []}

    def one_round():
        for nsubs in rates:
            rates[nsubs].append(rate_with_subs(kind, nsubs, msgs))

    benchmark.pedantic(one_round, rounds=1 if quick else 3, iterations=1)
    few, many = sorted(rates[10])[len(rates[10]) // 2], sorted(rates[100_000])[len(rates[100_000]) // 2]
    benchmark.extra_info.update({"10 subs msgs/s": round(few), "100k subs msgs/s": round(many),
                                 "ratio": round(many / few, 3)})
    print(f"\n{kind}: 10 subs {few:,.0f} msgs/s, 100k subs {many:,.0f} msgs/s ({many / few:.2f}x)")
    if kind == NATSX and not quick:
        assert many >= 0.8 * few
