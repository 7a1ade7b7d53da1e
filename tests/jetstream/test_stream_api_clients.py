"""Official clients other than nats-py managing streams (nats.js's jsm.streams), on nats-server and
natsx (server_kind): tests/clients/js/streams.mjs makes its own checks."""
from __future__ import annotations

import subprocess

from test_client_nats_js import JS_DIR, nats_js  # noqa: F401  (the fixture installs nats.js)


def test_nats_js_stream_management(nats_js, server_factory, tmp_path):  # noqa: F811
    srv = server_factory(["-js", "-sd", str(tmp_path / "store")])
    out = subprocess.run(["node", str(JS_DIR / "streams.mjs"), srv.url], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok 10"
