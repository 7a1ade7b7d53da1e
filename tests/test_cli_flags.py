"""`natsx serve`'s command line is nats-server's, as Go's flag package parses it.

The same command lines go to `nats-server` and `natsx serve`, each flag spelled four ways
(`-f v`, `--f v`, `-f=v`, `--f=v`; bools `-f`, `--f`, `-f=true`, `--f=true`), and must give the
same exit code and the same messages. The usage text differs only where it names the program and
in natsx's list of refused flags; the version line starts as nats-server's.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Union

import pytest

import natsx
from conftest import NATSX, REF, ServerProcess, raw_connect, server_command

STYLES = ("-f v", "--f v", "-f=v", "--f=v")
CONF = "{conf}"   # replaced by the path of a valid config file


@dataclass(frozen=True)
class Value:
    """A flag that takes a value."""
    name: str
    value: str

    def spell(self, style: str, conf: str) -> list[str]:
        dashes = "--" if style.startswith("--") else "-"
        value = self.value.replace(CONF, conf)
        return [f"{dashes}{self.name}={value}"] if "=" in style else [dashes + self.name, value]


@dataclass(frozen=True)
class Bool:
    """A bool flag: bare, or with `=value` in the `=` styles (a bool never takes the next argument)."""
    name: str
    value: str = "true"

    def spell(self, style: str, conf: str) -> list[str]:
        dashes = "--" if style.startswith("--") else "-"
        return [f"{dashes}{self.name}={self.value}"] if "=" in style else [dashes + self.name]


Token = Union[Value, Bool, str]   # a str is passed as it is (a non-flag argument, a lone "-c")


def spell(tokens: tuple[Token, ...], style: str, conf: str) -> list[str]:
    out: list[str] = []
    for token in tokens:
        out += [token] if isinstance(token, str) else token.spell(style, conf)
    return out


def run(kind: str, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(server_command(kind) + args, capture_output=True, text=True, timeout=60)


def natsx_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "natsx", *args], capture_output=True, text=True, timeout=60)


REFUSED_SECTION = "\nNot supported by natsx yet (recognised, then refused with exit code 1):\n"


def assert_same_usage(ours: str, ref: str) -> None:
    """natsx's usage is nats-server's with the program named `natsx serve`, then the refused flags."""
    assert ref.startswith("\nUsage: nats-server [options]\n"), ref
    head, section, refused = ours.partition(REFUSED_SECTION)
    assert head + "\n" == ref.replace("Usage: nats-server [options]", "Usage: natsx serve [options]", 1)
    assert section and refused.endswith("\n\n")


def assert_same_verdict(ours: subprocess.CompletedProcess, ref: subprocess.CompletedProcess) -> None:
    assert (ours.returncode, ours.stderr) == (ref.returncode, ref.stderr)
    if ref.stdout.startswith("\nUsage:"):
        assert_same_usage(ours.stdout, ref.stdout)
    else:
        assert ours.stdout == ref.stdout


# Command lines run with -t (check and exit) by both servers.
CHECKED = {
    "config": (Value("config", CONF),),
    "c": (Value("c", CONF),),
    "user and pass": (Value("c", CONF), Value("user", "a"), Value("pass", "b")),
    "auth": (Value("config", CONF), Value("auth", "s3cret")),
    "addr and port": (Value("c", CONF), Value("a", "127.0.0.1"), Value("port", "4333")),
    "addr spellings": (Value("c", CONF), Value("addr", "127.0.0.1"), Value("net", "::1")),
    "names": (Value("c", CONF), Value("n", "a"), Value("name", "b"), Value("server_name", "c")),
    "files": (Value("c", CONF), Value("P", "x.pid"), Value("pid", "y.pid"), Value("l", "x.log"),
              Value("log", "y.log"), Value("ports_file_dir", "/tmp")),
    "monitor port": (Value("c", CONF), Value("m", "8222"), Value("http_port", "-1")),
    "Go numbers": (Value("c", CONF), Value("p", "0x10f1"), Value("m", "017"), Value("port", "1_000")),
    "logging bools": (Value("c", CONF), Bool("T"), Bool("logtime", "false"), Bool("D"), Bool("debug"),
                      Bool("V"), Bool("trace", "F"), Bool("VV"), Bool("DV", "0"), Bool("DVV", "T")),
    "jetstream": (Value("c", CONF), Bool("js"), Bool("jetstream", "TRUE"), Value("sd", "/tmp/js"),
                  Value("store_dir", "/tmp/js2")),
    "help=false": (Bool("help", "false"), Value("c", CONF)),
    "-t needs a config": (Value("user", "a"),),
    "not a number": (Value("p", "abc"),),
    "octal 08": (Value("m", "08"),),
    "misplaced underscore": (Value("port", "1__0"),),
    "out of range": (Value("port", "9223372036854775808"),),
    "not a bool": (Bool("T", "yes"), Value("c", CONF)),
    "unknown flag": (Bool("config_file"),),
    "missing value": (Value("c", CONF), "-p"),
    "bad syntax": ("---p",),
    "unrecognized command": (Value("c", CONF), "serve"),
    "bool takes no argument": (Bool("js"), "false"),
    "-- ends the flags": (Value("c", CONF), "--", "-v"),
}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("tokens", CHECKED.values(), ids=CHECKED.keys())
def test_check_verdict_agrees_with_nats_server(tmp_path, tokens, style):
    conf = tmp_path / "s.conf"
    conf.write_text("port: 4333\nauthorization { token: fromfile }\n")
    args = ["-t", *spell(tokens, style, str(conf))]
    assert_same_verdict(run(NATSX, args), run(REF, args))


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["-help=true"], ["help"], ["HELP"]])
def test_help_is_nats_servers_usage(args):
    ours, ref = run(NATSX, args), run(REF, args)
    assert ours.returncode == ref.returncode == 0
    assert ours.stderr == ref.stderr == ""
    assert_same_usage(ours.stdout, ref.stdout)
    refused_lines = ours.stdout.partition(REFUSED_SECTION)[2].splitlines()
    for feature, flags in REFUSED_BY_FEATURE.items():   # the help names every flag natsx refuses
        line = next(line for line in refused_lines if line.startswith(f"    {feature}: "))
        assert all(re.search(rf"(^| )--?{flag.name}(,|$)", line.partition(": ")[2]) for flag in flags), line


VERSION_LINE = f"nats-server: v{natsx.NATS_SERVER_VERSION} (natsx {natsx.__version__})\n"


@pytest.mark.parametrize("args", [["-v"], ["--version"], ["serve", "-v"], ["serve", "--version"],
                                  ["serve", "-version=true"], ["serve", "version"], ["serve", "-D", "Version"]])
def test_version_line_starts_as_nats_servers(args):
    ours = natsx_cli(*args)
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, VERSION_LINE, "")
    if args[0] == "serve":   # nats-server prints its line for the same arguments, on the same stream
        ref = run(REF, args[1:])
        assert ref.returncode == 0 and ref.stderr == ""
        assert re.fullmatch(r"nats-server: v\d+\.\d+\.\d+\n", ref.stdout)


# Flags nats-server defines for features natsx lacks: recognised (so the line parses as for
# nats-server), then refused with one line naming the feature.
REFUSED_BY_FEATURE = {
    "clustering": (Value("routes", "nats://127.0.0.1:4248"), Value("cluster", "nats://127.0.0.1:6222"),
                   Value("cluster_listen", "nats://127.0.0.1:6222"), Value("cluster_name", "c1"),
                   Value("cluster_advertise", "x:1"), Bool("no_advertise"), Value("connect_retries", "3")),
    "TLS": (Bool("tls"), Bool("tlsverify"), Value("tlscert", "c.pem"), Value("tlskey", "k.pem"),
            Value("tlscacert", "ca.pem")),
    "HTTPS monitoring": (Value("ms", "8443"), Value("https_port", "8443")),
    "syslog": (Bool("s"), Bool("syslog"), Value("r", "udp://127.0.0.1:514"),
               Value("remote_syslog", "udp://127.0.0.1:514")),
    "advertising a client URL": (Value("client_advertise", "x:4222"),),
    "log file rotation": (Value("log_size_limit", "1000"),),
    "logging in UTC": (Bool("logtime_utc"),),
    "truncating traced messages": (Value("max_traced_msg_len", "10"),),
    "the profiling port": (Value("profile", "6060"),),
}
REFUSED = [(flag, feature) for feature, flags in REFUSED_BY_FEATURE.items() for flag in flags]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("flag,feature", REFUSED, ids=[flag.name for flag, _ in REFUSED])
def test_unsupported_feature_flags_are_refused(tmp_path, flag, feature, style):
    conf = tmp_path / "s.conf"
    conf.write_text("port: 4333\n")
    spelled = flag.spell(style, str(conf))
    args = ["-t", "-c", str(conf), *spelled]
    ref = run(REF, args)
    assert ref.returncode == 0 and "is valid" in ref.stderr   # nats-server knows the flag
    ours = run(NATSX, args)
    assert (ours.returncode, ours.stdout) == (1, "")
    spelling = spelled[0].partition("=")[0]
    assert ours.stderr == f"nats-server: {feature} is not supported by natsx yet (flag {spelling})\n"


@pytest.mark.parametrize("args,spelling,feature", [
    (["--signal", "reload"], "--signal", "signalling a running server"),   # never run on nats-server:
    (["-sl=stop=1"], "-sl", "signalling a running server"),                # it would signal processes
    (["-help_tls"], "-help_tls", "TLS"),
    (["-p", "-1", "--routes=nats://127.0.0.1:4248", "-cluster", "nats://127.0.0.1:-1"], "--routes", "clustering"),
])
def test_refused_without_check_mode(args, spelling, feature):
    """A real start with a refused flag stops before listening."""
    ours = run(NATSX, args)
    assert (ours.returncode, ours.stdout) == (1, "")
    assert ours.stderr == f"nats-server: {feature} is not supported by natsx yet (flag {spelling})\n"


VIOLATION = b"-ERR 'Authorization Violation'\r\n"
ACCEPTED = b"PONG\r\n"


def connect_reply(srv: ServerProcess, connect: dict) -> bytes:
    """What the server answers to CONNECT then PING: PONG, or the error it closes with."""
    c = raw_connect(srv)
    try:
        c.send(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        return c.read_until(lambda buf: buf.endswith(b"\r\n") and (ACCEPTED in buf or b"-ERR" in buf), 10)
    finally:
        c.close()


@pytest.mark.parametrize("spelling", [["-config", "{conf}", "-user", "a", "-pass", "b"],
                                      ["--config={conf}", "--user=a", "--pass", "b"]])
def test_user_and_pass_flags_are_enforced(server_factory, tmp_path, spelling):
    conf = tmp_path / "auth.conf"
    conf.write_text("max_payload: 512KB\n")
    srv = server_factory([arg.replace("{conf}", str(conf)) for arg in spelling])
    assert connect_reply(srv, {"verbose": False}) == VIOLATION
    assert connect_reply(srv, {"verbose": False, "user": "a", "pass": "wrong"}) == VIOLATION
    assert connect_reply(srv, {"verbose": False, "user": "a", "pass": "b"}) == ACCEPTED
    info = raw_connect(srv).info
    assert info["max_payload"] == 512 * 1024 and info["auth_required"]   # the config was read too


def test_auth_flag_overrides_the_config_token(server_factory, tmp_path):
    conf = tmp_path / "token.conf"
    conf.write_text('authorization { token: "fromfile" }\n')
    srv = server_factory(["-config", str(conf), "--auth=fromflag"])
    assert connect_reply(srv, {"verbose": False}) == VIOLATION
    assert connect_reply(srv, {"verbose": False, "auth_token": "fromfile"}) == VIOLATION
    assert connect_reply(srv, {"verbose": False, "auth_token": "fromflag"}) == ACCEPTED


def test_debug_and_trace_combination_wins_whatever_the_order(server_factory):
    """-DV applies after -V (nats-server visits the flags set sorted by name): `-DV -V=false`
    still traces."""
    srv = server_factory(["-DV", "-V=false"])
    c = raw_connect(srv, {"verbose": False})
    c.transact(b"SUB flags.trace 1\r\n")
    c.close()
    srv.wait_for_log("[TRC]")


@pytest.mark.parametrize("args,levels", [
    (["-DV", "-D=false", "--trace=false"], {"debug": True, "trace": True}),
    (["-DVV", "-VV=false"], {"debug": True, "trace": False, "trace_verbose": False}),
    (["--VV", "-DV=false"], {"debug": False, "trace": True, "trace_verbose": True}),
    (["-D", "-DV=false"], {"debug": False, "trace": False}),
])
def test_log_level_flags_merge_in_go_visit_order(args, levels):
    """The log levels the command line sets, as ConfigureOptions leaves them (the server's debug
    output is too sparse to observe all of them over a socket)."""
    from natsx.flags import parse_command_line

    assert parse_command_line(args).option_overrides() == levels


def test_bench_keeps_its_own_parser():
    out = natsx_cli("bench", "--help")
    assert out.returncode == 0 and "usage: natsx bench" in out.stdout


def test_config_warnings_are_printed_before_start(server_factory):
    """Deprecation warnings do not stop the server (with -t they do); they go to stderr first."""
    srv = server_factory(config="ping_interval: 60\nmax_payload: 1MB\n")
    first = srv.stderr.splitlines()[0].replace(str(srv.config_path), "CONF")
    assert first == 'CONF:1:0: invalid use of field "ping_interval": ping_interval should be converted to a duration'
