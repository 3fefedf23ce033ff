"""The Redis Streams adapter: a fastsio node as a member of a cluster of Node's
``@socket.io/redis-streams-adapter`` 0.3, with connection state recovery across nodes.

``Server(adapter=RedisStreamsAdapter(url), connection_state_recovery={...})``:
:class:`RedisStreamsAdapter` is the factory the server calls once per namespace; it is
a :class:`~fastsio.adapters.RedisAdapter` (the same publishing and subscribing
connections, reconnection and failure policy) with a third connection of its own that
reads the stream.

How it works:

* The durable messages (a broadcast without ack, ``socketsJoin``/``socketsLeave``,
  ``disconnectSockets``) are entries of one stream (``stream_name``; with
  ``stream_count`` > 1, one of several picked by a hash of the namespace, as Node's):
  one ``XADD <stream> MAXLEN ~ <maxlen> * uid <uid> nsp <nsp> type <t> data <d>``
  written to the publishing connection, ``data`` JSON or, when it holds binary,
  ``base64(msgpack)``.  The other messages (fetch sockets, server-side emit,
  broadcasts with acks, and every answer) are the msgpack envelopes ``{type, data,
  uid, nsp}`` of socket.io-adapter's ClusterAdapter on the plain pub/sub channels
  ``prefix#nsp#`` and ``prefix#nsp#uid#`` (:class:`StreamsNamespaceAdapter` is the
  sharded adapter's namespace member with these encodings).
* One reader per process: ``XREAD COUNT <read_count> BLOCK <block_ms> STREAMS <keys>
  <last ids>``, from the stream's last entry when the adapter starts (Node's ``$``),
  then always from the last id read, reconnecting with backoff and resuming there.
  Each entry is decoded once and goes to its namespace's adapter, which fans it out
  with the compiled loop of :class:`~fastsio.adapters.MemoryAdapter`; our own entries
  are skipped by uid; an entry that does not decode is logged and skipped.
* Connection state recovery (``connection_state_recovery`` on): a packet's offset is
  its entry id.  A broadcast kept for recovery (no ack, not volatile, not ``local``),
  and a socket's own emit, as Node's, is XADDed first and delivered here when Redis
  answers with the id (appended as the last argument; :meth:`Adapter.publish_kept`):
  a callback in the reply queue of the publishing connection, no task, no await.  If
  Redis cannot take it, it is delivered here at once without an offset (local
  delivery never stops).  What another node wrote is delivered with the id XREAD
  gave.  A socket closing for a recoverable reason is stored as Node's: ``SET
  <session_key_prefix><pid> base64(msgpack({sid, pid, rooms, data})) PX <ms>``.  A
  client reconnecting with ``{pid, offset}`` to any node: ``MULTI GET DEL EXEC`` of
  its key, ``XRANGE <offset> <offset>`` (the offset must still be in the stream), then
  the entries after it (``XRANGE``), those of this namespace's broadcasts that its
  rooms would have received replayed with their ids, before the CONNECT reply.
  Nothing falls between the replay and live delivery, nothing comes twice: the
  entries delivered here while a session is being restored are remembered until it
  connects; the entries of other nodes the reader has not reached yet are left to it.
  A session stored by a Node node is recovered by a fastsio node and the other way
  round.
* Failure policy: that of :class:`~fastsio.adapters.RedisAdapter` (commands queued up
  to ``max_pending_bytes`` while Redis is away, then dropped and counted); the reader
  reconnects with backoff and resumes from its last id (what was trimmed meanwhile,
  beyond ``maxlen``, is lost).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Callable

from . import redis_wire as wire
from .base import AdapterNamespace, RecoverySession
from .redis_adapter import RedisAdapter, RedisNamespaceAdapter, RespConnection, ShardedNamespaceAdapter

__all__ = ("RedisStreamsAdapter", "StreamSession", "StreamsNamespaceAdapter")

# a stream id (20 digits at most each side: Redis ids are two unsigned 64-bit integers)
_OFFSET = re.compile(r"[0-9]{1,20}-[0-9]{1,20}\Z")
# entries remembered while sessions are being restored, at most
_LATE_LIMIT = 100_000
# XRANGE calls of one restore, at most (Node's RESTORE_SESSION_MAX_XRANGE_CALLS), and their COUNT
_RANGE_CALLS = 100
_RANGE_COUNT = b"1000"


def _resp(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
    return b"".join(out)


def _fields(raw: Any) -> dict[bytes, bytes]:
    """A stream entry's field list ``[name, value, ...]`` as a dict."""
    if not isinstance(raw, list):
        return {}
    return {raw[i]: raw[i + 1] for i in range(0, len(raw) - 1, 2)}


class StreamSession(RecoverySession):
    """A session fetched from Redis: a :class:`RecoverySession` with what it missed,
    ``(entry id, encoded packet, written by this node)`` in stream order."""

    __slots__ = ("missed",)

    def __init__(self, sid: str, pid: str, rooms: frozenset[str], data: Any) -> None:
        super().__init__(sid, pid, rooms, data, 0.0)
        self.missed: list[tuple[tuple[int, int], list[str | bytes], bool]] = []


class RedisStreamsAdapter(RedisAdapter):
    """The Redis Streams adapter's factory: ``Server(adapter=RedisStreamsAdapter(...))``,
    compatible with ``@socket.io/redis-streams-adapter`` 0.3's ``createAdapter``.

    Args:
        url: the Redis URL (``redis://host:port/db``, ``rediss://`` for TLS).
        stream_name: the stream's key (Node's ``streamName``), the same on every node.
        maxlen: the stream is trimmed to about this many entries (``XADD MAXLEN ~``;
            Node's ``maxLen``): how far back a client can recover.
        stream_count: streams to spread the namespaces over (Node's ``streamCount``).
        channel_prefix: the pub/sub channels' prefix (Node's ``channelPrefix``).
        session_key_prefix: the prefix of the keys sessions are kept under (Node's
            ``sessionKeyPrefix``).
        read_count: entries read at most per ``XREAD`` (Node's ``readCount``).
        block_ms: how long an ``XREAD`` waits for entries (Node's ``blockTimeInMs``).
        only_plaintext: never encode binary as msgpack in the stream (Node's
            ``onlyPlaintext``).
        use_sharded_pubsub: the pub/sub messages with SPUBLISH/SSUBSCRIBE (Redis 7+;
            Node's ``useShardedPubSub``), the server count with ``PUBSUB SHARDNUMSUB``.
        requests_timeout: seconds a cluster request waits for every node.
        max_pending_bytes: bytes of commands queued for Redis at most (see
            :class:`RedisAdapter`).
        redis_options: more keyword arguments for ``redis.asyncio.Redis.from_url``.

    Attributes:
        dropped, published: see :class:`RedisAdapter`.
        read: stream entries read.
        skipped: stream entries that did not decode (logged and skipped).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        stream_name: str = "socket.io",
        maxlen: int = 10_000,
        stream_count: int = 1,
        channel_prefix: str = "socket.io",
        session_key_prefix: str = "sio:session:",
        read_count: int = 100,
        block_ms: int = 5000,
        only_plaintext: bool = False,
        use_sharded_pubsub: bool = False,
        requests_timeout: float = 5.0,
        max_pending_bytes: int = 64 * 1024 * 1024,
        **redis_options: Any,
    ) -> None:
        if not isinstance(stream_name, str) or not stream_name:
            raise ValueError("stream_name must be a non-empty string")
        for name, value in (("maxlen", maxlen), ("stream_count", stream_count), ("read_count", read_count),
                            ("block_ms", block_ms)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int")
        super().__init__(
            url,
            key=channel_prefix,
            mode="sharded" if use_sharded_pubsub else "classic",
            subscription_mode="static",
            requests_timeout=requests_timeout,
            max_pending_bytes=max_pending_bytes,
            **redis_options,
        )
        self.reply_slots = True
        self.stream_name = stream_name
        self.maxlen = maxlen
        self.stream_count = stream_count
        self.session_key_prefix = session_key_prefix
        self.read_count = read_count
        self.block_ms = block_ms
        self.only_plaintext = only_plaintext
        self.use_sharded_pubsub = use_sharded_pubsub
        self.read = 0
        self.skipped = 0
        #: the streams the reader polls (bytes)
        self.streams = (
            [stream_name.encode()]
            if stream_count == 1
            else [f"{stream_name}-{i}".encode() for i in range(stream_count)]
        )
        # stream -> the id of the last entry read; namespace name -> its adapter
        self._cursors: dict[bytes, bytes] = {}
        self._by_nsp: dict[str, StreamsNamespaceAdapter] = {}
        self._reader: asyncio.Task[None] | None = None
        self._reading: RespConnection | None = None

    def __repr__(self) -> str:
        return f"<RedisStreamsAdapter {self.url!r} stream={self.stream_name!r} namespaces={len(self._by_nsp)}>"

    def __call__(self, namespace: AdapterNamespace) -> StreamsNamespaceAdapter:
        """The adapter of ``namespace`` (the server calls this once per namespace)."""
        self.log = namespace.adapter_log
        adapter = StreamsNamespaceAdapter(self, namespace)
        if self.client is not None:
            task = asyncio.get_running_loop().create_task(adapter.open())
            task.add_done_callback(self._opened)
        return adapter

    def cursor(self, stream: bytes) -> tuple[int, int] | None:
        """The id of the last entry of ``stream`` the reader handed on (``(0, 0)`` for an
        empty stream; None while the reader has not started)."""
        last = self._cursors.get(stream)
        return wire.parse_id(last) if last else None

    async def attach(self, adapter: RedisNamespaceAdapter) -> None:
        """See :meth:`RedisAdapter.attach` (and route the namespace's stream entries)."""
        if isinstance(adapter, StreamsNamespaceAdapter):
            self._by_nsp[adapter.nsp] = adapter
        await super().attach(adapter)

    async def detach(self, adapter: RedisNamespaceAdapter) -> None:
        """See :meth:`RedisAdapter.detach`."""
        if self._by_nsp.get(adapter.nsp) is adapter:
            del self._by_nsp[adapter.nsp]
        await super().detach(adapter)

    async def connected(self) -> None:
        """Start the stream reader (the connections are up), from the streams' last
        entries (Node's ``$``: nothing written before the node started is read)."""
        if self._reader is not None:
            return
        try:
            await self._start_reading()
        except (OSError, ConnectionError, asyncio.TimeoutError) as exc:
            self.log.warning("redis streams adapter: cannot read the stream yet (%s); retrying", exc)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _start_reading(self) -> RespConnection:
        conn = self._reading = await self.open_connection()
        for stream in self.streams:
            if stream not in self._cursors:
                last = await conn.command(b"XREVRANGE", stream, b"+", b"-", b"COUNT", b"1")
                self._cursors[stream] = last[0][0] if last else b"0-0"
        return conn

    async def closing(self) -> None:
        """Stop the stream reader."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            try:
                await reader
            except BaseException:
                pass
        conn, self._reading = self._reading, None
        if conn is not None:
            conn.close()
        self._cursors.clear()

    async def _read(self) -> None:
        """The reader: XREAD from the last ids, forever; reconnect with backoff."""
        backoff = 0.1
        lost = False
        count = str(self.read_count).encode()
        block = str(self.block_ms).encode()
        while True:
            conn = self._reading
            try:
                if conn is None or conn.transport is None:
                    conn = await self._start_reading()
                    if lost:
                        self.log.warning("redis streams adapter: reading the stream again from %r",
                                         dict(self._cursors))
                    lost = False
                    backoff = 0.1
                streams = self.streams
                reply = await conn.command(
                    b"XREAD", b"COUNT", count, b"BLOCK", block, b"STREAMS", *streams,
                    *(self._cursors[s] for s in streams),
                )
            except (OSError, ConnectionError, asyncio.TimeoutError) as exc:
                if not lost:
                    self.log.warning("redis streams adapter: reading the stream failed (%s); reconnecting", exc)
                lost = True
                if conn is not None:
                    conn.close()
                self._reading = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if reply:
                self._on_entries(reply)

    def _on_entries(self, reply: Any) -> None:
        # the metrics' last message (see RedisAdapter.report_metrics); each entry below
        # counts as one received
        self.last_received = time.monotonic()
        for item in reply:
            if not isinstance(item, list) or len(item) != 2 or not isinstance(item[1], list):
                continue
            stream = item[0]
            for entry in item[1]:
                if not isinstance(entry, list) or len(entry) != 2:
                    continue
                entry_id = entry[0]
                if isinstance(entry_id, bytes):
                    self._cursors[stream] = entry_id
                self.read += 1
                self.received += 1
                fields = _fields(entry[1])
                nsp = fields.get(b"nsp")
                if nsp is None:
                    continue
                adapter = self._by_nsp.get(nsp.decode("utf-8", "replace"))
                if adapter is None:
                    continue
                try:
                    adapter.on_entry(entry_id, fields, stream)
                except Exception as exc:
                    self.skipped += 1
                    self.log.debug("redis streams adapter: skipped the entry %r: %r", entry_id, exc)

    def xadd_head(self, stream: bytes, uid: str, nsp: str) -> bytes:
        """The start of the XADDs of one namespace adapter, up to its ``nsp`` field:
        ``XADD stream MAXLEN ~ maxlen * uid <uid> nsp <nsp>`` (then :meth:`xadd`)."""
        # 14 arguments: this head, then "type", the type, "data", the data
        head = _resp(b"XADD", stream, b"MAXLEN", b"~", str(self.maxlen).encode(), b"*",
                     b"uid", uid.encode(), b"nsp", nsp.encode())
        return b"*14" + head[head.index(b"\r\n"):]

    def xadd(self, head: bytes, kind: int, data: bytes, on_reply: Callable[[Any], None] | None = None) -> bool:
        """Write one entry (``head`` from :meth:`xadd_head`, then ``type`` and ``data``);
        see :meth:`RedisAdapter.send_command` for ``on_reply`` and the result."""
        command = b"%b$4\r\ntype\r\n$%d\r\n%d\r\n$4\r\ndata\r\n$%d\r\n%b\r\n" % (
            head, len(str(kind)), kind, len(data), data)
        return self.send_command(command, on_reply)


class StreamsNamespaceAdapter(ShardedNamespaceAdapter):
    """One namespace's member of a streams cluster (see the module): the sharded
    adapter's envelopes and requests, the durable messages in the stream, connection
    state recovery through Redis.

    Args:
        factory: the :class:`RedisStreamsAdapter`.
        namespace: the namespace it serves.
    """

    def __init__(self, factory: RedisStreamsAdapter, namespace: AdapterNamespace) -> None:
        super().__init__(factory, namespace)
        self.streams = factory
        #: the stream this namespace writes to
        self.stream = wire.stream_key(factory.stream_name, factory.stream_count, namespace.name).encode()
        if self.stream not in factory.streams:
            namespace.adapter_log.warning(
                "redis streams adapter: namespace %r writes to stream %r, which no node reads "
                "(the negative hash of @socket.io/redis-streams-adapter 0.3, reproduced for compatibility)",
                namespace.name, self.stream,
            )
        self._head = factory.xadd_head(self.stream, self.uid, self.nsp)
        recovery = namespace.options.connection_state_recovery
        self.cluster_recovery = recovery is not None
        self._keep_ms = str(int(recovery.max_disconnection_duration * 1000) if recovery else 0).encode()
        # sessions being fetched, sessions fetched and not yet connected, and the
        # packets delivered here meanwhile: (id, parts, rooms, except_rooms, ours)
        self._fetching = 0
        self._restoring_sessions: list[StreamSession] = []
        self._late: list[tuple[tuple[int, int], list[str | bytes], frozenset[str], frozenset[str], bool]] = []

    def __repr__(self) -> str:
        return f"<StreamsNamespaceAdapter {self.nsp!r} uid={self.uid!r} stream={self.stream!r}>"

    # ------------------------------------------------------------ sending
    def _send(self, channel: bytes, kind: int, data: dict[str, Any]) -> bool:
        # pub/sub: always a msgpack envelope
        try:
            payload = wire.pack({"type": kind, "data": data, "uid": self.uid, "nsp": self.nsp})
        except Exception as exc:
            self.factory.dropped += 1
            self.namespace.adapter_log.error("redis streams adapter: cannot publish a message of type %d: %s", kind, exc)
            return False
        self.factory.enqueue(channel, payload)
        return True

    def _add(self, kind: int, data: dict[str, Any], on_reply: Callable[[Any], None] | None = None) -> bool:
        """XADD a durable message; False if it could not be encoded (or written at
        once, with ``on_reply``)."""
        try:
            encoded = wire.encode_stream_data(kind, data, self.streams.only_plaintext)
        except Exception as exc:
            self.factory.dropped += 1
            self.namespace.adapter_log.error("redis streams adapter: cannot write a message of type %d: %s", kind, exc)
            return False
        return self.streams.xadd(self._head, kind, encoded, on_reply)

    def publish(
        self, data: list[Any], rooms: frozenset[str], except_rooms: frozenset[str], flags: dict[str, Any]
    ) -> None:
        """See :meth:`Adapter.publish` (a BROADCAST entry)."""
        self._add(wire.S_BROADCAST, {"packet": {"type": 2, "data": data}, "opts": self._opts(rooms, except_rooms, flags)})

    def publish_kept(
        self,
        event: str,
        args: tuple[Any, ...],
        rooms: frozenset[str],
        except_rooms: frozenset[str],
        flags: dict[str, Any],
        deliver: Callable[[list[str | bytes]], None] | None = None,
    ) -> int:
        """See :meth:`Adapter.publish_kept`: the BROADCAST entry is written, and
        delivered here with its id when Redis answers (at once without an offset when
        it cannot be written now)."""
        ns = self.namespace
        count = 0
        if deliver is None:
            sockets = ns.sockets
            count = sum(1 for sid in self.sockets(set(rooms), set(except_rooms)) if sid in sockets)

        def added(reply: Any) -> None:
            if isinstance(reply, bytes):
                parts = self._encode(event, (*args, reply.decode("ascii")))
                if self._fetching or self._restoring_sessions:
                    self._remember(wire.parse_id(reply), parts, rooms, except_rooms, True)
            else:
                if reply is not None:
                    ns.log.warning("redis streams adapter: XADD failed (%s); delivered here without an offset", reply)
                parts = self._encode(event, args)
            if deliver is not None:
                deliver(parts)
            else:
                self.broadcast(parts, set(rooms), set(except_rooms), flags)

        data = {"packet": {"type": 2, "data": [event, *args]}, "opts": self._opts(rooms, except_rooms, flags)}
        if not self._add(wire.S_BROADCAST, data, added):
            added(None)
        return count

    def remote_join(self, rooms: frozenset[str], except_rooms: frozenset[str], names: list[str]) -> None:
        """See :meth:`Adapter.remote_join` (a SOCKETS_JOIN entry)."""
        self._add(wire.S_SOCKETS_JOIN, {"opts": self._opts(rooms, except_rooms), "rooms": names})

    def remote_leave(self, rooms: frozenset[str], except_rooms: frozenset[str], names: list[str]) -> None:
        """See :meth:`Adapter.remote_leave` (a SOCKETS_LEAVE entry)."""
        self._add(wire.S_SOCKETS_LEAVE, {"opts": self._opts(rooms, except_rooms), "rooms": names})

    def remote_disconnect(self, rooms: frozenset[str], except_rooms: frozenset[str], close: bool) -> None:
        """See :meth:`Adapter.remote_disconnect` (a DISCONNECT_SOCKETS entry)."""
        self._add(wire.S_DISCONNECT_SOCKETS, {"opts": self._opts(rooms, except_rooms), "close": bool(close)})

    # ------------------------------------------------------------ receiving
    def on_entry(self, entry_id: bytes, fields: dict[bytes, bytes], stream: bytes) -> None:
        """A stream entry of this namespace (from the reader)."""
        uid = fields.get(b"uid")
        if uid is not None and uid.decode("utf-8", "replace") == self.uid:
            return  # ours: applied (or delivered) here already
        kind_raw = fields.get(b"type")
        kind = int(kind_raw) if kind_raw is not None and kind_raw.isdigit() else None
        raw = fields.get(b"data")
        data = wire.decode_stream_data(raw) if raw else {}
        if not isinstance(data, dict):
            return
        if kind == wire.S_BROADCAST:
            if data.get("requestId") is not None:
                return  # (a broadcast with ack never goes through the stream)
            event = self._event(data.get("packet"))
            if event is None:
                return
            opts = data.get("opts")
            rooms, except_rooms = self._selection(opts)
            flags = wire.from_wire_flags(opts.get("flags") if isinstance(opts, dict) else None)
            args = tuple(event[1:])
            volatile = flags.get("volatile")
            if self.cluster_recovery and not volatile:
                parts = self._encode(event[0], (*args, entry_id.decode("ascii")))
                if self._fetching or self._restoring_sessions:
                    self._remember(wire.parse_id(entry_id), parts, frozenset(rooms), frozenset(except_rooms), False)
            else:
                parts = self._encode(event[0], args)
            ns = self.namespace
            if ns.has_outgoing():
                sockets = ns.sockets
                for sid in self.sockets(rooms, except_rooms):
                    sock = sockets.get(sid)
                    if sock is not None:
                        ns.notify_outgoing(sock, event[0], args)
            self.broadcast(parts, rooms, except_rooms, flags)
        elif kind == wire.S_SOCKETS_JOIN or kind == wire.S_SOCKETS_LEAVE:
            self.apply_rooms(data.get("opts"), data.get("rooms"), kind == wire.S_SOCKETS_JOIN)
        elif kind == wire.S_DISCONNECT_SOCKETS:
            self.apply_disconnect(data.get("opts"), bool(data.get("close")))

    # ------------------------------------------------------------ connection state recovery
    def next_offset(self) -> str | None:
        """None: offsets are stream ids, given by Redis (see :meth:`publish_kept`); a
        ``local`` broadcast gets none, as Node's."""
        return None

    def store(
        self, offset: str, parts: list[str | bytes], rooms: frozenset[str], except_rooms: frozenset[str]
    ) -> None:
        """Nothing: the stream keeps the packets."""

    def sweep(self) -> None:
        """Nothing: Redis expires the sessions, ``maxlen`` trims the stream."""

    def restore_session(self, pid: str, offset: str) -> RecoverySession | None:
        """None: sessions are fetched from Redis (:meth:`fetch_session`)."""
        return None

    def persist_session(self, session: RecoverySession) -> None:
        """``SET <prefix><pid> base64(msgpack({sid, pid, rooms, data})) PX <ms>``, as
        Node's (whichever node the client comes back to restores it)."""
        if not self.cluster_recovery:
            return
        rooms = [session.sid, *(r for r in session.rooms if r != session.sid)]
        try:
            value = wire.encode_session(session.sid, session.pid, rooms, session.data)
        except Exception as exc:
            self.namespace.adapter_log.error("redis streams adapter: session %s not kept: %s", session.sid, exc)
            return
        key = (self.streams.session_key_prefix + session.pid).encode()
        self.streams.send_command(_resp(b"SET", key, value, b"PX", self._keep_ms))

    async def fetch_session(self, pid: str, offset: str) -> RecoverySession | None:
        """The session ``pid`` from Redis, taken (GET and DEL in a MULTI), with the
        packets it missed after ``offset`` (which must still be in the stream); None if
        either is gone or the offset is not a stream id."""
        if not self.cluster_recovery or not _OFFSET.match(offset):
            return None
        factory = self.streams
        key = (factory.session_key_prefix + pid).encode()
        start = offset.encode()
        self._fetching += 1
        try:
            # on the publishing connection: our own entries written before are answered
            # (and delivered here) before these replies come
            replies = await asyncio.gather(
                factory.call(b"MULTI"),
                factory.call(b"GET", key),
                factory.call(b"DEL", key),
                factory.call(b"EXEC"),
                factory.call(b"XRANGE", self.stream, start, start),
            )
            taken, found = replies[3], replies[4]
            raw = taken[0] if isinstance(taken, list) and taken else None
            if not isinstance(raw, bytes) or not found:
                return None
            stored = wire.decode_session(raw)
            if stored is None:
                self.namespace.adapter_log.debug("redis streams adapter: session %.40r does not decode", pid)
                return None
            session = StreamSession(
                stored["sid"], stored["pid"], frozenset(wire.room_name(r) for r in stored.get("rooms", [])),
                stored.get("data"),
            )
            last = wire.parse_id(offset)
            for _ in range(_RANGE_CALLS):
                begin = f"{last[0]}-{last[1] + 1}".encode()
                entries = await factory.call(b"XRANGE", self.stream, begin, b"+", b"COUNT", _RANGE_COUNT)
                if not entries:
                    break
                for entry in entries:
                    last = wire.parse_id(entry[0])
                    self._missed(session, entry[0], _fields(entry[1]))
                if len(entries) < int(_RANGE_COUNT):
                    break
            self._restoring_sessions.append(session)
            return session
        finally:
            self._fetching -= 1
            self._forget_late()

    def _missed(self, session: StreamSession, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        """Add an entry of the stream to what ``session`` missed if it is a broadcast of
        this namespace its rooms would have received (Node's ``shouldIncludePacket``)."""
        if fields.get(b"nsp") != self.nsp.encode() or fields.get(b"type") != b"3":
            return
        try:
            data = wire.decode_stream_data(fields.get(b"data") or b"{}")
            event = self._event(data.get("packet")) if isinstance(data, dict) else None
        except Exception as exc:
            self.namespace.adapter_log.debug("redis streams adapter: skipped the entry %r: %r", entry_id, exc)
            return
        if event is None or data.get("requestId") is not None:
            return
        rooms, except_rooms = self._selection(data.get("opts"))
        if (rooms and rooms.isdisjoint(session.rooms)) or not except_rooms.isdisjoint(session.rooms):
            return
        parts = self._encode(event[0], (*event[1:], entry_id.decode("ascii")))
        ours = fields.get(b"uid") == self.uid.encode()
        session.missed.append((wire.parse_id(entry_id), parts, ours))

    def _remember(
        self, entry: tuple[int, int], parts: list[str | bytes], rooms: frozenset[str],
        except_rooms: frozenset[str], ours: bool,
    ) -> None:
        late = self._late
        if len(late) >= _LATE_LIMIT:
            del late[: _LATE_LIMIT // 2]
            self.namespace.adapter_log.warning("redis streams adapter: sessions restored very slowly; some may miss packets")
        late.append((entry, parts, rooms, except_rooms, ours))

    def _forget_late(self) -> None:
        if not self._fetching and not self._restoring_sessions:
            self._late.clear()

    def _unpin_session(self, session: RecoverySession) -> bool:
        for i, s in enumerate(self._restoring_sessions):
            if s is session:
                del self._restoring_sessions[i]
                return True
        return False

    def replay(self, session: RecoverySession) -> list[list[str | bytes]]:
        """What ``session`` missed, in stream order, each once: the entries after its
        offset, and those delivered here while it was being restored; another node's
        entries the reader has not handed on yet are left to it (they come live)."""
        if not isinstance(session, StreamSession) or not self._unpin_session(session):
            return []
        reached = self.streams.cursor(self.stream)
        found: dict[tuple[int, int], list[str | bytes]] = {}
        for entry, parts, ours in session.missed:
            if ours or reached is None or entry <= reached:
                found[entry] = parts
        rooms = session.rooms
        for entry, parts, included, excluded, _ in self._late:
            if entry not in found and (not included or not included.isdisjoint(rooms)) and excluded.isdisjoint(rooms):
                found[entry] = parts
        session.missed = []
        self._forget_late()
        return [found[entry] for entry in sorted(found)]

    def release(self, session: RecoverySession) -> None:
        """A restored session did not connect: keep it in Redis again."""
        self._unpin_session(session)
        self._forget_late()
        if isinstance(session, StreamSession):
            session.missed = []
        self.persist_session(session)
