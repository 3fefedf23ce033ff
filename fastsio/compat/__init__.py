"""python-socketio's server API on fastsio: ``from fastsio import compat as socketio``.

:class:`AsyncServer` and :class:`AsyncNamespace` have the sid-based API of
python-socketio 5's ``socketio.AsyncServer`` and ``socketio.AsyncNamespace``
(``@sio.event``, ``@sio.on(event, namespace=)``, ``connect(sid, environ, auth)``,
``await sio.emit(event, data, to=, room=, skip_sid=, namespace=, callback=)``, rooms,
sessions, ``call``, ``disconnect``, class-based namespaces, ``sleep``,
``start_background_task``), so an application written for python-socketio runs with
its import changed and its serving line replaced (fastsio serves itself:
``sio.run(host, port)`` or ``await sio.start(host, port)``).  docs/migrating-from-python-socketio.md
lists what differs.

How it works: a facade, thin over the core.  :attr:`AsyncServer.server` is a plain
:class:`fastsio.Server`; each handler registered here is registered on the core
namespace, wrapped to receive ``sid`` (the core socket's ``id``) instead of the socket,
and to map what differs (the ``environ`` dict built from the handshake, python-socketio's
disconnect reasons, ``False`` from connect).  An ``sid`` is looked up in the core
namespace's sockets, or among those whose connect or disconnect handler is running
(so ``emit(to=sid)``, ``enter_room`` and ``session`` work inside them, as in
python-socketio).  Emits are the core's broadcasts (``to``/``room`` -> ``to()``,
``skip_sid`` -> ``except_()``): synchronous underneath, awaitable here.

:class:`ASGIApp` is python-socketio's ``socketio.ASGIApp`` on :class:`fastsio.ASGIApp`:
the server inside uvicorn (or any ASGI server) beside another ASGI app.

``instrument()`` serves the Admin UI (the core's ``Server.instrument``).

Not here (see the migration guide): ``attach()``, client managers (fastsio's cluster
adapters are the ``adapter=`` option), a custom ``json`` module, ``always_connect``,
``async_handlers=False``, and catch-all *namespace* handlers (``namespace="*"``).
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any, AsyncContextManager, Mapping

from .._handlers import Handler, spawn
from ..asgi import ASGIApp as _CoreASGIApp
from ..namespace import Namespace
from ..server import Server
from ..socket import Socket
from . import exceptions
from .exceptions import ConnectionRefusedError, TimeoutError

__all__ = ("ASGIApp", "AsyncNamespace", "AsyncServer", "Reason", "environ_of", "exceptions")


class Reason:
    """python-socketio's disconnection reasons (``sio.reason.CLIENT_DISCONNECT`` ...)."""

    #: the server disconnected the client (``disconnect(sid)``)
    SERVER_DISCONNECT = "server disconnect"
    #: the client disconnected
    CLIENT_DISCONNECT = "client disconnect"
    #: the client stopped answering pings
    PING_TIMEOUT = "ping timeout"
    #: the connection closed
    TRANSPORT_CLOSE = "transport close"
    #: the connection failed
    TRANSPORT_ERROR = "transport error"


# the core's reasons (Node's) -> python-socketio's; the others pass unchanged
# ("transport close", "ping timeout", "server shutting down", "parse error" ...)
REASONS = {
    "server namespace disconnect": Reason.SERVER_DISCONNECT,
    "client namespace disconnect": Reason.CLIENT_DISCONNECT,
    "forced close": Reason.SERVER_DISCONNECT,
}

# python-socketio / python-engineio constructor arguments accepted with no effect here
_NO_EFFECT = ("async_mode", "monitor_clients", "engineio_logger")
_SERIALIZERS = {"default": "json", "msgpack": "msgpack"}


def environ_of(sock: Socket) -> dict[str, Any]:
    """A WSGI-style ``environ`` dict of ``sock``'s handshake request, as python-socketio
    hands to connect handlers: ``REQUEST_METHOD``, ``PATH_INFO``, ``QUERY_STRING``,
    ``REMOTE_ADDR``, ``wsgi.url_scheme``, each header as ``HTTP_<NAME>``, and
    ``fastsio.socket`` (the core socket)."""
    hs = sock.handshake
    path, _, query = hs.url.partition("?")
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": hs.address,
        "wsgi.url_scheme": "https" if hs.secure else "http",
        "fastsio.socket": sock,
    }
    for name, value in hs.headers.items():
        key = name.upper().replace("-", "_")
        env[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    return env


def _static_files(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """python-socketio's ``static_files``: a directory key without a trailing ``/``
    is taken as a directory (fastsio's keys of directories end with ``/``)."""
    return {
        (url + "/" if not url.endswith("/") and isinstance(path, str) and os.path.isdir(path) else url): path
        for url, path in mapping.items()
    }


def _args(data: Any) -> tuple[Any, ...]:
    """python-socketio's ``data``: None -> no argument, a tuple -> several, else one."""
    if data is None:
        return ()
    if isinstance(data, tuple):
        return data
    return (data,)


def _ack_value(args: tuple[Any, ...]) -> Any:
    """What ``call()`` returns: the one argument, a tuple of several, or None."""
    if len(args) == 1:
        return args[0]
    return args if args else None


class AsyncServer:
    """python-socketio's ``socketio.AsyncServer``, on a :class:`fastsio.Server`.

    Args:
        client_manager: must be None (a cluster adapter is fastsio's ``adapter=``).
        logger: a :class:`logging.Logger` (fastsio's ``logger`` option), or a bool
            (fastsio's own logger either way; nothing is configured for the process).
        serializer: ``"default"`` (JSON) or ``"msgpack"`` (fastsio's ``parser``).
        json: must be None.
        async_handlers: must be True (async handlers run as tasks; plain functions
            run inline, in order).
        always_connect: must be False.
        namespaces: the namespaces accepted besides those with handlers: a list, or
            ``"*"`` for any.
        kwargs: python-engineio's options that fastsio has under the same name
            (``ping_interval``, ``ping_timeout``, ``max_http_buffer_size``,
            ``allow_upgrades``, ``http_compression``, ``cookie``,
            ``cors_allowed_origins``, ``cors_credentials``, ``transports``),
            ``async_mode``, ``monitor_clients`` and ``engineio_logger`` (no effect),
            ``compression_threshold`` (1024 only), and any option of
            :class:`fastsio.Server` (``static_files``: a directory key without a
            trailing ``/`` is taken as one, as python-socketio's ``ASGIApp`` does).

    Raises:
        TypeError: an argument fastsio does not support, or an unknown option.
    """

    #: python-socketio's disconnection reasons
    reason = Reason

    def __init__(
        self,
        client_manager: Any = None,
        logger: bool | logging.Logger = False,
        serializer: str = "default",
        json: Any = None,
        async_handlers: bool = True,
        always_connect: bool = False,
        namespaces: Iterable[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        unsupported = [
            name
            for name, value, ok in (
                ("client_manager", client_manager, None),
                ("json", json, None),
                ("async_handlers", async_handlers, True),
                ("always_connect", always_connect, False),
            )
            if value is not ok
        ]
        if serializer not in _SERIALIZERS:
            unsupported.append("serializer")
        if kwargs.get("compression_threshold", 1024) != 1024:
            unsupported.append("compression_threshold")
        if isinstance(kwargs.get("ping_interval"), (tuple, list)):
            unsupported.append("ping_interval (a tuple)")
        if unsupported:
            raise TypeError(
                f"fastsio.compat.AsyncServer does not support {', '.join(unsupported)}"
                " (see docs/migrating-from-python-socketio.md)"
            )
        #: the ``async_mode`` given (it changes nothing: fastsio serves itself)
        self.async_mode: str = kwargs.get("async_mode") or "fastsio"
        for name in (*_NO_EFFECT, "compression_threshold"):
            kwargs.pop(name, None)
        options = dict(kwargs)
        options["parser"] = _SERIALIZERS[serializer]
        if isinstance(logger, logging.Logger):
            options["logger"] = logger
        if options.get("static_files"):
            options["static_files"] = _static_files(options["static_files"])
        #: the fastsio server underneath (``sio.server.of("/chat")`` ...: the core API)
        self.server: Server = Server(**options)
        #: the server's logger
        self.logger: logging.Logger = self.server.log
        #: namespace -> event -> the application's handler, as python-socketio keeps them
        self.handlers: dict[str, dict[str, Callable[..., Any]]] = {}
        #: namespace -> class-based namespace handler
        self.namespace_handlers: dict[str, AsyncNamespace] = {}
        # (namespace, sid) -> socket, while its connect or disconnect handler runs
        self._pending: dict[tuple[str, str], Socket] = {}
        if namespaces == "*":
            self.server.of(lambda name, auth: True)
        elif namespaces is not None:
            for name in namespaces:
                self.server.of(name)

    # ------------------------------------------------------------------ registration
    def on(self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None) -> Any:
        """Register ``handler`` for ``event`` on ``namespace`` (default ``/``); a
        decorator without ``handler``.

        ``connect(sid, environ, auth)`` (or ``(sid, environ)``; return False or raise
        :class:`~fastsio.compat.exceptions.ConnectionRefusedError` to refuse),
        ``disconnect(sid, reason)`` (or ``(sid)``), ``"*"``: ``(event, sid, *args)`` for
        events without a handler of their own, any other event ``(sid, *args)``
        (the return value is the acknowledgement; a tuple is several arguments).

        Raises:
            NotImplementedError: ``namespace="*"`` (catch-all namespaces).
        """
        name = namespace or "/"
        if name == "*":
            raise NotImplementedError("catch-all namespace handlers (namespace='*') are not in fastsio.compat")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.handlers.setdefault(name, {})[event] = fn
            ns = self.server.of(name)
            if event == "connect":
                ns.on("connect", self._connect_handler(name, Handler(fn)))
            elif event == "disconnect":
                ns.on("disconnect", self._disconnect_handler(name, Handler(fn)))
            elif event == "*":
                h = Handler(fn)
                ns.on("*", lambda sock, ev, *args: h(ev, sock.id, *args))
            else:
                h = Handler(fn)
                ns.on(event, lambda sock, *args: h(sock.id, *args))
            return fn

        if handler is not None:
            register(handler)
            return None
        return register

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Decorator: ``@sio.event`` registers the function for the event named like it;
        ``@sio.event(namespace="/chat")`` on that namespace."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            fn = args[0]
            self.on(fn.__name__, fn)
            return fn

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.on(fn.__name__, fn, *args, **kwargs)
            return fn

        return register

    def register_namespace(self, namespace_handler: AsyncNamespace) -> None:
        """Let ``namespace_handler`` (an :class:`AsyncNamespace`) handle every event of
        its namespace: ``on_connect``, ``on_disconnect``, ``on_<event>``.

        Raises:
            ValueError: not an :class:`AsyncNamespace`.
        """
        if not isinstance(namespace_handler, AsyncNamespace):
            raise ValueError("Not a namespace instance")
        name = namespace_handler.namespace
        namespace_handler.server = self
        self.namespace_handlers[name] = namespace_handler
        ns = self.server.of(name)
        trigger = namespace_handler.trigger_event
        ns.on("connect", self._connect_handler(name, Handler(lambda sid, environ, auth: trigger("connect", sid, environ, auth))))
        ns.on("disconnect", self._disconnect_handler(name, Handler(lambda sid, reason: trigger("disconnect", sid, reason))))
        ns.on("*", lambda sock, event, *args: trigger(event, sock.id, *args))

    def _connect_handler(self, name: str, h: Handler) -> Callable[[Socket, Any], Any]:
        pending = self._pending

        def refused(exc: BaseException) -> ConnectionRefusedError:
            return exc if isinstance(exc, ConnectionRefusedError) else ConnectionRefusedError("Connection refused by server")

        async def finish(key: tuple[str, str], result: Awaitable[Any]) -> None:
            try:
                value = await result
            except builtins.ConnectionRefusedError as exc:
                raise refused(exc) from None
            finally:
                pending.pop(key, None)
            if value is False:
                raise ConnectionRefusedError()

        def connect(sock: Socket, auth: Any) -> Any:
            key = (name, sock.id)
            pending[key] = sock
            try:
                result = h(sock.id, environ_of(sock), auth or None)
            except builtins.ConnectionRefusedError as exc:
                pending.pop(key, None)
                raise refused(exc) from None
            except BaseException:
                pending.pop(key, None)
                raise
            if inspect.isawaitable(result):
                return finish(key, result)
            pending.pop(key, None)
            if result is False:
                raise ConnectionRefusedError()
            return None

        return connect

    def _disconnect_handler(self, name: str, h: Handler) -> Callable[[Socket, str], Any]:
        pending = self._pending

        async def finish(key: tuple[str, str], result: Awaitable[Any]) -> None:
            try:
                await result
            finally:
                pending.pop(key, None)

        def disconnect(sock: Socket, reason: str) -> Any:
            key = (name, sock.id)
            pending[key] = sock
            try:
                result = h(sock.id, REASONS.get(reason, reason))
            except BaseException:
                pending.pop(key, None)
                raise
            if inspect.isawaitable(result):
                return finish(key, result)
            pending.pop(key, None)
            return None

        return disconnect

    # ------------------------------------------------------------------ lookups
    def _namespace(self, namespace: str | None) -> Namespace | None:
        return self.server.namespaces.get(namespace or "/")

    def _socket(self, sid: str, namespace: str | None) -> Socket | None:
        name = namespace or "/"
        ns = self.server.namespaces.get(name)
        sock = ns.sockets.get(sid) if ns is not None else None
        return sock if sock is not None else self._pending.get((name, sid))

    def _require(self, sid: str, namespace: str | None) -> Socket:
        sock = self._socket(sid, namespace)
        if sock is None:
            raise KeyError(f"Session is disconnected: no client {sid!r} on namespace {namespace or '/'!r}")
        return sock

    # ------------------------------------------------------------------ emitting
    async def emit(
        self,
        event: str,
        data: Any = None,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emit ``event`` with ``data`` (None: no argument; a tuple: several) to
        ``to`` (or ``room``: a sid, a room or a list of rooms; default everyone in the
        namespace), except ``skip_sid`` (a sid or a list).  ``callback(*args)`` gets
        the client's acknowledgement (one client only: ``to`` a sid).
        ``ignore_queue``: this node's clients only (the core's ``local``).

        Raises:
            ValueError: ``callback`` without ``to`` naming one connected client.
        """
        args = _args(data)
        target = to if to is not None else room
        if isinstance(target, str) and (callback is not None or skip_sid is None):
            sock = self._socket(target, namespace)
            if sock is not None:
                sock.emit(event, *args, callback=callback)
                return
        if callback is not None:
            raise ValueError("a callback needs to= one connected client's sid")
        ns = self._namespace(namespace)
        if ns is None:
            return
        op = ns.operator()
        if target is not None:
            op = op.to(target)
        if skip_sid is not None:
            op = op.except_(skip_sid)
        if ignore_queue:
            op = op.local
        op.emit(event, *args)

    async def send(
        self,
        data: Any,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emit a ``message`` event (see :meth:`emit`)."""
        await self.emit("message", data, to, room, skip_sid, namespace, callback, ignore_queue)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float | None = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Emit ``event`` to one client (``to`` or ``sid``) and return its
        acknowledgement: the one argument, a tuple of several, or None.

        Raises:
            ValueError: no recipient (``call`` cannot broadcast).
            fastsio.compat.exceptions.TimeoutError: no acknowledgement within
                ``timeout`` seconds (also when the client disconnects meanwhile), or no
                such client.
        """
        target = to or sid
        if target is None:
            raise ValueError("Cannot use call() to broadcast.")
        sock = self._socket(target, namespace)
        if sock is None:
            raise TimeoutError()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def reply(*args: Any) -> None:
            if not fut.done():
                fut.set_result(_ack_value(args))

        sock.emit(event, *_args(data), callback=reply)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError() from None

    # ------------------------------------------------------------------ rooms
    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Put client ``sid`` in ``room`` (no effect for an unknown sid)."""
        sock = self._socket(sid, namespace)
        if sock is not None:
            sock.join(room)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take client ``sid`` out of ``room``."""
        sock = self._socket(sid, namespace)
        if sock is not None:
            sock.leave(room)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Take every client out of ``room``."""
        ns = self._namespace(namespace)
        if ns is not None:
            ns.to(room).sockets_leave(room)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms client ``sid`` is in (its own sid included); ``[]`` if unknown."""
        sock = self._socket(sid, namespace)
        return sorted(sock.rooms) if sock is not None else []

    # ------------------------------------------------------------------ sessions
    async def get_session(self, sid: str, namespace: str | None = None) -> Any:
        """Client ``sid``'s session dict for the namespace (the core socket's ``data``).

        Raises:
            KeyError: no such client.
        """
        return self._require(sid, namespace).data

    async def save_session(self, sid: str, session: Any, namespace: str | None = None) -> None:
        """Replace client ``sid``'s session.

        Raises:
            KeyError: no such client.
        """
        self._require(sid, namespace).data = session

    def session(self, sid: str, namespace: str | None = None) -> AsyncContextManager[Any]:
        """``async with sio.session(sid) as session:``: the session, saved on exit."""
        return _session(self, sid, namespace)

    # ------------------------------------------------------------------ clients
    async def disconnect(self, sid: str, namespace: str | None = None, ignore_queue: bool = False) -> None:
        """Disconnect client ``sid`` from the namespace (its disconnect handler gets
        ``"server disconnect"``); no effect for an unknown sid."""
        sock = self._socket(sid, namespace)
        if sock is not None:
            sock.disconnect()

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """``"polling"`` or ``"websocket"``.

        Raises:
            KeyError: no such client.
        """
        return self._require(sid, namespace).transport

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The ``environ`` of client ``sid``'s handshake (see :func:`environ_of`), or None."""
        sock = self._socket(sid, namespace)
        return environ_of(sock) if sock is not None else None

    # ------------------------------------------------------------------ tasks
    async def sleep(self, seconds: float = 0) -> None:
        """``await asyncio.sleep(seconds)``."""
        await asyncio.sleep(seconds)

    def start_background_task(self, target: Callable[..., Coroutine[Any, Any, Any]], *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` (a coroutine function) as a task, kept
        referenced until it ends; returns the task."""
        return spawn(target(*args, **kwargs))

    # ------------------------------------------------------------------ serving (fastsio's)
    def run(self, host: str = "127.0.0.1", port: int = 8000, **kwargs: Any) -> None:
        """Serve until SIGINT/SIGTERM (:meth:`fastsio.Server.run`): what replaces
        ``uvicorn.run(app, ...)`` or ``web.run_app(app)``."""
        self.server.run(host, port, **kwargs)

    async def start(self, host: str = "127.0.0.1", port: int = 8000, **kwargs: Any) -> None:
        """Start serving on the running loop (:meth:`fastsio.Server.start`)."""
        await self.server.start(host, port, **kwargs)

    async def stop(self, timeout: float | None = None) -> None:
        """Disconnect everyone and stop (:meth:`fastsio.Server.stop`: a drain of at most
        ``timeout`` seconds, ``None`` for the ``shutdown_timeout`` option)."""
        await self.server.stop(timeout)

    async def shutdown(self) -> None:
        """python-socketio's ``shutdown()``: here, :meth:`stop`."""
        await self.stop()

    def attach(self, app: Any, socketio_path: str = "socket.io") -> None:
        """Not in fastsio: it serves itself.

        Raises:
            NotImplementedError: always (use :meth:`run` or :meth:`start`).
        """
        raise NotImplementedError(
            "fastsio serves Socket.IO on its own server: sio.run(host, port) or await sio.start(host, port)"
            " instead of attach() (see docs/migrating-from-python-socketio.md)"
        )

    def instrument(
        self,
        auth: Any = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> Any:
        """Serve the Socket.IO Admin UI, as python-socketio's ``instrument()``: the
        core's :meth:`fastsio.Server.instrument` (docs/admin-ui.md), whose
        :class:`fastsio.admin.Admin` it returns.

        Args:
            auth: ``{"username": ..., "password": ...}``, a list of such dicts, a
                callable ``fn(auth) -> bool`` (may be async), or ``False`` (none).
            mode: ``"development"`` or ``"production"``.
            read_only: the UI may not join, leave, disconnect or emit.
            server_id: the server's name in the UI (default: the host name).
            namespace: the admin namespace.
            server_stats_interval: seconds between two ``server_stats``.

        Raises:
            ValueError: ``auth`` not given (python-socketio's rule), or another bad argument.
        """
        return self.server.instrument(
            auth,
            mode=mode,
            read_only=read_only,
            namespace=namespace,
            server_id=server_id,
            server_stats_interval=server_stats_interval,
        )


@asynccontextmanager
async def _session(server: AsyncServer | AsyncNamespace, sid: str, namespace: str | None) -> AsyncIterator[Any]:
    session = await server.get_session(sid, namespace=namespace)
    try:
        yield session
    finally:  # saved even when the block raised, as python-socketio's context manager does
        await server.save_session(sid, session, namespace=namespace)


class AsyncNamespace:
    """python-socketio's ``socketio.AsyncNamespace``: a class whose ``on_<event>``
    methods (plain or ``async``) handle its namespace's events, registered with
    :meth:`AsyncServer.register_namespace`.

    ``on_connect(sid, environ, auth)`` (or ``(sid, environ)``), ``on_disconnect(sid,
    reason)`` (or ``(sid)``), ``on_<event>(sid, *args)`` (the return value is the
    acknowledgement).  Its ``emit``, ``send``, ``call``, rooms, sessions and
    ``disconnect`` are the server's, with ``namespace`` defaulting to its own.

    Args:
        namespace: the namespace it handles (default ``/``).
    """

    def __init__(self, namespace: str | None = None) -> None:
        #: the namespace handled
        self.namespace: str = namespace or "/"
        #: the :class:`AsyncServer`, once registered
        self.server: AsyncServer | None = None

    @property
    def _server(self) -> AsyncServer:
        if self.server is None:
            raise RuntimeError("register the namespace first: sio.register_namespace(ns)")
        return self.server

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Call ``on_<event>`` with ``args`` (cut to what it takes), awaiting it if it
        is async; its result is the acknowledgement.  None when there is no such method.
        Override it for other dispatch rules."""
        handler = getattr(self, "on_" + (event or ""), None)
        if handler is None:
            return None
        result = Handler(handler)(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """:meth:`AsyncServer.emit` on this namespace."""
        await self._server.emit(event, data, to, room, skip_sid, namespace or self.namespace, callback, ignore_queue)

    async def send(
        self,
        data: Any,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """:meth:`AsyncServer.send` on this namespace."""
        await self._server.send(data, to, room, skip_sid, namespace or self.namespace, callback, ignore_queue)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float | None = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """:meth:`AsyncServer.call` on this namespace."""
        return await self._server.call(event, data, to, sid, namespace or self.namespace, timeout, ignore_queue)

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.enter_room` on this namespace."""
        await self._server.enter_room(sid, room, namespace or self.namespace)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.leave_room` on this namespace."""
        await self._server.leave_room(sid, room, namespace or self.namespace)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.close_room` on this namespace."""
        await self._server.close_room(room, namespace or self.namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """:meth:`AsyncServer.rooms` on this namespace."""
        return self._server.rooms(sid, namespace or self.namespace)

    async def get_session(self, sid: str, namespace: str | None = None) -> Any:
        """:meth:`AsyncServer.get_session` on this namespace."""
        return await self._server.get_session(sid, namespace or self.namespace)

    async def save_session(self, sid: str, session: Any, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.save_session` on this namespace."""
        await self._server.save_session(sid, session, namespace or self.namespace)

    def session(self, sid: str, namespace: str | None = None) -> AsyncContextManager[Any]:
        """:meth:`AsyncServer.session` on this namespace."""
        return _session(self, sid, namespace or self.namespace)

    async def disconnect(self, sid: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.disconnect` on this namespace."""
        await self._server.disconnect(sid, namespace or self.namespace)


class ASGIApp(_CoreASGIApp):
    """python-socketio's ``socketio.ASGIApp``: ``socketio_server`` (an
    :class:`AsyncServer`) inside an ASGI server (uvicorn, hypercorn), beside
    ``other_asgi_app``; see :class:`fastsio.ASGIApp` for how it works.

    Args:
        socketio_server: the :class:`AsyncServer` (or a core :class:`fastsio.Server`).
        other_asgi_app: the ASGI app of the other paths (and of the ``lifespan`` scope).
        static_files: as python-socketio's (a directory key without a trailing ``/``
            is a directory).
        socketio_path: must be the server's ``path`` (``"socket.io"`` by default:
            give ``AsyncServer(path=...)`` for another one).
        on_startup: called (awaited if async) on the ASGI ``lifespan.startup``.
        on_shutdown: called on ``lifespan.shutdown``.

    Raises:
        ValueError: ``socketio_path`` is not the server's path.
    """

    def __init__(
        self,
        socketio_server: AsyncServer | Server,
        other_asgi_app: Any = None,
        static_files: Mapping[str, Any] | None = None,
        socketio_path: str = "socket.io",
        on_startup: Callable[[], Any] | None = None,
        on_shutdown: Callable[[], Any] | None = None,
    ) -> None:
        server = socketio_server.server if isinstance(socketio_server, AsyncServer) else socketio_server
        super().__init__(
            server,
            other_asgi_app,
            socketio_path,
            static_files=_static_files(static_files) if static_files else None,
            on_startup=on_startup,
            on_shutdown=on_shutdown,
        )
        #: the :class:`AsyncServer` given (or the core server)
        self.engineio_server: Any = socketio_server
