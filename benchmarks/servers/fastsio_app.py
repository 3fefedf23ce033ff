"""The benchmark app on fastsio's public API.

On connect a socket joins the room its CONNECT auth names (``{"room": "r17"}``), else room
``all``; ``echo`` acks its arguments; ``burst(count, size)`` broadcasts ``tick`` with a
``size``-byte string to ``all`` ``count`` times, then acks ``count``; ``burst_bin(count, size)``
the same with a ``size``-byte binary attachment; ``burst_rooms(count, size, rooms)`` emits
``tick`` ``count`` times, each to one room ``r<k>``, ``k`` drawn at random below ``rooms``.

    python -m benchmarks.servers.fastsio_app --port 8000
    FASTSIO_NO_EXTENSIONS=1 python -m benchmarks.servers.fastsio_app --port 8000   # the pure twin
    python -m benchmarks.servers.fastsio_app --port 8000 --redis redis://127.0.0.1:6379/0 --key k
        # a node of a cluster on Redis (benchmarks/cluster.py); --streams: on RedisStreamsAdapter
    python -m benchmarks.servers.fastsio_app --port 8000 --parser msgpack
    python -m benchmarks.servers.fastsio_app --port 8000 --tls-cert cert.pem --tls-key key.pem
    python -m benchmarks.servers.fastsio_app --port 8000 --metrics
        # with the metrics option on (the fastsio-metrics implementation: what counting costs)
"""

from __future__ import annotations

import argparse
import random
import ssl
import sys
from typing import Any

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
    options: dict[str, object] = {}
    if "--max-buffer-size" in sys.argv:
        options["max_buffer_size"] = int(sys.argv[sys.argv.index("--max-buffer-size") + 1])
    # --parser msgpack: the msgpack scenario (read before the server is made, like --redis)
    if "--parser" in sys.argv:
        options["parser"] = sys.argv[sys.argv.index("--parser") + 1]
    # --metrics: Server(metrics=True), the Prometheus counters on (served on /metrics)
    if "--metrics" in sys.argv:
        options["metrics"] = True
    return options


sio = fastsio.Server(cors_allowed_origins="*", adapter=_adapter(), **_options())


@sio.on("connect")
def connect(socket: fastsio.Socket, auth: Any) -> None:
    room = auth.get("room") if isinstance(auth, dict) else None
    socket.join(room if isinstance(room, str) else "all")


@sio.on("echo")
def echo(socket: fastsio.Socket, *args: Any) -> tuple[Any, ...]:
    return args


@sio.on("burst")
def burst(socket: fastsio.Socket, count: int, size: int) -> int:
    payload = "x" * size
    for _ in range(count):
        sio.to("all").emit("tick", payload)
    return count


@sio.on("burst_bin")
def burst_bin(socket: fastsio.Socket, count: int, size: int) -> int:
    payload = b"x" * size
    for _ in range(count):
        sio.to("all").emit("tick", payload)
    return count


@sio.on("burst_rooms")
def burst_rooms(socket: fastsio.Socket, count: int, size: int, rooms: int) -> int:
    payload = "x" * size
    pick = random.randrange
    for _ in range(count):
        sio.to(f"r{pick(rooms)}").emit("tick", payload)
    return count


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """The server side of --tls-cert/--tls-key, or None."""
    if not cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", help="a Redis URL: join a cluster (RedisAdapter)")
    parser.add_argument("--key", default="socket.io", help="the cluster's channel prefix")
    parser.add_argument("--streams", action="store_true", help="RedisStreamsAdapter (the key as stream name)")
    parser.add_argument("--max-buffer-size", type=int, help="the server's max_buffer_size")
    parser.add_argument("--parser", choices=("json", "msgpack"), help="the server's parser option")
    parser.add_argument("--tls-cert", help="serve TLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    parser.add_argument("--metrics", action="store_true", help="metrics=True (Prometheus counters on)")
    args = parser.parse_args()
    sio.run(host=args.host, port=args.port, ssl_context=tls_context(args.tls_cert, args.tls_key))


if __name__ == "__main__":
    main()
