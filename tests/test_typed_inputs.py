"""The protocols the seams are typed by (natsx.client.ClientHost, natsx.registry.RegisteredConnection,
natsx.monitor.inputs.MonitoredServer/MonitoredClient) are met by the real Server and Client: nothing
type-checks natsx in CI, so a member renamed on one side would otherwise surface as an
AttributeError in production."""
from __future__ import annotations

import typing

import nats

import natsx
from natsx.client import ClientHost
from natsx.monitor.inputs import MonitoredClient, MonitoredServer
from natsx.registry import RegisteredConnection
from tests.conftest import wait_until


def _members(protocol: type) -> set[str]:
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass is typing.Protocol or klass is typing.Generic or klass is object:
            continue
        names.update(getattr(klass, "__annotations__", {}))
        names.update(n for n, v in vars(klass).items()
                     if not n.startswith("_") and (callable(v) or isinstance(v, property)))
    return names


def _missing(obj: object, protocol: type) -> set[str]:
    return {name for name in _members(protocol) if not hasattr(obj, name)}


async def test_server_and_client_meet_the_protocols():
    async with natsx.Server(host="127.0.0.1", port=0, http_port=-1) as server:
        nc = await nats.connect(server.client_url, name="typed")
        try:
            await wait_until(lambda: len(server.registry) == 1, what="client registered")
            (client,) = list(server.registry)
            assert _members(ClientHost) >= {"registry", "options", "info_for"}
            assert _members(MonitoredClient) >= {"sink", "account", "pending_bytes"}
            assert _missing(server, ClientHost) == set()
            assert _missing(server, MonitoredServer) == set()
            assert _missing(client, RegisteredConnection) == set()
            assert _missing(client, MonitoredClient) == set()
        finally:
            await nc.close()
