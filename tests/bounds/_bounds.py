"""What the memory-bound tests share: the server in its own process (its RSS read from
``/proc/PID/status``) and small raw clients over real sockets (WebSocket frames and
polling requests written byte by byte, so a test can misbehave exactly as it means to).

The measure: :meth:`ServerProcess.baseline` after a warm-up (one well-behaved client
has done what the test's clients will do, on a small scale, so that lazily imported
code and first-use caches are in the baseline), then the clients fill a buffer, and
:meth:`ServerProcess.peak` is the process's high-water mark (``VmHWM``: the largest
RSS it ever had, so a spike between two samples is not missed).  The limit each test
asserts is computed from the options it set: clients x bound x an overhead factor,
plus a fixed slack for the interpreter's own churn.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

TIMEOUT = 10.0
SERVER = Path(__file__).with_name("_bounds_server.py")
ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000
#: what the allocator and interpreter may add, whatever the test does
SLACK = 24 * MB


def status_field(pid: int, name: str) -> int:
    """A ``kB`` field of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(name)


class ServerProcess:
    """``_bounds_server.py`` with some options, in a subprocess (pure twins when
    ``pure``)."""

    def __init__(self, options: dict[str, Any], pure: bool) -> None:
        self.options = options
        env = dict(os.environ)
        env.pop("FASTSIO_NO_EXTENSIONS", None)
        if pure:
            env["FASTSIO_NO_EXTENSIONS"] = "1"
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.stderr_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"fastsio-bounds-{os.getpid()}-{id(self)}.log"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError(f"the server did not start: {line!r} {self.log()}")
        self.port = int(line.split()[1])
        self.base = 0

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.proc.pid

    def rss(self) -> int:
        """The server's resident set size now, in bytes."""
        return status_field(self.pid, "VmRSS")

    def peak(self) -> int:
        """The largest resident set size the server ever had, in bytes."""
        return status_field(self.pid, "VmHWM")

    def baseline(self) -> int:
        """Record (and return) the server's RSS now, as the baseline of the limit."""
        self.base = self.rss()
        return self.base

    def assert_peak_under(self, budget: int) -> None:
        """Verify the server's peak RSS stayed under the baseline plus ``budget`` plus
        :data:`SLACK` bytes."""
        peak = self.peak()
        limit = self.base + budget + SLACK
        assert peak < limit, (
            f"server peak RSS {peak / MB:.1f} MB over its limit {limit / MB:.1f} MB "
            f"(baseline {self.base / MB:.1f} MB + budget {budget / MB:.1f} MB + slack {SLACK / MB:.0f} MB)"
        )

    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self.proc.poll() is None

    def log(self) -> str:
        """What the server logged so far."""
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    async def wait_logged(self, needle: str, count: int = 1) -> str:
        """Wait until the server has logged ``needle`` at least ``count`` times (it may
        log after the client saw the refusal); its log (AssertionError after 10 s)."""
        for _ in range(1000):
            text = self.log()
            if text.count(needle) >= count:
                return text
            await asyncio.sleep(0.01)
        raise AssertionError(f"{needle!r} logged fewer than {count} times: {self.log()[-2000:]}")

    def close(self) -> None:
        """Stop the server (its stdin closes) and remove its log."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()
        self.stderr_path.unlink(missing_ok=True)


# ------------------------------------------------------------------ raw clients
class Closed(Exception):
    """The server closed the connection (``code``: its WebSocket close code, if any)."""

    def __init__(self, code: int | None = None) -> None:
        super().__init__(code)
        self.code = code


class Raw(asyncio.Protocol):
    """One TCP connection whose received bytes stay readable after the peer reset it
    (asyncio's StreamReader drops them: a 413 followed by a reset would be lost)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._more = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    @classmethod
    async def open(cls, port: int, rcvbuf: int | None = None) -> Raw:
        """Connect to 127.0.0.1:``port`` (``rcvbuf``: the kernel receive buffer's size)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", port))
        _, proto = await loop.create_connection(cls, sock=sock)
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._more.set()

    def eof_received(self) -> bool:
        self.lost = True
        self._more.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._more.set()
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    async def write(self, data: bytes) -> None:
        """Write ``data`` (waiting while the transport is full); :class:`Closed` once
        the connection is gone."""
        if self.lost or self.transport is None or self.transport.is_closing():
            raise Closed()
        self.transport.write(data)
        await self._writable.wait()
        if self.lost:
            raise Closed()

    async def _wait(self, timeout: float) -> None:
        if self.lost:
            raise Closed()
        self._more.clear()
        await asyncio.wait_for(self._more.wait(), timeout)

    async def read_until(self, sep: bytes, timeout: float = TIMEOUT) -> bytes:
        """The bytes up to and including ``sep``; :class:`Closed` if the stream ends first."""
        while True:
            i = self.buffer.find(sep)
            if i >= 0:
                out = bytes(self.buffer[: i + len(sep)])
                del self.buffer[: i + len(sep)]
                return out
            await self._wait(timeout)

    async def read_exactly(self, n: int, timeout: float = TIMEOUT) -> bytes:
        """The next ``n`` bytes; :class:`Closed` if the stream ends first."""
        while len(self.buffer) < n:
            await self._wait(timeout)
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def stop_reading(self) -> None:
        """Read nothing more from the kernel (asyncio would otherwise go on reading
        into :attr:`buffer`): what the server sends then fills the kernel's buffers,
        and the server's own."""
        if self.transport is not None:
            self.transport.pause_reading()

    def abort(self) -> None:
        """Drop the connection."""
        if self.transport is not None:
            self.transport.abort()


def ws_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A masked client frame."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    if payload:
        m = int.from_bytes(mask * (n // 4 + 1), "little") & ((1 << (8 * n)) - 1)
        payload = (int.from_bytes(payload, "little") ^ m).to_bytes(n, "little")
    return head + mask + payload


class WS:
    """A raw WebSocket client (Engine.IO v4 unless ``eio`` says otherwise)."""

    def __init__(self, conn: Raw) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, port: int, eio: str = "4", rcvbuf: int | None = None) -> WS:
        """Open a WebSocket to the server and read its Engine.IO OPEN packet.  ``rcvbuf``:
        a small kernel receive buffer, for a client that will stop reading."""
        conn = await Raw.open(port, rcvbuf)
        key = base64.b64encode(os.urandom(16)).decode()
        await conn.write(
            (
                f"GET /socket.io/?EIO={eio}&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await conn.read_until(b"\r\n\r\n")
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        ws = cls(conn)
        opened = await ws.recv()
        assert isinstance(opened, str) and opened.startswith("0"), opened
        return ws

    async def send(self, data: bytes) -> None:
        """Write raw bytes; :class:`Closed` when the server has closed."""
        await self.conn.write(data)

    async def send_text(self, text: str) -> None:
        """Send one text message."""
        await self.send(ws_frame(0x1, text.encode()))

    async def send_binary(self, data: bytes) -> None:
        """Send one binary message."""
        await self.send(ws_frame(0x2, data))

    async def recv(self, timeout: float = TIMEOUT) -> str | bytes:
        """The next message (pings answered, fragments not expected); :class:`Closed`
        on a close frame or the end of the stream."""
        read = self.conn.read_exactly
        while True:
            b0, b1 = await read(2, timeout)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await read(2, timeout))
            elif n == 127:
                (n,) = struct.unpack("!Q", await read(8, timeout))
            payload = await read(n, timeout)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise Closed(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None)
            if opcode == 0x9:
                await self.send(ws_frame(0xA, payload))
                continue
            if opcode == 0x1:
                text = payload.decode()
                if text == "2":  # Engine.IO ping: answer, keep reading
                    await self.send_text("3")
                    continue
                return text
            return payload

    async def closed(self, timeout: float = TIMEOUT) -> int | None:
        """Read until the server closes; its close code (``None``: no close frame)."""
        while True:
            try:
                await self.recv(timeout)
            except Closed as exc:
                return exc.code

    async def connect(self, nsp: str = "/") -> str:
        """Connect to the namespace ``nsp``; the CONNECT reply."""
        await self.send_text("40" if nsp == "/" else f"40{nsp},")
        reply = await self.recv()
        assert isinstance(reply, str) and reply.startswith("40"), reply
        return reply

    async def call(self, event: str, *args: Any, ack: int = 1) -> Any:
        """Emit ``event`` with an ack id and wait for the acknowledgement (other
        packets skipped)."""
        await self.send_text(f"42{ack}" + json.dumps([event, *args]))
        prefix = f"43{ack}"
        while True:
            reply = await self.recv()
            if isinstance(reply, str) and reply.startswith(prefix):
                return json.loads(reply[len(prefix) :])

    def abort(self) -> None:
        """Drop the connection without a close frame."""
        self.conn.abort()


class HTTP:
    """A raw keep-alive HTTP/1.1 connection (Content-Length framed responses)."""

    def __init__(self, conn: Raw, port: int) -> None:
        self.conn = conn
        self.port = port

    @classmethod
    async def open(cls, port: int) -> HTTP:
        """Connect to the server."""
        return cls(await Raw.open(port), port)

    def request(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
        """A request's bytes (Content-Length from ``body`` unless ``headers`` set it;
        a header set to ``""`` is left out)."""
        fields = {"Host": f"127.0.0.1:{self.port}", "Content-Length": str(len(body))}
        if method == "GET":
            del fields["Content-Length"]
        fields.update(headers or {})
        lines = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v)
        return f"{method} {target} HTTP/1.1\r\n{lines}\r\n".encode() + body

    async def send(self, data: bytes) -> None:
        """Write raw bytes; :class:`Closed` when the server has closed."""
        await self.conn.write(data)

    async def response(self, timeout: float = TIMEOUT) -> tuple[int, bytes]:
        """The next response's status and body; :class:`Closed` at the end of the stream."""
        head = await self.conn.read_until(b"\r\n\r\n", timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        body = await self.conn.read_exactly(length, timeout) if length else b""
        return status, body

    async def exchange(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request, read its response."""
        await self.send(self.request(method, target, body))
        return await self.response()

    def close(self) -> None:
        """Close the connection."""
        self.conn.abort()


def polling(sid: str | None = None, eio: str = "4") -> str:
    """The polling request target (of session ``sid``)."""
    target = f"/socket.io/?EIO={eio}&transport=polling"
    return target + (f"&sid={sid}" if sid else "")


async def polling_session(port: int, eio: str = "4") -> tuple[HTTP, str]:
    """A polling session connected to ``/`` (its CONNECT reply taken): the connection
    and the sid."""
    http = await HTTP.open(port)
    status, body = await http.exchange("GET", polling(eio=eio))
    assert status == 200, (status, body)
    found = re.search(rb'"sid":"([^"]+)"', body)
    assert found is not None, body
    sid = found.group(1).decode()
    if eio == "4":  # Engine.IO v3 clients are connected to "/" without asking
        status, body = await http.exchange("POST", polling(sid, eio), b"40")
        assert status == 200, (status, body)
    status, body = await http.exchange("GET", polling(sid, eio))
    assert status == 200 and b"40" in body, (status, body)
    return http, sid
