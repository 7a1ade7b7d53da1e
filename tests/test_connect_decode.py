"""natsx.connect_opts: the parser for documents nested past Python's recursion limit reads exactly
what json reads (the transcripts in rawcases show both against nats-server)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natsx import connect_opts

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=20)
# Whitespace Go allows between tokens, and a few bytes that break the document.
noise = st.sampled_from(["", " ", "\t", "\r\n", ",", "]", "}", ":", '"', "x", "-", "1", "{", "["])


def both(text: str):
    """What each parser makes of `text`: its value, or that it refused it."""
    results = []
    for parse in (connect_opts._decoder.decode, connect_opts._parse_deep):
        try:
            results.append(parse(text))
        except ValueError:
            results.append("refused")
    return results


@settings(max_examples=500, deadline=None)
@given(json_values, st.sampled_from([(",", ":"), (", ", ": "), (" ,\t", "\n:\r")]))
def test_deep_parser_reads_what_json_reads(value, separators):
    text = json.dumps(value, separators=separators)
    fast, deep = both(text)
    assert fast == deep != "refused"


@settings(max_examples=500, deadline=None)
@given(json_values, st.integers(0, 60), noise)
def test_deep_parser_refuses_what_json_refuses(value, cut, extra):
    text = json.dumps(value)
    text = text[:cut] + extra + text[cut:]
    fast, deep = both(text)
    assert fast == deep


@pytest.mark.parametrize("depth, ok", [(9999, True), (10000, False)])
def test_nesting_limit_is_gos(depth, ok):
    arg = b'{"x":' + b"[" * depth + b"]" * depth + b"}"
    if ok:
        assert connect_opts.decode(arg, connect_opts.DEFAULTS) == connect_opts.DEFAULTS
    else:
        with pytest.raises(connect_opts.ConnectError, match="exceeded max depth"):
            connect_opts.decode(arg, connect_opts.DEFAULTS)


def test_decode_leaves_the_previous_options_alone():
    first = connect_opts.decode(b'{"verbose":false,"name":"a"}', connect_opts.DEFAULTS)
    second = connect_opts.decode(b'{"name":null,"protocol":1}', first)
    assert (first["protocol"], second["protocol"], second["name"], second["verbose"]) == (0, 1, "a", False)
    assert connect_opts.DEFAULTS["verbose"] is True


def test_go_error_texts():
    for arg, text in [(b'{"protocol":1e999}', "json: cannot unmarshal number 1e999 into Go struct field "
                                              "ClientOpts.protocol of type int"),
                      (b'{"verbose":"yes"}', "json: cannot unmarshal string into Go struct field "
                                             "ClientOpts.verbose of type bool"),
                      (b"[]", "json: cannot unmarshal array into Go value of type server.ClientOpts")]:
        with pytest.raises(connect_opts.ConnectError) as err:
            connect_opts.decode(arg, connect_opts.DEFAULTS)
        assert str(err.value) == text
