"""The chat demo's handlers, driven by the python-socketio client (the browser test of the
page itself lives in tests/browser)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import socketio

create_app = pytest.importorskip(
    "examples.chat.app", reason="the demo lives in the source tree, not in the wheel"
).create_app


async def test_chat_demo_handlers(start_server: Any) -> None:
    url = await start_server(create_app())
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/") as resp:
            assert resp.status == 200
            assert "fastsio chat" in await resp.text()
    client = socketio.AsyncClient(reconnection=False)
    replies: asyncio.Queue[Any] = asyncio.Queue()
    byes: asyncio.Queue[Any] = asyncio.Queue()
    client.on("reply", replies.put_nowait)
    client.on("bye", byes.put_nowait, namespace="/chat")
    await client.connect(url, namespaces=["/", "/chat"], transports=["polling", "websocket"])
    await client.emit("notice", "héllo 世界")
    assert await asyncio.wait_for(replies.get(), 5) == "have héllo 世界"
    assert await client.call("msg", "first", namespace="/chat", timeout=5) == "recv first"
    assert await client.call("msg", "second", namespace="/chat", timeout=5) == "recv second"
    disconnected = asyncio.Event()
    client.on("disconnect", lambda *a: disconnected.set(), namespace="/chat")
    await client.emit("bye", namespace="/chat")
    assert await asyncio.wait_for(byes.get(), 5) == "second"
    await asyncio.wait_for(disconnected.wait(), 5)
    # "/" is still connected after "/chat" was closed by the server
    await client.emit("notice", "still here")
    assert await asyncio.wait_for(replies.get(), 5) == "have still here"
    await client.disconnect()


async def test_chat_messages_reach_the_other_participants(start_server: Any) -> None:
    """Verify a message on /chat is acked to its sender and sent, as ``said`` (the sender's
    short id and the text), to every other participant, not back to the sender; after
    ``bye`` the sender is out of /chat and gets no more ``said``."""
    url = await start_server(create_app())
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(3)]
    said: list[asyncio.Queue[Any]] = []
    for client in clients:
        q: asyncio.Queue[Any] = asyncio.Queue()
        said.append(q)
        client.on("said", lambda who, text, q=q: q.put_nowait((who, text)), namespace="/chat")
        await client.connect(url, namespaces=["/", "/chat"], transports=["websocket"])
    a, b, c = clients
    a_id = a.get_sid("/chat")
    assert await a.call("msg", "hi all", namespace="/chat", timeout=5) == "recv hi all"
    assert await asyncio.wait_for(said[1].get(), 5) == (a_id[:6], "hi all")
    assert await asyncio.wait_for(said[2].get(), 5) == (a_id[:6], "hi all")
    # C leaves with /bye; B's next message reaches A only, and A got nothing of its own
    left = asyncio.Event()
    c.on("disconnect", lambda *args: left.set(), namespace="/chat")
    await c.emit("bye", namespace="/chat")
    await asyncio.wait_for(left.wait(), 5)
    b_id = b.get_sid("/chat")
    assert await b.call("msg", "just us", namespace="/chat", timeout=5) == "recv just us"
    assert await asyncio.wait_for(said[0].get(), 5) == (b_id[:6], "just us")
    assert said[0].empty() and said[1].empty() and said[2].empty()
    for client in clients:
        await client.disconnect()
