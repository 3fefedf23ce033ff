"""The Redis adapter: a fastsio node as a member of a Node socket.io cluster on Redis,
wire-compatible with ``@socket.io/redis-adapter`` 8.3 in classic mode (and the target
of ``@socket.io/redis-emitter`` 5), or in sharded mode (``createShardedAdapter``:
SPUBLISH/SSUBSCRIBE, Redis 7+, :class:`ShardedNamespaceAdapter`).

``Server(adapter=RedisAdapter(url, key="socket.io"))``: :class:`RedisAdapter` is the
factory the server calls once per namespace; it owns the two Redis connections of the
process (redis-py's asyncio client, hiredis when installed): one that publishes and
one subscriber, shared by every namespace, each of which has its own uid and channels
(see :mod:`fastsio.adapters.redis_wire` for the formats).

How it works:

* The per-namespace :class:`RedisNamespaceAdapter` *is* a
  :class:`~fastsio.adapters.MemoryAdapter` (rooms, the compiled fan-out, recovery):
  a broadcast is encoded once and fanned out locally as on a single node, then its
  ``[event, *args]`` is packed once (msgpack) and queued for Redis.  One writer task
  sends the queue with pipelined PUBLISHes, in order; emits never wait for Redis.
* One reader task reads the subscriber connection and hands each message to its
  namespace's adapter, synchronously: a broadcast from another node is decoded once
  and goes through the same local fan-out (a message on a room channel for a room
  that has nobody here is dropped before it is decoded; our own broadcasts are
  recognised by their first bytes and never decoded).  No task per message.
* Requests (fetch sockets, all rooms, server-side emit, broadcast with acks, remote
  join/leave/disconnect) are answered from the reader without awaiting anything; the
  answers go out through the same queue.  A request of our own counts the nodes with
  ``PUBSUB NUMSUB`` on the request channel, waits for ``count - 1`` answers, and
  fails with :class:`~fastsio.AckTimeout` at ``requests_timeout``.
* ``socketsJoin``/``socketsLeave``/``disconnectSockets`` made here are applied here at
  once (by the broadcast operator) and published; our own echo is skipped by uid.
* Failure policy: while Redis is unreachable, local delivery goes on; what should go
  to the other nodes is dropped and counted (:attr:`RedisAdapter.dropped`), as is the
  oldest queued messages when the queue would hold more than ``max_pending_bytes``
  (64 MiB by default: a burst of emits made in one go is queued whole).  The subscriber
  reconnects with backoff (redis-py subscribes again) and logs it; a message that does
  not decode or is not of this protocol is logged at debug level and skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Callable, Iterable

from ..exceptions import AckTimeout
from . import redis_wire as wire
from .base import AdapterNamespace, RemoteSocket
from .memory import MemoryAdapter

__all__ = ("RedisAdapter", "RedisNamespaceAdapter", "ShardedNamespaceAdapter")

_REQUEST = 0
_RESPONSE = 1
_SHARDED = 2
_BATCH = 512


def _import_redis() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:  # pragma: no cover - the redis extra installs it
        raise ImportError("RedisAdapter and Emitter need redis-py: pip install 'fastsio[redis]'") from exc
    return aioredis


class RedisAdapter:
    """The Redis adapter's factory: ``Server(adapter=RedisAdapter(...))``.

    Args:
        url: the Redis URL (``redis://host:port/db``, ``rediss://`` for TLS).
        key: the channel prefix, the same on every node (Node's ``key``).
        mode: ``"classic"`` (PUBLISH/PSUBSCRIBE, Node's ``createAdapter``) or
            ``"sharded"`` (SPUBLISH/SSUBSCRIBE, Redis 7+, Node's
            ``createShardedAdapter``; ``key`` is its ``channelPrefix``).
        subscription_mode: sharded mode's ``subscriptionMode``, the same on every
            node: ``"dynamic"`` (a channel per room, socket ids excepted),
            ``"dynamic-private"`` (socket ids too) or ``"static"`` (one channel).
        requests_timeout: seconds a cluster request (fetch sockets, all rooms,
            server-side emit with ack) waits for every node (Node's ``requestsTimeout``).
        publish_on_specific_response_channel: answer a node's request on its own
            response channel rather than the shared one (Node's option of that name;
            every node listens on both).
        max_pending_bytes: bytes of messages queued for Redis at most; beyond, the oldest
            are dropped (and counted).
        redis_options: more keyword arguments for ``redis.asyncio.Redis.from_url``.

    Attributes:
        dropped: messages for the other nodes that were dropped (Redis unreachable,
            queue full, or a payload that msgpack cannot encode).
        published: messages published.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        key: str = "socket.io",
        mode: str = "classic",
        subscription_mode: str = "dynamic",
        requests_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
        max_pending_bytes: int = 64 * 1024 * 1024,
        **redis_options: Any,
    ) -> None:
        if mode not in ("classic", "sharded"):
            raise ValueError(f"RedisAdapter mode {mode!r}: 'classic' or 'sharded'")
        if subscription_mode not in wire.SUBSCRIPTION_MODES:
            raise ValueError(f"subscription_mode {subscription_mode!r}: one of {wire.SUBSCRIPTION_MODES}")
        if not isinstance(key, str) or not key:
            raise ValueError("RedisAdapter key must be a non-empty string")
        if requests_timeout <= 0:
            raise ValueError("requests_timeout must be positive")
        self.url = url
        self.key = key
        self.mode = mode
        self.subscription_mode = subscription_mode
        self._sharded = mode == "sharded"
        self.requests_timeout = float(requests_timeout)
        self.publish_on_specific_response_channel = publish_on_specific_response_channel
        self.max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0
        self.redis_options = redis_options
        self.dropped = 0
        self.published = 0
        self.log: logging.Logger = logging.getLogger("fastsio")
        # the namespace adapters subscribed (pattern -> adapter, channel -> (adapter, kind))
        self._patterns: dict[bytes, RedisNamespaceAdapter] = {}
        self._channels: dict[bytes, tuple[RedisNamespaceAdapter, int]] = {}
        self._attached: list[RedisNamespaceAdapter] = []
        # subscriptions waiting for Redis's confirmation
        self._confirm: dict[bytes, asyncio.Future[None]] = {}
        self._client: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._queue: deque[tuple[bytes, bytes]] = deque()
        self._wake: asyncio.Event | None = None
        self._connecting: asyncio.Lock | None = None
        self._write_failing = False
        # sharded mode's room channels to (un)subscribe, in order, by one task
        self._room_ops: deque[tuple[bool, bytes]] = deque()
        self._room_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<RedisAdapter {self.url!r} key={self.key!r} namespaces={len(self._attached)}>"

    def __call__(self, namespace: AdapterNamespace) -> RedisNamespaceAdapter:
        """The adapter of ``namespace`` (the server calls this once per namespace)."""
        self.log = namespace.log
        adapter: RedisNamespaceAdapter
        if self._sharded:
            adapter = ShardedNamespaceAdapter(self, namespace)
        else:
            adapter = RedisNamespaceAdapter(self, namespace)
        if self._client is not None:
            # a namespace made while the server runs: subscribe now
            task = asyncio.get_running_loop().create_task(adapter.open())
            task.add_done_callback(self._opened)
        return adapter

    def _opened(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("redis adapter: a namespace could not subscribe", exc_info=task.exception())

    @property
    def client(self) -> Any:
        """The publishing ``redis.asyncio.Redis`` client (None until connected)."""
        return self._client

    @property
    def pending(self) -> int:
        """Messages queued for Redis."""
        return len(self._queue)

    # ------------------------------------------------------------ connections
    async def _connect(self) -> None:
        aioredis = _import_redis()
        client = aioredis.Redis.from_url(self.url, **self.redis_options)
        try:
            await client.ping()
        except Exception:
            await client.aclose()
            raise
        self._client = client
        self._pubsub = client.pubsub(ignore_subscribe_messages=False)
        self._wake = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def attach(self, adapter: RedisNamespaceAdapter) -> None:
        """Subscribe ``adapter``'s channels (connecting first if needed); returns once
        Redis confirmed every subscription."""
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._client is None:
                await self._connect()
        patterns, channels = adapter.subscriptions()
        loop = asyncio.get_running_loop()
        for name in patterns:
            self._patterns[name] = adapter
        for name, kind in channels:
            self._channels[name] = (adapter, kind)
        names = [*patterns, *(name for name, _ in channels)]
        waits = []
        for name in names:
            fut: asyncio.Future[None] = loop.create_future()
            self._confirm[name] = fut
            waits.append(fut)
        self._attached.append(adapter)
        if patterns:
            await self._pubsub.psubscribe(*patterns)
        if self._sharded:
            await self._pubsub.ssubscribe(*(name for name, _ in channels))
        else:
            await self._pubsub.subscribe(*(name for name, _ in channels))
        if self._reader is None:
            self._reader = loop.create_task(self._read_loop())
        try:
            await asyncio.wait_for(asyncio.gather(*waits), self.requests_timeout)
        finally:
            for name in names:
                self._confirm.pop(name, None)

    async def detach(self, adapter: RedisNamespaceAdapter) -> None:
        """Unsubscribe ``adapter``; the last one closes the connections."""
        if adapter not in self._attached:
            return
        self._attached.remove(adapter)
        patterns, channels = adapter.subscriptions()
        for name in patterns:
            self._patterns.pop(name, None)
        names = [name for name, _ in channels]
        for name in names:
            self._channels.pop(name, None)
        if not self._attached:
            await self._disconnect()
            return
        try:
            if patterns:
                await self._pubsub.punsubscribe(*patterns)
            if self._sharded:
                await self._pubsub.sunsubscribe(*names)
            else:
                await self._pubsub.unsubscribe(*names)
        except Exception as exc:
            self.log.warning("redis adapter: unsubscribing %s failed: %s", adapter.nsp, exc)

    async def _disconnect(self) -> None:
        # let what is queued leave (briefly), then stop both tasks and close
        for _ in range(100):
            if not self._queue:
                break
            await asyncio.sleep(0.01)
        for task in (self._reader, self._writer, self._room_task):
            if task is not None:
                task.cancel()
                try:
                    await task
                except BaseException:
                    pass
        self._reader = self._writer = self._room_task = None
        self._room_ops.clear()
        self._wake = None
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        self._queue.clear()
        self._pending_bytes = 0
        try:
            if pubsub is not None:
                await pubsub.aclose()
        finally:
            if client is not None:
                await client.aclose()

    # ------------------------------------------------------------ publishing
    def enqueue(self, channel: bytes, payload: bytes) -> None:
        """Queue a PUBLISH (sent in order by the writer task; never blocks)."""
        wake = self._wake
        if wake is None:
            self.dropped += 1
            return
        queue = self._queue
        size = len(payload)
        total = self._pending_bytes + size
        while total > self.max_pending_bytes and queue:
            total -= len(queue.popleft()[1])
            self.dropped += 1
        self._pending_bytes = total
        queue.append((channel, payload))
        wake.set()

    async def _write_loop(self) -> None:
        assert self._wake is not None
        wake = self._wake
        queue = self._queue
        client = self._client
        backoff = 0.05
        publish = "spublish" if self._sharded else "publish"
        while True:
            await wake.wait()
            wake.clear()
            while queue:
                n = min(len(queue), _BATCH)
                batch = [queue.popleft() for _ in range(n)]
                self._pending_bytes -= sum(len(item[1]) for item in batch)
                try:
                    if n == 1:
                        await getattr(client, publish)(*batch[0])
                    else:
                        pipe = client.pipeline(transaction=False)
                        command = getattr(pipe, publish)
                        for channel, payload in batch:
                            command(channel, payload)
                        await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.dropped += n
                    if not self._write_failing:
                        self._write_failing = True
                        self.log.warning("redis adapter: publishing failed (%s); dropping remote messages", exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                if self._write_failing:
                    self._write_failing = False
                    backoff = 0.05
                    self.log.warning("redis adapter: publishing again (%d messages dropped so far)", self.dropped)
                self.published += n

    # ------------------------------------------------------------ receiving
    async def _read_loop(self) -> None:
        pubsub = self._pubsub
        backoff = 0.1
        lost = False
        while True:
            try:
                msg = await pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:
                    self.log.warning("redis adapter: subscriber connection lost (%s); reconnecting", exc)
                lost = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if lost:
                lost = False
                backoff = 0.1
                self.log.warning("redis adapter: subscriber reconnected")
            if msg is not None:
                self._dispatch(msg)

    def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        try:
            if kind == "smessage":
                entry = self._channels.get(msg["channel"])
                if entry is not None:
                    entry[0].on_message(msg["channel"], msg["data"])
            elif kind == "pmessage":
                adapter = self._patterns.get(msg["pattern"])
                if adapter is not None:
                    adapter.on_broadcast(msg["channel"], msg["data"])
            elif kind == "message":
                entry = self._channels.get(msg["channel"])
                if entry is not None:
                    if entry[1] == _REQUEST:
                        entry[0].on_request(msg["data"])
                    else:
                        entry[0].on_response(msg["data"])
            elif kind in ("subscribe", "psubscribe", "ssubscribe"):
                fut = self._confirm.pop(msg["channel"], None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
        except Exception as exc:
            self.log.debug("redis adapter: skipped a message on %r: %r", msg.get("channel"), exc)

    async def numsub(self, channel: bytes) -> int:
        """``PUBSUB NUMSUB channel`` (sharded: ``SHARDNUMSUB``): how many subscriptions
        it has."""
        if self._client is None:
            return 0
        if self._sharded:
            result = await self._client.pubsub_shardnumsub(channel)
        else:
            result = await self._client.pubsub_numsub(channel)
        return int(result[0][1]) if result else 0

    def room_channel(self, adapter: RedisNamespaceAdapter, channel: bytes, subscribe: bool) -> None:
        """Sharded mode: (un)subscribe a room channel of ``adapter`` (queued: one task
        applies them in order)."""
        if self._pubsub is None:
            return
        if subscribe:
            self._channels[channel] = (adapter, _SHARDED)
        self._room_ops.append((subscribe, channel))
        if self._room_task is None:
            self._room_task = asyncio.get_running_loop().create_task(self._room_loop())

    async def _room_loop(self) -> None:
        ops = self._room_ops
        try:
            while ops and self._pubsub is not None:
                subscribe, channel = ops.popleft()
                try:
                    if subscribe:
                        await self._pubsub.ssubscribe(channel)
                    else:
                        entry = self._channels.get(channel)
                        if entry is not None and entry[1] == _SHARDED:
                            del self._channels[channel]
                        await self._pubsub.sunsubscribe(channel)
                except Exception as exc:
                    self.log.warning("redis adapter: (un)subscribing %r failed: %s", channel, exc)
        finally:
            self._room_task = None


class _Request:
    """One request of ours waiting for ``expected`` answers."""

    __slots__ = ("expected", "responses", "future")

    def __init__(self, expected: int, future: asyncio.Future[None]) -> None:
        self.expected = expected
        self.responses: list[dict[str, Any]] = []
        self.future = future

    def add(self, response: dict[str, Any]) -> None:
        self.responses.append(response)
        if len(self.responses) >= self.expected and not self.future.done():
            self.future.set_result(None)


class RedisNamespaceAdapter(MemoryAdapter):
    """One namespace's member of the cluster: a :class:`MemoryAdapter` for the local
    sockets that also publishes to, and answers, the other nodes (see the module).

    Args:
        factory: the :class:`RedisAdapter` (connections, options).
        namespace: the namespace it serves.
    """

    clustered = True

    def __init__(self, factory: RedisAdapter, namespace: AdapterNamespace) -> None:
        super().__init__(namespace)
        self.factory = factory
        self.nsp = namespace.name
        #: this node's uid in this namespace (6 random characters, as Node's)
        self.uid = wire.new_uid()
        self.channels = wire.Channels(factory.key, namespace.name, self.uid)
        self.requests_timeout = factory.requests_timeout
        # what our own broadcasts start with: msgpack array(3), then the uid as str
        self._own = b"\x93" + bytes((0xA0 | len(self.uid),)) + self.uid.encode()
        self._requests: dict[str, _Request] = {}
        self._ack_requests: dict[str, tuple[Callable[[int], None], Callable[[Any], None]]] = {}
        self._opened = False

    def __repr__(self) -> str:
        return f"<RedisNamespaceAdapter {self.nsp!r} uid={self.uid!r}>"

    def subscriptions(self) -> tuple[list[bytes], list[tuple[bytes, int]]]:
        """What this namespace listens to: patterns, and channels with their kind."""
        ch = self.channels
        return [ch.pattern], [(ch.request, _REQUEST), (ch.response, _RESPONSE), (ch.own_response, _RESPONSE)]

    def on_message(self, channel: bytes, payload: bytes) -> None:
        """A sharded-mode message (not in classic mode)."""

    # ------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        """Subscribe this namespace's channels (a dynamic namespace's parent, which has
        no sockets of its own, subscribes nothing: its children do)."""
        if self._opened or not self.nsp.startswith("/"):
            return
        self._opened = True
        try:
            await self.factory.attach(self)
        except BaseException:
            self._opened = False
            await self.factory.detach(self)
            raise

    async def shutdown(self) -> None:
        """Unsubscribe (the last namespace closes the connections)."""
        if self._opened:
            self._opened = False
            await self.factory.detach(self)

    def close(self) -> None:
        """The namespace is gone: unsubscribe."""
        if self._opened:
            task = asyncio.get_running_loop().create_task(self.shutdown())
            task.add_done_callback(self.factory._opened)

    # ------------------------------------------------------------ sending
    def _new_request_id(self) -> str:
        return wire.new_uid()

    def _publish_json(self, channel: bytes, body: dict[str, Any]) -> None:
        self.factory.enqueue(channel, wire.dumps_json(body))

    def publish(
        self, data: list[Any], rooms: frozenset[str], except_rooms: frozenset[str], flags: dict[str, Any]
    ) -> None:
        """See :meth:`Adapter.publish`: ``[uid, packet, opts]`` on the namespace's
        channel, or the room's when there is exactly one room."""
        try:
            payload = wire.pack(
                [
                    self.uid,
                    {"type": 2, "data": data, "nsp": self.nsp},
                    {"rooms": list(rooms), "except": list(except_rooms), "flags": wire.to_wire_flags(flags)},
                ]
            )
        except Exception as exc:
            self.factory.dropped += 1
            self.namespace.log.error("redis adapter: cannot publish %r: %s", data[0] if data else None, exc)
            return
        self.factory.enqueue(self.channels.for_rooms(rooms), payload)

    def publish_with_ack(
        self,
        data: list[Any],
        rooms: frozenset[str],
        except_rooms: frozenset[str],
        flags: dict[str, Any],
        on_count: Callable[[int], None],
        on_ack: Callable[[Any], None],
    ) -> Callable[[], None]:
        """See :meth:`Adapter.publish_with_ack` (request type 7, msgpack)."""
        rid = wire.new_uid()
        try:
            payload = wire.pack(
                {
                    "uid": self.uid,
                    "requestId": rid,
                    "type": wire.BROADCAST,
                    "packet": {"type": 2, "data": data, "nsp": self.nsp},
                    "opts": {"rooms": list(rooms), "except": list(except_rooms), "flags": wire.to_wire_flags(flags)},
                }
            )
        except Exception as exc:
            self.factory.dropped += 1
            self.namespace.log.error("redis adapter: cannot publish %r: %s", data[0] if data else None, exc)
            return _noop
        self._ack_requests[rid] = (on_count, on_ack)
        self.factory.enqueue(self.channels.request, payload)

        def stop() -> None:
            self._ack_requests.pop(rid, None)

        return stop

    async def server_count(self) -> int:
        """See :meth:`Adapter.server_count` (``PUBSUB NUMSUB`` of the request channel;
        1 when Redis cannot be asked)."""
        try:
            return max(1, await self.factory.numsub(self.channels.request))
        except Exception as exc:
            self.namespace.log.warning("redis adapter: PUBSUB NUMSUB failed: %s", exc)
            return 1

    def _send_request(self, kind: int, rid: str, body: dict[str, Any]) -> None:
        self._publish_json(self.channels.request, {"uid": self.uid, "requestId": rid, "type": kind, **body})

    async def _request(self, kind: int, body: dict[str, Any], what: str) -> list[dict[str, Any]]:
        count = await self.server_count()
        if count <= 1:
            return []
        rid = self._new_request_id()
        request = _Request(count - 1, asyncio.get_running_loop().create_future())
        self._requests[rid] = request
        self._send_request(kind, rid, body)
        try:
            await asyncio.wait_for(asyncio.shield(request.future), self.factory.requests_timeout)
        except asyncio.TimeoutError:
            raise AckTimeout(
                f"timeout reached while waiting for {what} response "
                f"(only {len(request.responses)} responses received out of {count - 1})",
                replies=list(request.responses),
            ) from None
        finally:
            self._requests.pop(rid, None)
        return request.responses

    async def fetch_sockets(self, rooms: frozenset[str], except_rooms: frozenset[str]) -> list[RemoteSocket]:
        """See :meth:`Adapter.fetch_sockets` (request type 5)."""
        responses = await self._request(
            wire.REMOTE_FETCH, {"opts": wire.wire_opts(rooms, except_rooms)}, "fetchSockets"
        )
        found: list[RemoteSocket] = []
        for response in responses:
            sockets = response.get("sockets")
            if isinstance(sockets, list):
                found.extend(RemoteSocket(self, s) for s in sockets if isinstance(s, dict))
        return found

    async def all_rooms(self) -> set[str]:
        """See :meth:`Adapter.all_rooms` (request type 1)."""
        rooms = self.all_local_rooms()
        for response in await self._request(wire.ALL_ROOMS, {}, "allRooms"):
            names = response.get("rooms")
            if isinstance(names, list):
                rooms.update(wire.room_name(r) for r in names)
        return rooms

    def remote_join(self, rooms: frozenset[str], except_rooms: frozenset[str], names: list[str]) -> None:
        """See :meth:`Adapter.remote_join` (request type 2)."""
        self._publish_json(
            self.channels.request,
            {"uid": self.uid, "type": wire.REMOTE_JOIN, "opts": wire.wire_opts(rooms, except_rooms), "rooms": names},
        )

    def remote_leave(self, rooms: frozenset[str], except_rooms: frozenset[str], names: list[str]) -> None:
        """See :meth:`Adapter.remote_leave` (request type 3)."""
        self._publish_json(
            self.channels.request,
            {"uid": self.uid, "type": wire.REMOTE_LEAVE, "opts": wire.wire_opts(rooms, except_rooms), "rooms": names},
        )

    def remote_disconnect(self, rooms: frozenset[str], except_rooms: frozenset[str], close: bool) -> None:
        """See :meth:`Adapter.remote_disconnect` (request type 4)."""
        self._publish_json(
            self.channels.request,
            {
                "uid": self.uid,
                "type": wire.REMOTE_DISCONNECT,
                "opts": wire.wire_opts(rooms, except_rooms),
                "close": bool(close),
            },
        )

    def server_side_emit(self, nsp: str, event: str, args: tuple[Any, ...]) -> None:
        """See :meth:`Adapter.server_side_emit` (request type 6)."""
        self._publish_json(
            self.channels.request, {"uid": self.uid, "type": wire.SERVER_SIDE_EMIT, "data": [event, *args]}
        )

    async def server_side_emit_with_ack(self, nsp: str, event: str, args: tuple[Any, ...]) -> list[Any]:
        """See :meth:`Adapter.server_side_emit_with_ack` (request type 6 with a request
        id; one reply per other node, each the first argument of its acknowledgement)."""
        try:
            responses = await self._request(wire.SERVER_SIDE_EMIT, {"data": [event, *args]}, "serverSideEmit")
        except AckTimeout as exc:
            replies = [r.get("data") for r in exc.replies]
            raise AckTimeout(str(exc), replies=replies) from None
        return [r.get("data") for r in responses]

    # ------------------------------------------------------------ receiving
    def _selection(self, opts: Any) -> tuple[set[str], set[str]]:
        if not isinstance(opts, dict):
            return set(), set()
        rooms = opts.get("rooms")
        excluded = opts.get("except")
        return (
            {wire.room_name(r) for r in rooms} if isinstance(rooms, list) else set(),
            {wire.room_name(r) for r in excluded} if isinstance(excluded, list) else set(),
        )

    def _encode(self, event: str, args: tuple[Any, ...], ack_id: int | None = None) -> list[str | bytes]:
        parser = self.namespace.parser
        try:
            parts: list[str | bytes] = parser.encode_event(self.nsp, event, args, ack_id)
        except (TypeError, ValueError):
            # a JavaScript Date (a datetime here) goes to clients as its ISO string
            parts = parser.encode_event(self.nsp, event, tuple(wire.js_compatible(list(args))), ack_id)
        return parts

    @staticmethod
    def _event(packet: Any) -> list[Any] | None:
        if not isinstance(packet, dict) or packet.get("type", 2) not in (2, 5):
            return None
        data = packet.get("data")
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            return None
        return data

    def on_broadcast(self, channel: bytes, payload: bytes) -> None:
        """A message on the broadcast pattern: deliver another node's broadcast here."""
        if payload.startswith(self._own):
            return  # our own, back from Redis
        room = channel[len(self.channels.prefix) : -1]
        if room and not self.has_room(room.decode("utf-8", "replace")):
            return  # a room nobody here is in
        msg = wire.load_msgpack(payload)
        if not isinstance(msg, list) or len(msg) < 3 or msg[0] == self.uid:
            return
        packet, opts = msg[1], msg[2]
        if not isinstance(packet, dict) or packet.get("nsp", "/") != self.nsp:
            return
        data = self._event(packet)
        if data is None:
            return
        rooms, except_rooms = self._selection(opts)
        flags = wire.from_wire_flags(opts.get("flags") if isinstance(opts, dict) else None)
        self.deliver(data[0], tuple(data[1:]), rooms, except_rooms, flags)

    def deliver(
        self, event: str, args: tuple[Any, ...], rooms: set[str], except_rooms: set[str], flags: dict[str, Any]
    ) -> int:
        """Broadcast ``event`` to this node's selected sockets (what another node
        published): encoded once, the outgoing catch-all listeners told, fanned out
        by :meth:`MemoryAdapter.broadcast`; with connection state recovery the packet
        gets an offset and is kept, as a local broadcast would."""
        ns = self.namespace
        parts = None
        if self._recovery is not None and not flags.get("volatile"):
            offset = self.next_offset()
            if offset is not None:
                parts = self._encode(event, (*args, offset))
                self.store(offset, parts, frozenset(rooms), frozenset(except_rooms))
        if parts is None:
            parts = self._encode(event, args)
        if ns.has_outgoing():
            sockets = ns.sockets
            for sid in self.sockets(rooms, except_rooms):
                sock = sockets.get(sid)
                if sock is not None:
                    ns.notify_outgoing(sock, event, args)
        return self.broadcast(parts, rooms, except_rooms, flags)

    def _respond(self, request: dict[str, Any], body: dict[str, Any], binary: bool = False) -> None:
        channel = self.channels.response
        uid = request.get("uid")
        if self.factory.publish_on_specific_response_channel and isinstance(uid, str):
            channel = f"{self.factory.key}-response#{self.nsp}#{uid}#".encode()
        payload = wire.pack(body) if binary else wire.dumps_json(body)
        self.factory.enqueue(channel, payload)

    def _describe(self, sid: str) -> dict[str, Any] | None:
        sock = self.namespace.sockets.get(sid)
        if sock is None:
            return None
        hs = sock.handshake
        return {
            "id": sid,
            "handshake": {
                "headers": dict(hs.headers),
                "time": hs.time,
                "address": hs.address,
                "xdomain": hs.xdomain,
                "secure": hs.secure,
                "issued": hs.issued,
                "url": hs.url,
                "query": dict(hs.query),
                "auth": hs.auth,
            },
            "rooms": [sid, *(r for r in self.socket_rooms(sid) if r != sid)],
            "data": sock.data,
        }

    def on_request(self, payload: bytes) -> None:
        """A message on the request channel (every node's requests, ours included)."""
        request = wire.loads(payload)
        if not isinstance(request, dict):
            return
        kind = request.get("type")
        rid = request.get("requestId")
        if kind == wire.BROADCAST:
            if rid not in self._ack_requests:
                self._broadcast_with_ack(request)
        elif kind == wire.SERVER_SIDE_EMIT:
            if request.get("uid") != self.uid:
                self._server_side(request)
        elif kind in (wire.REMOTE_JOIN, wire.REMOTE_LEAVE, wire.REMOTE_DISCONNECT):
            self._remote_membership(kind, request)
        elif rid in self._requests:
            return  # our own request
        elif kind == wire.REMOTE_FETCH:
            rooms, except_rooms = self._selection(request.get("opts"))
            found = [self._describe(sid) for sid in self.sockets(rooms, except_rooms)]
            self._respond(request, {"requestId": rid, "sockets": [s for s in found if s is not None]})
        elif kind == wire.ALL_ROOMS:
            self._respond(request, {"requestId": rid, "rooms": list(self.all_local_rooms())})
        elif kind == wire.SOCKETS:
            names = request.get("rooms")
            rooms = {wire.room_name(r) for r in names} if isinstance(names, list) else set()
            self._respond(request, {"requestId": rid, "sockets": self.sockets(rooms, set())})

    def _remote_membership(self, kind: int, request: dict[str, Any]) -> None:
        if "opts" not in request:
            # the legacy single-socket form (8.x never sends it): act and answer
            sid = request.get("sid")
            if not isinstance(sid, str) or sid not in self.namespace.sockets:
                return
            if kind == wire.REMOTE_JOIN:
                self.add_all(sid, [wire.room_name(request.get("room"))])
            elif kind == wire.REMOTE_LEAVE:
                self.delete(sid, wire.room_name(request.get("room")))
            else:
                self.namespace.sockets[sid].disconnect(bool(request.get("close")))
            self._respond(request, {"requestId": request.get("requestId")})
            return
        if request.get("uid") == self.uid:
            return  # ours: applied when it was made
        if kind == wire.REMOTE_DISCONNECT:
            self.apply_disconnect(request.get("opts"), bool(request.get("close")))
        else:
            self.apply_rooms(request.get("opts"), request.get("rooms"), kind == wire.REMOTE_JOIN)

    def apply_disconnect(self, opts: Any, close: bool) -> None:
        """Another node's ``disconnectSockets``: disconnect the selected sockets here."""
        rooms, except_rooms = self._selection(opts)
        sockets = self.namespace.sockets
        for sid in self.sockets(rooms, except_rooms):
            sock = sockets.get(sid)
            if sock is not None:
                sock.disconnect(close)

    def apply_rooms(self, opts: Any, raw: Any, join: bool) -> None:
        """Another node's ``socketsJoin`` (``join``) or ``socketsLeave`` of the rooms
        ``raw``: applied to the selected sockets here."""
        rooms, except_rooms = self._selection(opts)
        names = [wire.room_name(r) for r in raw] if isinstance(raw, list) else []
        for sid in self.sockets(rooms, except_rooms):
            if join:
                self.add_all(sid, names)
            else:
                for name in names:
                    self.delete(sid, name)

    def _server_side(self, request: dict[str, Any]) -> None:
        data = request.get("data")
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            return
        rid = request.get("requestId")
        ack: Callable[[Any], None] | None = None
        if rid is not None:
            answered: list[bool] = []

            def ack(value: Any) -> None:
                if answered:
                    return
                answered.append(True)
                # always on the shared response channel, as Node
                self.factory.enqueue(
                    self.channels.response,
                    wire.dumps_json({"type": wire.SERVER_SIDE_EMIT, "requestId": rid, "data": value}),
                )

        self.namespace.server_side_event(data[0], data[1:], ack)

    def _broadcast_with_ack(self, request: dict[str, Any]) -> None:
        rid = request.get("requestId")
        if rid is None:
            return

        def count(n: int) -> None:
            # the count first (JSON), then each client's first ack argument (msgpack)
            self._respond(request, {"type": wire.BROADCAST_CLIENT_COUNT, "requestId": rid, "clientCount": n})

        def ack(value: Any) -> None:
            self._respond(request, {"type": wire.BROADCAST_ACK, "requestId": rid, "packet": value}, binary=True)

        self.deliver_with_ack(request.get("packet"), request.get("opts"), count, ack)

    def deliver_with_ack(
        self, packet: Any, opts: Any, count: Callable[[int], None], ack: Callable[[Any], None]
    ) -> None:
        """Another node's broadcast that wants acknowledgements: send it to this node's
        selected sockets with an ack id of ours, ``count(n)`` at once, then ``ack(value)``
        with each client's first ack argument (until ``flags.timeout``, or the
        requests timeout)."""
        data = self._event(packet)
        if data is None:
            return
        rooms, except_rooms = self._selection(opts)
        flags = wire.from_wire_flags(opts.get("flags") if isinstance(opts, dict) else None)
        ns = self.namespace
        sockets = ns.sockets
        targets = [sockets[sid] for sid in self.sockets(rooms, except_rooms) if sid in sockets]
        ack_id = ns.next_ack_id()
        parts = self._encode(data[0], tuple(data[1:]), ack_id)
        count(len(targets))
        if not targets:
            return

        def on_ack(*reply: Any) -> None:
            ack(reply[0] if reply else None)

        compress = flags.get("compress", True)
        if ns.has_outgoing():
            for sock in targets:
                ns.notify_outgoing(sock, data[0], tuple(data[1:]))
        for sock in targets:
            sock.expect_ack(ack_id, on_ack)
            sock.send_packet(parts, compress)
        timeout = flags.get("timeout") or self.factory.requests_timeout

        def forget() -> None:
            for sock in targets:
                sock.forget_ack(ack_id)

        asyncio.get_running_loop().call_later(timeout, forget)

    def on_response(self, payload: bytes) -> None:
        """A message on a response channel (the shared one or ours)."""
        response = wire.loads(payload)
        if not isinstance(response, dict):
            return
        rid = response.get("requestId")
        kind = response.get("type")
        if kind == wire.BROADCAST_CLIENT_COUNT or kind == wire.BROADCAST_ACK:
            callbacks = self._ack_requests.get(rid)  # type: ignore[arg-type]
            if callbacks is None:
                return
            if kind == wire.BROADCAST_CLIENT_COUNT:
                count = response.get("clientCount")
                callbacks[0](count if isinstance(count, int) else 0)
            else:
                callbacks[1](response.get("packet"))
            return
        request = self._requests.get(rid)  # type: ignore[arg-type]
        if request is not None:
            request.add(response)


class ShardedNamespaceAdapter(RedisNamespaceAdapter):
    """One namespace's member of a sharded cluster (``RedisAdapter(mode="sharded")``),
    compatible with Node's ``createShardedAdapter`` (SPUBLISH/SSUBSCRIBE, Redis 7+):
    the envelopes ``{type, data, uid, nsp}`` of socket.io-adapter's ClusterAdapter on
    ``prefix#nsp#`` (and, in the dynamic subscription modes, one channel per room, which
    a node subscribes while the room has a socket here), answers on the requester's own
    ``prefix#nsp#uid#``.  Everything made here is applied here and published; the echo
    is skipped by uid.  There is no all-rooms request in this protocol:
    :meth:`all_rooms` gives this node's.

    Args:
        factory: the :class:`RedisAdapter` (connections, options).
        namespace: the namespace it serves.
    """

    def __init__(self, factory: RedisAdapter, namespace: AdapterNamespace) -> None:
        super().__init__(factory, namespace)
        #: this node's uid in this namespace (16 hex characters, as Node's cluster adapters)
        self.uid = wire.new_cluster_uid()
        self.sharded = wire.ShardedChannels(factory.key, namespace.name, self.uid, factory.subscription_mode)
        self._own = b"\x00"  # (the classic echo check never matches here)
        self._dynamic = factory.subscription_mode != "static"
        self._private = factory.subscription_mode == "dynamic-private"
        # the rooms whose channel is subscribed
        self._room_channels: set[str] = set()

    def __repr__(self) -> str:
        return f"<ShardedNamespaceAdapter {self.nsp!r} uid={self.uid!r}>"

    def subscriptions(self) -> tuple[list[bytes], list[tuple[bytes, int]]]:
        """See :meth:`RedisNamespaceAdapter.subscriptions`: the main channel, our own,
        and the channels of the rooms that have sockets here (dynamic modes)."""
        channels = [(self.sharded.main, _SHARDED), (self.sharded.own, _SHARDED)]
        if self._dynamic and not self._room_channels:
            for room in self.all_local_rooms():
                if self._private or room not in self.sids:
                    self._room_channels.add(room)
        channels.extend((self.sharded.room(room), _SHARDED) for room in self._room_channels)
        return [], channels

    async def shutdown(self) -> None:
        """See :meth:`RedisNamespaceAdapter.shutdown`."""
        await super().shutdown()
        self._room_channels.clear()

    # ------------------------------------------------------------ room channels
    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """See :meth:`MemoryAdapter.add_all` (and subscribe a new room's channel)."""
        if not (self._dynamic and self._opened):
            super().add_all(sid, rooms)
            return
        rooms = list(rooms)
        super().add_all(sid, rooms)
        for room in rooms:
            if room == sid and not self._private:
                continue
            if room not in self._room_channels:
                self._room_channels.add(room)
                self.factory.room_channel(self, self.sharded.room(room), True)

    def delete(self, sid: str, room: str) -> None:
        """See :meth:`MemoryAdapter.delete` (and unsubscribe a room left empty)."""
        super().delete(sid, room)
        if room in self._room_channels:
            self._drop_room(room)

    def delete_all(self, sid: str) -> None:
        """See :meth:`MemoryAdapter.delete_all` (and unsubscribe rooms left empty)."""
        if not self._room_channels:
            super().delete_all(sid)
            return
        rooms = self.socket_rooms(sid)
        super().delete_all(sid)
        for room in rooms:
            if room in self._room_channels:
                self._drop_room(room)

    def _drop_room(self, room: str) -> None:
        if not self.has_room(room):
            self._room_channels.discard(room)
            self.factory.room_channel(self, self.sharded.room(room), False)

    # ------------------------------------------------------------ sending
    def _new_request_id(self) -> str:
        return wire.new_cluster_uid()

    def _send(self, channel: bytes, kind: int, data: dict[str, Any]) -> bool:
        try:
            payload = wire.encode_envelope(kind, data, self.uid, self.nsp)
        except Exception as exc:
            self.factory.dropped += 1
            self.namespace.log.error("redis adapter: cannot publish a message of type %d: %s", kind, exc)
            return False
        self.factory.enqueue(channel, payload)
        return True

    def _send_request(self, kind: int, rid: str, body: dict[str, Any]) -> None:
        self._send(self.sharded.main, kind, {**body, "requestId": rid})

    @staticmethod
    def _opts(rooms: frozenset[str], except_rooms: frozenset[str], flags: dict[str, Any] | None = None
              ) -> dict[str, Any]:
        return {"rooms": list(rooms), "except": list(except_rooms), "flags": wire.to_wire_flags(flags or {})}

    def publish(
        self, data: list[Any], rooms: frozenset[str], except_rooms: frozenset[str], flags: dict[str, Any]
    ) -> None:
        """See :meth:`Adapter.publish` (BROADCAST, on a room channel when the
        subscription mode says so)."""
        self._send(
            self.sharded.for_broadcast(rooms, with_ack=False),
            wire.S_BROADCAST,
            {"packet": {"type": 2, "data": data}, "opts": self._opts(rooms, except_rooms, flags)},
        )

    def publish_with_ack(
        self,
        data: list[Any],
        rooms: frozenset[str],
        except_rooms: frozenset[str],
        flags: dict[str, Any],
        on_count: Callable[[int], None],
        on_ack: Callable[[Any], None],
    ) -> Callable[[], None]:
        """See :meth:`Adapter.publish_with_ack` (BROADCAST with a request id)."""
        rid = wire.new_cluster_uid()
        self._ack_requests[rid] = (on_count, on_ack)
        sent = self._send(
            self.sharded.main,
            wire.S_BROADCAST,
            {"packet": {"type": 2, "data": data}, "requestId": rid, "opts": self._opts(rooms, except_rooms, flags)},
        )
        if not sent:
            self._ack_requests.pop(rid, None)
            return _noop

        def stop() -> None:
            self._ack_requests.pop(rid, None)

        return stop

    async def server_count(self) -> int:
        """See :meth:`Adapter.server_count` (``PUBSUB SHARDNUMSUB`` of the main channel)."""
        try:
            return max(1, await self.factory.numsub(self.sharded.main))
        except Exception as exc:
            self.namespace.log.warning("redis adapter: PUBSUB SHARDNUMSUB failed: %s", exc)
            return 1

    async def fetch_sockets(self, rooms: frozenset[str], except_rooms: frozenset[str]) -> list[RemoteSocket]:
        """See :meth:`Adapter.fetch_sockets` (FETCH_SOCKETS)."""
        responses = await self._request(
            wire.S_FETCH_SOCKETS, {"opts": self._opts(rooms, except_rooms)}, "fetchSockets"
        )
        found: list[RemoteSocket] = []
        for response in responses:
            sockets = response.get("sockets")
            if isinstance(sockets, list):
                found.extend(RemoteSocket(self, s) for s in sockets if isinstance(s, dict))
        return found

    async def all_rooms(self) -> set[str]:
        """This node's rooms (the sharded protocol has no all-rooms request)."""
        return self.all_local_rooms()

    def remote_join(self, rooms: frozenset[str], except_rooms: frozenset[str], names: list[str]) -> None:
        """See :meth:`Adapter.remote_join` (SOCKETS_JOIN)."""
        self._send(self.sharded.main, wire.S_SOCKETS_JOIN, {"opts": self._opts(rooms, except_rooms), "rooms": names})

    def remote_leave(self, rooms: frozenset[str], except_rooms: frozenset[str], names: list[str]) -> None:
        """See :meth:`Adapter.remote_leave` (SOCKETS_LEAVE)."""
        self._send(self.sharded.main, wire.S_SOCKETS_LEAVE, {"opts": self._opts(rooms, except_rooms), "rooms": names})

    def remote_disconnect(self, rooms: frozenset[str], except_rooms: frozenset[str], close: bool) -> None:
        """See :meth:`Adapter.remote_disconnect` (DISCONNECT_SOCKETS)."""
        self._send(
            self.sharded.main,
            wire.S_DISCONNECT_SOCKETS,
            {"opts": self._opts(rooms, except_rooms), "close": bool(close)},
        )

    def server_side_emit(self, nsp: str, event: str, args: tuple[Any, ...]) -> None:
        """See :meth:`Adapter.server_side_emit` (SERVER_SIDE_EMIT)."""
        self._send(self.sharded.main, wire.S_SERVER_SIDE_EMIT, {"packet": [event, *args]})

    async def server_side_emit_with_ack(self, nsp: str, event: str, args: tuple[Any, ...]) -> list[Any]:
        """See :meth:`Adapter.server_side_emit_with_ack` (SERVER_SIDE_EMIT with a request
        id; each node's SERVER_SIDE_EMIT_RESPONSE)."""
        try:
            responses = await self._request(wire.S_SERVER_SIDE_EMIT, {"packet": [event, *args]}, "serverSideEmit")
        except AckTimeout as exc:
            raise AckTimeout(str(exc), replies=[r.get("packet") for r in exc.replies]) from None
        return [r.get("packet") for r in responses]

    # ------------------------------------------------------------ receiving
    def _reply(self, uid: Any, kind: int, data: dict[str, Any]) -> None:
        if isinstance(uid, str):
            self._send(self.sharded.node(uid), kind, data)

    def on_message(self, channel: bytes, payload: bytes) -> None:
        """A message on one of our channels (main, own, or a room's)."""
        msg = wire.loads(payload)
        if not isinstance(msg, dict):
            return
        sender = msg.get("uid")
        if sender == self.uid or msg.get("nsp") != self.nsp:
            return
        kind = msg.get("type")
        data = msg.get("data")
        if not isinstance(data, dict):
            data = {}
        rid = data.get("requestId")
        if kind == wire.S_BROADCAST:
            if rid is None:
                event = self._event(data.get("packet"))
                if event is None:
                    return
                opts = data.get("opts")
                rooms, except_rooms = self._selection(opts)
                flags = wire.from_wire_flags(opts.get("flags") if isinstance(opts, dict) else None)
                self.deliver(event[0], tuple(event[1:]), rooms, except_rooms, flags)
                return

            def count(n: int) -> None:
                self._reply(sender, wire.S_BROADCAST_CLIENT_COUNT, {"requestId": rid, "clientCount": n})

            def ack(value: Any) -> None:
                self._reply(sender, wire.S_BROADCAST_ACK, {"requestId": rid, "packet": value})

            self.deliver_with_ack(data.get("packet"), data.get("opts"), count, ack)
        elif kind == wire.S_SOCKETS_JOIN or kind == wire.S_SOCKETS_LEAVE:
            self.apply_rooms(data.get("opts"), data.get("rooms"), kind == wire.S_SOCKETS_JOIN)
        elif kind == wire.S_DISCONNECT_SOCKETS:
            self.apply_disconnect(data.get("opts"), bool(data.get("close")))
        elif kind == wire.S_FETCH_SOCKETS:
            rooms, except_rooms = self._selection(data.get("opts"))
            found = [self._describe(sid) for sid in self.sockets(rooms, except_rooms)]
            self._reply(
                sender,
                wire.S_FETCH_SOCKETS_RESPONSE,
                {"requestId": rid, "sockets": [s for s in found if s is not None]},
            )
        elif kind == wire.S_SERVER_SIDE_EMIT:
            packet = data.get("packet")
            if not isinstance(packet, list) or not packet or not isinstance(packet[0], str):
                return
            answer: Callable[[Any], None] | None = None
            if rid is not None:
                answered: list[bool] = []

                def answer(value: Any) -> None:
                    if not answered:
                        answered.append(True)
                        self._reply(sender, wire.S_SERVER_SIDE_EMIT_RESPONSE, {"requestId": rid, "packet": value})

            self.namespace.server_side_event(packet[0], packet[1:], answer)
        elif kind == wire.S_FETCH_SOCKETS_RESPONSE or kind == wire.S_SERVER_SIDE_EMIT_RESPONSE:
            request = self._requests.get(rid)  # type: ignore[arg-type]
            if request is not None:
                request.add(data)
        elif kind == wire.S_BROADCAST_CLIENT_COUNT or kind == wire.S_BROADCAST_ACK:
            callbacks = self._ack_requests.get(rid)  # type: ignore[arg-type]
            if callbacks is None:
                return
            if kind == wire.S_BROADCAST_CLIENT_COUNT:
                n = data.get("clientCount")
                callbacks[0](n if isinstance(n, int) else 0)
            else:
                callbacks[1](data.get("packet"))


def _noop() -> None:
    return None
