"""The server side of the Socket.IO Admin UI (``@socket.io/admin-ui`` 0.5): ``sio.instrument()``.

The UI (https://admin.socket.io, or the one the npm package ships in ``ui/dist``) is a
socket.io-client 4 that connects to the admin namespace (``/admin``) with
``{"username", "password"}`` in its CONNECT auth (``{"sessionId"}`` after a page
reload) and listens for what the package's ``instrument()`` sends; this module speaks
that protocol (docs/admin-ui.md tells how to open the UI):

* authentication: a connect middleware on the admin namespace checks the auth (plain
  ``username``/``password``, a list of such, or a callable); a successful login gets a
  ``session`` event with a session id the UI keeps, good for 24 hours (at most 1000 are
  kept); a refusal is ``invalid credentials``, the message the UI looks for;
* on connection: ``config`` (``supportedFeatures``), then in development mode
  ``all_sockets`` (every socket of every namespace, serialized as the package does);
* ``server_stats`` every ``server_stats_interval`` seconds, while an admin is connected:
  ``serverId``, ``hostname``, ``pid``, ``uptime``, ``clientsCount``,
  ``pollingClientsCount``, ``namespaces`` (``name``, ``socketsCount``) and
  ``aggregatedEvents`` (per second: ``rawConnection``, ``rawDisconnection`` with the
  reason as ``subType``, ``packetsIn``/``packetsOut``, ``bytesIn``/``bytesOut``);
* development mode: ``socket_connected``, ``socket_updated`` (the transport, on
  upgrade), ``socket_disconnected``, ``room_joined``, ``room_left``, and every event of
  the other namespaces, ``event_received`` and ``event_sent`` (a broadcast: once per
  recipient, as in Node);
* the UI's actions, unless ``read_only``: ``join``/``leave`` ``(nsp, room, filter)``,
  ``_disconnect`` ``(nsp, close, filter)`` and ``emit`` ``(nsp, filter, event, *args)``,
  where ``filter`` (a socket id or a room; none: the whole namespace) selects the
  sockets.

How it works, and what it costs: three generic hooks of the core, each empty by
default.  :attr:`fastsio.Server.observers` (:class:`fastsio.observers.Observer`) tells
this object of sockets connected and disconnected, rooms joined and left, broadcasts
and new namespaces; :attr:`fastsio.Server.engine`'s ``observers``
(:class:`~fastsio._server.engine.EngineObserver`) of sessions opened, upgraded and
closed; and :attr:`fastsio.Server.client_class` is set to a subclass of
:class:`fastsio.Client` that counts the messages and bytes of the connections opened
from then on.  None of it is on a server that is not instrumented.  Instrumented, the
counting is a few additions per message, and only while an admin is connected; in
development mode the catch-all listeners that report events (which make broadcasts
notify per recipient) are attached only while an admin is connected, and taken off
when the last one leaves.  Production mode reports no socket, room or event at all.

A cluster (the admin namespace on a cluster adapter: ``RedisAdapter``): as in Node, every
node's stats and reports are broadcasts on the admin namespace, so they reach the admins of
every node, and each node counts and reports whether or not an admin is connected to it;
``all_sockets`` has every node's sockets (``fetch_sockets``), and the actions reach every
node's sockets (the broadcast operator's ``sockets_join``...).  The default ``server_id``
is then ``hostname#pid``.

Not done: ``socket_updated`` when the application changes ``socket.data`` (Node watches
it through a Proxy); bcrypt-hashed passwords (pass a callable that checks them:
:func:`bcrypt.checkpw`, for instance).
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import os
import re
import socket as _socket
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Protocol

from ._server.engine import Engine
from .adapters.base import RemoteSocket
from .exceptions import ConnectionRefused
from .namespace import Namespace, ParentNamespace
from .observers import Observer
from .protocol.engineio.session import POLLING, Session
from .socket import Client, Socket

__all__ = ("Admin", "AdminServer", "EventBuffer", "Meter", "serialize_remote", "serialize_socket")

#: what the UI may do, as ``config.supportedFeatures`` names it
ACTION_FEATURES = ("EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")

# a login's session id is good this long (the package's RedisStore default), and at
# most this many are kept (the oldest go first)
SESSION_DURATION = 86400.0
MAX_SESSIONS = 1000

_BCRYPT = re.compile(r"^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$")
_RESERVED = frozenset(("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"))


class AdminServer(Protocol):
    """What :class:`Admin` needs of the server it instruments (:class:`fastsio.Server`
    satisfies it)."""

    @property
    def namespaces(self) -> dict[str, Namespace]:
        """Name -> namespace."""
        ...

    @property
    def parents(self) -> list[ParentNamespace]:
        """The dynamic namespaces."""
        ...

    @property
    def observers(self) -> list[Observer]:
        """The observers of sockets, rooms and broadcasts."""
        ...

    @property
    def client_class(self) -> type[Client]:
        """The class of each new connection's client."""
        ...

    @client_class.setter
    def client_class(self, value: type[Client]) -> None: ...

    @property
    def engine(self) -> Engine:
        """The Engine.IO server (its sessions and observers)."""
        ...

    @property
    def log(self) -> Any:
        """The server's logger."""
        ...

    def of(self, name: str) -> Namespace:
        """The namespace ``name`` (created on first use)."""
        ...


def now_iso() -> str:
    """The time now as the UI's timestamps are (JavaScript's ``new Date()`` in JSON)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    """``value`` as JSON can carry it (what does not encode becomes its ``str``)."""
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return {}


def serialize_socket(sock: Socket) -> dict[str, Any]:
    """``sock`` as the UI shows it (the package's ``serialize``): ``id``, ``clientId``
    (its Engine.IO session id), ``transport``, ``nsp``, ``data``, ``handshake``
    (``address``, ``headers``, ``query``, ``issued``, ``secure``, ``time``, ``url``,
    ``xdomain``; not the auth) and ``rooms``."""
    hs = sock.handshake
    headers = hs.headers
    address = headers.get("cf-connecting-ip") or headers.get("x-forwarded-for") or hs.address
    data = sock.data
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "_admin"}
    return {
        "id": sock.id,
        "clientId": sock.sid,
        "transport": sock.transport,
        "nsp": sock.nsp,
        "data": _jsonable(data),
        "handshake": {
            "address": address,
            "headers": dict(headers),
            "query": dict(hs.query),
            "issued": hs.issued,
            "secure": hs.secure,
            "time": hs.time,
            "url": hs.url,
            "xdomain": hs.xdomain,
        },
        "rooms": sorted(sock.rooms),
    }


def serialize_remote(sock: RemoteSocket, nsp: str) -> dict[str, Any]:
    """A socket of another node (``fetch_sockets``) as the UI shows it: what that node
    told (its handshake without the auth); its connection id is not told, so its own id
    stands for it, and its transport is unknown."""
    handshake = {k: v for k, v in sock.handshake.items() if k != "auth"}
    data = sock.data
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "_admin"}
    return {
        "id": sock.id,
        "clientId": sock.id,
        "transport": None,
        "nsp": nsp,
        "data": _jsonable(data),
        "handshake": _jsonable(handshake),
        "rooms": sorted(sock.rooms),
    }


class EventBuffer:
    """The aggregated counts of ``server_stats``: per second (a timestamp in
    milliseconds), event type and sub-type, a count; drained by every stats tick."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str, str | None], int] = {}

    def push(self, kind: str, count: int = 1, sub_type: str | None = None) -> None:
        """Count ``count`` more of ``kind`` (and ``sub_type``) in the current second."""
        key = (int(time.time()) * 1000, kind, sub_type)
        counts = self.counts
        counts[key] = counts.get(key, 0) + count

    def drain(self) -> list[dict[str, Any]]:
        """The counts so far, as ``aggregatedEvents``; the buffer is empty after."""
        counts = self.counts
        self.counts = {}
        out = []
        for (timestamp, kind, sub_type), count in counts.items():
            event: dict[str, Any] = {"timestamp": timestamp, "type": kind, "count": count}
            if sub_type is not None:
                event["subType"] = sub_type
            out.append(event)
        return out


class Meter:
    """Traffic counters (messages and bytes, in and out) since the last ``server_stats``:
    plain additions on the message paths, read and reset once per stats tick (the UI
    draws them in 10-second bars, so one bucket per tick loses nothing it shows).  Text
    messages count their characters (their UTF-8 bytes for ASCII text)."""

    __slots__ = ("on", "packets_in", "bytes_in", "packets_out", "bytes_out")

    def __init__(self) -> None:
        #: whether anyone may be watching (an admin connected here, or a cluster, whose
        #: admins on other nodes get this node's reports): nothing is counted otherwise
        self.on = False
        self.packets_in = self.bytes_in = self.packets_out = self.bytes_out = 0

    def drain_into(self, events: EventBuffer) -> None:
        """Add the counts to ``events`` (the current second), and reset them."""
        for kind, count in (("packetsIn", self.packets_in), ("bytesIn", self.bytes_in),
                            ("packetsOut", self.packets_out), ("bytesOut", self.bytes_out)):
            if count:
                events.push(kind, count)
        self.packets_in = self.bytes_in = self.packets_out = self.bytes_out = 0


def _counting_client(admin: Admin) -> type[Client]:
    """A :class:`Client` that counts its messages and bytes in and out into
    ``admin.meter`` while anyone may be watching (``meter.on``)."""
    meter = admin.meter

    class CountingClient(Client):
        """A connection's client counting its traffic for the Admin UI."""

        __slots__ = ()

        def on_message(self, data: str | bytes) -> None:
            """See :meth:`Client.on_message`; counted first."""
            if meter.on:
                meter.packets_in += 1
                meter.bytes_in += len(data)
            super().on_message(data)

        def send_parts(self, parts: list[str | bytes], compress: bool = True) -> None:
            """See :meth:`Client.send_parts`; counted first."""
            if meter.on:
                meter.packets_out += len(parts)
                meter.bytes_out += _size(parts)
            super().send_parts(parts, compress)

    return CountingClient


def _size(parts: list[str | bytes]) -> int:
    # each part is one Engine.IO message: its type prefix for a text one, then the data
    if len(parts) == 1:
        part = parts[0]
        return len(part) + 1 if isinstance(part, str) else len(part)
    return sum(len(p) + 1 if isinstance(p, str) else len(p) for p in parts)


class Admin:
    """The Admin UI's instrumentation of one server (``sio.instrument(...)`` makes it;
    the arguments are :meth:`fastsio.Server.instrument`'s).

    Attributes:
        server: the instrumented server.
        namespace: the admin namespace.
        mode: ``"development"`` or ``"production"``.
        read_only: whether the UI's actions are refused.
        server_id: the server's name in the UI.
        features: what ``config`` announces (``supportedFeatures``).
        events: the connection counts of the next ``server_stats`` (:class:`EventBuffer`).
        meter: its traffic counts (:class:`Meter`).
        clustered: the admin namespace has a cluster adapter (every node reports to the
            admins of every node).
    """

    def __init__(
        self,
        server: AdminServer,
        *,
        auth: Any,
        mode: str = "development",
        read_only: bool = False,
        namespace: str = "/admin",
        server_id: str | None = None,
        server_stats_interval: float = 2.0,
    ) -> None:
        self._check_auth = _auth_checker(auth)
        if mode not in ("development", "production"):
            raise ValueError(f"mode must be 'development' or 'production', not {mode!r}")
        if not isinstance(namespace, str) or not namespace:
            raise ValueError(f"namespace must be a namespace name, not {namespace!r}")
        if not isinstance(server_stats_interval, (int, float)) or server_stats_interval <= 0:
            raise ValueError(f"server_stats_interval must be a positive number, not {server_stats_interval!r}")
        self.server = server
        #: the server logger's ``admin`` child (the logger hierarchy of docs/operations.md)
        self.log = server.log.getChild("admin")
        self.mode = mode
        self.verbose = mode == "development"
        self.read_only = bool(read_only)
        self.hostname = _socket.gethostname()
        self.interval = float(server_stats_interval)
        self.features = ([] if self.read_only else list(ACTION_FEATURES)) + ["AGGREGATED_EVENTS"]
        if self.verbose:
            self.features.append("ALL_EVENTS")
        self.events = EventBuffer()
        self.meter = Meter()
        self.started = time.monotonic()
        self.namespace = ns = server.of(namespace)
        #: a cluster adapter: the admins of every node get this node's stats and reports
        #: (broadcasts on the admin namespace reach them), whether or not one is here
        self.clustered = bool(ns.adapter.clustered)
        # as Node names a cluster's workers: the host, and the pid when several may share it
        self.server_id = server_id or (f"{self.hostname}#{os.getpid()}" if self.clustered else self.hostname)
        # login session id -> when it expires (monotonic), oldest first
        self._sessions: OrderedDict[str, float] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None
        # the catch-all listeners that report events are on (an admin is connected); bound
        # once, so that off_any finds them again (it compares by identity)
        self._watching = False
        self._on_in: Callable[..., None] = self._incoming
        self._on_out: Callable[..., None] = self._outgoing
        ns.use(self._authenticate)
        ns.on("connect", self._on_admin_connect)
        if not self.read_only:
            ns.on("join", self._on_join)
            ns.on("leave", self._on_leave)
            ns.on("_disconnect", self._on_disconnect)
            ns.on("emit", self._on_emit)
        server.observers.append(self)
        server.engine.observers.append(self)
        server.client_class = _counting_client(self)
        if self.clustered:
            self.meter.on = True
            self._watch(self.verbose)

    def __repr__(self) -> str:
        return f"<Admin {self.namespace.name!r} mode={self.mode!r} admins={len(self.namespace.sockets)}>"

    # ------------------------------------------------------------------ authentication
    def _authenticate(self, sock: Socket, auth: dict[str, Any]) -> Any:
        session_id = auth.get("sessionId")
        if isinstance(session_id, str) and self._session_valid(session_id):
            return None
        check = self._check_auth
        if check is None:
            return None
        ok = check(auth)
        if inspect.isawaitable(ok):
            return self._authenticate_async(sock, ok)
        self._logged_in(sock, bool(ok))
        return None

    async def _authenticate_async(self, sock: Socket, pending: Any) -> None:
        self._logged_in(sock, bool(await pending))

    def _logged_in(self, sock: Socket, ok: bool) -> None:
        if not ok:
            self.log.info("admin UI: invalid credentials from %s", sock.handshake.address)
            raise ConnectionRefused("invalid credentials")
        session_id = os.urandom(8).hex()
        sessions = self._sessions
        sessions[session_id] = time.monotonic() + SESSION_DURATION
        while len(sessions) > MAX_SESSIONS:
            sessions.popitem(last=False)
        sock.emit("session", session_id)

    def _session_valid(self, session_id: str) -> bool:
        expires = self._sessions.get(session_id)
        if expires is None:
            return False
        if expires < time.monotonic():
            del self._sessions[session_id]
            return False
        return True

    # ------------------------------------------------------------------ admin sockets
    def _on_admin_connect(self, sock: Socket, auth: Any) -> Any:
        if self._timer is None:  # a server not started by start() / run() / ASGIApp
            self.start(asyncio.get_running_loop())
        sock.emit("config", {"supportedFeatures": self.features})
        if self.verbose and self.clustered:
            return self._send_all_sockets(sock)
        if self.verbose:
            sock.emit("all_sockets", self.all_sockets())
        sock.emit("server_stats", self.stats(drain=False))
        return None

    async def _send_all_sockets(self, sock: Socket) -> None:
        sock.emit("all_sockets", await self.cluster_sockets())
        sock.emit("server_stats", self.stats(drain=False))

    def all_sockets(self) -> list[dict[str, Any]]:
        """Every connected socket of every namespace of this node, serialized (``all_sockets``)."""
        return [serialize_socket(sock) for ns in list(self.server.namespaces.values()) for sock in list(ns.sockets.values())]

    async def cluster_sockets(self) -> list[dict[str, Any]]:
        """Every connected socket of every namespace of every node (``fetch_sockets``
        of each namespace); a namespace whose other nodes do not all answer in time
        gives this node's sockets only (the failure is logged)."""
        found: list[dict[str, Any]] = []
        for ns in list(self.server.namespaces.values()):
            try:
                sockets = await ns.fetch_sockets()
            except Exception:
                self.log.warning("admin UI: fetch_sockets on %s failed; this node's sockets only", ns.name)
                sockets = list(ns.sockets.values())
            found.extend(serialize_socket(s) if isinstance(s, Socket) else serialize_remote(s, ns.name) for s in sockets)
        return found

    def stats(self, drain: bool = True) -> dict[str, Any]:
        """The ``server_stats`` payload (``drain``: with the counts since the last one,
        which are then cleared; else with none)."""
        sessions = self.server.engine.sessions
        return {
            "serverId": self.server_id,
            "hostname": self.hostname,
            "pid": os.getpid(),
            "uptime": time.monotonic() - self.started,
            "clientsCount": len(sessions),
            "pollingClientsCount": sum(1 for s in list(sessions.values()) if s.transport == POLLING),
            "aggregatedEvents": self._drain() if drain else [],
            "namespaces": [
                {"name": name, "socketsCount": len(ns.sockets)} for name, ns in list(self.server.namespaces.items())
            ],
        }

    def _drain(self) -> list[dict[str, Any]]:
        self.meter.drain_into(self.events)
        return self.events.drain()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the ``server_stats`` timer on ``loop`` (the server calls it as it
        starts): every interval, the stats go to the admins, if any may be listening."""
        if self._timer is None:
            self._timer = loop.call_later(self.interval, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = loop.call_later(self.interval, self._tick, loop)
        if not self.meter.on:
            return
        try:
            self.namespace.emit("server_stats", self.stats())
        except Exception:
            self.log.exception("admin UI: server_stats failed")

    def close(self) -> None:
        """Stop the ``server_stats`` timer (the server calls it as it stops; the admin
        namespace and its handlers stay)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ------------------------------------------------------------------ the UI's actions
    def _select(self, nsp: Any, filter_: Any) -> Any:
        """The broadcast operator of namespace ``nsp`` for ``filter_`` (a room or a
        socket id; none: all), or None when the arguments are not valid."""
        if not isinstance(nsp, str) or not (filter_ is None or isinstance(filter_, str)):
            return None
        ns = self.server.namespaces.get(nsp)
        if ns is None:
            return None
        return ns.operator(rooms=(filter_,) if filter_ else ())

    def _on_join(self, sock: Socket, nsp: Any = None, room: Any = None, filter_: Any = None, *_: Any) -> None:
        op = self._select(nsp, filter_)
        if op is not None and isinstance(room, str) and room:
            op.sockets_join(room)

    def _on_leave(self, sock: Socket, nsp: Any = None, room: Any = None, filter_: Any = None, *_: Any) -> None:
        op = self._select(nsp, filter_)
        if op is not None and isinstance(room, str) and room:
            op.sockets_leave(room)

    def _on_disconnect(self, sock: Socket, nsp: Any = None, close: Any = False, filter_: Any = None, *_: Any) -> None:
        op = self._select(nsp, filter_)
        if op is not None:
            op.disconnect_sockets(close is True)

    def _on_emit(self, sock: Socket, nsp: Any = None, filter_: Any = None, event: Any = None, *args: Any) -> None:
        op = self._select(nsp, filter_)
        if op is not None and isinstance(event, str) and event not in _RESERVED:
            op.emit(event, *args)

    # ------------------------------------------------------------------ reporting
    def _report(self, event: str, *args: Any) -> None:
        """Send ``event`` to every admin (development mode, someone watching)."""
        self.namespace.emit(event, *args)

    def _watch(self, on: bool) -> None:
        """Attach (or take off) the catch-all listeners that report events."""
        if on == self._watching:
            return
        self._watching = on
        server = self.server
        targets: Iterable[Namespace] = [*server.namespaces.values(), *server.parents]
        for ns in targets:
            self._listen(ns, on)

    def _listen(self, ns: Namespace, on: bool) -> None:
        if ns is self.namespace or (ns.parent is not None and not isinstance(ns, ParentNamespace)):
            return  # the admin's own; a dynamic namespace's child shares its parent's lists
        if on:
            ns.on_any(self._on_in)
            ns.on_any_outgoing(self._on_out)
        else:
            ns.off_any(self._on_in)
            ns.off_any_outgoing(self._on_out)

    def _incoming(self, sock: Socket, event: Any, *args: Any) -> None:
        if self.meter.on:
            self._report("event_received", sock.nsp, sock.id, [event, *args], now_iso())

    def _outgoing(self, sock: Socket, event: str, *args: Any) -> None:
        if self.meter.on:
            self._report("event_sent", sock.nsp, sock.id, [event, *args], now_iso())

    # Observer (fastsio.observers): sockets, rooms, broadcasts, namespaces
    def socket_connected(self, sock: Socket) -> None:
        """See :class:`fastsio.observers.Observer`."""
        if sock.namespace is self.namespace:
            self.meter.on = True
            self._watch(self.verbose)
        if self.verbose and self.meter.on:
            self._report("socket_connected", serialize_socket(sock), now_iso())

    def socket_disconnected(self, sock: Socket, reason: str) -> None:
        """See :class:`fastsio.observers.Observer`."""
        admins = self.namespace.sockets
        if sock.namespace is self.namespace and not self.clustered and not any(s is not sock for s in admins.values()):
            # the last admin left: nobody to tell, counts and reports stop
            self._watch(False)
            self.meter.on = False
            self._drain()
            return
        if self.verbose and self.meter.on:
            ts = now_iso()
            # an admin leaving is still in the admin namespace's rooms: not told itself
            to = self.namespace.except_(sock.id) if sock.namespace is self.namespace else self.namespace
            to.emit("socket_disconnected", sock.nsp, sock.id, reason, ts)
            for room in sorted(sock.rooms):
                to.emit("room_left", sock.nsp, room, sock.id, ts)

    def room_joined(self, sock: Socket, room: str) -> None:
        """See :class:`fastsio.observers.Observer`."""
        if self.verbose and self.meter.on:
            self._report("room_joined", sock.nsp, room, sock.id, now_iso())

    def room_left(self, sock: Socket, room: str) -> None:
        """See :class:`fastsio.observers.Observer`."""
        if self.verbose and self.meter.on:
            self._report("room_left", sock.nsp, room, sock.id, now_iso())

    def broadcast(self, ns: Any, parts: list[str | bytes], count: int) -> None:
        """See :class:`fastsio.observers.Observer`: counted as ``count`` packets out."""
        meter = self.meter
        if count and meter.on:
            meter.packets_out += count * len(parts)
            meter.bytes_out += count * _size(parts)

    def namespace_created(self, ns: Any) -> None:
        """See :class:`fastsio.observers.Observer`."""
        if self._watching and isinstance(ns, Namespace):
            self._listen(ns, True)

    # EngineObserver: sessions
    def session_opened(self, session: Session) -> None:
        """A session opened: ``rawConnection``."""
        if self.meter.on:
            self.events.push("rawConnection")

    def session_upgraded(self, session: Session) -> None:
        """A session moved onto its WebSocket: ``socket_updated`` for its sockets."""
        if not (self.verbose and self.meter.on):
            return
        client = session.handler
        if isinstance(client, Client):
            for sock in client.socket_list():
                # (told as the upgrade completes, before the session's transport is switched)
                self._report("socket_updated", {"id": sock.id, "nsp": sock.nsp, "transport": "websocket"})

    def session_closed(self, session: Session) -> None:
        """A session ended: ``rawDisconnection`` (its reason as the sub-type)."""
        if self.meter.on:
            self.events.push("rawDisconnection", sub_type=session.close_reason or None)


def _auth_checker(auth: Any) -> Callable[[dict[str, Any]], Any] | None:
    """The function checking a CONNECT auth for ``auth`` (None: no authentication)."""
    if auth is False:
        return None
    if auth is None or auth is True:
        raise ValueError(
            "auth must be given: {'username': ..., 'password': ...}, a list of such, a callable, "
            "or False (no authentication)"
        )
    if callable(auth):
        return auth  # type: ignore[no-any-return]
    logins = [auth] if isinstance(auth, dict) else auth
    if not isinstance(logins, list) or not logins or not all(isinstance(d, dict) and d for d in logins):
        raise ValueError(f"auth must be a dict of credentials, a list of them, a callable or False, not {auth!r}")
    for login in logins:
        for key, value in login.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError("auth: credentials are strings (for instance 'username' and 'password')")
        password = login.get("password", "")
        if _BCRYPT.match(password):
            raise ValueError(
                "auth: the password looks like a bcrypt hash (what the Node package takes); fastsio compares "
                "plain text: give the password, or a callable that checks the hash (bcrypt.checkpw)"
            )
    wanted = [{k: v.encode() for k, v in login.items()} for login in logins]

    def check(given: dict[str, Any]) -> bool:
        for login in wanted:
            ok = True
            for key, value in login.items():
                got = given.get(key)
                # compare_digest on every key (no early exit on the first difference)
                ok = hmac.compare_digest(got.encode() if isinstance(got, str) else b"\0", value) and ok
            if ok:
                return True
        return False

    return check
