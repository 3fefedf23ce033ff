"""Twin equivalence of ``session`` (the Engine.IO session state machine).

``setup.py`` compiles ``fastsio/protocol/engineio/session_py.py`` as
``fastsio._speedups.session_c``, with ``Session`` an extension type (typed fields,
``cpdef send`` / ``send_packets``; see ``session_c.pxd``).  The rules themselves are
tested, on both twins, in ``tests/protocol/engineio/test_engineio_session*.py``; here
hypothesis drives both twins through the same random steps (GETs, POST bodies,
WebSocket messages and probes, sends, the clock and the timer, closes, lost
transports, the queue limit with either ``slow_consumer``) and holds equal, step by
step: everything the session did to its owner, sinks and handler, what each call
returned or raised, and every field.  The same for the compiled broadcast fan-out,
which reaches a compiled session through C calls: its results equal the pure
fan-out's with either twin of the session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastsio.protocol.engineio import Eio3Codec

Twins = Callable[[str], tuple[ModuleType, ModuleType]]

#: the fields that hold the test's own objects (sinks, owner, handler ...): every other
#: name of the pure twin's ``__slots__`` is compared after every step
OBJECT_FIELDS = frozenset(("handler", "ws", "probe", "poll", "owner", "request", "timer_slot", "v3", "metrics"))


def value_fields(py: ModuleType) -> tuple[str, ...]:
    """The names of the session fields that hold values (see ``OBJECT_FIELDS``)."""
    return tuple(name for name in py.Session.__slots__ if name not in OBJECT_FIELDS)


class Owner:
    """The engine's side (``SessionOwner``), logging every call."""

    log = logging.getLogger("fastsio.test.session_twins")

    def __init__(self, out: list[Any]) -> None:
        self.out = out

    def schedule(self, session: Any, when: float) -> None:
        self.out.append(("schedule", when))

    def cancel(self, session: Any) -> None:
        self.out.append(("cancel",))

    def discard(self, session: Any) -> None:
        self.out.append(("discard",))

    def release(self, session: Any) -> None:
        self.out.append(("release",))

    def upgraded(self, session: Any) -> None:
        self.out.append(("upgraded",))

    def handshake_done(self, session: Any) -> None:
        self.out.append(("handshake_done",))


class Sink:
    """A pending GET or a WebSocket (probe or active), logging every call."""

    #: no permessage-deflate (what the fan-out reads of a WebSocket)
    deflate = None

    def __init__(self, name: str, out: list[Any], congested: bool = False) -> None:
        self.name = name
        self.out = out
        self.congested = congested

    def respond(self, payload: Any) -> None:
        self.out.append(("respond", self.name, payload))

    def drop(self) -> None:
        self.out.append(("drop", self.name))

    def send(self, encoded: Any, compress: bool = True) -> None:
        self.out.append(("send", self.name, encoded, compress))

    def send_frame(self, frame: bytes) -> None:
        self.out.append(("frame", self.name, frame))

    def close(self) -> None:
        self.out.append(("close", self.name))

    def writable(self) -> bool:
        return True


class Handler:
    """The layer above: messages and the close reason."""

    def __init__(self, out: list[Any]) -> None:
        self.out = out

    def on_message(self, data: Any) -> None:
        self.out.append(("message", data))

    def on_close(self, reason: str) -> None:
        self.out.append(("on_close", reason))


def outcome(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn``'s result, or its exception class name."""
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # the twins must raise alike
        return ("raises", type(exc).__name__)


def drive(
    cls: type, fields: tuple[str, ...], eio: int, transport: str, max_queue: int, drop: bool, v3_binary: bool, steps: list[tuple[Any, ...]]
) -> list[Any]:
    """Run ``steps`` on a new session of the twin ``cls``; return the whole record."""
    out: list[Any] = []
    owner = Owner(out)
    now = 100.0
    s = cls("sid", transport, owner, now, ping_interval=25.0, ping_timeout=20.0, upgrade_timeout=10.0, eio=eio)
    s.handler = Handler(out)
    s.max_queue = max_queue
    s.drop_when_full = drop
    if eio == 3:
        s.v3 = Eio3Codec(binary=v3_binary)
    sinks: dict[str, Sink] = {}

    def sink(name: str) -> Sink:
        return sinks.setdefault(name, Sink(name, out, congested=name.endswith("!")))

    if transport == "websocket":
        s.ws = sink("w0")
    for step in steps:
        op, arg = step[0], step[1]
        if op == "get":
            out.append(("->", outcome(s.poll_request, sink(arg))))
        elif op == "post":
            out.append(("->", outcome(s.receive_payload, arg, now)))
        elif op == "ws":
            out.append(("->", outcome(s.receive_ws, sink(arg[0]), arg[1], now)))
        elif op == "probe":
            out.append(("->", outcome(s.attach_probe, sink(arg), now)))
        elif op == "send":
            out.append(("->", outcome(s.send, arg)))
        elif op == "send_nocompress":
            out.append(("->", outcome(s.send, arg, False)))
        elif op == "send_packets":
            out.append(("->", outcome(s.send_packets, arg)))
        elif op == "message":
            out.append(("->", outcome(s.send_message, arg)))
        elif op == "at":
            now += arg
        elif op == "timer":
            out.append(("->", outcome(s.on_timer, now)))
        elif op == "heartbeat":
            out.append(("->", outcome(s.check_heartbeat, now)))
        elif op == "close":
            out.append(("->", outcome(s.close, *arg)))
        elif op == "get_lost":
            out.append(("->", outcome(s.poll_closed, sink(arg))))
        elif op == "ws_lost":
            out.append(("->", outcome(s.ws_closed, sink(arg))))
        elif op == "drop_probe":
            out.append(("->", outcome(s.drop_probe)))
        elif op == "abandon":
            out.append(("->", outcome(s.abandon)))
        out.append(("writable", s.writable(), "congested", s.congested, "probe?", s.can_attach_probe()))
        out.append(tuple((name, getattr(s, name)) for name in fields))
        out.append(("sinks", None if s.ws is None else s.ws.name, None if s.probe is None else s.probe.name,
                    None if s.poll is None else s.poll.name))
    return out


packets_ = st.sampled_from(["4a", "4" + "x" * 40, b"\x01\x02", "2", "3", "6", "40", "42[\"e\"]"])
messages = st.sampled_from(["2probe", "3probe", "5", "2", "3", "4hi", "6", "1", "0", "9", "", "4\u00e9", b"\x04bin"])
bodies = st.sampled_from(["1:2", "3", "4a\x1e4b", "1", "6", "2", "bad\x1e", "", "3:4hi", "6:2hello", "1:6", "5"])
steps = st.one_of(
    st.tuples(st.just("get"), st.sampled_from(["g1", "g2", "g3"])),
    st.tuples(st.just("post"), bodies),
    st.tuples(st.just("ws"), st.tuples(st.sampled_from(["w0", "w1", "w2!"]), messages)),
    st.tuples(st.just("probe"), st.sampled_from(["w1", "w2!"])),
    st.tuples(st.sampled_from(["send", "send_nocompress", "message"]), packets_),
    st.tuples(st.just("send_packets"), st.lists(packets_, max_size=3)),
    st.tuples(st.just("at"), st.sampled_from([0.5, 5.0, 12.0, 25.0, 30.0])),
    st.tuples(st.sampled_from(["timer", "heartbeat", "drop_probe", "abandon"]), st.none()),
    st.tuples(
        st.just("close"),
        st.sampled_from([(), ("forced close",), ("server shutting down",), ("transport error", False)]),
    ),
    st.tuples(st.sampled_from(["get_lost"]), st.sampled_from(["g1", "g2"])),
    st.tuples(st.sampled_from(["ws_lost"]), st.sampled_from(["w0", "w1"])),
)


@pytest.mark.hypothesis
@settings(max_examples=400, deadline=None)
@given(
    eio=st.sampled_from([4, 3]),
    transport=st.sampled_from(["polling", "websocket"]),
    max_queue=st.sampled_from([0, 8, 100, 2**31 - 1, 2**62]),
    drop=st.booleans(),
    v3_binary=st.booleans(),
    script=st.lists(steps, max_size=25),
)
def test_sessions_alike(
    twins: Twins, eio: int, transport: str, max_queue: int, drop: bool, v3_binary: bool, script: list[Any]
) -> None:
    """Verify both twins of ``Session`` do, return and hold the same through random steps."""
    py, c = twins("session")
    assert c.Session is not py.Session
    fields = value_fields(py)
    assert "state" in fields and "queue" in fields and "ws" not in fields
    expected = drive(py.Session, fields, eio, transport, max_queue, drop, v3_binary, script)
    assert drive(c.Session, fields, eio, transport, max_queue, drop, v3_binary, script) == expected


def test_compiled_session_is_an_extension_type(twins: Twins) -> None:
    """Verify the compiled ``Session`` is the extension type (no instance dict), and takes
    no attribute the pure twin's ``__slots__`` would refuse."""
    py, c = twins("session")
    owner = Owner([])
    for cls in (py.Session, c.Session):
        s = cls("sid", "polling", owner, 0.0, ping_interval=25.0, ping_timeout=20.0)
        assert not hasattr(s, "__dict__")
        with pytest.raises(AttributeError):
            s.other = 1  # type: ignore[attr-defined]
    assert c.Session.__module__ == "fastsio._speedups.session_c"


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(["poll", "poll-get", "poll-full", "poll-closed", "ws"]), max_size=6),
    parts=st.sampled_from([["2[1]"], ['51-["up",{"_placeholder":true,"num":0}]', b"\x00\x01"], ["2" + "y" * 30]]),
    drop=st.booleans(),
)
def test_fanout_to_sessions_alike(twins: Twins, kinds: list[str], parts: list[Any], drop: bool) -> None:
    """Verify a broadcast to real sessions (long-polling ones queued or answered at once,
    over the queue limit with either ``slow_consumer``, closed, or on a WebSocket) does
    the same, and returns the same, with every pairing of fan-out and session twins:
    the compiled fan-out's C path to a compiled session included."""
    fan_py, fan_c = twins("fanout")
    ses_py, ses_c = twins("session")
    fields = value_fields(ses_py)
    results = []
    for fan in (fan_py, fan_c):
        for ses in (ses_py, ses_c):
            out: list[Any] = []
            owner = Owner(out)
            sessions = []
            for i, kind in enumerate(kinds):
                s = ses.Session(f"s{i}", "polling", owner, 0.0, ping_interval=25.0, ping_timeout=20.0)
                s.handler = Handler(out)
                s.max_queue = 20
                s.drop_when_full = drop
                if kind == "poll-get":
                    s.poll_request(Sink(f"g{i}", out))
                elif kind == "poll-full":
                    s.send("4" + "z" * 30)  # over max_queue: closed, or dropping (drop)
                elif kind == "poll-closed":
                    s.close("transport error")
                elif kind == "ws":
                    s.ws = Sink(f"w{i}", out)
                sessions.append(s)
            got = outcome(fan.fanout, sessions, parts)
            got2 = outcome(fan.fanout, sessions, parts)
            state = [tuple(getattr(s, name) for name in fields) for s in sessions]
            results.append((got, got2, out, state))
    assert results[1] == results[0]
    assert results[2] == results[0]
    assert results[3] == results[0]
