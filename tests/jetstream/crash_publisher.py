"""Child process for the ingest crash test: an embedded natsx server with one file stream
(StreamIngest on ``crash.>``, sync "always") and a publisher in its own thread-free loop that
publishes with acks and prints every ack it receives, as it receives it.

Usage: crash_publisher.py DIR. Prints ``ready <last_seq>`` once the stream is open, then one line
``<seq> <msg-id>`` per ack. tests/jetstream/test_ingest_crash.py SIGKILLs it mid-stream: whatever
it printed was acked, and must be in the store when it is reopened.
"""
from __future__ import annotations

import asyncio
import json
import sys

import nats

import natsx
from natsx._core.stream import StreamIngest
from natsx._core.sublist import Subscription
from natsx.store import FileStore, StoreConfig

WINDOW = 64  # publishes in flight


def payload(msg_id: str) -> bytes:
    return b"payload-" + msg_id.encode() * 3


async def main() -> None:
    directory = sys.argv[1]
    out = sys.stdout.buffer
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        store = FileStore(directory, StoreConfig(sync="always", block_size=16384))
        ingest = StreamIngest(srv.core, store, b"CRASH", {"storage": "file"})
        srv.sublist.insert(Subscription(b"crash.>", b"js", ingest))
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        out.write(b"ready %d\n" % store.last_seq)
        out.flush()
        start = store.last_seq
        sem = asyncio.Semaphore(WINDOW)

        async def one(i: int) -> None:
            msg_id = f"{start}-{i}"
            try:
                r = await nc.request(f"crash.{i % 7}", payload(msg_id), timeout=30,
                                     headers={"Nats-Msg-Id": msg_id})
                ack = json.loads(r.data)
                out.write(b"%d %s\n" % (ack["seq"], msg_id.encode()))
                out.flush()
            finally:
                sem.release()

        i = 0
        while True:
            await sem.acquire()
            asyncio.ensure_future(one(i))
            i += 1


if __name__ == "__main__":
    asyncio.run(main())
