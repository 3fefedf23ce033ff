"""Memory bounds of what a client sends: each test has several clients over real
sockets try to make the server hold many times a bound, and checks that the server
(its own process) refused them as documented in SECURITY.md and that its peak RSS
stayed under ``clients x bound x overhead`` over its baseline.

* the connect queue: packets sent to a namespace whose connect handler never finishes
  (``max_connect_queue_bytes``; closed);
* a polling POST body, Content-Length or chunked, Engine.IO v4 and v3
  (``max_http_buffer_size``; 413);
* a WebSocket message, in one frame or fragmented (``max_http_buffer_size``; close
  1009);
* binary attachments awaiting their parts (at most 10 per packet, each at most
  ``max_http_buffer_size``; more announced: closed).
"""

from __future__ import annotations

import asyncio
import json
from typing import Callable

import pytest

from _bounds import WS, Closed, ServerProcess, polling, polling_session, ws_frame

CLIENTS = 6
#: what the server may hold per byte of a bound (Python objects, copies being parsed)
OVERHEAD = 3
#: each client tries to make the server hold this many times the bound
TIMES = 20


async def good_client(server: ServerProcess) -> None:
    """Verify a well-behaved client is served (connect, an acknowledged echo)."""
    ws = await WS.open(server.port)
    try:
        await ws.connect()
        assert await ws.call("echo", "ok") == ["ok"]
    finally:
        ws.abort()


async def test_connect_queue(bounds_server: Callable[..., ServerProcess]) -> None:
    """Verify clients flooding a namespace whose connect handler never finishes are
    closed at ``max_connect_queue_bytes`` and the server's memory stays bounded."""
    bound = 500_000
    server = bounds_server(max_connect_queue=10_000, max_connect_queue_bytes=bound)
    event = '42/slow,["ev",' + json.dumps("q" * 50_000) + "]"
    # warm-up: a client sends a few packets to /slow, then goes
    ws = await WS.open(server.port)
    await ws.send_text("40/slow,")
    for _ in range(3):
        await ws.send_text(event)
    ws.abort()
    await good_client(server)
    server.baseline()

    async def flood() -> int | None:
        ws = await WS.open(server.port)
        await ws.send_text("40/slow,")
        try:
            for _ in range(TIMES * bound // len(event)):
                await ws.send_text(event)
        except Closed:
            pass
        return await ws.closed()

    codes = await asyncio.gather(*(flood() for _ in range(CLIENTS)))
    assert codes == [1000] * CLIENTS, codes
    server.assert_peak_under(CLIENTS * bound * OVERHEAD)
    await server.wait_logged("while connecting to '/slow'", CLIENTS)
    await good_client(server)


@pytest.mark.parametrize("eio", ["4", "3"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_post_body(bounds_server: Callable[..., ServerProcess], eio: str, framing: str) -> None:
    """Verify polling POST bodies over ``max_http_buffer_size`` (announced, or streamed
    in chunks) get 413 while the server's memory stays bounded."""
    bound = 200_000
    server = bounds_server(max_http_buffer_size=bound, allow_eio3=True)
    http, _ = await polling_session(server.port, eio)
    http.close()
    await good_client(server)
    server.baseline()
    chunk = b"4" + b"p" * 65_535
    total = TIMES * bound

    async def flood() -> int:
        http, sid = await polling_session(server.port, eio)
        if framing == "chunked":
            head = http.request("POST", polling(sid, eio), headers={"Content-Length": "", "Transfer-Encoding": "chunked"})
            piece = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        else:
            head = http.request("POST", polling(sid, eio), headers={"Content-Length": str(total)})
            piece = chunk
        # the reply is read while the body goes: the server answers 413 and closes
        # before the body ends (what is sent after that is reset)
        reply = asyncio.ensure_future(http.response())
        try:
            await http.send(head)
            for _ in range(total // len(chunk)):
                if reply.done():
                    break
                await http.send(piece)
        except Closed:
            pass
        try:
            status, _ = await reply
        except Closed:
            # the server answered 413 and closed, and its kernel reset the connection
            # (unread bytes of the body) before the reply was read: the log says
            status = 0
        finally:
            http.close()
        return status

    statuses = await asyncio.gather(*(flood() for _ in range(CLIENTS)))
    assert set(statuses) <= {413, 0}, statuses
    log = await server.wait_logged("over max_http_buffer_size; closing", CLIENTS)
    assert log.count("over max_http_buffer_size; closing") == CLIENTS, log
    server.assert_peak_under(CLIENTS * bound * OVERHEAD)
    await good_client(server)


@pytest.mark.parametrize("shape", ["one-frame", "fragments"])
async def test_websocket_message(bounds_server: Callable[..., ServerProcess], shape: str) -> None:
    """Verify WebSocket messages over ``max_http_buffer_size``, in one frame or in
    continuation frames, close with 1009 while the server's memory stays bounded."""
    bound = 200_000
    server = bounds_server(max_http_buffer_size=bound)
    await good_client(server)
    server.baseline()
    piece = b"m" * 65_536

    async def flood() -> int | None:
        ws = await WS.open(server.port)
        await ws.connect()
        try:
            if shape == "one-frame":
                data = b"4" + b"m" * (TIMES * bound)
                await ws.send(ws_frame(0x1, data))
            else:
                await ws.send(ws_frame(0x1, b"4", fin=False))
                for _ in range(TIMES * bound // len(piece)):
                    await ws.send(ws_frame(0x0, piece, fin=False))
        except Closed:
            pass
        return await ws.closed()

    codes = await asyncio.gather(*(flood() for _ in range(CLIENTS)))
    # None: the close frame was lost to the reset of a connection with unread bytes
    assert set(codes) <= {1009, None}, codes
    log = await server.wait_logged(f"message over {bound} bytes (1009)", CLIENTS)
    assert log.count(f"message over {bound} bytes (1009)") == CLIENTS, log
    server.assert_peak_under(CLIENTS * bound * OVERHEAD)
    await good_client(server)


async def test_attachments_awaiting_parts(bounds_server: Callable[..., ServerProcess]) -> None:
    """Verify a packet waiting for its binary attachments holds at most 10 of at most
    ``max_http_buffer_size`` bytes each: clients holding 9 of 10 keep the server under
    that bound, and one announcing more than 10 is closed."""
    bound = 200_000
    server = bounds_server(max_http_buffer_size=bound)
    placeholders = ",".join(json.dumps({"_placeholder": True, "num": i}) for i in range(10))
    announce = f'4510-["ev",{placeholders}]'
    part = b"\x04" + b"a" * (bound - 16)
    ws = await WS.open(server.port)
    await ws.connect()
    await ws.send_text(announce)
    await ws.send_binary(part)
    ws.abort()
    await good_client(server)
    server.baseline()

    async def hold() -> WS:
        ws = await WS.open(server.port)
        await ws.connect()
        await ws.send_text(announce)
        for _ in range(9):
            await ws.send_binary(part)
        # a WebSocket ping behind them: its pong says the parts have been read
        await ws.send(ws_frame(0x9, b"sync"))
        assert await ws.recv() == b"sync"
        return ws

    holders = await asyncio.gather(*(hold() for _ in range(CLIENTS)))
    server.assert_peak_under(CLIENTS * 10 * bound * OVERHEAD)
    for ws in holders:
        ws.abort()

    ws = await WS.open(server.port)
    await ws.connect()
    many = ",".join(json.dumps({"_placeholder": True, "num": i}) for i in range(1000))
    await ws.send_text(f'451000-["ev",{many}]')
    await ws.closed()
    await server.wait_logged("attachments announced")
    await good_client(server)

