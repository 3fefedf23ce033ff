"""Graceful shutdown and restart, with the real socket.io-client 4.8 (tests/recovery/driver.mjs,
reconnection on).

* ``stop()`` right after a burst of emits: the client gets every packet, then sees
  ``"transport close"`` (not ``"io server disconnect"``, as with Node's ``io.close()``)
  and reconnects by itself once the same server object is started again.
* With connection state recovery on: a server stopped and started again (the same
  :class:`fastsio.Server` in the same process, whose memory adapter keeps what recovery
  needs) replays to the reconnecting client everything emitted to its rooms while it
  was away -- before the stop, while stopped, during the drain -- once and in order,
  and gives it back its id and rooms.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import fastsio
from _nodedriver import Run, node_marks, run_driver

NODE_DIR = Path(__file__).resolve().parents[1] / "recovery"

pytestmark = node_marks(NODE_DIR)


async def drive(url: str, steps: list[dict[str, Any]], options: dict[str, Any], timeout: float) -> Run:
    """Run the recovery driver (one socket, reconnection on) through ``steps``."""
    scenario = {"url": url, "nsp": "/", "options": options, "timeout": int(timeout * 1000), "steps": steps}
    run = await run_driver(NODE_DIR / "driver.mjs", scenario, timeout)
    assert run.returncode == 0 and run.of("done"), run
    return run

FAST_RECONNECT = {"reconnectionDelay": 100, "reconnectionDelayMax": 200, "randomizationFactor": 0}
# "upgraded": the server stops once the client is on its WebSocket; "upgrading": in the
# middle of the upgrade, once the server has answered the probe (socket.io-client has
# then paused its polling for good, and takes what it is owed on the WebSocket)
TRANSPORTS = [
    pytest.param(["websocket"], id="websocket"),
    pytest.param(["polling"], id="polling"),
    pytest.param(["polling", "websocket"], id="upgraded"),
    pytest.param(["polling", "websocket", "at-once"], id="upgrading"),
]


class App:
    """A server whose connect handler joins ``room1``, and what it saw."""

    def __init__(self, **options: Any) -> None:
        self.sio = sio = fastsio.Server(shutdown_timeout=5, **options)
        self.connects: list[tuple[str, bool, set[str]]] = []
        self.disconnects: list[tuple[str, str]] = []
        self.connected = asyncio.Event()

        @sio.on("connect")
        def connect(socket: fastsio.Socket, auth: Any) -> None:
            self.connects.append((socket.id, socket.recovered, set(socket.rooms)))
            if not socket.recovered:
                socket.join("room1")
            self.connected.set()

        @sio.on("disconnect")
        def disconnect(socket: fastsio.Socket, reason: str) -> None:
            self.disconnects.append((socket.id, reason))

    async def start(self, port: int = 0) -> int:
        await self.sio.start("127.0.0.1", port)
        assert self.sio.address is not None
        return self.sio.address[1]

    async def next_connect(self, transports: list[str]) -> str:
        """The id of the socket of the next connection; with an upgrade to come
        (``["polling", "websocket"]``), once it is done."""
        await asyncio.wait_for(self.connected.wait(), 10)
        self.connected.clear()
        sessions = self.sio.engine.sessions.values()
        if transports == ["polling", "websocket"]:
            for _ in range(1000):
                if all(s.transport == "websocket" for s in sessions):
                    break
                await asyncio.sleep(0.01)
        elif transports[2:] == ["at-once"]:
            # until the server has answered the probe (3probe) and the client has not
            # sent its UPGRADE yet: it takes a network round trip, many loop iterations
            for _ in range(1_000_000):
                if any(s.upgrading for s in sessions):
                    break
                await asyncio.sleep(0)
            assert any(s.upgrading for s in sessions)
        return self.connects[-1][0]

    def ticks(self, sid: str, numbers: range) -> None:
        """Numbered ``tick`` events in turn to everyone, to room1, to the socket's own
        room; ``noise`` (which it must never get) to another room beside each."""
        for n in numbers:
            target = (self.sio, self.sio.to("room1"), self.sio.to(sid))[n % 3]
            target.emit("tick", n)
            self.sio.to("other").emit("noise", n)


def away(run: Run) -> list[str]:
    """The reasons of the disconnections seen before the driver's end (at its end it
    disconnects: "io client disconnect")."""
    done = run.index("done")
    return [r["reason"] for r in run.records[:done] if r["t"] == "disconnect"]


def tick_numbers(run: Any) -> list[int]:
    return [args[0] for args in run.events("tick")]


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_stop_flushes_then_client_reconnects(transports: list[str]) -> None:
    """Verify ``stop()`` called in the same loop iteration as a burst of emits: the
    client gets all of them, then ``"transport close"``; the server's disconnect handler
    says ``"server shutting down"``; once the server is started again the client
    reconnects by itself (a new session: recovery is off)."""
    app = App()
    port = await app.start()

    async def server_side() -> None:
        sid = await app.next_connect(transports)
        app.ticks(sid, range(600))
        await app.sio.stop()
        await app.start(port)
        await app.next_connect([])

    side = asyncio.ensure_future(server_side())
    try:
        run = await drive(
            f"http://127.0.0.1:{port}",
            [
                {"op": "connect"},
                {"op": "wait", "t": "event", "event": "tick", "count": 600},
                {"op": "wait", "t": "disconnect"},
                {"op": "wait", "t": "connect", "count": 2, "timeout": 10000},
            ],
            options={"transports": transports[:2], **FAST_RECONNECT},
            timeout=20,
        )
        await asyncio.wait_for(side, 10)
    finally:
        side.cancel()
        await app.sio.stop(timeout=0.2)  # the driver has exited: nobody comes for a CLOSE
    assert tick_numbers(run) == list(range(600)), run
    assert not run.events("noise")
    assert away(run) == ["transport close"], run
    first, second = run.of("connect")
    assert not second.get("recovered") and second["id"] != first["id"]
    # the burst came before the disconnection
    assert run.index("disconnect") > max(i for i, r in enumerate(run.records) if r["t"] == "event")
    assert app.disconnects[0] == (first["id"], "server shutting down")


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_restarted_server_replays_what_was_missed(transports: list[str]) -> None:
    """Verify connection state recovery across ``stop()`` and ``start()`` of the same
    server: the reconnecting client gets its id and rooms back and every tick emitted
    to its rooms -- just before the stop, while the server was stopped, and after it
    came back -- once each, in order, and none of the noise."""
    app = App(connection_state_recovery={"max_disconnection_duration": 60})
    port = await app.start()

    async def server_side() -> None:
        sid = await app.next_connect(transports)
        app.ticks(sid, range(0, 50))
        await asyncio.sleep(0.05)
        app.ticks(sid, range(50, 100))  # the same iteration as stop(): flushed, or replayed
        stopping = asyncio.ensure_future(app.sio.stop())
        await asyncio.sleep(0)
        app.ticks(sid, range(100, 150))  # during the drain: the socket is gone already
        await stopping
        app.ticks(sid, range(150, 300))  # while stopped
        await app.start(port)
        assert await app.next_connect([]) == sid
        app.ticks(sid, range(300, 350))  # live again

    side = asyncio.ensure_future(server_side())
    try:
        run = await drive(
            f"http://127.0.0.1:{port}",
            [
                {"op": "connect"},
                {"op": "wait", "t": "disconnect"},
                {"op": "wait", "t": "connect", "count": 2, "timeout": 10000},
                {"op": "wait", "t": "event", "event": "tick", "count": 350},
            ],
            options={"transports": transports[:2], **FAST_RECONNECT},
            timeout=20,
        )
        await asyncio.wait_for(side, 10)
    finally:
        side.cancel()
        await app.sio.stop(timeout=0.2)  # the driver has exited: nobody comes for a CLOSE
    assert tick_numbers(run) == list(range(350)), run
    offsets = [args[-1] for args in run.events("tick")]
    assert len(set(offsets)) == len(offsets)
    assert not run.events("noise")
    assert away(run) == ["transport close"], run
    first, second = run.of("connect")
    assert second["recovered"] is True and second["id"] == first["id"], run
    assert [c[1] for c in app.connects] == [False, True]
    sid, _, rooms = app.connects[1]
    assert rooms == {sid, "room1"}
    assert app.disconnects[0] == (sid, "server shutting down")
