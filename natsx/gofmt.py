"""Go's value formatting, once: what nats-server's messages and JSON documents are made of.

* :func:`go_duration` - ``time.Duration.String()`` ("2m0s", "1.5s", "300ms", "0s")
* :func:`go_time` - ``time.Time`` as encoding/json writes it: RFC 3339 with trimmed nanoseconds, UTC
* :func:`go_quote` - ``strconv.Quote`` / ``%q``
* :func:`go_json` - encoding/json's ``Marshal`` / ``MarshalIndent`` (float and HTML-escape rules)

Every error text, log line and monitoring document that shows one of these goes through here, so
natsx and nats-server print the same bytes for the same value.
"""
from __future__ import annotations

import datetime
import json
from typing import Any

__all__ = ["go_duration", "go_time", "epoch_ns", "go_quote", "go_json"]

_SECOND_NS = 1_000_000_000


# ---- time.Duration.String() ---------------------------------------------------------------------

def _fmt_frac(v: int, prec: int) -> tuple[str, int]:
    """Go's fmtFrac: the fraction digits of v / 10**prec (trailing zeros dropped), and v // 10**prec."""
    digits = ""
    printed = False
    for _ in range(prec):
        d = v % 10
        printed = printed or d != 0
        if printed:
            digits = str(d) + digits
        v //= 10
    return ("." + digits if printed else ""), v


def go_duration(ns: int) -> str:
    """Go's time.Duration.String() of ns nanoseconds."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < _SECOND_NS:
        # Sub-second: the largest unit that keeps a leading non-zero digit.
        if u < 1_000:
            s = f"{u}ns"
        elif u < 1_000_000:
            frac, w = _fmt_frac(u, 3)
            s = f"{w}{frac}\u00b5s"
        else:
            frac, w = _fmt_frac(u, 6)
            s = f"{w}{frac}ms"
    else:
        frac, w = _fmt_frac(u, 9)
        s = f"{w % 60}{frac}s"
        w //= 60
        if w:
            s = f"{w % 60}m" + s
            w //= 60
            if w:
                s = f"{w}h" + s
    return "-" + s if neg else s


# ---- time.Time (RFC 3339, as MarshalJSON writes it) ---------------------------------------------

def epoch_ns(t: float | int | datetime.datetime) -> int:
    """Epoch seconds (float), epoch nanoseconds (int) or a datetime (naive = UTC) -> epoch ns."""
    if isinstance(t, datetime.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=datetime.timezone.utc)
        delta = t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * _SECOND_NS + delta.microseconds * 1000
    return t if isinstance(t, int) else int(round(t * _SECOND_NS))


def go_time(t: float | int | datetime.datetime) -> str:
    """Go's time.Time JSON (RFC 3339 with trimmed nanoseconds) in UTC."""
    sec, frac = divmod(epoch_ns(t), _SECOND_NS)
    s = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        s += "." + f"{frac:09d}".rstrip("0")
    return s + "Z"


# ---- strconv.Quote ------------------------------------------------------------------------------

# The escapes strconv.Quote writes by name rather than as \xHH.
_GO_QUOTE_ESCAPES = {
    '"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r",
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v",
}


def go_quote(s: str) -> str:
    """Go's strconv.Quote / %q (an undecodable byte kept by surrogateescape prints as \\xHH)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in _GO_QUOTE_ESCAPES:
            out.append(_GO_QUOTE_ESCAPES[ch])
        elif 0xDC80 <= o <= 0xDCFF:
            out.append("\\x%02x" % (o - 0xDC00))
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif not ch.isprintable() and o > 0x7F:
            out.append("\\u%04x" % o if o <= 0xFFFF else "\\U%08x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# ---- encoding/json ------------------------------------------------------------------------------

def _go_floats(v: Any) -> Any:
    # Go prints float64 2.0 as 2; Python would print 2.0.
    if isinstance(v, float):
        return int(v) if v.is_integer() and abs(v) < 1e21 else v
    if isinstance(v, dict):
        return {k: _go_floats(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_go_floats(x) for x in v]
    return v


def _json_default(v: Any) -> str:
    if isinstance(v, datetime.datetime):
        return go_time(v)
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def go_json(obj: Any, indent: bool = True, sort_keys: bool = False) -> bytes:
    """encoding/json output: MarshalIndent(obj, "", "  ") or Marshal, with Go's HTML escaping.
    sort_keys: Go maps are encoded with sorted keys (structs keep field order)."""
    s = json.dumps(_go_floats(obj), indent=2 if indent else None, ensure_ascii=False,
                   separators=None if indent else (",", ":"), sort_keys=sort_keys, default=_json_default)
    s = (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
         .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return s.encode()
