"""Differential fuzz of CONNECT: the same `CONNECT <json>\\r\\nPING\\r\\n` to nats-server and natsx.

    python tests/fuzz/fuzz_connect.py [EXAMPLES]       # long run, starts its own servers
    NATSX_FUZZ_CONNECT_EXAMPLES=20000 python -m pytest tests/test_fuzz_short.py -k connect

Hypothesis writes the JSON: ClientOpts' keys (and case-folded spellings), values of the right and
wrong types, extreme numbers, lone surrogates and invalid UTF-8, huge strings, deep nesting, broken
syntax. Each server answers with PONG, an -ERR, or by closing; the answers must be the same. Every
config variant is tried: no auth, user/password, token (so the auth paths are hit).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/, when run as a script
from conftest import NATSX, REF, ConnectionClosed, RawClient, ServerProcess  # noqa: E402

CONFIGS = {
    "no-auth": None,
    "user-pass": "authorization { user: u, password: p }\n",
    "token": "authorization { token: t0k }\n",
}

FIELDS = ["echo", "verbose", "pedantic", "tls_required", "nkey", "jwt", "sig", "auth_token", "user", "pass",
          "name", "lang", "version", "protocol", "account", "new_account", "headers", "no_responders",
          "import", "export", "remote_account", "proxy_sig"]


class Raw(bytes):
    """JSON text written as is (number literals Python would not print, broken syntax)."""


def encode(value: Any) -> bytes:
    """JSON bytes; objects are lists of (key, value) pairs so keys can repeat."""
    if isinstance(value, Raw):
        return bytes(value)
    if isinstance(value, tuple):      # an object
        return b"{" + b",".join(encode(k) + b":" + encode(v) for k, v in value) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(encode(v) for v in value) + b"]"
    return json.dumps(value).encode()   # escapes lone surrogates as \udXXX


numbers = st.one_of(
    st.integers(-2, 3), st.integers(), st.sampled_from([-(1 << 63), (1 << 63) - 1, 1 << 63, -(1 << 63) - 1]),
    st.sampled_from([Raw(t) for t in (b"1e999", b"-1e999", b"1.5", b"1.0", b"1E0", b"-0", b"-0.0", b"0e0",
                                      b"1" * 30, b"9" * 2000, b"1e-999", b"2.5e+3")]))
invalid = st.sampled_from([Raw(t) for t in (b"NaN", b"Infinity", b"-Infinity", b"01", b".5", b"5.", b"+1",
                                            b"tru", b"nul", b"'x'", b'"\\x"', b'"\\u12"', b'"a\tb"', b"[1,]",
                                            b"{,}", b'"\xff\xfe"', b'"\xed\xa0\x80"', b'"\xe2\x82"', b"\xff")])
strings = st.one_of(st.text(max_size=8), st.sampled_from(["u", "p", "t0k", "\ud800", "\udfff", "\ud800\udc00",
                                                           "a\x00b", "\ufffd"]))
# Rare, each of them enough to decide the answer: broken syntax, nesting around Python's recursion
# limit (Go's 10000 needs a longer control line than the default), strings near the line limit.
rare = st.one_of(invalid, st.one_of(st.integers(1, 20), st.sampled_from([998, 999, 1000, 1001, 1500, 2040]))
                 .map(lambda n: Raw(b"[" * n + b"]" * n)), st.integers(100, 4100).map(lambda n: "s" * n))
scalars = st.one_of(st.none(), st.booleans(), st.booleans(), numbers, strings, strings, rare)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.lists(st.tuples(strings, inner), max_size=4).map(tuple)),
                      max_leaves=8)


def spellings(field: str) -> st.SearchStrategy[str]:
    return st.sampled_from([field, field, field, field.upper(), field.title(), field.replace("s", "\u017f"),
                            field.replace("k", "\u212a"), field.replace("i", "\u0131"), field + "x"])


BOOLS = {"echo", "verbose", "pedantic", "tls_required", "new_account", "headers", "no_responders"}
TYPICAL = {"protocol": st.sampled_from([0, 1, 2, -1]),
           "user": st.sampled_from(["u", "x", "\ud800"]), "pass": st.sampled_from(["p", "x", "\udfff"]),
           "auth_token": st.sampled_from(["t0k", "x", "\ud800", Raw(b'"t0\xff"')]),
           "import": st.sampled_from([None, (("allow", ["a"]),), (("deny", "a"),), (("allow", [1]),)]),
           "account": st.sampled_from(["", "A"])}


def field_value(field: str) -> st.SearchStrategy[Any]:
    right = TYPICAL.get(field, st.booleans() if field in BOOLS else strings)
    return st.one_of(right, right, right, right, values)


pairs = st.sampled_from(FIELDS).flatmap(lambda f: st.tuples(spellings(f), field_value(f)))
# Valid credentials for one of the configs, so that checks after authentication are reached too.
credentials = st.sampled_from([(), (("user", "u"), ("pass", "p")), (("auth_token", "t0k"),)])
objects = (st.tuples(credentials, st.lists(st.one_of(pairs, pairs, pairs, st.tuples(strings, values)), max_size=6))
           .flatmap(lambda t: st.permutations(t[0] + tuple(t[1]))).map(tuple))
connect_json = st.one_of(objects, objects, objects, objects, values).map(encode)
# A few broken documents around a good one.
connect_args = st.one_of(connect_json, connect_json, connect_json, connect_json,
                         st.tuples(connect_json, st.integers(0, 200)).map(lambda t: t[0][:t[1]]),
                         st.tuples(connect_json, st.sampled_from([b" ", b"{}", b"x", b",", b"}"]))
                         .map(lambda t: t[0] + t[1]))


def exchange(host: str, port: int, data: bytes, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Send `data` after INFO; return the replies up to the first PONG (INFO lines dropped, async
    INFO after a protocol-1 PONG may or may not have arrived) and whether the server closed."""
    with RawClient(host, port, timeout=timeout) as client:
        client.send(data)
        try:
            out, closed = client.read_until(b"PONG\r\n", timeout), False
        except ConnectionClosed:
            out, closed = client.buf, True
    return b"\r\n".join(line for line in out.split(b"\r\n") if not line.startswith(b"INFO ")), closed


def check(ref: tuple[str, int], cand: tuple[str, int], arg: bytes) -> None:
    # A CR or LF would end the CONNECT line early; both servers would see a different operation next.
    arg = arg.replace(b"\r", b" ").replace(b"\n", b" ")
    data = b"CONNECT " + arg + b"\r\nPING\r\n"
    expected = exchange(*ref, data)
    got = exchange(*cand, data)
    assert got == expected, f"CONNECT {arg[:300]!r}: nats-server {expected!r}, natsx {got!r}"


def main() -> None:
    from hypothesis import HealthCheck, given, settings

    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    servers = {name: [ServerProcess(kind).start(config=conf) for kind in (REF, NATSX)]
               for name, conf in CONFIGS.items()}
    try:
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.sampled_from(sorted(CONFIGS)), connect_args)
        def run(config: str, arg: bytes) -> None:
            ref, cand = servers[config]
            check((ref.host, ref.port), (cand.host, cand.port), arg)

        run()
    finally:
        for pair in servers.values():
            for srv in pair:
                srv.stop()


if __name__ == "__main__":
    main()
