#!/usr/bin/env bash
# Coverage-guided fuzzing of the Cython kernels with atheris/libFuzzer.
#
# atheris instruments Python code only; the kernels are C, so they are rebuilt here with clang's
# -fsanitize=fuzzer-no-link into a scratch copy of the package, and run with libFuzzer's runtime
# preloaded. Needs clang (apt-get install clang) and atheris (pip install atheris).
#
#   bash tests/fuzz/run_instrumented.sh [TARGET.py] [libFuzzer flags]
#   bash tests/fuzz/run_instrumented.sh -runs=5000000                       # fuzz_parser.py
#   bash tests/fuzz/run_instrumented.sh fuzz_server.py -max_total_time=600  # parser+conn+sublist
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$root/natsx" "$work/"
target="fuzz_parser.py"
if [ $# -gt 0 ] && [[ "$1" == *.py ]]; then target="$1"; shift; fi
kernels=natsx/_core/parser.pyx,natsx/_core/sublist.pyx,natsx/_core/conn.pyx
rm -f "$work"/natsx/_core/{parser,sublist,conn}*.so
(cd "$root" && CC=clang LDSHARED="clang -shared" CFLAGS="-fsanitize=fuzzer-no-link" \
    NATSX_ONLY="$kernels" python3 setup.py -q build_ext --build-lib "$work" -t "$work/tmp")
runtime="$(python3 -c 'import atheris; print(atheris.path())')/ubsan_with_fuzzer.so"
cd "$work"
PYTHONPATH="$work" LD_PRELOAD="$runtime" python3 "$root/tests/fuzz/$target" "$@"
