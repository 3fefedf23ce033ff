"""``Server``: the Socket.IO server, its lifecycle, and the root of the API."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import inspect
import logging
import re
import time
from typing import Any, Awaitable, Callable, Iterable

from ._handlers import Handler, spawn
from .admin import Admin
from ._server.asgi import AsgiFallback, Lifespan
from ._server.engine import Engine, Exchange
from ._server.listener import Lifecycle
from ._server.metrics import Exposition
from ._server.static import StaticFiles
from .adapters.base import RemoteSocket
from .adapters.worker_adapter import WorkerAdapter
from .broadcast import BroadcastOperator
from .namespace import Namespace, ParentNamespace
from .observers import Observer, notify
from .options import ServerOptions, render_options
from .protection import LogThrottle
from .protocol.socketio import packets as sio
from ._server.request import Request
from .protocol.engineio.session import OPEN, Session
from .protocol.socketio.decoder import Decoder
from .protocol.socketio.parsers import get_parser
from .socket import Client, Socket
from .workers import run_workers

__all__ = ("Server",)

_SERVER_DOC = """A Socket.IO v5 server on its own HTTP/WebSocket server (uvloop where available).

    README.md and docs/ describe the whole API.  Broadcast helpers on the server act on the
    main namespace ``/``; ``of(name)`` gives the others.

    ``Server(**options)`` takes the options below as keyword arguments; they are
    validated once into :attr:`options` (a :class:`fastsio.options.ServerOptions`;
    an unknown or invalid one raises TypeError or ValueError), which every part of
    the server reads.  :attr:`log` is the server's logger (``logger``, or the
    ``fastsio`` logger; the engine logs to its ``engine`` child, the connections to its ``server``
    child).

    Connection state recovery (``connection_state_recovery``), as Node's
    ``connectionStateRecovery``: the CONNECT reply carries a private session id
    (``pid``); every EVENT sent without an ack and not volatile (broadcasts and
    ``socket.emit`` alike) gets an offset appended as its last argument and is kept;
    a socket that disconnects for a transport reason (transport close or error, ping
    timeout, forced close, server shutdown) is kept (id, rooms, ``data``) for
    ``max_disconnection_duration``.  A client that reconnects in time with its
    ``pid`` and last ``offset`` in the CONNECT auth (socket.io-client 4.6+ does this
    by itself) gets back its id, rooms and data, ``socket.recovered`` is True, the
    connect middleware is skipped (``skip_middlewares``; the connect handler runs),
    and the packets it missed are sent in order, just before the CONNECT reply, as
    Node does.  Packets are kept only while a socket may still need them (see
    :class:`~fastsio.adapters.MemoryAdapter`).

    ``rate_limit``: see :class:`fastsio.protection.RateLimit` for what each action
    does and what the client is sent.  Protection refusals
    (``max_connections_per_ip``, ``max_concurrent_handshakes``) are logged by the
    engine, at most once a second per cap.

    ``gc_freeze``: by default (``None``) ``gc.collect(); gc.freeze()`` runs in
    :meth:`run` only, where fastsio owns the process; ``True``: also in
    :meth:`start`; ``False``: never (see :meth:`on_starting`).

    Options:

{options}
    """


class Server(Lifecycle):
    __doc__ = _SERVER_DOC.format(options=render_options(ServerOptions, indent="    "))

    def __init__(self, **options: Any) -> None:
        super().__init__()
        #: the server's options, validated once (read by every layer below)
        self.options: ServerOptions = ServerOptions.from_kwargs(**options)
        opts = self.options
        #: the server's logger (its namespaces, sockets and connections log here)
        self.log: logging.Logger = opts.get_logger()
        #: the Socket.IO layer's logger (``<logger>.socketio``: CONNECTs, namespaces,
        #: sockets, handlers' errors); the engine logs to ``.engine``, connections to
        #: ``.server``, adapters to ``.adapter``, the ``app`` option to ``.asgi``
        self.socketio_log: logging.Logger = self.log.getChild("socketio")
        #: the resolved parser (``"json"``, ``"msgpack"`` or the parser object given)
        self.parser: Any = get_parser(opts.parser)
        if getattr(self.parser, "binary", False) and opts.allow_eio3:
            raise ValueError("a binary parser (msgpack) serves Socket.IO v5 clients only: not with allow_eio3")
        #: the decoder of incoming messages, shared by every connection
        self.decoder = Decoder(self.parser)
        # refused CONNECTs are logged at most once a second (a flood must not flood the log)
        self._refusals = LogThrottle(self.socketio_log, level=logging.INFO)
        self._sweeper: asyncio.TimerHandle | None = None
        self._running = False
        self._engine = self._new_engine(opts)
        #: the observers of sockets, rooms and broadcasts (:class:`fastsio.observers.Observer`;
        #: empty: nothing is called), shared by every namespace; see :meth:`observe`
        self.observers: list[Observer] = []
        #: the class of each new connection's Socket.IO :class:`~fastsio.Client` (a
        #: subclass may be set before connections come: those already open keep theirs)
        self.client_class: type[Client] = Client
        self._admin: Admin | None = None
        self.namespaces: dict[str, Namespace] = {}
        # dynamic namespaces, tried in the order they were declared
        self.parents: list[ParentNamespace] = []
        self.of("/")
        metrics = self._engine.metrics
        if metrics is not None:
            metrics.sources.append(self._report_metrics)

    def _new_engine(self, opts: ServerOptions) -> Engine:
        fallback: Callable[[Exchange, Request], Any] | None = None
        static = StaticFiles(dict(opts.static_files)) if opts.static_files else None
        # the ``app`` option: an ASGI app on the other paths (after the static files)
        self._app = (
            AsgiFallback(
                opts.app, self.log.getChild("asgi"), opts.engine.max_http_buffer_size, opts.engine.per_message_deflate
            )
            if opts.app is not None
            else None
        )
        self._lifespan: Lifespan | None = None
        app = self._app
        if static is not None and app is not None:

            def fallback(conn: Exchange, req: Request) -> None:
                static(conn, req, app)

        else:
            fallback = static if static is not None else app
        return Engine(
            opts.engine,
            factory=self._new_client,
            fallback=fallback,
            websocket_fallback=app.websocket if app is not None else None,
            logger=self.log,
        )

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
            if self.observers:
                notify(self.observers, self.log, "namespace_created", parent)
            return parent
        if not name.startswith("/"):
            name = "/" + name
        ns = self.namespaces.get(name)
        if ns is None:
            ns = self.namespaces[name] = Namespace(self, name)
            if self.observers:
                notify(self.observers, self.log, "namespace_created", ns)
        return ns

    def observe(self, observer: Observer) -> None:
        """Add ``observer`` (see :class:`fastsio.observers.Observer`): it is told of
        every socket connected or disconnected, room joined or left, broadcast, and
        namespace made from now on."""
        if observer not in self.observers:
            self.observers.append(observer)

    def unobserve(self, observer: Observer) -> None:
        """Remove ``observer`` (nothing if it is not there)."""
        if observer in self.observers:
            self.observers.remove(observer)

    def instrument(
        self,
        auth: Any,
        mode: str = "development",
        read_only: bool = False,
        namespace: str = "/admin",
        server_id: str | None = None,
        server_stats_interval: float = 2.0,
    ) -> Admin:
        """Serve the Socket.IO Admin UI (``@socket.io/admin-ui`` 0.5) on ``namespace``;
        returns the :class:`fastsio.admin.Admin` doing it.  docs/admin-ui.md tells how
        to open the UI.

        Args:
            auth: ``{"username": ..., "password": ...}`` (plain-text password), a list
                of such dicts, a callable ``fn(auth) -> bool`` (may be async) given the
                UI's CONNECT auth, or ``False`` (no authentication: never in production).
            mode: ``"development"`` (sockets, rooms and every event are reported) or
                ``"production"`` (server stats and aggregated counts only).
            read_only: no actions from the UI (join, leave, disconnect, emit).
            namespace: the admin namespace.
            server_id: the name the UI shows for this server (default: the host name).
            server_stats_interval: seconds between two ``server_stats``.

        Raises:
            ValueError: a bad argument, or ``instrument()`` called twice.
        """
        if self._admin is not None:
            raise ValueError("instrument() was already called on this server")
        admin = self._admin = Admin(
            self,
            auth=auth,
            mode=mode,
            read_only=read_only,
            namespace=namespace,
            server_id=server_id,
            server_stats_interval=server_stats_interval,
        )
        if self._running:  # instrumented once started: the stats timer starts now
            admin.start(asyncio.get_running_loop())
        return admin

    def use_adapter(self, factory: Callable[[Any], Any]) -> None:
        """Make ``factory(namespace)`` the adapter of every namespace, those that exist
        (their adapters are replaced) and those made later: the ``adapter`` option set
        after the fact (``run(workers=N)`` installs its worker adapter so).

        Raises:
            RuntimeError: the server is started (sockets are in the adapters).
        """
        if self.started:
            raise RuntimeError("use_adapter before the server starts")
        self.options = dataclasses.replace(self.options, adapter=factory)
        for ns in [*self.namespaces.values(), *self.parents]:
            ns.adapter.close()
            ns.adapter = factory(ns)

    def run_workers(self, host: str, port: int, workers: int, kwargs: dict[str, Any]) -> None:
        """``run(workers=N)``: N worker processes on one port (:mod:`fastsio.workers`,
        docs/workers.md); each worker makes its namespaces' adapters anew with the
        ``adapter`` factory (each one a node of its own: a Redis adapter's uid is per
        worker) or, without one, a :class:`~fastsio.adapters.WorkerAdapter` linking it to
        the others."""
        if self.options.adapter is None:
            try:
                import msgpack  # noqa: F401
            except ImportError:
                raise RuntimeError(
                    "run(workers=N) without an adapter needs msgpack for the worker adapter:"
                    " pip install 'fastsio-server[msgpack]'"
                ) from None

        def setup(mesh: Any) -> None:
            # in the worker: adapters made anew (the namespaces' adapters were made before
            # the fork, and a cluster adapter's uid must differ from one worker to the next)
            self.use_adapter(self.options.adapter or WorkerAdapter(mesh, requests_timeout=5.0))

        run_workers(self, host, port, workers, kwargs, setup)

    def remove_namespace(self, ns: Namespace) -> None:
        """Forget namespace ``ns`` (an empty child of a dynamic namespace, with
        ``cleanup_empty_child_namespaces``) and close its adapter."""
        if self.namespaces.get(ns.name) is ns:
            del self.namespaces[ns.name]
        if isinstance(ns.parent, ParentNamespace):
            ns.parent.children.discard(ns)
        ns.adapter.close()

    @property
    def sockets(self) -> Namespace:
        """The main namespace (Node's ``io.sockets``)."""
        return self.namespaces["/"]

    # ------------------------------------------------------------------ the main namespace
    def on(self, event: str, handler: Callable[..., Any] | None = None, namespace: str = "/") -> Any:
        """Register a handler on ``namespace`` (default ``/``); usable as a decorator."""
        return self.of(namespace).on(event, handler)

    def event(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: register ``fn`` on ``/`` for the event named like the function."""
        return self.of("/").event(fn)

    def use(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Connect middleware of the main namespace."""
        return self.of("/").use(fn)

    def on_any(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn(socket, event, *args)`` for every incoming event on ``/``."""
        return self.of("/").on_any(fn)

    def prepend_any(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Like :meth:`on_any`, before the listeners already there."""
        return self.of("/").prepend_any(fn)

    def off_any(self, fn: Callable[..., Any] | None = None) -> None:
        """Remove the catch-all listener ``fn`` of ``/`` (or every one)."""
        self.of("/").off_any(fn)

    def on_any_outgoing(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn(socket, event, *args)`` for every event sent to a socket of ``/``."""
        return self.of("/").on_any_outgoing(fn)

    def prepend_any_outgoing(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Like :meth:`on_any_outgoing`, before the listeners already there."""
        return self.of("/").prepend_any_outgoing(fn)

    def off_any_outgoing(self, fn: Callable[..., Any] | None = None) -> None:
        """Remove the outgoing catch-all listener ``fn`` of ``/`` (or every one)."""
        self.of("/").off_any_outgoing(fn)

    @property
    def volatile(self) -> BroadcastOperator[Socket]:
        """The next broadcast on ``/`` skips connections that cannot take it now."""
        return self.of("/").volatile

    @property
    def local(self) -> BroadcastOperator[Socket]:
        """The next broadcast on ``/`` reaches only this node's sockets."""
        return self.of("/").local

    def compress(self, value: bool = True) -> BroadcastOperator[Socket]:
        """``compress(False)``: the next broadcast on ``/`` goes uncompressed."""
        return self.of("/").compress(value)

    # ------------------------------------------------------------------ cluster
    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the other nodes of the cluster (none with the memory adapter)."""
        self.of("/").server_side_emit(event, *args)

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Like :meth:`server_side_emit`, collecting one reply per other node."""
        return await self.of("/").server_side_emit_with_ack(event, *args)

    @property
    def server_side_handlers(self) -> dict[str, Handler]:
        """The server-side event handlers of ``/`` (see :meth:`on_server_side`)."""
        return self.of("/").server_side_handlers

    def on_server_side(
        self, event: str, handler: Callable[..., Any] | None = None, namespace: str = "/"
    ) -> Any:
        """Handle ``event`` sent to ``namespace`` (default ``/``) by another node's
        ``server_side_emit``: ``handler(*args)``, whose return value is the
        acknowledgement; usable as a decorator."""
        return self.of(namespace).on_server_side(event, handler)

    def emit(self, event: str, *args: Any, namespace: str = "/") -> int:
        """Send ``event`` to every socket of the namespace.  Never blocks."""
        return self.of(namespace).emit(event, *args)

    def send(self, *args: Any) -> int:
        """Emit a ``message`` event to every socket of ``/``."""
        return self.emit("message", *args)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Broadcast on ``/`` to the sockets in ``room`` (or several)."""
        return self.of("/").to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Broadcast on ``/`` to the sockets not in ``room`` (or several)."""
        return self.of("/").except_(room)

    def timeout(self, seconds: float) -> BroadcastOperator[Socket]:
        """``emit_with_ack`` on ``/`` waits at most ``seconds`` for the replies."""
        return self.of("/").timeout(seconds)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Emit to every socket of ``/`` and collect one reply each."""
        return await self.of("/").emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """The sockets connected to ``/`` (with a cluster adapter, the other nodes' too)."""
        return await self.of("/").fetch_sockets()

    def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make every socket of ``/`` join ``room`` (or several)."""
        self.of("/").sockets_join(room)

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make every socket of ``/`` leave ``room`` (or several)."""
        self.of("/").sockets_leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of ``/`` (``close=True``: their whole connections)."""
        self.of("/").disconnect_sockets(close)

    @property
    def engine(self) -> Engine:
        """The Engine.IO server under this one (``sio.engine.use(hook)``)."""
        return self._engine

    # ------------------------------------------------------------------ plumbing
    def _report_metrics(self, out: Exposition) -> None:
        """The Socket.IO families of the ``metrics`` option (read at scrape time):
        sockets per namespace, CONNECTs, and each adapter's own."""
        metrics = self._engine.metrics
        assert metrics is not None
        namespaces = sorted(self.namespaces.items())
        out.family(
            "fastsio_sockets",
            "gauge",
            "Connected Socket.IO sockets, by namespace.",
            [("", {"namespace": name}, len(ns.sockets)) for name, ns in namespaces],
        )
        out.family(
            "fastsio_connects",
            "counter",
            "Socket.IO namespace CONNECTs, by namespace and result (accepted, refused, invalid_namespace).",
            [("_total", {"namespace": n, "result": r}, v) for (n, r), v in sorted(metrics.connects.items())],
        )
        for _, ns in namespaces:
            ns.adapter.report_metrics(out)

    def _new_client(self, session: Session) -> Client:
        return self.client_class(self, session)

    def connect_namespace(self, client: Client, name: str, auth: Any) -> None:
        """A CONNECT from ``client`` to namespace ``name``: connect it (a static
        namespace, or the first dynamic one that matches), or answer CONNECT_ERROR
        ``Invalid namespace`` (``Too many namespaces`` when the connection is already
        in ``max_namespaces_per_connection`` of them)."""
        limit = self.options.max_namespaces_per_connection
        if (
            limit
            and client.socket_count() + len(client.connecting) >= limit
            and client.socket_of(name) is None
            and name not in client.connecting
        ):
            self._refusals.warn(
                "namespaces",
                "connection %s: CONNECT to %.100r refused: it is in %d namespaces, max_namespaces_per_connection",
                client.session.sid,
                name,
                limit,
                now=time.monotonic(),
            )
            payload: Any = "Too many namespaces" if client.session.eio == 3 else {"message": "Too many namespaces"}
            client.send_parts(self.parser.encode(sio.CONNECT_ERROR, name, payload))
            return
        ns = self.namespaces.get(name)
        if ns is not None:
            ns.connect_client(client, auth)
            return
        if self.parents:
            self._connect_dynamic(client, name, auth, 0)
            return
        self._invalid_namespace(client, name)

    def _invalid_namespace(self, client: Client, name: str) -> None:
        self._refusals.warn(
            "namespace",
            "connection %s: CONNECT to unknown namespace %.100r",
            client.session.sid,
            name,
            now=time.monotonic(),
        )
        metrics = self._engine.metrics
        if metrics is not None:
            metrics.count(metrics.connects, ("", "invalid_namespace"))  # (no client-chosen label)
        # Socket.IO v4 (socket.io 2.x) sends the message alone, v5 an object
        payload: Any = "Invalid namespace" if client.session.eio == 3 else {"message": "Invalid namespace"}
        client.send_parts(self.parser.encode(sio.CONNECT_ERROR, name, payload))

    def _connect_dynamic(self, client: Client, name: str, auth: Any, start: int) -> None:
        for i in range(start, len(self.parents)):
            parent = self.parents[i]
            try:
                ok = parent.matches(name, auth)
            except Exception:
                self.socketio_log.exception("dynamic namespace check raised")
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
        self, client: Client, name: str, auth: Any, i: int, pending: Awaitable[Any]
    ) -> None:
        try:
            ok = await pending
        except Exception:
            self.socketio_log.exception("dynamic namespace check raised")
            ok = False
        queued = client.end_connect(name)
        if client.session.state != OPEN:
            return
        if ok:
            self._connect_child(client, self.parents[i], name, auth)
            if queued:
                if name in client.connecting:  # the connect handler is still running
                    waiting = client.end_connect(name)
                    queued.extend(waiting)
                    queued.nbytes += waiting.nbytes
                    client.begin_connect(name, queued)
                else:
                    sock = client.socket_of(name)
                    if sock is not None:
                        for pkt in queued:
                            sock.on_packet(pkt)
        else:
            self._connect_dynamic(client, name, auth, i + 1)

    def _connect_child(self, client: Client, parent: ParentNamespace, name: str, auth: Any) -> None:
        ns = self.namespaces.get(name)
        if ns is None:
            ns = self.namespaces[name] = parent.new_child(name)
        ns.connect_client(client, auth)

    # ------------------------------------------------------------------ lifecycle
    def on_starting(self, loop: asyncio.AbstractEventLoop, owns_process: bool) -> None:
        """Start-up hook (see :class:`~fastsio._server.listener.Lifecycle`): start the
        recovery sweep, and ``gc.freeze()`` as ``gc_freeze`` says (by default only
        when ``owns_process``: under :meth:`run`)."""
        self._running = True
        if self._admin is not None:
            self._admin.start(loop)  # the Admin UI's server_stats timer
        if self.options.connection_state_recovery is not None:
            # the one periodic sweep of kept sessions and packets (expiry is lazy otherwise)
            self._sweeper = loop.call_later(self._sweep_interval(), self._sweep)
        if self.options.should_freeze_gc(owns_process=owns_process):
            # long-lived start-up objects leave the collector's generations for good
            gc.collect()
            gc.freeze()

    def _sweep_interval(self) -> float:
        recovery = self.options.connection_state_recovery
        assert recovery is not None
        return min(60.0, max(1.0, recovery.max_disconnection_duration / 2))

    def _sweep(self) -> None:
        self._sweeper = None
        for ns in list(self.namespaces.values()):
            try:
                ns.adapter.sweep()
            except Exception:
                self.socketio_log.exception("recovery sweep failed on %s", ns.name)
        if self._running:
            self._sweeper = asyncio.get_running_loop().call_later(self._sweep_interval(), self._sweep)

    async def on_opening(self) -> None:
        """Start-up hook, before listening: open every namespace's adapter (a cluster
        adapter connects and subscribes here; a namespace made later opens its own);
        with the ``app`` option, the ASGI app's lifespan startup."""
        for ns in list(self.namespaces.values()):
            await ns.adapter.open()
        if self.options.app is not None:
            # the ``app`` option: the ASGI app's lifespan startup (a failure aborts the start)
            self._lifespan = Lifespan(self.options.app, self.log.getChild("asgi"))
            await self._lifespan.startup()

    async def on_closed(self) -> None:
        """Shut-down hook, once the connections are closed: shut the adapters down;
        with the ``app`` option, the ASGI app's lifespan shutdown."""
        for ns in list(self.namespaces.values()):
            try:
                await ns.adapter.shutdown()
            except Exception:
                self.log.getChild("adapter").exception("adapter shutdown failed on %s", ns.name)
        lifespan = self._lifespan
        if lifespan is not None:
            # the ``app`` option: the ASGI app's lifespan shutdown
            self._lifespan = None
            await lifespan.shutdown()

    def on_stopping(self) -> None:
        """Shut-down hook: stop the recovery sweep (and the Admin UI's stats timer)."""
        self._running = False
        if self._admin is not None:
            self._admin.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
