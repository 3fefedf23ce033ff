"""The memory adapter's connection state recovery store, without a network: what it keeps,
for how long, and what a restored session gets (time is driven by hand)."""

from __future__ import annotations

from typing import Any

import pytest

import fastsio
from fastsio.adapters import MemoryAdapter, RecoverySession
from fastsio.options import RecoveryOptions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(max_duration: float = 120.0) -> tuple[Any, Clock]:
    clock = Clock()
    sio = fastsio.Server(
        connection_state_recovery={"max_disconnection_duration": max_duration},
        ping_interval=10,
        ping_timeout=5,
        adapter=lambda ns: MemoryAdapter(ns, clock=clock),
    )
    adapter = sio.of("/").adapter
    assert isinstance(adapter, MemoryAdapter)
    assert adapter.inflight == 16.0  # ping interval + timeout + 1 s
    return adapter, clock


def counters(adapter: Any) -> list[int]:
    return [p[0] for p in adapter.kept_packets()]


def emit(adapter: Any, n: int, rooms: frozenset[str] = frozenset(), except_: frozenset[str] = frozenset()) -> str:
    offset = adapter.next_offset()
    adapter.store(offset, [f'2["tick",{n},"{offset}"]'], rooms, except_)
    return offset


def session(adapter: Any, sid: str, rooms: set[str]) -> RecoverySession:
    s = RecoverySession(sid, "pid-" + sid, frozenset(rooms | {sid}), {"k": sid}, 0.0)
    adapter.persist_session(s)
    return s


def numbers(parts_list: list[list[Any]]) -> list[int]:
    return [int(p[0].split(",")[1]) for p in parts_list]


def test_options() -> None:
    assert RecoveryOptions.parse(None) is None
    assert RecoveryOptions.parse(True).max_disconnection_duration == 120.0
    assert RecoveryOptions.parse({"skip_middlewares": False}).skip_middlewares is False
    with pytest.raises(ValueError):
        RecoveryOptions.parse({"maxDisconnectionDuration": 1})
    assert fastsio.Server().of("/").adapter.next_offset() is None  # recovery off: no offsets


def test_nothing_kept_when_nobody_could_need_it() -> None:
    adapter, clock = make()
    for n in range(100):
        emit(adapter, n)
    assert not adapter.kept_packets() and adapter.floor == 100


def test_connected_sockets_keep_only_the_in_flight_window() -> None:
    adapter, clock = make()
    adapter.namespace.sockets["x"] = object()  # a connected socket
    for n in range(10):
        emit(adapter, n)
        clock.now += 1
    assert len(adapter.kept_packets()) == 10
    clock.now += 20  # the first ones are now older than ping interval + timeout
    emit(adapter, 10)
    assert counters(adapter) == [11]  # counters start at 1
    adapter.namespace.sockets.clear()


def test_a_disconnected_session_keeps_packets_until_its_window_ends() -> None:
    adapter, clock = make(max_duration=60)
    adapter.namespace.sockets["x"] = object()
    early = emit(adapter, 0)  # the last packet the client got
    clock.now += 5
    s = session(adapter, "a", {"room"})
    for n in range(1, 50):
        clock.now += 1
        emit(adapter, n)
    assert len(adapter.kept_packets()) == 50  # all still needed by the session
    clock.now += 61  # the session's window is over
    adapter.sweep()
    assert not adapter.kept_sessions()
    assert adapter.restore_session(s.pid, early) is None
    assert all(p[1] >= clock.now - adapter.inflight for p in adapter.kept_packets())
    adapter.namespace.sockets.clear()


def test_restore_replays_what_the_session_would_have_received() -> None:
    adapter, clock = make()
    adapter.namespace.sockets["x"] = object()
    last = emit(adapter, 0)
    s = session(adapter, "a", {"room1"})
    emit(adapter, 1)  # everyone
    emit(adapter, 2, frozenset({"room1"}))
    emit(adapter, 3, frozenset({"room2"}))  # not for it
    emit(adapter, 4, frozenset({"a"}))  # its own id (socket.emit)
    emit(adapter, 5, frozenset(), frozenset({"room1"}))  # excluded
    emit(adapter, 6, frozenset({"room2", "room1"}), frozenset({"other"}))
    assert adapter.restore_session("pid-a", adapter.epoch + "999") is None  # not ours (future)
    s = session(adapter, "a", {"room1"})
    assert adapter.restore_session("pid-a", "garbage") is None
    s = session(adapter, "a", {"room1"})
    assert adapter.restore_session("pid-a", adapter.epoch + "9" * 5000) is None
    s = session(adapter, "a", {"room1"})
    assert adapter.restore_session("unknown", last) is None
    restored = adapter.restore_session("pid-a", last)
    assert restored is s and restored.data == {"k": "a"}
    assert adapter.restore_session("pid-a", last) is None  # once
    emit(adapter, 7)  # while its connect handler runs
    assert numbers(adapter.replay(restored)) == [1, 2, 4, 6, 7]
    adapter.namespace.sockets.clear()


def test_restoring_pins_packets_and_release_keeps_the_session() -> None:
    adapter, clock = make(max_duration=10)
    adapter.namespace.sockets["x"] = object()
    last = emit(adapter, 0)
    session(adapter, "a", set())
    restored = adapter.restore_session("pid-a", last)
    for n in range(1, 5):
        clock.now += 30  # far past the session's window and the in-flight window
        emit(adapter, n)
    assert numbers(adapter.replay(restored)) == [1, 2, 3, 4]  # pinned while restoring
    restored2 = adapter.restore_session("pid-a", last)
    assert restored2 is None  # replayed: gone
    s = session(adapter, "b", set())
    offset = emit(adapter, 5)
    r = adapter.restore_session("pid-b", offset)
    assert r is s
    adapter.release(r)  # refused by the connect handler: kept again
    assert adapter.restore_session("pid-b", offset) is s
    adapter.namespace.sockets.clear()


def test_offset_older_than_the_kept_packets_is_refused() -> None:
    adapter, clock = make()
    adapter.namespace.sockets["x"] = object()
    old = emit(adapter, 0)
    emit(adapter, 1)  # the client missed this one...
    clock.now += 100
    emit(adapter, 2)  # ...which is gone by now
    session(adapter, "a", set())
    assert adapter.restore_session("pid-a", old) is None
    # a client that did get packet 1 (the last one dropped) misses nothing that is gone
    s = session(adapter, "b", set())
    r = adapter.restore_session("pid-b", adapter.epoch + "2")
    assert r is s and numbers(adapter.replay(r)) == [2]
    adapter.namespace.sockets.clear()
