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
from natsx.gofmt import go_duration, go_json
from natsx.log import friendly_bytes
from natsx.jetstream.advisories import event_id
from natsx.jetstream.errors import ApiError
from natsx.jetstream import account
from natsx.jetstream import config as streamcfg
from natsx.jetstream.msgapi import decode_body, lookup_stream
from natsx.jetstream.stream import MSGS_DIR, Stream, store_config
from natsx.jetstream.stream_api import _check_overlap as check_overlap, _checked as check_stream_config
from natsx.store.restore import restore
from natsx.store.snapshot import SnapshotError, write_snapshot

if TYPE_CHECKING:
    from natsx.jetstream.api import ApiRequest, ApiRouter
    from natsx.jetstream.host import JetStreamHost

SNAPSHOT_FIELDS = {"deliver_subject": "string", "no_consumers": "bool", "chunk_size": "int",
                   "window_size": "int", "jsck": "bool"}
RESTORE_FIELDS = {"config": "StreamConfig", "state": "StreamState"}
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
    if not req.payload.strip() or req.payload.strip() == b"{}":
        raise ApiError.of("JSBadRequestErr")
    stream = lookup_stream(req)
    fields = decode_body(req, "JSApiStreamSnapshotRequest", SNAPSHOT_FIELDS)
    deliver = fields.get("deliver_subject", "")
    if not is_valid_publish_subject(deliver.encode()):
        raise ApiError.of("JSSnapshotDeliverSubjectInvalidErr")
    if stream.store is None:
        raise ApiError.of("JSStreamSnapshotErrF", err="stream is offline")
    js = req.js
    check = " health check and" if fields.get("jsck") else ""
    js.log.info(f"Starting{check} snapshot for stream '$G > {stream.name}'")
    data = b"".join(write_snapshot(stream.store))     # consistent: fixed at this point
    state, _ = stream.state_json()
    info, _ = stream.info(dynamic_metadata=False)
    chunk, inflight = flow_window(fields.get("chunk_size", 0), fields.get("window_size", 0))
    sender = SnapshotSender(js, stream.name, deliver, data, chunk, inflight, state, js.advisories.requester(req.reply))
    task = asyncio.get_running_loop().create_task(sender.run())    # runs after this answer went out
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return {"config": info["config"], "state": state}


_RUNNING: set["asyncio.Task[None]"] = set()    # snapshots being sent (a task needs a reference)


class SnapshotSender:
    """Streams one snapshot's chunks with nats-server's ack window."""

    def __init__(self, js: "JetStreamHost", stream: str, deliver: str, data: bytes, chunk: int,
                 inflight: int, state: dict[str, Any], client: dict[str, Any]) -> None:
        self.js = js
        self.server = js.server
        self.stream = stream
        self.state = state
        self.client = client
        self.deliver = deliver
        self.data = data
        self.chunk = chunk
        self.slots = asyncio.BoundedSemaphore(inflight)
        self.ack_prefix = SNAPSHOT_ACK.format(stream, event_id())

    def _on_ack(self, *_args: Any) -> None:
        try:
            self.slots.release()
        except ValueError:      # an ack repeated: the window never grows past its size
            pass

    async def _wait_interest(self) -> None:
        """nats-server waits up to 2 s for the deliver subject to get a subscriber, then sends anyway."""
        deadline = time.monotonic() + INTEREST_WAIT
        while not self.server.sublist.has_interest(self.deliver.encode()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def run(self) -> None:
        """Send everything, between the create and complete advisories."""
        started = time.time_ns()
        self.js.advisories.snapshot_create(self.stream, self.state, self.client)
        sub = self.server.subscribe_internal(self.ack_prefix + ".>", self._on_ack)
        try:
            error = await self._send_all()
        finally:
            self.server.unsubscribe_internal(sub)
        ended = time.time_ns()
        self.js.advisories.snapshot_complete(self.stream, started, ended, self.client, error)
        took = go_duration(ended - started)
        if error:
            self.js.log.warn(f"Snapshot for stream '$G > {self.stream}' failed after {took}: {error}")
        else:
            self.js.log.info(f"Completed snapshot of {friendly_bytes(len(self.data))} for stream "
                             f"'$G > {self.stream}' in {took}")

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
    """Decide: the request and the config as nats-server checks them before any data arrives."""
    body = decode_body(req, "JSApiStreamRestoreRequest", RESTORE_FIELDS)
    raw_cfg = body.get("config")
    name = req.tokens[-1]
    cfg = streamcfg.decode(dict(raw_cfg or {}))
    if not cfg["name"]:
        cfg["name"] = name
    if cfg["name"] != name:
        raise ApiError.of("JSStreamMismatchErr")
    if "/" in name or "\\" in name:
        raise ApiError.of("JSStreamNameContainsPathSeparatorsErr")
    js = req.js
    cfg = check_stream_config(js, cfg, pedantic=False)   # checkStreamCfg, as a create
    account.check_create(js, cfg)
    if name in js.streams:
        raise ApiError.of("JSStreamNameExistRestoreFailedErr")
    return {"deliver_subject": Restore(js, cfg, req.reply).start()}


class Restore:
    """One restore in progress: collects chunks, then builds the stream from them."""

    def __init__(self, js: "JetStreamHost", cfg: dict[str, Any], reply: str) -> None:
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
            stream = apply_restore(self.js, self.cfg, self.chunks)
        except ApiError as exc:
            resp["error"] = ApiError.of("JSStreamRestoreErrF", err=exc.description).to_json()
            stream = None
        except (SnapshotError, OSError) as exc:
            resp["error"] = ApiError.of("JSStreamRestoreErrF", err=str(exc)).to_json()
            stream = None
        ended = time.time_ns()
        self.js.advisories.restore_complete(self.name, self.started, ended, self.nbytes, self.client)
        took = go_duration(ended - self.started)
        if stream is None:
            self.js.log.warn(f"Restore failed for {friendly_bytes(self.nbytes)} for stream '$G > {self.name}' in {took}")
            return resp
        self.js.log.info(f"Completed restore of {friendly_bytes(self.nbytes)} for stream '$G > {self.name}' in {took}")
        info, _ = stream.info()
        resp.update(info)
        return resp


def apply_restore(js: "JetStreamHost", cfg: dict[str, Any], chunks: list[bytes]) -> "Stream":
    """Apply: the stream's store built from the snapshot, its metadata written, the stream
    registered and served like a created one (subjects captured, direct gets, create advisory)."""
    if cfg["name"] in js.streams:       # created while the chunks were coming in
        raise ApiError.of("JSStreamNameExistRestoreFailedErr")
    check_overlap(js, cfg)
    streamcfg.stamp_metadata(cfg)
    sync, interval = js.sync_policy
    limits = store_config(cfg, sync, interval)
    directory = None if cfg["storage"] == "memory" else os.path.join(js.streams_dir, cfg["name"])
    try:
        store = restore(chunks, None if directory is None else os.path.join(directory, MSGS_DIR), limits)
    except BaseException:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    stream = Stream(js, cfg["name"], cfg, time.time_ns(), directory, store)
    stream.write_metadata()
    store.attach_loop()
    js.streams[stream.name] = stream
    js.attach(stream)
    js.advisories.stream_created(stream.name)
    return stream


def register(router: "ApiRouter") -> None:
    router.register("STREAM.SNAPSHOT.*", handle_snapshot, "stream_snapshot_response")
    router.register("STREAM.RESTORE.*", handle_restore, "stream_restore_response",
                    error_tail={"deliver_subject": ""})
