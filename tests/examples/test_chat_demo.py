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
