"""``Server(app=asgi_app)``: the app's own WebSocket routes on fastsio's own server.

A real FastAPI app with WebSocket routes (echo with a subprotocol, a route that closes
with its own code, one that refuses, one that raises, one that never reads) on the
same port as Socket.IO, driven by aiohttp's WebSocket client and by python-socketio at
the same time; both twins (the frames are fastsio's).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
import socketio

import fastsio

fastapi = pytest.importorskip("fastapi")
from fastapi import FastAPI, WebSocket, WebSocketDisconnect  # noqa: E402


def build(**options: Any) -> tuple[fastsio.Server, dict[str, Any]]:
    """The server, serving a FastAPI app with WebSocket routes; ``seen`` records what
    the routes saw."""
    api = FastAPI()
    seen: dict[str, Any] = {"disconnects": [], "started": asyncio.Event()}

    @api.websocket("/ws/echo")
    async def echo(ws: WebSocket) -> None:
        await ws.accept(subprotocol="echo.v1" if "echo.v1" in ws.scope["subprotocols"] else None)
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    seen["disconnects"].append(message["code"])
                    return
                if message.get("text") is not None:
                    await ws.send_text("echo:" + message["text"])
                else:
                    await ws.send_bytes(b"echo:" + message["bytes"])
        except WebSocketDisconnect as exc:  # pragma: no cover - receive() above sees it first
            seen["disconnects"].append(exc.code)

    @api.websocket("/ws/bye")
    async def bye(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("bye")
        await ws.close(code=4001, reason="done")

    @api.websocket("/ws/refuse")
    async def refuse(ws: WebSocket) -> None:
        await ws.close(code=1008)

    @api.websocket("/ws/broken")
    async def broken(ws: WebSocket) -> None:
        await ws.accept()
        raise RuntimeError("broken route")

    @api.websocket("/ws/deaf")
    async def deaf(ws: WebSocket) -> None:
        await ws.accept()
        seen["started"].set()
        await asyncio.sleep(3600)

    @api.get("/api/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    sio = fastsio.Server(app=api, **options)

    @sio.on("ping_me")
    def ping_me(socket: fastsio.Socket, n: int) -> int:
        return n + 1

    return sio, seen


async def test_app_websocket_routes_beside_socketio(start_server: Any) -> None:
    """Verify text and binary echo with the subprotocol, the client's close reaching the
    app as websocket.disconnect, and Socket.IO on the same port meanwhile."""
    sio, seen = build()
    url = await start_server(sio)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, transports=["websocket"])
    try:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(url + "/ws/echo", protocols=("echo.v1",)) as ws:
                assert ws.protocol == "echo.v1"
                for i in range(20):
                    await ws.send_str(f"m{i}")
                    assert await client.call("ping_me", i, timeout=5) == i + 1
                    assert (await ws.receive(timeout=5)).data == f"echo:m{i}"
                await ws.send_bytes(b"\x00\xff" * 40000)  # 80 KB, one frame
                assert (await ws.receive(timeout=5)).data == b"echo:" + b"\x00\xff" * 40000
            for _ in range(200):
                if seen["disconnects"]:
                    break
                await asyncio.sleep(0.01)
            assert seen["disconnects"] == [1000]
            async with http.get(url + "/api/hello") as r:
                assert await r.json() == {"hello": "world"}
    finally:
        await client.disconnect()


async def test_app_websocket_close_refuse_and_errors(start_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Verify the app's close code and reason reach the client, a close before the
    accept is 403, an unknown route is 403 (FastAPI closes it), and an exception is
    logged and closes with 1011."""
    sio, _ = build()
    url = await start_server(sio)
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url + "/ws/bye") as ws:
            assert (await ws.receive(timeout=5)).data == "bye"
            closed = await ws.receive(timeout=5)
            assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4001 and closed.extra == "done"
        for path in ("/ws/refuse", "/ws/nowhere"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await http.ws_connect(url + path)
            assert info.value.status == 403, path
        with caplog.at_level(logging.ERROR, logger="fastsio"):
            async with http.ws_connect(url + "/ws/broken") as ws:
                closed = await ws.receive(timeout=5)
                assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 1011
        assert any("broken route" in str(r.exc_info) for r in caplog.records)
        # the server carries on
        async with http.ws_connect(url + "/ws/echo") as ws:
            await ws.send_str("still")
            assert (await ws.receive(timeout=5)).data == "echo:still"


async def test_app_websocket_flood_is_bounded(start_server: Any) -> None:
    """Verify a client flooding a route that never reads is held back by flow control
    (the server stops reading it: memory stays bounded) while another client is served."""
    sio, seen = build()
    url = await start_server(sio)
    async with aiohttp.ClientSession() as http:
        flooder = await http.ws_connect(url + "/ws/deaf")
        await asyncio.wait_for(seen["started"].wait(), 5)
        payload = "x" * 60000
        sent = 0

        async def flood() -> None:
            nonlocal sent
            while True:
                await flooder.send_str(payload)
                sent += 1

        task = asyncio.ensure_future(flood())
        try:
            # the server stops reading the flooder once its route has APP_WS_QUEUE
            # messages waiting: the kernel's buffers fill and the client's writes
            # block, so ``sent`` stops growing (without flow control it never would)
            last, steady = -1, 0
            for _ in range(200):
                await asyncio.sleep(0.05)
                steady = steady + 1 if sent == last else 0
                last = sent
                if steady >= 6:
                    break
            assert steady >= 6, f"the flooder was never held back ({sent} messages of 60 KB sent)"
            assert sent * len(payload) < 64 * 1024 * 1024
            async with http.ws_connect(url + "/ws/echo") as ws:
                await ws.send_str("other")
                assert (await ws.receive(timeout=5)).data == "echo:other"
        finally:
            task.cancel()
            await flooder.close()


async def test_bad_handshake_outside_the_path(start_server: Any) -> None:
    """Verify an upgrade that is not a valid WebSocket handshake gets 400 (the app is
    not called)."""
    sio, _ = build()
    url = await start_server(sio)
    host, port = sio.address
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    line = await asyncio.wait_for(reader.readline(), 5)
    assert line.startswith(b"HTTP/1.1 400"), line
    writer.close()
