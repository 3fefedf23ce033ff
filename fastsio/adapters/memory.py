"""The default, in-process adapter."""

from __future__ import annotations

from typing import Any, Iterable

from .._speedups.fanout import fanout
from .base import Adapter

__all__ = ("MemoryAdapter",)


class MemoryAdapter(Adapter):
    """Rooms in two dicts of sets; a broadcast encodes once and fans the same bytes out."""

    def __init__(self, namespace: Any) -> None:
        super().__init__(namespace)
        # room -> socket ids in it
        self.rooms: dict[str, set[str]] = {}
        # socket id -> rooms it is in
        self.sids: dict[str, set[str]] = {}

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        mine = self.sids.get(sid)
        if mine is None:
            mine = self.sids[sid] = set()
        for room in rooms:
            mine.add(room)
            members = self.rooms.get(room)
            if members is None:
                self.rooms[room] = {sid}
            else:
                members.add(sid)

    def delete(self, sid: str, room: str) -> None:
        mine = self.sids.get(sid)
        if mine is not None:
            mine.discard(room)
        members = self.rooms.get(room)
        if members is not None:
            members.discard(sid)
            if not members:
                del self.rooms[room]

    def delete_all(self, sid: str) -> None:
        mine = self.sids.pop(sid, None)
        if not mine:
            return
        for room in mine:
            members = self.rooms.get(room)
            if members is not None:
                members.discard(sid)
                if not members:
                    del self.rooms[room]

    def socket_rooms(self, sid: str) -> set[str]:
        return self.sids.get(sid, set())

    def sockets(self, rooms: set[str], except_rooms: set[str]) -> list[str]:
        if rooms:
            if len(rooms) == 1:
                selected: Iterable[str] = self.rooms.get(next(iter(rooms)), ())
            else:
                union: set[str] = set()
                for room in rooms:
                    members = self.rooms.get(room)
                    if members:
                        union |= members
                selected = union
        else:
            selected = self.sids
        if except_rooms:
            excluded: set[str] = set()
            for room in except_rooms:
                members = self.rooms.get(room)
                if members:
                    excluded |= members
            return [sid for sid in selected if sid not in excluded]
        return list(selected)

    def broadcast(
        self, parts: list[str | bytes], rooms: set[str], except_rooms: set[str], flags: dict[str, Any]
    ) -> int:
        sockets = self.namespace.sockets
        targets = []
        for sid in self.sockets(rooms, except_rooms):
            sock = sockets.get(sid)
            if sock is not None:
                targets.append(sock.client.session)
        if flags.get("volatile"):
            targets = [session for session in targets if session.writable()]
        if targets:
            fanout(targets, parts)
        return len(targets)
