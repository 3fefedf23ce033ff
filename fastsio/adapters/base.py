"""The adapter interface: rooms and fan-out for one namespace.

An adapter sits below the namespace (``fastsio.namespace``) and the sockets: it
reaches them only through the interfaces declared here, which they satisfy:

* :class:`AdapterNamespace`: what an adapter needs of its namespace (its name, its
  connected sockets, the server's options, the engine's transport counter);
* :class:`AdapterSocket`: what it needs of a connected socket (its Engine.IO session,
  whose WebSocket connection or polling queue a broadcast writes into);
* :class:`TransportCounter`: the engine's count of transport changes (a session
  moving onto its WebSocket), which tells cached broadcast targets are stale.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Protocol

from ..options import RecoveryOptions, ServerOptions
from ..protocol.engineio.session import Session

__all__ = (
    "RECOVERABLE_REASONS",
    "Adapter",
    "AdapterNamespace",
    "AdapterSocket",
    "RecoveryOptions",
    "RecoverySession",
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


class AdapterSocket(Protocol):
    """What an adapter needs of a connected socket (:class:`fastsio.Socket` satisfies it)."""

    @property
    def session(self) -> Session:
        """The Engine.IO session carrying the socket."""
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


class Adapter:
    """Keeps who is in which room and delivers broadcasts.  One per namespace, made by
    ``Server(adapter=factory)``'s ``factory(namespace)``.

    Args:
        namespace: the namespace it serves (see :class:`AdapterNamespace`).
    """

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

    def sockets(self, rooms: set[str], except_rooms: set[str]) -> list[str]:
        """The ids of the sockets in any of ``rooms`` (all if empty), minus those in
        any of ``except_rooms``; each once."""
        raise NotImplementedError

    def broadcast(
        self, parts: list[str | bytes], rooms: set[str], except_rooms: set[str], flags: dict[str, Any]
    ) -> int:
        """Send one encoded packet to the selected sockets; returns how many."""
        raise NotImplementedError

    def server_side_emit(self, nsp: str, event: str, args: tuple[Any, ...]) -> None:
        """Send ``event`` to the other nodes (none for a single-process adapter)."""

    async def server_side_emit_with_ack(
        self, nsp: str, event: str, args: tuple[Any, ...]
    ) -> list[Any]:
        """One reply per other node (none for a single-process adapter)."""
        return []

    def close(self) -> None:
        """The namespace is gone (a removed child namespace): release what is held."""

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

    def release(self, session: RecoverySession) -> None:
        """A restored session did not connect after all (refused, or the connection went
        away): keep it again for the rest of its window."""
