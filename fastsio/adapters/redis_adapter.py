"""The Redis adapter: a fastsio node as a member of a Node socket.io cluster on Redis,
wire-compatible with ``@socket.io/redis-adapter`` 8.3 in classic mode (and the target
of ``@socket.io/redis-emitter`` 5), or in sharded mode (``createShardedAdapter``:
SPUBLISH/SSUBSCRIBE, Redis 7+, :class:`ShardedNamespaceAdapter`).

``Server(adapter=RedisAdapter(url, key="socket.io"))``: :class:`RedisAdapter` is the
factory the server calls once per namespace; it owns the two Redis connections of the
process (redis-py's asyncio client, hiredis when installed): one that publishes and
one subscriber, shared by every namespace, each of which has its own uid and channels
(see :mod:`fastsio.adapters.redis_wire` for the formats).  The streams adapter
(:mod:`fastsio.adapters.redis_streams`) is built on these classes.

How it works:

* The per-namespace :class:`RedisNamespaceAdapter` *is* a
  :class:`~fastsio.adapters.MemoryAdapter` (rooms, the compiled fan-out, recovery):
  a broadcast is encoded once and fanned out locally as on a single node, then its
  ``[event, *args]`` is packed once (msgpack) and written as one PUBLISH to the
  adapter's own publishing connection (the replies are read and dropped): no task, no
  await, emits never wait for Redis.
* The subscriber is a connection of the adapter's own too (a plain asyncio protocol;
  hiredis parses): each message is handed, as it is parsed, to its namespace's adapter;
  a broadcast from another node is decoded once and goes through the same local
  fan-out (a message on a room channel for a room that has nobody here is dropped
  before it is decoded; our own broadcasts are recognised by their first bytes and
  never decoded).  No task per message.  redis-py's client serves the commands
  (``PUBSUB NUMSUB``); measured on this machine, redis-py's PubSub read about 73k
  messages/s and its pipeline published about 60k/s, the own connections 140k and
  260k.
* Requests (fetch sockets, all rooms, server-side emit, broadcast with acks, remote
  join/leave/disconnect) are answered as they arrive, without awaiting anything.  A
  request of our own counts the nodes with ``PUBSUB NUMSUB`` on the request channel,
  waits for ``count - 1`` answers, and fails with :class:`~fastsio.AckTimeout` at
  ``requests_timeout``.
* ``socketsJoin``/``socketsLeave``/``disconnectSockets`` made here are applied here at
  once (by the broadcast operator) and published; our own echo is skipped by uid.
* Failure policy: local delivery never stops.  While Redis is unreachable, what should
  go to the other nodes is queued, up to ``max_pending_bytes`` (64 MiB), and sent once
  the connection is back; beyond that the oldest is dropped and counted
  (:attr:`RedisAdapter.dropped`), as is a message written while more than that is
  still unsent on a slow connection.  Both connections reconnect with backoff (the
  subscriber subscribes again), and it is logged; what was written just before a
  connection broke is lost.  A message that does not decode or is not of this
  protocol is logged at debug level and skipped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import urllib.parse
from collections import deque
from typing import Any, Callable, Iterable

from ..exceptions import AckTimeout
from . import redis_wire as wire
from .._server.metrics import Exposition
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
        raise ImportError("RedisAdapter and Emitter need redis-py: pip install 'fastsio-server[redis]'") from exc
    return aioredis



def _remote_sockets(adapter: Any, responses: list[dict[str, Any]]) -> list[RemoteSocket]:
    """The sockets listed by the other nodes' fetch-sockets responses (malformed
    entries skipped); ``adapter`` carries their actions."""
    found: list[RemoteSocket] = []
    for response in responses:
        sockets = response.get("sockets")
        if isinstance(sockets, list):
            found.extend(RemoteSocket(adapter, s) for s in sockets if isinstance(s, dict))
    return found


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
        #: messages received from Redis (broadcasts and requests of every node, ours
        #: included), and when the last one came (``time.monotonic()``; None: none yet)
        self.received = 0
        self.last_received: float | None = None
        # the adapters' logger of the server it serves (set when a namespace attaches)
        self.log: logging.Logger = logging.getLogger("fastsio.adapter")
        # the namespace adapters subscribed (pattern -> adapter, channel -> (adapter, kind))
        self._patterns: dict[bytes, RedisNamespaceAdapter] = {}
        self._channels: dict[bytes, tuple[RedisNamespaceAdapter, int]] = {}
        self._attached: list[RedisNamespaceAdapter] = []
        # subscriptions waiting for Redis's confirmation
        self._confirm: dict[bytes, asyncio.Future[None]] = {}
        # redis-py's client for commands; our own publishing and subscribing connections
        self._client: Any = None
        self._pub: RespConnection | None = None
        self._sub: RespConnection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        # PUBLISH commands waiting for the publishing connection to come back
        self._backlog: deque[bytes] = deque()
        self._connecting: asyncio.Lock | None = None
        #: whether every command written to the publishing connection has its reply
        #: handed back (see :meth:`send_command`): the streams adapter's XADD ids
        self.reply_slots = False
        self._publish_head = (b"*3\r\n$8\r\nSPUBLISH\r\n" if mode == "sharded" else b"*3\r\n$7\r\nPUBLISH\r\n") + (
            b"$%d\r\n%b\r\n$%d\r\n"
        )

    def __repr__(self) -> str:
        return f"<RedisAdapter {self.url!r} key={self.key!r} namespaces={len(self._attached)}>"

    def __call__(self, namespace: AdapterNamespace) -> RedisNamespaceAdapter:
        """The adapter of ``namespace`` (the server calls this once per namespace)."""
        self.log = namespace.adapter_log
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
        """The ``redis.asyncio.Redis`` client of the adapter's commands (``PUBSUB
        NUMSUB``...; None until connected)."""
        return self._client

    @property
    def pending(self) -> int:
        """Messages queued while the publishing connection is down."""
        return len(self._backlog)

    @property
    def publisher(self) -> RespConnection | None:
        """The publishing connection (None: not connected)."""
        return self._pub

    # ------------------------------------------------------------ connections
    async def _connect(self) -> None:
        aioredis = _import_redis()
        client = aioredis.Redis.from_url(self.url, **self.redis_options)
        try:
            await client.ping()
            self._pub = await self.open_connection(None, self.reply_slots)
            self._sub = await self.open_connection(self._on_push)
        except BaseException:
            for conn in (self._pub, self._sub):
                if conn is not None:
                    conn.close()
            self._pub = self._sub = None
            await client.aclose()
            raise
        self._client = client
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
        await self.connected()

    async def connected(self) -> None:
        """Called once the connections are up (a subclass starts what it reads here)."""

    async def closing(self) -> None:
        """Called when the last namespace leaves, before the connections close."""

    async def open_connection(
        self, push: Callable[[list[Any]], None] | None = None, slots: bool = False
    ) -> RespConnection:
        """A RESP connection of our own to the URL's server (host and port, or a unix
        socket; TLS for ``rediss://``; AUTH with the URL's user and password);
        ``push`` and ``slots``: see :class:`RespConnection`."""
        address = _address(self.url)
        loop = asyncio.get_running_loop()
        factory = functools.partial(RespConnection, push, self.log, slots)
        if address["path"]:
            _, conn = await loop.create_unix_connection(factory, address["path"])
        else:
            ssl_context = None
            if address["tls"]:
                import ssl

                ssl_context = ssl.create_default_context()
            _, conn = await loop.create_connection(factory, address["host"], address["port"], ssl=ssl_context)
        try:
            if address["password"] is not None:
                auth = [b"AUTH", address["password"].encode()]
                if address["username"]:
                    auth.insert(1, address["username"].encode())
                await asyncio.wait_for(conn.command(*auth), self.requests_timeout)
            # wait for the server to answer once (it is up, AUTH is through)
            await asyncio.wait_for(conn.command(b"PING"), self.requests_timeout)
        except BaseException:
            conn.close()
            raise
        return conn

    async def _supervise(self) -> None:
        """Reconnect a lost connection with backoff; resubscribe; send what waited."""
        while True:
            pub, sub = self._pub, self._sub
            waits = [c.lost for c in (pub, sub) if c is not None]
            if len(waits) == 2:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if self._pub is not None and self._pub.lost.done():
                self._pub = None
            if self._sub is not None and self._sub.lost.done():
                self._sub = None
            self.log.warning("redis adapter: connection to Redis lost; reconnecting")
            backoff = 0.1
            while self._pub is None or self._sub is None:
                try:
                    if self._pub is None:
                        self._pub = await self.open_connection(None, self.reply_slots)
                        backlog, self._backlog = self._backlog, deque()
                        self._pending_bytes = 0
                        for command in backlog:
                            self._pub.write(command)
                            self.published += 1
                    if self._sub is None:
                        sub = await self.open_connection(self._on_push)
                        self._sub = sub
                        self._resubscribe(sub)
                except (OSError, ConnectionError, asyncio.TimeoutError) as exc:
                    self.log.debug("redis adapter: reconnecting failed: %s", exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
            self.log.warning("redis adapter: reconnected to Redis (%d messages dropped so far)", self.dropped)

    def _resubscribe(self, sub: RespConnection) -> None:
        if self._patterns:
            sub.send(b"PSUBSCRIBE", *self._patterns)
        if self._channels:
            sub.send(b"SSUBSCRIBE" if self._sharded else b"SUBSCRIBE", *self._channels)

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
        sub = self._sub
        if sub is not None:
            if patterns:
                sub.send(b"PSUBSCRIBE", *patterns)
            sub.send(b"SSUBSCRIBE" if self._sharded else b"SUBSCRIBE", *(name for name, _ in channels))
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
        sub = self._sub
        if sub is not None:
            if patterns:
                sub.send(b"PUNSUBSCRIBE", *patterns)
            sub.send(b"SUNSUBSCRIBE" if self._sharded else b"UNSUBSCRIBE", *names)

    async def _disconnect(self) -> None:
        await self.closing()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            try:
                await supervisor
            except BaseException:
                pass
        pub, sub, client = self._pub, self._sub, self._client
        self._pub = self._sub = self._client = None
        self._backlog.clear()
        self._pending_bytes = 0
        if pub is not None:
            await pub.drain_and_close(1.0)
        if sub is not None:
            sub.close()
        if client is not None:
            await client.aclose()

    # ------------------------------------------------------------ publishing
    def enqueue(self, channel: bytes, payload: bytes) -> None:
        """PUBLISH (sharded: SPUBLISH) ``payload`` on ``channel``: written at once to the
        publishing connection (its replies are read and dropped), or queued while it is
        down; never blocks.  Beyond ``max_pending_bytes`` (unsent on the connection, or
        queued) the message is dropped and counted."""
        self.send_command((self._publish_head % (len(channel), channel, len(payload))) + payload + b"\r\n")

    def send_command(self, command: bytes, on_reply: Callable[[Any], None] | None = None) -> bool:
        """Write ``command`` (one whole RESP command) to the publishing connection, or
        queue it while the connection is down (dropped, and counted, beyond
        ``max_pending_bytes``); never blocks.  With :attr:`reply_slots`, ``on_reply`` is
        called with its reply (a :class:`ConnectionError` if it failed or the
        connection went away) when it was written at once; returns whether it was (a
        queued command's reply is dropped)."""
        pub = self._pub
        if pub is not None and pub.transport is not None:
            if pub.buffered() > self.max_pending_bytes:
                self.dropped += 1
                return False
            pub.write(command, on_reply)
            self.published += 1
            return True
        if self._client is None:
            self.dropped += 1  # not connected (or shut down)
            return False
        queue = self._backlog
        total = self._pending_bytes + len(command)
        while total > self.max_pending_bytes and queue:
            total -= len(queue.popleft())
            self.dropped += 1
        self._pending_bytes = total
        queue.append(command)
        return False

    def call(self, *args: bytes) -> asyncio.Future[Any]:
        """Send a command on the publishing connection (:attr:`reply_slots` only: its
        replies are otherwise dropped); the future of its reply (a ConnectionError when
        the connection is down).  Commands are answered in the order they were written,
        the publishing connection's other commands included."""
        pub = self._pub
        if pub is None or not self.reply_slots:
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            fut.set_exception(ConnectionError("not connected to Redis"))
            return fut
        return pub.command(*args)

    # ------------------------------------------------------------ receiving
    def _on_push(self, msg: list[Any]) -> None:
        kind = msg[0]
        self.received += 1
        self.last_received = time.monotonic()
        try:
            if kind == b"pmessage":
                adapter = self._patterns.get(msg[1])
                if adapter is not None:
                    adapter.on_broadcast(msg[2], msg[3])
            elif kind == b"message":
                entry = self._channels.get(msg[1])
                if entry is not None:
                    if entry[1] == _REQUEST:
                        entry[0].on_request(msg[2])
                    elif entry[1] == _RESPONSE:
                        entry[0].on_response(msg[2])
                    else:  # the streams adapter's envelopes (plain pub/sub)
                        entry[0].on_message(msg[1], msg[2])
            elif kind == b"smessage":
                entry = self._channels.get(msg[1])
                if entry is not None:
                    entry[0].on_message(msg[1], msg[2])
            elif kind in (b"subscribe", b"psubscribe", b"ssubscribe"):
                fut = self._confirm.pop(msg[1], None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
        except Exception as exc:
            self.log.debug("redis adapter: skipped a message on %r: %r", msg[1] if len(msg) > 1 else None, exc)

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
        """Sharded mode: (un)subscribe a room channel of ``adapter``."""
        if subscribe:
            self._channels[channel] = (adapter, _SHARDED)
        else:
            entry = self._channels.get(channel)
            if entry is not None and entry[1] == _SHARDED and entry[0] is adapter:
                del self._channels[channel]
        sub = self._sub
        if sub is not None:
            sub.send(b"SSUBSCRIBE" if subscribe else b"SUNSUBSCRIBE", channel)


def _address(url: str) -> dict[str, Any]:
    """Where a ``redis://``, ``rediss://`` or ``unix://`` URL points."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"Redis URL scheme {scheme!r}: redis://, rediss:// or unix://")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 6379,
        "path": parts.path if scheme == "unix" else None,
        "tls": scheme == "rediss",
        "username": urllib.parse.unquote(parts.username) if parts.username else None,
        "password": urllib.parse.unquote(parts.password) if parts.password is not None else None,
    }


def _resp(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
    return b"".join(out)


class RespConnection(asyncio.Protocol):
    """One RESP2 connection of the adapter's own (hiredis parses what comes back).

    ``push``: the subscriber's, called with every pub/sub message and subscription
    confirmation; other replies answer the commands sent with :meth:`command` in order,
    and, on the publishing connection (no ``push``), the replies of the PUBLISHes are read
    and dropped (an error reply is logged).  ``slots``: every command written has its
    place in the queue of replies (``None``: dropped; a callable: called with the reply,
    a :class:`ConnectionError` for an error reply or a lost connection; a future), so
    that commands whose replies matter (XADD's id, XRANGE) can be mixed with the rest.
    """

    def __init__(self, push: Callable[[list[Any]], None] | None, log: logging.Logger, slots: bool = False) -> None:
        import hiredis

        self.push = push
        self.log = log
        self.slots = slots
        self.reader = hiredis.Reader()
        self.error_type = hiredis.ReplyError
        self.transport: asyncio.Transport | None = None
        self.waiters: deque[Any] = deque()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """The connection is open."""
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        """Parse the replies and pushes in ``data`` and hand each on (see the class)."""
        reader = self.reader
        reader.feed(data)
        push = self.push
        waiters = self.waiters
        while True:
            reply = reader.gets()
            if reply is False:
                return
            if push is not None and type(reply) is list:
                push(reply)
            elif waiters:
                waiter = waiters.popleft()
                if waiter is None:
                    if isinstance(reply, self.error_type):
                        self.log.warning("redis adapter: Redis answered %s", reply)
                elif isinstance(waiter, asyncio.Future):
                    if not waiter.done():
                        if isinstance(reply, self.error_type):
                            waiter.set_exception(ConnectionError(f"Redis: {reply}"))
                        else:
                            waiter.set_result(reply)
                else:
                    if isinstance(reply, self.error_type):
                        reply = ConnectionError(f"Redis: {reply}")
                    try:
                        waiter(reply)
                    except Exception:
                        self.log.exception("redis adapter: a reply's callback failed")
            elif isinstance(reply, self.error_type):
                self.log.warning("redis adapter: Redis answered %s", reply)

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: every reply waited for fails."""
        self.transport = None
        waiters, self.waiters = self.waiters, deque()
        for waiter in waiters:
            if waiter is None:
                continue
            if isinstance(waiter, asyncio.Future):
                if not waiter.done():
                    waiter.set_exception(ConnectionError("connection to Redis lost"))
                continue
            try:
                waiter(ConnectionError("connection to Redis lost"))
            except Exception:
                self.log.exception("redis adapter: a reply's callback failed")
        if not self.lost.done():
            self.lost.set_result(None)

    def write(self, data: bytes, slot: Callable[[Any], None] | None = None) -> None:
        """Send ``data`` (whole commands; one command with ``slots``, whose reply goes to
        ``slot``) as they are."""
        transport = self.transport
        if transport is not None:
            if self.slots:
                self.waiters.append(slot)
            transport.write(data)

    def send(self, *args: bytes) -> None:
        """Send a command whose reply is not waited for (a subscription's comes as a push)."""
        self.write(_resp(*args))

    def command(self, *args: bytes) -> asyncio.Future[Any]:
        """Send a command; its reply."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        transport = self.transport
        if transport is None:
            fut.set_exception(ConnectionError("not connected to Redis"))
            return fut
        self.waiters.append(fut)
        transport.write(_resp(*args))
        return fut

    def buffered(self) -> int:
        """Bytes written and not yet sent."""
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def close(self) -> None:
        """Close the connection."""
        if self.transport is not None:
            self.transport.close()

    async def drain_and_close(self, timeout: float) -> None:
        """Close once what was written has been sent (at most ``timeout`` seconds)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.buffered() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        self.close()


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

    def report_metrics(self, out: Exposition) -> None:
        """The Redis adapter's families (shared by its namespaces: written once): what
        was published, dropped and received, the publish backlog, the age of the last
        message received."""
        factory = self.factory
        out.counter("fastsio_redis_published", "Messages published to Redis.", factory.published)
        out.counter("fastsio_redis_dropped", "Messages not published (Redis unreachable, or over max_pending_bytes).",
                    factory.dropped)
        out.counter("fastsio_redis_received", "Messages received from Redis (this node's own included).",
                    factory.received)
        out.gauge("fastsio_redis_backlog_messages", "Messages waiting for the publishing connection to come back.",
                  factory.pending)
        pub = factory.publisher
        out.gauge("fastsio_redis_backlog_bytes", "Bytes written to the publishing connection and not yet sent.",
                  pub.buffered() if pub is not None else 0)
        out.gauge("fastsio_redis_connected", "1 while the publishing connection to Redis is up.",
                  1 if pub is not None and pub.transport is not None else 0)
        last = factory.last_received
        if last is not None:
            out.gauge("fastsio_redis_last_message_age_seconds", "Seconds since the last message from Redis.",
                      time.monotonic() - last)

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
            self.namespace.adapter_log.error("redis adapter: cannot publish %r: %s", data[0] if data else None, exc)
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
            self.namespace.adapter_log.error("redis adapter: cannot publish %r: %s", data[0] if data else None, exc)
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
            self.namespace.adapter_log.warning("redis adapter: PUBSUB NUMSUB failed: %s", exc)
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
        return _remote_sockets(self, responses)

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
        if not flags.get("volatile"):
            offset = self.next_offset()  # None: connection state recovery is off
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
                self.namespace.sockets[sid].join([wire.room_name(request.get("room"))])
            elif kind == wire.REMOTE_LEAVE:
                self.namespace.sockets[sid].leave(wire.room_name(request.get("room")))
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
        sockets = self.namespace.sockets
        for sid in self.sockets(rooms, except_rooms):
            # through the socket (its join and leave tell the server's observers)
            sock = sockets.get(sid)
            if sock is None:  # still connecting: its rooms only
                if join:
                    self.add_all(sid, names)
                else:
                    for name in names:
                        self.delete(sid, name)
            elif join:
                sock.join(names)
            else:
                for name in names:
                    sock.leave(name)

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
            self.namespace.adapter_log.error("redis adapter: cannot publish a message of type %d: %s", kind, exc)
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
            self.namespace.adapter_log.warning("redis adapter: PUBSUB SHARDNUMSUB failed: %s", exc)
            return 1

    async def fetch_sockets(self, rooms: frozenset[str], except_rooms: frozenset[str]) -> list[RemoteSocket]:
        """See :meth:`Adapter.fetch_sockets` (FETCH_SOCKETS)."""
        responses = await self._request(
            wire.S_FETCH_SOCKETS, {"opts": self._opts(rooms, except_rooms)}, "fetchSockets"
        )
        return _remote_sockets(self, responses)

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
