"""Logging in nats-server's line format: `[pid] 2006/01/02 15:04:05.000000 [INF] message`.

Tools that drive nats-server wait for milestone lines such as "Server is ready" on stderr,
so the wording of those lines is part of the interface.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import TextIO


class Logger:
    def __init__(self, *, debug: bool = False, trace: bool = False, logtime: bool = True,
                 log_file: str | None = None) -> None:
        self.configure(debug=debug, trace=trace, logtime=logtime, log_file=log_file)

    def configure(self, *, debug: bool, trace: bool, logtime: bool, log_file: str | None) -> None:
        self.debug_enabled = debug
        self.trace_enabled = trace
        self.logtime = logtime
        self.log_file = log_file
        old = getattr(self, "_out", None)
        self._out: TextIO = open(log_file, "a", buffering=1) if log_file else sys.stderr
        if old is not None and old is not sys.stderr and old is not self._out:
            old.close()
        self._pid = os.getpid()

    def _emit(self, level: str, msg: str) -> None:
        if self.logtime:
            now = time.time()
            stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}"
            line = f"[{self._pid}] {stamp} [{level}] {msg}\n"
        else:
            line = f"[{self._pid}] [{level}] {msg}\n"
        try:
            self._out.write(line)
            self._out.flush()
        except (OSError, ValueError):
            pass

    def info(self, msg: str) -> None:
        self._emit("INF", msg)

    def warn(self, msg: str) -> None:
        self._emit("WRN", msg)

    def error(self, msg: str) -> None:
        self._emit("ERR", msg)

    def fatal(self, msg: str) -> None:
        self._emit("FTL", msg)

    def debug(self, msg: str) -> None:
        if self.debug_enabled:
            self._emit("DBG", msg)

    def trace(self, msg: str) -> None:
        if self.trace_enabled:
            self._emit("TRC", msg)


def friendly_bytes(n: int) -> str:
    """nats-server's friendlyBytes, as its log lines show sizes ("13.21 KB")."""
    if n < 1024:
        return f"{n} B"
    exp = int(math.log(n) / math.log(1024))
    return f"{n / 1024 ** exp:.2f} {'KMGTPE'[exp - 1]}B"
