"""Tests for natsx.conf (config format) and natsx.options (server options).

The differential tests run the real ``nats-server -t -c FILE`` and require
natsx to reach the same verdict with the same messages.  Set
NATSX_CONF_FUZZ=<n> to run more random mutations (default 120).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from natsx.gofmt import go_duration as go_duration_string
from natsx.conf import (
    ConfigError,
    Token,
    parse_config_file,
    parse_config_string,
    parse_config_tokens,
    parse_duration,
    parse_duration_ns,
    parse_size,
)
from natsx.options import ServerOptions, apply_config, load_server_options
from natsx.permissions import Permissions, ResponsePermission, SubjectPermission

NATS_SERVER = shutil.which("nats-server")


def perr(text: str, filename: str = "t.conf") -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        parse_config_string(text, filename)
    return ei.value


# ---------------------------------------------------------------------------
# Syntax
# ---------------------------------------------------------------------------


def test_key_separators_and_terminators():
    cfg = parse_config_string("a: 1\nb = 2\nc 3\nd: 4; e: 5, f: 6\n")
    assert cfg == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}


def test_comments():
    cfg = parse_config_string("# hash\n// slashes\na: 1 # trailing\nb: 2 // trailing\n")
    assert cfg == {"a": 1, "b": 2}


def test_strings():
    cfg = parse_config_string(
        'dq: "a\\tb\\n\\"q\\" \\\\ \\x41"\n'
        "sq: 'no \\t escapes'\n"
        "bare: hello\n"
        "url: nats://host:4222\n"
        "ip: 127.0.0.1\n"
        "hostport: 10.0.0.1:4222\n"
        "digits_then_letters: 12abc\n"
    )
    assert cfg["dq"] == 'a\tb\n"q" \\ A'
    assert cfg["sq"] == "no \\t escapes"
    assert cfg["bare"] == "hello"
    assert cfg["url"] == "nats://host:4222"
    assert cfg["ip"] == "127.0.0.1"
    assert cfg["hostport"] == "10.0.0.1:4222"
    assert cfg["digits_then_letters"] == "12abc"


def test_quoted_keys():
    cfg = parse_config_string("\"a b\": 1\n'c': 2\nm { \"x y\": 3, 'z': 4 }\n")
    assert cfg == {"a b": 1, "c": 2, "m": {"x y": 3, "z": 4}}


def test_numbers():
    cfg = parse_config_string("i: 42\nn: -7\nf: 1.5\nnf: -0.25\n")
    assert cfg == {"i": 42, "n": -7, "f": 1.5, "nf": -0.25}
    assert isinstance(cfg["i"], int) and isinstance(cfg["f"], float)


@pytest.mark.parametrize(
    "word,value",
    [("true", True), ("TRUE", True), ("yes", True), ("on", True),
     ("false", False), ("no", False), ("Off", False)],
)
def test_booleans(word, value):
    assert parse_config_string(f"b: {word}\n")["b"] is value


@pytest.mark.parametrize(
    "text,value",
    [
        ("1k", 1000), ("1K", 1000), ("1kb", 1024), ("1KB", 1024), ("1ki", 1024),
        ("1KiB", 1024), ("1m", 1_000_000), ("1MB", 1 << 20), ("1Mi", 1 << 20),
        ("1g", 10**9), ("1G", 10**9), ("1GB", 1 << 30), ("2t", 2 * 10**12),
        ("1TB", 1 << 40), ("1p", 10**15), ("1PiB", 1 << 50), ("1e", 10**18),
        ("64KB", 65536), ("64MB", 64 << 20), ("-1k", -1000),
    ],
)
def test_size_suffixes(text, value):
    assert parse_config_string(f"s: {text}\n")["s"] == value
    assert parse_size(text) == value


def test_size_suffix_overflow_wraps_like_go():
    # nats-server multiplies int64 without overflow checks.
    assert parse_config_string("s: 9223372036854775807k\n")["s"] == -1000


def test_unknown_size_suffix_drops_the_key():
    # "1kbb" lexes as an integer with suffix "kbb", which sets no value.
    assert parse_config_string("a: 1kbb\nb: 2\n") == {"b": 2}


def test_parse_size_rejects_garbage():
    for bad in ("", "MB", "1XB", "1.5MB", "abc"):
        with pytest.raises(ValueError):
            parse_size(bad)
    assert parse_size(123) == 123


def test_datetime():
    v = parse_config_string("t: 2020-01-02T03:04:05Z\n")["t"]
    assert v == dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def test_arrays_comma_and_newline():
    cfg = parse_config_string("a: [1, 2, 3 ]\nb: [\n  x\n  y, z\n  # c\n]\nc = [a]\nd = []\n")
    assert cfg == {"a": [1, 2, 3], "b": ["x", "y", "z"], "c": ["a"], "d": []}


def test_number_touching_bracket_is_a_string_like_nats_server():
    # nats-server's lexer turns "3]" into a bare string and keeps lexing, so
    # "[1, 2, 3]" (no space before "]") is a syntax error there too.
    e = perr("a: [1, 2, 3]\n")
    assert str(e) == (
        "Parse error on line 2: 'Expected an array value terminator \",\" or an array "
        "terminator \"]\", but got '\x00' instead.'"
    )


def test_nested_maps_and_arrays_of_maps():
    cfg = parse_config_string(
        "authorization {\n  users = [\n    {user: a, password: b}\n    {user: c; password: d}\n  ]\n}\n"
        "m: { a: { b: { c: 1 } } }\n"
    )
    assert cfg["authorization"]["users"] == [
        {"user": "a", "password": "b"}, {"user": "c", "password": "d"},
    ]
    assert cfg["m"] == {"a": {"b": {"c": 1}}}


def test_top_level_braces_json_like():
    assert parse_config_string('{\n  "port": 4222,\n  "debug": true\n}\n') == {
        "port": 4222, "debug": True,
    }


def test_multiline_block():
    cfg = parse_config_string("txt: (\nline one\n  line (two)\n)\nafter: 1\n")
    assert cfg == {"txt": "\nline one\n  line (two)\n", "after": 1}


def test_duplicate_key_last_wins():
    assert parse_config_string("a: 1\na: 2\n") == {"a": 2}


def test_tokens_carry_key_positions():
    toks = parse_config_tokens("port: 4222\n  debug: true\nm {\n  x: 1\n}\n", "f.conf")
    assert isinstance(toks["port"], Token)
    # nats-server's quirk: 0-based column on line 1, 1-based after.
    assert (toks["port"].line, toks["port"].pos) == (1, 0)
    assert (toks["debug"].line, toks["debug"].pos) == (2, 3)
    assert (toks["m"].value["x"].line, toks["m"].value["x"].pos) == (4, 3)
    assert toks["port"].source_file == "f.conf"


# ---------------------------------------------------------------------------
# Variables and environment
# ---------------------------------------------------------------------------


def test_variables_block_scoped():
    cfg = parse_config_string(
        "A: 1\nB: top\nm {\n  A: 2\n  x: $A\n  y: $B\n}\nz: $A\n"
    )
    assert cfg["m"] == {"A": 2, "x": 2, "y": "top"}
    assert cfg["z"] == 1


def test_variable_to_map_value():
    cfg = parse_config_string("base { a: 1 }\ncopy: $base\n")
    assert cfg["copy"] == {"a": 1}


def test_env_variables_are_parsed_as_values(monkeypatch):
    monkeypatch.setenv("NATSX_T_PORT", "4333")
    monkeypatch.setenv("NATSX_T_SIZE", "2MB")
    monkeypatch.setenv("NATSX_T_STR", "hello")
    monkeypatch.setenv("NATSX_T_LIST", "[1, 2 ]")
    cfg = parse_config_string(
        "p: $NATSX_T_PORT\ns: $NATSX_T_SIZE\nt: $NATSX_T_STR\nl: $NATSX_T_LIST\n"
    )
    assert cfg == {"p": 4333, "s": 2 << 20, "t": "hello", "l": [1, 2]}


def test_config_key_shadows_env(monkeypatch):
    monkeypatch.setenv("NATSX_T_X", "env")
    assert parse_config_string("NATSX_T_X: file\nv: $NATSX_T_X\n")["v"] == "file"


def test_missing_variable():
    assert str(perr("a: 1\nport: $NATSX_SURELY_MISSING\n")) == (
        "variable reference for 'NATSX_SURELY_MISSING' on line 2 can not be found"
    )


def test_env_variable_cycle(monkeypatch):
    monkeypatch.setenv("NATSX_T_CYC", "$NATSX_T_CYC")
    assert str(perr("port: $NATSX_T_CYC\n")) == (
        "variable reference for 'NATSX_T_CYC' on line 1 could not be parsed: "
        "variable reference for 'NATSX_T_CYC' on line 1 could not be parsed: "
        "variable reference cycle for 'NATSX_T_CYC'"
    )


def test_bcrypt_value_is_not_a_variable():
    h = "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"
    assert parse_config_string(f"password: {h}\n")["password"] == h


# ---------------------------------------------------------------------------
# Includes
# ---------------------------------------------------------------------------


def test_include_relative_to_including_file(tmp_path: Path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "users.conf").write_text("users = [ {user: a, password: b} ]\n")
    (sub / "main.conf").write_text(
        "port: 4222\nauthorization {\n  include 'users.conf'\n}\ninclude \"more.conf\"\n"
    )
    (sub / "more.conf").write_text("debug: true\nA: 7\n")
    cfg = parse_config_file(str(sub / "main.conf"))
    assert cfg == {
        "port": 4222,
        "authorization": {"users": [{"user": "a", "password": "b"}]},
        "debug": True,
        "A": 7,
    }


def test_include_variables_visible_after_include(tmp_path: Path):
    (tmp_path / "vars.conf").write_text("PORT: 4555\n")
    (tmp_path / "main.conf").write_text("include vars.conf\nport: $PORT\n")
    assert parse_config_file(str(tmp_path / "main.conf"))["port"] == 4555


def test_include_positions_name_the_included_file(tmp_path: Path):
    (tmp_path / "inc.conf").write_text("\nbogus: 1\n")
    (tmp_path / "main.conf").write_text("port: 4222\ninclude inc.conf\n")
    with pytest.raises(ConfigError) as ei:
        load_server_options(str(tmp_path / "main.conf"))
    assert str(ei.value) == f'{tmp_path}/inc.conf:2:1: unknown field "bogus"'
    assert (ei.value.filename, ei.value.line, ei.value.column) == (f"{tmp_path}/inc.conf", 2, 1)


def test_missing_include(tmp_path: Path):
    (tmp_path / "main.conf").write_text("include nope.conf\n")
    with pytest.raises(ConfigError) as ei:
        parse_config_file(str(tmp_path / "main.conf"))
    assert str(ei.value) == (
        f"error parsing include file 'nope.conf', open {tmp_path}/nope.conf: "
        "no such file or directory"
    )


def test_syntax_error_in_include(tmp_path: Path):
    (tmp_path / "inc.conf").write_text("a: [1 2\n")
    (tmp_path / "main.conf").write_text("include inc.conf\n")
    with pytest.raises(ConfigError) as ei:
        parse_config_file(str(tmp_path / "main.conf"))
    assert str(ei.value).startswith("error parsing include file 'inc.conf', Parse error on line 1: ")


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(ConfigError) as ei:
        parse_config_file(str(tmp_path / "none.conf"))
    assert str(ei.value) == f"open {tmp_path}/none.conf: no such file or directory"


# ---------------------------------------------------------------------------
# Syntax errors (strings verified against nats-server 2.x)
# ---------------------------------------------------------------------------

SYNTAX_ERRORS = [
    ("max_payload: [\n",
     "Parse error on line 2: 'Expected an array value terminator \",\" or an array "
     "terminator \"]\", but got '\x00' instead.'", 2),
    ('port: "4222\n', "Parse error on line 2: 'Unexpected EOF.'", 2),
    ("x: (\nabc\n", "Parse error on line 3: 'Unexpected EOF processing block.'", 3),
    ("a { b", "Parse error on line 1: 'Unexpected EOF processing map key.'", 1),
    ("a {", "Parse error on line 1: 'Unexpected EOF processing map.'", 1),
    ('a { "b', "Parse error on line 1: 'Unexpected EOF processing double quoted map key.'", 1),
    ("include 'inc.conf\n", "Parse error on line 2: 'Unexpected EOF in quoted include'", 2),
    ("a: 1 2\n", "Parse error on line 1: 'Expected a top-level value to end with a new line, "
     "comment or EOF, but got '2' instead.'", 1),
    ("a: .5\n", "Parse error on line 1: 'Floats must start with a digit'", 1),
    ("a: 1.x\n", "Parse error on line 1: 'Floats must have a digit after the '.', but got 'x' instead.'", 1),
    ('a: "\\q"\n', "Parse error on line 1: 'Invalid escape character 'q'. Only the following "
     "escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.'", 1),
    ('a: "\\xZZ"\n', "Parse error on line 1: 'Expected two hexadecimal digits after '\\x', but got 'ZZ''", 1),
    ("a: 12-01\n", "Parse error on line 1: 'All ISO8601 dates must be in full Zulu form.'", 1),
    ("= 1\n", "Parse error on line 1: 'Unexpected key separator '=''", 1),
    ("a: [1,,2]\n", "Parse error on line 1: 'Unexpected array value terminator ','.'", 1),
    ("a {\n  b: 1 c: 2\n}\n", "Parse error on line 2: 'Expected a map value terminator \",\" "
     "or a map terminator \"}\", but got 'c' instead.'", 2),
    ("a:\n", "Parse error on line 2: 'Expected value but found new line'", 2),
    ("include [x]\n", "Parse error on line 1: 'Expected include value but found start of an array'", 1),
]


@pytest.mark.parametrize("text,message,line", SYNTAX_ERRORS)
def test_syntax_errors(text, message, line):
    e = perr(text)
    assert str(e) == message
    assert e.line == line


def test_dangling_key_is_invalid():
    e = perr("port: 4222\nfoo\n", "t.conf")
    assert str(e) == "config is invalid (t.conf:3:1)"
    assert (e.filename, e.line, e.column) == ("t.conf", 3, 1)


def test_integer_out_of_range():
    assert str(perr("a: 99999999999999999999\n")) == "integer '99999999999999999999' is out of the range"


def test_bad_datetime():
    assert str(perr("a: 2020-13-01T00:00:00Z\n")) == (
        "expected Zulu formatted DateTime, but got '2020-13-01T00:00:00Z'"
    )


# ---------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,seconds",
    [("2m", 120), ("10s", 10), ("1h30m", 5400), ("1.5s", 1.5), ("250ms", 0.25),
     ("1us", 1e-6), ("1\u00b5s", 1e-6), ("3ns", 3e-9), ("-2s", -2), ("+1m", 60),
     ("0", 0), (".5h", 1800), ("1h2m3.5s", 3723.5)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text,message",
    [("", 'time: invalid duration ""'),
     ("x", 'time: invalid duration "x"'),
     ("1", 'time: missing unit in duration "1"'),
     ("1q", 'time: unknown unit "q" in duration "1q"'),
     ("1.s", 'time: invalid duration "1.s"' if False else None),
     ("99999999999h", 'time: invalid duration "99999999999h"')],
)
def test_parse_duration_errors(text, message):
    if message is None:  # "1.s" is valid in Go (digits before the dot suffice)
        assert parse_duration(text) == 1.0
        return
    with pytest.raises(ValueError) as ei:
        parse_duration_ns(text)
    assert str(ei.value) == message


@pytest.mark.parametrize(
    "ns,text",
    [(0, "0s"), (120 * 10**9, "2m0s"), (1_500_000_000, "1.5s"), (300_000_000, "300ms"),
     (3_723_500_000_000, "1h2m3.5s"), (-10**9, "-1s"), (1500, "1.5\u00b5s"), (7, "7ns")],
)
def test_go_duration_string(ns, text):
    assert go_duration_string(ns) == text


# ---------------------------------------------------------------------------
# Server options
# ---------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "s.conf") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_defaults_match_nats_server():
    o = ServerOptions()
    assert (o.host, o.port) == ("0.0.0.0", 4222)
    assert o.max_payload == 1048576
    assert o.max_pending == 67108864
    assert o.max_control_line == 4096
    assert o.max_connections == 65536
    assert o.ping_interval == 120.0 and o.ping_max == 2
    assert o.write_deadline == 10.0
    assert o.auth_timeout == 2.0
    assert o.lame_duck_duration == 120.0 and o.lame_duck_grace_period == 10.0
    assert o.jetstream is False


def test_load_full_config(tmp_path: Path):
    path = write(
        tmp_path,
        """
        listen: 127.0.0.1:4333
        server_name: n1
        http: "localhost:8222"
        max_payload: 2MB
        max_pending: 32MB
        max_control_line: 2KB
        max_connections: 100
        ping_interval: "30s"
        ping_max: 5
        write_deadline: "2.5s"
        debug: true
        trace: true
        logtime: false
        log_file: "/tmp/n.log"
        pid_file: "/tmp/n.pid"
        ports_file_dir: "/tmp"
        lame_duck_duration: "1m"
        lame_duck_grace_period: "3s"
        authorization {
          users = [
            {user: alice, password: pw1}
            {user: bob, password: pw2, permissions: {publish: "a.>"}}
          ]
          timeout: "3s"
        }
        no_auth_user: alice
        jetstream {
          store_dir: "/tmp/js"
          max_memory_store: 1GB
          max_file_store: "2G"
          domain: hub
        }
        cluster { name: c1, listen: 0.0.0.0:6222 }
        accounts { A: { users: [ {user: x, password: y} ] } }
        system_account: A
        tls { cert_file: "c.pem", key_file: "k.pem" }
        websocket { port: 8080, no_tls: true }
        leafnodes { port: 7422 }
        gateway { name: g, port: 7222 }
        mqtt { port: 1883 }
        max_subscriptions: 10
        """,
    )
    # natsx does not serve the permissions and blocks below: it refuses the file, naming each.
    with pytest.raises(ConfigError) as ei:
        load_server_options(path)
    refused = [re.search(r':(\d+):\d+: "([^"]+)" is not supported by natsx yet', m).groups() for m in ei.value.errors]
    assert refused == [
        ("23", "authorization.users.permissions"), ("34", "cluster"), ("35", "accounts"),
        ("36", "system_account"), ("37", "tls"), ("38", "websocket"), ("39", "leafnodes"),
        ("40", "gateway"), ("41", "mqtt"),
    ]
    # Parsed as nats-server parses them, for when they are served.
    o = load_server_options(path, refuse_unsupported=False)
    assert (o.host, o.port, o.server_name) == ("127.0.0.1", 4333, "n1")
    assert (o.http_host, o.http_port, o.monitor_host) == ("localhost", 8222, "localhost")
    assert (o.max_payload, o.max_pending, o.max_control_line) == (2 << 20, 32 << 20, 2048)
    assert o.max_connections == 100
    assert (o.ping_interval, o.ping_max, o.write_deadline) == (30.0, 5, 2.5)
    assert (o.debug, o.trace, o.logtime) == (True, True, False)
    assert (o.log_file, o.pid_file, o.ports_file_dir) == ("/tmp/n.log", "/tmp/n.pid", "/tmp")
    assert (o.lame_duck_duration, o.lame_duck_grace_period) == (60.0, 3.0)
    assert [(u.user, u.password) for u in o.users] == [("alice", "pw1"), ("bob", "pw2")]
    assert o.users[1].permissions == Permissions(publish=SubjectPermission(allow=("a.>",)))
    assert o.auth_timeout == 3.0
    assert o.no_auth_user == "alice"
    assert o.jetstream is True
    assert (o.store_dir, o.jetstream_max_memory, o.jetstream_max_store) == ("/tmp/js", 1 << 30, 2 << 30)
    assert o.jetstream_domain == "hub"
    assert o.cluster == {"name": "c1", "listen": "0.0.0.0:6222"}
    assert o.accounts == {"A": {"users": [{"user": "x", "password": "y"}]}}
    assert o.system_account == "A"
    assert o.tls == {"cert_file": "c.pem", "key_file": "k.pem"}
    assert o.websocket == {"port": 8080, "no_tls": True}
    assert o.leafnodes == {"port": 7422} and o.gateway == {"name": "g", "port": 7222}
    assert o.mqtt == {"port": 1883}
    assert o.max_subscriptions == 10 and o.other == {}
    assert o.config_warnings == []


@pytest.mark.parametrize(
    "text,check",
    [
        ("port: 4999\nhost: 10.0.0.1\n", lambda o: (o.host, o.port) == ("10.0.0.1", 4999)),
        ("listen: 5222\n", lambda o: (o.host, o.port) == ("", 5222)),
        ("listen: '[::1]:4222'\n", lambda o: (o.host, o.port) == ("::1", 4222)),
        ("monitor_port: 8222\n", lambda o: o.http_port == 8222),
        ("http_port: 8333\n", lambda o: o.http_port == 8333),
        ("jetstream: enabled\n", lambda o: o.jetstream is True),
        ("jetstream: true\n", lambda o: o.jetstream is True),
        ("jetstream: disabled\n", lambda o: o.jetstream is False),
        ("jetstream { enabled: false, store_dir: x }\n", lambda o: (o.jetstream, o.store_dir) == (False, "x")),
        ("authorization { user: u, password: p, timeout: 1.5 }\n",
         lambda o: (o.username, o.password, o.auth_timeout) == ("u", "p", 1.5)),
        ("authorization { token: s3cr3t }\n", lambda o: o.authorization == "s3cr3t"),
        ("authorization { user: u }\n", lambda o: o.auth_timeout == 2.0),
        ("trace_verbose: true\n", lambda o: o.trace and o.trace_verbose),
    ],
)
def test_option_mapping(tmp_path: Path, text, check):
    assert check(load_server_options(write(tmp_path, text)))


def test_role_variables_and_default_permissions(tmp_path: Path):
    path = write(
        tmp_path,
        "authorization {\n"
        "  admin = { publish = \"*\", subscribe = \">\" }\n"
        "  guest = { subscribe = \"PUBLIC.>\" }\n"
        "  default_permissions: $guest\n"
        "  users = [\n"
        "    {user: alice, password: foo, permissions: $admin}\n"
        "    {user: susan, password: baz}\n"
        "  ]\n"
        "}\n",
    )
    with pytest.raises(ConfigError, match=r'^\S+:4:3: "authorization.default_permissions" is not supported'):
        load_server_options(path)  # permissions are not enforced by natsx yet
    o = load_server_options(path, refuse_unsupported=False)  # role keys are used variables: no unknown-field errors
    assert o.users[0].permissions == Permissions(publish=SubjectPermission(allow=("*",)),
                                                 subscribe=SubjectPermission(allow=(">",)))
    assert o.users[1].permissions == Permissions(subscribe=SubjectPermission(allow=("PUBLIC.>",)))
    if NATS_SERVER:
        assert_same_verdict(path)


def test_integer_seconds_duration_is_a_warning(tmp_path: Path):
    path = write(tmp_path, "ping_interval: 60\n")
    o = load_server_options(path)
    assert o.ping_interval == 60.0
    assert o.config_warnings == [
        f'{path}:1:0: invalid use of field "ping_interval": ping_interval should be converted to a duration'
    ]
    with pytest.raises(ConfigError) as ei:
        load_server_options(path, warnings_are_errors=True)
    assert ei.value.errors == [] and len(ei.value.warnings) == 1


def test_variable_keys_are_not_unknown_fields(tmp_path: Path):
    o = load_server_options(write(tmp_path, "MY_PORT: 4777\nport: $MY_PORT\n"))
    assert o.port == 4777


def test_all_errors_reported_together(tmp_path: Path):
    path = write(tmp_path, "foo: 1\nport: \"x\"\nmax_payload: 3GB\n")
    with pytest.raises(ConfigError) as ei:
        load_server_options(path)
    assert ei.value.errors == [
        f'{path}:1:0: unknown field "foo"',
        f"{path}:2:1: interface conversion: interface {{}} is string, not int64",
        f"{path}:3:1: max_payload value is too big",
    ]
    assert str(ei.value) == "\n".join(ei.value.errors)
    assert (ei.value.line, ei.value.column) == (1, 0)


def test_empty_config(tmp_path: Path):
    path = write(tmp_path, "# nothing\n")
    with pytest.raises(ConfigError) as ei:
        load_server_options(path)
    assert str(ei.value) == f"{path}: config has no values or is empty"


def test_apply_config_on_plain_dict():
    o = apply_config(ServerOptions(), parse_config_string("port: 1234\nping_interval: '5s'\n"))
    assert (o.port, o.ping_interval) == (1234, 5.0)
    with pytest.raises(ConfigError) as ei:
        apply_config(ServerOptions(), {"bogus": 1})
    assert str(ei.value) == 'unknown field "bogus"'


# ---------------------------------------------------------------------------
# Differential tests against the real nats-server binary
# ---------------------------------------------------------------------------

needs_nats = pytest.mark.skipif(NATS_SERVER is None, reason="nats-server binary not installed")


def nats_verdict(path: str) -> tuple[bool, str]:
    p = subprocess.run([NATS_SERVER, "-t", "-c", path], capture_output=True, timeout=30)
    out = p.stderr.decode("utf-8", "surrogateescape").rstrip("\n")
    out = out.removeprefix("nats-server: ")
    return p.returncode == 0, ("" if p.returncode == 0 else out)


def natsx_verdict(path: str) -> tuple[bool, str]:
    """What natsx's parser says, without its refusals of what it does not serve
    (tests/test_fail_closed.py covers those)."""
    try:
        load_server_options(path, warnings_are_errors=True, refuse_unsupported=False)
        return True, ""
    except ConfigError as e:
        return False, str(e)


def _lines(msg: str) -> list[str]:
    # nats-server iterates Go maps, so multi-error output order is random, "User entry requires a
    # user" points at a random field of the entry, and which of two store_dir keys is "the
    # duplicate" depends on which one it met first.
    return sorted(re.sub(r"^.*: (User entry requires a user|Duplicate 'store_dir' configuration)$", r"\1", m)
                  for m in msg.split("\n"))


def assert_same_verdict(path: str) -> None:
    ok_n, msg_n = nats_verdict(path)
    ok_x, msg_x = natsx_verdict(path)
    text = Path(path).read_bytes()
    assert ok_x == ok_n, f"config {text!r}: nats-server={msg_n!r} natsx={msg_x!r}"
    lx, ln = _lines(msg_x), _lines(msg_n)
    if lx != ln:
        # Some nats-server blocks stop at their first error, and which one is
        # first depends on Go's random map order: then one report must
        # contain the other.
        a, b = set(lx), set(ln)
        assert a & b and (a <= b or b <= a), f"config {text!r}: nats-server={ln!r} natsx={lx!r}"


DIFF_CASES = [
    # valid
    "port: 4222\n",
    "listen: 127.0.0.1:4222\nhttp: 8222\nmax_payload: 1MB\nmax_pending: 64MB\n",
    "authorization {\n  users = [\n    {user: a, password: b}\n    {user: c, password: d}\n  ]\n}\n",
    "authorization { token: abc, timeout: 2 }\n",
    'jetstream {\n  store_dir: "/tmp/js"\n  max_mem: 1G\n  max_file: "10G"\n}\n',
    'server_name: n1\nping_interval: "2m"\nping_max: 3\nwrite_deadline: "5s"\n',
    "# comment\n// other\nMYPORT = 4333\nport: $MYPORT\n",
    'lame_duck_duration: "60s"\nlame_duck_grace_period: "5s"\nlogtime: false\n',
    '{\n  "port": 4222,\n  "debug": false\n}\n',
    "blk = (\nsome text\n)\nserver_name: $blk\n",
    "port = 4222 // c\ndebug = yes # c\nmax_payload: 1kbb\n",
    "jetstream: enabled\nno_auth_user: x\n",
    "listen: 5222\nmonitor_port: 8222\n",
    # invalid: unknown fields, types, values
    "port: 4222\nfoo: bar\n",
    "foo: 1\nbar {\n  baz: 2\n}\n",
    'port: "x"\n',
    "max_payload: 1XB\n",
    "max_payload: 3GB\n",
    "max_control_line: 4GB\n",
    'ping_interval: "x"\n',
    "ping_interval: 1.5\n",
    "ping_interval: 60\n",
    'write_deadline: "1q"\n',
    'lame_duck_duration: "10s"\n',
    "lame_duck_duration: 10\n",
    'lame_duck_grace_period: "-1s"\n',
    'listen: "nocolon"\n',
    'listen: "a:b"\n',
    "listen: true\n",
    'server_name: "a b"\n',
    "system_account: 1\n",
    "authorization: 1\n",
    "authorization { token: 5 }\n",
    "authorization { foo: 1 }\n",
    "authorization { user: a, token: b }\n",
    "authorization { user: a, password: b, users: [{user: c, password: d}] }\n",
    "authorization { users: 1 }\n",
    "authorization { users [ 1 ] }\n",
    "authorization { users [ {password: a} ] }\n",
    "authorization { users [ {user: a}, {user: a} ] }\n",
    'authorization { timeout: "5x" }\n',
    "authorization { timeout: true }\n",
    "authorization { timeout: 90 }\n",
    "authorization { timeout: 60.5 }\n",
    'authorization { timeout: "2m" }\n',
    "authorization { timeout: 60 }\n",
    "jetstream: maybe\n",
    "jetstream: 1\n",
    "jetstream { foo: 1 }\n",
    'jetstream { max_mem: "1X" }\n',
    'jetstream { max_mem: "x1G" }\n',
    "jetstream { max_mem: 1.5 }\n",
    "store_dir: a\njetstream { store_dir: b }\n",
    "jetstream { store: [] }\n",
    # invalid: syntax
    "max_payload: [\n",
    'port: "4222\n',
    "x: (\nabc\n",
    "a { b",
    "a { b: 1",
    "port\n",
    "port: 4222\nfoo\n",
    "port: $NATSX_SURELY_MISSING\n",
    "a: 2020-13-01T00:00:00Z\n",
    "a: 99999999999999999999\n",
    "include 'inc.conf\n",
    "include nope.conf\n",
    "",
    "# only a comment\n",
    "a: [1, 2, 3]\n",
    'a: """x"""\n',
    "include: 5\n",
    "max_payload: 0x10\n",
    "max_payload: 1.5MB\n",
    "debug: on\ntrace: OFF\nlogtime: Yes\n",
    "port: 4222\n\u00e9t\u00e9: 1\n",
    # keys natsx parses only to refuse them (tests/test_fail_closed.py) still get nats-server's checks
    "feature_flags { js_ack_fc_v2: true }\n",
    "feature_flags { js_ack_fc_v2: 1 }\n",
    "feature_flags: 1\n",
    'write_timeout: "retry"\n',
    'write_timeout: "sometimes"\n',
    "write_timeout: 1\n",
    "max_sub_tokens: 300\n",
    "max_sub_tokens: 0\n",
    "max_subscription_tokens: 8\n",
    "proxy_protocol: 1\n",
    'syslog: "yes"\n',
    "prof_port: true\n",
    "remote_syslog: 5\n",
    "no_header_support: true\nmax_closed_clients: 5\n",
    "authorization { users [ {user: a, password: b, account: X} ] }\n",
    "authorization { user: a, password: b, proxy_required: 1 }\n",
    "authorization { user: a, password: b, proxy_required: true }\n",
    "authorization { users [ {user: a, password: b, proxy_required: true, clients: [STANDARD]} ] }\n",
]


# Permissions parse (and fail) as nats-server's parseUserPermissions; natsx then refuses them
# (tests/test_fail_closed.py), natsx_verdict leaves that refusal out.
PERMISSION_CASES = [
    'authorization { default_permissions { publish: "a.>", subscribe: ["b", "c q"] } }\n',
    'authorization { users [ {user: a, password: b, permissions: {publish: {allow: "x", deny: ["x.y"]}}} ] }\n',
    "authorization { users [ {user: a, password: b, permissions: {sub: {allow: \"a b c\"}}} ] }\n",
    'authorization { default_permissions { publish: "a b" } }\n',
    'authorization { default_permissions { subscribe: "a b.." } }\n',
    'authorization {\n default_permissions {\n publish: [\n "a"\n 1\n ]\n }\n}\n',
    "authorization { default_permissions { publish: 1 } }\n",
    "authorization { default_permissions { publish: {allow: 1} } }\n",
    'authorization { default_permissions { publish: {allowed: "a"} } }\n',
    'authorization { default_permissions { publish: {} , nope: 1 } }\n',
    "authorization { default_permissions: 5 }\n",
    "authorization { default_permissions { allow_responses: true } }\n",
    "authorization { default_permissions { allow_responses: 3 } }\n",
    'authorization { default_permissions { allow_responses: {max: 5, expires: "1m"} } }\n',
    'authorization { default_permissions { allow_responses: {max: "x"} } }\n',
    'authorization { default_permissions { allow_responses: {expires: "soon"} } }\n',
    "authorization { default_permissions { allow_responses: {expires: 5} } }\n",
    "authorization { default_permissions { allow_responses: {other: 5} } }\n",
]


@needs_nats
@pytest.mark.parametrize("text", DIFF_CASES + PERMISSION_CASES)
def test_differential_cases(tmp_path: Path, text: str, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("t.conf").write_text(text, encoding="utf-8")
    assert_same_verdict("t.conf")


def test_permissions_are_typed(tmp_path: Path):
    path = write(tmp_path, 'authorization { default_permissions { publish: {deny: "a"}, subscribe: ["b", "c q"],'
                           ' allow_responses: {max: 5, ttl: "1m"} } }\n')
    o = load_server_options(path, refuse_unsupported=False)
    assert o.default_permissions == Permissions(
        publish=SubjectPermission(allow=(), deny=("a",)),   # allow_responses turns off the blanket allow
        subscribe=SubjectPermission(allow=("b", "c q")),
        responses=ResponsePermission(max_msgs=5, expires=60.0))


@needs_nats
def test_differential_includes(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("sub").mkdir()
    Path("sub/inc.conf").write_text("debug: true\nA = 5\n")
    Path("sub/bad.conf").write_text("\n\nnope: 1\n")
    for text in ("include inc.conf\nport: $A\n", "include 'bad.conf'\n", "authorization { include inc.conf }\n"):
        Path("sub/t.conf").write_text(text)
        assert_same_verdict("sub/t.conf")
        assert_same_verdict(str(tmp_path / "sub/t.conf"))


@needs_nats
def test_differential_env(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NATSX_T_ENV_PORT", "4555")
    monkeypatch.setenv("NATSX_T_ENV_BAD", "[1,,]")
    monkeypatch.setenv("NATSX_T_ENV_CYC", "$NATSX_T_ENV_CYC")
    for text in ("port: $NATSX_T_ENV_PORT\n", "port: $NATSX_T_ENV_BAD\n", "port: $NATSX_T_ENV_CYC\n"):
        Path("t.conf").write_text(text)
        assert_same_verdict("t.conf")


_FUZZ_SEEDS = [
    "port: 4222\nhost: \"127.0.0.1\"\ndebug: true\n",
    "listen: 127.0.0.1:4222\nhttp: 8222\nmax_payload: 1MB\nmax_pending: 64MB\n",
    "authorization {\n  user: a\n  password: b\n  timeout: 2\n}\n",
    'jetstream {\n  store_dir: "/tmp/js"\n  max_mem: 1G\n  max_file: 10G\n}\n',
    'server_name: n1\nping_interval: "2m"\nping_max: 3\nwrite_deadline: "5s"\n',
    "# comment\n// other\nPORTV = 4333\nport: $PORTV\n",
    '{\n  "port": 4222,\n  "debug": false\n}\n',
    "x = (\nraw text\n)\nno_auth_user: $x\n",
    "port: 4222; debug: true, trace: false\n",
    'm { a: "x\\ty\\x41", b: [1, 2k, 3MB], c { d: on } }\nmax_payload: $m\n',
    "a: 1.5\nb: -3\nc: 2020-01-01T00:00:00Z\nd: 10.0.0.1:4222\nport: $b\n",
]
_FUZZ_ALPHABET = list("{}[]()=:;,#/\"'\\$ \n\t-.0123456789kKmMbBiIxaZ") + [
    "true", "include ", "\r\n", "MB", "\u00e9", "2020-01-01T00:00:00Z", "1.2.3.4",
]


def _mutate(s: str, rng: random.Random) -> str:
    chars = list(s)
    for _ in range(rng.randint(1, 3)):
        op, i = rng.random(), rng.randint(0, len(chars))
        if op < 0.4 or not chars:
            chars.insert(i, rng.choice(_FUZZ_ALPHABET))
        elif op < 0.7:
            del chars[min(i, len(chars) - 1)]
        else:
            chars[min(i, len(chars) - 1)] = rng.choice(_FUZZ_ALPHABET)
    return "".join(chars)


@needs_nats
def test_differential_fuzz(tmp_path: Path, monkeypatch):
    """Random mutations of valid configs: same verdict and messages."""
    monkeypatch.chdir(tmp_path)
    Path("inc.conf").write_text("debug: true\n")
    rng = random.Random(20240601)
    for _ in range(int(os.environ.get("NATSX_CONF_FUZZ", "120"))):
        Path("f.conf").write_bytes(_mutate(rng.choice(_FUZZ_SEEDS), rng).encode())
        assert_same_verdict("f.conf")
