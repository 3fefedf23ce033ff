"""The chat demo: the page of the article this project began from, on fastsio.

    python -m examples.chat.app --port 8000      (or: make demo)

``/`` is the page on socket.io-client 4.8; ``/v1`` is the article's own page, on the
socket.io-client 1.2.0 it loads (Engine.IO v3: the server runs with ``allow_eio3=True``).

On ``/``: ``notice`` -> emit ``reply`` "have <msg>".
On ``/chat``: ``msg`` -> ack "recv <msg>", and the message goes to the other
participants of ``/chat`` as ``said`` (``who``, ``text``: a chat); ``bye`` -> emit
``bye`` with the last message, then disconnect (the page then says "disconnected"; typing
again joins again).
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

import fastsio

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(HERE, "node_modules")


def static_files() -> dict[str, str]:
    files = {"/": os.path.join(HERE, "index.html"), "/v1": os.path.join(HERE, "index_v1.html")}
    client = os.path.join(NODE_MODULES, "socket.io-client", "dist", "socket.io.js")
    # the npm tarball of socket.io-client 1.2.0 has its browser bundle at the root
    client_v1 = os.path.join(NODE_MODULES, "socket.io-client-1.2.0", "socket.io.js")
    jquery = os.path.join(NODE_MODULES, "jquery", "dist", "jquery.js")
    for url, path in (
        ("/static/socket.io.js", client),
        ("/static/socket.io-1.2.0.js", client_v1),
        ("/static/jquery.js", jquery),
    ):
        if os.path.isfile(path):
            files[url] = path
    return files


def create_app(**options: Any) -> fastsio.Server:
    options.setdefault("allow_eio3", True)  # the article's page: socket.io-client 1.2.0
    sio = fastsio.Server(static_files=static_files(), **options)

    @sio.on("connect")
    def connect(socket: fastsio.Socket, auth: Any) -> None:
        logging.info("connected: %s", socket.id)

    @sio.on("notice")
    def notice(socket: fastsio.Socket, msg: str) -> None:
        logging.info("notice: %s", msg)
        socket.emit("reply", "have " + str(msg))

    @sio.on("disconnect")
    def disconnect(socket: fastsio.Socket, reason: str) -> None:
        logging.info("closed: %s (%s)", socket.id, reason)

    chat = sio.of("/chat")

    @chat.on("msg")
    def msg(socket: fastsio.Socket, text: str) -> str:
        socket.data["last"] = text
        socket.broadcast.emit("said", socket.id[:6], text)  # everyone else in /chat
        return "recv " + str(text)

    @chat.on("bye")
    def bye(socket: fastsio.Socket) -> None:
        socket.emit("bye", socket.data.get("last"))
        socket.disconnect()

    @chat.on("error")
    def error(socket: fastsio.Socket, exc: BaseException) -> None:
        logging.warning("handler error on %s: %r", socket.id, exc)

    return sio


def main() -> None:
    parser = argparse.ArgumentParser(description="fastsio chat demo")
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        metavar="NAME",
        help="a host name the demo answers to (repeatable; default: localhost, 127.0.0.1, ::1 "
        "and --host): any other Host header gets 400, so a DNS-rebinding page cannot reach it",
    )
    args = parser.parse_args()
    allowed_hosts = args.allowed_hosts or ["localhost", "127.0.0.1", "::1"]
    if args.host not in ("0.0.0.0", "::", "") and args.host not in allowed_hosts:
        allowed_hosts.append(args.host)
    shown = "localhost" if args.host in ("127.0.0.1", "localhost", "::1") else args.host
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not os.path.isdir(NODE_MODULES):
        logging.warning("examples/chat/node_modules missing: the page falls back to the CDN scripts")
    print(
        f"fastsio chat demo on http://{shown}:{args.port}/ (socket.io-client 4.8) and "
        f"http://{shown}:{args.port}/v1 (the article's page, socket.io-client 1.2.0); Ctrl-C stops it",
        flush=True,
    )
    create_app(allowed_hosts=allowed_hosts).run(args.host, args.port)


if __name__ == "__main__":
    main()
