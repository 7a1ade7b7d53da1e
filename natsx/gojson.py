"""JSON as Go's encoding/json writes it: what nats-server's monitoring pages and config digests use."""
from __future__ import annotations

import datetime
import json
from typing import Any


def _go_floats(v: Any) -> Any:
    # Go prints float64 2.0 as 2; Python would print 2.0.
    if isinstance(v, float):
        return int(v) if v.is_integer() and abs(v) < 1e21 else v
    if isinstance(v, dict):
        return {k: _go_floats(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_go_floats(x) for x in v]
    return v


def _go_time(v: Any) -> str:
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def go_json(obj: Any, indent: bool = True, sort_keys: bool = False) -> bytes:
    """encoding/json output: MarshalIndent(obj, "", "  ") or Marshal, with Go's HTML escaping.
    sort_keys: Go maps are encoded with sorted keys (structs keep field order)."""
    s = json.dumps(_go_floats(obj), indent=2 if indent else None, ensure_ascii=False,
                   separators=None if indent else (",", ":"), sort_keys=sort_keys, default=_go_time)
    s = (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
         .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return s.encode()
