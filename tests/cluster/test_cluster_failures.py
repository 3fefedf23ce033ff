"""Failures: Redis killed and restarted under a fastsio node and a Node node (the
subscriber reconnects and resubscribes, broadcasts resume both ways; local delivery
never stops, and what could not reach Redis waits for it); a namespace made
while the server runs joins the cluster; bad input is in test_cluster_wire."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import fastsio
from _member import RedisProcess, node_member_marks
from _member import NodeMember
from test_cluster_requests import until

pytestmark = [pytest.mark.redis, *node_member_marks]


async def test_redis_restart(own_redis: RedisProcess, key: str, start_server: Any) -> None:
    server = fastsio.Server(adapter=fastsio.adapters.RedisAdapter(own_redis.url, key=key))
    url = await start_server(server)
    other = fastsio.Server(adapter=fastsio.adapters.RedisAdapter(own_redis.url, key=key))
    url2 = await start_server(other)
    node = await NodeMember.start(own_redis.url, key)
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
            server.emit("during", 1)  # local delivery goes on; the remote copy waits
            return bool(factory.pending)

        await until(emit_during)
        await node.wait_for("c1", "during")
        own_redis.start()

        # every node hears every other again
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

        for attempt in range(40):
            if await all_hear(str(attempt)):
                break
        else:
            raise AssertionError("broadcasts did not resume on every node")
        assert await server.of("/").adapter.server_count() == 3
        assert len(await server.fetch_sockets()) == 3
    finally:
        await node.close()


async def test_namespace_made_while_running(fastsio_node: Any, node_member: Any) -> None:
    server, url = await fastsio_node()
    node = await node_member(namespaces=("/", "/late"))
    late = server.of("/late")  # after start: subscribes by itself
    await until(lambda: late.adapter.server_count())
    await until(lambda: _count(late, 2))
    await node.connect("c1", url, nsp="/late")
    await node.connect("n1", node.url, nsp="/late")
    late.emit("hi", "py")
    await node.eval("ctx.io.of('/late').emit('hi', 'node')")
    for name in ("c1", "n1"):
        got = await node.wait_for(name, "hi", 2)
        assert sorted(e[1] for e in got) == ["node", "py"]


async def _count(ns: fastsio.Namespace, want: int) -> bool:
    return await ns.adapter.server_count() == want


async def test_queue_bound_while_redis_is_away(own_redis: RedisProcess, key: str, start_server: Any) -> None:
    """What waits for Redis is bounded by max_pending_bytes: the oldest is dropped and
    counted; what is left goes out once Redis is back."""
    factory = fastsio.adapters.RedisAdapter(own_redis.url, key=key, max_pending_bytes=2000)
    server = fastsio.Server(adapter=factory)
    await start_server(server)
    import redis.asyncio as aioredis

    own_redis.stop()
    await until(lambda: (server.emit("probe"), factory.pending)[1])
    before = factory.dropped
    for i in range(20):
        server.emit("big", i, "x" * 500)
    assert factory.dropped - before >= 15
    assert factory.pending <= 4
    own_redis.start()
    listener = aioredis.Redis.from_url(own_redis.url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(f"{key}#/#")
    await pubsub.get_message(timeout=1)
    try:
        # the reconnected node publishes again
        async def heard() -> bool:
            server.emit("after", 1)
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            return msg is not None

        await until(heard, timeout=15)
    finally:
        await pubsub.aclose()
        await listener.aclose()
