"""Broadcast fan-out and coalesced output, pure-Python twin (the specification).

Three pieces, kept together because the compiled twin (``fanout_c.pyx``) must
reach each from the others in C:

* :class:`Outbox`: the output state of one TCP connection -- the bytes written
  during this loop iteration (``wbuf``: the first chunk as is, then a list of
  references to the chunks; nothing is copied when a chunk is queued), their
  size, the send-buffer limit of a slow consumer, the transport.
  ``fastsio._server.http.Connection`` derives from it, so a connection *is* its
  outbox and writing to it from the fan-out loop touches no Python-level
  attribute in the compiled twin.  At the flush, one transport call per
  connection: the chunks joined into one ``write``, or, when one of them is
  :data:`DIRECT_BYTES` or longer, ``writelines`` of the chunks as they are (no
  copy of a large shared frame).  Connection after connection, so only one
  joined buffer is alive at a time (the floor's pattern: the heap and the cache
  are reused from one connection to the next, where filling every recipient's
  own buffer during the fan-out touched megabytes per burst).  A broadcast
  leaves its recipients the same chunks, so the flusher keeps the last join
  with the chunks it was made of, and an outbox whose chunks are the same ones
  writes that join again: one join per broadcast burst, not one per recipient
  (bytes are immutable; the transport may keep a reference to the object).
* :class:`Flusher`: the connections written to during one loop iteration,
  flushed together, each with one transport call, by one ``call_soon``.
* :func:`fanout`: given the Engine.IO sessions of the recipients and one encoded
  Socket.IO packet (text part, then binary attachments), build the Engine.IO
  packets once and the WebSocket frames once, and hand the same bytes to every
  recipient: a WebSocket session's connection gets the frames appended to its
  outbox, a polling session the encoded packets (``session.send``).

A recipient that is a slow consumer with ``slow_consumer="drop"`` (a WebSocket
outbox ``paused`` with ``drop_slow`` set; a polling session whose ``congested`` is true)
is skipped: the whole packet, never some of its parts.

Contract of an Outbox subclass (what the compiled twin relies on): ``overflow()``
when the bytes waiting exceed ``limit`` (for a WebSocket: the bytes its transport
holds, see :data:`HANDOFF_BYTES`; for HTTP: those queued in this iteration); ``send_frame(frame)`` for frames that
need rewriting on the way out (``eio3``: an Engine.IO v3 binary message carries
a type byte); ``ws_mode`` once the connection speaks WebSocket.

When ``compress`` is true (the broadcast may be compressed and the server has
permessage-deflate on), a WebSocket with the extension negotiated (``deflate``
not None) gets each packet of ``deflate.threshold`` bytes or more through its
own compressing ``send(packet)`` instead (the compressor is per connection);
its smaller packets still get the shared frames.  With ``compress`` false, no
recipient is looked at for it.
"""

from __future__ import annotations

from typing import Any

from fastsio.protocol.engineio.wire import MESSAGE_PREFIX
from fastsio.protocol.websocket.frames import OP_BINARY, OP_TEXT, build_frame

__all__ = (
    "DIRECT_BYTES",
    "HANDOFF_BYTES",
    "NOTHING_ASIDE",
    "Flusher",
    "Outbox",
    "fanout",
)

#: The bytes a WebSocket connection's coalescing buffer may hold within one loop
#: iteration before they are handed to the transport at once (instead of at the end
#: of the iteration): a healthy connection's kernel socket buffer takes megabytes, so
#: a burst goes out as it is made, and ``limit`` (``max_buffer_size``) counts only
#: what the transport itself holds -- a slow consumer is one the kernel stopped
#: taking bytes from, not one that was sent a lot in one iteration.
HANDOFF_BYTES = 256 * 1024

#: A chunk of this many bytes or more (a large shared fan-out frame) is not copied
#: at the flush: the connection's chunks go to the transport as they are, in one
#: ``writelines`` (uvloop: one ``writev``), counted as one write; below it, they are
#: joined into one ``write`` (many small frames: one system call, not an iovec each).
DIRECT_BYTES = 8 * 1024


def _payload_size(frame: bytes) -> int:
    """Return the payload length of an unmasked server frame (from its total length)."""
    n = len(frame)
    return n - (2 if n < 128 else 4 if n < 0x10004 else 10)


def _send_deflated(ws: Any, deflate: Any, packets: list[str | bytes], frames: list[bytes]) -> None:
    # a connection with permessage-deflate: its own compressing send() for the packets
    # at or over its threshold, the shared frames for the others
    threshold = deflate.threshold
    for p, frame in zip(packets, frames):
        if _payload_size(frame) >= threshold:
            ws.send(p)
        else:
            ws.send_frame(frame)


class Outbox:
    """The coalesced output of one connection (base class of ``Connection``)."""

    __slots__ = (
        "transport",
        "flusher",
        "wbuf",
        "wbytes",
        "limit",
        "closed",
        "paused",
        "ws_mode",
        "ws_closing",
        "eio3",
        "deflate",
        "drop_slow",
    )

    def __init__(self, flusher: Any, limit: int) -> None:
        self.transport: Any = None
        self.flusher = flusher
        # None, or what was written during this loop iteration: the first chunk (bytes),
        # then a list of the chunks (references, no copy)
        self.wbuf: bytes | list[bytes] | None = None
        self.wbytes = 0
        # max_buffer_size: bytes a slow client may have waiting before it is dropped
        self.limit = limit
        self.closed = False
        # the transport's buffer went over the high-water mark (= the limit)
        self.paused = False
        self.ws_mode = False
        self.ws_closing = False
        # an Engine.IO v3 WebSocket: binary messages carry a type byte
        self.eio3 = False
        # permessage-deflate state when negotiated, else None
        self.deflate: Any = None
        # slow_consumer="drop": while paused (the transport over ``limit``), the
        # fan-out skips this connection (whole packets) instead of it being dropped
        self.drop_slow = False

    def write(self, data: bytes) -> None:
        """Queue bytes; they leave with everything else written this loop iteration
        (or at once when this iteration's bytes pass :data:`HANDOFF_BYTES`)."""
        data = bytes(data)
        buf = self.wbuf
        if buf is None:
            if self.closed:
                return
            self.wbuf = data
            self.wbytes = len(data)
            self.flusher.add(self)
            return
        if isinstance(buf, list):
            buf.append(data)
        elif not buf:
            self.wbuf = data  # writes held (hold_writes): nothing before it
        else:
            self.wbuf = [buf, data]
        self.wbytes += len(data)
        if self.ws_mode:
            if self.wbytes > HANDOFF_BYTES:
                self.handoff()
        elif self.limit and self.wbytes > self.limit:
            self.overflow()

    def _emit(self, buf: bytes | list[bytes]) -> None:
        # one transport call for what was queued: the chunk, the chunks joined, or
        # (one of DIRECT_BYTES or more among them) the chunks as they are
        flusher = self.flusher
        if flusher.counting:
            flusher.bytes_out += self.wbytes
            flusher.writes += 1
        if type(buf) is not list:
            self.transport.write(buf)
        elif any(type(chunk) is not bytes or len(chunk) >= DIRECT_BYTES for chunk in buf):
            # (anything but exact bytes, which a subclass may have queued, too)
            self.transport.writelines(buf)  # uvloop: one writev
        elif type(flusher) is not Flusher:
            self.transport.write(b"".join(buf))
        elif buf == flusher.last_chunks:
            # the chunks the outbox before joined (a broadcast's): its join again
            self.transport.write(flusher.last_joined)
        else:
            joined = b"".join(buf)
            flusher.last_chunks = buf
            flusher.last_joined = joined
            self.transport.write(joined)

    def handoff(self) -> None:
        """Hand what was queued to the transport now (a WebSocket's buffer passed
        :data:`HANDOFF_BYTES` within one iteration); still over ``limit`` in the
        transport (paused): a slow consumer, ``overflow()``.  The flush, mid-iteration."""
        self.flush()

    def flush(self) -> None:
        """Write what was queued (one transport call); a WebSocket still over its
        limit in the transport (paused) is a slow consumer: ``overflow()``."""
        buf = self.wbuf
        if buf is None:
            return
        self.wbuf = None
        if self.closed:
            self.wbytes = 0
            return
        if self.wbytes:
            self._emit(buf)
        self.wbytes = 0
        if self.paused and self.limit and self.ws_mode:
            self.overflow()

    def overflow(self) -> None:  # pragma: no cover - Connection overrides it
        """The bytes waiting went over ``limit`` (the subclass drops the connection)."""
        raise NotImplementedError

    def send_frame(self, frame: bytes) -> None:
        """Send a pre-built frame (broadcast fan-out)."""
        if not self.ws_closing:
            self.write(frame)


class Flusher:
    """Coalesces writes: outboxes written to during one loop iteration are flushed
    together, each with a single transport call (``write``, or ``writelines`` with a
    large chunk), by one ``call_soon`` callback.

    With ``counting`` set (the server's ``metrics`` option), the outboxes add what
    they write to ``bytes_out`` and count their transport calls in ``writes``."""

    __slots__ = ("loop", "pending", "scheduled", "counting", "bytes_out", "writes", "last_chunks", "last_joined")

    def __init__(self, loop: Any, counting: bool = False) -> None:
        self.loop = loop
        self.pending: list[Any] = []
        self.scheduled = False
        self.counting = counting
        self.bytes_out = 0
        self.writes = 0
        # the chunks an outbox last joined for its write, and the join: a broadcast
        # leaves its recipients the same chunks, and the next outbox with the same
        # ones writes that join again (one join per broadcast, not per recipient);
        # dropped at the end of each run
        self.last_chunks: list[bytes] | None = None
        self.last_joined: bytes | None = None

    def add(self, conn: Any) -> None:
        """Flush ``conn`` at the end of this loop iteration."""
        self.pending.append(conn)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.run)

    def run(self) -> None:
        """Flush every outbox written to (the ``call_soon`` callback)."""
        self.scheduled = False
        pending = self.pending
        self.pending = []
        for conn in pending:
            conn.flush()
        self.last_chunks = None
        self.last_joined = None


#: What :func:`fanout` returns when no recipient was reached through its session's
#: ``send`` and none was skipped (the common case: no tuple is made for it)
NOTHING_ASIDE = (0, 0)


def fanout(targets: list[Any], parts: list[str | bytes], compress: bool = True) -> tuple[int, int]:
    """Hand one encoded Socket.IO packet (``parts``: text, then attachments) to every
    target: a connection (an :class:`Outbox`: a WebSocket session's) or an Engine.IO
    session (``ws`` set: its WebSocket gets the frames; else ``send`` each packet).

    Returns ``(sent, skipped)``: the recipients given the packets through their
    session's ``send`` (polling sessions), and those skipped as slow consumers
    (``slow_consumer="drop"``); the others got the frames written directly.  Counted
    in the rare branches only (nothing is counted per WebSocket recipient)."""
    sent = 0
    skipped = 0
    packets: list[str | bytes] = []
    for part in parts:
        packets.append(MESSAGE_PREFIX + part if isinstance(part, str) else part)
    frames: list[bytes] | None = None
    for target in targets:
        if isinstance(target, Outbox):
            ws: Any = target
        else:
            ws = target.ws
            if ws is None:
                if target.congested:
                    skipped += 1
                    continue  # slow_consumer="drop": over its queue's limit
                for p in packets:
                    target.send(p)
                sent += 1
                continue
        if isinstance(ws, Outbox) and ws.paused and ws.drop_slow:
            skipped += 1
            continue  # slow_consumer="drop": its transport is over the limit
        if frames is None:
            frames = [
                build_frame(OP_TEXT, p) if isinstance(p, str) else build_frame(OP_BINARY, p)
                for p in packets
            ]
        if compress:
            deflate = ws.deflate
            if deflate is not None:
                _send_deflated(ws, deflate, packets, frames)
                continue
        if isinstance(ws, Outbox) and not ws.eio3:
            if ws.ws_closing or ws.closed:
                continue
            for frame in frames:
                ws.write(frame)
        else:
            for frame in frames:
                ws.send_frame(frame)
    return (sent, skipped) if sent or skipped else NOTHING_ASIDE
