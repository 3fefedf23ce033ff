"""The WebSocket upgrade hands the transport to a new protocol object.

``Connection.accept_websocket`` calls ``transport.set_protocol`` with a
``WebSocketConnection`` (the Engine.IO v3 variant for an EIO3 session, chosen when it
is made): frames sent in the same write as the upgrade request reach it, the engine's
``connections`` holds the live protocol objects, and the 101 response and the OPEN
packet of an EIO4 session leave in one write.
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import fastsio
from fastsio._server.http import Connection
from fastsio._server.websocket import Eio3WebSocketConnection, WebSocketConnection


def _upgrade(query: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /engine.io/?{query} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def _masked_text(payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    return bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _echo(**options: Any) -> fastsio.EngineServer:
    eio = fastsio.EngineServer(**options)
    eio.on("connection", lambda sock: sock.on("message", sock.send))
    return eio


async def _read_until(reader: asyncio.StreamReader, needle: bytes) -> bytes:
    data = b""
    while needle not in data:
        chunk = await asyncio.wait_for(reader.read(65536), 3)
        if not chunk:
            break
        data += chunk
    return data


async def test_frames_in_the_upgrade_read_reach_the_websocket(start_server: Any) -> None:
    eio = _echo()
    url = await start_server(eio)
    host, port = eio.address
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(_upgrade("EIO=4&transport=websocket") + _masked_text(b"4hello"))
        data = await _read_until(reader, b"4hello")
        assert data.startswith(b"HTTP/1.1 101 ")
        assert b"4hello" in data
        kinds = {type(c) for c in eio.engine.connections}
        assert kinds == {WebSocketConnection}
        session = next(iter(eio.engine.sessions.values()))
        assert type(session.ws) is WebSocketConnection
    finally:
        writer.close()
    assert url


async def test_101_and_open_packet_leave_in_one_write(start_server: Any) -> None:
    eio = _echo()
    await start_server(eio)
    host, port = eio.address
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(_upgrade("EIO=4&transport=websocket"))
        # one read gets both (they were written together)
        data = await _read_until(reader, b'"sid"')
        assert data.startswith(b"HTTP/1.1 101 ") and b'0{"sid"' in data
    finally:
        writer.close()


async def test_eio3_session_gets_the_eio3_variant(start_server: Any) -> None:
    eio = _echo(allow_eio3=True)
    await start_server(eio)
    host, port = eio.address
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(_upgrade("EIO=3&transport=websocket"))
        await _read_until(reader, b'"sid"')
        session = next(iter(eio.engine.sessions.values()))
        assert type(session.ws) is Eio3WebSocketConnection
        assert session.ws.eio3
        assert not any(isinstance(c, Connection) for c in eio.engine.connections)
    finally:
        writer.close()


async def test_stop_closes_the_websocket_connections(start_server: Any) -> None:
    eio = _echo()
    await eio.start("127.0.0.1", 0)
    host, port = eio.address
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(_upgrade("EIO=4&transport=websocket"))
    await _read_until(reader, b'"sid"')
    await eio.stop()
    rest = await asyncio.wait_for(reader.read(), 3)  # EOF: the server closed it
    assert rest is not None
    writer.close()
