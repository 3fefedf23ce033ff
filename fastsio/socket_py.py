"""``Socket``: one client connected to one namespace; and the per-connection client
object that routes the Socket.IO packets of one Engine.IO session to its sockets.

This module sits below the namespace and the server: it reaches them only through
the interfaces it declares, which they satisfy structurally:

* :class:`SocketNamespace`: what a :class:`Socket` needs of its namespace
  (``fastsio.Namespace``);
* :class:`ClientRouter`: what a :class:`Client` needs of the server that routes its
  CONNECT packets to namespaces (``fastsio.Server``).

Decoding (binary attachments included) is the sans-I/O
:class:`~fastsio.protocol.socketio.decoder.Decoder`'s; the :class:`Client` keeps its
per-connection state (:class:`~fastsio.protocol.socketio.decoder.DecoderState`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Iterable, Protocol

from fastsio._handlers import Handler
from fastsio.adapters.base import RECOVERABLE_REASONS, Adapter, RecoverySession
from fastsio._ids import random_id
from fastsio.broadcast import BroadcastOperator
from fastsio.exceptions import AckTimeout, DisconnectedError
from fastsio.observers import Observer, notify
from fastsio.options import RecoveryOptions, ServerOptions
from fastsio.protection import RATE_LIMIT_EVENT, RATE_LIMIT_REASON
from fastsio.protocol.socketio import packets as sio
from fastsio.protocol.engineio.session import OPEN, Session
from fastsio.protocol.engineio.wire import MESSAGE_PREFIX
from fastsio.protocol.socketio.decoder import Decoder, ProtocolError, split_v3_query

__all__ = ("Client", "ClientRouter", "Handshake", "Socket", "SocketNamespace", "new_socket_id")


class HandshakeRequest(Protocol):
    """What :class:`Handshake` reads of the handshake's HTTP request (the I/O layer's
    request satisfies it)."""

    @property
    def headers(self) -> dict[str, str]:
        """The headers (lower-case names)."""
        ...

    @property
    def query(self) -> dict[str, str]:
        """The query parameters."""
        ...

    @property
    def client(self) -> tuple[str, int] | None:
        """The TCP peer ``(host, port)``."""
        ...

    @property
    def url(self) -> str:
        """The URL (path and query)."""
        ...

    @property
    def secure(self) -> bool:
        """Whether it came over TLS."""
        ...


class ClientRouter(Protocol):
    """What a :class:`Client` needs of its server (:class:`fastsio.Server` satisfies it)."""

    @property
    def options(self) -> ServerOptions:
        """The server's options (``connect_timeout``)."""
        ...

    @property
    def parser(self) -> Any:
        """The server's parser (``encode``)."""
        ...

    @property
    def decoder(self) -> Decoder:
        """The server's packet decoder (shared by its connections)."""
        ...

    @property
    def log(self) -> logging.Logger:
        """The server's logger."""
        ...

    @property
    def socketio_log(self) -> logging.Logger:
        """The Socket.IO layer's logger (``<logger>.socketio``)."""
        ...

    def connect_namespace(self, client: Client, name: str, auth: Any) -> None:
        """A CONNECT to namespace ``name``: connect ``client`` to it, or answer
        CONNECT_ERROR."""
        ...


class SocketNamespace(Protocol):
    """What a :class:`Socket` needs of its namespace (:class:`fastsio.Namespace`
    satisfies it)."""

    @property
    def name(self) -> str:
        """The namespace name."""
        ...

    @property
    def server(self) -> ClientRouter:
        """The server the namespace belongs to."""
        ...

    @property
    def options(self) -> ServerOptions:
        """The server's options (``ack_timeout``, ``rate_limit``)."""
        ...

    @property
    def recovery(self) -> RecoveryOptions | None:
        """Connection state recovery's options (``None``: off)."""
        ...

    @property
    def parser(self) -> Any:
        """The server's parser (``encode``, ``encode_event``)."""
        ...

    @property
    def adapter(self) -> Adapter:
        """The namespace's adapter (rooms, recovery store)."""
        ...

    @property
    def observers(self) -> list[Observer]:
        """The server's observers (told of rooms joined and left)."""
        ...

    @property
    def log(self) -> logging.Logger:
        """The server's logger."""
        ...

    def operator(self, rooms: Iterable[str] = (), except_rooms: Iterable[str] = ()) -> BroadcastOperator[Socket]:
        """A broadcast selection of the namespace's sockets."""
        ...

    def notify_outgoing(self, sock: Socket, event: str, args: tuple[Any, ...]) -> None:
        """Call the outgoing catch-all listeners for ``event`` sent to ``sock``."""
        ...

    def count_outgoing(self, delta: int) -> None:
        """Outgoing catch-all listeners were added to (or removed from) a socket."""
        ...

    def next_ack_id(self) -> int:
        """A new acknowledgement id."""
        ...

    def dispatch_event(self, sock: Socket, data: list[Any], ack_id: int | None) -> None:
        """An EVENT from ``sock``'s client: run listeners, middleware and its handler."""
        ...

    def socket_closed(self, sock: Socket, reason: str) -> None:
        """``sock`` disconnected: run the disconnect handler, forget it."""
        ...


class Handshake:
    """What the client sent when it connected (``socket.handshake``).

    ``headers`` and ``query`` are the handshake request's own dicts (shared, not copied:
    treat them as read-only)."""

    __slots__ = ("_request", "auth", "issued")

    def __init__(self, request: HandshakeRequest | None, auth: dict[str, Any], issued: int | None = None) -> None:
        self._request = request
        self.auth = auth
        # when the connection was made, in milliseconds since the epoch (now by default)
        self.issued: int = int(time.time() * 1000) if issued is None else issued

    @property
    def headers(self) -> dict[str, str]:
        """The handshake request's headers (lower-case names)."""
        return self._request.headers if self._request is not None else {}

    @property
    def query(self) -> dict[str, str]:
        """The handshake request's query parameters."""
        return self._request.query if self._request is not None else {}

    @property
    def address(self) -> str:
        """The client address (the TCP peer), or ``""``."""
        client = self._request.client if self._request is not None else None
        return client[0] if client else ""

    @property
    def time(self) -> str:
        """The connection time as a date string (like Node's ``new Date().toString()``)."""
        return time.strftime("%a %b %d %Y %H:%M:%S GMT%z", time.localtime(self.issued / 1000))

    @property
    def url(self) -> str:
        """The handshake request's URL (path and query)."""
        return self._request.url if self._request is not None else ""

    @property
    def secure(self) -> bool:
        """Whether the connection is over TLS."""
        return bool(self._request.secure) if self._request is not None else False

    @property
    def xdomain(self) -> bool:
        """Whether the handshake was cross-origin (it had an ``Origin`` header)."""
        return "origin" in self.headers

    def __repr__(self) -> str:
        return f"Handshake(address={self.address!r}, url={self.url!r}, auth={self.auth!r})"


def new_socket_id() -> str:
    """A new socket id (and private session id): 20 URL-safe random characters."""
    return random_id()


class Socket:
    """A client connected to a namespace.

    Args:
        namespace: the namespace it connects to.
        client: the connection's :class:`Client`.
        auth: the CONNECT packet's auth payload.

    Public attributes besides the documented properties: ``id``, ``namespace``,
    ``client``, ``connected``, ``recovered``, ``pid`` (connection state
    recovery's private session id), and, read by the namespace, ``any_in`` /
    ``any_out`` (this socket's catch-all listeners, or ``None``), ``middlewares``
    (its per-packet middleware, or ``None``), ``restoring`` (the kept session being
    restored until the CONNECT reply goes out, or ``None``) and ``pending_handlers``
    (its events whose handler task is still running, see :meth:`handler_started`).
    """

    __slots__ = (
        "id",
        "namespace",
        "client",
        "_handshake",
        "_auth",
        "_issued",
        "_data",
        "connected",
        "recovered",
        "_acks",
        "_held",
        "_timeout",
        "_volatile",
        "_compress",
        "any_in",
        "any_out",
        "middlewares",
        "pid",
        "restoring",
        "_bucket",
        "pending_handlers",
        "__weakref__",
    )

    def __init__(self, namespace: SocketNamespace, client: Client, auth: dict[str, Any]) -> None:
        session = client.session
        if session.eio == 3:
            # Socket.IO v4 (socket.io-client 1.x/2.x): ids derive from the Engine.IO id, as in Node
            self.id: str = session.sid if namespace.name == "/" else namespace.name + "#" + session.sid
        else:
            self.id = random_id()
        self.namespace = namespace
        self.client = client
        # the Handshake is made on first use (most sockets never read it): what it
        # needs till then, the auth and the time of the connection
        self._handshake: Handshake | None = None
        self._auth = auth
        self._issued = time.time()  # (a float: 8 bytes less than the int of milliseconds)
        # free for the application (``data``: a dict made on first use)
        self._data: Any = None
        self.connected = False
        self.recovered = False
        # ack id -> callback(*args), for emits that asked for an acknowledgement
        self._acks: dict[int, Callable[..., Any]] | None = None
        # packets emitted before the CONNECT reply went out (held until it has), each
        # with its compress flag
        self._held: list[tuple[list[str | bytes], bool]] | None = []
        self._timeout: float | None = None
        # the next emit is dropped if the connection is not writable
        self._volatile = False
        # the next emit may be compressed (permessage-deflate); compress(False) clears it
        self._compress = True
        # catch-all listeners fn(socket, event, *args): incoming and outgoing events
        self.any_in: list[Handler] | None = None
        self.any_out: list[Handler] | None = None
        # per-packet middleware fn(socket, event, args)
        self.middlewares: list[Handler] | None = None
        # connection state recovery: the private session id (sent in the CONNECT reply),
        # and the kept session being restored until the CONNECT reply goes out
        self.pid: str | None = None
        self.restoring: RecoverySession | None = None
        # the event rate limit's token bucket (None: no limit)
        limit = namespace.options.rate_limit
        self._bucket: list[float] | None = None if limit is None else limit.new_bucket(time.monotonic())
        # this socket's events whose handler (an async one, or an async middleware)
        # is still running: bounded by the server's max_pending_handlers
        self.pending_handlers = 0

    def __repr__(self) -> str:
        return f"<Socket id={self.id!r} nsp={self.nsp!r} connected={self.connected}>"

    @property
    def handshake(self) -> Handshake:
        """What the client sent when it connected (Node's ``socket.handshake``): the
        handshake request's headers, query and address, the CONNECT's auth, the time."""
        handshake = self._handshake
        if handshake is None:
            handshake = self._handshake = Handshake(self.client.session.request, self._auth, int(self._issued * 1000))
        return handshake

    @handshake.setter
    def handshake(self, value: Handshake) -> None:
        self._handshake = value

    @property
    def data(self) -> Any:
        """Free for the application: a dict (Node's ``socket.data``) unless set to
        something else."""
        data = self._data
        if data is None:
            data = self._data = {}
        return data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value

    # ------------------------------------------------------------------ info
    @property
    def nsp(self) -> str:
        """The namespace name."""
        return self.namespace.name

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in (its own id included)."""
        return set(self.namespace.adapter.socket_rooms(self.id))

    @property
    def server(self) -> ClientRouter:
        """The server (a :class:`fastsio.Server`)."""
        return self.namespace.server

    @property
    def session(self) -> Session:
        """The Engine.IO session carrying this socket (shared by the connection's
        sockets of other namespaces)."""
        return self.client.session

    @property
    def transport(self) -> str:
        """The current transport: ``"polling"`` or ``"websocket"``."""
        return self.client.session.transport

    @property
    def sid(self) -> str:
        """The Engine.IO session id of the underlying connection."""
        return self.client.session.sid

    # ------------------------------------------------------------------ rooms
    def join(self, room: str | list[str] | tuple[str, ...] | set[str]) -> None:
        """Join ``room`` (or several).

        Raises:
            ValueError: the socket would be in more rooms than the server's
                ``max_rooms_per_socket`` (it joins none of them).
        """
        rooms = [room] if isinstance(room, str) else list(room)
        ns = self.namespace
        limit = ns.options.max_rooms_per_socket
        if limit:
            have = ns.adapter.count_rooms(self.id)
            # a quick bound first (rooms it is already in count twice), the exact one if needed
            if have + len(rooms) > limit + 1 and len(ns.adapter.socket_rooms(self.id) | set(rooms)) > limit + 1:
                raise ValueError(
                    f"socket {self.id} on {self.nsp}: joining {len(rooms)} rooms would put it in more than "
                    f"max_rooms_per_socket ({limit})"
                )
        observers = ns.observers
        if observers and self.connected:
            before = ns.adapter.socket_rooms(self.id)
            ns.adapter.add_all(self.id, rooms)
            for name in dict.fromkeys(rooms):
                if name not in before:
                    notify(observers, ns.log, "room_joined", self, name)
            return
        ns.adapter.add_all(self.id, rooms)

    def leave(self, room: str) -> None:
        """Leave ``room``."""
        ns = self.namespace
        observers = ns.observers
        if observers and self.connected and room in ns.adapter.socket_rooms(self.id):
            ns.adapter.delete(self.id, room)
            notify(observers, ns.log, "room_left", self, room)
            return
        ns.adapter.delete(self.id, room)

    # ------------------------------------------------------------------ emitting
    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send an event to this client.  Synchronous; never blocks.

        Args:
            event: the event name (not a reserved one).
            args: its arguments (JSON-serialisable; ``bytes`` go as attachments).
            callback: asks for an acknowledgement; called with the client's ack
                arguments (or :class:`AckTimeout` after ``timeout(s)``).

        Raises:
            ValueError: ``event`` is a reserved name.
        """
        if event in sio_reserved:
            raise ValueError(f"{event!r} is a reserved event name")
        compress = self._compress
        if not compress:
            self._compress = True
        ns = self.namespace
        if ns.recovery is not None and callback is None and not self._volatile:
            self._emit_kept(event, args, compress)
            return
        if not self.connected and self._held is None:
            return
        if self._volatile:
            self._volatile = False
            if not self.client.session.writable():
                return
        ns.notify_outgoing(self, event, args)
        ack_id = None
        if callback is not None:
            ack_id = self._register_ack(callback, self._timeout)
            self._timeout = None
        self.send_packet(ns.parser.encode_event(ns.name, event, args, ack_id), compress)

    def _emit_kept(self, event: str, args: tuple[Any, ...], compress: bool = True) -> None:
        """An emit with connection state recovery: like Node, the packet gets an offset
        (its last argument) and is kept for this socket's id, to be replayed if the
        client comes back after missing it (even when the socket is disconnected now)."""
        ns = self.namespace
        adapter = ns.adapter
        if adapter.cluster_recovery:
            # the offset is the cluster's (a stream entry id, as Node's socket.emit
            # through adapter.broadcast): sent once the cluster stored it
            def deliver(parts: list[str | bytes]) -> None:
                self._send_kept(event, args, parts, compress)

            flags = {} if compress else {"compress": False}
            adapter.publish_kept(event, args, frozenset((self.id,)), _NO_ROOMS, flags, deliver)
            return
        offset = adapter.next_offset()
        if offset is None:  # an adapter that keeps no packets
            parts = ns.parser.encode_event(ns.name, event, args)
        else:
            parts = ns.parser.encode_event(ns.name, event, (*args, offset))
            adapter.store(offset, parts, frozenset((self.id,)), _NO_ROOMS)
        self._send_kept(event, args, parts, compress)

    def _send_kept(self, event: str, args: tuple[Any, ...], parts: list[str | bytes], compress: bool) -> None:
        if not self.connected and self._held is None:
            return
        if self.restoring is not None:
            return  # the replay that follows the CONNECT reply includes it
        self.namespace.notify_outgoing(self, event, args)
        self.send_packet(parts, compress)

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Emit a ``message`` event."""
        self.emit("message", *args, callback=callback)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Emit and wait for the client's acknowledgement.

        Returns:
            Its argument (a tuple when it sent several, None when none).

        Raises:
            AckTimeout: after ``socket.timeout(s)`` (or the server's ``ack_timeout``).
            DisconnectedError: the socket disconnected first.
            ValueError: ``event`` is a reserved name.
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()

        def done(*reply: Any) -> None:
            if not fut.done():
                fut.set_result(reply[0] if len(reply) == 1 else (reply if reply else None))

        timeout = self._timeout
        self._timeout = None
        compress = self._compress
        self._compress = True
        if event in sio_reserved:
            raise ValueError(f"{event!r} is a reserved event name")
        ns = self.namespace
        ns.notify_outgoing(self, event, args)
        ack_id = self._register_ack(done, None, fut)
        self.send_packet(ns.parser.encode_event(ns.name, event, args, ack_id), compress)
        if timeout is None:
            timeout = ns.options.ack_timeout
        try:
            if timeout is None:
                return await fut
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            metrics = self.session.metrics
            if metrics is not None:
                metrics.ack_timeouts += 1
            raise AckTimeout() from None
        finally:
            if self._acks is not None:
                self._acks.pop(ack_id, None)

    call = emit_with_ack

    def timeout(self, seconds: float) -> Socket:
        """The next ``emit(..., callback=)`` / ``emit_with_ack`` times out after ``seconds``."""
        self._timeout = seconds
        return self

    @property
    def volatile(self) -> Socket:
        """The next ``emit`` is dropped if the connection cannot take it right now."""
        self._volatile = True
        return self

    def compress(self, value: bool = True) -> Socket:
        """Whether the next ``emit`` may be compressed: ``compress(False)`` sends it
        uncompressed over a WebSocket with permessage-deflate (the default is True;
        packets under the threshold are never compressed, polling is unaffected)."""
        self._compress = bool(value)
        return self

    # ------------------------------------------------------------------ catch-all listeners
    def on_any(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``fn(socket, event, *args)`` for every incoming event (before its handler)."""
        self.any_in = [*(self.any_in or ()), Handler(fn)]
        return fn

    def prepend_any(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Like :meth:`on_any`, before the listeners already there."""
        self.any_in = [Handler(fn), *(self.any_in or ())]
        return fn

    def off_any(self, fn: Callable[..., Any] | None = None) -> None:
        """Remove ``fn`` (or every catch-all listener)."""
        self.any_in = _without(self.any_in, fn)

    def on_any_outgoing(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``fn(socket, event, *args)`` for every event sent to this socket."""
        self.any_out = [*(self.any_out or ()), Handler(fn)]
        self.namespace.count_outgoing(1)
        return fn

    def prepend_any_outgoing(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Like :meth:`on_any_outgoing`, before the listeners already there."""
        self.any_out = [Handler(fn), *(self.any_out or ())]
        self.namespace.count_outgoing(1)
        return fn

    def off_any_outgoing(self, fn: Callable[..., Any] | None = None) -> None:
        """Remove the outgoing listener ``fn`` (or every one)."""
        before = len(self.any_out or ())
        self.any_out = _without(self.any_out, fn)
        self.namespace.count_outgoing(len(self.any_out or ()) - before)

    def use(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Per-packet middleware ``fn(socket, event, args)`` for incoming events: it may
        change ``args`` (a list) in place, raise to drop the packet (the namespace's
        ``error`` hook sees the exception), and may be async."""
        self.middlewares = [*(self.middlewares or ()), Handler(fn)]
        return fn

    # ------------------------------------------------------------------ acknowledgements
    def _register_ack(
        self, callback: Callable[..., Any], timeout: float | None, fut: asyncio.Future[Any] | None = None
    ) -> int:
        ack_id = self.namespace.next_ack_id()
        if not self.connected and self._held is None:
            # disconnected: nothing will answer, and nothing is kept
            if fut is not None:
                _FutureAck(fut, callback).fail()
            return ack_id
        if self._acks is None:
            self._acks = {}
        if fut is not None:
            self._acks[ack_id] = _FutureAck(fut, callback)
        elif timeout is not None:
            handle = asyncio.get_running_loop().call_later(
                timeout, self._ack_timed_out, ack_id, callback
            )
            self._acks[ack_id] = _TimedAck(callback, handle)
        else:
            self._acks[ack_id] = callback
        self._check_pending_acks()
        return ack_id

    def _check_pending_acks(self) -> None:
        acks = self._acks
        limit = self.namespace.options.max_pending_acks
        if limit and acks is not None and len(acks) > limit:
            self.namespace.log.warning(
                "socket %s on %s: %d acknowledgements not answered, over max_pending_acks (%d); closing",
                self.id,
                self.nsp,
                len(acks),
                limit,
            )
            self.client.force_close()

    def _ack_timed_out(self, ack_id: int, callback: Callable[..., Any]) -> None:
        if self._acks is not None and self._acks.pop(ack_id, None) is not None:
            metrics = self.session.metrics
            if metrics is not None:
                metrics.ack_timeouts += 1
            try:
                callback(AckTimeout())
            except Exception:
                self.namespace.log.exception("ack callback raised")

    def expect_ack(self, ack_id: int, callback: Callable[..., Any]) -> None:
        """Call ``callback(*args)`` when the client acknowledges ``ack_id`` (a broadcast
        with acknowledgements registers its id on each socket)."""
        if not self.connected and self._held is None:
            return  # disconnected: nothing will answer (and nothing is kept)
        acks = self._acks
        if acks is None:
            acks = self._acks = {}
        acks[ack_id] = callback
        self._check_pending_acks()

    def forget_ack(self, ack_id: int) -> None:
        """Stop waiting for the acknowledgement ``ack_id`` (if still waited for)."""
        if self._acks is not None:
            self._acks.pop(ack_id, None)

    # ------------------------------------------------------------------ sending
    def send_packet(self, parts: list[str | bytes], compress: bool = True) -> None:
        """Send one encoded packet (``parser.encode`` parts) to the client; held until
        the CONNECT reply has gone out.  ``compress=False``: never compressed."""
        held = self._held
        if held is not None:
            held.append((parts, compress))
            return
        self.client.send_parts(parts, compress)

    def release_held(self) -> None:
        """The CONNECT reply went out: send the packets emitted before it, in order;
        packets go straight out from now on."""
        held = self._held
        self._held = None
        if held:
            for parts, compress in held:
                self.client.send_parts(parts, compress)

    # ------------------------------------------------------------------ broadcasting from here
    def to(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Broadcast to ``room`` (everyone in it but this socket)."""
        return self.namespace.operator(except_rooms={self.id}).to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[Socket]:
        """Broadcast to everyone in the namespace but this socket and those in ``room``."""
        return self.namespace.operator(except_rooms={self.id}).except_(room)

    @property
    def broadcast(self) -> BroadcastOperator[Socket]:
        """Everyone in the namespace but this socket."""
        return self.namespace.operator(except_rooms={self.id})

    # ------------------------------------------------------------------ disconnecting
    def disconnect(self, close: bool = False) -> None:
        """Disconnect from the namespace (``close=True``: close the whole connection)."""
        if not self.connected:
            return
        if close:
            self.client.disconnect_all()
            return
        self.client.send_parts([self.namespace.parser.encode(sio.DISCONNECT, self.namespace.name)[0]])
        self.on_close("server namespace disconnect")

    # ------------------------------------------------------------------ handlers
    def handler_started(self) -> bool:
        """One more of this socket's events has a handler running (a task); False,
        and the connection closed (logged), when that is over the server's
        ``max_pending_handlers``."""
        count = self.pending_handlers + 1
        limit = self.namespace.options.max_pending_handlers
        if limit and count > limit:
            self.namespace.log.warning(
                "socket %s on %s: %d event handlers running, over max_pending_handlers (%d); closing",
                self.id,
                self.nsp,
                count,
                limit,
            )
            self.client.force_close()
            return False
        self.pending_handlers = count
        return True

    def handler_finished(self, _task: Any = None) -> None:
        """One of this socket's handlers is done (a task's done callback)."""
        self.pending_handlers -= 1

    # ------------------------------------------------------------------ incoming
    def on_packet(self, pkt: sio.Packet) -> None:
        """Handle one packet from the client for this namespace (EVENT, ACK or DISCONNECT;
        anything else is a protocol error that closes the connection)."""
        t = pkt.type
        if t == sio.EVENT or t == sio.BINARY_EVENT:
            bucket = self._bucket
            if bucket is not None and not self._within_rate(bucket, pkt):
                return
            self.namespace.dispatch_event(self, pkt.data, pkt.id)
        elif t == sio.ACK or t == sio.BINARY_ACK:
            acks = self._acks
            cb = acks.pop(pkt.id, None) if acks is not None and pkt.id is not None else None
            if cb is None:
                log = self.namespace.log
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("socket %s: unknown ack id %s", self.id, pkt.id)
                return
            try:
                # "31" (an ACK without a payload) is valid: no arguments, as in Node
                cb(*(pkt.data or ()))
            except Exception:
                self.namespace.log.exception("ack callback raised")
        elif t == sio.DISCONNECT:
            self.on_close("client namespace disconnect")
        else:
            self.namespace.log.info("socket %s: unexpected packet type %d from the client", self.id, t)
            self.client.parse_error()

    def _within_rate(self, bucket: list[float], pkt: sio.Packet) -> bool:
        """The event rate limit (see fastsio.protection.RateLimit): False drops the event."""
        limit = self.namespace.options.rate_limit
        assert limit is not None
        log = self.namespace.log
        if limit.allow(bucket, time.monotonic()):
            if bucket[2]:
                log.warning("socket %s on %s: %d events dropped over the rate limit", self.id, self.nsp, bucket[2])
                bucket[2] = 0
            return True
        event = pkt.data[0] if pkt.data else None
        if limit.disconnect:
            log.warning(
                "socket %s on %s from %s: over the event rate limit (%g/s, burst %g); disconnecting",
                self.id, self.nsp, self.handshake.address, limit.rate, limit.burst,
            )
            if self.connected:
                self.client.send_parts([self.namespace.parser.encode(sio.DISCONNECT, self.nsp)[0]])
                self.on_close(RATE_LIMIT_REASON)
            # the flood comes on this connection: close it (other namespaces' sockets included)
            self.client.disconnect_all()
            return False
        bucket[2] += 1
        if bucket[2] == 1:
            log.warning(
                "socket %s on %s from %s: over the event rate limit (%g/s, burst %g); dropping events",
                self.id, self.nsp, self.handshake.address, limit.rate, limit.burst,
            )
            self.volatile.emit(
                RATE_LIMIT_EVENT,
                {
                    "message": RATE_LIMIT_REASON,
                    "data": {"event": event, "events_per_second": limit.rate, "burst": limit.burst},
                },
            )
        return False

    def send_ack(self, ack_id: int, args: list[Any]) -> None:
        """Acknowledge the client's event ``ack_id`` with ``args`` (if still connected)."""
        if self.connected:
            self.client.send_parts(self.namespace.parser.encode(sio.ACK, self.namespace.name, args, ack_id))

    def on_close(self, reason: str) -> None:
        """The socket is disconnected (for ``reason``; once): keep its session for
        recovery if the reason allows, fail its pending acknowledgements, and tell the
        namespace."""
        if not self.connected:
            return
        self.connected = False
        ns = self.namespace
        if self.any_out:
            ns.count_outgoing(-len(self.any_out))
            self.any_out = None
        self.client.remove_socket(ns.name)
        if ns.recovery is not None and self.pid is not None and reason in RECOVERABLE_REASONS:
            # kept for max_disconnection_duration: the client may come back with its pid
            ns.adapter.persist_session(
                RecoverySession(self.id, self.pid, frozenset(self.rooms), self.data, 0.0)
            )
        acks = self._acks
        self._acks = None
        if acks:
            for cb in acks.values():
                if isinstance(cb, _FutureAck):
                    cb.fail()
                elif isinstance(cb, _TimedAck):
                    cb.handle.cancel()
        ns.socket_closed(self, reason)


_NO_ROOMS: frozenset[str] = frozenset()


def _without(listeners: list[Handler] | None, fn: Callable[..., Any] | None) -> list[Handler] | None:
    if fn is None or not listeners:
        return None
    kept = [h for h in listeners if h.fn is not fn]
    return kept or None


sio_reserved = frozenset(
    ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener")
)


class _FutureAck:
    __slots__ = ("fut", "callback")

    def __init__(self, fut: asyncio.Future[Any], callback: Callable[..., Any]) -> None:
        self.fut = fut
        self.callback = callback

    def __call__(self, *args: Any) -> None:
        self.callback(*args)

    def fail(self) -> None:
        if not self.fut.done():
            self.fut.set_exception(DisconnectedError("socket disconnected"))


class _TimedAck:
    __slots__ = ("callback", "handle")

    def __init__(self, callback: Callable[..., Any], handle: asyncio.TimerHandle) -> None:
        self.callback = callback
        self.handle = handle

    def __call__(self, *args: Any) -> None:
        self.handle.cancel()
        self.callback(*args)


class ConnectQueue(list[sio.Packet]):
    """The packets that wait for one namespace's connection (see
    :meth:`Client.begin_connect`), in order; ``nbytes``: their messages' sizes."""

    __slots__ = ("nbytes",)

    def __init__(self) -> None:  # (a new list is empty: no list.__init__ needed)
        self.nbytes = 0


# never written to (Client.begin_connect replaces it)
_NO_CONNECTS: dict[str, ConnectQueue] = {}
# never written to (Client.add_socket replaces it)
_NO_SOCKETS: dict[str, Socket] = {}


class Client:
    """The Socket.IO side of one Engine.IO session (its ``handler``): decodes its
    messages with the server's :class:`~fastsio.protocol.socketio.decoder.Decoder`,
    routes the packets to the namespace sockets, and sends encoded packets.

    While a namespace's connection is being set up (its middleware or connect handler
    is still running), the packets the client sends to it wait, in order, and are
    delivered once the socket is connected.  What waits is bounded for the whole
    connection by the server's ``max_connect_queue`` (packets) and
    ``max_connect_queue_bytes`` (their Engine.IO messages' sizes, attachments
    included): over either, the connection is closed with a log line.  A well-behaved
    client sends nothing before the CONNECT reply (socket.io-client buffers its emits).

    Args:
        server: the server routing CONNECTs (see :class:`ClientRouter`).
        session: the Engine.IO session.

    Its connected sockets, by namespace: the first in two slots (``first_nsp``,
    ``first``), any others in the ``others`` dict (the shared empty dict while there
    are none).  Most connections are in one namespace, and a dict of one entry costs
    184 bytes.  Use :meth:`socket_of`, :meth:`add_socket`, :meth:`remove_socket` and
    :meth:`socket_list`; :attr:`sockets` is a new dict of them.

    Attributes:
        connecting: namespace name -> packets that arrived while its connection was
            being set up (see :meth:`begin_connect`).
        queued: how many packets wait in :attr:`connecting`, all namespaces together.
        queued_bytes: the sizes of those packets' messages, in bytes.
        partial_bytes: the sizes of the attachments received so far of a binary packet
            that is not yet whole, while some namespace is connecting (0 otherwise).
        pending: the decoder's state (:class:`~fastsio.protocol.socketio.decoder.DecoderState`).
        timer_slot: the connect timeout's place on the engine's timer wheel.
    """

    __slots__ = (
        "server",
        "session",
        "first_nsp",
        "first",
        "others",
        "connecting",
        "queued",
        "queued_bytes",
        "partial_bytes",
        "pending",
        "timer_slot",
    )

    def __init__(self, server: ClientRouter, session: Session) -> None:
        self.server = server
        self.session = session
        # the connected sockets: the first one (and its namespace's name), then the
        # others by namespace name (the shared empty dict while there are none)
        self.first_nsp: str | None = None
        self.first: Socket | None = None
        self.others: dict[str, Socket] = _NO_SOCKETS
        # namespace name -> packets that arrived while its connection was being set up
        # (the shared empty dict while there is none: use ``begin_connect`` /
        # ``end_connect`` to change it)
        self.connecting: dict[str, ConnectQueue] = _NO_CONNECTS
        self.queued = 0
        self.queued_bytes = 0
        self.partial_bytes = 0
        # a BINARY_* packet waiting for its attachments (the decoder's state)
        self.pending: list[Any] | None = None
        # the connect timeout, on the engine's timer wheel (no timer handle per client)
        self.timer_slot: Any = None

    @property
    def log(self) -> logging.Logger:
        """The Socket.IO layer's logger (``<server logger>.socketio``)."""
        return self.server.socketio_log

    @property
    def sockets(self) -> dict[str, Socket]:
        """Namespace name -> connected :class:`Socket` (a new dict)."""
        found = {} if self.first is None else {self.first_nsp: self.first}
        if self.others:
            found.update(self.others)
        return found  # type: ignore[return-value]

    def socket_of(self, nsp: str) -> Socket | None:
        """The connected socket of namespace ``nsp``, or None."""
        if nsp == self.first_nsp:
            return self.first
        return self.others.get(nsp) if self.others else None

    def socket_list(self) -> list[Socket]:
        """The connected sockets (a new list)."""
        found = [] if self.first is None else [self.first]
        if self.others:
            found.extend(self.others.values())
        return found

    def socket_count(self) -> int:
        """How many sockets are connected."""
        return (self.first is not None) + len(self.others)

    def add_socket(self, nsp: str, sock: Socket) -> None:
        """``sock`` is connected to namespace ``nsp``."""
        if self.first is None or nsp == self.first_nsp:
            self.first_nsp = nsp
            self.first = sock
        elif self.others is _NO_SOCKETS:
            self.others = {nsp: sock}
        else:
            self.others[nsp] = sock

    def remove_socket(self, nsp: str) -> None:
        """Namespace ``nsp`` has no connected socket any more (nothing if it had none)."""
        if nsp == self.first_nsp:
            self.first_nsp = None
            self.first = None
        elif self.others:
            self.others.pop(nsp, None)
            if not self.others:
                self.others = _NO_SOCKETS

    def begin_connect(self, nsp: str, queued: ConnectQueue | None = None) -> None:
        """``nsp``'s connection is being set up: its packets wait until it is done.

        ``queued``: packets that already waited for an earlier step of the same
        connection (a dynamic namespace's check), as :meth:`end_connect` returned
        them; they go first."""
        waiting = queued if queued is not None else ConnectQueue()
        if self.connecting is _NO_CONNECTS:
            self.connecting = {nsp: waiting}
        else:
            self.connecting[nsp] = waiting
        if queued:
            self.queued += len(queued)
            self.queued_bytes += queued.nbytes

    def end_connect(self, nsp: str) -> ConnectQueue:
        """``nsp``'s set-up is over: the packets that waited for it."""
        connecting = self.connecting
        if nsp not in connecting:
            return ConnectQueue()
        queued = connecting.pop(nsp)
        if not connecting:
            self.connecting = _NO_CONNECTS
            self.queued = self.queued_bytes = self.partial_bytes = 0
        elif queued:
            self.queued -= len(queued)
            self.queued_bytes -= queued.nbytes
        return queued

    def _hold(self, nsp: str, pkt: sio.Packet, size: int) -> None:
        """Queue ``pkt`` (``size`` bytes on the wire) for ``nsp``, still connecting,
        or close the connection when that goes over the server's bounds."""
        options = self.server.options
        queued = self.queued + 1
        queued_bytes = self.queued_bytes + size
        max_packets = options.max_connect_queue
        max_bytes = options.max_connect_queue_bytes
        if (max_packets and queued > max_packets) or (max_bytes and queued_bytes > max_bytes):
            self.server.socketio_log.warning(
                "connection %s: %d packets (%d bytes) sent while connecting to %.100r, over "
                "max_connect_queue (%d) or max_connect_queue_bytes (%d); closing",
                self.session.sid,
                queued,
                queued_bytes,
                nsp,
                max_packets,
                max_bytes,
            )
            self.force_close()
            return
        self.queued = queued
        self.queued_bytes = queued_bytes
        waiting = self.connecting[nsp]
        waiting.append(pkt)
        waiting.nbytes += size

    # ---------------------------------------------------------------- session handler
    def on_open(self, now: float) -> None:
        """The session is open (``now``: the loop clock): start the connect timeout;
        a Socket.IO v4 client (Engine.IO v3) is connected to ``/`` at once."""
        timeout = self.server.options.connect_timeout
        session = self.session
        if timeout:
            session.owner.schedule(self, now + timeout)
        if session.eio == 3:
            # Socket.IO v4 clients (1.x/2.x) are connected to "/" without asking
            session.v3.json_messages = True
            self.server.connect_namespace(self, "/", {})

    def on_timer(self, now: float) -> None:
        """The connect timeout: no namespace connected in time (a middleware or
        connect handler that is still running does not hold it off, as in Node)."""
        if not self.socket_count():
            if self.connecting:
                self.server.socketio_log.info(
                    "connection %s not connected in time (the connection to %.100r is still being set up); closing",
                    self.session.sid,
                    next(iter(self.connecting)),
                )
            else:
                self.server.socketio_log.info("connection %s sent no CONNECT in time; closing", self.session.sid)
            self.session.close("forced close")

    def on_message(self, data: str | bytes) -> None:
        """One Engine.IO message: decoded, then routed once a whole packet."""
        pkt = self.server.decoder.feed(self, data)
        if pkt is None:
            if self.connecting is not _NO_CONNECTS:
                self.partial_bytes += len(data)  # an attachment, maybe for a queued packet
            return
        if isinstance(pkt, ProtocolError):
            self.server.socketio_log.info("connection %s: %s", self.session.sid, pkt.reason)
            self.parse_error()
            return
        extra = self.partial_bytes
        if extra:
            self.partial_bytes = 0
        self._route(pkt, data, extra)

    def _route(self, pkt: sio.Packet, data: str | bytes, extra: int) -> None:
        nsp = pkt.nsp
        auth = pkt.data
        if self.session.eio == 3:
            # Socket.IO v4: a CONNECT's namespace may carry a query string, the auth
            query = split_v3_query(pkt)
            if query is not None:
                nsp = pkt.nsp
                auth = query
        if nsp == self.first_nsp:  # socket_of, inline: once per packet
            sock = self.first
        else:
            sock = self.others.get(nsp) if self.others else None
        if pkt.type == sio.CONNECT:
            if sock is not None or nsp in self.connecting:
                self.server.socketio_log.info("connection %s: second CONNECT to %s", self.session.sid, nsp)
                self.parse_error()
                return
            self.server.connect_namespace(self, nsp, auth if auth is not None else {})
        elif sock is not None:
            sock.on_packet(pkt)
        elif nsp in self.connecting:
            self._hold(nsp, pkt, len(data) + extra)
        elif pkt.type == sio.DISCONNECT:
            pass
        else:
            self.server.socketio_log.info("connection %s: packet for unconnected namespace %s", self.session.sid, nsp)
            self.parse_error()

    def on_close(self, reason: str) -> None:
        """The session closed: every socket of the connection is disconnected."""
        if self.timer_slot is not None:
            self.session.owner.cancel(self)
        for sock in self.socket_list():
            sock.on_close(reason)
        self.first_nsp = None
        self.first = None
        self.others = _NO_SOCKETS

    # ---------------------------------------------------------------- helpers
    def force_close(self) -> None:
        """A bound of the server's options was passed (logged by the caller):
        disconnect every socket ("forced close") and close the session."""
        self.on_close("forced close")
        self.session.close("forced close")

    def parse_error(self) -> None:
        """The client broke the protocol: disconnect its sockets, close the session."""
        self.on_close("parse error")
        self.session.close("parse error")

    def connected(self, sock: Socket) -> None:
        """``sock`` connected: the connect timeout is over, and so is the handshake."""
        session = self.session
        if self.timer_slot is not None:
            session.owner.cancel(self)
        session.owner.handshake_done(session)

    def send_parts(self, parts: list[str | bytes], compress: bool = True) -> None:
        """Send one encoded Socket.IO packet (text part, then attachments);
        ``compress=False``: never compressed (permessage-deflate)."""
        session = self.session
        if session.state != OPEN or session.congested:
            # closed, or a slow consumer whose packets are dropped (slow_consumer="drop")
            metrics = session.metrics
            if metrics is not None and session.state == OPEN:
                metrics.dropped += 1
            return
        for part in parts:
            if isinstance(part, str):
                session.send(MESSAGE_PREFIX + part, compress)
            else:
                session.send(part, compress)

    def disconnect_all(self) -> None:
        """Disconnect every socket of the connection (each told with a DISCONNECT),
        then close the session ("forced close")."""
        for sock in self.socket_list():
            if sock.connected:
                self.send_parts([self.server.parser.encode(sio.DISCONNECT, sock.namespace.name)[0]])
                sock.on_close("server namespace disconnect")
        self.session.close("forced close")

