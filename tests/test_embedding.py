"""natsx.Server embedded in the test's own asyncio loop (natsx only: nats-server has no such API)."""

from __future__ import annotations

import asyncio
import socket

import nats
import nats.errors
import pytest

from conftest import NATSX, selected_kinds, wait_until

pytestmark = pytest.mark.skipif(NATSX not in selected_kinds(), reason="natsx excluded by NATSX_TEST_SERVERS")


async def test_embedded_server_pub_sub_request():
    import natsx

    async with natsx.Server(port=0) as srv:
        assert srv.client_url.startswith("nats://")
        port = int(srv.client_url.rsplit(":", 1)[1])
        assert port > 0
        nc = await nats.connect(srv.client_url, allow_reconnect=False)
        try:
            got = asyncio.Queue()

            async def on_msg(msg):
                await got.put(msg)

            async def echo(msg):
                await msg.respond(msg.data.upper())

            await nc.subscribe("embed.>", cb=on_msg)
            await nc.subscribe("svc", cb=echo)
            await nc.publish("embed.a", b"hello", headers={"K": "v"})
            msg = await asyncio.wait_for(got.get(), 5)
            assert (msg.subject, msg.data, msg.headers["K"]) == ("embed.a", b"hello", "v")
            assert (await nc.request("svc", b"abc", timeout=5)).data == b"ABC"
            with pytest.raises(nats.errors.NoRespondersError):
                await nc.request("nobody", b"", timeout=5)
        finally:
            await nc.close()
    # Leaving the context stops the listener.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


async def test_two_embedded_servers_in_one_loop():
    import natsx

    async with natsx.Server(port=0) as a, natsx.Server(port=0, max_payload=4096) as b:
        assert a.client_url != b.client_url
        na = await nats.connect(a.client_url, allow_reconnect=False)
        nb = await nats.connect(b.client_url, allow_reconnect=False)
        try:
            assert na.max_payload == 1024 * 1024
            assert nb.max_payload == 4096
            seen = []

            async def cb(msg):
                seen.append(msg.data)

            await na.subscribe("x", cb=cb)
            await na.flush()
            await nb.publish("x", b"other server")  # separate servers: not delivered
            await nb.flush()
            await na.publish("x", b"same server")
            await na.flush()
            await wait_until(lambda: seen, what="delivery on the same server")
            await na.flush()
            assert seen == [b"same server"]
        finally:
            await na.close()
            await nb.close()
