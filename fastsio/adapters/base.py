"""The adapter interface: rooms and fan-out for one namespace."""

from __future__ import annotations

from typing import Any, Iterable


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
