"""$JS.API.STREAM.* handlers (create, update, info, list, names, delete, purge, the clustered-only
stepdown/peer remove) and the consumer subjects natsx answers until consumers exist (issue 10).

Each mutating handler decides (validate, compute the new config: natsx.jetstream.config and
account) and then applies (natsx.jetstream.stream) in a separate step, so a Raft proposal can
later sit between the two.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from natsx.jetstream import account, config as streamcfg
from natsx.jetstream.api import ApiRouter, decode_json
from natsx.jetstream.errors import ApiError, invalid_config
from natsx.jetstream.host import JetStreamHost
from natsx.jetstream.stream import Stream

if TYPE_CHECKING:
    from natsx.jetstream.api import ApiRequest

NAMES_LIMIT = 1024       # JSApiNamesLimit
LIST_LIMIT = 256         # JSApiListLimit
PAGED_ZERO = {"total": 0, "offset": 0, "limit": 0}


def _name(req: "ApiRequest") -> str:
    return req.tokens[-1]


def _body(req: "ApiRequest", known: tuple[str, ...], go_type: str) -> dict[str, Any]:
    body = req.json(go_type)
    if req.js.strict:
        for key in body:
            if key not in known:
                raise ApiError.of("JSInvalidJSONErr", err=f'json: unknown field "{key}"')
    return body


def _config_body(req: "ApiRequest") -> tuple[dict[str, Any], bool]:
    """(the decoded StreamConfig, the request's pedantic flag: refuse rather than adjust)."""
    body = _body(req, tuple(f for f, _, _ in streamcfg.FIELDS) + ("pedantic",), "StreamConfigRequest")
    pedantic = body.get("pedantic", False)
    if not isinstance(pedantic, bool):
        raise streamcfg.unmarshal_error(pedantic, "StreamConfigRequest", "pedantic", "bool")
    return streamcfg.decode(body), pedantic


def _stream(js: JetStreamHost, name: str, online: bool = True) -> Stream:
    stream = js.streams.get(name)
    if stream is None:
        raise ApiError.of("JSStreamNotFoundErr")
    if online and stream.offline_reason:
        raise ApiError.of("JSStreamOfflineReasonErrF", err=stream.offline_reason)
    return stream


def _checked(js: JetStreamHost, cfg: dict[str, Any], pedantic: bool) -> dict[str, Any]:
    lim = js.limits
    return streamcfg.check(cfg, pedantic=pedantic, duplicates_limit=js.duplicates_limit, max_bytes_required=lim.max_bytes_required,
                           max_stream_bytes=lim.max_stream_bytes(cfg["storage"] or "file"),
                           lookup=js.lookup_config)


def _check_overlap(js: JetStreamHost, cfg: dict[str, Any]) -> None:
    for name, other in js.streams.items():
        if name != cfg["name"] and other.config is not None and \
                streamcfg.overlapping(cfg["subjects"] or [], other.config["subjects"] or []):
            raise ApiError.of("JSStreamSubjectOverlapErr")


# -- create / update ------------------------------------------------------------------------------

def decide_create(js: JetStreamHost, name: str, cfg: dict[str, Any],
                  pedantic: bool = False) -> tuple[dict[str, Any], Stream | None]:
    """(the stream's config, the existing stream if the request repeats its config)."""
    if name != cfg["name"]:
        raise ApiError.of("JSStreamMismatchErr")
    if "\\" in name or "/" in name:
        raise ApiError.of("JSStreamNameContainsPathSeparatorsErr")
    if cfg["sealed"]:
        raise invalid_config("stream configuration for create can not be sealed")
    if cfg["mirror_direct"] and cfg["mirror"] is None:
        raise invalid_config("stream has no mirror but does have mirror direct")
    if js.limits.max_streams > 0 and name not in js.streams and len(js.streams) >= js.limits.max_streams:
        raise ApiError.of("JSMaximumStreamsLimitErr")
    checked = _checked(js, cfg, pedantic)
    if checked["num_replicas"] > 1:
        raise ApiError.of("JSStreamReplicasNotSupportedErr")
    streamcfg.stamp_metadata(checked)
    existing = js.streams.get(name)
    if existing is not None:
        if existing.offline_reason:
            raise ApiError.of("JSStreamOfflineReasonErrF", err=existing.offline_reason)
        if existing.config != checked:
            raise ApiError.of("JSStreamNameExistErr")
        return checked, existing
    _check_overlap(js, checked)
    account.check_create(js, checked)
    return checked, None


def apply_create(js: JetStreamHost, cfg: dict[str, Any]) -> Stream:
    try:
        stream = Stream.create(js, cfg)
    except OSError as exc:
        raise ApiError.of("JSStreamStoreFailedF", err=str(exc)) from None
    stream.store.attach_loop()
    js.streams[stream.name] = stream
    js.attach(stream)
    return stream


def handle_create(req: "ApiRequest") -> dict[str, Any]:
    cfg, existing = decide_create(req.js, _name(req), *_config_body(req))
    stream = existing if existing is not None else apply_create(req.js, cfg)
    if existing is None:
        req.js.advisories.stream_created(stream.name)
    info, _ = stream.info()
    info["did_create"] = True
    return info


def decide_update(js: JetStreamHost, name: str, cfg: dict[str, Any],
                  pedantic: bool = False) -> tuple[Stream, dict[str, Any]]:
    if name != cfg["name"]:
        raise ApiError.of("JSStreamMismatchErr")
    stream = _stream(js, name)
    assert stream.config is not None
    checked = _checked(js, cfg, pedantic)
    streamcfg.check_update(stream.config, checked)
    streamcfg.stamp_metadata(checked)
    _check_overlap(js, checked)
    account.check_update(js, stream.config, checked)
    return stream, checked


def apply_update(js: JetStreamHost, stream: Stream, cfg: dict[str, Any]) -> None:
    if cfg["subjects"] != (stream.config or {}).get("subjects"):
        js.detach(stream)
        stream.apply_config(cfg)
        js.attach(stream)
    else:
        stream.apply_config(cfg)
        js.reconfigure(stream)
        js.direct.sync(stream)          # allow_direct may have changed


def handle_update(req: "ApiRequest") -> dict[str, Any]:
    stream, cfg = decide_update(req.js, _name(req), *_config_body(req))
    apply_update(req.js, stream, cfg)
    req.js.advisories.stream_updated(stream.name)
    info, _ = stream.info()
    return info


# -- info / names / list -----------------------------------------------------------------------

def handle_info(req: "ApiRequest") -> dict[str, Any]:
    body = _body(req, ("offset", "limit", "deleted_details", "subjects_filter"), "JSApiStreamInfoRequest")
    stream = _stream(req.js, _name(req))
    offset = max(_int(body, "offset", "JSApiStreamInfoRequest"), 0)
    subjects_filter = body.get("subjects_filter") or ""
    info, total = stream.info(deleted_details=bool(body.get("deleted_details")),
                              subjects_filter=subjects_filter, offset=offset, cluster=True)
    limit = 100_000 if subjects_filter else 0
    return {"total": total, "offset": offset if subjects_filter else 0, "limit": limit, **info}


def _int(body: dict[str, Any], key: str, struct: str, go_type: str = "int") -> int:
    """An integer request field as Go decodes it (uint64 refuses negatives)."""
    v = body.get(key, 0)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or \
            (go_type == "uint64" and v < 0):
        raise streamcfg.unmarshal_error(v, struct, key, go_type)
    return int(v)


def _page(names: list[str], offset: int, limit: int) -> tuple[int, list[str]]:
    """nats-server's paging: a negative offset is 0, one past the end is the end."""
    offset = min(max(offset, 0), len(names))
    return offset, names[offset:offset + limit]


def _matching_names(js: JetStreamHost, subject: str) -> list[str]:
    names = sorted(js.streams)
    if not subject:
        return names
    return [n for n in names if js.streams[n].config is not None and
            streamcfg.overlapping([subject], js.streams[n].config["subjects"] or [])]


def handle_names(req: "ApiRequest") -> dict[str, Any]:
    body = _body(req, ("offset", "subject"), "JSApiStreamNamesRequest")
    names = _matching_names(req.js, body.get("subject") or "")
    offset, page = _page(names, _int(body, "offset", "JSApiStreamNamesRequest"), NAMES_LIMIT)
    return {"total": len(names), "offset": offset, "limit": NAMES_LIMIT, "streams": page or None}


def handle_list(req: "ApiRequest") -> dict[str, Any]:
    body = _body(req, ("offset", "subject"), "JSApiStreamListRequest")
    names = _matching_names(req.js, body.get("subject") or "")
    offset, page = _page(names, _int(body, "offset", "JSApiStreamListRequest"), LIST_LIMIT)
    infos, offline = [], {}
    for name in page:
        stream = req.js.streams[name]
        if stream.offline_reason:
            offline[name] = stream.offline_reason
            continue
        infos.append(stream.info(dynamic_metadata=False)[0])
    out: dict[str, Any] = {"total": len(names), "offset": offset, "limit": LIST_LIMIT, "streams": infos}
    if offline:
        out["offline"] = offline
    return out


# -- delete / purge ------------------------------------------------------------------------------

def decide_delete(js: JetStreamHost, name: str) -> Stream:
    return _stream(js, name, online=False)     # an explicit delete may remove a damaged stream


def apply_delete(js: JetStreamHost, stream: Stream) -> None:
    js.detach(stream)
    del js.streams[stream.name]
    stream.delete()
    js.advisories.stream_deleted(stream.name)


def handle_delete(req: "ApiRequest") -> dict[str, Any]:
    apply_delete(req.js, decide_delete(req.js, _name(req)))
    return {"success": True}


def decide_purge(js: JetStreamHost, name: str, body: dict[str, Any]) -> tuple[Stream, dict[str, Any]]:
    seq = _int(body, "seq", "JSApiStreamPurgeRequest", "uint64")
    keep = _int(body, "keep", "JSApiStreamPurgeRequest", "uint64")
    if seq > 0 and keep > 0:
        raise ApiError.of("JSBadRequestErr")
    stream = _stream(js, name)
    assert stream.config is not None
    if stream.config["sealed"]:
        raise ApiError.of("JSStreamSealedErr")
    if stream.config["deny_purge"]:
        raise ApiError.of("JSStreamPurgeFailedF", err="stream purge not permitted")
    return stream, {"filter": body.get("filter") or "", "seq": seq, "keep": keep}


def apply_purge(stream: Stream, request: dict[str, Any]) -> int:
    assert stream.store is not None
    if request["filter"] or request["seq"] or request["keep"]:
        return stream.store.purge_ex(request["filter"], request["seq"], request["keep"])
    return stream.store.purge()


def handle_purge(req: "ApiRequest") -> dict[str, Any]:
    body = _body(req, ("filter", "seq", "keep"), "JSApiStreamPurgeRequest") if req.payload.strip()[:1] in (b"{", b"[") else {}
    stream, request = decide_purge(req.js, _name(req), body)
    return {"success": True, "purged": apply_purge(stream, request)}


# -- clustered-only operations ---------------------------------------------------------------------

def handle_clustered_only(req: "ApiRequest") -> dict[str, Any]:
    """LEADER.STEPDOWN and PEER.REMOVE: a single server answers "clustering support required"."""
    raise ApiError.of("JSClusterRequiredErr")


# -- consumers (issue 10) ------------------------------------------------------------------------

def handle_consumer_lookup(req: "ApiRequest") -> dict[str, Any]:
    """INFO/DELETE/PAUSE/...: no consumer exists on a natsx stream, so "consumer not found" is true."""
    _stream(req.js, req.tokens[2])
    raise ApiError.of("JSConsumerNotFoundErr")


def handle_consumer_names(req: "ApiRequest") -> dict[str, Any]:
    decode_json(req.payload)
    _stream(req.js, req.tokens[2])
    return {"total": 0, "offset": 0, "limit": NAMES_LIMIT, "consumers": []}


def handle_consumer_list(req: "ApiRequest") -> dict[str, Any]:
    decode_json(req.payload)
    _stream(req.js, req.tokens[2])
    return {"total": 0, "offset": 0, "limit": LIST_LIMIT, "consumers": []}


def handle_consumer_create(req: "ApiRequest") -> dict[str, Any]:
    """natsx has no consumers yet: creating one is refused with nats-server's error for a consumer
    the server cannot create (10012, JSConsumerCreateErrF) naming why, never a fake success."""
    decode_json(req.payload)
    _stream(req.js, req.tokens[3] if req.tokens[1] == "DURABLE" else req.tokens[2])
    raise ApiError.of("JSConsumerCreateErrF", err="consumers are not supported by this server yet (natsx)")


def register(router: ApiRouter) -> None:
    r = router.register
    r("STREAM.CREATE.*", handle_create, "stream_create_response")
    r("STREAM.UPDATE.*", handle_update, "stream_update_response")
    r("STREAM.INFO.*", handle_info, "stream_info_response", error_tail=PAGED_ZERO)
    r("STREAM.NAMES", handle_names, "stream_names_response", error_tail={**PAGED_ZERO, "streams": None})
    r("STREAM.LIST", handle_list, "stream_list_response", error_tail={**PAGED_ZERO, "streams": None})
    r("STREAM.DELETE.*", handle_delete, "stream_delete_response")
    r("STREAM.PURGE.*", handle_purge, "stream_purge_response", error_tail={"purged": 0})
    r("STREAM.LEADER.STEPDOWN.*", handle_clustered_only, "stream_leader_stepdown_response")
    r("STREAM.PEER.REMOVE.*", handle_clustered_only, "stream_remove_peer_response")
    for op in ("INFO", "DELETE", "PAUSE", "UNPIN", "RESET", "LEADER.STEPDOWN"):
        r(f"CONSUMER.{op}.*.*", handle_consumer_lookup, f"consumer_{op.lower().replace('.', '_')}_response")
    r("CONSUMER.NAMES.*", handle_consumer_names, "consumer_names_response",
      error_tail={**PAGED_ZERO, "consumers": []})
    r("CONSUMER.LIST.*", handle_consumer_list, "consumer_list_response",
      error_tail={**PAGED_ZERO, "consumers": None})
    for pattern in ("CONSUMER.CREATE.*", "CONSUMER.CREATE.*.>", "CONSUMER.DURABLE.CREATE.*.*"):
        r(pattern, handle_consumer_create, "consumer_create_response")
