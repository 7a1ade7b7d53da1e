"""Connections for the load generator: handshake, control requests, JetStream API calls.

The per-message work happens in `_loop.LoadConnection`; this module does what happens once per
connection or once per API request.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import time
from typing import Optional
from urllib.parse import urlparse

from natsx.loadgen._loop import ROLE_NONE, LoadConnection, run

DEFAULT_URL = "nats://127.0.0.1:4222"
CTL_SID = b"1"
DATA_SID = b"2"
ACK_SID = b"3"


class BenchError(Exception):
    """A benchmark could not run (connection, API error, timeout)."""


def server_url(explicit: Optional[str]) -> str:
    return explicit or os.environ.get("NATS_URL") or DEFAULT_URL


def _host_port(url: str) -> tuple[str, int, Optional[str], Optional[str]]:
    first = url.split(",")[0].strip()
    if "://" not in first:
        first = "nats://" + first
    u = urlparse(first)
    return u.hostname or "127.0.0.1", u.port or 4222, u.username, u.password


def _nuid() -> str:
    return secrets.token_hex(8)


class Session:
    """One connection: a `_loop.LoadConnection` plus its inboxes and control-plane helpers."""

    def __init__(self, url: str, name: str = "natsx-bench", timeout: float = 10.0):
        host, port, user, password = _host_port(url)
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise BenchError(f"could not connect to {url}: {e}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while b"\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise BenchError(f"{url} closed the connection before INFO")
            buf += chunk
        line, _, rest = buf.partition(b"\r\n")
        if not line.startswith(b"INFO "):
            raise BenchError(f"unexpected greeting from {url}: {line[:80]!r}")
        self.info = json.loads(line[5:])
        connect = {"verbose": False, "pedantic": False, "tls_required": False, "name": name,
                   "lang": "python-natsx-bench", "version": "0.1.0", "protocol": 1,
                   "headers": True, "no_responders": True}
        if user is not None:
            connect["user"] = user
            connect["pass"] = password or ""
        sock.setblocking(False)
        self.sock = sock
        self.c = LoadConnection(sock)
        self.inbox = f"_INBOX.{_nuid()}"
        self._ctl_n = 0
        self.c.write(b"CONNECT " + json.dumps(connect, separators=(",", ":")).encode() + b"\r\n")
        self.c.write(b"SUB " + self.inbox.encode() + b".c.* " + CTL_SID + b"\r\n")
        # Whatever followed INFO in the first read is parsed like any later input.
        self.c.parse(rest)
        self.flush(timeout)

    # -------------------------------------------------------------- plumbing

    def drive(self, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not run([self.c], min(0.5, max(0.0, deadline - time.monotonic()))):
            if self.c.errors:
                raise BenchError(f"server error: {self.c.errors[-1]}")
            if time.monotonic() >= deadline:
                raise BenchError(f"timed out waiting for {what}")

    def flush(self, timeout: float = 10.0) -> None:
        self.c.start(ROLE_NONE, 0)
        self.c.want_pongs = self.c.pongs + 1
        self.c.write(b"PING\r\n")
        self.drive(timeout, "PONG")
        if self.c.errors:
            raise BenchError(f"server error: {self.c.errors[-1]}")

    def request(self, subject: str, payload: bytes = b"", timeout: float = 10.0,
                headers: Optional[bytes] = None) -> tuple[bytes, Optional[bytes], bytes]:
        """One control request; returns the reply as (subject, headers, payload)."""
        self._ctl_n += 1
        reply = f"{self.inbox}.c.{self._ctl_n}".encode()
        self.c.ctl.clear()
        self.c.start(ROLE_NONE, 0)
        self.c.want_ctl = 1
        subj = subject.encode()
        if headers:
            self.c.write(b"HPUB %s %s %d %d\r\n%s%s\r\n" % (subj, reply, len(headers),
                                                            len(headers) + len(payload), headers, payload))
        else:
            self.c.write(b"PUB %s %s %d\r\n%s\r\n" % (subj, reply, len(payload), payload))
        self.drive(timeout, f"a reply on {subject}")
        self.c.want_ctl = 0
        msg = self.c.ctl.pop(0)
        if msg[1] is not None and msg[1].startswith(b"NATS/1.0 503"):
            raise BenchError(f"no responders for {subject}")
        return msg

    def subscribe_data(self, subject: str, queue: str = "") -> None:
        q = (" " + queue) if queue else ""
        self.c.write(f"SUB {subject}{q} ".encode() + DATA_SID + b"\r\n")

    def data_inbox(self) -> str:
        """An inbox subject for replies counted by the hot loop (sid 2)."""
        subject = f"{self.inbox}.d"
        self.subscribe_data(subject)
        return subject

    def ack_inbox(self) -> str:
        """An inbox for the server's confirmations of double acks (sid 3)."""
        subject = f"{self.inbox}.a"
        self.c.write(f"SUB {subject} ".encode() + ACK_SID + b"\r\n")
        return subject

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # -------------------------------------------------------------- JetStream API

    def js_api(self, api: str, body: Optional[dict] = None, timeout: float = 10.0) -> dict:
        payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        _, _, reply = self.request(f"$JS.API.{api}", payload, timeout)
        resp = json.loads(reply) if reply else {}
        return resp

    def js_call(self, api: str, body: Optional[dict] = None, timeout: float = 10.0) -> dict:
        resp = self.js_api(api, body, timeout)
        err = resp.get("error")
        if err:
            raise BenchError(f"{api}: {err.get('description', err)} (err_code {err.get('err_code')})")
        return resp


def connect(url: str, n: int = 1, name: str = "natsx-bench") -> list[Session]:
    return [Session(url, f"{name}-{i}") for i in range(n)]
