"""The shared timer wheel: deadlines fire once, moved and cancelled objects leave their bucket
(a closed session must not stay referenced until its old deadline), on a real event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

import fastsio
from fastsio._server.timers import TimerWheel


class Obj:
    __slots__ = ("name", "timer_slot", "fired", "callback")

    def __init__(self, name: str) -> None:
        self.name = name
        self.timer_slot: Any = None
        self.fired: list[float] = []
        self.callback: Any = None

    def on_timer(self, now: float) -> None:
        if self.callback is not None:
            self.callback(now)
        else:
            self.fired.append(now)


def filed(wheel: TimerWheel) -> list[Any]:
    return [obj for bucket in wheel.buckets.values() for obj in bucket[1:]]


async def test_fires_in_order_once() -> None:
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop, resolution=0.002)
    order: list[str] = []
    objs = [Obj(str(i)) for i in range(5)]
    for obj in objs:
        obj.callback = lambda now, o=obj: order.append(o.name)
    t0 = loop.time()
    for i, obj in enumerate(reversed(objs)):
        wheel.schedule(obj, t0 + 0.01 * (5 - i))
    await asyncio.sleep(0.1)
    assert order == ["0", "1", "2", "3", "4"]
    assert filed(wheel) == [] and all(obj.timer_slot is None for obj in objs)


async def test_moved_and_cancelled_objects_leave_their_bucket() -> None:
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop)
    a, b, c = Obj("a"), Obj("b"), Obj("c")
    t0 = loop.time()
    for obj in (a, b, c):
        wheel.schedule(obj, t0 + 0.05)
    assert filed(wheel) == [a, b, c]
    wheel.schedule(a, t0 + 0.02)  # moved earlier
    wheel.schedule(b, t0 + 0.08)  # moved later
    wheel.cancel(c)
    assert sorted(o.name for o in filed(wheel)) == ["a", "b"]
    assert filed(wheel).count(a) == 1 and filed(wheel).count(b) == 1
    wheel.cancel(c)  # twice: nothing happens
    await asyncio.sleep(0.04)
    assert len(a.fired) == 1 and b.fired == [] and c.fired == []
    await asyncio.sleep(0.06)
    assert len(b.fired) == 1 and len(a.fired) == 1 and c.fired == []
    assert filed(wheel) == []


async def test_rescheduled_from_its_own_callback() -> None:
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop)
    obj = Obj("x")

    def again(now: float) -> None:
        obj.fired.append(now)
        if len(obj.fired) < 3:
            wheel.schedule(obj, loop.time() + 0.01)

    obj.callback = again
    wheel.schedule(obj, loop.time() + 0.01)
    await asyncio.sleep(0.15)
    assert len(obj.fired) == 3 and filed(wheel) == []


async def test_closed_sessions_are_not_kept_by_the_wheel(start_server: Any) -> None:
    """Clients connect and leave: no closed session stays filed in the wheel (they used to
    stay until their old deadline, ping_interval + ping_timeout later)."""
    sio = fastsio.Server()
    url = await start_server(sio)
    clients = []
    for transport in ("websocket", "polling", "websocket", "polling"):
        c = socketio.AsyncClient(reconnection=False)
        await c.connect(url, transports=[transport])
        clients.append(c)
    wheel = sio.engine.wheel
    sessions = list(sio.engine.sessions.values())
    assert len(sessions) == 4 and all(s in filed(wheel) for s in sessions)
    for c in clients:
        await c.disconnect()
    loop = asyncio.get_running_loop()
    end = loop.time() + 5
    while sio.engine.sessions and loop.time() < end:
        await asyncio.sleep(0.02)
    assert not sio.engine.sessions
    assert not any(s in filed(wheel) for s in sessions)


async def test_filing_and_leaving_keeps_the_heap_bounded() -> None:
    """An object filed and taken out again (an HTTP connection's request deadline, on
    every request) leaves its bucket in place: the heap holds each index once, so it is
    bounded by the time span, not by how many objects came and went."""
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop, resolution=0.01)
    # Five times in the middle of five consecutive 10 ms buckets: adding multiples of
    # 0.01 to an arbitrary float may round two of them into the same bucket.
    base = int((loop.time() + 30) / 0.01)
    for i in range(2000):
        obj = Obj(str(i))
        wheel.schedule(obj, (base + i % 5 + 0.5) * 0.01)
        wheel.cancel(obj)
    assert filed(wheel) == [] and len(wheel.heap) == 5 and len(wheel.buckets) == 5
    late = Obj("late")
    wheel.schedule(late, loop.time() + 0.02)
    await asyncio.sleep(0.08)
    assert len(late.fired) == 1 and late.timer_slot is None
    wheel.close()
