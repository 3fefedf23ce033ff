"""Broadcasts mixing small packets with large ones (frames of ``DIRECT_BYTES`` or more,
handed to the transport as they are, in one ``writelines`` with the small ones, not joined):
real python-socketio clients over WebSocket get every packet, whole and in order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import fastsio
import socketio

from _net import WSConn, eio_path
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


async def test_large_frames_wait_behind_held_writes(start_server: Any) -> None:
    """Verify an Engine.IO v3 WebSocket, whose writes are held after the 101 (the OPEN
    packet goes a moment later), gets large frames sent at once on connection after the
    OPEN packet, in order, not ahead of it."""
    eio = fastsio.EngineServer(allow_eio3=True)
    text = "4" + "t" * (2 * DIRECT_BYTES)
    blob = bytes(range(256)) * (4 * DIRECT_BYTES // 256)

    @eio.on("connection")
    def connection(sock: fastsio.EngineSocket) -> None:
        sock.send("small")
        sock.send(text[1:])
        sock.send(blob)
        sock.send("after")

    url = await start_server(eio)
    ws = await WSConn.connect(url, eio_path("/engine.io/", EIO="3", transport="websocket"))
    first = await ws.recv()
    assert isinstance(first, str) and first.startswith('0{"sid":')
    assert await ws.recv() == "4small"
    assert await ws.recv() == text
    assert await ws.recv() == b"\x04" + blob
    assert await ws.recv() == "4after"
    ws.close()
