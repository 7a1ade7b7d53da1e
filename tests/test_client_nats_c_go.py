"""nats.c and nats.go, the official C and Go clients, against the server.

Both come from Debian (libnats-dev; golang-go + golang-github-nats-io-go-nats-dev), which
ci/test.sh installs; the checks are tests/clients/c/check.c and tests/clients/go/check.go.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.gobuild import build_go_program  # noqa: E402

CLIENTS = Path(__file__).parent / "clients"


@pytest.fixture(scope="session")
def nats_c_check(tmp_path_factory) -> Path:
    assert shutil.which("gcc") and Path("/usr/include/nats/nats.h").exists(), \
        "nats.c is needed: apt-get install libnats-dev (ci/test.sh does)"
    exe = tmp_path_factory.mktemp("natsc") / "check"
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(exe), str(CLIENTS / "c" / "check.c"), "-lnats"],
                   check=True, timeout=120)
    return exe


@pytest.fixture(scope="session")
def nats_go_check(tmp_path_factory) -> Path:
    return build_go_program(CLIENTS / "go" / "check.go", tmp_path_factory.mktemp("gopath"), "natsxcheck")


@pytest.mark.parametrize("client", ["c", "go"])
def test_official_client(client, request, server_factory):
    exe = request.getfixturevalue(f"nats_{client}_check")
    srv = server_factory()
    out = subprocess.run([str(exe), srv.url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == {"c": "ok 21", "go": "ok 15"}[client]
