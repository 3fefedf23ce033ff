"""Cluster requests across a mixed cluster (a fastsio node and a Node socket.io node
on ``@socket.io/redis-adapter`` 8.3, one real redis-server), both directions:
fetchSockets (and what a RemoteSocket does), serverSideEmit with and without acks,
broadcast emitWithAck with the client count, socketsJoin/Leave, disconnectSockets,
allRooms, the server count, and the request timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import fastsio
from fastsio.adapters import RemoteSocket
from _member import node_member_marks

pytestmark = [pytest.mark.redis, *node_member_marks]


async def until(check: Any, timeout: float = 5.0) -> None:
    """Wait until ``check()`` (sync or async) is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_server_count_and_all_rooms(fastsio_node: Any, node_member: Any) -> None:
    server, url = await fastsio_node()
    node = await node_member()
    assert await server.of("/").adapter.server_count() == 2
    assert await node.eval("return await ctx.io.of('/').adapter.serverCount()") == 2
    sid_c = await node.connect("c1", url)
    sid_n = await node.connect("n1", node.url)
    server.of("/").sockets[sid_c].join("py-room")
    await node.eval("ctx.io.of('/').sockets.get(args.sid).join('node-room')", sid=sid_n)
    assert await server.of("/").adapter.all_rooms() == {sid_c, "py-room", sid_n, "node-room"}
    rooms = await node.eval("return [...await ctx.io.of('/').adapter.allRooms()]")
    assert set(rooms) == {sid_c, "py-room", sid_n, "node-room"}


async def test_fetch_sockets_both_sides(fastsio_node: Any, node_member: Any) -> None:
    server, url = await fastsio_node()
    node = await node_member()

    @server.on("connect")
    def connect(socket: fastsio.Socket, auth: Any) -> None:
        socket.data = {"name": auth.get("name"), "server": "py"}
        socket.join("room1")

    await node.eval("ctx.io.on('connection', (s) => { s.data = {name: s.handshake.auth.name, server: 'node'};"
                    " s.join('room1'); if (s.handshake.auth.name === 'n2') s.join('room2'); })")
    sid_c1 = await node.connect("c1", url, auth={"name": "c1"})
    sid_n1 = await node.connect("n1", node.url, auth={"name": "n1"})
    sid_n2 = await node.connect("n2", node.url, auth={"name": "n2"})

    found = await server.fetch_sockets()
    assert {s.id for s in found} == {sid_c1, sid_n1, sid_n2}
    remote = {s.id: s for s in found if isinstance(s, RemoteSocket)}
    assert set(remote) == {sid_n1, sid_n2}
    n2 = remote[sid_n2]
    assert n2.data == {"name": "n2", "server": "node"}
    assert n2.rooms == {sid_n2, "room1", "room2"}
    assert n2.handshake["auth"] == {"name": "n2"}
    assert n2.handshake["query"]["EIO"] == "4"
    # in / except
    assert {s.id for s in await server.in_("room1").except_("room2").fetch_sockets()} == {sid_c1, sid_n1}
    assert {s.id for s in await server.local.fetch_sockets()} == {sid_c1}

    # Node's fetchSockets sees the fastsio socket as Node describes its own
    described = await node.eval(
        "return (await ctx.io.fetchSockets()).map(s => ({id: s.id, data: s.data, rooms: [...s.rooms],"
        " auth: s.handshake.auth, query: s.handshake.query, issued: typeof s.handshake.issued}))")
    mine = [d for d in described if d["id"] == sid_c1]
    assert mine == [{"id": sid_c1, "data": {"name": "c1", "server": "py"}, "rooms": [sid_c1, "room1"],
                     "auth": {"name": "c1"}, "query": mine[0]["query"], "issued": "number"}]
    assert mine[0]["query"]["EIO"] == "4"
    assert {d["id"] for d in described} == {sid_c1, sid_n1, sid_n2}
    assert await node.eval("return (await ctx.io.in('room2').fetchSockets()).map(s => s.id)") == [sid_n2]

    # a RemoteSocket from fastsio acts on the Node client ...
    n2.emit("hi", "from-py", b"\x01")
    n2.join("joined-by-py")
    await node.wait_for("n2", "hi")
    await until(lambda: node.eval("return ctx.io.of('/').sockets.get(args.sid).rooms.has('joined-by-py')", sid=sid_n2))
    n2.leave("room2")
    await until(lambda: node.eval("return !ctx.io.of('/').sockets.get(args.sid).rooms.has('room2')", sid=sid_n2))
    # ... and Node's RemoteSocket on the fastsio one
    await node.eval("const [s] = (await ctx.io.fetchSockets()).filter(s => s.id === args.sid);"
                    " s.emit('hi', 'from-node'); s.join('joined-by-node');", sid=sid_c1)
    assert await node.wait_for("c1", "hi") == [["hi", "from-node"]]
    await until(lambda: "joined-by-node" in server.of("/").sockets[sid_c1].rooms)
    n2.disconnect()
    await until(lambda: node.eval("return !ctx.client('n2').connected"))
    await node.eval("const [s] = (await ctx.io.fetchSockets()).filter(s => s.id === args.sid); s.disconnect();",
                    sid=sid_c1)
    await until(lambda: sid_c1 not in server.of("/").sockets)


async def test_server_side_emit_both_ways(fastsio_node: Any, node_member: Any) -> None:
    server, _ = await fastsio_node()
    node = await node_member()
    got: list[Any] = []

    @server.on_server_side("hello-srv")
    def hello(*args: Any) -> None:
        got.append(args)

    @server.on_server_side("ping-srv")
    async def ping(n: int) -> Any:
        await asyncio.sleep(0)
        return {"pong": "py", "n": n}

    await node.eval("ctx.got = []; ctx.io.on('hello-srv', (...a) => ctx.got.push(a));"
                    " ctx.io.on('ping-srv', (n, cb) => cb({pong: 'node', n}));")
    # Node -> fastsio
    await node.eval("ctx.io.serverSideEmit('hello-srv', 'x', {y: 1})")
    await until(lambda: got == [("x", {"y": 1})])
    assert await node.eval("return await ctx.io.serverSideEmitWithAck('ping-srv', 7)") == [{"pong": "py", "n": 7}]
    # fastsio -> Node
    server.server_side_emit("hello-srv", "z", [1, 2])
    await until(lambda: node.eval("return ctx.got.length === 1"))
    assert await node.eval("return ctx.got") == [["z", [1, 2]]]
    assert await server.server_side_emit_with_ack("ping-srv", 8) == [{"pong": "node", "n": 8}]
    # not to ourselves
    assert got == [("x", {"y": 1})]


async def test_emit_with_ack_across_both(fastsio_node: Any, node_member: Any) -> None:
    server, url = await fastsio_node()
    node = await node_member()
    sids = {}
    for name, where in (("c1", url), ("c2", url), ("n1", node.url)):
        sids[name] = await node.connect(name, where)
    replies = await server.timeout(5).emit_with_ack("ask", "q", b"\x09")
    assert sorted(replies) == ["ack-from-c1", "ack-from-c2", "ack-from-n1"]
    # without a timeout: bounded by requests_timeout, complete once every reply is in
    assert sorted(await server.emit_with_ack("ping")) == ["ack-from-c1", "ack-from-c2", "ack-from-n1"]
    replies = await node.eval("return await ctx.io.timeout(5000).emitWithAck('ask', 'q2')")
    assert sorted(replies) == ["ack-from-c1", "ack-from-c2", "ack-from-n1"]
    for name in ("c1", "c2", "n1"):
        assert [e[1] for e in await node.events(name, "ask")] == ["q", "q2"]
    assert (await node.events("c1", "ask"))[0] == ["ask", "q", {"$bin": "CQ=="}]
    # nobody selected on one side: still complete (the other counts 0)
    server.of("/").sockets[sids["c2"]].join("solo")
    assert await server.to("solo").timeout(5).emit_with_ack("ask", "solo") == ["ack-from-c2"]
    assert await node.eval("return await ctx.io.to('solo').timeout(5000).emitWithAck('ask', 's')") == ["ack-from-c2"]
    assert await node.eval("return await ctx.io.to('nobody').timeout(5000).emitWithAck('ask', 'x')") == []


async def test_sockets_join_leave_disconnect_both_ways(fastsio_node: Any, node_member: Any) -> None:
    server, url = await fastsio_node()
    node = await node_member()
    sid_c1 = await node.connect("c1", url)
    sid_c2 = await node.connect("c2", url)
    sid_n1 = await node.connect("n1", node.url)
    ns = server.of("/")
    node_rooms = "return [...ctx.io.of('/').sockets.get(args.sid).rooms].sort()"

    # fastsio -> both
    server.sockets_join("room3")
    assert "room3" in ns.sockets[sid_c1].rooms  # applied here at once
    await until(lambda: node.eval("return ctx.io.of('/').sockets.get(args.sid).rooms.has('room3')", sid=sid_n1))
    server.in_(sid_n1).sockets_join(["room4", "room5"])
    await until(lambda: node.eval("return ctx.io.of('/').sockets.get(args.sid).rooms.has('room5')", sid=sid_n1))
    server.in_("room3").except_(sid_c2).sockets_leave("room3")
    await until(lambda: node.eval("return !ctx.io.of('/').sockets.get(args.sid).rooms.has('room3')", sid=sid_n1))
    assert ns.sockets[sid_c1].rooms == {sid_c1}
    assert ns.sockets[sid_c2].rooms == {sid_c2, "room3"}
    assert await node.eval(node_rooms, sid=sid_n1) == sorted([sid_n1, "room4", "room5"])
    # Node -> both
    await node.eval("ctx.io.in('room4').socketsJoin('from-node')")
    await node.eval("ctx.io.socketsJoin('all-node')")
    await until(lambda: "all-node" in ns.sockets[sid_c1].rooms and "all-node" in ns.sockets[sid_c2].rooms)
    assert "from-node" not in ns.sockets[sid_c1].rooms
    await node.eval("ctx.io.except('room3').socketsLeave('all-node')")
    await until(lambda: "all-node" not in ns.sockets[sid_c1].rooms)
    assert "all-node" in ns.sockets[sid_c2].rooms
    # disconnect: Node -> fastsio, then fastsio -> Node
    await node.eval("ctx.io.in('room3').disconnectSockets()")
    await until(lambda: sid_c2 not in ns.sockets)
    assert sid_c1 in ns.sockets
    server.in_("room5").disconnect_sockets(True)
    await until(lambda: node.eval("return !ctx.client('n1').connected"))
    assert sid_c1 in ns.sockets


async def test_request_timeouts(fastsio_node: Any, node_member: Any, redis_url: str, key: str) -> None:
    """A member that never answers (a bare subscriber to the request channel) counts as
    a node: fastsio's requests fail at requests_timeout, without blocking anything else;
    Node's requests to the cluster still get fastsio's answers (and time out likewise)."""
    import redis.asyncio as aioredis

    server, url = await fastsio_node(requests_timeout=0.5)
    node = await node_member(requests_timeout=500)
    silent = aioredis.Redis.from_url(redis_url)
    pubsub = silent.pubsub()
    await pubsub.subscribe(f"{key}-request#/#")
    try:
        assert await server.of("/").adapter.server_count() == 3
        await node.connect("c1", url)
        with pytest.raises(fastsio.AckTimeout) as info:
            await server.fetch_sockets()
        assert "fetchSockets" in str(info.value)
        with pytest.raises(fastsio.AckTimeout) as info2:
            await server.server_side_emit_with_ack("nobody-handles-it")
        assert info2.value.replies == []
        with pytest.raises(fastsio.AckTimeout) as info3:
            await server.timeout(0.5).emit_with_ack("ask")
        assert sorted(info3.value.replies) == ["ack-from-c1"]
        # meanwhile broadcasts flow
        server.emit("still", 1)
        await node.wait_for("c1", "still")
        error = await node.eval("try { await ctx.io.fetchSockets(); return 'no error' } catch (e) { return e.message }")
        assert "timeout" in error
    finally:
        await pubsub.aclose()
        await silent.aclose()
    # the silent member left: everything completes again
    assert await server.of("/").adapter.server_count() == 2
    assert len(await server.fetch_sockets()) == 1


@pytest.mark.parametrize("side", ["node", "fastsio"])
async def test_specific_response_channels(fastsio_node: Any, node_member: Any, side: str) -> None:
    """``publishOnSpecificResponseChannel`` on one side: the answers come on the
    requester's own channel (serverSideEmit acks still on the shared one)."""
    server, url = await fastsio_node(specific_responses=side == "fastsio")
    node = await node_member(specific_responses=side == "node")
    server.on_server_side("ping-srv", lambda n: {"pong": "py", "n": n})
    await node.eval("ctx.io.on('ping-srv', (n, cb) => cb({pong: 'node', n}))")
    sid_c = await node.connect("c1", url)
    sid_n = await node.connect("n1", node.url)
    assert {s.id for s in await server.fetch_sockets()} == {sid_c, sid_n}
    assert set(await node.eval("return (await ctx.io.fetchSockets()).map(s => s.id)")) == {sid_c, sid_n}
    assert await server.of("/").adapter.all_rooms() == {sid_c, sid_n}
    assert set(await node.eval("return [...await ctx.io.of('/').adapter.allRooms()]")) == {sid_c, sid_n}
    assert await server.server_side_emit_with_ack("ping-srv", 1) == [{"pong": "node", "n": 1}]
    assert await node.eval("return await ctx.io.serverSideEmitWithAck('ping-srv', 2)") == [{"pong": "py", "n": 2}]
    assert sorted(await server.timeout(5).emit_with_ack("ask")) == ["ack-from-c1", "ack-from-n1"]
    assert sorted(await node.eval("return await ctx.io.timeout(5000).emitWithAck('ask')")) == [
        "ack-from-c1", "ack-from-n1"]
