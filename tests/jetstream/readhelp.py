"""Helpers for the JetStream read-side tests (msg get, direct get, snapshots, /jsz, advisories):
a raw-socket JetStream client that keeps every frame's bytes, and schema validation over the
shared JSON Schemas with a local `referencing` registry (never the network)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import jsonschema
import pytest
from referencing import Registry, Resource

from tests.conftest import RawClient, ServerProcess, raw_connect

SCHEMAS = Path("/work/shared/reference/jetstream-schemas")
SCHEMA_BASE = "https://nats.io/schemas/jetstream/"

CONNECT = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True, "protocol": 1}


@lru_cache(maxsize=1)
def registry() -> Registry:
    reg = Registry()
    for path in SCHEMAS.rglob("*.json"):
        doc = json.loads(path.read_text())
        res = Resource.from_contents(doc)
        reg = reg.with_resource(doc.get("$id") or SCHEMA_BASE + str(path.relative_to(SCHEMAS)), res)
    return reg


def validate(doc: Any, schema: str) -> None:
    """Validate doc against e.g. "api/v1/stream_msg_get_response.json"."""
    uri = SCHEMA_BASE + schema
    contents = registry().contents(uri)
    jsonschema.Draft7Validator(contents, registry=registry()).validate(doc)


@dataclass
class Frame:
    subject: bytes
    sid: bytes
    reply: bytes
    hdr: bytes      # b"" for MSG
    data: bytes
    raw: bytes      # the whole frame as received

    @property
    def status(self) -> str:
        """"404 Message Not Found" etc., "" for a plain message."""
        first = self.hdr.split(b"\r\n", 1)[0]
        return first[len(b"NATS/1.0"):].strip().decode() if first.startswith(b"NATS/1.0") else ""

    def headers(self) -> list[tuple[str, str]]:
        out = []
        for line in self.hdr.split(b"\r\n")[1:]:
            if line:
                k, _, v = line.partition(b":")
                out.append((k.decode(), v.strip().decode()))
        return out

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers():
            if k == name:
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.data)


def read_frame(c: RawClient, timeout: float = 5.0) -> Frame:
    """Read one MSG/HMSG frame (PINGs are answered, +OK/PONG skipped)."""
    while True:
        line = c.read_line(timeout)
        if line == b"PING\r\n":
            c.send(b"PONG\r\n")
            continue
        if line in (b"PONG\r\n", b"+OK\r\n") or line.startswith(b"INFO "):
            continue
        # nats-server writes "MSG subject sid  len" (two blanks) for an empty reply
        parts = [p for p in line[:-2].split(b" ") if p]
        assert parts[0] in (b"MSG", b"HMSG"), line
        if parts[0] == b"HMSG":
            subj, sid, *rest = parts[1:]
            reply = rest[0] if len(rest) == 3 else b""
            hl, tl = int(rest[-2]), int(rest[-1])
        else:
            subj, sid, *rest = parts[1:]
            reply = rest[0] if len(rest) == 2 else b""
            hl, tl = 0, int(rest[-1])
        body = c.read_until(lambda buf: tl + 2 if len(buf) >= tl + 2 else -1, timeout)
        return Frame(subj, sid, reply, body[:hl], body[hl:tl], line + body)


TS_HDR_RE = re.compile(rb"(Nats-Time-Stamp: )[^\r]*")


def normal_frame(f: Frame, names: dict[bytes, bytes] | None = None) -> bytes:
    """A frame's bytes with the timestamp header replaced and its lengths recomputed (a
    timestamp's length varies: RFC 3339 drops trailing zeros of the nanoseconds)."""
    hdr = TS_HDR_RE.sub(rb"\1<ts>", f.hdr)
    subject = f.subject
    for old, new in (names or {}).items():
        subject = subject.replace(old, new)
    if f.hdr:
        head = b"HMSG %s %s %d %d\r\n" % (subject, f.sid, len(hdr), len(hdr) + len(f.data))
    else:
        head = b"MSG %s %s %d\r\n" % (subject, f.sid, len(f.data))
    return head + hdr + f.data + b"\r\n"


class JsClient:
    """A raw JetStream client: requests go out as PUB/HPUB with a reply inbox; replies are read
    as frames, byte for byte."""

    def __init__(self, srv: ServerProcess) -> None:
        self.c = raw_connect(srv)
        # nats-server sends a second INFO (connect_info) after CONNECT
        out = self.c.transact(b"CONNECT " + json.dumps(CONNECT).encode() + b"\r\nSUB _R.> 1\r\n")
        assert out == b"" or out.startswith(b"INFO ") and out.count(b"\r\n") == 1, out
        self.n = 0

    def send(self, subject: str, payload: bytes | str | dict = b"", hdr: bytes = b"",
             reply: str | None = None) -> str:
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        elif isinstance(payload, str):
            payload = payload.encode()
        if reply is None:
            self.n += 1
            reply = f"_R.{self.n}"
        r = reply.encode()
        s = subject.encode()
        if hdr:
            self.c.send(b"HPUB %s %s %d %d\r\n%s%s\r\n" % (s, r, len(hdr), len(hdr) + len(payload), hdr, payload))
        else:
            self.c.send(b"PUB %s %s %d\r\n%s\r\n" % (s, r, len(payload), payload))
        return reply

    def request(self, subject: str, payload: bytes | str | dict = b"", hdr: bytes = b"",
                timeout: float = 5.0) -> Frame:
        reply = self.send(subject, payload, hdr)
        f = read_frame(self.c, timeout)
        assert f.subject == reply.encode(), (f, reply)
        return f

    def api(self, subject: str, payload: bytes | str | dict = b"", hdr: bytes = b"") -> dict:
        return self.request(subject, payload, hdr).json()

    def batch(self, subject: str, payload: bytes | str | dict, timeout: float = 5.0) -> list[Frame]:
        """Frames of one direct-get batch, up to the EOB or an error status."""
        reply = self.send(subject, payload)
        out: list[Frame] = []
        while True:
            f = read_frame(self.c, timeout)
            assert f.subject == reply.encode()
            out.append(f)
            if f.status:
                return out

    def add_stream(self, **config: Any) -> dict:
        resp = self.api(f"$JS.API.STREAM.CREATE.{config['name']}", config)
        assert "error" not in resp, resp
        return resp

    def publish(self, subject: str, data: bytes | str = b"", hdr: bytes = b"") -> dict:
        ack = self.api(subject, data, hdr)
        assert "error" not in ack, ack
        return ack

    def close(self) -> None:
        self.c.close()


def keys_equal(a: Any, b: Any, where: str, ignore: set[str] = frozenset()) -> None:
    """Same keys at every level of two JSON documents (lists compared element by element)."""
    if isinstance(a, dict):
        assert isinstance(b, dict), where
        ka, kb = set(a) - ignore, set(b) - ignore
        assert ka == kb, (where, ka ^ kb)
        for k in ka:
            keys_equal(a[k], b[k], f"{where}.{k}", ignore)
    elif isinstance(a, list) and a and isinstance(a[0], dict):
        assert len(a) == len(b), where
        if "name" in a[0]:      # nats-server lists streams in map order
            a, b = sorted(a, key=lambda d: d["name"]), sorted(b, key=lambda d: d["name"])
        for i, (x, y) in enumerate(zip(a, b)):
            keys_equal(x, y, f"{where}[{i}]", ignore)


def js_args(tmp_path: Path, name: str = "js") -> list[str]:
    d = tmp_path / name
    d.mkdir(exist_ok=True)
    return ["-js", "-sd", str(d)]


class JsPair:
    """One JetStream server of each selected kind (-js, own store dir); `run(scenario)` runs the
    same scenario against each and returns {kind: result} for comparison."""

    def __init__(self, tmp_path: Path, monitor: bool = False, args: tuple[str, ...] = ()) -> None:
        from tests.conftest import ServerFactory, selected_kinds
        self.factories = {k: ServerFactory(k, tmp_path / k) for k in selected_kinds()}
        self.servers: dict[str, ServerProcess] = {}
        for kind, f in self.factories.items():
            (tmp_path / kind).mkdir(parents=True, exist_ok=True)
            self.servers[kind] = f(js_args(tmp_path / kind) + list(args), monitor=monitor)
        self.clients: list[JsClient] = []

    def client(self, kind: str) -> JsClient:
        c = JsClient(self.servers[kind])
        self.clients.append(c)
        return c

    def run(self, scenario: Any) -> dict[str, Any]:
        return {kind: scenario(self.client(kind), kind) for kind in self.servers}

    def same(self, scenario: Any) -> Any:
        """Run scenario on every server; assert every result equals nats-server's; return it."""
        results = self.run(scenario)
        values = list(results.values())
        for kind, value in results.items():
            assert value == values[-1], (kind, value, values[-1])
        return values[-1]

    def close(self) -> None:
        for c in self.clients:
            c.close()
        for f in self.factories.values():
            f.close()


@pytest.fixture
def pair(tmp_path):
    """A JsPair of the selected server kinds, closed at teardown (import it into a test module)."""
    p = JsPair(tmp_path)
    yield p
    p.close()


@pytest.fixture
def monitored_pair(tmp_path):
    """The same with each server's monitoring port open."""
    p = JsPair(tmp_path, monitor=True)
    yield p
    p.close()
