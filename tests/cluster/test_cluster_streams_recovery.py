"""Connection state recovery across the nodes of a Redis Streams cluster: a
socket.io-client 4.8 client drops from one node and reconnects to another, which gives
it back its id, rooms and data and every packet it missed, once, in order (the stream
ids are the offsets; the session is kept in Redis under ``<prefix><pid>``): between
two fastsio nodes, from fastsio to a Node node on ``@socket.io/redis-streams-adapter``
0.3.1 and back; and what is not recovered (an unknown session, an offset trimmed away,
a session that does not decode)."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

import fastsio
from _member import node_member_marks

pytestmark = [pytest.mark.redis, *node_member_marks]

RECOVERY = {"max_disconnection_duration": 60}


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


class Side:
    """One node of the test, fastsio or Node, behind the same few operations."""

    def __init__(self, url: str, server: fastsio.Server | None = None, node: Any = None) -> None:
        self.url = url
        self.server = server
        self.node = node

    async def emit(self, event: str, *args: Any, to: str | None = None, except_: str | None = None) -> None:
        if self.server is not None:
            op: Any = self.server.of("/")
            if to is not None:
                op = op.to(to)
            if except_ is not None:
                op = op.except_(except_)
            op.emit(event, *args)
            return
        code = "let op = ctx.io; if (args.to) op = op.to(args.to); if (args.ex) op = op.except(args.ex);" \
               " op.emit(args.event, ...args.args);"
        await self.node.eval(code, event=event, args=list(args), to=to, ex=except_)

    async def socket_emit(self, sid: str, event: str, *args: Any) -> None:
        """A socket-level emit (through the stream with recovery on, as Node's)."""
        if self.server is not None:
            self.server.of("/").sockets[sid].emit(event, *args)
            return
        await self.node.eval("ctx.io.of('/').sockets.get(args.sid).emit(args.event, ...args.args)",
                             sid=sid, event=event, args=list(args))

    async def rooms(self, sid: str) -> set[str]:
        if self.server is not None:
            return set(self.server.of("/").sockets[sid].rooms)
        return set(await self.node.eval("return [...ctx.io.of('/').sockets.get(args.sid).rooms]", sid=sid))

    async def data(self, sid: str) -> Any:
        if self.server is not None:
            return self.server.of("/").sockets[sid].data
        return await self.node.eval("return ctx.io.of('/').sockets.get(args.sid).data", sid=sid)


async def _fastsio_side(streams_node: Any) -> Side:
    server, url = await streams_node(connection_state_recovery=RECOVERY)

    @server.on("connect")
    def connect(socket: fastsio.Socket, auth: Any) -> None:
        if auth.get("join"):
            socket.data = {"name": auth.get("name"), "server": "py"}
            socket.join("r")

    return Side(url, server=server)


async def _node_side(node_member: Any) -> Side:
    node = await node_member(streams=True, recovery=60000)
    await node.eval("ctx.io.on('connection', (s) => { if (s.handshake.auth.join) {"
                    " s.data = {name: s.handshake.auth.name, server: 'node'}; s.join('r'); } })")
    return Side(node.url, node=node)


async def _sides(kind: str, streams_node: Any, node_member: Any) -> tuple[Side, Side]:
    make: dict[str, Callable[[], Awaitable[Side]]] = {
        "fastsio": lambda: _fastsio_side(streams_node), "node": lambda: _node_side(node_member)}
    origin, target = kind.split("->")
    return await make[origin](), await make[target]()


@pytest.mark.parametrize("kind", ["fastsio->fastsio", "fastsio->node", "node->fastsio"])
async def test_recovered_on_another_node(
    kind: str, streams_node: Any, node_member: Any, redis_url: str, key: str
) -> None:
    origin, target = await _sides(kind, streams_node, node_member)
    clients = await node_member(clients_only=True)
    sid = await clients.connect("c1", origin.url, auth={"join": True, "name": "c1"})
    # a watcher in the same room on the other node: what it gets tells the stream's order
    await clients.connect("w", target.url, auth={"join": True, "name": "w"})
    await origin.socket_emit(sid, "first", 0)
    (first,) = await clients.wait_for("c1", "first")
    assert isinstance(first[-1], str) and first[-1].count("-") == 1  # a stream id
    pid = await clients.eval("return ctx.client('c1')._pid")

    # it drops (the transport closes: a recoverable reason); the session goes to Redis
    await clients.eval("ctx.client('c1').io.engine.close()")
    redis = aioredis.Redis.from_url(redis_url)
    try:
        await until(lambda: redis.exists(f"{key}:session:{pid}"))
    finally:
        await redis.aclose()

    # what it misses, from both nodes; each waited for by the watcher, so the order is known
    sent = [
        (origin, "m", 1, None, None),
        (target, "m", 2, "r", None),
        (origin, "no", 3, "elsewhere", None),
        (target, "no", 4, None, "r"),
        (origin, "m", 5, "r", None),
        (target, "m", 6, None, None),
    ]
    for n, (side, event, value, to, except_) in enumerate(sent):
        await side.emit(event, value, to=to, except_=except_)
        if event == "m":
            await clients.wait_for("w", "m", sum(1 for s in sent[: n + 1] if s[1] == "m"))
        else:
            await side.emit("tick", value)  # a packet the watcher gets after the one it must not
            await clients.wait_for("w", "tick", sum(1 for s in sent[: n + 1] if s[1] == "no"))

    # back, on the other node, with its private id and last offset
    again = await clients.connect("c1b", target.url, recover="c1")
    assert again == sid
    assert await clients.eval("return ctx.client('c1b').recovered") is True
    assert await target.rooms(sid) == {sid, "r"}
    assert await target.data(sid) == {"name": "c1", "server": kind.split("->")[0].replace("fastsio", "py")}
    missed = await clients.wait_for("c1b", "m", 4)
    assert [e[1] for e in missed] == [1, 2, 5, 6]
    offsets = [e[-1] for e in missed]
    assert offsets == [e[-1] for e in await clients.events("w", "m")]
    # live again, from both nodes, its room included
    await origin.emit("after", 7, to="r")
    await target.emit("after", 8, to="r")
    got = await clients.wait_for("c1b", "after", 2)
    assert sorted(e[1] for e in got) == [7, 8]
    assert [e[1] for e in await clients.events("c1b", "m")] == [1, 2, 5, 6]  # each once
    assert await clients.events("c1b", "no") == []
    assert [e[1] for e in await clients.events("c1b", "tick")] == [3, 4]


async def test_not_recovered(streams_node: Any, node_member: Any, redis_url: str, key: str) -> None:
    """An unknown session, one taken already, an offset that is not in the stream, and a
    session that does not decode: a new session each time, and the server goes on."""
    a = await _fastsio_side(streams_node)
    bside = await _fastsio_side(streams_node)
    clients = await node_member(clients_only=True)
    sid = await clients.connect("c1", a.url, auth={"join": True})
    await a.socket_emit(sid, "first", 0)
    await clients.wait_for("c1", "first")
    pid = await clients.eval("return ctx.client('c1')._pid")
    await clients.eval("ctx.client('c1').io.engine.close()")
    redis = aioredis.Redis.from_url(redis_url)
    try:
        await until(lambda: redis.exists(f"{key}:session:{pid}"))
        # an offset that is no entry of the stream: not recovered, and the session is gone
        await clients.eval("ctx.client('c1')._lastOffset = '1-0'")
        assert await clients.connect("c2", bside.url, recover="c1") != sid
        assert not await redis.exists(f"{key}:session:{pid}")
        # taken once: the right offset no longer helps
        await clients.eval("ctx.client('c1')._lastOffset = ctx.events('c1', 'first')[0][2]")
        assert await clients.connect("c3", bside.url, recover="c1") != sid
        # a session that does not decode, and an offset that is not a stream id
        await redis.set(f"{key}:session:{pid}", b"%%% not base64 %%%")
        assert await clients.connect("c4", bside.url, recover="c1") != sid
        await clients.eval("ctx.client('c1')._lastOffset = 'abc'")
        assert await clients.connect("c5", bside.url, recover="c1") != sid
    finally:
        await redis.aclose()
    await bside.emit("still", 1)
    await clients.wait_for("c5", "still")
