"""The benchmark app on fastsio's public API.

On connect a socket joins room ``all``; ``echo`` acks its arguments; ``burst(count, size)``
broadcasts ``tick`` with a ``size``-byte string to ``all`` ``count`` times, then acks ``count``.

    python -m benchmarks.servers.fastsio_app --port 8000
    FASTSIO_NO_EXTENSIONS=1 python -m benchmarks.servers.fastsio_app --port 8000   # the pure twin
    python -m benchmarks.servers.fastsio_app --port 8000 --redis redis://127.0.0.1:6379/0 --key k
        # a node of a cluster on Redis (benchmarks/cluster.py); --streams: on RedisStreamsAdapter
"""

from __future__ import annotations

import argparse
from typing import Any

import sys

import fastsio


def _adapter() -> object:
    # --redis URL [--key K]: a node of a cluster (read before the server is made)
    if "--redis" not in sys.argv:
        return None
    url = sys.argv[sys.argv.index("--redis") + 1]
    key = sys.argv[sys.argv.index("--key") + 1] if "--key" in sys.argv else "socket.io"
    if "--streams" in sys.argv:
        return fastsio.adapters.RedisStreamsAdapter(url, stream_name=key, channel_prefix=key)
    return fastsio.adapters.RedisAdapter(url, key=key)


def _options() -> dict[str, object]:
    # --max-buffer-size B: a node of a cluster lags behind the node that broadcasts, and
    # Node's socket.io buffers without bound: benchmarks/cluster.py raises it
    if "--max-buffer-size" in sys.argv:
        return {"max_buffer_size": int(sys.argv[sys.argv.index("--max-buffer-size") + 1])}
    return {}


sio = fastsio.Server(cors_allowed_origins="*", adapter=_adapter(), **_options())


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
    parser.add_argument("--redis", help="a Redis URL: join a cluster (RedisAdapter)")
    parser.add_argument("--key", default="socket.io", help="the cluster's channel prefix")
    parser.add_argument("--streams", action="store_true", help="RedisStreamsAdapter (the key as stream name)")
    parser.add_argument("--max-buffer-size", type=int, help="the server's max_buffer_size")
    args = parser.parse_args()
    sio.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
