"""A chat cluster on Redis: run several nodes (fastsio, or Node.js socket.io on
``@socket.io/redis-adapter``) on one Redis, and every message reaches every participant.

    python -m examples.redis_cluster.app --port 8001 --redis redis://127.0.0.1:6379/0
    python -m examples.redis_cluster.app --port 8002 --redis redis://127.0.0.1:6379/0
    python -m examples.redis_cluster.announce --redis redis://127.0.0.1:6379/0 "hello, everyone"

A client ``join``s a room and ``say``s something to it: the broadcast goes to the room's
sockets on every node (``said``: node, sender, text). ``who`` answers with the room's members
on the whole cluster (``fetch_sockets`` asks every node), and ``nodes`` with the number of
nodes (``server_side_emit_with_ack`` to the others, each answering its name). ``announce.py``
publishes from a process without sockets, through :class:`fastsio.Emitter`.

Needs the redis extra: ``pip install "fastsio-server[redis]"`` and a Redis server.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import fastsio
from fastsio.adapters import RedisAdapter


def create_app(redis_url: str, name: str, key: str = "socket.io", **options: Any) -> fastsio.Server:
    """Make one node of the cluster, called ``name``, on ``redis_url``."""
    options.setdefault("cors_allowed_origins", "*")
    sio = fastsio.Server(adapter=RedisAdapter(redis_url, key=key), **options)

    @sio.on("join")
    def join(socket: fastsio.Socket, room: str) -> str:
        socket.join(str(room))
        return name

    @sio.on("say")
    def say(socket: fastsio.Socket, room: str, text: str) -> None:
        sio.to(str(room)).emit("said", name, socket.id, text)

    @sio.on("who")
    async def who(socket: fastsio.Socket, room: str) -> list[str]:
        return sorted(s.id for s in await sio.in_(str(room)).fetch_sockets())

    @sio.on("nodes")
    async def nodes(socket: fastsio.Socket) -> list[str]:
        others = await sio.server_side_emit_with_ack("name")  # bounded by requests_timeout
        return sorted([name, *(str(other) for other in others)])

    @sio.on_server_side("name")
    def node_name() -> str:
        return name

    return sio


def main() -> None:
    """Serve one node."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--name", help="this node's name (default: node-PORT)")
    args = parser.parse_args()
    create_app(args.redis, args.name or f"node-{args.port}").run(args.host, args.port)


if __name__ == "__main__":
    main()
