"""The benchmark app on python-socketio 5.x (``AsyncServer(async_mode="asgi")``) under uvicorn.

Same semantics as ``fastsio_app``: join the room the CONNECT auth names, else ``all``, on
connect; ``echo`` acks its arguments; ``burst(count, size)`` broadcasts ``tick`` ``count`` times
and acks ``count``; ``burst_bin`` the same with a binary attachment; ``burst_rooms(count, size,
rooms)`` emits each tick to one random room ``r<k>``.  uvicorn runs in
this process (one worker) on uvloop and httptools; its WebSocket implementation is uvicorn's
``auto`` choice (``websockets`` when installed, else ``wsproto``), printed at start-up.

    python -m benchmarks.servers.psio_uvicorn --port 8000
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
from typing import Any

import socketio
import uvicorn

# --parser msgpack: python-socketio's msgpack serializer (read before the server is made)
_SERIALIZER = sys.argv[sys.argv.index("--parser") + 1] if "--parser" in sys.argv else "default"
sio = socketio.AsyncServer(
    async_mode="asgi", cors_allowed_origins="*", serializer="default" if _SERIALIZER == "json" else _SERIALIZER
)
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    room = auth.get("room") if isinstance(auth, dict) else None
    await sio.enter_room(sid, room if isinstance(room, str) else "all")


@sio.on("echo")
async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
    return args


@sio.on("burst")
async def burst(sid: str, count: int, size: int) -> int:
    payload = "x" * size
    for _ in range(count):
        await sio.emit("tick", payload, to="all")
    return count


@sio.on("burst_bin")
async def burst_bin(sid: str, count: int, size: int) -> int:
    payload = b"x" * size
    for _ in range(count):
        await sio.emit("tick", payload, to="all")
    return count


@sio.on("burst_rooms")
async def burst_rooms(sid: str, count: int, size: int, rooms: int) -> int:
    payload = "x" * size
    for _ in range(count):
        await sio.emit("tick", payload, to=f"r{random.randrange(rooms)}")
    return count


def ws_choice() -> str:
    """What uvicorn's ``ws="auto"`` picks."""
    return "websockets" if importlib.util.find_spec("websockets") else "wsproto"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parser", choices=("json", "msgpack"), help="json or msgpack (python-socketio's serializer)")
    parser.add_argument("--tls-cert", help="serve TLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    args = parser.parse_args()
    print(f"psio_uvicorn: uvicorn {uvicorn.__version__}, ws={ws_choice()}", file=sys.stderr, flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="auto",
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=4096,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
    )


if __name__ == "__main__":
    main()
