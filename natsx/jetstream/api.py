"""The $JS.API router: one internal subscription on `$JS.API.>`, a table of handlers by subject pattern.

A handler module registers its subjects once:

    router.register("STREAM.INFO.*", handle_stream_info, "stream_info_response",
                    error_tail={"total": 0, "offset": 0, "limit": 0})

`pattern` is matched against the tokens after `$JS.API.` (`*` one token, `>` one or more, as NATS
subjects). The handler gets an ApiRequest and returns the response fields (without "type"); the
router adds `"type": "io.nats.jetstream.api.v1.<response_type>"` and replies. A handler that raises
ApiError gets nats-server's error response: type, error, then `error_tail` (the zero-valued fields
nats-server's response struct still encodes next to an error, e.g. paging for stream info). A handler
that answers later (after an fdatasync, say) calls `request.defer()` and then `request.respond(...)`.

A subject no handler claims gets no answer at all: nats-server also holds a `$JS.API.>` subscription
(its audit hook) and stays silent on subjects it does not serve, so clients time out the same way.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from natsx.gofmt import go_json
from natsx.jetstream.errors import ApiError
from natsx.jetstream.host import JetStreamHost


API_PREFIX = "$JS.API."
RESPONSE_TYPE_PREFIX = "io.nats.jetstream.api.v1."
REQUIRED_API_LEVEL_HEADER = b"Nats-Required-Api-Level"

Handler = Callable[["ApiRequest"], Optional[dict[str, Any]]]


@dataclass
class Route:
    pattern: tuple[str, ...]
    handler: Handler
    response_type: str
    error_tail: dict[str, Any]

    def matches(self, tokens: list[str]) -> bool:
        pat = self.pattern
        if pat and pat[-1] == ">":
            if len(tokens) < len(pat):
                return False
            pat = pat[:-1]
        elif len(tokens) != len(pat):
            return False
        return all(p == "*" or p == t for p, t in zip(pat, tokens))


@dataclass
class ApiRequest:
    router: "ApiRouter"
    route: Route
    subject: str
    tokens: list[str]          # the subject's tokens after "$JS.API."
    reply: str
    hdr: bytes | None
    payload: bytes
    deferred: bool = field(default=False)
    counted: bool = field(default=True)     # in api.total (and audited)

    @property
    def js(self) -> JetStreamHost:
        return self.router.js

    def json(self, go_type: str = "") -> dict[str, Any]:
        """The request body as a JSON object; an empty body is {} (nats-server decodes nothing).
        go_type names the Go struct nats-server decodes into, for its error text."""
        return decode_json(self.payload, go_type)

    def defer(self) -> None:
        """The handler answers later with respond()/fail()."""
        self.deferred = True

    def respond_unaudited(self, fields: dict[str, Any]) -> None:
        """Answer outside the API accounting, as nats-server's sendInternalAccountMsg (a found
        STREAM.MSG.GET): not counted, no audit advisory."""
        self.drop()
        body = {"type": RESPONSE_TYPE_PREFIX + self.route.response_type, **fields}
        self.router.js.server.publish(self.reply, go_json(body, indent=False))

    def drop(self) -> None:
        """No answer at all (nats-server lets the request time out)."""
        self.deferred = True
        self.counted = False

    def respond(self, fields: dict[str, Any]) -> None:
        self.router.send(self, {"type": RESPONSE_TYPE_PREFIX + self.route.response_type, **fields})

    def fail(self, err: ApiError) -> None:
        self.router.errors += 1
        self.router.send(self, {"type": RESPONSE_TYPE_PREFIX + self.route.response_type,
                                "error": err.to_json(), **self.route.error_tail})


class ApiRouter:
    def __init__(self, js: JetStreamHost) -> None:
        self.js = js
        self.routes: list[Route] = []
        self.total = 0     # requests answered ($JS.API.INFO "api.total")
        self.errors = 0    # of which errors ("api.errors")
        self._subs: list[Any] = []

    def register(self, pattern: str, handler: Handler, response_type: str,
                 error_tail: dict[str, Any] | None = None) -> None:
        """Serve $JS.API.<pattern> with handler (see the module docstring)."""
        self.routes.append(Route(tuple(pattern.split(".")), handler, response_type, dict(error_tail or {})))

    def start(self) -> None:
        """Subscribe $JS.API.> and, with a domain, $JS.<domain>.API.> (nats-server maps it there)."""
        server = self.js.server
        self._subs = [server.subscribe_internal(API_PREFIX + ">", self._on_request)]
        if self.js.domain:
            prefix = f"$JS.{self.js.domain}.API.".encode()
            self._subs.append(server.subscribe_internal(
                prefix.decode() + ">", lambda sub, subject, *rest: self._on_request(
                    sub, API_PREFIX.encode() + subject[len(prefix):], *rest)))

    def stop(self) -> None:
        for sub in self._subs:
            self.js.server.unsubscribe_internal(sub)
        self._subs = []

    def find(self, tokens: list[str]) -> Route | None:
        for route in self.routes:
            if route.matches(tokens):
                return route
        return None

    def _on_request(self, _sub: Any, subject: bytes, reply: bytes | None, hdr: bytes | None,
                    payload: bytes) -> None:
        name = subject.decode("utf-8", "surrogateescape")
        tokens = name[len(API_PREFIX):].split(".")
        if tokens[:2] == ["DIRECT", "GET"] and reply:   # the streams' own subscriptions serve these
            self.js.direct.unserved(subject, reply)
            return
        route = self.find(tokens)
        if route is None or not reply:   # nats-server drops requests without a reply subject
            return
        req = ApiRequest(self, route, name, tokens, reply.decode("utf-8", "surrogateescape"), hdr, payload)
        try:
            self.check_required_level(hdr)
            fields = route.handler(req)
        except ApiError as err:
            req.fail(err)
        else:
            if not req.deferred:
                req.respond(fields or {})
        if req.counted:
            self.total += 1

    def check_required_level(self, hdr: bytes | None) -> None:
        """Nats-Required-Api-Level: a request needing a newer API level than natsx's is refused (412)."""
        wanted = header_value(hdr, REQUIRED_API_LEVEL_HEADER)
        if wanted is None:
            return
        try:
            level = int(wanted)
        except ValueError:
            raise ApiError.of("JSRequiredApiLevelErr") from None
        if level > self.js.api_level:
            raise ApiError.of("JSRequiredApiLevelErr")

    def send(self, req: ApiRequest, body: dict[str, Any]) -> None:
        response = go_json(body, indent=False)
        self.js.server.publish(req.reply, response)
        self.js.advisories.api_audit(req.subject, req.reply, req.payload, response)


def header_value(hdr: bytes | None, name: bytes) -> bytes | None:
    """The first value of header `name` (case-insensitive) in a NATS/1.0 header block."""
    if not hdr:
        return None
    want = name.lower()
    for line in hdr.split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == want:
            return value.strip()
    return None


def decode_json(payload: bytes, go_type: str = "") -> dict[str, Any]:
    """A request body as nats-server's json.Unmarshal sees it, with its error text (10025)."""
    if not payload.strip():
        return {}
    try:
        value = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError.of("JSInvalidJSONErr", err=_go_json_error(payload, exc)) from None
    if not isinstance(value, dict):
        kind = {list: "array", str: "string", bool: "bool"}.get(type(value), "number")
        raise ApiError.of("JSInvalidJSONErr", err=f"json: cannot unmarshal {kind} into Go value of type "
                          f"server.{go_type or 'ApiRequest'}") from None
    return value


def _go_json_error(payload: bytes, exc: Exception) -> str:
    pos = getattr(exc, "pos", 0)
    text = payload.decode("utf-8", "replace")
    if pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    ch = text[pos]
    where = "looking for beginning of value"
    msg = getattr(exc, "msg", "")
    if "property name" in msg:
        where = "looking for beginning of object key string"
    elif "delimiter" in msg:
        where = "after object key:value pair" if text.lstrip().startswith("{") else "after array element"
    return f"invalid character {_go_char(ch)} {where} at offset {pos + 1}"


def _go_char(ch: str) -> str:
    return "'\\''" if ch == "'" else f"'{ch}'"
