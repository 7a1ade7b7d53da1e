"""`natsx serve` as an operator runs it: flags, -t, --version, pid/ports files, SIGHUP reload,
JetStream flag, write_deadline. Where nats-server has the same behaviour, both are checked."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import pytest

from conftest import NATSX, REF, ServerProcess, raw_connect, server_command


def run_cli(kind: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(server_command(kind) + list(args), capture_output=True, text=True, timeout=60)


def test_version():
    out = subprocess.run([sys.executable, "-m", "natsx", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    import natsx

    assert natsx.__version__ in out.stdout


@pytest.mark.parametrize("text,valid", [
    ("port: 4222\n", True),
    ("port: 4222\nfoo: 1\n", False),
    ("authorization { user: a, password: b }\nmax_payload: 2MB\n", True),
    ("port: [\n", False),
    ('x = 5\nport: $x\nlisten: "127.0.0.1:4333"\nping_interval: "2m"\ndebug: true\n', True),
    ('jetstream { store_dir: "/tmp/js", max_mem: 1G }\nserver_name: "a<b>&c"\n', True),
])
def test_check_config_agrees_with_nats_server(tmp_path, text, valid):
    path = tmp_path / "s.conf"
    path.write_text(text)
    ours, ref = run_cli(NATSX, "-t", "-c", str(path)), run_cli(REF, "-t", "-c", str(path))
    assert (ours.returncode == 0) == (ref.returncode == 0) == valid
    # Same verdict line, digest of the parsed config included.
    assert ours.stderr.strip().splitlines()[0] == ref.stderr.strip().splitlines()[0]


def test_missing_config_file_is_reported_like_nats_server(tmp_path):
    missing = str(tmp_path / "nope.conf")
    ours, ref = run_cli(NATSX, "-c", missing), run_cli(REF, "-c", missing)
    assert ours.returncode == ref.returncode == 1
    assert ours.stderr.strip() == ref.stderr.strip()


def test_pid_and_ports_files(tmp_path):
    srv = ServerProcess(NATSX, tmp_path)
    pid_file = tmp_path / "natsx.pid"
    try:
        srv.start(["-P", str(pid_file), "--ports_file_dir", str(tmp_path)], monitor=True)
        assert int(pid_file.read_text()) == srv.proc.pid
        ports_files = list(tmp_path.glob(f"*_{srv.proc.pid}.ports"))
        assert len(ports_files) == 1
        ports = json.loads(ports_files[0].read_text())
        assert ports["nats"] == [f"nats://127.0.0.1:{srv.port}"]
        assert ports["monitoring"] == [f"http://127.0.0.1:{srv.http_port}"]
    finally:
        assert srv.stop() == 0


def test_jetstream_flag_is_accepted_and_reported(tmp_path):
    srv = ServerProcess(NATSX, tmp_path)
    try:
        srv.start(["-js", "-sd", str(tmp_path / "js")])
        assert "Starting JetStream" in srv.stderr   # tests/jetstream/test_js_enable.py has the rest
        c = raw_connect(srv)
        assert c.info["jetstream"] is True
        c.close()
    finally:
        srv.stop()


def test_sighup_reloads_auth(tmp_path):
    srv = ServerProcess(NATSX, tmp_path)
    try:
        srv.start(config='authorization { token: "first" }\n')
        c = raw_connect(srv, {"verbose": False, "auth_token": "first"})
        c.close()
        srv.config_path.write_text('authorization { token: "second" }\n')
        srv.signal(signal.SIGHUP)
        srv.wait_for_log("Reloaded server configuration", timeout=30)
        ok = raw_connect(srv, {"verbose": False, "auth_token": "second"})
        ok.close()
        bad = raw_connect(srv)
        bad.send(b'CONNECT {"verbose":false,"auth_token":"first"}\r\n')
        assert bad.read_until_closed(5) == b"-ERR 'Authorization Violation'\r\n"
    finally:
        srv.stop()


@pytest.mark.parametrize("kind", [NATSX, REF])
def test_sighup_keeps_flags_over_the_reread_file(kind, tmp_path):
    """A reload re-reads the file and applies the command line again: --auth given as a flag
    must not be lost (that would serve without authentication)."""
    srv = ServerProcess(kind, tmp_path)
    try:
        srv.start(["--auth", "fromflag"], config="max_payload: 1MB\n")
        srv.config_path.write_text("max_payload: 2MB\n")
        srv.signal(signal.SIGHUP)
        srv.wait_for_log("Reloaded server configuration", timeout=30)
        anonymous = raw_connect(srv)
        anonymous.send(b'CONNECT {"verbose":false}\r\n')
        assert anonymous.read_until_closed(5) == b"-ERR 'Authorization Violation'\r\n"
        ok = raw_connect(srv, {"verbose": False, "auth_token": "fromflag"})
        ok.close()
    finally:
        srv.stop()


def test_server_name_with_spaces_is_refused():
    for kind in (NATSX, REF):
        out = run_cli(kind, "-n", "a b", "-p", "-1")
        assert out.returncode == 1, kind
        assert "nats-server: server name cannot contain spaces" in out.stderr, kind


def test_sighup_with_broken_config_keeps_running(tmp_path):
    srv = ServerProcess(NATSX, tmp_path)
    try:
        srv.start(config="max_payload: 1MB\n")
        srv.config_path.write_text("max_payload: [\n")
        srv.signal(signal.SIGHUP)
        srv.wait_for_log("Failed to reload server configuration", timeout=30)
        c = raw_connect(srv, {"verbose": False})
        c.assert_alive()
        c.close()
    finally:
        assert srv.stop() == 0


def test_write_deadline_cuts_a_stuck_reader(tmp_path):
    """A subscriber that stops reading while output is backed up is a slow consumer after
    write_deadline, even below max_pending."""
    srv = ServerProcess(NATSX, tmp_path)
    try:
        srv.start(config='write_deadline: "1s"\n')   # max_pending 64MB: high-water at 32MB
        stuck = raw_connect(srv, {"verbose": False})
        stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.transact(b"SUB big 1\r\n")
        pub = raw_connect(srv, {"verbose": False})
        chunk = b"x" * (1 << 20)
        frame = b"PUB big %d\r\n" % len(chunk) + chunk + b"\r\n"
        for _ in range(48):       # past the high-water mark, below max_pending
            pub.send(frame)
        srv.wait_for_log("Slow Consumer Detected: WriteDeadline", timeout=30)
        pub.assert_alive()   # the publisher is unharmed
        pub.close()
        stuck.close()
    finally:
        srv.stop()


def test_sigterm_flushes_pending_output(tmp_path):
    """Graceful shutdown: a subscriber behind on reading still gets everything sent to it."""
    srv = ServerProcess(NATSX, tmp_path)
    try:
        srv.start()
        sub = raw_connect(srv, {"verbose": False})
        sub.transact(b"SUB data 1\r\n")
        pub = raw_connect(srv, {"verbose": False})
        payload = b"y" * 65536
        count = 400          # ~26 MB unread: more than the socket buffers hold, below the high-water mark
        pub.transact(b"".join(b"PUB data %d\r\n%s\r\n" % (len(payload), payload) for _ in range(count)))
        srv.signal(signal.SIGTERM)
        received = sub.read_until_closed(30)
        frame = b"MSG data 1 %d\r\n%s\r\n" % (len(payload), payload)
        assert len(received) == len(frame) * count
        assert received == frame * count, "corrupted delivery"
        assert srv.proc.wait(15) == 0
    finally:
        srv.stop()


def test_trace_logs_protocol(tmp_path):
    srv = ServerProcess(NATSX, tmp_path)
    try:
        srv.start(["-V"])
        c = raw_connect(srv, {"verbose": False})
        c.transact(b"SUB t.x 9\r\nPUB t.x 5\r\nhello\r\n")
        log = srv.wait_for_log('MSG_PAYLOAD: ["hello"]')
        assert "<<- [SUB t.x 9]" in log and "<<- [PUB t.x 5]" in log
        srv.wait_for_log("->> [MSG t.x 9 5]")
        c.close()
    finally:
        srv.stop()


@pytest.mark.parametrize("config", [
    "max_payload: 100MB\nmax_pending: 50MB\n",
    'lame_duck_duration: "40s"\nlame_duck_grace_period: "50s"\n',
])
def test_inconsistent_options_refused_like_nats_server(tmp_path, config):
    path = tmp_path / "s.conf"
    path.write_text(config)
    ours, ref = run_cli(NATSX, "-c", str(path)), run_cli(REF, "-c", str(path))
    assert ours.returncode == ref.returncode == 1
    assert ours.stderr.strip() == ref.stderr.strip()


def test_invalid_port_is_fatal(tmp_path):
    path = tmp_path / "s.conf"
    path.write_text("port: 70000\n")
    ours = run_cli(NATSX, "-c", str(path))
    assert ours.returncode == 1
    assert 'Error listening on port: 0.0.0.0:70000, "listen tcp: address 70000: invalid port"' in ours.stderr
