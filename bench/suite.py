"""The side-by-side scenarios: each one is a few `natsx bench` processes against one server,
or the same load from nats.go's reference programs (bench/go_reference).

A scenario is optional setup runs (fill a stream), background processes (subscribers, a
service) that must be ready first, and one main process; its figure is the aggregate msgs/s
(and p50 latency where there is one) of the process it measures. Next to it every run records
the server's own CPU seconds over the measured part (`server_cpu_s`, utime + stime of the
server process from /proc) and the scenario's message count (`server_msgs`, the --msgs: the
messages published, requests made or messages consumed), so the server's cost per message
shows whatever the generator's speed.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from bench.gobuild import build_go_program
from bench.servers import ROOT, Server

BENCH = [sys.executable, "-m", "natsx.loadgen"]
NATSX_BENCH = "natsx"              # --generator: natsx bench (natsx/loadgen)
GO = "go"                          # --generator: nats.go's reference programs (bench/go_reference)
GENERATORS = (NATSX_BENCH, GO)
CpuClock = Callable[[], float]     # the server's CPU seconds so far


@dataclass
class GoRun:
    """The same load from bench/go_reference/<program>/main.go: each step's arguments in turn
    (the earlier ones fill a stream), the figure read from the last step's output."""
    program: str
    steps: list
    pattern: str                    # a regex whose group 1 is the msgs/s figure


_GO_PUB = r"Pub stats: ([\d,]+) msgs/sec"
_GO_SUB = r"(?m)^ Sub stats: ([\d,]+) msgs/sec"      # not the "Pub/Sub stats" line (their sum)
_GO_REQ = r"Req stats: (\d+) msgs/sec"
_GO_P50 = r"p50 ([\d.]+) us"


def _go_core(*args: str, pattern: str = _GO_SUB) -> GoRun:
    return GoRun("core", [list(args)], pattern)


GO_JS_PUB = GoRun("jetstream", [["-mode", "pub"]], r"go js async publish: (\d+) msgs/s")
GO_JS_FETCH = GoRun("jetstream", [["-mode", "pub"], ["-mode", "consume"]], r"fetch\+ack: (\d+) msgs/s")


@dataclass
class Scenario:
    name: str
    main: list                      # arguments of the measured-or-driving process
    msgs: int                       # --msgs in full mode
    quick_msgs: int                 # --msgs in quick mode
    bg: list = field(default_factory=list)       # background processes: (args, clients)
    setup: list = field(default_factory=list)    # runs before, not measured (their --msgs scale too)
    measure: str = "main"           # "main", or "bg" (the first background process)
    jetstream: bool = False
    core: bool = True               # part of the core table (README)
    go: Optional[GoRun] = None      # the same load from nats.go (None: no reference program does it)

    def msgs_for(self, quick: bool) -> int:
        return self.quick_msgs if quick else self.msgs


def _bg_sub(subject: str, *extra: str, clients: int = 1) -> tuple:
    return (["sub", subject, "--clients", str(clients), *extra], clients)


SCENARIOS: list[Scenario] = [
    Scenario("publish 16B", ["pub", "b.pub", "--size", "16B"], 5_000_000, 50_000,
             go=_go_core("-np", "1", "-ns", "0", pattern=_GO_PUB)),
    Scenario("1->1 16B", ["pub", "b.s1", "--size", "16B"], 3_000_000, 50_000,
             bg=[_bg_sub("b.s1", "--size", "16B")], measure="bg", go=_go_core("-ns", "1")),
    Scenario("1->1 16KiB", ["pub", "b.s2", "--size", "16KB"], 150_000, 5_000,
             bg=[_bg_sub("b.s2", "--size", "16KB")], measure="bg", go=_go_core("-ns", "1", "-ms", "16384")),
    Scenario("1->5 fan-out 16B", ["pub", "b.s3", "--size", "16B"], 1_000_000, 20_000,
             bg=[_bg_sub("b.s3", "--size", "16B", clients=5)], measure="bg", go=_go_core("-ns", "5")),
    Scenario("1->queue of 3 16B", ["pub", "b.s4", "--size", "16B"], 2_000_000, 30_000,
             bg=[_bg_sub("b.s4", "--size", "16B", "--queue", "q", clients=3)], measure="bg",
             go=_go_core("-ns", "3", "-queue", "q")),
    Scenario("4->4 16B", ["pub", "b.s5", "--size", "16B", "--clients", "4"], 1_000_000, 20_000,
             bg=[_bg_sub("b.s5", "--size", "16B", clients=4)], measure="bg", go=_go_core("-np", "4", "-ns", "4")),
    Scenario("10,000 subjects 16B", ["pub", "b.s6", "--size", "16B", "--multisubject", "--multisubjectmax", "10000"],
             2_000_000, 30_000, bg=[_bg_sub("b.s6", "--size", "16B", "--multisubject")], measure="bg",
             go=_go_core("-ns", "1", "-multisubject", "10000")),
    Scenario("request/reply 1 client", ["service", "request", "b.svc", "--size", "16B"], 20_000, 1_000,
             bg=[(["service", "serve", "b.svc"], 1)], go=_go_core("-req", "-np", "1", pattern=_GO_REQ)),
    Scenario("request/reply 10 clients", ["service", "request", "b.svc", "--size", "16B", "--clients", "10"],
             50_000, 2_000, bg=[(["service", "serve", "b.svc"], 1)], go=_go_core("-req", "-np", "10", pattern=_GO_REQ)),
    Scenario("JS publish sync file", ["js", "pub", "sync", "b.js", "--create", "--purge", "--size", "16B"],
             10_000, 500, jetstream=True, core=False),
    Scenario("JS publish sync memory", ["js", "pub", "sync", "b.js", "--create", "--purge", "--size", "16B",
                                        "--storage", "memory"], 20_000, 500, jetstream=True, core=False),
    Scenario("JS publish async file", ["js", "pub", "async", "b.js", "--create", "--purge", "--size", "16B"],
             300_000, 5_000, jetstream=True, core=False, go=GO_JS_PUB),
    Scenario("JS publish async memory", ["js", "pub", "async", "b.js", "--create", "--purge", "--size", "16B",
                                         "--storage", "memory"], 500_000, 5_000, jetstream=True, core=False),
    Scenario("JS ordered consumer", ["js", "ordered"], 300_000, 5_000, jetstream=True, core=False,
             setup=[["js", "pub", "async", "b.js", "--create", "--purge", "--size", "16B"]]),
    Scenario("JS durable consume", ["js", "consume"], 300_000, 5_000, jetstream=True, core=False,
             setup=[["js", "pub", "async", "b.js", "--create", "--purge", "--size", "16B"]]),
    Scenario("JS durable fetch", ["js", "fetch"], 300_000, 5_000, jetstream=True, core=False,
             setup=[["js", "pub", "async", "b.js", "--create", "--purge", "--size", "16B"]], go=GO_JS_FETCH),
    Scenario("KV put", ["kv", "put", "--size", "16B"], 10_000, 500, jetstream=True, core=False),
    Scenario("KV get", ["kv", "get"], 10_000, 500, jetstream=True, core=False,
             setup=[["kv", "put", "--size", "16B"]]),
]
BY_NAME = {s.name: s for s in SCENARIOS}


class RunError(Exception):
    pass


def _cmd(args: list, url: str, msgs: int, json_path: Optional[str] = None) -> list:
    cmd = BENCH + list(args) + ["-s", url, "--msgs", str(msgs), "--no-progress"]
    if json_path:
        cmd += ["--json", json_path]
    return cmd


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _wait_ready(proc: subprocess.Popen, needed: int, timeout: float, lines: list) -> None:
    """Wait until a background process logged that each of its clients is subscribed."""
    seen = 0
    done = threading.Event()

    def pump():
        nonlocal seen
        for line in proc.stderr:
            lines.append(line.rstrip())
            if "] Starting " in line:
                seen += 1
                if seen >= needed:
                    done.set()
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    if not done.wait(timeout) or seen < needed:
        raise RunError("background process not ready: " + " | ".join(lines[-5:]))


def _server_cost(result: dict, cpu_s: float, msgs: int) -> dict:
    result["server_cpu_s"] = round(cpu_s, 2)      # whole clock ticks: drop the float noise
    result["server_msgs"] = msgs
    return result


def run_scenario(sc: Scenario, url: str, quick: bool = False, timeout: float = 300.0,
                 server_cpu: Optional[CpuClock] = None) -> dict:
    """Run one scenario against the server at `url`; returns the measured process's JSON result,
    with the server's CPU seconds from just before the main process starts (setup done,
    subscribers ready) until the measured process ends, when `server_cpu` reads them."""
    msgs = sc.msgs_for(quick)
    env = _env()
    with tempfile.TemporaryDirectory(prefix="natsx-bench-run-") as tmp:
        for args in sc.setup:
            r = subprocess.run(_cmd(args, url, msgs), capture_output=True, text=True, env=env, cwd=str(ROOT),
                               timeout=timeout)
            if r.returncode != 0:
                raise RunError(f"setup {' '.join(args)}: {r.stderr.strip().splitlines()[-1:]}")
        bgs: list[tuple[subprocess.Popen, list]] = []
        try:
            for i, (args, clients) in enumerate(sc.bg):
                jp = os.path.join(tmp, f"bg{i}.json")
                p = subprocess.Popen(_cmd(args, url, msgs, jp), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=str(ROOT), start_new_session=True)
                lines: list = []
                bgs.append((p, lines))
                _wait_ready(p, clients, 30.0, lines)
            main_json = os.path.join(tmp, "main.json")
            cpu0 = server_cpu() if server_cpu else 0.0
            r = subprocess.run(_cmd(sc.main, url, msgs, main_json), capture_output=True, text=True, env=env,
                               cwd=str(ROOT), timeout=timeout)
            if r.returncode != 0:
                raise RunError(f"{' '.join(sc.main)}: {' '.join(r.stderr.strip().splitlines()[-1:])}")
            if sc.measure == "bg":
                p, lines = bgs[0]
                try:
                    p.wait(60.0)
                except subprocess.TimeoutExpired:
                    raise RunError("subscriber did not receive every message: " + " | ".join(lines[-3:]))
                if p.returncode != 0:
                    raise RunError("subscriber failed: " + " | ".join(lines[-3:]))
                path = os.path.join(tmp, "bg0.json")
            else:
                path = main_json
            cpu1 = server_cpu() if server_cpu else 0.0
            with open(path) as f:
                return _server_cost(json.load(f), cpu1 - cpu0, msgs)
        finally:
            for p, _ in bgs:
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()


class GoGenerator:
    """nats.go's reference programs, built on first use (offline, Debian's nats.go) into a
    temporary directory."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="natsx-gobench-")
        self._exes: dict[str, Path] = {}

    def exe(self, program: str) -> Path:
        if program not in self._exes:
            src = ROOT / "bench" / "go_reference" / program / "main.go"
            self._exes[program] = build_go_program(src, Path(self._tmp.name), f"natsxbench{program}")
        return self._exes[program]

    def run(self, go: GoRun, url: str, msgs: int, server_cpu: Optional[CpuClock] = None,
            timeout: float = 300.0) -> dict:
        """Run the steps against `url`; the result has the figures run_scenario's has (rate,
        p50_us, msgs, server CPU over the last step, the measured one)."""
        out, cpu0, cpu1 = "", 0.0, 0.0
        for args in go.steps:
            cpu0 = server_cpu() if server_cpu else 0.0
            r = subprocess.run([str(self.exe(go.program)), "-s", url, "-n", str(msgs), *args],
                               capture_output=True, text=True, timeout=timeout)
            cpu1 = server_cpu() if server_cpu else 0.0
            if r.returncode != 0:
                raise RunError(f"nats.go {go.program} {' '.join(args)}: {r.stderr.strip()[-300:]}")
            out = r.stdout
        m = re.search(go.pattern, out)
        if not m:
            raise RunError(f"nats.go {go.program}: no figure in {out[-300:]!r}")
        p50 = re.search(_GO_P50, out)
        result = {"rate": int(m.group(1).replace(",", "")), "msgs": msgs,
                  "p50_us": float(p50.group(1)) if p50 else None}
        return _server_cost(result, cpu1 - cpu0, msgs)

    def close(self) -> None:
        self._tmp.cleanup()


def run_on_fresh_server(sc: Scenario, kind: str, quick: bool = False, go: Optional[GoGenerator] = None,
                        go_run: Optional[GoRun] = None) -> dict:
    """Start `kind` on a fresh port and store, run the scenario (with `go`: its nats.go load,
    or `go_run`), stop the server."""
    with Server(kind, jetstream=sc.jetstream) as srv:
        if go:
            load = go_run or sc.go
            if load is None:
                raise RunError(f"no nats.go reference program runs {sc.name!r}")
            return go.run(load, srv.url, sc.msgs_for(quick), srv.cpu_seconds)
        return run_scenario(sc, srv.url, quick, server_cpu=srv.cpu_seconds)
