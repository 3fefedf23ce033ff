"""``fastsio.ASGIApp`` inside a real hypercorn (its asyncio worker, HTTP/1.1 with h11 and
WebSocket with wsproto), beside a FastAPI app: socket.io-client 4.x and python-socketio over
polling, WebSocket and upgrade, the app's routes, and the lifespan passed through.

The uvicorn tests (test_asgi_app.py) cover the rest of ASGIApp's behaviour; this one
shows that nothing in it is uvicorn's.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import aiohttp
import pytest

from _asgi import NODE_MARKS, free_socket, node_client_under, python_client_and_lifespan_under

pytest.importorskip("fastapi")
hypercorn_asyncio = pytest.importorskip("hypercorn.asyncio")
hypercorn_config = pytest.importorskip("hypercorn.config")


@contextlib.asynccontextmanager
async def hypercorn_serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with a real hypercorn (in this process, on this loop) on a socket of
    a free port, handed to it as ``fd://``; yields the base URL; shuts it down (lifespan
    shutdown included) on the way out."""
    sock = free_socket()
    sock.listen(128)
    port = sock.getsockname()[1]
    config = hypercorn_config.Config()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns (and closes) it from here
    config.accesslog = None
    config.errorlog = None
    stop = asyncio.Event()
    task = asyncio.ensure_future(hypercorn_asyncio.serve(app, config, shutdown_trigger=stop.wait))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(500):
                if task.done():
                    task.result()
                try:
                    async with http.get(f"http://127.0.0.1:{port}/api/hello") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("hypercorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


@pytest.fixture(params=["polling", "websocket", "upgrade"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("mark", [pytest.param(None, marks=NODE_MARKS)])
async def test_node_client_under_hypercorn(mode: str, mark: Any) -> None:
    """Verify socket.io-client 4.x's steps (acks, broadcast, binary, disconnect)."""
    await node_client_under(hypercorn_serving, mode)


async def test_python_client_and_lifespan_under_hypercorn(mode: str) -> None:
    """Verify python-socketio's round, the FastAPI route, and the lifespan (startup
    before serving, shutdown after fastsio stopped)."""
    await python_client_and_lifespan_under(hypercorn_serving, mode)
