"""``BroadcastOperator``: who a broadcast goes to (rooms, exceptions) and how."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Iterable

from .exceptions import AckTimeout

if TYPE_CHECKING:
    from .namespace import Namespace
    from .socket import Socket

__all__ = ("BroadcastOperator",)


def _names(room: str | Iterable[str]) -> list[str]:
    return [room] if isinstance(room, str) else list(room)


class BroadcastOperator:
    """An immutable selection of a namespace's sockets; each modifier returns a new one."""

    __slots__ = ("namespace", "rooms", "except_rooms", "flags")

    def __init__(
        self,
        namespace: Namespace,
        rooms: frozenset[str] = frozenset(),
        except_rooms: frozenset[str] = frozenset(),
        flags: dict[str, Any] | None = None,
    ) -> None:
        self.namespace = namespace
        self.rooms = rooms
        self.except_rooms = except_rooms
        self.flags = flags or {}

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Only sockets in ``room`` (a room name or a socket id; or several)."""
        return BroadcastOperator(
            self.namespace, self.rooms | frozenset(_names(room)), self.except_rooms, self.flags
        )

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Not the sockets in ``room`` (or several)."""
        return BroadcastOperator(
            self.namespace, self.rooms, self.except_rooms | frozenset(_names(room)), self.flags
        )

    def _with(self, flag: str, value: Any) -> BroadcastOperator:
        flags = dict(self.flags)
        flags[flag] = value
        return BroadcastOperator(self.namespace, self.rooms, self.except_rooms, flags)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """``emit_with_ack`` waits at most ``seconds`` for the replies."""
        return self._with("timeout", seconds)

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the packet for connections that are not writable right now."""
        return self._with("volatile", True)

    @property
    def local(self) -> BroadcastOperator:
        """Only this node's sockets (matters with a cluster adapter)."""
        return self._with("local", True)

    def compress(self, value: bool = True) -> BroadcastOperator:
        """Whether the packet may be compressed (default True): ``compress(False)`` sends
        it uncompressed to WebSocket connections with permessage-deflate."""
        return self._with("compress", bool(value))

    # ------------------------------------------------------------------ emitting
    def emit(self, event: str, *args: Any) -> int:
        """Send ``event`` to every selected socket; returns how many.  Never blocks."""
        ns = self.namespace
        if ns._has_outgoing():
            for sock in self._sockets():
                ns._notify_outgoing(sock, event, args)
        parts = None
        if ns.recovery is not None and not self.flags.get("volatile"):
            # connection state recovery: the packet gets an offset (its last argument)
            # and is kept for the sessions that may miss it
            offset = ns.adapter.next_offset()
            if offset is not None:
                parts = ns.parser.encode_event(ns.name, event, (*args, offset))
                ns.adapter.store(offset, parts, self.rooms, self.except_rooms)
        if parts is None:
            parts = ns.parser.encode_event(ns.name, event, args)
        return ns.adapter.broadcast(parts, set(self.rooms), set(self.except_rooms), self.flags)

    def send(self, *args: Any) -> int:
        return self.emit("message", *args)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Emit and collect one reply per selected socket (a list, in no set order).

        Waits at most ``timeout(s)`` (or the server's ``ack_timeout``); on timeout
        raises :class:`AckTimeout` whose ``replies`` holds the replies that arrived.
        """
        ns = self.namespace
        timeout = self.flags.get("timeout", ns.server.ack_timeout)
        loop = asyncio.get_running_loop()
        sids = ns.adapter.sockets(set(self.rooms), set(self.except_rooms))
        targets = [ns.sockets[sid] for sid in sids if sid in ns.sockets]
        replies: list[Any] = []
        if not targets:
            return replies
        done: asyncio.Future[None] = loop.create_future()
        expected = len(targets)
        ack_id = ns.next_ack_id()

        def on_reply(*reply: Any) -> None:
            replies.append(reply[0] if len(reply) == 1 else (reply if reply else None))
            if len(replies) >= expected and not done.done():
                done.set_result(None)

        parts = ns.parser.encode_event(ns.name, event, args, ack_id)
        compress = self.flags.get("compress", True)
        for sock in targets:
            if sock._acks is None:
                sock._acks = {}
            sock._acks[ack_id] = on_reply
            sock._send(parts, compress)
        try:
            if timeout is None:
                await done
            else:
                await asyncio.wait_for(asyncio.shield(done), timeout)
        except asyncio.TimeoutError:
            raise AckTimeout(replies=list(replies)) from None
        finally:
            for sock in targets:
                if sock._acks is not None:
                    sock._acks.pop(ack_id, None)
        return replies

    # ------------------------------------------------------------------ the selected sockets
    def _sockets(self) -> list[Socket]:
        ns = self.namespace
        sids = ns.adapter.sockets(set(self.rooms), set(self.except_rooms))
        return [ns.sockets[sid] for sid in sids if sid in ns.sockets]

    async def fetch_sockets(self) -> list[Socket]:
        """The selected sockets."""
        return self._sockets()

    def sockets_join(self, room: str | Iterable[str]) -> None:
        for sock in self._sockets():
            sock.join(_names(room))

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        for sock in self._sockets():
            for name in _names(room):
                sock.leave(name)

    def disconnect_sockets(self, close: bool = False) -> None:
        for sock in self._sockets():
            sock.disconnect(close)
