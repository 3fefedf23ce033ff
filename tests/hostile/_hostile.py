"""What the hostile-input battery shares: raw HTTP and WebSocket over asyncio streams
(exact bytes, IPv4 or IPv6), a well-behaved "bystander" client that keeps exchanging
acknowledged messages while an attack runs, the case tables' row type, and the log
assertion every case makes.

A case is data: a :class:`Case` row (an id, the input, the expected status or close
code, the expected log substring); each test file turns its table into
``pytest.param`` with :func:`params`, which applies a row's ``xfail`` (always
``strict=True``: a defect that gets fixed must be noticed and the mark removed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import urlsplit

import pytest

TIMEOUT = 5.0
#: ``max_http_buffer_size`` of the battery's servers
MAX = 10_000


def hostport(url: str) -> tuple[str, int]:
    """Return (host, port) of a base URL (``http://[::1]:8000`` included)."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


# ------------------------------------------------------------------ the case tables


@dataclass(frozen=True)
class Case:
    """One hostile input and what the server must answer.

    Attributes:
        id: the test id.
        data: the input (its meaning depends on the table).
        expect: the status code (HTTP tables), the close code (WebSocket tables) or
            the exact reply (a ``str``), as the table says.
        log: a substring one of the server's log lines must contain.
        xfail: a known defect (the reason, starting ``defect:``): the case is marked
            ``xfail(strict=True)``.
        extra: anything else the table needs (headers, a session kind...).
    """

    id: str
    data: Any
    expect: Any
    log: str
    xfail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class MissingLog(AssertionError):
    """The server logged nothing about a case (see :func:`assert_logged`)."""


#: the start of an xfail reason for a case whose only known defect is a missing log
#: line: its mark then expects :class:`MissingLog`, so any other failure still fails
NO_LOG = "defect: no log line: "


def params(cases: Iterable[Case]) -> list[Any]:
    """The rows as ``pytest.param`` (id, xfail mark; a reason starting with
    :data:`NO_LOG` expects :class:`MissingLog` only)."""
    out = []
    seen: set[str] = set()
    for c in cases:
        assert c.id not in seen, f"duplicate case id {c.id}"
        seen.add(c.id)
        marks = []
        if c.xfail:
            raises = MissingLog if c.xfail.startswith(NO_LOG) else None
            marks.append(pytest.mark.xfail(strict=True, reason=c.xfail, raises=raises))
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def assert_logged(caplog: pytest.LogCaptureFixture, needle: str, *, allow_errors: bool = False) -> None:
    """Verify a line of the server's logger (the ``fastsio`` hierarchy) contains
    ``needle``, and that nothing logged a traceback or an error."""
    records = [r for r in caplog.records if r.name == "fastsio" or r.name.startswith("fastsio.")]
    lines = "\n".join(f"{r.name} {r.levelname} {r.getMessage()}" for r in records)
    if not needle or not any(needle in r.getMessage() for r in records):
        raise MissingLog(f"no log line with {needle!r} in:\n{lines}")
    if not allow_errors:
        bad = [r for r in records if r.exc_info or r.levelno >= logging.ERROR]
        assert not bad, [r.getMessage() for r in bad]


# ------------------------------------------------------------------ raw HTTP


@dataclass
class Response:
    """A parsed HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def build_request(
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str | None] | None = None,
    host: str | None = "localhost",
) -> bytes:
    """The bytes of an HTTP/1.1 request with Content-Length (a header given as None is
    left out, ``Host`` included)."""
    hdrs: dict[str, str | None] = {"Host": host}
    for name, value in (headers or {}).items():
        if name == "Host" and host is not None and value is not None:
            name = "host"  # a second Host header
        hdrs[name] = value
    if body or method in ("POST", "PUT"):
        hdrs.setdefault("Content-Length", str(len(body)))
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{k}: {v}" for k, v in hdrs.items() if v is not None)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Conn:
    """One raw TCP connection to the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = b""

    @classmethod
    async def open(cls, url: str, local_addr: tuple[str, int] | None = None) -> Conn:
        host, port = hostport(url)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, local_addr=local_addr, limit=1 << 22), TIMEOUT
        )
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, timeout: float = TIMEOUT) -> Response:
        """Read one response (Content-Length framed)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        return Response(status, headers, body)

    async def request(self, method: str, target: str, body: bytes = b"", **kw: Any) -> Response:
        await self.send(build_request(method, target, body, **kw))
        return await self.response()

    async def read_all(self, timeout: float = TIMEOUT) -> bytes:
        """Everything until the server closes the connection."""
        out = b""
        try:
            while True:
                chunk = await asyncio.wait_for(self.reader.read(1 << 20), timeout)
                if not chunk:
                    return out
                out += chunk
        except (ConnectionResetError, BrokenPipeError):
            return out

    def close(self) -> None:
        self.writer.close()


async def raw_exchange(url: str, data: bytes, timeout: float = TIMEOUT) -> bytes:
    """Send ``data`` on a new connection; return everything read until the server closes."""
    conn = await Conn.open(url)
    try:
        try:
            await conn.send(data)
        except (ConnectionResetError, BrokenPipeError):
            pass
        return await conn.read_all(timeout)
    finally:
        conn.close()


def status_of(raw: bytes) -> int | None:
    """The status of the first response in ``raw`` (None: no response)."""
    if not raw.startswith(b"HTTP/1.1 "):
        return None
    return int(raw[9:12])


def statuses(raw: bytes) -> list[int]:
    """The statuses of every response in ``raw``, in order."""
    out = []
    i = raw.find(b"HTTP/1.1 ")
    while i >= 0:
        out.append(int(raw[i + 9 : i + 12]))
        i = raw.find(b"HTTP/1.1 ", i + 12)
    return out


def eio_path(path: str = "/socket.io/", **query: str) -> str:
    """An Engine.IO request target (``EIO=4&transport=polling`` unless overridden; a
    query value of ``None`` is left out)."""
    q: dict[str, str | None] = {"EIO": "4", "transport": "polling"}
    q.update(query)
    return path + "?" + "&".join(f"{k}={v}" for k, v in q.items() if v is not None)


async def polling_open(conn: Conn, **query: str) -> str:
    """Open a polling session on ``conn``; return its sid."""
    r = await conn.request("GET", eio_path(**query))
    assert r.status == 200, r
    body = r.body
    if body.startswith(b"___eio["):  # a JSONP script: ___eio[j]("<payload>");
        body = json.loads(body[body.index(b"(") + 1 : -2]).encode()
    if query.get("EIO") == "3":
        # a v3 text payload "<length>:0{...}" (b64=1), or a JSONP script
        body = body[body.index(b":") + 1 :] if b":" in body[:12] else body
    assert body[:1] == b"0", r.body
    return str(json.loads(body[1:].split(b"\x1e")[0])["sid"])


# ------------------------------------------------------------------ WebSocket


def ws_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def ws_headers(**over: str | None) -> dict[str, str | None]:
    """The headers of a valid WebSocket handshake, some replaced (None: left out)."""
    h: dict[str, str | None] = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": ws_key(),
        "Sec-WebSocket-Version": "13",
    }
    h.update(over)
    return h


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True) -> bytes:
    """A client frame; ``rsv`` sets the RSV bits (0-7), ``masked=False`` breaks the rules."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head = struct.pack("!BB", b0, mask_bit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mask_bit | 127, n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def text(s: str | bytes) -> bytes:
    return frame(0x1, s.encode() if isinstance(s, str) else s)


def binary(b: bytes) -> bytes:
    return frame(0x2, b)


def close_frame(code: int, reason: bytes = b"") -> bytes:
    return frame(0x8, struct.pack("!H", code) + reason)


class WSConn(Conn):
    """A raw WebSocket connection (after the 101)."""

    @classmethod
    async def connect(
        cls, url: str, target: str, headers: dict[str, str | None] | None = None, host: str = "localhost"
    ) -> WSConn:
        conn = await Conn.open(url)
        ws = cls(conn.reader, conn.writer)
        await ws.send(build_request("GET", target, headers=ws_headers(**(headers or {})), host=host))
        head = await asyncio.wait_for(ws.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101 "), head
        return ws

    async def _need(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = await self.reader.read(1 << 20)
            if not chunk:
                raise EOFError
            self.buf += chunk

    async def recv_frame(self, timeout: float = TIMEOUT) -> tuple[int, bytes]:
        """One server frame: (opcode, payload).  Raises EOFError at the end."""

        async def read() -> tuple[int, bytes]:
            await self._need(2)
            b0, b1 = self.buf[0], self.buf[1]
            assert not b1 & 0x80, "server frames are not masked"
            n, pos = b1 & 0x7F, 2
            if n == 126:
                await self._need(4)
                n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                await self._need(10)
                n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
            await self._need(pos + n)
            payload = self.buf[pos : pos + n]
            self.buf = self.buf[pos + n :]
            return b0 & 0x0F, payload

        return await asyncio.wait_for(read(), timeout)

    async def recv(self, timeout: float = TIMEOUT) -> str | bytes:
        """The next data message (text as str); pings answered; a close raises EOFError."""
        while True:
            op, payload = await self.recv_frame(timeout)
            if op == 0x1:
                return payload.decode()
            if op == 0x2:
                return payload
            if op == 0x8:
                raise EOFError(f"close {close_code(payload)}")

    async def close_code(self, timeout: float = TIMEOUT) -> int | None:
        """Read frames until a close frame; answer it; return its code (None: the
        connection ended without one)."""
        while True:
            try:
                op, payload = await self.recv_frame(timeout)
            except (EOFError, ConnectionResetError):
                return None
            if op == 0x8:
                try:
                    await self.send(frame(0x8, payload[:2]))
                except (ConnectionError, OSError):
                    pass
                return close_code(payload)

    async def send_text(self, s: str) -> None:
        await self.send(text(s))

    async def send_binary(self, b: bytes) -> None:
        await self.send(binary(b))


def close_code(payload: bytes) -> int | None:
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


async def eio_ws(url: str, eio: str = "4", **query: str) -> tuple[WSConn, dict[str, Any]]:
    """A WebSocket-only Engine.IO session: the connection and the OPEN packet's data."""
    ws = await WSConn.connect(url, eio_path(EIO=eio, transport="websocket", **query))
    first = await ws.recv()
    assert isinstance(first, str) and first[0] == "0", first
    return ws, json.loads(first[1:])


async def sio_ws(url: str, nsp: str = "/", auth: str = "", eio: str = "4") -> WSConn:
    """A Socket.IO connection over WebSocket, connected to ``nsp`` (v5; with
    ``eio="3"``, a v4 connection, connected to ``/`` by the server)."""
    ws, _ = await eio_ws(url, eio)
    if eio == "3":
        assert await ws.recv() == "40"
        if nsp == "/":
            return ws
    prefix = "" if nsp == "/" else nsp + ","
    await ws.send_text("40" + prefix + auth)
    reply = await ws.recv()
    assert isinstance(reply, str) and reply.startswith("40" + prefix), reply
    return ws


async def sio_reply(ws: WSConn, timeout: float = TIMEOUT) -> str | bytes:
    """The next Socket.IO message (Engine.IO pings answered, the "4" prefix removed from
    text messages)."""
    while True:
        msg = await ws.recv(timeout)
        if msg == "2":
            await ws.send_text("3")
            continue
        if isinstance(msg, str):
            assert msg[:1] == "4", msg
            return msg[1:]
        return msg


# ------------------------------------------------------------------ the bystander


class Bystander:
    """A well-behaved Socket.IO client (raw WebSocket) that keeps emitting an acked
    ``echo`` while the attack runs, and checks every ack comes back, in order, with
    its argument.  ``stop()`` ends the loop, does one last round trip, and returns the
    number of round trips done."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: WSConn | None = None
        self.task: asyncio.Task[int] | None = None
        self.running = True

    async def start(self) -> Bystander:
        self.ws = await sio_ws(self.url)
        await self.call(0)
        self.task = asyncio.get_running_loop().create_task(self._loop())
        return self

    async def call(self, n: int) -> None:
        assert self.ws is not None
        await self.ws.send_text(f'42{n}["echo",{n},"{"b" * 64}"]')
        reply = await sio_reply(self.ws)
        while isinstance(reply, str) and reply.startswith("2["):  # a broadcast: not ours
            reply = await sio_reply(self.ws)
        assert reply == f'3{n}[{n},"{"b" * 64}"]', (n, reply)

    async def _loop(self) -> int:
        n = 1
        while self.running:
            await self.call(n)
            n += 1
            await asyncio.sleep(0)
        return n

    async def stop(self) -> int:
        self.running = False
        assert self.task is not None
        n = await asyncio.wait_for(self.task, TIMEOUT)
        await self.call(n)
        assert self.ws is not None
        self.ws.close()
        return n
