"""``fastsio.EngineServer`` over real sockets: connection, messages both ways, close,
heartbeat, on polling, on WebSocket and across an upgrade."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

import fastsio

from _net import Conn, WSConn, build_request, eio_path, eio_ws, polling_open


class App:
    """An EngineServer that records its sockets and what they saw."""

    def __init__(self, **options: Any) -> None:
        self.server = fastsio.EngineServer(**options)
        self.sockets: list[Any] = []
        self.messages: list[Any] = []
        self.closes: list[str] = []
        self.changed = asyncio.Event()
        self.server.on("connection", self._connection)

    def _connection(self, sock: Any) -> None:
        self.sockets.append(sock)
        sock.on("message", self._message)
        sock.on("close", self._close)
        sock.send("hello")
        sock.send(b"\x01\x02")
        self.changed.set()

    def _message(self, data: Any) -> None:
        self.messages.append(data)
        self.changed.set()

    def _close(self, reason: str) -> None:
        self.closes.append(reason)
        self.changed.set()

    async def until(self, predicate: Any, timeout: float = 5.0) -> None:
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)


# ------------------------------------------------------------------ polling


async def test_polling_connection_and_messages(start_server: Any) -> None:
    """Verify on("connection"), server text/binary sends, client messages, over polling."""
    app = App()
    url = await start_server(app.server)
    conn = await Conn.open(url)
    try:
        opened = await polling_open(conn)
        assert set(opened) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
        assert opened["upgrades"] == ["websocket"]
        assert (opened["pingInterval"], opened["pingTimeout"], opened["maxPayload"]) == (25000, 20000, 1_000_000)
        sock = app.sockets[0]
        assert sock.id == opened["sid"] and sock.transport == "polling" and sock.connected
        assert sock.request.query["EIO"] == "4"
        sid = opened["sid"]
        r = await conn.request("GET", eio_path(sid=sid))
        assert r.status == 200
        assert r.headers["content-type"] == "text/plain; charset=UTF-8"
        assert r.body == b"4hello\x1ebAQI="
        r = await conn.request("POST", eio_path(sid=sid), "4hé\x1ebAwQ=\x1e4".encode())
        assert (r.status, r.body) == (200, b"ok")
        assert app.messages == ["hé", b"\x03\x04", ""]
        assert app.server.clients_count == 1
    finally:
        conn.close()


async def test_polling_server_close(start_server: Any) -> None:
    """Verify close() from the server: the client's next GET gets the CLOSE packet."""
    app = App()
    url = await start_server(app.server)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        assert (await conn.request("GET", eio_path(sid=sid))).body == b"4hello\x1ebAQI="
        await conn.send(build_request("GET", eio_path(sid=sid)))
        await asyncio.sleep(0.02)
        app.sockets[0].send("bye")
        app.sockets[0].close()
        first = await conn.response()
        assert first.body == b"4bye"
        r = await conn.request("GET", eio_path(sid=sid))
        assert r.body == b"1"
        assert app.closes == ["forced close"]
        assert not app.sockets[0].connected
        r = await conn.request("GET", eio_path(sid=sid))
        assert r.status == 400 and r.json() == {"code": 1, "message": "Session ID unknown"}
    finally:
        conn.close()


async def test_polling_client_close(start_server: Any) -> None:
    """Verify a CLOSE packet from the client ends the session, "transport close"."""
    app = App()
    url = await start_server(app.server)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        r = await conn.request("POST", eio_path(sid=sid), b"1")
        assert r.status == 200
        assert app.closes == ["transport close"]
        assert app.server.clients_count == 0
    finally:
        conn.close()


async def test_polling_overlapping_get(start_server: Any) -> None:
    """Verify a second concurrent GET is refused 400 and the session closed."""
    app = App()
    url = await start_server(app.server)
    c1, c2 = await Conn.open(url), await Conn.open(url)
    try:
        sid = (await polling_open(c1))["sid"]
        await c1.request("GET", eio_path(sid=sid))  # drains hello
        await c1.send(build_request("GET", eio_path(sid=sid)))
        await asyncio.sleep(0.02)
        r = await c2.request("GET", eio_path(sid=sid))
        assert r.status == 400 and r.json() == {"code": 3, "message": "Bad request"}
        assert (await c1.response()).body == b"1"
        assert app.closes == ["transport error"]
    finally:
        c1.close()
        c2.close()


async def test_polling_get_connection_lost(start_server: Any) -> None:
    """Verify the connection of a pending GET going away closes the session."""
    app = App()
    url = await start_server(app.server)
    conn = await Conn.open(url)
    sid = (await polling_open(conn))["sid"]
    await conn.request("GET", eio_path(sid=sid))
    await conn.send(build_request("GET", eio_path(sid=sid)))
    await asyncio.sleep(0.02)
    conn.close()
    await app.until(lambda: app.closes)
    assert app.closes == ["transport close"]


async def test_polling_heartbeat(start_server: Any) -> None:
    """Verify the server pings, a PONG keeps the session, no PONG closes it ("ping timeout")."""
    app = App(ping_interval=0.1, ping_timeout=0.1)
    url = await start_server(app.server)
    conn = await Conn.open(url)
    try:
        opened = await polling_open(conn)
        assert (opened["pingInterval"], opened["pingTimeout"]) == (100, 100)
        sid = opened["sid"]
        await conn.request("GET", eio_path(sid=sid))
        for _ in range(2):
            r = await conn.request("GET", eio_path(sid=sid))
            assert r.body == b"2"
            assert (await conn.request("POST", eio_path(sid=sid), b"3")).status == 200
        r = await conn.request("GET", eio_path(sid=sid))
        assert r.body == b"2"
        await app.until(lambda: app.closes, timeout=2)
        assert app.closes == ["ping timeout"]
    finally:
        conn.close()


# ------------------------------------------------------------------ WebSocket (aiohttp)


async def test_websocket_connection_and_messages(start_server: Any) -> None:
    """Verify on("connection"), text/binary both ways, over a WebSocket-only session."""
    app = App()
    url = await start_server(app.server)
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url + eio_path(transport="websocket")) as ws:
            first = await ws.receive_str(timeout=5)
            opened = json.loads(first[1:])
            assert first[0] == "0" and opened["upgrades"] == []
            assert await ws.receive_str(timeout=5) == "4hello"
            assert await ws.receive_bytes(timeout=5) == b"\x01\x02"
            sock = app.sockets[0]
            assert sock.id == opened["sid"] and sock.transport == "websocket"
            await ws.send_str("4hé")
            await ws.send_bytes(b"\x00\xff")
            await ws.send_str("bAQI=")  # forceBase64 clients
            await app.until(lambda: len(app.messages) == 3)
            assert app.messages == ["hé", b"\x00\xff", b"\x01\x02"]
            sock.send(bytearray(b"\x05"))
            sock.send(memoryview(b"\x06"))
            assert await ws.receive_bytes(timeout=5) == b"\x05"
            assert await ws.receive_bytes(timeout=5) == b"\x06"
            sock.close()
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert app.closes == ["forced close"]


async def test_websocket_client_close(start_server: Any) -> None:
    """Verify a client closing the WebSocket ends the session, "transport close"."""
    app = App()
    url = await start_server(app.server)
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url + eio_path(transport="websocket")) as ws:
            await ws.receive_str(timeout=5)
            await ws.close()
    await app.until(lambda: app.closes)
    assert app.closes == ["transport close"]
    assert app.server.clients_count == 0


async def test_websocket_close_packet(start_server: Any) -> None:
    """Verify a CLOSE packet over the WebSocket ends the session."""
    app = App()
    url = await start_server(app.server)
    ws, _ = await eio_ws(url)
    try:
        await ws.send_text("1")
        assert await ws.close_code() == 1000
        assert app.closes == ["transport close"]
    finally:
        ws.close()


async def test_websocket_heartbeat(start_server: Any) -> None:
    """Verify pings over the WebSocket, and the ping timeout."""
    app = App(ping_interval=0.1, ping_timeout=0.1)
    url = await start_server(app.server)
    ws, _ = await eio_ws(url)
    try:
        assert await ws.recv() == "4hello"
        assert await ws.recv() == b"\x01\x02"
        assert await ws.recv() == "2"
        await ws.send_text("3")
        assert await ws.recv() == "2"
        assert await ws.close_code(timeout=2) == 1000
        assert app.closes == ["ping timeout"]
    finally:
        ws.close()


async def test_websocket_ping_frames_answered(start_server: Any) -> None:
    """Verify WebSocket PING frames get PONG frames with the same payload."""
    app = App()
    url = await start_server(app.server)
    ws, _ = await eio_ws(url)
    try:
        await ws.recv()
        await ws.recv()
        from _net import frame

        await ws.send(frame(0x9, b"abc"))
        assert await ws.recv_frame() == (0xA, b"abc")
    finally:
        ws.close()


# ------------------------------------------------------------------ upgrade


async def test_upgrade_polling_to_websocket(start_server: Any) -> None:
    """Verify the upgrade: probe, 3probe, NOOP for the pending GET, 5, queue flushed."""
    app = App(cookie="io")
    url = await start_server(app.server)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        assert (await conn.request("GET", eio_path(sid=sid))).body == b"4hello\x1ebAQI="
        await conn.send(build_request("GET", eio_path(sid=sid)))
        await asyncio.sleep(0.02)
        ws = await WSConn.connect(url, eio_path(sid=sid, transport="websocket"))
        await ws.send_text("2probe")
        assert await ws.recv() == "3probe"
        assert (await conn.response()).body == b"6"
        sock = app.sockets[0]
        sock.send("while upgrading")
        # a GET during the upgrade gets what was queued
        assert (await conn.request("GET", eio_path(sid=sid))).body == b"4while upgrading"
        sock.send("queued")
        await ws.send_text("5")
        assert await ws.recv() == "4queued"
        assert sock.transport == "websocket"
        await ws.send_text("4over ws")
        await app.until(lambda: app.messages)
        assert app.messages == ["over ws"]
        sock.send(b"\x09")
        assert await ws.recv() == b"\x09"
        # polling is over for this session
        r = await conn.request("GET", eio_path(sid=sid))
        assert r.status == 400 and r.json() == {"code": 3, "message": "Bad request"}
        # a second upgrade is refused (accepted, then closed)
        ws2 = await WSConn.connect(url, eio_path(sid=sid, transport="websocket"))
        assert await ws2.close_code() == 1000
        ws2.close()
        sock.close()
        assert await ws.close_code() == 1000
        ws.close()
    finally:
        conn.close()
    assert app.closes == ["forced close"]


async def test_upgrade_with_aiohttp(start_server: Any) -> None:
    """Verify the upgrade with an HTTP client library end to end."""
    app = App()
    url = await start_server(app.server)
    async with aiohttp.ClientSession() as http:
        async with http.get(url + eio_path()) as r:
            sid = json.loads((await r.text())[1:])["sid"]
        async with http.get(url + eio_path(sid=sid)) as r:
            assert await r.text() == "4hello\x1ebAQI="
        async with http.ws_connect(url + eio_path(sid=sid, transport="websocket")) as ws:
            await ws.send_str("2probe")
            assert await ws.receive_str(timeout=5) == "3probe"
            await ws.send_str("5")
            await ws.send_str("4after")
            await app.until(lambda: app.messages)
            assert app.messages == ["after"]
            app.sockets[0].send("back")
            assert await ws.receive_str(timeout=5) == "4back"


async def test_upgrade_timeout_keeps_polling(start_server: Any) -> None:
    """Verify a probe that never sends UPGRADE is dropped and polling goes on."""
    app = App(upgrade_timeout=0.1)
    url = await start_server(app.server)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        await conn.request("GET", eio_path(sid=sid))
        ws = await WSConn.connect(url, eio_path(sid=sid, transport="websocket"))
        await ws.send_text("2probe")
        assert await ws.recv() == "3probe"
        assert await ws.close_code(timeout=2) == 1000
        ws.close()
        app.sockets[0].send("still polling")
        assert (await conn.request("GET", eio_path(sid=sid))).body == b"4still polling"
        assert app.sockets[0].transport == "polling" and app.closes == []
    finally:
        conn.close()


async def test_upgrade_unknown_sid(start_server: Any) -> None:
    """Verify an upgrade for an unknown sid gets 400 code 1."""
    app = App()
    url = await start_server(app.server)
    conn = await Conn.open(url)
    try:
        r = await conn.request(
            "GET",
            eio_path(sid="nope", transport="websocket"),
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
            },
        )
        assert r.status == 400 and r.json() == {"code": 1, "message": "Session ID unknown"}
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("options", "upgrades"),
    [
        ({}, ["websocket"]),
        ({"allow_upgrades": False}, []),
        ({"transports": ("polling",)}, []),
    ],
)
async def test_upgrades_offered(start_server: Any, options: dict[str, Any], upgrades: list[str]) -> None:
    """Verify the OPEN packet offers the upgrade only when it is allowed."""
    url = await start_server(fastsio.EngineServer(**options))
    conn = await Conn.open(url)
    try:
        assert (await polling_open(conn))["upgrades"] == upgrades
    finally:
        conn.close()


async def test_websocket_only_server_refuses_polling(start_server: Any) -> None:
    """Verify transports=("websocket",) refuses polling with code 0."""
    url = await start_server(fastsio.EngineServer(transports=("websocket",)))
    conn = await Conn.open(url)
    try:
        r = await conn.request("GET", eio_path())
        assert r.status == 400 and r.json() == {"code": 0, "message": "Transport unknown"}
    finally:
        conn.close()
    ws, _ = await eio_ws(url)
    ws.close()


async def test_listener_errors_are_contained(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify exceptions in the application's listeners are logged, not fatal."""
    eio = fastsio.EngineServer()

    def connection(sock: Any) -> None:
        sock.on("message", lambda data: 1 / 0)
        raise RuntimeError("boom in connection")

    eio.on("connection", connection)
    url = await start_server(eio)
    ws, _ = await eio_ws(url)
    try:
        await ws.send_text("4x")
        await asyncio.sleep(0.05)
        assert "connection listener raised" in logs.text
        assert "message listener raised" in logs.text
        ws2, _ = await eio_ws(url)
        ws2.close()
    finally:
        ws.close()
