"""nats.go (Debian's) on the JetStream read side: GetMsg / GetLastMsg through the API and direct,
DirectGetNext, DeleteMsg / SecureDeleteMsg and a KV get, the same lines from natsx as from
nats-server (tests/clients/go/jsread/jsread.go)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.gobuild import build_go_program
from tests.jetstream.readhelp import pair  # noqa: F401 (fixture)

PROGRAM = Path(__file__).resolve().parent.parent / "clients" / "go" / "jsread" / "jsread.go"


@pytest.fixture(scope="session")
def jsread_go(tmp_path_factory) -> Path:
    return build_go_program(PROGRAM, tmp_path_factory.mktemp("gopath"), "jsread")


def test_nats_go_reads_like_nats_server(pair, jsread_go):
    outputs = {}
    for kind, srv in pair.servers.items():
        out = subprocess.run([str(jsread_go), srv.url], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (kind, out.stderr[-2000:])
        outputs[kind] = out.stdout.splitlines()
    assert len({tuple(v) for v in outputs.values()}) == 1, outputs
    lines = next(iter(outputs.values()))
    assert 'direct 1: g.1 1 "one" "y"' in lines and 'kv get: k "v2" 2' in lines
