"""Binding, loop choice and graceful shutdown, shared by Server and EngineServer.

:class:`Lifecycle` is the base of both servers: ``start()`` (listen, on a running
loop), ``stop()`` (disconnect everyone, close), and ``run()``, which owns the process:
it makes the loop (uvloop where installed), serves until SIGINT/SIGTERM and stops.
Subclasses provide :attr:`Lifecycle.engine` and may override the hooks
:meth:`Lifecycle.on_starting` (told whether fastsio owns the process: True under
``run()``, False under ``start()`` called by the application) and
:meth:`Lifecycle.on_stopping`, and the awaited :meth:`Lifecycle.on_opening` (before
listening) and :meth:`Lifecycle.on_closed` (after every connection closed).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import ssl
import sys
from typing import Any, Callable

from .._speedups import IMPLEMENTATIONS
from .._version import __version__
from ..exceptions import ListenError
from ..protection import LogThrottle
from .engine import Engine


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (not on Windows), else asyncio's default loop."""
    if sys.platform != "win32":
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class TlsWatch:
    """The protocol factory of a TLS listener, which logs the handshakes that fail.

    asyncio (and uvloop) make a connection's protocol when TCP accepts it, before the
    TLS handshake, and close a connection whose handshake fails or takes longer than
    ``ssl_handshake_timeout`` without a word (unless in debug mode).  Each protocol made
    here is looked at once that timeout (plus half a second) has passed: one that was
    never given its transport never completed its handshake -- plain HTTP to the TLS
    port, a client that does not trust the certificate, a stalled handshake -- and is
    counted and logged (at INFO, at most once a second; the peer's address is not
    known at that level)."""

    def __init__(self, engine: Engine, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.engine = engine
        self.loop = loop
        self.timeout = timeout
        #: connections whose TLS handshake did not complete, so far
        self.failed = 0
        self._log = LogThrottle(engine.server_log, level=logging.INFO)

    def __call__(self) -> asyncio.Protocol:
        """A new connection's protocol, looked at after the handshake timeout."""
        conn = self.engine.protocol_factory()
        self.loop.call_later(self.timeout + 0.5, self._check, conn)
        return conn

    def _check(self, conn: Any) -> None:
        if conn.transport is None and not conn.closed:
            self.failed += 1
            self._log.warn(
                "tls",
                "a TLS handshake did not complete within %g s of its connection (plain HTTP to "
                "the TLS port, a client that does not trust the certificate, or a stalled "
                "handshake); the connection was closed (%d so far)",
                self.timeout,
                self.failed,
                now=self.loop.time(),
            )


class Lifecycle:
    """``start``/``stop``/``run`` around an :class:`~fastsio._server.engine.Engine`.

    Subclasses provide :attr:`engine` and may override :meth:`on_starting` and
    :meth:`on_stopping`.
    """

    def __init__(self) -> None:
        self._server: asyncio.base_events.Server | None = None
        self._address: tuple[str, int] | None = None
        # run() owns the process (its loop, its signals): see on_starting
        self._owns_process = False
        self._secure = False
        # started by start_embedded(): served by someone else's server (ASGI)
        self._embedded = False
        # a second signal under run(): stop() cuts its drain short
        self._hurry = False

    @property
    def engine(self) -> Engine:
        """The Engine.IO engine served (the subclass's)."""
        raise NotImplementedError

    @property
    def address(self) -> tuple[str, int] | None:
        """The (host, port) the server listens on, once started."""
        return self._address

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        ssl_context: Any = None,
        reuse_port: bool = False,
        backlog: int = 4096,
        sock: socket.socket | None = None,
    ) -> None:
        """Start listening (``port=0`` picks a free port; see :attr:`address`).

        Raises:
            RuntimeError: already started.
            fastsio.exceptions.ListenError: the address cannot be listened on (an
                ``OSError`` with the original ``errno``, and a one-line message).
        """
        if self._server is not None:
            raise RuntimeError("server already started")
        loop = asyncio.get_running_loop()
        engine = self.engine
        engine.bind_loop(loop)
        # started again after a stop(): serve new sessions
        engine.draining = False
        self._hurry = False
        await self.on_opening()
        self.on_starting(loop, self._owns_process)
        factory: Callable[[], asyncio.Protocol] = engine.protocol_factory
        tls: dict[str, Any] = {}
        if ssl_context is not None:
            timeout = engine.options.tls_handshake_timeout
            tls = {"ssl": ssl_context, "ssl_handshake_timeout": timeout}
            factory = TlsWatch(engine, loop, timeout)
        try:
            if sock is not None:
                server = await loop.create_server(factory, sock=sock, backlog=backlog, **tls)
            else:
                server = await loop.create_server(
                    factory,
                    host,
                    port,
                    backlog=backlog,
                    reuse_address=True,
                    reuse_port=reuse_port or None,
                    **tls,
                )
        except OSError as exc:
            self.on_stopping()
            where = f"{host}:{port}" if sock is None else "the socket given"
            reason = exc.strerror or str(exc)
            if exc.errno == errno.EADDRINUSE:
                reason = "address already in use (another server is running there?)"
            raise ListenError(exc.errno or 0, f"cannot listen on {where}: {reason}") from exc
        self._server = server
        self._secure = ssl_context is not None
        addr = server.sockets[0].getsockname()
        self._address = (addr[0], addr[1])
        engine.server_log.info("%s", self.banner())

    async def start_embedded(self) -> None:
        """Start without listening, on the running loop: the timer wheel, the write
        flusher, the :meth:`on_opening` and :meth:`on_starting` hooks (``owns_process=False``), for a server
        whose requests come from elsewhere (:class:`fastsio.ASGIApp` calls it on the
        ASGI lifespan startup, or on its first request).  :meth:`stop` stops it.
        Does nothing if already started (either way)."""
        if self._server is not None or self._embedded:
            return
        loop = asyncio.get_running_loop()
        self.engine.bind_loop(loop)
        self.engine.draining = False
        self._hurry = False
        await self.on_opening()
        self.on_starting(loop, False)
        self._embedded = True

    @property
    def started(self) -> bool:
        """Started (listening, or embedded) and not stopped."""
        return self._server is not None or self._embedded

    def banner(self) -> str:
        """The start-up line: ``fastsio <version> (compiled|pure) listening on
        http://HOST:PORT/socket.io/`` (``https`` with TLS), once started."""
        host, port = self._address or ("?", 0)
        if ":" in host:
            host = f"[{host}]"
        build = "compiled" if IMPLEMENTATIONS and all(v == "cython" for v in IMPLEMENTATIONS.values()) else "pure"
        scheme = "https" if self._secure else "http"
        return f"fastsio {__version__} ({build}) listening on {scheme}://{host}:{port}{self.engine.options.path}"

    def on_starting(self, loop: asyncio.AbstractEventLoop, owns_process: bool) -> None:
        """Hook: the loop is bound, the server is about to listen.

        Args:
            loop: the running loop.
            owns_process: True when called by :meth:`run` (fastsio made the loop and
                owns the process: process-wide changes such as ``gc.freeze()`` are
                fine), False when the application called :meth:`start`.
        """

    async def on_opening(self) -> None:
        """Hook (awaited): :meth:`start` began, before :meth:`on_starting` and listening
        (the server connects its adapters here)."""

    def on_stopping(self) -> None:
        """Hook: ``stop()`` began (no new connections), before the sessions close."""

    async def on_closed(self) -> None:
        """Hook (awaited): :meth:`stop` has closed every connection."""

    async def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully, as Node's ``io.close()`` does for its clients, plus a drain
        of at most ``timeout`` seconds (``None``: the ``shutdown_timeout`` option).

        1. New sessions are refused (503 with ``Retry-After: 1``); listening goes on
           meanwhile, since a polling client may make its next GET on a new
           connection.
        2. Every session is closed with reason ``"server shutting down"`` (the sockets'
           disconnect handlers see it; with connection state recovery on, their
           sessions are kept, as for any transport close).  No Socket.IO DISCONNECT is
           sent: a WebSocket client gets what was emitted to it, then a close frame
           (1000); a polling client gets what was queued for it with its next GET, then
           the CLOSE packet.  socket.io-client sees ``"transport close"`` and
           reconnects (a DISCONNECT would be ``"io server disconnect"``, which it
           does not retry).
        3. It waits, up to ``timeout``, for the polling clients to take what
           they are owed and for the WebSocket clients to answer their close frame
           (whatever was sent before it has then left).
        4. Listening stops, every connection left is flushed and closed (aborted if
           it is still not gone by the deadline, at least one second later), the
           adapters are shut down (:meth:`on_closed`).

        A second SIGINT/SIGTERM under :meth:`run` cuts the wait short.  The server may
        be started again afterwards (:meth:`start`): the namespaces, their handlers and
        their adapters' state (rooms of connected sockets are gone, connection state
        recovery's kept sessions and packets are not) are the same objects."""
        server = self._server
        if server is None and not self._embedded:
            return
        self._server = None
        self._embedded = False
        engine = self.engine
        engine.draining = True
        self.on_stopping()
        engine.close_all("server shutting down")
        # let the close packets and frames leave (the write flusher runs at the end of
        # this loop iteration)
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        if timeout is None:
            timeout = engine.options.shutdown_timeout
        started = loop.time()
        deadline = started + timeout
        while (engine.owed() or engine.open_websockets()) and loop.time() < deadline and not self._hurry:
            await asyncio.sleep(0.01)
        owed, websockets = engine.owed(), engine.open_websockets()
        if owed or websockets:
            engine.server_log.info(
                "stopping: %d polling clients did not come for what they were owed, %d WebSocket "
                "clients did not answer their close frame, in %.3g s",
                owed,
                websockets,
                loop.time() - started,
            )
        engine.forget_lingering()
        if server is not None:
            server.close()
        # then close every connection (what a transport still holds is sent first)
        for conn in list(engine.connections):
            conn.shutdown()
        # (with shutdown_timeout=0, at once; else at least a second for the transports to drain)
        closing = max(deadline, loop.time() + 1.0) if timeout else loop.time()
        while engine.connections and loop.time() < closing and not self._hurry:
            await asyncio.sleep(0.01)
        for conn in list(engine.connections):
            conn.abort()
        engine.connections.clear()
        if server is not None:
            try:
                await asyncio.wait_for(server.wait_closed(), 5.0)
            except asyncio.TimeoutError:  # pragma: no cover
                pass
        if engine.wheel is not None:
            engine.wheel.close()
        await self.on_closed()
        if engine.router is not None:
            engine.router.close()  # run(workers=N): the links to the other workers

    def run_workers(self, host: str, port: int, workers: int, kwargs: dict[str, Any]) -> None:
        """``run(workers=N)``: the subclass supervises N worker processes (Server and
        EngineServer do, through :func:`fastsio.workers.run_workers`)."""
        raise NotImplementedError("this server has no workers")

    async def _serve(self, stopping: asyncio.Event, host: str, port: int, kwargs: Any) -> None:
        # one run of the loop from start to stop: no window between two runs in which
        # the loop is not running and a signal could be missed
        self._owns_process = True
        try:
            await self.start(host, port, **kwargs)
        finally:
            self._owns_process = False
        log = self.engine.server_log
        if not (log.isEnabledFor(logging.INFO) and log.hasHandlers()):
            # nobody shows the INFO line: run() owns the process, say it started anyway
            print(self.banner(), file=sys.stderr, flush=True)
        try:
            await stopping.wait()
        finally:
            await self.stop()

    def run(
        self,
        host: str = "0.0.0.0",
        port: int = 8000,
        *,
        workers: int = 1,
        certfile: str | None = None,
        keyfile: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Serve until SIGINT or SIGTERM, then stop cleanly.  Blocks.

        ``certfile`` (a PEM certificate chain) and ``keyfile`` (its key, if not in
        ``certfile``): serve TLS (``https://``, ``wss://``) with a server context made
        from them; or pass ``ssl_context=`` (not both).

        fastsio owns the process here (its loop, its signal handlers): the
        :meth:`on_starting` hook is told ``owns_process=True``.  ``kwargs`` are
        :meth:`start`'s.  It says when it listens (the :meth:`banner` line: logged at
        INFO, or printed on stderr when no logging handler would show it).  An address
        it cannot listen on (in use ...) is one line on stderr and ``SystemExit(1)``,
        not a traceback (:meth:`start` raises :class:`~fastsio.exceptions.ListenError`).

        ``workers=N`` (N > 1): N worker processes on the same port, this process
        supervising them (:meth:`run_workers`; see docs/workers.md)."""
        if certfile is not None:
            if kwargs.get("ssl_context") is not None:
                raise TypeError("run() takes certfile/keyfile or ssl_context, not both")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certfile, keyfile)
            kwargs["ssl_context"] = ctx
        elif keyfile is not None:
            raise TypeError("run(): keyfile needs certfile")
        if workers != 1:
            self.run_workers(host, port, workers, kwargs)
            return
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        stopping = asyncio.Event()

        def _signal() -> None:
            if stopping.is_set():
                # a second signal: do not wait for the clients any longer
                self._hurry = True
                self.engine.server_log.info("stopping now: a second signal during the drain")
            stopping.set()

        try:
            # before start(): once it listens, a signal must already stop it cleanly
            # (a default SIGTERM would kill it, a SIGINT raise KeyboardInterrupt anywhere)
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, _signal)
                except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
                    signal.signal(sig, lambda *_: loop.call_soon_threadsafe(_signal))
            try:
                loop.run_until_complete(self._serve(stopping, host, port, kwargs))
            except ListenError as exc:
                print(f"fastsio: error: {exc}", file=sys.stderr, flush=True)
                raise SystemExit(1) from None
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
