"""``Server(app=asgi_app)``: fastsio's own server answers a real FastAPI app's routes on
the paths it does not own, beside Socket.IO on the same port.

Real clients: socket.io-client 4.x and python-socketio's AsyncClient (polling,
WebSocket, upgrade), aiohttp for the FastAPI routes; the app's lifespan runs with the
server's start and stop.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import fastsio
from _asgi import NODE_MARKS, NODE_STEPS, build, check_node_run, drive, python_client_round

pytest.importorskip("fastapi")


@pytest.fixture(params=["polling", "websocket", "upgrade"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def routes(url: str) -> None:
    """The FastAPI routes, answered by fastsio's own server."""
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/api/hello?name=fast") as r:
            assert r.status == 200 and await r.json() == {"hello": "fast"}
        async with http.post(url + "/api/items", json={"a": [1, 2]}) as r:
            assert r.status == 200 and await r.json() == {"got": {"a": [1, 2]}}
        async with http.get(url + "/api/missing") as r:
            assert r.status == 404 and await r.json() == {"detail": "Not Found"}
        async with http.get(url + "/api/stream") as r:
            assert r.status == 200 and await r.text() == "part0;part1;part2;"
        # keep-alive: several requests on one connection, answered in order
        for i in range(3):
            async with http.get(url + f"/api/hello?name={i}") as r:
                assert await r.json() == {"hello": str(i)}


@pytest.mark.parametrize("mark", [pytest.param(None, marks=NODE_MARKS)])
async def test_node_client_and_routes(start_server, mode: str, mark: Any) -> None:
    sio, api, seen = build(serve_app=True)
    url = await start_server(sio)

    async def on_sync(name: str) -> None:
        (gone,) = await seen.wait("disconnect")
        assert gone[1] == "client namespace disconnect"

    run = await drive(url, mode, NODE_STEPS, on_sync=on_sync)
    check_node_run(run)
    await routes(url)


async def test_python_client_and_routes(start_server, mode: str) -> None:
    sio, api, seen = build(serve_app=True)
    url = await start_server(sio)
    await python_client_round(url, mode, seen)
    await routes(url)


async def test_lifespan_runs_with_start_and_stop() -> None:
    sio, api, seen = build(serve_app=True)
    await sio.start("127.0.0.1", 0)
    try:
        # the app's startup ran before the server listened
        assert seen.of("startup") == [(False,)]
    finally:
        await sio.stop()
    assert [s for s in seen.of("shutdown")] == [(False,)]


async def test_app_errors_are_500_and_logged(start_server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="fastsio")
    sio, api, seen = build(serve_app=True)

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("broken app")

    url = await start_server(sio)
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/api/boom") as r:
            assert r.status == 500
        async with http.get(url + "/api/hello") as r:  # the server carries on
            assert r.status == 200
    assert any(r.name == "fastsio.asgi" and "raised" in r.getMessage() for r in caplog.records)
    # an app that raises before answering: 500 from fastsio, logged
    bad = fastsio.Server(app=broken)
    url = await start_server(bad)
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/x") as r:
            assert r.status == 500 and await r.text() == "Internal Server Error"
        async with http.get(url + "/socket.io/?EIO=4&transport=polling") as r:
            assert r.status == 200 and (await r.text()).startswith("0{")
    assert any("broken app" in str(r.exc_info) for r in caplog.records)


async def test_body_and_websocket_messages_bounded(start_server) -> None:
    sio, api, seen = build(serve_app=True, max_http_buffer_size=1000)
    url = await start_server(sio)
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/api/items", json={"a": "x" * 2000}) as r:
            assert r.status == 413
        async with http.post(url + "/api/items", json={"a": "small"}) as r:
            assert r.status == 200
        # the app's own WebSocket route, on fastsio's server (test_server_app_websocket.py
        # has the rest); its messages are bounded by max_http_buffer_size too
        async with http.ws_connect(url + "/api/ws") as ws:
            await ws.send_str("small")
            assert (await ws.receive(timeout=5)).data == "echo:small"
        async with http.ws_connect(url + "/api/ws") as ws:
            await ws.send_str("x" * 2000)
            closed = await ws.receive(timeout=5)
            assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 1009


async def test_static_files_before_the_app(start_server, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>static</p>")
    sio, api, seen = build(serve_app=True, static_files={"/": str(tmp_path / "index.html")})
    url = await start_server(sio)
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/") as r:
            assert await r.text() == "<p>static</p>"
        async with http.get(url + "/api/hello") as r:
            assert await r.json() == {"hello": "world"}
