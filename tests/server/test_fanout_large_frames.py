"""Broadcasts mixing small packets with large ones (frames of ``DIRECT_BYTES`` or more,
written to the transport as is instead of being copied into the coalescing buffer):
real python-socketio clients over WebSocket get every packet, whole and in order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import fastsio
import socketio

from fastsio._server.outbox import DIRECT_BYTES


async def test_small_large_small_arrive_in_order(start_server: Any) -> None:
    """Verify broadcasts of small ticks, a large binary attachment and a large text packet,
    interleaved in one handler run (one loop iteration), reach every client in order."""
    sio = fastsio.Server()
    blob = bytes(range(256)) * (4 * DIRECT_BYTES // 256)
    text = "t" * (2 * DIRECT_BYTES)

    @sio.on("go")
    def go(socket: fastsio.Socket) -> int:
        for i in range(3):
            sio.emit("tick", i)
            sio.emit("blob", {"i": i, "data": blob})
            sio.emit("text", [i, text])
        sio.emit("tick", "end")
        return 1

    url = await start_server(sio)
    clients = []
    logs: list[list[Any]] = []
    done: list[asyncio.Event] = []
    for _ in range(2):
        c = socketio.AsyncClient()
        log: list[Any] = []
        ev = asyncio.Event()

        def bind(log: list[Any], ev: asyncio.Event) -> None:
            @c.on("tick")
            async def tick(v: Any) -> None:
                log.append(("tick", v))
                if v == "end":
                    ev.set()

            @c.on("blob")
            async def on_blob(v: Any) -> None:
                log.append(("blob", v["i"], v["data"] == blob))

            @c.on("text")
            async def on_text(v: Any) -> None:
                log.append(("text", v[0], v[1] == text))

        bind(log, ev)
        await c.connect(url, transports=["websocket"])
        clients.append(c)
        logs.append(log)
        done.append(ev)
    assert await clients[0].call("go", timeout=10) == 1
    for ev in done:
        await asyncio.wait_for(ev.wait(), 10)
    expected: list[Any] = []
    for i in range(3):
        expected += [("tick", i), ("blob", i, True), ("text", i, True)]
    expected.append(("tick", "end"))
    assert logs == [expected, expected]
    for c in clients:
        await c.disconnect()
