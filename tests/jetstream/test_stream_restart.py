"""Streams across restarts of a natsx process: after a clean stop and after kill -9 every file
stream (config, created time, messages, dedupe window) is back and memory streams are gone, as
in nats-server; a damaged metadata file leaves the stream offline with its data untouched."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import nats
import pytest
import xxhash

from conftest import NATSX, ServerProcess
from jetstream.jsdiff import request, validate_response

API = "$JS.API."


@pytest.fixture
def natsx_js(tmp_path):
    store = tmp_path / "store"
    srv = ServerProcess(NATSX, tmp_path).start(["-js", "-sd", str(store)])
    yield srv, store / "jetstream" / "$G" / "streams"
    srv.stop()


async def api(srv: ServerProcess, subject: str, body=b"") -> dict:
    nc = await nats.connect(srv.url, allow_reconnect=False)
    try:
        doc = await request(nc, API + subject, body)
    finally:
        await nc.close()
    validate_response(doc)
    return doc


async def fill(srv: ServerProcess) -> list[int]:
    """A file stream with acked messages (some with a Msg-Id) and a memory stream; the acked seqs."""
    nc = await nats.connect(srv.url, allow_reconnect=False)
    js = nc.jetstream()
    try:
        await js.add_stream(name="F", subjects=["f.*"], max_msgs_per_subject=50, description="kept")
        await js.add_stream(name="MEM", subjects=["mem"], storage="memory")
        seqs = [(await js.publish(f"f.{i % 4}", b"m%d" % i, headers={"Nats-Msg-Id": f"id{i}"})).seq
                for i in range(40)]
        await js.publish("mem", b"gone")
    finally:
        await nc.close()
    return seqs


async def check_back(srv: ServerProcess, before: dict) -> None:
    after = await api(srv, "STREAM.INFO.F")
    assert after["config"] == before["config"]
    assert after["created"] == before["created"]
    assert after["state"] == before["state"]
    names = await api(srv, "STREAM.NAMES")
    assert names["streams"] == ["F"]           # the memory stream vanished, as in nats-server
    nc = await nats.connect(srv.url, allow_reconnect=False)
    try:
        ack = await nc.jetstream().publish("f.1", b"again", headers={"Nats-Msg-Id": "id5"})
        assert ack.duplicate and ack.seq == 6      # the dedupe window survived the restart
    finally:
        await nc.close()


@pytest.mark.parametrize("stop", ["clean", "kill -9"])
async def test_streams_come_back(natsx_js, stop):
    srv, _ = natsx_js
    seqs = await fill(srv)
    assert seqs == list(range(1, 41))
    before = await api(srv, "STREAM.INFO.F")
    assert before["state"]["messages"] == 40
    srv.stop(signal.SIGTERM if stop == "clean" else signal.SIGKILL)
    srv.restart()
    assert "Restored 40 messages for stream '$G > F'" in srv.stderr
    await check_back(srv, before)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "remove checksum"])
async def test_damaged_metadata_keeps_the_data(natsx_js, damage):
    srv, streams = natsx_js
    await fill(srv)
    before = await api(srv, "STREAM.INFO.F")
    srv.stop()
    meta = streams / "F" / "meta.inf"
    original = meta.read_bytes()
    if damage == "flip a byte":
        meta.write_bytes(original[:10] + bytes([original[10] ^ 0x20]) + original[11:])
    elif damage == "truncate":
        meta.write_bytes(original[: len(original) // 2])
    else:
        (streams / "F" / "meta.sum").unlink()
    data_before = _snapshot(streams / "F" / "msgs")
    srv.restart()
    assert "JetStream stream '$G > F' is damaged" in srv.stderr

    info = await api(srv, "STREAM.INFO.F")
    assert info["error"]["code"] == 500 and info["error"]["err_code"] == 10194
    assert info["error"]["description"].startswith("stream is offline: stream metadata")
    listed = await api(srv, "STREAM.LIST")
    assert listed["streams"] == [] and list(listed["offline"]) == ["F"]
    assert (await api(srv, "STREAM.NAMES"))["streams"] == ["F"]
    again = await api(srv, "STREAM.CREATE.F", {"name": "F", "subjects": ["f.*"]})
    assert again["error"]["err_code"] == 10194
    purge = await api(srv, "STREAM.PURGE.F")
    assert purge["error"]["err_code"] == 10194
    assert _snapshot(streams / "F" / "msgs") == data_before     # nothing touched

    # Once the metadata is repaired, the stream is back with every message.
    srv.stop()
    meta.write_bytes(original)
    if damage == "remove checksum":
        srv.restart()      # still damaged: the checksum file is part of the metadata
        assert (await api(srv, "STREAM.INFO.F"))["error"]["err_code"] == 10194
        srv.stop()
        (streams / "F" / "meta.sum").write_text(xxhash.xxh3_64_hexdigest(original))
    srv.restart()
    await check_back(srv, before)


async def test_delete_removes_the_stream_directory(natsx_js):
    srv, streams = natsx_js
    await fill(srv)
    assert (streams / "F").is_dir()
    assert (await api(srv, "STREAM.DELETE.F"))["success"] is True
    assert not (streams / "F").exists()
    srv.restart()
    assert (await api(srv, "STREAM.NAMES"))["streams"] is None


async def test_metadata_is_plain_json_with_its_checksum(natsx_js):
    srv, streams = natsx_js
    await fill(srv)
    meta = json.loads((streams / "F" / "meta.inf").read_bytes())
    assert meta["config"]["name"] == "F" and meta["config"]["description"] == "kept"
    assert "_nats.ver" not in meta["config"]["metadata"]    # dynamic keys are never stored
    assert len((streams / "F" / "meta.sum").read_text()) == 16
    assert not os.path.exists(streams / "MEM")


async def test_explicit_delete_of_a_damaged_stream(natsx_js):
    srv, streams = natsx_js
    await fill(srv)
    srv.stop()
    (streams / "F" / "meta.sum").write_text("0" * 16)
    srv.restart()
    assert (await api(srv, "STREAM.INFO.F"))["error"]["err_code"] == 10194
    assert (await api(srv, "STREAM.DELETE.F"))["success"] is True
    assert not (streams / "F").exists()
    srv.restart()
    assert (await api(srv, "STREAM.NAMES"))["streams"] is None


async def test_metadata_of_another_stream_is_damage(natsx_js):
    """A stream directory renamed by hand: its metadata names another stream; left offline."""
    srv, streams = natsx_js
    await fill(srv)
    srv.stop()
    (streams / "F").rename(streams / "G")
    data_before = _snapshot(streams / "G")
    srv.restart()
    info = await api(srv, "STREAM.INFO.G")
    assert info["error"]["description"] == "stream is offline: stream metadata names stream 'F'"
    assert _snapshot(streams / "G") == data_before


async def test_crash_between_the_metadata_renames(natsx_js):
    """An update killed after meta.inf was renamed but before meta.sum was: the new checksum is
    still meta.sum.tmp, and recovery completes the update instead of calling the stream damaged."""
    srv, streams = natsx_js
    await fill(srv)
    before = await api(srv, "STREAM.INFO.F")
    srv.stop(signal.SIGKILL)
    directory = streams / "F"
    meta = json.loads((directory / "meta.inf").read_bytes())
    meta["config"]["description"] = "updated"
    data = json.dumps(meta, separators=(",", ":")).encode()
    (directory / "meta.inf").write_bytes(data)                       # renamed already
    (directory / "meta.sum.tmp").write_text(xxhash.xxh3_64_hexdigest(data))   # not yet
    srv.restart()
    info = await api(srv, "STREAM.INFO.F")
    assert info["config"]["description"] == "updated" and info["state"] == before["state"]
    assert not (directory / "meta.sum.tmp").exists()
