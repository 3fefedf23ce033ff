"""permessage-deflate with the real npm ``socket.io-client`` 4.8.1 (its Node transport is
the ``ws`` package, which offers the extension when the client option
``perMessageDeflate`` is set; engine.io-client sets ``{threshold: 1024}`` by default,
and ``perMessageDeflate: false`` turns it off).

The WebSocket-only scenarios go through ``WireTap``, a TCP proxy that reads the
frames both ways (unmasking and inflating them itself), so the tests check what
was on the wire: the offer and the answer, RSV1 on large packets and not on small
ones nor on ``compress(False)`` emits, both directions, with context takeover on
and off.  The upgrade scenario (polling, then WebSocket) checks the same exchange
through the server's own view of the connection.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import pytest

import fastsio
from _interop import Run, b, build_server
from _nodedriver import node_marks
from test_node_client import NODE_DIR, drive

pytestmark = node_marks(NODE_DIR)

TRAILER = b"\x00\x00\xff\xff"
# about 4 KB that deflate halves: a second copy, with context takeover, is a few bytes
BIG = "deflate me " + " ".join(str(i * 7919 % 100003) for i in range(700))
BIN = bytes(range(256)) * 12  # 3072 bytes


# ---------------------------------------------------------------- the wire tap


@dataclass
class Message:
    """One data message seen on the wire."""

    direction: str  # "up" (client to server) or "down"
    compressed: bool
    opcode: int
    data: bytes  # inflated
    wire: int  # payload bytes on the wire

    @property
    def text(self) -> str:
        return self.data.decode()


@dataclass
class Tapped:
    """One TCP connection through the tap: the handshake headers and the messages."""

    request: dict[str, str] = field(default_factory=dict)
    response: dict[str, str] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)

    def of(self, direction: str, startswith: str | bytes) -> list[Message]:
        """The messages one way whose (inflated) content starts with ``startswith``."""
        key = startswith.encode() if isinstance(startswith, str) else startswith
        return [m for m in self.messages if m.direction == direction and m.data.startswith(key)]


class Direction:
    """Reads one direction of a WebSocket connection: the HTTP head, then frames."""

    def __init__(self, tapped: Tapped, name: str) -> None:
        self.tapped = tapped
        self.name = name
        self.buf = b""
        self.head_done = False
        self.inflater: Any = None
        self.reset = False
        # the other direction (the 101 seen going down lets it read the frames going up)
        self.peer: Direction | None = None

    def setup(self) -> None:
        """Configure inflation from the agreed extension (once the 101 is seen)."""
        agreed = self.tapped.response.get("sec-websocket-extensions")
        if agreed is None:
            return
        params = [p.strip() for p in agreed.split(";")]
        who = "server" if self.name == "down" else "client"
        bits = 15
        for p in params:
            if p.startswith(f"{who}_max_window_bits="):
                bits = int(p.split("=")[1])
        self.bits = max(bits, 9)
        self.reset = f"{who}_no_context_takeover" in params
        self.inflater = zlib.decompressobj(-self.bits)

    def feed(self, data: bytes) -> None:
        self.buf += data
        if not self.head_done:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1").split("\r\n")
            self.buf = self.buf[end + 4 :]
            self.head_done = True
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if self.name == "up":
                self.tapped.request = headers
            else:
                assert head[0].startswith("HTTP/1.1 101"), head[0]
                self.tapped.response = headers
                if self.peer is not None:
                    self.peer.feed(b"")
        if self.name == "up" and not self.tapped.response:
            return  # frames are read once the 101 configured both directions
        if self.inflater is None and self.tapped.response:
            self.setup()
        while self.parse_one():
            pass

    def parse_one(self) -> bool:
        buf = self.buf
        if len(buf) < 2:
            return False
        b0, b1 = buf[0], buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if len(buf) < 4:
                return False
            n = int.from_bytes(buf[2:4], "big")
            pos = 4
        elif n == 127:
            if len(buf) < 10:
                return False
            n = int.from_bytes(buf[2:10], "big")
            pos = 10
        mask = b""
        if b1 & 0x80:
            mask = buf[pos : pos + 4]
            pos += 4
        if len(buf) < pos + n:
            return False
        payload = buf[pos : pos + n]
        self.buf = buf[pos + n :]
        if mask:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        opcode = b0 & 0x0F
        if opcode in (1, 2):
            assert b0 & 0x80, "messages are single frames here"
            compressed = bool(b0 & 0x40)
            wire = len(payload)
            if compressed:
                payload = self.inflater.decompress(payload + TRAILER)
                if self.reset:
                    self.inflater = zlib.decompressobj(-self.bits)
            self.tapped.messages.append(Message(self.name, compressed, opcode, payload, wire))
        return True


class WireTap:
    """A TCP proxy in front of the server that records every WebSocket connection."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.connections: list[Tapped] = []
        self.server: asyncio.AbstractServer | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        tapped = Tapped()
        self.connections.append(tapped)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: Direction) -> None:
            try:
                while data := await src.read(65536):
                    direction.feed(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        up, down = Direction(tapped, "up"), Direction(tapped, "down")
        down.peer = up
        await asyncio.gather(pipe(reader, up_writer, up), pipe(up_reader, writer, down))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def deflate_server(**options: Any) -> tuple[fastsio.Server, Any]:
    """The interop application, with permessage-deflate and a few handlers of its own."""
    sio, seen = build_server(per_message_deflate=options or True)

    @sio.on("uncompressed")
    def uncompressed(socket: fastsio.Socket) -> bool:
        socket.compress(False).emit("plain", BIG)
        socket.emit("squeezed", BIG)
        return True

    @sio.on("deflate_state")
    def deflate_state(socket: fastsio.Socket) -> Any:
        ws = socket.client.session.ws
        return ws is not None and ws.deflate is not None

    @sio.on("broadcast_plain")
    def broadcast_plain(socket: fastsio.Socket, msg: Any) -> int:
        return sio.compress(False).emit("news", msg)

    return sio, seen


def steps_exchange() -> list[dict[str, Any]]:
    """Large and small messages both ways, acks, binary, compress(False), a broadcast to a client without deflate."""
    return [
        {"op": "connect", "sock": "s"},
        {"op": "wait", "t": "event", "event": "welcome"},
        {"op": "emit", "event": "echo", "args": [BIG], "ack": True, "tag": "big"},
        {"op": "emit", "event": "echo", "args": ["small"], "ack": True, "tag": "small"},
        {"op": "emit", "event": "echo", "args": [BIG], "ack": True, "tag": "big2"},
        {"op": "emit", "event": "echo", "args": [b(BIN), "bin"], "ack": True, "tag": "bin"},
        {"op": "emit", "event": "uncompressed", "ack": True},
        {"op": "wait", "t": "event", "event": "squeezed"},
        {"op": "connect", "sock": "p", "manager": "m2", "options": {"perMessageDeflate": False}},
        {"op": "emit", "event": "broadcast", "args": [BIG], "ack": True, "tag": "broadcast"},
        {"op": "wait", "t": "event", "event": "news", "sock": "s"},
        {"op": "wait", "t": "event", "event": "news", "sock": "p"},
        {"op": "emit", "event": "broadcast_plain", "args": [BIG], "ack": True, "tag": "broadcast_plain"},
        {"op": "wait", "t": "event", "event": "news", "sock": "s", "count": 2},
        {"op": "wait", "t": "event", "event": "news", "sock": "p", "count": 2},
        {"op": "emit", "event": "deflate_state", "ack": True, "tag": "state"},
        {"op": "emit", "sock": "p", "event": "deflate_state", "ack": True, "tag": "state"},
    ]


def check_exchange_records(run: Run) -> None:
    """What the client saw (the same with and without a tap)."""
    assert run.acks("big") == [BIG]
    assert run.acks("big2") == [BIG]
    assert run.acks("small") == ["small"]
    assert run.acks("bin") == [b(BIN), "bin"]
    assert run.events("plain") == [[BIG]]
    assert run.events("squeezed") == [[BIG]]
    assert run.acks("broadcast") == [2]
    assert run.events("news", "s") == [[BIG], [BIG]]
    assert run.events("news", "p") == [[BIG], [BIG]]
    assert run.acks("state") == [True]
    assert run.acks("state", "p") == [False]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"server_no_context_takeover": True},
        {"client_no_context_takeover": True},
        {"server_no_context_takeover": True, "client_no_context_takeover": True, "server_max_window_bits": 10},
    ],
    ids=["context-takeover", "server-no-context", "client-no-context", "no-context-10-bits"],
)
async def test_exchange_on_the_wire(start_server: Any, options: dict[str, Any]) -> None:
    """Verify on the wire: the negotiation, RSV1 both ways by size, compress(False), and the broadcast."""
    sio, _ = deflate_server(**options)
    url = await start_server(sio)
    tap = WireTap(url)
    tap_url = await tap.start()
    try:
        run = await drive(tap_url, "websocket", steps_exchange(), timeout=20)
    finally:
        await tap.stop()
    check_exchange_records(run)
    s, p = tap.connections
    # the offer of ws (socket.io-client's Node transport), and our answer
    assert s.request["sec-websocket-extensions"] == "permessage-deflate; client_max_window_bits"
    agreed = [x.strip() for x in s.response["sec-websocket-extensions"].split(";")]
    assert agreed[0] == "permessage-deflate"
    assert ("server_no_context_takeover" in agreed) == bool(options.get("server_no_context_takeover"))
    assert ("client_no_context_takeover" in agreed) == bool(options.get("client_no_context_takeover"))
    assert "sec-websocket-extensions" not in p.request and "sec-websocket-extensions" not in p.response

    # client to server: large packets compressed (ws with threshold 1024), small ones not
    big_up = s.of("up", '420["echo","deflate me')
    assert [m.compressed for m in big_up] == [True], s.messages
    big2_up = s.of("up", '422["echo","deflate me')
    assert [m.compressed for m in big2_up] == [True]
    # context takeover: the second copy is mostly a back-reference to the first;
    # client_no_context_takeover (honoured by ws) makes it as large as the first
    if options.get("client_no_context_takeover"):
        assert big2_up[0].wire >= big_up[0].wire - 2
    else:
        assert big2_up[0].wire < big_up[0].wire // 2
    assert [m.compressed for m in s.of("up", '421["echo","small"]')] == [False]
    assert [m.compressed for m in s.of("up", BIN)] == [True]  # the binary attachment
    # server to client: the acks, the binary attachment, compress(False)
    (ack_big,) = s.of("down", "430[")
    (ack_big2,) = s.of("down", "432[")
    assert ack_big.compressed and ack_big2.compressed
    if options.get("server_no_context_takeover"):
        assert ack_big2.wire >= ack_big.wire - 2
    else:
        assert ack_big2.wire < ack_big.wire // 2
    assert [m.compressed for m in s.of("down", '431["small"]')] == [False]
    assert [m.compressed for m in s.of("down", BIN)] == [True]
    assert [m.compressed for m in s.of("down", '42["plain"')] == [False]
    assert [m.compressed for m in s.of("down", '42["squeezed"')] == [True]
    # the broadcast: compressed for the deflate client, the plain frame for the other;
    # broadcast_plain (compress(False)) plain for both
    assert [m.compressed for m in s.of("down", '42["news"')] == [True, False]
    assert [m.compressed for m in p.of("down", '42["news"')] == [False, False]
    assert not any(m.compressed for m in p.messages)


async def test_upgrade_from_polling(start_server: Any) -> None:
    """Verify the exchange over polling upgraded to WebSocket, the WebSocket with deflate negotiated."""
    sio, _ = deflate_server()
    url = await start_server(sio)
    steps = [s for s in steps_exchange()]
    run = await drive(url, "upgrade", steps, timeout=20, await_upgrade=True)
    check_exchange_records(run)


async def test_client_without_deflate_over_websocket(start_server: Any) -> None:
    """Verify a client with perMessageDeflate false gets no extension and everything uncompressed."""
    sio, _ = deflate_server(threshold=0)
    url = await start_server(sio)
    tap = WireTap(url)
    tap_url = await tap.start()
    try:
        run = await drive(
            tap_url,
            "websocket",
            [
                {"op": "connect", "sock": "s"},
                {"op": "emit", "event": "echo", "args": [BIG], "ack": True, "tag": "big"},
                {"op": "emit", "event": "deflate_state", "ack": True, "tag": "state"},
            ],
            options={"perMessageDeflate": False},
        )
    finally:
        await tap.stop()
    assert run.acks("big") == [BIG]
    assert run.acks("state") == [False]
    (conn,) = tap.connections
    assert "sec-websocket-extensions" not in conn.request
    assert conn.messages and not any(m.compressed for m in conn.messages)


async def test_threshold_zero_and_client_threshold(start_server: Any) -> None:
    """Verify threshold 0 compresses even small packets, and the client's own threshold applies to what it sends."""
    sio, _ = deflate_server(threshold=0)
    url = await start_server(sio)
    tap = WireTap(url)
    tap_url = await tap.start()
    try:
        run = await drive(
            tap_url,
            "websocket",
            [
                {"op": "connect", "sock": "s"},
                {"op": "emit", "event": "echo", "args": ["tiny"], "ack": True, "tag": "tiny"},
                {"op": "emit", "event": "echo", "args": ["x" * 200], "ack": True, "tag": "mid"},
            ],
            options={"perMessageDeflate": {"threshold": 100}},
        )
    finally:
        await tap.stop()
    assert run.acks("tiny") == ["tiny"]
    (conn,) = tap.connections
    assert [m.compressed for m in conn.of("up", '420["echo","tiny"]')] == [False]
    assert [m.compressed for m in conn.of("up", '421["echo","xxx')] == [True]
    # everything the server sent was compressed, the OPEN and CONNECT packets included
    down = [m for m in conn.messages if m.direction == "down"]
    assert down and all(m.compressed for m in down), down
    assert json.loads(conn.of("down", "0")[0].text[1:])["sid"]
