"""The local inter-process adapter of ``run(workers=N)``: the workers of one host as a
cluster, with no external service.

``run(workers=N)`` without an ``adapter`` gives each worker a :class:`WorkerAdapter`
over its :class:`~fastsio._server.mesh.Mesh` (unix-socket links to every sibling).  It
is the Redis adapter with the mesh in Redis's place: the per-namespace adapter is a
:class:`~fastsio.adapters.RedisNamespaceAdapter` (so a :class:`MemoryAdapter` with the
compiled fan-out), speaking the same messages (``@socket.io/redis-adapter``'s, msgpack
and JSON), which go over the links instead of PUBLISH:

* a broadcast is encoded once and fanned out in the worker that makes it, packed once
  and written as one frame to each sibling, which decodes it once and fans it out with
  the same loop (no per-recipient work, no task per message);
* every request works across the workers as across Redis nodes: fetch sockets, all
  rooms, remote join/leave/disconnect, server-side emit (with acks), broadcasts with
  acks and their client counts; ``server_count()`` is the number of workers linked now
  that serve the namespace (what each sibling told it listens on, Redis's
  ``PUBSUB NUMSUB``), and a request waits for that many answers at most
  ``requests_timeout`` seconds;
* responses go to the requester's own channel (``publish_on_specific_response_channel``).

What it does not do: it reaches the workers of this host only (use
:class:`~fastsio.adapters.RedisAdapter` for several hosts, or to mix with Node nodes);
nothing is queued for a sibling that is down (restarting): what was meant for it is
dropped and counted (:attr:`~fastsio._server.mesh.Mesh.dropped`), its clients reconnect
to the restarted one; connection state recovery stays per worker (a client recovers
only on the worker that held it, which a polling client reaches by its routing, a
WebSocket client by chance); and it needs msgpack (``pip install 'fastsio-server[msgpack]'``)
like the Redis adapter's format does.
"""

from __future__ import annotations

import asyncio
from .._server.mesh import Mesh
from .base import AdapterNamespace
from .redis_adapter import RedisAdapter, RedisNamespaceAdapter

__all__ = ("WorkerAdapter",)


class WorkerAdapter(RedisAdapter):
    """The adapter factory of one worker (``Server(adapter=...)``'s factory): the Redis
    adapter's logic over the worker mesh (see the module).

    Args:
        mesh: this worker's links to its siblings.
        key: the channel prefix (the same in every worker).
        requests_timeout: seconds a cluster request waits for every worker.
    """

    def __init__(self, mesh: Mesh, *, key: str = "socket.io", requests_timeout: float = 5.0) -> None:
        super().__init__(
            "redis://workers", key=key, requests_timeout=requests_timeout, publish_on_specific_response_channel=True
        )
        self.mesh = mesh
        mesh.on_publish = self.on_publish
        # pattern prefix (b"socket.io#/#") -> the namespace adapter of its broadcasts
        self._prefixes: dict[bytes, RedisNamespaceAdapter] = {}

    def __repr__(self) -> str:
        return f"<WorkerAdapter worker={self.mesh.index} of {self.mesh.count} namespaces={len(self._attached)}>"

    def __call__(self, namespace: AdapterNamespace) -> RedisNamespaceAdapter:
        """The adapter of ``namespace`` (the server calls this once per namespace)."""
        self.log = namespace.log
        adapter = RedisNamespaceAdapter(self, namespace)
        if self._client is not None:
            # a namespace made while the server runs: listen now
            task = asyncio.get_running_loop().create_task(adapter.open())
            task.add_done_callback(self._opened)
        return adapter

    async def attach(self, adapter: RedisNamespaceAdapter) -> None:
        """Listen on ``adapter``'s channels (and tell the siblings)."""
        self._client = self.mesh
        patterns, channels = adapter.subscriptions()
        for name in patterns:
            self._prefixes[adapter.channels.prefix] = adapter
            self._patterns[name] = adapter
            self.mesh.subscribe(name)
        for name, kind in channels:
            self._channels[name] = (adapter, kind)
            self.mesh.subscribe(name)
        self._attached.append(adapter)

    async def detach(self, adapter: RedisNamespaceAdapter) -> None:
        """Stop listening on ``adapter``'s channels."""
        if adapter not in self._attached:
            return
        self._attached.remove(adapter)
        patterns, channels = adapter.subscriptions()
        for name in patterns:
            self._prefixes.pop(adapter.channels.prefix, None)
            self._patterns.pop(name, None)
            self.mesh.unsubscribe(name)
        for name, _ in channels:
            self._channels.pop(name, None)
            self.mesh.unsubscribe(name)
        if not self._attached:
            self._client = None

    def enqueue(self, channel: bytes, payload: bytes) -> None:
        """Send ``payload`` on ``channel`` to every sibling (one frame each)."""
        self.mesh.publish(channel, payload)
        self.published += 1

    async def numsub(self, channel: bytes) -> int:
        """How many workers (this one included) listen on ``channel``."""
        return self.mesh.numsub(channel)

    def on_publish(self, channel: bytes, payload: bytes) -> None:
        """A sibling's message: to the namespace adapter it is for (bad ones are logged
        at debug level and skipped)."""
        try:
            entry = self._channels.get(channel)
            if entry is not None:
                if entry[1] == 0:  # a request channel (the others are responses)
                    entry[0].on_request(payload)
                else:
                    entry[0].on_response(payload)
                return
            for prefix, adapter in self._prefixes.items():
                if channel.startswith(prefix):
                    adapter.on_broadcast(channel, payload)
                    return
        except Exception as exc:
            self.log.debug("worker adapter: skipped a message on %r: %r", channel, exc)

    def room_channel(self, adapter: RedisNamespaceAdapter, channel: bytes, subscribe: bool) -> None:
        """Not used (no sharded mode over the mesh)."""

    async def _disconnect(self) -> None:
        self._client = None

    async def _connect(self) -> None:
        self._client = self.mesh

