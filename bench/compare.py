"""Side-by-side comparison: every scenario on natsx and nats-server, interleaved A B A B.

    python -m bench.compare --quick                     # small counts, one round (smoke)
    python -m bench.compare --rounds 5 --markdown out.md --csv out.csv --json out.json
    python -m bench.compare --core --rounds 5           # only the core NATS scenarios
    python -m bench.compare -k "1->1" -k publish        # scenarios whose name contains a text

Each measurement starts the server afresh (new port, new store directory). The figure per
server is the median over rounds; the ratio is the median of the per-round ratios
natsx / nats-server, with their min..max as the spread. On a shared, noisy machine only
ratios from one interleaved run are worth comparing.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import platform
import statistics
import sys
from typing import Optional

from bench.servers import KINDS, NATSX, REF, selected_servers
from bench.suite import SCENARIOS, RunError, Scenario, run_on_fresh_server


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


def measure(scenarios: list[Scenario], servers: list[str], rounds: int, quick: bool,
            echo=print) -> list[dict]:
    """Run every scenario `rounds` times on each server, alternating servers within a round."""
    rows = []
    for sc in scenarios:
        runs: dict[str, list] = {k: [] for k in servers}
        errors: dict[str, str] = {}
        for r in range(rounds):
            for kind in servers:
                if kind in errors:
                    continue
                try:
                    res = run_on_fresh_server(sc, kind, quick)
                except (RunError, RuntimeError, OSError) as e:
                    errors[kind] = str(e)[:200]
                    echo(f"  {sc.name} on {kind}: failed: {errors[kind]}")
                    continue
                runs[kind].append(res)
                p50 = f", p50 {res['p50_us']:.0f}us" if res.get("p50_us") else ""
                echo(f"  {sc.name} round {r + 1} {kind}: {res['rate']:,} msgs/s{p50}")
        rows.append(summarize(sc, runs, errors))
    return rows


def _med(xs: list) -> Optional[float]:
    return statistics.median(xs) if xs else None


def summarize(sc: Scenario, runs: dict, errors: dict) -> dict:
    row = {"scenario": sc.name, "core": sc.core, "errors": errors}
    for kind, res in runs.items():
        rates = [x["rate"] for x in res]
        p50s = [x["p50_us"] for x in res if x.get("p50_us")]
        row[kind] = {"rate": _med(rates), "min": min(rates) if rates else None,
                     "max": max(rates) if rates else None, "p50_us": _med(p50s), "rounds": len(rates)}
    a, b = runs.get(NATSX, []), runs.get(REF, [])
    ratios = [x["rate"] / y["rate"] for x, y in zip(a, b) if y["rate"]]
    row["ratio"] = _med(ratios)
    row["ratio_min"] = min(ratios) if ratios else None
    row["ratio_max"] = max(ratios) if ratios else None
    return row


def _fmt_rate(cell: Optional[dict]) -> str:
    if not cell or cell.get("rate") is None:
        return "n/a"
    s = f"{int(cell['rate']):,}"
    if cell.get("p50_us"):
        s += f" (p50 {cell['p50_us']:.0f} µs)"
    return s


def _fmt_ratio(row: dict) -> str:
    if row.get("ratio") is None:
        return "n/a"
    return f"{row['ratio']:.2f}× ({row['ratio_min']:.2f}–{row['ratio_max']:.2f})"


def table_rows(rows: list[dict]) -> list[list[str]]:
    return [[r["scenario"], _fmt_rate(r.get(NATSX)), _fmt_rate(r.get(REF)), _fmt_ratio(r)] for r in rows]


HEAD = ["scenario", "natsx msgs/s", "nats-server msgs/s", "natsx / nats-server (spread)"]


def text_grid(head: list[str], body: list[list[str]]) -> str:
    """Columns padded to their widest cell, a dashed line under the head."""
    body = [head] + body
    widths = [max(len(r[i]) for r in body) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_grid(head: list[str], body: list[list[str]], meta: dict, how: str) -> str:
    """A Markdown table under a line saying when, where and with which command it was measured."""
    out = [f"Measured {meta['date']} on {meta['machine']}; nats-server {meta['nats_server']}.",
           f"Command: `{meta['command']}` ({how}, fresh server per run).", "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out) + "\n"


def text_table(rows: list[dict]) -> str:
    return text_grid(HEAD, table_rows(rows))


def markdown(rows: list[dict], meta: dict) -> str:
    return markdown_grid(HEAD, table_rows(rows), meta, f"{meta['rounds']} interleaved rounds")


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["scenario", "natsx_rate", "natsx_min", "natsx_max", "natsx_p50_us", "nats_server_rate",
                "nats_server_min", "nats_server_max", "nats_server_p50_us", "ratio", "ratio_min", "ratio_max"])
    for r in rows:
        a, b = r.get(NATSX) or {}, r.get(REF) or {}
        w.writerow([r["scenario"], a.get("rate"), a.get("min"), a.get("max"), a.get("p50_us"), b.get("rate"),
                    b.get("min"), b.get("max"), b.get("p50_us"), r.get("ratio"), r.get("ratio_min"),
                    r.get("ratio_max")])
    return buf.getvalue()


def nats_server_version() -> str:
    import shutil
    import subprocess
    exe = shutil.which("nats-server")
    if not exe:
        return "?"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    return out.split()[-1] if out else "?"


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per scenario (default 5)")
    ap.add_argument("--quick", action="store_true", help="small counts and 1 round unless --rounds is given")
    ap.add_argument("--core", action="store_true", help="only the core NATS scenarios")
    ap.add_argument("-k", action="append", default=[], help="only scenarios whose name contains this text")
    ap.add_argument("--servers", default=None, help="comma-separated: natsx,nats-server "
                                                    "(default $NATSX_TEST_SERVERS or both)")
    ap.add_argument("--markdown", help="write the table as Markdown")
    ap.add_argument("--csv", help="write the table as CSV")
    ap.add_argument("--json", help="write every figure as JSON")
    args = ap.parse_args(argv)
    if args.quick and "--rounds" not in (argv if argv is not None else sys.argv[1:]):
        args.rounds = 1
    servers = [s.strip() for s in args.servers.split(",")] if args.servers else selected_servers()
    if any(s not in KINDS for s in servers):
        ap.error(f"--servers: use {KINDS}")
    chosen = [s for s in SCENARIOS if (not args.core or s.core) and (not args.k or any(k in s.name for k in args.k))]
    rows = measure(chosen, servers, args.rounds, args.quick, echo=lambda m: print(m, file=sys.stderr, flush=True))
    meta = {"date": datetime.date.today().isoformat(), "machine": machine(), "rounds": args.rounds,
            "quick": args.quick, "servers": servers, "nats_server": nats_server_version(),
            "command": "python -m bench.compare " + " ".join(argv if argv is not None else sys.argv[1:])}
    print(text_table(rows))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(rows, meta))
    if args.csv:
        with open(args.csv, "w") as f:
            f.write(to_csv(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
