"""The default, in-process adapter."""

from __future__ import annotations

from typing import Any, Iterable

from .._speedups.fanout import fanout
from .base import Adapter

__all__ = ("MemoryAdapter",)


class MemoryAdapter(Adapter):
    """Rooms in two dicts of sets; a broadcast encodes once and fans the same bytes out.

    Every socket is in the room named by its own id; that room is implicit (not stored),
    which saves two sets per connection."""

    def __init__(self, namespace: Any) -> None:
        super().__init__(namespace)
        # room -> socket ids in it (own-id rooms excluded)
        self.rooms: dict[str, set[str]] = {}
        # socket id -> the other rooms it is in (None: none yet)
        self.sids: dict[str, set[str] | None] = {}

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        mine = self.sids.get(sid)
        for room in rooms:
            if room == sid:
                if sid not in self.sids:
                    self.sids[sid] = None
                continue
            if mine is None:
                mine = self.sids[sid] = set()
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
        if sid not in self.sids:
            return set()
        mine = self.sids[sid]
        return {sid} | mine if mine else {sid}

    def _members(self, room: str) -> Iterable[str]:
        members = self.rooms.get(room)
        if members is not None:
            return members
        return (room,) if room in self.sids else ()

    def sockets(self, rooms: set[str], except_rooms: set[str]) -> list[str]:
        if rooms:
            if len(rooms) == 1:
                selected: Iterable[str] = self._members(next(iter(rooms)))
            else:
                union: set[str] = set()
                for room in rooms:
                    union.update(self._members(room))
                selected = union
        else:
            selected = self.sids
        if except_rooms:
            excluded: set[str] = set()
            for room in except_rooms:
                excluded.update(self._members(room))
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
