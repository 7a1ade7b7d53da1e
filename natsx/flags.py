"""nats-server's command line, parsed as Go's `flag` package parses it.

`natsx serve` must accept every command line that starts nats-server: one or two dashes
(`-config f` is `--config f`), `-flag=value` or `-flag value` for strings and numbers, bools as
`-flag` or `-flag=true|false` only, parsing stops at the first non-flag argument or at `--`,
numbers as Go's strconv.ParseInt reads them (0x/0o/0b prefixes, a leading 0 is octal,
underscores between digits). Errors carry the flag package's exact messages.

Flags for features natsx does not have are recognised (so the line parses as it does for
nats-server) and marked `refused` with the feature's name; the caller refuses them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from natsx.gofmt import go_quote

FlagKind = Literal["bool", "int", "string"]

# Destinations that steer the command itself rather than set a ServerOptions attribute.
CONTROL_DESTS = frozenset({
    "config", "check_config", "show_version", "show_help",
    "debug_and_trace", "debug_and_verbose_trace", "verbose_trace",
})


@dataclass(frozen=True)
class FlagSpec:
    names: tuple[str, ...]   # every spelling nats-server defines, without dashes
    kind: FlagKind
    dest: str                # a ServerOptions attribute, or one of CONTROL_DESTS
    refused: str = ""        # the missing feature, for flags natsx recognises but cannot honour


def _flags(kind: FlagKind, dest: str, *names: str, refused: str = "") -> FlagSpec:
    return FlagSpec(names, kind, dest, refused)


CLUSTERING = "clustering"
TLS = "TLS"

# Every flag nats-server 2.12+ defines (server/opts.go, ConfigureOptions).
FLAGS: tuple[FlagSpec, ...] = (
    _flags("bool", "show_help", "h", "help"),
    _flags("bool", "show_version", "v", "version"),
    _flags("string", "host", "a", "addr", "net"),
    _flags("int", "port", "p", "port"),
    _flags("string", "server_name", "n", "name", "server_name"),
    _flags("string", "pid_file", "P", "pid"),
    _flags("int", "http_port", "m", "http_port"),
    _flags("string", "config", "c", "config"),
    _flags("bool", "check_config", "t"),
    _flags("string", "ports_file_dir", "ports_file_dir"),
    _flags("string", "log_file", "l", "log"),
    _flags("bool", "logtime", "T", "logtime"),
    _flags("bool", "debug", "D", "debug"),
    _flags("bool", "trace", "V", "trace"),
    _flags("bool", "verbose_trace", "VV"),
    _flags("bool", "debug_and_trace", "DV"),
    _flags("bool", "debug_and_verbose_trace", "DVV"),
    _flags("bool", "jetstream", "js", "jetstream"),
    _flags("string", "store_dir", "sd", "store_dir"),
    _flags("string", "username", "user"),
    _flags("string", "password", "pass"),
    _flags("string", "authorization", "auth"),
    _flags("int", "https_port", "ms", "https_port", refused="HTTPS monitoring"),
    _flags("string", "signal", "sl", "signal", refused="signalling a running server"),
    _flags("string", "client_advertise", "client_advertise", refused="advertising a client URL"),
    _flags("bool", "syslog", "s", "syslog", refused="syslog"),
    _flags("string", "remote_syslog", "r", "remote_syslog", refused="syslog"),
    _flags("int", "log_size_limit", "log_size_limit", refused="log file rotation"),
    _flags("bool", "logtime_utc", "logtime_utc", refused="logging in UTC"),
    _flags("int", "max_traced_msg_len", "max_traced_msg_len", refused="truncating traced messages"),
    _flags("bool", "tls", "tls", refused=TLS),
    _flags("string", "tls_cert", "tlscert", refused=TLS),
    _flags("string", "tls_key", "tlskey", refused=TLS),
    _flags("bool", "tls_verify", "tlsverify", refused=TLS),
    _flags("string", "tls_ca_cert", "tlscacert", refused=TLS),
    _flags("bool", "help_tls", "help_tls", refused=TLS),
    _flags("string", "routes", "routes", refused=CLUSTERING),
    _flags("string", "cluster_listen", "cluster", "cluster_listen", refused=CLUSTERING),
    _flags("string", "cluster_name", "cluster_name", refused=CLUSTERING),
    _flags("bool", "no_advertise", "no_advertise", refused=CLUSTERING),
    _flags("string", "cluster_advertise", "cluster_advertise", refused=CLUSTERING),
    _flags("int", "connect_retries", "connect_retries", refused=CLUSTERING),
    _flags("int", "profile", "profile", refused="the profiling port"),
)

_BY_NAME: dict[str, FlagSpec] = {name: spec for spec in FLAGS for name in spec.names}
_OPTION_DESTS = frozenset(spec.dest for spec in FLAGS if not spec.refused and spec.dest not in CONTROL_DESTS)

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class FlagError(Exception):
    """A command line the flag package rejects; str() is its message."""


class GoNumberError(ValueError):
    """strconv's error, as the flag package words it: "parse error" or "value out of range"."""


def parse_go_bool(text: str) -> bool:
    """strconv.ParseBool."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise GoNumberError("parse error")


def parse_go_int(text: str, bits: int = 64) -> int:
    """strconv.ParseInt(text, 0, bits), which is how Go's flag package reads int flags."""
    negative = text[:1] == "-"
    magnitude = _parse_go_uint(text[1:] if text[:1] in ("-", "+") else text, bits)
    limit = 1 << (bits - 1)
    if magnitude > limit or (magnitude == limit and not negative):
        raise GoNumberError("value out of range")
    return -magnitude if negative else magnitude


def _parse_go_uint(text: str, bits: int) -> int:
    if not text:
        raise GoNumberError("parse error")
    base, digits = 10, text
    if text[0] == "0":
        if len(text) >= 3 and text[1].lower() in "box":
            base, digits = {"b": 2, "o": 8, "x": 16}[text[1].lower()], text[2:]
        else:
            base, digits = 8, text[1:]
    max_value = (1 << bits) - 1
    value, underscores = 0, False
    for ch in digits:
        if ch == "_":
            underscores = True
            continue
        digit = _digit_value(ch)
        if digit >= base:
            raise GoNumberError("parse error")
        value = value * base + digit
        if value > max_value:   # Go reports overflow at the digit that causes it
            raise GoNumberError("value out of range")
    if underscores and not _underscores_separate_digits(text):
        raise GoNumberError("parse error")
    return value


def _digit_value(ch: str) -> int:
    if "0" <= ch <= "9":
        return ord(ch) - ord("0")
    if ch.isascii() and "a" <= ch.lower() <= "z":
        return ord(ch.lower()) - ord("a") + 10
    return 99   # not a digit in any base


def _underscores_separate_digits(text: str) -> bool:
    """Go's rule: each underscore sits between two digits, or between the base prefix and a digit."""
    body, previous = text, "start"
    is_hex = False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        body, previous, is_hex = text[2:], "digit", text[1].lower() == "x"
    for ch in body:
        if "0" <= ch <= "9" or (is_hex and "a" <= ch.lower() <= "f"):
            previous = "digit"
        elif ch == "_":
            if previous != "digit":
                return False
            previous = "underscore"
        elif previous == "underscore":
            return False
        else:
            previous = "other"
    return previous != "underscore"


@dataclass
class CommandLine:
    """The flags given (last one wins per destination), in order, and the arguments after them."""

    values: dict[str, Any] = field(default_factory=dict)
    given: list[tuple[str, FlagSpec]] = field(default_factory=list)   # (spelling as typed, flag)
    args: list[str] = field(default_factory=list)

    def get(self, dest: str, default: Any = None) -> Any:
        return self.values.get(dest, default)

    def first_refused(self) -> tuple[str, FlagSpec] | None:
        return next(((spelling, spec) for spelling, spec in self.given if spec.refused), None)

    def option_overrides(self) -> dict[str, Any]:
        """The ServerOptions attributes this command line sets. -DV, -DVV and -VV apply after the
        single flags and in that order, whatever the order typed (nats-server visits set flags
        sorted by name), so `-DV -D=false` still debugs."""
        overrides = {dest: value for dest, value in self.values.items() if dest in _OPTION_DESTS}
        combined = (("debug_and_trace", ("debug", "trace")),
                    ("debug_and_verbose_trace", ("debug", "trace", "trace_verbose")),
                    ("verbose_trace", ("trace", "trace_verbose")))
        for dest, targets in combined:
            if dest in self.values:
                overrides.update(dict.fromkeys(targets, self.values[dest]))
        return overrides


def parse_command_line(argv: Sequence[str]) -> CommandLine:
    """Parse nats-server flags as Go's flag.FlagSet.Parse does; raises FlagError."""
    line = CommandLine()
    rest = list(argv)
    while rest:
        arg = rest[0]
        if len(arg) < 2 or arg[0] != "-":
            break
        if arg == "--":   # ends the flags and is consumed
            rest.pop(0)
            break
        name = arg[2:] if arg[1] == "-" else arg[1:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {arg}")
        rest.pop(0)
        name, has_value, value = name.partition("=")
        spec = _BY_NAME.get(name)
        if spec is None:
            raise FlagError(f"flag provided but not defined: -{name}")
        if spec.kind == "bool":
            try:
                parsed: Any = parse_go_bool(value) if has_value else True
            except GoNumberError as exc:
                raise FlagError(f"invalid boolean value {go_quote(value)} for -{name}: {exc}") from None
        else:
            if not has_value:
                if not rest:
                    raise FlagError(f"flag needs an argument: -{name}")
                value = rest.pop(0)
            try:
                parsed = parse_go_int(value) if spec.kind == "int" else value
            except GoNumberError as exc:
                raise FlagError(f"invalid value {go_quote(value)} for flag -{name}: {exc}") from None
        line.values[spec.dest] = parsed
        line.given.append((arg.partition("=")[0], spec))
    line.args = rest
    return line


# nats-server's usage text (v2.15.1's main.go), the program named as natsx runs; the same flags in the same
# layout, then the ones natsx refuses (generated from FLAGS so it stays true).
_NATS_SERVER_USAGE = """
Usage: natsx serve [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to nats-server process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/nats-server.pid)
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
        --logtime_utc                Timestamps in UTC instead of local timezone (default: false)
    -s, --syslog                     Log to syslog or windows event log
    -r, --remote_syslog <addr>       Syslog server addr (udp://localhost:514)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces system account as well)
        --log_size_limit <limit>     Logfile size limit (default: auto)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Profiling Options:
        --profile <port>             Profiling HTTP port

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help
"""


def _refused_section() -> str:
    by_feature: dict[str, list[str]] = {}
    for spec in FLAGS:
        if spec.refused:
            by_feature.setdefault(spec.refused, []).extend(
                ("-" if len(name) <= 2 else "--") + name for name in spec.names)
    lines = [f"    {feature}: {', '.join(names)}" for feature, names in by_feature.items()]
    return "Not supported by natsx yet (recognised, then refused with exit code 1):\n" + "\n".join(lines) + "\n"


USAGE = _NATS_SERVER_USAGE + "\n" + _refused_section()
