#!/usr/bin/env bash
# Install natsx with its test extra (compiles the Cython kernels) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e ".[test]"
python3 -m pytest -q "$@"
