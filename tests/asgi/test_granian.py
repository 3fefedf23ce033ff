"""``fastsio.ASGIApp`` inside a real granian (the Rust HTTP server, its embedded ASGI
server on this process's loop, lifespan on), beside a FastAPI app: socket.io-client 4.x
and python-socketio over polling, WebSocket and upgrade, the app's routes, and the
lifespan passed through.

granian parses HTTP and frames WebSocket messages in Rust (hyper, tungstenite) and hands
the application ASGI messages, so this shows that ``ASGIApp`` depends on nothing of
uvicorn's or hypercorn's (test_asgi_app.py and test_hypercorn.py).  The embedded server
binds its own socket from an address and a port (no file descriptor can be given), so
the port is a free one found just before; a start that fails to bind is retried on
another.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import aiohttp
import pytest

from _asgi import NODE_MARKS, free_socket, node_client_under, python_client_and_lifespan_under

pytest.importorskip("fastapi")
granian_embed = pytest.importorskip("granian.server.embed")
granian_constants = pytest.importorskip("granian.constants")


async def _started(port: int, task: asyncio.Future[Any]) -> bool:
    """Whether granian answers the FastAPI route on ``port`` (False: it stopped)."""
    async with aiohttp.ClientSession() as http:
        for _ in range(500):
            if task.done():
                return False
            try:
                async with http.get(f"http://127.0.0.1:{port}/api/hello") as r:
                    if r.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
    raise AssertionError("granian did not start")


@contextlib.asynccontextmanager
async def granian_serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with granian's embedded ASGI server on a free port of 127.0.0.1;
    yields the base URL; stops it (lifespan shutdown included) on the way out."""
    for _ in range(5):
        probe = free_socket()
        port = probe.getsockname()[1]
        probe.close()
        server = granian_embed.Server(
            app,
            address="127.0.0.1",
            port=port,
            interface=granian_constants.Interfaces.ASGI,
            log_enabled=False,
        )
        task = asyncio.ensure_future(server.serve())
        if await _started(port, task):
            break
        with contextlib.suppress(Exception):
            task.result()  # the port was taken meanwhile: another one
    else:
        raise AssertionError("granian could not listen on a free port")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        await asyncio.wait_for(task, 15)


@pytest.fixture(params=["polling", "websocket", "upgrade"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("mark", [pytest.param(None, marks=NODE_MARKS)])
async def test_node_client_under_granian(mode: str, mark: Any) -> None:
    """Verify socket.io-client 4.x's steps (acks, broadcast, binary, disconnect)."""
    await node_client_under(granian_serving, mode)


async def test_python_client_and_lifespan_under_granian(mode: str) -> None:
    """Verify python-socketio's round, the FastAPI route, and the lifespan (startup
    before serving, shutdown after fastsio stopped)."""
    await python_client_and_lifespan_under(granian_serving, mode)
