"""Binding, loop choice and graceful shutdown, shared by Server and EngineServer."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from typing import Any

log = logging.getLogger("fastsio.server")


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


class Lifecycle:
    """``start``/``stop``/``run`` around an Engine (``self._engine``).

    Subclasses provide ``_engine`` and may override ``_on_started`` / ``_on_stopping``.
    """

    _engine: Any

    def __init__(self) -> None:
        self._server: asyncio.base_events.Server | None = None
        self._address: tuple[str, int] | None = None

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
        """Start listening (``port=0`` picks a free port; see :attr:`address`)."""
        if self._server is not None:
            raise RuntimeError("server already started")
        loop = asyncio.get_running_loop()
        engine = self._engine
        engine.bind_loop(loop)
        self._on_starting(loop)
        if sock is not None:
            server = await loop.create_server(
                engine.protocol_factory, sock=sock, ssl=ssl_context, backlog=backlog
            )
        else:
            server = await loop.create_server(
                engine.protocol_factory,
                host,
                port,
                ssl=ssl_context,
                backlog=backlog,
                reuse_address=True,
                reuse_port=reuse_port or None,
            )
        self._server = server
        addr = server.sockets[0].getsockname()
        self._address = (addr[0], addr[1])
        log.info("fastsio listening on %s:%d", *self._address)

    def _on_starting(self, loop: asyncio.AbstractEventLoop) -> None:
        pass

    def _on_stopping(self) -> None:
        pass

    async def stop(self) -> None:
        """Stop accepting, disconnect every client ("server shutting down"), close."""
        server = self._server
        if server is None:
            return
        self._server = None
        server.close()
        engine = self._engine
        self._on_stopping()
        engine.close_all("server shutting down")
        # let the close packets and frames leave, then close every connection
        await asyncio.sleep(0)
        for conn in list(engine.connections):
            conn.shutdown()
        try:
            await asyncio.wait_for(server.wait_closed(), 5.0)
        except asyncio.TimeoutError:  # pragma: no cover
            pass
        if engine.wheel is not None:
            engine.wheel.close()

    async def _serve(self, stopping: asyncio.Event, host: str, port: int, kwargs: Any) -> None:
        # one run of the loop from start to stop: no window between two runs in which
        # the loop is not running and a signal could be missed
        await self.start(host, port, **kwargs)
        try:
            await stopping.wait()
        finally:
            await self.stop()

    def run(self, host: str = "0.0.0.0", port: int = 8000, **kwargs: Any) -> None:
        """Serve until SIGINT or SIGTERM, then stop cleanly.  Blocks."""
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        stopping = asyncio.Event()

        def _signal() -> None:
            stopping.set()

        try:
            # before start(): once it listens, a signal must already stop it cleanly
            # (a default SIGTERM would kill it, a SIGINT raise KeyboardInterrupt anywhere)
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, _signal)
                except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
                    signal.signal(sig, lambda *_: loop.call_soon_threadsafe(_signal))
            loop.run_until_complete(self._serve(stopping, host, port, kwargs))
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
