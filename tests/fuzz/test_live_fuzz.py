"""The live-server fuzzer (``live.py``), bounded and seeded, in the test suite.

Two server processes (compiled twins, pure twins) are started whatever the run's own
twins; the valid sessions and then 300 mutated ones, from a fixed seed (one seed for
the compiled run, another for the pure run: the same sessions every time), are
replayed against both.  Any disagreement, any server that hangs, dies or logs an
error fails the test, with the (minimised) session in the message.  Longer runs by
hand: ``make fuzz-live DURATION=600``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import uvloop

from fastsio._speedups import NO_EXTENSIONS

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import live  # noqa: E402

#: mutated sessions per run (a few hundred: about 30 s on a loaded 2-core machine)
SESSIONS = 300


@pytest.mark.timeout(600)
def test_live_sessions_agree_and_servers_survive(request: pytest.FixtureRequest) -> None:
    """Verify the compiled and the pure server answer every seeded session alike, and survive."""
    pure_run = NO_EXTENSIONS or request.config.getoption("c_extensions") is False
    if pure_run and importlib.util.find_spec("fastsio._speedups.wsframe_c") is None:
        pytest.skip("pure run without the compiled twins built: there is no compiled server to compare with")
    seed = 2 if pure_run else 1
    lines: list[str] = []
    stats = uvloop.run(live.run(seed, SESSIONS, None, lanes=4, minimise_budget=30.0, log=lines.append))
    assert stats.sessions == SESSIONS + len(live.valid_sessions())
    assert not stats.disagreements and not stats.failures, "\n\n".join(stats.disagreements + stats.failures)[:20000]


def test_mutations_are_deterministic() -> None:
    """Verify a seed always gives the same sessions (the CI run depends on no luck)."""
    a = [s.describe() for s in live.sessions_for(7, 50)]
    b = [s.describe() for s in live.sessions_for(7, 50)]
    assert a == b
    assert len(set(a)) > 40  # and they are mutations, not copies


def test_normalise_replaces_sids_in_order() -> None:
    """Verify two servers' answers that differ only in their sids compare equal."""

    def answer(sid: str, sock: str) -> dict[int, tuple[bytes, bool]]:
        body = f'0{{"sid":"{sid}"}}'.encode()
        head = b"HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        frame = f'40{{"sid":"{sock}"}}'.encode()
        ws = b"HTTP/1.1 101 Switching Protocols\r\n\r\n" + bytes((0x81, len(frame))) + frame
        return {0: (head + body, False), 1: (ws, True)}

    a = live.normalise(answer("a" * 20, "b" * 20))
    assert a == live.normalise(answer("c" * 20, "d" * 20))
    assert a != live.normalise(answer("c" * 20, "c" * 20))  # one sid used twice is not two sids
