"""nats-py's JetStream management and publish calls end to end, against nats-server and natsx
(server_kind): add/update/info/list/purge/delete streams, publish acks, Msg-Id dedupe and the
Nats-Expected-* errors, with the same results on both servers."""
from __future__ import annotations

import nats
import pytest
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError, NotFoundError


@pytest.fixture
def js_server(server_factory, tmp_path):
    return server_factory(["-js", "-sd", str(tmp_path / "store")])


async def test_stream_management(js_server):
    nc = await nats.connect(js_server.url)
    js = nc.jetstream()
    try:
        info = await js.add_stream(name="ORDERS", subjects=["orders.*"], max_msgs_per_subject=10)
        assert info.config.name == "ORDERS" and info.config.duplicate_window == 120.0
        info = await js.update_stream(StreamConfig(name="ORDERS", subjects=["orders.*", "refunds"],
                                                   max_msgs_per_subject=10, description="both"))
        assert info.config.subjects == ["orders.*", "refunds"] and info.config.description == "both"
        with pytest.raises(BadRequestError) as err:
            await js.add_stream(name="CLASH", subjects=["orders.new"])
        assert err.value.err_code == 10065
        with pytest.raises(NotFoundError):
            await js.stream_info("NOPE")

        for i in range(6):
            ack = await js.publish(f"orders.{'ab'[i % 2]}", b"o%d" % i)
            assert (ack.stream, ack.seq) == ("ORDERS", i + 1)
        await js.publish("refunds", b"r")
        info = await js.stream_info("ORDERS", subjects_filter="orders.*")
        assert info.state.messages == 7 and info.state.subjects == {"orders.a": 3, "orders.b": 3}

        assert await js.purge_stream("ORDERS", subject="orders.a", keep=1)
        assert (await js.stream_info("ORDERS")).state.messages == 5
        assert await js.purge_stream("ORDERS", seq=6)
        info = await js.stream_info("ORDERS")
        assert (info.state.messages, info.state.first_seq) == (2, 6)

        await js.add_stream(name="MEMO", subjects=["memo"], storage="memory")
        names = sorted(s.config.name for s in await js.streams_info())
        assert names == ["MEMO", "ORDERS"]
        assert await js.delete_stream("MEMO")
        with pytest.raises(NotFoundError):
            await js.delete_stream("MEMO")
        assert [s.config.name for s in await js.streams_info()] == ["ORDERS"]
    finally:
        await nc.close()


async def test_publish_acks_dedupe_and_expectations(js_server):
    nc = await nats.connect(js_server.url)
    js = nc.jetstream()
    try:
        await js.add_stream(name="P", subjects=["p.>"])
        first = await js.publish("p.1", b"a", headers={"Nats-Msg-Id": "one"})
        again = await js.publish("p.1", b"a", headers={"Nats-Msg-Id": "one"})
        assert first.seq == again.seq == 1 and again.duplicate and not first.duplicate
        assert (await js.publish("p.2", b"b", stream="P")).seq == 2
        with pytest.raises(BadRequestError) as err:
            await js.publish("p.2", b"c", stream="OTHER")
        assert err.value.err_code == 10060
        with pytest.raises(BadRequestError) as err:
            await js.publish("p.2", b"c", headers={"Nats-Expected-Last-Sequence": "1"})
        assert err.value.err_code == 10071 and err.value.description == "wrong last sequence: 2"
        assert (await js.publish("p.2", b"c", headers={"Nats-Expected-Last-Sequence": "2"})).seq == 3
        with pytest.raises(BadRequestError) as err:
            await js.publish("p.1", b"d", headers={"Nats-Expected-Last-Subject-Sequence": "2"})
        assert err.value.err_code == 10071
        assert (await js.publish("p.1", b"d", headers={"Nats-Expected-Last-Subject-Sequence": "1"})).seq == 4
        with pytest.raises(BadRequestError) as err:
            await js.publish("p.3", b"e", headers={"Nats-Expected-Last-Msg-Id": "nope"})
        assert err.value.err_code == 10070
        assert (await js.stream_info("P")).state.messages == 4
    finally:
        await nc.close()
