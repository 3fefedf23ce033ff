"""The Redis Streams adapter (``RedisStreamsAdapter``, compatible with
``@socket.io/redis-streams-adapter`` 0.3) on one real redis-server: two fastsio nodes,
and a fastsio node with a Node socket.io node on the npm package, with socket.io-client
4.8 clients; broadcasts (rooms, except, binary, namespaces, ``local``) through the
stream, every request type through pub/sub, both directions; the entries' format."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import msgpack
import pytest

import fastsio
from fastsio.adapters import RemoteSocket
from _member import b, node_member_marks

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


async def test_two_fastsio_nodes(streams_node: Any, node_member: Any) -> None:
    a, url_a = await streams_node()
    bb, url_b = await streams_node()
    node = await node_member(clients_only=True)
    sid1 = await node.connect("c1", url_a)
    sid2 = await node.connect("c2", url_b)
    a.of("/").sockets[sid1].join("room1")
    assert a.emit("all", "x", 1) == 1
    assert await node.wait_for("c1", "all") == [["all", "x", 1]]
    assert await node.wait_for("c2", "all") == [["all", "x", 1]]
    bb.to("room1").emit("r1", b"\x00\xff")
    assert await node.wait_for("c1", "r1") == [["r1", b(b"\x00\xff")]]
    assert await a.of("/").adapter.server_count() == 2
    assert {s.id for s in await a.fetch_sockets()} == {sid1, sid2}
    bb.on_server_side("ping-srv", lambda n: {"pong": "b", "n": n})
    assert await a.server_side_emit_with_ack("ping-srv", 3) == [{"pong": "b", "n": 3}]
    assert sorted(await a.timeout(5).emit_with_ack("ask")) == ["ack-from-c1", "ack-from-c2"]
    a.sockets_join("joined")
    await until(lambda: "joined" in bb.of("/").sockets[sid2].rooms)
    bb.in_("joined").disconnect_sockets()
    await until(lambda: not bb.of("/").sockets and not a.of("/").sockets)


async def test_broadcasts_both_ways(streams_node: Any, node_member: Any) -> None:
    server, url = await streams_node(namespaces=("/chat",))
    node = await node_member(namespaces=("/chat",), streams=True)
    sid_c1 = await node.connect("c1", url)
    await node.connect("c2", url)
    sid_n1 = await node.connect("n1", node.url)
    await node.connect("n2", node.url)
    await node.connect("chat-c", url, nsp="/chat")
    await node.connect("chat-n", node.url, nsp="/chat")
    server.of("/").sockets[sid_c1].join("room1")
    await node.eval("ctx.io.of('/').sockets.get(args.sid).join('room1')", sid=sid_n1)

    assert server.emit("all", "hello", 1, 2.5, True, None, {"k": "v"}, [1, 2]) == 2
    for name in ("c1", "c2", "n1", "n2"):
        assert await node.wait_for(name, "all") == [["all", "hello", 1, 2.5, True, None, {"k": "v"}, [1, 2]]]
    await node.eval("ctx.io.emit('bin', Buffer.from([1, 2, 3, 255]), {nested: Buffer.from('hi')})")
    server.emit("pybin", b"\x00\xfe", {"x": b"yz"})
    for name in ("c1", "c2", "n1", "n2"):
        assert await node.wait_for(name, "bin") == [["bin", b(b"\x01\x02\x03\xff"), {"nested": b(b"hi")}]]
        assert await node.wait_for(name, "pybin") == [["pybin", b(b"\x00\xfe"), {"x": b(b"yz")}]]
    server.to("room1").emit("r1", "from-py")
    await node.eval("ctx.io.to('room1').emit('r1', 'from-node')")
    server.except_("room1").emit("ex", "py")
    await node.eval("ctx.io.except('room1').emit('ex', 'node')")
    for name in ("c1", "n1"):
        assert sorted(e[1] for e in await node.wait_for(name, "r1", 2)) == ["from-node", "from-py"]
    for name in ("c2", "n2"):
        assert sorted(e[1] for e in await node.wait_for(name, "ex", 2)) == ["node", "py"]
    server.of("/chat").emit("chat", "py")
    await node.eval("ctx.io.of('/chat').emit('chat', 'node')")
    for name in ("chat-c", "chat-n"):
        assert sorted(e[1] for e in await node.wait_for(name, "chat", 2)) == ["node", "py"]
    server.local.emit("loc", "py")
    await node.eval("ctx.io.local.emit('loc', 'node')")
    server.emit("marker")
    for name in ("c1", "c2", "n1", "n2"):
        await node.wait_for(name, "marker")
    for name, want in (("c1", "py"), ("c2", "py"), ("n1", "node"), ("n2", "node")):
        assert await node.events(name, "loc") == [["loc", want]]
    for name in ("c1", "n1"):
        assert await node.events(name, "ex") == []
    for name in ("c2", "n2"):
        assert await node.events(name, "r1") == []
    for name in ("c1", "c2", "n1", "n2"):
        assert await node.events(name, "chat") == []


async def test_requests_both_ways(streams_node: Any, node_member: Any) -> None:
    server, url = await streams_node()
    node = await node_member(streams=True)
    assert await server.of("/").adapter.server_count() == 2
    assert await node.eval("return await ctx.io.of('/').adapter.serverCount()") == 2

    @server.on("connect")
    def connect(socket: fastsio.Socket, auth: Any) -> None:
        socket.data = {"name": auth.get("name"), "server": "py"}
        socket.join("room1")

    await node.eval("ctx.io.on('connection', (s) => { s.data = {name: s.handshake.auth.name, server: 'node'};"
                    " s.join('room1'); })")
    sid_c1 = await node.connect("c1", url, auth={"name": "c1"})
    sid_n1 = await node.connect("n1", node.url, auth={"name": "n1"})
    # fetch sockets
    found = {s.id: s for s in await server.fetch_sockets()}
    assert set(found) == {sid_c1, sid_n1}
    n1 = found[sid_n1]
    assert isinstance(n1, RemoteSocket) and n1.data == {"name": "n1", "server": "node"}
    assert n1.rooms == {sid_n1, "room1"}
    described = await node.eval("return (await ctx.io.fetchSockets()).map(s => ({id: s.id, data: s.data,"
                                " rooms: [...s.rooms]}))")
    assert {"id": sid_c1, "data": {"name": "c1", "server": "py"}, "rooms": [sid_c1, "room1"]} in described
    # a RemoteSocket's emit, join, and its acknowledged emit, both ways
    n1.emit("hi", "from-py")
    assert await node.wait_for("n1", "hi") == [["hi", "from-py"]]
    assert await n1.timeout(5).emit_with_ack("ask", "q") == "ack-from-n1"
    n1.join("joined-by-py")
    await until(lambda: node.eval("return ctx.io.of('/').sockets.get(args.sid).rooms.has('joined-by-py')",
                                  sid=sid_n1))
    reply = await node.eval("const [s] = (await ctx.io.fetchSockets()).filter(s => s.id === args.sid);"
                            " return await s.timeout(5000).emitWithAck('ask', 'q')", sid=sid_c1)
    assert reply == "ack-from-c1"
    # server-side emit, with and without acks
    got: list[Any] = []
    server.on_server_side("hello-srv", lambda *a: got.append(a))
    server.on_server_side("ping-srv", lambda n: {"pong": "py", "n": n})
    await node.eval("ctx.got = []; ctx.io.on('hello-srv', (...a) => ctx.got.push(a));"
                    " ctx.io.on('ping-srv', (n, cb) => cb({pong: 'node', n}));")
    await node.eval("ctx.io.serverSideEmit('hello-srv', 'x')")
    await until(lambda: got == [("x",)])
    assert await node.eval("return await ctx.io.serverSideEmitWithAck('ping-srv', 7)") == [{"pong": "py", "n": 7}]
    server.server_side_emit("hello-srv", "z")
    await until(lambda: node.eval("return ctx.got.length === 1"))
    assert await server.server_side_emit_with_ack("ping-srv", 8) == [{"pong": "node", "n": 8}]
    # broadcasts with acks, the client count included
    assert sorted(await server.timeout(5).emit_with_ack("ask", b"\x09")) == ["ack-from-c1", "ack-from-n1"]
    assert sorted(await node.eval("return await ctx.io.timeout(5000).emitWithAck('ask', 'q2')")) == [
        "ack-from-c1", "ack-from-n1"]
    assert await node.eval("return await ctx.io.to('nobody').timeout(5000).emitWithAck('ask')") == []
    # socketsJoin / socketsLeave / disconnectSockets (stream entries), both ways
    ns = server.of("/")
    server.sockets_join("room3")
    await until(lambda: node.eval("return ctx.io.of('/').sockets.get(args.sid).rooms.has('room3')", sid=sid_n1))
    await node.eval("ctx.io.in('room3').socketsJoin('from-node')")
    await until(lambda: "from-node" in ns.sockets[sid_c1].rooms)
    await node.eval("ctx.io.socketsLeave('room3')")
    await until(lambda: "room3" not in ns.sockets[sid_c1].rooms)
    server.in_(sid_n1).disconnect_sockets()
    await until(lambda: node.eval("return !ctx.client('n1').connected"))
    await node.eval("ctx.io.disconnectSockets()")
    await until(lambda: not ns.sockets)


async def test_entry_format(streams_node: Any, node_member: Any, redis_url: str, key: str) -> None:
    """What fastsio writes to the stream is what Node writes (read back with XRANGE)."""
    import redis.asyncio as aioredis

    server, _ = await streams_node()
    node = await node_member(streams=True)
    client = aioredis.Redis.from_url(redis_url)
    try:
        server.to("room1").emit("ev", "x", 1)
        await node.eval("ctx.io.to('room1').emit('ev', 'x', 1)")
        server.emit("bin", b"\x01\x02")
        await node.eval("ctx.io.emit('bin', Buffer.from([1, 2]))")
        server.in_("room1").sockets_join("room2")
        await node.eval("ctx.io.in('room1').socketsJoin('room2')")
        await until(lambda: _count(client, key, 6))
        entries = await client.xrange(key)
    finally:
        await client.aclose()
    uid_py = server.of("/").adapter.uid
    assert len(entries) == 6
    decoded = []
    for _, fields in entries:
        assert set(fields) == {b"uid", b"nsp", b"type", b"data"}
        data = fields[b"data"]
        value = json.loads(data) if data[:1] == b"{" else msgpack.unpackb(base64.b64decode(data))
        decoded.append((fields[b"uid"] == uid_py.encode(), fields[b"nsp"], fields[b"type"], value))
    by_side = {True: [d[1:] for d in decoded if d[0]], False: [d[1:] for d in decoded if not d[0]]}
    assert by_side[True] == by_side[False] == [
        (b"/", b"3", {"packet": {"type": 2, "data": ["ev", "x", 1]},
                      "opts": {"rooms": ["room1"], "except": [], "flags": {}}}),
        (b"/", b"3", {"packet": {"type": 2, "data": ["bin", b"\x01\x02"]},
                      "opts": {"rooms": [], "except": [], "flags": {}}}),
        (b"/", b"4", {"opts": {"rooms": ["room1"], "except": [], "flags": {}}, "rooms": ["room2"]}),
    ]


async def _count(client: Any, key: str, n: int) -> bool:
    return bool(await client.xlen(key) >= n)


async def test_remote_socket_ack_classic(fastsio_node: Any, node_member: Any) -> None:
    """``RemoteSocket.timeout(s).emit_with_ack`` on the classic adapter too, both ways,
    and its timeout."""
    server, url = await fastsio_node()
    node = await node_member()
    sid_c = await node.connect("c1", url)
    sid_n = await node.connect("n1", node.url)
    (remote,) = [s for s in await server.fetch_sockets() if isinstance(s, RemoteSocket)]
    assert remote.id == sid_n
    assert await remote.timeout(5).emit_with_ack("ask", 1) == "ack-from-n1"
    reply = await node.eval("const [s] = (await ctx.io.fetchSockets()).filter(s => s.id === args.sid);"
                            " return await s.timeout(5000).emitWithAck('ask', 2)", sid=sid_c)
    assert reply == "ack-from-c1"
    await node.eval("ctx.client('n1').offAny(); ctx.client('n1').onAny(() => {})")  # no more answers
    with pytest.raises(fastsio.AckTimeout):
        await remote.timeout(0.3).emit_with_ack("ask", 3)


async def test_several_streams(streams_node: Any, node_member: Any, redis_url: str, key: str) -> None:
    """``stream_count=4`` (Node's ``streamCount``): each namespace writes to the stream its
    name hashes to, as Node computes it, and both sides read all four."""
    import redis.asyncio as aioredis

    server, url = await streams_node(namespaces=("/admin",), stream_count=4)
    node = await node_member(namespaces=("/admin",), streams=True, stream_count=4)
    for nsp in ("/", "/admin"):
        await node.connect("c" + nsp, url, nsp=nsp)
        await node.connect("n" + nsp, node.url, nsp=nsp)
        server.of(nsp).emit("ev", "py")
        await node.eval("ctx.io.of(args.nsp).emit('ev', 'node')", nsp=nsp)
    for nsp in ("/", "/admin"):
        for name in ("c" + nsp, "n" + nsp):
            assert sorted(e[1] for e in await node.wait_for(name, "ev", 2)) == ["node", "py"]
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.xlen(f"{key}-3") == 2  # "/" (hash 47)
        assert await client.xlen(f"{key}-0") == 2  # "/admin" (hash 1438238848)
    finally:
        await client.aclose()


async def test_sharded_pubsub(streams_node: Any, node_member: Any) -> None:
    """``use_sharded_pubsub`` (Node's ``useShardedPubSub``, Redis 7+): the requests and
    answers with SPUBLISH/SSUBSCRIBE, the server count with SHARDNUMSUB; broadcasts in the
    stream as always."""
    server, url = await streams_node(use_sharded_pubsub=True)
    node = await node_member(streams=True, use_sharded_pubsub=True)
    sid_c = await node.connect("c1", url)
    sid_n = await node.connect("n1", node.url)
    assert await server.of("/").adapter.server_count() == 2
    assert await node.eval("return await ctx.io.of('/').adapter.serverCount()") == 2
    assert {s.id for s in await server.fetch_sockets()} == {sid_c, sid_n}
    assert set(await node.eval("return (await ctx.io.fetchSockets()).map(s => s.id)")) == {sid_c, sid_n}
    assert sorted(await server.timeout(5).emit_with_ack("ask")) == ["ack-from-c1", "ack-from-n1"]
    server.emit("all", "py")
    await node.eval("ctx.io.emit('all', 'node')")
    for name in ("c1", "n1"):
        assert sorted(e[1] for e in await node.wait_for(name, "all", 2)) == ["node", "py"]
