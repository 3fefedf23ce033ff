"""A FastAPI app and Socket.IO on one port, both ways.

    uvicorn examples.fastapi_app.app:app            fastsio inside uvicorn (fastsio.ASGIApp)
    python -m examples.fastapi_app.app --port 8000  FastAPI's routes on fastsio's own server (Server(app=))

The Socket.IO side is a small presence service: a client ``join``s a room (the ack is the
room's member count) and ``say``s something to it (sent to the others as ``said``). The REST
side reads and drives it: ``GET /api/rooms/{room}`` lists the room's socket ids (through
``fetch_sockets``, so it would list a whole cluster's with a cluster adapter), and
``POST /api/announce`` broadcasts ``announcement`` to everyone from an HTTP request, which is
how a web app notifies its Socket.IO clients.

Needs ``fastapi`` (and ``uvicorn`` for the first way): ``pip install fastapi uvicorn``.
"""

from __future__ import annotations

import argparse
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

import fastsio


class Announcement(BaseModel):
    """The body of ``POST /api/announce``."""

    text: str


def create(own_server: bool = False, **options: Any) -> tuple[fastsio.Server, FastAPI]:
    """Make the Socket.IO server and the FastAPI app, each using the other (``options`` go
    to the server); ``own_server``: the server serves the app's routes (``Server(app=)``)."""
    options.setdefault("cors_allowed_origins", "*")
    api = FastAPI(title="fastsio example")
    sio = fastsio.Server(app=api if own_server else None, **options)

    @sio.on("join")
    async def join(socket: fastsio.Socket, room: str) -> int:
        socket.join(str(room))
        return len(await sio.in_(str(room)).fetch_sockets())

    @sio.on("say")
    def say(socket: fastsio.Socket, room: str, text: str) -> None:
        socket.to(str(room)).emit("said", socket.id, text)

    @api.get("/api/rooms/{room}")
    async def members(room: str) -> dict[str, Any]:
        return {"room": room, "sockets": sorted(s.id for s in await sio.in_(room).fetch_sockets())}

    @api.post("/api/announce")
    async def announce(body: Announcement) -> dict[str, bool]:
        sio.emit("announcement", body.text)
        return {"sent": True}

    return sio, api


sio, api = create()
#: ``uvicorn examples.fastapi_app.app:app``: Socket.IO on /socket.io/, FastAPI elsewhere
app = fastsio.ASGIApp(sio, api)


def main() -> None:
    """Serve FastAPI's routes on fastsio's own server (``--port``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server, _ = create(own_server=True)
    server.run(args.host, args.port)


if __name__ == "__main__":
    main()
