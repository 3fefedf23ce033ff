"""The HTTP/1.1 protocol of a TCP connection, on httptools.

One :class:`Connection` object serves a TCP connection until it is closed or upgraded:
httptools parses requests (keep-alive, Content-Length and chunked bodies, header and
body limits); each complete request (a :class:`~fastsio._server.request.Request`) goes
to the application's ``handle_request(conn, request)``, which answers with
:meth:`Connection.send_response` now or later (a long-polling GET is answered when
there is something to send; pipelined requests behind it wait their turn, with reading
paused).  An upgrade request goes to ``handle_upgrade(conn, request)``, which either
answers it over HTTP or accepts it with :meth:`Connection.accept_websocket`: the
transport then belongs to a new :class:`~fastsio._server.websocket.WebSocketConnection`
and this object is dropped.

Deadlines (keep-alive idle, request time) are filed on the application's timer wheel.
The application is anything that satisfies :class:`Application` (the Engine does).

Writes are coalesced (see :class:`~fastsio._server.outbox.Flusher`): everything a
connection is sent during one loop iteration leaves in one ``transport.write``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import httptools

from fastsio.options import EngineOptions
from fastsio.protocol.websocket.deflate import Deflater
from fastsio._server.flow_control import FlowControl
from fastsio._server.mesh import request_bytes
from fastsio._server.outbox import Outbox
from fastsio._server.polling import poll_response
from fastsio._server.request import Request, add_header, shareable_target, shared, split_target
from fastsio._server.timers import TimerWheel
from fastsio._server.websocket import WebSocketApplication, WebSocketConnection, WebSocketHandler

if TYPE_CHECKING:
    from fastsio.protocol.engineio.session import Session

__all__ = ("AdoptedConnection", "Application", "Connection", "MAX_HEADERS", "MAX_HEADER_BYTES", "MAX_PIPELINED", "Request")

MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 100
# pipelined requests waiting behind an unanswered one (a long-polling GET); reading
# pauses as soon as one waits, so more only come from one read: a client that sends
# more than this in one go is dropped
MAX_PIPELINED = 64

_REASONS = {s.value: s.phrase for s in HTTPStatus}

# an empty sequence for the per-request lists while no request is being parsed
_NONE: tuple[Any, ...] = ()
# the headers while no request is being parsed (never written to: on_message_begin
# gives each request a dict of its own before httptools calls on_header)
_NO_HEADERS: dict[str, str] = {}


class Application(WebSocketApplication, Protocol):
    """What a connection needs of its application (the Engine satisfies it): what
    the WebSocket connection it is upgraded to needs (it is handed the same
    application: ``connections``, ``server_log``, ``metrics``,
    ``spare_frame_parsers``), and the HTTP side below.  A connection adds itself to
    ``connections`` when made, removes itself when lost, and puts its WebSocket
    connection in its place on an upgrade."""

    @property
    def options(self) -> EngineOptions:
        """The options: ``max_buffer_size``, ``max_http_buffer_size`` (the body limit),
        ``http_keep_alive_timeout``, ``http_request_timeout``."""

    @property
    def wheel(self) -> TimerWheel | None:
        """The timer wheel the deadlines go on (None: no deadlines)."""

    def handle_request(self, conn: Connection, req: Request) -> None:
        """Answer ``req`` (now or later) with ``conn.send_response``."""

    def handle_upgrade(self, conn: Connection, req: Request) -> None:
        """Answer an upgrade request: ``conn.accept_websocket`` or an HTTP answer with
        ``close=True``.  Called while the request is being parsed."""

    def body_too_large(self, req: Request) -> None:
        """The connection answered 413 to ``req`` (its body is over the limit)."""


# the heads of recent responses up to their Content-Length, by (status, headers,
# close): a server answers with a few of them over and over (the polling answers, "ok"
# to a POST), and a head written once is a dict lookup after that; bounded like the
# request's shared strings (a Set-Cookie head is unique and only passes through)
_HEADS: dict[tuple[int, tuple[tuple[str, str], ...], bool], bytes] = {}
_HEADS_MAX = 256


def _response_head(status: int, headers: list[tuple[str, str]] | tuple[()], length: int, close: bool) -> bytes:
    key = (status, tuple(headers), close)
    head = _HEADS.get(key)
    if head is None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
        for name, value in headers:
            lines.append(f"{name}: {value}\r\n")
        if close:
            lines.append("Connection: close\r\n")
        lines.append("Content-Length: ")
        head = "".join(lines).encode("latin-1")
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()
        _HEADS[key] = head
    return b"%s%d\r\n\r\n" % (head, length)


class Connection(FlowControl, asyncio.Protocol):
    """One TCP connection speaking HTTP/1.1 (until it is upgraded).

    The output state (transport, coalesced write buffer, send-buffer limit, closed /
    closing flags) lives in the :class:`~fastsio._server.outbox.Outbox` base.  As a
    long-polling GET's connection it is the session's poll sink (:meth:`respond`,
    :meth:`drop`)."""

    __slots__ = (
        "app",
        "loop",
        "secure",
        "parser",
        "url",
        "hdrs",
        "header_count",
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
        # the WebSocket connection this one was upgraded to
        "websocket",
        # the shared timer wheel's slot, and the deadline it is for (keep-alive or
        # request; 0.0: none): the slot may be earlier (see _deadline)
        "timer_slot",
        "deadline",
        "in_request",
        # the server's counters (None: metrics off)
        "metrics",
        # a hand-off to another worker process under way: (send, bytes to pass on)
        "passing",
    )

    #: the engine's :class:`~fastsio._server.engine.Exchange` protocol: this connection
    #: writes the 101 response and the WebSocket frames itself (``accept_websocket``)
    frames_websocket = True

    def __init__(self, app: Application, loop: asyncio.AbstractEventLoop, flusher: Any) -> None:
        options = app.options
        # max_buffer_size: bytes a slow client may have waiting before it is disconnected
        Outbox.__init__(self, flusher, options.max_buffer_size)
        self.init_flow_control(options.slow_consumer)
        self.app = app
        self.loop = loop
        self.client: tuple[str, int] | None = None
        self.secure = False
        self.parser: Any = httptools.HttpRequestParser(self)
        self.url = b""
        # the headers of the request being parsed, as they arrive, and how many
        self.hdrs: dict[str, str] = _NO_HEADERS
        self.header_count = 0
        self.header_bytes = 0
        self.body: list[bytes] | tuple[()] = _NONE
        # bytes of the current request's body so far (a running sum: the body may come in
        # very many tiny chunks, and summing them each time would be quadratic)
        self.body_size = 0
        self.body_limit = options.max_http_buffer_size
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
        self.poll_owner: Session | None = None
        # "gzip" / "deflate" when the pending long-poll response may be compressed
        self.poll_encoding: str | None = None
        self.websocket: WebSocketConnection | None = None
        self.timer_slot: Any = None
        self.deadline = 0.0
        # a request has begun and is not complete yet
        self.in_request = False
        self.metrics = app.metrics
        self.passing: tuple[Any, list[bytes]] | None = None

    @property
    def log(self) -> logging.Logger:
        """The application's connection logger."""
        return self.app.server_log

    # ------------------------------------------------------------ asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """asyncio: a new TCP connection (its peer, TLS, write limits, idle deadline)."""
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            host = shared(peer[0]) if isinstance(peer[0], str) else peer[0]
            self.client = (host, peer[1])
        self.secure = transport.get_extra_info("sslcontext") is not None
        if self.limit:
            transport.set_write_buffer_limits(high=self.limit)  # type: ignore[attr-defined]
        self.app.connections.add(self)
        self._deadline(self.app.options.http_keep_alive_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        """asyncio: the TCP connection is gone (a pending long-poll's session is told)."""
        self.closed = True
        self.wbuf = None
        self.app.connections.discard(self)
        if self.timer_slot is not None:
            self._cancel_deadline()
        owner = self.poll_owner
        if owner is not None:
            self.poll_owner = None
            owner.poll_closed(self)

    def data_received(self, data: bytes) -> None:
        """asyncio: feed the HTTP parser (after an upgrade, the rest goes to the
        WebSocket connection)."""
        parser = self.parser
        if parser is None:
            return
        metrics = self.metrics
        if metrics is not None:
            metrics.bytes_in += len(data)
        while True:
            try:
                parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                offset = exc.args[0]
                if self.passing is not None:
                    # an upgrade request for another worker's session: it goes there with
                    # the WebSocket bytes that followed it
                    self._pass_now(data[offset:])
                    return
                websocket = self.websocket
                if websocket is not None:
                    # bytes that came with the upgrade request, in the same read
                    if offset < len(data) and not websocket.closed:
                        websocket.data_received(data[offset:])
                    return
                if offset >= len(data) or self.closed:
                    return
                data = data[offset:]
                # an Upgrade not taken (not to WebSocket): the connection stays HTTP,
                # and what follows is the next request
                continue
            except httptools.HttpParserError as exc:
                if self.passing is not None:
                    self.passing = None
                    self.abort()
                    return
                if not self.closed:
                    self.app.server_log.info("malformed HTTP request from %s: %s", self.client, exc)
                    self.send_error(400, close=True)
                return
            if self.passing is not None:
                self._pass_now(b"")
            return

    # ------------------------------------------------------------ httptools callbacks
    def on_message_begin(self) -> None:
        """httptools: a request begins (its deadline starts)."""
        self.in_request = True
        self._deadline(self.app.options.http_request_timeout)
        self.url = b""
        self.hdrs = {}
        self.header_count = 0
        self.header_bytes = 0
        self.body = []
        self.body_size = 0
        self.request = None

    def on_url(self, url: bytes) -> None:
        """httptools: (part of) the request target."""
        self.url += url
        self.header_bytes += len(url)
        if self.header_bytes > MAX_HEADER_BYTES:
            self._too_large(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        """httptools: one header."""
        self.header_bytes += len(name) + len(value)
        self.header_count += 1
        if self.header_bytes > MAX_HEADER_BYTES or self.header_count > MAX_HEADERS:
            self._too_large(431)
        add_header(self.hdrs, name, value)

    def _too_large(self, status: int) -> None:
        self.app.server_log.info("request from %s refused: %d", self.client, status)
        self.send_error(status, close=True)
        raise httptools.HttpParserError("limit exceeded")

    def on_headers_complete(self) -> None:
        """httptools: the head is complete: build the :class:`Request`."""
        parser = self.parser
        headers = self.hdrs
        self.hdrs = _NO_HEADERS
        url = self.url
        self.url = b""
        target = url.decode("latin-1")
        split = split_target(target)
        if split is None:
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                self.send_error(400, close=True)
                raise httptools.HttpParserError("invalid url") from None
            split = (parsed.path.decode("latin-1"), parsed.query.decode("latin-1") if parsed.query else "")
        raw_path = shared(split[0])
        if shareable_target(target):
            target = shared(target)
            query_string = shared(split[1]) if split[1] else ""
        else:
            query_string = split[1]
        req = Request(
            shared(parser.get_method().decode("ascii")),
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
            self.app.server_log.info("request body from %s over the limit (%s bytes)", self.client, length)
            self._body_too_large(req)

    def on_body(self, body: bytes) -> None:
        """httptools: (part of) the body."""
        self.body.append(body)  # type: ignore[union-attr]
        self.body_size += len(body)
        if self.body_size > self.body_limit:
            self.app.server_log.info("request body from %s over the limit", self.client)
            self._body_too_large(self.request)

    def _body_too_large(self, req: Request | None) -> None:
        """Answer 413 and close; the application may end what the request was for (an
        Engine.IO session whose POST was over ``maxHttpBufferSize``)."""
        self.send_error(413, close=True)
        if req is not None:
            self.app.body_too_large(req)
        raise httptools.HttpParserError("body too large")

    def on_message_complete(self) -> None:
        """httptools: the request is complete: dispatch it (or queue it behind the
        one being answered)."""
        self.in_request = False
        self.deadline = 0.0  # being answered: no deadline while the app works
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
                self.app.server_log.info(
                    "connection from %s: over %d pipelined requests; closing", self.client, MAX_PIPELINED
                )
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
                self._dispatch(backlog.pop(0))
                backlog = self.backlog
        finally:
            self.draining = False
        if (
            not self.backlog
            and self.reading_paused
            and not self.closed
            and self.transport is not None
            and self.passing is None  # (being handed to another worker: it reads there)
        ):
            self.reading_paused = False
            self.transport.resume_reading()

    def _dispatch(self, req: Request) -> None:
        self.keep_alive = req.keep_alive
        self.busy = True
        try:
            self.app.handle_request(self, req)
        except Exception:
            self.app.server_log.exception("error handling %s %s", req.method, req.url)
            if self.busy and not self.closed:
                self.send_error(500, close=True)

    # ------------------------------------------------------------ passing to a worker
    def pass_on(self, send: Any, first: bytes) -> None:
        """Hand this connection to another worker process (``run(workers=N)``: the request
        being dispatched names a session of that worker): once the bytes read so far are
        parsed, ``send(fd, data)`` gets a duplicate of the socket's descriptor and
        ``first`` (the request, serialized again) followed by what came after it
        (pipelined requests, or the WebSocket bytes behind an upgrade request); this
        object then lets the socket go without closing the TCP connection."""
        self.passing = (send, [first])
        self.busy = True  # pipelined requests behind it wait (and go along)
        # called while a read is parsed (the usual case), the read's end hands it off;
        # called later (a pipelined request served after an answer, a request hook that
        # was awaited), this does, on the next loop iteration
        self.loop.call_soon(self._pass_later)

    def _pass_later(self) -> None:
        if self.passing is not None and not self.closed:
            self._pass_now(b"")

    def _pass_now(self, rest: bytes) -> None:
        passing = self.passing
        assert passing is not None
        self.passing = None
        send, chunks = passing
        transport = self.transport
        if self.in_request or transport is None or self.closed:
            # a request cut in the middle behind it (not re-serializable): drop the
            # connection (the client retries)
            self.app.server_log.info("connection from %s: cannot pass a partial request on; closing", self.client)
            self.abort()
            return
        for req in self.backlog:
            chunks.append(request_bytes(req))
        chunks.append(rest)
        self.backlog = _NONE
        self.flush()  # what was answered before it leaves from here
        if transport.get_write_buffer_size():
            # not all written yet: the other worker's answer could overtake it
            self.app.server_log.info("connection from %s: cannot pass it on with a response unsent; closing", self.client)
            self.abort()
            return
        sock = transport.get_extra_info("socket")
        try:
            fd = os.dup(sock.fileno())
        except (OSError, AttributeError, ValueError) as exc:
            self.app.server_log.warning("connection from %s: cannot pass it on: %s", self.client, exc)
            self.abort()
            return
        self.parser = None
        self.busy = False
        if self.timer_slot is not None:
            self._cancel_deadline()
        self.closed = True
        try:
            sent = send(fd, b"".join(chunks))
        except Exception:
            self.app.server_log.exception("connection from %s: passing it on failed", self.client)
            sent = False
        if not sent:
            self.app.server_log.info("connection from %s: the worker it belongs to is unreachable", self.client)
        # our descriptor only: the other worker's copy keeps the connection
        transport.abort()

    # ------------------------------------------------------------ HTTP responses
    def send_response(
        self,
        status: int,
        headers: list[tuple[str, str]] | tuple[()],
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
            self._deadline(self.app.options.http_keep_alive_timeout)
        if self.backlog:
            self._next()

    def start_stream(self, status: int, headers: list[tuple[str, str]] | tuple[()], close: bool = False) -> bool:
        """Answer the current request with a body that comes in pieces
        (:meth:`write_chunk`, then :meth:`end_stream`): in the chunked transfer coding
        on a keep-alive connection, else delimited by closing the connection.  Returns
        whether it is chunked."""
        if self.closed:
            return False
        chunked = self.keep_alive and not close
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
        for name, value in headers:
            lines.append(f"{name}: {value}\r\n")
        lines.append("Transfer-Encoding: chunked\r\n\r\n" if chunked else "Connection: close\r\n\r\n")
        self.write("".join(lines).encode("latin-1"))
        return chunked

    def write_chunk(self, data: bytes, chunked: bool) -> None:
        """A piece of the body of :meth:`start_stream`, handed to the transport now (not
        coalesced to the end of the loop iteration: the caller waits for the transport
        to drain between pieces, so the pieces of one iteration do not pile up)."""
        if data and not self.closed:
            self.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            self.flush()

    def end_stream(self, chunked: bool) -> None:
        """The body of :meth:`start_stream` is complete; then as :meth:`send_response`
        (the next pipelined request, or the keep-alive deadline)."""
        if self.closed:
            return
        self.busy = False
        if not chunked:
            self.shutdown()
            return
        self.write(b"0\r\n\r\n")
        if not self.in_request:
            self._deadline(self.app.options.http_keep_alive_timeout)
        if self.backlog:
            self._next()

    def send_error(self, status: int, body: bytes = b"", close: bool = False) -> None:
        """Answer with ``status`` and a short body (the reason phrase by default)."""
        headers = [("Content-Type", "application/json" if body else "text/plain")]
        if not body:
            body = _REASONS.get(status, "Error").encode()
        self.send_response(status, headers, body, close=close)

    # The poll sink protocol of fastsio.protocol.engineio.session
    def respond(self, payload: str | bytes) -> None:
        """Answer the pending long-polling GET with an Engine.IO payload (``bytes``: an
        EIO3 binary payload, sent as application/octet-stream)."""
        self.poll_owner = None
        headers, body = poll_response(payload, self.poll_headers, self.poll_encoding)
        self.send_response(200, headers, body)

    def drop(self) -> None:
        """Forget the pending long-polling GET without answering it."""
        self.poll_owner = None

    def close(self) -> None:
        """Close the TCP connection (after what is queued)."""
        self.shutdown()

    # ------------------------------------------------------------ HTTP deadlines
    # Node's http server closes a keep-alive connection idle for keepAliveTimeout (5 s)
    # and answers 408 to a request not complete within its timeout; so does this one,
    # from the engine's one timer wheel (no timer per connection).  A long-polling GET
    # being held has no deadline here: its session's heartbeat bounds it; a request
    # arriving behind it has its own, and is closed when that passes.
    #
    # A request moves the deadline three times (the request's at its first byte, none
    # while it is answered, the keep-alive's after the answer), and each move used to
    # be a move between the wheel's buckets.  Now the connection keeps its deadline
    # itself and is only filed earlier when the new one is earlier (file_by); when the
    # wheel tells it early, on_timer files it again for the deadline it has then.  A
    # connection that is done (closed, upgraded, passed on) is taken off the wheel, so
    # that it is not kept alive until its old deadline.
    def _deadline(self, delay: float) -> None:
        if delay and not self.closed:
            wheel = self.app.wheel
            if wheel is not None:
                self.deadline = when = self.loop.time() + delay
                wheel.file_by(self, when)

    def _cancel_deadline(self) -> None:
        self.deadline = 0.0
        wheel = self.app.wheel
        if wheel is not None:
            wheel.cancel(self)

    def on_timer(self, now: float) -> None:
        """The timer wheel: a deadline passed (408, or an idle keep-alive closed)."""
        if self.closed or self.websocket is not None:
            return
        deadline = self.deadline
        if not deadline:
            return  # none since it was filed (a request being answered)
        if deadline > now:
            wheel = self.app.wheel
            if wheel is not None:
                wheel.schedule(self, deadline)  # moved later since it was filed
            return
        self.deadline = 0.0
        if self.busy:
            # the request being answered (a held long-poll, bounded by its session's
            # heartbeat) keeps the connection; one trickling in behind it does not
            if self.in_request:
                self.app.server_log.info(
                    "request from %s not complete in time (behind one being answered): closing", self.client
                )
                self.in_request = False
                self.abort()
            else:
                self._deadline(self.app.options.http_request_timeout)
            return
        if self.in_request:
            self.app.server_log.info("request from %s not complete in time: 408", self.client)
            self.in_request = False
            self.send_error(408, close=True)
        else:
            self.app.server_log.debug("keep-alive connection from %s idle: closed", self.client)
            self.shutdown()

    # ------------------------------------------------------------ WebSocket upgrade
    def accept_messages(self, handler: Any, headers: list[tuple[str, str]], max_size: int, eio3: bool) -> NoReturn:
        """Not for this connection (``frames_websocket`` is True: the engine calls
        :meth:`accept_websocket`); an ASGI server's connection has it."""
        raise NotImplementedError("fastsio's own connections frame WebSockets themselves: accept_websocket")

    def accept_websocket(
        self,
        response: bytes,
        handler: WebSocketHandler | None,
        max_size: int,
        deflate: Deflater | None = None,
        *,
        cls: type[WebSocketConnection] = WebSocketConnection,
    ) -> WebSocketConnection:
        """Accept the upgrade: send the 101 ``response`` and hand the transport to a
        new WebSocket connection (``cls``, e.g. the Engine.IO v3 variant), which is
        returned; this connection is done.

        What this connection had queued and not written yet moves to the new one, so
        the 101 and what is sent on the WebSocket in this loop iteration leave in one
        write.  ``deflate``: the compressor when permessage-deflate was negotiated."""
        transport = self.transport
        ws = cls(
            self.app,
            self.loop,
            self.flusher,
            self.limit,
            transport,
            self.client,
            handler,
            max_size,
            deflate,
            self.app.options.slow_consumer,
        )
        ws.paused = self.paused
        self.parser = None
        self.backlog = _NONE
        self.poll_headers = _NONE
        self.busy = False
        if self.timer_slot is not None:
            self._cancel_deadline()  # the session's heartbeat watches it from now on
        buf = self.wbuf
        if buf is not None:
            # queued this iteration (an earlier pipelined response): it leaves first,
            # in the same write, from the new connection
            ws.wbuf = buf
            ws.wbytes = self.wbytes
            self.wbuf = None
            pending = self.flusher.pending
            pending[pending.index(self)] = ws
        self.closed = True  # writes to this object go nowhere from now on
        self.websocket = ws
        connections = self.app.connections
        connections.discard(self)
        owner = self.poll_owner
        if owner is not None:
            # a long-polling GET pending on this connection: it is gone as HTTP
            self.poll_owner = None
            owner.poll_closed(self)
        if transport is not None:
            connections.add(ws)
            transport.set_protocol(ws)
            if self.reading_paused:
                self.reading_paused = False
                transport.resume_reading()
        ws.write(response)
        return ws


class AdoptedConnection(Connection):
    """A connection another worker process handed over (see :meth:`Connection.pass_on`):
    the bytes that worker had read are parsed first, as soon as the connection is made."""

    __slots__ = ("preread",)

    def __init__(self, app: Application, loop: asyncio.AbstractEventLoop, flusher: Any, preread: bytes) -> None:
        super().__init__(app, loop, flusher)
        self.preread = preread

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """asyncio: set up as a new connection, then parse what the other worker read."""
        super().connection_made(transport)
        data, self.preread = self.preread, b""
        if data:
            self.data_received(data)
