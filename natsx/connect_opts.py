"""CONNECT's JSON read as nats-server reads it: Go's json.Unmarshal into its ClientOpts struct.

What Go does and Python's json module does not, each visible on the wire:
- a type mismatch (`"verbose": "yes"`, `"protocol": 1.5`, `"protocol": 1e999`) is an error, and
  nats-server closes the connection without an -ERR, as for any CONNECT it cannot decode;
- null leaves a field as it was; unknown keys are ignored; of duplicate keys the last wins;
- keys match field names case-insensitively under Unicode folding ("VERBOSE", "auth_to\u212aen");
- a second CONNECT decodes into the options the first one left (absent fields keep their value);
- invalid UTF-8 and lone surrogate escapes become U+FFFD; NaN/Infinity are syntax errors;
- nesting up to 10000 levels is fine, deeper is a syntax error; integers of any length parse.
"""
from __future__ import annotations

import codecs
import json
import re
from json.decoder import scanstring
from typing import Any

MAX_NESTING = 10000                 # Go's encoding/json scanner limit
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# nats-server's ClientOpts: json key -> Go type.
BOOL, STRING, INT, SUBJECT_PERMISSION = "bool", "string", "int", "*server.SubjectPermission"
FIELDS: dict[str, str] = {
    "echo": BOOL, "verbose": BOOL, "pedantic": BOOL, "tls_required": BOOL,
    "nkey": STRING, "jwt": STRING, "sig": STRING, "auth_token": STRING, "user": STRING, "pass": STRING,
    "name": STRING, "lang": STRING, "version": STRING, "protocol": INT, "account": STRING,
    "new_account": BOOL, "headers": BOOL, "no_responders": BOOL,
    "import": SUBJECT_PERMISSION, "export": SUBJECT_PERMISSION,
    "remote_account": STRING, "proxy_sig": STRING,
}
PERMISSION_FIELDS = ("allow", "deny")   # SubjectPermission: []string each

# Options before any CONNECT (nats-server's defaultOpts).
DEFAULTS: dict[str, Any] = {key: (False if kind == BOOL else "" if kind == STRING else 0 if kind == INT else None)
                            for key, kind in FIELDS.items()}
DEFAULTS.update(echo=True, verbose=True, pedantic=True)


class ConnectError(ValueError):
    """CONNECT's argument is not JSON Go accepts, or does not fit ClientOpts (message as Go's)."""


class _Object(list):
    """A JSON object as its (key, value) pairs in order (duplicates kept: the last one wins)."""


class _Number:
    """A number literal no ClientOpts field can hold as written: a fraction, an exponent, or an integer
    too long for an int64 (kept as text: Python refuses int() past 4300 digits, Go reports the literal)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Number) and other.text == self.text

    def __repr__(self) -> str:
        return f"_Number({self.text!r})"


_SURROGATE = re.compile("[\ud800-\udfff]")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Go folds a key rune to the smallest rune of its case orbit; the only non-ASCII runes whose orbit
# holds an ASCII letter are KELVIN SIGN (k) and LONG S (s).
_FOLD = str.maketrans({"\u212a": "k", "\u017f": "s"})


def _go_replace(err: UnicodeError) -> tuple[str, int]:
    # Go's decoder replaces each invalid byte by U+FFFD (Python's "replace" merges some runs).
    assert isinstance(err, UnicodeDecodeError)
    return "\ufffd", err.start + 1


codecs.register_error("natsx.go_replace", _go_replace)


def _int_literal(text: str) -> int | _Number:
    return int(text) if len(text) <= 20 else _Number(text)


def _no_constants(name: str) -> Any:
    raise ValueError(f"invalid character {name!r} looking for beginning of value")   # NaN, Infinity


def _fold(key: str) -> str:
    return key.translate(_FOLD).lower() if not key.isascii() else key.lower()


def decode(arg: bytes, previous: dict[str, Any]) -> dict[str, Any]:
    """The options after this CONNECT: `previous` (not modified) updated with what `arg` sets."""
    try:
        text = arg.decode()
    except UnicodeDecodeError:
        text = arg.decode("utf-8", "natsx.go_replace")
    value = parse(text)
    opts = dict(previous)
    if value is None:
        return opts
    if not isinstance(value, _Object):
        raise ConnectError(f"json: cannot unmarshal {_json_kind(value)} into Go value of type server.ClientOpts")
    first_error: ConnectError | None = None
    for key, item in value:
        name = _fold(key)
        kind = FIELDS.get(name)
        if kind is None or item is None:      # unknown key; null leaves the field as it was
            if kind == SUBJECT_PERMISSION:
                opts[name] = None             # except a pointer, which null clears
            continue
        try:
            opts[name] = _convert(item, kind, f"ClientOpts.{name}")
        except ConnectError as exc:
            first_error = first_error or exc  # Go keeps going and reports the first mismatch
    if first_error is not None:
        raise first_error
    return opts


def _convert(item: Any, kind: str, where: str) -> Any:
    if kind == BOOL and isinstance(item, bool):
        return item
    if kind == STRING and isinstance(item, str):
        return _SURROGATE.sub("\ufffd", item)
    if kind == INT and isinstance(item, (int, _Number)) and not isinstance(item, bool):
        if isinstance(item, int) and INT64_MIN <= item <= INT64_MAX:
            return item
        text = item.text if isinstance(item, _Number) else item
        raise ConnectError(f"json: cannot unmarshal number {text} into Go struct field {where} of type int")
    if kind == SUBJECT_PERMISSION and isinstance(item, _Object):
        return _permission(item, where)
    raise ConnectError(f"json: cannot unmarshal {_json_kind(item)} into Go struct field {where} of type {kind}")


def _permission(pairs: _Object, where: str) -> dict[str, list[str] | None]:
    perm: dict[str, list[str] | None] = {"allow": None, "deny": None}
    for key, item in pairs:
        name = _fold(key)
        if name not in PERMISSION_FIELDS:
            continue
        if item is None:
            perm[name] = None
        elif isinstance(item, list) and not isinstance(item, _Object):
            perm[name] = ["" if s is None else _convert(s, STRING, f"{where}.{name}") for s in item]
        else:
            raise ConnectError(f"json: cannot unmarshal {_json_kind(item)} into Go struct field "
                               f"{where}.{name} of type []string")
    return perm


def _json_kind(value: Any) -> str:
    if isinstance(value, _Object):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    return "number"


# ---- syntax -------------------------------------------------------------------------------------------

_decoder = json.JSONDecoder(object_pairs_hook=_Object, parse_int=_int_literal, parse_float=_Number,
                            parse_constant=_no_constants)
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")   # ASCII digits only, as Go
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


def parse(text: str) -> Any:
    """JSON as Go's scanner accepts it; objects as _Object pairs."""
    try:
        try:
            return _decoder.decode(text)
        except RecursionError:     # deeper than Python's recursion limit, maybe within Go's
            return _parse_deep(text)
    except ValueError as exc:
        raise ConnectError(str(exc)) from None


def _parse_deep(text: str) -> Any:
    """The grammar of `parse` without recursion, for documents nested up to MAX_NESTING levels."""
    stack: list[list[Any]] = []     # the containers being filled: [container, its pending key]
    pos = _skip(text, 0)
    while True:
        opener = text[pos:pos + 1]
        if opener in ("{", "["):
            if len(stack) >= MAX_NESTING:
                raise ConnectError("exceeded max depth")
            container: list[Any] = _Object() if opener == "{" else []
            pos = _skip(text, pos + 1)
            if text.startswith("}" if opener == "{" else "]", pos):
                value, pos = container, pos + 1
            else:
                stack.append([container, None])
                if opener == "{":
                    pos = _key(text, pos, stack[-1])
                continue
        else:
            value, pos = _scalar(text, pos)
        while True:     # store the value, then close every container that ends here
            pos = _skip(text, pos)
            if not stack:
                if pos != len(text):
                    raise ConnectError(f"invalid character after top-level value at {pos}")
                return value
            frame = stack[-1]
            container = frame[0]
            is_object = isinstance(container, _Object)
            container.append((frame[1], value) if is_object else value)
            if text.startswith("}" if is_object else "]", pos):
                stack.pop()
                value, pos = container, pos + 1
                continue
            if not text.startswith(",", pos):
                raise ConnectError(f"invalid character after {'object key:value pair' if is_object else 'array element'}")
            pos = _skip(text, pos + 1)
            if is_object:
                pos = _key(text, pos, frame)
            break


def _skip(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()


def _key(text: str, pos: int, frame: list[Any]) -> int:
    """Read `"key" :` into frame[1]; return where its value starts."""
    if not text.startswith('"', pos):
        raise ConnectError("invalid character looking for beginning of object key string")
    frame[1], pos = scanstring(text, pos + 1, True)
    pos = _skip(text, pos)
    if not text.startswith(":", pos):
        raise ConnectError("invalid character after object key")
    return _skip(text, pos + 1)


def _scalar(text: str, pos: int) -> tuple[Any, int]:
    if text.startswith('"', pos):
        return scanstring(text, pos + 1, True)
    for word, literal in _LITERALS.items():
        if text.startswith(word, pos):
            return literal, pos + len(word)
    m = _NUMBER.match(text, pos)
    if m is None:
        raise ConnectError(f"invalid character looking for beginning of value at {pos}")
    integer, frac, exp = m.groups()
    if frac or exp:
        return _Number(m.group()), m.end()
    return _int_literal(integer), m.end()
