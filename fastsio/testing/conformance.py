"""The conformance app the official Engine.IO / Socket.IO protocol test suites expect.

    python -m fastsio.testing.conformance --suite engine.io --port 3000
    python -m fastsio.testing.conformance --suite socket.io --port 3000

pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, CORS origin ``*``,
connect timeout 1000 ms.  ``engine.io``: plain Engine.IO at ``/engine.io/`` echoing
every message; ``socket.io``: namespaces ``/`` and ``/custom`` each emitting ``auth``
with the handshake auth right after the CONNECT reply, echoing ``message`` as
``message-back`` and acknowledging ``message-with-ack`` with the same arguments.

The ``engine.io`` app also serves Engine.IO v3 (``allow_eio3``), so the same command
serves the v3 suite (docs/engine.io-protocol/v3-test-suite); ``--allow-eio3`` turns it
on for the ``socket.io`` app too (socket.io-client 1.x/2.x).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import fastsio

OPTIONS: dict[str, Any] = {
    "ping_interval": 0.3,
    "ping_timeout": 0.2,
    "max_http_buffer_size": 1_000_000,
    "cors_allowed_origins": "*",
}


def engine_app(**overrides: Any) -> fastsio.EngineServer:
    """The ``engine.io`` app: an EngineServer echoing every message (EIO3 too)."""
    eio = fastsio.EngineServer(path="/engine.io/", **{**OPTIONS, "allow_eio3": True, **overrides})

    def connection(sock: fastsio.EngineSocket) -> None:
        sock.on("message", sock.send)

    eio.on("connection", connection)
    return eio


def socketio_app(**overrides: Any) -> fastsio.Server:
    """The ``socket.io`` app: namespaces ``/`` and ``/custom`` (see the module docstring)."""
    sio = fastsio.Server(path="/socket.io/", connect_timeout=1.0, **{**OPTIONS, **overrides})
    for name in ("/", "/custom"):
        ns = sio.of(name)

        def connect(socket: fastsio.Socket, auth: Any) -> None:
            socket.emit("auth", auth)

        def message(socket: fastsio.Socket, *args: Any) -> None:
            socket.emit("message-back", *args)

        def message_with_ack(socket: fastsio.Socket, *args: Any) -> tuple[Any, ...]:
            return args

        ns.on("connect", connect)
        ns.on("message", message)
        ns.on("message-with-ack", message_with_ack)

    return sio


def main(argv: list[str] | None = None) -> None:
    """Run the app of ``--suite`` until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=("engine.io", "socket.io"), default="socket.io")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument(
        "--allow-eio3", action="store_true", help="serve Engine.IO v3 clients (always on for engine.io)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    if args.suite == "engine.io":
        app: fastsio.EngineServer | fastsio.Server = engine_app()
    else:
        app = socketio_app(allow_eio3=args.allow_eio3)
    app.run(args.host, args.port)


if __name__ == "__main__":
    main()
