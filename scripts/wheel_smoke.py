"""Smoke test of an installed fastsio distribution, run by ``make wheels-check`` inside a fresh venv.

Run it with the venv's interpreter from a directory that holds no ``fastsio``
source, so that ``import fastsio`` finds the installed distribution and nothing
else::

    venv/bin/python scripts/wheel_smoke.py --expect cython   # or python

It checks, and exits non-zero (with the reason) when one check fails:

* ``fastsio`` is imported from the venv's ``site-packages``, not from a source tree;
* ``fastsio.speedups`` names every twin with the expected implementation (``cython``:
  each compiled twin is a shared object inside the venv; ``python``: none is);
* base64 of Engine.IO binary packets is decoded strictly on this interpreter (Python
  3.10 has no ``binascii`` ``strict_mode``);
* a real client against a real server: a fastsio ``Server`` from the installed
  package on 127.0.0.1, two python-socketio ``AsyncClient`` s (one over WebSocket, one
  over long-polling) that connect with auth, get the server's welcome emit, emit with
  an ack (text and binary, both ways), and one room broadcast from one to the other.

It imports only the installed ``fastsio``, the standard library and python-socketio.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import sysconfig
from pathlib import Path
from typing import Any


def fail(message: str) -> None:
    """Print ``message`` and exit 1."""
    print(f"wheel smoke: FAIL: {message}", file=sys.stderr)
    raise SystemExit(1)


def check_install(expect: str) -> None:
    """Check where fastsio comes from and which twin each hot module uses."""
    import fastsio
    from fastsio._speedups import compiled_module

    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    platsite = Path(sysconfig.get_paths()["platlib"]).resolve()
    where = Path(fastsio.__file__).resolve()
    if site not in where.parents and platsite not in where.parents:
        fail(f"fastsio was imported from {where}, not from this venv's site-packages ({site})")
    speedups = dict(fastsio.speedups)
    print(f"fastsio {fastsio.__version__} from {where.parent}")
    print(f"python {sys.version.split()[0]}; speedups: {speedups}")
    if not speedups:
        fail("fastsio.speedups is empty")
    wrong = {name: impl for name, impl in speedups.items() if impl != expect}
    if wrong:
        fail(f"expected {expect!r} for every twin, got {wrong}; reasons: {dict(fastsio.speedups.reasons)}")
    for name in speedups:
        if expect == "cython":
            module = importlib.import_module(compiled_module(name))
            path = Path(module.__file__ or "").resolve()
            if path.suffix != ".so" or platsite not in path.parents:
                fail(f"compiled twin {name!r} is {path}, not a shared object in {platsite}")
        else:
            try:
                importlib.import_module(compiled_module(name))
            except ImportError:
                continue
            fail(f"a pure install has the compiled twin {name!r}")


def check_base64() -> None:
    """Check that Engine.IO base64 binary packets are decoded strictly on this interpreter."""
    from fastsio.protocol.engineio import EngineIOError, decode_packet, decode_packet3, decode_payload

    if decode_packet("bAQID") != (4, b"\x01\x02\x03") or decode_payload("bAQID") != [(4, b"\x01\x02\x03")]:
        fail("base64 binary packet does not decode")
    if decode_packet3("b4AQID") != (4, b"\x01\x02\x03"):
        fail("Engine.IO v3 base64 binary packet does not decode")
    for bad in ("bAQ=I", "bAQ ID", "bAQID="):
        for decode in (decode_packet, decode_payload):
            try:
                decode(bad)
            except EngineIOError:
                continue
            fail(f"{decode.__name__}({bad!r}) did not refuse non-strict base64")


async def check_clients() -> None:
    """Serve a fastsio Server and drive it with two python-socketio clients."""
    import socketio

    import fastsio

    sio = fastsio.Server()

    @sio.on("connect")
    def connect(socket: Any, auth: Any) -> None:
        socket.join("room")
        socket.emit("welcome", {"id": socket.id, "auth": auth})

    @sio.on("echo")
    async def echo(socket: Any, data: Any) -> Any:
        return data[::-1] if isinstance(data, bytes) else {"echo": data, "transport": socket.transport}

    @sio.on("shout")
    def shout(socket: Any, text: str) -> str:
        socket.to("room").emit("heard", text)
        return "sent"

    await sio.start("127.0.0.1", 0)
    host, port = sio.address
    url = f"http://{host}:{port}"
    clients: list[socketio.AsyncClient] = []
    try:
        heard: asyncio.Queue[str] = asyncio.Queue()
        for transport in ("websocket", "polling"):
            client = socketio.AsyncClient(reconnection=False)
            welcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            client.on("welcome", lambda data, f=welcome: f.done() or f.set_result(data))
            client.on("heard", heard.put_nowait)
            await client.connect(url, transports=[transport], auth={"token": transport}, wait_timeout=10)
            clients.append(client)
            got = await asyncio.wait_for(welcome, 10)
            if got.get("auth") != {"token": transport} or not got.get("id"):
                fail(f"{transport}: welcome was {got!r}")
            reply = await client.call("echo", {"n": 1, "s": "héllo"}, timeout=10)
            if reply != {"echo": {"n": 1, "s": "héllo"}, "transport": transport}:
                fail(f"{transport}: text ack was {reply!r}")
            blob = bytes(range(256)) * 4
            reply = await client.call("echo", blob, timeout=10)
            if reply != blob[::-1]:
                fail(f"{transport}: binary ack was {reply!r:.80}")
            print(f"{transport}: connected as {got['id']}, acks ok (text and binary)")
        if await clients[0].call("shout", "to the room", timeout=10) != "sent":
            fail("shout was not acknowledged")
        text = await asyncio.wait_for(heard.get(), 10)
        if text != "to the room":
            fail(f"broadcast delivered {text!r}")
        if not heard.empty():
            fail("the sender received its own broadcast")
        print("broadcast from the websocket client reached the polling client")
    finally:
        for client in clients:
            await client.disconnect()
        await sio.stop()


def main() -> None:
    """Parse ``--expect`` and run every check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expect", choices=("cython", "python"), required=True,
                        help="the implementation every twin must have")
    args = parser.parse_args()
    check_install(args.expect)
    check_base64()
    asyncio.run(asyncio.wait_for(check_clients(), 60))
    print("wheel smoke: OK")


if __name__ == "__main__":
    main()
