"""The message-get request (nats-server's JSApiMsgGetRequest) as STREAM.MSG.GET and DIRECT.GET
decode it, and the store look-ups both answer from (by sequence, by time, last per subject).

Decoding follows Go's encoding/json into the typed struct: unknown fields are ignored, a field of the
wrong JSON type or a negative unsigned number is an error, times are RFC 3339.
"""
from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from natsx.store import MsgLog, MsgNotFoundError, StoreEOFError, StoredMsg


class RequestDecodeError(ValueError):
    """The body is not a JSApiMsgGetRequest (Go's json.Unmarshal would fail)."""


@dataclass
class MsgGetRequest:
    seq: int = 0
    last_by_subj: str = ""
    next_by_subj: str = ""
    batch: int = 0
    max_bytes: int = 0
    start_time: Optional[int] = None     # unix ns
    multi_last: list[str] = field(default_factory=list)
    up_to_seq: int = 0
    up_to_time: Optional[int] = None     # unix ns
    no_hdr: bool = False


# json name -> Go type of JSApiMsgGetRequest
MSG_GET_FIELDS = {"seq": "uint64", "last_by_subj": "string", "next_by_subj": "string", "batch": "int",
                  "max_bytes": "int", "start_time": "time.Time", "multi_last": "[]string",
                  "up_to_seq": "uint64", "up_to_time": "time.Time", "no_hdr": "bool"}
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)")
_INT64 = 1 << 63


def parse_rfc3339(text: str) -> int:
    """Go's time.Time JSON decoding (RFC 3339, nanoseconds) -> unix ns, wrapped to int64 as Go's
    UnixNano wraps (a year past 2262 comes out negative in nats-server too)."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise RequestDecodeError(f'parsing time "\\"{text}\\"" as "\\"2006-01-02T15:04:05Z07:00\\"": cannot parse')
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = int((m.group(7) or "0").ljust(9, "0"))
    tz = m.group(8)
    offset = 0 if tz in ("Z", "z") else (1 if tz[0] == "+" else -1) * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    try:
        dt = datetime.datetime(y, mo, d, h, mi, s, tzinfo=datetime.timezone.utc)
    except ValueError as e:
        raise RequestDecodeError(f"parsing time: {e}") from None
    ns = (int(dt.timestamp()) - offset) * 1_000_000_000 + frac
    return (ns + _INT64) % (1 << 64) - _INT64


def _kind(v: Any, go_type: str = "") -> str:
    """How Go's UnmarshalTypeError names a JSON value: a number keeps its literal only when the
    target is a number type."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return f"number {json.dumps(v)}" if go_type in ("uint64", "int") else "number"
    return {str: "string", list: "array", dict: "object"}.get(type(v), "null")


def go_unmarshal(payload: bytes, struct: str, fields: dict[str, str], strict: bool = False) -> dict[str, Any]:
    """json.Unmarshal of payload into a flat Go struct: the fields present (None ignored), with
    Go's error texts as RequestDecodeError. Names match case-insensitively, as encoding/json;
    unknown fields are ignored unless strict (nats-server's DisallowUnknownFields under
    `jetstream { strict: true }`, its default)."""
    try:
        doc = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RequestDecodeError(str(e)) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise RequestDecodeError(f"json: cannot unmarshal {_kind(doc).split()[0]} into Go value of type server.{struct}")
    out: dict[str, Any] = {}
    lowered = {k.lower(): k for k in fields}
    for key, value in doc.items():
        name = lowered.get(key.lower())
        if name is None and strict:
            raise RequestDecodeError(f'json: unknown field "{key}"')
        if name is None or value is None:
            continue
        go_type = fields[name]
        ok = {"uint64": isinstance(value, int) and not isinstance(value, bool) and value >= 0,
              "int": isinstance(value, int) and not isinstance(value, bool),
              "string": isinstance(value, str), "bool": isinstance(value, bool),
              "time.Time": isinstance(value, str),
              "[]string": isinstance(value, list) and all(isinstance(v, str) for v in value)
              }.get(go_type, isinstance(value, dict))     # any other type: a Go struct
        if not ok:
            raise RequestDecodeError(f"json: cannot unmarshal {_kind(value, go_type)} into Go struct field "
                                     f"{struct}.{name} of type {go_type}")
        out[name] = parse_rfc3339(value) if go_type == "time.Time" else value
    return out


def decode_get_request(payload: bytes, strict: bool = False) -> MsgGetRequest:
    return MsgGetRequest(**go_unmarshal(payload, "JSApiMsgGetRequest", MSG_GET_FIELDS, strict))


# ---- store look-ups ----------------------------------------------------------------------------

def seq_from_time(store: MsgLog, ts: int) -> int:
    """nats-server's GetSeqFromTime: the first stored sequence whose time is >= ts, or last + 1."""
    if store.msgs == 0:
        return store.last_seq + 1
    lo, hi = store.first_seq, store.last_seq
    found = store.last_seq + 1
    while lo <= hi:
        mid = (lo + hi) // 2
        try:
            msg = store.load_next(b">", mid)   # steps over interior deletes
        except StoreEOFError:
            hi = mid - 1
            continue
        if msg.seq > hi:
            hi = mid - 1
            continue
        if msg.ts >= ts:
            found = msg.seq
            hi = mid - 1
        else:
            lo = msg.seq + 1
    return found


def load_by_seq(store: MsgLog, seq: int) -> Optional[StoredMsg]:
    try:
        return store.load(seq)
    except (MsgNotFoundError, StoreEOFError):
        return None


def load_next(store: MsgLog, subject_filter: str, start: int) -> Optional[StoredMsg]:
    try:
        return store.load_next(subject_filter.encode() or b">", start)
    except (MsgNotFoundError, StoreEOFError):
        return None


def load_last(store: MsgLog, subject_filter: str) -> Optional[StoredMsg]:
    try:
        return store.load_last(subject_filter.encode() or b">")
    except (MsgNotFoundError, StoreEOFError):
        return None


class TooManyResults(Exception):
    pass


def multi_last_seqs(store: MsgLog, filters: list[str], max_seq: int, max_allowed: int) -> list[int]:
    """nats-server's multiLastSeqs: the last sequence at or below max_seq of every subject that
    matches one of the filters, ascending; TooManyResults past max_allowed."""
    if store.msgs == 0:
        return []
    if max_seq == 0:
        max_seq = store.last_seq
    seqs: set[int] = set()
    for flt in filters:
        for subject, (count, _first, last) in store.subjects_state(flt.encode()).items():
            if last <= max_seq:
                seqs.add(last)
            elif count > 1:
                try:
                    seqs.add(store.load_prev(subject, max_seq).seq)
                except (MsgNotFoundError, StoreEOFError):
                    pass
        if len(seqs) > max_allowed:
            raise TooManyResults()
    return sorted(seqs)
