"""nats.js, the official Node client, against the server: its own checks in tests/clients/js/check.mjs.

The test installs the pinned client with npm (the npm registry is reachable wherever the tests run).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS_DIR = Path(__file__).parent / "clients" / "js"


@pytest.fixture(scope="session")
def nats_js() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed for the nats.js tests (install nodejs)"
    if not (JS_DIR / "node_modules" / "nats").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=JS_DIR, check=True, timeout=300)
    return JS_DIR / "check.mjs"


def test_nats_js_client(nats_js, server_factory):
    srv = server_factory()
    out = subprocess.run(["node", str(nats_js), srv.url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok 7"
