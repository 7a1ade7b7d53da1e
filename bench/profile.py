"""Profile a server while one scenario runs against it.

    python -m bench.profile "1->1 16B"                      # py-spy (Python + native frames) -> SVG
    python -m bench.profile "1->1 16B" --tool perf          # perf record -g -> perf.data + top symbols
    python -m bench.profile "publish 16B" --server nats-server --tool perf

The profiler attaches to the server process only (not to the load generator), from just before
the scenario starts until it ends.
"""
from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import time
from typing import Optional

from bench.servers import KINDS, NATSX, Server
from bench.suite import BY_NAME, run_scenario


def start_profiler(tool: str, pid: int, out: str) -> subprocess.Popen:
    if tool == "py-spy":
        exe = shutil.which("py-spy")
        if not exe:
            raise SystemExit("py-spy is not installed: pip install py-spy")
        fmt = "speedscope" if out.endswith(".json") else "flamegraph"
        cmd = [exe, "record", "--native", "-r", "250", "-p", str(pid), "-f", fmt, "-o", out]
    else:
        exe = shutil.which("perf")
        if not exe:
            raise SystemExit("perf is not installed (apt-get install linux-perf)")
        cmd = [exe, "record", "-F", "999", "-g", "-p", str(pid), "-o", out]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)       # let the profiler attach before the load starts
    if p.poll() is not None:
        raise SystemExit(f"{tool} failed to start: {p.stderr.read()}")
    return p


def stop_profiler(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGINT)
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", choices=sorted(BY_NAME), metavar="SCENARIO",
                    help="one of: " + ", ".join(repr(s) for s in sorted(BY_NAME)))
    ap.add_argument("--tool", choices=["py-spy", "perf"], default="py-spy")
    ap.add_argument("--server", choices=KINDS, default=NATSX)
    ap.add_argument("--quick", action="store_true", help="small message counts")
    ap.add_argument("-o", "--output", help="py-spy: .svg (flamegraph) or .json (speedscope); perf: perf.data")
    args = ap.parse_args(argv)
    sc = BY_NAME[args.scenario]
    out = args.output or ("profile.svg" if args.tool == "py-spy" else "perf.data")
    with Server(args.server, jetstream=sc.jetstream) as srv:
        prof = start_profiler(args.tool, srv.pid(), out)
        try:
            res = run_scenario(sc, srv.url, args.quick)
        finally:
            stop_profiler(prof)
    print(f"{sc.name} on {args.server}: {res['rate']:,} msgs/s; profile written to {out}")
    if args.tool == "perf":
        report = subprocess.run(["perf", "report", "-i", out, "--stdio", "--no-children", "--percent-limit", "2",
                                 "--sort", "dso,symbol", "-g", "none"], capture_output=True, text=True)
        lines = [l for l in report.stdout.splitlines() if l.strip() and not l.startswith("#")]
        print("\n".join(lines[:30]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
