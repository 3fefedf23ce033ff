"""Engine.IO v3 and Socket.IO v4 (``allow_eio3=True``: socket.io-client 1.x/2.x) over
raw HTTP and WebSocket, byte for byte.

The real clients are driven by tests/conformance/test_legacy_clients.py (Node) and
tests/browser (Chromium); here the wire format, the error answers and the edge cases.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

import fastsio
from _net import Conn, WSConn, eio_path

TEXT = "héllo 世界 🎉"
OLD_T = "1418000000000-0"  # engine.io-client 1.4's cache-busting parameter


def u16(s: str) -> int:
    """JavaScript's string length."""
    return len(s.encode("utf-16-le")) // 2


def tp(*packets: str) -> bytes:
    """A text payload of ``packets``."""
    return "".join(f"{u16(p)}:{p}" for p in packets).encode()


def path3(path: str = "/engine.io/", **query: str) -> str:
    return eio_path(path, EIO="3", **query)


def echo_engine(**options: Any) -> fastsio.EngineServer:
    eio = fastsio.EngineServer(allow_eio3=True, **options)

    @eio.on("connection")
    def connection(sock: fastsio.EngineSocket) -> None:
        sock.on("message", sock.send)

    return eio


def text_payload(body: bytes) -> list[str]:
    """Split a text payload (ASCII or not) into its packets, checking UTF-16 lengths."""
    s = body.decode()
    out = []
    while s:
        n, _, s = s.partition(":")
        units = s.encode("utf-16-le")[: int(n) * 2].decode("utf-16-le")
        out.append(units)
        s = s[len(units) :]
    return out


def binary_payload(body: bytes) -> list[str | bytes]:
    out: list[str | bytes] = []
    i = 0
    while i < len(body):
        kind = body[i]
        j = body.index(255, i)
        n = int("".join(str(d) for d in body[i + 1 : j]))
        data = body[j + 1 : j + 1 + n]
        out.append(data.decode() if kind == 0 else data)
        i = j + 1 + n
    return out


async def open3(conn: Conn, path: str = "/engine.io/", **query: str) -> tuple[str, Any]:
    r = await conn.request("GET", path3(path, **query))
    assert r.status == 200, r
    if r.headers["content-type"] == "application/octet-stream":
        (packet,) = binary_payload(r.body)
    else:
        (packet,) = text_payload(r.body)
    assert isinstance(packet, str) and packet[0] == "0"
    return json.loads(packet[1:])["sid"], r


@pytest.fixture
def no_errors(caplog: pytest.LogCaptureFixture) -> Any:
    """Fail the test if fastsio logged an error (a handler or the server crashed)."""
    caplog.set_level(logging.INFO, logger="fastsio")
    yield caplog
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


# ---------------------------------------------------------------------- refused without allow_eio3


async def test_eio3_refused_by_default(start_server: Any) -> None:
    """Verify the reference server's answer to EIO=3 when allow_eio3 is off."""
    url = await start_server(fastsio.Server())
    conn = await Conn.open(url)
    r = await conn.request("GET", path3("/socket.io/"))
    assert r.status == 400
    assert r.body == b'{"code":5,"message":"Unsupported protocol version"}'
    conn.close()
    ws = await Conn.open(url)
    r = await ws.request(
        "GET",
        path3("/socket.io/", transport="websocket"),
        headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "a2V5a2V5a2V5a2V5a2V5aw==",
                 "Sec-WebSocket-Version": "13"},
    )
    assert r.status == 400 and r.json() == {"code": 5, "message": "Unsupported protocol version"}
    ws.close()


# ---------------------------------------------------------------------- polling framing


async def test_handshake_framings(start_server: Any, no_errors: Any) -> None:
    """Verify the OPEN packet: text payload, binary for engine.io-client 1.4, JSONP."""
    url = await start_server(echo_engine(ping_interval=0.3, ping_timeout=0.2))
    conn = await Conn.open(url)
    sid, r = await open3(conn)
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    n, _, packet = r.body.decode().partition(":")
    assert int(n) == len(packet)
    data = json.loads(packet[1:])
    assert (data["upgrades"], data["pingInterval"], data["pingTimeout"]) == (["websocket"], 300, 200)
    # engine.io-client 1.4 in a browser reads nothing but binary payloads
    sid2, r = await open3(conn, t=OLD_T)
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.body[0] == 0 and 255 in r.body
    # with b64 it reads text
    _, r = await open3(conn, t=OLD_T, b64="1")
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    # JSONP
    r = await conn.request("GET", path3(j="4"))
    assert r.headers["content-type"] == "text/javascript; charset=UTF-8"
    body = r.body.decode()
    assert body.startswith('___eio[4]("') and body.endswith('");')
    (packet,) = text_payload(json.loads(body[len("___eio[4](") : -2]).encode())
    assert packet.startswith('0{"sid":')
    conn.close()


async def test_polling_text_and_binary_payloads(start_server: Any, no_errors: Any) -> None:
    """Verify POSTs as text and binary payloads, and what GETs give back."""
    url = await start_server(echo_engine())
    conn = await Conn.open(url)
    sid, _ = await open3(conn)
    target = path3(sid=sid)
    # text payload with base64 binary: ASCII text goes back as a text payload...
    r = await conn.request("POST", target, b"6:4hello")
    assert (r.status, r.body) == (200, b"ok")
    r = await conn.request("GET", target)
    assert (r.headers["content-type"], r.body) == ("text/plain; charset=UTF-8", b"6:4hello")
    # ...binary or non-ASCII as a binary payload (UTF-8 text, byte lengths)
    r = await conn.request("POST", target, f"6:4hello10:b4AQIDBA=={u16(TEXT) + 1}:4{TEXT}".encode())
    assert r.status == 200
    r = await conn.request("GET", target)
    assert r.headers["content-type"] == "application/octet-stream"
    assert binary_payload(r.body) == ["4hello", b"\x04\x01\x02\x03\x04", "4" + TEXT]
    # a binary payload POST (application/octet-stream)
    data = "4" + TEXT
    body = bytes([0, *map(int, str(len(data.encode()))), 255]) + data.encode() + bytes([1, 3, 255, 4, 9, 8])
    r = await conn.request("POST", target, body, {"Content-Type": "application/octet-stream"})
    assert (r.status, r.body) == (200, b"ok")
    r = await conn.request("GET", target)
    assert binary_payload(r.body) == ["4" + TEXT, b"\x04\x09\x08"]
    conn.close()


async def test_b64_client_text(start_server: Any, no_errors: Any) -> None:
    """Verify a b64 client: UTF-16 lengths (parser 2.x) or UTF-8 in the text (parser 1.x)."""
    url = await start_server(echo_engine())
    conn = await Conn.open(url)
    # parser 2.x: the text as it is, lengths in UTF-16 units
    sid, _ = await open3(conn, b64="1")
    target = path3(sid=sid)
    r = await conn.request("POST", target, f"{u16(TEXT) + 1}:4{TEXT}".encode())
    assert r.status == 200
    r = await conn.request("GET", target)
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    assert text_payload(r.body) == ["4" + TEXT]
    assert r.body.decode().startswith(f"{len(TEXT) + 2}:")  # 🎉 counts 2 (JavaScript)
    r = await conn.request("POST", target, b"6:b4AQI=")
    r = await conn.request("GET", target)
    assert r.body == b"6:b4AQI="
    # parser 1.x (engine.io-client 1.4, recognised by its t parameter): UTF-8 bytes as chars
    sid, _ = await open3(conn, b64="1", t=OLD_T)
    target = path3(sid=sid)
    wire = ("4" + TEXT).encode().decode("latin-1")
    r = await conn.request("POST", target, f"{len(wire)}:{wire}".encode())
    assert r.status == 200
    r = await conn.request("GET", target)
    assert r.body.decode() == f"{len(wire)}:{wire}"
    conn.close()


async def test_b64_client_generation_learnt(start_server: Any, no_errors: Any) -> None:
    """Verify a yeast-era parser-1.x client is recognised by the first non-ASCII it sends."""
    url = await start_server(echo_engine())
    conn = await Conn.open(url)
    sid, _ = await open3(conn, b64="1", t="MxYz12a")
    target = path3(sid=sid)
    wire = "4é".encode().decode("latin-1")
    await conn.request("POST", target, f"{len(wire)}:{wire}".encode())
    r = await conn.request("GET", target)
    assert r.body.decode() == f"{len(wire)}:{wire}"  # read as "é", written back the same way
    conn.close()


async def test_jsonp(start_server: Any, no_errors: Any) -> None:
    """Verify JSONP polling: the wrapper on GETs, form-encoded POSTs (newlines escaped)."""
    url = await start_server(echo_engine())
    conn = await Conn.open(url)
    r = await conn.request("GET", path3(j="0", b64="1"))
    sid = json.loads(text_payload(json.loads(r.body.decode()[len("___eio[0](") : -2]).encode())[0][1:])["sid"]
    target = path3(sid=sid, j="0")
    # engine.io-client: a newline as "\n", a backslash-n as "\\n"
    msg = "4a\nb\\nc" + TEXT
    escaped = msg.replace("\\n", "\\\n").replace("\n", "\\n")
    from urllib.parse import quote

    form = ("d=" + quote(f"{u16(msg)}:{escaped}")).encode()
    r = await conn.request("POST", target, form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status, r.body) == (200, b"ok")
    r = await conn.request("GET", target)
    assert r.headers["content-type"] == "text/javascript; charset=UTF-8"
    body = r.body.decode()
    assert body.isascii() and body.startswith("___eio[0](") and body.endswith(");")
    assert text_payload(json.loads(body[len("___eio[0](") : -2]).encode()) == [msg]
    conn.close()


@pytest.mark.parametrize(
    ("query", "body", "headers"),
    [
        ({}, b"5:4hi", {}),  # length beyond the payload
        ({}, b"x:4hi", {}),  # not a length
        ({}, b"4hello", {}),  # no length at all
        ({}, b"2:7x", {}),  # unknown packet type
        ({}, b"6:b4!!!!", {}),  # bad base64
        ({}, b"\x05\x01\xff4", {"Content-Type": "application/octet-stream"}),  # bad kind byte
        ({}, b"\x00\x09\xff4", {"Content-Type": "application/octet-stream"}),  # length beyond
        ({}, b"\x00\x01", {"Content-Type": "application/octet-stream"}),  # no 0xFF
        ({}, b"\x00\x02\xff4\xff", {"Content-Type": "application/octet-stream"}),  # not UTF-8
        ({"j": "0"}, b"x=1", {}),  # JSONP form without d
        ({"j": "0"}, b"d=%FF", {}),  # JSONP form that is not UTF-8
        ({"j": "0"}, b"d=9%3A4", {}),  # JSONP payload with a bad length
    ],
)
async def test_bad_payloads_close_the_session(
    start_server: Any, no_errors: Any, query: dict[str, str], body: bytes, headers: dict[str, str]
) -> None:
    """Verify bad EIO3 input: 400 and the session closed, as for EIO4."""
    url = await start_server(echo_engine())
    conn = await Conn.open(url)
    r = await conn.request("GET", path3(**query))
    text = r.body.decode()
    if "j" in query:
        text = json.loads(text[len("___eio[0](") : -2])
    sid = json.loads(text_payload(text.encode())[0][1:])["sid"]
    target = path3(sid=sid, **query)
    r = await conn.request("POST", target, body, headers)
    assert r.status == 400
    assert r.json() == {"code": 3, "message": "Bad request"}
    r = await conn.request("GET", target)
    assert r.status == 400 and r.json()["code"] == 1  # the session is gone
    conn.close()


# ---------------------------------------------------------------------- heartbeat


async def test_client_initiated_heartbeat(start_server: Any, no_errors: Any) -> None:
    """Verify EIO3 pings: answered with the same data; no ping for interval+timeout closes."""
    closed: list[str] = []
    eio = echo_engine(ping_interval=0.2, ping_timeout=0.1)
    eio.on("connection", lambda sock: sock.on("close", closed.append))
    url = await start_server(eio)
    conn = await Conn.open(url)
    sid, _ = await open3(conn)
    target = path3(sid=sid)
    for _ in range(4):  # 0.6 s, alive thanks to the pings
        await conn.request("POST", target, b"1:2")
        r = await conn.request("GET", target)
        assert r.body == b"1:3"
        await asyncio.sleep(0.15)
    await conn.request("POST", target, b"6:2hello")
    assert (await conn.request("GET", target)).body == b"6:3hello"
    # the server never pings: an idle session ends after ping_interval + ping_timeout
    await asyncio.sleep(0.45)
    assert closed == ["ping timeout"]
    assert (await conn.request("GET", target)).status == 400
    # a pong from the client is no ping: it does not keep the session alive
    sid, _ = await open3(conn)
    target = path3(sid=sid)
    await asyncio.sleep(0.2)
    await conn.request("POST", target, b"1:3")
    await asyncio.sleep(0.2)
    assert closed == ["ping timeout", "ping timeout"]
    conn.close()


# ---------------------------------------------------------------------- WebSocket


async def test_websocket(start_server: Any, no_errors: Any) -> None:
    """Verify WebSocket frames: text as is, binary with the 0x04 type byte, b4 base64 accepted."""
    url = await start_server(echo_engine(ping_interval=0.3, ping_timeout=0.2))
    ws = await WSConn.connect(url, path3(transport="websocket"))
    first = await ws.recv()
    assert isinstance(first, str) and first.startswith('0{"sid":')
    assert json.loads(first[1:])["upgrades"] == []
    await ws.send_text("4" + TEXT)
    assert await ws.recv() == "4" + TEXT
    await ws.send_binary(b"\x04\x01\x02")
    assert await ws.recv() == b"\x04\x01\x02"
    await ws.send_text("b4AQID")
    assert await ws.recv() == b"\x04\x01\x02\x03"
    await ws.send_text("2probe")
    assert await ws.recv() == "3probe"
    await ws.send_binary(b"\x09")  # unknown packet type: the session closes
    assert await ws.close_code() == 1000
    ws.close()


async def test_upgrade(start_server: Any, no_errors: Any) -> None:
    """Verify the upgrade: the pending GET gets "1:6", the queue goes on over WebSocket."""
    url = await start_server(echo_engine())
    conn = await Conn.open(url)
    sid, _ = await open3(conn, t=OLD_T)
    ws = await WSConn.connect(url, path3(transport="websocket", sid=sid))
    poll = asyncio.ensure_future(conn.request("GET", path3(sid=sid)))
    await asyncio.sleep(0.05)
    await ws.send_text("2probe")
    assert await ws.recv() == "3probe"
    r = await poll
    assert r.body == bytes([0, 1, 255]) + b"6"  # a binary payload for engine.io-client 1.4
    await ws.send_text("5")
    await ws.send_binary(b"\x04\xff")
    assert await ws.recv() == b"\x04\xff"
    conn.close()
    ws.close()


# ---------------------------------------------------------------------- Socket.IO v4


def sio_server(**options: Any) -> tuple[fastsio.Server, list[Any]]:
    sio = fastsio.Server(allow_eio3=True, **options)
    seen: list[Any] = []

    @sio.on("connect")
    def connect(socket: fastsio.Socket, auth: Any) -> None:
        seen.append(("connect", socket.nsp, socket.id, auth))

    @sio.on("echo")
    def echo(socket: fastsio.Socket, *args: Any) -> Any:
        return args

    @sio.on("shout")
    def shout(socket: fastsio.Socket, *args: Any) -> None:
        sio.emit("shouted", *args)

    chat = sio.of("/chat")

    @chat.on("connect")
    def chat_connect(socket: fastsio.Socket, auth: Any) -> None:
        seen.append(("connect", socket.nsp, socket.id, auth))
        if auth.get("refuse") == "text":
            raise fastsio.ConnectionRefused("no entry")
        if auth.get("refuse") == "data":
            raise fastsio.ConnectionRefused("no entry", {"code": 7})

    @chat.on("disconnect")
    def chat_disconnect(socket: fastsio.Socket, reason: str) -> None:
        seen.append(("disconnect", socket.nsp, reason))

    return sio, seen


async def test_socketio_v4_over_polling(start_server: Any, no_errors: Any) -> None:
    """Verify the implicit "/" connection, CONNECT replies without payload, v3 socket ids,
    namespace queries as auth, ERROR refusals, binary events and acks."""
    sio, seen = sio_server()
    url = await start_server(sio)
    conn = await Conn.open(url)
    sid, _ = await open3(conn, "/socket.io/", b64="1")
    target = path3("/socket.io/", sid=sid)
    r = await conn.request("GET", target)
    assert r.body == b"2:40"  # connected to "/" without asking
    assert seen == [("connect", "/", sid, {})]
    await conn.request("POST", target, tp("40/chat?token=1&x=%C3%A9,"))
    r = await conn.request("GET", target)
    assert r.body == b"8:40/chat,"
    assert seen[-1] == ("connect", "/chat", "/chat#" + sid, {"token": "1", "x": "é"})
    # a binary event with an ack, the attachment as b4 base64; the ack comes back the same way
    ev = '451-1["echo",{"_placeholder":true,"num":0},"é"]'
    await conn.request("POST", target, f"{len(ev)}:{ev}6:b4AQID".encode())
    r = await conn.request("GET", target)
    assert text_payload(r.body) == ['461-1[{"_placeholder":true,"num":0},"\\u00e9"]', "b4AQID"]
    # refusals: ERROR packets carrying the message, or the data when there is some
    await conn.request("POST", target, tp("41/chat,"))
    await conn.request("POST", target, tp("40/chat?refuse=text,"))
    r = await conn.request("GET", target)
    assert r.body == tp('44/chat,"no entry"')
    await conn.request("POST", target, tp("40/chat?refuse=data,"))
    r = await conn.request("GET", target)
    assert r.body == tp('44/chat,{"code":7}')
    await conn.request("POST", target, tp("40/nope,"))
    r = await conn.request("GET", target)
    assert r.body == tp('44/nope,"Invalid namespace"')
    conn.close()


async def test_socketio_v4_binary_polling(start_server: Any, no_errors: Any) -> None:
    """Verify binary events from a binary-capable client: binary payloads both ways."""
    sio, seen = sio_server()
    url = await start_server(sio)
    conn = await Conn.open(url)
    sid, _ = await open3(conn, "/socket.io/")
    target = path3("/socket.io/", sid=sid)
    assert (await conn.request("GET", target)).body == b"2:40"
    ev = f'451-2["echo",{{"_placeholder":true,"num":0}},"{TEXT}"]'.encode()
    body = bytes([0, *map(int, str(len(ev))), 255]) + ev + bytes([1, 3, 255, 4, 1, 2])
    r = await conn.request("POST", target, body, {"Content-Type": "application/octet-stream"})
    assert r.status == 200
    r = await conn.request("GET", target)
    assert r.headers["content-type"] == "application/octet-stream"
    assert binary_payload(r.body) == [f'461-2[{{"_placeholder":true,"num":0}},"{TEXT}"]', b"\x04\x01\x02"]
    conn.close()


async def test_socketio_v4_websocket(start_server: Any, no_errors: Any) -> None:
    """Verify Socket.IO v4 over WebSocket: binary attachments as 0x04 frames, both for
    one socket and for a broadcast (the pre-built frames of the fan-out)."""
    sio, seen = sio_server()
    url = await start_server(sio)
    ws = await WSConn.connect(url, path3("/socket.io/", transport="websocket"))
    sid = json.loads((await ws.recv())[1:])["sid"]  # type: ignore[index]
    assert await ws.recv() == "40"
    await ws.send_text('451-3["echo",{"_placeholder":true,"num":0}]')
    await ws.send_binary(b"\x04\x07")
    assert await ws.recv() == '461-3[{"_placeholder":true,"num":0}]'
    assert await ws.recv() == b"\x04\x07"
    # attachments as b4 base64 text are accepted too (forceBase64 clients)
    await ws.send_text('451-["shout",{"_placeholder":true,"num":0}]')
    await ws.send_text("b4CAk=")
    assert await ws.recv() == '451-["shouted",{"_placeholder":true,"num":0}]'
    assert await ws.recv() == b"\x04\x08\x09"
    await ws.send_text("40/chat,")
    assert await ws.recv() == "40/chat,"
    assert seen[-1] == ("connect", "/chat", "/chat#" + sid, {})
    await ws.send_text("41/chat,")
    await asyncio.sleep(0.05)
    assert seen[-1] == ("disconnect", "/chat", "client namespace disconnect")
    ws.close()


async def test_socketio_v4_text_for_b64_clients_is_ascii(start_server: Any, no_errors: Any) -> None:
    """Verify Socket.IO packets reach b64 clients in ASCII (JSON escapes): both parser
    generations read that alike, whichever the client is."""
    sio, seen = sio_server()
    url = await start_server(sio)
    conn = await Conn.open(url)
    sid, _ = await open3(conn, "/socket.io/", b64="1")
    target = path3("/socket.io/", sid=sid)
    assert (await conn.request("GET", target)).body == b"2:40"
    sio.emit("news", TEXT)
    r = await conn.request("GET", target)
    assert r.body == tp('42["news","h\\u00e9llo \\u4e16\\u754c \\ud83c\\udf89"]')
    conn.close()


async def test_eio4_unchanged_beside_eio3(start_server: Any, no_errors: Any) -> None:
    """Verify EIO4 clients of an allow_eio3 server are served as before."""
    sio, seen = sio_server()
    url = await start_server(sio)
    conn = await Conn.open(url)
    r = await conn.request("GET", eio_path("/socket.io/"))
    sid = json.loads(r.body[1:])["sid"]
    target = eio_path("/socket.io/", sid=sid)
    await conn.request("POST", target, b"40")
    r = await conn.request("GET", target)
    assert r.body.startswith(b'40{"sid":"') and sid.encode() not in r.body
    conn.close()
