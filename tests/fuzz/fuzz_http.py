"""Fuzz the HTTP request path: ``fastsio._server.http.Connection`` fed raw bytes
(and, after an upgrade, the ``fastsio._server.websocket.WebSocketConnection`` the
transport is handed to).

No network: the connection gets a fake transport, a fake loop and a stub
application that answers plain requests, accepts WebSocket upgrades on
``/ws`` and echoes messages.  Input layout: byte 0 picks how the rest is cut
into ``data_received`` calls.  A run fails when an exception escapes the
connection, and, where both twins of the frame codec exist, when the
connection behaves differently with one or the other (everything written to
the transport and every call into the application are compared).

Run by hand: ``python tests/fuzz/fuzz_http.py CORPUS_DIR -max_total_time=600``.
"""

from __future__ import annotations

import logging
import random
import sys
from types import ModuleType
from typing import Any

from fuzzlib import main, same, twins

http: ModuleType
websocket: ModuleType
sides: list[ModuleType]

# The names the WebSocket connection's module takes from the frame codec, swapped per
# twin (in the module that defines the class in use, pure or compiled: the selector's
# copies of the names are not what its code reads).
CODEC_NAMES = ("FrameParser", "WebSocketError", "build_close", "build_frame")


def setup() -> None:
    """Import the connection classes and the frame codec twins."""
    global http, websocket, sides
    import fastsio._server.http as http_module
    import fastsio._server.websocket as websocket_module

    http = http_module
    websocket = sys.modules[websocket_module.WebSocketConnection.__module__]
    py, c = twins("wsframe")
    sides = [py] if c is None else [py, c]


class Transport:
    """Records what the connection writes; never blocks."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log
        self.protocol: Any = None

    def set_protocol(self, protocol: Any) -> None:
        self.log.append(("set_protocol", type(protocol).__name__))
        self.protocol = protocol

    def write(self, data: bytes) -> None:
        self.log.append(("write", bytes(data)))

    def writelines(self, parts: list[bytes]) -> None:
        """What was queued and a large WebSocket frame, in one call (logged as one write)."""
        self.log.append(("write", b"".join(parts)))

    def close(self) -> None:
        self.log.append(("close",))

    def abort(self) -> None:
        self.log.append(("abort",))

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000)}.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Loop:
    """A clock that stands still; timers are recorded, not run."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def time(self) -> float:
        return 1000.0

    def call_later(self, delay: float, callback: Any, *args: Any) -> Any:
        self.log.append(("call_later", delay))
        return None


class Flusher:
    """Collects connections with pending output; ``run`` flushes them (the end of a loop iteration)."""

    counting = False  # the outboxes count bytes out on a flusher that counts (metrics on)

    def __init__(self) -> None:
        self.pending: list[Any] = []

    def add(self, conn: Any) -> None:
        self.pending.append(conn)

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for conn in pending:
            conn.flush()


class Handler:
    """The WebSocket side of the stub application: echo, ``close`` closes."""

    eio = 4

    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def receive_ws(self, conn: Any, message: str | bytes, now: float) -> None:
        self.log.append(("message", message))
        if message == "close":
            conn.ws_close(1000, "bye")
        else:
            conn.send(message)

    def ws_closed(self, conn: Any, *reason: Any) -> None:
        self.log.append(("ws_closed", *reason))


class App:
    """A stub application (an ``http.Application``): 200 with the first bytes of the
    body, 101 on /ws."""

    wheel = None
    metrics = None
    server_log = logging.getLogger("fastsio.server")

    def __init__(self, log: list[Any]) -> None:
        from fastsio.options import EngineOptions

        self.log = log
        self.options = EngineOptions(max_http_buffer_size=2048, max_buffer_size=0)
        self.connections: set[Any] = set()
        self.spare_frame_parsers: dict[int, Any] = {}

    def body_too_large(self, req: Any) -> None:
        self.log.append(("body_too_large", req.path))

    def handle_request(self, conn: Any, req: Any) -> None:
        self.log.append(("request", req.method, req.path, sorted(req.query.items()), sorted(req.headers.items()), req.body))
        if req.path == "/hold":
            return  # a long poll: answered by the next request's arrival, never here
        if req.path == "/boom":
            raise RuntimeError("handler failure")
        conn.send_response(200, [("Content-Type", "text/plain")], req.body[:64])

    def handle_upgrade(self, conn: Any, req: Any) -> None:
        self.log.append(("upgrade", req.path))
        if req.path.startswith("/ws"):
            conn.accept_websocket(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", Handler(self.log), 1000)
        else:
            conn.send_error(400, close=True)


def run(codec: ModuleType, chunks: list[bytes]) -> list[Any]:
    """Return the log of one connection reading ``chunks`` with ``codec``'s frame functions."""
    saved = {name: getattr(websocket, name) for name in CODEC_NAMES}
    for name in CODEC_NAMES:
        setattr(websocket, name, getattr(codec, name))
    try:
        log: list[Any] = []
        flusher = Flusher()
        conn = http.Connection(App(log), Loop(log), flusher)
        transport = Transport(log)
        transport.protocol = conn
        conn.connection_made(transport)
        for chunk in chunks:
            transport.protocol.data_received(chunk)
            flusher.run()
        transport.protocol.connection_lost(None)
        flusher.run()
        return log
    finally:
        for name, value in saved.items():
            setattr(websocket, name, value)


def test_one_input(data: bytes) -> None:
    """Serve one fuzzed byte stream, with each frame codec twin."""
    if not data:
        return
    rng = random.Random(data[:3])
    stream, chunks, pos = data[1:], [], 0
    limit = (1, 8, 64, 1 << 20)[data[0] % 4]
    while pos < len(stream):
        step = rng.randint(1, limit)
        chunks.append(stream[pos : pos + step])
        pos += step
    logs = [run(codec, chunks) for codec in sides]
    if len(logs) == 2:
        same(logs[0], logs[1], "an HTTP connection")


def _frame(b0: int, payload: bytes, mask: bytes = b"\x0f\x1e\x2d\x3c") -> bytes:
    return bytes((b0, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


UPGRADE = (
    b"GET /ws?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
SEEDS = [
    b"\x03GET /?a=1&b=2 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x01POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"\x02POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"\x03GET /hold HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
    b"\x03" + UPGRADE + _frame(0x81, b"2probe") + _frame(0x89, b"hi") + _frame(0x88, b"\x03\xe8"),
    b"\x00" + UPGRADE + _frame(0x81, b"close") + _frame(0x81, b"late"),
    b"\x02" + UPGRADE + _frame(0x82, b"\x00\x01") + b"\x81\x05",
    b"\x03GET /boom HTTP/1.1\r\n\r\n",
    b"\x03GARBAGE\r\n\r\n",
]

if __name__ == "__main__":
    logging.getLogger("fastsio").setLevel(logging.CRITICAL + 1)  # the stub's failures are expected
    main(setup, test_one_input, SEEDS)
