"""The Engine.IO layer on its own: ``fastsio.EngineServer`` and its sockets."""

from __future__ import annotations

import logging
from typing import Any, Callable

from ._server.engine import Engine
from ._server.listener import Lifecycle
from .workers import run_workers
from .options import EngineOptions, render_options
from .protocol.engineio.session import OPEN, Session
from .protocol.engineio.wire import MESSAGE_PREFIX

__all__ = ("EngineServer", "EngineSocket")


class EngineSocket:
    """One Engine.IO connection, as the application sees it."""

    __slots__ = ("_session", "_listeners", "__weakref__")

    def __init__(self, session: Session) -> None:
        self._session = session
        self._listeners: dict[str, list[Callable[..., Any]]] = {}

    @property
    def id(self) -> str:
        """The session id."""
        return self._session.sid

    @property
    def transport(self) -> str:
        """The current transport: ``"polling"`` or ``"websocket"``."""
        return self._session.transport

    @property
    def request(self) -> Any:
        """The handshake request (``method``, ``url``, ``path``, ``query``, ``headers``, ``client``)."""
        return self._session.request

    @property
    def session(self) -> Session:
        """The Engine.IO session behind this socket (its transports: ``session.ws``, ...)."""
        return self._session

    @property
    def connected(self) -> bool:
        """Whether the session is open."""
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
            self._session.send(MESSAGE_PREFIX + data, compress)
        else:
            self._session.send(bytes(data), compress)

    def close(self) -> None:
        """Close the session ("forced close")."""
        self._session.close("forced close")

    # the SessionHandler protocol
    def on_open(self, now: float) -> None:
        """The session is open (nothing to do: the ``connection`` listeners ran)."""

    def on_message(self, data: str | bytes) -> None:
        """A message: the ``"message"`` listeners get it."""
        self._emit("message", data)

    def on_close(self, reason: str) -> None:
        """The session closed: the ``"close"`` listeners get the reason."""
        self._emit("close", reason)

    def _emit(self, event: str, arg: Any) -> None:
        for fn in self._listeners.get(event, ()):
            try:
                fn(arg)
            except Exception:
                self._session.owner.log.exception("%s listener raised", event)


class EngineServer(Lifecycle):
    """A plain Engine.IO v4 server (what the protocol's own test suite drives); with
    ``allow_eio3=True`` Engine.IO v3 clients too.

    Raises:
        TypeError: an unknown option, or a value of the wrong type.
        ValueError: an invalid value.

    Options (keyword arguments; see :class:`fastsio.options.EngineOptions`):

"""

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._options = EngineOptions.from_kwargs(**options)
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._engine = Engine(self._options, factory=self._new_socket, logger=logging.getLogger("fastsio"))

    @property
    def options(self) -> EngineOptions:
        """The server's options (validated, read-only)."""
        return self._options

    @property
    def engine(self) -> Engine:
        """The Engine.IO engine (sessions, connections)."""
        return self._engine

    def run_workers(self, host: str, port: int, workers: int, kwargs: dict[str, Any]) -> None:
        """``run(workers=N)``: N worker processes on one port, each session served by the
        worker that made it (:mod:`fastsio.workers`); nothing is shared between them."""
        run_workers(self, host, port, workers, kwargs)

    @property
    def allow_eio3(self) -> bool:
        """``options.allow_eio3``."""
        return self._options.allow_eio3

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Listen to ``"connection"`` (an :class:`EngineSocket`); usable as a decorator."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._listeners.setdefault(event, []).append(fn)
            return fn

        return register(handler) if handler is not None else register

    @property
    def clients_count(self) -> int:
        """The number of open sessions."""
        return len(self._engine.sessions)

    def _new_socket(self, session: Session) -> EngineSocket:
        sock = EngineSocket(session)
        for fn in self._listeners.get("connection", ()):
            try:
                fn(sock)
            except Exception:
                self._engine.log.exception("connection listener raised")
        return sock


if EngineServer.__doc__ is not None:  # not under python -OO
    EngineServer.__doc__ += render_options(EngineOptions, indent="    ") + "\n"
