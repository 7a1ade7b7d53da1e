"""INFO, the /varz identity fields, the ports file and natsx run under nats-server's name, each
compared with what nats-server does for the same start: the same keys in the same order, values of
the same shape."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import NATSX, REF, RawClient, ServerProcess, free_port, split_infos, stable_info, wait_for
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
        client.close()


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


def test_async_info_keys_match_nats_server(tmp_path):
    """The INFO confirming CONNECT (after the first PONG) and the lame duck INFO: same key lists."""
    seen = {}
    for kind in (REF, NATSX):
        srv = ServerProcess(kind, tmp_path).start(config="lame_duck_duration: 30s\nlame_duck_grace_period: 1s\n")
        client = RawClient(srv.host, srv.port)
        try:
            client.transact(b'CONNECT {"protocol":1,"verbose":false}\r\n')
            srv.signal(signal.SIGUSR2)
            _, infos = split_infos(client.read_until(lambda b: b'"ldm":true' in b, timeout=10))
            seen[kind] = [list(info) for info in infos]
        finally:
            client.close()
            srv.kill()
    assert seen[NATSX] == seen[REF]
    assert [("connect_info" in keys, "ldm" in keys) for keys in seen[REF]] == [(True, False), (False, True)]


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


@pytest.fixture
def natsx_as_nats_server(tmp_path) -> tuple[Path, dict[str, str]]:
    """natsx installed under nats-server's name: a launcher like the `natsx` console script and a
    `nats-server` symlink to it (how a drop-in replaces the binary); with the env to run this tree."""
    launcher = tmp_path / "bin" / "natsx"
    launcher.parent.mkdir()
    launcher.write_text(f"#!{sys.executable}\nimport sys\nfrom natsx.cli import main\nsys.exit(main())\n")
    launcher.chmod(0o755)
    (tmp_path / "bin" / "nats-server").symlink_to(launcher)
    return tmp_path / "bin" / "nats-server", dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))


def start_program(exe: Path, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(exe), *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def stop_program(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def test_ports_file_named_after_the_program(tmp_path, natsx_as_nats_server):
    """Run as nats-server, natsx writes nats-server_<pid>.ports, as a drop-in must."""
    exe, env = natsx_as_nats_server
    directory = tmp_path / "ports"
    directory.mkdir()
    proc = start_program(exe, ["-a", "127.0.0.1", "-p", str(free_port()), "--ports_file_dir", str(directory)], env)
    path = directory / f"nats-server_{proc.pid}.ports"
    try:
        wait_for(lambda: path.exists() and path.read_text().endswith("}"), what=str(path))
        assert list(json.loads(path.read_text())) == ["nats"]
    finally:
        stop_program(proc)
    assert not path.exists()


@pytest.mark.parametrize("kind", [REF, NATSX])
def test_nats_py_harness_command_line(kind, natsx_as_nats_server):
    """nats.py's test harness runs `nats-server -p P -m H -a 127.0.0.1` and polls /varz (100 tries,
    0.1 s apart) before each test. natsx under that name used to exit on the missing `serve`
    subcommand, so every poll failed: tests needing no server (ConnectFailuresTest::
    test_connect_timeout) took 10 s longer, the others failed. Both must answer /varz and CONNECT."""
    exe, env = natsx_as_nats_server if kind == NATSX else (Path(shutil.which("nats-server") or "nats-server"), None)
    port, http_port = free_port(), free_port()
    proc = start_program(exe, ["-p", str(port), "-m", str(http_port), "-a", "127.0.0.1"], env)
    try:
        def varz_ok() -> bool:
            assert proc.poll() is None, f"{kind} exited with {proc.returncode}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/varz", timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for(varz_ok, what=f"{kind} /varz")
        client = RawClient("127.0.0.1", port)
        try:
            assert client.info["port"] == port
            assert client.transact(b'CONNECT {"verbose":false}\r\n') == b""
        finally:
            client.close()
    finally:
        stop_program(proc)
