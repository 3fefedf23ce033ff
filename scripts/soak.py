"""Soak and churn test of a fastsio server (``make soak``; by hand, loopback only).

``python scripts/soak.py [--duration S] [--clients N] [--workers W] [--pure]``

It starts a fastsio server in its own process (``server`` mode, the pure twins with
``--pure``), then ``W`` worker processes (``worker`` mode) that keep ``N`` clients
alive between them for ``S`` seconds, each slot connecting a new client when its last
one has gone: thousands of clients over the run.  Every client is one of:

* a well-behaved one (WebSocket; a fifth over long-polling; a quarter of the WebSocket
  ones with permessage-deflate, compressing what they send and inflating what they
  get), which joins a room, emits events with acknowledgements (``echo``), asks the
  server for acknowledged emits (``ask``: the server emits two packets with a callback
  each, the client answers them), broadcasts to its room, answers pings, and after a
  few seconds disconnects (most cleanly, some by dropping the TCP connection);
* a misbehaving one (one in twenty): stops reading (the ping timeout or the
  slow-consumer limit closes it), sends garbage (a protocol error closes it), or
  drops its connection in the middle of a message.

The driver samples the server's RSS and open file descriptors (``/proc/PID``) twice a
second.  At the end every client has gone; it waits for the server to close what
misbehaving clients left behind, then checks, and prints the figures (clients,
minutes, RSS and fds before/peak/after, acks sent/received, errors):

* the memory the server holds back to within ``--rss-tolerance`` (5 %) of the
  baseline (taken after a warm-up round at full load, so first-use imports and caches
  are in it), and its fds back to the baseline.  "Holds" is the RSS once glibc has
  given back the free memory it caches (``malloc_trim(0)``, called by the soak's own
  server app as a diagnostic, at the baseline and at the end alike), and the Python
  allocator's live blocks (``sys.getallocatedblocks`` after a full collection).  The
  raw RSS is printed too: after a peak it stays up, because glibc keeps the freed
  memory of a fragmented heap for reuse rather than returning it (the diagnostic of
  ``scripts/fd_exhaustion.py`` shows the same after fd-exhaustion attacks: it does not
  grow from one attack to the next, and malloc_trim gives it back);
* no acknowledgement lost: every ``echo`` a live well-behaved client sent was
  answered, and the server got an answer for every packet it asked one for from them;
* no live well-behaved client hit a ping timeout (the server counts the disconnect
  reasons of the sockets that said they were well-behaved; one about to drop its
  connection without closing tells it first, since a polling client gone that way is
  rightly found by the ping timeout);
* no errors: no ERROR line in the server's log, no unexpected failure in a client.

It exits 1 on any violation.  Bounded in time (``--warmup`` + ``--duration``, plus
twice at most ``--settle`` and the 21 s for the last deadlines to pass: about 12.5
minutes by default) and in count (``--clients`` at once, at most 15,000; a worker
process per 500, far below the 20,000 open files of a process).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
TIMEOUT = 15.0
PING_INTERVAL = 10.0
PING_TIMEOUT = 10.0
#: what a worker prints on its last line
RESULT = "RESULT "


# ====================================================================== server mode
def rss_of_self() -> int:
    """This process's RSS in bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def serve(args: argparse.Namespace) -> None:
    """The server: counts what the driver checks; prints ``PORT n``; stops on SIGTERM."""
    import ctypes
    import gc
    import logging
    import tracemalloc

    import fastsio

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    sio = fastsio.Server(
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        per_message_deflate={"threshold": 512},
        http_request_timeout=10,
    )
    stats: dict[str, int] = {"server_acks_sent": 0, "server_acks_received": 0, "good_ping_timeouts": 0}
    reasons: dict[str, int] = {}

    @sio.on("connect")
    def connect(socket: Any, auth: Any) -> None:
        good = not (isinstance(auth, dict) and auth.get("bad"))
        socket.data = str(auth.get("kind", "?")) if good and isinstance(auth, dict) else None
        room = auth.get("room", "lobby") if isinstance(auth, dict) else "lobby"
        socket.join(str(room)[:32])

    @sio.on("disconnect")
    def disconnect(socket: Any, reason: str) -> None:
        reasons[reason] = reasons.get(reason, 0) + 1
        if socket.data and reason == "ping timeout":
            stats["good_ping_timeouts"] += 1
            key = "ping_timeouts_" + socket.data
            stats[key] = stats.get(key, 0) + 1

    @sio.on("echo")
    def echo(socket: Any, *args: Any) -> Any:
        return args

    @sio.on("leaving")
    def leaving(socket: Any) -> None:
        # a well-behaved client about to drop its connection without closing: a
        # polling one is then found gone by the ping timeout, which is right
        socket.data = None

    @sio.on("bcast")
    def bcast(socket: Any, room: Any, payload: Any) -> None:
        sio.to(str(room)[:32]).emit("b", payload)

    @sio.on("ask")
    def ask(socket: Any, n: Any) -> int:
        def answered(*_: Any) -> None:
            stats["server_acks_received"] += 1

        count = min(int(n), 4)
        for i in range(count):
            stats["server_acks_sent"] += 1
            socket.emit("q", i, callback=answered)
        return count

    snapshots: list[Any] = []

    @sio.on("diag")
    def diag(socket: Any, what: str) -> Any:
        """Diagnostics (not part of the checks): Python objects and allocated blocks
        after a full collection, tracemalloc's growth since the first ``"mark"``
        (with --tracemalloc), and, for ``"trim"``, the RSS after glibc's malloc_trim
        (the soak's own diagnostic: the library never calls it)."""
        gc.collect()
        out: dict[str, Any] = {
            "objects": len(gc.get_objects()),
            "blocks": sys.getallocatedblocks(),
            "gc_counts": gc.get_count(),
            "gc_stats": [g["collections"] for g in gc.get_stats()],
            "rss": rss_of_self(),
        }
        if what == "arenas":  # pymalloc's arenas (CPython's allocator statistics)
            import tempfile

            with tempfile.TemporaryFile() as tmp:
                saved = os.dup(2)
                os.dup2(tmp.fileno(), 2)
                try:
                    sys._debugmallocstats()
                finally:
                    os.dup2(saved, 2)
                    os.close(saved)
                tmp.seek(0)
                for raw in tmp.read().decode(errors="replace").splitlines():
                    if raw.startswith(("# arenas allocated current", "# arenas highwater mark", "Total ")):
                        out[raw.split("=")[0].strip("# ").strip()] = raw.split("=")[-1].strip()
                    elif "bytes in allocated blocks" in raw or "bytes in available blocks" in raw:
                        out[raw.split("=")[0].strip("# ").strip()] = raw.split("=")[-1].strip()
        wheel = sio.engine.wheel
        if wheel is not None:  # the timer wheel: its buckets, and what is filed in them
            out["wheel_buckets"] = len(wheel.buckets)
            out["wheel_filed"] = sum(len(b) - 1 for b in wheel.buckets.values())
        if tracemalloc.is_tracing():
            snap = tracemalloc.take_snapshot()
            if not snapshots:
                snapshots[:] = [snap]
            else:
                top = snap.compare_to(snapshots[0], "traceback")[:10]
                out["tracemalloc_growth"] = [
                    f"{t.size_diff} B {t.count_diff} blocks: " + " <- ".join(
                        f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in list(t.traceback)[::-1][:8]
                    )
                    for t in top
                ]
            out["traced"] = tracemalloc.get_traced_memory()[0]
        if what == "trim":
            try:
                ctypes.CDLL("libc.so.6").malloc_trim(0)
            except (OSError, AttributeError):  # not glibc
                out["rss_after_malloc_trim"] = None
            else:
                out["rss_after_malloc_trim"] = rss_of_self()
        return out

    @sio.on("stats")
    def get_stats(socket: Any) -> Any:
        connected = len(sio.of("/").sockets) - 1  # not counting the one asking
        return {**stats, "connected": connected, "reasons": reasons}

    async def main() -> None:
        if args.tracemalloc:
            import tracemalloc

            tracemalloc.start(12)
        await sio.start(HOST, 0)
        print("PORT", sio.address[1], flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await sio.stop()

    import uvloop

    uvloop.run(main())


# ====================================================================== clients
class Closed(Exception):
    """The connection is gone."""


class Lost(Exception):
    """An acknowledgement did not come in time on a live connection."""


class Raw(asyncio.Protocol):
    """A TCP connection with its own receive buffer."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: Any = None
        self.lost = False
        self.more = asyncio.Event()
        self.writable = asyncio.Event()
        self.writable.set()

    @classmethod
    async def open(cls, port: int, rcvbuf: int | None = None) -> Raw:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), TIMEOUT)
            _, proto = await loop.create_connection(cls, sock=sock)
        except BaseException:
            sock.close()
            raise
        return proto

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.more.set()

    def eof_received(self) -> bool:
        self.lost = True
        self.more.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.more.set()
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    async def write(self, data: bytes) -> None:
        if self.lost or self.transport.is_closing():
            raise Closed()
        self.transport.write(data)
        await self.writable.wait()

    async def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        while len(self.buffer) < n:
            if self.lost:
                raise Closed()
            self.more.clear()
            await asyncio.wait_for(self.more.wait(), timeout)
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    async def read_until(self, sep: bytes, timeout: float | None = None) -> bytes:
        while True:
            i = self.buffer.find(sep)
            if i >= 0:
                out = bytes(self.buffer[: i + len(sep)])
                del self.buffer[: i + len(sep)]
                return out
            if self.lost:
                raise Closed()
            self.more.clear()
            await asyncio.wait_for(self.more.wait(), timeout)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def ws_frame(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    head = bytes([0x80 | (0x40 if rsv1 else 0) | opcode])
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


class Session:
    """The Socket.IO part of a client, over a transport given by a subclass
    (``send_text``, ``messages``): acks both ways, pings, broadcasts."""

    def __init__(self, stats: dict[str, int]) -> None:
        self.stats = stats
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.connected = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None

    async def send_text(self, text: str) -> None:
        raise NotImplementedError

    async def messages(self) -> Any:
        raise NotImplementedError
        yield ""

    async def read_loop(self) -> None:
        try:
            async for text in self.messages():
                await self.on_message(text)
        except (Closed, ConnectionError, OSError):
            pass  # the connection is gone: a call waiting for an ack sees it

    async def on_message(self, text: str) -> None:
        if text == "2":
            await self.send_text("3")
        elif text.startswith("40"):
            self.connected.set()
        elif text.startswith("43"):
            i = text.index("[")
            fut = self.waiting.pop(int(text[2:i]), None)
            if fut is not None and not fut.done():
                fut.set_result(json.loads(text[i:]))
        elif text.startswith("42"):
            i = text.index("[")
            if i > 2:  # the server asks for an acknowledgement
                await self.send_text(f"43{text[2:i]}[]")
                self.stats["q_answered"] += 1
            elif text.startswith('42["b"'):
                self.stats["broadcasts_received"] += 1
        elif text.startswith("44"):
            raise RuntimeError(f"connect error: {text}")

    async def call(self, event: str, *args: Any) -> Any:
        self.next_id += 1
        ack = self.next_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[ack] = fut
        await self.send_text(f"42{ack}" + json.dumps([event, *args]))
        try:
            return await asyncio.wait_for(asyncio.shield(fut), TIMEOUT)
        except asyncio.TimeoutError:
            if self.reader is not None and self.reader.done():
                raise Closed() from None
            raise Lost(event) from None

    async def emit(self, event: str, *args: Any) -> None:
        await self.send_text("42" + json.dumps([event, *args]))


class WSClient(Session):
    """Socket.IO over a raw WebSocket, permessage-deflate when ``deflate``."""

    def __init__(self, stats: dict[str, int], deflate: bool) -> None:
        super().__init__(stats)
        self.want_deflate = deflate
        self.deflate = False
        self.conn: Raw | None = None
        self.inflater = zlib.decompressobj(-15)
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, -15)

    async def open(self, port: int, auth: dict[str, Any], rcvbuf: int | None = None) -> None:
        self.conn = conn = await Raw.open(port, rcvbuf)
        key = base64.b64encode(os.urandom(16)).decode()
        ext = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.want_deflate else ""
        await conn.write(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
            ).encode()
        )
        head = await conn.read_until(b"\r\n\r\n", TIMEOUT)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"upgrade refused: {head[:100]!r}")
        self.deflate = b"permessage-deflate" in head.lower()
        if self.want_deflate and not self.deflate:
            raise RuntimeError("permessage-deflate not negotiated")
        self.reader = asyncio.ensure_future(self.read_loop())
        await self.send_text("40" + json.dumps(auth))
        await asyncio.wait_for(self.connected.wait(), TIMEOUT)

    async def send_text(self, text: str) -> None:
        assert self.conn is not None
        data = text.encode()
        if self.deflate and len(data) > 64:
            body = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
            await self.conn.write(ws_frame(0x1, body[:-4], rsv1=True))
        else:
            await self.conn.write(ws_frame(0x1, data))

    async def messages(self) -> Any:
        assert self.conn is not None
        read = self.conn.read_exactly
        while True:
            b0, b1 = await read(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await read(8))
            payload = await read(n)
            opcode = b0 & 0x0F
            if b0 & 0x40:
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            if opcode == 0x8:
                return
            if opcode == 0x9:
                await self.conn.write(ws_frame(0xA, payload))
            elif opcode == 0x1:
                yield payload.decode()

    async def close(self, clean: bool) -> None:
        if self.conn is None:
            return
        if clean:
            try:
                await self.send_text("41")
                await self.conn.write(ws_frame(0x8, struct.pack("!H", 1000)))
                if self.reader is not None:
                    await asyncio.wait_for(self.reader, TIMEOUT)
            except (Closed, asyncio.TimeoutError, ConnectionError):
                pass
        self.conn.abort()
        if self.reader is not None:
            self.reader.cancel()


class PollingClient(Session):
    """Socket.IO over Engine.IO long-polling: one connection holds the GETs, another
    sends the POSTs (one at a time, in order)."""

    def __init__(self, stats: dict[str, int]) -> None:
        super().__init__(stats)
        self.port = 0
        self.sid = ""
        self.get_conn: Raw | None = None
        self.post_conn: Raw | None = None
        self.post_lock = asyncio.Lock()
        self.pending: list[str] = []
        self.closing = False

    @staticmethod
    async def response(conn: Raw) -> tuple[int, bytes]:
        head = await conn.read_until(b"\r\n\r\n", PING_INTERVAL + PING_TIMEOUT + TIMEOUT)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        return status, await conn.read_exactly(length) if length else b""

    def target(self) -> str:
        return f"/socket.io/?EIO=4&transport=polling&sid={self.sid}"

    async def open(self, port: int, auth: dict[str, Any]) -> None:
        self.port = port
        self.get_conn = await Raw.open(port)
        self.post_conn = await Raw.open(port)
        await self.get_conn.write(
            f"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
        )
        status, body = await self.response(self.get_conn)
        if status != 200:
            raise RuntimeError(f"handshake: {status} {body[:100]!r}")
        self.sid = json.loads(body[1:])["sid"]
        self.reader = asyncio.ensure_future(self.read_loop())
        await self.send_text("40" + json.dumps(auth))
        await asyncio.wait_for(self.connected.wait(), TIMEOUT)

    async def send_text(self, text: str) -> None:
        # packets sent while a POST is in flight go together in the next one
        self.pending.append(text)
        async with self.post_lock:
            if not self.pending:
                return
            body = "\x1e".join(self.pending).encode()
            self.pending = []
            assert self.post_conn is not None
            await self.post_conn.write(
                f"POST {self.target()} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            status, reply = await self.response(self.post_conn)
            if status != 200:
                raise Closed(f"POST {status} {reply[:80]!r}")

    async def messages(self) -> Any:
        assert self.get_conn is not None
        while True:
            await self.get_conn.write(f"GET {self.target()} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n\r\n".encode())
            status, body = await self.response(self.get_conn)
            if status != 200:
                return
            for packet in body.decode().split("\x1e"):
                if packet == "1":
                    return
                if packet != "6":
                    yield packet

    async def close(self, clean: bool) -> None:
        if clean:
            try:
                await self.send_text("41")
                await self.send_text("1")
            except (Closed, asyncio.TimeoutError, ConnectionError):
                pass
            if self.reader is not None:
                try:
                    await asyncio.wait_for(self.reader, TIMEOUT)
                except (Closed, asyncio.TimeoutError, ConnectionError, RuntimeError):
                    pass
        for conn in (self.get_conn, self.post_conn):
            if conn is not None:
                conn.abort()
        if self.reader is not None:
            self.reader.cancel()


# ====================================================================== worker mode
async def good_client(port: int, rng: random.Random, stats: dict[str, int], kind: str, life: float) -> None:
    """One well-behaved client's life."""
    room = f"r{rng.randrange(20)}"
    auth = {"room": room, "kind": kind}
    client: Any
    if kind == "polling":
        client = PollingClient(stats)
    else:
        client = WSClient(stats, deflate=kind == "deflate")
    try:
        await client.open(port, auth)
        stats["connected"] += 1
        deadline = time.monotonic() + life
        while time.monotonic() < deadline:
            roll = rng.random()
            if roll < 0.6:
                stats["acks_sent"] += 1
                payload = "e" * rng.choice((10, 100, 2000))
                if await client.call("echo", payload) != [payload]:
                    raise RuntimeError("echo came back wrong")
                stats["acks_received"] += 1
            elif roll < 0.8:
                stats["acks_sent"] += 1
                await client.call("ask", 2)
                stats["acks_received"] += 1
            else:
                await client.emit("bcast", room, "b" * rng.choice((20, 1500)))
                stats["broadcasts_sent"] += 1
            await asyncio.sleep(rng.uniform(0.2, 1.5))
        clean = rng.random() < 0.9
        if not clean:
            await client.call("leaving")
        await client.close(clean=clean)
        stats["disconnected"] += 1
    except Lost:
        stats["acks_lost"] += 1
        await client.close(clean=False)
    except (Closed, ConnectionError, asyncio.TimeoutError, RuntimeError, OSError) as exc:
        stats["errors"] += 1
        if stats["errors"] <= 5:
            print(f"client error ({kind}): {exc!r}", file=sys.stderr, flush=True)
        await client.close(clean=False)


async def bad_client(port: int, rng: random.Random, stats: dict[str, int]) -> None:
    """One misbehaving client's life: it stops reading, sends garbage, or drops its
    connection in the middle of a message."""
    how = rng.choice(("stop-reading", "garbage", "abrupt"))
    stats["misbehaving_" + how.replace("-", "_")] += 1
    try:
        if how == "stop-reading":
            client = WSClient(stats, deflate=False)
            await client.open(port, {"bad": 1, "room": "r0"}, rcvbuf=4096)
            assert client.reader is not None
            client.reader.cancel()  # from here on nothing is read
            await client.emit("bcast", "r0", "s" * 100)
            await asyncio.sleep(rng.uniform(1, PING_INTERVAL + PING_TIMEOUT + 5))
            if client.conn is not None:
                client.conn.abort()
        elif how == "garbage":
            conn = await Raw.open(port)
            if rng.random() < 0.5:
                await conn.write(os.urandom(rng.randrange(1, 3000)))
            else:
                ws = WSClient(stats, deflate=False)
                await ws.open(port, {"bad": 1})
                assert ws.conn is not None
                await ws.conn.write(ws_frame(0x1, b"4" + os.urandom(50)))
                await asyncio.sleep(0.5)
                ws.conn.abort()
            await asyncio.sleep(0.5)
            conn.abort()
        else:
            ws = WSClient(stats, deflate=rng.random() < 0.5)
            await ws.open(port, {"bad": 1})
            assert ws.conn is not None
            frame = ws_frame(0x1, b'42["echo","' + b"z" * 5000 + b'"]')
            await ws.conn.write(frame[: rng.randrange(1, len(frame))])
            ws.conn.abort()
    except (Closed, ConnectionError, asyncio.TimeoutError, RuntimeError, OSError, AssertionError):
        pass  # the server closing a misbehaving client is what should happen


async def work(args: argparse.Namespace) -> None:
    """Keep ``args.clients`` client slots busy until ``args.duration`` is over."""
    rng = random.Random(args.seed)
    keys = (
        "connected disconnected acks_sent acks_received acks_lost q_answered broadcasts_sent "
        "broadcasts_received errors misbehaving_stop_reading misbehaving_garbage misbehaving_abrupt"
    )
    stats = {k: 0 for k in keys.split()}
    end = time.monotonic() + args.duration

    async def slot(i: int) -> None:
        r = random.Random(rng.random())
        await asyncio.sleep(r.uniform(0, min(5.0, args.duration / 4)))  # stagger the start
        while time.monotonic() < end:
            roll = r.random()
            life = min(r.uniform(args.min_life, args.max_life), max(0.5, end - time.monotonic()))
            if roll < 0.05:
                await bad_client(args.port, r, stats)
            elif roll < 0.25:
                await good_client(args.port, r, stats, "polling", life)
            elif roll < 0.45:
                await good_client(args.port, r, stats, "deflate", life)
            else:
                await good_client(args.port, r, stats, "websocket", life)

    await asyncio.gather(*(slot(i) for i in range(args.clients)))
    print(RESULT + json.dumps(stats), flush=True)


# ====================================================================== driver
def proc_figures(pid: int) -> tuple[int, int]:
    """(RSS in bytes, open fds) of process ``pid``."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def server_stats(port: int) -> dict[str, Any]:
    """The server's counters, through a well-behaved client of its own."""
    stats: dict[str, int] = {"q_answered": 0, "broadcasts_received": 0}
    client = WSClient(stats, deflate=False)
    await client.open(port, {"room": "control"})
    try:
        result: dict[str, Any] = (await client.call("stats"))[0]
        return result
    finally:
        await client.close(clean=True)


async def server_diag(port: int, what: str) -> dict[str, Any]:
    """The server's diagnostics (``diag``), through a client of its own."""
    stats: dict[str, int] = {"q_answered": 0, "broadcasts_received": 0}
    client = WSClient(stats, deflate=False)
    await client.open(port, {"room": "control"})
    try:
        result: dict[str, Any] = (await client.call("diag", what))[0]
        return result
    finally:
        await client.close(clean=True)


def spawn(mode: str, extra: list[str], pure: bool) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop("FASTSIO_NO_EXTENSIONS", None)
    if pure:
        env["FASTSIO_NO_EXTENSIONS"] = "1"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), mode, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if mode == "server" else None,
        env=env,
    )


async def drive(args: argparse.Namespace) -> int:
    """Run the soak; print the figures; 0, or 1 on a violation."""
    server = spawn("server", ["--tracemalloc"] * args.tracemalloc, args.pure)
    assert server.stdout is not None and server.stderr is not None
    line = server.stdout.readline().decode()
    if not line.startswith("PORT "):
        print("the server did not start:", line, server.stderr.read().decode(), file=sys.stderr)
        return 1
    port = int(line.split()[1])
    errors_log: list[str] = []

    async def read_log() -> None:
        loop = asyncio.get_running_loop()
        assert server.stderr is not None
        while True:
            raw = await loop.run_in_executor(None, server.stderr.readline)
            if not raw:
                return
            text = raw.decode(errors="replace").rstrip()
            if text.startswith("ERROR") or "Traceback" in text:
                errors_log.append(text)

    log_task = asyncio.ensure_future(read_log())

    def run_workers(count: int, clients: int, duration: float, seed: int) -> list[subprocess.Popen[bytes]]:
        per = [clients // count + (1 if i < clients % count else 0) for i in range(count)]
        common = ["--port", str(port), "--duration", str(duration), "--min-life", str(args.min_life),
                  "--max-life", str(args.max_life)]
        return [
            spawn("worker", [*common, "--clients", str(n), "--seed", str(seed + i)], args.pure)
            for i, n in enumerate(per)
        ]

    async def finish(workers: list[subprocess.Popen[bytes]]) -> dict[str, int]:
        total: dict[str, int] = {}
        loop = asyncio.get_running_loop()
        for w in workers:
            out = await loop.run_in_executor(None, w.communicate)
            for raw in out[0].decode().splitlines():
                if raw.startswith(RESULT):
                    for k, v in json.loads(raw[len(RESULT):]).items():
                        total[k] = total.get(k, 0) + v
            if w.returncode:
                total["worker_failures"] = total.get("worker_failures", 0) + 1
        return total

    async def settle() -> dict[str, Any]:
        """Wait until the server holds no client (at most --settle seconds)."""
        deadline = time.monotonic() + args.settle
        stats = await server_stats(port)
        while stats["connected"] > 0 and time.monotonic() < deadline:
            await asyncio.sleep(1)
            stats = await server_stats(port)
        await asyncio.sleep(1)  # the stats client's own connection closes
        return stats

    try:
        # warm-up: a round at full load touching every path, then the baseline
        cold_rss, cold_fds = proc_figures(server.pid)
        print(f"==> [soak] cold: RSS {cold_rss / 1e6:.1f} MB, {cold_fds} fds; warm-up: "
              f"{args.clients} clients for {args.warmup:.0f} s", flush=True)
        warm = await finish(run_workers(args.workers, args.clients, args.warmup, args.seed + 1000))
        warm_stats = await settle()
        await asyncio.sleep(PING_INTERVAL + PING_TIMEOUT + 1)
        base_rss, base_fds = proc_figures(server.pid)
        print(f"==> [soak] baseline: RSS {base_rss / 1e6:.1f} MB, {base_fds} fds (warm-up: "
              f"{warm.get('connected', 0)} clients, {warm.get('errors', 0)} errors)", flush=True)
        base_diag = await server_diag(port, "trim")
        if args.diagnose:
            print("==> [soak] diag at the baseline:", json.dumps(base_diag), flush=True)

        started = time.monotonic()
        workers = run_workers(args.workers, args.clients, args.duration, args.seed)
        done = asyncio.ensure_future(finish(workers))
        peak_rss, peak_fds = base_rss, base_fds
        next_report = started + 60
        while not done.done():
            rss, fds = proc_figures(server.pid)
            peak_rss, peak_fds = max(peak_rss, rss), max(peak_fds, fds)
            if time.monotonic() >= next_report:
                next_report += 60
                d = await server_diag(port, "")
                print(f"==> [soak] {(time.monotonic() - started) / 60:.0f} min: RSS {rss / 1e6:.1f} MB, {fds} fds, "
                      f"Python blocks {d['blocks']}, objects {d['objects']}", flush=True)
            await asyncio.wait([done], timeout=0.5)
        totals = done.result()
        minutes = (time.monotonic() - started) / 60
        stats = await settle()
        # the deadlines of the last sessions (their emptied timer buckets) have passed
        await asyncio.sleep(PING_INTERVAL + PING_TIMEOUT + 1)
        for key in ("server_acks_sent", "server_acks_received", "good_ping_timeouts"):
            stats[key] -= warm_stats[key]
        stats["reasons"] = {
            k: v - warm_stats["reasons"].get(k, 0) for k, v in stats["reasons"].items() if v - warm_stats["reasons"].get(k, 0)
        }
        rss, fds = proc_figures(server.pid)
        end_diag = await server_diag(port, "trim")
        if args.diagnose:
            print("==> [soak] diag at the end:", json.dumps(end_diag), flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        await asyncio.wait([log_task], timeout=5)

    clients_total = totals.get("connected", 0) + sum(v for k, v in totals.items() if k.startswith("misbehaving"))
    print()
    print(f"soak: {args.clients} clients at once, {clients_total} over {minutes:.1f} min "
          f"({'pure' if args.pure else 'compiled'} twins; {args.workers} worker processes)")
    print(f"  well-behaved connected {totals.get('connected', 0)}, disconnected {totals.get('disconnected', 0)}; "
          f"misbehaving: stop-reading {totals.get('misbehaving_stop_reading', 0)}, "
          f"garbage {totals.get('misbehaving_garbage', 0)}, abrupt {totals.get('misbehaving_abrupt', 0)}")
    print(f"  RSS  before {base_rss / 1e6:.1f} MB, peak {peak_rss / 1e6:.1f} MB, after {rss / 1e6:.1f} MB "
          f"(cold, before the warm-up: {cold_rss / 1e6:.1f} MB)")
    base_trim, end_trim = base_diag["rss_after_malloc_trim"], end_diag["rss_after_malloc_trim"]
    if base_trim and end_trim:
        print(f"  RSS after malloc_trim: before {base_trim / 1e6:.1f} MB, after {end_trim / 1e6:.1f} MB; "
              f"Python blocks before {base_diag['blocks']}, after {end_diag['blocks']}; "
              f"objects before {base_diag['objects']}, after {end_diag['objects']}")
    print(f"  fds  before {base_fds}, peak {peak_fds}, after {fds} (cold: {cold_fds})")
    print(f"  client acks sent {totals.get('acks_sent', 0)}, received {totals.get('acks_received', 0)}, "
          f"lost {totals.get('acks_lost', 0)}")
    print(f"  server acks sent {stats['server_acks_sent']}, received {stats['server_acks_received']}; "
          f"clients answered {totals.get('q_answered', 0)}")
    print(f"  broadcasts sent {totals.get('broadcasts_sent', 0)}, deliveries {totals.get('broadcasts_received', 0)}")
    print(f"  disconnect reasons {stats['reasons']}")
    by_kind = {k: v - warm_stats.get(k, 0) for k, v in stats.items() if k.startswith("ping_timeouts_")}
    if any(by_kind.values()):
        print(f"  well-behaved ping timeouts by kind {by_kind}")
    print(f"  well-behaved ping timeouts {stats['good_ping_timeouts']}; client errors {totals.get('errors', 0)}; "
          f"server ERROR lines {len(errors_log)}; worker failures {totals.get('worker_failures', 0)}")
    violations = []
    # What the server holds is compared: the RSS once glibc has given back the free
    # memory it caches (malloc_trim; without glibc, the raw RSS), and the Python
    # allocator's live blocks.  The raw RSS after is printed: glibc keeps freed memory
    # of a fragmented heap for reuse (see the module docstring).
    held_before, held_after = (base_trim, end_trim) if base_trim and end_trim else (base_rss, rss)
    if held_after > held_before * (1 + args.rss_tolerance):
        violations.append(f"RSS after {held_after / 1e6:.1f} MB over the baseline {held_before / 1e6:.1f} MB "
                          f"+ {args.rss_tolerance:.0%}")
    if end_diag["blocks"] > base_diag["blocks"] * (1 + args.rss_tolerance):
        violations.append(f"Python blocks after {end_diag['blocks']} over the baseline {base_diag['blocks']} "
                          f"+ {args.rss_tolerance:.0%}")
    if fds > base_fds:
        violations.append(f"fds after {fds} over the baseline {base_fds}")
    unanswered = totals.get("acks_sent", 0) - totals.get("acks_received", 0)
    if totals.get("acks_lost", 0) or unanswered > totals.get("errors", 0):
        violations.append(f"client acks lost: {totals.get('acks_lost', 0)} timed out, {unanswered} unanswered")
    if stats["server_acks_sent"] != stats["server_acks_received"]:
        violations.append("server acks lost")
    if stats["good_ping_timeouts"]:
        violations.append("well-behaved clients hit the ping timeout")
    if totals.get("errors", 0) or errors_log or totals.get("worker_failures", 0):
        violations.append("errors: " + "; ".join(errors_log[:3]))
    for v in violations:
        print("VIOLATION:", v)
    print("soak:", "FAILED" if violations else "passed")
    return 1 if violations else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="drive", choices=("drive", "server", "worker"))
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (600)")
    parser.add_argument("--clients", type=int, default=1000, help="clients at once (1000)")
    parser.add_argument("--workers", type=int, default=0, help="client processes (0: one per 500 clients)")
    parser.add_argument("--pure", action="store_true", help="the server on the pure-Python twins")
    parser.add_argument("--min-life", type=float, default=2.0, help="a client's shortest life, seconds")
    parser.add_argument("--max-life", type=float, default=15.0, help="a client's longest life, seconds")
    parser.add_argument("--settle", type=float, default=PING_INTERVAL + PING_TIMEOUT + 15, help="seconds")
    parser.add_argument("--rss-tolerance", type=float, default=0.05, help="fraction (0.05)")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds at full load before the baseline (30)")
    parser.add_argument("--diagnose", action="store_true", help="print the server's object counts at the baseline and the end")
    parser.add_argument("--tracemalloc", action="store_true", help="server mode: trace allocations (slow)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.mode == "server":
        serve(args)
    elif args.mode == "worker":
        import uvloop

        uvloop.run(work(args))
    else:
        args.workers = args.workers or max(1, -(-args.clients // 500))
        if args.clients > 500 * 30:
            parser.error("at most 15000 clients")
        import uvloop

        sys.exit(uvloop.run(drive(args)))


if __name__ == "__main__":
    main()
