"""Shared fixtures.

* event loops: async tests run on uvloop; tests under ``tests/server`` (and any test
  marked ``both_loops``) run on both uvloop and the stdlib's asyncio loop.
* ``start_server``: start a fastsio Server/EngineServer on 127.0.0.1:0 for the test,
  stop it afterwards; returns the base URL.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable

import pytest
import uvloop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    if "tests/server" in item.path.as_posix() or item.get_closest_marker("both_loops"):
        return {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[[Any], Any]]:
    started: list[Any] = []

    async def start(app: Any, host: str = "127.0.0.1") -> str:
        await app.start(host, 0)
        started.append(app)
        h, port = app.address
        return f"http://{h}:{port}"

    yield start
    for app in started:
        await app.stop()
