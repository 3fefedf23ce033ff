"""``Socket``: one client connected to one namespace; and the per-connection client
object that demultiplexes Socket.IO packets of one Engine.IO session to its sockets."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qsl

from ._handlers import Handler, ack_args, spawn
from .adapters.base import RECOVERABLE_REASONS, RecoverySession
from ._ids import random_id
from .exceptions import AckTimeout, DisconnectedError
from .protection import RATE_LIMIT_EVENT, RATE_LIMIT_REASON
from .protocol import socketio as sio
from .protocol.engineio.session import OPEN, Session

if TYPE_CHECKING:
    from .broadcast import BroadcastOperator
    from .namespace import Namespace
    from .server import Server

log = logging.getLogger("fastsio")

__all__ = ("Handshake", "Socket")

# binary attachments one packet may announce (socket.io-parser's maxAttachments default):
# a client cannot make the server collect binary frames without end
MAX_ATTACHMENTS = 10


class Handshake:
    """What the client sent when it connected (``socket.handshake``).

    ``headers`` and ``query`` are the handshake request's own dicts (shared, not copied:
    treat them as read-only)."""

    __slots__ = ("_request", "auth", "issued")

    def __init__(self, request: Any, auth: dict[str, Any]) -> None:
        self._request = request
        self.auth = auth
        # when the connection was made, in milliseconds since the epoch
        self.issued: int = int(time.time() * 1000)

    @property
    def headers(self) -> dict[str, str]:
        return self._request.headers if self._request is not None else {}

    @property
    def query(self) -> dict[str, str]:
        return self._request.query if self._request is not None else {}

    @property
    def address(self) -> str:
        client = self._request.client if self._request is not None else None
        return client[0] if client else ""

    @property
    def time(self) -> str:
        """The connection time as a date string (like Node's ``new Date().toString()``)."""
        return time.strftime("%a %b %d %Y %H:%M:%S GMT%z", time.localtime(self.issued / 1000))

    @property
    def url(self) -> str:
        return self._request.url if self._request is not None else ""

    @property
    def secure(self) -> bool:
        return bool(self._request.secure) if self._request is not None else False

    @property
    def xdomain(self) -> bool:
        return "origin" in self.headers

    def __repr__(self) -> str:
        return f"Handshake(address={self.address!r}, url={self.url!r}, auth={self.auth!r})"


def _new_id() -> str:
    return random_id()


class Socket:
    """A client connected to a namespace."""

    __slots__ = (
        "id",
        "namespace",
        "client",
        "handshake",
        "_data",
        "connected",
        "recovered",
        "_acks",
        "_held",
        "_timeout",
        "_volatile",
        "_compress",
        "_any_in",
        "_any_out",
        "_middlewares",
        "pid",
        "_restoring",
        "_bucket",
        "__weakref__",
    )

    def __init__(self, namespace: Namespace, client: Client, auth: dict[str, Any]) -> None:
        session = client.session
        if session.eio == 3:
            # Socket.IO v4 (socket.io-client 1.x/2.x): ids derive from the Engine.IO id, as in Node
            self.id = session.sid if namespace.name == "/" else namespace.name + "#" + session.sid
        else:
            self.id = _new_id()
        self.namespace = namespace
        self.client = client
        self.handshake = Handshake(client.session.request, auth)
        # free for the application (``data``: a dict made on first use)
        self._data: dict[str, Any] | None = None
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
        self._any_in: list[Handler] | None = None
        self._any_out: list[Handler] | None = None
        # per-packet middleware fn(socket, event, args)
        self._middlewares: list[Handler] | None = None
        # connection state recovery: the private session id (sent in the CONNECT reply),
        # and the kept session being restored until the CONNECT reply goes out
        self.pid: str | None = None
        self._restoring: Any = None
        # the event rate limit's token bucket (None: no limit)
        limit = namespace.server.rate_limit
        self._bucket: list[float] | None = None if limit is None else limit.new_bucket(time.monotonic())

    def __repr__(self) -> str:
        return f"<Socket id={self.id!r} nsp={self.nsp!r} connected={self.connected}>"

    @property
    def data(self) -> dict[str, Any]:
        """Free for the application: a dict (Node's ``socket.data``)."""
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
    def server(self) -> Server:
        return self.namespace.server

    @property
    def transport(self) -> str:
        return self.client.session.transport

    @property
    def sid(self) -> str:
        """The Engine.IO session id of the underlying connection."""
        return self.client.session.sid

    # ------------------------------------------------------------------ rooms
    def join(self, room: str | list[str] | tuple[str, ...] | set[str]) -> None:
        rooms = [room] if isinstance(room, str) else list(room)
        self.namespace.adapter.add_all(self.id, rooms)

    def leave(self, room: str) -> None:
        self.namespace.adapter.delete(self.id, room)

    # ------------------------------------------------------------------ emitting
    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send an event to this client.  Synchronous; never blocks.

        ``callback`` (called with the client's ack arguments) asks for an acknowledgement.
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
        ns._notify_outgoing(self, event, args)
        ack_id = None
        if callback is not None:
            ack_id = self._register_ack(callback, self._timeout)
            self._timeout = None
        self._send(ns.parser.encode_event(ns.name, event, args, ack_id), compress)

    def _emit_kept(self, event: str, args: tuple[Any, ...], compress: bool = True) -> None:
        """An emit with connection state recovery: like Node, the packet gets an offset
        (its last argument) and is kept for this socket's id, to be replayed if the
        client comes back after missing it (even when the socket is disconnected now)."""
        ns = self.namespace
        adapter = ns.adapter
        offset = adapter.next_offset()
        if offset is None:  # an adapter that keeps no packets
            parts = ns.parser.encode_event(ns.name, event, args)
        else:
            parts = ns.parser.encode_event(ns.name, event, (*args, offset))
            adapter.store(offset, parts, frozenset((self.id,)), _NO_ROOMS)
        if not self.connected and self._held is None:
            return
        if self._restoring is not None:
            return  # the replay that follows the CONNECT reply includes it
        ns._notify_outgoing(self, event, args)
        self._send(parts, compress)

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Emit a ``message`` event."""
        self.emit("message", *args, callback=callback)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Emit and wait for the client's acknowledgement; returns its argument
        (a tuple when it sent several, None when none).  Raises :class:`AckTimeout`
        after ``socket.timeout(s)`` (or the server's ``ack_timeout``), and
        :class:`DisconnectedError` if the socket disconnects first."""
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
        ns._notify_outgoing(self, event, args)
        ack_id = self._register_ack(done, None, fut)
        self._send(ns.parser.encode_event(ns.name, event, args, ack_id), compress)
        if timeout is None:
            timeout = self.namespace.server.ack_timeout
        try:
            if timeout is None:
                return await fut
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
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
        self._any_in = [*(self._any_in or ()), Handler(fn)]
        return fn

    def prepend_any(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        self._any_in = [Handler(fn), *(self._any_in or ())]
        return fn

    def off_any(self, fn: Callable[..., Any] | None = None) -> None:
        """Remove ``fn`` (or every catch-all listener)."""
        self._any_in = _without(self._any_in, fn)

    def on_any_outgoing(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``fn(socket, event, *args)`` for every event sent to this socket."""
        self._any_out = [*(self._any_out or ()), Handler(fn)]
        self.namespace._outgoing += 1
        return fn

    def prepend_any_outgoing(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        self._any_out = [Handler(fn), *(self._any_out or ())]
        self.namespace._outgoing += 1
        return fn

    def off_any_outgoing(self, fn: Callable[..., Any] | None = None) -> None:
        before = len(self._any_out or ())
        self._any_out = _without(self._any_out, fn)
        self.namespace._outgoing -= before - len(self._any_out or ())

    def use(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Per-packet middleware ``fn(socket, event, args)`` for incoming events: it may
        change ``args`` (a list) in place, raise to drop the packet (the namespace's
        ``error`` hook sees the exception), and may be async."""
        self._middlewares = [*(self._middlewares or ()), Handler(fn)]
        return fn

    def _register_ack(
        self, callback: Callable[..., Any], timeout: float | None, fut: Any = None
    ) -> int:
        ack_id = self.namespace.next_ack_id()
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
        return ack_id

    def _ack_timed_out(self, ack_id: int, callback: Callable[..., Any]) -> None:
        if self._acks is not None and self._acks.pop(ack_id, None) is not None:
            try:
                callback(AckTimeout())
            except Exception:
                log.exception("ack callback raised")

    def _send(self, parts: list[str | bytes], compress: bool = True) -> None:
        held = self._held
        if held is not None:
            held.append((parts, compress))
            return
        self.client.send_parts(parts, compress)

    def _release_held(self) -> None:
        held = self._held
        self._held = None
        if held:
            for parts, compress in held:
                self.client.send_parts(parts, compress)

    # ------------------------------------------------------------------ broadcasting from here
    def to(self, room: str | list[str]) -> BroadcastOperator:
        """Broadcast to ``room`` (everyone in it but this socket)."""
        return self.namespace._operator(except_rooms={self.id}).to(room)

    in_ = to

    def except_(self, room: str | list[str]) -> BroadcastOperator:
        return self.namespace._operator(except_rooms={self.id}).except_(room)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Everyone in the namespace but this socket."""
        return self.namespace._operator(except_rooms={self.id})

    # ------------------------------------------------------------------ disconnecting
    def disconnect(self, close: bool = False) -> None:
        """Disconnect from the namespace (``close=True``: close the whole connection)."""
        if not self.connected:
            return
        if close:
            self.client.disconnect_all()
            return
        self.client.send_parts([self.namespace.parser.encode(sio.DISCONNECT, self.namespace.name)[0]])
        self._on_close("server namespace disconnect")

    # ------------------------------------------------------------------ incoming
    def _on_packet(self, pkt: Any) -> None:
        t = pkt.type
        if t == sio.EVENT or t == sio.BINARY_EVENT:
            bucket = self._bucket
            if bucket is not None and not self._within_rate(bucket, pkt):
                return
            self.namespace._dispatch_event(self, pkt.data, pkt.id)
        elif t == sio.ACK or t == sio.BINARY_ACK:
            acks = self._acks
            cb = acks.pop(pkt.id, None) if acks is not None else None
            if cb is None:
                log.debug("socket %s: unknown ack id %s", self.id, pkt.id)
                return
            try:
                # "31" (an ACK without a payload) is valid: no arguments, as in Node
                cb(*(pkt.data or ()))
            except Exception:
                log.exception("ack callback raised")
        elif t == sio.DISCONNECT:
            self._on_close("client namespace disconnect")
        else:
            log.info("socket %s: unexpected packet type %d from the client", self.id, t)
            self.client.parse_error()

    def _within_rate(self, bucket: list[float], pkt: Any) -> bool:
        """The event rate limit (see fastsio.protection.RateLimit): False drops the event."""
        limit = self.namespace.server.rate_limit
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
                self._on_close(RATE_LIMIT_REASON)
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
        if self.connected:
            self.client.send_parts(self.namespace.parser.encode(sio.ACK, self.namespace.name, args, ack_id))

    def _on_close(self, reason: str) -> None:
        if not self.connected:
            return
        self.connected = False
        if self._any_out:
            self.namespace._outgoing -= len(self._any_out)
            self._any_out = None
        self.client.sockets.pop(self.namespace.name, None)
        ns = self.namespace
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
        self.namespace._remove(self, reason)


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


# never written to (Client.begin_connect replaces it)
_NO_CONNECTS: dict[str, list[Any]] = {}


class Client:
    """The Socket.IO side of one Engine.IO session: decodes packets (collecting binary
    attachments), routes them to the namespace sockets, and sends encoded packets."""

    __slots__ = ("server", "session", "sockets", "connecting", "partial", "buffers", "timer_slot")

    def __init__(self, server: Server, session: Session) -> None:
        self.server = server
        self.session = session
        # namespace name -> connected Socket
        self.sockets: dict[str, Socket] = {}
        # namespace name -> packets that arrived while its connection was being set up
        # (the shared empty dict while there is none: use ``begin_connect`` /
        # ``end_connect`` to change it)
        self.connecting: dict[str, list[Any]] = _NO_CONNECTS
        # a BINARY_* packet waiting for its attachments
        self.partial: Any = None
        self.buffers: list[bytes] | tuple[()] = ()
        # the connect timeout, on the engine's timer wheel (no timer handle per client)
        self.timer_slot: Any = None

    def begin_connect(self, nsp: str) -> None:
        """``nsp``'s connection is being set up: its packets wait until it is done."""
        if self.connecting is _NO_CONNECTS:
            self.connecting = {nsp: []}
        else:
            self.connecting[nsp] = []

    def end_connect(self, nsp: str) -> list[Any]:
        """``nsp``'s set-up is over: the packets that waited for it."""
        connecting = self.connecting
        if nsp not in connecting:
            return []
        queued = connecting.pop(nsp)
        if not connecting:
            self.connecting = _NO_CONNECTS
        return queued

    # ---------------------------------------------------------------- session handler
    def on_open(self) -> None:
        timeout = self.server.connect_timeout
        session = self.session
        if timeout:
            session.owner.schedule(self, asyncio.get_running_loop().time() + timeout)
        if session.eio == 3:
            # Socket.IO v4 clients (1.x/2.x) are connected to "/" without asking
            session.v3.json_messages = True
            self.server._connect(self, "/", {})

    def on_timer(self, now: float) -> None:
        """The connect timeout: no namespace connected (nor connecting) in time."""
        if not self.sockets and not self.connecting:
            log.info("connection %s sent no CONNECT in time; closing", self.session.sid)
            self.session.close("forced close")

    def on_message(self, data: str | bytes) -> None:
        if isinstance(data, str):
            if self.partial is not None:
                log.info("connection %s: text packet while attachments were expected", self.session.sid)
                self.parse_error()
                return
            try:
                pkt = self.server.parser.decode(data)
            except sio.SocketIOError as exc:
                log.info("connection %s: invalid packet (%s): %.100r", self.session.sid, exc, data)
                self.parse_error()
                return
            if pkt.attachments:
                if pkt.attachments > MAX_ATTACHMENTS:
                    log.info(
                        "connection %s: %d attachments announced (max %d)",
                        self.session.sid,
                        pkt.attachments,
                        MAX_ATTACHMENTS,
                    )
                    self.parse_error()
                    return
                self.partial = pkt
                self.buffers = []
                return
            self._route(pkt)
            return
        pkt = self.partial
        if pkt is None:
            log.info("connection %s: unexpected binary message", self.session.sid)
            self.parse_error()
            return
        self.buffers.append(data)  # type: ignore[union-attr]
        if len(self.buffers) < pkt.attachments:
            return
        self.partial = None
        buffers = self.buffers
        self.buffers = ()
        try:
            pkt.data = self.server.parser.reconstruct(pkt.data, buffers)
        except sio.SocketIOError as exc:
            log.info("connection %s: %s", self.session.sid, exc)
            self.parse_error()
            return
        self._route(pkt)

    def _route(self, pkt: Any) -> None:
        nsp = pkt.nsp
        auth = pkt.data
        if self.session.eio == 3 and "?" in nsp:
            # Socket.IO v4: a CONNECT's namespace may carry a query string, the auth
            nsp, _, query = nsp.partition("?")
            pkt.nsp = nsp
            auth = dict(parse_qsl(query, keep_blank_values=True))
        sock = self.sockets.get(nsp)
        if pkt.type == sio.CONNECT:
            if sock is not None or nsp in self.connecting:
                log.info("connection %s: second CONNECT to %s", self.session.sid, nsp)
                self.parse_error()
                return
            self.server._connect(self, nsp, auth if auth is not None else {})
        elif sock is not None:
            sock._on_packet(pkt)
        elif nsp in self.connecting:
            self.connecting[nsp].append(pkt)
        elif pkt.type == sio.DISCONNECT:
            pass
        else:
            log.info("connection %s: packet for unconnected namespace %s", self.session.sid, nsp)
            self.parse_error()

    def on_close(self, reason: str) -> None:
        if self.timer_slot is not None:
            self.session.owner.cancel(self)
        for sock in list(self.sockets.values()):
            sock._on_close(reason)
        self.sockets.clear()

    # ---------------------------------------------------------------- helpers
    def parse_error(self) -> None:
        self.on_close("parse error")
        self.session.close("parse error")

    def connected(self, sock: Socket) -> None:
        if self.timer_slot is not None:
            self.session.owner.cancel(self)
        self.server._engine.handshake_done(self.session)

    def send_parts(self, parts: list[str | bytes], compress: bool = True) -> None:
        """Send one encoded Socket.IO packet (text part, then attachments);
        ``compress=False``: never compressed (permessage-deflate)."""
        session = self.session
        if session.state != OPEN:
            return
        for part in parts:
            if isinstance(part, str):
                session.send("4" + part, compress)
            else:
                session.send(part, compress)

    def disconnect_all(self) -> None:
        for sock in list(self.sockets.values()):
            if sock.connected:
                self.send_parts([self.server.parser.encode(sio.DISCONNECT, sock.namespace.name)[0]])
                sock._on_close("server namespace disconnect")
        self.session.close("forced close")


class MsgpackClient(Client):
    """The client of a server with a binary parser (``parser="msgpack"``): each message
    is one whole packet, binary; a text message is a protocol error."""

    __slots__ = ()

    def on_message(self, data: str | bytes) -> None:
        try:
            pkt = self.server.parser.decode(data)
        except sio.SocketIOError as exc:
            log.info("connection %s: invalid packet (%s)", self.session.sid, exc)
            self.parse_error()
            return
        self._route(pkt)
