"""``fastsio.compat.ASGIApp``: a python-socketio application whose only change is the
import, under a real uvicorn beside a real FastAPI app, with real clients
(python-socketio's AsyncClient, socket.io-client 4.x)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from fastapi import FastAPI

from _asgi import NODE_MARKS, drive, uvicorn_serving
from fastsio import compat as socketio  # was: import socketio


def make_app() -> tuple[Any, Any, list[Any]]:
    """python-socketio's usual ASGI arrangement, word for word but the import."""
    events: list[Any] = []
    sio = socketio.AsyncServer(async_mode="asgi")
    api = FastAPI()

    @api.get("/api/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        events.append(("connect", environ["PATH_INFO"]))
        await sio.emit("hello", {"sid": sid}, to=sid)

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        events.append(("disconnect", reason))

    started: list[str] = []
    app = socketio.ASGIApp(sio, api, on_startup=lambda: started.append("up"))
    events.append(started)
    return app, sio, events


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
async def test_python_socketio_client(transports: list[str]) -> None:
    client_mod = pytest.importorskip("socketio")
    app, sio, events = make_app()
    async with uvicorn_serving(app) as url:
        assert events[0] == ["up"]
        client = client_mod.AsyncClient(reconnection=False)
        hello = asyncio.Event()
        client.on("hello", lambda data: hello.set())
        await client.connect(url, transports=transports)
        await asyncio.wait_for(hello.wait(), 5)
        assert await client.call("echo", {"x": 1}, timeout=5) == {"x": 1}
        await client.disconnect()
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/api/ping") as r:
                assert await r.json() == {"pong": "yes"}
    assert ("connect", "/socket.io/") in events


@pytest.mark.parametrize("mark", [pytest.param(None, marks=NODE_MARKS)])
async def test_node_client_upgrade(mark: Any) -> None:
    app, sio, events = make_app()
    async with uvicorn_serving(app) as url:
        run = await drive(
            url,
            "upgrade",
            [
                {"op": "connect", "sock": "s"},
                {"op": "wait", "t": "event", "event": "hello"},
                {"op": "emit", "event": "echo", "args": ["via compat"], "ack": True},
            ],
        )
    assert run.one("ack", tag="echo")["args"] == ["via compat"]


def test_socketio_path_other_than_the_servers() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    with pytest.raises(ValueError, match="path="):
        socketio.ASGIApp(sio, socketio_path="other")
    assert socketio.ASGIApp(socketio.AsyncServer(path="/other/"), socketio_path="other") is not None
