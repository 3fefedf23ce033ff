"""The floor: a minimal Engine.IO v4 / Socket.IO v5 server over WebSocket on a raw uvloop Protocol.

It speaks just enough of the protocols for the benchmark app: the WebSocket upgrade on any path
with ``transport=websocket`` (hand-parsed request), the Engine.IO open packet (with a ping interval
of five minutes, so it never pings), the Socket.IO CONNECT reply (joining the room its auth names,
``{"room": "r17"}``, else ``all``), ``echo``, ``burst``, ``burst_bin`` (a binary attachment) and
``burst_rooms`` (each tick to one random room) events and their acks, and ``41`` / close frames;
TLS with ``--tls-cert``/``--tls-key``.  No polling, no namespaces, no binary from clients, no
fragments, no UTF-8 check, no heartbeat: it is what any real server must cost at least.

``--mode write``: every message leaves with its own ``transport.write``.
``--mode coalesce``: what a connection is sent during one loop iteration leaves in one write.

    python -m benchmarks.servers.floor --port 8000 --mode coalesce
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import random
import signal
import ssl
import sys
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B85"
OPEN = b'0{"sid":"%s","upgrades":[],"pingInterval":300000,"pingTimeout":200000,"maxPayload":1000000}'
MAX_HEAD = 16384
MAX_FRAME = 1 << 20


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """An unmasked, final WebSocket frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big") + payload


def unmask(mask: bytes, data: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return data
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


class Hub:
    """Room ``all`` and, in coalesce mode, the connections with output waiting for the flush."""

    __slots__ = ("coalesce", "flush_scheduled", "loop", "next_sid", "pending", "rooms")

    def __init__(self, loop: asyncio.AbstractEventLoop, coalesce: bool) -> None:
        self.loop = loop
        self.coalesce = coalesce
        self.rooms: dict[bytes, dict[Conn, None]] = {}  # room -> insertion-ordered set
        self.pending: list[Conn] = []
        self.flush_scheduled = False
        self.next_sid = 0

    def schedule(self) -> None:
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        pending, self.pending = self.pending, []
        for conn in pending:
            queue = conn.queue
            conn.queue = None
            if queue and not conn.closed:
                conn.transport.write(queue[0] if len(queue) == 1 else b"".join(queue))  # type: ignore[union-attr]


class Conn(asyncio.Protocol):
    __slots__ = ("buf", "closed", "hub", "queue", "room", "sid", "transport", "upgraded")

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.closed = False
        self.queue: list[bytes] | None = None
        self.room = b"all"
        hub.next_sid += 1
        self.sid = b"floor%015d" % hub.next_sid

    # -- output ---------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.hub.coalesce:
            self.transport.write(data)  # type: ignore[union-attr]
            return
        queue = self.queue
        if queue is None:
            self.queue = [data]
            self.hub.pending.append(self)
            self.hub.schedule()
        else:
            queue.append(data)

    def leave(self) -> None:
        members = self.hub.rooms.get(self.room)
        if members is not None:
            members.pop(self, None)

    # -- asyncio.Protocol -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.leave()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self.transport.close()  # type: ignore[union-attr]
                return
            head = bytes(self.buf[:end])
            del self.buf[: end + 4]
            if not self.upgrade(head):
                return
        self.parse_frames()

    # -- protocol -------------------------------------------------------------------------------
    def upgrade(self, head: bytes) -> bool:
        lines = head.split(b"\r\n")
        key = b""
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        if not key or b"transport=websocket" not in lines[0]:
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")  # type: ignore[union-attr]
            self.transport.close()  # type: ignore[union-attr]
            return False
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.transport.write(  # type: ignore[union-attr]
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + frame(OPEN % self.sid)
        )
        self.upgraded = True
        return True

    def parse_frames(self) -> None:
        buf = self.buf
        pos = 0
        n = len(buf)
        while n - pos >= 2 and not self.closed:
            b0, b1 = buf[pos], buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if not b1 & 0x80 or length > MAX_FRAME:
                self.transport.close()  # type: ignore[union-attr]
                return
            if n - pos < head + 4 + length:
                break
            mask = bytes(buf[pos + head : pos + head + 4])
            start = pos + head + 4
            payload = unmask(mask, bytes(buf[start : start + length]))
            pos = start + length
            opcode = b0 & 0x0F
            if opcode == 0x1:
                self.on_packet(payload)
            elif opcode == 0x8:
                self.send(frame(b"", 0x8))
                self.closed = True
                self.leave()
                self.transport.close()  # type: ignore[union-attr]
            elif opcode == 0x9:
                self.send(frame(payload, 0xA))
        del buf[:pos]

    def on_packet(self, p: bytes) -> None:
        if p[:2] == b"42":
            self.on_event(p)
        elif p[:2] == b"40":
            self.send(frame(b'40{"sid":"' + self.sid + b'"}'))
            if len(p) > 2:
                auth = json.loads(p[2:])
                room = auth.get("room") if isinstance(auth, dict) else None
                if isinstance(room, str):
                    self.room = room.encode()
            self.hub.rooms.setdefault(self.room, {})[self] = None
        elif p[:2] == b"41" or p[:1] == b"1":
            self.leave()
            self.closed = True
            self.transport.close()  # type: ignore[union-attr]
        # "3" (pong) and anything else: ignored

    def on_event(self, p: bytes) -> None:
        i = 2
        while i < len(p) and 48 <= p[i] <= 57:
            i += 1
        ack_id = p[2:i]
        args: list[Any] = json.loads(p[i:])
        event = args[0]
        if event == "echo":
            if ack_id:
                self.send(frame(b"43" + ack_id + json.dumps(args[1:], separators=(",", ":")).encode()))
        elif event in ("burst", "burst_bin"):
            count, size = int(args[1]), int(args[2])
            if event == "burst":
                tick = frame(b'42["tick","' + b"x" * size + b'"]')
            else:  # a binary event: its header, then the attachment in a binary frame
                tick = frame(b'451-["tick",{"_placeholder":true,"num":0}]') + frame(b"x" * size, 0x2)
            conns = list(self.hub.rooms.get(b"all", ()))
            for _ in range(count):
                self.deliver(conns, tick)
            if ack_id:
                self.send(frame(b"43" + ack_id + b"[%d]" % count))
        elif event == "burst_rooms":
            count, size, rooms = int(args[1]), int(args[2]), int(args[3])
            tick = frame(b'42["tick","' + b"x" * size + b'"]')
            members = self.hub.rooms
            for _ in range(count):
                self.deliver(list(members.get(b"r%d" % random.randrange(rooms), ())), tick)
            if ack_id:
                self.send(frame(b"43" + ack_id + b"[%d]" % count))

    def deliver(self, conns: list[Conn], data: bytes) -> None:
        """One message to each of ``conns``: queued for the flush (coalesce) or written now."""
        if self.hub.coalesce:
            hub = self.hub
            pending = hub.pending
            for conn in conns:
                queue = conn.queue
                if queue is None:
                    conn.queue = [data]
                    pending.append(conn)
                else:
                    queue.append(data)
            hub.schedule()
        else:
            for conn in conns:
                if not conn.closed:
                    conn.transport.write(data)  # type: ignore[union-attr]


async def serve(host: str, port: int, mode: str, tls: ssl.SSLContext | None = None) -> None:
    loop = asyncio.get_running_loop()
    hub = Hub(loop, coalesce=mode == "coalesce")
    server = await loop.create_server(lambda: Conn(hub), host, port, backlog=4096, ssl=tls)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"floor ({mode}) on {host}:{port}", file=sys.stderr, flush=True)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("write", "coalesce"), default="coalesce")
    parser.add_argument("--tls-cert", help="serve TLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    args = parser.parse_args()
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a fastsio dependency
        asyncio.run(serve(args.host, args.port, args.mode, tls))
    else:
        uvloop.run(serve(args.host, args.port, args.mode, tls))


if __name__ == "__main__":
    main()
