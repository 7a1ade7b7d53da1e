"""STREAM.SNAPSHOT and STREAM.RESTORE: the request errors against nats-server, the flow control
(chunk acks, window, end status) against nats-server, and a snapshot taken from natsx restored into
natsx with its messages, sequences and config (the snapshot bytes are each server's own format)."""
from __future__ import annotations

import base64
import random

import pytest

from tests.conftest import NATSX, raw_connect
from tests.jetstream.readhelp import CONNECT, JsClient, read_frame, validate, pair  # noqa: F401 (fixture)

HDR = b"NATS/1.0\r\nFoo: bar\r\n\r\n"



def fill(c: JsClient, name: str = "S", n: int = 50, size: int = 300, storage: str = "file") -> None:
    c.add_stream(name=name, subjects=[f"{name.lower()}.>"], allow_direct=True, storage=storage)
    rnd = random.Random(n)
    for i in range(n):
        # incompressible payloads (the same on both servers), so a snapshot spans several chunks
        c.publish(f"{name.lower()}.{i % 3}", base64.b64encode(rnd.randbytes(size))[:size].decode(),
                  HDR if i % 5 == 0 else b"")


def take_snapshot(c: JsClient, name: str, ack: bool = True, **req) -> tuple[dict, bytes, list, bytes]:
    """Request a snapshot to an inbox and read it all: (response, data, chunk replies, end status)."""
    deliver = f"_SNAP.{name}"
    c.c.transact(f"SUB {deliver} 7\r\n".encode())
    resp = c.api(f"$JS.API.STREAM.SNAPSHOT.{name}", {"deliver_subject": deliver, **req})
    validate(resp, "api/v1/stream_snapshot_response.json")
    data, replies = b"", []
    while True:
        f = read_frame(c.c)
        assert f.subject == deliver.encode()
        if f.hdr or not f.data:     # the end: a status, or an empty message if no chunk was full
            return resp, data, replies, f.hdr
        data += f.data
        replies.append(f.reply)
        if f.reply and ack:
            c.c.send(b"PUB %s 0\r\n\r\n" % f.reply)


def test_snapshot_request_errors_match_nats_server(pair):
    def scenario(c: JsClient, kind: str) -> list[dict]:
        c.add_stream(name="S", subjects=["s"])
        out = []
        for subj, body in (("S", b""), ("NOPE", {"deliver_subject": "x"}), ("S", b"[1]"),
                           ("S", {"deliver_subject": ""}), ("S", {"deliver_subject": "a.*"}),
                           ("S", {"deliver_subject": "x", "chunk_size": "big"}), ("NOPE", b"")):
            r = c.api(f"$JS.API.STREAM.SNAPSHOT.{subj}", body)
            validate(r, "api/v1/stream_snapshot_response.json")
            out.append(r)
        return out

    out = pair.same(scenario)
    assert [r["error"]["err_code"] for r in out] == [10003, 10059, 10025, 10015, 10015, 10025, 10003]


def test_restore_request_errors_match_nats_server(pair):
    def scenario(c: JsClient, kind: str) -> list[dict]:
        c.add_stream(name="HAVE", subjects=["have"])
        out = []
        for subj, body in (("R", b""), ("R", b"[1]"), ("R", {"config": {"name": "OTHER", "subjects": ["r"]}}),
                           ("HAVE", {"config": {"name": "HAVE", "subjects": ["h2"]}}),
                           ("R", {"config": {"name": "R", "subjects": ["r"], "max_age": -5}})):
            r = c.api(f"$JS.API.STREAM.RESTORE.{subj}", body)
            validate(r, "api/v1/stream_restore_response.json")
            out.append(r)
        return out

    out = pair.same(scenario)
    assert [r["error"]["err_code"] for r in out] == [10003, 10025, 10056, 10130, 10052]


def test_snapshot_flow_control_matches_nats_server(pair):
    """1 KiB chunks, a 2 KiB window: two chunks arrive, then nothing until one is acked; every full
    chunk carries an ack reply $JS.SNAPSHOT.ACK.<stream>.<id>.<len>.<n>, the short last one none, and
    a 204 status ends it."""
    def scenario(c: JsClient, kind: str) -> dict:
        fill(c, n=60)
        deliver = "_SNAP.W"
        c.c.transact(f"SUB {deliver} 7\r\n".encode())
        c.api("$JS.API.STREAM.SNAPSHOT.S", {"deliver_subject": deliver, "chunk_size": 1024, "window_size": 2048})
        first = [read_frame(c.c), read_frame(c.c)]
        held = c.c.sync(timeout=5)            # nothing more while both are unacked
        shapes = []
        frames = list(first)
        assert all(f.reply for f in first)
        for f in first:
            c.c.send(b"PUB %s 0\r\n\r\n" % f.reply)
        while True:
            f = read_frame(c.c)
            frames.append(f)
            if f.hdr:
                break
            if f.reply:
                c.c.send(b"PUB %s 0\r\n\r\n" % f.reply)
        for i, f in enumerate(frames[:-1]):
            parts = f.reply.decode().split(".")
            if f.reply:
                assert parts[:3] == ["$JS", "SNAPSHOT", "ACK"] and parts[3] == "S"
                assert (int(parts[-2]), int(parts[-1])) == (len(f.data), i + 1)
            shapes.append((len(f.data) == 1024, bool(f.reply)))
        assert shapes[-1] == (False, False) and all(s == (True, True) for s in shapes[:-1])
        return {"held": held, "end": frames[-1].hdr, "end_body": frames[-1].data}

    assert pair.same(scenario) == {"held": b"", "end": b"NATS/1.0 204\r\n\r\n", "end_body": b""}


def test_snapshot_without_acks_ends_with_no_flow_response(pair):
    def scenario(c: JsClient, kind: str) -> bytes:
        fill(c, n=60)
        resp, data, replies, end = take_snapshot(c, "S", ack=False, chunk_size=1024, window_size=1024)
        assert len(replies) == 1
        return end

    assert pair.same(scenario) == b"NATS/1.0 408 No Flow Response\r\n\r\n"


def _restore(c: JsClient, name: str, config: dict, data: bytes, chunk: int = 4096) -> dict:
    resp = c.api(f"$JS.API.STREAM.RESTORE.{name}", {"config": config})
    validate(resp, "api/v1/stream_restore_response.json")
    assert "error" not in resp, resp
    deliver = resp["deliver_subject"]
    assert deliver.startswith(f"$JS.SNAPSHOT.RESTORE.{name}.")
    for off in range(0, len(data), chunk):
        ack = c.request(deliver, data[off:off + chunk])
        assert ack.data == b"" and ack.hdr == b""
    return c.request(deliver, b"").json()


@pytest.mark.parametrize("storage", ["file", "memory"])
def test_snapshot_restores_with_messages_and_config(pair, storage):
    def scenario(c: JsClient, kind: str) -> dict:
        fill(c, n=40, storage=storage)
        for seq in (3, 17):
            c.api("$JS.API.STREAM.MSG.DELETE.S", {"seq": seq})
        before = [c.request("$JS.API.DIRECT.GET.S", {"seq": s}) for s in range(1, 42)]
        resp, data, _, end = take_snapshot(c, "S", chunk_size=1024)
        assert end == b"NATS/1.0 204\r\n\r\n"
        assert resp["state"]["messages"] == 38 and resp["config"]["storage"] == storage
        assert c.api("$JS.API.STREAM.DELETE.S")["success"]
        info = _restore(c, "S", resp["config"], data)
        validate(info, "api/v1/stream_create_response.json")
        assert info["state"]["messages"] == 38 and info["state"]["last_seq"] == 40
        after = [c.request("$JS.API.DIRECT.GET.S", {"seq": s}) for s in range(1, 42)]
        assert [(f.hdr, f.data) for f in after] == [(f.hdr, f.data) for f in before]                   # same messages, headers, sequences and times
        c.publish("s.0", "new")                   # and it takes publishes again, after the last
        assert c.api("$JS.API.STREAM.INFO.S")["state"]["last_seq"] == 41
        return {k: info["state"][k] for k in ("messages", "first_seq", "last_seq", "num_deleted")}

    assert pair.same(scenario) == {"messages": 38, "first_seq": 1, "last_seq": 40, "num_deleted": 2}


def test_restore_needs_reply_subjects_and_refuses_foreign_data(pair):
    if NATSX not in pair.servers:
        pytest.skip("natsx-specific: the snapshot format is natsx's own")
    c = pair.client(NATSX)
    resp = c.api("$JS.API.STREAM.RESTORE.R", {"config": {"name": "R", "subjects": ["r"]}})
    final = _restore(c, "R2", {"name": "R2", "subjects": ["r2"]}, b"this is not a natsx snapshot")
    validate(final, "api/v1/stream_create_response.json")
    assert final["error"]["err_code"] == 10062 and final["error"]["description"].startswith("restore failed: ")
    assert "error" in c.api("$JS.API.STREAM.INFO.R2")       # no stream was created
    assert resp["deliver_subject"]


def test_snapshot_and_restore_advisories(pair):
    def scenario(c: JsClient, kind: str) -> list[str]:
        fill(c, n=5)
        mon = raw_connect(pair.servers[kind], CONNECT)
        mon.transact(b"SUB $JS.EVENT.ADVISORY.STREAM.*.S 9\r\n")
        resp, data, _, _ = take_snapshot(c, "S")
        c.api("$JS.API.STREAM.DELETE.S")
        _restore(c, "S", resp["config"], data)
        out = []
        for _ in range(6):
            doc = read_frame(mon).json()
            if doc["type"].endswith("snapshot_create"):
                # nats-server sends the stream state here; the shared schema still has blocks/block_size
                assert set(doc) == {"type", "id", "timestamp", "stream", "state", "client"}
            else:
                validate(doc, "advisory/v1/" + doc["type"].rsplit(".", 1)[1] + ".json")
            out.append(doc["type"].rsplit(".", 1)[1])
        mon.close()
        return sorted(out)

    # the restored stream is created like any other (stream_action "create" after the delete)
    assert pair.same(scenario) == ["restore_complete", "restore_create", "snapshot_complete",
                                   "snapshot_create", "stream_action", "stream_action"]
