"""Publish an announcement to every client of the cluster, from a process without sockets.

    python -m examples.redis_cluster.announce --redis redis://127.0.0.1:6379/0 "text"
    python -m examples.redis_cluster.announce --room lobby "text to one room"

It goes through :class:`fastsio.Emitter`, in the format of Node's ``@socket.io/redis-emitter``,
so Node.js socket.io nodes of the same cluster deliver it too.
"""

from __future__ import annotations

import argparse
import asyncio
import os

import fastsio


async def announce(redis_url: str, text: str, room: str | None = None, key: str = "socket.io") -> None:
    """Send ``announcement`` with ``text`` to everyone (or to ``room``)."""
    emitter = fastsio.Emitter(redis_url, key=key)
    try:
        target = emitter.to(room) if room else emitter
        await target.emit("announcement", text)
    finally:
        await emitter.close()


def main() -> None:
    """Publish once and exit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text")
    parser.add_argument("--room")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    asyncio.run(announce(args.redis, args.text, args.room))


if __name__ == "__main__":
    main()
