"""SIGTERM under ``run()`` (fastsio owns the process): the server stops gracefully.

A server process (``Server.run``) receives SIGTERM in the same loop iteration as a
burst of 20 MB emitted to a python-socketio client: the client must get every packet,
then a transport close, and the process must exit by itself with status 0.  Before the
stop waited for the WebSocket close handshakes, what the transport still held when
``run()`` closed its loop was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from pathlib import Path
from typing import AsyncIterator

import pytest

import socketio

APP = """
import logging, os, signal, sys
import fastsio

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
# a burst bigger than the kernel takes at once (the transport holds the rest)
sio = fastsio.Server(shutdown_timeout=30, max_buffer_size=64_000_000)

@sio.on("burst")
def burst(sock, n, size):
    for i in range(n):
        sock.emit("tick", i, "x" * size)
    os.kill(os.getpid(), signal.SIGTERM)

sio.run("127.0.0.1", int(sys.argv[1]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def running(tmp_path: Path, source: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """The app ``source`` in a process of its own on a free port, once it says it
    listens: ``(process, port)``; killed on the way out if it is still running."""
    (tmp_path / "app.py").write_text(source, encoding="utf-8")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(tmp_path / "app.py"), str(port), stderr=asyncio.subprocess.PIPE
    )
    try:
        async def listening() -> None:
            assert proc.stderr is not None
            async for line in proc.stderr:
                if b"listening on http://" in line:
                    return
            raise AssertionError("the server did not start")

        await asyncio.wait_for(listening(), 30)
        yield proc, port
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"]], ids=["websocket", "upgraded"])
async def test_sigterm_flushes_then_exits(tmp_path: Path, transports: list[str]) -> None:
    """Verify SIGTERM right after a 20 MB burst: every tick arrives, then "transport
    close"; the process logs its stop and exits 0."""
    async with running(tmp_path, APP) as (proc, port):
        assert proc.stderr is not None
        n, size = 2000, 10_000
        ticks: list[int] = []
        sizes: set[int] = set()
        reasons: list[str] = []
        gone = asyncio.Event()
        client = socketio.AsyncClient(reconnection=False)

        @client.on("tick")
        def tick(i: int, data: str) -> None:
            ticks.append(i)
            sizes.add(len(data))

        @client.on("disconnect")
        def disconnect(reason: str = "") -> None:
            reasons.append(reason)
            gone.set()

        await client.connect(f"http://127.0.0.1:{port}", transports=transports, wait_timeout=10)
        await client.emit("burst", (n, size))
        await asyncio.wait_for(gone.wait(), 60)
        assert ticks == list(range(n)), (len(ticks), ticks[-3:])
        assert sizes == {size}
        # python-socketio calls a transport close "transport error"; not "server disconnect"
        assert reasons == [client.reason.TRANSPORT_ERROR], reasons
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        rest = (await proc.stderr.read()).decode(errors="replace")
        assert "Traceback" not in rest, rest


OWED_APP = """
import logging, sys
import fastsio

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
sio = fastsio.Server(shutdown_timeout=120)
sio.run("127.0.0.1", int(sys.argv[1]))
"""


async def test_second_sigterm_cuts_the_drain_short(tmp_path: Path) -> None:
    """Verify a second SIGTERM during the drain: a polling client owed its CLOSE packet
    never comes for it, so the first SIGTERM's stop waits (``shutdown_timeout`` is
    120 s: new handshakes get 503 meanwhile); the second one ends the wait, says so, and
    the process exits 0."""
    aiohttp = pytest.importorskip("aiohttp")
    async with running(tmp_path, OWED_APP) as (proc, port):
        assert proc.stderr is not None
        base = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
        async with aiohttp.ClientSession() as http:
            async with http.get(base) as r:
                assert r.status == 200
                sid = (await r.text())[1:].split('"sid":"')[1].split('"')[0]
            async with http.post(f"{base}&sid={sid}", data=b"40") as r:
                assert r.status == 200
            # it never comes back for what it is owed (at least the CLOSE packet)
            proc.send_signal(signal.SIGTERM)
            for _ in range(3000):
                async with http.get(base) as r:
                    if r.status == 503:
                        break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the first SIGTERM did not start the drain")
        await asyncio.sleep(0.3)
        assert proc.returncode is None  # still waiting for the polling client
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        rest = (await proc.stderr.read()).decode(errors="replace")
        assert "stopping now: a second signal during the drain" in rest, rest
        # (the client's session, and any a probe above opened before the drain began)
        assert "polling clients did not come for what they were owed" in rest, rest
        assert "Traceback" not in rest, rest
