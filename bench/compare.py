"""Side-by-side comparison: every scenario on natsx and nats-server, interleaved A B A B.

    python -m bench.compare --quick                     # small counts, one round (smoke)
    python -m bench.compare --rounds 5 --markdown out.md --csv out.csv --json out.json
    python -m bench.compare --core --rounds 5           # only the core NATS scenarios
    python -m bench.compare -k "1->1" -k publish        # scenarios whose name contains a text
    python -m bench.compare --core --generator go       # the load from nats.go, not natsx bench

Each measurement starts the server afresh (new port, new store directory). The figure per
server is the median over rounds; the ratio is the median of the per-round ratios
natsx / nats-server, with their min..max as the spread. Next to each throughput stands the
server's own CPU seconds per million messages (utime + stime of the server process over the
measured run, from /proc; see CPU_NOTE), which does not depend on how fast the generator is.
On a shared, noisy machine only ratios from one interleaved run are worth comparing.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from typing import Optional

from bench.servers import KINDS, NATSX, REF, selected_servers
from bench.suite import GENERATORS, GO, NATSX_BENCH, SCENARIOS, GoGenerator, RunError, Scenario, run_on_fresh_server

CPU_NOTE = ("CPU s / 1M msgs: the server process's CPU time (utime + stime of all its threads, from "
            "/proc/<pid>/stat, 10 ms ticks) over the measured run, per million of the scenario's messages "
            "(its --msgs): messages published (each delivered once per subscriber: 5 times in 1->5, 4 times "
            "in 4->4, once in a queue group), requests made (a request and its reply each) in request/reply, "
            "messages consumed by JetStream consumers.")
NO_GO_PROGRAM = "no nats.go reference program runs it"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def generator_label(generator: str) -> str:
    if generator == GO:
        return (f"nats.go {nats_go_version()} (Debian golang-github-nats-io-go-nats-dev), the reference "
                "programs bench/go_reference/{core,jetstream}/main.go")
    return "natsx bench (python -m natsx.loadgen, natsx/loadgen/)"


def cpu_per_million(res: dict) -> Optional[float]:
    """The server's CPU seconds per million of the scenario's messages, in one run."""
    return res["server_cpu_s"] / res["server_msgs"] * 1e6 if res.get("server_msgs") else None


def measure(scenarios: list[Scenario], servers: list[str], rounds: int, quick: bool,
            echo=print, generator: str = NATSX_BENCH) -> list[dict]:
    """Run every scenario `rounds` times on each server, alternating servers within a round;
    with generator "go" the load comes from nats.go (scenarios it has no program for: n/a)."""
    go = GoGenerator() if generator == GO else None
    rows = []
    try:
        for sc in scenarios:
            if go and sc.go is None:
                echo(f"  {sc.name}: n/a with nats.go ({NO_GO_PROGRAM})")
                rows.append({"scenario": sc.name, "core": sc.core, "generator": generator, "errors": {},
                             "unsupported": NO_GO_PROGRAM})
                continue
            runs: dict[str, list] = {k: [] for k in servers}
            errors: dict[str, str] = {}
            for r in range(rounds):
                for kind in servers:
                    if kind in errors:
                        continue
                    try:
                        res = run_on_fresh_server(sc, kind, quick, go=go)
                    except (RunError, RuntimeError, OSError, subprocess.SubprocessError) as e:
                        errors[kind] = str(e)[:200]
                        echo(f"  {sc.name} on {kind}: failed: {errors[kind]}")
                        continue
                    runs[kind].append(res)
                    p50 = f", p50 {res['p50_us']:.0f}us" if res.get("p50_us") else ""
                    echo(f"  {sc.name} round {r + 1} {kind}: {res['rate']:,} msgs/s{p50}; server "
                         f"{res['server_cpu_s']:.2f} CPU s, {cpu_per_million(res):.2f} per 1M msgs")
            rows.append(summarize(sc, runs, errors, generator))
    finally:
        if go:
            go.close()
    return rows


def _med(xs: list) -> Optional[float]:
    return statistics.median(xs) if xs else None


def _spread(ratios: list) -> tuple:
    return _med(ratios), (min(ratios) if ratios else None), (max(ratios) if ratios else None)


def summarize(sc: Scenario, runs: dict, errors: dict, generator: str = NATSX_BENCH) -> dict:
    row = {"scenario": sc.name, "core": sc.core, "generator": generator, "errors": errors}
    for kind, res in runs.items():
        rates = [x["rate"] for x in res]
        p50s = [x["p50_us"] for x in res if x.get("p50_us")]
        cpus = [c for c in map(cpu_per_million, res) if c is not None]
        row[kind] = {"rate": _med(rates), "min": min(rates) if rates else None,
                     "max": max(rates) if rates else None, "p50_us": _med(p50s), "rounds": len(rates),
                     "server_cpu_per_1m": _med(cpus), "server_cpu_s": [x.get("server_cpu_s") for x in res]}
    a, b = runs.get(NATSX, []), runs.get(REF, [])
    row["ratio"], row["ratio_min"], row["ratio_max"] = _spread([x["rate"] / y["rate"]
                                                                for x, y in zip(a, b) if y["rate"]])
    # nats-server's CPU per message over natsx's, round by round: above 1, natsx spends less.
    cpu_pairs = [(cpu_per_million(x), cpu_per_million(y)) for x, y in zip(a, b)]
    row["cpu_ratio"], row["cpu_ratio_min"], row["cpu_ratio_max"] = _spread([y / x for x, y in cpu_pairs
                                                                            if x and y is not None])
    return row


def _fmt_rate(cell: Optional[dict]) -> str:
    if not cell or cell.get("rate") is None:
        return "n/a"
    s = f"{int(cell['rate']):,}"
    if cell.get("p50_us"):
        s += f" (p50 {cell['p50_us']:.0f} µs)"
    return s


def _fmt_cpu(cell: Optional[dict]) -> str:
    v = (cell or {}).get("server_cpu_per_1m")
    if v is None:
        return "n/a"
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


def _fmt_ratio(row: dict, key: str = "ratio") -> str:
    if row.get(key) is None:
        return "n/a"
    return f"{row[key]:.2f}× ({row[key + '_min']:.2f}–{row[key + '_max']:.2f})"


def table_rows(rows: list[dict]) -> list[list[str]]:
    return [[r["scenario"], _fmt_rate(r.get(NATSX)), _fmt_cpu(r.get(NATSX)), _fmt_rate(r.get(REF)),
             _fmt_cpu(r.get(REF)), _fmt_ratio(r), _fmt_ratio(r, "cpu_ratio")] for r in rows]


HEAD = ["scenario", "natsx msgs/s", "natsx CPU s / 1M msgs", "nats-server msgs/s", "nats-server CPU s / 1M msgs",
        "msgs/s natsx / nats-server (spread)", "CPU per msg nats-server / natsx (spread)"]


def notes(rows: list[dict], meta: dict) -> list[str]:
    """What the table's figures are: the generator, the CPU column, the scenarios it could not run."""
    out = [f"Generator: {meta['generator']}.", CPU_NOTE]
    unsupported = [r["scenario"] for r in rows if r.get("unsupported")]
    if unsupported:
        out.append(f"n/a with this generator ({NO_GO_PROGRAM}): {', '.join(unsupported)}.")
    return out


def text_grid(head: list[str], body: list[list[str]]) -> str:
    """Columns padded to their widest cell, a dashed line under the head."""
    body = [head] + body
    widths = [max(len(r[i]) for r in body) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def rst_grid(head: list[str], body: list[list[str]]) -> str:
    """A reStructuredText grid table (as README.rst's Performance section has)."""
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]

    def rule(ch: str) -> str:
        return "+" + "+".join(ch * (w + 2) for w in widths) + "+"

    def line(r: list[str]) -> str:
        return "| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) + " |"

    out = [rule("-"), line(head), rule("=")]
    for r in body:
        out += [line(r), rule("-")]
    return "\n".join(out) + "\n"


def markdown_grid(head: list[str], body: list[list[str]], meta: dict, how: str, notes: tuple = ()) -> str:
    """A Markdown table under lines saying when, where and with which command it was measured."""
    out = [f"Measured {meta['date']} on {meta['machine']}; nats-server {meta['nats_server']}.",
           f"Command: `{meta['command']}` ({how}, fresh server per run).", *notes, "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out) + "\n"


def text_table(rows: list[dict]) -> str:
    return text_grid(HEAD, table_rows(rows))


def markdown(rows: list[dict], meta: dict) -> str:
    return markdown_grid(HEAD, table_rows(rows), meta, f"{meta['rounds']} interleaved rounds", notes(rows, meta))


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["scenario", "generator", "natsx_rate", "natsx_min", "natsx_max", "natsx_p50_us",
                "natsx_cpu_s_per_1m_msgs", "nats_server_rate", "nats_server_min", "nats_server_max",
                "nats_server_p50_us", "nats_server_cpu_s_per_1m_msgs", "ratio", "ratio_min", "ratio_max",
                "cpu_ratio", "cpu_ratio_min", "cpu_ratio_max"])
    for r in rows:
        a, b = r.get(NATSX) or {}, r.get(REF) or {}
        w.writerow([r["scenario"], r.get("generator"), a.get("rate"), a.get("min"), a.get("max"), a.get("p50_us"),
                    a.get("server_cpu_per_1m"), b.get("rate"), b.get("min"), b.get("max"), b.get("p50_us"),
                    b.get("server_cpu_per_1m"), r.get("ratio"), r.get("ratio_min"), r.get("ratio_max"),
                    r.get("cpu_ratio"), r.get("cpu_ratio_min"), r.get("cpu_ratio_max")])
    return buf.getvalue()


def nats_server_version() -> str:
    exe = shutil.which("nats-server")
    if not exe:
        return "?"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    return out.split()[-1] if out else "?"


def nats_go_version() -> str:
    """Debian's nats.go package version (what bench/gobuild.py builds against)."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "golang-github-nats-io-go-nats-dev"],
                         capture_output=True, text=True)
    return out.stdout.strip().split("-")[0] if out.returncode == 0 and out.stdout.strip() else "?"


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per scenario (default 5)")
    ap.add_argument("--quick", action="store_true", help="small counts and 1 round unless --rounds is given")
    ap.add_argument("--core", action="store_true", help="only the core NATS scenarios")
    ap.add_argument("-k", action="append", default=[], help="only scenarios whose name contains this text")
    ap.add_argument("--servers", default=None, help="comma-separated: natsx,nats-server "
                                                    "(default $NATSX_TEST_SERVERS or both)")
    ap.add_argument("--generator", choices=GENERATORS, default=NATSX_BENCH,
                    help="the load generator: natsx bench (default) or go, nats.go's reference programs "
                         "(bench/go_reference, built offline from Debian's nats.go)")
    ap.add_argument("--markdown", help="write the table as Markdown")
    ap.add_argument("--rst", help="write the table as a reStructuredText grid table")
    ap.add_argument("--csv", help="write the table as CSV")
    ap.add_argument("--json", help="write every figure as JSON")
    args = ap.parse_args(argv)
    if args.quick and "--rounds" not in (argv if argv is not None else sys.argv[1:]):
        args.rounds = 1
    servers = [s.strip() for s in args.servers.split(",")] if args.servers else selected_servers()
    if any(s not in KINDS for s in servers):
        ap.error(f"--servers: use {KINDS}")
    chosen = [s for s in SCENARIOS if (not args.core or s.core) and (not args.k or any(k in s.name for k in args.k))]
    rows = measure(chosen, servers, args.rounds, args.quick, echo=lambda m: print(m, file=sys.stderr, flush=True),
                   generator=args.generator)
    meta = {"date": datetime.date.today().isoformat(), "machine": machine(), "rounds": args.rounds,
            "quick": args.quick, "servers": servers, "nats_server": nats_server_version(),
            "generator": generator_label(args.generator),
            "command": "python -m bench.compare " + " ".join(argv if argv is not None else sys.argv[1:])}
    print(text_table(rows))
    print("\n".join(notes(rows, meta)))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(rows, meta))
    if args.rst:
        with open(args.rst, "w") as f:
            f.write(rst_grid(HEAD, table_rows(rows)))
    if args.csv:
        with open(args.csv, "w") as f:
            f.write(to_csv(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
