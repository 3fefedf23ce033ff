"""``Emitter``: publish to a Socket.IO cluster on Redis from a process without sockets,
in the formats of Node's ``@socket.io/redis-emitter`` 5 (so Node nodes and fastsio
nodes on :class:`~fastsio.adapters.RedisAdapter` alike deliver it).

It only publishes (it never subscribes, which would count it as a node): broadcasts
as ``["emitter", packet, opts]`` in msgpack on the namespace's channel (or the room's
when exactly one room is targeted), ``sockets_join``/``sockets_leave``/
``disconnect_sockets`` as requests without a uid, ``server_side_emit`` as a request
from ``"emitter"`` (no acknowledgements: nobody would receive them).  Every method
that talks to Redis is a coroutine; the selection methods return new objects, as
the server's broadcast operator does::

    emitter = fastsio.Emitter("redis://127.0.0.1:6379/0")
    await emitter.to("room1").except_("room2").emit("news", {"x": 1})
    await emitter.of("/chat").sockets_join("lobby")
    await emitter.close()
"""

from __future__ import annotations

from typing import Any, Iterable

from . import redis_wire as wire

__all__ = ("Emitter",)


def _names(room: str | Iterable[str]) -> list[str]:
    return [room] if isinstance(room, str) else list(room)


class Emitter:
    """A publisher to the cluster's namespace ``nsp`` (``of(name)`` for another).

    Args:
        url: the Redis URL (ignored when ``client`` is given).
        key: the channel prefix of the cluster (``socket.io``).
        nsp: the namespace.
        client: a ``redis.asyncio.Redis`` client to publish with (made from ``url``
            on first use otherwise; :meth:`close` closes only a client it made).
        rooms: only the sockets in any of these rooms (none: every socket).
        except_rooms: not the sockets in any of these.
        flags: ``volatile``, ``compress``.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        key: str = "socket.io",
        nsp: str = "/",
        client: Any = None,
        rooms: frozenset[str] = frozenset(),
        except_rooms: frozenset[str] = frozenset(),
        flags: dict[str, Any] | None = None,
        _shared: list[Any] | None = None,
    ) -> None:
        if not nsp.startswith("/"):
            nsp = "/" + nsp
        self.url = url
        self.key = key
        self.nsp = nsp
        self.rooms = rooms
        self.except_rooms = except_rooms
        self.flags = flags or {}
        # [client, whether we made it], shared by every emitter derived from this one
        self._shared = _shared if _shared is not None else [client, False]
        self.channels = wire.Channels(key, nsp)

    def __repr__(self) -> str:
        return f"<Emitter {self.nsp!r} rooms={sorted(self.rooms)!r} except={sorted(self.except_rooms)!r}>"

    def _derive(self, **changes: Any) -> Emitter:
        values: dict[str, Any] = {
            "nsp": self.nsp,
            "rooms": self.rooms,
            "except_rooms": self.except_rooms,
            "flags": self.flags,
        }
        values.update(changes)
        return Emitter(self.url, key=self.key, _shared=self._shared, **values)

    # ------------------------------------------------------------------ selection
    def of(self, nsp: str) -> Emitter:
        """The emitter of namespace ``nsp`` (no rooms, no flags)."""
        return self._derive(nsp=nsp, rooms=frozenset(), except_rooms=frozenset(), flags={})

    def to(self, room: str | Iterable[str]) -> Emitter:
        """Only sockets in ``room`` (or several; a socket id is a room)."""
        return self._derive(rooms=self.rooms | frozenset(_names(room)))

    in_ = to

    def except_(self, room: str | Iterable[str]) -> Emitter:
        """Not the sockets in ``room`` (or several)."""
        return self._derive(except_rooms=self.except_rooms | frozenset(_names(room)))

    @property
    def volatile(self) -> Emitter:
        """Receivers drop the packet for connections not writable right now."""
        return self._derive(flags={**self.flags, "volatile": True})

    def compress(self, value: bool = True) -> Emitter:
        """Whether receivers may compress the packet (permessage-deflate)."""
        return self._derive(flags={**self.flags, "compress": bool(value)})

    # ------------------------------------------------------------------ publishing
    async def _client(self) -> Any:
        shared = self._shared
        if shared[0] is None:
            try:
                import redis.asyncio as aioredis
            except ImportError as exc:  # pragma: no cover - the redis extra installs it
                raise ImportError("Emitter needs redis-py: pip install 'fastsio-server[redis]'") from exc
            shared[0] = aioredis.Redis.from_url(self.url)
            shared[1] = True
        return shared[0]

    async def _publish(self, channel: bytes, payload: bytes) -> None:
        client = await self._client()
        await client.publish(channel, payload)

    def _opts(self) -> dict[str, Any]:
        return wire.wire_opts(self.rooms, self.except_rooms)

    async def emit(self, event: str, *args: Any) -> None:
        """Broadcast ``event`` to the selected sockets of every node.

        Raises:
            ValueError: ``event`` is a reserved name (``connect``, ``disconnect``...).
        """
        if event in ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"):
            raise ValueError(f"{event!r} is a reserved event name")
        payload = wire.pack(
            [
                wire.EMITTER_UID,
                {"type": 2, "data": [event, *args], "nsp": self.nsp},
                {"rooms": list(self.rooms), "flags": wire.to_wire_flags(self.flags), "except": list(self.except_rooms)},
            ]
        )
        await self._publish(self.channels.for_rooms(self.rooms), payload)

    async def send(self, *args: Any) -> None:
        """Emit a ``message`` event."""
        await self.emit("message", *args)

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make the selected sockets of every node join ``room`` (or several)."""
        body = {"type": wire.REMOTE_JOIN, "opts": self._opts(), "rooms": _names(room)}
        await self._publish(self.channels.request, wire.dumps_json(body))

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make the selected sockets of every node leave ``room`` (or several)."""
        body = {"type": wire.REMOTE_LEAVE, "opts": self._opts(), "rooms": _names(room)}
        await self._publish(self.channels.request, wire.dumps_json(body))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets of every node (``close=True``: their whole
        connections)."""
        body = {"type": wire.REMOTE_DISCONNECT, "opts": self._opts(), "close": bool(close)}
        await self._publish(self.channels.request, wire.dumps_json(body))

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every node's server-side handlers of this namespace (no
        acknowledgement: an emitter receives nothing).

        Raises:
            ValueError: an argument is a callable (Node's emitter refuses acks too).
        """
        if any(callable(a) for a in args):
            raise ValueError("the emitter does not support acknowledgements")
        body = {"uid": wire.EMITTER_UID, "type": wire.SERVER_SIDE_EMIT, "data": [event, *args]}
        await self._publish(self.channels.request, wire.dumps_json(body))

    async def close(self) -> None:
        """Close the Redis client if this emitter made it."""
        shared = self._shared
        client, made = shared
        shared[0], shared[1] = None, False
        if client is not None and made:
            await client.aclose()
