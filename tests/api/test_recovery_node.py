"""Connection state recovery with the real socket.io-client 4.8 (tests/recovery/driver.mjs).

The server broadcasts numbered ``tick`` events continuously (to everyone, to a room the
socket joined on its first connection, and to the socket itself, in turn); the client's
transport is cut; it reconnects by itself.  A recovered client must have every tick,
in order, with no gap and no duplicate, and keep its id, rooms and data.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import fastsio
from _recovery_driver import drive, node_marks

pytestmark = node_marks

FAST_RECONNECT = {"reconnectionDelay": 100, "reconnectionDelayMax": 200, "randomizationFactor": 0}


class App:
    """The server of these tests, and what it saw."""

    def __init__(self, parser: str = "json", **recovery: Any) -> None:
        self.sio = sio = fastsio.Server(connection_state_recovery=recovery or True, parser=parser)
        self.connects: list[tuple[str, bool, set[str], dict[str, Any]]] = []
        self.disconnects: list[tuple[str, str]] = []
        self.middleware_calls = 0
        self.current: dict[str, fastsio.Socket] = {}
        self.sent_while_away = 0

        @sio.use
        def count(socket: fastsio.Socket, auth: Any) -> None:
            self.middleware_calls += 1

        @sio.on("connect")
        def connect(socket: fastsio.Socket, auth: Any) -> None:
            self.connects.append((socket.id, socket.recovered, set(socket.rooms), dict(socket.data)))
            if not socket.recovered:
                socket.join("room1")
                socket.data["first"] = len(self.connects)
            self.current[socket.id] = socket

        @sio.on("disconnect")
        def disconnect(socket: fastsio.Socket, reason: str) -> None:
            self.disconnects.append((socket.id, reason))

    async def pump(self, stop: asyncio.Event) -> None:
        """Numbered ticks, in turn: broadcast, to room1, to each socket (the socket
        object of its last connection, disconnected or not); noise to another room."""
        n = 0
        while not stop.is_set():
            k = n % 3
            if k == 0:
                self.sio.emit("tick", n)
            elif k == 1:
                self.sio.to("room1").emit("tick", n)
            else:
                for sock in list(self.current.values()):
                    sock.emit("tick", n)
            if any(not s.connected for s in self.current.values()):
                self.sent_while_away += 1
            self.sio.to("other").emit("noise", n)
            self.sio.volatile.emit("vol", n)  # no offset, not kept
            n += 1
            await asyncio.sleep(0.002)


def ticks_in_order(run: Any) -> list[int]:
    ticks = run.events("tick")
    numbers = [args[0] for args in ticks]
    offsets = [args[-1] for args in ticks]
    assert all(isinstance(o, str) for o in offsets), ticks[:5]
    assert len(set(offsets)) == len(offsets)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
    return numbers


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(({"transports": ["websocket"]}, "destroy", False), id="websocket-tcp-destroyed"),
        pytest.param(({"transports": ["polling"]}, "close", False), id="polling-engine-closed"),
        pytest.param(({"transports": ["polling", "websocket"]}, "destroy", False), id="upgraded-tcp-destroyed"),
        pytest.param(({"transports": ["websocket"]}, "destroy", True), id="websocket-msgpack"),
        pytest.param(({"transports": ["polling"]}, "close", True), id="polling-msgpack"),
    ],
)
async def test_recovered_client_gets_every_packet_in_order(start_server: Any, mode: Any) -> None:
    options, how, msgpack = mode
    app = App("msgpack" if msgpack else "json", max_disconnection_duration=30)
    url = await start_server(app.sio)
    stop = asyncio.Event()
    pump = asyncio.get_running_loop().create_task(app.pump(stop))
    try:
        run = await drive(
            url,
            [
                {"op": "connect"},
                {"op": "wait", "t": "event", "event": "tick", "count": 60},
                {"op": "cut", "how": how},
                {"op": "wait", "t": "connect", "count": 2, "timeout": 5000},
                {"op": "wait", "t": "event", "event": "tick", "count": 250, "timeout": 5000},
            ],
            options={**options, **FAST_RECONNECT},
            msgpack=msgpack,
        )
    finally:
        stop.set()
        await pump
    first, second = run.of("connect")
    assert second["recovered"] is True and second["id"] == first["id"], run
    # what it missed came before the CONNECT reply, as with Node: the client delivered it
    # before its "connect" event
    kinds = [r["t"] + ":" + r.get("event", "") for r in run.records]
    gap = kinds[kinds.index("disconnect:") : kinds.index("connect:", kinds.index("disconnect:"))]
    assert "event:tick" in gap, run
    numbers = ticks_in_order(run)
    assert len(numbers) >= 250
    assert not run.events("noise")
    # the server: the same socket id, recovered, with its rooms and data; no middleware
    assert [c[1] for c in app.connects] == [False, True]
    sid, recovered, rooms, data = app.connects[1]
    assert sid == first["id"] and rooms == {sid, "room1"} and data == {"first": 1}
    assert app.middleware_calls == 1  # skip_middlewares
    assert app.disconnects[0] == (sid, "transport close")
    assert app.sent_while_away > 0  # packets were missed, and replayed


async def test_expired_window_is_not_recovered(start_server: Any) -> None:
    app = App(max_disconnection_duration=0.3)
    url = await start_server(app.sio)
    stop = asyncio.Event()
    pump = asyncio.get_running_loop().create_task(app.pump(stop))
    try:
        run = await drive(
            url,
            [
                {"op": "connect"},
                {"op": "wait", "t": "event", "event": "tick", "count": 10},
                {"op": "cut", "how": "destroy"},
                {"op": "wait", "t": "connect", "count": 2, "timeout": 5000},
            ],
            options={"transports": ["websocket"], "reconnectionDelay": 1000, "reconnectionDelayMax": 1000, "randomizationFactor": 0},
        )
    finally:
        stop.set()
        await pump
    first, second = run.of("connect")
    assert second["recovered"] is False and second["id"] != first["id"], run
    assert [c[1] for c in app.connects] == [False, False]
    assert app.middleware_calls == 2
    adapter = app.sio.of("/").adapter
    assert first["id"] not in {s.sid for s in adapter.kept_sessions()}


async def test_invalid_pid_is_not_recovered(start_server: Any) -> None:
    app = App()
    url = await start_server(app.sio)
    stop = asyncio.Event()
    pump = asyncio.get_running_loop().create_task(app.pump(stop))
    try:
        run = await drive(
            url,
            [
                {"op": "connect"},
                {"op": "wait", "t": "event", "event": "tick", "count": 10},
                {"op": "pid", "value": "not-a-session"},
                {"op": "cut", "how": "destroy"},
                {"op": "wait", "t": "connect", "count": 2, "timeout": 5000},
            ],
            options={"transports": ["websocket"], **FAST_RECONNECT},
        )
    finally:
        stop.set()
        await pump
    first, second = run.of("connect")
    assert second["recovered"] is False and second["id"] != first["id"], run
    assert [c[1] for c in app.connects] == [False, False]
    # the second connection is a fresh one: new rooms, new data
    assert "room1" not in app.connects[1][2] and app.connects[1][3] == {}


async def test_middleware_runs_again_without_skip_middlewares(start_server: Any) -> None:
    app = App(max_disconnection_duration=30, skip_middlewares=False)
    seen: list[bool] = []
    app.sio.use(lambda socket, auth: seen.append(socket.recovered))
    url = await start_server(app.sio)
    stop = asyncio.Event()
    pump = asyncio.get_running_loop().create_task(app.pump(stop))
    try:
        run = await drive(
            url,
            [
                {"op": "connect"},
                {"op": "wait", "t": "event", "event": "tick", "count": 10},
                {"op": "cut", "how": "destroy"},
                {"op": "wait", "t": "connect", "count": 2, "timeout": 5000},
            ],
            options={"transports": ["websocket"], **FAST_RECONNECT},
        )
    finally:
        stop.set()
        await pump
    first, second = run.of("connect")
    assert second["recovered"] is True and second["id"] == first["id"]
    assert seen == [False, True] and app.middleware_calls == 2


async def test_no_offset_yet_is_not_recovered(start_server: Any) -> None:
    """Like Node: a client that never got a packet with an offset sends none, and is
    not recovered."""
    app = App()
    url = await start_server(app.sio)
    run = await drive(
        url,
        [
            {"op": "connect"},
            {"op": "sleep", "ms": 50},
            {"op": "cut", "how": "destroy"},
            {"op": "wait", "t": "connect", "count": 2, "timeout": 5000},
        ],
        options={"transports": ["websocket"], **FAST_RECONNECT},
    )
    first, second = run.of("connect")
    assert second["recovered"] is False and second["id"] != first["id"]
