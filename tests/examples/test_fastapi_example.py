"""examples/fastapi_app: the FastAPI app and Socket.IO on one port, both ways (inside a real
uvicorn through ``fastsio.ASGIApp``, and FastAPI's routes on fastsio's own server through
``Server(app=)``), driven by python-socketio clients and HTTP requests."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
import socketio

example = pytest.importorskip("examples.fastapi_app.app", reason="the examples live in the source tree, not in the wheel")
uvicorn = pytest.importorskip("uvicorn")

import fastsio  # noqa: E402


@pytest.fixture
async def under_uvicorn() -> AsyncIterator[Callable[[Any], Awaitable[str]]]:
    """Serve an ASGI app with a real uvicorn on a free port: ``await serve(app) -> url``."""
    servers: list[tuple[Any, asyncio.Task[None]]] = []

    async def serve(app: Any) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False))
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        servers.append((server, task))
        for _ in range(500):
            if server.started:
                return f"http://127.0.0.1:{port}"
            await asyncio.sleep(0.01)
        raise AssertionError("uvicorn did not start")

    yield serve
    for server, task in servers:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def exercise(url: str) -> None:
    """Two clients in a room: the acks, ``said``, the REST listing and the announcement."""
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(2)]
    queues: list[asyncio.Queue[Any]] = []
    for client in clients:
        q: asyncio.Queue[Any] = asyncio.Queue()
        queues.append(q)
        client.on("said", lambda sid, text, q=q: q.put_nowait(("said", sid, text)))
        client.on("announcement", lambda text, q=q: q.put_nowait(("announcement", text)))
    a, b = clients
    try:
        await a.connect(url, transports=["websocket"])
        await b.connect(url, transports=["polling"])  # stays on long-polling
        assert await a.call("join", "room", timeout=5) == 1
        assert await b.call("join", "room", timeout=5) == 2
        await a.emit("say", ("room", "hello"))
        assert await asyncio.wait_for(queues[1].get(), 5) == ("said", a.get_sid(), "hello")
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/api/rooms/room") as resp:
                assert resp.status == 200
                assert await resp.json() == {"room": "room", "sockets": sorted([a.get_sid(), b.get_sid()])}
            async with http.post(url + "/api/announce", json={"text": "news"}) as resp:
                assert resp.status == 200 and await resp.json() == {"sent": True}
            async with http.post(url + "/api/announce", json={"wrong": 1}) as resp:
                assert resp.status == 422  # FastAPI's own validation
        for q in queues:
            assert await asyncio.wait_for(q.get(), 5) == ("announcement", "news")
        assert queues[0].empty()  # "said" went to the others only
    finally:
        for client in clients:
            await client.disconnect()


async def test_inside_uvicorn(under_uvicorn: Callable[[Any], Awaitable[str]]) -> None:
    """Verify ``uvicorn examples.fastapi_app.app:app`` (an ``ASGIApp`` of the example's server
    and FastAPI app) serves both."""
    assert isinstance(example.app, fastsio.ASGIApp)
    sio, api = example.create()
    await exercise(await under_uvicorn(fastsio.ASGIApp(sio, api)))


async def test_on_fastsios_server(start_server: Any) -> None:
    """Verify the example's ``main()`` arrangement: FastAPI's routes on fastsio's own server."""
    server, _ = example.create(own_server=True)
    await exercise(await start_server(server))
