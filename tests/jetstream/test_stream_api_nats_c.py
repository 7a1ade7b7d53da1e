"""nats.c (Debian's libnats, the official C client) managing a stream and publishing into it:
tests/clients/c/jetstream.c prints every answer (status, JetStream error code and description, acks,
stream state, messages; no times), and natsx must print exactly what nats-server prints."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REF, ServerFactory, selected_kinds

C_PROGRAM = Path(__file__).resolve().parent.parent / "clients" / "c" / "jetstream.c"


@pytest.fixture(scope="module")
def nats_c_jetstream(tmp_path_factory) -> Path:
    assert shutil.which("gcc") and Path("/usr/include/nats/nats.h").exists(), \
        "nats.c is needed: apt-get install libnats-dev (ci/test.sh does)"
    exe = tmp_path_factory.mktemp("natsc") / "jetstream"
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(exe), str(C_PROGRAM), "-lnats"],
                   check=True, timeout=120)
    return exe


def run_against(kind: str, exe: Path, tmp_path: Path) -> list[str]:
    factory = ServerFactory(kind, tmp_path / kind)
    try:
        store = tmp_path / kind / "store"
        store.mkdir(parents=True)
        srv = factory(["-js", "-sd", str(store)])
        out = subprocess.run([str(exe), srv.url], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout.splitlines()
    finally:
        factory.close()


def test_nats_c_stream_management_and_publish_match_nats_server(nats_c_jetstream, tmp_path):
    outputs = {kind: run_against(kind, nats_c_jetstream, tmp_path) for kind in {*selected_kinds(), REF}}
    reference = outputs[REF]
    # the program reached every step: acks, dedupe, the expected-sequence error, purges, deletes
    assert len(reference) == 42, reference
    assert "publish same id: stream=CS seq=1 duplicate=1" in reference
    assert any(line.startswith("publish expecting last 1: Error err_code=10071") for line in reference)
    for kind, lines in outputs.items():
        assert lines == reference, (kind, [(a, b) for a, b in zip(lines, reference) if a != b])
