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

from fastsio.protocol.websocket import frames_py as reference  # frames the fan-out must hand out (pure twin)

Twins = Callable[[str], tuple[ModuleType, ModuleType]]


class FakeDeflate:
    """The permessage-deflate state of a connection, as the fan-out sees it."""

    __slots__ = ("threshold",)

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold


class FakeWS:
    """A WebSocket connection that logs the frames (and, with deflate, packets) it is handed."""

    __slots__ = ("log", "name", "fail", "deflate")

    def __init__(self, log: list[Any], name: int, fail: bool = False, threshold: int | None = None) -> None:
        self.log = log
        self.name = name
        self.fail = fail
        self.deflate = None if threshold is None else FakeDeflate(threshold)

    def send_frame(self, frame: bytes) -> None:
        self.log.append(("frame", self.name, frame))
        if self.fail:
            raise RuntimeError("send failed")

    def send(self, packet: str | bytes) -> None:
        """The connection's own (compressing) send."""
        self.log.append(("deflate", self.name, packet))
        if self.fail:
            raise RuntimeError("send failed")


class FakeSession:
    """An Engine.IO session: ``ws`` set for WebSocket, ``send`` for polling."""

    __slots__ = ("log", "name", "ws")

    #: not a slow consumer (slow_consumer="drop")
    congested = False

    def __init__(
        self, log: list[Any], name: int, websocket: bool, fail: bool = False, threshold: int | None = None
    ) -> None:
        self.log = log
        self.name = name
        self.ws = FakeWS(log, name, fail, threshold) if websocket else None

    def send(self, packet: str | bytes) -> None:
        self.log.append(("packet", self.name, packet))


def run(
    mod: ModuleType,
    kinds: list[bool],
    parts: list[Any],
    fail_at: int = -1,
    thresholds: list[int | None] | None = None,
    compress: bool | None = None,
) -> list[Any]:
    """Return the log of fanning ``parts`` out to sessions of the given kinds (True: WebSocket).

    ``thresholds[i]``: recipient i has permessage-deflate with that threshold;
    ``compress``: the flag passed to fan-out (None: not passed, the default)."""
    log: list[Any] = []
    sessions = [
        FakeSession(log, i, ws, i == fail_at, thresholds[i] if thresholds and i < len(thresholds) else None)
        for i, ws in enumerate(kinds)
    ]
    try:
        if compress is None:
            mod.fanout(sessions, parts)
        else:
            mod.fanout(sessions, parts, compress)
    except Exception as exc:
        log.append(("raised", type(exc).__name__, str(exc)))
    return log


def test_text_packet(fanout: ModuleType) -> None:
    """Verify WebSocket recipients get one Text frame of "4" + text, polling ones the packet."""
    log = run(fanout, [True, False, True], ['2["chat","hi"]'])
    frame = reference.build_frame(1, '42["chat","hi"]')
    assert log == [("frame", 0, frame), ("packet", 1, '42["chat","hi"]'), ("frame", 2, frame)]


def test_binary_attachments(fanout: ModuleType) -> None:
    """Verify attachments follow the text part: Binary frames, raw bytes for polling."""
    parts = ['51-["up",{"_placeholder":true,"num":0}]', b"\x00\x01"]
    log = run(fanout, [False, True], parts)
    assert log == [
        ("packet", 0, '451-["up",{"_placeholder":true,"num":0}]'),
        ("packet", 0, b"\x00\x01"),
        ("frame", 1, reference.build_frame(1, "4" + parts[0])),
        ("frame", 1, reference.build_frame(2, b"\x00\x01")),
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
    assert log == [("frame", 0, reference.build_frame(1, "42[1]")), ("packet", 1, "42[1]")]


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


# ---------------------------------------------------------------------------------------------
# Outbox and Flusher: the real output path of a connection (what fastsio._server.http.Connection
# derives from), with a transport that logs its writes and a loop that runs call_soon on demand.


class LogTransport:
    """Records every ``write`` (one per flush is the point)."""

    def __init__(self, log: list[Any], name: int) -> None:
        self.log = log
        self.name = name

    def write(self, data: bytes) -> None:
        self.log.append(("write", self.name, bytes(data)))

    def writelines(self, parts: list[bytes]) -> None:
        """What was queued with a large frame among it, in one call: logged joined
        (``parts`` kept as ``self.last`` to check the frame was not copied)."""
        self.last = list(parts)
        self.log.append(("writelines", self.name, b"".join(parts)))


class ManualLoop:
    """``call_soon`` callbacks run when the test says (the end of a loop iteration)."""

    def __init__(self) -> None:
        self.ready: list[Any] = []

    def call_soon(self, callback: Any, *args: Any) -> None:
        self.ready.append((callback, args))

    def run_once(self) -> None:
        ready, self.ready = self.ready, []
        for callback, args in ready:
            callback(*args)


def make_outbox(fanout: ModuleType, log: list[Any], flusher: Any, name: int, limit: int = 0, eio3: bool = False) -> Any:
    """An Outbox subclass the way Connection is one: Python slots on the (maybe compiled) base."""

    class Conn(fanout.Outbox):  # type: ignore[name-defined,misc]
        __slots__ = ("name", "log")

        def overflow(self) -> None:
            self.log.append(("overflow", self.name, self.wbytes))
            self.closed = True
            self.wbuf = None

        def send_frame(self, frame: bytes) -> None:
            self.log.append(("send_frame", self.name, frame))

    conn = Conn(flusher, limit)
    conn.name = name
    conn.log = log
    conn.transport = LogTransport(log, name)
    conn.ws_mode = True
    conn.eio3 = eio3
    return conn


class Polling:
    """A polling Engine.IO session (``ws`` None)."""

    #: not a slow consumer (slow_consumer="drop")
    congested = False

    def __init__(self, log: list[Any], name: int) -> None:
        self.log = log
        self.name = name
        self.ws = None

    def send(self, packet: Any) -> None:
        self.log.append(("packet", self.name, packet))


def test_outbox_coalesces(fanout: ModuleType) -> None:
    """Verify everything written to a connection in one loop iteration leaves in one write,
    and the Flusher is scheduled once per iteration however many connections were written."""
    log: list[Any] = []
    loop = ManualLoop()
    flusher = fanout.Flusher(loop)
    a = make_outbox(fanout, log, flusher, 0)
    b = make_outbox(fanout, log, flusher, 1)
    for i in range(3):
        a.write(b"a%d" % i)
        b.write(bytearray(b"b%d" % i))  # bytes-like is accepted
    assert log == [] and len(loop.ready) == 1 and a.wbytes == 6
    loop.run_once()
    assert log == [("write", 0, b"a0a1a2"), ("write", 1, b"b0b1b2")]
    assert a.wbuf is None and flusher.pending == [] and not flusher.scheduled
    a.write(b"x")
    loop.run_once()
    assert log[-1] == ("write", 0, b"x")


class KeepTransport:
    """Keeps the objects written (to see which of them are the same object)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


def test_a_broadcasts_join_is_made_once(fanout: ModuleType) -> None:
    """Verify outboxes given the same chunks (a broadcast's frames, one after another)
    write one joined object, made once; an outbox with other chunks of the same count,
    or the same chunks in another order, gets its own join; and the flusher lets go of
    the join at the end of its run."""
    loop = ManualLoop()
    flusher = fanout.Flusher(loop)
    frames = [b"frame-%d" % i for i in range(5)]
    other = b"other"
    conns = [make_outbox(fanout, [], flusher, i) for i in range(5)]
    for conn in conns:
        conn.transport = KeepTransport()
    for frame in frames:
        for conn in conns[:3]:
            conn.write(frame)
    for frame in [*frames[:4], other]:
        conns[3].write(frame)
    for frame in reversed(frames):
        conns[4].write(frame)
    loop.run_once()
    written = [conn.transport.written for conn in conns]
    assert [len(w) for w in written] == [1] * 5
    assert written[0][0] == written[1][0] == written[2][0] == b"".join(frames)
    assert written[1][0] is written[0][0] and written[2][0] is written[0][0]
    assert written[3][0] == b"".join([*frames[:4], other]) and written[4][0] == b"".join(reversed(frames))
    assert flusher.last_chunks is None and flusher.last_joined is None
    # the next iteration starts without the last join
    conns[0].write(frames[0])
    conns[0].write(frames[1])
    loop.run_once()
    assert conns[0].transport.written[1] == frames[0] + frames[1]


def test_outbox_limit_and_closed(fanout: ModuleType) -> None:
    """Verify an HTTP outbox going over ``limit`` within an iteration calls
    ``overflow`` and a closed outbox writes nothing."""
    log: list[Any] = []
    loop = ManualLoop()
    flusher = fanout.Flusher(loop)
    a = make_outbox(fanout, log, flusher, 0, limit=10)
    a.ws_mode = False
    a.write(b"12345")
    a.write(b"678901")
    assert log == [("overflow", 0, 11)]
    a.write(b"more")
    loop.run_once()
    assert log == [("overflow", 0, 11)]


def test_websocket_outbox_hands_off_a_burst(fanout: ModuleType) -> None:
    """Verify a WebSocket outbox is not limited by what it coalesces: over
    ``HANDOFF_BYTES`` within one iteration it writes to the transport at once, and
    only a transport still over ``limit`` (paused) makes it a slow consumer."""
    log: list[Any] = []
    loop = ManualLoop()
    flusher = fanout.Flusher(loop)
    a = make_outbox(fanout, log, flusher, 0, limit=10)
    chunk = b"x" * 1000
    n = fanout.HANDOFF_BYTES // len(chunk) + 1
    for _ in range(n):
        a.write(chunk)  # far over limit=10, all coalesced until HANDOFF_BYTES
    assert log == [("write", 0, chunk * n)]
    a.write(b"tail")
    loop.run_once()
    assert log == [("write", 0, chunk * n), ("write", 0, b"tail")]
    # the transport over its limit (asyncio paused the protocol during the write)
    a.paused = True
    for _ in range(n):
        a.write(chunk)
    assert log[2:] == [("write", 0, chunk * n), ("overflow", 0, 0)]
    loop.run_once()
    assert len(log) == 4


def test_fanout_to_outboxes(fanout: ModuleType) -> None:
    """Verify the fan-out writes the one frame into every open connection's buffer, skips
    closing and closed ones, hands EIO3 connections to ``send_frame``, and polling sessions
    (and sessions whose ``ws`` is a connection) the right thing -- one write each."""
    log: list[Any] = []
    loop = ManualLoop()
    flusher = fanout.Flusher(loop)
    conns = [make_outbox(fanout, log, flusher, i, eio3=(i == 3)) for i in range(5)]
    conns[1].ws_closing = True
    conns[2].closed = True

    class Session:
        ws = conns[4]

    targets = [conns[0], conns[1], conns[2], conns[3], Polling(log, 9), Session()]
    fanout.fanout(targets, ["2[1]"])
    fanout.fanout(targets, ["2[2]"])
    loop.run_once()
    f1, f2 = reference.build_frame(1, "42[1]"), reference.build_frame(1, "42[2]")
    assert log == [
        ("send_frame", 3, f1),
        ("packet", 9, "42[1]"),
        ("send_frame", 3, f2),
        ("packet", 9, "42[2]"),
        ("write", 0, f1 + f2),
        ("write", 4, f1 + f2),
    ]


@pytest.mark.hypothesis
@settings(max_examples=100, deadline=None)
@given(
    ops=st.lists(st.tuples(st.integers(0, 3), st.binary(min_size=1, max_size=8)), max_size=30),
    limit=st.sampled_from([0, 8, 20]),
)
def test_outbox_twins_alike(twins: Twins, ops: list[tuple[int, bytes]], limit: int) -> None:
    """Verify both twins' Outbox/Flusher produce the same writes and overflows."""

    def play(mod: ModuleType) -> list[Any]:
        log: list[Any] = []
        loop = ManualLoop()
        flusher = mod.Flusher(loop)
        conns = [make_outbox(mod, log, flusher, i, limit=limit) for i in range(3)]
        for which, data in ops:
            if which == 3:
                loop.run_once()
            else:
                conns[which].write(data)
        loop.run_once()
        return log

    py, c = twins("fanout")
    assert play(c) == play(py)
# ---------------------------------------------------------------- permessage-deflate recipients


def test_deflate_recipient_gets_large_packets_through_send(fanout: ModuleType) -> None:
    """Verify a deflate connection gets packets at or over its threshold through ``send``, smaller ones as the shared frames."""
    big = "2" + "x" * 98  # "4" + big: 100 bytes
    parts = [big, b"y" * 100, b"z" * 99]
    log = run(fanout, [True, True, False], parts, thresholds=[None, 100])
    frames = [reference.build_frame(1, "4" + big), reference.build_frame(2, b"y" * 100), reference.build_frame(2, b"z" * 99)]
    assert log == [
        ("frame", 0, frames[0]),
        ("frame", 0, frames[1]),
        ("frame", 0, frames[2]),
        ("deflate", 1, "4" + big),
        ("deflate", 1, b"y" * 100),
        ("frame", 1, frames[2]),
        ("packet", 2, "4" + big),
        ("packet", 2, b"y" * 100),
        ("packet", 2, b"z" * 99),
    ]
    # the frames handed to the deflate connection are the shared objects
    assert log[5][2] is log[2][2]


@pytest.mark.parametrize("size", [0, 1, 124, 125, 126, 127, 65535, 65536, 70000])
def test_deflate_threshold_counts_payload_bytes(fanout: ModuleType, size: int) -> None:
    """Verify the threshold is compared with the payload size, across every length form (UTF-8 bytes, not characters)."""
    text = "2" + "é" * (size // 2) + "a" * (size % 2)  # 2 + size bytes with the "4"
    payload = ("4" + text).encode()
    for threshold, expected in ((len(payload), "deflate"), (len(payload) + 1, "frame")):
        log = run(fanout, [True], [text], thresholds=[threshold])
        assert [entry[0] for entry in log] == [expected]


def test_compress_false_sends_the_shared_frames(fanout: ModuleType) -> None:
    """Verify ``compress=False`` hands deflate connections the shared uncompressed frames."""
    log = run(fanout, [True, True], ["2" + "x" * 2000], thresholds=[0, 0], compress=False)
    assert [entry[:2] for entry in log] == [("frame", 0), ("frame", 1)]
    assert log[0][2] is log[1][2]
    log = run(fanout, [True], ["2" + "x" * 2000], thresholds=[0], compress=True)
    assert [entry[:2] for entry in log] == [("deflate", 0)]


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(
    kinds=st.lists(st.booleans(), max_size=8),
    thresholds=st.lists(st.none() | st.integers(0, 200), max_size=8),
    text=st.text(max_size=150),
    attachments=st.lists(st.binary(max_size=150), max_size=3),
    fail_at=st.integers(-1, 8),
    compress=st.none() | st.booleans(),
)
def test_twins_alike_with_deflate(
    twins: Twins,
    kinds: list[bool],
    thresholds: list[int | None],
    text: str,
    attachments: list[bytes],
    fail_at: int,
    compress: bool | None,
) -> None:
    """Verify both twins make the same calls with deflate recipients among the others."""
    py, c = twins("fanout")
    parts: list[Any] = [text, *attachments]
    assert run(c, kinds, parts, fail_at, thresholds, compress) == run(py, kinds, parts, fail_at, thresholds, compress)


def test_compress_false_does_not_look_at_the_connections(fanout: ModuleType) -> None:
    """Verify ``compress=False`` (what a server without the extension passes) reads no ``deflate`` attribute."""

    class Bare:
        __slots__ = ("frames",)

        def __init__(self) -> None:
            self.frames: list[bytes] = []

        def send_frame(self, frame: bytes) -> None:
            self.frames.append(frame)

    class Session:
        __slots__ = ("ws",)

        def __init__(self) -> None:
            self.ws = Bare()

    sessions = [Session(), Session()]
    fanout.fanout(sessions, ["2[1]"], False)
    assert [s.ws.frames for s in sessions] == [[reference.build_frame(1, "42[1]")]] * 2
    with pytest.raises(AttributeError):
        fanout.fanout(sessions, ["2[1]"], True)


def test_returns_what_went_aside(fanout: ModuleType) -> None:
    """Verify ``fanout`` returns (recipients sent to through their session, slow consumers
    skipped) the same in both twins, and the shared ``NOTHING_ASIDE`` when all were
    WebSocket recipients written to directly (what the metrics count broadcasts from)."""
    log: list[Any] = []
    class Congested(FakeSession):
        __slots__ = ()
        congested = True  # over its queue's limit (slow_consumer="drop")

    sessions = [FakeSession(log, 0, True), FakeSession(log, 1, False), Congested(log, 2, False)]
    assert fanout.fanout(sessions, ["2[1]"]) == (1, 1)
    assert [entry[1] for entry in log] == [0, 1]
    assert fanout.fanout(sessions[:1], ["2[1]"]) is fanout.NOTHING_ASIDE == (0, 0)
    assert fanout.fanout([], ["2[1]"]) == (0, 0)


# ---------------------------------------------------------------- large frames (DIRECT_BYTES)


def test_chunks_are_queued_by_reference_and_leave_in_one_call(fanout: ModuleType) -> None:
    """Verify nothing is written before the flush, however large a frame (under
    ``HANDOFF_BYTES``); at the flush one call per connection, counted as one write:
    small chunks joined into one ``write``, chunks with one of ``DIRECT_BYTES`` or more
    among them handed to ``writelines`` as they are (the same objects, no copy)."""
    log: list[Any] = []
    loop = ManualLoop()
    flusher = fanout.Flusher(loop, counting=True)
    a = make_outbox(fanout, log, flusher, 0)
    big = b"L" * fanout.DIRECT_BYTES
    s1, s2, s3 = b"s1", b"s2", b"s3"
    a.write(s1)
    a.write(s2)
    a.write(big)
    a.write(s3)
    assert log == [] and a.wbytes == 6 + len(big)
    loop.run_once()
    assert log == [("writelines", 0, b"s1s2" + big + b"s3")]
    assert a.transport.last == [s1, s2, big, s3] and a.transport.last[2] is big
    assert flusher.bytes_out == 6 + len(big) and flusher.writes == 1 and a.wbytes == 0
    # a large frame alone: one write of that object
    a.write(big)
    loop.run_once()
    assert log[1:] == [("write", 0, big)] and flusher.writes == 2
    # one byte under the threshold: joined into one write
    a.write(big[1:])
    a.write(b"t")
    assert len(log) == 2
    loop.run_once()
    assert log[2:] == [("write", 0, big[1:] + b"t")] and flusher.writes == 3


def test_chunks_other_than_bytes_go_through_writelines(fanout: ModuleType) -> None:
    """Verify chunks a subclass queued that are not exact ``bytes`` (here a bytearray) are
    handed to ``writelines`` as they are, never joined: the join copies exact bytes only,
    and sizes them from the chunks, not from ``wbytes``."""
    log: list[Any] = []
    flusher = fanout.Flusher(ManualLoop())
    a = make_outbox(fanout, log, flusher, 0)
    a.wbuf = [b"ab", bytearray(b"cd")]
    a.wbytes = 4
    a.flush()
    assert log == [("writelines", 0, b"abcd")] and a.wbytes == 0


def test_held_writes_leave_at_their_flush(fanout: ModuleType) -> None:
    """Verify a held connection (``wbuf`` ``b""``, as ``hold_writes`` leaves it, off the
    flusher's list) keeps what is written, large frames included, in order, until its
    own flush, and is coalesced per loop iteration again after it."""
    log: list[Any] = []
    loop = ManualLoop()
    flusher = fanout.Flusher(loop)
    a = make_outbox(fanout, log, flusher, 0)
    big = b"L" * (fanout.DIRECT_BYTES * 2)
    a.wbuf = b""  # what hold_writes does (it also takes it off the flusher's list)
    a.wbytes = 0
    a.write(b"s1")
    a.write(big)
    a.write(b"s2")
    loop.run_once()
    assert log == []  # held: not on the flusher's list
    a.flush()  # the held writes' timer
    assert log == [("writelines", 0, b"s1" + big + b"s2")]
    a.write(b"s3")
    a.write(b"s4")
    loop.run_once()
    assert log[1:] == [("write", 0, b"s3s4")]


def test_handoff_limit_and_closed(fanout: ModuleType) -> None:
    """Verify a WebSocket's chunks go to the transport at once when they pass
    ``HANDOFF_BYTES`` within one iteration; a paused transport (over ``limit``) is then a
    slow consumer (``overflow``), as at a flush; a closed connection writes nothing; an
    HTTP outbox (not ``ws_mode``) is checked against ``limit`` as it queues."""
    log: list[Any] = []
    loop = ManualLoop()
    flusher = fanout.Flusher(loop)
    big = b"L" * fanout.DIRECT_BYTES
    n = fanout.HANDOFF_BYTES // len(big)
    a = make_outbox(fanout, log, flusher, 0, limit=10)
    for _ in range(n):
        a.write(big)
    assert log == []  # at HANDOFF_BYTES, not over it
    a.write(b"s")
    assert log == [("writelines", 0, big * n + b"s")]
    assert all(part is big for part in a.transport.last[:-1])
    a.paused = True
    a.write(b"t")
    loop.run_once()  # flushed paused: a slow consumer (this subclass closes)
    assert log[1:] == [("write", 0, b"t"), ("overflow", 0, 0)]
    a.write(big)
    loop.run_once()
    assert len(log) == 3
    h = make_outbox(fanout, log, flusher, 1, limit=fanout.DIRECT_BYTES + 1)
    h.ws_mode = False
    h.write(big)
    h.write(b"x")
    loop.run_once()
    assert log[3:] == [("writelines", 1, big + b"x")]
    h.write(big)
    h.write(b"xy")  # over limit while queued: overflow, nothing written
    loop.run_once()
    assert log[4:] == [("overflow", 1, len(big) + 2)]


def test_fanout_large_attachment_order_and_drop(fanout: ModuleType) -> None:
    """Verify a fan-out of a packet with a large binary attachment writes every connection's
    earlier frames and the packet's text frame, then the shared attachment frame (one
    object for all, in the same ``writelines``), and a slow consumer in drop mode (paused, ``drop_slow``) is skipped
    whole, never given part of a packet."""
    log: list[Any] = []
    loop = ManualLoop()
    flusher = fanout.Flusher(loop)
    conns = [make_outbox(fanout, log, flusher, i) for i in range(3)]
    conns[2].paused = True
    conns[2].drop_slow = True
    blob = b"B" * (fanout.DIRECT_BYTES * 8)
    fanout.fanout(conns, ["2[1]"])
    fanout.fanout(conns, ['51-["b",{"_placeholder":true,"num":0}]', blob])
    fanout.fanout(conns, ["2[2]"])
    loop.run_once()
    f1, f2 = reference.build_frame(1, "42[1]"), reference.build_frame(1, "42[2]")
    text = reference.build_frame(1, '451-["b",{"_placeholder":true,"num":0}]')
    attachment = reference.build_frame(2, blob)
    assert log == [
        ("writelines", 0, f1 + text + attachment + f2),
        ("writelines", 1, f1 + text + attachment + f2),
    ]
    assert conns[0].transport.last[2] is conns[1].transport.last[2]  # the one shared frame
    assert conns[0].transport.last[2] == attachment
    assert conns[0].transport.last[0] is conns[1].transport.last[0]  # small ones shared too


@pytest.mark.hypothesis
@settings(max_examples=100, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.integers(0, 4), st.sampled_from([1, 5, 8191, 8192, 20000, 70000])), max_size=25
    ),
    limit=st.sampled_from([0, 8, 100000]),
)
def test_outbox_twins_alike_with_large_frames(twins: Twins, ops: list[tuple[int, int]], limit: int) -> None:
    """Verify both twins' Outbox/Flusher produce the same writes and overflows with frames
    around ``DIRECT_BYTES``, flushes, pauses and held writes in between."""

    def play(mod: ModuleType) -> list[Any]:
        log: list[Any] = []
        loop = ManualLoop()
        flusher = mod.Flusher(loop, counting=True)
        conns = [make_outbox(mod, log, flusher, i, limit=limit) for i in range(2)]
        for k, (which, size) in enumerate(ops):
            if which == 2:
                loop.run_once()
            elif which == 3:
                conns[k % 2].paused = not conns[k % 2].paused
            elif which == 4:
                conn = conns[k % 2]
                conn.flush()
                if conn in flusher.pending:
                    flusher.pending.remove(conn)
                conn.wbuf = b""
                conn.wbytes = 0
            else:
                conns[which].write(bytes([65 + k % 26]) * size)
        loop.run_once()
        for conn in conns:
            conn.flush()
        return [*log, flusher.bytes_out, flusher.writes]

    py, c = twins("fanout")
    assert play(c) == play(py)
