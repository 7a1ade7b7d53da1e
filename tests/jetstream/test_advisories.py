"""JetStream advisories against nats-server: a monitor subscribed to $JS.EVENT.> sees the same
advisories (subjects, types, and for the API audit the same request and response bodies) on both
servers, and every one validates against the shared advisory schemas."""
from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import raw_connect
from tests.jetstream.readhelp import CONNECT, Frame, JsClient, read_frame, validate, pair  # noqa: F401 (fixture)

VOLATILE = re.compile(r'"(created|ts|time|first_ts|last_ts|timestamp)":"[^"]*"')
SCHEMA = {
    "io.nats.jetstream.advisory.v1.api_audit": "advisory/v1/api_audit.json",
    "io.nats.jetstream.advisory.v1.stream_action": "advisory/v1/stream_action.json",
    "io.nats.jetstream.advisory.v1.snapshot_complete": "advisory/v1/snapshot_complete.json",
    "io.nats.jetstream.advisory.v1.restore_create": "advisory/v1/restore_create.json",
    "io.nats.jetstream.advisory.v1.restore_complete": "advisory/v1/restore_complete.json",
}



class Monitor:
    def __init__(self, srv) -> None:
        self.c = raw_connect(srv, {**CONNECT, "name": "advisory-monitor"})
        assert self.c.transact(b"SUB $JS.EVENT.> 9\r\n").count(b"\r\n") <= 1

    def collect(self, n: int) -> list[Frame]:
        return [read_frame(self.c) for _ in range(n)]


def checked(frames: list[Frame]) -> list[dict[str, Any]]:
    out = []
    for f in frames:
        doc = f.json()
        validate(doc, SCHEMA[doc["type"]])
        out.append(doc)
    return out


def comparable(doc: dict[str, Any], subject: bytes) -> tuple:
    """What must agree between servers: subject, type, and the audit's bodies (times aside)."""
    if doc["type"].endswith("api_audit"):
        request = doc.get("request")
        response = VOLATILE.sub(r'"\1":"<t>"', doc["response"])
        response = re.sub(r'"_nats.(ver|level)":"[^"]*"', r'"_nats.\1":"<v>"', response)
        client = sorted(k for k in doc["client"] if k != "rtt")
        return (subject, doc["type"], doc["subject"], request, response, tuple(client))
    return (subject, doc["type"], doc.get("stream"), doc.get("action"))


def test_api_audit_and_stream_actions_match_nats_server(pair):
    def scenario(c: JsClient, kind: str) -> list[tuple]:
        mon = Monitor(pair.servers[kind])
        c.add_stream(name="S", subjects=["a.>"])
        c.publish("a.1", "x")                                   # a publish is not an API request
        c.api("$JS.API.STREAM.UPDATE.S", {"name": "S", "subjects": ["a.>"], "max_msgs": 5})
        c.api("$JS.API.STREAM.MSG.GET.S", {"seq": 1})           # a found message is not audited
        c.api("$JS.API.STREAM.MSG.GET.S", {"seq": 5})
        c.api("$JS.API.STREAM.INFO.NOPE")
        c.api("$JS.API.STREAM.MSG.DELETE.S", {"seq": 1})
        c.api("$JS.API.STREAM.DELETE.S")
        frames = mon.collect(9)
        docs = checked(frames)
        assert mon.c.sync() == b""                              # and nothing else
        return sorted(comparable(d, f.subject) for d, f in zip(docs, frames))

    events = pair.same(scenario)
    subjects = [e[0] for e in events]
    assert subjects.count(b"$JS.EVENT.ADVISORY.API") == 6
    assert b"$JS.EVENT.ADVISORY.STREAM.CREATED.S" in subjects
    assert b"$JS.EVENT.ADVISORY.STREAM.UPDATED.S" in subjects
    assert b"$JS.EVENT.ADVISORY.STREAM.DELETED.S" in subjects


def test_audit_names_the_requesting_client(pair):
    def scenario(c: JsClient, kind: str) -> dict:
        mon = Monitor(pair.servers[kind])
        named = raw_connect(pair.servers[kind], {**CONNECT, "name": "requester", "lang": "raw", "version": "1.2"})
        named.send(b"SUB _ME.> 1\r\nPUB $JS.API.INFO _ME.1 0\r\n\r\n")
        read_frame(named)
        doc = checked(mon.collect(1))[0]
        client = doc["client"]
        assert client["id"] > 0 and client["host"] == "127.0.0.1" and client["acc"] == "$G"
        return {k: client[k] for k in ("name", "lang", "ver", "kind", "client_type")}

    assert pair.same(scenario) == {"name": "requester", "lang": "raw", "ver": "1.2", "kind": "Client",
                                   "client_type": "nats"}


def test_no_advisory_without_interest(pair):
    """Nothing is published (or encoded) when nobody listens; a listener then gets the next one."""
    def scenario(c: JsClient, kind: str) -> list[str]:
        c.add_stream(name="Q", subjects=["q"])
        mon = Monitor(pair.servers[kind])
        c.api("$JS.API.STREAM.DELETE.Q")
        return sorted(d["type"] for d in checked(mon.collect(2)))

    assert pair.same(scenario) == ["io.nats.jetstream.advisory.v1.api_audit",
                                   "io.nats.jetstream.advisory.v1.stream_action"]
