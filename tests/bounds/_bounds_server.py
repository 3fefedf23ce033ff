"""The server the memory-bound tests measure, run in its own process.

``python _bounds_server.py OPTIONS_JSON``: starts a ``fastsio.Server(**options)`` on
127.0.0.1 (a free port), prints ``PORT <n>`` on stdout once it listens, and serves
until its stdin closes (the test holding the pipe is gone) or it gets SIGTERM.  Logs
(INFO, the ``fastsio`` hierarchy) go to stderr.  The test reads this process's
``/proc/PID/status`` (``VmRSS``, ``VmHWM``), so the test process's own memory does not
count.  ``FASTSIO_NO_EXTENSIONS`` in its environment picks the pure twins.

What the app does, so that a client can fill each buffer:

* ``/slow``: a connect handler that never finishes (the connect queue);
* ``fill(n, size)``: emits ``n`` packets of ``size`` characters to the caller (the
  polling queue and the WebSocket send buffer, when the caller does not read);
* ``acks(n)``: emits ``n`` packets asking for an acknowledgement to the caller (the
  pending acks, when the caller never answers);
* ``join(names)``: joins the caller to the rooms ``names`` (rooms per socket);
* ``park()``: an async handler that waits forever (handlers pending per socket);
* ``echo(*args)``: acknowledges with its arguments;
* ``/dyn-<n>``: children of a dynamic namespace (namespaces per connection, children
  kept); ``children()`` acknowledges with how many it has.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import sys
from typing import Any

import fastsio


def build(options: dict[str, Any]) -> fastsio.Server:
    """The app of the module docstring on a ``Server(**options)``."""
    sio = fastsio.Server(**options)
    never = asyncio.Event()
    log = logging.getLogger("fastsio.bounds")

    slow = sio.of("/slow")

    @slow.on("connect")
    async def slow_connect(socket: Any, auth: Any) -> None:
        await never.wait()

    @sio.on("fill")
    def fill(socket: Any, n: int, size: int) -> None:
        data = "x" * size
        for _ in range(n):
            socket.emit("data", data)

    @sio.on("acks")
    def acks(socket: Any, n: int) -> None:
        def answered(*args: Any) -> None:
            pass

        for i in range(n):
            socket.emit("ask", i, callback=answered)

    @sio.on("join")
    def join(socket: Any, names: list[str]) -> int:
        try:
            socket.join(names)
        except Exception as exc:  # reported to the client and logged, the bound at work
            log.info("join refused: %s", exc)
            return -1
        return len(socket.rooms)

    @sio.on("park")
    async def park(socket: Any) -> None:
        await never.wait()

    @sio.on("echo")
    def echo(socket: Any, *args: Any) -> Any:
        return args

    dynamic = sio.of(re.compile(r"^/dyn-\d+$"))

    @sio.on("children")
    def children(socket: Any) -> int:
        return len(dynamic.children)

    return sio


async def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    sio = build(options)
    await sio.start("127.0.0.1", 0)
    print("PORT", sio.address[1], flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.buffer.read1(4096) else None)
    await stop.wait()
    # the tests' clients are gone or stalled (a polling client owed its queue never comes
    # for it): no drain to wait for
    await sio.stop(timeout=0)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a run-time dependency
        asyncio.run(main())
