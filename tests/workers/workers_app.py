"""The server the multi-worker tests run: ``python workers_app.py WORKERS [TRANSPORTS
[REDIS_URL KEY]]`` starts ``sio.run(port=0, workers=WORKERS)`` (the supervisor prints the
port it got), on the local worker adapter, or on a RedisAdapter when a URL is given;
over TLS when ``WORKERS_CERTFILE`` and ``WORKERS_KEYFILE`` name a certificate and its key.

Its events tell the tests which worker answered (``whoami``), what every worker did
(``stats``, through ``server_side_emit_with_ack``), and drive cluster operations from a
client: broadcasts (``shout``), rooms across workers (``join_all``, ``leave_all``,
``to_room``), ``fetch_sockets`` (``count``, and ``each``: an emit to every socket found,
``RemoteSocket.emit`` for the other workers'), all rooms (``rooms``), broadcasts with acks
(``ask_all``) and ``disconnect_sockets`` (``disconnect_all``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import fastsio
import fastsio.adapters

transports = sys.argv[2].split(",") if len(sys.argv) > 2 else ["polling", "websocket"]
# a Redis URL as the third argument: the workers are nodes of a Redis cluster instead
adapter = fastsio.adapters.RedisAdapter(sys.argv[3], key=sys.argv[4]) if len(sys.argv) > 4 else None
sio = fastsio.Server(
    ping_interval=1.0, ping_timeout=10.0, shutdown_timeout=2.0, transports=transports, adapter=adapter
)


def stats() -> dict[str, Any]:
    router: Any = sio.engine.router
    return {
        "pid": os.getpid(),
        "worker": router.mesh.index,
        "handed_off": router.handed_off,
        "linked": router.mesh.linked(),
        "sessions": len(sio.engine.sessions),
        "adapter": type(sio.of("/").adapter).__name__,
    }


@sio.on("whoami")
def whoami(sock: Any) -> dict[str, Any]:
    return {"pid": os.getpid(), "worker": stats()["worker"], "sid": sock.session.sid}


@sio.on_server_side("stats")
def worker_stats() -> dict[str, Any]:
    return stats()


@sio.on("stats")
async def cluster_stats(sock: Any) -> list[dict[str, Any]]:
    others = await sio.server_side_emit_with_ack("stats")
    return sorted([stats(), *others], key=lambda s: s["worker"])


@sio.on("shout")
def shout(sock: Any, tag: Any) -> str:
    sio.emit("heard", tag)
    return "ok"


@sio.on("join_all")
def join_all(sock: Any, room: str) -> bool:
    sio.sockets_join(room)
    return True


@sio.on("to_room")
def to_room(sock: Any, room: str, tag: Any) -> bool:
    sio.to(room).emit("heard", tag)
    return True


@sio.on("leave_all")
def leave_all(sock: Any, room: str) -> bool:
    sio.sockets_leave(room)
    return True


@sio.on("each")
async def each(sock: Any, tag: Any) -> int:
    """Emit ``tag`` to every socket one by one (the other workers' through RemoteSocket)."""
    found = await sio.fetch_sockets()
    for target in found:
        target.emit("heard", tag)
    return len(found)


@sio.on("disconnect_all")
def disconnect_all(sock: Any) -> bool:
    sio.disconnect_sockets()
    return True


@sio.on("count")
async def count(sock: Any) -> int:
    return len(await sio.fetch_sockets())


@sio.on("rooms")
async def rooms(sock: Any) -> list[str]:
    return sorted(await sio.of("/").adapter.all_rooms())


@sio.on("ask_all")
async def ask_all(sock: Any) -> list[Any]:
    return sorted(await sio.timeout(10).emit_with_ack("ask"))


@sio.on("bytes")
def echo_bytes(sock: Any, data: bytes) -> bool:
    sio.emit("heard_bytes", data)
    return True


if __name__ == "__main__":
    # TLS (WebSocket only: a polling request cannot be handed to another worker with
    # its TLS state) when the test gives a certificate and its key
    tls = {"certfile": os.environ["WORKERS_CERTFILE"], "keyfile": os.environ["WORKERS_KEYFILE"]} if "WORKERS_CERTFILE" in os.environ else {}
    sio.run("127.0.0.1", 0, workers=int(sys.argv[1]), **tls)
