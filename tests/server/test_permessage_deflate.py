"""permessage-deflate (RFC 7692) on real sockets: negotiation, what goes out on the wire,
what comes in, the per-emit compress flag, broadcasts, EIO3, and bad input.

A raw client (``DeflateWS``) negotiates the extension itself and reads the server's
frames with their RSV1 bit, inflating them with its own zlib inflater, so every
test checks the bytes on the wire.  aiohttp's WebSocket client (which implements
the extension) and python-socketio's client (which does not offer it) are the
real Python clients.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import tracemalloc
import zlib
from typing import Any

import aiohttp
import pytest
import socketio

import fastsio
from _net import TIMEOUT, Conn, Response, WSConn, build_request, eio_path, frame, until, ws_key

TRAILER = b"\x00\x00\xff\xff"
OFFER = "permessage-deflate; client_max_window_bits"
BIG = "é" * 1500  # 3000 bytes: over the 1024-byte default threshold


class DeflateWS(WSConn):
    """A raw WebSocket client that speaks permessage-deflate by hand (zlib both ways)."""

    extensions: str | None = None
    inflater: Any = None
    deflater: Any = None
    server_reset = False

    @classmethod
    async def open(  # type: ignore[override]
        cls, url: str, target: str, offer: str | None = OFFER, client_bits: int = 15
    ) -> DeflateWS:
        conn = await Conn.open(url)
        ws = cls(conn.reader, conn.writer)
        headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": ws_key(),
            "Sec-WebSocket-Version": "13",
        }
        if offer is not None:
            headers["Sec-WebSocket-Extensions"] = offer
        await ws.send(build_request("GET", target, headers=headers))
        r: Response = await ws.response_head()
        assert r.status == 101, r
        ws.extensions = r.headers.get("sec-websocket-extensions")
        if ws.extensions is not None:
            params = [p.strip() for p in ws.extensions.split(";")]
            assert params[0] == "permessage-deflate"
            server_bits = 15
            for p in params[1:]:
                if p.startswith("server_max_window_bits="):
                    server_bits = int(p.split("=")[1])
            ws.server_reset = "server_no_context_takeover" in params
            ws.inflater = zlib.decompressobj(-max(server_bits, 9))
            ws.deflater = zlib.compressobj(6, zlib.DEFLATED, -client_bits)
        return ws

    async def message(self, timeout: float = TIMEOUT) -> tuple[bool, str | bytes]:
        """Read the next data message, skipping pings: (was it compressed, inflated content)."""
        while True:
            b0, payload = await self.recv_raw_frame(timeout)
            op = b0 & 0x0F
            if op == 0x8:
                raise EOFError(f"close {payload[:2].hex()}")
            if op not in (1, 2):
                continue
            assert b0 & 0x80, "server messages are one frame"
            assert not b0 & 0x30
            compressed = bool(b0 & 0x40)
            if compressed:
                assert self.inflater is not None, "RSV1 without the extension"
                if self.server_reset:
                    # no context takeover: the message inflates on its own
                    alone = zlib.decompressobj(-15).decompress(payload + TRAILER)
                payload = self.inflater.decompress(payload + TRAILER)
                if self.server_reset:
                    assert alone == payload
            if op == 1:
                return compressed, payload.decode()
            return compressed, payload

    async def send_deflated(self, data: str | bytes) -> None:
        """Send one compressed message."""
        raw = data.encode() if isinstance(data, str) else data
        out = self.deflater.compress(raw) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(TRAILER)
        await self.send(frame(1 if isinstance(data, str) else 2, out[:-4], rsv=4))


async def eio_open(url: str, offer: str | None = OFFER, **query: str) -> DeflateWS:
    """Open a WebSocket-only Engine.IO session; skip the OPEN packet."""
    ws = await DeflateWS.open(url, eio_path(transport="websocket", **query), offer)
    compressed, first = await ws.message()
    assert isinstance(first, str) and first[0] == "0", first  # compressed when over the threshold
    return ws


async def sio_open(url: str, offer: str | None = OFFER) -> tuple[DeflateWS, str]:
    """Open a Socket.IO connection over WebSocket and CONNECT to ``/``; return it and the socket id."""
    ws = await DeflateWS.open(url, eio_path("/socket.io/", transport="websocket"), offer)
    assert (await ws.message())[1][0] == "0"
    await ws.send_text("40")
    _, reply = await ws.message()
    assert isinstance(reply, str) and reply.startswith("40"), reply
    return ws, json.loads(reply[2:])["sid"]


def echo_server(**options: Any) -> tuple[fastsio.EngineServer, list[fastsio.EngineSocket]]:
    """An EngineServer that echoes every message and keeps its sockets."""
    eio = fastsio.EngineServer(**options)
    sockets: list[fastsio.EngineSocket] = []

    @eio.on("connection")
    def connection(sock: fastsio.EngineSocket) -> None:
        sockets.append(sock)
        sock.on("message", sock.send)

    return eio, sockets


# ---------------------------------------------------------------- negotiation


@functools.lru_cache(maxsize=1)
def zip_bomb() -> bytes:
    """Return a compressed text message of 200 MB ("4" then zeros) in about 200 KB, sync-flushed."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"0" * 1_000_000
    out = [packer.compress(b"4")]
    out += [packer.compress(chunk) for _ in range(200)]
    out.append(packer.flush(zlib.Z_SYNC_FLUSH))
    bomb = b"".join(out)
    assert len(bomb) < 400_000
    return bomb


@pytest.mark.parametrize(
    ("option", "offer", "response"),
    [
        (True, OFFER, "permessage-deflate"),
        (True, None, None),
        (True, "x-webkit-deflate-frame", None),
        (True, "permessage-deflate; foo, permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"),
        (True, "permessage-deflate; client_max_window_bits=", None),  # does not parse: no extension, still 101
        (False, OFFER, None),
        ({"server_no_context_takeover": True}, OFFER, "permessage-deflate; server_no_context_takeover"),
        ({"client_max_window_bits": 10}, OFFER, "permessage-deflate; client_max_window_bits=10"),
        ({"client_max_window_bits": 10}, "permessage-deflate", None),
    ],
)
async def test_negotiation_in_the_101(start_server: Any, option: Any, offer: str | None, response: str | None) -> None:
    """Verify the 101 carries the agreed Sec-WebSocket-Extensions (or none), and the session works either way."""
    eio, _ = echo_server(per_message_deflate=option)
    url = await start_server(eio)
    ws = await eio_open(url, offer)
    assert ws.extensions == response
    await ws.send_text("4" + BIG)
    compressed, echoed = await ws.message()
    assert echoed == "4" + BIG and compressed == (response is not None)
    ws.close()


# ---------------------------------------------------------------- what goes out


async def test_threshold_and_compress_flag_on_the_wire(start_server: Any) -> None:
    """Verify RSV1 is set on packets of threshold bytes or more, clear below it and with compress=False."""
    eio, sockets = echo_server(per_message_deflate={"threshold": 100})
    url = await start_server(eio)
    ws = await eio_open(url)
    sock = sockets[0]
    sock.send("x" * 98)  # "4" + 98: 99 bytes
    assert await ws.message() == (False, "4" + "x" * 98)
    sock.send("x" * 99)  # 100 bytes: at the threshold
    assert await ws.message() == (True, "4" + "x" * 99)
    sock.send("é" * 50)  # 50 characters but 101 bytes
    assert await ws.message() == (True, "4" + "é" * 50)
    sock.send(BIG, compress=False)
    assert await ws.message() == (False, "4" + BIG)
    sock.send(b"\x00\x01" * 100)
    assert await ws.message() == (True, b"\x00\x01" * 100)
    sock.send(b"\x00\x01" * 100, compress=False)
    assert await ws.message() == (False, b"\x00\x01" * 100)
    sock.send(b"\x02" * 99)
    assert await ws.message() == (False, b"\x02" * 99)
    ws.close()


@pytest.mark.parametrize("no_context_takeover", [False, True])
async def test_context_takeover_on_the_wire(start_server: Any, no_context_takeover: bool) -> None:
    """Verify repeated messages shrink with context takeover, and each inflates alone with server_no_context_takeover."""
    eio, sockets = echo_server(per_message_deflate={"server_no_context_takeover": no_context_takeover})
    url = await start_server(eio)
    ws = await eio_open(url)
    assert ws.server_reset == no_context_takeover
    text = json.dumps([os.urandom(8).hex() for _ in range(200)])
    sizes = []
    for _ in range(3):
        sockets[0].send(text)
        b0, payload = await ws.recv_raw_frame()
        assert b0 == 0xC1
        sizes.append(len(payload))
        assert ws.inflater.decompress(payload + TRAILER).decode() == "4" + text
        if no_context_takeover:
            assert zlib.decompressobj(-15).decompress(payload + TRAILER).decode() == "4" + text
    if no_context_takeover:
        assert sizes[0] == sizes[1] == sizes[2]
    else:
        assert sizes[1] < sizes[0] // 10 and sizes[2] < sizes[0] // 10
    ws.close()


@pytest.mark.parametrize("bits", [8, 9, 12])
async def test_server_window_bits(start_server: Any, bits: int) -> None:
    """Verify a client asking for a small server window can inflate what it gets with that window."""
    eio, sockets = echo_server(per_message_deflate=True)
    url = await start_server(eio)
    ws = await DeflateWS.open(url, eio_path(transport="websocket"), f"permessage-deflate; server_max_window_bits={bits}")
    assert ws.extensions == f"permessage-deflate; server_max_window_bits={bits}"
    # zlib cannot inflate raw streams with 8 bits since 1.2.9: 9 reads the 8-bit stream (distances <= 250)
    ws.inflater = zlib.decompressobj(-max(bits, 9))
    await ws.message()
    data = os.urandom(200) * 40 + bytes(range(256)) * 20
    for _ in range(2):
        sockets[0].send(data)
        assert await ws.message() == (True, data)
    ws.close()


# ---------------------------------------------------------------- what comes in


async def test_compressed_messages_from_the_client(start_server: Any) -> None:
    """Verify compressed text and binary messages from the client, fragmented too, mixed with plain ones."""
    eio, sockets = echo_server(per_message_deflate=True)
    url = await start_server(eio)
    ws = await eio_open(url)
    got: list[Any] = []
    await until(lambda: sockets)
    sockets[0].on("message", got.append)
    await ws.send_deflated("4" + BIG)
    await ws.send_deflated(b"\x01" * 5000)
    await ws.send_text("4plain")
    await ws.send_deflated("4small")
    # one compressed message in two frames, a ping between
    out = ws.deflater.compress(("4" + BIG).encode()) + ws.deflater.flush(zlib.Z_SYNC_FLUSH)
    half = len(out) // 2
    await ws.send(frame(1, out[:half], fin=False, rsv=4) + frame(9, b"p") + frame(0, out[half:-4]))
    await until(lambda: len(got) == 5)
    assert got == [BIG, b"\x01" * 5000, "plain", "small", BIG]
    ws.close()


async def test_malformed_compressed_frame(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify data that does not inflate closes that connection with 1007 and a log line; others carry on."""
    eio, sockets = echo_server(per_message_deflate=True)
    url = await start_server(eio)
    bad = await eio_open(url)
    good = await eio_open(url)
    await bad.send(frame(1, b"\x07garbage", rsv=4))
    assert await bad.close_code() == 1007
    assert any(
        "WebSocket protocol error" in r.getMessage() and "invalid compressed data" in r.getMessage() and "1007" in r.getMessage()
        for r in logs.records
    ), [r.getMessage() for r in logs.records]
    await good.send_deflated("4" + BIG)
    assert await good.message() == (True, "4" + BIG)
    # RSV1 on a control frame, or on a continuation, is a protocol error
    for stream in (frame(9, b"", rsv=4), frame(1, b"a", fin=False) + frame(0, b"b", rsv=4)):
        other = await eio_open(url)
        await other.send(stream)
        assert await other.close_code() == 1002
        other.close()
    good.close()
    bad.close()


async def test_rsv1_without_the_extension_is_a_protocol_error(start_server: Any) -> None:
    """Verify a client that did not negotiate the extension may not send RSV1 (1002), even on a deflate server."""
    eio, _ = echo_server(per_message_deflate=True)
    url = await start_server(eio)
    ws = await eio_open(url, offer=None)
    ws.deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    await ws.send_deflated("4hello")
    assert await ws.close_code() == 1002
    ws.close()


async def test_zip_bomb(start_server: Any) -> None:
    """Verify a message inflating past max_http_buffer_size gets 1009 without inflating it (bounded memory)."""
    eio, sockets = echo_server(per_message_deflate=True, max_http_buffer_size=1_000_000)
    url = await start_server(eio)
    ws = await eio_open(url)
    good = await eio_open(url)
    bomb = zip_bomb()
    tracemalloc.start()
    try:
        await ws.send(frame(1, bomb[:-4], rsv=4))
        assert await ws.close_code(timeout=20) == 1009
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16_000_000, peak  # 200 MB if it were inflated
    await good.send_deflated("4" + BIG)
    assert await good.message() == (True, "4" + BIG)
    good.close()
    ws.close()


async def test_message_of_max_size_compressed(start_server: Any) -> None:
    """Verify a compressed message of exactly max_http_buffer_size bytes passes, one more is 1009."""
    eio, sockets = echo_server(per_message_deflate=True, max_http_buffer_size=10_000)
    url = await start_server(eio)
    ws = await eio_open(url)
    payload = "4" + os.urandom(7499).hex()[:9999]
    await ws.send_deflated(payload)
    assert await ws.message() == (True, payload)
    await ws.send_deflated(payload + "x")
    assert await ws.close_code() == 1009
    ws.close()


# ---------------------------------------------------------------- Socket.IO: emit, broadcast, acks


def sio_server(**options: Any) -> fastsio.Server:
    sio = fastsio.Server(per_message_deflate=True, **options)

    @sio.on("emit")
    def emit(socket: fastsio.Socket, compress: bool) -> None:
        if compress:
            socket.emit("big", BIG)
        else:
            socket.compress(False).emit("big", BIG)
        socket.emit("big", BIG)  # the flag is for one emit only

    @sio.on("call")
    async def call(socket: fastsio.Socket, compress: bool) -> Any:
        reply = await socket.compress(compress).timeout(5).emit_with_ack("question", BIG)
        return reply

    @sio.on("echo")
    def echo(socket: fastsio.Socket, *args: Any) -> Any:
        return args

    @sio.on("join")
    def join(socket: fastsio.Socket, room: str) -> None:
        socket.join(room)

    @sio.on("broadcast")
    def broadcast(socket: fastsio.Socket, how: str) -> None:
        if how == "all":
            sio.emit("news", BIG)
        elif how == "all-uncompressed":
            sio.compress(False).emit("news", BIG)
        elif how == "room-uncompressed":
            sio.to("r").compress(False).emit("news", BIG)
        elif how == "room":
            sio.to("r").emit("news", BIG)
        elif how == "small":
            sio.emit("news", "small")
        elif how == "binary":
            sio.emit("news", b"\x00" * 3000, "tail")
        elif how == "binary-uncompressed":
            sio.compress(False).emit("news", b"\x00" * 3000)
        elif how == "namespace-uncompressed":
            sio.of("/").compress(False).emit("news", BIG)
        elif how == "socket-broadcast-uncompressed":
            socket.broadcast.compress(False).emit("news", BIG)

    @sio.on("ask_all")
    async def ask_all(socket: fastsio.Socket, compress: bool) -> Any:
        return await sio.compress(compress).timeout(5).emit_with_ack("poll", BIG)

    return sio


EVENT_BIG = '42["big",' + json.dumps(BIG, ensure_ascii=False) + "]"
NEWS_BIG = '42["news",' + json.dumps(BIG, ensure_ascii=False) + "]"


async def test_socket_emit_compress_flag(start_server: Any) -> None:
    """Verify socket.emit is compressed, socket.compress(False).emit is not (for that emit only)."""
    url = await start_server(sio_server())
    ws, _ = await sio_open(url)
    await ws.send_text('42["emit",false]')
    assert await ws.message() == (False, EVENT_BIG)
    assert await ws.message() == (True, EVENT_BIG)
    await ws.send_text('42["emit",true]')
    assert await ws.message() == (True, EVENT_BIG)
    assert await ws.message() == (True, EVENT_BIG)
    ws.close()


@pytest.mark.parametrize("compress", [True, False])
async def test_emit_with_ack_and_acks(start_server: Any, compress: bool) -> None:
    """Verify emit_with_ack honours compress(); the client's large compressed ack, and ours, go through."""
    url = await start_server(sio_server())
    ws, _ = await sio_open(url)
    await ws.send_text(f'421["call",{json.dumps(compress)}]')
    compressed, question = await ws.message()
    assert compressed == compress
    assert isinstance(question, str) and question.startswith("42")
    ack_id = question[2 : question.index("[")]
    assert question == f"42{ack_id}" + json.dumps(["question", BIG], ensure_ascii=False).replace(", ", ",")
    await ws.send_deflated(f"43{ack_id}" + json.dumps([BIG + "!"], ensure_ascii=False))
    compressed, answer = await ws.message()
    assert compressed and answer == "431" + json.dumps([BIG + "!"], ensure_ascii=False)
    # an ack of the server (a handler's return value) is compressed like any packet
    await ws.send_deflated('422["echo",' + json.dumps(BIG, ensure_ascii=False) + "]")
    assert await ws.message() == (True, "432" + json.dumps([BIG], ensure_ascii=False))
    ws.close()


async def test_broadcast_to_deflate_and_plain_clients(start_server: Any) -> None:
    """Verify a broadcast reaches deflate clients compressed, a client without the extension as the plain frame,
    and compress(False) broadcasts (to all, to a room) uncompressed to everyone."""
    url = await start_server(sio_server())
    a, _ = await sio_open(url)
    b, _ = await sio_open(url)
    plain, _ = await sio_open(url, offer=None)
    everyone = (a, b, plain)
    for ws in (a, plain):
        await ws.send_text('42["join","r"]')
    await asyncio.sleep(0.05)

    await a.send_text('42["broadcast","all"]')
    assert [await ws.message() for ws in everyone] == [(True, NEWS_BIG), (True, NEWS_BIG), (False, NEWS_BIG)]
    await a.send_text('42["broadcast","all-uncompressed"]')
    assert [await ws.message() for ws in everyone] == [(False, NEWS_BIG)] * 3
    await a.send_text('42["broadcast","room-uncompressed"]')
    assert [await ws.message() for ws in (a, plain)] == [(False, NEWS_BIG)] * 2
    await a.send_text('42["broadcast","room"]')
    assert [await ws.message() for ws in (a, plain)] == [(True, NEWS_BIG), (False, NEWS_BIG)]
    await a.send_text('42["broadcast","namespace-uncompressed"]')
    assert [await ws.message() for ws in everyone] == [(False, NEWS_BIG)] * 3
    await a.send_text('42["broadcast","socket-broadcast-uncompressed"]')
    assert [await ws.message() for ws in (b, plain)] == [(False, NEWS_BIG)] * 2
    await a.send_text('42["broadcast","small"]')
    assert [await ws.message() for ws in everyone] == [(False, '42["news","small"]')] * 3
    await a.send_text('42["broadcast","binary"]')
    head = '451-["news",{"_placeholder":true,"num":0},"tail"]'
    for ws, deflate in ((a, True), (b, True), (plain, False)):
        assert await ws.message() == (False, head)  # under the threshold
        assert await ws.message() == (deflate, b"\x00" * 3000)
    await a.send_text('42["broadcast","binary-uncompressed"]')
    for ws in everyone:
        assert (await ws.message())[0] is False
        assert await ws.message() == (False, b"\x00" * 3000)
    # b is not in room "r": the next thing it reads is the reply to this
    await b.send_text('427["echo",1]')
    assert await b.message() == (False, "437[1]")
    for ws in everyone:
        ws.close()


@pytest.mark.parametrize("compress", [True, False])
async def test_broadcast_emit_with_ack_compress_flag(start_server: Any, compress: bool) -> None:
    """Verify sio.compress(flag).emit_with_ack sends compressed or not to every deflate client."""
    url = await start_server(sio_server())
    a, _ = await sio_open(url)
    b, _ = await sio_open(url)
    await a.send_text(f'421["ask_all",{json.dumps(compress)}]')
    for ws in (a, b):
        compressed, poll = await ws.message()
        assert compressed == compress and isinstance(poll, str)
        ack_id = poll[2 : poll.index("[")]
        await ws.send_text(f"43{ack_id}[1]")
    assert await a.message() == (False, "431[[1,1]]")
    a.close()
    b.close()


async def test_eio3_binary_is_compressed_with_its_type_byte(start_server: Any) -> None:
    """Verify an Engine.IO v3 binary message is compressed with its 0x04 type byte, direct and broadcast."""
    sio = sio_server(allow_eio3=True)
    url = await start_server(sio)
    ws = await DeflateWS.open(url, eio_path("/socket.io/", transport="websocket", EIO="3"))
    assert ws.extensions == "permessage-deflate"
    assert (await ws.message())[1][0] == "0"
    assert await ws.message() == (False, "40")
    await ws.send_text('42["broadcast","binary"]')
    assert await ws.message() == (False, '451-["news",{"_placeholder":true,"num":0},"tail"]')
    assert await ws.message() == (True, b"\x04" + b"\x00" * 3000)
    await ws.send_text('42["broadcast","binary-uncompressed"]')
    assert (await ws.message())[0] is False
    assert await ws.message() == (False, b"\x04" + b"\x00" * 3000)
    ws.close()


async def test_eio3_engine_socket_binary(start_server: Any) -> None:
    """Verify EngineServer.send of bytes to an EIO3 deflate session: 0x04 + data, compressed."""
    eio, sockets = echo_server(per_message_deflate=True, allow_eio3=True)
    url = await start_server(eio)
    ws = await eio_open(url, EIO="3")
    sockets[0].send(b"\xff" * 2000)
    assert await ws.message() == (True, b"\x04" + b"\xff" * 2000)
    sockets[0].send(b"\xff" * 2000, compress=False)
    assert await ws.message() == (False, b"\x04" + b"\xff" * 2000)
    ws.close()


# ---------------------------------------------------------------- the Python clients


async def test_aiohttp_client_with_deflate(start_server: Any) -> None:
    """Verify aiohttp's WebSocket client (its own permessage-deflate) exchanges large and small messages both ways."""
    eio, sockets = echo_server(per_message_deflate=True)
    url = await start_server(eio)
    async with aiohttp.ClientSession() as http:
        ws_url = url.replace("http", "ws") + eio_path(transport="websocket")
        async with http.ws_connect(ws_url, compress=15) as ws:
            assert ws.compress == 15  # the server accepted the extension
            opened = await ws.receive_str(timeout=TIMEOUT)
            assert opened[0] == "0"
            assert sockets[0].session.ws.deflate is not None
            for data in ("4" + BIG, "4small", "4" + BIG * 10, "4" + BIG):
                await ws.send_str(data)
                assert await ws.receive_str(timeout=TIMEOUT) == data
            await ws.send_bytes(os.urandom(100) * 100)
            assert len(await ws.receive_bytes(timeout=TIMEOUT)) == 10_000
        async with http.ws_connect(ws_url, compress=10) as ws:
            assert (await ws.receive_str(timeout=TIMEOUT))[0] == "0"
            await ws.send_str("4" + BIG)
            assert await ws.receive_str(timeout=TIMEOUT) == "4" + BIG


@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"]])
@pytest.mark.parametrize("compress", [None, 15])
async def test_python_socketio_client(start_server: Any, transports: list[str], compress: int | None) -> None:
    """Verify python-socketio's client against a deflate server: by default it offers no
    extension (aiohttp's ws_connect without ``compress``) and all goes uncompressed; with
    ``websocket_extra_options={"compress": 15}`` aiohttp negotiates it."""
    sio = sio_server()
    url = await start_server(sio)
    extra = {} if compress is None else {"websocket_extra_options": {"compress": compress}}
    client = socketio.AsyncClient(reconnection=False, **extra)
    news: list[Any] = []
    client.on("news", news.append)
    await client.connect(url, transports=transports)
    try:
        sock = next(iter(sio.of("/").sockets.values()))
        await until(lambda: sock.client.session.ws is not None)
        assert (sock.client.session.ws.deflate is not None) == (compress is not None)
        assert await client.call("echo", BIG, timeout=5) == BIG
        assert await client.call("echo", (BIG * 3, b"\x00" * 5000), timeout=5) == (BIG * 3, b"\x00" * 5000)
        await client.emit("broadcast", "all")
        for _ in range(100):
            if news:
                break
            await asyncio.sleep(0.02)
        assert news == [BIG]
    finally:
        await client.disconnect()
        await asyncio.sleep(0)


async def test_polling_upgrade_negotiates_on_the_probe(start_server: Any) -> None:
    """Verify a polling session upgraded to a WebSocket that offered the extension gets compressed packets."""
    eio, sockets = echo_server(per_message_deflate=True)
    url = await start_server(eio)
    conn = await Conn.open(url)
    r = await conn.request("GET", eio_path())
    sid = json.loads(r.body[1:])["sid"]
    ws = await DeflateWS.open(url, eio_path(transport="websocket", sid=sid))
    assert ws.extensions == "permessage-deflate"
    await ws.send_text("2probe")
    assert await ws.message() == (False, "3probe")
    await ws.send_text("5")
    await until(lambda: sockets[0].transport == "websocket")
    sockets[0].send(BIG)
    assert await ws.message() == (True, "4" + BIG)
    ws.close()
    conn.close()


async def test_logs_nothing_for_a_normal_session(start_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Verify a deflate session that behaves leaves no warning or error in the logs."""
    caplog.set_level(logging.INFO)
    eio, sockets = echo_server(per_message_deflate=True)
    url = await start_server(eio)
    ws = await eio_open(url)
    await ws.send_deflated("4" + BIG)
    assert await ws.message() == (True, "4" + BIG)
    ws.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
