"""``parser="msgpack"`` with the real socket.io-client 4.8 and the npm
socket.io-msgpack-parser 3.0.2 (tests/recovery/driver.mjs), over polling and WebSocket;
and the msgpack codec on its own."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import msgpack
import pytest

import fastsio
from _recovery_driver import drive, node_test
from fastsio.protocol.socketio import msgpack_parser as mp
from fastsio.protocol import socketio as sio


def b(data: bytes) -> dict[str, str]:
    return {"$bin": base64.b64encode(data).decode()}


def build() -> tuple[fastsio.Server, list[Any]]:
    server = fastsio.Server(parser="msgpack")
    seen: list[Any] = []

    @server.use
    def refuse(socket: fastsio.Socket, auth: dict[str, Any]) -> None:
        if auth.get("refuse"):
            raise fastsio.ConnectionRefused("nope", {"code": 1})

    @server.on("connect")
    def connect(socket: fastsio.Socket, auth: dict[str, Any]) -> None:
        socket.emit("welcome", {"auth": auth, "bin": b"\x00\x01\xff"})

    @server.on("echo")
    def echo(socket: fastsio.Socket, *args: Any) -> Any:
        seen.append(args)
        return args

    @server.on("ask")
    async def ask(socket: fastsio.Socket, *args: Any) -> Any:
        return await socket.timeout(5).emit_with_ack("question", *args)

    @server.on("broadcast")
    def broadcast(socket: fastsio.Socket, data: Any) -> None:
        server.emit("news", data)

    chat = server.of("/chat")

    @chat.on("msg")
    def msg(socket: fastsio.Socket, text: str) -> str:
        return "recv " + text

    return server, seen


@node_test
@pytest.mark.parametrize(
    "transports", [["websocket"], ["polling"], ["polling", "websocket"]], ids=["websocket", "polling", "upgrade"]
)
async def test_npm_msgpack_parser_client(start_server: Any, transports: list[str]) -> None:
    server, seen = build()
    url = await start_server(server)
    payload = [1, "é😀", b(b"\x00\xfe"), None, [1.5, True], {"k": {"n": -7}}, 2**40]
    run = await drive(
        url,
        [
            {"op": "connect"},
            {"op": "wait", "t": "event", "event": "welcome"},
            {"op": "emit", "event": "echo", "args": payload, "ack": True},
            {"op": "emit", "event": "ask", "args": [42, b(b"\x01")], "ack": True},
            {"op": "emit", "event": "broadcast", "args": [{"x": b(b"bin")}]},
            {"op": "wait", "t": "event", "event": "news"},
        ],
        options={"transports": transports, "auth": {"token": "t"}},
        msgpack=True,
    )
    assert run.events("welcome") == [[{"auth": {"token": "t"}, "bin": b(b"\x00\x01\xff")}]]
    assert seen == [(1, "é😀", b"\x00\xfe", None, [1.5, True], {"k": {"n": -7}}, 2**40)]
    assert run.of("ack", tag="echo")[0]["args"] == payload
    # the server asked the client (an ack id in a msgpack packet) and got its reply
    assert run.of("event", event="question")[0]["ack"] is True
    assert run.of("ack", tag="ask")[0]["args"] == ["ack", 42, b(b"\x01")]
    assert run.events("news") == [[{"x": b(b"bin")}]]


@node_test
async def test_npm_msgpack_parser_namespace_and_refusal(start_server: Any) -> None:
    server, _ = build()
    url = await start_server(server)
    run = await drive(
        url,
        [{"op": "connect"}, {"op": "emit", "event": "msg", "args": ["hi"], "ack": True}],
        nsp="/chat",
        msgpack=True,
        options={"transports": ["websocket"]},
    )
    assert run.of("ack", tag="msg")[0]["args"] == ["recv hi"]
    run = await drive(
        url,
        [{"op": "connect", "expect": "connect_error"}],
        msgpack=True,
        options={"transports": ["websocket"], "auth": {"refuse": True}},
    )
    err = run.of("connect_error")[0]
    assert err["message"] == "nope" and err["data"] == {"code": 1}
    run = await drive(
        url,
        [{"op": "connect", "expect": "connect_error"}],
        nsp="/nowhere",
        msgpack=True,
        options={"transports": ["polling"]},
    )
    assert run.of("connect_error")[0]["message"] == "Invalid namespace"


# ------------------------------------------------------------------------ the codec
def test_codec_encodes_like_the_npm_parser() -> None:
    parser = mp.MsgpackParser()
    [raw] = parser.encode_event("/", "x", (1, b"\x00"), 7)
    assert isinstance(raw, bytes)
    assert msgpack.unpackb(raw) == {"type": 2, "data": ["x", 1, b"\x00"], "nsp": "/", "id": 7}
    [raw] = parser.encode(sio.DISCONNECT, "/chat")
    assert msgpack.unpackb(raw) == {"type": 1, "nsp": "/chat"}
    [raw] = parser.encode(sio.CONNECT, "/", {"sid": "a"})
    assert msgpack.unpackb(raw) == {"type": 0, "data": {"sid": "a"}, "nsp": "/"}


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def test_codec_decodes_and_validates() -> None:
    pkt = mp.decode(pack({"type": 2, "data": ["ev", b"\x01"], "nsp": "/", "id": 3, "options": {"compress": True}}))
    assert (pkt.type, pkt.nsp, pkt.data, pkt.id, pkt.attachments) == (2, "/", ["ev", b"\x01"], 3, 0)
    # JavaScript undefined (notepack: fixext 1 of type 0) is None; other ext 0 is binary
    undefined = b"\xd4\x00\x00"
    pkt = mp.decode(b"\x83\xa4type\x00\xa3nsp\xa1/\xa4data" + undefined)
    assert pkt.type == 0 and pkt.data is None
    arraybuffer = b"\xc7\x03\x00abc"
    pkt = mp.decode(b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1e" + arraybuffer)
    assert pkt.data == ["e", b"abc"]
    bad = [
        b"\xc1",  # never used
        pack([1, 2]),
        pack({"type": 9, "nsp": "/", "data": []}),
        pack({"type": True, "nsp": "/", "data": []}),
        pack({"type": 2, "nsp": 1, "data": ["e"]}),
        pack({"type": 2, "nsp": "/", "data": {}}),
        pack({"type": 2, "nsp": "/", "data": []}),
        pack({"type": 2, "nsp": "/", "data": ["connect"]}),
        pack({"type": 0, "nsp": "/", "data": "x"}),
        pack({"type": 1, "nsp": "/", "data": 1}),
        pack({"type": 3, "nsp": "/", "data": [], "id": "1"}),
        pack({"type": 2, "nsp": "/", "data": ["e"]}) + b"\x00",  # trailing bytes
    ]
    for raw in bad:
        with pytest.raises(sio.SocketIOError):
            mp.decode(raw)
    with pytest.raises(sio.SocketIOError):
        mp.decode("2[\"text\"]")


def test_parser_choice() -> None:
    assert fastsio.Server().parser.name == "json"
    assert fastsio.Server(parser="msgpack").parser.binary is True
    with pytest.raises(ValueError):
        fastsio.Server(parser="yaml")
    with pytest.raises(TypeError):
        fastsio.Server(parser=object())


async def test_python_socketio_msgpack_client(start_server: Any) -> None:
    """python-socketio's own msgpack serializer speaks the same format."""
    import socketio

    server, seen = build()
    url = await start_server(server)
    for transports in (["websocket"], ["polling"]):
        c = socketio.AsyncClient(serializer="msgpack", reconnection=False)
        news: list[Any] = []
        c.on("news", lambda data: news.append(data))
        await c.connect(url, transports=transports)
        assert await c.call("echo", [1, b"\x00", "é"], timeout=5) == [1, b"\x00", "é"]
        await c.emit("broadcast", {"x": b"\x01"})
        for _ in range(100):
            if news:
                break
            await asyncio.sleep(0.01)
        assert news == [{"x": b"\x01"}]
        await c.disconnect()
