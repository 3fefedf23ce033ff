"""The Engine.IO session state machine, driven with no network (table-driven).

Each scenario is a list of steps fed to a :class:`Session` through fake sinks, and
the ordered log of what the session did to the outside world:

* ``("respond", g, payload)``: the pending GET ``g`` was answered;
* ``("send", w, packet)`` / ``("close", w)``: WebSocket ``w`` was sent a packet / closed;
* ``("message", data)`` / ``("on_close", reason)``: the handler was told;
* ``("discard",)``: the owner was told to forget the session;
* ``("refused", step)`` / ``("raised", step)``: a step returned False / raised EngineIOError.

Steps: ``("get", g)`` a long-polling GET; ``("post", body)`` a POST body; ``("ws", w, message)``
a WebSocket message; ``("probe", w)`` an upgrade request; ``("send", packet)``;
``("at", t)`` set the clock; ``("timer",)`` the owner's timer fires at the clock;
``("close", reason)``; ``("get_lost", g)`` / ``("ws_lost", w)`` a transport went away.
"""

from __future__ import annotations

import functools
import logging
from types import ModuleType
from typing import Any, Callable

import pytest

from fastsio.protocol.engineio import EngineIOError
from fastsio.protocol.engineio.session import CLOSED, CLOSING, OPEN, Session

PING_INTERVAL = 25.0
PING_TIMEOUT = 20.0
UPGRADE_TIMEOUT = 10.0


class Owner:
    """The engine's side of the session (``SessionOwner``), recording into ``events``."""

    #: the sessions' logger (``SessionOwner.log``)
    log = logging.getLogger("fastsio.test.session")

    def __init__(self, events: list[tuple[Any, ...]]) -> None:
        self.events = events
        self.when: float | None = None
        self.schedules: list[float] = []
        self.cancels = 0

    def schedule(self, session: Session, when: float) -> None:
        self.when = when
        self.schedules.append(when)

    def cancel(self, session: Session) -> None:
        self.when = None
        self.cancels += 1

    def discard(self, session: Session) -> None:
        self.events.append(("discard",))

    def release(self, session: Session) -> None:
        """Record nothing: no caps on sessions here."""

    def upgraded(self, session: Session) -> None:
        """Record nothing: no one keeps transports here."""

    def handshake_done(self, session: Session) -> None:
        """Record nothing: the layer above is not under test here."""


class Poll:
    """A pending long-polling GET."""

    def __init__(self, name: str, log: list[tuple[Any, ...]]) -> None:
        self.name = name
        self.log = log

    def respond(self, payload: str | bytes) -> None:
        self.log.append(("respond", self.name, payload))

    def drop(self) -> None:
        self.log.append(("drop", self.name))


class WS:
    """A WebSocket sink."""

    def __init__(self, name: str, log: list[tuple[Any, ...]]) -> None:
        self.name = name
        self.log = log
        self.open = True

    def send(self, encoded: str | bytes) -> None:
        assert self.open, "sent to a closed WebSocket"
        self.log.append(("send", self.name, encoded))

    def close(self) -> None:
        self.open = False
        self.log.append(("close", self.name))

    def writable(self) -> bool:
        return self.open


class Handler:
    """The layer above (Socket.IO client or EngineSocket)."""

    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.log = log

    def on_message(self, data: str | bytes) -> None:
        self.log.append(("message", data))

    def on_close(self, reason: str) -> None:
        self.log.append(("on_close", reason))


class Harness:
    """A session with fakes around it, fed steps."""

    def __init__(self, cls: type[Session], transport: str = "polling", eio: int = 4) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.owner = Owner(self.log)
        self.now = 0.0
        self.session = cls(
            "sid",
            transport,
            self.owner,
            self.now,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            upgrade_timeout=UPGRADE_TIMEOUT,
            eio=eio,
        )
        self.session.handler = Handler(self.log)
        self.sinks: dict[str, Any] = {}
        if transport == "websocket":
            self.session.ws = self.ws("w")

    def poll(self, name: str) -> Poll:
        return self.sinks.setdefault(name, Poll(name, self.log))

    def ws(self, name: str) -> WS:
        return self.sinks.setdefault(name, WS(name, self.log))

    def run(self, steps: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        s = self.session
        for step in steps:
            op = step[0]
            if op == "get":
                if not s.poll_request(self.poll(step[1])):
                    self.log.append(("refused", step))
            elif op == "post":
                try:
                    s.receive_payload(step[1], self.now)
                except EngineIOError:
                    self.log.append(("raised", step))
            elif op == "ws":
                s.receive_ws(self.ws(step[1]), step[2], self.now)
            elif op == "probe":
                if not s.attach_probe(self.ws(step[1]), self.now):
                    self.log.append(("refused", step))
            elif op == "send":
                s.send(step[1])
            elif op == "at":
                self.now = step[1]
            elif op == "timer":
                s.on_timer(self.now)
            elif op == "close":
                s.close(*step[1:])
            elif op == "get_lost":
                s.poll_closed(self.poll(step[1]))
            elif op == "ws_lost":
                s.ws_closed(self.ws(step[1]), *step[2:])
            else:  # pragma: no cover - a typo in a table
                raise AssertionError(f"unknown step {step!r}")
        return self.log


@pytest.fixture
def harness(session_twin: ModuleType) -> Callable[..., Harness]:
    """Return a maker of harnesses around the Session of the current twin."""
    return functools.partial(Harness, session_twin.Session)


# (id, transport, steps, expected log, final state)
SCENARIOS: list[tuple[str, str, list[tuple[Any, ...]], list[tuple[Any, ...]], int]] = [
    # ------------------------------------------------------------ polling
    ("polling-open", "polling", [], [], OPEN),
    (
        "queue-then-get-takes-all",
        "polling",
        [("send", "4a"), ("send", b"\x01"), ("send", "4b"), ("get", "g1")],
        [("respond", "g1", "4a\x1ebAQ==\x1e4b")],
        OPEN,
    ),
    (
        "get-waits-then-first-send-answers",
        "polling",
        [("get", "g1"), ("send", "4a"), ("send", "4b"), ("get", "g2")],
        [("respond", "g1", "4a"), ("respond", "g2", "4b")],
        OPEN,
    ),
    (
        "overlapping-get-is-transport-error",
        "polling",
        [("get", "g1"), ("get", "g2")],
        [("respond", "g1", "1"), ("discard",), ("on_close", "transport error"), ("refused", ("get", "g2"))],
        CLOSED,
    ),
    (
        "poll-connection-lost",
        "polling",
        [("get", "g1"), ("get_lost", "g1")],
        [("discard",), ("on_close", "transport close")],
        CLOSED,
    ),
    (
        "poll-lost-for-another-get-ignored",
        "polling",
        [("get", "g1"), ("get_lost", "g0")],
        [],
        OPEN,
    ),
    (
        "post-messages",
        "polling",
        [("post", "4hello\x1ebAQI=\x1e4\x1e6")],
        [("message", "hello"), ("message", b"\x01\x02"), ("message", "")],
        OPEN,
    ),
    (
        "post-close-releases-get-with-noop",
        "polling",
        [("get", "g1"), ("post", "4a\x1e1\x1e4b")],
        [("message", "a"), ("respond", "g1", "6"), ("discard",), ("on_close", "transport close")],
        CLOSED,
    ),
    (
        "post-close-without-get",
        "polling",
        [("send", "4q"), ("post", "1")],
        [("discard",), ("on_close", "transport close")],
        CLOSED,
    ),
    (
        "post-parse-error",
        "polling",
        [("get", "g1"), ("post", "4a\x1e7")],
        [("respond", "g1", "1"), ("discard",), ("on_close", "parse error"), ("raised", ("post", "4a\x1e7"))],
        CLOSED,
    ),
    (
        "post-bad-base64",
        "polling",
        [("post", "b!!!")],
        [("discard",), ("on_close", "parse error"), ("raised", ("post", "b!!!"))],
        CLOSED,
    ),
    (
        "post-ping-from-client-is-parse-error",
        "polling",
        [("post", "2")],
        [("discard",), ("on_close", "parse error")],
        CLOSED,
    ),
    (
        "post-open-is-parse-error",
        "polling",
        [("post", "0")],
        [("discard",), ("on_close", "parse error")],
        CLOSED,
    ),
    (
        "post-upgrade-on-polling-is-parse-error",
        "polling",
        [("post", "5")],
        [("discard",), ("on_close", "parse error")],
        CLOSED,
    ),
    (
        "post-after-close-ignored",
        "polling",
        [("get", "g1"), ("post", "1"), ("post", "4late")],
        [("respond", "g1", "6"), ("discard",), ("on_close", "transport close")],
        CLOSED,
    ),
    # ------------------------------------------------------------ heartbeat
    (
        "ping-at-interval-polling",
        "polling",
        [("get", "g1"), ("at", 25.0), ("timer",)],
        [("respond", "g1", "2")],
        OPEN,
    ),
    (
        "ping-queued-without-get",
        "polling",
        [("at", 25.0), ("timer",), ("get", "g1")],
        [("respond", "g1", "2")],
        OPEN,
    ),
    (
        "pong-keeps-session",
        "websocket",
        [("at", 25.0), ("timer",), ("at", 30.0), ("ws", "w", "3"), ("at", 45.0), ("timer",)],
        [("send", "w", "2")],
        OPEN,
    ),
    (
        "pong-then-next-ping",
        "websocket",
        [("at", 25.0), ("timer",), ("at", 30.0), ("ws", "w", "3"), ("at", 55.0), ("timer",)],
        [("send", "w", "2"), ("send", "w", "2")],
        OPEN,
    ),
    (
        "ping-timeout-websocket",
        "websocket",
        [("at", 25.0), ("timer",), ("at", 45.0), ("timer",)],
        [("send", "w", "2"), ("close", "w"), ("discard",), ("on_close", "ping timeout")],
        CLOSED,
    ),
    (
        "ping-timeout-polling-get-gets-close",
        "polling",
        [("at", 25.0), ("timer",), ("get", "g1"), ("get", "g2"), ("at", 45.0), ("timer",)],
        [("respond", "g1", "2"), ("respond", "g2", "1"), ("discard",), ("on_close", "ping timeout")],
        CLOSED,
    ),
    (
        "early-timer-does-nothing",
        "websocket",
        [("at", 10.0), ("timer",)],
        [],
        OPEN,
    ),
    # ------------------------------------------------------------ websocket
    (
        "websocket-messages",
        "websocket",
        [("ws", "w", "4hello"), ("ws", "w", b"\x00\x01"), ("ws", "w", "bAQI="), ("ws", "w", "6")],
        [("message", "hello"), ("message", b"\x00\x01"), ("message", b"\x01\x02")],
        OPEN,
    ),
    (
        "websocket-send",
        "websocket",
        [("send", "4a"), ("send", b"\x01")],
        [("send", "w", "4a"), ("send", "w", b"\x01")],
        OPEN,
    ),
    (
        "websocket-close-packet",
        "websocket",
        [("ws", "w", "1"), ("ws", "w", "4late")],
        [("close", "w"), ("discard",), ("on_close", "transport close")],
        CLOSED,
    ),
    (
        "websocket-parse-error",
        "websocket",
        [("ws", "w", "9")],
        [("close", "w"), ("discard",), ("on_close", "parse error")],
        CLOSED,
    ),
    (
        "websocket-empty-text-is-parse-error",
        "websocket",
        [("ws", "w", "")],
        [("close", "w"), ("discard",), ("on_close", "parse error")],
        CLOSED,
    ),
    (
        "websocket-lost",
        "websocket",
        [("ws_lost", "w")],
        [("discard",), ("on_close", "transport close")],
        CLOSED,
    ),
    (
        "websocket-lost-slow-consumer",
        "websocket",
        [("ws_lost", "w", "send buffer full")],
        [("discard",), ("on_close", "send buffer full")],
        CLOSED,
    ),
    (
        "websocket-server-close",
        "websocket",
        [("close",), ("close",), ("send", "4x")],
        [("close", "w"), ("discard",), ("on_close", "forced close")],
        CLOSED,
    ),
    # ------------------------------------------------------------ upgrade
    (
        "upgrade-probe-releases-get-with-noop",
        "polling",
        [("get", "g1"), ("probe", "w1"), ("ws", "w1", "2probe")],
        [("send", "w1", "3probe"), ("respond", "g1", "6")],
        OPEN,
    ),
    (
        "polling-goes-on-until-the-probe-is-answered",
        "polling",
        [("get", "g1"), ("probe", "w1"), ("send", "4a"), ("ws", "w1", "2probe"), ("send", "4b")],
        [("respond", "g1", "4a"), ("send", "w1", "3probe")],
        OPEN,
    ),
    (
        "get-during-upgrade-gets-noop",
        "polling",
        [("probe", "w1"), ("ws", "w1", "2probe"), ("get", "g1"), ("get", "g2")],
        [("send", "w1", "3probe"), ("respond", "g1", "6"), ("respond", "g2", "6")],
        OPEN,
    ),
    (
        "upgrade-switches-and-flushes-queue",
        "polling",
        [
            ("probe", "w1"),
            ("ws", "w1", "2probe"),
            ("send", "4queued"),
            ("send", b"\x07"),
            ("ws", "w1", "5"),
            ("send", "4after"),
            ("ws", "w1", "4in"),
        ],
        [
            ("send", "w1", "3probe"),
            ("send", "w1", "4queued"),
            ("send", "w1", b"\x07"),
            ("send", "w1", "4after"),
            ("message", "in"),
        ],
        OPEN,
    ),
    (
        "upgrade-with-pending-get-gets-noop",
        "polling",
        [("probe", "w1"), ("ws", "w1", "2probe"), ("get", "g1"), ("ws", "w1", "5")],
        [("send", "w1", "3probe"), ("respond", "g1", "6")],
        OPEN,
    ),
    (
        "upgrade-before-probe-drops-probe",
        "polling",
        [("probe", "w1"), ("ws", "w1", "5"), ("get", "g1"), ("send", "4a")],
        [("close", "w1"), ("respond", "g1", "4a")],
        OPEN,
    ),
    (
        "other-packet-on-probe-drops-probe",
        "polling",
        [("probe", "w1"), ("ws", "w1", "4hello")],
        [("close", "w1")],
        OPEN,
    ),
    (
        "invalid-packet-on-probe-drops-probe",
        "polling",
        [("probe", "w1"), ("ws", "w1", "x")],
        [("close", "w1")],
        OPEN,
    ),
    (
        "probe-timeout-drops-probe",
        "polling",
        [("probe", "w1"), ("ws", "w1", "2probe"), ("at", 10.0), ("timer",), ("get", "g1")],
        [("send", "w1", "3probe"), ("close", "w1")],
        OPEN,
    ),
    (
        "second-probe-refused",
        "polling",
        [("probe", "w1"), ("probe", "w2")],
        [("refused", ("probe", "w2"))],
        OPEN,
    ),
    (
        "probe-after-upgrade-refused",
        "polling",
        [("probe", "w1"), ("ws", "w1", "2probe"), ("ws", "w1", "5"), ("probe", "w2")],
        [("send", "w1", "3probe"), ("refused", ("probe", "w2"))],
        OPEN,
    ),
    (
        "probe-on-websocket-session-refused",
        "websocket",
        [("probe", "w1")],
        [("refused", ("probe", "w1"))],
        OPEN,
    ),
    (
        "probe-lost-session-stays-on-polling",
        "polling",
        [("probe", "w1"), ("ws", "w1", "2probe"), ("ws_lost", "w1"), ("get", "g1"), ("send", "4a")],
        [("send", "w1", "3probe"), ("respond", "g1", "4a")],
        OPEN,
    ),
    (
        "poll-lost-during-upgrade-keeps-session",
        "polling",
        [("get", "g1"), ("probe", "w1"), ("ws", "w1", "2probe"), ("get", "g2"), ("get_lost", "g2")],
        [("send", "w1", "3probe"), ("respond", "g1", "6"), ("respond", "g2", "6")],
        OPEN,
    ),
    (
        "close-during-upgrade-closes-probe",
        "polling",
        [("probe", "w1"), ("ws", "w1", "2probe"), ("close", "transport error")],
        [("send", "w1", "3probe"), ("close", "w1"), ("discard",), ("on_close", "transport error")],
        CLOSED,
    ),
    (
        "upgraded-session-closes-ws",
        "polling",
        [("probe", "w1"), ("ws", "w1", "2probe"), ("ws", "w1", "5"), ("ws_lost", "w1")],
        [("send", "w1", "3probe"), ("discard",), ("on_close", "transport close")],
        CLOSED,
    ),
    # ------------------------------------------------------------ closing
    (
        "graceful-close-lingers-for-next-get",
        "polling",
        [("close", "forced close"), ("get", "g1")],
        [("on_close", "forced close"), ("respond", "g1", "1"), ("discard",)],
        CLOSED,
    ),
    (
        "shutdown-close-next-get-gets-queue-then-close",
        "polling",
        [("send", "4a"), ("send", "4b"), ("close", "server shutting down"), ("get", "g1"), ("get", "g2")],
        [
            ("on_close", "server shutting down"),
            ("respond", "g1", "4a\x1e4b"),
            ("respond", "g2", "1"),
            ("discard",),
        ],
        CLOSED,
    ),
    (
        "shutdown-close-empty-queue-next-get-gets-close",
        "polling",
        [("close", "server shutting down"), ("get", "g1")],
        [("on_close", "server shutting down"), ("respond", "g1", "1"), ("discard",)],
        CLOSED,
    ),
    (
        "forced-close-queue-then-close",
        "polling",
        [("send", "4a"), ("close", "forced close"), ("get", "g1"), ("get", "g2")],
        [("on_close", "forced close"), ("respond", "g1", "4a"), ("respond", "g2", "1"), ("discard",)],
        CLOSED,
    ),
    (
        "closing-ends-at-deadline",
        "polling",
        [("close", "forced close"), ("at", 25.0), ("timer",), ("send", "4late")],
        [("on_close", "forced close"), ("discard",)],
        CLOSED,
    ),
    (
        "close-with-pending-get",
        "polling",
        [("get", "g1"), ("close",)],
        [("respond", "g1", "1"), ("discard",), ("on_close", "forced close")],
        CLOSED,
    ),
    (
        "close-without-close-packet",
        "polling",
        [("get", "g1"), ("close", "transport close", False)],
        [("respond", "g1", "6"), ("discard",), ("on_close", "transport close")],
        CLOSED,
    ),
    (
        "non-graceful-close-without-get-finishes-now",
        "polling",
        [("send", "4a"), ("close", "transport error")],
        [("discard",), ("on_close", "transport error")],
        CLOSED,
    ),
    (
        "close-idempotent",
        "polling",
        [("get", "g1"), ("close", "forced close"), ("close", "parse error"), ("get_lost", "g1")],
        [("respond", "g1", "1"), ("discard",), ("on_close", "forced close")],
        CLOSED,
    ),
    (
        "send-after-close-ignored",
        "polling",
        [("close", "transport error"), ("send", "4a"), ("post", "4b"), ("at", 25.0), ("timer",)],
        [("discard",), ("on_close", "transport error")],
        CLOSED,
    ),
]


@pytest.mark.parametrize(
    ("transport", "steps", "expected", "state"),
    [pytest.param(*row[1:], id=row[0]) for row in SCENARIOS],
)
def test_scenario(
    transport: str, steps: list[tuple[Any, ...]], expected: list[tuple[Any, ...]], state: int, harness: Callable[..., Harness]
) -> None:
    """Verify the session's outputs, in order, for each scenario."""
    h = harness(transport)
    assert h.run(steps) == expected
    assert h.session.state == state
    closes = [e for e in h.log if e[0] == "on_close"]
    assert len(closes) <= 1, "on_close more than once"
    if state == CLOSED:
        assert not h.session.queue


# ------------------------------------------------------------------ targeted checks


def test_open_schedules_first_ping(harness: Callable[..., Harness]) -> None:
    """Verify the first ping is due ``ping_interval`` after the open."""
    h = harness()
    assert h.owner.when == PING_INTERVAL
    assert h.session.state == OPEN and h.session.transport == "polling"


def test_heartbeat_schedule(harness: Callable[..., Harness]) -> None:
    """Verify the ping, the pong wait, and the rescheduling after a PONG."""
    h = harness("websocket")
    h.run([("at", 25.0), ("timer",)])
    assert h.owner.when == 25.0 + PING_TIMEOUT and h.session.awaiting_pong
    h.run([("at", 26.0), ("ws", "w", "3")])
    assert h.owner.when == 26.0 + PING_INTERVAL and not h.session.awaiting_pong


def test_probe_deadline_scheduled_first(harness: Callable[..., Harness]) -> None:
    """Verify a probe's deadline is scheduled when it is earlier than the ping."""
    h = harness()
    h.run([("at", 1.0), ("probe", "w1")])
    assert h.owner.when == 1.0 + UPGRADE_TIMEOUT
    h.run([("ws", "w1", "2probe"), ("ws", "w1", "5")])
    assert h.owner.when == PING_INTERVAL
    assert h.session.transport == "websocket" and h.session.upgraded


def test_close_cancels_timer_and_discards_once(harness: Callable[..., Harness]) -> None:
    """Verify a closed session leaves the timer wheel and the session table, once."""
    h = harness("websocket")
    h.run([("close",), ("close",), ("ws_lost", "w")])
    assert h.owner.cancels == 1
    assert h.log.count(("discard",)) == 1
    assert h.session.handler is None


def test_on_close_called_once_when_handler_closes_again(harness: Callable[..., Harness]) -> None:
    """Verify a handler that closes the session from on_close is not called twice."""
    h = harness("websocket")
    reasons: list[str] = []

    class Reentrant:
        def on_message(self, data: Any) -> None:
            h.session.close("parse error")

        def on_close(self, reason: str) -> None:
            reasons.append(reason)
            h.session.close("again")

    h.session.handler = Reentrant()
    h.run([("ws", "w", "4x"), ("ws", "w", "4y")])
    assert reasons == ["parse error"]
    assert h.session.state == CLOSED


def test_closing_state_is_closing(harness: Callable[..., Harness]) -> None:
    """Verify a graceful polling close waits in CLOSING for the next GET."""
    h = harness()
    h.run([("send", "4a"), ("close",)])
    assert h.session.state == CLOSING


@pytest.mark.parametrize(
    ("steps", "writable"),
    [
        ([], False),
        ([("get", "g1")], True),
        ([("get", "g1"), ("probe", "w1"), ("ws", "w1", "2probe")], False),
        ([("close",)], False),
    ],
)
def test_writable_polling(steps: list[tuple[Any, ...]], writable: bool, harness: Callable[..., Harness]) -> None:
    """Verify a polling session is writable only with a GET pending, outside an upgrade."""
    h = harness()
    h.run(steps)
    assert h.session.writable() is writable


def test_writable_websocket(harness: Callable[..., Harness]) -> None:
    """Verify a WebSocket session is as writable as its socket."""
    h = harness("websocket")
    assert h.session.writable() is True
    h.sinks["w"].open = False
    assert h.session.writable() is False


def test_send_message(harness: Callable[..., Harness]) -> None:
    """Verify send_message adds the MESSAGE type to text only."""
    h = harness("websocket")
    h.session.send_message("hi")
    h.session.send_message(b"\x01")
    assert h.log == [("send", "w", "4hi"), ("send", "w", b"\x01")]


def test_polling_queue_limit(harness: Callable[..., Harness]) -> None:
    """Verify a polling client that lets over ``max_queue`` bytes queue up is dropped."""
    h = harness()
    h.session.max_queue = 10
    h.run([("send", "4" + "x" * 5), ("send", "4" + "x" * 5)])
    assert h.log == [("discard",), ("on_close", "send buffer full")]
    assert h.session.state == CLOSED


def test_polling_queue_limit_resets_on_flush(harness: Callable[..., Harness]) -> None:
    """Verify the queued byte count starts again after a GET took the queue."""
    h = harness()
    h.session.max_queue = 10
    h.run([("send", "4" + "x" * 5), ("get", "g1"), ("send", "4" + "x" * 5), ("get", "g2")])
    assert h.session.state == OPEN


def test_send_packets_all_or_none(harness: Callable[..., Harness]) -> None:
    """Verify ``send_packets`` queues every part of one Socket.IO packet, and none of
    them once the queue is over its limit with ``slow_consumer="drop"`` (False)."""
    h = harness()
    h.session.max_queue = 10
    h.session.drop_when_full = True
    assert h.session.send_packets(["451-[]", b"\x01"]) is True
    assert h.session.queue == ["451-[]", b"\x01"] and not h.session.congested
    assert h.session.send_packets(["4" + "x" * 9]) is True  # takes it over the limit
    assert h.session.congested
    assert h.session.send_packets(["4a", b"\x02"]) is False
    assert h.session.queue == ["451-[]", b"\x01", "4" + "x" * 9]
    h.run([("get", "g1")])
    assert not h.session.congested and h.session.send_packets(["4b"]) is True
    assert h.log == [("respond", "g1", "451-[]\x1ebAQ==\x1e4xxxxxxxxx")]
    assert h.session.queue == ["4b"] and h.session.state == OPEN


def test_large_queue_limit(harness: Callable[..., Harness]) -> None:
    """Verify a queue limit far above ``max_buffer_size``'s bound (2**31 - 1) is taken
    and kept by both twins, and limits nothing here."""
    h = harness()
    h.session.max_queue = 2**62
    h.run([("send", "4a"), ("send", "4b"), ("get", "g1")])
    assert h.session.max_queue == 2**62 and h.session.state == OPEN
    assert h.log == [("respond", "g1", "4a\x1e4b")]
