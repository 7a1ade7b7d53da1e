"""Fail closed: a config asking for something natsx does not enforce yet stops `natsx serve`.

Each case is a config nats-server accepts (checked with `nats-server -t`), so it is natsx alone
that refuses it: `natsx serve -t` and a real `natsx serve` both exit 1 naming the key and its
file:line:col, and no server starts.  Values natsx already behaves as (a toggle at its default)
are accepted, as nats-server accepts them.  A SIGHUP reload of a file that gains such a key keeps
the running config; embedding `natsx.Server` with such options refuses too.
"""
from __future__ import annotations

import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

import natsx
from conftest import NATSX, REF, ServerProcess, free_port, raw_connect, server_command
from natsx.conf import ConfigError
from natsx.nkeys import encode
from natsx.options import ServerOptions, User

USER_NKEY = encode(20 << 3, bytes(range(32)))     # a valid public user nkey ('U...')
ACCOUNT_NKEY = encode(0, bytes(range(32)))        # a valid public account nkey ('A...')
HEADER = "# natsx fail-closed case\n"             # keys start on line 2, where columns are 1-based

# (config after HEADER, refused key as natsx names it, feature in the message).  The refused key's
# last dotted part is written on the config's last line that contains it.
REFUSED = [
    ('client_advertise: "nats.example.com:4222"\n', "client_advertise", "advertising another client address"),
    ("tls {}\n", "tls", "TLS"),
    ("tls { cert_file: $CERT, key_file: $KEY }\n", "tls", "TLS"),
    ("ocsp: true\n", "ocsp", "TLS"),
    ("ocsp_cache: true\n", "ocsp_cache", "TLS"),
    ("allow_non_tls: true\n", "allow_non_tls", "TLS"),
    ("https: 8443\n", "https", "monitoring over HTTPS"),
    ("https_port: 8443\n", "https_port", "monitoring over HTTPS"),
    ("cluster { port: -1 }\n", "cluster", "clustering"),
    ("cluster { tls {} }\n", "cluster", "clustering"),
    ("gateway { name: g, port: -1 }\n", "gateway", "gateways"),
    ("leafnodes { port: -1 }\n", "leafnodes", "leaf nodes"),
    ("leaf {}\n", "leaf", "leaf nodes"),
    ("websocket { port: -1, no_tls: true }\n", "websocket", "WebSocket"),
    ("ws {}\n", "ws", "WebSocket"),
    ("mqtt { port: -1 }\n", "mqtt", "MQTT"),
    ("accounts { A: { users: [ {user: a, password: b} ] } }\n", "accounts", "accounts"),
    ("accounts {}\n", "accounts", "accounts"),
    ('system_account: "$SYS"\n', "system_account", "system account"),
    ('system: "$SYS"\n', "system", "system account"),
    ("mappings { a: b }\n", "mappings", "subject mappings"),
    ("maps {}\n", "maps", "subject mappings"),
    ("operator: []\n", "operator", "operator/JWT authentication"),
    ("operators: []\n", "operators", "operator/JWT authentication"),
    ("root_operator: []\n", "root_operator", "operator/JWT authentication"),
    ("resolver: MEM\n", "resolver", "operator/JWT authentication"),
    ("account_resolver: MEM\n", "account_resolver", "operator/JWT authentication"),
    ("resolver_tls {}\n", "resolver_tls", "operator/JWT authentication"),
    ("resolver_preload {}\n", "resolver_preload", "operator/JWT authentication"),
    ("resolver_pinned_accounts: []\n", "resolver_pinned_accounts", "operator/JWT authentication"),
    ("trusted: []\n", "trusted", "operator/JWT authentication"),
    ("trusted_keys: []\n", "trusted_keys", "operator/JWT authentication"),
    ('default_sentinel: "x"\n', "default_sentinel", "operator/JWT authentication"),
    ("proxies {}\n", "proxies", "trusted proxies"),
    ("proxy_protocol: true\n", "proxy_protocol", "PROXY protocol"),
    ("authorization {\n  default_permissions {}\n}\n", "authorization.default_permissions", "permissions"),
    ('authorization {\n  permissions { publish: "a" }\n}\n', "authorization.permissions", "permissions"),
    (f"authorization {{\n  users [ {{user: a, password: b}} ]\n  auth_callout {{ issuer: {ACCOUNT_NKEY}, auth_users: [a] }}\n}}\n",
     "authorization.auth_callout", "auth callout"),
    ("authorization {\n  user: a, password: b\n  proxy_required: true\n}\n", "authorization.proxy_required",
     "trusted proxies"),
    (f"authorization {{\n  users [\n    {{nkey: {USER_NKEY}}}\n  ]\n}}\n", "authorization.users.nkey", "NKey users"),
    ('authorization {\n  users [\n    {user: a, password: b, permissions: {subscribe: "x"}}\n  ]\n}\n',
     "authorization.users.permissions", "permissions"),
    ('authorization {\n  users [\n    {user: a, password: b, authorization: {publish: "x"}}\n  ]\n}\n',
     "authorization.users.authorization", "permissions"),
    ('authorization {\n  users [\n    {user: a, password: b, allowed_connection_types: ["WEBSOCKET"]}\n  ]\n}\n',
     "authorization.users.allowed_connection_types", "allowed connection types"),
    ('authorization {\n  users [\n    {user: a, password: b, clients: "MQTT"}\n  ]\n}\n',
     "authorization.users.clients", "allowed connection types"),
    ("authorization {\n  users [\n    {user: a, password: b, proxy_required: true}\n  ]\n}\n",
     "authorization.users.proxy_required", "trusted proxies"),
    ('jetstream {\n  key: "s3cr3t"\n}\n', "jetstream.key", "JetStream encryption at rest"),
    ('jetstream {\n  encryption_key: "s3cr3t"\n}\n', "jetstream.encryption_key", "JetStream encryption at rest"),
    ('jetstream {\n  prev_key: "old"\n}\n', "jetstream.prev_key", "JetStream encryption at rest"),
    ('jetstream {\n  cipher: "aes"\n}\n', "jetstream.cipher", "JetStream encryption at rest"),
    ("jetstream {\n  tpm {}\n}\n", "jetstream.tpm", "JetStream encryption at rest"),
    ("syslog: true\n", "syslog", "syslog"),
    ('remote_syslog: "udp://127.0.0.1:514"\n', "remote_syslog", "remote syslog"),
    ("logfile_size_limit: 1MB\n", "logfile_size_limit", "log file rotation"),
    ("log_max_num: 3\n", "log_max_num", "log file rotation"),
    ("logtime_utc: true\n", "logtime_utc", "UTC log timestamps"),
    ("trace_headers: true\n", "trace_headers", "tracing headers only"),
    ("max_traced_msg_len: 10\n", "max_traced_msg_len", "truncating traced messages"),
    ("prof_port: 6060\n", "prof_port", "the profiling port"),
    ("no_header_support: true\n", "no_header_support", "turning off message headers"),
    ("max_sub_tokens: 8\n", "max_sub_tokens", "limiting subject tokens"),
    ("max_subscription_tokens: 8\n", "max_subscription_tokens", "limiting subject tokens"),
    ('write_timeout: "retry"\n', "write_timeout", "write_timeout retry"),
    ("max_closed_clients: 5\n", "max_closed_clients", "max_closed_clients"),
]

# Values natsx already behaves as: accepted (nats-server's defaults, or what natsx's only kind of
# connection satisfies), and options natsx takes that have no effect without the refused features.
ACCEPTED = [
    "syslog: false\nproxy_protocol: false\nno_header_support: false\nlogtime_utc: false\n",
    'remote_syslog: ""\nprof_port: 0\nhttps_port: 0\nlog_max_num: 0\nmax_traced_msg_len: 0\n',
    'write_timeout: "close"\nmax_closed_clients: 10000\n',
    'authorization {\n  users [ {user: a, password: b, allowed_connection_types: ["STANDARD", "WEBSOCKET"]} ]\n}\n',
    "authorization {\n  user: a, password: b, proxy_required: false\n}\n",
    "no_sublist_cache: true\nno_system_account: true\nprof_block_rate: 1\n",
    "connect_error_reports: 5\nreconnect_error_reports: 5\nno_fast_producer_stall: true\n",
    'server_tags: ["a"]\nserver_metadata { k: v }\nfeature_flags { js_ack_fc_v2: true }\ndefault_js_domain {}\n',
    "jetstream {\n  max_mem: 1G\n  strict: true\n}\n",
]


CASE_IDS = [f"{i}-{name}" for i, (_, name, _) in enumerate(REFUSED)]


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory) -> dict[str, str]:
    """A self-signed certificate and key for the `tls { cert_file, key_file }` case."""
    if shutil.which("openssl") is None:
        return {}
    d = tmp_path_factory.mktemp("cert")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return {"$CERT": f'"{cert}"', "$KEY": f'"{key}"'}


def write_case(tmp_path: Path, text: str, cert_files: dict[str, str]) -> Path:
    if "$CERT" in text:
        if not cert_files:
            pytest.fail("openssl is needed to make the certificate of this case")
        for var, value in cert_files.items():
            text = text.replace(var, value)
    path = tmp_path / "server.conf"
    path.write_text(HEADER + text)
    return path


def expected_location(path: Path, name: str) -> tuple[int, int]:
    """Line and column (nats-server's: of the key) where the refused key is written."""
    key = name.rsplit(".", 1)[-1]
    lines = path.read_text().splitlines()
    line = max(i for i, text in enumerate(lines, 1) if re.search(rf"(^|[\s{{,]){re.escape(key)}\s*[:{{=\s]", text))
    return line, re.search(rf"(^|[\s{{,])({re.escape(key)})", lines[line - 1]).start(2) + 1


def run(kind: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(server_command(kind) + list(args), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("case", REFUSED, ids=CASE_IDS)
def test_nats_server_accepts_the_config(tmp_path, case, cert_files):
    path = write_case(tmp_path, case[0], cert_files)
    ref = run(REF, "-t", "-c", str(path))
    assert ref.returncode == 0, ref.stderr


@pytest.mark.parametrize("case", REFUSED, ids=CASE_IDS)
def test_natsx_refuses_to_check_or_start(tmp_path, case, cert_files):
    text, name, feature = case
    path = write_case(tmp_path, text, cert_files)
    line, col = expected_location(path, name)
    expected = (f'nats-server: {path}:{line}:{col}: "{name}" is not supported by natsx yet ({feature}): '
                "refusing to start rather than serve without it")
    port = str(free_port())
    check = subprocess.Popen(server_command(NATSX) + ["-t", "-c", str(path)], stderr=subprocess.PIPE, text=True)
    start = subprocess.Popen(server_command(NATSX) + ["-a", "127.0.0.1", "-p", port, "-c", str(path)],
                             stderr=subprocess.PIPE, text=True)
    for proc in (check, start):
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail(f"natsx kept running with {text!r}")
        assert proc.returncode == 1, err
        assert err.strip() == expected
        assert "Server is ready" not in err


@pytest.mark.parametrize("text", ACCEPTED)
def test_harmless_values_are_accepted_like_nats_server(tmp_path, text):
    path = tmp_path / "server.conf"
    path.write_text(text)
    ours, ref = run(NATSX, "-t", "-c", str(path)), run(REF, "-t", "-c", str(path))
    assert ref.returncode == 0, ref.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stderr.strip() == ref.stderr.strip()  # same verdict line and digest


def test_all_refusals_are_reported_together_after_nats_servers_errors(tmp_path):
    path = tmp_path / "server.conf"
    path.write_text("mqtt {}\nfoo: 1\ntls {}\n")
    out = run(NATSX, "-c", str(path))
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f'nats-server: {path}:2:1: unknown field "foo"',
        f'{path}:1:0: "mqtt" is not supported by natsx yet (MQTT): refusing to start rather than serve without it',
        f'{path}:3:1: "tls" is not supported by natsx yet (TLS): refusing to start rather than serve without it',
    ]


def test_sighup_with_a_refused_key_keeps_the_running_config(tmp_path):
    srv = ServerProcess(NATSX, tmp_path)
    try:
        srv.start(config='authorization { token: "first" }\n')
        srv.config_path.write_text('authorization { token: "second" }\ntls {}\n')
        srv.signal(signal.SIGHUP)
        log = srv.wait_for_log("Failed to reload server configuration", timeout=30)
        assert f'{srv.config_path}:2:1: "tls" is not supported by natsx yet (TLS)' in log
        # Nothing of the refused file applies: the old token still works, the new one does not.
        with raw_connect(srv, {"verbose": False, "auth_token": "first"}) as still:
            still.assert_alive()
        new = raw_connect(srv)
        new.send(b'CONNECT {"verbose":false,"auth_token":"second"}\r\n')
        assert new.read_until_closed(5) == b"-ERR 'Authorization Violation'\r\n"
    finally:
        assert srv.stop() == 0


@pytest.mark.parametrize("options,message", [
    (dict(tls={}), '"tls" is not supported by natsx yet (TLS)'),
    (dict(cluster={"port": 6222}), '"cluster" is not supported by natsx yet (clustering)'),
    (dict(https_port=8443), '"https_port" is not supported by natsx yet (monitoring over HTTPS)'),
    (dict(default_permissions={"publish": "a"}), '"default_permissions" is not supported by natsx yet (permissions)'),
    (dict(users=[User(user="a", password="b", permissions={"publish": "a"})]),
     '"users[0].permissions" is not supported by natsx yet (permissions)'),
    (dict(users=[User(nkey=USER_NKEY)]), '"users[0].nkey" is not supported by natsx yet (NKey users)'),
    (dict(other={"mappings": {"a": "b"}}), '"mappings" is not supported by natsx yet (subject mappings)'),
])
def test_embedding_refuses_options_natsx_does_not_enforce(options, message):
    with pytest.raises(ConfigError) as ei:
        natsx.Server(port=0, **options)
    assert str(ei.value).startswith(message)
    natsx.Server(ServerOptions(port=0))  # the defaults are fine


def test_include_loop_is_a_config_error(tmp_path):
    (tmp_path / "self.conf").write_text("port: 4333\ninclude 'self.conf'\n")
    (tmp_path / "a.conf").write_text("debug: true\ninclude b.conf\n")
    (tmp_path / "b.conf").write_text("trace: true\n\ninclude ./a.conf\n")
    # nats-server overflows its stack on these (exit 2, a goroutine dump); natsx names the loop.
    out = run(NATSX, "-t", "-c", str(tmp_path / "self.conf"))
    assert out.returncode == 1
    assert out.stderr.strip() == (f"nats-server: {tmp_path}/self.conf:2:10: include loop: 'self.conf' is already "
                                  f"being read ({tmp_path}/self.conf -> {tmp_path}/self.conf)")
    out = run(NATSX, "-c", str(tmp_path / "a.conf"))
    assert out.returncode == 1
    assert out.stderr.strip() == (f"nats-server: error parsing include file 'b.conf', {tmp_path}/b.conf:3:9: include "
                                  f"loop: './a.conf' is already being read "
                                  f"({tmp_path}/a.conf -> {tmp_path}/b.conf -> {tmp_path}/a.conf)")


def test_a_file_included_twice_is_not_a_loop(tmp_path):
    (tmp_path / "common.conf").write_text("debug: true\n")
    (tmp_path / "a.conf").write_text("include common.conf\n")
    (tmp_path / "main.conf").write_text("include a.conf\ninclude common.conf\n")
    ours, ref = run(NATSX, "-t", "-c", str(tmp_path / "main.conf")), run(REF, "-t", "-c", str(tmp_path / "main.conf"))
    assert ours.returncode == ref.returncode
    assert ours.stderr.strip() == ref.stderr.strip()
