"""`$JS.API.STREAM.SNAPSHOT.<stream>` and `$JS.API.STREAM.RESTORE.<stream>`, with nats-server's
flow control (jetstream_api.go jsStreamSnapshotRequest / streamSnapshot, jsStreamRestoreRequest /
processStreamRestore).

Snapshot: the reply is {config, state}; then the snapshot goes to `deliver_subject` in chunks of
`chunk_size` (clamped to 1 KiB..1 MiB), each with the reply `$JS.SNAPSHOT.ACK.<stream>.<id>.<len>.<n>`
the client acks, at most `window_size / chunk_size` unacked; the last (short) chunk has no reply,
and an empty message with status `204` ends it (`408 No Flow Response` after 5 s without an ack,
`408 No Interest` when nobody listens any more).

Restore: the reply names `$JS.SNAPSHOT.RESTORE.<stream>.<id>`; the client sends chunks there, each
acked with an empty message, then an empty message whose reply gets the new stream's info.

The bytes are natsx's own snapshot format (natsx.store.snapshot: the stream's messages, zstd), not
nats-server's tar.s2 of its files. Clients treat a snapshot as opaque bytes, so a snapshot taken from
natsx restores into natsx (config from the restore request, as nats-server); a nats-server snapshot
is refused with "restore failed".
"""
from __future__ import annotations

import asyncio
import os
import shutil
import time
from typing import TYPE_CHECKING, Any, Optional

from natsx._core.subject import is_valid_publish_subject
from natsx.gofmt import go_json
from natsx.jetstream.advisories import event_id
from natsx.jetstream.errors import ApiError
from natsx.jetstream.getreq import RequestDecodeError, go_unmarshal
from natsx.jetstream.msgapi import decode_body, lookup_stream
from natsx.store.snapshot import SnapshotError, write_snapshot

if TYPE_CHECKING:
    from natsx.jetstream import JetStream
    from natsx.jetstream.api import ApiRequest, ApiRouter
    from natsx.jetstream.stream import Stream

SNAPSHOT_FIELDS = {"deliver_subject": "string", "no_consumers": "bool", "chunk_size": "int",
                   "window_size": "int", "jsck": "bool"}
DEFAULT_CHUNK = 128 * 1024
DEFAULT_WINDOW = 8 * 1024 * 1024
ACK_TIMEOUT = 5.0           # snapshotAckTimeout
INTEREST_WAIT = 2.0         # how long a snapshot waits for its deliver subject to get a subscriber
RESTORE_IDLE = 5.0          # a restore with no chunk for this long is stalled
SNAPSHOT_ACK = "$JS.SNAPSHOT.ACK.{}.{}"
RESTORE_DELIVER = "$JS.SNAPSHOT.RESTORE.{}.{}"
STATUS_END = b"NATS/1.0 204\r\n\r\n"
STATUS_NO_FLOW = b"NATS/1.0 408 No Flow Response\r\n\r\n"
STATUS_NO_INTEREST = b"NATS/1.0 408 No Interest\r\n\r\n"


def flow_window(chunk_size: int, window_size: int) -> tuple[int, int]:
    """(chunk size, chunks in flight) as nats-server clamps them."""
    chunk = min(max(1024, chunk_size or DEFAULT_CHUNK), 1 << 20)
    window = max(min(max(1024, window_size or DEFAULT_WINDOW), 32 << 20), chunk)
    return chunk, window // chunk


# ---- snapshot ----------------------------------------------------------------------------------

def handle_snapshot(req: "ApiRequest") -> Optional[dict[str, Any]]:
    if not req.payload.strip():
        raise ApiError.of("JSBadRequestErr")
    stream = lookup_stream(req)
    fields = decode_body(req.payload, lambda p: go_unmarshal(p, "JSApiStreamSnapshotRequest", SNAPSHOT_FIELDS))
    deliver = fields.get("deliver_subject", "")
    if not is_valid_publish_subject(deliver.encode()):
        raise ApiError.of("JSSnapshotDeliverSubjectInvalidErr")
    if stream.store is None:
        raise ApiError.of("JSStreamSnapshotErrF", err="stream is offline")
    js = req.js
    started = time.time_ns()
    check = " health check and" if fields.get("jsck") else ""
    js.log.info(f"Starting{check} snapshot for stream '$G > {stream.name}'")
    data = b"".join(write_snapshot(stream.store))     # consistent: fixed at this point
    state, _ = stream.state_json()
    info, _ = stream.info(dynamic_metadata=False)
    req.respond({"config": info["config"], "state": state})
    client = js.advisories.requester(req.reply)
    js.advisories.snapshot_create(stream.name, state, client)
    chunk, inflight = flow_window(fields.get("chunk_size", 0), fields.get("window_size", 0))
    sender = SnapshotSender(js, stream.name, deliver, data, chunk, inflight)
    task = asyncio.get_running_loop().create_task(sender.run())
    task.add_done_callback(lambda t: _snapshot_done(js, stream.name, started, client, len(data), t))
    req.defer_done()
    return None


def _snapshot_done(js: "JetStream", name: str, started: int, client: dict[str, Any], nbytes: int,
                   task: "asyncio.Task[Optional[str]]") -> None:
    error = task.result() if not task.cancelled() else "cancelled"
    ended = time.time_ns()
    js.advisories.snapshot_complete(name, started, ended, client, error)
    took = (ended - started) / 1e9
    if error:
        js.log.warn(f"Snapshot for stream '$G > {name}' failed after {took:.3f}s: {error}")
    else:
        js.log.info(f"Completed snapshot of {nbytes} bytes for stream '$G > {name}' in {took:.3f}s")


class SnapshotSender:
    """Streams one snapshot's chunks with nats-server's ack window."""

    def __init__(self, js: "JetStream", stream: str, deliver: str, data: bytes, chunk: int,
                 inflight: int) -> None:
        self.server = js.server
        self.deliver = deliver
        self.data = data
        self.chunk = chunk
        self.slots = asyncio.Semaphore(inflight)
        self.ack_prefix = SNAPSHOT_ACK.format(stream, event_id())

    def _on_ack(self, *_args: Any) -> None:
        self.slots.release()

    async def _wait_interest(self) -> bool:
        deadline = time.monotonic() + INTEREST_WAIT
        while not self.server.sublist.has_interest(self.deliver.encode()):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def run(self) -> Optional[str]:
        """Send everything; returns the error (None when complete)."""
        sub = self.server.subscribe_internal(self.ack_prefix + ".>", self._on_ack)
        try:
            return await self._send_all()
        finally:
            self.server.unsubscribe_internal(sub)

    async def _send_all(self) -> Optional[str]:
        await self._wait_interest()
        end: Optional[bytes] = None     # nats-server sets the 204 once a full chunk went out
        error: Optional[str] = None
        off, index = 0, 1
        while off < len(self.data):
            try:
                await asyncio.wait_for(self.slots.acquire(), ACK_TIMEOUT)
            except asyncio.TimeoutError:
                end, error = STATUS_NO_FLOW, "no flow response"
                break
            piece = self.data[off:off + self.chunk]
            off += len(piece)
            reply = b"" if len(piece) < self.chunk else f"{self.ack_prefix}.{len(piece)}.{index}".encode()
            if reply and end is None:
                end = STATUS_END
            if self.server.publish(self.deliver, piece, reply) == 0:
                end, error = STATUS_NO_INTEREST, "no interest"
                break
            index += 1
        self.server.publish(self.deliver, b"", b"", end)
        return error


# ---- restore -----------------------------------------------------------------------------------

def handle_restore(req: "ApiRequest") -> Optional[dict[str, Any]]:
    from natsx.jetstream import config as streamcfg
    from natsx.jetstream import account
    if not req.payload.strip():
        raise ApiError.of("JSBadRequestErr")
    body = req.json()
    raw_cfg = body.get("config") or {}
    if not isinstance(raw_cfg, dict):
        raise ApiError.of("JSInvalidJSONErr", err="json: cannot unmarshal into Go struct field "
                          "JSApiStreamRestoreRequest.config of type server.StreamConfig")
    name = req.tokens[-1]
    if not raw_cfg.get("name"):
        raw_cfg = {**raw_cfg, "name": name}
    if raw_cfg["name"] != name:
        raise ApiError.of("JSStreamMismatchErr")
    if "/" in name or "\\" in name:
        raise ApiError.of("JSStreamNameContainsPathSeparatorsErr")
    js = req.js
    cfg = js.decide_stream_config(raw_cfg)              # nats-server's checkStreamCfg
    account.check_create(js, cfg)
    if name in js.streams:
        raise ApiError.of("JSStreamNameExistRestoreFailedErr")
    restore = Restore(js, cfg, req.reply)
    deliver = restore.start()
    req.respond({"deliver_subject": deliver})
    return None


class Restore:
    """One restore in progress: collects chunks, then builds the stream from them."""

    def __init__(self, js: "JetStream", cfg: dict[str, Any], reply: str) -> None:
        self.js = js
        self.cfg = cfg
        self.name: str = cfg["name"]
        self.client = js.advisories.requester(reply)
        self.chunks: list[bytes] = []
        self.nbytes = 0
        self.started = time.time_ns()
        self.sub: Any = None
        self.idle: Optional[asyncio.TimerHandle] = None

    def start(self) -> str:
        self.js.log.info(f"Starting restore for stream '$G > {self.name}'")
        self.js.advisories.restore_create(self.name, self.client)
        subject = RESTORE_DELIVER.format(self.name, event_id())
        self.sub = self.js.server.subscribe_internal(subject, self._on_chunk)
        self._arm()
        return subject

    def _arm(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        self.idle = asyncio.get_running_loop().call_later(RESTORE_IDLE, self._stalled)

    def _stop(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None
        if self.sub is not None:
            self.js.server.unsubscribe_internal(self.sub)
            self.sub = None

    def _stalled(self) -> None:
        self.idle = None
        self._stop()
        self.js.log.warn(f"restore for stream '$G > {self.name}' is stalled")

    def _on_chunk(self, _sub: Any, _subject: bytes, reply: Optional[bytes], _hdr: Optional[bytes],
                  payload: bytes) -> None:
        server = self.js.server
        if not reply:
            self._stop()
            self.js.log.warn(f"restore for stream '$G > {self.name}' requires reply subject for each chunk")
            return
        if payload:
            self.chunks.append(payload)
            self.nbytes += len(payload)
            self._arm()
            server.publish(reply, b"")
            return
        self._stop()
        response = self._finish()
        server.publish(reply, go_json(response, indent=False))

    def _finish(self) -> dict[str, Any]:
        """Build the stream (decide happened at the request; this is apply) and its response."""
        resp: dict[str, Any] = {"type": "io.nats.jetstream.api.v1.stream_create_response"}
        try:
            stream = self.js.restore_stream(self.cfg, self.chunks)
        except (SnapshotError, RequestDecodeError, OSError) as exc:
            resp["error"] = ApiError.of("JSStreamRestoreErrF", err=str(exc)).to_json()
            stream = None
        ended = time.time_ns()
        self.js.advisories.restore_complete(self.name, self.started, ended, self.nbytes, self.client)
        took = (ended - self.started) / 1e9
        if stream is None:
            self.js.log.warn(f"Restore failed for {self.nbytes} bytes for stream '$G > {self.name}' in {took:.3f}s")
            return resp
        self.js.log.info(f"Completed restore of {self.nbytes} bytes for stream '$G > {self.name}' in {took:.3f}s")
        info, _ = stream.info()
        resp.update(info)
        return resp


def restore_store_files(directory: str, chunks: list[bytes], store_config: Any) -> Any:
    """A file store in `directory` built from snapshot chunks (removed again if that fails)."""
    from natsx.store.restore import restore
    os.makedirs(os.path.dirname(directory), exist_ok=True)
    try:
        return restore(chunks, directory, store_config)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def register(router: "ApiRouter") -> None:
    router.register("STREAM.SNAPSHOT.*", handle_snapshot, "stream_snapshot_response")
    router.register("STREAM.RESTORE.*", handle_restore, "stream_restore_response",
                    error_tail={"deliver_subject": ""})
