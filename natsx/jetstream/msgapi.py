"""`$JS.API.STREAM.MSG.GET.<stream>` and `$JS.API.STREAM.MSG.DELETE.<stream>`, as nats-server's
jsMsgGetRequest / jsMsgDeleteRequest answer them.

A successful MSG.GET is sent straight to the reply, outside the API accounting (nats-server's
sendInternalAccountMsg): it counts in neither `api.total` nor the audit advisories; its errors do.
Deleting is decided (checks, in nats-server's order) and then applied (the store call).
"""
from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, Optional

from natsx.gofmt import go_time
from natsx.jetstream.errors import ApiError
from natsx.jetstream.api import decode_json
from natsx.jetstream.getreq import (
    MSG_GET_FIELDS, MsgGetRequest, RequestDecodeError, go_unmarshal, load_by_seq, load_last, load_next,
    seq_from_time,
)
from natsx.store import StoredMsg

if TYPE_CHECKING:
    from natsx.jetstream.api import ApiRequest, ApiRouter
    from natsx.jetstream.stream import Stream

MSG_DELETE_FIELDS = {"seq": "uint64", "no_erase": "bool"}


def decode_body(req: "ApiRequest", struct: str, fields: dict[str, str]) -> dict[str, Any]:
    """nats-server's isEmptyRequest (nothing, or an empty object: bad request), then its
    unmarshalRequest (strict: unknown fields refused) with Go's error texts (10025)."""
    payload = req.payload
    try:
        doc = json.loads(payload) if payload.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        decode_json(payload)    # raises nats-server's syntax error text
        raise ApiError.of("JSInvalidJSONErr", err=str(e)) from None
    if doc == {}:
        raise ApiError.of("JSBadRequestErr")
    try:
        return go_unmarshal(payload, struct, fields, req.js.strict)
    except RequestDecodeError as e:
        raise ApiError.of("JSInvalidJSONErr", err=str(e)) from None


def lookup_stream(req: "ApiRequest") -> "Stream":
    stream = req.js.streams.get(req.tokens[-1])
    if stream is None:
        raise ApiError.of("JSStreamNotFoundErr")
    return stream


def stored_msg_json(m: StoredMsg, no_hdr: bool) -> dict[str, Any]:
    """nats-server's StoredMsg: subject, seq, hdrs (base64, omitted when none), data, time."""
    out: dict[str, Any] = {"subject": m.subject.decode("utf-8", "surrogateescape"), "seq": m.seq}
    if m.hdr and not no_hdr:
        out["hdrs"] = base64.b64encode(m.hdr).decode()
    if m.data:
        out["data"] = base64.b64encode(m.data).decode()
    out["time"] = go_time(m.ts)
    return out


# ---- STREAM.MSG.GET ----------------------------------------------------------------------------

def decide_get(body: MsgGetRequest) -> None:
    """nats-server's option checks: no batch here, and seq / last_by_subj / start_time exclusive."""
    if body.batch > 0 or body.max_bytes > 0:
        raise ApiError.of("JSBadRequestErr")
    has_time = body.start_time is not None
    if ((body.seq and body.last_by_subj)
            or (not body.seq and not body.last_by_subj and not body.next_by_subj and not has_time)
            or (body.seq and has_time) or (has_time and body.last_by_subj)
            or (body.last_by_subj and body.next_by_subj)):
        raise ApiError.of("JSBadRequestErr")


def find_message(stream: "Stream", body: MsgGetRequest) -> Optional[StoredMsg]:
    store = stream.store
    assert store is not None
    seq = seq_from_time(store, body.start_time) if body.start_time is not None else body.seq
    if seq > 0 and not body.next_by_subj:
        return load_by_seq(store, seq)
    if body.next_by_subj:
        return load_next(store, body.next_by_subj, seq)
    return load_last(store, body.last_by_subj)


def handle_msg_get(req: "ApiRequest") -> Optional[dict[str, Any]]:
    body = MsgGetRequest(**decode_body(req, "JSApiMsgGetRequest", MSG_GET_FIELDS))
    decide_get(body)
    stream = lookup_stream(req)
    if stream.store is None:      # offline (damaged): nats-server lets the request time out
        req.drop()
        return None
    m = find_message(stream, body)
    if m is None:
        raise ApiError.of("JSNoMessageFoundErr")
    req.respond_unaudited({"message": stored_msg_json(m, body.no_hdr)})
    return None


# ---- STREAM.MSG.DELETE -------------------------------------------------------------------------

def decide_delete(stream: "Stream", seq: int, no_erase: bool) -> None:
    cfg = stream.config or {}
    if cfg.get("sealed"):
        raise ApiError.of("JSStreamSealedErr")
    if cfg.get("deny_delete"):
        raise ApiError.of("JSStreamMsgDeleteFailedF", err="message delete not permitted")


def apply_delete(stream: "Stream", seq: int, no_erase: bool) -> None:
    """Remove (or securely erase) one message; nats-server's errors for what is not there: the file
    store tells "no message found" / "stream store EOF" apart, the memory store does not."""
    store = stream.store
    assert store is not None
    file_storage = (stream.config or {}).get("storage", "file") == "file"
    if file_storage and seq == 0:
        raise ApiError.of("JSStreamMsgDeleteFailedF", err="no message found")
    if file_storage and seq > store.last_seq:
        raise ApiError.of("JSStreamMsgDeleteFailedF", err="stream store EOF")
    if file_storage and seq < store.first_seq:
        raise ApiError.of("JSStreamMsgDeleteFailedF", err="no message found")
    removed = store.remove(seq) if no_erase else store.erase(seq)
    if not removed:
        raise ApiError.of("JSSequenceNotFoundErrF", seq=seq)


def handle_msg_delete(req: "ApiRequest") -> dict[str, Any]:
    fields = decode_body(req, "JSApiMsgDeleteRequest", MSG_DELETE_FIELDS)
    seq, no_erase = fields.get("seq", 0), fields.get("no_erase", False)
    stream = lookup_stream(req)
    decide_delete(stream, seq, no_erase)
    apply_delete(stream, seq, no_erase)
    return {"success": True}


def register(router: "ApiRouter") -> None:
    router.register("STREAM.MSG.GET.*", handle_msg_get, "stream_msg_get_response")
    router.register("STREAM.MSG.DELETE.*", handle_msg_delete, "stream_msg_delete_response")

