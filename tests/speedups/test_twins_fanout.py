"""Tests of the ``fanout`` twins: one packet, built once, handed to every recipient.

Recipients are fakes with the two methods fan-out calls: a WebSocket session
exposes ``ws.send_frame(frame)``, a polling session ``send(packet)`` with
``ws`` None.  Every call goes to one shared log, so order is checked too.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastsio._speedups import wsframe_py

Twins = Callable[[str], tuple[ModuleType, ModuleType]]


class FakeWS:
    """A WebSocket connection that logs the frames it is handed."""

    __slots__ = ("log", "name", "fail")

    def __init__(self, log: list[Any], name: int, fail: bool = False) -> None:
        self.log = log
        self.name = name
        self.fail = fail

    def send_frame(self, frame: bytes) -> None:
        self.log.append(("frame", self.name, frame))
        if self.fail:
            raise RuntimeError("send failed")


class FakeSession:
    """An Engine.IO session: ``ws`` set for WebSocket, ``send`` for polling."""

    __slots__ = ("log", "name", "ws")

    def __init__(self, log: list[Any], name: int, websocket: bool, fail: bool = False) -> None:
        self.log = log
        self.name = name
        self.ws = FakeWS(log, name, fail) if websocket else None

    def send(self, packet: str | bytes) -> None:
        self.log.append(("packet", self.name, packet))


def run(mod: ModuleType, kinds: list[bool], parts: list[Any], fail_at: int = -1) -> list[Any]:
    """Return the log of fanning ``parts`` out to sessions of the given kinds (True: WebSocket)."""
    log: list[Any] = []
    sessions = [FakeSession(log, i, ws, i == fail_at) for i, ws in enumerate(kinds)]
    try:
        mod.fanout(sessions, parts)
    except Exception as exc:
        log.append(("raised", type(exc).__name__, str(exc)))
    return log


def test_text_packet(fanout: ModuleType) -> None:
    """Verify WebSocket recipients get one Text frame of "4" + text, polling ones the packet."""
    log = run(fanout, [True, False, True], ['2["chat","hi"]'])
    frame = wsframe_py.build_frame(1, '42["chat","hi"]')
    assert log == [("frame", 0, frame), ("packet", 1, '42["chat","hi"]'), ("frame", 2, frame)]


def test_binary_attachments(fanout: ModuleType) -> None:
    """Verify attachments follow the text part: Binary frames, raw bytes for polling."""
    parts = ['51-["up",{"_placeholder":true,"num":0}]', b"\x00\x01"]
    log = run(fanout, [False, True], parts)
    assert log == [
        ("packet", 0, '451-["up",{"_placeholder":true,"num":0}]'),
        ("packet", 0, b"\x00\x01"),
        ("frame", 1, wsframe_py.build_frame(1, "4" + parts[0])),
        ("frame", 1, wsframe_py.build_frame(2, b"\x00\x01")),
    ]


def test_same_objects_for_everyone(fanout: ModuleType) -> None:
    """Verify every recipient is handed the very same frame and packet objects (built once)."""
    log = run(fanout, [True, True, False, False, True], ["2[1]", b"x"])
    frames = [entry[2] for entry in log if entry[0] == "frame"]
    packets = [entry[2] for entry in log if entry[0] == "packet"]
    assert len(frames) == 6 and len(packets) == 4
    assert frames[0] is frames[2] is frames[4] and frames[1] is frames[3] is frames[5]
    assert packets[0] is packets[2] and packets[1] is packets[3]


def test_no_recipients(fanout: ModuleType) -> None:
    """Verify an empty recipient list does nothing."""
    assert run(fanout, [], ["2[1]"]) == []


def test_iterables(fanout: ModuleType) -> None:
    """Verify recipients and parts may be any iterables (tuples, generators)."""
    log: list[Any] = []
    sessions = (FakeSession(log, 0, True), FakeSession(log, 1, False))
    fanout.fanout((s for s in sessions), iter(["2[1]"]))
    assert log == [("frame", 0, wsframe_py.build_frame(1, "42[1]")), ("packet", 1, "42[1]")]


def test_error_propagates(fanout: ModuleType) -> None:
    """Verify an error from a connection stops the loop and propagates."""
    log = run(fanout, [True, True, True], ["2[1]"], fail_at=1)
    assert [entry[:2] for entry in log] == [("frame", 0), ("frame", 1), ("raised", "RuntimeError")]


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(
    kinds=st.lists(st.booleans(), max_size=8),
    text=st.text(max_size=20),
    attachments=st.lists(st.binary(max_size=10), max_size=3),
    fail_at=st.integers(-1, 8),
)
def test_twins_alike(twins: Twins, kinds: list[bool], text: str, attachments: list[bytes], fail_at: int) -> None:
    """Verify both twins make the same calls in the same order with equal arguments."""
    py, c = twins("fanout")
    parts: list[Any] = [text, *attachments]
    assert run(c, kinds, parts, fail_at) == run(py, kinds, parts, fail_at)
