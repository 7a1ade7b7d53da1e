"""The side-by-side scenarios: each one is a few `natsx bench` processes against one server.

A scenario is optional setup runs (fill a stream), background processes (subscribers, a
service) that must be ready first, and one main process; its figure is the aggregate msgs/s
(and p50 latency where there is one) of the process it measures.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Optional

from bench.servers import ROOT, Server

BENCH = [sys.executable, "-m", "natsx.loadgen"]


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


def _bg_sub(subject: str, *extra: str, clients: int = 1) -> tuple:
    return (["sub", subject, "--clients", str(clients), *extra], clients)


SCENARIOS: list[Scenario] = [
    Scenario("publish 16B", ["pub", "b.pub", "--size", "16B"], 5_000_000, 50_000),
    Scenario("1->1 16B", ["pub", "b.s1", "--size", "16B"], 3_000_000, 50_000,
             bg=[_bg_sub("b.s1", "--size", "16B")], measure="bg"),
    Scenario("1->1 16KiB", ["pub", "b.s2", "--size", "16KB"], 150_000, 5_000,
             bg=[_bg_sub("b.s2", "--size", "16KB")], measure="bg"),
    Scenario("1->5 fan-out 16B", ["pub", "b.s3", "--size", "16B"], 1_000_000, 20_000,
             bg=[_bg_sub("b.s3", "--size", "16B", clients=5)], measure="bg"),
    Scenario("1->queue of 3 16B", ["pub", "b.s4", "--size", "16B"], 2_000_000, 30_000,
             bg=[_bg_sub("b.s4", "--size", "16B", "--queue", "q", clients=3)], measure="bg"),
    Scenario("4->4 16B", ["pub", "b.s5", "--size", "16B", "--clients", "4"], 1_000_000, 20_000,
             bg=[_bg_sub("b.s5", "--size", "16B", clients=4)], measure="bg"),
    Scenario("10,000 subjects 16B", ["pub", "b.s6", "--size", "16B", "--multisubject", "--multisubjectmax", "10000"],
             2_000_000, 30_000, bg=[_bg_sub("b.s6", "--size", "16B", "--multisubject")], measure="bg"),
    Scenario("request/reply 1 client", ["service", "request", "b.svc", "--size", "16B"], 20_000, 1_000,
             bg=[(["service", "serve", "b.svc"], 1)]),
    Scenario("request/reply 10 clients", ["service", "request", "b.svc", "--size", "16B", "--clients", "10"],
             50_000, 2_000, bg=[(["service", "serve", "b.svc"], 1)]),
    Scenario("JS publish sync file", ["js", "pub", "sync", "b.js", "--create", "--purge", "--size", "16B"],
             10_000, 500, jetstream=True, core=False),
    Scenario("JS publish sync memory", ["js", "pub", "sync", "b.js", "--create", "--purge", "--size", "16B",
                                        "--storage", "memory"], 20_000, 500, jetstream=True, core=False),
    Scenario("JS publish async file", ["js", "pub", "async", "b.js", "--create", "--purge", "--size", "16B"],
             300_000, 5_000, jetstream=True, core=False),
    Scenario("JS publish async memory", ["js", "pub", "async", "b.js", "--create", "--purge", "--size", "16B",
                                         "--storage", "memory"], 500_000, 5_000, jetstream=True, core=False),
    Scenario("JS ordered consumer", ["js", "ordered"], 300_000, 5_000, jetstream=True, core=False,
             setup=[["js", "pub", "async", "b.js", "--create", "--purge", "--size", "16B"]]),
    Scenario("JS durable consume", ["js", "consume"], 300_000, 5_000, jetstream=True, core=False,
             setup=[["js", "pub", "async", "b.js", "--create", "--purge", "--size", "16B"]]),
    Scenario("JS durable fetch", ["js", "fetch"], 300_000, 5_000, jetstream=True, core=False,
             setup=[["js", "pub", "async", "b.js", "--create", "--purge", "--size", "16B"]]),
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


def run_scenario(sc: Scenario, url: str, quick: bool = False, timeout: float = 300.0) -> dict:
    """Run one scenario against the server at `url`; returns the measured process's JSON result."""
    msgs = sc.quick_msgs if quick else sc.msgs
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
            with open(path) as f:
                return json.load(f)
        finally:
            for p, _ in bgs:
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()


def run_on_fresh_server(sc: Scenario, kind: str, quick: bool = False) -> dict:
    """Start `kind` on a fresh port and store, run the scenario, stop the server."""
    with Server(kind, jetstream=sc.jetstream) as srv:
        return run_scenario(sc, srv.url, quick)
