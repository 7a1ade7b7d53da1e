#!/usr/bin/env bash
# Install natsx with its test extra (compiles the Cython kernels), the official C and Go clients the
# client tests build against (Debian packages), and run the whole suite.
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
python3 -m pytest -q "$@"
