#!/usr/bin/env bash
# Coverage-guided fuzzing of the Cython parser with atheris/libFuzzer.
#
# atheris instruments Python code only; the parser is C, so it is rebuilt here with clang's
# -fsanitize=fuzzer-no-link into a scratch copy of the package, and run with libFuzzer's runtime
# preloaded. Needs clang (apt-get install clang) and atheris (pip install atheris).
#
#   bash tests/fuzz/run_instrumented.sh -runs=5000000          # millions of inputs
#   bash tests/fuzz/run_instrumented.sh -max_total_time=600
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$root/natsx" "$work/"
rm -f "$work"/natsx/_core/parser*.so
(cd "$root" && CC=clang LDSHARED="clang -shared" CFLAGS="-fsanitize=fuzzer-no-link" \
    NATSX_ONLY=natsx/_core/parser.pyx python3 setup.py -q build_ext --build-lib "$work" -t "$work/tmp")
runtime="$(python3 -c 'import atheris; print(atheris.path())')/ubsan_with_fuzzer.so"
cd "$work"
PYTHONPATH="$work" LD_PRELOAD="$runtime" python3 "$root/tests/fuzz/fuzz_parser.py" "$@"
