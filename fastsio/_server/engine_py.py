"""Engine.IO over HTTP: routing, handshake, long-polling, WebSocket upgrade, CORS.

:class:`Engine` is the application object the per-connection protocol talks to
(``handle_request`` / ``handle_upgrade``).  It owns the sessions, the shared timer
wheel and the write flusher, and creates the layer above for each new session with
``factory(session)`` (a Socket.IO client or a public EngineSocket), which must have
``on_open()``, ``on_message(data)`` and ``on_close(reason)``.

Errors are answered as the reference server (engine.io) does: HTTP 400 with
``{"code": n, "message": "..."}``, 403 when ``allow_request`` refuses.

With ``allow_eio3`` Engine.IO v3 clients (``EIO=3``: socket.io-client 1.x/2.x) are
served too: their sessions frame polling payloads with an ``engineio.Eio3Codec``
chosen from the handshake (``b64``, the JSONP index ``j``, the ``t`` parameter), POSTs
are binary payloads (``application/octet-stream``), JSONP forms or text.

Protection (opt-in, off by default): ``max_connections_per_ip`` caps the sessions of
one client address (the TCP peer); a handshake over it, polling or WebSocket, is
refused like an ``allow_request`` refusal (403, ``{"code":4,"message":"Forbidden"}``).
``max_concurrent_handshakes`` caps the sessions whose layer above has not finished
its handshake (Socket.IO: no namespace CONNECT completed yet; the layer calls
``handshake_done``); a handshake over it gets 503 with ``Retry-After: 1`` and
``{"code":503,"message":"Too many handshakes in progress"}``.  Refusals are logged
(warning, at most once a second per cap, with the count of those not logged).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
from typing import Any, Callable, Protocol

from fastsio._ids import random_id
from fastsio.options import DeflateOptions, EngineOptions
from fastsio.protection import LogThrottle
from fastsio.protocol import engineio as eio
from fastsio.protocol.engineio.packets import EngineIOError
from fastsio.protocol.engineio.session import CLOSING, OPEN, POLLING, WEBSOCKET, Session, SessionHandler, Timed
from fastsio.protocol.websocket.frames import CLOSE_NORMAL
from fastsio.protocol.websocket.handshake import check_handshake, handshake_response
from fastsio.protocol.websocket.deflate import Deflater, negotiate
from fastsio._server.http import AdoptedConnection, Connection, Request
from fastsio._server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics, render as render_metrics
from fastsio._server.flow_control import FlowControl
from fastsio._server.outbox import Flusher
from fastsio._server.polling import accepted_encoding, poll_headers, post_payload, v3_codec
from fastsio._server.timers import TimerWheel
from fastsio._server.websocket import Eio3WebSocketConnection, SpareFrameParser, WebSocketConnection

__all__ = (
    "BUSY_BODY",
    "SHUTTING_DOWN_BODY",
    "Engine",
    "EngineObserver",
    "EngineWebSocket",
    "Exchange",
    "generate_sid",
    "SessionRouter",
    "host_matches",
)

_CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"

# the metrics' label of a refusal, from its Engine.IO error code
_REFUSAL_REASONS = {
    eio.UNKNOWN_TRANSPORT: "unknown_transport",
    eio.UNKNOWN_SID: "unknown_sid",
    eio.BAD_HANDSHAKE_METHOD: "bad_handshake_method",
    eio.BAD_REQUEST: "bad_request",
    eio.FORBIDDEN: "forbidden",
    eio.UNSUPPORTED_PROTOCOL_VERSION: "unsupported_protocol_version",
}


# the body of a 503 answer to a handshake over max_concurrent_handshakes
BUSY_BODY = b'{"code":503,"message":"Too many handshakes in progress"}'
#: The body of the 503 a handshake gets while the server is stopping
SHUTTING_DOWN_BODY = b'{"code":503,"message":"Server shutting down"}'


def _address(req: Any) -> str:
    """The client address of a request (the TCP peer: behind a proxy, decide in
    ``allow_request`` from its headers)."""
    client = req.client if req is not None else None
    return client[0] if client else ""


def generate_sid() -> str:
    """20 URL-safe characters, like the reference server's ids."""
    return random_id()


class EngineObserver(Protocol):
    """Told of each Engine.IO session's life (:attr:`Engine.observers`; the Admin UI's
    instrumentation is one): once per session, never per packet.  The calls run inline
    and must not raise (an exception is logged)."""

    def session_opened(self, session: Session) -> None:
        """``session`` was opened (its layer above exists and was told)."""
        ...

    def session_upgraded(self, session: Session) -> None:
        """``session`` moved onto its WebSocket."""
        ...

    def session_closed(self, session: Session) -> None:
        """``session`` is over (``session.close_reason`` says why) and forgotten."""
        ...


class EngineWebSocket(Protocol):
    """A session's WebSocket as the engine holds it: fastsio's own
    :class:`~fastsio._server.websocket.WebSocketConnection`, or a WebSocket of an
    ASGI server (:mod:`fastsio._server.asgi`)."""

    def send(self, encoded: str | bytes, compress: bool = True) -> None:
        """Send one encoded Engine.IO packet as one message."""

    def close(self) -> None:
        """Close the WebSocket (after what was sent)."""

    def writable(self) -> bool:
        """Whether a packet sent now leaves at once."""

    def hold_writes(self, delay: float) -> None:
        """Send what is written from now on ``delay`` seconds later (EIO3's OPEN)."""

    @property
    def congested(self) -> bool:
        """Its packets are being dropped (``slow_consumer="drop"``)."""


class Exchange(Protocol):
    """What the engine needs of the connection a request came on (its answer, and
    the long-polling GET it may hold as the session's poll sink).

    fastsio's own :class:`~fastsio._server.http.Connection` satisfies it
    (``frames_websocket`` True: it writes the 101 response and the WebSocket frames
    itself), and so does an ASGI request (:mod:`fastsio._server.asgi`;
    ``frames_websocket`` False: the ASGI server does the WebSocket handshake,
    framing and extensions, and the engine only decides accept or refuse)."""

    closed: bool
    client: tuple[str, int] | None
    poll_headers: list[tuple[str, str]] | tuple[()]
    poll_owner: Session | None
    poll_encoding: str | None

    @property
    def log(self) -> logging.Logger:
        """The logger of the connection's log lines."""

    @property
    def frames_websocket(self) -> bool:
        """True: :meth:`accept_websocket` (fastsio frames); False: :meth:`accept_messages`."""

    def send_response(
        self,
        status: int,
        headers: list[tuple[str, str]] | tuple[()],
        body: bytes = b"",
        close: bool = False,
        length: int | None = None,
    ) -> None:
        """Answer the request (``close``: and close the connection)."""

    def respond(self, payload: str | bytes) -> None:
        """The poll sink: answer the pending long-polling GET with a payload."""

    def drop(self) -> None:
        """The poll sink: forget the pending GET without answering it."""

    def accept_websocket(
        self,
        response: bytes,
        handler: Any,
        max_size: int,
        deflate: Deflater | None = None,
        *,
        cls: type[WebSocketConnection] = WebSocketConnection,
    ) -> WebSocketConnection:
        """Accept an upgrade with the 101 ``response``: a WebSocket fastsio frames."""

    def accept_messages(
        self, handler: Any, headers: list[tuple[str, str]], max_size: int, eio3: bool
    ) -> EngineWebSocket:
        """Accept an upgrade whose WebSocket the server frames: messages to and from
        ``handler`` (``headers``: extra response headers; ``eio3``: binary messages
        carry the Engine.IO v3 type byte)."""


class SessionRouter(Protocol):
    """Where a session this engine does not have may live (``run(workers=N)``: another
    worker process; :class:`fastsio._server.mesh.WorkerRouter`)."""

    @property
    def sid_prefix(self) -> str:
        """What this engine's session ids begin with (marks the owner)."""
        ...

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The engine starts on ``loop``."""
        ...

    def close(self) -> None:
        """The server stopped."""
        ...

    def route(self, conn: Exchange, req: Request, sid: str) -> bool:
        """``req`` names the session ``sid``, unknown here: True when it was handed to
        whoever owns it (the engine does nothing more), False to answer it here."""
        ...


class Engine:
    """The Engine.IO server bound to one path.

    Args:
        options: every Engine.IO and HTTP option (validated; nothing here has a
            default of its own).
        factory: ``factory(session) -> handler``, the layer above of each new
            session (a :class:`~fastsio.protocol.engineio.session.SessionHandler`).
        fallback: ``fallback(conn, request)`` answers the HTTP requests outside
            :attr:`path` (static files); ``None``: 404.
        websocket_fallback: ``websocket_fallback(conn, request)`` answers the
            WebSocket upgrades outside :attr:`path` on fastsio's own server (the
            ``app`` option's WebSocket routes); ``None``: 404.
        logger: the server's logger (default ``logging.getLogger("fastsio")``); the
            engine logs to its ``engine`` child, connections to its ``server`` child.
    """

    # Every attribute is a slot.  The connect path reads the engine's attributes
    # dozens of times per connection.  As a plain instance, the engine's 30th
    # attribute (``spare_frame_parsers``) cost about 1 % of the instructions of a
    # polling connect (benchmarks/connect_cost.py); CPython 3.11's shared-key
    # instance dicts hold at most 30 keys, which is the likely reason.  Slot reads
    # do not depend on how many attributes there are.
    __slots__ = (
        "options",
        "base_log",
        "log",
        "server_log",
        "path",
        "path_noslash",
        "transports",
        "versions",
        "factory",
        "fallback",
        "websocket_fallback",
        "sessions",
        "transport_changes",
        "observers",
        "hooks",
        "connections",
        "spare_frame_parsers",
        "max_connections_per_ip",
        "max_concurrent_handshakes",
        "draining",
        "per_ip",
        "counted",
        "handshaking",
        "_refusals",
        "loop",
        "wheel",
        "flusher",
        "metrics",
        "metrics_path",
        "router",
        "__weakref__",
    )

    def __init__(
        self,
        options: EngineOptions,
        *,
        factory: Callable[[Session], SessionHandler] | None = None,
        fallback: Callable[[Exchange, Request], Any] | None = None,
        websocket_fallback: Callable[[Exchange, Request], Any] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.options = options
        base = logger if logger is not None else logging.getLogger("fastsio")
        #: the server's logger (the ``logger`` option, default ``fastsio``): each layer
        #: logs to a child of it
        self.base_log = base
        #: the engine's logger (``<logger>.engine``), also the sessions' (see ``SessionOwner``)
        self.log = base.getChild("engine")
        #: the connections' logger (``<logger>.server``), see :class:`~fastsio._server.http.Application`
        self.server_log = base.getChild("server")
        # read on every request: kept as plain attributes
        self.path = options.path
        self.path_noslash = options.path_noslash
        self.transports = options.transports
        self.versions = options.versions
        self.factory = factory
        self.fallback = fallback
        self.websocket_fallback = websocket_fallback
        self.sessions: dict[str, Session] = {}
        # upgrades completed on this engine (see ``upgraded``): who keeps a session's
        # transport (the memory adapter's broadcast target lists) compares it
        self.transport_changes = 0
        #: told of each session opened, upgraded and closed (:class:`EngineObserver`;
        #: empty by default: nothing is called)
        self.observers: list[EngineObserver] = []
        # hooks on the raw HTTP request (``use``)
        self.hooks: list[Callable[[Any], Any]] = []
        # the live protocol objects (HTTP connections, WebSocket connections)
        self.connections: set[FlowControl] = set()
        # the idle frame parser its WebSocket connections share, by message size limit
        self.spare_frame_parsers: dict[int, SpareFrameParser] = {}
        # protection (opt-in): sessions per client address, and handshakes in progress
        # (sessions whose layer above has not called handshake_done yet)
        self.max_connections_per_ip = options.max_connections_per_ip or 0
        self.max_concurrent_handshakes = options.max_concurrent_handshakes or 0
        #: the server is stopping: new sessions are refused (503), existing ones are
        #: given what they are owed (see :meth:`owed`)
        self.draining = False
        self.per_ip: dict[str, int] = {}
        # the sessions counted in per_ip, and their address (see release)
        self.counted: dict[Session, str] = {}
        self.handshaking: set[Session] = set()
        self._refusals = LogThrottle(self.log)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wheel: TimerWheel | None = None
        self.flusher: Flusher | None = None
        #: the ``metrics`` option's counters (None: metrics off, nothing is counted),
        #: and the path they are served on
        self.metrics: Metrics | None = Metrics() if options.metrics is not None else None
        self.metrics_path = options.metrics
        #: where unknown sessions may live (``run(workers=N)``); None: nowhere else
        self.router: SessionRouter | None = None

    # ------------------------------------------------------------ option views
    @property
    def ping_interval(self) -> float:
        """``options.ping_interval`` (seconds)."""
        return self.options.ping_interval

    @property
    def ping_timeout(self) -> float:
        """``options.ping_timeout`` (seconds)."""
        return self.options.ping_timeout

    @property
    def per_message_deflate(self) -> DeflateOptions | None:
        """``options.per_message_deflate``: the WebSocket compression options, or None (off)."""
        return self.options.per_message_deflate

    # ----------------------------------------------------------------- lifecycle
    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Use ``loop``: make the timer wheel and the write flusher (at start-up)."""
        self.loop = loop
        self.wheel = TimerWheel(loop, logger=self.server_log)
        self.flusher = Flusher(loop, self.metrics is not None)
        if self.router is not None:
            self.router.bind(loop)

    def protocol_factory(self) -> Connection:
        """A new connection's protocol (``loop.create_server``'s factory)."""
        assert self.loop is not None
        return Connection(self, self.loop, self.flusher)

    def adopt(self, fd: int, data: bytes) -> None:
        """Serve the TCP connection ``fd`` (a socket another worker process handed over;
        this engine owns ``fd`` now), parsing ``data`` (what was read from it) first."""
        assert self.loop is not None
        try:
            sock = socket.socket(fileno=fd)
        except OSError as exc:
            os.close(fd)
            self.server_log.info("a handed-over connection is gone: %s", exc)
            return
        sock.setblocking(False)
        loop, flusher = self.loop, self.flusher

        def factory() -> AdoptedConnection:
            return AdoptedConnection(self, loop, flusher, data)

        task = loop.create_task(loop.connect_accepted_socket(factory, sock))
        task.add_done_callback(self._adopted)

    def _adopted(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.server_log.info("a handed-over connection could not be served: %s", task.exception())

    def owed(self) -> int:
        """How many closed polling sessions are still owed something by their client's
        next GET -- what was queued for them, or at least the CLOSE packet (their
        client has no other way to learn they closed) -- or, when they were upgrading,
        by its UPGRADE packet (what ``stop()`` waits for, up to ``shutdown_timeout``)."""
        return sum(1 for session in self.sessions.values() if session.state == CLOSING)

    def open_websockets(self) -> int:
        """How many WebSocket connections are still open (``stop()`` waits for their
        close handshakes, up to ``shutdown_timeout``)."""
        return sum(1 for conn in self.connections if conn.ws_mode and not conn.closed)

    def forget_lingering(self) -> None:
        """Forget the closed polling sessions still waiting for their client's last GET
        (``stop()``, once it has waited for them)."""
        for session in list(self.sessions.values()):
            session.abandon()

    def close_all(self, reason: str) -> None:
        """Close every session with ``reason``."""
        for session in list(self.sessions.values()):
            session.close(reason)

    # ------------------------------------------------------- the SessionOwner protocol
    def schedule(self, obj: Timed, when: float) -> None:
        """Call ``obj.on_timer(now)`` at ``when`` (on the timer wheel)."""
        assert self.wheel is not None
        self.wheel.schedule(obj, when)

    def cancel(self, obj: Timed) -> None:
        """Withdraw the object's deadline."""
        assert self.wheel is not None
        self.wheel.cancel(obj)

    def body_too_large(self, req: Request) -> None:
        """The HTTP layer answered 413 to ``req``: a POST over ``maxHttpBufferSize`` ends
        its polling session."""
        path = req.path
        if path != self.path and path != self.path_noslash:
            return
        sid = req.query.get("sid")
        session = self.sessions.get(sid) if sid is not None else None
        if session is not None and session.transport == POLLING:
            self.log.info("session %s: POST body over max_http_buffer_size; closing", sid)
            session.close("transport error")

    def discard(self, session: Session) -> None:
        """Forget a closed session (its sid is unknown from then on)."""
        if self.sessions.get(session.sid) is session:
            del self.sessions[session.sid]
            metrics = self.metrics
            if metrics is not None:
                metrics.count(metrics.disconnects, session.close_reason or "closed")
            self.release(session)
            if self.observers:
                self._notify("session_closed", session)

    def release(self, session: Session) -> None:
        """A closed session no longer counts against ``max_connections_per_ip`` and
        ``max_concurrent_handshakes`` (once; it may still be known by its sid, while
        it lingers for its client's next GET)."""
        ip = self.counted.pop(session, None)
        if ip is not None:
            left = self.per_ip.get(ip, 1) - 1
            if left > 0:
                self.per_ip[ip] = left
            else:
                self.per_ip.pop(ip, None)
        self.handshaking.discard(session)

    def upgraded(self, session: Session) -> None:
        """A session moved onto its WebSocket: broadcast target lists may be stale."""
        self.transport_changes += 1
        if self.observers:
            self._notify("session_upgraded", session)

    def _notify(self, call: str, session: Session) -> None:
        for observer in list(self.observers):
            try:
                getattr(observer, call)(session)
            except Exception:
                self.log.exception("engine observer %r raised in %s", observer, call)

    def handshake_done(self, session: Session) -> None:
        """The layer above completed its handshake (Socket.IO: a namespace CONNECT)."""
        self.handshaking.discard(session)

    def _clock(self) -> float:
        """The loop's clock (monotonic seconds)."""
        assert self.loop is not None
        return self.loop.time()

    def _admit(self, conn: Exchange, req: Request, cors: list[tuple[str, str]], upgrade: bool) -> bool:
        """The caps on new sessions (``max_connections_per_ip``, ``max_concurrent_handshakes``):
        answer a refusal and return False when over one.  While :attr:`draining`,
        every new session is refused with 503."""
        if self.draining:
            self.log.info("handshake from %s refused (503): the server is shutting down", _address(req))
            self._count_refusal("shutting_down")
            headers = [("Content-Type", "application/json"), ("Retry-After", "1")]
            headers.extend(cors)
            conn.send_response(503, headers, SHUTTING_DOWN_BODY, close=upgrade)
            return False
        if self.max_connections_per_ip:
            ip = _address(req)
            if self.per_ip.get(ip, 0) >= self.max_connections_per_ip:
                self._refusals.warn(
                    "per-ip",
                    "handshake from %s refused (403): it has %d sessions, max_connections_per_ip",
                    ip,
                    self.max_connections_per_ip,
                    now=self._clock(),
                )
                self._error(
                    conn, cors, eio.FORBIDDEN, status=403, upgrade=upgrade, reason="max_connections_per_ip", logged=True
                )
                return False
        if self.max_concurrent_handshakes and len(self.handshaking) >= self.max_concurrent_handshakes:
            self._refusals.warn(
                "handshakes",
                "handshake from %s refused (503): %d handshakes in progress, max_concurrent_handshakes",
                _address(req),
                self.max_concurrent_handshakes,
                now=self._clock(),
            )
            self._count_refusal("max_concurrent_handshakes")
            headers = [("Content-Type", "application/json"), ("Retry-After", "1")]
            headers.extend(cors)
            conn.send_response(503, headers, BUSY_BODY, close=upgrade)
            return False
        return True

    # ------------------------------------------------------------- request hooks
    def use(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Add a hook on the raw HTTP request: ``fn(request)`` runs for every Engine.IO
        request (handshakes, polling, WebSocket upgrades) before it is handled.  It may
        inspect or change the request (headers, query); returning False, or raising,
        refuses it with 403 (the exception's text as the message).  May be async."""
        self.hooks.append(fn)
        return fn

    def _run_hooks(self, conn: Exchange, req: Request, cors: list[tuple[str, str]], upgrade: bool, start: int) -> bool:
        """True: carry on now.  False: the request was refused, or is waiting for an
        async hook (it is handled again once that hook accepts it)."""
        for i in range(start, len(self.hooks)):
            try:
                result = self.hooks[i](req)
            except Exception as exc:
                self._refuse_hook(conn, cors, upgrade, exc)
                return False
            if inspect.isawaitable(result):
                assert self.loop is not None
                self.loop.create_task(self._await_hook(conn, req, cors, upgrade, i, result))
                return False
            if result is False:
                self._refuse_hook(conn, cors, upgrade, None)
                return False
        req.passed = True
        return True

    async def _await_hook(
        self, conn: Exchange, req: Request, cors: list[tuple[str, str]], upgrade: bool, i: int, pending: Any
    ) -> None:
        try:
            result = await pending
        except Exception as exc:
            if not conn.closed:
                self._refuse_hook(conn, cors, upgrade, exc)
            return
        if conn.closed:
            return
        if result is False:
            self._refuse_hook(conn, cors, upgrade, None)
        elif self._run_hooks(conn, req, cors, upgrade, i + 1):
            (self.handle_upgrade if upgrade else self.handle_request)(conn, req)

    def _refuse_hook(self, conn: Exchange, cors: list[tuple[str, str]], upgrade: bool, exc: BaseException | None) -> None:
        message = str(exc) if exc is not None and str(exc) else None
        detail = f"refused by a hook: {exc if exc is not None else 'returned False'}"
        self._error(conn, cors, eio.FORBIDDEN, message, status=403, upgrade=upgrade, reason="hook", detail=detail[:200])

    # ------------------------------------------------------------------- HTTP
    def handle_request(self, conn: Exchange, req: Request) -> None:
        """Answer an HTTP request (the :class:`~fastsio._server.http.Application`
        protocol): CORS preflight, handshake, long-polling GET or POST; other paths go
        to the fallback (or 404)."""
        if self.options.allowed_hosts is not None and not self._host_allowed(conn, req):
            return
        path = req.path
        if path != self.path and path != self.path_noslash:
            if path == self.metrics_path:
                self.serve_metrics(conn, req)
            elif self.fallback is not None:
                self.fallback(conn, req)
            else:
                conn.send_response(404, [("Content-Type", "text/plain")], b"Not Found")
            return
        cors, allowed = self._cors(req)
        if not allowed:
            self._error(
                conn, cors, eio.FORBIDDEN, "Not an accepted origin", status=403, reason="origin",
                detail="origin %.100r" % req.headers.get("origin"),
            )
            return
        if req.method == "OPTIONS" and "access-control-request-method" in req.headers:
            headers = list(cors)
            headers.append(("Access-Control-Allow-Methods", _CORS_METHODS))
            reqh = req.headers.get("access-control-request-headers")
            if reqh:
                headers.append(("Access-Control-Allow-Headers", reqh))
            headers.append(("Access-Control-Max-Age", "86400"))
            conn.send_response(204, headers)
            return
        if self.hooks and not req.passed and not self._run_hooks(conn, req, cors, False, 0):
            return
        q = req.query
        transport = q.get("transport")
        if transport not in self.transports:
            self._error(conn, cors, eio.UNKNOWN_TRANSPORT)
            return
        sid = q.get("sid")
        if sid is not None:
            session = self.sessions.get(sid)
            if session is None and self.router is not None and self.router.route(conn, req, sid):
                return  # another worker's session: handed to it
            if session is None or not session.check_heartbeat(self._clock()):
                self._error(conn, cors, eio.UNKNOWN_SID)
                return
            if transport != POLLING or session.transport != POLLING:
                self._error(conn, cors, eio.BAD_REQUEST)
                return
            if req.method == "GET":
                if self.options.http_compression:
                    conn.poll_encoding = accepted_encoding(req.headers.get("accept-encoding"))
                self._poll(conn, session, cors)
            elif req.method == "POST":
                self._post(conn, session, req, cors)
            else:
                self._error(conn, cors, eio.BAD_REQUEST)
            return
        # a new session
        if req.method != "GET":
            self._error(conn, cors, eio.BAD_HANDSHAKE_METHOD)
            return
        if transport != POLLING:
            self._error(conn, cors, eio.BAD_REQUEST)
            return
        if q.get("EIO") not in self.versions:
            self._error(conn, cors, eio.UNSUPPORTED_PROTOCOL_VERSION)
            return
        self._allow_then(conn, req, cors, self._open_polling)

    def _allow_then(self, conn: Exchange, req: Request, cors: list[tuple[str, str]], then: Callable[[Exchange, Request, list[tuple[str, str]]], None]) -> None:
        check = self.options.allow_request
        if check is None:
            then(conn, req, cors)
            return
        try:
            result = check(req)
        except Exception:
            self.log.exception("allow_request raised")
            result = False
        if inspect.isawaitable(result):
            assert self.loop is not None

            async def wait() -> None:
                try:
                    ok = await result
                except Exception:
                    self.log.exception("allow_request raised")
                    ok = False
                if conn.closed:
                    return
                if ok:
                    then(conn, req, cors)
                else:
                    self._error(conn, cors, eio.FORBIDDEN, status=403, upgrade=req.upgrade, reason="allow_request")

            self.loop.create_task(wait())
            return
        if result:
            then(conn, req, cors)
        else:
            self._error(conn, cors, eio.FORBIDDEN, status=403, upgrade=req.upgrade, reason="allow_request")

    def _new_session(self, transport: str, req: Request, now: float) -> Session:
        # with workers, the first character names this worker (the other 19 stay random)
        prefix = self.router.sid_prefix if self.router is not None else ""
        sid = prefix + generate_sid()[len(prefix) :]
        while sid in self.sessions:  # pragma: no cover - 120 random bits
            sid = prefix + generate_sid()[len(prefix) :]
        version = 3 if req.query.get("EIO") == "3" else 4
        session = Session(
            sid,
            transport,
            self,
            now,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            upgrade_timeout=self.options.upgrade_timeout,
            eio=version,
        )
        if version == 3:
            session.v3 = v3_codec(req.query)
        session.request = req
        if self.options.allow_request is None and not self.hooks:
            req.compact()  # no application code has seen the request yet
        session.max_queue = self.options.max_buffer_size
        session.drop_when_full = self.options.slow_consumer == "drop"
        metrics = self.metrics
        if metrics is not None:
            session.metrics = metrics
            metrics.count(metrics.handshakes, (transport, version))
            metrics.packets_out += 1  # its OPEN packet (written by the engine itself)
        self.sessions[sid] = session
        if self.max_connections_per_ip:
            ip = _address(req)
            self.per_ip[ip] = self.per_ip.get(ip, 0) + 1
            self.counted[session] = ip
        if self.max_concurrent_handshakes:
            self.handshaking.add(session)
        return session

    def _open_packet(self, session: Session, upgrades: list[str]) -> str:
        return eio.open_packet(
            session.sid,
            upgrades,
            int(self.ping_interval * 1000),
            int(self.ping_timeout * 1000),
            self.options.max_http_buffer_size,
        )

    def _start(self, session: Session, now: float) -> None:
        factory = self.factory
        if factory is not None:
            handler = factory(session)
            session.handler = handler
            try:
                handler.on_open(now)
            except Exception:
                self.log.exception("connection handler raised")
        if self.observers:
            self._notify("session_opened", session)

    def _open_polling(self, conn: Exchange, req: Request, cors: list[tuple[str, str]]) -> None:
        if (self.max_connections_per_ip or self.max_concurrent_handshakes or self.draining) and not self._admit(
            conn, req, cors, False
        ):
            return
        assert self.loop is not None
        now = self.loop.time()
        session = self._new_session(POLLING, req, now)
        upgrades = list(self.options.upgrades)
        headers = poll_headers(cors, session.v3)
        if self.options.cookie:
            headers.append(("Set-Cookie", self._cookie(session.sid)))
        packet = self._open_packet(session, upgrades)
        if session.v3 is None:
            conn.send_response(200, headers, packet.encode())
        else:
            conn.poll_headers = headers
            conn.respond(session.v3.encode_payload([packet]))
        self._start(session, now)

    def _poll(self, conn: Exchange, session: Session, cors: list[tuple[str, str]]) -> None:
        conn.poll_headers = poll_headers(cors, session.v3)
        conn.poll_owner = session
        if not session.poll_request(conn):
            conn.poll_owner = None
            self._error(conn, cors, eio.BAD_REQUEST, detail=f"overlapping polling requests for session {session.sid}")

    def serve_metrics(self, conn: Exchange, req: Request) -> None:
        """Answer a request for the ``metrics`` path: the Prometheus text exposition
        (GET or HEAD; 405 otherwise)."""
        if req.method not in ("GET", "HEAD"):
            conn.send_response(405, [("Content-Type", "text/plain"), ("Allow", "GET, HEAD")], b"Method Not Allowed")
            return
        try:
            body = render_metrics(self).encode("utf-8")
        except Exception:
            self.log.exception("rendering the metrics failed")
            conn.send_response(500, [("Content-Type", "text/plain")], b"Internal Server Error")
            return
        headers = [("Content-Type", METRICS_CONTENT_TYPE), ("Cache-Control", "no-store")]
        if req.method == "HEAD":
            conn.send_response(200, headers, b"", length=len(body))
        else:
            conn.send_response(200, headers, body)

    def _post(self, conn: Exchange, session: Session, req: Request, cors: list[tuple[str, str]]) -> None:
        headers = [("Content-Type", "text/html")]
        headers.extend(cors)
        try:
            body = post_payload(session.v3, req.body, req.headers.get("content-type", ""))
        except (UnicodeDecodeError, EngineIOError) as exc:
            session.close("parse error")
            self._error(conn, cors, eio.BAD_REQUEST, detail=f"session {session.sid}: bad POST body: {exc}"[:200])
            return
        assert self.loop is not None
        try:
            session.receive_payload(body, self.loop.time())
        except EngineIOError as exc:
            self._error(conn, cors, eio.BAD_REQUEST, detail=f"session {session.sid}: bad payload: {exc}"[:200])
            return
        conn.send_response(200, headers, b"ok")

    # ------------------------------------------------------------------ WebSocket
    def handle_upgrade(self, conn: Exchange, req: Request) -> None:
        """Answer a WebSocket upgrade request: a new WebSocket-only session, or the
        probe of a polling session's upgrade; refusals are answered over HTTP and close
        the connection."""
        if self.options.allowed_hosts is not None and not self._host_allowed(conn, req, upgrade=True):
            return
        path = req.path
        if path != self.path and path != self.path_noslash:
            if self.websocket_fallback is not None and conn.frames_websocket:
                self.websocket_fallback(conn, req)
                return
            self.log.info("upgrade request from %s refused: 404 Not Found (%.100r)", conn.client, path)
            conn.send_response(404, [("Content-Type", "text/plain")], b"Not Found", close=True)
            return
        cors, allowed = self._cors(req)
        if not allowed:
            self._error(
                conn, [], eio.FORBIDDEN, "Not an accepted origin", status=403, upgrade=True, reason="origin",
                detail="origin %.100r" % req.headers.get("origin"),
            )
            return
        if self.hooks and not req.passed and not self._run_hooks(conn, req, [], True, 0):
            return
        q = req.query
        if q.get("transport") != WEBSOCKET or WEBSOCKET not in self.transports:
            self._error(conn, [], eio.UNKNOWN_TRANSPORT, upgrade=True)
            return
        problem = check_handshake(req.method, req.headers) if conn.frames_websocket else None
        if problem is not None:
            self._error(conn, [], eio.BAD_REQUEST, upgrade=True, detail=f"bad WebSocket handshake: {problem}")
            return
        sid = q.get("sid")
        if sid is not None:
            session = self.sessions.get(sid)
            if session is None and self.router is not None and self.router.route(conn, req, sid):
                return  # another worker's session: handed to it with its connection
            if session is None or not session.check_heartbeat(self._clock()):
                self._error(conn, [], eio.UNKNOWN_SID, upgrade=True)
                return
            if not self.options.allow_upgrades or session.state != OPEN:
                self._error(conn, [], eio.BAD_REQUEST, upgrade=True)
                return
            if not session.can_attach_probe():
                # like the reference server: accept the WebSocket, then close it
                self.log.info("session %s: refused a second upgrade", sid)
                if conn.frames_websocket:
                    ws = conn.accept_websocket(handshake_response(req.headers["sec-websocket-key"]), None, 125)
                    ws.ws_close(CLOSE_NORMAL)
                else:
                    conn.accept_messages(None, [], 125, False).close()
                return
            assert self.loop is not None
            session.attach_probe(self._accept(conn, req, session, False), self.loop.time())
            return
        if q.get("EIO") not in self.versions:
            self._error(conn, [], eio.UNSUPPORTED_PROTOCOL_VERSION, upgrade=True)
            return
        self._allow_then(conn, req, [], self._open_websocket)

    def _accept(self, conn: Exchange, req: Request, session: Session, new: bool) -> EngineWebSocket:
        """Accept the upgrade of ``conn`` for ``session`` (``new``: a WebSocket-only
        session, else a probe of a polling one): the WebSocket connection, of the
        session's Engine.IO version."""
        extra: list[tuple[str, str]] = []
        if new and self.options.cookie:
            # a new WebSocket-only session (not the upgrade of a polling one, whose
            # handshake set the cookie already)
            extra.append(("Set-Cookie", self._cookie(session.sid)))
        if not conn.frames_websocket:
            # an ASGI server's WebSocket: it negotiates permessage-deflate itself
            return conn.accept_messages(session, extra, self.options.max_http_buffer_size, session.eio == 3)
        deflate = None
        options = self.options.per_message_deflate
        if options is not None:
            params = negotiate(req.headers.get("sec-websocket-extensions"), options)
            if params is not None:
                extra.append(("Sec-WebSocket-Extensions", params.response))
                deflate = Deflater(params, options)
        # the EIO3 variant: binary messages get their type byte
        cls = Eio3WebSocketConnection if session.eio == 3 else WebSocketConnection
        return conn.accept_websocket(
            handshake_response(req.headers["sec-websocket-key"], extra),
            session,
            self.options.max_http_buffer_size,
            deflate,
            cls=cls,
        )

    def _open_websocket(self, conn: Exchange, req: Request, cors: list[tuple[str, str]]) -> None:
        if (self.max_connections_per_ip or self.max_concurrent_handshakes or self.draining) and not self._admit(
            conn, req, [], True
        ):
            return
        assert self.loop is not None
        now = self.loop.time()
        session = self._new_session(WEBSOCKET, req, now)
        ws = session.ws = self._accept(conn, req, session, True)
        if session.eio == 3:
            # The reference server writes the 101 response and the OPEN packet apart.
            # Node clients that start listening for messages on "open" (the v3 test
            # suite does) miss an OPEN packet read together with the 101: the 101 goes
            # now, the OPEN packet and what follows it a moment later.
            ws.hold_writes(0.005)
        ws.send(self._open_packet(session, []))
        self._start(session, now)

    # ------------------------------------------------------------------ helpers
    def _error(
        self,
        conn: Exchange,
        cors: list[tuple[str, str]],
        code: int,
        message: str | None = None,
        status: int = 400,
        upgrade: bool = False,
        reason: str | None = None,
        detail: str = "",
        logged: bool = False,
    ) -> None:
        # One line per refused request, with what was wrong (``detail``); an unknown sid
        # at DEBUG (every client of a restarted server sends one); none when the caller
        # logged it already (``logged``: the protection caps, throttled).  ``reason``: the
        # metrics' label (default: the Engine.IO error's, e.g. "unknown_sid").
        if self.metrics is not None:
            self._count_refusal(reason or _REFUSAL_REASONS.get(code, "bad_request"))
        if not logged:
            log = self.log.debug if code == eio.UNKNOWN_SID else self.log.info
            log(
                "%srequest from %s refused: %d %s%s",
                "upgrade " if upgrade else "",
                conn.client,
                status,
                message or eio.ERRORS.get(code, ""),
                f" ({detail})" if detail else "",
            )
        headers = [("Content-Type", "application/json")]
        headers.extend(cors)
        conn.send_response(status, headers, eio.error_body(code, message), close=upgrade)

    def _count_refusal(self, reason: str) -> None:
        metrics = self.metrics
        if metrics is not None:
            metrics.count(metrics.refused, reason)

    def _host_allowed(self, conn: Exchange, req: Request, upgrade: bool = False) -> bool:
        """``allowed_hosts``: True if the request's Host is one of them; else answer
        400 (and log) and return False."""
        host = req.headers.get("host", "")
        if host_matches(host, self.options.allowed_hosts or ()):
            return True
        self.log.info("request from %s for Host %.100r refused (400): not in allowed_hosts", conn.client, host)
        self._count_refusal("host")
        conn.send_response(400, [("Content-Type", "text/plain")], b"Invalid Host header", close=True)
        return False

    def _cors(self, req: Request) -> tuple[list[tuple[str, str]], bool]:
        """CORS response headers for the request, and whether its origin is allowed."""
        origin = req.headers.get("origin")
        if origin is None:
            return [], True
        allowed = self.options.cors_allowed_origins
        if allowed != "*" and (allowed is None or origin not in allowed):
            # same origin only (a same-origin request is never a cross-origin one, whatever
            # the list: browsers send Origin with a same-origin POST or WebSocket too)
            scheme = "https" if req.secure else "http"
            host = req.headers.get("host", "")
            # an Origin without a scheme equal to the Host: what old Node clients send
            # (socket.io-client 1.x's ws 0.4: "localhost:3000"); no browser sends one
            if origin != f"{scheme}://{host}" and origin != host:
                return [], False
        headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if self.options.cors_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers, True

    def _cookie(self, sid: str) -> str:
        c = self.options.cookie
        assert c is not None
        parts = [f"{c.get('name', 'io')}={sid}", f"Path={c.get('path', '/')}"]
        if c.get("httpOnly", c.get("http_only", True)):
            parts.append("HttpOnly")
        same_site = c.get("sameSite", c.get("same_site", "Lax"))
        if same_site:
            parts.append(f"SameSite={same_site}")
        if c.get("secure"):
            parts.append("Secure")
        if "maxAge" in c or "max_age" in c:
            parts.append(f"Max-Age={int(c.get('maxAge', c.get('max_age')))}")
        return "; ".join(parts)


def host_matches(host: str, allowed: tuple[str, ...]) -> bool:
    """True if the ``Host`` header value ``host`` (``name``, ``name:port``,
    ``[v6]:port``) names one of ``allowed`` (``allowed_hosts``, normalised:
    lowercase names, ``.domain`` for a domain and its subdomains)."""
    name = host.strip().lower()
    if name.startswith("["):
        end = name.find("]")
        if end < 0:
            return False
        name = name[1:end]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if not name:
        return False
    for pattern in allowed:
        if pattern.startswith("."):
            if name == pattern[1:] or name.endswith(pattern):
                return True
        elif name == pattern:
            return True
    return False
