"""pytest options for the side-by-side suite.

    pytest bench/test_core_bench.py --benchmark-only                  # 5 interleaved rounds
    pytest bench/test_core_bench.py --bench-rounds 7 -k "1->1"
    pytest bench/test_core_bench.py --bench-quick                     # small counts, 1 round
"""
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def pytest_addoption(parser):
    group = parser.getgroup("natsx side-by-side")
    group.addoption("--bench-rounds", type=int, default=5, help="interleaved natsx/nats-server rounds (default 5)")
    group.addoption("--bench-quick", action="store_true", help="small message counts and one round")
