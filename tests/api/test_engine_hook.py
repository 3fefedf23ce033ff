"""sio.engine.use: a hook on the raw HTTP request of every Engine.IO request."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import socketio

import fastsio


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_engine_hook_inspects_changes_and_refuses(start_server: Any, transport: str) -> None:
    sio = fastsio.Server()
    seen: list[str] = []

    @sio.engine.use
    def block(request: Any) -> Any:
        seen.append(request.method)
        if request.headers.get("x-token") == "bad":
            raise PermissionError("bad token")
        return None

    @sio.engine.use
    async def tag(request: Any) -> bool:
        await asyncio.sleep(0)
        request.headers["x-tagged"] = "yes"
        return request.query.get("deny") != "1"

    @sio.on("tagged")
    def tagged(socket: fastsio.Socket) -> Any:
        return socket.handshake.headers.get("x-tagged")

    url = await start_server(sio)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, transports=[transport], headers={"x-token": "good"})
    assert await client.call("tagged", timeout=5) == "yes"
    await client.disconnect()
    assert "GET" in seen

    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/socket.io/?EIO=4&transport=polling", headers={"x-token": "bad"}) as r:
            assert r.status == 403
            assert await r.json() == {"code": 4, "message": "bad token"}
        async with http.get(url + "/socket.io/?EIO=4&transport=polling&deny=1") as r:
            assert r.status == 403
            assert (await r.json())["code"] == 4
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(url + "/socket.io/?EIO=4&transport=websocket", headers={"x-token": "bad"})
        assert info.value.status == 403
