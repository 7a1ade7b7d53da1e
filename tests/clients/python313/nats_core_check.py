"""nats-core (the official Python client for Python >= 3.13) against a server.

Usage: nats_core_check.py URL [--user U --password P | --token T]
Prints one JSON object per check on stdout; exits non-zero on the first failure.
"""
from __future__ import annotations

import argparse
import asyncio
import json

from nats.client import connect
from nats.client.errors import NoRespondersError

TIMEOUT = 5.0


def report(check: str, **fields: object) -> None:
    print(json.dumps({"check": check, **fields}), flush=True)


async def pub_sub(nc) -> None:
    sub = await nc.subscribe("core.greet")
    await nc.flush()
    for i in range(100):
        await nc.publish("core.greet", b"%d" % i)
    got = [(await sub.next(timeout=TIMEOUT)).data for _ in range(100)]
    assert got == [b"%d" % i for i in range(100)], got
    report("pub_sub", messages=len(got))
    await sub.unsubscribe()


async def queue_group(nc) -> None:
    members = [await nc.subscribe("core.work", queue="workers") for _ in range(3)]
    received: list[bytes] = []
    all_in = asyncio.Event()

    def collect(msg) -> None:
        received.append(msg.data)
        if len(received) == 30:
            all_in.set()

    for member in members:
        member.add_callback(collect)
    await nc.flush()
    for i in range(30):
        await nc.publish("core.work", b"%d" % i)
    await asyncio.wait_for(all_in.wait(), TIMEOUT)
    await nc.flush()   # a duplicate delivery would arrive before this PONG
    assert sorted(received, key=int) == [b"%d" % i for i in range(30)], received
    report("queue_group", messages=len(received), members=len(members))
    for member in members:
        await member.unsubscribe()


async def request_reply(nc) -> None:
    service = await nc.subscribe("core.echo")
    await nc.flush()

    async def serve() -> None:
        for _ in range(10):
            msg = await service.next(timeout=TIMEOUT)
            await nc.publish(msg.reply, b"echo:" + msg.data)

    responder = asyncio.create_task(serve())
    replies = [(await nc.request("core.echo", b"%d" % i, timeout=TIMEOUT)).data for i in range(10)]
    await responder
    assert replies == [b"echo:%d" % i for i in range(10)], replies
    report("request_reply", replies=len(replies))
    await service.unsubscribe()


async def headers(nc) -> None:
    sub = await nc.subscribe("core.headers")
    await nc.flush()
    await nc.publish("core.headers", b"body", headers={"X-One": "1", "X-Many": ["a", "b"]})
    msg = await sub.next(timeout=TIMEOUT)
    assert msg.data == b"body" and msg.headers is not None, msg
    assert msg.headers.get("X-One") == "1" and msg.headers.get_all("X-Many") == ["a", "b"], msg.headers
    report("headers", one=msg.headers.get("X-One"), many=msg.headers.get_all("X-Many"))
    await sub.unsubscribe()


async def no_responders(nc) -> None:
    try:
        await nc.request("core.nobody.home", b"?", timeout=TIMEOUT)
    except NoRespondersError as e:
        report("no_responders", status=e.status)
    else:
        raise AssertionError("request without responders got a reply")


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--token")
    args = p.parse_args()
    nc = await connect(args.url, timeout=TIMEOUT, allow_reconnect=False,
                       user=args.user, password=args.password, token=args.token)
    info = nc.server_info
    assert info is not None
    report("connect", version=info.version, go=info.go_version, headers=info.headers,
           auth_required=info.auth_required, max_payload=info.max_payload)
    try:
        for check in (pub_sub, queue_group, request_reply, headers, no_responders):
            await check(nc)
    finally:
        await nc.close()
    report("closed")


if __name__ == "__main__":
    asyncio.run(main())
