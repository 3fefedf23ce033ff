"""``fastsio.ASGIApp``: fastsio inside a real uvicorn, beside a real FastAPI app, on one port.

Real clients: socket.io-client 4.x (tests/node/driver.mjs) and python-socketio's
AsyncClient over polling, WebSocket and polling upgraded to WebSocket, with each of
uvicorn's WebSocket implementations here; aiohttp for the FastAPI routes (and its own
WebSocket route) on the same port; the lifespan passed through to FastAPI.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import fastsio
from _asgi import (
    NODE_MARKS,
    NODE_STEPS,
    WS_IMPLS,
    build,
    check_node_run,
    drive,
    python_client_round,
    uvicorn_serving,
)

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


@pytest.fixture(params=["polling", "websocket", "upgrade"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=WS_IMPLS)
def ws(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def fastapi_routes(url: str) -> None:
    """The FastAPI app's routes answer on the same port (and its own WebSocket route)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/api/hello?name=asgi") as r:
            assert r.status == 200 and await r.json() == {"hello": "asgi"}
        async with http.post(url + "/api/items", json={"a": [1, 2]}) as r:
            assert r.status == 200 and await r.json() == {"got": {"a": [1, 2]}}
        async with http.get(url + "/api/missing") as r:
            assert r.status == 404 and await r.json() == {"detail": "Not Found"}
        async with http.ws_connect(url + "/api/ws") as wsc:
            await wsc.send_str("ping")
            assert (await wsc.receive_str()) == "echo:ping"


@pytest.mark.parametrize("mark", [pytest.param(None, marks=NODE_MARKS)])
async def test_node_client(mode: str, ws: str, mark: Any) -> None:
    sio, api, seen = build()
    async with uvicorn_serving(fastsio.ASGIApp(sio, api), ws=ws) as url:
        async def on_sync(name: str) -> None:
            (gone,) = await seen.wait("disconnect")
            assert gone[1] == "client namespace disconnect"

        run = await drive(url, mode, NODE_STEPS, on_sync=on_sync)
        check_node_run(run)
        assert [c[1] for c in seen.of("connect")] == ["node"]
        await fastapi_routes(url)


async def test_python_client(mode: str, ws: str) -> None:
    sio, api, seen = build()
    async with uvicorn_serving(fastsio.ASGIApp(sio, api), ws=ws) as url:
        await python_client_round(url, mode, seen)
        await fastapi_routes(url)


async def test_lifespan_passed_through_and_server_started_and_stopped(ws: str) -> None:
    sio, api, seen = build()
    assert not sio.started
    async with uvicorn_serving(fastsio.ASGIApp(sio, api), ws=ws) as url:
        # FastAPI's startup ran, after fastsio's (the wheel exists: the server runs)
        assert seen.of("startup") == [(True,)]
        assert sio.started and sio.engine.wheel is not None
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/api/hello") as r:
                assert r.status == 200
    # uvicorn's shutdown: fastsio stopped first, then FastAPI's shutdown ran
    assert seen.of("shutdown") == [(False,)]
    assert not sio.started


async def test_server_disconnect_and_many_clients(ws: str) -> None:
    """A server-side disconnect reaches a WebSocket client; a broadcast reaches every
    client of a mixed set (polling and WebSocket sessions)."""
    socketio = pytest.importorskip("socketio")
    sio, api, seen = build()
    async with uvicorn_serving(fastsio.ASGIApp(sio, api), ws=ws) as url:
        clients = [socketio.AsyncClient(reconnection=False) for _ in range(4)]
        heard: list[Any] = []
        for i, c in enumerate(clients):
            c.on("heard", lambda data, i=i: heard.append((i, data)))
            await c.connect(url, transports=["polling"] if i % 2 else ["websocket"])
        await seen.wait("connect", 4)
        assert await clients[0].call("shout", "everyone", timeout=5) == "ok"
        for _ in range(200):
            if len(heard) == 4:
                break
            await asyncio.sleep(0.02)
        assert sorted(heard) == [(i, "everyone") for i in range(4)]
        # the server disconnects one: its client hears of it
        disconnected = asyncio.Event()
        clients[0].on("disconnect", lambda *a: disconnected.set())
        await clients[0].emit("bye")
        await asyncio.wait_for(disconnected.wait(), 5)
        for c in clients[1:]:
            await c.disconnect()
        await seen.wait("disconnect", 4)


async def test_refusals_over_asgi(ws: str) -> None:
    """The engine's refusals come back over the ASGI server: a handshake refused by
    allow_request (403 over polling, a refused WebSocket), an origin not accepted,
    an unknown sid, a POST body over max_http_buffer_size (413)."""
    sio, api, seen = build(allow_request=lambda req: "refuse" not in req.query, max_http_buffer_size=1000)
    async with uvicorn_serving(fastsio.ASGIApp(sio, api), ws=ws) as url:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/socket.io/?EIO=4&transport=polling&refuse=1") as r:
                assert r.status == 403
                assert await r.json() == {"code": 4, "message": "Forbidden"}
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await http.ws_connect(url + "/socket.io/?EIO=4&transport=websocket&refuse=1")
            assert info.value.status == 403
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await http.ws_connect(
                    url + "/socket.io/?EIO=4&transport=websocket", headers={"Origin": "http://evil.example"}
                )
            async with http.get(url + "/socket.io/?EIO=4&transport=polling&sid=nope") as r:
                assert r.status == 400 and (await r.json())["code"] == 1
            async with http.get(url + "/socket.io/?EIO=4&transport=polling") as r:
                body = await r.text()
                assert r.status == 200 and body.startswith("0{")
            sid = body[body.index('"sid":"') + 7 :].split('"')[0]
            async with http.post(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", data=b"4" * 2000) as r:
                assert r.status == 413
            # the POST over the limit ended the session
            async with http.get(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}") as r:
                assert r.status == 400


async def test_polling_client_gone_while_held(ws: str) -> None:
    """A long-polling GET held by the engine whose client goes away: the session is
    told (closed "transport close"), as on fastsio's own server."""
    sio, api, seen = build()
    async with uvicorn_serving(fastsio.ASGIApp(sio, api), ws=ws) as url:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/socket.io/?EIO=4&transport=polling") as r:
                body = await r.text()
            sid = body[body.index('"sid":"') + 7 :].split('"')[0]
            async with http.post(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", data=b"40") as r:
                assert r.status == 200
            async with http.get(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}") as r:
                assert (await r.text()).startswith("40")  # the CONNECT reply
            await seen.wait("connect")
            task = asyncio.ensure_future(http.get(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}"))
            session = sio.engine.sessions[sid]
            for _ in range(200):
                if session.poll is not None:
                    break
                await asyncio.sleep(0.01)
            assert session.poll is not None
            task.cancel()
        (gone,) = await seen.wait("disconnect")
        assert gone[1] == "transport close"
        assert sid not in sio.engine.sessions


async def test_static_files_and_404_without_other_app(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>hi</h1>")
    sio, _api, _seen = build()
    app = fastsio.ASGIApp(sio, static_files={"/": str(tmp_path / "index.html")})
    async with uvicorn_serving(app) as url:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/") as r:
                assert r.status == 200 and await r.text() == "<h1>hi</h1>"
                assert r.headers["content-type"].startswith("text/html")
            async with http.get(url + "/other") as r:
                assert r.status == 404
            async with http.get(url + "/socket.io/?EIO=4&transport=polling") as r:
                assert r.status == 200 and (await r.text()).startswith("0{")


async def test_engine_server_inside_uvicorn() -> None:
    """A plain EngineServer under ASGIApp, its own path, over WebSocket."""
    eio = fastsio.EngineServer()
    got: list[Any] = []

    @eio.on("connection")
    def on_connection(sock: fastsio.EngineSocket) -> None:
        sock.on("message", lambda data: (got.append(data), sock.send("re:" + data)))

    async with uvicorn_serving(fastsio.ASGIApp(eio)) as url:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(url + "/engine.io/?EIO=4&transport=websocket") as wsc:
                opening = await wsc.receive_str()
                assert opening.startswith("0{")
                await wsc.send_str("4hello")
                assert await wsc.receive_str() == "4re:hello"
    assert got == ["hello"]


def test_socketio_path_must_be_the_servers() -> None:
    sio = fastsio.Server()
    assert fastsio.ASGIApp(sio, socketio_path="socket.io").sio is sio
    assert fastsio.ASGIApp(sio, socketio_path="/socket.io/").sio is sio
    with pytest.raises(ValueError, match="path='/ws/'"):
        fastsio.ASGIApp(sio, socketio_path="ws")
    assert fastsio.ASGIApp(fastsio.Server(path="/ws/"), socketio_path="ws").sio is not None


async def test_app_errors_logged_not_in_transport(ws: str, caplog: pytest.LogCaptureFixture) -> None:
    """A handler that raises is logged; the connection carries on."""
    socketio = pytest.importorskip("socketio")
    sio, api, seen = build()

    @sio.on("fail")
    def fail(sock: fastsio.Socket) -> None:
        raise RuntimeError("handler failure")

    caplog.set_level(logging.ERROR, logger="fastsio")
    async with uvicorn_serving(fastsio.ASGIApp(sio, api), ws=ws) as url:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(url, transports=["websocket"])
        await client.emit("fail")
        assert await client.call("echo", "still here", timeout=5) == "still here"
        await client.disconnect()
    assert any("handler failure" in (r.exc_text or "") or "handler failure" in str(r.exc_info) for r in caplog.records)
