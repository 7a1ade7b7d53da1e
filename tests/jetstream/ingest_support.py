"""What the ingest tests share: a stream on natsx (an embedded natsx.Server with a StreamIngest
subscribed on the stream's subjects, until the $JS.API lands) and the same stream on nats-server
(created through its $JS.API), both driven by nats-py with the same publishes."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.errors

import natsx
from natsx._core.stream import StreamIngest
from natsx._core.sublist import Subscription
from natsx.store import FileStore, MemStore, StoreConfig

ACK_TIMEOUT = 2.0
NO_ACK_WAIT = 0.3  # how long a publish that must get no answer is given


@dataclass
class Pub:
    """One publish: the raw answer (bytes) is what the tests compare."""

    subject: str
    data: bytes = b""
    headers: dict[str, str] | None = None
    reply: str | None = None  # a fixed reply subject (default: a request inbox)


@dataclass
class RawPub:
    """A publish written as raw HPUB bytes (headers nats-py would not send: a status line)."""

    subject: str
    hdr: bytes
    data: bytes = b""


@dataclass
class Step:
    """Between publishes: change the stream's config (nats-server STREAM.UPDATE semantics)."""

    update: dict[str, Any] = field(default_factory=dict)


def store_config(cfg: dict[str, Any]) -> StoreConfig:
    """The store's share of a stream config (limits, discard), nats-server field names."""
    return StoreConfig(
        max_msgs=cfg.get("max_msgs", -1),
        max_bytes=cfg.get("max_bytes", -1),
        max_msgs_per_subject=cfg.get("max_msgs_per_subject", -1),
        max_msg_size=cfg.get("max_msg_size", -1),
        discard=cfg.get("discard", "old"),
        discard_new_per_subject=cfg.get("discard_new_per_subject", False),
        max_age_ns=cfg.get("max_age", 0),
    )


class NatsxStream:
    """A stream on an embedded natsx server: store + StreamIngest on its subjects."""

    def __init__(self, srv: natsx.Server, cfg: dict[str, Any], directory: Path | None,
                 domain: bytes | None = None) -> None:
        self.srv = srv
        self.cfg = dict(cfg)
        self.directory = directory
        self.store = (FileStore(directory, store_config(cfg)) if cfg.get("storage", "file") == "file"
                      else MemStore(store_config(cfg)))
        self.ingest = StreamIngest(srv.core, self.store, cfg["name"].encode(), cfg, domain)
        self.subs = [Subscription(s.encode(), b"js-%d" % i, self.ingest)
                     for i, s in enumerate(cfg["subjects"])]
        for sub in self.subs:
            srv.sublist.insert(sub)

    def update(self, change: dict[str, Any]) -> None:
        self.cfg.update(change)
        self.store.update_config(store_config(self.cfg))
        self.ingest.reconfigure(self.cfg)

    def close(self) -> None:
        for sub in self.subs:
            self.srv.unsubscribe_internal(sub)
        self.ingest.close()
        self.store.close()


async def answer(nc, pub: Pub) -> bytes | None:
    """The raw answer to one publish, None when there is none (no_ack, no reply)."""
    if pub.reply is None:
        try:
            msg = await nc.request(pub.subject, pub.data, timeout=ACK_TIMEOUT, headers=pub.headers)
            return msg.data
        except nats.errors.NoRespondersError:
            return b"<no responders>"
        except nats.errors.TimeoutError:
            return None
    sub = await nc.subscribe(pub.reply)
    try:
        await nc.publish(pub.subject, pub.data, reply=pub.reply, headers=pub.headers)
        try:
            return (await sub.next_msg(timeout=NO_ACK_WAIT * 3)).data
        except nats.errors.TimeoutError:
            return None
    finally:
        await sub.unsubscribe()


def state_of(msgs: int, nbytes: int, first_seq: int, last_seq: int, num_subjects: int) -> bytes:
    """The stream state both sides are compared on, after the publishes (as one more answer)."""
    return b"state msgs=%d bytes=%d first=%d last=%d subjects=%d" % (
        msgs, nbytes, first_seq, last_seq, num_subjects)


async def run_natsx(cfg: dict[str, Any], steps: list, directory: Path | None,
                    domain: bytes | None = None) -> list[bytes | None]:
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        stream = NatsxStream(srv, cfg, directory, domain)
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            out = [await _play(nc, step, stream.update) for step in steps]
            st = stream.store.state()
            return out + [state_of(st.msgs, st.bytes, st.first_seq, st.last_seq, st.num_subjects)]
        finally:
            await nc.close()
            stream.close()


async def raw_answer(url: str, pub: RawPub) -> bytes | None:
    """HPUB pub on its own connection with reply "raw.ack"; the ack's payload, None if none."""
    host, port = url.rsplit("/", 1)[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        await reader.readline()  # INFO
        total = len(pub.hdr) + len(pub.data)
        writer.write(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n'
                     b"SUB raw.ack 1\r\nHPUB %s raw.ack %d %d\r\n%s%s\r\n"
                     % (pub.subject.encode(), len(pub.hdr), total, pub.hdr, pub.data))
        await writer.drain()
        try:
            line = await asyncio.wait_for(reader.readline(), NO_ACK_WAIT * 3)
        except asyncio.TimeoutError:
            return None
        assert line.startswith(b"MSG raw.ack 1 "), line
        body = await reader.readexactly(int(line.split()[-1]) + 2)
        return body[:-2]
    finally:
        writer.close()


async def _play(nc, step, update) -> bytes | None:
    if isinstance(step, RawPub):
        return await raw_answer(nc.connected_url.geturl(), step)
    if isinstance(step, Step):
        await update(step.update) if asyncio.iscoroutinefunction(update) else update(step.update)
        return b"<updated>"
    return await answer(nc, step)


async def run_nats_server(url: str, cfg: dict[str, Any], steps: list) -> list[bytes | None]:
    nc = await nats.connect(url, allow_reconnect=False)
    try:
        created = json.loads((await nc.request(f"$JS.API.STREAM.CREATE.{cfg['name']}",
                                               json.dumps(cfg).encode(), timeout=5)).data)
        assert "error" not in created, created
        current = created["config"]

        async def update(change: dict[str, Any]) -> None:
            current.update(change)
            r = json.loads((await nc.request(f"$JS.API.STREAM.UPDATE.{cfg['name']}",
                                             json.dumps(current).encode(), timeout=5)).data)
            assert "error" not in r, r

        out = [await _play(nc, step, update) for step in steps]
        info = json.loads((await nc.request(f"$JS.API.STREAM.INFO.{cfg['name']}", b"", timeout=5)).data)
        st = info["state"]
        out.append(state_of(st["messages"], st["bytes"], st["first_seq"], st["last_seq"],
                            st.get("num_subjects", 0)))
        await nc.request(f"$JS.API.STREAM.DELETE.{cfg['name']}", b"", timeout=5)
        return out
    finally:
        await nc.close()
