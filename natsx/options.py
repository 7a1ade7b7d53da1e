"""Server options from a nats-server config file.

:func:`load_server_options` reads a config file into :class:`ServerOptions`
with nats-server's defaults, and reports problems with nats-server's exact
messages (``file:line:col: reason``), collecting all errors like
``nats-server -t`` does.

Fail closed: a key for something natsx does not enforce yet (TLS, clustering,
accounts, NKeys, permissions, ...; see "fail closed" below) is parsed and
kept on the options, then refused: the config does not load and a server is
not built from such options (:func:`validate_options`), rather than serving
with weaker security or a missing listener than the config asks for.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Optional

from natsx.conf import (
    ConfigError,
    Token,
    parse_config_file_tokens,
    parse_duration_ns,
    strip_tokens,
)
from natsx._core.sublist import is_valid_subject
from natsx.gofmt import go_duration, go_json, go_quote
from natsx.permissions import Permissions, ResponsePermission, SubjectPermission

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_HOST",
    "User",
    "ServerOptions",
    "load_server_options",
    "config_digest",
    "apply_config",
    "KNOWN_TOP_LEVEL_KEYS",
    "validate_options",
]

# nats-server defaults (server/const.go).
DEFAULT_PORT = 4222
DEFAULT_HOST = "0.0.0.0"
MAX_PAYLOAD_SIZE = 1024 * 1024
MAX_PENDING_SIZE = 64 * 1024 * 1024
MAX_CONTROL_LINE_SIZE = 4096
DEFAULT_MAX_CONNECTIONS = 64 * 1024
DEFAULT_PING_INTERVAL = 120.0
DEFAULT_PING_MAX_OUT = 2
DEFAULT_FLUSH_DEADLINE = 10.0
AUTH_TIMEOUT = 2.0
DEFAULT_LAME_DUCK_DURATION = 120.0
DEFAULT_LAME_DUCK_GRACE_PERIOD = 10.0

_SECOND_NS = 1_000_000_000


@dataclass
class User:
    """One entry of ``authorization { users [...] }``."""

    user: str = ""
    password: str = ""
    nkey: str = ""
    permissions: Optional[Permissions] = None
    # Remaining recognised per-user settings (allowed_connection_types, ...).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServerOptions:
    """Options of a natsx server; field names follow nats-server's config keys.

    Durations are float seconds.  Sizes are bytes.  ``http_host`` empty means
    "same as ``host``" (nats-server fills it that way at startup).
    """

    config_file: str = ""
    config_digest: str = ""   # of config_file as loaded (see config_digest()); /varz reports it
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    server_name: str = ""
    client_advertise: str = ""

    http_host: str = ""
    http_port: int = 0
    https_port: int = 0
    http_base_path: str = ""

    max_payload: int = MAX_PAYLOAD_SIZE
    max_pending: int = MAX_PENDING_SIZE
    max_control_line: int = MAX_CONTROL_LINE_SIZE
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_subscriptions: int = 0  # per connection; 0 = unlimited
    ping_interval: float = DEFAULT_PING_INTERVAL
    ping_max: int = DEFAULT_PING_MAX_OUT
    write_deadline: float = DEFAULT_FLUSH_DEADLINE
    lame_duck_duration: float = DEFAULT_LAME_DUCK_DURATION
    lame_duck_grace_period: float = DEFAULT_LAME_DUCK_GRACE_PERIOD

    debug: bool = False
    trace: bool = False
    trace_verbose: bool = False
    logtime: bool = True  # nats-server's -logtime flag defaults to true
    log_file: str = ""
    log_size_limit: int = 0
    pid_file: str = ""
    ports_file_dir: str = ""

    # authorization { ... }
    username: str = ""
    password: str = ""
    authorization: str = ""  # the token
    users: list[User] = field(default_factory=list)
    auth_timeout: float = AUTH_TIMEOUT
    default_permissions: Optional[Permissions] = None
    auth_callout: Optional[dict[str, Any]] = None
    proxy_required: bool = False
    no_auth_user: str = ""

    # jetstream
    jetstream: bool = False
    store_dir: str = ""
    jetstream_max_memory: int = -1  # -1: sized dynamically at startup
    jetstream_max_store: int = -1
    jetstream_domain: str = ""
    jetstream_key: str = ""
    jetstream_strict: bool = True
    # jetstream.sync_interval: "always", or seconds between fdatasyncs; None = natsx's default
    # ("always": an ack only once its message is fdatasync'ed; nats-server's default is 2m).
    jetstream_sync: float | str | None = None
    jetstream_duplicate_window: float = 0.0   # jetstream.limits.duplicate_window (seconds; 0: none)
    jetstream_extra: dict[str, Any] = field(default_factory=dict)

    # Parsed and kept, but refused while natsx does not serve them (see UNSUPPORTED_KEYS).
    system_account: str = ""
    cluster: Optional[dict[str, Any]] = None
    gateway: Optional[dict[str, Any]] = None
    leafnodes: Optional[dict[str, Any]] = None
    accounts: Optional[dict[str, Any]] = None
    tls: Optional[dict[str, Any]] = None
    websocket: Optional[dict[str, Any]] = None
    mqtt: Optional[dict[str, Any]] = None
    # Every other recognised top-level key, by its lower-cased name.
    other: dict[str, Any] = field(default_factory=dict)

    # Non-fatal findings (nats-server logs these; `-t` treats them as fatal).
    config_warnings: list[str] = field(default_factory=list)
    # The flags given on the command line: a reload applies them again over the re-read file,
    # as nats-server merges its flag snapshot (else `--auth` would be lost on SIGHUP).
    flag_overrides: dict[str, Any] = field(default_factory=dict)

    def apply_flag_overrides(self) -> None:
        for key, value in self.flag_overrides.items():
            setattr(self, key, value)

    @property
    def monitor_host(self) -> str:
        return self.http_host or self.host


# Top-level keys nats-server (2.12+) accepts; anything else is "unknown field".
KNOWN_TOP_LEVEL_KEYS = frozenset(
    """
    listen client_advertise port server_name host net debug trace trace_verbose
    trace_headers logtime logtime_utc mappings maps disable_sublist_cache
    no_sublist_cache accounts authorization http https http_port monitor_port
    https_port http_base_path cluster gateway leaf leafnodes store_dir storedir
    jetstream logfile log_file logfile_size_limit log_size_limit logfile_max_num
    log_max_num syslog remote_syslog pidfile pid_file ports_file_dir prof_port
    prof_block_rate max_control_line max_payload max_pending max_connections
    max_conn max_traced_msg_len max_subscriptions max_subs max_sub_tokens
    max_subscription_tokens ping_interval ping_max tls ocsp ocsp_cache
    allow_non_tls write_deadline write_timeout lame_duck_duration
    lame_duck_grace_period operator operators roots root root_operators
    root_operator resolver account_resolver accounts_resolver resolver_tls
    resolver_preload resolver_pinned_accounts no_auth_user system_account system
    no_system_account no_system no_sys_acc no_header_support trusted
    trusted_keys connect_error_reports reconnect_error_reports websocket ws mqtt
    server_tags server_metadata default_js_domain no_fast_producer_stall
    max_closed_clients proxies default_sentinel proxy_protocol feature_flags
    """.split()
)

_JETSTREAM_KEYS = frozenset(
    """
    strict store store_dir storedir sync sync_interval max_memory_store
    max_mem_store max_mem max_file_store max_file domain enable enabled key ek
    encryption_key prev_key prev_ek prev_encryption_key cipher extension_hint
    unique_tag max_outstanding_catchup max_buffered_size max_buffered_msgs
    request_queue_limit info_queue_limit meta_compact meta_compact_size
    meta_compact_sync limits tpm max_concurrent_io
    """.split()
)

_USER_EXTRA_KEYS = frozenset(
    ["allowed_connection_types", "connection_types", "clients", "proxy_required"]
)


def _field_table(*specs: tuple[str, str, tuple[str, ...]]) -> dict[str, tuple[str, str]]:
    """{config key: (attribute, Go type)} from (attribute, Go type, keys) rows."""
    return {key: (attr, go_type) for attr, go_type, keys in specs for key in keys}


# Keys that only set one attribute from a value of one Go type (a wrong type
# panics in nats-server, see _want); keys with more logic stay in code.
_CREDENTIAL_ROWS = (
    ("user", "string", ("user", "username")),
    ("password", "string", ("pass", "password")),
)
_USER_FIELDS = _field_table(*_CREDENTIAL_ROWS, ("nkey", "string", ("nkey",)))
_AUTHORIZATION_FIELDS = _field_table(*_CREDENTIAL_ROWS, ("token", "string", ("token",)))
_TOP_LEVEL_FIELDS = _field_table(
    ("port", "int64", ("port",)),
    ("host", "string", ("host", "net")),
    ("client_advertise", "string", ("client_advertise",)),
    ("debug", "bool", ("debug",)),
    ("trace", "bool", ("trace",)),
    ("logtime", "bool", ("logtime",)),
    ("max_subscriptions", "int64", ("max_subscriptions", "max_subs")),
    ("http_port", "int64", ("http_port", "monitor_port")),
    ("https_port", "int64", ("https_port",)),
    ("http_base_path", "string", ("http_base_path",)),
    ("log_file", "string", ("logfile", "log_file")),
    ("log_size_limit", "int64", ("logfile_size_limit", "log_size_limit")),
    ("pid_file", "string", ("pidfile", "pid_file")),
    ("ports_file_dir", "string", ("ports_file_dir",)),
    ("max_pending", "int64", ("max_pending",)),
    ("max_connections", "int64", ("max_connections", "max_conn")),
    ("ping_max", "int64", ("ping_max",)),
    ("no_auth_user", "string", ("no_auth_user",)),
)
_JETSTREAM_FIELDS = _field_table(
    ("jetstream_domain", "string", ("domain",)),
    ("jetstream_key", "string", ("key", "ek", "encryption_key")),
)

# Blocks natsx keeps as parsed (and refuses, see _UNSUPPORTED_FIELDS): config key -> attribute.
_KEPT_BLOCKS = {
    "cluster": "cluster",
    "gateway": "gateway",
    "leaf": "leafnodes",
    "leafnodes": "leafnodes",
    "accounts": "accounts",
    "tls": "tls",
    "websocket": "websocket",
    "ws": "websocket",
    "mqtt": "mqtt",
}


class _Panic(Exception):
    """A Go runtime panic inside nats-server's option processing.

    nats-server recovers these per block and reports them at the last token
    it looked at; raising lets us do the same.
    """


# Python type of a config value -> Go's name for it (bool before int: bool is an int).
_GO_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "bool"),
    (int, "int64"),
    (float, "float64"),
    (str, "string"),
    (dict, "map[string]interface {}"),
    (list, "[]interface {}"),
    (_dt.datetime, "time.Time"),
)


def _go_type(v: Any) -> str:
    if isinstance(v, Token):
        v = v.value
    for py_type, go_name in _GO_TYPE_NAMES:
        if isinstance(v, py_type):
            return go_name
    return "<nil>"


def _go_fmt(v: Any) -> str:
    """Go's %v for config values."""
    if isinstance(v, Token):
        v = v.value
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        r = repr(v)
        return r[:-2] if r.endswith(".0") else r
    if isinstance(v, list):
        return "[" + " ".join(_go_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_fmt(x)}" for k, x in sorted(v.items())) + "]"
    return str(v)


_GO_TYPES = {"int64": int, "string": str, "bool": bool, "float64": float}


def _want(v: Any, go_name: str) -> Any:
    """Go's v.(T) type assertion: returns the value or 'panics'."""
    if go_name == "map[string]interface {}":
        ok = isinstance(v, dict)
    elif go_name == "int64":
        ok = isinstance(v, int) and not isinstance(v, bool)
    else:
        ok = isinstance(v, _GO_TYPES[go_name])
    if not ok:
        raise _Panic(f"interface conversion: interface {{}} is {_go_type(v)}, not {go_name}")
    return v


def _set_field(obj: Any, fields: dict[str, tuple[str, str]], key: str, v: Any) -> bool:
    """Set obj's attribute for key from a table like _TOP_LEVEL_FIELDS.

    False when key is not in the table; panics (like nats-server) on a wrong type.
    """
    if key not in fields:
        return False
    attr, go_type = fields[key]
    setattr(obj, attr, _want(v, go_type))
    return True


_NIL_DEREF = "runtime error: invalid memory address or nil pointer dereference"


class _Collector:
    """nats-server's (errors, warnings) lists, formatted like its error types."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        # Where each option was set, for refusals: option path -> (token, key as written).
        self.where: dict[str, tuple[Optional[Token], str]] = {}

    def err(self, tk: Optional[Token], reason: str) -> None:
        self.errors.append(f"{tk.source()}: {reason}" if tk is not None else reason)

    def unknown(self, tk: Optional[Token], name: str) -> None:
        if tk is None:
            self.errors.append(f"unknown field {go_quote(name)}")
        elif not tk.used_variable:
            self.errors.append(f"{tk.source()}: unknown field {go_quote(name)}")

    def warn(self, tk: Optional[Token], name: str, reason: str) -> None:
        where = f"{tk.source()}: " if tk is not None else ""
        self.warnings.append(f"{where}invalid use of field {go_quote(name)}: {reason}")


def _unwrap(v: Any) -> tuple[Optional[Token], Any]:
    if isinstance(v, Token):
        return v, v.value
    return None, v


def _split_host_port(hp: str) -> tuple[str, str]:
    """Go's net.SplitHostPort; raises ValueError on malformed input."""
    i = hp.rfind(":")
    if i < 0:
        raise ValueError("missing port in address")
    j = k = 0
    if hp.startswith("["):
        end = hp.find("]")
        if end < 0:
            raise ValueError("missing ']' in address")
        if end + 1 == len(hp):
            raise ValueError("missing port in address")
        if end + 1 != i:
            raise ValueError("too many colons in address" if hp[end + 1] == ":" else "missing port in address")
        host = hp[1:end]
        j, k = 1, end + 1
    else:
        host = hp[:i]
        if ":" in host:
            raise ValueError("too many colons in address")
    if "[" in hp[j:]:
        raise ValueError("unexpected '[' in address")
    if "]" in hp[k:]:
        raise ValueError("unexpected ']' in address")
    return host, hp[i + 1 :]


def _atoi(s: str) -> int:
    """Go's strconv.Atoi for the port part."""
    body = s[1:] if s[:1] in "+-" else s
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(s)
    return int(s)


def _parse_listen(v: Any) -> tuple[str, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        return "", v
    if isinstance(v, str):
        try:
            host, port = _split_host_port(v)
        except ValueError:
            raise ValueError(f"could not parse address string {go_quote(v)}") from None
        try:
            return host, _atoi(port)
        except ValueError:
            raise ValueError(f"could not parse port {go_quote(port)}") from None
    raise ValueError(f"expected port or host:port, got {_go_type(v)}")


def _parse_duration_opt(
    name: str, tk: Optional[Token], v: Any, col: _Collector
) -> Optional[float]:
    """nats-server's parseDuration: strings are Go durations; numbers are
    accepted as seconds with a deprecation warning."""
    if isinstance(v, str):
        try:
            return parse_duration_ns(v) / _SECOND_NS
        except ValueError as e:
            col.err(tk, f"error parsing {name}: {e}")
            return 0.0
    col.warn(tk, name, f"{name} should be converted to a duration")
    return float(_want(v, "int64"))


def _storage_size(v: Any) -> int:
    """nats-server's getStorageSize (jetstream limits): int, or "<n>K|M|G|T"."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if not isinstance(v, str):
        raise ValueError("must be int64 or string")
    if v == "":
        return 0
    prefix, suffix = v[:-1], v[-1:]
    body = prefix[1:] if prefix[:1] in "+-" else prefix
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(prefix)}: invalid syntax")
    num = int(prefix)
    if not -(1 << 63) <= num < (1 << 63):
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(prefix)}: value out of range")
    shift = {"K": 10, "M": 20, "G": 30, "T": 40}.get(suffix)
    if shift is None:
        raise ValueError("sizes defined as strings must end in K, M, G, T")
    return num << shift


def _set_store_dir(opts: ServerOptions, tk: Optional[Token], v: Any, col: _Collector) -> bool:
    # The top level and the jetstream block may each set it, but not both.
    if opts.store_dir:
        col.err(tk, "Duplicate 'store_dir' configuration")
        return False
    opts.store_dir = _want(v, "string")
    return True


def _parse_duration_string(
    name: str, tk: Optional[Token], v: Any, col: _Collector
) -> Optional[int]:
    """A duration that must be a string (no seconds-number fallback), in ns."""
    try:
        return parse_duration_ns(_want(v, "string"))
    except ValueError as e:
        col.err(tk, f"error parsing {name}: {e}")
        return None


def _process_jetstream(opts: ServerOptions, tk: Optional[Token], v: Any, col: _Collector) -> None:
    if isinstance(v, bool):
        opts.jetstream = v
        return
    if isinstance(v, str):
        low = v.lower()
        if low in ("enabled", "enable"):
            opts.jetstream = True
        elif low in ("disabled", "disable"):
            opts.jetstream = False
        else:
            col.err(tk, f"Expected 'enabled' or 'disabled' for string value, got '{v}'")
        return
    if not isinstance(v, dict):
        col.err(tk, f"Expected map, bool or string to define JetStream, got {_go_type(v)}")
        return
    enable = True
    for mk, raw in v.items():
        mtk, mv = _unwrap(raw)
        key = mk.lower()
        if _set_field(opts, _JETSTREAM_FIELDS, key, mv):
            col.where[_JETSTREAM_FIELDS[key][0]] = (mtk, f"jetstream.{mk}")
            continue
        if key in ("store", "store_dir", "storedir"):
            if not _set_store_dir(opts, mtk, mv, col):
                return
        elif key in ("max_memory_store", "max_mem_store", "max_mem", "max_file_store", "max_file"):
            label = "max_file_store" if "file" in key else "max_mem_store"
            try:
                size = _storage_size(mv)
            except ValueError as e:
                col.err(mtk, f"{label} {e}")
                return
            if label == "max_file_store":
                opts.jetstream_max_store = size
            else:
                opts.jetstream_max_memory = size
        elif key in ("enable", "enabled"):
            enable = _want(mv, "bool")
        elif key == "strict":
            if not isinstance(mv, bool):
                col.err(mtk, f"Expected 'true' or 'false' for bool value, got '{mv}'")
                return
            opts.jetstream_strict = mv
        elif key == "max_concurrent_io" and not (isinstance(mv, int) and not isinstance(mv, bool)
                                                 and 4 <= mv <= 8192):
            col.err(mtk, f'Expected an absolute size for "{mk}" between 4 and 8192, got {mv}')
            return
        elif key == "limits" and isinstance(mv, dict):
            limits = {}
            for lk, lraw in mv.items():
                ltk, lv = _unwrap(lraw)
                if lk.lower() == "duplicate_window":
                    seconds = _parse_duration_opt(lk, ltk, lv, col)
                    if seconds is not None:
                        opts.jetstream_duplicate_window = seconds
                else:
                    limits[lk.lower()] = strip_tokens(lv)
            opts.jetstream_extra["limits"] = limits
        elif key in ("sync", "sync_interval"):
            if isinstance(mv, str) and mv.lower() == "always":
                opts.jetstream_sync = "always"
            else:
                seconds = _parse_duration_opt(mk, mtk, mv, col)
                if seconds is not None:
                    opts.jetstream_sync = seconds
        elif key in _JETSTREAM_KEYS:
            opts.jetstream_extra[key] = strip_tokens(mv)
            col.where[f"jetstream.{key}"] = (mtk, f"jetstream.{mk}")
        else:
            col.unknown(mtk, mk)
    opts.jetstream = enable


@dataclass
class _Auth:
    user: str = ""
    password: str = ""
    token: str = ""
    timeout: float = 0.0
    users: Optional[list[User]] = None
    default_permissions: Optional[Permissions] = None
    callout: Optional[dict[str, Any]] = None
    proxy_required: bool = False


def _parse_users(tk: Optional[Token], v: Any, col: _Collector) -> Optional[list[User]]:
    last = tk
    try:
        if not isinstance(v, list):
            col.err(tk, f"Expected users field to be an array, got {_go_fmt(v)}")
            return None
        users: list[User] = []
        for raw in v:
            utk, u = _unwrap(raw)
            last = utk or last
            if not isinstance(u, dict):
                col.err(utk, f"Expected user entry to be a map/struct, got {_go_fmt(u)}")
                continue
            user = User()
            ftk = utk
            for k, fraw in u.items():
                ftk, fv = _unwrap(fraw)
                last = ftk or last
                low = k.lower()
                if low in ("permission", "permissions", "authorization"):
                    user.permissions = _parse_permissions(ftk, fv, col)
                    low = "permissions"
                elif low in _USER_EXTRA_KEYS:
                    user.extra[low] = strip_tokens(fv)
                elif not _set_field(user, _USER_FIELDS, low, fv):
                    col.unknown(ftk, k)
                    continue
                col.where[f"users[{len(users)}].{low}"] = (ftk, f"authorization.users.{k}")
            if not user.user and not user.nkey:
                # Returned as an error by nats-server: ends the whole list.
                col.err(ftk, "User entry requires a user")
                return None
            users.append(user)
        return users
    except _Panic as p:
        col.err(last, str(p))
        return None


def _parse_authorization(tk: Optional[Token], v: Any, col: _Collector) -> Optional[_Auth]:
    """nats-server's parseAuthorization; panics are reported at the last
    inner token (its own recover), and a nil result panics in the caller."""
    last = tk
    auth = _Auth()
    try:
        am = _want(v, "map[string]interface {}")
        for mk, raw in am.items():
            mtk, mv = _unwrap(raw)
            last = mtk or last
            key = mk.lower()
            if _set_field(auth, _AUTHORIZATION_FIELDS, key, mv):
                continue
            if key == "timeout":
                if isinstance(mv, bool):
                    col.err(mtk, "error parsing authorization config, 'timeout' wrong type")
                    continue
                if isinstance(mv, (int, float)):
                    auth.timeout = float(mv)
                elif isinstance(mv, str):
                    try:
                        auth.timeout = parse_duration_ns(mv) / _SECOND_NS
                    except ValueError as e:
                        col.err(mtk, f"error parsing authorization config, 'timeout' {e}")
                        continue
                else:
                    col.err(mtk, "error parsing authorization config, 'timeout' wrong type")
                    continue
                if auth.timeout > 60:
                    col.warn(
                        mtk, "timeout",
                        f"timeout of {_go_fmt(mv)} ({auth.timeout:.6f} seconds) is high, "
                        "consider keeping it under 60 seconds. possibly caused by unquoted "
                        "duration; use '1m' instead of 1m, for example",
                    )
            elif key == "users":
                users = _parse_users(mtk, mv, col)
                if users is not None:
                    auth.users = users
            elif key in ("default_permission", "default_permissions", "permissions"):
                auth.default_permissions = _parse_permissions(mtk, mv, col)
                col.where["default_permissions"] = (mtk, f"authorization.{mk}")
            elif key in ("auth_callout", "auth_hook"):
                auth.callout = strip_tokens(mv)
                col.where["auth_callout"] = (mtk, f"authorization.{mk}")
            elif key == "proxy_required":
                auth.proxy_required = _want(mv, "bool")
                col.where["proxy_required"] = (mtk, f"authorization.{mk}")
            else:
                col.unknown(mtk, mk)
    except _Panic as p:
        col.err(last, str(p))
        return None
    return auth


def _apply_authorization(opts: ServerOptions, tk: Optional[Token], v: Any, col: _Collector) -> None:
    """The top-level authorization block onto opts, as processConfigFileLine."""
    auth = _parse_authorization(tk, v, col)
    if auth is None:
        raise _Panic(_NIL_DEREF)
    opts.username, opts.password, opts.authorization = auth.user, auth.password, auth.token
    opts.proxy_required = auth.proxy_required
    if (auth.user or auth.password) and auth.token:
        col.err(tk, "Cannot have a user/pass and token")
        return
    if auth.timeout:
        opts.auth_timeout = auth.timeout
    if auth.users is not None:
        if auth.user:
            col.err(tk, "Can not have a single user/pass and a users array")
            return
        if auth.token:
            col.err(tk, "Can not have a token and a users array")
            return
        opts.users.extend(auth.users)
        seen: set[str] = set()
        for u in opts.users:
            if u.user and u.user in seen:
                col.err(tk, f"Duplicate user {go_quote(u.user)} detected")
                return
            seen.add(u.user)
    opts.default_permissions = auth.default_permissions
    if auth.default_permissions is not None:
        # Users without their own permissions get the defaults.
        for u in auth.users or ():
            if u.permissions is None:
                u.permissions = auth.default_permissions
    opts.auth_callout = auth.callout


class _PermissionError(Exception):
    def __init__(self, tk: Optional[Token], reason: str) -> None:
        super().__init__(reason)
        self.tk = tk


def _parse_permissions(tk: Optional[Token], v: Any, col: _Collector) -> Optional[Permissions]:
    """nats-server's parseUserPermissions: publish/subscribe as a subject, a list of them or
    {allow, deny}; allow_responses as a bool or {max, expires}. Errors are collected; a part in
    error is left unset, as nats-server leaves it."""
    if not isinstance(v, dict):
        col.err(tk, f"Expected permissions to be a map/struct, got {_go_fmt(v)}")
        return None
    publish: Optional[SubjectPermission] = None
    subscribe: Optional[SubjectPermission] = None
    responses: Optional[ResponsePermission] = None
    for k, raw in v.items():
        ktk, kv = _unwrap(raw)
        low = k.lower()
        try:
            if low in ("pub", "publish", "import"):
                publish = _subject_permission(ktk, kv, col, allow_queue=False)
            elif low in ("sub", "subscribe", "export"):
                subscribe = _subject_permission(ktk, kv, col, allow_queue=True)
            elif low in ("publish_allow_responses", "allow_responses"):
                if isinstance(kv, bool):
                    responses = ResponsePermission() if kv else None
                else:
                    responses = _response_permission(ktk, kv, col)
                if responses is not None:
                    # Responses only: the blanket publish allow is turned off.
                    publish = publish or SubjectPermission()
                    if publish.allow is None:
                        publish = replace(publish, allow=())
            elif ktk is None or not ktk.used_variable:
                col.err(ktk, f"Unknown field {go_quote(k)} parsing permissions")
        except _PermissionError as e:
            col.err(e.tk, str(e))
    return Permissions(publish, subscribe, responses)


def _subject_permission(tk: Optional[Token], v: Any, col: _Collector,
                        allow_queue: bool) -> Optional[SubjectPermission]:
    if not isinstance(v, dict):
        # The old style, the allowed subjects only; nats-server reports its errors without a position.
        return SubjectPermission(allow=_perm_subjects(None, v, allow_queue))
    if not v:
        return None
    allow = deny = None
    for k, raw in v.items():
        ktk, kv = _unwrap(raw)
        low = k.lower()
        try:
            if low == "allow":
                allow = _perm_subjects(ktk, kv, allow_queue)
            elif low == "deny":
                deny = _perm_subjects(ktk, kv, allow_queue)
            elif ktk is None or not ktk.used_variable:
                col.err(ktk, f"Unknown field name {go_quote(k)} parsing subject permissions, "
                             "only 'allow' or 'deny' are permitted")
        except _PermissionError as e:
            col.err(e.tk, str(e))
    return SubjectPermission(allow, deny)


def _perm_subjects(tk: Optional[Token], v: Any, allow_queue: bool) -> tuple[str, ...]:
    if isinstance(v, str):
        subjects = [v]
    elif isinstance(v, list):
        subjects = []
        for raw in v:
            itk, item = _unwrap(raw)
            if not isinstance(item, str):
                raise _PermissionError(itk, "Subject in permissions array cannot be cast to string")
            subjects.append(item)
    else:
        raise _PermissionError(tk, "Expected subject permissions to be a subject, or array of subjects, "
                                   f"got {_go_type(v)}")
    for s in subjects:
        if is_valid_subject(s):
            continue
        # A subscribe permission may name a queue group: "subject queue".
        parts = s.split()
        if not allow_queue or len(parts) != 2:
            raise _PermissionError(tk, f"subject {go_quote(s)} is not a valid subject")
        if not is_valid_subject(parts[0]):
            raise _PermissionError(tk, f"subject {go_quote(parts[0])} is not a valid subject")
        if not is_valid_subject(parts[1]):
            raise _PermissionError(tk, f"queue {go_quote(parts[1])} is not a valid queue")
    return tuple(subjects)


def _response_permission(tk: Optional[Token], v: Any, col: _Collector) -> Optional[ResponsePermission]:
    if not isinstance(v, dict):
        col.err(tk, "error parsing response permissions, expected a boolean or a map")
        return None
    rp = ResponsePermission()
    for k, raw in v.items():
        ktk, kv = _unwrap(raw)
        low = k.lower()
        if low in ("max", "max_msgs", "max_messages", "max_responses"):
            try:
                n = _want(kv, "int64")
            except _Panic as p:   # recovered in nats-server's parseAllowResponses
                col.err(ktk, str(p))
                return None
            if n != 0:   # 0 keeps the default; negative means unlimited
                rp = replace(rp, max_msgs=n)
        elif low in ("expires", "expiration", "ttl"):
            if not isinstance(kv, str):
                col.err(ktk, "error parsing expires, not a duration string")
                return None
            try:
                ns = parse_duration_ns(kv)
            except ValueError as e:
                col.err(ktk, f"error parsing expires: {e}")
                return None
            if ns != 0:
                rp = replace(rp, expires=ns / _SECOND_NS)
        elif ktk is None or not ktk.used_variable:
            col.err(ktk, f"Unknown field {go_quote(k)} parsing permissions")
    return rp


def _apply_line(opts: ServerOptions, k: str, raw: Any, col: _Collector) -> None:
    """One top-level key, as nats-server's processConfigFileLine."""
    tk, v = _unwrap(raw)
    key = k.lower()
    if _set_field(opts, _TOP_LEVEL_FIELDS, key, v):
        return
    if key in _KEPT_BLOCKS:
        setattr(opts, _KEPT_BLOCKS[key], strip_tokens(v))
    elif key == "listen":
        try:
            opts.host, opts.port = _parse_listen(v)
        except ValueError as e:
            col.err(tk, str(e))
    elif key == "server_name":
        name = _want(v, "string")
        if " " in name:
            col.err(tk, "server name cannot contain spaces")
            return
        opts.server_name = name
    elif key == "trace_verbose":
        opts.trace_verbose = opts.trace = _want(v, "bool")
    elif key == "authorization":
        _apply_authorization(opts, tk, v, col)
    elif key in ("http", "https"):
        try:
            host, port = _parse_listen(v)
        except ValueError as e:
            col.err(tk, str(e))
            return
        opts.http_host = host
        if key == "http":
            opts.http_port = port
        else:
            opts.https_port = port
    elif key in ("store_dir", "storedir"):
        _set_store_dir(opts, tk, v, col)
    elif key == "jetstream":
        _process_jetstream(opts, tk, v, col)
    elif key in ("max_control_line", "max_payload"):
        n = _want(v, "int64")
        if n > (1 << 31) - 1:
            col.err(tk, f"{k} value is too big")
            return
        setattr(opts, key, n)
    elif key in ("ping_interval", "write_deadline"):
        setattr(opts, key, _parse_duration_opt(key, tk, v, col))
    elif key == "lame_duck_duration":
        ns = _parse_duration_string(key, tk, v, col)
        if ns is None:
            return
        if ns < 30 * _SECOND_NS:
            col.err(
                tk,
                f"invalid lame_duck_duration of {go_duration(ns)}, minimum is 30 seconds",
            )
            return
        opts.lame_duck_duration = ns / _SECOND_NS
    elif key == "lame_duck_grace_period":
        ns = _parse_duration_string(key, tk, v, col)
        if ns is None:
            return
        if ns < 0:
            col.err(tk, "invalid lame_duck_grace_period, needs to be positive")
            return
        opts.lame_duck_grace_period = ns / _SECOND_NS
    elif key in ("system_account", "system"):
        return  # handled first, see _configure_system_account
    elif key in ("max_sub_tokens", "max_subscription_tokens"):
        n = _want(v, "int64")
        if n > 255:
            col.err(tk, f"{k} value is too big")
        elif n <= 0:
            col.err(tk, f"{k} value can not be negative")
        else:
            opts.other[key] = n
    elif key == "write_timeout":
        if _want(v, "string") not in ("default", "close", "retry"):
            col.err(tk, "write_timeout must be 'default', 'close' or 'retry'")
            return
        opts.other[key] = v
    elif key == "feature_flags":
        _process_feature_flags(opts, tk, v, col)
    elif key in KNOWN_TOP_LEVEL_KEYS:
        go_type = _OTHER_TYPES.get(key)
        opts.other[key] = _want(v, go_type) if go_type else strip_tokens(v)
    else:
        col.unknown(tk, k)


# Go types of the plain top-level keys kept in ServerOptions.other (a wrong type panics).
_OTHER_TYPES = {
    **dict.fromkeys(
        """trace_headers logtime_utc disable_sublist_cache no_sublist_cache syslog proxy_protocol
        allow_non_tls no_system_account no_system no_sys_acc no_header_support no_fast_producer_stall""".split(),
        "bool",
    ),
    **dict.fromkeys(
        """logfile_max_num log_max_num prof_port prof_block_rate max_traced_msg_len
        connect_error_reports reconnect_error_reports max_closed_clients""".split(),
        "int64",
    ),
    **dict.fromkeys("remote_syslog default_sentinel".split(), "string"),
}


def _process_feature_flags(opts: ServerOptions, tk: Optional[Token], v: Any, col: _Collector) -> None:
    if not isinstance(v, dict):
        col.err(tk, f"error parsing feature flags: unsupported type {_go_type(v)}")
        return
    flags: dict[str, bool] = {}
    for name, raw in v.items():
        ftk, fv = _unwrap(raw)
        if not isinstance(fv, bool):
            col.err(ftk or tk, f"error parsing feature flag {go_quote(name)}: expected bool, got {_go_type(fv)}")
            return
        flags[name] = fv
    opts.other["feature_flags"] = flags


def _option_path(key: str) -> str:
    """The ServerOptions attribute (or `other` key) a lower-cased top-level key sets."""
    if key in _TOP_LEVEL_FIELDS:
        return _TOP_LEVEL_FIELDS[key][0]
    if key in _KEPT_BLOCKS:
        return _KEPT_BLOCKS[key]
    return {"https": "https_port", "system": "system_account"}.get(key, key)


def _configure_system_account(opts: ServerOptions, m: dict[str, Any], col: _Collector) -> None:
    raw = m["system_account"] if "system_account" in m else m.get("system")
    if raw is None:
        return
    tk, v = _unwrap(raw)
    if not isinstance(v, str):
        col.err(tk, "system account name must be a string")
        return
    opts.system_account = v


def apply_config(
    opts: ServerOptions, cfg: dict[str, Any], *, filename: str = "", refuse_unsupported: bool = True
) -> ServerOptions:
    """Apply a parsed config (token tree or plain dict) onto ``opts``.

    Raises :class:`ConfigError` listing every error (warnings first), like
    nats-server.  Warnings alone are stored in ``opts.config_warnings``.
    With a plain dict, messages carry no ``file:line:col`` prefix.
    Keys natsx does not enforce are errors too, after nats-server's own
    (``refuse_unsupported=False`` only parses them: nats-server's verdict).
    """
    col = _Collector()
    if not cfg:
        col.err(None, f"{filename}: config has no values or is empty")
    else:
        _configure_system_account(opts, cfg, col)
        for k, raw in cfg.items():
            col.where[_option_path(k.lower())] = (raw if isinstance(raw, Token) else None, k)
            try:
                _apply_line(opts, k, raw, col)
            except _Panic as p:
                col.err(raw if isinstance(raw, Token) else None, str(p))
        if refuse_unsupported:
            # After nats-server's own errors, so a config it rejects reads the same; in file order.
            refusals = [(*col.where.get(path, (None, path)), feature) for path, feature in _unsupported(opts)]
            refusals.sort(key=lambda r: (r[0].source_file, r[0].line, r[0].pos) if r[0] else ("", 0, 0))
            for tk, written, feature in refusals:
                col.err(tk, _refusal(written, feature))
    opts.config_warnings = list(col.warnings)
    if col.errors:
        lines = col.warnings + col.errors
        first = _first_location(lines[0])
        raise ConfigError(
            "\n".join(lines),
            filename=first[0], line=first[1], column=first[2],
            errors=col.errors, warnings=col.warnings,
        )
    return opts


def _first_location(msg: str) -> tuple[Optional[str], Optional[int], Optional[int]]:
    """Split "file:line:col: reason" into its location, if it has one."""
    parts = msg.split(": ", 1)[0].rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1]), int(parts[2])
    return None, None, None


def load_server_options(
    path: str, *, warnings_are_errors: bool = False, refuse_unsupported: bool = True
) -> ServerOptions:
    """Read a nats-server config file into :class:`ServerOptions`.

    ``warnings_are_errors=True`` mirrors ``nats-server -t`` (check mode),
    which fails on deprecation warnings too.  See :func:`apply_config` for
    ``refuse_unsupported``.
    """
    cfg = parse_config_file_tokens(path)
    opts = ServerOptions(config_file=path, config_digest=config_digest(strip_tokens(cfg)))
    apply_config(opts, cfg, filename=path, refuse_unsupported=refuse_unsupported)
    if warnings_are_errors and opts.config_warnings:
        raise ConfigError(
            "\n".join(opts.config_warnings),
            errors=[], warnings=opts.config_warnings,
        )
    return opts


def config_digest(config: dict[str, Any]) -> str:
    """nats-server's config digest: sha256 of the parsed config as Go's json.Encoder writes it
    (map keys sorted, a newline after)."""
    encoded = go_json(config, indent=False, sort_keys=True) + b"\n"
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


# -- fail closed ------------------------------------------------------------------------------
# What natsx parses but does not enforce yet.  Each refusal is lifted (its row deleted) when
# the feature lands.

_TLS = "TLS"
_JWT = "operator/JWT authentication"
_PROXIES = "trusted proxies"
_ROTATION = "log file rotation"


def _refused(_: Any) -> bool:
    return False


def _is(value: Any) -> Callable[[Any], bool]:
    """Harmless only with this value: nats-server's default, which is how natsx behaves."""
    return lambda v: v == value


# ServerOptions attribute -> feature; refused when it differs from the default (an empty block
# such as `tls {}` differs from None).
_UNSUPPORTED_FIELDS = {
    "client_advertise": "advertising another client address",
    "tls": _TLS,
    "https_port": "monitoring over HTTPS",
    "cluster": "clustering",
    "gateway": "gateways",
    "leafnodes": "leaf nodes",
    "websocket": "WebSocket",
    "mqtt": "MQTT",
    "accounts": "accounts",
    "system_account": "system account",
    "default_permissions": "permissions",
    "auth_callout": "auth callout",
    "proxy_required": _PROXIES,
    "log_size_limit": _ROTATION,
    "jetstream_key": "JetStream encryption at rest",
}

# Keys kept in ServerOptions.other -> (feature, which values are harmless).
_UNSUPPORTED_OTHER: dict[str, tuple[str, Callable[[Any], bool]]] = {
    **dict.fromkeys(("ocsp", "ocsp_cache", "allow_non_tls"), (_TLS, _refused)),
    **dict.fromkeys(
        """operator operators roots root root_operators root_operator resolver account_resolver
        accounts_resolver resolver_tls resolver_preload resolver_pinned_accounts trusted trusted_keys
        default_sentinel""".split(),
        (_JWT, _refused),
    ),
    **dict.fromkeys(("mappings", "maps"), ("subject mappings", _refused)),
    "proxies": (_PROXIES, _refused),
    "proxy_protocol": ("PROXY protocol", _is(False)),
    "syslog": ("syslog", _is(False)),
    "remote_syslog": ("remote syslog", _is("")),
    **dict.fromkeys(("logfile_max_num", "log_max_num"), (_ROTATION, _is(0))),
    "logtime_utc": ("UTC log timestamps", _is(False)),
    "trace_headers": ("tracing headers only", _is(False)),
    "max_traced_msg_len": ("truncating traced messages", lambda v: v <= 0),
    "prof_port": ("the profiling port", _is(0)),
    "no_header_support": ("turning off message headers", _is(False)),
    **dict.fromkeys(("max_sub_tokens", "max_subscription_tokens"), ("limiting subject tokens", _refused)),
    "write_timeout": ("write_timeout retry", lambda v: v in ("default", "close")),
    "max_closed_clients": ("max_closed_clients", _is(10000)),
}

_UNSUPPORTED_JETSTREAM = dict.fromkeys(
    "prev_key prev_ek prev_encryption_key cipher tpm".split(), "JetStream encryption at rest"
)


def _allows_standard_clients(types: Any) -> bool:
    """natsx serves only standard client connections: a user restricted to connection types
    without STANDARD would be let in."""
    names = [types] if isinstance(types, str) else types
    return not names or any(isinstance(t, str) and t.upper() == "STANDARD" for t in names)


_UNSUPPORTED_USER_EXTRA: dict[str, tuple[str, Callable[[Any], bool]]] = {
    **dict.fromkeys(
        ("allowed_connection_types", "connection_types", "clients"),
        ("allowed connection types", _allows_standard_clients),
    ),
    "proxy_required": (_PROXIES, _is(False)),
}

_DEFAULTS = ServerOptions()


def _unsupported(opts: ServerOptions) -> Iterator[tuple[str, str]]:
    """(option path, feature) for every option natsx would not enforce; the path names the
    option to code that embeds natsx, and locates it in a config file (_Collector.where)."""
    for attr, feature in _UNSUPPORTED_FIELDS.items():
        if getattr(opts, attr) != getattr(_DEFAULTS, attr):
            yield attr, feature
    for key, value in opts.other.items():
        feature, harmless = _UNSUPPORTED_OTHER.get(key, ("", None))
        if harmless is not None and not harmless(value):
            yield key, feature
    for key in opts.jetstream_extra:
        if key in _UNSUPPORTED_JETSTREAM:
            yield f"jetstream.{key}", _UNSUPPORTED_JETSTREAM[key]
    for i, user in enumerate(opts.users):
        if user.nkey:
            yield f"users[{i}].nkey", "NKey users"
        # Defaults copied from authorization are refused there, once.
        if user.permissions is not None and user.permissions is not opts.default_permissions:
            yield f"users[{i}].permissions", "permissions"
        for key, value in user.extra.items():
            feature, harmless = _UNSUPPORTED_USER_EXTRA.get(key, (key, _refused))
            if not harmless(value):
                yield f"users[{i}].{key}", feature


def _refusal(name: str, feature: str) -> str:
    return (f"{go_quote(name)} is not supported by natsx yet ({feature}): "
            "refusing to start rather than serve without it")


def validate_options(opts: ServerOptions) -> None:
    """nats-server's validateOptions: checks across options, made when the server starts (after
    flags are merged; `-t` does not make them). Raises ConfigError with nats-server's text.
    Options natsx does not enforce (set by embedding code or flags) are refused first."""
    refusals = [_refusal(path, feature) for path, feature in _unsupported(opts)]
    if refusals:
        raise ConfigError("\n".join(refusals))
    if " " in opts.server_name:
        raise ConfigError("server name cannot contain spaces")
    if opts.max_payload > opts.max_pending:
        raise ConfigError(f"max_payload ({opts.max_payload}) cannot be higher than max_pending ({opts.max_pending})")
    if opts.lame_duck_grace_period >= opts.lame_duck_duration:
        grace = go_duration(int(opts.lame_duck_grace_period * _SECOND_NS))
        duration = go_duration(int(opts.lame_duck_duration * _SECOND_NS))
        raise ConfigError(f"lame duck grace period ({grace}) should be strictly lower than "
                          f"lame duck duration ({duration})")
