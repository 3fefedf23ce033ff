"""ASGI both ways: the engine's requests from an ASGI server, and an ASGI app behind fastsio's server.

Inside an ASGI server (uvicorn, hypercorn; :class:`fastsio.ASGIApp` is the public face)
-----------------------------------------------------------------------------------------
:func:`serve_http` and :func:`serve_websocket` hand one ASGI ``http`` or ``websocket``
scope to the :class:`~fastsio._server.engine.Engine`, through an :class:`AsgiExchange`:
the engine's :class:`~fastsio._server.engine.Exchange` protocol for a request that
came through an ASGI server.  The engine answers it as it answers its own
connections' requests (``send_response``), holds it as a session's long-polling GET
(``respond``/``drop``: the ASGI coroutine waits, and tells the session if the client
goes away meanwhile, ``http.disconnect``), or accepts a WebSocket with
``accept_messages``: ``frames_websocket`` is False, so the ASGI server does the
WebSocket handshake, the framing and permessage-deflate (as its own options say),
and an :class:`AsgiWebSocket` carries whole messages between the session and the
ASGI ``websocket.receive``/``websocket.send`` events.  A request body is read up to
``max_http_buffer_size`` (413 beyond, as fastsio's own server answers).

The :class:`AsgiWebSocket` is the session's WebSocket sink: ``send`` queues a message
(never blocks) and one writer task per connection awaits the ASGI ``send`` for each,
in order, so the ASGI server's own flow control (a slow client's socket) holds the
writer, not the session; more than ``max_buffer_size`` bytes waiting drops the
connection as a slow consumer (``"send buffer full"``), as fastsio's own WebSocket
connections do.  The broadcast fan-out hands it pre-built frames (``send_frame``):
their payload is sent as the message (a frame of one broadcast is decoded once, by the
:class:`FrameMessages` of its app).

Behind fastsio's own server (``Server(app=...)``)
-------------------------------------------------
:class:`AsgiFallback` is the engine's ``fallback(conn, request)`` for the requests
outside the Socket.IO path: it runs the ASGI app on an ``http`` scope built from the
request (its body already read, within ``max_http_buffer_size``) and answers with
``conn.send_response`` a response whose body comes in one piece; a body in several
pieces (a ``StreamingResponse``, server-sent events) is sent as it comes, in the
chunked transfer coding (``start_stream``/``write_chunk``/``end_stream``), the app's
``send`` waiting while a slow client has more than 256 KiB waiting, and raising
:class:`ClientGone` once the client is gone (its ``receive`` then says
``http.disconnect``), so an endless response stops.  The app runs in its own task:
an exception from it is logged and answered 500, never reaches the connection's
callbacks.  :class:`Lifespan` drives the app's ``lifespan`` scope (startup when the
server starts, shutdown when it stops); an app that does not support it is told
nothing more.

A WebSocket upgrade outside the Socket.IO path goes to ``AsgiFallback.websocket``
(the engine's ``websocket_fallback``): the app runs on a ``websocket`` scope.  Its
``websocket.accept`` makes fastsio answer 101 (with the app's subprotocol and headers,
and permessage-deflate when the ``per_message_deflate`` option allows it) and hand the
connection to a :class:`~fastsio._server.websocket.WebSocketConnection` whose handler
is an :class:`AppWebSocket`: the messages the client sends queue there for the app's
``receive`` (reading pauses while ``APP_WS_QUEUE`` messages wait, so a client cannot
fill memory while the app is busy), ``websocket.send`` frames a message,
``websocket.close`` sends a close frame, and the client's close (or a lost connection)
is ``websocket.disconnect``.  A ``websocket.close`` before the accept is answered 403,
and the ``websocket.http.response`` extension answers with the app's own response.  An
exception from the app is logged, and answered 500 before the accept or closed with
1011 after.  Outgoing messages are bounded like Socket.IO's: more than
``max_buffer_size`` bytes waiting closes the connection as a slow consumer, and
``websocket.send`` waits while the transport holds more than ``APP_WS_DRAIN`` bytes.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Coroutine, MutableMapping, NoReturn, Protocol, cast
from urllib.parse import unquote

from ..options import DeflateOptions
from ..protocol.websocket.deflate import Deflater, negotiate
from ..protocol.websocket.frames import CLOSE_NORMAL, OP_TEXT
from ..protocol.websocket.handshake import check_handshake, handshake_response
from .polling import poll_response
from .request import Request, header_dict
from .websocket import WebSocketConnection

if TYPE_CHECKING:
    from ..protocol.engineio.session import Session
    from .engine import Engine, Exchange

__all__ = (
    "ASGIApplication",
    "AsgiExchange",
    "FrameMessages",
    "AsgiFallback",
    "AsgiWebSocket",
    "AppWebSocket",
    "ClientGone",
    "StreamingExchange",
    "AppWebSocketConnection",
    "APP_WS_DRAIN",
    "APP_WS_QUEUE",
    "Lifespan",
    "request_of",
    "serve_http",
    "serve_websocket",
)

#: An ASGI 3 application: ``await app(scope, receive, send)``
ASGIApplication = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[MutableMapping[str, Any]]], Callable[[MutableMapping[str, Any]], Awaitable[None]]],
    Awaitable[None],
]

_ASGI = {"version": "3.0", "spec_version": "2.3"}
# the queue's marker of a close to send
_CLOSE = object()
# an Engine.IO v3 binary MESSAGE over WebSocket: its packet type byte first
_EIO3_BINARY_MESSAGE = b"\x04"
# close codes
_CLOSE_NORMAL = 1000
_CLOSE_POLICY = 1008
_CLOSE_TOO_BIG = 1009


def request_of(scope: MutableMapping[str, Any], body: bytes = b"") -> Request:
    """The :class:`~fastsio._server.request.Request` of an ASGI ``http`` or
    ``websocket`` scope (its path as sent, its headers lower-cased and joined as
    fastsio's own server does)."""
    headers = header_dict((bytes(name), bytes(value)) for name, value in scope.get("headers", ()))
    raw = scope.get("raw_path")
    path = raw.decode("latin-1").partition("?")[0] if raw else scope.get("path", "/")
    qs = scope.get("query_string", b"").decode("latin-1")
    client = scope.get("client")
    req = Request(
        scope.get("method", "GET"),
        path + "?" + qs if qs else path,
        path,
        qs,
        headers,
        (str(client[0]), int(client[1])) if client else None,
        scope.get("scheme") in ("https", "wss"),
    )
    req.upgrade = scope.get("type") == "websocket"
    req.body = body
    return req


def _asgi_headers(headers: Any, length: int | None, close: bool) -> list[tuple[bytes, bytes]]:
    out = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    if length is not None:
        out.append((b"content-length", str(length).encode("ascii")))
    if close:
        out.append((b"connection", b"close"))
    return out


class AsgiExchange:
    """One request that came through an ASGI server, as the engine's
    :class:`~fastsio._server.engine.Exchange`: its answer (``answer``, a future: the
    ``(status, headers, body, close)`` of an HTTP answer, or the
    :class:`AsgiWebSocket` of an accepted WebSocket), and the long-polling GET it may
    be for a session (the poll sink: ``respond``/``drop``)."""

    __slots__ = (
        "loop", "log", "limit", "client", "closed", "poll_headers", "poll_owner", "poll_encoding", "answer", "messages",
    )

    #: the ASGI server does the WebSocket handshake and framing: ``accept_messages``
    frames_websocket = False

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        client: tuple[str, int] | None,
        log: logging.Logger,
        limit: int = 0,
        messages: FrameMessages | None = None,
    ) -> None:
        self.loop = loop
        self.log = log
        # max_buffer_size, for the WebSocket accepted
        self.limit = limit
        # the broadcast frames' messages, shared by the app's WebSockets
        self.messages = messages
        self.client = client
        self.closed = False
        self.poll_headers: list[tuple[str, str]] | tuple[()] = ()
        self.poll_owner: Session | None = None
        self.poll_encoding: str | None = None
        self.answer: asyncio.Future[Any] = loop.create_future()

    def send_response(
        self,
        status: int,
        headers: list[tuple[str, str]] | tuple[()],
        body: bytes = b"",
        close: bool = False,
        length: int | None = None,
    ) -> None:
        """Answer the request (the first answer only; none once the client left).
        ``length``: the Content-Length of a HEAD answer."""
        if self.closed or self.answer.done():
            return
        self.answer.set_result((status, headers, body, close, len(body) if length is None else length))

    def respond(self, payload: str | bytes) -> None:
        """The poll sink: answer the pending long-polling GET with an Engine.IO payload."""
        self.poll_owner = None
        headers, body = poll_response(payload, self.poll_headers, self.poll_encoding)
        self.send_response(200, headers, body)

    def drop(self) -> None:
        """The poll sink: forget the pending long-polling GET without answering it."""
        self.poll_owner = None

    def accept_websocket(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not for an ASGI request (``frames_websocket`` is False): see :meth:`accept_messages`."""
        raise NotImplementedError("an ASGI server frames its WebSockets: accept_messages")

    def accept_messages(self, handler: Any, headers: list[tuple[str, str]], max_size: int, eio3: bool) -> AsgiWebSocket:
        """Accept the WebSocket: its :class:`AsgiWebSocket` (the ASGI accept is sent,
        then what is sent to it, once the ASGI coroutine takes the answer)."""
        ws = AsgiWebSocket(
            self.loop, self.log, handler, headers, max_size, eio3, self.client, self.limit, self.messages or FrameMessages()
        )
        if not self.answer.done():
            self.answer.set_result(ws)
        else:  # pragma: no cover - the engine answers once
            ws.closing = True
        return ws

    def gone(self) -> None:
        """The client went away before the answer: a held long-polling GET's session
        is told (``poll_closed``)."""
        self.closed = True
        owner = self.poll_owner
        if owner is not None:
            self.poll_owner = None
            owner.poll_closed(self)


class FrameMessages:
    """The message of an unmasked, unfragmented server frame (the broadcast fan-out's
    pre-built frames): text as ``str``, binary as ``bytes``.  One broadcast hands the
    same frame object to every sink, so the last frame's message is remembered: one
    decode per broadcast, not per recipient.  One per :class:`fastsio.ASGIApp` (state
    of its own, never the module's); it holds one frame at most."""

    __slots__ = ("frame", "message")

    def __init__(self) -> None:
        self.frame: Any = None
        self.message: str | bytes = b""

    def of(self, frame: bytes) -> str | bytes:
        """The message ``frame`` carries."""
        if frame is self.frame:
            return self.message
        n = frame[1] & 0x7F
        start = 2 if n < 126 else (4 if n == 126 else 10)
        payload = bytes(frame[start:])
        message: str | bytes = payload.decode("utf-8") if frame[0] & 0x0F == OP_TEXT else payload
        self.frame, self.message = frame, message
        return message


class AsgiWebSocket:
    """A session's WebSocket over an ASGI server (the session's WebSocket sink):
    whole messages, framed by the ASGI server.  See the module docstring."""

    __slots__ = (
        "loop",
        "log",
        "handler",
        "headers",
        "max_size",
        "eio3",
        "client",
        "limit",
        "queue",
        "queued",
        "closing",
        "closed",
        "busy",
        "wakeup",
        "hold",
        "close_code",
        "messages",
    )

    #: the fan-out's per-connection compressor: none (the ASGI server compresses)
    deflate: Any = None

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        log: logging.Logger,
        handler: Any,
        headers: list[tuple[str, str]],
        max_size: int,
        eio3: bool,
        client: tuple[str, int] | None,
        limit: int = 0,
        messages: FrameMessages | None = None,
    ) -> None:
        self.loop = loop
        self.log = log
        self.handler = handler
        self.headers = headers
        self.max_size = max_size
        self.eio3 = eio3
        self.client = client
        # max_buffer_size: bytes waiting to be sent before the client is dropped (0: no limit)
        self.limit = limit
        # the messages of the broadcast fan-out's frames (shared: one decode per broadcast)
        self.messages = messages if messages is not None else FrameMessages()
        self.queue: collections.deque[Any] = collections.deque()
        self.queued = 0
        self.closing = False
        self.closed = False
        # the writer is inside an ASGI send
        self.busy = False
        self.wakeup: asyncio.Future[None] | None = None
        self.hold = 0.0
        self.close_code = _CLOSE_NORMAL

    # ------------------------------------------------------------ the WebSocket sink
    def send(self, encoded: str | bytes, compress: bool = True) -> None:
        """Queue one encoded Engine.IO packet as one message (``compress`` is the ASGI
        server's business: its permessage-deflate, if negotiated, applies to all)."""
        if self.closing:
            return
        if self.eio3 and not isinstance(encoded, str):
            encoded = _EIO3_BINARY_MESSAGE + encoded
        self.queue.append(encoded)
        if self.limit:
            self.queued += len(encoded)
            if self.queued > self.limit:
                self.log.warning(
                    "connection from %s: %d bytes waiting, over max_buffer_size (%d); disconnecting",
                    self.client,
                    self.queued,
                    self.limit,
                )
                self.queue.clear()
                self._close(_CLOSE_POLICY, "send buffer full")
                return
        self._wake()

    def send_frame(self, frame: bytes) -> None:
        """A pre-built frame of the broadcast fan-out: its message is sent."""
        self.send(self.messages.of(frame))

    def writable(self) -> bool:
        """Nothing is waiting (a message sent now goes to the ASGI server at once)."""
        return not self.closing and not self.queue and not self.busy

    def close(self) -> None:
        """Close with code 1000 after what was queued (the handler is told at once)."""
        self._close(_CLOSE_NORMAL, "transport close")

    @property
    def congested(self) -> bool:
        """Never: over an ASGI server a slow consumer is always disconnected
        (``slow_consumer="drop"`` is fastsio's own server's)."""
        return False

    def hold_writes(self, delay: float) -> None:
        """Send the messages ``delay`` seconds after the accept (EIO3's OPEN packet)."""
        self.hold = delay

    def _close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.close_code = code
        self.queue.append(_CLOSE)
        self._wake()
        handler = self.handler
        if handler is not None:
            self.handler = None
            if reason == "transport close":
                handler.ws_closed(self)
            else:
                handler.ws_closed(self, reason)

    def _wake(self) -> None:
        wakeup = self.wakeup
        if wakeup is not None:
            self.wakeup = None
            if not wakeup.done():
                wakeup.set_result(None)

    # ------------------------------------------------------------ the ASGI side
    async def run(
        self,
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        """Serve the connection: send the accept, then messages both ways until the
        client disconnects or the close is sent."""
        headers = _asgi_headers(self.headers, None, False)
        await send({"type": "websocket.accept", "headers": headers} if headers else {"type": "websocket.accept"})
        writer = self.loop.create_task(self._write(send))
        try:
            while not self.closed:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    data = message.get("text")
                    if data is None:
                        data = message.get("bytes") or b""
                    if len(data) > self.max_size:
                        self.log.info("WebSocket message from %s over max_http_buffer_size: closing", self.client)
                        self._close(_CLOSE_TOO_BIG, "transport close")
                        continue
                    handler = self.handler
                    if handler is not None:
                        try:
                            handler.receive_ws(self, data, self.loop.time())
                        except Exception:
                            self.log.exception("error handling a WebSocket message from %s", self.client)
                elif kind == "websocket.disconnect":
                    break
        finally:
            self.closed = True
            self.closing = True
            self.queue.clear()
            self._wake()
            handler = self.handler
            if handler is not None:
                self.handler = None
                handler.ws_closed(self)
            if not writer.done():
                writer.cancel()

    async def _write(self, send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
        if self.hold:
            await asyncio.sleep(self.hold)
        queue = self.queue
        try:
            while not self.closed:
                while queue:
                    item = queue.popleft()
                    if item is _CLOSE:
                        self.busy = True
                        await send({"type": "websocket.close", "code": self.close_code})
                        return
                    if self.limit:
                        self.queued -= len(item)
                    self.busy = True
                    if isinstance(item, str):
                        await send({"type": "websocket.send", "text": item})
                    else:
                        await send({"type": "websocket.send", "bytes": item})
                    self.busy = False
                self.wakeup = self.loop.create_future()
                await self.wakeup
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the ASGI server's send after the client left (OSError, ClientDisconnected)
            self.log.debug("WebSocket to %s: send failed: %r", self.client, exc)
            self.closing = True
            queue.clear()
        finally:
            self.busy = False


async def _until_disconnect(receive: Callable[[], Awaitable[MutableMapping[str, Any]]]) -> None:
    while True:
        message = await receive()
        if message["type"] in ("http.disconnect", "websocket.disconnect"):
            return


async def _wait_answer(conn: AsgiExchange, receive: Callable[[], Awaitable[MutableMapping[str, Any]]]) -> bool:
    """Wait for the engine's answer; False if the client went away first (told)."""
    answer = conn.answer
    if answer.done():
        return True
    waiter = asyncio.ensure_future(_until_disconnect(receive))
    try:
        await asyncio.wait((answer, waiter), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not answer.done():
            conn.gone()
        waiter.cancel()
    return answer.done()


async def serve_http(
    engine: Engine,
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    """Serve one ASGI ``http`` request on the engine's path (see the module docstring)."""
    log = engine.server_log
    limit = engine.options.max_http_buffer_size
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                req = request_of(scope)
                log.info("request body from %s over the limit", req.client)
                engine.body_too_large(req)
                await _send_plain(send, 413, b"Payload Too Large", close=True)
                return
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    req = request_of(scope, b"".join(chunks))
    conn = AsgiExchange(asyncio.get_running_loop(), req.client, log)
    try:
        engine.handle_request(conn, req)
    except Exception:
        log.exception("error handling %s %s", req.method, req.url)
        conn.send_response(500, [("Content-Type", "text/plain")], b"Internal Server Error", close=True)
    try:
        if not await _wait_answer(conn, receive):
            return
    except asyncio.CancelledError:
        conn.gone()
        raise
    status, headers, body, close, length = conn.answer.result()
    await send({"type": "http.response.start", "status": status, "headers": _asgi_headers(headers, length, close)})
    await send({"type": "http.response.body", "body": body})


async def _send_plain(send: Callable[[MutableMapping[str, Any]], Awaitable[None]], status: int, body: bytes, close: bool = False) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _asgi_headers([("Content-Type", "text/plain")], len(body), close),
        }
    )
    await send({"type": "http.response.body", "body": body})


async def serve_websocket(
    engine: Engine,
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    messages: FrameMessages | None = None,
) -> None:
    """Serve one ASGI ``websocket`` connection on the engine's path: the engine
    accepts it (a session's WebSocket, or the probe of a polling one's upgrade) or
    refuses it (the HTTP answer, where the ASGI server has the
    ``websocket.http.response`` extension; else a close before the accept, which
    the ASGI server answers 403)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    log = engine.server_log
    req = request_of(scope)
    conn = AsgiExchange(asyncio.get_running_loop(), req.client, log, engine.options.max_buffer_size or 0, messages)
    try:
        engine.handle_upgrade(conn, req)
    except Exception:
        log.exception("error handling a WebSocket request for %s", req.url)
        conn.send_response(500, [("Content-Type", "text/plain")], b"Internal Server Error", close=True)
    try:
        if not await _wait_answer(conn, receive):
            return
    except asyncio.CancelledError:
        conn.gone()
        raise
    answer = conn.answer.result()
    if isinstance(answer, AsgiWebSocket):
        await answer.run(receive, send)
        return
    status, headers, body, _close, length = answer
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            {"type": "websocket.http.response.start", "status": status, "headers": _asgi_headers(headers, length, False)}
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": _CLOSE_POLICY})


# ----------------------------------------------------------------------------- the other way
def scope_of(req: Request, server: tuple[str, int] | None = None) -> dict[str, Any]:
    """The ASGI ``http`` scope of a request fastsio's own server parsed."""
    return {
        "type": "http",
        "asgi": _ASGI,
        "http_version": "1.1",
        "method": req.method,
        "scheme": "https" if req.secure else "http",
        "path": unquote(req.path),
        "raw_path": req.path.encode("latin-1"),
        "query_string": req.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in req.headers.items()],
        "client": req.client,
        "server": server,
        "state": {},
    }


# response headers fastsio's own server writes itself
_OWN_HEADERS = frozenset((b"content-length", b"transfer-encoding", b"connection"))


#: messages from the client waiting for the app's ``receive`` before reading pauses
APP_WS_QUEUE = 32
#: bytes the transport may hold before the app's ``websocket.send`` waits for it to drain
APP_WS_DRAIN = 256 * 1024


class AppWebSocket:
    """The handler of one WebSocket of the ASGI app on fastsio's own server (a
    :class:`~fastsio._server.websocket.WebSocketHandler`): it queues what the client
    sends for the app's ``receive`` and says when the client is gone.  See the module
    docstring."""

    __slots__ = ("ws", "queue", "waiter", "closed", "paused", "code")

    def __init__(self) -> None:
        self.ws: Any = None
        # the close code of websocket.disconnect: the client's (1005: it gave none),
        # 1006 when the connection was lost without a close frame
        self.code = 1006
        self.queue: collections.deque[str | bytes] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.paused = False

    def receive_ws(self, sink: Any, message: str | bytes, now: float) -> None:
        """A message from the client: queued (reading pauses at ``APP_WS_QUEUE``)."""
        self.queue.append(message)
        if len(self.queue) >= APP_WS_QUEUE and not self.paused:
            transport = getattr(sink, "transport", None)
            if transport is not None:
                self.paused = True
                transport.pause_reading()
        self._wake()

    def ws_closed(self, sink: Any, reason: str = "") -> None:
        """The client closed, or the connection is gone."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> dict[str, Any]:
        """The app's next ``receive``: a message, or ``websocket.disconnect``."""
        while not self.queue and not self.closed:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
            self.waiter = None
        if self.queue:
            message = self.queue.popleft()
            if self.paused and len(self.queue) < APP_WS_QUEUE // 2:
                self.paused = False
                transport = getattr(self.ws, "transport", None)
                if transport is not None and not self.closed:
                    transport.resume_reading()
            if isinstance(message, str):
                return {"type": "websocket.receive", "text": message}
            return {"type": "websocket.receive", "bytes": bytes(message)}
        return {"type": "websocket.disconnect", "code": self.code}

    async def drained(self) -> None:
        """Return once the transport holds at most ``APP_WS_DRAIN`` bytes (or the
        connection is gone): the app's sends wait for a slow client."""
        ws = self.ws
        while not self.closed and ws is not None:
            transport = ws.transport
            if transport is None or transport.get_write_buffer_size() <= APP_WS_DRAIN:
                return
            await asyncio.sleep(0.01)


class AppWebSocketConnection(WebSocketConnection):
    """The WebSocket connection of an :class:`AppWebSocket`: it tells its handler the
    close code (the client's, or the protocol error's) before closing."""

    __slots__ = ()

    def ws_close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Record ``code`` for the app's ``websocket.disconnect``, then close."""
        handler = self.handler
        if isinstance(handler, AppWebSocket) and not (self.ws_closing or self.closed):
            handler.code = code
        WebSocketConnection.ws_close(self, code, reason)


class AsgiFallback:
    """``Server(app=...)``: the engine's fallback that answers a request outside the
    Socket.IO path with the ASGI ``app`` (see the module docstring).

    Args:
        app: the ASGI 3 application.
        log: where its errors are logged.
        max_size: the largest WebSocket message the app's WebSockets accept
            (``max_http_buffer_size``).
        deflate: the ``per_message_deflate`` option (``None``: off).
    """

    def __init__(
        self, app: ASGIApplication, log: logging.Logger, max_size: int = 1_000_000, deflate: DeflateOptions | None = None
    ) -> None:
        self.app = app
        self.log = log
        self.max_size = max_size
        self.deflate = deflate
        # the apps' tasks running (kept referenced until done)
        self.tasks: set[asyncio.Task[None]] = set()

    def __call__(self, conn: Exchange, req: Request) -> None:
        self._spawn(self._run(conn, req))

    def websocket(self, conn: Exchange, req: Request) -> None:
        """A WebSocket upgrade outside the Socket.IO path: the app's (see the module
        docstring).  A handshake that is not a valid WebSocket one gets 400."""
        problem = check_handshake(req.method, req.headers)
        if problem is not None:
            self.log.info("bad WebSocket handshake from %s: %s", conn.client, problem)
            conn.send_response(400, [("Content-Type", "text/plain")], b"Bad Request", close=True)
            return
        self._spawn(self._run_websocket(conn, req))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run_websocket(self, conn: Exchange, req: Request) -> None:
        scope = scope_of(req)
        del scope["method"]
        scope["type"] = "websocket"
        scope["scheme"] = "wss" if req.secure else "ws"
        scope["subprotocols"] = [
            p.strip() for p in req.headers.get("sec-websocket-protocol", "").split(",") if p.strip()
        ]
        scope["extensions"] = {"websocket.http.response": {}}
        bridge = AppWebSocket()
        connected = False
        responded = False  # an HTTP answer instead of the accept
        status = 0
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal connected
            if not connected:
                connected = True
                return {"type": "websocket.connect"}
            return await bridge.next()

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal responded, status
            kind = message["type"]
            ws = bridge.ws
            if kind == "websocket.send":
                if ws is None:
                    raise RuntimeError("websocket.send before websocket.accept")
                if bridge.closed:
                    return  # the client is gone: as ASGI servers do, nothing is sent
                text = message.get("text")
                ws.send(text if text is not None else bytes(message.get("bytes") or b""))
                await bridge.drained()
            elif kind == "websocket.accept":
                if ws is not None or responded:
                    raise RuntimeError("websocket.accept twice, or after a response")
                if conn.closed:
                    bridge.ws_closed(None)
                    return
                extra: list[tuple[str, str]] = []
                subprotocol = message.get("subprotocol")
                if subprotocol:
                    extra.append(("Sec-WebSocket-Protocol", str(subprotocol)))
                for name, value in message.get("headers", ()):
                    extra.append((bytes(name).decode("latin-1"), bytes(value).decode("latin-1")))
                deflater = None
                if self.deflate is not None:
                    params = negotiate(req.headers.get("sec-websocket-extensions"), self.deflate)
                    if params is not None:
                        extra.append(("Sec-WebSocket-Extensions", params.response))
                        deflater = Deflater(params, self.deflate)
                bridge.ws = conn.accept_websocket(
                    handshake_response(req.headers["sec-websocket-key"], extra),
                    bridge,
                    self.max_size,
                    deflater,
                    cls=AppWebSocketConnection,
                )
            elif kind == "websocket.close":
                if ws is not None:
                    ws.ws_close(int(message.get("code") or CLOSE_NORMAL), str(message.get("reason") or ""))
                elif not responded:
                    responded = True
                    conn.send_response(403, [("Content-Type", "text/plain")], b"Forbidden", close=True)
            elif kind == "websocket.http.response.start":
                if ws is not None or responded or status:
                    raise RuntimeError("websocket.http.response.start after the accept or a response")
                status = int(message["status"])
                for name, value in message.get("headers", ()):
                    if bytes(name).lower() not in _OWN_HEADERS:
                        headers.append((bytes(name).decode("latin-1"), bytes(value).decode("latin-1")))
            elif kind == "websocket.http.response.body":
                if not status or responded:
                    raise RuntimeError("websocket.http.response.body without its start")
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    responded = True
                    conn.send_response(status, headers, b"".join(chunks), close=True)

        try:
            await self.app(scope, receive, send)
        except Exception:
            self.log.exception("the ASGI app raised on its WebSocket %s", req.url)
            if bridge.ws is not None:
                bridge.ws.ws_close(1011)
            elif not responded:
                responded = True
                conn.send_response(500, [("Content-Type", "text/plain")], b"Internal Server Error", close=True)
            return
        if bridge.ws is not None:
            bridge.ws.close()  # the app returned: close frame 1000 (nothing if closed already)
        elif not responded:
            # returned without accepting: refused, as ASGI servers answer it
            conn.send_response(403, [("Content-Type", "text/plain")], b"Forbidden", close=True)

    async def _run(self, conn: Exchange, req: Request) -> None:
        scope = scope_of(req)
        sent_body = False
        done = asyncio.get_running_loop().create_future()
        status = 0
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        length: int | None = None
        close = False
        complete = False
        stream = cast("StreamingExchange", conn)
        streaming: bool | None = None  # None: not streaming; else whether chunked

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": req.body, "more_body": False}
            # then nothing until the response is complete or the client is gone (a
            # streamed response's app listens for that)
            while not done.done() and not conn.closed:
                await asyncio.wait((done,), timeout=_DISCONNECT_POLL)
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, length, close, complete, streaming
            kind = message["type"]
            if kind == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", ()):
                    name = bytes(name).lower()
                    if name in _OWN_HEADERS:
                        if name == b"content-length" and req.method == "HEAD":
                            length = int(value)
                        elif name == b"connection" and bytes(value).lower() == b"close":
                            close = True
                        continue
                    headers.append((name.decode("latin-1"), bytes(value).decode("latin-1")))
            elif kind == "http.response.body":
                if not status:
                    raise RuntimeError("http.response.body before http.response.start")
                if complete:
                    return
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                if streaming is None and more and req.method != "HEAD":
                    # a body in several pieces: sent as they come (chunked), not gathered
                    streaming = stream.start_stream(status, headers, close)
                    chunk = b"".join(chunks) + bytes(chunk)
                    chunks.clear()
                if streaming is not None:
                    if conn.closed:
                        raise ClientGone("the client is gone")
                    stream.write_chunk(bytes(chunk), streaming)
                    if not more:
                        complete = True
                        stream.end_stream(streaming)
                    else:
                        await _drained(stream)
                    return
                if chunk:
                    chunks.append(bytes(chunk))
                if not more:
                    complete = True
                    body = b"".join(chunks)
                    if req.method == "HEAD":
                        # no body in a HEAD answer: its length is the app's, or what it sent
                        body, length = b"", len(body) if length is None else length
                    conn.send_response(status, headers, body, close=close, length=length)

        try:
            await self.app(scope, receive, send)
        except ClientGone:
            self.log.debug("the client of %s %s went away during its streamed response", req.method, req.url)
            return
        except Exception:
            self.log.exception("the ASGI app raised on %s %s", req.method, req.url)
            if not complete:
                complete = True
                if streaming is not None:
                    stream.close()  # a streamed response cut short: the client sees it end early
                else:
                    conn.send_response(500, [("Content-Type", "text/plain")], b"Internal Server Error", close=True)
        finally:
            if not done.done():
                done.set_result(None)
        if not complete:
            self.log.error("the ASGI app returned without a complete response to %s %s", req.method, req.url)
            if streaming is not None:
                stream.close()
            else:
                conn.send_response(500, [("Content-Type", "text/plain")], b"Internal Server Error", close=True)


#: seconds between looks at whether the client of a pending ``receive`` is gone
_DISCONNECT_POLL = 0.25
#: bytes a streamed response may have waiting in the transport before ``send`` waits
_STREAM_DRAIN = 256 * 1024


class ClientGone(OSError):
    """The client of a streamed response went away (raised by ``send``, as ASGI
    servers do, so an endless response stops)."""


class StreamingExchange(Protocol):
    """What a streamed response needs of fastsio's own HTTP connection (beyond the
    :class:`~fastsio._server.engine.Exchange`)."""

    closed: bool
    transport: Any

    def start_stream(self, status: int, headers: list[tuple[str, str]] | tuple[()], close: bool = False) -> bool:
        """Send the head of a response whose body comes in pieces; whether chunked."""

    def write_chunk(self, data: bytes, chunked: bool) -> None:
        """Send a piece of the body."""

    def end_stream(self, chunked: bool) -> None:
        """The body is complete."""

    def close(self) -> None:
        """Close the connection (a streamed response cut short)."""


async def _drained(conn: StreamingExchange) -> None:
    """Wait while a slow client has more than ``_STREAM_DRAIN`` bytes waiting."""
    while not conn.closed:
        transport = conn.transport
        if transport is None or transport.get_write_buffer_size() <= _STREAM_DRAIN:
            return
        await asyncio.sleep(0.01)


class Lifespan:
    """Drives an ASGI app's ``lifespan`` scope: :meth:`startup` and :meth:`shutdown`.

    An app that raises or returns at once (no lifespan support) is not told more;
    ``lifespan.startup.failed`` raises :class:`RuntimeError` from :meth:`startup`."""

    def __init__(self, app: ASGIApplication, log: logging.Logger) -> None:
        self.app = app
        self.log = log
        self.task: asyncio.Task[None] | None = None
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        #: the scope's ``state`` (what the app keeps for its requests)
        self.state: dict[str, Any] = {}

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": _ASGI, "state": self.state}
        try:
            await self.app(scope, self.inbox.get, self.outbox.put)
        except Exception as exc:
            self.log.debug("the ASGI app's lifespan ended: %r", exc)

    async def _exchange(self, kind: str) -> MutableMapping[str, Any] | None:
        task = self.task
        assert task is not None
        await self.inbox.put({"type": kind})
        reply = asyncio.ensure_future(self.outbox.get())
        await asyncio.wait((reply, task), return_when=asyncio.FIRST_COMPLETED)
        if reply.done():
            return reply.result()
        reply.cancel()
        return None

    async def startup(self) -> None:
        """Run the app's startup (``lifespan.startup``)."""
        self.task = asyncio.get_running_loop().create_task(self._main())
        reply = await self._exchange("lifespan.startup")
        if reply is None:
            self.log.debug("the ASGI app has no lifespan support")
            self.task = None
            return
        if reply["type"] == "lifespan.startup.failed":
            self.task = None
            raise RuntimeError(f"the ASGI app's startup failed: {reply.get('message', '')}")

    async def shutdown(self) -> None:
        """Run the app's shutdown (``lifespan.shutdown``), if its startup ran."""
        if self.task is None:
            return
        reply = await self._exchange("lifespan.shutdown")
        self.task = None
        if reply is not None and reply["type"] == "lifespan.shutdown.failed":
            self.log.error("the ASGI app's shutdown failed: %s", reply.get("message", ""))
