"""The monitoring HTTP server (``-m/--http_port``) and its routing to the endpoint renderers.

A small asyncio HTTP/1.1 implementation (keep-alive, GET/HEAD): the endpoint serves a few requests
per second at most and never touches the message hot path.
"""
from __future__ import annotations

import asyncio
import email.utils
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from natsx.version import NATS_SERVER_VERSION, __version__
from natsx.gofmt import go_json
from natsx.monitor.accountz import accountz, accstatz
from natsx.monitor.connz import connz
from natsx.monitor.empty import gatewayz, ipqueuesz, leafz, raftz, routez
from natsx.monitor.jsz import jsz
from natsx.monitor.healthz import healthz
from natsx.monitor.inputs import MonitoredServer
from natsx.monitor.params import MonitorError
from natsx.monitor.subsz import subsz
from natsx.monitor.varz import varz

MAX_HEADER_BYTES = 1 << 20      # Go http.DefaultMaxHeaderBytes
READ_TIMEOUT = 10.0             # a silent HTTP connection is dropped after this long
NOT_FOUND = b"404 page not found\n"


# ---- / (index page) ---------------------------------------------------------------------------

_ROOT_LINKS = (("varz", "General"), ("jsz", "JetStream"), ("connz", "Connections"),
               ("accountz", "Accounts"), ("accstatz", "Account Stats"), ("subsz", "Subscriptions"),
               ("routez", "Routes"), ("leafz", "LeafNodes"), ("gatewayz", "Gateways"),
               ("raftz", "Raft Groups"), ("healthz", "Health Probe"))


def root_html(base_path: str = "") -> str:
    """The index page: the same links (and CSS classes) as nats-server's."""
    base = base_path.rstrip("/")
    links = "\n".join(f'\t<a href=.{base}/{p}>{label}<span class="endpoint"> {base}/{p}</span></a>'
                      for p, label in _ROOT_LINKS)
    return f"""<html lang="en">
\t<head>
\t<link rel="shortcut icon" href="https://nats.io/favicon.ico">
\t<style type="text/css">
\t\tbody {{ font-family: ui-sans-serif,system-ui,-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif; font-size: 18; font-weight: light-bold; margin-left: 32px }}
\t\ta {{ display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none }}
\t\ta:hover {{ font-weight: 600; color: rgb(59 50 202) }}
\t\ta.help {{ display:inline; font-weight: 600; color: rgb(59 50 202); font-size: 20}}
\t\ta.last {{ padding-bottom: 16px }}
\t\ta.version {{ font-size: 14; font-weight: 400; width: 312px; text-align: right; margin-top: -2rem }}
\t\ta.version:hover {{ color: rgb(22 22 32) }}
\t\t.endpoint {{ font-size: 12px; color: #999; font-family: monospace; display: none }}
\t\ta:hover .endpoint {{ display: inline }}

\t</style>
\t</head>
\t<body>
   <h1>natsx</h1>

\t<a href=https://github.com/nats-io/nats-server class='version'>v{NATS_SERVER_VERSION} (natsx {__version__})</a>

\t</div>
\t<br/>
{links}
    <a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class="help">Help</a>
  </body>
</html>"""


# ---- routing ----------------------------------------------------------------------------------

# path -> renderer; each returns a dict (rendered indented) or (dict, status).
ENDPOINTS: dict[str, Callable[..., Any]] = {
    "/varz": varz, "/connz": connz, "/subsz": subsz, "/subscriptionsz": subsz, "/routez": routez,
    "/gatewayz": gatewayz, "/leafz": leafz, "/jsz": jsz, "/accountz": accountz,
    "/accstatz": accstatz, "/healthz": healthz, "/raftz": raftz, "/ipqueuesz": ipqueuesz,
}


def render(server: MonitoredServer, path: str, params: Mapping[str, str], http_port: Optional[int] = None,
           base_path: str = "") -> tuple[int, str, bytes]:
    """(status, content type, body) for one request, counting it in server.http_req_stats."""
    base = base_path.rstrip("/")
    if base:   # with http_base_path everything lives under it, and nothing else answers
        if path in (base, base + "/"):
            path = "/"
        elif path.startswith(base + "/"):
            path = path[len(base):]
        else:
            path = ""
    stats = server.http_req_stats
    if path == "/":
        stats["/"] = stats.get("/", 0) + 1
        return 200, "text/html; charset=utf-8", root_html(base).encode()
    fn = ENDPOINTS.get(path)
    if fn is None:
        return 404, "text/plain; charset=utf-8", NOT_FOUND
    key = "/subsz" if path == "/subscriptionsz" else path
    stats[key] = stats.get(key, 0) + 1
    try:
        if fn is varz:
            doc: Any = varz(server, params, http_port=http_port)
        else:
            doc = fn(server, params)
    except MonitorError as e:
        return e.status, "text/plain; charset=utf-8", e.text.encode()
    status = 200
    if isinstance(doc, tuple):
        doc, status = doc
    body = go_json(doc, indent=fn is not healthz)
    return status, "application/json", body


# ---- HTTP/1.1 server -------------------------------------------------------------------------

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            413: "Request Entity Too Large", 431: "Request Header Fields Too Large",
            500: "Internal Server Error", 503: "Service Unavailable"}


def _response(status: int, ctype: str, body: bytes, head_only: bool, keep_alive: bool,
              cors: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    if cors:
        lines.append("Access-Control-Allow-Origin: *")
    lines.append(f"Content-Type: {ctype}")
    if body == NOT_FOUND:   # Go's http.NotFound
        lines.append("X-Content-Type-Options: nosniff")
    lines.append("Date: " + email.utils.formatdate(usegmt=True))
    lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


class MonitorServer(asyncio.AbstractServer):
    """The listening monitor socket plus its open HTTP connections (closed together)."""

    def __init__(self, server: MonitoredServer, base_path: str = "") -> None:
        self.natsx_server = server
        self.base_path = base_path
        self._srv: Optional[asyncio.AbstractServer] = None
        self._conns: set[asyncio.StreamWriter] = set()
        self.port = 0

    # asyncio.AbstractServer
    def close(self) -> None:
        if self._srv is not None:
            self._srv.close()
        for w in list(self._conns):
            w.close()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        assert self._srv is not None
        return self._srv.get_loop()

    def is_serving(self) -> bool:
        return self._srv is not None and self._srv.is_serving()

    async def start_serving(self) -> None:
        assert self._srv is not None
        await self._srv.start_serving()

    async def serve_forever(self) -> None:
        assert self._srv is not None
        await self._srv.serve_forever()

    async def wait_closed(self) -> None:
        if self._srv is not None:
            await self._srv.wait_closed()

    @property
    def sockets(self) -> tuple:
        return tuple(self._srv.sockets) if self._srv is not None else ()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError, ValueError):
            pass
        finally:
            self._conns.discard(writer)
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except asyncio.IncompleteReadError:
            return False
        except asyncio.LimitOverrunError:
            writer.write(_response(431, "text/plain; charset=utf-8", b"431 Request Header Fields Too Large",
                                   False, False, False))
            await writer.drain()
            return False
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            writer.write(_response(400, "text/plain; charset=utf-8", b"400 Bad Request", False, False, False))
            await writer.drain()
            return False
        method, target, proto = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT)   # ignored, like nats-server
        conn_hdr = headers.get("connection", "").lower()
        keep_alive = (proto == "HTTP/1.1" and conn_hdr != "close") or conn_hdr == "keep-alive"

        url = urlsplit(target)
        params: dict[str, str] = {}
        for k, v in parse_qsl(url.query, keep_blank_values=True):
            params.setdefault(k, v)          # Go's Query().Get: first value wins
        status, ctype, body = render(self.natsx_server, unquote(url.path) or "/", params,
                                     http_port=self.port, base_path=self.base_path)
        cors = ctype == "application/json"
        writer.write(_response(status, ctype, body, method == "HEAD", keep_alive, cors))
        await writer.drain()
        return keep_alive


async def start_monitor(server: MonitoredServer, host: str, port: int) -> MonitorServer:
    """Listen for monitoring HTTP requests on host:port (0 = any free port; see .port)."""
    mon = MonitorServer(server, server.options.http_base_path)
    mon._srv = await asyncio.start_server(mon._handle, host or "0.0.0.0", port, limit=MAX_HEADER_BYTES,
                                          reuse_address=True)
    mon.port = mon._srv.sockets[0].getsockname()[1]
    return mon

