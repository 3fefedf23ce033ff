"""Bad input of every kind, over real sockets: each gets the protocol's answer (a status
or a close code) and a log line, never a traceback; and after each, the server still
serves another client normally."""

from __future__ import annotations

import asyncio
import json
import logging
import socket as socketlib
import struct
from typing import Any

import pytest

import fastsio
from fastsio._server import http as http_mod

from _net import (
    Conn,
    WSConn,
    binary,
    build_request,
    eio_path,
    eio_ws,
    frame,
    hostport,
    polling_open,
    raw_exchange,
    sio_ws,
    text,
)

MAX = 1000  # max_http_buffer_size of the servers here


class Apps:
    """An Engine.IO echo server and a Socket.IO server, side by side."""

    def __init__(self) -> None:
        self.eio = fastsio.EngineServer(max_http_buffer_size=MAX)
        self.eio_closes: list[str] = []
        self.eio.on("connection", self._eio_connection)
        self.sio = fastsio.Server(max_http_buffer_size=MAX, connect_timeout=0.3)
        self.sio_disconnects: list[str] = []
        self.acks: list[tuple[Any, ...]] = []

        @self.sio.on("echo")
        def echo(socket: Any, *args: Any) -> Any:
            socket.emit("echoed", *args)
            return args

        @self.sio.on("flood")
        def flood(socket: Any, n: int, size: int) -> None:
            for i in range(n):
                socket.emit("chunk", i, "x" * size)

        @self.sio.on("ask")
        def ask(socket: Any) -> None:
            socket.emit("question", callback=lambda *args: self.acks.append(args))

        @self.sio.on("disconnect")
        def gone(socket: Any, reason: str) -> None:
            self.sio_disconnects.append(reason)

        self.eio_url = ""
        self.sio_url = ""

    def _eio_connection(self, sock: Any) -> None:
        sock.on("message", sock.send)
        sock.on("close", self.eio_closes.append)

    async def start(self, start_server: Any) -> Apps:
        self.eio_url = await start_server(self.eio)
        self.sio_url = await start_server(self.sio)
        return self

    async def still_serves(self) -> None:
        """Verify fresh clients get a full round trip on both servers."""
        conn = await Conn.open(self.eio_url)
        try:
            sid = (await polling_open(conn))["sid"]
            assert (await conn.request("POST", eio_path(sid=sid), b"4ping")).status == 200
            assert (await conn.request("GET", eio_path(sid=sid))).body == b"4ping"
        finally:
            conn.close()
        ws, _ = await eio_ws(self.eio_url)
        try:
            await ws.send_text("4hi")
            assert await ws.recv() == "4hi"
        finally:
            ws.close()
        ws, _ = await sio_ws(self.sio_url)
        try:
            await ws.send_text('421["echo","ok"]')
            assert await ws.recv() == '42["echoed","ok"]'
            assert await ws.recv() == '431["ok"]'
        finally:
            ws.close()


@pytest.fixture
async def apps(start_server: Any, logs: pytest.LogCaptureFixture) -> Apps:
    """Return both servers, started."""
    return await Apps().start(start_server)


def assert_logged(logs: pytest.LogCaptureFixture, *needles: str) -> None:
    """Verify a fastsio log line names the problem, and nothing logged a traceback."""
    records = [r for r in logs.records if r.name.startswith("fastsio")]
    assert records, "no log line"
    text_ = "\n".join(r.getMessage() for r in records)
    for needle in needles:
        assert needle in text_, (needle, text_)
    tracebacks = [r for r in logs.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


# ------------------------------------------------------------------ HTTP


@pytest.mark.parametrize(
    ("data", "status", "needle"),
    [
        pytest.param(b"GARBAGE\r\n\r\n", 400, "malformed HTTP", id="request-line"),
        pytest.param(b"GET / HTTP/1.1\r\nNo Colon Here\r\n\r\n", 400, "malformed HTTP", id="header-line"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n b\x7f\x00\r\n\r\n", 400, "malformed HTTP", id="header-bytes"),
        pytest.param(b"GET /\x00 HTTP/1.1\r\n\r\n", 400, "malformed HTTP", id="url-nul"),
        pytest.param(
            build_request("GET", "/", headers={"X": "y" * (http_mod.MAX_HEADER_BYTES + 10)}),
            431,
            "refused: 431",
            id="oversize-headers",
        ),
        pytest.param(
            build_request("GET", "/" + "u" * (http_mod.MAX_HEADER_BYTES + 10)), 414, "refused: 414", id="oversize-url"
        ),
        pytest.param(
            build_request("POST", "/engine.io/?EIO=4&transport=polling&sid=x", b"4" * (MAX + 1)),
            413,
            "over the limit",
            id="oversize-body",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"100\r\n" + b"x" * 256 + b"\r\n" * 1 + b"400\r\n" + b"x" * 1024 + b"\r\n0\r\n\r\n",
            413,
            "over the limit",
            id="oversize-chunked-body",
        ),
        pytest.param(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 400, "malformed HTTP", id="bad-chunk"),
    ],
)
async def test_bad_http(apps: Apps, logs: pytest.LogCaptureFixture, data: bytes, status: int, needle: str) -> None:
    """Verify malformed or oversize HTTP gets its status, then the connection closes."""
    for url in (apps.eio_url, apps.sio_url):
        out = await raw_exchange(url, data)
        assert out.startswith(b"HTTP/1.1 %d " % status), out[:60]
        assert b"Connection: close" in out.split(b"\r\n\r\n")[0]
    assert_logged(logs, needle)
    await apps.still_serves()


async def test_bad_http_pipelined_behind_good_request(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify garbage after a good request: the good one is answered, then 400."""
    out = await raw_exchange(apps.eio_url, build_request("GET", eio_path()) + b"\x00\x01\x02\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 400 " in out
    assert_logged(logs, "malformed HTTP")
    await apps.still_serves()


async def test_client_disconnects_mid_request(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify half a request, then the end of the connection, is harmless."""
    conn = await Conn.open(apps.eio_url)
    await conn.send(b"POST /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nContent-Length: 100\r\n\r\n4abc")
    conn.close()
    conn = await Conn.open(apps.eio_url)
    await conn.send(b"GET /engine.io/?EIO=4&transport=pol")
    conn.close()
    await asyncio.sleep(0.05)
    await apps.still_serves()


# ------------------------------------------------------------------ Engine.IO POST bodies


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        pytest.param(b"7hello", "bad payload", id="unknown-packet-type"),
        pytest.param(b"4a\x1e", "bad payload", id="empty-packet"),
        pytest.param(b"", "bad payload", id="empty-body"),
        pytest.param(b"4\xff\xfe", "bad POST body", id="non-utf8"),
        pytest.param(b"b!!!", "bad payload", id="bad-base64"),
        pytest.param(b"bAQI", "bad payload", id="base64-no-padding"),
    ],
)
async def test_bad_post_body(apps: Apps, logs: pytest.LogCaptureFixture, body: bytes, needle: str) -> None:
    """Verify a POST that does not parse is answered 400 code 3 and its session closed."""
    conn = await Conn.open(apps.eio_url)
    try:
        sid = (await polling_open(conn))["sid"]
        r = await conn.request("POST", eio_path(sid=sid), body)
        assert r.status == 400 and r.json() == {"code": 3, "message": "Bad request"}
        assert apps.eio_closes == ["parse error"]
        r = await conn.request("GET", eio_path(sid=sid))
        assert r.status == 400 and r.json()["code"] == 1
    finally:
        conn.close()
    assert_logged(logs, needle)
    await apps.still_serves()


async def test_bad_post_releases_pending_get(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify a bad POST answers the session's pending GET with the CLOSE packet."""
    c1, c2 = await Conn.open(apps.eio_url), await Conn.open(apps.eio_url)
    try:
        sid = (await polling_open(c1))["sid"]
        await c1.send(build_request("GET", eio_path(sid=sid)))
        await asyncio.sleep(0.02)
        r = await c2.request("POST", eio_path(sid=sid), b"9")
        assert r.status == 400
        assert (await c1.response()).body == b"1"
    finally:
        c1.close()
        c2.close()
    assert_logged(logs, "bad payload")
    await apps.still_serves()


async def test_oversize_post_closes_session(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify a POST over maxHttpBufferSize is answered 413 and its session closed."""
    conn = await Conn.open(apps.eio_url)
    try:
        sid = (await polling_open(conn))["sid"]
        await conn.send(build_request("POST", eio_path(sid=sid), b"4" + b"x" * MAX))
        assert (await conn.response()).status == 413
    finally:
        conn.close()
    assert apps.eio_closes == ["transport error"]
    assert_logged(logs, "over the limit", "closing")
    await apps.still_serves()


async def test_bad_websocket_handshake(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify a broken WebSocket handshake is answered 400 code 3."""
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "short"}
    out = await raw_exchange(apps.eio_url, build_request("GET", eio_path(transport="websocket"), headers=headers))
    assert out.startswith(b"HTTP/1.1 400 ")
    assert out.endswith(b'{"code":3,"message":"Bad request"}')
    assert_logged(logs, "bad WebSocket handshake")
    await apps.still_serves()


# ------------------------------------------------------------------ WebSocket frames

_BIG = b"4" + b"x" * MAX


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(frame(0x1, b"4hi", masked=False), 1002, id="unmasked"),
        pytest.param(frame(0x3, b"4hi"), 1002, id="opcode-3"),
        pytest.param(frame(0xB, b""), 1002, id="opcode-11"),
        pytest.param(frame(0x1, b"4hi", rsv=4), 1002, id="rsv1"),
        pytest.param(frame(0x1, b"4hi", rsv=1), 1002, id="rsv3"),
        pytest.param(frame(0x1, _BIG), 1009, id="oversize-text"),
        pytest.param(frame(0x2, b"x" * (MAX + 1)), 1009, id="oversize-binary"),
        pytest.param(frame(0x1, _BIG[:600], fin=False) + frame(0x0, _BIG[600:]), 1009, id="oversize-fragmented"),
        pytest.param(frame(0x1, b"4\xff\xfe"), 1007, id="invalid-utf8"),
        pytest.param(frame(0x1, b"4\xed\xa0\x80"), 1007, id="utf8-surrogate"),
        pytest.param(frame(0x1, b"4\xe2\x82", fin=False) + frame(0x0, b"x"), 1007, id="invalid-utf8-fragmented"),
        pytest.param(frame(0x9, b"p" * 126), 1002, id="control-over-125"),
        pytest.param(frame(0x9, b"p", fin=False), 1002, id="fragmented-ping"),
        pytest.param(frame(0x8, struct.pack("!H", 1000), fin=False), 1002, id="fragmented-close"),
        pytest.param(frame(0x8, struct.pack("!H", 999)), 1002, id="close-code-999"),
        pytest.param(frame(0x8, struct.pack("!H", 1005)), 1002, id="close-code-1005"),
        pytest.param(frame(0x8, struct.pack("!H", 1016)), 1002, id="close-code-1016"),
        pytest.param(frame(0x8, struct.pack("!H", 5000)), 1002, id="close-code-5000"),
        pytest.param(frame(0x8, b"\x03"), 1002, id="close-1-byte"),
        pytest.param(frame(0x8, struct.pack("!H", 1000) + b"\xff"), 1007, id="close-reason-not-utf8"),
        pytest.param(frame(0x0, b"4hi"), 1002, id="continuation-without-start"),
        pytest.param(frame(0x1, b"4h", fin=False) + frame(0x1, b"i"), 1002, id="text-inside-fragmented"),
        pytest.param(b"\x81\xfe\x00\x05" + b"\x00" * 9, 1002, id="non-minimal-length"),
        pytest.param(b"\x82\xff\x80" + b"\x00" * 7 + b"\x00" * 4, 1002, id="length-msb-set"),
    ],
)
async def test_bad_websocket_frames(apps: Apps, logs: pytest.LogCaptureFixture, data: bytes, code: int) -> None:
    """Verify each RFC 6455 violation gets its close code, on both servers."""
    ws, _ = await eio_ws(apps.eio_url)
    try:
        await ws.send(data)
        assert await ws.close_code() == code
        assert await ws.eof(timeout=3)
    finally:
        ws.close()
    assert apps.eio_closes == ["transport close"]
    sws, _ = await sio_ws(apps.sio_url)
    try:
        await sws.send(data)
        assert await sws.close_code() == code
    finally:
        sws.close()
    await asyncio.sleep(0.01)
    assert apps.sio_disconnects == ["transport close"]
    assert_logged(logs, "WebSocket protocol error", str(code))
    await apps.still_serves()


async def test_websocket_good_frames_before_bad_one(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify a fragmented message, a ping and a close from the client are all fine."""
    ws, _ = await eio_ws(apps.eio_url)
    try:
        await ws.send(frame(0x1, b"4ab", fin=False) + frame(0x9, b"!") + frame(0x0, b"c"))
        assert await ws.recv_frame() == (0xA, b"!")
        assert await ws.recv() == "4abc"
        await ws.send(frame(0x8, struct.pack("!H", 4000) + b"bye"))
        assert await ws.close_code() == 4000
        assert await ws.eof()
    finally:
        ws.close()
    await apps.still_serves()


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        pytest.param(text("9"), "invalid packet", id="unknown-type"),
        pytest.param(text(""), "invalid packet", id="empty"),
        pytest.param(text("b!!!"), "invalid packet", id="bad-base64"),
        pytest.param(text("2"), "PING from the client", id="ping-from-client"),
        pytest.param(text("0"), "unexpected packet type", id="open-from-client"),
        pytest.param(text("5"), "unexpected packet type", id="upgrade-on-active-socket"),
    ],
)
async def test_bad_engine_io_packet_over_websocket(
    apps: Apps, logs: pytest.LogCaptureFixture, message: bytes, needle: str
) -> None:
    """Verify an invalid Engine.IO packet closes the session ("parse error")."""
    ws, _ = await eio_ws(apps.eio_url)
    try:
        await ws.send(message)
        assert await ws.close_code() == 1000
    finally:
        ws.close()
    assert apps.eio_closes == ["parse error"]
    assert_logged(logs, needle)
    await apps.still_serves()


# ------------------------------------------------------------------ Socket.IO


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        pytest.param([text("47")], "invalid packet", id="unknown-type"),
        pytest.param([text("4")], "invalid packet", id="empty-packet"),
        pytest.param([text('42["echo"')], "invalid packet", id="bad-json"),
        pytest.param([text('42["echo",NaN]')], "invalid packet", id="json-nan"),
        pytest.param([text('42{"a":1}')], "invalid packet", id="event-object"),
        pytest.param([text("42[]")], "invalid packet", id="event-empty"),
        pytest.param([text('42["connect"]')], "invalid packet", id="reserved-event"),
        pytest.param([text('42["disconnect",1]')], "invalid packet", id="reserved-event-disconnect"),
        pytest.param([text('43["x"]')], "invalid packet", id="ack-without-id"),
        pytest.param([text("43x")], "invalid packet", id="ack-bad-id"),
        pytest.param([text('431{"a":1}')], "invalid packet", id="ack-object"),
        pytest.param([text("41{}")], "invalid packet", id="disconnect-payload"),
        pytest.param([text('451["x"]')], "invalid packet", id="attachments-no-dash"),
        pytest.param(
            [text('451-["x",{"_placeholder":true,"num":1}]'), binary(b"\x01")],
            "illegal attachments",
            id="attachment-count-mismatch",
        ),
        pytest.param(
            [text('451-["x",{"_placeholder":true,"num":0}]'), text('42["echo"]')],
            "attachments were expected",
            id="text-while-attachments-expected",
        ),
        pytest.param([binary(b"\x01\x02")], "unexpected binary", id="binary-not-expected"),
        pytest.param([text('42/nope,["echo"]')], "unconnected namespace", id="event-unconnected-namespace"),
        pytest.param([text("40")], "second CONNECT", id="second-connect"),
        pytest.param([text('44{"message":"x"}')], "unexpected packet type", id="connect-error-from-client"),
        pytest.param([text("40/nope,"), text('42/nope,["echo"]')], "unconnected namespace", id="event-refused-namespace"),
    ],
)
async def test_bad_socket_io_packets(
    apps: Apps, logs: pytest.LogCaptureFixture, messages: list[bytes], needle: str
) -> None:
    """Verify an invalid Socket.IO packet closes the connection ("parse error")."""
    ws, _ = await sio_ws(apps.sio_url)
    try:
        for m in messages:
            await ws.send(m)
        assert await ws.close_code() == 1000
    finally:
        ws.close()
    await asyncio.sleep(0.01)
    assert apps.sio_disconnects == ["parse error"]
    assert_logged(logs, needle)
    await apps.still_serves()


async def test_bad_socket_io_packet_over_polling(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify an invalid Socket.IO packet in a POST closes the polling session too."""
    conn = await Conn.open(apps.sio_url)
    try:
        sid = (await polling_open(conn, "/socket.io/"))["sid"]
        p = lambda **q: eio_path("/socket.io/", **q)  # noqa: E731
        assert (await conn.request("POST", p(sid=sid), b"40")).status == 200
        assert (await conn.request("GET", p(sid=sid))).body.startswith(b"40{")
        assert (await conn.request("POST", p(sid=sid), b'42["echo"')).status == 200
        r = await conn.request("GET", p(sid=sid))
        assert r.status == 400 and r.json() == {"code": 1, "message": "Session ID unknown"}
    finally:
        conn.close()
    assert apps.sio_disconnects == ["parse error"]
    assert_logged(logs, "invalid packet")
    await apps.still_serves()


async def test_connect_unknown_namespace(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify CONNECT to an unknown namespace gets CONNECT_ERROR "Invalid namespace"; the
    connection stays usable."""
    ws, _ = await eio_ws(apps.sio_url, "/socket.io/")
    try:
        await ws.send_text("40/nope,")
        assert await ws.recv() == '44/nope,{"message":"Invalid namespace"}'
        await ws.send_text('40/nope,{"token":1}')
        assert await ws.recv() == '44/nope,{"message":"Invalid namespace"}'
        await ws.send_text("40")
        assert (await ws.recv()).startswith("40{")  # type: ignore[union-attr]
        await ws.send_text('421["echo",1]')
        assert await ws.recv() == '42["echoed",1]'
        assert await ws.recv() == "431[1]"
    finally:
        ws.close()
    assert_logged(logs, "CONNECT to unknown namespace")
    await apps.still_serves()


async def test_unknown_ack_id_is_ignored(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify an ACK for an id the server never used is dropped; the connection goes on."""
    logs.set_level(logging.DEBUG, logger="fastsio")
    ws, _ = await sio_ws(apps.sio_url)
    try:
        await ws.send_text('43999["late"]')
        await ws.send_text('421["echo","still here"]')
        assert await ws.recv() == '42["echoed","still here"]'
        assert await ws.recv() == '431["still here"]'
    finally:
        ws.close()
    assert_logged(logs, "unknown ack id")
    await apps.still_serves()


async def test_ack_without_payload(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify an ACK with no payload ("43<id>") calls the callback with no arguments."""
    ws, _ = await sio_ws(apps.sio_url)
    try:
        await ws.send_text('42["ask"]')
        question = await ws.recv()
        assert isinstance(question, str) and question.startswith("42") and question.endswith('["question"]')
        ack_id = question[2 : question.index("[")]
        await ws.send_text("43" + ack_id)
        for _ in range(100):
            if apps.acks:
                break
            await asyncio.sleep(0.01)
        assert apps.acks == [()]
    finally:
        ws.close()
    tracebacks = [r for r in logs.records if r.exc_info]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


async def test_lone_surrogate_round_trip(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify a string with a lone surrogate (valid JSON, "\\ud800") echoes back escaped."""
    ws, _ = await sio_ws(apps.sio_url)
    try:
        await ws.send_text('421["echo","a\\ud800b"]')
        echoed = await ws.recv()
        assert isinstance(echoed, str) and json.loads(echoed[2:]) == ["echoed", "a\ud800b"]
        acked = await ws.recv()
        assert isinstance(acked, str) and json.loads(acked[3:]) == ["a\ud800b"]
    finally:
        ws.close()
    tracebacks = [r for r in logs.records if r.exc_info]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    await apps.still_serves()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_no_connect_within_connect_timeout(apps: Apps, logs: pytest.LogCaptureFixture, transport: str) -> None:
    """Verify a client that never sends CONNECT is closed after connect_timeout."""
    if transport == "websocket":
        ws, _ = await eio_ws(apps.sio_url, "/socket.io/")
        try:
            assert await ws.close_code(timeout=3) == 1000
        finally:
            ws.close()
    else:
        conn = await Conn.open(apps.sio_url)
        try:
            sid = (await polling_open(conn, "/socket.io/"))["sid"]
            r = await conn.request("GET", eio_path("/socket.io/", sid=sid))
            assert r.body == b"1"
        finally:
            conn.close()
    assert_logged(logs, "sent no CONNECT in time")
    await apps.still_serves()


async def test_slow_client_does_not_stop_the_server(apps: Apps, logs: pytest.LogCaptureFixture) -> None:
    """Verify a client that stops reading while the server sends a lot harms no one else."""
    host, port = hostport(apps.sio_url)
    sock = socketlib.socket()
    sock.setsockopt(socketlib.SOL_SOCKET, socketlib.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    reader, writer = await asyncio.open_connection(sock=sock)
    slow = WSConn(reader, writer)
    try:
        await slow.send(
            build_request(
                "GET",
                eio_path("/socket.io/", transport="websocket"),
                headers={
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version": "13",
                },
            )
        )
        assert (await slow.response_head()).status == 101
        await slow.recv()
        await slow.send_text("40")
        await slow.recv()
        # ask for ~6 MB and stop reading
        await slow.send_text('42["flood",100,60000]')
        for _ in range(3):
            await asyncio.sleep(0.05)
            await apps.still_serves()
    finally:
        slow.close()
    await asyncio.sleep(0.05)
    await apps.still_serves()
