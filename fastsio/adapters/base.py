"""The adapter interface: rooms and fan-out for one namespace.

An adapter sits below the namespace (``fastsio.namespace``) and the sockets: it
reaches them only through the interfaces declared here, which they satisfy:

* :class:`AdapterNamespace`: what an adapter needs of its namespace (its name, its
  connected sockets, the server's options, the engine's transport counter);
* :class:`AdapterSocket`: what it needs of a connected socket (its Engine.IO session,
  whose WebSocket connection or polling queue a broadcast writes into);
* :class:`TransportCounter`: the engine's count of transport changes (a session
  moving onto its WebSocket), which tells cached broadcast targets are stale.

A cluster adapter (:class:`fastsio.adapters.RedisAdapter`'s) also implements the
cluster half of :class:`Adapter` (``publish``, ``publish_with_ack``, ``server_count``,
``fetch_sockets``, ``remote_join``/``remote_leave``/``remote_disconnect``,
``server_side_emit``, ``open``/``shutdown``); the in-process adapter leaves them as
the no-ops they are here, so a single node pays one empty call per broadcast.  The
sockets of other nodes come back from ``fetch_sockets`` as :class:`RemoteSocket`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterable, Mapping, Protocol

from .._server.metrics import Exposition, Metrics
from ..exceptions import AckTimeout
from ..options import RecoveryOptions, ServerOptions
from ..protocol.engineio.session import Session

__all__ = (
    "RECOVERABLE_REASONS",
    "Adapter",
    "AdapterNamespace",
    "AdapterSocket",
    "RecoveryOptions",
    "RecoverySession",
    "RemoteSocket",
    "RemoteSocketTimeout",
    "TransportCounter",
)

# the disconnect reasons a session is kept for (Node's RECOVERABLE_DISCONNECT_REASONS)
RECOVERABLE_REASONS = frozenset(
    (
        "transport error",
        "transport close",
        "forced close",
        "ping timeout",
        "server shutting down",
        "forced server close",
    )
)


class TransportCounter(Protocol):
    """The engine's count of completed transport changes (upgrades to WebSocket):
    whoever keeps a session's current transport compares it (the Engine satisfies it)."""

    @property
    def transport_changes(self) -> int:
        """How many sessions moved onto another transport so far."""
        ...

    @property
    def metrics(self) -> Metrics | None:
        """The server's metrics counters (broadcasts), or None: metrics off."""
        ...


class AdapterSocket(Protocol):
    """What an adapter needs of a connected socket (:class:`fastsio.Socket` satisfies it):
    its session for the fan-out; the rest for a cluster adapter, which describes the
    socket to other nodes and acts on it for them."""

    @property
    def session(self) -> Session:
        """The Engine.IO session carrying the socket."""
        ...

    @property
    def id(self) -> str:
        """The socket id."""
        ...

    @property
    def handshake(self) -> Any:
        """The handshake (``headers``, ``query``, ``auth``, ``address``, ``time``,
        ``issued``, ``url``, ``secure``, ``xdomain``)."""
        ...

    @property
    def data(self) -> Any:
        """The application's data attached to the socket."""
        ...

    def expect_ack(self, ack_id: int, callback: Callable[..., Any]) -> None:
        """Call ``callback(*args)`` when the client acknowledges ``ack_id``."""
        ...

    def forget_ack(self, ack_id: int) -> None:
        """Stop waiting for the acknowledgement ``ack_id``."""
        ...

    def send_packet(self, parts: list[str | bytes], compress: bool = True) -> None:
        """Send one encoded packet to the client."""
        ...

    def disconnect(self, close: bool = False) -> None:
        """Disconnect from the namespace (``close=True``: the whole connection)."""
        ...

    def join(self, room: list[str]) -> None:
        """Join the rooms (as the socket's own ``join``: its observers are told)."""
        ...

    def leave(self, room: str) -> None:
        """Leave the room (as the socket's own ``leave``)."""
        ...


class AdapterNamespace(Protocol):
    """What an adapter needs of its namespace (:class:`fastsio.Namespace` satisfies it)."""

    @property
    def name(self) -> str:
        """The namespace name."""
        ...

    @property
    def sockets(self) -> Mapping[str, AdapterSocket]:
        """Socket id -> connected socket."""
        ...

    @property
    def options(self) -> ServerOptions:
        """The server's options."""
        ...

    @property
    def engine(self) -> TransportCounter:
        """The engine serving the namespace's connections."""
        ...

    @property
    def parser(self) -> Any:
        """The server's parser (``encode_event``: a cluster adapter encodes what other
        nodes broadcast for its own clients)."""
        ...

    @property
    def log(self) -> Any:
        """The server's logger."""
        ...

    @property
    def adapter_log(self) -> Any:
        """The adapters' logger (``<server logger>.adapter``)."""
        ...

    def has_outgoing(self) -> bool:
        """Whether any outgoing catch-all listener exists here."""
        ...

    def notify_outgoing(self, sock: Any, event: str, args: tuple[Any, ...]) -> None:
        """Call the outgoing catch-all listeners for ``event`` sent to ``sock``."""
        ...

    def next_ack_id(self) -> int:
        """A new acknowledgement id."""
        ...

    def server_side_event(
        self, event: str, args: list[Any], ack: Callable[[Any], None] | None
    ) -> None:
        """Another node's ``server_side_emit``: run this node's handler of ``event``
        (``ack(value)`` with its return value, when the sender wants one)."""
        ...


class RecoverySession:
    """What is kept of a disconnected socket: its id, private session id, rooms (its own
    id included) and ``data``; ``offset`` is the client's on restore."""

    __slots__ = ("sid", "pid", "rooms", "data", "disconnected_at", "offset")

    def __init__(self, sid: str, pid: str, rooms: frozenset[str], data: Any, disconnected_at: float) -> None:
        self.sid = sid
        self.pid = pid
        self.rooms = rooms
        self.data = data
        self.disconnected_at = disconnected_at
        # the counter of the last packet the client got (set on restore)
        self.offset: int | None = None


class RemoteSocket:
    """A socket connected to another node of the cluster, as ``fetch_sockets()`` gives
    it (Node's ``RemoteSocket``): ``id``, ``handshake`` (a dict), ``rooms`` (a set,
    its own id included) and ``data`` as that node described them; ``emit``, ``join``,
    ``leave`` and ``disconnect`` go through the cluster to it.

    Args:
        adapter: the adapter that fetched it.
        details: the node's description ``{id, handshake, rooms, data}``.
    """

    __slots__ = ("adapter", "id", "handshake", "rooms", "data")

    def __init__(self, adapter: Adapter, details: dict[str, Any]) -> None:
        self.adapter = adapter
        self.id: str = str(details.get("id", ""))
        handshake = details.get("handshake")
        self.handshake: dict[str, Any] = handshake if isinstance(handshake, dict) else {}
        rooms = details.get("rooms")
        self.rooms: set[str] = {str(r) for r in rooms} if isinstance(rooms, list) else {self.id}
        self.data: Any = details.get("data")

    def __repr__(self) -> str:
        return f"<RemoteSocket id={self.id!r} rooms={sorted(self.rooms)!r}>"

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to this socket's client (through its node)."""
        self.adapter.publish([event, *args], frozenset((self.id,)), frozenset(), {"expectSingleResponse": True})

    def timeout(self, seconds: float) -> RemoteSocketTimeout:
        """``timeout(s).emit_with_ack(event, *args)``: an event this socket's client
        acknowledges within ``seconds`` (Node's ``remoteSocket.timeout(ms).emitWithAck``)."""
        return RemoteSocketTimeout(self, seconds)

    def join(self, room: str | Iterable[str]) -> None:
        """Make it join ``room`` (or several)."""
        names = [room] if isinstance(room, str) else list(room)
        self.adapter.remote_join(frozenset((self.id,)), frozenset(), names)

    def leave(self, room: str | Iterable[str]) -> None:
        """Make it leave ``room`` (or several)."""
        names = [room] if isinstance(room, str) else list(room)
        self.adapter.remote_leave(frozenset((self.id,)), frozenset(), names)

    def disconnect(self, close: bool = False) -> None:
        """Disconnect it (``close=True``: its whole connection)."""
        self.adapter.remote_disconnect(frozenset((self.id,)), frozenset(), close)


class RemoteSocketTimeout:
    """``RemoteSocket.timeout(seconds)``: what waits for that socket's acknowledgement.

    Args:
        socket: the remote socket.
        seconds: how long to wait.
    """

    __slots__ = ("socket", "seconds")

    def __init__(self, socket: RemoteSocket, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError("timeout must be positive")
        self.socket = socket
        self.seconds = float(seconds)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Send ``event`` to the socket's client through its node; its reply (the first
        argument of its acknowledgement, as Node forwards it).  Raises
        :class:`~fastsio.AckTimeout` if none came within the timeout (or no node has
        that socket)."""
        adapter = self.socket.adapter
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()

        def on_count(count: int) -> None:
            pass

        def on_ack(value: Any) -> None:
            if not done.done():
                done.set_result(value)

        stop = adapter.publish_with_ack(
            [event, *args], frozenset((self.socket.id,)), frozenset(),
            {"expectSingleResponse": True, "timeout": self.seconds}, on_count, on_ack,
        )
        try:
            return await asyncio.wait_for(done, self.seconds)
        except asyncio.TimeoutError:
            raise AckTimeout("operation has timed out") from None
        finally:
            stop()


class Adapter:
    """Keeps who is in which room and delivers broadcasts.  One per namespace, made by
    ``Server(adapter=factory)``'s ``factory(namespace)``.

    Args:
        namespace: the namespace it serves (see :class:`AdapterNamespace`).
    """

    #: whether other nodes may exist behind this adapter (a cluster adapter); False:
    #: every operation is local and the cluster methods below are no-ops
    clustered = False
    #: connection state recovery through the cluster (the Redis Streams adapter): the
    #: offset of a kept packet is the id the cluster gives it once stored, so emits hand
    #: such packets to :meth:`publish_kept`, and sessions are fetched, awaited, with
    #: :meth:`fetch_session`; False: :meth:`next_offset` and :meth:`restore_session`
    cluster_recovery = False
    #: how long a cluster request waits for the other nodes (seconds; None: no cluster);
    #: also the wait of a broadcast ``emit_with_ack`` across the cluster without ``timeout``
    requests_timeout: float | None = None

    def __init__(self, namespace: AdapterNamespace) -> None:
        self.namespace = namespace

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Put socket ``sid`` in ``rooms`` (its own id among them when it connects)."""
        raise NotImplementedError

    def delete(self, sid: str, room: str) -> None:
        """Take socket ``sid`` out of ``room``."""
        raise NotImplementedError

    def delete_all(self, sid: str) -> None:
        """Take socket ``sid`` out of every room (it disconnected)."""
        raise NotImplementedError

    def socket_rooms(self, sid: str) -> set[str]:
        """The rooms socket ``sid`` is in (its own id included; empty if unknown)."""
        raise NotImplementedError

    def count_rooms(self, sid: str) -> int:
        """How many rooms socket ``sid`` is in (its own id included; 0 if unknown):
        ``len(socket_rooms(sid))``, which an adapter may count without a copy."""
        return len(self.socket_rooms(sid))

    def sockets(self, rooms: set[str], except_rooms: set[str]) -> list[str]:
        """The ids of the sockets in any of ``rooms`` (all if empty), minus those in
        any of ``except_rooms``; each once."""
        raise NotImplementedError

    def broadcast(
        self, parts: list[str | bytes], rooms: set[str], except_rooms: set[str], flags: dict[str, Any]
    ) -> int:
        """Send one encoded packet to the selected sockets; returns how many."""
        raise NotImplementedError

    def all_local_rooms(self) -> set[str]:
        """Every room of this node (sockets' own-id rooms included)."""
        raise NotImplementedError

    # ------------------------------------------------------------ the cluster
    # No-ops for a single node; a cluster adapter sends these to the other nodes.

    async def open(self) -> None:
        """The server starts: connect to the cluster (nothing for a single node)."""

    async def shutdown(self) -> None:
        """The server stopped: leave the cluster (nothing for a single node)."""

    def publish(
        self, data: list[Any], rooms: frozenset[str], except_rooms: frozenset[str], flags: dict[str, Any]
    ) -> None:
        """Send a broadcast (``data``: ``[event, *args]``) to the other nodes, which
        deliver it to their sockets that match ``rooms``/``except_rooms``."""

    def publish_with_ack(
        self,
        data: list[Any],
        rooms: frozenset[str],
        except_rooms: frozenset[str],
        flags: dict[str, Any],
        on_count: Callable[[int], None],
        on_ack: Callable[[Any], None],
    ) -> Callable[[], None]:
        """A broadcast that wants acknowledgements, to the other nodes: each node calls
        ``on_count(n)`` once with how many of its clients it reached, then ``on_ack``
        once per client reply.  Returns a function that stops listening."""
        return _nothing

    async def server_count(self) -> int:
        """How many nodes the cluster has, this one included."""
        return 1

    async def all_rooms(self) -> set[str]:
        """Every room of every node (Node's ``adapter.allRooms()``)."""
        return self.all_local_rooms()

    async def fetch_sockets(self, rooms: frozenset[str], except_rooms: frozenset[str]) -> list[RemoteSocket]:
        """The other nodes' sockets in any of ``rooms`` (all if empty) and in none of
        ``except_rooms``."""
        return []

    def remote_join(self, rooms: frozenset[str], except_rooms: frozenset[str], names: list[str]) -> None:
        """Make the other nodes' selected sockets join ``names``."""

    def remote_leave(self, rooms: frozenset[str], except_rooms: frozenset[str], names: list[str]) -> None:
        """Make the other nodes' selected sockets leave ``names``."""

    def remote_disconnect(self, rooms: frozenset[str], except_rooms: frozenset[str], close: bool) -> None:
        """Disconnect the other nodes' selected sockets."""

    def server_side_emit(self, nsp: str, event: str, args: tuple[Any, ...]) -> None:
        """Send ``event`` to the other nodes (none for a single-process adapter)."""

    async def server_side_emit_with_ack(
        self, nsp: str, event: str, args: tuple[Any, ...]
    ) -> list[Any]:
        """One reply per other node (none for a single-process adapter)."""
        return []

    def close(self) -> None:
        """The namespace is gone (a removed child namespace): release what is held."""

    def report_metrics(self, out: Exposition) -> None:
        """Write this adapter's metric families into ``out`` when the metrics are
        scraped (the ``metrics`` option); the memory adapter has none of its own (its
        broadcasts are counted by the engine's counters)."""

    # ------------------------------------------------------------ connection state recovery
    # What Node's SessionAwareAdapter does (``connection_state_recovery``).  An adapter
    # that keeps no packets leaves these as they are: no offsets, nothing recovered.

    def next_offset(self) -> str | None:
        """The offset for the next storable packet (an EVENT without ack, not volatile),
        appended as its last argument; None: this adapter keeps no packets."""
        return None

    def store(
        self, offset: str, parts: list[str | bytes], rooms: frozenset[str], except_rooms: frozenset[str]
    ) -> None:
        """Keep an encoded packet (carrying ``offset``) for sessions that may miss it."""

    def persist_session(self, session: RecoverySession) -> None:
        """A socket disconnected for a reason it may recover from: keep its
        :class:`RecoverySession`."""

    def restore_session(self, pid: str, offset: str) -> RecoverySession | None:
        """The session ``pid`` if it can be recovered from ``offset`` (the last packet the
        client got), withdrawn from the kept ones, else None.  Its packets stay kept
        until :meth:`replay` or :meth:`release`."""
        return None

    def replay(self, session: RecoverySession) -> list[list[str | bytes]]:
        """The encoded packets ``session`` missed, in order (called once the socket is
        back in its rooms, so that nothing falls between them and live packets)."""
        return []

    def sweep(self) -> None:
        """Expire what connection state recovery keeps and nobody needs any more (the
        server's periodic sweep; nothing by default)."""

    def publish_kept(
        self,
        event: str,
        args: tuple[Any, ...],
        rooms: frozenset[str],
        except_rooms: frozenset[str],
        flags: dict[str, Any],
        deliver: Callable[[list[str | bytes]], None] | None = None,
    ) -> int:
        """:attr:`cluster_recovery` only: publish a broadcast to keep for recovery; once
        the cluster gave its offset, it is encoded with the offset as its last argument
        and delivered here (to ``deliver(parts)`` instead when given: one socket's emit).
        Returns how many of this node's sockets it is for."""
        raise NotImplementedError

    async def fetch_session(self, pid: str, offset: str) -> RecoverySession | None:
        """:meth:`restore_session`, awaited (:attr:`cluster_recovery`: the session and
        the packets it missed are fetched from the cluster)."""
        return self.restore_session(pid, offset)

    def release(self, session: RecoverySession) -> None:
        """A restored session did not connect after all (refused, or the connection went
        away): keep it again for the rest of its window."""


def _nothing() -> None:
    return None
