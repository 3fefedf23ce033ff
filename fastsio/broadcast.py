"""``BroadcastOperator``: who a broadcast goes to (rooms, exceptions) and how.

This module sits below the namespace and the socket: it reaches them only through
the interfaces it declares, which they satisfy structurally:

* :class:`BroadcastSocket`: what a broadcast needs of a socket (``fastsio.Socket``);
* :class:`BroadcastNamespace`: what it needs of a namespace (``fastsio.Namespace``).

:class:`BroadcastOperator` is generic in the socket type, so that
``fetch_sockets()`` gives the namespace's own socket objects.

With a cluster adapter (``adapter.clustered``), every operation also goes to the
other nodes through the adapter, unless the ``local`` flag is set: a broadcast is
encoded and fanned out here once, and handed to the adapter once to publish;
``emit_with_ack`` waits for every node's client count and every client's reply;
``fetch_sockets`` adds the other nodes' sockets (as
:class:`~fastsio.adapters.RemoteSocket`); ``sockets_join``/``sockets_leave``/
``disconnect_sockets`` are applied here at once and sent to the other nodes.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Generic, Iterable, Mapping, Protocol, TypeVar

from .adapters.base import Adapter, RemoteSocket, TransportCounter
from .exceptions import AckTimeout
from .observers import Observer, notify
from .options import RecoveryOptions, ServerOptions

__all__ = ("BroadcastNamespace", "BroadcastOperator", "BroadcastSocket")


class BroadcastSocket(Protocol):
    """What a broadcast needs of a socket (:class:`fastsio.Socket` satisfies it)."""

    @property
    def id(self) -> str:
        """The socket id."""
        ...

    def expect_ack(self, ack_id: int, callback: Callable[..., Any]) -> None:
        """Call ``callback(*args)`` when the client acknowledges ``ack_id``."""
        ...

    def forget_ack(self, ack_id: int) -> None:
        """Stop waiting for the acknowledgement ``ack_id``."""
        ...

    def send_packet(self, parts: list[str | bytes], compress: bool = True) -> None:
        """Send one encoded packet to the client (held until the CONNECT reply is out)."""
        ...

    def join(self, room: str | list[str] | tuple[str, ...] | set[str]) -> None:
        """Join ``room`` (or several)."""
        ...

    def leave(self, room: str) -> None:
        """Leave ``room``."""
        ...

    def disconnect(self, close: bool = False) -> None:
        """Disconnect from the namespace (``close=True``: the whole connection)."""
        ...


S = TypeVar("S", bound=BroadcastSocket)


class BroadcastNamespace(Protocol[S]):
    """What a broadcast needs of a namespace (:class:`fastsio.Namespace` satisfies it)."""

    @property
    def name(self) -> str:
        """The namespace name."""
        ...

    @property
    def parser(self) -> Any:
        """The server's parser (``encode_event``)."""
        ...

    @property
    def options(self) -> ServerOptions:
        """The server's options (``ack_timeout``, ``connection_state_recovery``)."""
        ...

    @property
    def recovery(self) -> RecoveryOptions | None:
        """The server's connection state recovery options (``None``: off)."""
        ...

    @property
    def engine(self) -> TransportCounter:
        """The engine serving the namespace's connections (its ``metrics``)."""
        ...

    @property
    def adapter(self) -> Adapter:
        """The namespace's adapter (rooms, fan-out, recovery store)."""
        ...

    @property
    def sockets(self) -> Mapping[str, S]:
        """Socket id -> connected socket."""
        ...

    @property
    def observers(self) -> list[Observer]:
        """The server's observers (told of each broadcast)."""
        ...

    @property
    def log(self) -> Any:
        """The server's logger."""
        ...

    def has_outgoing(self) -> bool:
        """Whether any outgoing catch-all listener exists here (namespace or socket)."""
        ...

    def notify_outgoing(self, sock: S, event: str, args: tuple[Any, ...]) -> None:
        """Call the outgoing catch-all listeners for ``event`` sent to ``sock``."""
        ...

    def next_ack_id(self) -> int:
        """A new acknowledgement id."""
        ...


def _names(room: str | Iterable[str]) -> list[str]:
    return [room] if isinstance(room, str) else list(room)


class BroadcastOperator(Generic[S]):
    """An immutable selection of a namespace's sockets; each modifier returns a new one.

    Args:
        namespace: the namespace broadcast on.
        rooms: only the sockets in any of these rooms (none: every socket).
        except_rooms: not the sockets in any of these.
        flags: ``volatile``, ``local``, ``compress``, ``timeout`` (see the modifiers).
    """

    __slots__ = ("namespace", "rooms", "except_rooms", "flags")

    def __init__(
        self,
        namespace: BroadcastNamespace[S],
        rooms: frozenset[str] = frozenset(),
        except_rooms: frozenset[str] = frozenset(),
        flags: dict[str, Any] | None = None,
    ) -> None:
        self.namespace = namespace
        self.rooms = rooms
        self.except_rooms = except_rooms
        self.flags = flags or {}

    @classmethod
    def in_rooms(cls, namespace: BroadcastNamespace[S], room: str | Iterable[str]) -> BroadcastOperator[S]:
        """The sockets of ``namespace`` in ``room`` (or several): what
        ``BroadcastOperator(namespace).to(room)`` selects, built as one operator (an emit
        to a small room costs a few microseconds, and an empty operator and then its
        ``to`` was a third of them)."""
        return cls(namespace, frozenset(_names(room)))

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[S]:
        """Only sockets in ``room`` (a room name or a socket id; or several)."""
        return BroadcastOperator(
            self.namespace, self.rooms | frozenset(_names(room)), self.except_rooms, self.flags
        )

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[S]:
        """Not the sockets in ``room`` (or several)."""
        return BroadcastOperator(
            self.namespace, self.rooms, self.except_rooms | frozenset(_names(room)), self.flags
        )

    def _with(self, flag: str, value: Any) -> BroadcastOperator[S]:
        flags = dict(self.flags)
        flags[flag] = value
        return BroadcastOperator(self.namespace, self.rooms, self.except_rooms, flags)

    def timeout(self, seconds: float) -> BroadcastOperator[S]:
        """``emit_with_ack`` waits at most ``seconds`` for the replies."""
        return self._with("timeout", seconds)

    @property
    def volatile(self) -> BroadcastOperator[S]:
        """Drop the packet for connections that are not writable right now."""
        return self._with("volatile", True)

    @property
    def local(self) -> BroadcastOperator[S]:
        """Only this node's sockets (matters with a cluster adapter)."""
        return self._with("local", True)

    def compress(self, value: bool = True) -> BroadcastOperator[S]:
        """Whether the packet may be compressed (default True): ``compress(False)`` sends
        it uncompressed to WebSocket connections with permessage-deflate."""
        return self._with("compress", bool(value))

    # ------------------------------------------------------------------ emitting
    def emit(self, event: str, *args: Any) -> int:
        """Send ``event`` to every selected socket; returns how many.  Never blocks."""
        ns = self.namespace
        if ns.has_outgoing():
            for sock in self._sockets():
                ns.notify_outgoing(sock, event, args)
        parts = None
        if ns.recovery is not None and not self.flags.get("volatile"):
            if ns.adapter.cluster_recovery and not self.flags.get("local"):
                # the offset is the cluster's (a stream entry id): delivered here with it
                return ns.adapter.publish_kept(event, args, self.rooms, self.except_rooms, self.flags)
            # connection state recovery: the packet gets an offset (its last argument)
            # and is kept for the sessions that may miss it
            offset = ns.adapter.next_offset()
            if offset is not None:
                parts = ns.parser.encode_event(ns.name, event, (*args, offset))
                ns.adapter.store(offset, parts, self.rooms, self.except_rooms)
        if parts is None:
            parts = ns.parser.encode_event(ns.name, event, args)
        adapter = ns.adapter
        count = adapter.broadcast(parts, set(self.rooms), set(self.except_rooms), self.flags)
        observers = ns.observers
        if observers:
            notify(observers, ns.log, "broadcast", ns, parts, count)
        if adapter.clustered and not self.flags.get("local"):
            adapter.publish([event, *args], self.rooms, self.except_rooms, self.flags)
        return count

    def send(self, *args: Any) -> int:
        """Emit a ``message`` event; returns how many sockets it went to."""
        return self.emit("message", *args)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Emit and collect one reply per selected socket (a list, in no set order).

        Waits at most ``timeout(s)`` (or the server's ``ack_timeout``); on timeout
        raises :class:`AckTimeout` whose ``replies`` holds the replies that arrived.
        With a cluster adapter, the other nodes' sockets are selected too: it waits for
        each node's count of the clients it reached, then for their replies (a remote
        client's reply is its first ack argument, as Node forwards it); without any
        timeout set, the adapter's ``requests_timeout`` bounds the wait.
        """
        ns = self.namespace
        adapter = ns.adapter
        flags = self.flags
        timeout = flags.get("timeout", ns.options.ack_timeout)
        loop = asyncio.get_running_loop()
        nodes = 0  # other nodes that have yet to say how many clients they reached
        if adapter.clustered and not flags.get("local"):
            nodes = await adapter.server_count() - 1
        sids = adapter.sockets(set(self.rooms), set(self.except_rooms))
        targets = [ns.sockets[sid] for sid in sids if sid in ns.sockets]
        replies: list[Any] = []
        if not targets and nodes <= 0:
            return replies
        done: asyncio.Future[None] = loop.create_future()
        # [clients expected, nodes yet to report their count]
        state = [len(targets), nodes]
        ack_id = ns.next_ack_id()

        def check() -> None:
            if state[1] <= 0 and len(replies) >= state[0] and not done.done():
                done.set_result(None)

        def on_reply(*reply: Any) -> None:
            replies.append(reply[0] if len(reply) == 1 else (reply if reply else None))
            check()

        def on_count(count: int) -> None:
            state[0] += count
            state[1] -= 1
            check()

        def on_remote_reply(value: Any) -> None:
            replies.append(value)
            check()

        parts = ns.parser.encode_event(ns.name, event, args, ack_id)
        compress = flags.get("compress", True)
        for sock in targets:
            sock.expect_ack(ack_id, on_reply)
            sock.send_packet(parts, compress)
        stop: Callable[[], None] | None = None
        if nodes > 0:
            if timeout is None:
                # a node that never answers must not hold this forever
                timeout = adapter.requests_timeout
            wire_flags = dict(flags)
            if timeout is not None:
                wire_flags["timeout"] = timeout
            stop = adapter.publish_with_ack(
                [event, *args], self.rooms, self.except_rooms, wire_flags, on_count, on_remote_reply
            )
        try:
            if timeout is None:
                await done
            else:
                await asyncio.wait_for(asyncio.shield(done), timeout)
        except asyncio.TimeoutError:
            metrics = ns.engine.metrics
            if metrics is not None:
                # one per client that did not answer in time
                metrics.ack_timeouts += max(0, len(targets) - len(replies))
            raise AckTimeout(replies=list(replies)) from None
        finally:
            for sock in targets:
                sock.forget_ack(ack_id)
            if stop is not None:
                stop()
        return replies

    # ------------------------------------------------------------------ the selected sockets
    def _sockets(self) -> list[S]:
        ns = self.namespace
        sids = ns.adapter.sockets(set(self.rooms), set(self.except_rooms))
        return [ns.sockets[sid] for sid in sids if sid in ns.sockets]

    def _cluster(self) -> bool:
        return self.namespace.adapter.clustered and not self.flags.get("local")

    async def fetch_sockets(self) -> list[S | RemoteSocket]:
        """The selected sockets: this node's (the namespace's socket objects), then, with
        a cluster adapter, the other nodes' (:class:`~fastsio.adapters.RemoteSocket`).

        Raises:
            AckTimeout: a node did not answer within the adapter's requests timeout.
        """
        found: list[S | RemoteSocket] = list(self._sockets())
        if self._cluster():
            found.extend(await self.namespace.adapter.fetch_sockets(self.rooms, self.except_rooms))
        return found

    def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make the selected sockets join ``room`` (or several)."""
        names = _names(room)
        for sock in self._sockets():
            sock.join(names)
        if self._cluster():
            self.namespace.adapter.remote_join(self.rooms, self.except_rooms, names)

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make the selected sockets leave ``room`` (or several)."""
        names = _names(room)
        for sock in self._sockets():
            for name in names:
                sock.leave(name)
        if self._cluster():
            self.namespace.adapter.remote_leave(self.rooms, self.except_rooms, names)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets (``close=True``: their whole connections)."""
        for sock in self._sockets():
            sock.disconnect(close)
        if self._cluster():
            self.namespace.adapter.remote_disconnect(self.rooms, self.except_rooms, close)
