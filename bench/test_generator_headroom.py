"""`natsx bench` must never be what limits a measurement (issue: "a client that is never the
bottleneck"). For each scenario with a nats CLI reference figure, the generator's own capacity
must reach that figure:

- its ceiling, messages per CPU second of the measured natsx bench process while it drives
  nats-server, is at least the reference rate (one core of natsx bench keeps up with it);
- where natsx has the feature, natsx bench driving natsx (a server that keeps up) gets at
  least 90% of the reference rate, and its request/reply p50 is within the reference's.

    pytest bench/test_generator_headroom.py --benchmark-only -s
    python -m bench.headroom --rounds 3          # the same figures as a table
"""
import pytest

from bench.headroom import REFERENCES, measure
from bench.servers import NATSX, REF


@pytest.mark.parametrize("ref", REFERENCES, ids=[r.scenario for r in REFERENCES])
def test_generator_headroom(benchmark, request, ref):
    quick = request.config.getoption("--bench-quick")
    rounds = 1 if quick else min(3, request.config.getoption("--bench-rounds"))
    rows = []
    benchmark.pedantic(lambda: rows.append(measure(ref, rounds, quick)), rounds=1, iterations=1)
    row = rows[0]
    on_ref, on_natsx = row[REF], row.get(NATSX)
    benchmark.extra_info.update({"reference": ref.text, "nats-server msgs/s": on_ref["rate"],
                                 "nats-server p50 us": on_ref["p50_us"], "ceiling msgs/cpu-s": on_ref["ceiling"]})
    if on_natsx:
        benchmark.extra_info.update({"natsx msgs/s": on_natsx["rate"], "natsx p50 us": on_natsx["p50_us"]})
    print(f"\n{ref.scenario}: reference {ref.text}; natsx bench -> nats-server {on_ref['rate']:,.0f} msgs/s; "
          f"ceiling {on_ref['ceiling']:,.0f} msgs/CPU-s; -> natsx "
          f"{on_natsx['rate'] if on_natsx else 'n/a'}")
    if quick:
        return      # small counts: connection set-up dominates the CPU figures
    if ref.rate:
        assert on_ref["ceiling"] >= ref.rate, "natsx bench would itself be the limit at the reference rate"
        if on_natsx:
            assert on_natsx["rate"] >= 0.9 * ref.rate
    if ref.p50_us and on_natsx:
        assert on_natsx["p50_us"] <= ref.p50_us
