"""The WebSocket transport: one :class:`WebSocketConnection` per upgraded TCP connection.

After the HTTP layer accepts an upgrade (``Connection.accept_websocket``), the asyncio
transport is handed to a new :class:`WebSocketConnection` with
``transport.set_protocol`` (asyncio's and uvloop's TCP and TLS transports support it),
and the HTTP connection object is dropped: a WebSocket connection carries no HTTP
state.  The bytes that came after the upgrade request in the same read are fed to it
by the HTTP connection; later reads reach it directly.

Frames are parsed in place by the selected frame-codec twin; each message goes to
``handler.receive_ws(conn, message, now)`` (a :class:`WebSocketHandler`: the Engine.IO
session).  Pings are answered, a close frame is answered and the connection closed.
A connection without permessage-deflate has no frame parser of its own while it is
between messages: the connections of a server share one idle parser per message size
limit (a :class:`SpareFrameParser`, in the application's ``spare_frame_parsers``).  A
read that leaves the parser mid-frame or mid-message (or failed) makes the connection
take that parser as its own (the spare is replaced by a new one), and the connection
gives it up at the first read that leaves it idle again.  An idle connection thus costs
a pointer, not a parser.  With permessage-deflate the parser keeps the inflater's
context, so such a connection always has its own.

Writes are coalesced by the :class:`~fastsio._server.outbox.Outbox` base: the 101
response and what the session sends in the same loop iteration (the OPEN packet)
leave in one ``transport.write``.

:class:`Eio3WebSocketConnection` is the variant for an Engine.IO v3 session, chosen
when the connection is made (a binary MESSAGE carries its packet type byte); EIO4
connections pay nothing for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, MutableSet, Protocol

from fastsio.protocol.websocket.frames import (
    CLOSE_ABNORMAL,
    CLOSE_NO_STATUS,
    CLOSE_NORMAL,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameParser,
    WebSocketError,
    build_close,
    build_frame,
)
from fastsio.protocol.websocket.deflate import Deflater
from fastsio._server.flow_control import FlowControl
from fastsio._server.metrics import Metrics
from fastsio._server.outbox import Outbox

__all__ = (
    "Eio3WebSocketConnection",
    "SpareFrameParser",
    "WebSocketApplication",
    "WebSocketConnection",
    "WebSocketHandler",
)

# an Engine.IO v3 binary MESSAGE over WebSocket: its packet type byte, then the data
_EIO3_BINARY_MESSAGE = b"\x04"
# the first byte of an unfragmented binary frame (FIN + OP_BINARY)
_FIN_BINARY = 0x80 | OP_BINARY


class SpareFrameParser:
    """The idle frame parser that the WebSocket connections of one server with one
    message size limit share between reads (see the module docstring).

    Args:
        max_size: the largest message accepted (bytes), as :class:`FrameParser` takes it.
    """

    __slots__ = ("max_size", "parser")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        #: the shared parser, idle between reads
        self.parser = FrameParser(max_size)

    def take(self) -> FrameParser:
        """The shared parser, for the connection whose read left it not idle to keep;
        a new parser is the shared one from now on."""
        parser = self.parser
        self.parser = FrameParser(self.max_size)
        return parser


class WebSocketHandler(Protocol):
    """What a WebSocket connection reports to (the Engine.IO session satisfies it)."""

    def receive_ws(self, sink: Any, message: str | bytes, now: float) -> None:
        """One message from the connection ``sink`` (loop time ``now``)."""

    def ws_closed(self, sink: Any, reason: str = ...) -> None:
        """The connection ``sink`` went away (``reason``: ``"send buffer full"`` for
        a slow consumer dropped)."""


class WebSocketApplication(Protocol):
    """What a WebSocket connection needs of the application (the Engine satisfies it)."""

    @property
    def connections(self) -> MutableSet[FlowControl]:
        """The live connections (a connection removes itself when it is lost)."""

    @property
    def server_log(self) -> logging.Logger:
        """The connections' logger."""

    @property
    def metrics(self) -> Metrics | None:
        """The counters (``bytes_in``), or None: metrics off."""

    @property
    def spare_frame_parsers(self) -> dict[int, SpareFrameParser]:
        """The shared idle frame parsers, by message size limit (an empty dict to
        begin with: the connections fill it)."""


class WebSocketConnection(FlowControl, asyncio.Protocol):
    """One WebSocket connection (server side, RFC 6455), the transport's protocol
    after an upgrade.

    Args:
        app: the application (connections, logger).
        loop: the event loop.
        flusher: the write flusher.
        limit: ``max_buffer_size`` (0: no limit).
        transport: the upgraded connection's transport.
        client: the peer address.
        handler: the handler of messages (None: messages are ignored).
        max_size: the largest message accepted (bytes).
        deflate: the compressor when permessage-deflate was negotiated (the frame
            parser then inflates, with the parameters agreed).
        slow_consumer: the policy over ``limit``: ``"disconnect"`` or ``"drop"``.
    """

    __slots__ = ("app", "loop", "frames", "spare", "handler", "metrics")

    #: an Engine.IO v3 connection (the outbox's ``eio3`` flag): set by the subclass
    EIO3 = False

    def __init__(
        self,
        app: WebSocketApplication,
        loop: asyncio.AbstractEventLoop,
        flusher: Any,
        limit: int,
        transport: Any,
        client: tuple[str, int] | None,
        handler: WebSocketHandler | None,
        max_size: int,
        deflate: Deflater | None = None,
        slow_consumer: str = "disconnect",
    ) -> None:
        Outbox.__init__(self, flusher, limit)
        self.init_flow_control(slow_consumer)
        self.app = app
        self.loop = loop
        self.transport = transport
        self.client = client
        self.ws_mode = True
        self.eio3 = self.EIO3
        self.handler = handler
        # the server's counters (None: metrics off)
        self.metrics = app.metrics
        if deflate is None:
            # the server's shared idle parser until a read leaves it busy
            self.frames: FrameParser | None = None
            spares = app.spare_frame_parsers
            spare = spares.get(max_size)
            if spare is None:
                spare = spares[max_size] = SpareFrameParser(max_size)
            self.spare: SpareFrameParser | None = spare
        else:
            self.spare = None
            params = deflate.params
            self.frames = FrameParser(max_size, params.client_max_window_bits, params.client_no_context_takeover)
            self.deflate = deflate

    @property
    def log(self) -> logging.Logger:
        """The application's connection logger."""
        return self.app.server_log

    # ------------------------------------------------------------ asyncio callbacks
    def connection_lost(self, exc: Exception | None) -> None:
        """The TCP connection is gone: tell the handler."""
        self.closed = True
        self.wbuf = None
        self.app.connections.discard(self)
        handler = self.handler
        if handler is not None:
            self.handler = None
            handler.ws_closed(self)

    def data_received(self, data: bytes) -> None:
        """Parse frames; hand messages to the handler, answer pings and close frames."""
        own = self.frames
        frames = own if own is not None else self.spare.parser  # type: ignore[union-attr]
        metrics = self.metrics
        if metrics is not None:
            metrics.bytes_in += len(data)
        try:
            messages = frames.feed(data)
        except WebSocketError as exc:
            if own is None:
                self.frames = self.spare.take()  # type: ignore[union-attr]  # failed: not shareable
            if not self.ws_closing:
                self.app.server_log.info(
                    "WebSocket protocol error from %s: %s (%d)", self.client, exc.reason, exc.code
                )
                self.ws_close(exc.code, exc.reason)
            else:
                self.shutdown()
            return
        if not frames.idle:
            if own is None:
                self.frames = self.spare.take()  # type: ignore[union-attr]  # mid-frame or mid-message
        elif own is not None and self.spare is not None:
            self.frames = None  # idle again: back to the shared parser
        now = self.loop.time()
        for op, payload in messages:
            if op == OP_TEXT or op == OP_BINARY:
                handler = self.handler
                if handler is not None:
                    handler.receive_ws(self, payload, now)  # type: ignore[arg-type]
            elif op == OP_PING:
                self.write(build_frame(OP_PONG, payload))  # type: ignore[arg-type]
            elif op == OP_CLOSE:
                if not self.ws_closing:
                    code = payload[0]  # type: ignore[index]  # (code, reason)
                    self.ws_close(CLOSE_NORMAL if code in (CLOSE_NO_STATUS, CLOSE_ABNORMAL) else code)
                self.shutdown()
                return

    # ------------------------------------------------------------ the WebSocket sink
    def send(self, encoded: str | bytes, compress: bool = True) -> None:
        """Send one encoded Engine.IO packet as a frame (the WebSocket sink protocol).

        With permessage-deflate negotiated, a packet of ``threshold`` bytes or more is
        sent compressed unless ``compress`` is False."""
        if self.ws_closing:
            return
        deflate = self.deflate
        if deflate is not None and compress:
            if isinstance(encoded, str):
                opcode, data = OP_TEXT, encoded.encode("utf-8")
            else:
                opcode, data = OP_BINARY, encoded
            if len(data) >= deflate.threshold:
                self.write(build_frame(opcode, deflate.compress(data), rsv1=True))
            else:
                self.write(build_frame(opcode, data))
            return
        if isinstance(encoded, str):
            self.write(build_frame(OP_TEXT, encoded))
        else:
            self.write(build_frame(OP_BINARY, encoded))

    def writable(self) -> bool:
        """Nothing is waiting in the transport's buffer (the kernel takes writes now)."""
        if self.closed or self.ws_closing or self.paused:
            return False
        transport = self.transport
        return transport is not None and transport.get_write_buffer_size() == 0

    def close(self) -> None:
        """Close with a close frame (1000), unless one was sent already."""
        if not self.ws_closing:
            self.ws_close(CLOSE_NORMAL)
        else:
            self.shutdown()

    def ws_close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame; the TCP connection closes when the client answers it
        (or after a second).  The handler is told at once."""
        if self.ws_closing or self.closed:
            return
        self.ws_closing = True
        self.write(build_close(code, reason))
        handler = self.handler
        if handler is not None:
            self.handler = None
            handler.ws_closed(self)
        self.flush()
        self.loop.call_later(1.0, self.shutdown)

    def on_overflow(self) -> None:
        """A slow consumer dropped: abort, tell the handler (``"send buffer full"``)."""
        handler = self.handler
        self.handler = None
        self.abort()
        if handler is not None:
            handler.ws_closed(self, "send buffer full")

    def hold_writes(self, delay: float) -> None:
        """Write what was written so far now, and what is written from now on ``delay``
        seconds later (not at the end of this loop iteration)."""
        self.flush()
        if self.closed:
            return
        pending = self.flusher.pending
        if self in pending:
            pending.remove(self)
        self.wbuf = b""
        self.wbytes = 0
        self.loop.call_later(delay, self.flush)


class Eio3WebSocketConnection(WebSocketConnection):
    """The WebSocket of an Engine.IO v3 session: a binary MESSAGE goes out with its
    packet type byte (0x04) first.  Chosen when the connection is made."""

    __slots__ = ()

    # the fan-out gives it frames through send_frame (see WebSocketConnection.__init__)
    EIO3 = True

    def send(self, encoded: str | bytes, compress: bool = True) -> None:
        """Send one packet; a binary one with its type byte (compressed with it)."""
        if not isinstance(encoded, str):
            encoded = _EIO3_BINARY_MESSAGE + encoded
        WebSocketConnection.send(self, encoded, compress)

    def send_frame(self, frame: bytes) -> None:
        """A pre-built frame of the fan-out: a binary one is rebuilt with the type byte.
        (Server frames are unmasked and unfragmented; the fan-out builds them
        uncompressed, and gives compressed ones to ``send`` instead.)"""
        if frame[0] == _FIN_BINARY:
            n = frame[1] & 0x7F
            start = 2 if n < 126 else (4 if n == 126 else 10)
            frame = build_frame(OP_BINARY, _EIO3_BINARY_MESSAGE + frame[start:])
        WebSocketConnection.send_frame(self, frame)
