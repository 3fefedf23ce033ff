"""Sharded mode (``RedisAdapter(mode="sharded")``, SPUBLISH/SSUBSCRIBE) beside a Node
node on ``createShardedAdapter``, in each subscription mode, on one real redis-server
(7.0): broadcasts both ways (rooms, except, binary, a socket id), fetchSockets,
serverSideEmit with acks, emitWithAck, socketsJoin/Leave, disconnectSockets, the server
count (SHARDNUMSUB), and the room channels a node subscribes."""

from __future__ import annotations

from typing import Any

import pytest

from _member import b
from _member import node_member_marks
from test_cluster_requests import until

pytestmark = [pytest.mark.redis, *node_member_marks]


@pytest.mark.parametrize("mode", ["dynamic", "dynamic-private", "static"])
async def test_sharded_cluster(fastsio_node: Any, node_member: Any, mode: str, redis_url: str, key: str) -> None:
    import redis.asyncio as aioredis

    server, url = await fastsio_node(sharded=mode)
    node = await node_member(sharded=mode)
    ns = server.of("/")
    assert await ns.adapter.server_count() == 2
    assert await node.eval("return await ctx.io.of('/').adapter.serverCount()") == 2
    sid_c1 = await node.connect("c1", url)
    sid_c2 = await node.connect("c2", url)
    sid_n1 = await node.connect("n1", node.url)
    await node.connect("n2", node.url)
    ns.sockets[sid_c1].join("room1")
    await node.eval("ctx.io.of('/').sockets.get(args.sid).join('room1')", sid=sid_n1)

    # the room channels this node subscribes
    client = aioredis.Redis.from_url(redis_url)
    channels = {c.decode() for c in await client.pubsub_shardchannels(f"{key}*")}
    await client.aclose()
    assert f"{key}#/#" in channels and f"{key}#/#{ns.adapter.uid}#" in channels
    assert (f"{key}#/#room1#" in channels) == (mode != "static")
    assert (f"{key}#/#{sid_c1}#" in channels) == (mode == "dynamic-private")

    # broadcasts both ways
    server.emit("all", "py", b"\x01\x02")
    await node.eval("ctx.io.emit('all', 'node', Buffer.from([3]))")
    for name in ("c1", "c2", "n1", "n2"):
        got = await node.wait_for(name, "all", 2)
        assert sorted(map(tuple, got)) == [("all", "node", b(b"\x03")), ("all", "py", b(b"\x01\x02"))]
    server.to("room1").emit("r1", "py")
    await node.eval("ctx.io.to('room1').emit('r1', 'node')")
    server.to(sid_n1).emit("direct", "py")
    await node.eval("ctx.io.to(args.sid).emit('direct', 'node')", sid=sid_c2)
    server.except_("room1").emit("ex", "py")
    await node.eval("ctx.io.except('room1').emit('ex', 'node')")
    for name in ("c1", "n1"):
        assert sorted(e[1] for e in await node.wait_for(name, "r1", 2)) == ["node", "py"]
    assert await node.wait_for("n1", "direct") == [["direct", "py"]]
    assert await node.wait_for("c2", "direct") == [["direct", "node"]]
    for name in ("c2", "n2"):
        assert sorted(e[1] for e in await node.wait_for(name, "ex", 2)) == ["node", "py"]
    server.emit("marker")
    for name in ("c1", "c2", "n1", "n2"):
        await node.wait_for(name, "marker")
    for name in ("c2", "n2"):
        assert await node.events(name, "r1") == []
    for name in ("c1", "n1"):
        assert await node.events(name, "ex") == []

    # requests both ways
    assert {s.id for s in await server.fetch_sockets()} == {sid_c1, sid_c2, sid_n1, *[
        s for s in await node.eval("return [...ctx.io.of('/').sockets.keys()]")]}
    assert {s.id for s in await server.in_("room1").fetch_sockets()} == {sid_c1, sid_n1}
    assert len(await node.eval("return (await ctx.io.fetchSockets()).map(s => s.id)")) == 4
    server.on_server_side("ping-srv", lambda n: {"pong": "py", "n": n})
    await node.eval("ctx.io.on('ping-srv', (n, cb) => cb({pong: 'node', n}))")
    assert await server.server_side_emit_with_ack("ping-srv", 1) == [{"pong": "node", "n": 1}]
    assert await node.eval("return await ctx.io.serverSideEmitWithAck('ping-srv', 2)") == [{"pong": "py", "n": 2}]
    assert len(await server.timeout(5).emit_with_ack("ask")) == 4
    assert len(await node.eval("return await ctx.io.timeout(5000).emitWithAck('ask')")) == 4
    assert sorted(await server.to("room1").timeout(5).emit_with_ack("ask")) == ["ack-from-c1", "ack-from-n1"]

    # socketsJoin both ways (a room joined here gets its channel in the dynamic modes)
    server.in_(sid_n1).sockets_join("joined-by-py")
    await until(lambda: node.eval("return ctx.io.of('/').sockets.get(args.sid).rooms.has('joined-by-py')",
                                  sid=sid_n1))
    await node.eval("ctx.io.socketsJoin('joined-by-node')")
    await until(lambda: "joined-by-node" in ns.sockets[sid_c2].rooms)
    await node.eval("ctx.io.to('joined-by-node').emit('jn', 1)")
    for name in ("c1", "c2", "n1", "n2"):
        await node.wait_for(name, "jn")
    server.in_("joined-by-node").sockets_leave("joined-by-node")
    await until(lambda: node.eval("return !ctx.io.of('/').adapter.rooms.has('joined-by-node')"))
    # disconnect both ways
    await node.eval("ctx.io.in(args.sid).disconnectSockets()", sid=sid_c2)
    await until(lambda: sid_c2 not in ns.sockets)
    server.in_(sid_n1).disconnect_sockets()
    await until(lambda: node.eval("return !ctx.client('n1').connected"))
