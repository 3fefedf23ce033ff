"""The default, in-process adapter."""

from __future__ import annotations

import base64
import bisect
import itertools
import os
import time
from collections import deque
from operator import itemgetter
from typing import Any, Callable, Iterable, Protocol

from .._server.outbox import Outbox, fanout
from ..options import RecoveryOptions
from ..protocol.engineio.session import Session
from .base import Adapter, AdapterNamespace, RecoverySession

__all__ = ("MemoryAdapter",)

_counter_of = itemgetter(0)

#: A kept packet: ``(counter, stored_at, parts, rooms, except_rooms)`` (the counter is
#: the offset's number; ``stored_at`` is the adapter clock's time).
KeptPacket = tuple[int, float, list[str | bytes], frozenset[str], frozenset[str]]


class FanoutTarget(Protocol):
    """Where a broadcast is written for one socket: its session's WebSocket
    connection, or the session itself while it polls."""

    def writable(self) -> bool:
        """Whether it can take a packet right now (volatile broadcasts skip it if not)."""
        ...

# rooms (besides its own) a socket's membership is kept in a tuple for; a set beyond
_FEW_ROOMS = 8


class MemoryAdapter(Adapter):
    """Rooms in two dicts of sets; a broadcast encodes once and fans the same bytes out.

    Every socket is in the room named by its own id; that room is implicit (not stored),
    which saves two sets per connection.

    With ``connection_state_recovery`` it is also Node's SessionAwareAdapter: it gives
    offsets (a random prefix per adapter and a counter), keeps the packets that carry
    them and the sessions of disconnected sockets, and replays to a restored session
    the packets it would have received, given its rooms, after its offset.  Memory-bound,
    unlike Node's (which keeps every packet for the whole window): a packet is kept only
    while a socket may need it, i.e. for ``ping_interval + ping_timeout + 1`` seconds
    while sockets are connected (how long a dead connection can go unnoticed), and from
    that long before a kept session's disconnection until its window ends; nothing when
    the namespace has no socket and no kept session.  A client whose offset is older
    than what is kept is not recovered (a gap is never papered over).

    Args:
        namespace: the namespace it serves.
        clock: the clock kept packets and sessions are stamped with and expire by
            (seconds; :func:`time.monotonic` by default: tests drive it by hand).
            Read only with connection state recovery on.

    What is kept can be looked at (read-only) with :meth:`kept_packets`,
    :meth:`kept_sessions`, :attr:`floor`, :attr:`inflight`, :attr:`epoch` and, for the
    broadcast target lists, :meth:`cached_targets`.
    """

    def __init__(self, namespace: AdapterNamespace, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(namespace)
        # room -> socket ids in it (own-id rooms excluded)
        # (dicts used as insertion-ordered sets, as Node's Set: a broadcast reaches a
        # room's sockets in the order they joined -- which is also, mostly, the order of
        # their connections in memory and in the kernel, far kinder to caches than hash
        # order when a broadcast touches ten thousand of them)
        self.rooms: dict[str, dict[str, None]] = {}
        # socket id -> the other rooms it is in (None: none yet): a tuple while they
        # are few (a set costs 216 bytes, a tuple of one room 48), a set beyond that
        self.sids: dict[str, tuple[str, ...] | set[str] | None] = {}
        # room (None: every socket) -> where a broadcast to it goes: for each connected
        # socket, its session's WebSocket connection, or the session while it polls.
        # Built by the first broadcast to the room; dropped when its membership changes
        # and (all of them) when any session upgrades to WebSocket.
        self._targets: dict[str | None, list[FanoutTarget]] = {}
        # the engine's transport changes when the target lists were last valid
        self._engine = namespace.engine
        self._upgrades = self._engine.transport_changes
        options = namespace.options
        # the server has permessage-deflate on: broadcasts may be compressed per connection
        # (off, the fan-out does not even look at the connections for it)
        self._deflate = options.per_message_deflate is not None
        # connection state recovery (see the section below); off: _recovery is None
        self._recovery: RecoveryOptions | None = options.connection_state_recovery
        # how long a dead connection can go unnoticed: what a client may have missed
        # before its disconnection is seen
        self._inflight = options.ping_interval + options.ping_timeout + 1.0
        self._clock = clock
        if self._recovery is not None:
            # offsets are this prefix (random per adapter) and a counter
            self._epoch = base64.urlsafe_b64encode(os.urandom(3)).decode("ascii")
            self._counter = 0
            # packets with a counter up to this one may be gone
            self._floor = 0
            # (counter, time, parts, rooms, except_rooms), oldest first
            self._packets: deque[tuple[int, float, list[str | bytes], frozenset[str], frozenset[str]]] = deque()
            # pid -> kept session, in the order they disconnected
            self._sessions: dict[str, RecoverySession] = {}
            # sessions being restored (their packets must stay until replayed)
            self._restoring: list[RecoverySession] = []

    # ------------------------------------------------------------ read-only views
    def cached_targets(self, room: str | None = None) -> list[FanoutTarget] | None:
        """A copy of the cached broadcast target list of ``room`` (``None``: the whole
        namespace), or ``None`` when none is cached: for each connected socket, its
        session's WebSocket connection, or the session while it polls."""
        targets = self._targets.get(room)
        return None if targets is None else list(targets)

    @property
    def inflight(self) -> float:
        """Seconds a dead connection can go unnoticed (``ping_interval + ping_timeout + 1``):
        how long packets are kept for connected sockets."""
        return self._inflight

    @property
    def epoch(self) -> str:
        """The random prefix of this adapter's offsets (recovery on; else ``""``)."""
        return self._epoch if self._recovery is not None else ""

    @property
    def floor(self) -> int:
        """Packets with a counter up to this one may be gone (recovery on; else 0)."""
        return self._floor if self._recovery is not None else 0

    def kept_packets(self) -> list[KeptPacket]:
        """The packets kept for recovery, oldest first (a copy; empty when off)."""
        return list(self._packets) if self._recovery is not None else []

    def kept_sessions(self) -> list[RecoverySession]:
        """The sessions of disconnected sockets kept for recovery, in the order they
        disconnected (a copy; empty when off)."""
        return list(self._sessions.values()) if self._recovery is not None else []

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """See :meth:`Adapter.add_all`."""
        mine = self.sids.get(sid)
        targets = self._targets
        for room in rooms:
            if room == sid:
                # the namespace adds the own-id room when the socket becomes connected
                # (joins in a connect handler come earlier): every cached target list
                # of its rooms may lack it
                if sid not in self.sids:
                    self.sids[sid] = None
                if targets:
                    targets.pop(None, None)
                    if mine:
                        for joined in mine:
                            targets.pop(joined, None)
                continue
            members = self.rooms.get(room)
            if mine is None:
                # its first room: the sockets in that room alone share one tuple (and
                # the room's name) -- the first member's, when it is in no other room
                if members:
                    theirs = self.sids.get(next(iter(members)))
                    if type(theirs) is not tuple or len(theirs) != 1 or theirs[0] != room:
                        theirs = (room,)
                    mine = theirs
                else:
                    mine = (room,)
                self.sids[sid] = mine
                targets.pop(None, None)
            elif type(mine) is tuple:
                if room not in mine:
                    mine = mine + (room,)
                    if len(mine) > _FEW_ROOMS:
                        # from here on a set, for this loop too (joining a list of n
                        # rooms stays linear: no tuple rebuilt per room)
                        mine = set(mine)
                    self.sids[sid] = mine
            else:
                mine.add(room)  # type: ignore[union-attr]
            if targets:
                targets.pop(room, None)
            if members is None:
                self.rooms[room] = {sid: None}
            else:
                members[sid] = None

    def delete(self, sid: str, room: str) -> None:
        """See :meth:`Adapter.delete`."""
        mine = self.sids.get(sid)
        if type(mine) is tuple:
            if room in mine:
                self.sids[sid] = tuple(r for r in mine if r != room)
        elif mine is not None:
            mine.discard(room)  # type: ignore[union-attr]
        self._targets.pop(room, None)
        members = self.rooms.get(room)
        if members is not None:
            members.pop(sid, None)
            if not members:
                del self.rooms[room]

    def delete_all(self, sid: str) -> None:
        """See :meth:`Adapter.delete_all`."""
        known = sid in self.sids
        mine = self.sids.pop(sid, None)
        targets = self._targets
        if known and targets:
            targets.pop(None, None)
            if mine:
                for room in mine:
                    targets.pop(room, None)
        if not mine:
            return
        for room in mine:
            members = self.rooms.get(room)
            if members is not None:
                members.pop(sid, None)
                if not members:
                    del self.rooms[room]

    def socket_rooms(self, sid: str) -> set[str]:
        """See :meth:`Adapter.socket_rooms`."""
        if sid not in self.sids:
            return set()
        mine = self.sids[sid]
        return {sid, *mine} if mine else {sid}

    def count_rooms(self, sid: str) -> int:
        """See :meth:`Adapter.count_rooms` (no copy)."""
        if sid not in self.sids:
            return 0
        mine = self.sids[sid]
        return 1 + len(mine) if mine else 1

    def all_local_rooms(self) -> set[str]:
        """See :meth:`Adapter.all_local_rooms`."""
        return {*self.rooms, *self.sids}

    def has_room(self, room: str) -> bool:
        """Whether ``room`` has a socket here (a socket's own id counts)."""
        return room in self.rooms or room in self.sids

    def _members(self, room: str) -> Iterable[str]:
        members = self.rooms.get(room)
        if members is not None:
            return members
        return (room,) if room in self.sids else ()

    def sockets(self, rooms: set[str], except_rooms: set[str]) -> list[str]:
        """See :meth:`Adapter.sockets`."""
        if rooms:
            if len(rooms) == 1:
                selected: Iterable[str] = self._members(next(iter(rooms)))
            else:
                union: dict[str, None] = {}
                for room in rooms:
                    union.update(dict.fromkeys(self._members(room)))
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
        """See :meth:`Adapter.broadcast`."""
        targets: list[FanoutTarget] | None = None
        key: str | None = None
        cacheable = not except_rooms and (not rooms or len(rooms) == 1)
        if cacheable:
            if rooms:
                key = next(iter(rooms))
                cacheable = key in self.rooms  # not an own-id room, not an empty one
            if cacheable:
                changes = self._engine.transport_changes
                if self._upgrades != changes:
                    self._upgrades = changes
                    self._targets.clear()
                targets = self._targets.get(key)
        if targets is None:
            sockets = self.namespace.sockets
            targets = []
            for sid in self.sockets(rooms, except_rooms):
                sock = sockets.get(sid)
                if sock is not None:
                    session: Session = sock.session
                    ws = session.ws
                    # a WebSocket fastsio frames itself (an Outbox) is written to
                    # directly; a session polling, or on an ASGI server's WebSocket,
                    # is reached through the session (the fan-out hands the latter frames)
                    targets.append(ws if isinstance(ws, Outbox) else session)
            if cacheable:
                self._targets[key] = targets
        if flags.get("volatile"):
            targets = [target for target in targets if target.writable()]
        if targets:
            aside = fanout(targets, parts, self._deflate and flags.get("compress", True))
            metrics = self._engine.metrics
            if metrics is not None:
                # once per broadcast: the WebSocket recipients got the frames written
                # directly (the others were sent through their session, which counted
                # them, or skipped as slow consumers)
                n = len(targets)
                metrics.broadcasts += 1
                metrics.broadcast_recipients += n
                metrics.packets_out += (n - aside[0] - aside[1]) * len(parts)
                metrics.dropped += aside[1]
        return len(targets)

    # ------------------------------------------------------------ connection state recovery
    # Node's SessionAwareAdapter, memory-bound: a packet is kept only while some socket may
    # still need it.  A connected socket may need the packets of the last ``_inflight``
    # seconds (ping interval + timeout: a dead connection can go unnoticed that long); a
    # disconnected session those from ``_inflight`` before its disconnection, until its
    # window (``max_disconnection_duration``) ends.  Expiry is lazy (on store, persist and
    # restore) plus the server's one periodic sweep; no timer per session.

    def next_offset(self) -> str | None:
        """See :meth:`Adapter.next_offset`."""
        if self._recovery is None:
            return None
        self._counter += 1
        return self._epoch + str(self._counter)

    def store(
        self, offset: str, parts: list[str | bytes], rooms: frozenset[str], except_rooms: frozenset[str]
    ) -> None:
        """See :meth:`Adapter.store`."""
        if self._recovery is None:
            return
        packets = self._packets
        if not (self.namespace.sockets or self._sessions or self._restoring):
            # nobody could need it
            packets.clear()
            self._floor = self._counter
            return
        now = self._clock()
        if packets and packets[0][1] < now - self._inflight:
            self._trim(now)
        packets.append((self._counter, now, parts, rooms, except_rooms))

    def persist_session(self, session: RecoverySession) -> None:
        """See :meth:`Adapter.persist_session`."""
        if self._recovery is None:
            return
        session.disconnected_at = self._clock()
        self._sessions.pop(session.pid, None)
        self._sessions[session.pid] = session

    def restore_session(self, pid: str, offset: str) -> RecoverySession | None:
        """See :meth:`Adapter.restore_session`."""
        if self._recovery is None:
            return None
        self._trim(self._clock())
        session = self._sessions.pop(pid, None)
        if session is None:
            return None  # unknown, or expired
        epoch = self._epoch
        digits = offset[len(epoch) :]
        if not offset.startswith(epoch) or not 0 < len(digits) < 20 or not digits.isdigit() or not digits.isascii():
            return None
        counter = int(digits)
        if counter < self._floor or counter > self._counter:
            return None  # packets it missed are gone (or the offset is not ours)
        session.offset = counter
        self._restoring.append(session)
        return session

    def replay(self, session: RecoverySession) -> list[list[str | bytes]]:
        """See :meth:`Adapter.replay`."""
        if self._recovery is None:
            return []
        self._unpin(session)
        packets = self._packets
        rooms = session.rooms
        start = bisect.bisect_right(packets, session.offset, key=_counter_of)
        missed = []
        for _, _, parts, included, excluded in itertools.islice(packets, start, None):
            if (not included or not included.isdisjoint(rooms)) and excluded.isdisjoint(rooms):
                missed.append(parts)
        return missed

    def release(self, session: RecoverySession) -> None:
        """See :meth:`Adapter.release`."""
        if self._recovery is None:
            return
        self._unpin(session)
        session.offset = None
        self.persist_session(session)  # a fresh window

    def sweep(self) -> None:
        """Expire sessions and packets nobody needs any more (the periodic sweep)."""
        if self._recovery is not None:
            self._trim(self._clock())

    def _unpin(self, session: RecoverySession) -> None:
        for i, s in enumerate(self._restoring):
            if s is session:
                del self._restoring[i]
                return

    def _trim(self, now: float) -> None:
        assert self._recovery is not None
        sessions = self._sessions
        inflight = self._inflight
        if sessions:
            oldest = now - self._recovery.max_disconnection_duration
            expired = []
            for pid, s in sessions.items():
                if s.disconnected_at >= oldest:
                    break
                expired.append(pid)
            for pid in expired:
                del sessions[pid]
        horizon = now - inflight if self.namespace.sockets else now
        if sessions:
            horizon = min(horizon, next(iter(sessions.values())).disconnected_at - inflight)
        pin = min((s.offset for s in self._restoring if s.offset is not None), default=self._counter)
        packets = self._packets
        while packets and packets[0][1] < horizon and packets[0][0] <= pin:
            self._floor = packets.popleft()[0]
