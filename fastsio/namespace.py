"""``Namespace``: handlers, middleware and the sockets connected to one namespace.

This module sits below the server: it reaches it only through
:class:`NamespaceServer`, the interface it declares (``fastsio.Server`` satisfies it).
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any, Awaitable, Callable, Coroutine, Iterable, Protocol

from ._handlers import Handler, ack_args, is_awaitable, spawn
from .adapters.base import Adapter, RecoverySession, RemoteSocket, TransportCounter
from .adapters.memory import MemoryAdapter
from .broadcast import BroadcastOperator
from .exceptions import AckTimeout, ConnectionRefused
from .observers import Observer, notify
from .protection import LogThrottle
from .protocol.socketio import packets as sio
from .socket import Client, ClientRouter, Socket, new_socket_id

__all__ = ("Namespace", "NamespaceServer", "ParentNamespace")


class NamespaceServer(ClientRouter, Protocol):
    """What a :class:`Namespace` needs of its server (:class:`fastsio.Server`
    satisfies it): the :class:`~fastsio.socket.ClientRouter` part (options, parser,
    logger), and:"""

    @property
    def engine(self) -> TransportCounter:
        """The engine serving the connections (adapters compare its transport changes)."""
        ...

    def remove_namespace(self, ns: Namespace) -> None:
        """Forget the child namespace ``ns`` (``cleanup_empty_child_namespaces``)."""
        ...

    @property
    def observers(self) -> list[Observer]:
        """The server's observers (one list, shared by its namespaces)."""
        ...


class Namespace:
    """A namespace (``sio.of("/chat")``).

    Args:
        server: the server it belongs to.
        name: its name (``"/chat"``).
        parent: the dynamic namespace it was created from, if any (it shares its
            handlers, middleware and catch-all listeners).

    Attributes:
        options: the server's :class:`~fastsio.options.ServerOptions`.
        log: the server's logger.
        parser: the server's parser.
        recovery: connection state recovery's options, or ``None`` (off).
        adapter: the rooms and fan-out (``options.adapter(namespace)``, or a
            :class:`~fastsio.adapters.MemoryAdapter`).
        sockets: socket id -> connected socket.
    """

    def __init__(self, server: NamespaceServer, name: str, parent: ParentNamespace | None = None) -> None:
        self.server = server
        self.name = name
        # the dynamic namespace this one was created from (it shares its handlers)
        self.parent = parent
        # event name -> Handler ("connect", "disconnect", "error" and application events)
        self.handlers: dict[str, Handler] = parent.handlers if parent is not None else {}
        self.middlewares: list[Handler] = parent.middlewares if parent is not None else []
        # catch-all listeners of every socket of the namespace (shared with the parent)
        self.any_in: list[Handler] = parent.any_in if parent is not None else []
        self.any_out: list[Handler] = parent.any_out if parent is not None else []
        # server-side events from the other nodes of a cluster (shared with the parent)
        self.server_side_handlers: dict[str, Handler] = (
            parent.server_side_handlers if parent is not None else {}
        )
        # socket id -> connected Socket
        self.sockets: dict[str, Socket] = {}
        # the server's options, logger, parser, engine and connection state recovery
        # options (None: off), read from here by the sockets, broadcasts and the adapter
        self.options = options = server.options
        self.log: logging.Logger = server.socketio_log
        #: the adapters' logger (``<logger>.adapter``)
        self.adapter_log: logging.Logger = server.log.getChild("adapter")
        # refused CONNECTs: one line each, at most once a second (a flood must not flood the log)
        self._refusals = LogThrottle(self.log, level=logging.INFO)
        #: the namespace label of its metrics: its name, or its dynamic parent's (a
        #: child's name comes from clients: it must not make the counters grow)
        self.metrics_name = parent.name if parent is not None else name
        self.parser: Any = server.parser
        self.engine: TransportCounter = server.engine
        self.recovery = options.connection_state_recovery
        # the server's observers (fastsio.observers; the same list object, usually empty)
        self.observers: list[Observer] = server.observers
        factory: Callable[[Namespace], Adapter] = options.adapter or MemoryAdapter
        self.adapter: Adapter = factory(self)
        self._ack_id = 0
        # how many outgoing catch-all listeners exist on this namespace's sockets
        self._outgoing = 0
        # CONNECTs being handled (middleware or connect handler running): a child
        # namespace is not removed while one may still add a socket to it
        self._pending = 0

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
        self.handlers[fn.__name__] = Handler(fn)
        return fn

    def use(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Add a connect middleware ``fn(socket, auth)``: raise ConnectionRefused to refuse."""
        self.middlewares.append(Handler(fn))
        return fn

    # ------------------------------------------------------------------ catch-all listeners
    def on_any(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn(socket, event, *args)`` for every incoming event of every socket here."""
        self.any_in.append(Handler(fn))
        return fn

    def prepend_any(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Like :meth:`on_any`, before the listeners already there."""
        self.any_in.insert(0, Handler(fn))
        return fn

    def off_any(self, fn: Callable[..., Any] | None = None) -> None:
        """Remove the catch-all listener ``fn`` (or every one)."""
        self.any_in[:] = [h for h in self.any_in if fn is not None and h.fn is not fn]

    def on_any_outgoing(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn(socket, event, *args)`` for every event sent to a socket here
        (broadcasts included: once per recipient)."""
        self.any_out.append(Handler(fn))
        return fn

    def prepend_any_outgoing(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Like :meth:`on_any_outgoing`, before the listeners already there."""
        self.any_out.insert(0, Handler(fn))
        return fn

    def off_any_outgoing(self, fn: Callable[..., Any] | None = None) -> None:
        """Remove the outgoing catch-all listener ``fn`` (or every one)."""
        self.any_out[:] = [h for h in self.any_out if fn is not None and h.fn is not fn]

    def notify_outgoing(self, sock: Socket, event: str, args: tuple[Any, ...]) -> None:
        """Call the outgoing catch-all listeners (the namespace's, then ``sock``'s) for
        ``event`` sent to ``sock``; one that raises is reported, the others still run."""
        if not self.any_out and not sock.any_out:
            return
        for listeners in (self.any_out, sock.any_out or ()):
            for h in list(listeners):
                try:
                    h(sock, event, *args)
                except Exception as exc:
                    self._report(sock, exc)

    def has_outgoing(self) -> bool:
        """Whether any outgoing catch-all listener exists here (namespace or socket)."""
        return bool(self.any_out) or self._outgoing > 0

    def count_outgoing(self, delta: int) -> None:
        """A socket's outgoing catch-all listeners grew (or shrank) by ``delta``."""
        self._outgoing += delta

    # ------------------------------------------------------------------ cluster
    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the other nodes of the cluster (none with the memory adapter)."""
        self.adapter.server_side_emit(self.name, event, args)

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Like :meth:`server_side_emit`, collecting one reply per other node.

        Raises:
            AckTimeout: not every node answered within the adapter's requests timeout
                (``replies`` holds the replies that came).
        """
        return await self.adapter.server_side_emit_with_ack(self.name, event, args)

    def on_server_side(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Handle ``event`` sent to this namespace by another node's
        ``server_side_emit``: ``handler(*args)``, whose return value (awaited if it is
        a coroutine) is the acknowledgement; usable as a decorator."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.server_side_handlers[event] = Handler(fn)
            return fn

        return register(handler) if handler is not None else register

    def server_side_event(self, event: str, args: list[Any], ack: Callable[[Any], None] | None) -> None:
        """Another node's ``server_side_emit`` of ``event`` (the adapter calls it): run
        the handler; ``ack(value)`` with its return value when the sender waits for one.
        An event without a handler is ignored; a handler that raises is logged."""
        handler = self.server_side_handlers.get(event)
        if handler is None:
            self.log.debug("no server-side handler for %r on %s", event, self.name)
            return
        try:
            result = handler(*args)
        except Exception:
            self.log.exception("server-side handler of %r raised on %s", event, self.name)
            return
        if is_awaitable(result):
            spawn(self._server_side_async(event, result, ack))
        elif ack is not None:
            ack(result)

    async def _server_side_async(
        self, event: str, pending: Awaitable[Any], ack: Callable[[Any], None] | None
    ) -> None:
        try:
            result = await pending
        except Exception:
            self.log.exception("server-side handler of %r raised on %s", event, self.name)
            return
        if ack is not None:
            ack(result)

    # ------------------------------------------------------------------ broadcasting
    def operator(
        self, rooms: Iterable[str] = (), except_rooms: Iterable[str] = ()
    ) -> BroadcastOperator[Socket]:
        """A broadcast selection of this namespace's sockets: those in any of ``rooms``
        (none: all) but not in any of ``except_rooms``."""
        return BroadcastOperator(self, frozenset(rooms), frozenset(except_rooms))

    @property
    def volatile(self) -> BroadcastOperator[Socket]:
        """The next broadcast skips connections that cannot take it right now."""
        return self.operator().volatile

    @property
    def local(self) -> BroadcastOperator[Socket]:
        """The next broadcast reaches only this node's sockets."""
        return self.operator().local

    def emit(self, event: str, *args: Any) -> int:
        """Send ``event`` to every socket of the namespace; returns how many."""
        return self.operator().emit(event, *args)

    def send(self, *args: Any) -> int:
        """Emit a ``message`` event to every socket of the namespace."""
        return self.emit("message", *args)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Broadcast to the sockets in ``room`` (or several)."""
        return BroadcastOperator.in_rooms(self, room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Broadcast to the sockets not in ``room`` (or several)."""
        return self.operator().except_(room)

    def timeout(self, seconds: float) -> BroadcastOperator[Socket]:
        """``emit_with_ack`` waits at most ``seconds`` for the replies."""
        return self.operator().timeout(seconds)

    def compress(self, value: bool = True) -> BroadcastOperator[Socket]:
        """``compress(False)``: the broadcast goes uncompressed (permessage-deflate)."""
        return self.operator().compress(value)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Emit to every socket and collect one reply each (see
        :meth:`BroadcastOperator.emit_with_ack`)."""
        return await self.operator().emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """The connected sockets (with a cluster adapter, the other nodes' too)."""
        return await self.operator().fetch_sockets()

    def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make every socket join ``room`` (or several)."""
        self.operator().sockets_join(room)

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make every socket leave ``room`` (or several)."""
        self.operator().sockets_leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket (``close=True``: their whole connections)."""
        self.operator().disconnect_sockets(close)

    def next_ack_id(self) -> int:
        """A new acknowledgement id (unique in the namespace)."""
        ack_id = self._ack_id
        self._ack_id = ack_id + 1
        return ack_id

    # ------------------------------------------------------------------ connecting
    def connect_client(self, client: Client, auth: Any) -> None:
        """Run middleware and the connect handler, then reply CONNECT (or CONNECT_ERROR).

        Synchronous handlers run inline; the first awaitable moves the rest to a task.
        Packets for the namespace that arrive meanwhile wait in ``client.connecting``.
        """
        if not isinstance(auth, dict):
            auth = {}
        sock = Socket(self, client, auth)
        self._pending += 1  # until _accept or _refuse
        steps = list(self.middlewares)
        recovery = self.recovery
        client.begin_connect(self.name)
        if recovery is not None and client.session.eio != 3:
            if (
                self.adapter.cluster_recovery
                and isinstance(auth.get("pid"), str)
                and isinstance(auth.get("offset"), str)
            ):
                # the session is in the cluster (a Redis stream adapter): fetched first
                spawn(self._restore_then_connect(client, sock, auth))
                return
            if self._restore(sock, auth) and recovery.skip_middlewares:
                steps = []
        self._run_connect(client, sock, auth, steps)

    async def _restore_then_connect(self, client: Client, sock: Socket, auth: dict[str, Any]) -> None:
        """Connection state recovery through the cluster: fetch the session the client
        names, then connect as :meth:`connect_client` does."""
        kept = None
        try:
            kept = await self.adapter.fetch_session(auth["pid"], auth["offset"])
        except Exception as exc:
            self.log.warning("socket %s on %s: the session could not be fetched: %s", sock.id, self.name, exc)
        steps = list(self.middlewares)
        recovery = self.recovery
        if self._adopt(sock, auth, kept) and recovery is not None and recovery.skip_middlewares:
            steps = []
        self._run_connect(client, sock, auth, steps)

    def _run_connect(self, client: Client, sock: Socket, auth: dict[str, Any], steps: list[Handler]) -> None:
        """The middleware ``steps`` and the connect handler, then :meth:`_accept` (or
        :meth:`_refuse`)."""
        connect = self.handlers.get("connect")
        for i, step in enumerate(steps):
            try:
                result = step(sock, auth)
            except ConnectionRefused as exc:
                self._refuse(client, sock, exc)
                return
            except Exception as exc:
                self._refuse(client, sock, ConnectionRefused(str(exc) or type(exc).__name__))
                self._report(sock, exc)
                return
            if is_awaitable(result):
                spawn(self._connect_async(client, sock, auth, result, steps[i + 1 :], connect))
                return
        if connect is not None:
            try:
                result = connect(sock, auth)
            except ConnectionRefused as exc:
                self._refuse(client, sock, exc)
                return
            except Exception as exc:
                self._refuse(client, sock, ConnectionRefused(str(exc) or type(exc).__name__))
                self._report(sock, exc)
                return
            if is_awaitable(result):
                spawn(self._connect_async(client, sock, auth, result, [], None))
                return
            if result is False:
                self._refuse(client, sock, ConnectionRefused())
                return
        self._accept(client, sock)

    async def _connect_async(
        self,
        client: Client,
        sock: Socket,
        auth: Any,
        pending: Awaitable[Any],
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
            self._refuse(client, sock, exc)
            return
        except Exception as exc:
            self._refuse(client, sock, ConnectionRefused(str(exc) or type(exc).__name__))
            self._report(sock, exc)
            return
        self._accept(client, sock)

    def _restore(self, sock: Socket, auth: dict[str, Any]) -> bool:
        """Connection state recovery: give ``sock`` the id, rooms and data of the session
        the client names (``auth`` ``pid`` and ``offset``, as socket.io-client sends them
        on reconnection) if it can be recovered; else a new private session id."""
        pid = auth.get("pid")
        offset = auth.get("offset")
        kept = None
        if isinstance(pid, str) and isinstance(offset, str):
            kept = self.adapter.restore_session(pid, offset)
        return self._adopt(sock, auth, kept)

    def _adopt(self, sock: Socket, auth: dict[str, Any], kept: RecoverySession | None) -> bool:
        """Give ``sock`` the kept session (the id, rooms and data it had), or, with none,
        a new private session id; whether it was recovered."""
        pid = auth.get("pid")
        offset = auth.get("offset")
        if kept is not None:
            if kept.sid in self.sockets:  # pragma: no cover - kept only once disconnected
                self.adapter.release(kept)
            else:
                sock.id = kept.sid
                sock.pid = kept.pid
                sock.data = kept.data
                sock.recovered = True
                sock.restoring = kept
                self.adapter.add_all(kept.sid, kept.rooms)
                self.log.debug("socket %s on %s: session recovered", sock.id, self.name)
                return True
        if pid is not None or offset is not None:
            # a reconnection after expiry, or a forged / replayed pid or offset
            self.log.debug(
                "socket %s on %s: session %.40r at offset %.40r not recovered (unknown, expired, "
                "already recovered, or an offset that is not ours); a new session",
                sock.id, self.name, pid, offset,
            )
        sock.pid = new_socket_id()
        return False

    def _abandon(self, sock: Socket) -> None:
        """A socket that will not connect: forget the rooms it joined, keep again the
        session it was restoring."""
        kept = sock.restoring
        if kept is not None:
            sock.restoring = None
            self.adapter.release(kept)
        if sock.id not in self.sockets:
            self.adapter.delete_all(sock.id)

    def _refuse(self, client: Client, sock: Socket, exc: ConnectionRefused) -> None:
        self._refusals.warn(
            "connect",
            "socket %s on %s from %s: CONNECT refused: %.200s",
            sock.id,
            self.name,
            sock.handshake.address,
            exc.message,
            now=time.monotonic(),
        )
        metrics = self.engine.metrics
        if metrics is not None:
            metrics.count(metrics.connects, (self.metrics_name, "refused"))
        self._pending -= 1
        self._abandon(sock)
        client.end_connect(self.name)
        self._cleanup()
        if client.session.eio == 3:
            # Socket.IO v4: an ERROR packet with the data, or else the message (as Node)
            client.send_parts(self.parser.encode(sio.CONNECT_ERROR, self.name, exc.data or exc.message))
            return
        client.send_parts(self.parser.encode(sio.CONNECT_ERROR, self.name, exc.payload()))

    def _accept(self, client: Client, sock: Socket) -> None:
        self._pending -= 1
        queued = client.end_connect(self.name)
        if client.session.state != 1:  # the connection went away meanwhile
            self._abandon(sock)
            self._cleanup()
            return
        sock.connected = True
        metrics = self.engine.metrics
        if metrics is not None:
            metrics.count(metrics.connects, (self.metrics_name, "accepted"))
        self.sockets[sock.id] = sock
        client.add_socket(self.name, sock)
        self.adapter.add_all(sock.id, [sock.id])
        client.connected(sock)
        if client.session.eio == 3:
            client.send_parts(self.parser.encode(sio.CONNECT, self.name))  # Socket.IO v4: no payload
        elif sock.pid is not None:
            # connection state recovery: what it missed, then the CONNECT reply with the
            # private session id; Node's order (socket.io-client holds events that come
            # before the reply and delivers them, in order, before its "connect" event)
            kept = sock.restoring
            if kept is not None:
                sock.restoring = None
                for parts in self.adapter.replay(kept):
                    client.send_parts(parts)
            client.send_parts(self.parser.encode(sio.CONNECT, self.name, {"sid": sock.id, "pid": sock.pid}))
        else:
            client.send_parts(self.parser.encode(sio.CONNECT, self.name, {"sid": sock.id}))
        sock.release_held()
        if self.observers:
            notify(self.observers, self.log, "socket_connected", sock)
        for pkt in queued:
            if not sock.connected:
                break
            sock.on_packet(pkt)

    def socket_closed(self, sock: Socket, reason: str) -> None:
        """``sock`` disconnected: run the disconnect handler, forget it (a child
        namespace left empty goes away with ``cleanup_empty_child_namespaces``, see
        :meth:`_cleanup`)."""
        handler = self.handlers.get("disconnect")
        if handler is not None:
            self._run(sock, handler, (sock, reason), None)
        if self.observers:
            notify(self.observers, self.log, "socket_disconnected", sock, reason)
        self.adapter.delete_all(sock.id)
        self.sockets.pop(sock.id, None)
        self._cleanup()

    def _cleanup(self) -> None:
        """With ``cleanup_empty_child_namespaces``, remove this child of a dynamic
        namespace once it has no socket and no CONNECT in progress (a refused or
        abandoned CONNECT leaves nothing behind either); without it, do so too when
        its parent has more than ``max_child_namespaces`` children, so that the
        children clients leave behind stay bounded."""
        parent = self.parent
        if not self.sockets and not self._pending and parent is not None:
            options = self.options
            cap = options.max_child_namespaces
            if options.cleanup_empty_child_namespaces or (cap and len(parent.children) > cap):
                self.server.remove_namespace(self)

    # ------------------------------------------------------------------ events
    def dispatch_event(self, sock: Socket, data: list[Any], ack_id: int | None) -> None:
        """An EVENT (``data``: name, then arguments) from ``sock``'s client: the
        catch-all listeners, the socket's middleware, then the event's handler (whose
        return value acknowledges ``ack_id``)."""
        if self.any_in or sock.any_in:
            for listeners in (self.any_in, sock.any_in or ()):
                for h in list(listeners):
                    try:
                        h(sock, *data)
                    except Exception as exc:
                        self._report(sock, exc)
        middlewares = sock.middlewares
        if middlewares:
            args = data[1:]
            for i, mw in enumerate(middlewares):
                try:
                    result = mw(sock, data[0], args)
                except Exception as exc:
                    self._report(sock, exc)
                    return
                if inspect.isawaitable(result):
                    self._spawn_for(
                        sock, self._middleware_async(sock, data[0], args, result, middlewares[i + 1 :], ack_id), result
                    )
                    return
            data = [data[0], *args]
        self._handle_event(sock, data, ack_id)

    async def _middleware_async(
        self,
        sock: Socket,
        event: Any,
        args: list[Any],
        pending: Awaitable[Any],
        rest: list[Handler],
        ack_id: int | None,
    ) -> None:
        try:
            await pending
            for mw in rest:
                result = mw(sock, event, args)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            self._report(sock, exc)
            return
        if sock.connected:
            self._handle_event(sock, [event, *args], ack_id)

    def _handle_event(self, sock: Socket, data: list[Any], ack_id: int | None) -> None:
        event = data[0]
        handler = self.handlers.get(event) if isinstance(event, str) else None
        if handler is None:
            handler = self.handlers.get("*")
            if handler is None:
                if self.log.isEnabledFor(logging.DEBUG):
                    self.log.debug("no handler for event %r on %s", event, self.name)
                return
            args = (sock, *data)
        else:
            args = (sock, *data[1:])
        self._run(sock, handler, args, ack_id)

    def _run(self, sock: Socket, handler: Handler, args: tuple[Any, ...], ack_id: int | None) -> None:
        if handler.is_async:
            self._spawn_for(sock, self._run_async(sock, handler, args, ack_id))
            return
        try:
            result = handler(*args)
        except Exception as exc:
            self._report(sock, exc)
            return
        if is_awaitable(result):
            self._spawn_for(sock, self._finish_async(sock, result, ack_id), result)
        elif ack_id is not None:
            try:
                sock.send_ack(ack_id, ack_args(result))
            except Exception as exc:  # a return value that does not encode (object())
                self._report(sock, exc)

    @staticmethod
    def _spawn_for(sock: Socket, coro: Coroutine[Any, Any, None], inner: Any = None) -> None:
        """Run an event's handler as a task counted against ``sock``'s
        ``max_pending_handlers`` (over it: not run, the connection closed; ``coro``
        and the awaitable ``inner`` it would have awaited are closed unawaited)."""
        if not sock.handler_started():
            coro.close()
            close = getattr(inner, "close", None)
            if close is not None:
                close()
            return
        spawn(coro).add_done_callback(sock.handler_finished)

    async def _run_async(
        self, sock: Socket, handler: Handler, args: tuple[Any, ...], ack_id: int | None
    ) -> None:
        await self._finish_async(sock, handler(*args), ack_id)

    async def _finish_async(self, sock: Socket, awaitable: Awaitable[Any], ack_id: int | None) -> None:
        try:
            result = await awaitable
        except AckTimeout as exc:
            self._report(sock, exc)
            return
        except Exception as exc:
            self._report(sock, exc)
            return
        if ack_id is not None:
            try:
                sock.send_ack(ack_id, ack_args(result))
            except Exception as exc:  # a return value that does not encode (object())
                self._report(sock, exc)

    def _report(self, sock: Socket, exc: BaseException) -> None:
        """A handler or middleware raised: log it and tell the namespace's ``error`` hook."""
        self.log.error("handler raised on %s", self.name, exc_info=exc)
        hook = self.handlers.get("error")
        if hook is None:
            return
        try:
            result = hook(sock, exc)
            if inspect.isawaitable(result):
                spawn(_wait(result))
        except Exception:
            self.log.exception("error hook raised")


class ParentNamespace(Namespace):
    """A dynamic namespace: ``sio.of(re.compile(r"^/room-\\d+$"))`` or
    ``sio.of(fn)`` with ``fn(name, auth) -> bool`` (may be async).  A client connecting
    to a matching name gets a child namespace that shares the parent's handlers,
    middleware and catch-all listeners.  Broadcasting on the parent reaches every child."""

    def __init__(self, server: NamespaceServer, matcher: Any) -> None:
        super().__init__(server, f"<dynamic {getattr(matcher, 'pattern', matcher)!r}>")
        self.matcher = matcher
        self.children: set[Namespace] = set()

    def matches(self, name: str, auth: Any) -> Any:
        """True, False, or an awaitable of either."""
        m = self.matcher
        if hasattr(m, "fullmatch"):
            return m.fullmatch(name) is not None
        return m(name, auth)

    def new_child(self, name: str) -> Namespace:
        """A child namespace for ``name`` (a name that matched), sharing this one's
        handlers."""
        ns = Namespace(self.server, name, parent=self)
        self.children.add(ns)
        return ns

    def emit(self, event: str, *args: Any) -> int:
        """Send ``event`` to every socket of every child namespace; returns how many."""
        return sum(child.emit(event, *args) for child in list(self.children))

    def operator(
        self, rooms: Iterable[str] = (), except_rooms: Iterable[str] = ()
    ) -> BroadcastOperator[Socket]:
        """Not for a dynamic namespace.

        Raises:
            TypeError: always (broadcast from a child, or use :meth:`emit`).
        """
        raise TypeError("broadcast from a dynamic namespace's children (sio.of(name)), or use emit()")


async def _wait(awaitable: Awaitable[Any]) -> None:
    await awaitable
