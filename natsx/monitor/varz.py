"""/varz: the server's options, counters and process usage, in nats-server's field order."""
from __future__ import annotations

import os
import time
from typing import Mapping, Optional

from natsx.gofmt import go_time
from natsx.monitor.encode import NS, go_uptime
from natsx.monitor.inputs import MonitoredServer, secs_to_ns
from natsx.monitor.jsz import varz_jetstream

# nats-server's TLS_TIMEOUT: the tls_timeout /varz shows while no tls block is configured (natsx
# refuses tls blocks until it serves TLS).
DEFAULT_TLS_TIMEOUT = 2.0


# ---- process usage (nats-server's pse_linux.go) ----------------------------------------------

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class _ProcUsage:
    """%CPU over the last sampling window (>= 1s, like nats-server's 1s periodic sampler) and RSS."""

    def __init__(self) -> None:
        self.last_ticks = 0
        self.last_time: Optional[float] = None
        self.pcpu = 0.0

    @staticmethod
    def _cpu_ticks() -> Optional[tuple[int, float]]:
        """(utime+stime ticks, seconds the process has been running)."""
        try:
            with open("/proc/self/stat", "rb") as f:
                data = f.read()
            with open("/proc/uptime", "rb") as f:
                uptime = float(f.read().split()[0])
        except OSError:
            return None
        # The command name may contain spaces: fields start after the closing paren.
        fields = data[data.rindex(b")") + 2:].split()
        utime, stime, starttime = int(fields[11]), int(fields[12]), int(fields[19])
        return utime + stime, uptime - starttime / _CLK_TCK

    def sample(self) -> tuple[float, int]:
        now = time.monotonic()
        if self.last_time is None or now - self.last_time >= 1.0:
            r = self._cpu_ticks()
            if r is not None:
                ticks, running = r
                if self.last_time is None:
                    window, dticks = running, ticks
                else:
                    window, dticks = now - self.last_time, ticks - self.last_ticks
                if window > 0:
                    # nats-server: (ticks*1000/hz)/seconds in per-mille, then /10.
                    self.pcpu = int(dticks * 1000 / _CLK_TCK / window) / 10.0
                self.last_ticks, self.last_time = ticks, now
        return self.pcpu, self.rss()

    @staticmethod
    def rss() -> int:
        try:
            with open("/proc/self/statm", "rb") as f:
                return int(f.read().split()[1]) * _PAGE_SIZE
        except OSError:
            import resource
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_usage = _ProcUsage()


def varz(server: MonitoredServer, params: Mapping[str, str] | None = None,
         http_port: Optional[int] = None) -> dict:
    now = time.time_ns()
    pcpu, rss = _usage.sample()
    core, opts, registry = server.core, server.options, server.registry
    in_msgs, in_bytes = int(core.in_msgs), int(core.in_bytes)
    out_msgs, out_bytes = int(core.out_msgs), int(core.out_bytes)
    slow = int(core.slow_consumers)
    start = server.start_time
    v = server.identity()
    if server.authenticator.required:
        v["auth_required"] = True
    v.update({
        "max_connections": opts.max_connections,
        "ping_interval": secs_to_ns(opts.ping_interval),
        "ping_max": opts.ping_max,
        "http_host": opts.monitor_host,
        "http_port": http_port if http_port is not None else server.http_port,
        "http_base_path": opts.http_base_path,
        "https_port": opts.https_port,
        "auth_timeout": float(opts.auth_timeout),
        "max_control_line": opts.max_control_line,
        "max_payload": opts.max_payload,
        "max_pending": opts.max_pending,
        "cluster": {},
        "gateway": {},
        "leaf": {},
        "mqtt": {},
        "websocket": {},
        "jetstream": varz_jetstream(server),
        "tls_timeout": DEFAULT_TLS_TIMEOUT,
        "write_deadline": secs_to_ns(opts.write_deadline),
        "start": go_time(start),
        "now": go_time(now),
        "uptime": go_uptime(now / NS - start),
        "mem": rss,
        "cores": os.cpu_count() or 1,
        "gomaxprocs": 1,   # GOMAXPROCS counts threads running server code at once: natsx has one loop
        "cpu": pcpu,
        "connections": len(registry),
        "total_connections": registry.total,
        "routes": 0,
        "remotes": 0,
        "leafnodes": 0,
        "in_msgs": in_msgs,
        "in_bytes": in_bytes,
        "in_client_msgs": in_msgs,       # every natsx connection is a client
        "in_client_bytes": in_bytes,
        "out_msgs": out_msgs,
        "out_bytes": out_bytes,
        "out_client_msgs": out_msgs,
        "out_client_bytes": out_bytes,
        "slow_consumers": slow,
        "stale_connections": registry.stale,
        "stalled_clients": registry.stalls,
        "subscriptions": int(server.sublist.count),
        "http_req_stats": dict(sorted(server.http_req_stats.items())),
        "config_load_time": go_time(server.config_load_time),
        "config_digest": opts.config_digest,
        "feature_flags": {},
    })
    # "system_account" would follow: natsx runs no system account ($SYS) yet, and nats-server
    # without one leaves the key out.
    v["slow_consumer_stats"] = {"clients": slow, "routes": 0, "gateways": 0, "leafs": 0}
    v["stale_connection_stats"] = {"clients": registry.stale, "routes": 0, "gateways": 0, "leafs": 0}
    v["disk_io_wait_stats"] = {"waiters": 0, "waits": 0, "wait_time": 0, "max_wait_time": 0}
    return v
