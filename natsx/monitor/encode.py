"""nats-server's own value formats in monitoring documents (Go's are in natsx.gofmt)."""
from __future__ import annotations

from typing import Optional

from natsx.gofmt import go_duration

NS = 1_000_000_000


def go_uptime(seconds: float) -> str:
    """nats-server's myUptime: whole seconds shown as [Ny][Nd][Nh][Nm]Ns."""
    tsecs = max(int(seconds), 0)
    tmins, thrs = tsecs // 60, tsecs // 3600
    tdays = thrs // 24
    tyrs = tdays // 365
    if tyrs:
        return f"{tyrs}y{tdays % 365}d{thrs % 24}h{tmins % 60}m{tsecs % 60}s"
    if tdays:
        return f"{tdays}d{thrs % 24}h{tmins % 60}m{tsecs % 60}s"
    if thrs:
        return f"{thrs}h{tmins % 60}m{tsecs % 60}s"
    if tmins:
        return f"{tmins}m{tsecs % 60}s"
    return f"{tsecs}s"


def rtt_string(rtt: Optional[float]) -> str:
    """A client's RTT as nats-server prints it (getRTT: µs-truncated below 1ms)."""
    if not rtt:
        return "0s"
    ns = int(rtt * NS)
    if 1_000 < ns < 1_000_000:
        ns -= ns % 1_000
    return go_duration(ns)


