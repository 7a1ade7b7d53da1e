"""Query parameters as nats-server decodes them, with Go's strconv error texts verbatim."""
from __future__ import annotations

from typing import Mapping, Optional

from natsx.gofmt import go_quote


class MonitorError(Exception):
    """A request nats-server answers with a plain-text error (400 unless told otherwise)."""

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


def param(params: Mapping[str, str], name: str) -> str:
    return params.get(name, "") or ""


def decode_bool(params: Mapping[str, str], name: str) -> bool:
    s = param(params, name)
    if s == "":
        return False
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if s in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise MonitorError(f"Error decoding boolean for '{name}': strconv.ParseBool: parsing {go_quote(s)}: invalid syntax")


def _parse_go_int(s: str, signed: bool) -> Optional[int]:
    body = s[1:] if signed and s[:1] in "+-" else s
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(s)


def _decode_go_int(params: Mapping[str, str], name: str, signed: bool) -> int:
    """strconv.Atoi (signed) or strconv.ParseUint, with Go's error texts."""
    s = param(params, name)
    if s == "":
        return 0
    kind, func, bits = ("int", "strconv.Atoi", 63) if signed else ("uint64", "strconv.ParseUint", 64)
    v = _parse_go_int(s, signed=signed)
    problem = None
    if v is None:
        problem = "invalid syntax"
    elif not (-(1 << 63) if signed else 0) <= v < (1 << bits):
        problem = "value out of range"
    if problem:
        raise MonitorError(f"Error decoding {kind} for '{name}': {func}: parsing {go_quote(s)}: {problem}")
    return v


def decode_int(params: Mapping[str, str], name: str) -> int:
    return _decode_go_int(params, name, signed=True)


def decode_uint64(params: Mapping[str, str], name: str) -> int:
    return _decode_go_int(params, name, signed=False)


def decode_subs(params: Mapping[str, str]) -> tuple[bool, bool]:
    """(subs, subs_detail) from ?subs=1 / ?subs=detail."""
    if param(params, "subs").lower() == "detail":
        return False, True
    return decode_bool(params, "subs"), False


CONN_OPEN, CONN_CLOSED, CONN_ALL = 0, 1, 2


def decode_state(params: Mapping[str, str]) -> int:
    s = param(params, "state")
    if s == "":
        return CONN_OPEN
    st = {"open": CONN_OPEN, "closed": CONN_CLOSED, "any": CONN_ALL, "all": CONN_ALL}.get(s.lower())
    if st is None:
        raise MonitorError(f"Error decoding state for {s}")
    return st
