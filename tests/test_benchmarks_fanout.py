"""Micro-benchmark of the broadcast fan-out twins: ``c`` vs ``py``.

One small event packet to 1000 recipients (900 WebSocket, 100 polling), whose
``send_frame`` / ``send`` only append to a list, so the loop itself is what is
measured.  The body asserts what every recipient got, never the time.

A plain ``pytest`` run executes the body once; measure with::

    python -m pytest tests/test_benchmarks_fanout.py --benchmark-only --benchmark-columns=mean,ops
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

TEXT = '2["chat message","hello world"]'
RECIPIENTS = 1000


class Sink:
    """A WebSocket connection that keeps the last frame it is handed."""

    __slots__ = ("last",)

    # no permessage-deflate (what the fan-out checks first)
    deflate = None

    def __init__(self) -> None:
        self.last: bytes | None = None

    def send_frame(self, frame: bytes) -> None:
        self.last = frame


class Session:
    """An Engine.IO session: WebSocket (``ws`` set) or polling (``send``)."""

    __slots__ = ("ws", "last")

    #: not a slow consumer (slow_consumer="drop")
    congested = False

    def __init__(self, websocket: bool) -> None:
        self.ws = Sink() if websocket else None
        self.last: str | bytes | None = None

    def send(self, packet: str | bytes) -> None:
        self.last = packet


@pytest.fixture
def bench(benchmark: Any, request: pytest.FixtureRequest) -> Any:
    """Return the benchmark fixture; without --benchmark-only/--benchmark-enable the body runs once."""
    config = request.config
    if not (config.getoption("benchmark_only") or config.getoption("benchmark_enable")):
        benchmark.disabled = True
    return benchmark


@pytest.mark.benchmark(group="fanout-1000")
def test_fanout_1000(bench: Any, fanout: ModuleType) -> None:
    """Fan one event out to 1000 sessions (twins ``py``/``c``: the ``fanout`` fixture)."""
    sessions = [Session(i % 10 != 0) for i in range(RECIPIENTS)]

    bench(fanout.fanout, sessions, [TEXT])
    frame = sessions[1].ws.last  # type: ignore[union-attr]
    assert frame == b"\x81" + bytes((len(TEXT) + 1,)) + b"4" + TEXT.encode()
    for session in sessions:
        if session.ws is not None:
            assert session.ws.last is frame
        else:
            assert session.last == "4" + TEXT
