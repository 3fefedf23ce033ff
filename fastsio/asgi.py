"""``fastsio.ASGIApp``: a fastsio server inside any ASGI server (uvicorn, hypercorn), beside another app.

::

    sio = fastsio.Server()
    app = fastsio.ASGIApp(sio, fastapi_app)      # uvicorn module:app

How it works: the ASGI app routes by path.  Requests for the server's Engine.IO path
(``/socket.io/``) go to its engine: ``http`` scopes (long-polling) and ``websocket``
scopes (the WebSocket transport, upgrades from polling included) through the adapters
of :mod:`fastsio._server.asgi`, so handshakes, CORS, hooks, ``allow_request``, the
protection caps and the heartbeat are the engine's, as on fastsio's own server; the
ASGI server does the HTTP parsing, the WebSocket framing and permessage-deflate.
``static_files`` (as python-socketio's ``ASGIApp``) are served next, then every other
request goes to ``other_asgi_app`` (404 without one).

The ``lifespan`` scope goes to ``other_asgi_app`` (when there is one); the fastsio
server starts (its timer wheel, the recovery sweep: :meth:`~fastsio.Server.start_embedded`)
on ``lifespan.startup``, before the other app hears of it, and stops
(:meth:`~fastsio.Server.stop`: every client disconnected, polling clients given what
they are owed) on ``lifespan.shutdown``, before the other app shuts down.  Under an
ASGI server with lifespan off it starts on its first request instead.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Awaitable, Callable, Mapping, MutableMapping

from ._server.asgi import ASGIApplication, AsgiExchange, FrameMessages, request_of, serve_http, serve_websocket
from ._server.listener import Lifecycle
from ._server.static import StaticFiles

__all__ = ("ASGIApp",)

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _engine_path(socketio_path: str) -> str:
    return "/" + socketio_path.strip("/") + "/"


async def _call(fn: Callable[[], Any] | None) -> None:
    if fn is not None:
        result = fn()
        if inspect.isawaitable(result):
            await result


class ASGIApp:
    """An ASGI 3 application serving ``sio`` (a :class:`fastsio.Server` or
    :class:`fastsio.EngineServer`) and, on the other paths, ``other_asgi_app``.

    Args:
        sio: the fastsio server (not started: the ASGI server serves it).
        other_asgi_app: the ASGI app of the other paths (FastAPI, Starlette ...),
            which also gets the ``lifespan`` scope; None: 404 there.
        socketio_path: the Engine.IO path, which must be the server's ``path``
            option (``"socket.io"`` and ``"/socket.io/"`` are the same); None: the
            server's.  A different path is given to the server (``Server(path=...)``),
            not here: the server's options are fixed when it is made.
        static_files: URL paths mapped to files or directories, as the server's
            ``static_files`` option (served before ``other_asgi_app``).
        on_startup: called (awaited if async) on ``lifespan.startup``, after the
            fastsio server started.
        on_shutdown: called on ``lifespan.shutdown``, after the fastsio server stopped.

    Raises:
        ValueError: ``socketio_path`` is not the server's path.
    """

    def __init__(
        self,
        sio: Lifecycle,
        other_asgi_app: ASGIApplication | None = None,
        socketio_path: str | None = None,
        *,
        static_files: Mapping[str, Any] | None = None,
        on_startup: Callable[[], Any] | None = None,
        on_shutdown: Callable[[], Any] | None = None,
    ) -> None:
        engine = sio.engine
        if socketio_path is not None and _engine_path(socketio_path) != engine.path:
            raise ValueError(
                f"socketio_path={socketio_path!r}, but the server's path is {engine.path!r}:"
                f" make the server with path={_engine_path(socketio_path)!r}"
            )
        #: the fastsio server served
        self.sio = sio
        #: the ASGI app of the other paths (None: 404)
        self.other_asgi_app = other_asgi_app
        self._engine = engine
        self._static = StaticFiles(dict(static_files)) if static_files else None
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        # the broadcast frames' messages, decoded once per broadcast for all its WebSockets
        self._messages = FrameMessages()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        engine = self._engine
        path = scope.get("path", "")
        if path == engine.path or path == engine.path_noslash:
            if not self.sio.started:
                await self.sio.start_embedded()
            if kind == "http":
                await serve_http(engine, scope, receive, send)
            elif kind == "websocket":
                await serve_websocket(engine, scope, receive, send, self._messages)
            return
        if kind == "http" and path == engine.metrics_path:
            # the ``metrics`` option: the Prometheus text, as on fastsio's own server
            await self._answer(scope, send, engine.serve_metrics)
            return
        if self._static is not None and kind == "http" and self._static.resolve(path) is not None:
            await self._serve_static(scope, receive, send)
            return
        if self.other_asgi_app is not None:
            await self.other_asgi_app(scope, receive, send)
            return
        if kind == "http":
            body = b"Not Found"
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"9")],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif kind == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1000})

    async def _serve_static(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        assert self._static is not None
        await self._answer(scope, send, self._static)

    async def _answer(self, scope: MutableMapping[str, Any], send: Send, handler: Callable[[Any, Any], Any]) -> None:
        """Answer an HTTP request with ``handler(exchange, request)`` (the static files,
        the metrics), which answers at once through the exchange."""
        req = request_of(scope)
        conn = AsgiExchange(asyncio.get_running_loop(), req.client, self._engine.server_log)
        handler(conn, req)
        status, headers, body, _close, length = await conn.answer
        head = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        head.append((b"content-length", str(length).encode("ascii")))
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": body})

    async def startup(self) -> None:
        """What ``lifespan.startup`` does here: start the fastsio server (without
        listening), then ``on_startup``."""
        await self.sio.start_embedded()
        await _call(self._on_startup)

    async def shutdown(self) -> None:
        """What ``lifespan.shutdown`` does here: stop the fastsio server, then ``on_shutdown``."""
        await self.sio.stop()
        await _call(self._on_shutdown)

    async def _lifespan(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        other = self.other_asgi_app
        if other is None:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "lifespan.startup":
                    try:
                        await self.startup()
                    except Exception as exc:
                        await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif kind == "lifespan.shutdown":
                    try:
                        await self.shutdown()
                    except Exception as exc:
                        await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
                        return
                    await send({"type": "lifespan.shutdown.complete"})
                    return

        async def passed_on() -> MutableMapping[str, Any]:
            # ours first on startup (the other app's startup may use the server),
            # ours first on shutdown too (clients leave before the app's resources go)
            message = await receive()
            kind = message["type"]
            if kind == "lifespan.startup":
                await self.startup()
            elif kind == "lifespan.shutdown":
                await self.shutdown()
            return message

        await other(scope, passed_on, send)
