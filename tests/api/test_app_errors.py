"""Application code that returns garbage is logged like a handler that raises, and
never reaches the transport callbacks: the connection carries on (issue 13, A4)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import socketio

import fastsio


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_an_ack_that_does_not_encode_is_reported_and_the_connection_carries_on(
    start_server: Any, caplog: pytest.LogCaptureFixture, transport: str, kind: str
) -> None:
    """Verify a handler returning ``object()`` as its ack is logged and reported to the
    ``error`` hook, the client gets no ack, and the same connection keeps working."""
    sio = fastsio.Server()
    errors: list[BaseException] = []

    if kind == "sync":

        @sio.on("bad")
        def bad(socket: fastsio.Socket) -> Any:
            return object()

    else:

        @sio.on("bad")
        async def bad_async(socket: fastsio.Socket) -> Any:
            await asyncio.sleep(0)
            return object()

    @sio.on("good")
    def good(socket: fastsio.Socket, x: int) -> int:
        return x + 1

    @sio.on("error")
    def failed(socket: fastsio.Socket, exc: BaseException) -> None:
        errors.append(exc)

    url = await start_server(sio)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, transports=[transport])
    try:
        with caplog.at_level(logging.ERROR, logger="fastsio"):
            with pytest.raises(socketio.exceptions.TimeoutError):
                await client.call("bad", timeout=0.5)
        assert [type(e) for e in errors] == [TypeError]
        assert any("handler raised" in r.getMessage() for r in caplog.records)
        assert client.connected
        assert await client.call("good", 41, timeout=5) == 42
    finally:
        await client.disconnect()
