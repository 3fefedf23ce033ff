"""The per-TCP-connection protocol: HTTP/1.1 on httptools, then WebSocket after an upgrade.

One :class:`Connection` object serves a TCP connection for its whole life:

* HTTP mode: httptools parses requests (keep-alive, Content-Length and chunked bodies,
  header and body limits); each complete request goes to the application's
  ``handle_request(conn, request)``, which answers with :meth:`Connection.send_response`
  now or later (a long-polling GET is answered when there is something to send;
  pipelined requests behind it wait their turn).
* WebSocket mode: after ``handle_upgrade`` accepts an upgrade the HTTP parser is
  dropped, frames are parsed in place by the selected frame-codec twin, and messages
  go to ``conn.ws_handler.receive_ws(conn, message, now)``.

Writes are coalesced (see :class:`~fastsio._server.timers.Flusher`): everything a
connection is sent during one loop iteration leaves in one ``transport.write``.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import httptools

from .outbox import Outbox
from ..protocol.websocket.deflate import Deflater
from ..protocol.websocket import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    FrameParser,
    WebSocketError,
    build_close,
    build_frame,
)

log = logging.getLogger("fastsio.server")

MAX_HEADER_BYTES = 16 * 1024
# long-polling responses this large or larger are compressed when the client accepts it
COMPRESSION_THRESHOLD = 1024
MAX_HEADERS = 100
# pipelined requests waiting behind an unanswered one (a long-polling GET); reading
# pauses as soon as one waits, so more only come from one read: a client that sends
# more than this in one go is dropped
MAX_PIPELINED = 64

_REASONS = {s.value: s.phrase for s in HTTPStatus}

# A held connection keeps its handshake request (``socket.handshake``) for its whole life.
# The strings that repeat from one request to the next -- header names, most header
# values, query keys and values, paths, methods -- are shared instead of one copy per
# connection (a few hundred bytes each).  Bounded: a table that fills up starts over.
_SHARED_MAX = 4096
_SHARED_LEN = 64
_names: dict[bytes, str] = {}
_values: dict[bytes, str] = {}
_strings: dict[str, str] = {}
# header values that differ per connection: not worth a table entry
_UNSHARED = frozenset(("sec-websocket-key", "cookie", "authorization", "content-length"))
# an empty sequence for the per-request lists while no request is being parsed
_NONE: tuple[Any, ...] = ()


def _header_name(raw: bytes) -> str:
    name = _names.get(raw)
    if name is None:
        name = raw.decode("latin-1").lower()
        if len(_names) >= _SHARED_MAX:
            _names.clear()
        _names[raw] = name
    return name


def _header_value(key: str, raw: bytes) -> str:
    if len(raw) > _SHARED_LEN or key in _UNSHARED:
        return raw.decode("latin-1")
    value = _values.get(raw)
    if value is None:
        value = raw.decode("latin-1")
        if len(_values) >= _SHARED_MAX:
            _values.clear()
        _values[raw] = value
    return value


def _shared(text: str) -> str:
    if len(text) > _SHARED_LEN:
        return text
    shared = _strings.get(text)
    if shared is None:
        if len(_strings) >= _SHARED_MAX:
            _strings.clear()
        _strings[text] = shared = text
    return shared


class Request:
    """A parsed HTTP request (headers lower-cased; repeated headers joined by ", ")."""

    __slots__ = (
        "passed",
        "method",
        "url",
        "path",
        "query_string",
        "_query",
        "headers",
        "body",
        "client",
        "secure",
        "upgrade",
        "keep_alive",
    )

    def __init__(
        self,
        method: str,
        url: str,
        path: str,
        query_string: str,
        headers: dict[str, str],
        client: tuple[str, int] | None,
        secure: bool,
    ) -> None:
        # the engine's request hooks have accepted this request
        self.passed = False
        self.method = method
        self.url = url
        self.path = path
        self.query_string = query_string
        # the parsed query, made on first use (see ``compact``)
        self._query: dict[str, str] | None = None
        self.headers = headers
        self.body = b""
        self.client = client
        self.secure = secure
        self.upgrade = False
        # whether the connection stays open after the answer (HTTP/1.1 default, Connection)
        self.keep_alive = True

    @property
    def query(self) -> dict[str, str]:
        """The query parameters (the last of a repeated name), parsed on first use."""
        query = self._query
        if query is None:
            qs = self.query_string
            query = self._query = _parse_query(qs) if qs else {}
        return query

    def compact(self) -> None:
        """Drop the parsed query (``query`` parses ``query_string`` again if asked).

        A session keeps its handshake request for its lifetime, and the query dict was
        most of its size.  The engine calls this when no application code has seen the
        request yet (so nothing it changed in the dict is lost)."""
        self._query = None


def _parse_query(qs: str) -> dict[str, str]:
    """``dict(parse_qsl(qs))`` with shared strings; a query with nothing to unquote (an
    Engine.IO handshake's ``EIO=4&transport=websocket``) is split directly."""
    if "%" in qs or "+" in qs:
        return {_shared(k): _shared(v) for k, v in parse_qsl(qs)}
    query = {}
    for part in qs.split("&"):
        name, _, value = part.partition("=")
        if value:  # parse_qsl drops blank values
            query[_shared(name)] = _shared(value)
    return query


def _shareable_target(raw: bytes) -> bool:
    """Whether a request target is likely to repeat (worth a shared string): no session
    id and no cache-busting timestamp, which are unique per request."""
    return len(raw) <= _SHARED_LEN and b"sid=" not in raw and b"&t=" not in raw and b"?t=" not in raw


def _response_head(status: int, headers: list[tuple[str, str]], length: int, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
    for name, value in headers:
        lines.append(f"{name}: {value}\r\n")
    lines.append(f"Content-Length: {length}\r\n")
    if close:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


class Connection(Outbox, asyncio.Protocol):
    """One TCP connection: HTTP/1.1, or WebSocket after an upgrade.

    The output state (transport, coalesced write buffer, send-buffer limit, closed /
    closing flags) lives in the :class:`~fastsio._speedups.fanout.Outbox` base, which
    the broadcast fan-out writes to directly."""

    __slots__ = (
        # global state
        "app",
        "loop",
        # per-connection state
        "client",
        "secure",
        # HTTP state (dropped after an upgrade)
        "parser",
        "url",
        "hdrs",
        "header_bytes",
        "body",
        "body_size",
        "body_limit",
        "request",
        "busy",
        "backlog",
        "draining",
        "reading_paused",
        "keep_alive",
        "poll_headers",
        "poll_owner",
        "poll_encoding",
        # WebSocket state
        "frames",
        "ws_handler",
        # the shared timer wheel's slot: HTTP keep-alive and request deadlines
        "timer_slot",
        "in_request",
    )

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop, flusher: Any) -> None:
        # max_buffer_size: bytes a slow client may have waiting before it is disconnected
        Outbox.__init__(self, flusher, getattr(app, "max_buffer_size", 0) or 0)
        self.app = app
        self.loop = loop
        self.client: tuple[str, int] | None = None
        self.secure = False
        self.parser: Any = httptools.HttpRequestParser(self)
        self.url = b""
        self.hdrs: list[tuple[bytes, bytes]] | tuple[()] = _NONE
        self.header_bytes = 0
        self.body: list[bytes] | tuple[()] = _NONE
        # bytes of the current request's body so far (a running sum: the body may come in
        # very many tiny chunks, and summing them each time would be quadratic)
        self.body_size = 0
        self.body_limit = app.max_body
        self.request: Request | None = None
        # a response is owed for a request (long-polling GET waiting for data)
        self.busy = False
        # complete requests that arrived (pipelined) while busy
        self.backlog: list[Request] | tuple[()] = _NONE
        # the backlog is being served (a loop: pipelined requests answered at once must
        # not recurse), and reading is paused until it is empty
        self.draining = False
        self.reading_paused = False
        # the keep-alive of the request being answered
        self.keep_alive = True
        # headers for the pending long-poll response, and the session that holds it
        self.poll_headers: list[tuple[str, str]] | tuple[()] = _NONE
        self.poll_owner: Any = None
        # "gzip" / "deflate" when the pending long-poll response may be compressed
        self.poll_encoding: str | None = None
        self.frames: FrameParser | None = None
        self.ws_handler: Any = None
        self.timer_slot: Any = None
        # a request has begun and is not complete yet
        self.in_request = False

    # ------------------------------------------------------------ asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            host = _shared(peer[0]) if isinstance(peer[0], str) else peer[0]
            self.client = (host, peer[1])
        self.secure = transport.get_extra_info("sslcontext") is not None
        if self.limit:
            transport.set_write_buffer_limits(high=self.limit)  # type: ignore[attr-defined]
        self.app.connections.add(self)
        self._deadline(getattr(self.app, "keep_alive_timeout", 0))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.wbuf = None
        self.app.connections.discard(self)
        if self.timer_slot is not None:
            self.app.wheel.cancel(self)
        handler = self.ws_handler
        if handler is not None:
            self.ws_handler = None
            handler.ws_closed(self)
        owner = self.poll_owner
        if owner is not None:
            self.poll_owner = None
            owner.poll_closed(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False

    def data_received(self, data: bytes) -> None:
        if self.frames is not None:
            self._ws_data(data)
            return
        parser = self.parser
        if parser is None:
            return
        while True:
            try:
                parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                offset = exc.args[0]
                if offset >= len(data) or self.closed:
                    return
                data = data[offset:]
                if self.frames is not None:
                    self._ws_data(data)
                    return
                # an Upgrade not taken (not to WebSocket): the connection stays HTTP,
                # and what follows is the next request
                continue
            except httptools.HttpParserError as exc:
                if not self.closed:
                    log.info("malformed HTTP request from %s: %s", self.client, exc)
                    self.send_error(400, close=True)
            return

    # ------------------------------------------------------------ httptools callbacks
    def on_message_begin(self) -> None:
        self.in_request = True
        self._deadline(getattr(self.app, "request_timeout", 0))
        self.url = b""
        self.hdrs = []
        self.header_bytes = 0
        self.body = []
        self.body_size = 0
        self.request = None

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.header_bytes += len(url)
        if self.header_bytes > MAX_HEADER_BYTES:
            self._too_large(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value)
        self.hdrs.append((name, value))
        if self.header_bytes > MAX_HEADER_BYTES or len(self.hdrs) > MAX_HEADERS:
            self._too_large(431)

    def _too_large(self, status: int) -> None:
        log.info("request from %s refused: %d", self.client, status)
        self.send_error(status, close=True)
        raise httptools.HttpParserError("limit exceeded")

    def on_headers_complete(self) -> None:
        parser = self.parser
        headers: dict[str, str] = {}
        for name, value in self.hdrs:
            key = _header_name(name)
            val = _header_value(key, value)
            if key in headers:
                headers[key] += ", " + val
            else:
                headers[key] = val
        self.hdrs = _NONE
        url = self.url
        self.url = b""
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            self.send_error(400, close=True)
            raise httptools.HttpParserError("invalid url") from None
        raw_path = _shared(parsed.path.decode("latin-1"))
        raw_query = parsed.query
        if _shareable_target(url):
            target = _shared(url.decode("latin-1"))
            query_string = _shared(raw_query.decode("latin-1")) if raw_query else ""
        else:
            target = url.decode("latin-1")
            query_string = raw_query.decode("latin-1") if raw_query else ""
        req = Request(
            _shared(parser.get_method().decode("ascii")),
            target,
            raw_path,
            query_string,
            headers,
            self.client,
            self.secure,
        )
        req.upgrade = parser.should_upgrade()
        self.request = req
        req.keep_alive = parser.should_keep_alive()
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.body_limit:
            log.info("request body from %s over the limit (%s bytes)", self.client, length)
            self._body_too_large(req)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.body_size += len(body)
        if self.body_size > self.body_limit:
            log.info("request body from %s over the limit", self.client)
            self._body_too_large(self.request)

    def _body_too_large(self, req: Request | None) -> None:
        """Answer 413 and close; the application may end what the request was for (an
        Engine.IO session whose POST was over ``maxHttpBufferSize``)."""
        self.send_error(413, close=True)
        hook = getattr(self.app, "body_too_large", None)
        if hook is not None and req is not None:
            hook(req)
        raise httptools.HttpParserError("body too large")

    def on_message_complete(self) -> None:
        self.in_request = False
        if self.timer_slot is not None:
            self.app.wheel.cancel(self)  # being answered: no deadline while the app works
        req = self.request
        if req is None:
            return
        self.request = None
        req.body = b"".join(self.body) if self.body else b""
        self.body = _NONE
        if req.upgrade and req.headers.get("upgrade", "").lower() == "websocket":
            # answered synchronously; feed_data raises HttpParserUpgrade right after
            self.app.handle_upgrade(self, req)
            return
        if self.busy:
            backlog = self.backlog
            if not backlog:
                self.backlog = backlog = []
            backlog.append(req)
            if len(backlog) > MAX_PIPELINED:
                log.info("connection from %s: over %d pipelined requests; closing", self.client, MAX_PIPELINED)
                self.backlog = _NONE
                self.abort()
                raise httptools.HttpParserError("too many pipelined requests")
            if not self.reading_paused and self.transport is not None:
                # flow control: no more requests until these are answered
                self.reading_paused = True
                self.transport.pause_reading()
            return
        self._dispatch(req)

    def _next(self) -> None:
        """Serve the pipelined requests in turn, while each is answered at once."""
        if self.draining:
            return  # the loop below is running further up the stack
        self.draining = True
        try:
            backlog = self.backlog
            while backlog and not self.busy and not self.closed:
                self._dispatch(backlog.pop(0))  # type: ignore[union-attr]
                backlog = self.backlog
        finally:
            self.draining = False
        if not self.backlog and self.reading_paused and not self.closed and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()

    def _dispatch(self, req: Request) -> None:
        self.keep_alive = req.keep_alive
        self.busy = True
        try:
            self.app.handle_request(self, req)
        except Exception:
            log.exception("error handling %s %s", req.method, req.url)
            if self.busy and not self.closed:
                self.send_error(500, close=True)

    # ------------------------------------------------------------ HTTP responses
    def send_response(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        close: bool = False,
        length: int | None = None,
    ) -> None:
        """Answer the current request; then serve the next pipelined one, if any.

        ``length`` overrides Content-Length (a HEAD response carries no body)."""
        if self.closed:
            return
        close = close or not self.keep_alive
        self.busy = False
        head = _response_head(status, headers, len(body) if length is None else length, close)
        self.write(head + body)
        if close:
            self.shutdown()
            return
        if not self.in_request:
            self._deadline(getattr(self.app, "keep_alive_timeout", 0))
        if self.backlog:
            self._next()

    def send_error(self, status: int, body: bytes = b"", close: bool = False) -> None:
        headers = [("Content-Type", "application/json" if body else "text/plain")]
        if not body:
            body = _REASONS.get(status, "Error").encode()
        self.send_response(status, headers, body, close=close)

    # The long-polling sink protocol of fastsio.protocol.session
    def respond(self, payload: str | bytes) -> None:
        """Answer the pending long-polling GET with an Engine.IO payload (``bytes``: an
        EIO3 binary payload, sent as application/octet-stream)."""
        self.poll_owner = None
        if isinstance(payload, str):
            headers = self.poll_headers
            body = payload.encode("utf-8")
        else:
            headers = [("Content-Type", "application/octet-stream")]
            headers.extend(self.poll_headers[1:])
            body = payload
        encoding = self.poll_encoding
        if encoding is not None and len(body) >= COMPRESSION_THRESHOLD:
            if encoding == "gzip":
                packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip container
            else:
                packer = zlib.compressobj(6, zlib.DEFLATED, 15)  # HTTP "deflate" = zlib
            body = packer.compress(body) + packer.flush()
            headers = [*headers, ("Content-Encoding", encoding), ("Vary", "Accept-Encoding")]
        self.send_response(200, headers, body)

    def drop(self) -> None:
        self.poll_owner = None

    # ------------------------------------------------------------ output
    # write(), flush() and send_frame() come from Outbox
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

    # ------------------------------------------------------------ HTTP deadlines
    # Node's http server closes a keep-alive connection idle for keepAliveTimeout (5 s)
    # and answers 408 to a request not complete within its timeout; so does this one,
    # from the engine's one timer wheel (no timer per connection).  A long-polling GET
    # being held has no deadline here: its session's heartbeat bounds it.
    def _deadline(self, delay: float) -> None:
        if delay and not self.closed:
            wheel = getattr(self.app, "wheel", None)
            if wheel is not None:
                wheel.schedule(self, self.loop.time() + delay)

    def on_timer(self, now: float) -> None:
        if self.closed or self.frames is not None or self.busy:
            return
        if self.in_request:
            log.info("request from %s not complete in time: 408", self.client)
            self.in_request = False
            self.send_error(408, close=True)
        else:
            log.debug("keep-alive connection from %s idle: closed", self.client)
            self.shutdown()

    def overflow(self) -> None:
        """A slow consumer went over ``max_buffer_size``: drop it, tell the session."""
        if self.closed:
            return
        transport = self.transport
        waiting = self.wbytes + (transport.get_write_buffer_size() if transport is not None else 0)
        log.warning(
            "connection from %s: %d bytes waiting, over max_buffer_size (%d); disconnecting",
            self.client,
            waiting,
            self.limit,
        )
        handler = self.ws_handler
        self.ws_handler = None
        self.abort()
        if handler is not None:
            handler.ws_closed(self, "send buffer full")

    def close(self) -> None:
        """Close: a WebSocket with a close frame (1000), HTTP by closing the TCP connection."""
        if self.frames is not None and not self.ws_closing:
            self.ws_close(1000)
        else:
            self.shutdown()

    def shutdown(self) -> None:
        """Flush what is queued, then close the TCP connection."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        self.wbuf = None
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------ WebSocket
    def accept_websocket(
        self, response: bytes, handler: Any, max_size: int, deflate: Deflater | None = None
    ) -> None:
        """Switch to WebSocket mode: send the 101 response, drop the HTTP parser.

        ``deflate``: the compressor when permessage-deflate was negotiated (the frame
        parser then inflates, with the parameters agreed)."""
        self.write(response)
        self.parser = None
        self.backlog = _NONE
        self.poll_headers = _NONE
        self.busy = False
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        if deflate is None:
            self.frames = FrameParser(max_size)
        else:
            params = deflate.params
            self.frames = FrameParser(
                max_size, params.client_max_window_bits, params.client_no_context_takeover
            )
            self.deflate = deflate
        self.ws_mode = True
        if self.timer_slot is not None:
            self.app.wheel.cancel(self)  # the session's heartbeat watches it from now on
        self.ws_handler = handler

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

    def ws_close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame; the TCP connection closes when the client answers it
        (or after a second).  The handler is told at once."""
        if self.ws_closing or self.closed:
            return
        self.ws_closing = True
        self.write(build_close(code, reason))
        handler = self.ws_handler
        if handler is not None:
            self.ws_handler = None
            handler.ws_closed(self)
        self.flush()
        self.loop.call_later(1.0, self.shutdown)

    def _ws_data(self, data: bytes) -> None:
        frames = self.frames
        assert frames is not None
        try:
            messages = frames.feed(data)
        except WebSocketError as exc:
            if not self.ws_closing:
                log.info("WebSocket protocol error from %s: %s (%d)", self.client, exc.reason, exc.code)
                self.ws_close(exc.code, exc.reason)
            else:
                self.shutdown()
            return
        now = self.loop.time()
        for op, payload in messages:
            if op == OP_TEXT or op == OP_BINARY:
                handler = self.ws_handler
                if handler is not None:
                    handler.receive_ws(self, payload, now)
            elif op == OP_PING:
                self.write(build_frame(10, payload))  # PONG
            elif op == OP_CLOSE:
                if not self.ws_closing:
                    code = payload[0]
                    self.ws_close(1000 if code in (1005, 1006) else code)
                self.shutdown()
                return


class Eio3Connection(Connection):
    """A WebSocket of an Engine.IO v3 session: a binary MESSAGE goes out with its packet
    type byte (0x04) first.  The engine makes an accepted connection one of these
    (``conn.__class__ = Eio3Connection``), so EIO4 connections pay nothing for it."""

    __slots__ = ()

    def send(self, encoded: str | bytes, compress: bool = True) -> None:
        # the type byte is part of the message, so it is compressed with it
        if not isinstance(encoded, str):
            encoded = b"\x04" + encoded
        Connection.send(self, encoded, compress)

    def send_frame(self, frame: bytes) -> None:
        """A pre-built frame of the fan-out: a binary one is rebuilt with the type byte.
        (Server frames are unmasked and unfragmented; the fan-out builds them
        uncompressed, and gives compressed ones to ``send`` instead.)"""
        if frame[0] == 0x82:
            n = frame[1] & 0x7F
            start = 2 if n < 126 else (4 if n == 126 else 10)
            frame = build_frame(OP_BINARY, b"\x04" + frame[start:])
        Connection.send_frame(self, frame)
