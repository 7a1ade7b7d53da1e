"""The monitoring endpoint (``-m/--http_port``): nats-server's /varz, /connz, /subsz, ...

Every JSON document uses nats-server's field names, order and value encodings (Go durations in
nanoseconds, RFC 3339 UTC timestamps with nanoseconds, Go's float and string formatting) so that
dashboards, the ``nats`` CLI and Prometheus exporters read natsx exactly as they read nats-server.

One module per endpoint group; each renderer is a plain function ``name(server, params) -> dict``
over typed inputs (natsx.monitor.inputs), so tests and, later, the system account's
$SYS.REQ.SERVER.PING.* handlers can reuse them without HTTP. natsx.monitor.http serves them.
"""
from natsx.monitor.accountz import accountz, accstatz
from natsx.monitor.connz import connz
from natsx.monitor.empty import gatewayz, ipqueuesz, leafz, raftz, routez
from natsx.monitor.jsz import jsz
from natsx.monitor.encode import go_uptime
from natsx.monitor.healthz import healthz
from natsx.monitor.http import MonitorServer, render, root_html, start_monitor
from natsx.monitor.inputs import MonitoredClient, MonitoredServer
from natsx.monitor.params import MonitorError
from natsx.monitor.subsz import subsz
from natsx.monitor.varz import varz

__all__ = [
    "start_monitor", "MonitorServer", "MonitorError", "MonitoredServer", "MonitoredClient", "render",
    "varz", "connz", "subsz", "routez", "healthz", "accountz", "accstatz", "jsz", "gatewayz",
    "leafz", "raftz", "ipqueuesz", "root_html", "go_uptime",
]
