"""``Server``: the Socket.IO server, its lifecycle, and the root of the API."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import re
from typing import Any, Callable, Iterable

from ._server.engine import Engine
from ._server.listener import Lifecycle
from ._server.static import StaticFiles
from .adapters.memory import MemoryAdapter
from .broadcast import BroadcastOperator
from ._handlers import Handler, spawn
from .namespace import Namespace, ParentNamespace
from .protocol import socketio as sio
from .adapters.base import RecoveryOptions
from .protection import RateLimit
from .protocol.socketio.parsers import get_parser
from .protocol.engineio.session import Session
from .socket import Client, MsgpackClient, Socket

log = logging.getLogger("fastsio")

__all__ = ("Server",)


class Server(Lifecycle):
    """A Socket.IO v5 server on its own HTTP/WebSocket server (uvloop where available).

    See DESIGN.md for the whole API.  Broadcast helpers on the server act on the
    main namespace ``/``; ``of(name)`` gives the others.

    Options of the sections below (all off by default):

    ``parser``: ``"json"`` (socket.io-parser's format; with orjson installed it may
    write the JSON, identically: see :mod:`fastsio.protocol.parsers`), ``"msgpack"``
    (the npm socket.io-msgpack-parser's format; needs the ``msgpack`` extra), or a
    parser object.  Clients must use the same parser.

    ``connection_state_recovery={"max_disconnection_duration": 120, "skip_middlewares":
    True}`` (or True for these defaults; seconds, where Node counts milliseconds), as
    Node's ``connectionStateRecovery``: the CONNECT reply carries a private session id
    (``pid``); every EVENT sent without an ack and not volatile (broadcasts and
    ``socket.emit`` alike) gets an offset appended as its last argument and is kept;
    a socket that disconnects for a transport reason (transport close or error, ping
    timeout, forced close, server shutdown) is kept (id, rooms, ``data``) for
    ``max_disconnection_duration``.  A client that reconnects in time with its
    ``pid`` and last ``offset`` in the CONNECT auth (socket.io-client 4.6+ does this by
    itself) gets back its id, rooms and data, ``socket.recovered`` is True, the connect
    middleware is skipped (``skip_middlewares``; the connect handler runs), and the
    packets it missed are sent in order, before anything else: just before the CONNECT
    reply, as Node does (socket.io-client delivers them before its "connect" event).  Packets are kept only while a socket may still need them (see
    :class:`~fastsio.adapters.MemoryAdapter`).

    ``rate_limit={"events_per_second": 50, "burst": 100, "action": "drop" |
    "disconnect"}``: a per-socket token bucket on incoming events; see
    :class:`fastsio.protection.RateLimit` for what each action does and what the
    client is sent.

    ``max_connections_per_ip=N``: at most N Engine.IO sessions per client address (the
    TCP peer); a handshake over it (polling or WebSocket) gets 403 and
    ``{"code":4,"message":"Forbidden"}``, as an ``allow_request`` refusal.

    ``per_message_deflate``: WebSocket compression (RFC 7692), off by default like
    Node's socket.io 4; ``True`` or a dict of :class:`fastsio.protocol.deflate.DeflateOptions`
    fields (``threshold``, ``server_no_context_takeover``, ``client_no_context_takeover``,
    ``server_max_window_bits``, ``client_max_window_bits``, ``level``, ``mem_level``); a bad
    key or value raises ValueError.  Packets of ``threshold`` bytes (1024) or more go
    compressed to the clients that negotiated it, unless emitted with ``compress(False)``.

    ``max_concurrent_handshakes=N``: at most N sessions that have not completed a
    Socket.IO CONNECT yet; a handshake over it gets 503, ``Retry-After: 1`` and
    ``{"code":503,"message":"Too many handshakes in progress"}``.  Refusals are logged
    (``fastsio.engine``, at most once a second per cap).
    """

    def __init__(
        self,
        *,
        path: str = "/socket.io/",
        parser: Any = "json",
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        connect_timeout: float = 45.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        max_buffer_size: int = 1_000_000,
        http_compression: bool = True,
        http_keep_alive_timeout: float = 5.0,
        http_request_timeout: float = 30.0,
        per_message_deflate: bool | dict[str, Any] = False,
        transports: Iterable[str] = ("polling", "websocket"),
        allow_upgrades: bool = True,
        cors_allowed_origins: str | list[str] | None = None,
        cors_credentials: bool = True,
        allow_request: Callable[[Any], Any] | None = None,
        cookie: str | dict[str, Any] | None = None,
        ack_timeout: float | None = None,
        adapter: Callable[[Namespace], Any] | None = None,
        logger: logging.Logger | bool | None = None,
        gc_freeze: bool = True,
        static_files: dict[str, Any] | None = None,
        cleanup_empty_child_namespaces: bool = False,
        allow_eio3: bool = False,
        connection_state_recovery: dict[str, Any] | bool | None = None,
        rate_limit: dict[str, Any] | RateLimit | None = None,
        max_connections_per_ip: int | None = None,
        max_concurrent_handshakes: int | None = None,
    ) -> None:
        super().__init__()
        # "json", "msgpack" or a parser object (see fastsio.protocol.parsers)
        self.parser = get_parser(parser)
        self._client_class = MsgpackClient if self.parser.binary else Client
        if self.parser.binary and allow_eio3:
            raise ValueError("a binary parser (msgpack) serves Socket.IO v5 clients only: not with allow_eio3")
        # connection state recovery (Node's connectionStateRecovery), or None
        self.recovery = RecoveryOptions.parse(connection_state_recovery)
        # per-socket incoming event rate limit, or None
        self.rate_limit = RateLimit.parse(rate_limit)
        self._sweeper: Any = None
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.gc_freeze = gc_freeze
        self.cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        self._adapter_factory = adapter or MemoryAdapter
        if isinstance(logger, logging.Logger):
            global log
            log = logger
        self._engine = Engine(
            path=path,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            upgrade_timeout=upgrade_timeout,
            max_http_buffer_size=max_http_buffer_size,
            max_buffer_size=max_buffer_size,
            http_compression=http_compression,
            http_keep_alive_timeout=http_keep_alive_timeout,
            http_request_timeout=http_request_timeout,
            per_message_deflate=per_message_deflate,
            transports=tuple(transports),
            allow_upgrades=allow_upgrades,
            cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials,
            allow_request=allow_request,
            cookie=cookie,
            factory=self._new_client,
            fallback=StaticFiles(static_files) if static_files else None,
            allow_eio3=allow_eio3,
            max_connections_per_ip=max_connections_per_ip,
            max_concurrent_handshakes=max_concurrent_handshakes,
        )
        self.namespaces: dict[str, Namespace] = {}
        # dynamic namespaces, tried in the order they were declared
        self.parents: list[ParentNamespace] = []
        # server-side events from the other nodes of a cluster
        self.server_side_handlers: dict[str, Handler] = {}
        self.of("/")

    # ------------------------------------------------------------------ namespaces
    def of(self, name: str | re.Pattern[str] | Callable[[str, Any], Any]) -> Namespace:
        """The namespace ``name``, created on first use; or a dynamic namespace from a
        compiled regex or a callable ``fn(name, auth) -> bool`` (may be async)."""
        if not isinstance(name, str):
            for parent in self.parents:
                if parent.matcher is name:
                    return parent
            parent = ParentNamespace(self, name)
            self.parents.append(parent)
            return parent
        if not name.startswith("/"):
            name = "/" + name
        ns = self.namespaces.get(name)
        if ns is None:
            ns = self.namespaces[name] = Namespace(self, name)
        return ns

    def _drop_child(self, ns: Namespace) -> None:
        if self.namespaces.get(ns.name) is ns:
            del self.namespaces[ns.name]
        if isinstance(ns.parent, ParentNamespace):
            ns.parent.children.discard(ns)
        ns.adapter.close()

    @property
    def sockets(self) -> Namespace:
        """The main namespace (Node's ``io.sockets``)."""
        return self.namespaces["/"]

    def _make_adapter(self, ns: Namespace) -> Any:
        return self._adapter_factory(ns)

    # ------------------------------------------------------------------ the main namespace
    def on(self, event: str, handler: Callable[..., Any] | None = None, namespace: str = "/") -> Any:
        """Register a handler on ``namespace`` (default ``/``); usable as a decorator."""
        return self.of(namespace).on(event, handler)

    def event(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.of("/").event(fn)

    def use(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Connect middleware of the main namespace."""
        return self.of("/").use(fn)

    def on_any(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.of("/").on_any(fn)

    def prepend_any(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.of("/").prepend_any(fn)

    def off_any(self, fn: Callable[..., Any] | None = None) -> None:
        self.of("/").off_any(fn)

    def on_any_outgoing(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.of("/").on_any_outgoing(fn)

    def prepend_any_outgoing(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.of("/").prepend_any_outgoing(fn)

    def off_any_outgoing(self, fn: Callable[..., Any] | None = None) -> None:
        self.of("/").off_any_outgoing(fn)

    @property
    def volatile(self) -> BroadcastOperator:
        return self.of("/")._operator().volatile

    @property
    def local(self) -> BroadcastOperator:
        return self.of("/")._operator().local

    def compress(self, value: bool = True) -> BroadcastOperator:
        return self.of("/")._operator().compress(value)

    # ------------------------------------------------------------------ cluster
    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the other nodes of the cluster (none with the memory adapter)."""
        self.of("/").server_side_emit(event, *args)

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        return await self.of("/").server_side_emit_with_ack(event, *args)

    def on_server_side(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Handle ``event`` sent by another node's ``server_side_emit``; the return
        value is the acknowledgement."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.server_side_handlers[event] = Handler(fn)
            return fn

        return register(handler) if handler is not None else register

    def emit(self, event: str, *args: Any, namespace: str = "/") -> int:
        """Send ``event`` to every socket of the namespace.  Never blocks."""
        return self.of(namespace).emit(event, *args)

    def send(self, *args: Any) -> int:
        return self.emit("message", *args)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        return self.of("/").to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        return self.of("/").except_(room)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self.of("/").timeout(seconds)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        return await self.of("/").emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[Socket]:
        return await self.of("/").fetch_sockets()

    def sockets_join(self, room: str | Iterable[str]) -> None:
        self.of("/").sockets_join(room)

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        self.of("/").sockets_leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        self.of("/").disconnect_sockets(close)

    @property
    def engine(self) -> Engine:
        return self._engine

    # ------------------------------------------------------------------ plumbing
    def _new_client(self, session: Session) -> Client:
        return self._client_class(self, session)

    def _connect(self, client: Client, name: str, auth: Any) -> None:
        ns = self.namespaces.get(name)
        if ns is not None:
            ns._connect(client, auth)
            return
        if self.parents:
            self._connect_dynamic(client, name, auth, 0)
            return
        self._invalid_namespace(client, name)

    def _invalid_namespace(self, client: Client, name: str) -> None:
        log.info("connection %s: CONNECT to unknown namespace %.100r", client.session.sid, name)
        client.send_parts(self.parser.encode(sio.CONNECT_ERROR, name, {"message": "Invalid namespace"}))

    def _connect_dynamic(self, client: Client, name: str, auth: Any, start: int) -> None:
        for i in range(start, len(self.parents)):
            parent = self.parents[i]
            try:
                ok = parent.matches(name, auth)
            except Exception:
                log.exception("dynamic namespace check raised")
                ok = False
            if inspect.isawaitable(ok):
                client.begin_connect(name)
                spawn(self._connect_dynamic_async(client, name, auth, i, ok))
                return
            if ok:
                self._connect_child(client, parent, name, auth)
                return
        self._invalid_namespace(client, name)

    async def _connect_dynamic_async(
        self, client: Client, name: str, auth: Any, i: int, pending: Any
    ) -> None:
        try:
            ok = await pending
        except Exception:
            log.exception("dynamic namespace check raised")
            ok = False
        queued = client.end_connect(name)
        if client.session.state != 1:
            return
        if ok:
            self._connect_child(client, self.parents[i], name, auth)
            if queued:
                if name in client.connecting:  # the connect handler is still running
                    client.connecting[name][:0] = queued
                else:
                    sock = client.sockets.get(name)
                    for pkt in queued if sock is not None else ():
                        sock._on_packet(pkt)
        else:
            self._connect_dynamic(client, name, auth, i + 1)

    def _connect_child(self, client: Client, parent: ParentNamespace, name: str, auth: Any) -> None:
        ns = self.namespaces.get(name)
        if ns is None:
            ns = self.namespaces[name] = parent._child(name)
        ns._connect(client, auth)

    def _on_starting(self, loop: Any) -> None:
        if self.recovery is not None:
            # the one periodic sweep of kept sessions and packets (expiry is lazy otherwise)
            self._sweeper = loop.call_later(self._sweep_interval(), self._sweep)
        if self.gc_freeze:
            # long-lived start-up objects leave the collector's generations for good
            gc.collect()
            gc.freeze()

    def _sweep_interval(self) -> float:
        assert self.recovery is not None
        return min(60.0, max(1.0, self.recovery.max_disconnection_duration / 2))

    def _sweep(self) -> None:
        self._sweeper = None
        for ns in list(self.namespaces.values()):
            sweep = getattr(ns.adapter, "sweep", None)
            if sweep is not None:
                try:
                    sweep()
                except Exception:
                    log.exception("recovery sweep failed on %s", ns.name)
        if self._server is not None:
            self._sweeper = asyncio.get_running_loop().call_later(self._sweep_interval(), self._sweep)

    def _on_stopping(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
