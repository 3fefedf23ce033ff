"""What the server tests share: raw HTTP and WebSocket over asyncio streams (for exact
bytes), and small Engine.IO / Socket.IO clients on top of them."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket as socketlib
import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TIMEOUT = 5.0


def hostport(url: str) -> tuple[str, int]:
    """Return (host, port) of a base URL."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


@dataclass
class Response:
    """A parsed HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes
    raw_headers: list[tuple[str, str]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


class Conn:
    """One raw TCP connection to the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, url: str) -> Conn:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*hostport(url)), TIMEOUT)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, timeout: float = TIMEOUT) -> Response:
        """Read one response (Content-Length framed)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        raw: list[tuple[str, str]] = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                raw.append((name.strip(), value.strip()))
        headers = {name.lower(): value for name, value in raw}
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        return Response(status, headers, body, raw)

    async def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        host: str = "localhost",
    ) -> Response:
        await self.send(build_request(method, target, body, headers, host))
        return await self.response()

    async def eof(self, timeout: float = TIMEOUT) -> bool:
        """Read to the end; True when the server closed the connection."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), timeout):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass
        return True

    def close(self) -> None:
        self.writer.close()


def build_request(
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    host: str = "localhost",
) -> bytes:
    """Return the bytes of an HTTP/1.1 request with Content-Length."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def raw_exchange(url: str, data: bytes, timeout: float = TIMEOUT) -> bytes:
    """Send ``data`` on a new connection; return everything read until the server closes."""
    conn = await Conn.open(url)
    try:
        await conn.send(data)
        out = b""
        try:
            while True:
                chunk = await asyncio.wait_for(conn.reader.read(65536), timeout)
                if not chunk:
                    break
                out += chunk
        except ConnectionResetError:
            pass
        return out
    finally:
        conn.close()


# ------------------------------------------------------------------ Engine.IO over polling


def eio_path(path: str = "/engine.io/", **query: str) -> str:
    q = {"EIO": "4", "transport": "polling"}
    q.update(query)
    return path + "?" + "&".join(f"{k}={v}" for k, v in q.items())


async def polling_open(conn: Conn, path: str = "/engine.io/", **headers: str) -> dict[str, Any]:
    """Open a polling session on ``conn``; return the OPEN packet's data."""
    r = await conn.request("GET", eio_path(path), headers=headers or None)
    assert r.status == 200, r
    assert r.body[:1] == b"0", r.body
    return json.loads(r.body[1:])


# ------------------------------------------------------------------ WebSocket (raw frames)


def ws_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
) -> bytes:
    """Return a client frame; ``rsv`` sets RSV bits (0-7), ``masked=False`` breaks the rules."""
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
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + body


def text(s: str) -> bytes:
    return frame(0x1, s.encode())


def binary(b: bytes) -> bytes:
    return frame(0x2, b)


class WSConn(Conn):
    """A raw WebSocket connection (after the 101)."""

    buf: bytes = b""

    @classmethod
    async def connect(
        cls, url: str, target: str, headers: dict[str, str] | None = None, host: str = "localhost"
    ) -> WSConn:
        conn = await Conn.open(url)
        ws = cls(conn.reader, conn.writer)
        hdrs = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": ws_key(),
            "Sec-WebSocket-Version": "13",
        }
        hdrs.update(headers or {})
        await ws.send(build_request("GET", target, headers=hdrs, host=host))
        r = await ws.response_head()
        assert r.status == 101, r
        return ws

    async def response_head(self) -> Response:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        return Response(int(lines[0].split(" ", 2)[1]), headers, b"")

    async def recv_frame(self, timeout: float = TIMEOUT) -> tuple[int, bytes]:
        """Read one server frame: (opcode, payload).  Raises EOFError at the end."""
        b0, payload = await self.recv_raw_frame(timeout)
        return b0 & 0x0F, payload

    async def recv_raw_frame(self, timeout: float = TIMEOUT) -> tuple[int, bytes]:
        """Read one server frame: (first byte, payload as sent).  Raises EOFError at the end."""
        async def need(n: int) -> None:
            while len(self.buf) < n:
                chunk = await self.reader.read(65536)
                if not chunk:
                    raise EOFError
                self.buf += chunk

        async def read() -> tuple[int, bytes]:
            await need(2)
            b0, b1 = self.buf[0], self.buf[1]
            assert not b1 & 0x80, "server frames are not masked"
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                await need(4)
                n = struct.unpack("!H", self.buf[2:4])[0]
                pos = 4
            elif n == 127:
                await need(10)
                n = struct.unpack("!Q", self.buf[2:10])[0]
                pos = 10
            await need(pos + n)
            payload = self.buf[pos : pos + n]
            self.buf = self.buf[pos + n :]
            return b0, payload

        return await asyncio.wait_for(read(), timeout)

    async def recv(self, timeout: float = TIMEOUT) -> str | bytes:
        """Read the next data message (text as str); skip pings."""
        while True:
            op, payload = await self.recv_frame(timeout)
            if op == 0x1:
                return payload.decode()
            if op == 0x2:
                return payload
            if op == 0x8:
                raise EOFError(f"close {close_code(payload)}")

    async def close_code(self, timeout: float = TIMEOUT, reply: bool = True) -> int | None:
        """Read frames until a close frame; return its code.  ``reply``: answer it, as
        clients do (the server then closes the TCP connection at once)."""
        while True:
            op, payload = await self.recv_frame(timeout)
            if op == 0x8:
                if reply:
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


async def eio_ws(url: str, path: str = "/engine.io/", **query: str) -> tuple[WSConn, dict[str, Any]]:
    """Open a WebSocket-only Engine.IO session; return it and the OPEN packet's data."""
    ws = await WSConn.connect(url, eio_path(path, transport="websocket", **query))
    first = await ws.recv()
    assert isinstance(first, str) and first[0] == "0", first
    return ws, json.loads(first[1:])


async def sio_ws(url: str, nsp: str = "/", auth: str = "") -> tuple[WSConn, str]:
    """Open a Socket.IO connection over WebSocket and CONNECT to ``nsp``; return it and
    the socket id."""
    ws, _ = await eio_ws(url, "/socket.io/")
    prefix = "" if nsp == "/" else nsp + ","
    await ws.send_text("40" + prefix + auth)
    reply = await ws.recv()
    assert isinstance(reply, str) and reply.startswith("40" + prefix), reply
    return ws, json.loads(reply[2 + len(prefix) :])["sid"]


async def sio_call(ws: WSConn, event: str, *args: Any, ack: int = 1, nsp: str = "/") -> Any:
    """Emit ``event`` with an ack id over ``ws`` (to namespace ``nsp``); return the ack's
    arguments (skipping pings)."""
    prefix = "" if nsp == "/" else nsp + ","
    await ws.send_text(f"42{prefix}{ack}" + json.dumps([event, *args]))
    while True:
        msg = await ws.recv()
        if msg == "2":
            await ws.send_text("3")
            continue
        assert isinstance(msg, str) and msg.startswith(f"43{prefix}{ack}"), msg
        return json.loads(msg[len(f"43{prefix}{ack}") :])


async def until(predicate: Any, steps: int = 500) -> None:
    """Wait until ``predicate()`` is true, checking every 10 ms (``steps`` times at most)."""
    for _ in range(steps):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never met")


async def stalled_ws(url: str) -> tuple[WSConn, socketlib.socket]:
    """A Socket.IO connection over WebSocket with a tiny receive buffer, connected to
    ``/``; the caller then stops reading from it."""
    host, port = hostport(url)
    sock = socketlib.socket()
    sock.setsockopt(socketlib.SOL_SOCKET, socketlib.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    r, w = await asyncio.open_connection(sock=sock)
    ws = WSConn(r, w)
    await ws.send(
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
    await ws.response_head()
    assert str(await ws.recv()).startswith("0")
    await ws.send_text("40")
    assert str(await ws.recv()).startswith("40")
    return ws, sock
