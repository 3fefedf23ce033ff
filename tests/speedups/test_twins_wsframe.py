"""Twin equivalence of ``wsframe``: both twins read and write every byte alike.

Hypothesis feeds both twins the same random client streams (valid and broken
frames of every length form, fragments, control frames, close payloads), cut
into random chunks or fed one byte at a time, as ``bytes``, ``bytearray`` or
``memoryview``; the events of every ``feed`` call, ``idle`` after it, the error
(class name, close code, reason, events), the dead state after it and ``closed``
must be equal.
The builders get random opcodes, payloads and flags and must return the same
bytes or raise the same exception class.  Each twin has its own exception
classes, so they are compared by name.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

Twins = Callable[[str], tuple[ModuleType, ModuleType]]

MAX_SIZES = [0, 1, 125, 126, 1000, 65535, 65536, 1_000_000]


def xor(mask: bytes, data: bytes) -> bytes:
    """Return ``data`` masked with ``mask`` by the obvious per-byte loop."""
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def frame(b0: int, payload: bytes, *, masked: bool, mask: bytes, form: int, length: int | None = None) -> bytes:
    """Return a client frame with first byte ``b0``; ``form`` forces the length encoding."""
    n = len(payload) if length is None else length
    mbit = 0x80 if masked else 0
    if form == 7:
        head = bytes((b0, mbit | (n & 0x7F)))
    elif form == 16:
        head = bytes((b0, mbit | 126)) + (n & 0xFFFF).to_bytes(2, "big")
    else:
        head = bytes((b0, mbit | 127)) + (n & (2**64 - 1)).to_bytes(8, "big")
    return head + (mask + xor(mask, payload) if masked else payload)


def minimal_form(n: int) -> int:
    """Return the minimal length form of an ``n``-byte payload."""
    return 7 if n < 126 else 16 if n < 0x10000 else 64


texts = st.text(max_size=40) | st.sampled_from(["", "€", "\U0001f600", "a" * 130])
utf8 = texts.map(lambda t: t.encode("utf-8"))
bad_utf8 = st.sampled_from([b"\xff", b"\xc3", b"a\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"])
payloads = st.one_of(
    st.binary(max_size=40),
    utf8,
    bad_utf8,
    st.sampled_from([b"x" * 125, b"x" * 126, b"y" * 300, b"z" * 65536]),
)
close_payloads = st.one_of(
    st.just(b""),
    st.binary(min_size=1, max_size=1),
    st.tuples(st.integers(0, 65535), utf8 | bad_utf8).map(lambda t: t[0].to_bytes(2, "big") + t[1]),
    st.tuples(st.sampled_from([1000, 1001, 1005, 1006, 1015, 1012, 2999, 3000, 4999, 5000]), utf8).map(
        lambda t: t[0].to_bytes(2, "big") + t[1]
    ),
)


@st.composite
def broken_frames(draw: st.DrawFn) -> bytes:
    """Return one client frame that is likely invalid in one way or another."""
    opcode = draw(st.sampled_from([0, 1, 2, 8, 9, 10]) | st.integers(0, 15))
    fin = draw(st.integers(0, 3)) > 0 if opcode >= 8 else draw(st.booleans())
    rsv = draw(st.sampled_from([0, 0, 1, 2, 4]))
    payload = draw(close_payloads) if opcode == 8 else draw(payloads)
    masked = draw(st.integers(0, 3)) > 0
    mask = draw(st.binary(min_size=4, max_size=4))
    form = minimal_form(len(payload))
    length = None
    if draw(st.integers(0, 4)) == 0:
        # A broken length: non-minimal form, a 64-bit high bit, or a lie.
        form = draw(st.sampled_from([16, 64]))
        length = draw(
            st.sampled_from([len(payload), 2**63 + len(payload), len(payload) + 1, max(len(payload) - 1, 0)])
        )
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    return frame(b0, payload, masked=masked, mask=mask, form=form, length=length)


masks = st.binary(min_size=4, max_size=4)


@st.composite
def control_frames(draw: st.DrawFn) -> bytes:
    """Return a Ping or Pong frame (valid)."""
    opcode = draw(st.sampled_from([9, 10]))
    return frame(0x80 | opcode, draw(st.binary(max_size=125)), masked=True, mask=draw(masks), form=7)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """Return a data message (text, possibly invalid UTF-8, or binary) as 1-4 fragments, pings between."""
    opcode = draw(st.sampled_from([1, 2]))
    payload = draw(payloads)
    pieces = cut(payload, draw(st.lists(st.integers(0, 1000), max_size=3))) if payload else [b""]
    out = []
    for i, piece in enumerate(pieces):
        b0 = (0x80 if i == len(pieces) - 1 else 0) | (opcode if i == 0 else 0)
        out.append(frame(b0, piece, masked=True, mask=draw(masks), form=minimal_form(len(piece))))
        if i < len(pieces) - 1 and draw(st.integers(0, 3)) == 0:
            out.append(draw(control_frames()))
    return b"".join(out)


@st.composite
def close_frames(draw: st.DrawFn) -> bytes:
    """Return a Close frame, with a valid or invalid payload."""
    return frame(0x88, draw(close_payloads), masked=True, mask=draw(masks), form=7)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Return a client stream: messages and control frames, now and then a broken or Close frame."""
    unit = st.one_of(messages(), messages(), messages(), control_frames(), broken_frames(), close_frames())
    return b"".join(draw(st.lists(unit, max_size=8)))


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """Return ``data`` cut at ``points`` (taken modulo its length)."""
    if not data:
        return [data]
    marks = sorted({p % len(data) for p in points} - {0})
    return [data[a:b] for a, b in zip([0, *marks], [*marks, len(data)], strict=True)]


def as_kind(chunk: bytes, kind: int) -> Any:
    """Return ``chunk`` as bytes, bytearray or memoryview."""
    return (bytes, bytearray, memoryview)[kind % 3](chunk)


def read(mod: ModuleType, chunks: list[bytes], max_size: int, kinds: list[int]) -> list[Any]:
    """Return everything observable while ``mod``'s parser reads ``chunks``."""
    parser = mod.FrameParser(max_size)
    seen: list[Any] = []
    for i, chunk in enumerate(chunks):
        try:
            seen.append(("events", parser.feed(as_kind(chunk, kinds[i % len(kinds)] if kinds else 0))))
            seen.append(("idle", parser.idle))
        except Exception as exc:
            seen.append(error(exc))
            note(f"error {type(exc).__name__} {getattr(exc, 'code', None)}")
            try:
                parser.feed(b"\x81")
            except Exception as again:
                seen.append(("dead", *error(again)))
            else:
                seen.append("alive after an error")
            break
    seen.append(("closed", parser.closed, parser.idle))
    note(f"closed={parser.closed}")
    return seen


def note(what: str) -> None:
    """Count ``what`` in hypothesis's statistics (``--hypothesis-show-statistics``), in a property test."""
    if currently_in_test_context():
        event(what)


def error(exc: BaseException) -> tuple[Any, ...]:
    """Return what must match between twins in an exception."""
    return (
        type(exc).__name__,
        getattr(exc, "code", None),
        getattr(exc, "reason", None),
        getattr(exc, "events", None),
    )


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Return ``fn``'s result, or its exception class name."""
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as exc:
        return ("raises", type(exc).__name__)


# ---------------------------------------------------------------- parser


@pytest.mark.hypothesis
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=streams(),
    points=st.lists(st.integers(0, 2**16), max_size=12),
    max_size=st.sampled_from(MAX_SIZES),
    kinds=st.lists(st.integers(0, 2), max_size=4),
)
def test_random_streams_in_random_chunks(
    twins: Twins, data: bytes, points: list[int], max_size: int, kinds: list[int]
) -> None:
    """Verify both twins read a random stream cut at random points alike, call by call."""
    py, c = twins("wsframe")
    chunks = cut(data, points)
    assert read(c, chunks, max_size, kinds) == read(py, chunks, max_size, kinds)


@pytest.mark.hypothesis
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=streams(), max_size=st.sampled_from(MAX_SIZES))
def test_random_streams_one_byte_at_a_time(twins: Twins, data: bytes, max_size: int) -> None:
    """Verify both twins read a random stream fed one byte at a time alike."""
    py, c = twins("wsframe")
    assume(len(data) < 4000)
    chunks = [data[i : i + 1] for i in range(len(data))] or [b""]
    assert read(c, chunks, max_size, [0]) == read(py, chunks, max_size, [0])


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), points=st.lists(st.integers(0, 300), max_size=6))
def test_random_bytes(twins: Twins, data: bytes, points: list[int]) -> None:
    """Verify both twins read arbitrary bytes (mostly garbage) alike."""
    py, c = twins("wsframe")
    chunks = cut(data, points)
    assert read(c, chunks, 0, [0]) == read(py, chunks, 0, [0])


@pytest.mark.parametrize("max_size", [-1])
def test_negative_max_size(twins: Twins, max_size: int) -> None:
    """Verify both twins refuse a negative size limit alike."""
    py, c = twins("wsframe")
    assert outcome(c.FrameParser, max_size) == outcome(py.FrameParser, max_size) == ("raises", "ValueError")


@pytest.mark.parametrize("max_size", [2**63 - 1, 2**63, 2**70])
def test_huge_max_size(twins: Twins, max_size: int) -> None:
    """Verify a limit beyond any frame length behaves alike (the compiled twin keeps sizes 64-bit)."""
    py, c = twins("wsframe")
    stream = frame(0x82, b"x" * 70000, masked=True, mask=b"abcd", form=64)
    assert read(c, [stream], max_size, [0]) == read(py, [stream], max_size, [0])
    assert read(c, [stream], max_size, [0])[0] == ("events", [(2, b"x" * 70000)])


def test_huge_declared_length_waits(twins: Twins) -> None:
    """Verify a 2**63 - 1 byte frame without a limit is buffered alike (no C overflow)."""
    py, c = twins("wsframe")
    head = bytes((0x82, 0xFF)) + (2**63 - 1).to_bytes(8, "big") + b"abcd" + b"payload"
    assert read(c, [head, b"more"], 0, [0]) == read(py, [head, b"more"], 0, [0])


# ---------------------------------------------------------------- builders


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(
    opcode=st.sampled_from([0, 1, 2, 8, 9, 10]) | st.integers(-2, 16) | st.sampled_from([2**64, True]),
    payload=st.one_of(
        texts,
        st.binary(max_size=200),
        st.sampled_from([b"x" * 125, b"x" * 126, b"x" * 65535, b"x" * 65536, "\ud800"]),
    ),
    kind=st.integers(0, 2),
    fin=st.booleans(),
    rsv1=st.booleans(),
)
def test_build_frame(twins: Twins, opcode: int, payload: Any, kind: int, fin: bool, rsv1: bool) -> None:
    """Verify both twins build the same frame from any opcode, payload and flags, or raise alike."""
    py, c = twins("wsframe")
    if isinstance(payload, bytes):
        payload = as_kind(payload, kind)
    assert outcome(c.build_frame, opcode, payload, fin, rsv1) == outcome(py.build_frame, opcode, payload, fin, rsv1)


def test_build_frame_of_a_wide_memoryview(twins: Twins) -> None:
    """Verify a memoryview with items wider than a byte is framed by its bytes, alike."""
    import array

    py, c = twins("wsframe")
    view = memoryview(array.array("i", [1, 2, 3]))
    assert c.build_frame(2, view) == py.build_frame(2, view) == b"\x82\x0c" + view.tobytes()


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(data=texts | st.sampled_from(["x" * 126, "x" * 65536]))
def test_build_frame_text(twins: Twins, data: str) -> None:
    """Verify both twins build the same Text frame."""
    py, c = twins("wsframe")
    assert outcome(c.build_frame_text, data) == outcome(py.build_frame_text, data)


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200) | st.sampled_from([b"x" * 126, b"x" * 65536]), kind=st.integers(0, 2))
def test_build_frame_binary(twins: Twins, data: bytes, kind: int) -> None:
    """Verify both twins build the same Binary frame."""
    py, c = twins("wsframe")
    value = as_kind(data, kind)
    assert outcome(c.build_frame_binary, value) == outcome(py.build_frame_binary, value)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(
    code=st.none() | st.integers(0, 6000) | st.sampled_from([1005, 1006, 1015, 2**70, -1]),
    reason=st.text(max_size=140),
)
def test_build_close(twins: Twins, code: int | None, reason: str) -> None:
    """Verify both twins build the same Close frame, or refuse the code alike."""
    py, c = twins("wsframe")
    assert outcome(c.build_close, code, reason) == outcome(py.build_close, code, reason)
    assert outcome(c.is_valid_close_code, code) == outcome(py.is_valid_close_code, code)


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(
    mask=st.binary(min_size=3, max_size=5),
    data=st.binary(max_size=1200),
    kind=st.integers(0, 2),
)
def test_mask_payload(twins: Twins, mask: bytes, data: bytes, kind: int) -> None:
    """Verify both twins mask alike (and refuse a key that is not 4 bytes alike)."""
    py, c = twins("wsframe")
    value = as_kind(data, kind)
    assert outcome(c.mask_payload, mask, value) == outcome(py.mask_payload, mask, value)


@pytest.mark.hypothesis
@settings(max_examples=100, deadline=None)
@given(raw=st.binary(min_size=16, max_size=16))
def test_accept_key(twins: Twins, raw: bytes) -> None:
    """Verify both twins compute the same Sec-WebSocket-Accept."""
    py, c = twins("wsframe")
    key = base64.b64encode(raw).decode()
    assert c.accept_key(key) == py.accept_key(key)


def test_public_names(twins: Twins) -> None:
    """Verify both twins export the same public names with the same constant values."""
    py, c = twins("wsframe")
    assert c.__all__ == py.__all__
    for name in py.__all__:
        assert hasattr(c, name), name
        if name.startswith(("OP_", "CLOSE_")):
            assert getattr(c, name) == getattr(py, name), name
    assert c.WebSocketError is not py.WebSocketError
    assert c.WebSocketError.__name__ == py.WebSocketError.__name__
