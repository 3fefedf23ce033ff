"""``Namespace``: handlers, middleware and the sockets connected to one namespace."""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ._handlers import Handler, ack_args, spawn
from .broadcast import BroadcastOperator
from .exceptions import AckTimeout, ConnectionRefused
from .protocol import socketio as sio
from .socket import Client, Socket

if TYPE_CHECKING:
    from .server import Server

log = logging.getLogger("fastsio")

__all__ = ("Namespace",)


class Namespace:
    """A namespace (``sio.of("/chat")``)."""

    def __init__(self, server: Server, name: str) -> None:
        self.server = server
        self.name = name
        # event name -> Handler ("connect", "disconnect", "error" and application events)
        self.handlers: dict[str, Handler] = {}
        self.middlewares: list[Handler] = []
        # socket id -> connected Socket
        self.sockets: dict[str, Socket] = {}
        self.adapter = server._make_adapter(self)
        self._ack_id = 0

    def __repr__(self) -> str:
        return f"<Namespace {self.name!r} sockets={len(self.sockets)}>"

    # ------------------------------------------------------------------ registration
    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Register ``handler`` for ``event``; usable as a decorator.

        ``connect(socket, auth)``, ``disconnect(socket, reason)``, ``error(socket, exc)``,
        and ``event(socket, *args)`` whose return value is the acknowledgement.
        """

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.handlers[event] = Handler(fn)
            return fn

        return register(handler) if handler is not None else register

    def event(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: register ``fn`` for the event named like the function."""
        return self.on(fn.__name__, fn)

    def use(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Add a connect middleware ``fn(socket, auth)``: raise ConnectionRefused to refuse."""
        self.middlewares.append(Handler(fn))
        return fn

    # ------------------------------------------------------------------ broadcasting
    def _operator(
        self, rooms: Iterable[str] = (), except_rooms: Iterable[str] = ()
    ) -> BroadcastOperator:
        return BroadcastOperator(self, frozenset(rooms), frozenset(except_rooms))

    def emit(self, event: str, *args: Any) -> int:
        """Send ``event`` to every socket of the namespace."""
        return self._operator().emit(event, *args)

    def send(self, *args: Any) -> int:
        return self.emit("message", *args)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        return self._operator().to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        return self._operator().except_(room)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self._operator().timeout(seconds)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        return await self._operator().emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[Socket]:
        return await self._operator().fetch_sockets()

    def sockets_join(self, room: str | Iterable[str]) -> None:
        self._operator().sockets_join(room)

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        self._operator().sockets_leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        self._operator().disconnect_sockets(close)

    def next_ack_id(self) -> int:
        ack_id = self._ack_id
        self._ack_id = ack_id + 1
        return ack_id

    # ------------------------------------------------------------------ connecting
    def _connect(self, client: Client, auth: Any) -> None:
        """Run middleware and the connect handler, then reply CONNECT (or CONNECT_ERROR).

        Synchronous handlers run inline; the first awaitable moves the rest to a task.
        Packets for the namespace that arrive meanwhile wait in ``client.connecting``.
        """
        if not isinstance(auth, dict):
            auth = {}
        sock = Socket(self, client, auth)
        steps = list(self.middlewares)
        connect = self.handlers.get("connect")
        client.connecting[self.name] = []
        for i, step in enumerate(steps):
            try:
                result = step(sock, auth)
            except ConnectionRefused as exc:
                self._refuse(client, exc)
                return
            except Exception as exc:
                self._refuse(client, ConnectionRefused(str(exc) or type(exc).__name__))
                self._report(sock, exc)
                return
            if inspect.isawaitable(result):
                spawn(self._connect_async(client, sock, auth, result, steps[i + 1 :], connect))
                return
        if connect is not None:
            try:
                result = connect(sock, auth)
            except ConnectionRefused as exc:
                self._refuse(client, exc)
                return
            except Exception as exc:
                self._refuse(client, ConnectionRefused(str(exc) or type(exc).__name__))
                self._report(sock, exc)
                return
            if inspect.isawaitable(result):
                spawn(self._connect_async(client, sock, auth, result, [], None))
                return
            if result is False:
                self._refuse(client, ConnectionRefused())
                return
        self._accept(client, sock)

    async def _connect_async(
        self,
        client: Client,
        sock: Socket,
        auth: Any,
        pending: Any,
        steps: list[Handler],
        connect: Handler | None,
    ) -> None:
        try:
            result = await pending
            if result is False and connect is None and not steps:
                raise ConnectionRefused()
            for step in steps:
                result = step(sock, auth)
                if inspect.isawaitable(result):
                    await result
            if connect is not None:
                result = connect(sock, auth)
                if inspect.isawaitable(result):
                    result = await result
                if result is False:
                    raise ConnectionRefused()
        except ConnectionRefused as exc:
            self._refuse(client, exc)
            return
        except Exception as exc:
            self._refuse(client, ConnectionRefused(str(exc) or type(exc).__name__))
            self._report(sock, exc)
            return
        self._accept(client, sock)

    def _refuse(self, client: Client, exc: ConnectionRefused) -> None:
        client.connecting.pop(self.name, None)
        client.send_parts(sio.encode(sio.CONNECT_ERROR, self.name, exc.payload()))

    def _accept(self, client: Client, sock: Socket) -> None:
        queued = client.connecting.pop(self.name, [])
        if client.session.state != 1:  # the connection went away meanwhile
            return
        sock.connected = True
        self.sockets[sock.id] = sock
        client.sockets[self.name] = sock
        self.adapter.add_all(sock.id, [sock.id])
        client.connected(sock)
        client.send_parts(sio.encode(sio.CONNECT, self.name, {"sid": sock.id}))
        sock._release_held()
        for pkt in queued:
            if not sock.connected:
                break
            sock._on_packet(pkt)

    def _remove(self, sock: Socket, reason: str) -> None:
        handler = self.handlers.get("disconnect")
        if handler is not None:
            self._run(sock, handler, (sock, reason), None)
        self.adapter.delete_all(sock.id)
        self.sockets.pop(sock.id, None)

    # ------------------------------------------------------------------ events
    def _dispatch_event(self, sock: Socket, data: list[Any], ack_id: int | None) -> None:
        event = data[0]
        handler = self.handlers.get(event) if isinstance(event, str) else None
        if handler is None:
            handler = self.handlers.get("*")
            if handler is None:
                log.debug("no handler for event %r on %s", event, self.name)
                return
            args = (sock, *data)
        else:
            args = (sock, *data[1:])
        self._run(sock, handler, args, ack_id)

    def _run(self, sock: Socket, handler: Handler, args: tuple[Any, ...], ack_id: int | None) -> None:
        if handler.is_async:
            spawn(self._run_async(sock, handler, args, ack_id))
            return
        try:
            result = handler(*args)
        except Exception as exc:
            self._report(sock, exc)
            return
        if inspect.isawaitable(result):
            spawn(self._finish_async(sock, result, ack_id))
        elif ack_id is not None:
            sock.send_ack(ack_id, ack_args(result))

    async def _run_async(
        self, sock: Socket, handler: Handler, args: tuple[Any, ...], ack_id: int | None
    ) -> None:
        await self._finish_async(sock, handler(*args), ack_id)

    async def _finish_async(self, sock: Socket, awaitable: Any, ack_id: int | None) -> None:
        try:
            result = await awaitable
        except AckTimeout as exc:
            self._report(sock, exc)
            return
        except Exception as exc:
            self._report(sock, exc)
            return
        if ack_id is not None:
            sock.send_ack(ack_id, ack_args(result))

    def _report(self, sock: Socket, exc: BaseException) -> None:
        """A handler or middleware raised: log it and tell the namespace's ``error`` hook."""
        log.error("handler raised on %s", self.name, exc_info=exc)
        hook = self.handlers.get("error")
        if hook is None:
            return
        try:
            result = hook(sock, exc)
            if inspect.isawaitable(result):
                spawn(result)
        except Exception:
            log.exception("error hook raised")
