"""The Redis Streams adapter (``RedisStreamsAdapter``, compatible with
``@socket.io/redis-streams-adapter`` 0.3) on one real redis-server: two fastsio nodes,
and a fastsio node with a Node socket.io node on the npm package, with socket.io-client
4.8 clients; broadcasts (rooms, except, binary, namespaces) through the stream, every
request type through pub/sub, both directions."""

from __future__ import annotations

from typing import Any

import pytest

import fastsio
from fastsio.adapters import RemoteSocket
from _member import b, node_member_marks

pytestmark = [pytest.mark.redis, *node_member_marks]


async def test_two_fastsio_nodes(streams_node: Any, node_member: Any) -> None:
    a, url_a = await streams_node()
    bb, url_b = await streams_node()
    node = await node_member()  # the clients only (its own node is on the classic adapter)
    sid1 = await node.connect("c1", url_a)
    sid2 = await node.connect("c2", url_b)
    a.of("/").sockets[sid1].join("room1")
    assert a.emit("all", "x", 1) == 1
    assert await node.wait_for("c1", "all") == [["all", "x", 1]]
    assert await node.wait_for("c2", "all") == [["all", "x", 1]]
    bb.to("room1").emit("r1", b"\x00\xff")
    assert await node.wait_for("c1", "r1") == [["r1", b(b"\x00\xff")]]
    assert await a.of("/").adapter.server_count() == 2
    found = await a.fetch_sockets()
    assert {s.id for s in found} == {sid1, sid2}
