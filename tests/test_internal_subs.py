"""Server-owned subscriptions: a service living inside the server answers real clients."""
from __future__ import annotations


import nats
import pytest

import natsx


async def test_internal_service_answers_requests():
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        seen = []

        def echo(sub, subject, reply, hdr, payload):
            seen.append((subject, hdr))
            srv.publish(reply, b"echo:" + payload)

        sub = srv.subscribe_internal("svc.echo", echo)
        nc = await nats.connect(srv.client_url)
        try:
            msg = await nc.request("svc.echo", b"hi", timeout=2)
            assert msg.data == b"echo:hi"
            # Headers reach the internal subscriber; the reply's size is not the request's.
            msg = await nc.request("svc.echo", b"0123456789", timeout=2, headers={"K": "v"})
            assert msg.data == b"echo:0123456789"
            assert seen[0] == (b"svc.echo", None) and seen[1][1].startswith(b"NATS/1.0\r\nK: v")
            srv.unsubscribe_internal(sub)
            with pytest.raises(nats.errors.NoRespondersError):
                await nc.request("svc.echo", b"hi", timeout=2)
        finally:
            await nc.close()


async def test_server_publish_reaches_clients():
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        nc = await nats.connect(srv.client_url)
        try:
            sub = await nc.subscribe("events.>")
            await nc.flush()
            assert srv.publish("events.started", b"x", headers=b"NATS/1.0\r\nA: 1\r\n\r\n") == 1
            msg = await sub.next_msg(timeout=2)
            assert (msg.subject, msg.data, msg.headers) == ("events.started", b"x", {"A": "1"})
        finally:
            await nc.close()
