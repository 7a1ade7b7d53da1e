#!/usr/bin/env bash
# Install natsx with its test extra (compiles the Cython kernels), the official C and Go clients the
# client tests build against (Debian packages), nats-core (the new official Python client, which needs
# Python >= 3.13) in its own venv when a 3.13 interpreter is found, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v go >/dev/null || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/nats-io/nats.go ] || need+=(golang-github-nats-io-go-nats-dev)
[ -e /usr/include/nats/nats.h ] || need+=(libnats-dev)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -m pip install -q -e ".[test]"
py313=""
for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 python3.13; do
    if "$cand" -c 'import sys; assert sys.version_info >= (3, 13)' 2>/dev/null; then py313="$cand"; break; fi
done
if [ -n "$py313" ]; then
    # tests/test_client_nats_core.py runs its client script with .venv-py313/bin/python
    [ -x .venv-py313/bin/python ] || "$py313" -m venv .venv-py313
    .venv-py313/bin/python -m pip install -q --disable-pip-version-check "nats-core[nkeys]==0.2.0"
else
    echo "ci/test.sh: no Python 3.13 found; the nats-core client tests will be skipped" >&2
fi
python3 -m pytest -q "$@"
