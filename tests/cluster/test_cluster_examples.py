"""examples/redis_cluster: two nodes of the example on a real redis-server, a python-socketio
client on each, and the example's emitter script (``announce.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

example = pytest.importorskip("examples.redis_cluster.app", reason="the examples live in the source tree, not in the wheel")
announce = pytest.importorskip("examples.redis_cluster.announce")


async def test_redis_cluster_example(redis_url: str, key: str, start_server: Any) -> None:
    """Verify a room spans both nodes: ``said`` reaches both clients, ``who`` lists both,
    ``nodes`` names both nodes, and the emitter's announcement reaches everyone."""
    urls = [await start_server(example.create_app(redis_url, name, key=key)) for name in ("a", "b")]
    clients = [socketio.AsyncClient(reconnection=False) for _ in urls]
    queues: list[asyncio.Queue[Any]] = []
    for client in clients:
        q: asyncio.Queue[Any] = asyncio.Queue()
        queues.append(q)
        client.on("said", lambda node, sid, text, q=q: q.put_nowait(("said", node, sid, text)))
        client.on("announcement", lambda text, q=q: q.put_nowait(("announcement", text)))
    try:
        for client, url, transport in zip(clients, urls, ("websocket", "polling")):
            await client.connect(url, transports=[transport])
        assert [await c.call("join", "lobby", timeout=5) for c in clients] == ["a", "b"]
        a, b = clients
        await b.emit("say", ("lobby", "hi"))
        for q in queues:
            assert await asyncio.wait_for(q.get(), 5) == ("said", "b", b.get_sid(), "hi")
        assert await a.call("who", "lobby", timeout=10) == sorted([a.get_sid(), b.get_sid()])
        assert await a.call("nodes", timeout=10) == ["a", "b"]
        await announce.announce(redis_url, "to everyone", key=key)
        await announce.announce(redis_url, "to nobody", room="empty", key=key)
        for q in queues:
            assert await asyncio.wait_for(q.get(), 5) == ("announcement", "to everyone")
        await asyncio.sleep(0.2)  # the second announcement went to an empty room: nothing comes
        assert all(q.empty() for q in queues)
    finally:
        for client in clients:
            await client.disconnect()
