"""The Engine.IO layer on its own: ``fastsio.EngineServer`` and its sockets."""

from __future__ import annotations

import logging
from typing import Any, Callable

from ._server.engine import Engine
from ._server.listener import Lifecycle
from .protocol.engineio.session import OPEN, Session

log = logging.getLogger("fastsio.engine")

__all__ = ("EngineServer", "EngineSocket")


class EngineSocket:
    """One Engine.IO connection, as the application sees it."""

    __slots__ = ("_session", "_listeners", "__weakref__")

    def __init__(self, session: Session) -> None:
        self._session = session
        self._listeners: dict[str, list[Callable[..., Any]]] = {}

    @property
    def id(self) -> str:
        return self._session.sid

    @property
    def transport(self) -> str:
        return self._session.transport

    @property
    def request(self) -> Any:
        """The handshake request (``method``, ``url``, ``path``, ``query``, ``headers``, ``client``)."""
        return self._session.request

    @property
    def connected(self) -> bool:
        return self._session.state == OPEN

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Listen to ``"message"`` (data) or ``"close"`` (reason); usable as a decorator."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._listeners.setdefault(event, []).append(fn)
            return fn

        return register(handler) if handler is not None else register

    def send(self, data: str | bytes | bytearray | memoryview, compress: bool = True) -> None:
        """Send a MESSAGE (text or binary).  Never blocks.

        ``compress=False``: never compressed, even over a WebSocket with
        permessage-deflate (Node's ``socket.send(data, {compress: false})``)."""
        if isinstance(data, str):
            self._session.send("4" + data, compress)
        else:
            self._session.send(bytes(data), compress)

    def close(self) -> None:
        self._session.close("forced close")

    # the session handler protocol
    def on_open(self) -> None:
        pass

    def on_message(self, data: str | bytes) -> None:
        self._emit("message", data)

    def on_close(self, reason: str) -> None:
        self._emit("close", reason)

    def _emit(self, event: str, arg: Any) -> None:
        for fn in self._listeners.get(event, ()):
            try:
                fn(arg)
            except Exception:
                log.exception("%s listener raised", event)


class EngineServer(Lifecycle):
    """A plain Engine.IO v4 server (what the protocol's own test suite drives); with
    ``allow_eio3=True`` Engine.IO v3 clients too.  ``per_message_deflate`` is as for
    :class:`fastsio.Server` (WebSocket compression, off by default)."""

    def __init__(
        self,
        *,
        path: str = "/engine.io/",
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        max_buffer_size: int = 1_000_000,
        http_compression: bool = True,
        http_keep_alive_timeout: float = 5.0,
        http_request_timeout: float = 30.0,
        per_message_deflate: bool | dict[str, Any] = False,
        transports: tuple[str, ...] = ("polling", "websocket"),
        allow_upgrades: bool = True,
        cors_allowed_origins: str | list[str] | None = None,
        cors_credentials: bool = True,
        allow_request: Callable[[Any], Any] | None = None,
        cookie: str | dict[str, Any] | None = None,
        allow_eio3: bool = False,
    ) -> None:
        super().__init__()
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self.allow_eio3 = allow_eio3
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
            transports=transports,
            allow_upgrades=allow_upgrades,
            cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials,
            allow_request=allow_request,
            cookie=cookie,
            factory=self._new_socket,
            allow_eio3=allow_eio3,
        )

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Listen to ``"connection"`` (an :class:`EngineSocket`); usable as a decorator."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._listeners.setdefault(event, []).append(fn)
            return fn

        return register(handler) if handler is not None else register

    @property
    def clients_count(self) -> int:
        return len(self._engine.sessions)

    def _new_socket(self, session: Session) -> EngineSocket:
        sock = EngineSocket(session)
        for fn in self._listeners.get("connection", ()):
            try:
                fn(sock)
            except Exception:
                log.exception("connection listener raised")
        return sock
