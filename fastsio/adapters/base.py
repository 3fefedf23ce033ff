"""The adapter interface: rooms and fan-out for one namespace."""

from __future__ import annotations

from typing import Any, Iterable

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


class RecoveryOptions:
    """``Server(connection_state_recovery={...})``: ``max_disconnection_duration``
    (seconds a disconnected session is kept, default 120) and ``skip_middlewares``
    (a recovered socket skips the connect middleware, default True)."""

    __slots__ = ("max_disconnection_duration", "skip_middlewares")

    def __init__(self, max_disconnection_duration: float = 120.0, skip_middlewares: bool = True) -> None:
        if max_disconnection_duration < 0:
            raise ValueError("max_disconnection_duration must be >= 0")
        self.max_disconnection_duration = float(max_disconnection_duration)
        self.skip_middlewares = bool(skip_middlewares)

    @classmethod
    def parse(cls, value: Any) -> RecoveryOptions | None:
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"max_disconnection_duration", "skip_middlewares"}
            if unknown:
                raise ValueError(f"unknown connection_state_recovery options: {sorted(unknown)}")
            return cls(**value)
        raise TypeError("connection_state_recovery: a dict, True or None")


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
        self.offset: Any = None


class Adapter:
    """Keeps who is in which room and delivers broadcasts.  One per namespace."""

    def __init__(self, namespace: Any) -> None:
        self.namespace = namespace

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        raise NotImplementedError

    def delete(self, sid: str, room: str) -> None:
        raise NotImplementedError

    def delete_all(self, sid: str) -> None:
        raise NotImplementedError

    def socket_rooms(self, sid: str) -> set[str]:
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
        pass

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

    def persist_session(self, session: Any) -> None:
        """A socket disconnected for a reason it may recover from: keep its
        :class:`~fastsio.adapters.memory.RecoverySession`."""

    def restore_session(self, pid: str, offset: str) -> Any:
        """The session ``pid`` if it can be recovered from ``offset`` (the last packet the
        client got), withdrawn from the kept ones, else None.  Its packets stay kept
        until :meth:`replay` or :meth:`release`."""
        return None

    def replay(self, session: Any) -> list[list[str | bytes]]:
        """The encoded packets ``session`` missed, in order (called once the socket is
        back in its rooms, so that nothing falls between them and live packets)."""
        return []

    def release(self, session: Any) -> None:
        """A restored session did not connect after all (refused, or the connection went
        away): keep it again for the rest of its window."""
