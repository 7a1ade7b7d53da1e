"""JetStream on one server: enable/disable, the store directory, the stream registry and the $JS.API.

    js = JetStream(server)          # server.options.jetstream is set
    js.start()                      # recover streams, subscribe $JS.API.>
    js.streams["ORDERS"]            # natsx.jetstream.stream.Stream
    js.stop()

Modules: api (router), errors (nats-server's API errors), config (stream config decide), stream
(apply: store + metadata), account (limits, $JS.API.INFO), stream_api (the STREAM.* handlers).
Other handler modules register on `js.router` (see natsx.jetstream.api).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import Any

from natsx._core.stream import StreamIngest
from natsx._core.sublist import Subscription
from natsx.gofmt import go_duration
from natsx.log import friendly_bytes
from natsx.jetstream.advisories import Advisories
from natsx.jetstream.api import ApiRouter
from natsx.jetstream.direct import DirectGets
from natsx.jetstream.account import AccountLimits, register as register_account_api
from natsx.jetstream.config import API_LEVEL
from natsx.jetstream.host import ServerHost
from natsx.jetstream import msgapi, snapshot, stream_api   # the $JS.API handlers
from natsx.jetstream.stream import Stream
from natsx.store import SYNC_ALWAYS, SYNC_INTERVAL


GLOBAL_ACCOUNT_DIR = "$G"
STORE_SUBDIR = "jetstream"
DEFAULT_SYNC_INTERVAL = 120.0          # nats-server's defaultSyncInterval (2m)
MAX_MEMORY_FALLBACK = 256 << 20        # JetStreamMaxMemDefault, when system memory is unknown


def system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


class JetStream:
    api_level = API_LEVEL

    def __init__(self, server: ServerHost) -> None:
        opts = server.options
        self.server = server
        self.log = server.log
        self.temporary_dir = not opts.store_dir
        if opts.store_dir:
            self.store_dir = os.path.join(opts.store_dir, STORE_SUBDIR)
        elif opts.jetstream_max_memory > 0 and opts.jetstream_max_store > 0:
            # nats-server: with both limits configured the temp default skips its "nats" level
            self.store_dir = os.path.join(tempfile.gettempdir(), STORE_SUBDIR)
        else:
            self.store_dir = os.path.join(tempfile.gettempdir(), "nats", STORE_SUBDIR)
        self.domain = opts.jetstream_domain
        self.strict = opts.jetstream_strict
        self.duplicates_limit = int(opts.jetstream_duplicate_window * 1e9)   # jetstream.limits
        self.sync_policy = sync_policy(opts.jetstream_sync)
        self.max_memory = opts.jetstream_max_memory
        self.max_store = opts.jetstream_max_store
        self.limits = AccountLimits()    # $G's: natsx refuses the accounts block that could set them
        self.streams: dict[str, Stream] = {}
        self.router = ApiRouter(self)
        self.advisories = Advisories(server)
        self.direct = DirectGets(server, self.streams, self.api_level)

    @property
    def streams_dir(self) -> str:
        return os.path.join(self.store_dir, GLOBAL_ACCOUNT_DIR, "streams")

    def start(self) -> None:
        """nats-server's enableJetStream: log, size the limits, recover the streams, serve the API."""
        began = time.monotonic()
        self.log.info("Starting JetStream")
        if self.temporary_dir:
            self.log.warn("Temporary storage directory used, data could be lost on system reboot")
        os.makedirs(self.streams_dir, exist_ok=True)
        if self.max_store < 0:
            self.max_store = shutil.disk_usage(self.store_dir).free
        if self.max_memory < 0:
            mem = system_memory()
            self.max_memory = mem // 4 * 3 if mem else MAX_MEMORY_FALLBACK
        self._banner()
        self._recover()
        register_account_api(self.router)
        stream_api.register(self.router)
        msgapi.register(self.router)
        snapshot.register(self.router)
        self.router.start()
        self.log.info(f"Took {_go_elapsed(time.monotonic() - began)} to start JetStream")

    def _banner(self) -> None:
        for line in ("    _ ___ _____ ___ _____ ___ ___   _   __  __",
                     " _ | | __|_   _/ __|_   _| _ \\ __| /_\\ |  \\/  |",
                     "| || | _|  | | \\__ \\ | | |   / _| / _ \\| |\\/| |",
                     " \\__/|___| |_| |___/ |_| |_|_\\___/_/ \\_\\_|  |_|",
                     "", "         https://docs.nats.io/jetstream", "",
                     "---------------- JETSTREAM ----------------"):
            self.log.info(line)
        if self.strict:
            self.log.info(f"  Strict:          {str(self.strict).lower()}")
        self.log.info(f"  Max Memory:      {friendly_bytes(self.max_memory)}")
        self.log.info(f"  Max Storage:     {friendly_bytes(self.max_store)}")
        self.log.info(f'  Store Directory: "{self.store_dir}"')
        if self.domain:
            self.log.info(f"  Domain:          {self.domain}")
        self.log.info(f"  API Level:       {self.api_level}")
        self.log.info("-------------------------------------------")

    def _recover(self) -> None:
        for name in sorted(os.listdir(self.streams_dir)):
            directory = os.path.join(self.streams_dir, name)
            if not os.path.isdir(directory):
                continue
            began = time.monotonic()
            self.log.info(f"  Starting restore for stream '{GLOBAL_ACCOUNT_DIR} > {name}'")
            stream = Stream.recover(self, directory)
            self.streams[name] = stream
            if stream.store is None:
                continue
            stream.store.attach_loop()
            self.attach(stream)
            self.log.info(f"  Restored {stream.store.msgs:,} messages for stream '{GLOBAL_ACCOUNT_DIR} > {name}'"
                          f" in {_go_elapsed(time.monotonic() - began, rounded=True)}")

    def stop(self) -> None:
        self.log.info("Initiating JetStream Shutdown...")
        self.router.stop()
        self.direct.stop()
        for stream in self.streams.values():
            self.detach(stream)
            stream.close()
        self.log.info("JetStream Shutdown")

    # -- the registry ----------------------------------------------------------------------------
    def lookup_config(self, name: str) -> dict[str, Any] | None:
        stream = self.streams.get(name)
        return stream.config if stream is not None else None

    def attach(self, stream: Stream) -> None:
        """Start capturing the stream's subjects: one C ingest subscriber (natsx._core.stream) per
        stream, subscribed on each subject in the global account's sublist; and its direct gets."""
        if stream.store is None or stream.config is None:
            return
        self.direct.sync(stream)
        stream.ingest = StreamIngest(self.server.core, stream.store, stream.name.encode(), stream.config,
                                     self.domain.encode() if self.domain else None)
        stream.subscriptions = [Subscription(subject.encode(), f"$JS.{stream.name}.{i}".encode(), stream.ingest)
                                for i, subject in enumerate(stream.config["subjects"] or [])]
        for sub in stream.subscriptions:
            self.server.sublist.insert(sub)

    def detach(self, stream: Stream) -> None:
        """Stop capturing the stream's subjects; publishes in flight get no ack."""
        self.direct.drop(stream.name)
        for sub in stream.subscriptions:
            self.server.unsubscribe_internal(sub)
        stream.subscriptions = []
        if stream.ingest is not None:
            stream.ingest.close()
            stream.ingest = None

    def reconfigure(self, stream: Stream) -> None:
        """Hand a changed config (max_msg_size, sealed, no_ack, window, ...) to the ingest subscriber."""
        if stream.ingest is not None:
            stream.ingest.reconfigure(stream.config)

    def usage(self) -> tuple[int, int]:
        """(memory bytes, storage bytes) used by the streams."""
        mem = store = 0
        for stream in self.streams.values():
            if stream.store is None or stream.config is None:
                continue
            if stream.config["storage"] == "memory":
                mem += stream.store.total_bytes
            else:
                store += stream.store.total_bytes
        return mem, store


def sync_policy(value: float | str | None) -> tuple[str, float]:
    """jetstream.sync_interval as nats-server spells it: "always", or a duration (seconds here).
    natsx's default is "always" (an ack only after fdatasync); nats-server's is a 2-minute interval."""
    if value is None or value == "always":
        return SYNC_ALWAYS, DEFAULT_SYNC_INTERVAL
    return SYNC_INTERVAL, float(value)


def _go_elapsed(seconds: float, rounded: bool = False) -> str:
    """A Go time.Duration's String(); rounded to the millisecond as nats-server's restore lines."""
    ns = int(seconds * 1e9)
    return go_duration(round(ns, -6) if rounded else ns)
