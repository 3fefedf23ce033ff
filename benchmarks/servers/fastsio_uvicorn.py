"""The benchmark app of ``fastsio_app`` inside uvicorn, through ``fastsio.ASGIApp``.

The same server object and handlers as ``benchmarks.servers.fastsio_app`` (join ``all`` on
connect, ``echo`` acks its arguments, ``burst(count, size)`` broadcasts ``tick``), served by
uvicorn in this process (one worker, uvloop, httptools; uvicorn's ``ws="auto"`` WebSocket
implementation, printed at start-up) instead of fastsio's own HTTP/WebSocket server: what the
ASGI path costs against the native one.

    python -m benchmarks.servers.fastsio_uvicorn --port 8000
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

import uvicorn

import fastsio

from .fastsio_app import sio

app = fastsio.ASGIApp(sio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parser", choices=("json", "msgpack"), help="the server's parser option")
    parser.add_argument("--tls-cert", help="serve TLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    args = parser.parse_args()
    ws = "websockets" if importlib.util.find_spec("websockets") else "wsproto"
    print(f"fastsio_uvicorn: uvicorn {uvicorn.__version__}, ws=auto ({ws})", file=sys.stderr, flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="auto",
        lifespan="on",
        access_log=False,
        log_level="warning",
        backlog=4096,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
    )


if __name__ == "__main__":
    main()
