"""natsx vs nats-server, scenario by scenario, interleaved A B A B (fresh server per run).

Each benchmark round runs the scenario once on each selected server (NATSX_TEST_SERVERS,
default both); pytest-benchmark times the rounds, and extra_info carries what counts: each
server's median msgs/s (and p50 latency) and server CPU seconds per million messages, the
median natsx / nats-server ratio and its spread.
JetStream scenarios natsx cannot run yet (consumers, KV watch) record natsx as unavailable.
"""
import pytest

from bench.compare import summarize, text_table
from bench.servers import REF, selected_servers
from bench.suite import SCENARIOS, RunError, run_on_fresh_server

SERVERS = selected_servers()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_side_by_side(benchmark, request, scenario):
    quick = request.config.getoption("--bench-quick")
    rounds = 1 if quick else request.config.getoption("--bench-rounds")
    runs = {k: [] for k in SERVERS}
    errors = {}

    def one_round():
        for kind in SERVERS:
            if kind in errors:
                continue
            try:
                runs[kind].append(run_on_fresh_server(scenario, kind, quick))
            except RunError as e:
                if kind == REF or not scenario.jetstream:
                    raise
                errors[kind] = str(e)[:200]

    benchmark.pedantic(one_round, rounds=rounds, iterations=1)
    row = summarize(scenario, runs, errors)
    for kind in SERVERS:
        cell = row.get(kind) or {}
        benchmark.extra_info[f"{kind} msgs/s"] = cell.get("rate")
        if cell.get("p50_us"):
            benchmark.extra_info[f"{kind} p50 us"] = round(cell["p50_us"], 1)
        if cell.get("server_cpu_per_1m") is not None:
            benchmark.extra_info[f"{kind} server CPU s per 1M msgs"] = round(cell["server_cpu_per_1m"], 3)
    if row.get("ratio") is not None:
        benchmark.extra_info["ratio"] = round(row["ratio"], 3)
        benchmark.extra_info["ratio spread"] = f"{row['ratio_min']:.2f}-{row['ratio_max']:.2f}"
    if row.get("cpu_ratio") is not None:
        benchmark.extra_info["CPU per msg ratio nats-server / natsx"] = round(row["cpu_ratio"], 3)
    if errors:
        benchmark.extra_info["unavailable"] = errors
    print("\n" + text_table([row]))
    assert all(len(runs[k]) == rounds for k in SERVERS if k not in errors)
    assert all(r["rate"] > 0 for k in runs for r in runs[k])
