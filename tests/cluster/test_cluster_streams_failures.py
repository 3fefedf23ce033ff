"""The Redis Streams adapter under failure: Redis killed and restarted under two
fastsio nodes and a Node node (the readers reconnect and read on from their last ids,
broadcasts resume everywhere; local delivery never stops, recovery included); entries
that are not of the protocol are skipped; broadcasts made while a session is being
restored reach it exactly once, in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

import fastsio
from _member import NodeMember, RedisProcess, node_member_marks
from test_cluster_streams_recovery import RECOVERY, until

pytestmark = [pytest.mark.redis, *node_member_marks]


def _adapter(url: str, key: str) -> fastsio.adapters.RedisStreamsAdapter:
    return fastsio.adapters.RedisStreamsAdapter(url, stream_name=key, channel_prefix=key,
                                                session_key_prefix=key + ":session:")


async def test_redis_restart(own_redis: RedisProcess, key: str, start_server: Any) -> None:
    server = fastsio.Server(adapter=_adapter(own_redis.url, key), connection_state_recovery=RECOVERY)
    url = await start_server(server)
    other = fastsio.Server(adapter=_adapter(own_redis.url, key))
    url2 = await start_server(other)
    node = await NodeMember.start(own_redis.url, key, streams=True)
    try:
        await node.connect("c1", url)
        await node.connect("c2", url2)
        await node.connect("n1", node.url)
        server.emit("before", 1)
        for name in ("c1", "c2", "n1"):
            await node.wait_for(name, "before")

        own_redis.stop()
        factory = server.options.adapter

        def emit_during() -> bool:
            server.emit("during", 1)  # delivered here (without an offset); the entry waits
            return bool(factory.pending)

        await until(emit_during)
        (during, *_) = await node.wait_for("c1", "during")
        assert during == ["during", 1]
        own_redis.start()

        async def all_hear(tag: str) -> bool:
            server.emit("ping-" + tag, "py")
            other.emit("ping-" + tag, "py2")
            await node.eval("ctx.io.emit(args.ev, 'node')", ev="ping-" + tag)
            await asyncio.sleep(0.3)
            for name in ("c1", "c2", "n1"):
                got = {e[1] for e in await node.events(name, "ping-" + tag)}
                if got != {"py", "py2", "node"}:
                    return False
            return True

        for attempt in range(60):
            if await all_hear(str(attempt)):
                break
        else:
            raise AssertionError("broadcasts did not resume on every node")
        assert await server.of("/").adapter.server_count() == 3
        assert len(await server.fetch_sockets()) == 3
    finally:
        await node.close()


async def test_foreign_entries_are_skipped(streams_node: Any, node_member: Any, redis_url: str, key: str) -> None:
    server, url = await streams_node()
    clients = await node_member(clients_only=True)
    await clients.connect("c1", url)
    factory = server.options.adapter
    redis = aioredis.Redis.from_url(redis_url)
    try:
        bad: list[dict[str, Any]] = [
            {"nsp": "/", "uid": "x", "type": "3", "data": "{not json"},
            {"nsp": "/", "uid": "x", "type": "3", "data": "%%%"},
            {"nsp": "/", "uid": "x", "type": "3", "data": '{"packet": 5}'},
            {"nsp": "/", "uid": "x", "type": "3", "data": '{"packet": {"type": 2, "data": [1]}}'},
            {"nsp": "/", "uid": "x", "type": "abc", "data": "{}"},
            {"nsp": "/", "uid": "x", "type": "4", "data": '{"opts": 1, "rooms": "r"}'},
            {"nsp": "/", "type": "3"},
            {"uid": "x", "type": "3", "data": "{}"},
            {"nsp": "/nowhere", "uid": "x", "type": "3", "data": "{}"},
            {"junk": "1"},
        ]
        for fields in bad:
            await redis.xadd(key, fields)
        await redis.xadd(key, {"nsp": "/", "uid": "x", "type": "3",
                               "data": '{"packet": {"type": 2, "data": ["ok", 1]}, "opts": {"rooms": [],'
                                       ' "except": [], "flags": {}}}'})
        assert await clients.wait_for("c1", "ok") == [["ok", 1]]
        assert factory.skipped >= 2
    finally:
        await redis.aclose()
    server.emit("still", 1)
    await clients.wait_for("c1", "still")
    assert [e[0] for e in await clients.events("c1")] == ["ok", "still"]


async def test_broadcasts_while_restoring(streams_node: Any, node_member: Any, redis_url: str, key: str) -> None:
    """Packets delivered by the node while a recovered socket's connect handler still
    runs (from this node and another) come in its replay, after what it missed before,
    each once, in the stream's order; later ones come live."""
    origin, url_a = await streams_node(connection_state_recovery=RECOVERY)
    target, url_b = await streams_node(connection_state_recovery=RECOVERY)
    gate = asyncio.Event()
    entered = asyncio.Event()

    @target.on("connect")
    async def held(socket: fastsio.Socket, auth: Any) -> None:
        if socket.recovered:
            entered.set()
            await gate.wait()
        else:
            socket.join("r")

    @origin.on("connect")
    def joined(socket: fastsio.Socket, auth: Any) -> None:
        socket.join("r")

    clients = await node_member(clients_only=True)
    sid = await clients.connect("c1", url_a)
    # a watcher on the target: once it has a packet, the target has delivered it
    await clients.connect("w", url_b)
    origin.to("r").emit("m", 1)
    await clients.wait_for("c1", "m")
    pid = await clients.eval("return ctx.client('c1')._pid")
    await clients.eval("ctx.client('c1').io.engine.close()")
    redis = aioredis.Redis.from_url(redis_url)
    try:
        await until(lambda: redis.exists(f"{key}:session:{pid}"))
    finally:
        await redis.aclose()
    origin.emit("m", 2)  # missed while away
    await clients.wait_for("w", "m", 2)
    # connecting, not awaited (the member runs one command at a time)
    await clients.eval("ctx.back = ctx.connect('c1b', args.url, {recover: 'c1'}); ctx.back.catch(() => {})",
                       url=url_b)
    await asyncio.wait_for(entered.wait(), 10)
    # the session is restored and its socket is not connected yet
    origin.to("r").emit("m", 3)
    await clients.wait_for("w", "m", 3)
    target.to("r").emit("m", 4)
    target.emit("m", 5)
    await clients.wait_for("w", "m", 5)
    gate.set()
    assert await clients.eval("return await ctx.back") == sid
    origin.emit("m", 6)
    got = await clients.wait_for("c1b", "m", 5)
    assert [e[1] for e in got] == [2, 3, 4, 5, 6]
    offsets = [e[-1] for e in got]
    assert offsets == [e[-1] for e in (await clients.events("w", "m"))[1:]]
    target.emit("end")
    await clients.wait_for("c1b", "end")
    assert [e[1] for e in await clients.events("c1b", "m")] == [2, 3, 4, 5, 6]


async def test_recovery_while_redis_is_away(own_redis: RedisProcess, key: str, start_server: Any) -> None:
    """A client that reconnects with its session while Redis is away gets a new session
    (the server goes on); a socket that closes meanwhile is kept once Redis is back."""
    server = fastsio.Server(adapter=_adapter(own_redis.url, key), connection_state_recovery=RECOVERY)
    url = await start_server(server)
    clients = await NodeMember.start(own_redis.url, key, clients_only=True)
    try:
        sid = await clients.connect("c1", url)
        server.emit("first", 1)
        await clients.wait_for("c1", "first")
        own_redis.stop()
        factory = server.options.adapter
        # once the node knows (what is written to a connection that is breaking is lost)
        await until(lambda: (server.emit("probe"), factory.pending)[1])
        await clients.eval("ctx.client('c1').io.engine.close()")  # its session waits for Redis
        await until(lambda: not server.of("/").sockets)
        again = await clients.connect("c1b", url, recover="c1")
        assert again != sid
        server.emit("live", 2)  # delivered here without an offset
        assert await clients.wait_for("c1b", "live") == [["live", 2]]
        own_redis.start()
        pid = await clients.eval("return ctx.client('c1')._pid")
        redis = aioredis.Redis.from_url(own_redis.url)
        try:
            await until(lambda: redis.exists(f"{key}:session:{pid}"), timeout=15)
        finally:
            await redis.aclose()
    finally:
        await clients.close()


async def test_request_timeouts(streams_node: Any, node_member: Any, redis_url: str, key: str) -> None:
    """A member that never answers (a bare subscriber to the public channel) counts as a
    node: requests fail at requests_timeout, and broadcasts flow meanwhile."""
    server, url = await streams_node(requests_timeout=0.5)
    clients = await node_member(clients_only=True)
    await clients.connect("c1", url)
    silent = aioredis.Redis.from_url(redis_url)
    pubsub = silent.pubsub()
    await pubsub.subscribe(f"{key}#/#")
    try:
        assert await server.of("/").adapter.server_count() == 2
        with pytest.raises(fastsio.AckTimeout):
            await server.fetch_sockets()
        with pytest.raises(fastsio.AckTimeout):
            await server.server_side_emit_with_ack("nobody-handles-it")
        with pytest.raises(fastsio.AckTimeout) as info:
            await server.timeout(0.5).emit_with_ack("ask")
        assert info.value.replies == ["ack-from-c1"]
        server.emit("still", 1)
        await clients.wait_for("c1", "still")
    finally:
        await pubsub.aclose()
        await silent.aclose()
    assert await server.of("/").adapter.server_count() == 1
    assert len(await server.fetch_sockets()) == 1
