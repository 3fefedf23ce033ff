"""The benchmark app on fastsio's public API.

On connect a socket joins room ``all``; ``echo`` acks its arguments; ``burst(count, size)``
broadcasts ``tick`` with a ``size``-byte string to ``all`` ``count`` times, then acks ``count``.

    python -m benchmarks.servers.fastsio_app --port 8000
    FASTSIO_NO_EXTENSIONS=1 python -m benchmarks.servers.fastsio_app --port 8000   # the pure twin
"""

from __future__ import annotations

import argparse
from typing import Any

import fastsio

sio = fastsio.Server(cors_allowed_origins="*")


@sio.on("connect")
def connect(socket: fastsio.Socket, auth: Any) -> None:
    socket.join("all")


@sio.on("echo")
def echo(socket: fastsio.Socket, *args: Any) -> tuple[Any, ...]:
    return args


@sio.on("burst")
def burst(socket: fastsio.Socket, count: int, size: int) -> int:
    payload = "x" * size
    for _ in range(count):
        sio.to("all").emit("tick", payload)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sio.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
