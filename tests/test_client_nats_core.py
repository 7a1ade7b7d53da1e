"""nats-core, the official Python client for Python >= 3.13, against each server.

nats-core cannot be imported by the suite's own interpreter, so ci/test.sh installs it into
.venv-py313/ (when it finds a Python 3.13) and the test runs tests/clients/python313/nats_core_check.py
with that venv's interpreter as a separate process.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv-py313" / "bin" / "python"
CHECK = Path(__file__).parent / "clients" / "python313" / "nats_core_check.py"
CHECKS = ["connect", "pub_sub", "queue_group", "request_reply", "headers", "no_responders", "closed"]


def _nats_core_python() -> Path:
    if not VENV_PYTHON.exists():
        pytest.skip(f"no Python 3.13 venv at {VENV_PYTHON.parent.parent} (ci/test.sh makes one with "
                    "nats-core when it finds python3.13; nats-core needs Python >= 3.13)")
    return VENV_PYTHON


def run_check(url: str, *args: str) -> list[dict]:
    out = subprocess.run([str(_nats_core_python()), str(CHECK), url, *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_nats_core_core_messaging(server_factory):
    srv = server_factory()
    results = run_check(srv.url)
    assert [r["check"] for r in results] == CHECKS
    connect = results[0]
    assert connect["headers"] is True and connect["auth_required"] is False
    assert connect["max_payload"] == 1048576 and connect["go"]
    by_check = {r["check"]: r for r in results}
    assert by_check["pub_sub"]["messages"] == 100
    assert by_check["queue_group"]["messages"] == 30
    assert by_check["request_reply"]["replies"] == 10
    assert by_check["headers"]["one"] == "1" and by_check["headers"]["many"] == ["a", "b"]
    assert by_check["no_responders"]["status"] == "503"


@pytest.mark.parametrize("flags,client_args", [
    (["--user", "u", "--pass", "p"], ["--user", "u", "--password", "p"]),
    (["--auth", "t0k"], ["--token", "t0k"]),
], ids=["user_password", "token"])
def test_nats_core_authenticates(server_factory, flags, client_args):
    srv = server_factory(flags)
    results = run_check(srv.url, *client_args)
    assert [r["check"] for r in results] == CHECKS
    assert results[0]["auth_required"] is True
