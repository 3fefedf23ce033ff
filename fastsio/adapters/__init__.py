"""Adapters: rooms and fan-out (``MemoryAdapter`` is the default); ``RedisAdapter``
joins a Node-compatible socket.io cluster on Redis (``RedisStreamsAdapter``: on a
Redis stream, with connection state recovery across nodes), ``Emitter`` publishes to one;
``WorkerAdapter`` links the workers of ``run(workers=N)`` with no external service."""

from .base import Adapter, RecoveryOptions, RecoverySession, RemoteSocket
from .emitter import Emitter
from .memory import MemoryAdapter
from .redis_adapter import RedisAdapter, RedisNamespaceAdapter
from .redis_streams import RedisStreamsAdapter
from .worker_adapter import WorkerAdapter

__all__ = (
    "Adapter",
    "Emitter",
    "MemoryAdapter",
    "RecoveryOptions",
    "RecoverySession",
    "RedisAdapter",
    "RedisNamespaceAdapter",
    "RedisStreamsAdapter",
    "RemoteSocket",
    "WorkerAdapter",
)
