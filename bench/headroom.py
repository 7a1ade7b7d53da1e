"""Is `natsx bench` ever the bottleneck? Its figures next to the nats CLI's on this machine.

    python -m bench.headroom --rounds 3 --markdown headroom.md --json headroom.json

The issue that asked for `natsx bench` gives the figures the nats CLI measured nats-server
2.15.1 at on this kind of machine. For each of those scenarios this runs `natsx bench`
against nats-server (the figure to put next to the reference), against natsx where natsx has
the feature (a server that keeps up shows what the generator itself can drive), and reads
the CPU seconds the measured `natsx bench` process spent: messages / CPU seconds is the rate
one core of the generator sustains, its ceiling. When that ceiling and the natsx-side figure
are well above the reference while the nats-server figure is below it, the server (or the
machine) is the limit, not the generator.

With --go, each round also runs nats.go (the library the nats CLI is built on) doing the same
against a fresh nats-server (bench/go_reference, built offline with Debian's nats.go), and the
table gets the per-round ratio natsx bench / nats.go: on these noisy machines the interleaved
ratio, not an absolute figure from another day, says whether natsx bench drives nats-server
as hard as a nats.go client does.
"""
from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional

from bench.compare import machine, markdown_grid, nats_server_version, text_grid
from bench.servers import NATSX, REF
from bench.suite import BY_NAME, GO_JS_FETCH, GoGenerator, GoRun, RunError, Scenario, run_on_fresh_server

GO = "nats.go"


@dataclass
class Reference:
    scenario: str                      # a name in bench.suite.SCENARIOS
    rate: Optional[int]                # the nats CLI's figure (low end), msgs/s; None: latency only
    text: str                          # the figure as the issue states it
    p50_us: Optional[float] = None     # latency reference (high end), µs
    go: Optional[GoRun] = None         # nats.go's load for --go, if not the scenario's own


REFERENCES = [
    Reference("publish 16B", 5_200_000, "5.2M msgs/s"),
    Reference("1->1 16B", 1_800_000, "1.8–1.9M msgs/s"),
    Reference("1->5 fan-out 16B", 3_500_000, "3.5–3.9M msgs/s delivered"),
    Reference("JS publish async file", 200_000, "~200k msgs/s"),
    # nats.go 1.22 (Debian) has no Consume(): its durable consumer is fetch + ack.
    Reference("JS durable consume", 200_000, "~200k msgs/s", go=GO_JS_FETCH),
    Reference("request/reply 1 client", None, "p50 100–130 µs", p50_us=130.0),
]


def ceiling(res: dict) -> Optional[float]:
    """Messages per CPU second of the measured natsx bench process."""
    cpu = res.get("cpu_s")
    return res["msgs"] / cpu if cpu else None


def _median(xs: list) -> Optional[float]:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def measure(ref: Reference, rounds: int, quick: bool = False, echo=print,
            go: Optional[GoGenerator] = None) -> dict:
    """Run the reference scenario `rounds` times on nats-server and, where it can, on natsx
    (and with `go`, the same load from nats.go on nats-server)."""
    sc: Scenario = BY_NAME[ref.scenario]
    kinds = [REF] if sc.jetstream else [REF, NATSX]
    runs: dict[str, list] = {k: [] for k in kinds}
    go_rates: list[float] = []
    for r in range(rounds):
        for kind in kinds:
            res = run_on_fresh_server(sc, kind, quick)
            runs[kind].append(res)
            p50 = f", p50 {res['p50_us']:.0f} µs" if res.get("p50_us") else ""
            echo(f"  {sc.name} round {r + 1} {kind}: {res['rate']:,} msgs/s{p50}, "
                 f"generator {res['cpu_s']:.2f} CPU s for {res['msgs']:,} msgs")
        if go and (ref.go or sc.go):
            go_rates.append(run_on_fresh_server(sc, REF, quick, go=go, go_run=ref.go)["rate"])
            echo(f"  {sc.name} round {r + 1} {GO} on {REF}: {go_rates[-1]:,.0f} msgs/s")
    row: dict = {"scenario": ref.scenario, "reference": ref.text, "reference_rate": ref.rate,
                 "reference_p50_us": ref.p50_us}
    for kind in kinds:
        res = runs[kind]
        p50s = [x["p50_us"] for x in res if x.get("p50_us")]
        row[kind] = {"rate": _median([x["rate"] for x in res]), "best": max(x["rate"] for x in res),
                     "p50_us": _median(p50s), "best_p50_us": min(p50s) if p50s else None,
                     "ceiling": _median([ceiling(x) for x in res]), "rounds": len(res)}
    if go_rates:
        ratios = [x["rate"] / g for x, g in zip(runs[REF], go_rates)]
        row[GO] = {"rate": _median(go_rates), "best": max(go_rates), "ratio": _median(ratios),
                   "ratio_min": min(ratios), "ratio_max": max(ratios)}
    return row


def _m(v: Optional[float]) -> str:
    if v is None:
        return "n/a"
    return f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.0f}k"


def table_rows(rows: list[dict]) -> list[list[str]]:
    with_go = any(GO in r for r in rows)
    out = []
    for r in rows:
        ref, nx, go = r.get(REF) or {}, r.get(NATSX), r.get(GO)
        if r["reference_rate"]:
            share = (f"{ref['rate'] / r['reference_rate']:.0%} / {ref['best'] / r['reference_rate']:.0%}"
                     if ref.get("rate") else "n/a")
            row = [r["scenario"], r["reference"], f"{_m(ref.get('rate'))} / {_m(ref.get('best'))}", share,
                   _m(nx["rate"]) if nx else "n/a on natsx", _m(ref.get("ceiling"))]
        else:
            lat = f"p50 {ref['p50_us']:.0f} / {ref['best_p50_us']:.0f} µs" if ref.get("p50_us") else "n/a"
            nlat = f"p50 {nx['p50_us']:.0f} µs" if nx and nx.get("p50_us") else "n/a"
            row = [r["scenario"], r["reference"], lat, "", nlat, ""]
        if with_go:
            row += ([f"{_m(go['rate'])} / {_m(go['best'])}",
                     f"{go['ratio']:.2f}× ({go['ratio_min']:.2f}–{go['ratio_max']:.2f})"] if go else ["", ""])
        out.append(row)
    return out


HEAD = ["scenario", "nats CLI → nats-server (issue)", "natsx bench → nats-server (median / best)",
        "of the figure (median / best)",
        "natsx bench → natsx", "natsx bench ceiling (msgs per CPU s)"]
GO_HEAD = ["nats.go → nats-server (median / best)", "natsx bench / nats.go (spread)"]


def head(rows: list[dict]) -> list[str]:
    return HEAD + GO_HEAD if any(GO in r for r in rows) else HEAD


def main(argv: Optional[list] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.headroom", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="small counts (smoke)")
    p.add_argument("-k", dest="keys", action="append", default=[], help="only scenarios whose name contains this")
    p.add_argument("--markdown")
    p.add_argument("--json")
    p.add_argument("--go", action="store_true", help="also run nats.go's reference programs, interleaved")
    args = p.parse_args(argv)
    refs = [r for r in REFERENCES if not args.keys or any(k in r.scenario for k in args.keys)]
    rows = []
    go = GoGenerator() if args.go else None
    try:
        for ref in refs:
            rows.append(measure(ref, args.rounds, args.quick, go=go))
    except (RunError, RuntimeError, subprocess.CalledProcessError) as e:
        print(f"failed: {e}", file=sys.stderr)
        return 1
    finally:
        if go:
            go.close()
    print(text_grid(head(rows), table_rows(rows)))
    meta = {"date": datetime.date.today().isoformat(), "machine": machine(), "nats_server": nats_server_version(),
            "rounds": args.rounds, "command": "python -m bench.headroom " + " ".join(argv or sys.argv[1:])}
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_grid(head(rows), table_rows(rows), meta, f"medians of {args.rounds} rounds"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
