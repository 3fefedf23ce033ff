"""An Engine.IO-only server on four workers (``EngineServer.run(workers=4)``, port 0):
each message comes back with the pid of the worker that got it appended (``m:pid``)."""

from __future__ import annotations

import os
from typing import Any

import fastsio

eio = fastsio.EngineServer(ping_interval=1.0, ping_timeout=10.0)


@eio.on("connection")
def connection(sock: Any) -> None:
    @sock.on("message")
    def message(data: Any) -> None:
        sock.send(f"{data}:{os.getpid()}")


if __name__ == "__main__":
    eio.run("127.0.0.1", 0, workers=4)
