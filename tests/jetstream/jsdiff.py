"""Differential $JS.API testing: the same requests to nats-server and natsx, the answers compared
after normalising what legitimately differs (times, server ids, the server version and API level),
and every answer validated against the shared JSON Schemas (local `referencing` registry)."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import nats
import nats.errors
from referencing import Registry, Resource

from conftest import NATSX, REF, ServerProcess

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "jetstream-schemas"
if not SCHEMAS.is_dir():
    SCHEMAS = Path("/work/shared/reference/jetstream-schemas")
SCHEMA_BASE = "https://nats.io/schemas/jetstream/"
TYPE_PREFIX = "io.nats.jetstream.api.v1."
NO_ANSWER = {"<no answer>": True}
NO_RESPONDERS = {"<no responders>": True}
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
ZERO_TIME = "0001-01-01T00:00:00Z"
TIME_KEYS = {"created", "ts", "first_ts", "last_ts", "leader_since"}
VARYING_META = {"_nats.ver", "_nats.level"}


@lru_cache(maxsize=1)
def registry() -> Registry:
    reg: Registry = Registry()
    for path in SCHEMAS.rglob("*.json"):
        doc = json.loads(path.read_text())
        uri = doc.get("$id") or SCHEMA_BASE + str(path.relative_to(SCHEMAS))
        reg = reg.with_resource(uri, Resource.from_contents(doc))
    return reg


def validate_response(doc: dict[str, Any]) -> None:
    """Validate an API answer against the schema its "type" names."""
    kind = doc["type"].removeprefix(TYPE_PREFIX)
    schema = registry().contents(f"{SCHEMA_BASE}api/v1/{kind}.json")
    jsonschema.Draft7Validator(schema, registry=registry()).validate(doc)


def normalise(doc: Any, key: str = "") -> Any:
    """Times -> "<time>" (the zero time kept), cluster leader -> "<server>", the dynamic metadata
    and API level -> "<varies>"."""
    if isinstance(doc, dict):
        if "config" in doc and isinstance(doc.get("sources"), list):
            # StreamInfo.sources: nats-server lists them in its map's (random) order
            doc = {**doc, "sources": sorted(doc["sources"], key=lambda s: json.dumps(s, sort_keys=True))}
        out = {}
        for k, v in doc.items():
            if k == "leader":
                out[k] = "<server>"
            elif k == "metadata" and isinstance(v, dict):
                out[k] = {mk: ("<varies>" if mk in VARYING_META else mv) for mk, mv in v.items()}
            elif k == "level" and key == "api":
                out[k] = "<varies>"
            else:
                out[k] = normalise(v, k)
        return out
    if isinstance(doc, list):
        return [normalise(v, key) for v in doc]
    if key in TIME_KEYS and isinstance(doc, str) and doc != ZERO_TIME and TIME_RE.match(doc):
        return "<time>"
    return doc


async def request(nc: nats.NATS, subject: str, body: Any = b"", timeout: float = 2.0,
                  headers: dict[str, str] | None = None) -> dict[str, Any]:
    """One API request; NO_ANSWER when the server stays silent (unknown subjects)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        msg = await nc.request(subject, data, timeout=timeout, headers=headers)
    except nats.errors.TimeoutError:
        return NO_ANSWER
    except nats.errors.NoRespondersError:
        return NO_RESPONDERS
    return json.loads(msg.data)


PUB = "pub:"   # a step "pub:<subject>" publishes its body (bytes) to <subject> and records the ack


async def play(url: str, requests: Iterable[tuple[str, Any]]) -> tuple[list[Any], list[str | None]]:
    """Send the requests in order: the normalised answers, and per answer the schema violation
    ("" when valid, None when there is nothing to validate)."""
    nc = await nats.connect(url, allow_reconnect=False)
    out: list[Any] = []
    invalid: list[str | None] = []
    try:
        for subject, body in requests:
            if subject.startswith(PUB):
                out.append(await request(nc, subject[len(PUB):], body))
                invalid.append(None)
                continue
            doc = await request(nc, subject, body)
            invalid.append(None if doc in (NO_ANSWER, NO_RESPONDERS) else schema_violation(doc))
            out.append(normalise(doc))
    finally:
        await nc.close()
    return out, invalid


def schema_violation(doc: dict[str, Any]) -> str:
    try:
        validate_response(doc)
    except jsonschema.ValidationError as exc:
        return exc.message[:300]
    return ""


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """The paths where two JSON documents differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b) and set(a) == set(b):
            return [f"{path}: key order {list(a)} != {list(b)}"]
        out = []
        for k in dict.fromkeys([*a, *b]):
            out += differences(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: nats-server {json.dumps(a)[:300]} | natsx {json.dumps(b)[:300]}"]


def diff(requests: list[tuple[str, Any]], ref: list[Any], cand: list[Any]) -> list[str]:
    """Readable mismatches: per request whose answers differ, the differing paths."""
    out = []
    for (subject, body), a, b in zip(requests, ref, cand):
        found = differences(a, b)
        if found:
            out.append(f"{subject} {body!r:.200}\n  " + "\n  ".join(found))
    return out


class ServerPair:
    """nats-server and natsx started with the same flags and config (JetStream in tmp dirs)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[ServerProcess] = []

    def start(self, args: list[str] = (), config: str | None = None) -> tuple[ServerProcess, ServerProcess]:
        pair = []
        for kind in (REF, NATSX):
            n = len(self.started)
            store = self.tmp_path / f"{kind}-{n}"
            store.mkdir()
            conf = config.replace("<store>", str(store)) if config else None
            flags = list(args) if conf else ["-js", "-sd", str(store), *args]
            srv = ServerProcess(kind, store).start(flags, config=conf)
            self.started.append(srv)
            pair.append(srv)
        return pair[0], pair[1]

    def close(self) -> None:
        for srv in self.started:
            srv.stop()


async def compare(ref: ServerProcess, cand: ServerProcess, requests: list[tuple[str, Any]]) -> None:
    """Play the requests on both servers; fail with every answer that differs, and with every
    natsx answer that violates its schema where nats-server's does not (a few of nats-server's
    own error answers carry success fields the schemas' oneOf refuses; natsx answers the same)."""
    a, a_invalid = await play(ref.url, requests)
    b, b_invalid = await play(cand.url, requests)
    problems = diff(requests, a, b)
    problems += [f"{subject}: natsx answer violates its schema: {bad}"
                 for (subject, _), good, bad in zip(requests, a_invalid, b_invalid) if bad and not good]
    assert not problems, "\n".join(problems)
