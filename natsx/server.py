"""The server: listens, accepts clients, owns the sublist and the shared hot-path state,
runs the timers, signals, lame duck mode, config reload and the monitoring port.

Embedding, for Python users' own tests:

    async with natsx.Server(port=0) as srv:
        nc = await nats.connect(srv.client_url)
"""
from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import signal
import subprocess
import time
from types import MappingProxyType
from typing import Any, Callable, Mapping

from natsx._core.conn import ServerCore
from natsx._core.sublist import CallbackSubscriber, Sublist, Subscription
from natsx.accounts import GLOBAL_ACCOUNT
from natsx.auth import Authenticator
from natsx.client import Client
from natsx.options import ServerOptions, load_server_options, validate_options
from natsx.log import Logger
from natsx.monitor.http import MonitorServer, start_monitor
from natsx.registry import ConnectionRegistry
from natsx.jetstream import JetStream
from natsx.jetstream.config import API_LEVEL as JETSTREAM_API_LEVEL
from natsx.version import NATS_SERVER_VERSION, __version__
from natsx.nkeys import new_curve_key, new_server_id
from natsx import portsfile

SHUTDOWN_FLUSH_TIMEOUT = 5.0    # seconds closing clients get to receive their pending output


class Server:
    def __init__(self, options: ServerOptions | None = None, **overrides: Any) -> None:
        opts = options if options is not None else ServerOptions()
        for key, value in overrides.items():
            if not hasattr(opts, key):
                raise TypeError(f"unknown server option {key!r}")
            setattr(opts, key, value)
        validate_options(opts)
        self.options = opts
        self.server_id = new_server_id()
        # nats-server's xkey: a curve key pair for auth callout encryption; only the public half
        # is used until natsx serves auth callout.
        self.curve_key, self.xkey = new_curve_key()
        self.runtime_version = runtime_version()
        self.git_commit = source_revision()
        self.log = Logger(debug=opts.debug, trace=opts.trace, logtime=opts.logtime, log_file=opts.log_file)
        self.sublist = Sublist()
        self.core = ServerCore(self.sublist, max_payload=opts.max_payload, max_pending=opts.max_pending,
                               max_control_line=opts.max_control_line)
        self.authenticator = _authenticator(opts)
        self.registry: ConnectionRegistry[Client] = ConnectionRegistry()
        self.http_req_stats: dict[str, int] = {}
        self.lame_duck = False
        self.start_time = time.time()
        self.config_load_time = self.start_time
        self.port = 0
        self.http_port = 0
        self._next_internal_sid = 0
        self._listener: asyncio.AbstractServer | None = None
        self._monitor: MonitorServer | None = None
        self._done = asyncio.Event()   # set once shut down
        self._started = False
        self._tick_handle: asyncio.TimerHandle | None = None
        self._ports_file = ""
        self.jetstream: JetStream | None = None

    @property
    def name(self) -> str:
        return self.options.server_name or self.server_id

    @property
    def clients(self) -> Mapping[int, Client]:
        """The live client connections by cid (read-only; natsx.registry owns them)."""
        return MappingProxyType(self.registry.live)

    @property
    def accepting(self) -> bool:
        """The client listener is up (/healthz)."""
        return self._listener is not None

    @property
    def client_url(self) -> str:
        host = self.options.host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"nats://{host}:{self.port}"

    # -- server-internal subscriptions (services, later $JS.API and $SYS) ------------------------
    def subscribe_internal(self, subject: str, callback: Callable[..., None],
                           queue: str | None = None) -> Subscription:
        """callback(sub, subject, reply, hdr, payload) runs for each message, inside routing."""
        self._next_internal_sid += 1
        sub = Subscription(subject.encode(), str(self._next_internal_sid).encode(),
                           CallbackSubscriber(callback), queue.encode() if queue else None)
        self.sublist.insert(sub)
        return sub

    def unsubscribe_internal(self, sub: Subscription) -> None:
        sub.closed = True
        self.sublist.remove(sub)

    def publish(self, subject: str | bytes, payload: bytes, reply: str | bytes = b"",
                headers: bytes | None = None) -> int:
        """Publish as the server; returns how many subscribers got it."""
        return self.core.publish(_b(subject), payload, _b(reply), headers)

    def identity(self) -> dict[str, Any]:
        """The fields INFO and /varz both start with, in nats-server's order."""
        head: dict[str, Any] = {
            "server_id": self.server_id,
            "server_name": self.name,
            "version": NATS_SERVER_VERSION,
            "proto": 1,
        }
        if self.git_commit:   # "" when unknown: left out, as nats-server without VCS info
            head["git_commit"] = self.git_commit
        head["go"] = self.runtime_version
        head["host"] = self.options.host
        head["port"] = self.port or self.options.port   # the configured one until bound
        return head

    def info_for(self, client: Client, ldm: bool = False, connect_info: bool = False) -> bytes:
        """The INFO line a client gets on connect (and again, with ldm, in lame duck mode): the
        fields nats-server sends for the same options, in the order of its Info struct."""
        opts = self.options
        info = self.identity()
        info["headers"] = True
        if self.authenticator.required:
            info["auth_required"] = True
        info["max_payload"] = opts.max_payload
        if self.jetstream is not None:
            info["jetstream"] = True
        info["client_id"] = client.cid
        info["client_ip"] = client.host
        if ldm:
            info["ldm"] = True
        if connect_info:
            info["connect_info"] = True
            info["remote_account"] = GLOBAL_ACCOUNT
        info["api_lvl"] = JETSTREAM_API_LEVEL
        info["xkey"] = self.xkey
        return b"INFO " + json.dumps(info, separators=(",", ":")).encode() + b" \r\n"

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        opts = self.options
        loop = asyncio.get_running_loop()
        self._started = True
        self.log.info("Starting nats-server")
        self.log.info(f"  Version:  {NATS_SERVER_VERSION} (natsx {__version__})")
        self.log.info(f"  Git:      [{self.git_commit or 'not set'}]")
        self.log.debug(f"  Go build: {self.runtime_version}")
        self.log.info(f"  Name:     {self.name}")
        self.log.info(f"  ID:       {self.server_id}")
        if opts.config_file:
            self.log.info(f"Using configuration file: {opts.config_file}")
        if opts.jetstream:
            self.jetstream = JetStream(self)
            self.jetstream.start()
        if opts.pid_file:
            with open(opts.pid_file, "w") as f:
                f.write(str(os.getpid()))
        if opts.http_port:
            port = 0 if opts.http_port < 0 else opts.http_port
            self._monitor = await start_monitor(self, opts.http_host or opts.host, port)
            self.http_port = self._monitor.sockets[0].getsockname()[1]
            self.log.info(f"Starting http monitor on {opts.http_host or opts.host}:{self.http_port}")
            self.log.info(f"Listening for monitoring clients on http://{opts.http_host or opts.host}:{self.http_port}")
        port = 0 if opts.port in (0, -1) else opts.port
        if not 0 <= port <= 65535:   # the OS layer would silently wrap it
            raise OSError(f'"listen tcp: address {opts.port}: invalid port"')
        self._listener = await loop.create_server(lambda: Client(self), opts.host or None, port,
                                                  reuse_address=True, backlog=4096)
        self.port = self._listener.sockets[0].getsockname()[1]
        self.log.info(f"Listening for client connections on {opts.host}:{self.port}")
        if opts.ports_file_dir:
            self._write_ports_file()
        self.start_time = time.time()
        self._tick()
        self.log.info("Server is ready")

    def _tick(self) -> None:
        """Once a second: connections whose writes stall past write_deadline are slow consumers."""
        now = time.monotonic()
        for client in list(self.registry.paused):
            client.check_write_deadline(now)
        self._tick_handle = asyncio.get_running_loop().call_later(1.0, self._tick)

    def _write_ports_file(self) -> None:
        assert self._listener is not None
        listeners = {"nats": ("nats", self._listener.sockets[0])}
        if self._monitor is not None:
            listeners["monitoring"] = ("http", self._monitor.sockets[0])
        self._ports_file = portsfile.write(self.options.ports_file_dir, listeners)

    async def shutdown(self) -> None:
        if not self._started or self._done.is_set():
            self._done.set()
            return
        self.log.info("Initiating Shutdown...")
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        if self._listener is not None:
            self._listener.close()
        for client in self.registry:
            client.close_connection("Server Shutdown")
        await self._drain(SHUTDOWN_FLUSH_TIMEOUT)
        if self.jetstream is not None:
            self.jetstream.stop()
        if self._monitor is not None:
            self._monitor.close()
        for path in (self.options.pid_file, self._ports_file):
            if path:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        self.log.info("Server Exiting..")
        self._done.set()

    async def _drain(self, timeout: float) -> None:
        """Let closed connections finish writing what they were sent (bounded)."""
        deadline = time.monotonic() + timeout
        while self.registry.draining and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def wait_closed(self) -> None:
        await self._done.wait()

    async def __aenter__(self) -> "Server":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    # -- lame duck mode ------------------------------------------------------------------------------
    async def enter_lame_duck_mode(self) -> None:
        """Stop accepting, tell clients (INFO ldm), wait the grace period, then close the clients
        spread over the rest of the lame duck duration, and shut down."""
        if self.lame_duck:
            return
        self.lame_duck = True
        opts = self.options
        self.log.info("Entering lame duck mode, stop accepting new clients")
        if self._listener is not None:
            self._listener.close()
        for client in self.registry:
            client.send_lame_duck_info()
        grace = min(opts.lame_duck_grace_period, opts.lame_duck_duration)
        await asyncio.sleep(grace)
        clients = list(self.registry)
        spread = max(opts.lame_duck_duration - grace, 0.0)
        if clients:
            # As nats-server: spread the closes, but never more than a second apart.
            pause = min(spread / len(clients), 1.0)
            for client in clients:
                client.close_connection("Server Shutdown")
                if pause:
                    await asyncio.sleep(pause)
        await self.shutdown()

    # -- config reload -------------------------------------------------------------------------------
    def reload(self) -> None:
        """SIGHUP: re-read the config file; auth and logging take effect at once."""
        path = self.options.config_file
        if not path:
            self.log.error("Failed to reload server configuration: no config file")
            return
        try:
            new = load_server_options(path)
            new.config_file = path
            new.flag_overrides = self.options.flag_overrides
            new.apply_flag_overrides()
            for key in ("host", "port"):
                setattr(new, key, getattr(self.options, key))
            validate_options(new)
        except Exception as exc:  # a broken file keeps the running config
            self.log.error(f"Failed to reload server configuration: {exc}")
            return
        self.options = new
        self.authenticator = _authenticator(new)
        self.log.configure(debug=new.debug, trace=new.trace, logtime=new.logtime, log_file=new.log_file)
        self.core.max_payload = new.max_payload
        self.core.max_pending = new.max_pending
        self.config_load_time = time.time()
        self.log.info("Reloaded server configuration")

    async def run_until_stopped(self) -> None:
        """Foreground mode for `natsx serve`: start, handle signals, return on shutdown."""
        loop = asyncio.get_running_loop()
        # Handlers first: a signal right after "Server is ready" must not hit the default action.
        loop.add_signal_handler(signal.SIGINT, lambda: loop.create_task(self._on_signal("SIGINT")))
        loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(self._on_signal("SIGTERM")))
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        loop.add_signal_handler(signal.SIGUSR2, lambda: loop.create_task(self.enter_lame_duck_mode()))
        await self.start()
        await self.wait_closed()

    async def _on_signal(self, name: str) -> None:
        self.log.info(f"Trapped \"{name.lower().removeprefix('sig')}\" signal")
        await self.shutdown()


def _b(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _authenticator(opts: ServerOptions) -> Authenticator:
    return Authenticator(user=opts.username, password=opts.password, token=opts.authorization,
                         users=list(opts.users or []), no_auth_user=opts.no_auth_user)


def runtime_version() -> str:
    """What INFO's and /varz's "go" says: nats-server reports its Go runtime there; natsx reports
    the Python it runs on and its own version (clients only read the field)."""
    return f"{platform.python_implementation().lower()}{platform.python_version()} (natsx {__version__})"


@functools.cache
def source_revision() -> str:
    """natsx's git commit, 7 hex digits as nats-server's git_commit, when natsx runs from a git
    checkout of its own source; "" otherwise (an installed wheel), and INFO then leaves git_commit
    out, as a nats-server built without VCS information does."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel", "--short=7", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return ""
    # a site-packages inside some other repository must not report that repository's commit
    if len(out) != 2 or os.path.realpath(out[0]) != os.path.realpath(root):
        return ""
    return out[1]
