"""INFO, the /varz identity fields and the ports file, each compared with what nats-server writes
for the same start: the same keys in the same order, values of the same shape."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import NATSX, REF, RawClient, ServerProcess, free_port, stable_info, wait_for
from natsx import nkeys

# Configurations natsx and nats-server both serve in full (-js is not among them: natsx does not
# serve JetStream yet, and nats-server adds "jetstream": true for it).
CONFIGS = {
    "default": [],
    "user_password": ["--user", "u", "--pass", "p"],
    "token": ["--auth", "t0k"],
    "server_name": ["--name", "srv-a"],
}
SHORT_COMMIT_RE = re.compile(r"^[0-9a-f]{7}$")


def first_info(srv: ServerProcess) -> dict:
    client = RawClient(srv.host, srv.port)
    try:
        return client.info
    finally:
        client.sock.close()


@pytest.fixture
def pair(tmp_path):
    """Start one nats-server and one natsx with the same flags; both stopped at teardown."""
    started: list[ServerProcess] = []

    def start(args: list[str], monitor: bool = False) -> tuple[ServerProcess, ServerProcess]:
        for kind in (REF, NATSX):
            started.append(ServerProcess(kind, tmp_path / kind).start(args, monitor=monitor))
        return started[-2], started[-1]

    for kind in (REF, NATSX):
        (tmp_path / kind).mkdir()
    yield start
    for srv in started:
        srv.stop()


@pytest.mark.parametrize("config", CONFIGS)
def test_info_keys_and_order_match_nats_server(pair, config):
    ref, cand = pair(CONFIGS[config])
    ref_info, cand_info = first_info(ref), first_info(cand)
    assert list(cand_info) == list(ref_info)
    assert stable_info(cand_info) == stable_info(ref_info)


def test_info_identity_fields_are_honest(pair):
    ref, cand = pair([])
    ref_info, cand_info = first_info(ref), first_info(cand)
    for info in (ref_info, cand_info):
        # xkey is a real curve public key in nkeys' encoding: 'X' prefix, valid checksum, 32 bytes
        assert len(nkeys.decode(nkeys.PREFIX_CURVE, info["xkey"])) == 32
        assert SHORT_COMMIT_RE.match(info["git_commit"]), info["git_commit"]
        assert isinstance(info["go"], str) and info["go"]
    assert ref_info["go"].startswith("go")
    assert cand_info["go"].startswith("cpython") and "natsx" in cand_info["go"]
    # each start has its own curve key
    assert first_info(cand)["xkey"] == cand_info["xkey"]
    cand.restart()
    assert first_info(cand)["xkey"] != cand_info["xkey"]


def test_varz_identity_fields_match_info(pair):
    ref, cand = pair([], monitor=True)
    for srv in (ref, cand):
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.http_port}/varz", timeout=5) as r:
            varz = json.load(r)
        info = first_info(srv)
        assert varz["go"] == info["go"] and varz["git_commit"] == info["git_commit"]
        assert isinstance(varz["gomaxprocs"], int) and varz["gomaxprocs"] >= 1


# ---- ports file ---------------------------------------------------------------------------------

def ports_file(srv: ServerProcess, directory: Path, program: str) -> Path:
    assert srv.proc is not None
    path = directory / f"{program}_{srv.proc.pid}.ports"
    wait_for(path.exists, what=f"{path}")
    wait_for(lambda: path.read_text().endswith("}"), what=f"{path} written")
    return path


def without_ports(text: str, srv: ServerProcess) -> str:
    return text.replace(f":{srv.port}\"", ":NATS\"").replace(f":{srv.http_port}\"", ":HTTP\"")


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_ports_file_matches_nats_server(tmp_path, host):
    """Same name pattern, same compact JSON, the same URLs (every interface's for 0.0.0.0); removed
    when the server stops."""
    texts, paths = {}, {}
    for kind, program in ((REF, "nats-server"), (NATSX, "natsx")):
        directory = tmp_path / f"ports-{kind}"
        directory.mkdir()
        srv = ServerProcess(kind, tmp_path).start(["-a", host, "--ports_file_dir", str(directory)], monitor=True)
        try:
            paths[kind] = ports_file(srv, directory, program)
            texts[kind] = without_ports(paths[kind].read_text(), srv)
        finally:
            srv.stop()
        assert not paths[kind].exists(), f"{kind} left its ports file behind"
    assert texts[NATSX] == texts[REF]
    assert list(json.loads(texts[NATSX])) == ["nats", "monitoring"]


def test_ports_file_named_after_the_program(tmp_path):
    """Installed under nats-server's name (a script that runs natsx's main), natsx writes
    nats-server_<pid>.ports, as a drop-in must."""
    script = tmp_path / "bin" / "nats-server"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom natsx.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    directory = tmp_path / "ports"
    directory.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen([str(script), "serve", "-a", "127.0.0.1", "-p", str(free_port()),
                             "--ports_file_dir", str(directory)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        path = directory / f"nats-server_{proc.pid}.ports"
        wait_for(lambda: path.exists() and path.read_text().endswith("}"), what=str(path))
        assert list(json.loads(path.read_text())) == ["nats"]
    finally:
        proc.terminate()
        proc.wait(10)
    assert not path.exists()
