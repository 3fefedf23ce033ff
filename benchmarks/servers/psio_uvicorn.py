"""The benchmark app on python-socketio 5.x (``AsyncServer(async_mode="asgi")``) under uvicorn.

Same semantics as ``fastsio_app``: join ``all`` on connect, ``echo`` acks its arguments,
``burst(count, size)`` broadcasts ``tick`` ``count`` times and acks ``count``.  uvicorn runs in
this process (one worker) on uvloop and httptools; its WebSocket implementation is uvicorn's
``auto`` choice (``websockets`` when installed, else ``wsproto``), printed at start-up.

    python -m benchmarks.servers.psio_uvicorn --port 8000
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    await sio.enter_room(sid, "all")


@sio.on("echo")
async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
    return args


@sio.on("burst")
async def burst(sid: str, count: int, size: int) -> int:
    payload = "x" * size
    for _ in range(count):
        await sio.emit("tick", payload, to="all")
    return count


def ws_choice() -> str:
    """What uvicorn's ``ws="auto"`` picks."""
    return "websockets" if importlib.util.find_spec("websockets") else "wsproto"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
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
    )


if __name__ == "__main__":
    main()
