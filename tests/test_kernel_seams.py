"""The kernel's seams for accounts, permissions and batch ends (issue 8), exercised as they are today:
every connection in the global account, permissions set from Python (the config refuses them until
they are enforced end to end), and a C subscriber using the once-per-batch hook."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

import natsx
from conftest import NATSX, RawClient, ServerProcess, selected_kinds
from natsx._core.account import Account
from natsx._core.conn import Connection, ServerCore
from natsx._core.perms import Permissions
from natsx._core.sublist import Sublist, Subscription
from natsx.accounts import GLOBAL_ACCOUNT
from test_connect_upcalls import attach, feed

from tests import pyxbuild  # noqa: E402

pyxbuild.install()
sys.path.append(str(Path(__file__).parent))
from _batch_counter import BatchCounter  # noqa: E402  (compiled by pyximport)


@pytest.fixture
def core() -> ServerCore:
    return ServerCore(Sublist())


def quiet(core: ServerCore, account: Account | None = None) -> Connection:
    conn = Connection(core)
    attach(conn)
    conn.verbose = False
    if account is not None:
        conn.set_account(account)
    return conn


# ---- accounts ---------------------------------------------------------------------------------
def test_connections_start_in_the_global_account(core):
    conn = quiet(core)
    assert conn.acc is core.global_account and conn.acc.name == GLOBAL_ACCOUNT == "$G"
    assert core.sublist is core.global_account.sublist
    feed(conn, b"SUB a 1\r\n")
    assert core.global_account.sublist.count == 1


def test_an_account_routes_only_within_itself(core):
    other = Account("other")
    in_global, in_other, publisher = quiet(core), quiet(core, other), quiet(core, other)
    feed(in_global, b"SUB a 1\r\n")
    feed(in_other, b"SUB a 2\r\n")
    assert (core.sublist.count, other.sublist.count) == (1, 1)
    feed(publisher, b"PUB a 1\r\nx\r\n")
    assert in_other.transport.data == b"MSG a 2 1\r\nx\r\n" and in_global.transport.data == b""
    feed(in_other, b"UNSUB 2\r\n")
    assert other.sublist.count == 0


def test_an_account_changes_only_before_subscribing(core):
    conn = quiet(core)
    feed(conn, b"SUB a 1\r\n")
    with pytest.raises(ValueError):
        conn.set_account(Account("late"))


def test_moving_account_forgets_the_publish_cache(core):
    other = Account("other")
    receiver, publisher = quiet(core), quiet(core)
    feed(receiver, b"SUB a 1\r\n")
    feed(publisher, b"PUB a 1\r\nx\r\n")          # the publisher's L1 cache now holds $G's result
    publisher.set_account(other)
    feed(publisher, b"PUB a 1\r\ny\r\n")
    assert receiver.transport.data == b"MSG a 1 1\r\nx\r\n"


# ---- permissions ---------------------------------------------------------------------------------
def test_permissions_follow_nats_server_rules():
    p = Permissions(publish_allow=["foo.>", "bar"], publish_deny=["foo.secret"],
                    subscribe_allow=["foo.*", "jobs workers"], subscribe_deny=["foo.hidden"])
    assert p.can_publish("foo.x") and p.can_publish("foo.x.y") and p.can_publish("bar")
    assert not p.can_publish("foo.secret") and not p.can_publish("baz") and not p.can_publish("foo")
    assert p.can_publish("foo.x")         # answered again from the cache
    assert p.can_subscribe("foo.x") and p.can_subscribe("foo.*") and not p.can_subscribe("foo.x.y")
    assert p.can_subscribe("foo.>")       # as nats-server: matched as a subject, '*' covers the '>' token
    assert not p.can_subscribe("foo.hidden") and not p.can_subscribe("bar")
    assert p.can_subscribe("jobs", "workers") and not p.can_subscribe("jobs", "others")
    assert not p.can_subscribe("jobs")    # the allow entry names a queue
    everything = Permissions()
    assert everything.can_publish("any.thing") and everything.can_subscribe(">", "q")


def test_a_connection_checks_its_permissions(core):
    receiver, publisher = quiet(core), quiet(core)
    assert publisher.perms is None                        # allow all: no check at all
    feed(receiver, b"SUB > 1\r\n")
    publisher.perms = Permissions(publish_deny=["secret"], subscribe_deny=["hidden"])
    assert feed(publisher, b"PUB secret 1\r\nx\r\nPUB open 1\r\ny\r\nSUB hidden 9\r\nPING\r\n") == b"PONG\r\n"
    assert receiver.transport.data == b"MSG open 1 1\r\ny\r\n"
    assert core.sublist.count == 1 and not publisher.closed


PERMS_CONFIG = """authorization { users = [{user: u, password: p, permissions: {
  publish: {deny: ["secret", "q.>"]}, subscribe: {allow: ["open.>", "jobs workers", "_INBOX.>"], deny: ["open.hidden"]}}}] }
"""
PERMS = dict(publish_deny=["secret", "q.>"], subscribe_allow=["open.>", "jobs workers", "_INBOX.>"],
             subscribe_deny=["open.hidden"])
VIOLATIONS = (b"SUB open.> 1\r\nPUB secret 2\r\nhi\r\nPUB q.x 2\r\nhi\r\nPUB open.a 2\r\nhi\r\n"
              b"SUB other 2\r\nSUB open.hidden 3\r\nSUB jobs 4\r\nSUB jobs others 5\r\nSUB jobs workers 6\r\n"
              b"PUB jobs 2\r\nhi\r\nSUB >\t7\r\n")
QUIET = b'{"verbose":false,"pedantic":false'
VERBOSE = b'{"verbose":true,"pedantic":false'


@pytest.mark.skipif("nats-server" not in selected_kinds(), reason="needs the reference nats-server")
@pytest.mark.parametrize("opts", [QUIET, VERBOSE], ids=["quiet", "verbose"])
async def test_permission_violations_are_answered_as_nats_server(tmp_path, opts):
    """Same SUBs and PUBs, same replies: nats-server configured with these permissions, natsx's
    kernel given the same ones (in process, as the config refuses them until they are enforced)."""
    ref = ServerProcess("nats-server", tmp_path).start(config=PERMS_CONFIG)
    try:
        with RawClient(ref.host, ref.port) as c:
            c.transact(b"CONNECT " + opts + b',"user":"u","pass":"p"}\r\n')
            expected = c.transact(VIOLATIONS)
    finally:
        ref.stop()
    assert b"Permissions Violation for Publish to \"secret\"" in expected
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            await reader.readline()                          # INFO
            writer.write(b"CONNECT " + opts + b"}\r\nPING\r\n")
            await reader.readuntil(b"PONG\r\n")
            (client,) = srv.registry
            client.perms = Permissions(**PERMS)
            writer.write(VIOLATIONS + b"PING\r\n")
            got = await asyncio.wait_for(reader.readuntil(b"PONG\r\n"), 5)
        finally:
            writer.close()
    assert got == expected + b"PONG\r\n"


# ---- batch ends ---------------------------------------------------------------------------------
def test_a_subscriber_gets_one_batch_end_per_read(core):
    counter = BatchCounter()
    core.sublist.insert(Subscription(b"a.*", b"1", counter))
    core.sublist.insert(Subscription(b"a.q", b"2", counter, b"workers"))
    publisher, watcher = quiet(core), quiet(core)
    feed(watcher, b"SUB a.* 1\r\n")
    feed(publisher, b"PUB a.1 1\r\nx\r\nPUB b 1\r\nx\r\nPUB a.2 1\r\nx\r\nPUB a.q 1\r\nx\r\n")
    assert counter.batches == [4]                            # a.1, a.2, a.q twice (plain and queue)
    feed(publisher, b"PUB b 1\r\nx\r\n")
    assert counter.batches == [4]                            # a batch that brought nothing: no call
    feed(publisher, b"PUB a.3 2\r\nhi\r\n")
    assert counter.batches == [4, 1]
    assert watcher.transport.data.count(b"MSG ") == 4       # client connections still flush per batch


def test_server_publish_is_a_batch(core):
    counter = BatchCounter()
    core.sublist.insert(Subscription(b"svc", b"1", counter))
    assert core.publish(b"svc", b"x") == 1 and core.publish(b"svc", b"y") == 1
    assert counter.batches == [1, 1] and counter.subjects == [b"svc", b"svc"]


async def test_batch_end_with_real_clients():
    async with natsx.Server(port=0, host="127.0.0.1") as srv:
        counter = BatchCounter()
        srv.sublist.insert(Subscription(b"ingest.>", b"1", counter))
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            await reader.readline()
            writer.write(b"CONNECT " + QUIET + b"}\r\n" + b"PUB ingest.x 1\r\nx\r\n" * 50 + b"PING\r\n")
            await asyncio.wait_for(reader.readuntil(b"PONG\r\n"), 5)
        finally:
            writer.close()
        assert sum(counter.batches) == 50 and all(n > 0 for n in counter.batches)
        assert counter.pending == 0
