"""Coverage-guided fuzz target for the protocol parser (atheris).

    pip install atheris && apt-get install clang
    bash tests/fuzz/run_instrumented.sh -runs=5000000       # millions of inputs, coverage-guided
    bash tests/fuzz/run_instrumented.sh -max_total_time=600

(run_instrumented.sh rebuilds the parser with libFuzzer coverage; running this file directly
works too, but then libFuzzer sees no coverage inside the C parser and mutates blindly.)
A 2-minute run does about 2 million inputs; it found the zero-copy error-state bug pinned in
tests/test_parser.py.

Each input is fed to a server-side and a client-side parser, whole and split at the
positions the first bytes choose; the parser must never crash, and both splits must
report the same operations.
"""
from __future__ import annotations

import sys

from natsx._core.parser import RecordingParser, Role


def check(data: bytes) -> None:
    if not data:
        return
    cut = data[0] % max(len(data), 1)
    body = data[1:]
    for role in (Role.ROLE_CLIENT, Role.ROLE_CLIENT_SIDE):
        whole = RecordingParser(role)
        whole.parse(body)
        split = RecordingParser(role)
        split.parse(body[:cut])
        split.parse(body[cut:])
        if whole.ops != split.ops:
            raise AssertionError((body, cut, whole.ops, split.ops))


def main() -> None:
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
