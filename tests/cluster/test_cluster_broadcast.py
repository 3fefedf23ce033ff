"""Broadcasts across a mixed cluster: a fastsio node and a Node socket.io node
(``@socket.io/redis-adapter`` 8.3) on one real redis-server, with socket.io-client 4.8
clients on each; both directions, rooms, except, binary, namespaces, the per-room
channel; ``local`` stays on its node."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from _member import b
from _member import node_member_marks

pytestmark = [pytest.mark.redis, *node_member_marks]


async def test_broadcasts_both_ways(fastsio_node: Any, node_member: Any) -> None:
    server, url = await fastsio_node()
    node = await node_member()
    # clients: c1/c2 on fastsio, n1/n2 on Node
    sid_c1 = await node.connect("c1", url)
    await node.connect("c2", url)
    sid_n1 = await node.connect("n1", node.url)
    await node.connect("n2", node.url)
    server.of("/").sockets[sid_c1].join("room1")
    await node.eval("ctx.io.of('/').sockets.get(args.sid).join('room1')", sid=sid_n1)

    # fastsio -> everyone
    assert server.emit("all", "hello", 1, 2.5, True, None, {"k": "v"}, [1, 2]) == 2
    for name in ("c1", "c2", "n1", "n2"):
        assert await node.wait_for(name, "all") == [["all", "hello", 1, 2.5, True, None, {"k": "v"}, [1, 2]]]
    # Node -> everyone, binary included
    await node.eval("ctx.io.emit('bin', Buffer.from([1, 2, 3, 255]), {nested: Buffer.from('hi')})")
    for name in ("c1", "c2", "n1", "n2"):
        assert await node.wait_for(name, "bin") == [["bin", b(b"\x01\x02\x03\xff"), {"nested": b(b"hi")}]]
    # fastsio binary -> Node clients
    server.emit("pybin", b"\x00\xfe", {"x": b"yz"})
    for name in ("c1", "c2", "n1", "n2"):
        assert await node.wait_for(name, "pybin") == [["pybin", b(b"\x00\xfe"), {"x": b(b"yz")}]]
    # one room (the room channel), both ways
    server.to("room1").emit("r1", "from-py")
    await node.eval("ctx.io.to('room1').emit('r1', 'from-node')")
    for name in ("c1", "n1"):
        got = await node.wait_for(name, "r1", 2)
        assert sorted(e[1] for e in got) == ["from-node", "from-py"]
    # except, both ways
    server.except_("room1").emit("ex", "py")
    await node.eval("ctx.io.except('room1').emit('ex', 'node')")
    for name in ("c2", "n2"):
        got = await node.wait_for(name, "ex", 2)
        assert sorted(e[1] for e in got) == ["node", "py"]
    # a socket id is a room: fastsio -> a Node client, Node -> a fastsio client
    server.to(sid_n1).emit("direct", "to-n1")
    await node.eval("ctx.io.to(args.sid).emit('direct', 'to-c1')", sid=sid_c1)
    assert await node.wait_for("n1", "direct") == [["direct", "to-n1"]]
    assert await node.wait_for("c1", "direct") == [["direct", "to-c1"]]
    # local: this node only
    server.local.emit("loc", "py")
    await node.eval("ctx.io.local.emit('loc', 'node')")
    await node.wait_for("c1", "loc")
    await node.wait_for("n1", "loc")
    # a marker broadcast after them: by then a stray one would have arrived
    server.emit("marker")
    for name in ("c1", "c2", "n1", "n2"):
        await node.wait_for(name, "marker")
    for name, want in (("c1", "py"), ("c2", "py"), ("n1", "node"), ("n2", "node")):
        assert await node.events(name, "loc") == [["loc", want]]
    for name in ("c1", "n1"):
        assert await node.events(name, "ex") == []
    for name in ("c2", "n2"):
        assert await node.events(name, "r1") == []
        assert await node.events(name, "direct") == []


async def test_recovery_offsets_on_remote_broadcasts(fastsio_node: Any, node_member: Any) -> None:
    """With connection state recovery on, a broadcast from another node gets an offset
    here, as a local one does (socket.io-client keeps it as its last offset); volatile
    ones do not."""
    server, url = await fastsio_node(connection_state_recovery={"max_disconnection_duration": 60})
    node = await node_member()
    await node.connect("c1", url)
    await node.eval("ctx.io.emit('remote', 1)")
    (remote,) = await node.wait_for("c1", "remote")
    server.emit("local", 2)  # after the remote one arrived: the last offset is this one's
    (local,) = await node.wait_for("c1", "local")
    assert remote[1] == 1 and isinstance(remote[2], str)
    assert local[1] == 2 and isinstance(local[2], str)
    assert await node.eval("return ctx.client('c1')._lastOffset") == local[2]
    await node.eval("ctx.io.volatile.emit('vol', 3)")
    assert await node.wait_for("c1", "vol") == [["vol", 3]]
