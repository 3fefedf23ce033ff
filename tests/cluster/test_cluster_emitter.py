"""Emitters: Node's ``@socket.io/redis-emitter`` 5 to fastsio (and Node) clients, and
fastsio's :class:`fastsio.Emitter` to Node (and fastsio) clients, on one real
redis-server: rooms, except, namespaces, binary, socketsJoin/Leave,
disconnectSockets, serverSideEmit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import fastsio
from _member import b
from _member import node_member_marks
from test_cluster_requests import until

pytestmark = [pytest.mark.redis, *node_member_marks]


async def _cluster(fastsio_node: Any, node_member: Any) -> Any:
    server, url = await fastsio_node(namespaces=("/chat",))
    node = await node_member(namespaces=("/", "/chat"))
    sids = {}
    for name, where, nsp in (("c1", url, "/"), ("c2", url, "/"), ("n1", node.url, "/"), ("n2", node.url, "/"),
                             ("cc", url, "/chat"), ("nc", node.url, "/chat")):
        sids[name] = await node.connect(name, where, nsp=nsp)
    ns = server.of("/")
    ns.sockets[sids["c1"]].join("room1")
    ns.sockets[sids["c2"]].join("room2")
    server.of("/chat").sockets[sids["cc"]].join("chatroom")
    await node.eval("ctx.io.of('/').sockets.get(args.n1).join('room1');"
                    " ctx.io.of('/').sockets.get(args.n2).join('room2');"
                    " ctx.io.of('/chat').sockets.get(args.nc).join('chatroom');", n1=sids["n1"], n2=sids["n2"],
                    nc=sids["nc"])
    return server, node, sids


async def _check_deliveries(server: fastsio.Server, node: Any, sids: dict[str, str], emit: Any) -> None:
    await emit("all", ["em-all", "x", 42])
    await emit("room1", ["em-r1", "x"])
    await emit("room1-except-room2", ["em-r1x", "x"])
    await emit("chat", ["em-chat", "y"])
    await emit("bin", ["em-bin", b"\xca\xfe"])
    for name in ("c1", "c2", "n1", "n2"):
        assert await node.wait_for(name, "em-all") == [["em-all", "x", 42]]
        assert await node.wait_for(name, "em-bin") == [["em-bin", b(b"\xca\xfe")]]
    for name in ("c1", "n1"):
        assert await node.wait_for(name, "em-r1") == [["em-r1", "x"]]
        assert await node.wait_for(name, "em-r1x") == [["em-r1x", "x"]]
    for name in ("cc", "nc"):
        assert await node.wait_for(name, "em-chat") == [["em-chat", "y"]]
    for name in ("c2", "n2"):
        assert await node.events(name, "em-r1") == []
    for name in ("c1", "c2", "n1", "n2"):
        assert await node.events(name, "em-chat") == []
    for name in ("cc", "nc"):
        assert await node.events(name, "em-all") == []

    # socketsJoin / socketsLeave / disconnectSockets
    ns = server.of("/")
    await emit("join", ["room1", "room9"])
    await until(lambda: "room9" in ns.sockets[sids["c1"]].rooms)
    await until(lambda: node.eval("return ctx.io.of('/').sockets.get(args.sid).rooms.has('room9')", sid=sids["n1"]))
    assert "room9" not in ns.sockets[sids["c2"]].rooms
    await emit("leave", ["room1", "room9"])
    await until(lambda: "room9" not in ns.sockets[sids["c1"]].rooms)
    await until(lambda: node.eval("return !ctx.io.of('/').sockets.get(args.sid).rooms.has('room9')", sid=sids["n1"]))
    await emit("disconnect", ["room2"])
    await until(lambda: sids["c2"] not in ns.sockets)
    await until(lambda: node.eval("return !ctx.client('n2').connected"))
    assert sids["c1"] in ns.sockets


async def test_node_emitter_to_both(fastsio_node: Any, node_member: Any) -> None:
    server, node, sids = await _cluster(fastsio_node, node_member)
    got: list[Any] = []
    server.on_server_side("em-srv", lambda *args: got.append(args))

    async def emit(what: str, data: list[Any]) -> None:
        args = {"data": data if what != "bin" else data[:1]}
        code = {
            "all": "await ctx.emitter.emit(...args.data)",
            "room1": "await ctx.emitter.to('room1').emit(...args.data)",
            "room1-except-room2": "await ctx.emitter.to('room1').except('room2').emit(...args.data)",
            "chat": "await ctx.emitter.of('/chat').to('chatroom').emit(...args.data)",
            "bin": "await ctx.emitter.emit(args.data[0], Buffer.from('cafe', 'hex'))",
            "join": "await ctx.emitter.in(args.data[0]).socketsJoin(args.data[1])",
            "leave": "await ctx.emitter.in(args.data[0]).socketsLeave(args.data[1])",
            "disconnect": "await ctx.emitter.in(args.data[0]).disconnectSockets()",
        }[what]
        await node.eval(code, **args)

    await _check_deliveries(server, node, sids, emit)
    await node.eval("await ctx.emitter.serverSideEmit('em-srv', 'x')")
    await until(lambda: got == [("x",)])


async def test_fastsio_emitter_to_both(fastsio_node: Any, node_member: Any, redis_url: str, key: str) -> None:
    server, node, sids = await _cluster(fastsio_node, node_member)
    emitter = fastsio.Emitter(redis_url, key=key)
    try:
        async def emit(what: str, data: list[Any]) -> None:
            if what == "all":
                await emitter.emit(*data)
            elif what == "room1":
                await emitter.to("room1").emit(*data)
            elif what == "room1-except-room2":
                await emitter.to("room1").except_("room2").emit(*data)
            elif what == "chat":
                await emitter.of("/chat").to("chatroom").emit(*data)
            elif what == "bin":
                await emitter.emit(*data)
            elif what == "join":
                await emitter.in_(data[0]).sockets_join(data[1])
            elif what == "leave":
                await emitter.in_(data[0]).sockets_leave(data[1])
            elif what == "disconnect":
                await emitter.in_(data[0]).disconnect_sockets()

        await _check_deliveries(server, node, sids, emit)
        got: list[Any] = []
        server.on_server_side("em-srv", lambda *args: got.append(args))
        await node.eval("ctx.srv = []; ctx.io.on('em-srv', (...a) => ctx.srv.push(a))")
        await emitter.server_side_emit("em-srv", "x", {"y": 1})
        await until(lambda: got == [("x", {"y": 1})])
        await until(lambda: node.eval("return ctx.srv.length === 1"))
        assert await node.eval("return ctx.srv") == [["x", {"y": 1}]]
        # an emitter never subscribes: it is not a node
        assert await server.of("/").adapter.server_count() == 2
        with pytest.raises(ValueError):
            await emitter.emit("connect")
    finally:
        await emitter.close()
